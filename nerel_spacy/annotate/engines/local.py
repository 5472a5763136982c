"""The local engine: ``nlp.pipe`` in this process (and ``--n-process`` workers of spaCy's)."""
from pathlib import Path
from typing import BinaryIO, Callable, Dict, Iterator, Optional, Sequence, Set

from ..model import load_pipeline
from ..records import Event, model_info
from ..sources import iter_sources
from ..stream import AnnotateOptions, annotate_sources


class LocalEngine:
    """Loads the pipeline here and streams the inputs through ``annotate_sources``."""

    def __init__(self, model: str, code: Optional[Path] = None, settings: Sequence[str] = ()):
        self.nlp = load_pipeline(model, code, settings)

    def model_info(self) -> Dict[str, str]:
        return model_info(self.nlp)

    def annotate(
        self,
        inputs: Sequence[str],
        options: AnnotateOptions,
        *,
        done_ids: Optional[Set[str]] = None,
        stdin: Optional[BinaryIO] = None,
        on_progress: Optional[Callable[[int], None]] = None,
        with_docs: bool = False,
    ) -> Iterator[Event]:
        sources = iter_sources(inputs, options.glob, stdin=stdin, encoding=options.encoding,
                               exclude=options.exclude)
        return annotate_sources(self.nlp, sources, options, done_ids=done_ids, on_progress=on_progress,
                                with_docs=with_docs)

    def close(self) -> None:
        pass

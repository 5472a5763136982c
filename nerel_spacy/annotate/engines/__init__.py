"""Engines: what runs a job's inputs through the pipeline and yields one event per input.

``local`` runs ``nlp.pipe`` in this process (``annotate_sources``); ``ray`` runs the same
code in a pool of Ray actors, each loading the pipeline once. Both take the same inputs and
options and yield the same events, which ``output.write_events`` writes, so the JSONL,
the errors file and ``--resume`` do not depend on the engine.
"""
from pathlib import Path
from typing import BinaryIO, Callable, Dict, Iterator, Optional, Protocol, Sequence, Set

from ..records import Event
from ..stream import AnnotateOptions
from .uri import is_uri

ENGINES = ("local", "ray")
RAY_INSTALL = 'pip install "nerel-spacy[ray]"'


class EngineError(RuntimeError):
    """An engine can't run as asked: its extra is not installed, or its cluster is unreachable."""


class Engine(Protocol):
    """Runs inputs through a pipeline; ``close`` releases what it started (a local Ray)."""

    def model_info(self) -> Dict[str, str]:
        """The ``model`` field of the records: the pipeline's name and version."""

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
        """A record, resume skip or error per input, ids in ``done_ids`` skipped unread;
        ``with_docs``: each record with its whole ``Doc``, for the formats that write docs."""

    def close(self) -> None:
        """Release the engine's resources; safe to call twice."""


def make_engine(
    name: str,
    model: str,
    code: Optional[Path] = None,
    *,
    settings: Sequence[str] = (),
    address: Optional[str] = None,
    workers: Optional[int] = None,
    threads_per_worker: int = 1,
) -> Engine:
    """The engine called ``name``, its pipeline loaded with ``settings`` (``COMPONENT.SETTING=VALUE``
    strings, ``load_settings``) changed (``ModelError`` when it can't be).

    ``ray`` without Ray Data installed is an ``EngineError`` that says what to install.
    """
    if name == "local":
        from .local import LocalEngine

        return LocalEngine(model, code, settings)
    if name == "ray":
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError as err:
            raise EngineError(
                f"--engine ray needs Ray Data, which is not installed ({err}); install it with "
                f"{RAY_INSTALL}"
            ) from None
        from .ray_engine import RayEngine

        return RayEngine(model, code, settings=settings, address=address, workers=workers,
                         threads_per_worker=threads_per_worker)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "RAY_INSTALL", "Engine", "EngineError", "is_uri", "make_engine"]

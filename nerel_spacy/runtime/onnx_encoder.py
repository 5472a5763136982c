"""``nerel_onnx_encoder``: the transformer encoder run by ONNX Runtime, without torch.

The component holds an ONNX graph of the encoder (``encoder.onnx``) and its Hugging Face
``tokenizer.json``, and writes each doc's token vectors to ``doc.tensor``: the same
windows, alignment and mean pooling as the spacy-transformers pipeline it was exported
from (``alignment``). ``nerel.DocTensor.v1`` hands ``doc.tensor`` to ``nerel_joint``'s
heads, so a pipeline of these two components needs spaCy, ``onnxruntime`` and
``tokenizers`` only: no torch, no transformers, no spacy-transformers.

Made by ``nerel-batch export-onnx`` (``export``), loaded by plain ``spacy.load``.
"""
from pathlib import Path
from typing import Iterable, Iterator, List, Optional

import numpy
import srsly
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.util import minibatch, registry
from thinc.api import Model

from .alignment import char_to_token, piece_token_pairs, pool_token_vectors, strided_windows, window_text

ENCODER_FILE = "encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
SETTINGS_FILE = "cfg"


@Language.factory(
    "nerel_onnx_encoder",
    default_config={"window": 128, "stride": 96, "max_length": 512, "threads": 0, "batch_windows": 8},
)
def make_onnx_encoder(
    nlp: Language, name: str, window: int, stride: int, max_length: int, threads: int, batch_windows: int
) -> "OnnxEncoder":
    """The encoder component; its graph and tokenizer come from ``from_disk``/``from_bytes``.

    window, stride: the strided windows of spaCy tokens (those the exported pipeline used).
    max_length: word pieces kept per window, the tokenizer's model_max_length.
    threads: ONNX Runtime's intra-op threads; 0 takes the process's `--threads`
        (``limit_threads``) if one was set, else every physical core.
    batch_windows: windows run through the graph at once, padded to the longest. 8 rather
        than 16 lowered peak RSS by 100–130 MB over dev at the same docs/s (e5-small and its
        4-layer student, 2 cores of an AMD EPYC with AVX2 only). The windows of a ``pipe``
        batch are run shortest first, so each graph batch holds windows of similar length:
        over dev the 4-layer student's encoder took 5.2–6.1 s instead of 6.5–7.7 s.
    """
    return OnnxEncoder(nlp.vocab, name, window=window, stride=stride, max_length=max_length,
                       threads=threads, batch_windows=batch_windows)


class OnnxEncoder(Pipe):
    """Token vectors from an ONNX transformer into ``doc.tensor``."""

    def __init__(self, vocab, name: str, *, window: int, stride: int, max_length: int, threads: int,
                 batch_windows: int) -> None:
        if window < 1 or stride < 1 or stride > window:
            raise ValueError(f"nerel_onnx_encoder: need 1 <= stride <= window, not window={window}, stride={stride}")
        self.vocab = vocab
        self.name = name
        self.cfg = {"window": window, "stride": stride, "max_length": max_length, "threads": threads,
                    "batch_windows": batch_windows}
        self.session = None
        self.tokenizer = None
        self._graph: Optional[bytes] = None
        self._tokenizer_json: Optional[str] = None

    def load(self, graph: bytes, tokenizer_json: str) -> "OnnxEncoder":
        """Take the ONNX ``graph`` and the tokenizer of ``tokenizer_json``.

        The ONNX Runtime session starts at the first doc, not here: then the thread count
        of ``--threads`` (``limit_threads``) applies even when it is set after loading, and
        ``nlp.pipe(n_process=…)`` workers each start their own session after the fork.
        """
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self._graph, self._tokenizer_json = graph, tokenizer_json
        self.session = None
        self._pad_id = self._find_pad_id()
        return self

    def _start_session(self):
        import onnxruntime

        from ..threads import thread_limit

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(self.cfg["threads"] or thread_limit() or 0)
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(self._graph, options, providers=["CPUExecutionProvider"])
        self._input_names = {node.name for node in self.session.get_inputs()}
        return self.session

    @property
    def width(self) -> int:
        """The size of a token vector (the encoder's hidden size)."""
        self._require_loaded()
        session = self.session or self._start_session()
        return int(session.get_outputs()[0].shape[-1])

    def __call__(self, doc: Doc) -> Doc:
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 16) -> Iterator[Doc]:
        for docs in minibatch(stream, size=batch_size):
            self.set_annotations(docs, self.predict(docs))
            yield from docs

    def predict(self, docs: List[Doc]) -> List[numpy.ndarray]:
        """One ``(n_tokens, width)`` float32 array per doc."""
        self._require_loaded()
        jobs = []  # (doc index, doc-level token offset, token table, text) per window
        for i, doc in enumerate(docs):
            for window in strided_windows(len(doc), self.cfg["window"], self.cfg["stride"]):
                jobs.append((i, window[0], char_to_token(doc, window), window_text(doc, window)))
        width, max_length = self.width, self.cfg["max_length"]
        encodings = self.tokenizer.encode_batch([text for _, _, _, text in jobs]) if jobs else []
        ids = [encoding.ids[:max_length] for encoding in encodings]
        aligned = [None] * len(jobs)  # (rows, doc-level token indices) per window
        # Windows of similar length share a batch, so little of each batch is padding.
        by_length = sorted(range(len(jobs)), key=lambda k: len(ids[k]))
        for batch in minibatch(by_length, size=max(1, int(self.cfg["batch_windows"]))):
            hidden = self._run([ids[k] for k in batch])
            for k, states in zip(batch, hidden):
                _, offset, table, _ = jobs[k]
                pieces, window_tokens = piece_token_pairs(table, encodings[k].offsets, max_length)
                aligned[k] = (states[pieces], window_tokens + offset)
        rows = [[] for _ in docs]
        tokens = [[] for _ in docs]
        for (i, _, _, _), (window_rows, window_tokens) in zip(jobs, aligned):  # windows in doc order
            rows[i].append(window_rows)
            tokens[i].append(window_tokens)
        return [pool_token_vectors(len(doc), width, rows[i], tokens[i]) for i, doc in enumerate(docs)]

    def set_annotations(self, docs: List[Doc], vectors: List[numpy.ndarray]) -> None:
        for doc, tensor in zip(docs, vectors):
            doc.tensor = tensor

    def _run(self, ids: List[List[int]]) -> numpy.ndarray:
        length = max(len(piece_ids) for piece_ids in ids)
        input_ids = numpy.full((len(ids), length), self._pad_id, dtype="int64")
        mask = numpy.zeros((len(ids), length), dtype="int64")
        for row, piece_ids in enumerate(ids):
            input_ids[row, : len(piece_ids)] = piece_ids
            mask[row, : len(piece_ids)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feed["token_type_ids"] = numpy.zeros_like(input_ids)
        (hidden,) = self.session.run(None, feed)  # started by predict's self.width
        return hidden

    def _find_pad_id(self) -> int:
        padding = srsly.json_loads(self._tokenizer_json).get("padding") or {}
        if "pad_id" in padding:
            return int(padding["pad_id"])
        for token in ("<pad>", "[PAD]"):
            found = self.tokenizer.token_to_id(token)
            if found is not None:
                return int(found)
        return 0

    def _require_loaded(self) -> None:
        if self._graph is None:
            raise ValueError(
                f"{self.name}: no ONNX graph loaded. Make this pipeline with `nerel-batch export-onnx` "
                "and load it with spacy.load(path)."
            )

    # serialization: the graph and tokenizer as files on disk, msgpack in bytes

    def to_disk(self, path, *, exclude=tuple()) -> None:
        self._require_loaded()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / ENCODER_FILE).write_bytes(self._graph)
        (path / TOKENIZER_FILE).write_text(self._tokenizer_json, encoding="utf-8")
        srsly.write_json(path / SETTINGS_FILE, self.cfg)

    def from_disk(self, path, *, exclude=tuple()) -> "OnnxEncoder":
        path = Path(path)
        missing = [name for name in (ENCODER_FILE, TOKENIZER_FILE) if not (path / name).exists()]
        if missing:
            raise ValueError(f"{self.name}: {path} lacks {', '.join(missing)}; export the pipeline again "
                             "with `nerel-batch export-onnx`.")
        if (path / SETTINGS_FILE).exists():
            self.cfg.update(srsly.read_json(path / SETTINGS_FILE))
        return self.load((path / ENCODER_FILE).read_bytes(), (path / TOKENIZER_FILE).read_text(encoding="utf-8"))

    def to_bytes(self, *, exclude=tuple()) -> bytes:
        self._require_loaded()
        return srsly.msgpack_dumps({"graph": self._graph, "tokenizer": self._tokenizer_json, "cfg": self.cfg})

    def from_bytes(self, bytes_data: bytes, *, exclude=tuple()) -> "OnnxEncoder":
        data = srsly.msgpack_loads(bytes_data)
        self.cfg.update(data["cfg"])
        return self.load(data["graph"], data["tokenizer"])


@registry.architectures("nerel.DocTensor.v1")
def build_doc_tensor() -> Model[List[Doc], List[numpy.ndarray]]:
    """The token vectors a component before ``nerel_joint`` wrote to ``doc.tensor``.

    The encoder of a pipeline exported by ``nerel-batch export-onnx``; for inference only
    (it has no weights to train, and the encoder before it is fixed).
    """
    return Model("doc_tensor", _doc_tensor_forward)


def _doc_tensor_forward(model: Model, docs: List[Doc], is_train: bool):
    vectors = []
    for doc in docs:
        tensor = doc.tensor
        if tensor is None or tensor.ndim != 2 or tensor.shape[0] != len(doc):
            raise ValueError(
                "nerel.DocTensor.v1: doc.tensor holds no token vectors; put the encoder component "
                "(nerel_onnx_encoder) before nerel_joint in the pipeline."
            )
        vectors.append(model.ops.asarray2f(tensor))
    return vectors, _no_backprop


def _no_backprop(d_vectors) -> None:
    raise ValueError("nerel.DocTensor.v1 is for inference; train the pipeline it was exported from")

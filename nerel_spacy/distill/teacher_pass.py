"""The teacher pass kept in shards, so that a run killed midway continues where it stopped.

Holding every doc's outputs until the end lost the whole pass to a kill (many minutes on
2 cores, tens with token vectors) and held all of them in memory. A ``TeacherPass`` is a
folder: ``manifest.json`` (what the pass is made from, ``made_from``), ``parts/00000.spacy``,
``00001.spacy``, … (``shard_docs`` docs each, every one written whole under a temporary
name and renamed) and, once every doc is done, ``train.spacy``: the shards joined, the
corpus ``spacy train`` and ``--teacher-outputs`` read. A rerun with the same inputs
continues after the last complete shard; one with other inputs is refused
(``TeacherPassMismatch``) until it is given ``fresh``.
"""
import hashlib
import json
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from spacy.tokens import DocBin

from ..brat_writer import atomic_write_bytes, atomic_write_text

MANIFEST_FILE = "manifest.json"
PARTS_DIR = "parts"
JOINED_FILE = "train.spacy"
SHARD_DOCS = 64  # about 20 s of NEREL on 2 cores; tens of MB with token vectors
FORMAT = 1  # of the manifest and the shards; another one is refused, not read
_TEMPORARY = ".*.tmp"  # what atomic_write_bytes leaves when killed mid-write


class TeacherPassMismatch(ValueError):
    """A teacher pass kept from an earlier run was made from other inputs than this run's."""


def made_from(teacher_dir: Path, train_path: Path, texts: Sequence[str], *, token_vectors: bool,
              batch_size: int, shard_docs: int = SHARD_DOCS) -> Dict[str, object]:
    """What a pass's outputs depend on: the teacher's files, the training corpus and the texts
    (by content; their paths only name them), whether token vectors are stored, and the
    batches (so a resumed pass batches its docs as an uninterrupted one would)."""
    return {
        "format": FORMAT,
        "teacher": {"path": str(Path(teacher_dir).resolve()), "sha256": folder_digest(Path(teacher_dir))},
        "train": {"path": str(Path(train_path).resolve()), "sha256": _file_digest(Path(train_path))},
        "texts": {"count": len(texts), "sha256": texts_digest(texts)},
        "token_vectors": bool(token_vectors),
        "batch_size": int(batch_size),
        "shard_docs": -(-int(shard_docs) // int(batch_size)) * int(batch_size),  # whole batches
    }


class TeacherPass:
    """The folder one teacher pass is kept in until the run that needs it has finished."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.manifest: Optional[Dict[str, object]] = None

    @property
    def corpus(self) -> Path:
        """The joined corpus, once every doc is done."""
        return self.folder / JOINED_FILE

    @property
    def finished(self) -> bool:
        return self.corpus.is_file()

    @property
    def shard_docs(self) -> int:
        return int(self.manifest["shard_docs"]) if self.manifest else SHARD_DOCS

    def shards(self) -> List[Path]:
        """The complete shards, in order (a gap ends them: what follows it was not written in order)."""
        found = []
        while (self.folder / PARTS_DIR / f"{len(found):05d}.spacy").is_file():
            found.append(self.folder / PARTS_DIR / f"{len(found):05d}.spacy")
        return found

    def check(self, inputs: Dict[str, object]) -> None:
        """Refuse (``TeacherPassMismatch``) a kept pass made from other inputs than ``inputs``."""
        earlier = self._read_manifest()
        differences = [] if earlier is None else _differences(earlier, inputs)
        if differences:
            raise TeacherPassMismatch(
                f"{self.folder} keeps the teacher pass of an unfinished run made from other inputs: "
                + "; ".join(differences) + ". Run with the inputs it was begun with to continue it, or pass "
                "--fresh to discard it and run the teacher from the start.")

    def open(self, inputs: Dict[str, object], fresh: bool = False) -> bool:
        """Continue a pass kept with the same inputs, or begin one (``fresh``: always begin,
        discarding a kept one); True when an earlier run's work is continued."""
        if fresh:
            self._discard()
        self.check(inputs)
        earlier = self._read_manifest()
        if earlier is None:
            self._discard()  # shards without a manifest were not written by this code: don't trust them
            atomic_write_text(self.folder / MANIFEST_FILE, json.dumps(inputs, indent=2) + "\n")
        self.manifest = earlier or inputs
        if self.finished:  # killed after the join, before the shards were removed
            shutil.rmtree(self.folder / PARTS_DIR, ignore_errors=True)
        complete = set(self.shards())
        for stale in [*self.folder.glob(_TEMPORARY), *(self.folder / PARTS_DIR).glob(_TEMPORARY),
                      *(p for p in (self.folder / PARTS_DIR).glob("*.spacy") if p not in complete)]:
            stale.unlink(missing_ok=True)
        return self.finished or bool(complete)

    def add_shard(self, docs: DocBin) -> Path:
        """Write ``docs`` as the next shard, whole or not at all."""
        shard = self.folder / PARTS_DIR / f"{len(self.shards()):05d}.spacy"
        atomic_write_bytes(shard, docs.to_bytes())
        return shard

    def join(self) -> Path:
        """Join the shards into ``corpus`` (written whole) and remove them."""
        joined = DocBin(store_user_data=True)
        for shard in self.shards():
            try:
                joined.merge(DocBin(store_user_data=True).from_disk(shard))
            except (OSError, ValueError) as err:
                raise ValueError(f"{shard}: can't be read ({err}); pass --fresh to run the teacher again.") from err
        atomic_write_bytes(self.corpus, joined.to_bytes())
        shutil.rmtree(self.folder / PARTS_DIR, ignore_errors=True)
        return self.corpus

    def remove(self) -> None:
        """Delete the pass (only the files it writes) and its folder when that is left empty."""
        self._discard()
        try:
            self.folder.rmdir()
        except OSError:  # missing, or holding something this code did not write
            pass

    def _discard(self) -> None:
        shutil.rmtree(self.folder / PARTS_DIR, ignore_errors=True)
        for path in [self.corpus, self.folder / MANIFEST_FILE, *self.folder.glob(_TEMPORARY)]:
            path.unlink(missing_ok=True)

    def _read_manifest(self) -> Optional[Dict[str, object]]:
        path = self.folder / MANIFEST_FILE
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf8"))
        except ValueError as err:
            manifest = err
        if not isinstance(manifest, dict):
            raise TeacherPassMismatch(f"{path} can't be read ({manifest}); pass --fresh to run the teacher "
                                      "from the start.")
        return manifest


def _differences(earlier: Dict[str, object], now: Dict[str, object]) -> List[str]:
    """What differs between two ``made_from`` records, one phrase each, named as the command's options."""
    another_version = ["its files were written by another version of nerel-spacy"]
    if earlier.get("format") != now["format"]:
        return another_version
    found = []
    if earlier["teacher"]["sha256"] != now["teacher"]["sha256"]:
        found.append(f"TEACHER {now['teacher']['path']}: its files differ from those of "
                     f"{earlier['teacher']['path']} then")
    if earlier["train"]["sha256"] != now["train"]["sha256"]:
        found.append(f"--train {now['train']['path']}: another corpus than {earlier['train']['path']} then")
    if earlier["texts"] != now["texts"]:
        found.append(f"--texts: other texts ({earlier['texts']['count']} then, {now['texts']['count']} now)")
    if earlier["token_vectors"] != now["token_vectors"]:
        stored = {True: "stored", False: "not stored"}
        found.append(f"--token-vector-weight: token vectors {stored[earlier['token_vectors']]} then, "
                     f"{stored[now['token_vectors']]} now")
    if earlier["batch_size"] != now["batch_size"]:
        found.append(f"--batch-size: {earlier['batch_size']} then, {now['batch_size']} now")
    elif earlier["shard_docs"] != now["shard_docs"]:
        found.extend(another_version)
    return found


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    """Every file's relative path and content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{_file_digest(path)}\n".encode())
    return digest.hexdigest()


def texts_digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf8")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


__all__ = ["SHARD_DOCS", "TeacherPass", "TeacherPassMismatch", "folder_digest", "made_from", "texts_digest"]

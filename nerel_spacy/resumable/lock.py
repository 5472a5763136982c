"""One training run per output folder.

``spacy project run`` does not pass a SIGTERM on to the command it runs, so stopping the
project leaves its ``nerel-batch train`` running, and running the project again would start
a second one on the same folder: two writers of one checkpoint. ``output_lock`` refuses that.
It is an advisory ``flock`` on OUTPUT/.train.lock, which the kernel releases however the
holder ends (SIGKILL included), so no stale lock is ever left to clear by hand. Within one
process it is re-entrant: the CLI takes it before the slow pipeline set-up, so a refusal
comes at once, and ``train_resumably`` takes it again for callers of the API.
"""
import contextlib
import os
from pathlib import Path
from typing import IO, Iterator, Optional, Set

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not guarded
    fcntl = None

LOCK_FILE = ".train.lock"
_HELD: Set[Path] = set()  # the lock files this process holds


class OutputBusy(RuntimeError):
    """Another process is training into the same output folder."""

    def __init__(self, output_path: Path, holder: str):
        pid = f"pid {holder}" if holder else "another process"
        stop = f"`kill -TERM {holder}`" if holder.isdigit() else "SIGTERM"
        super().__init__(
            f"{output_path} is being trained into by {pid}. Wait for it to finish, or stop it with "
            f"{stop} (it writes a checkpoint of its step and exits), then run this command again "
            f"to resume from that checkpoint."
        )
        self.output_path, self.holder = output_path, holder


@contextlib.contextmanager
def output_lock(output_path: Path, lock_file: Optional[Path] = None) -> Iterator[Path]:
    """Hold OUTPUT/.train.lock for the duration; raise ``OutputBusy`` if another process does.
    ``lock_file`` puts the lock elsewhere, for a command whose OUTPUT is replaced or removed
    while it runs (``distill`` locks a hidden file beside OUTPUT); that file is removed on
    release, so nothing is left beside OUTPUT."""
    output_path = Path(output_path)
    remove = lock_file is not None
    if lock_file is None:
        output_path.mkdir(parents=True, exist_ok=True)
        lock_file = output_path / LOCK_FILE
    else:
        Path(lock_file).parent.mkdir(parents=True, exist_ok=True)
    path = Path(lock_file).resolve()
    if fcntl is None or path in _HELD:
        yield path
        return
    handle = _locked(path, output_path)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _HELD.add(path)
        try:
            yield path
        finally:
            _HELD.discard(path)
            if remove:  # still held: whoever opens the name next makes a new file (``_locked``)
                path.unlink(missing_ok=True)
    finally:
        handle.close()  # closing the descriptor releases the lock


def _locked(path: Path, output_path: Path) -> IO[str]:
    """``path`` opened and ``flock`` ed, or ``OutputBusy``. A lock taken on a file its last
    holder had removed meanwhile guards nothing, so then the name is opened again."""
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise OutputBusy(output_path, holder) from None
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


def lock_holder(path: Path) -> Optional[int]:
    """The pid holding the ``flock`` on ``path``, read from /proc/locks without taking the
    lock (so a training starting at that moment is never refused); elsewhere, the pid the
    file names if that process is alive."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="utf8") as locks:
            for line in locks:
                fields = line.split()
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
                    return int(fields[4])
        return None
    except OSError:
        pass
    try:
        pid = int(Path(path).read_text(encoding="utf8").strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None

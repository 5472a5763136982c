"""Where a running training is now, between its checkpoints.

A checkpoint is written at each evaluation, every 250 steps or about 20 minutes on 2 CPU
cores, and a training log redirected to a file shows nothing in between (spaCy's progress
bar draws only on a terminal). So the loop also keeps OUTPUT/.train.live.json: its pid,
the last step it finished and the training seconds so far, rewritten at most every
``INTERVAL`` seconds (a rename, so a reader never sees half a file) and removed when the
loop ends. ``nerel-batch progress`` reads it for a stage whose lock that pid holds; a file
left by a killed process names a pid that holds no lock, and is ignored.
"""
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

LIVE_FILE = ".train.live.json"
INTERVAL = 15.0  # seconds between two writes


class LiveProgress:
    """Writes OUTPUT/.train.live.json as the loop finishes steps; ``close`` removes it."""

    def __init__(self, output_path: Path, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(output_path) / LIVE_FILE
        self.interval, self.clock = interval, clock
        self._last_write: Optional[float] = None

    def step_done(self, step: int, seconds: float) -> None:
        """``step`` (0-based, as in the checkpoint) is finished after ``seconds`` of training."""
        now = self.clock()
        if self._last_write is not None and now - self._last_write < self.interval:
            return
        self._last_write = now
        partial = self.path.with_name(self.path.name + ".partial")
        record = {"pid": os.getpid(), "step": int(step), "seconds": round(float(seconds), 1),
                  "written": time.time()}
        try:
            partial.write_text(json.dumps(record), encoding="utf8")
            os.replace(partial, self.path)
        except OSError:  # a full disk must not stop the training; the checkpoint still says where it is
            pass

    def close(self) -> None:
        for path in (self.path, self.path.with_name(self.path.name + ".partial")):
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def read_live(output_path: Path, holder: Optional[int]) -> Optional[Dict[str, Any]]:
    """The live record of the training ``holder`` (the pid holding the folder's lock) is
    running into ``output_path``, or None: no holder, no file, or a file another pid left."""
    if holder is None:
        return None
    try:
        record = json.loads((Path(output_path) / LIVE_FILE).read_text(encoding="utf8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("pid") != holder:
        return None
    try:
        return {"pid": holder, "step": int(record["step"]), "seconds": float(record["seconds"]),
                "written": float(record.get("written", 0.0))}
    except (KeyError, TypeError, ValueError):
        return None

"""Helpers for the README's quick start tests (test_quickstart_*.py): a fresh copy of the repository, run as typed.

The repository's files (``git ls-files``: what a clone holds) are copied to a temporary
folder, and the commands of the README's "Quick start" blocks run there as written, with
two changes only: the brat fixtures stand in for ``../shared/data/nerel``, and tiny vars
(a few steps, a small vector table, the tiny random BERT) make each workflow take seconds.
Subprocesses import the copy's ``nerel_spacy``. Nothing touches the network: git may
only use file:// here, so the asset fetch of a bare copy fails at once.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from brat_fixtures import NEREL_ROOT
from conftest import REPO_ROOT

QUICK_START = re.compile(r"^## Quick start\n(.*?)^### ", re.S | re.M)
BASH = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
README_NEREL = "../shared/data/nerel"


def quick_start_blocks() -> List[List[str]]:
    """The commands of each bash block in the README's Quick start, comments dropped."""
    section = QUICK_START.search((REPO_ROOT / "README.md").read_text(encoding="utf8"))
    assert section, "README.md lost its '## Quick start' section"
    blocks = [[line for line in block.splitlines() if line.strip()] for block in BASH.findall(section.group(1))]
    assert len(blocks) == 2, "expected the CNN block, then the transformer block"
    return blocks


def fresh_copy(dest: Path) -> Path:
    """The files a clone of this repository would hold (plus new files not yet committed)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def offline_env(clone: Path) -> Dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(clone), "GIT_ALLOW_PROTOCOL": "file", "GIT_TERMINAL_PROMPT": "0"}
    env.pop("COLUMNS", None)
    return env


def run_line(line: str, clone: Path, tiny_vars: Dict[str, str]) -> subprocess.CompletedProcess:
    """One README command in ``clone``: the fixtures for NEREL, tiny vars for a workflow."""
    args = shlex.split(line.replace(README_NEREL, str(NEREL_ROOT)), comments=True)
    if args[:3] == ["spacy", "project", "run"]:
        args += [f"--vars.{name}={value}" for name, value in tiny_vars.items()]
    programs = {"spacy": [sys.executable, "-m", "spacy"], "nerel-batch": [sys.executable, "-m", "nerel_spacy"]}
    args = programs[args[0]] + args[1:]
    return subprocess.run(args, cwd=clone, env=offline_env(clone), capture_output=True, text=True, timeout=600)


def assert_record_per_document(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    expected = sorted(path.name for path in (NEREL_ROOT / "dev").glob("*.txt"))
    assert sorted(record["id"] for record in records) == expected


def run_block(block: List[str], clone: Path, tiny_vars: Dict[str, str]) -> None:
    """The workflow must succeed; the annotate line (stdout is a pipe here) prints JSONL."""
    workflow, annotate = block
    assert workflow.startswith("spacy project run ") and annotate.startswith("nerel-batch annotate ")
    result = run_line(workflow, clone, tiny_vars)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_record_per_document(run_line(annotate, clone, tiny_vars))

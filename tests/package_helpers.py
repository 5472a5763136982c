"""A briefly trained ``nerel_joint`` pipeline, and a throwaway venv to install a wheel into.

Shared by ``test_package.py`` and ``test_readme_examples.py``. Nothing is downloaded: the
venv sees this environment's packages, so ``pip install --no-deps --no-index`` suffices.
"""
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import spacy
from spacy.util import fix_random_seed

from conftest import make_examples


def train_tiny_pipeline(path: Path, n_steps: int = 30, seed: int = 0) -> Path:
    """Train a CNN ``nerel_joint`` until it predicts the three conftest docs; save it to ``path``."""
    fix_random_seed(seed)
    nlp = spacy.blank("ru")
    nlp.add_pipe("nerel_joint")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_steps):
        nlp.update(examples, sgd=optimizer, drop=0.0)
        optimizer.step_schedules()
    nlp.to_disk(path)
    return path


def make_venv(path: Path) -> Path:
    """A venv at ``path`` that also sees this interpreter's packages; returns its python.

    ``--system-site-packages`` alone gives a venv made from inside another venv the *base*
    interpreter's packages, not the outer venv's. A .pth file adds the outer ones (and runs
    their .pth files, so editable installs work), after the new venv's own site-packages.
    """
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(path)],
        check=True,
    )
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    outer = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    line = "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in dict.fromkeys(outer))
    (Path(purelib) / "_outer_site_packages.pth").write_text(line + "\n", encoding="utf8")
    return python


def clean_env() -> dict:
    """This process's environment without anything that would put packages on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def pip_install(python: Path, wheel: Path) -> None:
    """Install ``wheel`` into the venv of ``python``, offline; ``--ignore-installed`` so a
    copy installed in the outer environment can't stand in for it."""
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
         "--quiet", str(wheel)],
        capture_output=True, text=True, env=clean_env(), timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def run_json(python: Path, code: str, cwd: Path) -> Any:
    """Run ``code`` as a script in a fresh process of ``python``; return the JSON it printed last."""
    script = cwd / "check_script.py"
    script.write_text(code, encoding="utf8")
    result = subprocess.run(
        [str(python), str(script)], cwd=cwd, capture_output=True, text=True, env=clean_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])

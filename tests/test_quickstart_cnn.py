"""The README's quick start, CNN block, as typed on a fresh copy of the repository (quickstart_helpers).

Also: the transformer workflow without data or network says how to point it at NEREL.
The transformer block has its own module, so parallel runs (pytest -n) can give it a worker.
"""
import json
import subprocess
import sys

import pytest

from quickstart_helpers import fresh_copy, offline_env, quick_start_blocks, run_block

pytestmark = pytest.mark.slow


def test_cnn_quick_path(tmp_path):
    clone = fresh_copy(tmp_path)
    (cnn, _) = quick_start_blocks()
    run_block(cnn, clone, {"cnn_max_steps": "4", "cnn_eval_frequency": "2", "vectors_max_words": "2000"})
    dev = json.loads((clone / "metrics" / "joint_cnn_rel" / "dev.json").read_text(encoding="utf-8"))
    assert "relations_gold_insent_f" in dev  # the quick path trains the relation head too
    import spacy

    from nerel_spacy.pq_vectors import PQVectors

    compact = spacy.load(clone / "training" / "joint_cnn_rel" / "model-compact")  # navec's rows as codes
    assert isinstance(compact.vocab.vectors, PQVectors) and compact.vocab.vectors.shape == (2000, 300)


def test_all_without_data_or_network_says_how_to_point_at_nerel(tmp_path):
    clone = fresh_copy(tmp_path)
    args = [sys.executable, "-m", "spacy", "project", "run", "all", "."]
    result = subprocess.run(args, cwd=clone, env=offline_env(clone), capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "No NEREL corpus at assets/nerel" in output
    assert "--vars.nerel_dir" in output and "Offline recipe" in output
    assert "Missing dependency" not in output
    assert not (clone / "corpus").exists() or not any((clone / "corpus").iterdir())

"""``nerel-batch fetch-data``: the first step of ``spacy project run all`` on a fresh clone.

The fetch runs the real ``python -m weasel assets`` against local git repositories only
(a bogus path that fails at once, or a repository made in the test): nothing touches the
network.
"""
import shutil
import subprocess

import pytest
import srsly
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.cli import data as data_cli

from brat_fixtures import NEREL_ROOT
from conftest import REPO_ROOT


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def run(runner, *args):
    return runner.invoke(app, ["fetch-data", *map(str, args)], env={"COLUMNS": "200"})


def write_project(project_dir, repo: str) -> None:
    """A project.yml with the NEREL asset of the real one, cloned from ``repo``."""
    real = srsly.read_yaml(REPO_ROOT / "project.yml")
    (asset,) = real["assets"]
    asset = {**asset, "git": {**asset["git"], "repo": repo}}
    srsly.write_yaml(project_dir / "project.yml", {"title": "t", "assets": [asset]})


def assert_offline_message(output: str) -> None:
    assert "--vars.nerel_dir" in output
    assert "Offline recipe" in output
    assert "Traceback" not in output


def test_existing_nerel_is_reported_and_kept(runner):
    result = run(runner, NEREL_ROOT)
    assert result.exit_code == 0, result.output
    assert "train 2 documents" in result.output and "dev 1 documents" in result.output


def test_missing_folder_that_is_no_asset_stops_with_the_recipe(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path, "file:///nonexistent")
    result = run(runner, tmp_path / "elsewhere")
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert_offline_message(result.output)
    assert "Fetching" not in result.output


def test_folder_without_splits_stops_with_the_recipe(runner, tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.txt").write_text("Текст.", encoding="utf8")
    result = run(runner, tmp_path)
    assert result.exit_code == 1
    assert "has no train/ or dev/ folder" in result.output
    assert_offline_message(result.output)


@pytest.mark.slow
def test_failed_fetch_of_the_asset_stops_with_one_message(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bogus = tmp_path / "no-such-repo"
    write_project(tmp_path, str(bogus))
    result = run(runner, "assets/nerel")
    assert result.exit_code == 1
    assert f"fetching it from {bogus} failed (fatal:" in result.output  # git's own error
    assert_offline_message(result.output)
    assert not (tmp_path / "assets" / "nerel").exists()


def test_fetch_timeout_is_a_failed_fetch(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path, "https://example.invalid/NEREL")

    def too_slow(args, **kwargs):
        raise subprocess.TimeoutExpired(args, kwargs["timeout"])

    monkeypatch.setattr(data_cli.subprocess, "run", too_slow)
    result = run(runner, "assets/nerel", "--timeout", "5")
    assert result.exit_code == 1
    assert "no answer within 5 s" in result.output
    assert_offline_message(result.output)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_missing_asset_is_fetched_from_its_repository(runner, tmp_path, monkeypatch):
    """A local repository laid out like NEREL's: the asset's path inside it is copied."""
    repo = tmp_path / "repo"
    shutil.copytree(NEREL_ROOT, repo / "NEREL-v1.1")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "NEREL"]):
        subprocess.run(git + args, check=True, capture_output=True)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    write_project(project, repo.as_uri())
    result = run(runner, "assets/nerel")
    assert result.exit_code == 0, result.output
    assert "Fetching NEREL" in result.output
    assert "train 2 documents" in result.output
    assert (project / "assets" / "nerel" / "dev" / "lavrov.ann").exists()


def test_command_is_the_first_step_of_the_workflows():
    project = srsly.read_yaml(REPO_ROOT / "project.yml")
    for workflow in ("all", "cnn"):
        assert project["workflows"][workflow][0] == "fetch-data"
    (command,) = [c for c in project["commands"] if c["name"] == "fetch-data"]
    assert command["script"] == ["nerel-batch fetch-data ${vars.nerel_dir}"]
    assert project["vars"]["nerel_dir"] in {asset["dest"] for asset in project["assets"]}

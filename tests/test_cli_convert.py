"""``nerel-batch convert`` on bad input: one line naming the file, exit 1, no traceback."""
import shutil

import pytest
from typer.testing import CliRunner

from nerel_spacy.cli import app

from brat_fixtures import NEREL_ROOT


def break_orphan_ann(root):
    (root / "dev" / "lavrov.txt").unlink()


def break_conf_sections(root):
    (root / "annotation.conf").write_text("[relations]\nFOO\tArg1:X, Arg2:Y\n", encoding="utf-8")


def break_conf_encoding(root):
    (root / "annotation.conf").write_bytes("[entities]\nПЕРСОНА\n".encode("cp1251"))


def break_ann_encoding(root):
    ann = root / "dev" / "lavrov.ann"
    ann.write_bytes(ann.read_text(encoding="utf-8").encode("cp1251"))


def break_empty_split(root):
    (root / "test").mkdir()


@pytest.mark.parametrize(
    "damage,message",
    [
        (break_orphan_ann, "lavrov.ann: no text file lavrov.txt next to it"),
        (break_conf_sections, "annotation.conf: no [entities] section"),
        (break_conf_encoding, "annotation.conf: not valid UTF-8"),
        (break_ann_encoding, "lavrov.ann: not valid UTF-8"),
        (break_empty_split, "test: split folder holds no documents"),
    ],
)
def test_convert_bad_input_exits_1_and_writes_nothing(tmp_path, damage, message):
    root = tmp_path / "root"
    shutil.copytree(NEREL_ROOT, root)
    damage(root)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["convert", str(root), str(out)], env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()

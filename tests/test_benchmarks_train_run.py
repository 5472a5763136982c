"""benchmarks/train_run.py reads one run's table out of a log that holds a whole workflow."""
import importlib.util
from pathlib import Path

from conftest import REPO_ROOT

SPEC = importlib.util.spec_from_file_location("train_run", REPO_ROOT / "benchmarks" / "train_run.py")
train_run = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(train_run)

HEADER_1 = "E    #       LOSS TRANS...  ENTS_F  SCORE \n---  ------  -------------  ------  ------"
HEADER_2 = "E    #       ENTS_F  SCORE \n---  ------  ------  ------"
WORKFLOW_LOG = f"""Running command: nerel-batch fetch-data ../shared/data/nerel
Running command: nerel-batch train configs/joint_trf.cfg --output training/joint_trf --paths.train corpus/train.spacy
{HEADER_1}
  0       0           0.00    0.00    0.09
  1     250           0.33    7.48    0.20
ℹ Trained 251 steps in 400 s of training time
Running command: nerel-batch train configs/joint_trf_heads.cfg --output training/joint_trf_heads --paths.init_model training/joint_trf/model-best
{HEADER_2}
  0       0    0.00    0.01
  1     500   60.00    0.61
ℹ Trained 501 steps in 300 s of training time
Running command: nerel-batch train configs/joint_trf.cfg --output training/joint_trf --paths.train corpus/train.spacy
{HEADER_1}
  1     500           0.12   56.43    0.40
ℹ Trained 501 steps in 800 s of training time
"""


def test_a_workflow_log_gives_each_output_its_own_sections():
    first = train_run.log_of_output(WORKFLOW_LOG, Path("training/joint_trf"), cwd=REPO_ROOT)
    curve = train_run.parse_training_table(first)
    assert [(row["#"], row["ENTS_F"]) for row in curve] == [(0, 0.0), (250, 7.48), (500, 56.43)]
    assert "Trained 501 steps in 800 s" in first and "300 s" not in first
    heads = train_run.log_of_output(WORKFLOW_LOG, REPO_ROOT / "training" / "joint_trf_heads", cwd=REPO_ROOT)
    assert [(row["#"], row["ENTS_F"]) for row in train_run.parse_training_table(heads)] == [(0, 0.0), (500, 60.0)]


def test_a_single_run_log_is_read_whole():
    log = f"{HEADER_2}\n  0       0    0.00    0.01\n"
    assert train_run.log_of_output(log, Path("training/anything"), cwd=REPO_ROOT) == log


ROUNDS_COMMAND = "Running command: nerel-batch train-rounds m configs/s.cfg --output training/rounds --corpus corpus"
ROUNDS_LOG = f"""{ROUNDS_COMMAND}
Round 1/2 (r1): training, 500 steps at 0.0001 from m
{HEADER_2}
  0       0   10.00    0.10
SIGTERM: stopping after this step
{ROUNDS_COMMAND}
Round 1/2 (r1): resuming, 500 steps at 0.0001 from m
{HEADER_2}
  1     500   20.00    0.20
ℹ Trained 501 steps in 900 s of training time
Round 2/2 (r2): training, 500 steps at 5e-05 from training/rounds/r1/model-last
{HEADER_2}
  0       0   30.00    0.30
"""


def test_a_round_of_train_rounds_is_read_from_its_parts_of_the_log():
    """train-rounds --output OUT trains round NAME into OUT/NAME, in parts after 'Round k/n (NAME):'."""
    r1 = train_run.log_of_output(ROUNDS_LOG, Path("training/rounds/r1"), cwd=REPO_ROOT)
    assert [(row["#"], row["ENTS_F"]) for row in train_run.parse_training_table(r1)] == [(0, 10.0), (500, 20.0)]
    assert "900 s of training time" in r1 and "30.00" not in r1
    r2 = train_run.log_of_output(ROUNDS_LOG, Path("training/rounds/r2"), cwd=REPO_ROOT)
    assert [(row["#"], row["ENTS_F"]) for row in train_run.parse_training_table(r2)] == [(0, 30.0)]
    assert train_run.log_of_output(ROUNDS_LOG, Path("training/rounds"), cwd=REPO_ROOT) == ROUNDS_LOG

"""The console logger shows σ and raw losses as numbers, not ×100 percentages."""
import io

import pytest

import spacy

from nerel_spacy.training_logger import console_logger, rescale_raw_scores

from conftest import tiny_trf_config


def test_rescale_leaves_other_scores_alone():
    info = {"other_scores": {"sigma_ner": 1.5, "ents_f": 0.8, "cats_f_per_type": {}}, "step": 3}
    rescaled = rescale_raw_scores(info, ["sigma_ner"])
    assert rescaled["other_scores"]["sigma_ner"] == 0.015
    assert rescaled["other_scores"]["ents_f"] == 0.8
    assert info["other_scores"]["sigma_ner"] == 1.5  # the original is untouched


def test_console_logger_prints_sigma_unscaled():
    nlp = spacy.blank("ru")
    nlp.add_pipe("nerel_joint")
    nlp.config["training"]["score_weights"] = {"ents_f": 1.0, "sigma_ner": 0.0}
    nlp.config["training"]["max_steps"] = 10
    nlp.config["training"]["eval_frequency"] = 5
    stdout = io.StringIO()
    log_step, finalize = console_logger(progress_bar=None)(nlp, stdout, io.StringIO())
    log_step(
        {"epoch": 0, "step": 5, "losses": {"nerel_joint": 1.0}, "score": 0.5,
         "other_scores": {"ents_f": 0.5, "sigma_ner": 1.25}}
    )
    finalize()
    row = stdout.getvalue().strip().splitlines()[-1].split()
    assert "1.25" in row and "50.00" in row


def test_task_columns_average_raw_losses_and_show_a_students_token_vector_distance():
    from nerel_spacy.training_logger import TOKEN_VECTORS_COLUMN, task_columns

    losses = {"nerel_joint_ner": 3.0, "nerel_joint_sigma_ner": 0.7, "nerel_joint_token_vectors": 1.2}
    assert task_columns(losses, "nerel_joint", 4) == {"sigma_ner": 0.7, "loss_ner": 0.75, TOKEN_VECTORS_COLUMN: 0.3}
    assert TOKEN_VECTORS_COLUMN not in task_columns({"nerel_joint_ner": 1.0}, "nerel_joint", 1)


@pytest.mark.parametrize("checkpoints, start_step, steps", [
    ([(0.1, 0), (0.2, 500), (0.3, 750)], 750, 250),  # stopped at 749, resumed: losses since 500
    ([(0.1, 0), (0.2, 500), (0.3, 750)], 501, 250),  # stopped at the evaluation of 500
    ([(0.1, 0)], 0, 1),  # a fresh run's first evaluation: one update
])
def test_loss_columns_are_means_over_the_steps_since_the_previous_evaluation(checkpoints, start_step, steps):
    """A resumed run restores the losses summed since the last evaluation before the stop."""
    from nerel_spacy.training_logger import previous_evaluation

    info = {"step": checkpoints[-1][1], "checkpoints": checkpoints, "start_step": start_step}
    assert max(1, info["step"] - previous_evaluation(info)) == steps
    nlp = spacy.blank("ru")
    nlp.add_pipe("nerel_joint")
    nlp.config["training"]["score_weights"] = {"ents_f": 1.0, "loss_ner": 0.0}
    stdout = io.StringIO()
    log_step, finalize = console_logger(progress_bar=None, raw_columns=["loss_ner"])(nlp, stdout, io.StringIO())
    log_step({**info, "epoch": 0, "losses": {"nerel_joint": 1.0, "nerel_joint_ner": 0.37 * steps},
              "score": 0.9, "other_scores": {"ents_f": 0.9}})
    finalize()
    header, *_, row = stdout.getvalue().strip().splitlines()
    start = header.index("LOSS_NER")
    assert row[start:start + len("LOSS_NER")].strip() == "0.37"


@pytest.mark.parametrize(
    "setting, fast_bf16, expected",
    [
        ("auto", True, "transformer: training passes in bfloat16 (train_precision = 'auto': the CPU multiplies bfloat16 natively)."),
        ("auto", False, "transformer: training passes in float32 (train_precision = 'auto': no native bfloat16 on this CPU)."),
        ("fp32", True, "transformer: training passes in float32 (train_precision = 'fp32')."),
    ],
)
def test_the_log_says_which_precision_an_encoder_trains_in(tiny_bert_dir, monkeypatch, setting, fast_bf16, expected):
    import nerel_spacy.machine as machine

    monkeypatch.setattr(machine, "cpu_has_fast_bf16", lambda: fast_bf16)
    nlp = spacy.util.load_model_from_config(
        tiny_trf_config(tiny_bert_dir, **{"components.transformer.model.train_precision": setting}), auto_fill=True
    )
    stdout = io.StringIO()
    console_logger(progress_bar=None)(nlp, stdout, io.StringIO())
    assert f"ℹ {expected}" in stdout.getvalue().splitlines()


def test_a_frozen_encoder_gets_no_precision_line(tiny_bert_dir):

    nlp = spacy.util.load_model_from_config(
        tiny_trf_config(tiny_bert_dir, **{"components.transformer.model.train_precision": "bf16"}), auto_fill=True
    )
    nlp.config["training"]["frozen_components"] = ["transformer"]
    stdout = io.StringIO()
    console_logger(progress_bar=None)(nlp, stdout, io.StringIO())
    assert "training passes" not in stdout.getvalue()

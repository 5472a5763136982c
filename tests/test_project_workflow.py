"""project.yml's workflows are wired: each stage reads what an earlier stage of the same
workflow wrote, and `all` ends in the run the later commands read."""
import shlex
from pathlib import Path

import pytest
from spacy.cli._util import parse_config_overrides
from spacy.util import load_config, registry
from weasel.util import load_project_config

from conftest import REPO_ROOT


def project(**overrides):
    return load_project_config(Path(REPO_ROOT), overrides={f"vars.{k}": v for k, v in overrides.items()})


def commands_of(config, workflow):
    by_name = {command["name"]: command for command in config["commands"]}
    return [by_name[name] for name in config["workflows"][workflow]]


@pytest.mark.parametrize("workflow", ["all", "cnn"])
@pytest.mark.parametrize("overrides", [{}, {"config": "joint_trf_custom"}])
def test_every_trained_model_a_stage_reads_comes_from_an_earlier_stage(workflow, overrides):
    config = project(**overrides)
    written = set()
    for command in commands_of(config, workflow):
        for dep in command.get("deps", []):
            if dep.startswith("training/"):
                assert dep in written, f"{command['name']} reads {dep}, which no earlier stage of {workflow} writes"
        written.update(command.get("outputs", []))


def test_all_trains_encoder_then_heads_then_both_twice_then_the_rounds_and_ships_the_last():
    config = project()
    names = config["workflows"]["all"]
    stages = ("train", "train-heads", "train-more", "train-more-again", "train-rounds", "evaluate")
    assert [names.index(stage) for stage in stages] == sorted(names.index(stage) for stage in stages)
    by_name = {command["name"]: command for command in config["commands"]}
    assert by_name["train-heads"]["deps"][1] == "training/joint_trf/model-best"
    assert by_name["train-more"]["deps"][1] == "training/joint_trf_heads/model-best"
    assert by_name["train-more-again"]["deps"][1] == "training/joint_trf_heads_more/model-best"
    assert by_name["train-rounds"]["deps"][2] == "training/joint_trf_heads_more_more/model-best"
    assert by_name["evaluate"]["deps"][0] == "training/joint_trf_heads_more_more_rounds/model-best"
    assert by_name["package"]["deps"] == ["training/joint_trf_heads_more_more_rounds/model-int8"]


def test_train_rounds_runs_the_schedule_var_on_the_windows_and_vectors_of_the_project():
    by_name = {command["name"]: command for command in project(rounds="my_rounds.cfg")["commands"]}
    command = by_name["train-rounds"]
    words = shlex.split(command["script"][0])
    assert words[:4] == ["nerel-batch", "train-rounds", "training/joint_trf_heads_more_more/model-best",
                         "my_rounds.cfg"]
    options = dict(zip(words[4::2], words[5::2]))
    assert options == {"--output": "training/joint_trf_heads_more_more_rounds", "--corpus": "corpus",
                       "--vectors": "assets/navec_vectors", "--config": "configs/joint_trf_continue.cfg",
                       "--window": "128", "--stride": "96", "--eval-frequency": "250"}
    assert {"my_rounds.cfg", "assets/navec_vectors", "configs/joint_trf_continue.cfg"} <= set(command["deps"])
    assert command["outputs"] == ["training/joint_trf_heads_more_more_rounds/model-best"]


def test_the_two_rounds_of_train_more_differ_only_in_what_they_read_and_write():
    by_name = {command["name"]: command for command in project()["commands"]}
    first, second = (" ".join(by_name[name]["script"]) for name in ("train-more", "train-more-again"))
    normalised = second.replace("joint_trf_heads_more_more", "OUT").replace("joint_trf_heads_more", "IN")
    assert normalised == first.replace("joint_trf_heads_more", "OUT").replace("joint_trf_heads", "IN")


def test_run_can_point_the_later_commands_at_another_run():
    config = project(run="joint_trf")
    by_name = {command["name"]: command for command in config["commands"]}
    assert by_name["evaluate"]["deps"][0] == "training/joint_trf/model-best"
    assert by_name["train-heads"]["deps"][1] == "training/joint_trf/model-best"


@pytest.mark.parametrize("head", ["nerel.RelationScorer.v2", "nerel.RelationScorer.v3", "nerel.RelationScorer.v4"])
def test_train_heads_builds_the_relation_head_its_var_names(head):
    by_name = {command["name"]: command for command in project(relation_head=head)["commands"]}
    words = shlex.split(by_name["train-heads"]["script"][0])
    overrides = parse_config_overrides(words[words.index("--output") + 2:])
    assert overrides["components.nerel_joint.model.relation_head.@architectures"] == head
    components = {key: value for key, value in overrides.items() if key.startswith("components.")}
    config = load_config(REPO_ROOT / "configs" / "joint_trf_heads.cfg", overrides=components)
    block = config["components"]["nerel_joint"]["model"]["relation_head"]
    scorer = registry.resolve({"scorer": block})["scorer"]
    names = {layer.name for layer in scorer.walk()}
    assert ("relation_context" in names) == (not head.endswith("v2"))
    assert ("pair_structure" in names) == head.endswith("v4")


def test_retrain_relations_reads_run_and_writes_a_run_the_later_commands_can_read():
    config = project(retrain_relation_head="nerel.RelationScorer.v3")
    by_name = {command["name"]: command for command in config["commands"]}
    command = by_name["retrain-relations"]
    words = shlex.split(command["script"][0])
    assert words[words.index("--architecture") + 1] == "nerel.RelationScorer.v3"
    assert command["deps"][0] == "training/joint_trf_heads_more_more_rounds/model-best"
    assert words[3] == command["outputs"][0] == "training/joint_trf_heads_more_more_rounds_rel/model-best"
    later = {c["name"]: c for c in project(run="joint_trf_heads_more_more_rounds_rel")["commands"]}
    assert later["evaluate"]["deps"][0] == command["outputs"][0]


def test_the_shipped_heads_config_uses_the_relation_head_all_trains():
    config = load_config(REPO_ROOT / "configs" / "joint_trf_heads.cfg")
    assert config["components"]["nerel_joint"]["model"]["relation_head"]["@architectures"] == project()["vars"]["relation_head"]


def test_nested_arguments_best_enters_at_train_heads_and_the_later_stages_source_it():
    """Stage 1 keeps the factory's "all" (its recorded runs); train-heads ships "best", and
    train-more, train-more-again and the rounds source nerel_joint, settings included."""
    first = load_config(REPO_ROOT / "configs" / "joint_trf.cfg")["components"]["nerel_joint"]
    heads = load_config(REPO_ROOT / "configs" / "joint_trf_heads.cfg")["components"]["nerel_joint"]
    more = load_config(REPO_ROOT / "configs" / "joint_trf_continue.cfg")["components"]["nerel_joint"]
    assert "nested_arguments" not in first
    for cnn_config in ("joint_cnn_rel.cfg", "joint_cnn_fast.cfg"):
        assert load_config(REPO_ROOT / "configs" / cnn_config)["components"]["nerel_joint"]["nested_arguments"] == "best"
    assert heads["nested_arguments"] == "best"
    assert set(more) == {"source"}


def test_speed_reads_what_all_and_its_own_earlier_stages_wrote_and_times_them_with_throughput_sh():
    config = project(cnn_config="joint_cnn_fast")
    written = {output for command in commands_of(config, "all") for output in command.get("outputs", [])}
    for command in commands_of(config, "speed"):
        for dep in command.get("deps", []):
            if dep.startswith("training/"):
                assert dep in written, f"{command['name']} reads {dep}, which neither all nor speed writes before it"
        written.update(command.get("outputs", []))
    (throughput,) = [command for command in config["commands"] if command["name"] == "throughput"]
    words = shlex.split(throughput["script"][0])
    assert words[0] == "env" and words[-2:] == ["bash", "benchmarks/throughput.sh"]
    run = "training/joint_trf_heads_more_more_rounds"
    assert dict(word.split("=", 1) for word in words[1:-2]) == {
        "RUN": run, "STUDENT": f"{run}_student", "CNN": "training/joint_cnn_fast",
        "OUTPUT": "metrics/joint_trf_heads_more_more_rounds/throughput.json"}
    script = (Path(REPO_ROOT) / "benchmarks" / "throughput.sh").read_text(encoding="utf8")
    for name in ("RUN", "STUDENT", "CNN", "OUTPUT"):
        assert f"{name}=${{{name}:-" in script  # the script reads each from the environment

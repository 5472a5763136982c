"""nerel_spacy.load_settings: --set COMPONENT.SETTING=VALUE, checked against the pipeline's config."""
import pytest
import spacy
from spacy.util import fix_random_seed
from thinc.api import Config

from nerel_spacy.annotate import SettingsRefused, load_pipeline
from nerel_spacy.load_settings import SettingError, load_with_settings, parse_setting, pipeline_config, settings_overrides

from conftest import make_nested_examples
from pipeline_helpers import train, v3_nlp

CONFIG = Config().from_str("""
[components]

[components.nerel_joint]
factory = "nerel_joint"
span_threshold = 0.5
nested_arguments = "all"

[components.nerel_joint.fixed_weights]
ner = 1.0

[components.nerel_joint.model]
@architectures = "nerel.JointTagCat.v3"
dropout = 0.1

[components.transformer]
factory = "transformer"
""")


@pytest.mark.parametrize("text, expected", [
    ("nerel_joint.span_threshold=0.4", (("nerel_joint", "span_threshold"), 0.4)),
    ("nerel_joint.span_threshold=0.95", (("nerel_joint", "span_threshold"), 0.95)),  # exactly, not 0.9500000000000001
    ("nerel_joint.nested_arguments=best", (("nerel_joint", "nested_arguments"), "best")),
    ("nerel_joint.allow_crossing=true", (("nerel_joint", "allow_crossing"), True)),
    ('nerel_joint.spans_key="7"', (("nerel_joint", "spans_key"), "7")),
    ("nerel_joint.fixed_weights.ner = 2", (("nerel_joint", "fixed_weights", "ner"), 2)),
    ("a.b=x=y", (("a", "b"), "x=y")),
])
def test_values_are_json_else_text(text, expected):
    assert parse_setting(text) == expected


@pytest.mark.parametrize("text", ["span_threshold=0.4", "nerel_joint.span_threshold", "nerel_joint..x=1", ".x=1"])
def test_malformed_settings_say_how_to_write_one(text):
    with pytest.raises(SettingError, match="COMPONENT.SETTING=VALUE"):
        parse_setting(text)


def test_settings_become_spacy_load_overrides():
    assert settings_overrides([], CONFIG) == {}
    overrides = settings_overrides(
        ["nerel_joint.span_threshold=0.4", "nerel_joint.model.dropout=0", "nerel_joint.fixed_weights.ner=2"], CONFIG
    )
    assert overrides == {"components": {"nerel_joint": {
        "span_threshold": 0.4, "model": {"dropout": 0}, "fixed_weights": {"ner": 2},
    }}}


@pytest.mark.parametrize("text, message", [
    ("ner.threshold=1", "the pipeline has no 'ner'; its components: nerel_joint, transformer"),
    ("nerel_joint.span_treshold=1", "nerel_joint has no 'span_treshold'; its settings: nested_arguments, span_threshold"),
    ("nerel_joint.model.width=1", "nerel_joint.model has no 'width'; its settings: dropout"),
    ("nerel_joint.model=1", "nerel_joint.model is a section; set one of its settings: nerel_joint.model.@architectures, nerel_joint.model.dropout"),
    ("nerel_joint.span_threshold.x=1", "nerel_joint.span_threshold is a setting, not a section"),
])
def test_names_the_pipeline_lacks_are_errors_listing_those_it_has(text, message):
    with pytest.raises(SettingError) as error:
        settings_overrides([text], CONFIG)
    assert str(error.value) == f"--set {text}: {message}"


@pytest.fixture(scope="module")
def saved_v3(tmp_path_factory):
    fix_random_seed(0)
    nlp = v3_nlp(relation_threshold=0.3)
    train(nlp, make_nested_examples(nlp), 0)  # initialized: settings are all these tests read
    path = tmp_path_factory.mktemp("v3") / "model"
    nlp.to_disk(path)
    return path


def test_load_pipeline_applies_them_and_the_saved_pipeline_is_unchanged(saved_v3):
    assert pipeline_config(str(saved_v3))["components"]["nerel_joint"]["nested_arguments"] == "all"
    changed = load_pipeline(str(saved_v3), settings=["nerel_joint.nested_arguments=best", "nerel_joint.span_threshold=0.9"])
    assert changed.get_pipe("nerel_joint").cfg["nested_arguments"] == "best"
    assert changed.get_pipe("nerel_joint").cfg["span_threshold"] == 0.9
    assert load_pipeline(str(saved_v3)).get_pipe("nerel_joint").cfg["nested_arguments"] == "all"


@pytest.mark.parametrize("setting, message", [
    ("nerel_joint.nested_arguments=one", r"nested_arguments must be one of \('all', 'best'\), not 'one'"),
    ("nerel_joint.allow_crossing=maybe", r"refused it: nerel_joint.allow_crossing: at root: 'maybe' is not <class 'bool'>$"),
    ("nerel_joint.span_treshold=0.4", "nerel_joint has no 'span_treshold'"),
    ("nerel_joint.span_threshold=5", r"span_threshold is a probability, from 0 to 1, not 5.0"),
    ("nerel_joint.relation_threshold=-0.1", r"relation_threshold is a probability, from 0 to 1, not -0.1"),
])
def test_a_setting_the_pipeline_refuses_is_a_usage_error_naming_it(saved_v3, setting, message):
    with pytest.raises(SettingsRefused, match=message) as refused:
        load_pipeline(str(saved_v3), settings=[setting])
    assert str(refused.value).startswith(f"--set {setting}")


def test_a_missing_pipeline_is_still_the_model_error(tmp_path):
    with pytest.raises(Exception) as error:
        load_pipeline(str(tmp_path / "nothing"), settings=["nerel_joint.span_threshold=0.4"])
    assert not isinstance(error.value, SettingsRefused) and "can't load pipeline" in str(error.value)


def test_load_with_settings_raises_setting_errors_and_leaves_spacys_own(saved_v3, tmp_path):
    with pytest.raises(SettingError, match="refused it: nerel_joint: nested_arguments must be one of"):
        load_with_settings(str(saved_v3), ["nerel_joint.nested_arguments=one"])
    with pytest.raises(OSError):
        load_with_settings(str(tmp_path / "nothing"), ["nerel_joint.span_threshold=0.4"])
    assert load_with_settings(str(saved_v3)).get_pipe("nerel_joint").cfg["span_threshold"] == 0.5

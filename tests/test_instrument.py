"""The instrument loader: the demo questionnaire, a different toy questionnaire, and bad files."""
from __future__ import annotations

import textwrap

import pytest

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import load_instrument

TOY = """
study: {id: toy, survey_year: 2024}
roles: {id: pid, community: school}
missing_codes:
  -9: {reason: refused, en: refused}
value_sets:
  agree4: {1: disagree, 2: rather disagree, 3: rather agree, 4: agree}
variables:
  - {name: pid, type: string, required: true, label: Pupil}
  - {name: school, type: string, required: true, label: School}
  - {name: W1, type: ordinal, values: agree4, label: I feel happy}
  - {name: W2, type: ordinal, values: agree4, label: I feel calm}
  - {name: W3, type: ordinal, values: agree4, label: I feel alone}
  - {name: hours, type: numeric, range: [0, 24], label: Hours of sleep}
scales:
  wellbeing: {items: [W1, W2, W3], reverse: [W3], min_items: 2}
"""


def _write(tmp_path, text):
    path = tmp_path / "instrument.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_demo_instrument(instrument):
    assert instrument.role("id") == "resp_id"
    assert instrument.role("community") == "comm_id"
    assert set(instrument.scales) >= {"participation", "identity", "contact", "embeddedness"}
    assert instrument.scales["identity"].reverse == ("F6",)
    assert instrument.scales["participation"].reverse == ("E6",)
    assert instrument.missing_reason(98) == "dont_know"
    assert instrument.missing_reason(-1) == "skipped"
    assert instrument.variables["F1"].value_labels("en")[4] == "agree"
    assert instrument.variables["F1"].value_labels("zh")[4] == "比较同意"
    assert instrument.attention_check == {"variable": "F7", "correct": 4}
    assert all(v in instrument.variables for v in instrument.straightlining_grid)
    assert instrument.variables["duration_sec"].is_valid(300)
    assert not instrument.variables["F1"].is_valid(6)
    assert set(instrument.community_variables) >= {"gov_model", "comm_type", "points_scheme"}


def test_toy_instrument_is_read_the_same_way(tmp_path):
    toy = load_instrument(_write(tmp_path, TOY))
    assert toy.role("id") == "pid" and toy.role("community") == "school"
    assert toy.scales["wellbeing"].items == ("W1", "W2", "W3")
    assert toy.variables["W3"].value_labels("en") == {1: "disagree", 2: "rather disagree", 3: "rather agree", 4: "agree"}
    assert toy.variables["W1"].label_in("zh") == "I feel happy"
    assert toy.missing_reason(-9) == "refused" and toy.missing_reason(98) is None
    assert toy.attention_check is None and toy.straightlining_grid == ()
    assert toy.required == ["pid", "school"]


@pytest.mark.parametrize(
    "change, message",
    [
        (("type: ordinal, values: agree4, label: I feel calm", "type: likert, label: I feel calm"), "type 'likert'"),
        (("items: [W1, W2, W3]", "items: [W1, W2, W9]"), "'W9'"),
        (("values: agree4, label: I feel happy", "values: agree5, label: I feel happy"), "agree5"),
        (("reverse: [W3]", "reverse: [hours]"), "reverses items that are not in it: hours"),
        # one variable in two roles
        (("roles: {id: pid, community: school}", "roles: {id: pid, community: pid}"),
         "roles.id and roles.community both name 'pid'"),
        (("roles: {id: pid, community: school}", "roles: {id: pid, community: school, group: school}"),
         "roles.community and roles.group both name 'school'"),
        # a role, a scale item or a reverse item naming something unknown
        (("roles: {id: pid, community: school}", "roles: {id: pupil, community: school}"),
         "roles.id names 'pupil', which is not a variable"),
        (("reverse: [W3]", "reverse: [W7]"), "scale 'wellbeing' names 'W7', which is not a variable"),
        # a scale item that is not a number, a reversed item without codes to reflect over
        (("items: [W1, W2, W3]", "items: [W1, W2, W3, pid]"), "scale 'wellbeing' item 'pid' is string, not a number"),
        (("items: [W1, W2, W3], reverse: [W3]", "items: [W1, W2, W3, hours], reverse: [W3, hours]"),
         "scale 'wellbeing' reverses 'hours', which has no value labels"),
        (("min_items: 2}", "min_items: 4}"), "needs 4 answered items (min_items) but has 3"),
        # the community id is text; a community file needs the community role
        (("{name: school, type: string,", "{name: school, type: numeric,"),
         "roles.community 'school' is numeric; a community id is text"),
        (("roles: {id: pid, community: school}", "roles: {id: pid}\ncommunities: {id: school}"),
         "the communities: section describes a community file, but roles.community is not set"),
    ],
)
def test_bad_instrument_names_the_problem(tmp_path, change, message):
    assert change[0] in TOY
    path = _write(tmp_path, TOY.replace(*change))
    with pytest.raises(PipelineError) as err:
        load_instrument(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("change", "message", "hint"), [
    (("items: [W1, W2, W3]", "items: [W1, W2, w3]"), "names 'w3', which is not a variable", "did you mean 'W3'?"),
    (("roles: {id: pid, community: school}", "roles: {id: pdi, community: school}"), "roles.id names 'pdi'",
     "did you mean 'pid'?"),
    (("agree4: {1: disagree", "multi: {1: A, 2: B, 3: C, 13: A and C, 123: all}\n  agree4: {1: disagree"),
     None, None),
    (("-9: {reason: refused, en: refused}", "-9: {reason: refused, en: refused}\n  5: {reason: dont_know, variables: [w1]}"),
     "missing_codes.5.variables names 'w1', which is not a variable", "did you mean 'W1'?"),
])
def test_a_misspelt_name_gets_the_close_ones(tmp_path, change, message, hint):
    path = _write(tmp_path, TOY.replace(*change))
    if message is None:                                # a value set no scale item uses: no error
        load_instrument(path)
        return
    with pytest.raises(PipelineError) as err:
        load_instrument(path)
    assert message in str(err.value) and err.value.hint == hint


@pytest.mark.parametrize(("values", "ok"), [
    ("{1: A, 2: B, 3: C, 4: D, 5: E, 13: A and C, 45: D and E, 145: A D E, 12345: all}", False),  # a multiple choice
    ("{1: agree, 2: neutral, 3: disagree, 9: dont know}", False),     # a missing code among the values
    ("{1: not at all, 3: somewhat, 5: very}", True),                  # anchors only, evenly spaced
    ("{0: none, 25: some, 50: half, 75: most, 100: all}", True),
    ("{1: a, 2: b, 3: c, 4: d}", True),
])
def test_a_scale_item_is_one_evenly_spaced_response_scale(tmp_path, values, ok):
    """An outside study put an item of a multiple choice (codes 13, 145, 12345) into a scale: the
    run ended without a word, the score's maximum 6,173 and alpha -0.0003."""
    path = _write(tmp_path, TOY.replace("agree4: {1: disagree, 2: rather disagree, 3: rather agree, 4: agree}",
                                        f"agree4: {values}"))
    if ok:
        assert load_instrument(path).scales["wellbeing"].items == ("W1", "W2", "W3")
        return
    with pytest.raises(PipelineError) as err:
        load_instrument(path)
    assert "scale 'wellbeing' item 'W1' has codes" in str(err.value) and "not one evenly spaced response scale" in str(err.value)
    assert "remove 'W1' from scales.wellbeing.items" in err.value.hint


def test_a_study_without_clusters_or_respondent_ids_is_valid(tmp_path):
    """No roles.community and no communities: section (a survey without clusters), and no
    roles.id (an anonymous survey): the loader asks for no role; the stages say what they need."""
    no_clusters = load_instrument(_write(tmp_path, TOY.replace("roles: {id: pid, community: school}", "roles: {id: pid}")))
    assert no_clusters.role("community") is None and no_clusters.community_id is None
    assert not no_clusters.communities_declared and no_clusters.community_variables == {}
    anonymous = load_instrument(_write(tmp_path, TOY.replace("roles: {id: pid, community: school}", "roles: {}")))
    assert anonymous.roles == {}
    declared = load_instrument(_write(tmp_path, TOY + "communities: {id: school}\n"))
    assert declared.communities_declared and declared.community_id == "school"


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(PipelineError, match="not found"):
        load_instrument(tmp_path / "nope.yaml")
    with pytest.raises(PipelineError, match="not valid YAML"):
        load_instrument(_write(tmp_path, "variables: [\n"))


def test_label_cut_at_an_unquoted_comma_is_caught(tmp_path):
    text = TOY.replace("label: I feel calm}", "label: {en: calm, rested}}")
    with pytest.raises(PipelineError, match="quote labels"):
        load_instrument(_write(tmp_path, text))


@pytest.mark.parametrize(
    "change, message",
    [
        (("label: Hours of sleep}", "label: Hours of sleep, requried: true}"),
         "unknown keys: variables[5].requried (did you mean 'required'?)"),
        (("roles: {id: pid, community: school}", "roles: {id: pid, community: school, weigth: w}"),
         "roles.weigth 'weigth' is unknown"),
        (("scales:", "scale:"), "unknown keys: scale (did you mean 'scales'?)"),
        (("min_items: 2}", "min_items: two}"), "scales.wellbeing.min_items is 'two', expected an integer"),
    ],
)
def test_unknown_keys_and_wrong_types_in_the_file_are_one_line(tmp_path, change, message):
    path = _write(tmp_path, TOY.replace(*change))
    with pytest.raises(PipelineError) as err:
        load_instrument(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_missing_code_of_some_variables_only(tmp_path):
    """missing_codes.<code>.variables: missing in those variables, an answer in the others."""
    path = _write(tmp_path, TOY.replace("-9: {reason: refused, en: refused}",
                                        "-9: {reason: refused, en: refused}\n  4: {reason: dont_know, en: don't know, "
                                        "variables: [W3]}"))
    inst = load_instrument(path)
    assert inst.missing_scope == {4: ("W3",)}
    assert set(inst.missing_codes_of("W3")) == {-9, 4} and set(inst.missing_codes_of("W1")) == {-9}
    assert inst.missing_codes[4] == {"reason": "dont_know", "en": "don't know"}
    with pytest.raises(PipelineError, match="must be a list of variable names"):
        load_instrument(_write(tmp_path, TOY.replace("-9: {reason: refused, en: refused}",
                                                     "-9: {reason: refused, en: refused, variables: []}")))

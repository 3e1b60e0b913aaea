"""Drafting an instrument from a survey export (pipeline/survey/draft.py, for `pipeline init`):
.sav, .dta, .csv and .xlsx files written here; the drafted types, labels, missing codes, ranges
and roles; the YAML written round-trips through load_instrument; and the survey stage runs on
the draft with generic params (seed, instrument, an empty survey section and secrets/id_key, as
init leaves a new study)."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fixtures.toy_survey import run_stage
from pipeline.core.errors import PipelineError
from pipeline.core.instrument import load_instrument
from pipeline.survey.draft import draft_instrument, dump_instrument

N = 40
AGREE = {1: "非常不同意", 2: "不同意", 3: "一般", 4: "同意", 5: "非常同意", 98: "不知道", 99: "拒绝回答"}


@pytest.fixture
def study(tmp_path, monkeypatch):
    """A new study folder as init leaves it: the key in secrets/id_key, no key in the environment."""
    monkeypatch.delenv("PIPELINE_ID_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "id_key").write_text("a long random secret of this study\n", encoding="utf-8")
    return tmp_path


def _stage(folder, survey, instrument, communities=""):
    """The survey stage with generic params: only seed, instrument and an empty survey section."""
    params = folder / "params.yaml"
    params.write_text(yaml.safe_dump({"seed": 1, "instrument": str(instrument), "survey": {}}), encoding="utf-8")
    code = run_stage(folder / "out", survey, params=params, communities=communities)
    return code, folder / "out" / "processed"


def _var(instrument: dict, name: str) -> dict:
    return next(v for v in instrument["variables"] if v["name"] == name)


def _round_trip(draft, path):
    """Written, read back as YAML and by load_instrument: the same instrument."""
    dump_instrument(draft, path)
    text = path.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == draft.instrument
    assert text.startswith("# Instrument drafted by `python -m pipeline init` from ")
    assert "\\u" not in text
    return load_instrument(path), text


# --------------------------------------------------------------------------------------------
# SPSS
# --------------------------------------------------------------------------------------------
def _sav(path):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({
        "serial": np.arange(1, N + 1, dtype=float),
        "resp_id": [f"R{i:04d}" for i in range(N)],
        "school": rng.choice([1224.0, 17.0, 5.0], N),
        "q1": rng.choice([1.0, 2, 3, 4, 5], N),
        "q2": rng.choice([1.0, 2, 3, 4, 5], N),
        "gender": rng.choice([1.0, 2.0], N),
        "age": rng.integers(18, 80, N).astype(float),
        "income": rng.integers(1000, 9000, N).astype(float),
        "interview_date": [dt.date(2024, 5, 1) + dt.timedelta(days=int(i)) for i in range(N)],
        "comment": [f"意见 {i}" for i in range(N)],
    })
    df.loc[[0, 1], "q1"] = [98.0, 99.0]
    df.loc[2, "q2"] = 98.0
    df.loc[3, "age"] = -9.0
    df.loc[4, "age"] = -2.0                    # inside the missing range, without a label
    pyreadstat.write_sav(
        df, path,
        column_labels={"q1": "我信任居委会", "q2": "邻居会互相帮忙", "gender": "性别", "age": "Age in years",
                       "interview_date": "访问日期"},
        variable_value_labels={"q1": AGREE, "q2": AGREE, "gender": {1: "男", 2: "女"}, "age": {-9: "refused"}},
        missing_ranges={"q1": [98, 99], "q2": [98, 99], "age": [{"lo": -9, "hi": -1}]},
        variable_measure={"q1": "ordinal", "q2": "ordinal", "gender": "nominal", "age": "scale", "income": "scale"},
    )
    return df


def test_sav_draft_types_labels_missing_codes_ranges_and_roles(study):
    df = _sav(study / "survey.sav")
    pd.DataFrame({"school": ["01224", "17", "5"], "district": ["城东", "城西", "城东"], "n_pupils": [800, 450, 1200],
                  "urban": [1, 0, 1]}).to_csv(study / "communities.csv", index=False)
    draft = draft_instrument(study / "survey.sav", cluster="school", communities=study / "communities.csv")
    spec = draft.instrument
    assert spec["roles"] == {"id": "resp_id", "record": "serial", "community": "school"}
    assert _var(spec, "resp_id") == {"name": "resp_id", "type": "string", "required": True, "label": {"en": "resp_id"}}
    assert _var(spec, "school")["type"] == "string" and _var(spec, "serial")["type"] == "numeric"
    # types from the measurement levels, labels in their language, shared label sets
    q1, q2 = _var(spec, "q1"), _var(spec, "q2")
    assert q1["type"] == "ordinal" and q1["label"] == {"zh": "我信任居委会"}
    assert q1["values"] == q2["values"] and spec["value_sets"][q1["values"]] == {
        c: {"zh": t} for c, t in AGREE.items() if c < 90}
    assert _var(spec, "gender") == {"name": "gender", "type": "categorical", "values": {1: {"zh": "男"}, 2: {"zh": "女"}},
                                    "label": {"zh": "性别"}}
    # numbers without labels: the observed range without the missing codes
    age = _var(spec, "age")
    valid_age = df.loc[df["age"] > 0, "age"]
    assert age == {"name": "age", "type": "numeric", "range": [int(valid_age.min()), int(valid_age.max())],
                   "label": {"en": "Age in years"}}
    assert _var(spec, "income")["range"] == [int(df["income"].min()), int(df["income"].max())]
    assert _var(spec, "interview_date")["type"] == "datetime"
    assert _var(spec, "comment") == {"name": "comment", "type": "string", "free_text": True, "label": {"en": "comment"}}
    # user-missing values and ranges, with reasons from their labels
    assert spec["missing_codes"] == {98: {"reason": "dont_know", "zh": "不知道"}, 99: {"reason": "refused", "zh": "拒绝回答"},
                                     -9: {"reason": "refused_minus9", "en": "refused"},
                                     -2: {"reason": "missing", "en": "missing"}}
    notes = "\n".join(draft.notes)
    assert "roles.id: resp_id - unique in every row, named like a respondent id" in notes
    assert "roles.community: school - given as the cluster variable" in notes
    assert "roles.weight: not set" in notes and "roles.group: not set" in notes
    assert spec["communities"]["id"] == "school"
    assert [v["type"] for v in spec["communities"]["variables"]] == ["string", "string", "numeric", "categorical"]
    assert "CHECK the community ids" not in notes        # 01224 and 1224.0 are one id

    loaded, text = _round_trip(draft, study / "instrument.yaml")
    assert loaded.role("id") == "resp_id" and loaded.communities_declared
    assert loaded.variables["q1"].value_labels("zh")[5] == "非常同意" and loaded.missing_reason(-9) == "refused_minus9"
    assert text.splitlines()[0].endswith("survey.sav (40 rows, 10 columns)") and "不知道" in text
    assert "  - {name: gender, type: categorical, values: {1: {zh: 男}, 2: {zh: 女}}, label: {zh: 性别}}" in text

    code, processed = _stage(study, study / "survey.sav", study / "instrument.yaml", study / "communities.csv")
    assert code == 0
    clean = pd.read_parquet(processed / "survey_clean.parquet")
    assert len(clean) == N and set(clean["school"]) == {"1224", "17", "5"}
    assert clean["resp_id"].str.fullmatch(r"P[0-9a-f]{16}").all()
    missing = pd.read_parquet(processed / "survey_missing.parquet")
    reasons = set(zip(missing["variable"].astype(str), missing["reason"].astype(str)))
    assert {("q1", "dont_know"), ("q1", "refused"), ("q2", "dont_know"), ("age", "refused_minus9"), ("age", "missing")} <= reasons
    assert pd.read_csv(processed / "survey_checks.csv").empty, "the draft agrees with the file's own labels"


# --------------------------------------------------------------------------------------------
# Stata
# --------------------------------------------------------------------------------------------
def test_dta_draft_guesses_without_measurement_levels(study):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({
        "pid": [f"P-{i}" for i in range(N)],
        "obs": np.arange(101, 101 + N, dtype=float),
        "trust": rng.choice([1.0, 2, 3, 4], N),
        "hours": np.round(rng.uniform(0, 12, N), 1),
        "kids": rng.integers(0, 4, N).astype(float),
        "knows": rng.choice([1.0, 2.0, 9.0], N),
        "voted": pd.Series([[0, 1, "a", "b"][k] for k in rng.integers(0, 4, N)], dtype=object),  # Stata's .a, .b
    })
    pyreadstat.write_dta(df, study / "survey.dta", column_labels={"trust": "Trust in neighbours"},
                         variable_value_labels={"trust": {1: "none", 2: "a little", 3: "some", 4: "a lot"},
                                                "knows": {1: "知道", 2: "听说过", 9: "不知道"},
                                                "voted": {0: "no", 1: "yes", "a": "refused", "b": "不记得"}},
                         missing_user_values={"voted": ["a", "b"]})
    draft = draft_instrument(study / "survey.dta")
    spec = draft.instrument
    assert spec["roles"] == {"id": "pid", "record": "obs"}
    assert _var(spec, "trust")["type"] == "categorical" and _var(spec, "trust")["values"][4] == {"en": "a lot"}
    assert _var(spec, "hours")["type"] == "numeric" and _var(spec, "hours")["range"] == [df["hours"].min(), df["hours"].max()]
    assert _var(spec, "kids") == {"name": "kids", "type": "categorical", "range": [int(df["kids"].min()), int(df["kids"].max())],
                                  "label": {"en": "kids"}}
    # a labelled code above the answers that reads like a missing answer is a missing code
    assert spec["missing_codes"] == {9: {"reason": "dont_know", "zh": "不知道"}}
    assert _var(spec, "knows")["values"] == {1: {"zh": "知道"}, 2: {"zh": "听说过"}}
    assert "communities" not in spec and "roles.community: not set" in "\n".join(draft.notes)
    assert _var(spec, "voted")["values"] == {0: {"en": "no"}, 1: {"en": "yes"}}
    assert any(n.startswith("'voted': Stata extended missing values (.a 'refused', .b '不记得') are read as blank")
               for n in draft.notes)

    loaded, _ = _round_trip(draft, study / "instrument.yaml")
    assert loaded.role("community") is None
    code, processed = _stage(study, study / "survey.dta", study / "instrument.yaml")
    assert code == 0
    metrics = json.loads((study / "out" / "metrics" / "survey.json").read_text(encoding="utf-8"))
    assert metrics["analysed"] == N and "communities_analysed" not in metrics
    missing = pd.read_parquet(processed / "survey_missing.parquet")
    assert (missing.loc[missing["variable"] == "knows", "reason"].astype(str) == "dont_know").sum() == (df["knows"] == 9).sum()


# --------------------------------------------------------------------------------------------
# CSV and Excel
# --------------------------------------------------------------------------------------------
def _text_table():
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "id": np.arange(1, N + 1),
        "提交时间": [f"2024-06-{1 + i % 28:02d} 10:{i % 60:02d}:00" for i in range(N)],
        "满意度": rng.choice([1, 2, 3, 4, 5], N),
        "月收入": rng.integers(1500, 20000, N),
        "居住社区": rng.choice(["A12", "B07", "C03"], N),
        "建议": [f"希望多办活动{i}" for i in range(N)],
    })


def test_csv_draft_of_an_anonymous_survey_needs_no_key(study):
    """问卷星-style CSV: a row number called id, no respondent id; the stage needs no key."""
    df = _text_table()
    df.to_csv(study / "survey.csv", index=False, encoding="utf-8-sig")
    (study / "secrets" / "id_key").unlink()
    draft = draft_instrument(study / "survey.csv")
    spec = draft.instrument
    assert spec["roles"] == {"record": "id"}
    assert "roles.id: not set" in "\n".join(draft.notes)
    assert _var(spec, "提交时间")["type"] == "datetime"
    assert _var(spec, "满意度") == {"name": "满意度", "type": "categorical", "range": [1, 5], "label": {"zh": "满意度"}}
    assert _var(spec, "月收入")["type"] == "numeric"
    assert _var(spec, "居住社区") == {"name": "居住社区", "type": "string", "label": {"zh": "居住社区"}}
    assert _var(spec, "建议")["free_text"] is True
    assert spec["missing_codes"] == {}
    _round_trip(draft, study / "instrument.yaml")
    code, processed = _stage(study, study / "survey.csv", study / "instrument.yaml")
    assert code == 0
    excl = pd.read_csv(processed / "exclusions.csv")
    assert list(excl.columns) == ["id", "rule", "counted", "detail"]


def test_xlsx_draft_with_a_community_file_keyed_otherwise(study):
    df = _text_table().rename(columns={"id": "序号"})
    df.insert(1, "受访者编号", [f"NX{i:05d}" for i in range(N)])
    df.to_excel(study / "survey.xlsx", index=False)
    pd.DataFrame({"code": ["A12", "B07", "C03"], "类型": [1, 2, 1]}).to_csv(study / "comms.csv", index=False)
    draft = draft_instrument(study / "survey.xlsx", cluster="居住社区", communities=study / "comms.csv")
    spec = draft.instrument
    assert spec["roles"] == {"id": "受访者编号", "record": "序号", "community": "居住社区"}
    assert spec["communities"]["id"] == "code"
    assert "'code' holds every '居住社区' of the survey" in "\n".join(draft.notes)
    loaded, _ = _round_trip(draft, study / "instrument.yaml")
    assert loaded.community_id == "code"
    code, processed = _stage(study, study / "survey.xlsx", study / "instrument.yaml", study / "comms.csv")
    assert code == 0
    assert set(pd.read_parquet(processed / "survey_clean.parquet")["居住社区"]) == {"A12", "B07", "C03"}


# --------------------------------------------------------------------------------------------
# what the draft cannot do
# --------------------------------------------------------------------------------------------
def test_draft_errors_are_one_line(study):
    _text_table().to_csv(study / "survey.csv", index=False)
    pd.DataFrame({"other": ["x"]}).to_csv(study / "comms.csv", index=False)
    cases = [
        (dict(cluster="school"), "the cluster variable 'school' is not in the file"),
        (dict(communities=study / "comms.csv"), "a community file needs the survey's cluster variable"),
        (dict(cluster="居住社区", communities=study / "comms.csv"), "no column '居住社区', and no column holds every community id"),
    ]
    for kwargs, message in cases:
        with pytest.raises(PipelineError) as err:
            draft_instrument(study / "survey.csv", **kwargs)
        assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(PipelineError) as err:             # a slip of case or a letter: the close names
        draft_instrument(study / "survey.csv", cluster="ID")
    assert err.value.hint == "did you mean 'id'? (--cluster VAR)"
    with pytest.raises(PipelineError) as err:
        draft_instrument(study / "survey.csv", cluster="居住社")
    assert err.value.hint == "did you mean '居住社区'? (--cluster VAR)"


def test_mismatched_community_ids_are_a_note(study):
    _sav(study / "survey.sav")
    pd.DataFrame({"school": ["A12", "1224"]}).to_csv(study / "communities.csv", index=False)
    draft = draft_instrument(study / "survey.sav", cluster="school", communities=study / "communities.csv")
    assert ("CHECK the community ids: survey 'school' holds numbers, communities.csv 'school' holds text (e.g. 'A12')"
            in draft.notes)


def test_no_record_column_is_said(study):
    pd.DataFrame({"resp_id": ["R1", "R2", "R3"], "q": [1, 2, 1]}).to_csv(study / "survey.csv", index=False)
    draft = draft_instrument(study / "survey.csv")
    assert draft.instrument["roles"] == {"id": "resp_id"}
    assert any(n.startswith("roles.record: not set") and "row" in n for n in draft.notes)
    _round_trip(draft, study / "instrument.yaml")


# --------------------------------------------------------------------------------------------
# any table: the draft is valid YAML that the loader and the survey stage accept (or one line)
# --------------------------------------------------------------------------------------------
NAMES = st.lists(st.sampled_from(list("abqXY_1 :,#'\"-") + ["yes", "null", "年龄", "性别", "：", "\u3000"]),
                 min_size=1, max_size=4).map(lambda parts: "".join(parts).strip()).filter(lambda n: n and n != "row")
CELLS = st.one_of(st.integers(-10, 12).map(str), st.sampled_from(["", "98", "不知道", "2024-05-01", "1.5", "A12", "yes",
                                                                   "１２", " 3 ", "null"]))


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(names=st.lists(NAMES, min_size=1, max_size=5, unique=True), rows=st.integers(1, 6), data=st.data())
def test_any_table_drafts_to_a_loadable_instrument(study, names, rows, data):
    frame = pd.DataFrame({name: data.draw(st.lists(CELLS, min_size=rows, max_size=rows)) for name in names})
    frame.insert(0, "row", range(1, rows + 1))
    frame.to_csv(study / "survey.csv", index=False)
    try:
        draft = draft_instrument(study / "survey.csv")
    except PipelineError as exc:
        assert "\n" not in str(exc)
        event("the draft stops with one line")
        return
    assert draft.instrument["roles"]["record"] == "row"
    _round_trip(draft, study / "instrument.yaml")
    code, _ = _stage(study, study / "survey.csv", study / "instrument.yaml")
    assert code == 0, "the survey stage accepts every draft of a readable table"
    event("drafted, loaded, cleaned")


def test_a_rating_scale_labelled_at_its_anchors_keeps_its_middle_answers(study, capsys):
    """Items labelled 1 'not at all', 3 'somewhat', 5 'very' only (an SPSS file of a public survey
    did this): the draft used to list those three codes as the values, and the survey stage set
    every 2 and 4 missing as 'unlabelled' (a scale's alpha then came from the extremes alone).
    Now a rating scale of every point from the lowest label to the highest, the unlabelled ones
    labelled with their numbers; codes of a multiple choice (13, 145) are not taken for one."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"serial": np.arange(1, N + 1, dtype=float), "imp": rng.choice([1.0, 2, 3, 4, 5], N),
                       "multi": rng.choice([1.0, 2, 13, 145], N)})
    pyreadstat.write_sav(df, study / "anchors.sav",
                         variable_value_labels={"imp": {1: "Not at all", 3: "Somewhat", 5: "Very important"},
                                                "multi": {1: "A", 2: "B", 145: "A, D and E"}},
                         variable_measure={"imp": "nominal", "multi": "nominal"})
    draft = draft_instrument(study / "anchors.sav")
    imp = _var(draft.instrument, "imp")
    values = draft.instrument["value_sets"][imp["values"]] if isinstance(imp["values"], str) else imp["values"]
    assert imp["type"] == "ordinal"
    assert values == {1: {"en": "Not at all"}, 2: {"en": "2"}, 3: {"en": "Somewhat"}, 4: {"en": "4"},
                      5: {"en": "Very important"}}
    assert "'imp': labels on 1, 3, 5 only, answers 2, 4 between them: drafted as a rating scale 1-5" in "\n".join(draft.notes)
    multi = _var(draft.instrument, "multi")
    assert set(multi["values"]) == {1, 2, 145}                    # 13 is no point of a scale: left to the survey stage
    _round_trip(draft, study / "instrument.yaml")
    code, processed = _stage(study, study / "anchors.sav", study / "instrument.yaml")
    assert code == 0
    clean = pd.read_parquet(processed / "survey_clean.parquet")
    assert clean["imp"].notna().all() and set(clean["imp"]) == set(df["imp"])
    recodes = pd.read_csv(processed / "recodes.csv")
    assert set(recodes["variable"]) == {"multi"} and (recodes["reason"] == "unlabelled").all()
    err = capsys.readouterr().err
    n13 = int((df["multi"] == 13).sum())
    assert (f"survey: {n13:,} answer(s) in 1 variable(s) set missing as codes without a label (multi {n13:,}), listed in "
            in err)


def test_labels_the_draft_leaves_out_of_a_numeric_scale_are_no_finding(study):
    """A 0-10 item measured as scale, labelled at 0 and 10 only: the draft keeps numbers (no value
    labels), and the survey stage used to report each file label it had left out as
    'value_label_unknown_code'. A labelled code outside the range is still reported."""
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"serial": np.arange(1, N + 1, dtype=float), "health": rng.integers(0, 11, N).astype(float)})
    pyreadstat.write_sav(df, study / "scale.sav", variable_value_labels={"health": {0: "not at all", 10: "very", 97: "other"}},
                         variable_measure={"health": "scale"})
    draft = draft_instrument(study / "scale.sav")
    health = _var(draft.instrument, "health")
    assert health["type"] == "numeric" and "values" not in health
    _round_trip(draft, study / "instrument.yaml")
    code, processed = _stage(study, study / "scale.sav", study / "instrument.yaml")
    assert code == 0
    checks = pd.read_csv(processed / "survey_checks.csv")
    found = checks.loc[checks["check"] == "value_label_unknown_code", "detail"].tolist()
    assert found == ["file labels code 97 ('other'), the instrument does not"]


def test_the_sample_flow_lists_only_the_rules_the_study_applies(study):
    """An outside study's sample flow listed 'age / birth-year rule 0' (and the demo's other rules)
    though it has no age rule, no duration, no grid and no attention check: a CONSORT flow lists
    the steps taken. With a respondent id the duplicate rule applies; nothing else does here."""
    _sav(study / "survey.sav")
    draft = draft_instrument(study / "survey.sav")
    _round_trip(draft, study / "instrument.yaml")
    code, processed = _stage(study, study / "survey.sav", study / "instrument.yaml")
    assert code == 0
    flow = pd.read_csv(processed / "sample_flow.csv")
    assert flow["rule"].tolist() == ["raw", "duplicate", "analysed"] and flow["step"].tolist() == [0, 1, 2]


def test_a_labelled_cluster_drafted_as_text_ids_raises_no_label_finding(study):
    """A Stata file's country codes (1 'Austria', 2 'France') named as the cluster: init drafts
    them as text ids and leaves their labels out; the survey stage reported each label as a
    'value_label_unknown_code' finding."""
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"serial": np.arange(1, N + 1, dtype=float), "cntry": rng.choice([1.0, 2.0], N),
                       "q": rng.choice([1.0, 2.0, 3.0], N)})
    pyreadstat.write_sav(df, study / "c.sav", variable_value_labels={"cntry": {1: "Austria", 2: "France"},
                                                                     "q": {1: "a", 2: "b", 3: "c"}})
    draft = draft_instrument(study / "c.sav", cluster="cntry")
    assert _var(draft.instrument, "cntry")["type"] == "string"
    _round_trip(draft, study / "instrument.yaml")
    code, processed = _stage(study, study / "c.sav", study / "instrument.yaml")
    assert code == 0
    checks = pd.read_csv(processed / "survey_checks.csv")
    assert "cntry" not in set(checks["variable"])


def test_a_missing_answer_code_that_is_an_answer_elsewhere_is_missing_in_its_own_variables(study):
    """An outside user's SPSS file (ICPSR 37110): 1-4 items labelled 5 'Refusal' and 6 'Don't
    know', undeclared, beside a 1-7 item whose 5 and 6 are answers. The draft used to note the
    codes and leave them out of missing_codes (they apply to every variable), so the survey stage
    averaged 5 and 6 as answers of the 1-4 items. Now they are missing codes of those items only
    (``variables:``), and the 1-7 item keeps its 5 and 6."""
    rng = np.random.default_rng(11)
    df = pd.DataFrame({"serial": np.arange(1, N + 1, dtype=float), "often": rng.choice([1.0, 2, 3, 4, 5, 6], N),
                       "likes": rng.choice([1.0, 2, 3, 4, 5, 6], N), "rating": rng.choice([1.0, 2, 3, 4, 5, 6, 7], N)})
    four = {1: "Never", 2: "Sometimes", 3: "Often", 4: "Always", 5: "Refusal", 6: "Don't know"}
    pyreadstat.write_sav(df, study / "scoped.sav",
                         variable_value_labels={"often": four, "likes": four,
                                                "rating": {1: "Worst", 2: "2", 3: "3", 4: "4", 5: "5", 6: "6", 7: "Best"}})
    draft = draft_instrument(study / "scoped.sav")
    spec = draft.instrument
    assert spec["missing_codes"] == {5: {"reason": "refused", "en": "Refusal", "variables": ["often", "likes"]},
                                     6: {"reason": "dont_know", "en": "Don't know", "variables": ["often", "likes"]}}
    assert "code 5 reads like a missing answer in often, likes but is an answer in rating: drafted as a missing code " \
           "of those variables only" in "\n".join(draft.notes)
    values = lambda name: (spec["value_sets"][v] if isinstance(v := _var(spec, name)["values"], str) else v)  # noqa: E731
    assert set(values("often")) == {1, 2, 3, 4} and set(values("rating")) == set(range(1, 8))
    loaded, text = _round_trip(draft, study / "instrument.yaml")
    assert loaded.missing_scope == {5: ("often", "likes"), 6: ("often", "likes")}
    assert set(loaded.missing_codes_of("rating")) == set() and set(loaded.missing_codes_of("often")) == {5, 6}
    code, processed = _stage(study, study / "scoped.sav", study / "instrument.yaml")
    assert code == 0
    clean = pd.read_parquet(processed / "survey_clean.parquet")
    assert clean["often"].max() <= 4 and clean["likes"].max() <= 4
    assert clean["rating"].notna().all() and set(clean["rating"]) == set(df["rating"])
    missing = pd.read_parquet(processed / "survey_missing.parquet")
    often = missing[missing["variable"] == "often"]["reason"].astype(str).value_counts()
    assert often.get("refused", 0) == (df["often"] == 5).sum() and often.get("dont_know", 0) == (df["often"] == 6).sum()
    assert (missing["variable"] == "rating").sum() == 0
    codebooks = sorted((study / "out").rglob("codebook*.md"))
    assert codebooks and "| `refused` | 5 (often, likes only) |" in codebooks[0].read_text(encoding="utf-8")

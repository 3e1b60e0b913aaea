"""The survey stage on the demo study and on a toy instrument: rules against the planted truth,
the audit trail, the codebook, pseudonymous ids, determinism and the input formats."""
from __future__ import annotations

import copy
import json
import re
import unicodedata

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.toy_survey import TOY_INSTRUMENT, TOY_PARAMS, output_files, run_stage, toy_survey
from pipeline.survey.clean import clean_schema
from pipeline.survey.exclusions import RULES, sample_flow
from pipeline.survey.missing import id_key, normalise_text, pseudonymise
from pipeline.survey.read import read_survey
from pipeline.core.errors import PipelineError
from pipeline.core.instrument import load_instrument
from pipeline.demo.simulate import simulate_survey, write_sav

MIN_PRECISION = MIN_RECALL = 0.95


@pytest.fixture(scope="module", autouse=True)
def no_real_key():
    """The tests use the demo key: no key from the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("PIPELINE_ID_KEY", raising=False)
        yield


def _study(params, instrument, **overrides):
    cfg = copy.deepcopy(params["simulate"])
    cfg.update(overrides)
    return simulate_survey(cfg, instrument, np.random.default_rng([int(params["seed"]), 1]))


@pytest.fixture(scope="module")
def demo(params, instrument, tmp_path_factory):
    """The demo study's survey written to .sav, and the stage run on it."""
    study = _study(params, instrument)
    tmp = tmp_path_factory.mktemp("demo")
    write_sav(study.survey, instrument, tmp / "survey.sav")
    study.communities.to_csv(tmp / "communities.csv", index=False)
    assert run_stage(tmp / "out", tmp / "survey.sav", communities=tmp / "communities.csv") == 0
    return study, tmp


def _out(demo, name):
    _, tmp = demo
    base = tmp / "out"
    where = {"codebook.md": "reports", "codebook.xlsx": "reports", "survey.json": "metrics"}.get(name, "processed")
    return base / where / name


def _pr(found: set, truth: set) -> tuple[float, float]:
    tp = len(found & truth)
    return (tp / len(found) if found else 1.0), (tp / len(truth) if truth else 1.0)


# --------------------------------------------------------------------------------------------
# the rules against the planted truth
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", RULES)
def test_rule_finds_planted_problems(demo, rule):
    study, _ = demo
    excl = pd.read_csv(_out(demo, "exclusions.csv"))
    truth = set(study.problems.loc[study.problems["problem"] == rule, "serial"])
    found = set(excl.loc[excl["rule"] == rule, "serial"])
    assert len(truth) > 10, f"the demo study plants {rule}"
    precision, recall = _pr(found, truth)
    print(f"{rule}: precision {precision:.3f} recall {recall:.3f} ({len(found)} found, {len(truth)} true)")
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL


def test_out_of_range_recodes_match_truth(demo, params):
    study, _ = demo
    recodes = pd.read_csv(_out(demo, "recodes.csv"), dtype={"code": str})
    rid = study.survey.set_index("serial")["resp_id"]
    recodes["resp_id"] = recodes["serial"].map(rid)
    # birth years pushed out of range by the planted age-rule problems are out of range too
    age_vars = {params["survey"]["age_rule"]["age"], params["survey"]["age_rule"]["birth_year"]}
    age_truth = set(study.problems.loc[study.problems["problem"] == "age_rule", "serial"])
    by_age = recodes["variable"].isin(age_vars) & recodes["serial"].isin(age_truth)
    assert (recodes["reason"] == "out_of_range").all()
    found = {(r, v, float(c)) for r, v, c in zip(recodes.loc[~by_age, "resp_id"], recodes.loc[~by_age, "variable"],
                                                 recodes.loc[~by_age, "code"])}
    oor = pd.DataFrame(study.truth["out_of_range"])
    truth = {(r, v, float(c)) for r, v, c in zip(oor["resp_id"], oor["variable"], oor["code"])}
    precision, recall = _pr(found, truth)
    print(f"out_of_range recodes: precision {precision:.3f} recall {recall:.3f}")
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL
    clean = pd.read_parquet(_out(demo, "survey_clean.parquet"))
    for serial, var in zip(recodes["serial"], recodes["variable"]):
        if serial in set(clean["serial"]):
            assert np.isnan(clean.loc[clean["serial"] == serial, var].iloc[0])


# --------------------------------------------------------------------------------------------
# flow and the audit trail
# --------------------------------------------------------------------------------------------
def test_flow_adds_up_and_every_record_is_analysed_or_excluded(demo):
    study, _ = demo
    flow = pd.read_csv(_out(demo, "sample_flow.csv"))
    excl = pd.read_csv(_out(demo, "exclusions.csv"))
    clean = pd.read_parquet(_out(demo, "survey_clean.parquet"))
    metrics = json.loads(_out(demo, "survey.json").read_text(encoding="utf-8"))
    raw = len(study.survey)
    assert flow["rule"].tolist() == ["raw", *RULES, "analysed"]
    assert flow["remaining"].iloc[0] == raw
    steps = flow[flow["rule"].isin(RULES)]
    assert (steps["remaining"].to_numpy() == raw - steps["excluded"].cumsum().to_numpy()).all()
    assert flow["remaining"].iloc[-1] == len(clean) == metrics["analysed"]
    excluded = set(excl["serial"])
    analysed = set(clean["serial"])
    assert len(clean) + len(excluded) == raw == metrics["raw_submissions"]
    assert analysed.isdisjoint(excluded) and analysed | excluded == set(study.survey["serial"].astype(int))
    # listed under every rule, counted once under the first in the documented order
    counted = excl[excl["counted"]]
    assert counted["serial"].is_unique and set(counted["serial"]) == excluded
    order = {r: i for i, r in enumerate(RULES)}
    first = excl.assign(o=excl["rule"].map(order)).sort_values(["serial", "o"]).drop_duplicates("serial")
    assert (first.set_index("serial")["rule"] == counted.set_index("serial")["rule"]).all()
    assert (excl.groupby("serial").size() > 1).any(), "some submissions break several rules"
    for rule in RULES:
        assert metrics[f"excluded_{rule}"] == int(steps.loc[steps["rule"] == rule, "excluded"].iloc[0])
        assert metrics[f"flagged_{rule}"] == int((excl["rule"] == rule).sum())


def test_no_raw_id_in_any_output(demo):
    study, tmp = demo
    raw_ids = set(study.survey["resp_id"])
    files = output_files(tmp / "out")
    assert {p.suffix for p in files} >= {".parquet", ".csv", ".md", ".xlsx", ".json"}
    for path in files:
        if path.suffix == ".parquet":
            text = pd.read_parquet(path).astype(str).to_csv()
        elif path.suffix == ".xlsx":
            wb = openpyxl.load_workbook(path, read_only=True)
            text = " ".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row)
        else:
            text = path.read_text(encoding="utf-8")
        tokens = set(re.findall(r"[A-Za-z0-9_]+", text))
        assert not tokens & raw_ids, f"{path.name} holds raw respondent ids"
    clean = pd.read_parquet(_out(demo, "survey_clean.parquet"))
    assert clean["resp_id"].str.fullmatch(r"P[0-9a-f]{16}").all()


def test_pseudonyms_are_keyed(demo, params):
    frame = pd.DataFrame({"resp_id": ["R000001", "R000002", "R000001"]})
    demo_key, source = id_key(params["survey"], environ={})
    assert source == "demo"
    a = pseudonymise(frame, "resp_id", demo_key)
    b = pseudonymise(frame, "resp_id", b"another key")
    assert a["resp_id"].iloc[0] == a["resp_id"].iloc[2] != a["resp_id"].iloc[1]
    assert not set(a["resp_id"]) & set(b["resp_id"])
    assert id_key(params["survey"], environ={"PIPELINE_ID_KEY": "s3cret"}) == (b"s3cret", "env")
    no_demo = {k: v for k, v in params["survey"].items() if k != "demo_key"} | {"id_key_file": "no/such/file"}
    with pytest.raises(PipelineError, match="PIPELINE_ID_KEY"):
        id_key(no_demo, environ={})


def test_missing_values_keep_their_reason(demo, instrument):
    study, _ = demo
    clean = pd.read_parquet(_out(demo, "survey_clean.parquet"))
    missing = pd.read_parquet(_out(demo, "survey_missing.parquet"))
    raw = study.survey.set_index("serial").loc[clean["serial"].astype(float)]
    reason_of = {float(c): spec["reason"] for c, spec in instrument.missing_codes.items()}
    for var in ("income", "F2", "D5"):
        got = missing[missing["variable"] == var].set_index("serial")["reason"].astype(str)
        codes = raw[var][raw[var].isin(list(reason_of))]
        expected = codes.map(reason_of)
        expected.index = expected.index.astype(int)
        assert len(expected) > 10
        assert got.loc[expected.index].tolist() == expected.tolist()
        assert clean.set_index("serial").loc[expected.index, var].isna().all()
    assert set(missing["reason"].astype(str)) >= {"dont_know", "refused", "skipped"}
    # every missing cell of the clean data has exactly one reason
    n_nan = int(clean[[c for c in clean.columns if c in instrument.variables]].isna().sum().sum())
    assert n_nan == len(missing) and not missing.duplicated(["serial", "variable"]).any()


def test_full_width_digits_and_spaces_normalised(demo):
    study, _ = demo
    clean = pd.read_parquet(_out(demo, "survey_clean.parquet")).set_index("serial")
    raw = study.survey.set_index("serial")["hh_size_text"]
    wide = raw[raw.str.contains("[０-９]") & raw.index.isin(clean.index)]
    assert len(wide) > 20
    for serial, text in wide.items():
        plain = unicodedata.normalize("NFKC", text).strip()
        assert clean.at[int(serial), "hh_size_text"] == plain
        assert clean.at[int(serial), "hh_size_text_num"] == float(re.match(r"\d+", plain).group())
    assert not clean["hh_size_text"].str.contains(r"[０-９\u3000]|^\s|\s$").any()
    three = raw[raw.isin(["３人", " ３人 "]) & raw.index.isin(clean.index)]
    assert len(three) and (clean.loc[three.index.astype(int), "hh_size_text_num"] == 3).all()


def test_codebook_lists_every_variable_in_both_languages(demo, instrument):
    md = _out(demo, "codebook.md").read_text(encoding="utf-8")
    for name, var in instrument.variables.items():
        assert f"### `{name}`" in md
        assert var.label["zh"] in md and var.label["en"] in md
    assert "不知道" in md and "don't know" in md
    wb = openpyxl.load_workbook(_out(demo, "codebook.xlsx"), read_only=True)
    rows = list(wb["variables"].iter_rows(values_only=True))
    header = rows[0]
    listed = {r[header.index("variable")] for r in rows[1:]}
    assert set(instrument.variables) <= listed
    zh = {r[header.index("variable")]: r[header.index("label_zh")] for r in rows[1:]}
    assert zh["F1"] == instrument.variables["F1"].label["zh"]
    values = list(wb["values"].iter_rows(values_only=True))
    assert ("ethnicity", "2", "回族", "Hui") in {tuple(r[:4]) for r in values}


def test_labels_sidecar_has_every_variable(demo, instrument):
    labels = json.loads(_out(demo, "survey_labels.json").read_text(encoding="utf-8"))
    clean = pd.read_parquet(_out(demo, "survey_clean.parquet"))
    assert set(clean.columns) <= set(labels["variables"])
    assert labels["variables"]["ethnicity"]["values"]["2"] == {"zh": "回族", "en": "Hui"}
    assert labels["missing_reasons"]["dont_know"]["code"] == 98


def test_clean_data_meet_the_contract(demo, instrument):
    clean = pd.read_parquet(_out(demo, "survey_clean.parquet"))
    schema = clean_schema(instrument, list(clean.columns))
    schema.validate(clean)
    assert clean["serial"].dtype == "int64" and clean["submit_time"].dtype == "datetime64[us]"
    broken = clean.copy()
    broken.loc[0, "F1"] = 7.0
    with pytest.raises(Exception, match="F1"):
        schema.validate(broken)


def test_sav_round_trip_keeps_labels_and_missing_codes(demo, instrument):
    study, tmp = demo
    raw = read_survey(tmp / "survey.sav")
    assert raw.format == "sav"
    assert raw.labels["F2"] == instrument.variables["F2"].label["zh"]
    assert raw.value_labels["ethnicity"][2.0] == "回族" and raw.value_labels["F1"][99.0] == "拒绝回答"
    assert set(raw.declared_missing["F1"]) == {-1.0, 98.0, 99.0}
    assert (raw.frame["F1"] == 98).sum() == (study.survey["F1"] == 98).sum() > 0
    assert (raw.frame["D5"] == -1).sum() == (study.survey["D5"] == -1).sum() > 0
    checks = pd.read_csv(_out(demo, "survey_checks.csv"))
    assert not checks["check"].isin(["label_differs", "value_label_differs", "declared_missing_unknown"]).any()


def test_same_input_same_bytes(demo):
    _, tmp = demo
    assert run_stage(tmp / "again", tmp / "survey.sav", communities=tmp / "communities.csv") == 0
    first = {p.relative_to(tmp / "out"): p.read_bytes() for p in output_files(tmp / "out")}
    second = {p.relative_to(tmp / "again"): p.read_bytes() for p in output_files(tmp / "again")}
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs between two runs"


# --------------------------------------------------------------------------------------------
# other input formats give the same cleaned data
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(params, instrument, tmp_path_factory):
    study = _study(params, instrument, n_communities=8)
    tmp = tmp_path_factory.mktemp("formats")
    write_sav(study.survey, instrument, tmp / "survey.sav")
    assert run_stage(tmp / "sav", tmp / "survey.sav") == 0
    return study, tmp


@pytest.mark.parametrize("fmt", ["dta", "csv", "xlsx"])
def test_other_formats_give_the_same_clean_data(small, fmt):
    study, tmp = small
    path = tmp / f"survey.{fmt}"
    if fmt == "dta":
        pyreadstat.write_dta(study.survey, path, variable_value_labels={"ethnicity": {1: "汉族", 2: "回族", 3: "其他民族"}})
    elif fmt == "csv":
        study.survey.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        study.survey.to_excel(path, index=False)
    assert run_stage(tmp / fmt, path) == 0
    for name in ("survey_clean.parquet", "survey_missing.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp / fmt / "processed" / name),
                                      pd.read_parquet(tmp / "sav" / "processed" / name))
    for name in ("exclusions.csv", "recodes.csv", "sample_flow.csv"):
        assert (tmp / fmt / "processed" / name).read_bytes() == (tmp / "sav" / "processed" / name).read_bytes()


def test_wenjuanxing_style_csv_with_text_answers_and_renamed_columns(small, instrument, tmp_path):
    """A CSV export with answer texts instead of codes and one renamed column reads the same."""
    from fixtures.toy_survey import params_file

    study, tmp = small
    df = study.survey.rename(columns={"gender": "性别"})
    df["性别"] = df["性别"].map({1.0: "男", 2.0: "女"})
    df["F1"] = df["F1"].map(lambda v: {98.0: "不知道"}.get(v, v))
    path = tmp_path / "wjx.csv"
    df.to_csv(path, index=False, encoding="utf-8-sig")
    params = params_file(tmp_path, rename={"性别": "gender"})
    assert run_stage(tmp_path / "out", path, params=params) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "processed" / "survey_clean.parquet"),
                                  pd.read_parquet(tmp / "sav" / "processed" / "survey_clean.parquet"))


# --------------------------------------------------------------------------------------------
# a different questionnaire
# --------------------------------------------------------------------------------------------
def test_toy_instrument_end_to_end(tmp_path):
    toy = load_instrument(TOY_INSTRUMENT)
    df, sites, truth = toy_survey()
    write_sav(df, toy, tmp_path / "toy.sav")
    sites.to_csv(tmp_path / "sites.csv", index=False)
    assert run_stage(tmp_path / "out", tmp_path / "toy.sav", params=TOY_PARAMS, communities=tmp_path / "sites.csv") == 0
    processed = tmp_path / "out" / "processed"
    excl = pd.read_csv(processed / "exclusions.csv")
    assert list(excl.columns) == ["row_no", "person", "rule", "counted", "detail"]
    person_of = df.set_index("row_no")["person"]
    for rule in RULES:
        rows = excl[excl["rule"] == rule]["row_no"].astype(float)
        assert set(rows.map(person_of)) == truth[rule], rule
    later = df[df["person"].isin(truth["duplicate"])].groupby("person")["row_no"].max()
    assert set(excl.loc[excl["rule"] == "duplicate", "row_no"].astype(float)) == set(later)
    flow = pd.read_csv(processed / "sample_flow.csv").set_index("rule")
    expected = {"duplicate": 2, "speeder": 4, "straightline": 2, "attention": 3, "age_rule": 2}
    assert flow.loc[list(expected), "excluded"].to_dict() == expected
    assert flow.at["analysed", "remaining"] == len(df) - sum(expected.values())
    clean = pd.read_parquet(processed / "survey_clean.parquet").set_index("person", drop=False)
    assert clean["person"].str.fullmatch(r"P[0-9a-f]{12}").all()
    recodes = pd.read_csv(processed / "recodes.csv")
    assert recodes[["variable", "code", "reason"]].values.tolist() == [["cheerful", 7, "out_of_range"]]
    missing = pd.read_parquet(processed / "survey_missing.parquet")
    assert {("calm", "refused"), ("worried", "dont_know"), ("cheerful", "out_of_range")} <= set(
        zip(missing["variable"].astype(str), missing["reason"].astype(str)))
    assert set(clean["notes"].dropna()) == {"OK fine", "12 people"}
    md = (tmp_path / "out" / "reports" / "codebook.md").read_text(encoding="utf-8")
    for name in toy.variables:
        assert f"### `{name}`" in md
    assert "标签" not in md and "Felt worried" in md
    wb = openpyxl.load_workbook(tmp_path / "out" / "reports" / "codebook.xlsx", read_only=True)
    header = next(wb["variables"].iter_rows(values_only=True))
    assert "label_en" in header and "label_zh" not in header


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.lists(st.tuples(st.integers(1, 40), st.sampled_from(RULES)), max_size=80))
def test_flow_counts_each_record_once_under_its_first_rule(n, flags):
    flags = [(r, rule) for r, rule in set(flags) if r <= n]
    order = {rule: i for i, rule in enumerate(RULES)}
    excl = pd.DataFrame(sorted(flags, key=lambda f: (f[0], order[f[1]])), columns=["rec", "rule"])
    flow, listed = sample_flow(n, excl.assign(detail=""), "rec")
    excluded = {r for r, _ in flags}
    assert flow["remaining"].iloc[-1] == n - len(excluded)
    assert flow.loc[flow["rule"].isin(RULES), "excluded"].sum() == len(excluded)
    for rule in RULES:
        first = {r for r in excluded if min((order[x] for rr, x in flags if rr == r)) == order[rule]}
        assert flow.loc[flow["rule"] == rule, "excluded"].iloc[0] == len(first)
        assert flow.loc[flow["rule"] == rule, "flagged"].iloc[0] == sum(1 for _, x in flags if x == rule)
    assert listed["counted"].sum() == len(excluded)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 99).map(str),
                          st.text(alphabet="０１２３４５６７８９ 　人口abc", max_size=8)), min_size=1, max_size=20))
def test_normalised_text_has_no_full_width_or_padding(values):
    toy = load_instrument(TOY_INSTRUMENT)
    frame = pd.DataFrame({"notes": pd.Series(values, dtype="str")})
    out, _ = normalise_text(frame, toy)
    for before, after in zip(frame["notes"], out["notes"]):
        if isinstance(after, str):
            assert after == after.strip() and after != "" and "  " not in after
            assert not re.search("[\uff01-\uff5e\u3000]", after)
            assert after == re.sub(r"\s+", " ", unicodedata.normalize("NFKC", before)).strip()
        else:
            assert before is None or (isinstance(before, float)) or not before.strip(" \u3000")

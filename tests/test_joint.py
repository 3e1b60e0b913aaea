"""The joint display: verdict rule, the qualitative contrast, stances, quotes with the speaker's
role, the pairing of each hypothesis with a contrast of its own variables, configuration errors."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.core.config import load_params
from pipeline.core.errors import PipelineError
from pipeline.stats.joint import (direction, joint_display, parse_rows, parse_stances, parse_unpaired, pick_quotes,
                                  stance_codes, term_variables, theme_contrast, verdict)
from tests.conftest import ROOT


def test_direction_needs_the_interval_to_exclude_zero():
    assert direction(0.3, 0.1, 0.5) == 1
    assert direction(-0.3, -0.5, -0.1) == -1
    assert direction(0.3, -0.1, 0.7) == 0
    assert direction(np.nan, 0.1, 0.2) == 0


@pytest.mark.parametrize("quant, qual, expected", [
    (1, 1, "convergent"), (-1, -1, "convergent"), (-1, 1, "divergent"), (1, -1, "divergent"),
    (1, 0, "inconclusive"), (0, 1, "inconclusive"), (-1, 0, "inconclusive"), (0, 0, "inconclusive"),
])
def test_verdict_rule(quant, qual, expected):
    assert verdict(quant, qual, 1, 1) == expected
    # the rule is about agreement with the expectation, not about the sign itself
    assert verdict(-quant, -qual, -1, -1) == expected


def test_a_null_strand_never_makes_a_row_complementary():
    for quant, qual, eq, el, scope in itertools.product((-1, 0, 1), (-1, 0, 1), (-1, 1), (-1, 1), ("full", "part")):
        v = verdict(quant, qual, eq, el, scope)
        if quant == 0 or qual == 0:
            assert v == "inconclusive"
        if v == "complementary":   # only both strands supporting a claim tested in part
            assert scope == "part" and quant == eq and qual == el
    assert verdict(1, 1, 1, 1, "part") == "complementary" and verdict(1, -1, 1, 1, "part") == "divergent"


def _codes(rng, n_comm=30, per=40, effect=0.2):
    rows = []
    for c in range(n_comm):
        gov = c % 2
        p = 0.2 + effect * gov
        for u in range(per):
            interview = f"I{c:03d}{u // 10}"
            enabler = rng.random() < 0.3 + 0.4 * gov
            rows.append({"unit_id": f"{interview}:{u}:1", "interview_id": interview, "comm_id": f"C{c:03d}",
                         "gov_model": gov, "t2": int(rng.random() < p), "t4": int(rng.random() < 0.3),
                         "role": ("resident", "grid_worker")[u % 2],
                         "text": ("参加活动能攒积分，大家都来" if enabler else "开会的总是那几个老面孔，年轻人不来")
                         + "很好" * (u % 3)})
    return pd.DataFrame(rows)


def test_theme_contrast_is_the_difference_in_shares_with_a_clustered_interval():
    codes = _codes(np.random.default_rng(1))
    out = theme_contrast(codes, "t2", "gov_model", "1", ["0"], cluster="comm_id")
    shares = codes.groupby("gov_model")["t2"].mean()
    assert out["share_level"] == pytest.approx(shares[1])
    assert out["share_reference"] == pytest.approx(shares[0])
    assert out["difference"] == pytest.approx(shares[1] - shares[0])
    assert out["diff_low"] < out["difference"] < out["diff_high"]
    assert out["n_level"] + out["n_reference"] == len(codes)
    # the interval is wider than the naive one that treats units as independent
    naive = 1.96 * np.sqrt(sum(codes.groupby("gov_model")["t2"].var() / codes.groupby("gov_model").size()))
    assert (out["diff_high"] - out["diff_low"]) / 2 > 0.8 * naive


def test_theme_contrast_with_no_variation_is_flagged_not_fitted():
    codes = _codes(np.random.default_rng(2)).assign(t2=0)
    out = theme_contrast(codes, "t2", "gov_model", "1", ["0"], cluster="comm_id")
    assert np.isnan(out["difference"]) and out["status"] != "ok"


def test_quotes_come_from_the_level_one_per_interview_in_a_seeded_order():
    codes = _codes(np.random.default_rng(3))
    q1 = pick_quotes(codes, "t2", ["t2", "t4"], "gov_model", "1", n=2, seed=5)
    assert len(q1) == 2
    ids = [u for u, _, _ in q1]
    chosen = codes.set_index("unit_id").loc[ids]
    assert (chosen["gov_model"] == 1).all() and (chosen["t2"] == 1).all()
    assert chosen["interview_id"].nunique() == 2
    assert [role for _, _, role in q1] == list(chosen["role"])   # the speaker's role comes with the quote
    assert pick_quotes(codes.sample(frac=1, random_state=0), "t2", ["t2", "t4"], "gov_model", "1", n=2, seed=5) == q1
    assert pick_quotes(codes, "t2", ["t2", "t4"], "gov_model", "9", n=2) == []
    both = pick_quotes(codes, "t2", ["t2", "t4"], "gov_model", ["0", "1"], n=40)
    assert {codes.set_index("unit_id").loc[u, "gov_model"] for u, _, _ in both} == {0, 1}


STANCES = {"stances": {
    "enabler": {"theme": 4, "name": {"zh": "促进", "en": "enablers"}, "include": [{"pattern": "积分", "weight": 2}]},
    "barrier": {"theme": 4, "name": {"zh": "障碍", "en": "barriers"}, "include": ["老面孔", "那几个"]}}}


def test_stances_are_coded_within_their_theme_by_the_best_scoring_patterns():
    stances = parse_stances(STANCES, "j.yaml", [2, 4])
    texts = pd.Series(["攒积分换米面油", "总是那几个老面孔", "积分是有，可来的还是那几个老面孔", "积分", "天气不错"])
    coded = pd.Series([1, 1, 1, 0, 1])
    enabler = stance_codes(texts, coded, stances["enabler"], [stances["barrier"]])
    barrier = stance_codes(texts, coded, stances["barrier"], [stances["enabler"]])
    assert list(enabler) == [1, 0, 0, 0, 0]      # a tie (2 vs 1 + 1) is no clear stance; an uncoded unit none
    assert list(barrier) == [0, 1, 0, 0, 0]
    with pytest.raises(PipelineError, match="stance enabler: theme 7"):
        parse_stances({"stances": {"enabler": {**STANCES["stances"]["enabler"], "theme": 7}}}, "j.yaml", [2, 4])
    with pytest.raises(PipelineError, match="not a regular expression"):
        parse_stances({"stances": {"x": {"theme": 4, "include": ["(积分"]}}}, "j.yaml", [2, 4])


def test_a_stance_row_compares_the_stance_within_its_theme_and_quotes_only_that_stance():
    codes = _codes(np.random.default_rng(8)).assign(t4=1)
    hyps = pd.DataFrame([{"hypothesis": "H2", "model": "P2", "term": "gov_model", "estimate": 0.3,
                          "conf_low": 0.1, "conf_high": 0.5}])
    stances = parse_stances(STANCES, "j.yaml", [2, 4])
    rows = parse_rows({"rows": [{"hypothesis": "H2", "theme": 4, "stance": "enabler", "factor": "gov_model",
                                 "level": 1, "reference": 0}]}, "x", ["H2"], [2, 4], stances=stances)
    table = joint_display(rows, hyps, codes, {2: "t2", 4: "t4"}, {2: "治理与议事", 4: "居民参与"}, stances=stances, cluster="comm_id")
    is_enabler = codes["text"].str.contains("积分")
    shares = is_enabler.groupby(codes["gov_model"]).mean()
    assert table.loc[0, "share_level"] == pytest.approx(shares[1]) and table.loc[0, "verdict"] == "convergent"
    assert table.loc[0, "stance_label"] == "促进"
    for j in (1, 2):
        assert "积分" in table.loc[0, f"quote{j}"] and table.loc[0, f"quote{j}_role"] in {"resident", "grid_worker"}
    # a stance no unit of the level takes: no quote, and the row says how many it found
    none = parse_rows({"rows": [{"hypothesis": "H2", "theme": 4, "stance": "enabler", "factor": "gov_model",
                                 "level": 1, "reference": 0}]}, "x", ["H2"], [2, 4], stances=stances)
    empty = joint_display(none, hyps, codes.assign(text="天气不错"), {2: "t2", 4: "t4"}, {2: "a", 4: "b"}, stances=stances, cluster="comm_id")
    assert empty.loc[0, "n_quotes"] == 0 and empty.loc[0, "quote1"] == "" and empty.loc[0, "verdict"] == "inconclusive"


def test_each_row_compares_a_variable_of_its_own_hypothesis():
    hypotheses = {"H1": {"model": "I2", "term": "contact"}, "H2": {"model": "P2", "term": "gov_model"},
                  "H3": {"mediation": "indirect"}, "H4": {"model": "I2", "term": "contact:interspersed"}}
    variables = term_variables(hypotheses, {"interspersed": "comm_type == 1"}, {"x": "gov_model"})
    assert variables == {"H1": {"contact"}, "H2": {"gov_model"}, "H3": {"gov_model"},
                         "H4": {"contact", "interspersed", "comm_type"}}
    row = {"hypothesis": "H1", "theme": 2, "factor": "gov_model", "level": 1, "reference": 0}
    with pytest.raises(PipelineError, match="factor 'gov_model' is not a variable of hypothesis H1"):
        parse_rows({"rows": [row]}, "j.yaml", list(hypotheses), [2], variables)
    ok = parse_rows({"rows": [{**row, "hypothesis": "H4", "factor": "comm_type"}]}, "j.yaml", list(hypotheses), [2], variables)
    with pytest.raises(PipelineError, match="H1, H2, H3 have no row and no reason"):
        parse_unpaired({}, "j.yaml", list(hypotheses), ok)
    reasons = parse_unpaired({"unpaired": {h: {"zh": "无", "en": "none"} for h in ("H1", "H2", "H3")}}, "j.yaml",
                             list(hypotheses), ok)
    assert set(reasons) == {"H1", "H2", "H3"}
    with pytest.raises(PipelineError, match="H4 also has a row"):
        parse_unpaired({"unpaired": {"H4": "x"}}, "j.yaml", list(hypotheses), ok)


def test_configuration_errors_name_the_file_and_row():
    spec = {"rows": [{"hypothesis": "H9", "theme": 2, "factor": "gov_model", "level": 1, "reference": 0}]}
    with pytest.raises(PipelineError, match=r"j\.yaml, row 1: hypothesis 'H9'"):
        parse_rows(spec, "j.yaml", ["H1", "H2"], [1, 2])
    spec["rows"][0].update(hypothesis="H2", theme=12)
    with pytest.raises(PipelineError, match="theme 12 is not a theme"):
        parse_rows(spec, "j.yaml", ["H1", "H2"], [1, 2])
    spec["rows"][0].update(theme=2, reference=[0, 1])
    with pytest.raises(PipelineError, match="also in the reference"):
        parse_rows(spec, "j.yaml", ["H1", "H2"], [1, 2])
    spec["rows"][0].update(reference=0, expect={"quantitative": 2})
    with pytest.raises(PipelineError, match="expect.quantitative"):
        parse_rows(spec, "j.yaml", ["H1", "H2"], [1, 2])


def test_shipped_configuration_is_valid():
    spec = yaml.safe_load((ROOT / "studies" / "demo" / "joint_display.yaml").read_text(encoding="utf-8"))
    params = load_params(ROOT / "studies/demo/params.yaml")
    models = params["models"]
    stances = parse_stances(spec, "studies/demo/joint_display.yaml", list(range(1, 10)))
    rows = parse_rows(spec, "studies/demo/joint_display.yaml", list(models["hypotheses"]), list(range(1, 10)),
                      term_variables(models["hypotheses"], models["derived"], models["mediation"]), stances)
    unpaired = parse_unpaired(spec, "studies/demo/joint_display.yaml", list(models["hypotheses"]), rows)
    assert {r.hypothesis for r in rows} | set(unpaired) == set(models["hypotheses"])
    # one theme is read one way: rows of the same theme and stance expect the same direction
    expected = {}
    for r in rows:
        assert expected.setdefault((r.theme, r.stance), r.expect_qualitative) == r.expect_qualitative


def test_joint_display_rows_and_verdicts():
    codes = _codes(np.random.default_rng(4))
    hyps = pd.DataFrame([{"hypothesis": "H2", "model": "P2", "term": "gov_model", "estimate": 0.3,
                          "conf_low": 0.1, "conf_high": 0.5}])
    rows = parse_rows({"rows": [
        {"hypothesis": "H2", "theme": 2, "factor": "gov_model", "level": 1, "reference": 0},
        {"hypothesis": "H2", "theme": 4, "factor": "gov_model", "level": 1, "reference": 0,
         "expect": {"quantitative": 1, "qualitative": -1}}]}, "x", ["H2"], [2, 4])
    table = joint_display(rows, hyps, codes, {2: "t2", 4: "t4"}, {2: "治理与议事", 4: "居民参与"}, cluster="comm_id")
    assert table.loc[0, "verdict"] == "convergent"
    assert table.loc[1, "qualitative"] == 0 and table.loc[1, "verdict"] == "inconclusive"   # not complementary
    assert table.loc[0, "quote1_id"] in set(codes["unit_id"])
    assert set(itertools.chain(table["quote1"], table["quote2"])) <= set(codes["text"])
    # the second row expects less of its theme where the level holds: its quotes come from the reference
    chosen = codes.set_index("unit_id").loc[[u for u in table.loc[1, ["quote1_id", "quote2_id"]] if u]]
    assert table.loc[1, "quotes_from"] == "reference" and (chosen["gov_model"] == 0).all()

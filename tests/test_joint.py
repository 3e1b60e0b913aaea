"""The joint display: verdict rule, the qualitative contrast, quotes, configuration errors."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.core.errors import PipelineError
from pipeline.stats.joint import (direction, joint_display, parse_rows, pick_quotes, theme_contrast,
                                  verdict)
from tests.conftest import ROOT


def test_direction_needs_the_interval_to_exclude_zero():
    assert direction(0.3, 0.1, 0.5) == 1
    assert direction(-0.3, -0.5, -0.1) == -1
    assert direction(0.3, -0.1, 0.7) == 0
    assert direction(np.nan, 0.1, 0.2) == 0


@pytest.mark.parametrize("quant, qual, expected", [
    (1, 1, "convergent"), (1, 0, "complementary"), (0, 1, "complementary"), (0, 0, "inconclusive"),
    (-1, 1, "divergent"), (1, -1, "divergent"), (-1, 0, "divergent"), (-1, -1, "divergent"),
])
def test_verdict_rule(quant, qual, expected):
    assert verdict(quant, qual, 1, 1) == expected
    # the rule is about agreement with the expectation, not about the sign itself
    assert verdict(-quant, -qual, -1, -1) == expected


def _codes(rng, n_comm=30, per=40, effect=0.2):
    rows = []
    for c in range(n_comm):
        gov = c % 2
        p = 0.2 + effect * gov
        for u in range(per):
            interview = f"I{c:03d}{u // 10}"
            rows.append({"unit_id": f"{interview}:{u}:1", "interview_id": interview, "comm_id": f"C{c:03d}",
                         "gov_model": gov, "t2": int(rng.random() < p), "t4": int(rng.random() < 0.3),
                         "text": "我们社区的议事会每个月都开，大家都来" + "很好" * (u % 3)})
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
    ids = [u for u, _ in q1]
    chosen = codes.set_index("unit_id").loc[ids]
    assert (chosen["gov_model"] == 1).all() and (chosen["t2"] == 1).all()
    assert chosen["interview_id"].nunique() == 2
    assert pick_quotes(codes.sample(frac=1, random_state=0), "t2", ["t2", "t4"], "gov_model", "1", n=2, seed=5) == q1
    assert pick_quotes(codes, "t2", ["t2", "t4"], "gov_model", "9", n=2) == []


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
    params = yaml.safe_load((ROOT / "studies/demo/params.yaml").read_text(encoding="utf-8"))
    rows = parse_rows(spec, "studies/demo/joint_display.yaml", list(params["models"]["hypotheses"]), list(range(1, 10)))
    assert {r.hypothesis for r in rows} == set(params["models"]["hypotheses"])


def test_joint_display_rows_and_verdicts():
    codes = _codes(np.random.default_rng(4))
    hyps = pd.DataFrame([{"hypothesis": "H2", "model": "P2", "term": "gov_model", "estimate": 0.3,
                          "conf_low": 0.1, "conf_high": 0.5}])
    rows = parse_rows({"rows": [
        {"hypothesis": "H2", "theme": 2, "factor": "gov_model", "level": 1, "reference": 0},
        {"hypothesis": "H2", "theme": 4, "factor": "gov_model", "level": 1, "reference": 0,
         "expect": {"quantitative": 1, "qualitative": -1}}]}, "x", ["H2"], [2, 4])
    table = joint_display(rows, hyps, codes, {2: "t2", 4: "t4"}, {2: "治理与议事", 4: "居民参与"}, cluster="comm_id")
    assert list(table["verdict"]) == ["convergent", "complementary"]
    assert table.loc[0, "quote1_id"] in set(codes["unit_id"])
    assert set(itertools.chain(table["quote1"], table["quote2"])) <= set(codes["text"])

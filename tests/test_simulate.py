"""The survey part of the synthetic demo study: determinism, the .sav file, the planted truth."""
from __future__ import annotations

import copy
import hashlib

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import statsmodels.formula.api as smf

from pipeline.demo.simulate import simulate_survey, write_sav

MISSING = (-1.0, 98.0, 99.0)


def _study(params, instrument, seed=1, **overrides):
    cfg = copy.deepcopy(params["simulate"])
    cfg.update(overrides)
    return simulate_survey(cfg, instrument, np.random.default_rng([seed, 1]))


@pytest.fixture(scope="module")
def demo(params, instrument):
    return _study(params, instrument)


@pytest.fixture(scope="module")
def large(params, instrument):
    """A large draw (300 communities) for the distributional checks."""
    return _study(params, instrument, seed=7, n_communities=300)


def _index(survey: pd.DataFrame, instrument, scale: str) -> pd.Series:
    spec = instrument.scales[scale]
    items = survey[list(spec.items)].where(lambda d: d.isin([1, 2, 3, 4, 5]))
    for item in spec.reverse:
        items[item] = 6 - items[item]
    return items.mean(axis=1)


def test_same_seed_same_bytes(params, instrument, tmp_path):
    paths = []
    for name in ("a", "b"):
        study = _study(params, instrument, seed=3, n_communities=10)
        write_sav(study.survey, instrument, tmp_path / f"{name}.sav")
        paths.append(tmp_path / f"{name}.sav")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert digest[0] == digest[1]
    other = _study(params, instrument, seed=4, n_communities=10)
    write_sav(other.survey, instrument, tmp_path / "c.sav")
    assert hashlib.sha256((tmp_path / "c.sav").read_bytes()).hexdigest() != digest[0]


def test_sav_round_trip_keeps_labels_and_user_missing(demo, instrument, tmp_path):
    path = tmp_path / "survey.sav"
    write_sav(demo.survey, instrument, path)
    df, meta = pyreadstat.read_sav(path, user_missing=True)
    assert list(df.columns) == list(demo.survey.columns)
    assert meta.column_names_to_labels["F2"] == instrument.variables["F2"].label["zh"]
    assert meta.variable_value_labels["ethnicity"][2.0] == "回族"
    assert meta.variable_value_labels["F1"][98.0] == "不知道"
    assert {r["lo"] for r in meta.missing_ranges["F1"]} == set(MISSING)
    # user-missing codes survive as codes, and read as missing without user_missing
    assert (df["F1"] == 98).sum() == (demo.survey["F1"] == 98).sum() > 0
    plain, _ = pyreadstat.read_sav(path)
    assert plain["F1"].isna().sum() == demo.survey["F1"].isin(MISSING).sum()
    assert (df["D5"] == -1).sum() == (demo.survey["D5"] == -1).sum() > 0
    pd.testing.assert_series_equal(df["design_weight"], demo.survey["design_weight"], check_names=False)


def test_design_shape(demo, params):
    cfg = params["simulate"]
    comm = demo.communities
    assert len(comm) == cfg["n_communities"]
    assert set(comm["city"]) == set(cfg["cities"])
    assert comm["comm_id"].is_unique
    sizes = demo.survey.drop_duplicates("resp_id").groupby("comm_id").size()
    lo, hi = cfg["respondents_per_community"]
    assert sizes.between(lo, hi).all()
    assert set(demo.survey["comm_id"]) <= set(comm["comm_id"])
    assert demo.survey["serial"].is_unique
    assert demo.survey["submit_time"].is_monotonic_increasing


def test_weights_post_stratified_to_city_by_ethnicity(demo, params):
    cfg = params["simulate"]
    first = demo.survey.drop_duplicates("resp_id")
    city = first["comm_id"].map(demo.communities.set_index("comm_id")["city"])
    totals = first.groupby([city, first["ethnicity"]])["design_weight"].sum()
    for (c, eth), total in totals.items():
        spec = cfg["cities"][c]
        share = {1: 1 - spec["hui"] - spec["other"], 2: spec["hui"], 3: spec["other"]}[int(eth)]
        assert total == pytest.approx(spec["population"] * share, rel=1e-3)


def test_planted_problem_counts_match_rates(demo, params):
    rates = params["simulate"]["problems"]
    n = demo.truth["n_respondents"]
    planted = demo.problems[demo.problems["kind"] == "planted"]
    counts = planted.drop_duplicates(["resp_id", "problem"]).groupby("problem").size()
    for problem in ("duplicate", "speeder", "straightline", "attention", "age_rule"):
        assert counts.get(problem, 0) == round(rates[problem] * n), problem
    assert len(demo.truth["out_of_range"]) == round(rates["out_of_range"] * n)
    assert demo.truth["n_submissions"] == n + round(rates["duplicate"] * n)


def test_truth_describes_the_data(demo, instrument, params):
    survey = demo.survey.set_index("serial")
    att = instrument.attention_check
    flagged = set(demo.problems.loc[demo.problems["problem"] == "attention", "serial"])
    failed = set(survey.index[survey[att["variable"]] != att["correct"]].astype(int))
    assert flagged == failed
    grid = survey[list(instrument.straightlining_grid)]
    liners = demo.problems.loc[demo.problems["problem"] == "straightline", "serial"]
    assert (grid.loc[liners].nunique(axis=1) == 1).all()
    speeders = demo.problems.loc[demo.problems["problem"] == "speeder", "serial"]
    median = survey["duration_sec"].median()
    assert (survey.loc[speeders, "duration_sec"] < 0.3 * median).all()
    year = instrument.study["survey_year"]
    agers = demo.problems.loc[demo.problems["problem"] == "age_rule", "serial"]
    bad = (survey["age"] < 18) | ((year - survey["birth_year"] - survey["age"]).abs() > 1)
    assert set(survey.index[bad].astype(int)) == set(agers)
    dups = demo.problems.loc[demo.problems["problem"] == "duplicate", "serial"]
    first = survey.reset_index().drop_duplicates("resp_id")["serial"]
    assert not set(dups) & set(first)
    assert survey.loc[dups, "resp_id"].isin(survey.loc[first, "resp_id"]).all()
    for row in demo.truth["out_of_range"]:
        value = survey.at[row["serial"], row["variable"]]
        assert value == row["code"]
        assert not instrument.variables[row["variable"]].is_valid(value)


def test_full_width_digits_planted(demo, params):
    text = demo.survey.drop_duplicates("resp_id")["hh_size_text"]
    share = text.str.contains("[０-９]").mean()
    assert share == pytest.approx(params["simulate"]["problems"]["fullwidth"], abs=0.01)


def test_item_nonresponse_is_mar_on_age(large):
    s = large.survey
    missing = s["F1"].isin([98, 99])
    assert 0.01 < missing.mean() < 0.15
    assert missing[s["age"] >= 60].mean() > 1.5 * missing[s["age"] < 35].mean()
    assert (s["D5"] == -1).equals(s["D4"] == 0)


def test_icc_reproduced(large, params, instrument):
    """The generator's community intercepts give the configured residual ICC."""
    lat = large.latent
    groups = lat["comm_id"]
    for trait in ("identity", "participation"):
        y = lat[f"{trait}__u"] + lat[f"{trait}__e"]
        between = y.groupby(groups).mean().var()
        within = y.groupby(groups).var().mean()
        k = groups.value_counts().mean()
        icc = (between - within / k) / (between - within / k + within)
        assert icc == pytest.approx(params["simulate"]["latent"][trait]["icc"], abs=0.04), trait
    # and the observed identity index has a realistic null-model ICC
    s = large.survey.drop_duplicates("resp_id").assign(idx=lambda d: _index(d, instrument, "identity"))
    fit = s.groupby("comm_id")["idx"]
    between, within, k = fit.mean().var(), fit.var().mean(), fit.size().mean()
    icc = (between - within / k) / (between - within / k + within)
    assert 0.08 <= icc <= 0.30


def test_effect_signs(large, instrument):
    s = large.survey.drop_duplicates("resp_id").merge(large.communities, on="comm_id")
    for scale in ("contact", "participation", "identity"):
        s[scale] = _index(s, instrument, scale)
    s["interspersed"] = (s["comm_type"] == 1).astype(float)
    s["prior_nonpart"] = 1.0 - s["prior_part"]
    ident = smf.ols("identity ~ contact * interspersed + participation", data=s).fit()
    assert ident.params["contact"] > 0 and ident.pvalues["contact"] < 1e-6        # H1
    assert ident.params["participation"] > 0 and ident.pvalues["participation"] < 1e-6  # H3
    assert ident.params["contact:interspersed"] > 0                                   # H4
    part = smf.ols("participation ~ gov_model + points_scheme * prior_nonpart", data=s).fit()
    assert part.params["gov_model"] > 0 and part.pvalues["gov_model"] < 1e-6            # H2
    assert part.params["points_scheme:prior_nonpart"] > 0                             # H5


def test_noninvariance_switch(params, instrument):
    off = _study(params, instrument, seed=5, n_communities=120)
    cfg_ni = {"item": "F2", "group_value": 2, "shift": 1.0}
    on = _study(params, instrument, seed=5, n_communities=120, noninvariance=cfg_ni)

    def gap(study):
        s = study.survey.drop_duplicates("resp_id")
        f2 = s["F2"].where(s["F2"].isin([1, 2, 3, 4, 5]))
        return f2[s["ethnicity"] == 2].mean() - f2[s["ethnicity"] != 2].mean()

    assert gap(on) - gap(off) > 0.2
    # the other identity items are untouched
    pd.testing.assert_series_equal(off.survey["F3"], on.survey["F3"])


def test_unknown_term_is_a_clear_error(params, instrument):
    from pipeline.core.errors import PipelineError

    cfg = copy.deepcopy(params["simulate"])
    cfg["latent"]["identity"]["terms"]["no_such_thing"] = 1.0
    with pytest.raises(PipelineError, match="no_such_thing"):
        simulate_survey(cfg, instrument, np.random.default_rng(0))


def test_equations_are_evaluated_in_dependency_order(params, instrument):
    """The order of the latent equations in params.yaml does not matter, a cycle is an error."""
    from pipeline.core.errors import PipelineError
    from pipeline.demo.simulate import trait_order

    latent = params["simulate"]["latent"]
    reordered = dict(reversed(list(latent.items())))
    order = trait_order(reordered)
    assert order.index("contact") < order.index("identity")
    assert order.index("participation") < order.index("identity")
    assert order.index("governance") < order.index("participation")
    cyclic = {"a": {"terms": {"b": 1.0}}, "b": {"terms": {"a": 1.0}}}
    with pytest.raises(PipelineError, match="cycle"):
        trait_order(cyclic)

"""Reliability against R (psych::alpha, lavaan one-factor CFA), properties, bootstrap, degenerate input.

Reference numbers: tests/reference/psych_reliability.json, made by
tests/reference/psych_reliability.R from tests/reference/data/bfi.csv (psych::bfi). R is not
needed to run these tests.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.stats import reliability as rel
from pipeline.core.errors import PipelineError

REF_DIR = Path(__file__).resolve().parent / "reference"
REF = json.loads((REF_DIR / "psych_reliability.json").read_text(encoding="utf-8"))
BFI = pd.read_csv(REF_DIR / "data" / "bfi.csv")
SCALES = list(REF["scales"])
OMEGA_SCALES = [s for s in SCALES if "omega_cfa_complete" in REF["scales"][s]]

ALPHA_TOL = 1e-6  # closed-form statistics
OMEGA_RTOL = 1e-4  # iterative ML fit

TOTAL_FIELDS = {  # JSON name -> AlphaResult attribute
    "raw_alpha": "raw_alpha", "std_alpha": "std_alpha", "G6_smc": "g6_smc", "average_r": "average_r",
    "signal_noise": "signal_noise", "ase": "ase", "mean": "mean", "sd": "sd", "median_r": "median_r",
    "var_r": "var_r",
}


def keyed(scale: str) -> pd.DataFrame:
    spec = REF["scales"][scale]
    x = BFI[spec["items"]].astype(float)
    for item in spec["reverse_keyed_as_7_minus"]:
        x[item] = 7 - x[item]
    return x


def close(a: float, b: float | None, tol: float = ALPHA_TOL) -> bool:
    if b is None:  # R's NA
        return bool(np.isnan(a))
    return abs(a - b) <= tol


# --------------------------------------------------------------------------------------------
# alpha against psych::alpha


def test_reference_data_has_missing_values_so_pairwise_handling_is_exercised():
    for scale in SCALES:
        x = keyed(scale)
        assert x.isna().any().all(), scale
        assert len(x.dropna()) < len(x)


@pytest.mark.parametrize("scale", SCALES)
def test_alpha_totals_match_psych(scale):
    ref = REF["scales"][scale]["alpha"]
    res = rel.cronbach_alpha(keyed(scale))
    assert res.status == "ok" and res.ok
    assert res.n_rows == REF["scales"][scale]["n_rows"]
    for name, attr in TOTAL_FIELDS.items():
        assert close(getattr(res, attr), ref["total"][name]), (name, getattr(res, attr), ref["total"][name])
    assert close(res.feldt_lower, ref["feldt"]["lower"])
    assert close(res.feldt_upper, ref["feldt"]["upper"])


@pytest.mark.parametrize("scale", SCALES)
def test_item_statistics_match_psych(scale):
    ref = REF["scales"][scale]["alpha"]["item_stats"]
    stats = rel.cronbach_alpha(keyed(scale)).item_stats
    assert list(stats.columns) == list(rel.ITEM_STATS_COLUMNS)
    for col, values in ref.items():
        for item, want in values.items():
            assert close(stats.loc[item, col], want), (col, item, stats.loc[item, col], want)


@pytest.mark.parametrize("scale", [s for s in SCALES if len(REF["scales"][s]["items"]) > 2])
def test_alpha_if_item_deleted_matches_psych(scale):
    ref = REF["scales"][scale]["alpha"]["alpha_drop"]
    drop = rel.cronbach_alpha(keyed(scale)).alpha_drop
    assert list(drop.columns) == list(rel.ALPHA_DROP_COLUMNS)
    for col, values in ref.items():
        ours = "g6_smc" if col == "G6_smc" else col
        for item, want in values.items():
            assert close(drop.loc[item, ours], want), (col, item, drop.loc[item, ours], want)


def test_two_items_alpha_if_deleted_is_nan_not_psychs_ratio():
    res = rel.cronbach_alpha(keyed("agreeableness_two_items"))
    assert res.ok
    assert res.alpha_drop.isna().all().all()
    assert list(res.alpha_drop.index) == ["A2", "A3"]


def test_raw_alpha_by_hand_on_complete_data():
    x = pd.DataFrame({"a": [1, 2, 3, 4, 5.0], "b": [2, 2, 4, 4, 5.0], "c": [1, 3, 3, 5, 4.0]})
    c = x.cov().to_numpy()
    k = 3
    want = k / (k - 1) * (1 - np.trace(c) / c.sum())
    res = rel.cronbach_alpha(x)
    assert res.raw_alpha == pytest.approx(want, abs=1e-12)
    total = x.mean(axis=1)
    assert res.mean == pytest.approx(total.mean()) and res.sd == pytest.approx(total.std())


def test_pairwise_cov_matches_pandas_pairwise_covariance():
    x = keyed("agreeableness")
    cov, n = rel.pairwise_cov(x.to_numpy())
    assert np.allclose(cov, x.cov().to_numpy(), atol=1e-12, rtol=0)
    assert n[0, 1] == int((x["A1"].notna() & x["A2"].notna()).sum())
    assert n[2, 2] == int(x["A3"].notna().sum())


# --------------------------------------------------------------------------------------------
# omega against lavaan


@pytest.mark.parametrize("use", ["complete", "pairwise"])
@pytest.mark.parametrize("scale", OMEGA_SCALES)
def test_omega_matches_lavaan_one_factor_cfa(scale, use):
    ref = REF["scales"][scale][f"omega_cfa_{use}"]
    res = rel.omega_total(keyed(scale), use=use)
    assert res.status == "ok" and res.converged and not res.heywood
    assert res.n == ref["n"]
    assert res.df == ref["df"]
    assert res.omega_total == pytest.approx(ref["omega_total"], rel=OMEGA_RTOL)
    assert res.chisq == pytest.approx(ref["chisq"], rel=OMEGA_RTOL)
    assert res.fmin == pytest.approx(ref["fmin"], rel=OMEGA_RTOL)
    for item in REF["scales"][scale]["items"]:
        assert res.loadings[item] == pytest.approx(ref["loadings"][item], rel=OMEGA_RTOL)
        assert res.residual_variances[item] == pytest.approx(ref["residual_variances"][item], rel=OMEGA_RTOL)
        assert res.std_loadings[item] == pytest.approx(ref["std_loadings"][item], rel=OMEGA_RTOL)


def test_omega_formula_from_the_fitted_parameters():
    res = rel.omega_total(keyed("conscientiousness"))
    s = res.loadings.sum()
    assert res.omega_total == pytest.approx(s ** 2 / (s ** 2 + res.residual_variances.sum()), rel=1e-12)


def test_one_factor_ml_recovers_an_exact_one_factor_covariance():
    lam = np.array([0.9, 0.8, 0.7, 0.6, 1.2])
    theta = np.array([0.5, 0.6, 0.4, 0.9, 0.3])
    fit = rel.one_factor_ml(np.outer(lam, lam) + np.diag(theta))
    assert fit.converged and not fit.heywood
    assert np.allclose(fit.loadings, lam, atol=1e-6)
    assert np.allclose(fit.residual_variances, theta, atol=1e-6)
    assert fit.fmin == pytest.approx(0, abs=1e-12)


# --------------------------------------------------------------------------------------------
# properties


def _factor_data(seed: int, n: int, k: int, missing: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    x = f * rng.uniform(0.5, 1.5, size=k) + rng.normal(size=(n, k))
    x = np.round(x * 2) / 2  # survey-like coarse values
    x[rng.random((n, k)) < missing] = np.nan
    return pd.DataFrame(x, columns=[f"i{j}" for j in range(k)])


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(1, 5), min_size=3, max_size=40).filter(lambda v: len(set(v)) > 1),
       k=st.integers(2, 6))
def test_alpha_of_identical_items_is_one(values, k):
    x = pd.DataFrame({f"i{j}": np.array(values, dtype=float) for j in range(k)})
    res = rel.cronbach_alpha(x)
    assert res.ok
    assert res.raw_alpha == pytest.approx(1.0, abs=1e-10)
    assert res.std_alpha == pytest.approx(1.0, abs=1e-10)
    assert np.allclose(res.item_stats["r_drop"], 1.0, atol=1e-10)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(3, 6), shift=st.floats(-50, 50),
       scale=st.floats(0.1, 10), item=st.integers(0, 5), missing=st.sampled_from([0.0, 0.1]))
def test_alpha_and_omega_invariances(seed, k, shift, scale, item, missing):
    x = _factor_data(seed, 120, k, missing)
    base = rel.cronbach_alpha(x)
    base_omega = rel.omega_total(x)
    assert base.ok and base_omega.ok
    j = x.columns[item % k]
    shifted = x.copy()
    shifted[j] = shifted[j] + shift
    a = rel.cronbach_alpha(shifted)
    assert a.raw_alpha == pytest.approx(base.raw_alpha, abs=1e-9)
    assert a.std_alpha == pytest.approx(base.std_alpha, abs=1e-9)
    assert np.allclose(a.item_stats["r_drop"], base.item_stats["r_drop"], atol=1e-9)
    assert rel.omega_total(shifted).omega_total == pytest.approx(base_omega.omega_total, rel=1e-6)
    # a common change of unit leaves both alphas and omega alone; one item's unit only std alpha
    assert rel.cronbach_alpha(x * scale).raw_alpha == pytest.approx(base.raw_alpha, abs=1e-9)
    assert rel.omega_total(x * scale).omega_total == pytest.approx(base_omega.omega_total, rel=1e-6)
    stretched = x.copy()
    stretched[j] = stretched[j] * scale
    assert rel.cronbach_alpha(stretched).std_alpha == pytest.approx(base.std_alpha, abs=1e-9)
    # the order of the rows does not matter
    perm = x.sample(frac=1.0, random_state=seed % 1000)
    assert rel.cronbach_alpha(perm).raw_alpha == pytest.approx(base.raw_alpha, abs=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_alpha_at_most_one_and_drop_table_consistent(seed):
    x = _factor_data(seed, 80, 4, 0.05)
    res = rel.cronbach_alpha(x)
    assert res.raw_alpha <= 1 + 1e-12 and res.std_alpha <= 1 + 1e-12
    # alpha if item deleted equals alpha of the three remaining items
    for j in x.columns:
        sub = rel.cronbach_alpha(x.drop(columns=j))
        assert res.alpha_drop.loc[j, "raw_alpha"] == pytest.approx(sub.raw_alpha, abs=1e-12)


# --------------------------------------------------------------------------------------------
# cluster bootstrap


def _boot_frame() -> tuple[pd.DataFrame, pd.Series]:
    x = keyed("conscientiousness").iloc[:1200]
    clusters = pd.Series(np.arange(len(x)) // 30, index=x.index, name="community")  # 40 clusters
    return x, clusters


def test_cluster_bootstrap_is_deterministic_given_the_seed():
    x, g = _boot_frame()
    a = rel.cluster_bootstrap(x, g, rng=7, n_replications=40)
    b = rel.cluster_bootstrap(x, g, rng=np.random.default_rng(7), n_replications=40)
    for s in ("alpha", "omega"):
        assert a[s].ok, a[s].message
        assert np.array_equal(a[s].replicates, b[s].replicates)
        assert (a[s].lower, a[s].upper) == (b[s].lower, b[s].upper)
    c = rel.cluster_bootstrap(x, g, rng=8, n_replications=40)
    assert not np.array_equal(a["alpha"].replicates, c["alpha"].replicates)


def test_cluster_bootstrap_is_the_same_in_worker_processes():
    x, g = _boot_frame()
    here = rel.cluster_bootstrap(x, g, rng=7, n_replications=21)
    there = rel.cluster_bootstrap(x, g, rng=7, n_replications=21, parallel=2)
    rows = rel.cluster_bootstrap(x, pd.Series(np.arange(len(x)), index=x.index), rng=7, n_replications=21)
    rows2 = rel.cluster_bootstrap(x, pd.Series(np.arange(len(x)), index=x.index), rng=7, n_replications=21,
                                  parallel=2)
    for a, b in ((here, there), (rows, rows2)):
        for s in ("alpha", "omega"):
            assert a[s].replicates.tobytes() == b[s].replicates.tobytes()
            assert (a[s].lower, a[s].upper) == (b[s].lower, b[s].upper)


def test_cluster_bootstrap_resamples_whole_clusters_and_takes_percentiles():
    x, g = _boot_frame()
    n_rep = 30
    res = rel.cluster_bootstrap(x, g, rng=11, n_replications=n_rep, level=0.9)
    assert res.n_clusters == 40 and res.n_rows == len(x)
    # replay the documented draw: n_clusters cluster indices (sorted ids) with replacement
    gen = np.random.default_rng(11)
    ids = np.sort(g.unique())
    for b in range(3):
        drawn = gen.integers(0, len(ids), size=len(ids))
        rows = np.concatenate([np.flatnonzero(g.to_numpy() == ids[d]) for d in drawn])
        xb = x.iloc[rows].reset_index(drop=True)
        assert res["alpha"].replicates[b] == pytest.approx(rel.cronbach_alpha(xb).raw_alpha, abs=1e-12)
        assert res["omega"].replicates[b] == pytest.approx(rel.omega_total(xb).omega_total, rel=1e-8)
    for s in ("alpha", "omega"):
        iv = res[s]
        assert iv.n_replications == n_rep and iv.n_failed == 0
        assert iv.lower == pytest.approx(np.quantile(iv.replicates, 0.05))
        assert iv.upper == pytest.approx(np.quantile(iv.replicates, 0.95))
        assert iv.lower < iv.estimate < iv.upper
    assert res["alpha"].estimate == pytest.approx(rel.cronbach_alpha(x).raw_alpha)


def test_cluster_bootstrap_counts_degenerate_replications():
    # one cluster holds the only variation of item c: resamples without it fail
    x = pd.DataFrame({"a": [1.0, 2, 3, 4, 5, 6, 1, 2], "b": [2.0, 2, 3, 5, 5, 6, 1, 3],
                      "c": [3.0, 3, 3, 3, 3, 3, 1, 5]})
    g = pd.Series([0, 0, 1, 1, 2, 2, 3, 3])
    res = rel.cluster_bootstrap(x, g, rng=1, n_replications=50, statistics=("alpha",))
    iv = res["alpha"]
    assert 0 < iv.n_failed < 50
    assert np.isnan(iv.replicates).sum() == iv.n_failed
    assert "degenerate" in iv.message


def test_cluster_bootstrap_degenerate_inputs():
    x, g = _boot_frame()
    one = rel.cluster_bootstrap(x, pd.Series(0, index=x.index), rng=1, n_replications=5)
    assert one["alpha"].status == "too_few_clusters" and np.isnan(one["alpha"].lower)
    flat = x.assign(C1=3.0)
    res = rel.cluster_bootstrap(flat, g, rng=1, n_replications=5)
    assert res["alpha"].status == "constant_item" and "C1" in res["alpha"].message
    assert res["omega"].status == "constant_item"
    with pytest.raises(PipelineError, match="index"):
        rel.cluster_bootstrap(x, g.reset_index(drop=True).iloc[::-1], rng=1, n_replications=5)
    with pytest.raises(PipelineError, match="cluster id"):
        rel.cluster_bootstrap(x, g.where(g != 3), rng=1, n_replications=5)
    with pytest.raises(PipelineError, match="never None"):
        rel.cluster_bootstrap(x, g, rng=None, n_replications=5)  # type: ignore[arg-type]
    with pytest.raises(PipelineError, match="unknown statistics"):
        rel.cluster_bootstrap(x, g, rng=1, n_replications=5, statistics=("beta",))


# --------------------------------------------------------------------------------------------
# degenerate input: a status and a message, NaN numbers, no exception


def _assert_failed(res, status: str, text: str | None = None) -> None:
    assert res.status == status and not res.ok
    assert res.message
    if text:
        assert text in res.message
    value = res.raw_alpha if isinstance(res, rel.AlphaResult) else res.omega_total
    assert np.isnan(value)


def test_one_item():
    x = pd.DataFrame({"a": [1.0, 2, 3]})
    _assert_failed(rel.cronbach_alpha(x), "too_few_items")
    _assert_failed(rel.omega_total(x), "not_identified")


def test_two_items_omega_not_identified():
    _assert_failed(rel.omega_total(keyed("agreeableness_two_items")), "not_identified")


def test_constant_item():
    x = keyed("agreeableness").assign(A4=4.0)
    _assert_failed(rel.cronbach_alpha(x), "constant_item", "A4")
    _assert_failed(rel.omega_total(x), "constant_item", "A4")


def test_all_missing_item():
    x = keyed("agreeableness").assign(A2=np.nan)
    _assert_failed(rel.cronbach_alpha(x), "all_missing_item", "A2")
    _assert_failed(rel.omega_total(x), "all_missing_item", "A2")


def test_too_few_cases():
    x = keyed("agreeableness").dropna().iloc[:2]
    _assert_failed(rel.cronbach_alpha(x), "too_few_cases")
    _assert_failed(rel.omega_total(x), "too_few_cases")
    _assert_failed(rel.omega_total(keyed("agreeableness").dropna().iloc[:8]), "too_few_cases")


def test_items_never_answered_together():
    x = pd.DataFrame({"a": [1.0, 2, 3, 4, np.nan, np.nan, np.nan, np.nan],
                      "b": [np.nan, np.nan, np.nan, np.nan, 1.0, 2, 4, 3],
                      "c": [1.0, 3, 2, 4, 2, 1, 4, 3]})
    _assert_failed(rel.cronbach_alpha(x), "too_few_cases", "a and b")
    _assert_failed(rel.omega_total(x, use="pairwise", min_n=3), "too_few_cases")


def test_pairwise_covariance_not_positive_definite():
    rng = np.random.default_rng(3)
    a, b, c = rng.normal(size=(3, 30))
    noise = rng.normal(scale=0.05, size=(3, 30))
    nan = np.full(30, np.nan)
    x = pd.DataFrame({
        "x1": np.concatenate([a + noise[0], nan, c]),
        "x2": np.concatenate([a, b + noise[1], nan]),
        "x3": np.concatenate([nan, b, -c + noise[2]]),
    })
    _assert_failed(rel.omega_total(x, use="pairwise"), "not_positive_definite")
    _assert_failed(rel.omega_total(x, use="complete"), "too_few_cases")


def test_infinite_values():
    x = keyed("agreeableness").copy()
    x.iloc[0, 1] = np.inf
    _assert_failed(rel.cronbach_alpha(x), "invalid_values", "A2")
    _assert_failed(rel.omega_total(x), "invalid_values", "A2")


def test_heywood_case_is_flagged():
    rng = np.random.default_rng(5)
    f = rng.normal(size=400)
    x = pd.DataFrame({"a": f, "b": f + rng.normal(scale=0.01, size=400),
                      "c": 0.3 * f + rng.normal(size=400), "d": 0.3 * f + rng.normal(size=400)})
    res = rel.omega_total(x)
    assert res.ok and res.heywood
    assert any("Heywood" in w for w in res.warnings)


def test_negative_item_is_warned_about():
    x = keyed("agreeableness").assign(A1=lambda d: 7 - d["A1"])  # undo the reverse keying
    res = rel.cronbach_alpha(x)
    assert res.ok and any("A1" in w for w in res.warnings)


def test_wholly_unanswered_rows_count_in_n_as_in_psych_with_a_warning():
    x = keyed("conscientiousness")
    padded = pd.concat([x, pd.DataFrame(np.nan, index=range(10_000, 10_050), columns=x.columns)])
    a, b = rel.cronbach_alpha(x), rel.cronbach_alpha(padded)
    assert b.n_rows == a.n_rows + 50
    assert b.raw_alpha == pytest.approx(a.raw_alpha, abs=1e-12) and b.mean == pytest.approx(a.mean, abs=1e-12)
    assert b.ase == pytest.approx(a.ase * np.sqrt(a.n_rows / b.n_rows), rel=1e-12)
    assert any("50 rows answer none" in w for w in b.warnings) and not a.warnings


def test_not_item_data_raises_pipeline_error():
    with pytest.raises(PipelineError, match="not numeric"):
        rel.cronbach_alpha(pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]}))
    with pytest.raises(PipelineError, match="DataFrame"):
        rel.cronbach_alpha(np.zeros((3, 3)))  # type: ignore[arg-type]
    with pytest.raises(PipelineError, match="use must be"):
        rel.omega_total(keyed("agreeableness"), use="listwise")  # type: ignore[arg-type]


def _omega_value(x, use, min_n, start=None):
    """Omega total of one resample, NaN when degenerate (as the bootstrap's replications)."""
    cov, n = rel._omega_cov(x, use)
    status, _, fit = rel._omega_from_cov(cov, n, tuple(str(j) for j in range(x.shape[1])), min_n, start)
    if status != "ok" or fit is None:
        return np.nan
    s = fit.loadings.sum()
    return float(s ** 2 / (s ** 2 + fit.residual_variances.sum()))


@pytest.mark.parametrize("loadings,use,min_warm", [((0.8, 0.7, 0.6, 0.5, 0.4), "complete", 55),
                                                   ((0.9, 0.3, 0.3, 0.2), "pairwise", 40),
                                                   ((0.99, 0.95, 0.2), "complete", 0)])   # near a Heywood case
def test_bootstrap_omega_from_the_full_datas_fit_is_the_same_number(loadings, use, min_warm):
    """The bootstrap's omega fits start from the full data's uniquenesses (Newton's method alone,
    rel._warm_uniquenesses) instead of the optimiser: the same omega, bit for bit, on every
    resample; where the warm start is not sure (a Heywood case, no convergence) the optimiser's
    path is taken."""
    rng = np.random.default_rng(7)
    lam = np.array(loadings)
    n = 400
    x = rng.standard_normal((n, 1)) * lam + rng.standard_normal((n, len(lam))) * np.sqrt(1 - lam ** 2)
    x = np.round(x * 2) / 2                              # Likert-like ties
    if use == "pairwise":
        x[rng.random(x.shape) < 0.05] = np.nan
    start = rel._full_uniquenesses(x, use, 10)
    assert start is not None
    warm = 0
    for _ in range(60):
        xb = x[rng.integers(0, n, size=n)]
        cold = _omega_value(xb, use, 10)
        assert _omega_value(xb, use, 10, start) == cold or (np.isnan(cold) and np.isnan(_omega_value(xb, use, 10, start)))
        cov, _ = rel._omega_cov(xb, use)
        sd = np.sqrt(np.diag(cov))
        warm += rel._warm_uniquenesses(start, cov / np.outer(sd, sd)) is not None
    assert warm >= min_warm                              # the warm path is the one mostly taken
    heywood = start.copy()
    heywood[0] = rel._PSI_LOWER
    assert rel._warm_uniquenesses(heywood, np.eye(len(lam))) is None


@pytest.mark.parametrize("loadings,use", [((0.8, 0.7, 0.6, 0.5, 0.4), "complete"), ((0.9, 0.3, 0.3, 0.2), "pairwise"),
                                           ((0.99, 0.95, 0.2), "complete"), ((0.6, 0.1, 0.05), "complete")])
def test_warm_starts_taken_together_are_those_taken_one_by_one(loadings, use):
    """warm_uniquenesses_many (the bootstrap's Newton steps of all resamples in one stack of
    eigh/solve calls) gives, bit for bit, what _warm_uniquenesses gives for each resample alone,
    None (no sure warm start: a step out of bounds, no convergence, not a minimum) included."""
    rng = np.random.default_rng(11)
    lam = np.array(loadings)
    n = 150
    x = rng.standard_normal((n, 1)) * lam + rng.standard_normal((n, len(lam))) * np.sqrt(1 - lam ** 2)
    x = np.round(x * 2) / 2
    if use == "pairwise":
        x[rng.random(x.shape) < 0.05] = np.nan
    start = rel._full_uniquenesses(x, use, 10)
    assert start is not None
    rs = []
    for _ in range(80):
        cov, _ = rel._omega_cov(x[rng.integers(0, n, size=n)], use)
        sd = np.sqrt(np.diag(cov))
        rs.append(cov / np.outer(sd, sd))
    together = rel.warm_uniquenesses_many(start, np.stack(rs))
    alone = [rel._warm_uniquenesses(start, r) for r in rs]
    assert [a is None for a in alone] == [t is None for t in together]
    assert all(a is None or np.array_equal(a, t) for a, t in zip(alone, together))
    assert sum(a is not None for a in alone) >= 10 or loadings[0] > 0.95 or loadings[1] < 0.2
    heywood = start.copy()
    heywood[0] = rel._PSI_LOWER
    assert rel.warm_uniquenesses_many(heywood, np.stack(rs[:3])) == [None, None, None]


@pytest.mark.parametrize("use", ["complete", "pairwise"])
@pytest.mark.parametrize("per_row", [False, True])
def test_bootstrap_replications_from_cluster_sums_equal_the_stacked_rows(use, per_row):
    """A replication is computed from the clusters' sums (pipeline.stats.clustermoments), not from
    its stacked rows: replay resamples row by row, with missing answers, unequal clusters, values
    whose sums are not exact in binary (tenths) and an item that is constant in the resamples without one row:
    the same alpha and omega to 1e-12, and NaN exactly where the stacked rows are degenerate."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 9, size=25)
    g = np.repeat(np.arange(25), sizes)
    n = len(g)
    f = rng.standard_normal(n)
    x = np.column_stack([np.round(f * 0.7 + rng.standard_normal(n) * 0.6, 1) + 0.1 for _ in range(4)])
    x[rng.random(x.shape) < 0.08] = np.nan
    x[:, 3] = 0.3
    x[np.flatnonzero(g == 24)[0], :] = [1.1, 0.9, 1.3, 1.3]   # item 4 varies in one row (of the last cluster)
    items = pd.DataFrame(x, columns=list("abcd"))
    clusters = pd.Series(np.arange(n) if per_row else g)
    res = rel.cluster_bootstrap(items, clusters, rng=5, n_replications=60, omega_use=use)
    gen = np.random.default_rng(5)
    n_clusters = n if per_row else 25
    degenerate = 0
    for b in range(60):
        drawn = gen.integers(0, n_clusters, size=n_clusters)
        rows = drawn if per_row else np.concatenate([np.flatnonzero(g == d) for d in drawn])
        xb = x[rows]
        used = xb[~np.isnan(xb).any(axis=1)] if use == "complete" else xb
        flat = any(np.nanmin(c) == np.nanmax(c) for c in used.T if (~np.isnan(c)).any())
        # an item that is one value (0.3) in the resample has no variance: the stacked rows' sums
        # may leave 1e-33 of it (0.3 is not exact in binary), the clusters' bounds say zero
        alpha = np.nan if any(np.nanmin(c) == np.nanmax(c) for c in xb.T) else rel._raw_alpha_of(*rel.pairwise_cov(xb))
        omega = np.nan if flat else _omega_value(xb, use, 10, rel._full_uniquenesses(x, use, 10))
        for got, want in ((res["alpha"].replicates[b], alpha), (res["omega"].replicates[b], omega)):
            assert np.isnan(got) == np.isnan(want), (b, got, want)
            if not np.isnan(want):
                assert got == pytest.approx(want, abs=1e-12)
        degenerate += np.isnan(alpha)
    assert 0 < degenerate < 60                          # the constant-item resamples were met

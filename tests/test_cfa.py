"""pipeline.stats.cfa against lavaan 0.6-14 (tests/reference/lavaan_cfa.R -> lavaan_cfa.json) on lavaan's
HolzingerSwineford1939 data, plus simulation, invariance search and degenerate-input checks.

Tolerances: 1e-4 relative for everything that comes out of the optimiser (estimates, SEs,
std.all, chi-square, CFI, TLI, RMSEA, SRMR, logl, ...), 1e-6 for closed-form quantities (N-divisor
sample moments, baseline chi-square, HTMT from a given correlation matrix).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.stats import cfa, cfa_measures, cfa_model, invariance, validity
from pipeline.core.errors import PipelineError

REF_DIR = Path(__file__).resolve().parent / "reference"
REF = json.loads((REF_DIR / "lavaan_cfa.json").read_text())
ITEMS = [f"x{i}" for i in range(1, 10)]
F3 = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}
F1 = {"g": ITEMS}
SCALAR = ("loadings", "intercepts")

MODELS = {
    "three_factor": dict(factors=F3),
    "three_factor_means": dict(factors=F3, meanstructure=True),
    "one_factor": dict(factors=F1),
    "just_identified": dict(factors={"visual": ["x1", "x2", "x3"]}),
    "configural": dict(factors=F3, group="school"),
    "metric": dict(factors=F3, group="school", equal=("loadings",)),
    "scalar": dict(factors=F3, group="school", equal=SCALAR),
    "partial_x3": dict(factors=F3, group="school", equal=SCALAR, free_intercepts=("x3",)),
    "partial_x3_x7": dict(factors=F3, group="school", equal=SCALAR, free_intercepts=("x3", "x7")),
    "strict": dict(factors=F3, group="school", equal=(*SCALAR, "residuals")),
}
ITERATIVE = ("chisq", "fmin", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue",
             "srmr", "srmr_bentler_nomean", "logl", "aic", "bic", "pvalue")
EXACT = ("npar", "df", "baseline.df", "ntotal")
CLOSED_FORM = ("baseline.chisq", "unrestricted.logl")
RTOL = 1e-4
RTOL_CLOSED = 1e-6


def _num(v) -> float:
    return np.nan if v is None or v == "NA" else float(v)


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / "HolzingerSwineford1939.csv")


@pytest.fixture(scope="module")
def fits(hs) -> dict[str, cfa.CFAResult]:
    return {name: cfa.fit_cfa(hs, **kw) for name, kw in MODELS.items()}


def _close(mine: float, ref: float, rtol: float, atol: float = 1e-9) -> bool:
    if np.isnan(ref):
        return bool(np.isnan(mine))
    return abs(mine - ref) <= rtol * abs(ref) + atol


# ---------------------------------------------------------------------------------------------
# lavaan reference


def test_reference_provenance():
    meta = REF["meta"]
    assert meta["lavaan_version"] == "0.6.14"
    assert "Holzinger" in meta["data"]["citation"] and meta["data"]["n"] == 301
    assert set(MODELS) == set(REF["models"])


def test_sample_moments_use_n_divisor(hs):
    mean, cov = cfa.sample_moments(hs, ITEMS)
    np.testing.assert_allclose(cov, np.array(REF["sample"]["cov"]), rtol=RTOL_CLOSED)
    np.testing.assert_allclose(mean, np.array(REF["sample"]["mean"]), rtol=RTOL_CLOSED)
    for label in ("Pasteur", "Grant-White"):
        m, c = cfa.sample_moments(hs[hs["school"] == label], ITEMS)
        np.testing.assert_allclose(c, np.array(REF["sample"]["cov_by_group"][label]), rtol=RTOL_CLOSED)
        np.testing.assert_allclose(m, np.array(REF["sample"]["mean_by_group"][label]), rtol=RTOL_CLOSED)
    # and not the N - 1 divisor
    assert not np.allclose(cov, hs[ITEMS].cov().to_numpy(), rtol=1e-4)


@pytest.mark.parametrize("name", list(MODELS))
def test_fit_measures_match_lavaan(fits, name):
    res, ref = fits[name], REF["models"][name]
    assert res.ok, res.message
    assert res.converged and ref["converged"]
    assert list(res.groups) == ([cfa.SINGLE_GROUP] if ref["group"] is None else ref["group_labels"])
    assert list(res.n_by_group.values()) == ref["nobs"]
    assert res.meanstructure == ref["meanstructure"]
    for k in EXACT:
        assert res[k] == _num(ref["fit"][k]), k
    for k in CLOSED_FORM:
        assert _close(res[k], _num(ref["fit"][k]), RTOL_CLOSED), (k, res[k], ref["fit"][k])
    for k in ITERATIVE:
        # a just-identified model has chisq ~ 0 and SRMR ~ 0: compare those absolutely
        atol = 1e-6 if ref["fit"]["df"] == 0 else 1e-9
        assert _close(res[k], _num(ref["fit"][k]), RTOL, atol), (k, res[k], ref["fit"][k])
    # lavaan's own default (nlminb) fit agrees to the same tolerance
    for k in ("chisq", "cfi", "tli", "rmsea", "srmr"):
        atol = 1e-6 if ref["fit"]["df"] == 0 else 1e-9
        assert _close(res[k], _num(ref["fit_default"][k]), RTOL, atol), (k, res[k], ref["fit_default"][k])


@pytest.mark.parametrize("name", list(MODELS))
def test_estimates_match_lavaan(fits, name):
    res, ref = fits[name], REF["models"][name]
    est = res.estimates
    assert list(est.columns) == list(cfa_measures.ESTIMATE_COLUMNS)
    assert len(est) == len(ref["estimates"])
    keyed = est.set_index(["lhs", "op", "rhs", "group"])
    assert keyed.index.is_unique
    for e in ref["estimates"]:
        group = e["group_label"] or cfa.SINGLE_GROUP
        row = keyed.loc[(e["lhs"], e["op"], e["rhs"], group)]
        for col in ("est", "se", "std_all"):
            # parameters that are zero (fixed latent means) or ~0 need an absolute floor
            assert _close(row[col], e[col], RTOL, atol=1e-7), (name, e, col, row[col])
        if e["z"] is None:
            assert not row["free"] and np.isnan(row["z"]) and row["se"] == 0
        else:
            assert row["free"]
            assert _close(row["z"], e["z"], RTOL, atol=1e-6)
            assert _close(row["pvalue"], e["pvalue"], RTOL, atol=1e-12)


def test_equality_constraints_share_parameters(fits):
    est = fits["scalar"].estimates
    free = est[est["free"]]
    by_id = free.groupby("par_id")["group"].nunique()
    shared = free[free["par_id"].isin(by_id[by_id == 2].index)]
    # 6 free loadings and 9 intercepts are shared by the two groups
    assert sorted(shared.groupby("op")["par_id"].nunique().items()) == [("=~", 6), ("~1", 9)]
    lm = est[(est["op"] == "~1") & est["lhs"].isin(F3)]
    assert (lm.loc[lm["group"] == "Pasteur", "est"] == 0).all()
    assert lm.loc[lm["group"] == "Grant-White", "free"].all()
    conf = fits["configural"].estimates
    assert not conf[(conf["op"] == "~1") & conf["lhs"].isin(F3)]["free"].any()


def test_lr_test_matches_lavTestLRT(fits):
    ref = {r["model"]: r for r in REF["lrt_configural_metric_scalar"]}
    for restricted, general in (("metric", "configural"), ("scalar", "metric")):
        t = invariance.lr_test(fits[restricted], fits[general])
        r = ref[restricted]
        assert t["df_diff"] == r["df_diff"]
        assert _close(t["chisq_diff"], r["chisq_diff"], RTOL)
        assert _close(t["pvalue_diff"], r["pvalue"], RTOL, atol=1e-12)
        assert t["delta_cfi"] == pytest.approx(fits[restricted]["cfi"] - fits[general]["cfi"])


def test_composite_reliability_and_ave(fits):
    rel = validity.composite_reliability(fits["three_factor"]).set_index("factor")
    for r in REF["cr_ave_three_factor"]:
        assert _close(rel.loc[r["factor"], "cr"], r["cr"], RTOL)
        assert _close(rel.loc[r["factor"], "ave"], r["ave"], RTOL)
    assert np.allclose(rel["sqrt_ave"] ** 2, rel["ave"])


def test_fornell_larcker(fits):
    fl = validity.fornell_larcker(fits["three_factor"])
    assert len(fl) == 3
    ref = {(e["lhs"], e["rhs"]): e["std_all"] for e in REF["models"]["three_factor"]["estimates"]
           if e["op"] == "~~" and e["lhs"] != e["rhs"] and e["lhs"] in F3}
    for _, row in fl.iterrows():
        assert _close(row["r"], ref[(row["factor1"], row["factor2"])], RTOL)
        assert row["holds"] == (abs(row["r"]) < min(row["sqrt_ave1"], row["sqrt_ave2"]))
    # visual's sqrt(AVE) is ~0.66 and its correlation with textual ~0.46: the criterion holds
    assert fl["holds"].all()


def test_htmt_from_correlation_matrix(hs):
    corr = pd.DataFrame(REF["htmt"]["correlation"], index=ITEMS, columns=ITEMS)
    np.testing.assert_allclose(hs[ITEMS].corr().to_numpy(), corr.to_numpy(), rtol=RTOL_CLOSED)
    h = validity.htmt(corr, F3)
    assert list(h.index) == REF["htmt"]["factors"]
    np.testing.assert_allclose(h.to_numpy(), np.array(REF["htmt"]["matrix"]), rtol=RTOL_CLOSED)
    # by hand for one pair
    r = corr.abs()
    hetero = r.loc[F3["visual"], F3["speed"]].to_numpy().mean()
    mono = [r.loc[F3[f], F3[f]].to_numpy()[np.triu_indices(3, 1)].mean() for f in ("visual", "speed")]
    assert h.loc["visual", "speed"] == pytest.approx(hetero / math.sqrt(mono[0] * mono[1]), rel=1e-12)
    # a single-item factor has no monotrait correlations
    assert np.isnan(validity.htmt(corr, {"a": ["x1"], "b": ["x2", "x3"]}).loc["a", "b"])


def test_gradient_is_the_derivative_of_fmin(hs):
    """The analytic gradient against central differences, at a point away from the optimum."""
    indicators, items = cfa_model._normalise_factors(F3)
    labels, blocks, _ = cfa._prepare(hs, items, "school")
    covs = [np.cov(b.T, bias=True) for b in blocks]
    mom = cfa_model._Moments(tuple(covs), tuple(b.mean(axis=0) for b in blocks), tuple(len(b) for b in blocks),
                       tuple(float(np.linalg.slogdet(c)[1]) for c in covs))
    spec = cfa_model._build_spec(indicators, items, len(labels), True, SCALAR, ("x3",))
    obj = cfa_model._Objective(cfa_model._Model(spec), mom)
    x = cfa._start_values(spec, mom) * 1.05 + 0.01
    g = obj.jac(x)
    h = 1e-6
    num = np.array([(obj.fun(x + h * e) - obj.fun(x - h * e)) / (2 * h) for e in np.eye(len(x))])
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)
    # at lavaan's estimates the objective is lavaan's fmin and the gradient vanishes
    fit = cfa.fit_cfa(hs, F3, group="school", equal=SCALAR, free_intercepts=("x3",))
    ref = REF["models"]["partial_x3"]
    xr = np.zeros(spec.n_free)
    keyed = fit.estimates.set_index(["lhs", "op", "rhs", "group"])
    for e in ref["estimates"]:
        row = keyed.loc[(e["lhs"], e["op"], e["rhs"], e["group_label"])]
        if row["free"]:
            xr[int(row["par_id"])] = e["est"]
    assert obj.fun(xr) == pytest.approx(ref["fit"]["fmin"], rel=1e-9)
    assert np.max(np.abs(obj.jac(xr))) < 1e-5


# ---------------------------------------------------------------------------------------------
# invariance


def test_measurement_invariance_on_holzinger_swineford(hs):
    inv = invariance.measurement_invariance(hs, F3, "school", max_free_intercepts=3)
    assert inv.ok
    tab = inv.table.set_index("model")
    for name in ("configural", "metric", "scalar"):
        assert _close(tab.loc[name, "chisq"], REF["models"][name]["fit"]["chisq"], RTOL)
        assert _close(tab.loc[name, "cfi"], REF["models"][name]["fit"]["cfi"], RTOL)
    assert tab.loc["metric", "holds"] and not tab.loc["scalar", "holds"]
    # the search frees x3 first: lavTestScore's largest univariate statistic among the
    # intercept constraints of the scalar model, and the largest refit chi-square drop in R
    score = [s for s in REF["score_test_scalar"] if s["parameter"].endswith("~1")]
    top_score = max(score, key=lambda s: s["X2"])["parameter"].split()[0]
    top_lr = max(REF["free_one_intercept"], key=lambda s: s["chisq_drop"])["item"]
    assert inv.freed_intercepts[0] == top_score == top_lr == "x3"
    step1 = inv.search[inv.search["step"] == 1].set_index("item")
    for r in REF["free_one_intercept"]:
        assert _close(step1.loc[r["item"], "chisq_drop"], r["chisq_drop"], RTOL, atol=1e-6)
    # x3 alone is not enough (delta CFI -0.018); x3 and x7 restore it, as lavaan's fits say
    assert inv.freed_intercepts == ("x3", "x7")
    assert inv.level == "partial_scalar"
    assert _close(tab.loc["partial_scalar_2", "chisq"], REF["models"]["partial_x3_x7"]["fit"]["chisq"], RTOL)
    assert not tab.loc["partial_scalar_1", "holds"] and tab.loc["partial_scalar_2", "holds"]


def test_invariance_decision_parameters(hs):
    # with max_free_intercepts=1 the search stops after x3 and scalar invariance is rejected
    inv = invariance.measurement_invariance(hs, F3, "school", max_free_intercepts=1)
    assert inv.level == "metric" and inv.freed_intercepts == ("x3",)
    # a loose CFI rule accepts scalar invariance outright
    inv = invariance.measurement_invariance(hs, F3, "school", delta_cfi=0.05)
    assert inv.level == "scalar" and inv.freed_intercepts == ()
    # ... unless the likelihood-ratio test is also required
    inv = invariance.measurement_invariance(hs, F3, "school", delta_cfi=0.05, lrt_alpha=0.05, max_free_intercepts=0)
    assert inv.level == "metric"


def _simulate(n_per_group=(400, 400), shift=None, seed=0):
    """Two correlated factors with four items each; group 2 has latent means (0.3, -0.2)."""
    rng = np.random.default_rng(seed)
    lam = np.zeros((8, 2))
    lam[:4, 0] = [1.0, 0.8, 0.9, 0.7]
    lam[4:, 1] = [1.0, 1.2, 0.8, 0.9]
    nu = np.array([3.0, 2.5, 3.2, 2.8, 3.1, 2.9, 3.3, 2.6])
    theta = np.array([0.5, 0.6, 0.4, 0.5, 0.5, 0.4, 0.6, 0.5])
    psi = np.array([[1.0, 0.4], [0.4, 0.8]])
    frames = []
    for g, n in enumerate(n_per_group):
        alpha = np.zeros(2) if g == 0 else np.array([0.3, -0.2])
        eta = rng.multivariate_normal(alpha, psi, size=n)
        x = eta @ lam.T + nu + rng.normal(size=(n, 8)) * np.sqrt(theta)
        if shift and g == 1:
            for item, delta in shift.items():
                x[:, item] += delta
        df = pd.DataFrame(x, columns=[f"a{i}" for i in range(1, 5)] + [f"b{i}" for i in range(1, 5)])
        df["grp"] = f"g{g + 1}"
        frames.append(df)
    return pd.concat(frames, ignore_index=True), lam, theta, psi


FSIM = {"A": ["a1", "a2", "a3", "a4"], "B": ["b1", "b2", "b3", "b4"]}


def test_recovers_known_loadings():
    data, lam, theta, psi = _simulate(n_per_group=(3000,), seed=3)
    res = cfa.fit_cfa(data, FSIM)
    assert res.ok and res.fit["df"] == 19
    est = res.estimates.set_index(["lhs", "op", "rhs"])
    truth = {}
    for k, f in enumerate(FSIM):
        for j, it in enumerate(FSIM[f]):
            truth[(f, "=~", it)] = lam[4 * k + j, k]
    for i, it in enumerate([*FSIM["A"], *FSIM["B"]]):
        truth[(it, "~~", it)] = theta[i]
    truth[("A", "~~", "A")] = psi[0, 0]
    truth[("B", "~~", "B")] = psi[1, 1]
    truth[("A", "~~", "B")] = psi[0, 1]
    for key, value in truth.items():
        row = est.loc[key]
        if row["free"]:
            assert abs(row["est"] - value) < 4 * row["se"], (key, row["est"], value, row["se"])
        else:
            assert row["est"] == value == 1.0
    assert res["cfi"] > 0.99 and res["rmsea"] < 0.03
    assert not res.heywood


def test_partial_invariance_finds_planted_intercept_shift():
    data, *_ = _simulate(shift={6: 0.8}, seed=0)  # item b3 shifted in group 2
    inv = invariance.measurement_invariance(data, FSIM, "grp")
    assert inv.ok
    tab = inv.table.set_index("model")
    assert tab.loc["metric", "holds"] and not tab.loc["scalar", "holds"]
    assert inv.freed_intercepts == ("b3",)
    assert inv.level == "partial_scalar"
    partial = inv.models["partial_scalar_1"].estimates.set_index(["lhs", "op", "rhs", "group"])
    shift = partial.loc[("b3", "~1", "", "g2"), "est"] - partial.loc[("b3", "~1", "", "g1"), "est"]
    assert shift == pytest.approx(0.8, abs=0.15)
    assert partial.loc[("A", "~1", "", "g2"), "est"] == pytest.approx(0.3, abs=0.15)
    assert partial.loc[("B", "~1", "", "g2"), "est"] == pytest.approx(-0.2, abs=0.15)


def test_invariance_holds_without_a_shift():
    data, *_ = _simulate(seed=1)
    inv = invariance.measurement_invariance(data, FSIM, "grp")
    assert inv.level == "scalar" and inv.freed_intercepts == ()
    assert inv.search.empty


@settings(max_examples=8, deadline=None)
@given(scale=st.floats(min_value=0.1, max_value=20.0), item=st.sampled_from(ITEMS[1:3]))
def test_ml_is_scale_invariant(scale, item):
    """Rescaling an item rescales its loading, leaves chi-square and std.all unchanged."""
    hs = pd.read_csv(REF_DIR / "data" / "HolzingerSwineford1939.csv")
    base = cfa.fit_cfa(hs, F3)
    scaled = hs.copy()
    scaled[item] = scaled[item] * scale
    res = cfa.fit_cfa(scaled, F3)
    assert res.ok
    assert res["chisq"] == pytest.approx(base["chisq"], rel=1e-6)
    b = base.estimates.set_index(["lhs", "op", "rhs"])
    r = res.estimates.set_index(["lhs", "op", "rhs"])
    key = ("visual", "=~", item)
    assert r.loc[key, "est"] == pytest.approx(scale * b.loc[key, "est"], rel=1e-5)
    np.testing.assert_allclose(r["std_all"], b["std_all"], rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# degenerate input: a flagged result, never an exception or a silent number


def _assert_flagged(res: cfa.CFAResult, status: str) -> None:
    assert res.status == status, (res.status, res.message)
    assert not res.ok and res.message
    assert all(np.isnan(res.fit[k]) for k in cfa_measures.FIT_MEASURES)
    assert np.isnan(res["cfi"])


def test_one_indicator_factor_is_flagged(hs):
    res = cfa.fit_cfa(hs, {"visual": ["x1", "x2", "x3"], "lonely": ["x4"]})
    _assert_flagged(res, cfa.STATUS_NOT_IDENTIFIED)
    assert "lonely" in res.message
    assert validity.composite_reliability(res)["cr"].isna().all()


def test_two_indicator_single_factor_is_flagged(hs):
    _assert_flagged(cfa.fit_cfa(hs, {"f": ["x1", "x2"]}), cfa.STATUS_NOT_IDENTIFIED)


def test_constant_item_is_flagged(hs):
    d = hs.copy()
    d["x5"] = 3.0
    _assert_flagged(cfa.fit_cfa(d, F3), cfa.STATUS_CONSTANT_ITEM)
    # constant within one group only
    d = hs.copy()
    d.loc[d["school"] == "Pasteur", "x5"] = 3.0
    res = cfa.fit_cfa(d, F3, group="school")
    _assert_flagged(res, cfa.STATUS_CONSTANT_ITEM)
    assert "Pasteur" in res.message


def test_tiny_group_is_flagged(hs):
    d = hs.copy()
    d.loc[d.index[:5], "school"] = "tiny"
    res = cfa.fit_cfa(d, F3, group="school")
    _assert_flagged(res, cfa.STATUS_TOO_FEW_CASES)
    assert res.n_by_group["tiny"] == 5
    inv = invariance.measurement_invariance(d, F3, "school")
    assert inv.status == cfa.STATUS_TOO_FEW_CASES and inv.level == "none" and not inv.ok
    # a configurable minimum
    _assert_flagged(cfa.fit_cfa(hs, F3, group="school", min_group_n=200), cfa.STATUS_TOO_FEW_CASES)


def test_non_convergence_is_flagged(hs):
    res = cfa.fit_cfa(hs, F3, group="school", equal=SCALAR, max_iter=1)
    _assert_flagged(res, cfa.STATUS_NOT_CONVERGED)
    assert not res.converged


def test_collinear_items_and_infinite_values_are_flagged(hs):
    d = hs.copy()
    d["x10"] = d["x1"] + d["x2"]
    _assert_flagged(cfa.fit_cfa(d, {"a": ["x1", "x2", "x10"], "b": ["x4", "x5", "x6"]}),
                    cfa.STATUS_NOT_POSITIVE_DEFINITE)
    d = hs.copy()
    d.loc[3, "x4"] = np.inf
    _assert_flagged(cfa.fit_cfa(d, F3), cfa.STATUS_INVALID_VALUES)


def test_heywood_case_is_reported():
    # population correlations r12 = r13 = 0.85, r23 = 0.6 imply a standardised loading of
    # sqrt(0.85^2 / 0.6) > 1 for item 1, i.e. a negative residual variance
    target = np.array([[1.0, 0.85, 0.85], [0.85, 1.0, 0.6], [0.85, 0.6, 1.0]])
    rng = np.random.default_rng(5)
    z = rng.normal(size=(500, 3))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True)).T)
    x = z @ np.linalg.cholesky(target).T
    res = cfa.fit_cfa(pd.DataFrame(x, columns=["i1", "i2", "i3"]), {"f": ["i1", "i2", "i3"]})
    assert res.ok and res.heywood
    assert any("i1" in w for w in res.warnings)
    est = res.estimates.set_index(["lhs", "op", "rhs"])
    assert est.loc[("i1", "~~", "i1"), "est"] == pytest.approx(1 - 0.85 ** 2 / 0.6, abs=1e-6)


def test_listwise_deletion_reports_cases(hs):
    d = hs.copy()
    d.loc[[0, 1, 2], "x2"] = np.nan
    d.loc[200, "school"] = None
    res = cfa.fit_cfa(d, F3, group="school")
    assert res.ok
    assert res.n_dropped == 4
    assert res.n_by_group == {"Pasteur": 153, "Grant-White": 144}
    assert res["ntotal"] == 297


def test_bad_calls_raise_pipeline_error(hs):
    with pytest.raises(PipelineError):
        cfa.fit_cfa(hs, {"f": ["x1", "x2", "nope"]})
    with pytest.raises(PipelineError):
        cfa.fit_cfa(hs, F3, group="nope")
    with pytest.raises(PipelineError):
        cfa.fit_cfa(hs, F3, group="school", equal=("slopes",))
    with pytest.raises(PipelineError):
        cfa.fit_cfa(hs, F3, group="school", equal=SCALAR, free_intercepts=("x99",))
    with pytest.raises(PipelineError):
        cfa.fit_cfa(hs, {"f": ["x1", "school", "x2"]})
    with pytest.raises(PipelineError):
        cfa.fit_cfa(hs, {})

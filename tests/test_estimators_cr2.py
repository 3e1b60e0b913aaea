"""covariance: cluster_cr2 (CR2 + Satterthwaite df) against clubSandwich 0.5.8, and the
between-within degrees of freedom of mixed models (df_method: between_within).

Reference numbers: tests/reference/cr2_reference.json, written by tests/reference/cr2_reference.R
(clubSandwich::vcovCR(type = "CR2"), coef_test / conf_int(test = "Satterthwaite")) from
PetersenCL (tests/reference/data/petersen_cl.csv) and clubSandwich's SATcoaching
(tests/reference/data/satcoaching.csv). Tolerances (relative): 1e-6 for the closed-form
estimates, standard errors and covariance matrices; 1e-4 for degrees of freedom, p-values and
interval bounds.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from pipeline.core.errors import PipelineError
from pipeline.stats.covariance import COEF_COLUMNS
from pipeline.stats.fit import fit_model
from pipeline.stats.imputation import POOLED_COLUMNS
from pipeline.stats.mixed import between_within_df

REF_DIR = Path(__file__).resolve().parent / "reference"
REF = json.loads((REF_DIR / "cr2_reference.json").read_text(encoding="utf-8"))
PETERSEN = pd.read_csv(REF_DIR / "data" / "petersen_cl.csv")
PETERSEN["xbar"] = PETERSEN.groupby("firm")["x"].transform("mean")
SAT = pd.read_csv(REF_DIR / "data" / "satcoaching.csv")
R_TERMS = {"Intercept": "(Intercept)", "test[T.Verbal]": "testVerbal"}

CASES = {
    "petersen_firm": (PETERSEN, {"formula": "y ~ x", "cluster": "firm"}),
    "petersen_year": (PETERSEN, {"formula": "y ~ x", "cluster": "year"}),
    "petersen_firm_xbar": (PETERSEN, {"formula": "y ~ x + xbar", "cluster": "firm"}),
    "petersen_firm_wls": (PETERSEN, {"formula": "y ~ x", "cluster": "firm", "weights": "w"}),
    "sat_ols": (SAT, {"formula": "d ~ test + hrs + ETS", "cluster": "study"}),
    "sat_wls": (SAT, {"formula": "d ~ test + hrs + ETS", "cluster": "study", "weights": "inv_V"}),
}


def _fit(case: str, **extra):
    data, spec = CASES[case]
    return fit_model({"id": case, "covariance": "cluster_cr2", **spec, **extra}, data)


def _column(res, column: str) -> dict:
    table = res.coefficients
    return {R_TERMS.get(t, t): v for t, v in zip(table["term"], table[column])}


def _check(actual: dict, expected: dict, rel: float, what: str) -> None:
    assert set(actual) == set(expected), what
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, rel=rel, abs=0), f"{what}: {key}"


@pytest.mark.parametrize("case", list(CASES))
def test_cr2_and_satterthwaite_match_clubsandwich(case):
    ref = REF[case]
    res = _fit(case)
    assert res.fit["n_obs"] == ref["nobs"] and res.fit["n_clusters"] == ref["n_clusters"]
    _check(_column(res, "estimate"), ref["coef"], 1e-6, "coef")
    _check(_column(res, "std_error"), ref["se"], 1e-6, "CR2 se")
    _check(_column(res, "df"), ref["df"], 1e-4, "Satterthwaite df")
    _check(_column(res, "p_value"), ref["p"], 1e-4, "p")
    _check(_column(res, "conf_low"), ref["ci_low"], 1e-4, "conf_low")
    _check(_column(res, "conf_high"), ref["ci_high"], 1e-4, "conf_high")
    order = [R_TERMS.get(t, t) for t in res.vcov.index]
    assert order == ref["vcov"]["terms"]
    np.testing.assert_allclose(res.vcov.to_numpy(), np.array(ref["vcov"]["values"]), rtol=1e-6)
    assert (res.coefficients["cov_type"] == "cluster_cr2").all()
    assert list(res.coefficients.columns) == list(COEF_COLUMNS)
    assert res.fit["t_df"] == pytest.approx(min(ref["df"].values()), rel=1e-4)


def test_survey_weights_give_the_precision_weight_numbers():
    a = _fit("sat_wls")
    b = _fit("sat_wls", weight_kind="precision")
    np.testing.assert_allclose(a.coefficients["std_error"], b.coefficients["std_error"], rtol=1e-12)
    np.testing.assert_allclose(a.coefficients["df"], b.coefficients["df"], rtol=1e-10)
    # the weights' scale does not matter
    data = SAT.assign(inv_V=SAT["inv_V"] * 37.5)
    c = fit_model({"id": "scaled", "covariance": "cluster_cr2", **CASES["sat_wls"][1]}, data)
    np.testing.assert_allclose(a.coefficients["std_error"], c.coefficients["std_error"], rtol=1e-10)
    np.testing.assert_allclose(a.coefficients["df"], c.coefficients["df"], rtol=1e-8)


def test_one_observation_per_cluster_gives_hc2():
    data = PETERSEN.iloc[:400].assign(row=np.arange(400))
    res = fit_model({"id": "hc2", "formula": "y ~ x + xbar", "covariance": "cluster_cr2",
                     "cluster": "row"}, data)
    X = sm.add_constant(data[["x", "xbar"]].to_numpy())
    hc2 = sm.OLS(data["y"].to_numpy(), X).fit(cov_type="HC2")
    np.testing.assert_allclose(res.vcov.to_numpy(), hc2.cov_params(), rtol=1e-10)


def test_cr2_exceeds_cr1_for_the_cluster_level_regressor_with_few_clusters():
    cr2 = _fit("sat_ols")
    cr1 = fit_model({"id": "cr1", "covariance": "cluster", **CASES["sat_ols"][1]}, SAT)
    # the Satterthwaite df of the study-level hrs is far below G - 1
    hrs = cr2.coefficients.set_index("term").loc["hrs"]
    assert hrs["df"] < cr1.fit["n_clusters"] - 1
    assert (cr1.coefficients["df"] == cr1.fit["n_clusters"] - 1).all()


def test_df_column_for_every_kind_of_model():
    ols = fit_model({"id": "ols", "formula": "y ~ x"}, PETERSEN)
    assert (ols.coefficients["df"] == 5000 - 2).all()
    cl = fit_model({"id": "cl", "formula": "y ~ x", "cluster": "firm"}, PETERSEN)
    assert (cl.coefficients["df"] == 499).all()
    sub = PETERSEN[PETERSEN["firm"] <= 40]
    mixed = fit_model({"id": "mx", "formula": "y ~ x", "estimator": "mixed", "random": "firm"}, sub)
    assert mixed.coefficients["df"].isna().all() and mixed.fit["t_df"] is None
    assert "df" in POOLED_COLUMNS and len(set(POOLED_COLUMNS)) == len(POOLED_COLUMNS)


# ---------------------------------------------------------------------------------------------
# between-within degrees of freedom


def _tiny() -> pd.DataFrame:
    # 4 groups of sizes 3, 3, 4, 2 (N = 12); z is constant within groups, x varies within them
    g = [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4]
    z = [0.5, 0.5, 0.5, -1.0, -1.0, -1.0, 2.0, 2.0, 2.0, 2.0, 0.0, 0.0]
    x = [0.1, 1.3, -0.7, 0.4, 2.2, -1.1, 0.9, 0.3, -0.2, 1.7, -0.5, 0.8]
    rng = np.random.default_rng(3)
    u = np.repeat(rng.normal(size=4), [3, 3, 4, 2])
    y = 1 + 0.5 * np.array(x) - 0.3 * np.array(z) + u + rng.normal(size=12)
    return pd.DataFrame({"g": g, "z": z, "x": x, "y": y})


def test_between_within_rule_by_hand():
    d = _tiny()
    # between: Intercept, z (p_b = 2) -> G - p_b = 4 - 2 = 2
    # within: x, x:z (p_w = 2)        -> N - G - p_w = 12 - 4 - 2 = 6
    X = pd.DataFrame({"Intercept": 1.0, "z": d["z"], "x": d["x"], "x:z": d["x"] * d["z"]})
    np.testing.assert_array_equal(between_within_df("m", X, d["g"].to_numpy()), [2, 2, 6, 6])


def test_mixed_model_between_within_intervals():
    d = _tiny()
    spec = {"id": "bw", "formula": "y ~ z + x", "estimator": "mixed", "random": "g"}
    z = fit_model(spec, d)
    bw = fit_model({**spec, "df_method": "between_within"}, d)
    tab = bw.coefficients.set_index("term")
    # between: Intercept, z -> 4 - 2 = 2; within: x -> 12 - 4 - 1 = 7
    assert tab["df"].to_dict() == {"Intercept": 2.0, "z": 2.0, "x": 7.0}
    assert bw.fit["t_df"] == 2.0
    np.testing.assert_allclose(tab["std_error"], z.coefficients["std_error"], rtol=1e-12)
    q = stats.t.ppf(0.975, tab["df"].to_numpy())
    np.testing.assert_allclose(tab["conf_high"], tab["estimate"] + q * tab["std_error"], rtol=1e-12)
    p = 2 * stats.t.sf(np.abs(tab["statistic"]), tab["df"])
    np.testing.assert_allclose(tab["p_value"], p, rtol=1e-12)
    assert z.coefficients["df"].isna().all()


# ---------------------------------------------------------------------------------------------
# bad input


def test_cr2_without_a_cluster_names_the_model():
    with pytest.raises(PipelineError, match="model 'no_cluster'.*cluster_cr2 needs a cluster"):
        fit_model({"id": "no_cluster", "formula": "y ~ x", "covariance": "cluster_cr2"}, PETERSEN)


@pytest.mark.parametrize("spec, message", [
    ({"family": "binary_logit", "formula": "b ~ x"}, "only available for family linear"),
    ({"weights": "w", "weight_kind": "frequency"}, "not available with frequency weights"),
    ({"estimator": "mixed", "random": "firm", "cluster": None}, "not available for a mixed"),
])
def test_cr2_unsupported_combinations(spec, message):
    full = {"id": "bad_cr2", "formula": "y ~ x", "covariance": "cluster_cr2", "cluster": "firm",
            **spec}
    full = {k: v for k, v in full.items() if v is not None}
    with pytest.raises(PipelineError, match=f"model 'bad_cr2'.*{message}"):
        fit_model(full, PETERSEN.assign(b=(PETERSEN["y"] > 0).astype(int)))


@pytest.mark.parametrize("spec, message", [
    ({"estimator": "ols", "cluster": "firm", "df_method": "between_within"},
     "df_method is only used by estimator mixed"),
    ({"estimator": "mixed", "random": "firm", "df_method": "kenward_roger"}, "unknown df_method"),
])
def test_df_method_bad_input(spec, message):
    with pytest.raises(PipelineError, match=f"model 'bad_df'.*{message}"):
        fit_model({"id": "bad_df", "formula": "y ~ x", **spec}, PETERSEN)


def test_between_within_needs_enough_groups():
    d = _tiny()
    X = pd.DataFrame({"Intercept": 1.0, "z": d["z"], "z2": d["z"] ** 2, "z3": d["z"] ** 3,
                      "x": d["x"]})
    with pytest.raises(PipelineError, match="model 'few'.*not positive"):
        between_within_df("few", X, d["g"].to_numpy())


@pytest.mark.parametrize("weighted", [False, True])
def test_cr2_adjustment_by_the_small_basis_is_the_eigendecomposition_of_g(weighted):
    """E_j = X_j'W_j G_j^(-1/2) is computed in the span of X_j and W_j X_j (covariance._adjusted_design);
    check it against the n_j x n_j eigendecomposition, on clusters of 1 to 30 rows, a cluster-level
    covariate and a dummy for one cluster (G_j singular: the generalised inverse root)."""
    from pipeline.stats.covariance import _adjusted_design, _sym_power

    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(30), rng.integers(1, 31, size=30))
    n = len(g)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=30)[g], (g == 3) * 1.0, (g % 2) * 1.0])
    w = rng.uniform(0.3, 3, size=n) if weighted else np.ones(n)
    w = w / w.mean()
    B = np.linalg.inv(X.T @ (X * w[:, None]))
    Omega = B @ (X.T @ (X * (w ** 2)[:, None])) @ B
    singular = 0
    for j in range(30):
        Xj, wj = X[g == j], w[g == j]
        H = (Xj @ B @ Xj.T) * wj[None, :]
        Gj = np.eye(len(wj)) - H - H.T + Xj @ Omega @ Xj.T
        singular += np.linalg.eigvalsh((Gj + Gj.T) / 2).min() < 1e-10
        want = (Xj * wj[:, None]).T @ _sym_power(Gj, -0.5)
        np.testing.assert_allclose(_adjusted_design(Xj, wj, B, Omega, weighted), want, rtol=1e-9, atol=1e-12)
    assert singular >= 1

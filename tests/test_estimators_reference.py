"""The estimation library (pipeline.stats.fit and the modules beside it) against R: the numbers in
tests/reference/models_reference.json (lme4 1.1-31, sandwich 3.0-2, MASS 7.3-58; see
tests/reference/models_reference.R).

Tolerances are relative: 1e-6 for OLS/WLS (closed form), 1e-4 for iterative fits (mixed models,
polr, glm), whose optimisers stop at different points in R and in Python.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.stats.fit import fit_model
from pipeline.stats.multilevel import icc, lrt_random_intercept

REF_DIR = Path(__file__).resolve().parent / "reference"
REF = json.loads((REF_DIR / "models_reference.json").read_text(encoding="utf-8"))


def _check(actual: dict, expected: dict, rel: float, what: str) -> None:
    assert set(actual) == set(expected), f"{what}: terms {sorted(actual)} != {sorted(expected)}"
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, rel=rel, abs=0), f"{what}: {key}"


def _by_term(result, column: str, rename: dict[str, str] | None = None) -> dict:
    rename = rename or {}
    table = result.coefficients
    return {rename.get(t, t): v for t, v in zip(table["term"], table[column])}


# ---------------------------------------------------------------------------------------------
# OLS / WLS on PetersenCL (sandwich)

PETERSEN = pd.read_csv(REF_DIR / "data" / "petersen_cl.csv")
R_TERMS = {"Intercept": "(Intercept)"}
COV_KEYS = {"classical": "se_classical", "hc0": "se_HC0", "hc1": "se_HC1",
            "cluster": "se_CL_firm_HC1", "cluster_hc0": "se_CL_firm_HC0"}


def _petersen_spec(kind: str, covariance: str) -> dict:
    spec = {"id": f"petersen_{kind}_{covariance}", "formula": "y ~ x", "covariance": covariance}
    if covariance.startswith("cluster"):
        spec["cluster"] = "firm"
    if kind == "wls":
        # precision weights: R's lm(weights = w), where the classical variance is allowed
        spec.update(weights="w", weight_kind="precision")
    return spec


@pytest.mark.parametrize("kind", ["ols", "wls"])
@pytest.mark.parametrize("covariance", list(COV_KEYS))
def test_linear_matches_lm_and_sandwich(kind, covariance):
    ref = REF["petersen"][kind]
    res = fit_model(_petersen_spec(kind, covariance), PETERSEN)
    _check(_by_term(res, "estimate", R_TERMS), ref["coef"], 1e-6, "coef")
    _check(_by_term(res, "std_error", R_TERMS), ref[COV_KEYS[covariance]], 1e-6, covariance)
    assert res.fit["n_obs"] == ref["nobs"]
    assert res.fit["r2"] == pytest.approx(ref["r_squared"], rel=1e-6)
    assert res.fit["sigma"] == pytest.approx(ref["sigma"], rel=1e-6)
    assert (res.coefficients["cov_type"] == covariance).all()
    if covariance.startswith("cluster"):
        assert res.fit["n_clusters"] == ref["n_clusters_firm"]
        assert res.fit["t_df"] == ref["n_clusters_firm"] - 1


def test_cluster_vcov_matrix_matches_vcovCL():
    ref = REF["petersen"]["ols"]["vcov_CL_firm_HC1"]
    res = fit_model(_petersen_spec("ols", "cluster"), PETERSEN)
    np.testing.assert_allclose(res.vcov.to_numpy(), np.array(ref["values"]), rtol=1e-6)


def test_survey_weights_give_the_same_numbers_as_precision_weights_under_cluster():
    ref = REF["petersen"]["wls"]
    res = fit_model({"id": "svy", "formula": "y ~ x", "weights": "w", "cluster": "firm"}, PETERSEN)
    assert res.fit["weight_kind"] == "survey" and res.fit["estimator"] == "wls"
    _check(_by_term(res, "std_error", R_TERMS), ref["se_CL_firm_HC1"], 1e-6, "survey CR1")
    assert np.isnan(res.fit["loglik"]) and np.isnan(res.fit["aic"])


def test_ols_loglik_and_aic_follow_R():
    ref = REF["sleepstudy"]["lrt_random_intercept_vs_lm_ML"]
    data = pd.read_csv(REF_DIR / "data" / "sleepstudy.csv")
    res = fit_model({"id": "lm", "formula": "Reaction ~ Days"}, data)
    assert res.fit["loglik"] == pytest.approx(ref["logLik_lm"], rel=1e-9)
    # R's AIC for lm counts sigma: 2 coefficients + 1
    assert res.fit["aic"] == pytest.approx(-2 * ref["logLik_lm"] + 2 * 3, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# mixed models on sleepstudy (lme4)

SLEEP = pd.read_csv(REF_DIR / "data" / "sleepstudy.csv")
MIXED = {
    "intercept": {"formula": "Reaction ~ Days", "random": {"group": "Subject"}},
    "slope": {"formula": "Reaction ~ Days", "random": {"group": "Subject", "slopes": ["Days"]}},
    "null": {"formula": "Reaction ~ 1", "random": {"group": "Subject"}},
}


def _components(res) -> dict:
    out = {}
    for row in res.components.itertuples():
        t1 = "(Intercept)" if row.term1 == "Intercept" else row.term1
        if row.kind == "var":
            out[f"var_{t1}"] = row.estimate
        elif row.kind in ("cov", "cor"):
            out[f"{row.kind}_{t1}_{row.term2}"] = row.estimate
        else:
            out["residual_var"] = row.estimate
    return out


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("name", list(MIXED))
def test_mixed_matches_lmer(name, reml):
    ref = REF["sleepstudy"][f"{name}_{'REML' if reml else 'ML'}"]
    spec = {"id": f"sleep_{name}", "estimator": "mixed", "reml": reml, **MIXED[name]}
    res = fit_model(spec, SLEEP)
    assert res.converged and res.status == "ok", res.status
    _check(_by_term(res, "estimate", R_TERMS), ref["fixef"], 1e-4, "fixef")
    _check(_by_term(res, "std_error", R_TERMS), ref["se"], 1e-4, "se")
    _check(_components(res), ref["var_components"], 1e-4, "variance components")
    assert res.fit["loglik"] == pytest.approx(ref["logLik"], rel=1e-4)
    assert res.fit["n_params"] == ref["df"]
    assert res.fit["aic"] == pytest.approx(ref["AIC"], rel=1e-4)
    assert res.fit["bic"] == pytest.approx(ref["BIC"], rel=1e-4)
    assert res.fit["n_obs"] == ref["nobs"] and res.fit["n_groups"] == 18
    np.testing.assert_allclose(res.vcov.to_numpy(), np.atleast_2d(ref["vcov_fixef"]["values"]),
                               rtol=1e-4)


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_icc_of_the_null_model(reml):
    ref = REF["sleepstudy"][f"null_{'REML' if reml else 'ML'}"]
    out = icc(SLEEP, "Reaction", "Subject", reml=reml)
    assert out["icc"] == pytest.approx(ref["icc"], rel=1e-4)
    assert out["var_between"] == pytest.approx(ref["var_components"]["var_(Intercept)"], rel=1e-4)
    assert out["var_within"] == pytest.approx(ref["var_components"]["residual_var"], rel=1e-4)
    assert out["status"] == "ok"


def test_lrt_random_intercept_uses_ml_and_the_boundary_mixture():
    ref = REF["sleepstudy"]["lrt_random_intercept_vs_lm_ML"]
    # the spec asks for REML: the test must refit by ML anyway
    spec = {"id": "lrt", "estimator": "mixed", "reml": True, **MIXED["intercept"]}
    out = lrt_random_intercept(spec, SLEEP)
    assert out["loglik_single"] == pytest.approx(ref["logLik_lm"], rel=1e-6)
    assert out["loglik_mixed"] == pytest.approx(ref["logLik_lmer"], rel=1e-6)
    assert out["lr_stat"] == pytest.approx(ref["lr_stat"], rel=1e-4)
    assert out["p_chisq1"] == pytest.approx(ref["p_chisq1"], rel=1e-3)
    assert out["p_value"] == pytest.approx(ref["p_boundary_mixture"], rel=1e-3)
    assert out["p_value"] == pytest.approx(0.5 * out["p_chisq1"], rel=1e-12)


# ---------------------------------------------------------------------------------------------
# ordered logit on housing (MASS::polr, sandwich)

HOUSING_LEVELS = {"Infl": ["Low", "Medium", "High"],
                  "Type": ["Tower", "Apartment", "Atrium", "Terrace"], "Cont": ["Low", "High"]}


def _housing() -> pd.DataFrame:
    hs = pd.read_csv(REF_DIR / "data" / "housing.csv")
    hs["Sat"] = pd.Categorical(hs["Sat"], categories=["Low", "Medium", "High"], ordered=True)
    for name, levels in HOUSING_LEVELS.items():
        hs[name] = pd.Categorical(hs[name], categories=levels)
    # R's cluster: the Infl x Type x Cont cell (numbering does not matter)
    hs["cell"] = hs.groupby(["Infl", "Type", "Cont"], observed=True, sort=False).ngroup()
    return hs


HOUSING = _housing()
POLR_TERMS = {f"{v}[T.{lev}]": f"{v}{lev}" for v, levels in HOUSING_LEVELS.items()
              for lev in levels}
POLR_SPEC = {"id": "polr", "formula": "Sat ~ Infl + Type + Cont", "family": "ordered_logit",
             "weights": "Freq", "weight_kind": "frequency"}


def test_polr_coefficients_thresholds_and_ses():
    ref = REF["polr_housing"]
    res = fit_model(POLR_SPEC, HOUSING)
    assert res.converged and res.status == "ok", res.status
    est = _by_term(res, "estimate", POLR_TERMS)
    _check({k: v for k, v in est.items() if "|" not in k}, ref["coef"], 1e-4, "beta")
    _check({k: v for k, v in est.items() if "|" in k}, ref["zeta"], 1e-4, "zeta")
    _check(_by_term(res, "std_error", POLR_TERMS), ref["se"], 1e-4, "se")
    assert res.fit["loglik"] == pytest.approx(ref["logLik"], rel=1e-6)
    assert res.fit["aic"] == pytest.approx(ref["AIC"], rel=1e-6)
    assert res.fit["n_obs"] == ref["nobs_weighted"]


@pytest.mark.parametrize("covariance,key", [("hc0", "se_HC0"), ("cluster", "se_CL_cell_HC1"),
                                            ("cluster_hc0", "se_CL_cell_HC0")])
def test_polr_robust_ses_match_sandwich(covariance, key):
    ref = REF["polr_housing"]["expanded"]
    spec = {**POLR_SPEC, "id": f"polr_{covariance}", "covariance": covariance}
    if covariance.startswith("cluster"):
        spec["cluster"] = "cell"
    res = fit_model(spec, HOUSING)
    _check(_by_term(res, "std_error", POLR_TERMS), ref[key], 1e-4, covariance)
    if covariance.startswith("cluster"):
        assert res.fit["n_clusters"] == ref["n_clusters"]


# ---------------------------------------------------------------------------------------------
# binary logit on birthwt (glm, sandwich)


def _birthwt() -> pd.DataFrame:
    bw = pd.read_csv(REF_DIR / "data" / "birthwt.csv")
    bw["race"] = pd.Categorical(bw["race"].map({1: "white", 2: "black", 3: "other"}),
                                categories=["white", "black", "other"])
    return bw


BIRTHWT = _birthwt()
GLM_TERMS = {"Intercept": "(Intercept)", "race[T.black]": "raceblack",
             "race[T.other]": "raceother"}


@pytest.mark.parametrize("covariance,key", [("classical", "se"), ("hc0", "se_HC0"),
                                            ("hc1", "se_HC1"), ("cluster", "se_CL_grp_HC1"),
                                            ("cluster_hc0", "se_CL_grp_HC0")])
def test_logit_matches_glm_and_sandwich(covariance, key):
    ref = REF["glm_birthwt"]
    spec = {"id": f"logit_{covariance}", "formula": "low ~ age + lwt + race + smoke",
            "family": "binary_logit", "covariance": covariance}
    if covariance.startswith("cluster"):
        spec["cluster"] = "grp"
    res = fit_model(spec, BIRTHWT)
    assert res.converged and res.status == "ok", res.status
    _check(_by_term(res, "estimate", GLM_TERMS), ref["coef"], 1e-4, "coef")
    _check(_by_term(res, "std_error", GLM_TERMS), ref[key], 1e-4, covariance)
    assert res.fit["loglik"] == pytest.approx(ref["logLik"], rel=1e-6)
    assert res.fit["aic"] == pytest.approx(ref["AIC"], rel=1e-6)
    assert res.fit["n_obs"] == ref["nobs"]


# ---------------------------------------------------------------------------------------------
# more references: tests/reference/estimators_reference_extra.R

EXTRA = json.loads((REF_DIR / "estimators_reference_extra.json").read_text(encoding="utf-8"))
BOUNDARY = pd.read_csv(REF_DIR / "data" / "estimators_boundary.csv")


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_boundary_fit_matches_lmer_and_is_flagged(reml):
    ref = EXTRA["boundary"]["REML" if reml else "ML"]
    assert ref["is_singular"]
    res = fit_model({"id": "boundary", "formula": "y ~ x", "estimator": "mixed",
                     "random": {"group": "g"}, "reml": reml}, BOUNDARY)
    assert res.converged
    assert "boundary" in res.status
    _check(_by_term(res, "estimate", R_TERMS), ref["fixef"], 1e-4, "fixef")
    # lme4's vcov on the boundary is sigma^2 (X'X)^-1; the inverse joint Hessian is not
    _check(_by_term(res, "std_error", R_TERMS), ref["se"], 1e-4, "se")
    assert res.fit["var_intercept"] == pytest.approx(0, abs=1e-6)
    assert res.fit["residual_var"] == pytest.approx(ref["residual_var"], rel=1e-4)
    assert res.fit["loglik"] == pytest.approx(ref["logLik"], rel=1e-6)
    assert res.fit["aic"] == pytest.approx(ref["AIC"], rel=1e-6)
    assert res.fit["bic"] == pytest.approx(ref["BIC"], rel=1e-6)


def _birthwt_extra() -> pd.DataFrame:
    bw = _birthwt()
    bw["w"] = 1 + (np.arange(len(bw)) % 4) / 2
    bw["age10"] = bw["age"] / 10
    bw["lwt100"] = bw["lwt"] / 100
    bw["bwt3"] = pd.cut(bw["bwt"], [-np.inf, 2500, 3000, np.inf], labels=["low", "mid", "high"],
                        ordered=True)
    return bw


BW = _birthwt_extra()


@pytest.mark.parametrize("covariance,key", [("hc0", "se_HC0"), ("hc1", "se_HC1"),
                                            ("cluster", "se_CL_grp_HC1"),
                                            ("cluster_hc0", "se_CL_grp_HC0")])
def test_survey_weighted_logit_matches_glm_weights_and_sandwich(covariance, key):
    ref = EXTRA["logit_weighted"]
    spec = {"id": "wlogit", "formula": "low ~ age + lwt + race + smoke", "family": "binary_logit",
            "weights": "w", "covariance": covariance}
    if covariance.startswith("cluster"):
        spec["cluster"] = "grp"
    res = fit_model(spec, BW)
    _check(_by_term(res, "estimate", GLM_TERMS), ref["coef"], 1e-4, "coef")
    _check(_by_term(res, "std_error", GLM_TERMS), ref[key], 1e-4, covariance)
    assert np.isnan(res.fit["loglik"])  # a pseudo-likelihood is not reported


BW3_TERMS = {"race[T.black]": "raceblack", "race[T.other]": "raceother"}


@pytest.mark.parametrize("covariance,key", [("hc0", "se_HC0"), ("cluster", "se_CL_grp_HC1")])
def test_survey_weighted_polr_matches_polr_weights_and_sandwich(covariance, key):
    ref = EXTRA["polr_weighted"]
    spec = {"id": "wpolr", "formula": "bwt3 ~ age10 + lwt100 + race + smoke",
            "family": "ordered_logit", "weights": "w", "covariance": covariance}
    if covariance == "cluster":
        spec["cluster"] = "grp"
    res = fit_model(spec, BW)  # unscaled weights: the survey-weighted fit is scale invariant
    est = _by_term(res, "estimate", BW3_TERMS)
    _check({k: v for k, v in est.items() if "|" not in k}, ref["coef"], 1e-4, "beta")
    _check({k: v for k, v in est.items() if "|" in k}, ref["zeta"], 1e-4, "zeta")
    _check(_by_term(res, "std_error", BW3_TERMS), ref[key], 1e-4, covariance)


def test_polr_from_an_ordered_categorical_outcome():
    ref = EXTRA["polr_unweighted"]
    res = fit_model({"id": "polr3", "formula": "bwt3 ~ age10 + lwt100 + race + smoke",
                     "family": "ordered_logit"}, BW)
    _check(_by_term(res, "std_error", BW3_TERMS), ref["se"], 1e-4, "se")
    assert res.fit["loglik"] == pytest.approx(ref["logLik"], rel=1e-6)


def test_predict_grid_linear_interaction_matches_predict_lm():
    from pipeline.stats.predict import predict_grid

    ref = EXTRA["predict_lm"]
    res = fit_model({"id": "lm_int", "formula": "bwt ~ age * race + smoke"}, BW)
    pred = predict_grid(res, BW, {"age": [20, 30], "race": ["white", "black", "other"]})
    # R's expand.grid varies age fastest; predict_grid varies the last grid variable fastest
    pred = pred.sort_values(["race", "age"], key=lambda s: s.map(
        {"white": 0, "black": 1, "other": 2}) if s.name == "race" else s).reset_index(drop=True)
    assert list(pred["age"]) == ref["age"] and list(pred["race"]) == ref["race"]
    np.testing.assert_allclose(pred["estimate"], ref["fit"], rtol=1e-6)
    np.testing.assert_allclose(pred["std_error"], ref["se"], rtol=1e-6)
    np.testing.assert_allclose(pred["conf_low"], ref["lwr"], rtol=1e-6)
    np.testing.assert_allclose(pred["conf_high"], ref["upr"], rtol=1e-6)


def test_predict_grid_logit_matches_predict_glm():
    from pipeline.stats.predict import predict_grid

    ref = EXTRA["predict_glm"]
    res = fit_model({"id": "glm_int", "formula": "low ~ age * smoke + lwt",
                     "family": "binary_logit"}, BW)
    pred = predict_grid(res, BW, {"smoke": [0, 1], "age": [20, 30]})
    assert list(pred["age"]) == ref["age"] and list(pred["smoke"]) == ref["smoke"]
    np.testing.assert_allclose(pred["estimate"], ref["prob"], rtol=1e-5)
    np.testing.assert_allclose(pred["conf_low"], ref["lwr"], rtol=1e-5)
    np.testing.assert_allclose(pred["conf_high"], ref["upr"], rtol=1e-5)


def test_standardized_coefficients_match_lm_on_scaled_variables():
    ref = EXTRA["standardized"]
    res = fit_model({"id": "std", "formula": "bwt ~ age + lwt + smoke", "standardize": True}, BW)
    _check(_by_term(res, "estimate"), ref["coef"], 1e-6, "coef")
    _check(_by_term(res, "std_error"), ref["se"], 1e-6, "se")
    assert res.fit["standardized"] is True

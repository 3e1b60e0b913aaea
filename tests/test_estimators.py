"""The estimation library (pipeline.stats.fit and the modules beside it) beyond the R references:
Rubin's rules, multiple imputation, mediation, predictions, conventions that are properties
(weights' scale, CR1 with one row per cluster), and bad input that must fail loudly or be flagged.
All data are simulated here, seeded."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.errors import PipelineError
from pipeline.core.parallel import ParallelSettings
from pipeline.stats.covariance import COEF_COLUMNS, FIT_FIELDS, sandwich
from pipeline.stats.fit import fit_model
from pipeline.stats.imputation import POOLED_COLUMNS, fit_imputed, impute_chained, pool_rubin
from pipeline.stats.mediation import mediation
from pipeline.stats.predict import predict_grid
from pipeline.stats.spec import parse_spec

COMM_TYPES = ["interspersed", "mixed_public", "commercial", "old"]


def _study(seed: int = 1, n_comm: int = 40, per: int = 25) -> pd.DataFrame:
    """Residents in communities: contact raises identity, more so in interspersed ones."""
    rng = np.random.default_rng(seed)
    comm = np.repeat(np.arange(n_comm), per)
    n = len(comm)
    ctype = np.array(COMM_TYPES)[rng.integers(0, 4, n_comm)][comm]
    gov = rng.integers(0, 2, n_comm)[comm]
    u = rng.normal(0, 0.4, n_comm)[comm]
    contact = rng.normal(size=n) + 0.3 * (ctype == "interspersed")
    age = rng.integers(18, 80, n).astype(float)
    participation = 0.4 * gov + 0.1 * (age - 45) / 15 + u + rng.normal(size=n)
    identity = (0.3 * contact + 0.25 * participation + 0.2 * contact * (ctype == "interspersed")
                + u + rng.normal(size=n))
    return pd.DataFrame({
        "comm_id": comm, "comm_type": ctype, "gov_model": gov, "age": age, "contact": contact,
        "participation": participation, "identity": identity,
        "identity_ord": np.digitize(identity, [-1.0, 0.0, 1.0]) + 1,
        "identity_high": (identity > 0.3).astype(int),
        "weight": rng.uniform(0.5, 2.0, n),
    })


STUDY = _study()


# ---------------------------------------------------------------------------------------------
# Rubin's rules


def test_pool_rubin_by_hand():
    # three imputations of two parameters; the second has no between-imputation variance
    est = [[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]
    var = [[0.5, 0.2], [0.5, 0.2], [0.5, 0.2]]
    out = pool_rubin(est, var, df_complete=100, terms=["a", "b"]).set_index("term")
    m, B, U = 3, 1.0, 0.5
    T = U + (1 + 1 / m) * B  # 11/6
    lam = (1 + 1 / m) * B / T  # 8/11
    riv = (1 + 1 / m) * B / U  # 8/3
    nu_old = (m - 1) / lam ** 2  # 3.78125
    nu_obs = (100 + 1) / (100 + 3) * 100 * (1 - lam)
    nu = nu_old * nu_obs / (nu_old + nu_obs)
    a = out.loc["a"]
    assert a["estimate"] == pytest.approx(2.0)
    assert a["within_var"] == pytest.approx(0.5)
    assert a["between_var"] == pytest.approx(1.0)
    assert a["total_var"] == pytest.approx(11 / 6)
    assert a["std_error"] == pytest.approx(np.sqrt(11 / 6))
    assert a["lambda"] == pytest.approx(8 / 11)
    assert a["riv"] == pytest.approx(8 / 3)
    assert nu_old == pytest.approx(3.78125)
    assert a["df"] == pytest.approx(nu)
    assert a["fmi"] == pytest.approx((riv + 2 / (nu + 3)) / (1 + riv))
    from scipy import stats

    q = stats.t.ppf(0.975, nu)
    assert a["conf_low"] == pytest.approx(2 - q * np.sqrt(11 / 6))
    b = out.loc["b"]
    assert b["between_var"] == 0 and b["total_var"] == pytest.approx(0.2)
    assert b["lambda"] == 0 and b["riv"] == 0
    assert b["df"] == pytest.approx(101 / 103 * 100)  # nu_obs alone when B = 0
    assert b["fmi"] == pytest.approx(2 / (b["df"] + 3))
    # an infinite complete-data df leaves Rubin's (1987) df
    assert pool_rubin(est, var).loc[0, "df"] == pytest.approx(nu_old)


def test_pool_rubin_rejects_a_single_imputation():
    with pytest.raises(PipelineError, match="at least two"):
        pool_rubin([[1.0]], [[0.1]])


# ---------------------------------------------------------------------------------------------
# multiple imputation


def _mar_data(seed: int = 3, n: int = 3000) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = 0.5 * x1 + rng.normal(size=n)
    y = 1 + 0.5 * x1 + 0.3 * x2 + rng.normal(size=n)
    data = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "c": np.repeat(np.arange(100), n // 100)})
    # MAR: x1 is missing more often when the (observed) outcome is high
    p = 1 / (1 + np.exp(-(-1.0 + 1.5 * (y - y.mean()))))
    data.loc[rng.random(n) < p, "x1"] = np.nan
    data.loc[rng.random(n) < 0.1, "x2"] = np.nan
    return data, {"Intercept": 1.0, "x1": 0.5, "x2": 0.3}


MI_SPEC = {"id": "mi", "formula": "y ~ x1 + x2", "cluster": "c"}


def test_mi_recovers_known_coefficients_under_mar():
    data, truth = _mar_data()
    res = fit_imputed(MI_SPEC, data, m=10, seed=11)
    pooled = res.pooled.set_index("term")
    cc = res.complete_case.coefficients.set_index("term")
    for term, value in truth.items():
        assert abs(pooled.loc[term, "estimate"] - value) < 3 * pooled.loc[term, "std_error"], term
    # the complete-case intercept is biased by the MAR mechanism; MI removes most of it
    assert abs(cc.loc["Intercept", "estimate"] - 1.0) > 0.2
    assert abs(pooled.loc["Intercept", "estimate"] - 1.0) < 0.1
    assert (pooled["fmi"] > 0).all() and (pooled["between_var"] > 0).all()
    assert list(res.pooled.columns) == list(POOLED_COLUMNS)
    assert res.fit["n_obs"] == len(data) and res.fit["n_obs_complete_case"] < len(data)
    assert res.fit["df_complete"] == 99  # G - 1 of the clustered OLS
    assert res.missing.set_index("variable").loc["x1", "n_missing"] == data["x1"].isna().sum()


def test_mi_is_deterministic_given_the_seed():
    data, _ = _mar_data(n=600)
    first = fit_imputed(MI_SPEC, data, m=5, seed=42, n_iter=5)
    again = fit_imputed(MI_SPEC, data, m=5, seed=42, n_iter=5)
    other = fit_imputed(MI_SPEC, data, m=5, seed=43, n_iter=5)
    pd.testing.assert_frame_equal(first.pooled, again.pooled)
    pd.testing.assert_frame_equal(first.imputation_fits, again.imputation_fits)
    assert not np.allclose(first.pooled["estimate"], other.pooled["estimate"])
    gen_a = fit_imputed(MI_SPEC, data, m=3, seed=np.random.default_rng(5), n_iter=3)
    gen_b = fit_imputed(MI_SPEC, data, m=3, seed=np.random.default_rng(5), n_iter=3)
    pd.testing.assert_frame_equal(gen_a.pooled, gen_b.pooled)


def test_impute_chained_keeps_observed_values_and_the_input():
    data, _ = _mar_data(n=400)
    data["grade"] = pd.Categorical(np.where(data["y"] > 1, "high", "low"),
                                   categories=["low", "high"], ordered=True)
    data.loc[data.index[::7], "grade"] = np.nan
    before = data.copy()
    completed = impute_chained(data, ["y", "x1", "x2", "grade"], m=2, seed=1, n_iter=3)
    pd.testing.assert_frame_equal(data, before)  # the input is not modified
    for done in completed:
        assert not done[["x1", "x2", "grade"]].isna().any().any()
        observed = data["x1"].notna()
        np.testing.assert_array_equal(done.loc[observed, "x1"], data.loc[observed, "x1"])
        # predictive mean matching imputes observed values only
        assert set(done["x1"]) <= set(data["x1"].dropna())
        assert list(done["grade"].cat.categories) == ["low", "high"]
    assert not completed[0]["x1"].equals(completed[1]["x1"])


def test_pmm_draws_the_regression_parameters():
    # proper imputation: each imputation draws the imputation model's parameters, so the donors
    # of one missing value vary beyond the `donors` nearest under the point estimate
    rng = np.random.default_rng(0)
    x = np.arange(12.0)
    data = pd.DataFrame({"x": x, "y": x + rng.normal(0, 1.0, 12)})
    data.loc[6, "y"] = np.nan
    completed = impute_chained(data, ["x", "y"], m=200, seed=3, n_iter=1, donors=5)
    imputed = {d.loc[6, "y"] for d in completed}
    assert len(imputed) > 5
    assert imputed <= set(data["y"].dropna())


def test_impute_chained_needs_a_seed_and_an_order_for_categories():
    data, _ = _mar_data(n=100)
    with pytest.raises(PipelineError, match="seed"):
        impute_chained(data, ["y", "x1"], m=2, seed=None)
    data["city"] = np.where(data["y"] > 1, "a", "b")
    data.loc[0, "city"] = None
    with pytest.raises(PipelineError, match="'city'"):
        impute_chained(data, ["y", "x1", "city"], m=2, seed=1)


# ---------------------------------------------------------------------------------------------
# mediation


def _mediation_data(seed: int = 7, n_comm: int = 80, per: int = 25) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    comm = np.repeat(np.arange(n_comm), per)
    n = len(comm)
    gov = rng.integers(0, 2, n_comm)[comm].astype(float)  # community level, as H3's governance
    age = rng.normal(size=n)
    part = 0.6 * gov + 0.1 * age + rng.normal(0, 0.2, n_comm)[comm] + rng.normal(size=n)
    ident = (0.5 * part + 0.2 * gov + 0.1 * age + rng.normal(0, 0.2, n_comm)[comm]
             + rng.normal(size=n))
    return pd.DataFrame({"comm_id": comm, "gov": gov, "age": age, "part": part,
                         "ident": ident})


MED = _mediation_data()


def test_mediation_recovers_a_times_b():
    res = mediation(MED, "gov", "part", "ident", ["age"], "comm_id", n_boot=400, rng=2025)
    eff = res.effects.set_index("effect")
    true_ab = 0.6 * 0.5
    assert eff.loc["indirect", "estimate"] == pytest.approx(true_ab, abs=0.1)
    assert eff.loc["indirect", "conf_low"] < true_ab < eff.loc["indirect", "conf_high"]
    assert eff.loc["b", "estimate"] == pytest.approx(0.5, abs=0.05)
    # OLS on one sample: total = direct + a * b exactly
    assert eff.loc["total", "estimate"] == pytest.approx(
        eff.loc["direct", "estimate"] + eff.loc["indirect", "estimate"], rel=1e-10)
    assert eff.loc["indirect", "estimate"] == pytest.approx(
        eff.loc["a", "estimate"] * eff.loc["b", "estimate"], rel=1e-12)
    assert res.info["n_clusters"] == 80 and res.info["n_boot_failed"] == 0
    assert res.info["status"] == "ok"
    # cluster-robust analytic SE of a and its bootstrap SE agree roughly
    assert eff.loc["a", "boot_se"] == pytest.approx(eff.loc["a", "std_error"], rel=0.25)


def test_mediation_bootstrap_is_deterministic():
    args = (MED, "gov", "part", "ident", ["age"], "comm_id", 60)
    a = mediation(*args, rng=9)
    b = mediation(*args, rng=9)
    c = mediation(*args, rng=10)
    pd.testing.assert_frame_equal(a.effects, b.effects)
    pd.testing.assert_frame_equal(a.draws, b.draws)
    assert not a.draws.equals(c.draws)
    gen = mediation(*args, rng=np.random.default_rng(9))
    pd.testing.assert_frame_equal(a.draws, gen.draws)  # an int seeds default_rng
    # the draws are made before the work is split, so workers do not change the result
    par = mediation(*args, rng=9, parallel=2)
    pd.testing.assert_frame_equal(a.effects, par.effects)


def test_mediation_refuses_to_run_without_a_seed():
    with pytest.raises(PipelineError, match="seed"):
        mediation(MED, "gov", "part", "ident", ["age"], "comm_id", 10, rng=None)


def test_mediation_resamples_clusters_not_rows():
    # strong community effects: resampling residents would understate the uncertainty of a
    rng = np.random.default_rng(4)
    comm = np.repeat(np.arange(40), 30)
    gov = rng.integers(0, 2, 40)[comm].astype(float)
    part = 0.5 * gov + rng.normal(0, 1.0, 40)[comm] + rng.normal(size=len(comm))
    ident = 0.5 * part + rng.normal(size=len(comm))
    data = pd.DataFrame({"comm_id": comm, "gov": gov, "part": part, "ident": ident})
    clustered = mediation(data, "gov", "part", "ident", [], "comm_id", 300, rng=1)
    naive = mediation(data, "gov", "part", "ident", [], None, 300, rng=1)
    a_cl = clustered.effects.set_index("effect").loc["a"]
    a_naive = naive.effects.set_index("effect").loc["a"]
    assert a_cl["boot_se"] > 2.5 * a_naive["boot_se"]
    assert a_cl["boot_se"] == pytest.approx(a_cl["std_error"], rel=0.2)  # CR1 agrees
    assert clustered.info["n_clusters"] == 40 and naive.info["n_clusters"] is None
    small = _mediation_data(n_comm=12, per=10)
    res = mediation(small, "gov", "part", "ident", [], "comm_id", n_boot=50, rng=1)
    assert "few clusters" in res.info["status"]


# ---------------------------------------------------------------------------------------------
# predictions


def test_predict_grid_interaction_by_community_type():
    res = fit_model({"id": "h4", "formula": "identity ~ contact * C(comm_type) + age",
                     "cluster": "comm_id"}, STUDY)
    pred = predict_grid(res, STUDY, {"comm_type": COMM_TYPES, "contact": [0.0, 1.0]})
    assert len(pred) == 8 and set(pred.columns) >= {"estimate", "conf_low", "conf_high"}
    assert (pred["conf_low"] < pred["estimate"]).all()
    assert (pred["estimate"] < pred["conf_high"]).all()
    wide = pred.pivot(index="comm_type", columns="contact", values="estimate")
    slopes = wide[1.0] - wide[0.0]
    params = res.params
    ref = sorted(COMM_TYPES)[0]  # patsy's reference level
    assert slopes[ref] == pytest.approx(params["contact"])
    for level in COMM_TYPES:
        if level != ref:
            assert slopes[level] == pytest.approx(
                params["contact"] + params[f"contact:C(comm_type)[T.{level}]"])
    # age held at its mean over the rows used, and the table says so
    assert (pred["age"] == STUDY["age"].mean()).all()
    point = pred.iloc[0]
    x = {"Intercept": 1.0, "contact": point["contact"], "age": STUDY["age"].mean()}
    if point["comm_type"] != ref:
        x[f"C(comm_type)[T.{point['comm_type']}]"] = 1.0
        x[f"contact:C(comm_type)[T.{point['comm_type']}]"] = point["contact"]
    assert point["estimate"] == pytest.approx(sum(params[k] * v for k, v in x.items()))


def test_predict_grid_standardized_model_predicts_in_original_units():
    plain = fit_model({"id": "plain", "formula": "identity ~ contact * participation + age"},
                      STUDY)
    std = fit_model({"id": "std", "formula": "identity ~ contact * participation + age",
                     "standardize": True}, STUDY)
    grid = {"contact": [-1.0, 0.0, 2.0], "participation": [0.0, 1.0]}
    a, b = predict_grid(plain, STUDY, grid), predict_grid(std, STUDY, grid)
    for column in ("estimate", "std_error", "conf_low", "conf_high"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-8)
    # standardised slope = raw slope * sd(x) / sd(y) for a main effect
    m = fit_model({"id": "m", "formula": "identity ~ contact + age", "standardize": True}, STUDY)
    raw = fit_model({"id": "r", "formula": "identity ~ contact + age"}, STUDY)
    assert m.params["contact"] == pytest.approx(
        raw.params["contact"] * STUDY["contact"].std() / STUDY["identity"].std())


def test_predict_grid_ordered_and_mixed():
    ordered = fit_model({"id": "ord", "formula": "identity_ord ~ contact + age",
                         "family": "ordered_logit", "cluster": "comm_id"}, STUDY)
    pred = predict_grid(ordered, STUDY, {"contact": [-1.0, 1.0]})
    assert list(pred["category"]) == [1, 2, 3, 4] * 2
    sums = pred.groupby("contact")["estimate"].sum()
    np.testing.assert_allclose(sums, 1.0)
    assert ((pred["conf_low"] >= 0) & (pred["conf_high"] <= 1)).all()
    # higher contact shifts probability to the top category
    top = pred[pred["category"] == 4].set_index("contact")["estimate"]
    assert top[1.0] > top[-1.0]

    mixed = fit_model({"id": "mix", "formula": "identity ~ contact + age", "estimator": "mixed",
                       "random": {"group": "comm_id"}}, STUDY)
    pm = predict_grid(mixed, STUDY, {"contact": [0.0, 1.0]}, at={"age": 40.0})
    expected = mixed.params["Intercept"] + mixed.params["age"] * 40.0
    assert pm["estimate"].iloc[0] == pytest.approx(expected)
    assert pm["estimate"].diff().iloc[1] == pytest.approx(mixed.params["contact"])


def test_predict_grid_rejects_unknown_variables_and_levels():
    res = fit_model({"id": "p", "formula": "identity ~ contact + C(comm_type)"}, STUDY)
    with pytest.raises(PipelineError, match="'gov_model' is not a variable of the formula"):
        predict_grid(res, STUDY, {"gov_model": [0, 1]})
    with pytest.raises(PipelineError, match="model 'p'"):
        predict_grid(res, STUDY, {"comm_type": ["no_such_type"]})


# ---------------------------------------------------------------------------------------------
# results are data; conventions as properties


@pytest.mark.parametrize("spec", [
    {"id": "ols", "formula": "identity ~ contact", "cluster": "comm_id"},
    {"id": "wls", "formula": "identity ~ contact", "weights": "weight", "cluster": "comm_id"},
    {"id": "mixed", "formula": "identity ~ contact", "estimator": "mixed",
     "random": {"group": "comm_id", "slopes": ["contact"]}},
    {"id": "ord", "formula": "identity_ord ~ contact", "family": "ordered_logit"},
    {"id": "bin", "formula": "identity_high ~ contact", "family": "binary_logit",
     "covariance": "hc1"},
])
def test_every_model_gives_the_same_table_shapes(spec):
    before = STUDY.copy()
    res = fit_model({**spec, "label": "a label"}, STUDY)
    pd.testing.assert_frame_equal(STUDY, before)  # no input is modified
    assert list(res.coefficients.columns) == list(COEF_COLUMNS)
    assert set(res.fit) == set(FIT_FIELDS) and list(res.fit_frame().columns) == list(FIT_FIELDS)
    assert res.fit["label"] == "a label" and res.fit["model"] == spec["id"]
    assert res.status == "ok" and res.converged is True
    assert res.fit["n_obs"] == len(STUDY)
    assert np.isfinite(res.coefficients[["estimate", "std_error", "p_value"]].to_numpy()).all()


def test_mixed_random_slope_components_and_lrt_shape():
    from pipeline.stats.multilevel import icc, lrt_random_intercept

    res = fit_model({"id": "rs", "formula": "identity ~ contact", "estimator": "mixed",
                     "random": {"group": "comm_id", "slopes": ["contact"]}}, STUDY)
    kinds = list(res.components["kind"])
    assert kinds == ["var", "var", "cov", "cor", "residual"]
    assert np.isnan(res.fit["icc"])  # no single ICC with a random slope
    out = icc(STUDY, "identity", "comm_id")
    assert 0 < out["icc"] < 1 and out["n_groups"] == 40
    lrt = lrt_random_intercept({"id": "ri", "formula": "identity ~ contact",
                                "estimator": "mixed", "random": "comm_id"}, STUDY)
    assert lrt["lr_stat"] > 0 and lrt["p_value"] == pytest.approx(0.5 * lrt["p_chisq1"])


def test_missing_values_are_dropped_listwise_and_counted():
    data = STUDY.copy()
    data.loc[data.index[:7], "contact"] = np.nan
    data.loc[data.index[5:10], "identity"] = np.nan
    res = fit_model({"id": "na", "formula": "identity ~ contact", "cluster": "comm_id"}, data)
    assert res.fit["n_dropped"] == 10 and res.fit["n_obs"] == len(data) - 10
    assert not res.rows.isin(data.index[:10]).any()


@pytest.mark.parametrize("family,outcome", [("linear", "identity"),
                                            ("binary_logit", "identity_high"),
                                            ("ordered_logit", "identity_ord")])
def test_survey_weights_scale_does_not_matter(family, outcome):
    spec = {"id": "w", "formula": f"{outcome} ~ contact + age", "family": family,
            "weights": "weight", "cluster": "comm_id"}
    scaled = STUDY.assign(weight=STUDY["weight"] * 7.3)
    a, b = fit_model(spec, STUDY), fit_model(spec, scaled)
    np.testing.assert_allclose(a.coefficients["estimate"], b.coefficients["estimate"], rtol=1e-6)
    np.testing.assert_allclose(a.coefficients["std_error"], b.coefficients["std_error"],
                               rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(8, 40), k=st.integers(1, 4), seed=st.integers(0, 2 ** 32 - 1))
def test_cr1_with_one_row_per_cluster_is_hc1(n, k, seed):
    rng = np.random.default_rng(seed)
    bread = np.linalg.inv(np.cov(rng.normal(size=(k, k + 3))) + np.eye(k))
    scores = rng.normal(size=(n, k))
    np.testing.assert_allclose(sandwich(bread, scores, "cluster", np.arange(n)),
                               sandwich(bread, scores, "hc1"), rtol=1e-10)
    # relabelling or reordering clusters changes nothing
    labels = rng.integers(0, 4, n)
    perm = rng.permutation(n)
    np.testing.assert_allclose(sandwich(bread, scores, "cluster", labels),
                               sandwich(bread, scores[perm], "cluster", (labels * 7 + 1)[perm]),
                               rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# bad input: a PipelineError naming the model and the variable, or a flagged status


def _raises(spec: dict, data: pd.DataFrame, *fragments: str) -> PipelineError:
    with pytest.raises(PipelineError) as info:
        fit_model(spec, data)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return info.value


def test_variable_not_in_the_data():
    err = _raises({"id": "m1", "formula": "identity ~ contakt + age"}, STUDY, "'m1'",
                  "'contakt'")
    assert "contact" in err.hint  # a close match is suggested
    _raises({"id": "m2", "formula": "identiti ~ contact"}, STUDY, "'m2'", "outcome 'identiti'")
    _raises({"id": "m3", "formula": "identity ~ contact", "cluster": "comm"}, STUDY, "'m3'",
            "cluster variable 'comm'")
    _raises({"id": "m4", "formula": "identity ~ np.log(agee)"}, STUDY, "'agee'")


def test_factor_with_one_level():
    data = STUDY[STUDY["comm_type"] == "old"]
    _raises({"id": "one", "formula": "identity ~ contact + C(comm_type)"}, data, "'one'",
            "comm_type", "only one level")
    # a categorical with unused categories is not a one-level factor as long as two are used
    two = STUDY[STUDY["comm_type"].isin(["old", "commercial"])].copy()
    two["comm_type"] = pd.Categorical(two["comm_type"], categories=COMM_TYPES)
    res = fit_model({"id": "two", "formula": "identity ~ C(comm_type)"}, two)
    assert len(res.params) == 2


def test_singular_design_names_the_column():
    data = STUDY.assign(contact2=STUDY["contact"] * 2, const=1.5)
    _raises({"id": "sing", "formula": "identity ~ contact + contact2"}, data, "'sing'",
            "contact2", "singular")
    _raises({"id": "const", "formula": "identity ~ contact + const"}, data, "const", "singular")


def test_perfect_separation_names_the_variable():
    data = STUDY.assign(sep=(STUDY["contact"] > 0.2).astype(int))
    _raises({"id": "sep", "formula": "sep ~ contact + age", "family": "binary_logit"}, data,
            "'sep'", "separated", "contact")
    # quasi-complete: every resident of one community has the outcome
    quasi = STUDY.assign(y=np.where(STUDY["comm_id"] == 3, 1, STUDY["identity_high"]),
                         c3=(STUDY["comm_id"] == 3).astype(int))
    _raises({"id": "quasi", "formula": "y ~ contact + c3", "family": "binary_logit"}, quasi,
            "'c3'")


def test_overlap_certificate_agrees_with_the_linear_programme():
    """The fit's probabilities prove overlap exactly when the linear programme finds no
    separating direction; they never vouch for separated data (issue 19: the programme is
    skipped when the certificate holds)."""
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM

    from pipeline.stats.logit import overlap_certificate, separation_check

    c3 = (STUDY["comm_id"] == 3).to_numpy(float)
    X = np.column_stack((np.ones(len(STUDY)), STUDY["contact"], STUDY["age"] / 10, c3))
    cases = {"overlap": (STUDY["identity_high"].to_numpy(float), True),
             "complete": ((STUDY["contact"] > 0.2).to_numpy(float), False),
             # quasi-complete: every resident of community 3 has the outcome
             "quasi": (np.where(c3 == 1, 1.0, STUDY["identity_high"]), False)}
    weights = np.random.default_rng(3).uniform(0.5, 2, len(STUDY))
    for name, (y, overlap) in cases.items():
        for w in (None, weights):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mu = GLM(y, X, family=Binomial(), var_weights=w).fit(tol=1e-12).fittedvalues
            assert overlap_certificate(X, y, np.asarray(mu), w) is overlap, name
            assert (separation_check(X, y) is None) is overlap, name


@pytest.mark.parametrize("spec", [
    {"id": "nc_ord", "formula": "identity_ord ~ contact + age", "family": "ordered_logit"},
    {"id": "nc_bin", "formula": "identity_high ~ contact + age", "family": "binary_logit"},
    {"id": "nc_mix", "formula": "identity ~ contact + age", "estimator": "mixed",
     "random": "comm_id"},
])
def test_non_convergence_is_flagged(spec):
    res = fit_model({**spec, "max_iter": 1}, STUDY)
    assert res.converged is False
    assert res.status.startswith("not converged")
    assert fit_model(spec, STUDY).status == "ok"


@pytest.mark.parametrize("spec,fragment", [
    ({"id": "k", "formula": "identity ~ contact", "covarance": "hc1"}, "unknown key"),
    ({"id": "f", "formula": "identity ~ contact", "family": "probit"}, "unknown family"),
    ({"id": "s", "formula": "identity ~ contact", "weights": "weight",
      "covariance": "classical"}, "robust covariance"),
    ({"id": "e", "formula": "identity ~ contact", "estimator": "mixed"}, "random"),
    ({"id": "c", "formula": "identity ~ contact", "covariance": "cluster"}, "cluster variable"),
    ({"id": "r", "formula": "identity ~ contact", "random": "comm_id"}, "estimator mixed"),
    ({"formula": "identity ~ contact"}, "no 'id'"),
    ({"id": "o", "formula": "identity ~ contact", "outcome": "participation"}, "differs"),
    ({"id": "x", "formula": "identity ~ contact", "reml": "yes"}, "true or false"),
])
def test_bad_specifications(spec, fragment):
    with pytest.raises(PipelineError, match=fragment):
        parse_spec(spec)


def test_bad_outcomes_and_design_variables():
    _raises({"id": "b", "formula": "identity_ord ~ contact", "family": "binary_logit"}, STUDY,
            "'b'", "must be 0/1")
    labels = STUDY.assign(lab=np.where(STUDY["identity"] > 0, "agree", "disagree"))
    _raises({"id": "o", "formula": "lab ~ contact", "family": "ordered_logit"}, labels,
            "order of the categories", "'lab'")
    ok = fit_model({"id": "o2", "formula": "lab ~ contact", "family": "ordered_logit",
                    "outcome_levels": ["disagree", "agree"]}, labels)
    assert list(ok.params.index)[-1] == "disagree|agree"
    gaps = STUDY.copy()
    gaps.loc[gaps.index[[3, 9]], "comm_id"] = np.nan
    _raises({"id": "g", "formula": "identity ~ contact", "cluster": "comm_id"}, gaps,
            "2 row(s) have no value of 'comm_id'")
    neg = STUDY.assign(weight=STUDY["weight"] - 1)
    _raises({"id": "w", "formula": "identity ~ contact", "weights": "weight",
             "cluster": "comm_id"}, neg, "not positive")


def test_few_clusters_are_flagged():
    few = STUDY[STUDY["comm_id"] < 8]
    res = fit_model({"id": "few", "formula": "identity ~ contact", "cluster": "comm_id"}, few)
    assert "few clusters (G=8)" in res.status and res.fit["t_df"] == 7


def test_cluster_bootstrap_replicate_equals_a_refit_on_the_resampled_rows():
    """The mediation bootstrap refits through cluster cross products; check one replicate
    against OLS on the stacked rows of the drawn clusters."""
    from pipeline.stats.mediation import _mediation_coefs, mediation

    rng = np.random.default_rng(0)
    n, g = 1500, np.repeat(np.arange(30), 50)
    x = rng.normal(size=30)[g]
    m = 0.5 * x + rng.normal(size=n)
    c = rng.normal(size=n)
    y = 0.3 * m + 0.2 * x + 0.1 * c + rng.normal(size=n)
    d = pd.DataFrame({"x": x, "m": m, "y": y, "c": c, "g": g})
    res = mediation(d, "x", "m", "y", ["c"], cluster="g", n_boot=20, rng=5)
    draws = np.random.default_rng(5).integers(0, 30, size=(20, 30))
    Xa = np.column_stack([np.ones(n), x, c])
    Xb = np.column_stack([np.ones(n), x, m, c])
    for r in (0, 7):
        rows = np.concatenate([np.flatnonzero(g == k) for k in draws[r]])
        np.testing.assert_allclose(res.draws.iloc[r].to_numpy(), _mediation_coefs(Xa, Xb, m, y, rows), rtol=1e-9)


def test_imputation_does_not_depend_on_the_number_of_workers():
    from pipeline.stats.imputation import impute_chained

    rng = np.random.default_rng(3)
    n = 300
    d = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    d["c"] = d["a"] + rng.normal(size=n)
    d.loc[rng.random(n) < 0.2, "c"] = np.nan
    d.loc[rng.random(n) < 0.1, "a"] = np.nan
    one = impute_chained(d, ["a", "b", "c"], m=4, seed=11, n_iter=3, n_jobs=1)
    two = impute_chained(d, ["a", "b", "c"], m=4, seed=11, n_iter=3,
                         parallel=ParallelSettings(n_jobs=2, serial_below_s=0))   # the workers, always
    for x, y in zip(one, two):
        pd.testing.assert_frame_equal(x, y)


def test_pooled_fit_does_not_depend_on_the_number_of_workers():
    from pipeline.stats.imputation import fit_imputed

    rng = np.random.default_rng(8)
    n = 400
    d = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "g": np.repeat(np.arange(40), 10)})
    d["y"] = 0.5 * d["x"] + 0.2 * d["z"] + rng.normal(size=n)
    d.loc[rng.random(n) < 0.2, "x"] = np.nan
    spec = {"id": "mi", "formula": "y ~ x + z", "covariance": "cluster_cr2", "cluster": "g"}
    one = fit_imputed(spec, d, m=4, seed=2, n_iter=3, n_jobs=1)
    two = fit_imputed(spec, d, m=4, seed=2, n_iter=3, parallel=ParallelSettings(n_jobs=2, serial_below_s=0))
    pd.testing.assert_frame_equal(one.pooled, two.pooled)


@pytest.mark.parametrize("reml", [True, False])
def test_random_intercept_profile_equals_statsmodels_mixedlm(reml):
    """The random-intercept fast path (profiled deviance from group sums) lands on the same
    optimum as statsmodels' MixedLM: log-likelihood, fixed effects, variances, covariance."""
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    G, n = 80, 2400
    g = rng.integers(0, G, n)
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                       "z": (rng.random(G) < 0.4).astype(float)[g], "g": g})
    df["y"] = 1 + 0.3 * df.x1 - 0.2 * df.x2 + 0.5 * df.z + rng.normal(0, 0.6, G)[g] + rng.normal(size=n)
    res = fit_model({"id": "ri", "formula": "y ~ x1 + x2 + z", "estimator": "mixed", "random": "g",
                     "reml": reml}, df)
    assert res.fit["optimizer"] == "profiled-brent" and res.fit["status"] == "ok"
    X = sm.add_constant(df[["x1", "x2", "z"]])
    ref = sm.MixedLM(df["y"], X, groups=df["g"]).fit(reml=reml, method=["bfgs"], gtol=1e-10)
    assert res.fit["loglik"] == pytest.approx(ref.llf, rel=1e-10)
    np.testing.assert_allclose(res.params.to_numpy(), ref.fe_params.to_numpy(), rtol=1e-7, atol=1e-9)
    assert res.fit["var_intercept"] == pytest.approx(float(np.asarray(ref.cov_re)[0, 0]), rel=1e-5)
    assert res.fit["residual_var"] == pytest.approx(ref.scale, rel=1e-6)
    # lme4's covariance of the fixed effects, (X'V^-1 X)^-1 at the estimates (the general path's)
    from pipeline.stats.mixed import _gls_vcov

    V = _gls_vcov(X.to_numpy(float), np.ones((len(df), 1)), df["g"].to_numpy(), np.asarray(ref.cov_re), ref.scale)
    np.testing.assert_allclose(res.vcov, V, rtol=1e-5)


def test_pmm_sort_is_numpys_stable_argsort():
    """imputation.stable_argsort (quicksort, ties put back in index order) gives np.argsort's
    stable permutation: continuous values, many ties, ties with NaN, signed zeros, tiny arrays."""
    from pipeline.stats.imputation import stable_argsort

    rng = np.random.default_rng(0)
    cases = [rng.normal(size=50_000), rng.integers(0, 40, size=50_000).astype(float),
             rng.integers(0, 3, size=500).astype(float), np.array([np.nan, 1, np.nan, 0.0, 1, -0.0, 0.0, np.nan]),
             np.array([2.0]), np.array([], dtype=float)]
    with_ties = rng.normal(size=20_000)
    with_ties[rng.integers(0, 20_000, size=2_000)] = 0.5
    for a in cases + [with_ties]:
        assert np.array_equal(stable_argsort(a), np.argsort(a, kind="stable"))

"""Is a multilevel model needed? The intraclass correlation of a null random-intercept model
(:func:`icc`) and the likelihood-ratio test of a random intercept (:func:`lrt_random_intercept`),
both fitted by :func:`pipeline.stats.fit.fit_model`."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from pipeline.stats.distributions import chi2_sf
from pipeline.stats.fit import fit_model
from pipeline.stats.spec import ModelSpec, _err, _quote, parse_spec


def icc(data: pd.DataFrame, outcome: str, group: str, reml: bool = True) -> dict[str, Any]:
    """Intraclass correlation of ``outcome`` within ``group`` from the null random-intercept
    model ``outcome ~ 1 + (1 | group)``: tau^2 / (tau^2 + sigma^2).

    Returns a dict: icc, var_between (tau^2), var_within (sigma^2), n_obs, n_groups, reml,
    converged, status (the model's status, ``"ok"`` when usable).
    """
    res = fit_model({"id": f"icc_{outcome}", "formula": f"{_quote(outcome)} ~ 1",
                     "estimator": "mixed",
                     "random": {"group": group}, "reml": reml}, data)
    return {"outcome": outcome, "group": group, "icc": res.fit["icc"],
            "var_between": res.fit["var_intercept"], "var_within": res.fit["residual_var"],
            "n_obs": res.fit["n_obs"], "n_groups": res.fit["n_groups"], "reml": reml,
            "converged": res.fit["converged"], "status": res.fit["status"]}


def lrt_random_intercept(spec: Mapping[str, Any] | ModelSpec,
                         data: pd.DataFrame) -> dict[str, Any]:
    """Likelihood-ratio test of a random intercept: the spec's fixed part with a random
    intercept for its group, against the same fixed part by OLS, both by maximum likelihood
    (REML likelihoods of models fitted differently are not comparable) on the same rows.

    The null hypothesis tau^2 = 0 lies on the boundary of the parameter space, so the
    statistic is not chi-square(1) but the 50:50 mixture of chi-square(0) and chi-square(1)
    (Self & Liang 1987): ``p_value`` = 0.5 * P(chi2_1 > LR) (1 when LR is 0); ``p_chisq1`` is the
    naive, conservative value. Random slopes in the spec are ignored (this tests the intercept).
    """
    spec = parse_spec(spec)
    if spec.estimator != "mixed":
        raise _err(spec.id, "the random-intercept test needs a mixed-model spec "
                   "(estimator: mixed, random: {group: ...})")
    mixed = fit_model({"id": spec.id, "formula": spec.formula, "estimator": "mixed",
                       "random": {"group": spec.group}, "reml": False}, data)
    # the single-level model on exactly the rows of the mixed model
    single = fit_model({"id": spec.id, "formula": spec.formula, "estimator": "ols"},
                       data.loc[mixed.rows])
    lr = 2 * (mixed.fit["loglik"] - single.fit["loglik"])
    lr_clipped = max(lr, 0.0)
    p1 = float(chi2_sf(lr_clipped, 1))
    return {
        "model": spec.id, "group": spec.group, "n_obs": mixed.fit["n_obs"],
        "n_groups": mixed.fit["n_groups"], "loglik_single": single.fit["loglik"],
        "loglik_mixed": mixed.fit["loglik"], "lr_stat": lr, "df": 1, "p_chisq1": p1,
        "p_value": 0.5 * p1 if lr_clipped > 0 else 1.0,
        "p_method": "chi-bar-square 0.5*chi2(0) + 0.5*chi2(1): the variance is tested on the "
                    "boundary (p = 0.5 * P(chi2_1 > LR))",
        "status": mixed.fit["status"],
    }

"""Predictions with confidence intervals from a fitted model at a grid of values
(:func:`predict_grid`, for interaction plots)."""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import special

from pipeline.stats.distributions import norm_ppf, t_ppf
from pipeline.stats.frame import _is_numeric
from pipeline.stats.results import ModelResult
from pipeline.stats.spec import ModelSpec, _err


def _reference_value(series: pd.Series) -> Any:
    if _is_numeric(series):
        return float(series.mean())
    counts = series.value_counts(sort=False)
    return counts.index[int(np.argmax(counts.to_numpy()))]


def predict_grid(result: ModelResult, data: pd.DataFrame, grid: Mapping[str, Sequence],
                 at: Mapping[str, Any] | None = None, level: float | None = None) -> pd.DataFrame:
    """Predictions with confidence intervals at every combination of ``grid`` values.

    ``grid`` maps formula variables to the values to predict at (original units, also for a
    standardised model); every other formula variable is held at ``at[var]`` if given, else at
    its mean (numeric) or most frequent value (categorical, boolean) among the rows the model
    used (``data`` must hold them: pass the data the model was fitted on). Interval level:
    ``level`` or the model's ``conf_level``.

    Returns one row per grid point (per grid point and category for an ordered logit) with
    ``model``, the grid columns, the held variables' values, ``category`` (ordered logit),
    ``estimate``, ``std_error``, ``conf_low``, ``conf_high`` and ``scale``. Linear models (a
    mixed model's fixed part, random effects at zero) predict the outcome, with t or z
    intervals as the coefficients. Binary logit predicts P(y = 1), the interval transformed
    from the linear predictor's. Ordered logit predicts P(y = category), delta-method standard
    errors, intervals clipped to [0, 1].
    """
    pred = result._predictor
    spec = result.spec
    level = spec.conf_level if level is None else level
    points = _grid_points(result, data, grid, at)
    Xv = _design_matrix(result, points)
    params = result.params.to_numpy(float)
    V = result.vcov.to_numpy(float)
    t_df = result.fit["t_df"]
    q = norm_ppf(0.5 + level / 2) if t_df is None else t_ppf(0.5 + level / 2, t_df)
    if spec.family == "ordered_logit":
        out = _category_probabilities(points, Xv, params, V, q, pred.outcome_levels)
    else:
        out = _linear_predictions(points, Xv, params, V, q, spec, pred.standardization)
    out.insert(0, "model", spec.id)
    return out


def _grid_points(result: ModelResult, data: pd.DataFrame, grid: Mapping[str, Sequence],
                 at: Mapping[str, Any] | None) -> pd.DataFrame:
    """One row per combination of ``grid`` values, with every other formula variable at
    ``at[var]`` or its reference value among the rows the model used (original units)."""
    pred = result._predictor
    spec = result.spec
    if not isinstance(grid, Mapping) or not grid:
        raise _err(spec.id, "predict_grid needs a grid such as {'contact': [-1, 0, 1]}")
    at = dict(at or {})
    for name in list(grid) + list(at):
        if name not in pred.rhs_vars:
            raise _err(spec.id, f"{name!r} is not a variable of the formula",
                       f"the formula uses {list(pred.rhs_vars)}")
    missing_rows = result.rows.difference(data.index)
    if len(missing_rows):
        raise _err(spec.id, f"the data passed to predict_grid lacks {len(missing_rows)} rows the "
                   "model used", "pass the data the model was fitted on")
    used = data.loc[result.rows]
    values = {}
    for name in pred.rhs_vars:
        if name in grid:
            continue
        values[name] = at[name] if name in at else _reference_value(used[name])
    combos = list(itertools.product(*[list(v) for v in grid.values()]))
    if not combos:
        raise _err(spec.id, "a grid variable has no values")
    points = pd.DataFrame(combos, columns=list(grid))
    for name, value in values.items():
        points[name] = [value] * len(points)
    return points


def _design_matrix(result: ModelResult, points: pd.DataFrame) -> np.ndarray:
    """The fixed-effects design matrix of ``points`` as the model was fitted (standardised
    predictors, its categorical codings, without the intercept where the model has none)."""
    pred = result._predictor
    spec = result.spec
    newdata = points.copy()
    for name, (mean, sd) in pred.standardization.items():
        if name in newdata:
            newdata[name] = (newdata[name].astype(float) - mean) / sd
    try:
        X = patsy.build_design_matrices([pred.design_info], newdata, NA_action="raise",
                                        return_type="dataframe")[0]
    except patsy.PatsyError as exc:
        raise _err(spec.id, f"cannot build predictions for this grid: {exc.message}",
                   "use values of categorical variables seen in the estimation data") from None
    if pred.drop_intercept:
        X = X.drop(columns="Intercept")
    return np.ascontiguousarray(X.to_numpy(float))


def _category_probabilities(points: pd.DataFrame, Xv: np.ndarray, params: np.ndarray, V: np.ndarray,
                            q: float, outcome_levels: Sequence) -> pd.DataFrame:
    """An ordered logit's P(y = category): the grid ``points`` repeated once per category, with
    delta-method standard errors (numerical Jacobian) and intervals clipped to [0, 1]."""
    out = points.copy()
    k = Xv.shape[1]
    n_cat = len(outcome_levels)

    def probs(theta):
        eta = Xv @ theta[:k]
        cum = special.expit(theta[k:][None, :] - eta[:, None])
        cum = np.column_stack((np.zeros(len(eta)), cum, np.ones(len(eta))))
        return np.diff(cum, axis=1).ravel()

    p = probs(params)
    J = np.column_stack([(probs(params + h) - probs(params - h)) / (2 * 1e-6)
                         for h in np.eye(len(params)) * 1e-6])
    se = np.sqrt(np.einsum("ij,jk,ik->i", J, V, J))
    out = out.loc[out.index.repeat(n_cat)].reset_index(drop=True)
    out["category"] = list(outcome_levels) * len(points)
    out["estimate"] = p
    out["std_error"] = se
    out["conf_low"] = np.clip(p - q * se, 0, 1)
    out["conf_high"] = np.clip(p + q * se, 0, 1)
    out["scale"] = "probability"
    return out


def _linear_predictions(points: pd.DataFrame, Xv: np.ndarray, params: np.ndarray, V: np.ndarray, q: float,
                        spec: ModelSpec, standardization: Mapping[str, tuple[float, float]]) -> pd.DataFrame:
    """The grid ``points`` with the prediction of a linear model (the outcome in original units,
    a mixed model's fixed part) or a binary logit (P(y = 1), the interval transformed from the
    linear predictor's): estimate, standard error, interval and scale."""
    out = points.copy()
    eta = Xv @ params
    se = np.sqrt(np.einsum("ij,jk,ik->i", Xv, V, Xv))
    if spec.family == "binary_logit":
        p = special.expit(eta)
        out["estimate"] = p
        out["std_error"] = p * (1 - p) * se
        out["conf_low"] = special.expit(eta - q * se)
        out["conf_high"] = special.expit(eta + q * se)
        out["scale"] = "probability"
    else:
        mean, sd = standardization.get(spec.outcome, (0.0, 1.0))
        out["estimate"] = mean + sd * eta
        out["std_error"] = sd * se
        out["conf_low"] = mean + sd * (eta - q * se)
        out["conf_high"] = mean + sd * (eta + q * se)
        out["scale"] = "outcome"
    return out

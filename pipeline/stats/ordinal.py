"""Ordered logit (statsmodels OrderedModel) reported in MASS::polr's parameterisation, with the
analytic score and the information in polr's parameters. Conventions: :mod:`pipeline.stats.fit`."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import special
from statsmodels.miscmodels.ordinal_model import OrderedModel

from pipeline.core.digits import snap
from pipeline.stats.covariance import _cluster_ids, _fit_row, _robust_or_classical, _status
from pipeline.stats.frame import _design_ordered, _Frame, _outcome, _weights
from pipeline.stats.results import ModelResult, _result
from pipeline.stats.spec import ModelSpec

_ORDERED_GTOL = 1e-8
_ORDERED_SCORE_TOL = 1e-5  # mean absolute score at an accepted ordered-logit optimum


def _polr_parts(theta: np.ndarray, X: np.ndarray, y: np.ndarray, k: int):
    """Probabilities and cdf/pdf pieces of polr's logit P(y <= j) = zeta_j - x'beta."""
    beta, zeta = theta[:k], theta[k:]
    eta = X @ beta
    cuts = np.concatenate(([-np.inf], zeta, [np.inf]))
    upper = cuts[y + 1] - eta
    lower = cuts[y] - eta
    Fu, Fl = special.expit(upper), special.expit(lower)
    # F(u) - F(l) = S(l) - S(u): use the tail that does not cancel
    p = np.where(lower > 0, special.expit(-lower) - special.expit(-upper), Fu - Fl)
    return p, Fu * (1 - Fu), Fl * (1 - Fl)


def _polr_loglik_obs(theta, X, y, k):
    p, _, _ = _polr_parts(theta, X, y, k)
    return np.log(np.maximum(p, 1e-300))


def _polr_score_obs(theta: np.ndarray, X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Per-observation score in polr's parameterisation (beta, zeta)."""
    p, fu, fl = _polr_parts(theta, X, y, k)
    p = np.maximum(p, 1e-300)
    n, n_cuts = len(y), len(theta) - k
    scores = np.empty((n, k + n_cuts))
    scores[:, :k] = -X * ((fu - fl) / p)[:, None]
    s_zeta = np.zeros((n, n_cuts))
    rows = np.arange(n)
    up = y < n_cuts
    s_zeta[rows[up], y[up]] += fu[up] / p[up]
    lo = y > 0
    s_zeta[rows[lo], y[lo] - 1] -= fl[lo] / p[lo]
    scores[:, k:] = s_zeta
    return scores


def _polr_hessian(theta: np.ndarray, X: np.ndarray, y: np.ndarray, k: int, w: np.ndarray) -> np.ndarray:
    """The Hessian of the weighted log-likelihood in polr's parameters (beta, zeta), analytic.

    With u = zeta_y - x'beta, l = zeta_(y-1) - x'beta, p = F(u) - F(l), a = f(u), b = f(l) and
    f' = f (1 - 2F) (F logistic): d2/dbeta2 = x x' ((a' - b')/p - (a - b)^2/p^2);
    d2/dbeta dzeta_y = -x (a'/p - (a - b) a/p^2); d2/dbeta dzeta_(y-1) = -x (-b'/p + (a - b) b/p^2);
    d2/dzeta_y2 = a'/p - a^2/p^2; d2/dzeta_(y-1)2 = -b'/p - b^2/p^2; d2/dzeta_y dzeta_(y-1) = a b/p^2.
    (A numerical Jacobian of the score carries its rounding noise divided by the step into the
    standard errors, so their 10th digit would depend on the CPU.)"""
    beta, zeta = theta[:k], theta[k:]
    m = len(zeta)
    eta = X @ beta
    cuts = np.concatenate(([-np.inf], zeta, [np.inf]))
    upper, lower = cuts[y + 1] - eta, cuts[y] - eta
    Fu, Fl = special.expit(upper), special.expit(lower)
    p = np.maximum(np.where(lower > 0, special.expit(-lower) - special.expit(-upper), Fu - Fl), 1e-300)
    a, b = Fu * (1 - Fu), Fl * (1 - Fl)
    da, db = a * (1 - 2 * Fu), b * (1 - 2 * Fl)
    n = len(y)
    U = np.zeros((n, m))
    L = np.zeros((n, m))
    up, lo = y < m, y > 0
    U[np.flatnonzero(up), y[up]] = 1.0
    L[np.flatnonzero(lo), y[lo] - 1] = 1.0
    H = np.empty((k + m, k + m))
    H[:k, :k] = (X * (w * ((da - db) / p - ((a - b) / p) ** 2))[:, None]).T @ X
    c_u = w * (da / p - (a - b) * a / p ** 2)
    c_l = w * (-db / p + (a - b) * b / p ** 2)
    H[:k, k:] = -(X * c_u[:, None]).T @ U - (X * c_l[:, None]).T @ L
    H[k:, :k] = H[:k, k:].T
    ab = w * a * b / p ** 2
    H[k:, k:] = ((U * (w * (da / p - (a / p) ** 2))[:, None]).T @ U + (L * (w * (-db / p - (b / p) ** 2))[:, None]).T @ L
                 + (U * ab[:, None]).T @ L + (L * ab[:, None]).T @ U)
    return (H + H.T) / 2


def _to_polr(theta_sm: np.ndarray, k: int) -> np.ndarray:
    """statsmodels' (beta, first cut, log increments) to polr's (beta, cut points)."""
    t = theta_sm[k:]
    return np.concatenate((theta_sm[:k], np.cumsum(np.concatenate((t[:1], np.exp(t[1:]))))))


def _polish(theta: np.ndarray, total_score, hessian, steps: int = 4) -> np.ndarray:
    """Newton steps on the analytic score and Hessian from where BFGS stopped (its stopping point
    depends on the CPU's last digits; the root of the score does not), then rounded to 8
    significant digits (:func:`pipeline.core.digits.snap`). Stops when a step does not lower the score."""
    if not np.all(np.isfinite(theta)):
        return theta
    x, g = theta, total_score(theta)
    for _ in range(steps):
        try:
            step = np.linalg.solve(-hessian(x), g)
        except np.linalg.LinAlgError:
            break
        new = x + step
        g_new = total_score(new)
        if not (np.all(np.isfinite(g_new)) and np.abs(g_new).max() < np.abs(g).max()):
            break
        x, g = new, g_new
    return np.asarray(snap(x))


class _OrderedLogit(OrderedModel):
    """OrderedModel (distr="logit") with case weights and the analytic score."""

    def __init__(self, endog, exog, case_weights, **kwds):
        self.case_weights = np.asarray(case_weights, dtype=float)
        super().__init__(endog, exog, distr="logit", **kwds)

    def loglikeobs(self, params):
        return self.case_weights * _polr_loglik_obs(_to_polr(np.asarray(params), self.k_vars),
                                                     self.exog, self.endog, self.k_vars)

    def score_obs(self, params):
        params = np.asarray(params)
        k = self.k_vars
        s = self.case_weights[:, None] * _polr_score_obs(_to_polr(params, k), self.exog,
                                                         self.endog, k)
        # chain rule: zeta_j = t_0 + sum_{i=1..j} exp(t_i)
        s_cuts = np.cumsum(s[:, k:][:, ::-1], axis=1)[:, ::-1]
        s_cuts[:, 1:] *= np.exp(params[k + 1:])
        return np.column_stack((s[:, :k], s_cuts))

    def score(self, params):
        return self.score_obs(params).sum(axis=0)


def _fit_ordered(spec: ModelSpec, mf: _Frame) -> ModelResult:
    frame = mf.frame
    y, levels = _outcome(spec, frame)
    X_full = _design_ordered(spec, frame)
    X = X_full.drop(columns="Intercept")
    Xv = np.ascontiguousarray(X.to_numpy(float))
    w = _weights(spec, frame)
    wts = np.ones(len(y)) if w is None else w
    n, k = Xv.shape
    model = _OrderedLogit(y, Xv, wts)
    flags: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(method="bfgs", maxiter=spec.max_iter or 1000, disp=False,
                        gtol=_ORDERED_GTOL, skip_hessian=True)
    theta = _to_polr(np.asarray(res.params, dtype=float), k)

    def total_score(th):
        return (wts[:, None] * _polr_score_obs(th, Xv, y, k)).sum(axis=0)

    def hessian(th):
        return _polr_hessian(th, Xv, y, k, wts)

    if res.mle_retvals.get("converged", False):    # polish an optimum, not a search cut short (max_iter)
        theta = _polish(theta, total_score, hessian)

    scores = wts[:, None] * _polr_score_obs(theta, Xv, y, k)
    converged = bool(np.all(np.isfinite(theta))) and bool(
        float(np.abs(scores.sum(axis=0)).max()) / wts.sum() < _ORDERED_SCORE_TOL)
    if not converged:
        flags.append("not converged: the score is not zero at the estimates; do not report "
                     "these numbers")
    info = -hessian(theta)
    try:
        np.linalg.cholesky(info)
        bread = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        flags.append("the information matrix is not positive definite (separation or an "
                     "empty category?): standard errors are not available")
        bread = np.full_like(info, np.nan)
    n_par = len(theta)
    clusters = _cluster_ids(spec, frame)
    V, G = _robust_or_classical(spec, bread, scores, bread, clusters, flags)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(V))
    if np.nanmax(np.abs(theta[:k]), initial=0) > 20 or np.nanmax(se, initial=0) > 100:
        flags.append("very large estimates or standard errors: possible (quasi-)separation of "
                     "the outcome by a predictor")
    names = list(X.columns) + [f"{levels[j]}|{levels[j + 1]}" for j in range(len(levels) - 1)]
    counts = np.bincount(y, weights=wts, minlength=len(levels))
    llnull = float(np.sum(counts * np.log(counts / counts.sum())))
    llf = float(np.sum(wts * _polr_loglik_obs(theta, Xv, y, k)))
    survey = spec.weights is not None and spec.weight_kind == "survey"
    ll_report = np.nan if survey else llf
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_clusters=G, pseudo_r2=1 - llf / llnull,
        loglik=ll_report, n_params=n_par, aic=-2 * ll_report + 2 * n_par,
        bic=-2 * ll_report + math.log(n) * n_par, optimizer="bfgs", converged=converged,
        status=_status(flags))
    params = pd.Series(theta, index=names)
    return _result(spec, mf, X_full.design_info, params, V, None, fit, levels=levels,
                   drop_intercept=True)

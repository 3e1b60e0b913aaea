"""Binary logit (statsmodels GLM Binomial's IRLS, :func:`pipeline.stats.leastsq.irls_logit`) with a separation check: the fit's own probabilities
prove overlap (:func:`overlap_certificate`), else the linear programme decides
(:func:`separation_check`). Conventions: :mod:`pipeline.stats.fit`."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.stats.covariance import _cluster_ids, _fit_row, _robust_or_classical, _status
from pipeline.stats.frame import _design, _Frame, _outcome, _weights
from pipeline.stats.leastsq import irls_logit
from pipeline.stats.results import ModelResult, _result
from pipeline.stats.spec import ModelSpec, _err


def separation_check(X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """A direction b with (2y-1) x'b >= 0 for every row and > 0 for some ((quasi-)complete
    separation: the logit MLE does not exist), or None. Linear programme of Konis (2007)."""
    s = 2 * np.asarray(y, dtype=float) - 1
    A = np.asarray(X, dtype=float) * s[:, None]
    scale = np.abs(A).max(axis=0)
    scale[scale == 0] = 1
    A = A / scale
    n, k = A.shape
    from scipy import optimize     # here only: 0.3 s to import, and most stages never fit a logit

    res = optimize.linprog(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(n), bounds=[(-1, 1)] * k,
                           method="highs")
    if res.status != 0 or -res.fun <= 1e-6 * max(1.0, n ** 0.5):
        return None
    return res.x / scale


def overlap_certificate(X: np.ndarray, y: np.ndarray, mu: np.ndarray,
                        weights: np.ndarray | None = None) -> bool:
    """True when a fit's probabilities ``mu`` prove that no direction separates ``y`` -- the
    linear programme of :func:`separation_check` is then not needed.

    Stiemke's lemma: with A = (2y-1) x, either some b has Ab >= 0 and Ab != 0 (separation) or
    some u > 0 has A'u = 0, never both. At the likelihood's maximum u = w |y - mu| gives A'u =
    the score, zero up to the optimiser's tolerance; the least-norm correction d (A'd = -A'u)
    makes it exact. u + d > 0 with a wide margin (every |d| below half of u, every u at least
    1e-6 of the largest: fitted probabilities away from 0 and 1) is the certificate; anything
    less and the caller runs the linear programme as before."""
    s = 2 * np.asarray(y, dtype=float) - 1
    A = np.asarray(X, dtype=float) * s[:, None]
    u = np.abs(np.asarray(y, dtype=float) - mu) * (1.0 if weights is None else weights)
    if not np.all(np.isfinite(u)) or u.min() < 1e-6 * u.max():
        return False
    try:
        d = -A @ np.linalg.solve(A.T @ A, A.T @ u)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(d)) and np.all(np.abs(d) < 0.5 * u))


def _raise_if_separated(spec: ModelSpec, X: pd.DataFrame, Xv: np.ndarray, y: np.ndarray) -> None:
    direction = separation_check(Xv, y)
    if direction is not None:
        big = np.abs(direction) > 1e-6 * np.abs(direction).max()
        terms = [c for c, b in zip(X.columns, big) if b and c != "Intercept"] or list(X.columns)
        raise _err(spec.id, f"the outcome {spec.outcome!r} is perfectly (or quasi-perfectly) "
                   f"separated by {terms}: maximum-likelihood estimates do not exist",
                   "drop or collapse the term(s) named, or use a penalised (Firth) logit")


def _fit_logit(spec: ModelSpec, mf: _Frame) -> ModelResult:
    frame = mf.frame
    y, _ = _outcome(spec, frame)
    X = _design(spec, frame)
    Xv = np.ascontiguousarray(X.to_numpy(float))
    w = _weights(spec, frame)
    n, k = Xv.shape
    flags: list[str] = []
    try:
        res = irls_logit(y, Xv, w, tol=1e-12, maxiter=spec.max_iter or 100)
    except Exception:
        _raise_if_separated(spec, X, Xv, y)   # the error separation explains
        raise
    mu = res.mu
    if not overlap_certificate(Xv, y, mu, w):
        _raise_if_separated(spec, X, Xv, y)       # the linear programme only when needed
    converged = res.converged and bool(np.all(np.isfinite(res.params)))
    if not converged:
        flags.append("not converged: IRLS stopped before the maximum; do not report these "
                     "numbers")
    if np.any((mu < 1e-10) | (mu > 1 - 1e-10)) or res.perfect_prediction:
        flags.append("fitted probabilities numerically 0 or 1 occurred")
    bread = res.normalized_cov
    wts = np.ones(n) if w is None else w
    scores = Xv * (wts * (y - mu))[:, None]
    clusters = _cluster_ids(spec, frame)
    V, G = _robust_or_classical(spec, bread, scores, bread, clusters, flags)
    survey = spec.weights is not None and spec.weight_kind == "survey"
    llf = res.llf
    ll_report = np.nan if survey else llf
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_clusters=G,
        pseudo_r2=1 - llf / res.llnull, loglik=ll_report, n_params=k,
        aic=-2 * ll_report + 2 * k, bic=-2 * ll_report + math.log(n) * k, optimizer="irls",
        converged=converged, status=_status(flags))
    params = pd.Series(res.params, index=X.columns)
    return _result(spec, mf, X.design_info, params, V, None, fit)

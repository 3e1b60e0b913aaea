"""The numerical cores of the OLS/WLS fit and the binary logit's IRLS, without statsmodels'
model and results objects around them (issue 19: those objects cost more than the numbers on
a few thousand rows).

Each function performs statsmodels' own operations in statsmodels' order -- ``WLS.fit``
(method "pinv") with its ``llf``, ``rsquared``, ``rsquared_adj`` and ``scale``; ``GLM.fit``
(Binomial, logit link, IRLS with ``lstsq`` steps and the final ``pinv`` WLS) with its ``llf``
and ``llnull`` -- so the numbers are the same, bit for bit, as statsmodels 0.15's
(``tests/test_leastsq.py`` compares them on many designs). The logit's null model is closed
form, as statsmodels computes it without offsets: the intercept-only fit's probability is the
(weighted) mean of the outcome, found by one pinv WLS of the outcome on a column of ones."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = np.finfo(float).eps


def pinv_extended(x: np.ndarray, rcond: float = 1e-15) -> tuple[np.ndarray, np.ndarray]:
    """The pseudo-inverse of ``x`` and its singular values (statsmodels.tools.pinv_extended)."""
    u, s, vt = np.linalg.svd(x, False)
    s_orig = np.copy(s)
    cutoff = rcond * np.maximum.reduce(s)
    for i in range(min(u.shape[0], vt.shape[1])):
        s[i] = 1.0 / s[i] if s[i] > cutoff else 0.0
    return np.dot(np.transpose(vt), np.multiply(s[:, np.newaxis], np.transpose(u))), s_orig


def k_constant(X: np.ndarray) -> int:
    """(``X`` finite.) 1 when the design has a constant column or an implicit one (dummies that add up to a
    constant), else 0: statsmodels' ``ModelData._handle_constant`` with ``hasconst=None``."""
    # a constant column (max == min: for finite values, every value equal to the first),
    # looked for among the columns constant in the first rows
    first = X[0]
    maybe = np.flatnonzero((X[:8] == first).all(axis=0))
    const_idx = [i for i in maybe if (X[:, i] == first[i]).all()]
    means = [X[:, i].mean() for i in const_idx]
    if any(m != 0 for m in means):
        return 1
    augmented = np.column_stack((np.ones(X.shape[0]), X))
    return int(np.linalg.matrix_rank(X) == np.linalg.matrix_rank(augmented))


@dataclass(frozen=True)
class LeastSquares:
    params: np.ndarray
    normalized_cov: np.ndarray   # (X'WX)^-1
    cov: np.ndarray              # normalized_cov * scale (the classical variance)
    scale: float
    llf: float
    rsquared: float
    rsquared_adj: float


def wls(y: np.ndarray, X: np.ndarray, weights: np.ndarray) -> LeastSquares:
    """``WLS(y, X, weights).fit()`` (OLS with weights of 1): its estimates, (X'WX)^-1, scale,
    log-likelihood and R^2 (centred when the design has a constant, as statsmodels decides)."""
    sw = np.sqrt(weights)
    wendog = y * sw
    wexog = sw[:, None] * X
    pinv, singular = pinv_extended(wexog)
    normalized = np.dot(pinv, np.transpose(pinv))
    rank = np.linalg.matrix_rank(np.diag(singular))
    params = np.dot(pinv, wendog)
    nobs = float(wexog.shape[0])
    df_resid = nobs - rank
    wresid = wendog - np.dot(wexog, params)
    ssr = np.dot(wresid, wresid)
    scale = np.dot(wresid, wresid) / df_resid
    nobs2 = nobs / 2.0
    llf = -np.log(np.sum((wendog - np.dot(wexog, params)) ** 2, axis=0)) * nobs2
    llf -= (1 + np.log(np.pi / nobs2)) * nobs2
    llf += 0.5 * np.sum(np.log(weights))
    kc = k_constant(X)
    if kc:
        mean = np.average(y, weights=weights)
        r2 = 1 - ssr / np.sum(weights * (y - mean) ** 2)
    else:
        r2 = 1 - ssr / np.dot(wendog, wendog)
    r2_adj = 1 - (np.divide(nobs - kc, df_resid) * (1 - r2))
    return LeastSquares(params=params, normalized_cov=normalized, cov=normalized * scale,
                        scale=float(scale), llf=float(llf), rsquared=float(r2),
                        rsquared_adj=float(r2_adj))


# ---------------------------------------------------------------------------------------------
# binary logit by IRLS (statsmodels GLM, family Binomial, link logit)


def _close(a: float, b: float, atol: float) -> bool:
    """``np.allclose(a, b, atol=atol, rtol=0)`` of two numbers (equal infinities are close, NaN
    is not)."""
    return bool(a == b or abs(a - b) <= atol)


def _clip_p(p: np.ndarray) -> np.ndarray:
    return np.clip(p, _EPS, 1.0 - _EPS)


def _deviance(y: np.ndarray, mu: np.ndarray, var_weights: np.ndarray) -> float:
    """Binomial ``deviance`` (scale 1, frequency weights 1)."""
    endog_mu = np.maximum(y / (mu + 1e-20), _EPS)          # np.clip(..., _EPS, np.inf), bit for bit
    n_endog_mu = np.maximum((1.0 - y) / (1.0 - mu + 1e-20), _EPS)
    resid_dev = 2 * (y * np.log(endog_mu) + (1 - y) * np.log(n_endog_mu))
    return np.sum(resid_dev * var_weights)


def binomial_loglike(y: np.ndarray, mu: np.ndarray, var_weights: np.ndarray) -> float:
    """Binomial ``loglike`` of a 0/1 outcome (one trial: the log-gamma terms are 0)."""
    ll = (y * np.log((mu + 1e-20) / (1 - mu + 1e-20)) + np.log(1 - mu + 1e-20)) * var_weights
    return float(np.sum(ll))


@dataclass(frozen=True)
class LogitFit:
    params: np.ndarray
    normalized_cov: np.ndarray   # the inverse information
    mu: np.ndarray               # fitted probabilities
    converged: bool
    perfect_prediction: bool     # statsmodels' PerfectSeparationWarning was due
    llf: float
    llnull: float


def irls_logit(y: np.ndarray, X: np.ndarray, var_weights: np.ndarray | None, tol: float,
               maxiter: int) -> LogitFit:
    """``GLM(y, X, family=Binomial(), var_weights=w).fit(tol=tol, maxiter=maxiter)`` with its
    ``llf`` and ``llnull``. Raises ValueError where statsmodels does (a NaN first deviance,
    non-finite IRLS weights or working outcome)."""
    with np.errstate(all="ignore"):      # statsmodels' fit ran with its warnings caught
        return _irls_logit(y, X, np.ones(len(y)) if var_weights is None else var_weights,
                           tol, maxiter)


def _irls_logit(y: np.ndarray, X: np.ndarray, vw: np.ndarray, tol: float,
                maxiter: int) -> LogitFit:
    p = _clip_p((y + 0.5) / 2)
    mu = (y + 0.5) / 2
    lin_pred = np.log(p / (1.0 - p))
    dev = _deviance(y, mu, vw)
    if np.isnan(dev):
        raise ValueError("The first guess on the deviance function returned a nan.  This could "
                         "be a boundary  problem and should be reported.")
    deviances = [np.inf, dev]
    converged, perfect = False, False
    for iteration in range(maxiter):
        pc = _clip_p(mu)
        deriv = 1.0 / (pc * (1 - pc))
        weights = vw * (1.0 / (deriv ** 2 * (pc * (1 - pc))))
        wlsendog = lin_pred + deriv * (y - mu)
        w_half = np.sqrt(weights)
        if not np.all(np.isfinite(w_half)):
            raise ValueError("NaN, inf or invalid value detected in weights, estimation infeasible.")
        if not np.all(np.isfinite(wlsendog)):
            raise ValueError("NaN, inf or invalid value detected in endog, estimation infeasible.")
        params = np.linalg.lstsq(np.asarray(w_half)[:, None] * X, w_half * wlsendog, rcond=-1)[0]
        lin_pred = np.dot(X, params)
        mu = 1.0 / (1.0 + np.exp(-lin_pred))
        deviances.append(_deviance(y, mu, vw))
        if np.all(np.abs(mu - y) <= 1e-8):           # np.allclose(mu - y, 0), without its walk
            perfect = True
        converged = _close(deviances[iteration + 1], deviances[iteration + 2], tol)
        if converged:
            break
    sw = np.sqrt(weights)
    pinv, _ = pinv_extended(sw[:, None] * X)
    params = np.dot(pinv, wlsendog * sw)
    mu = 1.0 / (1.0 + np.exp(-np.dot(X, params)))
    # the null model: WLS of y on a constant with weights vw (statsmodels' GLMResults.null)
    ones_pinv, _ = pinv_extended(np.sqrt(vw)[:, None] * np.ones((len(y), 1)))
    null = np.dot(np.ones((len(y), 1)), np.dot(ones_pinv, y * np.sqrt(vw)))
    return LogitFit(params=params, normalized_cov=np.dot(pinv, np.transpose(pinv)), mu=mu,
                    converged=converged, perfect_prediction=perfect,
                    llf=binomial_loglike(y, mu, vw), llnull=binomial_loglike(y, null, vw))


"""Linear mixed models: the random-intercept model by lme4's profiled deviance, random slopes by
statsmodels' MixedLM, lme4's covariance of the fixed effects and between-within degrees of
freedom. Conventions: :mod:`pipeline.stats.fit`."""
from __future__ import annotations

import itertools
import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.core.digits import snap
from pipeline.stats.covariance import COMPONENT_COLUMNS, _cluster_codes, _fit_row, _status
from pipeline.stats.frame import _check_rank, _design, _Frame, _outcome
from pipeline.stats.results import ModelResult, _result
from pipeline.stats.spec import ModelSpec, _err

if TYPE_CHECKING:
    from statsmodels.regression.mixed_linear_model import MixedLM

_MIXED_GTOL = 1e-10
_MIXED_SCORE_TOL = 1e-2  # largest profile-likelihood score accepted at a mixed-model optimum

_SINGULAR_THETA = 1e-4  # lme4's isSingular tolerance on the relative Cholesky factor


def _fit_mixed(spec: ModelSpec, mf: _Frame) -> ModelResult:
    """A linear mixed model: the random-intercept model by lme4's profiled deviance
    (:func:`_fit_random_intercept`), a model with random slopes by statsmodels' MixedLM (BFGS,
    then Powell), with lme4's covariance of the fixed effects when it converged."""
    frame = mf.frame
    y, _ = _outcome(spec, frame)
    X = _design(spec, frame)
    Z = pd.DataFrame({"Intercept": 1.0, **{s: frame[s].to_numpy(float) for s in spec.slopes}},
                     index=frame.index)
    _check_rank(spec.id, Z, "random-effects design")
    groups = frame[spec.group].to_numpy()
    codes, n_groups = _cluster_codes(groups)
    if n_groups < 2:
        raise _err(spec.id, f"grouping variable {spec.group!r} has a single value")
    if not spec.slopes:
        return _fit_random_intercept(spec, mf, X, y, codes, n_groups, groups)
    from statsmodels.regression.mixed_linear_model import MixedLM   # only random slopes: ~0.5 s to import

    model = MixedLM(y, X, groups=groups, exog_re=Z)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(reml=spec.reml, method=["bfgs", "powell"], gtol=_MIXED_GTOL,
                            maxiter=spec.max_iter or 2000)
        except np.linalg.LinAlgError as exc:
            raise _err(spec.id, f"the mixed model could not be fitted ({exc})",
                       "check for groups with a single observation or a constant slope "
                       "variable") from None
    messages = " ".join(str(w.message) for w in caught)
    n, k = X.shape
    q = Z.shape[1]
    llf = float(res.llf)
    cov_re = np.asarray(res.cov_re, dtype=float)
    scale = float(res.scale)
    converged, flags = _slopes_fit_flags(model, res, messages, llf, cov_re, scale)
    optimizer = "bfgs+powell" if "powell" in messages.lower() else "bfgs"
    fe = list(X.columns)
    params = pd.Series(np.asarray(res.fe_params, dtype=float), index=fe)
    V = _gls_vcov(X.to_numpy(float), Z.to_numpy(float), groups, cov_re, scale) if converged \
        else np.asarray(res.cov_params(), dtype=float)[:k, :k]
    n_params = k + q * (q + 1) // 2 + 1
    components = _slope_components(spec, list(Z.columns), cov_re, scale)
    tau2 = float(cov_re[0, 0])
    term_df = None
    if spec.df_method == "between_within":
        term_df = between_within_df(spec.id, X, groups)
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_groups=n_groups, loglik=llf,
        t_df=None if term_df is None else float(np.min(term_df)),
        n_params=n_params, aic=-2 * llf + 2 * n_params, bic=-2 * llf + math.log(n) * n_params,
        sigma=math.sqrt(scale) if scale > 0 else np.nan,
        icc=tau2 / (tau2 + scale) if q == 1 else np.nan, var_intercept=tau2,
        residual_var=scale, optimizer=optimizer, converged=converged, status=_status(flags))
    return _result(spec, mf, X.design_info, params, V, term_df, fit, components)


def _slopes_fit_flags(model: MixedLM, res, messages: str, llf: float, cov_re: np.ndarray,
                      scale: float) -> tuple[bool, list[str]]:
    """Whether a random-slopes fit converged, and the flags that qualify it: not converged, a
    boundary (singular) fit, an imprecise optimum (the profile score at the end point), a
    Hessian that is not positive definite (from the optimiser's warnings, ``messages``)."""
    flags: list[str] = []
    converged = bool(res.converged and np.isfinite(llf) and np.all(np.isfinite(cov_re))
                     and scale > 0)
    if not converged:
        flags.append("not converged: the optimiser stopped before the maximum; do not report "
                     "these numbers (simplify the random part or rescale predictors)")
    if np.isfinite(cov_re).all() and scale > 0:
        theta_min = float(np.sqrt(max(np.linalg.eigvalsh(cov_re / scale).min(), 0.0)))
        if theta_min < _SINGULAR_THETA or "boundary" in messages:
            flags.append("boundary (singular) fit: a random-effect variance or correlation is "
                         "at the edge of its range; consider dropping that random term")
    if converged:
        # Powell starts from where BFGS stopped; check that the end point is a maximum
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                score = np.asarray(model.score(res.params_object, profile_fe=True), dtype=float)
            except (np.linalg.LinAlgError, ValueError):
                score = np.array([np.nan])
        if not np.all(np.isfinite(score)) or np.abs(score).max() > _MIXED_SCORE_TOL:
            flags.append(f"imprecise optimum (largest score {np.abs(score).max():.2g}): "
                         "estimates may be off in the third digit")
    if "Hessian" in messages and "not positive definite" in messages:
        flags.append("the Hessian is not positive definite: standard errors are unreliable")
    return converged, flags


def _slope_components(spec: ModelSpec, re_names: list[str], cov_re: np.ndarray, scale: float) -> pd.DataFrame:
    """The variance components of a random-slopes model (:data:`COMPONENT_COLUMNS`): each
    random effect's variance, each pair's covariance and correlation, the residual variance."""
    q = len(re_names)
    rows = []
    for i, a in enumerate(re_names):
        rows.append((spec.id, spec.group, "var", a, None, cov_re[i, i]))
    for i, j in itertools.combinations(range(q), 2):
        rows.append((spec.id, spec.group, "cov", re_names[i], re_names[j], cov_re[i, j]))
        denom = math.sqrt(cov_re[i, i] * cov_re[j, j])
        rows.append((spec.id, spec.group, "cor", re_names[i], re_names[j],
                     cov_re[i, j] / denom if denom > 0 else np.nan))
    rows.append((spec.id, "Residual", "residual", None, None, scale))
    return pd.DataFrame(rows, columns=list(COMPONENT_COLUMNS))


def _ri_profile(s: float, parts: tuple, n: int, p: int, reml: bool) -> tuple[float, np.ndarray, float, np.ndarray]:
    """Profiled deviance of a random-intercept model at the relative standard deviation
    ``s`` = tau/sigma (lme4's theta), from group sums only: with w_j = s^2 / (1 + n_j s^2),
    X'V*^-1 X = X'X - sum_j w_j x_j x_j' (x_j the group's column sums), likewise X'V*^-1 y and
    y'V*^-1 y; log|V*| = sum_j log(1 + n_j s^2). Returns the deviance (-2 log-likelihood, REML
    criterion for REML, both as lme4 reports them), beta, the penalised residual sum of squares
    and the Cholesky factor of X'V*^-1 X."""
    XtX, Xty, yty, n_j, Sx, Sy = parts
    theta = s * s
    w = theta / (1.0 + n_j * theta)
    A = XtX - (Sx * w[:, None]).T @ Sx
    b = Xty - Sx.T @ (w * Sy)
    L = np.linalg.cholesky(A)
    z = np.linalg.solve(L, b)
    beta = np.linalg.solve(L.T, z)
    r = float(yty - np.sum(w * Sy * Sy) - z @ z)
    logdet_v = float(np.sum(np.log1p(n_j * theta)))
    if reml:
        dof = n - p
        dev = dof * (1 + math.log(2 * math.pi * r / dof)) + logdet_v + 2 * float(np.sum(np.log(np.diag(L))))
    else:
        dev = n * (1 + math.log(2 * math.pi * r / n)) + logdet_v
    return dev, beta, r, L


def _ri_score(s: float, parts: tuple, n: int, p: int, reml: bool) -> float:
    """Derivative of the profiled deviance of :func:`_ri_profile` in theta = s^2, analytic: with
    d_j = 1 + n_j theta and e_j the group sums of the residuals at beta(theta),
    d r / d theta = -sum_j e_j^2 / d_j^2 and d log|X'V*^-1 X| / d theta = -sum_j |L^-1 x_j|^2 / d_j^2, so
    ML: n r'/r + sum_j n_j / d_j; REML: (n - p) r'/r + sum_j n_j / d_j - sum_j |L^-1 x_j|^2 / d_j^2.
    Its root is the optimum to near machine precision (a search on deviance values finds it only
    to about 1e-8, and that last part depends on the CPU)."""
    XtX, Xty, yty, n_j, Sx, Sy = parts
    _, beta, r, L = _ri_profile(s, parts, n, p, reml)
    d = 1.0 + n_j * s * s
    e = Sy - Sx @ beta
    dr = -float(np.sum(e * e / (d * d)))
    g = (n - p if reml else n) * dr / r + float(np.sum(n_j / d))
    if reml:
        u = np.linalg.solve(L, Sx.T)
        g -= float(np.sum(np.sum(u * u, axis=0) / (d * d)))
    return g


def _polish_theta(s_hat: float, parts: tuple, n: int, p: int, reml: bool) -> float:
    """The relative standard deviation at the root of :func:`_ri_score` near the search's
    ``s_hat`` (Brent's method on the bracketed root), rounded to 8 significant digits
    (:func:`pipeline.core.digits.snap`), so every statistic that follows is the same on every
    machine; ``s_hat`` itself when no sign change is found within 10 % of it."""
    t_hat = s_hat * s_hat

    def score(t: float) -> float:
        return _ri_score(math.sqrt(t), parts, n, p, reml)

    for width in (1e-6, 1e-4, 1e-2, 1e-1):
        lo, hi = t_hat * (1 - width), t_hat * (1 + width)
        g_lo, g_hi = score(lo), score(hi)
        if np.isfinite(g_lo) and np.isfinite(g_hi) and g_lo < 0 < g_hi:
            from scipy import optimize      # here only: 0.3 s to import (stages that never fit a mixed model)

            t = optimize.brentq(score, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=200)
            return float(snap(math.sqrt(t)))
    return s_hat


def _fit_random_intercept(spec: ModelSpec, mf: _Frame, X: pd.DataFrame, y: np.ndarray, codes: np.ndarray,
                          n_groups: int, groups: np.ndarray) -> ModelResult:
    """A random-intercept model (no random slopes) by its exact one-dimensional profiled
    likelihood, as lme4 fits it: the fixed effects and the residual variance are profiled out,
    the deviance is a function of theta = tau/sigma alone and is computed from group sums
    (:func:`_ri_profile`), and theta is found by bounded Brent search (boundary theta = 0 checked)
    and polished to the root of the deviance's derivative (:func:`_polish_theta`).
    The same numbers as statsmodels' MixedLM at its optimum (log-likelihood to 1e-12, fixed
    effects to 1e-10; tested) in a fraction of the time: no per-group loop."""
    Xv = X.to_numpy(float)
    n, k = Xv.shape
    n_j = np.bincount(codes, minlength=n_groups).astype(float)
    Sx = np.zeros((n_groups, k))
    np.add.at(Sx, codes, Xv)
    Sy = np.bincount(codes, weights=y, minlength=n_groups)
    parts = (Xv.T @ Xv, Xv.T @ y, float(y @ y), n_j, Sx, Sy)

    def deviance(s: float) -> float:
        return _ri_profile(s, parts, n, k, spec.reml)[0]

    try:
        hi, res = 10.0, None
        for _ in range(6):   # widen the search while the optimum sits at the upper bound
            from scipy import optimize

            res = optimize.minimize_scalar(deviance, bounds=(0.0, hi), method="bounded",
                                           options={"xatol": 1e-12, "maxiter": spec.max_iter or 2000})
            if res.x < 0.99 * hi:
                break
            hi *= 10
        s_hat = float(res.x)
        if deviance(0.0) <= res.fun:
            s_hat = 0.0
        elif res.success and s_hat < 0.99 * hi:    # an optimum, not a search cut short (max_iter)
            s_hat = _polish_theta(s_hat, parts, n, k, spec.reml)
        dev, beta, r, L = _ri_profile(s_hat, parts, n, k, spec.reml)
    except np.linalg.LinAlgError as exc:
        raise _err(spec.id, f"the mixed model could not be fitted ({exc})",
                   "check the fixed-effects design for collinear columns") from None
    flags: list[str] = []
    converged = bool(res.success and np.isfinite(dev) and r > 0 and s_hat < 0.99 * hi)
    if not converged:
        flags.append("not converged: the optimiser stopped before the maximum; do not report "
                     "these numbers (simplify the random part or rescale predictors)")
    if s_hat < _SINGULAR_THETA:
        flags.append("boundary (singular) fit: a random-effect variance or correlation is "
                     "at the edge of its range; consider dropping that random term")
    scale = r / (n - k if spec.reml else n)
    tau2 = s_hat * s_hat * scale
    llf = -dev / 2
    params = pd.Series(beta, index=list(X.columns))
    V = scale * np.linalg.inv(L @ L.T)
    n_params = k + 2
    components = pd.DataFrame([(spec.id, spec.group, "var", "Intercept", None, tau2),
                               (spec.id, "Residual", "residual", None, None, scale)],
                              columns=list(COMPONENT_COLUMNS))
    term_df = between_within_df(spec.id, X, groups) if spec.df_method == "between_within" else None
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_groups=n_groups, loglik=llf,
        t_df=None if term_df is None else float(np.min(term_df)),
        n_params=n_params, aic=-2 * llf + 2 * n_params, bic=-2 * llf + math.log(n) * n_params,
        sigma=math.sqrt(scale) if scale > 0 else np.nan, icc=tau2 / (tau2 + scale), var_intercept=tau2,
        residual_var=scale, optimizer="profiled-brent", converged=converged, status=_status(flags))
    return _result(spec, mf, X.design_info, params, V, term_df, fit, components)


def between_within_df(model_id: str, X: pd.DataFrame, groups: np.ndarray) -> np.ndarray:
    """Between-within denominator degrees of freedom of each fixed effect (Schluchter & Elashoff
    1990; the partition behind SAS ``ddfm=betwithin``), column by column.

    A design column is *between* when it is constant within every group (the intercept and
    group-level variables), else *within* (it varies inside at least one group; an interaction
    of a group-level and an individual-level variable is within). With G groups, N rows, p_b
    between and p_w within columns: between columns get G - p_b, within columns N - G - p_w.
    Unlike SAS, the within df are not further split by subject-by-effect interactions of
    classification effects: every dummy column counts as one parameter.
    """
    values = X.to_numpy(float)
    codes, G = _cluster_codes(groups)
    frame = pd.DataFrame(values)
    spread = (frame.groupby(codes).max() - frame.groupby(codes).min()).to_numpy().max(axis=0)
    scale = np.abs(values).max(axis=0)
    within = spread > 1e-10 * np.where(scale > 0, scale, 1.0)
    n = values.shape[0]
    p_w = int(within.sum())
    p_b = len(within) - p_w
    df_b, df_w = G - p_b, n - G - p_w
    if (p_b and df_b < 1) or (p_w and df_w < 1):
        raise _err(model_id, f"between-within degrees of freedom are not positive (G={G} groups, "
                   f"{p_b} between-group terms: {df_b}; N={n} rows, {p_w} within-group terms: "
                   f"{df_w})", "use df_method: z, or fewer terms")
    return np.where(within, float(df_w), float(df_b))


def _gls_vcov(X: np.ndarray, Z: np.ndarray, groups: np.ndarray, cov_re: np.ndarray,
              scale: float) -> np.ndarray:
    """Covariance of the fixed effects, (X' V^-1 X)^-1 with V = Z Psi Z' + sigma^2 I per group,
    as lme4's vcov computes it (also on the boundary, where the inverse Hessian of the joint
    parameters that statsmodels reports is not usable)."""
    codes, n_groups = _cluster_codes(groups)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    info = np.zeros((X.shape[1], X.shape[1]))
    for rows in np.split(order, bounds):
        Zg, Xg = Z[rows], X[rows]
        Vg = Zg @ cov_re @ Zg.T + scale * np.eye(len(rows))
        info += Xg.T @ np.linalg.solve(Vg, Xg)
    V = np.linalg.inv(info)
    return (V + V.T) / 2

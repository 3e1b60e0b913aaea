"""The one-factor maximum-likelihood model behind omega (:mod:`pipeline.stats.reliability`):
the concentrated ML discrepancy over the uniquenesses (as R's ``factanal``), fitted by L-BFGS-B
and polished by Newton's method to the root of its gradient, rounded to 8 significant digits so
that every machine lands on the same numbers; or, from a nearby fit's uniquenesses, by Newton's
method alone (the bootstrap's replications).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from pipeline.core.digits import snap

_PSI_LOWER = 1e-4  # lower bound of a uniqueness (correlation metric) in the ML fit


@dataclass(frozen=True)
class OneFactorFit:
    """Maximum-likelihood fit of ``Sigma = lambda lambda' + diag(theta)`` (factor variance 1).

    ``loadings`` and ``residual_variances`` are in the metric of the covariance matrix that was
    fitted; ``std_loadings`` are the standardised loadings (lavaan's ``std.all``). ``fmin`` is
    lavaan's ``fmin`` (half the ML discrepancy) and ``chisq = 2 * n * fmin`` its test statistic.
    ``heywood`` is true when a uniqueness sits on its lower bound (a Heywood case, where lavaan
    would report a negative variance).
    """

    loadings: np.ndarray = field(compare=False)
    residual_variances: np.ndarray = field(compare=False)
    std_loadings: np.ndarray = field(compare=False)
    fmin: float
    converged: bool
    heywood: bool
    iterations: int



def _fa_objective(psi: np.ndarray, r: np.ndarray) -> tuple[float, np.ndarray]:
    """Concentrated ML discrepancy of a one-factor model and its gradient in the uniquenesses.

    For uniquenesses ``psi`` the best loadings are ``sqrt(psi) v sqrt(g1 - 1)`` with ``g1, v``
    the largest eigenpair of ``psi^-1/2 R psi^-1/2``, and the discrepancy is
    ``sum_{j > 1} (g_j - log g_j - 1)`` (Lawley & Maxwell; as R's ``factanal``).
    """
    s = 1.0 / np.sqrt(psi)
    g, v = np.linalg.eigh(r * np.outer(s, s))
    g, v = g[::-1], v[:, ::-1]
    rest = g[1:]
    f = float(np.sum(rest - np.log(rest) - 1.0))
    lam = np.sqrt(psi) * v[:, 0] * np.sqrt(max(g[0] - 1.0, 0.0))
    grad = (lam ** 2 + psi - np.diag(r)) / psi ** 2
    return f, grad


def _fa_gradients(points: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The gradient of :func:`_fa_objective` at each row of ``points``, every number as that
    function computes it (the same elementwise operations; numpy's stacked ``eigh`` calls
    LAPACK on each matrix as a single call does), in one call instead of one per point."""
    s = 1.0 / np.sqrt(points)
    g, v = np.linalg.eigh(r * (s[:, :, None] * s[:, None, :]))
    lam = np.sqrt(points) * v[:, :, -1] * np.sqrt(np.maximum(g[:, -1] - 1.0, 0.0))[:, None]
    return (lam ** 2 + points - np.diag(r)) / points ** 2


def _newton_step(x: np.ndarray, r: np.ndarray, free: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """One Newton step on the free uniquenesses towards the root of the gradient of
    :func:`_fa_objective` (Jacobian by central differences of the analytic gradient): the new
    point, the step and the Jacobian; None when the Jacobian is singular or the step would leave
    the bounds."""
    h = 1e-6 * x[free]
    points = np.repeat(x[None, :], 2 * free.size + 1, axis=0)   # x and x -+ h, in one batch
    points[1 + 2 * np.arange(free.size), free] += h
    points[2 + 2 * np.arange(free.size), free] -= h
    grads = _fa_gradients(points, r)[:, free]
    jac = ((grads[1::2] - grads[2::2]) / (2 * h)[:, None]).T
    try:
        step = np.linalg.solve(jac, grads[0])
    except np.linalg.LinAlgError:
        return None
    new = x.copy()
    new[free] -= step
    if not (np.all(np.isfinite(new)) and np.all(new[free] > _PSI_LOWER) and np.all(new <= 1.0)):
        return None
    return new, step, jac


def _polish_uniquenesses(psi: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The uniquenesses at the root of the gradient of :func:`_fa_objective` near the
    optimiser's ``psi`` (Newton's method on the free ones, :func:`_newton_step`), rounded to 8
    significant digits (:func:`pipeline.core.digits.snap`): the optimiser stops at a tolerance
    and where it stops depends on the CPU's last digits; the root does not. ``psi`` unchanged
    when a step would leave the bounds."""
    free = np.flatnonzero(psi > _PSI_LOWER * (1 + 1e-6))
    if free.size == 0:
        return psi
    x = psi.copy()
    for _ in range(6):
        stepped = _newton_step(x, r, free)
        if stepped is None:
            return psi
        x, step, _ = stepped
        if np.max(np.abs(step) / x[free]) < 1e-14:
            break
    return np.asarray(snap(x))


def _warm_uniquenesses(start: np.ndarray, r: np.ndarray, max_iter: int = 25) -> np.ndarray | None:
    """The same root as :func:`one_factor_ml`'s optimiser and polish, found by Newton's method
    alone from ``start`` (a nearby fit's uniquenesses: a bootstrap replication starts from the
    full data's), or None when that is not sure to be the same: a uniqueness of ``start`` on
    its bound (a Heywood case), a step that leaves the bounds, no convergence within
    ``max_iter`` steps, or a root that is not a minimum (Jacobian not positive definite).
    Rounded as the polish rounds, so the result is the one the optimiser's path gives (the
    bootstrap's omegas are the same numbers; tests/test_reliability.py) at a fifth of the cost."""
    free = np.flatnonzero(start > _PSI_LOWER * (1 + 1e-6))
    if free.size != start.size:
        return None
    x = np.asarray(start, dtype=float).copy()
    for _ in range(max_iter):
        stepped = _newton_step(x, r, free)
        if stepped is None:
            return None
        x, step, jac = stepped
        if np.max(np.abs(step) / x[free]) < 1e-14:
            return np.asarray(snap(x)) if np.linalg.eigvalsh((jac + jac.T) / 2)[0] > 0 else None
    return None


def warm_uniquenesses_many(start: np.ndarray, rs: np.ndarray, max_iter: int = 25) -> list[np.ndarray | None]:
    """:func:`_warm_uniquenesses` from one ``start`` for each correlation matrix of the stack
    ``rs`` (the bootstrap's replications), the Newton steps of all the matrices still iterating
    taken together: stacked ``eigh`` and ``solve`` call LAPACK on each matrix as a single call
    does and every other operation is elementwise, so each result is, bit for bit, the one
    :func:`_warm_uniquenesses` gives for that matrix alone (tests/test_reliability.py)."""
    start = np.asarray(start, dtype=float)
    rs = np.asarray(rs, dtype=float)
    n, p = len(rs), start.size
    out: list[np.ndarray | None] = [None] * n
    if n == 0 or not np.all(start > _PSI_LOWER * (1 + 1e-6)):
        return out
    x = np.repeat(start[None, :], n, axis=0)
    live = np.arange(n)
    cols = np.arange(p)
    for _ in range(max_iter):
        if live.size == 0:
            break
        xl, rl = x[live], rs[live]
        h = 1e-6 * xl                                              # (m, p)
        points = np.repeat(xl[:, None, :], 2 * p + 1, axis=1)     # x and x -+ h per matrix
        points[:, 1 + 2 * cols, cols] += h
        points[:, 2 + 2 * cols, cols] -= h
        sc = 1.0 / np.sqrt(points)
        g, v = np.linalg.eigh(rl[:, None] * (sc[:, :, :, None] * sc[:, :, None, :]))
        lam = np.sqrt(points) * v[..., -1] * np.sqrt(np.maximum(g[..., -1] - 1.0, 0.0))[..., None]
        diag = np.diagonal(rl, axis1=1, axis2=2)[:, None, :]
        grads = (lam ** 2 + points - diag) / points ** 2           # (m, 2p + 1, p)
        jac = np.swapaxes((grads[:, 1::2] - grads[:, 2::2]) / (2 * h)[:, :, None], 1, 2)
        try:
            step = np.linalg.solve(jac, grads[:, 0, :, None])[..., 0]
            ok = np.ones(live.size, dtype=bool)
        except np.linalg.LinAlgError:                              # one singular: each on its own
            step, ok = np.zeros_like(xl), np.zeros(live.size, dtype=bool)
            for i in range(live.size):
                try:
                    step[i], ok[i] = np.linalg.solve(jac[i], grads[i, 0]), True
                except np.linalg.LinAlgError:
                    pass
        new = xl - step
        ok &= np.all(np.isfinite(new), axis=1) & np.all(new > _PSI_LOWER, axis=1) & np.all(new <= 1.0, axis=1)
        x[live] = np.where(ok[:, None], new, xl)
        done = ok & (np.max(np.abs(step) / new, axis=1) < 1e-14)
        for i in np.flatnonzero(done):
            if np.linalg.eigvalsh((jac[i] + jac[i].T) / 2)[0] > 0:
                out[live[i]] = np.asarray(snap(new[i]))
        live = live[ok & ~done]
    return out


_NOT_GIVEN = object()


def one_factor_ml(cov: np.ndarray, start: np.ndarray | None = None, warm: object = _NOT_GIVEN) -> OneFactorFit:
    """ML fit of one factor (variance 1) to a positive-definite covariance matrix.

    Fits on the correlation scale with L-BFGS-B over the uniquenesses (bounded below by 1e-4)
    and rescales; the ML solution is scale equivariant, so this is the ML fit of ``cov``, the
    same as ``lavaan::cfa(..., std.lv = TRUE)`` on that matrix when no uniqueness is on its
    bound. Raises ``numpy.linalg.LinAlgError`` if ``cov`` is not positive definite; callers in
    this module check that first. ``start``: uniquenesses (on the correlation scale) of a
    nearby fit to try Newton's method from first (:func:`_warm_uniquenesses`; the same result);
    ``warm``: that method's result when the caller has it already (:func:`warm_uniquenesses_many`).
    """
    cov = np.asarray(cov, dtype=float)
    p = cov.shape[0]
    sd = np.sqrt(np.diag(cov))
    r = cov / np.outer(sd, sd)
    np.linalg.cholesky(r)  # not positive definite -> LinAlgError
    if warm is not _NOT_GIVEN:
        psi = warm
    else:
        psi = None if start is None else _warm_uniquenesses(np.asarray(start, dtype=float), r)
    success, nit = True, 0
    if psi is None:
        first = np.clip((1.0 - 0.5 / p) / np.diag(np.linalg.inv(r)), _PSI_LOWER, 1.0)
        res = optimize.minimize(_fa_objective, first, args=(r,), jac=True, method="L-BFGS-B",
                                bounds=[(_PSI_LOWER, 1.0)] * p,
                                options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 2000, "maxcor": 20})
        psi, success, nit = _polish_uniquenesses(res.x, r), res.success, res.nit
    s = 1.0 / np.sqrt(psi)
    g, v = np.linalg.eigh(r * np.outer(s, s))
    lam = np.sqrt(psi) * v[:, -1] * np.sqrt(max(g[-1] - 1.0, 0.0))
    if lam.sum() < 0:
        lam = -lam
    theta = psi.copy()
    # Exact ML discrepancy of the fitted model on the correlation scale (scale invariant).
    sigma = np.outer(lam, lam) + np.diag(theta)
    _, logdet_sigma = np.linalg.slogdet(sigma)
    _, logdet_r = np.linalg.slogdet(r)
    f_ml = logdet_sigma + np.trace(np.linalg.solve(sigma, r)) - logdet_r - p
    _, grad = _fa_objective(psi, r)
    free = psi > _PSI_LOWER * (1 + 1e-6)
    converged = bool(success or np.max(np.abs(grad[free]), initial=0.0) < 1e-6)
    std = lam / np.sqrt(np.diag(sigma))
    return OneFactorFit(loadings=lam * sd, residual_variances=theta * sd ** 2, std_loadings=std,
                        fmin=float(f_ml / 2.0), converged=converged, heywood=bool((~free).any()),
                        iterations=int(nit))

"""The tail probabilities and quantiles the tables need, from :mod:`scipy.special`.

``scipy.stats`` computes ``chi2.sf``, ``t.ppf``, ``norm.ppf`` … with these same special
functions (the same numbers, bit for bit: ``tests/test_distributions.py``), but importing it
builds every distribution's docstring, about 0.5-1 s of CPU in every stage process that touches
it. The rarer tests (Fisher's exact test, ANOVA) import ``scipy.stats`` where they are used. Arguments must be in the distributions' domain (degrees of freedom > 0);
NaN gives NaN.
"""
from __future__ import annotations

import numpy as np
from scipy import special


def _out(value: np.ndarray | float) -> np.ndarray | np.float64:
    arr = np.asarray(value, dtype=float)
    return arr[()] if arr.ndim == 0 else arr


def chi2_sf(x, df):
    """``scipy.stats.chi2.sf(x, df)``: 1 for x <= 0."""
    x = np.asarray(x, dtype=float)
    return _out(np.where(x > 0, special.chdtrc(df, np.maximum(x, 0.0)), np.where(np.isnan(x), np.nan, 1.0)))


def chi2_cdf(x, df):
    """``scipy.stats.chi2.cdf(x, df)``: 0 for x <= 0."""
    x = np.asarray(x, dtype=float)
    return _out(np.where(x > 0, special.chdtr(df, np.maximum(x, 0.0)), np.where(np.isnan(x), np.nan, 0.0)))


def t_sf(x, df):
    """``scipy.stats.t.sf(x, df)``."""
    return _out(special.stdtr(df, -np.asarray(x, dtype=float)))


def t_ppf(q, df):
    """``scipy.stats.t.ppf(q, df)`` for 0 < q < 1."""
    return _out(special.stdtrit(df, q))


def norm_sf(x):
    """``scipy.stats.norm.sf(x)``."""
    return _out(special.ndtr(-np.asarray(x, dtype=float)))


def norm_ppf(q):
    """``scipy.stats.norm.ppf(q)`` for 0 < q < 1."""
    return _out(special.ndtri(q))


def f_ppf(q, dfn, dfd):
    """``scipy.stats.f.ppf(q, dfn, dfd)`` for 0 < q < 1."""
    return _out(special.fdtri(dfn, dfd, q))


def f_sf(x, dfn, dfd):
    """``scipy.stats.f.sf(x, dfn, dfd)``: 1 for x <= 0."""
    x = np.asarray(x, dtype=float)
    return _out(np.where(x > 0, special.fdtrc(dfn, dfd, np.maximum(x, 0.0)), np.where(np.isnan(x), np.nan, 1.0)))


def _ncx2(func, central, x, df, nc, below: float, above: float):
    """A noncentral chi-square function where scipy.stats evaluates it (0 < x < inf; ``central``
    for nc = 0), ``below`` at x <= 0, ``above`` at infinity, NaN for NaN."""
    x, nc = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(nc, dtype=float))
    inside = (x > 0) & np.isfinite(x)
    safe = np.where(inside, x, 1.0)             # the functions are not called outside their domain
    value = np.where(nc != 0, func(safe, df, np.where(nc != 0, nc, 1.0)), central(df, safe))
    edge = np.where(np.isnan(x), np.nan, np.where(x > 0, above, below))
    return _out(np.where(inside, value, edge))


def ncx2_cdf(x, df, nc):
    """``scipy.stats.ncx2.cdf(x, df, nc)``: ``special.chndtr``, as scipy.stats calls it for nc > 0
    (the central chi-square for nc = 0); 0 for x <= 0, 1 at infinity."""
    return _ncx2(special.chndtr, special.chdtr, x, df, nc, 0.0, 1.0)


def ncx2_sf(x, df, nc):
    """``scipy.stats.ncx2.sf(x, df, nc)``: the boost function scipy.stats calls for nc > 0
    (``scipy.special._ufuncs._ncx2_sf``: not in scipy.special's public names; the test compares
    it with scipy.stats over a grid, so a scipy that moves it fails there); 1 for x <= 0, 0 at
    infinity."""
    from scipy.special import _ufuncs

    return _ncx2(_ufuncs._ncx2_sf, special.chdtrc, x, df, nc, 1.0, 0.0)


def pearson_r(x, y) -> tuple[float, float]:
    """``scipy.stats.pearsonr(x, y)`` for two 1-D samples of n >= 3 values, neither constant:
    the correlation and its two-sided p-value, computed the way scipy 1.17 computes them (the
    deviations scaled by their largest before the norm, ``np.vecdot``, the null distribution
    Beta(n/2 - 1, n/2 - 1) on (-1, 1) through ``special.betaincc``), so the same numbers bit for
    bit (``tests/test_distributions.py``)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = float(len(x))
    xm, ym = x - np.mean(x, axis=-1, keepdims=True), y - np.mean(y, axis=-1, keepdims=True)
    xmax, ymax = np.max(np.abs(xm), axis=-1, keepdims=True), np.max(np.abs(ym), axis=-1, keepdims=True)
    normxm = xmax * np.linalg.norm(xm / xmax, ord=2, axis=-1, keepdims=True)     # along an axis: not dot(x, x)
    normym = ymax * np.linalg.norm(ym / ymax, ord=2, axis=-1, keepdims=True)
    r = np.clip(np.vecdot(xm / normxm, ym / normym, axis=-1), -1.0, 1.0)
    ab = np.asarray(n / 2 - 1, dtype=float)
    p = 2 * special.betaincc(ab, ab, (np.abs(r) - (-1)) / 2)
    return float(r), float(p)

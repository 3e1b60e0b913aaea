"""The tail probabilities and quantiles the tables need, from :mod:`scipy.special`.

``scipy.stats`` computes ``chi2.sf``, ``t.ppf``, ``norm.ppf`` … with these same special
functions (the same numbers, bit for bit: ``tests/test_distributions.py``), but importing it
builds every distribution's docstring, about 0.5-1 s of CPU in every stage process that touches
it. The rarer tests (noncentral chi-square, Fisher's exact test, ANOVA) import ``scipy.stats``
where they are used. Arguments must be in the distributions' domain (degrees of freedom > 0);
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

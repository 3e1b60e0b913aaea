"""pipeline.stats.leastsq against the statsmodels calls it replaces: the same numbers, bit for
bit (the same operations in the same order), on designs with and without a constant (an
implicit one from a full set of dummies), weights, and logits near and far from separation."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.regression.linear_model import WLS

from pipeline.stats.leastsq import irls_logit, k_constant, wls


def _design(seed: int, n: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(2, 3, size=n)
    group = rng.integers(0, 3, n)
    dummies = (group[:, None] == np.arange(3)).astype(float)
    if kind == "intercept":
        return np.column_stack([np.ones(n), x1, x2, x1 * x2])
    if kind == "implicit":                  # 0 + x + C(g): the dummies add up to a constant
        return np.column_stack([x1, dummies])
    if kind == "none":                      # no constant at all
        return np.column_stack([x1, x2])
    if kind == "zero_column_and_constant":  # a constant column that is not ones
        return np.column_stack([np.full(n, 3.0), x1, np.zeros(n) + x2])
    raise ValueError(kind)


def _same(a, b) -> None:
    np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


@pytest.mark.parametrize("kind", ["intercept", "implicit", "none", "zero_column_and_constant"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_wls_is_statsmodels_bit_for_bit(kind, weighted, seed):
    n = 200 + 37 * seed
    X = _design(seed, n, kind)
    rng = np.random.default_rng(seed + 10)
    y = X @ rng.normal(size=X.shape[1]) + rng.normal(size=n) + 5
    w = rng.uniform(0.2, 3, n) if weighted else np.ones(n)
    ref = WLS(y, X, weights=w).fit()
    got = wls(y, X, w)
    assert k_constant(X) == ref.model.k_constant
    _same(got.params, ref.params)
    _same(got.normalized_cov, ref.normalized_cov_params)
    _same(got.cov, ref.cov_params())
    for name in ("scale", "llf", "rsquared", "rsquared_adj"):
        assert getattr(got, name) == float(getattr(ref, name)), name


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("strength", [0.5, 4.0])   # 4: probabilities near 0 and 1
def test_irls_logit_is_statsmodels_bit_for_bit(seed, weighted, strength):
    rng = np.random.default_rng(seed)
    n = 300 + 50 * seed
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-strength * (X[:, 1] - 0.3 * X[:, 2])))).astype(float)
    w = rng.uniform(0.5, 2, n) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = GLM(y, X, family=Binomial(), var_weights=w).fit(tol=1e-12, maxiter=100)
        got = irls_logit(y, X, w, tol=1e-12, maxiter=100)
    _same(got.params, ref.params)
    _same(got.normalized_cov, ref.normalized_cov_params)
    _same(got.mu, ref.fittedvalues)
    assert got.converged == ref.converged
    assert got.llf == float(ref.llf)
    # the null model: statsmodels' own (a WLS on a constant), the closed-form weighted mean
    assert got.llnull == float(ref.llnull)
    pbar = np.average(y, weights=w)
    closed = np.sum((y * np.log(pbar) + (1 - y) * np.log(1 - pbar)) * (1 if w is None else w))
    assert got.llnull == pytest.approx(closed, rel=1e-12)


def test_irls_logit_flags_perfect_prediction_as_statsmodels_warns():
    X = np.column_stack([np.ones(8), [1, 2, 3, 4, 5, 6, 7, 8]])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = GLM(y, X, family=Binomial()).fit(tol=1e-12, maxiter=100)
    got = irls_logit(y, X, None, tol=1e-12, maxiter=100)
    assert got.perfect_prediction == any("separation" in str(c.message).lower() for c in caught)
    assert got.perfect_prediction
    assert got.converged == ref.converged
    _same(got.params, ref.params)

"""pipeline.stats.distributions gives scipy.stats's numbers bit for bit (it calls the same
scipy.special functions without importing scipy.stats), and the stages that need no rare test
do not import scipy.stats at all (0.5-1 s of CPU in every stage process)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from pipeline.stats import distributions as D
from pipeline.text.topicmetrics import average_ranks

RNG = np.random.default_rng(20251021)
X = np.concatenate([[0.0, -1.0, 1e-300, 1e-12, 0.5, 1.0, 3.84, 10.0, 50.0, 200.0, 1e4, np.inf, -np.inf, np.nan],
                    RNG.gamma(2.0, 5.0, 300)])
Q = np.concatenate([[1e-12, 0.005, 0.025, 0.5, 0.975, 0.995, 1 - 1e-12], RNG.random(200)])
DFS = [0.5, 1, 2, 3, 7.3, 30, 159, 1e6]


@pytest.mark.parametrize("df", DFS)
def test_the_same_numbers_as_scipy_stats(df):
    pairs = [(stats.chi2.sf(X, df), D.chi2_sf(X, df)), (stats.chi2.cdf(X, df), D.chi2_cdf(X, df)),
             (stats.t.sf(X - 5, df), D.t_sf(X - 5, df)), (stats.t.ppf(Q, df), D.t_ppf(Q, df)),
             (stats.f.ppf(Q, df, 40), D.f_ppf(Q, df, 40)), (stats.norm.ppf(Q), D.norm_ppf(Q)),
             (stats.norm.sf(X - 5), D.norm_sf(X - 5)), (stats.f.sf(X - 1, df, 40), D.f_sf(X - 1, df, 40))]
    for want, got in pairs:
        np.testing.assert_array_equal(got, want)          # bit for bit, NaN where scipy gives NaN
    assert type(D.chi2_sf(3.0, df)) is type(stats.chi2.sf(3.0, df)) is np.float64


@pytest.mark.parametrize("df", DFS)
def test_noncentral_chi2_is_scipy_stats(df):
    """The CFA's RMSEA interval and p-value (pipeline.stats.cfa_measures), bit for bit, the
    central case (nc = 0) and the edges included."""
    for nc in (0.0, 1e-8, 0.3, 2.5, 17.0, 150.0):
        np.testing.assert_array_equal(D.ncx2_cdf(X, df, nc), stats.ncx2.cdf(X, df, nc))
        np.testing.assert_array_equal(D.ncx2_sf(X, df, nc), stats.ncx2.sf(X, df, nc))
    with pytest.raises(OverflowError):       # where boost's gamma overflows, scipy.stats raises too
        stats.ncx2.sf(1e-300, 0.5, 4000.0)
    with pytest.raises(OverflowError):
        D.ncx2_sf(1e-300, 0.5, 4000.0)
    assert type(D.ncx2_sf(3.0, df, 2.0)) is type(stats.ncx2.sf(3.0, df, 2.0)) is np.float64


def test_pearson_r_is_scipy_stats_pearsonr():
    """The measurement stage's correlation table (r and its two-sided p), bit for bit."""
    for n in (3, 4, 5, 10, 57, 400, 2214):
        for _ in range(40):
            x = RNG.normal(size=n) * RNG.choice([1e-3, 1.0, 1e4])
            y = 0.5 * x + RNG.normal(size=n) * RNG.random()
            if RNG.random() < 0.3:
                x, y = np.round(x, 0) + 3, np.round(y * 2, 0)      # Likert-like scores with ties
            if np.unique(x).size < 2 or np.unique(y).size < 2:
                continue
            want = stats.pearsonr(x, y)
            assert D.pearson_r(x, y) == (float(want.statistic), float(want.pvalue))
    assert D.pearson_r([1, 2, 3, 4], [2, 4, 6, 8.0]) == (1.0, 0.0)


def test_a_cfa_fit_does_not_import_scipy_stats():
    """The measurement stage's CFA with its fit measures (the RMSEA interval's noncentral
    chi-square) and its correlation table run without scipy.stats: 0.5-1 s of CPU they used to
    pay at run time."""
    code = ("import sys, numpy as np, pandas as pd; from pipeline.stats.cfa import fit_cfa; "
            "rng = np.random.default_rng(1); f = rng.normal(size=300); "
            "d = pd.DataFrame({f'x{i}': f + rng.normal(size=300) for i in range(4)}); "
            "fit = fit_cfa(d, {'F': ['x0', 'x1', 'x2', 'x3']}); "
            "from pipeline.stages.measurement import correlations; c = correlations(d, ['x0', 'x1', 'x2']); "
            "print(0 < fit.fit['rmsea.pvalue'] <= 1, fit.fit['rmsea.ci.upper'] > 0, (c['p'] < 1e-6).all(), "
            "'scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "True True True False"


def test_average_ranks_are_scipys_rankdata():
    for n in (1, 2, 7, 500):
        for _ in range(20):
            x = np.round(RNG.random(n) * RNG.integers(1, 20), 1)          # many ties
            np.testing.assert_array_equal(average_ranks(x), stats.rankdata(x, method="average"))


def test_pearson_chi2_and_anova_are_scipys():
    """The sample table's tests (pipeline.stats.describe) without scipy.stats: the same numbers."""
    from pipeline.stats.describe import independence_test, one_way_anova

    for _ in range(300):
        r, c = RNG.integers(2, 7, size=2)
        x, g = RNG.integers(0, r, size=600).astype(float), RNG.integers(0, c, size=600).astype(float)
        got = independence_test(x, g, np.random.default_rng(1))
        obs = np.array([[np.sum((x == i) & (g == j)) for j in range(c)] for i in range(r)])
        chi2, p, dof, _ = stats.chi2_contingency(obs, correction=False)
        assert (got["statistic"], got["df"]) == (chi2, dof) and got["test"] == "chi2" and got["p_value"] == p
        samples = [np.round(RNG.normal(RNG.normal(), 1 + RNG.random(), size=RNG.integers(2, 200)), 1)
                   for _ in range(RNG.integers(2, 6))]
        want = stats.f_oneway(*samples)
        assert one_way_anova(samples) == (want.statistic, want.pvalue)
    assert one_way_anova([np.array([1.0, 1.0]), np.array([2.0, 2.0])]) == (np.inf, 0.0)   # scipy's convention


@pytest.mark.parametrize("module", ["pipeline.stages.survey", "pipeline.stages.models", "pipeline.stages.transcripts",
                                    "pipeline.stages.topics", "pipeline.stages.coding", "pipeline.stages.integrate",
                                    "pipeline.stages.report", "pipeline.demo.demo_checks", "pipeline.demo.simulate"])
def test_stages_do_not_import_scipy_stats(module):
    code = f"import sys, {module}; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"

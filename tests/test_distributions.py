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

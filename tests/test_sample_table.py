"""Table 2's statistics: the test chosen by the expected counts (Pearson, Fisher, Monte Carlo) and
small-cell suppression that a reader cannot undo from the shown cells and totals.

The attacker here is written apart from the pipeline's own audit (pipeline.stats.describe): it
reads only what the table shows (the shown counts, the row totals, the column Ns the percentages
give away) and solves an integer programme for the smallest and largest value of every withheld
cell."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from scipy import stats
from scipy.optimize import Bounds, LinearConstraint, milp

from pipeline.render.tables.check import check_numbers
from pipeline.render.tables.settings import DEFAULTS
from pipeline.render.tables.survey import table_sample_characteristics
from pipeline.stats.describe import _suppress, independence_test, sample_characteristics


# -- the attacker ----------------------------------------------------------------------------------
def shown_table(char: pd.DataFrame, variable: str) -> tuple[dict, dict, dict]:
    """What a reader of the table sees of one categorical variable: {(level, group): n or None}
    (None: withheld), and each group column's N as the shown percentages give it away (n / % x 100,
    from any shown cell with a positive count; the grand N from the total column)."""
    sub = char[char["variable"] == variable]
    cells = {(r.level, r.group): (None if r.suppressed else int(r.n)) for r in sub.itertuples()}
    column_n = {}
    for g, part in sub.groupby("group"):
        shown = part[~part["suppressed"] & (part["n"] > 0)]
        column_n[g] = int(round(shown.iloc[0]["n"] / shown.iloc[0]["percent"] * 100)) if len(shown) else None
    truth = {(r.level, r.group): int(r.n) for r in sub.itertuples()}
    return cells, column_n, truth


def attack(cells: dict, column_n: dict) -> dict:
    """The smallest and largest whole number each withheld cell can be, given the shown counts,
    every row's sum over the groups = its total cell, every column's sum = its N, counts >= 0."""
    hidden = [c for c, v in cells.items() if v is None]
    if not hidden:
        return {}
    pos = {c: i for i, c in enumerate(hidden)}
    levels = sorted({lv for lv, _ in cells})
    groups = sorted({g for _, g in cells if g != "total"})
    rows, lo, hi = [], [], []

    def equation(terms):   # terms: [(cell, sign)] ; sum sign * cell = 0 over hidden and shown
        a = np.zeros(len(hidden))
        rhs = 0.0
        for c, sign in terms:
            if cells[c] is None:
                a[pos[c]] += sign
            else:
                rhs -= sign * cells[c]
        return a, rhs

    for lv in levels if groups else []:       # a row's groups add to its total (no groups: no such line)
        a, rhs = equation([((lv, g), 1) for g in groups] + [((lv, "total"), -1)])
        rows.append(a), lo.append(rhs), hi.append(rhs)
    for g in groups + ["total"]:
        if column_n.get(g) is None:
            continue
        a, rhs = equation([((lv, g), 1) for lv in levels])
        rows.append(a), lo.append(rhs + column_n[g]), hi.append(rhs + column_n[g])
    if not rows:                             # nothing shown that ties a withheld cell down
        return {c: (0.0, np.inf) for c in hidden}
    constraint = LinearConstraint(np.array(rows), lo, hi)
    out = {}
    for c in hidden:
        obj = np.zeros(len(hidden))
        obj[pos[c]] = 1
        found = []
        for sign in (1, -1):
            res = milp(sign * obj, constraints=constraint, integrality=np.ones(len(hidden)),
                       bounds=Bounds(0, np.inf))
            found.append(sign * res.fun if res.status == 0 else (np.inf if sign < 0 else -np.inf))
        out[c] = tuple(found)
    return out


def recovered(char: pd.DataFrame, k: int) -> list[tuple]:
    """Withheld cells the attacker pins to within +-k of their count: (variable, cell, n, bounds)."""
    out = []
    for variable in char.loc[char["level"] != "", "variable"].unique():
        cells, column_n, truth = shown_table(char, variable)
        for c, (low, high) in attack(cells, column_n).items():
            if low > truth[c] - k and high < truth[c] + k:
                out.append((variable, c, truth[c], (low, high)))
    return out


# -- suppression -----------------------------------------------------------------------------------
def _frame(counts: np.ndarray) -> tuple[list[dict], list[str], list[str]]:
    levels = [str(i + 1) for i in range(counts.shape[0])]
    groups = [str(j + 1) for j in range(counts.shape[1])]
    rows = []
    for i, lv in enumerate(levels):
        for j, g in enumerate(groups + ["total"]):
            n = int(counts[i].sum()) if g == "total" else int(counts[i, j])
            denom = int(counts.sum()) if g == "total" else int(counts[:, j].sum())
            rows.append({"variable": "x", "level": lv, "group": g, "n": n, "percent": 100 * n / denom if denom else np.nan})
    return rows, levels, groups


def test_the_old_rule_was_undone_from_the_totals_and_the_new_one_is_not():
    """Table 2's education rows of the demo before this rule: one complementary cell per line let
    a reader work the withheld cells out from the row totals to within +-4."""
    counts = np.array([[5, 4, 0], [49, 27, 0], [182, 141, 4], [378, 245, 7], [415, 254, 15], [225, 148, 3], [59, 52, 1]])
    rows, levels, groups = _frame(counts)
    old = pd.DataFrame(rows).assign(suppressed=lambda d: [
        (lv, g) in {("1", "2"), ("1", "3"), ("3", "3"), ("3", "2"), ("6", "3"), ("6", "2"), ("7", "3"), ("7", "2")}
        for lv, g in zip(d["level"], d["group"])])
    assert recovered(old, 5)                      # the old complementary suppression leaks
    new = pd.DataFrame(_suppress(rows, levels, groups, 5))
    assert new.loc[(new["n"] > 0) & (new["n"] < 5), "suppressed"].all()
    assert recovered(new, 5) == []


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 5), st.integers(2, 4), st.integers(0, 2**32 - 1), st.integers(2, 8))
def test_no_withheld_cell_can_be_pinned_within_k(n_levels, n_groups, seed, k):
    rng = np.random.default_rng(seed)
    sizes = rng.choice([3, 20, 200], size=n_groups, p=[0.3, 0.3, 0.4])
    counts = np.array([rng.multinomial(s, rng.dirichlet(np.ones(n_levels))) for s in sizes]).T
    rows, levels, groups = _frame(counts)
    char = pd.DataFrame(_suppress(rows, levels, groups, k))
    assert char.loc[(char["n"] > 0) & (char["n"] < k), "suppressed"].all()
    assert recovered(char, k) == []


def test_demo_like_table_shows_one_symbol_for_every_withheld_cell(instrument):
    rng = np.random.default_rng(7)
    n = 400
    clean = pd.DataFrame({"serial": np.arange(n), "ethnicity": [1.0] * 250 + [2.0] * 130 + [3.0] * 20,
                          "education": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], n,
                                                  p=[0.01, 0.04, 0.15, 0.3, 0.3, 0.15, 0.05]),
                          "gender": rng.choice([1.0, 2.0], n)})
    settings = {**DEFAULTS, "characteristics": ["gender", "education"], "min_cell": 5, "seed": 3}
    char, tests = sample_characteristics(clean, None, instrument, settings)
    assert recovered(char, 5) == []
    results = {"integrate/sample_characteristics.csv": char, "integrate/sample_tests.csv": tests}
    table = table_sample_characteristics(results, instrument, {**settings, "lang": "zh"}, "table02_x")
    withheld = [c.text for c in table.cells() if c.suppressed]
    assert withheld and set(withheld) == {"·"}     # a small cell cannot be told from its complements
    assert check_numbers(table, results) == []
    assert any("±5" in note for note in table.notes)


# -- the tests of independence ---------------------------------------------------------------------
def _codes(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, g = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            x += [i] * int(count)
            g += [j] * int(count)
    return np.array(x, float), np.array(g, float)


def test_pearson_when_every_expected_count_reaches_five():
    table = np.array([[30, 20, 25], [25, 30, 40]])
    out = independence_test(*_codes(table), np.random.default_rng(0))
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    assert out["test"] == "chi2" and out["statistic"] == pytest.approx(chi2) and out["p_value"] == pytest.approx(p)
    assert out["df"] == dof and out["min_expected"] >= 5


def test_fisher_for_a_small_two_by_two_table():
    # R: fisher.test(matrix(c(3, 1, 1, 3), 2)) -> p-value = 0.4857, conditional odds ratio (scipy: sample OR 9)
    out = independence_test(*_codes(np.array([[3, 1], [1, 3]])), np.random.default_rng(0))
    assert out["test"] == "fisher"
    assert out["p_value"] == pytest.approx(0.4857143, abs=1e-6) and out["statistic"] == pytest.approx(9.0)


def test_monte_carlo_for_small_expected_counts_is_seeded_and_close_to_exact():
    # 2 x 3 with small cells: the exact (Freeman-Halton) p value by full enumeration of the
    # tables with these margins, weighted by their hypergeometric probability, ordered by chi2
    table = np.array([[4, 1, 0], [2, 5, 6]])
    x, g = _codes(table)
    a = independence_test(x, g, np.random.default_rng(11), replications=20000)
    b = independence_test(x, g, np.random.default_rng(11), replications=20000)
    assert a["test"] == "chi2_mc" and a == b and a["min_expected"] < 5
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    n = table.sum()
    chi_obs = stats.chi2_contingency(table, correction=False)[0]
    exact = 0.0
    for t00 in range(0, min(rows[0], cols[0]) + 1):
        for t01 in range(0, min(rows[0] - t00, cols[1]) + 1):
            t02 = rows[0] - t00 - t01
            if t02 > cols[2]:
                continue
            t = np.array([[t00, t01, t02], [cols[0] - t00, cols[1] - t01, cols[2] - t02]])
            if (t < 0).any():
                continue
            from math import comb
            prob = comb(cols[0], t00) * comb(cols[1], t01) * comb(cols[2], t02) / comb(n, rows[0])
            expected = np.outer(rows, cols) / n
            if ((t - expected) ** 2 / expected).sum() >= chi_obs * (1 - 1e-12):
                exact += prob
    assert a["p_value"] == pytest.approx(exact, abs=0.01)


@pytest.mark.parametrize("counts", [[1], [2, 300], [1, 2, 300, 40], [4, 3, 250, 1, 1, 60], [0, 1, 500]])
def test_the_whole_sample_alone_withholds_small_cells_without_failing(counts):
    """A study without a group variable (``init``'s draft) shows one column, the whole sample: a
    category of 1-4 respondents used to make the audit's linear programme infeasible (the row
    lines said that no groups add to the row's total, so a withheld total had to be 0)."""
    rows = [{"variable": "x", "level": str(i), "group": "total", "n": n, "percent": 100 * n / sum(counts)}
            for i, n in enumerate(counts)]
    char = pd.DataFrame(_suppress(rows, [str(i) for i in range(len(counts))], [], 5))
    assert char.loc[(char["n"] > 0) & (char["n"] < 5), "suppressed"].all()
    assert recovered(char, 5) == []

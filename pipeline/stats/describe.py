"""Descriptive frames of the survey for the report's tables (integrate stage): sample
characteristics by group with their tests and the small-cell rule, the codebook summary, index
descriptives.

:func:`describe_survey` makes every frame from the stages' tidy outputs; the integrate stage
writes each to ``processed/integrate/<name>.csv``, where the report's tables read them. Pure
functions: nothing here reads or writes files.
"""
from __future__ import annotations

import zlib
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument
from pipeline.stats.distributions import chi2_sf, f_sf


def describe_survey(clean: pd.DataFrame | None, missing: pd.DataFrame | None, indices: pd.DataFrame | None,
                    instrument: Instrument, settings: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The frames the survey tables show, by name: ``sample_characteristics`` and
    ``sample_tests`` (from the clean survey, with the community characteristics of ``indices``),
    ``codebook`` (also needs the missing-data reasons), ``index_descriptives`` (from the
    indices). A frame whose input is None is left out. ``settings``: ``characteristics``,
    ``community_characteristics``, ``min_cell`` (params.yaml ``report``), ``seed``."""
    out: dict[str, pd.DataFrame] = {}
    if clean is not None:
        char, tests = sample_characteristics(clean, indices, instrument, settings)
        out["sample_characteristics"] = char
        out["sample_tests"] = tests
        if missing is not None:
            out["codebook"] = codebook_summary(clean, missing, instrument)
    if indices is not None:
        out["index_descriptives"] = index_descriptives(indices, list(instrument.scales))
    return out


def _variable(instrument: Instrument, name: str):
    return instrument.variables.get(name) or instrument.community_variables.get(name)


def sample_characteristics(clean: pd.DataFrame, communities: pd.DataFrame | None, instrument: Instrument,
                           settings: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and column percents (categorical) or mean and SD (numeric) of each characteristic by
    the instrument's group variable and in total, with the small-cell rule applied
    (``suppressed``), and one test per characteristic (of independence, :func:`independence_test`
    / one-way ANOVA).
    Without ``roles.group``: the whole sample ("total") only, and no tests."""
    group = instrument.role("group")
    rec = instrument.role("record")
    if group is not None and group not in clean.columns:
        raise PipelineError(f"{instrument.path}: roles.group '{group}' is not in the clean survey",
                            "name the variable respondents are compared by (e.g. ethnicity), or remove roles.group")
    data = clean
    comm_vars = [v for v in settings.get("community_characteristics", []) if v not in clean.columns]
    if comm_vars:
        if communities is None or rec not in communities.columns:
            raise PipelineError(f"report.community_characteristics {comm_vars}: processed/indices.parquet is missing",
                                "run the measurement stage")
        data = clean.merge(communities[[rec] + comm_vars], on=rec, how="left")
    names = list(settings.get("characteristics", [])) + comm_vars
    unknown = [n for n in names if n not in data.columns or _variable(instrument, n) is None]
    if unknown:
        raise PipelineError(f"params.yaml: report.characteristics names {unknown}, not variables of the instrument "
                            "and the clean survey", "use instrument variable names")
    if group is None:             # no groups to compare: the whole sample only, no tests
        group, groups, columns = "_whole_sample", [], [1.0]
        data = data.assign(_whole_sample=1.0)
    else:
        groups = [g for g in sorted(_variable(instrument, group).values) if (data[group] == g).any()]
        columns = [float(g) for g in groups]
    k = int(settings.get("min_cell", 5))
    rows, tests = [], []
    for name in names:
        var = _variable(instrument, name)
        s = data[name]
        if var.values:
            levels = sorted(var.values)
            counts = pd.crosstab(s, data[group]).reindex(index=[float(c) for c in levels], columns=columns, fill_value=0)
            col_n = counts.sum(axis=0)
            table_rows = []
            for code in levels:
                for g in groups + ["total"]:
                    n = int(counts.loc[float(code)].sum()) if g == "total" else int(counts.loc[float(code), float(g)])
                    denom = int(col_n.sum()) if g == "total" else int(col_n[float(g)])
                    table_rows.append({"variable": name, "level": str(code), "group": str(g), "n": n,
                                       "percent": 100 * n / denom if denom else np.nan, "mean": np.nan, "sd": np.nan})
            rows += _suppress(table_rows, [str(c) for c in levels], [str(g) for g in groups], k)
            keep = data[name].notna() & data[group].isin(columns)
            test = independence_test(data.loc[keep, name].to_numpy(dtype=float), data.loc[keep, group].to_numpy(dtype=float),
                                     _stream(settings.get("seed", 0), name))
            if test is not None:
                tests.append({"variable": name, **test})
        else:
            samples = []
            for g in groups + ["total"]:
                x = (s if g == "total" else s[data[group] == g]).dropna().astype(float)
                if g != "total":
                    samples.append(x.to_numpy())
                rows.append({"variable": name, "level": "", "group": str(g), "n": int(len(x)),
                             "percent": np.nan, "mean": float(x.mean()) if len(x) else np.nan,
                             "sd": float(x.std(ddof=1)) if len(x) > 1 else np.nan,
                             "suppressed": bool(len(x) < k)})
            usable = [x for x in samples if len(x) > 1]
            if len(usable) > 1:
                f, p = one_way_anova(usable)
                tests.append({"variable": name, "test": "anova", "statistic": float(f),
                              "df": float(len(usable) - 1), "p_value": float(p), "n": int(sum(len(x) for x in usable)),
                              "min_expected": np.nan, "replications": np.nan})
    char = pd.DataFrame(rows, columns=["variable", "level", "group", "n", "percent", "mean", "sd", "suppressed"])
    char["suppressed"] = char["suppressed"].astype(bool)
    return char, pd.DataFrame(tests, columns=TEST_COLUMNS)


TEST_COLUMNS = ["variable", "test", "statistic", "df", "p_value", "n", "min_expected", "replications"]
MC_REPLICATIONS = 10000     # tables drawn for a Monte Carlo p value (R's chisq.test uses B = 2000)
MIN_EXPECTED = 5.0          # the asymptotic chi-square test needs every expected count at least this


def _stream(seed: int, name: str) -> np.random.Generator:
    """The random stream of one variable's test: the study's seed and the variable's name (so a
    test does not change when another characteristic is added)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode("utf-8"))]))


def independence_test(x: np.ndarray, g: np.ndarray, rng: np.random.Generator,
                      replications: int = MC_REPLICATIONS) -> dict[str, Any] | None:
    """The test of independence of the codes ``x`` and the groups ``g`` (no missing values), chosen
    by the smallest expected count of the table of the observed categories: Pearson's χ² (every
    expected count >= 5, ``"chi2"``); Fisher's exact test for a 2 x 2 table (``"fisher"``,
    statistic: the sample odds ratio; R ``fisher.test``); otherwise Pearson's χ² with a Monte Carlo
    p value over ``replications`` tables with the observed margins (:func:`random_tables`;
    ``"chi2_mc"``, as R ``chisq.test(simulate.p.value = TRUE)``: p = (1 + #{χ²_b >= χ²}) / (B + 1)).
    None when the table has fewer than two rows or columns."""
    rows, r_idx = np.unique(x, return_inverse=True)
    cols, c_idx = np.unique(g, return_inverse=True)
    if len(rows) < 2 or len(cols) < 2:
        return None
    obs = np.bincount(r_idx * len(cols) + c_idx, minlength=len(rows) * len(cols)).reshape(len(rows), len(cols))
    expected = np.outer(obs.sum(axis=1), obs.sum(axis=0)) / obs.sum()
    out = {"n": int(obs.sum()), "min_expected": float(expected.min()), "replications": np.nan}
    chi2, dof = float(((obs - expected) ** 2 / expected).sum()), (len(rows) - 1) * (len(cols) - 1)
    p = chi2_sf(chi2, dof)      # scipy.stats.chi2_contingency(obs, correction=False), the same numbers
    if expected.min() >= MIN_EXPECTED:
        return {"test": "chi2", "statistic": float(chi2), "df": float(dof), "p_value": float(p), **out}
    if obs.shape == (2, 2):
        from scipy import stats      # here only: 0.5-1 s to import (pipeline.stats.distributions)

        odds, p = stats.fisher_exact(obs)
        return {"test": "fisher", "statistic": float(odds), "df": np.nan, "p_value": float(p), **out}
    tables = random_tables(obs.sum(axis=1), obs.sum(axis=0), replications, rng)
    stat = ((tables - expected) ** 2 / expected).sum(axis=(1, 2))
    hits = int((stat >= chi2 * (1 - 64 * np.finfo(float).eps)).sum())
    out["replications"] = float(replications)
    return {"test": "chi2_mc", "statistic": float(chi2), "df": float(dof),
            "p_value": (1 + hits) / (replications + 1), **out}


def one_way_anova(samples: list[np.ndarray]) -> tuple[float, float]:
    """F and its p value of the one-way ANOVA of ``samples`` (each of two or more values):
    ``scipy.stats.f_oneway`` with its operations in its order (the same numbers, bit for bit;
    ``tests/test_distributions.py``), without importing scipy.stats. Groups that are all
    constant go to scipy.stats itself, for its conventions (F infinite or NaN)."""
    if all(np.all(x == x[0]) for x in samples):
        from scipy import stats

        res = stats.f_oneway(*samples)
        return float(res.statistic), float(res.pvalue)
    alldata = np.concatenate(samples)
    offset = np.mean(alldata, keepdims=True)
    centred = alldata - offset
    normalized_ss = np.sum(centred) ** 2.0 / len(alldata)
    sstot = np.vecdot(centred, centred) - normalized_ss
    ssbn = 0.0
    for x in samples:
        ssbn = ssbn + np.sum(x - offset) ** 2.0 / len(x)
    ssbn = ssbn - normalized_ss
    dfbn, dfwn = len(samples) - 1, len(alldata) - len(samples)
    f = (ssbn / dfbn) / ((sstot - ssbn) / dfwn)
    return float(f), float(f_sf(f, dfbn, dfwn))


def random_tables(rows: np.ndarray, cols: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` tables drawn at random with the row sums ``rows`` and column sums ``cols``, as a random
    permutation of the group labels would give them (R's ``r2dtable``): each cell in turn is
    hypergeometric given what its row still needs and its column still holds. Shape (n, r, c)."""
    out = np.zeros((n, len(rows), len(cols)), dtype=np.int64)
    left = np.tile(np.asarray(cols, dtype=np.int64), (n, 1))        # what each column still holds
    for i, need_i in enumerate(rows[:-1]):
        need = np.full(n, int(need_i), dtype=np.int64)
        for j in range(len(cols) - 1):
            x = rng.hypergeometric(left[:, j], left[:, j + 1:].sum(axis=1), need)
            out[:, i, j] = x
            left[:, j] -= x
            need -= x
        out[:, i, -1] = need
        left[:, -1] -= need
    out[:, -1, :] = left
    return out


def _suppress(rows: list[dict[str, Any]], levels: list[str], groups: list[str], k: int) -> list[dict[str, Any]]:
    """Primary suppression (0 < n < k; an empty cell discloses nothing) and complementary
    suppression that survives the shown totals: every withheld cell is shown as the same symbol,
    and more cells are withheld until no withheld cell can be narrowed, from the shown cells, the
    row totals and the column Ns, to an interval inside (n - k, n + k) (:func:`exposed_cell`).
    For a cell that is not yet protected, the cheapest rectangle of cells (fewest respondents
    withheld) that lets it move by k is withheld with it (:func:`_rectangle`)."""
    cell = {(r["level"], r["group"]): r for r in rows}
    for r in rows:
        r["suppressed"] = 0 < r["n"] < k
    while True:
        weak = exposed_cell(cell, levels, groups, k)
        if weak is None:
            return rows
        more = _rectangle(cell, levels, groups, weak, k)
        if not more:   # no rectangle gives room: the smallest shown cell of the row or column, else any
            lv, g = weak
            line = [(lv, h) for h in groups + ["total"]] + [(l2, g) for l2 in levels]
            shown = [c for c in line if not cell[c]["suppressed"]] or [c for c in cell if not cell[c]["suppressed"]]
            if not shown:
                return rows
            more = [min(shown, key=lambda c: (c[1] == "total", cell[c]["n"], c))]
        for c in more:
            cell[c]["suppressed"] = True


def _rectangle(cell: Mapping[tuple[str, str], Mapping[str, Any]], levels: Sequence[str], groups: Sequence[str],
               target: tuple[str, str], k: int) -> list[tuple[str, str]]:
    """The cells to withhold with ``target`` (level l, group g): the corners (l, h), (m, g), (m, h)
    of the rectangle, over every other level m and column h (the total column too), along which
    ``target`` can move by k with every corner staying >= 0, and whose shown corners hold the
    fewest respondents. Empty when no rectangle has the room."""
    lv, g = target
    best: tuple[tuple[float, int, tuple], list] | None = None
    for m in levels:
        for h in [*groups, "total"]:
            if m == lv or h == g:
                continue
            corners = [(lv, h), (m, g), (m, h)]
            if any(c not in cell for c in corners):
                continue
            n = {c: cell[c]["n"] for c in [target, *corners]}
            if (g == "total") == (h == "total"):   # two groups: (l, h) and (m, g) move against target
                room = max(min(n[(lv, h)], n[(m, g)]), min(n[target], n[(m, h)]))
            else:                                  # a group and the total: (l, h) moves with target
                room = max(min(n[(m, g)], n[(m, h)]), min(n[target], n[(lv, h)]))
            if room < k:
                continue
            new = [c for c in corners if not cell[c]["suppressed"]]
            cost = (float(sum(cell[c]["n"] for c in new)), len(new), tuple(corners))
            if best is None or cost < best[0]:
                best = (cost, new)
    return best[1] if best else []


def cell_bounds(cell: Mapping[tuple[str, str], Mapping[str, Any]], levels: Sequence[str], groups: Sequence[str],
                target: tuple[str, str]) -> tuple[float, float]:
    """The smallest and largest value of the withheld cell ``target`` that agree with everything
    the table shows: the shown cells, the shown row totals (group "total"), every column's N and
    the grand N (the percentages give them away), every count >= 0. A linear programme (a
    transportation polytope: its vertices are whole numbers, so these are the integer bounds)."""
    from scipy.optimize import linprog

    hidden = [c for c in cell if cell[c]["suppressed"]]
    index = {c: i for i, c in enumerate(hidden)}
    lines = [([(lv, g) for g in groups], (lv, "total")) for lv in levels] if groups else []   # a row's groups add to its total
    lines += [([(lv, g) for lv in levels], None) for g in [*groups, "total"]]
    a_eq, b_eq = [], []
    for parts, total in lines:
        row = np.zeros(len(hidden))
        rhs = float(sum(cell[c]["n"] for c in parts)) if total is None else 0.0   # a column: its N
        for c in parts:
            if c in index:
                row[index[c]] += 1
            else:
                rhs -= cell[c]["n"]
        if total is not None:
            if total in index:
                row[index[total]] -= 1
            else:
                rhs += cell[total]["n"]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    c = np.zeros(len(hidden))
    c[index[target]] = 1.0
    low = linprog(c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None), method="highs")
    high = linprog(-c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None), method="highs")
    if low.status != 0 or high.status != 0:   # the shown numbers always admit the true table
        raise PipelineError(f"the small-cell audit failed ({low.message}; {high.message})", "report this as a bug")
    return float(low.fun), float(-high.fun)


def exposed_cell(cell: Mapping[tuple[str, str], Mapping[str, Any]], levels: Sequence[str], groups: Sequence[str],
                 k: int) -> tuple[str, str] | None:
    """The first withheld cell a reader could narrow to within +-k of its count (its bounds from
    :func:`cell_bounds` both inside (n - k, n + k)), or None when every withheld cell is protected."""
    for c in sorted(cell):
        if cell[c]["suppressed"]:
            n = cell[c]["n"]
            low, high = cell_bounds(cell, levels, groups, c)
            if low > n - k and high < n + k:
                return c
    return None


MAX_REASON_COLUMNS = 4    # the codebook table's columns of missing answers by reason (the rest: other)


def codebook_reasons(instrument: Instrument) -> list[str]:
    """The missing-value reasons the codebook table counts in columns of their own: the study's
    missing codes' reasons in the instrument's order (the first :data:`MAX_REASON_COLUMNS`);
    every other reason (blank, out of range, unlabelled, ...) is counted as other."""
    return list(dict.fromkeys(spec["reason"] for spec in instrument.missing_codes.values()))[:MAX_REASON_COLUMNS]


def codebook_summary(clean: pd.DataFrame, missing: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """One row per instrument variable in the clean data: type, valid N and missing by reason
    (``missing_<reason>`` for each of :func:`codebook_reasons`, then ``missing_other``)."""
    own = codebook_reasons(instrument)
    reasons = sorted(set(missing["reason"].astype(str))) if len(missing) else []
    by = missing.assign(variable=missing["variable"].astype(str), reason=missing["reason"].astype(str)) \
        .groupby(["variable", "reason"]).size() if len(missing) else pd.Series(dtype=int)
    rows = []
    for name, var in instrument.variables.items():
        if name not in clean.columns:
            continue
        row = {"variable": name, "type": var.type, "valid_n": int(clean[name].notna().sum()),
               "missing_n": int(clean[name].isna().sum())}
        for reason in own:
            row[f"missing_{reason}"] = int(by.get((name, reason), 0))
        row["missing_other"] = int(sum(by.get((name, r), 0) for r in reasons if r not in own))
        rows.append(row)
    return pd.DataFrame(rows)


def index_descriptives(indices: pd.DataFrame, scales: Sequence[str]) -> pd.DataFrame:
    rows = []
    for name in scales:
        if name in indices.columns:
            x = indices[name].dropna().astype(float)
            rows.append({"scale": name, "n": int(len(x)), "mean": float(x.mean()), "sd": float(x.std(ddof=1))})
    return pd.DataFrame(rows, columns=["scale", "n", "mean", "sd"])

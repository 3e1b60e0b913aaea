"""Descriptive frames of the survey for the report's tables (integrate stage): sample
characteristics by group with their tests and the small-cell rule, the codebook summary, index
descriptives.

:func:`describe_survey` makes every frame from the stages' tidy outputs; the integrate stage
writes each to ``processed/integrate/<name>.csv``, where the report's tables read them. Pure
functions: nothing here reads or writes files.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument


def describe_survey(clean: pd.DataFrame | None, missing: pd.DataFrame | None, indices: pd.DataFrame | None,
                    instrument: Instrument, settings: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The frames the survey tables show, by name: ``sample_characteristics`` and
    ``sample_tests`` (from the clean survey, with the community characteristics of ``indices``),
    ``codebook`` (also needs the missing-data reasons), ``index_descriptives`` (from the
    indices). A frame whose input is None is left out. ``settings``: ``characteristics``,
    ``community_characteristics``, ``min_cell`` (params.yaml ``report``)."""
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
    (``suppressed``), and one test per characteristic (χ² of independence / one-way ANOVA).
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
            obs = counts.loc[counts.sum(axis=1) > 0, counts.sum(axis=0) > 0].to_numpy()
            if obs.shape[0] > 1 and obs.shape[1] > 1:
                chi2, p, dof, _ = stats.chi2_contingency(obs, correction=False)
                tests.append({"variable": name, "test": "chi2", "statistic": chi2, "df": float(dof), "p_value": p,
                              "n": int(obs.sum())})
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
                f, p = stats.f_oneway(*usable)
                tests.append({"variable": name, "test": "anova", "statistic": float(f),
                              "df": float(len(usable) - 1), "p_value": float(p), "n": int(sum(len(x) for x in usable))})
    char = pd.DataFrame(rows, columns=["variable", "level", "group", "n", "percent", "mean", "sd", "suppressed"])
    char["suppressed"] = char["suppressed"].astype(bool)
    return char, pd.DataFrame(tests, columns=["variable", "test", "statistic", "df", "p_value", "n"])


def _suppress(rows: list[dict[str, Any]], levels: list[str], groups: list[str], k: int) -> list[dict[str, Any]]:
    """Primary suppression (0 < n < k; an empty cell discloses nothing) and complementary
    suppression: a row of groups (whose total is shown) or a group's column of levels (whose
    column N is known) with exactly one withheld cell gets its next smallest shown cell withheld
    too; repeated until no withheld cell can be derived by subtraction."""
    cell = {(r["level"], r["group"]): r for r in rows}
    for r in rows:
        r["suppressed"] = 0 < r["n"] < k
    changed = True
    while changed:
        changed = False
        lines = [[(lv, g) for g in groups + ["total"]] for lv in levels] + [[(lv, g) for lv in levels] for g in groups + ["total"]]
        for line in lines:
            hidden = [c for c in line if cell[c]["suppressed"]]
            if len(hidden) == 1:
                shown = sorted((c for c in line if not cell[c]["suppressed"]), key=lambda c: (cell[c]["n"], c))
                if shown:
                    cell[shown[0]]["suppressed"] = True
                    changed = True
    return rows


def codebook_summary(clean: pd.DataFrame, missing: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """One row per instrument variable in the clean data: type, valid N and missing by reason."""
    reasons = sorted(set(missing["reason"].astype(str))) if len(missing) else []
    by = missing.assign(variable=missing["variable"].astype(str), reason=missing["reason"].astype(str)) \
        .groupby(["variable", "reason"]).size() if len(missing) else pd.Series(dtype=int)
    rows = []
    for name, var in instrument.variables.items():
        if name not in clean.columns:
            continue
        row = {"variable": name, "type": var.type, "valid_n": int(clean[name].notna().sum()),
               "missing_n": int(clean[name].isna().sum())}
        for reason in ("dont_know", "refused", "skipped"):
            row[f"missing_{reason}"] = int(by.get((name, reason), 0))
        row["missing_other"] = int(sum(by.get((name, r), 0) for r in reasons if r not in ("dont_know", "refused", "skipped")))
        rows.append(row)
    return pd.DataFrame(rows)


def index_descriptives(indices: pd.DataFrame, scales: Sequence[str]) -> pd.DataFrame:
    rows = []
    for name in scales:
        if name in indices.columns:
            x = indices[name].dropna().astype(float)
            rows.append({"scale": name, "n": int(len(x)), "mean": float(x.mean()), "sd": float(x.std(ddof=1))})
    return pd.DataFrame(rows, columns=["scale", "n", "mean", "sd"])

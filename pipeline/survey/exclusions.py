"""The exclusion rules and the sample flow (steps 6 and 7 of the survey stage; see
:mod:`pipeline.stages.survey` for the rules and their order).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument

RULES = ("duplicate", "speeder", "straightline", "attention", "age_rule")
RULE_LABELS = {
    "duplicate": {"en": "duplicate submission", "zh": "重复提交"},
    "speeder": {"en": "speeder (too fast)", "zh": "答题过快"},
    "straightline": {"en": "straight-lining", "zh": "直线作答"},
    "attention": {"en": "failed attention check", "zh": "注意力检测未通过"},
    "age_rule": {"en": "age / birth-year rule", "zh": "年龄/出生年份不符"},
}


def flag_exclusions(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any], reasons: pd.DataFrame | None = None,
                    answered: pd.DataFrame | None = None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Every (submission, rule) that applies: record, rule, detail (rules in the documented order);
    and the rules the study could apply at all (a rule needs its role or setting: no respondent id,
    no duplicate rule; no duration, no speeder rule; ...), for the sample flow to list only those.

    ``df`` holds the recoded values (every missing value NaN). The age rule reads age and birth
    year from ``answered`` (the typed values before recoding; missing codes are still treated as
    missing there) because an out-of-range birth year is exactly what that rule is about.
    """
    rec = instrument.role("record")
    found = [
        _duplicates(df, instrument, cfg.get("duplicate") or {}),
        _speeders(df, instrument, cfg.get("speeder") or {}),
        _straightliners(df, instrument, cfg.get("straightline") or {}),
        _attention(df, instrument, reasons),
        _age_rule(df if answered is None else answered, instrument, cfg.get("age_rule") or {}),
    ]
    applied = tuple(rule for rule, p in zip(RULES, found) if p is not None)
    parts = [p for p in found if p is not None and len(p)]
    if not parts:
        return pd.DataFrame({rec: pd.Series(dtype=df[rec].dtype), "rule": pd.Series(dtype=str),
                             "detail": pd.Series(dtype=str)}), applied
    out = pd.concat(parts, ignore_index=True)
    out["_o"] = out["rule"].map({r: i for i, r in enumerate(RULES)})
    return out.sort_values([rec, "_o"], kind="stable").drop(columns="_o").reset_index(drop=True), applied


def _flags(df: pd.DataFrame, rec: str, rule: str, mask: np.ndarray, details: list[str]) -> pd.DataFrame:
    return pd.DataFrame({rec: df[rec].to_numpy()[mask], "rule": rule, "detail": details})


def _empty_flags(df: pd.DataFrame, rec: str) -> pd.DataFrame:
    return pd.DataFrame({rec: df[rec].iloc[:0], "rule": pd.Series(dtype=str), "detail": pd.Series(dtype=str)})


def _duplicates(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any]) -> pd.DataFrame | None:
    rec, rid, sub = instrument.role("record"), instrument.role("id"), instrument.role("submitted")
    keep = cfg.get("keep", "first")
    if keep not in ("first", "last"):
        raise PipelineError(f"params.yaml: survey.duplicate.keep is '{keep}'", hint="use first or last")
    latest_last = keep == "first"
    if not rid:  # an anonymous survey: no respondent id, no duplicate rule
        return None
    if sub and sub in df.columns:
        key = pd.DataFrame({rid: df[rid], "_nat": df[sub].isna(), "_t": df[sub], rec: df[rec]})
        ordered = key.sort_values([rid, "_nat", "_t", rec], ascending=[True, True, latest_last, latest_last], kind="stable")
    else:
        key = df[[rid, rec]]
        ordered = key.sort_values([rid, rec], ascending=[True, latest_last], kind="stable")
    first = ordered.drop_duplicates(rid, keep="first")
    dup = ~df.index.isin(first.index)
    if not dup.any():
        return _empty_flags(df, rec)
    kept = df.loc[dup, rid].map(first.set_index(rid)[rec])
    which = "earliest" if keep == "first" else "latest"
    details = [f"same {rid} as {rec} {k}, which is kept ({which})" for k in kept]
    return _flags(df, rec, "duplicate", dup, details)


def _speeders(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any]) -> pd.DataFrame | None:
    rec, dur = instrument.role("record"), instrument.role("duration")
    if not dur or dur not in df.columns:
        return None
    x = df[dur].to_numpy(float)
    if not np.isfinite(x).any():
        return None
    fraction = float(cfg.get("fraction", 0.3))
    median = float(np.nanmedian(x))
    cut = fraction * median
    hit = np.isfinite(x) & (x < cut)
    details = [f"{dur} {v:g} < {fraction:g} x median {median:g} = {cut:g}" for v in x[hit]]
    return _flags(df, rec, "speeder", hit, details)


def _straightliners(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any]) -> pd.DataFrame | None:
    rec = instrument.role("record")
    grid = [item for item in instrument.straightlining_grid if item in df.columns]
    if len(grid) < 2:
        return None
    share_answered = float(cfg.get("min_answered_share", 0.8))
    modal_share = float(cfg.get("modal_share", 1.0))
    x = df[grid].to_numpy(float)
    answered = np.isfinite(x).sum(axis=1)
    codes = np.unique(x[np.isfinite(x)])
    modal = np.zeros(len(df), dtype=int)
    mode = np.full(len(df), np.nan)
    for code in codes:
        count = (x == code).sum(axis=1)
        better = count > modal
        modal = np.where(better, count, modal)
        mode = np.where(better, code, mode)
    need = max(2, math.ceil(share_answered * len(grid) - 1e-9))
    hit = (answered >= need) & (modal >= modal_share * np.maximum(answered, 1) - 1e-9)
    details = [f"{m} of {a} answered grid items ({len(grid)} in the grid) are {c:g}"
               for m, a, c in zip(modal[hit], answered[hit], mode[hit])]
    return _flags(df, rec, "straightline", hit, details)


def _attention(df: pd.DataFrame, instrument: Instrument, reasons: pd.DataFrame | None) -> pd.DataFrame | None:
    rec = instrument.role("record")
    spec = instrument.attention_check
    if not spec or spec["variable"] not in df.columns:
        return None
    var, correct = spec["variable"], float(spec["correct"])
    x = df[var].to_numpy(float)
    hit = ~(x == correct)
    why = {}
    if reasons is not None and len(reasons):
        r = reasons[reasons["variable"] == var]
        why = dict(zip(r[rec].to_numpy(), r["reason"].astype(str)))
    recs = df[rec].to_numpy()
    details = [f"{var} = {v:g}, the check asks for {correct:g}" if np.isfinite(v)
               else f"{var} missing ({why.get(r, 'blank')}), counted as failed"
               for v, r in zip(x[hit], recs[hit])]
    return _flags(df, rec, "attention", hit, details)


def _age_rule(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any]) -> pd.DataFrame | None:
    rec = instrument.role("record")
    age_var, by_var = cfg.get("age"), cfg.get("birth_year")
    for name in (age_var, by_var):
        if name and name not in instrument.variables:
            raise PipelineError(f"params.yaml: survey.age_rule names '{name}', which is not an instrument variable")
    if not age_var or age_var not in df.columns:
        return None
    def values(name: str) -> np.ndarray:
        x = df[name].to_numpy(float)
        return np.where(np.isin(x, [float(c) for c in instrument.missing_codes_of(name)]), np.nan, x)

    age = values(age_var)
    min_age = cfg.get("min_age")
    young = np.isfinite(age) & (age < float(min_age)) if min_age is not None else np.zeros(len(df), bool)
    off = np.zeros(len(df), bool)
    gap = np.full(len(df), np.nan)
    year = instrument.study.get("survey_year")
    if by_var and by_var in df.columns:
        if year is None:
            raise PipelineError(f"{instrument.path}: study.survey_year is not set", hint="the age rule needs it")
        gap = float(year) - values(by_var) - age
        off = np.isfinite(gap) & (np.abs(gap) > float(cfg.get("tolerance", 1)))
    hit = young | off
    details = []
    tolerance = float(cfg.get("tolerance", 1))
    for a, g, y, o in zip(age[hit], gap[hit], young[hit], off[hit]):
        text = []
        if y:
            text.append(f"{age_var} {a:g} < {float(min_age):g}")
        if o:
            text.append(f"{by_var} {float(year) - g - a:g} + {age_var} {a:g} = {float(year) - g:g}, "
                        f"not {year} (tolerance {tolerance:g})")
        details.append("; ".join(text))
    return _flags(df, rec, "age_rule", hit, details)


def sample_flow(n_raw: int, exclusions: pd.DataFrame, rec: str,
                rules: tuple[str, ...] = RULES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The flow table and the exclusions with ``counted`` (the first rule of each submission); a
    row for each of ``rules`` (those the study applied: :func:`flag_exclusions`), in their order."""
    excl = exclusions.copy()
    excl["counted"] = ~excl[rec].duplicated(keep="first")
    rows = [{"step": 0, "rule": "raw", "label_en": "raw submissions", "label_zh": "原始提交",
             "flagged": 0, "excluded": 0, "remaining": n_raw}]
    remaining = n_raw
    for i, rule in enumerate(rules, start=1):
        flagged = int((excl["rule"] == rule).sum())
        excluded = int(((excl["rule"] == rule) & excl["counted"]).sum())
        remaining -= excluded
        rows.append({"step": i, "rule": rule, "label_en": f"excluded: {RULE_LABELS[rule]['en']}",
                     "label_zh": f"剔除：{RULE_LABELS[rule]['zh']}", "flagged": flagged, "excluded": excluded,
                     "remaining": remaining})
    total = int(excl["counted"].sum())
    rows.append({"step": len(rules) + 1, "rule": "analysed", "label_en": "analysed", "label_zh": "纳入分析",
                 "flagged": int(excl[rec].nunique()), "excluded": total, "remaining": n_raw - total})
    return pd.DataFrame(rows), excl

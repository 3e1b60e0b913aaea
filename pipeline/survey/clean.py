"""The whole cleaning of a survey file in memory (check, clean, describe; nothing is written) and
the pandera contract of the clean data. The steps are described in :mod:`pipeline.stages.survey`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipeline.core.communities import CommunityIds
from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument
from pipeline.survey.check import check_survey
from pipeline.survey.codebook import codebook, codebook_xlsx, labels_sidecar, render_codebook_md
from pipeline.survey.exclusions import RULES, flag_exclusions, sample_flow
from pipeline.survey.missing import SOFT_REASONS, pseudonymise, recode_missing, text_numbers
from pipeline.survey.read import SurveyFile


# --------------------------------------------------------------------------------------------
# contract
# --------------------------------------------------------------------------------------------
def clean_schema(instrument: Instrument, columns: list[str]):
    """The pandera contract of ``survey_clean.parquet``, built from the instrument."""
    import pandera.pandas as pa

    rec, rid, com = instrument.role("record"), instrument.role("id"), instrument.role("community")
    cols = {}
    for name in columns:
        var = instrument.variables.get(name)
        if var is None:  # a derived <var>_num column
            cols[name] = pa.Column("float64", nullable=True)
        elif name == rec:
            cols[name] = pa.Column("int64" if var.type != "string" else "str", unique=True, nullable=False)
        elif name == rid:
            cols[name] = pa.Column("str", pa.Check.str_matches(r"^P[0-9a-f]+$"), unique=True, nullable=False)
        elif name == com:
            cols[name] = pa.Column("str", nullable=False)
        elif var.type == "string":
            cols[name] = pa.Column("str", nullable=True)
        elif var.type == "datetime":
            cols[name] = pa.Column("datetime64[us]", nullable=True)
        elif var.values:
            cols[name] = pa.Column("float64", pa.Check.isin([float(c) for c in var.values]), nullable=True)
        elif var.range is not None:
            cols[name] = pa.Column("float64", pa.Check.in_range(*var.range), nullable=True)
        else:
            cols[name] = pa.Column("float64", nullable=True)
    return pa.DataFrameSchema(cols, strict=True, ordered=True, name="survey_clean")


_LAST_SCHEMA: dict[tuple[Any, ...], Any] = {}   # the last contract built, by what decides it


def _schema_key(instrument: Instrument, columns: list[str]) -> tuple[Any, ...]:
    """Everything :func:`clean_schema` reads: the three roles and each column's type, codes and range."""
    roles = (instrument.role("record"), instrument.role("id"), instrument.role("community"))
    cols = tuple((name,) if (var := instrument.variables.get(name)) is None
                 else (name, var.type, tuple(var.values), var.range) for name in columns)
    return roles, cols


def cached_clean_schema(instrument: Instrument, columns: list[str]):
    """:func:`clean_schema`, built again only when what decides it changes (the recovery study
    cleans hundreds of simulated files of one instrument; pandera takes ~30 ms to build it)."""
    key = _schema_key(instrument, columns)
    if key not in _LAST_SCHEMA:
        _LAST_SCHEMA.clear()
        _LAST_SCHEMA[key] = clean_schema(instrument, list(columns))
    return _LAST_SCHEMA[key]


# --------------------------------------------------------------------------------------------
# the whole cleaning in memory
# --------------------------------------------------------------------------------------------
@dataclass
class SurveyResult:
    clean: pd.DataFrame
    missing: pd.DataFrame
    exclusions: pd.DataFrame
    recodes: pd.DataFrame
    checks: pd.DataFrame
    flow: pd.DataFrame
    metrics: dict[str, Any]
    labels: dict[str, Any]
    codebook_md: str
    codebook_xlsx: bytes


def clean_survey(raw: SurveyFile, instrument: Instrument, cfg: dict[str, Any], key: bytes | None,
                 communities: CommunityIds | None = None, describe: bool = True) -> SurveyResult:
    """Check, clean and describe a survey file; nothing is written. ``key`` pseudonymises the
    respondent ids (None only for a study without roles.id). ``describe=False`` leaves the
    codebook out (empty ``codebook_md`` and ``codebook_xlsx``: for simulation studies that only
    need the cleaned data)."""
    rec, rid, com = instrument.role("record"), instrument.role("id"), instrument.role("community")
    checked = check_survey(raw, instrument, cfg, communities)
    text = text_numbers(checked.frame, instrument, list(cfg.get("free_text_numbers") or []))
    if rid and key is None:
        raise PipelineError("no key to pseudonymise respondent ids", hint="pass the key (see pipeline.survey.missing.id_key)")
    pseudo = pseudonymise(text, rid, key, int(cfg.get("id_hash_length", 16))) if rid else text
    recoded = recode_missing(pseudo, instrument, checked.invalid)
    frame = recoded.frame
    flags, applied = flag_exclusions(frame, instrument, cfg, recoded.missing, answered=pseudo)
    flow, exclusions = sample_flow(len(frame), flags, rec, applied)
    excluded = set(exclusions[rec])
    keep = ~frame[rec].isin(excluded)
    if not keep.any():
        counts = ", ".join(f"{r} {int(v)}" for r, v in zip(flow["rule"], flow["excluded"]) if r in RULES and v)
        raise PipelineError(
            f"{raw.path}: nothing left after cleaning: all {len(frame)} submissions are excluded ({counts})",
            hint="check the data and the rules' thresholds in params.yaml: survey",
        )
    clean = frame[keep].reset_index(drop=True)
    missing = recoded.missing[recoded.missing[rec].isin(set(clean[rec]))].reset_index(drop=True)
    ids = [rec, rid] if rid else [rec]
    exclusions = exclusions.merge(frame[ids], on=rec, how="left")[[*ids, "rule", "counted", "detail"]]
    derived = [c for c in clean.columns if c not in instrument.variables]
    cached_clean_schema(instrument, list(clean.columns)).validate(clean, lazy=True)

    all_missing = [name for name in clean.columns if name in instrument.variables and clean[name].isna().all()]
    checks = pd.concat([checked.checks, pd.DataFrame([(n, "all_missing", "no valid value in the analysed submissions")
                                                      for n in all_missing], columns=checked.checks.columns)],
                       ignore_index=True)
    about = {"source": raw.path.name, "format": raw.format, "encoding": raw.encoding, "raw": len(frame),
             "analysed": len(clean), "columns": list(clean.columns)}
    metrics: dict[str, Any] = {"raw_submissions": len(frame), "analysed": len(clean), "excluded_total": int(exclusions["counted"].sum())}
    for r, row in flow.set_index("rule").iterrows():
        if r in RULES:
            metrics[f"excluded_{r}"] = int(row["excluded"])
            metrics[f"flagged_{r}"] = int(row["flagged"])
    metrics["recoded_cells"] = len(recoded.recodes)
    for reason in SOFT_REASONS:
        metrics[f"recoded_{reason}"] = int((recoded.recodes["reason"] == reason).sum())
    metrics["missing_cells_analysed"] = len(missing)
    metrics["normalised_text_cells"] = checked.normalised
    if com:
        metrics["communities_analysed"] = int(clean[com].nunique())
    metrics["soft_checks"] = len(checks)
    codebook_md, codebook_bytes = "", b""
    if describe:
        variables, values = codebook(clean, missing, instrument, derived)
        codebook_md = render_codebook_md(variables, values, instrument, about)
        codebook_bytes = codebook_xlsx(variables, values, instrument, about)
    return SurveyResult(
        clean=clean, missing=missing, exclusions=exclusions, recodes=recoded.recodes, checks=checks, flow=flow,
        metrics=metrics, labels=labels_sidecar(instrument, derived, about),
        codebook_md=codebook_md, codebook_xlsx=codebook_bytes,
    )

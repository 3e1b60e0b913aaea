"""Text normalisation, pseudonymous ids and missing values (steps 3 to 5 of the survey stage; see
:mod:`pipeline.stages.survey`): one reason per missing cell.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import FULLWIDTH_TO_ASCII, Instrument

# Reasons for a missing cell besides the instrument's missing codes.
SOFT_REASONS = {
    "out_of_range": {"en": "out of range (recoded)", "zh": "超出取值范围（已重编码）"},
    "unlabelled": {"en": "unlabelled code (recoded)", "zh": "无标签代码（已重编码）"},
    "invalid": {"en": "not a valid value (recoded)", "zh": "无效值（已重编码）"},
}
PARADATA_ROLES = ("id", "record", "community", "weight", "duration", "submitted", "interviewer")
NUMBER_IN_TEXT = r"^(\d+(?:\.\d+)?)\s*[^\d\s.]{0,6}$"
NUM_SUFFIX = "_num"


def normalise_text(df: pd.DataFrame, instrument: Instrument) -> tuple[pd.DataFrame, int]:
    """Full-width ASCII to ASCII, whitespace runs to one space, no padding, in every text variable.

    Returns the new frame and the number of cells changed; empty text becomes missing.
    """
    out = df.copy()
    changed = 0
    for name in df.columns:
        var = instrument.variables.get(name)
        if var is None or var.type != "string":
            continue
        s = df[name]
        t = s.str.translate(FULLWIDTH_TO_ASCII).str.replace(r"\s+", " ", regex=True).str.strip()
        t = t.where(t != "")
        changed += int((s.notna() & (s != t)).sum())
        out[name] = t
    return out, changed


def text_numbers(df: pd.DataFrame, instrument: Instrument, names: list[str]) -> pd.DataFrame:
    """``<var>_num`` for each text variable in ``names``: the number the answer gives ("3口人" -> 3)."""
    out = df.copy()
    for name in names:
        var = instrument.variables.get(name)
        if var is None or var.type != "string":
            raise PipelineError(f"params.yaml: survey.free_text_numbers names '{name}', which is not a text variable of the instrument")
        if name + NUM_SUFFIX in instrument.variables:
            raise PipelineError(f"params.yaml: survey.free_text_numbers: '{name}{NUM_SUFFIX}' is already an instrument variable")
        if name in out.columns:
            out[name + NUM_SUFFIX] = pd.to_numeric(out[name].str.extract(NUMBER_IN_TEXT, expand=False), errors="coerce").astype("float64")
    return out


def id_key(cfg: dict[str, Any], environ: dict[str, str] | None = None) -> tuple[bytes, str]:
    """The pseudonymisation key and where it came from (env, file or demo)."""
    environ = os.environ if environ is None else environ
    if environ.get("PIPELINE_ID_KEY"):
        return environ["PIPELINE_ID_KEY"].encode("utf-8"), "env"
    key_file = Path(cfg.get("id_key_file") or "secrets/id_key")
    if key_file.is_file():
        key = key_file.read_bytes().strip()
        if not key:
            raise PipelineError(f"{key_file}: the id key file is empty", hint="write a long random secret into it")
        return key, "file"
    if cfg.get("demo_key"):
        return str(cfg["demo_key"]).encode("utf-8"), "demo"
    raise PipelineError(
        "no key to pseudonymise respondent ids",
        hint=f"set the environment variable PIPELINE_ID_KEY or write a secret into {key_file} (git-ignored)",
    )


def pseudonymise(df: pd.DataFrame, id_var: str, key: bytes, length: int = 16) -> pd.DataFrame:
    """Replace the respondent id by ``P`` + the first ``length`` hex digits of HMAC-SHA256(key, id)."""
    ids = df[id_var]
    uniq = pd.unique(ids.to_numpy())
    pseudo = {v: "P" + hmac.new(key, str(v).encode("utf-8"), hashlib.sha256).hexdigest()[:length] for v in uniq}
    if len(set(pseudo.values())) != len(uniq):
        raise PipelineError("two respondent ids give the same pseudonym", hint="raise params.yaml: survey.id_hash_length")
    out = df.copy()
    out[id_var] = ids.map(pseudo).astype("str")
    return out


@dataclass(frozen=True)
class Recoded:
    frame: pd.DataFrame       # codes with NaN for every missing value
    missing: pd.DataFrame     # record, variable, reason (one row per missing cell)
    recodes: pd.DataFrame     # record, variable, code, reason, action (soft problems)


def answer_variables(instrument: Instrument, columns: list[str]) -> list[str]:
    """Variables whose codes are answers (missing codes apply), not paradata."""
    paradata = {instrument.role(k) for k in PARADATA_ROLES}
    return [c for c in columns if c in instrument.variables and c not in paradata
            and instrument.variables[c].type in ("categorical", "ordinal", "numeric")]


def recode_missing(df: pd.DataFrame, instrument: Instrument, invalid: pd.DataFrame) -> Recoded:
    """Missing codes and soft problems to NaN, with one reason per missing cell."""
    rec = instrument.role("record")
    out = df.copy()
    records = df[rec].to_numpy()
    invalid_vars = set(invalid["variable"])
    answers = set(answer_variables(instrument, list(df.columns)))
    missing_parts, recode_parts = [], []
    columns = [c for c in df.columns if c in instrument.variables]
    for name in columns:
        var = instrument.variables[name]
        s = df[name]
        reason = np.full(len(s), None, dtype=object)
        isna = s.isna().to_numpy()
        reason[isna] = "blank"
        if name in invalid_vars:
            bad_rows = np.isin(records, invalid.loc[invalid["variable"] == name, rec].to_numpy())
            reason[bad_rows] = "invalid"
        if var.type in ("categorical", "ordinal", "numeric"):
            x = s.to_numpy(float)
            known = ~isna
            if name in answers:
                for code, why in ((float(c), spec["reason"]) for c, spec in instrument.missing_codes_of(name).items()):
                    hit = known & (x == code)
                    reason[hit] = why
                    known &= ~hit
            soft = np.full(len(s), None, dtype=object)
            if var.values:
                codes = np.array(sorted(float(c) for c in var.values))
                labelled = np.isin(x, codes)
                inside = (x >= codes[0]) & (x <= codes[-1])
                soft[known & ~labelled & inside] = "unlabelled"
                soft[known & ~labelled & ~inside] = "out_of_range"
            elif var.range is not None:
                lo, hi = var.range
                soft[known & ((x < lo) | (x > hi))] = "out_of_range"
            hit = soft != None  # noqa: E711  (elementwise on an object array)
            if hit.any():
                reason[hit] = soft[hit]
                recode_parts.append(pd.DataFrame({rec: records[hit], "variable": name, "code": [f"{v:g}" for v in x[hit]],
                                                  "reason": soft[hit]}))
            gone = reason != None  # noqa: E711
            out[name] = s.where(~gone)
        gone = reason != None  # noqa: E711
        if gone.any():
            missing_parts.append(pd.DataFrame({rec: records[gone], "variable": name, "reason": reason[gone]}))
    if len(invalid):
        inv = invalid.assign(reason="invalid")[[rec, "variable", "code", "reason"]]
        recode_parts.append(inv)
    recodes = (pd.concat(recode_parts, ignore_index=True) if recode_parts
               else pd.DataFrame({rec: pd.Series(dtype=df[rec].dtype), "variable": pd.Series(dtype=str),
                                  "code": pd.Series(dtype=str), "reason": pd.Series(dtype=str)}))
    order = {name: i for i, name in enumerate(columns)}
    recodes = (recodes.assign(_o=recodes["variable"].map(order)).sort_values([rec, "_o"], kind="stable")
               .drop(columns="_o").reset_index(drop=True))
    recodes["action"] = "set to missing"
    missing = _missing_table(missing_parts, rec, columns, instrument, df[rec].dtype)
    return Recoded(frame=out, missing=missing, recodes=recodes)


def missing_reasons(instrument: Instrument) -> list[str]:
    return list(dict.fromkeys([spec["reason"] for spec in instrument.missing_codes.values()] + list(SOFT_REASONS) + ["blank"]))


def _missing_table(parts: list[pd.DataFrame], rec: str, columns: list[str], instrument: Instrument, dtype: Any) -> pd.DataFrame:
    if parts:
        m = pd.concat(parts, ignore_index=True)
    else:
        m = pd.DataFrame({rec: pd.Series(dtype=dtype), "variable": pd.Series(dtype=str), "reason": pd.Series(dtype=str)})
    m["variable"] = pd.Categorical(m["variable"], categories=columns)
    m["reason"] = pd.Categorical(m["reason"], categories=missing_reasons(instrument))
    return m.sort_values([rec, "variable"], kind="stable").reset_index(drop=True)

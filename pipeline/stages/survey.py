"""The survey stage: read a survey export, check it against the instrument, clean it with a full
audit trail, and write the cleaned data, the exclusions, the sample flow and the codebook.

Steps (each a pure function returning new frames; :func:`main` only reads and writes):

1. :func:`read_survey` reads SPSS ``.sav`` and Stata ``.dta`` through pyreadstat with their
   metadata (``user_missing=True`` keeps SPSS user-missing codes as codes), CSV and Excel exports
   (e.g. 问卷星 downloads) through pandas as text. ``survey.encoding`` reads legacy GBK files.
2. :func:`check_survey` checks the file against the instrument before anything else. Hard
   problems stop the stage with one message (unreadable or empty file, no rows, a required, id,
   record or community variable missing, a variable with no value of its type, record numbers
   not unique, empty ids, ids nearly all repeated, labels garbled by a wrong encoding). Soft
   problems are recorded in ``survey_checks.csv`` (variable-level) and ``recodes.csv`` (cells).
   It types every column: codes as float (NaN = missing), text as strings, times as datetimes.
3. :func:`normalise_text` turns full-width ASCII (``３人`` -> ``3人``) and runs of whitespace in
   every text variable into their plain form; ``survey.free_text_numbers`` adds ``<var>_num``,
   the number a free-text answer gives (``" ３口人 "`` -> 3).
4. :func:`pseudonymise` replaces the respondent id by ``P`` + the first ``id_hash_length`` hex
   digits of HMAC-SHA256(key, id). The key comes from the environment variable
   ``PIPELINE_ID_KEY``, else the git-ignored file ``survey.id_key_file``, else (synthetic study
   only) ``survey.demo_key``. The raw id never reaches ``processed/`` or ``reports/``.
5. :func:`recode_missing` turns codes into missing values, one reason per missing cell:
   the instrument's missing codes (``dont_know``, ``refused``, ``skipped`` for the demo study;
   applied to answers, not to the paradata roles record/id/community/weight/duration/
   submitted/interviewer), ``out_of_range`` (outside the value labels' span or the valid
   range), ``unlabelled`` (inside the span but not a labelled code), ``invalid`` (text that is
   not a number or a label, or an unreadable time) and ``blank`` (empty in the file). The last
   four are soft problems and are listed cell by cell in ``recodes.csv``.
6. :func:`flag_exclusions` applies the exclusion rules, each to every submission, in this
   documented order (a submission flagged by several rules is listed under each and counted
   once, under the first):

   - ``duplicate``: submissions sharing a respondent id; the earliest by the ``submitted`` role
     (ties and missing times: lowest record number) is kept (``duplicate.keep: last`` keeps the
     latest), the others are excluded.
   - ``speeder``: duration < ``speeder.fraction`` x the median duration of all submissions.
   - ``straightline``: over the instrument's ``straightlining_grid``, at least
     ``min_answered_share`` of the items answered and the modal answer's share of the answered
     items >= ``modal_share`` (1.0: all identical; reverse-keyed items in the grid make this
     inconsistent for a real attitude).
   - ``attention``: the attention-check answer differs from the instrument's correct code; a
     missing answer (any reason) counts as failed.
   - ``age_rule``: age < ``min_age``, or |survey year - birth year - age| > ``tolerance``
     (survey year from the instrument's ``study.survey_year``). Missing age or birth year: the
     part of the rule that needs it is not applied.

   A rule whose variables the instrument does not define is not applied (0 in the flow).
7. :func:`sample_flow`: raw submissions, minus each rule in order, analysed. Invariant: raw =
   analysed + excluded, and every record is in exactly one of the two.
8. :func:`codebook` describes every instrument variable over the analysed submissions
   (labels in Chinese and English where the instrument gives both, type, value labels, valid N,
   missing by reason, frequencies or summary statistics); rendered as Markdown and Excel.

Outputs (``processed/``): ``survey_clean.parquet`` (analysed submissions, instrument order,
codes kept; labels in the sidecar ``survey_labels.json``), ``survey_missing.parquet`` (the
reason of every missing cell of the clean data: record, variable, reason), ``exclusions.csv``,
``recodes.csv``, ``survey_checks.csv``, ``sample_flow.csv``; ``reports/codebook.md`` and
``.xlsx``; ``metrics/survey.json``. All are built in memory first and written through temporary
files renamed into place only when every one of them is complete.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import math
import os
import re
import sys
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import atomic_path, write_bytes, write_csv, write_json, write_parquet, write_text
from pipeline.core.instrument import FULLWIDTH_TO_ASCII, Instrument, Variable, load_instrument, read_community_ids

RULES = ("duplicate", "speeder", "straightline", "attention", "age_rule")
RULE_LABELS = {
    "duplicate": {"en": "duplicate submission", "zh": "重复提交"},
    "speeder": {"en": "speeder (too fast)", "zh": "答题过快"},
    "straightline": {"en": "straight-lining", "zh": "直线作答"},
    "attention": {"en": "failed attention check", "zh": "注意力检测未通过"},
    "age_rule": {"en": "age / birth-year rule", "zh": "年龄/出生年份不符"},
}
# Reasons for a missing cell besides the instrument's missing codes.
SOFT_REASONS = {
    "out_of_range": {"en": "out of range (recoded)", "zh": "超出取值范围（已重编码）"},
    "unlabelled": {"en": "unlabelled code (recoded)", "zh": "无标签代码（已重编码）"},
    "invalid": {"en": "not a valid value (recoded)", "zh": "无效值（已重编码）"},
}
BLANK = {"en": "blank in the file (system-missing)", "zh": "空白（系统缺失）"}
PARADATA_ROLES = ("id", "record", "community", "weight", "duration", "submitted", "interviewer")
FORMATS = {".sav": "sav", ".zsav": "sav", ".dta": "dta", ".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}
NUMBER_IN_TEXT = r"^(\d+(?:\.\d+)?)\s*[^\d\s.]{0,6}$"
NUM_SUFFIX = "_num"
LANGS = ("zh", "en")
MD_TOP_VALUES = 10  # text variables: the most frequent values listed in codebook.md (all in the .xlsx)

OUTPUTS = {
    "clean": "survey_clean.parquet",
    "missing": "survey_missing.parquet",
    "labels": "survey_labels.json",
    "exclusions": "exclusions.csv",
    "recodes": "recodes.csv",
    "checks": "survey_checks.csv",
    "flow": "sample_flow.csv",
    "codebook_md": "codebook.md",
    "codebook_xlsx": "codebook.xlsx",
}
METRICS_FILE = config.METRICS / "survey.json"


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SurveyFile:
    """A survey export as read: the frame and the metadata the file carries (if any)."""

    path: Path
    format: str
    encoding: str | None
    frame: pd.DataFrame
    labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)
    declared_missing: dict[str, list[float]] = field(default_factory=dict)


def survey_format(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        if fmt not in set(FORMATS.values()):
            raise PipelineError(f"params.yaml: survey.format '{fmt}' is unknown", hint="use auto, sav, dta, csv or xlsx")
        return fmt
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise PipelineError(
            f"{path}: cannot tell the format from the extension '{path.suffix}'",
            hint="use .sav, .dta, .csv or .xlsx, or set params.yaml: survey.format",
        ) from None


def read_survey(path: str | Path, fmt: str = "auto", encoding: str | None = None, sheet: int | str = 0) -> SurveyFile:
    """Read a survey export with its metadata; expected failures raise :class:`PipelineError`."""
    path = Path(path)
    fmt = survey_format(path, fmt)
    if not path.is_file():
        raise PipelineError(f"{path}: survey file not found", hint="check --input (default raw/survey.sav)")
    if path.stat().st_size == 0:
        raise PipelineError(f"{path}: the file is empty (0 bytes)", hint="re-export the survey data")
    if fmt in ("sav", "dta"):
        reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
        try:
            # .sav: user-missing codes stay codes; .dta: Stata's .a-.z read as empty (blank)
            df, meta = reader(path, user_missing=(fmt == "sav"), encoding=encoding)
        except pyreadstat.ReadstatError as exc:
            raise _readstat_error(path, fmt, exc) from None
        except (UnicodeError, LookupError) as exc:
            raise _encoding_error(path, exc) from None
        declared = {}
        for name, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
            codes = [float(r["lo"]) for r in ranges if r["lo"] == r["hi"] and isinstance(r["lo"], (int, float))]
            declared[name] = codes
        return SurveyFile(
            path=path, format=fmt, encoding=getattr(meta, "file_encoding", None) or encoding, frame=df,
            labels={k: v for k, v in (meta.column_names_to_labels or {}).items() if v},
            value_labels={k: dict(v) for k, v in (meta.variable_value_labels or {}).items()},
            declared_missing=declared,
        )
    try:
        if fmt == "csv":
            # header=None: pandas would rename a repeated column ("q1.1") and, when every row has
            # one field more than the header, silently take the first column as the index
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding or "utf-8-sig", header=None)
        else:
            df = pd.read_excel(path, sheet_name=sheet, dtype=str, keep_default_na=False, engine="openpyxl", header=None)
    except (UnicodeError, LookupError) as exc:
        raise _encoding_error(path, exc) from None
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: the file has no header and no rows", hint="re-export the survey data") from None
    except pd.errors.ParserError as exc:
        raise PipelineError(f"{path}: not a well-formed CSV file ({_first_line(exc)})", hint="re-export it") from None
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise PipelineError(f"{path}: not a readable {fmt} file ({_first_line(exc)})", hint="re-export it") from None
    df = _header_row(df)
    df = df.replace("", np.nan) if len(df) else df
    return SurveyFile(path=path, format=fmt, encoding=encoding or ("utf-8" if fmt == "csv" else None), frame=df)


def _header_row(df: pd.DataFrame) -> pd.DataFrame:
    """The first row of a text table as its column names, kept as written (a repeated name stays
    repeated, so that the check stops on it). A column without a name is dropped when it is empty
    throughout (Excel's formatted empty columns), else named ``Unnamed: <i>`` as pandas does."""
    if len(df) == 0:
        return df
    names = ["" if pd.isna(v) else str(v) for v in df.iloc[0]]
    body = df.iloc[1:].reset_index(drop=True)
    body.columns = range(body.shape[1])
    keep, columns = [], []
    for i, name in enumerate(names):
        if not name.strip():
            col = body[i]
            if not (col.isna() | (col.astype(str).str.strip() == "")).all():
                keep.append(i)
                columns.append(f"Unnamed: {i}")
            continue
        keep.append(i)
        columns.append(name)
    body = body[keep]
    body.columns = columns
    return body


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]


def _encoding_error(path: Path, exc: BaseException) -> PipelineError:
    return PipelineError(
        f"{path}: the text is not in the expected encoding ({_first_line(exc)})",
        hint="set params.yaml: survey.encoding to the file's encoding (GBK for legacy Chinese files)",
    )


def _readstat_error(path: Path, fmt: str, exc: BaseException) -> PipelineError:
    text = _first_line(exc)
    if "encoding" in text.lower() or "convert string" in text.lower():
        return _encoding_error(path, exc)
    kind = "SPSS .sav" if fmt == "sav" else "Stata .dta"
    return PipelineError(
        f"{path}: not a readable {kind} file ({text})",
        hint="the file may be truncated or in another format; re-export it, or set params.yaml: survey.format",
    )


# --------------------------------------------------------------------------------------------
# checking against the instrument
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checked:
    """The file's instrument variables, typed, with the soft findings of the checks."""

    frame: pd.DataFrame           # instrument variables present, typed, text normalised; sorted by record
    checks: pd.DataFrame          # variable, check, detail (soft, variable level)
    invalid: pd.DataFrame         # record, variable, code (text cells that are not values)
    normalised: int               # text cells changed by normalise_text


def _roles_needed(instrument: Instrument) -> dict[str, str]:
    if not instrument.role("record"):
        raise PipelineError(
            f"{instrument.path}: roles.record is not set",
            hint="name the variable unique per submission (add a row-number column to the export if it has none)",
        )
    return {key: instrument.role(key) for key in ("record", "id", "community")}


def check_survey(
    raw: SurveyFile, instrument: Instrument, cfg: dict[str, Any], communities: tuple[str, set[str]] | None = None
) -> Checked:
    """Check ``raw`` against the instrument: hard problems raise, soft ones are recorded.

    ``communities`` is (file name, its community ids): every submission's community must be one.
    """
    path = raw.path
    df = raw.frame
    if len(df) == 0:
        raise PipelineError(f"{path}: the file has no data rows", hint="re-export the survey data")
    rename = {str(k): str(v) for k, v in (cfg.get("rename") or {}).items()}
    df = df.rename(columns=rename)
    roles = _roles_needed(instrument)
    checks: list[tuple[str, str, str]] = []

    # required variables --------------------------------------------------------------------
    present = [name for name in instrument.variables if name in df.columns]
    for key in ("id", "record"):
        name = roles[key]
        if name not in df.columns:
            raise PipelineError(
                f"{path}: the {'respondent id' if key == 'id' else 'record'} variable '{name}' (roles.{key}) "
                f"is not in the file (columns: {_preview(df.columns)})",
                hint="export it with the data, map the file's column in params.yaml: survey.rename, "
                "or correct config/instrument.yaml",
            )
    # after the id check: a file without a header row repeats data values as names; after the
    # renaming: two columns mapped to one variable are a repeat too
    dupes = sorted({str(c) for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise PipelineError(f"{path}: columns {_preview(dupes)} occur more than once", hint="each variable needs one column")
    required = [name for name in instrument.required + [roles["community"]] if name not in df.columns]
    if required:
        raise PipelineError(
            f"{path}: required variable(s) {', '.join(dict.fromkeys(required))} not in the file "
            f"(columns: {_preview(df.columns)})",
            hint="check the file's header row, map columns in params.yaml: survey.rename, or correct the instrument",
        )
    for name in instrument.variables:
        if name not in df.columns:
            checks.append((name, "absent", "optional variable not in the file"))
    extra = [str(c) for c in df.columns if c not in instrument.variables]
    for name in extra:
        checks.append((name, "not_in_instrument", "column dropped (not in the instrument)"))

    # the file's own labels -----------------------------------------------------------------
    checks += _label_checks(raw, instrument, rename, present)

    # types; the record first, so that problems can name records ----------------------------
    df = df[present]
    rec, rid = roles["record"], roles["id"]
    record_series, _ = _typed(df[rec], instrument.variables[rec], instrument, path)
    records = _record(record_series, instrument.variables[rec], path)
    typed: dict[str, pd.Series] = {rec: records}
    invalid_parts = []
    for name in present:
        if name == rec:
            continue
        series, bad = _typed(df[name], instrument.variables[name], instrument, path)
        typed[name] = series
        if bad is not None and bad.any():
            invalid_parts.append(pd.DataFrame({rec: records[bad].to_numpy(), "variable": name,
                                               "code": df[name][bad].astype(str).to_numpy()}))
    frame, normalised = normalise_text(pd.DataFrame(typed, index=df.index)[present], instrument)

    # id, community ---------------------------------------------------------------------------
    empty = frame[rid].isna()
    if empty.any():
        raise PipelineError(
            f"{path}: the respondent id '{rid}' is empty in {int(empty.sum())} row(s) "
            f"({rec} {_preview(frame.loc[empty, rec])})",
            hint="every submission needs a respondent id; fix the export",
        )
    n = len(frame)
    repeated = n - frame[rid].nunique()
    limit = float(cfg.get("max_duplicate_share", 0.5))
    if repeated / n > limit:
        raise PipelineError(
            f"{path}: {repeated} of {n} submissions repeat another submission's '{rid}' "
            f"({frame[rid].nunique()} distinct ids)",
            hint=f"the id variable looks wrong (more than {limit:.0%} duplicates); check roles.id in the "
            "instrument or the export, or raise params.yaml: survey.max_duplicate_share",
        )
    com = roles["community"]
    if frame[com].isna().any():
        empty = frame[com].isna()
        raise PipelineError(
            f"{path}: the community '{com}' is empty in {int(empty.sum())} row(s) ({rec} {_preview(frame.loc[empty, rec])})",
            hint="every submission needs its community",
        )
    if communities is not None:
        source, known = communities
        unknown = ~frame[com].isin(known)
        if unknown.any():
            raise PipelineError(
                f"{path}: '{com}' values {_preview(sorted(set(frame.loc[unknown, com])))} "
                f"({rec} {_preview(frame.loc[unknown, rec])}) are not in {source}",
                hint=f"correct the ids in the survey or add the communities to {source}",
            )

    frame = frame.sort_values(rec, kind="stable").reset_index(drop=True)
    if invalid_parts:
        invalid = pd.concat(invalid_parts, ignore_index=True)
    else:
        invalid = pd.DataFrame({rec: records.iloc[:0], "variable": pd.Series(dtype="str"), "code": pd.Series(dtype="str")})
    return Checked(frame=frame, checks=pd.DataFrame(checks, columns=["variable", "check", "detail"]), invalid=invalid,
                   normalised=normalised)


def _preview(values: Any, k: int = 8) -> str:
    values = [str(v) for v in values]
    more = f", ... ({len(values)} in all)" if len(values) > k else ""
    return ", ".join(values[:k]) + more


def _label_checks(raw: SurveyFile, instrument: Instrument, rename: dict[str, str], present: list[str]) -> list[tuple[str, str, str]]:
    """Compare the file's labels with the instrument's; garbled labels (a wrong encoding) stop the stage."""
    checks = []
    labels = {rename.get(k, k): v for k, v in raw.labels.items()}
    value_labels = {rename.get(k, k): v for k, v in raw.value_labels.items()}
    declared = {rename.get(k, k): v for k, v in raw.declared_missing.items()}
    garbled = []
    compared = 0
    for name in present:
        var = instrument.variables[name]
        own = labels.get(name)
        if own:
            wanted = {str(v).strip() for v in var.label.values() if v}
            if _has_cjk("".join(wanted)):
                compared += 1
                if not _has_cjk(own) and re.search("[\u0080-\u00ff]", own):
                    garbled.append((name, own, var.label_in("zh")))
            if own.strip() not in wanted:
                checks.append((name, "label_differs", f"file: {own!r}; instrument: {var.label_in('zh')!r}"))
        known = {float(c): lab for c, lab in var.values.items()} | {float(c): s for c, s in instrument.missing_codes.items()}
        for code, text in sorted(value_labels.get(name, {}).items(), key=lambda kv: str(kv[0])):
            try:
                code_f = float(code)
            except (TypeError, ValueError):
                continue
            if code_f not in known:
                checks.append((name, "value_label_unknown_code", f"file labels code {code_f:g} ({text!r}), the instrument does not"))
            elif str(text).strip() not in {str(v).strip() for k, v in known[code_f].items() if k != "reason" and v}:
                checks.append((name, "value_label_differs", f"code {code_f:g}: file {text!r}; instrument {known[code_f].get('zh', known[code_f].get('en'))!r}"))
        miss = {float(c) for c in instrument.missing_codes}
        for code in declared.get(name, []):
            if code not in miss:
                checks.append((name, "declared_missing_unknown", f"the file declares {code:g} user-missing; the instrument has no reason for it"))
    if garbled and len(garbled) * 2 >= compared:
        name, own, want = garbled[0]
        raise PipelineError(
            f"{raw.path}: variable labels look garbled, e.g. '{name}' is labelled {own!r} where the instrument has "
            f"{want!r} ({len(garbled)} of {compared} labels; read as {raw.encoding})",
            hint="the file is probably in a legacy Chinese encoding; set params.yaml: survey.encoding: GBK",
        )
    return checks


def _has_cjk(text: str) -> bool:
    return re.search("[\u3400-\u9fff]", text) is not None


def _typed(s: pd.Series, var: Variable, instrument: Instrument, path: Path) -> tuple[pd.Series, pd.Series | None]:
    """The column in the instrument's type, and a mask of non-empty cells that are not values."""
    if var.type == "string":
        if pd.api.types.is_numeric_dtype(s):
            return pd.Series([_number_text(v) for v in s], index=s.index, dtype="str"), None
        text = s.astype("str")
        return text.where(s.notna() & (text.str.strip() != "")), None  # empty or only spaces: blank
    if var.type == "datetime":
        if pd.api.types.is_datetime64_any_dtype(s):
            return s.astype("datetime64[us]"), None
        if pd.api.types.is_numeric_dtype(s) and s.notna().any():
            raise PipelineError(
                f"{path}: variable '{var.name}' is a number in the file but a date-time in the instrument",
                hint="export it with a date-time format (SPSS DATETIME, Stata %tc) or as text",
            )
        text = s.astype("str").where(s.notna()).str.translate(FULLWIDTH_TO_ASCII).str.strip()
        out = pd.to_datetime(text, errors="coerce", format="mixed").astype("datetime64[us]")
        bad = text.notna() & (text != "") & out.isna()
        _all_bad(bad, text, var, path)
        return out, bad
    # categorical, ordinal, numeric
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype("float64"), None
    if pd.api.types.is_datetime64_any_dtype(s):
        raise PipelineError(f"{path}: variable '{var.name}' is a date-time in the file but {var.type} in the instrument")
    text = s.astype("str").where(s.notna()).str.translate(FULLWIDTH_TO_ASCII).str.strip()
    blank = text.isna() | (text == "")
    num = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
    unparsed = ~blank & num.isna()
    if unparsed.any():
        lookup = {}
        for code, spec in list(var.values.items()) + list(instrument.missing_codes.items()):
            for key, label in spec.items():
                if key != "reason":
                    lookup.setdefault(str(label).strip(), float(code))
        num = num.where(~unparsed, text.map(lookup).astype("float64"))
    bad = ~blank & num.isna()
    _all_bad(bad, text, var, path)
    return num, bad


def _all_bad(bad: pd.Series, text: pd.Series, var: Variable, path: Path) -> None:
    if bad.any() and bad.sum() == text.notna().sum() - (text == "").sum():
        example = _safe_example(text[bad].iloc[0])
        raise PipelineError(
            f"{path}: variable '{var.name}' should be {var.type} but none of its values is (e.g. {example})",
            hint="check the column mapping (params.yaml: survey.rename) or the variable's type in the instrument",
        )


SAFE_EXAMPLE = re.compile(r"[A-Za-z][A-Za-z /._-]{0,11}")


def _safe_example(value: str) -> str:
    """A cell value for an error message only when it is a short word such as 'unknown' or 'NA';
    anything else (an id, a name, a number, a long text) may be personal data and is described."""
    value = str(value)
    return repr(value) if SAFE_EXAMPLE.fullmatch(value) else f"a text of {len(value)} character(s)"


def _number_text(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return np.nan
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def _record(typed: pd.Series, var: Variable, path: Path) -> pd.Series:
    """The record number: present, unique, integer when the instrument says numeric."""
    name = var.name
    if typed.isna().any():
        raise PipelineError(
            f"{path}: the record variable '{name}' (roles.record) is empty in {int(typed.isna().sum())} row(s)",
            hint="every submission needs its own record number",
        )
    if var.type != "string":
        values = typed.to_numpy(float)
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise PipelineError(f"{path}: the record variable '{name}' has non-integer values", hint="use whole numbers")
        if np.any(np.abs(values) > 2**53):  # beyond exact integers in a float (and int64 casts wrap)
            raise PipelineError(f"{path}: the record variable '{name}' has values too large to be record numbers "
                                f"(over {2**53})", hint="number the submissions 1, 2, 3 ...")
        typed = pd.Series(values.astype("int64"), index=typed.index, name=name)
    repeated = typed[typed.duplicated(keep=False)]
    if len(repeated):
        raise PipelineError(
            f"{path}: the record variable '{name}' (roles.record) is not unique: value(s) "
            f"{_preview(sorted(set(repeated)))} occur more than once",
            hint="each submission needs its own record number",
        )
    return typed


# --------------------------------------------------------------------------------------------
# text, ids, missing values
# --------------------------------------------------------------------------------------------
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
    miss_codes = {float(c): spec["reason"] for c, spec in instrument.missing_codes.items()}
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
                for code, why in miss_codes.items():
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


# --------------------------------------------------------------------------------------------
# exclusion rules
# --------------------------------------------------------------------------------------------
def flag_exclusions(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any], reasons: pd.DataFrame | None = None,
                    answered: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every (submission, rule) that applies: record, rule, detail (rules in the documented order).

    ``df`` holds the recoded values (every missing value NaN). The age rule reads age and birth
    year from ``answered`` (the typed values before recoding; missing codes are still treated as
    missing there) because an out-of-range birth year is exactly what that rule is about.
    """
    rec = instrument.role("record")
    parts = [
        _duplicates(df, instrument, cfg.get("duplicate") or {}),
        _speeders(df, instrument, cfg.get("speeder") or {}),
        _straightliners(df, instrument, cfg.get("straightline") or {}),
        _attention(df, instrument, reasons),
        _age_rule(df if answered is None else answered, instrument, cfg.get("age_rule") or {}),
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if out is None:
        return pd.DataFrame({rec: pd.Series(dtype=df[rec].dtype), "rule": pd.Series(dtype=str), "detail": pd.Series(dtype=str)})
    out["_o"] = out["rule"].map({r: i for i, r in enumerate(RULES)})
    return out.sort_values([rec, "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)


def _flags(df: pd.DataFrame, rec: str, rule: str, mask: np.ndarray, details: list[str]) -> pd.DataFrame:
    return pd.DataFrame({rec: df[rec].to_numpy()[mask], "rule": rule, "detail": details})


def _empty_flags(df: pd.DataFrame, rec: str) -> pd.DataFrame:
    return pd.DataFrame({rec: df[rec].iloc[:0], "rule": pd.Series(dtype=str), "detail": pd.Series(dtype=str)})


def _duplicates(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any]) -> pd.DataFrame:
    rec, rid, sub = instrument.role("record"), instrument.role("id"), instrument.role("submitted")
    keep = cfg.get("keep", "first")
    if keep not in ("first", "last"):
        raise PipelineError(f"params.yaml: survey.duplicate.keep is '{keep}'", hint="use first or last")
    latest_last = keep == "first"
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


def _speeders(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any]) -> pd.DataFrame:
    rec, dur = instrument.role("record"), instrument.role("duration")
    if not dur or dur not in df.columns:
        return _empty_flags(df, rec)
    x = df[dur].to_numpy(float)
    if not np.isfinite(x).any():
        return _empty_flags(df, rec)
    fraction = float(cfg.get("fraction", 0.3))
    median = float(np.nanmedian(x))
    cut = fraction * median
    hit = np.isfinite(x) & (x < cut)
    details = [f"{dur} {v:g} < {fraction:g} x median {median:g} = {cut:g}" for v in x[hit]]
    return _flags(df, rec, "speeder", hit, details)


def _straightliners(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any]) -> pd.DataFrame:
    rec = instrument.role("record")
    grid = [item for item in instrument.straightlining_grid if item in df.columns]
    if len(grid) < 2:
        return _empty_flags(df, rec)
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


def _attention(df: pd.DataFrame, instrument: Instrument, reasons: pd.DataFrame | None) -> pd.DataFrame:
    rec = instrument.role("record")
    spec = instrument.attention_check
    if not spec or spec["variable"] not in df.columns:
        return _empty_flags(df, rec)
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


def _age_rule(df: pd.DataFrame, instrument: Instrument, cfg: dict[str, Any]) -> pd.DataFrame:
    rec = instrument.role("record")
    age_var, by_var = cfg.get("age"), cfg.get("birth_year")
    for name in (age_var, by_var):
        if name and name not in instrument.variables:
            raise PipelineError(f"params.yaml: survey.age_rule names '{name}', which is not an instrument variable")
    if not age_var or age_var not in df.columns:
        return _empty_flags(df, rec)
    codes = [float(c) for c in instrument.missing_codes]

    def values(name: str) -> np.ndarray:
        x = df[name].to_numpy(float)
        return np.where(np.isin(x, codes), np.nan, x)

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


def sample_flow(n_raw: int, exclusions: pd.DataFrame, rec: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The flow table and the exclusions with ``counted`` (the first rule of each submission)."""
    excl = exclusions.copy()
    excl["counted"] = ~excl[rec].duplicated(keep="first")
    rows = [{"step": 0, "rule": "raw", "label_en": "raw submissions", "label_zh": "原始提交",
             "flagged": 0, "excluded": 0, "remaining": n_raw}]
    remaining = n_raw
    for i, rule in enumerate(RULES, start=1):
        flagged = int((excl["rule"] == rule).sum())
        excluded = int(((excl["rule"] == rule) & excl["counted"]).sum())
        remaining -= excluded
        rows.append({"step": i, "rule": rule, "label_en": f"excluded: {RULE_LABELS[rule]['en']}",
                     "label_zh": f"剔除：{RULE_LABELS[rule]['zh']}", "flagged": flagged, "excluded": excluded,
                     "remaining": remaining})
    total = int(excl["counted"].sum())
    rows.append({"step": len(RULES) + 1, "rule": "analysed", "label_en": "analysed", "label_zh": "纳入分析",
                 "flagged": int(excl[rec].nunique()), "excluded": total, "remaining": n_raw - total})
    return pd.DataFrame(rows), excl


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


# --------------------------------------------------------------------------------------------
# codebook
# --------------------------------------------------------------------------------------------
def instrument_languages(instrument: Instrument) -> list[str]:
    return [lang for lang in LANGS if any(lang in v.label for v in instrument.variables.values())] or ["en"]


def derived_label(instrument: Instrument, base: str) -> dict[str, str]:
    """Labels of ``<base>_num``."""
    return {lang: f"{text}（数值）" if lang == "zh" else f"{text} (number)"
            for lang, text in instrument.variables[base].label.items() if text}


def role_of(instrument: Instrument, name: str) -> str:
    return ", ".join(k for k, v in instrument.roles.items() if v == name)


def codebook(clean: pd.DataFrame, missing: pd.DataFrame, instrument: Instrument, derived: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per variable (instrument order, then derived columns) and one per (variable, value)."""
    rec = instrument.role("record")
    rid = instrument.role("id")
    reasons = missing_reasons(instrument)
    by_reason = (missing.groupby(["variable", "reason"], observed=False).size().unstack("reason", fill_value=0)
                 if len(missing) else pd.DataFrame(0, index=pd.Index([], name="variable"), columns=reasons))
    var_rows, value_rows = [], []
    n = len(clean)
    names = list(instrument.variables) + derived
    for name in names:
        var = instrument.variables.get(name)
        base = name[: -len(NUM_SUFFIX)] if var is None else name
        label = var.label if var is not None else derived_label(instrument, base)
        row = {"variable": name, **{f"label_{lang}": label.get(lang, "") for lang in LANGS},
               "type": var.type if var is not None else "numeric", "role": role_of(instrument, name) if var else "",
               "required": bool(var.required) if var else False, "in_file": name in clean.columns,
               "derived_from": "" if var is not None else base}
        if name not in clean.columns:
            var_rows.append(row)
            continue
        s = clean[name]
        valid = int(s.notna().sum())
        row["valid_n"] = valid
        counts = by_reason.loc[name] if name in by_reason.index else pd.Series(0, index=reasons)
        row["missing_n"] = n - valid
        for reason in reasons:
            row[f"missing_{reason}"] = int(counts.get(reason, 0))
        kind = var.type if var is not None else "numeric"
        if name == rid:
            row["distinct"] = int(s.nunique())
            row["note"] = "pseudonymised (keyed HMAC-SHA256)"
        elif name == rec:
            row["distinct"] = int(s.nunique())
            row["note"] = "one per submission"
        elif kind == "string":
            row["distinct"] = int(s.nunique())
            if var.free_text:
                row["note"] = "free text (values not listed); full-width digits and spaces normalised"
            else:
                for value, count in s.value_counts().sort_index().items():
                    value_rows.append({"variable": name, "code": str(value), **{f"label_{lang}": "" for lang in LANGS},
                                       "n": int(count), "percent": round(100 * count / valid, 1) if valid else None,
                                       "missing_reason": ""})
        elif kind == "datetime":
            row["min"] = str(s.min()) if valid else ""
            row["max"] = str(s.max()) if valid else ""
        elif var is not None and var.values and name != rec:
            freq = s.value_counts()
            for code, labs in sorted(var.values.items()):
                count = int(freq.get(float(code), 0))
                value_rows.append({"variable": name, "code": f"{code:g}", **{f"label_{lang}": labs.get(lang, "") for lang in LANGS},
                                   "n": count, "percent": round(100 * count / valid, 1) if valid else None, "missing_reason": ""})
            if name in answer_variables(instrument, [name]):
                for code, spec in sorted(instrument.missing_codes.items()):
                    value_rows.append({"variable": name, "code": f"{code:g}", **{f"label_{lang}": spec.get(lang, "") for lang in LANGS},
                                       "n": int(counts.get(spec["reason"], 0)), "percent": None, "missing_reason": spec["reason"]})
        else:
            x = s.dropna().astype(float)
            if valid:
                row.update({"mean": round(float(x.mean()), 4), "sd": round(float(x.std(ddof=1)), 4) if valid > 1 else None,
                            "min": float(x.min()), "p25": round(float(x.quantile(0.25)), 4), "median": round(float(x.median()), 4),
                            "p75": round(float(x.quantile(0.75)), 4), "max": float(x.max())})
        var_rows.append(row)
    variables = pd.DataFrame(var_rows)
    values = pd.DataFrame(value_rows, columns=["variable", "code", *[f"label_{lang}" for lang in LANGS], "n", "percent", "missing_reason"])
    return variables, values


def _md(text: Any) -> str:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def render_codebook_md(variables: pd.DataFrame, values: pd.DataFrame, instrument: Instrument, about: dict[str, Any]) -> str:
    langs = instrument_languages(instrument)
    reasons = missing_reasons(instrument)
    title = instrument.study.get("title") or {}
    head = " / ".join(str(title[lang]) for lang in langs if lang in title) or str(instrument.study.get("id", ""))
    zh = "zh" in langs
    lines = [f"# Codebook{'（变量手册）' if zh else ''}: {head}", ""]
    lines.append(
        f"Study `{instrument.study.get('id', '')}`. Source `{about['source']}` ({about['format']}"
        f"{', encoding ' + str(about['encoding']) if about.get('encoding') else ''}): {about['raw']} raw submissions, "
        f"{about['analysed']} analysed. Counts and statistics are over the analysed submissions. "
        "Made by `python -m pipeline survey` (the `survey` stage); do not edit by hand."
    )
    lines += ["", "Missing values: every missing cell has one reason.", ""]
    lines += ["| reason | code | " + " | ".join(f"meaning ({lang})" for lang in langs) + " |",
              "|---|---|" + "---|" * len(langs)]
    for code, spec in sorted(instrument.missing_codes.items()):
        lines.append(f"| `{spec['reason']}` | {code:g} | " + " | ".join(_md(spec.get(lang, "")) for lang in langs) + " |")
    for reason, spec in list(SOFT_REASONS.items()) + [("blank", BLANK)]:
        lines.append(f"| `{reason}` | | " + " | ".join(_md(spec[lang]) for lang in langs) + " |")
    lines += ["", "## Variables", ""]
    label_heads = ["标签" if lang == "zh" else "label" for lang in langs]
    lines.append("| variable | " + " | ".join(label_heads) + " | type | role | valid N | missing |")
    lines.append("|---|" + "---|" * len(langs) + "---|---|---|---|")
    for r in variables.to_dict(orient="records"):
        labels = " | ".join(_md(r.get(f"label_{lang}", "")) for lang in langs)
        valid = r.get("valid_n")
        valid_text = "not in file" if not r["in_file"] else str(int(valid))
        miss = "" if not r["in_file"] else str(int(r["missing_n"]))
        lines.append(f"| `{r['variable']}` | {labels} | {r['type']} | {r['role']} | {valid_text} | {miss} |")
    for r in variables.to_dict(orient="records"):
        name = r["variable"]
        labels = " / ".join(_md(r.get(f"label_{lang}", "")) for lang in langs if r.get(f"label_{lang}"))
        lines += ["", f"### `{name}` {labels}", ""]
        facts = [r["type"]]
        if r["role"]:
            facts.append(f"role: {r['role']}")
        if r["required"]:
            facts.append("required")
        if r.get("derived_from"):
            facts.append(f"derived from `{r['derived_from']}` (the number in the answer)")
        var = instrument.variables.get(name)
        if var is not None and var.range is not None:
            facts.append(f"valid range {var.range[0]:g} to {var.range[1]:g}")
        if var is not None and var.routing:
            facts.append("routing: " + ", ".join(f"{k} {v}" for k, v in var.routing.items()))
        if not r["in_file"]:
            lines.append(" · ".join(facts) + " · **not in the file**")
            continue
        miss = [f"{reason} {int(r.get(f'missing_{reason}', 0))}" for reason in reasons if int(r.get(f"missing_{reason}", 0) or 0)]
        facts.append(f"valid N {int(r['valid_n'])}")
        facts.append("missing: " + (", ".join(miss) if miss else "none"))
        if r.get("note") and isinstance(r.get("note"), str):
            facts.append(r["note"])
        lines.append(" · ".join(facts))
        vals = values[values["variable"] == name]
        if len(vals) and r["type"] == "string":
            top = vals.sort_values("n", ascending=False, kind="stable").head(MD_TOP_VALUES)
            lines += ["", f"{int(r['distinct'])} distinct values" + (f"; the {len(top)} most frequent:" if len(vals) > len(top) else ":"),
                      "", "| value | n | % |", "|---|---|---|"]
            for v in top.to_dict(orient="records"):
                lines.append(f"| {_md(v['code'])} | {int(v['n'])} | {v['percent']:.1f} |")
        elif len(vals):
            lines += ["", "| code | " + " | ".join(label_heads) + " | n | % |", "|---|" + "---|" * len(langs) + "---|---|"]
            for v in vals.to_dict(orient="records"):
                labs = " | ".join(_md(v.get(f"label_{lang}", "")) for lang in langs)
                pct = "" if v["percent"] is None or (isinstance(v["percent"], float) and math.isnan(v["percent"])) else f"{v['percent']:.1f}"
                tag = f" ({v['missing_reason']})" if v["missing_reason"] else ""
                lines.append(f"| {_md(v['code'])}{tag} | {labs} | {int(v['n'])} | {pct} |")
        elif r["type"] == "datetime":
            lines += ["", f"from {r.get('min', '')} to {r.get('max', '')}"]
        elif r.get("distinct") is not None and not (isinstance(r.get("distinct"), float) and math.isnan(r["distinct"])):
            lines += ["", f"{int(r['distinct'])} distinct values"]
        elif r.get("mean") is not None and not (isinstance(r.get("mean"), float) and math.isnan(r["mean"])):
            stats = ["mean", "sd", "min", "p25", "median", "p75", "max"]
            lines += ["", "| " + " | ".join(stats) + " |", "|" + "---|" * len(stats),
                      "| " + " | ".join(_num(r.get(k)) for k in stats) + " |"]
    return "\n".join(lines) + "\n"


FIXED_ZIP_TIME = (2025, 1, 1, 0, 0, 0)
FIXED_XML_TIME = "2025-01-01T00:00:00Z"


def codebook_xlsx(variables: pd.DataFrame, values: pd.DataFrame, instrument: Instrument, about: dict[str, Any]) -> bytes:
    """The codebook as an Excel workbook; fixed timestamps so equal content gives equal bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    langs = instrument_languages(instrument)
    drop = [f"label_{lang}" for lang in LANGS if lang not in langs]
    wb = Workbook()
    ws = wb.active
    ws.title = "about"
    rows = [("study", str(instrument.study.get("id", ""))), ("source", about["source"]), ("format", about["format"]),
            ("encoding", str(about.get("encoding") or "")), ("raw submissions", about["raw"]),
            ("analysed", about["analysed"]), ("statistics over", "analysed submissions"),
            ("made by", "python -m pipeline survey (do not edit)")]
    for row in rows:
        ws.append(row)
    reasons = [(spec["reason"], f"{code:g}", *[spec.get(lang, "") for lang in langs]) for code, spec in sorted(instrument.missing_codes.items())]
    reasons += [(r, "", *[spec[lang] for lang in langs]) for r, spec in list(SOFT_REASONS.items()) + [("blank", BLANK)]]
    for title, frame in (("variables", variables.drop(columns=drop, errors="ignore")),
                         ("values", values.drop(columns=drop, errors="ignore")),
                         ("missing reasons", pd.DataFrame(reasons, columns=["reason", "code", *[f"meaning_{lang}" for lang in langs]]))):
        sheet = wb.create_sheet(title)
        sheet.append(list(frame.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for rec in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in rec])
        sheet.freeze_panes = "A2"
    wb.properties.creator = "pipeline survey"
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_zip(buf.getvalue())


def _cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def _fixed_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + FIXED_XML_TIME.encode() + rb"\3", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, body)
    return out.getvalue()


def labels_sidecar(instrument: Instrument, derived: list[str], about: dict[str, Any]) -> dict[str, Any]:
    """Variable labels and value labels (zh/en) of the clean data, and the missing reasons."""
    variables = {}
    for name, var in instrument.variables.items():
        variables[name] = {
            "type": var.type, "role": role_of(instrument, name), "label": var.label,
            "values": {f"{c:g}": lab for c, lab in sorted(var.values.items())},
            "range": list(var.range) if var.range else None, "free_text": var.free_text,
            "in_data": name in about["columns"],
        }
    for name in derived:
        base = name[: -len(NUM_SUFFIX)]
        variables[name] = {"type": "numeric", "role": "", "derived_from": base, "in_data": True,
                           "label": derived_label(instrument, base), "values": {}}
    reasons = {spec["reason"]: {"code": code, **{k: v for k, v in spec.items() if k != "reason"}}
               for code, spec in sorted(instrument.missing_codes.items())}
    reasons.update({r: dict(spec) for r, spec in SOFT_REASONS.items()})
    reasons["blank"] = dict(BLANK)
    return {
        "study": instrument.study.get("id"),
        "columns": about["columns"],
        "id": {"variable": instrument.role("id"), "pseudonym": "P + HMAC-SHA256(key, id) truncated; raw ids are not kept"},
        "record": instrument.role("record"),
        "missing_reasons": reasons,
        "missing_table": OUTPUTS["missing"],
        "variables": variables,
    }


# --------------------------------------------------------------------------------------------
# the whole stage in memory
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


def clean_survey(raw: SurveyFile, instrument: Instrument, cfg: dict[str, Any], key: bytes,
                 communities: tuple[str, set[str]] | None = None) -> SurveyResult:
    """Check, clean and describe a survey file; nothing is written."""
    rec, rid = instrument.role("record"), instrument.role("id")
    checked = check_survey(raw, instrument, cfg, communities)
    text = text_numbers(checked.frame, instrument, list(cfg.get("free_text_numbers") or []))
    pseudo = pseudonymise(text, rid, key, int(cfg.get("id_hash_length", 16)))
    recoded = recode_missing(pseudo, instrument, checked.invalid)
    frame = recoded.frame
    flags = flag_exclusions(frame, instrument, cfg, recoded.missing, answered=pseudo)
    flow, exclusions = sample_flow(len(frame), flags, rec)
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
    exclusions = exclusions.merge(frame[[rec, rid]], on=rec, how="left")[[rec, rid, "rule", "counted", "detail"]]
    derived = [c for c in clean.columns if c not in instrument.variables]
    clean_schema(instrument, list(clean.columns)).validate(clean, lazy=True)

    all_missing = [name for name in clean.columns if name in instrument.variables and clean[name].isna().all()]
    checks = pd.concat([checked.checks, pd.DataFrame([(n, "all_missing", "no valid value in the analysed submissions")
                                                      for n in all_missing], columns=checked.checks.columns)],
                       ignore_index=True)
    about = {"source": raw.path.name, "format": raw.format, "encoding": raw.encoding, "raw": len(frame),
             "analysed": len(clean), "columns": list(clean.columns)}
    variables, values = codebook(clean, missing, instrument, derived)
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
    metrics["communities_analysed"] = int(clean[instrument.role("community")].nunique())
    metrics["soft_checks"] = len(checks)
    return SurveyResult(
        clean=clean, missing=missing, exclusions=exclusions, recodes=recoded.recodes, checks=checks, flow=flow,
        metrics=metrics, labels=labels_sidecar(instrument, derived, about),
        codebook_md=render_codebook_md(variables, values, instrument, about),
        codebook_xlsx=codebook_xlsx(variables, values, instrument, about),
    )


def write_outputs(result: SurveyResult, processed: Path, reports: Path, metrics: Path) -> list[Path]:
    """Write every output through a temporary file; they are renamed into place together at the end."""
    writers = [
        (processed / OUTPUTS["clean"], lambda p: write_parquet(p, result.clean)),
        (processed / OUTPUTS["missing"], lambda p: write_parquet(p, result.missing)),
        (processed / OUTPUTS["labels"], lambda p: write_json(p, result.labels)),
        (processed / OUTPUTS["exclusions"], lambda p: write_csv(p, result.exclusions)),
        (processed / OUTPUTS["recodes"], lambda p: write_csv(p, result.recodes)),
        (processed / OUTPUTS["checks"], lambda p: write_csv(p, result.checks)),
        (processed / OUTPUTS["flow"], lambda p: write_csv(p, result.flow)),
        (reports / OUTPUTS["codebook_md"], lambda p: write_text(p, result.codebook_md)),
        (reports / OUTPUTS["codebook_xlsx"], lambda p: write_bytes(p, result.codebook_xlsx)),
        (metrics, lambda p: write_json(p, result.metrics)),
    ]
    with ExitStack() as stack:
        for path, write in writers:
            write(stack.enter_context(atomic_path(path)))
    return [path for path, _ in writers]


def read_communities(path: Path, instrument: Instrument) -> tuple[str, set[str]]:
    """The community file's name and its community ids."""
    return str(path), read_community_ids(path, instrument)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline survey", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--input", default=str(config.RAW_SURVEY), help="the survey export (.sav, .dta, .csv, .xlsx)")
    parser.add_argument("--communities", default=str(config.RAW_COMMUNITIES),
                        help="community file whose ids the survey's community ids must be in ('' to skip)")
    parser.add_argument("--processed", default=str(config.PROCESSED))
    parser.add_argument("--reports", default=str(config.REPORTS))
    parser.add_argument("--metrics", default=str(METRICS_FILE))
    args = parser.parse_args(argv)
    params = config.load_params(args.params)
    cfg = config.section(params, "survey")
    instrument = load_instrument(params["instrument"])
    key, source = id_key(cfg)
    comms = read_communities(Path(args.communities), instrument) if args.communities else None
    raw = read_survey(args.input, cfg.get("format", "auto"), cfg.get("encoding"), cfg.get("sheet", 0))
    result = clean_survey(raw, instrument, cfg, key, comms)
    write_outputs(result, Path(args.processed), Path(args.reports), Path(args.metrics))
    if source == "demo":
        print("survey: respondent ids pseudonymised with the demo key (params.yaml: survey.demo_key); "
              "for real data set PIPELINE_ID_KEY or secrets/id_key and remove demo_key", file=sys.stderr)
    if len(result.checks):
        print(f"survey: {len(result.checks)} soft check finding(s), see {Path(args.processed) / OUTPUTS['checks']}", file=sys.stderr)
    print(json.dumps(result.metrics, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

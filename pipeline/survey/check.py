"""Checking a survey file against the instrument and typing its columns (step 2 of the survey
stage; see :mod:`pipeline.stages.survey`): hard problems raise :class:`PipelineError`, soft ones are
recorded.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.communities import CommunityIds, community_key, kinds_differ
from pipeline.core.errors import PipelineError
from pipeline.core.instrument import FULLWIDTH_TO_ASCII, Instrument, Variable
from pipeline.survey.missing import normalise_text
from pipeline.survey.read import SurveyFile


@dataclass(frozen=True)
class Checked:
    """The file's instrument variables, typed, with the soft findings of the checks."""

    frame: pd.DataFrame           # instrument variables present, typed, text normalised; sorted by record
    checks: pd.DataFrame          # variable, check, detail (soft, variable level)
    invalid: pd.DataFrame         # record, variable, code (text cells that are not values)
    normalised: int               # text cells changed by normalise_text


def _roles_needed(instrument: Instrument) -> dict[str, str | None]:
    """record, id and community (None when the study has none; the survey stage numbers the rows
    of an export without a record variable: :func:`pipeline.survey.read.with_row_numbers`)."""
    if not instrument.role("record"):
        raise PipelineError(
            f"{instrument.path}: roles.record is not set",
            hint="name the variable unique per submission (add a row-number column to the export if it has none)",
        )
    return {key: instrument.role(key) for key in ("record", "id", "community")}


def check_survey(
    raw: SurveyFile, instrument: Instrument, cfg: dict[str, Any], communities: CommunityIds | None = None
) -> Checked:
    """Check ``raw`` against the instrument: hard problems raise, soft ones are recorded.

    ``communities``: the community file's ids; every submission's community must be one. The
    community column comes out in the ids' written form (:func:`community_key`).
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
        if name and name not in df.columns:
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
    required = [name for name in instrument.required + [roles["community"]] if name and name not in df.columns]
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
    if rid:
        _check_ids(frame, rid, rec, cfg, path)
    com = roles["community"]
    if com:
        frame[com] = _community(frame, df[com], com, rec, path, communities)
    frame = frame.sort_values(rec, kind="stable").reset_index(drop=True)
    if invalid_parts:
        invalid = pd.concat(invalid_parts, ignore_index=True)
    else:
        invalid = pd.DataFrame({rec: records.iloc[:0], "variable": pd.Series(dtype="str"), "code": pd.Series(dtype="str")})
    return Checked(frame=frame, checks=pd.DataFrame(checks, columns=["variable", "check", "detail"]), invalid=invalid,
                   normalised=normalised)


def _check_ids(frame: pd.DataFrame, rid: str, rec: str, cfg: dict[str, Any], path: Path) -> None:
    """Every submission has a respondent id, and not nearly all of them repeat another's."""
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


def _community(frame: pd.DataFrame, as_read: pd.Series, com: str, rec: str, path: Path,
               communities: CommunityIds | None) -> pd.Series:
    """The community ids in their written form; every submission has one, two ways of writing
    one id are not two communities, and each is in the community file (when there is one)."""
    ids = community_key(frame[com])
    if ids.isna().any():
        empty = ids.isna()
        raise PipelineError(
            f"{path}: the community '{com}' is empty in {int(empty.sum())} row(s) ({rec} {_preview(frame.loc[empty, rec])})",
            hint="every submission needs its community",
        )
    written = pd.DataFrame({"typed": frame[com].astype(str), "id": ids}).drop_duplicates()
    alike = written[written["id"].duplicated(keep=False)]
    if len(alike):
        raise PipelineError(
            f"{path}: '{com}' values {_preview(sorted(alike['typed']))} are one community id once written alike "
            f"({_preview(sorted(set(alike['id'])))})",
            hint="1224, 1224.0 and 01224 are the same id; give different communities different numbers",
        )
    if communities is not None:
        unknown = ~ids.isin(communities.ids)
        if unknown.any():
            kinds = kinds_differ(as_read.dropna(), f"survey '{com}'", communities.ids, communities.where)
            if kinds:
                raise PipelineError(f"{path}: the community ids cannot be matched: {kinds}",
                                    hint=f"write the ids the same way in both files ({communities.source})")
            raise PipelineError(
                f"{path}: '{com}' values {_preview(sorted(set(ids[unknown])))} "
                f"({rec} {_preview(frame.loc[unknown, rec])}) are not in {communities.source}",
                hint=f"correct the ids in the survey or add the communities to {communities.source}",
            )
    return ids


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
        known = {float(c): lab for c, lab in var.values.items()} | {float(c): s for c, s in instrument.missing_codes_of(name).items()}
        for code, text in sorted(value_labels.get(name, {}).items(), key=lambda kv: str(kv[0])):
            try:
                code_f = float(code)
            except (TypeError, ValueError):
                continue
            if code_f not in known:
                if not var.values and var.range is not None and var.range[0] <= code_f <= var.range[1]:
                    continue     # a number labelled in the file (an anchor of 0-10); the instrument keeps numbers
                if var.type == "string":
                    continue     # codes kept as text ids (a cluster id: 1 'Austria' becomes '1'), labels left out
                checks.append((name, "value_label_unknown_code", f"file labels code {code_f:g} ({text!r}), the instrument does not"))
            elif str(text).strip() not in {str(v).strip() for k, v in known[code_f].items() if k != "reason" and v}:
                checks.append((name, "value_label_differs", f"code {code_f:g}: file {text!r}; instrument {known[code_f].get('zh', known[code_f].get('en'))!r}"))
        miss = {float(c) for c in instrument.missing_codes_of(name)}
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
        for code, spec in list(var.values.items()) + list(instrument.missing_codes_of(var.name).items()):
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

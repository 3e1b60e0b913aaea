"""Drafting an instrument file from a survey export (for ``python -m pipeline init``).

:func:`draft_instrument` reads a .sav, .dta, .csv or .xlsx file with the survey stage's own
reader and writes down what the file says about itself, in the shape
:func:`pipeline.core.instrument.load_instrument` reads (``config/instrument.yaml`` is the
demo's):

- every column a variable: its label (``{zh: ...}`` when it has Chinese characters, else
  ``{en: ...}``), its type (SPSS measurement level nominal -> categorical, ordinal -> ordinal,
  scale -> numeric; text -> string; dates and times -> datetime; without a level, as in Stata,
  CSV and Excel files, a guess from the values: a few whole-number codes -> categorical, other
  numbers -> numeric), its value labels, and for numbers without labels the observed minimum
  and maximum as the valid range;
- the missing codes: SPSS user-missing values and ranges, with a reason taken from their
  labels (``refused``, ``dont_know``, ``skipped``, ``no_answer``, else ``missing``); labelled
  codes that read like a missing answer (拒绝回答, 不知道, 跳答, don't know ...): missing in
  every variable when no variable uses them as an answer, else missing only in the variables
  where they read so (``variables:``; 5 "Refused" of a 1-4 item, 5 an answer of a 1-7 item);
  Stata's extended missing values (.a-.z) are listed in the notes, the survey stage reads them
  as blank;
- the roles it can tell: the record (a column of whole numbers unique in every row, named like
  a row number or numbering the rows), the respondent id (a column unique in every row named
  like an id), the community (only from ``cluster=``); the other roles are left unset;
- with ``communities=``, a ``communities:`` section for the community file.

Nothing is decided silently: :class:`Draft` carries notes saying what was guessed and why,
and :func:`dump_instrument` writes them as the YAML file's header. Scales are left empty.
"""
from __future__ import annotations

import difflib
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from pipeline.core.communities import canonical_id, kinds_differ
from pipeline.core.errors import PipelineError
from pipeline.core.files import write_text
from pipeline.core.instrument import FULLWIDTH_TO_ASCII, ROLE_KEYS
from pipeline.survey.read import SurveyFile, read_metadata, read_survey

MAX_CATEGORICAL_CODES = 10   # whole-number columns with at most this many codes, all small, are categorical
MAX_CATEGORICAL_CODE = 20
MAX_LISTED_TEXTS = 20        # text columns with more distinct values are free text (not listed in the codebook)
MAX_ANCHORED_POINTS = 11     # a rating scale labelled at its anchors only has at most this many points (0-10)
ID_NAME = re.compile(r"(?i)(resp(ondent)?|r|p|pid|person|participant|subject|case|user|uid)?[_ .-]?(id|code|no)|"
                     r"受访者(编号|id|ID)?|被访者(编号)?|问卷编号|答卷编号|个人编号|编号")
ID_SUFFIX = re.compile(r"(?i).*[_ .-]?id")
RECORD_NAME = re.compile(r"(?i)serial([_ .-]?no)?|record([_ .-]?(no|id))?|row([_ .-]?(no|id|number))?|rec|obs|"
                         r"case[_ .-]?no|seq|index|line|序号|提交序号|记录号|行号")
MISSING_WORDS = (
    ("refused", re.compile(r"(?i)拒绝|拒答|不愿|refus|declin")),
    ("dont_know", re.compile(r"(?i)不知道|说不清楚|don'?t know|do not know|\bdk\b|not sure")),
    ("skipped", re.compile(r"(?i)跳答|跳过|不适用|skip|not applicable|inapplicable|\bn/a\b")),
    ("no_answer", re.compile(r"(?i)未回答|无回答|未作答|没有回答|no answer|not answered|缺失|missing")),
)
DATE_TEXT = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")


@dataclass(frozen=True)
class Draft:
    """A drafted instrument: the mapping to write (:func:`dump_instrument`) and what to check."""

    source: Path
    instrument: dict[str, Any]
    notes: tuple[str, ...]
    communities_source: Path | None = None
    rows: int = 0


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def has_cjk(text: str) -> bool:
    return re.search("[\u3400-\u9fff]", text) is not None


def label_of(text: Any) -> dict[str, str]:
    text = str(text).strip()
    return {"zh": text} if has_cjk(text) else {"en": text}


def _names(names: list[str], k: int = 8) -> str:
    more = f" ... ({len(names)} in all)" if len(names) > k else ""
    return ", ".join(str(n) for n in names[:k]) + more


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _code(x: float) -> str:
    return f"{x:g}"


def numbers_of(s: pd.Series) -> pd.Series | None:
    """The column as floats when every non-empty value is a number (text read with full-width
    digits made plain), else None."""
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return None
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    text = s.astype("str").where(s.notna()).str.translate(FULLWIDTH_TO_ASCII).str.strip()
    text = text.where(text != "")
    if any(isinstance(v, (dt.date, dt.time)) for v in s.dropna().head(50)):
        return None
    num = pd.to_numeric(text, errors="coerce").astype("float64")
    return num if (num.notna() == text.notna()).all() else None


def kind_of_values(s: pd.Series) -> str:
    """'datetime', 'time', 'number' or 'text' from the values (a column without metadata)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    present = s.dropna()
    if len(present) and all(isinstance(v, (dt.date, dt.datetime)) for v in present):
        return "datetime"
    if len(present) and all(isinstance(v, dt.time) for v in present):
        return "time"
    if numbers_of(s) is not None:
        return "number"
    text = present.astype("str").str.translate(FULLWIDTH_TO_ASCII).str.strip()
    text = text[text != ""]
    if len(text) and text.map(lambda v: DATE_TEXT.fullmatch(v) is not None).all():
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")   # as the survey stage reads them
        if parsed.notna().all():
            return "datetime"
    return "text"


def few_codes(values: Any) -> bool:
    """Whether numbers look like the codes of a categorical answer: a few small whole numbers."""
    codes = {float(v) for v in values}
    return (0 < len(codes) <= MAX_CATEGORICAL_CODES and all(c.is_integer() for c in codes)
            and max(abs(c) for c in codes) <= MAX_CATEGORICAL_CODE)


def missing_reason(label: str) -> str | None:
    """The reason a value label names when it reads like a missing answer, else None."""
    for reason, words in MISSING_WORDS:
        if words.search(label):
            return reason
    return None


# ---------------------------------------------------------------------------------------------
# missing codes
# ---------------------------------------------------------------------------------------------
@dataclass
class _Context:
    raw: SurveyFile
    meta: Any
    missing: dict[float, dict[str, Any]]       # code -> {reason, zh/en, and variables: [...] when scoped}
    notes: list[str]

    def missing_in(self, name: str) -> set[float]:
        """The missing codes of column ``name`` (a scoped code only in its variables)."""
        return {c for c, spec in self.missing.items() if "variables" not in spec or name in spec["variables"]}

    def measure(self, name: str) -> str:
        return (getattr(self.meta, "variable_measure", None) or {}).get(name, "unknown")

    def labels(self, name: str) -> dict[float, str]:
        """The column's value labels with number codes (Stata's .a-.z labels left out)."""
        out = {}
        for code, text in (self.raw.value_labels.get(name) or {}).items():
            if isinstance(code, (int, float, np.integer, np.floating)) and math.isfinite(float(code)):
                out[float(code)] = str(text)
        return out


def _declared_missing(raw: SurveyFile, meta: Any, frame: pd.DataFrame) -> tuple[dict[float, list[str]], list[str]]:
    """SPSS user-missing codes -> the variables declaring them; ranges give their labelled and
    observed codes. Notes for what cannot be a code."""
    out: dict[float, list[str]] = {}
    notes = []
    for name, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        labelled = [float(c) for c in (raw.value_labels.get(name) or {}) if isinstance(c, (int, float))]
        observed = numbers_of(frame[name]) if name in frame.columns else None
        seen = [] if observed is None else sorted(set(observed.dropna()))
        for r in ranges:
            lo, hi = r.get("lo"), r.get("hi")
            if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)):
                notes.append(f"'{name}': user-missing text values {lo!r}-{hi!r} are not drafted (missing codes are numbers)")
                continue
            codes = [float(lo)] if lo == hi else sorted({c for c in labelled + seen if lo <= c <= hi})
            for code in codes:
                if not float(code).is_integer():
                    notes.append(f"'{name}': user-missing {code:g} is not a whole number and is not drafted")
                    continue
                out.setdefault(float(code), []).append(name)
    return out, notes


def _answer_codes(ctx: _Context, frame: pd.DataFrame, declared: dict[float, list[str]],
                  skip: set[str]) -> dict[float, list[str]]:
    """code -> variables that use it as an answer (a label that is not a missing answer, or an
    observed value of a variable without labels that does not declare it missing); ``skip``:
    the columns that may be ids or row numbers (missing codes do not apply to them)."""
    used: dict[float, list[str]] = {}
    for name in frame.columns:
        if name in skip:
            continue
        mine = {c for c, names in declared.items() if name in names}
        for code, text in ctx.labels(name).items():
            if code not in mine and missing_reason(text) is None:
                used.setdefault(code, []).append(name)
        values = numbers_of(frame[name])
        if values is not None and not ctx.labels(name):
            for code in set(values.dropna()) - mine:
                used.setdefault(float(code), []).append(name)
    return used


def _label_for(ctx: _Context, code: float, prefer: list[str]) -> str | None:
    for name in prefer + list(ctx.raw.value_labels):
        text = ctx.labels(name).get(code)
        if text:
            return text
    return None


def _missing_codes(ctx: _Context, frame: pd.DataFrame, skip: set[str]) -> None:
    """Fill ``ctx.missing``: declared user-missing codes and codes labelled like a missing answer."""
    declared, notes = _declared_missing(ctx.raw, ctx.meta, frame)
    ctx.notes += notes
    used = _answer_codes(ctx, frame, declared, skip)
    guessed: dict[float, list[str]] = {}
    for name in frame.columns:
        if name in skip:
            continue
        for code, text in ctx.labels(name).items():
            if missing_reason(text) is not None and code not in declared:
                guessed.setdefault(code, []).append(name)
    scoped = {code: names for code, names in guessed.items() if code in used}
    for code, names in scoped.items():
        ctx.notes.append(f"code {_code(code)} reads like a missing answer in {_names(names)} but is an answer in "
                         f"{_names(used[code])}: drafted as a missing code of those variables only (variables:)")
    reasons: set[str] = set()
    # the code most variables declare gets the plain reason (98 dont_know before 998 dont_know_998)
    for code in sorted(set(declared) | set(guessed), key=lambda c: (-len(declared.get(c) or guessed[c]), c)):
        where = declared.get(code) or guessed[code]
        text = _label_for(ctx, code, where)
        reason = (missing_reason(text) if text else None) or "missing"
        if reason in reasons:
            reason = f"{reason}_{_code(abs(code))}" if code >= 0 else f"{reason}_minus{_code(abs(code))}"
        reasons.add(reason)
        ctx.missing[code] = {"reason": reason, **label_of(text or reason.replace("_", " ")),
                             **({"variables": list(scoped[code])} if code in scoped else {})}
        how = "declared user-missing" if code in declared else "labelled like a missing answer"
        ctx.notes.append(f"missing code {_code(code)} ({reason}): {how} in {_names(where)}")
        if code in declared and code in used:
            ctx.notes.append(f"missing code {_code(code)} is an answer in {_names(used[code])}: the instrument's missing "
                             "codes apply to every answer variable, so check it")
    for name, labels in ctx.raw.value_labels.items():
        letters = {str(c): str(t) for c, t in labels.items() if isinstance(c, str)}
        if not letters or name not in frame.columns:
            continue
        if numbers_of(frame[name]) is None:
            ctx.notes.append(f"'{name}': the value labels of a text variable are not drafted (value labels are for codes)")
        elif ctx.raw.format == "dta":
            shown = ", ".join(f".{c} {t!r}" for c, t in sorted(letters.items()))
            ctx.notes.append(f"'{name}': Stata extended missing values ({shown}) are read as blank, their reasons are lost; "
                             "recode them to numbers in Stata and list those under missing_codes to keep them")


# ---------------------------------------------------------------------------------------------
# variables
# ---------------------------------------------------------------------------------------------
def _observed_range(values: pd.Series, missing: dict[float, Any]) -> list[int | float] | None:
    x = values.dropna()
    x = x[~x.isin(list(missing))]
    return [_number(x.min()), _number(x.max())] if len(x) else None


def _numeric_entry(name: str, values: pd.Series, ctx: _Context, guessed: dict[str, list[str]]) -> dict[str, Any]:
    """type, values or range of a column of numbers."""
    missing = ctx.missing_in(name)
    labels = {c: t for c, t in ctx.labels(name).items() if c not in missing and float(c).is_integer()}
    measure = ctx.measure(name)
    present = values.dropna()
    answers = set(present[~present.isin(list(missing))])
    entry: dict[str, Any] = {}
    if labels:
        unlabelled = sorted(answers - set(labels))
        span = _anchored_span(labels, unlabelled) if measure != "scale" else None
        if span is not None:
            entry["type"] = "ordinal"
            entry["values"] = {c: label_of(labels[c] if c in labels else _code(c)) for c in span}
            ctx.notes.append(f"'{name}': labels on {_names([_code(c) for c in sorted(labels)])} only, answers "
                             f"{_names([_code(c) for c in unlabelled])} between them: drafted as a rating scale "
                             f"{_code(span[0])}-{_code(span[-1])} whose unlabelled points are labelled with their numbers "
                             "(else the survey stage would set them missing as 'unlabelled')")
            return entry
        if measure == "scale" and unlabelled:
            entry["type"] = "numeric"
            guessed["labels_dropped"].append(name)
        else:
            entry["type"] = {"ordinal": "ordinal", "scale": "numeric"}.get(measure, "categorical")
            entry["values"] = {int(c): label_of(t) for c, t in sorted(labels.items())}
            if unlabelled:
                ctx.notes.append(f"'{name}': observed code(s) {_names([_code(c) for c in unlabelled])} have no label "
                                 "(the survey stage sets them missing as 'unlabelled')")
            if measure == "unknown":
                guessed["labelled"].append(name)
            return entry
    if measure in ("nominal", "ordinal"):
        entry["type"] = "categorical" if measure == "nominal" else "ordinal"
    elif measure == "scale":
        entry["type"] = "numeric"
    else:
        few = few_codes(answers)
        entry["type"] = "categorical" if few else "numeric"
        guessed["categorical" if few else "numeric"].append(name)
    rng = _observed_range(values, missing)
    if rng is not None:
        entry["range"] = rng
    else:
        ctx.notes.append(f"'{name}': no value in the file; its type is a guess")
    return entry


def _anchored_span(labels: dict[float, Any], unlabelled: list[float]) -> list[int] | None:
    """The points of a rating scale whose labels name only some of them (1 'not at all', 3
    'somewhat', 5 'very'): every answer without a label a whole number between the lowest and the
    highest label, which are whole numbers at most :data:`MAX_ANCHORED_POINTS` apart. None
    otherwise (no such answers; codes of a multiple choice, 13, 145, 12345)."""
    codes = sorted(labels)
    if not unlabelled or len(codes) < 2 or not all(float(c).is_integer() for c in [*codes, *unlabelled]):
        return None
    lo, hi = int(codes[0]), int(codes[-1])
    if hi - lo + 1 > MAX_ANCHORED_POINTS or not all(lo < c < hi for c in unlabelled):
        return None
    return list(range(lo, hi + 1))


def _text_entry(name: str, s: pd.Series) -> dict[str, Any]:
    text = s.dropna().astype("str").str.strip()
    text = text[text != ""]
    entry: dict[str, Any] = {"type": "string"}
    if text.nunique() > MAX_LISTED_TEXTS:
        entry["free_text"] = True
    return entry


def _variable(name: str, s: pd.Series, ctx: _Context, guessed: dict[str, list[str]]) -> dict[str, Any]:
    fmt = str((getattr(ctx.meta, "original_variable_types", None) or {}).get(name, ""))
    kind = kind_of_values(s)
    if kind == "datetime":
        entry: dict[str, Any] = {"type": "datetime"}
        if ctx.meta is None:
            guessed["datetime"].append(name)
    elif kind == "time":
        entry = {"type": "string"}
        ctx.notes.append(f"'{name}': a time of day or duration ({fmt or 'time'}) is drafted as text")
    elif kind == "number":
        entry = _numeric_entry(name, numbers_of(s), ctx, guessed)
    else:
        entry = _text_entry(name, s)
    label = ctx.raw.labels.get(name) or name
    return {"name": str(name), **entry, "label": label_of(label)}


# ---------------------------------------------------------------------------------------------
# roles
# ---------------------------------------------------------------------------------------------
def _unique_columns(frame: pd.DataFrame, variables: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for name in frame.columns:
        s = frame[name]
        if variables[name]["type"] == "datetime" or s.isna().any():
            continue
        keys = s.astype("str").str.strip() if numbers_of(s) is None else numbers_of(s)
        if (keys.astype("str") != "").all() and keys.is_unique:
            out.append(name)
    return out


def _whole(s: pd.Series) -> pd.Series | None:
    x = numbers_of(s)
    return x if x is not None and x.notna().all() and (x == x.round()).all() else None


def _guess_roles(frame: pd.DataFrame, variables: dict[str, dict[str, Any]], cluster: str | None,
                 path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """roles and why each was chosen (or is not set)."""
    why: dict[str, str] = {}
    roles: dict[str, str] = {}
    unique = [c for c in _unique_columns(frame, variables) if c != cluster]
    numbered = [c for c in unique if _whole(frame[c]) is not None]
    consecutive = [c for c in numbered if (np.diff(np.sort(_whole(frame[c]).to_numpy())) == 1).all()]
    by_name = [c for c in numbered if RECORD_NAME.fullmatch(str(c).strip())]
    record = (by_name or consecutive or [None])[0]
    if record is not None:
        roles["record"] = record
        why["record"] = ("unique whole numbers in every row, named like a row number" if record in by_name
                         else "unique whole numbers numbering the rows")
    ids = [c for c in unique if c != record and ID_NAME.fullmatch(str(c).strip())]
    ids += [c for c in unique if c != record and c not in ids and ID_SUFFIX.fullmatch(str(c).strip())]
    if ids:
        roles["id"] = ids[0]
        why["id"] = "unique in every row, named like a respondent id; the survey stage pseudonymises it"
    if cluster is not None:
        if cluster not in frame.columns:
            names = [str(c) for c in frame.columns]
            close = [n for n in names if n.lower() == cluster.lower()] or difflib.get_close_matches(cluster, names, n=3)
            raise PipelineError(f"{path}: the cluster variable '{cluster}' is not in the file",
                                hint=f"did you mean {', '.join(repr(c) for c in close)}? (--cluster VAR)" if close else
                                f"give --cluster one of its columns: {_names(names, 12)}")
        if frame[cluster].isna().any():
            raise PipelineError(f"{path}: the cluster variable '{cluster}' is empty in {int(frame[cluster].isna().sum())} row(s)",
                                hint="every respondent needs a cluster")
        roles["community"] = cluster
        why["community"] = "given as the cluster variable"
    if "record" not in roles:
        why["record"] = ("not set: no column of unique whole numbers numbers the submissions; the survey stage "
                         "numbers the rows in file order (variable 'row'), so keep the file's row order")
    if "id" not in roles:
        why["id"] = "not set: no column unique in every row is named like a respondent id (an anonymous survey: " \
                    "no pseudonymisation, no duplicate rule)"
    if "community" not in roles:
        why["community"] = "not set: no cluster variable given (a survey without clusters)"
    for key in ROLE_KEYS:
        why.setdefault(key, "not set")
    return roles, why


def _apply_roles(variables: dict[str, dict[str, Any]], roles: dict[str, str]) -> None:
    """Role variables are required; ids and communities are text (1224.0 -> '1224'), without
    labels or ranges; the record keeps whole numbers."""
    for key, name in roles.items():
        entry = variables[name]
        entry.pop("range", None)
        entry.pop("free_text", None)
        if key in ("id", "community") or (key == "record" and entry["type"] != "numeric" and "values" in entry):
            entry["type"] = "string"
            entry.pop("values", None)
        if key == "record" and entry["type"] != "string":
            entry["type"] = "numeric"
            entry.pop("values", None)
        entry["required"] = True


def _ordered(entry: dict[str, Any]) -> dict[str, Any]:
    order = ("name", "type", "required", "free_text", "range", "values", "label")
    return {k: entry[k] for k in order if k in entry}


def _value_sets(variables: list[dict[str, Any]]) -> dict[str, dict[int, Any]]:
    """Label sets shared by two or more variables become named value sets (values: <name>)."""
    users: dict[str, list[dict[str, Any]]] = {}
    for entry in variables:
        if isinstance(entry.get("values"), dict) and len(entry["values"]) >= 2:
            users.setdefault(repr(sorted(entry["values"].items())), []).append(entry)
    sets: dict[str, dict[int, Any]] = {}
    for entries in users.values():
        if len(entries) < 2:
            continue
        name = f"values_{entries[0]['name']}"
        sets[name] = entries[0]["values"]
        for entry in entries:
            entry["values"] = name
    return sets


# ---------------------------------------------------------------------------------------------
# the community file
# ---------------------------------------------------------------------------------------------
def _communities_section(path: Path, frame: pd.DataFrame, cluster: str | None, source: Path,
                         notes: list[str]) -> dict[str, Any]:
    """``communities:`` for the community file: its id column and every column as a variable."""
    from pipeline.core.files import read_csv_strings

    if cluster is None:
        raise PipelineError(f"{path}: a community file needs the survey's cluster variable",
                            hint="name it (cluster=), the variable whose values are the file's community ids")
    table = read_csv_strings(path, "community file", "check the path of the community file")
    survey_ids = {canonical_id(v) for v in frame[cluster].dropna()}
    if cluster in table.columns:
        column = cluster
    else:
        covering = [c for c in table.columns if survey_ids <= {canonical_id(v) for v in table[c]}]
        if not covering:
            raise PipelineError(f"{path}: no column '{cluster}', and no column holds every community id of {source.name}",
                                hint=f"columns are {_names(list(table.columns), 12)}; rename the id column to '{cluster}'")
        column = covering[0]
        notes.append(f"communities.id: '{column}' holds every '{cluster}' of the survey (the community file has no "
                     f"column '{cluster}')")
    file_ids = [canonical_id(v) for v in table[column]]
    missing = sorted(survey_ids - set(file_ids) - {None})
    if missing:
        kinds = kinds_differ(frame[cluster].dropna(), f"survey '{cluster}'", table[column], f"{path.name} '{column}'")
        notes.append(f"CHECK the community ids: {kinds}" if kinds else
                     f"CHECK the community ids: {len(missing)} of the survey's are not in {path.name} "
                     f"(e.g. {_names(missing, 5)})")
    repeated = sorted({i for i in file_ids if i is not None and file_ids.count(i) > 1})
    if repeated:
        notes.append(f"CHECK {path.name}: community id(s) {_names(repeated, 5)} occur more than once (one row per community)")
    variables = []
    for name in table.columns:
        s = table[name].replace("", np.nan)
        if name == column:
            entry: dict[str, Any] = {"name": name, "type": "string"}
        else:
            kind = kind_of_values(s)
            entry = {"name": name, "type": {"datetime": "datetime", "number": "numeric"}.get(kind, "string")}
            values = numbers_of(s) if kind == "number" else None
            if values is not None:
                if few_codes(values.dropna()):
                    entry["type"] = "categorical"
                rng = _observed_range(values, {})
                if rng is not None:
                    entry["range"] = rng
        variables.append({**entry, "label": label_of(name)})
    notes.append(f"communities: {len(variables)} column(s) of {path.name}, types guessed from the values "
                 "(whole numbers with few codes are categorical: add their value labels)")
    return {"id": column, "variables": variables}


# ---------------------------------------------------------------------------------------------
# the draft
# ---------------------------------------------------------------------------------------------
def draft_instrument(path: str | Path, *, cluster: str | None = None, communities: str | Path | None = None,
                     fmt: str = "auto", encoding: str | None = None, sheet: int | str = 0) -> Draft:
    """Draft the instrument of the survey export ``path`` (see the module's docstring).

    ``cluster``: the survey variable holding the community (cluster) id, if any;
    ``communities``: the community file (CSV), which needs ``cluster``. ``fmt``, ``encoding``
    and ``sheet`` are the survey stage's (params.yaml: survey.format, encoding, sheet).
    """
    path = Path(path)
    raw = read_survey(path, fmt, encoding, sheet)
    frame = raw.frame
    if len(frame) == 0:
        raise PipelineError(f"{path}: the file has no data rows", hint="draft from an export with the answers in it")
    dupes = sorted({str(c) for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise PipelineError(f"{path}: columns {_names(dupes)} occur more than once", hint="each variable needs one column")
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    ctx = _Context(raw=raw, meta=read_metadata(path, fmt, encoding), missing={}, notes=[])
    skip = {c for c in frame.columns if not frame[c].isna().any() and frame[c].astype("str").is_unique}
    _missing_codes(ctx, frame, skip | ({cluster} if cluster else set()))
    guessed: dict[str, list[str]] = {k: [] for k in ("categorical", "numeric", "datetime", "labelled", "labels_dropped")}
    variables = {name: _variable(name, frame[name], ctx, guessed) for name in frame.columns}
    roles, why = _guess_roles(frame, variables, cluster, path)
    _apply_roles(variables, roles)
    guessed = {k: [n for n in names if n not in roles.values()] for k, names in guessed.items()}
    entries = [_ordered(v) for v in variables.values()]
    value_sets = _value_sets(entries)
    study = {"id": re.sub(r"\W+", "_", path.stem).strip("_") or "study", "title": label_of(path.stem)}
    instrument: dict[str, Any] = {
        "study": study,
        "roles": {key: roles[key] for key in ROLE_KEYS if key in roles},
        "missing_codes": {int(c): spec for c, spec in sorted(ctx.missing.items())},
        "value_sets": value_sets,
        "variables": entries,
        "scales": {},
    }
    if not value_sets:
        del instrument["value_sets"]
    notes = [f"roles.{key}: {roles[key] + ' - ' if key in roles else ''}{why[key]}" for key in ROLE_KEYS]
    notes += _type_notes(entries, guessed, ctx)
    notes += ctx.notes
    if communities is not None:
        instrument["communities"] = _communities_section(Path(communities), frame, cluster, path, notes)
    notes.append("study: id and title are the file's name; set study.survey_year if the age rule is used")
    notes.append("scales: none; list each scale's items, reverse-keyed items and min_items (see config/instrument.yaml)")
    return Draft(source=path, instrument=instrument, notes=tuple(notes),
                 communities_source=Path(communities) if communities is not None else None, rows=len(frame))


def _type_notes(entries: list[dict[str, Any]], guessed: dict[str, list[str]], ctx: _Context) -> list[str]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["type"]] = counts.get(entry["type"], 0) + 1
    notes = ["types: " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
             + (" (SPSS measurement levels where set)" if ctx.raw.format == "sav" else "")]
    if guessed["categorical"]:
        notes.append(f"guessed categorical (at most {MAX_CATEGORICAL_CODES} whole-number codes up to "
                     f"{MAX_CATEGORICAL_CODE}, no labels): "
                     f"{_names(guessed['categorical'])}; add their value labels, make Likert items ordinal")
    if guessed["numeric"]:
        notes.append(f"guessed numeric (no labels): {_names(guessed['numeric'])}")
    if guessed["labelled"]:
        notes.append(f"labelled, no measurement level, drafted categorical: {_names(guessed['labelled'])}; "
                     "make ordered answers (Likert items) ordinal")
    if guessed["datetime"]:
        notes.append(f"guessed date-time from the text: {_names(guessed['datetime'])}")
    if guessed["labels_dropped"]:
        notes.append(f"scale variables whose labels cover only some values, labels left out: {_names(guessed['labels_dropped'])}")
    ranged = [e["name"] for e in entries if "range" in e]
    if ranged:
        notes.append(f"ranges are the observed minimum and maximum ({_names(ranged)}): widen them to the valid ranges "
                     "of the questionnaire, or values outside them in new data are set missing as out of range")
    free = [e["name"] for e in entries if e.get("free_text")]
    if free:
        notes.append(f"free text (over {MAX_LISTED_TEXTS} distinct answers, not listed in the codebook): {_names(free)}")
    return notes


# ---------------------------------------------------------------------------------------------
# writing the draft
# ---------------------------------------------------------------------------------------------
FLOW_WIDTH = 110   # a variable whose one-line form is longer is written as a block


def _flow(value: Any) -> str:
    """``value`` as YAML on one line (flow style, Chinese as written, quoted where YAML needs it)."""
    text = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=2**31 - 1, sort_keys=False)
    return text.strip()[1:-1]


def _header(draft: Draft) -> list[str]:
    import textwrap

    columns = len(draft.instrument["variables"])
    lines = [f"# Instrument drafted by `python -m pipeline init` from {draft.source} ({draft.rows} rows, {columns} columns)"]
    if draft.communities_source is not None:
        lines.append(f"# and the community file {draft.communities_source}.")
    lines += [
        "# A draft: check every line against the questionnaire before the pipeline reads it.",
        "# The format is the one of config/instrument.yaml (types, values, range, missing_codes, scales,",
        "# attention_check, straightlining_grid). What was guessed, and what to check:",
    ]
    for note in draft.notes:
        lines += textwrap.wrap(note, width=100, initial_indent="#   - ", subsequent_indent="#     ",
                               break_long_words=False, break_on_hyphens=False)
    return lines + [""]


def _mapping(mapping: dict[Any, Any], indent: str) -> list[str]:
    return [f"{indent}{_flow(k)}: {_flow(v)}" for k, v in mapping.items()]


def _variables(entries: list[dict[str, Any]], indent: str) -> list[str]:
    lines = []
    for entry in entries:
        one = f"{indent}- {_flow(entry)}"
        if len(one) <= FLOW_WIDTH or not isinstance(entry.get("values"), dict):
            lines.append(one)
            continue
        first = True
        for key, value in entry.items():
            lead = f"{indent}- " if first else f"{indent}  "
            first = False
            if key == "values":
                lines.append(f"{lead}values:")
                lines += _mapping(value, indent + "    ")
            else:
                lines.append(f"{lead}{key}: {_flow(value)}")
    return lines


def instrument_yaml(draft: Draft) -> str:
    """The drafted instrument as YAML text, the notes as its header comment."""
    spec = draft.instrument
    lines = _header(draft)
    lines.append(f"study: {_flow(spec['study'])}")
    lines += ["", "# Variables with a special role in the pipeline (unset roles are commented out)."]
    roles = spec["roles"]
    lines.append("roles:" if roles else "roles: {}")
    for key in ROLE_KEYS:
        lines.append(f"  {key}: {_flow(roles[key])}" if key in roles else f"  # {key}:")
    lines += ["", "# Codes meaning a missing answer, with their reason: in every answer variable, or in the",
              "# variables listed under a code (variables:) where it is an answer elsewhere."]
    lines += ["missing_codes:", *_mapping(spec["missing_codes"], "  ")] if spec["missing_codes"] else ["missing_codes: {}"]
    if spec.get("value_sets"):
        lines += ["", "# Value labels shared by several variables (values: <name>).", "value_sets:"]
        for name, values in spec["value_sets"].items():
            lines += [f"  {_flow(name)}:", *_mapping(values, "    ")]
    lines += ["", "variables:", *_variables(spec["variables"], "  ")]
    lines += ["", "# Scales: items, reverse-keyed items and the minimum number of answered items.", "scales: {}"]
    if "communities" in spec:
        comm = spec["communities"]
        lines += ["", "# The community file (one row per community).", "communities:", f"  id: {_flow(comm['id'])}",
                  "  variables:", *_variables(comm["variables"], "    ")]
    return "\n".join(lines) + "\n"


def dump_instrument(draft: Draft, path: str | Path) -> Path:
    """Write the drafted instrument to ``path`` (YAML, readable, with the notes as its header)."""
    path = Path(path)
    write_text(path, instrument_yaml(draft))
    return path

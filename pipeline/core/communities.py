"""The community file and community ids: one reader and one written form of an id.

A community id is text. The same number written in different ways is the same id, so that a
survey's numeric cluster variable and a community file's text column match: ``1224`` and
``1224.0`` (SPSS keeps every number as a float), ``"1224"``, ``"01224"``, ``"1224.0"`` and
``"１２２４"`` are all ``"1224"``; ``12.5`` and ``"12.50"`` are ``"12.5"``. Any other text is
kept as written, with full-width ASCII made plain and the spaces at its ends dropped
(``" Ａ12 "`` -> ``"A12"``). Both sides of every join on the community id go through
:func:`community_key`: the survey stage writes the clean data's community column in this form
and :func:`read_communities` returns the community file's id column in it.

Whether a study has a community file at all is the instrument's to say (its ``communities:``
section): :func:`community_file` turns the path a stage was given into the file to read or
``None`` (no community role, no file given, or an undeclared file that is absent).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import FULLWIDTH_TO_ASCII, Instrument

NUMBER = re.compile(r"[+-]?\d+(?:\.\d*)?")


def canonical_id(value: Any) -> str | None:
    """One community id in its written form (see the module's docstring); None when missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return None
        if not math.isfinite(f):
            return str(f)
        return str(int(f)) if f.is_integer() else _number_text(repr(f))
    text = str(value).translate(FULLWIDTH_TO_ASCII).strip()
    if not text:
        return None
    return _number_text(text) if NUMBER.fullmatch(text) else text


def _number_text(text: str) -> str:
    d = Decimal(text)
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def community_key(values: pd.Series) -> pd.Series:
    """The ids of ``values`` in their written form (text; missing stays missing), same index."""
    uniq = pd.unique(values.to_numpy(dtype=object))
    lookup = {v: canonical_id(v) for v in uniq if not _missing(v)}
    out = [lookup[v] if not _missing(v) else None for v in values.to_numpy(dtype=object)]
    return pd.Series(out, index=values.index, name=values.name, dtype="str")


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def is_number(key: str) -> bool:
    return NUMBER.fullmatch(key) is not None


def id_kind(values: Iterable[Any]) -> tuple[str, str | None]:
    """("numbers", None) when every id is a number, else ("text", an example of a text id)."""
    for v in values:
        key = None if _missing(v) else canonical_id(v)
        if key is not None and not is_number(key):
            return "text", key
    return "numbers", None


def kinds_differ(survey_ids: Iterable[Any], survey_where: str, file_ids: Iterable[Any], file_where: str) -> str | None:
    """"survey 'school' holds numbers, communities.csv 'school' holds text (e.g. 'A12')" when
    one side's ids are all numbers and the other's are not; else None."""
    kind_s, ex_s = id_kind(survey_ids)
    kind_f, ex_f = id_kind(file_ids)
    if kind_s == kind_f:
        return None
    def said(where: str, kind: str, example: str | None) -> str:
        return f"{where} holds {kind}" + (f" (e.g. '{example}')" if example else "")
    return f"{said(survey_where, kind_s, ex_s)}, {said(file_where, kind_f, ex_f)}"


def community_column(instrument: Instrument) -> str | None:
    """The community file's id column: ``communities.id``, else the survey's community variable."""
    return instrument.community_id or instrument.role("community")


def community_file(path: str | Path | None, instrument: Instrument) -> Path | None:
    """The community file a stage reads, or None: no community role, no path ('' skips the
    file), or a file the instrument does not declare and that is absent. A declared file
    (the instrument's ``communities:`` section) that is absent is an error."""
    if not path or not instrument.role("community"):
        return None
    path = Path(path)
    if path.is_file():
        return path
    if instrument.communities_declared:
        raise PipelineError(
            f"{path}: community file not found ({instrument.path} declares one in its communities: section)",
            hint="pass the study's community file with --communities, or remove the communities: section "
            "of the instrument if the study has none",
        )
    return None


def read_communities(path: str | Path, instrument: Instrument) -> pd.DataFrame:
    """The community file: one row per community, the id column (``communities.id``, else the
    community role) in its written form (:func:`community_key`), the other columns as pandas
    reads them (numbers as numbers). A missing file or id column, an empty id or an id given
    twice (after writing the ids alike) is one error naming the file."""
    from pipeline.core.files import read_csv_strings

    path = Path(path)
    column = community_column(instrument)
    if not column:
        raise PipelineError(f"{instrument.path}: roles.community is not set, so a community file cannot be joined",
                            hint="name the survey's community variable under roles.community")
    text = read_csv_strings(path, "community file", "pass the study's community file with --communities")
    if column not in text.columns:
        raise PipelineError(f"{path}: no column '{column}' (the instrument's community id)",
                            hint=f"columns are {list(text.columns)[:10]}; set communities.id in {instrument.path}")
    ids = check_ids(path, column, text[column])
    try:
        frame = pd.read_csv(path, dtype={column: str}, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeError, ValueError) as exc:
        raise PipelineError(f"{path}: not a readable CSV file ({exc.__class__.__name__})") from None
    frame[column] = ids.set_axis(frame.index)
    return frame


def check_ids(path: Path, column: str, values: pd.Series) -> pd.Series:
    """The community file's ids (``values`` of ``column``, as read) in their written form; an
    empty id or an id given twice (after writing the ids alike) is one error naming the file,
    the id and its lines."""
    ids = community_key(values)
    rows = np.arange(2, len(ids) + 2)  # file line numbers (line 1 is the header)
    if ids.isna().any():
        raise PipelineError(f"{path}: the community id '{column}' is empty on line(s) {_lines(rows[ids.isna().to_numpy()])}",
                            hint="every community needs its id")
    twice = ids.duplicated(keep=False).to_numpy()
    if twice.any():
        same = sorted(set(values[twice]))
        raise PipelineError(f"{path}: community id(s) {', '.join(repr(s) for s in same[:6])} in '{column}' occur more than "
                            f"once (lines {_lines(rows[twice])})",
                            hint="one row per community (1224, 1224.0 and 01224 are the same id)")
    return ids


def _lines(rows: np.ndarray, k: int = 8) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:k])
    return shown + (f", ... ({len(rows)} in all)" if len(rows) > k else "")


@dataclass(frozen=True)
class CommunityIds:
    """The community ids of a community file (written alike), for checking the survey's."""

    source: Path
    column: str
    ids: frozenset[str]

    @property
    def where(self) -> str:
        return f"{self.source.name} '{self.column}'"


def community_ids(path: str | Path | None, instrument: Instrument) -> CommunityIds | None:
    """The ids of the community file a stage was given, or None when there is none to check
    (see :func:`community_file`)."""
    found = community_file(path, instrument)
    if found is None:
        return None
    column = community_column(instrument)
    frame = read_communities(found, instrument)
    return CommunityIds(source=found, column=str(column), ids=frozenset(frame[column]))


def community_id_set(path: str | Path, column: str, what: str = "the instrument's communities.id") -> frozenset[str]:
    """The ids in column ``column`` of the community file, written alike (:func:`canonical_id`):
    what a text's community id is checked against when the texts are read."""
    from pipeline.core.files import read_csv_strings

    path = Path(path)
    df = read_csv_strings(path, "community file", "pass --communities '' to skip the check")
    if column not in df.columns:
        raise PipelineError(f"{path}: no column '{column}' ({what})", hint=f"columns are {list(df.columns)[:10]}")
    return frozenset(check_ids(path, column, df[column]))   # one row per community, as every stage reads the file

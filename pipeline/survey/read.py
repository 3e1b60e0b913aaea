"""Reading a survey export with its metadata (step 1 of the survey stage; see
:mod:`pipeline.stages.survey`): SPSS ``.sav`` and Stata ``.dta`` through pyreadstat, CSV and Excel
as text. Expected failures raise :class:`PipelineError` with a hint.
"""
from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument, Variable

FORMATS = {".sav": "sav", ".zsav": "sav", ".dta": "dta", ".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}


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


def read_metadata(path: str | Path, fmt: str = "auto", encoding: str | None = None) -> Any:
    """pyreadstat's metadata of a .sav or .dta without its data (measurement levels, display
    formats, SPSS missing ranges, value labels); None for a text table (CSV, Excel)."""
    path = Path(path)
    fmt = survey_format(path, fmt)
    if fmt not in ("sav", "dta"):
        return None
    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    try:
        return reader(path, metadataonly=True, user_missing=True, encoding=encoding)[1]
    except pyreadstat.ReadstatError as exc:
        raise _readstat_error(path, fmt, exc) from None
    except (UnicodeError, LookupError) as exc:
        raise _encoding_error(path, exc) from None


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


ROW_LABEL = {"zh": "文件中的行号", "en": "Row in the file"}


def with_row_numbers(raw: SurveyFile, instrument: Instrument) -> tuple[SurveyFile, Instrument]:
    """A study whose export has no submission number (no ``roles.record``) gets one: the row in
    the file, 1, 2, ... in file order, as a numeric variable ``row`` (``row_``, ... if the name is
    taken), so that every exclusion and every cleaned row can be traced back to the file."""
    if instrument.role("record"):
        return raw, instrument
    name = "row"
    while name in raw.frame.columns or name in instrument.variables:
        name += "_"
    frame = raw.frame.copy()
    frame.insert(0, name, np.arange(1, len(frame) + 1, dtype=float))
    variable = Variable(name=name, type="numeric", label=dict(ROW_LABEL), required=True)
    instrument = dataclasses.replace(instrument, roles={**instrument.roles, "record": name},
                                     variables={name: variable, **instrument.variables})
    return dataclasses.replace(raw, frame=frame), instrument

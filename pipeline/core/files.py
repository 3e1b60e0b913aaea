"""Reading inputs with errors a researcher can act on, and writing outputs so that a failure
never leaves a partial file behind and equal results give equal bytes on every machine.

Every file is written to a temporary name in the target directory and renamed into place;
a directory of outputs is built in a temporary sibling and swapped in whole. Every float written
by :func:`write_csv`, :func:`write_parquet` and :func:`write_json` is rounded to
:data:`pipeline.core.digits.SIGNIFICANT` significant digits (the rule is in
:mod:`pipeline.core.digits`): stages write their tables through these, never with their own
``to_csv``/``to_parquet``/``float_format``.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.digits import SIGNIFICANT, format_float, round_floats, round_significant
from pipeline.core.errors import PipelineError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces ``path`` whole if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_text(obj: Any) -> str:
    """JSON with sorted keys, UTF-8, floats by the rounding rule and a trailing newline, so equal
    content gives equal bytes."""
    return json.dumps(round_floats(obj), ensure_ascii=False, indent=2, sort_keys=True, default=_jsonable) + "\n"


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json_text(obj))


def csv_text(df: pd.DataFrame) -> str:
    """A table as CSV text: no index, ``\\n`` line ends, floats by the rounding rule
    (``%.10g``; whole numbers of 10 digits or more in full)."""
    return df.to_csv(index=False, lineterminator="\n", float_format=_format_float)


def _format_float(value: float) -> str:
    return format_float(value, SIGNIFICANT)


def write_csv(path: str | Path, df: pd.DataFrame) -> None:
    write_text(path, csv_text(df))


def rounded_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every float column rounded by the rule (whole numbers, NaN kept); a new frame."""
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c].dtype)]
    if not floats:
        return df
    out = df.copy()
    for c in floats:
        out[c] = pd.Series(round_significant(df[c].to_numpy(dtype=float, na_value=np.nan)),
                           index=df.index).astype(df[c].dtype)
    return out


def write_parquet(path: str | Path, df: pd.DataFrame) -> None:
    """A table as parquet (pyarrow, zstd, no index), float columns rounded by the rule."""
    with atomic_path(path) as tmp:
        rounded_frame(df).to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")


# The one fixed time of every Office file the pipeline writes (Word, Excel): the zip entries'
# dates and the document's created/modified properties, so equal content gives equal bytes.
OFFICE_TIME = (2000, 1, 1, 0, 0, 0)
OFFICE_XML_TIME = b"2000-01-01T00:00:00Z"
_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def office_bytes(data: bytes) -> bytes:
    """An Office file (docx, xlsx) re-packed reproducibly: members in their order, deflated, with
    the fixed date :data:`OFFICE_TIME` and permissions 0600, and ``docProps/core.xml``'s created
    and modified times set to the same date. The XML inside is otherwise unchanged."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _CORE_TIMES.sub(rb"\g<1>" + OFFICE_XML_TIME + rb"\g<3>", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=OFFICE_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, body)
    return out.getvalue()


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """Tables as an Excel workbook (one sheet each, no index), floats by the rounding rule,
    re-packed by :func:`office_bytes`: equal content gives equal bytes on any machine."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            rounded_frame(frame).to_excel(xw, index=False, sheet_name=name)
    return office_bytes(buf.getvalue())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_csv_strings(path: str | Path, what: str, missing_hint: str) -> pd.DataFrame:
    """A small CSV input (community file, manifest) as strings; a clear error if it is missing
    or unreadable."""
    path = Path(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise PipelineError(f"{path}: {what} not found", hint=missing_hint) from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, what, exc) from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeError) as exc:
        raise PipelineError(f"{path}: not a readable CSV file ({exc.__class__.__name__})") from None


def not_utf8(path: Path, what: str, exc: UnicodeDecodeError) -> PipelineError:
    """The error for a text file that is not UTF-8: where the first bad byte is (line), and,
    when the bytes read as GB18030/GBK (a CSV saved by Excel on Chinese Windows), that it is GBK."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
        start = exc.start                 # (not reached: the file did not decode)
    except UnicodeDecodeError as whole:   # the position in the file, not in the reader's chunk
        start = whole.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
    line = data[:start].count(b"\n") + 1
    try:
        data.decode("gb18030")
        kind = "it is GBK/GB18030 text (as Excel saves CSV on Chinese Windows)"
    except UnicodeDecodeError:
        kind = "its encoding is not known"
    return PipelineError(f"{path}: the {what} is not UTF-8 text (line {line}: byte {data[start]:#04x}); {kind}",
                         hint="save it as UTF-8 (Excel: Save as > 'CSV UTF-8'; or iconv -f GBK -t UTF-8)")


def read_stage_parquet(path: str | Path, what: str, hint: str) -> pd.DataFrame:
    """An earlier stage's parquet output; a clear error naming the file if it cannot be read."""
    try:
        return pd.read_parquet(path)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise PipelineError(f"{path}: cannot read the {what} ({exc.__class__.__name__})", hint=hint) from None


def read_community_columns(path: str | Path, columns: list[str] | tuple[str, ...], purpose: str, *,
                           key: str) -> pd.DataFrame:
    """``key`` (the community id column: the instrument's communities.id) and ``columns`` of the
    study's community file, numbers as numbers (integers when whole); a missing column is an
    error naming the file, the columns and ``purpose``."""
    from pipeline.core.communities import check_ids

    df = read_csv_strings(path, "community file", "pass the community file of the study (raw/communities.csv)")
    missing = [c for c in [key, *columns] if c not in df.columns]
    if missing:
        raise PipelineError(f"{path}: no column(s) {missing} for {purpose}", hint=f"columns are {list(df.columns)}")
    out = df[list(dict.fromkeys([key, *columns]))].copy()
    out[key] = check_ids(Path(path), key, df[key]).to_numpy()   # one row per community, ids written alike
    for c in columns:
        if c == key:
            continue
        num = pd.to_numeric(out[c], errors="coerce")
        if num.notna().all():
            out[c] = num.astype(int) if (num == num.round()).all() else num
    return out


def read_transcript_output(path: str | Path, what: str) -> pd.DataFrame:
    """units.parquet or questions.parquet of the transcripts stage."""
    return read_stage_parquet(path, what, "run the transcripts stage first (dvc repro transcripts)")

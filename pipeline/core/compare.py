"""Comparing an output with its committed version, for ``python -m pipeline verify``.

Pure functions on bytes: a table (CSV or parquet) or a JSON file is parsed on both sides and
its values compared cell by cell; a report table (the displayed cells, ``reports/tables/*.csv``)
is compared as text, since every number in it is shown as printed.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Difference:
    """How a current file differs from its committed version.

    ``max_rel``: the largest relative difference of a number stored in both (|a - b| /
    max(|a|, |b|); 0 when equal, inf when one side is missing or not a number); ``where``: the
    column and row (or JSON key) where it is; ``n_cells``/``n_differ``: cells compared and cells
    whose text or value differs; ``note``: a change of shape, columns or kind, or why the values
    could not be compared."""
    max_rel: float = 0.0
    where: str = ""
    n_cells: int = 0
    n_differ: int = 0
    note: str = ""
    example: str = ""


def relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| / max(|a|, |b|) elementwise; 0 where both are equal (NaN and NaN included), inf
    where exactly one is NaN."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.maximum(np.abs(a), np.abs(b))
        rel = np.where(a == b, 0.0, np.abs(a - b) / scale)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    rel = np.where(nan_a & nan_b, 0.0, rel)
    return np.where(nan_a ^ nan_b, np.inf, rel)


def _read_table(data: bytes, suffix: str) -> pd.DataFrame:
    if suffix == ".parquet":
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _as_numbers(column: pd.Series) -> np.ndarray | None:
    """The column as floats when every non-empty cell is a number, else None."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return None
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=float, na_value=np.nan)
    text = column.astype("string").fillna("")
    num = pd.to_numeric(text.where(text != "", None), errors="coerce")
    if (num.isna() & (text != "")).any():
        return None
    return num.to_numpy(dtype=float, na_value=np.nan)


def compare_tables(committed: bytes, current: bytes, suffix: str) -> Difference:
    """Two versions of a CSV or parquet table: columns and rows in order; numbers by relative
    difference, other cells by equality."""
    try:
        old, new = _read_table(committed, suffix), _read_table(current, suffix)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        return Difference(max_rel=math.inf, note=f"cannot be read as a table ({exc.__class__.__name__})")
    if list(old.columns) != list(new.columns):
        gone, added = sorted(set(old.columns) - set(new.columns)), sorted(set(new.columns) - set(old.columns))
        return Difference(max_rel=math.inf, note=f"columns changed (gone {gone}, new {added})")
    if len(old) != len(new):
        return Difference(max_rel=math.inf, note=f"{len(old)} rows committed, {len(new)} now")
    best, where, n_differ = 0.0, "", 0
    for col in old.columns:
        a, b = _as_numbers(old[col]), _as_numbers(new[col])
        if a is not None and b is not None:
            rel = relative_difference(a, b)
            n_differ += int(np.count_nonzero(rel))
            if rel.size and rel.max() > best:
                best, where = float(rel.max()), f"{col}, row {int(rel.argmax()) + 1}"
        else:
            same = old[col].astype("string").fillna("") == new[col].astype("string").fillna("")
            bad = int((~same).sum())
            n_differ += bad
            if bad and best < math.inf:
                best, where = math.inf, f"{col}, row {int(np.flatnonzero(~same.to_numpy())[0]) + 1} (text)"
    return Difference(max_rel=best, where=where, n_cells=int(old.size), n_differ=n_differ)


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare_json(committed: bytes, current: bytes) -> Difference:
    """Two versions of a JSON file, key by key: numbers by relative difference, the rest by equality."""
    try:
        old, new = _flatten(json.loads(committed)), _flatten(json.loads(current))
    except (ValueError, UnicodeDecodeError) as exc:
        return Difference(max_rel=math.inf, note=f"not JSON ({exc.__class__.__name__})")
    best, where, n_differ = 0.0, "", 0
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, None), new.get(key, None)
        if _is_number(a) and _is_number(b):
            rel = float(relative_difference(np.array([a]), np.array([b]))[0])
        else:
            rel = 0.0 if a == b and (key in old) == (key in new) else math.inf
        if rel:
            n_differ += 1
        if rel > best:
            best, where = rel, key
    return Difference(max_rel=best, where=where, n_cells=len(set(old) | set(new)), n_differ=n_differ)


def compare_displayed(committed: bytes, current: bytes) -> Difference:
    """A report table's displayed cells (its CSV), compared as text: ``n_differ`` cells print
    differently; ``example`` shows the first ('row r, column: committed -> now')."""
    try:
        old, new = _read_table(committed, ".csv"), _read_table(current, ".csv")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        return Difference(max_rel=math.inf, note=f"cannot be read ({exc.__class__.__name__})")
    if list(old.columns) != list(new.columns) or old.shape != new.shape:
        return Difference(max_rel=math.inf, n_cells=int(old.size), n_differ=int(max(old.size, new.size)),
                          note=f"layout changed ({old.shape[0]}x{old.shape[1]} committed, {new.shape[0]}x{new.shape[1]} now)")
    differ = old.to_numpy() != new.to_numpy()
    n = int(differ.sum())
    example = ""
    if n:
        r, c = (int(i[0]) for i in np.nonzero(differ))
        example = f"row {r + 1}, {old.columns[c]}: {old.iat[r, c]!r} -> {new.iat[r, c]!r}"
    return Difference(max_rel=math.inf if n else 0.0, n_cells=int(old.size), n_differ=n, example=example)


def compare_bytes(path: str, committed: bytes, current: bytes) -> Difference:
    """Two versions of an output, by its kind: tables and JSON by value, anything else (figures,
    Word, HTML, Markdown) only as equal or not."""
    if committed == current:
        return Difference(n_cells=0)
    suffix = path[path.rfind("."):].lower() if "." in path else ""
    if suffix in (".csv", ".parquet"):
        return compare_tables(committed, current, suffix)
    if suffix == ".json":
        return compare_json(committed, current)
    return Difference(max_rel=math.inf, note="differs (not a table: compared as bytes)")

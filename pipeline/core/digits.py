"""The one rounding rule of the numbers the pipeline writes, so that results reproduce on any CPU.

numpy and OpenBLAS pick their kernels by CPU (AVX-512, AVX2, SSE; with or without fused
multiply-add). The same computation then differs in its last binary digits from machine to
machine (e.g. a stability of 0.932505110851503 here and 0.9325051108515027 there), and a
tracked output holding that digit changes its hash in ``dvc.lock``. So every float the pipeline
writes to a tracked output (CSV, parquet, JSON; :mod:`pipeline.core.files`) is first rounded to
:data:`SIGNIFICANT` significant digits, far above any displayed precision (the report shows 2-4
decimals), and far below the digits a CPU can change (the 16th). The rule:

- a finite float that is not a whole number becomes the double nearest to its decimal
  rounding to ``SIGNIFICANT`` significant digits (``float('%.10g' % x)``: exact, the same on
  every machine);
- whole numbers (codes, counts, ids stored as floats) are kept exactly, whatever their size;
  ``-0.0`` becomes ``0.0``; NaN and infinities are kept.

A value computed to 16 digits then flips its 10th digit across machines only when it lies
within 1e-16 of a rounding boundary, about once in a million values. Statistics that are found
by an optimiser are known only to the optimiser's tolerance (1e-8 for a search on function
values); they are polished to the root of their score equation before rounding (see
:func:`snap`), and choices made on computed numbers (the best K, the order of exemplars) compare
rounded values (:func:`rounded`), so a last-digit difference cannot flip a choice.
"""
from __future__ import annotations

from typing import Any

import numpy as np

SIGNIFICANT = 10   # significant digits of every float in a tracked output


def round_significant(values: Any, digits: int = SIGNIFICANT) -> np.ndarray:
    """``values`` (array-like of floats) rounded to ``digits`` significant digits by the rule
    above; whole numbers, NaN and infinities unchanged. Returns a new float array."""
    x = np.array(values, dtype=float, copy=True)
    flat = x.reshape(-1)
    finite = np.isfinite(flat)
    frac = np.zeros(flat.shape, dtype=bool)
    frac[finite] = flat[finite] != np.floor(flat[finite])
    if frac.any():
        flat[frac] = _round_fractional(flat[frac], int(digits))
    flat += 0.0   # -0.0 -> 0.0
    return x


def _round_fractional(v: np.ndarray, digits: int) -> np.ndarray:
    """``float('%.{digits}g' % x)`` for each x of ``v`` (finite, not whole), the same doubles,
    without a string per value where that is safe: with k = digits - 1 - floor(log10|x|) in 0..22,
    10**k is exact, N = rint(x * 10**k) is the decimal rounding and N / 10**k, one correctly
    rounded division, is the double nearest to that decimal, which is what float() of the
    string gives. x * 10**k is off by at most half a unit in its last place (< 2e-6 below
    1e10): a value within 1e-5 of a half (a tie the rounding could take the wrong way), a
    log10 one off (N not of exactly ``digits`` digits) or k outside 0..22 (tiny or huge values)
    takes the string (tests/test_digits.py compares both on ten million values)."""
    out = np.empty_like(v)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = digits - 1 - np.floor(np.log10(np.abs(v)))
        fast = (k >= 0) & (k <= 22) & (digits <= 15)      # N exact below 2**53
        scale = 10.0 ** np.where(fast, k, 0)
        y = v * scale
        n = np.rint(y)
        fast &= np.abs(np.abs(y - np.floor(y)) - 0.5) > 1e-5
        fast &= (np.abs(n) > 10.0 ** (digits - 1)) & (np.abs(n) < 10.0 ** digits)
    out[fast] = n[fast] / scale[fast]
    fmt = f"%.{digits}g"
    out[~fast] = [float(fmt % x) for x in v[~fast].tolist()]
    return out


def rounded(value: Any, digits: int = SIGNIFICANT) -> Any:
    """A float (or array) rounded by :func:`round_significant`, of the same kind: for comparisons
    and choices (sorting, the largest, ties) that must not depend on the last digits."""
    if isinstance(value, (float, np.floating)):
        return float(round_significant([value], digits)[0])
    return round_significant(value, digits)


def round_floats(obj: Any, digits: int = SIGNIFICANT) -> Any:
    """A JSON-like object (dicts, lists, tuples, scalars) with every float rounded by the rule;
    ints, bools, strings and None unchanged."""
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return rounded(float(obj), digits)
    return obj


def format_float(value: float, digits: int = SIGNIFICANT) -> str:
    """A float as CSV text: ``%.<digits>g`` (the rounding rule), but a whole number of
    ``digits`` digits or more that a double holds exactly (below 2**53) in full: an id stored
    as a float is never shortened; ``-0`` as ``0``."""
    value = float(value) + 0.0
    if value.is_integer() and 10.0 ** digits <= abs(value) < 2.0 ** 53:
        return "%d" % value
    return f"%.{int(digits)}g" % value


SNAP = 8   # significant digits an optimiser's polished solution is rounded to (see snap)


def snap(value: Any, digits: int = SNAP) -> Any:
    """An optimiser's solution rounded to ``digits`` significant digits before the statistics
    that follow from it are computed, so they are a function of a value that is the same on
    every machine. Only for solutions polished to near machine precision (the root of their
    score equation): a solution known to 1e-8 would flip its rounding too often."""
    return rounded(value, digits)

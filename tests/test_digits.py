"""The one rounding rule of every float the pipeline writes (pipeline/core/digits.py) and the
writers that apply it (pipeline/core/files.py)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.digits import SIGNIFICANT, format_float, round_floats, round_significant, rounded, snap
from pipeline.core.files import csv_text, json_text, rounded_frame, write_parquet

finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=20))
def test_rounding_is_the_decimal_rounding_and_idempotent(values):
    out = round_significant(values)
    for v, r in zip(values, out):
        if float(v).is_integer():
            assert r == v or (v == 0 and r == 0)        # whole numbers kept, whatever their size
        else:
            assert r == float(f"%.{SIGNIFICANT}g" % v)
    assert np.array_equal(round_significant(out), out)


def test_vectorised_rounding_is_the_string_rule_bit_for_bit():
    """round_significant rounds most values by rint(x * 10**k) / 10**k and the rest (near ties,
    log10 one off, tiny or huge values) by the string; the doubles are float('%.10g' % x) on a
    million values over 60 orders of magnitude, near-ties, decimal halves and edge cases, and for
    3, 6 and 15 digits."""
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.normal(size=400_000) * 10.0 ** rng.integers(-30, 30, size=400_000),
        10.0 ** rng.uniform(-15, 15, size=300_000),
        (rng.integers(1, 10 ** 11, size=200_000) + 0.5) / 10.0 ** rng.integers(0, 12, size=200_000),
        np.round(rng.random(100_000), 11) + rng.integers(0, 1000, size=100_000),
        [0.5, 1.5, 1234567890.5, 0.12345678905, 9.9999999999, 9.99999999995, 99999.999995, 1e-320, 5e-324,
         -1e-300, 1.7e308, 0.1, 2.5e-13, 1e10 + 0.5, 999999999.95]])
    for digits in (SIGNIFICANT, 3, 6, 15):
        want = np.array([v if float(v).is_integer() else float(f"%.{digits}g" % v) for v in values.tolist()]) + 0.0
        assert np.array_equal(round_significant(values, digits).view(np.int64), want.view(np.int64)), digits


def test_flips_are_rare():
    """Values one ulp apart (a last-digit difference between CPUs) round to the same value
    unless they straddle a rounding boundary: about once in a million."""
    x = np.random.default_rng(0).normal(size=200_000) * 10.0 ** np.random.default_rng(1).integers(-8, 8, 200_000)
    y = np.nextafter(x, np.inf)
    assert np.mean(round_significant(x) != round_significant(y)) < 1e-4


def test_whole_numbers_nan_and_signed_zero():
    out = round_significant([3.0, 12345678901234.0, np.nan, np.inf, -0.0, 2 / 3])
    assert out[0] == 3.0 and out[1] == 12345678901234.0 and math.isnan(out[2]) and out[3] == np.inf
    assert out[4] == 0.0 and math.copysign(1, out[4]) == 1.0
    assert out[5] == 0.6666666667


def test_csv_text_uses_the_rule_and_keeps_ids():
    df = pd.DataFrame({"id": [12345678901234.0, 2.0], "x": [1 / 3, -0.0], "s": ["a", "b"],
                       "n": pd.array([1.25, None], dtype="Float64")})
    assert csv_text(df) == "id,x,s,n\n12345678901234,0.3333333333,a,1.25\n2,0,b,\n"
    assert format_float(1e300) == "1e+300" and format_float(0.1 + 0.2) == "0.3"


def test_json_text_rounds_every_float():
    obj = {"b": [np.float64(0.1) + 0.2, np.int64(3), 1 / 7, float("nan")], "a": {"x": 2 / 3}, "c": True}
    text = json_text(obj)
    assert json.loads(text.replace("NaN", "null")) == {"a": {"x": 0.6666666667}, "b": [0.3, 3, 0.1428571429, None],
                                                       "c": True}
    assert round_floats((1 / 3, "x")) == [0.3333333333, "x"]


def test_parquet_floats_rounded(tmp_path):
    df = pd.DataFrame({"a": [1 / 3, 2.0], "b": [1, 2], "c": ["x", None]})
    write_parquet(tmp_path / "t.parquet", df)
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back["a"].tolist() == [0.3333333333, 2.0] and back["b"].tolist() == [1, 2]
    assert rounded_frame(df)["a"].tolist() == [0.3333333333, 2.0]
    assert df["a"].iloc[0] == 1 / 3                          # the input is not changed


def test_rounded_and_snap():
    assert rounded(1 / 3) == 0.3333333333 and isinstance(rounded(1 / 3), float)
    assert snap(np.array([1 / 3, 2.0])).tolist() == [0.33333333, 2.0]


def test_workbooks_round_floats_and_do_not_depend_on_the_last_digit():
    """The Excel outputs (coder sheet, codebook) hold floats by the same rule: two values that
    differ in the 16th digit give the same bytes."""
    import io

    from openpyxl import load_workbook

    from pipeline.core.files import xlsx_bytes
    from pipeline.survey.codebook import _cell

    a = pd.DataFrame({"x": [0.1 + 0.2, 2.0, np.nan], "id": ["u1", "u2", "u3"]})
    b = a.assign(x=[0.3, 2.0, np.nan])
    assert 0.1 + 0.2 != 0.3 and xlsx_bytes({"s": a}) == xlsx_bytes({"s": b})
    sheet = load_workbook(io.BytesIO(xlsx_bytes({"s": a})))["s"]
    assert [c.value for c in sheet["A"]] == ["x", 0.3, 2, None]
    assert _cell(0.1 + 0.2) == 0.3 and _cell(np.float64(1 / 3)) == float("%.10g" % (1 / 3))
    assert _cell(float("nan")) is None and _cell(np.int64(4)) == 4 and _cell("a") == "a"

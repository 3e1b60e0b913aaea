"""The design matrix from categorical columns handed to patsy as pandas Categoricals (issue 19):
the same columns, values, term names and levels (in patsy's order, or a Categorical's own
order) as patsy builds from the columns as they are, for text (pandas' Arrow-backed str,
string, object), categorical and numeric-coded columns, with missing values; and the
conversion happens (so patsy does not walk the values one by one)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest

from pipeline.stats.fit import fit_model
from pipeline.stats.frame import (_patsy_data, _design, _factor_uses, _FORMULA_ENV, _rhs_desc,
                                  formula_variables)
from pipeline.stats.predict import predict_grid
from pipeline.stats.spec import parse_spec

N = 240
LEVELS = ["b", "a", "B", "城市", "c 2"]          # patsy sorts by code point: B, a, b, c 2, 城市


def _data(dtype: str) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    g = np.array(LEVELS, dtype=object)[rng.integers(0, len(LEVELS), N)]
    g[[3, 50, 100]] = None
    codes = rng.choice([10, 2, 1, 30], N)                         # numeric order is not text order
    frame = pd.DataFrame({"x": rng.normal(size=N), "codes": codes,
                          "codes_f": codes / 2, "flag": rng.integers(0, 2, N).astype(bool)})
    if dtype == "category":
        # a Categorical keeps its own order, unused categories dropped as the model frame does
        frame["g"] = pd.Categorical(g, categories=["城市", "b", "zz", "a", "B", "c 2"])
    else:
        frame["g"] = pd.Series(g, dtype=dtype)
    frame["g name"] = frame["g"]
    frame["y"] = frame["x"] + rng.normal(size=N) + (frame["codes"] == 2) + (frame["g"] == "a").astype(float)
    return frame


TEXT_DTYPES = ["str", "string[pyarrow]", "string[python]", "object", "category"]
FORMULAS = ["x + g", "g * x", "C(g) + x", "C(g, Treatment('b')) + x", "C(g, Sum):x + g",
            "C(codes) + x", "C(codes_f) * x", "C(codes, Treatment(30)) + g", "codes:x + C(codes)",
            "Q('g name') + flag", "C(g, levels=['c 2', 'b', 'a', 'B', '城市']) + x",
            "g + I(x > 0) + np.log(codes)", "0 + g + C(codes)"]


def _plain(rhs: str, frame: pd.DataFrame, **kw) -> pd.DataFrame:
    """patsy on the columns as they are (the design before issue 19)."""
    return patsy.dmatrix(rhs, frame, eval_env=patsy.EvalEnvironment([{"np": np}]),
                         return_type="dataframe", **kw)


def _categories(X: pd.DataFrame) -> dict[str, tuple]:
    return {f.name(): tuple(i.categories) for f, i in X.design_info.factor_infos.items()
            if i.type == "categorical"}


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
@pytest.mark.parametrize("rhs", FORMULAS)
def test_design_equals_patsy_on_the_original_columns(dtype, rhs):
    data = _data(dtype)
    complete = data.dropna()
    if dtype == "category":
        complete = complete.assign(**{c: complete[c].cat.remove_unused_categories()
                                      for c in ("g", "g name")})
    spec = parse_spec({"id": "m", "formula": f"y ~ {rhs}"})
    X = _design(spec, complete, rhs)
    ref = _plain(rhs, complete, NA_action="raise")
    assert list(X.columns) == list(ref.columns)
    assert X.index.equals(ref.index)
    np.testing.assert_array_equal(X.to_numpy(), ref.to_numpy())
    assert _categories(X) == _categories(ref)
    # with missing values: the rows patsy drops are those missing (pd.NA, which patsy itself
    # does not recognise, included), the levels those of the rows kept
    if dtype.startswith("string") and "levels=" in rhs:
        return        # g is left to patsy, which cannot read pd.NA (a fit drops those rows first)
    converted = _patsy_data(data, _factor_uses(_rhs_desc("m", rhs)))
    X_na = patsy.dmatrix(rhs, converted, eval_env=_FORMULA_ENV, return_type="dataframe",
                         NA_action="drop")
    used = formula_variables(rhs, data.columns)
    ref_na = _plain(rhs, data.dropna(subset=used), NA_action="raise")
    assert list(X_na.columns) == list(ref_na.columns)
    assert list(X_na.index) == list(ref_na.index)               # positions: the data's RangeIndex
    np.testing.assert_array_equal(X_na.to_numpy(), ref_na.to_numpy())
    assert _categories(X_na) == _categories(ref_na)


def test_levels_in_patsy_order_or_the_categoricals_own():
    text = _design(parse_spec({"id": "m", "formula": "y ~ g"}), _data("str").dropna())
    assert list(text.columns) == ["Intercept", "g[T.a]", "g[T.b]", "g[T.c 2]", "g[T.城市]"]
    cat = _data("category").dropna()
    cat["g"] = cat["g"].cat.remove_unused_categories()
    own = _design(parse_spec({"id": "m", "formula": "y ~ g"}), cat)
    assert list(own.columns) == ["Intercept", "g[T.b]", "g[T.a]", "g[T.B]", "g[T.c 2]"]
    codes = _design(parse_spec({"id": "m", "formula": "y ~ C(codes)"}), _data("str"))
    assert list(codes.columns) == ["Intercept", "C(codes)[T.2]", "C(codes)[T.10]", "C(codes)[T.30]"]


def test_columns_patsy_would_walk_are_converted():
    data = _data("str")
    uses = _factor_uses(_rhs_desc("m", "g + C(codes) + C(codes_f, Sum) + x + flag + codes:x "
                                       "+ C(g name, levels=['a', 'b'])".replace("g name", "Q('g name')")))
    out = _patsy_data(data, uses)
    for name in ("g", "codes_f"):
        assert isinstance(out[name], pd.Categorical), name
    # numbers used as numbers too, numbers and booleans as numpy arrays, explicit levels: untouched
    for name in ("x", "flag"):
        assert isinstance(out[name], np.ndarray) and out[name].dtype == data[name].dtype, name
    for name in ("codes", "g name"):
        assert isinstance(out[name], pd.Series) and out[name].equals(data[name]), name
    assert data["g"].dtype == "str"                               # the input is not changed


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
def test_fits_and_predictions_are_unchanged(dtype):
    data = _data(dtype)
    res = fit_model({"id": "m", "formula": "y ~ g * x + C(codes)", "covariance": "hc1"}, data)
    complete = data.dropna()
    if dtype == "category":                     # as the model frame does
        complete["g"] = complete["g"].cat.remove_unused_categories()
    ref = _plain("g * x + C(codes)", complete, NA_action="raise")
    beta = np.linalg.lstsq(ref.to_numpy(), complete["y"].to_numpy(), rcond=None)[0]
    assert list(res.params.index) == list(ref.columns)
    np.testing.assert_allclose(res.params.to_numpy(), beta, rtol=1e-10, atol=1e-12)
    pred = predict_grid(res, data, {"g": ["a", "b"], "codes": [2, 30]}, at={"x": 0.5})
    point = pd.DataFrame({"g": ["a"], "codes": [30], "x": [0.5]})
    Xp = patsy.build_design_matrices([ref.design_info], point, return_type="dataframe")[0]
    got = pred.query("g == 'a' and codes == 30")["estimate"].iloc[0]
    assert got == pytest.approx(float((Xp.to_numpy() @ beta)[0]), rel=1e-10)


def test_text_codes_kept_per_arrow_array_follow_a_changed_column():
    """The sorted codes of a text column are kept per Arrow array (immutable): a column given new
    values (a new array) is encoded anew, rows dropped by the model frame are encoded from the
    rows left, and the kept codes cannot be written to."""
    from pipeline.stats.frame import _sorted_text_codes

    data = _data("str").dropna(subset=["g"]).reset_index(drop=True)
    spec = {"id": "m", "formula": "y ~ x + g", "covariance": "cluster", "cluster": "g"}
    first = fit_model(spec, data)
    again = fit_model(spec, data)
    pd.testing.assert_frame_equal(first.coefficients, again.coefficients)
    changed = data.copy()
    changed.loc[changed["g"] == "a", "g"] = "zz"                    # a new level, a new array
    refit = fit_model(spec, changed)
    assert "g[T.zz]" in set(refit.coefficients["term"]) and "g[T.a]" not in set(refit.coefficients["term"])
    fresh = fit_model(spec, changed.copy(deep=True))
    pd.testing.assert_frame_equal(refit.coefficients, fresh.coefficients)
    fewer = changed.assign(x=changed["x"].where(changed["g"] != "b"))  # rows of b dropped
    assert "g[T.b]" not in set(fit_model(spec, fewer).coefficients["term"])
    codes, values = _sorted_text_codes(changed["g"])
    assert list(values) == sorted(set(changed["g"])) and not codes.flags.writeable
    with pytest.raises(ValueError):
        codes[0] = 1

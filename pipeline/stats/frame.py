"""From a specification and a DataFrame to the numbers a fit needs: the formula's variables, the
estimation sample (listwise deletion, frequency weights expanded, standardisation), the outcome,
the design matrix with its rank check, and the weights. Conventions: :mod:`pipeline.stats.fit`."""
from __future__ import annotations

import ast
import difflib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import patsy
from patsy.util import SortAnythingKey

from pipeline.core.errors import PipelineError
from pipeline.stats.spec import ModelSpec, _err

_RANK_TOL = 1e-9  # singular value of the unit-norm design below which a column is redundant
_NOT_VARIABLES = {"np", "numpy", "C", "I", "Q", "Treatment", "Sum", "Diff", "Helmert", "Poly",
                  "center", "standardize", "scale", "True", "False", "None"}


# ---------------------------------------------------------------------------------------------
# formula variables and the model frame


class _NameCollector(ast.NodeVisitor):
    """Variable names in one patsy factor: names that are not called and Q("...") strings."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def visit_Call(self, node: ast.Call) -> None:
        if (isinstance(node.func, ast.Name) and node.func.id == "Q" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            self.names.append(node.args[0].value)
            return
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)

    def visit_Attribute(self, node: ast.Attribute) -> None:  # np.pi and the like
        return

    def visit_Name(self, node: ast.Name) -> None:
        self.names.append(node.id)


@lru_cache(maxsize=256)
def _parse_rhs(rhs: str) -> patsy.ModelDesc:
    """patsy's parse of a right-hand side, once per formula (a fit asks three times; the
    bootstrap and the recovery study fit the same formulas again and again)."""
    return patsy.ModelDesc.from_formula(rhs)


def _rhs_desc(model_id: str, rhs: str) -> patsy.ModelDesc:
    try:
        return _parse_rhs(rhs)
    except patsy.PatsyError as exc:
        raise _err(model_id, f"cannot parse the formula's right-hand side {rhs!r}: {exc.message}")


class _BadTerm(Exception):
    pass


@lru_cache(maxsize=256)
def _rhs_names(rhs: str) -> tuple[str, ...]:
    """Every name a right-hand side's factors use, functions' arguments included, in order."""
    found: list[str] = []
    for term in _parse_rhs(rhs).rhs_termlist:
        for factor in term.factors:
            collector = _NameCollector()
            try:
                collector.visit(ast.parse(factor.code, mode="eval"))
            except SyntaxError:
                raise _BadTerm(factor.code) from None
            found.extend(collector.names)
    return tuple(dict.fromkeys(found))


def formula_variables(rhs: str, columns: Sequence[str] = (), model_id: str = "?") -> list[str]:
    """The data variables a right-hand side uses, in order of appearance.

    Names that are called (``np.log``, ``C``) are functions; patsy's helpers and ``np`` are
    not variables unless ``columns`` has a column of that name.
    """
    _rhs_desc(model_id, rhs)
    try:
        names = _rhs_names(rhs)
    except _BadTerm as exc:
        raise _err(model_id, f"cannot parse the term {exc.args[0]!r}") from None
    columns = set(columns)
    return [name for name in names if name not in _NOT_VARIABLES or name in columns]


def _missing_column(model_id: str, role: str, name: str, columns: Sequence[str],
                    where: str = "") -> PipelineError:
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=3)
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else \
        "check the spelling against the codebook"
    return _err(model_id, f"{role} {name!r}{where} is not a column of the data", hint)


def _row_ids(index: pd.Index, n: int = 5) -> str:
    ids = [str(i) for i in index[:n]]
    return ", ".join(ids) + (", ..." if len(index) > n else "")


@dataclass(frozen=True)
class _Frame:
    frame: pd.DataFrame  # the estimation sample (frequency weights expanded, standardised)
    raw: pd.DataFrame  # the estimation sample in original units, one row per data row
    rhs_vars: tuple[str, ...]
    n_dropped: int
    standardization: dict[str, tuple[float, float]]


def _model_frame(spec: ModelSpec, data: pd.DataFrame) -> _Frame:
    if not isinstance(data, pd.DataFrame):
        raise _err(spec.id, f"data must be a pandas DataFrame, not {type(data).__name__}")
    if not data.index.is_unique:
        raise _err(spec.id, "the data's index has duplicate labels",
                   "reset the index (rows are identified by it in the results)")
    columns = list(data.columns)
    if spec.outcome not in columns:
        raise _missing_column(spec.id, "outcome", spec.outcome, columns)
    rhs_vars = formula_variables(spec.rhs, columns, spec.id)
    for name in rhs_vars:
        if name not in columns:
            raise _missing_column(spec.id, "variable", name, columns, " (in the formula)")
    for role, name in (("cluster variable", spec.cluster), ("weights variable", spec.weights),
                       ("grouping variable", spec.group)):
        if name is not None and name not in columns:
            raise _missing_column(spec.id, role, name, columns)
    for name in spec.slopes:
        if name not in columns:
            raise _missing_column(spec.id, "random slope", name, columns)
    needed = _needed(spec, rhs_vars)
    design = [c for c in (spec.cluster, spec.weights, spec.group) if c is not None]
    used = list(dict.fromkeys(needed + design))
    dup = [c for c in used if columns.count(c) > 1]
    if dup:
        raise _err(spec.id, f"the data has more than one column named {dup[0]!r}")
    # by position (pandas' label lookup of a list costs more than the rest of the frame);
    # copy-on-write: changing the frame leaves the data alone
    frame = data.take([columns.index(c) for c in used], axis=1)
    frame, n_dropped = _complete_rows(spec.id, frame, needed, design)
    if frame.empty:
        raise _err(spec.id, f"no row has all of {needed}", "check the missing-value coding")
    for name, dtype in zip(used, frame.dtypes):
        if isinstance(dtype, pd.CategoricalDtype):
            frame[name] = frame[name].cat.remove_unused_categories()
    if spec.slopes:
        for name in spec.slopes:
            if not _is_numeric(frame[name]):
                raise _err(spec.id, f"random slope {name!r} must be numeric")
    if spec.weights is not None:
        w = frame[spec.weights]
        if not _is_numeric(w) or not np.all(np.isfinite(w.to_numpy(float))):
            raise _err(spec.id, f"weights {spec.weights!r} must be finite numbers")
        w = w.to_numpy(float)
        if spec.weight_kind == "frequency":
            if np.any(w < 0) or np.any(w != np.round(w)):
                raise _err(spec.id, f"frequency weights {spec.weights!r} must be non-negative "
                           "integers", "use weight_kind: survey for design weights")
            frame = frame.loc[w > 0]
        elif np.any(w <= 0):
            bad = frame.index[w <= 0]
            raise _err(spec.id, f"weights {spec.weights!r} are not positive in {len(bad)} row(s) "
                       f"(rows {_row_ids(bad)})")
    raw = frame
    if spec.weights is not None and spec.weight_kind == "frequency":
        counts = frame[spec.weights].to_numpy(float).astype(int)
        frame = frame.loc[frame.index.repeat(counts)]
    standardization: dict[str, tuple[float, float]] = {}
    if spec.standardize:
        frame = frame.copy()
        to_scale = [v for v in rhs_vars if _is_scalable(frame[v])]
        if spec.family == "linear" and _is_scalable(frame[spec.outcome]):
            to_scale = [spec.outcome] + to_scale
        for name in to_scale:
            values = frame[name].to_numpy(float)
            mean, sd = float(values.mean()), float(values.std(ddof=1))
            if sd > 0:
                frame[name] = (values - mean) / sd
                standardization[name] = (mean, sd)
    return _Frame(frame=frame, raw=raw, rhs_vars=tuple(rhs_vars), n_dropped=n_dropped,
                  standardization=standardization)


def _complete_rows(model_id: str, frame: pd.DataFrame, needed: list[str],
                   design: list[str]) -> tuple[pd.DataFrame, int]:
    """The rows with every ``needed`` variable (listwise deletion) and how many were dropped;
    an error when a ``design`` variable (cluster, weights, group) is missing anywhere."""
    for name in design:
        missing = _missing(frame[name])
        if missing is not None and missing.any():
            bad = frame.index[missing]
            raise _err(model_id, f"{len(bad)} row(s) have no value of {name!r} (rows "
                       f"{_row_ids(bad)})", "a design variable must be complete; fix it in the "
                       "survey stage or drop those rows before modelling")
    missing = np.zeros(len(frame), dtype=bool)
    for name in needed:
        found = _missing(frame[name])
        if found is not None:
            missing |= found
    n_dropped = int(missing.sum())
    return (frame.loc[~missing] if n_dropped else frame), n_dropped


def _needed(spec: ModelSpec, rhs_vars: Sequence[str]) -> list[str]:
    """The variables a row must have a value of to be fitted (listwise deletion)."""
    return list(dict.fromkeys([spec.outcome, *rhs_vars, *spec.slopes]))


def listwise_dropped(spec: ModelSpec, data: pd.DataFrame) -> pd.Series:
    """The rows a fit of ``spec`` leaves out by listwise deletion (as :func:`_model_frame` does):
    their index -> the model's variables they have no value of, comma-separated."""
    needed = _needed(spec, formula_variables(spec.rhs, list(data.columns), spec.id))
    masks = {name: m for name in needed if name in data.columns and (m := _missing(data[name])) is not None}
    if not masks:
        return pd.Series([], index=data.index[:0], dtype=object)
    gone = np.logical_or.reduce(list(masks.values()))
    rows = np.flatnonzero(gone)
    return pd.Series([", ".join(n for n, m in masks.items() if m[i]) for i in rows], index=data.index[rows], dtype=object)


def _missing(series: pd.Series) -> np.ndarray | None:
    """``series.isna()`` as a numpy mask; None when nothing is missing and an Arrow column says
    so without a walk (its null count), or a float column's NaN test is all it takes."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return None
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return np.isnan(series.to_numpy())
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and not series.array._pa_array.null_count:
        return None
    return series.isna().to_numpy()


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series)


def _is_scalable(series: pd.Series) -> bool:
    return _is_numeric(series) and series.nunique() > 2


# ---------------------------------------------------------------------------------------------
# categorical columns as pandas Categoricals before patsy sees them
#
# patsy finds the levels of a text (or C()-wrapped) column by walking it value by value, twice
# (the levels, then the codes), with a missing-value test per value: most of a fit's time on
# pandas' Arrow-backed text columns. A pandas Categorical it takes as it is (its categories are
# the levels, its codes the codes). So each column that patsy would treat as categorical is
# turned into a Categorical whose categories are the levels patsy would have found, in patsy's
# order (sorted, SortAnythingKey): the same design columns and term names, no walk.


def _C(data: Any, contrast: Any = None, levels: Any = None) -> Any:
    """patsy's ``C()``; a pandas categorical without ``levels`` is handed on as a Categorical
    carrying the contrast, which patsy maps by its codes (a ``C()`` box it would walk)."""
    if levels is None and isinstance(getattr(data, "dtype", None), pd.CategoricalDtype):
        cat = (data.array if isinstance(data, pd.Series) else data).copy()
        cat.contrast = contrast
        return cat
    return patsy.builtins.C(data, contrast, levels)


_FORMULA_ENV = patsy.EvalEnvironment([{"np": np, "C": _C}])


def _bare_name(node: ast.AST) -> str | None:
    """``x`` or ``Q("x")``: the variable a factor names as it is; else None."""
    if isinstance(node, ast.Name):
        return node.id
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Q"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def _factor_uses(desc: patsy.ModelDesc) -> dict[str, frozenset[str]]:
    """How each name in the formula's factors is used: ``bare`` (``x``, ``Q("x")``), ``C``
    (``C(x)`` or ``C(x, contrast)``, no levels) or ``other`` (any other expression)."""
    uses: dict[str, set[str]] = {}
    for term in desc.rhs_termlist:
        for factor in term.factors:
            try:
                node = ast.parse(factor.code, mode="eval").body
            except SyntaxError:
                continue
            name = _bare_name(node)
            if name is not None:
                uses.setdefault(name, set()).add("bare")
                continue
            rest: list[ast.AST] = [node]
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "C"
                    and 1 <= len(node.args) <= 2 and _bare_name(node.args[0]) is not None
                    and all(kw.arg == "contrast" for kw in node.keywords)
                    and len(node.args) + len(node.keywords) <= 2):
                uses.setdefault(_bare_name(node.args[0]), set()).add("C")
                rest = node.args[1:] + [kw.value for kw in node.keywords]
            for part in rest:
                collector = _NameCollector()
                collector.visit(part)
                for other in collector.names:
                    uses.setdefault(other, set()).add("other")
    return {name: frozenset(how) for name, how in uses.items()}


@lru_cache(maxsize=256)
def _rhs_uses(rhs: str) -> dict[str, frozenset[str]]:
    return _factor_uses(_parse_rhs(rhs))


def _sorted_text_codes(series: pd.Series, index: bool = True) -> tuple[np.ndarray, pd.Index | int] | None:
    """Codes (-1 where missing) and sorted distinct values of a text column that Arrow stores,
    as ``pd.factorize(series, sort=True)`` gives them, from Arrow's dictionary encoding (the
    few distinct values sorted in Python: by code point, as patsy and pandas sort str); with
    ``index=False`` their number instead of the values; None for any other column.

    Kept per Arrow array while it lives (Arrow arrays are immutable, and a frame's columns keep
    their arrays through column selection): the models of a study fitted to one data set
    encode each text column once, not once per model and role. The codes are read-only."""
    dtype = series.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    _, codes, values, _ = _text_entry(series.array._pa_array)
    return codes, (pd.Index(values, dtype=dtype) if index else len(values))


# id of an Arrow array -> [weak reference, codes, sorted values, its Categorical or None]
_TEXT_CODES: dict[int, list[Any]] = {}


def _text_entry(chunked: Any) -> list[Any]:
    found = _TEXT_CODES.get(id(chunked))
    if found is None or found[0]() is not chunked:
        found = [weakref.ref(chunked), *_encode_text(chunked), None]
        if len(_TEXT_CODES) >= 64:
            _TEXT_CODES.clear()
        _TEXT_CODES[id(chunked)] = found
        weakref.finalize(chunked, _TEXT_CODES.pop, id(chunked), None)
    return found


def _encode_text(chunked: Any) -> tuple[np.ndarray, list[str]]:
    """The sorted codes and values of an Arrow text array (:func:`_sorted_text_codes`)."""
    encoded = (chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)).dictionary_encode()
    values = encoded.dictionary.to_pylist()
    order = sorted(range(len(values)), key=values.__getitem__)
    rank = np.empty(len(values) + 1, dtype=np.int64)
    rank[order] = np.arange(len(values))
    rank[-1] = -1                                   # missing: index -1 after fill_null
    indices = encoded.indices
    indices = (indices.fill_null(-1) if indices.null_count else indices).to_numpy(zero_copy_only=False)
    codes = rank[indices]
    codes.setflags(write=False)
    return codes, [values[i] for i in order]


def _as_categorical(series: pd.Series) -> pd.Categorical | None:
    """``series`` as a Categorical with the levels patsy would find in it, in its order; None
    when patsy's own walk is needed to be sure (mixed or unhashable values)."""
    if series.dtype == "str":        # pandas' text: sorted by code point, as patsy sorts str
        if series.dtype.storage == "pyarrow":
            entry = _text_entry(series.array._pa_array)       # made once per Arrow array
            if entry[3] is None:
                dtype = pd.CategoricalDtype(pd.Index(entry[2], dtype=series.dtype))
                entry[3] = pd.Categorical.from_codes(entry[1], dtype=dtype, validate=False)
            return entry[3]
        codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
        return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(uniques)),
                                         validate=False)
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:
        return None
    values = uniques.tolist()                 # Python scalars, as patsy's walk sees them
    kinds = {type(v) for v in values}
    if not (kinds <= {str} or kinds <= {int} or kinds <= {float}):
        return None
    order = sorted(range(len(values)), key=lambda i: SortAnythingKey(values[i]))
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values))
    return pd.Categorical.from_codes(np.where(codes >= 0, rank[codes], -1),
                                     categories=[values[i] for i in order])


def _patsy_data(frame: pd.DataFrame, uses: dict[str, frozenset[str]]) -> dict[str, Any]:
    """The columns of ``frame`` as patsy is to read them: a column patsy would treat as
    categorical (text used as ``x`` or ``C(x)``, numbers used only as ``C(x)``) as a pandas
    Categorical with patsy's levels, a categorical column as its Categorical, a numeric or
    boolean numpy column used as it is (or not at all) as its array (patsy then builds no
    pandas object per factor), any other column as it is."""
    data: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        dtype = series.dtype
        how = uses.get(name, frozenset())
        value: Any = None
        if isinstance(dtype, pd.CategoricalDtype):
            value = series.array
        elif isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            if how == {"C"} and dtype.kind != "b":
                value = _as_categorical(series)
            elif how <= {"bare"}:       # a number as a number (a walk would see numpy scalars)
                value = series.to_numpy()
        elif how and how <= {"bare", "C"} and (pd.api.types.is_string_dtype(dtype)
                                              or pd.api.types.is_object_dtype(dtype)):
            value = _as_categorical(series)
        data[name] = series if value is None else value
    return data


# ---------------------------------------------------------------------------------------------
# outcome and design matrices


def _outcome(spec: ModelSpec, frame: pd.DataFrame) -> tuple[np.ndarray, tuple]:
    """The outcome as floats (linear, binary) or category codes 0..K-1 (ordered), and levels."""
    y = frame[spec.outcome]
    if spec.family == "linear":
        if not (_is_numeric(y) or pd.api.types.is_bool_dtype(y.dtype)):
            raise _err(spec.id, f"outcome {spec.outcome!r} of a linear model must be numeric "
                       f"(it is {y.dtype})")
        return y.to_numpy(float), ()
    if spec.family == "binary_logit":
        if pd.api.types.is_bool_dtype(y.dtype):
            values = y.to_numpy(float)
        elif _is_numeric(y):
            values = y.to_numpy(float)
        else:
            values = None
        if values is None or not np.all((values == 0) | (values == 1)):
            raise _err(spec.id, f"outcome {spec.outcome!r} of a binary logit must be 0/1; it has "
                       f"values {sorted(pd.unique(y))[:6]}", "recode it to 0/1 in the scoring stage")
        if values.min() == values.max():
            raise _err(spec.id, f"outcome {spec.outcome!r} takes only the value "
                       f"{sorted(pd.unique(y))[0]!r} in the estimation sample", "a logit needs both outcomes")
        return values, (0, 1)
    # ordered logit
    if spec.outcome_levels is not None:
        order = list(spec.outcome_levels)
        unknown = sorted({v for v in pd.unique(y)} - set(order), key=str)
        if unknown:
            raise _err(spec.id, f"outcome {spec.outcome!r} has value(s) {unknown[:5]} not in "
                       f"outcome_levels {order}")
    elif isinstance(y.dtype, pd.CategoricalDtype) and y.dtype.ordered:
        order = list(y.cat.categories)
    elif _is_numeric(y):
        order = sorted(pd.unique(y))
    else:
        raise _err(spec.id, f"the order of the categories of {spec.outcome!r} is unknown",
                   "give outcome_levels: [lowest, ..., highest], or make it numeric or an "
                   "ordered categorical")
    values = y.astype(object) if isinstance(y.dtype, pd.CategoricalDtype) else y
    present = set(pd.unique(values))
    levels = tuple(v for v in order if v in present)
    if len(levels) < 2:
        raise _err(spec.id, f"outcome {spec.outcome!r} has fewer than two categories in the "
                   "estimation sample")
    codes = pd.Series(values).map({v: i for i, v in enumerate(levels)}).to_numpy(int)
    return codes, tuple(_label(v) for v in levels)


def _label(value: Any) -> Any:
    """A category as a plain Python value for names and JSON (4.0 -> 4)."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _design(spec: ModelSpec, frame: pd.DataFrame, rhs: str | None = None) -> pd.DataFrame:
    rhs = spec.rhs if rhs is None else rhs
    _rhs_desc(spec.id, rhs)
    uses = _rhs_uses(rhs)
    data = _patsy_data(frame, uses) if uses else frame    # the frame tells "1" its rows
    key = _design_key(rhs, uses, data)
    info = _DESIGN_INFOS.get(key) if key is not None else None
    try:
        if info is None:
            values = patsy.dmatrix(rhs, data, eval_env=_FORMULA_ENV, NA_action="raise")
            info = values.design_info
            if key is not None:
                if len(_DESIGN_INFOS) >= 256:
                    _DESIGN_INFOS.clear()
                _DESIGN_INFOS[key] = info
        else:
            values = patsy.build_design_matrices([info], data, NA_action="raise")[0]
    except patsy.PatsyError as exc:
        raise _err(spec.id, f"cannot build the design matrix of {rhs!r}: {exc.message}") from None
    for factor_info in info.factor_infos.values():
        if factor_info.type == "categorical" and len(factor_info.categories) < 2:
            level = factor_info.categories[0] if factor_info.categories else None
            raise _err(spec.id, f"factor {factor_info.factor.name()!r} has only one level ({level!r}) "
                       "in the estimation sample", "drop it from the formula or check the filter")
    values = np.asarray(values, dtype=float)
    bad = [c for c, ok in zip(info.column_names, np.isfinite(values).all(axis=0)) if not ok]
    if bad:
        raise _err(spec.id, f"design column(s) {bad} have infinite values",
                   "check transformations such as np.log of zero")
    X = pd.DataFrame(values, columns=info.column_names, index=frame.index)
    object.__setattr__(X, "design_info", info)   # as patsy's return_type="dataframe" has it
    # (without pandas' search of the columns for that name)
    _check_rank(spec.id, X)
    return X


# What patsy's design_matrix_builders learns from the data (each factor's kind, number of
# columns and levels), kept per formula and kind of data: a formula fitted again to data of the
# same kinds (the bootstrap, the recovery study, every repeated fit) is only evaluated, not
# studied again. Kept only when the key holds all that patsy learns: every factor a bare name or
# C(name) of a column handed over as a numpy array or a Categorical (expressions may hold
# stateful transforms such as center(x), which learn a mean from the data).
_DESIGN_INFOS: dict[tuple, Any] = {}


def _design_key(rhs: str, uses: dict[str, frozenset[str]], data: Any) -> tuple | None:
    if not uses or not isinstance(data, dict):
        return None
    parts: list[tuple] = []
    for name, how in sorted(uses.items()):
        value = data.get(name)
        if "other" in how:
            return None
        if isinstance(value, np.ndarray):
            parts.append((name, "array", value.dtype.str, value.shape[1:]))
        elif isinstance(value, pd.Categorical):
            categories = value.categories
            parts.append((name, "categorical", str(categories.dtype), tuple(categories),
                          value.ordered))
        else:
            return None
    return rhs, tuple(parts)


def _check_rank(model_id: str, X: pd.DataFrame, what: str = "design matrix") -> None:
    """Raise naming the columns that are linear combinations of earlier ones."""
    values = np.ascontiguousarray(X.to_numpy(float))
    norms = np.sqrt(np.einsum("ij,ij->j", values, values))   # np.linalg.norm's axis walk is slow
    zero = [c for c, nrm in zip(X.columns, norms) if nrm == 0]
    if zero:
        raise _err(model_id, f"the {what} is singular: column(s) {zero} are zero in every row "
                   "used", "drop the term or check the coding")
    if values.shape[0] < values.shape[1]:
        raise _err(model_id, f"{values.shape[0]} rows for {values.shape[1]} parameters",
                   "the estimation sample is too small for this formula")
    # a well-conditioned design is proved full rank by its unit-norm Gram matrix (k x k): an
    # eigenvalue above 1e-6 is a singular value above 1e-3, far above the tolerance (the Gram's
    # rounding error is about n * eps); a design near that line gets the QR decomposition
    gram = (values.T @ values) / np.outer(norms, norms)
    if np.linalg.eigvalsh(gram)[0] > 1e-6:
        return
    R = np.linalg.qr(values / norms, mode="r")
    if np.linalg.matrix_rank(R, tol=_RANK_TOL) == R.shape[1]:
        return  # full rank: every leading block is too (singular values interlace)
    redundant, rank = [], 0
    for j in range(R.shape[1]):
        r = np.linalg.matrix_rank(R[:, : j + 1], tol=_RANK_TOL)
        if r == rank:
            redundant.append(X.columns[j])
        rank = r
    if redundant:
        verb = "is a linear combination" if len(redundant) == 1 else "are linear combinations"
        raise _err(model_id, f"the {what} is singular: {redundant} {verb}"
                   " of the columns before (a constant variable, a variable that duplicates "
                   "another, or dummies that add up to the intercept)",
                   "drop or recode the variable(s) named")


def _design_ordered(spec: ModelSpec, frame: pd.DataFrame) -> pd.DataFrame:
    desc = _rhs_desc(spec.id, spec.rhs)
    if patsy.INTERCEPT not in desc.rhs_termlist:
        raise _err(spec.id, "an ordered logit's thresholds take the intercept's place; write the "
                   "formula without '- 1' / '0 +'")
    return _design(spec, frame)


def _weights(spec: ModelSpec, frame: pd.DataFrame) -> np.ndarray | None:
    if spec.weights is None or spec.weight_kind == "frequency":
        return None
    return frame[spec.weights].to_numpy(float)

"""A fitted model as data: :class:`ModelResult`, the tables of several models
(:func:`fit_table`, :func:`coefficient_table`) and the constructor every estimator returns through."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.stats.covariance import FIT_FIELDS, _coef_table, _empty_components
from pipeline.stats.frame import _Frame
from pipeline.stats.spec import ModelSpec


@dataclass(frozen=True, eq=False)
class _Predictor:
    design_info: Any
    drop_intercept: bool
    outcome_levels: tuple
    standardization: dict[str, tuple[float, float]]
    rhs_vars: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ModelResult:
    """One fitted model as data.

    ``coefficients``: one row per term (columns :data:`COEF_COLUMNS`; an ordered logit's
    thresholds are the terms named ``"lower|upper"``). ``fit``: one dict with the keys
    :data:`FIT_FIELDS` (NaN or None where a statistic does not apply). ``components``:
    variance components of a mixed model (columns :data:`COMPONENT_COLUMNS`; ``kind`` is var,
    cov, cor or residual; empty otherwise). ``params`` and ``vcov``: the estimates and their
    covariance (fixed effects only for a mixed model). ``rows``: the index labels of the data
    rows used.
    """

    model: str
    spec: ModelSpec
    coefficients: pd.DataFrame
    fit: dict[str, Any]
    components: pd.DataFrame
    params: pd.Series
    _vcov: np.ndarray = field(repr=False)
    rows: pd.Index
    _predictor: _Predictor = field(repr=False)

    @property
    def vcov(self) -> pd.DataFrame:
        """The covariance of ``params`` as a frame labelled by term (made when asked for)."""
        names = list(self.params.index)
        return pd.DataFrame(self._vcov, index=names, columns=names)

    @property
    def status(self) -> str:
        return self.fit["status"]

    @property
    def converged(self) -> bool:
        return bool(self.fit["converged"])

    def fit_frame(self) -> pd.DataFrame:
        """The fit row as a one-row DataFrame."""
        return pd.DataFrame([self.fit], columns=list(FIT_FIELDS))


def fit_table(results: Sequence[ModelResult]) -> pd.DataFrame:
    """The fit rows of several models, one row each."""
    return pd.DataFrame([r.fit for r in results], columns=list(FIT_FIELDS))


def coefficient_table(results: Sequence[ModelResult]) -> pd.DataFrame:
    """The coefficient rows of several models stacked."""
    return pd.concat([r.coefficients for r in results], ignore_index=True)


def _result(spec: ModelSpec, mf: _Frame, design_info: Any, params: pd.Series, V: np.ndarray,
            t_df: float | np.ndarray | None, fit: dict, components: pd.DataFrame | None = None,
            levels: tuple = (), drop_intercept: bool = False) -> ModelResult:
    return ModelResult(
        model=spec.id, spec=spec,
        coefficients=_coef_table(spec.id, params, V, spec.covariance, t_df, spec.conf_level),
        fit=fit, components=_empty_components() if components is None else components,
        params=params, _vcov=np.asarray(V, dtype=float), rows=mf.raw.index,
        _predictor=_Predictor(design_info=design_info, drop_intercept=drop_intercept,
                              outcome_levels=levels, standardization=mf.standardization,
                              rhs_vars=mf.rhs_vars),
    )

"""Model specifications for the estimation library: :class:`ModelSpec` and :func:`parse_spec`,
which validates one entry of the models YAML and fills in the defaults. The keys and the
conventions behind them are described in :mod:`pipeline.stats.fit`."""
from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.schema import parse
from pipeline.core.settings import Models

FAMILIES = ("linear", "ordered_logit", "binary_logit")
ESTIMATORS = {"linear": ("ols", "wls", "mixed"), "ordered_logit": ("ml",), "binary_logit": ("ml",)}
COVARIANCES = ("classical", "hc0", "hc1", "cluster", "cluster_hc0", "cluster_cr2", "model")
ROBUST_COVARIANCES = ("hc0", "hc1", "cluster", "cluster_hc0", "cluster_cr2")
CLUSTER_COVARIANCES = ("cluster", "cluster_hc0", "cluster_cr2")
DF_METHODS = ("z", "between_within")
WEIGHT_KINDS = ("survey", "precision", "frequency")
ANNOTATION_KEYS = ("label", "description", "hypothesis", "notes", "table")
SPEC_KEYS = ("id", "outcome", "formula", "family", "estimator", "covariance", "cluster", "weights",
             "weight_kind", "random", "reml", "standardize", "outcome_levels", "conf_level",
             "max_iter", "df_method") + ANNOTATION_KEYS


@dataclass(frozen=True)
class ModelSpec:
    """A validated model specification (see the module docstring for the keys)."""

    id: str
    outcome: str
    rhs: str
    family: str = "linear"
    estimator: str = "ols"
    covariance: str = "classical"
    cluster: str | None = None
    weights: str | None = None
    weight_kind: str = "survey"
    group: str | None = None
    slopes: tuple[str, ...] = ()
    reml: bool = True
    standardize: bool = False
    outcome_levels: tuple | None = None
    conf_level: float = 0.95
    max_iter: int | None = None
    df_method: str | None = None  # mixed models: z | between_within (None otherwise)
    annotations: tuple[tuple[str, Any], ...] = ()

    @property
    def formula(self) -> str:
        return f"{_quote(self.outcome)} ~ {self.rhs}"

    def annotation(self, key: str) -> Any:
        return dict(self.annotations).get(key)


def _err(model_id: str, message: str, hint: str | None = None) -> PipelineError:
    return PipelineError(f"model {model_id!r}: {message}", hint)


def _quote(name: str) -> str:
    """A variable name as a formula term (patsy's Q() for names that are not identifiers)."""
    return name if name.isidentifier() else f"Q({name!r})"


def _plain_name(expr: str) -> str | None:
    """The variable named by ``expr`` (``x`` or ``Q("x")``), or None for an expression."""
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Name):
        return node.id
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Q"
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def _bool(model_id: str, key: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise _err(model_id, f"{key} must be true or false, not {value!r}")


def parse_spec(spec: Mapping[str, Any] | ModelSpec) -> ModelSpec:
    """Validate a model specification (a dict from YAML) and fill in the defaults.

    Defaults: family ``linear``; estimator ``wls`` when weights are given, else ``ols``
    (``ml`` for the logits); covariance ``model`` for mixed models, ``cluster`` when a cluster
    variable is given, else ``classical``. Raises :class:`PipelineError` naming the model and
    the key for anything it cannot use (unknown keys included: a typo must not be ignored).
    The keys are checked in a fixed order (id, formula, family and estimator, weights, random
    effects, covariance, df_method, outcome levels, the numbers), so a specification with
    several mistakes always reports the same one first.
    """
    if isinstance(spec, ModelSpec):
        return spec
    model_id = _spec_id(spec)
    outcome, rhs = _outcome_and_rhs(model_id, spec)
    family, estimator, weights = _family_and_estimator(model_id, spec)

    weight_kind = spec.get("weight_kind", "survey")
    if weight_kind not in WEIGHT_KINDS:
        raise _err(model_id, f"unknown weight_kind {weight_kind!r}",
                   f"use one of {', '.join(WEIGHT_KINDS)}")

    group, slopes = _random_effects(model_id, spec.get("random"), estimator)
    cluster, covariance = _covariance(model_id, spec, family, estimator, weights, weight_kind)
    df_method = _df_method(model_id, spec.get("df_method"), estimator)
    if weights and weight_kind == "survey" and covariance not in ROBUST_COVARIANCES:
        raise _err(model_id, "survey weights need a robust covariance",
                   "set covariance: cluster (or hc1); use weight_kind: precision for "
                   "inverse-variance weights")
    outcome_levels = _outcome_levels(model_id, spec.get("outcome_levels"), family)

    conf_level = spec.get("conf_level", 0.95)
    if not isinstance(conf_level, (int, float)) or not 0 < conf_level < 1:
        raise _err(model_id, f"conf_level must be between 0 and 1, not {conf_level!r}")
    max_iter = spec.get("max_iter")
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, int)
                                 or max_iter < 1):
        raise _err(model_id, f"max_iter must be a positive integer, not {max_iter!r}")

    for key, value in (("cluster", cluster), ("weights", weights)):
        if value is not None and not isinstance(value, str):
            raise _err(model_id, f"{key} must be a variable name, not {value!r}")

    return ModelSpec(
        id=model_id, outcome=outcome, rhs=rhs, family=family, estimator=estimator,
        covariance=covariance, cluster=cluster or None, weights=weights or None,
        weight_kind=weight_kind, group=group, slopes=slopes,
        reml=_bool(model_id, "reml", spec.get("reml", True)),
        standardize=_bool(model_id, "standardize", spec.get("standardize", False)),
        outcome_levels=outcome_levels, conf_level=float(conf_level), max_iter=max_iter,
        df_method=df_method, annotations=tuple((k, spec[k]) for k in ANNOTATION_KEYS if k in spec),
    )


def _spec_id(spec: Any) -> str:
    """The model's id, once ``spec`` is known to be a mapping with an id and only known keys."""
    if not isinstance(spec, Mapping):
        raise PipelineError(f"a model specification must be a mapping, not {type(spec).__name__}")
    model_id = spec.get("id")
    if model_id is None or str(model_id).strip() == "":
        raise PipelineError("a model specification has no 'id'",
                            f"give every model an id (keys given: {sorted(spec)})")
    model_id = str(model_id)
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise _err(model_id, f"unknown key(s) {unknown}", f"known keys: {', '.join(SPEC_KEYS)}")
    return model_id


def _outcome_and_rhs(model_id: str, spec: Mapping[str, Any]) -> tuple[str, str]:
    """The outcome variable and the formula's right-hand side, from ``formula`` (``y ~ x`` or
    ``~ x``) and ``outcome`` (which must agree with a left-hand side when both are given)."""
    formula = spec.get("formula")
    if not isinstance(formula, str) or not formula.strip():
        raise _err(model_id, "no formula", "give a formula such as 'identity ~ contact + age'")
    outcome = spec.get("outcome")
    if outcome is not None and not isinstance(outcome, str):
        raise _err(model_id, f"outcome must be a variable name, not {outcome!r}")
    if formula.count("~") > 1:
        raise _err(model_id, f"formula {formula!r} has more than one '~'")
    if "~" in formula:
        lhs, rhs = (part.strip() for part in formula.split("~"))
        if lhs:
            name = _plain_name(lhs)
            if name is None:
                raise _err(model_id, f"the left-hand side {lhs!r} of the formula is not a variable",
                           "transform the outcome in the scoring stage and name it here")
            if outcome is not None and outcome != name:
                raise _err(model_id, f"outcome {outcome!r} differs from the formula's left-hand "
                           f"side {name!r}")
            outcome = name
    else:
        rhs = formula.strip()
    if not outcome:
        raise _err(model_id, "no outcome", "write the formula as 'outcome ~ predictors'")
    if not rhs:
        raise _err(model_id, "the formula has no right-hand side", "use '~ 1' for a null model")
    return outcome, rhs


def _family_and_estimator(model_id: str, spec: Mapping[str, Any]) -> tuple[str, str, Any]:
    """The family, the estimator (defaulted from the family and the weights) and the weights
    variable as given, checked against each other."""
    family = spec.get("family", "linear")
    if family not in FAMILIES:
        raise _err(model_id, f"unknown family {family!r}", f"use one of {', '.join(FAMILIES)}")
    weights = spec.get("weights")
    estimator = spec.get("estimator")
    if estimator is None:
        estimator = ("wls" if weights else "ols") if family == "linear" else "ml"
    if estimator not in ESTIMATORS[family]:
        raise _err(model_id, f"estimator {estimator!r} does not fit family {family!r}",
                   f"use one of {', '.join(ESTIMATORS[family])}")
    if estimator == "ols" and weights:
        raise _err(model_id, "estimator ols with weights", "use estimator: wls")
    if estimator == "wls" and not weights:
        raise _err(model_id, "estimator wls needs a weights variable")
    if estimator == "mixed" and weights:
        raise _err(model_id, "mixed models take no weights",
                   "fit a weighted model with estimator wls and covariance cluster")
    return family, estimator, weights


def _random_effects(model_id: str, random: Any, estimator: str) -> tuple[str | None, tuple[str, ...]]:
    """The grouping variable and random slopes of a mixed model (``random: comm_id`` or
    ``random: {group: ..., slopes: [...]}``); ``(None, ())`` for every other estimator."""
    group, slopes = None, ()
    if estimator == "mixed":
        if isinstance(random, str):
            group = random
        elif isinstance(random, Mapping):
            extra = sorted(set(random) - {"group", "slopes"})
            if extra:
                raise _err(model_id, f"unknown key(s) {extra} in random", "use group and slopes")
            group = random.get("group")
            raw = random.get("slopes") or ()
            slopes = (raw,) if isinstance(raw, str) else tuple(raw)
            if not all(isinstance(s, str) for s in slopes):
                raise _err(model_id, f"random slopes must be variable names, not {raw!r}")
        if not isinstance(group, str) or not group:
            raise _err(model_id, "a mixed model needs random: {group: <grouping variable>}",
                       "for example random: {group: comm_id} or random: comm_id")
    elif random is not None:
        raise _err(model_id, f"random effects are only fitted by estimator mixed, not {estimator}")
    return group, slopes


def _covariance(model_id: str, spec: Mapping[str, Any], family: str, estimator: str, weights: Any,
                weight_kind: str) -> tuple[Any, str]:
    """The cluster variable as given and the covariance (defaulted: ``model`` for a mixed
    model, ``cluster`` with a cluster variable, else ``classical``), checked against the
    estimator, the family and the weights."""
    cluster = spec.get("cluster")
    covariance = spec.get("covariance")
    if covariance is None:
        covariance = "model" if estimator == "mixed" else ("cluster" if cluster else "classical")
    if covariance not in COVARIANCES:
        raise _err(model_id, f"unknown covariance {covariance!r}",
                   f"use one of {', '.join(COVARIANCES)}")
    if estimator == "mixed":
        if covariance == "classical":
            covariance = "model"
        if covariance != "model":
            raise _err(model_id, f"covariance {covariance!r} is not available for a mixed model",
                       "the random effects model the clustering; use covariance: model")
        if cluster:
            raise _err(model_id, "cluster is not used by a mixed model",
                       "name the grouping variable in random: {group: ...} instead")
    else:
        if covariance == "model":
            covariance = "classical"
        if covariance in CLUSTER_COVARIANCES and not cluster:
            raise _err(model_id, f"covariance {covariance} needs a cluster variable",
                       "name it with cluster: <variable>, e.g. cluster: comm_id")
        if cluster and covariance not in CLUSTER_COVARIANCES:
            raise _err(model_id, f"cluster {cluster!r} is set but covariance is {covariance!r}",
                       "set covariance: cluster, or remove cluster")
    if covariance == "cluster_cr2":
        if family != "linear":
            raise _err(model_id, f"covariance cluster_cr2 is only available for family linear "
                       f"(estimators ols and wls), not {family}",
                       "use covariance: cluster (CR1) for the logits")
        if weights and weight_kind == "frequency":
            raise _err(model_id, "covariance cluster_cr2 is not available with frequency weights",
                       "use covariance: cluster, or weight_kind: survey / precision")
    return cluster, covariance


def _df_method(model_id: str, df_method: Any, estimator: str) -> str | None:
    """A mixed model's degrees-of-freedom method (default ``z``); None for every other
    estimator, which must not set one."""
    if estimator == "mixed":
        df_method = "z" if df_method is None else df_method
        if df_method not in DF_METHODS:
            raise _err(model_id, f"unknown df_method {df_method!r}",
                       f"use one of {', '.join(DF_METHODS)}")
    elif df_method is not None:
        raise _err(model_id, f"df_method is only used by estimator mixed, not {estimator}",
                   "for OLS/WLS the degrees of freedom follow the covariance (cluster_cr2: "
                   "Satterthwaite)")
    return df_method


def _outcome_levels(model_id: str, outcome_levels: Any, family: str) -> tuple | None:
    """An ordered logit's outcome levels in order, as a tuple without repeats (None if not given)."""
    if outcome_levels is not None:
        if family != "ordered_logit":
            raise _err(model_id, "outcome_levels is only used by family ordered_logit")
        if isinstance(outcome_levels, (str, bytes)) or not isinstance(outcome_levels, Sequence):
            raise _err(model_id, f"outcome_levels must be a list, not {outcome_levels!r}")
        outcome_levels = tuple(outcome_levels)
        if len(set(outcome_levels)) != len(outcome_levels):
            raise _err(model_id, f"outcome_levels {list(outcome_levels)} repeat a level")
    return outcome_levels


def derive(data: pd.DataFrame, derived: dict[str, str]) -> pd.DataFrame:
    """New columns from pandas expressions over existing ones (booleans become 0/1)."""
    out = data.copy()
    for name, expr in (derived or {}).items():
        try:
            value = _columns_of(out, str(expr)).eval(str(expr), engine="python")
        except Exception as exc:  # pandas raises many types for a bad expression
            raise PipelineError(
                f"params.yaml: models.derived.{name} = '{expr}' cannot be computed ({exc.__class__.__name__}: {exc})",
                hint="use column names of processed/indices.parquet",
            ) from None
        if pd.api.types.is_bool_dtype(value):
            value = value.astype(float)
        out[name] = value
    return out


def _columns_of(data: pd.DataFrame, expr: str) -> pd.DataFrame:
    """The columns an expression names (pandas' eval otherwise makes a Series of every column
    for each expression); all of them when the names cannot be read (backquoted names)."""
    try:
        names = {node.id for node in ast.walk(ast.parse(expr, mode="eval")) if isinstance(node, ast.Name)}
    except SyntaxError:
        return data
    return data[[c for c in data.columns if c in names]]


def expand_specs(cfg: Models | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The model specifications as the estimators take them (the keys given in params.yaml),
    with ``{controls}`` filled in and the default cluster set. ``cfg``: ``params.yaml: models``,
    typed or as the mapping read from the file."""
    cfg = parse(Models, cfg, "models")
    specs = []
    for given in cfg.specs:
        spec = given.given()
        spec["formula"] = spec["formula"].replace("{controls}", cfg.controls)
        if str(spec.get("covariance", "")).startswith("cluster") and not spec.get("cluster"):
            spec["cluster"] = cfg.cluster
        specs.append(spec)
    return specs

"""Estimation library of the models stage: regression models from a plain-data specification,
returning tidy tables (results are data), plus the multilevel, mediation and multiple-imputation
helpers the hypotheses H1-H5 need.

Pure functions: nothing here reads or writes files or changes its inputs. Randomness (bootstrap,
imputation) comes only from the seed or :class:`numpy.random.Generator` passed in.

A model is a dict (one entry of the models YAML)::

    id: identity_ols                      # required; names the model in every table and error
    formula: identity ~ contact * interspersed + participation + C(city)
    outcome: identity                     # optional when the formula has a left-hand side
    family: linear                        # linear | ordered_logit | binary_logit
    estimator: ols                        # ols | wls | mixed (linear); ml (the logits)
    covariance: cluster                   # classical | hc0 | hc1 | cluster | cluster_hc0 |
                                          # cluster_cr2 | model
    cluster: comm_id
    weights: design_weight                # with weight_kind: survey | precision | frequency
    random: {group: comm_id, slopes: [contact]}   # estimator mixed; or just "comm_id"
    reml: true                            # estimator mixed
    df_method: z                          # estimator mixed: z | between_within
    standardize: false
    outcome_levels: [1, 2, 3, 4, 5]       # ordered_logit, when the order is not in the data
    conf_level: 0.95
    max_iter: null                        # optimiser iterations (null: the default)
    label / description / hypothesis / notes / table: free text, carried into the fit row

:func:`fit_model` returns a :class:`ModelResult`: ``coefficients`` (one row per term, columns
:data:`COEF_COLUMNS`), ``fit`` (one dict of :data:`FIT_FIELDS`, the same keys for every model),
``components`` (variance components of a mixed model, columns :data:`COMPONENT_COLUMNS`),
``params`` and ``vcov``. Around it: :func:`predict_grid` (predictions with intervals for
interaction plots), :func:`icc` and :func:`lrt_random_intercept` (is a multilevel model
needed?), :func:`mediation` (H3, cluster bootstrap), :func:`fit_imputed` (multiple imputation by
chained equations, :func:`impute_chained`, pooled by :func:`pool_rubin`), :func:`fit_table` and
:func:`coefficient_table` (several models as one table).

Conventions (each checked against R in ``tests/test_estimators_reference.py``)
-------------------------------------------------------------------------------
* **Covariance.** ``classical``: the model-based variance. ``hc1``: ``sandwich::vcovHC(type =
  "HC1")``, n/(n-k) times HC0, for every family; ``hc0`` without the factor. ``cluster`` (the
  default when ``cluster`` is set) is CR1 as ``sandwich::vcovCL(type = "HC1")`` and Stata's
  ``regress, vce(cluster)`` compute it: G/(G-1) * (n-1)/(n-k) times the clustered meat, for
  every family (n observations, k parameters including ordered-logit thresholds).
  ``cluster_hc0`` applies G/(G-1) only: ``vcovCL(type = "HC0")``, which is what Stata's
  ``logit``/``ologit, vce(cluster)`` report. ``cluster_cr2`` (family linear: OLS/WLS, not with
  frequency weights) is the bias-reduced linearisation CR2 of Bell & McCaffrey (2002) and
  Pustejovsky & Tipton (2018) exactly as ``clubSandwich::vcovCR(lm, cluster, type = "CR2")``
  computes it (working model W = the weights, target I; see :func:`cr2`); it corrects CR1's
  downward bias for cluster-level regressors. A mixed model's covariance is ``model``.
* **Inference.** OLS/WLS: t with n-k degrees of freedom (classical, hc0, hc1) or G-1 (cluster,
  cluster_hc0: Stata's convention, and statsmodels'); cluster_cr2: t with each coefficient's
  Satterthwaite df, as ``clubSandwich::coef_test(test = "Satterthwaite")`` and ``conf_int``.
  Mixed models: normal (z) by default; ``df_method: between_within`` gives t with the
  between-within df of each fixed effect (:func:`between_within_df`: a term constant within
  every group, the intercept included, gets G - p_b with p_b such terms; a term varying within
  some group gets N - G - p_w with p_w such terms). The logits: normal (z). The coefficient
  table's ``df`` column holds each term's degrees of freedom (NaN for z); ``fit["t_df"]`` holds
  the model's (None for z; the smallest term df where they differ by term, which
  :func:`predict_grid` and :func:`fit_imputed` use as a conservative common value).
* **Weights.** ``weight_kind: survey`` (the default; design weights): point estimates are
  weighted (WLS; weighted pseudo-maximum likelihood for the logits) and the covariance must be
  robust (hc0/hc1/cluster): this is Stata's ``[pweight=w], vce(cluster c)`` and R's
  ``lm(weights = w)`` + ``vcovCL``; the weights' scale does not matter. The log-likelihood, AIC
  and BIC of a survey-weighted fit are NaN (a pseudo-likelihood is not a likelihood).
  ``precision``: R's ``lm(weights = w)`` with the classical variance allowed. ``frequency``:
  integer counts; rows are repeated w times before fitting (n is the sum of the weights), which
  is R's ``polr(weights = Freq)`` for the classical variance and the right unit for robust ones.
  Mixed models take no weights.
* **Mixed models.** A random-intercept model is fitted as lme4 does, by its exact profiled
  deviance in the one parameter theta = tau/sigma, from group sums (bounded Brent search, the
  boundary theta = 0 checked): no per-group loop (0.06 s of estimation for 165,000 respondents
  in 2,000 communities; lme4 takes 2 s). Random slopes:
  (statsmodels MixedLM, BFGS with gtol 1e-10; when BFGS stops short, as it
  does near a boundary or on precision loss, Powell continues from its end point; never
  L-BFGS, which reports convergence with an infinite log-likelihood on the REML null model of
  sleepstudy). The end point must have a profile score below 1e-2, else the fit is flagged.
  The log-likelihood is the REML criterion for REML fits, as lme4's ``logLik`` (statsmodels
  gives no AIC/BIC for REML); AIC/BIC use lme4's parameter count
  (fixed effects + random-effect covariance parameters + residual variance). A fit that did not
  converge, sits on the boundary (a random-effect variance near zero: lme4's ``isSingular``
  rule, relative Cholesky factor below 1e-4) or has an indefinite Hessian is returned with its
  numbers and flagged in ``status``. The fixed effects' covariance is lme4's
  (X'V^-1 X)^-1 at the estimates. ``icc`` in the fit row is the residual intraclass
  correlation tau^2/(tau^2+sigma^2) of a random-intercept model (NaN with random slopes).
* **Ordered logit** (statsmodels OrderedModel, distr="logit") is reported in MASS::polr's
  parameterisation, logit P(y <= k) = zeta_k - x'beta: thresholds are the cumulative cut points
  (statsmodels estimates the first cut and log increments). The information matrix and the
  scores are computed in polr's parameterisation (the numerical Jacobian of the analytic
  score), which is the delta method applied to statsmodels' parameters, exact at the optimum.
  Convergence is judged by the score (mean absolute score below 1e-5), not by the optimiser's
  message.
* **Binary logit** (statsmodels GLM Binomial). (Quasi-)complete separation is found before
  fitting by a linear programme (Konis 2007, as R's detectseparation) and is an error.
* **Standardised coefficients** (``standardize: true``): the outcome (linear family only) and
  every numeric predictor with more than two distinct values are z-scored (mean 0, SD 1 with
  ddof=1, unweighted, over the estimation sample) before the formula is evaluated, so products
  are products of z-scores; 0/1 indicators, booleans and categorical predictors are left as
  they are. :func:`predict_grid` takes grid values in original units and returns linear
  predictions in the outcome's original units.
* **Missing values**: rows missing the outcome or a formula variable are dropped (listwise;
  ``fit["n_dropped"]`` counts them). A missing cluster, group or weight is an error.
"""
from __future__ import annotations

import ast
import difflib
import itertools
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import patsy
import statsmodels.api as sm
from scipy import optimize, special, stats
from statsmodels.miscmodels.ordinal_model import OrderedModel

from pipeline.core.errors import PipelineError
from pipeline.core.parallel import ParallelSettings, as_settings, run_tasks

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

COEF_COLUMNS = ("model", "term", "estimate", "std_error", "statistic", "df", "p_value",
                "conf_low", "conf_high", "cov_type")
COMPONENT_COLUMNS = ("model", "group", "kind", "term1", "term2", "estimate")
FIT_FIELDS = ("model", "label", "hypothesis", "outcome", "formula", "family", "estimator",
              "cov_type", "cluster", "n_clusters", "weights", "weight_kind", "n_obs", "n_dropped",
              "n_groups", "reml", "standardized", "r2", "adj_r2", "pseudo_r2", "loglik",
              "n_params", "aic", "bic", "sigma", "icc", "var_intercept", "residual_var", "t_df",
              "optimizer", "converged", "status")
POOLED_COLUMNS = COEF_COLUMNS + ("within_var", "between_var", "total_var", "riv", "lambda", "fmi",
                                 "m")  # "df" (Barnard-Rubin) is among COEF_COLUMNS
MEDIATION_COLUMNS = ("model", "effect", "estimate", "std_error", "boot_se", "conf_low",
                     "conf_high", "ci_method", "cov_type")

STATUS_OK = "ok"
FEW_CLUSTERS = 20  # below this many clusters a cluster-robust variance is flagged as unreliable

_MIXED_GTOL = 1e-10
_MIXED_SCORE_TOL = 1e-2  # largest profile-likelihood score accepted at a mixed-model optimum
_ORDERED_GTOL = 1e-8
_ORDERED_SCORE_TOL = 1e-5  # mean absolute score at an accepted ordered-logit optimum
_SINGULAR_THETA = 1e-4  # lme4's isSingular tolerance on the relative Cholesky factor
_RANK_TOL = 1e-9  # singular value of the unit-norm design below which a column is redundant
_FORMULA_ENV = patsy.EvalEnvironment([{"np": np}])
_NOT_VARIABLES = {"np", "numpy", "C", "I", "Q", "Treatment", "Sum", "Diff", "Helmert", "Poly",
                  "center", "standardize", "scale", "True", "False", "None"}


# ---------------------------------------------------------------------------------------------
# specification


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
    """
    if isinstance(spec, ModelSpec):
        return spec
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

    weight_kind = spec.get("weight_kind", "survey")
    if weight_kind not in WEIGHT_KINDS:
        raise _err(model_id, f"unknown weight_kind {weight_kind!r}",
                   f"use one of {', '.join(WEIGHT_KINDS)}")

    random = spec.get("random")
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
    df_method = spec.get("df_method")
    if estimator == "mixed":
        df_method = "z" if df_method is None else df_method
        if df_method not in DF_METHODS:
            raise _err(model_id, f"unknown df_method {df_method!r}",
                       f"use one of {', '.join(DF_METHODS)}")
    elif df_method is not None:
        raise _err(model_id, f"df_method is only used by estimator mixed, not {estimator}",
                   "for OLS/WLS the degrees of freedom follow the covariance (cluster_cr2: "
                   "Satterthwaite)")
    if weights and weight_kind == "survey" and covariance not in ROBUST_COVARIANCES:
        raise _err(model_id, "survey weights need a robust covariance",
                   "set covariance: cluster (or hc1); use weight_kind: precision for "
                   "inverse-variance weights")

    outcome_levels = spec.get("outcome_levels")
    if outcome_levels is not None:
        if family != "ordered_logit":
            raise _err(model_id, "outcome_levels is only used by family ordered_logit")
        if isinstance(outcome_levels, (str, bytes)) or not isinstance(outcome_levels, Sequence):
            raise _err(model_id, f"outcome_levels must be a list, not {outcome_levels!r}")
        outcome_levels = tuple(outcome_levels)
        if len(set(outcome_levels)) != len(outcome_levels):
            raise _err(model_id, f"outcome_levels {list(outcome_levels)} repeat a level")

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


def _rhs_desc(model_id: str, rhs: str) -> patsy.ModelDesc:
    try:
        return patsy.ModelDesc.from_formula(rhs)
    except patsy.PatsyError as exc:
        raise _err(model_id, f"cannot parse the formula's right-hand side {rhs!r}: {exc.message}")


def formula_variables(rhs: str, columns: Sequence[str] = (), model_id: str = "?") -> list[str]:
    """The data variables a right-hand side uses, in order of appearance.

    Names that are called (``np.log``, ``C``) are functions; patsy's helpers and ``np`` are
    not variables unless ``columns`` has a column of that name.
    """
    desc = _rhs_desc(model_id, rhs)
    columns = set(columns)
    found: list[str] = []
    for term in desc.rhs_termlist:
        for factor in term.factors:
            collector = _NameCollector()
            try:
                collector.visit(ast.parse(factor.code, mode="eval"))
            except SyntaxError:
                raise _err(model_id, f"cannot parse the term {factor.code!r}") from None
            for name in collector.names:
                if name in _NOT_VARIABLES and name not in columns:
                    continue
                if name not in found:
                    found.append(name)
    return found


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
    needed = list(dict.fromkeys([spec.outcome, *rhs_vars, *spec.slopes]))
    design = [c for c in (spec.cluster, spec.weights, spec.group) if c is not None]
    used = list(dict.fromkeys(needed + design))
    dup = [c for c in used if columns.count(c) > 1]
    if dup:
        raise _err(spec.id, f"the data has more than one column named {dup[0]!r}")
    frame = data.loc[:, used].copy()
    for name in design:
        bad = frame.index[frame[name].isna()]
        if len(bad):
            raise _err(spec.id, f"{len(bad)} row(s) have no value of {name!r} (rows "
                       f"{_row_ids(bad)})", "a design variable must be complete; fix it in the "
                       "survey stage or drop those rows before modelling")
    complete = frame[needed].notna().all(axis=1)
    n_dropped = int((~complete).sum())
    frame = frame.loc[complete]
    if frame.empty:
        raise _err(spec.id, f"no row has all of {needed}", "check the missing-value coding")
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
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


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series)


def _is_scalable(series: pd.Series) -> bool:
    return _is_numeric(series) and series.nunique() > 2


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
        found = sorted(pd.unique(y))
        if values is None or not set(np.unique(values)) <= {0.0, 1.0}:
            raise _err(spec.id, f"outcome {spec.outcome!r} of a binary logit must be 0/1; it has "
                       f"values {found[:6]}", "recode it to 0/1 in the scoring stage")
        if len(np.unique(values)) < 2:
            raise _err(spec.id, f"outcome {spec.outcome!r} takes only the value {found[0]!r} in "
                       "the estimation sample", "a logit needs both outcomes")
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
    try:
        X = patsy.dmatrix(rhs, frame, eval_env=_FORMULA_ENV, NA_action="raise",
                          return_type="dataframe")
    except patsy.PatsyError as exc:
        raise _err(spec.id, f"cannot build the design matrix of {rhs!r}: {exc.message}") from None
    for info in X.design_info.factor_infos.values():
        if info.type == "categorical" and len(info.categories) < 2:
            level = info.categories[0] if info.categories else None
            raise _err(spec.id, f"factor {info.factor.name()!r} has only one level ({level!r}) in "
                       "the estimation sample", "drop it from the formula or check the filter")
    values = X.to_numpy(float)
    bad = [c for c, ok in zip(X.columns, np.isfinite(values).all(axis=0)) if not ok]
    if bad:
        raise _err(spec.id, f"design column(s) {bad} have infinite values",
                   "check transformations such as np.log of zero")
    _check_rank(spec.id, X)
    return X


def _check_rank(model_id: str, X: pd.DataFrame, what: str = "design matrix") -> None:
    """Raise naming the columns that are linear combinations of earlier ones."""
    values = np.ascontiguousarray(X.to_numpy(float))
    norms = np.linalg.norm(values, axis=0)
    zero = [c for c, nrm in zip(X.columns, norms) if nrm == 0]
    if zero:
        raise _err(model_id, f"the {what} is singular: column(s) {zero} are zero in every row "
                   "used", "drop the term or check the coding")
    if values.shape[0] < values.shape[1]:
        raise _err(model_id, f"{values.shape[0]} rows for {values.shape[1]} parameters",
                   "the estimation sample is too small for this formula")
    R = np.linalg.qr(values / norms, mode="r")
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


# ---------------------------------------------------------------------------------------------
# covariance and tables


def _cluster_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    return codes, len(uniques)


def sandwich(bread: np.ndarray, scores: np.ndarray, kind: str,
             clusters: np.ndarray | None = None) -> np.ndarray:
    """Robust covariance ``bread @ meat @ bread`` with R's ``sandwich`` small-sample factors.

    ``bread`` is the inverse information (for OLS (X'WX)^-1), ``scores`` the per-observation
    score contributions (n x k). ``kind``: ``hc0`` (no factor), ``hc1`` (n/(n-k), vcovHC HC1),
    ``cluster`` (G/(G-1)*(n-1)/(n-k), vcovCL HC1, Stata's CR1), ``cluster_hc0`` (G/(G-1),
    vcovCL HC0).
    """
    n, k = scores.shape
    if kind in ("hc0", "hc1"):
        meat = scores.T @ scores
        factor = 1.0 if kind == "hc0" else n / (n - k)
    elif kind in ("cluster", "cluster_hc0"):
        if clusters is None:
            raise ValueError("cluster covariance without clusters")
        codes, G = _cluster_codes(clusters)
        summed = pd.DataFrame(scores).groupby(codes, sort=False).sum().to_numpy()
        meat = summed.T @ summed
        factor = G / (G - 1) * ((n - 1) / (n - k) if kind == "cluster" else 1.0)
    else:
        raise ValueError(f"unknown sandwich kind {kind!r}")
    V = factor * bread @ meat @ bread
    return (V + V.T) / 2


def _sym_power(a: np.ndarray, power: float, tol: float = 1e-12) -> np.ndarray:
    """Symmetric matrix power by eigendecomposition, eigenvalues at or below ``tol`` set to zero
    (clubSandwich's ``matrix_power``: a generalised inverse square root when I - H_jj is
    singular)."""
    values, vectors = np.linalg.eigh((a + a.T) / 2)
    keep = values > tol
    scaled = np.zeros_like(values)
    scaled[keep] = values[keep] ** power
    return (vectors * scaled) @ vectors.T


def cr2(X: np.ndarray, resid: np.ndarray, clusters: np.ndarray,
        weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CR2 (bias-reduced linearisation) covariance of OLS/WLS coefficients and the
    Satterthwaite degrees of freedom of each coefficient, as ``clubSandwich::vcovCR(type =
    "CR2")`` and ``coef_test(test = "Satterthwaite")`` compute them for an ``lm`` (Bell &
    McCaffrey 2002; Pustejovsky & Tipton 2018).

    Working model: W = diag(w) (w scaled to mean 1; 1 without weights), target Phi = I (for an
    unweighted fit this is clubSandwich's inverse-variance case; with weights its default
    ``target = NULL``). With B = (X'WX)^-1 and, per cluster j,
    ``G_j = I - H_jj - H_jj' + X_j B (sum_l X_l'W_l^2 X_l) B X_j'`` (H_jj = X_j B X_j'W_j;
    G_j = I - H_jj without weights), A_j = G_j^(-1/2) (generalised) and E_j = X_j'W_j A_j:
    V = B (sum_j E_j e_j e_j'E_j') B. The Satterthwaite df of coefficient i is
    tr(P_i)^2 / ||P_i||_F^2 with P_i the J x J matrix of clubSandwich's ``get_P_array``.
    """
    X = np.asarray(X, dtype=float)
    e = np.asarray(resid, dtype=float)
    n, p = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float) / np.mean(weights)
    codes, G = _cluster_codes(clusters)
    order = np.argsort(codes, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    B = np.linalg.inv(X.T @ (X * w[:, None]))
    B = (B + B.T) / 2
    Omega = B @ (X.T @ (X * (w ** 2)[:, None])) @ B
    E_list = []
    for rows in groups:
        Xj, wj = X[rows], w[rows]
        XBX = Xj @ B @ Xj.T
        H = XBX * wj[None, :]  # X_j B X_j' W_j
        Gj = np.eye(len(rows)) - H - H.T + Xj @ Omega @ Xj.T
        E_list.append((Xj * wj[:, None]).T @ _sym_power(Gj, -0.5))  # p x n_j
    comps = np.column_stack([E @ e[rows] for E, rows in zip(E_list, groups)])  # p x J
    V = B @ (comps @ comps.T) @ B
    V = (V + V.T) / 2
    # Satterthwaite: for coefficient i and clusters j, l with a_j = row i of B E_j,
    # r_j = X_j'a_j, s_j = X_j'W_j a_j:
    # P_i[j, l] = r_j'Omega r_l - r_j'B s_l - s_j'B r_l (+ a_j'a_j on the diagonal)
    ME = [B @ E for E in E_list]
    df = np.empty(p)
    for i in range(p):
        R = np.vstack([X[rows].T @ me[i] for me, rows in zip(ME, groups)])  # J x p
        S = np.vstack([X[rows].T @ (w[rows] * me[i]) for me, rows in zip(ME, groups)])
        RBS = R @ B @ S.T
        P = R @ Omega @ R.T - RBS - RBS.T
        P[np.diag_indices(G)] += np.array([me[i] @ me[i] for me in ME])
        df[i] = np.trace(P) ** 2 / np.sum(P ** 2)
    return V, df


def _coef_table(model_id: str, params: pd.Series, V: np.ndarray, cov_type: str,
                t_df: float | np.ndarray | None, level: float) -> pd.DataFrame:
    """Tidy coefficient rows. ``t_df``: None for normal (z) inference, one number for t with
    that many degrees of freedom for every term, or one number per term (Satterthwaite,
    between-within); the ``df`` column holds it (NaN for z)."""
    est = params.to_numpy(float)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(V))
        stat = est / se
    if t_df is None:
        df = np.full(len(est), np.nan)
        p = 2 * stats.norm.sf(np.abs(stat))
        q = stats.norm.ppf(0.5 + level / 2)
    else:
        df = np.broadcast_to(np.asarray(t_df, dtype=float), est.shape).copy()
        p = 2 * stats.t.sf(np.abs(stat), df)
        q = stats.t.ppf(0.5 + level / 2, df)
    return pd.DataFrame({
        "model": model_id, "term": list(params.index), "estimate": est, "std_error": se,
        "statistic": stat, "df": df, "p_value": p, "conf_low": est - q * se,
        "conf_high": est + q * se, "cov_type": cov_type,
    }, columns=list(COEF_COLUMNS))


def _empty_components() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c == "estimate" else object)
                         for c in COMPONENT_COLUMNS})


def _fit_row(spec: ModelSpec, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(FIT_FIELDS, np.nan)
    row.update(model=spec.id, label=spec.annotation("label"),
               hypothesis=spec.annotation("hypothesis"), outcome=spec.outcome,
               formula=spec.formula, family=spec.family, estimator=spec.estimator,
               cov_type=spec.covariance, cluster=spec.cluster, weights=spec.weights,
               weight_kind=spec.weight_kind if spec.weights else None,
               reml=spec.reml if spec.estimator == "mixed" else None,
               standardized=spec.standardize, t_df=None, n_clusters=None, n_groups=None,
               optimizer=None)
    unknown = set(values) - set(FIT_FIELDS)
    if unknown:
        raise ValueError(f"unknown fit fields {unknown}")
    row.update(values)
    return row


def _status(flags: Sequence[str]) -> str:
    return "; ".join(flags) if flags else STATUS_OK


def _robust_or_classical(spec: ModelSpec, bread: np.ndarray, scores: np.ndarray,
                         classical: np.ndarray, clusters: np.ndarray | None,
                         flags: list[str]) -> tuple[np.ndarray, int | None]:
    """The covariance the spec asks for, and the number of clusters (None without)."""
    if spec.covariance == "classical":
        return classical, None
    if spec.covariance in ("hc0", "hc1"):
        return sandwich(bread, scores, spec.covariance), None
    _, G = _cluster_codes(clusters)
    if G < 2:
        raise _err(spec.id, f"cluster {spec.cluster!r} has a single value in the estimation "
                   "sample", "a cluster-robust variance needs at least two clusters")
    if G < FEW_CLUSTERS:
        if spec.covariance == "cluster_cr2":
            flags.append(f"few clusters (G={G}): CR2 with Satterthwaite df is the small-sample "
                         "correction; check the df column (df below about 4 is not trustworthy)")
        else:
            flags.append(f"few clusters (G={G}): cluster-robust standard errors are unreliable")
    kind = "cluster" if spec.covariance == "cluster_cr2" else spec.covariance  # CR2: _fit_linear
    return sandwich(bread, scores, kind, clusters), G


# ---------------------------------------------------------------------------------------------
# results


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
    vcov: pd.DataFrame
    rows: pd.Index
    _predictor: _Predictor = field(repr=False)

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


# ---------------------------------------------------------------------------------------------
# the dispatcher


def fit_model(spec: Mapping[str, Any] | ModelSpec, data: pd.DataFrame) -> ModelResult:
    """Fit one model specification to ``data`` (see the module docstring).

    Raises :class:`PipelineError` for input that cannot give a valid estimate (a variable not in
    the data, a factor with one level, a singular design, separation in a logit, an outcome of
    the wrong type); returns a result flagged in ``fit["status"]`` (``"ok"`` otherwise) for a
    fit whose numbers are doubtful (no convergence, a boundary fit, few clusters).
    """
    spec = parse_spec(spec)
    mf = _model_frame(spec, data)
    if spec.estimator in ("ols", "wls"):
        return _fit_linear(spec, mf)
    if spec.estimator == "mixed":
        return _fit_mixed(spec, mf)
    if spec.family == "ordered_logit":
        return _fit_ordered(spec, mf)
    return _fit_logit(spec, mf)


def _weights(spec: ModelSpec, frame: pd.DataFrame) -> np.ndarray | None:
    if spec.weights is None or spec.weight_kind == "frequency":
        return None
    return frame[spec.weights].to_numpy(float)


def _result(spec: ModelSpec, mf: _Frame, design_info: Any, params: pd.Series, V: np.ndarray,
            t_df: float | np.ndarray | None, fit: dict, components: pd.DataFrame | None = None,
            levels: tuple = (), drop_intercept: bool = False) -> ModelResult:
    names = list(params.index)
    return ModelResult(
        model=spec.id, spec=spec,
        coefficients=_coef_table(spec.id, params, V, spec.covariance, t_df, spec.conf_level),
        fit=fit, components=_empty_components() if components is None else components,
        params=params, vcov=pd.DataFrame(V, index=names, columns=names), rows=mf.raw.index,
        _predictor=_Predictor(design_info=design_info, drop_intercept=drop_intercept,
                              outcome_levels=levels, standardization=mf.standardization,
                              rhs_vars=mf.rhs_vars),
    )


def _fit_linear(spec: ModelSpec, mf: _Frame) -> ModelResult:
    frame = mf.frame
    y, _ = _outcome(spec, frame)
    X = _design(spec, frame)
    w = _weights(spec, frame)
    wts = np.ones(len(y)) if w is None else w
    Xv = np.ascontiguousarray(X.to_numpy(float))
    n, k = X.shape
    if n <= k:
        raise _err(spec.id, f"{n} observations for {k} coefficients")
    res = sm.WLS(y, Xv, weights=wts).fit()
    bread = np.asarray(res.normalized_cov_params)
    resid = y - Xv @ res.params
    scores = Xv * (wts * resid)[:, None]
    flags: list[str] = []
    clusters = frame[spec.cluster].to_numpy() if spec.cluster else None
    V, G = _robust_or_classical(spec, bread, scores, np.asarray(res.cov_params()), clusters,
                                flags)
    t_df = (G - 1) if G is not None else (n - k)
    term_df: float | np.ndarray = t_df
    if spec.covariance == "cluster_cr2":
        V, term_df = cr2(Xv, resid, clusters, w)
        t_df = float(np.min(term_df))
    survey = spec.weights is not None and spec.weight_kind == "survey"
    llf = np.nan if survey else float(res.llf)
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_clusters=G, r2=float(res.rsquared),
        adj_r2=float(res.rsquared_adj), loglik=llf, n_params=k + 1,
        aic=-2 * llf + 2 * (k + 1), bic=-2 * llf + math.log(n) * (k + 1),
        sigma=float(np.sqrt(res.scale)), t_df=t_df, converged=True, status=_status(flags))
    params = pd.Series(res.params, index=X.columns)
    return _result(spec, mf, X.design_info, params, V, term_df, fit)


# ---------------------------------------------------------------------------------------------
# mixed models


def _fit_mixed(spec: ModelSpec, mf: _Frame) -> ModelResult:
    frame = mf.frame
    y, _ = _outcome(spec, frame)
    X = _design(spec, frame)
    Z = pd.DataFrame({"Intercept": 1.0, **{s: frame[s].to_numpy(float) for s in spec.slopes}},
                     index=frame.index)
    _check_rank(spec.id, Z, "random-effects design")
    groups = frame[spec.group].to_numpy()
    codes, n_groups = _cluster_codes(groups)
    if n_groups < 2:
        raise _err(spec.id, f"grouping variable {spec.group!r} has a single value")
    if not spec.slopes:
        return _fit_random_intercept(spec, mf, X, y, codes, n_groups, groups)
    model = sm.MixedLM(y, X, groups=groups, exog_re=Z)
    flags: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(reml=spec.reml, method=["bfgs", "powell"], gtol=_MIXED_GTOL,
                            maxiter=spec.max_iter or 2000)
        except np.linalg.LinAlgError as exc:
            raise _err(spec.id, f"the mixed model could not be fitted ({exc})",
                       "check for groups with a single observation or a constant slope "
                       "variable") from None
    messages = " ".join(str(w.message) for w in caught)
    n, k = X.shape
    q = Z.shape[1]
    llf = float(res.llf)
    cov_re = np.asarray(res.cov_re, dtype=float)
    scale = float(res.scale)
    converged = bool(res.converged and np.isfinite(llf) and np.all(np.isfinite(cov_re))
                     and scale > 0)
    if not converged:
        flags.append("not converged: the optimiser stopped before the maximum; do not report "
                     "these numbers (simplify the random part or rescale predictors)")
    if np.isfinite(cov_re).all() and scale > 0:
        theta_min = float(np.sqrt(max(np.linalg.eigvalsh(cov_re / scale).min(), 0.0)))
        if theta_min < _SINGULAR_THETA or "boundary" in messages:
            flags.append("boundary (singular) fit: a random-effect variance or correlation is "
                         "at the edge of its range; consider dropping that random term")
    optimizer = "bfgs+powell" if "powell" in messages.lower() else "bfgs"
    if converged:
        # Powell starts from where BFGS stopped; check that the end point is a maximum
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                score = np.asarray(model.score(res.params_object, profile_fe=True), dtype=float)
            except (np.linalg.LinAlgError, ValueError):
                score = np.array([np.nan])
        if not np.all(np.isfinite(score)) or np.abs(score).max() > _MIXED_SCORE_TOL:
            flags.append(f"imprecise optimum (largest score {np.abs(score).max():.2g}): "
                         "estimates may be off in the third digit")
    if "Hessian" in messages and "not positive definite" in messages:
        flags.append("the Hessian is not positive definite: standard errors are unreliable")
    fe = list(X.columns)
    params = pd.Series(np.asarray(res.fe_params, dtype=float), index=fe)
    V = _gls_vcov(X.to_numpy(float), Z.to_numpy(float), groups, cov_re, scale) if converged \
        else np.asarray(res.cov_params(), dtype=float)[:k, :k]
    n_params = k + q * (q + 1) // 2 + 1
    re_names = list(Z.columns)
    rows = []
    for i, a in enumerate(re_names):
        rows.append((spec.id, spec.group, "var", a, None, cov_re[i, i]))
    for i, j in itertools.combinations(range(q), 2):
        rows.append((spec.id, spec.group, "cov", re_names[i], re_names[j], cov_re[i, j]))
        denom = math.sqrt(cov_re[i, i] * cov_re[j, j])
        rows.append((spec.id, spec.group, "cor", re_names[i], re_names[j],
                     cov_re[i, j] / denom if denom > 0 else np.nan))
    rows.append((spec.id, "Residual", "residual", None, None, scale))
    components = pd.DataFrame(rows, columns=list(COMPONENT_COLUMNS))
    tau2 = float(cov_re[0, 0])
    term_df = None
    if spec.df_method == "between_within":
        term_df = between_within_df(spec.id, X, groups)
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_groups=n_groups, loglik=llf,
        t_df=None if term_df is None else float(np.min(term_df)),
        n_params=n_params, aic=-2 * llf + 2 * n_params, bic=-2 * llf + math.log(n) * n_params,
        sigma=math.sqrt(scale) if scale > 0 else np.nan,
        icc=tau2 / (tau2 + scale) if q == 1 else np.nan, var_intercept=tau2,
        residual_var=scale, optimizer=optimizer, converged=converged, status=_status(flags))
    return _result(spec, mf, X.design_info, params, V, term_df, fit, components)


def _ri_profile(s: float, parts: tuple, n: int, p: int, reml: bool) -> tuple[float, np.ndarray, float, np.ndarray]:
    """Profiled deviance of a random-intercept model at the relative standard deviation
    ``s`` = tau/sigma (lme4's theta), from group sums only: with w_j = s^2 / (1 + n_j s^2),
    X'V*^-1 X = X'X - sum_j w_j x_j x_j' (x_j the group's column sums), likewise X'V*^-1 y and
    y'V*^-1 y; log|V*| = sum_j log(1 + n_j s^2). Returns the deviance (-2 log-likelihood, REML
    criterion for REML, both as lme4 reports them), beta, the penalised residual sum of squares
    and the Cholesky factor of X'V*^-1 X."""
    XtX, Xty, yty, n_j, Sx, Sy = parts
    theta = s * s
    w = theta / (1.0 + n_j * theta)
    A = XtX - (Sx * w[:, None]).T @ Sx
    b = Xty - Sx.T @ (w * Sy)
    L = np.linalg.cholesky(A)
    z = np.linalg.solve(L, b)
    beta = np.linalg.solve(L.T, z)
    r = float(yty - np.sum(w * Sy * Sy) - z @ z)
    logdet_v = float(np.sum(np.log1p(n_j * theta)))
    if reml:
        dof = n - p
        dev = dof * (1 + math.log(2 * math.pi * r / dof)) + logdet_v + 2 * float(np.sum(np.log(np.diag(L))))
    else:
        dev = n * (1 + math.log(2 * math.pi * r / n)) + logdet_v
    return dev, beta, r, L


def _fit_random_intercept(spec: ModelSpec, mf: _Frame, X: pd.DataFrame, y: np.ndarray, codes: np.ndarray,
                          n_groups: int, groups: np.ndarray) -> ModelResult:
    """A random-intercept model (no random slopes) by its exact one-dimensional profiled
    likelihood, as lme4 fits it: the fixed effects and the residual variance are profiled out,
    the deviance is a function of theta = tau/sigma alone and is computed from group sums
    (:func:`_ri_profile`), and theta is found by bounded Brent search (boundary theta = 0 checked).
    The same numbers as statsmodels' MixedLM at its optimum (log-likelihood to 1e-12, fixed
    effects to 1e-10; tested) in a fraction of the time: no per-group loop."""
    Xv = X.to_numpy(float)
    n, k = Xv.shape
    n_j = np.bincount(codes, minlength=n_groups).astype(float)
    Sx = np.zeros((n_groups, k))
    np.add.at(Sx, codes, Xv)
    Sy = np.bincount(codes, weights=y, minlength=n_groups)
    parts = (Xv.T @ Xv, Xv.T @ y, float(y @ y), n_j, Sx, Sy)

    def deviance(s: float) -> float:
        return _ri_profile(s, parts, n, k, spec.reml)[0]

    try:
        hi, res = 10.0, None
        for _ in range(6):   # widen the search while the optimum sits at the upper bound
            res = optimize.minimize_scalar(deviance, bounds=(0.0, hi), method="bounded",
                                           options={"xatol": 1e-12, "maxiter": spec.max_iter or 2000})
            if res.x < 0.99 * hi:
                break
            hi *= 10
        s_hat = float(res.x)
        if deviance(0.0) <= res.fun:
            s_hat = 0.0
        dev, beta, r, L = _ri_profile(s_hat, parts, n, k, spec.reml)
    except np.linalg.LinAlgError as exc:
        raise _err(spec.id, f"the mixed model could not be fitted ({exc})",
                   "check the fixed-effects design for collinear columns") from None
    flags: list[str] = []
    converged = bool(res.success and np.isfinite(dev) and r > 0 and s_hat < 0.99 * hi)
    if not converged:
        flags.append("not converged: the optimiser stopped before the maximum; do not report "
                     "these numbers (simplify the random part or rescale predictors)")
    if s_hat < _SINGULAR_THETA:
        flags.append("boundary (singular) fit: a random-effect variance or correlation is "
                     "at the edge of its range; consider dropping that random term")
    scale = r / (n - k if spec.reml else n)
    tau2 = s_hat * s_hat * scale
    llf = -dev / 2
    params = pd.Series(beta, index=list(X.columns))
    V = scale * np.linalg.inv(L @ L.T)
    n_params = k + 2
    components = pd.DataFrame([(spec.id, spec.group, "var", "Intercept", None, tau2),
                               (spec.id, "Residual", "residual", None, None, scale)],
                              columns=list(COMPONENT_COLUMNS))
    term_df = between_within_df(spec.id, X, groups) if spec.df_method == "between_within" else None
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_groups=n_groups, loglik=llf,
        t_df=None if term_df is None else float(np.min(term_df)),
        n_params=n_params, aic=-2 * llf + 2 * n_params, bic=-2 * llf + math.log(n) * n_params,
        sigma=math.sqrt(scale) if scale > 0 else np.nan, icc=tau2 / (tau2 + scale), var_intercept=tau2,
        residual_var=scale, optimizer="profiled-brent", converged=converged, status=_status(flags))
    return _result(spec, mf, X.design_info, params, V, term_df, fit, components)


def between_within_df(model_id: str, X: pd.DataFrame, groups: np.ndarray) -> np.ndarray:
    """Between-within denominator degrees of freedom of each fixed effect (Schluchter & Elashoff
    1990; the partition behind SAS ``ddfm=betwithin``), column by column.

    A design column is *between* when it is constant within every group (the intercept and
    group-level variables), else *within* (it varies inside at least one group; an interaction
    of a group-level and an individual-level variable is within). With G groups, N rows, p_b
    between and p_w within columns: between columns get G - p_b, within columns N - G - p_w.
    Unlike SAS, the within df are not further split by subject-by-effect interactions of
    classification effects: every dummy column counts as one parameter.
    """
    values = X.to_numpy(float)
    codes, G = _cluster_codes(groups)
    frame = pd.DataFrame(values)
    spread = (frame.groupby(codes).max() - frame.groupby(codes).min()).to_numpy().max(axis=0)
    scale = np.abs(values).max(axis=0)
    within = spread > 1e-10 * np.where(scale > 0, scale, 1.0)
    n = values.shape[0]
    p_w = int(within.sum())
    p_b = len(within) - p_w
    df_b, df_w = G - p_b, n - G - p_w
    if (p_b and df_b < 1) or (p_w and df_w < 1):
        raise _err(model_id, f"between-within degrees of freedom are not positive (G={G} groups, "
                   f"{p_b} between-group terms: {df_b}; N={n} rows, {p_w} within-group terms: "
                   f"{df_w})", "use df_method: z, or fewer terms")
    return np.where(within, float(df_w), float(df_b))


def _gls_vcov(X: np.ndarray, Z: np.ndarray, groups: np.ndarray, cov_re: np.ndarray,
              scale: float) -> np.ndarray:
    """Covariance of the fixed effects, (X' V^-1 X)^-1 with V = Z Psi Z' + sigma^2 I per group,
    as lme4's vcov computes it (also on the boundary, where the inverse Hessian of the joint
    parameters that statsmodels reports is not usable)."""
    codes, n_groups = _cluster_codes(groups)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    info = np.zeros((X.shape[1], X.shape[1]))
    for rows in np.split(order, bounds):
        Zg, Xg = Z[rows], X[rows]
        Vg = Zg @ cov_re @ Zg.T + scale * np.eye(len(rows))
        info += Xg.T @ np.linalg.solve(Vg, Xg)
    V = np.linalg.inv(info)
    return (V + V.T) / 2


def icc(data: pd.DataFrame, outcome: str, group: str, reml: bool = True) -> dict[str, Any]:
    """Intraclass correlation of ``outcome`` within ``group`` from the null random-intercept
    model ``outcome ~ 1 + (1 | group)``: tau^2 / (tau^2 + sigma^2).

    Returns a dict: icc, var_between (tau^2), var_within (sigma^2), n_obs, n_groups, reml,
    converged, status (the model's status, ``"ok"`` when usable).
    """
    res = fit_model({"id": f"icc_{outcome}", "formula": f"{_quote(outcome)} ~ 1",
                     "estimator": "mixed",
                     "random": {"group": group}, "reml": reml}, data)
    return {"outcome": outcome, "group": group, "icc": res.fit["icc"],
            "var_between": res.fit["var_intercept"], "var_within": res.fit["residual_var"],
            "n_obs": res.fit["n_obs"], "n_groups": res.fit["n_groups"], "reml": reml,
            "converged": res.fit["converged"], "status": res.fit["status"]}


def lrt_random_intercept(spec: Mapping[str, Any] | ModelSpec,
                         data: pd.DataFrame) -> dict[str, Any]:
    """Likelihood-ratio test of a random intercept: the spec's fixed part with a random
    intercept for its group, against the same fixed part by OLS, both by maximum likelihood
    (REML likelihoods of models fitted differently are not comparable) on the same rows.

    The null hypothesis tau^2 = 0 lies on the boundary of the parameter space, so the
    statistic is not chi-square(1) but the 50:50 mixture of chi-square(0) and chi-square(1)
    (Self & Liang 1987): ``p_value`` = 0.5 * P(chi2_1 > LR) (1 when LR is 0); ``p_chisq1`` is the
    naive, conservative value. Random slopes in the spec are ignored (this tests the intercept).
    """
    spec = parse_spec(spec)
    if spec.estimator != "mixed":
        raise _err(spec.id, "the random-intercept test needs a mixed-model spec "
                   "(estimator: mixed, random: {group: ...})")
    mixed = fit_model({"id": spec.id, "formula": spec.formula, "estimator": "mixed",
                       "random": {"group": spec.group}, "reml": False}, data)
    # the single-level model on exactly the rows of the mixed model
    single = fit_model({"id": spec.id, "formula": spec.formula, "estimator": "ols"},
                       data.loc[mixed.rows])
    lr = 2 * (mixed.fit["loglik"] - single.fit["loglik"])
    lr_clipped = max(lr, 0.0)
    p1 = float(stats.chi2.sf(lr_clipped, 1))
    return {
        "model": spec.id, "group": spec.group, "n_obs": mixed.fit["n_obs"],
        "n_groups": mixed.fit["n_groups"], "loglik_single": single.fit["loglik"],
        "loglik_mixed": mixed.fit["loglik"], "lr_stat": lr, "df": 1, "p_chisq1": p1,
        "p_value": 0.5 * p1 if lr_clipped > 0 else 1.0,
        "p_method": "chi-bar-square 0.5*chi2(0) + 0.5*chi2(1): the variance is tested on the "
                    "boundary (p = 0.5 * P(chi2_1 > LR))",
        "status": mixed.fit["status"],
    }


# ---------------------------------------------------------------------------------------------
# ordered logit


def _polr_parts(theta: np.ndarray, X: np.ndarray, y: np.ndarray, k: int):
    """Probabilities and cdf/pdf pieces of polr's logit P(y <= j) = zeta_j - x'beta."""
    beta, zeta = theta[:k], theta[k:]
    eta = X @ beta
    cuts = np.concatenate(([-np.inf], zeta, [np.inf]))
    upper = cuts[y + 1] - eta
    lower = cuts[y] - eta
    Fu, Fl = special.expit(upper), special.expit(lower)
    # F(u) - F(l) = S(l) - S(u): use the tail that does not cancel
    p = np.where(lower > 0, special.expit(-lower) - special.expit(-upper), Fu - Fl)
    return p, Fu * (1 - Fu), Fl * (1 - Fl)


def _polr_loglik_obs(theta, X, y, k):
    p, _, _ = _polr_parts(theta, X, y, k)
    return np.log(np.maximum(p, 1e-300))


def _polr_score_obs(theta: np.ndarray, X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Per-observation score in polr's parameterisation (beta, zeta)."""
    p, fu, fl = _polr_parts(theta, X, y, k)
    p = np.maximum(p, 1e-300)
    n, n_cuts = len(y), len(theta) - k
    scores = np.empty((n, k + n_cuts))
    scores[:, :k] = -X * ((fu - fl) / p)[:, None]
    s_zeta = np.zeros((n, n_cuts))
    rows = np.arange(n)
    up = y < n_cuts
    s_zeta[rows[up], y[up]] += fu[up] / p[up]
    lo = y > 0
    s_zeta[rows[lo], y[lo] - 1] -= fl[lo] / p[lo]
    scores[:, k:] = s_zeta
    return scores


def _to_polr(theta_sm: np.ndarray, k: int) -> np.ndarray:
    """statsmodels' (beta, first cut, log increments) to polr's (beta, cut points)."""
    t = theta_sm[k:]
    return np.concatenate((theta_sm[:k], np.cumsum(np.concatenate((t[:1], np.exp(t[1:]))))))


def _numeric_jacobian(f, x: np.ndarray) -> np.ndarray:
    cols = []
    for j in range(len(x)):
        h = 1e-5 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    J = np.column_stack(cols)
    return (J + J.T) / 2


class _OrderedLogit(OrderedModel):
    """OrderedModel (distr="logit") with case weights and the analytic score."""

    def __init__(self, endog, exog, case_weights, **kwds):
        self.case_weights = np.asarray(case_weights, dtype=float)
        super().__init__(endog, exog, distr="logit", **kwds)

    def loglikeobs(self, params):
        return self.case_weights * _polr_loglik_obs(_to_polr(np.asarray(params), self.k_vars),
                                                     self.exog, self.endog, self.k_vars)

    def score_obs(self, params):
        params = np.asarray(params)
        k = self.k_vars
        s = self.case_weights[:, None] * _polr_score_obs(_to_polr(params, k), self.exog,
                                                         self.endog, k)
        # chain rule: zeta_j = t_0 + sum_{i=1..j} exp(t_i)
        s_cuts = np.cumsum(s[:, k:][:, ::-1], axis=1)[:, ::-1]
        s_cuts[:, 1:] *= np.exp(params[k + 1:])
        return np.column_stack((s[:, :k], s_cuts))

    def score(self, params):
        return self.score_obs(params).sum(axis=0)


def _fit_ordered(spec: ModelSpec, mf: _Frame) -> ModelResult:
    frame = mf.frame
    y, levels = _outcome(spec, frame)
    X_full = _design_ordered(spec, frame)
    X = X_full.drop(columns="Intercept")
    Xv = np.ascontiguousarray(X.to_numpy(float))
    w = _weights(spec, frame)
    wts = np.ones(len(y)) if w is None else w
    n, k = Xv.shape
    model = _OrderedLogit(y, Xv, wts)
    flags: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(method="bfgs", maxiter=spec.max_iter or 1000, disp=False,
                        gtol=_ORDERED_GTOL, skip_hessian=True)
    theta = _to_polr(np.asarray(res.params, dtype=float), k)

    def total_score(th):
        return (wts[:, None] * _polr_score_obs(th, Xv, y, k)).sum(axis=0)

    scores = wts[:, None] * _polr_score_obs(theta, Xv, y, k)
    converged = bool(np.all(np.isfinite(theta))) and bool(
        float(np.abs(scores.sum(axis=0)).max()) / wts.sum() < _ORDERED_SCORE_TOL)
    if not converged:
        flags.append("not converged: the score is not zero at the estimates; do not report "
                     "these numbers")
    info = -_numeric_jacobian(total_score, theta)
    try:
        np.linalg.cholesky(info)
        bread = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        flags.append("the information matrix is not positive definite (separation or an "
                     "empty category?): standard errors are not available")
        bread = np.full_like(info, np.nan)
    n_par = len(theta)
    clusters = frame[spec.cluster].to_numpy() if spec.cluster else None
    V, G = _robust_or_classical(spec, bread, scores, bread, clusters, flags)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(V))
    if np.nanmax(np.abs(theta[:k]), initial=0) > 20 or np.nanmax(se, initial=0) > 100:
        flags.append("very large estimates or standard errors: possible (quasi-)separation of "
                     "the outcome by a predictor")
    names = list(X.columns) + [f"{levels[j]}|{levels[j + 1]}" for j in range(len(levels) - 1)]
    counts = np.bincount(y, weights=wts, minlength=len(levels))
    llnull = float(np.sum(counts * np.log(counts / counts.sum())))
    llf = float(np.sum(wts * _polr_loglik_obs(theta, Xv, y, k)))
    survey = spec.weights is not None and spec.weight_kind == "survey"
    ll_report = np.nan if survey else llf
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_clusters=G, pseudo_r2=1 - llf / llnull,
        loglik=ll_report, n_params=n_par, aic=-2 * ll_report + 2 * n_par,
        bic=-2 * ll_report + math.log(n) * n_par, optimizer="bfgs", converged=converged,
        status=_status(flags))
    params = pd.Series(theta, index=names)
    return _result(spec, mf, X_full.design_info, params, V, None, fit, levels=levels,
                   drop_intercept=True)


# ---------------------------------------------------------------------------------------------
# binary logit


def separation_check(X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """A direction b with (2y-1) x'b >= 0 for every row and > 0 for some ((quasi-)complete
    separation: the logit MLE does not exist), or None. Linear programme of Konis (2007)."""
    s = 2 * np.asarray(y, dtype=float) - 1
    A = np.asarray(X, dtype=float) * s[:, None]
    scale = np.abs(A).max(axis=0)
    scale[scale == 0] = 1
    A = A / scale
    n, k = A.shape
    res = optimize.linprog(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(n), bounds=[(-1, 1)] * k,
                           method="highs")
    if res.status != 0 or -res.fun <= 1e-6 * max(1.0, n ** 0.5):
        return None
    return res.x / scale


def _fit_logit(spec: ModelSpec, mf: _Frame) -> ModelResult:
    frame = mf.frame
    y, _ = _outcome(spec, frame)
    X = _design(spec, frame)
    Xv = np.ascontiguousarray(X.to_numpy(float))
    w = _weights(spec, frame)
    n, k = Xv.shape
    direction = separation_check(Xv, y)
    if direction is not None:
        big = np.abs(direction) > 1e-6 * np.abs(direction).max()
        terms = [c for c, b in zip(X.columns, big) if b and c != "Intercept"] or list(X.columns)
        raise _err(spec.id, f"the outcome {spec.outcome!r} is perfectly (or quasi-perfectly) "
                   f"separated by {terms}: maximum-likelihood estimates do not exist",
                   "drop or collapse the term(s) named, or use a penalised (Firth) logit")
    flags: list[str] = []
    glm = sm.GLM(y, Xv, family=sm.families.Binomial(), var_weights=w)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = glm.fit(tol=1e-12, maxiter=spec.max_iter or 100)
    converged = bool(res.converged) and bool(np.all(np.isfinite(res.params)))
    if not converged:
        flags.append("not converged: IRLS stopped before the maximum; do not report these "
                     "numbers")
    mu = np.asarray(res.fittedvalues, dtype=float)
    if np.any((mu < 1e-10) | (mu > 1 - 1e-10)) or \
            any("separation" in str(c.message).lower() for c in caught):
        flags.append("fitted probabilities numerically 0 or 1 occurred")
    bread = np.asarray(res.normalized_cov_params, dtype=float)
    wts = np.ones(n) if w is None else w
    scores = Xv * (wts * (y - mu))[:, None]
    clusters = frame[spec.cluster].to_numpy() if spec.cluster else None
    V, G = _robust_or_classical(spec, bread, scores, bread, clusters, flags)
    survey = spec.weights is not None and spec.weight_kind == "survey"
    llf = float(res.llf)
    ll_report = np.nan if survey else llf
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_clusters=G,
        pseudo_r2=1 - llf / float(res.llnull), loglik=ll_report, n_params=k,
        aic=-2 * ll_report + 2 * k, bic=-2 * ll_report + math.log(n) * k, optimizer="irls",
        converged=converged, status=_status(flags))
    params = pd.Series(np.asarray(res.params, dtype=float), index=X.columns)
    return _result(spec, mf, X.design_info, params, V, None, fit)


# ---------------------------------------------------------------------------------------------
# predictions


def _reference_value(series: pd.Series) -> Any:
    if _is_numeric(series):
        return float(series.mean())
    counts = series.value_counts(sort=False)
    return counts.index[int(np.argmax(counts.to_numpy()))]


def predict_grid(result: ModelResult, data: pd.DataFrame, grid: Mapping[str, Sequence],
                 at: Mapping[str, Any] | None = None, level: float | None = None) -> pd.DataFrame:
    """Predictions with confidence intervals at every combination of ``grid`` values.

    ``grid`` maps formula variables to the values to predict at (original units, also for a
    standardised model); every other formula variable is held at ``at[var]`` if given, else at
    its mean (numeric) or most frequent value (categorical, boolean) among the rows the model
    used (``data`` must hold them: pass the data the model was fitted on). Interval level:
    ``level`` or the model's ``conf_level``.

    Returns one row per grid point (per grid point and category for an ordered logit) with
    ``model``, the grid columns, the held variables' values, ``category`` (ordered logit),
    ``estimate``, ``std_error``, ``conf_low``, ``conf_high`` and ``scale``. Linear models (a
    mixed model's fixed part, random effects at zero) predict the outcome, with t or z
    intervals as the coefficients. Binary logit predicts P(y = 1), the interval transformed
    from the linear predictor's. Ordered logit predicts P(y = category), delta-method standard
    errors, intervals clipped to [0, 1].
    """
    pred = result._predictor
    spec = result.spec
    level = spec.conf_level if level is None else level
    if not isinstance(grid, Mapping) or not grid:
        raise _err(spec.id, "predict_grid needs a grid such as {'contact': [-1, 0, 1]}")
    at = dict(at or {})
    for name in list(grid) + list(at):
        if name not in pred.rhs_vars:
            raise _err(spec.id, f"{name!r} is not a variable of the formula",
                       f"the formula uses {list(pred.rhs_vars)}")
    missing_rows = result.rows.difference(data.index)
    if len(missing_rows):
        raise _err(spec.id, f"the data passed to predict_grid lacks {len(missing_rows)} rows the "
                   "model used", "pass the data the model was fitted on")
    used = data.loc[result.rows]
    values = {}
    for name in pred.rhs_vars:
        if name in grid:
            continue
        values[name] = at[name] if name in at else _reference_value(used[name])
    combos = list(itertools.product(*[list(v) for v in grid.values()]))
    if not combos:
        raise _err(spec.id, "a grid variable has no values")
    points = pd.DataFrame(combos, columns=list(grid))
    for name, value in values.items():
        points[name] = [value] * len(points)
    newdata = points.copy()
    for name, (mean, sd) in pred.standardization.items():
        if name in newdata:
            newdata[name] = (newdata[name].astype(float) - mean) / sd
    try:
        X = patsy.build_design_matrices([pred.design_info], newdata, NA_action="raise",
                                        return_type="dataframe")[0]
    except patsy.PatsyError as exc:
        raise _err(spec.id, f"cannot build predictions for this grid: {exc.message}",
                   "use values of categorical variables seen in the estimation data") from None
    if pred.drop_intercept:
        X = X.drop(columns="Intercept")
    Xv = np.ascontiguousarray(X.to_numpy(float))
    params = result.params.to_numpy(float)
    V = result.vcov.to_numpy(float)
    t_df = result.fit["t_df"]
    q = stats.norm.ppf(0.5 + level / 2) if t_df is None else stats.t.ppf(0.5 + level / 2, t_df)
    out = points.copy()
    if spec.family == "ordered_logit":
        k = Xv.shape[1]
        n_cat = len(pred.outcome_levels)

        def probs(theta):
            eta = Xv @ theta[:k]
            cum = special.expit(theta[k:][None, :] - eta[:, None])
            cum = np.column_stack((np.zeros(len(eta)), cum, np.ones(len(eta))))
            return np.diff(cum, axis=1).ravel()

        p = probs(params)
        J = np.column_stack([(probs(params + h) - probs(params - h)) / (2 * 1e-6)
                             for h in np.eye(len(params)) * 1e-6])
        se = np.sqrt(np.einsum("ij,jk,ik->i", J, V, J))
        out = out.loc[out.index.repeat(n_cat)].reset_index(drop=True)
        out["category"] = list(pred.outcome_levels) * len(points)
        out["estimate"] = p
        out["std_error"] = se
        out["conf_low"] = np.clip(p - q * se, 0, 1)
        out["conf_high"] = np.clip(p + q * se, 0, 1)
        out["scale"] = "probability"
    else:
        eta = Xv @ params
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xv, V, Xv))
        if spec.family == "binary_logit":
            p = special.expit(eta)
            out["estimate"] = p
            out["std_error"] = p * (1 - p) * se
            out["conf_low"] = special.expit(eta - q * se)
            out["conf_high"] = special.expit(eta + q * se)
            out["scale"] = "probability"
        else:
            mean, sd = pred.standardization.get(spec.outcome, (0.0, 1.0))
            out["estimate"] = mean + sd * eta
            out["std_error"] = sd * se
            out["conf_low"] = mean + sd * (eta - q * se)
            out["conf_high"] = mean + sd * (eta + q * se)
            out["scale"] = "outcome"
    out.insert(0, "model", spec.id)
    return out


# ---------------------------------------------------------------------------------------------
# mediation


@dataclass(frozen=True, eq=False)
class MediationResult:
    """Product-of-coefficients mediation as data.

    ``effects`` has one row per effect (columns :data:`MEDIATION_COLUMNS`): ``a`` (x -> m),
    ``b`` (m -> y given x), ``direct`` (c', x -> y given m), ``indirect`` (a*b), ``total``
    (c, x -> y without m; c = c' + a*b exactly for OLS on one sample) and
    ``proportion_mediated`` (a*b / c). ``std_error`` is the analytic (cluster-robust CR1, or
    classical without clusters) standard error of a single coefficient, NaN for the indirect
    effect and the proportion; ``boot_se`` the bootstrap standard deviation; ``conf_low``/
    ``conf_high`` the percentile bootstrap interval. ``info``: n_obs, n_dropped, n_clusters,
    n_boot, n_boot_failed, level, status.
    """

    model: str
    effects: pd.DataFrame
    info: dict[str, Any]
    draws: pd.DataFrame = field(repr=False)  # the bootstrap replications (one row each)


def _as_generator(rng: np.random.Generator | int | np.random.SeedSequence,
                  what: str) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise PipelineError(f"{what} needs a seed (an int) or a numpy Generator, not {rng!r}",
                        "pass the seed from params.yaml; the clock is never used")


def _mediation_coefs(Xa: np.ndarray, Xb: np.ndarray, m: np.ndarray, y: np.ndarray,
                     rows: np.ndarray) -> np.ndarray:
    """(a, b, c', c) by OLS on the given rows; NaN when a design is rank deficient.
    Column 1 of Xa is x; columns 1 and 2 of Xb are x and m."""
    A, B = Xa[rows], Xb[rows]
    coef_a, _, rank_a, _ = np.linalg.lstsq(A, np.column_stack((m[rows], y[rows])), rcond=None)
    coef_b, _, rank_b, _ = np.linalg.lstsq(B, y[rows], rcond=None)
    if rank_a < A.shape[1] or rank_b < B.shape[1]:
        return np.full(4, np.nan)
    return np.array([coef_a[1, 0], coef_b[2], coef_b[1], coef_a[1, 1]])


def _cluster_crossproducts(Xb: np.ndarray, y: np.ndarray, codes: np.ndarray, n_units: int) -> np.ndarray:
    """Per resampling unit g, the cross-product matrix Z_g'Z_g of Z = [Xb | y] (flattened).

    A cluster bootstrap replicate of any OLS fit on columns of Z is then exact from
    sum_g w_g Z_g'Z_g, with w_g the number of times unit g was drawn: no refit over the rows."""
    Z = np.column_stack((Xb, y))
    q = Z.shape[1]
    out = np.zeros((n_units, q * q))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_units + 1))
    for g in range(n_units):
        Zg = Z[order[bounds[g]:bounds[g + 1]]]
        out[g] = (Zg.T @ Zg).ravel()
    return out


def _ols_from_cross(M: np.ndarray, design: list[int], target: int) -> np.ndarray | None:
    A = M[np.ix_(design, design)]
    if np.linalg.matrix_rank(A) < len(design):
        return None
    return np.linalg.solve(A, M[design, target])


def _mediation_replicates(units: np.ndarray, draws: np.ndarray, k: int, grouped: bool) -> np.ndarray:
    """(a, b, c', c) for each row of ``draws`` (unit indices). ``units`` holds the clusters'
    flattened cross products (``grouped``) or the rows of Z themselves (individual resampling).
    Columns of Z: 0 intercept, 1 x, 2 m, 3..k-1 covariates, k y."""
    n_units = units.shape[0]
    q = k + 1
    cols_a = [0, 1] + list(range(3, k))
    cols_b = list(range(k))
    out = np.full((len(draws), 4), np.nan)
    for r in range(len(draws)):
        counts = np.bincount(draws[r], minlength=n_units).astype(float)
        if grouped:
            M = (counts @ units).reshape(q, q)
        else:
            M = (units * counts[:, None]).T @ units
        fa_m = _ols_from_cross(M, cols_a, 2)
        fa_y = _ols_from_cross(M, cols_a, k)
        fb = _ols_from_cross(M, cols_b, k)
        if fa_m is None or fa_y is None or fb is None:
            continue
        out[r] = (fa_m[1], fb[2], fb[1], fa_y[1])
    return out


def mediation(data: pd.DataFrame, x: str, m: str, y: str, covariates: Sequence[str] = (),
              cluster: str | None = None, n_boot: int = 1000, *,
              rng: np.random.Generator | int, level: float = 0.95, n_jobs: int = 1,
              backend: str | None = None, model_id: str = "mediation") -> MediationResult:
    """Single-mediator mediation by the product of coefficients (H3: x = governance,
    m = participation, y = identity), with a bootstrap that resamples whole clusters.

    Models (OLS): m ~ x + covariates (a), y ~ x + m + covariates (b, c'), y ~ x + covariates
    (c). ``covariates`` are formula terms (``"age"``, ``"C(city)"``). The bootstrap draws
    ``n_boot`` samples of G clusters with replacement (individuals without ``cluster``) and
    refits; the interval is the percentile interval of the replications. All draws are taken
    from ``rng`` (a seed or Generator; required, never the clock) before any fitting, so the
    result does not depend on ``n_jobs`` or the joblib ``backend``. Replications with a rank
    deficient design (x constant in the resample, say) are dropped and counted.
    """
    gen = _as_generator(rng, "mediation")
    spec_id = model_id
    for role, name in (("x", x), ("m", m), ("y", y)):
        if not isinstance(name, str) or name not in data.columns:
            raise _missing_column(spec_id, f"mediation {role}", str(name), list(data.columns))
    if len({x, m, y}) < 3:
        raise _err(spec_id, "x, m and y must be three different variables")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not isinstance(n_boot, int) or n_boot < 2:
        raise _err(spec_id, f"n_boot must be an integer of at least 2, not {n_boot!r}")
    rhs = " + ".join(["1", _quote(x), _quote(m)] + covariates)
    raw_spec = {"id": spec_id, "formula": f"{_quote(y)} ~ {rhs}"}
    if cluster:
        raw_spec["cluster"] = cluster
    spec = parse_spec(raw_spec)
    mf = _model_frame(spec, data)
    frame = mf.frame
    for name in (x, m, y):
        if not (_is_numeric(frame[name]) or pd.api.types.is_bool_dtype(frame[name].dtype)):
            raise _err(spec_id, f"mediation variable {name!r} must be numeric")
    cov_rhs = " + ".join(["1"] + covariates)
    C = _design(spec, frame, cov_rhs)
    xv, mv, yv = (frame[v].to_numpy(float) for v in (x, m, y))
    Cv = C.to_numpy(float)
    Xa = np.column_stack((Cv[:, :1], xv, Cv[:, 1:]))
    Xb = np.column_stack((Cv[:, :1], xv, mv, Cv[:, 1:]))
    names_b = ["Intercept", x, m] + list(C.columns[1:])
    _check_rank(spec_id, pd.DataFrame(Xb, columns=names_b))
    n = len(yv)
    all_rows = np.arange(n)
    point = _mediation_coefs(Xa, Xb, mv, yv, all_rows)

    # analytic standard errors of a, b, c', c
    flags: list[str] = []
    if cluster:
        codes, G = _cluster_codes(frame[cluster].to_numpy())
        if G < 2:
            raise _err(spec_id, f"cluster {cluster!r} has a single value")
        if G < FEW_CLUSTERS:
            flags.append(f"few clusters (G={G}): the cluster bootstrap is unreliable")
        kind = "cluster"
    else:
        codes, G = np.arange(n), None
        kind = "classical"

    def coef_se(design: np.ndarray, target: np.ndarray, j: int) -> float:
        bread = np.linalg.inv(design.T @ design)
        beta = bread @ design.T @ target
        resid = target - design @ beta
        if kind == "cluster":
            V = sandwich(bread, design * resid[:, None], "cluster", codes)
        else:
            V = bread * (resid @ resid) / (n - design.shape[1])
        return float(np.sqrt(V[j, j]))

    se = [coef_se(Xa, mv, 1), coef_se(Xb, yv, 2), coef_se(Xb, yv, 1), coef_se(Xa, yv, 1)]

    n_units = G if G is not None else n
    draws = gen.integers(0, n_units, size=(n_boot, n_units))
    # Resample clusters through their cross products: exact for OLS, and the cost of a replicate
    # no longer grows with the number of respondents.
    grouped = G is not None
    units = _cluster_crossproducts(Xb, yv, codes, n_units) if grouped else np.column_stack((Xb, yv))
    k = Xb.shape[1]
    if n_jobs == 1 and backend is None:
        boot = _mediation_replicates(units, draws, k, grouped)
    else:
        from joblib import Parallel, delayed

        workers = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
        chunks = np.array_split(draws, 4 * workers)
        parts = Parallel(n_jobs=n_jobs, backend=backend)(
            delayed(_mediation_replicates)(units, chunk, k, grouped) for chunk in chunks if len(chunk))
        boot = np.vstack(parts)
    ok = np.all(np.isfinite(boot), axis=1)
    n_failed = int((~ok).sum())
    if n_failed > 0.05 * n_boot:
        flags.append(f"{n_failed} of {n_boot} bootstrap replications failed (rank deficient "
                     "resamples); the interval rests on the rest")
    if ok.sum() < 2:
        raise _err(spec_id, "fewer than two bootstrap replications could be fitted")
    a, b, direct, total = boot[ok].T
    table = {"a": a, "b": b, "direct": direct, "indirect": a * b, "total": total,
             "proportion_mediated": a * b / total}
    estimates = {"a": point[0], "b": point[1], "direct": point[2],
                 "indirect": point[0] * point[1], "total": point[3],
                 "proportion_mediated": point[0] * point[1] / point[3]}
    ses = {"a": se[0], "b": se[1], "direct": se[2], "total": se[3]}
    alpha = 1 - level
    rows = []
    for effect, reps in table.items():
        lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
        rows.append((spec_id, effect, estimates[effect], ses.get(effect, np.nan),
                     float(np.std(reps, ddof=1)), lo, hi, "percentile cluster bootstrap"
                     if G is not None else "percentile bootstrap", kind))
    effects = pd.DataFrame(rows, columns=list(MEDIATION_COLUMNS))
    info = {"model": spec_id, "x": x, "m": m, "y": y, "covariates": covariates,
            "cluster": cluster, "n_obs": n, "n_dropped": mf.n_dropped, "n_clusters": G,
            "n_boot": n_boot, "n_boot_failed": n_failed, "level": level,
            "status": _status(flags)}
    draws_frame = pd.DataFrame(boot, columns=["a", "b", "direct", "total"])
    return MediationResult(model=spec_id, effects=effects, info=info, draws=draws_frame)


# ---------------------------------------------------------------------------------------------
# multiple imputation


def pool_rubin(estimates: Any, variances: Any, df_complete: float = np.inf,
               level: float = 0.95, terms: Sequence[str] | None = None) -> pd.DataFrame:
    """Pool m completed-data estimates with Rubin's rules, parameter by parameter.

    ``estimates`` and ``variances`` are m x p (arrays or DataFrames whose columns are the
    terms). With Q-bar the mean estimate, U-bar the mean within-imputation variance and B the
    between-imputation variance (ddof 1): T = U-bar + (1 + 1/m) B; riv = (1 + 1/m) B / U-bar;
    lambda = (1 + 1/m) B / T; degrees of freedom by Barnard & Rubin (1999) from
    nu_old = (m - 1) / lambda^2 and nu_obs = (nu_com + 1)/(nu_com + 3) nu_com (1 - lambda)
    (nu = nu_old when ``df_complete`` is infinite); fmi = (riv + 2/(nu + 3)) / (1 + riv), as
    R's mice computes them. t intervals and p-values with nu degrees of freedom.
    """
    if isinstance(estimates, pd.DataFrame):
        terms = list(estimates.columns) if terms is None else terms
    Q = np.atleast_2d(np.asarray(estimates, dtype=float))
    U = np.atleast_2d(np.asarray(variances, dtype=float))
    if Q.shape != U.shape:
        raise PipelineError(f"pool_rubin: estimates {Q.shape} and variances {U.shape} differ in "
                            "shape")
    m, p = Q.shape
    if m < 2:
        raise PipelineError("pool_rubin needs at least two imputations")
    terms = [f"p{j}" for j in range(p)] if terms is None else list(terms)
    qbar = Q.mean(axis=0)
    ubar = U.mean(axis=0)
    B = Q.var(axis=0, ddof=1)
    T = ubar + (1 + 1 / m) * B
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = (1 + 1 / m) * B / T
        riv = (1 + 1 / m) * B / ubar
        nu_old = np.where(lam > 0, (m - 1) / lam ** 2, np.inf)
        if np.isfinite(df_complete):
            nu_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
            nu = np.where(np.isinf(nu_old), nu_obs, 1 / (1 / nu_old + 1 / nu_obs))
        else:
            nu = nu_old
        fmi = (riv + 2 / (nu + 3)) / (1 + riv)
        se = np.sqrt(T)
        stat = qbar / se
    p_value = 2 * stats.t.sf(np.abs(stat), nu)
    q = stats.t.ppf(0.5 + level / 2, nu)
    return pd.DataFrame({
        "term": terms, "estimate": qbar, "std_error": se, "statistic": stat, "p_value": p_value,
        "conf_low": qbar - q * se, "conf_high": qbar + q * se, "within_var": ubar,
        "between_var": B, "total_var": T, "df": nu, "riv": riv, "lambda": lam, "fmi": fmi,
        "m": m,
    })


def _spawn(seed: np.random.Generator | int | np.random.SeedSequence, m: int,
           what: str) -> list[np.random.Generator]:
    if isinstance(seed, np.random.Generator):
        return seed.spawn(m)
    if isinstance(seed, np.random.SeedSequence):
        return [np.random.default_rng(s) for s in seed.spawn(m)]
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(m)]
    raise PipelineError(f"{what} needs a seed (an int) or a numpy Generator, not {seed!r}",
                        "pass the seed from params.yaml; the clock is never used")


def _pmm(X: np.ndarray, y: np.ndarray, miss: np.ndarray, donors: int,
         rng: np.random.Generator) -> np.ndarray:
    """Predictive mean matching (mice's default: Bayesian linear regression draw, type-1
    matching): values for the missing rows, each an observed value of a donor drawn among the
    ``donors`` observed rows whose predicted mean is closest to the missing row's draw."""
    Xo, yo, Xm = X[~miss], y[~miss], X[miss]
    XtX = Xo.T @ Xo
    XtX = XtX + np.diag(np.diag(XtX)) * 1e-5  # mice's ridge
    inv = np.linalg.inv(XtX)
    beta = inv @ (Xo.T @ yo)
    resid = yo - Xo @ beta
    df = max(len(yo) - X.shape[1], 1)
    sigma = math.sqrt(float(resid @ resid) / rng.chisquare(df))
    chol = np.linalg.cholesky((inv + inv.T) / 2)
    beta_star = beta + sigma * (chol @ rng.standard_normal(X.shape[1]))
    yhat_obs = Xo @ beta
    yhat_mis = Xm @ beta_star
    order = np.argsort(yhat_obs, kind="stable")
    sorted_hat = yhat_obs[order]
    d = min(donors, len(yo))
    pos = np.searchsorted(sorted_hat, yhat_mis)
    window = pos[:, None] + np.arange(-d, d)[None, :]
    window = np.clip(window, 0, len(yo) - 1)
    dist = np.abs(sorted_hat[window] - yhat_mis[:, None])
    nearest = np.take_along_axis(window, np.argsort(dist, axis=1, kind="stable")[:, :d], axis=1)
    pick = nearest[np.arange(len(yhat_mis)), rng.integers(0, d, size=len(yhat_mis))]
    return yo[order[pick]]


def _impute_chain(gen: np.random.Generator, numeric: dict[str, np.ndarray], miss: dict[str, np.ndarray],
                  order: list[str], nominal_block: np.ndarray, n_iter: int, donors: int) -> dict[str, np.ndarray]:
    """One chain of chained equations: the completed values of the imputed variables."""
    n = len(nominal_block)
    current = {name: v.copy() for name, v in numeric.items()}
    for name in order:
        observed = current[name][~miss[name]]
        current[name][miss[name]] = gen.choice(observed, size=int(miss[name].sum()))
    for _ in range(n_iter):
        for name in order:
            others = [current[o] for o in numeric if o != name]
            X = np.column_stack([np.ones(n), *others, nominal_block])
            sd = X[:, 1:].std(axis=0)
            keep = np.concatenate(([True], sd > 0))
            X = X[:, keep]
            current[name][miss[name]] = _pmm(X, current[name], miss[name], donors, gen)
    return {name: current[name] for name in order}


def impute_chained(data: pd.DataFrame, variables: Sequence[str], m: int = 20, *,
                   seed: np.random.Generator | int | np.random.SeedSequence,
                   n_iter: int = 10, donors: int = 5, n_jobs: int = 1,
                   parallel: ParallelSettings | None = None) -> list[pd.DataFrame]:
    """``m`` completed copies of ``data`` by chained equations with predictive mean matching.

    Every variable in ``variables`` predicts every other; those with missing values are imputed,
    in order of increasing missingness, ``n_iter`` cycles after a start from random observed
    values. Numeric, boolean and ordered categorical variables are imputed (PMM keeps observed
    values only, so codes stay codes); unordered categorical variables may be predictors when
    complete. Each imputation is its own chain with its own child of ``seed`` (SeedSequence
    spawning), so the result depends on the seed only, not on ``n_jobs`` (chains run in that
    many local worker processes) nor on ``parallel`` (:mod:`pipeline.core.parallel` settings, e.g. a
    Dask cluster; they replace ``n_jobs`` when given). Other columns are copied unchanged.

    An own loop rather than statsmodels' MICEData, which drops rows missing every variable
    (renumbering the rest) and has no ordered categoricals; the algorithm is mice's ``pmm``
    (ridge 1e-5, a Bayesian regression draw per imputation and cycle, random choice among the
    ``donors`` closest observed predictions).
    """
    if not isinstance(data, pd.DataFrame):
        raise PipelineError(f"impute_chained needs a DataFrame, not {type(data).__name__}")
    variables = list(dict.fromkeys(variables))
    for name in variables:
        if name not in data.columns:
            raise _missing_column("imputation", "variable", name, list(data.columns))
    if not isinstance(m, int) or m < 1:
        raise PipelineError(f"the number of imputations must be a positive integer, not {m!r}")
    n = len(data)
    numeric: dict[str, np.ndarray] = {}
    restore: dict[str, Any] = {}
    nominal: list[np.ndarray] = []
    for name in variables:
        s = data[name]
        if isinstance(s.dtype, pd.CategoricalDtype) and s.dtype.ordered:
            codes = s.cat.codes.to_numpy(float)
            codes[codes < 0] = np.nan
            numeric[name] = codes
            restore[name] = s.dtype
        elif pd.api.types.is_bool_dtype(s.dtype):
            numeric[name] = s.astype("float64").to_numpy()
            restore[name] = "bool"
        elif pd.api.types.is_numeric_dtype(s.dtype):
            numeric[name] = s.astype("float64").to_numpy()
            restore[name] = s.dtype
        else:
            if s.isna().any():
                raise PipelineError(f"imputation: categorical variable {name!r} has missing "
                                    "values and no order",
                                    "code it numerically (or as an ordered categorical), or "
                                    "leave it out of the imputation model")
            dummies = pd.get_dummies(s, drop_first=True, dtype=float).to_numpy()
            if dummies.shape[1]:
                nominal.append(dummies)
    miss = {name: np.isnan(v) for name, v in numeric.items()}
    for name, mask in miss.items():
        if mask.all():
            raise PipelineError(f"imputation: variable {name!r} has no observed value")
    order = sorted((v for v in numeric if miss[v].any()), key=lambda v: miss[v].sum())
    nominal_block = np.column_stack(nominal) if nominal else np.empty((n, 0))
    gens = _spawn(seed, m, "multiple imputation")
    chain = partial(_impute_chain, numeric=numeric, miss=miss, order=order, nominal_block=nominal_block,
                    n_iter=n_iter, donors=donors)
    chains = run_tasks(chain, gens, parallel if parallel is not None else as_settings(n_jobs))
    completed = []
    for current in chains:
        out = data.copy()
        for name in order:
            values = current[name]
            kind = restore[name]
            if isinstance(kind, pd.CategoricalDtype):
                out[name] = pd.Categorical.from_codes(values.astype(int), dtype=kind)
            elif kind == "bool":
                out[name] = values.astype(bool)
            else:
                out[name] = values
        completed.append(out)
    return completed


@dataclass(frozen=True, eq=False)
class MIResult:
    """A model fitted to m imputed datasets and pooled with Rubin's rules, as data.

    ``pooled``: one row per term (columns :data:`POOLED_COLUMNS`). ``fit``: model, estimator
    ("mi+" the base estimator), m, n_iter, donors, n_obs, n_incomplete_rows, cov_type, status.
    ``complete_case``: the same model on the complete rows only, to print beside it (None, with
    a note in ``status``, when it cannot be fitted).
    ``imputation_fits``: the coefficient rows of every completed-data fit (column
    ``imputation``). ``missing``: variable, n_missing, share_missing of the imputed variables.
    """

    model: str
    pooled: pd.DataFrame
    fit: dict[str, Any]
    complete_case: ModelResult | None
    imputation_fits: pd.DataFrame
    missing: pd.DataFrame


@dataclass(frozen=True)
class _ImputationFit:
    """What pooling needs from one completed-data fit (picklable, unlike a ModelResult)."""

    params: pd.Series
    vcov: pd.DataFrame
    fit: dict[str, Any]
    coefficients: pd.DataFrame

    @property
    def status(self) -> str:
        return self.fit["status"]

    @classmethod
    def of(cls, result: "ModelResult") -> "_ImputationFit":
        return cls(result.params, result.vcov, result.fit, result.coefficients)


def _fit_for_pooling(spec: ModelSpec, data: pd.DataFrame) -> _ImputationFit:
    return _ImputationFit.of(fit_model(spec, data))


def fit_imputed(spec: Mapping[str, Any] | ModelSpec, data: pd.DataFrame, *, m: int = 20,
                seed: np.random.Generator | int | np.random.SeedSequence, n_iter: int = 10,
                donors: int = 5, auxiliary: Sequence[str] = (), n_jobs: int = 1,
                parallel: ParallelSettings | None = None) -> MIResult:
    """Multiple imputation of item nonresponse: impute the model's variables (outcome, formula
    variables, random slopes) plus ``auxiliary`` ones by :func:`impute_chained`, fit ``spec``
    to each completed dataset, pool with :func:`pool_rubin`, and fit the complete-case model
    beside it.

    Cluster, grouping and weight variables must be complete and are not imputation predictors.
    Interactions and transformations are computed from the imputed variables when each model is
    fitted ("impute, then transform"). The complete-data degrees of freedom for Barnard-Rubin are
    the model's t degrees of freedom, else n - k (as mice uses df.residual). The chains and the
    completed-data fits run on ``n_jobs`` local processes, or where ``parallel`` says
    (:mod:`pipeline.core.parallel`); the result is the same.
    """
    spec = parse_spec(spec)
    if not isinstance(data, pd.DataFrame):
        raise _err(spec.id, f"data must be a pandas DataFrame, not {type(data).__name__}")
    rhs_vars = formula_variables(spec.rhs, list(data.columns), spec.id)
    variables = list(dict.fromkeys([spec.outcome, *rhs_vars, *spec.slopes, *auxiliary]))
    for name in variables:
        if name not in data.columns:
            raise _missing_column(spec.id, "variable", name, list(data.columns))
    design = {c for c in (spec.cluster, spec.group, spec.weights) if c}
    variables = [v for v in variables if v not in design]
    try:
        complete_case: ModelResult | None = fit_model(spec, data)
        cc_note = None
    except PipelineError as exc:
        complete_case, cc_note = None, f"complete-case fit failed: {exc.message}"
    settings = parallel if parallel is not None else as_settings(n_jobs)
    completed = impute_chained(data, variables, m, seed=seed, n_iter=n_iter, donors=donors, parallel=settings)
    fits = run_tasks(partial(_fit_for_pooling, spec), completed, settings)
    terms = list(fits[0].params.index)
    for j, f in enumerate(fits):
        if list(f.params.index) != terms:
            raise _err(spec.id, f"imputation {j + 1} gives terms {list(f.params.index)}, the first "
                       f"gives {terms}", "a category is missing from an imputed dataset")
    est = np.vstack([f.params.to_numpy(float) for f in fits])
    var = np.vstack([np.diag(f.vcov.to_numpy(float)) for f in fits])
    first = fits[0].fit
    df_com = first["t_df"] if first["t_df"] is not None else first["n_obs"] - len(terms)
    pooled = pool_rubin(est, var, df_complete=df_com, level=spec.conf_level, terms=terms)
    pooled.insert(0, "model", spec.id)
    pooled["cov_type"] = spec.covariance
    pooled = pooled[list(POOLED_COLUMNS)]
    flagged = [j + 1 for j, f in enumerate(fits) if f.status != STATUS_OK]
    flags = [f"{len(flagged)} of {m} imputations flagged (imputation {flagged[0]}: "
             f"{fits[flagged[0] - 1].status})"] if flagged else []
    if cc_note:
        flags.append(cc_note)
    n_missing = data[variables].isna().sum()
    missing = pd.DataFrame({"variable": variables, "n_missing": n_missing.to_numpy(int),
                            "share_missing": (n_missing / len(data)).to_numpy(float)})
    fit = {"model": spec.id, "estimator": f"mi+{spec.estimator}", "family": spec.family,
           "m": m, "n_iter": n_iter, "donors": donors, "n_obs": first["n_obs"],
           "n_obs_complete_case": complete_case.fit["n_obs"] if complete_case else 0,
           "n_incomplete_rows": int(data[variables].isna().any(axis=1).sum()),
           "cov_type": spec.covariance, "df_complete": df_com, "status": _status(flags)}
    imputation_fits = pd.concat(
        [f.coefficients.assign(imputation=j + 1) for j, f in enumerate(fits)], ignore_index=True)
    return MIResult(model=spec.id, pooled=pooled, fit=fit, complete_case=complete_case,
                    imputation_fits=imputation_fits, missing=missing)

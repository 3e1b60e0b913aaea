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
    cluster: school
    weights: weight                       # with weight_kind: survey | precision | frequency
    random: {group: school, slopes: [ses]}   # estimator mixed; or just "school"
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
* **Binary logit** (statsmodels GLM Binomial's IRLS, its numbers bit for bit, without its objects:
  :mod:`pipeline.stats.leastsq`, as for OLS/WLS). (Quasi-)complete separation is an error, found by
  a linear programme (Konis 2007, as R's detectseparation) unless the fit's probabilities
  prove there is none (Stiemke's lemma, :func:`pipeline.stats.logit.overlap_certificate`).
* **Standardised coefficients** (``standardize: true``): the outcome (linear family only) and
  every numeric predictor with more than two distinct values are z-scored (mean 0, SD 1 with
  ddof=1, unweighted, over the estimation sample) before the formula is evaluated, so products
  are products of z-scores; 0/1 indicators, booleans and categorical predictors are left as
  they are. :func:`predict_grid` takes grid values in original units and returns linear
  predictions in the outcome's original units.
* **Missing values**: rows missing the outcome or a formula variable are dropped (listwise;
  ``fit["n_dropped"]`` counts them). A missing cluster, group or weight is an error.

Modules: :mod:`pipeline.stats.spec` (specifications), :mod:`pipeline.stats.frame` (model frame
and design matrices), :mod:`pipeline.stats.covariance` (sandwich, CR2, tables),
:mod:`pipeline.stats.results`, this one (:func:`fit_model` and OLS/WLS), :mod:`pipeline.stats.leastsq`
(statsmodels' WLS and Binomial GLM computations without their model and results objects),
:mod:`pipeline.stats.mixed`, :mod:`pipeline.stats.ordinal`, :mod:`pipeline.stats.logit`,
:mod:`pipeline.stats.multilevel` (:func:`icc`, :func:`lrt_random_intercept`),
:mod:`pipeline.stats.predict`, :mod:`pipeline.stats.mediation`, :mod:`pipeline.stats.imputation`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipeline.stats.covariance import _cluster_ids, _fit_row, _robust_or_classical, _status, cr2
from pipeline.stats.frame import _design, _Frame, _model_frame, _outcome, _weights
from pipeline.stats.leastsq import wls
from pipeline.stats.logit import _fit_logit
from pipeline.stats.mixed import _fit_mixed
from pipeline.stats.results import ModelResult, _result
from pipeline.stats.spec import ModelSpec, _err, parse_spec


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
        from pipeline.stats.ordinal import _fit_ordered   # statsmodels (~0.5 s to import) only here

        return _fit_ordered(spec, mf)
    return _fit_logit(spec, mf)


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
    res = wls(y, Xv, wts)            # statsmodels' WLS(y, X, weights).fit(), its numbers
    resid = y - Xv @ res.params
    scores = Xv * (wts * resid)[:, None]
    flags: list[str] = []
    clusters = _cluster_ids(spec, frame)
    V, G = _robust_or_classical(spec, res.normalized_cov, scores, res.cov, clusters, flags)
    t_df = (G - 1) if G is not None else (n - k)
    term_df: float | np.ndarray = t_df
    if spec.covariance == "cluster_cr2":
        V, term_df = cr2(Xv, resid, clusters[0], w)
        t_df = float(np.min(term_df))
    survey = spec.weights is not None and spec.weight_kind == "survey"
    llf = np.nan if survey else res.llf
    fit = _fit_row(
        spec, n_obs=n, n_dropped=mf.n_dropped, n_clusters=G, r2=res.rsquared,
        adj_r2=res.rsquared_adj, loglik=llf, n_params=k + 1,
        aic=-2 * llf + 2 * (k + 1), bic=-2 * llf + math.log(n) * (k + 1),
        sigma=float(np.sqrt(res.scale)), t_df=t_df, converged=True, status=_status(flags))
    params = pd.Series(res.params, index=X.columns)
    return _result(spec, mf, X.design_info, params, V, term_df, fit)

"""Confirmatory factor analysis by maximum likelihood, single- and multi-group, as lavaan fits it.

:func:`fit_cfa` fits a simple-structure measurement model (each factor measured by a list of
items) to the rows of a :class:`pandas.DataFrame`, optionally in several groups with equality
constraints across groups (measurement invariance). It follows the defaults of
``lavaan::cfa()`` (lavaan 0.6):

* estimator ML with ``likelihood = "normal"``: the sample covariance matrix of each group uses
  the divisor N_g (not N_g - 1), the discrepancy of group g is
  ``F_g = log|Sigma| + tr(S Sigma^-1) - log|S| - p + (m - mu)' Sigma^-1 (m - mu)`` (the mean term
  only when a mean structure is fitted), lavaan's ``fmin`` is ``sum_g (N_g / N) F_g / 2`` and the
  test statistic is ``chisq = 2 N fmin = sum_g N_g F_g``;
* identification by marker variable: the first loading of each factor is fixed to 1; factor
  variances and covariances and residual variances are free (residual variances are not
  bounded, so a Heywood case shows up as a negative variance, flagged in ``warnings``);
* single group: no mean structure unless ``meanstructure=True``; several groups: a mean
  structure with free intercepts in every group and latent means fixed to 0, except that with
  ``"intercepts"`` in ``equal`` the latent means of groups 2, 3, ... are free (lavaan's
  ``group.equal``); ``free_intercepts`` releases the equality of those items' intercepts
  (lavaan's ``group.partial = "item ~ 1"``);
* standard errors from the expected information matrix evaluated at the estimates
  (``information = "expected"``), equality constraints handled by sharing one parameter;
* groups are ordered as they first appear in the data (as lavaan orders them);
* fit measures as ``lavaan::fitMeasures`` names them (see :data:`FIT_MEASURES`): the baseline
  is the independence model fitted in each group without constraints; RMSEA uses the total N
  and is multiplied by sqrt(G) with G groups; the RMSEA interval is 90%; ``srmr`` is lavaan's
  ``srmr`` (``srmr_bentler``: residuals of the covariances, and of the means when the model has
  a mean structure, scaled by the observed standard deviations, root mean square over the
  non-duplicated elements, averaged over groups with weights N_g / N);
  ``srmr_bentler_nomean`` leaves the means out; ``logl``, ``aic``, ``bic`` are those of the
  normal likelihood (without a mean structure the means are the sample means and do not count
  as parameters, as in lavaan).

Missing data: listwise deletion over the items and the group column (lavaan's default
``missing = "listwise"``); ``n_by_group`` reports the cases used, ``n_dropped`` those dropped.

The optimiser is :func:`scipy.optimize.minimize` (``method="trust-exact"``) on the free-parameter
vector with the analytic gradient of ``fmin`` and the expected information as its curvature
(Fisher scoring in a trust region), followed by plain Fisher-scoring steps while they still
shrink the gradient (and BFGS as a fallback). Convergence is judged by the largest absolute
gradient element (:data:`GRADIENT_TOLERANCE`), not by the optimiser's own message. The
estimates are tighter than lavaan's default nlminb ones (which stop at a gradient of ~1e-6,
up to ~1e-4 relative from the optimum for some parameters); the reference script therefore
refits lavaan with a tight BFGS. Under CPU contention a multi-threaded BLAS slows the many
small matrix products here by an order of magnitude; ``OPENBLAS_NUM_THREADS=1`` avoids that.

Degenerate input never raises and never yields a number that looks valid: the result carries
``status`` (one of the ``STATUS_*`` constants) and a ``message``; unless ``status == "ok"`` the
fit measures are NaN and the estimates table is empty. An improper solution (negative residual
variance, non-positive-definite factor covariance matrix) is reported as lavaan reports it, with
``heywood=True`` and a warning. Calls that are not a model at all (unknown columns,
non-numeric items, unknown constraint names) raise :class:`~pipeline.errors.PipelineError`.

Beside it: :mod:`pipeline.stats.validity` (:func:`composite_reliability`: CR and AVE per factor
from the standardised solution; :func:`fornell_larcker`; :func:`htmt`: heterotrait-monotrait ratio
from an item correlation matrix) and :mod:`pipeline.stats.invariance` (:func:`lr_test`: lavaan's
``lavTestLRT`` for ML, the plain difference of the chi-squares; :func:`measurement_invariance`:
configural, metric, scalar and a partial-scalar search). The parameter table, model matrices and
objective are in :mod:`pipeline.stats.cfa_model`, the fit measures and the estimates table in
:mod:`pipeline.stats.cfa_measures`.

Reference values: ``tests/reference/lavaan_cfa.R`` (lavaan 0.6-14 on lavaan's
``HolzingerSwineford1939``); ``tests/test_cfa.py`` checks them to 1e-4 relative.
"""
from __future__ import annotations

import math
import warnings as _warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, optimize

from pipeline.core.digits import snap
from pipeline.core.errors import PipelineError
from pipeline.stats.cfa_measures import (
    ESTIMATE_COLUMNS, FIT_MEASURES, _estimates_table, _fit_measures,
)
from pipeline.stats.cfa_model import (
    _build_spec, _Model, _Moments, _normalise_factors, _Objective, _Spec,
)

STATUS_OK = "ok"
STATUS_NOT_IDENTIFIED = "not_identified"  # a factor with one indicator, df < 0, singular information
STATUS_CONSTANT_ITEM = "constant_item"  # an item without variance (in some group)
STATUS_TOO_FEW_CASES = "too_few_cases"  # a group with fewer than min_group_n complete cases
STATUS_INVALID_VALUES = "invalid_values"  # +-inf among the item scores
STATUS_NOT_POSITIVE_DEFINITE = "not_positive_definite"  # a sample covariance matrix is singular
STATUS_NOT_CONVERGED = "not_converged"

SINGLE_GROUP = "all"  # the group label of a single-group model

CONSTRAINTS = ("loadings", "intercepts", "residuals", "lv.variances", "lv.covariances", "means")

GRADIENT_TOLERANCE = 1e-7  # largest |d fmin / d theta| accepted as converged


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class CFAResult:
    """One fitted (or failed) confirmatory factor model; see :func:`fit_cfa`.

    ``fit`` maps lavaan's fit-measure names (:data:`FIT_MEASURES`) to numbers. ``estimates``
    has one row per parameter (free and fixed) with the columns :data:`ESTIMATE_COLUMNS`:
    ``op`` is ``"=~"`` (loading), ``"~~"`` (variance or covariance) or ``"~1"`` (intercept or
    latent mean, ``rhs`` empty); ``group`` is the group label (:data:`SINGLE_GROUP` without
    groups); ``se`` is 0 and ``z``/``pvalue`` NaN for fixed parameters (as in lavaan);
    ``std_all`` is lavaan's ``std.all``; parameters held equal across groups share ``par_id``.
    ``n_by_group`` is the number of complete cases used per group; ``heywood`` is true when a
    residual variance is negative or a factor covariance matrix is not positive definite.
    ``vcov`` is the covariance matrix of the free parameters (rows and columns by ``par_id``).
    """

    status: str
    message: str
    factors: tuple[str, ...]
    items: tuple[str, ...]
    group: str | None
    groups: tuple[str, ...]
    equal: tuple[str, ...]
    free_intercepts: tuple[str, ...]
    meanstructure: bool
    n_by_group: dict[str, int]
    n_dropped: int
    converged: bool = False
    iterations: int = 0
    fit: dict[str, float] = field(default_factory=dict, compare=False)
    estimates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(ESTIMATE_COLUMNS)),
                                    repr=False, compare=False)
    indicators: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)
    vcov: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False, compare=False)
    heywood: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def __getitem__(self, measure: str) -> float:
        """A fit measure by its lavaan name, e.g. ``result["cfi"]``."""
        return self.fit.get(measure, np.nan)


# ---------------------------------------------------------------------------------------------
# data


def sample_moments(data: pd.DataFrame, items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector and covariance matrix with the N divisor (lavaan's ``sampstat``), complete rows."""
    x = data[list(items)].to_numpy(dtype=float, na_value=np.nan)
    x = x[~np.isnan(x).any(axis=1)]
    mean = x.mean(axis=0)
    d = x - mean
    return mean, d.T @ d / len(x)


def _check_columns(data: pd.DataFrame, items: tuple[str, ...], group: str | None) -> None:
    if not isinstance(data, pd.DataFrame):
        raise PipelineError(f"fit_cfa needs a DataFrame, got {type(data).__name__}")
    cols = [str(c) for c in data.columns]
    if len(set(cols)) != len(cols):
        raise PipelineError("the data have duplicated column names")
    missing = [i for i in items if i not in cols]
    if missing:
        raise PipelineError(f"items {missing} are not columns of the data")
    if group is not None and group not in cols:
        raise PipelineError(f"group column {group!r} is not in the data")
    if group is not None and group in items:
        raise PipelineError(f"{group!r} is both the group column and an item")
    bad = [i for i in items
           if not (pd.api.types.is_numeric_dtype(data[i]) and not pd.api.types.is_bool_dtype(data[i]))]
    if bad:
        raise PipelineError(f"items {bad} are not numeric", hint="recode the answers to numbers first")


def _prepare(data: pd.DataFrame, items: tuple[str, ...], group: str | None
             ) -> tuple[list[str], list[np.ndarray], int]:
    x = data[list(items)].to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(x).any(axis=1)
    if group is None:
        return [SINGLE_GROUP], [x[keep]], int((~keep).sum())
    gcol = data[group]
    keep &= gcol.notna().to_numpy()
    labels_all = gcol.astype(str).to_numpy()
    labels = list(dict.fromkeys(labels_all[keep]))
    blocks = [x[keep & (labels_all == lab)] for lab in labels]
    return labels, blocks, int((~keep).sum())


# ---------------------------------------------------------------------------------------------
# fitting


def fit_cfa(
    data: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    *,
    group: str | None = None,
    equal: Sequence[str] = (),
    free_intercepts: Sequence[str] = (),
    meanstructure: bool | None = None,
    min_group_n: int | None = None,
    max_iter: int = 500,
    start: pd.DataFrame | None = None,
) -> CFAResult:
    """Fit a confirmatory factor model by ML, as ``lavaan::cfa(model, data, group=, group.equal=,
    group.partial=)`` with its defaults.

    ``factors`` maps each factor to its items (the first item is the marker, loading fixed to
    1). ``group`` names a column that splits the rows into groups (in order of first
    appearance). ``equal`` lists the parameter types held equal across groups, among
    :data:`CONSTRAINTS` (lavaan's ``group.equal``): ``()`` configural, ``("loadings",)``
    metric, ``("loadings", "intercepts")`` scalar. ``free_intercepts`` lists items whose
    intercepts are not held equal (lavaan's ``group.partial``). ``meanstructure`` defaults to
    True with groups and False without. ``min_group_n`` (default: number of items + 1) is the
    fewest complete cases a group may have. ``max_iter`` caps the optimiser's iterations.
    ``start`` may be the ``estimates`` table of an earlier fit of a related model (same items
    and groups): its estimates are the starting values of the parameters it has (matched on
    lhs, op, rhs and group), which saves iterations; the optimum does not depend on it.
    """
    indicators, items = _normalise_factors(factors)
    equal_t, free_t = _constraint_names(equal, free_intercepts, items)
    _check_columns(data, items, group)
    ms = (group is not None) if meanstructure is None else bool(meanstructure)
    labels, blocks, n_dropped = _prepare(data, items, group)
    base = dict(factors=tuple(indicators), items=items, group=group, groups=tuple(labels),
                equal=equal_t, free_intercepts=free_t, meanstructure=ms,
                n_by_group={lab: int(len(b)) for lab, b in zip(labels, blocks)}, n_dropped=n_dropped,
                indicators=indicators)
    try:
        _check_groups(indicators, items, group, labels, blocks, min_group_n)
        mom = _group_moments(items, group, labels, blocks)
        fitted = _estimate(indicators, items, labels, ms, equal_t, free_t, mom, start, max_iter)
    except _Unfittable as exc:
        return CFAResult(status=exc.status, message=exc.message, **base,
                         fit=dict.fromkeys(FIT_MEASURES, np.nan), **exc.fields)
    return CFAResult(status=STATUS_OK, message="", **base, converged=True, **fitted)


class _Unfittable(Exception):
    """The data or the model cannot give estimates: :func:`fit_cfa` returns a result with this
    status and message (and the extra result fields, e.g. ``iterations``) instead of raising."""

    def __init__(self, status: str, message: str, **fields) -> None:
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields


def _constraint_names(equal: Sequence[str], free_intercepts: Sequence[str], items: tuple[str, ...]
                      ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``equal`` and ``free_intercepts`` as tuples without repeats (a single name is one
    entry), checked against :data:`CONSTRAINTS` and the model's items."""
    equal_t = tuple(dict.fromkeys(str(e) for e in ([equal] if isinstance(equal, str) else equal)))
    unknown = [e for e in equal_t if e not in CONSTRAINTS]
    if unknown:
        raise PipelineError(f"unknown equality constraints {unknown}",
                            hint=f"use some of {list(CONSTRAINTS)}")
    free_t = tuple(dict.fromkeys(str(i) for i in ([free_intercepts] if isinstance(free_intercepts, str)
                                                  else free_intercepts)))
    bad_free = [i for i in free_t if i not in items]
    if bad_free:
        raise PipelineError(f"free_intercepts {bad_free} are not items of the model")
    return equal_t, free_t


def _check_groups(indicators: dict[str, tuple[str, ...]], items: tuple[str, ...], group: str | None,
                  labels: list[str], blocks: list[np.ndarray], min_group_n: int | None) -> None:
    """Raise :class:`_Unfittable` for a factor with a single indicator, a group with too few
    complete cases (or none at all) and infinite item scores."""
    p = len(items)
    single = [f for f, its in indicators.items() if len(its) < 2]
    if single:
        raise _Unfittable(STATUS_NOT_IDENTIFIED,
                          f"factors {single} have a single indicator: with a marker loading its variance "
                          "and the item's residual variance are not identified; drop the factor, add items "
                          "or fix the residual variance in a different model")
    min_n = p + 1 if min_group_n is None else int(min_group_n)
    if not labels:
        raise _Unfittable(STATUS_TOO_FEW_CASES, "no complete cases (listwise deletion over the items)")
    small = {lab: len(b) for lab, b in zip(labels, blocks) if len(b) < max(min_n, 2)}
    if small:
        raise _Unfittable(STATUS_TOO_FEW_CASES,
                          f"groups with fewer than {max(min_n, 2)} complete cases: {small}")
    for lab, b in zip(labels, blocks):
        if not np.isfinite(b).all():
            bad = [items[j] for j in np.flatnonzero(~np.isfinite(b).all(axis=0))]
            raise _Unfittable(STATUS_INVALID_VALUES, f"items {bad} have infinite values" + _in_group(group, lab))


def _group_moments(items: tuple[str, ...], group: str | None, labels: list[str],
                   blocks: list[np.ndarray]) -> _Moments:
    """Each group's mean vector and covariance matrix (N divisor) and its log-determinant;
    raises :class:`_Unfittable` for an item without variance or a singular covariance matrix."""
    p = len(items)
    means, covs, logdets = [], [], []
    for lab, b in zip(labels, blocks):
        mean = b.mean(axis=0)
        d = b - mean
        cov = d.T @ d / len(b)
        const = [items[j] for j in range(p) if not np.ptp(b[:, j]) > 0]
        if const:
            raise _Unfittable(STATUS_CONSTANT_ITEM, f"items {const} have no variance" + _in_group(group, lab))
        sign, logdet = np.linalg.slogdet(cov)
        evals = np.linalg.eigvalsh(cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))))
        if sign <= 0 or evals[0] < 1e-10:
            raise _Unfittable(STATUS_NOT_POSITIVE_DEFINITE,
                              "the sample covariance matrix is not positive definite" + _in_group(group, lab)
                              + " (linearly dependent items)")
        means.append(mean)
        covs.append(cov)
        logdets.append(float(logdet))
    return _Moments(tuple(covs), tuple(means), tuple(len(b) for b in blocks), tuple(logdets))


def _estimate(indicators: dict[str, tuple[str, ...]], items: tuple[str, ...], labels: list[str], ms: bool,
              equal_t: tuple[str, ...], free_t: tuple[str, ...], mom: _Moments, start: pd.DataFrame | None,
              max_iter: int) -> dict:
    """Build the model, optimise it and return the fields of a successful :class:`CFAResult`
    (iterations, fit measures, estimates table, vcov, heywood, warnings); raises
    :class:`_Unfittable` for negative df, no convergence or a singular information matrix."""
    p = len(items)
    spec = _build_spec(indicators, items, len(labels), ms, equal_t, free_t)
    n_stats = len(labels) * (p * (p + 1) // 2 + (p if ms else 0))
    df = n_stats - spec.n_free
    if df < 0:
        raise _Unfittable(STATUS_NOT_IDENTIFIED,
                          f"the model has {spec.n_free} free parameters but only {n_stats} sample statistics "
                          f"(df = {df})")
    model = _Model(spec)
    obj = _Objective(model, mom)
    x0 = _start_values(spec, mom)
    if start is not None:
        x0 = _warm_start(x0, spec, labels, start)
    x, converged, iterations = _optimise(obj, x0, max_iter)
    if not converged:
        raise _Unfittable(STATUS_NOT_CONVERGED,
                          f"the optimiser did not converge in {max_iter} iterations (largest gradient "
                          f"element {np.max(np.abs(obj.jac(x))):.3g}); estimates are not reported",
                          iterations=iterations)
    info = obj.information(x)
    evals = np.linalg.eigvalsh(info)
    if evals[0] <= 1e-10 * max(evals[-1], 1e-300):
        raise _Unfittable(STATUS_NOT_IDENTIFIED,
                          "the information matrix is singular at the estimates: the model is not identified "
                          "(e.g. a two-indicator factor that correlates with nothing)",
                          converged=True, iterations=iterations)
    vcov = np.linalg.inv(info) / mom.ntotal
    vcov = (vcov + vcov.T) / 2
    fmin_g = obj.fmin_groups(x)
    fit = _fit_measures(obj, x, fmin_g, mom, spec, df)
    est, heywood, warns = _estimates_table(spec, model, x, vcov, labels)
    return dict(iterations=iterations, fit=fit, estimates=est, vcov=vcov, heywood=heywood, warnings=warns)


def _in_group(group: str | None, label: str) -> str:
    return "" if group is None else f" in group {group}={label!r}"


def _start_values(spec: _Spec, mom: _Moments) -> np.ndarray:
    """lavaan-like simple starts: instrumental-variable loadings from the marker, factor
    variances from the indicator covariances, half the observed variance for residuals,
    observed means for intercepts, zero factor covariances and latent means."""
    item_idx = {it: i for i, it in enumerate(spec.items)}
    sums = np.zeros(spec.n_free)
    counts = np.zeros(spec.n_free)
    for g in range(spec.n_groups):
        s, mean = mom.cov[g], mom.mean[g]
        lam_start: dict[tuple[str, str], float] = {}
        psi_start: dict[str, float] = {}
        for f, its in spec.indicators.items():
            idx = [item_idx[i] for i in its]
            marker = idx[0]
            lams = [1.0]
            for j in idx[1:]:
                ratios = [s[j, k] / s[marker, k] for k in idx if k not in (j, marker)
                          and abs(s[marker, k]) > 1e-8 * math.sqrt(s[marker, marker] * s[k, k])]
                val = float(np.mean(ratios)) if ratios else 1.0
                if not np.isfinite(val) or abs(val) > 10:
                    val = 1.0
                lams.append(val)
            for it, val in zip(its, lams):
                lam_start[(f, it)] = val
            pairs = [s[a, b] / (la * lb) for (a, la) in zip(idx, lams) for (b, lb) in zip(idx, lams) if a < b]
            v = float(np.mean(pairs)) if pairs else 0.05
            psi_start[f] = v if np.isfinite(v) and v > 0.05 * np.min(np.diag(s)[idx]) else 0.05
        for e in spec.entries:
            if e.group != g or e.par < 0:
                continue
            if e.mat == "lambda":
                val = lam_start[(e.lhs, e.rhs)]
            elif e.mat == "theta":
                val = 0.5 * s[e.row, e.row]
            elif e.mat == "psi":
                val = psi_start[e.lhs] if e.row == e.col else 0.0
            elif e.mat == "nu":
                val = mean[e.row]
            else:
                val = 0.0
            sums[e.par] += val
            counts[e.par] += 1
    return sums / np.maximum(counts, 1)


def _warm_start(x0: np.ndarray, spec: _Spec, labels: list[str], start: pd.DataFrame) -> np.ndarray:
    """Starting values from an earlier estimates table, where its parameters match."""
    if not isinstance(start, pd.DataFrame) or not set(ESTIMATE_COLUMNS[:5]) <= set(start.columns):
        raise PipelineError("start must be the estimates table of an earlier fit_cfa result")
    known = {(str(r.lhs), str(r.op), str(r.rhs), str(r.group)): float(r.est)
             for r in start[["lhs", "op", "rhs", "group", "est"]].itertuples(index=False)}
    sums = np.zeros_like(x0)
    counts = np.zeros_like(x0)
    for e in spec.entries:
        if e.par < 0:
            continue
        val = known.get((e.lhs, e.op, e.rhs, labels[e.group]))
        if val is not None and np.isfinite(val):
            sums[e.par] += val
            counts[e.par] += 1
    return np.where(counts > 0, sums / np.maximum(counts, 1), x0)


def _optimise(obj: _Objective, x0: np.ndarray, max_iter: int) -> tuple[np.ndarray, bool, int]:
    """Trust-region Fisher scoring (scipy's trust-exact with the expected information as the
    curvature), then, if needed, BFGS; convergence is the gradient criterion. A converged
    solution is rounded to 8 significant digits (:func:`pipeline.core.digits.snap`) when it is
    still converged there, so every statistic computed from it is the same on every machine."""
    def converged(x: np.ndarray) -> bool:
        g = obj.jac(x)
        return bool(np.all(np.isfinite(g)) and np.max(np.abs(g), initial=0.0) < GRADIENT_TOLERANCE)

    if not np.isfinite(obj.fun(x0)):
        x0 = x0.copy()
        # make the start admissible: inflate residual variances until Sigma is PD
        for _ in range(30):
            for e in obj.model.spec.entries:
                if e.mat == "theta" and e.par >= 0:
                    x0[e.par] *= 1.5
            if np.isfinite(obj.fun(x0)):
                break
    iterations = 0
    x = x0
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        try:
            res = optimize.minimize(obj.fun, x0, jac=obj.jac, hess=obj.hess, method="trust-exact",
                                    options={"gtol": GRADIENT_TOLERANCE * 1e-3, "maxiter": max_iter})
            iterations += int(res.nit)
            if np.isfinite(res.fun):
                x = res.x
        except (ValueError, np.linalg.LinAlgError, linalg.LinAlgError):
            pass
        x, it = _polish(obj, x, max(0, min(50, max_iter - iterations)))
        iterations += it
        if not converged(x) and iterations < max_iter:
            try:
                res = optimize.minimize(obj.fun, x, jac=obj.jac, method="BFGS",
                                        options={"gtol": GRADIENT_TOLERANCE * 1e-2,
                                                 "maxiter": max_iter - iterations})
                iterations += int(res.nit)
                if np.isfinite(res.fun) and res.fun <= obj.fun(x):
                    x = res.x
            except (ValueError, np.linalg.LinAlgError, linalg.LinAlgError):
                pass
    x = np.asarray(x, dtype=float)
    if converged(x) and np.isfinite(obj.fun(snap(x))) and converged(snap(x)):
        x = snap(x)   # where the steps stop depends on the CPU's last digits; 8 digits do not
    return x, converged(x), iterations


def _polish(obj: _Objective, x: np.ndarray, max_steps: int) -> tuple[np.ndarray, int]:
    """Plain Fisher-scoring steps ``x - I^-1 g`` while they shrink the gradient: the trust region
    stops once fmin no longer changes in double precision, the gradient can still be lowered."""
    steps = 0
    if not np.isfinite(obj.fun(x)):
        return x, steps
    g = obj.jac(x)
    gmax = np.max(np.abs(g), initial=0.0)
    while steps < max_steps and gmax > 1e-13:
        try:
            x_new = x - np.linalg.solve(obj.information(x), g)
        except np.linalg.LinAlgError:
            break
        if not np.isfinite(obj.fun(x_new)):
            break
        g_new = obj.jac(x_new)
        g_new_max = np.max(np.abs(g_new), initial=0.0)
        if not g_new_max < gmax:
            break
        x, g, gmax = x_new, g_new, g_new_max
        steps += 1
    return x, steps

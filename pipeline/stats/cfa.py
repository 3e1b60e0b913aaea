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

Also here: :func:`composite_reliability` (CR and AVE per factor from the standardised
solution), :func:`fornell_larcker`, :func:`htmt` (heterotrait-monotrait ratio from an item
correlation matrix), :func:`lr_test` (lavaan's ``lavTestLRT`` for ML: the plain difference of
the chi-squares) and :func:`measurement_invariance` (configural, metric, scalar and a
partial-scalar search).

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
from scipy import linalg, optimize, stats

from pipeline.core.errors import PipelineError

STATUS_OK = "ok"
STATUS_NOT_IDENTIFIED = "not_identified"  # a factor with one indicator, df < 0, singular information
STATUS_CONSTANT_ITEM = "constant_item"  # an item without variance (in some group)
STATUS_TOO_FEW_CASES = "too_few_cases"  # a group with fewer than min_group_n complete cases
STATUS_INVALID_VALUES = "invalid_values"  # +-inf among the item scores
STATUS_NOT_POSITIVE_DEFINITE = "not_positive_definite"  # a sample covariance matrix is singular
STATUS_NOT_CONVERGED = "not_converged"

SINGLE_GROUP = "all"  # the group label of a single-group model

CONSTRAINTS = ("loadings", "intercepts", "residuals", "lv.variances", "lv.covariances", "means")

FIT_MEASURES = (
    "npar", "fmin", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue",
    "cfi", "tli", "logl", "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower",
    "rmsea.ci.upper", "rmsea.pvalue", "srmr", "srmr_bentler_nomean",
)

ESTIMATE_COLUMNS = ("lhs", "op", "rhs", "group", "est", "se", "z", "pvalue", "std_all", "free",
                    "par_id")

GRADIENT_TOLERANCE = 1e-7  # largest |d fmin / d theta| accepted as converged
_RMSEA_CLOSE = 0.05
_RMSEA_LEVEL = 0.90
_NEAR_ZERO = 1e-5  # lavaan leaves elements below this unscaled in the SRMR residuals


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


@dataclass(frozen=True)
class InvarianceResult:
    """The configural / metric / scalar (/ partial scalar) sequence of :func:`measurement_invariance`.

    ``table`` has one row per fitted model in the sequence with its fit measures and the
    comparison with the model it is nested in (``chisq_diff``, ``df_diff``, ``pvalue_diff``,
    ``delta_cfi`` = CFI(this) - CFI(reference), ``delta_rmsea`` = RMSEA(this) -
    RMSEA(reference), ``holds``). ``level`` is the strongest level supported: ``"none"`` (the
    configural model failed), ``"configural"``, ``"metric"``, ``"partial_scalar"`` or
    ``"scalar"``. ``freed_intercepts`` are the items whose intercepts the partial search
    released (in order), ``search`` one row per candidate refit (``step``, ``item``, ``chisq``,
    ``chisq_drop`` relative to the model of the previous step, ``status``, ``chosen``).
    """

    status: str
    message: str
    level: str
    models: dict[str, CFAResult] = field(repr=False, compare=False)
    table: pd.DataFrame = field(repr=False, compare=False)
    freed_intercepts: tuple[str, ...] = ()
    search: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


# ---------------------------------------------------------------------------------------------
# model specification


@dataclass(frozen=True)
class _Entry:
    """One row of the parameter table (lavaan's partable)."""

    group: int
    op: str
    lhs: str
    rhs: str
    mat: str  # lambda, theta, psi, nu, alpha
    row: int
    col: int
    par: int  # index into the free-parameter vector, -1 when fixed
    value: float  # the fixed value (ignored when free)


@dataclass(frozen=True)
class _Spec:
    factors: tuple[str, ...]
    items: tuple[str, ...]
    indicators: dict[str, tuple[str, ...]]
    n_groups: int
    meanstructure: bool
    entries: tuple[_Entry, ...]
    n_free: int


def _normalise_factors(factors: Mapping[str, Sequence[str]]
                       ) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    if not isinstance(factors, Mapping) or not factors:
        raise PipelineError("a CFA model needs a mapping of factor name -> list of items",
                            hint='e.g. {"visual": ["x1", "x2", "x3"]}')
    indicators: dict[str, tuple[str, ...]] = {}
    for f, its in factors.items():
        if isinstance(its, str) or not isinstance(its, Sequence):
            raise PipelineError(f"the items of factor {f!r} must be a list of column names")
        its = tuple(str(i) for i in its)
        if not its:
            raise PipelineError(f"factor {f!r} has no items")
        if len(set(its)) != len(its):
            raise PipelineError(f"factor {f!r} lists an item more than once: {list(its)}")
        indicators[str(f)] = its
    items = tuple(dict.fromkeys(i for its in indicators.values() for i in its))
    clash = sorted(set(indicators) & set(items))
    if clash:
        raise PipelineError(f"names {clash} are used both as a factor and as an item")
    return indicators, items


def _build_spec(indicators: dict[str, tuple[str, ...]], items: tuple[str, ...], n_groups: int,
                meanstructure: bool, equal: tuple[str, ...], free_intercepts: tuple[str, ...]) -> _Spec:
    factors = tuple(indicators)
    item_idx = {it: i for i, it in enumerate(items)}
    ids: dict[tuple, int] = {}

    def pid(shared: bool, g: int, *key: object) -> int:
        k = key if shared else (g, *key)
        return ids.setdefault(k, len(ids))

    latent_means_free = "intercepts" in equal and "means" not in equal
    entries: list[_Entry] = []
    for g in range(n_groups):
        for k, f in enumerate(factors):
            for j, it in enumerate(indicators[f]):
                i = item_idx[it]
                if j == 0:
                    entries.append(_Entry(g, "=~", f, it, "lambda", i, k, -1, 1.0))
                else:
                    entries.append(_Entry(g, "=~", f, it, "lambda", i, k,
                                          pid("loadings" in equal, g, "lambda", i, k), np.nan))
        for i, it in enumerate(items):
            entries.append(_Entry(g, "~~", it, it, "theta", i, i,
                                  pid("residuals" in equal, g, "theta", i), np.nan))
        for k, f in enumerate(factors):
            entries.append(_Entry(g, "~~", f, f, "psi", k, k,
                                  pid("lv.variances" in equal, g, "psi", k, k), np.nan))
        for k, f in enumerate(factors):
            for l in range(k + 1, len(factors)):
                entries.append(_Entry(g, "~~", f, factors[l], "psi", k, l,
                                      pid("lv.covariances" in equal, g, "psi", k, l), np.nan))
        if meanstructure:
            for i, it in enumerate(items):
                shared = "intercepts" in equal and it not in free_intercepts
                entries.append(_Entry(g, "~1", it, "", "nu", i, 0, pid(shared, g, "nu", i), np.nan))
            for k, f in enumerate(factors):
                if g > 0 and latent_means_free:
                    entries.append(_Entry(g, "~1", f, "", "alpha", k, 0, pid(False, g, "alpha", k), np.nan))
                else:
                    entries.append(_Entry(g, "~1", f, "", "alpha", k, 0, -1, 0.0))
    return _Spec(factors, items, indicators, n_groups, meanstructure, tuple(entries), len(ids))


class _Model:
    """Maps the free-parameter vector to the model matrices and moments of each group."""

    def __init__(self, spec: _Spec):
        self.spec = spec
        self.p, self.m = len(spec.items), len(spec.factors)
        self.templates = []
        self.free = []  # per group: dict mat -> (rows, cols, par ids)
        for g in range(spec.n_groups):
            t = {"lambda": np.zeros((self.p, self.m)), "theta": np.zeros((self.p, self.p)),
                 "psi": np.zeros((self.m, self.m)), "nu": np.zeros(self.p), "alpha": np.zeros(self.m)}
            fr: dict[str, list[list[int]]] = {k: [[], [], []] for k in t}
            for e in spec.entries:
                if e.group != g:
                    continue
                if e.par < 0:
                    if e.mat in ("nu", "alpha"):
                        t[e.mat][e.row] = e.value
                    else:
                        t[e.mat][e.row, e.col] = e.value
                        if e.mat in ("psi", "theta"):
                            t[e.mat][e.col, e.row] = e.value
                else:
                    fr[e.mat][0].append(e.row)
                    fr[e.mat][1].append(e.col)
                    fr[e.mat][2].append(e.par)
            self.templates.append(t)
            self.free.append({k: tuple(np.asarray(v, dtype=int) for v in lists) for k, lists in fr.items()})

    def matrices(self, x: np.ndarray, g: int) -> dict[str, np.ndarray]:
        mats = {k: v.copy() for k, v in self.templates[g].items()}
        for k, (r, c, ids) in self.free[g].items():
            if not len(ids):
                continue
            if k in ("nu", "alpha"):
                mats[k][r] = x[ids]
            else:
                mats[k][r, c] = x[ids]
                if k in ("psi", "theta"):
                    mats[k][c, r] = x[ids]
        return mats

    @staticmethod
    def implied(mats: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        lam, psi = mats["lambda"], mats["psi"]
        sigma = lam @ psi @ lam.T + mats["theta"]
        sigma = (sigma + sigma.T) / 2
        mu = mats["nu"] + lam @ mats["alpha"]
        return sigma, mu


@dataclass(frozen=True)
class _Moments:
    cov: tuple[np.ndarray, ...]
    mean: tuple[np.ndarray, ...]
    n: tuple[int, ...]
    logdet: tuple[float, ...]

    @property
    def ntotal(self) -> int:
        return int(sum(self.n))


class _Objective:
    """lavaan's ``fmin`` = sum_g (N_g / N) F_ML,g / 2, its gradient and expected information."""

    def __init__(self, model: _Model, moments: _Moments):
        self.model, self.mom = model, moments
        self.w = np.asarray(moments.n, dtype=float) / moments.ntotal
        self._cache_x: bytes | None = None
        self._cache: list | None = None

    def _state(self, x: np.ndarray):
        key = x.tobytes()
        if key == self._cache_x:
            return self._cache
        out = []
        for g in range(self.model.spec.n_groups):
            mats = self.model.matrices(x, g)
            sigma, mu = self.model.implied(mats)
            try:
                c = linalg.cho_factor(sigma, lower=True, check_finite=True)
            except (linalg.LinAlgError, ValueError):
                out = None
                break
            inv = linalg.cho_solve(c, np.eye(self.model.p))
            logdet = 2.0 * float(np.sum(np.log(np.diag(c[0]))))
            out.append((mats, sigma, mu, inv, logdet))
        self._cache_x, self._cache = key, out
        return out

    def fmin_groups(self, x: np.ndarray) -> np.ndarray | None:
        """F_ML,g per group (not halved, not weighted); None if an implied Sigma is not PD."""
        st = self._state(x)
        if st is None:
            return None
        p = self.model.p
        f = np.empty(len(st))
        for g, (mats, sigma, mu, inv, logdet) in enumerate(st):
            s = self.mom.cov[g]
            val = logdet + float(np.sum(s * inv)) - self.mom.logdet[g] - p
            if self.model.spec.meanstructure:
                d = self.mom.mean[g] - mu
                val += float(d @ inv @ d)
            f[g] = val
        return f

    def fun(self, x: np.ndarray) -> float:
        f = self.fmin_groups(x)
        if f is None:
            return np.inf
        return 0.5 * float(self.w @ f)

    def jac(self, x: np.ndarray) -> np.ndarray:
        st = self._state(x)
        grad = np.zeros(self.model.spec.n_free)
        if st is None:
            return np.full_like(grad, np.nan)
        for g, (mats, sigma, mu, inv, _) in enumerate(st):
            w = self.w[g]
            s = self.mom.cov[g]
            if self.model.spec.meanstructure:
                d = self.mom.mean[g] - mu
                s = s + np.outer(d, d)
                gmu = -w * (inv @ d)
            else:
                gmu = np.zeros(self.model.p)
            gs = 0.5 * w * (inv @ (sigma - s) @ inv)
            gs = (gs + gs.T) / 2
            lam, psi = mats["lambda"], mats["psi"]
            parts = {
                "lambda": 2.0 * gs @ lam @ psi + np.outer(gmu, mats["alpha"]),
                "psi": lam.T @ gs @ lam,
                "theta": gs,
                "nu": gmu,
                "alpha": lam.T @ gmu,
            }
            for k, (r, c, ids) in self.model.free[g].items():
                if not len(ids):
                    continue
                if k in ("nu", "alpha"):
                    vals = parts[k][r]
                else:
                    vals = parts[k][r, c]
                    if k in ("psi", "theta"):
                        vals = np.where(r == c, vals, 2.0 * vals)
                np.add.at(grad, ids, vals)
        return grad

    def information(self, x: np.ndarray) -> np.ndarray:
        """Expected information of ``fmin`` (sum_g w_g Delta_g' W_g Delta_g), free parameters."""
        st = self._state(x)
        q = self.model.spec.n_free
        info = np.zeros((q, q))
        if st is None:
            return np.eye(q)
        p = self.model.p
        for g, (mats, sigma, mu, inv, _) in enumerate(st):
            dsig, dmu, ids = _jacobian(self.model.free[g], mats, p)
            if not len(ids):
                continue
            m = np.matmul(inv, dsig)  # Sigma^-1 dSigma_r
            # tr(M_r M_s) = sum_ij M_r[i, j] M_s[j, i]
            block = 0.5 * m.reshape(len(ids), -1) @ np.transpose(m, (0, 2, 1)).reshape(len(ids), -1).T
            if self.model.spec.meanstructure:
                block += dmu @ inv @ dmu.T
            np.add.at(info, (ids[:, None], ids[None, :]), self.w[g] * block)
        return (info + info.T) / 2

    def hess(self, x: np.ndarray) -> np.ndarray:
        return self.information(x)


def _jacobian(free: dict, mats: dict[str, np.ndarray], p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """d Sigma / d theta_r (r, p, p) and d mu / d theta_r (r, p) for the free entries of a group."""
    lam, psi, alpha = mats["lambda"], mats["psi"], mats["alpha"]
    lp = lam @ psi
    dsig, dmu, ids = [], [], []
    for k in ("lambda", "theta", "psi", "nu", "alpha"):
        r_, c_, id_ = free[k]
        for r, c, i in zip(r_, c_, id_):
            ds = np.zeros((p, p))
            dm = np.zeros(p)
            if k == "lambda":
                ds[r, :] += lp[:, c]
                ds[:, r] += lp[:, c]
                dm[r] = alpha[c]
            elif k == "theta":
                ds[r, c] = 1.0
                ds[c, r] = 1.0
            elif k == "psi":
                a, b = lam[:, r], lam[:, c]
                ds = np.outer(a, a) if r == c else np.outer(a, b) + np.outer(b, a)
            elif k == "nu":
                dm[r] = 1.0
            else:
                dm = lam[:, r].copy()
            dsig.append(ds)
            dmu.append(dm)
            ids.append(i)
    if not ids:
        return np.zeros((0, p, p)), np.zeros((0, p)), np.zeros(0, dtype=int)
    return np.asarray(dsig), np.asarray(dmu), np.asarray(ids, dtype=int)


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
    _check_columns(data, items, group)
    ms = (group is not None) if meanstructure is None else bool(meanstructure)
    labels, blocks, n_dropped = _prepare(data, items, group)
    p = len(items)
    base = dict(factors=tuple(indicators), items=items, group=group, groups=tuple(labels),
                equal=equal_t, free_intercepts=free_t, meanstructure=ms,
                n_by_group={lab: int(len(b)) for lab, b in zip(labels, blocks)}, n_dropped=n_dropped,
                indicators=indicators)

    def fail(status: str, message: str, **kw) -> CFAResult:
        return CFAResult(status=status, message=message, **base,
                         fit=dict.fromkeys(FIT_MEASURES, np.nan), **kw)

    single = [f for f, its in indicators.items() if len(its) < 2]
    if single:
        return fail(STATUS_NOT_IDENTIFIED,
                    f"factors {single} have a single indicator: with a marker loading its variance "
                    "and the item's residual variance are not identified; drop the factor, add items "
                    "or fix the residual variance in a different model")
    min_n = p + 1 if min_group_n is None else int(min_group_n)
    if not labels:
        return fail(STATUS_TOO_FEW_CASES, "no complete cases (listwise deletion over the items)")
    small = {lab: len(b) for lab, b in zip(labels, blocks) if len(b) < max(min_n, 2)}
    if small:
        return fail(STATUS_TOO_FEW_CASES,
                    f"groups with fewer than {max(min_n, 2)} complete cases: {small}")
    for lab, b in zip(labels, blocks):
        if not np.isfinite(b).all():
            bad = [items[j] for j in np.flatnonzero(~np.isfinite(b).all(axis=0))]
            return fail(STATUS_INVALID_VALUES, f"items {bad} have infinite values" + _in_group(group, lab))
    means, covs, logdets = [], [], []
    for lab, b in zip(labels, blocks):
        mean = b.mean(axis=0)
        d = b - mean
        cov = d.T @ d / len(b)
        const = [items[j] for j in range(p) if not np.ptp(b[:, j]) > 0]
        if const:
            return fail(STATUS_CONSTANT_ITEM, f"items {const} have no variance" + _in_group(group, lab))
        sign, logdet = np.linalg.slogdet(cov)
        evals = np.linalg.eigvalsh(cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))))
        if sign <= 0 or evals[0] < 1e-10:
            return fail(STATUS_NOT_POSITIVE_DEFINITE,
                        "the sample covariance matrix is not positive definite" + _in_group(group, lab)
                        + " (linearly dependent items)")
        means.append(mean)
        covs.append(cov)
        logdets.append(float(logdet))
    mom = _Moments(tuple(covs), tuple(means), tuple(len(b) for b in blocks), tuple(logdets))
    spec = _build_spec(indicators, items, len(labels), ms, equal_t, free_t)
    n_stats = len(labels) * (p * (p + 1) // 2 + (p if ms else 0))
    df = n_stats - spec.n_free
    if df < 0:
        return fail(STATUS_NOT_IDENTIFIED,
                    f"the model has {spec.n_free} free parameters but only {n_stats} sample statistics "
                    f"(df = {df})")
    model = _Model(spec)
    obj = _Objective(model, mom)
    x0 = _start_values(spec, mom)
    if start is not None:
        x0 = _warm_start(x0, spec, labels, start)
    x, converged, iterations = _optimise(obj, x0, max_iter)
    if not converged:
        return fail(STATUS_NOT_CONVERGED,
                    f"the optimiser did not converge in {max_iter} iterations (largest gradient "
                    f"element {np.max(np.abs(obj.jac(x))):.3g}); estimates are not reported",
                    iterations=iterations)
    info = obj.information(x)
    evals = np.linalg.eigvalsh(info)
    if evals[0] <= 1e-10 * max(evals[-1], 1e-300):
        return fail(STATUS_NOT_IDENTIFIED,
                    "the information matrix is singular at the estimates: the model is not identified "
                    "(e.g. a two-indicator factor that correlates with nothing)",
                    converged=True, iterations=iterations)
    vcov = np.linalg.inv(info) / mom.ntotal
    vcov = (vcov + vcov.T) / 2
    fmin_g = obj.fmin_groups(x)
    fit = _fit_measures(obj, x, fmin_g, mom, spec, df)
    est, heywood, warns = _estimates_table(spec, model, x, vcov, labels)
    return CFAResult(status=STATUS_OK, message="", **base, converged=True, iterations=iterations,
                     fit=fit, estimates=est, vcov=vcov, heywood=heywood, warnings=warns)


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
    curvature), then, if needed, BFGS; convergence is the gradient criterion."""
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
    return np.asarray(x, dtype=float), converged(x), iterations


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


# ---------------------------------------------------------------------------------------------
# fit measures


def _rmsea_ci(x2: float, df: float, n: int, g: int, level: float = _RMSEA_LEVEL) -> tuple[float, float]:
    """lavaan's ``lav_fit_rmsea_ci`` (noncentral chi-square inversion)."""
    if not (np.isfinite(x2) and np.isfinite(df)) or df < 1:
        return 0.0, 0.0
    upper_p, lower_p = 1 - (1 - level) / 2, (1 - level) / 2

    def cdf(lam: float) -> float:
        return float(stats.chi2.cdf(x2, df)) if lam <= 0 else float(stats.ncx2.cdf(x2, df, lam))

    if cdf(0.0) - upper_p < 0:
        lo = 0.0
    else:
        lam_l = optimize.brentq(lambda lam: cdf(lam) - upper_p, 0.0, x2, xtol=1e-12, rtol=1e-14)
        lo = math.sqrt(lam_l / (n * df)) * math.sqrt(g)
    n_rmsea = max(n, x2 * 4)
    if cdf(n_rmsea) - lower_p > 0 or cdf(0.0) - lower_p < 0:
        hi = 0.0
    else:
        lam_u = optimize.brentq(lambda lam: cdf(lam) - lower_p, 0.0, n_rmsea, xtol=1e-12, rtol=1e-14)
        hi = math.sqrt(lam_u / (n * df)) * math.sqrt(g)
    return lo, hi


def _rescale(mat: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """lavaan's ``lav_residuals_rescale``: elements below 1e-5 in absolute value stay unscaled."""
    out = mat * scale
    near = np.abs(mat) < _NEAR_ZERO
    out[near] = mat[near]
    return out


def _srmr_group(s: np.ndarray, m: np.ndarray, sigma: np.ndarray, mu: np.ndarray,
                meanstructure: bool) -> tuple[float, float]:
    """SRMR of one group, lavaan's ``cor.bentler`` residuals: (with means, without means)."""
    sd = np.sqrt(np.diag(s))
    scov = 1.0 / np.outer(sd, sd)
    res = _rescale(s, scov) - _rescale(sigma, scov)
    tri = res[np.tril_indices_from(res)]
    nomean = math.sqrt(float(np.sum(tri ** 2)) / len(tri))
    if not meanstructure:
        return nomean, nomean
    rm = _rescale(m, 1.0 / sd) - _rescale(mu, 1.0 / sd)
    total = math.sqrt(float(np.sum(tri ** 2) + np.sum(rm ** 2)) / (len(tri) + len(rm)))
    return total, nomean


def _fit_measures(obj: _Objective, x: np.ndarray, fmin_g: np.ndarray, mom: _Moments, spec: _Spec,
                  df: int) -> dict[str, float]:
    n = mom.ntotal
    g_count = spec.n_groups
    p = len(spec.items)
    ns = np.asarray(mom.n, dtype=float)
    chisq = float(ns @ fmin_g)
    chisq = max(chisq, 0.0) if abs(chisq) < 1e-10 else chisq
    pvalue = float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan
    base_chisq = float(sum(ng * (np.sum(np.log(np.diag(s))) - ld)
                           for ng, s, ld in zip(ns, mom.cov, mom.logdet)))
    base_df = g_count * p * (p - 1) // 2
    base_p = float(stats.chi2.sf(base_chisq, base_df)) if base_df > 0 else np.nan
    t1 = max(chisq - df, 0.0)
    t2 = max(chisq - df, base_chisq - base_df, 0.0)
    # lavaan: isTRUE(all.equal(t1, 0)) && isTRUE(all.equal(t2, 0)) -> 1
    both_zero = abs(t1) < 1.5e-8 and abs(t2) < 1.5e-8
    cfi = 1.0 if both_zero else 1 - t1 / t2
    tt1, tt2 = (chisq - df) * base_df, (base_chisq - base_df) * df
    tli = 1 - tt1 / tt2 if (df > 0 and abs(tt2) > 0) else 1.0
    rmsea = math.sqrt(max(chisq / n / df - 1.0 / n, 0.0)) * math.sqrt(g_count) if df > 0 else 0.0
    lo, hi = _rmsea_ci(chisq, df, n, g_count)
    if df > 0:
        ncp = n * df * _RMSEA_CLOSE ** 2 / g_count
        rmsea_p = float(stats.ncx2.sf(chisq, df, ncp))
    else:
        rmsea_p = np.nan
    log2pi = math.log(2 * math.pi)
    logl = unres = 0.0
    srmr = srmr_nomean = 0.0
    st = obj._state(x)
    for g in range(g_count):
        ng = ns[g]
        _, sigma, mu, _, logdet = st[g]
        unres += -ng / 2 * (p * log2pi + mom.logdet[g] + p)
        logl += -ng / 2 * (p * log2pi + mom.logdet[g] + p + fmin_g[g])
        mu_g = mu if spec.meanstructure else mom.mean[g]
        tot, nom = _srmr_group(mom.cov[g], mom.mean[g], sigma, mu_g, spec.meanstructure)
        srmr += ng / n * tot
        srmr_nomean += ng / n * nom
    npar = spec.n_free
    out = {
        "npar": float(npar), "fmin": chisq / (2 * n), "chisq": chisq, "df": float(df), "pvalue": pvalue,
        "baseline.chisq": base_chisq, "baseline.df": float(base_df), "baseline.pvalue": base_p,
        "cfi": cfi, "tli": tli, "logl": logl, "unrestricted.logl": unres,
        "aic": -2 * logl + 2 * npar, "bic": -2 * logl + npar * math.log(n), "ntotal": float(n),
        "rmsea": rmsea, "rmsea.ci.lower": lo, "rmsea.ci.upper": hi, "rmsea.pvalue": rmsea_p,
        "srmr": srmr, "srmr_bentler_nomean": srmr_nomean,
    }
    return {k: float(out[k]) for k in FIT_MEASURES}


def _estimates_table(spec: _Spec, model: _Model, x: np.ndarray, vcov: np.ndarray, labels: list[str]
                     ) -> tuple[pd.DataFrame, bool, tuple[str, ...]]:
    se_free = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    rows = []
    heywood = False
    warns: list[str] = []
    mats_g = [model.matrices(x, g) for g in range(spec.n_groups)]
    for g, mats in enumerate(mats_g):
        sigma, _ = model.implied(mats)
        sd_ov = np.sqrt(np.clip(np.diag(sigma), 0.0, None))
        psi = mats["psi"]
        with np.errstate(invalid="ignore", divide="ignore"):
            sd_lv = np.where(np.diag(psi) > 0, np.sqrt(np.abs(np.diag(psi))), np.nan)
        neg = [spec.items[i] for i in range(len(spec.items)) if mats["theta"][i, i] < 0]
        where = "" if spec.n_groups == 1 else f" (group {labels[g]!r})"
        if neg:
            heywood = True
            warns.append(f"negative residual variances for {neg}{where}: improper solution (Heywood case)")
        if np.linalg.eigvalsh(psi)[0] < 0:
            heywood = True
            warns.append(f"the factor covariance matrix is not positive definite{where}")
        for e in spec.entries:
            if e.group != g:
                continue
            if e.mat == "lambda":
                est = mats["lambda"][e.row, e.col]
                std = est * sd_lv[e.col] / sd_ov[e.row]
            elif e.mat == "theta":
                est = mats["theta"][e.row, e.col]
                std = est / (sd_ov[e.row] * sd_ov[e.col])
            elif e.mat == "psi":
                est = psi[e.row, e.col]
                std = est / (sd_lv[e.row] * sd_lv[e.col])
            elif e.mat == "nu":
                est = mats["nu"][e.row]
                std = est / sd_ov[e.row]
            else:
                est = mats["alpha"][e.row]
                std = est / sd_lv[e.row]
            if e.par >= 0:
                se = float(se_free[e.par])
                z = est / se if se > 0 else np.nan
                pv = float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan
            else:
                se, z, pv = 0.0, np.nan, np.nan
            rows.append({"lhs": e.lhs, "op": e.op, "rhs": e.rhs, "group": labels[g], "est": float(est),
                         "se": se, "z": float(z), "pvalue": pv, "std_all": float(std),
                         "free": e.par >= 0, "par_id": e.par if e.par >= 0 else -1})
    return pd.DataFrame(rows, columns=list(ESTIMATE_COLUMNS)), heywood, tuple(warns)


# ---------------------------------------------------------------------------------------------
# validity


def composite_reliability(result: CFAResult) -> pd.DataFrame:
    """Composite reliability and average variance extracted per factor (and group).

    From the standardised solution (``std.all``): ``cr = (sum l)^2 / ((sum l)^2 + sum theta)``
    with ``theta`` the standardised residual variances of the factor's items, ``ave = mean(l^2)``
    (Fornell & Larcker 1981). Columns: group, factor, n_items, cr, ave, sqrt_ave. NaN when the
    model did not fit.
    """
    cols = ["group", "factor", "n_items", "cr", "ave", "sqrt_ave"]
    if not result.ok:
        return pd.DataFrame([{"group": g, "factor": f, "n_items": len(result.indicators.get(f, ())),
                              "cr": np.nan, "ave": np.nan, "sqrt_ave": np.nan}
                             for g in result.groups for f in result.factors], columns=cols)
    est = result.estimates
    rows = []
    for g in result.groups:
        eg = est[est["group"] == g]
        for f in result.factors:
            its = result.indicators[f]
            lam = eg.loc[(eg["op"] == "=~") & (eg["lhs"] == f), "std_all"].to_numpy()
            is_res = (eg["op"] == "~~") & (eg["lhs"] == eg["rhs"]) & eg["lhs"].isin(its)
            th = eg.loc[is_res, "std_all"].to_numpy()
            s = float(np.sum(lam))
            cr = s ** 2 / (s ** 2 + float(np.sum(th)))
            ave = float(np.mean(lam ** 2))
            rows.append({"group": g, "factor": f, "n_items": len(its), "cr": cr, "ave": ave,
                         "sqrt_ave": math.sqrt(ave)})
    return pd.DataFrame(rows, columns=cols)


def fornell_larcker(result: CFAResult) -> pd.DataFrame:
    """Fornell-Larcker criterion per pair of factors (and group).

    Columns: group, factor1, factor2, r (the model-implied factor correlation, ``std.all``),
    sqrt_ave1, sqrt_ave2, holds (``|r| < min(sqrt_ave1, sqrt_ave2)``; discriminant validity
    needs it for every pair).
    """
    cols = ["group", "factor1", "factor2", "r", "sqrt_ave1", "sqrt_ave2", "holds"]
    rel = composite_reliability(result)
    rows = []
    for g in result.groups:
        sq = rel[rel["group"] == g].set_index("factor")["sqrt_ave"]
        eg = result.estimates[result.estimates["group"] == g] if result.ok else None
        for i, a in enumerate(result.factors):
            for b in result.factors[i + 1:]:
                r = np.nan
                if eg is not None:
                    hit = eg[(eg["op"] == "~~") & (eg["lhs"] == a) & (eg["rhs"] == b)]
                    r = float(hit["std_all"].iloc[0]) if len(hit) else np.nan
                holds = bool(abs(r) < min(sq[a], sq[b])) if np.isfinite(r) else None
                rows.append({"group": g, "factor1": a, "factor2": b, "r": r, "sqrt_ave1": sq[a],
                             "sqrt_ave2": sq[b], "holds": holds})
    return pd.DataFrame(rows, columns=cols)


def htmt(corr: pd.DataFrame, factors: Mapping[str, Sequence[str]], *, absolute: bool = True) -> pd.DataFrame:
    """Heterotrait-monotrait ratio of correlations (Henseler, Ringle & Sarstedt 2015).

    ``corr`` is an item correlation matrix (e.g. ``data[items].corr()``, Pearson, with the
    items as index and columns). For factors A and B: the mean of the correlations between
    items of A and items of B, divided by the geometric mean of the average within-factor
    correlations of A and of B (off-diagonal). ``absolute=True`` (semTools' default) uses
    absolute correlations. Returns a symmetric factor x factor DataFrame with 1 on the
    diagonal; NaN for a pair involving a factor with fewer than two items.
    """
    indicators, items = _normalise_factors(factors)
    if not isinstance(corr, pd.DataFrame):
        raise PipelineError("htmt needs the item correlation matrix as a DataFrame")
    missing = [i for i in items if i not in corr.index or i not in corr.columns]
    if missing:
        raise PipelineError(f"items {missing} are not in the correlation matrix")
    r = corr.loc[list(items), list(items)].to_numpy(dtype=float)
    if absolute:
        r = np.abs(r)
    pos = {it: i for i, it in enumerate(items)}
    names = list(indicators)

    def mono(f: str) -> float:
        idx = [pos[i] for i in indicators[f]]
        if len(idx) < 2:
            return np.nan
        block = r[np.ix_(idx, idx)]
        return float(block[np.triu_indices(len(idx), 1)].mean())

    out = np.eye(len(names))
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            ia = [pos[i] for i in indicators[names[a]]]
            ib = [pos[i] for i in indicators[names[b]]]
            hetero = float(r[np.ix_(ia, ib)].mean())
            denom = mono(names[a]) * mono(names[b])
            val = hetero / math.sqrt(denom) if np.isfinite(denom) and denom > 0 else np.nan
            out[a, b] = out[b, a] = val
    return pd.DataFrame(out, index=names, columns=names)


# ---------------------------------------------------------------------------------------------
# invariance


def lr_test(restricted: CFAResult, general: CFAResult) -> dict[str, float]:
    """Chi-square difference test of nested ML models (lavaan's ``lavTestLRT`` for standard ML):
    ``chisq_diff = chisq(restricted) - chisq(general)`` on ``df_diff`` degrees of freedom, plus
    ``delta_cfi`` and ``delta_rmsea`` (restricted minus general). NaN if either model failed."""
    keys = ("chisq_diff", "df_diff", "pvalue_diff", "delta_cfi", "delta_rmsea")
    if not (restricted.ok and general.ok):
        return dict.fromkeys(keys, np.nan)
    d = restricted["chisq"] - general["chisq"]
    ddf = restricted["df"] - general["df"]
    pv = float(stats.chi2.sf(d, ddf)) if ddf > 0 else np.nan
    return {"chisq_diff": d, "df_diff": ddf, "pvalue_diff": pv,
            "delta_cfi": restricted["cfi"] - general["cfi"],
            "delta_rmsea": restricted["rmsea"] - general["rmsea"]}


def _holds(test: dict[str, float], delta_cfi: float, delta_rmsea: float, lrt_alpha: float | None) -> bool:
    if not np.isfinite(test["delta_cfi"]):
        return False
    ok = test["delta_cfi"] >= -delta_cfi and test["delta_rmsea"] <= delta_rmsea
    if lrt_alpha is not None:
        ok = ok and (not np.isfinite(test["pvalue_diff"]) or test["pvalue_diff"] >= lrt_alpha)
    return bool(ok)


def measurement_invariance(
    data: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    group: str,
    *,
    delta_cfi: float = 0.01,
    delta_rmsea: float = 0.015,
    lrt_alpha: float | None = None,
    max_free_intercepts: int = 3,
    min_group_n: int | None = None,
    max_iter: int = 500,
) -> InvarianceResult:
    """Fit configural, metric and scalar models in sequence and, if scalar invariance is
    rejected, search for partial scalar invariance.

    A constrained model "holds" against the model it is nested in when CFI drops by at most
    ``delta_cfi`` and RMSEA rises by at most ``delta_rmsea`` (Chen 2007), and, if
    ``lrt_alpha`` is given, the chi-square difference test is not significant at that level.
    The sequence stops at the first level that does not hold (scalar is not tested without
    metric invariance).

    Partial scalar search: starting from the scalar model, each intercept still held equal is
    freed in turn and the model refitted; the item whose release lowers chi-square most is freed
    (a likelihood-ratio criterion: exact where lavaan's ``lavTestScore`` univariate score test
    is its first-order approximation, and affordable for a handful of items). Intercepts are
    not freed when that would leave a factor with no equal intercept (its latent mean would
    not be identified). The partial model is compared with the metric model; the search
    repeats until it holds or ``max_free_intercepts`` items have been freed.
    """
    results: dict[str, CFAResult] = {}
    rows: list[dict] = []

    def add_row(name: str, res: CFAResult, ref: str | None, test: dict | None, holds: bool | None) -> None:
        row = {"model": name, "status": res.status, "free_intercepts": ",".join(res.free_intercepts)}
        for k in ("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic"):
            row[k] = res[k]
        row["compared_with"] = ref or ""
        for k in ("chisq_diff", "df_diff", "pvalue_diff", "delta_cfi", "delta_rmsea"):
            row[k] = (test or {}).get(k, np.nan)
        row["holds"] = holds
        rows.append(row)

    kw = dict(group=group, min_group_n=min_group_n, max_iter=max_iter)
    table_cols = ["model", "status", "free_intercepts", "npar", "chisq", "df", "pvalue", "cfi", "tli",
                  "rmsea", "srmr", "aic", "bic", "compared_with", "chisq_diff", "df_diff", "pvalue_diff",
                  "delta_cfi", "delta_rmsea", "holds"]
    search_cols = ["step", "item", "chisq", "chisq_drop", "status", "chosen"]

    def done(status: str, message: str, level: str, freed: tuple[str, ...] = (),
             search: list[dict] | None = None) -> InvarianceResult:
        return InvarianceResult(status=status, message=message, level=level, models=results,
                                table=pd.DataFrame(rows, columns=table_cols), freed_intercepts=freed,
                                search=pd.DataFrame(search or [], columns=search_cols))

    conf = fit_cfa(data, factors, equal=(), **kw)
    results["configural"] = conf
    add_row("configural", conf, None, None, None)
    if not conf.ok:
        return done(conf.status, f"configural model: {conf.message}", "none")
    metric = fit_cfa(data, factors, equal=("loadings",), start=conf.estimates, **kw)
    results["metric"] = metric
    if not metric.ok:
        add_row("metric", metric, "configural", None, None)
        return done(metric.status, f"metric model: {metric.message}", "configural")
    t = lr_test(metric, conf)
    h = _holds(t, delta_cfi, delta_rmsea, lrt_alpha)
    add_row("metric", metric, "configural", t, h)
    if not h:
        return done(STATUS_OK, "metric invariance rejected", "configural")
    scalar = fit_cfa(data, factors, equal=("loadings", "intercepts"), start=metric.estimates, **kw)
    results["scalar"] = scalar
    if not scalar.ok:
        add_row("scalar", scalar, "metric", None, None)
        return done(scalar.status, f"scalar model: {scalar.message}", "metric")
    t = lr_test(scalar, metric)
    h = _holds(t, delta_cfi, delta_rmsea, lrt_alpha)
    add_row("scalar", scalar, "metric", t, h)
    if h:
        return done(STATUS_OK, "scalar invariance holds", "scalar")

    indicators, _ = _normalise_factors(factors)
    freed: list[str] = []
    search: list[dict] = []
    current = scalar
    for step in range(1, max_free_intercepts + 1):
        candidates = []
        for f, its in indicators.items():
            still_equal = [i for i in its if i not in freed]
            if len(still_equal) < 2:
                continue  # freeing it would leave the factor without an equal intercept
            candidates.extend(i for i in still_equal if i not in candidates)
        if not candidates:
            break
        tries = []
        for item in candidates:
            res = fit_cfa(data, factors, equal=("loadings", "intercepts"), free_intercepts=(*freed, item),
                          start=current.estimates, **kw)
            drop = current["chisq"] - res["chisq"] if res.ok else np.nan
            tries.append((item, res, drop))
            search.append({"step": step, "item": item, "chisq": res["chisq"], "chisq_drop": drop,
                           "status": res.status, "chosen": False})
        usable = [tr for tr in tries if tr[1].ok]
        if not usable:
            break
        item, best, _ = max(usable, key=lambda tr: tr[2])
        for row in search:
            if row["step"] == step and row["item"] == item:
                row["chosen"] = True
        freed.append(item)
        current = best
        name = f"partial_scalar_{step}"
        results[name] = best
        t = lr_test(best, metric)
        h = _holds(t, delta_cfi, delta_rmsea, lrt_alpha)
        add_row(name, best, "metric", t, h)
        if h:
            return done(STATUS_OK, f"partial scalar invariance with free intercepts {freed}",
                        "partial_scalar", tuple(freed), search)
    return done(STATUS_OK, f"scalar invariance rejected; freeing intercepts {freed} was not enough",
                "metric", tuple(freed), search)

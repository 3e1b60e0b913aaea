"""Scale reliability: Cronbach's alpha as R's ``psych::alpha`` computes it, McDonald's omega
from a one-factor ML model, and cluster (community) bootstrap intervals for both.

Pure functions over a :class:`pandas.DataFrame` of item scores, one column per item, already
reverse-keyed by the caller (see :func:`pipeline.stats.scoring.keyed_items`); NaN is a missing answer.
Nothing here reads or writes files.

Degenerate input (one item, an item with no answers or no variance, too few cases, a
covariance matrix that is not positive definite, an optimiser that does not converge) never
raises and never yields a number that looks valid: the result carries ``status`` (one of the
``STATUS_*`` constants below, ``"ok"`` when the numbers are usable) and a ``message`` for the
report, and its statistics are NaN. Input that is not item data at all (not a DataFrame,
non-numeric columns, duplicated names, clusters that do not line up with the rows) raises
:class:`~pipeline.errors.PipelineError`.

Reference values: ``tests/reference/psych_reliability.R`` (psych 2.2.9, lavaan 0.6-14 on
``psych::bfi``); ``tests/test_reliability.py`` checks them to 1e-6 (alpha) and 1e-4 relative
(omega).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.parallel import ParallelSettings, as_settings, run_tasks
from pipeline.stats.clustermoments import ClusterMoments, cluster_moments, complete_cov_of, pairwise_cov_of
from pipeline.stats.distributions import chi2_sf, f_ppf
from pipeline.stats.onefactor import _NOT_GIVEN, _PSI_LOWER, OneFactorFit, one_factor_ml  # noqa: F401 (re-exported)
from pipeline.stats.onefactor import warm_uniquenesses_many
from pipeline.stats.onefactor import _fa_objective, _polish_uniquenesses, _warm_uniquenesses  # noqa: F401

STATUS_OK = "ok"
STATUS_TOO_FEW_ITEMS = "too_few_items"  # alpha needs 2 items
STATUS_NOT_IDENTIFIED = "not_identified"  # a one-factor model needs 3 items
STATUS_ALL_MISSING_ITEM = "all_missing_item"
STATUS_CONSTANT_ITEM = "constant_item"  # an item (or, for omega, an item among the used rows) has no variance
STATUS_TOO_FEW_CASES = "too_few_cases"
STATUS_INVALID_VALUES = "invalid_values"  # +-inf among the scores
STATUS_NOT_POSITIVE_DEFINITE = "not_positive_definite"
STATUS_NOT_CONVERGED = "not_converged"
STATUS_NONPOSITIVE_TOTAL = "nonpositive_total_variance"
STATUS_TOO_FEW_CLUSTERS = "too_few_clusters"
STATUS_BOOTSTRAP_FAILED = "bootstrap_failed"  # fewer than 2 usable replications

Use = Literal["complete", "pairwise"]

ALPHA_DROP_COLUMNS = ("raw_alpha", "std_alpha", "g6_smc", "average_r", "signal_noise", "alpha_se",
                      "var_r", "median_r")
ITEM_STATS_COLUMNS = ("n", "raw_r", "std_r", "r_cor", "r_drop", "mean", "sd")



# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class AlphaResult:
    """Cronbach's alpha and the item analysis of ``psych::alpha`` (names follow psych).

    ``raw_alpha`` is psych's ``raw_alpha``, ``std_alpha`` its ``std.alpha``, ``g6_smc`` its
    ``G6(smc)`` (Guttman's lambda 6), ``signal_noise`` its ``S/N``, ``ase`` the asymptotic
    standard error of alpha; ``mean`` and ``sd`` describe the total score, the mean of each
    respondent's answered items. ``feldt_lower``/``feldt_upper`` are Feldt's 95% interval
    (psych's ``feldt``). ``alpha_drop`` ("alpha if item deleted") has one row per item and the
    columns :data:`ALPHA_DROP_COLUMNS`; ``item_stats`` has :data:`ITEM_STATS_COLUMNS`, where
    ``r_drop`` is the corrected item-total correlation and ``r_cor`` the item-total correlation
    corrected for overlap and reliability. ``warnings`` are remarks on a usable result (for
    example an item that correlates negatively with the rest of the scale).
    """

    status: str
    message: str
    items: tuple[str, ...]
    n_rows: int
    raw_alpha: float = np.nan
    std_alpha: float = np.nan
    g6_smc: float = np.nan
    average_r: float = np.nan
    median_r: float = np.nan
    var_r: float = np.nan
    signal_noise: float = np.nan
    ase: float = np.nan
    mean: float = np.nan
    sd: float = np.nan
    feldt_lower: float = np.nan
    feldt_upper: float = np.nan
    alpha_drop: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(ALPHA_DROP_COLUMNS)),
                                     repr=False, compare=False)
    item_stats: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(ITEM_STATS_COLUMNS)),
                                     repr=False, compare=False)
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


@dataclass(frozen=True)
class OmegaResult:
    """McDonald's omega total of a one-factor ML model; see :func:`omega_total`."""

    status: str
    message: str
    items: tuple[str, ...]
    use: str
    n: int
    omega_total: float = np.nan
    loadings: pd.Series = field(default_factory=lambda: pd.Series(dtype=float), compare=False)
    residual_variances: pd.Series = field(default_factory=lambda: pd.Series(dtype=float), compare=False)
    std_loadings: pd.Series = field(default_factory=lambda: pd.Series(dtype=float), compare=False)
    chisq: float = np.nan
    df: int = 0
    pvalue: float = np.nan
    fmin: float = np.nan
    converged: bool = False
    heywood: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


@dataclass(frozen=True)
class BootstrapInterval:
    """Percentile interval of one statistic over cluster-bootstrap replications.

    ``estimate`` is the statistic on the full data; ``replicates`` has one value per
    replication (NaN where that replication was degenerate, counted in ``n_failed``).
    """

    statistic: str
    status: str
    message: str
    estimate: float
    lower: float
    upper: float
    level: float
    n_replications: int
    n_failed: int
    replicates: np.ndarray = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


@dataclass(frozen=True)
class ReliabilityBootstrap:
    """Cluster-bootstrap intervals, keyed by statistic name (``"alpha"``, ``"omega"``)."""

    intervals: dict[str, BootstrapInterval]
    n_clusters: int
    n_rows: int

    def __getitem__(self, statistic: str) -> BootstrapInterval:
        return self.intervals[statistic]


# ---------------------------------------------------------------------------------------------
# input checks and matrix helpers


def _as_item_array(items: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    if not isinstance(items, pd.DataFrame):
        raise PipelineError(f"reliability needs a DataFrame of item scores, got {type(items).__name__}")
    names = tuple(str(c) for c in items.columns)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise PipelineError(f"item columns {dup} appear more than once")
    bad = [str(c) for c in items.columns
           if not (pd.api.types.is_numeric_dtype(items[c]) and not pd.api.types.is_bool_dtype(items[c]))]
    if bad:
        raise PipelineError(f"items {bad} are not numeric", hint="recode the answers to numbers first")
    x = items.to_numpy(dtype=float, na_value=np.nan)
    return x, names


def _first_problem(x: np.ndarray, names: tuple[str, ...], min_items: int,
                   few_items_status: str) -> tuple[str, str] | None:
    """Status and message of the first degeneracy shared by alpha and omega, else None."""
    k = x.shape[1]
    if k < min_items:
        what = "alpha" if few_items_status == STATUS_TOO_FEW_ITEMS else "a one-factor model"
        return few_items_status, f"{what} needs at least {min_items} items, the scale has {k}"
    if np.isinf(x).any():
        cols = [names[j] for j in np.flatnonzero(np.isinf(x).any(axis=0))]
        return STATUS_INVALID_VALUES, f"items {cols} contain infinite values"
    answered = (~np.isnan(x)).sum(axis=0)
    empty = [names[j] for j in np.flatnonzero(answered == 0)]
    if empty:
        return STATUS_ALL_MISSING_ITEM, f"items {empty} have no answers"
    return None


def _constant_items(x: np.ndarray, names: tuple[str, ...]) -> list[str]:
    out = []
    for j in range(x.shape[1]):
        col = x[:, j][~np.isnan(x[:, j])]
        if col.size >= 1 and np.all(col == col[0]):
            out.append(names[j])
    return out


def pairwise_cov(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise-complete covariance matrix (n - 1 divisor) and the pairwise counts.

    As R's ``cov(x, use = "pairwise.complete.obs")``: each entry uses the rows where both items
    are answered, with both means taken over those rows; a diagonal entry is the variance over
    all answers to that item. Entries with fewer than two joint answers are NaN.
    """
    x = np.asarray(x, dtype=float)
    mask = ~np.isnan(x)
    # Centre each column on its own mean first; covariances are shift invariant and this keeps
    # the one-pass sums below accurate.
    count = mask.sum(axis=0)
    centre = np.where(mask, x, 0.0).sum(axis=0) / np.maximum(count, 1)
    z = np.where(mask, x - centre, 0.0)
    m = mask.astype(float)
    n = m.T @ m
    sxy = z.T @ z
    sx = z.T @ m  # sx[i, j]: sum of item i over rows where j is answered (and i, via z = 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (sxy - sx * sx.T / n) / (n - 1)
    cov[n < 2] = np.nan
    return cov, n.astype(int)


def _cov2cor(c: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d)


def _smc(r: np.ndarray) -> np.ndarray:
    """Squared multiple correlations as ``psych::smc``: ``1 - 1/diag(Pinv(R))``, clipped to [0, 1]."""
    inv = np.linalg.pinv(r, rtol=np.sqrt(np.finfo(float).eps), hermitian=False)
    smc = 1.0 - 1.0 / np.diag(inv)
    return np.clip(smc, 0.0, 1.0)


def _alpha_core(c: np.ndarray, r: np.ndarray) -> dict[str, float]:
    """psych's internal ``alpha.1``: statistics of one covariance and correlation matrix."""
    k = c.shape[0]
    sum_c = c.sum()
    tr_c = np.trace(c)
    sum_r = r.sum()
    raw = (1.0 - tr_c / sum_c) * (k / (k - 1))
    std = (1.0 - k / sum_r) * (k / (k - 1))
    g6 = 1.0 - (k - _smc(r).sum()) / sum_r
    av_r = (sum_r - k) / (k * (k - 1))
    low = r[np.tril_indices(k, -1)]
    var_r = float(np.var(low, ddof=1)) if low.size > 1 else np.nan
    med_r = float(np.median(low))
    sn = k * av_r / (1.0 - av_r)
    cc = c @ c
    q = (2.0 * k ** 2 / ((k - 1) ** 2 * sum_c ** 3)) * (sum_c * (np.trace(cc) + tr_c ** 2) - 2.0 * tr_c * cc.sum())
    return {"raw_alpha": raw, "std_alpha": std, "g6_smc": g6, "average_r": av_r, "signal_noise": sn,
            "q": q, "var_r": var_r, "median_r": med_r}


def _raw_alpha_of(c: np.ndarray, n: np.ndarray, min_pairwise_n: int = 3) -> float:
    """Raw alpha only from pairwise covariances ``c`` and counts ``n``, NaN when degenerate: for
    the bootstrap."""
    if n.min() < min_pairwise_n or np.isnan(c).any() or np.any(np.diag(c) <= 0):
        return np.nan
    k = c.shape[0]
    total = c.sum()
    if not total > 0:
        return np.nan
    return float((1.0 - np.trace(c) / total) * (k / (k - 1)))


# ---------------------------------------------------------------------------------------------
# alpha


def cronbach_alpha(items: pd.DataFrame, *, min_pairwise_n: int = 3) -> AlphaResult:
    """Cronbach's alpha and item statistics exactly as ``psych::alpha(items)`` with its defaults.

    psych's conventions, reproduced here: the covariance matrix ``C`` is R's
    ``cov(x, use = "pairwise")`` (pairwise-complete, n - 1 divisor, see :func:`pairwise_cov`);
    the correlation matrix is ``cov2cor(C)`` (so a diagonal variance uses all answers to that
    item, not only the pair's rows); ``raw_alpha = k/(k-1) (1 - tr C / sum C)``;
    ``std_alpha = k/(k-1) (1 - k / sum R)``; ``g6_smc = 1 - (k - sum smc) / sum R`` with
    ``smc = 1 - 1/diag(R^-1)``; the total score is the mean of the answered items of each
    respondent (``cumulative = FALSE``), ``raw_r`` its pairwise correlation with each item;
    ``r_drop_i = (sum C[, i] - C_ii) / sqrt(C_ii sum C[-i, -i])``;
    ``r_cor = colSums(R*) / sqrt(sum R*)`` with smc on the diagonal of ``R*``.

    Two deliberate differences from psych, both only where psych's number is not meaningful:
    an item without variance is not silently dropped (the result has status
    ``"constant_item"``), and with two items the "alpha if item deleted" table is NaN (psych
    reports ``C12 / C22``, which is not the alpha of one item). As in psych, the sample size
    behind ``ase``, the Feldt interval and ``alpha_se`` is the number of rows, including rows
    with no answer at all (a warning says how many; drop them first if the scale was not asked
    of those respondents).

    A pair of items answered together by fewer than ``min_pairwise_n`` respondents gives
    status ``"too_few_cases"``.
    """
    x, names = _as_item_array(items)
    n_rows = int(x.shape[0])

    def fail(status: str, message: str) -> AlphaResult:
        return AlphaResult(status=status, message=message, items=names, n_rows=n_rows)

    problem = _first_problem(x, names, 2, STATUS_TOO_FEW_ITEMS)
    if problem:
        return fail(*problem)
    c, npair = pairwise_cov(x)
    if npair.min() < max(min_pairwise_n, 2):
        i, j = np.unravel_index(np.argmin(npair), npair.shape)
        return fail(STATUS_TOO_FEW_CASES,
                    f"items {names[i]} and {names[j]} are answered together by {npair[i, j]} respondents "
                    f"(at least {max(min_pairwise_n, 2)} needed)")
    constant = _constant_items(x, names)
    if constant:
        return fail(STATUS_CONSTANT_ITEM, f"items {constant} have no variance; drop them or check the coding")
    if not c.sum() > 0:
        return fail(STATUS_NONPOSITIVE_TOTAL, "the items' covariances sum to a non-positive total variance "
                                              "(items keyed in opposite directions?)")
    k = len(names)
    r = _cov2cor(c)
    with np.errstate(divide="ignore", invalid="ignore"):  # identical items: S/N = Inf, as in psych
        return _alpha_result(x, names, c, r, n_rows)


def _alpha_result(x: np.ndarray, names: tuple[str, ...], c: np.ndarray, r: np.ndarray,
                  n_rows: int) -> AlphaResult:
    k = len(names)
    tot = _alpha_core(c, r)

    # alpha if item deleted
    if k > 2:
        rows = []
        for i in range(k):
            keep = np.arange(k) != i
            d = _alpha_core(c[np.ix_(keep, keep)], r[np.ix_(keep, keep)])
            d["alpha_se"] = np.sqrt(max(d["q"], 0.0) / n_rows) if n_rows > k else np.nan
            rows.append([d[col] for col in ALPHA_DROP_COLUMNS])
        alpha_drop = pd.DataFrame(rows, index=list(names), columns=list(ALPHA_DROP_COLUMNS), dtype=float)
    else:
        alpha_drop = pd.DataFrame(np.nan, index=list(names), columns=list(ALPHA_DROP_COLUMNS), dtype=float)

    # item statistics
    sum_r = r.sum()
    std_r = r.sum(axis=0) / np.sqrt(sum_r)
    rc = r.copy()
    np.fill_diagonal(rc, _smc(r))
    r_cor = rc.sum(axis=0) / np.sqrt(rc.sum())
    r_drop = np.empty(k)
    for i in range(k):
        keep = np.arange(k) != i
        v_drop = c[np.ix_(keep, keep)].sum()
        c_drop = c[:, i].sum() - c[i, i]
        r_drop[i] = c_drop / np.sqrt(c[i, i] * v_drop) if v_drop > 0 else np.nan
    answered = ~np.isnan(x)
    n_empty = int((~answered.any(axis=1)).sum())
    total = np.nanmean(x[answered.any(axis=1)], axis=1)
    answered_rows = answered[answered.any(axis=1)]
    xa = x[answered.any(axis=1)]
    raw_r = np.array([_pearson(total[answered_rows[:, j]], xa[answered_rows[:, j], j]) for j in range(k)])
    item_stats = pd.DataFrame({
        "n": answered.sum(axis=0).astype(float),
        "raw_r": raw_r,
        "std_r": std_r,
        "r_cor": r_cor,
        "r_drop": r_drop,
        "mean": np.nanmean(x, axis=0),
        "sd": np.nanstd(x, axis=0, ddof=1),
    }, index=list(names))

    raw_alpha = float(tot["raw_alpha"])
    df1, df2 = n_rows - 1, (n_rows - 1) * (k - 1)
    feldt_lower = 1 - (1 - raw_alpha) * f_ppf(0.975, df1, df2) if n_rows > 1 else np.nan
    feldt_upper = 1 - (1 - raw_alpha) * f_ppf(0.025, df1, df2) if n_rows > 1 else np.nan

    notes = []
    negative = [names[i] for i in range(k) if r_drop[i] < 0]
    if negative:
        notes.append(f"items {negative} correlate negatively with the rest of the scale; are they reverse-keyed?")
    if n_empty:
        notes.append(f"{n_empty} rows answer none of the items and still count in n for ase and the Feldt "
                     "interval (as in psych); drop them if the scale was not asked of them")
    return AlphaResult(
        status=STATUS_OK, message="", items=names, n_rows=n_rows,
        raw_alpha=raw_alpha, std_alpha=float(tot["std_alpha"]), g6_smc=float(tot["g6_smc"]),
        average_r=float(tot["average_r"]), median_r=float(tot["median_r"]), var_r=float(tot["var_r"]),
        signal_noise=float(tot["signal_noise"]), ase=float(np.sqrt(max(tot["q"], 0.0) / n_rows)),
        mean=float(np.mean(total)), sd=float(np.std(total, ddof=1)) if n_rows > 1 else np.nan,
        feldt_lower=float(feldt_lower), feldt_upper=float(feldt_upper),
        alpha_drop=alpha_drop, item_stats=item_stats, warnings=tuple(notes),
    )


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return np.nan
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / den) if den > 0 else np.nan


# ---------------------------------------------------------------------------------------------
# one-factor ML model and omega


def _omega_cov(x: np.ndarray, use: Use) -> tuple[np.ndarray, int]:
    if use == "complete":
        xc = x[~np.isnan(x).any(axis=1)]
        n = xc.shape[0]
        if n < 2:
            return np.full((x.shape[1], x.shape[1]), np.nan), n
        xc = xc - xc.mean(axis=0)
        return (xc.T @ xc) / n, n
    cov, npair = pairwise_cov(x)
    return cov, int(npair.min())


def _omega_unfit(cov: np.ndarray, n: int, names: tuple[str, ...], min_n: int) -> tuple[str, str] | None:
    """Why a one-factor model cannot be fitted to ``cov`` (status and message), None when it can."""
    k = cov.shape[0]
    if n < max(min_n, k + 1):
        return STATUS_TOO_FEW_CASES, f"{n} cases, at least {max(min_n, k + 1)} needed for {k} items"
    diag = np.diag(cov)
    flat = [names[j] for j in range(k) if not diag[j] > 0]
    if flat:
        return STATUS_CONSTANT_ITEM, f"items {flat} have no variance among the cases used"
    if np.isnan(cov).any():
        return STATUS_TOO_FEW_CASES, "some pairs of items are never answered together"
    r = _cov2cor(cov)
    ev = np.linalg.eigvalsh(r)
    if not ev[0] > 1e-10 * ev[-1]:
        return STATUS_NOT_POSITIVE_DEFINITE, "the item covariance matrix is not positive definite"
    return None


def _omega_from_cov(cov: np.ndarray, n: int, names: tuple[str, ...], min_n: int, start: np.ndarray | None = None,
                    warm: object = _NOT_GIVEN) -> tuple[str, str, OneFactorFit | None]:
    unfit = _omega_unfit(cov, n, names, min_n)
    if unfit is not None:
        return (*unfit, None)
    fit = one_factor_ml(cov, start, warm)
    if not fit.converged:
        return STATUS_NOT_CONVERGED, "the one-factor ML fit did not converge", fit
    return STATUS_OK, "", fit


def omega_total(items: pd.DataFrame, *, use: Use = "complete", min_n: int = 10) -> OmegaResult:
    """McDonald's omega total from a one-factor maximum-likelihood model.

    Convention: the congeneric model ``Sigma = lambda lambda' + diag(theta)`` with the factor
    variance fixed to 1 is fitted by normal-theory ML, and
    ``omega = (sum lambda)^2 / ((sum lambda)^2 + sum theta)``, the model-implied share of the
    total-score variance due to the factor (no residual covariances). This is
    ``lavaan::cfa("f =~ i1 + ... + ik", std.lv = TRUE)`` followed by that formula:

    * ``use="complete"`` (default, lavaan's default ``missing = "listwise"``): rows with every
      item answered, covariance with divisor N;
    * ``use="pairwise"``: the pairwise-complete covariance matrix (:func:`pairwise_cov`,
      divisor n - 1) as in ``cfa(sample.cov = S, sample.nobs = min pairwise n,
      sample.cov.rescale = FALSE)``. Keeps more of the data when answers are missing
      here and there; the chi-square then uses the smallest pairwise n.

    Omega does not depend on the divisor; the loadings do (they are in the items' metric).
    This is not ``psych::omega(nfactors = 1)``, which fits minres on the correlations and puts
    the observed total variance in the denominator. ``chisq``/``df``/``pvalue`` are the ML
    test of the one-factor model (lavaan's ``chisq = 2 N fmin``).

    Needs at least 3 items (``"not_identified"`` otherwise) and at least ``max(min_n, k + 1)``
    cases. A Heywood case (a uniqueness on its lower bound) keeps status ``"ok"`` but sets
    ``heywood`` and adds a warning: lavaan would report a negative variance there instead.
    """
    if use not in ("complete", "pairwise"):
        raise PipelineError(f"omega: use must be 'complete' or 'pairwise', got {use!r}")
    x, names = _as_item_array(items)
    k = len(names)

    def fail(status: str, message: str, n: int = 0) -> OmegaResult:
        return OmegaResult(status=status, message=message, items=names, use=use, n=n)

    problem = _first_problem(x, names, 3, STATUS_NOT_IDENTIFIED)
    if problem:
        return fail(*problem)
    cov, n = _omega_cov(x, use)
    constant = _constant_items(x, names)
    if constant and n >= max(min_n, k + 1):
        return fail(STATUS_CONSTANT_ITEM, f"items {constant} have no variance; drop them or check the coding", n)
    status, message, fit = _omega_from_cov(cov, n, names, min_n)
    if status != STATUS_OK or fit is None:
        return fail(status, message, n)
    lam, theta = fit.loadings, fit.residual_variances
    omega = float(lam.sum() ** 2 / (lam.sum() ** 2 + theta.sum()))
    df = k * (k + 1) // 2 - 2 * k
    chisq = 2.0 * n * fit.fmin
    notes = []
    if fit.heywood:
        hw = [names[j] for j in range(k) if fit.residual_variances[j] / np.diag(cov)[j] <= _PSI_LOWER * (1 + 1e-6)]
        notes.append(f"Heywood case: residual variance of {hw} is on its lower bound")
    if (fit.loadings < 0).any():
        neg = [names[j] for j in range(k) if fit.loadings[j] < 0]
        notes.append(f"items {neg} load negatively; are they reverse-keyed?")
    return OmegaResult(
        status=STATUS_OK, message="", items=names, use=use, n=n, omega_total=omega,
        loadings=pd.Series(lam, index=list(names)),
        residual_variances=pd.Series(theta, index=list(names)),
        std_loadings=pd.Series(fit.std_loadings, index=list(names)),
        chisq=float(chisq), df=df, pvalue=float(chi2_sf(chisq, df)) if df > 0 else np.nan,
        fmin=fit.fmin, converged=fit.converged, heywood=fit.heywood, warnings=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------
# cluster bootstrap


def cluster_bootstrap(
    items: pd.DataFrame,
    clusters: pd.Series,
    *,
    rng: np.random.Generator | int,
    n_replications: int = 1000,
    level: float = 0.95,
    statistics: Sequence[str] = ("alpha", "omega"),
    omega_use: Use = "complete",
    min_n: int = 10,
    parallel: ParallelSettings | int | None = None,
) -> ReliabilityBootstrap:
    """Percentile intervals for raw alpha and omega total, resampling whole clusters.

    Each replication draws as many clusters as there are, with replacement and equal
    probability, and stacks all their rows (a respondent's cluster is, e.g., the community);
    the statistics are recomputed with the same conventions as :func:`cronbach_alpha`
    (``raw_alpha``) and :func:`omega_total` (with ``omega_use``). The interval is the
    ``(1 - level)/2`` and ``(1 + level)/2`` quantiles of the usable replications (numpy's
    default linear interpolation, R's type 7). Deterministic given ``rng``: pass a
    ``numpy.random.Generator`` or an integer seed (never the clock); every statistic uses the
    same resamples.

    ``clusters`` must have the same index as ``items``; rows with a missing cluster id are an
    error. Distinct ids for every row resample respondents (the bootstrap without clusters). A replication whose resample is degenerate (e.g. an item without variance) gives
    NaN and counts in ``n_failed``; an interval with fewer than two usable replications has
    status ``"bootstrap_failed"``; fewer than two clusters gives ``"too_few_clusters"``; a
    degenerate full-data statistic gives its own status and no replications are drawn.
    The replications are computed where ``parallel`` says (:mod:`pipeline.core.parallel`;
    None: here), all drawn here first: the same intervals anywhere.
    """
    x, names = _as_item_array(items)
    _check_bootstrap_args(items, clusters, rng, n_replications, level, statistics)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))
    n_clusters, order, bounds = _cluster_rows(clusters)

    full: dict[str, tuple[str, str, float]] = {}
    if "alpha" in statistics:
        a = cronbach_alpha(items)
        full["alpha"] = (a.status, a.message, a.raw_alpha)
    if "omega" in statistics:
        o = omega_total(items, use=omega_use, min_n=min_n)
        full["omega"] = (o.status, o.message, o.omega_total)

    runnable = tuple(s for s in full if full[s][0] == STATUS_OK)
    reps = {s: np.full(int(n_replications), np.nan) for s in full}
    if n_clusters >= 2 and runnable:
        draws = [gen.integers(0, n_clusters, size=n_clusters) for _ in range(int(n_replications))]
        settings = as_settings(parallel)
        chunks = [draws[i::8] for i in range(8)] if settings.parallel and len(draws) > 8 else [draws]
        moments = cluster_moments(x, order, bounds, complete="omega" in runnable and omega_use == "complete")
        task = partial(_replications, moments=moments, n_clusters=n_clusters, statistics=runnable, use=omega_use,
                       min_n=min_n, start=_full_uniquenesses(x, omega_use, min_n))
        values = run_tasks(task, chunks, settings)
        for i, chunk in enumerate(values):                # chunk i holds replications i, i + 8, ...
            for j, s in enumerate(runnable):
                reps[s][i::len(chunks)] = chunk[:, j]

    intervals = {s: _percentile_interval(s, status, message, estimate, reps[s], n_clusters, level)
                 for s, (status, message, estimate) in full.items()}
    return ReliabilityBootstrap(intervals=intervals, n_clusters=n_clusters, n_rows=int(x.shape[0]))


def _full_uniquenesses(x: np.ndarray, use: Use, min_n: int) -> np.ndarray | None:
    """The full data's one-factor uniquenesses on the correlation scale (where the bootstrap's
    omega fits start), None when there is no usable fit."""
    cov, n = _omega_cov(x, use)
    if x.shape[1] < 3:
        return None
    status, _, fit = _omega_from_cov(cov, n, tuple(str(j) for j in range(x.shape[1])), min_n)
    return None if fit is None or status != STATUS_OK else fit.residual_variances / np.diag(cov)


def _replications(draws: Sequence[np.ndarray], moments: ClusterMoments, n_clusters: int, statistics: tuple[str, ...],
                  use: Use, min_n: int, start: np.ndarray | None = None) -> np.ndarray:
    """The ``statistics`` of the resamples ``draws`` (drawn cluster numbers), from the clusters'
    sums (:mod:`pipeline.stats.clustermoments`): one row per draw; omega's fits start from
    ``start`` (:func:`one_factor_ml`). A task of :func:`cluster_bootstrap`, so a worker process
    can run it."""
    out = np.full((len(draws), len(statistics)), np.nan)
    names = tuple(str(j) for j in range(moments.k))
    fits = []                                   # (row, column, covariance) of the omegas to fit
    for b, drawn in enumerate(draws):
        weights = np.bincount(drawn, minlength=n_clusters).astype(float)
        pair = pairwise_cov_of(moments, weights) if "alpha" in statistics or use == "pairwise" else None
        for j, s in enumerate(statistics):
            if s == "alpha":
                out[b, j] = _raw_alpha_of(*pair)
                continue
            cov, n = complete_cov_of(moments, weights) if use == "complete" else (pair[0], int(pair[1].min()))
            if _omega_unfit(cov, n, names, min_n) is None:
                fits.append((b, j, cov))
    # Newton's method from ``start`` for all the resamples at once (the same numbers as one by one)
    warm: list[object] = [_NOT_GIVEN] * len(fits)
    if start is not None and fits:
        covs = np.stack([cov for _, _, cov in fits])
        sd = np.sqrt(np.diagonal(covs, axis1=1, axis2=2))
        warm = list(warm_uniquenesses_many(start, covs / (sd[:, :, None] * sd[:, None, :])))
    for (b, j, cov), w in zip(fits, warm):
        fit = one_factor_ml(cov, start, w)
        if fit.converged:
            lam = fit.loadings.sum()
            out[b, j] = float(lam ** 2 / (lam ** 2 + fit.residual_variances.sum()))
    return out


def _check_bootstrap_args(items: pd.DataFrame, clusters: pd.Series, rng: np.random.Generator | int,
                          n_replications: int, level: float, statistics: Sequence[str]) -> None:
    """Raise :class:`PipelineError` for the arguments of :func:`cluster_bootstrap` it cannot use."""
    if not isinstance(clusters, pd.Series):
        raise PipelineError("cluster_bootstrap: clusters must be a pandas Series aligned with the items")
    if not clusters.index.equals(items.index):
        raise PipelineError("cluster_bootstrap: the cluster ids do not have the same index as the items")
    if clusters.isna().any():
        raise PipelineError(f"cluster_bootstrap: {int(clusters.isna().sum())} rows have no cluster id")
    unknown = [s for s in statistics if s not in ("alpha", "omega")]
    if unknown:
        raise PipelineError(f"cluster_bootstrap: unknown statistics {unknown} (use 'alpha' and/or 'omega')")
    if not 0 < level < 1:
        raise PipelineError(f"cluster_bootstrap: level must be between 0 and 1, got {level}")
    if int(n_replications) < 1:
        raise PipelineError("cluster_bootstrap: n_replications must be at least 1")
    if not isinstance(rng, (np.random.Generator, int, np.integer)) or isinstance(rng, bool):
        raise PipelineError("cluster_bootstrap: rng must be a numpy Generator or an integer seed "
                            "(from params.yaml), never None")


def _cluster_rows(clusters: pd.Series) -> tuple[int, np.ndarray, np.ndarray]:
    """The number of clusters (ids sorted), the row positions ordered by cluster (row order
    within a cluster) and where each cluster's rows start in that order (and the end): cluster
    g's rows are ``order[bounds[g]:bounds[g + 1]]``."""
    codes, uniques = pd.factorize(clusters, sort=True)
    n_clusters = len(uniques)
    order = np.argsort(codes, kind="stable")          # the rows of each cluster, in row order
    bounds = np.searchsorted(codes[order], np.arange(n_clusters + 1))
    return n_clusters, order, bounds


def _percentile_interval(s: str, status: str, message: str, estimate: float, values: np.ndarray,
                         n_clusters: int, level: float) -> BootstrapInterval:
    """The percentile interval of statistic ``s`` from its replications ``values`` (NaN for a
    degenerate resample), or the status saying why there is none."""
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    good = values[np.isfinite(values)]
    n_failed = int(values.size - good.size)
    lower = upper = np.nan
    if status != STATUS_OK:
        values = np.full(0, np.nan)
        n_failed = 0
    elif n_clusters < 2:
        status, message = STATUS_TOO_FEW_CLUSTERS, f"{n_clusters} cluster(s); the cluster bootstrap needs 2 or more"
        values = np.full(0, np.nan)
        n_failed = 0
    elif good.size < 2:
        status = STATUS_BOOTSTRAP_FAILED
        message = f"only {good.size} of {values.size} replications gave a usable {s}"
    else:
        lower, upper = (float(v) for v in np.quantile(good, [lo_q, hi_q]))
        if n_failed:
            message = f"{n_failed} of {values.size} replications were degenerate and left out"
    return BootstrapInterval(
        statistic=s, status=status, message=message, estimate=float(estimate), lower=lower, upper=upper,
        level=float(level), n_replications=int(values.size), n_failed=n_failed, replicates=values,
    )

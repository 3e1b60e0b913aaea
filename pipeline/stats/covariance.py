"""Covariance and tables: the sandwich (HC0/HC1, CR1 as R's sandwich computes it), CR2 with
Satterthwaite degrees of freedom (clubSandwich), the tidy coefficient rows and the fit row every
model returns. Conventions: :mod:`pipeline.stats.fit`."""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from pipeline.core.digits import rounded
from pipeline.stats.frame import _sorted_text_codes
from pipeline.stats.spec import CLUSTER_COVARIANCES, ModelSpec, _err

COEF_COLUMNS = ("model", "term", "estimate", "std_error", "statistic", "df", "p_value",
                "conf_low", "conf_high", "cov_type")
COMPONENT_COLUMNS = ("model", "group", "kind", "term1", "term2", "estimate")
FIT_FIELDS = ("model", "label", "hypothesis", "outcome", "formula", "family", "estimator",
              "cov_type", "cluster", "n_clusters", "weights", "weight_kind", "n_obs", "n_dropped",
              "n_groups", "reml", "standardized", "r2", "adj_r2", "pseudo_r2", "loglik",
              "n_params", "aic", "bic", "sigma", "icc", "var_intercept", "residual_var", "t_df",
              "optimizer", "converged", "status")

STATUS_OK = "ok"
FEW_CLUSTERS = 20  # below this many clusters a cluster-robust variance is flagged as unreliable


def _cluster_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0..G-1 of the clusters in the order of their sorted values, and G. A column is
    read as it is (a text column by Arrow: the same order as its values as Python strings),
    a categorical one by its values (not its categories' order), anything else as a Series."""
    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    elif isinstance(values.dtype, pd.CategoricalDtype):
        values = pd.Series(values.to_numpy())
    else:
        found = _sorted_text_codes(values, index=False)   # Arrow's encoding, without factorize
        if found is not None and not (found[0] < 0).any():
            return found[0], int(found[1])
    codes, uniques = pd.factorize(values, sort=True)
    return codes, len(uniques)


def _cluster_ids(spec: ModelSpec, frame: pd.DataFrame) -> tuple[np.ndarray, int] | None:
    """The clusters of a cluster-robust fit as :func:`_cluster_codes` (None for other
    covariances), worked out once for the fit."""
    if spec.cluster is None or spec.covariance not in CLUSTER_COVARIANCES:
        return None
    return _cluster_codes(frame[spec.cluster])


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
        return _cluster_sandwich(bread, scores, kind, *_cluster_codes(clusters))
    else:
        raise ValueError(f"unknown sandwich kind {kind!r}")
    V = factor * bread @ meat @ bread
    return (V + V.T) / 2


def _cluster_sandwich(bread: np.ndarray, scores: np.ndarray, kind: str, codes: np.ndarray,
                      G: int) -> np.ndarray:
    """:func:`sandwich` of a ``cluster`` or ``cluster_hc0`` kind, from the clusters' codes."""
    n, k = scores.shape
    summed = np.stack([np.bincount(codes, weights=column, minlength=G) for column in scores.T], axis=1)
    meat = summed.T @ summed
    factor = G / (G - 1) * ((n - 1) / (n - k) if kind == "cluster" else 1.0)
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


def _adjusted_design(Xj: np.ndarray, wj: np.ndarray, B: np.ndarray, Omega: np.ndarray, weighted: bool) -> np.ndarray:
    """E_j = X_j'W_j G_j^(-1/2) of :func:`cr2` without the n_j x n_j matrix: G_j - I lies in the
    span of X_j and W_j X_j (H_jj = X_j B X_j'W_j, its transpose and X_j Omega X_j'), so with U an
    orthonormal basis of that span (QR; at most 2p columns) G_j = I + U C U' and
    G_j^(-1/2) = I + U ((I + C)^(-1/2) - I) U', the power taken of the small matrix I + C as
    :func:`_sym_power` takes it (eigenvalues at or below its tolerance set to zero; outside the
    span every eigenvalue is 1). The same matrix as the eigendecomposition of G_j up to rounding
    (tests/test_covariance.py), in O(n_j p^2) instead of O(n_j^3): the benchmark study's clusters
    of 100 respondents made CR2 an eigendecomposition of a 100 x 100 matrix per community."""
    XW = Xj * wj[:, None]
    U = np.linalg.qr(np.hstack([Xj, XW]) if weighted else Xj)[0]
    P, Pw = U.T @ Xj, U.T @ XW
    PBPw = P @ B @ Pw.T
    inner = np.eye(U.shape[1]) - PBPw - PBPw.T + P @ Omega @ P.T
    D = _sym_power(inner, -0.5) - np.eye(U.shape[1])
    return XW.T + ((XW.T @ U) @ D) @ U.T


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
    E_list, X_list, w_list = [], [], []      # each cluster's rows, gathered once
    for rows in groups:
        Xj, wj = X[rows], w[rows]
        X_list.append(Xj)
        w_list.append(wj)
        E_list.append(_adjusted_design(Xj, wj, B, Omega, weighted=weights is not None))  # p x n_j
    comps = np.column_stack([E @ e[rows] for E, rows in zip(E_list, groups)])  # p x J
    V = B @ (comps @ comps.T) @ B
    V = (V + V.T) / 2
    # Satterthwaite: for coefficient i and clusters j, l with a_j = row i of B E_j,
    # r_j = X_j'a_j, s_j = X_j'W_j a_j:
    # P_i[j, l] = r_j'Omega r_l - r_j'B s_l - s_j'B r_l (+ a_j'a_j on the diagonal)
    ME = [B @ E for E in E_list]
    df = np.empty(p)
    for i in range(p):
        R = np.vstack([Xj.T @ me[i] for me, Xj in zip(ME, X_list)])  # J x p
        S = np.vstack([Xj.T @ (wj * me[i]) for me, Xj, wj in zip(ME, X_list, w_list)])
        RBS = R @ B @ S.T
        P = R @ Omega @ R.T - RBS - RBS.T
        P[np.diag_indices(G)] += np.array([me[i] @ me[i] for me in ME])
        df[i] = np.trace(P) ** 2 / np.sum(P ** 2)
    return V, df


def _coef_table(model_id: str, params: pd.Series, V: np.ndarray, cov_type: str,
                t_df: float | np.ndarray | None, level: float) -> pd.DataFrame:
    """Tidy coefficient rows. ``t_df``: None for normal (z) inference, one number for t with
    that many degrees of freedom for every term, or one number per term (Satterthwaite,
    between-within); the ``df`` column holds it (NaN for z). The statistic, p-value and bounds are
    computed from the estimate and standard error rounded to 10 significant digits (as they are
    written), so they follow the stored numbers exactly: a last-digit difference between CPUs
    cannot reach the 10th digit of a tail p-value or of a bound near zero."""
    est = rounded(params.to_numpy(float))
    with np.errstate(invalid="ignore"):
        se = rounded(np.sqrt(np.diag(V)))
        stat = est / se
    # scipy.special's functions that scipy.stats.norm and .t call (the same numbers, bit for
    # bit, without the distribution objects' argument handling)
    if t_df is None:
        df = np.full(len(est), np.nan)
        p = 2 * special.ndtr(-np.abs(stat))
        q = special.ndtri(0.5 + level / 2)
    else:
        df = np.broadcast_to(np.asarray(t_df, dtype=float), est.shape).copy()
        p = 2 * special.stdtr(df, -np.abs(stat))
        q = special.stdtrit(df, 0.5 + level / 2)
    terms = params.index
    n = len(est)
    table = pd.DataFrame({      # whole columns, not scalars to broadcast: pandas builds them faster
        "model": pd.array([model_id] * n, dtype="str"),
        "term": terms.array if terms.dtype == "str" else list(terms),
        "estimate": est, "std_error": se, "statistic": stat, "df": df, "p_value": p,
        "conf_low": est - q * se, "conf_high": est + q * se,
        "cov_type": pd.array([cov_type] * n, dtype="str"),
    }, copy=False)                         # in the order of COEF_COLUMNS
    return table


@lru_cache(maxsize=1)
def _no_components() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c == "estimate" else object)
                         for c in COMPONENT_COLUMNS})


def _empty_components() -> pd.DataFrame:
    return _no_components().copy()


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
                         classical: np.ndarray, clusters: tuple[np.ndarray, int] | None,
                         flags: list[str]) -> tuple[np.ndarray, int | None]:
    """The covariance the spec asks for, and the number of clusters (None without).
    ``clusters``: the codes and number of the clusters (:func:`_cluster_ids`)."""
    if spec.covariance == "classical":
        return classical, None
    if spec.covariance in ("hc0", "hc1"):
        return sandwich(bread, scores, spec.covariance), None
    codes, G = clusters
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
    return _cluster_sandwich(bread, scores, kind, codes, G), G

"""The sums a resample's item covariances are made of, per cluster, so that a cluster-bootstrap
replication costs one weighted sum over the clusters instead of a pass over its stacked rows.

A replication draws clusters with replacement; the covariance matrices alpha and omega need
(:func:`pipeline.stats.reliability.pairwise_cov`, the complete cases' covariance) are functions
of sums over the resample's rows: pair counts, cross products and sums of the answers. Each such
sum over the stacked rows is the sum over clusters of (times drawn) x (the cluster's own sum), so
the clusters' sums are computed once and a replication is one matrix-vector product: for the
benchmark study (182,064 respondents in 2,000 communities) a pass over 2,000 rows of sums, not
over 182,064 rows of items. The answers are centred on the full data's means (covariances do not
depend on the centre; the resample's own means are one more sum), so the sums stay accurate. The
same covariances as from the stacked rows up to the order of the floating-point additions (last
digits; tests/test_reliability.py replays resamples row by row).

An item with no variance in a resample must be seen as exactly that (a degenerate replication),
which sums of centred values cannot tell from a variance of 1e-17: the clusters' smallest and
largest answers are kept beside the sums, and an item whose resample minimum equals its maximum
gets exactly zero variance and covariances, as the stacked rows give.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK_ROWS = 8192      # rows whose outer products are formed at once (memory: rows x items^2 x 3)


@dataclass(frozen=True)
class ClusterMoments:
    """Per cluster (rows of every array, clusters in the bootstrap's order): ``pair`` the
    pairwise sums (count m'm, cross products z'z, sums z'm; flattened, 3 k^2 columns), ``lo`` /
    ``hi`` the smallest and largest answer per item (+inf / -inf: none); with ``complete``, the
    same over the rows with every item answered: ``comp`` (count, sums z, cross products z'z:
    1 + k + k^2 columns), ``clo`` / ``chi``."""

    k: int
    pair: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    comp: np.ndarray | None = None
    clo: np.ndarray | None = None
    chi: np.ndarray | None = None


def cluster_moments(x: np.ndarray, order: np.ndarray, bounds: np.ndarray, complete: bool) -> ClusterMoments:
    """The sums of each cluster: its rows are ``order[bounds[g]:bounds[g + 1]]`` (every cluster
    has at least one row); ``complete``: the complete cases' sums too."""
    k = x.shape[1]
    mask = ~np.isnan(x)
    count = mask.sum(axis=0)
    centre = np.where(mask, x, 0.0).sum(axis=0) / np.maximum(count, 1)
    n_clusters = len(bounds) - 1
    pair = np.empty((n_clusters, 3 * k * k))
    comp = np.empty((n_clusters, 1 + k + k * k)) if complete else None
    lo, hi = np.full((n_clusters, k), np.inf), np.full((n_clusters, k), -np.inf)
    clo, chi = (lo.copy(), hi.copy()) if complete else (None, None)
    for g0, g1 in _blocks(bounds):
        rows = order[bounds[g0]:bounds[g1]]
        starts = bounds[g0:g1] - bounds[g0]
        xb, mb = x[rows], mask[rows]
        z = np.where(mb, xb - centre, 0.0)
        m = mb.astype(float)
        outer = np.concatenate([(m[:, :, None] * m[:, None, :]).reshape(len(rows), -1),
                                (z[:, :, None] * z[:, None, :]).reshape(len(rows), -1),
                                (z[:, :, None] * m[:, None, :]).reshape(len(rows), -1)], axis=1)
        pair[g0:g1] = np.add.reduceat(outer, starts, axis=0)
        lo[g0:g1] = np.minimum.reduceat(np.where(mb, xb, np.inf), starts, axis=0)
        hi[g0:g1] = np.maximum.reduceat(np.where(mb, xb, -np.inf), starts, axis=0)
        if complete:
            full = mb.all(axis=1)
            zc = np.where(full[:, None], z, 0.0)
            feats = np.concatenate([full[:, None].astype(float), zc,
                                    (zc[:, :, None] * zc[:, None, :]).reshape(len(rows), -1)], axis=1)
            comp[g0:g1] = np.add.reduceat(feats, starts, axis=0)
            clo[g0:g1] = np.minimum.reduceat(np.where(full[:, None], xb, np.inf), starts, axis=0)
            chi[g0:g1] = np.maximum.reduceat(np.where(full[:, None], xb, -np.inf), starts, axis=0)
    return ClusterMoments(k, pair, lo, hi, comp, clo, chi)


def _blocks(bounds: np.ndarray) -> list[tuple[int, int]]:
    """Runs of whole clusters ``[g0, g1)`` of at most BLOCK_ROWS rows (or one larger cluster)."""
    out, g0, n_clusters = [], 0, len(bounds) - 1
    while g0 < n_clusters:
        g1 = int(np.searchsorted(bounds, bounds[g0] + BLOCK_ROWS, side="right")) - 1
        g1 = min(max(g1, g0 + 1), n_clusters)
        out.append((g0, g1))
        g0 = g1
    return out


def _constant(weights: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per item: all the drawn clusters' answers are one value (or there are none)."""
    drawn = weights > 0
    return lo[drawn].min(axis=0) >= hi[drawn].max(axis=0)


def pairwise_cov_of(mom: ClusterMoments, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The resample's pairwise-complete covariance matrix and pair counts (as
    :func:`pipeline.stats.reliability.pairwise_cov` of its stacked rows); ``weights``: how many
    times each cluster is drawn."""
    k = mom.k
    n, sxy, sx = (weights @ mom.pair).reshape(3, k, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (sxy - sx * sx.T / n) / (n - 1)
    flat = _constant(weights, mom.lo, mom.hi)
    cov[flat, :] = 0.0
    cov[:, flat] = 0.0
    cov[n < 2] = np.nan
    return cov, np.rint(n).astype(int)


def complete_cov_of(mom: ClusterMoments, weights: np.ndarray) -> tuple[np.ndarray, int]:
    """The resample's covariance matrix over its complete cases (divisor N) and N, as
    ``reliability._omega_cov(x, "complete")`` of its stacked rows."""
    k = mom.k
    s = weights @ mom.comp
    n = int(round(s[0]))
    if n < 2:
        return np.full((k, k), np.nan), n
    mean = s[1:1 + k] / n
    cov = s[1 + k:].reshape(k, k) / n - np.outer(mean, mean)
    flat = _constant(weights, mom.clo, mom.chi)
    cov[flat, :] = 0.0
    cov[:, flat] = 0.0
    return cov, n

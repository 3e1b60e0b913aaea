"""The DMM Gibbs sampler as it was before it was compiled (pipeline/text/topicmodel.py up to
commit 7d8d96a): plain numpy, one document at a time. Kept as the reference the compiled sampler
(pipeline/text/gsdmm.py) must match to the bit (tests/test_topics_speed.py) and as the "before"
of benchmarks/bench_topics.py. Not used by the pipeline."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse


class _DMMState:
    """Sufficient statistics of a DMM assignment: documents per topic (m), word counts per topic
    (nkw), tokens per topic (nk)."""

    def __init__(self, k: int, V: int):
        self.m, self.nkw, self.nk = np.zeros(k), np.zeros((k, V)), np.zeros(k)

    def add(self, t: int, w: np.ndarray, c: np.ndarray, nd: float, sign: float = 1.0) -> None:
        self.m[t] += sign
        self.nkw[t, w] += sign * c
        self.nk[t] += sign * nd


def _gibbs_sweeps(docs: Sequence[int], z: np.ndarray, st: _DMMState, words, counts, ones, length, alpha: float,
                  beta: float, n_sweeps: int, rng: np.random.Generator) -> None:
    """``n_sweeps`` collapsed Gibbs sweeps over ``docs`` (in order), updating ``z`` and ``st``."""
    from scipy.special import gammaln

    vb = st.nkw.shape[1] * beta
    k = len(st.m)
    for _ in range(n_sweeps):
        u = rng.random(len(docs))
        for i, d in enumerate(docs):
            w, c, old, nd = words[d], counts[d], z[d], length[d]
            st.add(old, w, c, nd, -1.0)
            sub = st.nkw[:, w] + beta
            word_part = np.log(sub).sum(axis=1) if ones[d] else (gammaln(sub + c) - gammaln(sub)).sum(axis=1)
            logp = np.log(st.m + alpha) + word_part - (gammaln(st.nk + vb + nd) - gammaln(st.nk + vb))
            p = np.exp(logp - logp.max())
            cum = np.cumsum(p)
            new = min(int(np.searchsorted(cum, u[i] * cum[-1], side="right")), k - 1)
            z[d] = new
            st.add(new, w, c, nd)


def _topic_score(m: np.ndarray, nkw: np.ndarray, nk: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Each topic's term of the collapsed log joint (0 for an empty topic):
    log G(m + a) - log G(a) + log G(V b) - log G(n + V b) + sum_w [log G(n_w + b) - log G(b)]."""
    from scipy.special import gammaln

    V = nkw.shape[-1]
    return (gammaln(m + alpha) - gammaln(alpha) + gammaln(V * beta) - gammaln(nk + V * beta)
            + (gammaln(nkw + beta) - gammaln(beta)).sum(axis=-1))


def _split_merge(z: np.ndarray, st: _DMMState, words, counts, ones, length, alpha: float, beta: float,
                 rng: np.random.Generator, split_sweeps: int = 10) -> bool:
    """One greedy split-merge move at fixed K: merge the pair of topics and split the topic (into
    two, by a restricted two-topic Gibbs run on its documents) whose combined change of the
    collapsed log joint is largest; an empty topic can take a split without a merge. Applied only
    when it raises the log joint. Returns whether a move was made.

    Gibbs sampling changes one document at a time and cannot leave a mode in which two real
    clusters share a topic while another real cluster is split in two (moving the documents one
    by one lowers the probability on the way): the sampler "gets stuck". Split-merge moves (Jain
    & Neal 2004) change many documents at once; this greedy version climbs to a better mode."""
    k, V = st.nkw.shape
    score = _topic_score(st.m, st.nkw, st.nk, alpha, beta)
    # splits: the best two-way split of every topic with two or more documents
    split_gain = np.full(k, -np.inf)
    splits: dict[int, np.ndarray] = {}
    for t in range(k):
        docs = np.flatnonzero(z == t)
        if len(docs) < 2:
            continue
        sub = _DMMState(2, V)
        zz = np.zeros(len(z), dtype=int)
        zz[docs] = rng.integers(0, 2, size=len(docs))
        for d in docs:
            sub.add(zz[d], words[d], counts[d], length[d])
        _gibbs_sweeps(docs, zz, sub, words, counts, ones, length, alpha, beta, split_sweeps, rng)
        if sub.m.min() == 0:
            continue
        split_gain[t] = _topic_score(sub.m, sub.nkw, sub.nk, alpha, beta).sum() - score[t]
        splits[t] = docs[zz[docs] == 1]
    # merges: every pair; an empty topic is a free slot (gain 0)
    best = (0.0, None, None, None)            # (gain, keep, emptied, split topic)
    empty = [t for t in range(k) if st.m[t] == 0]
    for t in splits:
        if empty and split_gain[t] > best[0] + 1e-9:
            best = (split_gain[t], None, empty[0], t)
    for a in range(k):
        for b in range(a + 1, k):
            if st.m[a] == 0 or st.m[b] == 0:
                continue
            merged = _topic_score(st.m[a] + st.m[b], st.nkw[a] + st.nkw[b], st.nk[a] + st.nk[b], alpha, beta)
            g_merge = float(merged - score[a] - score[b])
            for t in splits:
                if t in (a, b):
                    continue
                if g_merge + split_gain[t] > best[0] + 1e-9:
                    best = (g_merge + split_gain[t], a, b, t)
    gain, keep, freed, t = best
    if t is None:
        return False
    if keep is not None:                      # merge: the documents of `freed` join `keep`
        for d in np.flatnonzero(z == freed):
            st.add(freed, words[d], counts[d], length[d], -1.0)
            st.add(keep, words[d], counts[d], length[d])
            z[d] = keep
    for d in splits[t]:                       # split: one half of t moves to the freed topic
        st.add(t, words[d], counts[d], length[d], -1.0)
        st.add(freed, words[d], counts[d], length[d])
        z[d] = freed
    return True


def fit_dmm(X: sparse.spmatrix, k: int, random_state: int, alpha: float = 0.1, beta: float = 0.1,
            n_iter: int = 30, split_merge: int = 0,
            init: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pipeline.text.topicmodel.fit_dmm as it was: (phi, pi, z)."""
    X = sparse.csr_matrix(X)
    n, V = X.shape
    rng = np.random.default_rng(random_state)
    words = [X.indices[X.indptr[d]:X.indptr[d + 1]] for d in range(n)]
    counts = [X.data[X.indptr[d]:X.indptr[d + 1]].astype(float) for d in range(n)]
    ones = [bool((c == 1).all()) for c in counts]
    length = np.asarray(X.sum(axis=1), dtype=float).ravel()
    z = rng.integers(0, k, size=n) if init is None else np.asarray(init, dtype=np.int64).copy()
    st = _DMMState(k, V)
    for d in range(n):
        st.add(z[d], words[d], counts[d], length[d])
    order = range(n)
    _gibbs_sweeps(order, z, st, words, counts, ones, length, alpha, beta, n_iter, rng)
    for _ in range(split_merge):
        if not _split_merge(z, st, words, counts, ones, length, alpha, beta, rng):
            break
        _gibbs_sweeps(order, z, st, words, counts, ones, length, alpha, beta, max(2, n_iter // 4), rng)
    phi = (st.nkw + beta) / (st.nk[:, None] + V * beta)
    pi = (st.m + alpha) / (n + k * alpha)
    return phi, pi, z

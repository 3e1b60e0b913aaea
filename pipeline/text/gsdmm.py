"""The collapsed Gibbs sampler of the Dirichlet multinomial mixture (GSDMM) and its greedy
split-merge move, with the document loops compiled by numba (the DMM itself:
:func:`pipeline.text.topicmodel.fit_dmm`).

Gibbs sampling is sequential (each document's draw depends on every draw before it), so the
sweep cannot be vectorised over documents; in numpy every document cost a dozen small array
operations (tens of microseconds of interpreter time for a few hundred floating-point
operations). Compiled, the sweep runs at the speed of its arithmetic, as in the published
GSDMM implementations (Yin & Wang's Java code, the C++/Rust ports). The random numbers are still
drawn in Python by the fit's ``numpy.random.Generator``, in the same order, and passed in.

The numbers are those of the numpy code this replaces, to the bit, so a seed gives the same
assignments as before: ``log`` and ``gammaln`` of counts plus a prior are looked up in tables
made by numpy and scipy (:class:`DMMDocs`), other ``gammaln`` values come from the very C
function scipy's ufunc calls (``scipy.special.cython_special.gammaln``), ``exp`` is the C
library's (as numpy's on an x86-64-v2 machine, see README "Determinism"), and sums over words
take numpy's pairwise order (:func:`_pairwise_sum`). tests/test_topics_speed.py compares the
assignments with the numpy implementation.

Compiled code is cached on disk by this module's content, not its path or mtime
(:mod:`pipeline.core.compiled`), in the machine's cache, so the kernels are compiled once per
machine and module version (by the set-up's first run), and a fresh clone's stage loads them
instead of compiling them again (5-9 CPU-s for the demo's topics stage).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import llvmlite.binding as llvm
import numpy as np
from numba import types
from numba.extending import get_cython_function_address
from scipy import sparse
from scipy.special import gammaln

from pipeline.core.compiled import jit_for

# scipy's own gammaln (the C function behind the ufunc), called by name from compiled code: the
# symbol is registered in every process that imports this module, so cached code links to it.
llvm.add_symbol("pipeline_scipy_gammaln", get_cython_function_address("scipy.special.cython_special", "gammaln"))
_gammaln = types.ExternalFunction("pipeline_scipy_gammaln", types.float64(types.float64))

_jit = jit_for(__file__)


# --------------------------------------------------------------------------------------------
# the corpus and the counts
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DMMDocs:
    """The documents as the sampler reads them: CSR rows (``indptr``, ``indices``, float
    ``counts``), whether every count of a document is 1 (``ones``), its length, and tables made
    by numpy and scipy of every value the sampler needs at a whole count, up to the corpus's
    number of documents (m), largest word total (j) and number of tokens (i):
    ``log_alpha[m] = log(m + alpha)``, ``log_beta[j] = log(j + beta)``,
    ``gammaln_beta[j] = gammaln(j + beta) - gammaln(beta)``, and the arguments and values
    ``arg_beta[j] = j + beta``, ``gl_beta[j] = gammaln(j + beta)``, ``arg_vb[i] = i + V beta``,
    ``gl_vb[i] = gammaln(i + V beta)`` (see :func:`_sweeps`)."""

    indptr: np.ndarray
    indices: np.ndarray
    counts: np.ndarray
    ones: np.ndarray
    length: np.ndarray
    alpha: float
    beta: float
    log_alpha: np.ndarray
    log_beta: np.ndarray
    gammaln_beta: np.ndarray
    arg_beta: np.ndarray
    gl_beta: np.ndarray
    arg_vb: np.ndarray
    gl_vb: np.ndarray

    @classmethod
    def of(cls, X: sparse.spmatrix, alpha: float, beta: float) -> DMMDocs:
        X = sparse.csr_matrix(X)
        n, V = X.shape
        counts = X.data.astype(float)
        ones = np.bincount(np.repeat(np.arange(n), np.diff(X.indptr)), weights=counts != 1, minlength=n) == 0
        arg_beta = np.arange(int(np.asarray(X.sum(axis=0)).max(initial=0)) + 1) + beta
        gl_beta = gammaln(arg_beta)
        arg_vb = np.arange(int(counts.sum()) + 1) + V * beta
        return cls(X.indptr.astype(np.int64), X.indices.astype(np.int64), counts, ones,
                   np.asarray(X.sum(axis=1), dtype=float).ravel(), float(alpha), float(beta),
                   np.log(np.arange(n + 1) + alpha), np.log(arg_beta), gl_beta - gammaln(beta),
                   arg_beta, gl_beta, arg_vb, gammaln(arg_vb))


class DMMState:
    """Sufficient statistics of a DMM assignment: documents per topic (m), word counts per topic
    (nkw), tokens per topic (nk); whole numbers kept as floats, so every update is exact."""

    def __init__(self, k: int, V: int):
        self.m, self.nkw, self.nk = np.zeros(k), np.zeros((k, V)), np.zeros(k)

    def add(self, docs: np.ndarray, z: np.ndarray, data: DMMDocs, sign: float = 1.0) -> None:
        """Add (``sign`` -1: remove) documents ``docs`` to their topics ``z[docs]``."""
        _add_docs(np.asarray(docs, dtype=np.int64), z, self.m, self.nkw, self.nk, data.indptr, data.indices,
                  data.counts, data.length, sign)


@_jit
def _add_docs(docs, z, m, nkw, nk, indptr, indices, counts, length, sign):
    for d in docs:
        t = z[d]
        m[t] += sign
        for j in range(indptr[d], indptr[d + 1]):
            nkw[t, indices[j]] += sign * counts[j]
        nk[t] += sign * length[d]


@_jit
def _block_sum(a, lo, n):
    """sum(a[lo:lo + n]) for n <= 128 in numpy's order: a plain loop below 8 terms, else 8
    interleaved partial sums, combined in pairs, then the remainder."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_jit
def _pairwise_sum(a, lo, n):
    """sum(a[lo:lo + n]) in the order of numpy's add.reduce (its ``pairwise_sum``): blocks of
    at most 128 terms (:func:`_block_sum`), above that the sum of the two halves (the first
    half's length a multiple of 8), evaluated here with an explicit stack (numba's cache breaks
    on recursive functions)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    stage = np.zeros(64, dtype=np.int64)     # 0: not split yet, 1: left half pending, 2: right half pending
    left = np.empty(64)
    sp, los[0], ns[0] = 0, lo, n
    val, returned = 0.0, False
    while sp >= 0:
        if returned:                         # val is the sum of a child of frame sp
            if stage[sp] == 1:
                left[sp], stage[sp] = val, 2
                half = ns[sp] // 2 - (ns[sp] // 2) % 8
                sp += 1
                los[sp], ns[sp], stage[sp], returned = los[sp - 1] + half, ns[sp - 1] - half, 0, False
            else:
                val = left[sp] + val
                sp -= 1
        elif ns[sp] <= 128:
            val, returned = _block_sum(a, los[sp], ns[sp]), True
            sp -= 1
        else:
            stage[sp] = 1
            half = ns[sp] // 2 - (ns[sp] // 2) % 8
            sp += 1
            los[sp], ns[sp], stage[sp] = los[sp - 1], half, 0
    return val


# --------------------------------------------------------------------------------------------
# Gibbs sweeps
# --------------------------------------------------------------------------------------------
def gibbs_sweeps(docs: np.ndarray, z: np.ndarray, st: DMMState, data: DMMDocs, n_sweeps: int,
                 rng: np.random.Generator) -> None:
    """``n_sweeps`` collapsed Gibbs sweeps over ``docs`` (in order), updating ``z`` and ``st``;
    one uniform per document and sweep from ``rng`` (``rng.random(len(docs))`` a sweep)."""
    docs = np.asarray(docs, dtype=np.int64)
    u = rng.random((n_sweeps, len(docs)))
    _sweeps(docs, z, st.m, st.nkw, st.nk, data.indptr, data.indices, data.counts, data.ones, data.length,
            data.beta, data.log_alpha, data.log_beta, data.arg_beta, data.gl_beta, data.arg_vb, data.gl_vb, u)


@_jit
def _sweeps(docs, z, m, nkw, nk, indptr, indices, counts, ones, length, beta, log_alpha, log_beta,
            arg_beta, gl_beta, arg_vb, gl_vb, u):
    """p(z_d = t | rest) ~ (m_t + alpha) prod_w G(n_tw + beta + c_dw) / G(n_tw + beta)
    x G(n_t + V beta) / G(n_t + V beta + N_d), document d's counts taken out first; then z_d is
    the first t with cumsum(p)[t] > u cumsum(p)[-1] (numpy's searchsorted, side right).
    gammaln at a whole count plus a prior is the table's value when the double is the table's
    argument: n + V beta always is, but (n + V beta) + N_d can round differently from
    (n + N_d) + V beta, and then scipy's function is called."""
    k, V = nkw.shape
    vb = V * beta
    longest = 1
    for d in docs:
        longest = max(longest, indptr[d + 1] - indptr[d])
    terms = np.empty(longest)
    logp = np.empty(k)
    p = np.empty(k)
    for s in range(u.shape[0]):
        for i in range(len(docs)):
            d = docs[i]
            lo, hi, nd, old = indptr[d], indptr[d + 1], length[d], z[d]
            m[old] -= 1.0
            for j in range(lo, hi):
                nkw[old, indices[j]] -= counts[j]
            nk[old] -= nd
            for t in range(k):
                if ones[d]:
                    for j in range(lo, hi):
                        terms[j - lo] = log_beta[int(nkw[t, indices[j]])]
                else:                        # gammaln(n_tw + beta + c) - gammaln(n_tw + beta)
                    for j in range(lo, hi):
                        n_tw = nkw[t, indices[j]]
                        x = (n_tw + beta) + counts[j]
                        at = int(n_tw + counts[j])
                        terms[j - lo] = (gl_beta[at] if arg_beta[at] == x else _gammaln(x)) - gl_beta[int(n_tw)]
                x = nk[t] + vb + nd                  # gammaln(n_t + V beta + N_d) - gammaln(n_t + V beta)
                at = int(nk[t] + nd)
                gap = (gl_vb[at] if arg_vb[at] == x else _gammaln(x)) - gl_vb[int(nk[t])]
                logp[t] = log_alpha[int(m[t])] + _pairwise_sum(terms, 0, hi - lo) - gap
            top = logp.max()
            total = 0.0
            for t in range(k):
                total += math.exp(logp[t] - top)
                p[t] = total
            target = u[s, i] * total
            new = 0
            while new < k - 1 and p[new] <= target:
                new += 1
            z[d] = new
            m[new] += 1.0
            for j in range(lo, hi):
                nkw[new, indices[j]] += counts[j]
            nk[new] += nd


# --------------------------------------------------------------------------------------------
# the collapsed log joint by topic, and the greedy split-merge move
# --------------------------------------------------------------------------------------------
def topic_score(st: DMMState, data: DMMDocs) -> np.ndarray:
    """Each topic's term of the collapsed log joint (0 for an empty topic):
    log G(m + a) - log G(a) + log G(V b) - log G(n + V b) + sum_w [log G(n_w + b) - log G(b)]."""
    return _topic_scores(st.m, st.nkw, st.nk, data.alpha, data.beta, data.gammaln_beta)


@_jit
def _topic_scores(m, nkw, nk, alpha, beta, gammaln_beta):
    k, V = nkw.shape
    out = np.empty(k)
    terms = np.empty(V)
    for t in range(k):
        for w in range(V):
            terms[w] = gammaln_beta[int(nkw[t, w])]
        out[t] = _score(m[t], nk[t], terms, alpha, beta)
    return out


@_jit
def _score(m, n, terms, alpha, beta):
    V = len(terms)
    return (_gammaln(m + alpha) - _gammaln(alpha) + _gammaln(V * beta) - _gammaln(n + V * beta)
            + _pairwise_sum(terms, 0, V))


@_jit
def _merged_scores(m, nkw, nk, alpha, beta, gammaln_beta):
    """The score of topics a and b merged, for every pair a < b of non-empty topics (NaN else)."""
    k, V = nkw.shape
    out = np.full((k, k), np.nan)
    terms = np.empty(V)
    for a in range(k):
        for b in range(a + 1, k):
            if m[a] == 0 or m[b] == 0:
                continue
            for w in range(V):
                terms[w] = gammaln_beta[int(nkw[a, w] + nkw[b, w])]
            out[a, b] = _score(m[a] + m[b], nk[a] + nk[b], terms, alpha, beta)
    return out


def split_merge(z: np.ndarray, st: DMMState, data: DMMDocs, rng: np.random.Generator, split_sweeps: int = 10) -> bool:
    """One greedy split-merge move at fixed K: merge the pair of topics and split the topic (into
    two, by a restricted two-topic Gibbs run on its documents) whose combined change of the
    collapsed log joint is largest; an empty topic can take a split without a merge. Applied only
    when it raises the log joint. Returns whether a move was made.

    Gibbs sampling changes one document at a time and cannot leave a mode in which two real
    clusters share a topic while another real cluster is split in two (moving the documents one
    by one lowers the probability on the way): the sampler "gets stuck". Split-merge moves (Jain
    & Neal 2004) change many documents at once; this greedy version climbs to a better mode."""
    k, V = st.nkw.shape
    score = topic_score(st, data)
    # splits: the best two-way split of every topic with two or more documents
    split_gain = np.full(k, -np.inf)
    splits: dict[int, np.ndarray] = {}
    for t in range(k):
        docs = np.flatnonzero(z == t)
        if len(docs) < 2:
            continue
        sub = DMMState(2, V)
        zz = np.zeros(len(z), dtype=np.int64)
        zz[docs] = rng.integers(0, 2, size=len(docs))
        sub.add(docs, zz, data)
        gibbs_sweeps(docs, zz, sub, data, split_sweeps, rng)
        if sub.m.min() == 0:
            continue
        split_gain[t] = topic_score(sub, data).sum() - score[t]
        splits[t] = docs[zz[docs] == 1]
    # merges: every pair; an empty topic is a free slot (gain 0)
    best = (0.0, None, None, None)            # (gain, keep, emptied, split topic)
    empty = [t for t in range(k) if st.m[t] == 0]
    for t in splits:
        if empty and split_gain[t] > best[0] + 1e-9:
            best = (split_gain[t], None, empty[0], t)
    merged = _merged_scores(st.m, st.nkw, st.nk, data.alpha, data.beta, data.gammaln_beta)
    for a in range(k):
        for b in range(a + 1, k):
            if st.m[a] == 0 or st.m[b] == 0:
                continue
            g_merge = float(merged[a, b] - score[a] - score[b])
            for t in splits:
                if t in (a, b):
                    continue
                if g_merge + split_gain[t] > best[0] + 1e-9:
                    best = (g_merge + split_gain[t], a, b, t)
    gain, keep, freed, t = best
    if t is None:
        return False
    if keep is not None:                      # merge: the documents of `freed` join `keep`
        moved = np.flatnonzero(z == freed)
        st.add(moved, z, data, -1.0)
        z[moved] = keep
        st.add(moved, z, data)
    st.add(splits[t], z, data, -1.0)          # split: one half of t moves to the freed topic
    z[splits[t]] = freed
    st.add(splits[t], z, data)
    return True

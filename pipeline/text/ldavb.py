"""LDA by batch variational Bayes (Blei, Ng & Jordan 2003; Hoffman, Blei & Bach 2010):
scikit-learn's ``LatentDirichletAllocation(learning_method="batch")``, step for step, with its
per-document loop compiled by numba (the model of ``topics.models: [lda]``,
:func:`pipeline.text.topicmodel.fit_topics`).

scikit-learn runs the E-step's inner loop in Python: for every document, up to
``max_doc_update_iter`` (100) rounds of four small numpy calls on arrays of K numbers. On a few
hundred short documents that interpreter time is nearly all of a fit (45 of the 50 CPU-s of a
grid of LDA, DMM and NMF on 500 sentences, benchmarks/RESULTS.md "topics stage"). Here the same
loop runs compiled, with everything else as scikit-learn 1.9 does it:

- the same random numbers: ``numpy.random.RandomState(random_state)``, gamma(100, 0.01) for
  the topic-word start and, in every EM iteration, for the documents' start;
- the same digamma (scikit-learn's own, AS 103 with its asymptotic series, ported here line by
  line), ``exp`` and ``log`` of the C library, the same updates in the same order, and the same
  convergence test (mean absolute change of a document's gamma below ``mean_change_tol``);
- the same outputs: ``components_`` (lambda), the documents' normalised gamma of a final E-step
  from a start of ones (``transform``), the held-out perplexity of ``perplexity``.

What differs is the order of a few sums: scikit-learn's two dot products per round go to BLAS,
whose kernels accumulate in an order of their own that depends on the CPU (OpenBLAS picks its
kernel at run time); here they are plain loops in index order, the same on every machine. And the
inner loop's exp(psi(x) - psi(total)) is taken as (x + n) exp(...), the digamma's log(x + n) out
of the exponent (:func:`_exp_psi_less`: one ``exp`` and no ``log`` per topic: a fit takes 15 % less time). The
results agree with scikit-learn's to about 1e-12 relative (tests/test_topics_speed.py), as far as
two BLAS builds agree with each other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import gammaln, logsumexp

from pipeline.core.compiled import jit_for

_jit = jit_for(__file__)

EPS = float(np.finfo(np.float64).eps)
INIT_GAMMA = 100.0             # scikit-learn's start: gamma(100, 1/100), mean 1
MAX_DOC_UPDATE_ITER = 100      # scikit-learn's defaults
MEAN_CHANGE_TOL = 1e-3


@dataclass(frozen=True)
class LDAFit:
    """``components`` (K x V, lambda: the topic-word Dirichlet's parameters, unnormalised),
    ``doc_topic`` (n x K, normalised gamma of the fitted documents), ``perplexity`` of the held-out
    documents (NaN without them)."""

    components: np.ndarray
    doc_topic: np.ndarray
    perplexity: float


@_jit
def _psi(x):
    """Digamma for positive x as scikit-learn computes it (``_online_lda_fast.psi``: J. Bernardo
    1976, Algorithm AS 103)."""
    euler = 0.577215664901532860606512090082402431
    if x <= 1e-6:
        return -euler - 1.0 / x
    result = 0.0
    while x < 6:
        result -= 1.0 / x
        x += 1
    r = 1.0 / x
    result += math.log(x) - 0.5 * r
    r = r * r
    result -= r * ((1.0 / 12.0) - r * ((1.0 / 120.0) - r * (1.0 / 252.0)))
    return result


@_jit
def _exp_psi_less(x, c):
    """exp(psi(x) - c): :func:`_psi`'s recurrence and series, their sum exponentiated with the log
    of ``log(x + n)`` taken out as the factor x + n (one ``exp`` and no ``log`` per topic in the
    E-step's inner loop; the same value as exp(_psi(x) - c) to a few units in the last place)."""
    euler = 0.577215664901532860606512090082402431
    if x <= 1e-6:
        return math.exp(-euler - 1.0 / x - c)
    result = -c
    while x < 6:
        result -= 1.0 / x
        x += 1
    r = 1.0 / x
    result -= 0.5 * r
    r = r * r
    result -= r * ((1.0 / 12.0) - r * ((1.0 / 120.0) - r * (1.0 / 252.0)))
    return x * math.exp(result)


@_jit
def _dirichlet_expectation_2d(arr):
    """E[log theta] for theta ~ Dir(row), every row (``_online_lda_fast._dirichlet_expectation_2d``)."""
    n_rows, n_cols = arr.shape
    out = np.empty((n_rows, n_cols))
    for i in range(n_rows):
        total = 0.0
        for j in range(n_cols):
            total += arr[i, j]
        psi_total = _psi(total)
        for j in range(n_cols):
            out[i, j] = _psi(arr[i, j]) - psi_total
    return out


@_jit
def _e_step(indptr, indices, data, exp_topic_word, doc_topic, exp_doc_topic, prior, max_iter, tol,
            sstats, cal_sstats):
    """scikit-learn's ``_update_doc_distribution`` for every document, in place: ``doc_topic``
    (n x K, the start in, gamma out) and, with ``cal_sstats``, the sufficient statistics
    ``sstats`` (K x V, zeros in) before their product with exp(E[log beta])."""
    n, k = doc_topic.shape
    ed = np.empty(k)
    last = np.empty(k)
    new = np.empty(k)
    for d in range(n):
        lo = indptr[d]
        m = indptr[d + 1] - lo
        etw = np.empty((m, k))            # the document's words' columns of exp(E[log beta])
        for j in range(m):
            for t in range(k):
                etw[j, t] = exp_topic_word[t, indices[lo + j]]
        for t in range(k):
            ed[t] = exp_doc_topic[d, t]
            last[t] = doc_topic[d, t]
        for _ in range(max_iter):
            for t in range(k):
                new[t] = 0.0
            for j in range(m):   # a word's norm, then its share of every topic's sum (the same order)
                s = 0.0
                for t in range(k):
                    s += ed[t] * etw[j, t]
                r = data[lo + j] / (s + EPS)
                for t in range(k):
                    new[t] += r * etw[j, t]
            total = 0.0          # exp_doc_topic_d * the sums, then _dirichlet_expectation_1d
            for t in range(k):
                new[t] = ed[t] * new[t] + prior
                total += new[t]
            psi_total = _psi(total)
            for t in range(k):
                ed[t] = _exp_psi_less(new[t], psi_total)
            change = 0.0         # mean_change
            for t in range(k):
                change += abs(last[t] - new[t])
                last[t] = new[t]
            if change / k < tol:
                break
        for t in range(k):
            doc_topic[d, t] = last[t]
        if cal_sstats:
            for j in range(m):
                s = 0.0
                for t in range(k):
                    s += ed[t] * etw[j, t]
                r = data[lo + j] / (s + EPS)
                w = indices[lo + j]
                for t in range(k):
                    sstats[t, w] += ed[t] * r


def _csr(X: sparse.spmatrix) -> sparse.csr_matrix:
    return sparse.csr_matrix(X, dtype=np.float64)


def _gamma(X: sparse.csr_matrix, exp_topic_word: np.ndarray, start: np.ndarray, prior: float,
           sstats: np.ndarray | None = None) -> np.ndarray:
    """One E-step from ``start`` (n x K, overwritten and returned as gamma)."""
    exp_doc_topic = np.exp(_dirichlet_expectation_2d(start))
    cal = sstats is not None
    _e_step(X.indptr.astype(np.int64), X.indices.astype(np.int64), X.data, exp_topic_word, start, exp_doc_topic,
            float(prior), MAX_DOC_UPDATE_ITER, MEAN_CHANGE_TOL, sstats if cal else np.zeros((1, 1)), cal)
    return start


def _perplexity(X: sparse.csr_matrix, gamma: np.ndarray, components: np.ndarray, alpha: float, eta: float) -> float:
    """scikit-learn's ``_perplexity_precomp_distr`` (its variational bound ``_approx_bound``,
    without subsampling): exp(-bound / number of tokens)."""
    k, V = components.shape
    e_theta = _dirichlet_expectation_2d(gamma)
    e_beta = _dirichlet_expectation_2d(components)
    coo = X.tocoo()
    score = float(np.dot(coo.data, logsumexp(e_theta[coo.row].T + e_beta[:, coo.col], axis=0)))

    def loglikelihood(prior, distr, dirichlet, size):
        return (np.sum((prior - distr) * dirichlet) + np.sum(gammaln(distr) - gammaln(prior))
                + np.sum(gammaln(prior * size) - gammaln(np.sum(distr, 1))))

    score += loglikelihood(alpha, gamma, e_theta, k)
    score += loglikelihood(eta, components, e_beta, V)
    return float(np.exp(-score / X.sum()))


def fit_lda(X: sparse.spmatrix, k: int, random_state: int, max_iter: int, doc_topic_prior: float | None = None,
            topic_word_prior: float | None = None, X_test: sparse.spmatrix | None = None) -> LDAFit:
    """scikit-learn's ``LatentDirichletAllocation(n_components=k, learning_method="batch",
    max_iter=max_iter, random_state=random_state, ...)``: ``fit_transform(X)`` and, with
    ``X_test``, ``perplexity(X_test)``. Priors None: 1/k."""
    X = _csr(X)
    n, V = X.shape
    alpha = 1.0 / k if doc_topic_prior is None else float(doc_topic_prior)
    eta = 1.0 / k if topic_word_prior is None else float(topic_word_prior)
    rs = np.random.RandomState(random_state)
    components = rs.gamma(INIT_GAMMA, 1.0 / INIT_GAMMA, (k, V))
    exp_topic_word = np.exp(_dirichlet_expectation_2d(components))
    for _ in range(max_iter):
        sstats = np.zeros((k, V))
        _gamma(X, exp_topic_word, rs.gamma(INIT_GAMMA, 1.0 / INIT_GAMMA, (n, k)), alpha, sstats)
        components = eta + sstats * exp_topic_word
        exp_topic_word = np.exp(_dirichlet_expectation_2d(components))
    theta = _gamma(X, exp_topic_word, np.ones((n, k)), alpha)
    theta /= theta.sum(axis=1)[:, np.newaxis]
    perplexity = float("nan")
    if X_test is not None and X_test.shape[0]:
        X_test = _csr(X_test)
        perplexity = _perplexity(X_test, _gamma(X_test, exp_topic_word, np.ones((X_test.shape[0], k)), alpha),
                                 components, alpha, eta)
    return LDAFit(components, theta, perplexity)


def compile_lda() -> None:
    """Compile (or load from the cache) the kernels in this process (see
    :func:`pipeline.text.topicmodel.compile_dmm`)."""
    X = sparse.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]]))
    fit_lda(X, 2, 0, 2, X_test=X)

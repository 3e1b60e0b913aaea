"""NMF with the Kullback-Leibler loss by multiplicative updates (Lee & Seung 2001): scikit-learn's
``NMF(beta_loss="kullback-leibler", solver="mu")`` on a sparse matrix, step for step, with its
updates compiled by numba (the model of ``topics.models: [nmf]`` with the default ``nmf.loss``,
:func:`pipeline.text.topicmodel.fit_topics`).

scikit-learn's updates are numpy on sparse matrices: every half-step builds W H at the
nonzeros of X in batches, converts COO to CSR, and multiplies a sparse by a dense matrix, about a
millisecond of interpreter and conversion time for a few thousand multiplications on a corpus of a
few hundred short documents (2.6 of the 4.9 CPU-s of a DMM+LDA+NMF grid on 500 sentences once LDA
was compiled, benchmarks/RESULTS.md "topics stage"). Here the two updates run compiled and every
sum is taken in the order numpy and scipy take it, so the factors are scikit-learn's to the bit
(tests/test_topics_speed.py):

- W H at a nonzero: the K products summed as numpy sums a row (``_block_sum``: in order below 8
  terms, else 8 interleaved partial sums);
- X / (W H) times H^T: scipy's ``csr_matvecs`` (each row's nonzeros in order); W^T times it:
  scipy's ``csc_matvecs`` on the transpose (documents in order);
- the row sums of H: numpy's pairwise order (``_pairwise_sum``) when H's rows are contiguous,
  in order when they are strided (NNDSVD starts make H Fortran-ordered); the column sums of W: rows
  in order;
- the start (``_initialize_nmf``: NNDSVD and its variants with ``_randomized_svd``, or random),
  the loss tested for convergence every 10 iterations (``_beta_divergence``) and the L2 TF-IDF the
  stage factorises (``TfidfTransformer``) are scikit-learn 1.9's code for these inputs, ported call
  for call (the same numpy, scipy and LAPACK calls in the same order: the same bits, tested against
  scikit-learn's own functions), so that a stage that fits NMF does not import scikit-learn: its
  import (scipy.stats with it) is 1.2 CPU-s, a third of a DMM+LDA+NMF grid on 500 sentences.
"""
from __future__ import annotations

from math import sqrt

import numpy as np
from scipy import sparse

from pipeline.core.compiled import jit_for
from pipeline.text import gsdmm
from pipeline.text.gsdmm import _block_sum, _pairwise_sum

_jit = jit_for(__file__, uses=(gsdmm.__file__,))

EPSILON = float(np.finfo(np.float32).eps)       # scikit-learn's floor of W H
ZERO_BELOW = float(np.finfo(np.float64).eps)    # ... and of H after its update (beta_loss <= 1)


@_jit
def _ratio(indptr, indices, data, W, H, out):
    """X / max(W H, EPSILON) at X's nonzeros (``_special_sparse_dot`` and the division)."""
    n, k = W.shape
    prod = np.empty(k)
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            for t in range(k):
                prod[t] = W[i, t] * H[t, j]
            wh = _block_sum(prod, 0, k) if k <= 128 else _pairwise_sum(prod, 0, k)
            if wh < EPSILON:
                wh = EPSILON
            out[p] = data[p] / wh


@_jit
def _update_w(indptr, indices, data, W, H, ratio, h_pairwise):
    """W *= (X / W H) H^T / rowsums(H) (``_multiplicative_update_w``, beta 1, no penalty). The row
    sums in numpy's order for H's layout in scikit-learn: pairwise along a contiguous row
    (``h_pairwise``: a random start), in order along a strided one (NNDSVD's H is Fortran-ordered)."""
    n, k = W.shape
    _ratio(indptr, indices, data, W, H, ratio)
    h_sum = np.zeros(k)
    for t in range(k):
        if h_pairwise:
            h_sum[t] = _pairwise_sum(H[t], 0, H.shape[1])
        else:
            for j in range(H.shape[1]):
                h_sum[t] += H[t, j]
        if h_sum[t] == 0.0:
            h_sum[t] = EPSILON
    num = np.zeros(k)
    for i in range(n):
        for t in range(k):
            num[t] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            for t in range(k):
                num[t] += ratio[p] * H[t, j]
        for t in range(k):
            W[i, t] *= num[t] / h_sum[t]


@_jit
def _update_h(indptr, indices, data, W, H, ratio):
    """H *= W^T (X / W H) / colsums(W) (``_multiplicative_update_h``, beta 1, no penalty), then
    H below the float64 epsilon set to 0."""
    n, k = W.shape
    V = H.shape[1]
    _ratio(indptr, indices, data, W, H, ratio)
    num = np.zeros((V, k))
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            for t in range(k):
                num[j, t] += ratio[p] * W[i, t]
    w_sum = np.zeros(k)
    for i in range(n):
        for t in range(k):
            w_sum[t] += W[i, t]
    for t in range(k):
        if w_sum[t] == 0.0:
            w_sum[t] = 1.0
    for t in range(k):
        for j in range(V):
            h = H[t, j] * (num[j, t] / w_sum[t])
            H[t, j] = 0.0 if h < ZERO_BELOW else h


# --------------------------------------------------------------------------------------------
# scikit-learn 1.9's start, loss and TF-IDF, ported call for call (the module's docstring)
# --------------------------------------------------------------------------------------------
def tfidf(X: sparse.spmatrix) -> sparse.csr_matrix:
    """``TfidfTransformer().fit_transform(X)``: smooth idf, log(n + 1 / df + 1) + 1, each row
    scaled to unit length (``_inplace_csr_row_normalize_l2``: squares summed in order)."""
    X = sparse.csr_matrix(X)
    # as check_array: a float copy, by scipy's astype for counts (which sorts the indices, of the
    # caller's arrays too, as scikit-learn's call did; the row sums below follow that order)
    X = X.astype(np.float64) if X.dtype != np.float64 else X.copy()
    df = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64, copy=False)
    df += 1.0
    idf = np.full_like(df, fill_value=X.shape[0] + 1, dtype=np.float64)
    idf /= df
    np.log(idf, out=idf)
    idf += 1.0
    X.data *= idf[X.indices]
    _normalize_rows_l2(X.indptr.astype(np.int64), X.data)
    return X


@_jit
def _normalize_rows_l2(indptr, data):
    for i in range(indptr.shape[0] - 1):
        total = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            total += data[p] * data[p]
        if total == 0.0:
            continue
        total = np.sqrt(total)
        for p in range(indptr[i], indptr[i + 1]):
            data[p] /= total


def _norm(x: np.ndarray) -> float:
    x = np.ravel(x, order="K")
    return sqrt(np.dot(x, x))


def _randomized_svd(M, n_components: int, random_state: int, n_oversamples: int = 10):
    """``sklearn.utils.extmath._randomized_svd`` with its defaults (LU power iterations, QR last,
    gesdd, signs flipped)."""
    from functools import partial

    from scipy import linalg

    random_state = np.random.RandomState(random_state)
    n_random = n_components + n_oversamples
    n_samples, n_features = M.shape
    n_iter = 7 if n_components < 0.1 * min(M.shape) else 4
    transpose = n_samples < n_features
    if transpose:
        M = M.T
    # _randomized_range_finder
    Q = np.asarray(random_state.normal(size=(M.shape[1], n_random)))
    normalizer = partial(linalg.lu, permute_l=True, check_finite=False)
    for _ in range(n_iter):
        Q, _ = normalizer(M @ Q)
        Q, _ = normalizer(M.T @ Q)
    Q, _ = linalg.qr(M @ Q, mode="economic", check_finite=False)
    B = Q.T @ M
    Uhat, s, Vt = linalg.svd(B, full_matrices=False, lapack_driver="gesdd")
    del B
    U = Q @ Uhat
    if not transpose:                    # svd_flip, u-based
        signs = np.sign(np.take(np.reshape(U.T, (-1,)), np.argmax(np.abs(U.T), axis=1)
                                + np.arange(U.T.shape[0]) * U.T.shape[1], axis=0))
        U *= signs[np.newaxis, :]
        Vt *= signs[:, np.newaxis]
        return U[:, :n_components], s[:n_components], Vt[:n_components, :]
    signs = np.sign(np.take(np.reshape(Vt, (-1,)), np.argmax(np.abs(Vt), axis=1)
                            + np.arange(Vt.shape[0]) * Vt.shape[1], axis=0))      # svd_flip, v-based
    U *= signs[np.newaxis, :]
    Vt *= signs[:, np.newaxis]
    return Vt[:n_components, :].T, s[:n_components], U[:, :n_components].T


def _initialize_nmf(X, n_components: int, init: str, random_state: int, eps: float = 1e-6):
    """``sklearn.decomposition._nmf._initialize_nmf``: NNDSVD (Boutsidis & Gallopoulos 2008) and
    its variants, or random."""
    n_samples, n_features = X.shape
    if init != "random" and n_components > min(n_samples, n_features):
        raise ValueError(f"init = '{init}' can only be used when n_components <= min(n_samples, n_features)")
    if init == "random":
        avg = np.sqrt(X.mean() / n_components)
        rng = np.random.RandomState(random_state)
        H = avg * rng.standard_normal(size=(n_components, n_features)).astype(X.dtype, copy=False)
        W = avg * rng.standard_normal(size=(n_samples, n_components)).astype(X.dtype, copy=False)
        np.abs(H, out=H)
        np.abs(W, out=W)
        return W, H
    U, S, V = _randomized_svd(X, n_components, random_state)
    W = np.zeros_like(U)
    H = np.zeros_like(V)
    W[:, 0] = np.sqrt(S[0]) * np.abs(U[:, 0])
    H[0, :] = np.sqrt(S[0]) * np.abs(V[0, :])
    for j in range(1, n_components):
        x, y = U[:, j], V[j, :]
        x_p, y_p = np.maximum(x, 0), np.maximum(y, 0)
        x_n, y_n = np.abs(np.minimum(x, 0)), np.abs(np.minimum(y, 0))
        x_p_nrm, y_p_nrm = _norm(x_p), _norm(y_p)
        x_n_nrm, y_n_nrm = _norm(x_n), _norm(y_n)
        m_p, m_n = x_p_nrm * y_p_nrm, x_n_nrm * y_n_nrm
        if m_p > m_n:
            u, v, sigma = x_p / x_p_nrm, y_p / y_p_nrm, m_p
        else:
            u, v, sigma = x_n / x_n_nrm, y_n / y_n_nrm, m_n
        lbd = np.sqrt(S[j] * sigma)
        W[:, j] = lbd * u
        H[j, :] = lbd * v
    W[W < eps] = 0
    H[H < eps] = 0
    if init == "nndsvda":
        avg = X.mean()
        W[W == 0] = avg
        H[H == 0] = avg
    elif init == "nndsvdar":
        rng = np.random.RandomState(random_state)
        avg = X.mean()
        W[W == 0] = abs(avg * rng.standard_normal(size=len(W[W == 0])) / 100)
        H[H == 0] = abs(avg * rng.standard_normal(size=len(H[H == 0])) / 100)
    elif init != "nndsvd":
        raise ValueError(f"nmf init {init!r}: use random, nndsvd, nndsvda or nndsvdar")
    return W, H


def _kl_divergence(X: sparse.csr_matrix, W: np.ndarray, H: np.ndarray) -> float:
    """``_beta_divergence(X, W, H, 1, square_root=True)`` for sparse X (W H at X's nonzeros by
    ``_special_sparse_dot``'s batches)."""
    ii, jj = X.nonzero()
    n_vals = ii.shape[0]
    dot_vals = np.empty(n_vals)
    n_components = W.shape[1]
    batch_size = max(n_components, n_vals // n_components)
    for start in range(0, n_vals, batch_size):
        batch = slice(start, start + batch_size)
        dot_vals[batch] = np.multiply(W[ii[batch], :], H.T[jj[batch], :]).sum(axis=1)
    WH_data = sparse.coo_array((dot_vals, (ii, jj)), shape=X.shape).tocsr().data
    X_data = X.data
    indices = X_data > EPSILON
    WH_data = WH_data[indices]
    X_data = X_data[indices]
    WH_data[WH_data < EPSILON] = EPSILON
    sum_WH = np.dot(np.sum(W, axis=0), np.sum(H, axis=1))
    div = X_data / WH_data
    res = np.dot(X_data, np.log(div))
    res += sum_WH - X_data.sum()
    return np.sqrt(2 * max(res, 0))


def fit_nmf_kl(X: sparse.spmatrix, k: int, init: str, random_state: int, max_iter: int,
               tol: float) -> tuple[np.ndarray, np.ndarray, int]:
    """scikit-learn's ``NMF(n_components=k, init=init, random_state=random_state,
    max_iter=max_iter, tol=tol, beta_loss="kullback-leibler", solver="mu").fit_transform(X)``:
    W, H (``components_``) and the number of iterations."""
    X = sparse.csr_matrix(X, dtype=np.float64, copy=True)
    X.sort_indices()          # scikit-learn pairs X's values with W H's in sorted order (its W H is built so)
    W, H = _initialize_nmf(X, k, init=init, random_state=random_state)
    h_pairwise = bool(H.flags.c_contiguous)            # how numpy would sum H's rows (see _update_w)
    W, H = np.ascontiguousarray(W), np.ascontiguousarray(H)
    indptr, indices = X.indptr.astype(np.int64), X.indices.astype(np.int64)
    ratio = np.empty(X.nnz)
    error_at_init = _kl_divergence(X, W, H)
    previous_error = error_at_init
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        _update_w(indptr, indices, X.data, W, H, ratio, h_pairwise)
        _update_h(indptr, indices, X.data, W, H, ratio)
        if tol > 0 and n_iter % 10 == 0:
            error = _kl_divergence(X, W, H)
            if (previous_error - error) / error_at_init < tol:
                break
            previous_error = error
    return W, (H if h_pairwise else np.asfortranarray(H)), n_iter     # H in scikit-learn's layout: its
    # sums (the topics' normalisation) take numpy's order for that layout


def compile_nmf() -> None:
    """Compile (or load from the cache) the kernels in this process (see
    :func:`pipeline.text.topicmodel.compile_dmm`)."""
    X = sparse.csr_matrix(np.array([[1, 0, 2], [0, 1, 1], [1, 1, 0]]))
    fit_nmf_kl(tfidf(X), 2, "nndsvda", 0, 10, 1e-4)

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
- the start (``_initialize_nmf``: NNDSVD and its variants, or random) and the loss tested for
  convergence every 10 iterations (``_beta_divergence``) are scikit-learn's own functions, called.
"""
from __future__ import annotations

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


def fit_nmf_kl(X: sparse.spmatrix, k: int, init: str, random_state: int, max_iter: int,
               tol: float) -> tuple[np.ndarray, np.ndarray, int]:
    """scikit-learn's ``NMF(n_components=k, init=init, random_state=random_state,
    max_iter=max_iter, tol=tol, beta_loss="kullback-leibler", solver="mu").fit_transform(X)``:
    W, H (``components_``) and the number of iterations."""
    from sklearn.decomposition._nmf import _beta_divergence, _initialize_nmf

    X = sparse.csr_matrix(X, dtype=np.float64, copy=True)
    X.sort_indices()          # scikit-learn pairs X's values with W H's in sorted order (its W H is built so)
    W, H = _initialize_nmf(X, k, init=init, random_state=random_state)
    h_pairwise = bool(H.flags.c_contiguous)            # how numpy would sum H's rows (see _update_w)
    W, H = np.ascontiguousarray(W), np.ascontiguousarray(H)
    indptr, indices = X.indptr.astype(np.int64), X.indices.astype(np.int64)
    ratio = np.empty(X.nnz)
    error_at_init = _beta_divergence(X, W, H, 1, square_root=True)
    previous_error = error_at_init
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        _update_w(indptr, indices, X.data, W, H, ratio, h_pairwise)
        _update_h(indptr, indices, X.data, W, H, ratio)
        if tol > 0 and n_iter % 10 == 0:
            error = _beta_divergence(X, W, H, 1, square_root=True)
            if (previous_error - error) / error_at_init < tol:
                break
            previous_error = error
    return W, (H if h_pairwise else np.asfortranarray(H)), n_iter     # H in scikit-learn's layout: its
    # sums (the topics' normalisation) take numpy's order for that layout


def compile_nmf() -> None:
    """Compile (or load from the cache) the kernels in this process (see
    :func:`pipeline.text.topicmodel.compile_dmm`)."""
    X = sparse.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]]))
    fit_nmf_kl(X, 2, "nndsvda", 0, 10, 1e-4)

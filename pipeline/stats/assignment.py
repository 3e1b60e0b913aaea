"""The linear sum assignment (Hungarian matching) without importing :mod:`scipy.optimize`.

:func:`linear_sum_assignment` is scipy's own algorithm, step for step: the shortest augmenting
path of Crouse (2016, IEEE Trans. Aerospace and Electronic Systems 52(4), pp. 1685-1686) as
Peter M. Larsen wrote it for scipy (``scipy/optimize/rectangular_lsap/rectangular_lsap.cpp``,
BSD-3-Clause), with the same order of search and the same tie-breaks, so it returns scipy's
matching also when several matchings cost the same (a table of counts with ties, a constant
matrix). tests/test_assignment.py checks it against scipy on thousands of matrices.

Why not scipy's: importing :mod:`scipy.optimize` takes about 0.3 s, paid by each stage process
that matches topics (the topics stage's stability, the demo's checks) for matrices of at most a
few dozen rows, which this solves in well under a millisecond.
"""
from __future__ import annotations

import numpy as np

from pipeline.core.errors import PipelineError


def linear_sum_assignment(cost, maximize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of the assignment of least total ``cost`` (largest with ``maximize``),
    as :func:`scipy.optimize.linear_sum_assignment` returns them: rows in increasing order, one
    per row of the smaller side."""
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise PipelineError(f"the assignment's cost matrix must be two-dimensional, not {c.ndim}-dimensional")
    nr, nc = c.shape
    if nr == 0 or nc == 0:
        return np.array([], dtype=np.intp), np.array([], dtype=np.intp)
    transpose = nc < nr
    if transpose:
        c = c.T
        nr, nc = nc, nr
    if maximize:
        c = -c
    if np.isnan(c).any() or (c == -np.inf).any():
        raise PipelineError("the assignment's cost matrix holds NaN or -inf")
    rows = c.tolist()                       # Python floats: the C++ code's doubles, one at a time
    u, v = [0.0] * nr, [0.0] * nc
    path, col4row, row4col = [-1] * nc, [-1] * nr, [-1] * nc
    inf = float("inf")
    for cur in range(nr):
        # the shortest augmenting path from row `cur` (scipy's augmenting_path)
        remaining = list(range(nc - 1, -1, -1))   # reversed: a constant matrix gives the identity
        num_remaining = nc
        SR, SC = [False] * nr, [False] * nc
        spc = [inf] * nc
        min_val, i, sink = 0.0, cur, -1
        while sink == -1:
            index, lowest = -1, inf
            SR[i] = True
            row, ui = rows[i], u[i]
            for it in range(num_remaining):
                j = remaining[it]
                r = min_val + row[j] - ui - v[j]
                if r < spc[j]:
                    path[j] = i
                    spc[j] = r
                if spc[j] < lowest or (spc[j] == lowest and row4col[j] == -1):
                    lowest = spc[j]
                    index = it
            min_val = lowest
            if min_val == inf:
                raise PipelineError("the assignment's cost matrix is infeasible (no finite matching)")
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            SC[j] = True
            num_remaining -= 1
            remaining[index] = remaining[num_remaining]
        # the dual variables
        u[cur] += min_val
        for i in range(nr):
            if SR[i] and i != cur:
                u[i] += min_val - spc[col4row[i]]
        for j in range(nc):
            if SC[j]:
                v[j] -= min_val - spc[j]
        # augment the matching along the path
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == cur:
                break
    if transpose:
        order = sorted(range(nr), key=col4row.__getitem__)
        return np.array([col4row[k] for k in order], dtype=np.intp), np.array(order, dtype=np.intp)
    return np.arange(nr, dtype=np.intp), np.array(col4row, dtype=np.intp)

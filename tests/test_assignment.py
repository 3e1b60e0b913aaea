"""pipeline.stats.assignment.linear_sum_assignment gives scipy.optimize's matching exactly: the
same rows and columns (not only the same total), also where several matchings tie."""
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment as scipy_lsa

from pipeline.core.errors import PipelineError
from pipeline.stats.assignment import linear_sum_assignment


def _cases():
    rng = np.random.default_rng(20261204)
    for n in range(2000):
        nr, nc = (int(x) for x in rng.integers(1, 12, size=2))
        kind = n % 5
        if kind == 0:
            m = rng.normal(size=(nr, nc))
        elif kind == 1:
            m = rng.integers(0, 3, size=(nr, nc)).astype(float)       # many ties
        elif kind == 2:
            m = rng.integers(0, 40, size=(nr, nc)).astype(float)      # a table of counts
        elif kind == 3:
            m = np.round(rng.uniform(size=(nr, nc)), 2)               # rounded cosines
        else:
            m = np.full((nr, nc), 1.5)                                # constant
        yield m, bool(n % 2)


def test_same_matching_as_scipy():
    """2,000 matrices of 1-11 rows and columns: normal, small integers (many ties), counts,
    rounded cosines, constant; minimised and maximised."""
    differ = []
    for n, (m, maximize) in enumerate(_cases()):
        rows, cols = linear_sum_assignment(m, maximize=maximize)
        want_rows, want_cols = scipy_lsa(m, maximize=maximize)
        if rows.tolist() != want_rows.tolist() or cols.tolist() != want_cols.tolist():
            differ.append(n)
    assert differ == []


def test_negated_counts_as_the_stages_call_it():
    tab = np.array([[5, 0, 0], [5, 0, 0], [0, 3, 3], [0, 0, 0]])
    rows, cols = linear_sum_assignment(-tab)
    want = scipy_lsa(-tab)
    assert (rows.tolist(), cols.tolist()) == (want[0].tolist(), want[1].tolist())


def test_empty_and_bad_input():
    rows, cols = linear_sum_assignment(np.zeros((0, 3)))
    assert rows.size == 0 and cols.size == 0
    with pytest.raises(PipelineError, match="NaN"):
        linear_sum_assignment(np.array([[1.0, np.nan]]))
    with pytest.raises(PipelineError, match="infeasible"):
        linear_sum_assignment(np.array([[np.inf, np.inf], [1.0, 2.0]]))
    with pytest.raises(PipelineError, match="two-dimensional"):
        linear_sum_assignment(np.array([1.0, 2.0]))

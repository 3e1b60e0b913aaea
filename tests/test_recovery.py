"""The recovery study's machinery on a few replications (the full study is a benchmark)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.demo.recovery import estimates, one_replication, render, summarise


@pytest.fixture(scope="module")
def small_params(params):
    import copy

    p = copy.deepcopy(params)
    p["recovery"]["n_boot"] = 50
    return p


def test_replications_are_seeded_and_distinct(small_params, instrument):
    a = one_replication(0, small_params, instrument)
    again = one_replication(0, small_params, instrument)
    b = one_replication(1, small_params, instrument)
    pd.testing.assert_frame_equal(a, again)
    assert not np.allclose(a["estimate"], b["estimate"])
    assert list(a["target"]) == [f"{t['model']}:{t['term']}" if "model" in t else f"mediation:{t['mediation']}"
                                 for t in small_params["recovery"]["targets"]]
    assert (a["conf_low"] < a["estimate"]).all() and (a["estimate"] < a["conf_high"]).all()


def test_summary_arithmetic():
    draws = pd.DataFrame({"replication": [0, 1, 2, 3], "target": ["x"] * 4, "estimate": [1.0, 2.0, 3.0, 4.0],
                          "conf_low": [0.0, 1.9, 2.0, 3.5], "conf_high": [2.0, 2.5, 4.0, 5.0]})
    s = summarise(draws, pd.DataFrame({"target": ["x"], "population": [2.0]})).iloc[0]
    assert s["bias"] == pytest.approx(0.5)
    assert s["rmse"] == pytest.approx(np.sqrt((1 + 0 + 1 + 4) / 4))
    assert s["coverage"] == pytest.approx(0.75)
    assert "| x | 2.0000 |" in render(summarise(draws, pd.DataFrame({"target": ["x"], "population": [2.0]})), 4)


def test_unknown_target_is_a_clear_error(small_params, instrument):
    from pipeline.core.errors import PipelineError

    import copy

    p = copy.deepcopy(small_params)
    p["models"]["derived"] = {}
    with pytest.raises(PipelineError, match="nonexistent"):
        estimates(pd.DataFrame({"a": [1.0]}), p, [{"model": "nonexistent", "term": "x"}], 10, np.random.default_rng(0))


def test_population_point_estimates_are_the_full_fits_estimates(small_params, instrument):
    """The population draw fits CR2 models with CR1 (point estimates only): the same estimates
    bit for bit as the configured fits, which a smaller draw can afford."""
    from pipeline.demo.recovery import STREAM_REPLICATION, analysed_indices

    targets = small_params["recovery"]["targets"]
    data = analysed_indices(small_params, instrument, np.random.default_rng([1, STREAM_REPLICATION]))
    full = estimates(data, small_params, targets, 20, np.random.default_rng(5))
    point = estimates(data, small_params, targets, 20, np.random.default_rng(5), point_only=True)
    assert list(full["target"]) == list(point["target"])
    np.testing.assert_array_equal(full["estimate"].to_numpy(), point["estimate"].to_numpy())

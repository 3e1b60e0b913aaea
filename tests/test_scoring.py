"""Scale scores: reverse keying, the minimum-items rule, standardisation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.errors import PipelineError
from pipeline.stats.scoring import keyed_items, score_scales


def test_hand_computed_scores(instrument):
    df = pd.DataFrame({
        "F1": [5, 4, np.nan], "F2": [5, 4, 1], "F3": [4, np.nan, np.nan],
        "F4": [5, 4, np.nan], "F5": [4, 4, np.nan], "F6": [1, 2, 5],
    })
    out = score_scales(df, instrument, ["identity"])
    # row 0: F6 reversed 1 -> 5; mean of 5,5,4,5,4,5
    assert out.loc[0, "identity"] == pytest.approx(28 / 6)
    # row 1: five answered (>= min_items 4), F6 2 -> 4
    assert out.loc[1, "identity"] == pytest.approx(20 / 5)
    assert out.loc[1, "identity_n_items"] == 5
    # row 2: two answered < 4: missing
    assert np.isnan(out.loc[2, "identity"])
    z = out["identity_z"].dropna()
    assert z.mean() == pytest.approx(0) and z.std(ddof=1) == pytest.approx(1)


def test_reverse_uses_the_items_own_codes(instrument):
    df = pd.DataFrame({f"E{i}": [1.0, 5.0] for i in range(1, 7)})
    keyed = keyed_items(df, instrument, instrument.scales["participation"])
    assert keyed["E6"].tolist() == [5.0, 1.0]
    assert keyed["E1"].tolist() == [1.0, 5.0]


def test_missing_item_is_a_clear_error(instrument):
    with pytest.raises(PipelineError, match="F6"):
        score_scales(pd.DataFrame({"F1": [1.0]}), instrument, ["identity"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(1, 5), min_size=6, max_size=6), min_size=2, max_size=30))
def test_score_within_code_range_and_reversal_is_an_involution(instrument, rows):
    df = pd.DataFrame(rows, columns=[f"F{i}" for i in range(1, 7)]).astype(float)
    scale = instrument.scales["identity"]
    out = score_scales(df, instrument, ["identity"])["identity"]
    assert out.between(1, 5).all()
    twice = keyed_items(keyed_items(df, instrument, scale), instrument, scale)
    pd.testing.assert_frame_equal(twice, df)

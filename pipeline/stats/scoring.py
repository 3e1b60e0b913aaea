"""Scale scores from item codes, as the instrument defines them.

Reverse-keyed items are reflected over their own code range (``min + max - x``); a respondent's
score is the mean of the answered items when at least ``min_items`` are answered, else missing.
Used by the measurement stage; pure functions over frames of item codes (NaN = missing).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument, Scale


def keyed_items(df: pd.DataFrame, instrument: Instrument, scale: Scale) -> pd.DataFrame:
    """The scale's items with reverse-keyed ones reflected; a new frame."""
    missing = [item for item in scale.items if item not in df.columns]
    if missing:
        raise PipelineError(f"scale '{scale.name}': items {missing} are not in the data", hint="check the instrument")
    items = df[list(scale.items)].astype(float).copy()
    for item in scale.reverse:
        codes = instrument.variables[item].valid_codes
        if not codes:
            raise PipelineError(f"scale '{scale.name}': reverse-keyed item '{item}' has no value labels to reflect over")
        items[item] = min(codes) + max(codes) - items[item]
    return items


def score_scale(df: pd.DataFrame, instrument: Instrument, scale: Scale) -> pd.DataFrame:
    """Mean score and the number of answered items for one scale."""
    items = keyed_items(df, instrument, scale)
    answered = items.notna().sum(axis=1)
    score = items.mean(axis=1).where(answered >= scale.min_items)
    return pd.DataFrame({scale.name: score, f"{scale.name}_n_items": answered}, index=df.index)


def score_scales(df: pd.DataFrame, instrument: Instrument, names: list[str] | None = None) -> pd.DataFrame:
    """Scores of the named scales (all of the instrument's by default) with z-standardised versions."""
    names = list(instrument.scales) if names is None else names
    unknown = [n for n in names if n not in instrument.scales]
    if unknown:
        raise PipelineError(f"scales {unknown} are not defined in {instrument.path}")
    parts = []
    for name in names:
        scored = score_scale(df, instrument, instrument.scales[name])
        s = scored[name]
        sd = s.std(ddof=1)
        scored[f"{name}_z"] = (s - s.mean()) / sd if sd and np.isfinite(sd) else np.nan
        parts.append(scored)
    return pd.concat(parts, axis=1)

"""Scale scores from item codes, as the instrument defines them.

Reverse-keyed items are reflected over their own code range (``min + max - x``); a respondent's
score is the mean of the answered items when at least ``min_items`` are answered, else missing.
Used by the measurement stage; pure functions over frames of item codes (NaN = missing).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.communities import community_key, kinds_differ
from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument, Scale
from pipeline.core.settings import Measurement


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


def measured_scales(instrument: Instrument, cfg: Measurement) -> list[str]:
    """The scales the stage scores: ``measurement.scales`` (null: all of the instrument's; []: none)."""
    return list(instrument.scales) if cfg.scales is None else list(cfg.scales)


def score_scales(df: pd.DataFrame, instrument: Instrument, names: list[str] | None = None) -> pd.DataFrame:
    """Scores of the named scales (all of the instrument's by default) with z-standardised versions
    (a frame without columns when there are no scales)."""
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
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)


def build_indices(
    clean: pd.DataFrame, communities: pd.DataFrame | None, instrument: Instrument, cfg: Measurement
) -> pd.DataFrame:
    """One row per analysed respondent: ids, scale scores, covariates, community variables.

    Every column appears once: a covariate that is the id or the community column is not added
    again. The respondent key is the id (the record when the study has no roles.id); the community
    variables are joined on the community id, both sides written alike (``community_key``: the
    survey's 1224.0 and the file's "01224" are one id). A study without a community role, or
    without community covariates, needs no community file (``communities`` may be None).
    """
    id_var, comm_var = instrument.role("id") or instrument.role("record"), instrument.role("community")
    keys = list(dict.fromkeys(v for v in (id_var, comm_var) if v))
    covariates = [c for c in dict.fromkeys(cfg.covariates) if c not in keys]
    missing = [c for c in covariates if c not in clean.columns]
    if missing:
        raise PipelineError(f"measurement.covariates {missing} are not in the cleaned survey", hint="check params.yaml")
    scores = score_scales(clean, instrument, measured_scales(instrument, cfg))
    out = pd.concat([clean[keys].reset_index(drop=True),
                     scores.reset_index(drop=True),
                     clean[covariates].reset_index(drop=True)], axis=1)
    comm_id = instrument.community_id or comm_var
    comm_cols = [c for c in dict.fromkeys(cfg.community_covariates) if c not in (comm_id, comm_var)]
    if not comm_var:
        if comm_cols:
            raise PipelineError(f"measurement.community_covariates {comm_cols} need roles.community in {instrument.path}",
                                hint="name the survey's community variable, or empty measurement.community_covariates")
        return out
    out[comm_var] = community_key(out[comm_var])
    if not comm_cols:
        return out
    if communities is None:
        raise PipelineError(f"measurement.community_covariates {comm_cols} need the community file",
                            hint="pass it with --communities")
    unknown = [c for c in comm_cols if c not in communities.columns]
    if unknown:
        raise PipelineError(f"measurement.community_covariates {unknown} are not in the community file")
    if comm_id not in communities.columns:
        raise PipelineError(f"the community file has no column '{comm_id}' (the instrument's community id)")
    comm = communities[[comm_id, *comm_cols]].rename(columns={comm_id: comm_var})
    comm[comm_var] = community_key(comm[comm_var])
    merged = out.merge(comm, on=comm_var, how="left", validate="many_to_one")
    unmatched = merged.loc[merged[comm_cols].isna().all(axis=1), comm_var].unique()
    if len(unmatched):
        kinds = kinds_differ(out[comm_var], f"survey '{comm_var}'", comm[comm_var], f"community file '{comm_id}'")
        if kinds:
            raise PipelineError(f"the community ids cannot be matched: {kinds}",
                                hint="write the ids the same way in the survey and the community file")
        raise PipelineError(f"communities {sorted(unmatched)[:5]} are in the survey but not in the community file")
    return merged

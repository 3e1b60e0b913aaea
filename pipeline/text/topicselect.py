"""The rule that chooses the topic model and K from the grid's seed runs (the topics stage,
docs/topics.md step 5).

:func:`summarise_runs` turns the per-run evidence of :func:`pipeline.text.topicmetrics.evaluate_grid`
into one row per (model, K) with each criterion's mean and spread across the seed runs;
:func:`select_model` scores the rows and applies the rule; :func:`choose` is the rule itself.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.digits import rounded
from pipeline.text.topicmodel import Settings

SPREAD = ("coherence_npmi", "exclusivity", "stability", "perplexity")
K_COLUMNS = ["model", "k", *[f"{c}{s}" for c in SPREAD for s in ("", "_sd", "_min", "_max")], "n_seeds",
             "eligible", "score", "score_sd", "within_sd", "selection_fallback", "chosen"]


def summarise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, K) of the grid's seed runs: each criterion's mean, sd (ddof 1; NaN for
    one run), min and max over the runs, and n_seeds."""
    g = runs.groupby(["model", "k"], sort=False)
    out = g.size().rename("n_seeds").reset_index()
    for c in SPREAD:
        stats = g[c].agg(["mean", "std", "min", "max"]).reset_index(drop=True)
        out[c], out[f"{c}_sd"], out[f"{c}_min"], out[f"{c}_max"] = (stats[s] for s in ("mean", "std", "min", "max"))
    return out


def _family_scores(runs: pd.DataFrame, table: pd.DataFrame, criteria: tuple[str, ...]) -> pd.Series:
    """Each run's score within its model family: the mean over ``criteria`` of the run's value
    standardised by the mean and sd (ddof 0) of the family's row means over its reference rows
    (``table["reference"]``); a criterion missing for a run counts 0. Criteria are compared to
    10 significant digits (z-scores of near-equal values would blow a last digit up)."""
    crit = runs.assign(neg_perplexity=-runs["perplexity"])
    means = table.assign(neg_perplexity=-table["perplexity"])
    z = []
    for c in criteria:
        vals = pd.Series(rounded(crit[c].to_numpy(float)), index=crit.index)
        ref = means[means["reference"]]
        zc = pd.Series(0.0, index=crit.index)
        for model, rows in ref.groupby("model", sort=False):
            ref_vals = rounded(rows[c].to_numpy(float))
            mu, sd = np.nanmean(ref_vals) if np.isfinite(ref_vals).any() else 0.0, np.nanstd(ref_vals)
            mine = crit["model"] == model
            zc[mine] = ((vals[mine] - mu) / sd if sd > 0 else vals[mine] * 0.0).fillna(0.0)
        z.append(zc)
    return pd.concat(z, axis=1).mean(axis=1)


def select_model(runs: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Summarise the grid's seed runs (:func:`summarise_runs`), score them and apply the rule
    (:func:`choose`). Eligible: mean stability >= ``min_stability`` (every row with a single seed
    run: stability unknown). A family's reference rows are its eligible rows, or all its rows when
    none is (``selection_fallback``). score: the mean over the runs of the run scores of
    :func:`_family_scores` (standardised within the model family, so NMF's exclusivity, on
    another scale than the DMM's, is never compared with it); score_sd: their sd over the runs.
    Returns the table (``K_COLUMNS``, by model and K) and the decision (selection: rule,
    fallback or forced; selection_fallback; selection_reason)."""
    table = summarise_runs(runs)
    stab = rounded(table["stability"].to_numpy(float))
    table["eligible"] = (stab >= settings.min_stability) if settings.seeds >= 2 else True
    table["selection_fallback"] = ~table.groupby("model")["eligible"].transform("any")
    table["reference"] = table["eligible"] | table["selection_fallback"]
    scored = runs.assign(score=_family_scores(runs, table, settings.criteria))
    per_row = scored.groupby(["model", "k"], sort=False)["score"].agg(["mean", "std"]).reset_index()
    table = table.merge(per_row.rename(columns={"mean": "score", "std": "score_sd"}), on=["model", "k"], how="left")
    table.loc[~table["reference"], ["score", "score_sd"]] = np.nan
    table, decision = choose(table, settings)
    return table[K_COLUMNS].sort_values(["model", "k"], kind="stable").reset_index(drop=True), decision


def _family_pick(rows: pd.DataFrame) -> tuple[int, float, float]:
    """The index of a family's pick among its reference ``rows``, the best score and the sd of the
    run scores pooled over the rows (the root mean of their variances; 0 with one run). A family
    with a K stable enough: the best score. A fallback family (no K stable enough): the smallest
    K whose score is within one sd of the best."""
    s = rounded(rows["score"].to_numpy(float))
    best = float(np.max(s))
    var = rows["score_sd"].to_numpy(float) ** 2
    sd = float(np.sqrt(np.nanmean(var))) if np.isfinite(var).any() else 0.0
    if not rows["selection_fallback"].iloc[0]:
        return rows[s == best].sort_values("k", kind="stable").index[0], best, sd
    within = rows[s >= rounded(np.array([best - sd]))[0]]
    return within.sort_values("k", kind="stable").index[0], best, sd


def choose(table: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rule, family by family, then across families.

    1. Within each model family: among its K with stability >= ``min_stability``, the best
       score (ties: the smaller K). A family with no K that stable is a fallback family
       (``selection_fallback``): its scores are then noise-dominated, and its pick is the
       smallest K whose score is within one sd (the seed runs' spread, pooled over its K) of its
       best (the one-standard-error rule: topics the evidence does not tell apart from noise are
       not added). ``within_sd`` marks, in every family, the K within one sd of its best.
    2. Across families, the picks compete on NPMI coherence (the one criterion on a common
       scale: the same corpus, the same ``top_n`` words, document co-occurrence): the highest
       wins, ties to the order of ``topics.models``; a stable pick beats any fallback pick.
    ``selection.model`` restricts the choice to one family and ``selection.fixed_k`` to one K
    (taken even when less stable than ``min_stability``). Scores and stability are compared to
    10 significant digits, so a last-digit difference between machines cannot flip the choice."""
    t = table.copy()
    t["within_sd"] = False
    forced = settings.fixed_model is not None or settings.fixed_k is not None
    families = [m for m in settings.models if m in set(t["model"]) and settings.fixed_model in (None, m)]
    picks = []
    for m in families:
        rows = t[(t["model"] == m) & t["reference"]]
        idx, best, sd = _family_pick(rows)
        t.loc[rows.index[rounded(rows["score"].to_numpy(float)) >= rounded(np.array([best - sd]))[0]], "within_sd"] = True
        if settings.fixed_k is not None:
            hit = t[(t["model"] == m) & (t["k"] == settings.fixed_k)]
            if hit.empty:
                continue
            idx = hit.index[0]
        picks.append((idx, m, best, sd))
    stable = [p for p in picks if t.at[p[0], "eligible"]]
    pool = stable or picks
    order = {m: i for i, m in enumerate(settings.models)}
    idx, m, best, sd = max(pool, key=lambda p: (rounded(np.array([t.at[p[0], "coherence_npmi"]]))[0], -order[p[1]]))
    t["chosen"] = t.index == idx
    k = int(t.at[idx, "k"])
    fallback = bool(t.at[idx, "selection_fallback"]) and not forced
    if forced:
        reason = (f"forced by topics.selection (model {settings.fixed_model}, fixed_k {settings.fixed_k}): "
                  f"{m} K = {k}, stability {t.at[idx, 'stability']:.3f}")
    elif fallback:
        top = t.loc[t["stability"].astype(float).idxmax()]
        reason = (f"no (model, K) reached stability {settings.min_stability} (best {top['stability']:.3f}: "
                  f"{top['model']} K = {int(top['k'])}); fallback: the smallest K within one sd ({sd:.3f}) "
                  f"of the best score ({best:.3f}): {m} K = {k}, stability {t.at[idx, 'stability']:.3f}")
    else:
        reason = (f"the best score ({best:.3f}, run sd {sd:.3f}) among the K with stability >= "
                  f"{settings.min_stability}: {m} K = {k}")
        if len(picks) > 1:
            reason += " (the model family by NPMI coherence)"
    return t, {"selection": "forced" if forced else "fallback" if fallback else "rule",
               "selection_fallback": fallback, "selection_reason": reason}

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
OPTIONAL = ("modularity", "silhouette")   # criteria of some families only (docvec: pipeline.text.docvec), when the runs have them
K_COLUMNS = ["model", "k", *[f"{c}{s}" for c in SPREAD for s in ("", "_sd", "_min", "_max")], "n_seeds",
             "eligible", "score", "score_sd", "score_se", "within_se", "selection_fallback", "chosen"]


def _spread(runs: pd.DataFrame) -> list[str]:
    """The criteria summarised over the seed runs: ``SPREAD`` and those of ``OPTIONAL`` the runs have."""
    return [*SPREAD, *[c for c in OPTIONAL if c in runs.columns]]


def k_columns(runs: pd.DataFrame) -> list[str]:
    """``K_COLUMNS``, with each of the runs' ``OPTIONAL`` criteria (and its spread) after perplexity's."""
    extra = [f"{c}{s}" for c in OPTIONAL if c in runs.columns for s in ("", "_sd", "_min", "_max")]
    at = K_COLUMNS.index("n_seeds")
    return [*K_COLUMNS[:at], *extra, *K_COLUMNS[at:]]
# a fallback K is told apart from the best when its score is lower by more than this many standard
# errors of the difference (a two-sided 5 % test, one-sided 2.3 %): docs/topics.md step 5
SE_BAND = 2.0


def summarise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, K) of the grid's seed runs: each criterion's mean, sd (ddof 1; NaN for
    one run), min and max over the runs, and n_seeds."""
    g = runs.groupby(["model", "k"], sort=False)
    out = g.size().rename("n_seeds").reset_index()
    for c in _spread(runs):
        stats = g[c].agg(["mean", "std", "min", "max"]).reset_index(drop=True)
        out[c], out[f"{c}_sd"], out[f"{c}_min"], out[f"{c}_max"] = (stats[s] for s in ("mean", "std", "min", "max"))
    return out


def _criteria_values(frame: pd.DataFrame, criteria: tuple[str, ...]) -> pd.DataFrame:
    """The criteria of ``frame``'s rows (runs or row means; ``neg_perplexity`` = -perplexity),
    to 10 significant digits (z-scores of near-equal values would blow a last digit up)."""
    f = frame.assign(neg_perplexity=-frame["perplexity"])
    return pd.DataFrame({c: rounded(f[c].to_numpy(float)) for c in criteria}, index=frame.index)


def _standardise(frame: pd.DataFrame, table: pd.DataFrame, criteria: tuple[str, ...]) -> pd.Series:
    """The score of each row of ``frame`` (runs, or leave-one-out means: model and the criteria)
    within its model family: the mean over ``criteria`` of the value standardised by the mean and
    sd (ddof 0) of the family's row means over its reference rows (``table["reference"]``); a
    criterion missing counts 0. Affine in the values: the mean of the run scores is the score of
    the runs' means."""
    vals, means = _criteria_values(frame, criteria), _criteria_values(table, criteria)
    z = pd.DataFrame(0.0, index=frame.index, columns=list(criteria))
    for model, rows in table[table["reference"]].groupby("model", sort=False):
        mine = (frame["model"] == model).to_numpy()
        for c in criteria:
            ref = means.loc[rows.index, c].to_numpy(float)
            mu, sd = (np.nanmean(ref), np.nanstd(ref)) if np.isfinite(ref).any() else (0.0, 0.0)
            z.loc[mine, c] = ((vals.loc[mine, c] - mu) / sd if sd > 0 else vals.loc[mine, c] * 0.0).fillna(0.0)
    return z.mean(axis=1)


def _without(values: np.ndarray, i: int) -> float:
    rest = np.delete(values, i)
    return float(np.nanmean(rest)) if np.isfinite(rest).any() else float("nan")


def leave_one_out(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (model, K) and run r: the criteria over the other runs (model, k, run = the run left
    out). Coherence, exclusivity and perplexity: the mean of the other runs. Stability: a run's
    value is its mean cosine to the other runs, so the runs share the pairs and their values are
    not independent; left out, run r takes its n - 1 pairs with it, and the stability of the
    others is the mean over their own pairs, (n (n-1)/2 s̄ - (n-1) s_r) / ((n-1)(n-2)/2) (with
    two runs, one pair: the mean itself)."""
    rows = []
    means = [c for c in _spread(runs) if c != "stability"]
    for (model, k), g in runs.groupby(["model", "k"], sort=False):
        n, s = len(g), g["stability"].to_numpy(float)
        for i, run in enumerate(g["run"]):
            row = {"model": model, "k": k, "run": run}
            row.update({c: _without(g[c].to_numpy(float), i) for c in means})
            row["stability"] = (n * (n - 1) / 2 * s.mean() - (n - 1) * s[i]) / ((n - 1) * (n - 2) / 2) if n > 2 else s.mean()
            rows.append(row)
    return pd.DataFrame(rows, columns=["model", "k", "run", *_spread(runs)])


def jackknife_se(runs: pd.DataFrame, table: pd.DataFrame, criteria: tuple[str, ...]) -> pd.DataFrame:
    """model, k, score_se: the jackknife standard error of each (model, K)'s score over its seed
    runs, sqrt((n-1)/n Σ (score_(r) - mean score_(.))²) with score_(r) the score of the criteria
    left-one-out (:func:`leave_one_out`), standardised like the score. For means of independent
    runs it is sd / √n; for stability it also counts the pairs the runs share (on 374 citizen
    messages, 8 runs: 0.019-0.022 against a spread of 0.014-0.022 over 16 study seeds, where
    sd / √n says 0.008-0.010). NaN for one run."""
    loo = leave_one_out(runs)
    loo["score"] = _standardise(loo, table, criteria)
    g = loo.groupby(["model", "k"], sort=False)["score"]
    n = g.transform("size")
    loo["dev2"] = (loo["score"] - g.transform("mean")) ** 2 * (n - 1) / n
    out = loo.groupby(["model", "k"], sort=False).agg(dev2=("dev2", "sum"), n=("dev2", "size")).reset_index()
    out["score_se"] = np.sqrt(out["dev2"]).where(out["n"] >= 2)
    return out[["model", "k", "score_se"]]


def select_model(runs: pd.DataFrame, settings: Settings, best: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Summarise the grid's seed runs (:func:`summarise_runs`), score them and apply the rule
    (:func:`choose`). Eligible: mean stability >= ``min_stability`` (every row with a single seed
    run: stability unknown). A family's reference rows are its eligible rows, or all its rows when
    none is (``selection_fallback``). score: the mean over the runs of the run scores of
    :func:`_standardise` (standardised within the model family, so NMF's exclusivity, on another
    scale than the DMM's, is never compared with it); score_sd: their sd over the runs; score_se:
    the score's jackknife standard error (:func:`jackknife_se`). Returns the table (``K_COLUMNS``,
    by model and K) and the decision (selection: rule, fallback or forced; selection_fallback;
    selection_reason). ``best`` (docvec, whose criterion has its maximum inside the grid and whose
    stability, an adjusted Rand index, is on another scale than ``min_stability``'s): no stability
    gate, every K eligible, and the pick is the best score (:func:`_family_pick`); ``within_se``
    still marks the K the evidence cannot tell apart from it."""
    table = summarise_runs(runs)
    stab = rounded(table["stability"].to_numpy(float))
    table["eligible"] = (stab >= settings.min_stability) if settings.seeds >= 2 and not best else True
    table["selection_fallback"] = ~table.groupby("model")["eligible"].transform("any")
    table["reference"] = table["eligible"] | table["selection_fallback"]
    scored = runs.assign(score=_standardise(runs, table, settings.criteria))
    per_row = scored.groupby(["model", "k"], sort=False)["score"].agg(["mean", "std"]).reset_index()
    table = table.merge(per_row.rename(columns={"mean": "score", "std": "score_sd"}), on=["model", "k"], how="left")
    table = table.merge(jackknife_se(runs, table, settings.criteria), on=["model", "k"], how="left")
    table.loc[~table["reference"], ["score", "score_sd", "score_se"]] = np.nan
    table, decision = choose(table, settings, best)
    return table[k_columns(runs)].sort_values(["model", "k"], kind="stable").reset_index(drop=True), decision


def _within(rows: pd.DataFrame) -> tuple[pd.Series, int]:
    """Which of a family's reference ``rows`` the evidence cannot tell apart from its best score:
    the score is lower by at most ``SE_BAND`` standard errors of the difference,
    sqrt(score_se² + score_se(best)²) (a missing score_se counts 0); and the index of the best
    row (ties: the smaller K). Compared to 10 significant digits."""
    s = rounded(rows["score"].to_numpy(float))
    best = rows[s == np.max(s)].sort_values("k", kind="stable").index[0]
    se = rows["score_se"].fillna(0.0).to_numpy(float)
    band = SE_BAND * np.sqrt(se ** 2 + se[rows.index.get_loc(best)] ** 2)
    return pd.Series(s >= rounded(np.max(s) - band), index=rows.index), best


def _family_pick(rows: pd.DataFrame, best: bool = False) -> tuple[int, pd.Series]:
    """The index of a family's pick among its reference ``rows`` and the rows within the band of
    its best (:func:`_within`). A family with a K stable enough, or any family with ``best``: the
    best score. A fallback family (no K stable enough): the smallest K within the band."""
    within, top = _within(rows)
    if best or not rows["selection_fallback"].iloc[0]:
        return top, within
    return rows[within].sort_values("k", kind="stable").index[0], within


def choose(table: pd.DataFrame, settings: Settings, best: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rule, family by family, then across families.

    1. Within each model family: among its K with stability >= ``min_stability``, the best
       score (ties: the smaller K). A family with no K that stable is a fallback family
       (``selection_fallback``): its pick is the smallest K whose score the evidence cannot tell
       apart from its best, lower by at most ``SE_BAND`` (2) jackknife standard errors of the
       difference (the one-standard-error rule of cross-validation, with the error of a
       difference and a two-sided 5 % test: topics the evidence does not tell apart from noise
       are not added). ``within_se`` marks, in every family, the K within that band. With
       ``best`` (docvec) every K is eligible and the pick is the best score.
    2. Across families, the picks compete on NPMI coherence (the one criterion on a common
       scale: the same corpus, the same ``top_n`` words, document co-occurrence): the highest
       wins, ties to the order of ``topics.models``; a stable pick beats any fallback pick.
    ``selection.model`` restricts the choice to one family and ``selection.fixed_k`` to one K
    (taken even when less stable than ``min_stability``). Scores and stability are compared to
    10 significant digits, so a last-digit difference between machines cannot flip the choice."""
    t = table.copy()
    t["within_se"] = False
    forced = settings.fixed_model is not None or settings.fixed_k is not None
    families = [m for m in settings.models if m in set(t["model"]) and settings.fixed_model in (None, m)]
    picks = []
    for m in families:
        rows = t[(t["model"] == m) & t["reference"]]
        idx, within = _family_pick(rows, best)
        t.loc[within.index[within.to_numpy()], "within_se"] = True
        if settings.fixed_k is not None:
            hit = t[(t["model"] == m) & (t["k"] == settings.fixed_k)]
            if hit.empty:
                continue
            idx = hit.index[0]
        picks.append((idx, m, float(rows["score"].max())))
    stable = [p for p in picks if t.at[p[0], "eligible"]]
    pool = stable or picks
    order = {m: i for i, m in enumerate(settings.models)}
    idx, m, top = max(pool, key=lambda p: (rounded(np.array([t.at[p[0], "coherence_npmi"]]))[0], -order[p[1]]))
    t["chosen"] = t.index == idx
    return t, _decision(t, idx, m, top, forced, len(picks), settings, best)


def _decision(t: pd.DataFrame, idx: int, m: str, top: float, forced: bool, n_picks: int,
              settings: Settings, best: bool = False) -> dict[str, Any]:
    """selection (rule, fallback or forced), selection_fallback and the one-line reason."""
    k = int(t.at[idx, "k"])
    fallback = bool(t.at[idx, "selection_fallback"]) and not forced
    if forced:
        reason = (f"forced by topics.selection (model {settings.fixed_model}, fixed_k {settings.fixed_k}): "
                  f"{m} K = {k}, stability {t.at[idx, 'stability']:.3f}")
    elif best:
        reason = _best_reason(t, idx, m, settings)
    elif fallback:
        most = t.loc[t["stability"].astype(float).idxmax()]
        reason = (f"no (model, K) reached stability {settings.min_stability} (best {most['stability']:.3f}: "
                  f"{most['model']} K = {int(most['k'])}); fallback: the smallest K whose score is within "
                  f"{SE_BAND:g} standard errors of its difference from the best score ({top:.3f}): {m} K = {k}, "
                  f"score {t.at[idx, 'score']:.3f} (se {t.at[idx, 'score_se']:.3f}), stability {t.at[idx, 'stability']:.3f}")
    else:
        reason = (f"the best score ({top:.3f}, se {t.at[idx, 'score_se']:.3f}) among the K with stability >= "
                  f"{settings.min_stability}: {m} K = {k}")
        if n_picks > 1:
            reason += " (the model family by NPMI coherence)"
    return {"selection": "forced" if forced else "fallback" if fallback else "rule",
            "selection_fallback": fallback, "selection_reason": reason}


def _best_reason(t: pd.DataFrame, idx: int, m: str, settings: Settings) -> str:
    """The reason of a ``best`` choice (docvec): the K of the best mean score, the K within two
    standard errors of it, and when the best is at an end of the grid (the criterion still rising
    there: a K beyond it might score higher)."""
    k = int(t.at[idx, "k"])
    rows = t[t["model"] == m]
    near = ", ".join(str(int(x)) for x in rows.loc[rows["within_se"], "k"])
    values = ", ".join(f"{c} {t.at[idx, c]:.3f} (sd over the runs {t.at[idx, f'{c}_sd']:.3f})" for c in settings.criteria)
    reason = (f"{m}: the K of the best mean score ({', '.join(settings.criteria)}) over the seed runs: K = {k}, {values}; "
              f"within {SE_BAND:g} standard errors of its score: K = {near}; "
              f"stability {t.at[idx, 'stability']:.3f} (reported, not a gate)")
    if k == max(settings.k_grid) and len(settings.k_grid) > 1:
        reason += "; the best is at the grid's largest K: the evidence does not bound K from above"
    elif k == min(settings.k_grid) and len(settings.k_grid) > 1:
        reason += "; the best is at the grid's smallest K: the evidence does not bound K from below"
    return reason

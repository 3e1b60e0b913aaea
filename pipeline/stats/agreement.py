"""Agreement between two coders' binary codes (the coding stage's agreement with human coders,
docs/coding.md).

Per theme Cohen's kappa with the asymptotic variance and interval of R ``psych::cohen.kappa``
(:func:`cohen_kappa`), precision, recall, F1; Krippendorff's alpha (nominal,
:func:`krippendorff_alpha`) per theme and pooled over all theme x unit binary decisions, with a
percentile interval from a seeded bootstrap that resamples interviews (clusters,
:func:`bootstrap_alpha`); :func:`agreement_table` puts them together.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipeline.stats.distributions import norm_ppf


STREAM_BOOT = 81      # SeedSequence stream of the agreement bootstrap


def cohen_kappa(table: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """Unweighted Cohen's kappa of a square agreement table (rows rater 1, columns rater 2) with
    the large-sample variance of Fleiss, Cohen and Everitt (1969) exactly as R psych 2.2.9
    ``cohen.kappa`` computes it (``var.kappa``) and its normal interval, clipped to [-1, 1]."""
    x = np.asarray(table, dtype=float)
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise ValueError("cohen_kappa needs a square table")
    tot = x.sum()
    p = x / tot
    rs, cs = p.sum(axis=1), p.sum(axis=0)
    po, pc = np.trace(p), float(rs @ cs)
    kappa = (po - pc) / (1 - pc) if pc < 1 else float("nan")
    d = np.diag(p)
    t1 = float(np.sum(d * ((1 - pc) - (rs + cs) * (1 - po)) ** 2))
    outer = cs[:, None] + rs[None, :]
    t2 = (1 - po) ** 2 * (float(np.sum(p * outer ** 2)) - float(np.sum(d * np.diag(outer) ** 2)))
    t3 = (po * pc - 2 * pc + po) ** 2
    var = (t1 + t2 - t3) / (tot * (1 - pc) ** 4) if pc < 1 else float("nan")
    if not np.isfinite(var) or var < 0:
        var = 0.0
    z = norm_ppf(alpha / 2)
    lo, hi = kappa + z * math.sqrt(var), kappa - z * math.sqrt(var)
    return {"kappa": float(kappa), "var_kappa": float(var), "ci_low": float(max(-1.0, min(1.0, lo))),
            "ci_high": float(max(-1.0, min(1.0, hi))), "n": float(tot)}


def krippendorff_alpha(data: np.ndarray) -> float:
    """Krippendorff's alpha, nominal metric, for a coders x units array of category values
    (NaN: missing), through the coincidence matrix (Krippendorff 2011, "Computing
    Krippendorff's alpha-reliability"). Units with fewer than two values are not pairable."""
    x = np.asarray(data, dtype=float)
    cats = np.unique(x[~np.isnan(x)])
    index = {c: i for i, c in enumerate(cats)}
    o = np.zeros((len(cats), len(cats)))
    for col in x.T:
        vals = col[~np.isnan(col)]
        m = len(vals)
        if m < 2:
            continue
        counts = np.zeros(len(cats))
        for v in vals:
            counts[index[v]] += 1
        o += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    d_o = o.sum() - np.trace(o)
    d_e = (n * n - np.sum(n_c ** 2)) / (n - 1)
    return float(1 - d_o / d_e) if d_e > 0 else float("nan")


def binary_alpha(disagree: np.ndarray, ones: np.ndarray, n_values: np.ndarray) -> np.ndarray:
    """Nominal alpha of two coders' complete binary codes from sums: units that disagree,
    values equal to 1 and all values (2 x units). Broadcasts over replications."""
    n1 = ones.astype(float)
    n0 = n_values - n1
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - (n_values - 1) * disagree / (n0 * n1)


def _cluster_sums(a: np.ndarray, b: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cluster (rows, in order of first appearance) and column: disagreements, ones, values."""
    _, inv = np.unique(clusters, return_inverse=True)
    g = inv.max() + 1 if len(inv) else 0
    dis, ones, vals = (np.zeros((g, a.shape[1])) for _ in range(3))
    np.add.at(dis, inv, (a != b).astype(float))
    np.add.at(ones, inv, (a + b).astype(float))
    np.add.at(vals, inv, 2.0)
    return dis, ones, vals


def bootstrap_alpha(a: np.ndarray, b: np.ndarray, clusters: Sequence[Any], replications: int, seed: int,
                    level: float = 0.95) -> dict[str, Any]:
    """Pooled nominal alpha of two coders' unit x theme binary codes ``a``, ``b`` (0/1 arrays,
    same shape) and per column, with percentile intervals from ``replications`` resamples of the
    clusters (interviews) with replacement; seeded (numpy SeedSequence([seed, STREAM_BOOT]))."""
    a, b = np.asarray(a, dtype=np.int8), np.asarray(b, dtype=np.int8)
    dis, ones, vals = _cluster_sums(a, b, np.asarray(clusters))
    est_cols = binary_alpha(dis.sum(0), ones.sum(0), vals.sum(0))
    est = float(binary_alpha(dis.sum(), ones.sum(), vals.sum()))
    out: dict[str, Any] = {"alpha": est, "alpha_cols": est_cols, "ci_low": float("nan"), "ci_high": float("nan"),
                           "ci_cols": np.full((2, a.shape[1]), np.nan), "replications": int(replications)}
    if replications <= 0 or dis.shape[0] < 2:
        return out
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), STREAM_BOOT]))
    g = dis.shape[0]
    w = np.stack([np.bincount(rng.integers(0, g, g), minlength=g) for _ in range(replications)]).astype(float)
    D, O, V = w @ dis, w @ ones, w @ vals                      # replications x columns
    pooled = binary_alpha(D.sum(1), O.sum(1), V.sum(1))
    cols = binary_alpha(D, O, V)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out["ci_low"], out["ci_high"] = (float(v) for v in np.nanpercentile(pooled, q))
    with np.errstate(all="ignore"):
        out["ci_cols"] = np.array([[np.nanpercentile(cols[:, j], qq) if np.isfinite(cols[:, j]).any() else np.nan
                                    for j in range(cols.shape[1])] for qq in q])
    return out


def agreement_table(codes: pd.DataFrame, human: pd.DataFrame, themes: Mapping[str, int], replications: int, seed: int,
                    level: float = 0.95) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per theme: n, Cohen's kappa with psych's interval, Krippendorff's alpha with a
    cluster-bootstrap interval, precision, recall and F1 of the codes against the human codes
    (the reference); one ``overall`` row with the alpha pooled over all theme x unit decisions
    (its interval from the same bootstrap), the mean kappa and the macro precision, recall, F1.
    ``themes``: theme code (a column of both frames) -> theme id, in the codebook's order."""
    cols = list(themes)
    m = codes[["unit_id", "interview_id", *cols]].merge(human[["unit_id", *cols]], on="unit_id",
                                                         suffixes=("", "_human"), validate="one_to_one")
    a = m[cols].to_numpy(dtype=np.int8)
    b = m[[f"{c}_human" for c in cols]].to_numpy(dtype=np.int8)
    boot = bootstrap_alpha(a, b, m["interview_id"].to_numpy(), replications, seed, level)
    rows = []
    for j, (code, theme_id) in enumerate(themes.items()):
        tab = np.array([[np.sum((b[:, j] == r) & (a[:, j] == c)) for c in (0, 1)] for r in (0, 1)])
        k = cohen_kappa(tab, 1 - level) if len(m) else {"kappa": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        tp, fp, fn = tab[1, 1], tab[0, 1], tab[1, 0]
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        rows.append({"theme": code, "theme_id": theme_id, "n": len(m), "human_coded": int(b[:, j].sum()),
                     "machine_coded": int(a[:, j].sum()), "kappa": k["kappa"], "kappa_ci_low": k["ci_low"],
                     "kappa_ci_high": k["ci_high"], "alpha": float(boot["alpha_cols"][j]),
                     "alpha_ci_low": float(boot["ci_cols"][0, j]), "alpha_ci_high": float(boot["ci_cols"][1, j]),
                     "precision": prec, "recall": rec, "f1": f1})
    per = pd.DataFrame(rows)
    overall = {"theme": "overall", "theme_id": 0, "n": len(m) * len(cols), "human_coded": int(b.sum()),
               "machine_coded": int(a.sum()), "kappa": per["kappa"].mean(), "kappa_ci_low": np.nan,
               "kappa_ci_high": np.nan, "alpha": boot["alpha"], "alpha_ci_low": boot["ci_low"],
               "alpha_ci_high": boot["ci_high"], "precision": per["precision"].mean(),
               "recall": per["recall"].mean(), "f1": per["f1"].mean()}
    table = pd.concat([per, pd.DataFrame([overall])], ignore_index=True)
    summary = {"units": int(len(m)), "interviews": int(m["interview_id"].nunique()),
               "replications": boot["replications"]}
    return table, summary

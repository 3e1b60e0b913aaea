"""The demo study's checks: the analysis against the generator's truth (``raw/truth``).

Only the demo study has a truth, and only this module (through the ``demo_checks`` stage,
:mod:`pipeline.demo.demo_checks`) reads it; the topics and coding stages know nothing of it.

1. Topics (:func:`topic_alignment`): :func:`align_topics` matches the topics stage's topics to
   the planted themes one to one (Hungarian on the topic x theme contingency table of argmax
   topics, :func:`doc_themes`) and reports purity; :func:`align_stances` does the same for the
   planted (theme, stance) classes (:func:`doc_stances`); :func:`sign_agreement` and
   :func:`stance_sign_agreement` compare the prevalence effects of every factor in
   ``topics.prevalence.factors`` that the truth plants a level-vs-level contrast for (gov_model
   on the demo) with the planted signs.
2. Coding (:func:`human_code_sheet`): the planted sentence themes aligned onto unit ids
   (:func:`truth_unit_codes`, :func:`align_truth_turn`) as a filled coder sheet, the stand-in
   human coder the coding stage's agreement is computed against (coding.human_codes).
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.stats.assignment import linear_sum_assignment
from pipeline.text.coding import SHEET_FIXED, SHEET_TAIL, Codebook


def read_truth(path: str | Path | None) -> dict[str, Any] | None:
    """The demo study's planted themes (raw/truth), or None when there is no such folder."""
    if not path:
        return None
    path = Path(path)
    units_file, effects_file = path / "transcript_units.csv", path / "transcript_theme_effects.json"
    if not units_file.exists() or not effects_file.exists():
        return None
    return {"units": pd.read_csv(units_file), "effects": json.loads(effects_file.read_text(encoding="utf-8"))}


# --------------------------------------------------------------------------------------------
# topics: alignment with the planted themes
# --------------------------------------------------------------------------------------------
def _truth_turn_keys(truth_units: pd.DataFrame) -> pd.Series:
    """The unit-id turn key (``I001:3``) of each truth sentence: truth turns count from 0."""
    return truth_units["interview_id"].astype(str) + ":" + (truth_units["turn"] + 1).astype(str)


def doc_themes(docs: pd.DataFrame, truth_units: pd.DataFrame) -> pd.Series:
    """Each document's planted theme. A document that is one respondent turn gets the turn's
    planted main theme (``turn_theme``; turns are numbered from 0 in the truth, from 1 in unit
    ids, and line up one to one). A window of sentences gets the majority theme of its sentences
    (ties: the first turn's main theme, then the smaller) -- sentence numbers line up less well,
    since the transcripts stage joins run-on sentences (see :func:`truth_unit_codes` for an
    alignment by sentence lengths)."""
    t = truth_units.assign(turn_key=_truth_turn_keys(truth_units))
    t = t.assign(unit_id=t["turn_key"] + ":" + (t["sentence"] + 1).astype(str))
    theme = dict(zip(t["unit_id"], t["theme"].astype(int)))
    turn_theme = dict(zip(t["turn_key"], t["turn_theme"].astype(int)))
    out = []
    for ids in docs["unit_ids"]:
        units = ids.split(";")
        turns = {u.rsplit(":", 1)[0] for u in units}
        first_turn = units[0].rsplit(":", 1)[0]
        if len(turns) == 1:
            out.append(turn_theme.get(first_turn, -1))
            continue
        vals = [theme[u] for u in units if u in theme]
        if not vals:
            out.append(-1)
            continue
        counts = pd.Series(vals).value_counts()
        best = counts[counts == counts.max()].index.tolist()
        main = turn_theme.get(first_turn, -1)
        out.append(main if main in best else min(best))
    return pd.Series(out, index=docs.index, name="theme")


def _turn_stances(keys: np.ndarray, variants: np.ndarray, themes: np.ndarray) -> dict[str, str]:
    """``"theme:variant"`` of each turn key: the variant most of the turn's rows carry (ties: the
    first in row order) and the theme of the turn's first row (:func:`doc_stances`), counted by
    whole columns instead of a Python loop over turns."""
    if not len(keys):
        return {}
    key_code, key_uniques = pd.factorize(keys, use_na_sentinel=False)
    var_code, var_uniques = pd.factorize(variants, use_na_sentinel=False)   # a missing variant is one value ("nan")
    pair = key_code.astype(np.int64) * len(var_uniques) + var_code
    pairs, first, counts = np.unique(pair, return_index=True, return_counts=True)
    # per turn: the most rows, then the earliest first row
    order = np.lexsort((first, -counts, pairs // len(var_uniques)))
    turn = pairs[order] // len(var_uniques)
    best = order[np.r_[True, turn[1:] != turn[:-1]]]
    first_row = np.unique(key_code, return_index=True)[1]
    return {str(key_uniques[p // len(var_uniques)]): f"{int(themes[first_row[p // len(var_uniques)]])}:"
            f"{var_uniques[p % len(var_uniques)]}" for p in pairs[best]}


def doc_stances(docs: pd.DataFrame, truth_units: pd.DataFrame) -> pd.Series:
    """Each turn document's planted (theme, stance) class as ``"theme:variant"``: the turn's main
    theme and the variant most of its sentences of that theme carry (ties: first in sentence
    order; a theme planted without variants has the one variant ``general``). Documents that are
    not one turn, or whose turn has no sentence of its main theme, get "". The demo generator
    plants four themes with two stances each (raw/truth: transcript_theme_effects.json,
    ``variants``), each with its own wording."""
    t = truth_units[truth_units["theme"] == truth_units["turn_theme"]]
    main = _turn_stances(_truth_turn_keys(t).to_numpy(), t["variant"].astype(str).to_numpy(),
                         t["turn_theme"].to_numpy())
    out = []
    for ids in docs["unit_ids"]:
        turns = {u.rsplit(":", 1)[0] for u in ids.split(";")}
        out.append(main.get(next(iter(turns)), "") if len(turns) == 1 else "")
    return pd.Series(out, index=docs.index, name="stance")


def align_stances(topic: np.ndarray, stance: np.ndarray, k: int, classes: Sequence[str]) -> dict:
    """One-to-one (Hungarian) and many-to-one purity of the topics against the planted
    (theme, stance) classes ``classes`` (documents of other classes left out)."""
    mask = np.isin(stance, list(classes))
    tab = pd.crosstab(pd.Categorical(topic[mask], categories=range(1, k + 1)),
                      pd.Categorical(stance[mask], categories=list(classes)), dropna=False).to_numpy()
    rows, cols = linear_sum_assignment(-tab)
    total = tab.sum()
    return {"n_classes": len(classes), "n_docs": int(total),
            "purity": float(tab[rows, cols].sum() / total) if total else float("nan"),
            "majority_purity": float(tab.max(axis=1).sum() / total) if total else float("nan")}


def align_topics(topic: np.ndarray, theme: np.ndarray, k: int, themes: Sequence[int]) -> tuple[pd.DataFrame, dict]:
    """Match topics 1..k one to one with ``themes`` (Hungarian, maximising the documents on the
    diagonal of the topic x theme contingency table of argmax topics; only documents with a
    theme in ``themes``).

    Returns per topic: topic, n_docs, theme (matched; 0 when unmatched), majority_theme, n_match,
    purity (n_match / n_docs); and a summary: purity (documents on the matched diagonal over all
    themed documents), majority_purity (classic purity: every topic to its majority theme),
    matched (topics whose matched theme is also their majority theme), bijective (K equals the
    number of themes and every theme is the majority of exactly one topic), themes_recovered
    (themes that are the majority theme of at least one topic). With K > the number of themes,
    K - 9 topics stay unmatched and their documents count as misses in ``purity``.
    """
    themes = list(themes)
    mask = np.isin(theme, themes)
    tab = pd.crosstab(pd.Categorical(topic[mask], categories=range(1, k + 1)),
                      pd.Categorical(theme[mask], categories=themes), dropna=False).to_numpy()
    rows, cols = linear_sum_assignment(-tab)
    matched_theme = {int(r) + 1: themes[c] for r, c in zip(rows, cols)}
    total = tab.sum()
    out = []
    for t in range(k):
        n = int(tab[t].sum())
        th = matched_theme.get(t + 1, 0)
        n_match = int(tab[t, themes.index(th)]) if th else 0
        major = themes[int(np.argmax(tab[t]))] if n else 0
        out.append({"topic": t + 1, "n_docs": n, "theme": th, "majority_theme": major, "n_match": n_match,
                    "purity": n_match / n if n else float("nan")})
    out = pd.DataFrame(out)
    majors = out.loc[out["n_docs"] > 0, "majority_theme"]
    summary = {
        "purity": float(out["n_match"].sum() / total) if total else float("nan"),
        "majority_purity": float(tab.max(axis=1).sum() / total) if total else float("nan"),
        "matched": int(((out["theme"] == out["majority_theme"]) & (out["theme"] > 0)).sum()),
        "bijective": bool(k == len(themes) and sorted(majors) == sorted(themes)),
        "themes_recovered": int(len(set(majors) & set(themes))),
        "n_docs_themed": int(total),
    }
    return out, summary


def sign_agreement(levels: pd.DataFrame, alignment: pd.DataFrame, contrasts: Sequence[Mapping[str, Any]],
                   factor: str, mapping: str = "one_to_one") -> tuple[pd.DataFrame, dict]:
    """Compare the planted prevalence contrasts of ``factor`` (``planted: true`` entries of the
    truth's contrasts, level vs a single reference level) with the estimated difference of
    average predicted proportions of each theme's topics: ``mapping="one_to_one"``, the one
    topic Hungarian-matched to the theme (column ``theme`` of the alignment);
    ``"many_to_one"``, the sum over every topic whose majority theme it is (column
    ``majority_theme``; predicted proportions are linear, so the differences add). Returns one
    row per planted contrast (mapping, theme, topics ";"-joined, planted sign, estimated
    difference, agree) and a summary."""
    column = {"one_to_one": "theme", "many_to_one": "majority_theme"}[mapping]
    rows = []
    theme_topics: dict[int, list[int]] = {}
    for r in alignment.itertuples():
        th = int(getattr(r, column))
        if th and (mapping == "one_to_one" or r.n_docs > 0):
            theme_topics.setdefault(th, []).append(int(r.topic))
    for c in contrasts:
        if c.get("factor") != factor or not c.get("planted") or isinstance(c.get("reference"), list):
            continue
        th = int(c["theme"])
        topics = theme_topics.get(th, [])
        diff = float("nan")
        if topics:
            lv = levels[levels["topic"].isin([f"T{t}" for t in topics]) & (levels["factor"] == factor)]
            lv = lv.groupby("level")["estimate"].sum()
            if str(c["level"]) in lv.index and str(c["reference"]) in lv.index:
                diff = float(lv[str(c["level"])] - lv[str(c["reference"])])
        rows.append({"mapping": mapping, "factor": factor, "level": str(c["level"]), "reference": str(c["reference"]),
                     "theme": th, "topics": ";".join(map(str, topics)), "planted_sign": int(c["sign"]),
                     "estimated_difference": diff, "agree": bool(np.sign(diff) == int(c["sign"]))})
    out = pd.DataFrame(rows, columns=["mapping", "factor", "level", "reference", "theme", "topics", "planted_sign",
                                      "estimated_difference", "agree"])
    return out, {"n_planted": len(out), "n_agree": int(out["agree"].sum()),
                 "share_agree": float(out["agree"].mean()) if len(out) else float("nan")}


def stance_sign_agreement(levels: pd.DataFrame, topic: np.ndarray, stance: np.ndarray, effects: Mapping[str, Any],
                          factor: str) -> tuple[pd.DataFrame, dict]:
    """Topics that carry one stance of a theme planted with stances: each topic's majority
    (theme, stance) class (:func:`doc_stances`) is compared, when the generator planted a
    ``factor`` shift of that stance (``planted: true`` in the truth's ``variants`` contrasts),
    with the planted difference of the stance's expected share of turns,
    share(theme | level) x share(stance | theme, level) - the same at the reference level
    (both from the truth's expected shares), and the topic's estimated difference of average
    predicted proportions. Returns one row per such topic and a summary."""
    variants = effects.get("variants") or {}
    theme_share = (effects.get("expected_share") or {}).get(factor) or {}
    rows = []
    for t in range(1, int(topic.max(initial=0)) + 1):
        cls = [c for c in stance[topic == t] if c]
        if not cls:
            continue
        major = max(sorted(set(cls)), key=cls.count)
        th, var = major.split(":", 1)
        spec = variants.get(th)
        if not spec:
            continue
        for c in spec.get("contrasts", []):
            if (c.get("factor") != factor or c.get("variant") != var or not c.get("planted")
                    or isinstance(c.get("reference"), list)):
                continue
            lv, ref = str(c["level"]), str(c["reference"])
            vshare = spec["expected_share"][factor]
            planted = theme_share[lv][th] * vshare[lv][var] - theme_share[ref][th] * vshare[ref][var]
            est = levels[(levels["topic"] == f"T{t}") & (levels["factor"] == factor)].set_index("level")["estimate"]
            diff = float(est[lv] - est[ref]) if lv in est.index and ref in est.index else float("nan")
            rows.append({"mapping": "stance", "factor": factor, "level": lv, "reference": ref, "theme": int(th),
                         "stance": var, "topics": str(t), "planted_sign": int(np.sign(planted)),
                         "planted_difference": planted, "estimated_difference": diff,
                         "agree": bool(np.sign(diff) == np.sign(planted))})
    out = pd.DataFrame(rows, columns=["mapping", "factor", "level", "reference", "theme", "stance", "topics",
                                      "planted_sign", "planted_difference", "estimated_difference", "agree"])
    return out, {"n_planted": len(out), "n_agree": int(out["agree"].sum())}


def topic_alignment(doc_topics: pd.DataFrame, levels: pd.DataFrame, truth: Mapping[str, Any],
                    factors: Sequence[str]) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The topics stage's topics against the planted themes: ``doc_topics`` is its
    doc_topics.parquet (unit_ids, topic, T1..TK), ``levels`` its average predicted proportions by
    level (prevalence_levels), ``truth`` :func:`read_truth`'s, ``factors`` topics.prevalence.factors.
    Returns the tables ``alignment`` (:func:`align_topics` with theme_label) and, when the truth
    plants a level-vs-level contrast of one of the factors, ``sign_agreement`` (one-to-one,
    many-to-one and stance rows), and the summary (the metrics' ``alignment``)."""
    k = sum(1 for c in doc_topics.columns if c[:1] == "T" and c[1:].isdigit())
    dthemes = doc_themes(doc_topics, truth["units"]).to_numpy()
    theme_ids = sorted(int(t) for t in truth["effects"]["themes"])
    alignment, summary = align_topics(doc_topics["topic"].to_numpy(), dthemes, k, theme_ids)
    names = {int(t): v.get("en", str(t)) if isinstance(v, dict) else str(v)
             for t, v in truth["effects"]["themes"].items()}
    alignment["theme_label"] = alignment["theme"].map(names).fillna("")
    stances = doc_stances(doc_topics, truth["units"]).to_numpy()
    classes = sorted({c for c in stances if c and int(c.split(":")[0]) in theme_ids
                      and c.split(":")[1] not in ("pii", "nan")}, key=lambda c: (int(c.split(":")[0]), c))
    summary["stances"] = align_stances(doc_topics["topic"].to_numpy(), stances, k, classes)
    # planted signs of every prevalence factor the truth plants a level-vs-level contrast for
    contrasts = truth["effects"]["contrasts"]
    checked = [f for f in factors if any(c.get("factor") == f and c.get("planted")
                                         and not isinstance(c.get("reference"), list) for c in contrasts)]
    frames = []
    for f in checked:
        signs, one = sign_agreement(levels, alignment, contrasts, f)
        signs_m, many = sign_agreement(levels, alignment, contrasts, f, mapping="many_to_one")
        stance_signs, st = stance_sign_agreement(levels, doc_topics["topic"].to_numpy(), stances, truth["effects"], f)
        frames += [signs, signs_m, stance_signs]
        summary["stances"].update({f"{f}_signs_agree": st["n_agree"], f"{f}_signs_planted": st["n_planted"]})
        summary.update({f"{f}_signs_agree": one["n_agree"], f"{f}_signs_planted": one["n_planted"],
                        f"{f}_signs_agree_themes": sorted(int(t) for t in signs.loc[signs["agree"], "theme"]),
                        f"{f}_signs_agree_many_to_one": many["n_agree"],
                        f"{f}_signs_agree_themes_many_to_one":
                            sorted(int(t) for t in signs_m.loc[signs_m["agree"], "theme"])})
    tables = {"alignment": alignment}
    if frames:
        tables["sign_agreement"] = pd.concat(frames, ignore_index=True)
    return tables, summary


# --------------------------------------------------------------------------------------------
# coding: the planted sentence themes as a human coder's sheet
# --------------------------------------------------------------------------------------------
def align_truth_turn(truth_lengths: Sequence[int], unit_sentences: Sequence[int],
                     unit_lengths: Sequence[int]) -> list[list[int]]:
    """Assign a turn's planted sentences (0-based, in order) to its units (sentence numbers,
    1-based, possibly with gaps where a unit without content tokens was left out) by dynamic
    programming on text lengths: each slot 1..max(sentence) takes a contiguous, non-empty run of
    planted sentences (several when a run-on comma joined them); a slot with a unit costs
    |summed planted length - unit length| (redaction placeholders change lengths a little), a
    left-out slot costs half the run's length, trailing planted sentences may be left out at half
    their length. Returns for each unit (in the given order) the planted sentence indices."""
    L = np.asarray(truth_lengths, dtype=float)
    n = len(L)
    known = {int(s): float(m) for s, m in zip(unit_sentences, unit_lengths)}
    k_max = max(known) if known else 0
    if n == 0 or k_max == 0:
        return [[] for _ in unit_sentences]
    cum = np.concatenate([[0.0], np.cumsum(L)]).tolist()     # Python floats: the same sums, faster scalars
    inf = float("inf")
    prev = [0.0] + [inf] * n                                  # dp[k - 1, :]
    back = [[0] * (n + 1) for _ in range(k_max + 1)]
    for k in range(1, k_max + 1):
        cur = [inf] * (n + 1)
        target = known.get(k)
        for i in range(k, n + 1):
            best, arg = inf, -1
            for j in range(k - 1, i):
                if prev[j] == inf:
                    continue
                run = cum[i] - cum[j]
                c = abs(run - target) if target is not None else 0.5 * run
                c += 1e-3 * (i - j - 1)  # prefer single sentences on ties
                if prev[j] + c < best:
                    best, arg = prev[j] + c, j
            cur[i], back[k][i] = best, arg
        prev = cur
    totals = [prev[i] + 0.5 * (cum[n] - cum[i]) for i in range(n + 1)]
    i = int(np.argmin(totals))
    runs: dict[int, list[int]] = {}
    for k in range(k_max, 0, -1):
        j = back[k][i]
        runs[k] = list(range(j, i))
        i = j
    return [runs.get(int(s), []) for s in unit_sentences]


def truth_unit_codes(truth: pd.DataFrame, units: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """The demo study's planted sentence themes as human codes of the units (unit_id + a 0/1
    column per theme code). The truth numbers turns and sentences from 0 and counts characters
    of the decoded file; a unit holds one planted sentence or, after a run-on comma, several
    (:func:`align_truth_turn`), and is coded with every non-zero planted theme among them."""
    need = ["interview_id", "turn", "sentence", "theme", "text_length"]
    lacking = [c for c in need if c not in truth.columns]
    if lacking:
        raise PipelineError(f"truth units: no column(s) {lacking}", hint="pass raw/truth of the demo study")
    by_id = {t.id: t.code for t in codebook.themes}
    columns = list(dict.fromkeys(by_id.values()))
    column_of = {th: columns.index(code) for th, code in by_id.items()}
    t = truth.sort_values(["interview_id", "turn", "sentence"])
    t = t[t["interview_id"].notna() & t["turn"].notna()]          # as a groupby by the two keys
    t_len, t_theme = t["text_length"].to_numpy(), t["theme"].astype(int).to_numpy()
    groups = dict(_runs_of(t["interview_id"].to_numpy(dtype=object), t["turn"].to_numpy()))
    gid = units.groupby(["interview_id", "turn"], sort=False).ngroup().to_numpy()
    order = np.argsort(gid, kind="stable")                          # groups in order of appearance
    order = order[gid[order] >= 0]
    iv_col, turn_col = units["interview_id"].to_numpy(dtype=object)[order], units["turn"].to_numpy()[order]
    sentence = units["sentence"].to_numpy()[order]
    length = units["text"].fillna("").astype(str).str.len().to_numpy()[order]
    codes = np.zeros((len(order), len(columns)), dtype=np.int64)
    bounds = np.flatnonzero(np.r_[True, gid[order][1:] != gid[order][:-1], True]) if len(order) else []
    for a, b in zip(bounds[:-1], bounds[1:]):
        span = groups.get((iv_col[a], int(turn_col[a]) - 1))
        if span is None:
            continue
        runs = align_truth_turn(t_len[span[0]:span[1]], sentence[a:b], length[a:b])
        themes = t_theme[span[0]:span[1]]
        for r, run in enumerate(runs, start=a):
            for th in themes[run]:
                if th in column_of:
                    codes[r, column_of[th]] = 1
    out = pd.DataFrame(codes, columns=columns)
    out.insert(0, "unit_id", units["unit_id"].to_numpy(dtype=object)[order])
    return out


def _runs_of(ids: np.ndarray, turns: np.ndarray) -> Iterator[tuple[tuple[Any, Any], tuple[int, int]]]:
    """((interview_id, turn), (start, end)) of each run of equal keys in rows sorted by them."""
    if not len(ids):
        return
    change = np.flatnonzero(np.r_[True, (ids[1:] != ids[:-1]) | (turns[1:] != turns[:-1]), True])
    keys_iv, keys_turn = ids.tolist(), turns.tolist()
    for a, b in zip(change[:-1], change[1:]):
        yield (keys_iv[a], keys_turn[a]), (int(a), int(b))


def human_code_sheet(truth_units: pd.DataFrame, units: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """The planted sentence themes of every unit (:func:`truth_unit_codes`) as a filled coder
    sheet, the columns of the coding stage's coder_sample.csv: unit_id, interview_id, role, text
    (redacted), one column per theme code ("1" or "0", never blank: every unit is coded), coder
    (``truth``), notes; rows in the order of :func:`truth_unit_codes`. The coding stage reads it
    as any filled sheet (:func:`pipeline.text.coding.read_human_codes`)."""
    codes = truth_unit_codes(truth_units, units, codebook)
    fixed = units[list(SHEET_FIXED)].drop_duplicates("unit_id")
    sheet = codes[["unit_id"]].merge(fixed, on="unit_id", how="left", validate="one_to_one")
    for c in codebook.codes:
        sheet[c] = codes[c].astype(int).astype(str).to_numpy()
    sheet[SHEET_TAIL[0]] = "truth"
    sheet[SHEET_TAIL[1]] = ""
    return sheet[[*SHEET_FIXED, *codebook.codes, *SHEET_TAIL]]

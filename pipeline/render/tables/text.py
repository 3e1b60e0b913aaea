"""The tables of the interviews section: topics, choice of K, theme frequencies, coder agreement
(skipped with a note when their stages' outputs are absent)."""
from __future__ import annotations

import re
from typing import Any, Mapping

import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument
from pipeline.render import locale
from pipeline.render.table import Cell, Row, Table
from pipeline.render.tables.cells import _absent, _header, _isnan, _need, _t, _variable, fmt, num, source, text, value_label
from pipeline.render.tables.results import Results

def _label_col(df: pd.DataFrame, lang: str) -> str | None:
    for c in (f"label_{lang}", "label", "label_en", "label_zh"):
        if c in df.columns:
            return c
    return None


def table_topics(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("topics", lang)
    missing = _need(results, ["topics/topics.csv", "topics/topic_words.csv"])
    if missing:
        return _absent(key, cap, ", ".join(f"processed/{m}" for m in missing), "run the topics stage", lang)
    topics, words = results["topics/topics.csv"], results["topics/topic_words.csv"]
    if "model" in topics.columns and topics["model"].nunique() > 1:
        raise PipelineError("processed/topics/topics.csv: topics of several models", "keep only the chosen model's topics")
    lab = _label_col(topics, lang)
    sep = _t("word_separator", lang)
    d = settings["decimals"]["percent"]
    rows = []
    for _, r in topics.sort_values("topic").iterrows():
        w = words[words["topic"] == r["topic"]].sort_values("rank")
        top = sep.join(w.loc[w["kind"] == "top", "word"].astype(str))
        frex = sep.join(w.loc[w["kind"] == "frex", "word"].astype(str))
        prev = num(source(results, "topics/topics.csv", {"topic": r["topic"]}, "prevalence", scale=100), decimals=d)
        rows.append(Row((text(str(r["topic"])), text(topic_label(r[lab], sep) if lab and not _isnan(r[lab]) else ""), prev,
                         Cell(top), Cell(frex))))
    head = [_t("topic", lang), _t("label", lang), _t("prevalence", lang), _t("top_words", lang), _t("frex_words", lang)]
    notes = (*corpus_note(results, lang), _t("topics_note", lang), *k_selection_note(results, lang, fallback_only=True))
    return Table(key, cap, _header(head), tuple(rows), notes, label_columns=2, lang=lang)


def corpus_note(results: Results, lang: str) -> tuple[str, ...]:
    """What the texts were, from the transcripts stage's files: texts analysed, units, words and
    redactions of personal data (interviews.csv), and the files skipped, by reason (skipped.csv).
    Empty without interviews.csv (a report of an older transcripts stage)."""
    texts = results.get("transcripts/interviews.csv")
    if texts is None:
        return ()
    skipped = results.get("transcripts/skipped.csv")
    more = ""
    if skipped is not None and len(skipped):
        reasons = locale.phrases("tables", lang)["skip_reasons"]
        counts = skipped["reason_code"].astype(str).value_counts()
        listed = _t("word_separator", lang).join(f"{reasons.get(c, reasons['other'])} {n}" for c, n in
                                                 sorted(counts.items(), key=lambda cn: (-cn[1], cn[0])))
        more = _t("corpus_skipped", lang, n=len(skipped), reasons=listed)
    total = {c: int(pd.to_numeric(texts[c], errors="coerce").fillna(0).sum()) if c in texts.columns else 0
             for c in ("n_units", "n_tokens", "n_redactions")}
    return (_t("corpus_note", lang, texts=len(texts), units=total["n_units"], tokens=total["n_tokens"],
               redactions=total["n_redactions"], skipped=more),)


def k_selection_note(results: Results, lang: str, fallback_only: bool = False) -> tuple[str, ...]:
    """How K was chosen, from k_selection.csv's chosen row: the rule, or, when no K was stable
    enough, that the K is a fallback (and the best stability reached). Empty for a table of an
    older topics stage (no selection_fallback column) and, with ``fallback_only``, unless K is a
    fallback."""
    ks = results.get("topics/k_selection.csv")
    if ks is None or "selection_fallback" not in ks.columns or "chosen" not in ks.columns:
        return ()
    chosen = ks[ks["chosen"].astype(str).str.lower().isin(("true", "1"))]
    if len(chosen) != 1:
        return ()
    row = chosen.iloc[0]
    if str(row.get("model", "")) == "docvec" and "modularity" in ks.columns:
        return _docvec_note(ks, row, lang, fallback_only)
    if str(row["selection_fallback"]).lower() in ("true", "1"):
        return (_t("k_selection_fallback", lang, k=int(row["k"]), best=fmt(float(ks["stability"].max()), 2)),)
    return () if fallback_only else (_t("k_selection_rule", lang, k=int(row["k"]), seeds=int(row["n_seeds"])),)


def _docvec_note(ks: pd.DataFrame, row: pd.Series, lang: str, fallback_only: bool) -> tuple[str, ...]:
    """The docvec rule's note (K by the best mean modularity; stability reported with its spread)
    and, when the chosen K is at an end of the grid, a warning (also under the topics table)."""
    mine = ks[ks["model"] == "docvec"]
    k, kmin, kmax = int(row["k"]), int(mine["k"].min()), int(mine["k"].max())
    edge = (() if kmin == kmax else (_t("k_selection_edge", lang, kmax=kmax),) if k == kmax
            else (_t("k_selection_edge_low", lang, kmin=kmin),) if k == kmin else ())
    if fallback_only:
        return edge
    sd = float(row["stability_sd"]) if not _isnan(row["stability_sd"]) else float("nan")
    return (_t("k_selection_docvec", lang, k=k, seeds=int(row["n_seeds"]), stab=fmt(float(row["stability"]), 2),
               stab_sd=fmt(sd, 2)), *edge)


_AUTO_LABEL = re.compile(r"T\d+\s*[:：]\s*(.*)")


def topic_label(label: Any, sep: str) -> str:
    """A topic's label as a table shows it beside the topic's number: the topics stage's own label
    "T3: 合作社 培训 卖" (its number and top words) as "合作社、培训、卖"; a team's label as written."""
    auto = _AUTO_LABEL.fullmatch(str(label).strip())
    return sep.join(auto[1].split()) if auto else str(label)


def table_k_selection(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("k_selection", lang)
    if _need(results, ["topics/k_selection.csv"]):
        return _absent(key, cap, "processed/topics/k_selection.csv", "run the topics stage", lang)
    F = "topics/k_selection.csv"
    ks = results[F]
    d = settings["decimals"]["fit"]
    cols = [c for c in ("coherence_npmi", "exclusivity", "stability", "perplexity", "modularity", "silhouette")
            if c in ks.columns]
    if "score" in ks.columns and ks["score"].notna().any() and "modularity" not in ks.columns:
        cols.append("score")                     # what the rule compares (a reviewer can check the choice)
    names = {"coherence_npmi": "coherence", "exclusivity": "exclusivity", "stability": "stability", "perplexity": "perplexity",
             "modularity": "modularity", "silhouette": "silhouette", "score": "k_score"}
    has_model = "model" in ks.columns
    rows = []
    for _, r in ks.iterrows():
        sel = {"model": r["model"], "k": r["k"]} if has_model else {"k": r["k"]}
        chosen = "✓" if str(r.get("chosen", "")).lower() in ("true", "1", "yes") else ""
        lead = [text(locale.phrases("tables", lang)["topic_models"].get(str(r["model"]), str(r["model"])))] if has_model else []
        rows.append(Row(tuple(lead + [num(source(results, F, sel, "k"), decimals=0)] +
                              [num(source(results, F, sel, c), decimals=1 if c == "perplexity" else d) for c in cols] +
                              [text(chosen)])))
    head = ([_t("model", lang)] if has_model else []) + ["K"] + [_t(names[c], lang) for c in cols] + [_t("chosen", lang)]
    return Table(key, cap, _header(head), tuple(rows), k_selection_note(results, lang), label_columns=1, lang=lang)


def _theme_labels(results: Results, settings: Mapping[str, Any], df: pd.DataFrame) -> dict[str, str]:
    """Theme (as the frame names it: its code, e.g. "SPACE", or its id) -> the codebook's name in
    the report's language (``settings["themes"]``: id -> {zh, en}, with ``code``), else a label
    column of the frame; the code itself only when neither has it."""
    lang = settings["lang"]
    out: dict[str, str] = {}
    for k, v in (settings.get("themes") or {}).items():
        name = (v.get(lang) or next(iter(v.values()))) if isinstance(v, Mapping) else str(v)
        out[str(k)] = name
        if isinstance(v, Mapping) and v.get("code"):
            out[str(v["code"])] = name
    if "theme_id" in df.columns:
        for code, tid in zip(df["theme"].astype(str), df["theme_id"]):
            if str(tid) in out:
                out.setdefault(code, out[str(tid)])
            elif not _isnan(tid) and str(int(float(tid))) in out:
                out.setdefault(code, out[str(int(float(tid)))])
    lab = None
    for c in (f"theme_label_{lang}", f"label_{lang}", "theme_label", "label"):
        if c in df.columns:
            lab = c
            break
    if lab:
        for t, l in zip(df["theme"].astype(str), df[lab]):
            out.setdefault(t, str(l))
    return out


def _level_label(dimension: str, level: Any, instrument: Instrument, settings: Mapping[str, Any]) -> str:
    lang = settings["lang"]
    if dimension == "overall":
        return _t("all_units", lang)
    if dimension == "role":
        lab = (settings.get("role_labels") or {}).get(str(level))
        if isinstance(lab, Mapping):
            return lab.get(lang) or next(iter(lab.values()))
        return str(level)
    if _variable(instrument, dimension) is not None:
        return value_label(instrument, dimension, level, lang)
    return str(level)


def table_theme_frequencies(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    """The share of coded units with each theme, overall and by the study's dimensions (role,
    community variables); the caption names the dimensions the table has."""
    lang = settings["lang"]
    cap = _t("theme_freq", lang)
    if _need(results, ["coding/frequencies.csv"]):
        return _absent(key, cap, "processed/coding/frequencies.csv", "run the coding stage", lang)
    F = "coding/frequencies.csv"
    fr = results[F]
    d = settings["decimals"]["percent"]
    dims = list(dict.fromkeys(fr["dimension"]))
    named = [_t("role_caption", lang) if dim == "role" else
             (_variable(instrument, dim).label_in(lang) if _variable(instrument, dim) else dim)
             for dim in dims if dim != "overall"]
    named = [locale.lower_first(n, lang) for n in named]
    if named:                                  # A, B and C
        listed = _t("word_separator", lang).join(named[:-1]) + _t("and", lang) + named[-1] if len(named) > 1 else named[0]
        cap = _t("theme_freq_by", lang, dims=listed)
    columns = [(dim, lv) for dim in dims for lv in dict.fromkeys(fr.loc[fr["dimension"] == dim, "level"])]
    labels = _theme_labels(results, settings, fr)
    rows = []
    for theme in dict.fromkeys(fr["theme"]):
        cells = [text(labels.get(str(theme), str(theme)))]
        for dim, lv in columns:
            hit = fr[(fr["dimension"] == dim) & (fr["level"] == lv) & (fr["theme"] == theme)]
            if len(hit) != 1:
                cells.append(text(""))
                continue
            sel = {"dimension": dim, "level": lv, "theme": theme}
            share = source(results, F, sel, "share", scale=100)
            coded = source(results, F, sel, "coded")
            cells.append(Cell(f"{fmt(share.value * 100, d)} ({fmt(coded.value, 0)})", sources=(share, coded), numeric=True)
                         if share and coded else text(""))
        rows.append(Row(tuple(cells)))
    dim_label = {"role": _t("role", lang), "overall": ""}
    spans = [("", 1)] + [(dim_label[dim] if dim in dim_label else
                          (_variable(instrument, dim).label_in(lang) if _variable(instrument, dim) else dim),
                          sum(1 for c in columns if c[0] == dim)) for dim in dims]
    head = [_t("theme", lang)] + [_level_label(dim, lv, instrument, settings) for dim, lv in columns]
    return Table(key, cap, _header(spans, head), tuple(rows), (_t("freq_note", lang),), lang=lang)


def table_agreement(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("agreement", lang)
    if _need(results, ["coding/agreement.csv"]):
        return _absent(key, cap, "processed/coding/agreement.csv", "run the coding stage", lang)
    F = "coding/agreement.csv"
    ag = results[F]
    d = settings["decimals"]["fit"]
    labels = _theme_labels(results, settings, ag)
    cols = [c for c in ("precision", "recall", "f1") if c in ag.columns]
    rows = []
    for _, r in ag.iterrows():
        sel = {"theme": r["theme"]}
        overall = str(r["theme"]).lower() in ("overall", "all", "alpha")
        label = _t("overall", lang) if overall else labels.get(str(r["theme"]), str(r["theme"]))
        kappa_col = "alpha" if overall and "alpha" in ag.columns and not _isnan(r.get("alpha")) else "kappa"
        rows.append(Row((text(label), num(source(results, F, sel, "n"), decimals=0),
                         num(source(results, F, sel, kappa_col), decimals=d),      # the overall row: α and its interval
                         num(source(results, F, sel, f"{kappa_col}_ci_low"), source(results, F, sel, f"{kappa_col}_ci_high"),
                             decimals=d, template="[{}, {}]") if f"{kappa_col}_ci_low" in ag.columns else text(""),
                         *(num(source(results, F, sel, c), decimals=d) for c in cols))))
    head = [_t("theme", lang), _t("n_units", lang), _t("kappa", lang), _t("ci95", lang)] + [_t(c, lang) for c in cols]
    return Table(key, cap, _header(head), tuple(rows), (_t("agreement_note", lang),), lang=lang)

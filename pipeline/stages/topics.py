"""The topics stage: inductive topic models of the redacted interview units (issue #7).

Steps (pure functions in :mod:`pipeline.text`; this module reads params and files, calls them and
writes the outputs; docs/topics.md has the details):

1. :func:`pipeline.text.documents.build_documents` joins the respondent units of
   ``processed/transcripts/units.parquet`` into documents: ``unit: exchange`` (the default: a
   respondent turn's sentences together with the interviewer's question before it, from
   ``questions.parquet``; one main theme per turn), ``unit: turn`` (the respondent's sentences
   only) or ``unit: window`` (runs of ``window`` consecutive sentences of one interview).
2. :func:`pipeline.text.documents.vectorize`: a scikit-learn ``CountVectorizer`` over the
   transcripts stage's content tokens (``analyzer=str.split``, so jieba's Chinese words are kept
   whole), with the vocabulary rules of ``params.yaml: topics.vocabulary``. Documents with fewer
   than ``min_doc_tokens`` vocabulary tokens are not modelled and are listed in ``flagged_docs.csv``.
3. :func:`pipeline.text.topicmetrics.evaluate_grid`: DMM (one topic per document), LDA (batch
   variational Bayes) and/or NMF (on TF-IDF) for every K of the grid and ``seeds`` random starts
   each, fitted on a seeded training split; per (model, K): NPMI coherence, exclusivity,
   stability across seeds and, for LDA and DMM, held-out perplexity.
4. :func:`pipeline.text.topicmetrics.select_model` applies the documented rule
   (``topics.selection``): among (model, K) with stability >= ``min_stability``, the largest
   mean of the standardised criteria; ``model`` / ``fixed_k`` override it.
5. The chosen model is refitted on all documents (:func:`pipeline.text.topicmodel.fit_final`).
   Topics are numbered by overall prevalence (largest first). Top and FREX words, the topic
   table, exemplars, and the prevalence effects (each topic's document proportion regressed on
   the covariates with community-clustered errors through
   :func:`pipeline.stats.fit.fit_model`, and average predicted proportions by level with
   95 % intervals; :func:`pipeline.text.topicmodel.topic_prevalence`).

The demo study's alignment of the topics with its planted themes is not part of this stage: the
``demo_checks`` stage (:mod:`pipeline.demo.demo_checks`) reads these outputs and ``raw/truth``.

Outputs (``processed/topics/``, built in a temporary folder and swapped in whole):
``k_selection.csv``, ``topic_words.csv``, ``topics.csv``, ``doc_topics.parquet``,
``exemplars.csv``, ``prevalence.csv``, ``prevalence_levels.csv``, ``flagged_docs.csv``,
``final_chains.csv``; and ``metrics/topics.json``. Same inputs and seed, same bytes.
"""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import atomic_dir, read_community_columns, read_transcript_output, write_json
from pipeline.text.documents import UNITS, build_documents, vectorize
from pipeline.text.topicmetrics import (CRITERIA, evaluate_grid, exclusivity, npmi_coherence, select_model,
                                        top_word_indices, topic_words)
from pipeline.text.topicmodel import (MODELS, Settings, doc_topic_frame, exemplars, fit_final, order_by_prevalence,
                                      prevalence_covariates, read_labels, topic_prevalence, topic_table)

OUT_DIR = config.PROCESSED / "topics"
METRICS_FILE = config.METRICS / "topics.json"
FLOAT_FORMAT = "%.10g"


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
def _bad(key: str, message: str) -> PipelineError:
    return PipelineError(f"params.yaml: topics.{key} {message}", hint="see the comments of the topics section")


def _int(value: Any, key: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise _bad(key, f"must be an integer >= {low}, not {value!r}")
    return int(value)


def _num(value: Any, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _bad(key, f"must be a number in [{low}, {high}], not {value!r}")
    return float(value)


def parse_settings(section: Mapping[str, Any]) -> Settings:
    """Check ``params.yaml: topics`` and return :class:`Settings` (clear errors for bad keys)."""
    s = dict(section or {})
    known = {"unit", "window", "min_doc_tokens", "vocabulary", "models", "k_grid", "seeds", "holdout",
             "min_docs_per_topic", "subsample", "grid_max_docs", "top_n", "dmm", "lda", "nmf", "selection", "frex_weight", "n_words",
             "n_exemplars", "prevalence", "labels", "n_jobs"}
    unknown = sorted(set(s) - known)
    if unknown:
        raise _bad(unknown[0], f"is not a known key (known: {sorted(known)})")
    unit = s.get("unit", "exchange")
    if unit not in UNITS:
        raise _bad("unit", f"must be one of {UNITS}, not {unit!r}")
    voc = dict(s.get("vocabulary") or {})
    min_df = voc.get("min_df", 3)
    max_df = voc.get("max_df", 0.5)
    for key, v in (("vocabulary.min_df", min_df), ("vocabulary.max_df", max_df)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 or (isinstance(v, float) and v > 1):
            raise _bad(key, f"must be a count (integer >= 1) or a share in (0, 1], not {v!r}")
    models = tuple(s.get("models", MODELS))
    if not models or any(m not in MODELS for m in models):
        raise _bad("models", f"must be a non-empty list from {MODELS}, not {list(models)}")
    grid = s.get("k_grid", list(range(5, 15)))
    if not isinstance(grid, list) or not grid or any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in grid):
        raise _bad("k_grid", f"must be a list of integers >= 2, not {grid!r}")
    lda = dict(s.get("lda") or {})
    dmm = dict(s.get("dmm") or {})
    dmm_keys = ("alpha", "beta", "n_iter", "split_merge", "restarts", "chain_max_docs")
    unknown_dmm = sorted(set(dmm) - set(dmm_keys))
    if unknown_dmm:
        raise _bad(f"dmm.{unknown_dmm[0]}", f"is not a known key (known: {', '.join(dmm_keys)})")
    nmf = dict(s.get("nmf") or {})
    if nmf.get("loss", "kullback-leibler") not in ("frobenius", "kullback-leibler"):
        raise _bad("nmf.loss", f"must be frobenius or kullback-leibler, not {nmf.get('loss')!r}")
    if nmf.get("init", "nndsvda") not in ("random", "nndsvd", "nndsvda", "nndsvdar"):
        raise _bad("nmf.init", f"must be random, nndsvd, nndsvda or nndsvdar, not {nmf.get('init')!r}")
    sel = dict(s.get("selection") or {})
    criteria = tuple(sel.get("criteria", ("coherence_npmi", "exclusivity", "stability")))
    if not criteria or any(c not in CRITERIA for c in criteria):
        raise _bad("selection.criteria", f"must be a non-empty list from {CRITERIA}, not {list(criteria)}")
    fixed_model = sel.get("model")
    if fixed_model is not None and fixed_model not in models:
        raise _bad("selection.model", f"must be null or one of topics.models {list(models)}, not {fixed_model!r}")
    fixed_k = sel.get("fixed_k")
    if fixed_k is not None and fixed_k not in grid:
        raise _bad("selection.fixed_k", f"must be null or one of topics.k_grid {grid}, not {fixed_k!r}")
    prev = dict(s.get("prevalence") or {})
    return Settings(
        unit=unit, window=_int(s.get("window", 3), "window", 1),
        min_doc_tokens=_int(s.get("min_doc_tokens", 1), "min_doc_tokens", 1),
        min_df=min_df, max_df=max_df,
        max_features=None if voc.get("max_features") is None else _int(voc["max_features"], "vocabulary.max_features", 1),
        stopwords=tuple(str(w) for w in (voc.get("stopwords") or ())),
        models=models, k_grid=tuple(sorted(set(grid))), seeds=_int(s.get("seeds", 3), "seeds", 1),
        holdout=_num(s.get("holdout", 0.2), "holdout", 0.0, 0.5),
        min_docs_per_topic=_int(s.get("min_docs_per_topic", 5), "min_docs_per_topic", 1),
        top_n=_int(s.get("top_n", 10), "top_n", 2),
        lda_max_iter=_int(lda.get("max_iter", 50), "lda.max_iter", 1),
        lda_doc_topic_prior=lda.get("doc_topic_prior"), lda_topic_word_prior=lda.get("topic_word_prior"),
        nmf_init=nmf.get("init", "nndsvda"), nmf_loss=nmf.get("loss", "kullback-leibler"),
        subsample=_num(s.get("subsample", 0.8), "subsample", 0.1, 1.0),
        grid_max_docs=None if s.get("grid_max_docs") is None else _int(s["grid_max_docs"], "grid_max_docs", 100),
        nmf_max_iter=_int(nmf.get("max_iter", 500), "nmf.max_iter", 1),
        nmf_tol=float(nmf.get("tol", 1e-4)),
        dmm_alpha=_num(dmm.get("alpha", 0.1), "dmm.alpha", 1e-6, 1e6), dmm_beta=_num(dmm.get("beta", 0.1), "dmm.beta", 1e-6, 1e6),
        dmm_n_iter=_int(dmm.get("n_iter", 30), "dmm.n_iter", 1),
        dmm_restarts=_int(dmm.get("restarts", 1), "dmm.restarts", 1),
        dmm_split_merge=_int(dmm.get("split_merge", 0), "dmm.split_merge", 0),
        dmm_chain_max_docs=None if dmm.get("chain_max_docs") is None
        else _int(dmm["chain_max_docs"], "dmm.chain_max_docs", 100),
        criteria=criteria, min_stability=_num(sel.get("min_stability", 0.8), "selection.min_stability", 0.0, 1.0),
        fixed_model=fixed_model, fixed_k=fixed_k,
        frex_weight=_num(s.get("frex_weight", 0.5), "frex_weight", 0.0, 1.0),
        n_words=_int(s.get("n_words", 10), "n_words", 1), n_exemplars=_int(s.get("n_exemplars", 3), "n_exemplars", 0),
        formula=str(prev.get("formula", Settings.formula)), covariance=str(prev.get("covariance", "cluster")),
        cluster=str(prev.get("cluster", "comm_id")), factors=tuple(prev.get("factors", Settings.factors)),
        conf_level=_num(prev.get("conf_level", 0.95), "prevalence.conf_level", 0.5, 0.999),
        labels=s.get("labels"), n_jobs=_int(s.get("n_jobs", 1), "n_jobs", 1),
    )



# --------------------------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------------------------
def run_topics(units: pd.DataFrame, communities: pd.DataFrame, settings: Settings, seed: int,
               labels_path: str | Path | None = None,
               questions: pd.DataFrame | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """The whole stage as one pure function: returns the output tables and the metrics.
    ``questions``: the interviewer's questions (needed for ``unit: exchange``)."""
    docs = build_documents(units, settings.unit, settings.window, questions)
    corpus = vectorize(docs, settings.min_df, settings.max_df, settings.max_features, settings.stopwords,
                       settings.min_doc_tokens)
    grid = select_model(evaluate_grid(corpus, settings, seed), settings)
    chosen = grid[grid["chosen"]].iloc[0]
    model, k = str(chosen["model"]), int(chosen["k"])
    fit, chains = fit_final(corpus.counts, model, k, seed, settings)
    fit = order_by_prevalence(fit)
    labels = read_labels(labels_path, k)
    words = topic_words(fit, corpus.vocab, settings.n_words, settings.frex_weight)
    top = top_word_indices(fit.topic_word, settings.top_n)
    coh = npmi_coherence(top, corpus.counts)
    exc = exclusivity(fit.topic_word, settings.top_n)
    dt = doc_topic_frame(corpus, fit)
    coefs, levels = topic_prevalence(dt, communities, k, settings)
    metrics: dict[str, Any] = {
        "model": model, "k": k, "n_docs": int(len(corpus.docs)), "n_docs_flagged": int(len(corpus.flagged)),
        "vocabulary_size": int(len(corpus.vocab)), "unit": settings.unit,
        "coherence_npmi": float(coh.mean()), "exclusivity": float(exc.mean()),
        "stability": float(chosen["stability"]),
        "perplexity": None if math.isnan(chosen["perplexity"]) else float(chosen["perplexity"]),
        "n_fits": int(grid["n_seeds"].sum()) + len(chains),
        "final_chains": int((chains["chain"] > 0).sum()),
        "final_log_posterior": None if chains["log_posterior"].isna().all()
        else float(chains.loc[chains["chosen"], "log_posterior"].iloc[-1]),   # the whole corpus's
    }
    tables: dict[str, pd.DataFrame] = {"k_selection": grid, "topic_words": words, "final_chains": chains}
    tables["topics"] = topic_table(fit, words, labels, coh, exc)
    tables["doc_topics"] = dt
    tables["exemplars"] = exemplars(corpus, fit, settings.n_exemplars)
    tables["prevalence"] = coefs
    tables["prevalence_levels"] = levels
    tables["flagged_docs"] = corpus.flagged
    return tables, metrics


def read_communities(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """The community file's columns needed by the prevalence formula, numbers as numbers."""
    return read_community_columns(path, list(columns), "topics.prevalence")


def write_outputs(out: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    for name, table in tables.items():
        if name == "doc_topics":
            table.to_parquet(out / "doc_topics.parquet", index=False, engine="pyarrow", compression="zstd")
        else:
            table.to_csv(out / f"{name}.csv", index=False, lineterminator="\n", float_format=FLOAT_FORMAT)


def main(argv: list[str] | None = None) -> None:
    parser = config.transcript_stage_parser("pipeline topics", __doc__.splitlines()[0], OUT_DIR, METRICS_FILE,
                                            "interviewer questions (unit: exchange)")
    args = parser.parse_args(argv)
    params = config.load_params(args.params)
    settings = parse_settings(config.section(params, "topics"))
    units = read_transcript_output(args.units, "transcript units")
    questions = (read_transcript_output(args.questions, "interviewer questions")
                 if args.questions and settings.unit == "exchange" else None)
    communities = read_communities(args.communities, prevalence_covariates(settings))
    tables, metrics = run_topics(units, communities, settings, int(params["seed"]), settings.labels, questions)
    with atomic_dir(Path(args.out)) as out:
        write_outputs(out, tables)
    write_json(args.metrics, metrics)
    print(json.dumps(metrics, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

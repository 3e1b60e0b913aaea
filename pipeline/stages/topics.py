"""The topics stage: inductive topic models of the redacted interview units (issue #7).

Steps (pure functions in :mod:`pipeline.text`; this module reads params and files, calls them and
writes the outputs; docs/topics.md has the details):

1. :func:`pipeline.text.documents.build_documents` joins the respondent units of
   ``processed/transcripts/units.parquet`` into documents: ``unit: exchange`` (a respondent
   turn's sentences together with the interviewer's question before it, from
   ``questions.parquet``; one main theme per turn), ``unit: turn`` (the respondent's sentences
   only; for texts without an interviewer, the whole text), ``unit: window`` (runs of ``window``
   consecutive sentences of one interview) or ``unit: auto`` (the default: exchange when there
   are interviewer questions, else turn).
2. :func:`pipeline.text.documents.vectorize`: the transcripts stage's content tokens
   (``analyzer=str.split``, so jieba's Chinese words are kept whole) less what the rules of
   ``params.yaml: topics.vocabulary`` remove (symbols and spreadsheet escapes, numbers, short
   Latin codes, single characters but a keep list, ``min_df``, and ``max_df`` unless a word comes
   in bursts); ``vocabulary_audit.csv`` says what each rule removed. Documents with fewer than
   ``min_doc_tokens`` vocabulary tokens are not modelled and are listed in ``flagged_docs.csv``.
3. :func:`pipeline.text.topicmetrics.evaluate_grid`: DMM (one topic per document), LDA (batch
   variational Bayes) and/or NMF (on TF-IDF) for every K of the grid and ``seeds`` random starts
   each, fitted on a seeded training split; per seed run: NPMI coherence, exclusivity,
   stability against the other runs and, for LDA and DMM, held-out perplexity (``k_runs.csv``).
4. :func:`pipeline.text.topicselect.select_model` applies the documented rule
   (``topics.selection``): per model family, among the K with stability >= ``min_stability``,
   the best score (the criteria standardised within the family, mean over the seed runs); the
   family by NPMI coherence. When no K is that stable, the smallest K whose score is within two
   jackknife standard errors of its difference from the best (over all K), flagged a fallback
   (``selection_fallback`` in ``k_selection.csv`` and ``metrics/topics.json``, with the reason);
   ``model`` / ``fixed_k`` override it.
5. The chosen model is refitted on all documents (:func:`pipeline.text.topicmodel.fit_final`).
   Topics are numbered by overall prevalence (largest first). Top and FREX words, the topic
   table, exemplars, and the prevalence effects (each topic's document proportion regressed on
   the covariates (none: ``formula: "1"``) with errors clustered by community when the texts
   have one (the instrument's community id column) through
   :func:`pipeline.stats.fit.fit_model`, and average predicted proportions by level with
   95 % intervals; :func:`pipeline.text.topicmodel.topic_prevalence`).

The demo study's alignment of the topics with its planted themes is not part of this stage: the
``demo_checks`` stage (:mod:`pipeline.demo.demo_checks`) reads these outputs and ``raw/truth``.

Outputs (``processed/topics/``, built in a temporary folder and swapped in whole):
``k_selection.csv``, ``k_runs.csv``, ``topic_words.csv``, ``topics.csv``, ``doc_topics.parquet``,
``exemplars.csv``, ``prevalence.csv``, ``prevalence_levels.csv``, ``flagged_docs.csv``,
``final_chains.csv``, ``vocabulary_audit.csv``; and ``metrics/topics.json``. Same inputs and seed, same bytes.
"""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import atomic_dir, read_community_columns, read_transcript_output, write_csv, write_json, write_parquet
from pipeline.core.instrument import text_community
from pipeline.core.parallel import from_params
from pipeline.text.units import check_text_frame
from pipeline.text.documents import Corpus, build_documents, resolve_unit, vectorize
from pipeline.text.topicmetrics import evaluate_grid, exclusivity, npmi_coherence, top_word_indices, topic_words
from pipeline.text.topicmodel import (Settings, doc_topic_frame, exemplars, fit_final, order_by_prevalence, parse_settings,
                                      prevalence_covariates, read_labels, topic_prevalence, topic_table)
from pipeline.text.topicselect import select_model

OUT_DIR = config.PROCESSED / "topics"
METRICS_FILE = config.METRICS / "topics.json"


# --------------------------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------------------------
def run_topics(units: pd.DataFrame, communities: pd.DataFrame | None, settings: Settings, seed: int,
               labels_path: str | Path | None = None, questions: pd.DataFrame | None = None,
               community: str | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """The whole stage as one pure function: returns the output tables and the metrics.
    ``questions``: the interviewer's questions (needed for ``unit: exchange``); ``community``:
    the units' community id column (None: the texts have none); ``communities``: the community
    file's covariates of the prevalence regressions (None: none)."""
    unit = resolve_unit(settings.unit, questions)
    docs = build_documents(units, unit, settings.window, questions, community)
    corpus, runs, grid, decision, fit, chains = model_topics(docs, settings, seed,
                                                             partial(check_prevalence, communities=communities,
                                                                     settings=settings, community=community))
    chosen = grid[grid["chosen"]].iloc[0]
    model, k = str(chosen["model"]), int(chosen["k"])
    fit = order_by_prevalence(fit)
    labels = read_labels(labels_path, k)
    words = topic_words(fit, corpus.vocab, settings.n_words, settings.frex_weight)
    top = top_word_indices(fit.topic_word, settings.top_n)
    coh = npmi_coherence(top, corpus.counts)
    exc = exclusivity(fit.topic_word, settings.top_n)
    dt = doc_topic_frame(corpus, fit, community)
    coefs, levels = topic_prevalence(dt, communities, k, settings, community)
    metrics: dict[str, Any] = {
        "model": model, "k": k, "n_docs": int(len(corpus.docs)), "n_docs_flagged": int(len(corpus.flagged)),
        "vocabulary_size": int(len(corpus.vocab)), "unit": unit,
        "coherence_npmi": float(coh.mean()), "exclusivity": float(exc.mean()),
        "stability": float(chosen["stability"]), "stability_sd": _number(chosen["stability_sd"]),
        "score": _number(chosen["score"]), "score_sd": _number(chosen["score_sd"]), **decision,
        "perplexity": _number(chosen["perplexity"]),
        **{f"{c}{s}": _number(chosen[f"{c}{s}"]) for c in ("modularity", "silhouette") if c in grid for s in ("", "_sd")},
        "n_fits": int(grid["n_seeds"].sum()) + len(chains),
        "vocabulary_removed": {r["rule"]: int(r["n_words"]) for _, r in corpus.audit.iterrows()},
        "final_chains": int((chains["chain"] > 0).sum()),
        "final_log_posterior": None if chains["log_posterior"].isna().all()
        else float(chains.loc[chains["chosen"], "log_posterior"].iloc[-1]),   # the whole corpus's
    }
    tables: dict[str, pd.DataFrame] = {"k_selection": grid, "k_runs": runs, "topic_words": words,
                                       "final_chains": chains, "vocabulary_audit": corpus.audit}
    tables["topics"] = topic_table(fit, words, labels, coh, exc)
    tables["doc_topics"] = dt
    tables["exemplars"] = exemplars(corpus, fit, settings.n_exemplars)
    tables["prevalence"] = coefs
    tables["prevalence_levels"] = levels
    tables["flagged_docs"] = corpus.flagged
    return tables, metrics


def model_topics(docs: pd.DataFrame, settings: Settings, seed: int, check: Callable[[Corpus], None]) -> tuple:
    """The document-term matrix, the grid's seed runs, the K table and decision of the rule, and
    the chosen (model, K) fitted on all documents: (corpus, runs, grid, decision, fit, chains).
    ``models: [docvec]`` (:mod:`pipeline.text.docvec`): the corpus is the word view of the
    documents the vectors were made of, and the rule takes the K of the best mean modularity. ``check`` runs on the
    corpus before any model is fitted."""
    if settings.models == ("docvec",):
        from pipeline.text import docvec              # its imports only where it is the model (issue 19)

        feats, corpus = docvec.docvec_corpus(docs, settings)
        check(corpus)
        V = docvec.document_vectors(feats, settings, seed)
        runs = docvec.evaluate_grid(corpus, V, settings, seed)
        grid, decision = select_model(runs, replace(settings, criteria=docvec.CRITERIA), best=True)
        k = int(grid.loc[grid["chosen"], "k"].iloc[0])
        fit, chains = docvec.fit_final(corpus, V, k, seed, settings)
        return corpus, runs, grid, decision, fit, chains
    corpus = vectorize(docs, settings.vocabulary, settings.min_doc_tokens)
    check(corpus)
    runs = evaluate_grid(corpus, settings, seed)
    grid, decision = select_model(runs, settings)
    chosen = grid[grid["chosen"]].iloc[0]
    fit, chains = fit_final(corpus.counts, str(chosen["model"]), int(chosen["k"]), seed, settings)
    return corpus, runs, grid, decision, fit, chains


def _number(x: Any) -> float | None:
    return None if x is None or math.isnan(float(x)) else float(x)


def check_prevalence(corpus: Any, communities: pd.DataFrame | None, settings: Settings, community: str | None) -> None:
    """The prevalence regressions dry-run on the documents with placeholder proportions, before
    any topic model is fitted: a formula variable that is in neither the texts nor the community
    file, a community missing from it, or a clustered covariance with a single cluster stops the
    stage in seconds instead of after the K grid."""
    placeholder = corpus.docs.reset_index(drop=True).copy()
    share = (np.arange(len(placeholder)) % 3) / 2.0
    placeholder["T1"], placeholder["T2"] = share, 1.0 - share
    topic_prevalence(placeholder, communities, 2, settings, community)


def read_communities(path: str | Path, columns: Sequence[str], community: str) -> pd.DataFrame:
    """The community file's columns needed by the prevalence formula, numbers as numbers."""
    return read_community_columns(path, list(columns), "topics.prevalence", key=community)



def write_outputs(out: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    for name, table in tables.items():
        if name == "doc_topics":
            write_parquet(out / "doc_topics.parquet", table)
        else:
            write_csv(out / f"{name}.csv", table)


def usable_community(units: pd.DataFrame, community: str | None) -> tuple[str | None, str | None]:
    """The texts' community column if it tells two communities apart, else None; and what to say
    when it holds one community only (a study of texts alone, whose column is empty, gets no word)."""
    if community is None:
        return None, None
    held = units[community].replace("", np.nan).dropna().nunique()
    if held >= 2:
        return community, None
    note = (f"topics: the texts' community column '{community}' holds one community only: topics are modelled "
            "without communities") if held == 1 else None
    return None, note


def main(argv: list[str] | None = None) -> None:
    parser = config.transcript_stage_parser("pipeline topics", __doc__.splitlines()[0], OUT_DIR, METRICS_FILE,
                                            "interviewer questions (unit: exchange)")
    args = parser.parse_args(argv)
    explicit = args.communities is not None
    args.communities = config.communities_path(args.communities)
    params = config.load_params(args.params)
    settings = parse_settings(config.section(params, "topics"), serial_below_s=from_params(params).serial_below_s)
    units = read_transcript_output(args.units, "transcript units")
    questions = (read_transcript_output(args.questions, "interviewer questions")
                 if args.questions and settings.unit in ("exchange", "auto") else None)
    community = text_community(params.get("instrument"), units.columns)
    check_text_frame(units, "units", community, str(args.units))
    if questions is not None:
        check_text_frame(questions, "questions", community, str(args.questions))
    community, note = usable_community(units, community)
    if note:
        print(note, file=sys.stderr)
    communities = None
    if args.communities and (community is not None or explicit):
        if community is None:
            raise PipelineError(f"{args.communities}: a community file, but the transcript units have no community column",
                                hint="pass --communities '' (texts without communities)")
        communities = read_communities(args.communities, prevalence_covariates(settings, community), community)
    tables, metrics = run_topics(units, communities, settings, int(params["seed"]), settings.labels, questions,
                                 community)
    with atomic_dir(Path(args.out)) as out:
        write_outputs(out, tables)
    write_json(args.metrics, metrics)
    print(json.dumps(metrics, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

"""The evidence for the number of topics and the selection rule (the topics stage, docs/topics.md).

Per topic: NPMI coherence (:func:`npmi_coherence`), exclusivity (:func:`exclusivity`), stm's
FREX (:func:`frex`, :func:`topic_words`); across runs: stability (:func:`stability`, Hungarian-
matched topics). :func:`evaluate_grid` fits every (model, K, seed run) of the grid and returns
each run's evidence; :func:`pipeline.text.topicselect.select_model` summarises the runs and
applies the documented rule (``topics.selection``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.core.digits import rounded
from pipeline.core.errors import PipelineError
from pipeline.core.parallel import run_tasks
from pipeline.stats.assignment import linear_sum_assignment
from pipeline.text.documents import Corpus, cap_documents, split_holdout
from pipeline.text.topicmodel import Settings, TopicFit, compile_dmm, fit_topics, run_seed

CRITERIA = ("coherence_npmi", "exclusivity", "stability", "neg_perplexity")
STREAM_SUBSAMPLE = 73   # SeedSequence stream of the documents each seed run is fitted on
RUN_COLUMNS = ["model", "k", "run", "coherence_npmi", "exclusivity", "stability", "perplexity"]


# --------------------------------------------------------------------------------------------
# evidence for K
# --------------------------------------------------------------------------------------------
def top_word_indices(topic_word: np.ndarray, n: int) -> np.ndarray:
    """Each topic's ``n`` most probable words (ties, to 10 significant digits: lower vocabulary
    index first)."""
    order = np.argsort(-rounded(topic_word), axis=1, kind="stable")
    return order[:, :n]


def npmi_coherence(top_words: np.ndarray, doc_word: sparse.spmatrix) -> np.ndarray:
    """NPMI coherence of each topic's top words over document co-occurrence.

    P(w) and P(w_i, w_j) are the shares of documents containing w, and both words. For every
    pair of a topic's top words NPMI = log(P(ij) / (P(i) P(j))) / -log P(ij), -1 when the pair
    never co-occurs (the limit), +1 when both words occur in every document; the topic's
    coherence is the mean over its pairs (Bouma 2009; Roeder et al. 2015, C_NPMI with a
    document as the window).
    """
    top_words = np.asarray(top_words)
    out = np.empty(top_words.shape[0])
    if top_words.size == 0:
        return np.full(top_words.shape[0], np.nan)
    # the documents x top words of every topic at once, 0/1: the co-occurrence counts are whole
    # numbers, exact in any order of summation
    every, at = np.unique(top_words, return_inverse=True)
    B = (sparse.csr_matrix(doc_word)[:, every] > 0).toarray().astype(np.float64)
    n = B.shape[0]
    co_all = (B.T @ B) / n
    for t, rows in enumerate(at.reshape(top_words.shape)):
        co = co_all[np.ix_(rows, rows)]
        p = np.diag(co)
        vals = []
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                pij = co[i, j]
                if pij <= 0:
                    vals.append(-1.0)
                elif pij >= 1:
                    vals.append(1.0)
                else:
                    vals.append(math.log(pij / (p[i] * p[j])) / -math.log(pij))
        out[t] = float(np.mean(vals)) if vals else float("nan")
    return out


def word_exclusivity(topic_word: np.ndarray) -> np.ndarray:
    """phi_kw / sum_j phi_jw: the share of a word's probability mass that is in topic k."""
    tw = np.asarray(topic_word, dtype=float)
    s = tw.sum(axis=0, keepdims=True)
    return np.divide(tw, s, out=np.zeros_like(tw), where=s > 0)


def exclusivity(topic_word: np.ndarray, n: int, top: np.ndarray | None = None) -> np.ndarray:
    """Each topic's exclusivity: the mean word exclusivity phi_kw / sum_j phi_jw of its ``n``
    top words (the exclusivity half of stm's FREX, without the frequency weighting). 1 when no
    other topic gives its top words any probability, 1/K when all topics are the same.
    ``top``: :func:`top_word_indices` (topic_word, n), when the caller has it already."""
    ex = word_exclusivity(topic_word)
    top = top_word_indices(topic_word, n) if top is None else top
    return np.take_along_axis(ex, top, axis=1).mean(axis=1)


def frex(topic_word: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """stm's FREX score of every word in every topic: the weighted harmonic mean of the word's
    within-topic ECDF rank of exclusivity (phi_kw / sum_j phi_jw) and of frequency (phi_kw),
    1 / (w / F + (1 - w) / E); ranks are average ranks over the vocabulary divided by its size
    (as ``data.table::frank`` in ``stm::calcfrex``)."""
    tw = np.asarray(topic_word, dtype=float)
    V = tw.shape[1]
    freq = np.vstack([average_ranks(row) / V for row in rounded(tw)])   # ties to 10 digits
    excl = np.vstack([average_ranks(row) / V for row in rounded(word_exclusivity(tw))])
    return 1.0 / (weight / freq + (1.0 - weight) / excl)



def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their mean rank: ``scipy.stats.rankdata(x, method="average")``
    (the same numbers; without importing scipy.stats, 0.5-1 s in every stage process)."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.repeat(0.5 * (starts + 1 + ends), ends - starts)
    return ranks


def topic_words(fit: TopicFit, vocab: np.ndarray, n: int, weight: float = 0.5) -> pd.DataFrame:
    """Top words (by probability; weight = phi_kw) and FREX words (weight = FREX score) of every
    topic: topic, kind (top | frex), rank, word, weight."""
    fr = frex(fit.topic_word, weight)
    rows = []
    for t in range(fit.k):
        for kind, score in (("top", fit.topic_word[t]), ("frex", fr[t])):
            idx = np.argsort(-rounded(score), kind="stable")[:n]
            rows += [{"topic": t + 1, "kind": kind, "rank": r + 1, "word": vocab[i], "weight": float(score[i])}
                     for r, i in enumerate(idx)]
    return pd.DataFrame(rows, columns=["topic", "kind", "rank", "word", "weight"])


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-300)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300)
    return an @ bn.T


def match_topics(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of the rows (topics) of two topic-word matrices by cosine similarity:
    returns ``perm`` (row of ``b`` matched to each row of ``a``) and the matched cosines."""
    sim = _cosine(np.asarray(a, float), np.asarray(b, float))
    rows, cols = linear_sum_assignment(-rounded(sim))
    perm = np.empty(len(rows), dtype=int)
    perm[rows] = cols
    return perm, sim[rows, cols][np.argsort(rows)]


def stability(topic_words: Sequence[np.ndarray]) -> float:
    """Mean cosine similarity of Hungarian-matched topics over all pairs of runs (1 for
    identical runs in any topic order; NaN for a single run)."""
    sims = [match_topics(topic_words[i], topic_words[j])[1].mean()
            for i in range(len(topic_words)) for j in range(i + 1, len(topic_words))]
    return float(np.mean(sims)) if sims else float("nan")


# --------------------------------------------------------------------------------------------
# the K grid and the selection rule
# --------------------------------------------------------------------------------------------
def check_grid(k_grid: Sequence[int], n_docs: int, n_vocab: int, min_docs_per_topic: int) -> None:
    """Every K of the grid needs ``min_docs_per_topic`` x K training documents and fewer topics
    than vocabulary words: a clear error naming the grid and the corpus size otherwise."""
    need = max(k_grid) * min_docs_per_topic
    if n_docs < need or max(k_grid) >= n_vocab:
        raise PipelineError(
            f"topics.k_grid {list(k_grid)} is too large for the corpus: {n_docs} training documents and "
            f"{n_vocab} vocabulary words (K = {max(k_grid)} needs at least {need} documents at "
            f"topics.min_docs_per_topic = {min_docs_per_topic}, and fewer topics than words)",
            hint="use a smaller k_grid, a larger corpus, or documents of single sentences (topics.unit)")


def subsample_rows(n: int, share: float, seed: int, run: int) -> np.ndarray:
    """The rows (sorted) of seed run ``run``: a seeded sample of ``share`` of ``n`` rows
    without replacement (all rows when share is 1)."""
    if share >= 1:
        return np.arange(n)
    rng = np.random.default_rng(np.random.SeedSequence([seed, STREAM_SUBSAMPLE, run]))
    return np.sort(rng.choice(n, size=max(1, int(round(share * n))), replace=False))


def _grid_task(X_train, X_test, model, k, seed, run, settings) -> TopicFit:
    rows = subsample_rows(X_train.shape[0], settings.subsample, seed, run)
    return fit_topics(X_train[rows], model, k, run_seed(seed, run), settings, X_test if model in ("lda", "dmm") else None)


def _grid_of(task: tuple[str, int, int], *, X_train: Any, X_test: Any, seed: int, settings: Any) -> Any:
    model, k, r = task
    return _grid_task(X_train, X_test, model, k, seed, r, settings)


def run_stability(topic_words: Sequence[np.ndarray]) -> np.ndarray:
    """Each run's stability: the mean cosine of its Hungarian-matched topics to those of every
    other run (NaN for a single run). Their mean is :func:`stability`."""
    n = len(topic_words)
    if n < 2:
        return np.full(n, np.nan)
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            sim[i, j] = sim[j, i] = match_topics(topic_words[i], topic_words[j])[1].mean()
    return sim.sum(axis=1) / (n - 1)


def evaluate_grid(corpus: Corpus, settings: Settings, seed: int) -> pd.DataFrame:
    """Fit every (model, K, seed run) on a seeded subsample (``subsample``) of the training
    split, with that run's random state; one row per run: model, k, run, coherence_npmi and
    exclusivity (means over the run's topics; NPMI over the whole corpus's document
    co-occurrence), stability (:func:`run_stability` among the runs of its (model, K)),
    perplexity (LDA and DMM, held-out documents; NaN for NMF). :func:`select_model` summarises
    them. Results do not depend on ``n_jobs``."""
    X = corpus.counts
    train, test = split_holdout(X.shape[0], settings.holdout, seed)
    train, test = cap_documents(train, test, settings.grid_max_docs, seed)
    check_grid(settings.k_grid, len(train), X.shape[1], settings.min_docs_per_topic)
    X_train, X_test = X[train], X[test]
    tasks = [(m, k, r) for m in settings.models for k in settings.k_grid for r in range(settings.seeds)]
    if "dmm" in settings.models:   # compiled here once, loaded by the workers (see compile_dmm)
        compile_dmm()
    if "lda" in settings.models:
        from pipeline.text.ldavb import compile_lda

        compile_lda()
    if "nmf" in settings.models and settings.nmf_loss == "kullback-leibler":
        from pipeline.text.nmfkl import compile_nmf

        compile_nmf()
    fits = run_tasks(partial(_grid_of, X_train=X_train, X_test=X_test, seed=seed, settings=settings), tasks,
                     settings.parallel)
    by_key: dict[tuple[str, int], list[TopicFit]] = {}
    for (m, k, _), f in zip(tasks, fits):
        by_key.setdefault((m, k), []).append(f)
    rows = []
    for (m, k), runs in by_key.items():
        stab = run_stability([f.topic_word for f in runs])
        for r, f in enumerate(runs):
            top = top_word_indices(f.topic_word, settings.top_n)
            rows.append({"model": m, "k": k, "run": r + 1,
                         "coherence_npmi": float(npmi_coherence(top, X).mean()),
                         "exclusivity": float(exclusivity(f.topic_word, settings.top_n, top).mean()),
                         "stability": float(stab[r]),
                         "perplexity": float(f.perplexity) if m in ("lda", "dmm") else float("nan")})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)

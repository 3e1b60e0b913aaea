"""The topics stage: inductive topic models of the redacted interview units (issue #7).

Steps (pure functions; :func:`main` only reads and writes; docs/topics.md has the details):

1. :func:`build_documents` joins the respondent units of ``processed/transcripts/units.parquet``
   into documents: ``unit: exchange`` (the default: a respondent turn's sentences together with
   the interviewer's question before it, from ``questions.parquet``; one main theme per turn),
   ``unit: turn`` (the respondent's sentences only) or ``unit: window`` (runs of ``window``
   consecutive sentences of one interview).
2. :func:`vectorize`: a scikit-learn ``CountVectorizer`` over the transcripts stage's content
   tokens (``analyzer=str.split``, so jieba's Chinese words are kept whole), with the
   vocabulary rules of ``params.yaml: topics.vocabulary``. Documents with fewer than
   ``min_doc_tokens`` vocabulary tokens are not modelled and are listed in ``flagged_docs.csv``.
3. :func:`evaluate_grid`: DMM (:func:`fit_dmm`, one topic per document), LDA (batch variational
   Bayes) and/or NMF (on TF-IDF) for every K of the
   grid and ``seeds`` random starts each, fitted on a seeded training split; per (model, K):
   NPMI coherence (:func:`npmi_coherence`), exclusivity (:func:`exclusivity`), stability across
   seeds (:func:`stability`) and, for LDA and DMM, held-out perplexity.
4. :func:`select_model` applies the documented rule (``topics.selection``): among (model, K)
   with stability >= ``min_stability``, the largest mean of the standardised criteria;
   ``model`` / ``fixed_k`` override it.
5. The chosen model is refitted on all documents (first seed). Topics are numbered by overall
   prevalence (largest first). :func:`topic_words` (top and FREX words), :func:`topic_table`,
   :func:`exemplars`, :func:`prevalence_effects` (each topic's document proportion regressed on
   the covariates with community-clustered errors through :func:`pipeline.stats.fit.fit_model`,
   and average predicted proportions by level with 95 % intervals).
6. Demo study only (``--truth``): :func:`align_topics` matches topics to the planted themes one
   to one (Hungarian on the topic x theme contingency table) and reports purity;
   :func:`sign_agreement` compares the prevalence effects of every factor in ``prevalence.factors``
   that the truth plants a level-vs-level contrast for (gov_model on the demo) with the planted signs.

Outputs (``processed/topics/``, built in a temporary folder and swapped in whole):
``k_selection.csv``, ``topic_words.csv``, ``topics.csv``, ``doc_topics.parquet``,
``exemplars.csv``, ``prevalence.csv``, ``prevalence_levels.csv``, ``flagged_docs.csv``,
``alignment.csv`` (with --truth); and ``metrics/topics.json``. Same inputs and seed, same bytes.
"""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.stats.fit import fit_model
from pipeline.stats.frame import formula_variables
from pipeline.core.files import atomic_dir, read_community_columns, read_transcript_output, write_json

MODELS = ("dmm", "lda", "nmf")
UNITS = ("exchange", "turn", "window")
CRITERIA = ("coherence_npmi", "exclusivity", "stability", "neg_perplexity")
STREAM_SPLIT = 71       # SeedSequence stream of the held-out split
STREAM_FIT = 72         # ... of the model fits (run r gets spawn key r)
STREAM_SUBSAMPLE = 73   # ... of the documents each seed run is fitted on
STREAM_GRID = 74        # ... of the documents the K grid is evaluated on (grid_max_docs)
STREAM_CHAINS = 75      # ... of the documents the final DMM chains run on (dmm.chain_max_docs)
OUT_DIR = config.PROCESSED / "topics"
METRICS_FILE = config.METRICS / "topics.json"
FLOAT_FORMAT = "%.10g"
DOC_COLUMNS = ("doc_id", "unit_ids", "interview_id", "comm_id", "role", "n_vocab_tokens", "topic")
UNIT_COLUMNS = ("unit_id", "interview_id", "comm_id", "role", "turn", "sentence", "text", "tokens")
K_COLUMNS = ["model", "k", "coherence_npmi", "exclusivity", "stability", "perplexity", "n_seeds",
             "eligible", "score", "chosen"]
COEF_COLUMNS = ["topic", "term", "estimate", "se", "statistic", "df", "p", "ci_low", "ci_high"]
LEVEL_COLUMNS = ["topic", "factor", "level", "estimate", "se", "ci_low", "ci_high"]


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """``params.yaml: topics`` checked (see the comments there for each key)."""

    unit: str = "exchange"
    window: int = 3
    min_doc_tokens: int = 1
    min_df: float = 3
    max_df: float = 0.5
    max_features: int | None = None
    stopwords: tuple[str, ...] = ()
    models: tuple[str, ...] = MODELS
    k_grid: tuple[int, ...] = tuple(range(5, 15))
    seeds: int = 3
    holdout: float = 0.2
    min_docs_per_topic: int = 5
    top_n: int = 10
    lda_max_iter: int = 50
    lda_doc_topic_prior: float | None = None
    lda_topic_word_prior: float | None = None
    nmf_init: str = "nndsvda"
    nmf_loss: str = "kullback-leibler"
    subsample: float = 0.8
    grid_max_docs: int | None = 5000
    nmf_max_iter: int = 500
    nmf_tol: float = 1e-4
    dmm_alpha: float = 0.1
    dmm_beta: float = 0.1
    dmm_n_iter: int = 30
    dmm_restarts: int = 1
    dmm_split_merge: int = 0
    dmm_chain_max_docs: int | None = None
    criteria: tuple[str, ...] = ("coherence_npmi", "exclusivity", "stability")
    min_stability: float = 0.8
    fixed_model: str | None = None
    fixed_k: int | None = None
    frex_weight: float = 0.5
    n_words: int = 10
    n_exemplars: int = 3
    formula: str = "1"                 # prevalence covariates (params.yaml: topics.prevalence.formula); "1": overall only
    covariance: str = "cluster"
    cluster: str = "comm_id"
    factors: tuple[str, ...] = ()      # factors of the predicted prevalence by level (study variables: params.yaml)
    conf_level: float = 0.95
    labels: str | None = None
    n_jobs: int = 1


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
# documents and vocabulary
# --------------------------------------------------------------------------------------------
def build_documents(units: pd.DataFrame, unit: str = "exchange", window: int = 3,
                    questions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Documents from respondent units: one per respondent turn (``turn``), one per respondent
    turn with the interviewer's question(s) before it (``exchange``: the question's content
    tokens come first; its text is kept apart in ``question``), or one per run of ``window``
    consecutive sentences of one interview (``window``; the last run may be shorter).

    ``exchange`` is the question-answer pair of semi-structured interviews: the guide's question
    says what the answer is about (a short answer such as "对，就是这样" gets its subject from
    it), the way the coding stage reads a turn in the context of its question. It needs
    ``questions`` (the transcripts stage's ``questions.parquet`` with ``tokens``).

    Returns doc_id (``I001:3`` for a turn or an exchange, ``I001:w2`` for a window), unit_ids
    (";"-joined), question_ids (";"-joined, exchange only, else ""), interview_id, comm_id, role,
    text (the redacted sentences joined), question (the redacted question text, exchange only),
    tokens (space-joined), n_units, in interview and unit order. ``units`` is not changed.
    """
    missing = [c for c in UNIT_COLUMNS if c not in units.columns]
    if missing:
        raise PipelineError(f"units: columns {missing} are missing",
                            hint="pass processed/transcripts/units.parquet of the transcripts stage")
    if unit not in UNITS:
        raise PipelineError(f"topics.unit must be one of {UNITS}, not {unit!r}")
    u = units.sort_values(["interview_id", "turn", "sentence"], kind="stable").reset_index(drop=True)
    u = u.assign(tokens=u["tokens"].fillna("").astype(str), text=u["text"].fillna("").astype(str))
    if unit == "window":
        pos = u.groupby("interview_id", sort=False).cumcount() // window
        key = u["interview_id"] + ":w" + (pos + 1).astype(str)
    else:
        key = u["interview_id"] + ":" + u["turn"].astype(int).astype(str)
    u = u.assign(doc_id=key)
    g = u.groupby("doc_id", sort=False)
    docs = pd.DataFrame({
        "doc_id": g["doc_id"].first(),
        "unit_ids": g["unit_id"].agg(";".join),
        "question_ids": "",
        "interview_id": g["interview_id"].first(),
        "comm_id": g["comm_id"].first(),
        "role": g["role"].first(),
        "text": g["text"].agg("".join),
        "question": "",
        "tokens": g["tokens"].agg(lambda t: " ".join(x for x in t if x)),
        "n_units": g.size(),
    }).reset_index(drop=True)
    if unit == "exchange":
        q = _question_frame(questions)
        q = q.assign(doc_id=q["interview_id"].astype(str) + ":" + q["before_turn"].astype(int).astype(str))
        qg = q.sort_values(["interview_id", "question"], kind="stable").groupby("doc_id", sort=False)
        qdocs = pd.DataFrame({"question_ids": qg["question_id"].agg(";".join), "question": qg["text"].agg("".join),
                              "q_tokens": qg["tokens"].agg(lambda t: " ".join(x for x in t if x))})
        m = docs[["doc_id"]].join(qdocs, on="doc_id")
        has = m["question_ids"].notna().to_numpy()
        docs.loc[has, "question_ids"] = m.loc[has, "question_ids"].to_numpy()
        docs.loc[has, "question"] = m.loc[has, "question"].to_numpy()
        docs["tokens"] = [f"{qt} {t}".strip() if isinstance(qt, str) and qt else t
                          for qt, t in zip(m["q_tokens"], docs["tokens"])]
    return docs


QUESTION_COLUMNS = ("question_id", "interview_id", "question", "before_turn", "text", "tokens")


def _question_frame(questions: pd.DataFrame | None) -> pd.DataFrame:
    if questions is None:
        raise PipelineError("topics.unit: exchange needs the interviewer's questions",
                            hint="pass --questions processed/transcripts/questions.parquet, or set topics.unit: turn")
    missing = [c for c in QUESTION_COLUMNS if c not in questions.columns]
    if missing:
        raise PipelineError(f"questions: columns {missing} are missing",
                            hint="pass processed/transcripts/questions.parquet of the transcripts stage "
                                 "(rerun it: questions carry tokens since this version)")
    q = questions[list(QUESTION_COLUMNS)].copy()
    q["text"] = q["text"].fillna("").astype(str)
    q["tokens"] = q["tokens"].fillna("").astype(str)
    return q[q["before_turn"].astype(int) > 0]


@dataclass(frozen=True)
class Corpus:
    """The document-term matrix of the modelled documents."""

    counts: sparse.csr_matrix          # documents x vocabulary, int counts
    vocab: np.ndarray                  # the vocabulary, sorted
    docs: pd.DataFrame                 # the modelled documents (with n_vocab_tokens)
    flagged: pd.DataFrame              # documents left out, with the reason


def vectorize(docs: pd.DataFrame, min_df: float = 3, max_df: float = 0.5, max_features: int | None = None,
              stopwords: Sequence[str] = (), min_doc_tokens: int = 1) -> Corpus:
    """Count the documents' content tokens over a vocabulary chosen by ``min_df`` / ``max_df``
    (counts or shares of documents, scikit-learn's rules) and ``max_features`` (most frequent
    words), leaving out ``stopwords``. Documents with fewer than ``min_doc_tokens`` vocabulary
    tokens are not modelled: they are returned in ``flagged`` with the reason."""
    from sklearn.feature_extraction.text import CountVectorizer

    stop = frozenset(stopwords)
    texts = [" ".join(t for t in s.split() if t not in stop) for s in docs["tokens"]]
    vec = CountVectorizer(analyzer=str.split, min_df=min_df, max_df=max_df, max_features=max_features,
                          dtype=np.int64)
    try:
        X = vec.fit_transform(texts).tocsr()
    except ValueError as exc:  # empty vocabulary, or max_df < min_df in documents
        raise PipelineError(f"topics.vocabulary: no vocabulary left ({exc})",
                            hint=f"{len(docs)} documents: lower vocabulary.min_df or raise max_df") from None
    n_tok = np.asarray(X.sum(axis=1)).ravel()
    keep = n_tok >= min_doc_tokens
    flagged = docs.loc[~keep, ["doc_id", "unit_ids", "interview_id", "n_units"]].assign(
        n_vocab_tokens=n_tok[~keep],
        reason=np.where(n_tok[~keep] == 0, "no vocabulary token", f"fewer than {min_doc_tokens} vocabulary tokens"))
    kept = docs.loc[keep].assign(n_vocab_tokens=n_tok[keep]).reset_index(drop=True)
    return Corpus(counts=X[keep], vocab=np.asarray(vec.get_feature_names_out()), docs=kept,
                  flagged=flagged.reset_index(drop=True))


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


def split_holdout(n_docs: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of document indices into training and held-out (sorted)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, STREAM_SPLIT]))
    perm = rng.permutation(n_docs)
    n_test = int(round(holdout * n_docs))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def cap_documents(train: np.ndarray, test: np.ndarray, max_docs: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_docs`` training documents for the K grid (and held-out documents in the
    same proportion), a seeded sample; the chosen model is then fitted on every document. On a
    large corpus the grid's many fits are what costs: their evidence (coherence, exclusivity,
    stability, perplexity) is already stable on a few thousand documents. A corpus within the
    cap is used whole, so its results do not depend on the cap."""
    if max_docs is None or len(train) <= max_docs:
        return train, test
    rng = np.random.default_rng(np.random.SeedSequence([seed, STREAM_GRID]))
    n_test = int(round(len(test) * max_docs / len(train)))
    return (np.sort(rng.choice(train, size=max_docs, replace=False)),
            np.sort(rng.choice(test, size=n_test, replace=False)))


def run_seed(seed: int, run: int) -> int:
    """The random_state of fit number ``run`` (a stream of the study seed)."""
    return int(np.random.SeedSequence([seed, STREAM_FIT, run]).generate_state(1)[0] % (2**31 - 1))


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TopicFit:
    """One fitted model: topic-word distributions (rows sum to 1) and, for the documents it was
    fitted on, document-topic proportions (rows sum to 1); held-out perplexity (LDA) or NaN."""

    model: str
    k: int
    topic_word: np.ndarray
    doc_topic: np.ndarray
    perplexity: float = float("nan")


def _normalise_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    s = a.sum(axis=1, keepdims=True)
    out = np.full_like(a, 1.0 / a.shape[1])
    np.divide(a, s, out=out, where=s > 0)
    return out


def fit_topics(X: sparse.spmatrix, model: str, k: int, random_state: int, settings: Settings,
               X_test: sparse.spmatrix | None = None) -> TopicFit:
    """Fit LDA (batch variational Bayes on counts) or NMF (Kullback-Leibler or Frobenius loss,
    on L2-normalised TF-IDF) with ``k`` topics. NMF's topic-word rows are its normalised H rows; its document
    proportions the normalised W rows (a document with W = 0 gets 1/k each)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    if model == "lda":
        from sklearn.decomposition import LatentDirichletAllocation

        lda = LatentDirichletAllocation(
            n_components=k, learning_method="batch", max_iter=settings.lda_max_iter, random_state=random_state,
            doc_topic_prior=settings.lda_doc_topic_prior, topic_word_prior=settings.lda_topic_word_prior)
        theta = lda.fit_transform(X)
        perp = float(lda.perplexity(X_test)) if X_test is not None and X_test.shape[0] else float("nan")
        return TopicFit(model, k, _normalise_rows(lda.components_), _normalise_rows(theta), perp)
    if model == "nmf":
        from sklearn.decomposition import NMF
        from sklearn.feature_extraction.text import TfidfTransformer

        tfidf = TfidfTransformer().fit_transform(X)
        nmf = NMF(n_components=k, init=settings.nmf_init, random_state=random_state,
                  max_iter=settings.nmf_max_iter, tol=settings.nmf_tol, beta_loss=settings.nmf_loss,
                  solver="mu" if settings.nmf_loss == "kullback-leibler" else "cd")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            W = nmf.fit_transform(tfidf)
        return TopicFit(model, k, _normalise_rows(nmf.components_), _normalise_rows(W))
    if model == "dmm":
        tw, pi, _ = fit_dmm(X, k, random_state, settings.dmm_alpha, settings.dmm_beta, settings.dmm_n_iter,
                            settings.dmm_split_merge)
        perp = dmm_perplexity(X_test, tw, pi) if X_test is not None and X_test.shape[0] else float("nan")
        return TopicFit(model, k, tw, dmm_responsibilities(X, tw, pi), perp)
    raise PipelineError(f"topics.models: unknown model {model!r}", hint=f"use {MODELS}")


class _DMMState:
    """Sufficient statistics of a DMM assignment: documents per topic (m), word counts per topic
    (nkw), tokens per topic (nk)."""

    def __init__(self, k: int, V: int):
        self.m, self.nkw, self.nk = np.zeros(k), np.zeros((k, V)), np.zeros(k)

    def add(self, t: int, w: np.ndarray, c: np.ndarray, nd: float, sign: float = 1.0) -> None:
        self.m[t] += sign
        self.nkw[t, w] += sign * c
        self.nk[t] += sign * nd


def _gibbs_sweeps(docs: Sequence[int], z: np.ndarray, st: _DMMState, words, counts, ones, length, alpha: float,
                  beta: float, n_sweeps: int, rng: np.random.Generator) -> None:
    """``n_sweeps`` collapsed Gibbs sweeps over ``docs`` (in order), updating ``z`` and ``st``."""
    from scipy.special import gammaln

    vb = st.nkw.shape[1] * beta
    k = len(st.m)
    for _ in range(n_sweeps):
        u = rng.random(len(docs))
        for i, d in enumerate(docs):
            w, c, old, nd = words[d], counts[d], z[d], length[d]
            st.add(old, w, c, nd, -1.0)
            sub = st.nkw[:, w] + beta
            word_part = np.log(sub).sum(axis=1) if ones[d] else (gammaln(sub + c) - gammaln(sub)).sum(axis=1)
            logp = np.log(st.m + alpha) + word_part - (gammaln(st.nk + vb + nd) - gammaln(st.nk + vb))
            p = np.exp(logp - logp.max())
            cum = np.cumsum(p)
            new = min(int(np.searchsorted(cum, u[i] * cum[-1], side="right")), k - 1)
            z[d] = new
            st.add(new, w, c, nd)


def _topic_score(m: np.ndarray, nkw: np.ndarray, nk: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Each topic's term of the collapsed log joint (0 for an empty topic):
    log G(m + a) - log G(a) + log G(V b) - log G(n + V b) + sum_w [log G(n_w + b) - log G(b)]."""
    from scipy.special import gammaln

    V = nkw.shape[-1]
    return (gammaln(m + alpha) - gammaln(alpha) + gammaln(V * beta) - gammaln(nk + V * beta)
            + (gammaln(nkw + beta) - gammaln(beta)).sum(axis=-1))


def _split_merge(z: np.ndarray, st: _DMMState, words, counts, ones, length, alpha: float, beta: float,
                 rng: np.random.Generator, split_sweeps: int = 10) -> bool:
    """One greedy split-merge move at fixed K: merge the pair of topics and split the topic (into
    two, by a restricted two-topic Gibbs run on its documents) whose combined change of the
    collapsed log joint is largest; an empty topic can take a split without a merge. Applied only
    when it raises the log joint. Returns whether a move was made.

    Gibbs sampling changes one document at a time and cannot leave a mode in which two real
    clusters share a topic while another real cluster is split in two (moving the documents one
    by one lowers the probability on the way): the sampler "gets stuck". Split-merge moves (Jain
    & Neal 2004) change many documents at once; this greedy version climbs to a better mode."""
    k, V = st.nkw.shape
    score = _topic_score(st.m, st.nkw, st.nk, alpha, beta)
    # splits: the best two-way split of every topic with two or more documents
    split_gain = np.full(k, -np.inf)
    splits: dict[int, np.ndarray] = {}
    for t in range(k):
        docs = np.flatnonzero(z == t)
        if len(docs) < 2:
            continue
        sub = _DMMState(2, V)
        zz = np.zeros(len(z), dtype=int)
        zz[docs] = rng.integers(0, 2, size=len(docs))
        for d in docs:
            sub.add(zz[d], words[d], counts[d], length[d])
        _gibbs_sweeps(docs, zz, sub, words, counts, ones, length, alpha, beta, split_sweeps, rng)
        if sub.m.min() == 0:
            continue
        split_gain[t] = _topic_score(sub.m, sub.nkw, sub.nk, alpha, beta).sum() - score[t]
        splits[t] = docs[zz[docs] == 1]
    # merges: every pair; an empty topic is a free slot (gain 0)
    best = (0.0, None, None, None)            # (gain, keep, emptied, split topic)
    empty = [t for t in range(k) if st.m[t] == 0]
    for t in splits:
        if empty and split_gain[t] > best[0] + 1e-9:
            best = (split_gain[t], None, empty[0], t)
    for a in range(k):
        for b in range(a + 1, k):
            if st.m[a] == 0 or st.m[b] == 0:
                continue
            merged = _topic_score(st.m[a] + st.m[b], st.nkw[a] + st.nkw[b], st.nk[a] + st.nk[b], alpha, beta)
            g_merge = float(merged - score[a] - score[b])
            for t in splits:
                if t in (a, b):
                    continue
                if g_merge + split_gain[t] > best[0] + 1e-9:
                    best = (g_merge + split_gain[t], a, b, t)
    gain, keep, freed, t = best
    if t is None:
        return False
    if keep is not None:                      # merge: the documents of `freed` join `keep`
        for d in np.flatnonzero(z == freed):
            st.add(freed, words[d], counts[d], length[d], -1.0)
            st.add(keep, words[d], counts[d], length[d])
            z[d] = keep
    for d in splits[t]:                       # split: one half of t moves to the freed topic
        st.add(t, words[d], counts[d], length[d], -1.0)
        st.add(freed, words[d], counts[d], length[d])
        z[d] = freed
    return True


def fit_dmm(X: sparse.spmatrix, k: int, random_state: int, alpha: float = 0.1, beta: float = 0.1,
            n_iter: int = 30, split_merge: int = 0,
            init: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dirichlet multinomial mixture for short texts by collapsed Gibbs sampling (GSDMM, Yin &
    Wang 2014): every document has ONE topic z_d; pi ~ Dirichlet(alpha), phi_k ~ Dirichlet(beta).

    Start: z_d uniform at random (or ``init``, 0-based topics); then ``n_iter`` sweeps over the documents in order, each z_d
    drawn from p(z_d = k | z_-d, words) proportional to
    (m_k + alpha) prod_w prod_{j<c_dw} (n_kw + beta + j) / prod_{i<N_d} (n_k + V beta + i)
    (counts without document d; all K topics at once). Then up to ``split_merge`` rounds of one
    greedy split-merge move (:func:`_split_merge`, taken only if it raises the collapsed log
    joint) followed by ``max(2, n_iter // 4)`` sweeps; the rounds stop at the first round without
    a move. The random numbers come from ``numpy.random.default_rng(random_state)`` only, so a fit
    is reproducible to the bit.

    Returns the topic-word distributions phi_kw = (n_kw + beta) / (n_k + V beta) (K x V), the
    topic shares pi_k = (m_k + alpha) / (D + K alpha) and the last assignments z (0-based).
    A topic left with no document keeps the flat phi = 1/V.
    """
    X = sparse.csr_matrix(X)
    n, V = X.shape
    rng = np.random.default_rng(random_state)
    words = [X.indices[X.indptr[d]:X.indptr[d + 1]] for d in range(n)]
    counts = [X.data[X.indptr[d]:X.indptr[d + 1]].astype(float) for d in range(n)]
    ones = [bool((c == 1).all()) for c in counts]
    length = np.asarray(X.sum(axis=1), dtype=float).ravel()
    z = rng.integers(0, k, size=n) if init is None else np.asarray(init, dtype=np.int64).copy()
    st = _DMMState(k, V)
    for d in range(n):
        st.add(z[d], words[d], counts[d], length[d])
    order = range(n)
    _gibbs_sweeps(order, z, st, words, counts, ones, length, alpha, beta, n_iter, rng)
    for _ in range(split_merge):
        if not _split_merge(z, st, words, counts, ones, length, alpha, beta, rng):
            break
        _gibbs_sweeps(order, z, st, words, counts, ones, length, alpha, beta, max(2, n_iter // 4), rng)
    phi = (st.nkw + beta) / (st.nk[:, None] + V * beta)
    pi = (st.m + alpha) / (n + k * alpha)
    return phi, pi, z


def dmm_log_posterior(X: sparse.spmatrix, z: np.ndarray, k: int, alpha: float, beta: float) -> float:
    """The collapsed log joint log p(z, w | alpha, beta) of a DMM assignment ``z`` (0-based):
    log p(z) = log G(K a) - log G(D + K a) + sum_k [log G(m_k + a) - log G(a)] and
    log p(w | z) = sum_k [log G(V b) - log G(n_k + V b) + sum_w (log G(n_kw + b) - log G(b))]
    (Yin & Wang 2014; the multinomial coefficients are constant in z). Used to pick the best of
    several Gibbs chains: GSDMM chains get stuck in different local modes."""
    from scipy.special import gammaln

    X = sparse.coo_matrix(X)
    n, V = X.shape
    z = np.asarray(z, dtype=int)
    m = np.bincount(z, minlength=k).astype(float)
    nkw = np.zeros((k, V))
    np.add.at(nkw, (z[X.row], X.col), X.data.astype(float))
    nk = nkw.sum(axis=1)
    log_z = gammaln(k * alpha) - gammaln(n + k * alpha) + float((gammaln(m + alpha) - gammaln(alpha)).sum())
    log_w = float((gammaln(V * beta) - gammaln(nk + V * beta)).sum() + (gammaln(nkw + beta) - gammaln(beta)).sum())
    return float(log_z + log_w)


def _dmm_chain(X: sparse.spmatrix, k: int, state: int, settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    tw, pi, z = fit_dmm(X, k, state, settings.dmm_alpha, settings.dmm_beta, settings.dmm_n_iter,
                        settings.dmm_split_merge)
    return tw, pi, z, dmm_log_posterior(X, z, k, settings.dmm_alpha, settings.dmm_beta)


def fit_final(X: sparse.spmatrix, model: str, k: int, seed: int, settings: Settings) -> tuple[TopicFit, pd.DataFrame]:
    """The chosen (model, K) fitted on all documents. DMM: ``dmm.restarts`` Gibbs chains with
    split-merge moves (random state :func:`run_seed` (seed, r) for chain r; run in
    ``n_jobs`` processes, same results for any n_jobs), the one with the largest collapsed log
    joint (:func:`dmm_log_posterior`) kept; ties to the first chain. On a corpus larger than
    ``dmm.chain_max_docs`` the chains run on a seeded sample of that many documents (finding the
    mode is what costs, and the sample's topics are those of the corpus); every document then
    starts at its most probable topic under the kept chain's phi and pi, and ``dmm.n_iter``
    plain Gibbs sweeps run over the whole corpus. LDA and NMF: one fit (seed run 0).
    Returns the fit and one row per chain (chain, random_state, n_docs, log_posterior,
    n_topics_used, chosen; a last row ``chain`` = 0 for the whole-corpus sweeps after a sample)."""
    if model != "dmm":
        fit = fit_topics(X, model, k, run_seed(seed, 0), settings)
        return fit, pd.DataFrame([{"chain": 1, "random_state": run_seed(seed, 0), "n_docs": X.shape[0],
                                   "log_posterior": float("nan"), "n_topics_used": k, "chosen": True}])
    n = X.shape[0]
    sample = None
    if settings.dmm_chain_max_docs is not None and n > settings.dmm_chain_max_docs:
        rng = np.random.default_rng(np.random.SeedSequence([seed, STREAM_CHAINS]))
        sample = np.sort(rng.choice(n, size=settings.dmm_chain_max_docs, replace=False))
    Xc = X if sample is None else X[sample]
    states = [run_seed(seed, r) for r in range(settings.dmm_restarts)]
    if settings.n_jobs > 1 and len(states) > 1:
        from joblib import Parallel, delayed

        fits = Parallel(n_jobs=min(settings.n_jobs, len(states)))(delayed(_dmm_chain)(Xc, k, st, settings) for st in states)
    else:
        fits = [_dmm_chain(Xc, k, st, settings) for st in states]
    rows = [{"chain": r + 1, "random_state": st, "n_docs": Xc.shape[0], "log_posterior": f[3],
             "n_topics_used": int(np.count_nonzero(np.bincount(f[2], minlength=k))), "chosen": False}
            for r, (st, f) in enumerate(zip(states, fits))]
    best = max(range(len(fits)), key=lambda r: (fits[r][3], -r))
    rows[best]["chosen"] = True
    tw, pi = fits[best][0], fits[best][1]
    if sample is not None:
        start = _dmm_log_joint(X, tw, pi).argmax(axis=1)
        state = run_seed(seed, settings.dmm_restarts)
        tw, pi, z = fit_dmm(X, k, state, settings.dmm_alpha, settings.dmm_beta, settings.dmm_n_iter, 0, init=start)
        rows.append({"chain": 0, "random_state": state, "n_docs": n,
                     "log_posterior": dmm_log_posterior(X, z, k, settings.dmm_alpha, settings.dmm_beta),
                     "n_topics_used": int(np.count_nonzero(np.bincount(z, minlength=k))), "chosen": True})
    return TopicFit(model, k, tw, dmm_responsibilities(X, tw, pi)), pd.DataFrame(rows)


def _dmm_log_joint(X: sparse.spmatrix, topic_word: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """log pi_k + sum_w c_dw log phi_kw for every document and topic (D x K)."""
    return np.asarray(sparse.csr_matrix(X, dtype=float) @ np.log(topic_word).T) + np.log(pi)


def dmm_responsibilities(X: sparse.spmatrix, topic_word: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """The posterior p(z_d = k | words, phi, pi) of every document: the DMM's document-topic
    'proportions' (rows sum to 1; nearly one-hot for documents of several words)."""
    from scipy.special import softmax

    return softmax(_dmm_log_joint(X, topic_word, pi), axis=1)


def dmm_perplexity(X: sparse.spmatrix, topic_word: np.ndarray, pi: np.ndarray) -> float:
    """Held-out per-word perplexity of a DMM: exp(-sum_d log p(w_d) / sum_d N_d) with
    p(w_d) = sum_k pi_k prod_w phi_kw^c_dw (no multinomial coefficient, as LDA's perplexity)."""
    from scipy.special import logsumexp

    n_words = float(X.sum())
    if n_words == 0:
        return float("nan")
    return float(np.exp(-logsumexp(_dmm_log_joint(X, topic_word, pi), axis=1).sum() / n_words))


# --------------------------------------------------------------------------------------------
# evidence for K
# --------------------------------------------------------------------------------------------
def top_word_indices(topic_word: np.ndarray, n: int) -> np.ndarray:
    """Each topic's ``n`` most probable words (ties: lower vocabulary index first)."""
    order = np.argsort(-topic_word, axis=1, kind="stable")
    return order[:, :n]


def npmi_coherence(top_words: np.ndarray, doc_word: sparse.spmatrix) -> np.ndarray:
    """NPMI coherence of each topic's top words over document co-occurrence.

    P(w) and P(w_i, w_j) are the shares of documents containing w, and both words. For every
    pair of a topic's top words NPMI = log(P(ij) / (P(i) P(j))) / -log P(ij), -1 when the pair
    never co-occurs (the limit), +1 when both words occur in every document; the topic's
    coherence is the mean over its pairs (Bouma 2009; Roeder et al. 2015, C_NPMI with a
    document as the window).
    """
    B = (sparse.csc_matrix(doc_word) > 0).astype(np.float64)
    n = B.shape[0]
    out = np.empty(top_words.shape[0])
    for t, words in enumerate(top_words):
        sub = B[:, words]
        co = np.asarray((sub.T @ sub).todense()) / n
        p = np.diag(co)
        vals = []
        for i in range(len(words)):
            for j in range(i + 1, len(words)):
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


def exclusivity(topic_word: np.ndarray, n: int) -> np.ndarray:
    """Each topic's exclusivity: the mean word exclusivity phi_kw / sum_j phi_jw of its ``n``
    top words (the exclusivity half of stm's FREX, without the frequency weighting). 1 when no
    other topic gives its top words any probability, 1/K when all topics are the same."""
    ex = word_exclusivity(topic_word)
    top = top_word_indices(topic_word, n)
    return np.take_along_axis(ex, top, axis=1).mean(axis=1)


def frex(topic_word: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """stm's FREX score of every word in every topic: the weighted harmonic mean of the word's
    within-topic ECDF rank of exclusivity (phi_kw / sum_j phi_jw) and of frequency (phi_kw),
    1 / (w / F + (1 - w) / E); ranks are average ranks over the vocabulary divided by its size
    (as ``data.table::frank`` in ``stm::calcfrex``)."""
    tw = np.asarray(topic_word, dtype=float)
    V = tw.shape[1]
    freq = np.vstack([rankdata(row, method="average") / V for row in tw])
    excl = np.vstack([rankdata(row, method="average") / V for row in word_exclusivity(tw)])
    return 1.0 / (weight / freq + (1.0 - weight) / excl)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-300)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300)
    return an @ bn.T


def match_topics(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of the rows (topics) of two topic-word matrices by cosine similarity:
    returns ``perm`` (row of ``b`` matched to each row of ``a``) and the matched cosines."""
    sim = _cosine(np.asarray(a, float), np.asarray(b, float))
    rows, cols = linear_sum_assignment(-sim)
    perm = np.empty(len(rows), dtype=int)
    perm[rows] = cols
    return perm, sim[rows, cols][np.argsort(rows)]


def stability(topic_words: Sequence[np.ndarray]) -> float:
    """Mean cosine similarity of Hungarian-matched topics over all pairs of runs (1 for
    identical runs in any topic order; NaN for a single run)."""
    sims = [match_topics(topic_words[i], topic_words[j])[1].mean()
            for i in range(len(topic_words)) for j in range(i + 1, len(topic_words))]
    return float(np.mean(sims)) if sims else float("nan")


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


def evaluate_grid(corpus: Corpus, settings: Settings, seed: int) -> pd.DataFrame:
    """Fit every (model, K, seed run) on a seeded subsample (``subsample``) of the training
    split, with that run's random state, and summarise per (model, K):
    coherence_npmi and exclusivity (means over topics and runs; NPMI over the whole corpus's
    document co-occurrence), stability (:func:`stability` across the runs), perplexity (LDA,
    held-out documents, mean over runs). Results do not depend on ``n_jobs``."""
    X = corpus.counts
    train, test = split_holdout(X.shape[0], settings.holdout, seed)
    train, test = cap_documents(train, test, settings.grid_max_docs, seed)
    check_grid(settings.k_grid, len(train), X.shape[1], settings.min_docs_per_topic)
    X_train, X_test = X[train], X[test]
    tasks = [(m, k, r) for m in settings.models for k in settings.k_grid for r in range(settings.seeds)]
    if settings.n_jobs > 1:
        from joblib import Parallel, delayed

        fits = Parallel(n_jobs=settings.n_jobs)(
            delayed(_grid_task)(X_train, X_test, m, k, seed, r, settings) for m, k, r in tasks)
    else:
        fits = [_grid_task(X_train, X_test, m, k, seed, r, settings) for m, k, r in tasks]
    by_key: dict[tuple[str, int], list[TopicFit]] = {}
    for (m, k, _), f in zip(tasks, fits):
        by_key.setdefault((m, k), []).append(f)
    rows = []
    for (m, k), runs in by_key.items():
        coh = [npmi_coherence(top_word_indices(f.topic_word, settings.top_n), X).mean() for f in runs]
        exc = [exclusivity(f.topic_word, settings.top_n).mean() for f in runs]
        rows.append({"model": m, "k": k, "coherence_npmi": float(np.mean(coh)), "exclusivity": float(np.mean(exc)),
                     "stability": stability([f.topic_word for f in runs]),
                     "perplexity": float(np.mean([f.perplexity for f in runs])) if m in ("lda", "dmm") else float("nan"),
                     "n_seeds": len(runs)})
    return pd.DataFrame(rows)


def select_model(table: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The selection rule. Eligible: stability >= ``min_stability`` (or every row when none
    is). Score: the mean over ``criteria`` of each criterion standardised (z-score) across the
    eligible rows (neg_perplexity: minus the held-out perplexity, LDA rows only; a criterion
    missing for a row counts 0). Chosen: the highest score, ties to the smaller K, then the
    order of ``topics.models``; ``selection.model`` restricts the choice to one model and
    ``selection.fixed_k`` to one K. Returns ``table`` with eligible, score and chosen."""
    t = table.copy()
    t["eligible"] = t["stability"] >= settings.min_stability
    if settings.seeds < 2 or not t["eligible"].any():
        t["eligible"] = True
    crit = t.assign(neg_perplexity=-t["perplexity"])
    z = []
    for c in settings.criteria:
        vals = crit.loc[t["eligible"], c]
        sd = vals.std(ddof=0)
        zc = (crit[c] - vals.mean()) / sd if sd > 0 else crit[c] * 0.0
        z.append(zc.fillna(0.0))
    t["score"] = np.where(t["eligible"], np.mean(z, axis=0), np.nan)
    # A forced model or K is taken even when its runs are less stable than min_stability (the
    # table still shows them as not eligible); otherwise only eligible rows compete.
    forced = settings.fixed_model is not None or settings.fixed_k is not None
    cand = t if forced else t[t["eligible"]]
    if settings.fixed_model is not None:
        cand = cand[cand["model"] == settings.fixed_model]
    if settings.fixed_k is not None:
        cand = cand[cand["k"] == settings.fixed_k]
    order = {m: i for i, m in enumerate(settings.models)}
    cand = cand.assign(_s=cand["score"].fillna(-np.inf), _m=cand["model"].map(order))
    best = cand.sort_values(["_s", "k", "_m"], ascending=[False, True, True], kind="stable").index[0]
    t["chosen"] = t.index == best
    return t[K_COLUMNS].sort_values(["model", "k"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# the chosen model
# --------------------------------------------------------------------------------------------
def order_by_prevalence(fit: TopicFit) -> TopicFit:
    """Number the topics by overall prevalence (mean document proportion), largest first."""
    order = np.argsort(-fit.doc_topic.mean(axis=0), kind="stable")
    return TopicFit(fit.model, fit.k, fit.topic_word[order], fit.doc_topic[:, order], fit.perplexity)


def read_labels(path: str | Path | None, k: int) -> dict[int, str]:
    """A labels file (YAML mapping topic number -> label) checked against the K topics."""
    if path is None:
        return {}
    path = Path(path)
    raw = config.read_yaml(path, "topic labels file", "set topics.labels to null or create it")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PipelineError(f"{path}: expected a mapping of topic number to label")
    labels: dict[int, str] = {}
    bad = []
    for key, value in raw.items():
        try:
            t = int(key)
        except (TypeError, ValueError):
            t = None
        if t is None or not 1 <= t <= k or isinstance(key, bool):
            bad.append(key)
        else:
            labels[t] = str(value)
    if bad:
        raise PipelineError(f"{path}: labels for unknown topics {bad}; the chosen model has topics 1..{k}",
                            hint="labels belong to one fitted model: relabel after the topics changed")
    return labels


def topic_words(fit: TopicFit, vocab: np.ndarray, n: int, weight: float = 0.5) -> pd.DataFrame:
    """Top words (by probability; weight = phi_kw) and FREX words (weight = FREX score) of every
    topic: topic, kind (top | frex), rank, word, weight."""
    fr = frex(fit.topic_word, weight)
    rows = []
    for t in range(fit.k):
        for kind, score in (("top", fit.topic_word[t]), ("frex", fr[t])):
            idx = np.argsort(-score, kind="stable")[:n]
            rows += [{"topic": t + 1, "kind": kind, "rank": r + 1, "word": vocab[i], "weight": float(score[i])}
                     for r, i in enumerate(idx)]
    return pd.DataFrame(rows, columns=["topic", "kind", "rank", "word", "weight"])


def topic_table(fit: TopicFit, words: pd.DataFrame, labels: Mapping[int, str], coherence: np.ndarray,
                excl: np.ndarray, alignment: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per topic: topic, label (the labels file's, else "T1: w1 w2 w3"), prevalence
    (mean document proportion), share_argmax (share of documents whose largest topic it is),
    coherence_npmi, exclusivity, top_words, frex_words; with ``alignment``: theme, theme_label,
    purity (share of the topic's argmax documents with that planted theme)."""
    argmax = fit.doc_topic.argmax(axis=1)
    rows = []
    for t in range(fit.k):
        top = words[(words["topic"] == t + 1) & (words["kind"] == "top")]["word"].tolist()
        fx = words[(words["topic"] == t + 1) & (words["kind"] == "frex")]["word"].tolist()
        rows.append({"topic": t + 1, "label": labels.get(t + 1, f"T{t + 1}: {' '.join(top[:3])}"),
                     "prevalence": float(fit.doc_topic[:, t].mean()), "share_argmax": float(np.mean(argmax == t)),
                     "coherence_npmi": float(coherence[t]), "exclusivity": float(excl[t]),
                     "top_words": " ".join(top), "frex_words": " ".join(fx)})
    out = pd.DataFrame(rows)
    if alignment is not None:
        a = alignment[["topic", "theme", "theme_label", "purity"]]
        out = out.merge(a, on="topic", how="left")
    return out


def doc_topic_frame(corpus: Corpus, fit: TopicFit) -> pd.DataFrame:
    """doc_id, unit_ids, interview_id, comm_id, role, n_vocab_tokens, topic (the largest),
    T1..TK (proportions)."""
    d = corpus.docs[["doc_id", "unit_ids", "interview_id", "comm_id", "role", "n_vocab_tokens"]].copy()
    d["topic"] = fit.doc_topic.argmax(axis=1) + 1
    props = pd.DataFrame(fit.doc_topic, columns=[f"T{t + 1}" for t in range(fit.k)])
    return pd.concat([d.reset_index(drop=True), props], axis=1)


def exemplars(corpus: Corpus, fit: TopicFit, n: int = 3) -> pd.DataFrame:
    """The ``n`` documents loading highest on each topic, preferring distinct interviews (a
    second document of an interview only when fewer than ``n`` interviews are left): topic,
    rank, doc_id, unit_ids, interview_id, loading, text (redacted), question (the interviewer's
    question before it, redacted; exchange documents only)."""
    rows = []
    docs = corpus.docs
    for t in range(fit.k):
        order = np.argsort(-fit.doc_topic[:, t], kind="stable")
        picked: list[int] = []
        seen: set[str] = set()
        for i in order:
            if len(picked) == n:
                break
            if docs["interview_id"].iat[i] not in seen:
                picked.append(int(i))
                seen.add(docs["interview_id"].iat[i])
        for i in order:
            if len(picked) == n:
                break
            if int(i) not in picked:
                picked.append(int(i))
        for r, i in enumerate(picked):
            rows.append({"topic": t + 1, "rank": r + 1, "doc_id": docs["doc_id"].iat[i],
                         "unit_ids": docs["unit_ids"].iat[i], "interview_id": docs["interview_id"].iat[i],
                         "loading": float(fit.doc_topic[i, t]), "text": docs["text"].iat[i],
                         "question": docs["question"].iat[i] if "question" in docs else ""})
    return pd.DataFrame(rows, columns=["topic", "rank", "doc_id", "unit_ids", "interview_id", "loading", "text",
                                       "question"])


# --------------------------------------------------------------------------------------------
# prevalence: estimateEffect-style regressions
# --------------------------------------------------------------------------------------------
def _factor_of(rhs: str, name: str) -> str:
    return "categorical" if f"C({name})" in rhs.replace(" ", "") else "numeric"


def prevalence_effects(data: pd.DataFrame, outcomes: Sequence[str], rhs: str, factors: Sequence[str],
                       covariance: str = "cluster", cluster: str = "comm_id",
                       conf_level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Regress each topic's document proportion on ``rhs`` (OLS, ``covariance`` clustered by
    ``cluster``, through :func:`pipeline.stats.fit.fit_model`), as stm's ``estimateEffect``
    with the point estimates of the proportions (no composition uncertainty).

    Returns the tidy coefficients (topic, term, estimate, se, statistic, df, p, ci_low,
    ci_high) and the average predicted proportion at every level of each factor in ``factors``
    (every document set to that level, the others as observed; a linear combination of the
    coefficients, so its interval uses the coefficient covariance and the model's t df):
    topic, factor, level, estimate, se, ci_low, ci_high.
    """
    from scipy import stats

    coefs, levels = [], []
    base = patsy.dmatrix(rhs, data, return_type="dataframe")
    for name in outcomes:
        res = fit_model({"id": name, "formula": f"{name} ~ {rhs}", "estimator": "ols", "covariance": covariance,
                         "cluster": cluster, "conf_level": conf_level}, data)
        c = res.coefficients
        coefs.append(pd.DataFrame({"topic": name, "term": c["term"], "estimate": c["estimate"],
                                   "se": c["std_error"], "statistic": c["statistic"], "df": c["df"],
                                   "p": c["p_value"], "ci_low": c["conf_low"], "ci_high": c["conf_high"]}))
        if list(res.params.index) != list(base.columns):
            raise PipelineError(f"prevalence model of {name}: terms {list(res.params.index)} differ from the "
                                f"design {list(base.columns)}")
        beta = res.params.to_numpy(float)
        V = res.vcov.to_numpy(float)
        df = res.fit["t_df"]
        q = stats.t.ppf(0.5 + conf_level / 2, df) if df is not None else stats.norm.ppf(0.5 + conf_level / 2)
        for f in factors:
            values = sorted(data[f].dropna().unique().tolist())
            for v in values:
                Xl = patsy.build_design_matrices([base.design_info], data.assign(**{f: v}),
                                                 return_type="dataframe")[0]
                g = Xl.to_numpy(float).mean(axis=0)
                est = float(g @ beta)
                se = float(np.sqrt(g @ V @ g))
                levels.append({"topic": name, "factor": f, "level": str(v), "estimate": est, "se": se,
                               "ci_low": est - q * se, "ci_high": est + q * se})
    return (pd.concat(coefs, ignore_index=True)[COEF_COLUMNS],
            pd.DataFrame(levels, columns=LEVEL_COLUMNS))


def read_communities(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """The community file's columns needed by the prevalence formula, numbers as numbers."""
    return read_community_columns(path, list(columns), "topics.prevalence")


# --------------------------------------------------------------------------------------------
# alignment with the planted themes (demo study)
# --------------------------------------------------------------------------------------------
def _truth_turn_keys(truth_units: pd.DataFrame) -> pd.Series:
    """The unit-id turn key (``I001:3``) of each truth sentence: truth turns count from 0."""
    return truth_units["interview_id"].astype(str) + ":" + (truth_units["turn"] + 1).astype(str)


def doc_themes(docs: pd.DataFrame, truth_units: pd.DataFrame) -> pd.Series:
    """Each document's planted theme. A document that is one respondent turn gets the turn's
    planted main theme (``turn_theme``; turns are numbered from 0 in the truth, from 1 in unit
    ids, and line up one to one). A window of sentences gets the majority theme of its sentences
    (ties: the first turn's main theme, then the smaller) -- sentence numbers line up less well,
    since the transcripts stage joins run-on sentences (see pipeline/stages/coding.py for an alignment
    by sentence lengths)."""
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


def doc_stances(docs: pd.DataFrame, truth_units: pd.DataFrame) -> pd.Series:
    """Each turn document's planted (theme, stance) class as ``"theme:variant"``: the turn's main
    theme and the variant most of its sentences of that theme carry (ties: first in sentence
    order; a theme planted without variants has the one variant ``general``). Documents that are
    not one turn, or whose turn has no sentence of its main theme, get "". The demo generator
    plants four themes with two stances each (raw/truth: transcript_theme_effects.json,
    ``variants``), each with its own wording."""
    t = truth_units[truth_units["theme"] == truth_units["turn_theme"]]
    t = t.assign(turn_key=_truth_turn_keys(t), variant=t["variant"].astype(str))
    main: dict[str, str] = {}
    for key, g in t.groupby("turn_key", sort=False):
        seq = g["variant"].tolist()
        counts = {x: seq.count(x) for x in seq}
        v = next(x for x in seq if counts[x] == max(counts.values()))
        main[key] = f"{int(g['turn_theme'].iat[0])}:{v}"
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


# --------------------------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------------------------
def run_topics(units: pd.DataFrame, communities: pd.DataFrame, settings: Settings, seed: int,
               labels_path: str | Path | None = None, truth: Mapping[str, Any] | None = None,
               questions: pd.DataFrame | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """The whole stage as one pure function: returns the output tables and the metrics.
    ``questions``: the interviewer's questions (needed for ``unit: exchange``).
    ``truth`` (demo only): {"units": transcript_units.csv, "effects": transcript_theme_effects.json}."""
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
    topic_cols = [f"T{t + 1}" for t in range(k)]
    covars = [c for c in formula_variables(settings.formula) if c in communities.columns and c != "comm_id"]
    reg = dt.merge(communities, on="comm_id", how="left", validate="many_to_one")
    lacking = reg.loc[reg[covars].isna().any(axis=1), "comm_id"].unique().tolist()
    if lacking:
        raise PipelineError(f"topics.prevalence: communities {lacking[:5]} of the transcripts are not in the community file",
                            hint="pass the study's raw/communities.csv")
    coefs, levels = prevalence_effects(reg, topic_cols, settings.formula, settings.factors, settings.covariance,
                                       settings.cluster, settings.conf_level)
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
    alignment = None
    if truth is not None:
        dthemes = doc_themes(corpus.docs, truth["units"]).to_numpy()
        theme_ids = sorted(int(t) for t in truth["effects"]["themes"])
        alignment, summary = align_topics(dt["topic"].to_numpy(), dthemes, k, theme_ids)
        names = {int(t): v.get("en", str(t)) if isinstance(v, dict) else str(v)
                 for t, v in truth["effects"]["themes"].items()}
        alignment["theme_label"] = alignment["theme"].map(names).fillna("")
        stances = doc_stances(corpus.docs, truth["units"]).to_numpy()
        classes = sorted({c for c in stances if c and int(c.split(":")[0]) in theme_ids
                          and c.split(":")[1] not in ("pii", "nan")}, key=lambda c: (int(c.split(":")[0]), c))
        summary["stances"] = align_stances(dt["topic"].to_numpy(), stances, k, classes)
        # planted signs of every prevalence factor the truth plants a level-vs-level contrast for
        contrasts = truth["effects"]["contrasts"]
        checked = [f for f in settings.factors if any(c.get("factor") == f and c.get("planted")
                                                      and not isinstance(c.get("reference"), list) for c in contrasts)]
        frames = []
        for f in checked:
            signs, one = sign_agreement(levels, alignment, contrasts, f)
            signs_m, many = sign_agreement(levels, alignment, contrasts, f, mapping="many_to_one")
            stance_signs, st = stance_sign_agreement(levels, dt["topic"].to_numpy(), stances, truth["effects"], f)
            frames += [signs, signs_m, stance_signs]
            summary["stances"].update({f"{f}_signs_agree": st["n_agree"], f"{f}_signs_planted": st["n_planted"]})
            summary.update({f"{f}_signs_agree": one["n_agree"], f"{f}_signs_planted": one["n_planted"],
                            f"{f}_signs_agree_themes": sorted(int(t) for t in signs.loc[signs["agree"], "theme"]),
                            f"{f}_signs_agree_many_to_one": many["n_agree"],
                            f"{f}_signs_agree_themes_many_to_one":
                                sorted(int(t) for t in signs_m.loc[signs_m["agree"], "theme"])})
        tables["alignment"] = alignment
        if frames:
            tables["sign_agreement"] = pd.concat(frames, ignore_index=True)
        metrics["alignment"] = summary
    tables["topics"] = topic_table(fit, words, labels, coh, exc, alignment)
    tables["doc_topics"] = dt
    tables["exemplars"] = exemplars(corpus, fit, settings.n_exemplars)
    tables["prevalence"] = coefs
    tables["prevalence_levels"] = levels
    tables["flagged_docs"] = corpus.flagged
    return tables, metrics


def read_truth(path: str | Path | None) -> dict[str, Any] | None:
    """The demo study's planted themes (raw/truth), or None when there is no such folder."""
    if not path:
        return None
    path = Path(path)
    units_file, effects_file = path / "transcript_units.csv", path / "transcript_theme_effects.json"
    if not units_file.exists() or not effects_file.exists():
        return None
    return {"units": pd.read_csv(units_file), "effects": json.loads(effects_file.read_text(encoding="utf-8"))}


def main(argv: list[str] | None = None) -> None:
    parser = config.transcript_stage_parser("pipeline topics", __doc__.splitlines()[0], OUT_DIR, METRICS_FILE,
                                            "interviewer questions (unit: exchange)",
                                            "for the alignment with planted themes")
    args = parser.parse_args(argv)
    params = config.load_params(args.params)
    settings = parse_settings(config.section(params, "topics"))
    units = read_transcript_output(args.units, "transcript units")
    questions = (read_transcript_output(args.questions, "interviewer questions")
                 if args.questions and settings.unit == "exchange" else None)
    covars = [c for c in dict.fromkeys([*formula_variables(settings.formula), *settings.factors, settings.cluster])
              if c not in DOC_COLUMNS]
    communities = read_communities(args.communities, covars)
    tables, metrics = run_topics(units, communities, settings, int(params["seed"]), settings.labels,
                                 read_truth(args.truth), questions)
    with atomic_dir(Path(args.out)) as out:
        for name, table in tables.items():
            if name == "doc_topics":
                table.to_parquet(out / "doc_topics.parquet", index=False, engine="pyarrow", compression="zstd")
            else:
                table.to_csv(out / f"{name}.csv", index=False, lineterminator="\n", float_format=FLOAT_FORMAT)
    write_json(args.metrics, metrics)
    print(json.dumps(metrics, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

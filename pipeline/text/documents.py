"""Documents for topic models: respondent units joined into documents, and their document-term
matrix (the topics stage, docs/topics.md).

:func:`build_documents` joins the respondent units of ``processed/transcripts/units.parquet`` into
documents (``exchange``, ``turn`` or ``window``); :func:`vectorize` counts their content tokens
over a vocabulary (a :class:`Corpus`); :func:`split_holdout` and :func:`cap_documents` choose, with
seeded streams, the documents the K grid is fitted and evaluated on.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.core.errors import PipelineError

UNITS = ("exchange", "turn", "window")
STREAM_SPLIT = 71       # SeedSequence stream of the held-out split
STREAM_GRID = 74        # ... of the documents the K grid is evaluated on (grid_max_docs)
UNITS_NEEDED = ("unit_id", "interview_id", "role", "turn", "sentence", "text", "tokens")   # of units.parquet (pipeline/text/units.py)


def resolve_unit(unit: str, questions: pd.DataFrame | None) -> str:
    """The document unit: ``auto`` is ``exchange`` when there are interviewer questions, else
    ``turn`` (texts without an interviewer: a document's one turn is the whole text). An explicit
    ``exchange`` without questions is an error."""
    has_questions = questions is not None and len(questions) > 0
    if unit == "auto":
        return "exchange" if has_questions else "turn"
    if unit == "exchange" and questions is not None and not has_questions:
        raise PipelineError("topics.unit: exchange, but the texts have no interviewer questions "
                            "(questions.parquet is empty: texts without an interviewer, format.kind: documents)",
                            hint="set topics.unit: turn (a whole text or answer a document) or auto")
    return unit


def build_documents(units: pd.DataFrame, unit: str = "exchange", window: int = 3,
                    questions: pd.DataFrame | None = None, community: str | None = None) -> pd.DataFrame:
    """Documents from respondent units: one per respondent turn (``turn``), one per respondent
    turn with the interviewer's question(s) before it (``exchange``: the question's content
    tokens come first; its text is kept apart in ``question``), or one per run of ``window``
    consecutive sentences of one interview (``window``; the last run may be shorter).

    ``exchange`` is the question-answer pair of semi-structured interviews: the guide's question
    says what the answer is about (a short answer such as "对，就是这样" gets its subject from
    it), the way the coding stage reads a turn in the context of its question. It needs
    ``questions`` (the transcripts stage's ``questions.parquet`` with ``tokens``).

    Returns doc_id (``I001:3`` for a turn or an exchange, ``I001:w2`` for a window), unit_ids
    (";"-joined), question_ids (";"-joined, exchange only, else ""), interview_id, the
    ``community`` column (when given: the units' community id column; None: none), role,
    text (the redacted sentences joined), question (the redacted question text, exchange only),
    tokens (space-joined), n_units, in interview and unit order. ``units`` is not changed.
    """
    missing = [c for c in (*UNITS_NEEDED, *([community] if community else [])) if c not in units.columns]
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
        **({community: g[community].first()} if community else {}),
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

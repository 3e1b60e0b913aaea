"""Documents for topic models: respondent units joined into documents, and their document-term
matrix (the topics stage, docs/topics.md).

:func:`build_documents` joins the respondent units of ``processed/transcripts/units.parquet`` into
documents (``exchange``, ``turn`` or ``window``); :func:`vectorize` counts their content tokens
over a vocabulary (a :class:`Corpus`); :func:`split_holdout` and :func:`cap_documents` choose, with
seeded streams, the documents the K grid is fitted and evaluated on.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.core.digits import rounded
from pipeline.core.errors import PipelineError
from pipeline.core.settings import Vocabulary

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
    joined, first, size = _joined_runs(u["doc_id"], u, {"unit_id": ";", "text": "", "tokens": " "})
    docs = pd.DataFrame({
        "doc_id": first(u["doc_id"]),
        "unit_ids": joined["unit_id"],
        "question_ids": "",
        "interview_id": first(u["interview_id"]),
        **({community: first(u[community])} if community else {}),
        "role": first(u["role"]),
        "text": joined["text"],
        "question": "",
        "tokens": joined["tokens"],
        "n_units": size,
    })
    if unit == "exchange":
        q = _question_frame(questions)
        q = q.assign(doc_id=q["interview_id"].astype(str) + ":" + q["before_turn"].astype(int).astype(str))
        q = q.sort_values(["interview_id", "question"], kind="stable")
        qjoined, qfirst, _ = _joined_runs(q["doc_id"], q, {"question_id": ";", "text": "", "tokens": " "})
        qdocs = pd.DataFrame({"question_ids": qjoined["question_id"], "question": qjoined["text"],
                              "q_tokens": qjoined["tokens"]}, index=pd.Index(qfirst(q["doc_id"]), name="doc_id"))
        m = docs[["doc_id"]].join(qdocs, on="doc_id")
        has = m["question_ids"].notna().to_numpy()
        docs.loc[has, "question_ids"] = m.loc[has, "question_ids"].to_numpy()
        docs.loc[has, "question"] = m.loc[has, "question"].to_numpy()
        docs["tokens"] = [f"{qt} {t}".strip() if isinstance(qt, str) and qt else t
                          for qt, t in zip(m["q_tokens"], docs["tokens"])]
    return docs


def _joined_runs(keys: pd.Series, frame: pd.DataFrame, columns: dict[str, str]):
    """Per key (in order of first appearance, as ``groupby(sort=False)``): each of ``columns``'
    strings joined by its separator in row order (" ": empty strings left out, as tokens are),
    a function giving a column's first value per key, and the number of rows per key. Python's
    str.join over each key's slice: pandas' groupby with a Python aggregation cut 170,000
    one-turn Series out of the benchmark study's units (100 s; now about 1 s)."""
    codes, _ = pd.factorize(keys.to_numpy(), use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    size = np.bincount(codes)
    bounds = np.concatenate(([0], np.cumsum(size)))
    out = {}
    for col, sep in columns.items():
        values = frame[col].to_numpy(dtype=object)[order].tolist()
        if sep == " ":
            out[col] = [sep.join([x for x in values[a:b] if x]) for a, b in zip(bounds[:-1], bounds[1:])]
        else:
            out[col] = [sep.join(values[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

    def first(column: pd.Series) -> np.ndarray:
        return column.to_numpy()[order[bounds[:-1]]]
    return out, first, size


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
    audit: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=AUDIT_COLUMNS))   # what each rule removed


AUDIT_COLUMNS = ["rule", "setting", "n_words", "n_tokens", "examples"]
N_EXAMPLES = 15
SPREADSHEET_ESCAPE = re.compile(r"_x[0-9A-Fa-f]{4}_")
LATIN_CODE = re.compile(r"([A-Za-z]+)[0-9]*|[0-9]+([A-Za-z]+)")


def token_rule(token: str, vocabulary: Vocabulary) -> str | None:
    """The first hygiene rule of ``topics.vocabulary`` that removes ``token`` (None: it stays),
    in this order: ``stopwords``; ``symbols`` (no letter or digit at all, or an underscore, a
    control or format character, or a spreadsheet escape such as ``_x000D_``); ``numbers`` (a
    digit and no letter: 2019, 3.5, 10%, full-width digits too); ``latin_codes`` (ASCII letters
    and digits with at most that many letters: K, K1, L9, 4S; NFKC, so full-width letters too);
    ``min_chars`` (fewer characters, unless in ``keep``). CJK characters count as letters."""
    if token in vocabulary.stopwords:
        return "stopwords"
    norm = unicodedata.normalize("NFKC", token)
    letters = sum(ch.isalpha() for ch in norm)
    if vocabulary.symbols and ("_" in norm or SPREADSHEET_ESCAPE.search(token)
                               or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in norm)
                               or not any(ch.isalnum() for ch in norm)):
        return "symbols"
    if vocabulary.numbers and letters == 0 and any(ch.isdigit() for ch in norm):
        return "numbers"
    code = LATIN_CODE.fullmatch(norm) if norm.isascii() else None
    if vocabulary.latin_codes and code and len(code.group(1) or code.group(2)) <= vocabulary.latin_codes:
        return "latin_codes"
    if len(token) < vocabulary.min_chars and token not in vocabulary.keep:
        return "min_chars"
    return None


def residual_idf(X: sparse.spmatrix, columns: Sequence[int] | None = None) -> np.ndarray:
    """The residual IDF in bits of each word (of ``columns``; None: all; Church & Gale 1995):
    log2 of the number of documents a Poisson word of the same frequency would be in, sum_d (1 - exp(-N_d f_w)) with N_d the
    document's tokens and f_w the word's share of all tokens, over the number it is in. A word
    that comes in bursts, several times in the documents about its subject and not elsewhere
    (工资, 医院, 公司 in messages), is in far fewer documents than that and scores high; a word
    used once here and there whatever the subject (希望, 谢谢, 问题) scores near 0."""
    X = sparse.csc_matrix(X, dtype=np.float64)
    length = np.asarray(X.sum(axis=1)).ravel()
    cols = np.arange(X.shape[1]) if columns is None else np.asarray(columns, dtype=int)
    share = np.asarray(X[:, cols].sum(axis=0)).ravel() / max(length.sum(), 1.0)
    df = np.diff(X.indptr)[cols]
    expected = np.array([-np.expm1(-length * f).sum() for f in share])
    return np.log2(np.divide(expected, df, out=np.ones_like(expected), where=df > 0))


def _audit_row(rule: str, setting: object, words: Sequence[str], freq: Mapping[str, int], examples: bool = True) -> dict:
    top = sorted(words, key=lambda w: (-freq[w], w))
    return {"rule": rule, "setting": str(setting), "n_words": len(words), "n_tokens": int(sum(freq[w] for w in words)),
            "examples": " ".join(top[:N_EXAMPLES]) if examples else ""}


def count_matrix(texts: Sequence[str], vocab: Sequence[str]) -> sparse.csr_matrix:
    """Documents x ``vocab`` counts of the space-separated tokens of ``texts`` (tokens not in
    ``vocab`` ignored): the matrix of scikit-learn's ``CountVectorizer(analyzer=str.split,
    vocabulary=vocab, dtype=np.int64)``, the same values, dtypes (int64 counts, int32 indices)
    and sorted indices (tests/test_topics.py), without importing scikit-learn (2 CPU-s)."""
    index = {w: j for j, w in enumerate(vocab)}
    indptr, indices, data = [0], [], []
    for text in texts:
        counts = Counter(j for j in map(index.get, text.split()) if j is not None)
        for j in sorted(counts):
            indices.append(j)
            data.append(counts[j])
        indptr.append(len(indices))
    return sparse.csr_matrix((np.asarray(data, dtype=np.int64), np.asarray(indices, dtype=np.int32),
                              np.asarray(indptr, dtype=np.int32)), shape=(len(texts), len(vocab)))


def _min_df_counts(texts: list[str], min_df: int | float, n_docs: int) -> tuple[np.ndarray, sparse.csr_matrix]:
    """The words (sorted) in at least ``min_df`` documents (a count, or a share of them) and
    their count matrix: ``CountVectorizer(analyzer=str.split, min_df=min_df)``'s."""
    words = np.asarray(sorted({t for text in texts for t in text.split()}), dtype=object)
    X = count_matrix(texts, words)
    low = min_df if isinstance(min_df, (int, np.integer)) else min_df * len(texts)
    keep = np.flatnonzero(np.diff(X.tocsc().indptr) >= low) if len(words) else np.zeros(0, dtype=int)
    if not len(keep):
        raise PipelineError("topics.vocabulary: no vocabulary left (no word is in min_df documents)",
                            hint=f"{n_docs} documents: lower vocabulary.min_df")
    return words[keep], X[:, keep]


def _doc_frequency_rules(texts: list[str], vocabulary: Vocabulary, n_docs: int) -> tuple[list[str], list[dict]]:
    """min_df, then max_df with its exception for bursty words (``max_df_ridf``), then
    ``max_features``: the vocabulary (sorted) and the audit rows."""
    words, X = _min_df_counts(texts, vocabulary.min_df, n_docs)
    total = Counter(t for s in texts for t in s.split())
    rows = [_audit_row("min_df", vocabulary.min_df, sorted(set(total) - set(words)), total, examples=False)]
    df = np.asarray((X > 0).sum(axis=0)).ravel()
    limit = vocabulary.max_df if isinstance(vocabulary.max_df, int) else vocabulary.max_df * n_docs
    high = np.flatnonzero(df > limit)
    kept_high = (np.zeros(len(high), bool) if vocabulary.max_df_ridf is None
                 else rounded(residual_idf(X, high)) >= vocabulary.max_df_ridf)
    rows.append(_audit_row("max_df", vocabulary.max_df, list(words[high[~kept_high]]), total))
    rows.append(_audit_row("max_df_kept", vocabulary.max_df_ridf, list(words[high[kept_high]]), total))
    keep = np.setdiff1d(np.arange(len(words)), high[~kept_high])
    if vocabulary.max_features is not None and len(keep) > vocabulary.max_features:
        freq = np.asarray(X.sum(axis=0)).ravel()
        order = sorted(keep, key=lambda j: (-freq[j], words[j]))
        rows.append(_audit_row("max_features", vocabulary.max_features,
                               list(words[order[vocabulary.max_features:]]), total))
        keep = np.sort(order[:vocabulary.max_features])
    return sorted(words[keep]), rows


def vectorize(docs: pd.DataFrame, vocabulary: Vocabulary | None = None, min_doc_tokens: int = 1) -> Corpus:
    """Count the documents' content tokens over a vocabulary chosen by the rules of
    ``topics.vocabulary`` (:class:`pipeline.core.settings.Vocabulary`): the token rules of
    :func:`token_rule`; then ``min_df`` (documents, a count or a share); ``max_df`` (a share or a
    count of documents) drops a more common word unless its :func:`residual_idf` is at least
    ``max_df_ridf`` bits (a frequent word that comes in bursts, in the documents of its subject,
    stays; a frequent word used anywhere goes); then the ``max_features`` most frequent. ``audit``: one row per rule
    (rule, setting, n_words and n_tokens removed, the most frequent examples; ``max_df_kept``:
    the frequent words kept; the rare words of ``min_df`` are counted, not listed).
    Documents with fewer than ``min_doc_tokens`` vocabulary tokens are not modelled: they are
    returned in ``flagged`` with the reason."""
    vocabulary = vocabulary or Vocabulary()
    token_lists = [s.split() for s in docs["tokens"]]
    freq = Counter(t for toks in token_lists for t in toks)
    verdict = {t: token_rule(t, vocabulary) for t in freq}
    rows = [_audit_row(rule, getattr(vocabulary, rule) if rule != "stopwords" else len(vocabulary.stopwords),
                       [t for t, r in verdict.items() if r == rule], freq)
            for rule in ("stopwords", "symbols", "numbers", "latin_codes", "min_chars")]
    texts = [" ".join(t for t in toks if verdict[t] is None) for toks in token_lists]
    vocab, more = _doc_frequency_rules(texts, vocabulary, len(docs))
    if not vocab:
        raise PipelineError("topics.vocabulary: no vocabulary left",
                            hint=f"{len(docs)} documents: lower vocabulary.min_df or raise max_df")
    X = count_matrix(texts, vocab)
    n_tok = np.asarray(X.sum(axis=1)).ravel()
    keep = n_tok >= min_doc_tokens
    flagged = docs.loc[~keep, ["doc_id", "unit_ids", "interview_id", "n_units"]].assign(
        n_vocab_tokens=n_tok[~keep],
        reason=np.where(n_tok[~keep] == 0, "no vocabulary token", f"fewer than {min_doc_tokens} vocabulary tokens"))
    kept = docs.loc[keep].assign(n_vocab_tokens=n_tok[keep]).reset_index(drop=True)
    return Corpus(counts=X[keep], vocab=np.asarray(vocab), docs=kept, flagged=flagged.reset_index(drop=True),
                  audit=pd.DataFrame(rows + more, columns=AUDIT_COLUMNS))



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

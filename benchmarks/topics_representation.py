"""Document representations for the topics stage on the labelled real corpora (issue 18): does a
richer representation than the stage's bag of jieba words lift the clustering NMI by 0.10 over
plain LDA / NMF?

    python benchmarks/topics_representation.py --studies DIR [--corpus NAME ...] [--seeds 1 2 3]
           [--methods ...] [--json FILE]

``DIR`` holds one study folder per corpus after the transcripts stage (``benchmarks/topics_real.py
--seeds 1 --k-window 1 --keep DIR``; only its transcripts and ``params.yaml`` are read). Every
representation starts from the stage's own documents (``build_documents`` with the study's
``topics`` settings) and goes through the stage's own ``vectorize`` (its token rules, ``min_df``,
``max_df`` with the bursty-word exception, ``min_doc_tokens``):

* ``words``: the stage's document-term matrix (jieba content words), as modelled today;
* ``words+bi``: the words plus the character bigrams of the redacted text (placeholders such as
  ``[姓名1]`` out; bigrams within runs of CJK characters; a feature ``b:足球`` is apart from the
  word 足球), through the same vocabulary rules;
* ``words+uni+bi``: also the single characters (``c:球``; not the single characters of the
  study's stopword list, 的 了 是 ...); ``words+uni``: words and characters;
* ``uni``, ``bi``: the characters, or the character bigrams, alone.

By default ``words``, ``words+uni`` and ``words+uni+bi``, every method.

On each matrix, at K = the number of labels and study seeds 1-3: the stage's final DMM
(``fit_final``, the study's settings: the generic defaults, one chain with split-merge),
scikit-learn LDA (counts) and NMF (TF-IDF) as in ``topics_real.py`` (``baselines``), and
k-means (``n_init`` 10) on L2-normalised document vectors: ``lsa`` (TF-IDF, truncated SVD to 100 dimensions) and ``ppmi`` (word vectors
from the matrix itself: positive PMI of document co-occurrence with context smoothing 0.75,
truncated SVD to 100 dimensions, U sqrt(S); a document is the TF-IDF-weighted mean of its
features' vectors). ``dmm+ppmi``: the DMM (``fit_dmm``, the study's alpha, beta and sweeps, no
split-merge) started at the ``ppmi`` partition instead of a random one. ``lex``: the same mean
over vectors from jieba's dictionary (:func:`lexicon_char_vectors`: which characters build words
together in 349,046 words; a feature is the mean of its characters), ``lex+ppmi`` both side by
side (``lex+ppmi/sc``: spectral clustering of their 20-nearest-neighbour graph instead of
k-means). ``lac`` is the mean of the character embeddings that jieba ships for its
paddle tagger (``jieba/lac_small/model_baseline/word_emb``, 20,941 x 128; no download).

Scores as in ``topics_real.py``: over all texts, a text a representation leaves out (fewer than
``min_doc_tokens`` features) in one extra cluster; NMI (arithmetic) and purity.
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from common import ROOT

sys.path.insert(0, str(ROOT))

import topics_diagnose as TD  # noqa: E402
import topics_real as TR  # noqa: E402

REPRESENTATIONS = ("words", "words+bi", "words+uni+bi", "words+uni", "uni", "bi")
METHODS = ("dmm", "lda", "nmf", "lsa", "ppmi", "dmm+ppmi", "lex", "lex+ppmi", "lex+ppmi/sc", "lac")
PLACEHOLDER = re.compile(r"\[[^\]]{0,20}\]")
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
DIM = 100
STOP_CHARS = True       # single characters of the study's stopword list are no ``c:`` features


# --------------------------------------------------------------------------------------------
# representations
# --------------------------------------------------------------------------------------------
def char_features(text: str, unigrams: bool, bigrams: bool, stop: frozenset[str] = frozenset()) -> list[str]:
    """``c:`` single characters (not those of ``stop``) and ``b:`` bigrams of the CJK runs of a
    redacted text."""
    out: list[str] = []
    for run in CJK_RUN.findall(PLACEHOLDER.sub(" ", text)):
        if unigrams:
            out += [f"c:{ch}" for ch in run if ch not in stop]
        if bigrams:
            out += [f"b:{run[i:i + 2]}" for i in range(len(run) - 1)]
    return out


def enriched(docs: pd.DataFrame, name: str, stop: frozenset[str] = frozenset()) -> pd.DataFrame:
    """The documents with their tokens replaced by the features of representation ``name``."""
    if name == "words":
        return docs
    words = "words" in name
    uni, bi = "uni" in name, "bi" in name
    tokens = [" ".join((tok.split() if words else []) + char_features(text, uni, bi, stop))
              for tok, text in zip(docs["tokens"], docs["text"])]
    return docs.assign(tokens=tokens)


def representation(study: Path, name: str):
    """The study's settings and the Corpus of representation ``name``, through the stage's own
    ``build_documents`` and ``vectorize``."""
    from pipeline.text.documents import build_documents, resolve_unit, vectorize

    settings, _ = TD.settings_for(study, [])
    settings = replace(settings, n_jobs=1)
    units = pd.read_parquet(study / "processed" / "transcripts" / "units.parquet")
    questions = pd.read_parquet(study / "processed" / "transcripts" / "questions.parquet")
    docs = build_documents(units, resolve_unit(settings.unit, questions), settings.window, questions, None)
    stop = frozenset()
    if STOP_CHARS:
        words = (study / "config" / "stopwords.txt").read_text(encoding="utf-8").split()
        stop = frozenset(w for w in words if len(w) == 1)
    return settings, vectorize(enriched(docs, name, stop), settings.vocabulary, settings.min_doc_tokens)


# --------------------------------------------------------------------------------------------
# document vectors
# --------------------------------------------------------------------------------------------
def tfidf(X: sparse.spmatrix) -> sparse.csr_matrix:
    from sklearn.feature_extraction.text import TfidfTransformer

    return TfidfTransformer().fit_transform(X).tocsr()


def lsa_vectors(X: sparse.spmatrix, seed: int) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD

    T = tfidf(X)
    return TruncatedSVD(min(DIM, min(T.shape) - 1), random_state=seed).fit_transform(T)


def ppmi_word_vectors(X: sparse.spmatrix, seed: int) -> np.ndarray:
    """Word vectors from the matrix itself: PPMI of document co-occurrence (context counts
    raised to 0.75, Levy, Goldberg & Dagan 2015), truncated SVD, U sqrt(S)."""
    from sklearn.decomposition import TruncatedSVD

    B = (sparse.csr_matrix(X) > 0).astype(np.float64)
    C = (B.T @ B).tocoo()
    keep = C.row != C.col
    C = sparse.csr_matrix((C.data[keep], (C.row[keep], C.col[keep])), shape=C.shape)
    w = np.asarray(C.sum(axis=1)).ravel()
    c = w ** 0.75
    total, ctotal = w.sum(), c.sum()
    C = C.tocoo()
    pmi = np.log((C.data / total) / ((w[C.row] / total) * (c[C.col] / ctotal)))
    P = sparse.csr_matrix((np.maximum(pmi, 0), (C.row, C.col)), shape=C.shape)
    P.eliminate_zeros()
    svd = TruncatedSVD(min(DIM, P.shape[0] - 1), random_state=seed)
    U = svd.fit_transform(P)            # U S
    return U / np.sqrt(np.maximum(svd.singular_values_, 1e-12))


def mean_vectors(X: sparse.spmatrix, W: np.ndarray) -> np.ndarray:
    """Each document's TF-IDF-weighted mean of its features' (L2-normalised) vectors."""
    Wn = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)
    return np.asarray(tfidf(X) @ Wn)


LAC = Path("lac_small") / "model_baseline" / "word_emb"


def lac_embeddings() -> tuple[dict[str, int], np.ndarray]:
    """jieba's paddle-tagger character embeddings: a paddle LoDTensor file (29-byte header, then
    20,941 x 128 float32) and its character list ``word.dic`` (id, tab, character)."""
    import jieba

    base = Path(jieba.__file__).parent
    raw = (base / LAC).read_bytes()
    E = np.frombuffer(raw[29:], dtype="<f4").reshape(-1, 128)
    ids = {}
    for line in (base / "lac_small" / "word.dic").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2:
            ids[parts[1]] = int(parts[0])
    return ids, E


def lac_vectors(texts: list[str]) -> np.ndarray:
    ids, E = lac_embeddings()
    En = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    out = np.zeros((len(texts), E.shape[1]))
    for i, text in enumerate(texts):
        rows = [ids[ch] for run in CJK_RUN.findall(PLACEHOLDER.sub(" ", text)) for ch in run if ch in ids]
        if rows:
            out[i] = En[rows].mean(axis=0)
    return out


@functools.lru_cache(maxsize=1)
def lexicon_char_vectors() -> tuple[dict[str, int], np.ndarray]:
    """Character vectors from jieba's dictionary (``jieba/dict.txt``: 349,046 words with their
    frequency in a large corpus): two characters co-occur when they are in one word (weight
    log(1 + frequency)); PPMI with context smoothing 0.75, truncated SVD to ``DIM``, U sqrt(S). The
    characters that build words with the same characters come together (球: 乒乓 篮 赛 羽 泳;
    股: 券 份 汇 价 资 票 证 债)."""
    import jieba
    from sklearn.decomposition import TruncatedSVD

    chars: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for line in (Path(jieba.__file__).parent / "dict.txt").read_text(encoding="utf-8").splitlines():
        word, freq = line.split(" ")[:2]
        ids = [chars.setdefault(ch, len(chars)) for ch in word if CJK_RUN.fullmatch(ch)]
        for i in ids:
            for j in ids:
                if i != j:
                    rows.append(i)
                    cols.append(j)
                    vals.append(np.log1p(float(freq)))
    C = sparse.coo_matrix((vals, (rows, cols)), shape=(len(chars), len(chars))).tocsr().tocoo()
    w = np.asarray(C.sum(axis=1)).ravel()
    c = w ** 0.75
    pmi = np.log((C.data / w.sum()) / ((w[C.row] / w.sum()) * (c[C.col] / c.sum())))
    P = sparse.csr_matrix((np.maximum(pmi, 0), (C.row, C.col)), shape=C.shape)
    P.eliminate_zeros()
    svd = TruncatedSVD(DIM, random_state=0)
    return chars, svd.fit_transform(P) / np.sqrt(svd.singular_values_)


def lexicon_vectors(vocab: np.ndarray) -> np.ndarray:
    """Each feature's vector: the mean of its characters' :func:`lexicon_char_vectors`
    (L2-normalised); zero when none of its characters is in the dictionary."""
    chars, U = lexicon_char_vectors()
    Un = U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)
    W = np.zeros((len(vocab), U.shape[1]))
    for i, feature in enumerate(vocab):
        rows = [chars[ch] for ch in re.sub(r"^[cb]:", "", feature) if ch in chars]
        if rows:
            W[i] = Un[rows].mean(axis=0)
    return W


def unit_rows(V: np.ndarray) -> np.ndarray:
    return V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)


def kmeans(V: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=10, random_state=seed).fit_predict(unit_rows(V))


def spectral(V: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Spectral clustering of the 20-nearest-neighbour graph of the (L2-normalised) vectors."""
    from sklearn.cluster import SpectralClustering

    return SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=20, random_state=seed,
                              assign_labels="cluster_qr").fit_predict(unit_rows(V))


# --------------------------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------------------------
def clusters(method: str, corpus, settings, k: int, seed: int) -> np.ndarray:
    from pipeline.text.topicmodel import fit_dmm, fit_final

    X = corpus.counts
    if method == "dmm":
        return fit_final(X, "dmm", k, seed, settings)[0].doc_topic.argmax(axis=1)
    if method in ("lda", "nmf"):
        return TR.baselines(X, k, seed)[method]
    if method == "lsa":
        return kmeans(lsa_vectors(X, seed), k, seed)
    if method == "ppmi":
        return kmeans(mean_vectors(X, ppmi_word_vectors(X, seed)), k, seed)
    if method == "dmm+ppmi":
        start = kmeans(mean_vectors(X, ppmi_word_vectors(X, seed)), k, seed)
        return fit_dmm(X, k, seed, settings.dmm_alpha, settings.dmm_beta, settings.dmm_n_iter, init=start)[2]
    if method == "lex":
        return kmeans(mean_vectors(X, lexicon_vectors(corpus.vocab)), k, seed)
    if method in ("lex+ppmi", "lex+ppmi/sc"):
        V = np.hstack([unit_rows(mean_vectors(X, lexicon_vectors(corpus.vocab))),
                       unit_rows(mean_vectors(X, ppmi_word_vectors(X, seed)))])
        return kmeans(V, k, seed) if method == "lex+ppmi" else spectral(V, k, seed)
    if method == "lac":
        return kmeans(lac_vectors(list(corpus.docs["text"])), k, seed)
    raise SystemExit(f"error: --methods: unknown method {method!r}; use {', '.join(METHODS)}")


def run_corpus(name: str, study: Path, seeds: list[int], reps: list[str], methods: list[str]) -> list[dict]:
    texts = TR.read_fixture(name)
    ids = {f"d{i}": j for j, i in enumerate(texts["id"])}
    every = texts["label"].to_numpy()
    k = texts["label"].nunique()
    rows = []
    for rep in reps:
        settings, corpus = representation(study, rep)
        modelled = corpus.docs["interview_id"].map(ids).to_numpy()
        for method in methods:
            if method == "lac" and rep != "words":
                continue
            start = time.perf_counter()
            got = [TR.scores(every, TR.all_texts(len(texts), modelled, clusters(method, corpus, settings, k, s)))
                   for s in seeds]
            rows.append({"corpus": name, "representation": rep, "method": method, "n_docs": corpus.counts.shape[0],
                         "n_features": corpus.counts.shape[1], "nmi": [g["nmi"] for g in got],
                         "purity": [g["purity"] for g in got], "seconds": time.perf_counter() - start})
            r = rows[-1]
            print(f"{name:16s} {rep:13s} {method:5s} docs {r['n_docs']:4d} features {r['n_features']:5d} "
                  f"NMI {TR.spread(r['nmi'])} purity {TR.spread(r['purity'])} {r['seconds']:.0f} s", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    out = []
    for name in dict.fromkeys(r["corpus"] for r in rows):
        mine = [r for r in rows if r["corpus"] == name]
        same = {}
        for r in mine:
            if r["method"] in ("lda", "nmf"):
                same[r["representation"]] = max(same.get(r["representation"], -1.0), float(np.mean(r["nmi"])))
        base = same.get("words", float("nan"))
        out += [f"\n{name} (best plain-word baseline {base:.3f}; target {base + 0.10:.3f})",
                "| representation | method | docs | features | NMI mean [min, max] | purity | − best plain-word baseline "
                "| − best baseline on this matrix |", "|---|---|---|---|---|---|---|---|"]
        out += [f"| {r['representation']} | {r['method']} | {r['n_docs']} | {r['n_features']} | {TR.spread(r['nmi'])} | "
                f"{TR.spread(r['purity'])} | {np.mean(r['nmi']) - base:+.3f} | "
                f"{np.mean(r['nmi']) - same.get(r['representation'], float('nan')):+.3f} |" for r in mine]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=Path, required=True)
    ap.add_argument("--corpus", nargs="+", default=list(TR.CORPORA))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--representations", nargs="+", default=["words", "words+uni", "words+uni+bi"],
                    choices=REPRESENTATIONS)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = []
    for name in args.corpus:
        rows += run_corpus(name, args.studies / name, args.seeds, args.representations, args.methods)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

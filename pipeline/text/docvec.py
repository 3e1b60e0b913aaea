"""Document vectors clustered: the topics stage's opt-in method ``models: [docvec]`` (issue 18;
docs/topics.md, "Document vectors clustered").

A document is the TF-IDF-weighted mean of its features' vectors, two kinds side by side (each
L2-normalised, then the whole row): word vectors learnt from the corpus itself
(:func:`ppmi_word_vectors`: positive PMI of two features being in one document, truncated SVD)
and character vectors from jieba's dictionary (:func:`lexicon_char_vectors`: which characters
build words together in its 349,046 words; a feature is the mean of its characters). The
features are the stage's vocabulary words and, with ``docvec.characters``, the CJK characters of
each document's content words (``c:球``: 足球, 球队 and 球员 then share one), through the same
vocabulary rules (:func:`pipeline.text.documents.vectorize`). No labels and no network: the
dictionary ships with jieba.

Clusters: spectral clustering of the documents' ``n_neighbors``-nearest-neighbour graph (the
connectivity graph made symmetric, (A + A') / 2; the normalised Laplacian's eigenvectors by
scikit-learn's ``spectral_embedding``; partitions by the QR-pivoting assignment of Damle, Minden &
Ying 2019, ``cluster_qr``, which needs no random start). K by the stage's grid and seed runs
(:func:`evaluate_grid`): each run clusters its own seeded subsample at every K of ``k_grid``
(one eigendecomposition per run); its evidence is the modularity of its partition on its
neighbour graph (:func:`modularity`: the graph's weight inside the clusters less what chance
would put there), reported beside the mean silhouette (cosine) of its clusters in the
document-vector space and the stability of its partition (the mean adjusted Rand index to the
other runs' partitions over the documents both clustered); the stage's rule
(:mod:`pipeline.text.topicselect`, ``rule="best"``, criterion ``modularity``) takes the K of the
largest mean modularity over the seed runs. Modularity has its maximum inside the grid (too few
clusters keep apart groups together, too many cut through dense parts), so the K does not follow
the grid's end as the silhouette's band did (docs/topics.md, "Document vectors clustered"). A cluster's word
distribution is its documents' word counts smoothed by ``docvec.beta``: the topic-word rows
from which the stage's top and FREX words, coherence, exclusivity and exemplars come.
"""
from __future__ import annotations

import functools
import re
import warnings
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.core.parallel import run_tasks
from pipeline.text.documents import Corpus, cap_documents, split_holdout, vectorize
from pipeline.text.topicmetrics import RUN_COLUMNS, check_grid, exclusivity, npmi_coherence, subsample_rows
from pipeline.text.topicmodel import Settings, TopicFit, run_seed

CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
CHAR = "c:"                  # the prefix of a character feature
STREAM_VECTORS = 77          # SeedSequence stream of the corpus word vectors' SVD
CRITERIA = ("modularity",)   # the docvec family's score (topics.selection.criteria is the mixture models')
DENSE_MAX = 3000             # documents up to which the spectral embedding is solved densely (spectral_maps)


# --------------------------------------------------------------------------------------------
# features and vectors
# --------------------------------------------------------------------------------------------
def with_characters(docs: pd.DataFrame) -> pd.DataFrame:
    """The documents with ``c:`` character features after their tokens: every CJK character of
    every content token (the transcripts stage's tokens: its stopwords and punctuation already out)."""
    tokens = [" ".join([*t.split(), *(f"{CHAR}{ch}" for run in CJK_RUN.findall(t) for ch in run)])
              for t in docs["tokens"]]
    return docs.assign(tokens=tokens)


def word_columns(vocab: np.ndarray) -> np.ndarray:
    """The indices of the vocabulary's words (not ``c:`` character features)."""
    return np.flatnonzero([not str(v).startswith(CHAR) for v in vocab])


def docvec_corpus(docs: pd.DataFrame, settings: Settings) -> tuple[Corpus, Corpus]:
    """The corpus the vectors are made of (words and, with ``docvec.characters``, their
    characters; through ``vectorize``'s rules and ``min_doc_tokens``) and its word view (the same
    documents, the word columns only; what the topic words, exemplars and coherence are read
    from). The audit is of the words and characters together."""
    feats = vectorize(with_characters(docs) if settings.docvec.characters else docs, settings.vocabulary,
                      settings.min_doc_tokens)
    cols = word_columns(feats.vocab)
    return feats, replace(feats, counts=sparse.csr_matrix(feats.counts)[:, cols], vocab=feats.vocab[cols])


def tfidf(X: sparse.spmatrix) -> sparse.csr_matrix:
    from sklearn.feature_extraction.text import TfidfTransformer

    return TfidfTransformer().fit_transform(X).tocsr()


def unit_rows(V: np.ndarray) -> np.ndarray:
    return V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)


def ppmi_svd(C: sparse.spmatrix, dim: int, seed: int) -> np.ndarray:
    """Vectors of a co-occurrence matrix: positive PMI with context counts raised to 0.75 (Levy,
    Goldberg & Dagan 2015), truncated SVD (randomised, ``random_state`` = seed), U sqrt(S)."""
    from sklearn.decomposition import TruncatedSVD

    C = sparse.coo_matrix(C)
    w = np.asarray(C.sum(axis=1)).ravel()
    c = w ** 0.75
    pmi = np.log((C.data / w.sum()) / ((w[C.row] / w.sum()) * (c[C.col] / c.sum())))
    P = sparse.csr_matrix((np.maximum(pmi, 0), (C.row, C.col)), shape=C.shape)
    P.eliminate_zeros()
    svd = TruncatedSVD(max(1, min(dim, P.shape[0] - 1)), random_state=seed)
    return svd.fit_transform(P) / np.sqrt(np.maximum(svd.singular_values_, 1e-12))


def ppmi_word_vectors(X: sparse.spmatrix, dim: int, seed: int) -> np.ndarray:
    """Feature vectors from the corpus itself: :func:`ppmi_svd` of document co-occurrence (two
    features in one document; a feature with itself not counted)."""
    B = (sparse.csr_matrix(X) > 0).astype(np.float64)
    C = (B.T @ B).tocoo()
    off = C.row != C.col
    return ppmi_svd(sparse.coo_matrix((C.data[off], (C.row[off], C.col[off])), shape=C.shape), dim, seed)


def _position_pairs(ids: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered pair of distinct positions (i, j) within each word of ``ids`` (the words'
    character ids one after another, ``lens`` long): the row and column character ids and the
    word's number, word by word in order, i then j (the order of the loop
    ``for i: for j: if i != j``, so the sparse matrix sums its duplicates in the same order)."""
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    rows, cols, word, pos = [], [], [], []
    for L in np.unique(lens):
        w = np.flatnonzero(lens == L)
        ii, jj = np.nonzero(~np.eye(L, dtype=bool))                  # row-major: i, then j
        rows.append(ids[starts[w][:, None] + ii].ravel())
        cols.append(ids[starts[w][:, None] + jj].ravel())
        word.append(np.repeat(w, len(ii)))
        pos.append(np.tile(np.arange(len(ii)), len(w)))
    word_all, pos_all = np.concatenate(word), np.concatenate(pos)
    order = np.lexsort((pos_all, word_all))
    return np.concatenate(rows)[order], np.concatenate(cols)[order], word_all[order]


@functools.lru_cache(maxsize=2)
def lexicon_char_vectors(dim: int = 100) -> tuple[dict[str, int], np.ndarray]:
    """Character vectors from jieba's dictionary (``jieba/dict.txt``: 349,046 words with their
    frequency in a large corpus): two characters co-occur when they are in one word (weight
    log(1 + frequency), every ordered pair of distinct positions); :func:`ppmi_svd` (seed 0).
    Characters that build words with the same characters come together (球: 乒乓 篮 赛 羽 泳;
    股: 券 份 汇 价 资 票 证 债). The same vectors in every study: the dictionary is jieba's."""
    import jieba

    chars: dict[str, int] = {}
    ids: list[int] = []
    lens: list[int] = []
    freqs: list[float] = []
    for line in (Path(jieba.__file__).parent / "dict.txt").read_text(encoding="utf-8").splitlines():
        word, freq = line.split(" ")[:2]
        mine = [chars.setdefault(ch, len(chars)) for run in CJK_RUN.findall(word) for ch in run]
        if len(mine) >= 2:
            ids += mine
            lens.append(len(mine))
            freqs.append(float(freq))
    rows, cols, word = _position_pairs(np.array(ids), np.array(lens))
    C = sparse.coo_matrix((np.log1p(np.array(freqs))[word], (rows, cols)), shape=(len(chars), len(chars))).tocsr()
    return chars, ppmi_svd(C, dim, 0)


def lexicon_vectors(vocab: np.ndarray, dim: int) -> np.ndarray:
    """Each feature's vector: the mean of its characters' :func:`lexicon_char_vectors`
    (L2-normalised); zero when none of its characters is in the dictionary (Latin words)."""
    chars, U = lexicon_char_vectors(dim)
    Un = unit_rows(U)
    W = np.zeros((len(vocab), U.shape[1]))
    for i, feature in enumerate(vocab):
        rows = [chars[ch] for ch in str(feature).removeprefix(CHAR) if ch in chars]
        if rows:
            W[i] = Un[rows].mean(axis=0)
    return W


def document_vectors(corpus: Corpus, settings: Settings, seed: int) -> np.ndarray:
    """Each document's vector (D x dim or 2 dim, rows L2-normalised): the TF-IDF-weighted mean of
    its features' corpus word vectors (:func:`ppmi_word_vectors`, the SVD's random state a stream
    of the study seed) and, with ``docvec.lexicon``, of their :func:`lexicon_vectors`, each kind
    normalised before they are put side by side."""
    X, dim = corpus.counts, settings.docvec.dim
    T = tfidf(X)
    state = int(np.random.SeedSequence([seed, STREAM_VECTORS]).generate_state(1)[0] % (2**31 - 1))
    parts = [unit_rows(np.asarray(T @ unit_rows(ppmi_word_vectors(X, dim, state))))]
    if settings.docvec.lexicon:
        parts.insert(0, unit_rows(np.asarray(T @ unit_rows(lexicon_vectors(corpus.vocab, dim)))))
    return unit_rows(np.hstack(parts))


# --------------------------------------------------------------------------------------------
# spectral clustering
# --------------------------------------------------------------------------------------------
def neighbour_graph(V: np.ndarray, n_neighbors: int) -> sparse.csr_matrix:
    """The documents' ``n_neighbors``-nearest-neighbour graph, (A + A') / 2 of the connectivity
    graph with each document its own neighbour (scikit-learn's
    ``SpectralClustering(affinity="nearest_neighbors")``): weights 1 (both ways) and 1/2 (one way)."""
    from sklearn.neighbors import kneighbors_graph

    A = kneighbors_graph(V, min(n_neighbors, V.shape[0] - 1), include_self=True)
    return sparse.csr_matrix(0.5 * (A + A.T))


def spectral_maps(A: sparse.spmatrix, n_components: int, random_state: int) -> np.ndarray:
    """The first ``n_components`` eigenvectors of the normalised Laplacian of the graph ``A``
    (:func:`neighbour_graph`), each divided by the square root of its document's degree as
    scikit-learn's ``spectral_embedding`` returns them. The first K columns are the embedding of
    K clusters. Up to ``DENSE_MAX`` documents by LAPACK's dense symmetric solver (no start
    vector; ARPACK, scikit-learn's default, took 336 s instead of 10 on 450 headlines whose
    10-neighbour graph falls apart: a repeated eigenvalue 0), above it by ARPACK from a start
    vector of ``random_state``."""
    from scipy.linalg import eigh
    from scipy.sparse.csgraph import laplacian

    if A.shape[0] > DENSE_MAX:
        from sklearn.manifold import spectral_embedding

        with warnings.catch_warnings():          # "Graph is not fully connected": the clusters are the parts
            warnings.simplefilter("ignore", UserWarning)
            return spectral_embedding(A, n_components=n_components, random_state=random_state, drop_first=False)
    L, dd = laplacian(A.toarray(), normed=True, return_diag=True)
    _, U = eigh(L, subset_by_index=[0, n_components - 1])
    return U / dd[:, None]


def modularity(A: sparse.spmatrix, labels: np.ndarray) -> float:
    """Newman's modularity of a partition of the weighted graph ``A`` (symmetric):
    Q = Σ_c [w_cc / w - (d_c / w)²], w_cc the weight of the edges within cluster c (both
    directions), d_c its documents' degrees summed, w the total (Newman 2006; networkx's
    ``modularity`` with resolution 1). The share of the graph's weight inside the clusters less
    what clusters of the same degrees would hold by chance: 0 for one cluster, lower when a
    cluster is cut through a dense part of the graph (too many clusters) or when two groups that
    barely link are kept together (too few)."""
    A = sparse.csr_matrix(A)
    k = int(labels.max()) + 1
    member = sparse.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)), labels)), shape=(len(labels), k))
    within = (member.T @ A @ member).diagonal()
    degree = np.asarray(member.T @ A.sum(axis=1)).ravel()
    total = float(A.sum())
    return float((within / total - (degree / total) ** 2).sum())


def cluster_qr(maps: np.ndarray) -> np.ndarray:
    """Clusters (0-based) of a spectral embedding of K columns by QR with column pivoting
    (Damle, Minden & Ying 2019; scikit-learn's ``assign_labels="cluster_qr"``): deterministic."""
    from scipy.linalg import qr, svd

    k = maps.shape[1]
    _, _, piv = qr(maps.T, pivoting=True)
    ut, _, v = svd(maps[piv[:k], :].T)
    return np.abs(maps @ (ut @ v.conj())).argmax(axis=1)


def partition_fit(words: sparse.spmatrix, labels: np.ndarray, k: int, beta: float) -> TopicFit:
    """A partition as a topic model: topic-word rows (n_kw + beta) / (n_k + V beta) from its
    documents' word counts; document proportions one-hot (a hard clustering)."""
    X = sparse.csr_matrix(words, dtype=np.float64)
    member = sparse.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, X.shape[0]))
    nkw = np.asarray((member @ X).todense())
    tw = (nkw + beta) / (nkw.sum(axis=1, keepdims=True) + X.shape[1] * beta)
    return TopicFit("docvec", k, tw, np.eye(k)[labels])


def silhouette(V: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette (cosine distance) of a partition; 0 for one cluster."""
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(V, labels, metric="cosine")) if len(np.unique(labels)) > 1 else 0.0


# --------------------------------------------------------------------------------------------
# the K grid and the final partition
# --------------------------------------------------------------------------------------------
def _grid_run(r: int, *, V: np.ndarray, words: sparse.csr_matrix, whole: sparse.spmatrix, rows: list[np.ndarray],
              seed: int, settings: Settings) -> list[dict[str, Any]]:
    """Seed run ``r``: its documents' neighbour graph and spectral embedding (one
    eigendecomposition for the largest K), then every K of the grid: the partition (documents of
    the run), its modularity on the run's graph (the rule's criterion) and silhouette, and the
    NPMI coherence (over the whole corpus) and exclusivity of its clusters' top words."""
    mine = rows[r]
    A = neighbour_graph(V[mine], settings.docvec.n_neighbors)
    maps = spectral_maps(A, max(settings.k_grid), run_seed(seed, r))
    out = []
    for k in settings.k_grid:
        labels = cluster_qr(maps[:, :k])
        fit = partition_fit(words[mine], labels, k, settings.docvec.beta)
        # top_word_indices's order without its rounding (the slow part here): within a topic the
        # order of (n_kw + beta) / (n_k + V beta) is that of the counts, and equal counts are equal
        top = np.argsort(-fit.topic_word, axis=1, kind="stable")[:, :settings.top_n]
        out.append({"k": k, "labels": labels, "modularity": modularity(A, labels), "silhouette": silhouette(V[mine], labels),
                    "coherence_npmi": float(npmi_coherence(top, whole).mean()),
                    "exclusivity": float(exclusivity(fit.topic_word, settings.top_n, top).mean())})
    return out


def partition_stability(parts: list[np.ndarray], rows: list[np.ndarray], n: int) -> np.ndarray:
    """Each run's stability: the mean adjusted Rand index of its partition to every other run's,
    over the documents both runs clustered (NaN for a single run)."""
    from sklearn.metrics import adjusted_rand_score

    m = len(parts)
    if m < 2:
        return np.full(m, np.nan)
    full = np.full((m, n), -1)
    for i, (p, r) in enumerate(zip(parts, rows)):
        full[i, r] = p
    sim = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            both = (full[i] >= 0) & (full[j] >= 0)
            sim[i, j] = sim[j, i] = adjusted_rand_score(full[i, both], full[j, both])
    return sim.sum(axis=1) / (m - 1)


def evaluate_grid(words: Corpus, V: np.ndarray, settings: Settings, seed: int) -> pd.DataFrame:
    """The docvec family's seed runs, in the stage's run format (``k_runs.csv``): every document
    (no held-out share: nothing is predicted; at most ``grid_max_docs``, a seeded sample), run r on
    its own seeded subsample (``subsample``, as the mixture models' runs) clustered at every K;
    one row per (K, run): coherence_npmi, exclusivity, stability (:func:`partition_stability`),
    perplexity (NaN), modularity (:func:`modularity`, on the run's graph) and silhouette. The runs go through the project's parallel path
    (``n_jobs``); the same rows for any n_jobs."""
    n = words.counts.shape[0]
    docs, _ = cap_documents(np.arange(n), np.arange(0), settings.grid_max_docs, seed)
    check_grid(settings.k_grid, len(docs), len(words.vocab), settings.min_docs_per_topic)
    rows = [docs[subsample_rows(len(docs), settings.subsample, seed, r)] for r in range(settings.seeds)]
    X = sparse.csr_matrix(words.counts)
    done = run_tasks(partial(_grid_run, V=V, words=X, whole=X, rows=rows, seed=seed, settings=settings),
                     list(range(settings.seeds)), settings.parallel)
    out = []
    for j, k in enumerate(settings.k_grid):
        stab = partition_stability([d[j]["labels"] for d in done], rows, n)
        out += [{"model": "docvec", "k": k, "run": r + 1, "coherence_npmi": d[j]["coherence_npmi"],
                 "exclusivity": d[j]["exclusivity"], "stability": float(stab[r]), "perplexity": float("nan"),
                 "modularity": d[j]["modularity"], "silhouette": d[j]["silhouette"]} for r, d in enumerate(done)]
    return pd.DataFrame(out, columns=[*RUN_COLUMNS, *CRITERIA, "silhouette"])


def fit_final(words: Corpus, V: np.ndarray, k: int, seed: int, settings: Settings) -> tuple[TopicFit, pd.DataFrame]:
    """The chosen K on every document: the spectral embedding of all documents (random state
    :func:`run_seed` (seed, 0)), its QR partition, :func:`partition_fit`; and the stage's one
    ``final_chains.csv`` row (no likelihood: log_posterior NaN)."""
    state = run_seed(seed, 0)
    labels = cluster_qr(spectral_maps(neighbour_graph(V, settings.docvec.n_neighbors), k, state))
    fit = partition_fit(words.counts, labels, k, settings.docvec.beta)
    chains = pd.DataFrame([{"chain": 1, "random_state": state, "n_docs": int(V.shape[0]), "log_posterior": float("nan"),
                            "n_topics_used": int(len(np.unique(labels))), "chosen": True}])
    return fit, chains

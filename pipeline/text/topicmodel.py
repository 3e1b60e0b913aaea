"""Topic models of short documents: fitting, the chosen model's tables, and prevalence effects
(the topics stage, docs/topics.md).

:func:`fit_topics` fits DMM (:func:`fit_dmm`, one topic per document, collapsed Gibbs sampling
with split-merge moves), LDA (batch variational Bayes) or NMF (on TF-IDF); :func:`fit_final`
refits the chosen (model, K) on all documents (DMM: several chains, the most probable kept).
:func:`order_by_prevalence`, :func:`topic_table`, :func:`doc_topic_frame` and :func:`exemplars`
describe the chosen model; :func:`prevalence_effects` regresses each topic's document
proportion on the covariates with community-clustered errors (stm's ``estimateEffect``).
The evidence for K (coherence, exclusivity, FREX, stability) and the selection rule are in
:mod:`pipeline.text.topicmetrics`; the documents in :mod:`pipeline.text.documents`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import sparse

from pipeline.core import config
from pipeline.core.digits import rounded
from pipeline.core.errors import PipelineError
from pipeline.core.parallel import ParallelSettings, run_tasks
from pipeline.core.schema import parse
from pipeline.core.settings import Docvec, Topics, Vocabulary
from pipeline.stats.distributions import norm_ppf, t_ppf
from pipeline.stats.fit import fit_model
from pipeline.stats.frame import formula_variables
from pipeline.text.documents import Corpus

MODELS = ("dmm", "lda", "nmf")      # the mixture models; "docvec" is pipeline.text.docvec
STREAM_FIT = 72         # SeedSequence stream of the model fits (run r gets spawn key r)
STREAM_CHAINS = 75      # ... of the documents the final DMM chains run on (dmm.chain_max_docs)
DOC_COLUMNS = ("doc_id", "unit_ids", "interview_id", "role", "n_vocab_tokens", "topic")   # and the community column
CLUSTER_COVARIANCES = ("cluster", "cluster_hc0", "cluster_cr2")
COEF_COLUMNS = ["topic", "term", "estimate", "se", "statistic", "df", "p", "ci_low", "ci_high"]
LEVEL_COLUMNS = ["topic", "factor", "level", "estimate", "se", "ci_low", "ci_high"]


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """``params.yaml: topics`` as the computation reads it; made by :func:`parse_settings` (the
    defaults are written once, in :class:`pipeline.core.settings.Topics`)."""

    unit: str
    window: int
    min_doc_tokens: int
    vocabulary: Vocabulary
    models: tuple[str, ...]
    k_grid: tuple[int, ...]
    seeds: int
    holdout: float
    min_docs_per_topic: int
    top_n: int
    lda_max_iter: int
    lda_doc_topic_prior: float | None
    lda_topic_word_prior: float | None
    nmf_init: str
    nmf_loss: str
    subsample: float
    grid_max_docs: int | None
    nmf_max_iter: int
    nmf_tol: float
    dmm_alpha: float
    dmm_beta: float
    dmm_n_iter: int
    dmm_restarts: int
    dmm_split_merge: int
    dmm_chain_max_docs: int | None
    docvec: Docvec
    criteria: tuple[str, ...]
    min_stability: float
    fixed_model: str | None
    fixed_k: int | None
    frex_weight: float
    n_words: int
    n_exemplars: int
    formula: str   # prevalence covariates (params.yaml: topics.prevalence.formula); "1": overall only
    covariance: str | None   # None: cluster when there is a cluster, else hc1
    cluster: str | None   # None: the texts' community column, when they have one
    factors: tuple[str, ...]   # factors of the predicted prevalence by level (study variables: params.yaml)
    conf_level: float
    labels: str | None
    n_jobs: int
    serial_below_s: float = ParallelSettings.serial_below_s   # params.yaml: parallel (where the tasks start)

    @property
    def parallel(self) -> ParallelSettings:
        """Where the K grid's fits and the final chains run (``n_jobs`` local processes)."""
        return ParallelSettings(backend="loky", n_jobs=self.n_jobs, serial_below_s=self.serial_below_s)



def parse_settings(section: Mapping[str, Any] | Topics | None = None, **changes: Any) -> Settings:
    """:class:`Settings` from ``params.yaml: topics``, checked (types, ranges, unknown keys) and
    with its defaults filled by the one description of the section,
    :class:`pipeline.core.settings.Topics`; then ``changes`` (tests, benchmarks)."""
    s = section if isinstance(section, Topics) else parse(Topics, dict(section or {}), "topics")
    voc, dmm, lda, nmf, sel, prev = s.vocabulary, s.dmm, s.lda, s.nmf, s.selection, s.prevalence
    return replace(Settings(
        unit=s.unit, window=s.window, min_doc_tokens=s.min_doc_tokens,
        vocabulary=voc,
        models=tuple(s.models), k_grid=tuple(sorted(set(s.k_grid))), seeds=s.seeds, holdout=float(s.holdout),
        min_docs_per_topic=s.min_docs_per_topic, top_n=s.top_n,
        lda_max_iter=lda.max_iter, lda_doc_topic_prior=lda.doc_topic_prior, lda_topic_word_prior=lda.topic_word_prior,
        nmf_init=nmf.init, nmf_loss=nmf.loss, subsample=float(s.subsample), grid_max_docs=s.grid_max_docs,
        nmf_max_iter=nmf.max_iter, nmf_tol=float(nmf.tol),
        dmm_alpha=float(dmm.alpha), dmm_beta=float(dmm.beta), dmm_n_iter=dmm.n_iter, dmm_restarts=dmm.restarts,
        dmm_split_merge=dmm.split_merge, dmm_chain_max_docs=dmm.chain_max_docs, docvec=s.docvec,
        criteria=tuple(sel.criteria), min_stability=float(sel.min_stability), fixed_model=sel.model,
        fixed_k=sel.fixed_k, frex_weight=float(s.frex_weight), n_words=s.n_words, n_exemplars=s.n_exemplars,
        formula=prev.formula, covariance=prev.covariance, cluster=prev.cluster, factors=tuple(prev.factors),
        conf_level=float(prev.conf_level), labels=s.labels, n_jobs=s.n_jobs,
    ), **changes)


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
    """Fit LDA (batch variational Bayes on counts: scikit-learn's, compiled, :mod:`pipeline.text.ldavb`) or NMF
    on L2-normalised TF-IDF (Kullback-Leibler loss: scikit-learn's multiplicative updates, compiled,
    :mod:`pipeline.text.nmfkl`; Frobenius: scikit-learn's coordinate descent) with ``k`` topics. NMF's topic-word rows are its normalised H rows; its document
    proportions the normalised W rows (a document with W = 0 gets 1/k each)."""
    import warnings      # scikit-learn (2 CPU-s to import) only for the models that use it

    if model == "lda":
        from pipeline.text.ldavb import fit_lda      # numba: imported by the stages that fit

        lda = fit_lda(X, k, random_state, settings.lda_max_iter, settings.lda_doc_topic_prior,
                      settings.lda_topic_word_prior, X_test)
        return TopicFit(model, k, _normalise_rows(lda.components), _normalise_rows(lda.doc_topic), lda.perplexity)
    if model == "nmf":
        from pipeline.text.nmfkl import fit_nmf_kl, tfidf as tfidf_l2   # scikit-learn's TF-IDF, ported

        tfidf = tfidf_l2(X)
        if settings.nmf_loss == "kullback-leibler":      # scikit-learn's updates, compiled (pipeline/text/nmfkl.py)
            W, H, _ = fit_nmf_kl(tfidf, k, settings.nmf_init, random_state, settings.nmf_max_iter, settings.nmf_tol)
            return TopicFit(model, k, _normalise_rows(H), _normalise_rows(W))
        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning

        nmf = NMF(n_components=k, init=settings.nmf_init, random_state=random_state,
                  max_iter=settings.nmf_max_iter, tol=settings.nmf_tol, beta_loss=settings.nmf_loss, solver="cd")
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


def fit_dmm(X: sparse.spmatrix, k: int, random_state: int, alpha: float = 0.1, beta: float = 0.1,
            n_iter: int = 30, split_merge: int = 0,
            init: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dirichlet multinomial mixture for short texts by collapsed Gibbs sampling (GSDMM, Yin &
    Wang 2014): every document has ONE topic z_d; pi ~ Dirichlet(alpha), phi_k ~ Dirichlet(beta).

    Start: z_d uniform at random (or ``init``, 0-based topics); then ``n_iter`` sweeps over the documents in order, each z_d
    drawn from p(z_d = k | z_-d, words) proportional to
    (m_k + alpha) prod_w prod_{j<c_dw} (n_kw + beta + j) / prod_{i<N_d} (n_k + V beta + i)
    (counts without document d; all K topics at once). Then up to ``split_merge`` rounds of one
    greedy split-merge move (:func:`pipeline.text.gsdmm.split_merge`, taken only if it raises the collapsed log
    joint) followed by ``max(2, n_iter // 4)`` sweeps; the rounds stop at the first round without
    a move. The random numbers come from ``numpy.random.default_rng(random_state)`` only, so a fit
    is reproducible to the bit.

    Returns the topic-word distributions phi_kw = (n_kw + beta) / (n_k + V beta) (K x V), the
    topic shares pi_k = (m_k + alpha) / (D + K alpha) and the last assignments z (0-based).
    A topic left with no document keeps the flat phi = 1/V.
    """
    from pipeline.text.gsdmm import DMMDocs, DMMState, gibbs_sweeps       # numba: imported by the stages that fit
    from pipeline.text.gsdmm import split_merge as gsdmm_split_merge

    X = sparse.csr_matrix(X)
    n, V = X.shape
    rng = np.random.default_rng(random_state)
    data = DMMDocs.of(X, alpha, beta)
    z = rng.integers(0, k, size=n) if init is None else np.asarray(init, dtype=np.int64).copy()
    st = DMMState(k, V)
    order = np.arange(n)
    st.add(order, z, data)
    gibbs_sweeps(order, z, st, data, n_iter, rng)
    for _ in range(split_merge):
        if not gsdmm_split_merge(z, st, data, rng):
            break
        gibbs_sweeps(order, z, st, data, max(2, n_iter // 4), rng)
    phi = (st.nkw + beta) / (st.nk[:, None] + V * beta)
    pi = (st.m + alpha) / (n + k * alpha)
    return phi, pi, z


def compile_dmm() -> None:
    """Compile (or load from numba's cache) every kernel of :func:`fit_dmm` in this process, with
    the argument types a real fit passes, on a four-document corpus. Called before the K grid's
    fits go to worker processes: with an empty cache (a fresh clone) each worker and then this
    process would compile the same kernels (~5 CPU-s each); this way one compiles and writes
    the cache, the others load it. The compiled code, and so every fit, is the same either way."""
    X = sparse.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [2.0, 0.0, 1.0]]))
    fit_dmm(X, 2, 0, n_iter=2, split_merge=1)


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
    fits = run_tasks(partial(_dmm_chain, Xc, k, settings=settings), states, replace(settings.parallel, n_jobs=min(settings.n_jobs, len(states))))
    rows = [{"chain": r + 1, "random_state": st, "n_docs": Xc.shape[0], "log_posterior": f[3],
             "n_topics_used": int(np.count_nonzero(np.bincount(f[2], minlength=k))), "chosen": False}
            for r, (st, f) in enumerate(zip(states, fits))]
    best = max(range(len(fits)), key=lambda r: (rounded(float(fits[r][3])), -r))
    rows[best]["chosen"] = True
    tw, pi = fits[best][0], fits[best][1]
    if sample is not None:
        start = rounded(_dmm_log_joint(X, tw, pi)).argmax(axis=1)
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
# the chosen model
# --------------------------------------------------------------------------------------------
def order_by_prevalence(fit: TopicFit) -> TopicFit:
    """Number the topics by overall prevalence (mean document proportion, to 10 significant
    digits), largest first."""
    order = np.argsort(-rounded(fit.doc_topic.mean(axis=0)), kind="stable")
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


def topic_table(fit: TopicFit, words: pd.DataFrame, labels: Mapping[int, str], coherence: np.ndarray,
                excl: np.ndarray) -> pd.DataFrame:
    """One row per topic: topic, label (the labels file's, else "T1: w1 w2 w3"), prevalence
    (mean document proportion), share_argmax (share of documents whose largest topic it is),
    coherence_npmi, exclusivity, top_words, frex_words."""
    argmax = rounded(fit.doc_topic).argmax(axis=1)
    rows = []
    for t in range(fit.k):
        top = words[(words["topic"] == t + 1) & (words["kind"] == "top")]["word"].tolist()
        fx = words[(words["topic"] == t + 1) & (words["kind"] == "frex")]["word"].tolist()
        rows.append({"topic": t + 1, "label": labels.get(t + 1, f"T{t + 1}: {' '.join(top[:3])}"),
                     "prevalence": float(fit.doc_topic[:, t].mean()), "share_argmax": float(np.mean(argmax == t)),
                     "coherence_npmi": float(coherence[t]), "exclusivity": float(excl[t]),
                     "top_words": " ".join(top), "frex_words": " ".join(fx)})
    return pd.DataFrame(rows)


def doc_topic_frame(corpus: Corpus, fit: TopicFit, community: str | None = None) -> pd.DataFrame:
    """doc_id, unit_ids, interview_id, the ``community`` column (when given), role,
    n_vocab_tokens, topic (the largest), T1..TK (proportions)."""
    d = corpus.docs[["doc_id", "unit_ids", "interview_id", *([community] if community else []), "role",
                     "n_vocab_tokens"]].copy()
    d["topic"] = rounded(fit.doc_topic).argmax(axis=1) + 1
    props = pd.DataFrame(fit.doc_topic, columns=[f"T{t + 1}" for t in range(fit.k)])
    return pd.concat([d.reset_index(drop=True), props], axis=1)


N_TOP_WORDS = 10     # a topic's top words an exemplar tie is broken by (as topics.top_n's default)
EXEMPLAR_COLUMNS = ["topic", "rank", "doc_id", "unit_ids", "interview_id", "role", "n_vocab_tokens", "loading",
                    "score", "margin", "text", "question"]


def exemplar_scores(X: sparse.spmatrix, fit: TopicFit) -> np.ndarray:
    """How typical each document is of each topic (D x K): the document's log-likelihood under
    the topic per vocabulary token, the mean over its tokens of log phi_kw. A document of the
    topic's common words scores high; unlike the DMM's posterior, which is exactly 1 for most
    documents of several words, it does not tie (two documents tie only with the same words in
    the same proportions)."""
    tw = np.maximum(np.asarray(fit.topic_word, dtype=float), 1e-300)
    X = sparse.csr_matrix(X, dtype=np.float64)
    length = np.asarray(X.sum(axis=1)).ravel()
    return np.asarray(X @ np.log(tw).T) / np.maximum(length, 1.0)[:, None]


def exemplars(corpus: Corpus, fit: TopicFit, n: int = 3) -> pd.DataFrame:
    """The ``n`` exemplar documents of each topic: documents whose largest topic it is (then the
    others, when fewer), ranked by :func:`exemplar_scores` (ties, to 10 significant digits:
    then the margin over the next-best topic's score, then the longer document, then the more of
    the topic's ``N_TOP_WORDS`` top words, the more distinct words, then the text: never the file's
    order), distinct interviews first (a second document of an interview only when fewer than
    ``n`` interviews are left) and never two documents the model cannot tell apart (the same
    score under every topic, as two documents of the same words have): topic, rank, doc_id, unit_ids,
    interview_id, role, n_vocab_tokens, loading (the document's proportion of the topic), score,
    margin, text (redacted), question (the interviewer's question before it, redacted; exchange
    documents only)."""
    rows = []
    docs = corpus.docs
    raw = exemplar_scores(corpus.counts, fit)
    score = rounded(raw)
    # the tie-break: how much better the topic explains the document than the next-best topic (per
    # token); documents of equally frequent words in the topic (a rare word each) tie on the score
    others = np.where(np.eye(fit.k, dtype=bool)[None, :, :], -np.inf, raw[:, None, :]).max(axis=2) \
        if fit.k > 1 else np.zeros_like(raw)
    margin = rounded(raw - others)
    top = rounded(fit.doc_topic).argmax(axis=1)
    X = sparse.csr_matrix(corpus.counts)
    # documents the model cannot tell apart (the same score under every topic: the same words, or
    # rare words each as frequent in every topic) are shown once
    same = np.array([score[i].tobytes() for i in range(X.shape[0])], dtype=object)
    length = np.asarray(X.sum(axis=1)).ravel()                  # more evidence first, when all else ties
    distinct = np.diff(X.indptr)
    text = np.unique(docs["text"].astype(str).to_numpy(), return_inverse=True)[1]
    for t in range(fit.k):
        # ... and among documents of equal score, margin and length: more of the topic's top words,
        # more distinct words, then the text itself (never the file's order)
        in_top = np.asarray(X[:, np.argsort(-fit.topic_word[t], kind="stable")[:N_TOP_WORDS]].getnnz(axis=1)).ravel()
        order = np.lexsort((np.arange(len(docs)), text, -distinct, -in_top, -length, -margin[:, t], -score[:, t], top != t))
        picked: list[int] = []
        seen: set[str] = set()
        texts: set[str] = set()
        for second in (False, True):
            for i in order:
                if len(picked) == n:
                    break
                if i in picked or same[i] in texts or (not second and docs["interview_id"].iat[i] in seen):
                    continue
                picked.append(int(i))
                seen.add(docs["interview_id"].iat[i])
                texts.add(same[i])
        for r, i in enumerate(picked):
            rows.append({"topic": t + 1, "rank": r + 1, "doc_id": docs["doc_id"].iat[i],
                         "unit_ids": docs["unit_ids"].iat[i], "interview_id": docs["interview_id"].iat[i],
                         "role": docs["role"].iat[i], "n_vocab_tokens": int(docs["n_vocab_tokens"].iat[i]),
                         "loading": float(fit.doc_topic[i, t]), "score": float(score[i, t]),
                         "margin": float(margin[i, t]), "text": docs["text"].iat[i],
                         "question": docs["question"].iat[i] if "question" in docs else ""})
    return pd.DataFrame(rows, columns=EXEMPLAR_COLUMNS)


# --------------------------------------------------------------------------------------------
# prevalence: estimateEffect-style regressions
# --------------------------------------------------------------------------------------------
def _factor_of(rhs: str, name: str) -> str:
    return "categorical" if f"C({name})" in rhs.replace(" ", "") else "numeric"


def _row_groups(frame: pd.DataFrame) -> np.ndarray:
    """Each row's number among the frame's distinct rows, numbered in order of first appearance."""
    ids = np.zeros(len(frame), dtype=np.int64)
    for column in frame.columns:
        codes = pd.factorize(frame[column])[0].astype(np.int64)
        ids = pd.factorize(ids * (int(codes.max(initial=0)) + 1) + codes)[0].astype(np.int64)
    return ids


def _level_design_means(info: Any, data: pd.DataFrame, rhs: str, factors: Sequence[str]) -> list[tuple[str, Any, np.ndarray]]:
    """(factor, level, mean design row with every document at that level) for each level of each
    factor: the same for every topic. patsy turns a categorical into codes one value at a time,
    so the design is built on the distinct rows of the formula's variables and spread back to
    every document (a design row is a function of its variables' values; the same full matrix,
    the same mean); with a missing value among them (patsy drops those rows), or a variable
    that is not a column, on the whole frame."""
    used = [c for c in formula_variables(rhs) if c in data.columns]
    levels = [(f, v) for f in factors for v in sorted(data[f].dropna().unique().tolist())]
    whole = (len(used) != len(formula_variables(rhs)) or any(f not in used for f in factors)
             or bool(data[used].isna().to_numpy().any()))
    if whole:
        frames, inverse = [data.assign(**{f: v}) for f, v in levels], None
    else:
        inverse = _row_groups(data[used])
        distinct = data[used].iloc[np.unique(inverse, return_index=True)[1]]
        frames = [distinct.assign(**{f: v}) for f, v in levels]
    out = []
    for (f, v), frame in zip(levels, frames):
        x = patsy.build_design_matrices([info], frame, return_type="dataframe")[0].to_numpy(float)
        if inverse is not None:                   # every document's row, in the same memory layout
            x = np.take(x, inverse, axis=0, out=np.empty_like(x, shape=(len(inverse), x.shape[1])))
        out.append((f, v, x.mean(axis=0)))
    return out


def prevalence_effects(data: pd.DataFrame, outcomes: Sequence[str], rhs: str, factors: Sequence[str],
                       covariance: str = "hc1", cluster: str | None = None,
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
    coefs, levels = [], []
    base = patsy.dmatrix(rhs, data, return_type="dataframe")
    at_level = _level_design_means(base.design_info, data, rhs, factors)
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
        q = t_ppf(0.5 + conf_level / 2, df) if df is not None else norm_ppf(0.5 + conf_level / 2)
        for f, v, g in at_level:
            est = float(g @ beta)
            se = float(np.sqrt(g @ V @ g))
            levels.append({"topic": name, "factor": f, "level": str(v), "estimate": est, "se": se,
                           "ci_low": est - q * se, "ci_high": est + q * se})
    return (pd.concat(coefs, ignore_index=True)[COEF_COLUMNS],
            pd.DataFrame(levels, columns=LEVEL_COLUMNS))



def prevalence_covariates(settings: Settings, community: str | None = None) -> list[str]:
    """The community columns the prevalence regressions need (``prevalence.formula``'s
    variables, ``factors`` and ``cluster``), less the document columns (and ``community``)."""
    return [c for c in dict.fromkeys([*formula_variables(settings.formula), *settings.factors, settings.cluster])
            if c is not None and c not in DOC_COLUMNS and c != community]


def prevalence_design(settings: Settings, community: str | None) -> tuple[str, str | None]:
    """The covariance and cluster of the prevalence regressions: ``prevalence.cluster``, else
    the texts' ``community`` column (None: no community, no cluster); ``prevalence.covariance``,
    else cluster (CR1) with a cluster and hc1 without one. A clustered covariance with no
    cluster is an error in the study's terms."""
    cluster = settings.cluster or community
    covariance = settings.covariance or ("cluster" if cluster else "hc1")
    if covariance in CLUSTER_COVARIANCES and not cluster:
        raise PipelineError(f"topics.prevalence.covariance: {covariance} needs a cluster, and the texts have no "
                            "community column", hint="set topics.prevalence.cluster, or covariance: hc1 (or leave it out)")
    return covariance, cluster if covariance in CLUSTER_COVARIANCES else None


def topic_prevalence(doc_topics: pd.DataFrame, communities: pd.DataFrame | None, k: int,
                     settings: Settings, community: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`prevalence_effects` of the topic proportions T1..Tk of ``doc_topics``
    (:func:`doc_topic_frame`), joined by the ``community`` column to the community covariates of
    the formula when ``communities`` is given, with the prevalence settings (formula, factors,
    :func:`prevalence_design`'s covariance and cluster, conf_level); a clear error when a
    community of the texts is not in the community file or a variable is in neither. Returns the
    coefficients and the average predicted proportions by level."""
    topic_cols = [f"T{t + 1}" for t in range(k)]
    covariance, cluster = prevalence_design(settings, community)
    reg = doc_topics
    if communities is not None and community is not None:
        covars = [c for c in formula_variables(settings.formula) if c in communities.columns and c != community]
        reg = doc_topics.merge(communities, on=community, how="left", validate="many_to_one")
        lacking = reg.loc[reg[covars].isna().any(axis=1), community].unique().tolist()
        if lacking:
            raise PipelineError(f"topics.prevalence: communities {lacking[:5]} of the texts are not in the community file",
                                hint="pass the study's community file")
    absent = [c for c in dict.fromkeys([*formula_variables(settings.formula), *settings.factors,
                                        *([cluster] if cluster else [])]) if c not in reg.columns]
    if absent:
        where = "the texts or the community file" if communities is not None else "the texts (no --communities)"
        raise PipelineError(f"topics.prevalence: {absent} are not columns of {where}",
                            hint="pass --communities with the community file, or leave them out of "
                                 "topics.prevalence (formula \"1\": overall prevalence only)")
    return prevalence_effects(reg, topic_cols, settings.formula, settings.factors, covariance,
                              cluster, settings.conf_level)

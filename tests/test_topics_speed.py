"""The compiled DMM sampler (pipeline/text/gsdmm.py) gives the numpy sampler's results to the
bit: the same assignments z, topic-word matrix and topic shares for the same seed, on planted
corpora (documents with repeated words, an empty document, a document longer than numpy's
128-term summation block), with and without split-merge moves and from a given start, and on
real sentences (tests/fixtures/corpus/ud_gsdsimp). The reference is the numpy code as it was
(tests/dmm_reference.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

import dmm_reference as REF
from pipeline.text import gsdmm as GS
from pipeline.text import topicmodel as TM

CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus" / "ud_gsdsimp" / "texts.txt"


def _assert_same(a, b):
    phi, pi, z = a
    phi2, pi2, z2 = b
    assert np.array_equal(z, z2), f"{int((z != z2).sum())} of {len(z)} assignments differ"
    assert np.array_equal(phi, phi2) and np.array_equal(pi, pi2)


def _corpus(seed: int, n_docs: int = 150, k: int = 4, V_extra: int = 150) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Planted clusters (and the planted z) with counts up to 3, one empty document and one of
    more than 128 distinct words."""
    rng = np.random.default_rng(seed)
    per = 12
    V = k * per + V_extra
    X = np.zeros((n_docs, V), dtype=np.int64)
    z = rng.integers(0, k, n_docs)
    for d in range(n_docs):
        own = rng.integers(z[d] * per, (z[d] + 1) * per, rng.integers(3, 12))
        np.add.at(X[d], np.concatenate([own, rng.integers(k * per, V, 2)]), 1)
    X[0] = 0                                            # an empty document
    X[1, :140] = 1                                      # 140 distinct words
    return sparse.csr_matrix(X), z


def test_pairwise_sum_is_numpys_order():
    rng = np.random.default_rng(0)
    for n in [*range(0, 300), 1000, 1031, 4096, 5003]:
        a = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
        assert GS._pairwise_sum(a, 0, n) == a.sum(), n
        rows = a[: n - n % 3].reshape(3, -1) if n >= 3 else a.reshape(1, -1)
        assert all(GS._pairwise_sum(r, 0, len(r)) == s for r, s in zip(rows, rows.sum(axis=1)))


@pytest.mark.parametrize("seed,k,n_iter,split_merge", [(1, 4, 4, 0), (2, 5, 3, 4), (3, 3, 2, 6), (4, 7, 3, 3)])
def test_compiled_sampler_matches_numpy(seed, k, n_iter, split_merge):
    X, _ = _corpus(seed)
    for alpha, beta in ((0.1, 0.1), (0.5, 0.01)):
        _assert_same(REF.fit_dmm(X, k, seed, alpha, beta, n_iter, split_merge),
                     TM.fit_dmm(X, k, seed, alpha, beta, n_iter, split_merge))
    start = np.random.default_rng(seed).integers(0, k, X.shape[0])
    _assert_same(REF.fit_dmm(X, k, seed + 10, n_iter=n_iter, init=start),
                 TM.fit_dmm(X, k, seed + 10, n_iter=n_iter, init=start))


def test_compiled_split_merge_matches_numpy():
    """One move from the same state and generator (planted clusters 0 and 1 in one topic,
    cluster 2 split over two): the same move, the same statistics, and the generator left at the
    same place."""
    X, z = _corpus(5, k=4)
    in2 = np.flatnonzero(z == 2)
    z[z == 1] = 0
    z[in2[: len(in2) // 2]] = 1
    ref_z, z2 = z.copy(), z.copy()
    words = [X.indices[X.indptr[d]:X.indptr[d + 1]] for d in range(X.shape[0])]
    counts = [X.data[X.indptr[d]:X.indptr[d + 1]].astype(float) for d in range(X.shape[0])]
    ones = [bool((c == 1).all()) for c in counts]
    length = np.asarray(X.sum(axis=1), dtype=float).ravel()
    ref = REF._DMMState(4, X.shape[1])
    for d in range(X.shape[0]):
        ref.add(ref_z[d], words[d], counts[d], length[d])
    data = GS.DMMDocs.of(X, 0.1, 0.1)
    st = GS.DMMState(4, X.shape[1])
    st.add(np.arange(X.shape[0]), z2, data)
    assert np.array_equal(GS.topic_score(st, data), REF._topic_score(ref.m, ref.nkw, ref.nk, 0.1, 0.1))
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    moved = REF._split_merge(ref_z, ref, words, counts, ones, length, 0.1, 0.1, r1)
    assert GS.split_merge(z2, st, data, r2) == moved and moved
    assert np.array_equal(ref_z, z2) and np.array_equal(ref.nkw, st.nkw) and np.array_equal(ref.nk, st.nk)
    assert r1.random() == r2.random()


def _sentences() -> sparse.csr_matrix:
    """The 500 Wikipedia sentences as character-bigram counts (words in at least 3 sentences)."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [t for t in CORPUS.read_text(encoding="utf-8").splitlines() if t.strip()]
    return sparse.csr_matrix(CountVectorizer(analyzer="char", ngram_range=(2, 2), min_df=3).fit_transform(texts))


@pytest.mark.parametrize("k,seed", [(5, 11), (9, 12)])
def test_real_sentences_match(k, seed):
    X = _sentences()
    assert X.shape[0] == 500 and X.data.max() > 1
    _assert_same(REF.fit_dmm(X, k, seed, n_iter=3, split_merge=2), TM.fit_dmm(X, k, seed, n_iter=3, split_merge=2))


@pytest.mark.slow   # compiles the kernels once in a fresh cache: 5-10 s
def test_compiled_kernels_are_found_by_content_from_a_fresh_clone(tmp_path):
    """The kernel cache is keyed by gsdmm.py's content, not its path or mtime: a copy of the
    package elsewhere, with a new mtime (a fresh clone), loads what the first copy compiled; an
    edited module compiles afresh."""
    import os
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PIPELINE_MACHINE_CACHE": str(tmp_path / "machine"), "NUMBA_DEBUG_CACHE": "1"}
    code = "from pipeline.text.topicmodel import compile_dmm; compile_dmm()"

    def run(where: Path) -> str:
        return subprocess.run([sys.executable, "-c", code], cwd=where, env=env, capture_output=True, text=True,
                              check=True).stdout

    first = run(root)
    assert "data saved to" in first and str(tmp_path / "machine") in first
    clone = tmp_path / "clone"
    shutil.copytree(root / "pipeline", clone / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    os.utime(clone / "pipeline" / "text" / "gsdmm.py", (1e9, 1e9))
    second = run(clone)
    assert "data loaded from" in second and "data saved to" not in second
    edited = clone / "pipeline" / "text" / "gsdmm.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert "data saved to" in run(clone)


# --------------------------------------------------------------------------------------------
# LDA: scikit-learn's batch variational Bayes with its document loop compiled (pipeline/text/ldavb.py)
# --------------------------------------------------------------------------------------------
def _sklearn_lda(X, k, seed, max_iter, X_test, doc_topic_prior=None, topic_word_prior=None):
    from sklearn.decomposition import LatentDirichletAllocation

    lda = LatentDirichletAllocation(n_components=k, learning_method="batch", max_iter=max_iter, random_state=seed,
                                    doc_topic_prior=doc_topic_prior, topic_word_prior=topic_word_prior)
    theta = lda.fit_transform(X)
    return lda.components_, theta, lda.perplexity(X_test)


@pytest.mark.parametrize("corpus,k,seed,max_iter,priors", [
    ("planted", 4, 1, 10, (None, None)), ("planted", 7, 2, 30, (0.5, 0.01)),
    ("sentences", 5, 11, 10, (None, None)), ("sentences", 9, 12, 50, (None, None)), ("sentences", 14, 3, 50, (0.1, 0.1))])
def test_compiled_lda_is_scikit_learns(corpus, k, seed, max_iter, priors):
    """The same lambda, document proportions and held-out perplexity as scikit-learn's
    LatentDirichletAllocation for the same random_state, up to the order of BLAS's sums: the
    planted corpus has an empty document and one of 140 distinct words, the sentences have counts
    above 1."""
    from pipeline.text.ldavb import fit_lda

    X = _corpus(seed)[0] if corpus == "planted" else _sentences()
    X_train, X_test = X[: X.shape[0] * 4 // 5], X[X.shape[0] * 4 // 5:]
    components, theta, perplexity = _sklearn_lda(X_train, k, seed, max_iter, X_test, *priors)
    fit = fit_lda(X_train, k, seed, max_iter, *priors, X_test=X_test)
    assert fit.components.shape == components.shape and fit.doc_topic.shape == theta.shape
    np.testing.assert_allclose(fit.components, components, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fit.doc_topic, theta, rtol=1e-9, atol=1e-9)
    assert fit.perplexity == pytest.approx(perplexity, rel=1e-10)
    # not the same numbers by accident: another seed gives other topics
    other = fit_lda(X_train, k, seed + 1, max_iter, *priors)
    assert np.abs(other.components - components).max() > 1e-3


def test_exp_of_digamma_without_its_log_is_exp_of_digamma():
    """The E-step's exp(psi(x) - c) without psi's log: the same value as exp(_psi(x) - c) (itself
    scikit-learn's digamma) to a few units in the last place, on both sides of psi's branches (x up
    to 1e-6, the recurrence below 6, the series above), and not a constant or the log's value."""
    from pipeline.text.ldavb import _exp_psi_less, _psi

    xs = [1e-7, 1e-6, 2e-6, 0.01, 0.1, 0.5, 1.0, 2.5, 5.999, 6.0, 6.5, 17.0, 250.0, 1e5]
    for x in xs:
        for c in (-2.0, 0.0, 0.3, 3.7):
            assert _exp_psi_less(x, c) == pytest.approx(np.exp(_psi(x) - c), rel=1e-14, abs=0), (x, c)
    assert _exp_psi_less(6.0, 0.0) != _exp_psi_less(7.0, 0.0)


def test_lda_stage_fit_is_the_compiled_one():
    """fit_topics("lda") is fit_lda normalised, the same numbers on every call."""
    from pipeline.text.ldavb import fit_lda

    X = _sentences()
    settings = TM.parse_settings(models=("lda",), lda_max_iter=20)
    a = TM.fit_topics(X[:400], "lda", 6, 5, settings, X[400:])
    b = TM.fit_topics(X[:400], "lda", 6, 5, settings, X[400:])
    raw = fit_lda(X[:400], 6, 5, 20, X_test=X[400:])
    assert np.array_equal(a.topic_word, b.topic_word) and a.perplexity == b.perplexity == raw.perplexity
    np.testing.assert_array_equal(a.topic_word, raw.components / raw.components.sum(axis=1, keepdims=True))


# --------------------------------------------------------------------------------------------
# NMF, Kullback-Leibler: scikit-learn's multiplicative updates compiled (pipeline/text/nmfkl.py)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("corpus,k,seed,init", [
    ("planted", 4, 1, "nndsvda"), ("planted", 9, 2, "nndsvd"), ("planted", 12, 6, "random"),
    ("sentences", 5, 11, "nndsvda"), ("sentences", 14, 3, "nndsvda"), ("sentences", 20, 4, "random"),
    ("sentences", 7, 5, "nndsvdar")])
def test_compiled_nmf_is_scikit_learns_to_the_bit(corpus, k, seed, init):
    """W, H and the number of iterations of scikit-learn's NMF(beta_loss="kullback-leibler",
    solver="mu") on TF-IDF, bit for bit: K below and above numpy's 8-term block, NNDSVD starts
    (H Fortran-ordered) and random ones (C-ordered)."""
    import warnings

    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfTransformer

    from pipeline.text.nmfkl import fit_nmf_kl

    X = _corpus(seed)[0] if corpus == "planted" else _sentences()
    tfidf = TfidfTransformer().fit_transform(X)
    nmf = NMF(n_components=k, init=init, random_state=seed, max_iter=500, tol=1e-4, beta_loss="kullback-leibler",
              solver="mu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = nmf.fit_transform(tfidf)
    W2, H2, n_iter = fit_nmf_kl(tfidf, k, init, seed, 500, 1e-4)
    assert n_iter == nmf.n_iter_ > 10
    assert np.array_equal(W, W2) and np.array_equal(nmf.components_, H2)
    # in its layout too: the stage's row sums of H (the topics' normalisation) follow it
    assert H2.flags.f_contiguous == nmf.components_.flags.f_contiguous
    assert np.array_equal(TM._normalise_rows(H2), TM._normalise_rows(nmf.components_))


@pytest.mark.parametrize("corpus,k,seed", [("planted", 4, 1), ("planted", 12, 6), ("sentences", 5, 11),
                                            ("sentences", 20, 4), ("tall", 3, 2), ("tall", 6, 7)])
def test_nmf_start_loss_and_tfidf_are_scikit_learns_ported(corpus, k, seed):
    """nmfkl's ports of scikit-learn's TfidfTransformer, _initialize_nmf (every start; with
    _randomized_svd's 7 and 4 power iterations, on the transpose and on the matrix: more words than
    documents and fewer) and _beta_divergence give scikit-learn's bits, so the stage needs no
    scikit-learn to fit NMF."""
    from sklearn.decomposition._nmf import _beta_divergence, _initialize_nmf
    from sklearn.feature_extraction.text import TfidfTransformer

    from pipeline.text import nmfkl

    X = _corpus(seed)[0] if corpus == "planted" else _sentences()
    X = sparse.csr_matrix(X)
    if corpus == "tall":                    # more documents than words: the SVD of the matrix itself
        X = _corpus(seed)[0][:, :60]        # (and K = 6 >= a tenth of 60: 4 power iterations)
    ours, theirs = nmfkl.tfidf(X), TfidfTransformer().fit_transform(X)
    assert np.array_equal(ours.indptr, theirs.indptr) and np.array_equal(ours.indices, theirs.indices)
    assert np.array_equal(ours.data, theirs.data)
    ours.sort_indices()
    assert (X.shape[0] > X.shape[1]) == (corpus == "tall")
    for init in ("nndsvda", "nndsvd", "nndsvdar", "random"):
        W, H = _initialize_nmf(ours, k, init=init, random_state=seed)
        W2, H2 = nmfkl._initialize_nmf(ours, k, init, seed)
        assert np.array_equal(W, W2) and np.array_equal(H, H2), init
        assert (W.flags.c_contiguous, H.flags.c_contiguous) == (W2.flags.c_contiguous, H2.flags.c_contiguous)
        for W_, H_ in ((W, H), (np.ascontiguousarray(W), np.ascontiguousarray(H))):
            assert _beta_divergence(ours, W_, H_, 1, square_root=True) == nmfkl._kl_divergence(ours, W_, H_)


def test_the_nmf_stage_does_not_import_scikit_learn():
    """Fitting NMF in the stage's process leaves scikit-learn (1.2 CPU-s with scipy.stats)
    unimported."""
    code = ("import sys; import numpy as np; from scipy import sparse; "
            "from pipeline.text.topicmodel import fit_topics, parse_settings; "
            "X = sparse.csr_matrix(np.random.default_rng(0).poisson(0.4, (60, 30))); "
            "fit_topics(X, 'nmf', 3, 1, parse_settings({'models': ['nmf']})); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'statsmodels')))")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_npmi_coherence_of_all_topics_at_once_is_per_topics():
    """npmi_coherence takes the co-occurrence counts of every topic's top words in one product; the
    values are those of one sparse product per topic (whole counts: exact in any order)."""
    import math

    from pipeline.text.topicmetrics import npmi_coherence

    def per_topic(top_words, doc_word):
        B = (sparse.csc_matrix(doc_word) > 0).astype(np.float64)
        out = []
        for words in top_words:
            sub = B[:, words]
            co = np.asarray((sub.T @ sub).todense()) / B.shape[0]
            vals = [-1.0 if co[i, j] <= 0 else 1.0 if co[i, j] >= 1 else
                    math.log(co[i, j] / (co[i, i] * co[j, j])) / -math.log(co[i, j])
                    for i in range(len(words)) for j in range(i + 1, len(words))]
            out.append(float(np.mean(vals)) if vals else float("nan"))
        return np.array(out)

    X = _sentences()
    rng = np.random.default_rng(0)
    for _ in range(60):
        k, n = rng.integers(2, 20), rng.integers(1, 12)
        top = np.array([rng.choice(X.shape[1], n, replace=False) for _ in range(k)])
        top[-1, 0] = top[0, 0]                          # a word among two topics' top words
        assert np.array_equal(npmi_coherence(top, X), per_topic(top, X), equal_nan=True)


@pytest.mark.slow   # compiles the NMF kernels in a fresh cache: 5-10 s
def test_a_kernel_is_compiled_again_when_a_module_it_calls_changes(tmp_path):
    """nmfkl's kernels call gsdmm's numpy-order sums, compiled into them: their cache is keyed by
    both files (compiled.jit_for(uses=...)), so an edit of gsdmm.py compiles them again, and a
    copy with the same files loads them."""
    import os
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PIPELINE_MACHINE_CACHE": str(tmp_path / "machine"), "NUMBA_DEBUG_CACHE": "1"}
    code = "from pipeline.text.nmfkl import compile_nmf; compile_nmf()"

    def run(where: Path) -> str:
        out = subprocess.run([sys.executable, "-c", code], cwd=where, env=env, capture_output=True, text=True,
                             check=True).stdout
        return "\n".join(line for line in out.splitlines() if "nmfkl" in line)

    clone = tmp_path / "clone"
    shutil.copytree(root / "pipeline", clone / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    assert "data saved to" in run(clone)
    again = run(clone)
    assert "data loaded from" in again and "data saved to" not in again
    called = clone / "pipeline" / "text" / "gsdmm.py"
    called.write_text(called.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert "data saved to" in run(clone)

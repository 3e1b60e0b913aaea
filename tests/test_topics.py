"""The topics stage: evidence functions on hand-computed examples, bad inputs, determinism and
one end-to-end run on the demo study."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import sparse

from pipeline import topics as T
from pipeline.errors import PipelineError

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# NPMI, exclusivity, FREX, stability
# --------------------------------------------------------------------------------------------
def test_npmi_hand_computed():
    # words a, b, c in 4 documents: d1 {a b}, d2 {a b}, d3 {a c}, d4 {c}
    X = sparse.csr_matrix(np.array([[1, 2, 0], [1, 1, 0], [3, 0, 1], [0, 0, 1]]))
    # P(a)=3/4, P(b)=1/2, P(c)=1/2, P(ab)=1/2, P(ac)=1/4, P(bc)=0
    ab = math.log(0.5 / (0.75 * 0.5)) / -math.log(0.5)          # log(4/3) / log 2 = 0.41504
    ac = math.log(0.25 / (0.75 * 0.5)) / -math.log(0.25)        # log(2/3) / log 4 = -0.29248
    bc = -1.0                                                   # never together
    got = T.npmi_coherence(np.array([[0, 1, 2], [0, 1, 1]]), X)
    assert got[0] == pytest.approx((ab + ac + bc) / 3, abs=1e-12)
    assert ab == pytest.approx(0.415037, abs=1e-6) and ac == pytest.approx(-0.292481, abs=1e-6)
    # a word with itself: P(bb) = P(b) = 1/2 -> log(1/P(b)) / -log P(b) = 1
    assert got[1] == pytest.approx((ab + ab + 1.0) / 3, abs=1e-12)


def test_exclusivity_and_frex_on_a_tiny_matrix():
    tw = np.array([[0.5, 0.3, 0.2], [0.6, 0.1, 0.3]])
    # column sums 1.1, 0.4, 0.5 -> word exclusivity of topic 1: 0.4545, 0.75, 0.4
    ex = T.word_exclusivity(tw)
    np.testing.assert_allclose(ex[0], [0.5 / 1.1, 0.75, 0.4])
    np.testing.assert_allclose(ex.sum(axis=0), 1.0)
    # top-2 words of topic 1 are words 0 and 1
    assert T.exclusivity(tw, 2)[0] == pytest.approx((0.5 / 1.1 + 0.75) / 2)
    # FREX (w = 0.5): frequency ECDF 1, 2/3, 1/3; exclusivity ECDF 2/3, 1, 1/3
    fr = T.frex(tw, 0.5)
    np.testing.assert_allclose(fr[0], [0.8, 0.8, 1 / 3])
    # w = 1: frequency only
    np.testing.assert_allclose(T.frex(tw, 1.0)[0], [1, 2 / 3, 1 / 3])
    # identical topics: every word's exclusivity is 1/K
    assert T.exclusivity(np.array([[0.7, 0.3], [0.7, 0.3]]), 1) == pytest.approx([0.5, 0.5])


def test_stability_is_one_for_identical_runs_and_permutation_invariant():
    rng = np.random.default_rng(1)
    a = rng.dirichlet(np.ones(30), size=6)
    assert T.stability([a, a, a]) == pytest.approx(1.0)
    perm = np.array([3, 0, 5, 1, 4, 2])
    assert T.stability([a, a[perm]]) == pytest.approx(1.0)
    matched, sims = T.match_topics(a, a[perm])
    np.testing.assert_array_equal(perm[matched], np.arange(6))
    b = rng.dirichlet(np.ones(30), size=6)
    s = T.stability([a, b])
    assert 0 < s < 0.95
    assert T.stability([a, b[perm]]) == pytest.approx(s)


def test_alignment_and_purity_on_a_toy_table():
    # topic x theme counts: topic 1 -> theme 2 (8 of 10), topic 2 -> theme 1 (6 of 8),
    # topic 3 -> theme 3 (5 of 7) but also mostly theme 2 docs would go... keep one-to-one
    topic = np.array([1] * 10 + [2] * 8 + [3] * 7 + [3])
    theme = np.array([2] * 8 + [1] * 2 + [1] * 6 + [3] * 2 + [3] * 5 + [2] * 2 + [0])   # the last is not thematic
    table, summary = T.align_topics(topic, theme, 3, [1, 2, 3])
    assert table["theme"].tolist() == [2, 1, 3]
    assert table["n_match"].tolist() == [8, 6, 5]
    assert summary["n_docs_themed"] == 25
    assert summary["purity"] == pytest.approx(19 / 25)
    assert summary["one_to_one"] and summary["matched"] == 3
    # two topics with the same majority theme: one-to-one fails, purity counts the matched diagonal
    topic2 = np.array([1] * 5 + [2] * 5)
    theme2 = np.array([1] * 4 + [2] + [1] * 3 + [2] * 2)
    t2, s2 = T.align_topics(topic2, theme2, 2, [1, 2])
    assert not s2["one_to_one"] and s2["majority_purity"] == pytest.approx(0.7)
    assert s2["purity"] == pytest.approx(0.6)


def test_sign_agreement_uses_the_matched_topics():
    levels = pd.DataFrame({"topic": ["T1", "T1", "T2", "T2"], "factor": "gov_model", "level": ["0", "1", "0", "1"],
                           "estimate": [0.2, 0.3, 0.3, 0.25], "se": 0.01, "ci_low": 0, "ci_high": 1})
    levels = pd.concat([levels, pd.DataFrame({"topic": "T3", "factor": "gov_model", "level": ["0", "1"],
                                              "estimate": [0.1, 0.2], "se": 0.01, "ci_low": 0, "ci_high": 1})],
                       ignore_index=True)
    alignment = pd.DataFrame({"topic": [1, 2, 3], "theme": [4, 2, 0], "majority_theme": [4, 2, 2],
                              "n_docs": [10, 10, 5]})
    contrasts = [{"factor": "gov_model", "level": "1", "reference": "0", "theme": 2, "sign": 1, "planted": True},
                 {"factor": "gov_model", "level": "1", "reference": "0", "theme": 4, "sign": -1, "planted": True},
                 {"factor": "gov_model", "level": "1", "reference": "0", "theme": 5, "sign": 1, "planted": False}]
    rows, summary = T.sign_agreement(levels, alignment, contrasts)
    assert rows.set_index("theme")["estimated_difference"].to_dict() == pytest.approx({2: -0.05, 4: 0.1})
    assert summary == {"n_planted": 2, "n_agree": 0, "share_agree": 0.0}
    # many to one: theme 2 is the majority of topics 2 and 3 -> -0.05 + 0.1
    rows, summary = T.sign_agreement(levels, alignment, contrasts, mapping="many_to_one")
    assert rows.set_index("theme")["estimated_difference"].to_dict() == pytest.approx({2: 0.05, 4: 0.1})
    assert rows.set_index("theme")["topics"].to_dict() == {2: "2;3", 4: "1"} and summary["n_agree"] == 1


def _planted_corpus(seed=3, n_docs=240, k=4, words_per_topic=15, doc_len=12):
    """Documents of ONE topic each; every topic has its own words plus shared filler words."""
    rng = np.random.default_rng(seed)
    V = k * words_per_topic + 10
    z = rng.integers(0, k, n_docs)
    X = np.zeros((n_docs, V), dtype=np.int64)
    for d in range(n_docs):
        own = rng.integers(z[d] * words_per_topic, (z[d] + 1) * words_per_topic, doc_len - 2)
        filler = rng.integers(k * words_per_topic, V, 2)
        np.add.at(X[d], np.concatenate([own, filler]), 1)
    return sparse.csr_matrix(X), z


def test_dmm_recovers_planted_clusters_and_is_reproducible():
    X, z = _planted_corpus()
    phi, pi, assign = T.fit_dmm(X, 4, random_state=11, n_iter=15)
    assert phi.shape == (4, X.shape[1]) and np.allclose(phi.sum(axis=1), 1) and pi.sum() == pytest.approx(1)
    # the clusters are the planted ones up to a relabelling
    tab = pd.crosstab(assign, z).to_numpy()
    assert tab.shape == (4, 4) and (tab.max(axis=1).sum() / len(z)) == 1.0
    # responsibilities: nearly one-hot, argmax = the Gibbs assignment
    R = T.dmm_responsibilities(X, phi, pi)
    assert np.allclose(R.sum(axis=1), 1) and (R.argmax(axis=1) == assign).all() and R.max(axis=1).min() > 0.99
    # the same random_state gives the same bits; another one a relabelling of the same clusters
    phi2, pi2, assign2 = T.fit_dmm(X, 4, random_state=11, n_iter=15)
    assert np.array_equal(phi, phi2) and np.array_equal(assign, assign2)
    phi3, _, _ = T.fit_dmm(X, 4, random_state=12, n_iter=15)
    assert T.stability([phi, phi3]) > 0.99
    # held-out perplexity: the true K fits unseen documents better than K = 1
    Xt, _ = _planted_corpus(seed=4, n_docs=60)
    assert T.dmm_perplexity(Xt, phi, pi) < T.dmm_perplexity(Xt, *T.fit_dmm(X, 1, 11, n_iter=2)[:2])
    # through fit_topics: a TopicFit with document proportions and a perplexity
    fit = T.fit_topics(X, "dmm", 4, 11, T.Settings(dmm_n_iter=15), X_test=Xt)
    assert fit.doc_topic.shape == (X.shape[0], 4) and np.isfinite(fit.perplexity)


def test_selection_rule():
    s = T.Settings(models=("lda", "nmf"), k_grid=(5, 6, 7), min_stability=0.8)
    table = pd.DataFrame({
        "model": ["lda"] * 3 + ["nmf"] * 3, "k": [5, 6, 7] * 2,
        "coherence_npmi": [0.3, 0.2, 0.1, 0.1, 0.2, 0.25], "exclusivity": [0.9, 0.8, 0.7, 0.6, 0.7, 0.75],
        "stability": [0.5, 0.9, 0.9, 0.9, 0.9, 0.95], "perplexity": [1, 2, 3] + [np.nan] * 3, "n_seeds": 3})
    out = T.select_model(table, s)
    assert out["chosen"].sum() == 1
    assert not out.loc[0, "eligible"]                      # lda K=5 unstable: not eligible despite the best coherence
    chosen = out[out["chosen"]].iloc[0]
    assert (chosen["model"], chosen["k"]) == ("nmf", 7)
    forced = T.select_model(table, T.Settings(models=("lda", "nmf"), k_grid=(5, 6, 7), fixed_model="lda", fixed_k=5))
    assert forced[forced["chosen"]][["model", "k"]].values.tolist() == [["lda", 5]]


# --------------------------------------------------------------------------------------------
# prevalence regression: clustered SEs as statsmodels
# --------------------------------------------------------------------------------------------
def test_prevalence_se_equals_statsmodels_cluster():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(7)
    n = 300
    comm = rng.integers(0, 25, n)
    gov = rng.integers(0, 2, 25)
    data = pd.DataFrame({"comm_id": [f"C{c:03d}" for c in comm], "gov_model": gov[comm],
                         "comm_type": comm % 4 + 1,
                         "role": rng.choice(["resident", "grid_worker", "committee"], n)})
    data["T1"] = 0.2 + 0.05 * data["gov_model"] + rng.normal(0, 0.1, n) + rng.normal(0, 0.05, 25)[comm]
    rhs = "C(role) + gov_model + C(comm_type)"
    coefs, levels = T.prevalence_effects(data, ["T1"], rhs, ["gov_model", "role"])
    ref = smf.ols(f"T1 ~ {rhs}", data).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(data["comm_id"])[0]})
    got = coefs.set_index("term")
    np.testing.assert_allclose(got["estimate"].to_numpy(), ref.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(got["se"].to_numpy(), ref.bse.to_numpy(), rtol=1e-8)
    # average predicted proportions: difference of gov_model levels is its coefficient
    lv = levels[levels["factor"] == "gov_model"].set_index("level")
    assert lv.loc["1", "estimate"] - lv.loc["0", "estimate"] == pytest.approx(ref.params["gov_model"])
    assert lv.loc["1", "ci_low"] < lv.loc["1", "estimate"] < lv.loc["1", "ci_high"]
    assert set(levels[levels["factor"] == "role"]["level"]) == {"resident", "grid_worker", "committee"}


# --------------------------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------------------------
def _units(texts: list[str], interview: str = "I001") -> pd.DataFrame:
    return pd.DataFrame({"unit_id": [f"{interview}:{i + 1}:1" for i in range(len(texts))], "interview_id": interview,
                         "comm_id": "C001", "role": "resident", "turn": range(1, len(texts) + 1), "sentence": 1,
                         "text": texts, "tokens": texts})


def test_empty_documents_are_flagged_not_fatal():
    docs = T.build_documents(_units(["议事会 网格员", "议事会 积分", "好", "网格员 积分 积分"]))
    c = T.vectorize(docs, min_df=2, max_df=1.0)
    assert list(c.flagged["doc_id"]) == ["I001:3"]
    assert c.flagged["reason"].iat[0] == "no vocabulary token"
    assert c.counts.shape == (3, 3) and len(c.docs) == 3
    c2 = T.vectorize(docs, min_df=2, max_df=1.0, min_doc_tokens=3)
    assert list(c2.flagged["doc_id"]) == ["I001:1", "I001:2", "I001:3"]


def test_window_documents():
    u = _units(["a", "b", "c", "d", "e"])
    docs = T.build_documents(u, "window", 2)
    assert docs["doc_id"].tolist() == ["I001:w1", "I001:w2", "I001:w3"]
    assert docs["unit_ids"].iat[0] == "I001:1:1;I001:2:1" and docs["tokens"].iat[2] == "e"


def test_grid_too_large_for_the_corpus_names_grid_and_documents():
    with pytest.raises(PipelineError, match=r"k_grid \[5, 10\].*40 training documents"):
        T.check_grid([5, 10], 40, 500, 5)
    T.check_grid([5, 8], 40, 500, 5)


def test_labels_naming_unknown_topics(tmp_path):
    f = tmp_path / "labels.yaml"
    f.write_text("1: 议事协商\n12: 不存在\nx: 也不对\n", encoding="utf-8")
    with pytest.raises(PipelineError) as exc:
        T.read_labels(f, 9)
    assert str(f) in str(exc.value) and "12" in str(exc.value) and "'x'" in str(exc.value)
    f.write_text("1: 议事协商\n3: 社会组织\n", encoding="utf-8")
    assert T.read_labels(f, 9) == {1: "议事协商", 3: "社会组织"}
    with pytest.raises(PipelineError, match="not found"):
        T.read_labels(tmp_path / "none.yaml", 9)


def test_bad_settings():
    with pytest.raises(PipelineError, match="topics.unit"):
        T.parse_settings({"unit": "paragraph"})
    with pytest.raises(PipelineError, match="fixed_k"):
        T.parse_settings({"k_grid": [5, 6], "selection": {"fixed_k": 9}})
    with pytest.raises(PipelineError, match="not a known key"):
        T.parse_settings({"kgrid": [5]})
    with pytest.raises(PipelineError, match="dmm.gamma"):
        T.parse_settings({"dmm": {"gamma": 1}})
    with pytest.raises(PipelineError, match="dmm.alpha"):
        T.parse_settings({"dmm": {"alpha": 0}})
    assert T.parse_settings({"models": ["dmm"], "dmm": {"n_iter": 5}}).dmm_n_iter == 5


# --------------------------------------------------------------------------------------------
# the stage: determinism on a small corpus, and the demo study
# --------------------------------------------------------------------------------------------
SMALL = {"k_grid": [3, 4], "seeds": 2, "models": ["dmm", "lda", "nmf"], "lda": {"max_iter": 10},
         "dmm": {"n_iter": 5}, "n_jobs": 1,
         "vocabulary": {"min_df": 2, "max_df": 0.3}}


def _stage(tmp: Path, units: Path, overrides: dict, name: str) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["topics"] = {**params["topics"], **overrides}
    pfile = tmp / f"params_{name}.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    out = tmp / name
    T.main(["--params", str(pfile), "--units", str(units), "--communities", str(ROOT / "raw" / "communities.csv"),
            "--out", str(out / "topics"), "--metrics", str(out / "topics.json")])
    return out


@pytest.fixture(scope="module")
def small_units(tmp_path_factory):
    src = ROOT / "processed" / "transcripts" / "units.parquet"
    if not src.exists():
        pytest.skip("the demo study's transcripts stage has not run")
    units = pd.read_parquet(src)
    keep = sorted(units["interview_id"].unique())[:20]
    path = tmp_path_factory.mktemp("units") / "units.parquet"
    units[units["interview_id"].isin(keep)].to_parquet(path, index=False)
    return path


def test_same_seed_gives_identical_files(tmp_path, small_units):
    a = _stage(tmp_path, small_units, SMALL, "a")
    b = _stage(tmp_path, small_units, {**SMALL, "n_jobs": 2}, "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert {str(f) for f in files} >= {"topics.json", "topics/k_selection.csv", "topics/topics.csv",
                                       "topics/topic_words.csv", "topics/doc_topics.parquet",
                                       "topics/exemplars.csv", "topics/prevalence.csv",
                                       "topics/prevalence_levels.csv", "topics/flagged_docs.csv"}
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    # a too-large grid stops the stage with the clear error and leaves no output
    with pytest.raises(PipelineError, match="too large for the corpus"):
        _stage(tmp_path, small_units, {**SMALL, "k_grid": [3, 200]}, "c")
    assert not (tmp_path / "c").exists()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from conftest import run_study

    return run_study(tmp_path_factory.mktemp("topics_demo"), stages=("simulate", "transcripts", "topics"))


def test_demo_outputs(demo):
    out = demo / "processed" / "topics"
    m = json.loads((demo / "metrics" / "topics.json").read_text(encoding="utf-8"))
    k = m["k"]
    grid = pd.read_csv(out / "k_selection.csv")
    assert grid["chosen"].sum() == 1 and set(grid["model"]) == {"dmm"} and m["model"] == "dmm"
    assert grid.loc[grid["chosen"], "eligible"].all()
    topics = pd.read_csv(out / "topics.csv")
    assert topics["topic"].tolist() == list(range(1, k + 1))
    assert topics["prevalence"].is_monotonic_decreasing and topics["prevalence"].sum() == pytest.approx(1)
    words = pd.read_csv(out / "topic_words.csv")
    assert set(words["kind"]) == {"top", "frex"} and len(words) == 2 * k * 10
    dt = pd.read_parquet(out / "doc_topics.parquet")
    assert len(dt) == m["n_docs"] and np.allclose(dt[[f"T{t}" for t in range(1, k + 1)]].sum(axis=1), 1)
    ex = pd.read_csv(out / "exemplars.csv")
    assert (ex.groupby("topic")["interview_id"].nunique() == 3).all()
    # redacted text only: no mobile or 18-digit ID number in any written text
    assert not ex["text"].str.contains(r"1[3-9]\d{9}|\d{17}[\dXx]").any()
    prev = pd.read_csv(out / "prevalence.csv")
    assert set(prev["topic"]) == {f"T{t}" for t in range(1, k + 1)} and (prev["se"] > 0).all()
    assert m["alignment"]["n_docs_themed"] > 1000 and m["alignment"]["gov_model_signs_planted"] == 5
    # many-to-one recovery (measured 0.87 with all nine themes; seed 7: 0.92, nine themes)
    assert m["alignment"]["themes_recovered"] == 9 and m["alignment"]["majority_purity"] >= 0.80
    signs = pd.read_csv(out / "sign_agreement.csv")
    assert set(signs["mapping"]) == {"one_to_one", "many_to_one"} and sorted(signs["theme"].unique()) == [2, 3, 4, 6, 8]


@pytest.mark.xfail(strict=True, reason="issue #7 target not reached: the evidence picks DMM K=13 on the demo "
                                       "(the planted theme variants make ~13 clusters); one-to-one purity 0.69, "
                                       "many-to-one 0.87, 2 of 5 signs one to one (see docs/topics.md)")
def test_demo_recovers_planted_themes(demo):
    m = json.loads((demo / "metrics" / "topics.json").read_text(encoding="utf-8"))["alignment"]
    assert m["one_to_one"] and m["purity"] >= 0.80
    assert m["gov_model_signs_agree"] == m["gov_model_signs_planted"]


def test_grid_document_cap_is_a_seeded_sample_and_a_no_op_within_the_cap():
    from pipeline.topics import cap_documents

    train, test = np.arange(0, 8000, 2), np.arange(1, 2000, 2)
    same = cap_documents(train, test, 5000, seed=1)
    assert same[0] is train and same[1] is test
    a = cap_documents(train, test, 1000, seed=1)
    b = cap_documents(train, test, 1000, seed=1)
    assert len(a[0]) == 1000 and len(a[1]) == 250
    assert set(a[0]) <= set(train) and set(a[1]) <= set(test) and (np.diff(a[0]) > 0).all()
    assert all((x == y).all() for x, y in zip(a, b))
    assert not (cap_documents(train, test, 1000, seed=2)[0] == a[0]).all()

"""The topics stage: evidence functions on hand-computed examples, bad inputs, determinism and
one end-to-end run on the demo study."""
from __future__ import annotations

import dataclasses

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import sparse

from pipeline.core.config import load_params
from pipeline.core.errors import PipelineError
from pipeline.core.settings import Vocabulary
from pipeline.demo import checks as CK
from pipeline.stages import topics as T
from pipeline.text import documents as D
from pipeline.text import gsdmm as GS
from pipeline.text import topicmetrics as TX
from pipeline.text import topicmodel as TM

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
    got = TX.npmi_coherence(np.array([[0, 1, 2], [0, 1, 1]]), X)
    assert got[0] == pytest.approx((ab + ac + bc) / 3, abs=1e-12)
    assert ab == pytest.approx(0.415037, abs=1e-6) and ac == pytest.approx(-0.292481, abs=1e-6)
    # a word with itself: P(bb) = P(b) = 1/2 -> log(1/P(b)) / -log P(b) = 1
    assert got[1] == pytest.approx((ab + ab + 1.0) / 3, abs=1e-12)


def test_exclusivity_and_frex_on_a_tiny_matrix():
    tw = np.array([[0.5, 0.3, 0.2], [0.6, 0.1, 0.3]])
    # column sums 1.1, 0.4, 0.5 -> word exclusivity of topic 1: 0.4545, 0.75, 0.4
    ex = TX.word_exclusivity(tw)
    np.testing.assert_allclose(ex[0], [0.5 / 1.1, 0.75, 0.4])
    np.testing.assert_allclose(ex.sum(axis=0), 1.0)
    # top-2 words of topic 1 are words 0 and 1
    assert TX.exclusivity(tw, 2)[0] == pytest.approx((0.5 / 1.1 + 0.75) / 2)
    # FREX (w = 0.5): frequency ECDF 1, 2/3, 1/3; exclusivity ECDF 2/3, 1, 1/3
    fr = TX.frex(tw, 0.5)
    np.testing.assert_allclose(fr[0], [0.8, 0.8, 1 / 3])
    # w = 1: frequency only
    np.testing.assert_allclose(TX.frex(tw, 1.0)[0], [1, 2 / 3, 1 / 3])
    # identical topics: every word's exclusivity is 1/K
    assert TX.exclusivity(np.array([[0.7, 0.3], [0.7, 0.3]]), 1) == pytest.approx([0.5, 0.5])


def test_stability_is_one_for_identical_runs_and_permutation_invariant():
    rng = np.random.default_rng(1)
    a = rng.dirichlet(np.ones(30), size=6)
    assert TX.stability([a, a, a]) == pytest.approx(1.0)
    perm = np.array([3, 0, 5, 1, 4, 2])
    assert TX.stability([a, a[perm]]) == pytest.approx(1.0)
    matched, sims = TX.match_topics(a, a[perm])
    np.testing.assert_array_equal(perm[matched], np.arange(6))
    b = rng.dirichlet(np.ones(30), size=6)
    s = TX.stability([a, b])
    assert 0 < s < 0.95
    assert TX.stability([a, b[perm]]) == pytest.approx(s)


def test_alignment_and_purity_on_a_toy_table():
    # topic x theme counts: topic 1 -> theme 2 (8 of 10), topic 2 -> theme 1 (6 of 8),
    # topic 3 -> theme 3 (5 of 7) but also mostly theme 2 docs would go... keep one-to-one
    topic = np.array([1] * 10 + [2] * 8 + [3] * 7 + [3])
    theme = np.array([2] * 8 + [1] * 2 + [1] * 6 + [3] * 2 + [3] * 5 + [2] * 2 + [0])   # the last is not thematic
    table, summary = CK.align_topics(topic, theme, 3, [1, 2, 3])
    assert table["theme"].tolist() == [2, 1, 3]
    assert table["n_match"].tolist() == [8, 6, 5]
    assert summary["n_docs_themed"] == 25
    assert summary["purity"] == pytest.approx(19 / 25)
    assert summary["bijective"] and summary["matched"] == 3
    # two topics with the same majority theme: one-to-one fails, purity counts the matched diagonal
    topic2 = np.array([1] * 5 + [2] * 5)
    theme2 = np.array([1] * 4 + [2] + [1] * 3 + [2] * 2)
    t2, s2 = CK.align_topics(topic2, theme2, 2, [1, 2])
    assert not s2["bijective"] and s2["majority_purity"] == pytest.approx(0.7)
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
    rows, summary = CK.sign_agreement(levels, alignment, contrasts, "gov_model")
    assert rows.set_index("theme")["estimated_difference"].to_dict() == pytest.approx({2: -0.05, 4: 0.1})
    assert summary == {"n_planted": 2, "n_agree": 0, "share_agree": 0.0}
    # many to one: theme 2 is the majority of topics 2 and 3 -> -0.05 + 0.1
    rows, summary = CK.sign_agreement(levels, alignment, contrasts, "gov_model", mapping="many_to_one")
    assert rows.set_index("theme")["estimated_difference"].to_dict() == pytest.approx({2: 0.05, 4: 0.1})
    assert rows.set_index("theme")["topics"].to_dict() == {2: "2;3", 4: "1"} and summary["n_agree"] == 1


def test_stances_and_their_planted_signs():
    """doc_stances: a turn's main theme with its majority stance; stance_sign_agreement: the
    planted difference of share(theme) x share(stance | theme) against the topic's estimate."""
    truth = pd.DataFrame({"interview_id": "I001", "turn": [0, 0, 0, 1, 1, 2],
                          "sentence": [0, 1, 2, 0, 1, 0], "theme": [2, 2, 5, 4, 2, 4],
                          "turn_theme": [2, 2, 2, 4, 4, 4],
                          "variant": ["administrative", "deliberation", "general", "barrier", "deliberation", "enabler"]})
    docs = pd.DataFrame({"unit_ids": ["I001:1:1;I001:1:2;I001:1:3", "I001:2:1;I001:2:2", "I001:3:1",
                                      "I001:1:1;I001:2:1"]})
    # turn 1: two sentences of its theme 2, one per stance -> the first; a window of two turns -> ""
    assert CK.doc_stances(docs, truth).tolist() == ["2:administrative", "4:barrier", "4:enabler", ""]
    effects = {"expected_share": {"gov_model": {"0": {"4": 0.2}, "1": {"4": 0.1}}},
               "variants": {"4": {"expected_share": {"gov_model": {"0": {"barrier": 0.6, "enabler": 0.4},
                                                                   "1": {"barrier": 0.3, "enabler": 0.7}}},
                                  "contrasts": [{"factor": "gov_model", "level": "1", "reference": "0", "variant": "barrier",
                                                 "planted": True, "sign": -1},
                                                {"factor": "gov_model", "level": "1", "reference": "0", "variant": "enabler",
                                                 "planted": True, "sign": 1}]}}}
    levels = pd.DataFrame({"topic": ["T1", "T1", "T2", "T2"], "factor": "gov_model", "level": ["0", "1", "0", "1"],
                           "estimate": [0.10, 0.05, 0.06, 0.08], "se": 0.01, "ci_low": 0, "ci_high": 1})
    topic = np.array([1, 1, 2, 2, 2])
    stance = np.array(["4:barrier", "4:barrier", "4:enabler", "4:enabler", "4:barrier"])
    rows, summary = CK.stance_sign_agreement(levels, topic, stance, effects, "gov_model")
    # barrier: 0.1 x 0.3 - 0.2 x 0.6 = -0.09; enabler: 0.1 x 0.7 - 0.2 x 0.4 = -0.01 (the theme falls
    # faster than the stance's share rises), so topic 2's rise of +0.02 disagrees
    assert rows["stance"].tolist() == ["barrier", "enabler"] and rows["topics"].tolist() == ["1", "2"]
    assert rows["planted_difference"].tolist() == pytest.approx([-0.09, -0.01])
    assert rows["agree"].tolist() == [True, False] and summary == {"n_planted": 2, "n_agree": 1}
    assert CK.align_stances(topic, stance, 2, ["4:barrier", "4:enabler"]) == {
        "n_classes": 2, "n_docs": 5, "purity": pytest.approx(0.8), "majority_purity": pytest.approx(0.8)}
    # a contrast against several reference levels (level vs the rest) is not compared either
    effects["variants"]["4"]["contrasts"].append({"factor": "gov_model", "level": "1", "reference": ["0", "2"],
                                                  "variant": "barrier", "planted": True, "sign": -1})
    assert CK.stance_sign_agreement(levels, topic, stance, effects, "gov_model")[1] == {"n_planted": 2, "n_agree": 1}
    # a stance without a planted contrast is not compared
    effects["variants"]["4"]["contrasts"][1]["planted"] = False
    assert CK.stance_sign_agreement(levels, topic, stance, effects, "gov_model")[1] == {"n_planted": 1, "n_agree": 1}


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
    phi, pi, assign = TM.fit_dmm(X, 4, random_state=11, n_iter=15)
    assert phi.shape == (4, X.shape[1]) and np.allclose(phi.sum(axis=1), 1) and pi.sum() == pytest.approx(1)
    # the clusters are the planted ones up to a relabelling
    tab = pd.crosstab(assign, z).to_numpy()
    assert tab.shape == (4, 4) and (tab.max(axis=1).sum() / len(z)) == 1.0
    # responsibilities: nearly one-hot, argmax = the Gibbs assignment
    R = TM.dmm_responsibilities(X, phi, pi)
    assert np.allclose(R.sum(axis=1), 1) and (R.argmax(axis=1) == assign).all() and R.max(axis=1).min() > 0.99
    # the same random_state gives the same bits; another one a relabelling of the same clusters
    phi2, pi2, assign2 = TM.fit_dmm(X, 4, random_state=11, n_iter=15)
    assert np.array_equal(phi, phi2) and np.array_equal(assign, assign2)
    phi3, _, _ = TM.fit_dmm(X, 4, random_state=12, n_iter=15)
    assert TX.stability([phi, phi3]) > 0.99
    # held-out perplexity: the true K fits unseen documents better than K = 1
    Xt, _ = _planted_corpus(seed=4, n_docs=60)
    assert TM.dmm_perplexity(Xt, phi, pi) < TM.dmm_perplexity(Xt, *TM.fit_dmm(X, 1, 11, n_iter=2)[:2])
    # through fit_topics: a TopicFit with document proportions and a perplexity
    fit = TM.fit_topics(X, "dmm", 4, 11, TM.parse_settings(dmm_n_iter=15), X_test=Xt)
    assert fit.doc_topic.shape == (X.shape[0], 4) and np.isfinite(fit.perplexity)


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
    coefs, levels = TM.prevalence_effects(data, ["T1"], rhs, ["gov_model", "role"], "cluster", "comm_id")
    ref = smf.ols(f"T1 ~ {rhs}", data).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(data["comm_id"])[0]})
    got = coefs.set_index("term")
    np.testing.assert_allclose(got["estimate"].to_numpy(), ref.params.to_numpy(), rtol=1e-9)   # estimates are rounded to 10 significant digits (core/digits.py)
    np.testing.assert_allclose(got["se"].to_numpy(), ref.bse.to_numpy(), rtol=1e-8)
    # average predicted proportions: difference of gov_model levels is its coefficient
    lv = levels[levels["factor"] == "gov_model"].set_index("level")
    assert lv.loc["1", "estimate"] - lv.loc["0", "estimate"] == pytest.approx(ref.params["gov_model"])
    assert lv.loc["1", "ci_low"] < lv.loc["1", "estimate"] < lv.loc["1", "ci_high"]
    assert set(levels[levels["factor"] == "role"]["level"]) == {"resident", "grid_worker", "committee"}
    # the neutral default (no study variables in code): intercept only, the mean proportion
    s = T.parse_settings({})
    assert (s.formula, s.factors) == ("1", ())
    only, no_levels = TM.prevalence_effects(data, ["T1"], s.formula, s.factors)
    assert only["term"].tolist() == ["Intercept"] and no_levels.empty
    assert only["estimate"].item() == pytest.approx(data["T1"].mean(), rel=1e-9)   # rounded to 10 digits


# --------------------------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------------------------
def _units(texts: list[str], interview: str = "I001") -> pd.DataFrame:
    return pd.DataFrame({"unit_id": [f"{interview}:{i + 1}:1" for i in range(len(texts))], "interview_id": interview,
                         "comm_id": "C001", "role": "resident", "turn": range(1, len(texts) + 1), "sentence": 1,
                         "text": texts, "tokens": texts})


def test_empty_documents_are_flagged_not_fatal():
    docs = D.build_documents(_units(["议事会 网格员", "议事会 积分", "好", "网格员 积分 积分"]), "turn")
    c = D.vectorize(docs, Vocabulary(min_df=2, max_df=1.0))
    assert list(c.flagged["doc_id"]) == ["I001:3"]
    assert c.flagged["reason"].iat[0] == "no vocabulary token"
    assert c.counts.shape == (3, 3) and len(c.docs) == 3
    c2 = D.vectorize(docs, Vocabulary(min_df=2, max_df=1.0), min_doc_tokens=3)
    assert list(c2.flagged["doc_id"]) == ["I001:1", "I001:2", "I001:3"]


def _questions(rows: list[tuple[int, str]], interview: str = "I001") -> pd.DataFrame:
    """Interviewer questions (before_turn, tokens); text = tokens."""
    return pd.DataFrame({"question_id": [f"{interview}:q{i + 1}" for i in range(len(rows))], "interview_id": interview,
                         "question": range(1, len(rows) + 1), "before_turn": [b for b, _ in rows],
                         "text": [t for _, t in rows], "tokens": [t for _, t in rows]})


def test_exchange_documents_put_the_question_before_the_answer():
    u = _units(["积分 超市", "对", "议事会 商量 积分"])
    q = _questions([(1, "积分 咋样"), (2, "还有 呢"), (2, "议事会"), (0, "结束 谢谢")])
    docs = D.build_documents(u, "exchange", questions=q)
    assert docs["doc_id"].tolist() == ["I001:1", "I001:2", "I001:3"]
    # the question's tokens first; two questions before one turn are both kept, in order; a turn
    # without a question is the turn alone; a question before no turn (before_turn 0) is left out
    assert docs["tokens"].tolist() == ["积分 咋样 积分 超市", "还有 呢 议事会 对", "议事会 商量 积分"]
    assert docs["question_ids"].tolist() == ["I001:q1", "I001:q2;I001:q3", ""]
    assert docs["text"].tolist() == ["积分 超市", "对", "议事会 商量 积分"]          # the answer only
    assert docs["question"].iat[1] == "还有 呢议事会"
    # a one-word answer that is flagged as a turn is modelled as an exchange
    assert list(D.vectorize(D.build_documents(u, "turn"), Vocabulary(min_df=2, max_df=1.0)).flagged["doc_id"]) == ["I001:2"]
    assert D.vectorize(docs, Vocabulary(min_df=2, max_df=1.0)).flagged.empty
    with pytest.raises(PipelineError, match="exchange needs the interviewer's questions"):
        D.build_documents(u, "exchange")
    with pytest.raises(PipelineError, match=r"questions: columns \['tokens'\] are missing"):
        D.build_documents(u, "exchange", questions=q.drop(columns="tokens"))


def test_split_merge_leaves_a_stuck_mode():
    """A mode Gibbs cannot leave one document at a time: planted clusters 0 and 1 share topic 0
    while cluster 2 is split over topics 1 and 2. One split-merge move merges 1 + 2 and splits
    topic 0, which gives the planted partition and a higher collapsed log joint; at the planted
    partition no move is made."""
    X, truth = _planted_corpus(seed=6, n_docs=200, k=4)
    X = sparse.csr_matrix(X)
    a, b = 0.1, 0.1
    z = truth.copy()
    z[truth == 1] = 0
    in2 = np.flatnonzero(truth == 2)
    z[in2] = 2
    z[in2[: len(in2) // 2]] = 1               # topic 1 now holds half of cluster 2
    z[truth == 3] = 3
    data = GS.DMMDocs.of(X, a, b)

    def state(z):
        st = GS.DMMState(4, X.shape[1])
        st.add(np.arange(X.shape[0]), z, data)
        return st

    before = TM.dmm_log_posterior(X, z, 4, a, b)
    # the per-topic scores add up to the log joint (up to its z-free constant)
    st = state(z)
    const = before - GS.topic_score(st, data).sum()
    rng = np.random.default_rng(1)
    assert GS.split_merge(z, st, data, rng)
    after = TM.dmm_log_posterior(X, z, 4, a, b)
    assert after > before
    assert after - const == pytest.approx(GS.topic_score(st, data).sum())
    assert pd.crosstab(z, truth).gt(0).sum(axis=1).eq(1).all()         # every topic is one planted cluster
    fresh = state(z)                           # the statistics were updated with the move
    assert np.array_equal(fresh.nkw, st.nkw) and np.array_equal(fresh.m, st.m) and np.array_equal(fresh.nk, st.nk)
    z2 = z.copy()
    assert not GS.split_merge(z2, st, data, rng) and (z2 == z).all()
    # through fit_dmm: the same seed, bit-identical; split-merge never ends below plain Gibbs here
    f1 = TM.fit_dmm(X, 4, 3, a, b, n_iter=2, split_merge=5)
    f2 = TM.fit_dmm(X, 4, 3, a, b, n_iter=2, split_merge=5)
    assert all(np.array_equal(p, q) for p, q in zip(f1, f2))
    plain = TM.fit_dmm(X, 4, 3, a, b, n_iter=2)
    assert TM.dmm_log_posterior(X, f1[2], 4, a, b) >= TM.dmm_log_posterior(X, plain[2], 4, a, b)


def test_dmm_log_posterior_and_restarts():
    """The collapsed log joint equals a direct sum over documents (sequential predictive rule),
    and the final fit keeps the most probable of the restarted chains."""
    from scipy.special import gammaln

    X, _ = _planted_corpus(seed=5, n_docs=40)
    k, a, b = 3, 0.1, 0.1
    z = np.random.default_rng(1).integers(0, k, X.shape[0])
    # p(z, w) built up one document at a time: p(z_d | z_<d) p(w_d | z_d, w_<d)
    Xd = X.toarray()
    V = Xd.shape[1]
    m, nkw = np.zeros(k), np.zeros((k, V))
    direct = 0.0
    for d in range(len(z)):
        t, c = z[d], Xd[d]
        direct += np.log((m[t] + a) / (d + k * a))
        direct += (gammaln(nkw[t] + b + c) - gammaln(nkw[t] + b)).sum()
        direct -= gammaln(nkw[t].sum() + V * b + c.sum()) - gammaln(nkw[t].sum() + V * b)
        m[t] += 1
        nkw[t] += c
    assert TM.dmm_log_posterior(X, z, k, a, b) == pytest.approx(direct, rel=1e-12)
    s = TM.parse_settings(dmm_n_iter=3, dmm_restarts=4)
    fit, chains = TM.fit_final(X, "dmm", k, 11, s)
    assert len(chains) == 4 and chains["chosen"].sum() == 1
    assert chains.loc[chains["chosen"], "log_posterior"].item() == chains["log_posterior"].max()
    best = chains.loc[chains["chosen"]].iloc[0]
    tw, pi, _ = TM.fit_dmm(X, k, int(best["random_state"]), a, b, 3)
    np.testing.assert_array_equal(fit.topic_word, tw)
    one, one_chain = TM.fit_final(X, "dmm", k, 11, TM.parse_settings(dmm_n_iter=3, dmm_restarts=1))
    assert len(one_chain) == 1 and one_chain["random_state"].item() == chains["random_state"].iat[0]


def test_final_chains_on_a_sample_then_the_whole_corpus():
    """Above dmm.chain_max_docs the chains run on a seeded sample and the kept chain's topics
    start Gibbs sweeps over every document; the planted clusters come out, and the chains give
    the same bits in one or two processes."""
    X, truth = _planted_corpus(seed=8, n_docs=300)
    s = TM.parse_settings(dmm_n_iter=5, dmm_split_merge=5, dmm_restarts=2, dmm_chain_max_docs=120)
    fit, chains = TM.fit_final(X, "dmm", 4, 3, s)
    assert chains["chain"].tolist() == [1, 2, 0] and chains["n_docs"].tolist() == [120, 120, 300]
    assert chains["chosen"].tolist().count(True) == 2 and chains["chosen"].iat[-1]
    assert fit.doc_topic.shape == (300, 4)
    tab = pd.crosstab(fit.doc_topic.argmax(axis=1), truth).to_numpy()
    assert tab.max(axis=1).sum() == 300 and tab.shape == (4, 4)
    fit2, chains2 = TM.fit_final(X, "dmm", 4, 3, dataclasses.replace(s, n_jobs=2, serial_below_s=0))
    np.testing.assert_array_equal(fit.topic_word, fit2.topic_word)
    pd.testing.assert_frame_equal(chains, chains2)
    # within the cap: the chains run on every document and no whole-corpus row is added
    _, small = TM.fit_final(X, "dmm", 4, 3, dataclasses.replace(s, dmm_chain_max_docs=300))
    assert small["chain"].tolist() == [1, 2] and (small["n_docs"] == 300).all()


def test_window_documents():
    u = _units(["a", "b", "c", "d", "e"])
    docs = D.build_documents(u, "window", 2)
    assert docs["doc_id"].tolist() == ["I001:w1", "I001:w2", "I001:w3"]
    assert docs["unit_ids"].iat[0] == "I001:1:1;I001:2:1" and docs["tokens"].iat[2] == "e"


def test_grid_too_large_for_the_corpus_names_grid_and_documents():
    with pytest.raises(PipelineError, match=r"k_grid \[5, 10\].*40 training documents"):
        TX.check_grid([5, 10], 40, 500, 5)
    TX.check_grid([5, 8], 40, 500, 5)


def test_labels_naming_unknown_topics(tmp_path):
    f = tmp_path / "labels.yaml"
    f.write_text("1: 议事协商\n12: 不存在\nx: 也不对\n", encoding="utf-8")
    with pytest.raises(PipelineError) as exc:
        TM.read_labels(f, 9)
    assert str(f) in str(exc.value) and "12" in str(exc.value) and "'x'" in str(exc.value)
    f.write_text("1: 议事协商\n3: 社会组织\n", encoding="utf-8")
    assert TM.read_labels(f, 9) == {1: "议事协商", 3: "社会组织"}
    with pytest.raises(PipelineError, match="not found"):
        TM.read_labels(tmp_path / "none.yaml", 9)


def test_bad_settings():
    with pytest.raises(PipelineError, match="topics.unit"):
        T.parse_settings({"unit": "paragraph"})
    with pytest.raises(PipelineError, match="fixed_k"):
        T.parse_settings({"k_grid": [5, 6], "selection": {"fixed_k": 9}})
    with pytest.raises(PipelineError, match=r"topics.kgrid \(did you mean 'k_grid'\?\)"):
        T.parse_settings({"kgrid": [5]})
    with pytest.raises(PipelineError, match="dmm.gamma"):
        T.parse_settings({"dmm": {"gamma": 1}})
    with pytest.raises(PipelineError, match="dmm.alpha"):
        T.parse_settings({"dmm": {"alpha": 0}})
    with pytest.raises(PipelineError, match="dmm.restarts"):
        T.parse_settings({"dmm": {"restarts": 0}})
    assert T.parse_settings({}).unit == "auto" and T.parse_settings({"dmm": {"restarts": 3}}).dmm_restarts == 3
    assert T.parse_settings({"models": ["dmm"], "dmm": {"n_iter": 5}}).dmm_n_iter == 5


# --------------------------------------------------------------------------------------------
# the stage: determinism on a small corpus, and the demo study
# --------------------------------------------------------------------------------------------
SMALL = {"k_grid": [3, 4], "seeds": 2, "models": ["dmm", "lda", "nmf"], "lda": {"max_iter": 10},
         "dmm": {"n_iter": 5, "restarts": 2, "split_merge": 3}, "n_jobs": 1,
         "vocabulary": {"min_df": 2, "max_df": 0.3}}


def _stage(tmp: Path, units: tuple[Path, Path], overrides: dict, name: str) -> Path:
    params = load_params(ROOT / "studies/demo/params.yaml")
    params["topics"] = {**params["topics"], **overrides}
    params["parallel"] = {**params["parallel"], "serial_below_s": 0}      # n_jobs > 1: the workers, always
    pfile = tmp / f"params_{name}.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    out = tmp / name
    T.main(["--params", str(pfile), "--units", str(units[0]), "--questions", str(units[1]),
            "--communities", str(units[0].with_name("communities.csv")),
            "--out", str(out / "topics"), "--metrics", str(out / "topics.json")])
    return out


@pytest.fixture(scope="module")
def small_units(demo_study, tmp_path_factory):
    """The first 20 interviews of the demo study's units and questions, with its communities."""
    src = demo_study / "processed" / "transcripts" / "units.parquet"
    units = pd.read_parquet(src)
    questions = pd.read_parquet(src.with_name("questions.parquet"))
    keep = sorted(units["interview_id"].unique())[:20]
    folder = tmp_path_factory.mktemp("units")
    units[units["interview_id"].isin(keep)].to_parquet(folder / "units.parquet", index=False)
    questions[questions["interview_id"].isin(keep)].to_parquet(folder / "questions.parquet", index=False)
    (folder / "communities.csv").write_bytes((demo_study / "raw" / "communities.csv").read_bytes())
    return folder / "units.parquet", folder / "questions.parquet"


def test_same_seed_gives_identical_files(tmp_path, small_units):
    a = _stage(tmp_path, small_units, SMALL, "a")
    b = _stage(tmp_path, small_units, {**SMALL, "n_jobs": 2}, "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert {str(f) for f in files} >= {"topics.json", "topics/k_selection.csv", "topics/topics.csv",
                                       "topics/topic_words.csv", "topics/doc_topics.parquet",
                                       "topics/exemplars.csv", "topics/prevalence.csv",
                                       "topics/prevalence_levels.csv", "topics/flagged_docs.csv",
                                       "topics/final_chains.csv"}
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    # a too-large grid stops the stage with the clear error and leaves no output
    with pytest.raises(PipelineError, match="too large for the corpus"):
        _stage(tmp_path, small_units, {**SMALL, "k_grid": [3, 200]}, "c")
    assert not (tmp_path / "c").exists()


@pytest.fixture(scope="module")
def demo(demo_study):
    return demo_study


def test_topics_runs_without_the_demo_truth(demo, tmp_path):
    """In a copy of the demo study without raw/truth (and a small grid) the topics stage runs:
    no alignment among its outputs, and its command line has no --truth (the demo's checks are
    the demo_checks stage's)."""
    work = tmp_path / "study"
    for rel in ("config", "studies/demo", "raw/communities.csv", "processed/transcripts"):
        src, dst = demo / rel, work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst) if src.is_dir() else shutil.copyfile(src, dst)
    params = yaml.safe_load((demo / "studies/demo/params.yaml").read_text(encoding="utf-8"))
    params["topics"].update({"k_grid": [8, 9], "seeds": 2})
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    assert not (work / "raw" / "truth").exists()
    env = {**os.environ, "PIPELINE_TIMINGS": str(tmp_path / "timings"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "pipeline", "topics", "--params", "params.yaml"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    out = work / "processed" / "topics"
    assert (out / "topics.csv").is_file() and (out / "prevalence_levels.csv").is_file()
    assert not (out / "alignment.csv").exists() and not (out / "sign_agreement.csv").exists()
    assert "alignment" not in json.loads((work / "metrics" / "topics.json").read_text(encoding="utf-8"))
    assert not {"theme", "theme_label", "purity"} & set(pd.read_csv(out / "topics.csv").columns)
    proc = subprocess.run([*cmd, "--truth", "raw/truth"], cwd=work, capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "unrecognized arguments: --truth" in proc.stderr


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
    checks = json.loads((demo / "metrics" / "demo_checks.json").read_text(encoding="utf-8"))
    assert checks["alignment"]["n_docs_themed"] > 1000 and checks["alignment"]["gov_model_signs_planted"] == 5
    alignment = pd.read_csv(demo / "processed" / "demo_checks" / "alignment.csv")
    assert alignment["topic"].tolist() == list(range(1, k + 1)) and alignment["n_docs"].sum() == checks["alignment"]["n_docs_themed"]
    signs = pd.read_csv(demo / "processed" / "demo_checks" / "sign_agreement.csv")
    assert set(signs["mapping"]) == {"one_to_one", "many_to_one", "stance"}
    assert sorted(signs.loc[signs["mapping"] != "stance", "theme"].unique()) == [2, 3, 4, 6, 8]
    chains = pd.read_csv(out / "final_chains.csv")
    assert chains["chosen"].sum() == 1 and chains.loc[chains["chosen"], "log_posterior"].item() == chains["log_posterior"].max()
    assert m["final_log_posterior"] == pytest.approx(chains["log_posterior"].max())


def test_demo_recovers_planted_themes(demo):
    """Issue #7's targets on the demo study (measured: DMM K = 12 on exchange documents,
    one-to-one purity 0.854, many-to-one 0.996, all 9 themes; docs/topics.md)."""
    m = json.loads((demo / "metrics" / "demo_checks.json").read_text(encoding="utf-8"))["alignment"]
    # topics matched one to one (Hungarian) to the nine themes: documents on the diagonal >= 0.80
    assert m["purity"] >= 0.80 and m["themes_recovered"] == 9 and m["matched"] == 9
    assert m["majority_purity"] >= 0.95
    # governance differences have the planted signs: each theme's prevalence (the sum of its
    # topics) for all five planted themes, and each topic that carries one planted stance
    assert m["gov_model_signs_agree_many_to_one"] == m["gov_model_signs_planted"] == 5
    st = m["stances"]
    assert st["gov_model_signs_planted"] >= 2 and st["gov_model_signs_agree"] == st["gov_model_signs_planted"]
    assert st["purity"] >= 0.90 and st["n_classes"] == 13


def test_grid_document_cap_is_a_seeded_sample_and_a_no_op_within_the_cap():
    from pipeline.text.documents import cap_documents

    train, test = np.arange(0, 8000, 2), np.arange(1, 2000, 2)
    same = cap_documents(train, test, 5000, seed=1)
    assert same[0] is train and same[1] is test
    a = cap_documents(train, test, 1000, seed=1)
    b = cap_documents(train, test, 1000, seed=1)
    assert len(a[0]) == 1000 and len(a[1]) == 250
    assert set(a[0]) <= set(train) and set(a[1]) <= set(test) and (np.diff(a[0]) > 0).all()
    assert all((x == y).all() for x, y in zip(a, b))
    assert not (cap_documents(train, test, 1000, seed=2)[0] == a[0]).all()


def test_counts_are_scikit_learns_without_importing_it(small_units):
    """documents.count_matrix and the min_df rule give CountVectorizer's vocabulary and matrix
    (values, dtypes, sorted indices), and vectorizing imports no scikit-learn (2 CPU-s)."""
    import subprocess
    import sys

    from sklearn.feature_extraction.text import CountVectorizer

    from pipeline.text.documents import _min_df_counts, count_matrix

    texts = [str(t) for t in pd.read_parquet(small_units[0])["tokens"]] + ["", "a a b"]
    for min_df in (1, 2, 3, 0.02):
        vec = CountVectorizer(analyzer=str.split, min_df=min_df, dtype=np.int64)
        want = vec.fit_transform(texts).tocsr()
        want.sort_indices()
        words, got = _min_df_counts(texts, min_df, len(texts))
        assert list(words) == list(vec.get_feature_names_out())
        fixed = CountVectorizer(analyzer=str.split, vocabulary=list(words), dtype=np.int64).fit_transform(texts).tocsr()
        for a, b in ((want, got), (fixed, count_matrix(texts, list(words)))):
            for part in ("data", "indices", "indptr"):
                x, y = getattr(a, part), getattr(b, part)
                assert x.dtype == y.dtype and np.array_equal(x, y)
    code = ("import sys, pandas as pd; from pipeline.text.documents import vectorize; "
            f"vectorize(pd.DataFrame({{'tokens': {texts[:50]!r}, 'doc_id': range(50), 'unit_ids': '', "
            "'interview_id': '', 'n_units': 1})); print('sklearn' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


@pytest.mark.parametrize("unit", ["exchange", "turn", "window"])
def test_documents_are_the_groupby_joins_of_their_units(unit):
    """build_documents joins each document's units by slices of the sorted rows
    (documents._joined_runs); check it against pandas' groupby joins on shuffled units with empty
    tokens, several sentences per turn, two interviews and questions before some turns."""
    rng = np.random.default_rng(2)
    rows = [{"unit_id": f"I{i}:{t}:{s}", "interview_id": f"I{i}", "comm_id": f"C{i}", "role": "resident", "turn": t,
             "sentence": s, "text": f"句{i}{t}{s}。", "tokens": "" if rng.random() < 0.2 else f"词{t} 字{s}"}
            for i in (1, 2) for t in (1, 3, 4) for s in range(1, 1 + int(rng.integers(1, 4)))]
    units = pd.DataFrame(rows).sample(frac=1, random_state=3).reset_index(drop=True)
    questions = pd.DataFrame({"question_id": ["q1", "q2", "q3"], "interview_id": ["I1", "I1", "I2"],
                              "question": [1, 2, 1], "before_turn": [3, 3, 1], "text": ["问一", "问二", "问三"],
                              "tokens": ["问 一", "", "问 三"]})
    docs = D.build_documents(units, unit, 2, questions, "comm_id")
    u = units.sort_values(["interview_id", "turn", "sentence"])
    key = (u["interview_id"] + ":w" + (u.groupby("interview_id").cumcount() // 2 + 1).astype(str) if unit == "window"
           else u["interview_id"] + ":" + u["turn"].astype(str))
    g = u.assign(doc_id=key).groupby("doc_id", sort=False)
    assert docs["doc_id"].tolist() == list(g.groups)
    assert docs["unit_ids"].tolist() == g["unit_id"].agg(";".join).tolist()
    assert docs["text"].tolist() == g["text"].agg("".join).tolist()
    assert docs["n_units"].tolist() == g.size().tolist() and docs["comm_id"].tolist() == g["comm_id"].first().tolist()
    words = g["tokens"].agg(lambda t: " ".join(x for x in t if x))
    if unit == "exchange":
        assert docs.set_index("doc_id").loc["I1:3", "question"] == "问一问二"
        assert docs.set_index("doc_id").loc["I1:3", "tokens"] == "问 一 " + words["I1:3"]
    else:
        assert docs["tokens"].tolist() == words.tolist()

"""Topic models that hold on real text (issue 18): the vocabulary's token hygiene and its audit,
the rule that chooses K from evidence that survives reseeding, and exemplars ranked by a score
that does not tie. Hand-made cases here; the real corpora and the demo reseeded at the end
(slow)."""
from __future__ import annotations

import contextlib
import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import sparse

from pipeline.core.config import load_params
from pipeline.core.settings import Vocabulary
from pipeline.text import documents as D
from pipeline.text import topicmodel as TM
from pipeline.text import topicselect as TS

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "tests" / "fixtures" / "corpus"


# --------------------------------------------------------------------------------------------
# token hygiene
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("token, rule", [
    ("，", "symbols"), ("……", "symbols"), ("_", "symbols"), ("__", "symbols"), ("_x000D_", "symbols"),
    ("工资_x000D_", "symbols"), ("a_b", "symbols"), ("\x0d", "symbols"), ("工\u200b资", "symbols"),
    ("2019", "numbers"), ("３.５", "numbers"), ("10%", "numbers"), ("1,000", "numbers"),
    ("K", "latin_codes"), ("K1", "latin_codes"), ("L9", "latin_codes"), ("ＡＢ１２", "latin_codes"), ("4S", "latin_codes"),
    ("干", "min_chars"), ("当", "min_chars"), ("的", "min_chars"),
    ("水", None), ("工资", None), ("WiFi", None), ("APP", None), ("2019年", None), ("A市", None),
])
def test_token_rules(token, rule):
    assert D.token_rule(token, Vocabulary()) == rule


def test_token_rules_are_configurable():
    assert D.token_rule("2019", Vocabulary(numbers=False)) is None
    assert D.token_rule("K1", Vocabulary(latin_codes=0)) is None
    assert D.token_rule("APP", Vocabulary(latin_codes=3)) == "latin_codes"
    assert D.token_rule("干", Vocabulary(min_chars=1)) is None
    assert D.token_rule("干", Vocabulary(keep=["干"])) is None and D.token_rule("水", Vocabulary(keep=[])) == "min_chars"
    assert D.token_rule("_x000D_", Vocabulary(symbols=False)) is None
    assert D.token_rule("工资", Vocabulary(stopwords=["工资"])) == "stopwords"


def test_residual_idf_hand_computed():
    # word 0 twice in document 0 only; word 1 once in each of documents 0 and 1; lengths 3 and 1
    X = sparse.csr_matrix(np.array([[2, 1], [0, 1]]))
    # both words: share 2/4, so a Poisson word would be in (1 - e^-1.5) + (1 - e^-0.5) documents;
    # word 0 is in 1 of them, word 1 in 2: the bursty word scores one bit more
    e = (1 - math.exp(-1.5)) + (1 - math.exp(-0.5))
    np.testing.assert_allclose(D.residual_idf(X), [math.log2(e / 1), math.log2(e / 2)])
    np.testing.assert_allclose(D.residual_idf(X, [1]), [math.log2(e / 2)])


def _units(token_lists: list[str]) -> pd.DataFrame:
    n = len(token_lists)
    return pd.DataFrame({"unit_id": [f"I{i:03d}:1:1" for i in range(n)], "interview_id": [f"I{i:03d}" for i in range(n)],
                         "role": "resident", "turn": 1, "sentence": 1, "text": token_lists, "tokens": token_lists})


def test_frequent_words_of_one_subject_stay_and_every_rule_is_audited():
    # 20 documents: wages (工资 three times in each) in 5, hospitals in 5, roads in 10; 希望 once
    # in 12 of them, whatever the subject; a rarer word of each subject in 3; junk tokens
    docs = ([f"工资 工资 工资 拖欠 公司 {'希望 欠薪' if i < 3 else ''} _x000D_" for i in range(5)]
            + [f"医院 看病 医生 {'希望 挂号' if i < 3 else ''} K1" for i in range(5)]
            + [f"道路 修路 {'希望 积水' if i < 3 else '希望' if i < 6 else ''} 2019 干 ，" for i in range(10)])
    c = D.vectorize(D.build_documents(_units(docs), "turn"), Vocabulary(min_df=2, max_df=0.2))
    # 工资 is in 25 % of the documents (> max_df) but in bursts: kept; 希望 (60 %), 拖欠 or 医院
    # (25 %, once in a document) are not
    assert c.vocab.tolist() == ["工资", "挂号", "欠薪", "积水"]
    audit = c.audit.set_index("rule")
    assert list(c.audit["rule"]) == ["stopwords", "symbols", "numbers", "latin_codes", "min_chars", "min_df", "max_df",
                                     "max_df_kept"]
    assert audit.loc["symbols", "examples"] == "， _x000D_" and audit.loc["symbols", "n_tokens"] == 15
    assert audit.loc["latin_codes", "examples"] == "K1" and audit.loc["numbers", "examples"] == "2019"
    assert audit.loc["min_chars", "examples"] == "干" and audit.loc["min_chars", "n_tokens"] == 10
    assert audit.loc["max_df_kept", "examples"] == "工资" and audit.loc["max_df_kept", "n_tokens"] == 15
    assert audit.loc["max_df", "examples"].split()[0] == "希望" and audit.loc["max_df", "n_words"] == 8
    assert audit.loc["min_df", "n_words"] == 0 and audit.loc["min_df", "examples"] == ""   # rare words: never listed
    # max_df_ridf: null is the document-frequency cut alone
    strict = D.vectorize(D.build_documents(_units(docs), "turn"), Vocabulary(min_df=2, max_df=0.2, max_df_ridf=None))
    assert "工资" not in set(strict.vocab)


def test_the_default_vocabulary_rules_are_written_once():
    from pipeline.core.settings import KEEP_SINGLE, Topics

    s = TM.parse_settings({})
    assert s.vocabulary == Topics().vocabulary and list(s.vocabulary.keep) == KEEP_SINGLE
    assert TM.parse_settings().vocabulary == Vocabulary()


# --------------------------------------------------------------------------------------------
# the selection rule
# --------------------------------------------------------------------------------------------
def _runs(spec: dict[tuple[str, int], list[tuple[float, float, float]]]) -> pd.DataFrame:
    """Seed runs: (model, k) -> [(coherence, exclusivity, stability), ...]."""
    rows = [{"model": m, "k": k, "run": r + 1, "coherence_npmi": c, "exclusivity": e, "stability": s,
             "perplexity": np.nan} for (m, k), runs in spec.items() for r, (c, e, s) in enumerate(runs)]
    return pd.DataFrame(rows, columns=["model", "k", "run", "coherence_npmi", "exclusivity", "stability", "perplexity"])


def _settings(**kw) -> TM.Settings:
    return TM.parse_settings(**{"models": ("lda", "nmf"), "k_grid": (5, 6, 7), "min_stability": 0.8, **kw})


def test_families_are_compared_like_with_like():
    """NMF's exclusivity sits on another scale (0.9 against LDA's 0.3): standardised within each
    family, it cannot win on that; the family with the more coherent pick does."""
    spec = {("lda", 5): [(0.30, 0.30, 0.90)] * 3, ("lda", 6): [(0.32, 0.32, 0.91)] * 3, ("lda", 7): [(0.20, 0.25, 0.88)] * 3,
            ("nmf", 5): [(0.10, 0.90, 0.90)] * 3, ("nmf", 6): [(0.12, 0.95, 0.92)] * 3, ("nmf", 7): [(0.11, 0.93, 0.90)] * 3}
    table, decision = TS.select_model(_runs(spec), _settings())
    assert table.loc[table["chosen"], ["model", "k"]].values.tolist() == [["lda", 6]]
    assert decision == {"selection": "rule", "selection_fallback": False, "selection_reason": decision["selection_reason"]}
    # within a family the scores are z-scores: mean 0 over its rows
    assert table.groupby("model")["score"].mean().abs().max() < 1e-9
    assert list(table.columns) == TS.K_COLUMNS
    assert (table[["coherence_npmi_sd", "stability_sd"]] == 0).all().all()
    # the old rule (one z-score over both families) would have taken NMF for its exclusivity
    pooled = table.assign(z=(table["exclusivity"] - table["exclusivity"].mean()) / table["exclusivity"].std(ddof=0))
    assert pooled.loc[pooled["z"].idxmax(), "model"] == "nmf"


def test_the_best_k_when_stable_and_the_smallest_within_the_band_in_a_fallback():
    # K 7 has the best mean score, but K 5's runs overlap it
    spec = {("lda", 5): [(0.30, 0.5, 0.85), (0.20, 0.4, 0.83), (0.25, 0.45, 0.84)],
            ("lda", 6): [(0.10, 0.3, 0.82), (0.05, 0.3, 0.81), (0.08, 0.35, 0.82)],
            ("lda", 7): [(0.33, 0.5, 0.86), (0.22, 0.45, 0.85), (0.27, 0.5, 0.84)]}
    table, decision = TS.select_model(_runs(spec), _settings(models=("lda",)))
    t = table.set_index("k")
    assert t["score"].idxmax() == 7 and t.loc[5, "within_se"] and t.loc[7, "within_se"] and not t.loc[6, "within_se"]
    assert t.loc[7, "chosen"] and decision["selection"] == "rule" and "the best score" in decision["selection_reason"]
    assert t.loc[5, "coherence_npmi_min"] == pytest.approx(0.20) and t.loc[5, "coherence_npmi_max"] == pytest.approx(0.30)
    assert t.loc[5, "score_sd"] > 0 and t.loc[5, "stability_sd"] == pytest.approx(0.01)
    # the same evidence with every K below min_stability: a fallback, and the smallest K within the band
    table, decision = TS.select_model(_runs(spec), _settings(models=("lda",), min_stability=0.9))
    t = table.set_index("k")
    assert t.loc[5, "chosen"] and decision["selection"] == "fallback" and t["selection_fallback"].all()
    assert "the smallest K whose score is within 2 standard errors of its difference" in decision["selection_reason"]


def test_a_fallback_when_no_k_is_stable_enough_is_said():
    spec = {("dmm", k): [(0.1 * k, 0.5, 0.6 + 0.01 * k + 0.001 * r) for r in range(3)] for k in (5, 6, 7)}
    table, decision = TS.select_model(_runs(spec), _settings(models=("dmm",)))
    assert decision["selection_fallback"] is True and decision["selection"] == "fallback"
    assert "no (model, K) reached stability 0.8 (best 0.671: dmm K = 7)" in decision["selection_reason"]
    assert table["selection_fallback"].all() and not table["eligible"].any() and table["score"].notna().all()
    assert table.loc[table["chosen"], "within_se"].all()
    # a family with a stable K beats one without, whatever the coherence
    spec[("lda", 5)] = [(0.0, 0.5, 0.9)] * 3
    table, decision = TS.select_model(_runs(spec), _settings(models=("dmm", "lda")))
    assert table.loc[table["chosen"], ["model", "k"]].values.tolist() == [["lda", 5]]
    assert decision["selection_fallback"] is False
    assert table.loc[table["model"] == "dmm", "selection_fallback"].all()
    assert not table.loc[table["model"] == "lda", "selection_fallback"].any()


def test_the_score_error_counts_the_pairs_the_runs_share():
    """A run's stability is its mean cosine to the other runs: three runs share three pairs
    (cosines 0.9, 0.7, 0.8 for pairs 12, 13, 23), so left out, a run takes two of them with it and
    the other two runs keep one pair. The jackknife over the runs counts that; the runs' sd / √n
    does not (here 4 times smaller)."""
    pairs = {(1, 2): 0.9, (1, 3): 0.7, (2, 3): 0.8}
    stab = [np.mean([v for p, v in pairs.items() if r in p]) for r in (1, 2, 3)]      # 0.8, 0.85, 0.75
    spec = {("dmm", 5): [(0.1, 0.5, s) for s in stab], ("dmm", 6): [(0.1 + 0.01 * r, 0.5, 0.7) for r in range(3)]}
    runs = _runs(spec)
    loo = TS.leave_one_out(runs)
    np.testing.assert_allclose(loo.loc[loo["k"] == 5, "stability"], [0.8, 0.7, 0.9])     # the pair without the run
    np.testing.assert_allclose(loo.loc[loo["k"] == 6, "coherence_npmi"], [0.115, 0.11, 0.105])
    table, _ = TS.select_model(runs, _settings(models=("dmm",), k_grid=(5, 6), criteria=("stability",), min_stability=0.9))
    # one criterion, z-scored by the sd of the two K's means (0.8, 0.7: 0.05): se = the jackknife
    # se of the pairs' mean over 0.05 = sqrt(2/3 * 0.02) / 0.05
    t = table.set_index("k")
    assert t.loc[5, "score_se"] == pytest.approx(math.sqrt(2 / 3 * 0.02) / 0.05)
    assert t.loc[5, "score_se"] == pytest.approx(4 * t.loc[5, "score_sd"] / math.sqrt(3))
    assert t.loc[6, "score_se"] == 0


def test_a_fallback_k_is_told_apart_from_the_best_by_two_standard_errors():
    """In a fallback the smallest K within 2 standard errors of the difference from the best: a
    lower score whose runs overlap the best's is kept, one clearly below is not."""
    base = [(0.10, 0.5, 0.60), (0.12, 0.5, 0.61), (0.14, 0.5, 0.62)]
    noisy = [(c + d, e, s) for (c, e, s), d in zip(base, (-0.06, 0.0, 0.04))]
    spec = {("dmm", 5): noisy, ("dmm", 6): [(c + 0.05, e, s) for c, e, s in base], ("dmm", 7): base}
    table, decision = TS.select_model(_runs(spec), _settings(models=("dmm",), criteria=("coherence_npmi",)))
    t = table.set_index("k")
    assert decision["selection"] == "fallback" and t["score"].idxmax() == 6
    assert t.loc[5, "within_se"] and t.loc[5, "chosen"]    # NPMI 0.113 against 0.17, se 0.041 and 0.012: 0.057 < 0.084
    spec[("dmm", 5)] = [(c - 0.04, e, s) for c, e, s in base]    # 0.08 against 0.17, se 0.012 each: 0.09 > 0.033
    table, _ = TS.select_model(_runs(spec), _settings(models=("dmm",), criteria=("coherence_npmi",)))
    t = table.set_index("k")
    assert not t.loc[5, "within_se"] and t.loc[6, "chosen"]


def test_forced_model_or_k():
    spec = {("lda", 5): [(0.3, 0.9, 0.5)] * 3, ("lda", 6): [(0.2, 0.8, 0.9)] * 3, ("lda", 7): [(0.1, 0.7, 0.9)] * 3,
            ("nmf", 5): [(0.1, 0.6, 0.9)] * 3, ("nmf", 6): [(0.2, 0.7, 0.9)] * 3, ("nmf", 7): [(0.25, 0.75, 0.95)] * 3}
    runs = _runs(spec)
    table, decision = TS.select_model(runs, _settings(fixed_model="lda", fixed_k=5))
    assert table.loc[table["chosen"], ["model", "k"]].values.tolist() == [["lda", 5]] and decision["selection"] == "forced"
    assert not table.loc[table["chosen"], "eligible"].item()          # taken although unstable
    table, _ = TS.select_model(runs, _settings(fixed_model="nmf"))
    assert table.loc[table["chosen"], "model"].item() == "nmf"
    only_k = runs[runs["model"] == "lda"]
    table, _ = TS.select_model(only_k, _settings(models=("lda",), fixed_k=5))
    assert table.loc[table["chosen"], "k"].item() == 5


# --------------------------------------------------------------------------------------------
# exemplars
# --------------------------------------------------------------------------------------------
def test_exemplars_rank_by_a_score_that_does_not_tie():
    """A hard mixture gives every document of a topic the loading 1.0: the exemplars are ranked by
    how typical their words are of the topic, not by file order."""
    vocab = np.array(["医院", "看病", "电线", "停电", "希望"])
    X = sparse.csr_matrix(np.array([
        [0, 0, 1, 1, 1],     # 0: power lines, but file order first
        [1, 0, 0, 0, 3],     # 1: hospital, mostly 希望
        [2, 2, 0, 0, 0],     # 2: hospital, only its words
        [1, 1, 0, 0, 1],     # 3: hospital
        [0, 0, 2, 1, 0],     # 4: power lines
    ]))
    tw = np.array([[0.45, 0.35, 0.01, 0.01, 0.18], [0.01, 0.01, 0.45, 0.35, 0.18]])
    theta = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    fit = TM.TopicFit("dmm", 2, tw, theta)
    docs = pd.DataFrame({"doc_id": [f"d{i}" for i in range(5)], "unit_ids": [f"u{i}" for i in range(5)],
                         "interview_id": [f"I{i}" for i in range(5)], "role": ["resident", "cadre"] * 2 + ["resident"],
                         "text": ["电线", "医院", "医院看病", "医院", "停电"], "n_vocab_tokens": [3, 4, 4, 3, 3],
                         "tokens": ["电线 停电 希望", "医院 希望 希望 希望", "医院 医院 看病 看病", "医院 看病 希望", "电线 电线 停电"]})
    corpus = D.Corpus(counts=X, vocab=vocab, docs=docs, flagged=pd.DataFrame())
    ex = TM.exemplars(corpus, fit, 2)
    assert list(ex.columns) == TM.EXEMPLAR_COLUMNS
    assert ex.loc[ex["topic"] == 1, "doc_id"].tolist() == ["d2", "d3"]         # not d1 (file order) first
    assert ex.loc[ex["topic"] == 2, "doc_id"].tolist() == ["d4", "d0"]
    assert ex.loc[ex["topic"] == 1, "role"].tolist() == ["resident", "cadre"]
    assert (ex["loading"] == 1.0).all() and ex.groupby("topic")["score"].apply(lambda s: s.is_unique).all()
    # a duplicate of the best document is not shown twice
    dup = pd.concat([docs, docs.iloc[[2]].assign(doc_id="d5", interview_id="I5")], ignore_index=True)
    corpus = D.Corpus(counts=sparse.vstack([X, X[2]]).tocsr(), vocab=vocab, docs=dup, flagged=pd.DataFrame())
    fit = TM.TopicFit("dmm", 2, tw, np.vstack([theta, theta[2]]))
    assert TM.exemplars(corpus, fit, 2).loc[lambda e: e["topic"] == 1, "doc_id"].tolist() == ["d2", "d3"]


def test_exemplars_do_not_depend_on_file_order():
    """Documents that tie on score, margin and length (the headlines of one or two rare words)
    are ordered by the topic's top words they hold, their distinct words, then their text: the
    same exemplars whatever order the files come in."""
    vocab = np.array(["医院", "看病", "挂号", "排队", "电线"])
    X = sparse.csr_matrix(np.array([
        [1, 0, 0, 1, 0],     # 0: ties with 1 and 2 on score and length under a flat topic
        [0, 1, 0, 1, 0],     # 1
        [0, 0, 1, 1, 0],     # 2
        [0, 0, 0, 0, 2],     # 3: the other topic
    ]))
    # topic 1 and topic 2 flat over 医院/看病/挂号 (a tie on score and on the margin over topic 2);
    # topic 3 tells them apart (so the model can: they are not one document to it)
    tw = np.array([[0.2, 0.2, 0.2, 0.39, 0.01], [0.05, 0.05, 0.05, 0.05, 0.80], [0.001, 0.002, 0.003, 0.004, 0.99]])
    theta = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    texts = ["医院排队", "看病排队", "挂号排队", "电线电线"]
    docs = pd.DataFrame({"doc_id": [f"d{i}" for i in range(4)], "unit_ids": [f"u{i}" for i in range(4)],
                         "interview_id": [f"I{i}" for i in range(4)], "role": "resident", "text": texts,
                         "n_vocab_tokens": 2, "tokens": texts})
    picked = []
    for order in ([0, 1, 2, 3], [2, 1, 0, 3], [1, 3, 0, 2]):
        corpus = D.Corpus(counts=X[order], vocab=vocab, docs=docs.iloc[order].reset_index(drop=True),
                          flagged=pd.DataFrame())
        ex = TM.exemplars(corpus, TM.TopicFit("dmm", 3, tw, theta[order]), 2)
        first = ex.loc[ex["topic"] == 1]
        assert len(first) == 2
        assert first[["score", "margin", "n_vocab_tokens"]].nunique().eq(1).all()      # a real tie on those keys
        picked.append(first["doc_id"].tolist())
    assert picked[0] == picked[1] == picked[2] == ["d0", "d2"], picked      # by text, code point order: 医院排队 < 挂号排队 < 看病排队


# --------------------------------------------------------------------------------------------
# real text: the corpora of tests/fixtures/corpus, and the demo study, reseeded (slow)
# --------------------------------------------------------------------------------------------
def _corpus_texts(folder: Path) -> list[str]:
    """The texts of a fixture corpus: texts.csv (column text) or texts.txt (a text a line), one
    line each."""
    if (folder / "texts.csv").is_file():
        with open(folder / "texts.csv", encoding="utf-8", newline="") as fh:
            return [" ".join(r["text"].split()) for r in csv.DictReader(fh)]
    return [t for t in (folder / "texts.txt").read_text(encoding="utf-8").splitlines() if t.strip()]


REAL = sorted(p.name for p in CORPORA.iterdir() if (p / "texts.csv").is_file() or (p / "texts.txt").is_file())
SEEDS = (20250101, 1, 2)
# seeds: the stage's default of 8 runs per K. With 3 the evidence of one study seed is too thin for
# any rule on these corpora: over 16 study seeds the rule (docs/topics.md step 5) holds K within one
# with 8 runs on all four (K 4, once 5 on the reviews), and with 3 runs a K now and then crosses
# min_stability by chance (citizen messages K 6 at seed 10, reviews K 7 at seed 15; before the
# jackknife band the messages moved 4, 6, 4 at the seeds below, and the Wikipedia sentences and
# the reviews moved as well: they were xfails of issue 18 until 2026-12-03).
REAL_TOPICS = {"models": ["dmm"], "k_grid": [4, 5, 6, 7, 8], "seeds": 8, "min_doc_tokens": 2,
               "vocabulary": {"min_df": 3, "max_df": 0.1}, "dmm": {"n_iter": 15, "split_merge": 10, "restarts": 1}}


@pytest.fixture(scope="module", params=REAL)
def real_study(request, tmp_path_factory):
    """A texts-only study of one fixture corpus after the transcripts stage, and the topics stage
    run with three seeds: {seed: (metrics, k_selection, exemplars, topic_words, audit)}."""
    from pipeline.stages import topics as TP
    from pipeline.stages import transcripts as T
    from tests.test_texts_only import documents_config

    work = tmp_path_factory.mktemp(request.param)
    (work / "raw" / "transcripts").mkdir(parents=True)
    (work / "raw" / "transcripts" / "texts.txt").write_text("\n".join(_corpus_texts(CORPORA / request.param)) + "\n",
                                                             encoding="utf-8")
    documents_config(work / "config", texts="line")
    shutil.copyfile(ROOT / "config" / "stopwords.txt", work / "config" / "stopwords.txt")
    (work / "config" / "userdict.txt").write_text("# none\n", encoding="utf-8")
    params = {"seed": 0, "transcripts": {"config": "config/transcripts.yaml", "userdict": "config/userdict.txt",
                                         "stopwords": "config/stopwords.txt", "n_jobs": 1}, "topics": REAL_TOPICS}
    out = {}
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    with contextlib.chdir(work):
        T.main(["--params", "params.yaml"])
        for seed in SEEDS:
            (work / "params.yaml").write_text(yaml.safe_dump({**params, "seed": seed}, allow_unicode=True), encoding="utf-8")
            TP.main(["--params", "params.yaml", "--out", f"out{seed}", "--metrics", f"out{seed}/topics.json"])
            folder = work / f"out{seed}"
            out[seed] = (json.loads((folder / "topics.json").read_text(encoding="utf-8")),
                         *(pd.read_csv(folder / f"{name}.csv", keep_default_na=False)
                           for name in ("k_selection", "exemplars", "topic_words", "vocabulary_audit")))
    return out


@pytest.mark.slow
def test_real_corpus_k_survives_reseeding(real_study, request):
    ks = [real_study[s][0]["k"] for s in SEEDS]
    assert max(ks) - min(ks) <= 1, (request.node.callspec.params.get("real_study"), ks)
    for metrics, grid, *_ in real_study.values():
        assert grid["chosen"].sum() == 1 and {"score_sd", "stability_sd", "selection_fallback"} <= set(grid.columns)
        assert metrics["selection"] in ("rule", "fallback") and metrics["selection_reason"]
        assert metrics["selection_fallback"] == bool(grid.loc[grid["chosen"], "selection_fallback"].item())


@pytest.mark.slow
def test_real_corpus_exemplars_and_vocabulary(real_study, request):
    corpus = request.node.callspec.params.get("real_study")
    tied = []
    for metrics, _, ex, words, audit in real_study.values():
        for t, rows in ex.groupby("topic"):
            top = set(words.loc[(words["topic"] == t) & (words["kind"] == "top"), "word"])
            tokens = " ".join(rows["text"])
            assert any(w in tokens for w in top), (t, top)            # the topic's words are in its exemplars
            if rows.duplicated(["score", "margin", "n_vocab_tokens", "text"]).any():   # a tie only file order breaks
                tied.append(t)
            assert (rows["unit_ids"] != "").all() and rows["role"].notna().all()
        vocab = set(words["word"])
        assert not {w for w in vocab if len(w) < 2} - set(Vocabulary().keep)
        assert not any(D.token_rule(w, Vocabulary()) for w in vocab)
        assert set(audit["rule"]) >= {"symbols", "numbers", "latin_codes", "min_chars", "min_df", "max_df", "max_df_kept"}
        assert metrics["vocabulary_removed"]["min_chars"] == audit.set_index("rule").loc["min_chars", "n_words"]
    assert not tied, tied


def test_the_report_says_when_k_is_a_fallback():
    from pipeline.render.tables.text import k_selection_note, table_k_selection, table_topics

    grid = pd.DataFrame({"model": ["dmm", "dmm"], "k": [4, 5], "coherence_npmi": [0.1, 0.2], "exclusivity": [0.7, 0.6],
                         "stability": [0.74, 0.7], "perplexity": [900.0, 880.0], "n_seeds": [3, 3],
                         "selection_fallback": [True, True], "chosen": [True, False]})
    results = {"topics/k_selection.csv": grid,
               "topics/topics.csv": pd.DataFrame({"topic": [1, 2, 3, 4], "label": list("abcd"), "prevalence": [0.25] * 4}),
               "topics/topic_words.csv": pd.DataFrame({"topic": [1, 2, 3, 4], "kind": "top", "rank": 1, "word": list("wxyz")})}
    settings = {"lang": "en", "decimals": {"fit": 3, "percent": 1}}
    note = k_selection_note(results, "en")
    assert note == ("No K gave topics stable enough across seed runs (best stability 0.74); K = 4 is a fallback: the "
                    "smallest K whose score is within two standard errors of its difference from the best score. Read "
                    "the topics as exploratory.",)
    assert note[0] in table_k_selection(results, None, settings, "t").notes
    assert note[0] in table_topics(results, None, settings, "t").notes
    assert "最高稳定性0.74" in k_selection_note(results, "zh")[0]
    stable = {**results, "topics/k_selection.csv": grid.assign(selection_fallback=False, stability=[0.9, 0.85])}
    assert k_selection_note(stable, "en")[0].startswith("K = 4: the best score")
    assert k_selection_note(stable, "en", fallback_only=True) == ()
    assert len(table_topics(stable, None, settings, "t").notes) == 1
    assert k_selection_note({"topics/k_selection.csv": grid.drop(columns="selection_fallback")}, "en") == ()


@pytest.mark.slow
def test_demo_k_survives_reseeding(demo_study):
    """The demo study's K grid and rule (its params, its corpus) with the study seed and two others:
    the chosen K moves by at most one (measured: 13, 12, 13 at seeds 20251021, 1, 2)."""
    from pipeline.text.topicmetrics import evaluate_grid

    params = load_params(ROOT / "studies/demo/params.yaml")
    settings = TM.parse_settings(params["topics"])
    units = pd.read_parquet(demo_study / "processed" / "transcripts" / "units.parquet")
    questions = pd.read_parquet(demo_study / "processed" / "transcripts" / "questions.parquet")
    corpus = D.vectorize(D.build_documents(units, "exchange", questions=questions), settings.vocabulary,
                         settings.min_doc_tokens)
    ks = []
    for seed in (params["seed"], 1, 2):
        table, decision = TS.select_model(evaluate_grid(corpus, settings, seed), settings)
        ks.append(int(table.loc[table["chosen"], "k"].item()))
        assert decision["selection"] == "rule"
    assert max(ks) - min(ks) <= 1, ks

"""The topics stage's document-vector method, ``models: [docvec]`` (issue 18; docs/topics.md,
"Document vectors clustered"): its K rule (the best mean modularity of the seed runs' partitions
on their neighbour graphs, stability reported and not a gate), its outputs in the stage's format,
its K under reseeding on the real corpora, exemplars that hold their topics' words, and bytes that
do not move for a given seed."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from pipeline.core.errors import PipelineError
from pipeline.text import docvec as DV
from pipeline.text import topicmodel as TM
from pipeline.text import topicselect as TS

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "tests" / "fixtures" / "corpus"
WORD = re.compile(r"[\w\u3400-\u9fff]")


# --------------------------------------------------------------------------------------------
# a real sample as the transcripts stage would give it (jieba words less the stopword list)
# --------------------------------------------------------------------------------------------
def sample_units(name: str, per_label: int) -> pd.DataFrame:
    """The first ``per_label`` texts of every label of a fixture corpus (the labels only pick the
    sample; nothing reads them) as one-sentence respondent units with jieba's content words."""
    import jieba

    texts = pd.read_csv(CORPORA / name / "texts.csv", dtype=str, keep_default_na=False)
    texts = texts.groupby("label", sort=True).head(per_label).reset_index(drop=True)
    stop = set((ROOT / "config" / "stopwords.txt").read_text(encoding="utf-8").split())
    jieba.setLogLevel(60)
    tokens = [" ".join(w for w in jieba.lcut(t) if w.strip() and WORD.search(w) and w not in stop) for t in texts["text"]]
    n = len(texts)
    return pd.DataFrame({"unit_id": [f"u{i}" for i in range(n)], "interview_id": [f"d{i:04d}" for i in range(n)],
                         "role": "respondent", "turn": 1, "sentence": 1, "text": texts["text"], "tokens": tokens})


def run(units: pd.DataFrame, seed: int, **topics) -> tuple[dict, dict]:
    from pipeline.stages.topics import run_topics

    settings = TM.parse_settings({"models": ["docvec"], "min_doc_tokens": 2, **topics})
    return run_topics(units, None, settings, seed, None, None, None)


@pytest.fixture(scope="module")
def shopping() -> pd.DataFrame:
    """300 product reviews (online_shopping, 30 of each of 10 categories)."""
    return sample_units("online_shopping", 30)


# --------------------------------------------------------------------------------------------
# hand-made
# --------------------------------------------------------------------------------------------
def test_docvec_is_a_method_of_its_own():
    with pytest.raises(PipelineError, match="docvec is a method of its own"):
        TM.parse_settings({"models": ["dmm", "docvec"]})
    assert TM.parse_settings({"models": ["docvec"]}).docvec.n_neighbors == 20


def test_characters_are_features_and_the_word_view_drops_them():
    docs = pd.DataFrame({"tokens": ["足球 球队", "篮球"]})
    assert DV.with_characters(docs)["tokens"].tolist() == ["足球 球队 c:足 c:球 c:球 c:队", "篮球 c:篮 c:球"]
    assert DV.word_columns(np.array(["足球", "c:球", "球队"])).tolist() == [0, 2]


def test_a_partition_as_a_topic_model():
    X = sparse.csr_matrix(np.array([[2, 0, 1], [1, 0, 0], [0, 3, 0]]))
    fit = DV.partition_fit(X, np.array([0, 0, 1]), 3, 0.5)
    assert np.allclose(fit.topic_word.sum(axis=1), 1)
    assert np.allclose(fit.topic_word[0], (np.array([3, 0, 1]) + 0.5) / (4 + 1.5))
    assert np.allclose(fit.topic_word[2], 1 / 3)                 # an empty cluster: flat
    assert fit.doc_topic.tolist() == [[1, 0, 0], [1, 0, 0], [0, 1, 0]]


def test_cluster_qr_finds_blocks_and_does_not_draw():
    rng = np.random.default_rng(0)
    V = DV.unit_rows(np.vstack([rng.normal(c, 0.05, size=(20, 3)) for c in np.eye(3) * 3]))
    maps = DV.spectral_maps(DV.neighbour_graph(V, 5), 3, 1)
    labels = DV.cluster_qr(maps)
    assert len(set(labels[:20])) == len(set(labels[20:40])) == len(set(labels[40:])) == 1 == len(set(labels)) - 2
    assert (DV.cluster_qr(maps) == labels).all()


def test_modularity_hand_computed_and_as_networkx():
    # two triangles joined by one edge (7 edges): Q = 2 (3/7 - (7/14)^2) = 5/14
    A = np.zeros((6, 6))
    for i, j in ((0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)):
        A[i, j] = A[j, i] = 1
    assert DV.modularity(sparse.csr_matrix(A), np.array([0, 0, 0, 1, 1, 1])) == pytest.approx(5 / 14)
    assert DV.modularity(sparse.csr_matrix(A), np.zeros(6, dtype=int)) == pytest.approx(0)
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(3)
    W = np.triu(rng.random((30, 30)) * (rng.random((30, 30)) < 0.3), 1)
    W = W + W.T
    labels = rng.integers(0, 4, 30)
    ref = nx.community.modularity(nx.from_numpy_array(W), [set(np.flatnonzero(labels == c)) for c in range(4)])
    assert DV.modularity(sparse.csr_matrix(W), labels) == pytest.approx(ref, abs=1e-12)


def _runs(values: dict[int, float], spread=(-0.004, 0.0, 0.004)) -> pd.DataFrame:
    return pd.DataFrame([{"model": "docvec", "k": k, "run": r + 1, "coherence_npmi": 0.1, "exclusivity": 0.5,
                          "stability": 0.5 + d, "perplexity": np.nan, "modularity": q + d, "silhouette": 0.1 + k / 100}
                         for k, q in values.items() for r, d in enumerate(spread)])


def test_the_rule_takes_the_best_modularity_and_says_when_it_is_the_grids_edge():
    settings = TM.parse_settings({"models": ["docvec"], "k_grid": [4, 5, 6, 7], "seeds": 3}, criteria=DV.CRITERIA)
    grid, decision = TS.select_model(_runs({4: 0.30, 5: 0.345, 6: 0.35, 7: 0.33}), settings, best=True)
    assert grid["eligible"].all() and not grid["selection_fallback"].any()          # stability is no gate
    assert int(grid.loc[grid["chosen"], "k"].item()) == 6                             # the best, not the silhouette's
    assert grid.loc[grid["within_se"], "k"].tolist() == [5, 6]                        # the band, reported
    assert decision["selection"] == "rule" and "modularity 0.350" in decision["selection_reason"]
    assert "K = 5, 6" in decision["selection_reason"] and "grid's" not in decision["selection_reason"]
    assert {"modularity", "modularity_sd", "silhouette", "silhouette_sd"} <= set(grid.columns)
    _, rising = TS.select_model(_runs({4: 0.30, 5: 0.31, 6: 0.32, 7: 0.33}), settings, best=True)
    assert "largest K" in rising["selection_reason"]
    _, falling = TS.select_model(_runs({4: 0.33, 5: 0.32, 6: 0.31, 7: 0.30}), settings, best=True)
    assert "smallest K" in falling["selection_reason"]


def test_the_report_says_how_docvec_chose_k_and_when_the_grid_bounds_it():
    from pipeline.render.tables.text import k_selection_note

    ks = pd.DataFrame({"model": "docvec", "k": [4, 5, 6], "modularity": [0.30, 0.32, 0.35], "stability": 0.6,
                       "stability_sd": 0.05, "n_seeds": 8, "selection_fallback": False, "chosen": [False, False, True]})
    notes = k_selection_note({"topics/k_selection.csv": ks}, "en")
    assert len(notes) == 2 and "K = 6" in notes[0] and "modularity" in notes[0] and "largest K (6)" in notes[1]
    assert k_selection_note({"topics/k_selection.csv": ks}, "en", fallback_only=True) == notes[1:]
    low = ks.assign(chosen=[True, False, False])
    assert "smallest K (4)" in k_selection_note({"topics/k_selection.csv": low}, "en", fallback_only=True)[0]
    inside = ks.assign(chosen=[False, True, False])
    assert len(k_selection_note({"topics/k_selection.csv": inside}, "zh")) == 1
    assert "模块度" in k_selection_note({"topics/k_selection.csv": inside}, "zh")[0]
    assert k_selection_note({"topics/k_selection.csv": inside}, "en", fallback_only=True) == ()


# --------------------------------------------------------------------------------------------
# the real corpora: every text of the three labelled fixtures, reseeded
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["gov_messages", "tnews", "online_shopping"])
def test_k_survives_reseeding_on_the_real_corpora(name):
    """The stage's default grid (K 5-14) and 8 runs, study seeds 1-3: the chosen K moves by at
    most one (the words here are jieba's, not the transcripts stage's; K per seed printed on failure)."""
    units = sample_units(name, 10**6)
    ks = []
    for seed in (1, 2, 3):
        tables, metrics = run(units, seed)
        ks.append(metrics["k"])
        grid = tables["k_selection"]
        assert grid["chosen"].sum() == 1 and grid["modularity_sd"].notna().all() and grid["stability_sd"].notna().all()
        assert metrics["model"] == "docvec" and metrics["selection"] == "rule" and metrics["modularity"] > 0
        assert metrics["modularity"] == pytest.approx(grid["modularity"].max())
    print(name, ks)
    assert max(ks) - min(ks) <= 1, (name, ks)


def test_outputs_exemplars_and_bytes_for_a_seed(shopping):
    small = shopping.iloc[::3].reset_index(drop=True)                     # 100 reviews, a short grid
    first, metrics = run(small, 7, k_grid=[3, 4, 5], seeds=3)
    again, metrics2 = run(small, 7, k_grid=[3, 4, 5], seeds=3)
    assert metrics == metrics2
    for name, table in first.items():                                     # the same bytes
        assert table.to_csv(index=False) == again[name].to_csv(index=False), name
    k = metrics["k"]
    dt, ex, words = first["doc_topics"], first["exemplars"], first["topic_words"]
    assert list(dt.columns[-k:]) == [f"T{t + 1}" for t in range(k)] and set(dt["topic"]) <= set(range(1, k + 1))
    assert not any(w.startswith("c:") for w in words["word"])               # characters make vectors, not topic words
    assert len(first["k_runs"]) == 3 * 3 and "silhouette" in first["k_runs"]
    for t, rows in ex.groupby("topic"):
        top = set(words.loc[(words["topic"] == t) & (words["kind"] == "top"), "word"])
        assert all(any(w in text for w in top) for text in rows["text"]), (t, top)
        assert not rows.duplicated(["score", "margin", "n_vocab_tokens", "text"]).any()

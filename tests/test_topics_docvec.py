"""The topics stage's document-vector method, ``models: [docvec]`` (issue 18; docs/topics.md,
"Document vectors clustered"): its K rule (the smallest K within two standard errors of the best
silhouette, stability reported and not a gate), its outputs in the stage's format, its K under
reseeding on a real sample, exemplars that hold their topics' words, and bytes that do not move
for a given seed."""
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
    maps = DV.spectral_maps(V, 3, 5, 1)
    labels = DV.cluster_qr(maps)
    assert len(set(labels[:20])) == len(set(labels[20:40])) == len(set(labels[40:])) == 1 == len(set(labels)) - 2
    assert (DV.cluster_qr(maps) == labels).all()


def test_the_band_rule_takes_the_smallest_k_near_the_best_and_says_when_it_is_the_grids_edge():
    rows = []
    for k, sil in ((4, 0.080), (5, 0.100), (6, 0.104), (7, 0.105)):
        for r, d in enumerate((-0.002, 0.0, 0.002)):
            rows.append({"model": "docvec", "k": k, "run": r + 1, "coherence_npmi": 0.1, "exclusivity": 0.5,
                         "stability": 0.5 + d, "perplexity": np.nan, "silhouette": sil + d})
    settings = TM.parse_settings({"models": ["docvec"], "k_grid": [4, 5, 6, 7], "seeds": 3}, criteria=DV.CRITERIA)
    grid, decision = TS.select_model(pd.DataFrame(rows), settings, band=True)
    assert grid["eligible"].all() and not grid["selection_fallback"].any()          # stability is no gate
    assert int(grid.loc[grid["chosen"], "k"].item()) == 6                             # 5 is out of the band, 6 is in
    assert decision["selection"] == "rule" and "largest K" in decision["selection_reason"]
    assert {"silhouette", "silhouette_sd", "silhouette_min", "silhouette_max"} <= set(grid.columns)


def test_the_report_says_how_docvec_chose_k_and_when_the_grid_bounds_it():
    from pipeline.render.tables.text import k_selection_note

    ks = pd.DataFrame({"model": "docvec", "k": [4, 5, 6], "silhouette": [0.08, 0.10, 0.11], "stability": 0.6,
                       "stability_sd": 0.05, "n_seeds": 8, "selection_fallback": False, "chosen": [False, True, False]})
    notes = k_selection_note({"topics/k_selection.csv": ks}, "en")
    assert len(notes) == 2 and "K = 5" in notes[0] and "silhouette" in notes[0] and "largest K (6)" in notes[1]
    assert k_selection_note({"topics/k_selection.csv": ks}, "en", fallback_only=True) == notes[1:]
    inside = ks.assign(silhouette=[0.08, 0.12, 0.11])
    assert len(k_selection_note({"topics/k_selection.csv": inside}, "zh")) == 1
    assert k_selection_note({"topics/k_selection.csv": inside}, "en", fallback_only=True) == ()


# --------------------------------------------------------------------------------------------
# a real sample: 300 product reviews (online_shopping, 30 of each of 10 categories)
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_k_survives_reseeding_on_real_reviews(shopping):
    ks = []
    for seed in (1, 2, 3):
        tables, metrics = run(shopping, seed, k_grid=list(range(4, 13)))
        ks.append(metrics["k"])
        grid = tables["k_selection"]
        assert grid["chosen"].sum() == 1 and grid["silhouette_sd"].notna().all() and grid["stability_sd"].notna().all()
        assert metrics["model"] == "docvec" and metrics["selection"] == "rule" and metrics["silhouette"] > 0
    assert max(ks) - min(ks) <= 1, ks


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

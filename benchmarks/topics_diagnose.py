"""Diagnosis of the topics stage on the labelled real corpora (issue 18): per corpus and K, the
DMM's NMI and purity against the labels (mean [min, max] over study seeds), every selection
criterion, and the baselines at K = labels.

    python benchmarks/topics_diagnose.py --studies DIR [--corpus NAME ...] [--seeds 1 2 3]
           [--k 5 6 ...] [--set dmm.beta=0.05 ...] [--grid] [--json FILE]

``DIR`` holds one study folder per corpus after the transcripts stage (``benchmarks/topics_real.py
--keep DIR``). ``--set`` changes ``topics`` settings (dotted keys, YAML values) on top of the
study's; ``--grid`` also runs the stage's K grid (``evaluate_grid``) and its rule per seed.
Scores are over all texts, the texts left out counted as one cluster (as in topics_real.py).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from common import ROOT

sys.path.insert(0, str(ROOT))

import topics_real as TR  # noqa: E402


def settings_for(study: Path, changes: list[str]):
    from pipeline.core.config import load_params, section
    from pipeline.text.topicmodel import parse_settings

    topics = dict(section(load_params(study / "params.yaml"), "topics") or {})
    for item in changes:
        key, value = item.split("=", 1)
        node = topics
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return parse_settings(topics), topics


def corpus_of(study: Path, settings):
    from pipeline.text.documents import build_documents, resolve_unit, vectorize

    units = pd.read_parquet(study / "processed" / "transcripts" / "units.parquet")
    questions = pd.read_parquet(study / "processed" / "transcripts" / "questions.parquet")
    docs = build_documents(units, resolve_unit(settings.unit, questions), settings.window, questions, None)
    return vectorize(docs, settings.vocabulary, settings.min_doc_tokens)


def diagnose(name: str, study: Path, seeds: list[int], ks: list[int], changes: list[str], grid: bool) -> dict:
    from pipeline.text.topicmetrics import evaluate_grid
    from pipeline.text.topicmodel import fit_final
    from pipeline.text.topicselect import select_model

    texts = TR.read_fixture(name)
    settings, _ = settings_for(study, changes)
    corpus = corpus_of(study, settings)
    ids = {f"d{i}": j for j, i in enumerate(texts["id"])}
    modelled = corpus.docs["interview_id"].map(ids).to_numpy()
    every = texts["label"].to_numpy()
    n_labels = texts["label"].nunique()
    score = lambda cl: TR.scores(every, TR.all_texts(len(texts), modelled, cl))  # noqa: E731
    out = {"corpus": name, "n_docs": corpus.counts.shape[0], "vocab": corpus.counts.shape[1], "labels": n_labels,
           "changes": changes, "dmm": {}, "baselines": [], "grid": []}
    for k in sorted(set(ks) | {n_labels}):
        out["dmm"][k] = [score(fit_final(corpus.counts, "dmm", k, s, settings)[0].doc_topic.argmax(axis=1))
                         for s in seeds]
    for s in seeds:
        out["baselines"].append({m: score(c) for m, c in TR.baselines(corpus.counts, n_labels, s).items()})
        if grid:
            table, decision = select_model(evaluate_grid(corpus, settings, s), settings)
            out["grid"].append({"seed": s, "k": int(table.loc[table["chosen"], "k"].item()),
                                "table": table.to_dict(orient="records"), "decision": decision})
    return out


def show(res: dict) -> None:
    print(f"\n## {res['corpus']} ({res['n_docs']} docs, {res['vocab']} words, {res['labels']} labels) {res['changes']}")
    for m in ("lda", "nmf"):
        v = [b[m]["nmi"] for b in res["baselines"]]
        print(f"  {m.upper()} at K = labels: NMI {TR.spread(v)}")
    print("  K  DMM NMI mean [min, max]    purity")
    for k, rows in res["dmm"].items():
        print(f"  {k:2d} {TR.spread([r['nmi'] for r in rows])}  {TR.spread([r['purity'] for r in rows])}")
    for g in res["grid"]:
        t = pd.DataFrame(g["table"])
        print(f"  seed {g['seed']}: chosen K {g['k']} ({g['decision']['selection']})")
        cols = ["k", "coherence_npmi", "exclusivity", "stability", "stability_sd", "perplexity", "score", "score_sd",
                "score_se", "within_se"]
        print(t[cols].round(3).to_string(index=False))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=Path, required=True)
    ap.add_argument("--corpus", nargs="+", default=list(TR.CORPORA))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--k", nargs="+", type=int, default=list(range(5, 15)))
    ap.add_argument("--set", nargs="*", default=[], dest="changes")
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    results = []
    for name in args.corpus:
        res = diagnose(name, args.studies / name, args.seeds, args.k, args.changes, args.grid)
        show(res)
        sys.stdout.flush()
        results.append(res)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

"""The demo_checks stage (demo study only): the analysis against the generator's truth.

``raw/truth`` is read here and nowhere else in the pipeline. The stage runs after the transcripts
and topics stages and before coding (:mod:`pipeline.demo.checks` has the checks):

* the topics stage's topics aligned with the planted themes and stances, and the prevalence
  effects of ``topics.prevalence.factors`` against the planted signs (``alignment.csv``,
  ``sign_agreement.csv``; the metrics' ``alignment``). The average predicted proportions by
  level are recomputed from ``doc_topics.parquet`` with the topics stage's own function and
  settings (:func:`pipeline.text.topicmodel.topic_prevalence`): prevalence_levels.csv holds 10
  significant digits, and differences of rounded levels would lose digits.
* the planted sentence themes as a filled coder sheet, ``human_codes.csv``: the demo's stand-in
  human coder, read by the coding stage like any filled sheet (``coding.human_codes``).

Outputs (``processed/demo_checks/``, built in a temporary folder and swapped in whole):
``alignment.csv``, ``sign_agreement.csv`` (both without ``--topics ''``), ``human_codes.csv``;
and ``metrics/demo_checks.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import (atomic_dir, read_community_columns, read_stage_parquet, read_transcript_output, write_csv,
                                 write_json)
from pipeline.core.instrument import community_column
from pipeline.demo.checks import human_code_sheet, read_truth, topic_alignment
from pipeline.text.coding import parse_settings as coding_settings
from pipeline.text.topicmodel import parse_settings as topic_settings
from pipeline.text.coding import load_codebook
from pipeline.text.topicmodel import prevalence_covariates, topic_prevalence

OUT_DIR = config.PROCESSED / "demo_checks"
METRICS_FILE = config.METRICS / "demo_checks.json"
TOPICS_DIR = config.PROCESSED / "topics"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline demo_checks", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--truth", default=str(config.RAW_TRUTH))
    parser.add_argument("--units", default=str(config.TRANSCRIPT_UNITS))
    parser.add_argument("--topics", default=str(TOPICS_DIR), help="the topics stage's outputs; '' to leave the topic checks out")
    parser.add_argument("--communities", default=str(config.RAW_COMMUNITIES))
    parser.add_argument("--out", default=str(OUT_DIR))
    parser.add_argument("--metrics", default=str(METRICS_FILE))
    args = parser.parse_args(argv)
    params = config.load_params(args.params)
    truth = read_truth(args.truth)
    if truth is None:
        raise PipelineError(f"{args.truth}: no planted themes (transcript_units.csv, transcript_theme_effects.json)",
                            hint="demo_checks is for the demo study: run `python -m pipeline simulate` first")
    units = read_transcript_output(args.units, "transcript units")
    codebook = load_codebook(coding_settings(config.section(params, "coding")).codebook)
    tables: dict[str, pd.DataFrame] = {}
    metrics: dict[str, Any] = {}
    if args.topics:
        settings = topic_settings(config.section(params, "topics"))
        topics = Path(args.topics)
        doc_topics = read_stage_parquet(topics / "doc_topics.parquet", "the topics stage's documents",
                                        "run the topics stage first (dvc repro topics)")
        community = community_column(params.get("instrument"))
        communities = read_community_columns(args.communities, prevalence_covariates(settings, community),
                                             "topics.prevalence", key=community)
        k = sum(1 for c in doc_topics.columns if c[:1] == "T" and c[1:].isdigit())
        _, levels = topic_prevalence(doc_topics, communities, k, settings, community)
        found, metrics["alignment"] = topic_alignment(doc_topics, levels, truth, settings.factors)
        tables.update(found)
    tables["human_codes"] = human_code_sheet(truth["units"], units, codebook)
    metrics["human_codes_units"] = int(len(tables["human_codes"]))
    with atomic_dir(Path(args.out)) as out:
        for name, table in tables.items():
            write_csv(out / f"{name}.csv", table)
    write_json(args.metrics, metrics)
    print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, dict)}, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

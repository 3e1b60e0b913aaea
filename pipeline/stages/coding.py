"""The coding stage: deductive coding of the redacted interview units with the study's codebook,
and agreement with human coders (issue #7; docs/coding.md has the rules in full).

Steps (pure functions in :mod:`pipeline.text.coding` and :mod:`pipeline.stats.agreement`; this
module reads params and files, calls them and writes the outputs):

1. :func:`pipeline.text.coding.load_codebook` reads and validates ``config/codebook.yaml``.
2. :func:`pipeline.text.coding.code_units` codes every unit (include patterns, the context rule
   of its turn and question, filler and empty units); ``aggregate_turns`` gives turn-level codes.
3. Agreement (:func:`pipeline.stats.agreement.agreement_table`) against the human codes of the
   filled coder sheet that ``coding.human_codes`` names (:func:`pipeline.text.coding.read_human_codes`,
   validated; null: no agreement table): per theme Cohen's kappa with R ``psych::cohen.kappa``'s
   interval, precision, recall, F1; Krippendorff's alpha (nominal) per theme and pooled, with a
   cluster (interview) bootstrap interval. The demo study's sheet is written by its
   ``demo_checks`` stage from the planted themes.
4. Tidy tables: frequencies (overall and by ``coding.dimensions``), co-occurrence, and a blank
   seeded sheet for human coders stratified by role.

Outputs (``processed/coding/``, built in a temporary folder and swapped in whole):
``codes.parquet``, ``turn_codes.parquet``, ``frequencies.csv``, ``cooccurrence.csv``,
``agreement.csv``, ``coder_sample.csv``, ``coder_sample.xlsx``; and ``metrics/coding.json``.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import (atomic_dir, read_community_columns, read_transcript_output, write_bytes, xlsx_bytes,
                                 write_csv, write_json, write_parquet)
from pipeline.core.instrument import text_community
from pipeline.text.units import check_text_frame
from pipeline.stats.agreement import agreement_table
from pipeline.text.coding import (SOURCES, Codebook, Settings, aggregate_turns, attach_covariates, code_units,
                                  coder_sample, cooccurrence, frequencies, load_codebook, parse_settings, read_human_codes)

OUT_DIR = config.PROCESSED / "coding"
METRICS_FILE = config.METRICS / "coding.json"


# --------------------------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------------------------
def run_coding(units: pd.DataFrame, codebook: Codebook, settings: Settings, seed: int,
               questions: pd.DataFrame | None = None, communities: pd.DataFrame | None = None,
               human: pd.DataFrame | None = None, community: str | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The whole stage as one pure function: the output tables and the metrics. ``community``:
    the units' community id column (None: texts without communities)."""
    codes = code_units(units, codebook, settings, questions, community)
    codes = attach_covariates(codes, communities, settings.covariates, community)
    tables: dict[str, pd.DataFrame] = {"codes": codes}
    if settings.turns:
        tables["turn_codes"] = attach_covariates(aggregate_turns(codes, codebook, community), communities,
                                                 settings.covariates, community)
    tables["frequencies"] = frequencies(codes, codebook, settings.dimensions)
    tables["cooccurrence"] = cooccurrence(codes, codebook)
    src = codes["source"].value_counts()
    substantive = codes["source"].isin(["direct", "context", "uncoded"])
    metrics: dict[str, Any] = {
        "units": int(len(codes)), "units_coded": int((codes["n_codes"] > 0).sum()),
        "share_uncoded": float((codes.loc[substantive, "n_codes"] == 0).mean()) if substantive.any() else float("nan"),
        **{f"units_{s}": int(src.get(s, 0)) for s in SOURCES},
        "context_rule": settings.context, "themes": len(codebook.themes),
        "human_codes": settings.human_codes or "none",
    }
    if human is not None:
        themes = {t.code: t.id for t in codebook.themes}
        table, summary = agreement_table(codes, human, themes, settings.replications, seed, settings.level)
        tables["agreement"] = table
        per = table[table["theme"] != "overall"].set_index("theme")
        ov = table[table["theme"] == "overall"].iloc[0]
        metrics.update({"agreement_units": summary["units"], "macro_f1": float(ov["f1"]),
                        "macro_precision": float(ov["precision"]), "macro_recall": float(ov["recall"]),
                        "kappa_mean": float(ov["kappa"]), "alpha": float(ov["alpha"]),
                        "alpha_ci_low": float(ov["alpha_ci_low"]), "alpha_ci_high": float(ov["alpha_ci_high"]),
                        "f1": {k: float(v) for k, v in per["f1"].items()},
                        "kappa": {k: float(v) for k, v in per["kappa"].items()}})
    else:
        tables["agreement"] = pd.DataFrame(columns=["theme", "theme_id", "n", "human_coded", "machine_coded", "kappa",
                                                    "kappa_ci_low", "kappa_ci_high", "alpha", "alpha_ci_low",
                                                    "alpha_ci_high", "precision", "recall", "f1"])
    tables["coder_sample"] = coder_sample(units, codebook, settings.sample_size, seed, settings.sample_strata)
    return tables, metrics


def read_communities(path: str | Path, columns: Sequence[str], community: str) -> pd.DataFrame:
    return read_community_columns(path, list(columns), "coding.covariates", key=community)



def resolve_human(settings: Settings, units: pd.DataFrame, codebook: Codebook) -> pd.DataFrame | None:
    """The human codes of the filled coder sheet ``coding.human_codes`` names, or None."""
    if settings.human_codes is None:
        return None
    return read_human_codes(settings.human_codes, units, codebook)


def write_outputs(out: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    for name, table in tables.items():
        if name in ("codes", "turn_codes"):
            write_parquet(out / f"{name}.parquet", table)
        else:
            write_csv(out / f"{name}.csv", table)
    write_bytes(out / "coder_sample.xlsx", xlsx_bytes({"coding": tables["coder_sample"]}))


def main(argv: list[str] | None = None) -> None:
    parser = config.transcript_stage_parser("pipeline coding", __doc__.splitlines()[0], OUT_DIR, METRICS_FILE,
                                            "interviewer questions (context rule)")
    args = parser.parse_args(argv)
    args.communities = config.communities_path(args.communities)
    params = config.load_params(args.params)
    settings = parse_settings(config.section(params, "coding"))
    codebook = load_codebook(settings.codebook)
    units = read_transcript_output(args.units, "transcript units")
    questions = read_transcript_output(args.questions, "interviewer questions") if args.questions else None
    community = text_community(params.get("instrument"), units.columns)
    check_text_frame(units, "units", community, str(args.units))
    if questions is not None:
        check_text_frame(questions, "questions", community, str(args.questions))
    communities = None
    if settings.covariates:
        if community is None or not args.communities:
            why = "the texts have no community column" if community is None else "no --communities is given"
            raise PipelineError(f"coding.covariates {list(settings.covariates)} are columns of the community file, "
                                f"and {why}", hint="pass --communities with the community file (texts with a community "
                                                   "id), or set coding.covariates: []")
        communities = read_communities(args.communities, settings.covariates, community)
    human = resolve_human(settings, units, codebook)
    tables, metrics = run_coding(units, codebook, settings, int(params["seed"]), questions, communities, human,
                                 community)
    with atomic_dir(Path(args.out)) as out:
        write_outputs(out, tables)
    write_json(args.metrics, metrics)
    print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, dict)}, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

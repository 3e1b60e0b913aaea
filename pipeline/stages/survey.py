"""The survey stage: read a survey export, check it against the instrument, clean it with a full
audit trail, and write the cleaned data, the exclusions, the sample flow and the codebook.

Steps (each a pure function returning new frames; :func:`main` only reads and writes):

1. :func:`read_survey` reads SPSS ``.sav`` and Stata ``.dta`` through pyreadstat with their
   metadata (``user_missing=True`` keeps SPSS user-missing codes as codes), CSV and Excel exports
   (e.g. 问卷星 downloads) through pandas as text. ``survey.encoding`` reads legacy GBK files.
2. :func:`check_survey` checks the file against the instrument before anything else. Hard
   problems stop the stage with one message (unreadable or empty file, no rows, a required, id,
   record or community variable missing, a variable with no value of its type, record numbers
   not unique, empty ids, ids nearly all repeated, labels garbled by a wrong encoding, community
   ids not in the community file). Only the record role is required: an anonymous survey has no
   ``roles.id`` (no pseudonymisation, no duplicate rule), a survey without clusters no
   ``roles.community`` (no community file). Community ids are written one way
   (:mod:`pipeline.core.communities`: 1224.0 and "01224" are both "1224"). Soft
   problems are recorded in ``survey_checks.csv`` (variable-level) and ``recodes.csv`` (cells).
   It types every column: codes as float (NaN = missing), text as strings, times as datetimes.
3. :func:`normalise_text` turns full-width ASCII (``３人`` -> ``3人``) and runs of whitespace in
   every text variable into their plain form; ``survey.free_text_numbers`` adds ``<var>_num``,
   the number a free-text answer gives (``" ３口人 "`` -> 3).
4. :func:`pseudonymise` replaces the respondent id by ``P`` + the first ``id_hash_length`` hex
   digits of HMAC-SHA256(key, id). The key comes from the environment variable
   ``PIPELINE_ID_KEY``, else the git-ignored file ``survey.id_key_file``, else (synthetic study
   only) ``survey.demo_key``. The raw id never reaches ``processed/`` or ``reports/``.
5. :func:`recode_missing` turns codes into missing values, one reason per missing cell:
   the instrument's missing codes (``dont_know``, ``refused``, ``skipped`` for the demo study;
   applied to answers, not to the paradata roles record/id/community/weight/duration/
   submitted/interviewer), ``out_of_range`` (outside the value labels' span or the valid
   range), ``unlabelled`` (inside the span but not a labelled code), ``invalid`` (text that is
   not a number or a label, or an unreadable time) and ``blank`` (empty in the file). The last
   four are soft problems and are listed cell by cell in ``recodes.csv``.
6. :func:`flag_exclusions` applies the exclusion rules, each to every submission, in this
   documented order (a submission flagged by several rules is listed under each and counted
   once, under the first):

   - ``duplicate``: submissions sharing a respondent id; the earliest by the ``submitted`` role
     (ties and missing times: lowest record number) is kept (``duplicate.keep: last`` keeps the
     latest), the others are excluded.
   - ``speeder``: duration < ``speeder.fraction`` x the median duration of all submissions.
   - ``straightline``: over the instrument's ``straightlining_grid``, at least
     ``min_answered_share`` of the items answered and the modal answer's share of the answered
     items >= ``modal_share`` (1.0: all identical; reverse-keyed items in the grid make this
     inconsistent for a real attitude).
   - ``attention``: the attention-check answer differs from the instrument's correct code; a
     missing answer (any reason) counts as failed.
   - ``age_rule``: age < ``min_age``, or |survey year - birth year - age| > ``tolerance``
     (survey year from the instrument's ``study.survey_year``). Missing age or birth year: the
     part of the rule that needs it is not applied.

   A rule whose variables the instrument does not define is not applied (0 in the flow).
7. :func:`sample_flow`: raw submissions, minus each rule in order, analysed. Invariant: raw =
   analysed + excluded, and every record is in exactly one of the two.
8. :func:`codebook` describes every instrument variable over the analysed submissions
   (labels in Chinese and English where the instrument gives both, type, value labels, valid N,
   missing by reason, frequencies or summary statistics); rendered as Markdown and Excel.

Outputs (``processed/``): ``survey_clean.parquet`` (analysed submissions, instrument order,
codes kept; labels in the sidecar ``survey_labels.json``), ``survey_missing.parquet`` (the
reason of every missing cell of the clean data: record, variable, reason), ``exclusions.csv``,
``recodes.csv``, ``survey_checks.csv``, ``sample_flow.csv``; ``reports/codebook.md`` and
``.xlsx``; ``metrics/survey.json``. All are built in memory first and written through temporary
files renamed into place only when every one of them is complete.

The steps are in the domain layer ``pipeline/survey/``: ``read`` (1), ``check`` (2), ``missing``
(3 to 5), ``exclusions`` (6, 7), ``codebook`` (8) and ``clean`` (all of them in memory, and the
clean data's contract); this module reads the parameters and inputs and writes the outputs.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path

from pipeline.core import config
from pipeline.core.errors import run_cli
from pipeline.core.files import atomic_path, write_bytes, write_csv, write_json, write_parquet, write_text
from pipeline.core.communities import community_ids
from pipeline.core.instrument import load_instrument
from pipeline.survey.clean import SurveyResult, clean_survey
from pipeline.survey.codebook import MISSING_TABLE
from pipeline.survey.missing import id_key
from pipeline.survey.read import read_survey, with_row_numbers

OUTPUTS = {
    "clean": "survey_clean.parquet",
    "missing": MISSING_TABLE,
    "labels": "survey_labels.json",
    "exclusions": "exclusions.csv",
    "recodes": "recodes.csv",
    "checks": "survey_checks.csv",
    "flow": "sample_flow.csv",
    "codebook_md": "codebook.md",
    "codebook_xlsx": "codebook.xlsx",
}
METRICS_FILE = config.METRICS / "survey.json"


def write_outputs(result: SurveyResult, processed: Path, reports: Path, metrics: Path) -> list[Path]:
    """Write every output through a temporary file; they are renamed into place together at the end."""
    writers = [
        (processed / OUTPUTS["clean"], lambda p: write_parquet(p, result.clean)),
        (processed / OUTPUTS["missing"], lambda p: write_parquet(p, result.missing)),
        (processed / OUTPUTS["labels"], lambda p: write_json(p, result.labels)),
        (processed / OUTPUTS["exclusions"], lambda p: write_csv(p, result.exclusions)),
        (processed / OUTPUTS["recodes"], lambda p: write_csv(p, result.recodes)),
        (processed / OUTPUTS["checks"], lambda p: write_csv(p, result.checks)),
        (processed / OUTPUTS["flow"], lambda p: write_csv(p, result.flow)),
        (reports / OUTPUTS["codebook_md"], lambda p: write_text(p, result.codebook_md)),
        (reports / OUTPUTS["codebook_xlsx"], lambda p: write_bytes(p, result.codebook_xlsx)),
        (metrics, lambda p: write_json(p, result.metrics)),
    ]
    with ExitStack() as stack:
        for path, write in writers:
            write(stack.enter_context(atomic_path(path)))
    return [path for path, _ in writers]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline survey", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--input", default=str(config.RAW_SURVEY), help="the survey export (.sav, .dta, .csv, .xlsx)")
    parser.add_argument("--communities", default=str(config.RAW_COMMUNITIES),
                        help="community file whose ids the survey's community ids must be in ('' to skip; "
                        "may be absent unless the instrument has a communities: section)")
    parser.add_argument("--processed", default=str(config.PROCESSED))
    parser.add_argument("--reports", default=str(config.REPORTS))
    parser.add_argument("--metrics", default=str(METRICS_FILE))
    args = parser.parse_args(argv)
    params = config.load_params(args.params)
    cfg = config.section(params, "survey")
    instrument = load_instrument(params.get("instrument"))
    key, source = id_key(cfg) if instrument.role("id") else (None, "none")
    comms = community_ids(args.communities, instrument)
    raw = read_survey(args.input, cfg.get("format", "auto"), cfg.get("encoding"), cfg.get("sheet", 0))
    raw, instrument = with_row_numbers(raw, instrument)     # no roles.record: the row in the file
    result = clean_survey(raw, instrument, cfg, key, comms)
    write_outputs(result, Path(args.processed), Path(args.reports), Path(args.metrics))
    if source == "demo":
        print("survey: respondent ids pseudonymised with the demo key (params.yaml: survey.demo_key); "
              "for real data set PIPELINE_ID_KEY or secrets/id_key and remove demo_key", file=sys.stderr)
    unlabelled = result.recodes.loc[result.recodes["reason"] == "unlabelled", "variable"].astype(str).value_counts()
    if len(unlabelled):
        most = ", ".join(f"{v} {n:,}" for v, n in unlabelled.head(3).items())
        print(f"survey: {unlabelled.sum():,} answer(s) in {len(unlabelled)} variable(s) set missing as codes without a "
              f"label ({most}), listed in {Path(args.processed) / OUTPUTS['recodes']}; if they are answers, label them "
              "in the instrument (values) or give the variable a range", file=sys.stderr)
    if len(result.checks):
        print(f"survey: {len(result.checks)} soft check finding(s), see {Path(args.processed) / OUTPUTS['checks']}", file=sys.stderr)
    print(json.dumps(result.metrics, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

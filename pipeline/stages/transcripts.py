"""The transcripts stage: read every interview or text, redact personal data, segment the Chinese text.

The transcripts config's ``format`` says what a file holds: an interview (speaker turns), or
texts without an interviewer (``kind: documents``: messages, open answers; one a file, one a
line, or separated by a line). A community id per text is optional: with none declared (header
fields, manifest) and no community file, the outputs have no community column.

This module only reads (``params.yaml: transcripts``, the transcripts folder, the community
ids, an optional manifest) and writes; the steps are pure functions in ``pipeline/text``
(``pipeline/text/corpus.py`` lists them; docs/transcripts.md has the details and the measured
quality).

Outputs (``processed/transcripts/``, built in a temporary folder and swapped in whole):
``units.parquet``, ``questions.parquet``, ``interviews.csv``, ``redaction_log.csv`` (counts by
file and type, never values), ``dictionary_audit.csv``, ``skipped.csv``; and
``metrics/transcripts.json``. The same inputs give the same bytes. Files are named by a key of
their content (``corpus.file_key``), never by their names. The token cache (``cache_dir``) gets
the list of the entries this run used (``python -m pipeline purge`` keeps only those).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import atomic_dir, atomic_path, json_text, read_csv_strings, write_csv, write_parquet
from pipeline.core.communities import community_id_set
from pipeline.core.instrument import community_column, load_instrument
from pipeline.core.parallel import from_params
from pipeline.core.schema import parse
from pipeline.core.settings import Transcripts
from pipeline.text.corpus import Context, CorpusResult, Settings, file_key, parse_settings, process_corpus, token_cache_key
from pipeline.text.rules import Rules, load_rules
from pipeline.text.segment import SegmenterSpec, TokenCache, resolve_engine, resolve_userdict, segmenter_spec

OUTPUTS = {
    "units": "units.parquet",
    "questions": "questions.parquet",
    "interviews": "interviews.csv",
    "redactions": "redaction_log.csv",
    "audit": "dictionary_audit.csv",
    "skipped": "skipped.csv",
}
METRICS_FILE = config.METRICS / "transcripts.json"
OUT_DIR = config.PROCESSED / "transcripts"


ROSTER_SPLIT = re.compile(r"[;；,，、|/\s]+")


def read_manifest(path: Path, community: str) -> dict[str, dict[str, Any]]:
    """An optional manifest CSV: ``file`` and any of interview_id, ``community`` (the community
    column's name: the instrument's community id, else ``community``), role, date, names (a roster
    of the people named in that interview, separated by ; or 、)."""
    df = read_csv_strings(path, "manifest", "check --manifest, or leave it out")
    if "file" not in df.columns:
        raise PipelineError(f"{path}: no column 'file'",
                            hint=f"the manifest needs file and any of interview_id, {community}, role, date, names")
    dup = df["file"][df["file"].duplicated()]
    if len(dup):                              # a file name may hold personal data: rows, not names
        first = int(df.index[df["file"] == dup.iloc[0]][0]) + 2
        raise PipelineError(f"{path}: row {int(dup.index[0]) + 2} lists the same file as row {first}",
                            hint="list each file once")
    out = {}
    for row in df.to_dict(orient="records"):
        meta = {k: row[c].strip() for k, c in (("interview_id", "interview_id"), ("community", community),
                                                 ("role", "role"), ("date", "date")) if c in row and row[c].strip()}
        if "names" in row and row["names"].strip():
            meta["names"] = tuple(n for n in ROSTER_SPLIT.split(row["names"].strip()) if n)
        out[row["file"].strip()] = meta
    return out


def list_transcripts(folder: Path) -> list[Path]:
    """Every file in ``folder`` and its subfolders (not hidden ones), by path: a file in a
    subfolder is read like the others, its subfolder in interviews.csv's ``folder``."""
    if not folder.is_dir():
        raise PipelineError(f"{folder}: transcripts folder not found", hint="check --transcripts (default raw/transcripts)")
    return sorted((p for p in folder.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(folder).parts)), key=lambda p: p.relative_to(folder).as_posix())


def which_file(folder: Path, key: str) -> str:
    """The path of the file of ``folder`` whose key (:func:`pipeline.text.corpus.file_key`) is ``key``,
    given with its extension or without (the 12 hex digits alone)."""
    key = key.strip().lower()
    for path in list_transcripts(folder):
        try:
            data = path.read_bytes()
        except OSError:
            data = None
        found = file_key(path.name, data)
        if key in (found, found.split(".", 1)[0]):
            return str(path)
    raise PipelineError(f"{folder}: no file has the key '{key}'", hint="copy the key from skipped.csv or interviews.csv")


def write_outputs(result: CorpusResult, out_dir: Path, metrics_path: Path) -> None:
    """All outputs built in a temporary folder that replaces ``out_dir`` whole; metrics last."""
    with atomic_dir(out_dir) as tmp, atomic_path(metrics_path) as mtmp:
        write_parquet(tmp / OUTPUTS["units"], result.units)
        write_parquet(tmp / OUTPUTS["questions"], result.questions)
        write_csv(tmp / OUTPUTS["interviews"], result.interviews)
        write_csv(tmp / OUTPUTS["redactions"], result.redactions)
        write_csv(tmp / OUTPUTS["audit"], result.audit)
        write_csv(tmp / OUTPUTS["skipped"], result.skipped)
        mtmp.write_text(json_text(result.metrics), encoding="utf-8")


def text_context(params: dict[str, Any], rules: Rules, spec: SegmenterSpec, settings: Settings,
                 communities_path: str, manifest: dict[str, dict[str, Any]] | None, community: str,
                 explicit: bool = True) -> Context:
    """The workers' context: the community column (``community``, when the header fields or the
    manifest declare one) and the ids of the community file (``communities_path``, '' for none;
    the default file, not ``explicit``, is not used for texts without a community)."""
    declared = "community" in rules.field_of.values() or any("community" in m for m in (manifest or {}).values())
    if not declared and not explicit:
        communities_path = ""
    if communities_path and not declared:
        raise PipelineError(f"{communities_path}: a community file, but the texts have no community id "
                            f"({rules.path}: header.fields.community declares none, and no manifest column '{community}')",
                            hint="declare the community labels of the header, or pass --communities ''")
    ids = None
    if communities_path:
        if params.get("instrument"):
            instrument = load_instrument(params["instrument"])
            ids = community_id_set(communities_path, instrument.community_id or instrument.role("community") or community)
        else:
            ids = community_id_set(communities_path, community, "the texts' community column")
    return Context(rules=rules, spec=spec, settings=settings, communities=ids,
                   communities_name=Path(communities_path).name if communities_path else "",
                   community=community if declared else None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline transcripts", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--transcripts", default=str(config.RAW_TRANSCRIPTS), help="folder of .txt / .docx transcripts")
    parser.add_argument("--communities", default=None, type=str,
                        help="community file whose ids (the instrument's communities.id) the texts' must be in "
                             f"(default {config.RAW_COMMUNITIES} if it exists; '' for no check)")
    parser.add_argument("--manifest", default="",
                        help="optional CSV: file, interview_id, <community column>, role, date, names")
    parser.add_argument("--out", default=str(OUT_DIR))
    parser.add_argument("--metrics", default=str(METRICS_FILE))
    parser.add_argument("--which", default="", metavar="KEY",
                        help="print the transcript file the outputs name KEY (skipped.csv, interviews.csv: file) and stop")
    args = parser.parse_args(argv)
    if args.which:
        print(which_file(Path(args.transcripts), args.which))
        return
    explicit = args.communities is not None
    args.communities = config.communities_path(args.communities)
    params = config.load_params(args.params)
    cfg = parse(Transcripts, config.section(params, "transcripts"), "transcripts")
    settings = parse_settings(cfg)
    rules = load_rules(cfg.config, cfg.stopwords)
    engine = resolve_engine(cfg.engine)
    words = resolve_userdict(cfg.userdict, cfg.jieba_cache)
    spec = segmenter_spec(engine, words, cfg.jieba_cache)
    community = community_column(params.get("instrument"))
    manifest = read_manifest(Path(args.manifest), community) if args.manifest else None
    ctx = text_context(params, rules, spec, settings, args.communities, manifest, community, explicit)
    files = list_transcripts(Path(args.transcripts))
    result = process_corpus(files, ctx, manifest, parallel=from_params(params, n_jobs=settings.n_jobs),
                            root=Path(args.transcripts))
    write_outputs(result, Path(args.out), Path(args.metrics))
    TokenCache(settings.cache_dir, token_cache_key(spec, rules)).write_index(result.cache_entries)
    for line in result.warnings:
        print(f"transcripts: warning: {line}", file=sys.stderr)
    if len(result.skipped):
        print(f"transcripts: {len(result.skipped)} file(s) skipped, see {Path(args.out) / OUTPUTS['skipped']} "
              f"(python -m pipeline transcripts --which KEY names the file of a key)", file=sys.stderr)
    print(f"transcripts: {result.stats['segmented_units']} units and questions segmented now (the others' tokens "
          f"read from the cache for {result.stats['cached_interviews']} interviews)", file=sys.stderr)
    print(json.dumps(result.metrics, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

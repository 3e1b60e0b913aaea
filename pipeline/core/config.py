"""Default paths and the one reading of params.yaml.

Stage entry points take paths as arguments; the defaults live here only. ``params.yaml`` is read
once per entry point, validated whole against :mod:`pipeline.core.settings` (unknown keys, types
and ranges: one clear error, never a traceback) and the values are passed down.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import PipelineError
from pipeline.core.schema import parse
from pipeline.core.settings import Params, no_section

PARAMS = Path("params.yaml")

RAW = Path("raw")
RAW_SURVEY = RAW / "survey.sav"
RAW_COMMUNITIES = RAW / "communities.csv"
RAW_TRANSCRIPTS = RAW / "transcripts"
RAW_TRUTH = RAW / "truth"

PROCESSED = Path("processed")
REPORTS = Path("reports")
METRICS = Path("metrics")
TRANSCRIPT_UNITS = PROCESSED / "transcripts" / "units.parquet"
TRANSCRIPT_QUESTIONS = PROCESSED / "transcripts" / "questions.parquet"


def read_yaml(path: str | Path, what: str, hint: str | None = None) -> Any:
    """A YAML file's content; one clear error (file, what it is, what to do) if it is missing,
    unreadable or not YAML. Every configuration file of the pipeline is read through here."""
    path = Path(path)
    try:
        return load_yaml_text(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: {what} not found", hint=hint) from None
    except UnicodeDecodeError:
        raise PipelineError(f"{path}: {what} is not UTF-8 text", hint="save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: {what} is not valid YAML{_yaml_where(exc)}",
                            hint="look for a tab, an unclosed quote or bracket, or a missing space after ':' there") from None


def load_yaml_text(text: str) -> Any:
    """``yaml.safe_load`` of ``text``, parsed by libyaml when PyYAML has it (about 10x faster:
    every stage reads params.yaml and the instrument); invalid YAML is parsed again by the
    pure-Python loader, so its error (line, column, problem) reads the same on every machine."""
    if getattr(yaml, "CSafeLoader", None) is not None:
        try:
            return yaml.load(text, Loader=yaml.CSafeLoader)   # noqa: S506 - the safe loader, in C
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _yaml_where(exc: yaml.YAMLError) -> str:
    """' at line L, column C: <problem> (<context> at line L2)' of a YAML error, as far as known."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    text = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    text += f": {getattr(exc, 'problem', None) or exc.__class__.__name__}"
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and mark is not None and start.line != mark.line:
        text += f" ({context} at line {start.line + 1}, column {start.column + 1})"
    return text


def _read_params(path: str | Path) -> tuple[dict[str, Any], Params]:
    path = Path(path)
    raw = read_yaml(path, "parameter file", "run from the project root")
    if raw is None:
        raise PipelineError(f"{path}: no parameters yet (the file is empty or only comments)",
                            hint="draft your study's with `python -m pipeline init --survey <file>` (README, "
                                 "'Adopt the pipeline for your study'); the demo study's are studies/demo/params.yaml")
    if not isinstance(raw, dict):
        raise PipelineError(f"{path}: expected a mapping of stage sections")
    raw = _sections_from_files(raw, path)
    return raw, parse(Params, raw, source=path)


FILE_SECTIONS = ("simulate",)   # sections a study may keep in a file of their own: `simulate: <path>`


def _sections_from_files(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """``raw`` with each of :data:`FILE_SECTIONS` given as a path (from the project root, as
    ``instrument``) replaced by that file's mapping. The demo keeps its generator's design in
    studies/demo/simulate.yaml: the simulate stage depends on the file, and DVC's lock keeps its
    digest instead of its 200 values (a smaller lock is a faster `dvc repro`: DVC rewrites the
    lock after every stage)."""
    out = dict(raw)
    for name in FILE_SECTIONS:
        value = raw.get(name)
        if not isinstance(value, str):
            continue
        file = Path(value)
        if not file.is_absolute() and not file.exists():   # run from elsewhere: the params file's project
            file = next((d / value for d in path.resolve().parents if (d / value).is_file()), file)
        content = read_yaml(file, f"{name} file (params.yaml: {name})",
                            f"{path}: `{name}:` names a YAML file from the project root; fix the path or give the section inline")
        if not isinstance(content, dict):
            raise PipelineError(f"{value}: the {name} file (params.yaml: {name}) must be a mapping of settings",
                                hint=f"write the {name} section's settings at the top level of {value}")
        out[name] = content
    return out


def load_params(path: str | Path = PARAMS) -> dict[str, Any]:
    """The parameter file as written (no defaults filled in), once it has validated."""
    return _read_params(path)[0]


def load_settings(path: str | Path = PARAMS) -> Params:
    """The parameter file validated, as typed sections with their defaults."""
    return _read_params(path)[1]


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    try:
        return params[name]
    except KeyError:
        raise no_section(name) from None


def communities_path(value: str | None) -> str:
    """A text stage's --communities: the path given ('' for none), or, left out, the study's
    community file when it exists (a study of texts alone has none)."""
    if value is not None:
        return value
    return str(RAW_COMMUNITIES) if RAW_COMMUNITIES.is_file() else ""


def transcript_stage_parser(prog: str, description: str, out: Path, metrics: Path, questions_help: str):
    """The command line of a stage that reads the transcripts stage's outputs (topics, coding):
    --params, --units, --questions ('' to leave them out), --communities (see
    :func:`communities_path`), --out, --metrics."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--params", default=str(PARAMS))
    parser.add_argument("--units", default=str(TRANSCRIPT_UNITS))
    parser.add_argument("--questions", default=str(TRANSCRIPT_QUESTIONS), help=f"{questions_help}; '' to leave them out")
    parser.add_argument("--communities", default=None, type=str,
                        help=f"the community file (covariates joined by the texts' community id); default {RAW_COMMUNITIES} "
                             "if it exists; '' for none")
    parser.add_argument("--out", default=str(out))
    parser.add_argument("--metrics", default=str(metrics))
    return parser

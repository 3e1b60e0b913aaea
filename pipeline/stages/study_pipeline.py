"""The ``dvc.yaml`` of a study: the stages its parts need, each with its code, inputs, params and outputs.

A study has a survey, texts, or both; a community file or not; a codebook or not. The stages are
the same for every study (the demo's pipeline, ``studies/demo/dvc.yaml``, adds its generator and
checks); which of them run, and what each depends on, follows from those parts:

* survey: ``survey`` -> ``measurement`` -> ``models``, and ``integrate`` (the sample tables);
* texts: ``transcripts`` -> ``topics``, and ``coding`` when the study has a codebook;
* always: ``report``, over the outputs of the stages above.

A stage's ``deps`` list the code folders it imports (``tests/test_dvc_deps.py`` checks every
generated pipeline as it checks the demo's), its configuration files and its inputs; ``params``
the sections it reads (dvc needs every listed key in params.yaml, so init writes each section,
empty where the defaults serve). Paths are the project's: ``python -m pipeline init`` writes the file at the
project root, where ``dvc repro`` runs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CODE = ["pipeline/__main__.py", "pipeline/core"]
INSTRUMENT = "config/instrument.yaml"
TRANSCRIPTS_CONFIG = "config/transcripts.yaml"
CODEBOOK = "config/codebook.yaml"
JOINT = "config/joint_display.yaml"


@dataclass(frozen=True)
class Parts:
    """What a study has: the raw files (paths from the project root, or None)."""

    survey: str | None = None
    communities: str | None = None
    transcripts: str | None = None
    codebook: bool = False
    joint: bool = False

    @property
    def text(self) -> bool:
        return self.transcripts is not None


def _opt(flag: str, value: str | None) -> str:
    return f" {flag} {value}" if value else f" {flag} ''"


def _metrics(name: str) -> list[dict[str, Any]]:
    return [{f"metrics/{name}.json": {"cache": False}}]


def survey_stages(p: Parts) -> dict[str, dict[str, Any]]:
    comm = [p.communities] if p.communities else []
    return {
        "survey": {
            "cmd": f"python -m pipeline survey --params params.yaml --input {p.survey}{_opt('--communities', p.communities)}"
                   " --processed processed --reports reports --metrics metrics/survey.json",
            "deps": [*CODE, "pipeline/stages/survey.py", "pipeline/survey", INSTRUMENT, p.survey, *comm],
            "params": ["instrument", "survey"],
            "outs": ["processed/survey_clean.parquet", "processed/survey_missing.parquet",
                     "processed/survey_labels.json", "processed/exclusions.csv", "processed/recodes.csv",
                     "processed/survey_checks.csv", "processed/sample_flow.csv", "reports/codebook.md",
                     "reports/codebook.xlsx"],
            "metrics": _metrics("survey"),
        },
        "measurement": {
            "cmd": "python -m pipeline measurement --params params.yaml --survey processed/survey_clean.parquet"
                   f"{_opt('--communities', p.communities)} --processed processed --metrics metrics/measurement.json",
            "deps": [*CODE, "pipeline/stages/measurement.py", "pipeline/survey", "pipeline/stats", INSTRUMENT,
                     "processed/survey_clean.parquet", *comm],
            "params": ["seed", "instrument", "measurement"],
            "outs": ["processed/indices.parquet", "processed/measurement"],
            "metrics": _metrics("measurement"),
        },
        "models": {
            "cmd": "python -m pipeline models --params params.yaml --indices processed/indices.parquet"
                   " --out processed/models --metrics metrics/models.json",
            "deps": [*CODE, "pipeline/stages/models.py", "pipeline/stats", "processed/indices.parquet"],
            "params": ["seed", "models"],
            "outs": ["processed/models"],
            "metrics": _metrics("models"),
        },
    }


def text_stages(p: Parts) -> dict[str, dict[str, Any]]:
    comm = [p.communities] if p.communities else []
    instrument = [INSTRUMENT] if p.survey else []
    units = ["processed/transcripts/units.parquet", "processed/transcripts/questions.parquet"]
    stages: dict[str, dict[str, Any]] = {
        "transcripts": {
            "cmd": f"python -m pipeline transcripts --params params.yaml --transcripts {p.transcripts}"
                   f"{_opt('--communities', p.communities)} --out processed/transcripts --metrics metrics/transcripts.json",
            "deps": [*CODE, "pipeline/stages/transcripts.py", "pipeline/text", "pipeline/stats", *instrument,
                     TRANSCRIPTS_CONFIG, "config/surnames.txt", "config/given_names.txt", "config/userdict.txt",
                     "config/stopwords.txt",
                     p.transcripts, *comm],
            "params": [*(["instrument"] if p.survey else []), "transcripts"],
            "outs": ["processed/transcripts"],
            "metrics": _metrics("transcripts"),
        },
        "topics": {
            "cmd": "python -m pipeline topics --params params.yaml --units processed/transcripts/units.parquet"
                   f" --questions processed/transcripts/questions.parquet{_opt('--communities', p.communities)}"
                   " --out processed/topics --metrics metrics/topics.json",
            "deps": [*CODE, "pipeline/stages/topics.py", "pipeline/text", "pipeline/stats", *units, *comm],
            "params": ["seed", "topics"],
            "outs": ["processed/topics"],
            "metrics": _metrics("topics"),
        },
    }
    if p.codebook:
        stages["coding"] = {
            "cmd": "python -m pipeline coding --params params.yaml --units processed/transcripts/units.parquet"
                   f" --questions processed/transcripts/questions.parquet{_opt('--communities', p.communities)}"
                   " --out processed/coding --metrics metrics/coding.json",
            "deps": [*CODE, "pipeline/stages/coding.py", "pipeline/text", "pipeline/stats", CODEBOOK, *units, *comm],
            "params": ["seed", "coding"],
            "outs": ["processed/coding"],
            "metrics": _metrics("coding"),
        }
    return stages


def integrate_stage(p: Parts) -> dict[str, Any]:
    comm = [p.communities] if p.communities else []
    text = ["processed/coding/codes.parquet", "processed/transcripts/units.parquet"] if p.codebook else []
    config = [CODEBOOK] * p.codebook + [JOINT] * (p.joint and p.codebook)
    return {
        "cmd": f"python -m pipeline integrate --params params.yaml --processed processed{_opt('--communities', p.communities)}"
               f" --joint {JOINT} --codebook {CODEBOOK} --out processed/integrate",
        "deps": [*CODE, "pipeline/stages/integrate.py", "pipeline/text", "pipeline/stats", INSTRUMENT, *config, *comm,
                 "processed/survey_clean.parquet", "processed/survey_missing.parquet", "processed/indices.parquet",
                 "processed/models/hypotheses.csv", *text],
        "params": ["seed", "instrument", "models", "report"],
        "outs": ["processed/integrate"],
    }


def report_stage(p: Parts, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
    made = [o for name, s in upstream.items() for o in s["outs"]
            if not o.startswith("reports/") and o != "processed/survey_clean.parquet"
            and o != "processed/survey_missing.parquet" and not o.endswith("survey_labels.json")
            and not o.endswith(("recodes.csv", "survey_checks.csv"))]
    config = ([INSTRUMENT] if p.survey else []) + ([CODEBOOK] if p.codebook else [])
    return {
        "cmd": f"python -m pipeline report --params params.yaml --processed processed --codebook {CODEBOOK}"
               " --reports reports --metrics metrics/report.json --dvc-lock dvc.lock",
        "deps": [*CODE, "pipeline/stages/report.py", "pipeline/text", "pipeline/render", *config, "requirements.lock",
                 *made],
        "params": [{"params.yaml": None}],
        "outs": ["reports/tables", "reports/figures", "reports/report.html", "reports/report.docx"],
        "metrics": _metrics("report"),
    }


def study_stages(p: Parts) -> dict[str, dict[str, Any]]:
    """The stages of a study with these parts, in the order dvc runs them."""
    if not p.survey and not p.text:
        raise ValueError("a study has a survey, texts or both")
    stages: dict[str, dict[str, Any]] = {}
    if p.survey:
        stages.update(survey_stages(p))
    if p.text:
        stages.update(text_stages(p))
    if p.survey:
        stages["integrate"] = integrate_stage(p)
    stages["report"] = report_stage(p, stages)
    return stages


HEADER = """\
# The pipeline of this study, drafted by `python -m pipeline init` from its parts ({parts}).
# Each stage: the command, the code it imports, its configuration and inputs (deps), the params
# keys it reads and its outputs. `dvc repro` runs them in order and reruns a stage only when one of
# these changes. Add a part (texts, a codebook) with `python -m pipeline init ... --force`.
"""


def dvc_yaml(p: Parts) -> str:
    """The text of the study's dvc.yaml."""
    import yaml

    parts = ", ".join(name for name, has in (("survey", p.survey), ("community file", p.communities),
                                              ("texts", p.transcripts), ("codebook", p.codebook)) if has)
    body = yaml.safe_dump({"stages": study_stages(p)}, allow_unicode=True, sort_keys=False, width=110)
    return HEADER.format(parts=parts) + body.replace("params.yaml: null", "params.yaml:")

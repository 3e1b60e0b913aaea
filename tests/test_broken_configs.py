"""Every stage against the mistakes a tired researcher makes in its configuration: one line on
stderr naming the file and the key (or variable), no traceback, exit code 2, and no output.

Each case runs the stage's command on the demo study (built once per session) with a broken copy
of its params.yaml (or instrument), writing into a fresh folder that must stay empty.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO_PARAMS = "studies/demo/params.yaml"

COMMANDS = {
    "survey": "survey --input raw/survey.sav --communities raw/communities.csv --processed {out}/p --reports {out}/r"
              " --metrics {out}/m.json",
    "measurement": "measurement --survey processed/survey_clean.parquet --communities raw/communities.csv"
                   " --processed {out}/p --metrics {out}/m.json",
    "models": "models --indices processed/indices.parquet --out {out}/models --metrics {out}/m.json",
    "transcripts": "transcripts --transcripts raw/transcripts --communities raw/communities.csv --out {out}/t"
                   " --metrics {out}/m.json",
    "topics": "topics --units processed/transcripts/units.parquet --questions processed/transcripts/questions.parquet"
              " --communities raw/communities.csv --out {out}/topics --metrics {out}/m.json",
    "coding": "coding --units processed/transcripts/units.parquet --questions processed/transcripts/questions.parquet"
              " --communities raw/communities.csv --out {out}/coding --metrics {out}/m.json",
    "integrate": "integrate --processed processed --communities raw/communities.csv"
                 " --joint studies/demo/joint_display.yaml --codebook studies/demo/codebook.yaml --out {out}/i",
    "report": "report --processed processed --codebook studies/demo/codebook.yaml --reports {out}/r"
              " --metrics {out}/m.json --dvc-lock studies/demo/dvc.lock --provenance {out}/prov.json",
}


def _set(d: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d[int(k)] if isinstance(d, list) else d[k]
    if value is DELETE:
        del d[keys[-1]]
    else:
        d[keys[-1]] = value


DELETE = object()

# (stage, params changes {dotted key: value}, instrument changes {dotted key: value}, words the message must hold)
CASES = [
    ("survey", {"survey.speeder.fracton": 0.3}, {}, ["params.yaml", "survey.speeder.fracton", "fraction"]),
    ("survey", {"instrument": "config/no_such_instrument.yaml"}, {}, ["no_such_instrument.yaml"]),
    ("survey", {}, {"roles.community": "resp_id"}, ["instrument", "resp_id", "community"]),
    ("survey", {}, {"scales.contact.items": ["B1", "B2", "B99"]}, ["instrument", "B99"]),
    ("measurement", {"measurement.covariates": ["serial", "agee"]}, {}, ["params.yaml", "agee", "age"]),
    ("measurement", {"measurement.cfa.scales": ["contact", "nosuch"]}, {}, ["params.yaml", "nosuch"]),
    ("models", {"models.specs.0.formula": "participation ~ gov_modle + {controls}"}, {},
     ["params.yaml", "gov_modle", "gov_model"]),
    ("models", {"models.mi.m": 1}, {}, ["params.yaml", "models.mi.m"]),
    ("models", {"models.specs.0.covariance": "sandwich"}, {}, ["params.yaml", "covariance"]),
    ("transcripts", {"transcripts.config": "config/no_such_rules.yaml"}, {}, ["no_such_rules.yaml"]),
    ("transcripts", {"transcripts.unit": "word"}, {}, ["params.yaml", "transcripts.unit"]),
    ("topics", {"topics.k_grid": [400, 500]}, {}, ["k_grid"]),
    ("topics", {"topics.vocabulary.min_df": 0}, {}, ["params.yaml", "topics.vocabulary.min_df"]),
    ("coding", {"coding.codebook": "config/no_such_codebook.yaml"}, {}, ["no_such_codebook.yaml"]),
    ("coding", {"coding.decision.relative": 2}, {}, ["params.yaml", "coding.decision.relative"]),
    ("integrate", {"report.lang": "fr"}, {}, ["params.yaml", "report.lang"]),
    ("report", {"report.title": {"zh": "标题"}}, {}, ["params.yaml", "report.title"]),
    ("report", {"report.formats": ["csv", "pdf"]}, {}, ["params.yaml", "report.formats"]),
]


def _id(case) -> str:
    stage, params, instrument, _ = case
    return f"{stage}:{','.join([*params, *instrument])}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_a_broken_config_is_one_line_naming_file_and_key(demo_study, tmp_path, case):
    stage, params_changes, instrument_changes, words = case
    params = yaml.safe_load((demo_study / DEMO_PARAMS).read_text(encoding="utf-8"))
    params = copy.deepcopy(params)
    if instrument_changes:
        instrument = yaml.safe_load((demo_study / params["instrument"]).read_text(encoding="utf-8"))
        for key, value in instrument_changes.items():
            _set(instrument, key, value)
        ipath = tmp_path / "instrument.yaml"
        ipath.write_text(yaml.safe_dump(instrument, allow_unicode=True, sort_keys=False), encoding="utf-8")
        params["instrument"] = str(ipath)
    for key, value in params_changes.items():
        _set(params, key, value)
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "pipeline", *COMMANDS[stage].format(out=out).split()]
    argv[4:4] = ["--params", str(pfile)]
    proc = subprocess.run(argv, cwd=demo_study, capture_output=True, text=True,
                          env={**os.environ, "PIPELINE_TIMINGS": str(tmp_path / "timings")})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    missing = [w for w in words if w not in lines[0]]
    assert not missing, f"{missing} not in: {lines[0]}"
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*")), sorted(out.rglob("*"))

"""Shared fixtures: the project's params and instrument, read once."""
from __future__ import annotations

import os
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)  # numpy may already be loaded by a plugin: limit BLAS threads at run time too

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)


@pytest.fixture(scope="session")
def params():
    from pipeline.core.config import load_params

    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def instrument(params):
    from pipeline.core.instrument import load_instrument

    return load_instrument(ROOT / params["instrument"])


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def run_study(workdir: Path, overrides: dict | None = None, stages: tuple[str, ...] = ("simulate", "survey")) -> Path:
    """Run the pipeline's stages, in order, on a study in ``workdir`` (the demo study with
    ``overrides`` merged into params.yaml), the way dvc.yaml runs them. Returns ``workdir``."""
    import subprocess
    import sys

    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params = _merge(params, overrides or {})
    params["instrument"] = str(ROOT / params["instrument"])
    params["simulate"]["transcripts"]["bank"] = str(ROOT / params["simulate"]["transcripts"]["bank"])
    params["coding"]["codebook"] = str(ROOT / params["coding"]["codebook"])
    workdir.mkdir(parents=True, exist_ok=True)
    pfile = workdir / "params.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    raw, processed, reports, metrics = (workdir / d for d in ("raw", "processed", "reports", "metrics"))
    commands = {
        "simulate": ["--raw", raw],
        "survey": ["--input", raw / "survey.sav", "--communities", raw / "communities.csv", "--processed", processed,
                   "--reports", reports, "--metrics", metrics / "survey.json"],
        "measurement": ["--survey", processed / "survey_clean.parquet", "--communities", raw / "communities.csv",
                        "--processed", processed, "--metrics", metrics / "measurement.json"],
        "models": ["--indices", processed / "indices.parquet", "--out", processed / "models",
                   "--metrics", metrics / "models.json"],
        "transcripts": ["--transcripts", raw / "transcripts", "--communities", raw / "communities.csv",
                        "--out", processed / "transcripts", "--metrics", metrics / "transcripts.json"],
        "topics": ["--units", processed / "transcripts" / "units.parquet",
                   "--questions", processed / "transcripts" / "questions.parquet", "--communities", raw / "communities.csv",
                   "--out", processed / "topics", "--metrics", metrics / "topics.json"],
        "demo_checks": ["--truth", raw / "truth", "--units", processed / "transcripts" / "units.parquet",
                        "--topics", processed / "topics", "--communities", raw / "communities.csv",
                        "--out", processed / "demo_checks", "--metrics", metrics / "demo_checks.json"],
        "coding": ["--units", processed / "transcripts" / "units.parquet",
                   "--questions", processed / "transcripts" / "questions.parquet", "--communities", raw / "communities.csv",
                   "--out", processed / "coding", "--metrics", metrics / "coding.json"],
        "report": ["--processed", processed, "--communities", raw / "communities.csv",
                   "--joint", ROOT / "config" / "joint_display.yaml", "--codebook", ROOT / "config" / "codebook.yaml",
                   "--reports", reports, "--out", processed / "report", "--metrics", metrics / "report.json",
                   "--dvc-lock", workdir / "dvc.lock", "--timings", workdir / "timings"],
    }
    env = {**os.environ, "PIPELINE_TIMINGS": str(workdir / "timings"),   # not the repository's .cache
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for stage in stages:
        cmd = [sys.executable, "-m", "pipeline", stage, "--params", str(pfile), *map(str, commands[stage])]
        # coding.human_codes (the demo's processed/demo_checks/human_codes.csv) is a path of the study
        cwd = workdir if stage == "coding" else ROOT
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, f"{stage} failed:\n{proc.stderr[-3000:]}"
    return workdir

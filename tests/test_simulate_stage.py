"""The simulate stage end to end: raw/ as DVC writes it, twice, byte for byte."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _small_params(tmp_path: Path, seed: int) -> Path:
    params = yaml.safe_load((ROOT / "studies/demo/params.yaml").read_text(encoding="utf-8"))
    params["seed"] = seed
    params["instrument"] = str(ROOT / params["instrument"])
    params["simulate"]["n_communities"] = 10
    params["simulate"]["transcripts"]["n_interviews"] = 30
    params["simulate"]["transcripts"]["bank"] = str(ROOT / params["simulate"]["transcripts"]["bank"])
    path = tmp_path / f"params_{seed}.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=True), encoding="utf-8")
    return path


def _run(params: Path, raw: Path) -> dict[str, str]:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "simulate", "--params", str(params), "--raw", str(raw)],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PIPELINE_TIMINGS": str(raw.parent / "timings")})   # not the project's .cache
    assert proc.returncode == 0, proc.stderr
    return {str(p.relative_to(raw)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(raw.rglob("*")) if p.is_file()}


def test_stage_writes_raw_and_is_deterministic(tmp_path):
    params = _small_params(tmp_path, seed=11)
    first = _run(params, tmp_path / "a" / "raw")
    second = _run(params, tmp_path / "b" / "raw")
    assert first == second
    assert {"survey.sav", "communities.csv", "truth/survey_truth.json", "truth/survey_problems.csv",
            "truth/transcript_pii.csv", "truth/transcript_units.csv", "truth/transcript_interviews.csv"} <= set(first)
    transcripts = [k for k in first if k.startswith("transcripts/")]
    assert len(transcripts) == 30
    interviews = pd.read_csv(tmp_path / "a" / "raw" / "truth" / "transcript_interviews.csv")
    assert set(interviews["comm_id"]) <= set(pd.read_csv(tmp_path / "a" / "raw" / "communities.csv")["comm_id"])
    # no leftovers of the atomic writes
    assert not [k for k in first if k.endswith(".tmp") or "/." in k or k.startswith(".")]
    other = _run(_small_params(tmp_path, seed=12), tmp_path / "c" / "raw")
    assert other["survey.sav"] != first["survey.sav"]


def test_default_study_has_gbk_and_docx_transcripts(params):
    """The configured study (80 interviews) has both legacy formats of the real fieldwork."""
    from pipeline.demo.simulate_transcripts import simulate_transcripts
    from pipeline.demo.transcript_bank import load_bank
    from pipeline.demo.simulate import STREAM_TRANSCRIPTS, simulate_communities
    import numpy as np

    cfg = params["simulate"]
    comm = simulate_communities(cfg, np.random.default_rng([params["seed"], 1]))
    corpus = simulate_transcripts(comm, cfg["transcripts"], np.random.default_rng([params["seed"], STREAM_TRANSCRIPTS]),
                                  load_bank(ROOT / cfg["transcripts"]["bank"]))
    counts = corpus.interviews.groupby(["format", "encoding"]).size()
    assert len(corpus.files) == cfg["transcripts"]["n_interviews"]
    assert counts.get(("txt", "gbk"), 0) >= 5
    assert counts.xs("docx", level="format").sum() >= 4

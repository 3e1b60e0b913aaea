"""The simulate stage end to end: raw/ as DVC writes it, twice, byte for byte."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from pipeline.core.config import load_params
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _small_params(tmp_path: Path, seed: int) -> Path:
    params = load_params(ROOT / "studies/demo/params.yaml")
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


def test_simulate_never_overwrites_a_teams_raw_data(tmp_path):
    """Only the demo's generator writes raw/, and only files it wrote itself: a team's survey,
    community file or texts in raw/ stop it before anything is simulated, byte for byte untouched."""
    import pyreadstat

    params = _small_params(tmp_path, seed=11)
    cases = {
        "survey.sav": lambda raw: pyreadstat.write_sav(pd.DataFrame({"id": [1.0, 2.0]}), str(raw / "survey.sav"),
                                                       file_label="our own study"),
        "communities.csv": lambda raw: (raw / "communities.csv").write_text("school,size\nA,3\n", encoding="utf-8"),
        "transcripts": lambda raw: ((raw / "transcripts").mkdir(),
                                    (raw / "transcripts" / "访谈01.txt").write_text("问：你好\n答：好", encoding="utf-8")),
    }
    for name, make in cases.items():
        raw = tmp_path / name / "raw"
        raw.mkdir(parents=True)
        make(raw)
        before = {p: p.read_bytes() for p in raw.rglob("*") if p.is_file()}
        proc = subprocess.run([sys.executable, "-m", "pipeline", "simulate", "--params", str(params), "--raw", str(raw)],
                              cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PIPELINE_TIMINGS": str(tmp_path / "timings")})
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1 and "never" in proc.stderr and name in proc.stderr
        assert {p: p.read_bytes() for p in raw.rglob("*") if p.is_file()} == before


def test_the_demos_raw_outputs_persist_in_dvc():
    """dvc would delete a stage's outputs before running it; the generator's are `persist`, so
    its own refusal above is what decides."""
    stage = yaml.safe_load((ROOT / "studies/demo/dvc.yaml").read_text(encoding="utf-8"))["stages"]["simulate"]
    assert all(isinstance(o, dict) and next(iter(o.values())).get("persist") for o in stage["outs"])

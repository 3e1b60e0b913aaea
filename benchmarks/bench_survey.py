"""Time and peak memory of the survey stage on the benchmark survey (about 200,000 respondents).

    .venv/bin/python benchmarks/bench_survey.py

The benchmark study (``benchmarks/benchmark_study.yaml``: 2,000 communities of 95-105
respondents) is generated with the simulator's survey part only, written to
``benchmarks/work/survey/raw/`` (survey.sav, communities.csv), and then
``python -m pipeline survey`` runs on it in a child process, measured by ``common.measured``
(wall time, peak resident memory of the child). Generating the file is not part of the timing.
Prints a Markdown table; copy it into benchmarks/RESULTS.md. Target: under 60 s and 2 GB.
"""
from __future__ import annotations

import json
import shutil
import sys
import time

import numpy as np
import yaml

from common import ROOT, benchmark_params, machine, measured

sys.path.insert(0, str(ROOT))

from pipeline.core.instrument import load_instrument  # noqa: E402
from pipeline.demo.simulate import STREAM_SURVEY, simulate_survey, write_sav  # noqa: E402


def main() -> None:
    work = ROOT / "benchmarks" / "work" / "survey"
    shutil.rmtree(work, ignore_errors=True)
    params_path = benchmark_params(work)
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    instrument = load_instrument(params["instrument"])

    start = time.perf_counter()
    study = simulate_survey(params["simulate"], instrument, np.random.default_rng([int(params["seed"]), STREAM_SURVEY]))
    raw = work / "raw"
    raw.mkdir(parents=True)
    write_sav(study.survey, instrument, raw / "survey.sav")
    study.communities.to_csv(raw / "communities.csv", index=False)
    generate = time.perf_counter() - start

    out = work / "out"
    run = measured([
        sys.executable, "-m", "pipeline", "survey", "--params", str(params_path),
        "--input", str(raw / "survey.sav"), "--communities", str(raw / "communities.csv"),
        "--processed", str(out / "processed"), "--reports", str(out / "reports"),
        "--metrics", str(out / "metrics" / "survey.json"),
    ])
    metrics = json.loads((out / "metrics" / "survey.json").read_text(encoding="utf-8"))
    size_mb = (raw / "survey.sav").stat().st_size / 2**20
    print(f"Machine: {machine()}\n")
    print(f"Input: {metrics['raw_submissions']:,} submissions, {len(study.communities):,} communities, "
          f"{len(study.survey.columns)} variables, survey.sav {size_mb:.0f} MB (generated in {generate:.0f} s, not timed); "
          f"{metrics['analysed']:,} analysed.\n")
    print("| step | wall time (s) | peak memory (MB) |\n|---|---|---|")
    print(f"| survey stage (read, check, clean, codebook, write) | {run['seconds']} | {run['peak_mb']} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

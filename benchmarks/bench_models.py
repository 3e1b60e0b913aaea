"""Time and peak memory of the models stage on the benchmark study (about 200,000 respondents).

    .venv/bin/python benchmarks/bench_models.py

The indices of the benchmark study are built in memory with the pipeline's own cleaning and
scoring code (not timed), then the models stage runs as DVC runs it, in a child process.
"""
from __future__ import annotations

import shutil
import sys
import time

import numpy as np
import yaml

from common import ROOT, benchmark_params, machine, measured

sys.path.insert(0, str(ROOT))


def main() -> None:
    from pipeline.core.config import load_params
    from pipeline.core.instrument import load_instrument
    from pipeline.demo.recovery import analysed_indices

    work = ROOT / "benchmarks" / "work" / "models"
    shutil.rmtree(work, ignore_errors=True)
    pfile = benchmark_params(work)
    params = load_params(pfile)
    instrument = load_instrument(params["instrument"])
    start = time.perf_counter()
    sim = yaml.safe_load((ROOT / "benchmarks" / "benchmark_study.yaml").read_text(encoding="utf-8"))["simulate"]
    indices = analysed_indices(params, instrument, np.random.default_rng([params["seed"], 1]),
                               {k: v for k, v in sim.items() if k != "transcripts"})
    indices.to_parquet(work / "indices.parquet", index=False)
    prep = time.perf_counter() - start
    r = measured([sys.executable, "-m", "pipeline", "models", "--params", str(pfile), "--indices",
                  str(work / "indices.parquet"), "--out", str(work / "models"), "--metrics", str(work / "models.json")])
    print(f"Machine: {machine()}\n")
    print(f"Benchmark indices: {len(indices):,} respondents in {indices[instrument.role('community')].nunique():,} communities "
          f"(built in {prep:.0f} s, not timed)\n")
    print("| step | wall time (s) | peak memory (MB) |\n|---|---|---|")
    print(f"| models stage (all default models, MI m = 20, mediation 1,000 resamples) | {r['seconds']} | {r['peak_mb']} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Time and peak memory of the simulate stage at the default and the benchmark study.

    .venv/bin/python benchmarks/bench_simulate.py

Prints a Markdown table; copy it into benchmarks/RESULTS.md.
"""
from __future__ import annotations

import shutil
import sys

from common import ROOT, benchmark_params, machine, measured


def main() -> None:
    work = ROOT / "benchmarks" / "work" / "simulate"
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    default = measured([sys.executable, "-m", "pipeline", "simulate", "--params", str(ROOT / "studies/demo/params.yaml"),
                        "--raw", str(work / "default" / "raw")])
    rows.append(("default (60 communities, ~2,400 respondents, 80 interviews)", default))
    params = benchmark_params(work / "bench")
    bench = measured([sys.executable, "-m", "pipeline", "simulate", "--params", str(params),
                      "--raw", str(work / "bench" / "raw")])
    rows.append(("benchmark (2,000 communities, ~200,000 respondents, 10,000 interviews)", bench))
    print(f"Machine: {machine()}\n")
    print("| study | wall time (s) | peak memory (MB) |\n|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['seconds']} | {r['peak_mb']} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

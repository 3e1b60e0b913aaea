"""``python -m pipeline <stage> [options]``: run one stage of the pipeline."""
from __future__ import annotations

import os

# One BLAS/OpenMP thread per process: results that depend on the summation order (NMF, factor
# models) are then the same on every machine, and parallel work goes through processes instead.
# Set before numpy is imported by any stage.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import importlib  # noqa: E402
import sys  # noqa: E402

from pipeline.errors import run_cli

STAGES = {
    "simulate": "pipeline.simulate",
    "survey": "pipeline.survey",
    "transcripts": "pipeline.transcripts",
    "measurement": "pipeline.measurement",
    "models": "pipeline.models",
    "recovery": "pipeline.recovery",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in STAGES:
        print(f"usage: python -m pipeline {{{','.join(STAGES)}}} [options]", file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(STAGES[argv[0]])
    return run_cli(lambda: module.main(argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m pipeline <stage> [options]``: run one stage of the pipeline."""
from __future__ import annotations

import os
import platform

# One BLAS/OpenMP thread per process: results that depend on the summation order (NMF, factor
# models) are then the same on every machine, and parallel work goes through processes instead.
# Set before numpy is imported by any stage.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# numba's compiled code (the topic model's Gibbs sampler) is cached by the module's content
# outside the project (pipeline/core/machine.py), once per machine.

# The same kernels on every x86-64 CPU: numpy's own x86-64-v2 baseline loops (its AVX2/AVX-512
# variants switched off) and OpenBLAS's Nehalem (SSE) kernels instead of the ones it would pick
# for this CPU. Each variant sums in its own order, so without this the last binary digits of a
# regression, factor model or topic model depend on the machine (and a small coefficient or a
# confidence bound near zero can differ in its 10th digit). A variable already set wins
# (NPY_DISABLE_CPU_FEATURES="" for numpy's own choice, OPENBLAS_CORETYPE=Haswell for another
# kernel). Before numpy is imported; only when run as `python -m pipeline`, not when imported (a
# test process that imports this module keeps its kernels, and so do the workers it starts).
CPU_KERNELS = {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
               "OPENBLAS_CORETYPE": "Nehalem"}
if __name__ == "__main__" and platform.machine().lower() in ("x86_64", "amd64"):
    for _var, _value in CPU_KERNELS.items():
        os.environ.setdefault(_var, _value)

import atexit  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

from pipeline.core.errors import run_cli

STAGES = {
    "init": "pipeline.stages.init",
    "simulate": "pipeline.demo.simulate",
    "survey": "pipeline.stages.survey",
    "transcripts": "pipeline.stages.transcripts",
    "measurement": "pipeline.stages.measurement",
    "models": "pipeline.stages.models",
    "recovery": "pipeline.demo.recovery",
    "topics": "pipeline.stages.topics",
    "demo_checks": "pipeline.demo.demo_checks",
    "coding": "pipeline.stages.coding",
    "integrate": "pipeline.stages.integrate",
    "report": "pipeline.stages.report",
    "purge": "pipeline.stages.purge",           # not a dvc stage: after a redaction fix (docs/redaction.md)
    "verify": "pipeline.stages.verify",   # not a DVC stage: compares the outputs with the committed ones
}
NOT_TIMED = {"init", "verify", "purge"}   # commands that are not stages of the pipeline


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in STAGES:
        print(f"usage: python -m pipeline {{{','.join(STAGES)}}} [options]", file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(STAGES[argv[0]])
    started = time.time()
    code = run_cli(lambda: module.main(argv[1:]))
    if code == 0 and argv[0] not in NOT_TIMED:
        record_timing(argv[0], started, time.time() - started)
    return code


def record_timing(stage: str, started: float, seconds: float) -> None:
    """Keep this run's wall time and peak memory (this process or its largest worker) of ``stage`` for the provenance file (``reports/provenance.json``).
    Times live only there: a stage's tracked outputs never hold a time, so reruns are
    byte-identical. The folder is ``$PIPELINE_TIMINGS`` or ``.cache/timings`` (git-ignored)."""
    folder = Path(os.environ.get("PIPELINE_TIMINGS", ".cache/timings"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(started, tz=timezone.utc).isoformat(timespec="seconds")
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        (folder / f"{stage}.json").write_text(json.dumps({"stage": stage, "started": stamp,
                                                         "seconds": round(seconds, 2),
                                                         "peak_mb": round(peak, 1)}) + "\n")
    except OSError:  # a read-only checkout still runs; provenance then says "not recorded"
        pass


def leave(code: int) -> None:
    """End the process with ``code`` without tearing the interpreter down. The exit handlers
    run as at a normal exit (``atexit``: multiprocessing's and loky's clean-up, logging's flush,
    ``weakref.finalize``), the standard streams are flushed, and then the process ends: Python's
    own teardown (every module's objects freed one by one, a last garbage collection) took
    0.3-0.8 s per stage with statsmodels and matplotlib loaded, time the pipeline waits for ten
    times and nothing needs (every file a stage writes is closed by then: pipeline.core.files)."""
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


if __name__ == "__main__":
    try:
        code = main()
    except SystemExit as exc:          # argparse's --help and usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    leave(code)

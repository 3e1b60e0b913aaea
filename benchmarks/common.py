"""Shared helpers for the benchmark scripts: a benchmark study's params and a measured run.

Benchmarks are not tests: they print and record wall time and peak memory of whole commands
run in a child process (peak resident set size from the kernel's rusage of that child).
"""
from __future__ import annotations

import copy
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "benchmarks" / "benchmark_study.yaml"


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def benchmark_params(workdir: Path) -> Path:
    """params.yaml with the benchmark study's overrides, written into ``workdir``."""
    from pipeline.core.config import load_params

    params = load_params(ROOT / "studies/demo/params.yaml")    # simulate: read from its file
    params = merge(params, yaml.safe_load(STUDY.read_text(encoding="utf-8")))
    params["instrument"] = str(ROOT / params["instrument"])
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def measured(cmd: list[str], cwd: Path = ROOT) -> dict[str, float]:
    """Run ``cmd`` to completion; return wall seconds and the child's peak RSS in MB."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}")
    return {"seconds": round(wall, 2), "peak_mb": round(usage.ru_maxrss / 1024, 1)}


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {sys.version.split()[0]}, {platform.platform()}"



"""Provenance of a report: what made it, from what, with which settings.

Two parts, kept apart on purpose:

* :func:`reproducible_part` — package versions, parameters, the seed and the hashes that
  ``dvc.lock`` recorded for the earlier stages' outputs **that the report reads** (its deps in
  ``dvc.yaml``). The same inputs and environment give the same values, so the report's
  provenance appendix (inside the tracked ``report.html``/``report.docx``) is byte-identical on
  every rerun. Only what the report stage depends on goes into it: a hash of another stage's code
  or of an output the report does not read would change the appendix without DVC rerunning the
  report, and the tracked report would then not be what a clean run makes. Every hash of
  ``dvc.lock`` (deps and outs of every stage) goes to ``reports/provenance.json``.
* :func:`run_part` — the git commit, the machine, when each stage ran and how long it took. These
  change with every run or commit; they go only to ``reports/provenance.json``, which is not a
  tracked DVC output (a tracked file that holds a time would make ``dvc.lock`` change on every
  run) and which the determinism test skips.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import posixpath
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

from pipeline.core.config import load_yaml_text


def lock_packages(lock: Path) -> list[str]:
    """Package names pinned in the requirements lock (``name==version`` lines)."""
    names = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            names.append(line.split("==", 1)[0].strip())
    return sorted(set(names), key=str.lower)


def package_versions(names: list[str]) -> dict[str, str]:
    """Installed version of each package (``"not installed"`` where it is missing)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def dvc_lock_hashes(lock: Path, kinds: tuple[str, ...] = ("deps", "outs")) -> dict[str, dict[str, str]]:
    """Per stage, the md5 of every dependency and output (``kinds``) that ``dvc.lock`` recorded."""
    if not lock.exists():
        return {}
    data = load_yaml_text(lock.read_text(encoding="utf-8")) or {}
    out: dict[str, dict[str, str]] = {}
    for stage, entry in sorted((data.get("stages") or {}).items()):
        files = {}
        for kind in kinds:
            for item in entry.get(kind) or []:
                files[item["path"]] = item.get("md5", "")
        out[stage] = files
    return out


def stage_deps(dvc_yaml: Path, stage: str) -> list[str] | None:
    """The paths ``dvc.yaml`` declares as ``stage``'s deps (None without the file or the stage)."""
    if not dvc_yaml.exists():
        return None
    entry = ((load_yaml_text(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages") or {}).get(stage)
    if not isinstance(entry, Mapping):
        return None
    return [posixpath.normpath(str(d)) for d in entry.get("deps") or []]


def _read(path: str, deps: Sequence[str]) -> bool:
    path = posixpath.normpath(path)
    return any(path == d or path.startswith(d + "/") for d in deps)


# The packages the report's appendix names with their versions (the analysis itself); every pinned
# package and version is in requirements.lock and reports/provenance.json.
KEY_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "formulaic", "pyreadstat", "jieba",
                "matplotlib", "python-docx", "dvc")


def inputs_digest(files: Mapping[str, str]) -> str:
    """One short digest of a stage's recorded files and their md5 (path-sorted): equal exactly
    when every file ``dvc.lock`` recorded for the stage is equal."""
    text = json.dumps(sorted(files.items()), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def params_digest(params: Mapping[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def reproducible_part(params: Mapping[str, Any], lock: Path, dvc_lock: Path, stage: str = "report") -> dict[str, Any]:
    """The part of the provenance that is the same on every rerun (see the module docstring): per
    earlier stage of ``dvc.lock``, the hashes of its outputs that ``stage`` (the report) declares
    as deps in the ``dvc.yaml`` beside ``dvc.lock`` (every output, when there is no such file or
    stage: the report run by hand). The report's own entry is written after it and is not read;
    a stage none of whose outputs the report reads is left out."""
    reads = stage_deps(dvc_lock.with_name("dvc.yaml"), stage)
    hashes = {name: {p: md5 for p, md5 in files.items() if reads is None or _read(p, reads)}
              for name, files in dvc_lock_hashes(dvc_lock, ("outs",)).items() if name != stage}
    return {
        "python": platform.python_version(),
        "packages": package_versions(lock_packages(lock)) if lock.exists() else {},
        "seed": params.get("seed"),
        "params_sha256": params_digest(params),
        "params": params,
        "inputs": {name: files for name, files in hashes.items() if files},
    }


def git_commit(root: Path) -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit or "unknown", "dirty": bool(dirty) if commit else None}


def stage_timings(folder: Path) -> dict[str, Any]:
    """The last recorded run of every stage in ``folder`` (``<stage>.json``, written by
    ``python -m pipeline``); stages restored from DVC's cache or run elsewhere have none."""
    out = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            out[path.stem] = "unreadable"
    return out


def run_part(root: Path, timings: Path) -> dict[str, Any]:
    """The run-specific part (commit, machine, times): for provenance.json only."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git": git_commit(root),
        "machine": {"platform": platform.platform(), "processor": platform.machine(),
                    "cpus": os.cpu_count(), "python_executable": sys.executable},
        "stage_times": stage_timings(timings),
    }

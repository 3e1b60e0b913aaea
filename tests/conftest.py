"""Shared fixtures: the demo study's params and instrument, read once; the demo study, built once per
session by its dvc.yaml's own commands in a temporary folder (``demo_study``, ``run_study``)."""
from __future__ import annotations

import os
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# numba's compiled kernels and jieba's dictionary cache: kept by content outside the project
# (pipeline/core/machine.py), for this process and every stage command a test runs elsewhere.

import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from pipeline.core.config import load_params

threadpool_limits(1)  # numpy may already be loaded by a plugin: limit BLAS threads at run time too

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)
DEMO = Path("studies/demo")                 # the demo study: its dvc.yaml, params.yaml and config
DEMO_PARAMS = DEMO / "params.yaml"


@pytest.fixture(scope="session")
def params():
    from pipeline.core.config import load_params

    return load_params(ROOT / DEMO_PARAMS)


@pytest.fixture(scope="session")
def instrument(params):
    from pipeline.core.instrument import load_instrument

    return load_instrument(ROOT / params["instrument"])


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# --------------------------------------------------------------------------------------------
# a study built by dvc.yaml's own stage commands, in a temporary folder
# --------------------------------------------------------------------------------------------
KEPT_OUT = ("pipeline/", "raw/", "processed/", "reports/", "metrics/", ".cache/", ".dvc/")


def _path_of(entry) -> str:
    """The path of a dvc.yaml list entry (``path`` or ``{path: options}``)."""
    return next(iter(entry)) if isinstance(entry, dict) else str(entry)


def _under(path: str, folders) -> bool:
    return any(path == f.rstrip("/") or path.startswith(f.rstrip("/") + "/") for f in folders)


def stage_outputs(stage: dict) -> list[str]:
    return [_path_of(o) for kind in ("outs", "metrics", "plots") for o in stage.get(kind) or []]


def stage_needs(stages: dict) -> dict[str, set[str]]:
    """For each stage, the stages whose outputs it depends on (a dep equal to, inside or
    holding another stage's output)."""
    outs = {name: stage_outputs(s) for name, s in stages.items()}
    needs = {}
    for name, s in stages.items():
        deps = [_path_of(d) for d in s.get("deps") or []]
        needs[name] = {other for other in stages if other != name and any(
            _under(d, outs[other]) or _under(o, [d]) for d in deps for o in outs[other])}
    return needs


def stage_order(dvc: dict, wanted=None) -> list[str]:
    """The stages of ``dvc`` (a parsed dvc.yaml) in the order ``dvc repro`` runs them: every stage
    after the ones whose outputs it depends on, dvc.yaml's order otherwise. ``wanted``: only
    these stages and the stages they need (default: all)."""
    stages = dvc["stages"]
    needs = stage_needs(stages)
    keep = set(stages if wanted is None else wanted)
    unknown = keep - set(stages)
    assert not unknown, f"no stage {sorted(unknown)} in dvc.yaml"
    todo = list(keep)
    while todo:
        for other in needs[todo.pop()]:
            if other not in keep:
                keep.add(other)
                todo.append(other)
    order: list[str] = []
    while len(order) < len(keep):
        ready = [n for n in stages if n in keep and n not in order and needs[n] <= set(order)]
        assert ready, f"dvc.yaml: a cycle among {sorted(keep - set(order))}"
        order.append(ready[0])
    return order


def _md5(path: Path) -> str:
    """The md5 dvc records in ``dvc.lock``: of the bytes of a file; of a folder, of the list of its
    files with their md5, sorted by path (suffix ``.dir``). Python's ``__pycache__`` is left out,
    as in the repository's dvc.lock (its files come and go with every import)."""
    import hashlib
    import json

    if path.is_file():
        return hashlib.md5(path.read_bytes()).hexdigest()
    listing = sorted(({"md5": _md5(f), "relpath": f.relative_to(path).as_posix()}
                      for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.relative_to(path).parts),
                     key=lambda item: item["relpath"])
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def _lock_entry(workdir: Path, stage: dict) -> dict:
    """The ``dvc.lock`` entry of a stage that has just run in ``workdir`` (code deps, which are not
    copied there, are hashed in the project; a dep that is in neither is left out)."""
    entry: dict = {"cmd": stage["cmd"]}
    for kind, paths in (("deps", [_path_of(d) for d in stage.get("deps") or []]), ("outs", stage_outputs(stage))):
        items = []
        for rel in paths:
            where = workdir / rel if (workdir / rel).exists() else ROOT / rel if _under(rel, ["pipeline"]) else None
            if where is not None and where.exists():
                items.append({"path": rel, "md5": _md5(where)})
        entry[kind] = items
    return entry


def _git_env() -> dict[str, str]:
    """Point git at the project, so the report's provenance records the commit of the code that
    ran (the stages run in a folder outside the repository); nothing when it is not a checkout."""
    import subprocess

    try:
        git_dir = subprocess.run(["git", "rev-parse", "--absolute-git-dir"], cwd=ROOT, capture_output=True,
                                 text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"GIT_DIR": git_dir, "GIT_WORK_TREE": str(ROOT)} if git_dir else {}


def run_study(workdir: Path, overrides: dict | None = None, stages: tuple[str, ...] | None = None,
              env: dict[str, str] | None = None) -> Path:
    """Run the study in ``workdir`` the way ``dvc repro`` runs it in the project: the commands of
    the repository's dvc.yaml, in its order (``stages``: these and the stages they need; default:
    every stage), with ``workdir`` as the working folder. ``workdir`` gets copies of params.yaml
    (``overrides`` merged in), config/ and the stages' other inputs that no stage makes
    (requirements.lock, ...); the code is the project's (PYTHONPATH). Everything relative in the
    commands and params (raw/, processed/, reports/, metrics/, the token and jieba caches under
    .cache/, the stage timings) is then inside ``workdir``, never the repository's. After each
    stage its entry (the md5 of its deps and outs, as dvc records them) goes into
    ``workdir/dvc.lock``, as ``dvc repro`` does, so the report's provenance has its inputs.
    ``env``: more environment variables for the stages. Returns ``workdir``."""
    import shlex
    import shutil
    import subprocess
    import sys

    import yaml

    dvc = yaml.safe_load((ROOT / DEMO / "dvc.yaml").read_text(encoding="utf-8"))
    order = stage_order(dvc, stages)
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "config", workdir / "config", dirs_exist_ok=True)
    shutil.copytree(ROOT / DEMO, workdir / DEMO, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("dvc.lock"))
    if overrides:
        params = _merge(load_params(ROOT / DEMO_PARAMS), overrides)
        (workdir / DEMO_PARAMS).write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False),
                                           encoding="utf-8")
    made = [o for s in dvc["stages"].values() for o in stage_outputs(s)]
    for s in dvc["stages"].values():
        inputs = [_path_of(d) for d in s.get("deps") or []]
        inputs += [_path_of(p) for p in s.get("params") or [] if isinstance(p, dict)]   # other params files
        for rel in inputs:
            if _under(rel, made) or _under(rel, KEPT_OUT) or _under(rel, ["config", str(DEMO)]):
                continue
            src = ROOT / rel
            if src.is_file() and not (workdir / rel).exists():
                (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, workdir / rel)
            elif src.is_dir():
                shutil.copytree(src, workdir / rel, dirs_exist_ok=True)
    env = {**os.environ, **_git_env(), "PIPELINE_TIMINGS": str(workdir / ".cache" / "timings"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), **(env or {})}
    lock_file = workdir / DEMO / "dvc.lock"
    lock = yaml.safe_load(lock_file.read_text(encoding="utf-8")) if lock_file.exists() else None
    lock = lock or {"schema": "2.0", "stages": {}}
    for name in order:
        stage = dvc["stages"][name]
        assert stage.get("wdir") == "../.." and "foreach" not in stage and "matrix" not in stage, \
            f"{name}: only stages that run from the project root (wdir: ../..) are supported here"
        for cmd in stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]:
            argv = shlex.split(cmd)
            if argv[0] == "python":
                argv[0] = sys.executable
            proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True)
            assert proc.returncode == 0, f"stage {name} failed ({cmd}):\n{proc.stderr[-3000:]}"
        lock["stages"][name] = _lock_entry(workdir, stage)
        lock_file.write_text(yaml.safe_dump(lock, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return workdir


@pytest.fixture(scope="session")
def demo_study(tmp_path_factory) -> Path:
    """The demo study, every stage of dvc.yaml, built once per test session in a temporary folder
    (see run_study). Tests read its raw/, processed/, reports/, metrics/ and dvc.lock, never the
    repository's. Building it takes a minute or more: every test using it is marked slow."""
    return run_study(tmp_path_factory.mktemp("demo_study"))


def pytest_collection_modifyitems(config, items):
    """Every test that uses the demo study (directly or through another fixture) is slow."""
    for item in items:
        if "demo_study" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)

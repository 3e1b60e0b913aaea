"""dvc.yaml cannot drift from the code: every module a stage imports (transitively, including
imports inside functions) is covered by that stage's deps, as a file or a folder above it, and
so is ``pipeline/__main__.py``, whose thread pinning changes results."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _module_file(name: str) -> Path | None:
    """The file of module ``name`` of this project (pipeline.*), or None for anything else."""
    if not (name == "pipeline" or name.startswith("pipeline.")):
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Modules named by the import statements of ``path`` (``from pipeline.x import y`` gives
    pipeline.x and, when y is a module, pipeline.x.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                out.add(arg.value)
    return out


def closure(module: str) -> set[Path]:
    """Files of every project module ``module`` imports, itself included, with the package
    ``__init__.py`` files Python runs on the way."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):   # parent packages run their __init__
            f = _module_file(".".join(parts[:i]))
            if f is not None and f not in seen:
                seen.add(f)
                todo.extend(_imports(f))
    return seen


def _stage_modules() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("_pipeline_main", ROOT / "pipeline" / "__main__.py")
    main = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(main)
    return dict(main.STAGES)


def _stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "studies/demo/dvc.yaml").read_text(encoding="utf-8"))["stages"]


def _deps(stage: dict) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == d.rstrip("/") or rel.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("name", list(_stages()))
def test_stage_deps_cover_the_code_it_imports(name):
    stage = _stages()[name]
    words = stage["cmd"].split()
    assert words[:3] == ["python", "-m", "pipeline"], f"{name}: cmd is not `python -m pipeline <stage>`"
    module = _stage_modules()[words[3]]
    files = closure("pipeline.__main__") | closure(module)
    # an empty package __init__ runs no code; one that holds code must be a dependency too
    files = {p for p in files if not (p.name == "__init__.py" and not p.read_text(encoding="utf-8").strip())}
    missing = sorted(p.relative_to(ROOT).as_posix() for p in files if not _covered(p, _deps(stage)))
    assert not missing, f"dvc.yaml stage '{name}' imports code its deps do not list: {missing}"


def test_closure_sees_imports_inside_functions(tmp_path):
    # the checker itself: a function-level import counts (simulate imports the transcript
    # simulator inside a function)
    files = closure("pipeline.demo.simulate")
    assert any("simulate_transcripts" in p.name or p.parent.name == "demo" for p in files)
    assert ROOT / "pipeline" / "core" / "errors.py" in files


def _study_stages() -> dict[str, dict]:
    """Every stage `pipeline init` can write (a study with survey, community file, texts and codebook)."""
    from pipeline.stages.study_pipeline import Parts, study_stages

    return study_stages(Parts(survey="raw/survey.sav", communities="raw/communities.csv",
                              transcripts="raw/transcripts", codebook=True, joint=True))


@pytest.mark.parametrize("name", list(_study_stages()))
def test_init_pipeline_deps_cover_the_code_it_imports(name):
    """The dvc.yaml `init` writes for a study is held to the same rule as the demo's."""
    stage = _study_stages()[name]
    module = _stage_modules()[stage["cmd"].split()[3]]
    files = closure("pipeline.__main__") | closure(module)
    files = {p for p in files if not (p.name == "__init__.py" and not p.read_text(encoding="utf-8").strip())}
    missing = sorted(p.relative_to(ROOT).as_posix() for p in files if not _covered(p, _deps(stage)))
    assert not missing, f"init's stage '{name}' imports code its deps do not list: {missing}"

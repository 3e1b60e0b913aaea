"""python -m pipeline verify: the outputs here against the committed ones (git and the DVC cache
named by the committed dvc.lock), on a small study run by real dvc in a git repository."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.compare import compare_displayed, compare_json, compare_tables, relative_difference

ROOT = Path(__file__).resolve().parents[1]

MAKE = '''\
import json, pathlib
for d in ("processed/t", "reports/tables", "metrics"):
    pathlib.Path(d).mkdir(parents=True, exist_ok=True)
pathlib.Path("processed/t/coefs.csv").write_text("term,estimate,p\\nx,0.1234567891,0.04\\nz,2.5,0.5\\n")
pathlib.Path("processed/t/notes.csv").write_text("k,v\\na,b\\n")
pathlib.Path("reports/tables/table01_coefs.csv").write_text("Term,b,p\\nx,0.123,0.040\\nz,2.500,0.500\\n")
pathlib.Path("reports/tables/table01_coefs.md").write_text("| Term | b |\\n|---|---|\\n| x | 0.123 |\\n")
pathlib.Path("reports/tables/preamble.tex").write_text("\\\\usepackage{booktabs}\\n")   # shared by the .tex tables: no table
pathlib.Path("metrics/m.json").write_text(json.dumps({"n": 2, "stability": 0.9325051109}) + "\\n")
'''

DVC_YAML = '''\
stages:
  make:
    cmd: python make.py
    deps: [make.py]
    outs: [processed/t, reports/tables]
    metrics:
      - metrics/m.json:
          cache: false
'''


def _run(args, cwd, check=True):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc


def _verify(cwd, *extra):
    return _run([sys.executable, "-m", "pipeline", "verify", *extra], cwd, check=False)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A git repository with one dvc stage run by dvc and its results committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    d = tmp_path_factory.mktemp("verify_study")
    (d / "make.py").write_text(MAKE)
    (d / "dvc.yaml").write_text(DVC_YAML)
    _run(["git", "init", "-q"], d)
    _run([sys.executable, "-m", "dvc", "init", "-q"], d)
    _run([sys.executable, "-m", "dvc", "repro", "-q"], d)
    _run(["git", "add", "-A"], d)
    _run(["git", "commit", "-q", "-m", "results"], d)
    return d


def _copy(study: Path, tmp_path: Path) -> Path:
    work = tmp_path / "copy"
    shutil.copytree(study, work, symlinks=True)
    return work


def test_unchanged_outputs_reproduce(study):
    proc = _verify(study)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "table01_coefs" in proc.stdout and "every displayed number reproduces" in proc.stdout
    assert "REPRODUCES: 1 of 1 tables" in proc.stdout and "4 of 4 stored files byte-identical" in proc.stdout
    assert "preamble" not in proc.stdout.split("Stored values")[0]   # the LaTeX preamble is no table: the demo said
                                                                    # "DOES NOT REPRODUCE" for it, every time


def test_a_tampered_output_is_reported(study, tmp_path):
    work = _copy(study, tmp_path)
    coefs = work / "processed/t/coefs.csv"
    coefs.write_text(coefs.read_text().replace("2.5,", "2.6,"))
    table = work / "reports/tables/table01_coefs.csv"
    table.write_text(table.read_text().replace("2.500", "2.600"))
    proc = _verify(work)
    assert proc.returncode == 1
    out = proc.stdout
    assert "DIFFERS: 1 of 6 cells print differently, e.g. row 2, b: '2.500' -> '2.600'" in out
    assert "processed/t/coefs.csv" in out and "largest relative difference 0.038 (estimate, row 2)" in out
    assert "DOES NOT REPRODUCE: 0 of 1 tables" in out


def test_a_last_digit_difference_is_within_the_tolerance(study, tmp_path):
    work = _copy(study, tmp_path)
    coefs = work / "processed/t/coefs.csv"
    coefs.write_text(coefs.read_text().replace("0.1234567891", "0.1234567892"))
    (work / "metrics/m.json").write_text('{"n": 2, "stability": 0.9325051108}\n')
    proc = _verify(work)
    assert proc.returncode == 0, proc.stdout
    assert "metrics/m.json" in proc.stdout and "largest relative difference 1.1e-10 (stability)" in proc.stdout
    assert _verify(work, "--tolerance", "0").returncode == 1


def test_a_missing_output_and_no_committed_lock(study, tmp_path):
    work = _copy(study, tmp_path)
    (work / "processed/t/notes.csv").unlink()
    proc = _verify(work)
    assert proc.returncode == 1 and "processed/t/notes.csv" in proc.stdout and "missing" in proc.stdout
    bad = _verify(work, "--lock", "other/dvc.lock")
    assert bad.returncode == 2 and "other/dvc.lock: no committed version at HEAD" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_fresh_clone_without_the_cache(study, tmp_path):
    """No DVC cache (a fresh clone, no remote): folders are compared by their hash only."""
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(study), str(clone)], tmp_path)
    _run([sys.executable, "make.py"], clone)                       # as dvc repro would
    proc = _verify(clone)
    assert proc.returncode == 0, proc.stdout
    (clone / "processed/t/coefs.csv").write_text("term,estimate,p\nx,0.1,0.04\nz,2.5,0.5\n")
    proc = _verify(clone)
    assert proc.returncode == 1
    assert "processed/t/" in proc.stdout and "not in the DVC cache here" in proc.stdout


def test_compare_functions():
    assert relative_difference([1.0, float("nan"), 0.0], [1.0, float("nan"), 1.0]).tolist() == [0.0, 0.0, 1.0]
    assert relative_difference([float("nan")], [1.0]).tolist() == [float("inf")]
    d = compare_tables(b"a,b\n1,x\n2,y\n", b"a,b\n1,x\n2.000000001,y\n", ".csv")
    assert d.n_differ == 1 and d.where == "a, row 2" and 4e-10 < d.max_rel < 6e-10
    assert "columns changed" in compare_tables(b"a\n1\n", b"b\n1\n", ".csv").note
    assert "rows committed" in compare_tables(b"a\n1\n", b"a\n1\n2\n", ".csv").note
    j = compare_json(b'{"a": {"b": 1.0}, "c": "x"}', b'{"a": {"b": 1.5}, "c": "x"}')
    assert j.where == "a.b" and abs(j.max_rel - 1 / 3) < 1e-12
    shown = compare_displayed(b"x,y\n0.123,a\n", b"x,y\n0.124,a\n")
    assert shown.n_differ == 1 and shown.example == "row 1, x: '0.123' -> '0.124'"


def test_the_cache_dir_of_the_dvc_config(tmp_path, monkeypatch):
    from pipeline.stages.verify import default_cache

    monkeypatch.chdir(tmp_path)
    assert default_cache() == Path(".dvc/cache")
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    analytics = false\n[cache]\n    dir = ../../shared\n")
    assert default_cache() == Path(".dvc/../../shared")

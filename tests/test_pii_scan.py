"""No planted personal value anywhere in the pipeline's outputs.

1. A small study in a temporary folder: the ``simulate`` stage, the ``transcripts`` stage and
   every stage of ``dvc.yaml`` downstream of it (with the stages those need), run by their own
   ``dvc.yaml`` commands; then every file under its ``processed/``, ``reports/`` and ``metrics/``
   is searched for every planted value of ``raw/truth/transcript_pii.csv``. A stage added later
   that reads the transcripts' outputs is covered without touching this file.
2. The repository's own ``processed/``, ``reports/`` and ``metrics/`` against its ``raw/truth``,
   when they exist (CI runs ``dvc repro`` before the tests, so this covers the whole pipeline).

Files are searched as text: Parquet tables cell by cell, zip packages (.xlsx, .docx) member by
member, anything else as bytes in UTF-8 and GBK. Phone and ID numbers are also searched as bare
digits, so a stage that strips the spaces of "138 9501 2345" is caught too.
"""
from __future__ import annotations

import copy
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("processed", "reports", "metrics")
START = "transcripts"


# --------------------------------------------------------------------------------------------
# the scanner
# --------------------------------------------------------------------------------------------
def planted_values(truth: Path) -> list[str]:
    """Every planted value, plus the bare digits of phone and ID numbers."""
    pii = pd.read_csv(truth / "transcript_pii.csv", dtype=str, keep_default_na=False)
    values = set(pii["value"])
    for value, typ in zip(pii["value"], pii["type"]):
        if typ in ("mobile", "landline", "id_number"):
            digits = re.sub(r"[^0-9Xx]", "", value)
            if len(digits) >= 7:
                values |= {digits, digits.upper()}
    return sorted(v for v in values if v)


def file_texts(path: Path) -> list[str]:
    """The text content of a file, as every reader of it would see it."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return ["\n".join("" if v is None else str(v) for v in col.to_pylist()) for col in table.columns] + \
               ["\n".join(table.column_names), str(table.schema.metadata or "")]
    texts = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            texts += [z.read(name).decode("utf-8", errors="ignore") for name in z.namelist()]
    texts += [data.decode("utf-8", errors="ignore"), data.decode("gb18030", errors="ignore")]
    return texts


def scan(roots: list[Path], values: list[str]) -> tuple[list[tuple[str, str]], int]:
    """(file, value) for every planted value found under ``roots``, and the number of files searched."""
    hits, n = [], 0
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []:
            n += 1
            found = {m.group() for text in file_texts(path) for m in pattern.finditer(text)}
            hits += [(str(path.relative_to(root.parent)), v) for v in sorted(found)]
    return hits, n


def _report(hits: list[tuple[str, str]]) -> str:
    by_file: dict[str, int] = {}
    for f, _ in hits:
        by_file[f] = by_file.get(f, 0) + 1
    # the values themselves are personal data (fake here, but the habit matters): counts only
    return "planted personal values found: " + ", ".join(f"{f}: {n}" for f, n in sorted(by_file.items()))


# --------------------------------------------------------------------------------------------
# the stages to run: transcripts, everything downstream of it, and what those need
# --------------------------------------------------------------------------------------------
def _under(path: str, outs: list[str]) -> bool:
    return any(path == o or path.startswith(o.rstrip("/") + "/") for o in outs)


def stages_to_run(dvc: dict) -> list[str]:
    stages = dvc["stages"]
    outs = {name: [next(iter(o)) if isinstance(o, dict) else o for o in s.get("outs", [])] for name, s in stages.items()}
    deps = {name: list(s.get("deps", [])) for name, s in stages.items()}
    needs = {name: {other for other in stages if other != name and any(_under(d, outs[other]) for d in deps[name])}
             for name in stages}
    wanted = {START}
    changed = True
    while changed:                                   # downstream of transcripts
        changed = False
        for name in stages:
            if name not in wanted and needs[name] & wanted:
                wanted.add(name)
                changed = True
    todo = list(wanted)
    while todo:                                      # and everything they need
        for other in needs[todo.pop()]:
            if other not in wanted:
                wanted.add(other)
                todo.append(other)
    order: list[str] = []
    while len(order) < len(wanted):
        ready = [n for n in stages if n in wanted and n not in order and needs[n] <= set(order)]
        assert ready, f"dvc.yaml: a cycle among {sorted(wanted - set(order))}"
        order += ready
    return order


def test_stages_to_run_follows_the_dag():
    dvc = {"stages": {
        "simulate": {"outs": ["raw/transcripts", "raw/truth"]},
        "transcripts": {"deps": ["raw/transcripts"], "outs": ["processed/transcripts"]},
        "survey": {"deps": ["raw/survey.sav"], "outs": ["processed/survey_clean.parquet"]},
        "topics": {"deps": ["processed/transcripts/units.parquet", "processed/survey_clean.parquet"],
                   "outs": ["processed/topics"]},
        "models": {"deps": ["processed/indices.parquet"], "outs": ["processed/models"]},
    }}
    assert stages_to_run(dvc) == ["simulate", "survey", "transcripts", "topics"]


# --------------------------------------------------------------------------------------------
# 1. a small study in a temporary folder
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    work = tmp_path_factory.mktemp("pii_scan")
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params = copy.deepcopy(params)
    params["simulate"]["n_communities"] = 12
    params["simulate"]["transcripts"]["n_interviews"] = 40
    params["transcripts"]["jieba_cache"] = str(ROOT / params["transcripts"]["jieba_cache"])
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    shutil.copytree(ROOT / "config", work / "config")
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    order = stages_to_run(dvc)
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    for name in order:
        cmd = shlex.split(dvc["stages"][name]["cmd"])
        if cmd[0] == "python":
            cmd[0] = sys.executable
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"stage {name} failed:\n{proc.stderr[-3000:]}"
    return work, order


def test_small_study_outputs_hold_no_planted_value(small_study):
    work, order = small_study
    assert "simulate" in order and START in order
    values = planted_values(work / "raw" / "truth")
    assert len(values) > 50
    hits, n = scan([work / d for d in SCANNED], values)
    assert n >= len(order) + 5, f"only {n} output files searched"
    assert (work / "processed" / "transcripts" / "units.parquet").exists()
    assert not hits, _report(hits)


def test_the_scanner_sees_planted_values(small_study):
    """Control: the raw transcripts (UTF-8, GBK and .docx files) are full of them."""
    work, _ = small_study
    hits, n = scan([work / "raw" / "transcripts"], planted_values(work / "raw" / "truth"))
    files = {f for f, _ in hits}
    assert len(files) >= 0.8 * n
    interviews = pd.read_csv(work / "raw" / "truth" / "transcript_interviews.csv")
    for fmt in ("gbk", "docx"):
        name = interviews[(interviews["encoding"] == fmt) | (interviews["format"] == fmt)]["file"]
        assert any(f"transcripts/{x}" in files for x in name), f"no hit in a {fmt} file"


# --------------------------------------------------------------------------------------------
# 2. the repository's own outputs (after dvc repro)
# --------------------------------------------------------------------------------------------
def test_repository_outputs_hold_no_planted_value():
    truth = ROOT / "raw" / "truth"
    roots = [ROOT / d for d in SCANNED if (ROOT / d).exists()]
    if not (truth / "transcript_pii.csv").exists() or not roots:
        pytest.skip("no raw/truth or no outputs: run dvc repro first")
    hits, n = scan(roots, planted_values(truth))
    assert not hits, _report(hits)

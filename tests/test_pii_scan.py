"""No planted personal value anywhere in the pipeline's outputs.

The demo study, built for this test session by dvc.yaml's own commands in a temporary folder
(every stage, so a stage added later is covered without touching this file; see
conftest.demo_study): every file under its ``processed/``, ``reports/`` and ``metrics/`` is
searched for every planted value of its ``raw/truth/transcript_pii.csv``.

Files are searched as text: Parquet tables cell by cell, zip packages (.xlsx, .docx) member by
member, anything else as bytes in UTF-8 and GBK. Phone and ID numbers are also searched as bare
digits, so a stage that strips the spaces of "138 9501 2345" is caught too.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scan import file_texts

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
# the demo study
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def study(demo_study):
    """The demo study and the stages dvc.yaml runs, in order (its dvc.lock)."""
    return demo_study, list(yaml.safe_load((demo_study / "studies/demo/dvc.lock").read_text(encoding="utf-8"))["stages"])


def test_demo_study_outputs_hold_no_planted_value(study):
    work, order = study
    assert "simulate" in order and START in order
    values = planted_values(work / "raw" / "truth")
    assert len(values) > 50
    hits, n = scan([work / d for d in SCANNED], values)
    assert n >= len(order) + 5, f"only {n} output files searched"
    assert (work / "processed" / "transcripts" / "units.parquet").exists()
    assert not hits, _report(hits)


def test_the_scanner_sees_planted_values(study):
    """Control: the raw transcripts (UTF-8, GBK and .docx files) are full of them."""
    work, _ = study
    hits, n = scan([work / "raw" / "transcripts"], planted_values(work / "raw" / "truth"))
    files = {f for f, _ in hits}
    assert len(files) >= 0.8 * n
    interviews = pd.read_csv(work / "raw" / "truth" / "transcript_interviews.csv")
    for fmt in ("gbk", "docx"):
        name = interviews[(interviews["encoding"] == fmt) | (interviews["format"] == fmt)]["file"]
        assert any(f"transcripts/{x}" in files for x in name), f"no hit in a {fmt} file"

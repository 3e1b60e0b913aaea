"""The contract of the transcripts stage's units.parquet and questions.parquet (pipeline/text/units.py):
declared once, checked when the stage writes and when topics and coding read, with a one-line error."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.core.errors import PipelineError
from pipeline.text import coding, documents
from pipeline.text.units import QUESTION_TYPES, UNIT_TYPES, check_text_frame, text_schema


def _units(community: str | None = "village") -> pd.DataFrame:
    rows = [("I001:1:1", "I001", "V1", "resident", "2025-06-09", 1, 1, "答", "我退休了。", "退休", 1),
            ("I001:2:1", "I001", "V1", "resident", "2025-06-09", 2, 1, "答", "小区里转转。", "小区 转转", 2)]
    frame = pd.DataFrame(rows, columns=list(UNIT_TYPES)).astype(UNIT_TYPES)
    return frame.rename(columns={"community": community}) if community else frame.drop(columns="community")


def test_the_demo_outputs_hold_the_contract(demo_study):
    units = pd.read_parquet(demo_study / "processed/transcripts/units.parquet")
    questions = pd.read_parquet(demo_study / "processed/transcripts/questions.parquet")
    community = next(c for c in units.columns if c not in UNIT_TYPES)     # the instrument's community id
    check_text_frame(units, "units", community, "units.parquet")
    check_text_frame(questions, "questions", community, "questions.parquet")
    assert list(units.columns) == [community if c == "community" else c for c in UNIT_TYPES]


def test_a_frame_off_the_contract_is_one_line_naming_file_and_column():
    check_text_frame(_units(), "units", "village", "u.parquet")
    check_text_frame(_units(None), "units", None, "u.parquet")
    broken = {
        "missing column": _units().drop(columns="tokens"),
        "extra column": _units().assign(extra=1),
        "wrong type": _units().assign(turn=["1", "2"]),
        "duplicate id": _units().assign(unit_id="I001:1:1"),
        "missing value": _units().assign(text=pd.Series(["a", None], dtype="str")),
        "negative count": _units().assign(n_tokens=[1, -1]),
    }
    for what, frame in broken.items():
        with pytest.raises(PipelineError) as err:
            check_text_frame(frame, "units", "village", "processed/transcripts/units.parquet")
        msg = str(err.value)
        assert "processed/transcripts/units.parquet" in msg and "\n" not in msg.strip(), (what, msg)
    with pytest.raises(PipelineError, match=r"columns \['village'\] are missing"):
        check_text_frame(_units(None), "units", "village", "u.parquet")


def test_the_quick_check_never_passes_what_pandera_rejects():
    """check_text_frame decides a frame that plainly meets the contract without pandera (its
    import is ~0.35 s in each stage that reads the transcripts); everything the quick check
    passes, pandera's schema passes too, and what it does not pass goes to pandera."""
    from pipeline.text.units import _meets_contract

    frames = {
        "units": (_units(), "units", "village"), "no community": (_units(None), "units", None),
        "python strings": (_units().astype({"text": pd.StringDtype("python", na_value=float("nan"))}), "units", "village"),
        "object strings": (_units().astype({"text": object}), "units", "village"),
        "int32": (_units().astype({"turn": "int32"}), "units", "village"),
        "columns reordered": (_units()[list(reversed(_units().columns))], "units", "village"),
        "duplicate id": (_units().assign(unit_id="I001:1:1"), "units", "village"),
        "negative count": (_units().assign(n_tokens=[1, -1]), "units", "village"),
        "missing value": (_units().assign(text=pd.Series(["a", None], dtype="str")), "units", "village"),
        "empty": (_units().iloc[:0], "units", "village"),
    }
    quick = {what: _meets_contract(f, kind, c) for what, (f, kind, c) in frames.items()}
    assert quick["units"] and quick["no community"] and quick["empty"]
    for what, (frame, kind, community) in frames.items():
        if quick[what]:
            text_schema(kind, community).validate(frame)        # pandera agrees
    assert not any(quick[w] for w in ("int32", "columns reordered", "duplicate id", "negative count", "missing value"))


def test_reading_a_good_frame_does_not_import_pandera(tmp_path):
    import subprocess
    import sys

    _units().to_parquet(tmp_path / "u.parquet")
    code = ("import sys, pandas as pd; from pipeline.text.units import check_text_frame; "
            f"check_text_frame(pd.read_parquet({str(tmp_path / 'u.parquet')!r}), 'units', 'village', 'u'); "
            "print('pandera' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_the_readers_need_only_columns_of_the_contract():
    assert set(documents.UNITS_NEEDED) <= set(UNIT_TYPES)
    assert set(coding.UNITS_NEEDED) <= set(UNIT_TYPES)
    assert set(documents.QUESTION_COLUMNS) <= set(QUESTION_TYPES)
    assert text_schema("units", None).strict and "community" not in text_schema("units", None).columns

"""The survey stage on real broken files: one clear message (exit 2, no traceback) and no output.

Each file is written here, in the test: a truncated and an empty .sav, CSVs with a wrong header,
a required or id variable missing, ids all the same, nothing left after cleaning, legacy GBK
.sav files (made from a pyreadstat file by ``to_legacy_encoding``, because pyreadstat writes UTF-8
only) and, as the one soft case, a column holding only missing codes.
"""
from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fixtures.toy_survey import ROOT, output_files, params_file, run_stage, to_legacy_encoding
from pipeline.stages import survey
from pipeline.survey.read import read_survey
from pipeline.demo.simulate import simulate_survey, write_sav


@pytest.fixture(scope="module", autouse=True)
def no_real_key():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("PIPELINE_ID_KEY", raising=False)
        yield


@pytest.fixture(scope="module")
def small(params, instrument):
    cfg = copy.deepcopy(params["simulate"])
    cfg["n_communities"] = 5
    return simulate_survey(cfg, instrument, np.random.default_rng([int(params["seed"]), 1]))


def _fails(capsys, tmp_path, path, *names, params=None, communities=""):
    """Run the stage; it must fail with one line naming ``names`` and leave no output."""
    out = tmp_path / "out"
    code = run_stage(out, path, params=params, communities=communities)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for name in (str(path.name), *names):
        assert name in lines[0], f"'{name}' not in: {lines[0]}"
    assert output_files(out) == [], "a failed run left files behind"
    return lines[0]


def _sav(df, instrument, path):
    write_sav(df, instrument, path)
    return path


# --------------------------------------------------------------------------------------------
# unreadable files
# --------------------------------------------------------------------------------------------
def test_truncated_sav(small, instrument, tmp_path, capsys):
    data = _sav(small.survey, instrument, tmp_path / "full.sav").read_bytes()
    path = tmp_path / "truncated.sav"
    path.write_bytes(data[: len(data) // 2])
    line = _fails(capsys, tmp_path, path)
    assert "truncated" in line


def test_empty_file(tmp_path, capsys):
    for name in ("survey.sav", "survey.csv"):
        path = tmp_path / name
        path.write_bytes(b"")
        assert "empty" in _fails(capsys, tmp_path, path)


def test_missing_file(tmp_path, capsys):
    assert "not found" in _fails(capsys, tmp_path, tmp_path / "nothing.sav")


def test_csv_with_a_wrong_header(small, tmp_path, capsys):
    """A 问卷星-style header of question texts instead of variable names."""
    df = small.survey.copy()
    df.columns = [f"{i + 1}、题目{i + 1}" for i in range(df.shape[1])]
    path = tmp_path / "wjx.csv"
    df.to_csv(path, index=False)
    line = _fails(capsys, tmp_path, path, "resp_id", "survey.rename")
    assert "1、题目1" in line


def test_csv_without_header_row(small, tmp_path, capsys):
    path = tmp_path / "noheader.csv"
    small.survey.to_csv(path, index=False, header=False)
    _fails(capsys, tmp_path, path, "resp_id")


def test_csv_with_only_a_header(small, tmp_path, capsys):
    path = tmp_path / "header_only.csv"
    small.survey.iloc[:0].to_csv(path, index=False)
    assert "no data rows" in _fails(capsys, tmp_path, path)


def test_gbk_csv_without_encoding(small, tmp_path, capsys):
    path = tmp_path / "gbk.csv"
    small.survey.assign(gender=small.survey["gender"].map({1.0: "男", 2.0: "女"})).to_csv(path, index=False, encoding="gbk")
    _fails(capsys, tmp_path, path, "survey.encoding")
    params = params_file(tmp_path, encoding="gbk")
    assert run_stage(tmp_path / "ok", path, params=params) == 0


# --------------------------------------------------------------------------------------------
# the file does not match the instrument
# --------------------------------------------------------------------------------------------
def test_required_variable_missing(small, instrument, tmp_path, capsys):
    path = _sav(small.survey.drop(columns=["gender"]), instrument, tmp_path / "nogender.sav")
    _fails(capsys, tmp_path, path, "gender", "required")


def test_id_variable_missing(small, instrument, tmp_path, capsys):
    path = _sav(small.survey.drop(columns=["resp_id"]), instrument, tmp_path / "noid.sav")
    _fails(capsys, tmp_path, path, "resp_id", "roles.id")


def test_ids_all_duplicated(small, instrument, tmp_path, capsys):
    path = _sav(small.survey.assign(resp_id="R000001"), instrument, tmp_path / "sameid.sav")
    _fails(capsys, tmp_path, path, "resp_id", "roles.id")


def test_record_numbers_not_unique(small, instrument, tmp_path, capsys):
    df = small.survey.copy()
    df.loc[5, "serial"] = df.loc[4, "serial"]
    path = _sav(df, instrument, tmp_path / "serial.sav")
    _fails(capsys, tmp_path, path, "serial", "not unique", str(int(df.loc[4, "serial"])))


def test_empty_ids(small, instrument, tmp_path, capsys):
    df = small.survey.copy()
    df.loc[[3, 7], "resp_id"] = ""
    path = _sav(df, instrument, tmp_path / "blankid.sav")
    _fails(capsys, tmp_path, path, "resp_id", "2 row(s)", f"serial {int(df.loc[3, 'serial'])}")


def test_text_in_a_numeric_column(small, tmp_path, capsys):
    path = tmp_path / "text.csv"
    small.survey.assign(age="unknown").to_csv(path, index=False)
    _fails(capsys, tmp_path, path, "'age'", "numeric")


def test_unknown_community(small, instrument, tmp_path, capsys):
    path = _sav(small.survey, instrument, tmp_path / "survey.sav")
    comms = tmp_path / "communities.csv"
    small.communities[small.communities["comm_id"] != "C002"].to_csv(comms, index=False)
    _fails(capsys, tmp_path, path, "C002", "comm_id", communities=comms)


def test_nothing_left_after_cleaning(small, instrument, tmp_path, capsys):
    path = _sav(small.survey.assign(F7=1.0), instrument, tmp_path / "allfail.sav")
    line = _fails(capsys, tmp_path, path, "nothing left", "attention")
    assert f"all {len(small.survey)} submissions" in line


# --------------------------------------------------------------------------------------------
# soft: a column of only missing codes
# --------------------------------------------------------------------------------------------
def test_column_of_only_missing_codes_is_recorded(small, instrument, tmp_path, capsys):
    path = _sav(small.survey.assign(F3=98.0), instrument, tmp_path / "f3.sav")
    assert run_stage(tmp_path / "out", path) == 0
    processed = tmp_path / "out" / "processed"
    checks = pd.read_csv(processed / "survey_checks.csv")
    assert ("F3", "all_missing") in set(zip(checks["variable"], checks["check"]))
    clean = pd.read_parquet(processed / "survey_clean.parquet")
    missing = pd.read_parquet(processed / "survey_missing.parquet")
    assert clean["F3"].isna().all()
    f3 = missing[missing["variable"] == "F3"]
    assert len(f3) == len(clean) and (f3["reason"] == "dont_know").all()
    md = (tmp_path / "out" / "reports" / "codebook.md").read_text(encoding="utf-8")
    assert "valid N 0 · missing: dont_know " + str(len(clean)) in md
    assert "soft check" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# legacy GBK files
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def utf8_run(small, instrument, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("utf8")
    _sav(small.survey, instrument, tmp / "survey.sav")
    assert run_stage(tmp / "out", tmp / "survey.sav") == 0
    return tmp


def test_gbk_sav_read_with_the_encoding_option(utf8_run, tmp_path, capsys):
    """GBK text declared as Windows-1252: garbled without the option, right with it."""
    path = tmp_path / "legacy.sav"
    path.write_bytes(to_legacy_encoding((utf8_run / "survey.sav").read_bytes(), codepage=1252))
    assert "性别".encode("gbk") in path.read_bytes() and "性别".encode("utf-8") not in path.read_bytes()
    _fails(capsys, tmp_path, path, "garbled", "survey.encoding: GBK")
    raw = read_survey(path, encoding="GBK")
    assert raw.labels["gender"] == "性别" and raw.value_labels["ethnicity"][2.0] == "回族"
    params = params_file(tmp_path, encoding="GBK")
    assert run_stage(tmp_path / "gbk", path, params=params) == 0
    for name in ("survey_clean.parquet", "survey_missing.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "gbk" / "processed" / name),
                                      pd.read_parquet(utf8_run / "out" / "processed" / name))
    checks = pd.read_csv(tmp_path / "gbk" / "processed" / "survey_checks.csv")
    assert not checks["check"].str.contains("label").any()


def test_gbk_sav_declared_as_code_page_936_reads_without_the_option(utf8_run, tmp_path):
    path = tmp_path / "legacy936.sav"
    path.write_bytes(to_legacy_encoding((utf8_run / "survey.sav").read_bytes(), codepage=936))
    raw = read_survey(path)
    assert raw.labels["F1"] == "作为中华民族的一员感到自豪"
    assert run_stage(tmp_path / "out", path) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "processed" / "survey_clean.parquet"),
                                  pd.read_parquet(utf8_run / "out" / "processed" / "survey_clean.parquet"))


def test_gbk_sav_declared_as_utf8(utf8_run, tmp_path, capsys):
    path = tmp_path / "liar.sav"
    path.write_bytes(to_legacy_encoding((utf8_run / "survey.sav").read_bytes(), codepage=65001))
    _fails(capsys, tmp_path, path, "encoding", "GBK")


# --------------------------------------------------------------------------------------------
# no partial output, and the real command line
# --------------------------------------------------------------------------------------------
def test_a_failure_while_writing_leaves_nothing(utf8_run, tmp_path, monkeypatch):
    def broken(path, obj):
        raise OSError("disk full")

    monkeypatch.setattr(survey, "write_json", broken)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        run_stage(out, utf8_run / "survey.sav")
    assert [p for p in output_files(out)] == []


def test_command_line_message_without_traceback(tmp_path):
    path = tmp_path / "survey.sav"
    path.write_bytes(b"$FL2 this is not really an SPSS file")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "survey", "--params", "studies/demo/params.yaml",
         "--input", str(path), "--communities", "",
         "--processed", str(tmp_path / "p"), "--reports", str(tmp_path / "r"), "--metrics", str(tmp_path / "m.json")],
        cwd=ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "survey.sav" in proc.stderr
    assert not any(tmp_path.glob("p*")) and not (tmp_path / "m.json").exists()

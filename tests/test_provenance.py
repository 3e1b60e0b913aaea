"""The report's provenance appendix digests only what the report stage depends on
(pipeline/core/provenance.py): a hash that changes without DVC rerunning the report would leave
the tracked report different from what a clean run makes."""
from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.core.provenance import inputs_digest, reproducible_part

DVC_YAML = {"stages": {
    "survey": {"cmd": "x", "deps": ["pipeline/stages/survey.py", "raw/survey.sav"],
               "outs": ["processed/indices.parquet", "processed/survey_clean.parquet"]},
    "topics": {"cmd": "x", "deps": ["pipeline/text", "processed/transcripts"], "outs": ["processed/topics"]},
    "checks": {"cmd": "x", "deps": ["processed/topics"], "outs": ["processed/checks"]},
    "report": {"cmd": "x", "deps": ["pipeline/render", "processed/indices.parquet", "processed/topics/"],
               "outs": ["reports/report.html"]},
}}


def lock(survey_code="a1", raw="b1", indices="c1", clean="d1", topics_code="e1", topics="f1.dir", checks="g1.dir"):
    return {"schema": "2.0", "stages": {
        "survey": {"cmd": "x", "deps": [{"path": "pipeline/stages/survey.py", "md5": survey_code},
                                        {"path": "raw/survey.sav", "md5": raw}],
                   "outs": [{"path": "processed/indices.parquet", "md5": indices},
                            {"path": "processed/survey_clean.parquet", "md5": clean}]},
        "topics": {"cmd": "x", "deps": [{"path": "pipeline/text", "md5": topics_code}],
                   "outs": [{"path": "processed/topics", "md5": topics}]},
        "checks": {"cmd": "x", "deps": [{"path": "processed/topics", "md5": topics}],
                   "outs": [{"path": "processed/checks", "md5": checks}]},
        "report": {"cmd": "x", "deps": [{"path": "processed/topics", "md5": topics}],
                   "outs": [{"path": "reports/report.html", "md5": "h1"}]},
    }}


def part(tmp_path: Path, with_yaml: bool = True, **hashes) -> dict:
    if with_yaml:
        (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML), encoding="utf-8")
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock(**hashes)), encoding="utf-8")
    return reproducible_part({"seed": 1}, tmp_path / "requirements.lock", tmp_path / "dvc.lock")


def test_the_appendix_holds_the_outputs_the_report_reads(tmp_path):
    inputs = part(tmp_path)["inputs"]
    assert inputs == {"survey": {"processed/indices.parquet": "c1"}, "topics": {"processed/topics": "f1.dir"}}


def test_what_the_report_does_not_depend_on_leaves_the_appendix_unchanged(tmp_path):
    """Another stage's code, its raw input, an output the report does not read and a stage whose
    outputs it does not read: DVC reruns the report for none of them, so none may move it."""
    before = part(tmp_path)
    for change in ({"survey_code": "a2"}, {"raw": "b2"}, {"clean": "d2"}, {"topics_code": "e2"}, {"checks": "g2.dir"}):
        assert part(tmp_path, **change) == before, change


def test_what_the_report_reads_changes_the_appendix(tmp_path):
    before = part(tmp_path)["inputs"]
    for stage, change in (("survey", {"indices": "c2"}), ("topics", {"topics": "f2.dir"})):
        after = part(tmp_path, **change)["inputs"]
        assert inputs_digest(after[stage]) != inputs_digest(before[stage]), change


def test_without_dvc_yaml_every_output_counts_and_no_dependency(tmp_path):
    """The report run by hand (no dvc.yaml beside the lock): every earlier stage's outputs."""
    inputs = part(tmp_path, with_yaml=False)["inputs"]
    assert inputs == {"survey": {"processed/indices.parquet": "c1", "processed/survey_clean.parquet": "d1"},
                      "topics": {"processed/topics": "f1.dir"}, "checks": {"processed/checks": "g1.dir"}}

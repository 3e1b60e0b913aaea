"""``python -m pipeline init`` in-process (pipeline/stages/init.py): where it may run, what
``--force`` keeps, and the topics' K grid it drafts for a small folder of documents. (The studies
it drafts, run end to end: tests/test_studies.py.)"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import PipelineError
from pipeline.stages import init as I

ROOT = Path(__file__).resolve().parents[1]
TEXT = "社区组织了很多活动，邻居们经常一起参加，大家的关系越来越好。"


def _texts(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"t{i:03d}.txt").write_text(f"{TEXT}第{i}篇。\n", encoding="utf-8")


@pytest.fixture
def project(tmp_path):
    """A copy of the project as a team has it (the code linked, not copied)."""
    (tmp_path / "pipeline").symlink_to(ROOT / "pipeline")
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
    with contextlib.chdir(tmp_path):
        yield tmp_path


def test_init_outside_a_copy_of_the_project_refuses_and_writes_nothing(tmp_path):
    """A study folder of its own (git init; init there) used to get a dvc.yaml whose stages run
    pipeline/__main__.py from that folder, and failed only at dvc repro."""
    _texts(tmp_path / "raw" / "texts", 3)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with contextlib.chdir(tmp_path), pytest.raises(PipelineError) as err:
        I.main(["--transcripts", "raw/texts", "--no-dvc"])
    assert "is not the pipeline's project folder (no pipeline/ here)" in str(err.value)
    assert "clone the project" in err.value.hint and "\n" not in str(err.value)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_force_keeps_the_replaced_configuration_beside_the_new(project, capsys):
    _texts(project / "raw" / "texts", 80)
    I.main(["--transcripts", "raw/texts", "--no-dvc"])
    params = project / "params.yaml"
    edited = params.read_text(encoding="utf-8") + "# my edit: k_grid tuned\n"
    params.write_text(edited, encoding="utf-8")
    with pytest.raises(PipelineError, match="already exist"):
        I.main(["--transcripts", "raw/texts", "--no-dvc"])
    capsys.readouterr()
    I.main(["--transcripts", "raw/texts", "--no-dvc", "--force"])
    out = capsys.readouterr().out
    assert (project / "params.yaml.before-init").read_text(encoding="utf-8") == edited
    assert "init: kept your previous params.yaml as params.yaml.before-init (--force)" in out
    assert not (project / "dvc.yaml.before-init").exists()          # unchanged: nothing to keep
    params.write_text(edited, encoding="utf-8")
    I.main(["--transcripts", "raw/texts", "--no-dvc", "--force"])
    assert (project / "params.yaml.before-init.2").read_text(encoding="utf-8") == edited   # the first kept as it was


@pytest.mark.parametrize(("n", "grid"), [(200, None), (70, None), (50, [5, 6, 7, 8, 9, 10]),
                                         (30, [3, 4, 5, 6]), (12, [2]), (8, None)])
def test_a_few_documents_get_a_k_grid_they_can_hold(project, capsys, n, grid):
    """50 texts and the generic K 5-14 stopped the topics stage (K 14 needs 70 documents); init
    knows how many texts there are."""
    _texts(project / "raw" / "texts", n)
    (project / "raw" / "texts" / "empty.txt").write_bytes(b"")           # not a document
    I.main(["--transcripts", "raw/texts", "--no-dvc"])
    topics = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))["topics"]
    out = capsys.readouterr().out
    assert topics.get("k_grid") == grid and topics["models"] == ["docvec"]
    if grid:
        assert f"init: topics.k_grid {grid[0]}-{grid[-1]} for {n} texts" in out
    if n < 10:
        assert f"init: topics: {n} text(s) are too few for topic models" in out


def test_the_next_steps_say_how_to_add_the_coding_stage(project, capsys):
    _texts(project / "raw" / "texts", 80)
    I.main(["--transcripts", "raw/texts", "--no-dvc"])
    out = capsys.readouterr().out
    assert "write config/codebook.yaml (docs/coding.md) and run init again with --force" in out
    assert "coding" not in yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def test_the_drafted_title_says_where_it_came_from(project, capsys):
    """A Stata file's label was 'Written by R.', and it became the report's title without a word."""
    _texts(project / "raw" / "texts", 80)
    I.main(["--transcripts", "raw/texts", "--no-dvc"])
    assert f"init: report.title: '{project.name}', from the folder's name: give your study's title" in capsys.readouterr().out
    I.main(["--transcripts", "raw/texts", "--no-dvc", "--force", "--title", "My study"])
    assert "report.title" not in capsys.readouterr().out

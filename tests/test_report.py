"""The report stage end to end on the demo study (every stage of dvc.yaml, built once per session
in a temporary folder by the demo_study fixture): every table in every format, a self-contained
HTML, three-line Word tables, Chinese figures, numbers equal to their tidy sources, the
provenance of dvc.lock, and byte-identical outputs of two clean runs, each with its own caches
(the determinism promise of issue 9)."""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.render import table as render
from pipeline.core.config import load_params
from pipeline.render.tables.check import check_numbers
from pipeline.render.tables.results import load_results
from pipeline.stages.integrate import integrate
from pipeline.stages.report import make_report
from tests.conftest import ROOT, run_study

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(scope="module")
def studies(demo_study, tmp_path_factory):
    """Two clean runs of the whole pipeline on the demo study, side by side: the session's one and
    a second in its own folder, with its own token, jieba and timing caches (nothing is shared, so
    a nondeterministic stage cannot hide behind a cache filled by the first run) and another
    PYTHONHASHSEED (no output may depend on the order of a set of strings)."""
    import os

    seed = "1" if os.environ.get("PYTHONHASHSEED") == "0" else "0"
    return [demo_study, run_study(tmp_path_factory.mktemp("demo_study_again"), env={"PYTHONHASHSEED": seed})]


def test_the_study_fixture_runs_every_stage_of_dvc_yaml_in_dependency_order(demo_study):
    from tests.conftest import stage_order

    toy = {"stages": {
        "simulate": {"outs": ["raw/transcripts", "raw/truth"]},
        "topics": {"deps": ["processed/transcripts/units.parquet", "processed/survey_clean.parquet"],
                   "outs": ["processed/topics"]},
        "transcripts": {"deps": ["raw/transcripts"], "outs": ["processed/transcripts"]},
        "survey": {"deps": ["raw/survey.sav"], "outs": ["processed/survey_clean.parquet"]},
        "models": {"deps": ["processed/indices.parquet"], "outs": ["processed/models"]},
        "report": {"deps": ["processed"], "outs": ["reports/report.html"], "metrics": [{"metrics/r.json": {}}]},
    }}
    assert stage_order(toy) == ["simulate", "transcripts", "survey", "topics", "models", "report"]
    assert stage_order(toy, ["topics"]) == ["simulate", "transcripts", "survey", "topics"]
    toy["stages"]["simulate"]["deps"] = ["reports/report.html"]
    with pytest.raises(AssertionError, match="a cycle"):
        stage_order(toy)
    dvc = yaml.safe_load((ROOT / "studies/demo/dvc.yaml").read_text(encoding="utf-8"))
    lock = yaml.safe_load((demo_study / "studies/demo/dvc.lock").read_text(encoding="utf-8"))
    assert list(lock["stages"]) == stage_order(dvc) and set(lock["stages"]) == set(dvc["stages"])
    for name, stage in dvc["stages"].items():   # every output of every stage is there
        for out in (o for kind in ("outs", "metrics") for o in stage.get(kind) or []):
            out = next(iter(out)) if isinstance(out, dict) else out
            assert (demo_study / out).exists(), (name, out)


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for top in ("processed", "reports", "metrics"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and path.name != "provenance.json":
                out[str(path.relative_to(root))] = path.read_bytes()
    return out


def test_two_clean_runs_are_byte_identical(studies):
    a, b = (_files(s) for s in studies)
    assert len(a) > 100
    assert sorted(a) == sorted(b)
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"files that differ between two runs: {differ}"
    # and no output names the folder it was made in (that would differ between clones)
    leaks = [name for s, files in zip(studies, (a, b)) for name, data in files.items() if str(s).encode() in data]
    assert not leaks, leaks


def test_every_table_in_every_format_and_the_reports_exist(demo_study):
    reports = demo_study / "reports"
    stems = sorted({p.stem for p in (reports / "tables").iterdir()} - {"preamble"})   # preamble.tex: the LaTeX packages
    assert len(stems) == 18 and stems[0].startswith("table01") and stems[-1] == "table18_joint_display"
    for stem in stems:
        for fmt in render.FORMATS:
            assert (reports / "tables" / f"{stem}.{fmt}").stat().st_size > 0, (stem, fmt)
    figures = sorted(p.name for p in (reports / "figures").iterdir())
    assert len(figures) == 12 and all(f.endswith((".png", ".svg")) for f in figures)
    for name in ("report.html", "report.docx", "provenance.json"):
        assert (reports / name).stat().st_size > 0
    metrics = json.loads((demo_study / "metrics" / "report.json").read_text())
    assert metrics["tables_skipped"] == 0 and metrics["figures_missing"] == 0


class _References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in {"src", "href", "xlink:href", "action", "poster", "data", "srcset"} and value is not None:
                self.refs.append((tag, name, value))


def test_html_report_is_self_contained(demo_study):
    page = (demo_study / "reports" / "report.html").read_text(encoding="utf-8")
    parser = _References()
    parser.feed(page)
    outside = [r for r in parser.refs if not r[2].startswith(("#", "data:"))]
    assert not outside, outside[:5]
    assert not ({"script", "link", "iframe", "img", "object", "embed"} & parser.tags)
    assert "@import" not in page and not re.search(r"url\((?!#|data:)", page)
    # the Chinese text has its font inside the page (a subset of the pinned Noto Sans CJK SC)
    assert re.search(r'@font-face \{ font-family: "Report CJK";[^}]*url\(data:font/otf;base64,', page)
    assert page.count("<svg") == 6 and page.count('<table class="three-line') == 19  # 18 + provenance
    assert "<!DOCTYPE svg" not in page


def _borders(el):
    return {b.tag.replace(W, ""): (b.get(f"{W}val"), b.get(f"{W}sz")) for b in el} if el is not None else {}


def _assert_three_line(tbl) -> None:
    assert _borders(tbl.tblPr.find(f"{W}tblBorders")) == {
        "top": ("single", "12"), "bottom": ("single", "12"), "left": ("nil", None), "right": ("nil", None),
        "insideH": ("nil", None), "insideV": ("nil", None)}
    rules = []
    for i, tr in enumerate(tbl.findall(f"{W}tr")):
        for tc in tr.findall(f"{W}tc"):
            pr = tc.find(f"{W}tcPr")
            b = _borders(pr.find(f"{W}tcBorders") if pr is not None else None)
            if b:
                assert b == {"bottom": ("single", "6")}
                rules.append(i)
    assert rules and len(set(rules)) == 1, "one thin rule, under the header"


def test_word_tables_are_three_line_tables(demo_study):
    import docx

    reports = demo_study / "reports"
    doc = docx.Document(str(reports / "report.docx"))
    assert len(doc.tables) == 19
    for t in doc.tables:
        _assert_three_line(t._tbl)
    for path in sorted((reports / "tables").glob("*.docx")):
        (t,) = docx.Document(str(path)).tables
        _assert_three_line(t._tbl)
    assert len(zipfile.ZipFile(reports / "report.docx").namelist()) > 10
    # the figures are in the Word report too
    assert sum(1 for r in doc.inline_shapes) == 6


def test_figures_show_chinese_text(demo_study):
    """The default report language is Chinese: the SVGs (text as glyph paths) carry glyphs of
    Han characters from the project's font, and the captions in the HTML are Chinese."""
    params = load_params(demo_study / "studies/demo/params.yaml")
    assert params["report"]["lang"] == "zh"
    for svg in (demo_study / "reports" / "figures").glob("*.svg"):
        ids = re.findall(r'id="([^"]+)"', svg.read_text(encoding="utf-8"))
        han = [i for i in ids if re.search(r"-(4e|[5-9][0-9a-f])[0-9a-f]{2}$", i)]
        assert han, f"{svg.name}: no Han glyph"
        assert any("NotoSansCJK" in i for i in han), svg.name
    page = (demo_study / "reports" / "report.html").read_text(encoding="utf-8")
    assert "图1 样本流程" in page
    # captions and the title come from the study's labels and params, not from code
    assert "各指数按民族的分布" in page and "主题按治理模式的流行度" in page
    assert params["report"]["title"]["zh"] in page
    assert "表9　社区参与的回归模型" in page and "表10　共同体认同的回归模型" in page


def test_numbers_in_every_table_equal_the_tidy_results_on_disk(demo_study):
    """Rebuild the tables from the study's files, check every number against the tidy results
    as written to disk (the stages' outputs, the integrate stage's processed/integrate frames
    among them), and check that the table files written are exactly these tables."""
    root = demo_study
    params = load_params(root / "studies/demo/params.yaml")
    made = make_report(params, root / "processed", ROOT / "studies" / "demo" / "codebook.yaml", ROOT / "requirements.lock",
                       root / "studies/demo/dvc.lock")
    on_disk = load_results(root / "processed")
    for rel in ("models/hypotheses.csv", "models/predictions.csv"):
        on_disk[rel] = pd.read_csv(root / "processed" / rel)
    assert len(made["tables"]) == 18
    checked = 0
    for t in made["tables"]:
        assert t.skipped is None, t.key
        problems = check_numbers(t, on_disk, params["report"]["stars"])
        assert not problems, problems[:5]
        checked += sum(len(c.sources) for c in t.cells())
        written = (root / "reports" / "tables" / f"{t.key}.csv").read_text(encoding="utf-8")
        assert written == render.csv_text(t), t.key
    assert checked > 500


def test_the_report_reads_the_frames_the_integrate_stage_computed(demo_study):
    """processed/integrate/ holds one file per frame of the integrate stage, and the report's
    reader gives back the stage's frames: text as written, numbers as the same floats."""
    root = demo_study
    params = load_params(root / "studies/demo/params.yaml")
    frames = integrate(params, root / "processed", root / "raw" / "communities.csv",
                       ROOT / "studies" / "demo" / "joint_display.yaml", ROOT / "studies" / "demo" / "codebook.yaml")
    assert sorted(frames) == ["codebook", "index_descriptives", "joint_display", "sample_characteristics",
                              "sample_tests"]
    assert sorted(p.name for p in (root / "processed" / "integrate").iterdir()) == sorted(f"{n}.csv" for n in frames)
    on_disk = load_results(root / "processed")
    for name, frame in frames.items():
        read = on_disk[f"integrate/{name}.csv"]
        pd.testing.assert_frame_equal(read, frame, check_dtype=False, check_exact=True)
        text_cols = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
                     and not pd.api.types.is_bool_dtype(frame[c])]
        for c in text_cols:
            assert read[c].tolist() == frame[c].tolist(), (name, c)


def test_joint_display_rows_follow_the_configuration(demo_study):
    joint = pd.read_csv(demo_study / "processed" / "integrate" / "joint_display.csv")
    config = yaml.safe_load((ROOT / "studies" / "demo" / "joint_display.yaml").read_text(encoding="utf-8"))
    assert list(joint["hypothesis"]) == [r["hypothesis"] for r in config["rows"]]
    assert set(joint["verdict"]) <= {"convergent", "divergent", "complementary", "inconclusive"}
    units = pd.read_parquet(demo_study / "processed" / "transcripts" / "units.parquet").set_index("unit_id")
    for uid, text in zip(joint["quote1_id"], joint["quote1"]):
        if isinstance(uid, str) and uid:
            assert units.loc[uid, "text"] == text   # quotes are redacted units, verbatim


def test_provenance_file_holds_the_run_and_the_report_only_the_reproducible_part(demo_study):
    prov = json.loads((demo_study / "reports" / "provenance.json").read_text(encoding="utf-8"))
    for key in ("created", "git", "machine", "stage_times", "packages", "params", "seed", "inputs"):
        assert key in prov, key
    assert prov["packages"]["pandas"] == pd.__version__
    assert prov["stage_times"]["survey"]["seconds"] >= 0
    page = (demo_study / "reports" / "report.html").read_text(encoding="utf-8")
    assert prov["created"] not in page and prov["git"]["commit"] not in page
    # the appendix holds the reproducible part: here, the installed pandas version in its row
    assert re.search(rf"<td[^>]*>package pandas</td>\s*<td[^>]*>{re.escape(pd.__version__)}</td>", page)
    # the input and output hashes of every stage the report depends on, as dvc.lock recorded them
    # when the report ran (its own entry was written after it)
    from tests.conftest import stage_order

    lock = {name: {item["path"]: item["md5"] for kind in ("deps", "outs") for item in entry[kind]}
            for name, entry in yaml.safe_load((demo_study / "studies/demo/dvc.lock").read_text(encoding="utf-8"))["stages"].items()}
    upstream = stage_order(yaml.safe_load((ROOT / "studies/demo/dvc.yaml").read_text(encoding="utf-8")), ["report"])[:-1]
    assert upstream and {"simulate", "survey", "models", "coding"} <= set(upstream)
    assert "report" in lock and "report" not in prov["inputs"]
    for stage in upstream:
        assert prov["inputs"][stage] == lock[stage], stage
    survey_sav = hashlib.md5((demo_study / "raw" / "survey.sav").read_bytes()).hexdigest()
    assert prov["inputs"]["survey"]["raw/survey.sav"] == survey_sav
    assert re.search(rf"<td[^>]*>survey: raw/survey.sav</td>\s*<td[^>]*>{survey_sav}</td>", page)
    # the run part names the commit of the code that ran (the study's folder is outside the checkout)
    import subprocess

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert prov["git"]["commit"] == (head or "unknown")

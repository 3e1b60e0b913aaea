"""The report stage end to end on a small study, run twice: every table in every format, a
self-contained HTML, three-line Word tables, Chinese figures, numbers equal to their tidy
sources, and byte-identical outputs of two clean runs (the determinism promise of issue 9)."""
from __future__ import annotations

import json
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.render import table as render
from pipeline.render import tables
from pipeline.core.config import load_params
from pipeline.stages.report import make_report
from tests.conftest import ROOT, run_study

ALL_STAGES = ("simulate", "survey", "measurement", "models", "transcripts", "topics", "demo_checks", "coding",
              "report")
# A small study: every stage runs, with fewer respondents, interviews and resamples.
SMALL = {
    "simulate": {"n_communities": 14, "transcripts": {"n_interviews": 30}},
    "measurement": {"reliability": {"bootstrap_replications": 20}},
    "models": {"mi": {"m": 3, "n_iter": 3}, "mediation": {"n_boot": 100}},
    "topics": {"k_grid": [5, 6, 7], "seeds": 2},
    "coding": {"agreement": {"replications": 50}},
}
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Two clean runs of the whole pipeline on the same small study, side by side."""
    dirs = [tmp_path_factory.mktemp(name) for name in ("run_a", "run_b")]
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda d: run_study(d, SMALL, ALL_STAGES), dirs))


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
    leaks = [name for name, data in a.items() if str(studies[0]).encode() in data]
    assert not leaks, leaks


def test_every_table_in_every_format_and_the_reports_exist(studies):
    reports = studies[0] / "reports"
    stems = sorted({p.stem for p in (reports / "tables").iterdir()})
    assert len(stems) == 18 and stems[0].startswith("table01") and stems[-1] == "table18_joint_display"
    for stem in stems:
        for fmt in render.FORMATS:
            assert (reports / "tables" / f"{stem}.{fmt}").stat().st_size > 0, (stem, fmt)
    figures = sorted(p.name for p in (reports / "figures").iterdir())
    assert len(figures) == 12 and all(f.endswith((".png", ".svg")) for f in figures)
    for name in ("report.html", "report.docx", "provenance.json"):
        assert (reports / name).stat().st_size > 0
    metrics = json.loads((studies[0] / "metrics" / "report.json").read_text())
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


def test_html_report_is_self_contained(studies):
    page = (studies[0] / "reports" / "report.html").read_text(encoding="utf-8")
    parser = _References()
    parser.feed(page)
    outside = [r for r in parser.refs if not r[2].startswith(("#", "data:"))]
    assert not outside, outside[:5]
    assert not ({"script", "link", "iframe", "img", "object", "embed"} & parser.tags)
    assert "@import" not in page and not re.search(r"url\((?!#|data:)", page)
    # the Chinese text has its font inside the page (a subset of the pinned Noto Sans CJK SC)
    assert re.search(r'@font-face \{ font-family: "Report CJK";[^}]*url\(data:font/otf;base64,', page)
    assert page.count("<svg") == 6 and page.count('<table class="three-line"') == 19  # 18 + provenance
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


def test_word_tables_are_three_line_tables(studies):
    import docx

    reports = studies[0] / "reports"
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


def test_figures_show_chinese_text(studies):
    """The default report language is Chinese: the SVGs (text as glyph paths) carry glyphs of
    Han characters from the project's font, and the captions in the HTML are Chinese."""
    params = load_params(studies[0] / "params.yaml")
    assert params["report"]["lang"] == "zh"
    for svg in (studies[0] / "reports" / "figures").glob("*.svg"):
        ids = re.findall(r'id="([^"]+)"', svg.read_text(encoding="utf-8"))
        han = [i for i in ids if re.search(r"-(4e|[5-9][0-9a-f])[0-9a-f]{2}$", i)]
        assert han, f"{svg.name}: no Han glyph"
        assert any("NotoSansCJK" in i for i in han), svg.name
    page = (studies[0] / "reports" / "report.html").read_text(encoding="utf-8")
    assert "图1 样本流程" in page
    # captions and the title come from the study's labels and params, not from code
    assert "各指数按民族的分布" in page and "主题按治理模式的流行度" in page
    assert params["report"]["title"]["zh"] in page
    assert "表9　社区参与的回归模型" in page and "表10　共同体认同的回归模型" in page


def test_numbers_in_every_table_equal_the_tidy_results_on_disk(studies):
    """Rebuild the tables from the study's files, check every number against the tidy results
    as written to disk (the stages' outputs and the report's own processed/report frames), and
    check that the table files written are exactly these tables."""
    root = studies[0]
    params = load_params(root / "params.yaml")
    made = make_report(params, root / "processed", root / "raw" / "communities.csv",
                       ROOT / "config" / "joint_display.yaml", ROOT / "config" / "codebook.yaml",
                       ROOT / "requirements.lock", root / "dvc.lock")
    on_disk = tables.load_results(root / "processed")
    for rel in ("models/hypotheses.csv", "models/predictions.csv"):
        on_disk[rel] = pd.read_csv(root / "processed" / rel)
    for path in (root / "processed" / "report").glob("*.csv"):
        frame = pd.read_csv(path)
        mine = made["derived"][path.stem]   # the frame the stage used: read its text columns as text
        text_cols = [c for c in mine.columns if not pd.api.types.is_numeric_dtype(mine[c])]
        if text_cols:
            frame = pd.read_csv(path, dtype={c: str for c in text_cols})
            for c in text_cols:   # CSV cannot tell an empty label from a missing one
                if (mine[c] == "").any():
                    frame[c] = frame[c].fillna("")
        on_disk[f"derived/{path.stem}"] = frame
    assert len(made["tables"]) == 18
    checked = 0
    for t in made["tables"]:
        assert t.skipped is None, t.key
        problems = tables.check_numbers(t, on_disk, params["report"]["stars"])
        assert not problems, problems[:5]
        checked += sum(len(c.sources) for c in t.cells())
        written = (root / "reports" / "tables" / f"{t.key}.csv").read_text(encoding="utf-8")
        assert written == render.csv_text(t), t.key
    assert checked > 500


def test_joint_display_rows_follow_the_configuration(studies):
    joint = pd.read_csv(studies[0] / "processed" / "report" / "joint_display.csv")
    config = yaml.safe_load((ROOT / "config" / "joint_display.yaml").read_text(encoding="utf-8"))
    assert list(joint["hypothesis"]) == [r["hypothesis"] for r in config["rows"]]
    assert set(joint["verdict"]) <= {"convergent", "divergent", "complementary", "inconclusive"}
    units = pd.read_parquet(studies[0] / "processed" / "transcripts" / "units.parquet").set_index("unit_id")
    for uid, text in zip(joint["quote1_id"], joint["quote1"]):
        if isinstance(uid, str) and uid:
            assert units.loc[uid, "text"] == text   # quotes are redacted units, verbatim


def test_provenance_file_holds_the_run_and_the_report_only_the_reproducible_part(studies):
    prov = json.loads((studies[0] / "reports" / "provenance.json").read_text(encoding="utf-8"))
    for key in ("created", "git", "machine", "stage_times", "packages", "params", "seed", "inputs"):
        assert key in prov, key
    assert prov["packages"]["pandas"] == pd.__version__
    assert prov["stage_times"]["survey"]["seconds"] >= 0
    page = (studies[0] / "reports" / "report.html").read_text(encoding="utf-8")
    assert prov["created"] not in page and prov["git"]["commit"] not in page
    # the appendix holds the reproducible part: here, the installed pandas version in its row
    assert re.search(rf"<td>package pandas</td>\s*<td[^>]*>{re.escape(pd.__version__)}</td>", page)
    assert set(prov["inputs"]) >= {"simulate", "survey", "models", "coding"} or not (studies[0] / "dvc.lock").exists()

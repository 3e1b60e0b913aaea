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

from pipeline.core.files import rounded_frame
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
    assert len(stems) == 19 and stems[0] == "appendix_sources"     # 18 tables and the appendix of their sources
    assert stems[1].startswith("table01") and stems[-1] == "table18_joint_display"
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
    assert page.count("<svg") == 6 and page.count('<table class="three-line') == 20  # 18 + sources + provenance
    assert "<!DOCTYPE svg" not in page


def _borders(el):
    return {b.tag.replace(W, ""): (b.get(f"{W}val"), b.get(f"{W}sz")) for b in el} if el is not None else {}


def _assert_three_line(tbl) -> None:
    assert _borders(tbl.tblPr.find(f"{W}tblBorders")) == {
        "top": ("single", "12"), "bottom": ("single", "12"), "left": ("nil", None), "right": ("nil", None),
        "insideH": ("nil", None), "insideV": ("nil", None)}
    thin, thick = set(), set()
    for i, tr in enumerate(tbl.findall(f"{W}tr")):
        for tc in tr.findall(f"{W}tc"):
            pr = tc.find(f"{W}tcPr")
            b = _borders(pr.find(f"{W}tcBorders") if pr is not None else None)
            assert set(b) <= {"top", "bottom"}, b
            if "bottom" in b:
                assert b["bottom"] == ("single", "6")
                thin.add(i)
            if "top" in b:
                assert b["top"] == ("single", "12")
                thick.add(i)
    # one thin rule, under the header; the top rule on the first header row too (a repeated header carries it)
    assert len(thin) == 1 and thick == {0}, (thin, thick)


def test_word_tables_are_three_line_tables(demo_study):
    import docx

    reports = demo_study / "reports"
    doc = docx.Document(str(reports / "report.docx"))
    assert len(doc.tables) == 20
    for t in doc.tables:
        _assert_three_line(t._tbl)
    for path in sorted((reports / "tables").glob("*.docx")):
        (t,) = docx.Document(str(path)).tables
        _assert_three_line(t._tbl)
    assert len(zipfile.ZipFile(reports / "report.docx").namelist()) > 10
    # the figures are in the Word report too
    assert sum(1 for r in doc.inline_shapes) == 6


def test_word_report_is_laid_out_for_print(demo_study):
    """A4 pages (landscape sections where a table or figure needs one) with page numbers, a caption
    field for every table and figure, headers repeated and rows unsplittable in every table, the
    document language zh-CN (its Latin text en-US), figures never scaled so far that their text is under 7 pt. The page
    breaks themselves are checked by LibreOffice (tests/test_report_print.py)."""
    import docx
    from docx.image.image import Image

    path = demo_study / "reports" / "report.docx"
    doc = docx.Document(str(path))
    sizes = [(s.page_width.twips, s.page_height.twips) for s in doc.sections]
    assert set(sizes) <= {(11906, 16838), (16838, 11906)} and sizes[0] == (11906, 16838)
    assert "PAGE" in "".join(t.text for t in doc.sections[0].footer._element.iter(f"{W}instrText"))
    body = zipfile.ZipFile(path).read("word/document.xml").decode("utf-8")
    assert body.count("SEQ 表 \\* ARABIC") == 18 and body.count("SEQ 图 \\* ARABIC") == 6
    assert 'w:lang w:val="en-US" w:eastAsia="zh-CN"' in zipfile.ZipFile(path).read("word/styles.xml").decode("utf-8")
    for t in doc.tables:
        rows = t._tbl.findall(f"{W}tr")
        assert all(tr.find(f"{W}trPr/{W}cantSplit") is not None for tr in rows)
        assert rows[0].find(f"{W}trPr/{W}tblHeader") is not None
        assert t._tbl.find(f"{W}tblPr/{W}tblLayout").get(f"{W}type") == "fixed"
    used = {p.style.name for p in doc.paragraphs} | {p.style.name for t in doc.tables for row in t.rows
                                                      for cell in row.cells for p in cell.paragraphs}
    assert used <= {"Title", "Heading 1", "Caption", "Table Text", "Table Note", "Figure", "Normal"}, used
    for shape in doc.inline_shapes:
        blob = doc.part.related_parts[shape._inline.graphic.graphicData.pic.blipFill.blip.embed].blob
        img = Image.from_blob(blob)
        scale = shape.width / (img.px_width / img.horz_dpi * 914400)
        # the figures' smallest text is 8 pt (figures.py: _rc)
        assert scale * 8 >= 7 - 1e-6, f"a figure at {scale:.2f} of its size: its 8 pt text under 7 pt"


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
    assert len(made["tables"]) == 19 and made["tables"][-1].key == "appendix_sources"
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
    reader gives back the stage's frames: text as written, numbers as the same floats as written."""
    root = demo_study
    params = load_params(root / "studies/demo/params.yaml")
    frames = integrate(params, root / "processed", root / "raw" / "communities.csv",
                       ROOT / "studies" / "demo" / "joint_display.yaml", ROOT / "studies" / "demo" / "codebook.yaml")
    assert sorted(frames) == ["codebook", "index_descriptives", "joint_display", "joint_unpaired",
                              "sample_characteristics", "sample_tests"]
    assert sorted(p.name for p in (root / "processed" / "integrate").iterdir()) == sorted(f"{n}.csv" for n in frames)
    on_disk = load_results(root / "processed")
    for name, frame in frames.items():
        read = on_disk[f"integrate/{name}.csv"]
        # numbers as written: 10 significant digits (pipeline/core/digits.py), exactly
        pd.testing.assert_frame_equal(read, rounded_frame(frame), check_dtype=False, check_exact=True)
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
    # the appendix holds the reproducible part, short: the analysis packages' versions in one row
    appendix = page[page.index('id="sec-provenance"'):]
    assert f"pandas {pd.__version__}" in appendix and re.search(r"锁定了\d+个软件包", appendix)
    assert appendix.count("<tr>") < 20 and "package" not in appendix
    # per earlier stage, the hashes of its outputs that the report reads (its deps in dvc.yaml), as
    # dvc.lock recorded them when the report ran (its own entry was written after it); no stage's
    # code and no output the report does not read (DVC would not rerun the report when they change)
    from tests.conftest import stage_order

    stages = yaml.safe_load((demo_study / "studies/demo/dvc.lock").read_text(encoding="utf-8"))["stages"]
    outs = {name: {item["path"]: item["md5"] for item in entry["outs"]} for name, entry in stages.items()}
    dvc_yaml = yaml.safe_load((ROOT / "studies/demo/dvc.yaml").read_text(encoding="utf-8"))
    reads = [d.rstrip("/") for d in dvc_yaml["stages"]["report"]["deps"]]
    upstream = stage_order(dvc_yaml, ["report"])[:-1]
    assert upstream and {"simulate", "survey", "models", "coding"} <= set(upstream)
    assert "report" in stages and "report" not in prov["inputs"]
    for stage in upstream:
        read = {p: md5 for p, md5 in outs[stage].items() if any(p == d or p.startswith(d + "/") for d in reads)}
        assert prov["inputs"].get(stage, {}) == read, stage
    assert {"survey", "measurement", "models", "topics", "coding", "integrate"} <= set(prov["inputs"])
    assert "simulate" not in prov["inputs"] and "demo_checks" not in prov["inputs"]
    assert not [p for files in prov["inputs"].values() for p in files if p.startswith(("pipeline/", "raw/"))]
    # provenance.json keeps every hash of dvc.lock, the raw data's among them
    survey_sav = hashlib.md5((demo_study / "raw" / "survey.sav").read_bytes()).hexdigest()
    assert prov["dvc_lock"]["survey"]["raw/survey.sav"] == survey_sav
    from pipeline.core.provenance import inputs_digest   # one digest per stage in the report's appendix

    for stage in prov["inputs"]:
        assert inputs_digest(prov["inputs"][stage]) in page, stage
    assert survey_sav not in page
    # the run part names the commit of the code that ran (the study's folder is outside the checkout)
    import subprocess

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert prov["git"]["commit"] == (head or "unknown")


# -- one language per report; the demo marked simulated ---------------------------------------------
# Latin words a Chinese journal prints as they are: statistics and their eponyms, p/N/df/t/z/F, the
# mediation paths a, b, c, the number of topics K.
STATISTICS = {"p", "N", "t", "z", "F", "K", "df", "a", "b", "c", "R", "AIC", "OLS", "REML", "RMSEA", "CFI", "TLI",
              "SRMR", "CR", "CR1", "CR2", "AVE", "ICC", "logit", "Pearson", "Fisher", "Cronbach's", "Satterthwaite",
              "Rubin", "Krippendorff's", "Cohen's", "FREX", "NPMI"}


def _visible(page: str) -> str:
    import html as html_lib

    page = re.sub(r"<style>.*?</style>|<svg.*?</svg>", "", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", "\n", page))


def test_a_chinese_report_has_no_english_ids(demo_study, instrument):
    """Outside the appendices (the one place that names files and stages), the Chinese report shows
    no model ids, term or variable names of the models, estimator or theme codes, types, paths or
    English words: only statistics, questionnaire item numbers, the data file's variable names in
    the codebook table, hypothesis labels and the unit ids of the quotes."""
    page = (demo_study / "reports" / "report.html").read_text(encoding="utf-8")
    body = _visible(re.sub(r'<section id="sec-(sources|provenance)".*?</section>', "", page, flags=re.S))
    codebook = page[page.index('id="table03_codebook"'):]
    codebook = codebook[:codebook.index("</table>")]
    names = set(re.findall(r"<tr><td[^>]*>([A-Za-z_][\w]*)</td>", codebook))
    assert {"serial", "hh_size_text"} <= names <= set(instrument.variables)
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_']*(?::\d+:\d+)?", body))
    item = re.compile(r"[A-F]\d|H\d|I\d{3}:\d+:\d+")
    left = {w for w in words - STATISTICS - names if not item.fullmatch(w)}
    assert not left, sorted(left)
    for leak in ("gov_model", "contact:interspersed", "I2_mi", "H3_mediation", "dmm", "overall", "SPACE", "numeric",
                 "params.yaml", "processed/", "1|2"):
        assert leak not in body, leak
    # numbers are written one way: no thousands separators in tables, notes or figure text
    assert not re.search(r"\d,\d{3}(?!\d)", body)


def test_the_demo_is_marked_simulated_in_every_note_caption_and_page(demo_study):
    import docx

    reports = demo_study / "reports"
    page = (reports / "report.html").read_text(encoding="utf-8")
    assert '<p class="simulated"' in page and '<div class="simulated-page"' in page
    for table in re.findall(r'<table class="three-line[^"]*" id="(table\d+_\w+)">.*?</table>\s*(?:</div>\s*)*<div class="table-notes">(.*?)</div>',
                            page, flags=re.S):
        assert "模拟数据" in table[1], table[0]
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert len(captions) == 6 and all("模拟数据" in c for c in captions)
    for path in sorted((reports / "tables").glob("table*.md")):
        assert "模拟数据：" in path.read_text(encoding="utf-8"), path.name
    doc = docx.Document(str(reports / "report.docx"))
    assert all("模拟数据" in s.header.paragraphs[0].text for s in doc.sections)
    assert "模拟数据" in doc.paragraphs[1].text


def test_the_joint_display_quotes_match_their_stance_and_name_the_speaker(demo_study):
    """The quotes of a stance row take that stance in the planted truth (the demo's generator knows
    each sentence's stance), and the stance coding agrees with the planted stances of the theme."""
    joint = pd.read_csv(demo_study / "processed" / "integrate" / "joint_display.csv", keep_default_na=False)
    truth = pd.read_csv(demo_study / "raw" / "truth" / "transcript_units.csv")
    truth = truth.assign(unit_id=truth["interview_id"] + ":" + (truth["turn"] + 1).astype(str) + ":"
                         + (truth["sentence"] + 1).astype(str)).set_index("unit_id")
    roles = {"resident", "grid_worker", "committee", "social_org", "volunteer"}
    for r in joint.itertuples():
        assert r.stance and r.n_quotes >= 1
        for j in (1, 2):
            uid = getattr(r, f"quote{j}_id")
            if uid:
                assert truth.loc[uid, "variant"] == r.stance, (uid, getattr(r, f"quote{j}"))
                assert getattr(r, f"quote{j}_role") in roles
    assert set(joint["verdict"]) <= {"convergent", "inconclusive", "divergent", "complementary"}
    assert not ((joint["qualitative"] == 0) & (joint["verdict"] == "complementary")).any()
    table = (demo_study / "reports" / "tables" / "table18_joint_display.md").read_text(encoding="utf-8")
    assert "（居民，" in table or "（网格员，" in table
    assert "未列入的假设：H1" in table and "P2" not in table and "gov_model" not in table
    # the stance coding against the planted stances of the participation theme
    from pipeline.stats.joint import parse_stances, stance_codes

    spec = yaml.safe_load((ROOT / "studies" / "demo" / "joint_display.yaml").read_text(encoding="utf-8"))
    stances = parse_stances(spec, "joint_display.yaml", list(range(1, 10)))
    codes = pd.read_parquet(demo_study / "processed" / "coding" / "codes.parquet")
    units = pd.read_parquet(demo_study / "processed" / "transcripts" / "units.parquet", columns=["unit_id", "text"])
    part = codes[codes["PART"] == 1].merge(units, on="unit_id").set_index("unit_id")
    planted = truth["variant"].reindex(part.index)
    both = planted.isin(["enabler", "barrier"])
    for key, other in (("enabler", "barrier"), ("barrier", "enabler")):
        coded = stance_codes(part["text"], part["PART"], stances[key], [stances[other]])
        agree = ((coded == 1) == (planted == key))[both].mean()
        assert agree > 0.95, (key, agree)

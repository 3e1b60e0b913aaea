"""The Word report as a reader gets it: LibreOffice (Debian's ``libreoffice-writer-nogui``, with
``fonts-noto-cjk``; ``scripts/repro.sh`` installs both, see its ``install_system_checks``) turns the
demo study's ``reports/report.docx`` into a tagged PDF, and pypdf reads the pages back:

* every page is A4, portrait (595 x 842 pt) or landscape (842 x 595 pt);
* the page count is within bounds (the report before issue 16 ran to 37-38 pages);
* no table row is split across pages. The check asks the layout engine itself: in a tagged PDF
  each table row is a ``/TR`` structure element whose marked content names the page it is drawn
  on, so a row drawn on two pages is a split row; no guessing from text positions (wrapped
  cells, CJK text extraction and repeated header rows, which LibreOffice draws untagged, cannot
  fool it). A control document with a row taller than a page shows that the check sees a split;
* every page shows its number at the foot;
* Latin words and version numbers are not broken across lines.

Under CI (``CI=true``, as ``.ci/run`` sets it) a missing LibreOffice fails these tests: the set-up
must have installed it. Elsewhere they are skipped with the reason.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.render import word
from pipeline.render.table import Cell, HeaderCell, Row, Table
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

A4 = (595.3, 841.9)
PAGES = (12, 32)          # the demo report: 24 pages in LibreOffice 7.4 when this was written (37-38 before)
FONTS = ROOT / "tests" / "fixtures" / "print" / "fonts.conf"   # 宋体 / 黑体 / Times New Roman by free faces
INSTALL = ("run `bash scripts/repro.sh` as root on Debian "
           "(install_system_checks: apt-get install libreoffice-writer-nogui fonts-noto-cjk)")


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        reason = f"LibreOffice (soffice) is not installed: {INSTALL}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    return found


def to_pdf(docx: Path, out: Path) -> Path:
    """``docx`` as a tagged PDF in ``out`` (LibreOffice headless, its own profile, the fonts.conf above)."""
    out.mkdir(parents=True, exist_ok=True)
    options = '{"UseTaggedPDF":{"type":"boolean","value":"true"}}'
    cmd = [soffice(), "--headless", "--norestore", f"-env:UserInstallation={(out / 'profile').as_uri()}",
           "--convert-to", f"pdf:writer_pdf_Export:{options}", "--outdir", str(out), str(docx)]
    env = {**os.environ, "FONTCONFIG_FILE": str(FONTS), "HOME": str(out)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    pdf = out / (docx.stem + ".pdf")
    assert proc.returncode == 0 and pdf.is_file(), f"LibreOffice failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return pdf


# -- reading the tagged PDF -------------------------------------------------------------------------
def _kids(el) -> list:
    k = el.get("/K")
    if k is None:
        return []
    return [x.get_object() if hasattr(x, "get_object") else x for x in (k if isinstance(k, list) else [k])]


def _pages_of(el, page_no: dict, page=None) -> set[int]:
    """The pages the marked content under the structure element ``el`` is drawn on."""
    page = el.get("/Pg", page)
    out: set[int] = set()
    for kid in _kids(el):
        if isinstance(kid, int):                       # a marked-content id on the element's page
            out.add(page_no[page.idnum])
        elif isinstance(kid, dict) and kid.get("/Type") == "/MCR":
            out.add(page_no[kid.get("/Pg", page).idnum])
        elif isinstance(kid, dict) and "/S" in kid:
            out |= _pages_of(kid, page_no, page)
    return out


def _elements(el, kind: str) -> list:
    found = []
    for kid in _kids(el):
        if isinstance(kid, dict) and "/S" in kid:
            found += [kid] if kid["/S"] == kind else _elements(kid, kind)
    return found


def table_rows(pdf: Path) -> list[list[set[int]]]:
    """For each table of the PDF, the pages each of its rows is drawn on."""
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    page_no = {p.indirect_reference.idnum: i + 1 for i, p in enumerate(reader.pages)}
    root = reader.trailer["/Root"]["/StructTreeRoot"].get_object()
    return [[_pages_of(tr, page_no) for tr in _elements(t, "/TR")] for t in _elements(root, "/Table")]


def footer_texts(pdf: Path) -> list[str]:
    """The text in the bottom 60 pt of each page."""
    from pypdf import PdfReader

    out = []
    for page in PdfReader(str(pdf)).pages:
        parts: list[str] = []

        def visit(text, cm, tm, font, size, parts=parts):
            if text.strip() and tm[5] * cm[3] + cm[5] < 60:
                parts.append(text.strip())
        page.extract_text(visitor_text=visit)
        out.append(" ".join(parts))
    return out


# -- the tests -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def report_pdf(demo_study, tmp_path_factory) -> Path:
    return to_pdf(demo_study / "reports" / "report.docx", tmp_path_factory.mktemp("report_pdf"))


def test_every_page_is_a4_portrait_or_landscape(report_pdf):
    from pypdf import PdfReader

    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in PdfReader(str(report_pdf)).pages]
    for i, (w, h) in enumerate(sizes, start=1):
        assert (abs(w - A4[0]) < 1 and abs(h - A4[1]) < 1) or (abs(w - A4[1]) < 1 and abs(h - A4[0]) < 1), (i, w, h)
    assert sizes[0][0] < sizes[0][1], "the report opens on a portrait page"
    assert PAGES[0] <= len(sizes) <= PAGES[1], f"{len(sizes)} pages, expected {PAGES[0]}-{PAGES[1]}"


def test_no_table_row_is_split_across_pages(demo_study, report_pdf):
    import docx

    tables = table_rows(report_pdf)
    in_word = docx.Document(str(demo_study / "reports" / "report.docx")).tables
    assert len(tables) == len(in_word), "every Word table is a tagged table in the PDF"
    split = [(t, r, sorted(pages)) for t, rows in enumerate(tables, start=1) for r, pages in enumerate(rows)
             if len(pages) > 1]
    assert not split, f"rows drawn on two pages (table, row, pages): {split[:10]}"
    assert sum(len(rows) for rows in tables) >= sum(len(t.rows) for t in in_word) - len(in_word)


def test_every_page_has_its_number_in_the_footer(report_pdf):
    feet = footer_texts(report_pdf)
    assert [str(i) in foot.split() for i, foot in enumerate(feet, start=1)] == [True] * len(feet), feet


def test_latin_words_and_version_numbers_are_not_broken_across_lines(demo_study, report_pdf):
    """The provenance appendix's package list (numpy 2.4.6、pandas 3.1.1、...): LibreOffice breaks its
    lines at spaces and 、, never inside a package's name or version (Latin text marked zh-CN broke
    them anywhere: fo|rmulaic, numpy 2.|4.6)."""
    import json

    from pypdf import PdfReader

    from pipeline.core.provenance import KEY_PACKAGES

    packages = json.loads((demo_study / "reports" / "provenance.json").read_text(encoding="utf-8"))["packages"]
    lines = [line for page in PdfReader(str(report_pdf)).pages for line in page.extract_text().splitlines()]
    words = [w for n in KEY_PACKAGES if n in packages for w in (n, packages[n])]
    assert len(words) >= 10
    broken = [w for w in words if not any(w in line for line in lines)]
    assert not broken, f"broken across lines: {broken}"


def test_the_split_check_sees_a_split_row(tmp_path):
    """The control: a row taller than a page must be split, and the check says so."""
    tall = "很长的一段文字。" * 900
    t = Table("table01_tall", "一行超过一页", ((HeaderCell("项"), HeaderCell("内容")),),
              (Row((Cell("甲"), Cell("短"))), Row((Cell("乙"), Cell(tall)))), lang="zh")
    path = tmp_path / "tall.docx"
    path.write_bytes(word.docx_table(t))
    rows = table_rows(to_pdf(path, tmp_path / "pdf"))
    assert len(rows) == 1 and [len(pages) > 1 for pages in rows[0]] == [False, False, True]

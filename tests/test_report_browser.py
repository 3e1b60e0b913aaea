"""reports/report.html as a reader sees it: opened in a real browser (the system's Chromium,
driven by Playwright; no browser is downloaded) on a 1280 px screen and printed to A4, every table
of the demo study is measured.

The checks, on screen and in print:
* no table is wider than its container: its scroll box (``table-wrap``) does not scroll, and the
  box lies inside the page's column (a "landscape" table's box may take the screen's width but
  stays inside the window);
* no body row is taller than MAX_ROW_LINES lines of its text;
* no text cell that wraps is narrower than MIN_TEXT_EM em (a column squeezed to a character a line);
* no number is broken over two lines.
Print is emulated at the width of the printed line: A4 (210 mm) less the page's two margins
(pipeline/render/document.py PRINT_MARGIN_MM), 643 px at 96 px/in, and for the tables printed on
a landscape page (297 mm less the margins) 971 px. A PDF printed by Chromium checks the page sizes.

Chromium comes from Debian (``apt-get install chromium``; scripts/repro.sh installs it). Without it
the test skips here and fails in CI (``CI=true``). ``REPORT_SCREENSHOTS=<folder>`` saves PNGs of
Tables 14, 16 and 18 there (docs/ holds the last ones)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from pipeline.render.document import PRINT_MARGIN_MM

pytestmark = pytest.mark.slow

MAX_ROW_LINES = 8
MIN_TEXT_EM = 4.0
SCREEN = 1280
PX_PER_MM = 96 / 25.4
PORTRAIT = round((210 - 2 * PRINT_MARGIN_MM) * PX_PER_MM)    # 643 px
LANDSCAPE = round((297 - 2 * PRINT_MARGIN_MM) * PX_PER_MM)   # 971 px
SHOWN = ("table14_topics", "table16_theme_frequencies", "table18_joint_display")

# Per table: its box, the column it belongs in, the tallest body row in lines of its text, text
# cells that wrap while narrower than MIN_TEXT_EM, numbers broken over lines.
MEASURE = """(minTextEm) => Array.from(document.querySelectorAll('table.three-line')).map(t => {
  // the table's scroll box (a page without one: the table itself, measured against its column)
  const wrap = t.closest('.table-wrap') || t, block = t.closest('.table-block'), section = t.closest('section') || document.body;
  const sec = section.getBoundingClientRect(), cs = getComputedStyle(section);
  const lines = (el) => { const r = document.createRange(); r.selectNodeContents(el);
    return r.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight); };
  let tallest = 0, squeezed = [], broken = [];
  for (const row of t.tBodies[0] ? t.tBodies[0].rows : []) {
    for (const cell of row.cells) {
      const n = lines(cell), st = getComputedStyle(cell);
      tallest = Math.max(tallest, n);
      const inner = cell.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
      if (!cell.classList.contains('num') && n > 1.5 && inner < minTextEm * parseFloat(st.fontSize))
        squeezed.push(cell.textContent.slice(0, 20));
      const parts = cell.classList.contains('brk') ? Array.from(cell.querySelectorAll('span.n')) :
                    cell.classList.contains('num') ? [cell] : [];
      for (const p of parts) if (p.getClientRects().length > 1 || lines(p) > 1.5) broken.push(p.textContent);
    }
  }
  const box = wrap.getBoundingClientRect();
  return {id: t.id, landscape: !!block && block.classList.contains('landscape'),
          scroll: wrap.scrollWidth, client: wrap.clientWidth, left: box.left, right: box.right,
          colLeft: sec.left + parseFloat(cs.paddingLeft), colRight: sec.right - parseFloat(cs.paddingRight),
          width: document.documentElement.clientWidth, tallest, squeezed, broken};
})"""


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        why = ("no Chromium (Debian: apt-get install chromium)" if chromium is None
               else "no playwright (pip install -r requirements.lock)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}: the browser check must run in CI")
        pytest.skip(why)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


def _measure(browser, page_url: str, media: str, width: int) -> list[dict]:
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.route(re.compile(r"^(?!file:|data:).*"), lambda route: route.abort())   # nothing from outside
    page.goto(page_url)
    page.emulate_media(media=media)
    out = page.evaluate(MEASURE, MIN_TEXT_EM)
    page.close()
    return out


def _problems(tables: list[dict], where: str) -> list[str]:
    out = []
    for t in tables:
        name = f"{where} {t['id']}"
        if t["scroll"] > t["client"] + 1:
            out.append(f"{name}: {t['scroll']} px wide in a {t['client']} px box")
        inside = (t["left"] >= -0.5 and t["right"] <= t["width"] + 0.5) if t["landscape"] else \
            (t["left"] >= t["colLeft"] - 0.5 and t["right"] <= t["colRight"] + 0.5)
        if not inside:
            out.append(f"{name}: box {t['left']:.0f}-{t['right']:.0f} px outside its column "
                       f"{t['colLeft']:.0f}-{t['colRight']:.0f} (window {t['width']})")
        if t["tallest"] > MAX_ROW_LINES + 0.5:
            out.append(f"{name}: a row {t['tallest']:.1f} lines tall")
        if t["squeezed"]:
            out.append(f"{name}: text cells narrower than {MIN_TEXT_EM} em: {t['squeezed'][:3]}")
        if t["broken"]:
            out.append(f"{name}: numbers broken over lines: {t['broken'][:3]}")
    return out


def test_every_table_fits_its_column_on_screen_and_on_a4(demo_study, browser):
    url = (demo_study / "reports" / "report.html").resolve().as_uri()
    screen = _measure(browser, url, "screen", SCREEN)
    assert len(screen) == 20          # 18 tables and the appendices of sources and provenance
    problems = _problems(screen, f"screen {SCREEN} px")
    portrait = [t for t in _measure(browser, url, "print", PORTRAIT) if not t["landscape"]]
    landscape = [t for t in _measure(browser, url, "print", LANDSCAPE) if t["landscape"]]
    assert len(portrait) + len(landscape) == len(screen) and landscape
    problems += _problems(portrait, f"A4 print {PORTRAIT} px") + _problems(landscape, f"A4 landscape {LANDSCAPE} px")
    assert not problems, "\n".join(problems)


def test_the_report_prints_on_a4_with_landscape_pages_for_the_widest_tables(demo_study, browser, tmp_path):
    page = browser.new_page()
    page.goto((demo_study / "reports" / "report.html").resolve().as_uri())
    n_landscape = page.locator(".table-block.landscape").count()
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    page.close()
    boxes = [tuple(round(float(v)) for v in m) for m in
             re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)]
    a4, a4_landscape = (595, 842), (842, 595)
    assert boxes and set(boxes) <= {a4, a4_landscape}, set(boxes)
    assert 10 <= len(boxes) <= 60
    assert 1 <= boxes.count(a4_landscape) <= 2 * n_landscape


def test_screenshots_of_tables_14_16_18(demo_study, browser, tmp_path):
    """PNGs of the three tables a reviewer looked at; to ``$REPORT_SCREENSHOTS`` when set."""
    out = Path(os.environ.get("REPORT_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": SCREEN, "height": 1000})
    page.goto((demo_study / "reports" / "report.html").resolve().as_uri())
    for key in SHOWN:
        block = page.locator(f".table-block:has(#{key})")
        path = out / f"html_{key}.png"
        block.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
    page.close()


def _printed_pages(demo_study: Path, browser, tmp_path: Path, hidden_in_print: str | None = None) -> list[str]:
    """The report printed by Chromium to A4 PDF, each page's text (pdftotext -layout); with
    ``hidden_in_print``, that element's computed display in print is checked to be none first."""
    import subprocess

    if shutil.which("pdftotext") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no pdftotext (Debian: apt-get install poppler-utils)")
        pytest.skip("no pdftotext")
    page = browser.new_page()
    page.goto((demo_study / "reports" / "report.html").resolve().as_uri())
    if hidden_in_print:
        page.emulate_media(media="print")
        assert page.eval_on_selector(hidden_in_print, "e => getComputedStyle(e).display") == "none"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(page.pdf(prefer_css_page_size=True, print_background=True))
    page.close()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [p for p in text.split("\f") if p.strip()]


def test_the_simulated_mark_prints_in_every_pages_margin_not_over_the_text(demo_study, browser, tmp_path):
    """A reviewer's print of the report: the fixed box "模拟数据" sat on a repeated table header
    (Table 3, continued), a figure's panel title and a column's outcome label. In print it is now
    a page margin box on every page, and the fixed box is not printed."""
    pages = _printed_pages(demo_study, browser, tmp_path, hidden_in_print="div.simulated-page")
    assert len(pages) >= 10
    mark = "模拟数据"
    assert all(p.lstrip().splitlines()[0].strip().endswith(mark) for p in pages), \
        [i + 1 for i, p in enumerate(pages) if not p.lstrip().splitlines()[0].strip().endswith(mark)]


def test_a_section_heading_prints_on_the_page_of_its_landscape_table(demo_study, browser, tmp_path):
    """A reviewer's print had pages holding a section heading alone ("联合展示", "附录：表与图的来源"),
    the landscape table it heads on the next page: the heading goes to the landscape page too."""
    pages = _printed_pages(demo_study, browser, tmp_path)
    heads = {"联合展示": "表18", "附录：表与图的来源": "表/图"}
    for heading, table in heads.items():
        here = [p for p in pages if any(line.strip() == heading for line in p.splitlines())]
        assert here and all(table in p for p in here), heading

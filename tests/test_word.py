"""The Word layout (pipeline/render/word.py, word_table.py) on small tables built here: the shipped
reference template is what build_template makes, a journal's template is used as it is (its
styles win, the missing ones are added), A4 or letter, page numbers, caption fields, widths fitted
to the content, decimal tabs, repeated headers, rows that never split, landscape where a table or
a figure needs it, the document language, figures never scaled below 7 pt, byte-identical output.
The page breaks themselves are checked by LibreOffice in tests/test_report_print.py."""
from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.enum.section import WD_ORIENT

from pipeline.core.errors import PipelineError
from pipeline.core.settings import Report
from pipeline.render import word
from pipeline.render.table import Cell, HeaderCell, Row, Table
from pipeline.render import word_table
from pipeline.render.word_table import decimal_aligns, is_number, measure, split_point, text_em

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _table(lang="zh", n_rows=4, quote="访谈中的一句话", key="table03_test", numbers=("0.298***", "(0.044)")):
    header = ((HeaderCell(""), HeaderCell("模型", span=2), HeaderCell("")),
              (HeaderCell("变量"), HeaderCell("P1"), HeaderCell("P2"), HeaderCell("引文")))
    rows = []
    for i in range(n_rows):
        rows.append(Row((Cell(f"变量{i}"), Cell(numbers[i % 2], numeric=True), Cell("12.5", numeric=True), Cell(quote))))
    rows.append(Row(panel="模型统计量"))
    rows.append(Row((Cell("N"), Cell("2214"), Cell("2214"), Cell(""))))
    return Table(key, "测试表", header, tuple(rows), ("注：一条注释。",), lang=lang)


def _doc(data: bytes):
    return docx.Document(io.BytesIO(data))


def _xml(data: bytes, member: str = "word/document.xml") -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read(member).decode("utf-8")


def test_the_shipped_template_is_what_build_template_makes():
    assert word.TEMPLATE.read_bytes() == word.build_template(), \
        "run `.venv/bin/python scripts/make_report_template.py` after changing pipeline/render/word.py STYLES"


def test_the_template_styles_are_chinese_journal_styles_without_word_defaults():
    doc = docx.Document(str(word.TEMPLATE))
    for name in ("Title", "Heading 1", "Heading 2", "Caption"):
        el = doc.styles[name].element
        assert el.find(f".//{W}color") is None, f"{name}: a colour (Word's blue headings)"
        fonts = el.find(f".//{W}rFonts")
        assert fonts.get(f"{W}eastAsia") == "黑体" and fonts.get(f"{W}ascii") == "Times New Roman"
        assert not [a for a in fonts.attrib if "Theme" in a or "theme" in a]
    normal = doc.styles["Normal"].element.find(f".//{W}rFonts")
    assert normal.get(f"{W}eastAsia") == "宋体" and normal.get(f"{W}ascii") == "Times New Roman"
    spacing = doc.styles["Table Text"].element.find(f".//{W}spacing")
    assert spacing.get(f"{W}before") == "0" and spacing.get(f"{W}after") == "0" and spacing.get(f"{W}line") == "240"
    s = doc.sections[0]
    assert (s.page_width.twips, s.page_height.twips) == word.PAPERS["a4"]
    assert " PAGE " in "".join(t.text for t in s.footer._element.iter(f"{W}instrText"))


def test_a_table_document_is_a4_with_page_numbers_caption_field_and_language():
    data = word.docx_table(_table(), 3)
    doc = _doc(data)
    (section,) = doc.sections
    assert (section.page_width.twips, section.page_height.twips) == (11906, 16838)
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert "PAGE" in _xml(data, "word/footer1.xml")
    caption = doc.paragraphs[0]
    assert caption.style.name == "Caption" and caption.text == "表3　测试表"
    assert "SEQ 表 \\* ARABIC" in caption._p.xml
    styles = _xml(data, "word/styles.xml")
    assert 'w:lang w:val="en-US" w:eastAsia="zh-CN"' in styles       # Latin text en-US: LibreOffice breaks it by words
    assert 'w:val="zh-CN"' not in styles
    assert doc.core_properties.language == "zh-CN"
    en = word.docx_table(_table(lang="en"), 3)
    assert 'w:lang w:val="en-US"' in _xml(en, "word/styles.xml") and "SEQ Table \\* ARABIC" in _xml(en)
    assert word.docx_table(_table(), 3) == data, "byte-identical on a rerun"


def test_an_appendix_table_has_its_caption_without_a_table_label():
    """The report's appendix tables have no number: their captions read '表　附录：...' in Word, a
    label without its number (the HTML showed the caption alone)."""
    for lang, label in (("zh", "表"), ("en", "Table")):
        doc = _doc(word.docx_table(_table(lang=lang, key="appendix_provenance")))
        caption = doc.paragraphs[0]
        assert caption.style.name == "Caption" and caption.text == "测试表" and "SEQ" not in caption._p.xml


def test_rows_never_split_headers_repeat_and_cells_use_the_table_style():
    t = _table()
    doc = _doc(word.docx_table(t, 3))
    (tbl,) = doc.tables
    trs = tbl._tbl.findall(f"{W}tr")
    assert all(tr.find(f"{W}trPr/{W}cantSplit") is not None for tr in trs)
    assert [tr.find(f"{W}trPr/{W}tblHeader") is not None for tr in trs] == [True, True] + [False] * len(t.rows)
    assert tbl._tbl.find(f"{W}tblPr/{W}tblLayout").get(f"{W}type") == "fixed"
    styles = {p.style.name for row in tbl.rows for cell in row.cells for p in cell.paragraphs}
    assert styles == {"Table Text"}
    assert [p.style.name for p in doc.paragraphs] == ["Caption", "Table Note"]
    # the panel row is one italic cell across the table; a spanner spans its columns
    panel = trs[2 + 4]
    assert panel.find(f"{W}tc/{W}tcPr/{W}gridSpan").get(f"{W}val") == "4"
    assert trs[0].findall(f"{W}tc")[1].find(f"{W}tcPr/{W}gridSpan").get(f"{W}val") == "2"


def test_widths_fit_the_content_and_numbers_align_on_the_point():
    t = _table(quote="一段很长的访谈引文，" * 8)
    report = word.WordReport("zh")
    layout = report.add_table(t)
    assert layout.numeric == (False, True, True, False)
    label, p1, p2, quote = layout.widths
    assert quote > 2 * label > p1, layout.widths          # the text column takes the room, numbers stay narrow
    assert sum(layout.widths) <= report.page.width and not layout.landscape
    tbl = report.doc.tables[0]._tbl
    body = tbl.findall(f"{W}tr")[2]
    tabs = [tc.find(f".//{W}tabs/{W}tab") for tc in body.findall(f"{W}tc")]
    assert tabs[0] is None and tabs[3] is None
    assert tabs[1].get(f"{W}val") == "decimal" and 0 < int(tabs[1].get(f"{W}pos")) < p1
    # no tab character before the number: in a cell Word and LibreOffice align on the decimal tab by themselves
    assert body.findall(f"{W}tc")[1].find(f".//{W}r/{W}tab") is None
    assert [c.text for c in report.doc.tables[0].rows[2].cells] == [c.text for c in t.rows[0].cells]


def test_a_table_too_wide_for_portrait_gets_a_landscape_section():
    header = ((HeaderCell("项"),) + tuple(HeaderCell(f"列{j}") for j in range(14)),)
    rows = tuple(Row((Cell("某一行"),) + tuple(Cell("123.456 (7.89)") for _ in range(14))) for _ in range(3))
    wide = Table("table05_wide", "很宽的表", header, rows, lang="zh")
    report = word.WordReport("zh")
    report.paragraph("前文", "Normal")
    layout = report.add_table(wide)
    assert layout.landscape
    report.orient(False)
    report.paragraph("后文", "Normal")
    doc = _doc(report.to_bytes())
    orientation = [s.orientation for s in doc.sections]
    assert orientation == [WD_ORIENT.PORTRAIT, WD_ORIENT.LANDSCAPE, WD_ORIENT.PORTRAIT]
    s = doc.sections[1]
    assert (s.page_width.twips, s.page_height.twips) == (16838, 11906)
    assert s.footer.is_linked_to_previous, "the page numbers go on in the landscape section"
    # a table alone in its document turns its one section, no break
    alone = _doc(word.docx_table(wide))
    assert [s.orientation for s in alone.sections] == [WD_ORIENT.LANDSCAPE]


def test_a_slightly_wide_table_stays_portrait_in_smaller_type():
    header = ((HeaderCell("项"),) + tuple(HeaderCell(f"c{j}") for j in range(10)),)
    rows = tuple(Row((Cell("行"),) + tuple(Cell("0.123") for _ in range(10))) for _ in range(2))
    t = Table("table06_x", "x", header, rows, lang="zh")
    report = word.WordReport("zh")
    assert word.layout_table(t, report.page, 9.0).size == 9.0
    need = {size: sum(c.minimum for c in measure(t, size)) * 20 for size in (9.0, 8.0)}
    assert need[8.0] < need[9.0]
    page = report.page
    narrow = word.Page(int(need[8.0] + need[9.0]) // 2, page.height, page.wide_width, page.wide_height)
    layout = word.layout_table(t, narrow, 9.0)
    assert not layout.landscape and layout.size == 8.0
    assert 'w:sz w:val="16"' in word_table.table_xml(t, layout, "TableText", 9.0).xml


def test_letter_paper_and_an_unknown_paper():
    doc = _doc(word.docx_table(_table(), paper="letter"))
    assert (doc.sections[0].page_width.twips, doc.sections[0].page_height.twips) == (12240, 15840)
    with pytest.raises(PipelineError, match="report.paper"):
        word.docx_table(_table(), paper="a5")
    assert Report.model_fields["paper"].default == "a4" and Report.model_fields["template"].default is None
    with pytest.raises(ValueError):
        Report.model_validate({"title": {"zh": "题", "en": "t"}, "paper": "a5"})


def test_a_journal_template_is_used_as_it_is(tmp_path):
    """A team's template: its styles win (here a red Heading 1 and 12 pt Normal), its sample text
    goes, the styles it lacks (Table Text, Table Note, Figure) are added, the paper setting applies."""
    journal = docx.Document()                    # python-docx's own: letter paper, no Table Text style
    journal.styles["Heading 1"].font.color.rgb = docx.shared.RGBColor(0xC0, 0, 0)
    journal.add_paragraph("Sample text of the journal's template")
    path = tmp_path / "journal.docx"
    journal.save(str(path))
    report = word.WordReport("en", path, "a4")
    report.heading("Results")
    report.add_table(_table(lang="en"))
    doc = _doc(report.to_bytes())
    assert "Sample text" not in "".join(p.text for p in doc.paragraphs)
    assert doc.styles["Heading 1"].font.color.rgb == docx.shared.RGBColor(0xC0, 0, 0)
    assert {"Table Text", "Table Note", "Figure"} <= {s.name for s in doc.styles}
    assert (doc.sections[0].page_width.twips, doc.sections[0].page_height.twips) == (11906, 16838)
    assert "PAGE" in "".join(t.text for t in doc.sections[0].footer._element.iter(f"{W}instrText"))


def test_a_missing_or_broken_template_is_one_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="report template not found"):
        word.WordReport("zh", tmp_path / "nope.docx")
    bad = tmp_path / "bad.docx"
    bad.write_text("not a zip", encoding="utf-8")
    with pytest.raises(PipelineError, match="not a Word document"):
        word.WordReport("zh", bad)


def _png(width_in: float, height_in: float, dpi: int = 300) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


@pytest.mark.parametrize("width, smallest, landscape", [(4.0, 8.0, False), (6.4, 8.0, False), (7.5, 8.0, True),
                                                        (7.5, 12.0, False), (9.6, 9.0, True)])
def test_figures_keep_their_smallest_text_at_7_pt(width, smallest, landscape):
    page = word.WordReport("zh").page
    place = word.place_figure(_png(width, 3.0), page, smallest)
    assert place.landscape == landscape
    assert place.scale * smallest >= word.MIN_FIGURE_PT - 1e-6
    assert place.scale <= 1.0 and place.width <= (page.wide_width if landscape else page.width)
    if width <= page.width / 1440:
        assert place.scale == 1.0, "a figure that fits is placed at its natural size"


def test_a_figure_in_the_report_has_its_caption_field_below_it():
    report = word.WordReport("zh")
    place = report.add_figure(_png(7.5, 4.0), f"图{word.MARK} 主题比重", 5, 8.0)
    doc = _doc(report.to_bytes())
    assert place.landscape and doc.sections[-1].orientation == WD_ORIENT.LANDSCAPE
    assert [p.style.name for p in doc.paragraphs] == ["Figure", "Caption"]
    assert doc.paragraphs[1].text == "图5 主题比重" and "SEQ 图 \\* ARABIC" in doc.paragraphs[1]._p.xml
    assert round(doc.inline_shapes[0].width.inches, 2) == round(place.width / 1440, 2)


def test_what_counts_as_a_number_and_where_it_aligns():
    for text in ("0.298***", "(0.044)", "[0.205, 0.484]", "-0.059 [-0.121, 0.002]", "629 (47.9)", "<5", "2,214"):
        assert is_number(text), text
    for text in ("互补", "numeric", "H1", "χ² = 1.91", "T1: 方便"):
        assert not is_number(text), text
    assert split_point("0.298***") == ("0", ".298***")
    assert split_point("(0.044)") == ("(0", ".044)")
    assert split_point("2214") == ("2214", "")
    assert text_em("表格") == 2.0 and text_em("12") == 1.0
    assert decimal_aligns(["0.298***", "(0.044)", "1981", "5108.6", ""])        # a model table: estimates, N, AIC
    assert decimal_aligns(["629 (47.9)", "1087 (49.1)"])                       # counts (%) alone
    assert not decimal_aligns(["629 (47.9)", "3.21 (0.85)"])                   # counts (%) over means (SD): centred

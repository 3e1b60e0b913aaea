"""Word output of the report and of each table, laid out for print (A4 by default) in the named
styles of a reference template.

The look lives in a reference document, as with pandoc's ``reference.docx``: a report is written
into a copy of ``params.yaml: report.template`` (default: the shipped
``pipeline/render/templates/report_template.docx``, which ``scripts/make_report_template.py`` makes
from :func:`build_template`) whose body is emptied first. Every paragraph takes one of its named
styles: ``Title``, ``Heading 1``, ``Caption`` (table and figure captions), ``Table Text`` (table
cells), ``Table Note`` and ``Figure`` (the paragraph holding a picture); page numbers sit in the
``Footer``. A journal's template that defines these styles changes the look without code; a style
it lacks is added with the shipped definition (:data:`STYLES`), and a footer without a page number
gets one. The page size is ``report.paper`` (a4 | letter); the margins are the template's.

What the layout guarantees (each checked by the tests, the page breaks by LibreOffice in
``tests/test_report_print.py``):

* captions are Word captions: the label, a ``SEQ`` field (``SEQ 表`` / ``SEQ Table``, ``SEQ 图`` /
  ``SEQ Figure``, its number already filled in) and the caption, so Word can build a list of tables;
* three-line tables (三线表) with fixed column widths fitted to the content (text columns wide,
  number columns as narrow as their numbers, numbers aligned on the decimal point by a decimal tab
  stop), no spacing inside cells, the header rows repeated on every page (``w:tblHeader``), rows
  never split across pages (``w:cantSplit``), a short table kept on one page;
* a table too wide for a portrait page (or that would run to many more pages in portrait) and a
  figure whose smallest text would fall below 7 pt at portrait width get a landscape section;
* a figure is placed at its natural size (its fonts as drawn) or scaled down only so far that no
  text is under :data:`MIN_FIGURE_PT`;
* the document language is zh-CN for a Chinese report and en-US otherwise; its text is marked
  East Asian zh-CN and Latin en-US in both, as in Word's Chinese template.

Widths are estimated from the characters (a CJK character one em, Latin letters and digits about
half), not measured with the fonts: Word or LibreOffice lay the text out, the estimate only has to
leave room. Everything is byte-deterministic: no time of the run, :func:`docx_bytes` re-packs the
file with :func:`pipeline.core.files.office_bytes`.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from pipeline.core.errors import PipelineError
from pipeline.core.files import OFFICE_TIME, office_bytes
from pipeline.render import locale
from pipeline.render.table import Table, table_number
from pipeline.render.word_table import TableLayout, el, layout_table, q, runs, table_xml, text_el

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report_template.docx"
PAPERS = {"a4": (11906, 16838), "letter": (12240, 15840)}   # page width and height in twips (1/20 pt)
MARGINS = {"top": 1440, "bottom": 1440, "left": 1797, "right": 1797}   # 2.54 cm and 3.17 cm: Word's Chinese default
MIN_FIGURE_PT = 7.0      # no text of a placed figure smaller than this
FIXED_TIME = datetime(*OFFICE_TIME, tzinfo=timezone.utc)
MARK = "\x00"           # where the number goes in a caption phrase


# -- styles --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StyleSpec:
    """A paragraph style of the shipped template. ``east_asia``/``latin`` None: inherited."""

    name: str
    size: float                       # pt
    east_asia: str | None = None
    latin: str | None = None
    align: str | None = None          # w:jc
    before: float = 0.0               # pt
    after: float = 0.0
    line: float = 1.0                 # multiple of single spacing
    keep_next: bool = False
    outline: int | None = None        # heading level - 1 (navigation pane, table of contents)
    base: str | None = "Normal"


BODY_CJK, HEADING_CJK, LATIN = "宋体", "黑体", "Times New Roman"
STYLES = (
    StyleSpec("Normal", 10.5, BODY_CJK, LATIN, line=1.25, base=None),          # 五号
    StyleSpec("Title", 18, HEADING_CJK, LATIN, align="center", before=12, after=18),   # 小二
    StyleSpec("Heading 1", 14, HEADING_CJK, LATIN, before=18, after=6, keep_next=True, outline=0),
    StyleSpec("Heading 2", 12, HEADING_CJK, LATIN, before=12, after=6, keep_next=True, outline=1),
    StyleSpec("Caption", 10.5, HEADING_CJK, LATIN, align="center", before=9, after=4, keep_next=True),
    StyleSpec("Table Text", 9),                                                 # 小五, single, no spacing
    StyleSpec("Table Note", 9, after=8),
    StyleSpec("Figure", 10.5, align="center", before=6, keep_next=True),
    StyleSpec("Footer", 9, align="center"),
)


def _fonts(east_asia: str | None, latin: str | None) -> Any:
    if east_asia is None and latin is None:
        return None
    return el("w:rFonts", ascii=latin, hAnsi=latin, cs=latin, eastAsia=east_asia)


def _spec_ppr(spec: StyleSpec) -> Any:
    return el("w:pPr", [
        el("w:keepNext") if spec.keep_next else None,
        el("w:spacing", before=round(spec.before * 20), after=round(spec.after * 20), line=round(spec.line * 240),
            lineRule="auto"),
        el("w:jc", val=spec.align) if spec.align else None,
        el("w:outlineLvl", val=spec.outline) if spec.outline is not None else None])


def _spec_rpr(spec: StyleSpec) -> Any:
    half = round(spec.size * 2)
    return el("w:rPr", [_fonts(spec.east_asia, spec.latin), el("w:sz", val=half), el("w:szCs", val=half)])


def apply_style(style: Any, spec: StyleSpec) -> None:
    """Make ``style`` (a python-docx paragraph style) exactly ``spec``: its paragraph and run
    properties are replaced whole (no theme font, no colour: black, no border)."""
    el = style.element
    for old in el.findall(q("w:pPr")) + el.findall(q("w:rPr")):
        el.remove(old)
    el.append(_spec_ppr(spec))
    el.append(_spec_rpr(spec))


def ensure_styles(doc: Any) -> None:
    """Add each style of :data:`STYLES` the document lacks (a journal template need not have them)."""
    from docx.enum.style import WD_STYLE_TYPE

    names = {s.name.lower() for s in doc.styles}
    for spec in STYLES:
        if spec.name.lower() in names:
            continue
        style = doc.styles.add_style(spec.name, WD_STYLE_TYPE.PARAGRAPH)
        if spec.base is not None:
            style.base_style = doc.styles[spec.base]
        apply_style(style, spec)


def _strip_theme(styles_el: Any) -> None:
    """No theme fonts and no colours in any paragraph or character style (Word's blue headings)."""
    for rpr in styles_el.iter(q("w:rPr")):
        for color in rpr.findall(q("w:color")):
            rpr.remove(color)
        for fonts in rpr.findall(q("w:rFonts")):
            for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
                fonts.attrib.pop(q(f"w:{attr}"), None)


def _doc_defaults(doc: Any) -> tuple[Any, Any]:
    """The rPr and pPr of the document defaults (w:docDefaults), made if absent."""
    styles = doc.styles.element
    defaults = styles.find(q("w:docDefaults"))
    if defaults is None:
        defaults = el("w:docDefaults")
        styles.insert(0, defaults)
    out = []
    for i, (outer, inner) in enumerate((("w:rPrDefault", "w:rPr"), ("w:pPrDefault", "w:pPr"))):
        box = defaults.find(q(outer))
        if box is None:
            box = el(outer)
            defaults.insert(i, box)            # rPrDefault before pPrDefault
        props = box.find(q(inner))
        if props is None:
            props = el(inner)
            box.append(props)
        out.append(props)
    return out[0], out[1]


def build_template() -> bytes:
    """The shipped reference template: python-docx's default document with :data:`STYLES`
    (宋体 + Times New Roman body, 黑体 headings and captions, black, no spacing in table cells),
    document defaults without theme fonts, A4 with :data:`MARGINS` and a page number centred in
    the footer. ``scripts/make_report_template.py`` writes it to :data:`TEMPLATE`; a test checks
    that the shipped file is what this makes."""
    from docx import Document

    doc = Document()
    _strip_theme(doc.styles.element)
    rpr, ppr = _doc_defaults(doc)
    for child in list(rpr) + list(ppr):
        child.getparent().remove(child)
    rpr.append(el("w:rFonts", ascii=LATIN, hAnsi=LATIN, cs=LATIN, eastAsia=BODY_CJK))
    rpr.extend([el("w:sz", val=21), el("w:szCs", val=21), el("w:lang", val="en-US", eastAsia="zh-CN", bidi="ar-SA")])
    ppr.append(el("w:spacing", after=0, line=240, lineRule="auto"))
    ensure_styles(doc)
    for spec in STYLES:
        apply_style(doc.styles[spec.name], spec)
    section = doc.sections[0]
    set_paper(section, "a4")
    for edge, twips in MARGINS.items():
        setattr(section, f"{edge}_margin", _twips(twips))
    section.header_distance, section.footer_distance = _twips(851), _twips(992)   # 1.5 cm, 1.75 cm
    ensure_page_numbers(section)
    return docx_bytes(doc)


# -- the document ------------------------------------------------------------------------------
def _twips(value: int) -> Any:
    from docx.shared import Twips

    return Twips(value)


def open_template(path: str | Path | None = None) -> Any:
    """A python-docx Document from the reference template (default :data:`TEMPLATE`), its body
    emptied (the last section's page settings, header and footer kept)."""
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    path = Path(path) if path is not None else TEMPLATE
    if not path.is_file():
        raise PipelineError(f"{path}: report template not found",
                            hint="params.yaml: report.template names a .docx file (a journal's template), "
                                 "relative to the project root; leave it out for the shipped template")
    try:
        doc = Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise PipelineError(f"{path}: not a Word document (.docx) ({exc.__class__.__name__})",
                            hint="save the template as a Word document (.docx), not .doc or .dotx") from None
    body = doc.element.body
    for child in list(body):
        if child.tag != q("w:sectPr"):
            body.remove(child)
    return doc


def set_language(doc: Any, lang: str) -> None:
    """The document's language: zh-CN for a Chinese report, en-US otherwise. Its text is marked as
    Word's Chinese template marks it, in both: East Asian text zh-CN, Latin text en-US. (Latin text
    marked zh-CN, as before, made LibreOffice break Latin words and version numbers anywhere:
    fo|rmulaic, numpy 2.|4.6.)"""
    rpr, _ = _doc_defaults(doc)
    for old in rpr.findall(q("w:lang")):
        rpr.remove(old)
    rpr.append(el("w:lang", val="en-US", eastAsia="zh-CN", bidi="ar-SA"))
    settings = doc.settings.element
    for old in settings.findall(q("w:themeFontLang")):
        old.set(q("w:val"), "en-US")
        old.set(q("w:eastAsia"), "zh-CN")
    doc.core_properties.language = "zh-CN" if lang == "zh" else "en-US"


def set_paper(section: Any, paper: str, landscape: bool = False) -> None:
    """Page size ``paper`` (a4 | letter), portrait or landscape."""
    from docx.enum.section import WD_ORIENT

    if paper not in PAPERS:
        raise PipelineError(f"params.yaml: report.paper is '{paper}'", hint=f"use one of {sorted(PAPERS)}")
    w, h = PAPERS[paper]
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (_twips(h), _twips(w)) if landscape else (_twips(w), _twips(h))


def _field(instr: str, result: str) -> list[Any]:
    """The runs of a complex field with its current result (Word and LibreOffice show the result
    and recompute it)."""
    return [el("w:r", [el("w:fldChar", fldCharType="begin")]),
            el("w:r", [text_el("w:instrText", f" {instr} ")]),
            el("w:r", [el("w:fldChar", fldCharType="separate")]),
            el("w:r", [text_el("w:t", result)]),
            el("w:r", [el("w:fldChar", fldCharType="end")])]


def ensure_page_numbers(section: Any) -> None:
    """A page number (a PAGE field) centred in the footer, unless the footer already has one."""
    footer = section.footer
    if "PAGE" in "".join(t.text or "" for t in footer._element.iter(q("w:instrText"))):
        return
    footer.is_linked_to_previous = False
    for p in list(footer._element):
        footer._element.remove(p)
    style_id = section._document_part.styles["Footer"].style_id
    footer._element.append(el("w:p", [el("w:pPr", [el("w:pStyle", val=style_id), el("w:jc", val="center")]),
                                      *_field("PAGE", "1")]))


@dataclass(frozen=True)
class Page:
    """The text area of a portrait and of a landscape page, in twips."""

    width: int
    height: int
    wide_width: int
    wide_height: int


class WordReport:
    """A report or a single table being written: the template opened, the paper and language set;
    tables and figures switch to a landscape section and back as they need."""

    def __init__(self, lang: str, template: str | Path | None = None, paper: str = "a4"):
        self.lang = lang
        self.paper = paper
        self.doc = open_template(template)
        ensure_styles(self.doc)
        set_language(self.doc, lang)
        section = self.doc.sections[0]
        set_paper(section, paper)
        ensure_page_numbers(section)
        m = {e: int(getattr(section, f"{e}_margin").twips) for e in MARGINS}
        w, h = PAPERS[paper]
        self.page = Page(w - m["left"] - m["right"], h - m["top"] - m["bottom"],
                         h - m["top"] - m["bottom"], w - m["left"] - m["right"])
        self.landscape = False
        self._fresh = True          # nothing written in the current section yet
        self.table_size = style_size(self.doc, "Table Text")

    # -- sections
    def orient(self, landscape: bool) -> None:
        """Continue in a landscape (or portrait) section, starting one on a new page if needed."""
        if landscape == self.landscape:
            return
        from docx.enum.section import WD_SECTION

        if self._fresh:
            section = self.doc.sections[-1]
        else:
            section = self.doc.add_section(WD_SECTION.NEW_PAGE)
            _quiet_break(self.doc.element.body)
        first = self.doc.sections[0]
        set_paper(section, self.paper, landscape)
        edges = ("top", "bottom", "left", "right")
        turned = ("left", "right", "top", "bottom") if landscape else edges   # margins turn with the page
        for edge, source in zip(edges, turned):
            setattr(section, f"{edge}_margin", getattr(first, f"{source}_margin"))
        self.landscape = landscape

    def _append(self, el: Any) -> Any:
        self.doc.element.body.sectPr.addprevious(el)
        self._fresh = False
        return el

    # -- paragraphs
    def paragraph(self, text: str, style: str, *, keep_next: bool | None = None,
                  content: Sequence[Any] | None = None) -> Any:
        """A paragraph in ``style``; ``keep_next`` True/False overrides the style's keep-with-next."""
        ppr = el("w:pPr", [el("w:pStyle", val=self.doc.styles[style].style_id),
                           el("w:keepNext", val=None if keep_next else "0") if keep_next is not None else None])
        return self._append(el("w:p", [ppr, *(runs(text) if content is None else content)]))

    def heading(self, text: str, level: int = 1) -> None:
        self.paragraph(text, "Title" if level == 0 else f"Heading {level}")

    def caption(self, phrase: str, number: int | None, kind: str, *, keep_next: bool = True) -> None:
        """A caption from a locale phrase holding ``MARK`` where the number goes; the number is a
        ``SEQ`` field named after the label before it (表, 图, Table, Figure)."""
        if number is None or MARK not in phrase:
            self.paragraph(phrase.replace(MARK, ""), "Caption", keep_next=keep_next)
            return
        before, after = phrase.split(MARK, 1)
        name = before.strip().rstrip(".").split()[-1] if before.strip() else kind
        content = runs(before) + _field(f"SEQ {name} \\* ARABIC", str(number)) + runs(after)
        self.paragraph("", "Caption", keep_next=keep_next, content=content)

    # -- tables and figures
    def add_table(self, table: Table, number: int | None = None) -> TableLayout | None:
        """The caption, the three-line table and its notes, in a landscape section when the
        table needs one; returns the layout (None for a skipped table)."""
        number = table_number(table) if number is None else number
        layout = layout_table(table, self.page, self.table_size) if table.rows else None
        if layout is not None:
            self.orient(layout.landscape)
        phrase = (locale.text("tables.table_title", table.lang, number=MARK, caption=table.caption) if number is not None
                  else table.caption)            # an appendix table: no "表" without a number
        self.caption(phrase, number, "Table")
        if layout is not None:
            self._append(table_xml(table, layout, self.doc.styles["Table Text"].style_id, self.table_size))
        for note in ([table.skipped] if table.skipped else []) + list(table.notes):
            self.paragraph(note, "Table Note")
        return layout

    def add_figure(self, png: bytes, phrase: str, number: int, smallest_pt: float | None) -> FigurePlace:
        """The picture at :func:`place_figure`'s size, in a landscape section if it needs one, and
        its caption below it."""
        place = place_figure(png, self.page, smallest_pt)
        self.orient(place.landscape)
        p = self.paragraph("", "Figure", keep_next=True, content=[])
        from docx.text.paragraph import Paragraph

        Paragraph(p, self.doc._body).add_run().add_picture(io.BytesIO(png), width=_twips(place.width))
        self.caption(phrase, number, "Figure", keep_next=False)
        return place

    def to_bytes(self, title: str = "") -> bytes:
        self.doc.core_properties.title = title
        return docx_bytes(self.doc)


def _quiet_break(body: Any) -> None:
    """The paragraph python-docx adds to hold a section break: 1 pt high, so it never spills onto a
    page of its own."""
    p = body.findall(q("w:p"))[-1]
    ppr = p.find(q("w:pPr"))
    ppr.insert(0, el("w:spacing", before=0, after=0, line=20, lineRule="exact"))
    ppr.insert(1, el("w:rPr", [el("w:sz", val=2), el("w:szCs", val=2)]))
    # schema order: spacing before rPr before sectPr
    sect = ppr.find(q("w:sectPr"))
    ppr.remove(sect)
    ppr.append(sect)


def style_size(doc: Any, name: str, default: float = 9.0) -> float:
    """The font size (pt) a style gives, following its base styles, else the document default."""
    style = doc.styles[name] if name.lower() in {s.name.lower() for s in doc.styles} else None
    while style is not None:
        if style.font.size is not None:
            return style.font.size.pt
        style = style.base_style
    rpr, _ = _doc_defaults(doc)
    sz = rpr.find(q("w:sz"))
    return int(sz.get(q("w:val"))) / 2 if sz is not None else default


# -- figures ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FigurePlace:
    width: int          # twips on the page
    scale: float        # of the figure's own size
    landscape: bool


def place_figure(png: bytes, page: Page, smallest_pt: float | None, caption_twips: int = 900) -> FigurePlace:
    """Where and how large a figure goes: at its natural size (the PNG's pixels over its dpi: the
    size matplotlib drew it at, fonts as drawn) or smaller to fit the text area; in portrait if its
    smallest text stays at or above :data:`MIN_FIGURE_PT` there, else in landscape if that shows it
    larger."""
    from docx.image.image import Image

    img = Image.from_blob(png)
    w = img.px_width / (img.horz_dpi or 72) * 1440
    h = img.px_height / (img.vert_dpi or 72) * 1440

    def scale(width: int, height: int) -> float:
        return min(1.0, width / w, (height - caption_twips) / h)

    portrait, wide = scale(page.width, page.height), scale(page.wide_width, page.wide_height)
    small = smallest_pt is not None and portrait * smallest_pt < MIN_FIGURE_PT - 1e-9
    landscape = small and wide > portrait
    s = wide if landscape else portrait
    return FigurePlace(int(math.floor(w * s)), s, landscape)


# -- saving ------------------------------------------------------------------------------------
def fix_properties(document: Any) -> None:
    """No time of the run in the file: fixed creation/modification time, revision and author."""
    props = document.core_properties
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.last_printed = FIXED_TIME
    props.revision = 1
    props.author = ""
    props.last_modified_by = ""
    props.comments = ""


def docx_bytes(document: Any) -> bytes:
    fix_properties(document)
    buf = io.BytesIO()
    document.save(buf)
    return office_bytes(buf.getvalue())


def docx_table(table: Table, number: int | None = None, *, template: str | Path | None = None,
               paper: str = "a4") -> bytes:
    """One table as its own Word document (portrait or landscape as it needs)."""
    report = WordReport(table.lang, template, paper)
    report.add_table(table, number)
    return report.to_bytes(table.caption)

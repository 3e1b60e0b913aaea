"""A :class:`~pipeline.render.table.Table` as a Word three-line table (三线表), with column
widths fitted to its content, and the few WordprocessingML helpers :mod:`pipeline.render.word`
shares.

:func:`layout_table` decides the widths and the page orientation from estimated text widths
(:func:`text_em`: a CJK character one em, a digit half an em): a column of numbers is as wide
as its widest number (aligned on the decimal point by a decimal tab stop placed so the column's
numbers sit centred under their head), a text column as wide as its longest line if there is
room, else it shares the room left in proportion to what it would need (the way a browser lays
out an automatic table). A table goes landscape when its narrowest layout is wider than a
portrait page, when a row would be taller than most of a page, or when landscape saves a fifth
of its pages. :func:`table_xml` writes the table with those widths fixed (``w:tblLayout``
fixed), the header rows repeated on every page (``w:tblHeader``), no row split across pages
(``w:cantSplit``) and, for a table that fits on one page, every row kept with the next.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Sequence

from pipeline.render.table import Table

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
THICK_RULE = 12          # w:sz, eighths of a point: 1.5 pt above and below the table
THIN_RULE = 6            # 0.75 pt under the header
CELL_MARGIN = 57         # twips (0.1 cm) left and right inside a cell
LINE_HEIGHT = 1.3        # a line of CJK text, in ems of the font size
SLACK = 1.06             # estimated widths of text are stretched by this much, plus 2 pt, to leave room
LONG_WORD = 8.0          # ems: a longer word (an id, a path) may break rather than widen its column
TALLEST_ROW = 0.6        # of a page: a taller row in portrait sends the table to landscape
KEEP_TOGETHER = 0.7      # of a page: a shorter table is kept on one page


# -- WordprocessingML ------------------------------------------------------------------------------
def q(tag: str) -> str:
    """``w:name`` as a Clark name."""
    prefix, name = tag.split(":")
    assert prefix == "w", tag
    return f"{{{W_NS}}}{name}"


def el(tag: str, children: Sequence[Any] = (), **attrs: Any) -> Any:
    """A WordprocessingML element: ``el("w:jc", val="center")``; attributes in the w namespace,
    None attributes and None children left out."""
    from docx.oxml import OxmlElement

    out = OxmlElement(tag)
    for key, value in attrs.items():
        if value is not None:
            out.set(q(f"w:{key}"), str(value))
    for child in children:
        if child is not None:
            out.append(child)
    return out


def text_el(tag: str, text: str) -> Any:
    out = el(tag)
    out.text = text
    out.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return out


def runs(text: str, *, italic: bool = False, size: float | None = None) -> list[Any]:
    """Runs for ``text`` (``size``: pt, else the style's); a line break in the text becomes a w:br."""
    out = []
    for i, line in enumerate(text.split("\n")):
        out.append(el("w:r", [_rpr(italic, size), el("w:br") if i else None, text_el("w:t", line)]))
    return out


def _rpr(italic: bool = False, size: float | None = None) -> Any:
    if not italic and size is None:
        return None
    half = None if size is None else round(size * 2)
    return el("w:rPr", [el("w:i") if italic else None, el("w:sz", val=half) if half else None,
                        el("w:szCs", val=half) if half else None])


def paragraph(style_id: str, content: Sequence[Any], *, align: str | None = None, keep_next: bool = False,
              tab: int | None = None, size: float | None = None) -> Any:
    ppr = el("w:pPr", [el("w:pStyle", val=style_id), el("w:keepNext") if keep_next else None,
                       el("w:tabs", [el("w:tab", val="decimal", pos=tab)]) if tab is not None else None,
                       el("w:jc", val=align) if align else None, _rpr(size=size)])
    return el("w:p", [ppr, *content])


# -- measuring ---------------------------------------------------------------------------------
def text_em(text: str) -> float:
    """The width of ``text`` on one line, in ems (an estimate: a CJK character 1, a digit 0.5)."""
    return max((sum(_char_em(ch) for ch in line) for line in text.split("\n")), default=0.0)


def _char_em(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if ch.isdigit():
        return 0.5
    if ch == " ":
        return 0.25
    if ch in ".,;:'!|":
        return 0.28
    if ch in "()[]{}/-‐":
        return 0.34
    if ch.isupper():
        return 0.7
    if ch.isalpha():
        return 0.48
    return 0.56


_CJK = r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]"
_BREAKS = re.compile(rf"\s+|(?<={_CJK})|(?={_CJK})")
_NUMBER = re.compile(r"[\s\d.,;:%()\[\]/+\-−–—<>=*†‡·|]*\d[\s\d.,;:%()\[\]/+\-−–—<>=*†‡·|]*")
_BLANK = re.compile(r"[\s\-−–—·.…/]*")
_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_LEADING = re.compile(r"[^\d\s]*[\d,]+")     # what precedes the point when it is in the first number


def longest_word_em(text: str) -> float:
    """The widest piece of ``text`` a line cannot break (a Latin word; CJK breaks between characters)."""
    return max((text_em(w) for w in _BREAKS.split(text) if w), default=0.0)


def is_number(text: str) -> bool:
    """A cell of numbers: digits with signs, brackets, separators and stars, no words."""
    return bool(_NUMBER.fullmatch(text.strip()))


def split_point(text: str) -> tuple[str, str]:
    """``text`` around the point a decimal tab aligns on (the first decimal point; the end of the
    text if it has none)."""
    text = text.strip()
    m = _POINT.search(text)
    return (text[:m.start()], text[m.start():]) if m else (text, "")


def _point_kind(text: str) -> str:
    """Where the point a decimal tab aligns on falls: in the cell's first number ("first"), in a
    later one ("later": 629 (47.9)), or nowhere ("none": 2214)."""
    before, after = split_point(text)
    if not after:
        return "none"
    return "first" if _LEADING.fullmatch(before) else "later"


def decimal_aligns(cells: Sequence[str]) -> bool:
    """Whether a column of numbers reads right aligned on the decimal point: every cell's point is
    in its first number (integers too: they end at the point), or every cell's is in a later one.
    A count (%) over a mean (SD) is not: the tab would align the percent under the mean."""
    kinds = {_point_kind(t) for t in cells if not _BLANK.fullmatch(t)}
    return kinds <= {"first", "none"} or kinds == {"later"}


# -- the layout --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    natural: float           # pt, everything on one line
    minimum: float           # pt, wrapped as far as is readable
    numeric: bool
    left: float = 0.0        # pt: widest number part before the decimal point
    right: float = 0.0       # pt: widest part from the point on


@dataclass(frozen=True)
class TableLayout:
    widths: tuple[int, ...]          # twips per column
    numeric: tuple[bool, ...]
    tabs: tuple[int | None, ...]     # decimal tab stop of a number column, twips from the cell's text edge
    landscape: bool
    keep_together: bool
    pages: float                     # estimated height in pages
    size: float                      # pt of the table's text


def _column_cells(table: Table) -> list[list[str]]:
    cols: list[list[str]] = [[] for _ in range(table.n_columns)]
    for row in table.rows:
        if row.panel is None:
            for j, c in enumerate(row.cells):
                cols[j].append(c.text)
    return cols


def _heads(table: Table) -> list[str]:
    """The last header row's text over each column ('' under a cell spanning several)."""
    out, j = [""] * table.n_columns, 0
    for c in table.header[-1] if table.header else ():
        if c.span == 1:
            out[j] = c.text
        j += c.span
    return out


def measure(table: Table, size: float) -> list[Column]:
    """Each column's natural and minimum width at font size ``size`` (pt), and whether it holds numbers."""
    pad = 2 * CELL_MARGIN / 20 + 2.0

    def pt(em: float, slack: float = SLACK) -> float:
        return em * size * slack + pad

    out = []
    for j, (cells, head) in enumerate(zip(_column_cells(table), _heads(table))):
        filled = [t for t in cells if not _BLANK.fullmatch(t)]
        numeric = j >= table.label_columns and bool(filled) and all(is_number(t) for t in filled)
        head_natural, head_word = text_em(head), min(longest_word_em(head), LONG_WORD)
        if numeric:   # digits are exactly half an em in the usual fonts: no slack, but an em of air
            parts = [split_point(t) for t in cells]
            left = max(text_em(a) for a, _ in parts) * size
            right = max(text_em(b) for _, b in parts) * size
            widest = max(text_em(t.strip()) for t in cells)
            if not decimal_aligns(cells):
                left = right = 0.0    # numbers of different shapes (a count (%) over a mean (SD)): centred
            body = max((left + right) / size, widest) + 0.6
            head_min = min(head_natural, max(head_word, head_natural / 2 + 1.0))   # the head on two lines at most
            out.append(Column(pt(max(body, head_natural), 1.0), pt(max(body, head_min), 1.0), True, left, right))
        else:
            natural = max([text_em(t) for t in cells] + [head_natural])
            word = max([min(longest_word_em(t), LONG_WORD) for t in cells] + [head_word])
            out.append(Column(pt(natural), pt(max(word, min(natural, 6.0))), False))
    return out


def fit(columns: Sequence[Column], available: float) -> list[float]:
    """Widths (pt): natural if they fit, else each column's minimum plus a share of the room left
    in proportion to what it lacks of its natural width; the minimums if even they do not fit."""
    natural = [c.natural for c in columns]
    minimum = [c.minimum for c in columns]
    if sum(natural) <= available:
        return natural
    room = available - sum(minimum)
    if room <= 0:
        return minimum
    lack = [n - m for n, m in zip(natural, minimum)]
    return [m + room * d / sum(lack) for m, d in zip(minimum, lack)]


def _row_lines(texts: Sequence[str], widths: Sequence[float], size: float, columns: Sequence[Column]) -> int:
    lines = 1
    for text, width, col in zip(texts, widths, columns):
        if not text or col.numeric:
            continue
        inner = max(width - 2 * CELL_MARGIN / 20, size)
        lines = max(lines, sum(max(1, math.ceil(text_em(part) * size * SLACK / inner)) for part in text.split("\n")))
    return lines


def _heights(table: Table, widths: Sequence[float], size: float, columns: Sequence[Column]) -> list[float]:
    """Estimated height (pt) of each header and body row."""
    line = size * LINE_HEIGHT
    heads = _heads(table)
    out = [_row_lines(heads, widths, size, [Column(0, 0, False)] * len(widths)) * line]
    out += [line] * (len(table.header) - 1)
    for row in table.rows:
        texts = [c.text for c in row.cells]
        out.append(line if row.panel is not None else _row_lines(texts, widths, size, columns) * line)
    return out


@dataclass(frozen=True)
class _Option:
    landscape: bool
    size: float
    columns: tuple[Column, ...]
    widths: tuple[float, ...]
    pages: float             # estimated height in pages
    tallest: float           # the tallest row, in pages
    fits: bool               # the columns' minimum widths fit the text width


def _option(table: Table, page: Any, size: float, landscape: bool) -> _Option:
    width, height = (page.wide_width, page.wide_height) if landscape else (page.width, page.height)
    columns = tuple(measure(table, size))
    widths = tuple(fit(columns, width / 20))
    rows = _heights(table, widths, size, columns)
    return _Option(landscape, size, columns, widths, sum(rows) * 20 / height, max(rows) * 20 / height,
                   sum(c.minimum for c in columns) * 20 <= width)


def layout_table(table: Table, page: Any, size: float) -> TableLayout:
    """Widths, font size and orientation of ``table`` on ``page`` (a :class:`pipeline.render.word.Page`),
    its text at ``size`` pt (the Table Text style's). Portrait when the columns fit there (at
    ``size``, else one point smaller, never under 7.5 pt: 六号), no row takes more than
    :data:`TALLEST_ROW` of the page and landscape would not save a fifth of the pages; else
    landscape at ``size``."""
    wide = _option(table, page, size, True)
    portrait = [_option(table, page, s, False) for s in (size, size - 1.0) if s >= 7.5 or s == size]
    chosen = next((o for o in portrait if o.fits and o.tallest <= TALLEST_ROW and wide.pages >= 0.8 * o.pages), wide)
    if sum(c.natural for c in portrait[0].columns) * 20 <= page.width:
        chosen = portrait[0]            # everything on one line in portrait
    twips = tuple(int(round(w * 20)) for w in chosen.widths)
    tabs = tuple(_tab(c, w) if c.numeric and c.left + c.right > 0 else None for c, w in zip(chosen.columns, twips))
    return TableLayout(twips, tuple(c.numeric for c in chosen.columns), tabs, chosen.landscape,
                       chosen.pages < KEEP_TOGETHER, round(chosen.pages, 2), chosen.size)


def _tab(column: Column, width: int) -> int:
    """A decimal tab stop that centres the column's aligned numbers in the cell."""
    inner = width - 2 * CELL_MARGIN
    block = (column.left + column.right) * 20
    return int(round(max(column.left * 20, (inner - block) / 2 + column.left * 20)))


# -- the table ---------------------------------------------------------------------------------
def _borders(tag: str, edges: dict[str, int | None]) -> Any:
    return el(tag, [el(f"w:{edge}", val="nil") if size is None else
                    el(f"w:{edge}", val="single", sz=size, space=0, color="000000") for edge, size in edges.items()])


def _cell(width: int, content: Any, *, span: int = 1, rules: dict[str, int | None] | None = None,
          valign: str | None = None) -> Any:
    pr = el("w:tcPr", [el("w:tcW", w=width, type="dxa"), el("w:gridSpan", val=span) if span > 1 else None,
                       _borders("w:tcBorders", rules) if rules else None,
                       el("w:vAlign", val=valign) if valign else None])
    return el("w:tc", [pr, content])


def _row(cells: Sequence[Any], *, header: bool) -> Any:
    return el("w:tr", [el("w:trPr", [el("w:cantSplit"), el("w:tblHeader") if header else None]), *cells])


def table_xml(table: Table, layout: TableLayout, style_id: str, style_size: float) -> Any:
    """The ``w:tbl`` of ``table``: three-line rules (1.5 pt above and below, 0.75 pt under the
    header), the widths of ``layout`` fixed, every paragraph in the ``style_id`` style (Table
    Text), the label columns left-aligned, the header of the other columns centred, numbers on
    a decimal tab, a panel row as one italic cell across the table; the text at ``layout.size``
    where that is not the style's ``style_size``."""
    widths, n, n_header = layout.widths, table.n_columns, len(table.header)
    size = None if abs(layout.size - style_size) < 1e-9 else layout.size
    keep = layout.keep_together
    pr = el("w:tblPr", [el("w:tblW", w=sum(widths), type="dxa"), el("w:jc", val="center"),
                        _borders("w:tblBorders", {"top": THICK_RULE, "left": None, "bottom": THICK_RULE, "right": None,
                                                  "insideH": None, "insideV": None}),
                        el("w:tblLayout", type="fixed"),
                        el("w:tblCellMar", [el("w:left", w=CELL_MARGIN, type="dxa"),
                                            el("w:right", w=CELL_MARGIN, type="dxa")]),
                        el("w:tblLook", val="0000", firstRow=0, lastRow=0, firstColumn=0, lastColumn=0,
                           noHBand=1, noVBand=1)])
    rows = []
    for i, hrow in enumerate(table.header):
        cells, j = [], 0
        for c in hrow:
            align = "left" if j < table.label_columns and c.span == 1 else "center"
            p = paragraph(style_id, runs(c.text, size=size), align=align, keep_next=True, size=size)
            # the top rule on the first header row too: a header repeated on the next page carries it there
            rules = {"top": THICK_RULE if i == 0 else None, "bottom": THIN_RULE if i == n_header - 1 else None}
            cells.append(_cell(sum(widths[j:j + c.span]), p, span=c.span,
                               rules={k: v for k, v in rules.items() if v is not None}, valign="bottom"))
            j += c.span
        rows.append(_row(cells, header=True))
    for row in table.rows:
        if row.panel is not None:
            # a panel title stays with its rows
            p = paragraph(style_id, runs(row.panel, italic=True, size=size), keep_next=True, size=size)
            rows.append(_row([_cell(sum(widths), p, span=n)], header=False))
            continue
        cells = []
        for j, c in enumerate(row.cells):
            if layout.numeric[j]:
                # no tab character: in a table cell Word and LibreOffice align a paragraph on its
                # first decimal tab stop by themselves (a tab character would jump past it)
                tab = layout.tabs[j]
                p = paragraph(style_id, runs(c.text.strip(), size=size), tab=tab,
                              align="center" if tab is None else None, keep_next=keep, size=size)
            else:
                p = paragraph(style_id, runs(c.text, size=size), align="left" if j < table.label_columns else None,
                              keep_next=keep, size=size)
            # centred in the row: a label in a CJK face sets a taller line than the Latin numbers
            # beside it, and top-aligned numbers then read as one line higher than their label
            cells.append(_cell(widths[j], p, valign="center"))
        rows.append(_row(cells, header=False))
    grid = el("w:tblGrid", [el("w:gridCol", w=w) for w in widths])
    return el("w:tbl", [pr, grid, *rows])

"""One renderer for every publication table: CSV, Markdown, HTML, LaTeX (booktabs) and Word
(a three-line table, 三线表: :mod:`pipeline.render.word`), all from the same :class:`Table`.

A :class:`Table` holds display text only, but every number it shows keeps a link
(:class:`Source`) to the tidy result it came from (file, row selector, column, raw value), so a
test can check that each number shown equals its source rounded to the shown decimals
(:func:`pipeline.render.tables.check.check_numbers`). Nothing here computes a statistic.

Output is byte-deterministic: the Word file carries a fixed creation time and fixed zip entry
dates, and no format embeds the time of the run.
"""
from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from pipeline.core.errors import PipelineError
from pipeline.core.files import write_bytes
from pipeline.render import locale

FORMATS = ("csv", "md", "html", "tex", "docx")

# Three-line tables in HTML; the report page may include it once. Text columns wrap (``tx``; a
# minimum width in em, ``w6``..``w12``, from their longest cell, so a column is never squeezed to a
# character a line), short ones do not (``nw``); numbers never break inside a number (``num``,
# tabular figures, right-aligned with their stars or closing bracket in a fixed-width tail ``sx1``-
# ``sx3`` so the decimal points line up); a cell of several numbers (an estimate and its interval)
# may break between them. A table sits in a ``table-wrap`` that scrolls sideways if a screen is
# narrower than the table; the widest tables ("landscape") take the screen's width, wider than the
# page's column, centred on it. In print a table is laid out to fit the page (smaller type for wide
# tables, a landscape page of its own for the widest), its header repeated on every page, no row split.
HTML_CSS = """@page landscape { size: A4 landscape; }
div.table-wrap { max-width: 100%; overflow-x: auto; margin: 1em 0 .3em; }
@media screen and (min-width: 64em) {
  div.table-block.landscape { --w: min(84em, calc(100vw - 4em)); width: var(--w); margin-left: calc((100% - var(--w)) / 2); }
}
table.three-line { border-collapse: collapse; font-size: 90%; line-height: 1.4; }
table.three-line.wide { font-size: 80%; }
table.three-line caption { caption-side: top; text-align: left; font-weight: bold; padding-bottom: .3em; }
table.three-line thead tr:first-child th { border-top: 1.5pt solid #000; }
table.three-line thead tr:last-child th { border-bottom: 0.75pt solid #000; }
table.three-line tbody tr:last-child td { border-bottom: 1.5pt solid #000; }
table.three-line th, table.three-line td { padding: .2em .5em; vertical-align: top; }
table.three-line th { font-weight: bold; text-align: center; white-space: normal; }
table.three-line th.tx { text-align: left; }
table.three-line th.spanner { border-bottom: 0.5pt solid #000; }
table.three-line td.tx { text-align: left; white-space: normal; overflow-wrap: anywhere; max-width: 28em; }
table.three-line td.nw, table.three-line th.nw { white-space: nowrap; }
table.three-line td.w6 { min-width: 6em; } table.three-line td.w8 { min-width: 8em; }
table.three-line td.w10 { min-width: 10em; } table.three-line td.w12 { min-width: 12em; }
table.three-line td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.three-line td.num.brk { white-space: normal; }
table.three-line td.num span.n { white-space: nowrap; }
table.three-line span.sx1, table.three-line span.sx2, table.three-line span.sx3 { display: inline-block; text-align: left; }
table.three-line span.sx1 { width: .6em; } table.three-line span.sx2 { width: 1.1em; } table.three-line span.sx3 { width: 1.6em; }
table.three-line tr.panel td { font-style: italic; padding-top: .5em; }
div.table-notes { font-size: 85%; margin-bottom: 1.5em; }
@media print {
  div.table-block.landscape { page: landscape; }
  div.table-wrap { overflow: visible; }
  table.three-line { font-size: 9pt; }
  table.three-line.wide { font-size: 8pt; }
  table.three-line td.tx { max-width: none; }
  table.three-line thead { display: table-header-group; }
  table.three-line tr { break-inside: avoid; page-break-inside: avoid; }
  table.three-line tr.lead { break-after: avoid; page-break-after: avoid; }   /* an estimate and its SE beneath */
  table.three-line caption { break-after: avoid; page-break-after: avoid; }
  div.table-notes { font-size: 8pt; break-before: avoid; page-break-before: avoid; }
}"""

@dataclass(frozen=True)
class Source:
    """Where a displayed number comes from: ``file`` is the results key (a path under
    ``processed/`` such as ``models/coefficients.csv`` or ``integrate/joint_display.csv``),
    ``row`` selects one row by column values, ``column`` is the column, ``value`` the raw value,
    ``scale`` what it is multiplied by for display (100 for a percent)."""

    file: str
    row: tuple[tuple[str, Any], ...]
    column: str
    value: float
    scale: float = 1.0

    @property
    def selector(self) -> dict[str, Any]:
        return dict(self.row)


@dataclass(frozen=True)
class Cell:
    """One displayed cell. ``sources`` are the numbers in ``text``, in order of appearance;
    ``stars`` is the p value the stars of the cell were read from; ``suppressed`` marks a cell
    withheld by the small-cell rule."""

    text: str
    sources: tuple[Source, ...] = ()
    stars: Source | None = None
    numeric: bool = False
    suppressed: bool = False


@dataclass(frozen=True)
class HeaderCell:
    text: str
    span: int = 1


@dataclass(frozen=True)
class Row:
    """A body row (``cells``, one per column) or a panel row (``panel``: a label spanning the
    table, e.g. "Model statistics")."""

    cells: tuple[Cell, ...] = ()
    panel: str | None = None


@dataclass(frozen=True)
class Table:
    """A publication table. ``header`` is a list of header rows; every row's spans add up to
    the number of columns, the last row names each column; earlier rows are column spanners.
    ``skipped`` says why a table could not be built (its input is absent): it then has no rows
    and renders as its caption and that note."""

    key: str
    caption: str
    header: tuple[tuple[HeaderCell, ...], ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    skipped: str | None = None
    label_columns: int = 1
    lang: str = "en"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", self.key):
            raise PipelineError(f"table key '{self.key}' is not a file stem", "use letters, digits, _ and -")
        n = self.n_columns
        for i, hrow in enumerate(self.header):
            if sum(c.span for c in hrow) != n:
                raise PipelineError(f"table {self.key}: header row {i + 1} spans {sum(c.span for c in hrow)} columns, not {n}")
        for i, row in enumerate(self.rows):
            if row.panel is None and len(row.cells) != n:
                raise PipelineError(f"table {self.key}: body row {i + 1} has {len(row.cells)} cells, not {n}")

    @property
    def n_columns(self) -> int:
        return sum(c.span for c in self.header[-1]) if self.header else 0

    def flat_columns(self) -> list[str]:
        """Column names with the spanners above them, joined by " / " (CSV, Markdown)."""
        names: list[list[str]] = [[] for _ in range(self.n_columns)]
        for hrow in self.header:
            j = 0
            for c in hrow:
                for k in range(j, j + c.span):
                    if c.text:
                        names[k].append(c.text)
                j += c.span
        return [" / ".join(parts) for parts in names]

    def cells(self) -> list[Cell]:
        return [c for r in self.rows for c in r.cells]


def table_number(table: Table) -> int | None:
    """The number in a key like ``table03_measurement``."""
    m = re.match(r"table(\d+)", table.key)
    return int(m.group(1)) if m else None


def _title(table: Table, number: int | None) -> str:
    if number is None:
        return table.caption
    return locale.text("tables.table_title", table.lang, number=number, caption=table.caption)


def _notes(table: Table) -> list[str]:
    return ([table.skipped] if table.skipped else []) + list(table.notes)


# -- column shapes (HTML and LaTeX) ------------------------------------------------------------
# A number with what may stand around it: an opening bracket or "<" before, stars, a closing
# bracket or "%" after (the tail, aligned apart so that the decimal points line up).
NUMBER = re.compile(r"(?P<pre>[(\[<]?)(?P<num>-?\d+(?:\.\d+)?)(?P<post>[)\]%]?\**)")
# What a cell of a numeric column may show instead of a number: nothing, a dash, a withheld count.
_PLACEHOLDER = re.compile(r"[—–\-·]?")


def display_width(text: str) -> float:
    """The width of ``text`` in em, roughly: a wide (CJK) character 1 em, any other 0.55 em."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55 for ch in text)


def number_atoms(text: str) -> list[str]:
    """The parts of a numeric cell a line may break between: its numbers with their brackets
    ("0.344", "[0.205, 0.484]"); a lone separator ("/") stays with the number before it."""
    atoms: list[str] = []
    for part in re.findall(r"\[[^\]]*\]|\([^)]*\)|\S+", text):
        if atoms and not re.search(r"\d", part):
            atoms[-1] += " " + part
        else:
            atoms.append(part)
    return atoms


@dataclass(frozen=True)
class ColumnShape:
    """What a column holds: ``numeric`` (every body cell a number or a placeholder), ``width``
    (the widest body cell in em), ``atoms`` (some cell holds several numbers: an estimate and its
    interval), ``single`` (every cell one number, :data:`NUMBER`: decimal alignment applies),
    ``tail`` (the longest tail after a number, in characters: stars, a closing bracket)."""

    numeric: bool
    width: float
    atoms: bool = False
    single: bool = False
    tail: int = 0


def column_shapes(table: Table) -> list[ColumnShape]:
    """One :class:`ColumnShape` per column, from the body cells (panel rows are left out)."""
    out = []
    for j in range(table.n_columns):
        cells = [r.cells[j] for r in table.rows if r.panel is None]
        shown = [c for c in cells if c.text.strip()]
        numeric = any(c.numeric for c in shown) and all(
            c.numeric or c.suppressed or _PLACEHOLDER.fullmatch(c.text.strip()) for c in shown)
        width = max((display_width(c.text) for c in cells), default=0.0)
        if not numeric:
            out.append(ColumnShape(False, width))
            continue
        nums = [c.text.strip() for c in shown if c.numeric]
        matches = [NUMBER.fullmatch(t) for t in nums]
        single = all(matches)
        tail = max((len(m.group("post")) for m in matches if m), default=0) if single else 0
        out.append(ColumnShape(True, width, atoms=any(len(number_atoms(t)) > 1 for t in nums), single=single, tail=tail))
    return out


def natural_width(table: Table, shapes: Sequence[ColumnShape] | None = None, text_cap: float = 20.0) -> float:
    """The width in em the table would like: numbers whole, text up to ``text_cap`` em a column,
    plus the cells' padding (1 em a column)."""
    shapes = column_shapes(table) if shapes is None else shapes
    return sum((s.width if s.numeric else min(s.width, text_cap)) + 1.0 for s in shapes)


# -- CSV ---------------------------------------------------------------------------------------
def csv_text(table: Table) -> str:
    """The displayed cells: one header row (spanners flattened), panel rows as a first cell."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.flat_columns())
    for row in table.rows:
        if row.panel is not None:
            w.writerow([row.panel] + [""] * (table.n_columns - 1))
        else:
            w.writerow([c.text for c in row.cells])
    return buf.getvalue()


# -- Markdown ----------------------------------------------------------------------------------
def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(table: Table, number: int | None = None) -> str:
    number = table_number(table) if number is None else number
    lines = [f"**{_md(_title(table, number))}**", ""]
    if table.rows:
        cols = table.flat_columns()
        lines.append("| " + " | ".join(_md(c) for c in cols) + " |")
        align = ["---" if j < table.label_columns else "---:" for j in range(len(cols))]
        lines.append("|" + "|".join(align) + "|")
        for row in table.rows:
            if row.panel is not None:
                cells = [f"*{_md(row.panel)}*"] + [""] * (len(cols) - 1)
            else:
                cells = [_md(c.text) for c in row.cells]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for note in _notes(table):
        lines.append(f"{_md(note)}  ")
    return "\n".join(lines).rstrip() + "\n"


# -- HTML --------------------------------------------------------------------------------------
def _h(text: str) -> str:
    return html.escape(text, quote=True)


# HTML: text columns of at most this many em do not wrap; longer ones get a minimum width (classes
# w6..w12 of HTML_CSS) of about a sixth of their longest cell; a table whose natural width passes
# WIDE_EM is set in smaller type ("wide"), one past LANDSCAPE_EM is printed on a landscape page.
NOWRAP_EM = 8.0
WIDE_EM = 60.0
LANDSCAPE_EM = 75.0
HEAD_NOWRAP_EM = 5.0


def _text_class(shape: ColumnShape) -> str:
    if shape.width <= NOWRAP_EM:
        return "tx nw"
    return f"tx w{min(12, max(6, 2 * round(shape.width / 12)))}"


def _num_html(text: str, shape: ColumnShape) -> tuple[str, str]:
    """The inner HTML and the class of a numeric cell: one number with its tail in a fixed-width
    span (decimal alignment), or several numbers each unbreakable, breaking between them."""
    m = NUMBER.fullmatch(text.strip()) if shape.single else None
    if m is not None and shape.tail:
        return f'{_h(m.group("pre") + m.group("num"))}<span class="sx{min(shape.tail, 3)}">{_h(m.group("post"))}</span>', "num"
    atoms = number_atoms(text)
    if len(atoms) > 1:
        return " ".join(f'<span class="n">{_h(a)}</span>' for a in atoms), "num brk"
    if shape.tail and text.strip():   # a placeholder in a column of numbers with tails
        return f'{_h(text)}<span class="sx{min(shape.tail, 3)}"></span>', "num"
    return _h(text), "num"


def _html_head(table: Table, shapes: Sequence[ColumnShape]) -> list[str]:
    out = ["<thead>"]
    for i, hrow in enumerate(table.header):
        spanner = i < len(table.header) - 1
        cells, j = [], 0
        for c in hrow:
            span = f' colspan="{c.span}"' if c.span > 1 else ""
            classes = ["spanner"] if spanner and c.text else []
            if not spanner and c.span == 1:
                classes += [] if shapes[j].numeric else ["tx"]
                # a short head, or one no wider than its column's cells, never wraps (主/题)
                classes += ["nw"] if display_width(c.text) <= max(HEAD_NOWRAP_EM, shapes[j].width) else []
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f'<th scope="col"{span}{cls}>{_h(c.text)}</th>')
            j += c.span
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</thead>")
    return out


def _continued(rows: tuple[Row, ...], i: int) -> bool:
    """Row ``i`` has a continuation beneath it that must not be printed on the next page: a row
    without a label in the first column (a regression table's standard errors under their
    estimates)."""
    nxt = rows[i + 1] if i + 1 < len(rows) else None
    return bool(rows[i].cells and rows[i].cells[0].text and nxt is not None and nxt.panel is None and nxt.cells
                and not nxt.cells[0].text and any(c.text for c in nxt.cells[1:]))


def html_fragment(table: Table, number: int | None = None) -> str:
    """A ``<table class="three-line">`` with its caption, in a ``table-wrap`` container, followed
    by its notes, the two in a ``table-block`` (style: :data:`HTML_CSS`). Each column is laid out by what it holds
    (:func:`column_shapes`), not by its position."""
    number = table_number(table) if number is None else number
    shapes = column_shapes(table)
    width = natural_width(table, shapes) if table.rows else 0.0
    wide = " wide" if width > WIDE_EM else ""
    landscape = " landscape" if width > LANDSCAPE_EM else ""
    out = [f'<div class="table-block{landscape}">', '<div class="table-wrap">',
           f'<table class="three-line{wide}" id="{_h(table.key)}">',
           f"<caption>{_h(_title(table, number))}</caption>"]
    if table.rows:
        out += _html_head(table, shapes)
        out.append("<tbody>")
        for i, row in enumerate(table.rows):
            if row.panel is not None:
                out.append(f'<tr class="panel"><td colspan="{table.n_columns}">{_h(row.panel)}</td></tr>')
                continue
            cells = []
            for c, shape in zip(row.cells, shapes):
                if shape.numeric:
                    inner, cls = _num_html(c.text, shape)
                else:
                    inner, cls = _h(c.text.lstrip(" ")), _text_class(shape)
                    depth = len(c.text) - len(c.text.lstrip(" "))
                    if depth:                    # a level under its variable (Table 2): indented, as in Word
                        cells.append(f'<td class="{cls}" style="padding-left: {0.5 + 0.75 * depth:g}em">{inner}</td>')
                        continue
                cells.append(f'<td class="{cls}">{inner}</td>')
            lead = ' class="lead"' if _continued(table.rows, i) else ""
            out.append(f"<tr{lead}>" + "".join(cells) + "</tr>")
        out.append("</tbody>")
    out += ["</table>", "</div>"]
    notes = _notes(table)
    if notes:
        out.append('<div class="table-notes">' + "".join(f"<p>{_h(n)}</p>" for n in notes) + "</div>")
    out.append("</div>")
    return "\n".join(out) + "\n"


def html_page(table: Table, number: int | None = None) -> str:
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_h(table.caption)}</title>\n<style>\n{HTML_CSS}\n</style>\n</head>\n<body>\n"
            f"{html_fragment(table, number)}</body>\n</html>\n")


# -- LaTeX -------------------------------------------------------------------------------------
def latex(table: Table, number: int | None = None) -> str:
    """The table in LaTeX (:func:`pipeline.render.latex.latex`; its packages: ``latex_preamble.tex``)."""
    from pipeline.render import latex as tex

    return tex.latex(table, number)


# -- files -------------------------------------------------------------------------------------
def table_files(table: Table, formats: Sequence[str] = FORMATS, number: int | None = None,
                word: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    """``table`` in each format, as ``{"<key>.<format>": bytes}``; ``word``: the Word options
    (``template``, ``paper``) of :func:`pipeline.render.word.docx_table`."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise PipelineError(f"unknown table formats {unknown}", f"use some of {list(FORMATS)} (params.yaml: report.formats)")
    files = {}
    for fmt in formats:
        if fmt == "csv":
            text = csv_text(table)
        elif fmt == "md":
            text = markdown(table, number)
        elif fmt == "html":
            text = html_page(table, number)
        elif fmt == "tex":
            text = latex(table, number)
        else:
            from pipeline.render.word import docx_table   # word.py builds on this module

            files[f"{table.key}.{fmt}"] = docx_table(table, number, **(word or {}))
            continue
        files[f"{table.key}.{fmt}"] = text.encode("utf-8")
    return files


def write_table(table: Table, out_dir: str | Path, formats: Sequence[str] = FORMATS, number: int | None = None,
                word: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``table`` as ``<out_dir>/<key>.<format>`` for each format (:func:`table_files`;
    atomic writes)."""
    out_dir = Path(out_dir)
    paths = []
    for name, data in table_files(table, formats, number, word).items():
        write_bytes(out_dir / name, data)
        paths.append(out_dir / name)
    return paths

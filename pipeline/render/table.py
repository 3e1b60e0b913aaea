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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from pipeline.core.errors import PipelineError
from pipeline.core.files import write_bytes, write_text
from pipeline.render import locale

FORMATS = ("csv", "md", "html", "tex", "docx")

# Three-line tables in HTML; the report page may include it once.
HTML_CSS = """table.three-line { border-collapse: collapse; margin: 1em 0; }
table.three-line caption { caption-side: top; text-align: left; font-weight: bold; padding-bottom: .3em; }
table.three-line thead tr:first-child th { border-top: 1.5pt solid #000; }
table.three-line thead tr:last-child th { border-bottom: 0.75pt solid #000; }
table.three-line tbody tr:last-child td { border-bottom: 1.5pt solid #000; }
table.three-line th, table.three-line td { padding: .15em .6em; vertical-align: top; }
table.three-line th.spanner { border-bottom: 0.5pt solid #000; }
table.three-line td.num { text-align: right; white-space: nowrap; }
table.three-line tr.panel td { font-style: italic; padding-top: .5em; }
div.table-notes { font-size: 90%; margin-bottom: 1.5em; }"""


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


def html_fragment(table: Table, number: int | None = None) -> str:
    """A ``<table class="three-line">`` with its caption, followed by its notes (style:
    :data:`HTML_CSS`)."""
    number = table_number(table) if number is None else number
    out = [f'<table class="three-line" id="{_h(table.key)}">', f"<caption>{_h(_title(table, number))}</caption>"]
    if table.rows:
        out.append("<thead>")
        for i, hrow in enumerate(table.header):
            spanner = i < len(table.header) - 1
            cells = []
            for c in hrow:
                span = f' colspan="{c.span}"' if c.span > 1 else ""
                cls = ' class="spanner"' if spanner and c.text else ""
                cells.append(f'<th scope="col"{span}{cls}>{_h(c.text)}</th>')
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</thead>")
        out.append("<tbody>")
        for row in table.rows:
            if row.panel is not None:
                out.append(f'<tr class="panel"><td colspan="{table.n_columns}">{_h(row.panel)}</td></tr>')
                continue
            cells = []
            for j, c in enumerate(row.cells):
                cls = ' class="num"' if j >= table.label_columns else ""
                cells.append(f"<td{cls}>{_h(c.text)}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody>")
    out.append("</table>")
    notes = _notes(table)
    if notes:
        out.append('<div class="table-notes">' + "".join(f"<p>{_h(n)}</p>" for n in notes) + "</div>")
    return "\n".join(out) + "\n"


def html_page(table: Table, number: int | None = None) -> str:
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_h(table.caption)}</title>\n<style>\n{HTML_CSS}\n</style>\n</head>\n<body>\n"
            f"{html_fragment(table, number)}</body>\n</html>\n")


# -- LaTeX -------------------------------------------------------------------------------------
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
        "✓": r"$\checkmark$", "×": r"$\times$", "χ": r"$\chi$", "²": r"\textsuperscript{2}", "α": r"$\alpha$",
        "ω": r"$\omega$", "λ": r"$\lambda$", "Δ": r"$\Delta$", "κ": r"$\kappa$", "≤": r"$\leq$", "—": "---", "–": "--"}


def _tex(text: str) -> str:
    out = "".join(_TEX.get(ch, ch) for ch in text)
    return re.sub(r"(?<![\w.])-(?=\d|\.\d)", r"$-$", out)   # a minus sign, not a hyphen


def latex(table: Table, number: int | None = None) -> str:
    """booktabs (\\toprule, \\midrule, \\bottomrule) in a threeparttable with its notes. Chinese
    text needs xeCJK or ctex; the check mark needs amssymb."""
    n = table.n_columns
    lines = [r"\begin{table}[htbp]", r"\centering", r"\begin{threeparttable}",
             rf"\caption{{{_tex(table.caption)}}}", rf"\label{{tab:{table.key}}}"]
    if table.rows:
        spec = "l" * table.label_columns + "r" * (n - table.label_columns)
        lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
        for i, hrow in enumerate(table.header):
            cells, rules, j = [], [], 1
            for c in hrow:
                if c.span > 1:
                    cells.append(rf"\multicolumn{{{c.span}}}{{c}}{{{_tex(c.text)}}}")
                else:
                    cells.append(_tex(c.text))
                if i < len(table.header) - 1 and c.text:
                    rules.append(rf"\cmidrule(lr){{{j}-{j + c.span - 1}}}")
                j += c.span
            lines.append(" & ".join(cells) + r" \\")
            if rules:
                lines.append(" ".join(rules))
        lines.append(r"\midrule")
        for k, row in enumerate(table.rows):
            if row.panel is not None:
                if k:
                    lines.append(r"\addlinespace")
                lines.append(rf"\multicolumn{{{n}}}{{l}}{{\textit{{{_tex(row.panel)}}}}} \\")
            else:
                lines.append(" & ".join(_tex(c.text) for c in row.cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
    notes = _notes(table)
    if notes:
        lines += [r"\begin{tablenotes}[flushleft]", r"\footnotesize"]
        lines += [rf"\item {_tex(note)}" for note in notes]
        lines.append(r"\end{tablenotes}")
    lines += [r"\end{threeparttable}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# -- files -------------------------------------------------------------------------------------
def write_table(table: Table, out_dir: str | Path, formats: Sequence[str] = FORMATS, number: int | None = None,
                word: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``table`` as ``<out_dir>/<key>.<format>`` for each format (atomic writes); ``word``:
    the Word options (``template``, ``paper``) of :func:`pipeline.render.word.docx_table`."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise PipelineError(f"unknown table formats {unknown}", f"use some of {list(FORMATS)} (params.yaml: report.formats)")
    out_dir = Path(out_dir)
    paths = []
    for fmt in formats:
        path = out_dir / f"{table.key}.{fmt}"
        if fmt == "csv":
            write_text(path, csv_text(table))
        elif fmt == "md":
            write_text(path, markdown(table, number))
        elif fmt == "html":
            write_text(path, html_page(table, number))
        elif fmt == "tex":
            write_text(path, latex(table, number))
        else:
            from pipeline.render.word import docx_table   # word.py builds on this module

            write_bytes(path, docx_table(table, number, **(word or {})))
        paths.append(path)
    return paths

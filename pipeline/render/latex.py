"""The publication tables in LaTeX: booktabs rules (三线表), notes under the table, numbers aligned
on the decimal point (siunitx ``S`` columns), text columns that wrap (``X`` columns), tables of
more than :data:`LONG_ROWS` rows that run over pages (``longtable``/``xltabular`` with the header
repeated), the widest on a landscape page.

Every package a table uses is loaded by one preamble, ``latex_preamble.tex`` beside this module
(written with the tables as ``reports/tables/preamble.tex``, :func:`preamble`); a document that
``\\input``\\s it and the tables compiles with xelatex (Chinese tables: with ``ctex``, which the
preamble of a Chinese report loads). ``tests/test_latex.py`` compiles every table of the demo study.

Text is escaped character by character (:func:`tex_escape`): LaTeX's special characters, a minus
sign before a number, the en and em dash, and the few symbols the tables use that neither Latin
Modern nor the Chinese fonts carry in text (Greek letters, ×, ✓, →, ≤ ...) as math.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pipeline.render import locale
from pipeline.render.table import NUMBER, ColumnShape, Table, _notes, column_shapes, display_width, number_atoms

PREAMBLE = Path(__file__).with_name("latex_preamble.tex")
LONG_ROWS = 25          # a table of more rows is a longtable (breaks across pages, header repeated)
TEXT_X_EM = 14.0        # a text column wider than this (em) wraps in an X column
# Font sizes (command, pt) a table may be set in, the lines it must fit (pt: a 15.6 cm portrait line,
# a 22.5 cm landscape one, both a little under A4 with 25 mm margins), \tabcolsep on both sides of a
# column (pt, whatever the size).
SIZES = (("", 10.5), (r"\small", 9.0), (r"\footnotesize", 8.0), (r"\scriptsize", 7.0))
LINE_PT = (445.0, 640.0)
COLUMN_PAD_PT = 12.0
X_MIN_EM = 6.0          # the narrowest an X column may be
HEAD_MIN_EM = 3.0       # a head wrapped over a narrow column is at least this wide

# Characters with a meaning to LaTeX, dashes, and symbols set in math (the text fonts lack them).
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
        "|": r"\textbar{}", "[": "{[}", "]": "{]}", "\n": " ", "\t": " ", "\r": " ",
        "–": "--", "—": "---", "−": r"\ensuremath{-}", "·": r"\textperiodcentered{}", "²": r"\textsuperscript{2}",
        "³": r"\textsuperscript{3}", "✓": r"\ensuremath{\checkmark}", "×": r"\ensuremath{\times}",
        "±": r"\ensuremath{\pm}", "≤": r"\ensuremath{\leq}", "≥": r"\ensuremath{\geq}", "≠": r"\ensuremath{\neq}",
        "≈": r"\ensuremath{\approx}", "→": r"\ensuremath{\rightarrow}", "÷": r"\ensuremath{\div}", "†": r"\ensuremath{\dagger}", "‡": r"\ensuremath{\ddagger}", "′": r"\ensuremath{'}", "∞": r"\ensuremath{\infty}",
        "α": r"\ensuremath{\alpha}", "β": r"\ensuremath{\beta}", "γ": r"\ensuremath{\gamma}", "δ": r"\ensuremath{\delta}",
        "ε": r"\ensuremath{\varepsilon}", "η": r"\ensuremath{\eta}", "θ": r"\ensuremath{\theta}", "κ": r"\ensuremath{\kappa}",
        "λ": r"\ensuremath{\lambda}", "μ": r"\ensuremath{\mu}", "ρ": r"\ensuremath{\rho}", "σ": r"\ensuremath{\sigma}",
        "τ": r"\ensuremath{\tau}", "φ": r"\ensuremath{\phi}", "χ": r"\ensuremath{\chi}", "ψ": r"\ensuremath{\psi}",
        "ω": r"\ensuremath{\omega}", "Δ": r"\ensuremath{\Delta}", "Σ": r"\ensuremath{\Sigma}", "Ω": r"\ensuremath{\Omega}"}


def _is_minus(text: str, i: int) -> bool:
    """A hyphen at ``i`` is a minus sign when a number follows it and no word, number or dash
    precedes it ("-0.5", "[-0.12, 0.3]"; not "R-2", "1-2", nor the second hyphen of "--")."""
    before = text[i - 1] if i else " "
    after = text[i + 1:i + 3]
    starts_number = after[:1].isdigit() or (after[:1] == "." and after[1:2].isdigit())
    return starts_number and not (before.isalnum() or before in "._-–—")


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def tex_escape(text: str) -> str:
    """``text`` as LaTeX text: special characters escaped, "-" before a number a minus sign,
    "–" an en dash ("24.6–58.4" stays a range), symbols the text fonts lack in math."""
    out = []
    for i, ch in enumerate(text):
        if ch == "-" and _is_minus(text, i):
            out.append(r"\ensuremath{-}")
        elif ch == " " and 0 < i < len(text) - 1 and _wide(text[i - 1]) and _wide(text[i + 1]):
            out.append("\\ ")   # xeCJK drops a plain space between Chinese words ("方便 帮着")
        else:
            out.append(_TEX.get(ch, ch))
    result = "".join(out)
    return "{}" + result if result.startswith("*") else result   # "\\*" after a row would be a command


def _tail(text: str) -> str:
    """A number's bracket or stars, braced as text in an S column."""
    return "{" + "".join(_TEX.get(ch, ch) for ch in text) + "}" if text else ""


def has_cjk(tables: Sequence[Table]) -> bool:
    """Whether any table shows Chinese (or other wide) characters: topic words of Chinese
    interviews in an English report, say."""
    texts = (x for t in tables for x in (t.caption, *t.notes, *(c.text for r in t.header for c in r),
                                         *(c.text for c in t.cells()), *(r.panel or "" for r in t.rows)))
    return any(_wide(ch) for text in texts for ch in text)


def preamble(lang: str, cjk: bool = False) -> str:
    """The preamble of every table: :data:`PREAMBLE`, with ``ctex`` for a Chinese report (Chinese
    captions, 表 1), or for Chinese words in another language's report (``cjk``: ``scheme=plain``,
    the fonts and line breaking without the Chinese captions)."""
    text = PREAMBLE.read_text(encoding="utf-8")
    if lang == "zh":
        ctex = "\\usepackage[UTF8]{ctex}              % Chinese text, Chinese captions (a Chinese report)\n"
    elif cjk:
        ctex = "\\usepackage[UTF8, scheme=plain]{ctex} % Chinese words in the tables of a report in another language\n"
    else:
        ctex = ""
    return text.replace("%%CTEX%%\n", ctex)


# -- columns -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """How a table is set: a column spec and an estimated width (em) per column, ``size`` (a
    font size command or ""), ``long`` (over pages), ``landscape``, ``stacked`` columns."""

    specs: tuple[str, ...]
    widths: tuple[float, ...]
    size: str
    long: bool
    landscape: bool
    stacked: frozenset[int] = frozenset()   # columns whose cells of several numbers stand one above the other

    @property
    def s_columns(self) -> set[int]:
        return {j for j, spec in enumerate(self.specs) if spec.startswith("S")}

    @property
    def has_x(self) -> bool:
        return any(spec.endswith("X") for spec in self.specs)


def _s_format(table: Table, j: int) -> tuple[str, int]:
    """The siunitx ``table-format`` of numeric column ``j`` (sign, integer and decimal digits, room
    for an opening bracket before and a tail after: stars, a closing bracket), and its characters."""
    ints, decs, sign, pre, post = 1, 0, False, "", ""
    for row in table.rows:
        if row.panel is not None:
            continue
        m = NUMBER.fullmatch(row.cells[j].text.strip())
        if not m:
            continue
        number = m.group("num")
        sign = sign or number.startswith("-")
        whole, _, frac = number.lstrip("-").partition(".")
        ints, decs = max(ints, len(whole)), max(decs, len(frac))
        pre = max(pre, m.group("pre"), key=len)
        post = max(post, m.group("post"), key=len)
    fmt = f"{'-' if sign else ''}{ints}" + (f".{decs}" if decs else "")
    return _tail(pre) + fmt + _tail(post), len(pre) + sign + ints + (decs + 1 if decs else 0) + len(post)


def layout(table: Table) -> Layout:
    """Column specs: ``S[table-format=...]`` for numbers alone (aligned on the decimal point), ``r``
    for cells of several numbers (an estimate and its interval), ``l`` for short text, ``X`` (ragged
    right, weighted by the square root of its longest cell) for text past :data:`TEXT_X_EM`. The
    font size and the landscape page follow from the estimated widths (:func:`_fit`); a table too
    wide for a landscape line stacks the numbers of its several-number cells."""
    shapes = column_shapes(table)
    x_columns = [j for j, sh in enumerate(shapes) if not sh.numeric and sh.width > TEXT_X_EM]
    raw = {j: min(shapes[j].width, 60.0) ** 0.5 for j in x_columns}
    weights = {j: len(raw) * v / sum(raw.values()) for j, v in raw.items()}
    specs = []
    for j, sh in enumerate(shapes):
        if sh.numeric and sh.single:
            specs.append(f"S[table-format={_s_format(table, j)[0]}]")
        elif j in weights:
            specs.append(rf">{{\raggedright\arraybackslash\hsize={weights[j]:.2f}\hsize}}X")
        else:
            specs.append("r" if sh.numeric else "l")
    x = [j in weights for j in range(len(shapes))]
    widths = _widths(table, shapes, x, frozenset())
    size, landscape = _fit(widths, x)
    stacked: frozenset[int] = frozenset()
    if size is None:
        stacked = frozenset(j for j, sh in enumerate(shapes) if sh.numeric and sh.atoms)
        widths = _widths(table, shapes, x, stacked)
        size, landscape = _fit(widths, x)
    return Layout(tuple(specs), tuple(widths), SIZES[-1][0] if size is None else size, len(table.rows) > LONG_ROWS or landscape,
                  landscape, stacked)


def _widths(table: Table, shapes: Sequence[ColumnShape], x: Sequence[bool], stacked: frozenset[int]) -> list[float]:
    """The estimated width (em) of each column: its widest cell (an S column: its table-format; an
    X column: at most 20 em; a stacked column: its widest number), and no narrower than the longest
    unbreakable piece of its head."""
    widths = []
    for j, sh in enumerate(shapes):
        if sh.numeric and sh.single:
            widths.append(0.5 * _s_format(table, j)[1])
        elif j in stacked:
            widths.append(max((display_width(a) for r in table.rows if r.panel is None
                               for a in number_atoms(r.cells[j].text)), default=0.0))
        else:
            widths.append(min(sh.width, 20.0) if x[j] else sh.width)
    for hrow in table.header:
        j = 0
        for c in hrow:
            if c.span == 1 and not x[j]:
                widths[j] = max(widths[j], _unbreakable(c.text))
            j += c.span
    return widths


def _fit(widths: Sequence[float], x: Sequence[bool]) -> tuple[str | None, bool]:
    r"""The font size and orientation of a table: the first of these that fits, the columns
    being ``widths`` em of the size plus ``\tabcolsep`` on each side: portrait at the body
    size, ``\small`` or ``\footnotesize`` with X columns at their preferred width, portrait
    ``\footnotesize`` with them at :data:`X_MIN_EM`; the same on a landscape page, then landscape
    ``\scriptsize``. None when nothing fits."""
    pad = COLUMN_PAD_PT * len(widths)
    preferred = sum(widths)
    narrowest = sum(X_MIN_EM if is_x else w for w, is_x in zip(widths, x))
    for landscape, line in ((False, LINE_PT[0]), (True, LINE_PT[1])):
        for command, pt in SIZES[:3]:
            if preferred * pt + pad <= line:
                return command, landscape
        for command, pt in SIZES[2:] if landscape else SIZES[2:3]:
            if narrowest * pt + pad <= line:
                return command, landscape
    return None, True


def _unbreakable(text: str) -> float:
    """The width (em) of the longest piece of ``text`` no line may break: a Latin word with the
    brackets around it ("（NPMI）", "organisation"); Chinese breaks between any two characters."""
    pieces = re.findall(r"[^\s\u3000-\u303f\u3400-\u9fff]+", text)
    return max([display_width(w) + 0.5 for w in pieces], default=0.0)


def _stack(text: str) -> str:
    """A cell of several numbers, one above the other (a stacked column)."""
    atoms = number_atoms(text)
    if len(atoms) < 2:
        return tex_escape(text)
    return r"\begin{tabular}[t]{@{}r@{}}" + r" \\ ".join(tex_escape(a) for a in atoms) + r"\end{tabular}"


def _cell(text: str, s_column: bool) -> str:
    """A body cell; in an S column a number goes to siunitx as it is, its brackets and stars
    braced as text, anything else (an empty cell, a dash) braced whole."""
    if s_column:
        m = NUMBER.fullmatch(text.strip())
        if m is None:
            return "{" + tex_escape(text) + "}" if text.strip() else ""
        return _tail(m.group("pre")) + m.group("num") + _tail(m.group("post"))
    return tex_escape(text)


def _head_cell(text: str, span: int, first: int, lay: Layout) -> str:
    """A head over columns ``first`` .. ``first + span - 1``: as it is over a text column; centred
    over numbers and spanned columns; wrapped (a centred ``p`` column as wide as the columns
    beneath) when it is wider than they are, so a long head does not widen a column of numbers."""
    cols = range(first, first + span)
    if span == 1 and lay.specs[first][0] in "lX>":
        return tex_escape(text)
    below = sum(lay.widths[k] for k in cols) + 1.2 * (span - 1)
    if display_width(text) > below + 0.5 and not any(lay.specs[k].endswith("X") for k in cols):
        width = max(below, HEAD_MIN_EM, _unbreakable(text))
        return rf"\multicolumn{{{span}}}{{>{{\centering\arraybackslash}}p{{{width:.1f}em}}}}{{{tex_escape(text)}}}"
    return rf"\multicolumn{{{span}}}{{c}}{{{tex_escape(text)}}}"


def _head_lines(table: Table, lay: Layout) -> list[str]:
    lines = []
    for i, hrow in enumerate(table.header):
        cells, rules, j = [], [], 0
        for c in hrow:
            cells.append(_head_cell(c.text, c.span, j, lay))
            if i < len(table.header) - 1 and c.text:
                rules.append(rf"\cmidrule(lr){{{j + 1}-{j + c.span}}}")
            j += c.span
        lines.append(" & ".join(cells) + r" \\")
        if rules:
            lines.append(" ".join(rules))
    return lines


def _body_lines(table: Table, lay: Layout) -> list[str]:
    lines, s_columns = [], lay.s_columns
    for k, row in enumerate(table.rows):
        if row.panel is not None:
            if k:
                lines.append(r"\addlinespace")
            lines.append(rf"\multicolumn{{{table.n_columns}}}{{l}}{{\textit{{{tex_escape(row.panel)}}}}} \\")
        else:
            lines.append(" & ".join(_stack(c.text) if j in lay.stacked else _cell(c.text, j in s_columns)
                                    for j, c in enumerate(row.cells)) + r" \\")
    return lines


# -- tables ------------------------------------------------------------------------------------
def latex(table: Table, number: int | None = None) -> str:
    """The table as LaTeX for the preamble of :func:`preamble`: a floating ``table`` with
    ``threeparttable`` notes, or, past :data:`LONG_ROWS` rows or on a landscape page, a
    ``longtable`` (``xltabular`` when it has text to wrap) in a ``ThreePartTable``, its header
    repeated on every page. ``number`` is unused: LaTeX numbers the tables in their order."""
    del number
    if not table.rows:
        return _float(table, None)
    lay = layout(table)
    body = _long(table, lay) if lay.long else _float(table, lay)
    return "\\begin{landscape}\n" + body + "\\end{landscape}\n" if lay.landscape else body


def _notes_lines(table: Table) -> list[str]:
    return [rf"\item {tex_escape(note)}" for note in _notes(table)]


def _float(table: Table, lay: Layout | None) -> str:
    lines = [r"\begin{table}[htbp]", r"\centering"] + ([lay.size] if lay and lay.size else []) + [
        r"\begin{threeparttable}", rf"\caption{{{tex_escape(table.caption)}}}", rf"\label{{tab:{table.key}}}"]
    if lay is not None:
        spec = "".join(lay.specs)
        begin = rf"\begin{{tabularx}}{{\linewidth}}{{{spec}}}" if lay.has_x else rf"\begin{{tabular}}{{{spec}}}"
        lines += [begin, r"\toprule", *_head_lines(table, lay), r"\midrule", *_body_lines(table, lay),
                  r"\bottomrule", r"\end{tabularx}" if lay.has_x else r"\end{tabular}"]
    notes = _notes_lines(table)
    if notes:
        lines += [r"\begin{tablenotes}[flushleft]", r"\footnotesize", *notes, r"\end{tablenotes}"]
    lines += [r"\end{threeparttable}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _long(table: Table, lay: Layout) -> str:
    """A table over pages: the caption and header on the first page, "(continued)" and the header
    on the next ones, the bottom rule on each, the notes after the last row."""
    spec = "".join(lay.specs)
    env = "xltabular" if lay.has_x else "longtable"
    begin = rf"\begin{{xltabular}}{{\linewidth}}{{{spec}}}" if lay.has_x else rf"\begin{{longtable}}{{{spec}}}"
    head = _head_lines(table, lay)
    continued = locale.text("tables.continued", table.lang)
    notes = _notes_lines(table)
    lines = ["\\begingroup"] + ([lay.size] if lay.size else []) + [r"\begin{ThreePartTable}"]
    if notes:
        lines += [r"\begin{TableNotes}[flushleft]", r"\footnotesize", *notes, r"\end{TableNotes}"]
    lines += [begin, rf"\caption{{{tex_escape(table.caption)}}}\label{{tab:{table.key}}} \\",
              r"\toprule", *head, r"\midrule", r"\endfirsthead",
              rf"\multicolumn{{{table.n_columns}}}{{l}}{{\tablename\ \thetable{{}} {tex_escape(continued)}}} \\",
              r"\toprule", *head, r"\midrule", r"\endhead",
              r"\bottomrule", r"\endfoot",
              r"\bottomrule"] + ([r"\insertTableNotes \\"] if notes else []) + [
              r"\endlastfoot", *_body_lines(table, lay), rf"\end{{{env}}}", r"\end{ThreePartTable}", "\\endgroup"]
    return "\n".join(lines) + "\n"

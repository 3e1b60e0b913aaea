"""The appendix table that maps every table and figure of the report to the stage and the files
that made it, in the report's language (the one place of the report that names files).

A table's files are read off its own cells: every number a table shows carries its
:class:`~pipeline.render.table.Source` (a path under ``processed/``), so the list cannot drift
from what the table shows. A figure names the tidy files it is drawn from. Pure functions.
"""
from __future__ import annotations

import re
from typing import Sequence

from pipeline.render import locale
from pipeline.render.table import Cell, HeaderCell, Row, Table, table_number
from pipeline.render.tables.plan import NEEDS
from pipeline.render.tables.results import INPUTS, PARQUETS

KEY = "appendix_sources"
# Where a tidy file comes from when INPUTS does not say (files the report reads beside them).
MORE = {"models/hypotheses.csv": "models", "models/predictions.csv": "models",
        "topics/prevalence_levels.csv": "topics"}


def stage_of(file: str) -> str:
    """The stage that writes ``file`` (a path under processed/)."""
    if file.startswith("integrate/"):
        return "integrate"
    return {**INPUTS, **PARQUETS, **MORE}.get(file, file.split("/", 1)[0] if "/" in file else "survey")


def table_files(table: Table) -> list[str]:
    """The tidy files of the numbers ``table`` shows, in order of first use."""
    return list(dict.fromkeys(s.file for c in table.cells() for s in c.sources))


def sources_table(tables: Sequence[Table], figures: Sequence[tuple[str, str, Sequence[str]]],
                  lang: str, extra: Sequence[tuple[str, str, str]] = ()) -> Table:
    """One row per table (its number, caption, stage(s), files under processed/ and the report's
    files of it) and per figure (``figures``: key, caption, its tidy files, in report order);
    ``extra``: (what, stage, file) rows of other outputs (the full codebook)."""
    words = locale.phrases("report", lang)
    stages = words["prov"]["stages"]
    sep = locale.text("tables.word_separator", lang)

    def stage_names(files: Sequence[str]) -> str:
        ids = list(dict.fromkeys(stage_of(f) for f in files))
        return sep.join(words["sources_stage"].format(stage=stages.get(i, i), id=i) for i in ids)

    rows = []
    for t in tables:
        name = re.sub(r"^table\d+_", "", t.key)
        files = list(dict.fromkeys([*table_files(t), *NEEDS.get(name, ())]))
        number = table_number(t)
        what = locale.text("tables.table_title", lang, number=number, caption=t.caption) if number else t.caption
        rows.append(Row((Cell(what), Cell(stage_names(files)), Cell(sep.join(f"processed/{f}" for f in files)),
                         Cell(f"reports/tables/{t.key}.*"))))
    for i, (key, caption, files) in enumerate(figures, start=1):
        rows.append(Row((Cell(f"{words['figure'].format(n=i)} {caption}"), Cell(stage_names(files)),
                         Cell(sep.join(f"processed/{f}" for f in files)), Cell(f"reports/figures/{key}.*"))))
    for what, stage, file in extra:
        rows.append(Row((Cell(what), Cell(words["sources_stage"].format(stage=stages.get(stage, stage), id=stage)),
                         Cell(""), Cell(file))))
    head = tuple(HeaderCell(c) for c in words["sources_cols"])
    return Table(key=KEY, caption=words["sections"]["sources"], header=(head,), rows=tuple(rows),
                 notes=(words["sources_note"],), label_columns=len(head), lang=lang)

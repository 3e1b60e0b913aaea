"""The joint display as a publication table (the last table of the report), from the integrate
stage's ``processed/integrate/joint_display.csv``."""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from pipeline.render import locale
from pipeline.render import table as render
from pipeline.render.tables.cells import fmt


def joint_table(joint: pd.DataFrame, lang: str, factor_labels: Mapping[str, str],
                value_labels: Mapping[str, Mapping[Any, str]], decimals: int = 3,
                key: str = "table18_joint_display") -> render.Table:
    """The joint display as a publication table; every number links to
    ``integrate/joint_display.csv`` (processed/integrate/, written by the integrate stage). The text
    columns (hypothesis, theme, contrast, quotes) come first, the numbers after them, the verdict last."""
    file = "integrate/joint_display.csv"
    cols = locale.text("report.joint_cols", lang)
    rows = []
    for r in joint.itertuples(index=False):
        sel = (("row", r.row),)

        def cell(*pairs: tuple[str, float], template: str) -> render.Cell:
            if any(pd.isna(v) for _, v in pairs):
                return render.Cell("—")
            shown = [fmt(v, decimals) for _, v in pairs]
            return render.Cell(template.format(*shown), tuple(render.Source(file, sel, c, float(v)) for c, v in pairs),
                               numeric=True)

        labels = value_labels.get(r.factor, {})

        def lab(x: str) -> str:
            return str(labels.get(int(x) if x.lstrip("-").isdigit() else x, x))

        refs = " / ".join(lab(x) for x in str(r.reference).split(","))
        contrast = f"{factor_labels.get(r.factor, r.factor)}: {lab(str(r.level))} vs {refs}"
        quotes = " ".join(f"“{q}” [{i}]" for q, i in ((r.quote1, r.quote1_id), (r.quote2, r.quote2_id)) if q)
        rows.append(render.Row((
            render.Cell(f"{r.hypothesis} ({r.model}, {r.term}): {r.claim}"), render.Cell(r.theme_label),
            render.Cell(contrast), render.Cell(quotes),
            cell(("estimate", r.estimate), ("conf_low", r.conf_low), ("conf_high", r.conf_high), template="{} [{}, {}]"),
            cell(("share_level", r.share_level), ("share_reference", r.share_reference), template="{} / {}"),
            cell(("difference", r.difference), ("diff_low", r.diff_low), ("diff_high", r.diff_high), template="{} [{}, {}]"),
            render.Cell(locale.text(f"report.verdicts.{r.verdict}", lang)))))
    return render.Table(key=key, caption=locale.text("report.joint_caption", lang),
                        header=((*(render.HeaderCell(c) for c in cols),),), rows=tuple(rows),
                        notes=(locale.text("report.joint_note", lang),), label_columns=4, lang=lang)

"""The joint display as a publication table (the last table of the report), from the integrate
stage's ``processed/integrate/joint_display.csv`` (and ``joint_unpaired.csv``: the hypotheses no
interview contrast tests, named in a note)."""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from pipeline.render import locale
from pipeline.render import table as render
from pipeline.render.tables.cells import fmt


def _quotes(r: Any, lang: str, role_labels: Mapping[str, Any]) -> str:
    """The row's quotes, each with the speaker's role and the unit id a reader finds it by."""
    out = []
    for j in range(1, 10):
        text, uid = getattr(r, f"quote{j}", None), getattr(r, f"quote{j}_id", None)
        if text is None:
            break
        if not text:
            continue
        role = str(getattr(r, f"quote{j}_role", "") or "")
        label = role_labels.get(role, role)
        label = (label.get(lang) or next(iter(label.values()))) if isinstance(label, Mapping) else str(label)
        out.append(locale.text("report.joint_quote", lang, text=text, role=label or "—", id=uid))
    return " ".join(out) if out else locale.text("report.joint_no_quote", lang)


def joint_table(joint: pd.DataFrame, lang: str, factor_labels: Mapping[str, str],
                value_labels: Mapping[str, Mapping[Any, str]], decimals: int = 3,
                key: str = "table18_joint_display", role_labels: Mapping[str, Any] | None = None,
                model_columns: Mapping[str, tuple[int, str]] | None = None,
                unpaired: pd.DataFrame | None = None, term_labels: Mapping[str, str] | None = None) -> render.Table:
    """The joint display as a publication table; every number links to
    ``integrate/joint_display.csv`` (processed/integrate/, written by the integrate stage). The text
    columns (hypothesis and claim, theme and stance, contrast, quotes) come first, the numbers after
    them, the verdict last. ``model_columns``: model id -> (table number, column label), so the
    hypothesis names the regression table column and the term it is read off (no model ids;
    ``term_labels``: term -> label, an interaction's parts joined by " × ");
    ``role_labels``: params.yaml report.role_labels; ``unpaired``: hypothesis, reason."""
    file = "integrate/joint_display.csv"
    words = locale.phrases("report", lang)
    model_columns = model_columns or {}
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

        refs = locale.text("tables.word_separator", lang).join(lab(x) for x in str(r.reference).split(","))
        contrast = words["joint_contrast"].format(factor=factor_labels.get(r.factor, r.factor), level=lab(str(r.level)),
                                                  reference=refs)
        where = model_columns.get(str(r.model))
        term = " × ".join((term_labels or {}).get(p, p) for p in str(r.term).split(":"))
        source = (words["joint_model_column"].format(table=where[0], column=where[1], term=term) if where
                  else words["joint_bootstrap"])
        theme = r.theme_label + (words["joint_stance"].format(stance=r.stance_label)
                                 if getattr(r, "stance_label", "") else "")
        rows.append(render.Row((
            render.Cell(words["joint_hypothesis"].format(hypothesis=r.hypothesis, claim=r.claim, source=source)),
            render.Cell(theme), render.Cell(contrast), render.Cell(_quotes(r, lang, role_labels or {})),
            cell(("estimate", r.estimate), ("conf_low", r.conf_low), ("conf_high", r.conf_high), template="{} [{}, {}]"),
            cell(("share_level", r.share_level), ("share_reference", r.share_reference), template="{} / {}"),
            cell(("difference", r.difference), ("diff_low", r.diff_low), ("diff_high", r.diff_high), template="{} [{}, {}]"),
            render.Cell(words["verdicts"][r.verdict]))))
    notes = [words["joint_note"], words["joint_verdict_note"], words["joint_quote_note"]]
    if unpaired is not None and len(unpaired):
        sep = locale.text("tables.list_separator", lang)
        notes.append(words["joint_unpaired"].format(list=sep.join(
            words["joint_unpaired_item"].format(hypothesis=h, reason=why)
            for h, why in zip(unpaired["hypothesis"], unpaired["reason"]))))
    return render.Table(key=key, caption=words["joint_caption"],
                        header=((*(render.HeaderCell(c) for c in words["joint_cols"]),),), rows=tuple(rows),
                        notes=tuple(notes), label_columns=4, lang=lang)

"""The cells of a table: numbers linked to their tidy source, text, labels, the tables' words."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument
from pipeline.render import locale
from pipeline.render.table import Cell, HeaderCell, Source, Table
from pipeline.render.tables.results import Results


def _t(key: str, lang: str, **kw: Any) -> str:
    """One of the tables' own words (:mod:`pipeline.render.locale`, section ``tables``)."""
    return locale.text(f"tables.{key}", lang, **kw)


def _variable(instrument: Instrument, name: str):
    return instrument.variables.get(name) or instrument.community_variables.get(name)


def fmt(value: float, decimals: int) -> str:
    """Fixed decimals; no "-0.000"."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)) or v is pd.NA


def source(results: Results, file: str, row: Mapping[str, Any], column: str, scale: float = 1.0) -> Source | None:
    """The Source of ``column`` in the one row of ``results[file]`` that ``row`` selects
    (None if the value is missing)."""
    df = results[file]
    mask = np.ones(len(df), dtype=bool)
    for col, val in row.items():
        mask &= (df[col].astype(str) == str(val)).to_numpy()
    hit = df.loc[mask]
    if len(hit) != 1:
        raise PipelineError(f"{file}: {len(hit)} rows match {dict(row)}, expected one",
                            "the tidy results have duplicate or missing keys; re-run the stage that writes them")
    value = hit.iloc[0][column]
    if _isnan(value):
        return None
    return Source(file, tuple((k, str(v)) for k, v in row.items()), column, float(value), scale)


def num(*sources: Source | None, decimals: int, template: str = "{}", stars: Source | None = None,
        thresholds: Sequence[float] = (), p_style: bool = False) -> Cell:
    """A cell showing ``sources`` (in order) in ``template`` with fixed decimals; an empty cell if
    any source is missing. ``stars`` appends one star per threshold the p value is below;
    ``p_style`` shows values under 10^-decimals as "<0.001"."""
    if not sources or any(s is None for s in sources):
        return Cell("")
    parts = []
    for s in sources:
        v = s.value * s.scale
        if p_style and v < 10 ** -decimals:
            parts.append("<" + fmt(10 ** -decimals, decimals))
        else:
            parts.append(fmt(v, decimals))
    text = template.format(*parts)
    if stars is not None:
        text += "*" * sum(stars.value < t for t in thresholds)
    return Cell(text, sources=tuple(sources), stars=stars, numeric=True)


def text(value: str) -> Cell:
    return Cell(value)


def _absent(key: str, caption: str, what: str, hint: str, lang: str) -> Table:
    return Table(key=key, caption=caption, header=(), rows=(), skipped=_t("absent", lang, what=what, hint=hint), lang=lang)


def _need(results: Results, files: Sequence[str]) -> list[str]:
    return [f for f in files if f not in results]


def _header(*rows: Sequence[str | tuple[str, int]]) -> tuple[tuple[HeaderCell, ...], ...]:
    return tuple(tuple(HeaderCell(c) if isinstance(c, str) else HeaderCell(*c) for c in row) for row in rows)


def _star_legend(settings: Mapping[str, Any]) -> str:
    parts = [f"{'*' * (i + 1)} p < {t:g}" for i, t in enumerate(settings["stars"])]
    return _t("stars_note", settings["lang"], legend=", ".join(parts))


def value_label(instrument: Instrument, name: str, code: Any, lang: str) -> str:
    var = _variable(instrument, name)
    try:
        return var.value_labels(lang).get(int(float(code)), str(code)) if var else str(code)
    except ValueError:
        return str(code)


def term_label(term: str, instrument: Instrument, settings: Mapping[str, Any]) -> str:
    """A model term in words: report.term_labels, then the instrument's variable or scale label;
    interactions as "a × b"; cut points "1|2" as they are."""
    lang = settings["lang"]
    custom = settings.get("term_labels") or {}
    if term in custom:
        lab = custom[term]
        return lab.get(lang) or next(iter(lab.values())) if isinstance(lab, Mapping) else str(lab)
    if term == "Intercept":
        return _t("intercept", lang)
    if ":" in term:
        return " × ".join(term_label(t, instrument, settings) for t in term.split(":"))
    if term in instrument.scales:
        return instrument.scales[term].label.get(lang, term)
    var = _variable(instrument, term)
    return var.label_in(lang) if var else term

"""The cells of a table: numbers linked to their tidy source, text, labels, the tables' words."""
from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument
from pipeline.render import locale
from pipeline.render.table import Cell, HeaderCell, Source, Table
from pipeline.render.tables.results import Results, matching_rows


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
    hit = matching_rows(df, row.items())
    if len(hit) != 1:
        raise PipelineError(f"{file}: {len(hit)} rows match {dict(row)}, expected one",
                            "the tidy results have duplicate or missing keys; re-run the stage that writes them")
    value = df[column].iloc[hit[0]]
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


_CUT = re.compile(r"\s*([^|:]+?)\s*\|\s*([^|:]+?)\s*")           # an ordered model's cut point "1|2"
_LEVEL = re.compile(r"C\((\w+)\)\[T\.([^\]]+)\]")                     # a treatment-coded level "C(x)[T.2]"
_INDICATOR = re.compile(r"\s*(\w+)\s*==\s*(-?\d+)\s*")                # models.derived "var == code"
_NOT = re.compile(r"\s*1\s*-\s*(\w+)\s*")                             # models.derived "1 - var"


def term_label(term: str, instrument: Instrument, settings: Mapping[str, Any]) -> str:
    """A model term in words: report.term_labels, then the instrument's variable or scale label;
    interactions as "a × b"; a cut point "1|2" as "between 1 and 2" (the two answer codes); a
    level "C(x)[T.2]" as "x: <label of 2>"."""
    lang = settings["lang"]
    custom = settings.get("term_labels") or {}
    if term in custom:
        lab = custom[term]
        return lab.get(lang) or next(iter(lab.values())) if isinstance(lab, Mapping) else str(lab)
    if term == "Intercept":
        return _t("intercept", lang)
    cut = _CUT.fullmatch(term)
    if cut:
        return _t("cut_between", lang, a=cut[1], b=cut[2])
    if ":" in term:
        return " × ".join(term_label(t, instrument, settings) for t in term.split(":"))
    level = _LEVEL.fullmatch(term)
    if level:
        return _t("level_of", lang, var=term_label(level[1], instrument, settings),
                  level=value_label(instrument, level[1], level[2], lang))
    if term in instrument.scales:
        return instrument.scales[term].label.get(lang, term)
    var = _variable(instrument, term)
    return var.label_in(lang) if var else term


def _coding(name: str, instrument: Instrument, settings: Mapping[str, Any]) -> tuple[str, ...] | None:
    """How a model variable is coded, for the reference-category note: ``("self", reference)`` for a
    models.derived indicator (``var == code``: every other label of var; ``1 - var``: var at 1),
    ``("indicator", level, reference)`` for an instrument variable with two labelled codes (the
    higher code against the lower), ``("linear", low, high)`` for a labelled variable of more
    codes entered as a score, or None (a scale, a count, a share: nothing to say)."""
    lang = settings["lang"]
    sep = _t("word_separator", lang)
    expr = str((settings.get("derived") or {}).get(name, ""))
    match = _INDICATOR.fullmatch(expr)
    var = _variable(instrument, match[1]) if match else None
    if var is not None and var.values and int(match[2]) in var.values:
        labels = var.value_labels(lang)
        return "self", sep.join(v for c, v in sorted(labels.items()) if c != int(match[2]))
    match = _NOT.fullmatch(expr)
    var = _variable(instrument, match[1]) if match else None
    if var is not None and sorted(var.values) == [0, 1]:
        return "self", _t("variable_is", lang, var=var.label_in(lang), level=var.value_labels(lang)[1])
    var = None if expr else _variable(instrument, name)
    if var is None or not var.values:
        return None
    labels = var.value_labels(lang)
    low, high = min(labels), max(labels)
    if len(labels) == 2:
        return "indicator", labels[high], labels[low]
    return "linear", str(low), str(high)


def _code(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def reference_note(terms: Sequence[str], instrument: Instrument, settings: Mapping[str, Any]) -> str | None:
    """The note that states the reference category of every indicator among the model ``terms``
    (interaction parts included; a treatment-coded ``C(x)[T.v]``: the first level of x, the one
    not shown) and which labelled variables enter as linear scores. None when there is none."""
    lang = settings["lang"]
    names = list(dict.fromkeys(p for t in terms if t != "Intercept" and not _CUT.fullmatch(t) for p in t.split(":")))
    indicators, linear, seen = [], [], set()
    for name in names:
        level = _LEVEL.fullmatch(name)
        if level:
            if level[1] in seen:
                continue
            seen.add(level[1])
            var = _variable(instrument, level[1])
            shown = {_code(lv[2]) for t in names if (lv := _LEVEL.fullmatch(t)) and lv[1] == level[1]}
            codes = sorted(var.values) if var is not None and var.values else []
            ref = next((c for c in codes if c not in shown), None)
            if ref is not None:
                indicators.append(_t("reference_self", lang, term=term_label(level[1], instrument, settings),
                                     reference=value_label(instrument, level[1], ref, lang)))
            continue
        coding = _coding(name, instrument, settings)
        if coding is None:
            continue
        label = term_label(name, instrument, settings)
        if coding[0] == "linear":
            linear.append(_t("linear_score", lang, term=label, low=coding[1], high=coding[2]))
        elif coding[0] == "self":
            indicators.append(_t("reference_self", lang, term=label, reference=coding[1]))
        else:
            indicators.append(_t("reference_self", lang, term=_t("variable_is", lang, var=label, level=coding[1]),
                                 reference=coding[2]))
    if not indicators and not linear:
        return None
    parts = ([_t("references", lang, list=_t("list_separator", lang).join(indicators))] if indicators else []) + \
            ([_t("linear_scores", lang, list=_t("list_separator", lang).join(linear))] if linear else [])
    return "".join(parts) if lang == "zh" else " ".join(parts)

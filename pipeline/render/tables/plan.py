"""The report's tables in order, numbered, and building them all."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Mapping, Sequence

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument
from pipeline.render.table import Table

from pipeline.render.tables.cells import _t
from pipeline.render.tables.measurement import (table_cfa_fit, table_correlations, table_invariance,
                                               table_measurement_items, table_reliability)
from pipeline.render.tables.models import _model_columns, _models_table, column_label, table_icc, table_mediation
from pipeline.render.tables.results import Results
from pipeline.render.tables.settings import DEFAULTS
from pipeline.render.tables.survey import table_codebook, table_sample_characteristics, table_sample_flow
from pipeline.render.tables.text import table_agreement, table_k_selection, table_theme_frequencies, table_topics

# The report's tables in order: (section, name, builder). MODEL_TABLES stands for one regression
# table per `table` group of params.yaml models.specs (in the order the groups first appear in
# processed/models/fits.csv). Tables are numbered in this order: key "table<NN>_<name>".
MODEL_TABLES = "<model tables>"
BUILDERS: tuple[tuple[str, str, Callable[..., Table] | None], ...] = (
    ("sample", "sample_flow", table_sample_flow),
    ("sample", "sample_characteristics", table_sample_characteristics),
    ("sample", "codebook", table_codebook),
    ("measurement", "measurement_items", table_measurement_items),
    ("measurement", "reliability", table_reliability),
    ("measurement", "cfa_fit", table_cfa_fit),
    ("measurement", "invariance", table_invariance),
    ("measurement", "correlations", table_correlations),
    ("models", MODEL_TABLES, None),
    ("models", "mediation", table_mediation),
    ("models", "icc", table_icc),
    ("qualitative", "topics", table_topics),
    ("qualitative", "k_selection", table_k_selection),
    ("qualitative", "theme_frequencies", table_theme_frequencies),
    ("qualitative", "coder_agreement", table_agreement),
)
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


def model_groups(results: Results) -> list[str]:
    """The ``table`` groups of the fitted models, in the order they first appear (none when the
    models stage has not run)."""
    fits = results.get("models/fits.csv")
    if fits is None or "table" not in fits.columns:
        return []
    groups = [str(g) for g in dict.fromkeys(fits["table"].dropna().astype(str)) if str(g).strip()]
    bad = [g for g in groups if not _GROUP.fullmatch(g)]
    if bad:
        raise PipelineError(f"params.yaml: models.specs table '{bad[0]}' cannot name a table file",
                            "use letters, digits, _ and - (the caption goes in report.model_tables)")
    return groups


# The tidy inputs that make a table part of a study's report: a table whose inputs are absent (the
# study has no such stage) or empty (no scales, no CFA asked for, no models yet) is left out, and
# the report says nothing of it.
NEEDS = {
    "sample_flow": ("sample_flow.csv",), "sample_characteristics": ("integrate/sample_characteristics.csv",),
    "codebook": ("integrate/codebook.csv",), "measurement_items": ("measurement/items.csv",),
    "reliability": ("measurement/reliability.csv",), "cfa_fit": ("measurement/cfa_fit.csv",),
    "invariance": ("measurement/invariance.csv",), "correlations": ("measurement/correlations.csv",),
    "mediation": ("models/mediation.csv",), "icc": ("models/icc.csv",),
    "topics": ("topics/topics.csv", "topics/topic_words.csv"), "k_selection": ("topics/k_selection.csv",),
    "theme_frequencies": ("coding/frequencies.csv",), "coder_agreement": ("coding/agreement.csv",),
}


def has_rows(results: Results, name: str) -> bool:
    """Whether the study has the inputs of table ``name`` (see NEEDS)."""
    return all(f in results and len(results[f]) > 0 for f in NEEDS.get(name, ()))


def table_plan(results: Results) -> list[tuple[str, str, Callable[..., Table]]]:
    """(section, key, builder) of every table this study has, numbered in report order."""
    plan: list[tuple[str, str, Callable[..., Table]]] = []
    for section, name, build in BUILDERS:
        if build is None:
            plan += [(section, f"{g}_models", _models_table(g)) for g in model_groups(results)]
        elif has_rows(results, name):
            plan.append((section, name, build))
    return [(section, f"table{i:02d}_{name}", build) for i, (section, name, build) in enumerate(plan, start=1)]


def build_tables(results: Results, instrument: Instrument, settings: Mapping[str, Any]) -> list[Table]:
    """Every table, in report order; a table whose input is absent comes back with ``skipped``
    set (its note says what to run). ``results``: :func:`pipeline.render.tables.results.load_results`.
    With ``settings["simulated"]`` every table's notes end by saying its data are simulated."""
    settings = {**DEFAULTS, **settings, "decimals": {**DEFAULTS["decimals"], **(settings.get("decimals") or {})}}
    plan = table_plan(results)
    settings["model_columns"] = model_columns(results, [key for _, key, _ in plan])
    return [mark_simulated(build(results, instrument, settings, key), settings) for _, key, build in plan]


def model_columns(results: Results, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Model id -> (number of its regression table, label of its column), so another table's note
    can point a reader to a column ("Table 9, column (2)") without naming the model's id."""
    out: dict[str, tuple[int, str]] = {}
    for key in keys:
        match = re.fullmatch(r"table(\d+)_(.+)_models", key)
        if match and match[2] in model_groups(results):
            for i, m in enumerate(_model_columns(results, match[2]), start=1):
                out.setdefault(m, (int(match[1]), column_label(i)))
    return out


def mark_simulated(table: Table, settings: Mapping[str, Any]) -> Table:
    """``table`` with the simulated-data note last among its notes when ``settings["simulated"]``
    (a real study's tables are returned as they are)."""
    if not settings.get("simulated"):
        return table
    return dataclasses.replace(table, notes=(*table.notes, _t("simulated_note", table.lang)))


def table_sections(results: Results) -> dict[str, str]:
    """Table key -> report section (sample, measurement, models, qualitative)."""
    return {key: section for section, key, _ in table_plan(results)}

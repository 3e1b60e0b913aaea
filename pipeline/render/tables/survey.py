"""The tables of the sample section: sample flow, sample characteristics, codebook summary."""
from __future__ import annotations

from typing import Any, Mapping

from pipeline.core.instrument import Instrument
from pipeline.render import locale
from pipeline.render.table import Cell, Row, Table
from pipeline.render.tables.cells import _absent, _header, _need, _t, _variable, num, source, text, value_label
from pipeline.render.tables.results import Results

def table_sample_flow(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("sample_flow", lang)
    if _need(results, ["sample_flow.csv"]):
        return _absent(key, cap, "processed/sample_flow.csv", "run the survey stage", lang)
    flow = results["sample_flow.csv"]
    rows = []
    last = len(flow) - 1
    for i, r in flow.iterrows():
        sel = {"rule": r["rule"]}
        mid = 0 < i < last
        cells = [text(str(r.get(f"label_{lang}", r["rule"])))]
        cells.append(num(source(results, "sample_flow.csv", sel, "flagged"), decimals=0) if mid else text(""))
        cells.append(num(source(results, "sample_flow.csv", sel, "excluded"), decimals=0) if i > 0 else text(""))
        cells.append(num(source(results, "sample_flow.csv", sel, "remaining"), decimals=0))
        rows.append(Row(tuple(cells)))
    return Table(key, cap, _header(["", _t("flagged", lang), _t("excluded", lang), _t("remaining", lang)]),
                 tuple(rows), (_t("flow_note", lang),), lang=lang)


def table_sample_characteristics(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    group = instrument.role("group")
    gvar = _variable(instrument, group) if group else None
    cap = _t("characteristics", lang, group=gvar.label_in(lang)) if gvar else _t("characteristics_whole", lang)
    extra = 2 if gvar else 0          # the test and p columns, when there are groups to compare
    if "integrate/sample_characteristics.csv" not in results:
        return _absent(key, cap, "processed/integrate/sample_characteristics.csv", "run the integrate stage", lang)
    char, tests = results["integrate/sample_characteristics.csv"], results["integrate/sample_tests.csv"]
    groups = [g for g in dict.fromkeys(char["group"]) if g != "total"]
    d = settings["decimals"]
    k = int(settings["min_cell"])
    F = "integrate/sample_characteristics.csv"
    head = [""] + [value_label(instrument, group, g, lang) for g in groups] + [_t("total", lang), _t("test", lang), _t("p", lang)][:1 + extra]
    rows: list[Row] = []
    any_suppressed = monte_carlo = False
    for name in dict.fromkeys(char["variable"]):
        var = _variable(instrument, name)
        sub = char[char["variable"] == name]
        trow = tests[tests["variable"] == name]
        tsel = {"variable": name}
        test_cells = [text("")] * extra
        if len(trow) and extra:
            kind = trow.iloc[0]["test"]
            monte_carlo |= kind == "chi2_mc"
            statistic = (text(_t("fisher", lang)) if kind == "fisher" else
                         num(source(results, "integrate/sample_tests.csv", tsel, "statistic"), decimals=d["stat"],
                             template={"chi2": "χ² = {}", "chi2_mc": "χ² = {}†"}.get(kind, "F = {}")))
            test_cells = [statistic, num(source(results, "integrate/sample_tests.csv", tsel, "p_value"), decimals=d["p"],
                                         p_style=True)]
        if var.values:
            rows.append(Row(tuple([text(var.label_in(lang))] + [text("")] * (len(groups) + 1) + test_cells)))
            for level in dict.fromkeys(sub["level"]):
                cells = [text("  " + value_label(instrument, name, level, lang))]
                for g in groups + ["total"]:
                    r = sub[(sub["level"] == level) & (sub["group"] == g)].iloc[0]
                    if r["suppressed"]:   # one symbol: a small cell cannot be told from its complements
                        cells.append(Cell("·", suppressed=True))
                        any_suppressed = True
                    else:
                        cells.append(_n_pct(results, F, {"variable": name, "level": level, "group": g}, d["percent"]))
                rows.append(Row(tuple(cells + [text("")] * extra)))
        else:
            cells = [text(f"{var.label_in(lang)}, {_t('mean_sd', lang)}")]
            for g in groups + ["total"]:
                r = sub[sub["group"] == g].iloc[0]
                if r["suppressed"]:
                    cells.append(Cell(f"n<{k}", suppressed=True))
                    any_suppressed = True
                else:
                    sel = {"variable": name, "level": "", "group": g}
                    cells.append(num(source(results, F, sel, "mean"), source(results, F, sel, "sd"),
                                     decimals=d["mean"], template="{} ({})"))
            rows.append(Row(tuple(cells + test_cells)))
    notes = [_t("char_note", lang)]
    if monte_carlo:
        b = tests.loc[tests["test"] == "chi2_mc", "replications"].dropna()
        notes.append(_t("mc_note", lang, b=int(b.iloc[0]) if len(b) else ""))
    if any_suppressed or k > 1:
        notes.append(_t("suppression_note", lang, k=k))
    return Table(key, cap, _header(head), tuple(rows), tuple(notes), lang=lang)


def _n_pct(results: Results, file: str, sel: Mapping[str, Any], decimals: int) -> Cell:
    n = source(results, file, sel, "n")
    p = source(results, file, sel, "percent")
    if n is None or p is None:
        return num(n, decimals=0)
    a, b = num(n, decimals=0), num(p, decimals=decimals)
    return Cell(f"{a.text} ({b.text})", sources=(n, p), numeric=True)


def table_codebook(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("codebook", lang)
    if "integrate/codebook.csv" not in results:
        return _absent(key, cap, "processed/integrate/codebook.csv", "run the integrate stage", lang)
    F = "integrate/codebook.csv"
    labels = {spec["reason"]: spec.get(lang, spec["reason"]) for spec in instrument.missing_codes.values()}
    own = [c[len("missing_"):] for c in results[F].columns       # the study's own reasons (integrate: codebook_reasons)
           if c.startswith("missing_") and c not in ("missing_n", "missing_other")]
    head_top = ["", "", "", ("", 1), (_t("missing", lang), len(own) + 1)]
    head = [_t("variable_name", lang), _t("label", lang), _t("type", lang), _t("valid_n", lang),
            *(labels.get(r, r) for r in own), _t("other_missing" if own else "missing_any", lang)]
    rows = []
    types = locale.phrases("tables", lang)["types"]
    for name in results[F]["variable"]:
        sel = {"variable": name}
        var = instrument.variables[name]
        rows.append(Row((text(name), text(var.label_in(lang)), text(types.get(var.type, var.type)),
                         *(num(source(results, F, sel, c), decimals=0) for c in
                           ("valid_n", *(f"missing_{r}" for r in own), "missing_other")))))
    return Table(key, cap, _header(head_top, head), tuple(rows), (_t("codebook_note", lang),), label_columns=3, lang=lang)

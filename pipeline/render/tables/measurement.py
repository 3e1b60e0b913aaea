"""The tables of the measurement section: items, reliability, CFA fit, invariance, correlations."""
from __future__ import annotations

from typing import Any, Mapping

from pipeline.core.instrument import Instrument
from pipeline.render import locale
from pipeline.render.table import Cell, Row, Table
from pipeline.render.tables.cells import (_absent, _header, _isnan, _need, _star_legend, _t, _variable, fmt, num, source,
                                          text, value_label)
from pipeline.render.tables.results import Results

def table_measurement_items(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("measurement", lang)
    if _need(results, ["measurement/items.csv"]):
        return _absent(key, cap, "processed/measurement/items.csv", "run the measurement stage", lang)
    d = settings["decimals"]
    items = results["measurement/items.csv"]
    loadings = results.get("measurement/cfa_loadings.csv")
    rows: list[Row] = []
    for scale in dict.fromkeys(items["scale"]):
        label = instrument.scales[scale].label.get(lang, scale) if scale in instrument.scales else scale
        rows.append(Row(panel=label))
        for _, r in items[items["scale"] == scale].iterrows():
            sel = {"scale": scale, "item": r["item"]}
            var = instrument.variables.get(r["item"])
            lab = f"{r['item']} {var.label_in(lang) if var else r['item']}" + (_t("reverse", lang) if bool(r["reverse"]) else "")
            lam = Cell("")
            if loadings is not None:
                hit = loadings[(loadings["factor"] == scale) & (loadings["item"] == r["item"])]
                if len(hit):
                    lam = num(source(results, "measurement/cfa_loadings.csv", {"factor": scale, "item": r["item"]}, "std_all"),
                              decimals=d["fit"])
            F = "measurement/items.csv"
            rows.append(Row((text(lab), num(source(results, F, sel, "mean"), decimals=d["mean"]),
                             num(source(results, F, sel, "sd"), decimals=d["mean"]),
                             num(source(results, F, sel, "r_drop"), decimals=d["fit"]),
                             num(source(results, F, sel, "alpha_if_deleted"), decimals=d["fit"]), lam)))
    head = [_t("item", lang), _t("mean", lang), _t("sd", lang), _t("r_drop", lang), _t("alpha_if_deleted", lang), _t("loading", lang)]
    return Table(key, cap, _header(head), tuple(rows), (_t("measurement_note", lang),), lang=lang)


def table_reliability(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("reliability", lang)
    if _need(results, ["measurement/reliability.csv"]):
        return _absent(key, cap, "processed/measurement/reliability.csv", "run the measurement stage", lang)
    d = settings["decimals"]["fit"]
    rel = results["measurement/reliability.csv"]
    val = results.get("measurement/cfa_validity.csv")
    F, V = "measurement/reliability.csv", "measurement/cfa_validity.csv"
    rows = []
    for scale in rel["scale"]:
        sel = {"scale": scale}
        label = instrument.scales[scale].label.get(lang, scale) if scale in instrument.scales else scale
        has_val = val is not None and (val["factor"] == scale).any()
        vsel = {"factor": scale}
        rows.append(Row((text(label), num(source(results, F, sel, "n_items"), decimals=0),
                         num(source(results, F, sel, "n"), decimals=0),
                         num(source(results, F, sel, "raw_alpha"), decimals=d),
                         num(source(results, F, sel, "alpha_low"), source(results, F, sel, "alpha_high"), decimals=d, template="[{}, {}]"),
                         num(source(results, F, sel, "omega_total"), decimals=d),
                         num(source(results, F, sel, "omega_low"), source(results, F, sel, "omega_high"), decimals=d, template="[{}, {}]"),
                         num(source(results, V, vsel, "cr"), decimals=d) if has_val else text(""),
                         num(source(results, V, vsel, "ave"), decimals=d) if has_val else text(""))))
    n_boot = int(rel["n_boot"].dropna().iloc[0]) if "n_boot" in rel and rel["n_boot"].notna().any() else 0
    head_top = ["", "", "", ("α", 2), ("ω", 2), "", ""]
    head = [_t("scale", lang), _t("k", lang), _t("n", lang), _t("estimate", lang), _t("ci95", lang),
            _t("estimate", lang), _t("ci95", lang), _t("cr", lang), _t("ave", lang)]
    return Table(key, cap, _header(head_top, head), tuple(rows), (_t("reliability_note", lang, n_boot=n_boot),), lang=lang)


def table_cfa_fit(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("cfa_fit", lang)
    if _need(results, ["measurement/cfa_fit.csv"]):
        return _absent(key, cap, "processed/measurement/cfa_fit.csv", "run the measurement stage", lang)
    d = settings["decimals"]
    F = "measurement/cfa_fit.csv"
    rows = []
    names = locale.phrases("tables", lang)["cfa_models"]
    for name in results[F]["model"]:
        sel = {"model": name}
        rows.append(Row((text(names.get(str(name), str(name))), num(source(results, F, sel, "n"), decimals=0),
                         num(source(results, F, sel, "chisq"), decimals=d["stat"]),
                         num(source(results, F, sel, "df"), decimals=0),
                         num(source(results, F, sel, "pvalue"), decimals=d["p"], p_style=True),
                         num(source(results, F, sel, "cfi"), decimals=d["fit"]),
                         num(source(results, F, sel, "tli"), decimals=d["fit"]),
                         num(source(results, F, sel, "rmsea"), decimals=d["fit"]),
                         num(source(results, F, sel, "rmsea_ci_lower"), source(results, F, sel, "rmsea_ci_upper"),
                             decimals=d["fit"], template="[{}, {}]"),
                         num(source(results, F, sel, "srmr"), decimals=d["fit"]))))
    head = [_t("model", lang), "N", "χ²", "df", "p", "CFI", "TLI", "RMSEA", _t("rmsea_ci", lang), "SRMR"]
    notes = [_t("cfa_note", lang)]
    indices = results.get("indices.parquet")
    if indices is not None and len(results[F]):       # N is the complete cases: of how many analysed respondents
        notes.append(_t("cfa_n_note", lang, total=len(indices)))
    return Table(key, cap, _header(head), tuple(rows), tuple(notes), lang=lang)


def table_invariance(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    group = instrument.role("group")
    gvar = _variable(instrument, group) if group else None
    cap = _t("invariance", lang, group=gvar.label_in(lang) if gvar else "groups")
    if _need(results, ["measurement/invariance.csv"]):
        return _absent(key, cap, "processed/measurement/invariance.csv", "run the measurement stage", lang)
    d = settings["decimals"]
    F = "measurement/invariance.csv"
    rows = []
    for _, r in results[F].iterrows():
        sel = {"group_variable": r["group_variable"], "model": r["model"]}
        words = locale.phrases("tables", lang)
        name = words[r["model"]] if r["model"] in words else str(r["model"])
        holds = "" if _isnan(r.get("holds")) else _t("yes" if str(r["holds"]) == "True" else "no", lang)
        rows.append(Row((text(name), num(source(results, F, sel, "chisq"), decimals=d["stat"]),
                         num(source(results, F, sel, "df"), decimals=0),
                         num(source(results, F, sel, "cfi"), decimals=d["fit"]),
                         num(source(results, F, sel, "rmsea"), decimals=d["fit"]),
                         num(source(results, F, sel, "srmr"), decimals=d["fit"]),
                         num(source(results, F, sel, "chisq_diff"), decimals=d["stat"]),
                         num(source(results, F, sel, "df_diff"), decimals=0),
                         num(source(results, F, sel, "pvalue_diff"), decimals=d["p"], p_style=True),
                         num(source(results, F, sel, "delta_cfi"), decimals=d["fit"]),
                         num(source(results, F, sel, "delta_rmsea"), decimals=d["fit"]), text(holds))))
    head = [_t("model", lang), "χ²", "df", "CFI", "RMSEA", "SRMR", _t("delta_chisq", lang), _t("delta_df", lang), "p",
            _t("delta_cfi", lang), _t("delta_rmsea", lang), _t("holds", lang)]
    crit = settings.get("invariance") or {}
    note = (_t("invariance_note", lang, cfi=fmt(float(crit["max_delta_cfi"]), 3), rmsea=fmt(float(crit["max_delta_rmsea"]), 3))
            if {"max_delta_cfi", "max_delta_rmsea"} <= set(crit) else _t("invariance_note_plain", lang))
    notes = [note]
    sizes = results[F]["group_n"].dropna().astype(str) if "group_n" in results[F].columns else []
    if len(sizes):                       # the groups and their complete cases (a reviewer asked for the Ns)
        parts = [p.split(":") for p in sizes.iloc[0].split(";") if ":" in p]
        listed = _t("word_separator", lang).join(
            f"{value_label(instrument, group, code, lang) if group else code} {n}" for code, n in parts)
        notes.append(_t("invariance_n_note", lang, groups=listed))
    return Table(key, cap, _header(head), tuple(rows), tuple(notes), lang=lang)


def table_correlations(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("correlations", lang)
    if _need(results, ["measurement/correlations.csv"]):
        return _absent(key, cap, "processed/measurement/correlations.csv", "run the measurement stage", lang)
    d = settings["decimals"]
    cor = results["measurement/correlations.csv"]
    F = "measurement/correlations.csv"
    names = list(dict.fromkeys(list(cor["var1"]) + list(cor["var2"])))
    desc = results.get("integrate/index_descriptives.csv")
    rows = []
    for i, a in enumerate(names):
        label = instrument.scales[a].label.get(lang, a) if a in instrument.scales else a
        cells = [text(f"{i + 1}. {label}")]
        if desc is not None and (desc["scale"] == a).any():
            cells += [num(source(results, "integrate/index_descriptives.csv", {"scale": a}, "mean"), decimals=d["mean"]),
                      num(source(results, "integrate/index_descriptives.csv", {"scale": a}, "sd"), decimals=d["mean"])]
        else:
            cells += [text(""), text("")]
        for j, b in enumerate(names):
            if j < i:
                hit = cor[((cor["var1"] == a) & (cor["var2"] == b)) | ((cor["var1"] == b) & (cor["var2"] == a))]
                if len(hit):
                    sel = {"var1": hit.iloc[0]["var1"], "var2": hit.iloc[0]["var2"]}
                    cells.append(num(source(results, F, sel, "r"), decimals=d["fit"],
                                     stars=source(results, F, sel, "p"), thresholds=settings["stars"]))
                else:
                    cells.append(text(""))
            elif j == i:
                cells.append(text("—"))
            else:
                cells.append(text(""))
        rows.append(Row(tuple(cells)))
    head = ["", _t("mean", lang), _t("sd", lang)] + [str(j + 1) for j in range(len(names))]
    notes = (_t("corr_note", lang, nmin=int(cor["n"].min()), nmax=int(cor["n"].max())), _star_legend(settings))
    return Table(key, cap, _header(head), tuple(rows), notes, lang=lang)

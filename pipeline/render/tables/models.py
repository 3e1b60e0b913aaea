"""The tables of the models section: one regression table per ``table`` group, mediation, ICC."""
from __future__ import annotations

import re

from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from pipeline.core.instrument import Instrument
from pipeline.render import locale
from pipeline.render.table import Row, Table
from pipeline.render.tables.cells import (_absent, _header, _isnan, _need, _star_legend, _t, fmt, num,
                                          reference_note, source, term_label, text)
from pipeline.render.tables.results import Results

def _model_columns(results: Results, table: str) -> list[str]:
    """The models of one table, in spec order; a pooled imputation fit (``<id>_mi``) sits beside
    its complete-case fit, and models of the same outcome side by side (stable)."""
    fits = results["models/fits.csv"]
    ids = list(fits.loc[fits["table"].astype(str) == table, "model"])
    out = []
    for m in ids:
        out += [m[:-3], m] if m.endswith("_mi") and m[:-3] in set(fits["model"]) else [m]
    out = list(dict.fromkeys(out))
    outcome = {m: str(_fit_row(results, m[:-3] if m.endswith("_mi") else m)["outcome"]) for m in out}
    first = {o: i for i, o in reversed(list(enumerate(outcome[m] for m in out)))}
    return sorted(out, key=lambda m: first[outcome[m]])


def _fit_row(results: Results, model: str) -> pd.Series:
    fits = results["models/fits.csv"]
    return fits[fits["model"] == model].iloc[0]


def _coef_file(results: Results, model: str) -> str:
    mi = results.get("models/mi_pooled.csv")
    if mi is not None and (mi["model"] == model).any():
        return "models/mi_pooled.csv"
    return "models/coefficients.csv"


def regression_table(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str, caption: str,
                     models: Sequence[str]) -> Table:
    """Models in columns; estimate with stars and SE (or CI) beneath; cut points in a panel;
    N, communities, R² / pseudo-R², ICC, AIC, variance components, imputations below; the
    covariance type of each model in a note, read from the results."""
    lang = settings["lang"]
    use_ci = settings["uncertainty"] == "ci"
    fits = {m: _fit_row(results, m) for m in models}
    base = {m: (_fit_row(results, m[:-3]) if m.endswith("_mi") else fits[m]) for m in models}

    terms: list[str] = []
    for m in models:
        cf = results[_coef_file(results, m)]
        terms += list(cf.loc[cf["model"] == m, "term"])
    terms = list(dict.fromkeys(terms))
    cuts = [t for t in terms if "|" in t]
    body = [t for t in terms if "|" not in t and t != "Intercept"] + (["Intercept"] if "Intercept" in terms else [])

    rows: list[Row] = []
    for t in body:
        rows += _coef_rows(results, instrument, settings, models, t)
    if cuts:
        rows.append(Row(panel=_t("cut_points", lang)))
        for t in cuts:
            rows += _coef_rows(results, instrument, settings, models, t)
    rows.append(Row(panel=_t("model_stats", lang)))
    stats, aic_shown = _model_stat_rows(results, fits, base, models, settings)
    rows += stats

    # header: outcome spanners over runs of columns with the same outcome, then model ids, then methods
    spans: list[tuple[str, int]] = [("", 1)]
    for m in models:
        o = base[m]["outcome"] if not _isnan(base[m]["outcome"]) else _fit_row(results, m[:-3])["outcome"]
        o = term_label(str(o), instrument, settings)
        if len(spans) > 1 and spans[-1][0] == o:
            spans[-1] = (o, spans[-1][1] + 1)
        else:
            spans.append((o, 1))
    ids = [""] + [column_label(i) for i in range(1, len(models) + 1)]
    methods = [""] + [_method(m, fits, models, lang) for m in models]
    notes = [_t("se_beneath" if not use_ci else "ci_beneath", lang), _star_legend(settings)]
    notes += covariance_notes(results, models, instrument, settings)
    reference = reference_note(terms, instrument, settings)
    notes += [reference] if reference else []
    notes += aic_notes(aic_shown, [m for m in models if _is_reml(fits[m])], models, lang,
                       [m for m in models if aic_shown and not _is_reml(fits[m]) and _isnan(fits[m].get("aic"))])
    notes += dropped_notes(fits, models, lang)
    notes += flag_notes(fits, models, lang)
    return Table(key, caption, _header(spans, ids, methods), tuple(rows), tuple(notes), lang=lang)


# The models stage's flags of a doubtful fit (fits.csv: status, "; "-separated, from pipeline/stats):
# what each says in the report's language. A flag not listed is said as "flagged".
FLAGS = (("few_clusters_cr2", re.compile(r"few clusters \(G=(?P<g>\d+)\): CR2")),
         ("few_clusters", re.compile(r"few clusters \(G=(?P<g>\d+)\)")),
         ("not_converged", re.compile(r"not converged")),
         ("boundary", re.compile(r"boundary \(singular\) fit")),
         ("imprecise", re.compile(r"imprecise optimum")),
         ("not_pd", re.compile(r"(Hessian|information matrix) is not positive definite")),
         ("separation", re.compile(r"fitted probabilities numerically 0 or 1|very large estimates")),
         ("mi_flagged", re.compile(r"(?P<n>\d+) of (?P<m>\d+) imputations flagged")))


def flag_notes(fits: Mapping[str, pd.Series], models: Sequence[str], lang: str) -> list[str]:
    """What the models stage flagged about a column's fit (few clusters, no convergence, a boundary
    fit, separation ...), one note per kind naming its columns; none for a table of sound fits.
    A reviewer reads the warning beside the numbers it is about, not in fits.csv only."""
    kinds: dict[tuple[str, tuple], list[str]] = {}
    for m in models:
        status = str(fits[m].get("status", "ok"))
        if _isnan(fits[m].get("status")) or status in ("ok", ""):
            continue
        found, taken = [], []                # the whole status searched (a flag's own text may hold "; ")
        for name, rx in FLAGS:
            hit = rx.search(status)
            if hit and not any(s <= hit.start() < e for s, e in taken):
                found.append((name, tuple(sorted(hit.groupdict().items()))))
                taken.append(hit.span())
        for kind in found or [("other", ())]:
            kinds.setdefault(kind, []).append(m)
    return [_t(f"flag_{name}", lang, models=column_list(ms, models, lang), **dict(fields))
            for (name, fields), ms in kinds.items()]


def dropped_notes(fits: Mapping[str, pd.Series], models: Sequence[str], lang: str) -> list[str]:
    """Who N leaves out: the respondents without a value of some variable of the model, how many
    per column, and where they are listed (processed/models/dropped.csv); none when no model of
    the table left anyone out."""
    counts = [(m, int(fits[m]["n_dropped"])) for m in models
              if not m.endswith("_mi") and not _isnan(fits[m].get("n_dropped")) and fits[m]["n_dropped"] > 0]
    if not counts:
        return []
    sep = _t("word_separator", lang)
    return [_t("dropped_note", lang, counts=sep.join(f"{column_label(models.index(m) + 1)} {n}" for m, n in counts))]


def _coef_rows(results: Results, instrument: Instrument, settings: Mapping[str, Any], models: Sequence[str],
               term: str) -> list[Row]:
    """A term's two rows: its label and the estimates with stars, then the SEs (or CIs) beneath;
    blank where a model has no such term."""
    d = settings["decimals"]["coef"]
    est, unc = [text(term_label(term, instrument, settings))], [text("")]
    for m in models:
        F = _coef_file(results, m)
        cf = results[F]
        if not ((cf["model"] == m) & (cf["term"] == term)).any():
            est.append(text(""))
            unc.append(text(""))
            continue
        sel = {"model": m, "term": term}
        est.append(num(source(results, F, sel, "estimate"), decimals=d, stars=source(results, F, sel, "p_value"),
                       thresholds=settings["stars"]))
        if settings["uncertainty"] == "ci":
            unc.append(num(source(results, F, sel, "conf_low"), source(results, F, sel, "conf_high"), decimals=d,
                           template="[{}, {}]"))
        else:
            unc.append(num(source(results, F, sel, "std_error"), decimals=d, template="({})"))
    return [Row(tuple(est)), Row(tuple(unc))]


def _model_stat_rows(results: Results, fits: Mapping[str, pd.Series], base: Mapping[str, pd.Series],
                     models: Sequence[str], settings: Mapping[str, Any]) -> tuple[list[Row], bool]:
    """The model-statistics panel (N, communities, R², pseudo-R², ICC, variance components, AIC,
    imputations; a row only where some model has the statistic) and whether AIC is shown."""
    lang, dfit = settings["lang"], settings["decimals"]["fit"]
    rows: list[Row] = []
    FF = "models/fits.csv"

    def stat_row(label: str, column: str, decimals: int) -> None:
        cells = [num(source(results, FF, {"model": m}, column), decimals=decimals) if column in fits[m] else text("")
                 for m in models]
        if any(c.sources for c in cells):
            rows.append(Row(tuple([text(label)] + cells)))

    stat_row(_t("n_obs", lang), "n_obs", 0)
    comm = []
    for m in models:
        f = fits[m] if not (m.endswith("_mi") and _isnan(fits[m].get("n_clusters"))) else base[m]
        col = "n_clusters" if not _isnan(f.get("n_clusters")) else "n_groups"
        comm.append(num(source(results, FF, {"model": f["model"]}, col), decimals=0))
    if any(c.sources for c in comm):   # an imputed fit reports no clusters: take its complete-case fit's
        rows.append(Row(tuple([text(_t("n_clusters", lang))] + comm)))
    stat_row(_t("r2", lang), "r2", dfit)
    stat_row(_t("pseudo_r2", lang), "pseudo_r2", dfit)
    stat_row(_t("icc", lang), "icc", dfit)
    comp = results.get("models/components.csv")
    if comp is not None:
        for kind, label in (("var", "var_community"), ("residual", "var_residual")):
            cells = []
            for m in models:
                hit = comp[(comp["model"] == m) & (comp["kind"] == kind)]
                if len(hit) == 1:
                    r = hit.iloc[0]
                    cells.append(num(source(results, "models/components.csv", {"model": m, "group": r["group"], "kind": kind},
                                            "estimate"), decimals=dfit))
                else:
                    cells.append(text(""))
            if any(c.sources for c in cells):
                rows.append(Row(tuple([text(_t(label, lang))] + cells)))
    aic = aic_row(results, fits, models, lang)
    rows += [aic] if aic is not None else []
    stat_row(_t("m", lang), "m", 0)
    return rows, aic is not None


def aic_row(results: Results, fits: Mapping[str, pd.Series], models: Sequence[str], lang: str) -> Row | None:
    """AIC of the ML and OLS fits only (a REML fit's is left blank: see :func:`aic_notes`); None
    when no model of the table has one."""
    cells = [num(source(results, "models/fits.csv", {"model": m}, "aic"), decimals=1)
             if "aic" in fits[m] and not _is_reml(fits[m]) else text("") for m in models]
    return Row(tuple([text(_t("aic", lang))] + cells)) if any(c.sources for c in cells) else None


def column_label(number: int) -> str:
    """How a model column is named in its table and notes: "(1)", "(2)", ... (not the model id)."""
    return f"({number})"


def column_list(models: Sequence[str], columns: Sequence[str], lang: str) -> str:
    """The column labels of ``models`` among the table's ``columns``, e.g. "(1)、(2)"."""
    return _t("word_separator", lang).join(column_label(columns.index(m) + 1) for m in models)


def _is_reml(fit: pd.Series) -> bool:
    return str(fit.get("reml")).lower() in ("true", "1", "1.0")


def aic_notes(shown: bool, reml: Sequence[str], models: Sequence[str], lang: str,
              none: Sequence[str] = ()) -> list[str]:
    """What the AIC row may be compared with: only models of the same outcome and sample; the
    REML fits' AIC (a restricted likelihood, not comparable with an ML or OLS AIC) is not shown;
    ``none``: the models that have no AIC (weighted, pooled imputations), named so that their
    blank cells do not read as missing."""
    notes = [_t("aic_note", lang)] if shown else []
    if reml:
        notes.append(_t("aic_reml_note", lang, models=column_list(reml, models, lang)))
    if none:
        notes.append(_t("aic_none_note", lang, models=column_list(none, models, lang)))
    return notes


def _method(m: str, fits: Mapping[str, pd.Series], models: Sequence[str], lang: str) -> str:
    f = fits[m]
    methods = locale.phrases("methods", lang)
    if m.endswith("_mi"):
        return methods["mi"]
    if f"{m}_mi" in models:
        return methods["cc"]
    if f["family"] in methods:
        return methods[f["family"]]
    return methods.get(f["estimator"], str(f["estimator"]))


def covariance_notes(results: Results, models: Sequence[str], instrument: Instrument, settings: Mapping[str, Any]) -> list[str]:
    """One note per kind of standard error, naming its models, read from the coefficients
    (cov_type, df) and fits (cluster, number of clusters, REML)."""
    lang = settings["lang"]
    groups: dict[tuple, list[str]] = {}
    info: dict[tuple, dict[str, Any]] = {}
    for m in models:
        f = _fit_row(results, m)
        F = _coef_file(results, m)
        cf = results[F][results[F]["model"] == m]
        cov = str(cf["cov_type"].iloc[0]) if len(cf) else str(f["cov_type"])
        dfs = cf["df"].dropna() if "df" in cf else pd.Series(dtype=float)
        if m.endswith("_mi"):
            kind = ("mi",)
            info[kind] = {"m": int(f["m"]), "n": int(f["n_obs"]), "ncc": int(f["n_obs_complete_case"])}
            groups.setdefault(kind, []).append(m)
            base = m[:-3]
            f = _fit_row(results, base)
        cluster = f.get("cluster")
        cl = "" if _isnan(cluster) else (_t("community", lang) if cluster == instrument.role("community")
                                         else term_label(str(cluster), instrument, settings))
        g = "" if _isnan(f.get("n_clusters")) else int(f["n_clusters"])
        if cov == "cluster_cr2":
            kind = (cov, cl, g)
        elif cov == "model" and f["estimator"] == "mixed" and dfs.nunique() == 2:
            kind = (cov, "bw", bool(f.get("reml")))
            info.setdefault(kind, {"dfb": set(), "dfw": set()})
            info[kind]["dfb"].add(int(dfs.min()))
            info[kind]["dfw"].add(int(dfs.max()))
        else:
            kind = (cov, cl, g, "z" if dfs.empty else f"t{int(dfs.iloc[0])}" if dfs.nunique() == 1 else "t")
        groups.setdefault(kind, []).append(m)
        if cov == "cluster_cr2":
            info.setdefault(kind, {"dfs": []})["dfs"] += list(dfs)
    notes = []
    for kind, ms in groups.items():
        names = column_list(ms, models, lang)
        if kind[0] == "mi":
            notes.append(_t("mi_note", lang, models=names, **info[kind]))
        elif kind[0] == "cluster_cr2":
            dfs = info[kind]["dfs"]
            notes.append(_t("cov_cluster_cr2", lang, models=names, cluster=kind[1], g=kind[2],
                            dfmin=fmt(min(dfs), 1), dfmax=fmt(max(dfs), 1)))
        elif kind[0] == "model" and kind[1] == "bw":
            dfb = "/".join(str(x) for x in sorted(info[kind]["dfb"]))
            dfw = "/".join(str(x) for x in sorted(info[kind]["dfw"]))
            notes.append(_t("cov_model_bw", lang, models=names, reml=_t("reml", lang) if kind[2] else "", dfb=dfb, dfw=dfw))
        else:
            cov, cl, g, tests = kind
            tests_text = _t("z_tests", lang) if tests == "z" else (_t("t_tests", lang, df=tests[1:]) if len(tests) > 1 else "")
            if cov == "cluster":
                notes.append(_t("cov_cluster", lang, models=names, cluster=cl, g=g, tests=tests_text))
            elif cov == "model":
                notes.append(_t("cov_model", lang, models=names, tests=tests_text))
            else:
                cov_types = locale.phrases("tables", lang)["cov_types"]
                notes.append(_t("cov_other", lang, models=names, cov=cov_types.get(cov, cov), tests=tests_text))
    return notes


def _models_table(name: str) -> Callable[..., Table]:
    """The regression table of the models whose spec says ``table: <name>``. Its caption is
    ``params.yaml: report.model_tables.<name>`` ({zh, en}) when given, else "Models of <outcome>"
    with the instrument's label of the models' common outcome, else "Models: <name>"."""
    def build(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
        lang = settings["lang"]
        given = (settings.get("model_tables") or {}).get(name)
        fallback = given[lang] if isinstance(given, Mapping) and lang in given else _t("models_of", lang, y=name)
        if _need(results, ["models/fits.csv", "models/coefficients.csv"]):
            return _absent(key, fallback, "processed/models/", "run the models stage", lang)
        models = _model_columns(results, name)
        if not models:
            return _absent(key, fallback, f"models with table '{name}'", "params.yaml models.specs", lang)
        outcomes = {str(_fit_row(results, m[:-3] if m.endswith("_mi") else m)["outcome"]) for m in models}
        cap = fallback
        if not isinstance(given, Mapping) and len(outcomes) == 1:
            (outcome,) = outcomes
            scale = instrument.scales.get(outcome)
            label = scale.label.get(lang, outcome) if scale is not None else outcome
            cap = _t("models_of", lang, y=locale.lower_first(label, lang))
        return regression_table(results, instrument, settings, key, cap, models)
    build.__name__ = f"table_{name}_models"
    return build


def table_mediation(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    """Paths, direct, indirect and total effects with bootstrap errors and intervals. The proportion
    mediated is shown only when the total effect's interval excludes zero (a ratio over a total
    that may be nil has no meaning: its interval runs over both signs); a note compares the a path
    with the same coefficient in a regression table (other covariates, another sample)."""
    lang = settings["lang"]
    if _need(results, ["models/mediation.csv"]):
        return _absent(key, _t("mediation", lang, x="x", m="m", y="y"), "processed/models/mediation.csv", "run the models stage", lang)
    F = "models/mediation.csv"
    med = results[F]
    first = med.iloc[0]
    lab = {k: term_label(str(first[k]), instrument, settings) for k in ("x", "m", "y")}
    d = settings["decimals"]["coef"]
    total = med[med["effect"] == "total"]
    total_clear = len(total) == 1 and (total.iloc[0]["conf_low"] > 0 or total.iloc[0]["conf_high"] < 0)
    rows, withheld = [], False
    for _, r in med.iterrows():
        sel = {"model": r["model"], "effect": r["effect"]}
        name = f"eff_{r['effect']}"
        label = _t(name, lang, **lab) if name in locale.phrases("tables", lang) else str(r["effect"])
        if r["effect"] == "proportion_mediated" and not total_clear:
            rows.append(Row((text(label), text("—"), text("—"), text("—"))))
            withheld = True
            continue
        rows.append(Row((text(label), num(source(results, F, sel, "estimate"), decimals=d),
                         num(source(results, F, sel, "boot_se"), decimals=d),
                         num(source(results, F, sel, "conf_low"), source(results, F, sel, "conf_high"), decimals=d,
                             template="[{}, {}]"))))
    covariates = [c.strip() for c in str(first["covariates"]).split(",") if c.strip()]
    cov = _t("word_separator", lang).join(term_label(c, instrument, settings) for c in covariates)
    methods = locale.phrases("tables", lang)["ci_methods"]
    notes = [_t("mediation_note", lang, method=methods.get(str(first["ci_method"]), str(first["ci_method"])),
                n_boot=int(first["n_boot"]), g=int(first["n_clusters"]), n=int(first["n_obs"]), cov=cov)]
    if withheld:
        notes.append(_t("proportion_withheld", lang))
    path = a_path_note(results, first, covariates, instrument, settings)
    notes += [path] if path else []
    head = [_t("effect", lang), _t("estimate", lang), _t("boot_se", lang), _t("ci95", lang)]
    return Table(key, _t("mediation", lang, **lab), _header(head), tuple(rows), tuple(notes), lang=lang)


def a_path_note(results: Results, first: pd.Series, covariates: Sequence[str], instrument: Instrument,
                settings: Mapping[str, Any]) -> str | None:
    """Why the a path (x -> m) differs from the coefficient of x in the first regression table
    column whose outcome is m: the covariates one model has and the other lacks, and the two
    samples. ``settings["model_columns"]``: model id -> (table number, column label), from
    :func:`pipeline.render.tables.plan.build_tables`. None when no table column has that
    coefficient or the two estimates are equal at the shown decimals."""
    lang = settings["lang"]
    where = settings.get("model_columns") or {}
    fits, coefs = results.get("models/fits.csv"), results.get("models/coefficients.csv")
    med = results["models/mediation.csv"]
    a = med[med["effect"] == "a"]
    if fits is None or coefs is None or len(a) != 1:
        return None
    x, m = str(first["x"]), str(first["m"])
    for model in where:
        fit = fits[fits["model"] == model]
        hit = coefs[(coefs["model"] == model) & (coefs["term"] == x)]
        if len(fit) != 1 or len(hit) != 1 or str(fit.iloc[0]["outcome"]) != m:
            continue
        d = settings["decimals"]["coef"]
        if fmt(float(hit.iloc[0]["estimate"]), d) == fmt(float(a.iloc[0]["estimate"]), d):
            return None
        formula = str(fit.iloc[0]["formula"]).split("~", 1)[-1]
        terms = [t.strip() for t in formula.split("+") if t.strip() and t.strip() != x]
        sep = _t("word_separator", lang)
        extra = sep.join(term_label(t, instrument, settings) for t in terms if t not in covariates) or _t("none", lang)
        absent = sep.join(term_label(c, instrument, settings) for c in covariates if c not in terms) or _t("none", lang)
        number, column = where[model]
        return _t("a_path_note", lang, a=fmt(float(a.iloc[0]["estimate"]), d), table=number, column=column,
                  b=fmt(float(hit.iloc[0]["estimate"]), d), x=term_label(x, instrument, settings), extra=extra,
                  absent=absent, n_med=int(first["n_obs"]), n_main=int(fit.iloc[0]["n_obs"]))
    return None


def table_icc(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("icc_table", lang)
    if _need(results, ["models/icc.csv"]):
        return _absent(key, cap, "processed/models/icc.csv", "run the models stage", lang)
    F = "models/icc.csv"
    d = settings["decimals"]
    rows = []
    for o in results[F]["outcome"]:
        sel = {"outcome": o}
        rows.append(Row((text(term_label(o, instrument, settings)), num(source(results, F, sel, "icc_icc"), decimals=d["fit"]),
                         num(source(results, F, sel, "icc_var_between"), decimals=d["fit"]),
                         num(source(results, F, sel, "icc_var_within"), decimals=d["fit"]),
                         num(source(results, F, sel, "lrt_lr_stat"), decimals=d["stat"]),
                         num(source(results, F, sel, "lrt_p_value"), decimals=d["p"], p_style=True),
                         num(source(results, F, sel, "icc_n_obs"), decimals=0),
                         num(source(results, F, sel, "icc_n_groups"), decimals=0))))
    head = [_t("outcome", lang), "ICC", _t("var_between", lang), _t("var_within", lang), _t("lrt", lang), "p", "N",
            _t("n_clusters", lang)]
    return Table(key, cap, _header(head), tuple(rows), (_t("icc_note", lang),), lang=lang)

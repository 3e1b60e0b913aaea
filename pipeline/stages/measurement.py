"""Measurement stage: indices, reliability, the confirmatory factor model and invariance.

Reads the cleaned survey (``processed/survey_clean.parquet``) and the community file, and writes

- ``processed/indices.parquet``: pseudonymous id, community, scale scores (raw and z), the
  covariates the models need (``params.yaml: measurement.covariates``) and the community
  variables;
- ``processed/measurement/``: tidy tables for the report (reliability per scale, items with
  alpha-if-deleted and corrected item-total correlations, CFA fit, loadings with CR and AVE,
  discriminant validity, invariance steps, correlations of the indices);
- ``metrics/measurement.json``: the key numbers.

Every scale, item and group comes from the instrument and ``params.yaml: measurement``. A study
may have no scales, one or many; the CFA runs only when ``measurement.cfa`` asks for it, the
invariance test only when ``measurement.invariance`` does (and the instrument has ``roles.group``);
without ``roles.community`` there are no community columns and the reliability bootstrap resamples
respondents. Names and identification are checked before anything is computed
(:mod:`pipeline.stats.preflight`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core import config
from pipeline.core.communities import community_file, read_communities
from pipeline.stats.cfa import fit_cfa
from pipeline.stats.invariance import SEARCH_COLUMNS, TABLE_COLUMNS, measurement_invariance
from pipeline.stats.validity import composite_reliability, fornell_larcker, htmt
from pipeline.stats.distributions import pearson_r
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import atomic_dir, write_csv, write_json, write_parquet
from pipeline.core.instrument import Instrument, load_instrument
from pipeline.core.parallel import ParallelSettings, from_params
from pipeline.core.settings import Invariance, Measurement, Reliability
from pipeline.stats.reliability import cluster_bootstrap, cronbach_alpha, omega_total
from pipeline.stats.preflight import check_measurement, raise_problems
from pipeline.stats.scoring import build_indices, keyed_items, measured_scales

RELIABILITY_COLUMNS = [
    "scale", "n_items", "n", "raw_alpha", "std_alpha", "average_r", "alpha_low", "alpha_high",
    "omega_total", "omega_low", "omega_high", "n_boot", "status", "message",
]
ITEM_COLUMNS = ["scale", "item", "label_zh", "label_en", "reverse", "n", "mean", "sd", "r_drop",
                "alpha_if_deleted", "omega_loading"]
RESPONDENT_BOOTSTRAP = "intervals: respondents resampled (no roles.community in the instrument)"


def item_frame(clean: pd.DataFrame, instrument: Instrument, scale: str) -> pd.DataFrame:
    """The reverse-keyed items of one scale, as the reliability and factor models use them."""
    return keyed_items(clean, instrument, instrument.scales[scale])


def correlations(indices: pd.DataFrame, scales: list[str]) -> pd.DataFrame:
    """Pairwise Pearson correlations of the scale scores with two-sided p-values and N (long form):
    scipy.stats.pearsonr's numbers, without importing scipy.stats (:func:`pearson_r`)."""
    rows = []
    for i, a in enumerate(scales):
        for b in scales[i + 1:]:
            pair = indices[[a, b]].dropna()
            n = len(pair)
            if n < 3 or pair[a].nunique() < 2 or pair[b].nunique() < 2:
                rows.append({"var1": a, "var2": b, "r": np.nan, "p": np.nan, "n": n, "status": "too few cases"})
                continue
            r, p = pearson_r(pair[a], pair[b])
            rows.append({"var1": a, "var2": b, "r": float(r), "p": float(p), "n": n, "status": "ok"})
    return pd.DataFrame(rows, columns=["var1", "var2", "r", "p", "n", "status"])


def reliability_tables(
    clean: pd.DataFrame, instrument: Instrument, scales: list[str], cfg: Reliability, rng: np.random.Generator,
    parallel: ParallelSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per scale: alpha (psych's conventions), omega total, cluster-bootstrap intervals; per item:
    mean, SD, corrected item-total correlation, alpha if deleted and the one-factor loading.

    The bootstrap resamples communities (``roles.community``); an instrument without one has its
    respondents resampled instead, which the scale's ``message`` says. The replications run where
    ``parallel`` says (None: here); the intervals are the same anywhere."""
    comm_var = instrument.role("community")
    if comm_var:
        comm = clean[comm_var].astype(str).reset_index(drop=True)
    else:
        comm = pd.Series(np.arange(len(clean)))
    level, reps, use = cfg.level, cfg.bootstrap_replications, cfg.omega_use
    scale_rows, item_rows = [], []
    for name in scales:
        scale = instrument.scales[name]
        items = item_frame(clean, instrument, name).reset_index(drop=True)
        alpha = cronbach_alpha(items)
        omega = omega_total(items, use=use)
        row = {"scale": name, "n_items": len(scale.items), "n": int(items.notna().any(axis=1).sum()),
               "raw_alpha": alpha.raw_alpha, "std_alpha": alpha.std_alpha, "average_r": alpha.average_r,
               "omega_total": omega.omega_total, "n_boot": 0}
        problems = [f"{what}: {res.message}" for what, res in (("alpha", alpha), ("omega", omega)) if res.status != "ok"]
        if reps > 0 and alpha.status == "ok":
            boot = cluster_bootstrap(items, comm, rng=rng, n_replications=reps, level=level,
                                     statistics=("alpha", "omega") if omega.status == "ok" else ("alpha",),
                                     omega_use=use, parallel=parallel)
            for stat, interval in boot.intervals.items():
                row[f"{stat}_low"], row[f"{stat}_high"] = interval.lower, interval.upper
                if interval.status != "ok":
                    problems.append(f"{stat} bootstrap: {interval.message}")
            row["n_boot"] = reps
        row["status"] = "ok" if not problems else "flagged"
        row["message"] = "; ".join(problems + ([RESPONDENT_BOOTSTRAP] if row["n_boot"] and not comm_var else []))
        scale_rows.append(row)
        stats, drop = alpha.item_stats, alpha.alpha_drop
        for item in scale.items:
            var = instrument.variables[item]
            item_rows.append({
                "scale": name, "item": item, "label_zh": var.label.get("zh", ""), "label_en": var.label.get("en", ""),
                "reverse": item in scale.reverse,
                "n": _get(stats, item, "n"), "mean": _get(stats, item, "mean"), "sd": _get(stats, item, "sd"),
                "r_drop": _get(stats, item, "r_drop"), "alpha_if_deleted": _get(drop, item, "raw_alpha"),
                "omega_loading": float(omega.std_loadings.get(item, np.nan)) if len(omega.std_loadings) else np.nan,
            })
    return (pd.DataFrame(scale_rows).reindex(columns=RELIABILITY_COLUMNS),
            pd.DataFrame(item_rows).reindex(columns=ITEM_COLUMNS))


def _get(frame: pd.DataFrame, item: str, column: str) -> float:
    try:
        return float(frame.at[item, column])
    except (KeyError, ValueError, TypeError):
        return float("nan")


FIT_COLUMNS = ["model", "status", "message", "n", "npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea",
               "rmsea_ci_lower", "rmsea_ci_upper", "srmr", "aic", "bic"]
CFA_COLUMNS = {
    "cfa_fit": FIT_COLUMNS,
    "cfa_loadings": ["factor", "item", "est", "se", "z", "pvalue", "std_all"],
    "cfa_validity": ["factor", "n_items", "cr", "ave", "sqrt_ave"],
    "cfa_discriminant": ["factor1", "factor2", "r", "sqrt_ave1", "sqrt_ave2", "holds", "htmt"],
}
INVARIANCE_COLUMNS = ["group_variable", *TABLE_COLUMNS, "groups", "group_n"]
JUST_IDENTIFIED = "just identified (df = 0): the loadings are estimated, the fit indices test nothing"

# Streams of the seed used by this stage (see simulate.py for the generator's).
STREAM_BOOTSTRAP = 11


def _factors(instrument: Instrument, scales: list[str]) -> dict[str, list[str]]:
    return {name: list(instrument.scales[name].items) for name in scales}


def _fit_row(name: str, res) -> dict[str, Any]:
    fit = res.fit
    return {"model": name, "status": res.status, "message": res.message, "n": int(sum(res.n_by_group.values())),
            "npar": fit.get("npar"), "chisq": fit.get("chisq"), "df": fit.get("df"), "pvalue": fit.get("pvalue"),
            "cfi": fit.get("cfi"), "tli": fit.get("tli"), "rmsea": fit.get("rmsea"),
            "rmsea_ci_lower": fit.get("rmsea.ci.lower"), "rmsea_ci_upper": fit.get("rmsea.ci.upper"),
            "srmr": fit.get("srmr"), "aic": fit.get("aic"), "bic": fit.get("bic")}


def empty_tables(columns: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    """Tables with their headers and no rows: a step the study does not ask for."""
    return {name: pd.DataFrame(columns=list(cols)) for name, cols in columns.items()}


def cfa_tables(clean: pd.DataFrame, instrument: Instrument, scales: list[str]) -> dict[str, pd.DataFrame]:
    """The CFA of the scales as correlated factors: fit, standardised loadings, CR/AVE,
    Fornell-Larcker and HTMT (the last two empty with one factor). Whether the model is
    identified is checked before (:func:`pipeline.stats.preflight.factor_problems`); a
    just-identified one-factor model (3 items) is fitted and its fit row says so."""
    factors = _factors(instrument, scales)
    items = pd.concat([item_frame(clean, instrument, s) for s in scales], axis=1)
    res = fit_cfa(items, factors)
    est = res.estimates
    loadings = est[est["op"] == "=~"][["lhs", "rhs", "est", "se", "z", "pvalue", "std_all"]].rename(
        columns={"lhs": "factor", "rhs": "item"}).reset_index(drop=True)
    validity = composite_reliability(res).drop(columns="group")
    fl = fornell_larcker(res).drop(columns="group")
    ht = htmt(items.corr(), factors)
    ht_long = [{"factor1": a, "factor2": b, "htmt": float(ht.at[a, b])}
               for i, a in enumerate(ht.index) for b in ht.columns[i + 1:]]
    discriminant = fl.merge(pd.DataFrame(ht_long, columns=["factor1", "factor2", "htmt"]),
                            on=["factor1", "factor2"], how="left")
    row = _fit_row("measurement", res)
    if res.status == "ok" and row["df"] == 0:
        row["message"] = JUST_IDENTIFIED
    return {"cfa_fit": pd.DataFrame([row], columns=FIT_COLUMNS),
            "cfa_loadings": loadings, "cfa_validity": validity, "cfa_discriminant": discriminant}


def invariance_tables(clean: pd.DataFrame, instrument: Instrument, cfg: Invariance) -> dict[str, Any]:
    """Configural, metric, scalar and (if needed) partial scalar invariance across the groups."""
    group_var = instrument.role("group")
    if not group_var:
        raise PipelineError(f"{instrument.path}: roles.group is not set", hint="name the variable whose groups are compared")
    scales = list(cfg.scales)
    codes = [float(c) for c in cfg.groups]
    labels = instrument.variables[group_var].value_labels("en")
    keep = clean[group_var].isin(codes)
    items = pd.concat([item_frame(clean.loc[keep], instrument, s) for s in scales], axis=1)
    items["_group"] = clean.loc[keep, group_var].map(lambda c: labels.get(int(c), str(int(c)))).to_numpy()
    items = items.sort_values("_group", kind="stable", key=lambda g: g.map({labels.get(int(c), str(int(c))): i
                                                                             for i, c in enumerate(codes)}))
    result = measurement_invariance(
        items, _factors(instrument, scales), "_group",
        delta_cfi=cfg.max_delta_cfi, delta_rmsea=cfg.max_delta_rmsea,
        max_free_intercepts=cfg.max_free_intercepts, min_group_n=cfg.min_group_size,
    )
    table = result.table.copy()
    table.insert(0, "group_variable", group_var)
    table["groups"] = " vs ".join(labels.get(int(c), str(int(c))) for c in codes)
    whole = items.drop(columns="_group").notna().all(axis=1)           # complete cases (listwise), per group
    complete = clean.loc[whole.index[whole.to_numpy()], group_var]
    table["group_n"] = ";".join(f"{c:g}:{int((complete == c).sum())}" for c in codes)
    return {"invariance": table, "invariance_search": result.search.copy(), "level": result.level,
            "freed_intercepts": list(result.freed_intercepts), "status": result.status, "message": result.message}


def no_invariance() -> dict[str, Any]:
    """The invariance results of a study that does not ask for the test."""
    return {"invariance": pd.DataFrame(columns=INVARIANCE_COLUMNS), "invariance_search":
            pd.DataFrame(columns=list(SEARCH_COLUMNS)), "level": None, "freed_intercepts": None,
            "status": None, "message": ""}


def measure(
    clean: pd.DataFrame, communities: pd.DataFrame | None, instrument: Instrument, cfg: Measurement, seed: int,
    *, params_name: str = "params.yaml", parallel: ParallelSettings | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, Any]]:
    """The whole stage in memory: (indices, tables, metrics).

    Names and the identification of the factor models are checked first
    (:func:`pipeline.stats.preflight.check_measurement`). No ``measurement.cfa``: the CFA tables
    are empty and the ``cfa_*`` metrics null; no ``measurement.invariance``: likewise the
    invariance tables and ``invariance_*``. ``communities`` may be None when no community
    covariate is asked for. ``parallel``: where the bootstrap replications run (None: here;
    the stage passes ``params.yaml: parallel``); the results are the same anywhere."""
    raise_problems(check_measurement(clean, communities, instrument, cfg, params_name=params_name),
                   hint="nothing was computed; fix the names in params.yaml or the instrument")
    scales = measured_scales(instrument, cfg)
    indices = build_indices(clean, communities, instrument, cfg)
    rng = np.random.default_rng([seed, STREAM_BOOTSTRAP])
    reliability, items = reliability_tables(clean, instrument, scales, cfg.reliability, rng, parallel)
    tables: dict[str, pd.DataFrame] = {"reliability": reliability, "items": items}
    if cfg.cfa is not None:
        tables.update(cfa_tables(clean, instrument, list(cfg.cfa.scales)))
    else:
        tables.update(empty_tables(CFA_COLUMNS))
    inv = invariance_tables(clean, instrument, cfg.invariance) if cfg.invariance is not None else no_invariance()
    tables["invariance"] = inv["invariance"]
    tables["invariance_search"] = inv["invariance_search"]
    tables["correlations"] = correlations(indices, scales)
    fit = tables["cfa_fit"].iloc[0] if len(tables["cfa_fit"]) else pd.Series(dtype=object)
    freed = inv["freed_intercepts"]
    metrics: dict[str, Any] = {
        "n_indexed": int(len(indices)),
        **{f"alpha_{r.scale}": _round(r.raw_alpha) for r in reliability.itertuples()},
        **{f"omega_{r.scale}": _round(r.omega_total) for r in reliability.itertuples()},
        "cfa_cfi": _round(fit.get("cfi")), "cfa_tli": _round(fit.get("tli")), "cfa_rmsea": _round(fit.get("rmsea")),
        "cfa_srmr": _round(fit.get("srmr")), "cfa_status": fit.get("status"),
        "invariance_level": inv["level"], "invariance_freed": None if freed is None else ",".join(freed),
    }
    return indices, tables, metrics


def flagged_lines(tables: dict[str, pd.DataFrame]) -> list[str]:
    """One log line per scale, model or invariance step that is not plainly ok."""
    lines = [f"scale '{r.scale}' flagged: {r.message}" for r in tables["reliability"].itertuples() if r.status != "ok"]
    lines += [f"CFA {r.model}: {r.status} ({r.message})" for r in tables["cfa_fit"].itertuples() if r.status != "ok"]
    lines += [f"invariance step {r.model}: {r.status}" for r in tables["invariance"].itertuples() if r.status != "ok"]
    return lines


def _round(x: Any) -> float | None:
    return None if x is None or not np.isfinite(float(x)) else round(float(x), 4)


def _read_communities(path: str, instrument: Instrument, params_name: str) -> pd.DataFrame:
    if not path:
        raise PipelineError(f"{params_name}: measurement.community_covariates need the community file",
                            hint="pass it with --communities, or leave community_covariates empty")
    found = community_file(path, instrument)
    if found is None:
        raise PipelineError(f"{path}: community file not found; {params_name}: measurement.community_covariates need it",
                            hint="pass it with --communities, or leave community_covariates empty")
    return read_communities(found, instrument)


def categorical_items(instrument: Instrument, cfg: Measurement) -> list[str]:
    """A warning per scale that averages categorical items as numbers (a draft from a Stata file
    types every labelled item categorical: an outside user put an education variable into a scale
    and its alpha fell from 0.86 to 0.24 without a word)."""
    out = []
    for name in measured_scales(instrument, cfg):
        cats = [i for i in instrument.scales[name].items if instrument.variables[i].type == "categorical"]
        if cats:
            out.append(f"scale '{name}' averages the codes of categorical item(s) {', '.join(cats)} as numbers; "
                       f"make them type: ordinal in {instrument.path} if their codes are ordered, else remove them")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline measurement", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--survey", default=str(config.PROCESSED / "survey_clean.parquet"))
    parser.add_argument("--communities", default=str(config.RAW_COMMUNITIES))
    parser.add_argument("--processed", default=str(config.PROCESSED))
    parser.add_argument("--metrics", default=str(config.METRICS / "measurement.json"))
    args = parser.parse_args(argv)
    params = config.load_settings(args.params)
    cfg = params.section("measurement")
    instrument = load_instrument(params.instrument)
    try:
        clean = pd.read_parquet(args.survey)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise PipelineError(f"{args.survey}: cannot read the cleaned survey ({exc.__class__.__name__})",
                            hint="run the survey stage first (dvc repro survey)") from None
    if clean.empty:
        raise PipelineError(f"{args.survey}: no analysed respondents", hint="check the survey stage's sample flow")
    communities = None
    if cfg.community_covariates and instrument.role("community"):   # else the file is not needed
        communities = _read_communities(args.communities, instrument, args.params)
    indices, tables, metrics = measure(clean, communities, instrument, cfg, params.seed, params_name=args.params,
                                       parallel=from_params(params))   # where the bootstrap runs: same results
    for line in [*flagged_lines(tables), *categorical_items(instrument, cfg)]:
        print(f"measurement: {line}", file=sys.stderr)
    processed = Path(args.processed)
    with atomic_dir(processed / "measurement") as out:
        for name, table in tables.items():
            write_csv(out / f"{name}.csv", table)
    write_parquet(processed / "indices.parquet", indices)
    write_json(args.metrics, metrics)
    print(json.dumps(metrics, ensure_ascii=False))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

"""Models stage: the regressions configured in ``params.yaml: models``.

Reads ``processed/indices.parquet`` (the measurement stage's scores, covariates and community
variables), derives the variables named in ``models.derived`` and fits every model in
``models.specs`` with :mod:`pipeline.stats.fit` (OLS/WLS with classical, robust or cluster-robust
errors, random-intercept models, ordered and binary logit). Also, when asked: multiple imputation
of the models in ``models.imputed`` (pooled by Rubin's rules beside the complete-case fit), the
mediation model of ``models.mediation`` (bootstrap over ``models.cluster``, else respondents),
the null-model intraclass correlations of ``models.icc`` with the likelihood-ratio test against
a single-level model, and predictions on a grid. Before anything is fitted,
:func:`pipeline.stats.preflight.check_models` checks every name and the number of clusters.
A study without models yet (``specs: []``) gets the tables with their headers and no rows.

Results are data (``processed/models/``): ``coefficients.csv`` (tidy rows of every model,
including the pooled MI fits as model ``<id>_mi``), ``fits.csv`` (one row per model),
``components.csv`` (variance components), ``mediation.csv``, ``icc.csv``, ``predictions.csv``,
``hypotheses.csv`` (each hypothesis read off its model), ``dropped.csv`` (every respondent a
model leaves out by listwise deletion, with the variables it has no value of) and
``metrics/models.json``. The report
stage renders them; no number is formatted here.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.stats.covariance import COEF_COLUMNS, COMPONENT_COLUMNS
from pipeline.stats.fit import fit_model
from pipeline.stats.frame import listwise_dropped
from pipeline.stats.imputation import POOLED_COLUMNS, fit_imputed
from pipeline.stats.mediation import MEDIATION_COLUMNS, mediation
from pipeline.stats.multilevel import icc, lrt_random_intercept
from pipeline.stats.predict import predict_grid
from pipeline.stats.preflight import check_models, raise_problems
from pipeline.stats.results import coefficient_table, fit_table
from pipeline.stats.spec import derive, expand_specs, parse_spec
from pipeline.core.files import atomic_dir, write_csv, write_json
from pipeline.core.parallel import ParallelSettings, from_params
from pipeline.core.settings import Models

STREAM_MEDIATION = 21
STREAM_IMPUTATION = 22

# the headers of tables a study leaves empty (no models yet, no mediation, no ICC, ...)
MEDIATION_TABLE_COLUMNS = [*MEDIATION_COLUMNS, "x", "m", "y", "covariates", "cluster", "n_obs", "n_dropped",
                           "n_clusters", "n_boot", "n_boot_failed", "level", "status"]
ICC_COLUMNS = ["outcome", *(f"icc_{k}" for k in ("outcome", "group", "icc", "var_between", "var_within", "n_obs",
                                                 "n_groups", "reml", "converged", "status")),
               *(f"lrt_{k}" for k in ("model", "group", "n_obs", "n_groups", "loglik_single", "loglik_mixed",
                                      "lr_stat", "df", "p_chisq1", "p_value", "p_method", "status"))]
PREDICTION_COLUMNS = ["model", "estimate", "std_error", "conf_low", "conf_high", "scale"]
HYPOTHESIS_COLUMNS = ["hypothesis", "model", "term", "estimate", "std_error", "p_value", "conf_low", "conf_high",
                      "source"]


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def _mediation_table(cfg: Models, data: pd.DataFrame, seed: int) -> pd.DataFrame:
    med = cfg.mediation
    if med is None:
        return _empty(MEDIATION_TABLE_COLUMNS)
    res = mediation(
        data, med.x, med.m, med.y, covariates=list(med.covariates), cluster=cfg.mediation_cluster(),
        n_boot=med.n_boot, rng=np.random.default_rng([seed, STREAM_MEDIATION]), model_id=med.id,
    )
    table = res.effects.copy()
    for key, value in res.info.items():
        if key not in table.columns:
            table[key] = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
    return table


def _icc_table(outcomes: list[str], data: pd.DataFrame, cluster: str | None) -> pd.DataFrame:
    if not outcomes:
        return _empty(ICC_COLUMNS)
    rows = []
    for outcome in outcomes:
        null = icc(data, outcome, cluster)
        lrt = lrt_random_intercept({"id": f"{outcome}_lrt", "formula": f"{outcome} ~ 1", "estimator": "mixed",
                                    "random": cluster}, data)
        rows.append({"outcome": outcome, **{f"icc_{k}": v for k, v in null.items()},
                     **{f"lrt_{k}": v for k, v in lrt.items()}})
    return pd.DataFrame(rows)


def hypothesis_table(cfg: Models, coefficients: pd.DataFrame, med: pd.DataFrame) -> pd.DataFrame:
    """Each hypothesis with the estimate, interval and p-value it is read off."""
    rows = []
    for hyp, where in cfg.hypotheses.items():
        if where.mediation is not None:
            hit = med[med["effect"] == where.mediation] if len(med) else med
            if not len(hit):
                raise PipelineError(f"params.yaml: models.hypotheses.{hyp} names mediation effect '{where.mediation}', which was not estimated")
            r = hit.iloc[0]
            rows.append({"hypothesis": hyp, "model": r.get("model", "mediation"), "term": where.mediation,
                         "estimate": r["estimate"], "std_error": r.get("boot_se", np.nan), "p_value": np.nan,
                         "conf_low": r["conf_low"], "conf_high": r["conf_high"], "source": "bootstrap"})
            continue
        hit = coefficients[(coefficients["model"] == where.model) & (coefficients["term"] == where.term)]
        if not len(hit):
            raise PipelineError(f"params.yaml: models.hypotheses.{hyp} names term '{where.term}' of model "
                                f"'{where.model}', which has no such coefficient",
                                hint="see processed/models/coefficients.csv for the term names")
        r = hit.iloc[0]
        rows.append({"hypothesis": hyp, "model": where.model, "term": where.term, "estimate": r["estimate"],
                     "std_error": r["std_error"], "p_value": r["p_value"], "conf_low": r["conf_low"],
                     "conf_high": r["conf_high"], "source": r["cov_type"]})
    return pd.DataFrame(rows) if rows else _empty(HYPOTHESIS_COLUMNS)


def fit_all(data: pd.DataFrame, cfg: Models, seed: int, parallel: ParallelSettings | None = None, *,
            params_name: str = "params.yaml", data_name: str = "processed/indices.parquet") -> dict[str, pd.DataFrame]:
    """Every configured estimate, as tables (with their headers and no rows for what is not asked).

    Nothing is fitted before :func:`pipeline.stats.preflight.check_models` has found every name,
    enough clusters for each clustered or multilevel spec and no constant outcome; its problems
    are one error naming ``params_name`` and the keys."""
    raise_problems(check_models(cfg, data, params_name=params_name, data_name=data_name),
                   hint="nothing was fitted; see the variables of " + data_name)
    data = derive(data, cfg.derived)
    specs = expand_specs(cfg)
    results = {spec["id"]: fit_model(spec, data) for spec in specs}
    dropped = _dropped_table(specs, data)
    coefficients = coefficient_table(list(results.values())) if results else _empty(COEF_COLUMNS)
    fits = fit_table(list(results.values()))
    fits.insert(1, "table", [spec.get("table") or "models" for spec in specs])   # the report's table group
    components = (pd.concat([r.components for r in results.values()], ignore_index=True) if results
                  else _empty(COMPONENT_COLUMNS))

    mi_coefs, mi_fits = [], []
    mi_cfg = cfg.mi
    for k, model_id in enumerate(cfg.imputed):
        spec = next(s for s in specs if s["id"] == model_id)
        mi = fit_imputed(spec, data, m=mi_cfg.m, seed=np.random.SeedSequence([seed, STREAM_IMPUTATION, k]),
                         n_iter=mi_cfg.n_iter, donors=mi_cfg.donors, auxiliary=list(mi_cfg.auxiliary),
                         n_jobs=mi_cfg.n_jobs, parallel=parallel, complete_case=results[model_id])
        pooled = mi.pooled.copy()
        pooled["model"] = f"{model_id}_mi"
        mi_coefs.append(pooled)
        mi_fits.append({**mi.fit, "model": f"{model_id}_mi", "table": "robustness"})
    pooled_all = pd.concat(mi_coefs, ignore_index=True) if mi_coefs else _empty(POOLED_COLUMNS)
    if mi_fits:
        fits = pd.concat([fits, pd.DataFrame(mi_fits)], ignore_index=True)

    med = _mediation_table(cfg, data, seed)
    iccs = _icc_table(list(cfg.icc), data, cfg.cluster)
    predictions = _empty(PREDICTION_COLUMNS)
    if cfg.predictions is not None:
        predictions = predict_grid(results[cfg.predictions.model], data, dict(cfg.predictions.grid))
    hypotheses = hypothesis_table(cfg, coefficients, med)
    return {"coefficients": coefficients, "mi_pooled": pooled_all, "fits": fits, "components": components,
            "mediation": med, "icc": iccs, "predictions": predictions, "hypotheses": hypotheses, "dropped": dropped}


def _dropped_table(specs: list[dict[str, Any]], data: pd.DataFrame) -> pd.DataFrame:
    """Every respondent each model leaves out (listwise deletion) and why: model, the respondent
    key (the indices' first column: the pseudonymous id, or the record without one), the model's
    variables it has no value of. ``fits.csv: n_dropped`` counts these rows."""
    key = str(data.columns[0])
    parts = []
    for spec in specs:
        gone = listwise_dropped(parse_spec(spec), data)
        parts.append(pd.DataFrame({"model": spec["id"], key: data.loc[gone.index, key].to_numpy(),
                                   "missing": gone.to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else _empty(["model", key, "missing"])


def key_metrics(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in tables["hypotheses"].itertuples():
        out[f"{r.hypothesis}_estimate"] = _round(r.estimate)
        out[f"{r.hypothesis}_conf_low"] = _round(r.conf_low)
        out[f"{r.hypothesis}_conf_high"] = _round(r.conf_high)
    for r in tables["icc"].itertuples():
        out[f"icc_{r.outcome}"] = _round(r.icc_icc)
    fits = tables["fits"]
    out["models_flagged"] = int((fits["status"].astype(str) != "ok").sum())
    out["n_models"] = int(len(fits))
    return out


def _round(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return round(x, 4) if np.isfinite(x) else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline models", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--indices", default=str(config.PROCESSED / "indices.parquet"))
    parser.add_argument("--out", default=str(config.PROCESSED / "models"))
    parser.add_argument("--metrics", default=str(config.METRICS / "models.json"))
    args = parser.parse_args(argv)
    params = config.load_settings(args.params)
    cfg = params.section("models")
    try:
        data = pd.read_parquet(args.indices)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise PipelineError(f"{args.indices}: cannot read the indices ({exc.__class__.__name__})",
                            hint="run the measurement stage first (dvc repro measurement)") from None
    # where the imputation chains run (params.yaml: parallel; the results are the same anywhere)
    tables = fit_all(data, cfg, params.seed, from_params(params, n_jobs=cfg.mi.n_jobs),
                     params_name=args.params, data_name=args.indices)
    metrics = key_metrics(tables)
    with atomic_dir(Path(args.out)) as out:
        for name, table in tables.items():
            write_csv(out / f"{name}.csv", table)
    write_json(args.metrics, metrics)
    print(json.dumps(metrics, ensure_ascii=False))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

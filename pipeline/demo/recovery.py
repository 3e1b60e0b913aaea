"""Recovery study: do the default models recover what the generator planted?

    python -m pipeline recovery --replications 200 --n-jobs 2 --out benchmarks/RECOVERY.md
    python -m pipeline recovery --scheduler tcp://HOST:8786 ...   # on a Dask cluster (docs/cluster.md)

Draws ``R`` replications of the demo study from the generator (seeds ``[seed, 1000 + r]``),
runs each through the same code as the pipeline (survey cleaning, indices, the configured
models and the H3 mediation; not multiple imputation) and reports per target parameter the bias,
the RMSE and the coverage of the 95 % intervals.

The estimand is the **index-scale population value**: the same model fitted by the same estimator
to one very large draw of the same design (``recovery.population_communities`` communities).
The generator's latent-scale coefficients (``raw/truth/survey_truth.json``) are not the target:
the indices are means of ordinal items, so their regression coefficients are attenuated and
rescaled versions of the latent ones; the table shows the latent value beside it.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.stats.fit import fit_model
from pipeline.stats.mediation import mediation
from pipeline.core.files import write_text
from pipeline.core.instrument import Instrument, load_instrument
from pipeline.stats.scoring import build_indices
from pipeline.stats.spec import derive, expand_specs
from pipeline.core.parallel import ParallelSettings, describe, from_params, run_tasks
from pipeline.core.schema import parse
from pipeline.core.settings import EstimateRef, Params
from pipeline.demo.settings import recovery_settings, simulate_settings
from pipeline.demo.simulate import simulate_survey
from pipeline.survey.clean import clean_survey
from pipeline.survey.read import SurveyFile

STREAM_REPLICATION = 1000
STREAM_POPULATION = 999


def analysed_indices(params: Params | Mapping[str, Any], instrument: Instrument, rng: np.random.Generator,
                     sim_overrides: dict[str, Any] | None = None) -> pd.DataFrame:
    """One simulated study through cleaning and index building, in memory. ``params``: the
    parameter file, typed or as the mapping read from it (so for every function here)."""
    params = parse(Params, params)
    study = simulate_survey(simulate_settings(params).model_copy(update=sim_overrides or {}), instrument, rng)
    raw = SurveyFile(path=Path("simulated.sav"), format="sav", encoding=None, frame=study.survey)
    survey = params.section("survey")
    key = (survey.demo_key if survey.demo_key is not None else "recovery").encode("utf-8")
    cleaned = clean_survey(raw, instrument, survey.given(), key, describe=False)
    comm_id = instrument.community_id or instrument.role("community")
    comm = study.communities.astype({comm_id: str})
    return build_indices(cleaned.clean, comm, instrument, params.section("measurement"))


def estimates(data: pd.DataFrame, params: Params | Mapping[str, Any],
              targets: Sequence[EstimateRef | Mapping[str, Any]], n_boot: int,
              rng: np.random.Generator, point_only: bool = False) -> pd.DataFrame:
    """Estimate and 95 % interval of every target in one dataset. ``point_only``: only the
    estimates are wanted (the population values), so a CR2 model is fitted with CR1: the same
    least-squares estimate bit for bit, without CR2's Satterthwaite df, whose J x J matrices
    (J clusters) cost most of the population draw's time and memory; its intervals are not CR2's."""
    cfg = parse(Params, params).section("models")
    data = derive(data, cfg.derived)
    specs = {s["id"]: s for s in expand_specs(cfg)}
    if point_only:
        specs = {k: {**s, "covariance": "cluster"} if s.get("covariance") == "cluster_cr2" else s
                 for k, s in specs.items()}
    fitted: dict[str, pd.DataFrame] = {}
    med = None
    rows = []
    for target in targets:
        target = parse(EstimateRef, target, "recovery.targets")
        if target.mediation is not None:
            if med is None:
                m = cfg.mediation
                if m is None:
                    raise PipelineError("params.yaml: recovery.targets names a mediation effect, but models.mediation is not set")
                med = mediation(data, m.x, m.m, m.y, covariates=list(m.covariates), cluster=cfg.mediation_cluster(),
                                n_boot=n_boot, rng=rng).effects
                med = med.set_index("effect")
            r = med.loc[target.mediation]
            rows.append({"target": f"mediation:{target.mediation}", "estimate": r["estimate"],
                         "conf_low": r["conf_low"], "conf_high": r["conf_high"]})
            continue
        mid = target.model
        if mid not in specs:
            raise PipelineError(f"params.yaml: recovery.targets names model '{mid}', which is not in models.specs")
        if mid not in fitted:
            fitted[mid] = fit_model(specs[mid], data).coefficients.set_index("term")
        coef = fitted[mid]
        if target.term not in coef.index:
            raise PipelineError(f"params.yaml: recovery.targets: model '{mid}' has no term '{target.term}'")
        r = coef.loc[target.term]
        rows.append({"target": f"{mid}:{target.term}", "estimate": r["estimate"],
                     "conf_low": r["conf_low"], "conf_high": r["conf_high"]})
    return pd.DataFrame(rows)


def one_replication(r: int, params: Params | Mapping[str, Any], instrument: Instrument) -> pd.DataFrame:
    params = parse(Params, params)
    cfg = recovery_settings(params)
    rng = np.random.default_rng([params.seed, STREAM_REPLICATION + r])
    data = analysed_indices(params, instrument, rng)
    out = estimates(data, params, cfg.targets, cfg.n_boot, rng)
    out.insert(0, "replication", r)
    return out


def population_values(params: Params | Mapping[str, Any], instrument: Instrument) -> pd.DataFrame:
    """Each target fitted on one very large draw of the design (the index-scale estimand)."""
    params = parse(Params, params)
    cfg = recovery_settings(params)
    rng = np.random.default_rng([params.seed, STREAM_POPULATION])
    data = analysed_indices(params, instrument, rng, {"n_communities": cfg.population_communities})
    return estimates(data, params, cfg.targets, 2, rng, point_only=True)[["target", "estimate"]].rename(
        columns={"estimate": "population"})


POPULATION = -1     # the task that draws the population values, run beside the replications


def _task(r: int, params: Params, instrument: Instrument) -> pd.DataFrame:
    """Replication ``r``, or the population values for ``r == POPULATION``."""
    if r == POPULATION:
        return population_values(params, instrument)
    return one_replication(r, params, instrument)


def summarise(draws: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE and coverage per target."""
    d = draws.merge(population, on="target")
    d["error"] = d["estimate"] - d["population"]
    d["covered"] = (d["conf_low"] <= d["population"]) & (d["population"] <= d["conf_high"])
    g = d.groupby("target", sort=False)
    return pd.DataFrame({
        "population": g["population"].first(),
        "mean_estimate": g["estimate"].mean(),
        "bias": g["error"].mean(),
        "rmse": g["error"].apply(lambda e: float(np.sqrt(np.mean(e**2)))),
        "coverage": g["covered"].mean(),
        "replications": g.size(),
    }).reset_index()


def run(params: Params | Mapping[str, Any], instrument: Instrument, replications: int,
        parallel: ParallelSettings | int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary and every replication's estimates. ``parallel``: where the replications run
    (:mod:`pipeline.core.parallel`; an integer is a number of local processes). Replication r draws
    from its own seed ``[seed, 1000 + r]``, so the result is the same on any backend."""
    params = parse(Params, params)
    task = partial(_task, params=params, instrument=instrument)
    # the population draw (the longest task) first, so one worker runs it while the others
    # start on the replications; results come back in task order
    population, *reps = run_tasks(task, [POPULATION, *range(replications)], parallel)
    draws = pd.concat(reps, ignore_index=True)
    return summarise(draws, population), draws


def render(summary: pd.DataFrame, replications: int, seconds: float | None = None) -> str:
    lines = [
        "# Recovery of the planted effects",
        "",
        f"`python -m pipeline recovery --replications {replications}`: {replications} replications of the demo",
        "study, each cleaned, scored and modelled as the pipeline does. Target: the index-scale",
        "population value (the same model on one draw of `recovery.population_communities` communities).",
        "Coverage of the 95 % intervals should lie between 0.92 and 0.98.",
        "",
        "| target | population value | mean estimate | bias | RMSE | coverage |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary.itertuples():
        lines.append(f"| {r.target} | {r.population:.4f} | {r.mean_estimate:.4f} | {r.bias:+.4f} | {r.rmse:.4f} | {r.coverage:.3f} |")
    if seconds is not None:
        lines += ["", f"Wall time: {seconds:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    import time

    parser = argparse.ArgumentParser(prog="pipeline recovery", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--replications", type=int, default=None)
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="local worker processes (default: params.yaml parallel.n_jobs)")
    parser.add_argument("--backend", choices=["auto", "loky", "dask"], default=None,
                        help="default: params.yaml parallel.backend (dask when a scheduler is given)")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address, e.g. tcp://HOST:8786 (docs/cluster.md); default: params.yaml parallel.scheduler")
    parser.add_argument("--out", default=None, help="write the Markdown table here (default: print it)")
    parser.add_argument("--draws", default=None, help="also write every replication's estimates (CSV)")
    args = parser.parse_args(argv)
    params = config.load_settings(args.params)
    instrument = load_instrument(params.instrument)
    reps = args.replications or recovery_settings(params).replications
    backend = args.backend or ("dask" if args.scheduler else None)   # --scheduler alone means that cluster
    parallel = from_params(params, n_jobs=args.n_jobs, backend=backend, scheduler=args.scheduler)
    print(f"recovery: {reps} replications on {describe(parallel)}", file=sys.stderr)
    start = time.perf_counter()
    summary, draws = run(params, instrument, reps, parallel)
    text = render(summary, reps, time.perf_counter() - start)
    if args.out:
        write_text(args.out, text)
    if args.draws:
        write_text(args.draws, draws.to_csv(index=False, lineterminator="\n"))
    print(text)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

"""Single-mediator mediation by the product of coefficients with a cluster bootstrap
(:func:`mediation`, H3)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.parallel import ParallelSettings, as_settings, run_tasks
from pipeline.stats.covariance import FEW_CLUSTERS, _cluster_codes, _status, sandwich
from pipeline.stats.frame import _check_rank, _design, _is_numeric, _missing_column, _model_frame
from pipeline.stats.spec import _err, _quote, parse_spec

MEDIATION_COLUMNS = ("model", "effect", "estimate", "std_error", "boot_se", "conf_low",
                     "conf_high", "ci_method", "cov_type")


@dataclass(frozen=True, eq=False)
class MediationResult:
    """Product-of-coefficients mediation as data.

    ``effects`` has one row per effect (columns :data:`MEDIATION_COLUMNS`): ``a`` (x -> m),
    ``b`` (m -> y given x), ``direct`` (c', x -> y given m), ``indirect`` (a*b), ``total``
    (c, x -> y without m; c = c' + a*b exactly for OLS on one sample) and
    ``proportion_mediated`` (a*b / c). ``std_error`` is the analytic (cluster-robust CR1, or
    classical without clusters) standard error of a single coefficient, NaN for the indirect
    effect and the proportion; ``boot_se`` the bootstrap standard deviation; ``conf_low``/
    ``conf_high`` the percentile bootstrap interval. ``info``: n_obs, n_dropped, n_clusters,
    n_boot, n_boot_failed, level, status.
    """

    model: str
    effects: pd.DataFrame
    info: dict[str, Any]
    draws: pd.DataFrame = field(repr=False)  # the bootstrap replications (one row each)


def _as_generator(rng: np.random.Generator | int | np.random.SeedSequence,
                  what: str) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise PipelineError(f"{what} needs a seed (an int) or a numpy Generator, not {rng!r}",
                        "pass the seed from params.yaml; the clock is never used")


def _mediation_coefs(Xa: np.ndarray, Xb: np.ndarray, m: np.ndarray, y: np.ndarray,
                     rows: np.ndarray) -> np.ndarray:
    """(a, b, c', c) by OLS on the given rows; NaN when a design is rank deficient.
    Column 1 of Xa is x; columns 1 and 2 of Xb are x and m."""
    A, B = Xa[rows], Xb[rows]
    coef_a, _, rank_a, _ = np.linalg.lstsq(A, np.column_stack((m[rows], y[rows])), rcond=None)
    coef_b, _, rank_b, _ = np.linalg.lstsq(B, y[rows], rcond=None)
    if rank_a < A.shape[1] or rank_b < B.shape[1]:
        return np.full(4, np.nan)
    return np.array([coef_a[1, 0], coef_b[2], coef_b[1], coef_a[1, 1]])


def _cluster_crossproducts(Xb: np.ndarray, y: np.ndarray, codes: np.ndarray, n_units: int) -> np.ndarray:
    """Per resampling unit g, the cross-product matrix Z_g'Z_g of Z = [Xb | y] (flattened).

    A cluster bootstrap replicate of any OLS fit on columns of Z is then exact from
    sum_g w_g Z_g'Z_g, with w_g the number of times unit g was drawn: no refit over the rows."""
    Z = np.column_stack((Xb, y))
    q = Z.shape[1]
    out = np.zeros((n_units, q * q))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_units + 1))
    for g in range(n_units):
        Zg = Z[order[bounds[g]:bounds[g + 1]]]
        out[g] = (Zg.T @ Zg).ravel()
    return out


def _ols_from_cross(M: np.ndarray, design: list[int], targets: Sequence[int]) -> list[np.ndarray]:
    """For a stack of cross-product matrices M (R x q x q), the OLS coefficients of each column
    in ``targets`` on the columns ``design``: one R x len(design) array per target, NaN rows
    where the design's cross products are rank deficient. numpy's linalg works through a stack
    one matrix at a time (the same LAPACK call as for a single matrix: the same numbers); one
    rank check serves every target."""
    A = M[:, design][:, :, design]
    full = np.linalg.matrix_rank(A) == len(design)
    out = []
    for target in targets:
        coefs = np.full((len(M), len(design)), np.nan)
        if full.any():
            coefs[full] = np.linalg.solve(A[full], M[full][:, design, target][:, :, None])[:, :, 0]
        out.append(coefs)
    return out


def _mediation_replicates(units: np.ndarray, draws: np.ndarray, k: int, grouped: bool) -> np.ndarray:
    """(a, b, c', c) for each row of ``draws`` (unit indices). ``units`` holds the clusters'
    flattened cross products (``grouped``) or the rows of Z themselves (individual resampling).
    Columns of Z: 0 intercept, 1 x, 2 m, 3..k-1 covariates, k y."""
    n_units = units.shape[0]
    q = k + 1
    cols_a = [0, 1] + list(range(3, k))
    cols_b = list(range(k))
    M = np.empty((len(draws), q, q))
    for r in range(len(draws)):
        counts = np.bincount(draws[r], minlength=n_units).astype(float)
        if grouped:
            M[r] = (counts @ units).reshape(q, q)
        else:
            M[r] = (units * counts[:, None]).T @ units
    fa_m, fa_y = _ols_from_cross(M, cols_a, [2, k])
    (fb,) = _ols_from_cross(M, cols_b, [k])
    out = np.column_stack((fa_m[:, 1], fb[:, 2], fb[:, 1], fa_y[:, 1]))
    out[np.isnan(fa_m).any(axis=1) | np.isnan(fb).any(axis=1)] = np.nan
    return out


def _replicates_of(draws: np.ndarray, *, units: np.ndarray, k: int, grouped: bool) -> np.ndarray:
    return _mediation_replicates(units, draws, k, grouped)


def mediation(data: pd.DataFrame, x: str, m: str, y: str, covariates: Sequence[str] = (),
              cluster: str | None = None, n_boot: int = 1000, *,
              rng: np.random.Generator | int, level: float = 0.95,
              parallel: ParallelSettings | int | None = None, model_id: str = "mediation") -> MediationResult:
    """Single-mediator mediation by the product of coefficients (H3: x = governance,
    m = participation, y = identity), with a bootstrap that resamples whole clusters.

    Models (OLS): m ~ x + covariates (a), y ~ x + m + covariates (b, c'), y ~ x + covariates
    (c). ``covariates`` are formula terms (``"age"``, ``"C(city)"``). The bootstrap draws
    ``n_boot`` samples of G clusters with replacement (individuals without ``cluster``) and
    refits; the interval is the percentile interval of the replications. All draws are taken
    from ``rng`` (a seed or Generator; required, never the clock) before any fitting, so the
    result does not depend on where the replications run (``parallel``: worker processes or
    :class:`pipeline.core.parallel.ParallelSettings`; the one parallel path). Replications with a rank
    deficient design (x constant in the resample, say) are dropped and counted.
    """
    gen = _as_generator(rng, "mediation")
    spec_id = model_id
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    spec = _mediation_spec(data, x, m, y, covariates, cluster, n_boot, spec_id)
    mf = _model_frame(spec, data)
    frame = mf.frame
    for name in (x, m, y):
        if not (_is_numeric(frame[name]) or pd.api.types.is_bool_dtype(frame[name].dtype)):
            raise _err(spec_id, f"mediation variable {name!r} must be numeric")
    C = _design(spec, frame, " + ".join(["1"] + covariates))
    xv, mv, yv = (frame[v].to_numpy(float) for v in (x, m, y))
    Cv = C.to_numpy(float)
    Xa = np.column_stack((Cv[:, :1], xv, Cv[:, 1:]))
    Xb = np.column_stack((Cv[:, :1], xv, mv, Cv[:, 1:]))
    _check_rank(spec_id, pd.DataFrame(Xb, columns=["Intercept", x, m] + list(C.columns[1:])))
    n = len(yv)
    point = _mediation_coefs(Xa, Xb, mv, yv, np.arange(n))

    flags: list[str] = []
    if cluster:
        codes, G = _cluster_codes(frame[cluster].to_numpy())
        if G < 2:
            raise _err(spec_id, f"cluster {cluster!r} has a single value")
        if G < FEW_CLUSTERS:
            flags.append(f"few clusters (G={G}): the cluster bootstrap is unreliable")
    else:
        codes, G = np.arange(n), None
    se = _analytic_ses(Xa, Xb, mv, yv, codes if G is not None else None)
    boot = _bootstrap(Xb, yv, codes, G, gen.integers(0, G if G is not None else n, size=(n_boot, G or n)), parallel)
    ok = np.all(np.isfinite(boot), axis=1)
    n_failed = int((~ok).sum())
    if n_failed > 0.05 * n_boot:
        flags.append(f"{n_failed} of {n_boot} bootstrap replications failed (rank deficient "
                     "resamples); the interval rests on the rest")
    if ok.sum() < 2:
        raise _err(spec_id, "fewer than two bootstrap replications could be fitted")
    effects = _effects_table(spec_id, point, se, boot[ok], level, G is not None)
    info = {"model": spec_id, "x": x, "m": m, "y": y, "covariates": covariates,
            "cluster": cluster, "n_obs": n, "n_dropped": mf.n_dropped, "n_clusters": G,
            "n_boot": n_boot, "n_boot_failed": n_failed, "level": level,
            "status": _status(flags)}
    draws_frame = pd.DataFrame(boot, columns=["a", "b", "direct", "total"])
    return MediationResult(model=spec_id, effects=effects, info=info, draws=draws_frame)


def _mediation_spec(data: pd.DataFrame, x: str, m: str, y: str, covariates: list[str], cluster: str | None,
                    n_boot: Any, spec_id: str) -> Any:
    """The outcome model's spec (y ~ 1 + x + m + covariates), after checking the arguments."""
    for role, name in (("x", x), ("m", m), ("y", y)):
        if not isinstance(name, str) or name not in data.columns:
            raise _missing_column(spec_id, f"mediation {role}", str(name), list(data.columns))
    if len({x, m, y}) < 3:
        raise _err(spec_id, "x, m and y must be three different variables")
    if not isinstance(n_boot, int) or n_boot < 2:
        raise _err(spec_id, f"n_boot must be an integer of at least 2, not {n_boot!r}")
    rhs = " + ".join(["1", _quote(x), _quote(m)] + covariates)
    raw_spec = {"id": spec_id, "formula": f"{_quote(y)} ~ {rhs}"}
    if cluster:
        raw_spec["cluster"] = cluster
    return parse_spec(raw_spec)


def _analytic_ses(Xa: np.ndarray, Xb: np.ndarray, mv: np.ndarray, yv: np.ndarray,
                  codes: np.ndarray | None) -> list[float]:
    """The analytic standard errors of a, b, c' and c: cluster-robust (CR1) by ``codes``, else
    classical OLS."""
    n = len(yv)

    def coef_se(design: np.ndarray, target: np.ndarray, j: int) -> float:
        bread = np.linalg.inv(design.T @ design)
        beta = bread @ design.T @ target
        resid = target - design @ beta
        if codes is not None:
            V = sandwich(bread, design * resid[:, None], "cluster", codes)
        else:
            V = bread * (resid @ resid) / (n - design.shape[1])
        return float(np.sqrt(V[j, j]))

    return [coef_se(Xa, mv, 1), coef_se(Xb, yv, 2), coef_se(Xb, yv, 1), coef_se(Xa, yv, 1)]


def _bootstrap(Xb: np.ndarray, yv: np.ndarray, codes: np.ndarray, G: int | None, draws: np.ndarray,
               parallel: ParallelSettings | int | None) -> np.ndarray:
    """(a, b, c', c) of every resample (rows of ``draws``: cluster or respondent indices; NaN
    where the resample's design is rank deficient). Clusters are resampled through their cross
    products: exact for OLS, and a replicate's cost no longer grows with the respondents."""
    grouped = G is not None
    units = _cluster_crossproducts(Xb, yv, codes, G) if grouped else np.column_stack((Xb, yv))
    k = Xb.shape[1]
    settings = as_settings(parallel)
    if settings.backend == "loky" and settings.n_jobs == 1:
        return _mediation_replicates(units, draws, k, grouped)
    workers = settings.n_jobs if settings.n_jobs > 0 else (os.cpu_count() or 1)
    chunks = [c for c in np.array_split(draws, 4 * workers) if len(c)]
    return np.vstack(run_tasks(partial(_replicates_of, units=units, k=k, grouped=grouped), chunks, settings))


def _effects_table(spec_id: str, point: Sequence[float], se: Sequence[float], boot: np.ndarray, level: float,
                   clustered: bool) -> pd.DataFrame:
    """One row per effect: the estimate, its analytic SE (a, b, direct, total), the bootstrap SE
    and the percentile interval of the usable replications ``boot``."""
    a, b, direct, total = boot.T
    table = {"a": a, "b": b, "direct": direct, "indirect": a * b, "total": total,
             "proportion_mediated": a * b / total}
    estimates = {"a": point[0], "b": point[1], "direct": point[2],
                 "indirect": point[0] * point[1], "total": point[3],
                 "proportion_mediated": point[0] * point[1] / point[3]}
    ses = {"a": se[0], "b": se[1], "direct": se[2], "total": se[3]}
    alpha = 1 - level
    rows = []
    for effect, reps in table.items():
        lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
        rows.append((spec_id, effect, estimates[effect], ses.get(effect, np.nan),
                     float(np.std(reps, ddof=1)), lo, hi,
                     "percentile cluster bootstrap" if clustered else "percentile bootstrap",
                     "cluster" if clustered else "classical"))
    return pd.DataFrame(rows, columns=list(MEDIATION_COLUMNS))

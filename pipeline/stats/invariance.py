"""Measurement invariance across groups: the chi-square difference test of nested CFA models
(:func:`lr_test`, lavaan's ``lavTestLRT`` for ML) and the configural / metric / scalar / partial
scalar sequence (:func:`measurement_invariance`), fitted by :func:`pipeline.stats.cfa.fit_cfa`."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.stats.cfa import STATUS_OK, CFAResult, fit_cfa
from pipeline.stats.cfa_model import _normalise_factors
from pipeline.stats.distributions import chi2_sf


TABLE_COLUMNS = ("model", "status", "free_intercepts", "npar", "chisq", "df", "pvalue", "cfi", "tli",
                 "rmsea", "srmr", "aic", "bic", "compared_with", "chisq_diff", "df_diff", "pvalue_diff",
                 "delta_cfi", "delta_rmsea", "holds")
SEARCH_COLUMNS = ("step", "item", "chisq", "chisq_drop", "status", "chosen")


@dataclass(frozen=True)
class InvarianceResult:
    """The configural / metric / scalar (/ partial scalar) sequence of :func:`measurement_invariance`.

    ``table`` has one row per fitted model in the sequence with its fit measures and the
    comparison with the model it is nested in (``chisq_diff``, ``df_diff``, ``pvalue_diff``,
    ``delta_cfi`` = CFI(this) - CFI(reference), ``delta_rmsea`` = RMSEA(this) -
    RMSEA(reference), ``holds``). ``level`` is the strongest level supported: ``"none"`` (the
    configural model failed), ``"configural"``, ``"metric"``, ``"partial_scalar"`` or
    ``"scalar"``. ``freed_intercepts`` are the items whose intercepts the partial search
    released (in order), ``search`` one row per candidate refit (``step``, ``item``, ``chisq``,
    ``chisq_drop`` relative to the model of the previous step, ``status``, ``chosen``).
    """

    status: str
    message: str
    level: str
    models: dict[str, CFAResult] = field(repr=False, compare=False)
    table: pd.DataFrame = field(repr=False, compare=False)
    freed_intercepts: tuple[str, ...] = ()
    search: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


def lr_test(restricted: CFAResult, general: CFAResult) -> dict[str, float]:
    """Chi-square difference test of nested ML models (lavaan's ``lavTestLRT`` for standard ML):
    ``chisq_diff = chisq(restricted) - chisq(general)`` on ``df_diff`` degrees of freedom, plus
    ``delta_cfi`` and ``delta_rmsea`` (restricted minus general). NaN if either model failed."""
    keys = ("chisq_diff", "df_diff", "pvalue_diff", "delta_cfi", "delta_rmsea")
    if not (restricted.ok and general.ok):
        return dict.fromkeys(keys, np.nan)
    d = restricted["chisq"] - general["chisq"]
    ddf = restricted["df"] - general["df"]
    pv = float(chi2_sf(d, ddf)) if ddf > 0 else np.nan
    return {"chisq_diff": d, "df_diff": ddf, "pvalue_diff": pv,
            "delta_cfi": restricted["cfi"] - general["cfi"],
            "delta_rmsea": restricted["rmsea"] - general["rmsea"]}


def _holds(test: dict[str, float], delta_cfi: float, delta_rmsea: float, lrt_alpha: float | None) -> bool:
    if not np.isfinite(test["delta_cfi"]):
        return False
    ok = test["delta_cfi"] >= -delta_cfi and test["delta_rmsea"] <= delta_rmsea
    if lrt_alpha is not None:
        ok = ok and (not np.isfinite(test["pvalue_diff"]) or test["pvalue_diff"] >= lrt_alpha)
    return bool(ok)


def measurement_invariance(
    data: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    group: str,
    *,
    delta_cfi: float = 0.01,
    delta_rmsea: float = 0.015,
    lrt_alpha: float | None = None,
    max_free_intercepts: int = 3,
    min_group_n: int | None = None,
    max_iter: int = 500,
) -> InvarianceResult:
    """Fit configural, metric and scalar models in sequence and, if scalar invariance is
    rejected, search for partial scalar invariance.

    A constrained model "holds" against the model it is nested in when CFI drops by at most
    ``delta_cfi`` and RMSEA rises by at most ``delta_rmsea`` (Chen 2007), and, if
    ``lrt_alpha`` is given, the chi-square difference test is not significant at that level.
    The sequence stops at the first level that does not hold (scalar is not tested without
    metric invariance).

    Partial scalar search: starting from the scalar model, each intercept still held equal is
    freed in turn and the model refitted; the item whose release lowers chi-square most is freed
    (a likelihood-ratio criterion: exact where lavaan's ``lavTestScore`` univariate score test
    is its first-order approximation, and affordable for a handful of items). Intercepts are
    not freed when that would leave a factor with no equal intercept (its latent mean would
    not be identified). The partial model is compared with the metric model; the search
    repeats until it holds or ``max_free_intercepts`` items have been freed.
    """
    results: dict[str, CFAResult] = {}
    rows: list[dict] = []

    def add_row(name: str, res: CFAResult, ref: str | None, test: dict | None, holds: bool | None) -> None:
        rows.append(_table_row(name, res, ref, test, holds))

    def holds(test: dict[str, float]) -> bool:
        return _holds(test, delta_cfi, delta_rmsea, lrt_alpha)

    kw = dict(group=group, min_group_n=min_group_n, max_iter=max_iter)
    table_cols, search_cols = list(TABLE_COLUMNS), list(SEARCH_COLUMNS)

    def done(status: str, message: str, level: str, freed: tuple[str, ...] = (),
             search: list[dict] | None = None) -> InvarianceResult:
        return InvarianceResult(status=status, message=message, level=level, models=results,
                                table=pd.DataFrame(rows, columns=table_cols), freed_intercepts=freed,
                                search=pd.DataFrame(search or [], columns=search_cols))

    conf = fit_cfa(data, factors, equal=(), **kw)
    results["configural"] = conf
    add_row("configural", conf, None, None, None)
    if not conf.ok:
        return done(conf.status, f"configural model: {conf.message}", "none")
    metric = fit_cfa(data, factors, equal=("loadings",), start=conf.estimates, **kw)
    results["metric"] = metric
    if not metric.ok:
        add_row("metric", metric, "configural", None, None)
        return done(metric.status, f"metric model: {metric.message}", "configural")
    t = lr_test(metric, conf)
    h = holds(t)
    add_row("metric", metric, "configural", t, h)
    if not h:
        return done(STATUS_OK, "metric invariance rejected", "configural")
    scalar = fit_cfa(data, factors, equal=("loadings", "intercepts"), start=metric.estimates, **kw)
    results["scalar"] = scalar
    if not scalar.ok:
        add_row("scalar", scalar, "metric", None, None)
        return done(scalar.status, f"scalar model: {scalar.message}", "metric")
    t = lr_test(scalar, metric)
    h = holds(t)
    add_row("scalar", scalar, "metric", t, h)
    if h:
        return done(STATUS_OK, "scalar invariance holds", "scalar")

    freed, search, held = _partial_scalar_search(data, factors, kw, metric, scalar, max_free_intercepts,
                                                 holds, results, add_row)
    if held:
        return done(STATUS_OK, f"partial scalar invariance with free intercepts {freed}",
                    "partial_scalar", tuple(freed), search)
    return done(STATUS_OK, f"scalar invariance rejected; freeing intercepts {freed} was not enough",
                "metric", tuple(freed), search)


def _table_row(name: str, res: CFAResult, ref: str | None, test: dict | None, holds: bool | None) -> dict:
    """One row of the invariance table (:data:`TABLE_COLUMNS`): the model's fit measures and
    its comparison with the model ``ref`` it is nested in (NaN and ``holds`` None without one)."""
    row = {"model": name, "status": res.status, "free_intercepts": ",".join(res.free_intercepts)}
    for k in ("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic"):
        row[k] = res[k]
    row["compared_with"] = ref or ""
    for k in ("chisq_diff", "df_diff", "pvalue_diff", "delta_cfi", "delta_rmsea"):
        row[k] = (test or {}).get(k, np.nan)
    row["holds"] = holds
    return row


def _free_candidates(indicators: dict[str, tuple[str, ...]], freed: list[str]) -> list[str]:
    """The items whose intercepts may be freed next: those still held equal, in factors that
    would keep at least one equal intercept."""
    candidates = []
    for f, its in indicators.items():
        still_equal = [i for i in its if i not in freed]
        if len(still_equal) < 2:
            continue  # freeing it would leave the factor without an equal intercept
        candidates.extend(i for i in still_equal if i not in candidates)
    return candidates


def _partial_scalar_search(data: pd.DataFrame, factors: Mapping[str, Sequence[str]], kw: dict,
                           metric: CFAResult, scalar: CFAResult, max_free_intercepts: int,
                           holds: Callable[[dict[str, float]], bool], results: dict[str, CFAResult],
                           add_row: Callable[..., None]) -> tuple[list[str], list[dict], bool]:
    """The partial scalar search of :func:`measurement_invariance`: free, step by step, the
    intercept whose release lowers chi-square most, until the partial model holds against the
    metric model or ``max_free_intercepts`` are free. Each chosen model goes into ``results``
    and the table (``add_row``); returns the freed items, the search rows and whether it held."""
    indicators, _ = _normalise_factors(factors)
    freed: list[str] = []
    search: list[dict] = []
    current = scalar
    for step in range(1, max_free_intercepts + 1):
        candidates = _free_candidates(indicators, freed)
        if not candidates:
            break
        tries = []
        for item in candidates:
            res = fit_cfa(data, factors, equal=("loadings", "intercepts"), free_intercepts=(*freed, item),
                          start=current.estimates, **kw)
            drop = current["chisq"] - res["chisq"] if res.ok else np.nan
            tries.append((item, res, drop))
            search.append({"step": step, "item": item, "chisq": res["chisq"], "chisq_drop": drop,
                           "status": res.status, "chosen": False})
        usable = [tr for tr in tries if tr[1].ok]
        if not usable:
            break
        item, best, _ = max(usable, key=lambda tr: tr[2])
        for row in search:
            if row["step"] == step and row["item"] == item:
                row["chosen"] = True
        freed.append(item)
        current = best
        name = f"partial_scalar_{step}"
        results[name] = best
        t = lr_test(best, metric)
        h = holds(t)
        add_row(name, best, "metric", t, h)
        if h:
            return freed, search, True
    return freed, search, False

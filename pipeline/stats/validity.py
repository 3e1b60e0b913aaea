"""Convergent and discriminant validity of a measurement model: composite reliability and AVE
from a fitted CFA (:func:`composite_reliability`), the Fornell-Larcker criterion
(:func:`fornell_larcker`) and the heterotrait-monotrait ratio from an item correlation matrix
(:func:`htmt`)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.stats.cfa import CFAResult
from pipeline.stats.cfa_model import _normalise_factors


def composite_reliability(result: CFAResult) -> pd.DataFrame:
    """Composite reliability and average variance extracted per factor (and group).

    From the standardised solution (``std.all``): ``cr = (sum l)^2 / ((sum l)^2 + sum theta)``
    with ``theta`` the standardised residual variances of the factor's items, ``ave = mean(l^2)``
    (Fornell & Larcker 1981). Columns: group, factor, n_items, cr, ave, sqrt_ave. NaN when the
    model did not fit.
    """
    cols = ["group", "factor", "n_items", "cr", "ave", "sqrt_ave"]
    if not result.ok:
        return pd.DataFrame([{"group": g, "factor": f, "n_items": len(result.indicators.get(f, ())),
                              "cr": np.nan, "ave": np.nan, "sqrt_ave": np.nan}
                             for g in result.groups for f in result.factors], columns=cols)
    est = result.estimates
    rows = []
    for g in result.groups:
        eg = est[est["group"] == g]
        for f in result.factors:
            its = result.indicators[f]
            lam = eg.loc[(eg["op"] == "=~") & (eg["lhs"] == f), "std_all"].to_numpy()
            is_res = (eg["op"] == "~~") & (eg["lhs"] == eg["rhs"]) & eg["lhs"].isin(its)
            th = eg.loc[is_res, "std_all"].to_numpy()
            s = float(np.sum(lam))
            cr = s ** 2 / (s ** 2 + float(np.sum(th)))
            ave = float(np.mean(lam ** 2))
            rows.append({"group": g, "factor": f, "n_items": len(its), "cr": cr, "ave": ave,
                         "sqrt_ave": math.sqrt(ave)})
    return pd.DataFrame(rows, columns=cols)


def fornell_larcker(result: CFAResult) -> pd.DataFrame:
    """Fornell-Larcker criterion per pair of factors (and group).

    Columns: group, factor1, factor2, r (the model-implied factor correlation, ``std.all``),
    sqrt_ave1, sqrt_ave2, holds (``|r| < min(sqrt_ave1, sqrt_ave2)``; discriminant validity
    needs it for every pair).
    """
    cols = ["group", "factor1", "factor2", "r", "sqrt_ave1", "sqrt_ave2", "holds"]
    rel = composite_reliability(result)
    rows = []
    for g in result.groups:
        sq = rel[rel["group"] == g].set_index("factor")["sqrt_ave"]
        eg = result.estimates[result.estimates["group"] == g] if result.ok else None
        for i, a in enumerate(result.factors):
            for b in result.factors[i + 1:]:
                r = np.nan
                if eg is not None:
                    hit = eg[(eg["op"] == "~~") & (eg["lhs"] == a) & (eg["rhs"] == b)]
                    r = float(hit["std_all"].iloc[0]) if len(hit) else np.nan
                holds = bool(abs(r) < min(sq[a], sq[b])) if np.isfinite(r) else None
                rows.append({"group": g, "factor1": a, "factor2": b, "r": r, "sqrt_ave1": sq[a],
                             "sqrt_ave2": sq[b], "holds": holds})
    return pd.DataFrame(rows, columns=cols)


def htmt(corr: pd.DataFrame, factors: Mapping[str, Sequence[str]], *, absolute: bool = True) -> pd.DataFrame:
    """Heterotrait-monotrait ratio of correlations (Henseler, Ringle & Sarstedt 2015).

    ``corr`` is an item correlation matrix (e.g. ``data[items].corr()``, Pearson, with the
    items as index and columns). For factors A and B: the mean of the correlations between
    items of A and items of B, divided by the geometric mean of the average within-factor
    correlations of A and of B (off-diagonal). ``absolute=True`` (semTools' default) uses
    absolute correlations. Returns a symmetric factor x factor DataFrame with 1 on the
    diagonal; NaN for a pair involving a factor with fewer than two items.
    """
    indicators, items = _normalise_factors(factors)
    if not isinstance(corr, pd.DataFrame):
        raise PipelineError("htmt needs the item correlation matrix as a DataFrame")
    missing = [i for i in items if i not in corr.index or i not in corr.columns]
    if missing:
        raise PipelineError(f"items {missing} are not in the correlation matrix")
    r = corr.loc[list(items), list(items)].to_numpy(dtype=float)
    if absolute:
        r = np.abs(r)
    pos = {it: i for i, it in enumerate(items)}
    names = list(indicators)

    def mono(f: str) -> float:
        idx = [pos[i] for i in indicators[f]]
        if len(idx) < 2:
            return np.nan
        block = r[np.ix_(idx, idx)]
        return float(block[np.triu_indices(len(idx), 1)].mean())

    out = np.eye(len(names))
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            ia = [pos[i] for i in indicators[names[a]]]
            ib = [pos[i] for i in indicators[names[b]]]
            hetero = float(r[np.ix_(ia, ib)].mean())
            denom = mono(names[a]) * mono(names[b])
            val = hetero / math.sqrt(denom) if np.isfinite(denom) and denom > 0 else np.nan
            out[a, b] = out[b, a] = val
    return pd.DataFrame(out, index=names, columns=names)

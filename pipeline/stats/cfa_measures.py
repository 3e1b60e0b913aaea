"""Fit measures of a fitted CFA as ``lavaan::fitMeasures`` computes them (chi-square, baseline,
CFI, TLI, RMSEA with its interval, SRMR, log-likelihood, AIC, BIC) and the estimates table with
lavaan's ``std.all``. Conventions: :mod:`pipeline.stats.cfa`."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize

from pipeline.stats.cfa_model import _Model, _Moments, _Objective, _Spec
from pipeline.stats.distributions import chi2_cdf, chi2_sf, ncx2_cdf, ncx2_sf, norm_sf

FIT_MEASURES = (
    "npar", "fmin", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue",
    "cfi", "tli", "logl", "unrestricted.logl", "aic", "bic", "ntotal", "rmsea", "rmsea.ci.lower",
    "rmsea.ci.upper", "rmsea.pvalue", "srmr", "srmr_bentler_nomean",
)

ESTIMATE_COLUMNS = ("lhs", "op", "rhs", "group", "est", "se", "z", "pvalue", "std_all", "free",
                    "par_id")

_RMSEA_CLOSE = 0.05
_RMSEA_LEVEL = 0.90
_NEAR_ZERO = 1e-5  # lavaan leaves elements below this unscaled in the SRMR residuals


def _rmsea_ci(x2: float, df: float, n: int, g: int, level: float = _RMSEA_LEVEL) -> tuple[float, float]:
    """lavaan's ``lav_fit_rmsea_ci`` (noncentral chi-square inversion)."""
    if not (np.isfinite(x2) and np.isfinite(df)) or df < 1:
        return 0.0, 0.0
    upper_p, lower_p = 1 - (1 - level) / 2, (1 - level) / 2

    def cdf(lam: float) -> float:
        return float(chi2_cdf(x2, df)) if lam <= 0 else float(ncx2_cdf(x2, df, lam))

    if cdf(0.0) - upper_p < 0:
        lo = 0.0
    else:
        lam_l = optimize.brentq(lambda lam: cdf(lam) - upper_p, 0.0, x2, xtol=1e-12, rtol=1e-14)
        lo = math.sqrt(lam_l / (n * df)) * math.sqrt(g)
    n_rmsea = max(n, x2 * 4)
    if cdf(n_rmsea) - lower_p > 0 or cdf(0.0) - lower_p < 0:
        hi = 0.0
    else:
        lam_u = optimize.brentq(lambda lam: cdf(lam) - lower_p, 0.0, n_rmsea, xtol=1e-12, rtol=1e-14)
        hi = math.sqrt(lam_u / (n * df)) * math.sqrt(g)
    return lo, hi


def _rescale(mat: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """lavaan's ``lav_residuals_rescale``: elements below 1e-5 in absolute value stay unscaled."""
    out = mat * scale
    near = np.abs(mat) < _NEAR_ZERO
    out[near] = mat[near]
    return out


def _srmr_group(s: np.ndarray, m: np.ndarray, sigma: np.ndarray, mu: np.ndarray,
                meanstructure: bool) -> tuple[float, float]:
    """SRMR of one group, lavaan's ``cor.bentler`` residuals: (with means, without means)."""
    sd = np.sqrt(np.diag(s))
    scov = 1.0 / np.outer(sd, sd)
    res = _rescale(s, scov) - _rescale(sigma, scov)
    tri = res[np.tril_indices_from(res)]
    nomean = math.sqrt(float(np.sum(tri ** 2)) / len(tri))
    if not meanstructure:
        return nomean, nomean
    rm = _rescale(m, 1.0 / sd) - _rescale(mu, 1.0 / sd)
    total = math.sqrt(float(np.sum(tri ** 2) + np.sum(rm ** 2)) / (len(tri) + len(rm)))
    return total, nomean


def _fit_measures(obj: _Objective, x: np.ndarray, fmin_g: np.ndarray, mom: _Moments, spec: _Spec,
                  df: int) -> dict[str, float]:
    n = mom.ntotal
    g_count = spec.n_groups
    p = len(spec.items)
    ns = np.asarray(mom.n, dtype=float)
    chisq = float(ns @ fmin_g)
    chisq = max(chisq, 0.0) if abs(chisq) < 1e-10 else chisq
    pvalue = float(chi2_sf(chisq, df)) if df > 0 else np.nan
    base_chisq = float(sum(ng * (np.sum(np.log(np.diag(s))) - ld)
                           for ng, s, ld in zip(ns, mom.cov, mom.logdet)))
    base_df = g_count * p * (p - 1) // 2
    base_p = float(chi2_sf(base_chisq, base_df)) if base_df > 0 else np.nan
    t1 = max(chisq - df, 0.0)
    t2 = max(chisq - df, base_chisq - base_df, 0.0)
    # lavaan: isTRUE(all.equal(t1, 0)) && isTRUE(all.equal(t2, 0)) -> 1
    both_zero = abs(t1) < 1.5e-8 and abs(t2) < 1.5e-8
    cfi = 1.0 if both_zero else 1 - t1 / t2
    tt1, tt2 = (chisq - df) * base_df, (base_chisq - base_df) * df
    tli = 1 - tt1 / tt2 if (df > 0 and abs(tt2) > 0) else 1.0
    rmsea = math.sqrt(max(chisq / n / df - 1.0 / n, 0.0)) * math.sqrt(g_count) if df > 0 else 0.0
    lo, hi = _rmsea_ci(chisq, df, n, g_count)
    if df > 0:
        ncp = n * df * _RMSEA_CLOSE ** 2 / g_count
        rmsea_p = float(ncx2_sf(chisq, df, ncp))
    else:
        rmsea_p = np.nan
    log2pi = math.log(2 * math.pi)
    logl = unres = 0.0
    srmr = srmr_nomean = 0.0
    st = obj._state(x)
    for g in range(g_count):
        ng = ns[g]
        _, sigma, mu, _, logdet = st[g]
        unres += -ng / 2 * (p * log2pi + mom.logdet[g] + p)
        logl += -ng / 2 * (p * log2pi + mom.logdet[g] + p + fmin_g[g])
        mu_g = mu if spec.meanstructure else mom.mean[g]
        tot, nom = _srmr_group(mom.cov[g], mom.mean[g], sigma, mu_g, spec.meanstructure)
        srmr += ng / n * tot
        srmr_nomean += ng / n * nom
    npar = spec.n_free
    out = {
        "npar": float(npar), "fmin": chisq / (2 * n), "chisq": chisq, "df": float(df), "pvalue": pvalue,
        "baseline.chisq": base_chisq, "baseline.df": float(base_df), "baseline.pvalue": base_p,
        "cfi": cfi, "tli": tli, "logl": logl, "unrestricted.logl": unres,
        "aic": -2 * logl + 2 * npar, "bic": -2 * logl + npar * math.log(n), "ntotal": float(n),
        "rmsea": rmsea, "rmsea.ci.lower": lo, "rmsea.ci.upper": hi, "rmsea.pvalue": rmsea_p,
        "srmr": srmr, "srmr_bentler_nomean": srmr_nomean,
    }
    return {k: float(out[k]) for k in FIT_MEASURES}


def _estimates_table(spec: _Spec, model: _Model, x: np.ndarray, vcov: np.ndarray, labels: list[str]
                     ) -> tuple[pd.DataFrame, bool, tuple[str, ...]]:
    se_free = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    rows = []
    heywood = False
    warns: list[str] = []
    mats_g = [model.matrices(x, g) for g in range(spec.n_groups)]
    for g, mats in enumerate(mats_g):
        sigma, _ = model.implied(mats)
        sd_ov = np.sqrt(np.clip(np.diag(sigma), 0.0, None))
        psi = mats["psi"]
        with np.errstate(invalid="ignore", divide="ignore"):
            sd_lv = np.where(np.diag(psi) > 0, np.sqrt(np.abs(np.diag(psi))), np.nan)
        neg = [spec.items[i] for i in range(len(spec.items)) if mats["theta"][i, i] < 0]
        where = "" if spec.n_groups == 1 else f" (group {labels[g]!r})"
        if neg:
            heywood = True
            warns.append(f"negative residual variances for {neg}{where}: improper solution (Heywood case)")
        if np.linalg.eigvalsh(psi)[0] < 0:
            heywood = True
            warns.append(f"the factor covariance matrix is not positive definite{where}")
        for e in spec.entries:
            if e.group != g:
                continue
            if e.mat == "lambda":
                est = mats["lambda"][e.row, e.col]
                std = est * sd_lv[e.col] / sd_ov[e.row]
            elif e.mat == "theta":
                est = mats["theta"][e.row, e.col]
                std = est / (sd_ov[e.row] * sd_ov[e.col])
            elif e.mat == "psi":
                est = psi[e.row, e.col]
                std = est / (sd_lv[e.row] * sd_lv[e.col])
            elif e.mat == "nu":
                est = mats["nu"][e.row]
                std = est / sd_ov[e.row]
            else:
                est = mats["alpha"][e.row]
                std = est / sd_lv[e.row]
            if e.par >= 0:
                se = float(se_free[e.par])
                z = est / se if se > 0 else np.nan
                pv = float(2 * norm_sf(abs(z))) if np.isfinite(z) else np.nan
            else:
                se, z, pv = 0.0, np.nan, np.nan
            rows.append({"lhs": e.lhs, "op": e.op, "rhs": e.rhs, "group": labels[g], "est": float(est),
                         "se": se, "z": float(z), "pvalue": pv, "std_all": float(std),
                         "free": e.par >= 0, "par_id": e.par if e.par >= 0 else -1})
    return pd.DataFrame(rows, columns=list(ESTIMATE_COLUMNS)), heywood, tuple(warns)

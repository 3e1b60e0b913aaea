"""The confirmatory factor model of :func:`pipeline.stats.cfa.fit_cfa`: the parameter table
(lavaan's partable, equality constraints as shared parameters), the model matrices and implied
moments of each group, and lavaan's ML objective ``fmin`` with its analytic gradient and expected
information. Conventions: :mod:`pipeline.stats.cfa`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from pipeline.core.errors import PipelineError


@dataclass(frozen=True)
class _Entry:
    """One row of the parameter table (lavaan's partable)."""

    group: int
    op: str
    lhs: str
    rhs: str
    mat: str  # lambda, theta, psi, nu, alpha
    row: int
    col: int
    par: int  # index into the free-parameter vector, -1 when fixed
    value: float  # the fixed value (ignored when free)


@dataclass(frozen=True)
class _Spec:
    factors: tuple[str, ...]
    items: tuple[str, ...]
    indicators: dict[str, tuple[str, ...]]
    n_groups: int
    meanstructure: bool
    entries: tuple[_Entry, ...]
    n_free: int


def _normalise_factors(factors: Mapping[str, Sequence[str]]
                       ) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    if not isinstance(factors, Mapping) or not factors:
        raise PipelineError("a CFA model needs a mapping of factor name -> list of items",
                            hint='e.g. {"visual": ["x1", "x2", "x3"]}')
    indicators: dict[str, tuple[str, ...]] = {}
    for f, its in factors.items():
        if isinstance(its, str) or not isinstance(its, Sequence):
            raise PipelineError(f"the items of factor {f!r} must be a list of column names")
        its = tuple(str(i) for i in its)
        if not its:
            raise PipelineError(f"factor {f!r} has no items")
        if len(set(its)) != len(its):
            raise PipelineError(f"factor {f!r} lists an item more than once: {list(its)}")
        indicators[str(f)] = its
    items = tuple(dict.fromkeys(i for its in indicators.values() for i in its))
    clash = sorted(set(indicators) & set(items))
    if clash:
        raise PipelineError(f"names {clash} are used both as a factor and as an item")
    return indicators, items


def _build_spec(indicators: dict[str, tuple[str, ...]], items: tuple[str, ...], n_groups: int,
                meanstructure: bool, equal: tuple[str, ...], free_intercepts: tuple[str, ...]) -> _Spec:
    factors = tuple(indicators)
    item_idx = {it: i for i, it in enumerate(items)}
    ids: dict[tuple, int] = {}

    def pid(shared: bool, g: int, *key: object) -> int:
        k = key if shared else (g, *key)
        return ids.setdefault(k, len(ids))

    latent_means_free = "intercepts" in equal and "means" not in equal
    entries: list[_Entry] = []
    for g in range(n_groups):
        for k, f in enumerate(factors):
            for j, it in enumerate(indicators[f]):
                i = item_idx[it]
                if j == 0:
                    entries.append(_Entry(g, "=~", f, it, "lambda", i, k, -1, 1.0))
                else:
                    entries.append(_Entry(g, "=~", f, it, "lambda", i, k,
                                          pid("loadings" in equal, g, "lambda", i, k), np.nan))
        for i, it in enumerate(items):
            entries.append(_Entry(g, "~~", it, it, "theta", i, i,
                                  pid("residuals" in equal, g, "theta", i), np.nan))
        for k, f in enumerate(factors):
            entries.append(_Entry(g, "~~", f, f, "psi", k, k,
                                  pid("lv.variances" in equal, g, "psi", k, k), np.nan))
        for k, f in enumerate(factors):
            for l in range(k + 1, len(factors)):
                entries.append(_Entry(g, "~~", f, factors[l], "psi", k, l,
                                      pid("lv.covariances" in equal, g, "psi", k, l), np.nan))
        if meanstructure:
            for i, it in enumerate(items):
                shared = "intercepts" in equal and it not in free_intercepts
                entries.append(_Entry(g, "~1", it, "", "nu", i, 0, pid(shared, g, "nu", i), np.nan))
            for k, f in enumerate(factors):
                if g > 0 and latent_means_free:
                    entries.append(_Entry(g, "~1", f, "", "alpha", k, 0, pid(False, g, "alpha", k), np.nan))
                else:
                    entries.append(_Entry(g, "~1", f, "", "alpha", k, 0, -1, 0.0))
    return _Spec(factors, items, indicators, n_groups, meanstructure, tuple(entries), len(ids))


class _Model:
    """Maps the free-parameter vector to the model matrices and moments of each group."""

    def __init__(self, spec: _Spec):
        self.spec = spec
        self.p, self.m = len(spec.items), len(spec.factors)
        self.templates = []
        self.free = []  # per group: dict mat -> (rows, cols, par ids)
        for g in range(spec.n_groups):
            t = {"lambda": np.zeros((self.p, self.m)), "theta": np.zeros((self.p, self.p)),
                 "psi": np.zeros((self.m, self.m)), "nu": np.zeros(self.p), "alpha": np.zeros(self.m)}
            fr: dict[str, list[list[int]]] = {k: [[], [], []] for k in t}
            for e in spec.entries:
                if e.group != g:
                    continue
                if e.par < 0:
                    if e.mat in ("nu", "alpha"):
                        t[e.mat][e.row] = e.value
                    else:
                        t[e.mat][e.row, e.col] = e.value
                        if e.mat in ("psi", "theta"):
                            t[e.mat][e.col, e.row] = e.value
                else:
                    fr[e.mat][0].append(e.row)
                    fr[e.mat][1].append(e.col)
                    fr[e.mat][2].append(e.par)
            self.templates.append(t)
            self.free.append({k: tuple(np.asarray(v, dtype=int) for v in lists) for k, lists in fr.items()})

    def matrices(self, x: np.ndarray, g: int) -> dict[str, np.ndarray]:
        mats = {k: v.copy() for k, v in self.templates[g].items()}
        for k, (r, c, ids) in self.free[g].items():
            if not len(ids):
                continue
            if k in ("nu", "alpha"):
                mats[k][r] = x[ids]
            else:
                mats[k][r, c] = x[ids]
                if k in ("psi", "theta"):
                    mats[k][c, r] = x[ids]
        return mats

    @staticmethod
    def implied(mats: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        lam, psi = mats["lambda"], mats["psi"]
        sigma = lam @ psi @ lam.T + mats["theta"]
        sigma = (sigma + sigma.T) / 2
        mu = mats["nu"] + lam @ mats["alpha"]
        return sigma, mu


@dataclass(frozen=True)
class _Moments:
    cov: tuple[np.ndarray, ...]
    mean: tuple[np.ndarray, ...]
    n: tuple[int, ...]
    logdet: tuple[float, ...]

    @property
    def ntotal(self) -> int:
        return int(sum(self.n))


class _Objective:
    """lavaan's ``fmin`` = sum_g (N_g / N) F_ML,g / 2, its gradient and expected information."""

    def __init__(self, model: _Model, moments: _Moments):
        self.model, self.mom = model, moments
        self.w = np.asarray(moments.n, dtype=float) / moments.ntotal
        self._cache_x: bytes | None = None
        self._cache: list | None = None

    def _state(self, x: np.ndarray):
        key = x.tobytes()
        if key == self._cache_x:
            return self._cache
        out = []
        for g in range(self.model.spec.n_groups):
            mats = self.model.matrices(x, g)
            sigma, mu = self.model.implied(mats)
            try:
                c = linalg.cho_factor(sigma, lower=True, check_finite=True)
            except (linalg.LinAlgError, ValueError):
                out = None
                break
            inv = linalg.cho_solve(c, np.eye(self.model.p))
            logdet = 2.0 * float(np.sum(np.log(np.diag(c[0]))))
            out.append((mats, sigma, mu, inv, logdet))
        self._cache_x, self._cache = key, out
        return out

    def fmin_groups(self, x: np.ndarray) -> np.ndarray | None:
        """F_ML,g per group (not halved, not weighted); None if an implied Sigma is not PD."""
        st = self._state(x)
        if st is None:
            return None
        p = self.model.p
        f = np.empty(len(st))
        for g, (mats, sigma, mu, inv, logdet) in enumerate(st):
            s = self.mom.cov[g]
            val = logdet + float(np.sum(s * inv)) - self.mom.logdet[g] - p
            if self.model.spec.meanstructure:
                d = self.mom.mean[g] - mu
                val += float(d @ inv @ d)
            f[g] = val
        return f

    def fun(self, x: np.ndarray) -> float:
        f = self.fmin_groups(x)
        if f is None:
            return np.inf
        return 0.5 * float(self.w @ f)

    def jac(self, x: np.ndarray) -> np.ndarray:
        st = self._state(x)
        grad = np.zeros(self.model.spec.n_free)
        if st is None:
            return np.full_like(grad, np.nan)
        for g, (mats, sigma, mu, inv, _) in enumerate(st):
            w = self.w[g]
            s = self.mom.cov[g]
            if self.model.spec.meanstructure:
                d = self.mom.mean[g] - mu
                s = s + np.outer(d, d)
                gmu = -w * (inv @ d)
            else:
                gmu = np.zeros(self.model.p)
            gs = 0.5 * w * (inv @ (sigma - s) @ inv)
            gs = (gs + gs.T) / 2
            lam, psi = mats["lambda"], mats["psi"]
            parts = {
                "lambda": 2.0 * gs @ lam @ psi + np.outer(gmu, mats["alpha"]),
                "psi": lam.T @ gs @ lam,
                "theta": gs,
                "nu": gmu,
                "alpha": lam.T @ gmu,
            }
            for k, (r, c, ids) in self.model.free[g].items():
                if not len(ids):
                    continue
                if k in ("nu", "alpha"):
                    vals = parts[k][r]
                else:
                    vals = parts[k][r, c]
                    if k in ("psi", "theta"):
                        vals = np.where(r == c, vals, 2.0 * vals)
                np.add.at(grad, ids, vals)
        return grad

    def information(self, x: np.ndarray) -> np.ndarray:
        """Expected information of ``fmin`` (sum_g w_g Delta_g' W_g Delta_g), free parameters."""
        st = self._state(x)
        q = self.model.spec.n_free
        info = np.zeros((q, q))
        if st is None:
            return np.eye(q)
        p = self.model.p
        for g, (mats, sigma, mu, inv, _) in enumerate(st):
            dsig, dmu, ids = _jacobian(self.model.free[g], mats, p)
            if not len(ids):
                continue
            m = np.matmul(inv, dsig)  # Sigma^-1 dSigma_r
            # tr(M_r M_s) = sum_ij M_r[i, j] M_s[j, i]
            block = 0.5 * m.reshape(len(ids), -1) @ np.transpose(m, (0, 2, 1)).reshape(len(ids), -1).T
            if self.model.spec.meanstructure:
                block += dmu @ inv @ dmu.T
            np.add.at(info, (ids[:, None], ids[None, :]), self.w[g] * block)
        return (info + info.T) / 2

    def hess(self, x: np.ndarray) -> np.ndarray:
        return self.information(x)


def _jacobian(free: dict, mats: dict[str, np.ndarray], p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """d Sigma / d theta_r (r, p, p) and d mu / d theta_r (r, p) for the free entries of a group."""
    lam, psi, alpha = mats["lambda"], mats["psi"], mats["alpha"]
    lp = lam @ psi
    dsig, dmu, ids = [], [], []
    for k in ("lambda", "theta", "psi", "nu", "alpha"):
        r_, c_, id_ = free[k]
        for r, c, i in zip(r_, c_, id_):
            ds = np.zeros((p, p))
            dm = np.zeros(p)
            if k == "lambda":
                ds[r, :] += lp[:, c]
                ds[:, r] += lp[:, c]
                dm[r] = alpha[c]
            elif k == "theta":
                ds[r, c] = 1.0
                ds[c, r] = 1.0
            elif k == "psi":
                a, b = lam[:, r], lam[:, c]
                ds = np.outer(a, a) if r == c else np.outer(a, b) + np.outer(b, a)
            elif k == "nu":
                dm[r] = 1.0
            else:
                dm = lam[:, r].copy()
            dsig.append(ds)
            dmu.append(dm)
            ids.append(i)
    if not ids:
        return np.zeros((0, p, p)), np.zeros((0, p)), np.zeros(0, dtype=int)
    return np.asarray(dsig), np.asarray(dmu), np.asarray(ids, dtype=int)

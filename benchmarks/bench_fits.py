"""Formula to result, side by side with R (issue 19): ``pipeline.stats.fit.fit_model`` against
``lme4::lmer``, ``lm`` + ``sandwich::vcovCL`` and binomial ``glm`` + ``vcovCL`` on the same data.

    .venv/bin/python benchmarks/bench_fits.py [--repeats 20]

Data: the High School and Beyond students (7,185 in 160 schools, ``tests/reference/data``) with
their school's sector, as a study's indices hold them: ``School`` and ``Sector`` as text
(pandas' Arrow-backed ``str``; Sector labelled 公立 / 天主教), one CSV read by both languages.
Three models: the random intercept ``MathAch ~ SES + Sector + (1 | School)`` (REML), OLS of the
same formula with CR1 errors by school, a logit ``Minority ~ SES + MathAch + Sector`` with CR1
errors by school. Each side times the whole call (its own formula handling, model frame,
fit, covariance) from the data frame as read; the mean of 10 fits in the shortest of ``--repeats``
timings, after one warm-up fit (R's clock ticks in milliseconds: a single fit is a few ticks).
R is optional: without ``Rscript`` (and lme4, sandwich) only the Python times are reported.
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "reference" / "data"
R_SCRIPT = ROOT / "benchmarks" / "fit_timing.R"
TARGET = 0.5          # Python's time at most half of R's
INNER = 10            # fits per timing (R's clock ticks in milliseconds); the mean of the shortest timing
SECTOR = {0: "公立", 1: "天主教"}

MODELS = [
    {"kind": "lmer", "r_formula": "MathAch ~ SES + Sector + (1 | School)",
     "spec": {"id": "RI", "formula": "MathAch ~ SES + Sector", "estimator": "mixed",
              "random": "School", "reml": True}},
    {"kind": "lm", "r_formula": "MathAch ~ SES + Sector",
     "spec": {"id": "OLS", "formula": "MathAch ~ SES + Sector", "covariance": "cluster",
              "cluster": "School"}},
    {"kind": "glm", "r_formula": "Minority ~ SES + MathAch + Sector",
     "spec": {"id": "LOGIT", "formula": "Minority ~ SES + MathAch + Sector",
              "family": "binary_logit", "covariance": "cluster", "cluster": "School"}},
]


def hsb_csv(path: Path) -> Path:
    """The students with their school's sector (text), written as the one CSV both read."""
    students = pd.read_csv(DATA / "hsb_students.csv")
    schools = pd.read_csv(DATA / "hsb_schools.csv")
    data = students.merge(schools[["School", "Sector"]], on="School", how="left")
    data["Sector"] = data["Sector"].map(SECTOR)
    data["School"] = "s" + data["School"].astype(int).astype(str)
    data.to_csv(path, index=False, encoding="utf-8")
    return path


def r_term(term: str) -> str:
    """The pipeline's term name as R writes it: Intercept -> (Intercept), Sector[T.x] -> Sectorx."""
    if term == "Intercept":
        return "(Intercept)"
    if "[T." in term:
        name, level = term.split("[T.", 1)
        return name + level.rstrip("]")
    return term


def python_times(spec: dict[str, Any], data: pd.DataFrame, repeats: int):
    from pipeline.stats.fit import fit_model

    fit_model(spec, data)                              # warm-up, not timed
    times = []
    for _ in range(repeats):                           # 10 fits per timing, as R's side
        start = time.perf_counter()
        for _ in range(INNER):
            res = fit_model(spec, data)
        times.append((time.perf_counter() - start) / INNER)
    return res, times


def r_available() -> str | None:
    """Why R cannot be used, or None when it can."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript is not installed"
    probe = subprocess.run([rscript, "-e", "library(lme4); library(sandwich)"], capture_output=True)
    return None if probe.returncode == 0 else "the R packages lme4 and sandwich are not installed"


def r_times(csv: Path, model: dict[str, Any], repeats: int, scratch: Path) -> pd.DataFrame:
    out = scratch / f"r_{model['kind']}.csv"
    proc = subprocess.run(["Rscript", str(R_SCRIPT), str(csv), model["kind"], model["r_formula"],
                           model["spec"].get("cluster") or model["spec"].get("random"), str(repeats), str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"Rscript failed: {proc.stderr.strip()[-500:]}")
    return pd.read_csv(out, keep_default_na=False, na_values=["NA"], encoding="utf-8")


def measure(repeats: int = 20, scratch: Path | None = None) -> dict[str, Any]:
    """Times (and, with R, ratios and the largest differences of the numbers) of the three models."""
    scratch = Path(tempfile.mkdtemp()) if scratch is None else scratch
    scratch.mkdir(parents=True, exist_ok=True)
    csv = hsb_csv(scratch / "hsb.csv")
    data = pd.read_csv(csv)                             # School, Sector: pandas' str columns
    no_r = r_available()
    rows = []
    for model in MODELS:
        res, times = python_times(model["spec"], data, repeats)
        row: dict[str, Any] = {"model": model["spec"]["id"], "kind": model["kind"], "r_formula": model["r_formula"],
                               "n_obs": int(res.fit["n_obs"]), "python_s": min(times),
                               "python_median_s": sorted(times)[len(times) // 2]}
        if no_r is None:
            r = r_times(csv, model, repeats, scratch)
            coefs = res.coefficients.set_index("term")
            terms = {t: r_term(t) for t in coefs.index}
            rc = r[r.kind == "coef"].set_index("term")["value"]
            rs = r[r.kind == "se"].set_index("term")["value"]
            row.update({
                "r_s": float(r[r.kind == "seconds"]["value"].iloc[0]),
                "r_all": r[r.kind == "seconds_all"]["term"].iloc[0],
                "r_version": r[r.kind == "version"]["term"].iloc[0],
                "max_rel_diff_coef": max(abs(coefs.at[t, "estimate"] - rc[n]) / max(abs(rc[n]), 1e-12) for t, n in terms.items()),
                "max_rel_diff_se": max(abs(coefs.at[t, "std_error"] - rs[n]) / max(abs(rs[n]), 1e-12) for t, n in terms.items()),
            })
            row["ratio"] = row["python_s"] / row["r_s"] if row["r_s"] > 0 else float("nan")
        rows.append(row)
    return {"models": rows, "repeats": repeats, "r": no_r or "used"}


def render(result: dict[str, Any]) -> list[str]:
    rows = result["models"]
    lines = [f"Formula to result on the High School and Beyond data ({rows[0]['n_obs']:,} students in 160 schools; "
             f"School and Sector as text), mean of 10 fits in the shortest of {result['repeats']} timings after a warm-up "
             "(`benchmarks/bench_fits.py`):", ""]
    if result["r"] != "used":
        lines += [f"R not measured: {result['r']}.", "", "| model | Python `fit_model` (s) |", "|---|---|"]
        lines += [f"| {r['model']}: `{r['r_formula']}` | {r['python_s']:.4f} |" for r in rows]
        return lines + [""]
    lines += ["| model | R | Python `fit_model` (s) | R (s) | ratio Python / R | largest relative difference: coefficients, SEs |",
              "|---|---|---|---|---|---|"]
    r_fn = {"lmer": "`lme4::lmer` (REML), `vcov`", "lm": "`lm` + `vcovCL(type = \"HC1\")`",
            "glm": "`glm(binomial)` + `vcovCL(type = \"HC1\")`"}
    for r in rows:
        lines.append(f"| {r['model']}: `{r['r_formula']}` | {r_fn[r['kind']]} | {r['python_s']:.4f} | {r['r_s']:.4f} | "
                     f"{r['ratio']:.2f} | {r['max_rel_diff_coef']:.1e}, {r['max_rel_diff_se']:.1e} |")
    lines += ["", f"R: {rows[0]['r_version']}.", ""]
    return lines


def verdicts(result: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(f"{r['model']} formula to result at most {TARGET}x R's time", f"{r['ratio']:.2f}", r["ratio"] <= TARGET)
            for r in result["models"] if "ratio" in r]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    result = measure(args.repeats)
    print("\n".join(render(result)))
    for target, measured, met in verdicts(result):
        print(f"{target}: {measured} ({'met' if met else 'NOT met'})")
    return 0 if all(met for _, _, met in verdicts(result)) else 1


if __name__ == "__main__":
    raise SystemExit(main())

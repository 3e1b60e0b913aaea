"""Results that reproduce on any machine (issue 17): optimiser solutions polished to the root of
their score, choices that a last-digit difference cannot flip, and (slow) the measurement,
models and topics stages byte-identical under other numpy SIMD, OpenBLAS and glibc kernels."""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import DEMO, ROOT


# --------------------------------------------------------------------------------------------
# polished optimisers
# --------------------------------------------------------------------------------------------
def _ri_parts(seed: int = 1):
    rng = np.random.default_rng(seed)
    n_j = rng.integers(5, 40, 30)
    codes = np.repeat(np.arange(30), n_j)
    n = len(codes)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = X @ [1, .5, -.2] + rng.normal(size=30)[codes] * 0.5 + rng.normal(size=n)
    Sx = np.zeros((30, 3))
    np.add.at(Sx, codes, X)
    return (X.T @ X, X.T @ y, float(y @ y), n_j.astype(float), Sx, np.bincount(codes, weights=y)), n


@pytest.mark.parametrize("reml", [False, True])
def test_random_intercept_score_is_the_derivative_and_its_root_is_one_value(reml):
    from pipeline.stats.mixed import _polish_theta, _ri_profile, _ri_score

    parts, n = _ri_parts()
    for s in (0.3, 0.7, 1.5):
        t, h = s * s, 1e-6 * s * s
        numeric = (_ri_profile(math.sqrt(t + h), parts, n, 3, reml)[0]
                   - _ri_profile(math.sqrt(t - h), parts, n, 3, reml)[0]) / (2 * h)
        assert _ri_score(s, parts, n, 3, reml) == pytest.approx(numeric, rel=1e-6)
    # where a search on deviance values stops differs by machine (to ~1e-8); the polished root does not
    from scipy import optimize

    s_hat = optimize.minimize_scalar(lambda s: _ri_profile(s, parts, n, 3, reml)[0], bounds=(0, 10), method="bounded").x
    roots = {_polish_theta(s_hat * (1 + d), parts, n, 3, reml) for d in (-3e-8, -1e-9, 0.0, 2e-9, 4e-8)}
    assert len(roots) == 1
    root = roots.pop()
    assert abs(_ri_score(root, parts, n, 3, reml)) < 1e-5 and root == float(f"{root:.8g}")


def test_ordered_logit_hessian_is_analytic():
    from pipeline.stats.ordinal import _polr_hessian, _polr_score_obs

    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3))
    w = rng.uniform(0.5, 2, 500)
    y = np.digitize(X @ [0.5, -0.3, 0.2] + rng.logistic(size=500), [-1, 0, 1.2])
    theta = np.array([0.4, -0.2, 0.1, -1.1, 0.1, 1.3])

    def score(th):
        return (w[:, None] * _polr_score_obs(th, X, y, 3)).sum(axis=0)

    numeric = np.column_stack([(score(theta + e) - score(theta - e)) / 2e-6 for e in np.eye(6) * 1e-6])
    H = _polr_hessian(theta, X, y, 3, w)
    assert np.abs(H - numeric).max() < 1e-6 * np.abs(H).max() and np.allclose(H, H.T)


def test_one_factor_uniquenesses_polish_to_one_value():
    from pipeline.stats.reliability import _fa_objective, _polish_uniquenesses

    rng = np.random.default_rng(0)
    lam = np.array([.8, .7, .6, .75, .5])
    x = rng.normal(size=(2000, 1)) * lam + rng.normal(size=(2000, 5)) * np.sqrt(1 - lam ** 2)
    r = np.corrcoef(x.T)
    start = 1 - lam ** 2
    out = {tuple(_polish_uniquenesses(start * (1 + d), r)) for d in (0.0, 1e-9, -3e-8)}
    assert len(out) == 1
    assert np.abs(_fa_objective(np.array(out.pop()), r)[1]).max() < 1e-6


def test_the_best_k_does_not_hang_on_the_last_digit():
    from pipeline.text.topicmodel import parse_settings
    from pipeline.text.topicselect import select_model

    runs = pd.DataFrame({"model": "dmm", "k": [6, 6, 7, 7, 8, 8], "run": [1, 2] * 3,
                         "coherence_npmi": [0.1, 0.1, 0.1, 0.1, 0.05, 0.05], "exclusivity": 0.5, "stability": 0.9,
                         "perplexity": np.nan})
    for nudge in (0.0, 1e-16, -1e-16):
        t = runs.copy()
        t.loc[2:3, "coherence_npmi"] = 0.1 + nudge       # a tie broken by the CPU's last digit before
        chosen, _ = select_model(t, parse_settings(models=("dmm",), k_grid=(6, 7, 8), seeds=2))
        assert chosen.loc[chosen["chosen"], "k"].tolist() == [6]
        assert chosen["within_se"].tolist() == [True, True, False]


# --------------------------------------------------------------------------------------------
# stages under other kernels (slow: the demo study's survey and texts)
# --------------------------------------------------------------------------------------------
OTHER_MACHINES = {
    # numpy's AVX-512 loops on, OpenBLAS's Sandybridge (AVX) kernels, glibc's libm without AVX2/FMA
    "avx512-numpy, sandybridge-blas, no-fma-libm": {
        "NPY_DISABLE_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "Sandybridge",
        "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F,-AVX"},
}


def _run(workdir: Path, out: str, env: dict[str, str]) -> Path:
    base = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE",
                                                              "GLIBC_TUNABLES")}
    base.update(PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", PIPELINE_TIMINGS=str(workdir / ".timings"), **env)
    params = str(DEMO / "params_small.yaml")
    commands = [
        ["measurement", "--params", params, "--survey", "processed/survey_clean.parquet", "--communities",
         "raw/communities.csv", "--processed", f"{out}", "--metrics", f"{out}/measurement.json"],
        ["models", "--params", params, "--indices", f"{out}/indices.parquet", "--out", f"{out}/models",
         "--metrics", f"{out}/models.json"],
        ["topics", "--params", params, "--units", "processed/transcripts/units.parquet", "--questions",
         "processed/transcripts/questions.parquet", "--communities", "raw/communities.csv", "--out", f"{out}/topics",
         "--metrics", f"{out}/topics.json"],
    ]
    for argv in commands:
        proc = subprocess.run([sys.executable, "-m", "pipeline", *argv], cwd=workdir, env=base, capture_output=True,
                              text=True, timeout=1200)
        assert proc.returncode == 0, proc.stderr[-2000:]
    return workdir / out


@pytest.mark.slow
@pytest.mark.parametrize("machine", list(OTHER_MACHINES))
def test_stages_are_byte_identical_under_other_kernels(demo_study, tmp_path, machine):
    """The measurement, models and topics stages (topics on a grid of two K) on the demo study's
    data, once with the pipeline's own kernels and once as on a machine with other ones: every
    output byte-identical."""
    work = tmp_path / "study"
    for rel in ("raw/communities.csv", "processed/survey_clean.parquet", "processed/transcripts", "config"):
        src, dst = demo_study / rel, work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dst)
    shutil.copytree(demo_study / DEMO, work / DEMO)
    params = yaml.safe_load((work / DEMO / "params.yaml").read_text(encoding="utf-8"))
    params["topics"].update(k_grid=[6, 8], seeds=2)
    (work / DEMO / "params_small.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False),
                                                   encoding="utf-8")
    here = _run(work, "here", {})
    there = _run(work, "there", OTHER_MACHINES[machine])
    files = sorted(p.relative_to(here) for p in here.rglob("*") if p.is_file())
    assert len(files) > 20
    differ = [str(f) for f in files if (here / f).read_bytes() != (there / f).read_bytes()]
    assert not differ, f"differ under {machine}: {differ}"

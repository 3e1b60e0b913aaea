"""Measurement stage on the demo study: indices, reliability, CFA, invariance; recovery of the truth."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_study

FAST = {"measurement": {"reliability": {"bootstrap_replications": 40}}}


@pytest.fixture(scope="module")
def demo(demo_study):
    """The demo study, built for this test session (see conftest.demo_study)."""
    return demo_study


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The demo study with an intercept shift on F2 for Hui respondents: its own run of the
    stages up to measurement (fewer bootstrap replications, which the test does not read)."""
    overrides = {**FAST, "simulate": {"noninvariance": {"item": "F2", "group_value": 2, "shift": 0.5}}}
    return run_study(tmp_path_factory.mktemp("planted"), overrides, ("simulate", "survey", "measurement"))


def _table(workdir, name):
    return pd.read_csv(workdir / "processed" / "measurement" / f"{name}.csv")


def _generating_loadings(workdir, instrument, params):
    """Standardised loadings of the latent responses y* = nu + lambda*eta + N(0,1), eta's variance
    taken from the generator's latent traits (raw/truth)."""
    latent = pd.read_csv(workdir / "raw" / "truth" / "survey_latent.csv")
    items = params["simulate"]["items"]
    out = {}
    for scale in params["measurement"]["cfa"]["scales"]:
        var = latent[scale].var()
        for item in instrument.scales[scale].items:
            lam = (items.get("by_item", {}).get(item) or {}).get("loading", items["default"]["loading"])
            out[item] = lam * np.sqrt(var) / np.sqrt(lam**2 * var + 1.0)
    return pd.Series(out)


def test_indices_one_row_per_analysed_respondent(demo, instrument, params):
    clean = pd.read_parquet(demo / "processed" / "survey_clean.parquet")
    idx = pd.read_parquet(demo / "processed" / "indices.parquet")
    assert len(idx) == len(clean)
    assert idx[instrument.role("id")].tolist() == clean[instrument.role("id")].tolist()
    for scale in params["measurement"]["scales"]:
        assert {scale, f"{scale}_z", f"{scale}_n_items"} <= set(idx.columns)
        assert idx[scale].dropna().between(1, 5).all() and idx[scale].notna().mean() > 0.9
    assert set(params["measurement"]["community_covariates"]) <= set(idx.columns)
    assert idx["gov_model"].notna().all()
    # an index is missing exactly when fewer than min_items items are answered
    spec = instrument.scales["identity"]
    assert (idx["identity"].isna() == (idx["identity_n_items"] < spec.min_items)).all()


def test_reliability_close_to_generating_values(demo, instrument, params):
    rel = _table(demo, "reliability").set_index("scale")
    gen = _generating_loadings(demo, instrument, params)
    for scale in params["measurement"]["cfa"]["scales"]:
        lam = gen[list(instrument.scales[scale].items)]
        omega_true = lam.sum() ** 2 / (lam.sum() ** 2 + (1 - lam**2).sum())
        # ordinal items attenuate a little against the continuous latent responses
        assert rel.at[scale, "omega_total"] == pytest.approx(omega_true, abs=0.04), scale
        assert rel.at[scale, "alpha_low"] < rel.at[scale, "raw_alpha"] < rel.at[scale, "alpha_high"]
        assert rel.at[scale, "status"] == "ok"
    items = _table(demo, "items")
    assert set(items["item"]) == set(instrument.scale_items)
    assert items["r_drop"].between(0.3, 0.9).all()


def test_cfa_recovers_loadings_and_fits(demo, instrument, params):
    fit = _table(demo, "cfa_fit").iloc[0]
    assert fit["status"] == "ok"
    assert fit["cfi"] > 0.95 and fit["rmsea"] < 0.05 and fit["srmr"] < 0.05
    load = _table(demo, "cfa_loadings").set_index("item")["std_all"]
    gen = _generating_loadings(demo, instrument, params)
    diff = (load - gen[load.index]).abs()
    assert diff.max() < 0.08, diff.sort_values().tail()
    disc = _table(demo, "cfa_discriminant")
    assert disc["holds"].all() and (disc["htmt"] < 0.85).all()


def test_scalar_invariance_holds_without_planted_shift(demo):
    inv = _table(demo, "invariance").set_index("model")
    assert list(inv.index) == ["configural", "metric", "scalar"]
    assert bool(inv.at["metric", "holds"]) and bool(inv.at["scalar", "holds"])
    metrics = json.loads((demo / "metrics" / "measurement.json").read_text())
    assert metrics["invariance_level"] == "scalar"


@pytest.mark.slow   # its own run of simulate, survey and measurement: about 5 s
def test_planted_noninvariance_is_found(planted):
    inv = _table(planted, "invariance").set_index("model")
    assert not bool(inv.at["scalar", "holds"])
    metrics = json.loads((planted / "metrics" / "measurement.json").read_text())
    assert metrics["invariance_level"] == "partial_scalar"
    assert metrics["invariance_freed"].split(",")[0] == "F2"


def test_correlations_have_the_planted_signs(demo):
    cor = _table(demo, "correlations").set_index(["var1", "var2"])
    assert cor.at[("contact", "identity"), "r"] > 0.2 and cor.at[("contact", "identity"), "p"] < 1e-6
    assert cor.at[("participation", "identity"), "r"] > 0.1


def test_degenerate_scale_is_reported_not_a_crash(instrument):
    """A constant item and a two-item scale come back flagged in the table."""
    from pipeline.core.settings import Reliability
    from pipeline.stages.measurement import reliability_tables

    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({f"F{i}": rng.integers(1, 6, n).astype(float) for i in range(1, 7)})
    df["F3"] = 4.0
    df["D2"] = rng.integers(1, 6, n).astype(float)
    df["D3"] = rng.integers(1, 6, n).astype(float)
    df["comm_id"] = [f"C{i % 20}" for i in range(n)]
    rel, _ = reliability_tables(df, instrument, ["identity", "governance"], Reliability(bootstrap_replications=5), rng)
    rel = rel.set_index("scale")
    assert rel.at["identity", "status"] == "flagged" and "no variance" in rel.at["identity", "message"]
    assert np.isnan(rel.at["governance", "omega_total"]) and "omega" in rel.at["governance", "message"]


def test_missing_survey_is_a_clear_error(tmp_path):
    from pipeline.core.errors import run_cli
    from pipeline.stages.measurement import main

    code = run_cli(lambda: main(["--survey", str(tmp_path / "nope.parquet"), "--processed", str(tmp_path / "p")]))
    assert code == 2
    assert not (tmp_path / "p").exists()


def test_too_small_group_is_reported_in_the_invariance_table(params, instrument):
    """A group below min_group_size: the steps are listed with their status, no crash."""
    from pipeline.core.settings import Invariance
    from pipeline.stages.measurement import flagged_lines, invariance_tables

    rng = np.random.default_rng(1)
    n = 400
    eta = rng.normal(size=n)
    df = pd.DataFrame({f"F{i}": np.clip(np.round(3 + eta + rng.normal(size=n)), 1, 5) for i in range(1, 7)})
    df["F6"] = 6 - df["F6"]
    for i in range(1, 7):
        df[f"E{i}"] = np.clip(np.round(3 + rng.normal(size=n)), 1, 5)
    df["ethnicity"] = np.where(np.arange(n) < 390, 1.0, 2.0)   # only 10 Hui respondents
    cfg = Invariance(**{**params["measurement"]["invariance"], "min_group_size": 50})
    inv = invariance_tables(df, instrument, cfg)
    assert inv["level"] == "none"
    assert (inv["invariance"]["status"] != "ok").any()
    tables = {"reliability": pd.DataFrame(columns=["scale", "status", "message"]),
              "cfa_fit": pd.DataFrame(columns=["model", "status", "message"]), "invariance": inv["invariance"]}
    assert any("invariance step" in line for line in flagged_lines(tables))

"""Models stage on the demo study: the configured models, their tidy results, the hypotheses."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT


@pytest.fixture(scope="module")
def demo(demo_study):
    """The demo study, built for this test session (see conftest.demo_study)."""
    return demo_study


def _t(workdir, name):
    return pd.read_csv(workdir / "processed" / "models" / f"{name}.csv")


def test_every_configured_model_is_fitted_and_ok(demo, params):
    fits = _t(demo, "fits").set_index("model")
    ids = [s["id"] for s in params["models"]["specs"]]
    assert set(ids) <= set(fits.index)
    assert {f"{m}_mi" for m in params["models"]["imputed"]} <= set(fits.index)
    assert (fits.loc[ids, "status"] == "ok").all(), fits["status"]
    assert fits.loc["P1", "n_clusters"] == 60
    assert fits.loc["P3", "n_groups"] == 60 and 0 < fits.loc["P3", "icc"] < 0.5
    coef = _t(demo, "coefficients")
    assert set(coef.loc[coef["model"] == "P2", "cov_type"]) == {"cluster_cr2"}
    assert set(coef.loc[coef["model"] == "R1", "cov_type"]) == {"cluster"}
    # community-level terms of the random-intercept model get between-community df
    p3 = coef[coef["model"] == "P3"].set_index("term")
    assert p3.at["gov_model", "df"] < 60 < p3.at["female", "df"]
    assert set(coef.loc[coef["model"] == "P3", "cov_type"]) == {"model"}
    assert (coef["conf_low"] <= coef["estimate"]).all() and (coef["estimate"] <= coef["conf_high"]).all()
    # ordered logit carries polr-style thresholds
    assert coef.loc[coef["model"] == "R1", "term"].str.contains(r"\|").sum() == 4


def test_stage_numbers_equal_a_direct_fit(demo):
    """The stage passes the configured spec to the estimator unchanged."""
    from pipeline.core.config import load_params
    from pipeline.stats.fit import fit_model
    from pipeline.stats.spec import derive, expand_specs

    cfg = load_params(demo / "studies/demo/params.yaml")["models"]
    data = derive(pd.read_parquet(demo / "processed" / "indices.parquet"), cfg["derived"])
    spec = next(s for s in expand_specs(cfg) if s["id"] == "I2")
    direct = fit_model(spec, data).coefficients.set_index("term")
    staged = _t(demo, "coefficients").query("model == 'I2'").set_index("term")
    np.testing.assert_allclose(staged.loc[direct.index, "estimate"], direct["estimate"], rtol=1e-9)
    np.testing.assert_allclose(staged.loc[direct.index, "std_error"], direct["std_error"], rtol=1e-9)


def test_hypotheses_have_the_planted_signs(demo):
    hyp = _t(demo, "hypotheses").set_index("hypothesis")
    for h in ("H1", "H2", "H3", "H5"):
        assert hyp.at[h, "conf_low"] > 0, (h, hyp.loc[h].to_dict())
    assert hyp.at["H4", "estimate"] > 0
    metrics = json.loads((demo / "metrics" / "models.json").read_text())
    assert metrics["H1_estimate"] == pytest.approx(hyp.at["H1", "estimate"], abs=1e-4)
    assert metrics["models_flagged"] == 0


def test_icc_and_multilevel_test(demo):
    icc = _t(demo, "icc").set_index("outcome")
    for outcome in ("participation", "identity"):
        assert 0.05 < icc.at[outcome, "icc_icc"] < 0.30
        assert icc.at[outcome, "lrt_p_value"] < 1e-3


def test_imputed_fit_beside_complete_cases(demo):
    coef = _t(demo, "coefficients")
    pooled = _t(demo, "mi_pooled").set_index("term")
    cc = coef.query("model == 'I2'").set_index("term")
    assert pooled.at["contact", "estimate"] == pytest.approx(cc.at["contact", "estimate"], abs=0.05)
    fits = _t(demo, "fits").set_index("model")
    assert fits.at["I2_mi", "n_obs"] > fits.at["I2", "n_obs"]


def test_predictions_for_the_interaction_plot(demo, params):
    pred = _t(demo, "predictions")
    grid = params["models"]["predictions"]["grid"]
    assert len(pred) == len(grid["contact"]) * len(grid["interspersed"])
    assert (pred["conf_low"] < pred["estimate"]).all()
    rising = pred.sort_values("contact").groupby("interspersed")["estimate"].apply(lambda s: s.is_monotonic_increasing)
    assert rising.all()


def test_mediation_identity(demo):
    med = _t(demo, "mediation").set_index("effect")
    a, b = med.at["a", "estimate"], med.at["b", "estimate"]
    assert med.at["indirect", "estimate"] == pytest.approx(a * b, rel=1e-9)
    assert med.at["total", "estimate"] == pytest.approx(med.at["direct", "estimate"] + a * b, rel=1e-6)


@pytest.mark.parametrize("change, words", [
    ({"id": "bad", "formula": "identity ~ no_such_variable", "estimator": "ols", "covariance": "cluster"},
     ["bad", "no_such_variable"]),
    ({"id": "one_level", "formula": "identity ~ C(always_one)", "estimator": "ols", "covariance": "cluster"},
     ["one_level", "always_one"]),
])
def test_bad_model_is_a_clear_error_without_output(demo, tmp_path, change, words):
    params = yaml.safe_load((demo / "studies/demo/params.yaml").read_text(encoding="utf-8"))
    params["models"]["specs"].append(change)
    params["models"]["derived"]["always_one"] = "gender * 0 + 1"
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = tmp_path / "models"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "models", "--params", str(pfile), "--indices",
                           str(demo / "processed" / "indices.parquet"), "--out", str(out),
                           "--metrics", str(tmp_path / "m.json")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr
    assert not out.exists() and not (tmp_path / "m.json").exists()


def test_bad_derived_expression_names_it(demo):
    from pipeline.core.errors import PipelineError
    from pipeline.stages.models import derive

    with pytest.raises(PipelineError, match="models.derived.oops"):
        derive(pd.DataFrame({"a": [1, 2]}), {"oops": "b + 1"})

"""Every shape of study through the measurement and models stages (issue 15, items 3 and 5):
no scales, one scale, many; CFA and invariance only when asked (and identified); no community
role, one community, many; models none or many. Names come from the instrument and params only:
the instruments here are the toy one (tests/fixtures) and a synthetic one written below, with
none of the demo study's names. Mistakes in names are one error before anything is fitted."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.instrument import load_instrument
from pipeline.core.schema import parse
from pipeline.core.settings import Measurement, Models
from pipeline.stages import measurement as measurement_stage
from pipeline.stages import models as models_stage

TOY = ROOT / "tests" / "fixtures" / "toy_instrument.yaml"
FAST = {"reliability": {"bootstrap_replications": 20}}

SYNTHETIC = {
    "study": {"id": "SHAPES"},
    "roles": {"id": "pid", "community": "site", "group": "grp"},
    "value_sets": {"five": {i: {"en": str(i)} for i in range(1, 6)}},
    "variables": [
        {"name": "pid", "type": "string", "required": True},
        {"name": "site", "type": "string", "required": True},
        {"name": "grp", "type": "categorical", "values": {1: {"en": "first"}, 2: {"en": "second"}}},
        {"name": "age", "type": "numeric"},
        *({"name": f"a{i}", "type": "ordinal", "values": "five"} for i in range(1, 5)),
        *({"name": f"b{i}", "type": "ordinal", "values": "five"} for i in range(1, 4)),
        *({"name": f"c{i}", "type": "ordinal", "values": "five"} for i in range(1, 3)),
    ],
    "scales": {"A": {"items": ["a1", "a2", "a3", "a4"], "reverse": ["a4"]},
               "B": {"items": ["b1", "b2", "b3"]},
               "C": {"items": ["c1", "c2"]}},
}


def write_instrument(tmp_path, scales=None, name="instrument.yaml"):
    spec = dict(SYNTHETIC)
    if scales is not None:
        spec["scales"] = {k: v for k, v in SYNTHETIC["scales"].items() if k in scales}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return load_instrument(path)


def without_roles(instrument, *keys):
    """The instrument with some roles unset (a study without communities or groups)."""
    return dataclasses.replace(instrument, roles={k: v for k, v in instrument.roles.items() if k not in keys})


def survey(n=400, sites=20, seed=1):
    """Two correlated factors (A: 4 items, the last reverse-keyed; B: 3) and a weak pair C."""
    rng = np.random.default_rng(seed)
    eta = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], size=n)
    site_effect = rng.normal(0, 0.3, sites)
    site = np.arange(n) % sites

    def item(latent, sign=1):
        return np.clip(np.round(3 + sign * 0.9 * latent + site_effect[site] + rng.normal(0, 0.8, n)), 1, 5)

    df = pd.DataFrame({"pid": [f"R{i:04d}" for i in range(n)], "site": [f"S{s:02d}" for s in site],
                       "grp": np.where(np.arange(n) % 2 == 0, 1.0, 2.0),
                       "age": rng.integers(18, 80, n).astype(float)})
    for i in range(1, 5):
        df[f"a{i}"] = item(eta[:, 0], -1 if i == 4 else 1)
    for i in range(1, 4):
        df[f"b{i}"] = item(eta[:, 1])
    for i in range(1, 3):
        df[f"c{i}"] = np.clip(np.round(3 + rng.normal(0, 1, n)), 1, 5)
    return df


def toy_clean(n=120, seed=3):
    """A cleaned toy survey (tests/fixtures/toy_instrument.yaml): one 3-item scale at three sites."""
    rng = np.random.default_rng(seed)
    eta = rng.normal(size=n)

    def item(sign=1):
        return np.clip(np.round(2.5 + sign * 0.8 * eta + rng.normal(0, 0.6, n)), 1, 4)

    return pd.DataFrame({"row_no": np.arange(n, dtype=float), "person": [f"p{i}" for i in range(n)],
                         "site": [f"site{i % 3}" for i in range(n)], "age_years": rng.integers(16, 90, n).astype(float),
                         "calm": item(), "cheerful": item(), "worried": item(-1)})


def measurement_cfg(**keys):
    return parse(Measurement, {**FAST, **keys}, "measurement")


def models_cfg(**keys):
    return parse(Models, keys, "models")


def no_fitting(monkeypatch):
    """Make any model or factor fit fail the test: the preflight must stop first."""
    def boom(*args, **kwargs):
        raise AssertionError("fitted before the configuration was checked")
    for module, name in ((models_stage, "fit_model"), (models_stage, "mediation"), (models_stage, "icc"),
                         (measurement_stage, "fit_cfa"), (measurement_stage, "measurement_invariance"),
                         (measurement_stage, "cluster_bootstrap")):
        monkeypatch.setattr(module, name, boom)


# ---------------------------------------------------------------------------------------------
# measurement: scales none, one, many
# ---------------------------------------------------------------------------------------------
def test_no_scales_still_writes_the_indices_and_empty_tables(tmp_path):
    instrument = write_instrument(tmp_path, scales=[])
    clean = survey()
    cfg = measurement_cfg(covariates=["pid", "site", "age", "age"])
    indices, tables, metrics = measurement_stage.measure(clean, None, instrument, cfg, seed=1)
    assert list(indices.columns) == ["pid", "site", "age"]
    assert len(indices) == len(clean)
    for name in ("reliability", "items", "cfa_fit", "cfa_loadings", "invariance", "correlations"):
        assert tables[name].empty and len(tables[name].columns) > 2, name
    assert metrics["n_indexed"] == len(clean)
    assert metrics["cfa_status"] is None and metrics["invariance_level"] is None


def test_measurement_scales_empty_list_scores_nothing(tmp_path):
    instrument = write_instrument(tmp_path)
    indices, tables, _ = measurement_stage.measure(survey(), None, instrument, measurement_cfg(scales=[]), seed=1)
    assert list(indices.columns) == ["pid", "site"]
    assert tables["reliability"].empty


def test_one_scale_with_a_one_factor_cfa():
    """The toy instrument's single 3-item scale: alpha/omega, and a just-identified CFA when asked."""
    instrument = load_instrument(TOY)
    cfg = measurement_cfg(covariates=["age_years"], cfa={"scales": ["wellbeing"]})
    indices, tables, metrics = measurement_stage.measure(toy_clean(), None, instrument, cfg, seed=1)
    assert {"person", "site", "wellbeing", "wellbeing_z", "age_years"} <= set(indices.columns)
    rel = tables["reliability"].set_index("scale")
    assert rel.at["wellbeing", "status"] == "ok" and 0.5 < rel.at["wellbeing", "raw_alpha"] < 1
    fit = tables["cfa_fit"].iloc[0]
    assert fit["status"] == "ok" and fit["df"] == 0 and "just identified" in fit["message"]
    assert len(tables["cfa_loadings"]) == 3
    assert tables["cfa_discriminant"].empty and "htmt" in tables["cfa_discriminant"].columns
    assert metrics["cfa_status"] == "ok" and metrics["invariance_level"] is None
    assert tables["correlations"].empty


def test_cfa_of_a_two_item_scale_is_an_error_before_fitting(tmp_path, monkeypatch):
    instrument = write_instrument(tmp_path)
    no_fitting(monkeypatch)
    cfg = measurement_cfg(scales=["C"], cfa={"scales": ["C"]})
    with pytest.raises(PipelineError) as err:
        measurement_stage.measure(survey(), None, instrument, cfg, seed=1)
    assert "params.yaml: measurement.cfa.scales: a one-factor model of 'C' needs at least 3 items" in str(err.value)


def test_many_scales_cfa_and_invariance(tmp_path):
    instrument = write_instrument(tmp_path)
    cfg = measurement_cfg(covariates=["age", "grp"], cfa={"scales": ["A", "B"]},
                          invariance={"scales": ["A", "B"], "groups": [1, 2], "min_group_size": 50})
    indices, tables, metrics = measurement_stage.measure(survey(), None, instrument, cfg, seed=1)
    rel = tables["reliability"].set_index("scale")
    assert list(rel.index) == ["A", "B", "C"]
    assert rel.at["C", "status"] == "flagged"                       # omega needs 3 items
    assert rel.loc[["A", "B"], "n_boot"].eq(20).all() and (rel.loc[["A", "B"], "message"] == "").all()
    assert tables["cfa_fit"].iloc[0]["status"] == "ok"
    assert len(tables["cfa_discriminant"]) == 1
    assert list(tables["invariance"]["model"][:2]) == ["configural", "metric"]
    assert tables["invariance"]["group_variable"].eq("grp").all()
    assert metrics["invariance_level"] in ("scalar", "partial_scalar", "metric")
    assert len(tables["correlations"]) == 3


def test_invariance_needs_a_group_role_and_codes_that_occur(tmp_path, monkeypatch):
    instrument = write_instrument(tmp_path)
    no_fitting(monkeypatch)
    asked = {"scales": ["A", "B"], "groups": [1, 3]}
    with pytest.raises(PipelineError) as err:
        measurement_stage.measure(survey(), None, without_roles(instrument, "group"),
                                  measurement_cfg(invariance=asked), 1)
    assert "measurement.invariance needs roles.group" in str(err.value)
    with pytest.raises(PipelineError) as err:
        measurement_stage.measure(survey(), None, instrument, measurement_cfg(invariance=asked), 1)
    assert ("measurement.invariance.groups: code(s) [3] do not occur in 'grp' (codes in the data: 1, 2)"
            in str(err.value))


def test_misspelled_measurement_names_are_listed_together(tmp_path, monkeypatch):
    instrument = write_instrument(tmp_path)
    no_fitting(monkeypatch)
    cfg = measurement_cfg(scales=["A", "b"], covariates=["agee"], cfa={"scales": ["A", "D"]})
    with pytest.raises(PipelineError) as err:
        measurement_stage.measure(survey(), None, instrument, cfg, 1)
    lines = str(err.value).splitlines()
    assert any("measurement.scales: 'b' is not a scale" in line and "did you mean 'B'" in line for line in lines)
    assert any("measurement.covariates: 'agee' is not a column of the cleaned survey (did you mean 'age'?)" in line
               for line in lines)
    assert any("measurement.cfa.scales: 'D' is not a scale" in line for line in lines)


# ---------------------------------------------------------------------------------------------
# clusters: none, from the survey alone, with a community file
# ---------------------------------------------------------------------------------------------
def test_no_community_role_bootstraps_respondents_and_adds_no_community_column(tmp_path):
    instrument = without_roles(write_instrument(tmp_path, scales=["A"]), "community")
    indices, tables, _ = measurement_stage.measure(survey(), None, instrument, measurement_cfg(covariates=["age"]), 1)
    assert list(indices.columns) == ["pid", "A", "A_n_items", "A_z", "age"]
    rel = tables["reliability"].iloc[0]
    assert rel["status"] == "ok" and rel["n_boot"] == 20
    assert "respondents resampled" in rel["message"]
    assert rel["alpha_low"] < rel["raw_alpha"] < rel["alpha_high"]
    with pytest.raises(PipelineError, match="needs roles.community"):
        measurement_stage.measure(survey(), None, instrument, measurement_cfg(community_covariates=["size"]), 1)


def test_community_file_joins_and_duplicate_ids_are_an_error(tmp_path, monkeypatch):
    instrument = write_instrument(tmp_path, scales=["A"])
    communities = pd.DataFrame({"site": [f"S{s:02d}" for s in range(20)], "size": np.arange(20) * 10})
    cfg = measurement_cfg(community_covariates=["size"])
    indices, _, _ = measurement_stage.measure(survey(), communities, instrument, cfg, 1)
    assert indices["size"].notna().all() and list(indices.columns).count("site") == 1
    no_fitting(monkeypatch)
    twice = pd.concat([communities, communities.iloc[:1]])
    with pytest.raises(PipelineError, match=r"community ids \['S00'\] appear more than once"):
        measurement_stage.measure(survey(), twice, instrument, cfg, 1)
    with pytest.raises(PipelineError, match="'sise' is not a column of the community file"):
        measurement_stage.measure(survey(), communities, instrument, measurement_cfg(community_covariates=["sise"]), 1)


def indices_frame(sites=20, n=400):
    df = survey(n=n, sites=sites)
    df["A"] = df[["a1", "a2", "a3"]].mean(axis=1)
    df["B"] = df[["b1", "b2", "b3"]].mean(axis=1)
    return df[["pid", "site", "grp", "age", "A", "B"]]


def test_models_without_clusters_are_plain_ols_and_a_cluster_spec_is_an_error(monkeypatch):
    data = indices_frame().drop(columns="site")
    cfg = models_cfg(specs=[{"id": "M1", "formula": "B ~ A + age"}])
    tables = models_stage.fit_all(data, cfg, seed=1)
    fit = tables["fits"].iloc[0]
    assert fit["cov_type"] == "classical" and pd.isna(fit["n_clusters"])
    assert tables["icc"].empty and tables["mediation"].empty and "icc_icc" in tables["icc"].columns
    no_fitting(monkeypatch)
    cfg = models_cfg(specs=[{"id": "M1", "formula": "B ~ A"},
                            {"id": "M2", "formula": "B ~ A", "covariance": "cluster"}])
    with pytest.raises(PipelineError) as err:
        models_stage.fit_all(data, cfg, seed=1)
    assert str(err.value).startswith(
        "params.yaml: models.specs[1] (id M2): covariance 'cluster' needs a cluster variable")


def test_one_community_with_a_clustered_spec_fails_before_fitting(monkeypatch):
    data = indices_frame(sites=1)
    no_fitting(monkeypatch)
    cfg = models_cfg(cluster="site", specs=[{"id": "P1", "formula": "B ~ A", "covariance": "cluster"},
                                            {"id": "P2", "formula": "B ~ A", "estimator": "mixed", "random": "site"}])
    with pytest.raises(PipelineError) as err:
        models_stage.fit_all(data, cfg, seed=1)
    lines = str(err.value).splitlines()
    assert lines[0].startswith("params.yaml: models.specs[0] (id P1): 'site' has 1 value(s)")
    assert "clustered standard errors need at least 5" in lines[0]
    assert "a random-effects model needs at least 5" in lines[1]


def test_misspelled_model_variable_says_did_you_mean(monkeypatch):
    no_fitting(monkeypatch)
    cfg = models_cfg(derived={"older": "agee > 50"}, specs=[{"id": "P2", "formula": "B ~ A + agge"}])
    with pytest.raises(PipelineError) as err:
        models_stage.fit_all(indices_frame(), cfg, seed=1)
    assert err.value.message.splitlines() == [
        "params.yaml: models.derived.older: 'agee' is not in processed/indices.parquet (did you mean 'age'?)",
        "params.yaml: models.specs[0] (id P2): variable 'agge' is not in processed/indices.parquet "
        "(did you mean 'age'?)",
    ]
    cfg = models_cfg(specs=[{"id": "P2", "formula": "B ~ A + age"}], hypotheses={"H1": {"model": "P2", "term": "AA"}},
                     predictions={"model": "P2", "grid": {"ag": [20, 60]}})
    with pytest.raises(PipelineError) as err:
        models_stage.fit_all(indices_frame(), cfg, seed=1)
    assert "models.predictions.grid: 'ag' is not a variable of model P2's formula (did you mean 'age'" in str(err.value)
    assert "models.hypotheses.H1: term 'AA' names ['AA'], not variables of model P2's formula" in str(err.value)


def test_constant_outcome_and_duplicate_columns_are_caught(monkeypatch):
    no_fitting(monkeypatch)
    data = indices_frame().assign(flat=1.0)
    with pytest.raises(PipelineError, match=r"outcome 'flat' is constant \(1.0\)"):
        models_stage.fit_all(data, models_cfg(specs=[{"id": "F", "formula": "flat ~ A"}]), seed=1)
    doubled = pd.concat([data, data[["pid"]]], axis=1)
    with pytest.raises(PipelineError, match=r"columns \['pid'\] appear more than once"):
        models_stage.fit_all(doubled, models_cfg(specs=[{"id": "F", "formula": "B ~ A"}]), seed=1)


def test_clustered_models_and_icc_with_enough_communities():
    cfg = models_cfg(cluster="site", icc=["B"],
                     specs=[{"id": "P1", "formula": "B ~ A + age", "covariance": "cluster"}],
                     mediation={"x": "age", "m": "A", "y": "B", "n_boot": 50},
                     hypotheses={"H1": {"model": "P1", "term": "A"}, "H2": {"mediation": "indirect"}})
    tables = models_stage.fit_all(indices_frame(), cfg, seed=1)
    assert tables["fits"].iloc[0]["n_clusters"] == 20
    assert tables["icc"].iloc[0]["icc_n_groups"] == 20
    assert set(tables["mediation"]["cluster"]) == {"site"}
    assert list(tables["hypotheses"]["hypothesis"]) == ["H1", "H2"]


def test_every_respondent_a_model_leaves_out_is_listed_with_the_variables_it_misses():
    """An outside study fitted 3,260 of 3,460 respondents with the 200 left out only counted
    (fits.csv: n_dropped): now dropped.csv lists each, by the indices' key, and why."""
    data = indices_frame()
    data.loc[[3, 7], "A"] = np.nan
    data.loc[[7, 9, 11], "age"] = np.nan
    data.loc[[20], "B"] = np.nan
    cfg = models_cfg(specs=[{"id": "M1", "formula": "B ~ A + age"}, {"id": "M2", "formula": "B ~ A"},
                            {"id": "M3", "formula": "A ~ C(grp)"}])
    tables = models_stage.fit_all(data, cfg, seed=1)
    dropped = tables["dropped"]
    assert list(dropped.columns) == ["model", "pid", "missing"]
    got = {(m, p): why for m, p, why in dropped.itertuples(index=False)}
    pid = data["pid"]
    assert got == {("M1", pid[3]): "A", ("M1", pid[7]): "A, age", ("M1", pid[9]): "age", ("M1", pid[11]): "age",
                   ("M1", pid[20]): "B", ("M2", pid[3]): "A", ("M2", pid[7]): "A", ("M2", pid[20]): "B",
                   ("M3", pid[3]): "A", ("M3", pid[7]): "A"}
    counts = dropped.groupby("model").size()
    assert tables["fits"].set_index("model")["n_dropped"].to_dict() == {m: counts[m] for m in ("M1", "M2", "M3")}
    assert models_stage.fit_all(data, models_cfg(specs=[]), seed=1)["dropped"].empty


# ---------------------------------------------------------------------------------------------
# the stages' command lines: empty specs, a study without CFA, errors without outputs
# ---------------------------------------------------------------------------------------------
def _params(tmp_path, instrument_path, **sections):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"seed": 3, "instrument": str(instrument_path), **sections}, sort_keys=False),
                    encoding="utf-8")
    return path


def test_stages_write_headers_for_a_survey_without_models(tmp_path):
    instrument = write_instrument(tmp_path)
    params = _params(tmp_path, instrument.path, measurement={**FAST, "covariates": ["age"]},
                     models={"specs": []})
    survey().to_parquet(tmp_path / "clean.parquet")
    processed, metrics = tmp_path / "processed", tmp_path / "metrics"
    code = run_cli(lambda: measurement_stage.main([
        "--params", str(params), "--survey", str(tmp_path / "clean.parquet"), "--communities", "",
        "--processed", str(processed), "--metrics", str(metrics / "measurement.json")]))
    assert code == 0
    m = json.loads((metrics / "measurement.json").read_text())
    assert m["cfa_cfi"] is None and m["cfa_status"] is None and m["invariance_freed"] is None
    for name in ("cfa_fit", "cfa_loadings", "cfa_validity", "cfa_discriminant", "invariance", "invariance_search"):
        text = (processed / "measurement" / f"{name}.csv").read_text()
        assert text.count("\n") == 1 and "," in text, name          # a header, no rows
    code = run_cli(lambda: models_stage.main([
        "--params", str(params), "--indices", str(processed / "indices.parquet"), "--out", str(processed / "models"),
        "--metrics", str(metrics / "models.json")]))
    assert code == 0
    assert json.loads((metrics / "models.json").read_text()) == {"models_flagged": 0, "n_models": 0}
    for name in ("coefficients", "fits", "components", "mi_pooled", "mediation", "icc", "predictions", "hypotheses"):
        text = (processed / "models" / f"{name}.csv").read_text()
        assert text.count("\n") == 1 and "," in text, name


def test_a_config_mistake_is_one_message_and_no_output(tmp_path, capsys):
    instrument = write_instrument(tmp_path)
    params = _params(tmp_path, instrument.path, models={"cluster": "site", "specs": [
        {"id": "P2", "formula": "B ~ A + gov_modle", "covariance": "cluster"}]})
    indices_frame().to_parquet(tmp_path / "indices.parquet")
    out = tmp_path / "models"
    code = run_cli(lambda: models_stage.main([
        "--params", str(params), "--indices", str(tmp_path / "indices.parquet"), "--out", str(out),
        "--metrics", str(tmp_path / "models.json")]))
    assert code == 2
    err = capsys.readouterr().err
    assert f"{params}: models.specs[0] (id P2): variable 'gov_modle' is not in {tmp_path / 'indices.parquet'}" in err
    assert "Traceback" not in err and not out.exists() and not (tmp_path / "models.json").exists()


# ---------------------------------------------------------------------------------------------
# the codebook table counts the study's own missing-value reasons
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("codes", "columns"), [
    ({}, ["合计"]),                                                          # no missing codes: one column
    ({-9: {"reason": "refused_minus9", "zh": "拒答"}, -8: {"reason": "not_asked", "zh": "未问"}}, ["拒答", "未问", "其他"]),
])
def test_the_codebook_table_counts_the_studys_own_missing_reasons(tmp_path, codes, columns):
    """An outside study without missing codes got the demo's columns don't know / refused /
    skipped, all zeros; one with other codes had them lumped into 'other'."""
    from pipeline.render.tables.survey import table_codebook
    from pipeline.stats.describe import codebook_summary

    spec = {**SYNTHETIC, "missing_codes": codes}
    path = tmp_path / "instrument.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    instrument = load_instrument(path)
    clean = survey(n=50)
    missing = pd.DataFrame({"pid": clean["pid"][:6], "variable": ["a1"] * 6,
                            "reason": ["blank", "blank", *(["refused_minus9"] * 3 if codes else ["blank"] * 3), "not_asked"
                                       if codes else "blank"]})
    summary = codebook_summary(clean, missing, instrument)
    row = summary.set_index("variable").loc["a1"]
    if codes:
        assert (row["missing_refused_minus9"], row["missing_not_asked"], row["missing_other"]) == (3, 1, 2)
    else:
        assert row["missing_other"] == 6 and not {"missing_dont_know", "missing_refused"} & set(summary.columns)
    table = table_codebook({"integrate/codebook.csv": summary}, instrument, {"lang": "zh"}, "table03_codebook")
    assert [c.text if hasattr(c, "text") else c for c in table.header[-1]][-len(columns):] == columns


def test_a_scale_of_categorical_items_is_warned_about(tmp_path, instrument):
    """Averaging a categorical item's codes is no scale score: the measurement stage says so."""
    assert measurement_stage.categorical_items(instrument, measurement_cfg()) == []     # the demo: ordinal items
    spec = dict(SYNTHETIC)
    spec["variables"] = [{**v, "type": "categorical"} if v["name"] == "b2" else v for v in SYNTHETIC["variables"]]
    path = tmp_path / "instrument.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    (line,) = measurement_stage.categorical_items(load_instrument(path), measurement_cfg())
    assert line.startswith("scale 'B' averages the codes of categorical item(s) b2 as numbers; make them type: ordinal")


def test_the_models_stages_own_few_cluster_flags_reach_the_tables_notes():
    """The regression tables read the models stage's flags from fits.csv's status text: fitted here
    with 6 clusters, the real messages (CR1 and CR2) become their notes, not 'flagged'."""
    from pipeline.render.tables.models import flag_notes

    cfg = models_cfg(cluster="site", specs=[{"id": "C1", "formula": "B ~ A + age", "covariance": "cluster"},
                                            {"id": "C2", "formula": "B ~ A + age", "covariance": "cluster_cr2"}])
    fits = models_stage.fit_all(indices_frame(sites=6), cfg, seed=1)["fits"]
    rows = {r["model"]: r for _, r in fits.iterrows()}
    assert all(str(rows[m]["status"]).startswith("few clusters (G=6)") for m in ("C1", "C2"))
    assert flag_notes(rows, ["C1", "C2"], "en") == [
        "Models (1): only 6 communities; cluster-robust standard errors are unreliable with so few.",
        "Models (2): only 6 communities; CR2 errors with Satterthwaite df are the small-sample correction, "
        "and tests on few df are imprecise."]

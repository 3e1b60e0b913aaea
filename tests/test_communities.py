"""Community ids and the community file (pipeline/core/communities.py): one written form of an
id on both sides of every join (the survey's 1224.0 from SPSS and the file's "01224" are one
id), one clear line when the two cannot be matched, and the file optional unless the
instrument declares it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fixtures.toy_survey import TOY_INSTRUMENT, output_files, run_stage, toy_survey
from pipeline.core.communities import (canonical_id, community_file, community_key, kinds_differ,
                                       read_communities)
from pipeline.core.errors import PipelineError
from pipeline.core.instrument import load_instrument
from pipeline.core.settings import Measurement
from pipeline.stats.scoring import build_indices


@pytest.mark.parametrize("value, key", [
    (1224.0, "1224"), (1224, "1224"), (np.int64(1224), "1224"), (np.float32(17), "17"),
    ("1224", "1224"), ("01224", "1224"), ("1224.0", "1224"), ("１２２４", "1224"), (" 1224 ", "1224"),
    (12.5, "12.5"), ("12.50", "12.5"), ("640102001001", "640102001001"), (640102001001.0, "640102001001"),
    ("A12", "A12"), (" Ａ12　", "A12"), ("C001", "C001"), ("1e3", "1e3"), ("12-3", "12-3"),
    (np.nan, None), (None, None), ("", None), ("  ", None),
])
def test_canonical_id(value, key):
    assert canonical_id(value) == key


@given(st.integers(0, 10**15))
def test_one_number_is_one_id_however_written(n):
    forms = [n, float(n) if n < 2**53 else n, str(n), "0" + str(n), f"{n}.0", str(n).translate({48 + i: 0xFF10 + i for i in range(10)})]
    assert {canonical_id(f) for f in forms} == {str(n)}


@given(st.text(max_size=12))
def test_the_written_form_is_stable(text):
    key = canonical_id(text)
    assert key is None or canonical_id(key) == key


def test_community_key_keeps_index_and_missing():
    s = pd.Series([1224.0, np.nan, 17.0], index=[5, 6, 7], name="school")
    out = community_key(s)
    assert out.index.tolist() == [5, 6, 7] and out.name == "school" and out.dtype == "str"
    assert out[5] == "1224" and pd.isna(out[6]) and out[7] == "17"


def test_kinds_differ_names_both_sides():
    assert kinds_differ([1224.0, 17.0], "survey 'school'", ["A12", "1224"], "communities.csv 'school'") == (
        "survey 'school' holds numbers, communities.csv 'school' holds text (e.g. 'A12')")
    assert kinds_differ(["A1"], "survey 'site'", ["7"], "sites.csv 'site'") == (
        "survey 'site' holds text (e.g. 'A1'), sites.csv 'site' holds numbers")
    assert kinds_differ([1.0], "a", ["01"], "b") is None and kinds_differ(["A"], "a", ["B"], "b") is None


# --------------------------------------------------------------------------------------------
# the community file
# --------------------------------------------------------------------------------------------
def _instrument(tmp_path, change=None):
    """The toy instrument (roles.community: site, a communities: section), changed by ``change``."""
    spec = yaml.safe_load(TOY_INSTRUMENT.read_text(encoding="utf-8"))
    if change:
        change(spec)
    path = tmp_path / f"instrument_{len(list(tmp_path.glob('instrument_*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _no_clusters(spec):
    del spec["roles"]["community"]
    del spec["communities"]


def test_read_communities_writes_ids_alike_and_keeps_numbers(tmp_path):
    toy = load_instrument(_instrument(tmp_path))
    (tmp_path / "sites.csv").write_text("site,size,name\n01224,800,一中\n17,450.5,二中\n", encoding="utf-8")
    frame = read_communities(tmp_path / "sites.csv", toy)
    assert frame["site"].tolist() == ["1224", "17"] and frame["site"].dtype == "str"
    assert frame["size"].dtype == "float64" and frame["name"].tolist() == ["一中", "二中"]


@pytest.mark.parametrize("text, message", [
    ("site,size\n1224,1\n1224.0,2\n", "community id(s) '1224', '1224.0' in 'site' occur more than once (lines 2, 3)"),
    ("site,size\n1224,1\n,2\n", "the community id 'site' is empty on line(s) 3"),
    ("school,size\n1224,1\n", "no column 'site' (the instrument's community id)"),
])
def test_bad_community_files_are_one_line(tmp_path, text, message):
    toy = load_instrument(_instrument(tmp_path))
    (tmp_path / "sites.csv").write_text(text, encoding="utf-8")
    with pytest.raises(PipelineError) as err:
        read_communities(tmp_path / "sites.csv", toy)
    assert message in str(err.value) and "sites.csv" in str(err.value) and "\n" not in str(err.value)


def test_the_community_file_is_optional_unless_declared(tmp_path):
    declared = load_instrument(_instrument(tmp_path))
    undeclared = load_instrument(_instrument(tmp_path, lambda spec: spec.pop("communities")))
    no_clusters = load_instrument(_instrument(tmp_path, _no_clusters))
    absent = tmp_path / "communities.csv"
    assert community_file(absent, undeclared) is None and community_file(absent, no_clusters) is None
    assert community_file("", declared) is None
    with pytest.raises(PipelineError, match="community file not found .* declares one in its communities: section"):
        community_file(absent, declared)
    absent.write_text("site\nS1\n", encoding="utf-8")
    assert community_file(absent, undeclared) == absent and community_file(absent, no_clusters) is None


# --------------------------------------------------------------------------------------------
# the survey stage
# --------------------------------------------------------------------------------------------
def _numeric_sites(tmp_path):
    """The toy survey as .sav with numeric site ids (SPSS keeps them as floats)."""
    df, _, _ = toy_survey()
    df["site"] = df["site"].map({"S1": 1224.0, "S2": 17.0, "S3": 5.0})
    pyreadstat.write_sav(df, tmp_path / "toy.sav")
    return tmp_path / "toy.sav"


def _params(tmp_path, instrument):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"seed": 1, "instrument": str(instrument),
                                    "survey": {"demo_key": "k", "id_key_file": str(tmp_path / "none")}}), encoding="utf-8")
    return path


def test_numeric_survey_ids_match_text_ids_of_the_file(tmp_path):
    sav = _numeric_sites(tmp_path)
    (tmp_path / "sites.csv").write_text("site\n01224\n17\n5.0\n", encoding="utf-8")
    params = _params(tmp_path, _instrument(tmp_path))
    assert run_stage(tmp_path / "out", sav, params=params, communities=tmp_path / "sites.csv") == 0
    clean = pd.read_parquet(tmp_path / "out" / "processed" / "survey_clean.parquet")
    assert set(clean["site"]) == {"1224", "17", "5"}


def test_ids_of_different_kinds_are_one_line(tmp_path, capsys):
    sav = _numeric_sites(tmp_path)
    (tmp_path / "sites.csv").write_text("site\nA12\n1224\n17\n", encoding="utf-8")
    params = _params(tmp_path, _instrument(tmp_path))
    assert run_stage(tmp_path / "out", sav, params=params, communities=tmp_path / "sites.csv") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "toy.sav" in err and str(tmp_path / "sites.csv") in err
    assert "survey 'site' holds numbers, sites.csv 'site' holds text (e.g. 'A12')" in err
    assert output_files(tmp_path / "out") == []


def test_survey_without_clusters_runs_without_a_community_file(tmp_path):
    df, _, _ = toy_survey()
    df.drop(columns="site").to_csv(tmp_path / "toy.csv", index=False)
    instrument = _instrument(tmp_path, lambda spec: (_no_clusters(spec), spec["variables"].pop(2)))
    params = _params(tmp_path, instrument)
    assert run_stage(tmp_path / "out", tmp_path / "toy.csv", params=params, communities=tmp_path / "absent.csv") == 0
    clean = pd.read_parquet(tmp_path / "out" / "processed" / "survey_clean.parquet")
    assert "site" not in clean.columns and len(clean) > 0


def test_a_declared_community_file_that_is_missing_is_one_line(tmp_path, capsys):
    df, _, _ = toy_survey()
    df.to_csv(tmp_path / "toy.csv", index=False)
    params = _params(tmp_path, _instrument(tmp_path))
    assert run_stage(tmp_path / "out", tmp_path / "toy.csv", params=params, communities=tmp_path / "absent.csv") == 2
    err = capsys.readouterr().err
    assert "absent.csv: community file not found" in err and "communities: section" in err


# --------------------------------------------------------------------------------------------
# the join of the measurement stage
# --------------------------------------------------------------------------------------------
MEASUREMENT = Measurement(scales=["wellbeing"], community_covariates=["size"], cfa={"scales": ["wellbeing"]},
                          invariance={"scales": ["wellbeing"], "groups": [1, 2], "min_group_size": 10,
                                      "max_delta_cfi": 0.01, "max_delta_rmsea": 0.015, "max_free_intercepts": 1})
CLEAN = pd.DataFrame({"person": ["Pa", "Pb", "Pc"], "site": ["1224", "17", "1224"],
                      "calm": [1.0, 2.0, 3.0], "cheerful": [1.0, 2.0, 3.0], "worried": [4.0, 3.0, 2.0]})


def test_build_indices_joins_ids_written_differently(tmp_path):
    toy = load_instrument(_instrument(tmp_path))
    communities = pd.DataFrame({"site": ["01224", "17.0"], "size": [800, 450]})
    out = build_indices(CLEAN, communities, toy, MEASUREMENT)
    assert out["size"].tolist() == [800, 450, 800] and out["site"].tolist() == ["1224", "17", "1224"]
    with pytest.raises(PipelineError, match=r"survey 'site' holds numbers, community file 'site' holds text \(e.g. 'A1'\)"):
        build_indices(CLEAN, pd.DataFrame({"site": ["A1", "17"], "size": [1, 2]}), toy, MEASUREMENT)


def test_build_indices_without_clusters(tmp_path):
    toy = load_instrument(_instrument(tmp_path, _no_clusters))
    none = MEASUREMENT.model_copy(update={"community_covariates": []})
    out = build_indices(CLEAN.drop(columns="site"), None, toy, none)
    assert list(out.columns[:2]) == ["person", "wellbeing"] and len(out) == 3
    with pytest.raises(PipelineError, match="community_covariates .* need roles.community"):
        build_indices(CLEAN.drop(columns="site"), None, toy, MEASUREMENT)

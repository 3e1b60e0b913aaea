"""The public data sets of the non-demo test studies (tests/studies/build_data.py) and their R
reference numbers (tests/reference/study_references.R -> study_references.json).

Checks that the raw files are what a study would receive (labels, user-missing 99, row counts,
School as a number in the survey and as text in the school file) and that the fixture is
self-consistent: statsmodels, fitted directly on the files read back, gives R's numbers."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import statsmodels.formula.api as smf

from studies.build_data import (BFI_ITEMS, EDUCATION, LIKERT6, MISSING_CODE, MISSING_LABEL,
                                REFERENCES, read_bfi, read_hsb, write_bfi_sav, write_hsb_sav)

RTOL = 1e-6


@pytest.fixture(scope="module")
def ref():
    return json.loads(REFERENCES.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bfi_sav(tmp_path_factory):
    path = write_bfi_sav(tmp_path_factory.mktemp("s1"))
    return pyreadstat.read_sav(path, user_missing=True)


@pytest.fixture(scope="module")
def hsb_files(tmp_path_factory):
    sav, schools = write_hsb_sav(tmp_path_factory.mktemp("s2"))
    df, meta = pyreadstat.read_sav(sav, user_missing=True)
    return df, meta, schools


def _close(actual: dict, expected: dict, rtol: float = RTOL) -> None:
    assert list(actual) == list(expected)
    np.testing.assert_allclose(list(actual.values()), list(expected.values()), rtol=rtol, atol=0)


def test_reference_json_layout(ref):
    assert set(ref) == {"meta", "datasets", "s1_bfi", "s2_hsb"}
    for name in ("bfi", "hsb"):
        assert ref["datasets"][name]["source"] and ref["datasets"][name]["licence"]
    assert {"r_version", "packages"} <= set(ref["meta"])
    for scale in ("agree", "consc"):
        assert {"items", "reverse", "valid_codes", "min_items", "raw_alpha", "n_scored", "mean",
                "sd"} <= set(ref["s1_bfi"]["scales"][scale])
    ols = ref["s1_bfi"]["models"]["ols_agree"]
    assert set(ols["se"]) == {"classical", "hc1"} and ols["pipeline_default_covariance"] == "classical"
    models = ref["s2_hsb"]["models"]
    for m in ("mixed_ses_sector", "mixed_null"):
        assert {"coef", "se", "var_intercept", "residual_var", "icc", "loglik"} <= set(models[m])
    assert set(models["ols_ses_sector"]["se"]) == {"classical", "cluster", "cluster_hc0", "cluster_cr2"}


def test_alpha_matches_psych_reliability_reference(ref):
    old = json.loads((REFERENCES.parent / "psych_reliability.json").read_text(encoding="utf-8"))
    for new, name in (("agree", "agreeableness"), ("consc", "conscientiousness")):
        assert ref["s1_bfi"]["scales"][new]["raw_alpha"] == old["scales"][name]["alpha"]["total"]["raw_alpha"]


def test_bfi_sav_labels_and_user_missing(bfi_sav):
    df, meta = bfi_sav
    csv = read_bfi()
    assert df.shape == (2800, 14) and list(df.columns) == list(csv.columns)
    assert meta.column_names_to_labels["A1"] == BFI_ITEMS["A1"] == "不关心别人的感受"
    assert meta.column_names_to_labels["id"] == "受访者编号"
    assert meta.variable_value_labels["A3"] == {**{float(k): v for k, v in LIKERT6.items()},
                                                float(MISSING_CODE): MISSING_LABEL}
    assert meta.variable_value_labels["gender"] == {1.0: "男", 2.0: "女", 99.0: MISSING_LABEL}
    assert meta.variable_value_labels["education"][5.0] == EDUCATION[5]
    assert "id" not in meta.missing_ranges and "id" not in meta.variable_value_labels
    for col in csv.columns.drop("id"):
        assert meta.missing_ranges[col] == [{"lo": 99.0, "hi": 99.0}]
        # every NA of the CSV is a 99 in the file, nothing else is
        assert ((df[col] == MISSING_CODE) == csv[col].isna()).all(), col
    assert (df[csv.columns.drop("id")] == MISSING_CODE).sum().sum() == csv.isna().sum().sum() == 434
    np.testing.assert_array_equal(df["id"].to_numpy(), csv["id"].to_numpy())


def test_bfi_sav_without_user_missing_reads_99_as_missing(tmp_path):
    df, _ = pyreadstat.read_sav(write_bfi_sav(tmp_path))
    pd.testing.assert_frame_equal(df, read_bfi().astype(float), check_dtype=False)


def test_writers_are_deterministic(tmp_path):
    a, b = write_bfi_sav(tmp_path / "a"), write_bfi_sav(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    (sa, ca), (sb, cb) = write_hsb_sav(tmp_path / "a"), write_hsb_sav(tmp_path / "b")
    assert sa.read_bytes() == sb.read_bytes() and ca.read_bytes() == cb.read_bytes()


def test_hsb_files(hsb_files, ref):
    df, meta, schools_path = hsb_files
    students, schools = read_hsb()
    assert df.shape == (7185, 6) and df["School"].nunique() == 160
    assert df["School"].dtype.kind == "f"  # numeric in the survey ...
    assert meta.column_names_to_labels["School"] == "学校编号"
    assert meta.variable_value_labels["Sex"] == {1.0: "男", 2.0: "女"}
    assert meta.variable_value_labels["Minority"] == {0.0: "否", 1.0: "是"}
    assert not meta.missing_ranges
    text = schools_path.read_text(encoding="utf-8").splitlines()
    assert text[1].startswith('"1224",')  # ... and quoted text in the school file
    as_text = pd.read_csv(schools_path, dtype=str)
    assert len(as_text) == 160 and set(as_text["School"]) == {str(int(s)) for s in df["School"]}
    assert df["School"].astype(str).iloc[0] == "1224.0"  # the naive string of the number differs
    np.testing.assert_array_equal(df.to_numpy(), students.to_numpy(dtype=float))
    assert ref["datasets"]["hsb"]["n_students"] == len(students)


def _scores(df: pd.DataFrame, scale: dict) -> pd.Series:
    items = df[scale["items"]].astype(float).mask(lambda x: x == MISSING_CODE)
    lo, hi = min(scale["valid_codes"]), max(scale["valid_codes"])
    for item in scale["reverse"]:
        items[item] = lo + hi - items[item]
    return items.mean(axis=1).where(items.notna().sum(axis=1) >= scale["min_items"])


def test_s1_statsmodels_reproduces_r(bfi_sav, ref):
    df, _ = bfi_sav
    scales = ref["s1_bfi"]["scales"]
    d = df.replace(MISSING_CODE, np.nan)
    for name, sc in scales.items():
        d[name] = _scores(df, sc)
        s = d[name].dropna()
        assert len(s) == sc["n_scored"]
        np.testing.assert_allclose([s.mean(), s.std(ddof=1)], [sc["mean"], sc["sd"]], rtol=RTOL)
        for rid, value in sc["examples"].items():
            assert d.loc[d["id"] == int(rid), name].item() == pytest.approx(value, rel=RTOL)
    r = ref["s1_bfi"]["models"]["ols_agree"]
    cc = d.dropna(subset=["agree", "consc", "gender", "age"])
    fit = smf.ols(r["formula"], data=cc).fit()
    assert int(fit.nobs) == r["n_obs"] and len(d) - int(fit.nobs) == r["n_dropped"]
    _close(fit.params.to_dict(), r["coef"])
    _close(fit.bse.to_dict(), r["se"]["classical"])
    _close(smf.ols(r["formula"], data=cc).fit(cov_type="HC1").bse.to_dict(), r["se"]["hc1"])
    np.testing.assert_allclose([fit.rsquared, fit.rsquared_adj, np.sqrt(fit.scale)],
                               [r["r2"], r["adj_r2"], r["sigma"]], rtol=RTOL)


def test_s2_statsmodels_reproduces_r(hsb_files, ref):
    df, _, schools_path = hsb_files
    schools = pd.read_csv(schools_path, dtype={"School": str})
    d = df.assign(School=df["School"].astype(int).astype(str)).merge(
        schools[["School", "Sector"]], on="School", how="left", validate="many_to_one")
    assert d["Sector"].notna().all()
    r = ref["s2_hsb"]["models"]["ols_ses_sector"]
    fit = smf.ols(r["formula"], data=d).fit()
    _close(fit.params.to_dict(), r["coef"])
    _close(fit.bse.to_dict(), r["se"]["classical"])
    assert fit.rsquared == pytest.approx(r["r2"], rel=RTOL)
    groups = pd.factorize(d["School"])[0]
    cl = smf.ols(r["formula"], data=d).fit(cov_type="cluster", cov_kwds={"groups": groups})
    _close(cl.bse.to_dict(), r["se"]["cluster"])  # statsmodels' default correction is CR1
    assert d["School"].nunique() == r["n_clusters"] == r["df"]["cluster"] + 1

"""Studies that are not the demo, adopted as the README says: the team's raw files in a fresh copy
of the project, ``python -m pipeline init``, the documented edits (scales in the instrument, models
in params.yaml), ``dvc repro``; then the numbers against R's (tests/reference/study_references.R,
run once on public data; the tests never need R).

* S1, survey only, scales (reverse-keyed items), no clusters: psych::bfi exported to SPSS with
  Chinese labels, value labels and user-missing code 99.
* S2, multilevel, numeric cluster ids in the survey against text ids in a school file, a
  cluster-level covariate, no scales: nlme::MathAchieve / MathAchSchool.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from studies.build_data import REFERENCES, write_bfi_sav, write_hsb_sav

ROOT = Path(__file__).resolve().parents[1]
REF = json.loads(REFERENCES.read_text(encoding="utf-8"))
pytestmark = pytest.mark.slow


def fresh_project(tmp: Path) -> Path:
    """What a team has after cloning: the code, the generic config, the demo study, no raw data."""
    project = tmp / "project"
    ignore = shutil.ignore_patterns("__pycache__", "dvc.lock")
    shutil.copytree(ROOT / "pipeline", project / "pipeline", ignore=ignore)
    shutil.copytree(ROOT / "studies", project / "studies", ignore=ignore)
    (project / "config").mkdir()
    for name in ("surnames.txt", "given_names.txt", "stopwords.txt"):
        shutil.copyfile(ROOT / "config" / name, project / "config" / name)
    for name in ("requirements.lock", "dvc.yaml", "params.yaml"):
        shutil.copyfile(ROOT / name, project / name)
    return project


def env() -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")]), "DVC_NO_ANALYTICS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "PIPELINE_TIMINGS": ".cache/timings"}


def run(project: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), cwd=project, env=env(), capture_output=True, text=True)


def init(project: Path, *args: str) -> str:
    proc = run(project, sys.executable, "-m", "pipeline", "init", *args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout + proc.stderr


def repro(project: Path) -> None:
    proc = run(project, str(Path(sys.executable).with_name("dvc")), "repro")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "studies/demo" not in proc.stdout, "the demo study ran beside the team's"


def edit(path: Path, old: str, new: str) -> None:
    """One of the documented edits, as a researcher makes it: text replaced in the file."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: '{old}' should occur once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def coefficient(project: Path, model: str, term: str) -> pd.Series:
    coefs = pd.read_csv(project / "processed" / "models" / "coefficients.csv")
    hit = coefs[(coefs["model"] == model) & (coefs["term"] == term)]
    assert len(hit) == 1, (model, term, sorted(coefs["term"].unique()))
    return hit.iloc[0]


@pytest.fixture(scope="module")
def bfi_study(tmp_path_factory) -> Path:
    project = fresh_project(tmp_path_factory.mktemp("bfi"))
    write_bfi_sav(project)
    out = init(project, "--survey", "raw/survey.sav")
    assert "scales" in out and "models.specs" in out            # the next steps name the two edits
    edit(project / "config" / "instrument.yaml", "scales: {}",
         "scales:\n  agree: {items: [A1, A2, A3, A4, A5], reverse: [A1]}\n"
         "  consc: {items: [C1, C2, C3, C4, C5], reverse: [C4, C5]}")
    edit(project / "params.yaml", "  specs: []",
         '  specs:\n    - {id: M1, formula: "agree ~ consc + gender + age", estimator: ols}')
    repro(project)
    return project


def test_s1_init_drafts_a_study_without_demo_names(bfi_study):
    params = (bfi_study / "params.yaml").read_text(encoding="utf-8")
    stages = yaml.safe_load((bfi_study / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert list(stages) == ["survey", "measurement", "models", "integrate", "report"]
    demo_names = ["comm_id", "gov_model", "hh_size_text", "birth_year", "hui", "ethnicity", "comm_type",
                  "points_scheme", "23NXBSH01", "simulate"]
    for text in (params, (bfi_study / "dvc.yaml").read_text(encoding="utf-8")):
        assert not [n for n in demo_names if n in text]
    instrument = yaml.safe_load((bfi_study / "config" / "instrument.yaml").read_text(encoding="utf-8"))
    by_name = {v["name"]: v for v in instrument["variables"]}
    assert instrument["roles"]["id"] == "id" and not instrument["roles"].get("community")
    assert by_name["A1"]["label"]["zh"] and 99 in {int(k) for k in instrument.get("missing_codes", {})} | \
        {int(k) for k in by_name["A1"].get("missing", {}) or {}}
    assert "/studies/demo/" in (bfi_study / ".dvcignore").read_text(encoding="utf-8")
    assert (bfi_study / "raw" / "survey.sav.dvc").is_file()           # the raw file is tracked


def test_s1_reliability_and_ols_equal_r(bfi_study):
    rel = pd.read_csv(bfi_study / "processed" / "measurement" / "reliability.csv").set_index("scale")
    for scale in ("agree", "consc"):
        assert rel.at[scale, "raw_alpha"] == pytest.approx(REF["s1_bfi"]["scales"][scale]["raw_alpha"], abs=1e-6)
    ref = REF["s1_bfi"]["models"]["ols_agree"]
    se = ref["se"][ref["pipeline_default_covariance"]]
    for term in ref["terms"]:
        row = coefficient(bfi_study, "M1", term)
        assert row["estimate"] == pytest.approx(ref["coef"][term], abs=1e-6)
        assert row["std_error"] == pytest.approx(se[term], abs=1e-6)
    fits = pd.read_csv(bfi_study / "processed" / "models" / "fits.csv").set_index("model")
    assert int(fits.at["M1", "n_obs"]) == ref["n_obs"] and fits.at["M1", "r2"] == pytest.approx(ref["r2"], abs=1e-9)


def test_s1_report_shows_only_the_survey_sections(bfi_study):
    page = (bfi_study / "reports" / "report.html").read_text(encoding="utf-8")
    assert 'id="sec-measurement"' in page and 'id="sec-models"' in page
    assert 'id="sec-qualitative"' not in page and 'id="sec-joint"' not in page
    assert "Traceback" not in page and (bfi_study / "reports" / "report.docx").stat().st_size > 10_000
    assert not (bfi_study / "processed" / "topics").exists()
    captions = re.findall(r"<figcaption>([^<]*)", page)          # no groups: Figure 2 of the whole sample
    assert captions and not any("None" in c or "_sample" in c for c in captions), captions
    assert any(c.startswith("图2 全部受访者的各指数分布") for c in captions), captions


@pytest.fixture(scope="module")
def hsb_study(tmp_path_factory) -> Path:
    project = fresh_project(tmp_path_factory.mktemp("hsb"))
    write_hsb_sav(project)
    init(project, "--survey", "raw/survey.sav", "--communities", "raw/schools.csv", "--cluster", "School")
    edit(project / "params.yaml", "  specs: []",
         "  specs:\n"
         '    - {id: OLS, formula: "MathAch ~ SES + Sector", estimator: ols, covariance: cluster}\n'
         '    - {id: RI, formula: "MathAch ~ SES + Sector", estimator: mixed, random: School, reml: true}')
    repro(project)
    return project


def test_s2_numeric_cluster_ids_meet_text_ids_and_models_equal_r(hsb_study):
    ols = REF["s2_hsb"]["models"]["ols_ses_sector"]
    for term in ols["terms"]:
        row = coefficient(hsb_study, "OLS", term)
        assert row["estimate"] == pytest.approx(ols["coef"][term], abs=1e-6)
        assert row["std_error"] == pytest.approx(ols["se"]["cluster"][term], abs=1e-6)
    mixed = REF["s2_hsb"]["models"]["mixed_ses_sector"]
    for term in mixed["terms"]:
        row = coefficient(hsb_study, "RI", term)
        assert row["estimate"] == pytest.approx(mixed["coef"][term], abs=1e-5)
        assert row["std_error"] == pytest.approx(mixed["se"]["model"][term], abs=1e-5)
    indices = pd.read_parquet(hsb_study / "processed" / "indices.parquet")
    assert indices["Sector"].notna().all() and indices["School"].nunique() == 160


def test_s2_report_has_models_and_no_scales(hsb_study):
    page = (hsb_study / "reports" / "report.html").read_text(encoding="utf-8")
    assert 'id="sec-models"' in page and 'id="sec-measurement"' not in page


# S3, texts only: 500 sentences of Chinese Wikipedia (UD Chinese GSDSimp, CC BY-SA 4.0;
# tests/fixtures/corpus/ud_gsdsimp/SOURCE.md), one file each, as a team's folder of documents
# (messages, open answers) would be, with two planted messages carrying personal data.
CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "ud_gsdsimp" / "texts.txt"
PLANTED = ["我的手机号是13912345678，有事打给我。", "身份证号11010519491231002X，住在幸福路12号楼3单元502室。"]


@pytest.fixture(scope="module")
def texts_study(tmp_path_factory) -> Path:
    project = fresh_project(tmp_path_factory.mktemp("texts"))
    folder = project / "raw" / "texts"
    folder.mkdir(parents=True)
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()] + PLANTED
    for i, line in enumerate(lines, start=1):
        (folder / f"t{i:03d}.txt").write_text(line + "\n", encoding="utf-8")
    out = init(project, "--transcripts", "raw/texts")
    assert "texts: documents" in out
    repro(project)
    return project


def test_s3_texts_only_reaches_a_report_of_topics(texts_study):
    stages = yaml.safe_load((texts_study / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert list(stages) == ["transcripts", "topics", "report"]
    params = yaml.safe_load((texts_study / "params.yaml").read_text(encoding="utf-8"))
    assert "instrument" not in params and "survey" not in params
    units = pd.read_parquet(texts_study / "processed" / "transcripts" / "units.parquet")
    assert units["interview_id"].nunique() >= 450                 # one text per file, no interviewer
    topics = pd.read_csv(texts_study / "processed" / "topics" / "topics.csv")
    assert len(topics) >= 2
    page = (texts_study / "reports" / "report.html").read_text(encoding="utf-8")
    assert 'id="sec-qualitative"' in page
    assert 'id="sec-sample"' not in page and 'id="sec-models"' not in page
    assert f"文本：分析{units['interview_id'].nunique()}个文本" in page         # the texts' note of the topics table


def test_s3_personal_data_leaves_no_trace_outside_raw(texts_study):
    for folder in ("processed", "reports", "metrics", ".cache"):
        for path in (texts_study / folder).rglob("*"):
            if path.is_file() and path.suffix in (".csv", ".json", ".md", ".html", ".parquet", ".txt", ".tex"):
                data = (pd.read_parquet(path).to_csv().encode() if path.suffix == ".parquet"   # compressed on disk
                        else path.read_bytes())
                for secret in ("13912345678", "11010519491231002X", "502室"):
                    assert secret.encode() not in data, (path, secret)


def test_s2_clusters_from_the_survey_alone(tmp_path):
    """Clusters named by the survey alone (no community file): clustered errors and a random
    intercept by school, the same numbers as with the school file (Sector is then a survey
    variable: here the students' file has no Sector, so the model is SES only, against lme4)."""
    project = fresh_project(tmp_path)
    write_hsb_sav(project)
    (project / "raw" / "schools.csv").unlink()
    init(project, "--survey", "raw/survey.sav", "--cluster", "School")
    stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert "--communities ''" in stages["survey"]["cmd"] and "raw/schools.csv" not in str(stages)
    edit(project / "params.yaml", "  specs: []",
         '  specs:\n    - {id: RI0, formula: "MathAch ~ 1", estimator: mixed, random: School, reml: true}')
    repro(project)
    null = REF["s2_hsb"]["models"]["mixed_null"]
    row = coefficient(project, "RI0", "Intercept")
    assert row["estimate"] == pytest.approx(null["coef"]["Intercept"], abs=1e-5)
    assert row["std_error"] == pytest.approx(null["se"]["model"]["Intercept"], abs=1e-5)
    fits = pd.read_csv(project / "processed" / "models" / "fits.csv").set_index("model")
    assert fits.at["RI0", "icc"] == pytest.approx(null["icc"], abs=1e-5)

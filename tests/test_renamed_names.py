"""Every name comes from the instrument: the demo study with its community variable renamed
(``comm_id`` -> ``shequ`` in the survey file, the community file, the instrument and params.yaml)
runs every analysis stage and gives the same numbers and the same tables. A stage that still
named the demo's column would fail here or lose the community covariates."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml

from conftest import DEMO, stage_order

ROOT = Path(__file__).resolve().parents[1]
NEW = "shequ"


def _rename_study(demo: Path, work: Path) -> None:
    shutil.copytree(demo / "config", work / "config")
    shutil.copytree(demo / DEMO, work / DEMO, ignore=shutil.ignore_patterns("dvc.lock"))
    shutil.copytree(demo / "raw" / "transcripts", work / "raw" / "transcripts")
    (work / "processed" / "demo_checks").mkdir(parents=True)
    shutil.copyfile(demo / "processed" / "demo_checks" / "human_codes.csv",
                    work / "processed" / "demo_checks" / "human_codes.csv")
    df, meta = pyreadstat.read_sav(str(demo / "raw" / "survey.sav"), user_missing=True)
    labels = dict(zip(meta.column_names, meta.column_labels))
    df = df.rename(columns={"comm_id": NEW})
    labels[NEW] = labels.pop("comm_id")
    pyreadstat.write_sav(df, str(work / "raw" / "survey.sav"), column_labels=[labels[c] for c in df.columns],
                         variable_value_labels=meta.variable_value_labels, missing_ranges=meta.missing_ranges,
                         variable_measure={k: v for k, v in meta.variable_measure.items() if k in df.columns}
                         | ({NEW: meta.variable_measure["comm_id"]} if "comm_id" in meta.variable_measure else {}))
    comm = pd.read_csv(demo / "raw" / "communities.csv", dtype=str, keep_default_na=False)
    comm.rename(columns={"comm_id": NEW}).to_csv(work / "raw" / "communities.csv", index=False)
    for rel in (DEMO / "instrument.yaml", DEMO / "params.yaml"):
        text = (work / rel).read_text(encoding="utf-8")
        (work / rel).write_text(text.replace("comm_id", NEW), encoding="utf-8")


@pytest.fixture(scope="module")
def renamed(demo_study, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("renamed")
    _rename_study(demo_study, work)
    dvc = yaml.safe_load((ROOT / DEMO / "dvc.yaml").read_text(encoding="utf-8"))
    env = {**os.environ, "PIPELINE_TIMINGS": str(work / ".cache" / "timings"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for name in stage_order(dvc, None):
        if name in ("simulate", "demo_checks"):          # the demo's own: they read raw/truth
            continue
        argv = dvc["stages"][name]["cmd"].split()
        argv[0] = sys.executable
        proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-3000:]}"
    return work


@pytest.mark.parametrize("rel", [
    "processed/measurement/reliability.csv", "processed/models/coefficients.csv", "processed/models/mediation.csv",
    "processed/models/icc.csv", "processed/topics/topics.csv", "processed/topics/prevalence.csv",
    "processed/coding/frequencies.csv", "processed/coding/agreement.csv", "processed/integrate/joint_display.csv",
])
def test_same_numbers_with_the_community_variable_renamed(demo_study, renamed, rel):
    assert (renamed / rel).read_text(encoding="utf-8") == (demo_study / rel).read_text(encoding="utf-8").replace("comm_id", NEW)


def test_same_tables_with_the_community_variable_renamed(demo_study, renamed):
    tables = sorted((demo_study / "reports" / "tables").glob("*.csv"))
    assert len(tables) >= 15
    for path in tables:
        assert (renamed / "reports" / "tables" / path.name).read_text(encoding="utf-8") == \
            path.read_text(encoding="utf-8").replace("comm_id", NEW), path.name
    units = pd.read_parquet(renamed / "processed" / "transcripts" / "units.parquet")
    indices = pd.read_parquet(renamed / "processed" / "indices.parquet")
    assert NEW in units.columns and NEW in indices.columns
    assert "comm_id" not in units.columns and "comm_id" not in indices.columns

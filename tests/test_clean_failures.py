"""Failures that used to end in a traceback, a vague message or silence (issue 17): each is one
line naming the file and the row, key or id, and the fix; transcripts in subfolders are read;
an outsized text gets a warning with its count."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.core.communities import read_communities
from pipeline.core.config import read_yaml
from pipeline.core.errors import PipelineError
from pipeline.core.files import read_community_columns
from pipeline.core.communities import community_id_set
from pipeline.core.instrument import load_instrument
from tests.conftest import ROOT
from tests.test_transcripts import BODY, HEADER, params_file, run_stage, write
from pipeline.core.config import load_params

COMMUNITIES = "comm_id,city,gov_model\nC001,银川,1\nC002,吴忠,0\nC001,银川,0\n"


@pytest.fixture(scope="module")
def project_params():
    import yaml

    return load_params(ROOT / "studies/demo/params.yaml")


@pytest.fixture(scope="module")
def demo_instrument():
    return load_instrument(ROOT / "studies/demo/instrument.yaml")


# --------------------------------------------------------------------------------------------
# the community file: a duplicated id, GBK text
# --------------------------------------------------------------------------------------------
def test_a_duplicated_community_id_is_one_error_in_every_reader(tmp_path, demo_instrument):
    path = tmp_path / "communities.csv"
    path.write_text(COMMUNITIES, encoding="utf-8")
    readers = [lambda: read_communities(path, demo_instrument),
               lambda: read_community_columns(path, ["gov_model"], "topics.prevalence", key="comm_id"),
               lambda: community_id_set(path, demo_instrument.community_id)]
    for read in readers:
        with pytest.raises(PipelineError) as err:
            read()
        assert str(err.value) == (f"{path}: community id(s) 'C001' in 'comm_id' occur more than once (lines 2, 4). "
                                  "one row per community (1224, 1224.0 and 01224 are the same id)")


def test_the_topics_stage_stops_on_a_duplicated_community_id(tmp_path):
    """The stages that read community covariates (topics, coding, demo_checks) used to end in a
    pandas traceback on the join; now the reader stops them with one line."""
    path = tmp_path / "communities.csv"
    path.write_text(COMMUNITIES, encoding="utf-8")
    code = "from pipeline.stages.topics import read_communities; read_communities(%r, ['gov_model'], 'comm_id')" % str(path)
    proc = subprocess.run([sys.executable, "-c", f"from pipeline.core.errors import run_cli; "
                           f"raise SystemExit(run_cli(lambda: exec({code!r})))"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "'C001'" in proc.stderr and "lines 2, 4" in proc.stderr


def test_a_gbk_community_file_says_save_it_as_utf8(tmp_path, demo_instrument):
    path = tmp_path / "communities.csv"
    path.write_bytes("comm_id,city\nC001,银川\nC002,吴忠\n".encode("gbk"))
    for read in (lambda: read_communities(path, demo_instrument), lambda: community_id_set(path, demo_instrument.community_id),
                 lambda: read_community_columns(path, ["city"], "topics.prevalence", key="comm_id")):
        with pytest.raises(PipelineError) as err:
            read()
        text = str(err.value)
        assert text.startswith(f"{path}: the community file is not UTF-8 text (line 2: byte 0xd2); it is GBK/GB18030")
        assert "save it as UTF-8" in text and "\n" not in text


def test_an_unknown_encoding_is_said_too(tmp_path, demo_instrument):
    path = tmp_path / "communities.csv"
    path.write_bytes(b"comm_id,city\nC001,\xff\xfe\xff\n")
    with pytest.raises(PipelineError, match=r"not UTF-8 text \(line 2: byte 0xff\); its encoding is not known"):
        read_communities(path, demo_instrument)


# --------------------------------------------------------------------------------------------
# invalid YAML: line and column in every configuration file
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, what", [("instrument.yaml", "instrument file"), ("transcripts.yaml", "transcripts configuration"),
                                        ("codebook.yaml", "codebook"), ("joint_display.yaml", "joint-display configuration"),
                                        ("params.yaml", "parameter file")])
def test_invalid_yaml_names_line_and_column(tmp_path, name, what):
    """Every configuration file is read through core/config.read_yaml (the loaders are called
    here as the stages call them)."""
    from pipeline.core.config import load_params
    from pipeline.stats.joint import parse_rows  # noqa: F401  (the joint display's reader is read_yaml + parse_rows)
    from pipeline.text.coding import load_codebook
    from pipeline.text.rules import load_rules

    lines = (ROOT / "studies/demo" / name).read_text(encoding="utf-8").splitlines()
    lines.insert(5, '  broken: [unclosed, "x')
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loader = {"instrument.yaml": load_instrument, "codebook.yaml": load_codebook, "params.yaml": load_params,
              "transcripts.yaml": lambda p: load_rules(p, ROOT / "config/stopwords.txt"),
              "joint_display.yaml": lambda p: read_yaml(p, "joint-display configuration")}[name]
    with pytest.raises(PipelineError) as err:
        loader(path)
    text = str(err.value)
    assert text.startswith(f"{path}: {what} is not valid YAML at line ") and ", column " in text
    assert "at line 6, column" in text and "\n" not in text


def test_a_tab_in_yaml_is_named(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("models:\n\tspecs: []\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"at line 2, column 1: found character '\\t' that cannot start any token"):
        read_yaml(path, "parameter file")


def test_wrong_typed_parameters_are_one_line(tmp_path):
    import yaml

    params = load_params(ROOT / "studies/demo/params.yaml")
    params["topics"]["k_grid"] = [6, "seven"]
    params["models"]["mediation"]["n_boot"] = "many"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "models", "--params", str(path), "--out", str(tmp_path / "m"),
                           "--metrics", str(tmp_path / "m.json")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "expected an integer" in proc.stderr and str(path) in proc.stderr


# --------------------------------------------------------------------------------------------
# transcripts: subfolders are read, outsized texts are warned about
# --------------------------------------------------------------------------------------------
def test_transcripts_in_subfolders_are_read_with_their_folder(tmp_path, project_params):
    folder = tmp_path / "transcripts"
    write(folder, "T01.txt", HEADER + BODY)
    write(folder / "银川" / "第二批", "T02.txt", HEADER.replace("T01", "T02") + BODY)
    write(folder / "吴忠", "T03.txt", HEADER.replace("T01", "T03") + BODY)
    write(folder / ".hidden", "T04.txt", HEADER.replace("T01", "T04") + BODY)
    assert run_stage(tmp_path, params_file(tmp_path, project_params), folder) == 0
    out = tmp_path / "out" / "transcripts"
    interviews = pd.read_csv(out / "interviews.csv", keep_default_na=False).set_index("interview_id")
    assert interviews["folder"].to_dict() == {"T01": "", "T02": "银川/第二批", "T03": "吴忠"}
    assert interviews.loc["T02", "file"].endswith(".txt") and "T02" not in interviews.loc["T02", "file"]   # a key, not the name
    units = pd.read_parquet(out / "units.parquet")
    assert set(units["interview_id"]) == {"T01", "T02", "T03"}
    assert json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))["files"] == 3


def test_a_manifest_row_finds_a_file_in_a_subfolder(tmp_path, project_params):
    folder = tmp_path / "transcripts"
    write(folder / "a", "T01.txt", HEADER + BODY)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,interview_id\na/T01.txt,X99\n", encoding="utf-8")
    assert run_stage(tmp_path, params_file(tmp_path, project_params), folder, manifest=manifest) == 0
    interviews = pd.read_csv(tmp_path / "out" / "transcripts" / "interviews.csv")
    assert interviews["interview_id"].tolist() == ["X99"]
    skipped = pd.read_csv(tmp_path / "out" / "transcripts" / "skipped.csv")
    assert skipped.empty


def test_an_outsized_answer_gets_a_warning_with_its_count(tmp_path, project_params, capsys):
    folder = tmp_path / "transcripts"
    write(folder, "T01.txt", HEADER + BODY)
    huge = "答：" + "我们社区的活动很多。" * 1500 + "\n"          # one answer of 1,500 sentences, no line break
    write(folder, "T02.txt", HEADER.replace("T01", "T02") + "问：您好？\n" + huge)
    assert run_stage(tmp_path, params_file(tmp_path, project_params), folder) == 0
    err = capsys.readouterr().err
    warnings = [ln for ln in err.splitlines() if ln.startswith("transcripts: warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith("transcripts: warning: T02 (") and " gave 1,500 units" in warnings[0]
    assert "T02.txt" not in warnings[0]                 # the file by its key (names may hold personal data)
    assert "longest answer (turn 1) 1,500 units from 15,000 characters" in warnings[0]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["outsized_texts"] == 1


def test_failed_dvc_repro_is_documented():
    """A failed `dvc repro` removes the failed stage's outputs (DVC's behaviour); the README says
    so where a user looks, with `dvc checkout` to restore them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "dvc checkout" in readme and "removes the outputs of the stage that failed" in readme

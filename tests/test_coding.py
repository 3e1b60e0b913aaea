"""The coding stage: codebook validation, coding rules, agreement statistics against stored R
references, human-code validation, and one end-to-end run on a demo study."""
from __future__ import annotations

import json
import shutil
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from pipeline.core.errors import PipelineError
from pipeline.demo import checks as CK
from pipeline.stats import agreement as A
from pipeline.text import coding as C

REF = ROOT / "tests" / "reference"
CODEBOOK = ROOT / "studies" / "demo" / "codebook.yaml"
TOL = 1e-8


@pytest.fixture(scope="module")
def codebook():
    return C.load_codebook(CODEBOOK)


def _raw_codebook():
    return yaml.safe_load(CODEBOOK.read_text(encoding="utf-8"))


def _units(texts, turns=None, n_tokens=None, interview="I001"):
    turns = turns or [1] * len(texts)
    rows, seen = [], {}
    for i, (text, turn) in enumerate(zip(texts, turns)):
        seen[turn] = seen.get(turn, 0) + 1
        rows.append({"unit_id": f"{interview}:{turn}:{seen[turn]}", "interview_id": interview, "comm_id": "C001",
                     "role": "resident", "turn": turn, "sentence": seen[turn], "text": text,
                     "n_tokens": (n_tokens[i] if n_tokens else max(1, len(text) // 3))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# the codebook
# --------------------------------------------------------------------------------------------
def test_project_codebook_has_the_nine_themes(codebook):
    assert [t.id for t in codebook.themes] == list(range(1, 10))
    assert len(set(codebook.codes)) == 9
    for t in codebook.themes:
        assert t.zh and t.en and t.definition and t.include and t.examples


def test_theme_without_include_patterns_is_named(tmp_path):
    raw = _raw_codebook()
    raw["themes"][3]["include"] = []
    path = tmp_path / "cb.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"cb\.yaml.*theme PART \(id 4\) has no include patterns"):
        C.load_codebook(path)


def test_bad_regex_names_theme_and_pattern(tmp_path):
    raw = _raw_codebook()
    raw["themes"][1]["exclude"] = ["议事(会"]
    path = tmp_path / "cb.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"theme GOV exclude: pattern '议事\(会' is not a valid regular expression"):
        C.load_codebook(path)


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["themes"][2].update(code="GOV"), "repeats an id or code"),
    (lambda r: r["themes"][0].update(code="空间"), "not a plain identifier"),
    (lambda r: r["themes"][0]["include"].append({"pattern": "x", "weight": 0}), "weight 0"),
    (lambda r: r["themes"][0].pop("definition"), "theme SPACE has no 'definition'"),
])
def test_other_codebook_errors(edit, message):
    raw = _raw_codebook()
    edit(raw)
    with pytest.raises(PipelineError, match=message):
        C.parse_codebook(raw, "cb.yaml")


def test_missing_codebook_file(tmp_path):
    with pytest.raises(PipelineError, match="codebook not found"):
        C.load_codebook(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------------------------
# coding rules on hand-written sentences (not from the demo's sentence bank)
# --------------------------------------------------------------------------------------------
HAND = [
    ("我们那个安置区是插花式分的房，回族汉族住一个楼道。", "SPACE"),
    ("停车位怎么划，是议事会上各家代表举手表决定的。", "GOV"),
    ("社工机构的项目经费一断，专业社工就留不住了。", "ORG"),
    ("开会来的总是那几个老面孔，好多人觉得有事靠政府就行。", "PART"),
    ("她们几个在合作社里做刺绣，按件结算，一个月多挣一千多。", "ECON"),
    ("古尔邦节我们去回族邻居家，春节他们也来看社火，风俗都懂了。", "CULT"),
    ("住对门这么多年，跟他们家就跟亲戚一样，心里头不隔着啥。", "EMO"),
    ("医保报销的材料，下沉干部帮我在一站式窗口办好了。", "SERV"),
    ("各民族都是中华民族的一员，国家好了大家才好。", "IDENT"),
]


@pytest.mark.parametrize("text, code", HAND)
def test_hand_written_sentences_get_their_theme(codebook, text, code):
    s = C.parse_settings(context=False)
    out = C.code_units(_units([text]), codebook, s)
    coded = [c for c in codebook.codes if out[c].iloc[0] == 1]
    assert coded == [code], (text, coded)
    assert out["source"].iloc[0] == "direct"


def test_context_rule_filler_and_empty_units(codebook):
    units = _units(["停车的事上了议事会，大家商量着定。",        # GOV, direct
                    "后来那几家也都同意了，事情总算过去了。",      # no own hit -> the turn's theme (context)
                    "嗯，这个怎么说呢。",                        # filler: not coded, no context
                    "（笑）"], n_tokens=[6, 6, 0, 0])
    units.loc[2, "n_tokens"] = 1
    on = C.code_units(units, codebook, C.parse_settings(context=True))
    assert list(on["source"]) == ["direct", "context", "filler", "empty"]
    assert on["GOV"].tolist() == [1, 1, 0, 0]
    assert on.loc[2:, codebook.codes].to_numpy().sum() == 0
    off = C.code_units(units, codebook, C.parse_settings(context=False))
    assert off.loc[1, codebook.codes].sum() == 0 and off["source"].iloc[1] == "uncoded"
    assert list(units.columns) == list(_units(["x"]).columns)          # input not modified


def test_question_gives_context_and_opening_turns_are_skipped(codebook):
    units = _units(["那会儿还真没想过这些。", "我在这儿住了十来年了。"], turns=[2, 1])
    questions = pd.DataFrame({"interview_id": ["I001", "I001"], "before_turn": [1, 2],
                              "text": ["您先简单介绍一下自己吧？", "社区的议事会您参加过吗？当时议的是啥？"]})
    out = C.code_units(units, codebook, C.parse_settings(), questions).set_index("unit_id")
    assert out.loc["I001:1:1", "source"] == "skipped" and out.loc["I001:1:1", codebook.codes].sum() == 0
    assert out.loc["I001:2:1", "source"] == "context" and out.loc["I001:2:1", "GOV"] == 1


def test_probe_turns_without_signal_carry_the_previous_turns_context(codebook):
    """A turn with no signal of its own (and a question without a theme) continues the previous
    turn's context, through two silent turns in a row, never across interviews; a repeated text
    is scored the same at each of its places."""
    a = _units(["停车的事上了议事会，大家商量着定。", "后来那几家也都同意了。", "我记得那天刮着大风。", "后来那几家也都同意了。"],
               turns=[1, 2, 3, 4])
    a.loc[3, "text"] = "停车的事上了议事会，大家商量着定。"
    b = _units(["后来那几家也都同意了。"], turns=[1], interview="I002")
    out = C.code_units(pd.concat([a, b], ignore_index=True), codebook, C.parse_settings(context=True))
    assert out["source"].tolist() == ["direct", "context", "context", "direct", "uncoded"]
    assert out["GOV"].tolist() == [1, 1, 1, 1, 0]


def test_turn_aggregation(codebook):
    units = _units(["议事会上举手表决。", "合作社年底分红。", "医保报销在窗口办。"], turns=[1, 1, 2])
    codes = C.code_units(units, codebook, C.parse_settings(context=False))
    turns = C.aggregate_turns(codes, codebook)
    assert turns["turn_id"].tolist() == ["I001:1", "I001:2"]
    assert turns.loc[0, ["GOV", "ECON", "SERV"]].tolist() == [1, 1, 0]
    assert turns["n_units"].tolist() == [2, 1]


# --------------------------------------------------------------------------------------------
# agreement statistics against stored references
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    return json.loads((REF / "agreement.json").read_text(encoding="utf-8"))


def test_kappa_matches_psych(reference):
    tabs = pd.read_csv(REF / "data" / "agreement_tables.csv")
    assert set(tabs["table"]) == set(reference["kappa"])
    for name, g in tabs.groupby("table"):
        table = g.pivot(index="rater1", columns="rater2", values="count").fillna(0).to_numpy()
        got, want = A.cohen_kappa(table), reference["kappa"][name]
        assert got["kappa"] == pytest.approx(want["kappa"], abs=TOL)
        assert got["var_kappa"] == pytest.approx(want["var_kappa"], abs=TOL)
        assert got["ci_low"] == pytest.approx(want["lower"], abs=TOL)
        assert got["ci_high"] == pytest.approx(want["upper"], abs=TOL)


def test_alpha_matches_krippendorff_2011_examples(reference):
    data = pd.read_csv(REF / "data" / "agreement_krippendorff2011.csv")
    for name, g in data.groupby("data"):
        got = A.krippendorff_alpha(g.filter(like="u").to_numpy(dtype=float))
        assert got == pytest.approx(reference["alpha"][name], abs=TOL)
    assert round(reference["alpha"]["nominal"], 3) == 0.743 and round(reference["alpha"]["binary"], 3) == 0.095


def test_binary_alpha_shortcut_equals_the_general_formula():
    rng = np.random.default_rng(3)
    a = (rng.random((300, 4)) < 0.2).astype(np.int8)
    b = np.where(rng.random((300, 4)) < 0.85, a, 1 - a).astype(np.int8)
    clusters = np.repeat(np.arange(30), 10)
    boot = A.bootstrap_alpha(a, b, clusters, replications=0, seed=1)
    assert boot["alpha"] == pytest.approx(A.krippendorff_alpha(np.vstack([a.ravel(), b.ravel()])), abs=1e-12)
    for j in range(4):
        assert boot["alpha_cols"][j] == pytest.approx(A.krippendorff_alpha(np.vstack([a[:, j], b[:, j]])), abs=1e-12)


def test_bootstrap_interval_is_seeded_and_clustered():
    rng = np.random.default_rng(5)
    a = (rng.random((400, 3)) < 0.3).astype(np.int8)
    b = np.where(rng.random((400, 3)) < 0.9, a, 1 - a).astype(np.int8)
    clusters = np.repeat([f"I{i:03d}" for i in range(40)], 10)
    one = A.bootstrap_alpha(a, b, clusters, 300, seed=11)
    two = A.bootstrap_alpha(a, b, clusters, 300, seed=11)
    other = A.bootstrap_alpha(a, b, clusters, 300, seed=12)
    assert (one["ci_low"], one["ci_high"]) == (two["ci_low"], two["ci_high"])
    np.testing.assert_array_equal(one["ci_cols"], two["ci_cols"])
    assert (one["ci_low"], one["ci_high"]) != (other["ci_low"], other["ci_high"])
    assert one["ci_low"] < one["alpha"] < one["ci_high"]


def test_truth_alignment_handles_joined_and_dropped_sentences():
    # planted lengths 10, 5, 8, 3; the unit 1 holds planted 0+1 (a run-on comma), unit 2 was
    # left out (no content tokens) and unit 3 holds planted 3
    runs = CK.align_truth_turn([10, 5, 8, 3], [1, 3], [15, 3])
    assert runs == [[0, 1], [3]]
    assert CK.align_truth_turn([7, 9], [1, 2], [7, 9]) == [[0], [1]]


# --------------------------------------------------------------------------------------------
# human codes
# --------------------------------------------------------------------------------------------
def _sheet(tmp_path, codebook, rows, extra_cols=()):
    cols = ["unit_id", "interview_id", "role", "text", *codebook.codes, *extra_cols, "coder", "notes"]
    df = pd.DataFrame(rows, columns=cols)
    path = tmp_path / "human.csv"
    df.to_csv(path, index=False)
    return path


def _row(uid, codebook, **codes):
    return [uid, uid.split(":")[0], "resident", "…", *[codes.get(c, 0) for c in codebook.codes], "A", ""]


def test_human_codes_are_read(tmp_path, codebook):
    units = _units(["甲。", "乙。", "丙。"])
    path = _sheet(tmp_path, codebook, [_row("I001:1:1", codebook, GOV=1), _row("I001:1:2", codebook)])
    got = C.read_human_codes(path, units, codebook)
    assert got["unit_id"].tolist() == ["I001:1:1", "I001:1:2"] and got["GOV"].tolist() == [1, 0]


def test_human_codes_unknown_unit(tmp_path, codebook):
    units = _units(["甲。"])
    path = _sheet(tmp_path, codebook, [_row("I001:1:1", codebook), _row("I009:4:2", codebook)])
    with pytest.raises(PipelineError, match=r"unknown unit id\(s\) \['I009:4:2'\] in data row\(s\) \[2\]"):
        C.read_human_codes(path, units, codebook)


def test_human_codes_non_binary_value(tmp_path, codebook):
    units = _units(["甲。", "乙。"])
    path = _sheet(tmp_path, codebook, [_row("I001:1:1", codebook), _row("I001:1:2", codebook, EMO="yes")])
    with pytest.raises(PipelineError, match=r"column EMO, data row 2: value 'yes' is not 0 or 1"):
        C.read_human_codes(path, units, codebook)


def test_human_codes_unknown_theme_column(tmp_path, codebook):
    units = _units(["甲。"])
    path = _sheet(tmp_path, codebook, [[*_row("I001:1:1", codebook)[:-2], 1, "A", ""]], extra_cols=["HEALTH"])
    with pytest.raises(PipelineError, match=r"unknown theme column\(s\) \['HEALTH'\]"):
        C.read_human_codes(path, units, codebook)


def test_coder_sample_is_seeded_stratified_and_blank(codebook):
    roles = ["resident"] * 60 + ["grid_worker"] * 30 + ["committee"] * 10
    units = pd.concat([_units([f"第{i}句话。"], interview=f"I{i:03d}") for i in range(100)], ignore_index=True)
    units["role"] = roles
    one = C.coder_sample(units, codebook, 20, seed=4)
    assert one.equals(C.coder_sample(units, codebook, 20, seed=4))
    assert not one.equals(C.coder_sample(units, codebook, 20, seed=5))
    assert one["role"].value_counts().to_dict() == {"resident": 12, "grid_worker": 6, "committee": 2}
    assert list(one.columns) == ["unit_id", "interview_id", "role", "text", *codebook.codes, "coder", "notes"]
    assert (one[codebook.codes] == "").all().all()


# --------------------------------------------------------------------------------------------
# end to end on the demo study (built for this test session, see conftest.demo_study)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(demo_study):
    return demo_study


def _copy_without_truth(demo: Path, work: Path, parts: tuple[str, ...]) -> Path:
    """A copy of the parts of the demo study a stage reads, with no raw/truth."""
    for rel in ("studies/demo", "config", "raw/communities.csv", *parts):
        src, dst = demo / rel, work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst) if src.is_dir() else shutil.copyfile(src, dst)
    assert not (work / "raw" / "truth").exists()
    return work


def test_coding_runs_without_the_demo_truth(demo, tmp_path):
    """In a copy of the demo study without raw/truth the coding stage runs on the demo's coder
    sheet (named by coding.human_codes like any other) and writes the demo's outputs byte for
    byte; its command line has no --truth."""
    work = _copy_without_truth(demo, tmp_path / "study", ("processed/transcripts", "processed/demo_checks"))
    proc = _run_cli(work, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "out" / "m.json").read_text(encoding="utf-8"))
    assert metrics["human_codes"] == "processed/demo_checks/human_codes.csv" and metrics["agreement_units"] > 1000
    for f in sorted((demo / "processed" / "coding").iterdir()):
        assert (tmp_path / "out" / "coding" / f.name).read_bytes() == f.read_bytes(), f.name
    proc = _run_cli(work, tmp_path / "again", extra=["--truth", str(demo / "raw" / "truth")])
    assert proc.returncode == 2 and "unrecognized arguments: --truth" in proc.stderr


def test_demo_truth_is_a_filled_coder_sheet(demo, codebook):
    """demo_checks writes the planted sentence themes of every unit as a coder sheet with the
    columns of coder_sample.csv, every theme cell 0 or 1; read_human_codes takes every row, with
    the codes of truth_unit_codes."""
    path = demo / "processed" / "demo_checks" / "human_codes.csv"
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)
    blank = pd.read_csv(demo / "processed" / "coding" / "coder_sample.csv", dtype=str, keep_default_na=False)
    assert list(sheet.columns) == list(blank.columns)
    units = pd.read_parquet(demo / "processed" / "transcripts" / "units.parquet")
    assert sheet["unit_id"].tolist() == units["unit_id"].tolist()
    assert set(sheet[codebook.codes].stack()) <= {"0", "1"}
    human = C.read_human_codes(path, units, codebook)
    planted = CK.truth_unit_codes(pd.read_csv(demo / "raw" / "truth" / "transcript_units.csv"), units, codebook)
    assert human["unit_id"].tolist() == planted["unit_id"].tolist()
    assert (human[codebook.codes].to_numpy() == planted[codebook.codes].to_numpy()).all()
    checks = json.loads((demo / "metrics" / "demo_checks.json").read_text(encoding="utf-8"))
    assert checks["human_codes_units"] == len(units)


def test_demo_macro_f1_and_outputs(demo, codebook):
    out = demo / "processed" / "coding"
    metrics = json.loads((demo / "metrics" / "coding.json").read_text(encoding="utf-8"))
    assert metrics["macro_f1"] >= 0.85, metrics
    assert metrics["alpha_ci_low"] < metrics["alpha"] < metrics["alpha_ci_high"]
    assert set(metrics["f1"]) == set(codebook.codes) and min(metrics["f1"].values()) >= 0.8
    codes = pd.read_parquet(out / "codes.parquet")
    units = pd.read_parquet(demo / "processed" / "transcripts" / "units.parquet")
    assert codes["unit_id"].tolist() == units["unit_id"].tolist()
    assert {"comm_type", "gov_model", "minority_share", *codebook.codes} <= set(codes.columns)
    assert set(codes[codebook.codes].stack().unique()) <= {0, 1}
    agreement = pd.read_csv(out / "agreement.csv")
    assert agreement["theme"].tolist() == [*codebook.codes, "overall"]
    assert agreement.loc[agreement["theme"] == "overall", "f1"].iloc[0] == pytest.approx(metrics["macro_f1"])
    co = pd.read_csv(out / "cooccurrence.csv")
    assert len(co) == 45 and (co.loc[co["theme_a"] == co["theme_b"], "units"].to_numpy()
                              == codes[codebook.codes].sum().to_numpy()).all()
    sheet = pd.read_csv(out / "coder_sample.csv", keep_default_na=False)
    assert len(sheet) == 200 and set(sheet["text"]) <= set(units["text"])
    assert (out / "coder_sample.xlsx").stat().st_size > 0
    turns = pd.read_parquet(out / "turn_codes.parquet")
    assert len(turns) == units.groupby(["interview_id", "turn"]).ngroups


def test_demo_frequencies_recover_planted_gov_model_signs(demo):
    fr = pd.read_csv(demo / "processed" / "coding" / "frequencies.csv", dtype={"level": str})
    assert set(fr["dimension"]) == {"overall", "role", "comm_type", "gov_model"}
    g = fr[fr["dimension"] == "gov_model"].pivot(index="theme", columns="level", values="share")
    diff = g["1"] - g["0"]
    for theme in ("GOV", "ORG", "CULT"):
        assert diff[theme] > 0, diff
    for theme in ("PART", "SERV"):
        assert diff[theme] < 0, diff
    overall = fr[fr["dimension"] == "overall"]
    assert (overall["interviews_with_theme"] <= overall["interviews"]).all()


def _run_cli(demo: Path, tmp_path: Path, human_codes: str | None = None,
             extra: list[str] | None = None) -> subprocess.CompletedProcess:
    """The coding stage as dvc runs it (in the study's folder: coding.human_codes is relative to
    it), on the demo's transcripts, writing to tmp_path/coding and tmp_path/m.json;
    ``human_codes`` overrides coding.human_codes in a copy of its params (else the demo's sheet,
    processed/demo_checks/human_codes.csv); ``extra`` arguments are appended."""
    pfile = demo / "studies/demo/params.yaml"
    if human_codes is not None:
        params = yaml.safe_load(pfile.read_text(encoding="utf-8"))
        params["coding"]["human_codes"] = human_codes
        pfile = tmp_path / "params.yaml"
        pfile.parent.mkdir(parents=True, exist_ok=True)
        pfile.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    cmd = [sys.executable, "-m", "pipeline", "coding", "--params", str(pfile),
           "--units", str(demo / "processed" / "transcripts" / "units.parquet"),
           "--questions", str(demo / "processed" / "transcripts" / "questions.parquet"),
           "--communities", str(demo / "raw" / "communities.csv"),
           "--out", str(tmp_path / "coding"), "--metrics", str(tmp_path / "m.json"), *(extra or [])]
    env = {**os.environ, "PIPELINE_TIMINGS": str(tmp_path / "timings"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(cmd, cwd=demo, capture_output=True, text=True, env=env)


def test_demo_rerun_is_byte_identical(demo, tmp_path):
    proc = _run_cli(demo, tmp_path)
    assert proc.returncode == 0, proc.stderr
    first = demo / "processed" / "coding"
    for f in sorted(first.iterdir()):
        assert f.read_bytes() == (tmp_path / "coding" / f.name).read_bytes(), f.name


def test_cli_reports_a_bad_sheet_in_one_line(demo, tmp_path):
    sheet = tmp_path / "human.csv"
    sheet.write_text("unit_id,SPACE\nI001:1:1,1\n", encoding="utf-8")
    proc = _run_cli(demo, tmp_path, human_codes=str(sheet))
    assert proc.returncode == 2 and "no column for theme(s)" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "coding").exists()


def test_a_filled_sample_sheet_is_used_and_its_folder_is_a_stage_dependency(demo, tmp_path):
    """The loop real studies use: the stage's blank sheet, filled in (here with the machine codes
    of its units, one changed, one row left blank) and put in raw/coding/, is read when
    coding.human_codes names it; raw/coding is a dependency of the coding stage, so a new sheet
    there reruns the stage under dvc."""
    stages = yaml.safe_load((ROOT / "studies/demo/dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert "raw/coding" in stages["coding"]["deps"] and (ROOT / "raw" / "coding" / "README.md").is_file()
    sheet = pd.read_csv(demo / "processed" / "coding" / "coder_sample.csv", keep_default_na=False, dtype=str)
    codes = pd.read_parquet(demo / "processed" / "coding" / "codes.parquet")
    themes = [c for c in sheet.columns if c not in ("unit_id", "interview_id", "role", "text", "coder", "notes")]
    machine = codes.set_index("unit_id").loc[sheet["unit_id"], themes]
    filled = sheet.copy()
    filled[themes] = machine.to_numpy().astype(int).astype(str)
    filled.loc[filled.index[0], themes[0]] = str(1 - int(filled.loc[filled.index[0], themes[0]]))   # one disagreement
    filled.loc[filled.index[-1], themes] = ""                                                       # not coded yet
    path = tmp_path / "raw" / "coding" / "human_codes.csv"
    path.parent.mkdir(parents=True)
    filled.to_csv(path, index=False)
    proc = _run_cli(demo, tmp_path, human_codes=str(path))
    out = tmp_path / "coding"
    assert proc.returncode == 0, proc.stderr
    agreement = pd.read_csv(out / "agreement.csv").set_index("theme")
    assert agreement.loc[themes[0], "n"] == len(sheet) - 1                  # the blank row is left out
    assert agreement.loc[themes[0], "kappa"] < 1
    assert (agreement.drop(index=[themes[0], "overall"])["kappa"].dropna() == 1).all()
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))["human_codes"] == str(path)

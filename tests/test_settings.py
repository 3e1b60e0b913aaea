"""params.yaml described once (pipeline/core/settings.py): the project's files validate, and a
typo, a wrong type or a value out of range is one line naming the file and the dotted key."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.core.config import load_params, load_settings
from pipeline.core.errors import PipelineError
from pipeline.core.schema import parse
from pipeline.core.settings import Models, Params

ROOT = Path(__file__).resolve().parents[1]
PARAM_FILES = [ROOT / "studies/demo/params.yaml", ROOT / "tests" / "fixtures" / "toy_params.yaml"]


def _raw() -> dict:
    return load_params(ROOT / "studies/demo/params.yaml")


def _write(tmp_path: Path, params: dict, name: str = "params.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _error(tmp_path: Path, change) -> str:
    params = _raw()
    change(params)
    path = _write(tmp_path, params)
    with pytest.raises(PipelineError) as err:
        load_params(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_project_params_validate_and_round_trip(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(raw.get("simulate"), str):      # the demo's generator, kept in its own file
        raw["simulate"] = yaml.safe_load((ROOT / raw["simulate"]).read_text(encoding="utf-8"))
    settings = load_settings(path)
    assert settings.seed == raw["seed"]
    # nothing is lost or added: the typed sections give back the file (key order within sections aside)
    assert settings.given() == raw
    # load_params hands the stages the file as written, no defaults filled in (the report prints it)
    assert load_params(path) == raw


def test_defaults_are_filled_in_the_typed_sections_only(tmp_path):
    params = {"seed": 1, "instrument": "x.yaml", "survey": {"speeder": {}}}
    path = _write(tmp_path, params)
    assert load_params(path) == params
    survey = load_settings(path).section("survey")
    assert survey.speeder.fraction == 0.3 and survey.duplicate.keep == "first"
    with pytest.raises(PipelineError, match="no section 'models'"):
        load_settings(path).section("models")


def test_typo_in_a_nested_key_suggests_the_key(tmp_path):
    message = _error(tmp_path, lambda p: p["survey"]["speeder"].update(fracton=0.5))
    assert "unknown keys: survey.speeder.fracton" in message
    assert "did you mean 'fraction'?" in message


def test_typo_in_the_mediation_suggests_n_boot(tmp_path):
    message = _error(tmp_path, lambda p: p["models"]["mediation"].update(n_bot=200))
    assert "models.mediation.n_bot" in message and "did you mean 'n_boot'?" in message


def test_wrong_type_names_the_key_value_and_expected_type(tmp_path):
    message = _error(tmp_path, lambda p: p["models"]["mediation"].update(n_boot="1000 draws"))
    assert message.endswith("models.mediation.n_boot is '1000 draws', expected an integer")


def test_out_of_range_value(tmp_path):
    message = _error(tmp_path, lambda p: p["survey"]["speeder"].update(fraction=1.5))
    assert "survey.speeder.fraction is 1.5, expected a number <= 1" in message
    # the demo's generator checks its own section (pipeline/demo/settings.py), in the same words
    from pipeline.demo.settings import simulate_settings

    params = _raw()
    params["simulate"]["respondents_per_community"] = [44, 36]
    path = _write(tmp_path, params)
    with pytest.raises(PipelineError) as err:
        simulate_settings(load_settings(path), path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert "simulate.respondents_per_community: must be [low, high]" in str(err.value)


def test_unknown_top_level_section(tmp_path):
    message = _error(tmp_path, lambda p: p.update(modles=p.pop("models")))
    assert "unknown keys: modles (did you mean 'models'?)" in message


def test_unknown_choice_and_union_are_one_clear_line(tmp_path):
    message = _error(tmp_path, lambda p: p["parallel"].update(backend="lokky"))
    assert "parallel.backend 'lokky' is unknown" in message and "did you mean 'loky'?" in message
    message = _error(tmp_path, lambda p: p["survey"].update(sheet=1.5))
    assert "survey.sheet is 1.5, expected an integer or a string" in message
    message = _error(tmp_path, lambda p: p["models"]["specs"][2].update(random={"group": 5}))
    assert "models.specs[2].random.group is 5, expected a string" in message
    message = _error(tmp_path, lambda p: p["coding"]["context"].update(inherit="yes"))
    assert "coding.context.inherit is 'yes', expected true or false" in message


def test_missing_key_and_cross_references(tmp_path):
    assert "models.mediation.x is missing" in _error(tmp_path, lambda p: p["models"]["mediation"].pop("x"))
    message = _error(tmp_path, lambda p: p["models"].update(imputed=["Z9"]))
    assert "imputed names 'Z9', which is not in models.specs" in message
    message = _error(tmp_path, lambda p: p["topics"]["selection"].update(fixed_k=99))
    assert "selection.fixed_k must be null or one of topics.k_grid" in message


def test_invalid_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\nsurvey:\n  speeder: {fraction: 0.3\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"not valid YAML at line \d+"):
        load_params(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="expected a mapping of stage sections"):
        load_params(path)


def test_a_section_mapping_is_validated_with_its_dotted_name():
    cfg = copy.deepcopy(_raw()["models"])
    assert parse(Models, cfg, "models").mediation.n_boot == 1000
    cfg["mi"]["m"] = 1
    with pytest.raises(PipelineError, match=r"^params.yaml: models.mi.m is 1, expected a number >= 2$"):
        parse(Models, cfg, "models")
    typed = parse(Params, _raw())
    assert parse(Params, typed) is typed          # typed settings pass through unchanged


STAGES = ["simulate", "survey", "transcripts", "measurement", "models", "recovery", "topics", "coding", "report"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_cli_rejects_a_broken_params_file_in_one_line(stage, tmp_path):
    params = _raw()
    params["survey"]["speeder"]["fracton"] = 0.5
    path = _write(tmp_path, params)
    proc = subprocess.run([sys.executable, "-m", "pipeline", stage, "--params", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"error: {path}: unknown keys: survey.speeder.fracton (did you mean 'fraction'?)"]


def test_yaml_parsed_by_libyaml_is_the_pure_loaders_and_an_error_reads_the_same(tmp_path):
    from pipeline.core.config import _yaml_where, load_yaml_text, read_yaml

    assert yaml.CSafeLoader is not None           # PyYAML with libyaml: the fast path is tested
    for name in ("params.yaml", "instrument.yaml", "dvc.lock", "transcript_bank.yaml"):
        text = (ROOT / "studies/demo" / name).read_text(encoding="utf-8")
        assert load_yaml_text(text) == yaml.safe_load(text), name
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: 1\nmodels:\n  specs: [a, b\n  mi: {m: 2}\n", encoding="utf-8")
    try:
        yaml.safe_load(bad.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        pure = _yaml_where(exc)
    with pytest.raises(PipelineError) as err:
        read_yaml(bad, "parameter file")
    assert f"not valid YAML{pure}" in str(err.value) and "line 4" in pure


def test_a_section_in_its_own_file(tmp_path, monkeypatch):
    """`simulate: <path>` (from the project root) reads the section from that file: the demo keeps
    its generator's design in studies/demo/simulate.yaml, so DVC's lock holds one digest, not 200
    values. The same settings as inline; a missing file or one that is not a mapping is one line
    naming the file and the key."""
    demo = load_params(ROOT / "studies/demo/params.yaml")
    assert yaml.safe_load((ROOT / "studies/demo/params.yaml").read_text(encoding="utf-8"))["simulate"] == \
        "studies/demo/simulate.yaml"
    assert demo["simulate"]["n_communities"] == 60 and "transcripts" in demo["simulate"]
    inline = _write(tmp_path, demo, "inline.yaml")
    assert load_params(inline) == demo
    monkeypatch.chdir(tmp_path)                    # found from the project root, or from the file's own
    (tmp_path / "design.yaml").write_text(yaml.safe_dump(demo["simulate"], allow_unicode=True), encoding="utf-8")
    assert load_params(_write(tmp_path, {**demo, "simulate": "design.yaml"}, "own.yaml")) == demo
    message = str(pytest.raises(PipelineError, load_params, _write(tmp_path, {**demo, "simulate": "nope.yaml"})).value)
    assert "nope.yaml" in message and "simulate" in message and "\n" not in message
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    message = str(pytest.raises(PipelineError, load_params, _write(tmp_path, {**demo, "simulate": "list.yaml"})).value)
    assert "list.yaml" in message and "mapping" in message

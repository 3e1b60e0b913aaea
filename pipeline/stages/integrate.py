"""Stage ``integrate``: the numbers of the report's tables that no earlier stage made.

The report stage only lays out; what its tables show beyond the earlier stages' outputs is
computed here and written as tidy CSV files to ``processed/integrate/``, so that every number in
every table has a file to be checked against:

* ``joint_display.csv`` — the joint display of the mixed-methods design
  (:mod:`pipeline.stats.joint`): per pairing of ``config/joint_display.yaml``, the hypothesis'
  estimate (``processed/models/hypotheses.csv``), the contrast of the theme (or of a stance of it)
  in the coded interview units (``processed/coding/codes.parquet`` with the redacted text of
  ``processed/transcripts/units.parquet``), exemplar quotes with the speaker's role and the
  verdict; ``joint_unpaired.csv`` — the hypotheses no interview contrast tests, with the reason;
* ``sample_characteristics.csv``, ``sample_tests.csv``, ``codebook.csv``,
  ``index_descriptives.csv`` — the survey descriptives of the sample tables
  (:mod:`pipeline.stats.describe`), from ``processed/survey_clean.parquet``,
  ``survey_missing.parquet`` and ``indices.parquet``.

A frame whose inputs are absent is left out (the study has no such part; the report then has no
such table). The joint display needs models, coded texts and ``--joint`` (a file that may be absent).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from pipeline.text.coding import load_codebook
from pipeline.core.config import load_params, read_yaml
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_dir, read_stage_parquet, write_csv
from pipeline.core.communities import community_file, community_key, read_communities
from pipeline.core.instrument import Instrument, load_instrument
from pipeline.stats.describe import describe_survey
from pipeline.stats.joint import joint_display, parse_rows, parse_stances, parse_unpaired, term_variables


# -- inputs ------------------------------------------------------------------------------------
def integrate_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``params.yaml: report`` this stage reads, with the report's defaults, checked
    as the report checks them: ``lang`` (the joint display's theme labels and claims),
    ``characteristics``, ``community_characteristics``, ``min_cell``, ``quotes``; and the study's
    ``seed`` (the Monte Carlo tests of the sample table)."""
    cfg = dict(params.get("report") or {})
    out = {"lang": cfg.get("lang", "en"), "characteristics": cfg.get("characteristics", []),
           "community_characteristics": cfg.get("community_characteristics", []),
           "min_cell": cfg.get("min_cell", 5), "quotes": cfg.get("quotes", 2), "seed": int(params.get("seed", 0))}
    if out["lang"] not in ("zh", "en"):
        raise PipelineError(f"params.yaml: report.lang is '{out['lang']}'", "use zh or en")
    if not isinstance(out["min_cell"], int) or out["min_cell"] < 1:
        raise PipelineError(f"params.yaml: report.min_cell is {out['min_cell']!r}", "give a positive whole number, e.g. 5")
    return out


def codebook_themes(path: Path) -> dict[int, dict[str, str]]:
    """Theme id -> {"code", "zh", "en"} from the coding stage's codebook (read and checked by
    :func:`pipeline.stages.coding.load_codebook`)."""
    return {t.id: {"code": t.code, "zh": t.zh, "en": t.en} for t in load_codebook(path).themes}


def coded_units(processed: Path, communities: pd.DataFrame | None, themes: Mapping[int, Mapping[str, str]],
                instrument: Instrument) -> pd.DataFrame | None:
    """The coding stage's units with their redacted text and community covariates (joined on the
    texts' community column: the instrument's community variable, or ``community``), or None if
    the coding or transcripts stage has not run."""
    codes_path = processed / "coding" / "codes.parquet"
    units_path = processed / "transcripts" / "units.parquet"
    if not codes_path.exists() or not units_path.exists():
        return None
    codes = pd.read_parquet(codes_path)
    missing = [t["code"] for t in themes.values() if t["code"] not in codes.columns]
    if missing or "unit_id" not in codes.columns:
        raise PipelineError(f"{codes_path}: no column(s) {missing or ['unit_id']}",
                            "the codebook and the coding stage's output disagree: re-run `dvc repro`")
    if "text" not in codes.columns:
        units = pd.read_parquet(units_path, columns=["unit_id", "text"])
        codes = codes.merge(units, on="unit_id", how="left", validate="one_to_one")
    if "interview_id" not in codes.columns:
        raise PipelineError(f"{codes_path}: no column 'interview_id'", "re-run `dvc repro`")
    comm = text_community_column(codes, instrument)
    if communities is None or comm is None:
        return codes
    file_id = instrument.community_id or instrument.role("community")
    extra = [c for c in communities.columns if c != file_id and c not in codes.columns]
    if extra:
        table = communities[[file_id, *extra]].rename(columns={file_id: comm})
        codes = codes.assign(**{comm: community_key(codes[comm])}).merge(table, on=comm, how="left", validate="many_to_one")
    return codes


def text_community_column(codes: pd.DataFrame, instrument: Instrument) -> str | None:
    """The coded units' community column: the instrument's community variable, or ``community``."""
    return next((c for c in (instrument.role("community"), instrument.community_id, "community")
                 if c and c in codes.columns), None)


def _stage_output(path: Path, what: str, stage: str) -> pd.DataFrame | None:
    """An earlier stage's output, or None if that stage has not run."""
    if not path.exists():
        return None
    return read_stage_parquet(path, what, f"re-run the {stage} stage")


# -- the stage ---------------------------------------------------------------------------------
def integrate(params: Mapping[str, Any], processed: Path, communities_path: Path, joint_path: Path,
              codebook_path: Path) -> dict[str, pd.DataFrame]:
    """Every frame the stage writes, by name (nothing is written here)."""
    settings = integrate_settings(params)
    lang = settings["lang"]
    instrument = load_instrument(params.get("instrument"))
    frames = describe_survey(_stage_output(processed / "survey_clean.parquet", "clean survey", "survey"),
                             _stage_output(processed / "survey_missing.parquet", "missing-data reasons", "survey"),
                             _stage_output(processed / "indices.parquet", "indices", "measurement"),
                             instrument, settings)

    themes = codebook_themes(codebook_path) if codebook_path.exists() else {}
    found = community_file(communities_path, instrument)
    communities = read_communities(found, instrument) if found else None
    codes = coded_units(processed, communities, themes, instrument) if themes else None
    hypotheses_path = processed / "models" / "hypotheses.csv"
    if codes is not None and hypotheses_path.exists() and joint_path.exists():
        frames.update(joint_frames(params, read_yaml(joint_path, "joint-display configuration"), str(joint_path),
                                   pd.read_csv(hypotheses_path), codes, themes, lang, int(settings["quotes"]),
                                   cluster=text_community_column(codes, instrument)))
    return frames


def joint_frames(params: Mapping[str, Any], spec: Any, where: str, hypotheses: pd.DataFrame, codes: pd.DataFrame,
                 themes: Mapping[int, Mapping[str, str]], lang: str, n_quotes: int, *,
                 cluster: str | None) -> dict[str, pd.DataFrame]:
    """``joint_display`` (one row per pairing of the configuration) and ``joint_unpaired`` (each
    hypothesis the configuration leaves out, with its reason in ``lang``)."""
    models = params["models"]
    names = list(models["hypotheses"])
    stances = parse_stances(spec, where, list(themes))
    rows = parse_rows(spec, where, names, list(themes),
                      term_variables(models["hypotheses"], models.get("derived"), models.get("mediation")), stances)
    unpaired = parse_unpaired(spec, where, names, rows)
    display = joint_display(rows, hypotheses, codes, {i: t["code"] for i, t in themes.items()},
                            {i: t[lang] for i, t in themes.items()}, lang=lang, seed=int(params["seed"]),
                            n_quotes=n_quotes, stances=stances, cluster=cluster)
    reasons = pd.DataFrame([{"hypothesis": h, "reason": dict(r).get(lang) or next(iter(dict(r).values()))}
                            for h, r in unpaired.items()], columns=["hypothesis", "reason"])
    return {"joint_display": display, "joint_unpaired": reasons}


def write_frames(frames: Mapping[str, pd.DataFrame], out: Path) -> None:
    """``out/<name>.csv`` for every frame; the folder is replaced whole."""
    with atomic_dir(out) as tmp:
        for name, frame in sorted(frames.items()):
            write_csv(tmp / f"{name}.csv", frame)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pipeline integrate", description=__doc__.split("\n")[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--processed", default="processed", help="the earlier stages' outputs")
    ap.add_argument("--communities", default="raw/communities.csv", help="'' when the study has none")
    ap.add_argument("--joint", default="config/joint_display.yaml")
    ap.add_argument("--codebook", default="config/codebook.yaml")
    ap.add_argument("--out", default="processed/integrate", help="the tidy frames the report's tables show")
    args = ap.parse_args(argv)
    params = load_params(args.params)
    frames = integrate(params, Path(args.processed), Path(args.communities), Path(args.joint), Path(args.codebook))
    write_frames(frames, Path(args.out))

"""Stage ``report``: publication tables, figures, the joint display and one self-contained report.

Everything here is assembly: the numbers come from the tidy outputs of the earlier stages
(``processed/``), among them the frames the integrate stage computed for the tables
(``processed/integrate/``: sample characteristics and their tests, the codebook summary, index
descriptives, the joint display); the tables from :mod:`pipeline.render.tables` (one renderer,
:mod:`pipeline.render.table`, for every format), the figures and the documents from
:mod:`pipeline.render.document`. Outputs:

* ``reports/tables/<table>.{csv,md,html,tex,docx}`` — every table in every format;
* ``reports/figures/<figure>.{png,svg}`` — PNG at 300 dpi and SVG (text as paths);
* ``reports/report.html`` — one self-contained file (styles inline, figures as inline SVG, no
  request leaves the file) and ``reports/report.docx`` with the same content;
* ``reports/provenance.json`` — versions, commit, parameters, input hashes and stage times. It is
  not a tracked output (it holds times); the tracked report carries its reproducible part.

Before anything is written, every table's numbers are checked against their tidy sources
(:func:`pipeline.render.tables.check.check_numbers`); a mismatch stops the stage.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from pipeline.render import figures as F
from pipeline.render import table as render
from pipeline.text.coding import load_codebook
from pipeline.core.config import load_params, section
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_dir, write_bytes, write_json, write_text
from pipeline.core.instrument import load_instrument, no_instrument
from pipeline.core.parallel import ParallelSettings, from_params, submit
from pipeline.core.provenance import dvc_lock_hashes, reproducible_part, run_part
from pipeline.core.settings import Report
from pipeline.render.document import build_figures, font_task, report_docx, report_html, visible_text
from pipeline.render.webfont import font_face_css
from pipeline.render import latex
from pipeline.render.tables.check import check_numbers
from pipeline.render.tables.joint import joint_table
from pipeline.render.tables.plan import build_tables, mark_simulated, model_columns, table_sections
from pipeline.render import locale
from pipeline.render.tables.results import load_results
from pipeline.render.tables.sources import sources_table
from pipeline.render.tables.settings import settings_from_params


def theme_labels(path: Path) -> dict[int, dict[str, str]]:
    """Theme id -> {"zh", "en", "code"} from the coding stage's codebook (read and checked by
    :func:`pipeline.text.coding.load_codebook`)."""
    return {t.id: {"zh": t.zh, "en": t.en, "code": t.code} for t in load_codebook(path).themes}


def make_report(params: Mapping[str, Any], processed: Path, codebook_path: Path, lock: Path,
                dvc_lock: Path, parallel: ParallelSettings | None = None) -> dict[str, Any]:
    """Everything the stage writes, in memory (nothing is written here); the page's embedded font
    and the tables' files as functions that return them (``font_css``, ``table_files``: each
    computed in a worker with ``parallel``'s local processes while the figures are drawn, else in
    this process when asked for)."""
    cfg = section(dict(params), "report")
    title = cfg.get("title")
    if not isinstance(title, Mapping) or not all(isinstance(title.get(k), str) for k in ("zh", "en")):
        raise PipelineError("params.yaml: report.title must give the report's title as {zh: ..., en: ...}")
    settings = settings_from_params(params)
    lang = settings["lang"]
    locale.use_cluster_unit(**settings["cluster_unit"])       # what the study's clusters are called
    instrument = load_instrument(params["instrument"]) if params.get("instrument") else no_instrument()
    themes = theme_labels(codebook_path) if codebook_path.exists() else {}
    settings = {**settings, "themes": themes, "figures": cfg.get("figures") or {}}

    results = load_results(processed)
    for rel in ("models/hypotheses.csv", "models/predictions.csv", "topics/prevalence_levels.csv"):
        if (processed / rel).exists():
            results[rel] = pd.read_csv(processed / rel)
    joint = results.get("integrate/joint_display.csv")

    table_list = build_tables(results, instrument, settings)
    sections = table_sections(results)
    if joint is not None:
        L = F.figure_labels(instrument, lang, params["models"].get("derived"))
        key = f"table{len(table_list) + 1:02d}_joint_display"
        columns = model_columns(results, [t.key for t in table_list])
        own = {k: v[lang] for k, v in (settings.get("term_labels") or {}).items() if isinstance(v, Mapping) and lang in v}
        terms = {**L["terms"], **own}   # as Table 9 and Figure 3 label them
        table_list.append(mark_simulated(joint_table(
            joint, lang, L["variables"], L["values"], settings["decimals"]["coef"], key,
            role_labels=settings.get("role_labels"), model_columns=columns,
            unpaired=results.get("integrate/joint_unpaired.csv"), term_labels=terms), settings))
        sections[key] = "joint"
    problems = [p for t in table_list for p in check_numbers(t, results, settings["stars"])]
    if problems:
        raise PipelineError(f"{len(problems)} number(s) in the tables differ from their tidy sources: {problems[:5]}",
                            "this is a bug in the table builders: report it")

    plan = build_figures(results, instrument, params, settings, draw=False)   # keys, captions, inputs
    codebook = [(locale.text("report.full_codebook", lang), "survey", "reports/codebook.md, reports/codebook.xlsx")] \
        if "integrate/codebook.csv" in results else []
    table_list.append(sources_table(table_list, [(f.key, f.caption, f.inputs) for f in plan if f.png is not None], lang,
                                    codebook))
    sections[table_list[-1].key] = "sources"
    prov = reproducible_part(dict(params), lock, dvc_lock)
    layout = Report.model_validate(cfg)      # the defaults of report.paper and report.template
    # the page's embedded font needs only its text (the figures' text is drawn as paths): it is
    # cut from the font file in a worker (`parallel`) while the figures are drawn (here and in workers)
    text = visible_text(report_html(lang, title, table_list, plan, prov, sections, settings["simulated"], font_css=""))
    font = submit(font_face_css, font_task(text), parallel)
    formats, word = settings.get("formats", render.FORMATS), {"template": layout.template, "paper": layout.paper}
    tables = submit(all_table_files, (table_list, formats, word), parallel)    # every table in every format
    figs = build_figures(results, instrument, params, settings, parallel=parallel)
    if [(f.key, f.caption, f.inputs) for f in figs] != [(f.key, f.caption, f.inputs) for f in plan]:
        raise PipelineError("the figures drawn are not those planned", "this is a bug in build_figures: report it")
    # simulated: the study's data are simulated (params.yaml report.simulated); the tables' notes and
    # the figures' captions already say so, the documents put it on top and on every page
    return {"tables": table_list, "sections": sections, "figures": figs, "provenance": prov, "font_css": font,
            "table_files": tables, "lang": lang, "title": title, "simulated": settings["simulated"], "word": word,
            "formats": formats, "joint": joint}


def all_table_files(job: tuple[list[Any], Sequence[str], Mapping[str, Any]]) -> dict[str, bytes]:
    """Every table of ``job`` (tables, formats, Word options) in every format, by file name."""
    tables, formats, word = job
    return {name: data for t in tables for name, data in render.table_files(t, formats, word=word).items()}


def metrics_of(made: Mapping[str, Any]) -> dict[str, Any]:
    joint = made["joint"]
    verdicts = joint["verdict"].value_counts().to_dict() if joint is not None else {}
    numbered = [t for t in made["tables"] if render.table_number(t) is not None]   # not the appendix
    return {"tables": len(numbered), "tables_skipped": sum(t.skipped is not None for t in numbered),
            "figures": sum(f.png is not None for f in made["figures"]),
            "figures_missing": sum(f.png is None for f in made["figures"]),
            "numbers_checked": sum(len(c.sources) for t in made["tables"] for c in t.cells()),
            **{f"joint_{v}": int(verdicts.get(v, 0)) for v in ("convergent", "divergent", "complementary", "inconclusive")}}


def write_report(made: Mapping[str, Any], reports: Path, metrics_path: Path) -> None:
    """Write every output; the documents are rendered first, so a failure writes nothing."""
    page = report_html(made["lang"], made["title"], made["tables"], made["figures"], made["provenance"], made["sections"],
                       simulated=made["simulated"], font_css=made["font_css"]())
    document = report_docx(made["lang"], made["title"], made["tables"], made["figures"], made["provenance"],
                           made["sections"], simulated=made["simulated"], **made["word"])
    with atomic_dir(reports / "tables") as tdir, atomic_dir(reports / "figures") as fdir:
        for name, data in made["table_files"]().items():
            write_bytes(tdir / name, data)
        if "tex" in made["formats"]:   # the packages every .tex table needs, in one file
            write_text(tdir / "preamble.tex", latex.preamble(made["lang"], latex.has_cjk(made["tables"])))
        for f in made["figures"]:
            if f.png is not None:
                write_bytes(fdir / f"{f.key}.png", f.png)
                write_bytes(fdir / f"{f.key}.svg", f.svg)
    write_text(reports / "report.html", page)
    write_bytes(reports / "report.docx", document)
    write_json(metrics_path, metrics_of(made))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pipeline report", description=__doc__.split("\n")[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--processed", default="processed", help="the earlier stages' outputs, processed/integrate among them")
    ap.add_argument("--codebook", default="config/codebook.yaml")
    ap.add_argument("--reports", default="reports")
    ap.add_argument("--metrics", default="metrics/report.json")
    ap.add_argument("--lock", default="requirements.lock")
    ap.add_argument("--dvc-lock", default="dvc.lock")
    ap.add_argument("--provenance", default=None, help="default: <reports>/provenance.json")
    ap.add_argument("--timings", default=None, help="per-stage times (default: $PIPELINE_TIMINGS or .cache/timings)")
    args = ap.parse_args(argv)
    started = time.time()
    params = load_params(args.params)
    made = make_report(params, Path(args.processed), Path(args.codebook), Path(args.lock), Path(args.dvc_lock),
                       parallel=from_params(params))
    reports = Path(args.reports)
    write_report(made, reports, Path(args.metrics))
    timings = Path(args.timings or os.environ.get("PIPELINE_TIMINGS", ".cache/timings"))
    prov = {**made["provenance"], **run_part(Path("."), timings),
            "dvc_lock": dvc_lock_hashes(Path(args.dvc_lock))}     # every stage's deps and outs
    prov["stage_times"]["report"] = {"seconds": round(time.time() - started, 2), "note": "until provenance.json"}
    write_json(Path(args.provenance or reports / "provenance.json"), prov)

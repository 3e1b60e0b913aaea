"""The report as documents: its figures with their captions, one self-contained HTML page and a
Word file with the same sections, tables, figures and provenance appendix (report stage).

Everything here is layout: the tables come from :mod:`pipeline.render.tables`, the figures from
:mod:`pipeline.render.figures`, the words from :mod:`pipeline.render.locale`.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.parallel import ParallelSettings, run_tasks
from pipeline.core.provenance import KEY_PACKAGES, inputs_digest
from pipeline.render import figures as F
from pipeline.render import locale
from pipeline.render import table as render
from pipeline.render.tables.text import topic_label
from pipeline.render.webfont import font_face_css

# The report's sections and their figures; which tables go in a section comes with the tables
# (pipeline.render.tables.plan.table_sections: the model tables follow params.yaml models.specs).
SECTIONS = (
    ("sample", ("fig01_sample_flow",)),
    ("measurement", ("fig02_index_distributions",)),
    ("models", ("fig03_coefficients", "fig04_interaction")),
    ("qualitative", ("fig05_topic_prevalence", "fig06_k_selection")),
    ("joint", ()),
    ("sources", ()),   # the appendix mapping each table and figure to its stage and files
)


@dataclass(frozen=True)
class FigureOut:
    key: str
    caption: str
    png: bytes | None
    svg: bytes | None
    missing: str | None = None
    inputs: tuple[str, ...] = ()   # the tidy files under processed/ it is drawn from
    smallest_pt: float | None = None     # its smallest text at its own size (Word keeps it >= 7 pt)


UNDRAWN = (b"", b"<svg></svg>")   # a figure's PNG and SVG in build_figures(draw=False)


# -- figures -----------------------------------------------------------------------------------
def model_labels(fits: pd.DataFrame, hypotheses: pd.DataFrame, lang: str) -> dict[str, str]:
    """The legend of the coefficient plot: each model by its estimator; a hypothesis read off a
    bootstrap (the mediation) rather than a fitted model by its source."""
    names = {**locale.phrases("methods", lang), "mixed": locale.text("report.random_intercept", lang)}
    names["mi+ols"] = names["mi"]
    out = {str(m): names.get(str(f), names.get(str(e), str(e)))
           for m, e, f in zip(fits["model"], fits["estimator"], fits["family"] if "family" in fits else fits["estimator"])}
    for model, source in zip(hypotheses["model"], hypotheses["source"]):
        out.setdefault(str(model), locale.text("report.bootstrap", lang) if source == "bootstrap" else str(source))
    return out


def build_figures(results: Mapping[str, pd.DataFrame], instrument: Any, params: Mapping[str, Any],
                  settings: Mapping[str, Any], draw: bool = True,
                  parallel: ParallelSettings | int | None = None) -> list[FigureOut]:
    """The figures this study has, with captions from the study's own labels. A figure whose
    inputs are absent (a stage the study does not have) or empty (no scales, no models) is left
    out, as is one whose setting is not given (``report.figures.topic_factor``); without
    ``report.figures.index_group`` the index distributions are drawn for the whole sample.
    ``draw=False``: the same figures, keys, captions and inputs, not drawn (an empty PNG and
    SVG: :data:`UNDRAWN`), for the page's text before the figures exist. The figures are drawn
    one per task (:func:`pipeline.core.parallel.run_tasks` with ``parallel``; None: here), each
    the same bytes wherever it is drawn."""
    lang = settings["lang"]
    cfg = settings.get("figures") or {}
    models = params.get("models") or {}
    L = F.figure_labels(instrument, lang, models.get("derived"))
    # the tables' labels of derived model terms (params.yaml: report.term_labels) win, so a term
    # reads the same in Table 9 and in Figure 3 (an interaction is labelled part by part)
    own = {k: v[lang] for k, v in (settings.get("term_labels") or {}).items() if isinstance(v, Mapping) and lang in v}
    L = {**L, "terms": {**L["terms"], **own}}
    group, factor = cfg.get("index_group"), cfg.get("topic_factor")
    prediction = models.get("predictions") or {}
    grid = list(prediction.get("grid") or {})
    x, by = (grid + [None, None])[:2]
    fits = results.get("models/fits.csv")
    outcome = (fits.loc[fits["model"] == prediction.get("model"), "outcome"].tolist() + [""])[0] if fits is not None else ""
    words = {"group": L["variables"].get(group, group), "factor": L["variables"].get(factor, factor),
             "x": L["terms"].get(x, x), "by": L["terms"].get(by, by), "outcome": L["scales"].get(outcome, outcome),
             "criteria": F.k_criteria(results.get("topics/k_selection.csv"), lang)}
    caps = figure_captions(words, group is None, lang, bool(settings.get("simulated")))
    out: list[FigureOut] = []
    makers: list[Callable[[], Any]] = []

    def add(key: str, make, needs: Sequence[str]) -> None:
        if any(n not in results or not len(results[n]) for n in needs):
            return
        out.append(FigureOut(key, caps[key], *UNDRAWN, inputs=tuple(needs)))
        makers.append(make)

    add("fig01_sample_flow", lambda: F.sample_flow_plot(results["sample_flow.csv"], lang), ["sample_flow.csv"])
    def distributions():
        if group is not None:
            return F.index_distributions(results["indices.parquet"], L["scales"], group, L["values"].get(group),
                                         lang, words["group"])
        whole = results["indices.parquet"].assign(_sample=1)
        return F.index_distributions(whole, L["scales"], "_sample", {1: locale.text("report.whole_sample", lang)}, lang, "")
    if L["scales"]:
        add("fig02_index_distributions", distributions, ["indices.parquet"])

    def coefficients():
        rows = F.hypothesis_rows(results["models/hypotheses.csv"], results["models/coefficients.csv"],
                                 cfg.get("coefficient_alternatives") or {})
        return F.coefficient_plot(rows, lang, L["terms"], model_labels(results["models/fits.csv"],
                                                                      results["models/hypotheses.csv"], lang))
    add("fig03_coefficients", coefficients, ["models/hypotheses.csv", "models/coefficients.csv", "models/fits.csv"])
    add("fig04_interaction",
        lambda: F.interaction_plot(results["models/predictions.csv"], x, by, lang, words["x"], words["outcome"],
                                   words["by"], L["values"].get(by)),
        ["models/predictions.csv", "models/fits.csv"] if by is not None else ["models.predictions.grid (two variables)"])
    if factor is None:
        results = {k: v for k, v in results.items() if k != "topics/prevalence_levels.csv"}

    def prevalence():
        topics = results.get("topics/topics.csv")
        labels = None
        if topics is not None and "label" in topics.columns:   # prevalence names topics "T1", topics.csv 1
            labels = {}
            for t, lab in zip(topics["topic"], topics["label"]):
                labels[t] = labels[f"T{t}"] = locale.text("report.topic_label", lang, n=t, words=topic_label(
                    lab, locale.text("tables.word_separator", lang)))
        return F.topic_prevalence_plot(results["topics/prevalence_levels.csv"], factor, lang, words["factor"],
                                       L["values"].get(factor), labels)
    add("fig05_topic_prevalence", prevalence, ["topics/prevalence_levels.csv"])
    k_sel = results.get("topics/k_selection.csv")
    models = locale.phrases("tables", lang)["topic_models"]
    add("fig06_k_selection", lambda: F.k_selection_plot(k_sel, lang, {m: models.get(str(m), str(m)) for m in k_sel["model"]}),
        ["topics/k_selection.csv"])
    if not draw:
        return out
    drawn = run_tasks(_drawn, makers, parallel)   # closures: forked workers inherit them, loky's are sent them by value
    return [replace(f, png=png, svg=svg, smallest_pt=pt) for f, (png, svg, pt) in zip(out, drawn)]


def figure_captions(words: Mapping[str, str], whole_sample: bool, lang: str, simulated: bool) -> dict[str, str]:
    """Every figure's caption with the study's words filled in; Figure 2's says what its boxes
    show, and names no group when it is of the whole sample (``report.figures.index_group`` not
    given: it read "by None")."""
    mark = locale.text("report.simulated_caption", lang) if simulated else ""
    caps = {k: v.format(**words) + mark for k, v in locale.text("report.figures", lang).items()}
    fig02 = (locale.text("figures.index_whole", lang) if whole_sample
             else locale.text("report.figures.fig02_index_distributions", lang).format(**words))
    caps["fig02_index_distributions"] = fig02 + locale.text("report.box_legend", lang) + mark
    return caps


def _drawn(make: Callable[[], Any]) -> tuple[bytes, bytes, float | None]:
    """One figure drawn: its PNG and SVG bytes and its smallest text (pt)."""
    fig = make()
    png, svg = F.figure_files(fig)
    return png, svg, F.smallest_text(fig)


# -- the report documents ----------------------------------------------------------------------
# The page: a 60 em column on screen; in print A4 with 20 mm margins (the tables' print rules are
# in pipeline.render.table.HTML_CSS), page numbers at the foot, no figure or heading left alone at
# a page's end.
PRINT_MARGIN_MM = 20
REPORT_CSS = """body { font-family: "Report CJK", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  max-width: 60em; margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #111; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #999; }
figure { margin: 1.5em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { font-weight: bold; margin-top: 0.3em; }
nav ol { columns: 2; } .missing { color: #a00; }
p.simulated { border: 2px solid #a00; color: #a00; font-weight: bold; padding: .5em .8em; }
div.simulated-page { position: fixed; top: 0; right: 0; padding: .2em .6em; font-size: 80%; color: #a00;
  background: #fff; border: 1px solid #a00; }   /* fixed: on screen always in view; in print see simulated_css */
section.prov td { font-family: monospace; font-size: 85%; word-break: break-all; }
@page { size: A4; margin: MARGINmm; @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; } }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  h1, h2 { break-after: avoid; page-break-after: avoid; }
  section { break-before: page; page-break-before: always; }
  figure { break-inside: avoid; page-break-inside: avoid; }
  figure svg { max-width: 100%; max-height: 200mm; }
  h2:has(+ div.table-block.landscape) { page: landscape; }   /* a heading on its landscape table's page */
}
""".replace("MARGIN", str(PRINT_MARGIN_MM))


def simulated_css(header: str) -> str:
    """In print the page's mark of simulated data goes in the top margin of every page (a page
    margin box), not over the text: a fixed box printed on every page covered a repeated table
    header and a figure's panel title there."""
    quoted = header.replace("\\", "\\\\").replace('"', '\\"')
    return ("@media print { div.simulated-page { display: none; } }\n"
            f'@page {{ @top-right {{ content: "{quoted}"; color: #a00; font-size: 9pt; }} }}')


def font_task(text: str) -> tuple[str, str, str]:
    """The arguments of :func:`pipeline.render.webfont.font_face_css` for ``text``: the project's
    CJK font (the pinned Noto Sans CJK SC, see :mod:`pipeline.render.figures`), its file checked
    here (its SHA-256, with a clear error if the font is missing)."""
    path = F.default_font_path()
    F.use_cjk_font()
    return str(path), F.FONT_FAMILY, text


def embedded_font_css(text: str) -> str:
    """An ``@font-face`` rule carrying the project's CJK font cut down to the characters ``text``
    uses, as a data URL: the page then shows its Chinese in the same face on any machine
    without fetching a font (:func:`pipeline.render.webfont.font_face_css`)."""
    return font_face_css(font_task(text))


_SVG_PROLOGUE = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.S)


def inline_svg(svg: bytes, key: str) -> str:
    """An SVG for inline use: no XML prologue, DOCTYPE or RDF metadata (the DTD's URL would be a
    reference out of the file), ids prefixed with the figure key so two figures' clip paths cannot collide."""
    text = _SVG_PROLOGUE.sub("", svg.decode("utf-8"), count=1)
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)   # RDF licence block: URIs, no content
    ids = set(re.findall(r'\bid="([^"]+)"', text))

    def prefixed(m: re.Match) -> str:   # one pass over the text (a pass per id took seconds)
        before, name, after = next(g for g in (m.group(1, 2, 3), m.group(4, 5, 6), m.group(7, 8, 9)) if g[0])
        return f"{before}{key}-{name}{after}" if name in ids else m.group(0)
    return _SVG_REFS.sub(prefixed, text)


# an element's id, and the two ways an SVG refers to one: url(#id) and (xlink:)href="#id"
_SVG_REFS = re.compile(r'(\bid=")([^"]+)(")|(url\(#)([^)]+)(\))|(href="#)([^"]+)(")')


def provenance_rows(prov: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """The appendix, short and in the report's language: Python, the seed, the parameters' digest,
    the versions of the analysis packages (the rest: requirements.lock), and per earlier stage the
    number of its output files the report reads with one digest of their md5 in dvc.lock (each
    file's md5, and every other hash of dvc.lock: reports/provenance.json)."""
    words = locale.phrases("report", lang)["prov"]
    packages = prov["packages"]
    named = locale.text("tables.word_separator", lang).join(f"{n} {packages[n]}" for n in KEY_PACKAGES if n in packages)
    rows = [(words["python"], prov["python"]), (words["seed"], str(prov["seed"])),
            (words["params"], prov["params_sha256"]),
            (words["packages"], words["packages_value"].format(n=len(packages), list=named))]
    for stage, files in prov["inputs"].items():
        rows.append((words["stage"].format(stage=words["stages"].get(stage, stage), id=stage),
                     words["stage_value"].format(n=len(files), digest=inputs_digest(files))))
    return rows


def provenance_table(prov: Mapping[str, Any], lang: str) -> render.Table:
    """The provenance appendix as a (three-line) table of text cells."""
    cols = locale.text("report.prov_cols", lang)
    rows = tuple(render.Row((render.Cell(k), render.Cell(v))) for k, v in provenance_rows(prov, lang))
    return render.Table(key="appendix_provenance", caption=locale.text("report.sections.provenance", lang),
                        header=((render.HeaderCell(cols[0]), render.HeaderCell(cols[1])),), rows=rows,
                        notes=(locale.text("report.prov_intro", lang),), label_columns=2, lang=lang)


def _by_section(table_list: Sequence[render.Table], sections: Mapping[str, str]) -> dict[str, list[render.Table]]:
    out: dict[str, list[render.Table]] = {name: [] for name, _ in SECTIONS}
    for t in table_list:
        out[sections[t.key]].append(t)
    return out


def study_sections(by_section: Mapping[str, Sequence[render.Table]], figs: Sequence[FigureOut]) -> list[tuple[str, tuple[str, ...]]]:
    """The sections this study's report has (those with a table or a figure), each with its figures."""
    made = {f.key for f in figs}
    out = []
    for name, fig_keys in SECTIONS:
        keys = tuple(k for k in fig_keys if k in made)
        if by_section[name] or keys:
            out.append((name, keys))
    return out


def report_html(lang: str, title: Mapping[str, str], table_list: Sequence[render.Table], figs: Sequence[FigureOut],
                prov: Mapping[str, Any], sections: Mapping[str, str], simulated: bool = False,
                font_css: str | None = None) -> str:
    """The self-contained HTML report. ``font_css``: its embedded font
    (:func:`embedded_font_css` of the page's :func:`visible_text`; computed here when None)."""
    phrase = locale.phrases("report", lang)
    by_section = _by_section(table_list, sections)
    fig_by_key = {f.key: f for f in figs}
    numbers = {f.key: i for i, f in enumerate(figs, start=1)}
    parts = [f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title[lang])}</title>",
             f"<style>\n{REPORT_CSS}{render.HTML_CSS}\n</style>\n</head>\n<body>",
             f"<h1>{html.escape(title[lang])}</h1>"]
    if simulated:   # simulated data: said above everything else (params.yaml report.simulated)
        parts.append(f'<p class="simulated" role="note">{html.escape(phrase["simulated_banner"])}</p>')
        parts.append(f'<div class="simulated-page" aria-hidden="true">{html.escape(phrase["simulated_header"])}</div>')
        parts.append(f"<style>{simulated_css(phrase['simulated_header'])}</style>")
    parts.append("<nav><ol>")
    sections_here = study_sections(by_section, figs)
    for name, _ in sections_here + [("provenance", ())]:
        parts.append(f'<li><a href="#sec-{name}">{html.escape(phrase["sections"][name])}</a></li>')
    parts.append("</ol></nav>")
    for name, fig_keys in sections_here:
        parts.append(f'<section id="sec-{name}"><h2>{html.escape(phrase["sections"][name])}</h2>')
        for t in by_section[name]:
            parts.append(render.html_fragment(t))
        for key in fig_keys:
            f = fig_by_key[key]
            cap = f"{phrase['figure'].format(n=numbers[key])} {f.caption}"
            if f.svg is None:
                parts.append(f'<figure id="{key}"><p class="missing">{html.escape(phrase["missing_figure"].format(what=f.missing))}</p>'
                             f"<figcaption>{html.escape(cap)}</figcaption></figure>")
            else:
                parts.append(f'<figure id="{key}">{inline_svg(f.svg, key)}<figcaption>{html.escape(cap)}</figcaption></figure>')
        parts.append("</section>")
    parts.append(f'<section id="sec-provenance" class="prov"><h2>{html.escape(phrase["sections"]["provenance"])}</h2>')
    parts.append(render.html_fragment(provenance_table(prov, lang)))
    parts.append("</section>\n</body>\n</html>\n")
    page = "\n".join(parts)
    css = embedded_font_css(visible_text(page)) if font_css is None else font_css
    return page.replace("<style>\n", "<style>\n" + css, 1)


def visible_text(page: str) -> str:
    """The text a page shows (no tags, no inline SVG: the figures' text is drawn as paths),
    whose characters the embedded font must have."""
    return html.unescape(re.sub(r"<svg.*?</svg>|<[^>]+>", "", page, flags=re.S))


def report_docx(lang: str, title: Mapping[str, str], table_list: Sequence[render.Table], figs: Sequence[FigureOut],
                prov: Mapping[str, Any], sections: Mapping[str, str], simulated: bool = False, *,
                template: str | None = None, paper: str = "a4") -> bytes:
    """The Word report in the named styles of ``template`` (default: the shipped reference
    template) on ``paper``: title, a section per part with its tables and figures (each in a
    landscape section when it needs one, a section's heading with its first table or figure),
    the provenance appendix (see :mod:`pipeline.render.word`). ``simulated``: said under the
    title and in the header of every page."""
    from pipeline.render import word

    doc = word.WordReport(lang, template, paper)
    doc.heading(title[lang], level=0)
    phrase = locale.phrases("report", lang)
    if simulated:   # simulated data: said above everything else (params.yaml report.simulated)
        doc.paragraph(phrase["simulated_banner"], "Normal")
        header = doc.doc.sections[0].header   # and in the header of every page (later sections inherit it)
        header.is_linked_to_previous = False
        header.paragraphs[0].text = phrase["simulated_header"]
    by_section = _by_section(table_list, sections)
    fig_by_key = {f.key: f for f in figs}
    numbers = {f.key: i for i, f in enumerate(figs, start=1)}

    def wide_table(t: render.Table) -> bool:
        return bool(t.rows) and word.layout_table(t, doc.page, doc.table_size).landscape

    def wide_figure(f: FigureOut) -> bool:
        return f.png is not None and word.place_figure(f.png, doc.page, f.smallest_pt).landscape

    for name, fig_keys in study_sections(by_section, figs):
        first = [wide_table(t) for t in by_section[name][:1]] or [wide_figure(fig_by_key[k]) for k in fig_keys[:1]]
        doc.orient(bool(first and first[0]))     # the heading goes where its first table or figure goes
        doc.heading(phrase["sections"][name], level=1)
        for t in by_section[name]:
            doc.add_table(t)
        for key in fig_keys:
            f = fig_by_key[key]
            cap = f"{phrase['figure'].format(n=word.MARK)} {f.caption}"
            if f.png is None:
                doc.paragraph(phrase["missing_figure"].format(what=f.missing), "Normal")
                doc.caption(cap, None, "Figure", keep_next=False)
            else:
                doc.add_figure(f.png, cap, numbers[key], f.smallest_pt)
    appendix = provenance_table(prov, lang)
    doc.orient(wide_table(appendix))
    doc.heading(phrase["sections"]["provenance"], level=1)
    doc.add_table(appendix)
    return doc.to_bytes(title[lang])

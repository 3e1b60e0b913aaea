"""Stage ``report``: publication tables, figures, the joint display and one self-contained report.

Everything here is assembly: the numbers come from the tidy outputs of the earlier stages
(``processed/``), the tables from :mod:`pipeline.render.tables` (one renderer, :mod:`pipeline.render.table`,
for every format), the figures from :mod:`pipeline.render.figures`, the joint display from
:mod:`pipeline.render.joint`. Outputs:

* ``reports/tables/<table>.{csv,md,html,tex,docx}`` — every table in every format;
* ``reports/figures/<figure>.{png,svg}`` — PNG at 300 dpi and SVG (text as paths);
* ``reports/report.html`` — one self-contained file (styles inline, figures as inline SVG, no
  request leaves the file) and ``reports/report.docx`` with the same content;
* ``processed/report/`` — the tidy frames the report computes itself (joint display, sample
  characteristics, ...), so that every number in a table has a file to be checked against;
* ``reports/provenance.json`` — versions, commit, parameters, input hashes and stage times. It is
  not a tracked output (it holds times); the tracked report carries its reproducible part.

Before anything is written, every table's numbers are checked against their tidy sources
(:func:`pipeline.render.tables.check_numbers`); a mismatch stops the stage.
"""
from __future__ import annotations

import argparse
import html
import io
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from pipeline.render import figures as F
from pipeline.render import table as render
from pipeline.render import tables
from pipeline.text.coding import load_codebook
from pipeline.core.config import load_params, read_yaml, section
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_dir, write_bytes, write_csv, write_json, write_text
from pipeline.core.instrument import load_instrument
from pipeline.render.joint import joint_display, parse_rows
from pipeline.core.provenance import reproducible_part, run_part

TEXT = {
    "figure": {"zh": "图{n}", "en": "Figure {n}."},
    "sections": {
        "sample": {"zh": "样本", "en": "Sample"},
        "measurement": {"zh": "测量", "en": "Measurement"},
        "models": {"zh": "回归模型", "en": "Regression models"},
        "qualitative": {"zh": "访谈：主题模型与编码", "en": "Interviews: topic models and coding"},
        "joint": {"zh": "联合展示", "en": "Joint display"},
        "provenance": {"zh": "附录：来源与可重复性", "en": "Appendix: provenance"},
    },
    "joint_caption": {"zh": "联合展示：假设、定量结果、访谈证据与判定",
                      "en": "Joint display: hypotheses, quantitative results, interview evidence and verdicts"},
    "joint_cols": {"zh": ["假设（模型，项）", "主题", "比较", "引文", "定量结果（95% CI）", "主题占比（比较组 / 参照组）",
                          "主题占比差（95% CI）", "判定"],
                   "en": ["Hypothesis (model, term)", "Theme", "Contrast", "Quotes", "Quantitative result (95% CI)",
                          "Theme share (contrast / reference)", "Difference in theme share (95% CI)", "Verdict"]},
    "bootstrap": {"zh": "自助法", "en": "bootstrap"},
    "verdicts": {"zh": {"convergent": "一致", "divergent": "分歧", "complementary": "互补", "inconclusive": "不确定"},
                 "en": {"convergent": "convergent", "divergent": "divergent", "complementary": "complementary",
                        "inconclusive": "inconclusive"}},
    "joint_note": {
        "zh": ("定量结果：假设对应模型的估计值与95%置信区间（processed/models/hypotheses.csv）。主题占比差：该主题在比较组"
               "与参照组受访者话语单元中所占比例之差，线性概率模型，按社区聚类的CR2标准误与Satterthwaite自由度。"
               "判定规则：两条证据的区间都在预期方向上排除0为一致；任一条在相反方向排除0为分歧；一条支持、另一条不显著为互补；"
               "都不显著为不确定。引文均来自脱敏文本，方括号内为单元编号。"),
        "en": ("Quantitative result: estimate and 95% CI of the hypothesis' model (processed/models/hypotheses.csv). "
               "Theme share difference: share of respondent units coded with the theme where the contrast holds minus "
               "the reference, linear probability model with community-clustered CR2 errors and Satterthwaite df. "
               "Verdict: both intervals exclude 0 in the expected direction: convergent; either excludes 0 in the "
               "other direction: divergent; one supports and the other is silent: complementary; both silent: "
               "inconclusive. Quotes are redacted text; unit ids in brackets."),
    },
    "figures": {   # {group}, {x}, {by}, {outcome}, {factor}: labels from the instrument
        "fig01_sample_flow": {"zh": "样本流程：原始提交、按原因排除与分析样本", "en": "Sample flow: submissions, exclusions by reason, analysed sample"},
        "fig02_index_distributions": {"zh": "各指数按{group}的分布", "en": "Index distributions by {group}"},
        "fig03_coefficients": {"zh": "假设检验的系数图（95%置信区间）", "en": "Coefficients of the hypotheses with 95% intervals"},
        "fig04_interaction": {"zh": "{x}与{by}的交互作用：{outcome}预测值及95%区间",
                              "en": "{x} by {by}: predicted {outcome} with 95% intervals"},
        "fig05_topic_prevalence": {"zh": "主题按{factor}的流行度（95%区间）", "en": "Topic prevalence by {factor} with 95% intervals"},
        "fig06_k_selection": {"zh": "主题数K的选择：一致性、排他性、稳定性与困惑度",
                              "en": "Choosing K: coherence, exclusivity, stability and perplexity"},
    },
    "missing_figure": {"zh": "缺少输入，未绘制：{what}", "en": "Not drawn, input absent: {what}"},
    "prov_intro": {"zh": "下列信息在每次重新运行时都相同；提交版本、机器与各阶段耗时见 reports/provenance.json。",
                   "en": "Everything below is the same on every rerun; the commit, machine and stage times are in "
                         "reports/provenance.json."},
    "prov_cols": {"zh": ["项目", "值"], "en": ["Item", "Value"]},
}

# The report's sections and their figures; which tables go in a section comes with the tables
# (pipeline.tables.table_sections: the model tables follow params.yaml models.specs).
SECTIONS = (
    ("sample", ("fig01_sample_flow",)),
    ("measurement", ("fig02_index_distributions",)),
    ("models", ("fig03_coefficients", "fig04_interaction")),
    ("qualitative", ("fig05_topic_prevalence", "fig06_k_selection")),
    ("joint", ()),
)


@dataclass(frozen=True)
class FigureOut:
    key: str
    caption: str
    png: bytes | None
    svg: bytes | None
    missing: str | None = None


# -- inputs ------------------------------------------------------------------------------------
def codebook_themes(path: Path) -> dict[int, dict[str, str]]:
    """Theme id -> {"code", "zh", "en"} from the coding stage's codebook (read and checked by
    :func:`pipeline.text.coding.load_codebook`)."""
    return {t.id: {"code": t.code, "zh": t.zh, "en": t.en} for t in load_codebook(path).themes}


def coded_units(processed: Path, communities: pd.DataFrame, themes: Mapping[int, Mapping[str, str]]) -> pd.DataFrame | None:
    """The coding stage's units with their redacted text and community covariates, or None if
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
    for col in ("interview_id", "comm_id"):
        if col not in codes.columns:
            raise PipelineError(f"{codes_path}: no column {col!r}")
    extra = [c for c in communities.columns if c != "comm_id" and c not in codes.columns]
    if extra:
        codes = codes.merge(communities[["comm_id", *extra]], on="comm_id", how="left", validate="many_to_one")
    return codes


# -- the joint display as a table --------------------------------------------------------------
def _fmt(x: float, d: int = 3) -> str:
    return tables.fmt(x, d)


def joint_table(joint: pd.DataFrame, lang: str, factor_labels: Mapping[str, str],
                value_labels: Mapping[str, Mapping[Any, str]], decimals: int = 3,
                key: str = "table18_joint_display") -> render.Table:
    """The joint display as a publication table; every number links to
    ``derived/joint_display`` (written to processed/report/joint_display.csv). The text columns
    (hypothesis, theme, contrast, quotes) come first, the numbers after them, the verdict last."""
    file = "derived/joint_display"
    cols = TEXT["joint_cols"][lang]
    rows = []
    for r in joint.itertuples(index=False):
        sel = (("row", r.row),)

        def cell(*pairs: tuple[str, float], template: str) -> render.Cell:
            if any(pd.isna(v) for _, v in pairs):
                return render.Cell("—")
            shown = [_fmt(v, decimals) for _, v in pairs]
            return render.Cell(template.format(*shown), tuple(render.Source(file, sel, c, float(v)) for c, v in pairs),
                               numeric=True)

        labels = value_labels.get(r.factor, {})

        def lab(x: str) -> str:
            return str(labels.get(int(x) if x.lstrip("-").isdigit() else x, x))

        refs = " / ".join(lab(x) for x in str(r.reference).split(","))
        contrast = f"{factor_labels.get(r.factor, r.factor)}: {lab(str(r.level))} vs {refs}"
        quotes = " ".join(f"“{q}” [{i}]" for q, i in ((r.quote1, r.quote1_id), (r.quote2, r.quote2_id)) if q)
        rows.append(render.Row((
            render.Cell(f"{r.hypothesis} ({r.model}, {r.term}): {r.claim}"), render.Cell(r.theme_label),
            render.Cell(contrast), render.Cell(quotes),
            cell(("estimate", r.estimate), ("conf_low", r.conf_low), ("conf_high", r.conf_high), template="{} [{}, {}]"),
            cell(("share_level", r.share_level), ("share_reference", r.share_reference), template="{} / {}"),
            cell(("difference", r.difference), ("diff_low", r.diff_low), ("diff_high", r.diff_high), template="{} [{}, {}]"),
            render.Cell(TEXT["verdicts"][lang][r.verdict]))))
    return render.Table(key=key, caption=TEXT["joint_caption"][lang],
                        header=((*(render.HeaderCell(c) for c in cols),),), rows=tuple(rows),
                        notes=(TEXT["joint_note"][lang],), label_columns=4, lang=lang)


# -- figures -----------------------------------------------------------------------------------
def model_labels(fits: pd.DataFrame, hypotheses: pd.DataFrame, lang: str) -> dict[str, str]:
    """The legend of the coefficient plot: each model by its estimator; a hypothesis read off a
    bootstrap (the mediation) rather than a fitted model by its source."""
    names = {"ols": "OLS", "wls": "WLS", "mixed": {"zh": "随机截距", "en": "random intercept"}[lang],
             "ml": "ML"}
    out = {str(m): names.get(str(e), str(e)) for m, e in zip(fits["model"], fits["estimator"])}
    for model, source in zip(hypotheses["model"], hypotheses["source"]):
        out.setdefault(str(model), TEXT["bootstrap"][lang] if source == "bootstrap" else str(source))
    return out


def build_figures(results: Mapping[str, pd.DataFrame], instrument: Any, params: Mapping[str, Any],
                  settings: Mapping[str, Any]) -> list[FigureOut]:
    """The six figures, with captions from the study's own labels; a figure whose input is
    absent is listed with what is missing."""
    lang = settings["lang"]
    cfg = settings.get("figures") or {}

    def need(key: str) -> Any:
        if key not in cfg:
            raise PipelineError(f"params.yaml: report.figures has no '{key}'", "see the comments of the report section")
        return cfg[key]

    L = F.figure_labels(instrument, lang, params["models"].get("derived"))
    # the tables' labels of derived model terms (params.yaml: report.term_labels) win, so a term
    # reads the same in Table 9 and in Figure 3 (an interaction is labelled part by part)
    own = {k: v[lang] for k, v in (settings.get("term_labels") or {}).items() if isinstance(v, Mapping) and lang in v}
    L = {**L, "terms": {**L["terms"], **own}}
    group, factor = need("index_group"), need("topic_factor")
    prediction = params["models"].get("predictions") or {}
    grid = list(prediction.get("grid") or {})
    x, by = (grid + [None, None])[:2]
    fits = results.get("models/fits.csv")
    outcome = (fits.loc[fits["model"] == prediction.get("model"), "outcome"].tolist() + [""])[0] if fits is not None else ""
    words = {"group": L["variables"].get(group, group), "factor": L["variables"].get(factor, factor),
             "x": L["terms"].get(x, x), "by": L["terms"].get(by, by), "outcome": L["scales"].get(outcome, outcome)}
    caps = {k: v[lang].format(**words) for k, v in TEXT["figures"].items()}
    out: list[FigureOut] = []

    def add(key: str, make, needs: Sequence[str]) -> None:
        absent = [n for n in needs if n not in results]
        if absent:
            out.append(FigureOut(key, caps[key], None, None, ", ".join(absent)))
            return
        fig = make()
        out.append(FigureOut(key, caps[key], F.figure_bytes(fig, "png"), F.figure_bytes(fig, "svg")))

    add("fig01_sample_flow", lambda: F.sample_flow_plot(results["sample_flow.csv"], lang), ["sample_flow.csv"])
    add("fig02_index_distributions",
        lambda: F.index_distributions(results["indices.parquet"], L["scales"], group, L["values"].get(group),
                                      lang, words["group"]), ["indices.parquet"])

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

    def prevalence():
        topics = results.get("topics/topics.csv")
        labels = None
        if topics is not None and "label" in topics.columns:   # prevalence names topics "T1", topics.csv 1
            labels = {}
            for t, lab in zip(topics["topic"], topics["label"]):
                labels[t] = labels[f"T{t}"] = str(lab)
        return F.topic_prevalence_plot(results["topics/prevalence_levels.csv"], factor, lang, words["factor"],
                                       L["values"].get(factor), labels)
    add("fig05_topic_prevalence", prevalence, ["topics/prevalence_levels.csv"])
    k_sel = results.get("topics/k_selection.csv")
    add("fig06_k_selection", lambda: F.k_selection_plot(k_sel, lang, {m: str(m).upper() for m in k_sel["model"]}),
        ["topics/k_selection.csv"])
    return out


# -- the report documents ----------------------------------------------------------------------
REPORT_CSS = """body { font-family: "Report CJK", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  max-width: 60em; margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #111; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #999; }
figure { margin: 1.5em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { font-weight: bold; margin-top: 0.3em; }
nav ol { columns: 2; } .missing { color: #a00; }
section.prov td { font-family: monospace; font-size: 85%; word-break: break-all; }
"""

def embedded_font_css(text: str) -> str:
    """An ``@font-face`` rule carrying the project's CJK font (the pinned Noto Sans CJK SC, see
    :mod:`pipeline.render.figures`) cut down to the characters ``text`` uses, as a data URL: the page
    then shows its Chinese in the same face on any machine without fetching a font. Byte-identical
    on reruns (fontTools keeps the font's own timestamps: ``recalcTimestamp=False``)."""
    import base64

    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    path = F.default_font_path()
    F.use_cjk_font()   # checks the file's SHA-256, with a clear error if the font is missing
    faces = [f["name"].getDebugName(1) for f in TTCollection(str(path)).fonts]
    font = TTFont(str(path), fontNumber=faces.index(F.FONT_FAMILY), recalcTimestamp=False, lazy=False)
    options = subset.Options()
    options.hinting = False
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(text))))
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return ('@font-face { font-family: "Report CJK"; font-style: normal; font-weight: 400;\n'
            f'  src: url(data:font/otf;base64,{data}) format("opentype"); }}\n')


_SVG_PROLOGUE = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.S)


def inline_svg(svg: bytes, key: str) -> str:
    """An SVG for inline use: no XML prologue, DOCTYPE or RDF metadata (the DTD's URL would be a
    reference out of the file), ids prefixed with the figure key so two figures' clip paths cannot collide."""
    text = _SVG_PROLOGUE.sub("", svg.decode("utf-8"), count=1)
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)   # RDF licence block: URIs, no content
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    for old in sorted(ids, key=len, reverse=True):
        new = f"{key}-{old}"
        text = re.sub(rf'\bid="{re.escape(old)}"', f'id="{new}"', text)
        text = text.replace(f"url(#{old})", f"url(#{new})").replace(f'href="#{old}"', f'href="#{new}"')
    return text


def provenance_rows(prov: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [("python", prov["python"]), ("seed", str(prov["seed"])), ("params.yaml (sha256)", prov["params_sha256"])]
    rows += [(f"package {name}", version) for name, version in prov["packages"].items()]
    for stage, files in prov["inputs"].items():
        rows += [(f"{stage}: {path}", md5) for path, md5 in files.items()]
    return rows


def provenance_table(prov: Mapping[str, Any], lang: str) -> render.Table:
    """The provenance appendix as a (three-line) table of text cells."""
    cols = TEXT["prov_cols"][lang]
    rows = tuple(render.Row((render.Cell(k), render.Cell(v))) for k, v in provenance_rows(prov))
    return render.Table(key="appendix_provenance", caption=TEXT["sections"]["provenance"][lang],
                        header=((render.HeaderCell(cols[0]), render.HeaderCell(cols[1])),), rows=rows,
                        notes=(TEXT["prov_intro"][lang],), label_columns=2, lang=lang)


def _by_section(table_list: Sequence[render.Table], sections: Mapping[str, str]) -> dict[str, list[render.Table]]:
    out: dict[str, list[render.Table]] = {name: [] for name, _ in SECTIONS}
    for t in table_list:
        out[sections[t.key]].append(t)
    return out


def report_html(lang: str, title: Mapping[str, str], table_list: Sequence[render.Table], figs: Sequence[FigureOut],
                prov: Mapping[str, Any], sections: Mapping[str, str]) -> str:
    by_section = _by_section(table_list, sections)
    fig_by_key = {f.key: f for f in figs}
    numbers = {f.key: i for i, f in enumerate(figs, start=1)}
    parts = [f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title[lang])}</title>",
             f"<style>\n{REPORT_CSS}{render.HTML_CSS}\n</style>\n</head>\n<body>",
             f"<h1>{html.escape(title[lang])}</h1>", "<nav><ol>"]
    for name, _ in SECTIONS + (("provenance", ()),):
        parts.append(f'<li><a href="#sec-{name}">{html.escape(TEXT["sections"][name][lang])}</a></li>')
    parts.append("</ol></nav>")
    for name, fig_keys in SECTIONS:
        parts.append(f'<section id="sec-{name}"><h2>{html.escape(TEXT["sections"][name][lang])}</h2>')
        for t in by_section[name]:
            parts.append(render.html_fragment(t))
        for key in fig_keys:
            f = fig_by_key[key]
            cap = f"{TEXT['figure'][lang].format(n=numbers[key])} {f.caption}"
            if f.svg is None:
                parts.append(f'<figure id="{key}"><p class="missing">{html.escape(TEXT["missing_figure"][lang].format(what=f.missing))}</p>'
                             f"<figcaption>{html.escape(cap)}</figcaption></figure>")
            else:
                parts.append(f'<figure id="{key}">{inline_svg(f.svg, key)}<figcaption>{html.escape(cap)}</figcaption></figure>')
        parts.append("</section>")
    parts.append(f'<section id="sec-provenance" class="prov"><h2>{html.escape(TEXT["sections"]["provenance"][lang])}</h2>')
    parts.append(render.html_fragment(provenance_table(prov, lang)))
    parts.append("</section>\n</body>\n</html>\n")
    page = "\n".join(parts)
    visible = html.unescape(re.sub(r"<svg.*?</svg>|<[^>]+>", "", page, flags=re.S))
    return page.replace("<style>\n", "<style>\n" + embedded_font_css(visible), 1)


def report_docx(lang: str, title: Mapping[str, str], table_list: Sequence[render.Table], figs: Sequence[FigureOut],
                prov: Mapping[str, Any], sections: Mapping[str, str]) -> bytes:
    from docx import Document
    from docx.shared import Inches, Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Noto Sans CJK SC"
    style.font.size = Pt(10)
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}rFonts")
    if rfonts is not None:  # East Asian text in the same face
        rfonts.set("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia", "Noto Sans CJK SC")
    doc.add_heading(title[lang], level=0)
    by_section = _by_section(table_list, sections)
    fig_by_key = {f.key: f for f in figs}
    numbers = {f.key: i for i, f in enumerate(figs, start=1)}
    for name, fig_keys in SECTIONS:
        doc.add_heading(TEXT["sections"][name][lang], level=1)
        for t in by_section[name]:
            render.add_to_docx(doc, t)
        for key in fig_keys:
            f = fig_by_key[key]
            cap = f"{TEXT['figure'][lang].format(n=numbers[key])} {f.caption}"
            if f.png is None:
                doc.add_paragraph(TEXT["missing_figure"][lang].format(what=f.missing))
            else:
                doc.add_picture(io.BytesIO(f.png), width=Inches(6.0))
            doc.add_paragraph(cap).runs[0].bold = True
    doc.add_heading(TEXT["sections"]["provenance"][lang], level=1)
    render.add_to_docx(doc, provenance_table(prov, lang))
    return render.docx_bytes(doc)


# -- the stage ---------------------------------------------------------------------------------
def make_report(params: Mapping[str, Any], processed: Path, communities_path: Path, joint_path: Path,
                codebook_path: Path, lock: Path, dvc_lock: Path) -> dict[str, Any]:
    """Everything the stage writes, in memory (nothing is written here)."""
    cfg = section(dict(params), "report")
    title = cfg.get("title")
    if not isinstance(title, Mapping) or not all(isinstance(title.get(k), str) for k in ("zh", "en")):
        raise PipelineError("params.yaml: report.title must give the report's title as {zh: ..., en: ...}")
    settings = tables.settings_from_params(params)
    lang = settings["lang"]
    instrument = load_instrument(params["instrument"])
    themes = codebook_themes(codebook_path) if codebook_path.exists() else {}
    settings = {**settings, "themes": {i: {"zh": t["zh"], "en": t["en"]} for i, t in themes.items()},
                "figures": cfg.get("figures") or {}}

    results = tables.derive_results(tables.load_results(processed), instrument, settings)
    for rel in ("models/hypotheses.csv", "models/predictions.csv", "topics/prevalence_levels.csv"):
        if (processed / rel).exists():
            results[rel] = pd.read_csv(processed / rel)

    communities = pd.read_csv(communities_path, dtype={"comm_id": str})
    codes = coded_units(processed, communities, themes) if themes else None
    joint = None
    if codes is not None and "models/hypotheses.csv" in results:
        rows = parse_rows(read_yaml(joint_path, "joint-display configuration"), str(joint_path),
                          list(params["models"]["hypotheses"]), list(themes))
        joint = joint_display(rows, results["models/hypotheses.csv"], codes,
                              {i: t["code"] for i, t in themes.items()}, {i: t[lang] for i, t in themes.items()},
                              lang=lang, seed=int(params["seed"]), n_quotes=int(cfg.get("quotes", 2)))
        results["derived/joint_display"] = joint

    table_list = tables.build_tables(results, instrument, settings)
    sections = tables.table_sections(results)
    if joint is not None:
        L = F.figure_labels(instrument, lang, params["models"].get("derived"))
        key = f"table{len(table_list) + 1:02d}_joint_display"
        table_list.append(joint_table(joint, lang, L["variables"], L["values"], settings["decimals"]["coef"], key))
        sections[key] = "joint"
    problems = [p for t in table_list for p in tables.check_numbers(t, results, settings["stars"])]
    if problems:
        raise PipelineError(f"{len(problems)} number(s) in the tables differ from their tidy sources: {problems[:5]}",
                            "this is a bug in the table builders: report it")

    figs = build_figures(results, instrument, params, settings)
    prov = reproducible_part(dict(params), lock, dvc_lock)
    derived = {k.split("/", 1)[1]: v for k, v in results.items() if k.startswith("derived/")}
    return {"tables": table_list, "sections": sections, "figures": figs, "provenance": prov, "derived": derived,
            "lang": lang, "title": title,
            "formats": settings.get("formats", render.FORMATS), "joint": joint}


def metrics_of(made: Mapping[str, Any]) -> dict[str, Any]:
    joint = made["joint"]
    verdicts = joint["verdict"].value_counts().to_dict() if joint is not None else {}
    return {"tables": len(made["tables"]), "tables_skipped": sum(t.skipped is not None for t in made["tables"]),
            "figures": sum(f.png is not None for f in made["figures"]),
            "figures_missing": sum(f.png is None for f in made["figures"]),
            "numbers_checked": sum(len(c.sources) for t in made["tables"] for c in t.cells()),
            **{f"joint_{v}": int(verdicts.get(v, 0)) for v in ("convergent", "divergent", "complementary", "inconclusive")}}


def write_report(made: Mapping[str, Any], reports: Path, processed_out: Path, metrics_path: Path) -> None:
    """Write every output; the documents are rendered first, so a failure writes nothing."""
    page = report_html(made["lang"], made["title"], made["tables"], made["figures"], made["provenance"], made["sections"])
    document = report_docx(made["lang"], made["title"], made["tables"], made["figures"], made["provenance"],
                           made["sections"])
    with atomic_dir(reports / "tables") as tdir, atomic_dir(reports / "figures") as fdir, \
            atomic_dir(processed_out) as pdir:
        for t in made["tables"]:
            render.write_table(t, tdir, made["formats"])
        for f in made["figures"]:
            if f.png is not None:
                write_bytes(fdir / f"{f.key}.png", f.png)
                write_bytes(fdir / f"{f.key}.svg", f.svg)
        for name, frame in sorted(made["derived"].items()):
            write_csv(pdir / f"{name}.csv", frame)
    write_text(reports / "report.html", page)
    write_bytes(reports / "report.docx", document)
    write_json(metrics_path, metrics_of(made))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pipeline report", description=__doc__.split("\n")[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--processed", default="processed")
    ap.add_argument("--communities", default="raw/communities.csv")
    ap.add_argument("--joint", default="config/joint_display.yaml")
    ap.add_argument("--codebook", default="config/codebook.yaml")
    ap.add_argument("--reports", default="reports")
    ap.add_argument("--out", default="processed/report", help="the tidy frames the report computes")
    ap.add_argument("--metrics", default="metrics/report.json")
    ap.add_argument("--lock", default="requirements.lock")
    ap.add_argument("--dvc-lock", default="dvc.lock")
    ap.add_argument("--provenance", default=None, help="default: <reports>/provenance.json")
    ap.add_argument("--timings", default=None, help="per-stage times (default: $PIPELINE_TIMINGS or .cache/timings)")
    args = ap.parse_args(argv)
    started = time.time()
    params = load_params(args.params)
    made = make_report(params, Path(args.processed), Path(args.communities), Path(args.joint), Path(args.codebook),
                       Path(args.lock), Path(args.dvc_lock))
    reports = Path(args.reports)
    write_report(made, reports, Path(args.out), Path(args.metrics))
    timings = Path(args.timings or os.environ.get("PIPELINE_TIMINGS", ".cache/timings"))
    prov = {**made["provenance"], **run_part(Path("."), timings)}
    prov["stage_times"]["report"] = {"seconds": round(time.time() - started, 2), "note": "until provenance.json"}
    write_json(Path(args.provenance or reports / "provenance.json"), prov)

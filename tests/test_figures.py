"""Figures: every figure renders in Chinese and English in the project's own CJK font without a
missing glyph, PNG at 300 dpi and self-contained SVG, byte-identical on every save, and a
missing or wrong font is one clear error."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure
from PIL import Image

from conftest import ROOT
from pipeline.render import figures as F
from pipeline.render import locale
from pipeline.core.errors import PipelineError

# -- small frames of the shapes the stages write (numbers from the demo study) ---------------
HYPOTHESES = pd.DataFrame({
    "hypothesis": ["H1", "H2", "H3", "H4", "H5"],
    "model": ["I2", "P2", "H3_mediation", "I2", "P2"],
    "term": ["contact", "gov_model", "indirect", "contact:interspersed", "points_scheme:prior_nonpart"],
    "estimate": [0.199, 0.344, 0.056, 0.089, 0.259],
    "std_error": [0.031, 0.069, 0.014, 0.051, 0.074],
    "p_value": [1e-7, 9e-6, np.nan, 0.092, 0.0009],
    "conf_low": [0.137, 0.205, 0.027, -0.015, 0.111],
    "conf_high": [0.262, 0.484, 0.084, 0.194, 0.407],
    "source": ["cluster_cr2"] * 2 + ["bootstrap"] + ["cluster_cr2"] * 2,
})
COEFFICIENTS = pd.DataFrame({
    "model": ["I3", "I3", "R2", "P3", "P3", "I3"],
    "term": ["contact", "contact:interspersed", "contact", "gov_model", "points_scheme:prior_nonpart", "gov_model"],
    "estimate": [0.21, 0.08, 0.17, 0.34, 0.23, 0.01],
    "conf_low": [0.16, -0.01, 0.11, 0.20, 0.07, -0.14],
    "conf_high": [0.25, 0.17, 0.24, 0.48, 0.39, 0.17],
})
FLOW = pd.DataFrame({
    "step": range(7),
    "rule": ["raw", "duplicate", "speeder", "straightline", "attention", "age_rule", "analysed"],
    "label_en": ["raw submissions", "excluded: duplicate submission", "excluded: speeder (too fast)",
                 "excluded: straight-lining", "excluded: failed attention check",
                 "excluded: age / birth-year rule", "analysed"],
    "label_zh": ["原始提交", "剔除：重复提交", "剔除：答题过快", "剔除：直线作答", "剔除：注意力检测未通过",
                 "剔除：年龄/出生年份不符", "纳入分析"],
    "flagged": [0, 49, 73, 53, 181, 24, 268],
    "excluded": [0, 49, 73, 49, 73, 24, 268],
    "remaining": [2482, 2433, 2360, 2311, 2238, 2214, 2214],
})


def _indices(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = {s: np.clip(np.round(rng.normal(3.3, 0.8, n) * 5) / 5, 1, 5)
             for s in ("contact", "embeddedness", "governance", "participation", "identity")}
    frame["ethnicity"] = rng.choice([1.0, 2.0, 3.0, np.nan], n, p=[0.55, 0.38, 0.05, 0.02])
    return pd.DataFrame(frame)


def _predictions() -> pd.DataFrame:
    contact = np.repeat(np.arange(1.0, 5.5, 0.5), 2)
    inter = np.tile([0, 1], 9)
    est = 2.9 + 0.2 * contact + 0.09 * contact * inter
    return pd.DataFrame({"model": "I2", "contact": contact, "interspersed": inter, "estimate": est,
                         "conf_low": est - 0.15, "conf_high": est + 0.15, "scale": "outcome"})


def _prevalence() -> pd.DataFrame:
    rows = [(t, f, lv, 0.05 + 0.01 * t + 0.02 * lv) for t in range(1, 9) for f in ("gov_model", "comm_type")
            for lv in ((0, 1) if f == "gov_model" else (1, 2, 3, 4))]
    df = pd.DataFrame(rows, columns=["topic", "factor", "level", "estimate"])
    return df.assign(ci_low=df["estimate"] - 0.015, ci_high=df["estimate"] + 0.015)


def _k_selection() -> pd.DataFrame:
    rows = []
    for model in ("nmf", "lda"):
        for k in range(4, 17, 2):
            rows.append({"model": model, "k": k, "coherence_npmi": 0.1 - 0.002 * (k - 8) ** 2,
                         "exclusivity": 8 + k / 10, "stability": 0.9 - 0.01 * abs(k - 8),
                         "perplexity": 900 + k if model == "lda" else np.nan, "chosen": k == 8})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def labels(instrument, params):
    return {lang: F.figure_labels(instrument, lang, params["models"]["derived"]) for lang in F.LANGS}


def build(name: str, lang: str, labels: dict, data: dict | None = None) -> Figure:
    """One figure the way the report stage makes it; ``data`` replaces the small frames."""
    d = {"hypotheses": HYPOTHESES, "coefficients": COEFFICIENTS, "indices": _indices(),
         "predictions": _predictions(), "sample_flow": FLOW, **(data or {})}
    L = labels[lang]
    if name == "coefficients":
        rows = F.hypothesis_rows(d["hypotheses"], d["coefficients"], {"I2": ["I3", "R2"], "P2": ["P3"]})
        ri, boot = locale.text("report.random_intercept", lang), locale.text("report.bootstrap", lang)
        return F.coefficient_plot(rows, lang, L["terms"], {"I2": "OLS", "P2": "OLS", "I3": ri, "P3": ri,
                                                           "R2": "WLS", "H3_mediation": boot})
    if name == "indices":
        return F.index_distributions(d["indices"], L["scales"], "ethnicity", L["values"]["ethnicity"], lang,
                                     L["variables"]["ethnicity"])
    if name == "interaction":
        return F.interaction_plot(d["predictions"], "contact", "interspersed", lang, L["scales"]["contact"],
                                  L["scales"]["identity"], L["variables"]["comm_type"], L["values"]["interspersed"])
    if name == "topics":
        return F.topic_prevalence_plot(_prevalence(), "gov_model", lang, L["variables"]["gov_model"],
                                       L["values"]["gov_model"], {t: f"T{t} 议事 协商 石榴籽" for t in range(1, 9)})
    if name == "k_selection":
        return F.k_selection_plot(_k_selection(), lang, {"nmf": "NMF", "lda": "LDA"})
    if name == "sample_flow":
        return F.sample_flow_plot(d["sample_flow"], lang)
    raise KeyError(name)


FIGURES = ("coefficients", "indices", "interaction", "topics", "k_selection", "sample_flow")


def render_strict(fig: Figure) -> dict[str, bytes]:
    """Both formats with every warning an error (a missing glyph is a UserWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return {fmt: F.figure_bytes(fig, fmt) for fmt in F.FORMATS}


def texts_of(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontproperties"))
            if t.get_text()]


# -- the font --------------------------------------------------------------------------------
def test_font_is_the_pinned_file_of_the_package():
    path = F.default_font_path()
    assert F.FONT_PACKAGE in path.parts and path.name == F.FONT_FILE
    assert F.use_cjk_font() == F.FONT_FAMILY
    found = font_manager.findfont(font_manager.FontProperties(family=F.FONT_FAMILY), fallback_to_default=False)
    assert F.Path(found).resolve() == path.resolve()


def test_missing_font_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(F, "FONT_PACKAGE", "no_such_font_package_23nx")
    with pytest.raises(PipelineError, match="not installed") as err:
        F.default_font_path()
    assert "scripts/repro.sh" in str(err.value) and "requirements.lock" in str(err.value)


def test_missing_or_wrong_font_file_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="font file not found.*scripts/repro.sh"):
        F.use_cjk_font(tmp_path / "gone.ttc")
    junk = tmp_path / "junk.ttc"
    junk.write_bytes(b"not a font" * 100)
    with pytest.raises(PipelineError, match="not a readable font file"):
        F.use_cjk_font(junk)
    with pytest.raises(PipelineError, match="not the pinned font"):
        F.use_cjk_font(junk, sha256=F.FONT_SHA256)
    with pytest.raises(PipelineError, match="not a readable font file"):
        F.sample_flow_plot(FLOW, "zh", font=junk)


def test_a_font_without_the_family_is_refused():
    dejavu = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    with pytest.raises(PipelineError, match="has no font family 'Noto Sans CJK SC'"):
        F.use_cjk_font(dejavu)


def test_the_glyph_check_catches_a_font_without_chinese():
    """The check the figure tests rely on: drawing 民族 in a Latin-only font warns, and warns loudly."""
    fig = Figure()
    fig.add_subplot().set_title("民族", family="DejaVu Sans")
    with pytest.raises(UserWarning, match="Glyph .* missing from font"):
        render_strict(fig)


# -- every figure --------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", F.LANGS)
@pytest.mark.parametrize("name", FIGURES)
def test_figure_renders_without_a_missing_glyph(name, lang, labels):
    fig = build(name, lang, labels)
    out = render_strict(fig)
    assert out["png"].startswith(b"\x89PNG") and b"<svg" in out["svg"]
    words = "".join(texts_of(fig))
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", words), "a Chinese figure without Chinese text"
    elif name != "topics":  # (topic labels are Chinese words in both languages)
        assert not re.search(r"[\u4e00-\u9fff]", words), "Chinese text in an English figure"
    # every text is drawn in the project's font file, none in a font of the machine
    ours = F.default_font_path().resolve()
    for t in fig.findobj(lambda a: hasattr(a, "get_fontproperties") and hasattr(a, "get_text")):
        if t.get_text():
            assert F.Path(font_manager.findfont(t.get_fontproperties())).resolve() == ours, t.get_text()


def test_save_figure_writes_300_dpi_png_and_self_contained_svg(tmp_path, labels):
    fig = build("coefficients", "zh", labels)
    paths = F.save_figure(fig, tmp_path / "figures", "coefficients")
    assert [p.name for p in paths] == ["coefficients.png", "coefficients.svg"]
    with Image.open(paths[0]) as img:
        assert img.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        width, height = fig.get_size_inches()
        assert img.size == (round(width * 300), round(height * 300))
    svg = paths[1].read_text(encoding="utf-8")
    assert "<text" not in svg and "<path" in svg        # glyphs as paths: renders without the font
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    assert not list((tmp_path / "figures").glob(".*"))  # no temporary file left behind


def test_inline_svg_prefixes_every_id_and_its_references_once(labels):
    from pipeline.render.document import inline_svg

    svg = (b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">\n<svg>'
           b'<metadata><rdf:RDF>licence</rdf:RDF></metadata><clipPath id="p1"/><clipPath id="p12"/>'
           b'<path id="m1" clip-path="url(#p1)" style="clip-path: url(#p12)"/><use xlink:href="#m1"/>'
           b'<use href="#p12"/><a href="#elsewhere"/><g class="p1"/></svg>')
    assert inline_svg(svg, "fig") == (
        '<svg><clipPath id="fig-p1"/><clipPath id="fig-p12"/>'
        '<path id="fig-m1" clip-path="url(#fig-p1)" style="clip-path: url(#fig-p12)"/><use xlink:href="#fig-m1"/>'
        '<use href="#fig-p12"/><a href="#elsewhere"/><g class="p1"/></svg>')
    fig = F.figure_bytes(build("sample_flow", "en", labels), "svg").decode()
    inlined = inline_svg(fig.encode(), "k")
    ids = set(re.findall(r'\bid="([^"]+)"', fig))
    assert ids and set(re.findall(r'\bid="([^"]+)"', inlined)) == {f"k-{i}" for i in ids}
    assert all(r[2:] in ids for r in re.findall(r"url\(#(k-[^)]+)\)", inlined))


def test_saves_are_byte_identical(tmp_path, labels):
    first = F.save_figure(build("interaction", "zh", labels), tmp_path / "a", "fig")
    again = F.save_figure(build("interaction", "zh", labels), tmp_path / "b", "fig")
    for one, two in zip(first, again):
        assert one.read_bytes() == two.read_bytes(), one.name
    fig = build("sample_flow", "en", labels)
    assert F.figure_bytes(fig, "svg") == F.figure_bytes(fig, "svg")
    assert F.figure_bytes(fig, "png") == F.figure_bytes(fig, "png")


def test_the_svg_is_drawn_at_the_png_layout(labels):
    """figure_files computes the constrained layout once (the PNG's draw) and draws the SVG at
    those positions: every axes of the SVG sits where the PNG put it, the PNG is what a plain
    save gives, and both are the same bytes on a rebuild."""
    for name in ("coefficients", "interaction", "sample_flow"):
        fig = build(name, "zh", labels)
        png, svg = F.figure_files(fig)
        positions = [ax.get_position().bounds for ax in fig.axes]
        plain = build(name, "zh", labels)
        assert F.figure_bytes(plain, "png") == png, name
        assert [ax.get_position().bounds for ax in plain.axes] == positions, name
        assert fig.get_layout_engine() is None or type(fig.get_layout_engine()).__name__ == "PlaceHolderLayoutEngine"
        assert F.figure_files(build(name, "zh", labels)) == (png, svg), name
        assert svg.startswith(b"<?xml") and b"<svg" in svg


def test_figure_functions_leave_their_inputs_alone(labels):
    hyp, flow = HYPOTHESES.copy(), FLOW.copy()
    F.coefficient_plot(F.hypothesis_rows(HYPOTHESES, COEFFICIENTS, {"I2": ["I3"]}), "zh")
    F.sample_flow_plot(FLOW, "zh")
    pd.testing.assert_frame_equal(HYPOTHESES, hyp)
    pd.testing.assert_frame_equal(FLOW, flow)


# -- labels and rows -----------------------------------------------------------------------
def test_labels_come_from_the_instrument(labels):
    zh, en = labels["zh"], labels["en"]
    assert zh["values"]["ethnicity"] == {1: "汉族", 2: "回族", 3: "其他民族"}
    assert F.term_label("contact:interspersed", zh["terms"]) == "族际交往 × 插花式安置/移民安置区"
    assert F.term_label("contact:interspersed", en["terms"]) == "Interethnic contact × interspersed resettlement"
    assert zh["terms"]["hui"] == "回族" and zh["terms"]["female"] == "女"
    assert en["values"]["interspersed"] == {0: "other community type", 1: "interspersed resettlement"}
    assert F.term_label("no_label:contact", en["terms"]) == "no_label × Interethnic contact"


def test_hypothesis_rows_add_only_the_named_alternatives():
    rows = F.hypothesis_rows(HYPOTHESES, COEFFICIENTS, {"I2": ["I3", "R2"], "P2": ["P3"]})
    got = rows.groupby("hypothesis", sort=False)["model"].apply(list).to_dict()
    assert got == {"H1": ["I2", "I3", "R2"], "H2": ["P2", "P3"], "H3": ["H3_mediation"],
                   "H4": ["I2", "I3"], "H5": ["P2", "P3"]}   # I3's gov_model (identity) is not H2's
    assert list(F.hypothesis_rows(HYPOTHESES)["model"]) == list(HYPOTHESES["model"])


# -- bad input -----------------------------------------------------------------------------
def test_bad_input_is_a_clear_error(labels):
    with pytest.raises(PipelineError, match="figure language 'fr'"):
        F.sample_flow_plot(FLOW, "fr")
    with pytest.raises(PipelineError, match=r"sample flow: no column\(s\) \['label_zh'\]"):
        F.sample_flow_plot(FLOW.drop(columns="label_zh"), "zh")
    with pytest.raises(PipelineError, match="no rows for factor 'points_scheme'"):
        F.topic_prevalence_plot(_prevalence(), "points_scheme")
    with pytest.raises(PipelineError, match="K selection: no metric has a value"):
        F.k_selection_plot(_k_selection().drop(columns=["coherence_npmi", "exclusivity", "stability", "perplexity"]))
    with pytest.raises(PipelineError, match="indices: no rows"):
        F.index_distributions(_indices().iloc[:0], labels["zh"]["scales"], "ethnicity")
    with pytest.raises(PipelineError, match="not a plain file stem"):
        F.save_figure(Figure(), ROOT, "../escape")


# -- the demo study's outputs (built for this test session, see conftest.demo_study) ---------
DEMO = {"hypotheses": "models/hypotheses.csv", "coefficients": "models/coefficients.csv",
        "predictions": "models/predictions.csv", "sample_flow": "sample_flow.csv", "indices": "indices.parquet"}


@pytest.mark.parametrize("name", ["coefficients", "indices", "interaction", "sample_flow"])
def test_figures_render_from_the_demo_outputs(name, labels, demo_study):
    paths = {k: demo_study / "processed" / v for k, v in DEMO.items()}
    data = {k: pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p) for k, p in paths.items()}
    render_strict(build(name, "zh", labels, data))


# -- the words of the figures, tables and report ---------------------------------------------------
def _leaves(tree, path=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _leaves(value, (*path, i))
    else:
        yield path, tree


def test_every_language_has_the_same_phrases_with_the_same_fields():
    """pipeline/render/locale/<lang>.yaml: the same keys in every language, each phrase with the
    same {fields}, so switching report.lang can neither miss a phrase nor a value."""
    import string

    files = sorted(p.stem for p in locale.FOLDER.glob("*.yaml"))
    assert files == sorted(F.LANGS)
    leaves = {lang: dict(_leaves(locale.phrases_of(lang))) for lang in F.LANGS}
    zh, en = leaves["zh"], leaves["en"]
    assert set(zh) == set(en) and len(zh) > 180
    for key in zh:
        assert isinstance(zh[key], str) and zh[key].strip(), key
        fields = [{f for _, f, _, _ in string.Formatter().parse(leaves[lang][key]) if f} for lang in ("zh", "en")]
        assert fields[0] == fields[1], key
    assert locale.text("tables.characteristics", "en", group="ethnicity") == "Sample characteristics by ethnicity"
    assert locale.text("report.verdicts", "zh")["convergent"] == "一致"
    with pytest.raises(PipelineError, match="no locale file"):
        locale.text("tables.total", "fr")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_index_distributions_of_the_whole_sample_name_no_group(labels, lang):
    """Without report.figures.index_group the figure is of the whole sample: its title used to
    name the internal column ("Index distributions by _sample")."""
    whole = _indices().assign(_sample=1)
    fig = F.index_distributions(whole, labels[lang]["scales"], "_sample", {1: "all"}, lang, "")
    title = fig._suptitle.get_text()
    assert title == F.text("index_whole", lang) and "_sample" not in title


def test_figure_6_of_document_vectors_draws_and_names_modularity_not_perplexity():
    """docvec's K is chosen by modularity and has no perplexity: its panels and its caption
    (figure_captions through report.figures.fig06_k_selection) said 'perplexity' and left out
    the criterion that chose K."""
    from pipeline.render import locale
    docvec = pd.DataFrame({"model": ["docvec"] * 3, "k": [5, 6, 7], "coherence_npmi": [0.1, 0.2, 0.15],
                           "exclusivity": [0.5, 0.4, 0.3], "stability": [0.9, 0.8, 0.85], "perplexity": [np.nan] * 3,
                           "modularity": [0.41, 0.45, 0.43], "chosen": [False, True, False]})
    fig = F.k_selection_plot(docvec, "en")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert "Modularity" in titles and "Perplexity" not in titles
    assert F.k_criteria(docvec, "en") == "coherence, exclusivity, stability and modularity"
    assert F.k_criteria(docvec, "zh") == "一致性、排他性、稳定性与模块度"
    assert F.k_criteria(_k_selection(), "zh") == "一致性、排他性、稳定性与困惑度"      # the mixture models, as before
    caption = locale.text("report.figures.fig06_k_selection", "en").format(criteria=F.k_criteria(docvec, "en"))
    assert caption == "Choosing K: coherence, exclusivity, stability and modularity"

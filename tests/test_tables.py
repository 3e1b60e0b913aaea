"""Publication tables: every number shown equals its tidy source; every format renders; Word
tables are three-line tables; small cells are withheld; zh/en labels; byte-identical output."""
from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.render import table as render
from pipeline.core.errors import PipelineError
from pipeline.core.files import OFFICE_TIME
from pipeline.core.files import rounded_frame, write_csv
from pipeline.render.table import Cell, Row, Table
from pipeline.render.tables.cells import fmt
from pipeline.render.tables.check import check_numbers
from pipeline.render.tables.plan import build_tables, table_sections
from pipeline.render.tables.results import load_results, matching_rows
from pipeline.render.tables.settings import DEFAULTS, settings_from_params
from pipeline.render.tables.survey import table_sample_characteristics
from pipeline.render.tables.text import table_topics
from pipeline.stats.describe import sample_characteristics
from tests.test_latex import assert_well_formed, preamble_packages

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(demo_study, params, instrument):
    """The tidy results of the demo study (built for this test session, see conftest.demo_study)."""
    settings = settings_from_params(params)
    return load_results(demo_study / "processed"), settings


@pytest.fixture(scope="module")
def built(demo, instrument):
    results, settings = demo
    return {lang: build_tables(results, instrument, {**settings, "lang": lang}) for lang in ("en", "zh")}


def _by_key(ts):
    return {t.key: t for t in ts}


# -- numbers ---------------------------------------------------------------------------------------
def test_every_number_shown_equals_its_tidy_source(demo, built, instrument):
    results, settings = demo
    ci = build_tables(results, instrument, {**settings, "uncertainty": "ci"})
    checked = 0
    for ts in (built["en"], built["zh"], ci):
        for t in ts:
            assert check_numbers(t, results, settings["stars"]) == [], t.key
            checked += sum(len(c.sources) for c in t.cells())
    assert checked > 1500
    keys = {t.key for t in built["en"] if not t.skipped}
    assert {"table01_sample_flow", "table02_sample_characteristics", "table04_measurement_items",
            "table09_participation_models", "table10_identity_models", "table11_robustness_models"} <= keys


def test_matching_rows_compares_as_text_and_a_new_frame_is_read_anew():
    df = pd.DataFrame({"term": ["a", "b", None, "b"], "model": [1, 2, 3, 1], "x": [0.5, np.nan, 2.0, 1.0]})
    assert matching_rows(df, [("term", "b"), ("model", 2)]).tolist() == [1]
    assert matching_rows(df, [("term", "b")]).tolist() == [1, 3]
    assert matching_rows(df, [("model", "1"), ("x", 1.0)]).tolist() == [3]     # str(1.0) == "1.0"
    assert matching_rows(df, [("term", None)]).tolist() == []                  # a missing key matches nothing
    assert matching_rows(df, [("x", "nan")]).tolist() == []
    changed = df.assign(term=["b", "b", "b", "b"])
    assert matching_rows(changed, [("term", "b"), ("model", 1)]).tolist() == [0, 3]
    assert matching_rows(df, [("term", "b"), ("model", 1)]).tolist() == [3]


def test_the_checker_catches_a_wrong_number_stars_and_a_stale_source(demo, built):
    results, settings = demo
    t = _by_key(built["en"])["table09_participation_models"]
    i, j = next((i, j) for i, r in enumerate(t.rows) for j, c in enumerate(r.cells) if c.stars is not None and c.text.endswith("***"))
    cell = t.rows[i].cells[j]

    def with_cell(new: Cell) -> Table:
        cells = list(t.rows[i].cells)
        cells[j] = new
        rows = list(t.rows)
        rows[i] = Row(tuple(cells))
        return dataclasses.replace(t, rows=tuple(rows))

    value = cell.sources[0].value
    off = dataclasses.replace(cell, text=fmt(value + 0.002, 3) + "***")
    assert any("shows" in p for p in check_numbers(with_cell(off), results))
    fewer = dataclasses.replace(cell, text=cell.text[:-1])
    assert any("stars" in p for p in check_numbers(with_cell(fewer), results))
    unsourced = Cell("0.123")
    assert any("without a source" in p for p in check_numbers(with_cell(unsourced), results))
    stale = dict(results)
    coefs = results["models/coefficients.csv"].copy()
    coefs["estimate"] = coefs["estimate"] + 0.01
    stale["models/coefficients.csv"] = coefs
    assert check_numbers(t, stale)


def test_regression_tables_have_the_statistics_and_the_covariance_notes(built, demo):
    results, _ = demo
    t = _by_key(built["en"])["table09_participation_models"]
    assert [c.text for c in t.header[1]] == ["", "(1)", "(2)", "(3)"]   # columns numbered, no model ids
    assert t.header[0][1].text == "Community participation" and t.header[0][1].span == 3
    labels = [r.cells[0].text for r in t.rows if r.panel is None]
    for stat in ("N", "Communities", "R²", "ICC", "AIC", "Var(community intercept)", "Var(residual)"):
        assert stat in labels
    assert labels[-14:][0] != "Constant" and "Constant" in labels
    notes = " ".join(t.notes)
    assert "* p < 0.05, ** p < 0.01, *** p < 0.001" in notes
    assert "CR2" in notes and "Satterthwaite" in notes and "between-within" in notes
    # the df range in the note is read from the results, not written in code
    cr2 = results["models/coefficients.csv"].query("model in ['P1', 'P2']")["df"]
    assert f"({cr2.min():.1f}–{cr2.max():.1f})" in notes
    rob = _by_key(built["en"])["table11_robustness_models"]
    assert rob.caption == "Robustness checks"          # params.yaml report.model_tables
    assert [c.text for c in rob.header[1]] == ["", "(1)", "(2)", "(3)", "(4)", "(5)"]
    assert any(r.panel == "Cut points" for r in rob.rows)
    assert "Between 1 and 2" in [r.cells[0].text for r in rob.rows if r.panel is None]
    assert "Rubin" in " ".join(rob.notes) and "CR1" in " ".join(rob.notes)


def test_model_tables_state_reference_categories_and_compare_only_comparable_fit(built, demo):
    """Notes name columns, never model ids; every indicator's reference category is stated; a
    REML fit shows no AIC beside the OLS ones; the mediation withholds a proportion of a null total
    effect and says why its a path differs from the regression table's coefficient."""
    results, _ = demo
    zh, en = _by_key(built["zh"]), _by_key(built["en"])
    ids = set(results["models/fits.csv"]["model"]) | set(results["models/mediation.csv"]["model"])
    for t in [*zh.values(), *en.values()]:
        text = render.csv_text(t) + " ".join(t.notes)
        assert not [m for m in ids if re.search(rf"(?<![\w(]){re.escape(m)}(?![\w)])", text)], t.key
    p = zh["table09_participation_models"]
    notes = " ".join(p.notes)
    assert "治理模式＝多元共治（参照：行政主导）" in notes and "回族（参照：汉族、其他民族）" in notes
    assert "女性（参照：男）" in notes and "受教育程度（1–7）" in notes
    aic = next(r for r in p.rows if r.panel is None and r.cells[0].text == "AIC")
    reml = [i for i, m in enumerate(["P1", "P2", "P3"]) if bool(results["models/fits.csv"].set_index("model").loc[m, "reml"] is True)]
    assert reml == [2] and aic.cells[3].text == "" and aic.cells[1].sources    # REML: no AIC, OLS: AIC
    assert "模型(3)为REML估计" in notes
    med = en["table12_mediation"]
    total = results["models/mediation.csv"].set_index("effect").loc["total"]
    prop = next(r for r in med.rows if r.cells[0].text == "Proportion mediated")
    assert total["conf_low"] < 0 < total["conf_high"] and [c.text for c in prop.cells[1:]] == ["—", "—", "—"]
    assert any("has no meaning" in n for n in med.notes)
    assert any("Table 9, column (2)" in n and "The a path (0.317)" in n and "(0.344)" in n for n in med.notes)


def test_term_labels_and_reference_notes_from_the_instrument(instrument):
    from pipeline.render.tables.cells import reference_note, term_label

    settings = {**DEFAULTS, "lang": "zh", "derived": {"hui": "ethnicity == 2", "prior_nonpart": "1 - prior_part"},
                "term_labels": {"hui": {"zh": "回族", "en": "Hui"}}}
    assert term_label("2|3", instrument, settings) == "2与3之间"
    assert term_label("C(ethnicity)[T.2]", instrument, settings) == "民族：回族"
    note = reference_note(["C(ethnicity)[T.2]", "C(ethnicity)[T.3]", "hui", "prior_nonpart", "education", "2|3"],
                          instrument, settings)
    assert "民族（参照：汉族）" in note and "回族（参照：汉族、其他民族）" in note
    assert "（参照：搬入本社区前是否经常参加社区活动＝是）" in note and "受教育程度（1–7）" in note
    assert reference_note(["contact", "Intercept"], instrument, settings) is None
    en = reference_note(["hui"], instrument, {**settings, "lang": "en"})
    assert en == "Indicators and their reference categories: Hui (reference: Han, other)."


def test_simulated_data_are_marked_in_every_note_and_a_real_study_never(instrument):
    from pipeline.render.tables.plan import build_tables

    results = {"coding/agreement.csv": pd.DataFrame({"theme": ["SPACE"], "theme_id": [1], "n": [200], "kappa": [0.8]}),
               "topics/k_selection.csv": pd.DataFrame({"model": ["dmm"], "k": [6], "coherence_npmi": [0.1], "chosen": [True]})}
    for lang, mark in (("zh", "模拟数据"), ("en", "Simulated data")):
        real = build_tables(results, instrument, {**DEFAULTS, "lang": lang})
        demo = build_tables(results, instrument, {**DEFAULTS, "lang": lang, "simulated": True})
        assert real and all(not any(mark in n for n in t.notes) for t in real)
        assert all(t.notes[-1].startswith(mark) for t in demo)
        assert [t.rows for t in real] == [t.rows for t in demo]
    zh = build_tables(results, instrument, {**DEFAULTS, "lang": "zh", "themes": {1: {"zh": "空间互嵌", "en": "x", "code": "SPACE"}}})
    assert render.csv_text(zh[0]).splitlines()[1].startswith("狄利克雷多项混合模型")    # no "dmm"
    assert render.csv_text(zh[1]).splitlines()[1].startswith("空间互嵌")            # no "SPACE"


# -- formats ---------------------------------------------------------------------------------------
class _Balance(HTMLParser):
    VOID = {"br", "hr", "img", "meta", "col"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.errors = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_every_format_renders(built):
    for t in built["en"] + built["zh"]:
        tex = render.latex(t)
        long = r"\begin{ThreePartTable}" in tex          # a table over pages: its head on every page
        assert tex.count(r"\begin{table}") + tex.count(r"\begin{ThreePartTable}") == 1
        if t.rows:
            assert tex.count(r"\toprule") == 1 + long and tex.count(r"\bottomrule") == 1 + long
            assert_well_formed(tex, t.n_columns, preamble_packages(t.lang, cjk=True))
        frag = render.html_fragment(t, 1)
        p = _Balance()
        p.feed(frag)
        assert p.errors == [] and p.stack == [] and "table" in p.tags, t.key
        md = render.markdown(t)
        if t.rows:
            table_lines = [line for line in md.splitlines() if line.startswith("|")]
            assert len(table_lines) == len(t.rows) + 2
            assert all(line.replace("\\|", "").count("|") == t.n_columns + 1 for line in table_lines)
            csv_rows = pd.read_csv(io.StringIO(render.csv_text(t)), dtype=str, keep_default_na=False, header=None)
            assert csv_rows.shape == (len(t.rows) + 1, t.n_columns)
            body = [r for r in t.rows if r.panel is None]
            assert list(csv_rows.iloc[1 + t.rows.index(body[0])]) == [c.text for c in body[0].cells]
        else:
            assert t.skipped and t.skipped in md and t.skipped in frag


def test_latex_escapes_and_minus_signs():
    t = Table("table99_x", "A & B_1 50%", ((render.HeaderCell("a"), render.HeaderCell("b")),),
              (Row((Cell("x_1 & y"), Cell("-0.5"))),), ("note #1 <5",))
    tex = render.latex(t)
    assert r"A \& B\_1 50\%" in tex and r"x\_1 \& y & \ensuremath{-}0.5 \\" in tex and r"note \#1 \textless{}5" in tex


# -- Word ------------------------------------------------------------------------------------------
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _borders(el):
    return {b.tag.replace(W, ""): (b.get(f"{W}val"), b.get(f"{W}sz")) for b in el} if el is not None else {}


def test_word_tables_are_three_line_tables(built, tmp_path):
    import docx

    t = _by_key(built["zh"])["table09_participation_models"]
    path = render.write_table(t, tmp_path, formats=("docx",))[0]
    doc = docx.Document(str(path))
    assert len(doc.tables) == 1
    tbl = doc.tables[0]._tbl
    tbl_borders = _borders(tbl.tblPr.find(f"{W}tblBorders"))
    assert tbl_borders == {"top": ("single", "12"), "bottom": ("single", "12"), "left": ("nil", None),
                           "right": ("nil", None), "insideH": ("nil", None), "insideV": ("nil", None)}
    n_header = len(t.header)
    for i, tr in enumerate(tbl.findall(f"{W}tr")):
        for tc in tr.findall(f"{W}tc"):
            tc_pr = tc.find(f"{W}tcPr")
            cell_borders = _borders(tc_pr.find(f"{W}tcBorders") if tc_pr is not None else None)
            expected = {"top": ("single", "12")} if i == 0 else {}   # a header repeated on the next page keeps it
            if i == n_header - 1:
                expected["bottom"] = ("single", "6")
            assert cell_borders == expected, (i, cell_borders)
    assert doc.paragraphs[0].text.startswith("表9")
    texts = [c.text for c in doc.tables[0].rows[n_header].cells]
    assert texts == [c.text for c in t.rows[0].cells]


def test_rerendering_is_byte_identical(built, tmp_path):
    t = _by_key(built["en"])["table02_sample_characteristics"]
    a = render.write_table(t, tmp_path / "a")
    b = render.write_table(t, tmp_path / "b")
    assert [p.suffix for p in a] == [".csv", ".md", ".html", ".tex", ".docx"]
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.name
    z = zipfile.ZipFile(a[-1])
    assert {i.date_time for i in z.infolist()} == {OFFICE_TIME}
    assert b"2000-01-01T00:00:00Z" in z.read("docProps/core.xml")
    with pytest.raises(PipelineError, match="unknown table formats"):
        render.write_table(t, tmp_path, formats=("pdf",))


# -- suppression -----------------------------------------------------------------------------------
def _lines_never_reveal_one_hidden_cell(char: pd.DataFrame) -> None:
    for _, sub in char[char["level"] != ""].groupby("variable"):
        for key in ("level", "group"):
            for _, line in sub.groupby(key):
                assert line["suppressed"].sum() != 1, line


def test_small_cells_are_withheld_with_their_complements(instrument):
    rng = np.random.default_rng(1)
    n = 200
    clean = pd.DataFrame({"serial": np.arange(n), "ethnicity": [1.0] * 120 + [2.0] * 77 + [3.0] * 3,
                          "gender": rng.choice([1.0, 2.0], n), "age": rng.uniform(18, 80, n),
                          "education": [1.0] * 2 + [3.0] * 98 + [4.0] * 100})
    settings = {**DEFAULTS, "characteristics": ["gender", "education", "age"], "min_cell": 5}
    char, tests = sample_characteristics(clean, None, instrument, settings)
    small = char[(char["n"] > 0) & (char["n"] < 5)]
    assert len(small) and small["suppressed"].all()
    assert char.loc[(char["variable"] == "age") & (char["group"] == "3"), "suppressed"].item()
    _lines_never_reveal_one_hidden_cell(char)
    assert set(tests["test"]) == {"chi2_mc", "anova"}   # a group of 3: expected counts under 5
    results = {"integrate/sample_characteristics.csv": char, "integrate/sample_tests.csv": tests}
    t = table_sample_characteristics(results, instrument, settings, "table02_x")
    shown = [c for c in t.cells() if c.suppressed]
    assert shown and all(c.text in ("<5", "·", "n<5") and not c.sources for c in shown)
    assert check_numbers(t, results) == []
    assert any("fewer than 5" in n for n in t.notes)
    # a higher threshold withholds more
    char10, _ = sample_characteristics(clean, None, instrument, {**settings, "min_cell": 10})
    assert char10["suppressed"].sum() >= char["suppressed"].sum()


def test_the_integrate_frames_are_read_back_as_the_stage_made_them(instrument, tmp_path):
    """The tables read processed/integrate/*.csv: the text columns come back as text as written
    (a level "1" stays "1", the empty level of a numeric variable stays ""), the numbers as the
    same floats as written (rounded to 10 digits), so a table from the files is the table from the
    stage's frames."""
    rng = np.random.default_rng(2)
    n = 120
    clean = pd.DataFrame({"serial": np.arange(n), "ethnicity": rng.choice([1.0, 2.0], n),
                          "gender": rng.choice([1.0, 2.0], n), "age": rng.uniform(18, 80, n)})
    settings = {**DEFAULTS, "characteristics": ["gender", "age"], "min_cell": 5}
    char, tests = sample_characteristics(clean, None, instrument, settings)
    for name, frame in (("sample_characteristics", char), ("sample_tests", tests)):
        write_csv(tmp_path / "integrate" / f"{name}.csv", frame)
    back = load_results(tmp_path)
    for name, frame in (("sample_characteristics", char), ("sample_tests", tests)):
        read = back[f"integrate/{name}.csv"]
        # numbers as written: 10 significant digits (pipeline/core/digits.py), exactly
        pd.testing.assert_frame_equal(read, rounded_frame(frame), check_dtype=False, check_exact=True)
        for col in ("variable", "level", "group", "test"):
            if col in frame:
                assert read[col].tolist() == frame[col].tolist(), col
    assert "" in set(back["integrate/sample_characteristics.csv"]["level"])
    results = {f"integrate/{name}.csv": rounded_frame(frame)
               for name, frame in (("sample_characteristics", char), ("sample_tests", tests))}
    made = table_sample_characteristics(results, instrument, settings, "table02_x")
    assert made == table_sample_characteristics(back, instrument, settings, "table02_x")


def test_demo_sample_characteristics_reveal_no_small_cell(demo, built):
    results, settings = demo
    char = results["integrate/sample_characteristics.csv"]
    assert char.loc[(char["n"] > 0) & (char["n"] < settings["min_cell"]), "suppressed"].all()
    _lines_never_reveal_one_hidden_cell(char)
    t = _by_key(built["en"])["table02_sample_characteristics"]
    assert any(c.suppressed for c in t.cells())


# -- languages -------------------------------------------------------------------------------------
def test_one_parameter_switches_labels_between_chinese_and_english(built, instrument):
    en, zh = _by_key(built["en"]), _by_key(built["zh"])
    assert en["table09_participation_models"].caption == "Models of community participation"
    assert zh["table09_participation_models"].caption == "社区参与的回归模型"
    labels_en = {r.cells[0].text for r in en["table10_identity_models"].rows if r.panel is None}
    labels_zh = {r.cells[0].text for r in zh["table10_identity_models"].rows if r.panel is None}
    assert instrument.scales["contact"].label["en"] in labels_en and instrument.scales["contact"].label["zh"] in labels_zh
    assert "女性" in labels_zh and "Female" in labels_en
    items_zh = render.csv_text(zh["table04_measurement_items"])
    assert instrument.variables["F1"].label["zh"] in items_zh and instrument.variables["F1"].label["en"] not in items_zh
    # the numbers do not change with the language
    num_en = [c.text for c in en["table10_identity_models"].cells() if c.sources]
    num_zh = [c.text for c in zh["table10_identity_models"].cells() if c.sources]
    assert num_en == num_zh


def test_bad_settings_are_clear_errors(params):
    with pytest.raises(PipelineError, match="report.lang"):
        settings_from_params({**params, "report": {**params["report"], "lang": "fr"}})
    with pytest.raises(PipelineError, match="report.stars"):
        settings_from_params({**params, "report": {**params["report"], "stars": [0.001, 0.05]}})


# -- topics and coding: schemas, and a study without the survey's stages ----------------------------
def test_topic_and_coding_tables_from_their_schemas(instrument):
    results = {
        "topics/topics.csv": pd.DataFrame({"topic": [1, 2], "label": ["邻里互助", "议事协商"], "prevalence": [0.61, 0.39]}),
        "topics/topic_words.csv": pd.DataFrame({"topic": [1, 1, 2, 2], "rank": [1, 1, 1, 1],
                                                "word": ["邻居", "帮忙", "议事", "开会"], "weight": [0.1, 0.2, 0.3, 0.4],
                                                "kind": ["top", "frex", "top", "frex"]}),
        "topics/k_selection.csv": pd.DataFrame({"model": ["nmf", "nmf"], "k": [5, 8], "coherence_npmi": [0.11, 0.13],
                                                "exclusivity": [0.7, 0.8], "stability": [0.9, 0.85],
                                                "perplexity": [np.nan, np.nan], "chosen": [False, True]}),
        "coding/frequencies.csv": pd.DataFrame({"dimension": ["role", "role", "comm_type", "comm_type"],
                                                "level": ["resident", "committee", 1, 2], "theme": [1, 1, 1, 1],
                                                "units": [100, 50, 80, 70], "coded": [12, 3, 9, 6],
                                                "share": [0.12, 0.06, 0.1125, 0.0857]}),
        "coding/agreement.csv": pd.DataFrame({"theme": ["1", "overall"], "n": [200, 200], "kappa": [0.81, np.nan],
                                              "kappa_ci_low": [0.7, np.nan], "kappa_ci_high": [0.9, np.nan],
                                              "precision": [0.9, np.nan], "recall": [0.8, np.nan], "f1": [0.85, np.nan],
                                              "alpha": [np.nan, 0.79]}),
    }
    settings = {**DEFAULTS, "lang": "zh", "role_labels": {"resident": {"zh": "居民", "en": "Resident"}},
                "themes": {1: {"zh": "空间互嵌", "en": "spatial embedding"}}}
    built = {t.key: t for t in build_tables(results, instrument, settings)}
    # a study with texts only: its report has the text tables and says nothing of the survey's,
    # numbered from 1
    assert list(built) == ["table01_topics", "table02_k_selection", "table03_theme_frequencies",
                           "table04_coder_agreement"]
    named = {k.split("_", 1)[1]: t for k, t in built.items()}
    for name in ("topics", "k_selection", "theme_frequencies", "coder_agreement"):
        assert named[name].skipped is None and named[name].rows, name
        assert check_numbers(named[name], results) == [], name
    assert "61.0" in render.csv_text(named["topics"]) and "邻居" in render.csv_text(named["topics"])
    freq = render.csv_text(named["theme_frequencies"])
    assert "空间互嵌" in freq and "居民" in freq and "插花式安置/移民安置区" in freq and "12.0 (12)" in freq
    assert "0.790" in render.csv_text(named["coder_agreement"])


def test_model_tables_follow_the_specs_table_groups(demo, instrument):
    """A study whose specs use other table groups gets one regression table per group, in the
    order the groups first appear, captioned from report.model_tables (else by the outcome), and
    the later tables are numbered after them; a group that cannot name a file is an error."""
    results, settings = demo
    fits = results["models/fits.csv"].copy()
    fits["table"] = fits["table"].map({"participation": "main", "identity": "main", "robustness": "checks"})
    other = {**results, "models/fits.csv": fits}
    s = {**settings, "lang": "en", "model_tables": {"main": {"zh": "主要模型", "en": "Main models"}}}
    built = build_tables(other, instrument, s)
    keys = [t.key for t in built]
    assert keys[8:11] == ["table09_main_models", "table10_checks_models", "table11_mediation"]
    main = built[8]
    assert main.caption == "Main models"
    assert [c.text for c in main.header[1]] == ["", "(1)", "(2)", "(3)", "(4)", "(5)", "(6)"]
    checks = built[9]
    assert checks.caption == "Models of checks"                  # several outcomes, no caption given
    methods = [c.text for c in checks.header[2]]
    assert methods.index("OLS, imputed") == methods.index("OLS, complete cases") + 1   # I2 beside I2_mi
    for t in built:
        assert check_numbers(t, other, settings["stars"]) == [], t.key
    sections = table_sections(other)
    assert sections["table09_main_models"] == sections["table11_mediation"] == "models"
    bad = fits.assign(table=fits["table"].replace("checks", "稳健性"))
    with pytest.raises(PipelineError, match="table '稳健性' cannot name a table file"):
        build_tables({**results, "models/fits.csv": bad}, instrument, s)


def test_a_skipped_table_still_renders_in_every_format(instrument, tmp_path):
    t = table_topics({}, instrument, DEFAULTS, "table14_topics")
    assert t.skipped and "processed/topics/topics.csv" in t.skipped
    paths = render.write_table(t, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize(("label", "lang", "inside"), [
    ("Trust in neighbours", "en", "trust in neighbours"), ("Ethnicity", "en", "ethnicity"),
    ("SSB_CONSUMPTION", "en", "SSB_CONSUMPTION"),        # a variable name: an outside study's caption read 'sSB_...'
    ("HIV status", "en", "HIV status"), ("Q3", "en", "Q3"), ("x", "en", "x"), ("", "en", ""),
    ("Trust", "zh", "Trust"), ("社区参与", "zh", "社区参与"),
])
def test_a_label_inside_a_sentence_keeps_acronyms_and_names(label, lang, inside):
    from pipeline.render import locale

    assert locale.lower_first(label, lang) == inside


@pytest.mark.parametrize(("dims", "zh", "en"), [
    (["overall"], "主题频率", "Theme frequencies"),      # a study of documents: no roles, no communities
    (["overall", "role"], "按受访者角色的主题频率", "Theme frequencies by interviewee role"),
    (["overall", "role", "comm_type", "gov_model"], "按受访者角色、社区类型和治理模式的主题频率",
     "Theme frequencies by interviewee role, community type and governance model"),
])
def test_the_theme_frequency_caption_names_the_columns_it_has(demo, instrument, dims, zh, en):
    """An outside study of documents had only the column 'All' under the demo's caption 'by
    interviewee role and community type'."""
    from pipeline.render.tables.text import table_theme_frequencies

    results, settings = demo
    fr = results["coding/frequencies.csv"]
    mine = {**results, "coding/frequencies.csv": fr[fr["dimension"].isin(dims)].reset_index(drop=True)}
    for lang, caption in (("zh", zh), ("en", en)):
        table = table_theme_frequencies(mine, instrument, {**settings, "lang": lang}, "table16_theme_frequencies")
        assert table.caption == caption


def test_the_topics_table_says_what_the_texts_were_and_which_files_were_skipped(demo, instrument):
    """An outside study of documents skipped 3 files (empty, .doc, .pdf), said so on stderr and in
    skipped.csv only; the report did not say how many texts it analysed."""
    from pipeline.render.tables.text import corpus_note, table_topics

    results, settings = demo
    texts = results["transcripts/interviews.csv"]
    skipped = pd.DataFrame({"file": ["a1b2c3d4e5f6.doc", "0a1b2c3d4e5f.pdf", "ffeeddccbbaa.txt"],
                            "reason_code": ["unsupported_format", "unsupported_format", "empty"],
                            "reason": ["not a transcript format", "not a transcript format", "empty transcript"]})
    mine = {**results, "transcripts/skipped.csv": skipped}
    (zh,) = corpus_note(mine, "zh")
    assert zh.startswith(f"文本：分析{len(texts)}个文本，共{int(texts['n_units'].sum())}个单元、")
    assert zh.endswith("；跳过3个文件（不支持的格式 2、空文件 1）。")
    (en,) = corpus_note(mine, "en")
    assert en.endswith("; 3 files skipped (unsupported format 2, empty 1).")
    assert corpus_note({**results, "transcripts/skipped.csv": skipped.iloc[:0]}, "zh")[0].endswith("已替换为占位符。")
    assert corpus_note({k: v for k, v in results.items() if not k.startswith("transcripts/")}, "zh") == ()
    table = table_topics(mine, instrument, settings, "table14_topics")
    assert table.notes[0] == corpus_note(mine, settings["lang"])[0]


def test_the_overall_agreement_row_shows_alpha_with_its_own_interval(demo, instrument):
    """The overall row printed Krippendorff's α in the κ column with an empty interval (κ's,
    which the pooled row has not); its interval is α's bootstrap interval."""
    from pipeline.render.tables.text import table_agreement

    results, settings = demo
    ag = results["coding/agreement.csv"].set_index("theme")
    table = table_agreement(results, instrument, settings, "table17_coder_agreement")
    last = table.rows[-1].cells
    d = settings["decimals"]["fit"]
    assert last[2].text == f"{ag.at['overall', 'alpha']:.{d}f}"
    assert last[3].text == f"[{ag.at['overall', 'alpha_ci_low']:.{d}f}, {ag.at['overall', 'alpha_ci_high']:.{d}f}]"


def test_the_k_table_shows_the_score_the_rule_compares(demo, instrument):
    """A reviewer could not check the chosen K against the table (K 14 had the higher stability
    and the lower perplexity): the table now shows each K's score, blank where the K was not
    eligible, and the chosen K has the best score."""
    from pipeline.render.tables.text import table_k_selection

    results, settings = demo
    table = table_k_selection(results, instrument, settings, "table15_k_selection")
    head = [c.text for c in table.header[-1]]
    score, chosen = head.index("得分"), head.index("选定")
    shown = [(r.cells[score].text, r.cells[chosen].text) for r in table.rows]
    ks = results["topics/k_selection.csv"]
    assert [s == "" for s, _ in shown] == ks["score"].isna().tolist()
    best = max((float(s), c) for s, c in shown if s)
    assert best[1] == "✓"


def test_the_study_names_its_clusters(demo, instrument):
    """An outside study clustered in stores got 'Communities 60', 'Var(community intercept)' and
    'clustered by community': what a cluster is called is the study's (report.cluster_unit)."""
    from pipeline.render import locale
    from pipeline.render.tables.models import regression_table
    from pipeline.render.tables.text import corpus_note

    results, settings = demo
    models = ["P1", "P2", "P3"]

    def words(lang):
        t = regression_table(results, instrument, {**settings, "lang": lang}, "table09_models", "x", models)
        return [r.cells[0].text for r in t.rows if r.cells], " ".join(t.notes)

    assert settings_from_params({"report": {"title": {"zh": "t", "en": "t"}, "cluster_unit": {"zh": "学校", "en": "school"}}}
                                )["cluster_unit"] == {"zh": "学校", "en": "school", "en_plural": None}
    try:
        locale.use_cluster_unit(zh="学校", en="school")
        labels, notes = words("zh")
        assert "学校数" in labels and "学校截距方差" in labels and "社区数" not in labels and "学校" in notes
        labels, notes = words("en")
        assert "Schools" in labels and "Var(school intercept)" in labels and "Communities" not in labels
        assert "clustered by school" in notes and "school-level terms" in notes
        (note,) = corpus_note(results, "zh")                      # its {units} field is a count, not the clusters
        assert "学校" not in note and "个单元" in note
    finally:
        locale.use_cluster_unit()
    labels, _ = words("zh")
    assert "社区数" in labels


def test_an_estimate_is_printed_on_the_page_of_its_standard_error(built):
    """A reviewer's print of the HTML had a coefficient on one page and its standard error on the
    next: each estimate row is kept with the unlabelled row beneath it (print CSS: tr.lead)."""
    from pipeline.render.table import HTML_CSS, html_fragment

    assert "tr.lead { break-after: avoid" in HTML_CSS
    table = next(t for t in built["zh"] if t.key.startswith("table09"))
    body = html_fragment(table).split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr( class=\"lead\")?[^>]*>(.*?)</tr>", body, re.S)
    leads = [i for i, (lead, _) in enumerate(rows) if lead]
    first_cells = [re.search(r"<td[^>]*>(.*?)</td>", cells, re.S).group(1) for _, cells in rows]
    pairs = [i for i in range(len(rows) - 1) if first_cells[i] and not first_cells[i + 1]]
    assert leads and leads == pairs


def test_the_cfa_table_says_whom_its_n_counts(demo, instrument):
    """Table 6's N (1,103) is half the analysed sample (2,214), with no word why: the complete
    cases on the model's items, of how many."""
    from pipeline.render.tables.measurement import table_cfa_fit

    results, settings = demo
    table = table_cfa_fit(results, instrument, settings, "table06_cfa_fit")
    assert f"分析样本共{len(results['indices.parquet'])}人" in table.notes[-1]


def test_levels_are_indented_under_their_variable_in_html_too(built):
    """Table 2's response levels (男, 女; 初中 ...) were flush with their variable in the HTML
    (the leading spaces Word and Markdown show collapse in HTML)."""
    from pipeline.render.table import html_fragment

    table = next(t for t in built["zh"] if t.key.startswith("table02"))
    page = html_fragment(table)
    levels = [r.cells[0].text.strip() for r in table.rows if r.cells and r.cells[0].text.startswith(" ")]
    assert levels and all(re.search(rf'style="padding-left: [\d.]+em">{re.escape(lv)}</td>', page) for lv in levels)


def test_the_invariance_table_gives_each_groups_complete_cases(demo, instrument, demo_study):
    """A reviewer asked for Table 7's group sizes and estimator: the note names each group with
    its complete cases on the compared scales' items, counted here from the clean survey."""
    from pipeline.core import config
    from pipeline.render.tables.measurement import table_invariance

    results, settings = demo
    params = config.load_params(demo_study / "studies" / "demo" / "params.yaml")
    inv = params["measurement"]["invariance"]
    clean = pd.read_parquet(demo_study / "processed" / "survey_clean.parquet")
    group = instrument.role("group")
    items = [i for s in inv["scales"] for i in instrument.scales[s].items]
    whole = clean[clean[group].isin([float(c) for c in inv["groups"]]) & clean[items].notna().all(axis=1)]
    table = table_invariance(results, instrument, settings, "table07_invariance")
    expected = "、".join(f"{instrument.variables[group].value_labels('zh')[int(c)]} {int((whole[group] == c).sum())}"
                        for c in inv["groups"])
    assert table.notes[-1] == f"多组验证性因子分析，完整个案的最大似然估计：{expected}。"


def test_a_flagged_fit_is_said_under_its_table(demo, instrument):
    """An outside study with 6 countries had 'few clusters (G=6): cluster-robust standard errors are
    unreliable' in fits.csv only; the report showed the numbers without a word."""
    from pipeline.render.tables.models import regression_table

    results, settings = demo
    fits = results["models/fits.csv"].copy()
    flags = {"P1": "few clusters (G=6): cluster-robust standard errors are unreliable",
             "P2": "few clusters (G=6): cluster-robust standard errors are unreliable; not converged: the optimiser "
                   "stopped before the maximum; do not report these estimates",
             "P3": "boundary (singular) fit: a random-effect variance or correlation is estimated at its limit"}
    fits["status"] = [flags.get(m, s) for m, s in zip(fits["model"], fits["status"])]
    mine = {**results, "models/fits.csv": fits}
    zh = regression_table(mine, instrument, {**settings, "lang": "zh"}, "table09_x", "x", ["P1", "P2", "P3"]).notes
    assert "模型(1)、(2)：仅有6个社区；聚类如此之少时聚类稳健标准误不可靠。" in zh
    assert "模型(2)：估计未收敛，不应报告这些估计值。" in zh and any(n.startswith("模型(3)：边界（奇异）拟合") for n in zh)
    en = regression_table(mine, instrument, {**settings, "lang": "en"}, "table09_x", "x", ["P1", "P2", "P3"]).notes
    assert "Models (1), (2): only 6 communities; cluster-robust standard errors are unreliable with so few." in en
    clean = regression_table(results, instrument, settings, "table09_x", "x", ["P1", "P2", "P3"]).notes
    assert not any("仅有" in n or "未收敛" in n for n in clean)

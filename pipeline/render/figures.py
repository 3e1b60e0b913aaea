"""The report's figures: tidy frames and label dicts in, a matplotlib Figure out.

Every figure is drawn in one font the project controls: Noto Sans CJK SC 2.004 (SIL Open Font
License 1.1), from the pinned PyPI package ``noto-cjk-sans-otc`` that ``requirements.lock``
installs. :func:`use_cjk_font` registers that file with matplotlib by path and checks its
SHA-256, so no figure depends on the fonts a machine happens to have, and a missing glyph is a
bug the tests catch (matplotlib warns "Glyph ... missing from font(s)").

The figure functions are pure: they read the frames they are given, never modify them, write
nothing and return a :class:`matplotlib.figure.Figure` (not registered with pyplot). Titles
and axis labels are in Chinese (``lang="zh"``) or English (``"en"``); study labels (scales,
variables, value labels) come from the instrument through :func:`figure_labels`, the few words
of the figures themselves from :mod:`pipeline.render.locale`. :func:`save_figure` writes
``stem.png`` (300 dpi) and ``stem.svg`` (text as paths, so it renders without the font)
atomically, byte-identical on every run: no dates or software versions in the metadata, a fixed
SVG hash salt.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager, ft2font
from matplotlib.figure import Figure  # a Figure, not pyplot: nothing global, no display needed

from pipeline.core.errors import PipelineError
from pipeline.core.files import write_bytes
from pipeline.render import locale

# -- the font ------------------------------------------------------------------------------
FONT_PACKAGE = "noto_cjk_sans_otc"          # PyPI noto-cjk-sans-otc==0.0.1 (requirements.lock)
FONT_FILE = "NotoSansCJK-Regular.ttc"        # Noto Sans CJK 2.004, all ten faces
FONT_FAMILY = "Noto Sans CJK SC"             # the simplified-Chinese face of the collection
FONT_SHA256 = "b76b0433203017ca80401b2ee0dd69350349871c4b19d504c34dbdd80541690a"
FONT_HINT = "run `bash scripts/repro.sh` (or `.venv/bin/pip install -r requirements.lock`), which installs noto-cjk-sans-otc"

DPI = 300
LANGS = ("zh", "en")
FORMATS = ("png", "svg")

# Everything that makes the files byte-identical and self-contained; read at save time.
SAVE_RC = {
    "svg.hashsalt": "23NXBSH01",   # clip-path and glyph ids from a fixed salt, not a random one
    "svg.fonttype": "path",        # glyphs as paths: the SVG renders on a machine without the font
    "savefig.dpi": DPI,
    "savefig.facecolor": "white",
    "savefig.transparent": False,
}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}

K_METRICS = ("coherence_npmi", "exclusivity", "stability", "perplexity", "modularity")   # each drawn where it has values
TIMES = " × "
# Numbers are written one way in the figures, the tables and their notes: no thousands separators
# (N = 2482, as GB/T 15835 allows and the tables' decimal alignment needs), in both languages.
WRAP = {"zh": 16, "en": 32}   # characters per line of a long tick label
PALETTE = ("#1f5f8b", "#c2512f", "#3b8b4f", "#7a5195", "#b8860b", "#5f6b73")


def text(key: str, lang: str, **fmt: str) -> str:
    """One of the figures' own words in ``lang`` (:mod:`pipeline.render.locale`, section ``figures``)."""
    return locale.text(f"figures.{key}", _lang(lang), **fmt)


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise PipelineError(f"figure language '{lang}' is not supported", hint=f"use one of {list(LANGS)}")
    return lang


def default_font_path() -> Path:
    """The font file of the pinned package; a PipelineError naming the setup command if absent."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PipelineError(f"the CJK font package '{FONT_PACKAGE}' is not installed", hint=FONT_HINT)
    path = Path(next(iter(spec.submodule_search_locations))) / FONT_FILE
    if not path.is_file():
        raise PipelineError(f"{path}: the CJK font file is missing", hint=FONT_HINT)
    return path


def use_cjk_font(path: str | Path | None = None, family: str = FONT_FAMILY, sha256: str | None = None) -> str:
    """Register the project's CJK font with matplotlib by file path and return its family name.

    ``path=None`` is the pinned Noto Sans CJK file, checked against :data:`FONT_SHA256`;
    another file (e.g. a team's own font) is checked only against an explicit ``sha256``.
    The file's faces go to the front of matplotlib's font list, so a font of the same family
    installed on the machine never wins the match. Cheap to repeat; the figure functions call
    it themselves.
    """
    if path is None:
        path, sha256 = default_font_path(), sha256 or FONT_SHA256
    file = str(Path(path).resolve())
    _check_font_file(file, sha256)
    manager = font_manager.fontManager
    if file not in _REGISTERED:
        manager.addfont(file)
        _REGISTERED.add(file)
    ours = [f for f in manager.ttflist if f.fname == file]
    if manager.ttflist[:len(ours)] != ours:
        manager.ttflist = ours + [f for f in manager.ttflist if f.fname != file]
        manager._findfont_cached.cache_clear()  # the lookup cache would still hold the old order
    try:
        found = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    except ValueError:
        found = ""
    if str(found) != file:
        names = sorted({f.name for f in ours})
        raise PipelineError(f"{file}: has no font family '{family}'", hint=f"its families are {names}")
    return family


_REGISTERED: set[str] = set()


@lru_cache(maxsize=None)
def _check_font_file(path: str, sha256: str | None) -> None:
    file = Path(path)
    if not file.is_file():
        raise PipelineError(f"{file}: font file not found", hint=FONT_HINT)
    if sha256 is not None:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if digest != sha256:
            raise PipelineError(f"{file}: not the pinned font (sha256 {digest[:12]}…, expected {sha256[:12]}…)",
                                hint=FONT_HINT)
    try:
        ft2font.FT2Font(path)
    except (RuntimeError, OSError, ValueError) as exc:
        raise PipelineError(f"{file}: not a readable font file ({exc})", hint=FONT_HINT) from None


def _rc(family: str) -> dict[str, Any]:
    return {
        "font.family": [family],
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": True,
        "figure.dpi": 100,
        **SAVE_RC,
    }


def _figure(width: float, height: float, font: str | Path | None = None) -> tuple[Figure, dict[str, Any]]:
    """A new Figure (not tracked by pyplot) and the rc settings to build it under."""
    family = use_cjk_font(font)
    rc = _rc(family)
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, height), layout="constrained")
    return fig, rc


# -- saving --------------------------------------------------------------------------------
def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as PNG (300 dpi) or SVG bytes, the same bytes on every run."""
    if fmt not in FORMATS:
        raise PipelineError(f"figure format '{fmt}' is not supported", hint=f"use one of {list(FORMATS)}")
    buf = io.BytesIO()
    with matplotlib.rc_context(SAVE_RC):
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=METADATA[fmt])
    return buf.getvalue()


def figure_files(fig: Figure) -> tuple[bytes, bytes]:
    """The figure as PNG (300 dpi) and SVG bytes. The constrained layout is computed once, when the
    PNG is drawn, and the SVG is drawn at the same positions (the layout engine is then switched
    off): the two files show the same page, and the layout's text measuring, about a third of the
    drawing time, is not done twice."""
    png = figure_bytes(fig, "png")
    fig.set_layout_engine("none")
    return png, figure_bytes(fig, "svg")


def smallest_text(fig: Figure) -> float | None:
    """The size (pt, at the figure's own size) of its smallest visible text, after it has been
    drawn (saved) once; None if it has no text. The Word report scales a figure no further down
    than keeps this at 7 pt (:func:`pipeline.render.word.place_figure`)."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return float(min(sizes)) if sizes else None


def save_figure(fig: Figure, out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``out_dir/stem.png`` (300 dpi) and ``out_dir/stem.svg``; both are rendered before
    either is written, and each is renamed into place whole. Returns the two paths."""
    if not stem or "/" in stem or stem.startswith("."):
        raise PipelineError(f"figure name '{stem}' is not a plain file stem")
    data = dict(zip(FORMATS, figure_files(fig)))
    paths = []
    for fmt in FORMATS:
        path = Path(out_dir) / f"{stem}.{fmt}"
        write_bytes(path, data[fmt])
        paths.append(path)
    return paths


# -- labels --------------------------------------------------------------------------------
def figure_labels(instrument: Any, lang: str, derived: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every study label a figure needs, in one language, from the questionnaire.

    Returns ``{"lang", "scales", "variables", "values", "terms"}``: scale labels, variable
    labels (respondent and community variables), value labels ``{variable: {code: label}}``
    and labels of model terms (an interaction's parts joined by :func:`term_label`). ``derived`` is ``params.yaml: models.derived``: a derived
    indicator ``name: "var == code"`` is labelled with the value label of that code,
    ``"1 - var"`` with "not" and the variable's label, any other expression of one variable
    with that variable's label; an indicator ``"var == code"`` also gets value labels
    ``{0: "other <variable>", 1: <value label>}`` (the by-groups of the interaction plot).
    """
    lang = _lang(lang)
    variables = {**instrument.variables, **instrument.community_variables}
    scales = {name: s.label.get(lang) or name for name, s in instrument.scales.items()}
    var_labels = {name: v.label_in(lang) for name, v in variables.items()}
    values = {name: v.value_labels(lang) for name, v in variables.items() if v.values}
    terms: dict[str, str] = {**var_labels, **scales}
    for name, expr in (derived or {}).items():
        label = _derived_label(str(expr), var_labels, values, lang)
        if label:
            terms[name] = label
        match = re.fullmatch(r"\s*(\w+)\s*==\s*(-?\d+)\s*", str(expr))
        if label and match and match[1] in var_labels:   # an indicator: 1 the level, 0 all others
            values.setdefault(name, {0: text("other_of", lang, var=_lower_first(var_labels[match[1]], lang)), 1: label})
    for key in ("indirect", "direct", "total"):
        terms.setdefault(key, text(key, lang))
    return {"lang": lang, "scales": scales, "variables": var_labels, "values": values, "terms": terms}


_lower_first = locale.lower_first


def _derived_label(expr: str, var_labels: Mapping[str, str], values: Mapping[str, Mapping[int, str]],
                   lang: str) -> str | None:
    match = re.fullmatch(r"\s*(\w+)\s*==\s*(-?\d+)\s*", expr)
    if match and int(match[2]) in values.get(match[1], {}):
        return values[match[1]][int(match[2])]
    match = re.fullmatch(r"\s*1\s*-\s*(\w+)\s*", expr)
    if match and match[1] in var_labels:
        return text("not", lang) + _lower_first(var_labels[match[1]], lang)
    names = [n for n in re.findall(r"[A-Za-z_]\w*", expr) if n in var_labels]
    return var_labels[names[0]] if len(set(names)) == 1 else None


def term_label(term: str, labels: Mapping[str, str] | None) -> str:
    """A model term in words; an interaction ``a:b`` as ``label(a) × label(b)``."""
    labels = labels or {}
    return TIMES.join(labels.get(part, part) for part in str(term).split(":"))


def _wrap(label: str, lang: str) -> str:
    """A long tick label on several lines (Chinese has no spaces: it breaks between characters)."""
    width = WRAP[lang]
    if len(label) <= width:
        return label
    return "\n".join(textwrap.wrap(label, width=width, break_long_words=True, break_on_hyphens=False))


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PipelineError(f"{what}: no column(s) {missing}", hint=f"columns are {list(df.columns)}")
    if df.empty:
        raise PipelineError(f"{what}: no rows to plot")


def _code_labels(labels: Mapping[Any, str] | None) -> dict[str, str]:
    """Value labels keyed by the code's text, so 1, 1.0 and "1" find the same label."""
    return {_code_key(k): v for k, v in (labels or {}).items()}


def _code_key(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else str(number)


# -- 1. coefficient plot -------------------------------------------------------------------
def hypothesis_rows(hypotheses: pd.DataFrame, coefficients: pd.DataFrame | None = None,
                    alternatives: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """The rows of the coefficient plot: one per hypothesis (``hypotheses.csv``) plus, for a
    hypothesis read off model M, the same term in each model of ``alternatives[M]`` that has it
    in ``coefficients.csv`` (e.g. ``{"I2": ["I3", "R2"], "P2": ["P3"]}``: the random-intercept
    and weighted fits of the same specification beside the main one).
    Columns: hypothesis, model, term, estimate, conf_low, conf_high."""
    cols = ["hypothesis", "model", "term", "estimate", "conf_low", "conf_high"]
    _require(hypotheses, cols, "hypotheses")
    rows = [hypotheses[cols]]
    if coefficients is not None and alternatives:
        _require(coefficients, cols[1:], "coefficients")
        for hyp in hypotheses.itertuples(index=False):
            models = list(alternatives.get(hyp.model, ()))
            extra = coefficients[coefficients["model"].isin(models) & (coefficients["term"] == hyp.term)]
            extra = extra.sort_values("model", key=lambda s: s.map(models.index), kind="stable")
            rows.append(extra[cols[1:]].assign(hypothesis=hyp.hypothesis)[cols])
    out = pd.concat(rows, ignore_index=True)
    order = {h: i for i, h in enumerate(hypotheses["hypothesis"])}
    return out.sort_values("hypothesis", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def coefficient_plot(rows: pd.DataFrame, lang: str = "zh", term_labels: Mapping[str, str] | None = None,
                     model_labels: Mapping[str, str] | None = None, title: str | None = None,
                     font: str | Path | None = None) -> Figure:
    """Estimates and 95 % intervals of the hypotheses (``hypotheses.csv`` or
    :func:`hypothesis_rows`): one line per hypothesis, its models side by side, one colour per
    model label (``model_labels``: model id -> e.g. "OLS", "random intercept"; models with the
    same label share a colour). A filled marker is an interval that excludes zero."""
    lang = _lang(lang)
    _require(rows, ["hypothesis", "model", "term", "estimate", "conf_low", "conf_high"], "coefficient rows")
    model_labels = model_labels or {}
    data = rows.assign(series=[model_labels.get(m, str(m)) for m in rows["model"]])
    hyps = list(dict.fromkeys(data["hypothesis"]))
    series = list(dict.fromkeys(data["series"]))
    widest = int(data.groupby("hypothesis", sort=False).size().max())
    step = min(0.22, 0.7 / widest)
    y = np.empty(len(data))
    for h_i, hyp in enumerate(hyps):
        where = np.flatnonzero(data["hypothesis"].to_numpy() == hyp)
        y[where] = len(hyps) - 1 - h_i + ((len(where) - 1) / 2 - np.arange(len(where))) * step
    est, lo, hi = (data[c].to_numpy(dtype=float) for c in ("estimate", "conf_low", "conf_high"))
    fig, rc = _figure(6.4, 0.25 * len(data) + 0.35 * len(hyps) + 1.2, font)
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        for s_i, name in enumerate(series):
            mask = (data["series"] == name).to_numpy()
            color = PALETTE[s_i % len(PALETTE)]
            ax.hlines(y[mask], lo[mask], hi[mask], color=color, linewidth=1.4)
            filled = mask & ((lo > 0) | (hi < 0))
            ax.scatter(est[filled], y[filled], color=color, edgecolor=color, s=22, zorder=3)
            ax.scatter(est[mask & ~filled], y[mask & ~filled], facecolor="white", edgecolor=color, s=22, zorder=3)
            ax.plot([], [], color=color, marker="o", markersize=4.5, linewidth=1.4, label=name)
        ax.axvline(0, color="0.4", linewidth=0.8, linestyle="--")
        first = data.drop_duplicates("hypothesis").set_index("hypothesis")["term"]
        ax.set_yticks(range(len(hyps)))
        ax.set_yticklabels([_wrap(f"{h}  {term_label(first[h], term_labels)}", lang) for h in reversed(hyps)])
        ax.set_ylim(-0.5 - (widest - 1) * step / 2 - 0.1, len(hyps) - 0.5 + (widest - 1) * step / 2 + 0.1)
        ax.set_xlabel(text("estimate_ci", lang))
        ax.set_title(title or text("hypotheses", lang))
        if len(series) > 1:
            ax.legend(title=text("model", lang), frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


# -- 2. index distributions by group -------------------------------------------------------
def index_distributions(indices: pd.DataFrame, scales: Mapping[str, str], group: str,
                        group_labels: Mapping[Any, str] | None = None, lang: str = "zh",
                        group_title: str | None = None, font: str | Path | None = None) -> Figure:
    """The distribution of each index (``scales``: column -> label, e.g.
    ``figure_labels(...)["scales"]``) by ``group`` (e.g. ethnicity, value labels from the
    instrument): one panel per index, one box per group (quartiles, whiskers at 1.5 IQR,
    the mean as a diamond), the group sizes under the boxes. Rows without a group are left out."""
    lang = _lang(lang)
    _require(indices, [group, *scales], "indices")
    labels = _code_labels(group_labels)
    data = indices[[group, *scales]].dropna(subset=[group])
    codes = sorted(data[group].unique(), key=lambda v: (float(v) if _numeric(v) else np.inf, str(v)))
    ncols = min(len(scales), 5)
    nrows = int(np.ceil(len(scales) / ncols))
    fig, rc = _figure(1.2 + 1.7 * ncols, 2.6 * nrows + 0.4, font)
    with matplotlib.rc_context(rc):
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
        for ax, (column, label) in zip(axes, scales.items()):
            groups = [data.loc[data[group] == code, column].to_numpy(dtype=float) for code in codes]
            groups = [x[np.isfinite(x)] for x in groups]
            ticks = [f"{labels.get(_code_key(c), _code_key(c))}\nn={x.size}" for c, x in zip(codes, groups)]
            parts = ax.boxplot(groups, tick_labels=ticks, widths=0.6, showmeans=True, patch_artist=True,
                               medianprops={"color": "black", "linewidth": 1.2},
                               meanprops={"marker": "D", "markersize": 3.5, "markerfacecolor": "white",
                                          "markeredgecolor": "black"},
                               flierprops={"marker": "o", "markersize": 2, "alpha": 0.4})
            for g_i, box in enumerate(parts["boxes"]):
                box.set_facecolor(PALETTE[g_i % len(PALETTE)] + "55")
                box.set_edgecolor(PALETTE[g_i % len(PALETTE)])
            ax.set_title(label)
        for ax in axes[::ncols]:                 # the shared y axis of each row: the scale's score
            ax.set_ylabel(text("index_score", lang))
        for ax in axes[len(scales):]:
            ax.set_axis_off()
        fig.suptitle(text("index_by_group", lang, group=_lower_first(group_title, lang)) if group_title else
                     text("index_whole", lang))
    return fig


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


# -- 3. interaction plot -------------------------------------------------------------------
def interaction_plot(predictions: pd.DataFrame, x: str, by: str, lang: str = "zh",
                     x_label: str | None = None, y_label: str | None = None, by_title: str | None = None,
                     by_labels: Mapping[Any, str] | None = None, font: str | Path | None = None) -> Figure:
    """Predicted outcome over ``x`` for each level of ``by`` with 95 % bands
    (``processed/models/predictions.csv``: x, by, estimate, conf_low, conf_high)."""
    lang = _lang(lang)
    _require(predictions, [x, by, "estimate", "conf_low", "conf_high"], "predictions")
    labels = _code_labels(by_labels)
    fig, rc = _figure(4.6, 3.4, font)
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        for i, (level, sub) in enumerate(predictions.sort_values([by, x]).groupby(by, sort=True)):
            color = PALETTE[i % len(PALETTE)]
            xs = sub[x].to_numpy(dtype=float)
            ax.fill_between(xs, sub["conf_low"].to_numpy(dtype=float), sub["conf_high"].to_numpy(dtype=float),
                            color=color, alpha=0.18, linewidth=0)
            ax.plot(xs, sub["estimate"].to_numpy(dtype=float), color=color, linewidth=1.6,
                    label=labels.get(_code_key(level), _code_key(level)))
        ax.set_xlabel(x_label or x)
        ax.set_ylabel(text("predicted", lang, y=_lower_first(y_label or "y", lang)))
        ax.set_title(text("interaction", lang, x=_lower_first(x_label or x, lang),
                          by=_lower_first(by_title or by, lang)))
        ax.legend(title=by_title or by, frameon=False, loc="best")
    return fig


# -- 4. topic prevalence by a factor -------------------------------------------------------
def topic_prevalence_plot(prevalence: pd.DataFrame, factor: str, lang: str = "zh",
                          factor_title: str | None = None, level_labels: Mapping[Any, str] | None = None,
                          topic_labels: Mapping[Any, str] | None = None, font: str | Path | None = None) -> Figure:
    """Estimated prevalence of each topic at each level of ``factor`` with 95 % intervals
    (frame: topic, factor, level, estimate, ci_low, ci_high; rows of other factors are left out)."""
    lang = _lang(lang)
    _require(prevalence, ["topic", "factor", "level", "estimate", "ci_low", "ci_high"], "topic prevalence")
    rows = prevalence[prevalence["factor"] == factor]
    if rows.empty:
        raise PipelineError(f"topic prevalence: no rows for factor '{factor}'",
                            hint=f"factors are {sorted(map(str, prevalence['factor'].unique()))}")
    topics = list(dict.fromkeys(rows["topic"]))
    levels = list(dict.fromkeys(rows["level"]))
    t_labels, l_labels = _code_labels(topic_labels), _code_labels(level_labels)
    fig, rc = _figure(7.5, 0.32 * len(topics) * max(1, len(levels) / 2) + 1.5, font)
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        step = 0.7 / max(len(levels), 1)
        for l_i, level in enumerate(levels):
            sub = rows[rows["level"] == level]
            y = np.array([len(topics) - 1 - topics.index(t) for t in sub["topic"]], dtype=float)
            y += (len(levels) - 1) / 2 * step - l_i * step
            color = PALETTE[l_i % len(PALETTE)]
            ax.hlines(y, sub["ci_low"].to_numpy(dtype=float), sub["ci_high"].to_numpy(dtype=float),
                      color=color, linewidth=1.4)
            ax.scatter(sub["estimate"].to_numpy(dtype=float), y, color=color, s=18, zorder=3,
                       label=l_labels.get(_code_key(level), _code_key(level)))
        ax.set_yticks(range(len(topics)))
        ax.set_yticklabels([_wrap(t_labels.get(_code_key(t), f"{text('topic', lang)} {_code_key(t)}"), lang)
                            for t in reversed(topics)])
        ax.set_ylim(-0.6, len(topics) - 0.4)
        ax.set_xlabel(text("prevalence", lang))
        ax.set_title(text("prevalence_by", lang, factor=_lower_first(factor_title or factor, lang)))
        ax.legend(title=factor_title or factor, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


# -- 5. K-selection curves -----------------------------------------------------------------
def k_selection_plot(selection: pd.DataFrame, lang: str = "zh", model_labels: Mapping[str, str] | None = None,
                     metrics: Sequence[str] = K_METRICS, font: str | Path | None = None) -> Figure:
    """Model-selection criteria over the number of topics (frame: model, k, one column per
    metric, chosen), one panel per metric that has any value, one line per model; the chosen
    K of each model is ringed."""
    lang = _lang(lang)
    _require(selection, ["model", "k", "chosen"], "K selection")
    shown = [m for m in metrics if m in selection.columns and selection[m].notna().any()]
    if not shown:
        raise PipelineError("K selection: no metric has a value", hint=f"expected some of {list(metrics)}")
    models = list(dict.fromkeys(selection["model"]))
    model_labels = model_labels or {}
    ncols = min(2, len(shown))
    nrows = int(np.ceil(len(shown) / ncols))
    fig, rc = _figure(3.0 * ncols, 2.3 * nrows + 0.5, font)
    with matplotlib.rc_context(rc):
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, metric in zip(axes, shown):
            for m_i, model in enumerate(models):
                sub = selection[(selection["model"] == model) & selection[metric].notna()].sort_values("k")
                if sub.empty:
                    continue
                color = PALETTE[m_i % len(PALETTE)]
                ax.plot(sub["k"].to_numpy(dtype=float), sub[metric].to_numpy(dtype=float), marker="o",
                        markersize=3, color=color, linewidth=1.3, label=model_labels.get(model, str(model)))
                chosen = sub[sub["chosen"].astype(bool)]
                ax.scatter(chosen["k"].to_numpy(dtype=float), chosen[metric].to_numpy(dtype=float), s=90,
                           facecolor="none", edgecolor=color, linewidth=1.4, zorder=3)
            ax.set_title(text(metric, lang) if metric in locale.phrases("figures", lang) else metric)
            ax.set_xlabel(text("k", lang))
            ax.xaxis.get_major_locator().set_params(integer=True)
        for ax in axes[len(shown):]:
            ax.set_axis_off()
        axes[0].legend(frameon=False, loc="best", title=f"○ {text('chosen', lang)}")
        fig.suptitle(text("k_selection", lang))
    return fig


def k_criteria(selection: pd.DataFrame | None, lang: str = "zh", metrics: Sequence[str] = K_METRICS) -> str:
    """The criteria :func:`k_selection_plot` draws (those with a value), as Figure 6's caption
    names them: "coherence, exclusivity, stability and perplexity" for the mixture models;
    docvec has modularity and no perplexity."""
    lang = _lang(lang)
    names = text("k_criteria", lang)
    shown = [m for m in metrics if selection is not None and m in selection.columns and selection[m].notna().any()]
    words = [names[m] for m in shown] or [names[m] for m in metrics if m != "modularity"]
    if len(words) == 1:
        return words[0]
    return text("k_criteria_sep", lang).join(words[:-1]) + text("k_criteria_last", lang) + words[-1]


# -- 6. sample flow ------------------------------------------------------------------------
def sample_flow_plot(flow: pd.DataFrame, lang: str = "zh", font: str | Path | None = None) -> Figure:
    """The sample flow (``processed/sample_flow.csv``: step, label_zh/label_en, flagged,
    excluded, remaining) as a CONSORT-style diagram: the first row (raw submissions) at the
    top, each exclusion rule to the side with its count, the last row (analysed) at the bottom."""
    lang = _lang(lang)
    label_col = f"label_{lang}"
    _require(flow, ["step", label_col, "flagged", "excluded", "remaining"], "sample flow")
    if len(flow) < 2:
        raise PipelineError("sample flow: needs a first (raw) and a last (analysed) row")
    rows = flow.sort_values("step").reset_index(drop=True)
    steps = rows.iloc[1:-1]
    n = len(steps)
    fig, rc = _figure(6.4, 0.62 * (n + 2) + 0.6, font)
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.5, n + 1.5)
        main = {"boxstyle": "round,pad=0.4", "facecolor": "#e8eef4", "edgecolor": "#1f5f8b"}
        side = {"boxstyle": "round,pad=0.35", "facecolor": "#fbeee9", "edgecolor": "#c2512f"}
        top, bottom = rows.iloc[0], rows.iloc[-1]
        y_top, y_bottom = n + 1, 0
        ax.text(0.25, y_top, f"{top[label_col]}\nN = {int(top['remaining'])}", ha="center", va="center", bbox=main,
                linespacing=1.4)
        ax.text(0.25, y_bottom, f"{bottom[label_col]}\nN = {int(bottom['remaining'])}", ha="center",
                va="center", bbox=main, linespacing=1.4)
        ax.annotate("", xy=(0.25, y_bottom + 0.45), xytext=(0.25, y_top - 0.45),
                    arrowprops={"arrowstyle": "-|>", "color": "#1f5f8b", "linewidth": 1.2})
        for i, row in enumerate(steps.itertuples(index=False)):
            y = n - i
            note = f"n = {int(row.excluded)}"
            if int(row.flagged) != int(row.excluded):
                note += text("flagged_count", lang, flagged=text("flagged", lang), n=f"{int(row.flagged)}")
            ax.annotate("", xy=(0.49, y), xytext=(0.25, y),
                        arrowprops={"arrowstyle": "-|>", "color": "#c2512f", "linewidth": 1.0})
            ax.text(0.5, y, f"{getattr(row, label_col)}\n{note}", ha="left", va="center", bbox=side, linespacing=1.4)
            if i < n - 1:  # the number left after this rule (after the last one: the bottom box)
                ax.text(0.235, y - 0.5, f"N = {int(row.remaining)}", ha="right", va="center", color="#1f5f8b")
        ax.set_title(text("sample_flow", lang))
    return fig

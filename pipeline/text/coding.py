"""Deductive coding of interview units with a codebook (the coding stage, docs/coding.md has the
rules in full).

1. :func:`load_codebook` reads and validates the study's codebook (``config/codebook.yaml``):
   the themes (id, code, names, definition, ``include`` regular expressions with weights,
   ``exclude`` expressions, examples) and the ``non_substantive`` expressions of spoken filler.
2. :func:`score_texts`: per unit and theme the summed weight of the distinct include patterns
   found in the redacted text (0 when an exclude pattern of that theme matches).
3. :func:`code_units`: a theme is coded when its score reaches ``min_score`` and
   ``relative`` x the unit's best score (multi-label). Context rule (switchable,
   ``coding.context``): a substantive unit without any code takes its turn's dominant theme,
   the theme with the largest summed score over the turn's units plus ``question_weight`` x the
   score of the interviewer's question before the turn (a follow-up probe without a theme of
   its own continues the previous turn's theme). Units without content tokens are flagged
   ``empty``, filler (``non_substantive`` or fewer than ``min_tokens`` content tokens) is
   ``filler``; neither is coded. :func:`aggregate_turns` gives turn-level codes.
4. Human codes: :func:`read_human_codes` reads and validates a filled coder sheet (the
   agreement statistics are in :mod:`pipeline.stats.agreement`).
5. Tidy tables: :func:`frequencies` (overall and by the ``dimensions``), :func:`cooccurrence`,
   and :func:`coder_sample`, a blank seeded sheet for human coders stratified by role.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError
from pipeline.core.files import read_csv_strings
from pipeline.core.schema import parse
from pipeline.core.settings import Coding as CodingSection

UNITS_NEEDED = ("unit_id", "interview_id", "role", "turn", "sentence", "text", "n_tokens")   # of units.parquet (text/units.py), and the community column
SOURCES = ("direct", "context", "uncoded", "filler", "skipped", "empty")
STREAM_SAMPLE = 82    # SeedSequence stream of the coder sample
SHEET_FIXED = ("unit_id", "interview_id", "role", "text")
SHEET_TAIL = ("coder", "notes")


# --------------------------------------------------------------------------------------------
# the codebook
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pattern:
    source: str
    regex: re.Pattern
    weight: float = 1.0


@dataclass(frozen=True)
class Theme:
    id: int
    code: str
    zh: str
    en: str
    definition: str
    include: tuple[Pattern, ...]
    exclude: tuple[Pattern, ...] = ()
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codebook:
    themes: tuple[Theme, ...]
    non_substantive: tuple[Pattern, ...] = ()
    skip_questions: tuple[Pattern, ...] = ()
    version: str = ""

    @property
    def codes(self) -> list[str]:
        return [t.code for t in self.themes]


def _compile(pattern: Any, where: str, path: Path) -> Pattern:
    weight = 1.0
    if isinstance(pattern, Mapping):
        if "pattern" not in pattern:
            raise PipelineError(f"{path}: {where}: an entry {dict(pattern)} has no 'pattern'",
                                hint="write {pattern: '...', weight: 2} or a plain string")
        weight = pattern.get("weight", 1.0)
        pattern = pattern["pattern"]
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not weight > 0:
            raise PipelineError(f"{path}: {where}: pattern {pattern!r} has weight {weight!r}",
                                hint="weights are positive numbers")
    if not isinstance(pattern, str) or not pattern.strip():
        raise PipelineError(f"{path}: {where}: pattern {pattern!r} is not a non-empty string")
    try:
        return Pattern(pattern, re.compile(pattern), float(weight))
    except re.error as exc:
        raise PipelineError(f"{path}: {where}: pattern {pattern!r} is not a valid regular expression ({exc})",
                            hint="check brackets and escapes (Python re syntax)") from None


def parse_codebook(raw: Any, path: str | Path = "codebook") -> Codebook:
    """A codebook mapping (the YAML file's content) checked and compiled."""
    path = Path(path)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("themes"), list) or not raw["themes"]:
        raise PipelineError(f"{path}: expected a mapping with a non-empty list 'themes'",
                            hint="see config/codebook.yaml for the layout")
    themes: list[Theme] = []
    seen_ids: set[int] = set()
    seen_codes: set[str] = set()
    for i, t in enumerate(raw["themes"]):
        if not isinstance(t, Mapping):
            raise PipelineError(f"{path}: theme number {i + 1} is not a mapping")
        name = t.get("code") or f"number {i + 1}"
        for key in ("id", "code", "definition"):
            if key not in t or t[key] in (None, ""):
                raise PipelineError(f"{path}: theme {name} has no '{key}'")
        tid, code = t["id"], str(t["code"])
        if not isinstance(tid, int) or isinstance(tid, bool) or tid < 1:
            raise PipelineError(f"{path}: theme {code} has id {tid!r}", hint="ids are positive integers")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", code):
            raise PipelineError(f"{path}: theme code {code!r} is not a plain identifier",
                                hint="codes become column names: letters, digits, underscore")
        if tid in seen_ids or code in seen_codes:
            raise PipelineError(f"{path}: theme {code} (id {tid}) repeats an id or code")
        seen_ids.add(tid)
        seen_codes.add(code)
        include = t.get("include") or []
        if not isinstance(include, list) or not include:
            raise PipelineError(f"{path}: theme {code} (id {tid}) has no include patterns",
                                hint="a theme needs at least one keyword or regular expression under 'include'")
        exclude = t.get("exclude") or []
        if not isinstance(exclude, list):
            raise PipelineError(f"{path}: theme {code}: 'exclude' must be a list")
        names = t.get("name") or {}
        themes.append(Theme(
            id=tid, code=code, zh=str(names.get("zh", "")), en=str(names.get("en", "")),
            definition=" ".join(str(t["definition"]).split()),
            include=tuple(_compile(p, f"theme {code} include", path) for p in include),
            exclude=tuple(_compile(p, f"theme {code} exclude", path) for p in exclude),
            examples=tuple(str(e) for e in (t.get("examples") or []))))
    filler = raw.get("non_substantive") or []
    if not isinstance(filler, list):
        raise PipelineError(f"{path}: 'non_substantive' must be a list of patterns")
    skip = raw.get("skip_questions") or []
    if not isinstance(skip, list):
        raise PipelineError(f"{path}: 'skip_questions' must be a list of patterns")
    return Codebook(themes=tuple(sorted(themes, key=lambda th: th.id)),
                    non_substantive=tuple(_compile(p, "non_substantive", path) for p in filler),
                    skip_questions=tuple(_compile(p, "skip_questions", path) for p in skip),
                    version=str(raw.get("version", "")))


def load_codebook(path: str | Path) -> Codebook:
    path = Path(path)
    raw = config.read_yaml(path, "codebook", "set coding.codebook in params.yaml")
    return parse_codebook(raw, path)


def codebook_table(codebook: Codebook) -> pd.DataFrame:
    """The codebook as a tidy table (one row per theme) for the report."""
    return pd.DataFrame([{"theme": t.id, "code": t.code, "name_zh": t.zh, "name_en": t.en,
                          "definition": t.definition, "n_include": len(t.include), "n_exclude": len(t.exclude),
                          "include": " | ".join(p.source for p in t.include),
                          "examples": " | ".join(t.examples)} for t in codebook.themes])


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """``params.yaml: coding`` as the computation needs it; made by :func:`parse_settings` (the
    defaults are written once, in :class:`pipeline.core.settings.Coding`)."""
    codebook: str
    min_score: float
    relative: float
    context: bool
    context_weight: float
    min_tokens: int
    question_weight: float
    human_codes: str | None
    dimensions: tuple[str, ...]    # frequencies by these columns besides overall (study variables: params.yaml)
    covariates: tuple[str, ...]    # community columns joined to the codes (params.yaml: coding.covariates)
    replications: int
    level: float
    sample_size: int
    sample_strata: str
    turns: bool


def parse_settings(section: Mapping[str, Any] | CodingSection | None = None, **changes: Any) -> Settings:
    """:class:`Settings` from ``params.yaml: coding``, checked and with its defaults filled by the
    one description of the section, :class:`pipeline.core.settings.Coding`; ``human_codes``
    ``""`` or ``none`` mean no human codes; then ``changes`` (tests)."""
    s = section if isinstance(section, CodingSection) else parse(CodingSection, dict(section or {}), "coding")
    human = None if s.human_codes in (None, "", "none") else s.human_codes
    return replace(Settings(codebook=s.codebook, min_score=float(s.decision.min_score), relative=float(s.decision.relative),
                    context=s.context.inherit, context_weight=float(s.context.weight), min_tokens=s.context.min_tokens,
                    question_weight=float(s.context.question_weight), human_codes=human,
                    dimensions=tuple(s.dimensions), covariates=tuple(s.covariates),
                    replications=s.agreement.replications, level=float(s.agreement.level),
                    sample_size=s.sample.n, sample_strata=s.sample.strata, turns=s.turns), **changes)


# --------------------------------------------------------------------------------------------
# coding
# --------------------------------------------------------------------------------------------
def score_texts(texts: Sequence[str], codebook: Codebook) -> np.ndarray:
    """Scores (len(texts) x themes): the summed weights of the distinct include patterns found;
    0 for a theme when one of its exclude patterns matches. Each distinct text is scored once
    (a score depends on the text alone; spoken units repeat: 65,221 distinct texts among the
    benchmark study's 484,495 units)."""
    codes, distinct = pd.factorize(pd.Series([t if isinstance(t, str) else "" for t in texts], dtype=object),
                                   use_na_sentinel=False)
    return _score_distinct(list(distinct), codebook)[codes] if len(texts) else np.zeros((0, len(codebook.themes)))


def _score_distinct(texts: list[str], codebook: Codebook) -> np.ndarray:
    out = np.zeros((len(texts), len(codebook.themes)))
    for i, text in enumerate(texts):
        for j, th in enumerate(codebook.themes):
            if any(p.regex.search(text) for p in th.exclude):
                continue
            out[i, j] = sum(p.weight for p in th.include if p.regex.search(text))
    return out


def decide(scores: np.ndarray, min_score: float, relative: float) -> np.ndarray:
    """0/1 codes: score >= min_score and >= relative x the row's best score."""
    best = scores.max(axis=1, keepdims=True) if scores.size else scores
    return ((scores >= min_score) & (scores >= relative * best) & (scores > 0)).astype(np.int8)


def is_filler(texts: Sequence[str], n_tokens: Sequence[int], codebook: Codebook, min_tokens: int) -> np.ndarray:
    """Units too short (fewer than ``min_tokens`` tokens) or matching a ``non_substantive``
    pattern (each distinct text searched once)."""
    pats = [p.regex for p in codebook.non_substantive]
    codes, distinct = pd.factorize(pd.Series([t or "" for t in texts], dtype=object), use_na_sentinel=False)
    matched = np.array([any(p.search(t) for p in pats) for t in distinct], dtype=bool)
    return (np.asarray(n_tokens) < min_tokens) | (matched[codes] if len(texts) else np.zeros(0, dtype=bool))


def _turn_key(df: pd.DataFrame) -> pd.Series:
    return df["interview_id"].astype(str) + ":" + df["turn"].astype(int).astype(str)


def code_units(units: pd.DataFrame, codebook: Codebook, settings: Settings,
               questions: pd.DataFrame | None = None, community: str | None = None) -> pd.DataFrame:
    """One row per unit: the unit's identifiers (with the ``community`` column when given: the
    units' community id column), a 0/1 column per theme code, ``n_codes`` and
    ``source``: direct (coded through its own pattern hits), context (coded through its turn
    only), uncoded, filler (non-substantive talk), empty (no content tokens), skipped (a turn
    that answers an opening or closing question of the interview). Units are not modified.

    Decision: adjusted score = own score + ``context_weight`` x the turn's context (the other
    units' summed scores plus ``question_weight`` x the question's, scaled to a maximum of 1; a
    probe turn without any signal continues the previous turn); a theme is coded when its
    adjusted score reaches ``min_score`` and ``relative`` x the unit's best adjusted score, and
    it has an own hit or the context rule is on."""
    missing = [c for c in (*UNITS_NEEDED, *([community] if community else [])) if c not in units.columns]
    if missing:
        raise PipelineError(f"transcript units: no column(s) {missing}", hint="rerun the transcripts stage")
    u = units.reset_index(drop=True)
    texts = u["text"].fillna("").astype(str).tolist()
    ntok = pd.to_numeric(u["n_tokens"], errors="coerce").fillna(0).astype(int).to_numpy()
    own = score_texts(texts, codebook)
    empty = ntok <= 0
    skipped = skipped_turns(u, codebook, questions) & ~empty
    filler = is_filler(texts, ntok, codebook, settings.min_tokens) & ~empty & ~skipped & (own.max(axis=1) < settings.min_score)
    active = ~(empty | skipped | filler)
    own = own * active[:, None]
    ctx = turn_context(u, own, codebook, settings, questions) if settings.context else np.zeros_like(own)
    adjusted = own + settings.context_weight * ctx * active[:, None]
    codes = decide(adjusted, settings.min_score, settings.relative)
    if not settings.context:
        codes &= (own > 0).astype(np.int8)
    direct = (codes.astype(bool) & (own > 0)).any(axis=1)
    source = np.where(direct, "direct", np.where(codes.any(axis=1), "context", "uncoded")).astype(object)
    source[filler] = "filler"
    source[skipped] = "skipped"
    source[empty] = "empty"
    out = u[["unit_id", "interview_id", *([community] if community else []), "role", "turn", "sentence"]].copy()
    for j, th in enumerate(codebook.themes):
        out[th.code] = codes[:, j].astype(np.int8)
    out["n_codes"] = codes.sum(axis=1).astype(int)
    out["source"] = source.astype(str)
    return out


def skipped_turns(units: pd.DataFrame, codebook: Codebook, questions: pd.DataFrame | None) -> np.ndarray:
    """Units of turns whose interviewer question matches the codebook's ``skip_questions``
    (consent, self-introduction, closing): not part of the coded material."""
    if questions is None or not len(questions) or not codebook.skip_questions:
        return np.zeros(len(units), dtype=bool)
    pats = [p.regex for p in codebook.skip_questions]
    q = questions[[any(p.search(t or "") for p in pats) for t in questions["text"].fillna("").astype(str)]]
    keys = set(q["interview_id"].astype(str) + ":" + q["before_turn"].astype(int).astype(str))
    return _turn_key(units).isin(keys).to_numpy()


def turn_context(units: pd.DataFrame, own: np.ndarray, codebook: Codebook, settings: Settings,
                 questions: pd.DataFrame | None) -> np.ndarray:
    """Per unit and theme the context of its turn, scaled to a maximum of 1 per unit: the summed
    own scores of the turn's other units plus ``question_weight`` x the score of the interviewer's
    question before the turn. A turn with no signal at all whose question has no theme (a
    follow-up probe such as 能举个例子吗) continues the previous turn's context."""
    keys = _turn_key(units).to_numpy()
    turn_sum = pd.DataFrame(own).groupby(keys, sort=False).transform("sum").to_numpy()
    qmat = np.zeros_like(own)
    if questions is not None and len(questions) and settings.question_weight > 0:
        q = questions[questions["before_turn"].astype(int) > 0]
        qs = score_texts(q["text"].fillna("").astype(str).tolist(), codebook)
        qkeys = (q["interview_id"].astype(str) + ":" + q["before_turn"].astype(int).astype(str)).to_numpy()
        qframe = pd.DataFrame(qs).groupby(qkeys).sum()
        idx = qframe.index.get_indexer(keys)
        has = idx >= 0
        qmat[has] = qframe.to_numpy()[idx[has]]
    signal = turn_sum + settings.question_weight * qmat          # the whole turn
    ctx = signal - own                                           # leave the unit itself out
    # probes without a signal continue the previous turn of the interview
    turn_signal = pd.DataFrame(signal).groupby(keys, sort=False).first()
    order = units[["interview_id", "turn"]].drop_duplicates().sort_values(["interview_id", "turn"])
    row = turn_signal.index.get_indexer(_turn_key(order).to_numpy())    # each turn's signal row
    silent = turn_signal.to_numpy().max(axis=1) <= 0
    interview = order["interview_id"].astype(str).to_numpy()
    source = row.copy()                        # the row whose signal each turn (in order) carries
    for t in range(1, len(row)):
        if silent[row[t]] and interview[t] == interview[t - 1]:
            source[t] = source[t - 1]
    carried = source != row
    if carried.any():
        turn_of_unit = pd.Index(_turn_key(order).to_numpy()).get_indexer(keys)
        units_carried = carried[turn_of_unit]
        ctx[units_carried] = turn_signal.to_numpy()[source[turn_of_unit[units_carried]]]
    top = ctx.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(top > 0, ctx / np.where(top > 0, top, 1), 0.0)


def aggregate_turns(codes: pd.DataFrame, codebook: Codebook, community: str | None = None) -> pd.DataFrame:
    """Turn-level codes: a theme is coded for a turn when any of its units has it (with the
    ``community`` column when given)."""
    cols = codebook.codes
    keep = [*([community] if community else []), "role"]
    g = codes.groupby(["interview_id", "turn"], sort=True)
    out = g[cols].max().reset_index()
    first = g[keep].first().reset_index(drop=True)
    for i, c in enumerate(keep):
        out.insert(2 + i, c, first[c].to_numpy())
    out.insert(0, "turn_id", out["interview_id"].astype(str) + ":" + out["turn"].astype(str))
    out["n_units"] = g.size().to_numpy()
    out["n_codes"] = out[cols].sum(axis=1).astype(int)
    return out


def attach_covariates(codes: pd.DataFrame, communities: pd.DataFrame | None, covariates: Sequence[str],
                      community: str | None = None) -> pd.DataFrame:
    """The codes with the community covariates (inserted after ``role``), joined by the
    ``community`` column (the units' community id column)."""
    if communities is None or not covariates:
        return codes
    if community is None or community not in codes.columns:
        raise PipelineError(f"coding.covariates {list(covariates)}: the texts have no community column to join them by",
                            hint="set coding.covariates: [] for texts without communities")
    lacking = [c for c in covariates if c not in communities.columns]
    if lacking:
        raise PipelineError(f"community file: no column(s) {lacking} for coding.covariates",
                            hint=f"columns are {list(communities.columns)}")
    merged = codes.merge(communities[[community, *covariates]], on=community, how="left", validate="many_to_one")
    unknown = sorted(merged.loc[merged[covariates[0]].isna(), community].unique())
    if unknown:
        raise PipelineError(f"community file: communities {unknown[:5]} of the transcripts are not in it",
                            hint="pass the study's community file")
    lead = [c for c in codes.columns if c not in ("n_codes", "source")]
    pos = lead.index("role") + 1 if "role" in lead else len(lead)
    order = lead[:pos] + list(covariates) + lead[pos:] + [c for c in ("n_codes", "source") if c in codes.columns]
    return merged[order]


# --------------------------------------------------------------------------------------------
# human codes
# --------------------------------------------------------------------------------------------
def read_human_codes(path: str | Path, units: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """A filled coder sheet (CSV or .xlsx with the columns of coder_sample.csv): unit_id and one
    0/1 column per theme code; other columns (text, coder, notes ...) are ignored. Errors name the
    row (1-based data row) or column. Blank theme cells of a coded row count as 0; a row whose
    theme cells are all blank is not coded yet and is left out."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        try:
            df = pd.read_excel(path, dtype=str).fillna("")
        except FileNotFoundError:
            raise PipelineError(f"{path}: human codes not found", hint="set coding.human_codes in params.yaml") from None
    else:
        df = read_csv_strings(path, "human codes", "set coding.human_codes in params.yaml (a path or null)")
    codes = codebook.codes
    if "unit_id" not in df.columns:
        raise PipelineError(f"{path}: no column 'unit_id'", hint="fill in coding's coder_sample.csv and keep its columns")
    theme_like = [c for c in df.columns if c not in (*SHEET_FIXED, *SHEET_TAIL, *units.columns) or c in codes]
    unknown = [c for c in theme_like if c not in codes]
    if unknown:
        raise PipelineError(f"{path}: unknown theme column(s) {unknown}", hint=f"the codebook's codes are {codes}")
    absent = [c for c in codes if c not in df.columns]
    if absent:
        raise PipelineError(f"{path}: no column for theme(s) {absent}", hint="keep one column per theme code")
    df = df.assign(unit_id=df["unit_id"].str.strip())
    known = set(units["unit_id"])
    bad_ids = [(i + 1, v) for i, v in enumerate(df["unit_id"]) if v not in known]
    if bad_ids:
        raise PipelineError(f"{path}: unknown unit id(s) {[v for _, v in bad_ids[:5]]} in data row(s) "
                            f"{[r for r, _ in bad_ids[:5]]}", hint="unit ids come from processed/transcripts/units.parquet")
    dup = df.index[df["unit_id"].duplicated()].tolist()
    if dup:
        raise PipelineError(f"{path}: unit id {df['unit_id'].iloc[dup[0]]} is coded twice (data row {dup[0] + 1})",
                            hint="one row per unit; resolve disagreements first")
    cells = df[codes].apply(lambda s: s.str.strip())
    for c in codes:
        bad = cells.index[~cells[c].isin(["", "0", "1", "0.0", "1.0"])].tolist()
        if bad:
            raise PipelineError(f"{path}: column {c}, data row {bad[0] + 1}: value {cells[c].iloc[bad[0]]!r} is not 0 or 1",
                                hint="code 1 when the theme is present, 0 (or blank) when not")
    coded = (cells != "").any(axis=1)
    out = cells[coded].replace("", "0").astype(float).astype(np.int8)
    out.insert(0, "unit_id", df.loc[coded, "unit_id"].to_numpy())
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# descriptive tables
# --------------------------------------------------------------------------------------------
def frequencies(codes: pd.DataFrame, codebook: Codebook, dimensions: Sequence[str]) -> pd.DataFrame:
    """Tidy theme frequencies: dimension (overall or a column), level, theme, units (in the
    level), coded (units with the theme), share, interviews (in the level) and
    interviews_with_theme."""
    rows = []
    for dim in ("overall", *dimensions):
        if dim != "overall" and dim not in codes.columns:
            raise PipelineError(f"coding.dimensions: no column '{dim}' in the codes",
                                hint="dimensions are unit columns (role) or coding.covariates")
        groups = [("all", codes)] if dim == "overall" else codes.groupby(dim, sort=True)
        for level, g in groups:
            n_iv = g["interview_id"].nunique()
            for th in codebook.themes:
                coded = g[th.code].astype(bool)
                rows.append({"dimension": dim, "level": str(level), "theme": th.code, "theme_id": th.id,
                             "units": len(g), "coded": int(coded.sum()),
                             "share": float(coded.mean()) if len(g) else float("nan"), "interviews": n_iv,
                             "interviews_with_theme": int(g.loc[coded, "interview_id"].nunique())})
    return pd.DataFrame(rows)


def cooccurrence(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Units coded with both themes (theme_a <= theme_b; the diagonal is the theme's count)."""
    x = codes[codebook.codes].to_numpy(dtype=np.int64)
    c = x.T @ x
    rows = [{"theme_a": a.code, "theme_b": b.code, "units": int(c[i, j])}
            for i, a in enumerate(codebook.themes) for j, b in enumerate(codebook.themes) if j >= i]
    return pd.DataFrame(rows)


def coder_sample(units: pd.DataFrame, codebook: Codebook, n: int, seed: int, strata: str = "role") -> pd.DataFrame:
    """A blank coding sheet: ``n`` substantive units (with content tokens) drawn without
    replacement, allocated to the strata in proportion (largest remainders, at least one per
    stratum when n allows), seeded (SeedSequence([seed, STREAM_SAMPLE])); rows in unit order.
    Columns: unit_id, interview_id, role, text (redacted), one empty column per theme, coder, notes."""
    pool = units[pd.to_numeric(units["n_tokens"], errors="coerce").fillna(0) > 0]
    if strata not in pool.columns:
        raise PipelineError(f"coding.sample.strata: no unit column '{strata}'", hint="use role or interview_id")
    n = min(int(n), len(pool))
    sizes = pool.groupby(strata, sort=True).size()
    quota = sizes / sizes.sum() * n
    alloc = np.floor(quota).astype(int)
    if n >= len(sizes):
        alloc = alloc.clip(lower=1)
    rest = n - alloc.sum()
    if rest > 0:
        order = (quota - np.floor(quota)).sort_values(ascending=False, kind="stable").index
        for lvl in order[:rest]:
            alloc[lvl] += 1
    while alloc.sum() > n:
        alloc[alloc.idxmax()] -= 1
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), STREAM_SAMPLE]))
    picks = []
    for lvl, g in pool.groupby(strata, sort=True):
        k = int(min(alloc[lvl], len(g)))
        picks.append(g.iloc[np.sort(rng.choice(len(g), size=k, replace=False))])
    sheet = pd.concat(picks).sort_values(["interview_id", "turn", "sentence"]) if picks else pool.iloc[:0]
    out = sheet[list(SHEET_FIXED)].reset_index(drop=True)
    for c in (*codebook.codes, *SHEET_TAIL):
        out[c] = ""
    return out

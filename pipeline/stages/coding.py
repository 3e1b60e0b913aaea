"""The coding stage: deductive coding of the redacted interview units with the study's codebook,
and agreement with human coders (issue #7; docs/coding.md has the rules in full).

Steps (pure functions; :func:`main` only reads and writes):

1. :func:`load_codebook` reads and validates ``config/codebook.yaml``: the nine themes of the
   study (id, code, names, definition, ``include`` regular expressions with weights,
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
4. Agreement (:func:`agreement_table`) against human codes: a filled coder sheet
   (:func:`read_human_codes`, validated) or, for the demo study, the planted sentence themes
   (:func:`truth_unit_codes`, aligned onto unit ids). Per theme Cohen's kappa with the
   asymptotic variance and interval of R ``psych::cohen.kappa`` (:func:`cohen_kappa`),
   precision, recall, F1; Krippendorff's alpha (nominal) per theme and pooled over all
   theme x unit binary decisions, with a percentile interval from a seeded bootstrap that
   resamples interviews (clusters).
5. Tidy tables: :func:`frequencies` (overall, by role, comm_type, gov_model), :func:`cooccurrence`,
   and :func:`coder_sample`, a blank seeded sheet for human coders stratified by role.

Outputs (``processed/coding/``, built in a temporary folder and swapped in whole):
``codes.parquet``, ``turn_codes.parquet``, ``frequencies.csv``, ``cooccurrence.csv``,
``agreement.csv``, ``coder_sample.csv``, ``coder_sample.xlsx``; and ``metrics/coding.json``.
"""
from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import atomic_dir, read_community_columns, read_csv_strings, read_transcript_output, write_json

OUT_DIR = config.PROCESSED / "coding"
METRICS_FILE = config.METRICS / "coding.json"
FLOAT_FORMAT = "%.10g"
UNIT_COLUMNS = ("unit_id", "interview_id", "comm_id", "role", "turn", "sentence", "text", "n_tokens")
SOURCES = ("direct", "context", "uncoded", "filler", "skipped", "empty")
STREAM_BOOT = 81      # SeedSequence stream of the agreement bootstrap
STREAM_SAMPLE = 82    # ... of the coder sample
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
    """``params.yaml: coding`` checked (see the comments there)."""
    codebook: str = "config/codebook.yaml"
    min_score: float = 1.0
    relative: float = 0.5
    context: bool = True
    context_weight: float = 1.0
    min_tokens: int = 2
    question_weight: float = 1.0
    human_codes: str | None = "truth"
    dimensions: tuple[str, ...] = ()   # frequencies by these columns besides overall (study variables: params.yaml)
    covariates: tuple[str, ...] = ()   # community columns joined to the codes (params.yaml: coding.covariates)
    replications: int = 1000
    level: float = 0.95
    sample_size: int = 200
    sample_strata: str = "role"
    turns: bool = True


def parse_settings(section: Mapping[str, Any]) -> Settings:
    s = dict(section or {})
    ctx = s.get("context") or {}
    dec = s.get("decision") or {}
    agr = s.get("agreement") or {}
    smp = s.get("sample") or {}
    try:
        out = Settings(
            codebook=str(s.get("codebook", Settings.codebook)),
            min_score=float(dec.get("min_score", 1.0)), relative=float(dec.get("relative", 0.5)),
            context=bool(ctx.get("inherit", True)), context_weight=float(ctx.get("weight", 1.0)),
            min_tokens=int(ctx.get("min_tokens", 2)),
            question_weight=float(ctx.get("question_weight", 1.0)),
            human_codes=None if s.get("human_codes") in (None, "", "none") else str(s.get("human_codes")),
            dimensions=tuple(s.get("dimensions", Settings.dimensions)),
            covariates=tuple(s.get("covariates", Settings.covariates)),
            replications=int(agr.get("replications", 1000)), level=float(agr.get("level", 0.95)),
            sample_size=int(smp.get("n", 200)), sample_strata=str(smp.get("strata", "role")),
            turns=bool(s.get("turns", True)))
    except (TypeError, ValueError) as exc:
        raise PipelineError(f"params.yaml: coding: a value has the wrong type ({exc})",
                            hint="see the comments of the coding section") from None
    if not 0 < out.level < 1 or out.replications < 0 or out.sample_size < 0 or not 0 <= out.relative <= 1:
        raise PipelineError("params.yaml: coding: level must be in (0, 1), replications and sample.n >= 0, "
                            "decision.relative in [0, 1]")
    return out


# --------------------------------------------------------------------------------------------
# coding
# --------------------------------------------------------------------------------------------
def score_texts(texts: Sequence[str], codebook: Codebook) -> np.ndarray:
    """Scores (len(texts) x themes): the summed weights of the distinct include patterns found;
    0 for a theme when one of its exclude patterns matches."""
    out = np.zeros((len(texts), len(codebook.themes)))
    for i, text in enumerate(texts):
        text = text if isinstance(text, str) else ""
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
    pats = [p.regex for p in codebook.non_substantive]
    return np.array([(n < min_tokens) or any(p.search(t or "") for p in pats) for t, n in zip(texts, n_tokens)],
                    dtype=bool)


def _turn_key(df: pd.DataFrame) -> pd.Series:
    return df["interview_id"].astype(str) + ":" + df["turn"].astype(int).astype(str)


def code_units(units: pd.DataFrame, codebook: Codebook, settings: Settings,
               questions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per unit: the unit's identifiers, a 0/1 column per theme code, ``n_codes`` and
    ``source``: direct (coded through its own pattern hits), context (coded through its turn
    only), uncoded, filler (non-substantive talk), empty (no content tokens), skipped (a turn
    that answers an opening or closing question of the interview). Units are not modified.

    Decision: adjusted score = own score + ``context_weight`` x the turn's context (the other
    units' summed scores plus ``question_weight`` x the question's, scaled to a maximum of 1; a
    probe turn without any signal continues the previous turn); a theme is coded when its
    adjusted score reaches ``min_score`` and ``relative`` x the unit's best adjusted score, and
    it has an own hit or the context rule is on."""
    missing = [c for c in UNIT_COLUMNS if c not in units.columns]
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
    out = u[["unit_id", "interview_id", "comm_id", "role", "turn", "sentence"]].copy()
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
    carried: dict[str, np.ndarray] = {}
    prev_iv, prev_sig = None, None
    for iv, turn in order.itertuples(index=False):
        key = f"{iv}:{int(turn)}"
        sig = turn_signal.loc[key].to_numpy()
        if sig.max() <= 0 and iv == prev_iv and prev_sig is not None:
            sig = prev_sig
            carried[key] = sig
        prev_iv, prev_sig = iv, sig
    if carried:
        for i in np.flatnonzero(pd.Series(keys).isin(list(carried)).to_numpy()):
            ctx[i] = carried[keys[i]]
    top = ctx.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(top > 0, ctx / np.where(top > 0, top, 1), 0.0)


def aggregate_turns(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Turn-level codes: a theme is coded for a turn when any of its units has it."""
    cols = codebook.codes
    g = codes.groupby(["interview_id", "turn"], sort=True)
    out = g[cols].max().reset_index()
    first = g[["comm_id", "role"]].first().reset_index(drop=True)
    out.insert(2, "comm_id", first["comm_id"].to_numpy())
    out.insert(3, "role", first["role"].to_numpy())
    out.insert(0, "turn_id", out["interview_id"].astype(str) + ":" + out["turn"].astype(str))
    out["n_units"] = g.size().to_numpy()
    out["n_codes"] = out[cols].sum(axis=1).astype(int)
    return out


def attach_covariates(codes: pd.DataFrame, communities: pd.DataFrame | None, covariates: Sequence[str]) -> pd.DataFrame:
    """The codes with the community covariates (inserted after ``role``)."""
    if communities is None or not covariates:
        return codes
    lacking = [c for c in covariates if c not in communities.columns]
    if lacking:
        raise PipelineError(f"community file: no column(s) {lacking} for coding.covariates",
                            hint=f"columns are {list(communities.columns)}")
    merged = codes.merge(communities[["comm_id", *covariates]], on="comm_id", how="left", validate="many_to_one")
    unknown = sorted(merged.loc[merged[covariates[0]].isna(), "comm_id"].unique())
    if unknown:
        raise PipelineError(f"community file: communities {unknown[:5]} of the transcripts are not in it",
                            hint="pass the study's raw/communities.csv")
    lead = [c for c in codes.columns if c not in ("n_codes", "source")]
    pos = lead.index("role") + 1 if "role" in lead else len(lead)
    order = lead[:pos] + list(covariates) + lead[pos:] + [c for c in ("n_codes", "source") if c in codes.columns]
    return merged[order]


# --------------------------------------------------------------------------------------------
# human codes
# --------------------------------------------------------------------------------------------
def align_truth_turn(truth_lengths: Sequence[int], unit_sentences: Sequence[int],
                     unit_lengths: Sequence[int]) -> list[list[int]]:
    """Assign a turn's planted sentences (0-based, in order) to its units (sentence numbers,
    1-based, possibly with gaps where a unit without content tokens was left out) by dynamic
    programming on text lengths: each slot 1..max(sentence) takes a contiguous, non-empty run of
    planted sentences (several when a run-on comma joined them); a slot with a unit costs
    |summed planted length - unit length| (redaction placeholders change lengths a little), a
    left-out slot costs half the run's length, trailing planted sentences may be left out at half
    their length. Returns for each unit (in the given order) the planted sentence indices."""
    L = np.asarray(truth_lengths, dtype=float)
    n = len(L)
    known = {int(s): float(m) for s, m in zip(unit_sentences, unit_lengths)}
    k_max = max(known) if known else 0
    if n == 0 or k_max == 0:
        return [[] for _ in unit_sentences]
    cum = np.concatenate([[0.0], np.cumsum(L)])
    inf = float("inf")
    dp = np.full((k_max + 1, n + 1), inf)
    back = np.zeros((k_max + 1, n + 1), dtype=int)
    dp[0, 0] = 0.0
    for k in range(1, k_max + 1):
        for i in range(k, n + 1):
            best, arg = inf, -1
            for j in range(k - 1, i):
                if dp[k - 1, j] == inf:
                    continue
                run = cum[i] - cum[j]
                c = abs(run - known[k]) if k in known else 0.5 * run
                c += 1e-3 * (i - j - 1)  # prefer single sentences on ties
                if dp[k - 1, j] + c < best:
                    best, arg = dp[k - 1, j] + c, j
            dp[k, i], back[k, i] = best, arg
    totals = [dp[k_max, i] + 0.5 * (cum[n] - cum[i]) for i in range(n + 1)]
    i = int(np.argmin(totals))
    runs: dict[int, list[int]] = {}
    for k in range(k_max, 0, -1):
        j = back[k, i]
        runs[k] = list(range(j, i))
        i = j
    return [runs.get(int(s), []) for s in unit_sentences]


def truth_unit_codes(truth: pd.DataFrame, units: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """The demo study's planted sentence themes as human codes of the units (unit_id + a 0/1
    column per theme code). The truth numbers turns and sentences from 0 and counts characters
    of the decoded file; a unit holds one planted sentence or, after a run-on comma, several
    (:func:`align_truth_turn`), and is coded with every non-zero planted theme among them."""
    need = ["interview_id", "turn", "sentence", "theme", "text_length"]
    lacking = [c for c in need if c not in truth.columns]
    if lacking:
        raise PipelineError(f"truth units: no column(s) {lacking}", hint="pass raw/truth of the demo study")
    by_id = {t.id: t.code for t in codebook.themes}
    t = truth.sort_values(["interview_id", "turn", "sentence"])
    groups = {k: g for k, g in t.groupby(["interview_id", "turn"], sort=False)}
    rows = []
    u = units.assign(_len=units["text"].fillna("").astype(str).str.len())
    for (iv, turn), g in u.groupby(["interview_id", "turn"], sort=False):
        tg = groups.get((iv, int(turn) - 1))
        if tg is None:
            runs = [[] for _ in range(len(g))]
            themes = np.array([], dtype=int)
        else:
            runs = align_truth_turn(tg["text_length"].to_numpy(), g["sentence"].to_numpy(), g["_len"].to_numpy())
            themes = tg["theme"].astype(int).to_numpy()
        for uid, run in zip(g["unit_id"], runs):
            row = dict.fromkeys(by_id.values(), 0)
            for th in themes[run]:
                if th in by_id:
                    row[by_id[th]] = 1
            rows.append({"unit_id": uid, **row})
    return pd.DataFrame(rows, columns=["unit_id", *by_id.values()])


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
        df = read_csv_strings(path, "human codes", "set coding.human_codes in params.yaml (a path, truth or null)")
    codes = codebook.codes
    if "unit_id" not in df.columns:
        raise PipelineError(f"{path}: no column 'unit_id'", hint="fill in coding's coder_sample.csv and keep its columns")
    theme_like = [c for c in df.columns if c not in (*SHEET_FIXED, *SHEET_TAIL, "comm_id", "turn", "sentence")]
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
# agreement statistics
# --------------------------------------------------------------------------------------------
def cohen_kappa(table: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """Unweighted Cohen's kappa of a square agreement table (rows rater 1, columns rater 2) with
    the large-sample variance of Fleiss, Cohen and Everitt (1969) exactly as R psych 2.2.9
    ``cohen.kappa`` computes it (``var.kappa``) and its normal interval, clipped to [-1, 1]."""
    x = np.asarray(table, dtype=float)
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise ValueError("cohen_kappa needs a square table")
    tot = x.sum()
    p = x / tot
    rs, cs = p.sum(axis=1), p.sum(axis=0)
    po, pc = np.trace(p), float(rs @ cs)
    kappa = (po - pc) / (1 - pc) if pc < 1 else float("nan")
    d = np.diag(p)
    t1 = float(np.sum(d * ((1 - pc) - (rs + cs) * (1 - po)) ** 2))
    outer = cs[:, None] + rs[None, :]
    t2 = (1 - po) ** 2 * (float(np.sum(p * outer ** 2)) - float(np.sum(d * np.diag(outer) ** 2)))
    t3 = (po * pc - 2 * pc + po) ** 2
    var = (t1 + t2 - t3) / (tot * (1 - pc) ** 4) if pc < 1 else float("nan")
    if not np.isfinite(var) or var < 0:
        var = 0.0
    z = norm.ppf(alpha / 2)
    lo, hi = kappa + z * math.sqrt(var), kappa - z * math.sqrt(var)
    return {"kappa": float(kappa), "var_kappa": float(var), "ci_low": float(max(-1.0, min(1.0, lo))),
            "ci_high": float(max(-1.0, min(1.0, hi))), "n": float(tot)}


def krippendorff_alpha(data: np.ndarray) -> float:
    """Krippendorff's alpha, nominal metric, for a coders x units array of category values
    (NaN: missing), through the coincidence matrix (Krippendorff 2011, "Computing
    Krippendorff's alpha-reliability"). Units with fewer than two values are not pairable."""
    x = np.asarray(data, dtype=float)
    cats = np.unique(x[~np.isnan(x)])
    index = {c: i for i, c in enumerate(cats)}
    o = np.zeros((len(cats), len(cats)))
    for col in x.T:
        vals = col[~np.isnan(col)]
        m = len(vals)
        if m < 2:
            continue
        counts = np.zeros(len(cats))
        for v in vals:
            counts[index[v]] += 1
        o += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    d_o = o.sum() - np.trace(o)
    d_e = (n * n - np.sum(n_c ** 2)) / (n - 1)
    return float(1 - d_o / d_e) if d_e > 0 else float("nan")


def binary_alpha(disagree: np.ndarray, ones: np.ndarray, n_values: np.ndarray) -> np.ndarray:
    """Nominal alpha of two coders' complete binary codes from sums: units that disagree,
    values equal to 1 and all values (2 x units). Broadcasts over replications."""
    n1 = ones.astype(float)
    n0 = n_values - n1
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - (n_values - 1) * disagree / (n0 * n1)


def _cluster_sums(a: np.ndarray, b: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cluster (rows, in order of first appearance) and column: disagreements, ones, values."""
    _, inv = np.unique(clusters, return_inverse=True)
    g = inv.max() + 1 if len(inv) else 0
    dis, ones, vals = (np.zeros((g, a.shape[1])) for _ in range(3))
    np.add.at(dis, inv, (a != b).astype(float))
    np.add.at(ones, inv, (a + b).astype(float))
    np.add.at(vals, inv, 2.0)
    return dis, ones, vals


def bootstrap_alpha(a: np.ndarray, b: np.ndarray, clusters: Sequence[Any], replications: int, seed: int,
                    level: float = 0.95) -> dict[str, Any]:
    """Pooled nominal alpha of two coders' unit x theme binary codes ``a``, ``b`` (0/1 arrays,
    same shape) and per column, with percentile intervals from ``replications`` resamples of the
    clusters (interviews) with replacement; seeded (numpy SeedSequence([seed, STREAM_BOOT]))."""
    a, b = np.asarray(a, dtype=np.int8), np.asarray(b, dtype=np.int8)
    dis, ones, vals = _cluster_sums(a, b, np.asarray(clusters))
    est_cols = binary_alpha(dis.sum(0), ones.sum(0), vals.sum(0))
    est = float(binary_alpha(dis.sum(), ones.sum(), vals.sum()))
    out: dict[str, Any] = {"alpha": est, "alpha_cols": est_cols, "ci_low": float("nan"), "ci_high": float("nan"),
                           "ci_cols": np.full((2, a.shape[1]), np.nan), "replications": int(replications)}
    if replications <= 0 or dis.shape[0] < 2:
        return out
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), STREAM_BOOT]))
    g = dis.shape[0]
    w = np.stack([np.bincount(rng.integers(0, g, g), minlength=g) for _ in range(replications)]).astype(float)
    D, O, V = w @ dis, w @ ones, w @ vals                      # replications x columns
    pooled = binary_alpha(D.sum(1), O.sum(1), V.sum(1))
    cols = binary_alpha(D, O, V)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out["ci_low"], out["ci_high"] = (float(v) for v in np.nanpercentile(pooled, q))
    with np.errstate(all="ignore"):
        out["ci_cols"] = np.array([[np.nanpercentile(cols[:, j], qq) if np.isfinite(cols[:, j]).any() else np.nan
                                    for j in range(cols.shape[1])] for qq in q])
    return out


def agreement_table(codes: pd.DataFrame, human: pd.DataFrame, codebook: Codebook, replications: int, seed: int,
                    level: float = 0.95) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per theme: n, Cohen's kappa with psych's interval, Krippendorff's alpha with a
    cluster-bootstrap interval, precision, recall and F1 of the codes against the human codes
    (the reference); one ``overall`` row with the alpha pooled over all theme x unit decisions
    (its interval from the same bootstrap), the mean kappa and the macro precision, recall, F1."""
    cols = codebook.codes
    m = codes[["unit_id", "interview_id", *cols]].merge(human[["unit_id", *cols]], on="unit_id",
                                                         suffixes=("", "_human"), validate="one_to_one")
    a = m[cols].to_numpy(dtype=np.int8)
    b = m[[f"{c}_human" for c in cols]].to_numpy(dtype=np.int8)
    boot = bootstrap_alpha(a, b, m["interview_id"].to_numpy(), replications, seed, level)
    rows = []
    for j, th in enumerate(codebook.themes):
        tab = np.array([[np.sum((b[:, j] == r) & (a[:, j] == c)) for c in (0, 1)] for r in (0, 1)])
        k = cohen_kappa(tab, 1 - level) if len(m) else {"kappa": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        tp, fp, fn = tab[1, 1], tab[0, 1], tab[1, 0]
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        rows.append({"theme": th.code, "theme_id": th.id, "n": len(m), "human_coded": int(b[:, j].sum()),
                     "machine_coded": int(a[:, j].sum()), "kappa": k["kappa"], "kappa_ci_low": k["ci_low"],
                     "kappa_ci_high": k["ci_high"], "alpha": float(boot["alpha_cols"][j]),
                     "alpha_ci_low": float(boot["ci_cols"][0, j]), "alpha_ci_high": float(boot["ci_cols"][1, j]),
                     "precision": prec, "recall": rec, "f1": f1})
    per = pd.DataFrame(rows)
    overall = {"theme": "overall", "theme_id": 0, "n": len(m) * len(cols), "human_coded": int(b.sum()),
               "machine_coded": int(a.sum()), "kappa": per["kappa"].mean(), "kappa_ci_low": np.nan,
               "kappa_ci_high": np.nan, "alpha": boot["alpha"], "alpha_ci_low": boot["ci_low"],
               "alpha_ci_high": boot["ci_high"], "precision": per["precision"].mean(),
               "recall": per["recall"].mean(), "f1": per["f1"].mean()}
    table = pd.concat([per, pd.DataFrame([overall])], ignore_index=True)
    summary = {"units": int(len(m)), "interviews": int(m["interview_id"].nunique()),
               "replications": boot["replications"]}
    return table, summary


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


# --------------------------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------------------------
def run_coding(units: pd.DataFrame, codebook: Codebook, settings: Settings, seed: int,
               questions: pd.DataFrame | None = None, communities: pd.DataFrame | None = None,
               human: pd.DataFrame | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The whole stage as one pure function: the output tables and the metrics."""
    codes = code_units(units, codebook, settings, questions)
    codes = attach_covariates(codes, communities, settings.covariates)
    tables: dict[str, pd.DataFrame] = {"codes": codes}
    if settings.turns:
        tables["turn_codes"] = attach_covariates(aggregate_turns(codes, codebook), communities, settings.covariates)
    tables["frequencies"] = frequencies(codes, codebook, settings.dimensions)
    tables["cooccurrence"] = cooccurrence(codes, codebook)
    src = codes["source"].value_counts()
    substantive = codes["source"].isin(["direct", "context", "uncoded"])
    metrics: dict[str, Any] = {
        "units": int(len(codes)), "units_coded": int((codes["n_codes"] > 0).sum()),
        "share_uncoded": float((codes.loc[substantive, "n_codes"] == 0).mean()) if substantive.any() else float("nan"),
        **{f"units_{s}": int(src.get(s, 0)) for s in SOURCES},
        "context_rule": settings.context, "themes": len(codebook.themes),
        "human_codes": settings.human_codes or "none",
    }
    if human is not None:
        table, summary = agreement_table(codes, human, codebook, settings.replications, seed, settings.level)
        tables["agreement"] = table
        per = table[table["theme"] != "overall"].set_index("theme")
        ov = table[table["theme"] == "overall"].iloc[0]
        metrics.update({"agreement_units": summary["units"], "macro_f1": float(ov["f1"]),
                        "macro_precision": float(ov["precision"]), "macro_recall": float(ov["recall"]),
                        "kappa_mean": float(ov["kappa"]), "alpha": float(ov["alpha"]),
                        "alpha_ci_low": float(ov["alpha_ci_low"]), "alpha_ci_high": float(ov["alpha_ci_high"]),
                        "f1": {k: float(v) for k, v in per["f1"].items()},
                        "kappa": {k: float(v) for k, v in per["kappa"].items()}})
    else:
        tables["agreement"] = pd.DataFrame(columns=["theme", "theme_id", "n", "human_coded", "machine_coded", "kappa",
                                                    "kappa_ci_low", "kappa_ci_high", "alpha", "alpha_ci_low",
                                                    "alpha_ci_high", "precision", "recall", "f1"])
    tables["coder_sample"] = coder_sample(units, codebook, settings.sample_size, seed, settings.sample_strata)
    return tables, metrics


def read_communities(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    return read_community_columns(path, list(columns), "coding.covariates")


def resolve_human(settings: Settings, truth_dir: str | Path | None, units: pd.DataFrame,
                  codebook: Codebook) -> pd.DataFrame | None:
    """The human codes the settings name: ``truth`` (demo: <truth_dir>/transcript_units.csv),
    a sheet's path, or None."""
    if settings.human_codes is None:
        return None
    if settings.human_codes == "truth":
        if not truth_dir:
            raise PipelineError("coding.human_codes is 'truth' but no --truth folder was given",
                                hint="pass --truth raw/truth (demo study), or set human_codes to a sheet's path or null")
        path = Path(truth_dir) / "transcript_units.csv"
        if not path.exists():
            raise PipelineError(f"{path}: planted themes not found",
                                hint="human_codes: truth is for the demo study; set a sheet's path or null for real data")
        return truth_unit_codes(pd.read_csv(path), units, codebook)
    return read_human_codes(settings.human_codes, units, codebook)


def write_outputs(out: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    for name, table in tables.items():
        if name in ("codes", "turn_codes"):
            table.to_parquet(out / f"{name}.parquet", index=False, engine="pyarrow", compression="zstd")
        else:
            table.to_csv(out / f"{name}.csv", index=False, lineterminator="\n", float_format=FLOAT_FORMAT)
    sheet = tables["coder_sample"]
    with pd.ExcelWriter(out / "coder_sample.xlsx", engine="openpyxl") as xw:
        sheet.to_excel(xw, index=False, sheet_name="coding")
    # openpyxl stamps the creation time; fix it so equal inputs give equal bytes
    _fix_xlsx_times(out / "coder_sample.xlsx")


def _fix_xlsx_times(path: Path) -> None:
    import zipfile

    data = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            data[info.filename] = z.read(info)
    core = "docProps/core.xml"
    if core in data:
        data[core] = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                            rb"\g<1>2000-01-01T00:00:00Z\g<3>", data[core])
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, blob in data.items():
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, blob)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = config.transcript_stage_parser("pipeline coding", __doc__.splitlines()[0], OUT_DIR, METRICS_FILE,
                                            "interviewer questions (context rule)",
                                            "used when coding.human_codes is 'truth'")
    args = parser.parse_args(argv)
    params = config.load_params(args.params)
    settings = parse_settings(config.section(params, "coding"))
    codebook = load_codebook(settings.codebook)
    units = read_transcript_output(args.units, "transcript units")
    questions = read_transcript_output(args.questions, "interviewer questions") if args.questions else None
    communities = read_communities(args.communities, settings.covariates) if settings.covariates else None
    human = resolve_human(settings, args.truth, units, codebook)
    tables, metrics = run_coding(units, codebook, settings, int(params["seed"]), questions, communities, human)
    with atomic_dir(Path(args.out)) as out:
        write_outputs(out, tables)
    write_json(args.metrics, metrics)
    print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, dict)}, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

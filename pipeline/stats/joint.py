"""The joint display of the convergent mixed-methods design (integrate stage).

One row per pairing of ``config/joint_display.yaml``: a hypothesis and the qualitative contrast
that tests the same claim, the same construct compared between the same groups. The
quantitative strand is the hypothesis' estimate and interval (``processed/models/hypotheses.csv``);
the comparison must be one of the hypothesis' own variables (:func:`parse_rows` checks the row's
``factor`` against the variables of the hypothesis' term, ``models.derived`` followed back to the
survey variables they are made of).

The qualitative strand compares the interview units of the contrasted communities: without a
``stance``, the share of coded units that carry the theme; with a ``stance`` (a sub-code of the
theme defined in the same file by patterns, as the codebook defines themes:
:func:`stance_codes`), the share of the theme's units that take that stance ("of what residents
say about participation, how much is about what enables it"). Both are a linear probability model
of the unit's 0/1 code on the contrast with community-clustered CR2 errors and Satterthwaite df,
so the interval respects that units come in interviews and interviews in communities.

Exemplar quotes are units that carry the row's theme and stance, from the side of the contrast
where the claim expects more of them, with the speaker's role; when no unit matches, the row says
so. The verdict (:func:`verdict`) calls a row inconclusive whenever a strand's interval includes
zero; convergent / divergent compare two strands that both exclude zero; complementary is a row
whose strands both support a claim the qualitative comparison tests only in part (``scope:
part``, e.g. a survey interaction the interviews cannot split).

Pure functions: nothing here reads or writes files.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.stats.fit import fit_model

VERDICTS = ("convergent", "divergent", "complementary", "inconclusive")
ROW_KEYS = {"hypothesis", "theme", "stance", "factor", "level", "reference", "expect", "claim", "scope"}
STANCE_KEYS = {"theme", "name", "include", "exclude"}
SCOPES = ("full", "part")


@dataclass(frozen=True)
class Stance:
    """A sub-code of a theme: the stance a unit of the theme takes (e.g. barriers to or enablers of
    participation). ``include``: (pattern, weight) pairs, scored as the codebook scores themes;
    ``exclude``: patterns that veto it."""

    key: str
    theme: int
    name: tuple[tuple[str, str], ...]
    include: tuple[tuple[str, float], ...]
    exclude: tuple[str, ...] = ()

    def name_in(self, lang: str) -> str:
        names = dict(self.name)
        return names.get(lang) or next(iter(names.values()), self.key)


@dataclass(frozen=True)
class JointRow:
    hypothesis: str
    theme: int
    factor: str
    level: str
    reference: tuple[str, ...]
    expect_quantitative: int
    expect_qualitative: int
    claim: tuple[tuple[str, str], ...]
    stance: str | None = None
    scope: str = "full"

    def claim_in(self, lang: str) -> str:
        claims = dict(self.claim)
        return claims.get(lang) or next(iter(claims.values()), "")


def _text_map(value: Any, at: str, key: str) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str):
        return (("en", value),)
    if not isinstance(value, Mapping) or not value:
        raise PipelineError(f"{at}: '{key}' must be a text or {{zh: ..., en: ...}}")
    return tuple((str(k), str(v)) for k, v in value.items())


def parse_stances(spec: Any, where: str, themes: Sequence[int]) -> dict[str, Stance]:
    """The ``stances`` of the joint-display configuration (may be absent): key -> :class:`Stance`."""
    raw = spec.get("stances") if isinstance(spec, Mapping) else None
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PipelineError(f"{where}: 'stances' must map a stance key to its theme, name and patterns")
    out = {}
    for key, entry in raw.items():
        at = f"{where}, stance {key}"
        if not isinstance(entry, Mapping) or set(entry) - STANCE_KEYS or not {"theme", "include"} <= set(entry):
            raise PipelineError(f"{at}: keys are {sorted(STANCE_KEYS)} (theme and include required)")
        if entry["theme"] not in themes:
            raise PipelineError(f"{at}: theme {entry['theme']!r} is not a theme of the codebook",
                                f"known theme ids: {', '.join(map(str, themes))}")
        include = []
        for item in entry["include"] or []:
            pattern, weight = (item.get("pattern"), item.get("weight", 1)) if isinstance(item, Mapping) else (item, 1)
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise PipelineError(f"{at}: pattern {pattern!r} is not a regular expression ({exc})") from None
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
                raise PipelineError(f"{at}: weight {weight!r} of {pattern!r} must be a positive number")
            include.append((str(pattern), float(weight)))
        if not include:
            raise PipelineError(f"{at}: no include patterns")
        exclude = tuple(str(p) for p in entry.get("exclude") or [])
        out[str(key)] = Stance(str(key), int(entry["theme"]), _text_map(entry.get("name", str(key)), at, "name"),
                               tuple(include), exclude)
    return out


def parse_rows(spec: Any, where: str, hypotheses: Sequence[str], themes: Sequence[int],
               variables: Mapping[str, set[str]] | None = None,
               stances: Mapping[str, Stance] | None = None) -> list[JointRow]:
    """Validate the ``rows`` of the joint-display configuration ``where`` against the known
    hypothesis keys, theme ids, stances and, given ``variables`` (hypothesis -> the variables its
    term is made of, see the module docstring), that each row compares one of its hypothesis' own
    variables; every problem names the file and the row."""
    rows = spec.get("rows") if isinstance(spec, Mapping) else None
    if not isinstance(rows, list) or not rows:
        raise PipelineError(f"{where}: no 'rows' list", "give one row per hypothesis and qualitative contrast")
    stances = stances or {}
    out = []
    for i, row in enumerate(rows, start=1):
        at = f"{where}, row {i}"
        if not isinstance(row, Mapping):
            raise PipelineError(f"{at}: a row must be a mapping")
        unknown = sorted(set(row) - ROW_KEYS)
        missing = sorted({"hypothesis", "theme", "factor", "level", "reference"} - set(row))
        if unknown or missing:
            raise PipelineError(f"{at}: unknown keys {unknown}, missing keys {missing}",
                                f"the keys are {sorted(ROW_KEYS)}")
        hypothesis = str(row["hypothesis"])
        if hypothesis not in hypotheses:
            raise PipelineError(f"{at}: hypothesis {row['hypothesis']!r} is not in models.hypotheses",
                                f"known: {', '.join(hypotheses)}")
        try:
            theme = int(row["theme"])
        except (TypeError, ValueError):
            theme = None
        if theme not in themes:
            raise PipelineError(f"{at}: theme {row['theme']!r} is not a theme of the codebook",
                                f"known theme ids: {', '.join(map(str, themes))}")
        factor = str(row["factor"])
        if variables is not None and factor not in variables.get(hypothesis, set()):
            raise PipelineError(f"{at}: factor '{factor}' is not a variable of hypothesis {hypothesis} "
                                f"({', '.join(sorted(variables.get(hypothesis, set()))) or 'none'}): the two strands "
                                "would not test the same comparison",
                                "compare the groups the hypothesis compares, or list the hypothesis under 'unpaired'")
        stance = row.get("stance")
        if stance is not None and (str(stance) not in stances or stances[str(stance)].theme != theme):
            raise PipelineError(f"{at}: stance {stance!r} is not a stance of theme {theme} under 'stances'",
                                f"known: {', '.join(k for k, s in stances.items() if s.theme == theme) or 'none'}")
        reference = row["reference"]
        reference = tuple(str(r) for r in (reference if isinstance(reference, list) else [reference]))
        if str(row["level"]) in reference:
            raise PipelineError(f"{at}: level {row['level']!r} is also in the reference {list(reference)}")
        expect = row.get("expect") or {}
        signs = []
        for strand in ("quantitative", "qualitative"):
            value = expect.get(strand, 1)
            if value not in (1, -1):
                raise PipelineError(f"{at}: expect.{strand} must be 1 or -1, not {value!r}")
            signs.append(int(value))
        scope = str(row.get("scope", "full"))
        if scope not in SCOPES:
            raise PipelineError(f"{at}: scope must be one of {list(SCOPES)}, not {scope!r}")
        out.append(JointRow(hypothesis, theme, factor, str(row["level"]), reference, signs[0], signs[1],
                            _text_map(row.get("claim") or {"en": ""}, at, "claim"),
                            None if stance is None else str(stance), scope))
    return out


def parse_unpaired(spec: Any, where: str, hypotheses: Sequence[str], rows: Sequence[JointRow]) -> dict[str, tuple]:
    """``unpaired``: hypothesis -> why no qualitative contrast tests it ({zh, en}). Every hypothesis
    is either in a row or here, so the display says what it leaves out."""
    raw = (spec.get("unpaired") if isinstance(spec, Mapping) else None) or {}
    if not isinstance(raw, Mapping):
        raise PipelineError(f"{where}: 'unpaired' must map a hypothesis to the reason it has no row")
    out = {}
    for hyp, reason in raw.items():
        if str(hyp) not in hypotheses:
            raise PipelineError(f"{where}, unpaired: {hyp!r} is not in models.hypotheses", f"known: {', '.join(hypotheses)}")
        if any(r.hypothesis == str(hyp) for r in rows):
            raise PipelineError(f"{where}, unpaired: {hyp} also has a row", "list a hypothesis in rows or in unpaired")
        out[str(hyp)] = _text_map(reason, f"{where}, unpaired {hyp}", "reason")
    left = [h for h in hypotheses if h not in out and not any(r.hypothesis == h for r in rows)]
    if left:
        raise PipelineError(f"{where}: hypotheses {', '.join(left)} have no row and no reason under 'unpaired'",
                            "pair each hypothesis with a qualitative contrast, or say under 'unpaired' why none tests it")
    return out


def term_variables(hypotheses: Mapping[str, Any], derived: Mapping[str, str] | None = None,
                   mediation: Mapping[str, Any] | None = None) -> dict[str, set[str]]:
    """Hypothesis -> the variables its comparison is made of: the parts of its term (``a:b``), or
    the mediation's ``x``, each with the variables its ``models.derived`` expression reads."""
    derived = derived or {}
    out: dict[str, set[str]] = {}
    for hyp, where in hypotheses.items():
        where = where or {}
        parts = [str((mediation or {}).get("x", ""))] if "mediation" in where else str(where.get("term", "")).split(":")
        names = set()
        for part in filter(None, parts):
            names.add(part)
            names |= set(re.findall(r"[A-Za-z_]\w*", str(derived.get(part, ""))))
        out[str(hyp)] = names
    return out


def direction(estimate: float, low: float, high: float) -> int:
    """+1 or -1 when the interval [low, high] excludes 0 (the sign of the estimate), else 0."""
    if not all(np.isfinite([estimate, low, high])):
        return 0
    if low > 0:
        return 1
    if high < 0:
        return -1
    return 0


def verdict(quantitative: int, qualitative: int, expect_quantitative: int, expect_qualitative: int,
            scope: str = "full") -> str:
    """The documented rule. A strand whose interval includes 0 (direction 0) decides nothing, so
    the row is inconclusive; a null strand never makes a row complementary. When both exclude 0:
    each supports (the expected direction) or contradicts the claim; one supports and the other
    contradicts: divergent; both agree (both support, or both contradict): convergent, except that
    two supporting strands are complementary when the qualitative comparison tests only part of
    the claim (``scope: part``)."""
    if quantitative == 0 or qualitative == 0:
        return "inconclusive"
    supports = (quantitative == expect_quantitative, qualitative == expect_qualitative)
    if supports[0] != supports[1]:
        return "divergent"
    return "complementary" if scope == "part" and all(supports) else "convergent"


def stance_codes(texts: pd.Series, coded: pd.Series, stance: Stance, rivals: Sequence[Stance]) -> pd.Series:
    """1 for a unit coded with the stance's theme (``coded``) whose text scores higher on the
    stance's patterns than on any rival stance of the theme, 0 otherwise (ties and units matching
    no stance pattern are 0: they take no clear stance)."""
    def score(text: str, s: Stance) -> float:
        if any(re.search(p, text) for p in s.exclude):
            return 0.0
        return sum(w for p, w in s.include if re.search(p, text))

    out = []
    for text, on in zip(texts.fillna("").astype(str), coded.to_numpy()):
        own = score(text, stance) if on == 1 else 0.0
        out.append(int(own > 0 and all(own > score(text, r) for r in rivals)))
    return pd.Series(out, index=texts.index, dtype=int)


def theme_contrast(codes: pd.DataFrame, column: str, factor: str, level: str, reference: Sequence[str],
                   cluster: str, conf_level: float = 0.95, among: str | None = None) -> dict[str, Any]:
    """Share of units coded ``column`` where ``factor`` is ``level`` against where it is in
    ``reference``, and their difference with a community-clustered (CR2, Satterthwaite)
    interval from the linear probability model ``code ~ 1 + [factor == level]``. ``among``: a
    0/1 column that limits the units to those coded 1 in it (a stance's share of its theme)."""
    for name in (column, factor, cluster, *([among] if among else [])):
        if name not in codes.columns:
            raise PipelineError(f"the coded units have no column {name!r}",
                                "check config/joint_display.yaml against processed/coding/codes.parquet")
    values = codes[factor].astype("string")
    keep = values.isin([level, *reference]).fillna(False).to_numpy(dtype=bool)
    if among:
        keep = keep & (codes[among] == 1).to_numpy()
    data = pd.DataFrame({"code": codes.loc[keep, column].astype(float).to_numpy(),
                         "contrast": (values[keep] == level).astype(float).to_numpy(),
                         "cluster": codes.loc[keep, cluster].to_numpy()})
    out = {"n_level": int((data["contrast"] == 1).sum()), "n_reference": int((data["contrast"] == 0).sum()),
           "share_level": float(data.loc[data["contrast"] == 1, "code"].mean()) if len(data) else np.nan,
           "share_reference": float(data.loc[data["contrast"] == 0, "code"].mean()) if len(data) else np.nan,
           "difference": np.nan, "diff_low": np.nan, "diff_high": np.nan, "status": "ok"}
    clusters_each = data.groupby("contrast")["cluster"].nunique()
    if len(clusters_each) < 2 or clusters_each.min() < 2 or data["code"].nunique() < 2:
        out["status"] = "too few communities or no variation"
        return out
    spec = {"id": f"joint:{column}:{factor}", "formula": "code ~ contrast", "covariance": "cluster_cr2",
            "cluster": "cluster", "conf_level": conf_level}
    result = fit_model(spec, data)
    row = result.coefficients.set_index("term").loc["contrast"]
    out.update(difference=float(row["estimate"]), diff_low=float(row["conf_low"]),
               diff_high=float(row["conf_high"]), status=str(result.fit["status"]))
    return out


def _rank_key(seed: int, unit_id: str) -> str:
    return hashlib.blake2b(f"{seed}:{unit_id}".encode("utf-8"), digest_size=8).hexdigest()


def pick_quotes(codes: pd.DataFrame, column: str, theme_columns: Sequence[str], factor: str, level: str | Sequence[str],
                n: int = 2, seed: int = 0, min_chars: int = 12, max_chars: int = 80,
                theme: str | None = None) -> list[tuple[str, str, str]]:
    """Up to ``n`` exemplar quotes (unit id, redacted text, speaker's role): units coded ``column``
    (a theme, or a stance of it) in communities where ``factor`` is ``level`` (one level or a
    list), preferring units with this theme only and of readable length, one per interview, in an
    order fixed by the seed (not by the data's order). Empty when no unit matches. ``theme``: the
    theme column of a stance ``column`` (not counted as another theme)."""
    levels = [level] if isinstance(level, str) else list(level)
    pool = codes[(codes[column] == 1) & codes[factor].astype("string").isin(levels).fillna(False)]
    if pool.empty:
        return []
    others = [c for c in theme_columns if c not in (column, theme) and c in pool.columns]
    length = pool["text"].str.len()
    pool = pool.assign(_single=(pool[others].sum(axis=1) == 0) if others else True,
                       _fits=length.between(min_chars, max_chars),
                       _key=[_rank_key(seed, u) for u in pool["unit_id"]],
                       _role=pool["role"].astype(str) if "role" in pool.columns else "")
    pool = pool.sort_values(["_single", "_fits", "_key"], ascending=[False, False, True], kind="mergesort")
    quotes, seen = [], set()
    for unit_id, interview, text, role in pool[["unit_id", "interview_id", "text", "_role"]].itertuples(index=False):
        if interview in seen:
            continue
        seen.add(interview)
        quotes.append((str(unit_id), str(text), str(role)))
        if len(quotes) == n:
            break
    return quotes


def joint_display(rows: Sequence[JointRow], hypotheses: pd.DataFrame, codes: pd.DataFrame,
                  theme_columns: Mapping[int, str], theme_labels: Mapping[int, str], lang: str = "zh",
                  seed: int = 0, n_quotes: int = 2, conf_level: float = 0.95,
                  stances: Mapping[str, Stance] | None = None, *, cluster: str) -> pd.DataFrame:
    """The joint display as a tidy frame, one row per configured pair (see the module docstring).

    ``hypotheses``: processed/models/hypotheses.csv; ``codes``: the coded units with their
    redacted ``text``, the speaker's ``role`` and the community covariates; ``theme_columns``:
    theme id -> 0/1 column; ``stances``: :func:`parse_stances`.
    """
    by_hyp = hypotheses.set_index("hypothesis")
    stances = stances or {}
    codes = codes.copy()
    for key, st in stances.items():
        rivals = [s for k, s in stances.items() if k != key and s.theme == st.theme]
        codes[f"stance:{key}"] = stance_codes(codes["text"], codes[theme_columns[st.theme]], st, rivals)
    records = []
    for i, row in enumerate(rows, start=1):
        if row.hypothesis not in by_hyp.index:
            raise PipelineError(f"hypothesis {row.hypothesis} has no result in processed/models/hypotheses.csv",
                                "run the models stage with this hypothesis in models.hypotheses")
        h = by_hyp.loc[row.hypothesis]
        quant = direction(float(h["estimate"]), float(h["conf_low"]), float(h["conf_high"]))
        theme = theme_columns[row.theme]
        column = f"stance:{row.stance}" if row.stance else theme
        qual = theme_contrast(codes, column, row.factor, row.level, row.reference, cluster=cluster,
                              conf_level=conf_level, among=theme if row.stance else None)
        qual_dir = direction(qual["difference"], qual["diff_low"], qual["diff_high"])
        side = row.level if row.expect_qualitative == 1 else list(row.reference)   # where the claim expects more
        quotes = pick_quotes(codes, column, list(theme_columns.values()), row.factor, side, n=n_quotes, seed=seed + i,
                             theme=theme)
        record = {"row": i, "hypothesis": row.hypothesis, "model": h["model"], "term": h["term"],
                  "estimate": float(h["estimate"]), "conf_low": float(h["conf_low"]),
                  "conf_high": float(h["conf_high"]), "quantitative": quant,
                  "theme": row.theme, "theme_label": theme_labels.get(row.theme, str(row.theme)),
                  "stance": row.stance or "", "stance_label": stances[row.stance].name_in(lang) if row.stance else "",
                  "factor": row.factor, "level": row.level, "reference": ",".join(row.reference),
                  **{k: qual[k] for k in ("n_level", "n_reference", "share_level", "share_reference",
                                          "difference", "diff_low", "diff_high")},
                  "qualitative": qual_dir, "qual_status": qual["status"], "scope": row.scope,
                  "quotes_from": "level" if row.expect_qualitative == 1 else "reference", "n_quotes": len(quotes)}
        quotes += [("", "", "")] * (n_quotes - len(quotes))
        for j, (unit_id, text, role) in enumerate(quotes, start=1):
            record[f"quote{j}_id"], record[f"quote{j}"], record[f"quote{j}_role"] = unit_id, text, role
        record["verdict"] = verdict(quant, qual_dir, row.expect_quantitative, row.expect_qualitative, row.scope)
        record["claim"] = row.claim_in(lang)
        records.append(record)
    return pd.DataFrame.from_records(records)

"""The joint display of the convergent mixed-methods design (integrate stage).

One row per hypothesis/theme pair of ``config/joint_display.yaml``: the quantitative strand is
the hypothesis' estimate and interval (``processed/models/hypotheses.csv``); the qualitative
strand is the difference in the share of coded interview units that carry the theme between two
kinds of community (a linear probability model of the unit's 0/1 code on the contrast, with
community-clustered CR2 errors and Satterthwaite df, so the interval respects that units come in
interviews and interviews in communities); one or two exemplar quotes come from the redacted
units that carry the theme in the contrasted communities; the verdict follows the rule written
at the top of the configuration file (:func:`verdict`).

Pure functions: nothing here reads or writes files.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.stats.fit import fit_model

VERDICTS = ("convergent", "divergent", "complementary", "inconclusive")
ROW_KEYS = {"hypothesis", "theme", "factor", "level", "reference", "expect", "claim"}


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

    def claim_in(self, lang: str) -> str:
        claims = dict(self.claim)
        return claims.get(lang) or next(iter(claims.values()), "")


def parse_rows(spec: Any, where: str, hypotheses: Sequence[str], themes: Sequence[int]) -> list[JointRow]:
    """Validate the ``rows`` of the joint-display configuration ``where`` against the known
    hypothesis keys and theme ids; every problem names the file and the row."""
    rows = spec.get("rows") if isinstance(spec, Mapping) else None
    if not isinstance(rows, list) or not rows:
        raise PipelineError(f"{where}: no 'rows' list", "give one row per hypothesis/theme pair")
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
        if str(row["hypothesis"]) not in hypotheses:
            raise PipelineError(f"{at}: hypothesis {row['hypothesis']!r} is not in models.hypotheses",
                                f"known: {', '.join(hypotheses)}")
        try:
            theme = int(row["theme"])
        except (TypeError, ValueError):
            theme = None
        if theme not in themes:
            raise PipelineError(f"{at}: theme {row['theme']!r} is not a theme of the codebook",
                                f"known theme ids: {', '.join(map(str, themes))}")
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
        claim = row.get("claim") or {}
        if not isinstance(claim, Mapping):
            claim = {"en": str(claim)}
        out.append(JointRow(str(row["hypothesis"]), theme, str(row["factor"]), str(row["level"]),
                            reference, signs[0], signs[1], tuple((str(k), str(v)) for k, v in claim.items())))
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


def verdict(quantitative: int, qualitative: int, expect_quantitative: int, expect_qualitative: int) -> str:
    """The documented rule: a strand supports (its direction is the expected one), contradicts
    (the opposite one) or is silent (0). Both support: convergent; either contradicts:
    divergent; one supports, the other silent: complementary; both silent: inconclusive."""
    states = [0 if d == 0 else (1 if d == e else -1)
              for d, e in ((quantitative, expect_quantitative), (qualitative, expect_qualitative))]
    if -1 in states:
        return "divergent"
    if states == [1, 1]:
        return "convergent"
    if 1 in states:
        return "complementary"
    return "inconclusive"


def theme_contrast(codes: pd.DataFrame, column: str, factor: str, level: str, reference: Sequence[str],
                   cluster: str, conf_level: float = 0.95) -> dict[str, Any]:
    """Share of units coded ``column`` where ``factor`` is ``level`` against where it is in
    ``reference``, and their difference with a community-clustered (CR2, Satterthwaite)
    interval from the linear probability model ``code ~ 1 + [factor == level]``."""
    for name in (column, factor, cluster):
        if name not in codes.columns:
            raise PipelineError(f"the coded units have no column {name!r}",
                                "check config/joint_display.yaml against processed/coding/codes.parquet")
    values = codes[factor].astype("string")
    keep = values.isin([level, *reference]).fillna(False).to_numpy(dtype=bool)
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


def pick_quotes(codes: pd.DataFrame, column: str, theme_columns: Sequence[str], factor: str, level: str,
                n: int = 2, seed: int = 0, min_chars: int = 12, max_chars: int = 80) -> list[tuple[str, str]]:
    """Up to ``n`` exemplar quotes: redacted units coded ``column`` in communities where
    ``factor`` is ``level``, preferring units with this theme only and of readable length, one per
    interview, in an order fixed by the seed (not by the data's order)."""
    pool = codes[(codes[column] == 1) & (codes[factor].astype("string") == level).fillna(False)]
    if pool.empty:
        return []
    others = [c for c in theme_columns if c != column]
    length = pool["text"].str.len()
    pool = pool.assign(_single=(pool[others].sum(axis=1) == 0) if others else True,
                       _fits=length.between(min_chars, max_chars),
                       _key=[_rank_key(seed, u) for u in pool["unit_id"]])
    pool = pool.sort_values(["_single", "_fits", "_key"], ascending=[False, False, True], kind="mergesort")
    quotes, seen = [], set()
    for unit_id, interview, text in pool[["unit_id", "interview_id", "text"]].itertuples(index=False):
        if interview in seen:
            continue
        seen.add(interview)
        quotes.append((str(unit_id), str(text)))
        if len(quotes) == n:
            break
    return quotes


def joint_display(rows: Sequence[JointRow], hypotheses: pd.DataFrame, codes: pd.DataFrame,
                  theme_columns: Mapping[int, str], theme_labels: Mapping[int, str], lang: str = "zh",
                  seed: int = 0, n_quotes: int = 2, conf_level: float = 0.95, *, cluster: str) -> pd.DataFrame:
    """The joint display as a tidy frame, one row per configured pair (see the module docstring).

    ``hypotheses``: processed/models/hypotheses.csv; ``codes``: the coded units with their
    redacted ``text`` and the community covariates; ``theme_columns``: theme id -> 0/1 column;
    ``cluster``: the coded units' community column (the contrasts' clusters).
    """
    by_hyp = hypotheses.set_index("hypothesis")
    records = []
    for i, row in enumerate(rows, start=1):
        if row.hypothesis not in by_hyp.index:
            raise PipelineError(f"hypothesis {row.hypothesis} has no result in processed/models/hypotheses.csv",
                                "run the models stage with this hypothesis in models.hypotheses")
        h = by_hyp.loc[row.hypothesis]
        quant = direction(float(h["estimate"]), float(h["conf_low"]), float(h["conf_high"]))
        column = theme_columns[row.theme]
        qual = theme_contrast(codes, column, row.factor, row.level, row.reference, cluster=cluster,
                              conf_level=conf_level)
        qual_dir = direction(qual["difference"], qual["diff_low"], qual["diff_high"])
        quotes = pick_quotes(codes, column, list(theme_columns.values()), row.factor, row.level,
                             n=n_quotes, seed=seed + i)
        quotes += [("", "")] * (n_quotes - len(quotes))
        record = {"row": i, "hypothesis": row.hypothesis, "model": h["model"], "term": h["term"],
                  "estimate": float(h["estimate"]), "conf_low": float(h["conf_low"]),
                  "conf_high": float(h["conf_high"]), "quantitative": quant,
                  "theme": row.theme, "theme_label": theme_labels.get(row.theme, str(row.theme)),
                  "factor": row.factor, "level": row.level, "reference": ",".join(row.reference),
                  **{k: qual[k] for k in ("n_level", "n_reference", "share_level", "share_reference",
                                          "difference", "diff_low", "diff_high")},
                  "qualitative": qual_dir, "qual_status": qual["status"]}
        for j, (unit_id, text) in enumerate(quotes, start=1):
            record[f"quote{j}_id"], record[f"quote{j}"] = unit_id, text
        record["verdict"] = verdict(quant, qual_dir, row.expect_quantitative, row.expect_qualitative)
        record["claim"] = row.claim_in(lang)
        records.append(record)
    return pd.DataFrame.from_records(records)

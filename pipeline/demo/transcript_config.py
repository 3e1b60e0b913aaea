"""``params.yaml: simulate.transcripts`` checked and normalised for
:mod:`pipeline.demo.simulate_transcripts`, and the theme and variant mixtures it defines (log
weights from base weights, shifts and slopes; softmax).
"""
from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.core.schema import parse
from pipeline.demo.settings import SimulateTranscripts
from pipeline.demo.transcript_bank import PII_TYPES, _Bank, _cum

EXAMPLE = "params.yaml: simulate.transcripts and the README"


def _lvl(value: Any) -> str:
    """A covariate level as the string used in params keys (0, 1, "resident")."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _need(params: dict, key: str, where: str = "simulate.transcripts") -> Any:
    if not isinstance(params, dict) or key not in params:
        raise PipelineError(f"params.yaml: {where}.{key} is missing", hint=f"see {EXAMPLE}")
    return params[key]


def _shares(spec: Any, where: str, allowed: tuple[str, ...] | list[str] | None = None) -> tuple[list[str], np.ndarray]:
    if not isinstance(spec, dict) or not spec:
        raise PipelineError(f"params.yaml: {where} must be a mapping of shares", hint=f"see {EXAMPLE}")
    keys = [str(k) for k in spec]
    if allowed is not None:
        unknown = [k for k in keys if k not in allowed]
        if unknown:
            raise PipelineError(f"params.yaml: {where} has unknown keys {unknown}", hint=f"use {list(allowed)}")
    p = np.array([float(v) for v in spec.values()])
    if (p < 0).any() or p.sum() <= 0:
        raise PipelineError(f"params.yaml: {where} shares must be non-negative and not all zero")
    return keys, p / p.sum()


def _mixture_spec(spec: dict, keys: list, key_of, where: str) -> dict:
    """Normalise a mixture spec (base, shifts, slopes) to keys ``keys`` (themes or variants)."""
    base_raw = _need(spec, "base", where)
    base = {key_of(k): float(v) for k, v in base_raw.items()}
    missing = [k for k in keys if k not in base]
    extra = [k for k in base if k not in keys]
    if missing or extra:
        raise PipelineError(f"params.yaml: {where}.base must give a weight for each of {keys}",
                            hint=f"missing {missing}, unknown {extra}")
    if any(v <= 0 for v in base.values()):
        raise PipelineError(f"params.yaml: {where}.base weights must be positive")
    shifts = {}
    for factor, levels in (spec.get("shifts") or {}).items():
        shifts[str(factor)] = {}
        for level, eff in (levels or {}).items():
            eff = {key_of(k): float(v) for k, v in (eff or {}).items()}
            bad = [k for k in eff if k not in keys]
            if bad:
                raise PipelineError(f"params.yaml: {where}.shifts.{factor}.{level} names unknown {bad}")
            shifts[str(factor)][_lvl(level)] = eff
    slopes = {}
    for factor, sl in (spec.get("slopes") or {}).items():
        eff = {key_of(k): float(v) for k, v in (_need(sl, "effects", f"{where}.slopes.{factor}") or {}).items()}
        bad = [k for k in eff if k not in keys]
        if bad:
            raise PipelineError(f"params.yaml: {where}.slopes.{factor} names unknown {bad}")
        slopes[str(factor)] = {"center": float(_need(sl, "center", f"{where}.slopes.{factor}")), "effects": eff}
    return {"keys": list(keys), "base": base, "shifts": shifts, "slopes": slopes}


def _log_weights(mix: dict, cov: dict) -> np.ndarray:
    keys = mix["keys"]
    idx = {k: i for i, k in enumerate(keys)}
    lw = np.log(np.array([mix["base"][k] for k in keys]))
    for factor, levels in mix["shifts"].items():
        for k, s in levels.get(_lvl(cov[factor]), {}).items():
            lw[idx[k]] += s
    for factor, sl in mix["slopes"].items():
        x = float(cov[factor]) - sl["center"]
        for k, b in sl["effects"].items():
            lw[idx[k]] += b * x
    return lw


def _softmax(lw: np.ndarray) -> np.ndarray:
    e = np.exp(lw - lw.max())
    return e / e.sum()


class _Config:
    """``simulate.transcripts`` as the generator reads it: checked by its one description
    (:class:`pipeline.demo.settings.SimulateTranscripts`: types, ranges, unknown keys), then
    normalised (shares summing to 1, mixtures) and checked against the sentence bank (roles,
    themes, variants, header styles, date formats are the bank's names)."""

    def __init__(self, params: dict | SimulateTranscripts, bank: _Bank):
        s = params if isinstance(params, SimulateTranscripts) else \
            parse(SimulateTranscripts, params, "simulate.transcripts")
        self.n = s.n_interviews
        self.assignment = s.assignment
        self.start = date.fromisoformat(str(s.fieldwork_start))
        self.days = s.fieldwork_days
        self.roles, self.role_p = _shares(s.roles, "simulate.transcripts.roles", list(bank.role_labels))
        self.turns = tuple(s.turns)
        if self.turns[0] < 1:
            raise PipelineError("params.yaml: simulate.transcripts.turns must start at 1 or more")
        self.probe = s.probe_rate
        self.opening = {k: getattr(s.opening, k) for k in ("consent", "intro", "closing")}
        self.intro_sentences = tuple(s.intro_sentences)
        spt = s.sentences_per_turn
        self.spt_mean, self.spt_min, self.spt_max = float(spt.mean), spt.min, spt.max
        mix_keys, mix_p = _shares(s.sentence_mix, "simulate.transcripts.sentence_mix")
        m = dict(zip(mix_keys, mix_p))
        self.c_main = m.get("main", 0.0)
        self.c_filler = self.c_main + m.get("filler", 0.0)
        self.fresh_tries = s.repeat_avoidance_tries
        tm = s.theme_mixture
        self.theme_mix = _mixture_spec(tm.model_dump(), bank.theme_ids, int, "simulate.transcripts.theme_mixture")
        self.concentration = float(tm.interview_concentration)
        self.variant_mix: dict[int, dict] = {}
        for t, spec in (s.variants or {}).items():
            if t not in bank.variants:
                raise PipelineError(f"params.yaml: simulate.transcripts.variants names unknown theme {t}")
            self.variant_mix[t] = _mixture_spec(spec.model_dump(), bank.variants[t], str,
                                                f"simulate.transcripts.variants.{t}")
        for t in bank.theme_ids:   # themes without a variant spec: variants weighted by their number of templates
            if t not in self.variant_mix:
                raw = bank.raw["themes"][t]["sentences"]
                self.variant_mix[t] = {"keys": bank.variants[t], "base": {v: float(len(raw[v])) for v in bank.variants[t]},
                                       "shifts": {}, "slopes": {}}
        self.kinds, self.kind_p = _shares(s.files, "simulate.transcripts.files")
        self.conventions, self.conv_p = _shares(s.conventions, "simulate.transcripts.conventions")
        self.named_title = s.named_label_title
        self.header_styles, self.header_p = _shares(s.header_styles, "simulate.transcripts.header_styles",
                                                    list(bank.header_styles))
        self.date_formats, self.date_p = _shares(s.date_formats, "simulate.transcripts.date_formats",
                                                 list(bank.date_formats))
        self.name_line = s.header_name_line
        self.noise = s.noise.model_dump()
        pii = s.pii
        self.pii_rates = {typ: (getattr(pii.rates, typ).p, getattr(pii.rates, typ).extra) for typ in PII_TYPES}
        self.female, self.given_two, self.informal_prefix = pii.female, pii.given_two_chars, pii.informal_prefix
        self.age = tuple(pii.age)
        self.mobile_formats, mp = _shares(pii.mobile_formats, "pii.mobile_formats")
        self.mobile_cum = _cum(mp)
        self.landline_formats, lp = _shares(pii.landline_formats, "pii.landline_formats")
        self.landline_cum = _cum(lp)
        self.id_lower_x = pii.id_lowercase_x

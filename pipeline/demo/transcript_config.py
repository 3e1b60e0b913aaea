"""``params.yaml: simulate.transcripts`` checked and normalised for
:mod:`pipeline.demo.simulate_transcripts`, and the theme and variant mixtures it defines (log
weights from base weights, shifts and slopes; softmax).
"""
from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.demo.transcript_bank import PII_TYPES, _Bank, _cum

FILE_KINDS = ("utf-8", "utf-8-sig", "gbk", "docx")
CONVENTIONS = ("qa", "interviewer_respondent", "named")
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


def _rate(value: Any, where: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise PipelineError(f"params.yaml: {where} must be a rate in [0, 1], not {value}")
    return value


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
    """``simulate.transcripts`` checked and normalised."""

    def __init__(self, params: dict, bank: _Bank):
        p = params
        self.n = int(_need(p, "n_interviews"))
        if self.n < 1:
            raise PipelineError("params.yaml: simulate.transcripts.n_interviews must be at least 1")
        self.assignment = str(_need(p, "assignment"))
        if self.assignment not in ("balanced", "random"):
            raise PipelineError("params.yaml: simulate.transcripts.assignment must be balanced or random")
        self.start = date.fromisoformat(str(_need(p, "fieldwork_start")))
        self.days = int(_need(p, "fieldwork_days"))
        self.roles, self.role_p = _shares(_need(p, "roles"), "simulate.transcripts.roles", list(bank.role_labels))
        self.turns = tuple(int(x) for x in _need(p, "turns"))
        self.probe = _rate(_need(p, "probe_rate"), "probe_rate")
        op = _need(p, "opening")
        self.opening = {k: _rate(_need(op, k, "simulate.transcripts.opening"), f"opening.{k}")
                        for k in ("consent", "intro", "closing")}
        self.intro_sentences = tuple(int(x) for x in _need(p, "intro_sentences"))
        spt = _need(p, "sentences_per_turn")
        self.spt_mean = float(_need(spt, "mean", "simulate.transcripts.sentences_per_turn"))
        self.spt_min = int(_need(spt, "min", "simulate.transcripts.sentences_per_turn"))
        self.spt_max = int(_need(spt, "max", "simulate.transcripts.sentences_per_turn"))
        if not (1 <= self.spt_min <= self.spt_max) or self.turns[0] < 1 or self.turns[0] > self.turns[1]:
            raise PipelineError("params.yaml: simulate.transcripts turns / sentences_per_turn ranges are invalid")
        mix_keys, mix_p = _shares(_need(p, "sentence_mix"), "simulate.transcripts.sentence_mix",
                                  ("main", "filler", "other"))
        m = dict(zip(mix_keys, mix_p))
        self.c_main = m.get("main", 0.0)
        self.c_filler = self.c_main + m.get("filler", 0.0)
        self.fresh_tries = int(_need(p, "repeat_avoidance_tries"))
        if self.fresh_tries < 1:
            raise PipelineError("params.yaml: simulate.transcripts.repeat_avoidance_tries must be at least 1")
        tm = _need(p, "theme_mixture")
        self.theme_mix = _mixture_spec(tm, bank.theme_ids, int, "simulate.transcripts.theme_mixture")
        self.concentration = float(_need(tm, "interview_concentration", "simulate.transcripts.theme_mixture"))
        if self.concentration <= 0:
            raise PipelineError("params.yaml: theme_mixture.interview_concentration must be positive")
        self.variant_mix: dict[int, dict] = {}
        for t, spec in (_need(p, "variants") or {}).items():
            t = int(t)
            if t not in bank.variants:
                raise PipelineError(f"params.yaml: simulate.transcripts.variants names unknown theme {t}")
            self.variant_mix[t] = _mixture_spec(spec, bank.variants[t], str, f"simulate.transcripts.variants.{t}")
        for t in bank.theme_ids:   # themes without a variant spec: variants weighted by their number of templates
            if t not in self.variant_mix:
                raw = bank.raw["themes"][t]["sentences"]
                self.variant_mix[t] = {"keys": bank.variants[t], "base": {v: float(len(raw[v])) for v in bank.variants[t]},
                                       "shifts": {}, "slopes": {}}
        self.kinds, self.kind_p = _shares(_need(p, "files"), "simulate.transcripts.files", FILE_KINDS)
        self.conventions, self.conv_p = _shares(_need(p, "conventions"), "simulate.transcripts.conventions", CONVENTIONS)
        self.named_title = _rate(_need(p, "named_label_title"), "named_label_title")
        self.header_styles, self.header_p = _shares(_need(p, "header_styles"), "simulate.transcripts.header_styles",
                                                    list(bank.header_styles))
        self.date_formats, self.date_p = _shares(_need(p, "date_formats"), "simulate.transcripts.date_formats",
                                                 list(bank.date_formats))
        self.name_line = _rate(_need(p, "header_name_line"), "header_name_line")
        noise = _need(p, "noise")
        self.noise = {k: _rate(_need(noise, k, "simulate.transcripts.noise"), f"noise.{k}")
                      for k in ("halfwidth_colon", "blank_line_between_turns", "annotation", "comma_join",
                                "discourse_prefix", "paragraph_split", "docx_run_split")}
        pii = _need(p, "pii")
        rates = _need(pii, "rates", "simulate.transcripts.pii")
        self.pii_rates = {}
        for typ in PII_TYPES:
            spec = _need(rates, typ, "simulate.transcripts.pii.rates")
            self.pii_rates[typ] = (_rate(_need(spec, "p", f"pii.rates.{typ}"), f"pii.rates.{typ}.p"),
                                   float(_need(spec, "extra", f"pii.rates.{typ}")))
        self.female = _rate(_need(pii, "female", "simulate.transcripts.pii"), "pii.female")
        self.given_two = _rate(_need(pii, "given_two_chars", "simulate.transcripts.pii"), "pii.given_two_chars")
        self.informal_prefix = _rate(_need(pii, "informal_prefix", "simulate.transcripts.pii"), "pii.informal_prefix")
        self.age = tuple(int(x) for x in _need(pii, "age", "simulate.transcripts.pii"))
        self.mobile_formats, mp = _shares(_need(pii, "mobile_formats", "simulate.transcripts.pii"),
                                          "pii.mobile_formats", ("plain", "spaced", "dashed"))
        self.mobile_cum = _cum(mp)
        self.landline_formats, lp = _shares(_need(pii, "landline_formats", "simulate.transcripts.pii"),
                                            "pii.landline_formats", ("dash", "space", "paren"))
        self.landline_cum = _cum(lp)
        self.id_lower_x = _rate(_need(pii, "id_lowercase_x", "simulate.transcripts.pii"), "pii.id_lowercase_x")

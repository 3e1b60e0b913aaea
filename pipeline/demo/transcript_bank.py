"""The bank of the synthetic interview transcripts (``config/transcript_bank.yaml``): reading and
checking it, the sentences a theme's templates can realise, and the bank compiled for fast
realisation by :mod:`pipeline.demo.simulate_transcripts`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.config import read_yaml
from pipeline.core.errors import PipelineError

PII_TYPES = ("name", "mobile", "landline", "id_number", "address")
PII_SLOTS = {"name": "name", "name_informal": "name", "self_name": "name", "mobile": "mobile",
             "landline": "landline", "id_number": "id_number", "address": "address"}
SLOT_RE = re.compile(r"\{([^{}]+)\}")


def _compile(text: str) -> tuple[str, ...]:
    """Template text -> (literal, slot, literal, slot, ..., literal)."""
    return tuple(SLOT_RE.split(text))


def _cum(weights) -> list[float]:
    return np.cumsum(np.asarray(weights, dtype=float)).tolist()


def load_bank(path: Path) -> dict:
    """Read and check ``config/transcript_bank.yaml``; returns the bank as a dict."""
    path = Path(path)
    bank = read_yaml(path, "transcript bank", "run from the project root")
    _check_bank(bank, str(path))
    return bank


def _template_text(t: Any, where: str) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, dict) and isinstance(t.get("t"), str):
        if t.get("who", "any") not in ("any", "staff", "resident"):
            raise PipelineError(f"{where}: 'who' must be staff or resident, not {t.get('who')!r}")
        return t["t"]
    raise PipelineError(f"{where}: a template must be a string or a mapping with 't'")


def _check_bank(bank: Any, where: str) -> None:
    if not isinstance(bank, dict):
        raise PipelineError(f"{where}: expected a mapping")
    for key in ("themes", "fillers", "discourse_prefixes", "annotations", "probes", "opening", "pii_carriers",
                "slots", "header", "speakers", "roles", "staff_roles", "people", "mobile_prefixes", "cities",
                "addresses"):
        if key not in bank:
            raise PipelineError(f"{where}: no '{key}' section", hint="see the comments at the top of the bank")
    slots = bank["slots"]
    texts: list[tuple[str, str]] = []
    for tid, spec in bank["themes"].items():
        if not isinstance(tid, int) or tid < 1:
            raise PipelineError(f"{where}: theme ids must be positive integers, not {tid!r}")
        for key in ("zh", "en", "questions", "sentences"):
            if not spec.get(key):
                raise PipelineError(f"{where}: theme {tid} has no '{key}'")
        texts += [(f"themes.{tid}.questions", q) for q in spec["questions"]]
        for variant, lst in spec["sentences"].items():
            if not lst:
                raise PipelineError(f"{where}: theme {tid} variant '{variant}' has no sentences")
            texts += [(f"themes.{tid}.sentences.{variant}", _template_text(t, f"{where}: themes.{tid}.{variant}"))
                      for t in lst]
    texts += [("fillers", t) for t in bank["fillers"]] + [("probes", t) for t in bank["probes"]]
    op = bank["opening"]
    for part in ("consent", "closing"):
        texts += [(f"opening.{part}", t) for t in op[part]["questions"] + op[part]["answers"]]
    for kind in ("questions", "answers"):
        for role in bank["roles"]:
            lst = op["intro"][kind].get(role)
            if not lst:
                raise PipelineError(f"{where}: opening.intro.{kind} has nothing for role '{role}'")
            texts += [(f"opening.intro.{kind}.{role}", t) for t in lst]
    for c in bank["pii_carriers"]:
        text = _template_text(c, f"{where}: pii_carriers")
        if not any(s.split("#")[0] in PII_SLOTS for s in SLOT_RE.findall(text)):
            raise PipelineError(f"{where}: pii carrier without a personal-data slot: {text}")
        texts.append(("pii_carriers", text))
    for origin, text in texts:
        for slot in SLOT_RE.findall(text):
            base = slot.split("#")[0]
            if base not in slots and base not in PII_SLOTS:
                raise PipelineError(f"{where}: {origin} uses slot '{{{slot}}}', which has no filler list",
                                    hint="add it under slots")
    for name, lst in slots.items():
        if not lst:
            raise PipelineError(f"{where}: slot '{name}' has no fillers")
    for typ in PII_TYPES:
        if not any(PII_SLOTS.get(s.split("#")[0]) == typ for c in bank["pii_carriers"]
                   for s in SLOT_RE.findall(_template_text(c, where))):
            raise PipelineError(f"{where}: no pii carrier plants a '{typ}'")
    for typ in PII_TYPES:
        if not any({PII_SLOTS[s.split("#")[0]] for s in SLOT_RE.findall(_template_text(c, where))
                    if s.split("#")[0] in PII_SLOTS} == {typ} for c in bank["pii_carriers"]):
            raise PipelineError(f"{where}: no pii carrier plants a '{typ}' alone",
                                hint="each type needs a carrier with only that type, so its rate can be met")
    for prefix in bank["mobile_prefixes"]:
        if not re.fullmatch(r"1[3-9]\d", str(prefix)):
            raise PipelineError(f"{where}: mobile prefix {prefix!r} is not 1[3-9]x")
    for city, spec in bank["cities"].items():
        for code in spec["id_regions"]:
            if not re.fullmatch(r"64\d{4}", str(code)):
                raise PipelineError(f"{where}: ID region code {code!r} of {city} is not a Ningxia code (64xxxx)")


def realisable_sentences(bank: dict, theme: int, cap: int = 100_000) -> set[str]:
    """All distinct sentences theme ``theme``'s templates can realise (at most ``cap``)."""
    import itertools

    out: set[str] = set()
    slots = bank["slots"]
    for lst in bank["themes"][theme]["sentences"].values():
        for t in lst:
            parts = _compile(_template_text(t, "bank"))
            names = list(dict.fromkeys(parts[1::2]))
            choices = [list(dict.fromkeys(slots[n.split("#")[0]])) for n in names]
            for combo in itertools.product(*choices):
                fill = dict(zip(names, combo))
                out.add("".join(p if i % 2 == 0 else fill[p] for i, p in enumerate(parts)))
                if len(out) >= cap:
                    return out
    return out


class _Bank:
    """The bank compiled for fast realisation."""

    def __init__(self, bank: dict, roles: list[str]):
        self.raw = bank
        self.theme_ids = sorted(int(t) for t in bank["themes"])
        self.slots = {k: list(v) for k, v in bank["slots"].items()}
        self.staff_roles = set(bank["staff_roles"])
        self.questions = {t: [_compile(q) for q in bank["themes"][t]["questions"]] for t in self.theme_ids}
        self.variants = {t: list(bank["themes"][t]["sentences"]) for t in self.theme_ids}
        self.sentences: dict[tuple[int, str, str], list[tuple[str, ...]]] = {}
        for t in self.theme_ids:
            for v, lst in bank["themes"][t]["sentences"].items():
                for group in ("staff", "resident"):
                    sel = [_compile(_template_text(x, "bank")) for x in lst
                           if isinstance(x, str) or x.get("who", "any") in ("any", group)]
                    self.sentences[(t, v, group)] = sel or [_compile(_template_text(x, "bank")) for x in lst]
        self.fillers = [_compile(x) for x in bank["fillers"]]
        self.prefixes = list(bank["discourse_prefixes"])
        self.annotations = list(bank["annotations"])
        self.probes = [_compile(x) for x in bank["probes"]]
        op = bank["opening"]
        self.consent = ([_compile(x) for x in op["consent"]["questions"]], [_compile(x) for x in op["consent"]["answers"]])
        self.closing = ([_compile(x) for x in op["closing"]["questions"]], [_compile(x) for x in op["closing"]["answers"]])
        self.intro = {r: ([_compile(x) for x in op["intro"]["questions"][r]], [_compile(x) for x in op["intro"]["answers"][r]])
                      for r in roles}
        self.carriers = []
        self.carriers_by_type: dict[str, list[int]] = {t: [] for t in PII_TYPES}
        self.carrier_types: list[set[str]] = []
        for c in bank["pii_carriers"]:
            parts = _compile(_template_text(c, "bank"))
            theme = int(c.get("theme", 0)) if isinstance(c, dict) else 0
            self.carriers.append((parts, theme))
            types = {PII_SLOTS[s.split("#")[0]] for s in parts[1::2] if s.split("#")[0] in PII_SLOTS}
            self.carrier_types.append(types)
            for typ in types:
                self.carriers_by_type[typ].append(len(self.carriers) - 1)
        hdr = bank["header"]
        self.header_styles = {k: [_compile(x) for x in v] for k, v in hdr["styles"].items()}
        self.name_lines = [_compile(x) for x in hdr["name_line"]]
        self.date_formats = dict(hdr["date_formats"])
        self.speakers = bank["speakers"]
        self.role_labels = {r: list(v) for r, v in bank["roles"].items()}
        ppl = bank["people"]
        self.surnames = list(ppl["surnames"])
        self.surname_cum = _cum(list(ppl["surnames"].values()))
        self.given = {"female": list(ppl["given"]["female"]), "male": list(ppl["given"]["male"])}
        self.informal = ppl["informal"]
        self.label_titles = ppl["label_titles"]
        self.mobile_prefixes = [str(p) for p in bank["mobile_prefixes"]]
        self.cities = bank["cities"]
        self.addresses = bank["addresses"]
        self.address_formats = [_compile(x) for x in bank["addresses"]["formats"]]

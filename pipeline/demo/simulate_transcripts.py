"""Synthetic interview transcripts of the demo study, with their truth.

The transcripts imitate the study's semi-structured interviews (README, STUDY.md): one file per
interview, a header (interview id, community id, role, date, sometimes the interviewee's name),
then alternating interviewer questions and respondent answers under one of three speaker
conventions (问：/答：, 访谈者：/受访者：, or the respondent's name). Files are UTF-8, UTF-8 with
BOM, GBK or .docx, and carry fake personal data (names, mobile and landline numbers, 18-digit
ID numbers with valid check digits, addresses) at configured rates.

Data-generating process (rates and sizes in ``params.yaml: simulate.transcripts``; words,
sentences and formats in ``config/transcript_bank.yaml``):

1. Interviews are spread over the communities, get a role, a date, a file format/encoding, a
   speaker convention and a header style.
2. Each interview's expected theme mixture is ``softmax(log base + shifts)``, where the shifts
   depend on the community (``gov_model``, ``comm_type``, ``points_scheme``, minority share,
   number of social organisations) and the role; the interview's own mixture is a Dirichlet
   draw around it. Each thematic respondent turn has one main theme drawn from that mixture;
   most of its sentences are of that theme, some are neutral fillers (theme 0), some belong to
   another theme. Sentences of a theme come in variants (stances, e.g. participation barriers
   vs enablers) whose mixture is shifted by the same covariates.
3. Personal-data carrier sentences are planted in thematic turns; names also appear in some
   headers and as speaker labels.

Truth (``raw/truth``): ``transcript_interviews.csv`` (one row per file), ``transcript_pii.csv``
(every planted personal-data span as character offset/length into the decoded text),
``transcript_units.csv`` (every respondent sentence with its theme and offsets) and
``transcript_theme_effects.json`` (the planted shifts and the expected theme shares they imply).
Decoded text means: a .txt file decoded with its encoding (BOM stripped), a .docx file's
paragraphs joined with "\\n" (see :func:`decode_transcript`). Analysis stages never read truth.

Randomness comes only from the ``rng`` passed in; .docx files are written as a minimal
WordprocessingML package with fixed zip timestamps and stored (uncompressed) members, so the
same inputs give the same bytes on any machine.

The bank is read, checked and compiled in :mod:`pipeline.demo.transcript_bank`, the parameters in
:mod:`pipeline.demo.transcript_config`, and .docx packages are built by
:mod:`pipeline.demo.transcript_docx`.
"""
from __future__ import annotations

import bisect
import io
import math
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.files import write_bytes, write_csv, write_json
from pipeline.demo.transcript_bank import PII_SLOTS, _Bank, _cum
from pipeline.demo.transcript_config import _Config, _lvl, _log_weights, _softmax
from pipeline.demo.transcript_docx import docx_bytes

TURN_KINDS = ("consent", "intro", "thematic", "probe", "closing")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
FILE_RE = re.compile(r"^I\d+\.(txt|docx)$")

INTERVIEW_COLUMNS = ["interview_id", "comm_id", "role", "role_label", "date", "file", "encoding", "format",
                     "convention", "header_style", "gbk_fallback", "n_turns", "n_chars"]
PII_COLUMNS = ["interview_id", "file", "offset", "length", "type", "value", "context"]
UNIT_COLUMNS = ["interview_id", "turn", "sentence", "theme", "text_start", "text_length", "turn_theme",
                "turn_kind", "variant"]


@dataclass
class TranscriptCorpus:
    """The generated transcript files (relative name, bytes) and their truth tables."""

    files: list[tuple[str, bytes]]
    interviews: pd.DataFrame      # INTERVIEW_COLUMNS
    pii: pd.DataFrame             # PII_COLUMNS; offsets are character offsets into the decoded text
    units: pd.DataFrame           # UNIT_COLUMNS; one row per respondent sentence
    theme_effects: dict[str, Any]  # planted mixture shifts and the expected shares they imply


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number's first 17 digits."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def valid_id_number(value: str) -> bool:
    value = value.upper()
    return bool(re.fullmatch(r"\d{17}[\dX]", value)) and id_check_digit(value[:17]) == value[17]


def decode_transcript(name: str, data: bytes, encoding: str | None = None) -> str:
    """The decoded text of a transcript file: .docx paragraphs joined with "\\n"; a .txt decoded
    with ``encoding`` if given, else by BOM / UTF-8 / GBK detection (BOM stripped)."""
    if name.lower().endswith(".docx"):
        import docx

        return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    if encoding is None:
        if data.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8-sig"
        else:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                encoding = "gbk"
    return data.decode(encoding)


class _Stream:
    """Uniform draws from a Generator, buffered (fast scalar draws, still one seeded stream)."""

    __slots__ = ("rng", "buf", "i", "block")

    def __init__(self, rng: np.random.Generator, block: int = 256):
        self.rng = rng
        self.block = block
        self.buf: list[float] = []
        self.i = 0

    def u(self) -> float:
        if self.i >= len(self.buf):
            self.buf = self.rng.random(self.block).tolist()
            self.i = 0
        v = self.buf[self.i]
        self.i += 1
        return v

    def below(self, n: int) -> int:
        return min(int(self.u() * n), n - 1)

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def between(self, lo: int, hi: int) -> int:
        """Integer uniform on [lo, hi]."""
        return lo + self.below(hi - lo + 1)

    def weighted(self, cum: list[float]) -> int:
        return min(bisect.bisect_right(cum, self.u() * cum[-1]), len(cum) - 1)

    def poisson(self, lam: float) -> int:
        """Poisson by inversion (small means)."""
        if lam <= 0:
            return 0
        u = self.u()
        k, p = 0, math.exp(-lam)
        c = p
        while u > c and k < 1000:
            k += 1
            p *= lam / k
            c += p
        return k


# --------------------------------------------------------------------------------------------
# text building
# --------------------------------------------------------------------------------------------
class _Doc:
    """Lines of runs (text, bold), with the character offset of everything added."""

    __slots__ = ("lines", "cur", "start", "length")

    def __init__(self):
        self.lines: list[list[tuple[str, bool]]] = []
        self.cur: list[tuple[str, bool]] | None = None
        self.start = 0
        self.length = 0

    def line(self) -> None:
        if self.cur is not None:
            self.start += self.length + 1
        self.cur = []
        self.lines.append(self.cur)
        self.length = 0

    def add(self, text: str, bold: bool = False) -> int:
        off = self.start + self.length
        if text:
            self.cur.append((text, bold))
            self.length += len(text)
        return off

    def text(self) -> str:
        return "\n".join("".join(t for t, _ in line) for line in self.lines)


class _Person:
    __slots__ = ("surname", "given", "female")

    def __init__(self, surname: str, given: str, female: bool):
        self.surname, self.given, self.female = surname, given, female

    @property
    def full(self) -> str:
        return self.surname + self.given


class _Interview:
    """Generates one interview from its plan and its own random stream."""

    def __init__(self, bank: _Bank, cfg: _Config, plan: dict, rng: np.random.Generator):
        self.B, self.cfg, self.plan = bank, cfg, plan
        self.S = _Stream(rng)
        self.doc = _Doc()
        self.pii: list[tuple[int, int, str, str, str]] = []     # offset, length, type, value, context
        self.units: list[tuple] = []
        self.city = plan["city"]
        if self.city not in bank.cities:
            raise PipelineError(f"config/transcript_bank.yaml: no 'cities' entry for {self.city}",
                                hint="add its area code, districts and ID region codes")
        self.group = "staff" if plan["role"] in bank.staff_roles else "resident"
        self.respondent = self.person()
        self.used: set[tuple[str, ...]] = set()

    # -- fake personal data ---------------------------------------------------------------
    def person(self) -> _Person:
        S, B = self.S, self.B
        female = S.u() < self.cfg.female
        chars = B.given["female" if female else "male"]
        surname = B.surnames[S.weighted(B.surname_cum)]
        given = S.pick(chars) + (S.pick(chars) if S.u() < self.cfg.given_two else "")
        return _Person(surname, given, female)

    def informal(self, p: _Person) -> str:
        S, inf = self.S, self.B.informal
        if S.u() < self.cfg.informal_prefix:
            return S.pick(inf["prefix"]) + p.surname
        return p.surname + S.pick(inf["female"] if p.female else inf["male"])

    def digits(self, n: int, first: str = "0123456789") -> str:
        return self.S.pick(first) + "".join(str(self.S.below(10)) for _ in range(n - 1))

    def mobile(self) -> str:
        S = self.S
        num = S.pick(self.B.mobile_prefixes) + self.digits(8)
        fmt = self.cfg.mobile_formats[S.weighted(self.cfg.mobile_cum)]
        if fmt == "spaced":
            return f"{num[:3]} {num[3:7]} {num[7:]}"
        if fmt == "dashed":
            return f"{num[:3]}-{num[3:7]}-{num[7:]}"
        return num

    def landline(self) -> str:
        area = str(self.B.cities[self.city]["area_code"])
        local = self.digits(7, "2345678")
        fmt = self.cfg.landline_formats[self.S.weighted(self.cfg.landline_cum)]
        return {"dash": f"{area}-{local}", "space": f"{area} {local}", "paren": f"（{area}）{local}"}[fmt]

    def id_number(self) -> str:
        S, cfg = self.S, self.cfg
        region = str(S.pick(self.B.cities[self.city]["id_regions"]))
        age = S.between(cfg.age[0], cfg.age[1])
        born = self.plan["date"] - timedelta(days=int(age * 365.25) + S.below(365))
        male = S.u() >= cfg.female
        seq = f"{S.below(100):02d}{S.below(5) * 2 + (1 if male else 0)}"
        first17 = f"{region}{born:%Y%m%d}{seq}"
        check = id_check_digit(first17)
        if check == "X" and S.u() < cfg.id_lower_x:
            check = "x"
        return first17 + check

    def address(self) -> str:
        S, B = self.S, self.B
        spec = B.cities[self.city]
        nums = B.addresses["numbers"]
        district = S.pick(list(spec["districts"]))
        floor = S.between(*nums["floor"])
        fields = {
            "city": self.city, "district": district,
            "community": S.pick(spec["districts"][district]["communities"]),
            "road": S.pick(spec["roads"]), "road_no": str(S.between(*nums["road_no"])),
            "xiaoqu": S.pick(B.addresses["xiaoqu"]),
            "building": str(S.between(*nums["building"])), "unit": str(S.between(*nums["unit"])),
            "floor": str(floor), "room": f"{floor}{S.between(*nums['door']):02d}",
            "side": S.pick(B.addresses["sides"]),
        }
        parts = S.pick(B.address_formats)
        return "".join(p if i % 2 == 0 else fields[p] for i, p in enumerate(parts))

    # -- realising templates ----------------------------------------------------------------
    def realise(self, parts: tuple[str, ...]) -> tuple[str, list[tuple[int, int, str, str]]]:
        """Fill a template; returns the text and its personal-data spans (relative offsets)."""
        out: list[str] = []
        spans: list[tuple[int, int, str, str]] = []
        cache: dict[str, str] = {}
        pos = 0
        for i, p in enumerate(parts):
            if i % 2 == 0:
                out.append(p)
                pos += len(p)
                continue
            base = p.split("#")[0]
            if p in cache:
                v = cache[p]
            elif base in PII_SLOTS:
                v = self.pii_value(base)
            else:
                v = self.S.pick(self.B.slots[base])
            cache[p] = v
            if base in PII_SLOTS:
                spans.append((pos, len(v), PII_SLOTS[base], v))
            out.append(v)
            pos += len(v)
        return "".join(out), spans

    def pii_value(self, slot: str) -> str:
        if slot == "name":
            return self.person().full
        if slot == "name_informal":
            return self.informal(self.person())
        if slot == "self_name":
            return self.respondent.full
        return getattr(self, slot)()

    # -- the file ---------------------------------------------------------------------------
    def build(self) -> None:
        S, B, cfg, plan, doc = self.S, self.B, self.cfg, self.plan, self.doc
        # header
        d = plan["date"]
        fields = {"interview_id": plan["interview_id"], "comm_id": plan["comm_id"], "role": plan["role_label"],
                  "date": B.date_formats[plan["date_format"]].format(y=d.year, m=d.month, d=d.day),
                  "city": self.city}
        for parts in B.header_styles[plan["header_style"]]:
            doc.line()
            doc.add("".join(p if i % 2 == 0 else fields[p] for i, p in enumerate(parts)))
        if plan["name_line"]:
            doc.line()
            parts = S.pick(B.name_lines)
            for i, p in enumerate(parts):
                if i % 2 == 0:
                    doc.add(p)
                else:
                    off = doc.add(self.respondent.full)
                    self.pii.append((off, len(self.respondent.full), "name", self.respondent.full, "header"))
        doc.line()
        # speaker labels
        colon = ":" if plan["halfwidth"] else "："
        conv = plan["convention"]
        if conv == "named":
            q_label = S.pick(B.speakers["named"]["interviewer"])
            titles = (B.label_titles.get(plan["role"]) or {}).get("female" if self.respondent.female else "male") or []
            if titles and S.u() < cfg.named_title:
                a_label = self.respondent.surname + S.pick(titles)
            else:
                a_label = self.respondent.full
        else:
            q_label, a_label = B.speakers[conv]["interviewer"], B.speakers[conv]["respondent"]
        self.labels = (q_label, a_label, colon, conv == "named")

        turns = self.plan_turns()
        carriers = self.plan_carriers(turns)
        for r, (kind, theme) in enumerate(turns):
            if r > 0 and plan["blank"]:
                doc.line()
            self.turn(r, kind, theme, carriers.get(r, []))

    def plan_turns(self) -> list[tuple[str, int]]:
        S, cfg = self.S, self.cfg
        turns: list[tuple[str, int]] = []
        if S.u() < cfg.opening["consent"]:
            turns.append(("consent", 0))
        if S.u() < cfg.opening["intro"]:
            turns.append(("intro", 0))
        prev = None
        for _ in range(S.between(*cfg.turns)):
            if prev is not None and S.u() < cfg.probe:
                turns.append(("probe", prev))
            else:
                prev = self.B.theme_ids[S.weighted(self.plan["theta_cum"])]
                turns.append(("thematic", prev))
        if S.u() < cfg.opening["closing"]:
            turns.append(("closing", 0))
        return turns

    def plan_carriers(self, turns) -> dict[int, list[int]]:
        S = self.S
        slots = [r for r, (k, _) in enumerate(turns) if k in ("thematic", "probe")]
        out: dict[int, list[int]] = {}
        drawn = {typ: 1 + S.poisson(extra) for typ, (p, extra) in self.cfg.pii_rates.items() if S.u() < p}
        for typ, count in drawn.items():
            # only carriers whose personal-data types were all drawn, so each type's rate is its p
            allowed = [c for c in self.B.carriers_by_type[typ] if self.B.carrier_types[c] <= drawn.keys()]
            for _ in range(count):
                out.setdefault(S.pick(slots), []).append(S.pick(allowed))
        return out

    def question_line(self, parts) -> None:
        q_label, _, colon, _ = self.labels
        self.doc.line()
        self.doc.add(q_label + colon, bold=True)
        text, _ = self.realise(parts)
        self.doc.add(text)

    def answer_start(self) -> None:
        _, a_label, colon, named = self.labels
        self.doc.line()
        off = self.doc.add(a_label, bold=True)
        if named:
            self.pii.append((off, len(a_label), "name", a_label, "speaker"))
        self.doc.add(colon, bold=True)

    def turn(self, r: int, kind: str, theme: int, carriers: list[int]) -> None:
        S, B, cfg = self.S, self.B, self.cfg
        role = self.plan["role"]
        if kind in ("consent", "closing", "intro"):
            qs, ans = {"consent": B.consent, "closing": B.closing}.get(kind) or B.intro[role]
            self.question_line(S.pick(qs))
            if kind == "intro":
                k = min(len(ans), S.between(*cfg.intro_sentences))
                order = list(range(len(ans)))
                chosen = [order.pop(S.below(len(order))) for _ in range(k)]
                entries = [(0, "", ans[j], None) for j in chosen]
            else:
                entries = [(0, "", S.pick(ans), None)]
            self.answer(r, kind, 0, entries)
            return
        self.question_line(S.pick(B.probes) if kind == "probe" else S.pick(B.questions[theme]))
        n = min(cfg.spt_max, max(cfg.spt_min, 1 + S.poisson(cfg.spt_mean - 1)))
        plan: list[list] = []   # [theme, carrier index or None]
        for _ in range(n):
            u = S.u()
            if u < cfg.c_main:
                plan.append([theme, None])
            elif u < cfg.c_filler:
                plan.append([0, None])
            else:
                plan.append([self.other_theme(theme), None])
        for c in carriers:
            plan.insert(S.below(len(plan) + 1), [B.carriers[c][1], c])
        self.enforce_main(plan, theme)
        main_variant = self.variant(theme)
        entries = []
        for th, c in plan:
            if c is not None:
                entries.append((th, "pii", B.carriers[c][0], c))
            elif th == 0:
                entries.append((0, "", self.fresh(B.fillers), None))
            else:
                v = main_variant if th == theme else self.variant(th)
                entries.append((th, v, self.fresh(B.sentences[(th, v, self.group)]), None))
        self.answer(r, kind, theme, entries)

    def fresh(self, templates: list[tuple[str, ...]]) -> tuple[str, ...]:
        """A template not yet used in this interview if one turns up within a few draws."""
        for _ in range(self.cfg.fresh_tries):
            t = self.S.pick(templates)
            if t not in self.used:
                break
        self.used.add(t)
        return t

    def other_theme(self, main: int) -> int:
        ids = self.B.theme_ids
        if len(ids) == 1:
            return main
        for _ in range(50):
            t = ids[self.S.weighted(self.plan["theta_cum"])]
            if t != main:
                return t
        return self.S.pick([t for t in ids if t != main])

    def enforce_main(self, plan: list[list], main: int) -> None:
        """Make the main theme the strict plurality of the turn's sentence labels."""
        while True:
            counts: dict[int, int] = {}
            for th, _ in plan:
                counts[th] = counts.get(th, 0) + 1
            rivals = {k: v for k, v in counts.items() if k != main}
            top = max(rivals.values(), default=0)
            if counts.get(main, 0) > top:
                return
            label = min(k for k, v in rivals.items() if v == top)
            cand = [i for i, (th, c) in enumerate(plan) if c is None and th == label]
            cand = cand or [i for i, (th, c) in enumerate(plan) if c is None and th != main]
            if cand:
                plan[self.S.pick(cand)][0] = main
            else:
                plan.insert(self.S.below(len(plan) + 1), [main, None])

    def variant(self, theme: int) -> str:
        names, cum = self.plan["variant_cum"][theme]
        return names[self.S.weighted(cum)] if len(names) > 1 else names[0]

    def answer(self, r: int, kind: str, turn_theme: int, entries: list[tuple]) -> None:
        S, B, noise, doc = self.S, self.B, self.cfg.noise, self.doc
        self.answer_start()
        last = len(entries) - 1
        for j, (th, variant, parts, carrier) in enumerate(entries):
            text, spans = self.realise(parts)
            if S.u() < noise["discourse_prefix"]:
                pre = S.pick(B.prefixes)
                text = pre + text
                spans = [(o + len(pre), n, t, v) for o, n, t, v in spans]
            if j < last and text.endswith("。") and S.u() < noise["comma_join"]:
                text = text[:-1] + "，"
            off = doc.add(text)
            self.units.append((r, j, th, off, len(text), turn_theme, kind, variant))
            for o, n, t, v in spans:
                self.pii.append((off + o, n, t, v, "body"))
            if S.u() < noise["annotation"]:
                doc.add(S.pick(B.annotations))
            if j < last and S.u() < noise["paragraph_split"]:
                doc.line()


# --------------------------------------------------------------------------------------------
# .docx runs
# --------------------------------------------------------------------------------------------
def _split_runs(lines: list[list[tuple[str, bool]]], S: _Stream, rate: float) -> list[list[tuple[str, bool]]]:
    out = []
    for runs in lines:
        new = []
        for t, bold in runs:
            if len(t) > 1 and S.u() < rate:
                k = 1 + S.below(len(t) - 1)
                new += [(t[:k], bold), (t[k:], bold)]
            else:
                new.append((t, bold))
        out.append(new)
    return out


# --------------------------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------------------------
def _covariates(communities: pd.DataFrame, comm_idx: np.ndarray, roles: list[str]) -> list[dict]:
    rows = communities.to_dict(orient="records")
    return [{**rows[c], "role": r} for c, r in zip(comm_idx, roles)]


def _check_factors(mix: dict, cov: dict, where: str) -> None:
    for factor in list(mix["shifts"]) + list(mix["slopes"]):
        if factor not in cov:
            raise PipelineError(f"params.yaml: {where} names '{factor}', which is neither a community column nor role",
                                hint=f"use one of {sorted(cov)}")


def simulate_transcripts(communities: pd.DataFrame, params: dict, rng: np.random.Generator, bank: dict) -> TranscriptCorpus:
    """Generate the interview corpus of the demo study in memory (see the module docstring):
    the interview-level design from ``rng``, then each interview from its own seed."""
    _check_communities(communities)
    B = _Bank(bank, list(bank["roles"]))
    cfg = _Config(params, B)
    n = cfg.n
    design = _draw_design(communities, cfg, rng)

    width = max(3, len(str(n)))
    files: list[tuple[str, bytes]] = []
    inter_rows, pii_rows, unit_rows = [], [], []
    for k in range(n):
        iid = f"I{k + 1:0{width}d}"
        plan = _interview_plan(B, cfg, design, k, iid)
        iv = _Interview(B, cfg, plan, np.random.default_rng(int(design.seeds[k])))
        iv.build()
        text = iv.doc.text()
        name, fmt, enc, data, fallback = _transcript_file(cfg, iid, cfg.kinds[design.kind_idx[k]], iv, plan["date"],
                                                          text)
        files.append((name, data))
        inter_rows.append((iid, plan["comm_id"], plan["role"], plan["role_label"], plan["date"].isoformat(), name,
                           enc, fmt, plan["convention"], plan["header_style"], fallback,
                           sum(1 for u in iv.units if u[1] == 0), len(text) + (fmt == "txt")))
        for off, length, typ, value, ctx in iv.pii:
            pii_rows.append((iid, name, off, length, typ, value, ctx))
        for u in iv.units:
            unit_rows.append((iid, *u))

    interviews = pd.DataFrame(inter_rows, columns=INTERVIEW_COLUMNS)
    pii = pd.DataFrame(pii_rows, columns=PII_COLUMNS).sort_values(["interview_id", "offset"], kind="stable")
    units = pd.DataFrame(unit_rows, columns=UNIT_COLUMNS)
    effects = _theme_effects(B, cfg, design.covs, design.expected)
    return TranscriptCorpus(files=files, interviews=interviews, pii=pii.reset_index(drop=True), units=units,
                            theme_effects=effects)


def _check_communities(communities: pd.DataFrame) -> None:
    """Raise :class:`PipelineError` unless the communities have rows and the columns the
    theme and variant mixtures may use."""
    need = ["comm_id", "city", "comm_type", "minority_share", "gov_model", "n_social_orgs", "points_scheme",
            "n_households"]
    missing = [c for c in need if c not in communities.columns]
    if missing:
        raise PipelineError(f"simulate_transcripts: communities lack columns {missing}")
    if communities.empty:
        raise PipelineError("simulate_transcripts: no communities")


@dataclass(frozen=True)
class _Design:
    """The interview-level draws of the corpus, one entry per interview: covariates (community
    row and role), expected and drawn theme mixtures, the indices of its file kind, speaker
    convention, header style and date format, header and noise switches, its own seed."""

    covs: list[dict]
    roles: list[str]
    expected: np.ndarray
    theta: np.ndarray
    day: np.ndarray
    kind_idx: np.ndarray
    conv_idx: np.ndarray
    header_idx: np.ndarray
    datefmt_idx: np.ndarray
    name_line: np.ndarray
    halfwidth: np.ndarray
    blank: np.ndarray
    seeds: np.ndarray
    label_idx: np.ndarray


def _draw_design(communities: pd.DataFrame, cfg: _Config, rng: np.random.Generator) -> _Design:
    """The interview-level design: one vectorised draw each, in a fixed order (communities
    balanced or at random, role, day, kind, convention, header, date format, switches, the
    Dirichlet theme mixture around its expectation, the interviews' seeds, role labels)."""
    n, n_comm = cfg.n, len(communities)
    if cfg.assignment == "balanced":
        reps = -(-n // n_comm)
        comm_idx = np.concatenate([rng.permutation(n_comm) for _ in range(reps)])[:n]
        comm_idx = comm_idx[rng.permutation(n)]
    else:
        comm_idx = rng.integers(0, n_comm, size=n)
    role_idx = rng.choice(len(cfg.roles), size=n, p=cfg.role_p)
    day = np.sort(rng.integers(0, max(1, cfg.days), size=n))
    kind_idx = rng.choice(len(cfg.kinds), size=n, p=cfg.kind_p)
    conv_idx = rng.choice(len(cfg.conventions), size=n, p=cfg.conv_p)
    header_idx = rng.choice(len(cfg.header_styles), size=n, p=cfg.header_p)
    datefmt_idx = rng.choice(len(cfg.date_formats), size=n, p=cfg.date_p)
    name_line = rng.random(n) < cfg.name_line
    halfwidth = rng.random(n) < cfg.noise["halfwidth_colon"]
    blank = rng.random(n) < cfg.noise["blank_line_between_turns"]
    roles = [cfg.roles[i] for i in role_idx]
    covs = _covariates(communities, comm_idx, roles)
    _check_factors(cfg.theme_mix, covs[0], "simulate.transcripts.theme_mixture")
    for t, mix in cfg.variant_mix.items():
        _check_factors(mix, covs[0], f"simulate.transcripts.variants.{t}")
    expected = np.array([_softmax(_log_weights(cfg.theme_mix, c)) for c in covs])
    gam = rng.gamma(np.maximum(cfg.concentration * expected, 1e-6))
    theta = gam / gam.sum(axis=1, keepdims=True)
    seeds = rng.integers(0, np.iinfo(np.int64).max, size=n, dtype=np.int64)
    label_idx = rng.random(n)
    return _Design(covs=covs, roles=roles, expected=expected, theta=theta, day=day, kind_idx=kind_idx,
                   conv_idx=conv_idx, header_idx=header_idx, datefmt_idx=datefmt_idx, name_line=name_line,
                   halfwidth=halfwidth, blank=blank, seeds=seeds, label_idx=label_idx)


def _interview_plan(B: _Bank, cfg: _Config, d: _Design, k: int, iid: str) -> dict[str, Any]:
    """The plan of interview ``k`` that :class:`_Interview` builds: ids, role and its label,
    date, convention, header style, date format, switches, cumulative theme and variant mixtures."""
    cov = d.covs[k]
    role = d.roles[k]
    labels = B.role_labels[role]
    return {
        "interview_id": iid, "comm_id": str(cov["comm_id"]), "city": str(cov["city"]), "role": role,
        "role_label": labels[min(int(d.label_idx[k] * len(labels)), len(labels) - 1)],
        "date": cfg.start + timedelta(days=int(d.day[k])), "convention": cfg.conventions[d.conv_idx[k]],
        "header_style": cfg.header_styles[d.header_idx[k]], "date_format": cfg.date_formats[d.datefmt_idx[k]],
        "name_line": bool(d.name_line[k]), "halfwidth": bool(d.halfwidth[k]), "blank": bool(d.blank[k]),
        "theta_cum": _cum(d.theta[k]),
        "variant_cum": {t: (mix["keys"], _cum(_softmax(_log_weights(mix, cov))))
                        for t, mix in cfg.variant_mix.items()},
    }


def _transcript_file(cfg: _Config, iid: str, kind: str, iv: _Interview, date: Any, text: str
                     ) -> tuple[str, str, str, bytes, bool]:
    """One built interview as a file: name, format, encoding, bytes and whether a GBK file fell
    back to UTF-8 (a character GBK cannot encode). A .docx splits some runs (``docx_run_split``)."""
    fallback = False
    if kind == "docx":
        name, fmt, enc = f"{iid}.docx", "docx", "utf-8"
        runs = _split_runs(iv.doc.lines, iv.S, cfg.noise["docx_run_split"])
        data = docx_bytes(runs, f"访谈记录 {iid}", date)
    else:
        name, fmt, enc = f"{iid}.txt", "txt", kind
        body = text + "\n"
        if enc == "gbk":
            try:
                data = body.encode("gbk")
            except UnicodeEncodeError:
                enc, fallback = "utf-8", True
                data = body.encode("utf-8")
        else:
            data = body.encode(enc)
    return name, fmt, enc, data, fallback


def _theme_effects(B: _Bank, cfg: _Config, covs: list[dict], expected: np.ndarray) -> dict[str, Any]:
    """Planted shifts and the expected shares they imply: for each factor and level, the mean over
    the drawn interviews of the expected mixture with that factor set to that level (other
    covariates as drawn), and the contrast of each level with the others."""

    def r6(x: float) -> float:
        return round(float(x), 6)

    def shares(mix: dict, factor: str, level: str) -> np.ndarray:
        rows = []
        for c in covs:
            c2 = dict(c)
            c2[factor] = level if factor == "role" else float(level) if "." in level else int(level)
            rows.append(_softmax(_log_weights(mix, c2)))
        return np.mean(rows, axis=0)

    def analyse(mix: dict, key_name: str) -> tuple[dict, list[dict]]:
        out, contrasts = {}, []
        for factor, levels_spec in mix["shifts"].items():
            observed = [_lvl(c[factor]) for c in covs]
            freq = {lv: observed.count(lv) for lv in set(observed)}
            levels = sorted(set(levels_spec) | set(freq), key=lambda s: (len(s), s))
            if factor == "role":
                levels = sorted(set(levels) | set(cfg.roles))
            table = {lv: shares(mix, factor, lv) for lv in levels}
            out[factor] = {lv: {str(k): r6(v) for k, v in zip(mix["keys"], table[lv])} for lv in levels}
            planted = {k for lv in levels_spec.values() for k, s in lv.items() if s != 0}
            if len(levels) < 2:
                continue
            pairs = [(levels[1], [levels[0]])] if len(levels) == 2 else [(lv, [o for o in levels if o != lv]) for lv in levels]
            for lv, ref in pairs:
                w = np.array([freq.get(o, 0) for o in ref], dtype=float)
                w = w if w.sum() > 0 else np.ones(len(ref))
                rest = sum(wi * table[o] for wi, o in zip(w, ref)) / w.sum()
                for i, key in enumerate(mix["keys"]):
                    diff = table[lv][i] - rest[i]
                    contrasts.append({"factor": factor, "level": lv, "reference": ref if len(ref) > 1 else ref[0],
                                      key_name: key, "difference": r6(diff), "sign": int(np.sign(round(diff, 6))),
                                      "planted": key in planted})
        return out, contrasts

    theme_share, theme_contrasts = analyse(cfg.theme_mix, "theme")
    variants = {}
    for t, mix in cfg.variant_mix.items():
        if len(mix["keys"]) < 2 or not mix["shifts"]:
            continue
        share, contrasts = analyse(mix, "variant")
        for c in contrasts:
            c["theme"] = t
        variants[str(t)] = {"keys": mix["keys"], "base": {k: r6(v) for k, v in mix["base"].items()},
                            "shifts": {f: {lv: {k: r6(v) for k, v in e.items()} for lv, e in lvls.items()}
                                       for f, lvls in mix["shifts"].items()},
                            "expected_share": share, "contrasts": contrasts}

    tm = cfg.theme_mix
    return {
        "unit": ("expected share of thematic respondent turns by main theme (units.turn_theme of turn_kind "
                 "thematic/probe), before the interview-level Dirichlet draw; variant shares are of a theme's "
                 "sentences (units.variant)"),
        "themes": {str(t): {"zh": B.raw["themes"][t]["zh"], "en": B.raw["themes"][t]["en"]} for t in B.theme_ids},
        "theme_mixture": {
            "base": {str(k): r6(v) for k, v in tm["base"].items()},
            "shifts": {f: {lv: {str(k): r6(v) for k, v in e.items()} for lv, e in lvls.items()}
                       for f, lvls in tm["shifts"].items()},
            "slopes": {f: {"center": r6(s["center"]), "effects": {str(k): r6(v) for k, v in s["effects"].items()}}
                       for f, s in tm["slopes"].items()},
            "interview_concentration": r6(cfg.concentration),
        },
        "expected_share_overall": {str(k): r6(v) for k, v in zip(tm["keys"], expected.mean(axis=0))},
        "expected_share": theme_share,
        "contrasts": theme_contrasts,
        "variants": variants,
    }


def write_corpus(corpus: TranscriptCorpus, transcripts_dir: Path, truth_dir: Path) -> None:
    """Write the transcript files and the truth tables; each file is written atomically.

    Transcript files of an earlier run (I*.txt / I*.docx) that are not in this corpus are removed
    from ``transcripts_dir``; other files there are left alone.
    """
    transcripts_dir, truth_dir = Path(transcripts_dir), Path(truth_dir)
    transcripts_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    names = {name for name, _ in corpus.files}
    for name, data in sorted(corpus.files):
        write_bytes(transcripts_dir / name, data)
    for old in sorted(transcripts_dir.iterdir()):
        if FILE_RE.match(old.name) and old.name not in names:
            old.unlink()
    write_csv(truth_dir / "transcript_interviews.csv",
              corpus.interviews.sort_values("interview_id", kind="stable").reset_index(drop=True))
    write_csv(truth_dir / "transcript_pii.csv",
              corpus.pii.sort_values(["interview_id", "offset", "length"], kind="stable").reset_index(drop=True))
    write_csv(truth_dir / "transcript_units.csv",
              corpus.units.sort_values(["interview_id", "turn", "sentence"], kind="stable").reset_index(drop=True))
    write_json(truth_dir / "transcript_theme_effects.json", corpus.theme_effects)

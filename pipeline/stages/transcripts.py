"""The transcripts stage: read every interview, redact personal data, segment the Chinese text.

Steps (each a pure function; :func:`main` only reads and writes; docs/transcripts.md has the
details and the measured quality):

1. :func:`decode_transcript` reads a file's bytes: ``.docx`` through python-docx (paragraphs
   joined with "\\n"), text by strict decoding only: a BOM (UTF-8, UTF-16), else UTF-8, else
   GB18030 (the superset of GBK). A file that is damaged UTF-8, or whose GB18030 reading is not
   plausible Chinese (e.g. Big5), is not decoded at all: it is skipped with the reason, never
   turned into mojibake. Full-width digits and Latin letters become ASCII (one character for
   one, so offsets do not move); CRLF becomes LF.
2. :func:`parse_transcript` splits the header (the lines before the first speaker turn; the
   fields of ``config/transcripts.yaml: header``) from the turns. Speaker labels are the
   interviewer / respondent markers of the config (问：/答：, 访谈者：/受访者：, full- or
   half-width colon) or a named speaker (马玉兰：, 李书记：) used at least twice; a line without
   a label continues the turn before it. Interviewer turns are kept apart from respondent turns.
3. :func:`find_pii` finds personal data in the whole decoded text, in this order (an earlier
   kind wins where two overlap): e-mails; 18-digit ID numbers whose ISO 7064 check digit is
   right; mobile numbers (plain, spaced, dashed, +86); landlines (area code with dash, space or
   brackets; a 7-8 digit number just after 电话/座机/...); any other run of at least
   ``long_number_min_digits`` digits (an 18-digit number with a wrong check digit lands here, as
   ``long_number``, not as an ID); addresses anchored on building / unit / room numbers and
   extended left over the place names before them; names: the header's name line, named
   speaker labels, the manifest's roster, words jieba cuts that start with a surname and are
   not ordinary dictionary words, and informal forms (老马, 小李, 马大姐, 李书记). Every name
   found is then redacted wherever else it occurs in the interview.
4. :func:`redact` replaces each span with a placeholder ``[姓名1]``, numbered per type in order
   of first appearance: the same value gets the same placeholder throughout an interview.
   Nothing after this step sees the raw text: units, questions, tokens, the cache, the logs and
   the error messages are made from the redacted text (file names are redacted too).
5. :func:`build_units`: transcriber's notes (（笑）, [停顿]) are removed; respondent turns are
   split into sentences (``unit: sentence``) or kept whole (``unit: turn``). A unit's id is
   ``interview:turn:sentence`` (respondent turns and sentences numbered from 1 in file order;
   0 for a whole turn), the same on every run.
6. :class:`Segmenter` cuts the redacted text with jieba or rjieba (jieba-rs), both with the
   user dictionary (``config/userdict.txt``, frequencies resolved once by jieba so both engines
   get the same numbers). Runs of non-Chinese characters are re-split by jieba's own rule, so
   the two engines give the same tokens (tested on the corpus); a text with CJK characters
   outside jieba's range goes to jieba. Tokens are cached per interview under
   ``cache_dir/<dictionary hash>/`` keyed by the redacted text, so a rerun segments nothing.
   Content tokens leave out punctuation, numbers, placeholders and ``config/stopwords.txt``.
7. :func:`dictionary_audit`: for every user term, its occurrences in the units' text (longest
   term first) and how many came out as a single token.

Bad input never disappears: an undecodable or empty file, one with no respondent turns, no
interview id, an unknown community id, a duplicate interview id or an unsupported format is
listed in ``skipped.csv`` with its reason, or, with ``strict: true``, stops the stage with one
message (exit 2) and no output.

Outputs (``processed/transcripts/``, built in a temporary folder and swapped in whole):
``units.parquet``, ``questions.parquet``, ``interviews.csv``, ``redaction_log.csv`` (counts by
file and type, never values), ``dictionary_audit.csv``, ``skipped.csv``; and
``metrics/transcripts.json``. The same inputs give the same bytes.
"""
from __future__ import annotations

import argparse
import bisect
import hashlib
import importlib.util
import io
import json
import re
import sys
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import atomic_dir, atomic_path, read_csv_strings, write_bytes, write_csv, write_parquet
from pipeline.core.instrument import load_instrument, read_community_ids
from pipeline.core.parallel import ParallelSettings, as_settings, from_params, iter_tasks

PII_TYPES = ("name", "mobile", "landline", "id_number", "email", "address", "long_number")
ENGINES = ("jieba", "rjieba", "auto")
UNITS = ("sentence", "turn")
TEXT_SUFFIXES = {".txt", ".text"}
DOCX_SUFFIXES = {".docx"}
NORMALISATION = "ascii-resplit-v1"          # part of the token cache key
MIN_COMMON_HAN = 0.85                       # GB18030 reading: share of Han characters in GB2312
MAX_CONTROL_SHARE = 0.01                    # decoded text: share of control characters (binary file)
RARE_FREQ = 10                              # jieba dictionary words rarer than this may be names
COMMON_FREQ = 1000                          # ... and words at least this frequent are everyday words
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
FULLWIDTH_ALNUM = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}
HAN_JIEBA = re.compile(r"[\u4e00-\u9fd5]")                     # jieba's own Han range
CJK_OTHER = re.compile(r"[\u3400-\u4dbf\u9fd6-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
NEEDS_RESPLIT = re.compile(r"[A-Za-z0-9\s]|[^\u4e00-\u9fd5]{2}")
ASCII_SPLIT = re.compile(r"[A-Za-z0-9]+(?:\.\d+)?%?|.", re.DOTALL)
NUMBER_TOKEN = re.compile(r"[\d.%]+")
WORD_CHAR = re.compile(r"[\w\u3400-\u9fff]")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

OUTPUTS = {
    "units": "units.parquet",
    "questions": "questions.parquet",
    "interviews": "interviews.csv",
    "redactions": "redaction_log.csv",
    "audit": "dictionary_audit.csv",
    "skipped": "skipped.csv",
}
UNIT_COLUMNS = ["unit_id", "interview_id", "comm_id", "role", "date", "turn", "sentence", "speaker", "text",
                "tokens", "n_tokens"]
QUESTION_COLUMNS = ["question_id", "interview_id", "comm_id", "role", "date", "question", "before_turn", "speaker",
                    "text", "tokens", "n_tokens"]
INTERVIEW_COLUMNS = ["interview_id", "file", "comm_id", "role", "role_label", "date", "encoding", "format",
                     "convention", "n_turns", "n_questions", "n_units", "n_tokens", "n_redactions"]
SKIP_COLUMNS = ["file", "reason_code", "reason"]
METRICS_FILE = config.METRICS / "transcripts.json"
OUT_DIR = config.PROCESSED / "transcripts"


class Unusable(Exception):
    """A transcript that cannot be used: ``code`` (for counting) and ``reason`` (no personal data)."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


# --------------------------------------------------------------------------------------------
# configuration: config/transcripts.yaml and the word lists
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """``config/transcripts.yaml`` checked and compiled, with the surname and stopword lists."""

    path: str
    field_of: dict[str, str]                  # header label -> interview_id|comm_id|role|date|name|personal
    header_re: re.Pattern
    strip_brackets: bool
    date_res: tuple[re.Pattern, ...]
    role_labels: dict[str, str]
    role_keywords: tuple[tuple[str, str], ...]
    interviewer: frozenset[str]
    respondent: frozenset[str]
    label_re: re.Pattern
    min_named_uses: int
    sentence_re: re.Pattern
    annotation_re: re.Pattern
    placeholder: str
    placeholder_labels: dict[str, str]
    placeholder_re: re.Pattern
    long_min: int | None
    phone_words: tuple[str, ...]
    phone_window: int
    surnames: frozenset[str]                  # strong surnames (1 or 2 characters)
    weak_surnames: frozenset[str]
    prefixes: frozenset[str]
    titles: tuple[str, ...]                   # longest first
    dict_max_freq: int
    given_max: int
    glue_before: frozenset[str]
    glue_after: frozenset[str]
    not_names: frozenset[str]
    not_given: frozenset[str]
    not_final: frozenset[str]
    name_triggers: tuple[str, ...]
    strong_triggers: frozenset[str]
    weak_triggers: frozenset[str]
    name_suffixes: frozenset[str]
    prefix_re: re.Pattern | None              # 老马, 小李
    title_re: re.Pattern | None               # 马大姐, 李书记
    address_re: re.Pattern
    address_stop: frozenset[str]
    address_max_prefix: int
    stopwords: frozenset[str]


def _cfg_need(spec: Any, key: str, where: str) -> Any:
    if not isinstance(spec, dict) or key not in spec:
        raise PipelineError(f"{where}: '{key}' is missing", hint="see the comments in config/transcripts.yaml")
    return spec[key]


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise PipelineError(f"{where} must be a list of words")
    return [str(v) for v in value]


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def read_word_list(path: Path, what: str) -> list[list[str]]:
    """A word list file: one entry a line, fields split on whitespace, ``#`` comments."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PipelineError(f"{path}: {what} not found", hint="check params.yaml: transcripts") from None
    except UnicodeDecodeError:
        raise PipelineError(f"{path}: {what} is not UTF-8 text") from None
    return [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def load_rules(path: str | Path, stopwords_path: str | Path) -> Rules:
    """Read ``config/transcripts.yaml`` (and the lists it names) into :class:`Rules`."""
    path = Path(path)
    where = str(path)
    raw = config.read_yaml(path, "transcripts configuration", "check params.yaml: transcripts.config")
    header = _cfg_need(raw, "header", where)
    fields = _cfg_need(header, "fields", f"{where}: header")
    field_of: dict[str, str] = {}
    for name in ("interview_id", "comm_id", "role", "date"):
        for label in _str_list(_cfg_need(fields, name, f"{where}: header.fields"), f"{where}: header.fields.{name}"):
            field_of[label] = name
    for label in _str_list(header.get("name_fields") or [], f"{where}: header.name_fields"):
        field_of[label] = "name"
    for label in _str_list(header.get("personal_fields") or [], f"{where}: header.personal_fields"):
        field_of[label] = "personal"
    header_re = re.compile(rf"(?:^|(?<=[\s\u3000]))({_alternation(field_of)})[ \t\u3000]*[：:]")
    date_res = []
    for pattern in _str_list(_cfg_need(header, "date_formats", f"{where}: header"), f"{where}: header.date_formats"):
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise PipelineError(f"{where}: header.date_formats: '{pattern}' is not a regular expression ({exc})") from None
        if not {"y", "m", "d"} <= set(rx.groupindex):
            raise PipelineError(f"{where}: header.date_formats: '{pattern}' needs the groups y, m and d")
        date_res.append(rx)

    roles = _cfg_need(raw, "roles", where)
    role_labels = {str(label): str(code) for code, labels in (_cfg_need(roles, "labels", f"{where}: roles") or {}).items()
                   for label in _str_list(labels, f"{where}: roles.labels.{code}")}
    role_keywords = []
    for pair in roles.get("keywords") or []:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise PipelineError(f"{where}: roles.keywords entries must be [keyword, code]")
        role_keywords.append((str(pair[0]), str(pair[1])))

    speakers = _cfg_need(raw, "speakers", where)
    interviewer = frozenset(_str_list(_cfg_need(speakers, "interviewer", f"{where}: speakers"), f"{where}: speakers.interviewer"))
    respondent = frozenset(_str_list(_cfg_need(speakers, "respondent", f"{where}: speakers"), f"{where}: speakers.respondent"))
    if interviewer & respondent:
        raise PipelineError(f"{where}: speakers {sorted(interviewer & respondent)} are both interviewer and respondent markers")
    max_label = int(speakers.get("max_label_chars", 8))
    label_re = re.compile(r"^[ \t\u3000]*([^\s：:，。,.!?！？、；;（）()\[\]【】“”\"'《》]{1,%d})[ \t\u3000]*[：:]" % max_label)

    text = _cfg_need(raw, "text", where)
    ends = str(_cfg_need(text, "sentence_end", f"{where}: text"))
    closing = str(text.get("closing", ""))
    sentence_re = re.compile(rf"[^{re.escape(ends)}]+(?:[{re.escape(ends)}]+[{re.escape(closing)}]*)?|[{re.escape(ends)}]+[{re.escape(closing)}]*")
    notes = _str_list(text.get("annotations") or [], f"{where}: text.annotations")
    try:
        annotation_re = re.compile("|".join(f"(?:{n})" for n in notes) if notes else r"(?!x)x")
    except re.error as exc:
        raise PipelineError(f"{where}: text.annotations is not a valid regular expression ({exc})") from None

    red = _cfg_need(raw, "redaction", where)
    placeholder = str(_cfg_need(red, "placeholder", f"{where}: redaction"))
    if "{n}" not in placeholder or "{label}" not in placeholder:
        raise PipelineError(f"{where}: redaction.placeholder must contain {{label}} and {{n}}")
    labels = {str(k): str(v) for k, v in (_cfg_need(red, "labels", f"{where}: redaction") or {}).items()}
    missing = [t for t in PII_TYPES if t not in labels]
    if missing:
        raise PipelineError(f"{where}: redaction.labels lacks {missing}")
    before, after = placeholder.split("{label}")[0], placeholder.split("{n}")[-1]
    middle = placeholder.split("{label}")[1].split("{n}")[0]
    placeholder_re = re.compile(re.escape(before) + f"(?:{_alternation(labels.values())})" + re.escape(middle) + r"\d+" + re.escape(after))
    long_min = red.get("long_number_min_digits")

    names = _cfg_need(red, "names", f"{where}: redaction")
    surname_rows = read_word_list(path.parent / str(_cfg_need(names, "surnames", f"{where}: redaction.names")), "surname list")
    surnames = frozenset(r[0] for r in surname_rows if "weak" not in r[1:])
    weak = frozenset(r[0] for r in surname_rows if "weak" in r[1:])
    if not surnames:
        raise PipelineError(f"{where}: the surname list is empty")

    addr = _cfg_need(red, "address", f"{where}: redaction")

    def parts(key: str) -> list[str]:
        return _str_list(_cfg_need(addr, key, f"{where}: redaction.address"), f"{where}: redaction.address.{key}")

    num = r"(?:\d{1,4}|[一二三四五六七八九十百零〇两]{1,4})"
    building, unit, floor, room = (_alternation(parts(k)) for k in ("building", "unit", "floor", "room"))
    sides = re.escape("".join(parts("sides")))
    road_ends = re.escape("".join(sorted({r[-1] for r in parts("roads")})))
    tail = rf"(?:{num}(?:{floor}))?(?:\d{{1,5}}(?:{room})?|[{sides}]边?(?:{room}))?"
    address_re = re.compile(
        rf"(?<!\d)\d{{1,4}}(?:{building})(?:{num}(?:{unit}))?{tail}"            # 12号楼(3单元)(5楼)(502室)
        rf"|{num}(?:{building}){num}(?:{unit}){tail}"                           # 十二栋三单元...
        rf"|(?<!\d)\d{{1,4}}(?:{unit})(?:{num}(?:{floor}))?(?:\d{{1,5}}(?:{room})?|[{sides}]边?(?:{room}))"  # 3单元502室
        rf"|(?<=[{road_ends}])\d{{1,4}}号(?![楼院])"                              # 北京中路154号
    )

    prefixes = _str_list(names.get("prefixes") or [], f"{where}: redaction.names.prefixes")
    titles = _str_list(names.get("titles") or [], f"{where}: redaction.names.titles")
    sur_alt = _alternation(surnames)
    prefix_re = re.compile(rf"(?:{_alternation(prefixes)})(?:{sur_alt})") if prefixes else None
    title_re = re.compile(rf"(?:{sur_alt})(?:{_alternation(titles)})") if titles else None

    stop_path = Path(stopwords_path)
    stopwords = frozenset(r[0] for r in read_word_list(stop_path, "stopword list"))
    return Rules(
        path=str(path), field_of=field_of, header_re=header_re, strip_brackets=bool(header.get("strip_brackets", True)),
        date_res=tuple(date_res), role_labels=role_labels, role_keywords=tuple(role_keywords),
        interviewer=interviewer, respondent=respondent, label_re=label_re,
        min_named_uses=int(speakers.get("min_named_label_uses", 2)), sentence_re=sentence_re,
        annotation_re=annotation_re, placeholder=placeholder, placeholder_labels=labels, placeholder_re=placeholder_re,
        long_min=int(long_min) if long_min is not None else None,
        phone_words=tuple(_str_list(red.get("phone_words") or [], f"{where}: redaction.phone_words")),
        phone_window=int(red.get("phone_word_window", 6)),
        surnames=surnames, weak_surnames=weak,
        prefixes=frozenset(prefixes), titles=tuple(sorted(set(titles), key=lambda w: (-len(w), w))),
        dict_max_freq=int(names.get("dict_max_freq", 100)), given_max=int(names.get("given_max_chars", 2)),
        glue_before=frozenset(_str_list(names.get("glue_before") or [], f"{where}: redaction.names.glue_before")),
        glue_after=frozenset(_str_list(names.get("glue_after") or [], f"{where}: redaction.names.glue_after")),
        not_names=frozenset(_str_list(names.get("not_names") or [], f"{where}: redaction.names.not_names")),
        not_given=frozenset(str(names.get("not_given", ""))), not_final=frozenset(str(names.get("not_final", ""))),
        name_triggers=tuple(_str_list(names.get("triggers") or [], f"{where}: redaction.names.triggers")),
        strong_triggers=frozenset(_str_list(names.get("strong_triggers") or [], f"{where}: redaction.names.strong_triggers")),
        weak_triggers=frozenset(_str_list(names.get("weak_triggers") or [], f"{where}: redaction.names.weak_triggers")),
        name_suffixes=frozenset(str(names.get("name_suffixes", ""))),
        prefix_re=prefix_re, title_re=title_re,
        address_re=address_re, address_stop=frozenset(str(addr.get("stop_before", ""))),
        address_max_prefix=int(addr.get("max_prefix_chars", 30)), stopwords=stopwords,
    )


# --------------------------------------------------------------------------------------------
# 1. decoding
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str        # utf-8, utf-8-sig, utf-16, gbk, gb18030, docx
    format: str          # txt | docx


_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _common_han_share(text: str) -> float:
    """Share of Han characters that are in GB2312 (the 6,763 common ones); 1.0 without Han."""
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not han:
        return 1.0
    common = 0
    for c in han:
        try:
            c.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(han)


def decode_transcript(name: str, data: bytes) -> Decoded:
    """The text of a transcript file, decoded strictly; raises :class:`Unusable` otherwise."""
    suffix = Path(name).suffix.lower()
    if suffix in DOCX_SUFFIXES:
        text, encoding, fmt = _read_docx(data), "docx", "docx"
    elif suffix in TEXT_SUFFIXES:
        text, encoding = _decode_text(data)
        fmt = "txt"
    elif suffix == ".doc":
        raise Unusable("unsupported_format", "a Word 97-2003 .doc file: save it as .docx")
    else:
        raise Unusable("unsupported_format", f"not a transcript format ({suffix or 'no extension'}): use .txt or .docx")
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(FULLWIDTH_ALNUM)
    if text.startswith("\ufeff"):
        text = text[1:]
    controls = len(CONTROL_CHARS.findall(text))
    if text and controls > MAX_CONTROL_SHARE * len(text):
        raise Unusable("undecodable", "binary content (control characters), not a text transcript")
    if not text.strip():
        raise Unusable("empty", "empty transcript (no text)")
    return Decoded(text=text, encoding=encoding, format=fmt)


def _decode_text(data: bytes) -> tuple[str, str]:
    if not data:
        raise Unusable("empty", "empty transcript (0 bytes)")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise Unusable("undecodable", f"UTF-8 with BOM but invalid at byte {exc.start + 3}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise Unusable("undecodable", f"UTF-16 (BOM) but invalid at byte {exc.start}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    high = sum(1 for b in data if b >= 0x80)
    in_utf8 = sum(len(m) for m in _UTF8_SEQ.findall(data))
    if high and in_utf8 >= 0.5 * high:
        raise Unusable("undecodable", f"damaged UTF-8 (invalid byte at {first_bad}); not decoded as GBK to avoid mojibake")
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise Unusable("undecodable", f"neither UTF-8 (byte {first_bad}) nor GBK/GB18030 (byte {exc.start})") from None
    if _common_han_share(text) < MIN_COMMON_HAN:
        raise Unusable("undecodable", "not UTF-8, and its GBK/GB18030 reading is not plausible Chinese (another encoding?)")
    try:
        data.decode("gbk")
        return text, "gbk"
    except UnicodeDecodeError:
        return text, "gb18030"


def _read_docx(data: bytes) -> str:
    if not data:
        raise Unusable("empty", "empty transcript (0 bytes)")
    import docx  # python-docx: imported here, only .docx files need it
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, LxmlError) as exc:
        raise Unusable("unreadable_docx", f"not a readable .docx file ({exc.__class__.__name__})") from None
    return "\n".join(p.text for p in document.paragraphs)


# --------------------------------------------------------------------------------------------
# 2. header and turns
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    speaker: str                              # interviewer | respondent
    label: str                                # as written (a named label is personal data)
    label_span: tuple[int, int]
    pieces: tuple[tuple[int, int], ...]       # the text of the turn, one piece per line
    line: int                                 # line number of the label (1-based)


@dataclass(frozen=True)
class Parsed:
    fields: dict[str, str]                    # interview_id, comm_id, role, date as written
    field_lines: dict[str, int]
    name_spans: tuple[tuple[int, int], ...]   # header name values
    turns: tuple[Turn, ...]
    named_labels: frozenset[str]
    convention: str


def _lines(text: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line), line))
        pos += len(line) + 1
    return out


def parse_transcript(text: str, rules: Rules) -> Parsed:
    """Header fields and speaker turns of a decoded transcript (offsets into ``text``)."""
    lines = _lines(text)
    labels: list[tuple[str, int] | None] = []
    for start, end, line in lines:
        m = rules.label_re.match(line)
        if m and not rules.header_re.match(line.lstrip(" \t\u3000")):
            labels.append((m.group(1), m.end()))
        else:
            labels.append(None)
    uses = Counter(lab[0] for lab in labels if lab)
    markers = rules.interviewer | rules.respondent
    named = {lab for lab, n in uses.items() if lab not in markers and n >= rules.min_named_uses
             and not any(ch.isdigit() for ch in lab)}
    body = next((i for i, lab in enumerate(labels) if lab and (lab[0] in markers or lab[0] in named)), len(lines))

    fields: dict[str, str] = {}
    field_lines: dict[str, int] = {}
    name_spans: list[tuple[int, int]] = []
    for i in range(body):
        start, _, line = lines[i]
        found = list(rules.header_re.finditer(line))
        if not found or line[: found[0].start()].strip():
            continue
        for k, m in enumerate(found):
            vstart = m.end()
            vend = found[k + 1].start() if k + 1 < len(found) else len(line)
            raw_value = line[vstart:vend]
            value = raw_value.strip(" \t\u3000")
            kind = rules.field_of[m.group(1)]
            if kind == "name":
                if value:
                    lead = len(raw_value) - len(raw_value.lstrip(" \t\u3000"))
                    name_spans.append((start + vstart + lead, start + vstart + lead + len(value)))
            elif kind != "personal" and kind not in fields and value:
                fields[kind] = value
                field_lines[kind] = i + 1

    turns: list[Turn] = []
    for i in range(body, len(lines)):
        start, end, line = lines[i]
        lab = labels[i]
        if lab and (lab[0] in markers or lab[0] in named):
            label = lab[0]
            lstart = start + line.index(label)
            speaker = "interviewer" if label in rules.interviewer else "respondent"
            turns.append(Turn(speaker, label, (lstart, lstart + len(label)), ((start + lab[1], end),), i + 1))
        elif turns and line.strip():                     # a line without a label continues the turn
            t = turns[-1]
            turns[-1] = Turn(t.speaker, t.label, t.label_span, (*t.pieces, (start, end)), t.line)
    # Named speakers only and no interviewer marker: the first speaker is the interviewer.
    if turns and not any(t.speaker == "interviewer" for t in turns) and len({t.label for t in turns}) >= 2:
        first = turns[0].label
        turns = [Turn("interviewer" if t.label == first else t.speaker, t.label, t.label_span, t.pieces, t.line)
                 for t in turns]
    q = next((t.label for t in turns if t.speaker == "interviewer"), "")
    a = "named" if any(t.label in named for t in turns if t.speaker == "respondent") else \
        next((t.label for t in turns if t.speaker == "respondent"), "")
    convention = f"{q or '-'}/{a or '-'}"
    return Parsed(fields=fields, field_lines=field_lines, name_spans=tuple(name_spans), turns=tuple(turns),
                  named_labels=frozenset(named), convention=convention)


def clean_comm_id(value: str, rules: Rules) -> str:
    if rules.strip_brackets:
        value = re.sub(r"[（(\[【][^）)\]】]*[）)\]】]", "", value)
    return value.strip(" \t\u3000")


def parse_date(value: str, rules: Rules) -> str:
    """The date as ISO ``YYYY-MM-DD``, or "" when no configured format reads it."""
    for rx in rules.date_res:
        m = rx.search(value)
        if m:
            try:
                return date(int(m["y"]), int(m["m"]), int(m["d"])).isoformat()
            except ValueError:
                continue
    return ""


def role_code(label: str, rules: Rules) -> str:
    label = label.strip()
    if label in rules.role_labels:
        return rules.role_labels[label]
    for keyword, code in rules.role_keywords:
        if keyword in label:
            return code
    return "other"


# --------------------------------------------------------------------------------------------
# 3. personal data
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    type: str


EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w])")
ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6}[ -]?\d{8}[ -]?\d{3}[0-9Xx])(?![0-9A-Za-z])")
MOBILE_RE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
LANDLINE_RES = (
    re.compile(r"(?<!\d)[（(]0\d{2,3}[）)][ -]?\d{7,8}(?:-\d{1,4})?(?!\d)"),
    re.compile(r"(?<!\d)0\d{2,3}[- ]\d{7,8}(?:-\d{1,4})?(?!\d)"),
    re.compile(r"(?<!\d)0\d{9,11}(?!\d)"),
)
LOCAL_NUMBER_RE = re.compile(r"(?<!\d)\d{7,8}(?!\d)")


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number's first 17 digits."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def valid_id_number(value: str) -> bool:
    """An 18-character resident ID number whose check character is right (x or X)."""
    value = re.sub(r"[ -]", "", value).upper()
    return bool(re.fullmatch(r"\d{17}[\dX]", value)) and id_check_digit(value[:17]) == value[17]


class _Taken:
    """Character positions already claimed by a span."""

    def __init__(self, n: int):
        self.mask = bytearray(n)

    def free(self, start: int, end: int) -> bool:
        return not any(self.mask[start:end])

    def take(self, start: int, end: int) -> None:
        self.mask[start:end] = b"\x01" * (end - start)


@dataclass(frozen=True)
class Lexicon:
    """jieba's dictionary entries (frequency, tag) that the name rules look up, plus the user words."""

    entries: dict[str, tuple[int, str]]
    user: frozenset[str] = frozenset()

    def get(self, word: str) -> tuple[int, str] | None:
        e = self.entries.get(word)
        return e if e and e[0] > 0 else None


def find_pii(text: str, parsed: Parsed, rules: Rules, tokens: list[str], lexicon: Lexicon,
             roster: Iterable[str] = ()) -> list[Span]:
    """Every personal-data span of a decoded transcript, sorted, not overlapping.

    ``tokens`` is jieba's segmentation of ``text`` (its pieces joined give ``text``). Only the
    turns are searched (and the header's name lines): the rest of the header is never output.
    """
    region = min((t.label_span[0] for t in parsed.turns), default=len(text)) if parsed.turns else 0
    taken = _Taken(len(text))
    spans: list[Span] = []

    def add(start: int, end: int, typ: str) -> bool:
        if start >= region and start < end and taken.free(start, end):
            taken.take(start, end)
            spans.append(Span(start, end, typ))
            return True
        return False

    for s, e in parsed.name_spans:                   # header name lines come before the region
        if taken.free(s, e):
            taken.take(s, e)
            spans.append(Span(s, e, "name"))
    for m in EMAIL_RE.finditer(text):
        add(m.start(), m.end(), "email")
    for m in ID_RE.finditer(text):
        if valid_id_number(m.group(1)):
            add(m.start(1), m.end(1), "id_number")
    for m in MOBILE_RE.finditer(text):
        add(m.start(), m.end(), "mobile")
    for rx in LANDLINE_RES:
        for m in rx.finditer(text):
            add(m.start(), m.end(), "landline")
    if rules.phone_words:
        for m in LOCAL_NUMBER_RE.finditer(text):
            before = text[max(0, m.start() - rules.phone_window): m.start()]
            if any(w in before for w in rules.phone_words):
                add(m.start(), m.end(), "landline")
    if rules.long_min:
        for m in re.finditer(r"(?<!\d)\d{%d,}[Xx]?(?![\dA-Za-z])" % rules.long_min, text):
            add(m.start(), m.end(), "long_number")

    starts = _token_starts(tokens)
    for start, end in _addresses(text, rules, tokens, starts):
        add(start, end, "address")
    for start, end in _names(text, parsed, rules, tokens, starts, lexicon, roster, region, taken):
        add(start, end, "name")
    return sorted(spans)


def _token_starts(tokens: list[str]) -> list[int]:
    starts, pos = [], 0
    for t in tokens:
        starts.append(pos)
        pos += len(t)
    return starts


def _addresses(text: str, rules: Rules, tokens: list[str], starts: list[int]) -> list[tuple[int, int]]:
    """Addresses: a building/unit/room anchor, extended left token by token over place names;
    anchors whose extensions touch are one address (路154号 + 小区32号楼5单元)."""
    found = []
    for m in rules.address_re.finditer(text):
        start, end = m.start(), m.end()
        k = bisect.bisect_right(starts, start) - 1          # the token holding the anchor's first character
        if k < 0:
            continue
        limit = start - rules.address_max_prefix
        begin = starts[k] if starts[k] >= limit else start
        j = k - 1
        while j >= 0 and starts[j] >= limit:
            tok = tokens[j]
            if not tok.strip() or all(c in rules.address_stop for c in tok) or not WORD_CHAR.search(tok):
                break
            begin = starts[j]
            j -= 1
        while begin < start and text[begin] in rules.address_stop:
            begin += 1                                       # a stop character inside a mixed token
        found.append((begin, end))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(found):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _names(text: str, parsed: Parsed, rules: Rules, tokens: list[str], starts: list[int], lexicon: Lexicon,
           roster: Iterable[str], region: int, taken: _Taken) -> Iterator[tuple[int, int]]:
    """Name spans: declared names (header, named labels, roster), then informal forms (老马,
    马大姐), then full names in jieba's words; each name is then redacted wherever it occurs."""
    roster = {r for r in roster if len(r) >= 2}
    declared: set[str] = {text[s:e] for s, e in parsed.name_spans} | roster
    declared |= {lab for lab in parsed.named_labels if _surname_of(lab, rules, weak=True) or lab in roster}
    for t in parsed.turns:
        if t.label in declared:
            yield t.label_span
    found: set[str] = set()
    token_starts = set(starts)
    for s, e in _informal_names(text, rules, lexicon, token_starts):
        if s >= region and taken.free(s, e):
            found.add(text[s:e])
            yield s, e
    for s, e in _full_names(tokens, starts, rules, lexicon):
        if s >= region and taken.free(s, e):
            found.add(text[s:e])
            yield s, e
    for name in sorted(declared | found, key=lambda w: (-len(w), w)):
        if len(name) < 2:
            continue
        for m in re.finditer(re.escape(name), text):
            s = m.start()
            if name in declared or s in token_starts or (s > 0 and text[s - 1] in rules.glue_before):
                yield s, m.end()


def _surname_of(word: str, rules: Rules, weak: bool = False) -> str:
    """The surname ``word`` starts with ("" if none); weak surnames only if ``weak``."""
    for k in (2, 1):
        head = word[:k]
        if len(word) > k and (head in rules.surnames or (weak and head in rules.weak_surnames)):
            return head
    return ""


def _given_ok(given: str, rules: Rules) -> bool:
    """Could ``given`` be a given name? Chinese characters, none a function word, not 谢谢-like."""
    return (0 < len(given) <= rules.given_max and all(HAN_JIEBA.match(c) for c in given)
            and not any(c in rules.not_given for c in given) and given[-1] not in rules.not_final)


def _is_break(tok: str, rules: Rules) -> bool:
    """The token after a name: punctuation, a space, the end, or a word starting with a glue character."""
    return not tok or not WORD_CHAR.match(tok) or tok[0] in rules.glue_after


def _ordinary(word: str, lexicon: Lexicon, rules: Rules) -> bool:
    """An everyday word, not a name: a user word not tagged nr, or a dictionary word that is
    not tagged nr (or is, but frequent: 张罗, 白云) unless it is very rare (under 10)."""
    entry = lexicon.get(word)
    if entry is None:
        return False
    freq, tag = entry
    if word in lexicon.user:
        return not tag.startswith("nr")
    if tag.startswith("nr"):
        return freq >= rules.dict_max_freq
    return freq >= RARE_FREQ


def _full_names(tokens: list[str], starts: list[int], rules: Rules, lexicon: Lexicon) -> Iterator[tuple[int, int]]:
    """Full names (surname + given name) in jieba's words:

    - a word that starts with a surname and is not an ordinary word (see :func:`_ordinary`),
      with a glue character cut off its end (徐云留 -> 徐云) or its start (上哈艳瑞 -> 哈艳瑞);
      after 叫 (``strong_triggers``) even an ordinary word (我叫吴国，);
    - a name jieba cut in two: a surname, or a surname + one character (a word tagged nr, ns or
      nz, or unknown), then the rest of the given name (叫 杨 佳丽, 王平 忠, 马兵 龙留, 虎 龙彦办),
      when a break follows and, for a lone surname, a naming word (叫, 是, 干部 ...) precedes.

    A surname that ends the word before it (酒庄签: 酒庄) starts no name.
    """
    n = len(tokens)
    i = 0
    while i < n:
        tok = tokens[i]
        if not HAN_JIEBA.match(tok):
            i += 1
            continue
        nxt = tokens[i + 1] if i + 1 < n else ""
        after = tokens[i + 2] if i + 2 < n else ""
        prev = tokens[i - 1] if i > 0 else ""
        views = [(0, tok)]
        if len(tok) >= 2 and tok[0] in rules.glue_before and _surname_of(tok[1:] + "x", rules):
            views.append((1, tok[1:]))
        step = 1
        for offset, word in views:
            sur = _surname_of(word + "x", rules)
            if not sur:
                continue
            before = tok[0] if offset else (prev if len(prev) == 1 else "")
            if before and before not in rules.glue_before and _common(before + sur, lexicon, RARE_FREQ):
                continue                                   # the surname ends the word before it
            given = word[len(sur):]
            trigger = offset == 1 or prev in rules.name_triggers or \
                any(len(t) > 1 and prev.endswith(t) for t in rules.name_triggers)
            weak = prev in rules.weak_triggers
            name = ""
            if len(given) <= 1 and HAN_JIEBA.match(nxt):
                # split name: 杨 + 佳丽, 王平 + 忠, 马兵 + 龙(留), 虎 + 龙彦(办), (上)马 + 梦 + 月
                room = rules.given_max - len(given)
                rest, used = _rest_of_name(tokens, i + 1, room, rules, lexicon, loose=offset == 1)
                entry = lexicon.get(word)
                if not given:
                    after_rest = tokens[i + 1 + used] if i + 1 + used < n else ""
                    head_ok = trigger or (weak and (not _common(rest, lexicon, rules.dict_max_freq) or
                                                    (lexicon.get(rest) or (0, ""))[1].startswith("nr") or
                                                    (len(rest) == 1 and not WORD_CHAR.match(after_rest or "。"))))
                else:
                    head_ok = entry is None or not _ordinary(word, lexicon, rules) or \
                        (word not in lexicon.user and entry[1][:2] in ("nr", "ns", "nz"))
                if offset and _common(tok, lexicon, rules.dict_max_freq) and len(rest) > 1 and _common(rest, lexicon, COMMON_FREQ):
                    rest = ""                              # 有关 部门 is no name; 上马 萍萍 may be
                if rest and head_ok and rest[-1] not in rules.glue_after:
                    name = word + rest
                    step = 1 + used
            if not name and given:
                entry = lexicon.get(word)
                strong = len(given) <= rules.given_max and _is_break(nxt, rules) and (
                    prev in rules.strong_triggers or
                    (trigger and entry is not None and entry[1].startswith("nr") and word not in lexicon.user))
                if strong or (not _ordinary(word, lexicon, rules) and
                              not (given[-1] in rules.glue_after and _ordinary(word[:-1], lexicon, rules))):
                    if len(given) > rules.given_max or (len(given) == rules.given_max and given[-1] in rules.glue_after
                                                        and nxt[:1] in "了着过个"):
                        given = given[:-1] if given[-1] in rules.glue_after else ""
                    common_rest = entry is None and len(given) > 1 and _common(given, lexicon, COMMON_FREQ) and \
                        not lexicon.get(given)[1].startswith("nr")       # (有)关部门: an unknown word made of a common one
                    if 0 < len(given) <= rules.given_max and not common_rest:
                        name = sur + given
                        if strong:
                            s = starts[i] + offset
                            if _given_ok(given, rules) and name not in rules.not_names:
                                yield s, s + len(name)
                                break
                            name = ""
            if name and _given_ok(name[len(sur):], rules) and name != sur * 2 \
                    and name not in rules.not_names and not _ordinary(name, lexicon, rules):
                s = starts[i] + offset
                yield s, s + len(name)
                break
            step = 1
        i += step


def _rest_of_name(tokens: list[str], j: int, room: int, rules: Rules, lexicon: Lexicon, loose: bool) -> tuple[str, int]:
    """The rest of a given name from ``tokens[j:]``: whole tokens of at most ``room`` characters
    in all, followed by a break; or a token whose last character is a glue character (龙留 -> 龙;
    with ``loose`` also a dictionary word: 学说 -> 学). Returns (rest, tokens used)."""
    rest, k = "", j
    while k < len(tokens) and HAN_JIEBA.match(tokens[k]):
        tok = tokens[k]
        if len(tok) >= 2 and tok[-1] in rules.glue_after and len(rest) + len(tok) - 1 <= room and \
                (loose or not _common(tok, lexicon, RARE_FREQ)):
            return rest + tok[:-1], k - j + 1
        if len(rest) + len(tok) > room:
            break
        rest += tok
        k += 1
        if _is_break(tokens[k] if k < len(tokens) else "", rules):
            return rest, k - j
    return "", 0


def _common(word: str, lexicon: Lexicon, min_freq: int) -> bool:
    entry = lexicon.get(word)
    return entry is not None and entry[0] >= min_freq


def _informal_names(text: str, rules: Rules, lexicon: Lexicon, token_starts: set[int]) -> Iterator[tuple[int, int]]:
    """老马 / 小李 / 阿丁 (prefix + surname) and 马大姐 / 李书记 (surname + title)."""
    if rules.title_re:
        for m in rules.title_re.finditer(text):
            s, e = m.start(), m.end()
            if m.group() in rules.not_names:
                continue
            ok = s in token_starts or s == 0 or not WORD_CHAR.match(text[s - 1]) or text[s - 1] in rules.glue_before
            if s > 0 and text[s - 1] in rules.prefixes and (s - 1) in token_starts:
                ok, s = True, s - 1                          # 小马师傅
            if ok:
                yield s, e
    if rules.prefix_re:
        for m in rules.prefix_re.finditer(text):
            s, e = m.start(), m.end()
            word = m.group()
            if word in rules.not_names or not (s in token_starts or (s > 0 and text[s - 1] in rules.glue_before)):
                continue
            entry = lexicon.get(word)
            if entry and not entry[1].startswith("nr") and entry[0] >= COMMON_FREQ:
                continue
            sur = word[1:]
            following = text[e: e + 2]
            ordinary = False
            for k in (() if following[:1] in rules.name_suffixes else (1, 2)):
                w = sur + following[:k]
                ew = lexicon.get(w) if len(following) >= k else None
                if ew and ew[0] >= rules.dict_max_freq and not ew[1].startswith("nr") and w not in rules.titles:
                    ordinary = True                          # 老党员, 小时候: the surname starts a word
            if not ordinary:
                yield s, e


# --------------------------------------------------------------------------------------------
# 4. placeholders
# --------------------------------------------------------------------------------------------
def _value_key(value: str, typ: str) -> str:
    if typ in ("mobile", "landline", "id_number", "long_number"):
        digits = re.sub(r"[^\dXx]", "", value).upper()
        return digits[-11:] if typ == "mobile" else digits
    if typ == "email":
        return value.lower()
    return re.sub(r"\s+", "", value)


def placeholders(text: str, spans: list[Span], rules: Rules) -> list[str]:
    """The placeholder of each span: per type, numbered by first appearance of its value."""
    numbers: dict[str, dict[str, int]] = {t: {} for t in PII_TYPES}
    out = []
    for sp in spans:
        table = numbers[sp.type]
        key = _value_key(text[sp.start:sp.end], sp.type)
        if key not in table:
            table[key] = len(table) + 1
        out.append(rules.placeholder.format(label=rules.placeholder_labels[sp.type], n=table[key]))
    return out


def redact(text: str, start: int, end: int, spans: list[Span], marks: list[str]) -> str:
    """``text[start:end]`` with every span that touches it replaced by its placeholder."""
    out, pos = [], start
    k = max(0, bisect.bisect_left([s.end for s in spans], start + 1))
    while k < len(spans) and spans[k].start < end:
        sp = spans[k]
        if sp.end > start:
            if sp.start > pos:
                out.append(text[pos:sp.start])
            out.append(marks[k])
            pos = max(pos, sp.end)
        k += 1
    if pos < end:
        out.append(text[pos:end])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# 5. units
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Units:
    units: list[tuple[int, int, str, str]]             # turn, sentence, speaker, text
    questions: list[tuple[int, int, str, str]]         # question, before_turn, speaker, text
    n_turns: int


def _clean(text: str, rules: Rules) -> str:
    return rules.annotation_re.sub("", text).strip(" \t\u3000")


def split_sentences(text: str, rules: Rules) -> list[str]:
    """Sentences of one line of redacted text; pieces without a word character are dropped."""
    out = []
    for m in rules.sentence_re.finditer(text):
        s = m.group().strip(" \t\u3000")
        if s and WORD_CHAR.search(rules.placeholder_re.sub("x", s)):
            out.append(s)
    return out


def build_units(text: str, parsed: Parsed, spans: list[Span], marks: list[str], rules: Rules, unit: str) -> Units:
    """Respondent units and interviewer questions from the redacted text of each turn."""
    units, questions = [], []
    turn_no = question_no = 0
    pending: list[list] = []                  # questions waiting for the respondent turn after them
    for t in parsed.turns:
        speaker = redact(text, *t.label_span, spans, marks)
        lines = [_clean(redact(text, s, e, spans, marks), rules) for s, e in t.pieces]
        lines = [ln for ln in lines if ln]
        if t.speaker == "interviewer":
            question_no += 1
            row = [question_no, 0, speaker, "".join(lines)]
            questions.append(row)
            pending.append(row)
            continue
        turn_no += 1
        for row in pending:
            row[1] = turn_no
        pending = []
        if unit == "turn":
            joined = "".join(lines)
            if joined and WORD_CHAR.search(joined):
                units.append((turn_no, 0, speaker, joined))
            continue
        k = 0
        for ln in lines:
            for sentence in split_sentences(ln, rules):
                k += 1
                units.append((turn_no, k, speaker, sentence))
    return Units(units=units, questions=[tuple(q) for q in questions if q[3]], n_turns=turn_no)


# --------------------------------------------------------------------------------------------
# 6. segmentation
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmenterSpec:
    """What a worker needs to build the segmenter; ``key`` hashes everything tokens depend on."""

    engine: str                                # jieba | rjieba
    words: tuple[tuple[str, int, str], ...]    # user words with resolved frequencies
    jieba_cache: str
    key: str


def _import_jieba():
    with warnings.catch_warnings():            # jieba 0.42.1 imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import jieba
    jieba.setLogLevel(60)
    return jieba


def _jieba_tokenizer(cache_file: str, words: Iterable[tuple[str, int | None, str | None]] = ()):
    jieba = _import_jieba()
    tk = jieba.Tokenizer()
    Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
    tk.cache_file = str(Path(cache_file).resolve())
    tk.initialize()
    for word, freq, tag in words:
        tk.add_word(word, freq, tag or None)
    return tk


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def resolve_engine(name: str) -> str:
    """``auto`` is rjieba when it is installed, else jieba."""
    if name not in ENGINES:
        raise PipelineError(f"params.yaml: transcripts.engine '{name}' is unknown", hint=f"use one of {list(ENGINES)}")
    if name in ("rjieba", "auto") and importlib.util.find_spec("rjieba") is not None:
        return "rjieba"
    if name == "rjieba":
        raise PipelineError("params.yaml: transcripts.engine is rjieba but rjieba is not installed",
                            hint="pip install rjieba==0.2.2, or set engine: auto (falls back to jieba)")
    return "jieba"


def resolve_userdict(path: str | Path, jieba_cache: str) -> tuple[tuple[str, int, str], ...]:
    """The user dictionary as (word, frequency, tag): a missing frequency is the one jieba's
    ``load_userdict`` gives (``suggest_freq`` in file order), computed once with jieba."""
    rows = read_word_list(Path(path), "user dictionary")
    parsed = []
    seen = set()
    for r in rows:
        word, rest = r[0], r[1:]
        freq = int(rest.pop(0)) if rest and rest[0].isdigit() else None
        tag = rest[0] if rest else None
        if freq == 0:
            raise PipelineError(f"{path}: '{word}' has frequency 0", hint="leave the frequency out to let jieba choose it")
        if word in seen:
            raise PipelineError(f"{path}: '{word}' is listed twice")
        seen.add(word)
        parsed.append((word, freq, tag))
    if all(f is not None for _, f, _ in parsed):
        return tuple((w, int(f), t or "n") for w, f, t in parsed)
    tk = _jieba_tokenizer(jieba_cache)
    out = []
    for word, freq, tag in parsed:
        tk.add_word(word, freq, tag)
        out.append((word, int(tk.FREQ[word]), tag or "n"))
    return tuple(out)


def segmenter_spec(engine: str, words: tuple[tuple[str, int, str], ...], jieba_cache: str) -> SegmenterSpec:
    key = hashlib.sha256(json.dumps({
        "engine": engine, "jieba": _package_version("jieba"),
        "rjieba": _package_version("rjieba") if engine == "rjieba" else None,
        "words": words, "normalisation": NORMALISATION}, ensure_ascii=False).encode("utf-8")).hexdigest()
    return SegmenterSpec(engine=engine, words=words, jieba_cache=str(Path(jieba_cache).resolve()), key=key)


def normalise_tokens(tokens: Iterable[str]) -> list[str]:
    """Runs of tokens without a Chinese character, re-split by one rule (ASCII words and numbers
    whole, every other character alone), so that jieba and rjieba agree; Chinese tokens as cut."""
    out: list[str] = []
    buf: list[str] = []
    for t in tokens:
        if HAN_JIEBA.search(t):
            if buf:
                out.extend(ASCII_SPLIT.findall("".join(buf)))
                buf = []
            out.append(t)
        else:
            buf.append(t)
    if buf:
        out.extend(ASCII_SPLIT.findall("".join(buf)))
    return out


class Segmenter:
    """jieba or rjieba with the user dictionary. ``cut`` covers the text exactly; ``segment``
    also keeps placeholders whole and counts its calls (``calls``)."""

    def __init__(self, spec: SegmenterSpec):
        self.spec = spec
        self.calls = 0
        self._jieba = None
        self._rjieba = None
        if spec.engine == "rjieba":
            import rjieba

            self._rjieba = rjieba.Jieba()
            for word, freq, tag in spec.words:
                self._rjieba.add_word(word, freq, tag)
        else:
            self._jieba = _jieba_tokenizer(spec.jieba_cache, spec.words)

    def _jieba_fallback(self):
        if self._jieba is None:
            self._jieba = _jieba_tokenizer(self.spec.jieba_cache, self.spec.words)
        return self._jieba

    def cut(self, text: str) -> list[str]:
        if self._rjieba is not None and not CJK_OTHER.search(text):
            tokens = self._rjieba.cut(text)
        else:
            tokens = self._jieba_fallback().lcut(text)
        # Without Latin letters, digits, spaces or two non-Chinese characters in a row, both
        # engines already give every non-Chinese character alone: nothing to re-split.
        return normalise_tokens(tokens) if NEEDS_RESPLIT.search(text) else tokens

    def segment(self, text: str, placeholder_re: re.Pattern) -> list[str]:
        """The tokens of one text, placeholders whole."""
        return self.segment_many([text], placeholder_re)[0]

    def segment_many(self, texts: list[str], placeholder_re: re.Pattern) -> list[list[str]]:
        """The tokens of each text, placeholders whole. The pieces between placeholders are cut
        in one call, joined by line breaks (a line break ends every word for both engines, so
        this gives what cutting them one by one gives, with one call's overhead)."""
        self.calls += len(texts)
        layout: list[list[str | int]] = []           # per text: placeholders, and indexes into pieces
        pieces: list[str] = []
        for text in texts:
            parts: list[str | int] = []
            pos = 0
            for m in placeholder_re.finditer(text):
                if m.start() > pos:
                    parts.append(len(pieces))
                    pieces.append(text[pos:m.start()])
                parts.append(m.group())
                pos = m.end()
            if pos < len(text):
                parts.append(len(pieces))
                pieces.append(text[pos:])
            layout.append(parts)
        cut = self._cut_pieces(pieces)
        return [[tok for p in parts for tok in ((p,) if isinstance(p, str) else cut[p])] for parts in layout]

    def _cut_pieces(self, pieces: list[str]) -> list[list[str]]:
        joined = "\n".join(pieces)
        if not pieces or "\n" in "".join(pieces) or CJK_OTHER.search(joined):
            return [self.cut(p) for p in pieces]
        raw = self._rjieba.cut(joined) if self._rjieba is not None else self._jieba.lcut(joined)
        groups: list[list[str]] = [[]]
        for tok in raw:
            if tok == "\n":
                groups.append([])
            else:
                groups[-1].append(tok)
        if len(groups) != len(pieces):               # never seen; the safe way if it happens
            return [self.cut(p) for p in pieces]
        return [normalise_tokens(g) if NEEDS_RESPLIT.search(p) else g for g, p in zip(groups, pieces)]


def content_tokens(tokens: Iterable[str], rules: Rules) -> list[str]:
    """Tokens for analysis: no punctuation, whitespace, numbers, placeholders or stopwords."""
    return [t for t in tokens if WORD_CHAR.search(t) and not NUMBER_TOKEN.fullmatch(t)
            and not rules.placeholder_re.fullmatch(t) and t not in rules.stopwords]


def load_lexicon(rules: Rules, words: Iterable[tuple[str, int, str]]) -> Lexicon:
    """jieba's dictionary (word -> frequency, tag) and the user words, for the name rules."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise PipelineError("jieba is not installed", hint="pip install jieba==0.42.1")
    path = Path(list(spec.submodule_search_locations)[0]) / "dict.txt"
    entries: dict[str, tuple[int, str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2:
                entries[parts[0]] = (int(parts[1]), parts[2] if len(parts) > 2 else "x")
    user = set()
    for word, freq, tag in words:
        entries[word] = (freq, tag)
        user.add(word)
    return Lexicon(entries, frozenset(user))


class TokenCache:
    """Tokens of an interview's units, keyed by the dictionary hash and the redacted texts."""

    def __init__(self, root: str | Path | None, key: str):
        self.dir = Path(root) / key[:16] if root else None

    def _path(self, texts: list[str]) -> Path:
        digest = hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()
        return self.dir / digest[:2] / f"{digest}.tok"

    def get(self, texts: list[str]) -> list[list[str]] | None:
        if self.dir is None or not texts:
            return None
        path = self._path(texts)
        try:
            raw = zlib.decompress(path.read_bytes()).decode("utf-8")
        except (OSError, zlib.error, UnicodeDecodeError):
            return None
        tokens = [u.split("\x1f") if u else [] for u in raw.split("\x1e")]
        if len(tokens) != len(texts) or any("".join(t) != x for t, x in zip(tokens, texts)):
            return None                       # damaged or colliding entry: segment again
        return tokens

    def put(self, texts: list[str], tokens: list[list[str]]) -> None:
        if self.dir is None or not texts:
            return
        data = "\x1e".join("\x1f".join(t) for t in tokens).encode("utf-8")
        write_bytes(self._path(texts), zlib.compress(data, 6))


# --------------------------------------------------------------------------------------------
# 7. dictionary audit
# --------------------------------------------------------------------------------------------
def term_pattern(words: Iterable[tuple[str, int, str]]) -> re.Pattern:
    return re.compile(_alternation(w for w, _, _ in words))


def audit_counts(texts: list[str], tokens: list[list[str]], pattern: re.Pattern) -> dict[str, list[int]]:
    """Per user term: [occurrences (longest term first), occurrences that are one token]."""
    out: dict[str, list[int]] = {}
    for text, toks in zip(texts, tokens):
        spans = set()
        pos = 0
        for t in toks:
            spans.add((pos, pos + len(t)))
            pos += len(t)
        for m in pattern.finditer(text):
            c = out.setdefault(m.group(), [0, 0])
            c[0] += 1
            c[1] += (m.start(), m.end()) in spans
    return out


def dictionary_audit(words: tuple[tuple[str, int, str], ...], counts: dict[str, list[int]]) -> pd.DataFrame:
    rows = []
    for word, freq, tag in words:
        occ, single = counts.get(word, [0, 0])
        rows.append((word, tag, freq, occ, single, occ - single))
    return pd.DataFrame(rows, columns=["term", "tag", "freq", "occurrences", "single_token", "split"])


# --------------------------------------------------------------------------------------------
# one transcript
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """``params.yaml: transcripts`` as the computation needs it."""

    unit: str = "sentence"
    min_tokens: int = 1
    strict: bool = False
    n_jobs: int = 2
    cache_dir: str | None = None
    batch_size: int = 40
    parallel_min_files: int = 200
    progress_min_files: int = 500


@dataclass
class Outcome:
    """What one file gives: its rows, or the reason it is skipped. Nothing here is raw text."""

    file: str                                  # the file name, redacted
    interview: dict[str, Any] | None = None
    units: list[tuple] = field(default_factory=list)
    questions: list[tuple] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    audit: dict[str, list[int]] = field(default_factory=dict)
    skip: tuple[str, str] | None = None        # (code, reason)
    segmented: int = 0                         # units and questions segmented now (not read from the cache)
    below_min: int = 0


@dataclass(frozen=True)
class Context:
    """Everything a worker needs besides the files (picklable)."""

    rules: Rules
    spec: SegmenterSpec
    settings: Settings
    communities: frozenset[str] | None
    communities_name: str


_WORKER_STATE: dict[str, tuple[Segmenter, Lexicon, re.Pattern]] = {}


def _state(ctx: Context) -> tuple[Segmenter, Lexicon, re.Pattern]:
    key = ctx.spec.key + "|" + ctx.rules.path + "|" + hashlib.sha256(
        "".join(sorted(ctx.rules.surnames | ctx.rules.weak_surnames | ctx.rules.prefixes | ctx.rules.glue_before)).encode()).hexdigest()
    if key not in _WORKER_STATE:
        _WORKER_STATE.clear()
        _WORKER_STATE[key] = (Segmenter(ctx.spec), load_lexicon(ctx.rules, ctx.spec.words), term_pattern(ctx.spec.words))
    return _WORKER_STATE[key]


def safe_name(name: str, values: dict[str, str], rules: Rules, seg: Segmenter, lexicon: Lexicon) -> str:
    """A file name with personal data replaced: the interview's redacted values, and whatever
    the detectors find in the name itself (transcripts are often named after the interviewee)."""
    stem, suffix = (name[: -len(Path(name).suffix)], Path(name).suffix) if Path(name).suffix else (name, "")
    return safe_value(stem, values, rules, seg, lexicon) + suffix


def safe_value(text: str, values: dict[str, str], rules: Rules, seg: Segmenter, lexicon: Lexicon,
               keep: tuple[str, ...] = ()) -> str:
    """``text`` (a file name's stem, a kept header value) with personal data replaced: the
    interview's redacted values, and whatever the detectors (but the types in ``keep``) find in it."""
    if not text:
        return text
    for value in sorted(values, key=lambda v: (-len(v), v)):
        if len(value) >= 2:
            text = text.replace(value, values[value])
    empty = Parsed({}, {}, (), (), frozenset(), "")
    spans = find_pii(text, empty, rules, seg.cut(text), lexicon)
    spans = [sp for sp in spans if sp.type not in keep and not rules.placeholder_re.search(text[sp.start:sp.end])]
    if spans:
        marks = [rules.placeholder.format(label=rules.placeholder_labels[sp.type], n="") for sp in spans]
        text = redact(text, 0, len(text), spans, marks)
    return text


def process_transcript(name: str, data: bytes, meta: dict[str, Any], ctx: Context) -> Outcome:
    """Decode, parse, redact, split and segment one transcript (see the module docstring)."""
    rules, settings = ctx.rules, ctx.settings
    seg, lexicon, terms = _state(ctx)
    try:
        decoded = decode_transcript(name, data)
    except Unusable as exc:
        return Outcome(file=safe_name(name, {}, rules, seg, lexicon), skip=(exc.code, exc.reason))
    text = decoded.text
    parsed = parse_transcript(text, rules)
    roster = tuple(meta.get("names") or ())
    spans = find_pii(text, parsed, rules, seg.cut(text), lexicon, roster)
    marks = placeholders(text, spans, rules)
    values = {text[sp.start:sp.end]: mark for sp, mark in zip(spans, marks)}
    file = safe_name(name, values, rules, seg, lexicon)

    fields = parsed.fields
    # The kept header values are written out (ids, skip reasons, role_label): personal data in
    # them is redacted like the file name; a long number is an id here (20250609001), not data.
    iid = safe_value(str(meta.get("interview_id") or fields.get("interview_id", "")).strip(), values, rules, seg,
                     lexicon, keep=("long_number",))
    comm = safe_value(clean_comm_id(str(meta.get("comm_id") or fields.get("comm_id", "")), rules), values, rules, seg,
                      lexicon, keep=("long_number",))
    role_label = safe_value(str(meta.get("role") or fields.get("role", "")).strip(), values, rules, seg, lexicon)
    when = parse_date(str(meta.get("date") or fields.get("date", "")), rules)
    n_resp = sum(1 for t in parsed.turns if t.speaker == "respondent")
    if not parsed.turns or n_resp == 0:
        what = "no speaker turns found" if not parsed.turns else "only interviewer turns"
        return Outcome(file=file, skip=("no_respondent_turns", f"no respondent turns ({what}; markers in {Path(rules.path).name}: speakers)"))
    if not iid:
        return Outcome(file=file, skip=("no_interview_id", "no interview id in the header or the manifest"))
    if not comm:
        return Outcome(file=file, skip=("no_community_id", "no community id in the header or the manifest"))
    if ctx.communities is not None and comm not in ctx.communities:
        line = parsed.field_lines.get("comm_id")
        where = f" (line {line})" if line and not meta.get("comm_id") else ""
        return Outcome(file=file, skip=("unknown_community", f"unknown community id '{comm}'{where}: not in {ctx.communities_name}"))

    built = build_units(text, parsed, spans, marks, rules, settings.unit)
    texts = [u[3] for u in built.units]
    qtexts = [q[3] for q in built.questions]
    cache = TokenCache(settings.cache_dir, ctx.spec.key)
    segmented = 0
    all_tokens = []
    for batch in (texts, qtexts):             # respondent units, then the interviewer's questions
        got = cache.get(batch)
        if got is None:
            got = seg.segment_many(batch, rules.placeholder_re)
            segmented += len(batch)
            cache.put(batch, got)
        all_tokens.append(got)
    tokens, qtokens = all_tokens
    role = role_code(role_label, rules) if role_label else "other"
    units, below, n_tok = [], 0, 0
    for (turn, sentence, speaker, utext), toks in zip(built.units, tokens):
        content = content_tokens(toks, rules)
        if len(content) < settings.min_tokens:
            below += 1
            continue
        n_tok += len(content)
        units.append((f"{iid}:{turn}:{sentence}", iid, comm, role, when, turn, sentence, speaker, utext,
                      " ".join(content), len(content)))
    questions = []
    for (q, before, speaker, qtext), toks in zip(built.questions, qtokens):
        content = content_tokens(toks, rules)
        questions.append((f"{iid}:q{q}", iid, comm, role, when, q, before, speaker, qtext, " ".join(content), len(content)))
    counts = Counter(sp.type for sp in spans)
    interview = {
        "interview_id": iid, "file": file, "comm_id": comm, "role": role, "role_label": role_label, "date": when,
        "encoding": decoded.encoding, "format": decoded.format, "convention": _safe_convention(parsed, values),
        "n_turns": built.n_turns, "n_questions": len(questions), "n_units": len(units), "n_tokens": n_tok,
        "n_redactions": len(spans),
    }
    return Outcome(file=file, interview=interview, units=units, questions=questions,
                   redactions={t: counts[t] for t in PII_TYPES if counts[t]},
                   audit=audit_counts(texts, tokens, terms), segmented=segmented, below_min=below)


def _safe_convention(parsed: Parsed, values: dict[str, str]) -> str:
    q, a = parsed.convention.split("/", 1)
    return f"{values.get(q, q)}/{a}"


def _run_batch(items: list[tuple[str, str, dict[str, Any]]], ctx: Context) -> list[Outcome]:
    out = []
    for name, path, meta in items:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            out.append(Outcome(file=name, skip=("unreadable", f"cannot be read ({exc.__class__.__name__})")))
            continue
        out.append(process_transcript(name, data, meta, ctx))
    return out


# --------------------------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------------------------
@dataclass
class CorpusResult:
    units: pd.DataFrame
    questions: pd.DataFrame
    interviews: pd.DataFrame
    redactions: pd.DataFrame
    audit: pd.DataFrame
    skipped: pd.DataFrame
    metrics: dict[str, Any]
    stats: dict[str, int]                      # this run only (cache use); not written to metrics


def list_transcripts(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise PipelineError(f"{folder}: transcripts folder not found", hint="check --transcripts (default raw/transcripts)")
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)


def process_corpus(files: list[Path], ctx: Context, manifest: dict[str, dict[str, Any]] | None = None,
                   progress: bool | None = None, parallel: ParallelSettings | None = None) -> CorpusResult:
    """Every transcript through :func:`process_transcript` (in parallel on long runs: batches of
    files on ``parallel``, default ``settings.n_jobs`` local processes; the same result), then the
    tables. With ``strict``, the first unusable file stops it with a :class:`PipelineError`."""
    settings = ctx.settings
    manifest = manifest or {}
    items = [(p.name, str(p), manifest.get(p.name, {})) for p in files]
    outcomes: list[Outcome] = []
    present = {p.name for p in files}
    for name in sorted(set(manifest) - present):
        outcomes.append(Outcome(file=name, skip=("missing_file", "listed in the manifest but not in the transcripts folder")))
    batches = [items[i:i + settings.batch_size] for i in range(0, len(items), settings.batch_size)]
    show = progress if progress is not None else len(items) >= settings.progress_min_files
    from tqdm import tqdm

    with tqdm(total=len(items), desc="transcripts", unit="file", disable=not show, file=sys.stderr) as bar:
        par = parallel if parallel is not None else as_settings(settings.n_jobs)
        if par.parallel and len(items) >= settings.parallel_min_files and len(batches) > 1:
            runs = iter_tasks(partial(_run_batch, ctx=ctx), batches, par, batch_size=1)   # in file order
        else:
            runs = (_run_batch(b, ctx) for b in batches)
        for batch in runs:
            outcomes.extend(batch)
            bar.update(len(batch))

    seen: dict[str, str] = {}
    kept: list[Outcome] = []
    skipped: list[tuple[str, str, str]] = []
    for o in outcomes:
        if o.skip is None and o.interview["interview_id"] in seen:
            o.skip = ("duplicate_interview_id", f"interview id '{o.interview['interview_id']}' also in {seen[o.interview['interview_id']]}")
        if o.skip is not None:
            skipped.append((o.file, *o.skip))
            continue
        seen[o.interview["interview_id"]] = o.file
        kept.append(o)
    skipped.sort()
    if settings.strict and skipped:
        file, _, reason = skipped[0]
        more = f" ({len(skipped) - 1} more file(s) cannot be used either)" if len(skipped) > 1 else ""
        raise PipelineError(f"{file}: {reason}{more}",
                            hint="fix the file, or set params.yaml: transcripts.strict: false to list it in skipped.csv and go on")
    kept.sort(key=lambda o: o.interview["interview_id"])
    units = pd.DataFrame([u for o in kept for u in o.units], columns=UNIT_COLUMNS)
    questions = pd.DataFrame([q for o in kept for q in o.questions], columns=QUESTION_COLUMNS)
    interviews = pd.DataFrame([o.interview for o in kept], columns=INTERVIEW_COLUMNS)
    redactions = pd.DataFrame([(o.file, o.interview["interview_id"], t, n) for o in kept for t, n in o.redactions.items()],
                              columns=["file", "interview_id", "type", "count"])
    totals: dict[str, list[int]] = {}
    for o in kept:
        for term, (occ, single) in o.audit.items():
            c = totals.setdefault(term, [0, 0])
            c[0] += occ
            c[1] += single
    audit = dictionary_audit(ctx.spec.words, totals)
    skipped_df = pd.DataFrame(skipped, columns=SKIP_COLUMNS)
    for frame in (units, questions):
        for col in ("turn", "sentence", "n_tokens", "question", "before_turn"):
            if col in frame:
                frame[col] = frame[col].astype("int64")

    by_type = redactions.groupby("type")["count"].sum() if len(redactions) else pd.Series(dtype="int64")
    metrics: dict[str, Any] = {
        "files": len(files), "interviews": len(kept), "skipped": len(skipped),
        "respondent_turns": int(interviews["n_turns"].sum()) if len(interviews) else 0,
        "questions": len(questions), "units": len(units), "tokens": int(units["n_tokens"].sum()) if len(units) else 0,
        "units_below_min_tokens": sum(o.below_min for o in kept),
        "redactions": int(redactions["count"].sum()) if len(redactions) else 0,
        "engine": ctx.spec.engine, "unit": settings.unit,
        "dictionary_hash": ctx.spec.key[:16],
        "dictionary_terms": len(audit), "dictionary_terms_in_corpus": int((audit["occurrences"] > 0).sum()),
        "dictionary_terms_always_single": int(((audit["occurrences"] > 0) & (audit["split"] == 0)).sum()),
        "roles_other": int((interviews["role"] == "other").sum()) if len(interviews) else 0,
        "dates_missing": int((interviews["date"] == "").sum()) if len(interviews) else 0,
    }
    for t in PII_TYPES:
        metrics[f"redactions_{t}"] = int(by_type.get(t, 0))
    for code, n in Counter(code for _, code, _ in skipped).items():
        metrics[f"skipped_{code}"] = n
    stats = {"segmented_units": sum(o.segmented for o in kept),
             "cached_interviews": sum(1 for o in kept if o.segmented == 0 and o.units)}
    return CorpusResult(units=units, questions=questions, interviews=interviews, redactions=redactions,
                        audit=audit, skipped=skipped_df, metrics=metrics, stats=stats)


def write_outputs(result: CorpusResult, out_dir: Path, metrics_path: Path) -> None:
    """All outputs built in a temporary folder that replaces ``out_dir`` whole; metrics last."""
    with atomic_dir(out_dir) as tmp, atomic_path(metrics_path) as mtmp:
        write_parquet(tmp / OUTPUTS["units"], result.units)
        write_parquet(tmp / OUTPUTS["questions"], result.questions)
        write_csv(tmp / OUTPUTS["interviews"], result.interviews)
        write_csv(tmp / OUTPUTS["redactions"], result.redactions)
        write_csv(tmp / OUTPUTS["audit"], result.audit)
        write_csv(tmp / OUTPUTS["skipped"], result.skipped)
        mtmp.write_text(json.dumps(result.metrics, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------
def settings_from(cfg: dict[str, Any]) -> Settings:
    known = {"config", "userdict", "stopwords", "strict", "unit", "engine", "n_jobs", "cache_dir", "jieba_cache",
             "min_tokens", "batch_size", "parallel_min_files", "progress_min_files"}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise PipelineError(f"params.yaml: transcripts has unknown keys {unknown}", hint=f"use {sorted(known)}")
    unit = str(cfg.get("unit", "sentence"))
    if unit not in UNITS:
        raise PipelineError(f"params.yaml: transcripts.unit '{unit}' is unknown", hint="use sentence or turn")
    try:
        s = Settings(unit=unit, min_tokens=int(cfg.get("min_tokens", 1)), strict=bool(cfg.get("strict", False)),
                     n_jobs=int(cfg.get("n_jobs", 2)), cache_dir=cfg.get("cache_dir") or None,
                     batch_size=int(cfg.get("batch_size", 40)), parallel_min_files=int(cfg.get("parallel_min_files", 200)),
                     progress_min_files=int(cfg.get("progress_min_files", 500)))
    except (TypeError, ValueError) as exc:
        raise PipelineError(f"params.yaml: transcripts has a value of the wrong type ({exc})") from None
    if s.n_jobs < 1 or s.batch_size < 1 or s.min_tokens < 0:
        raise PipelineError("params.yaml: transcripts.n_jobs and batch_size must be at least 1, min_tokens at least 0")
    return s



ROSTER_SPLIT = re.compile(r"[;；,，、|/\s]+")


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """An optional manifest CSV: ``file`` and any of interview_id, comm_id, role, date, names
    (a roster of the people named in that interview, separated by ; or 、)."""
    df = read_csv_strings(path, "manifest", "check --manifest, or leave it out")
    if "file" not in df.columns:
        raise PipelineError(f"{path}: no column 'file'", hint="the manifest needs file and any of interview_id, comm_id, role, date, names")
    dup = df["file"][df["file"].duplicated()]
    if len(dup):
        raise PipelineError(f"{path}: file '{dup.iloc[0]}' is listed more than once (row {int(dup.index[0]) + 2})")
    out = {}
    for row in df.to_dict(orient="records"):
        meta = {k: row[k].strip() for k in ("interview_id", "comm_id", "role", "date") if k in row and row[k].strip()}
        if "names" in row and row["names"].strip():
            meta["names"] = tuple(n for n in ROSTER_SPLIT.split(row["names"].strip()) if n)
        out[row["file"].strip()] = meta
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline transcripts", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--transcripts", default=str(config.RAW_TRANSCRIPTS), help="folder of .txt / .docx transcripts")
    parser.add_argument("--communities", default=str(config.RAW_COMMUNITIES),
                        help="community file whose ids (the instrument's communities.id) the transcripts' must be in ('' to skip)")
    parser.add_argument("--manifest", default="", help="optional CSV: file, interview_id, comm_id, role, date, names")
    parser.add_argument("--out", default=str(OUT_DIR))
    parser.add_argument("--metrics", default=str(METRICS_FILE))
    args = parser.parse_args(argv)
    params = config.load_params(args.params)
    cfg = config.section(params, "transcripts")
    settings = settings_from(cfg)
    rules = load_rules(cfg.get("config", "config/transcripts.yaml"), cfg.get("stopwords", "config/stopwords.txt"))
    engine = resolve_engine(str(cfg.get("engine", "auto")))
    jieba_cache = str(cfg.get("jieba_cache", ".cache/jieba.cache"))
    words = resolve_userdict(cfg.get("userdict", "config/userdict.txt"), jieba_cache)
    spec = segmenter_spec(engine, words, jieba_cache)
    instrument = load_instrument(params["instrument"])
    communities = frozenset(read_community_ids(args.communities, instrument)) if args.communities else None
    manifest = read_manifest(Path(args.manifest)) if args.manifest else None
    ctx = Context(rules=rules, spec=spec, settings=settings, communities=communities,
                  communities_name=Path(args.communities).name if args.communities else "")
    files = list_transcripts(Path(args.transcripts))
    result = process_corpus(files, ctx, manifest, parallel=from_params(params, n_jobs=settings.n_jobs))
    write_outputs(result, Path(args.out), Path(args.metrics))
    if len(result.skipped):
        print(f"transcripts: {len(result.skipped)} file(s) skipped, see {Path(args.out) / OUTPUTS['skipped']}", file=sys.stderr)
    print(f"transcripts: {result.stats['segmented_units']} units segmented, "
          f"{result.stats['cached_interviews']} interviews' tokens read from the cache", file=sys.stderr)
    print(json.dumps(result.metrics, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))

"""The transcripts' study knowledge: ``config/transcripts.yaml`` and the word lists it names
(surnames, stopwords), checked and compiled into :class:`Rules`, which every step in
``pipeline/text`` takes; :func:`read_word_list` reads any of those lists (the user dictionary too).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core import config
from pipeline.core.errors import PipelineError

PII_TYPES = ("name", "mobile", "landline", "id_number", "email", "address", "long_number")
HEADER_FIELDS = ("interview_id", "community", "role", "date")
KINDS = ("interview", "documents")
SPLITS = ("file", "line", "separator")
SENTENCE_END = "。！？!?；;…"               # text.sentence_end when the config gives none (Chinese and ASCII ends)
CLOSING = "”’」』）)】》"                    # text.closing when the config gives none
NEVER = r"(?!x)x"                           # a pattern that matches nothing


@dataclass(frozen=True)
class Rules:
    """``config/transcripts.yaml`` checked and compiled, with the surname and stopword lists."""

    path: str
    kind: str                                 # interview | documents (format.kind)
    split: str                                # documents: file | line | separator (format.texts)
    separator: str                            # format.separator (texts: separator)
    community_required: bool                  # format.community: required
    field_of: dict[str, str]                  # header label -> interview_id|community|role|date|name|personal
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


def _format(spec: Any, where: str) -> dict[str, Any]:
    """``format``: what a file holds. Left out: interviews, one a file, the community optional."""
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        raise PipelineError(f"{where}: format must be a mapping (kind, texts, separator, community)")
    unknown = sorted(set(spec) - {"kind", "texts", "separator", "community"})
    if unknown:
        raise PipelineError(f"{where}: format has unknown keys {unknown}", hint="use kind, texts, separator, community")
    kind, split = str(spec.get("kind", "interview")), str(spec.get("texts", "file"))
    community = str(spec.get("community", "optional"))
    if kind not in KINDS:
        raise PipelineError(f"{where}: format.kind '{kind}' is unknown", hint="use interview (speaker turns) or "
                            "documents (texts by one author, no interviewer: messages, open answers)")
    if split not in SPLITS:
        raise PipelineError(f"{where}: format.texts '{split}' is unknown", hint="use file, line or separator")
    if kind == "interview" and split != "file":
        raise PipelineError(f"{where}: format.texts: {split} is for documents; an interview is one file",
                            hint="set format.kind: documents, or format.texts: file")
    separator = spec.get("separator")
    if split == "separator" and (not isinstance(separator, str) or not separator.strip()):
        raise PipelineError(f"{where}: format.texts: separator needs format.separator, the line that ends a text",
                            hint='e.g. separator: "---"')
    if community not in ("required", "optional"):
        raise PipelineError(f"{where}: format.community '{community}' is unknown", hint="use required or optional")
    return {"kind": kind, "split": split, "separator": str(separator or "").strip(),
            "community_required": community == "required"}


def _header(header: Any, where: str) -> tuple[dict[str, str], re.Pattern, list[re.Pattern]]:
    """``header``: label -> field, the pattern of a header label, the date formats. Every part is optional."""
    header = {} if header is None else header
    if not isinstance(header, dict):
        raise PipelineError(f"{where}: header must be a mapping (fields, name_fields, personal_fields, date_formats)")
    fields = header.get("fields") or {}
    if not isinstance(fields, dict):
        raise PipelineError(f"{where}: header.fields must map {list(HEADER_FIELDS)} to lists of labels")
    unknown = sorted(set(fields) - set(HEADER_FIELDS))
    if unknown:
        hint = ("the community field is called 'community'" if "comm_id" in unknown
                else f"header.fields are {list(HEADER_FIELDS)}")
        raise PipelineError(f"{where}: header.fields has unknown keys {unknown}", hint=hint)
    field_of: dict[str, str] = {}
    for name in HEADER_FIELDS:
        for label in _str_list(fields.get(name) or [], f"{where}: header.fields.{name}"):
            field_of[label] = name
    for label in _str_list(header.get("name_fields") or [], f"{where}: header.name_fields"):
        field_of[label] = "name"
    for label in _str_list(header.get("personal_fields") or [], f"{where}: header.personal_fields"):
        field_of[label] = "personal"
    header_re = re.compile(rf"(?:^|(?<=[\s\u3000]))({_alternation(field_of)})[ \t\u3000]*[：:]" if field_of else NEVER)
    date_res = []
    for pattern in _str_list(header.get("date_formats") or [], f"{where}: header.date_formats"):
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise PipelineError(f"{where}: header.date_formats: '{pattern}' is not a regular expression ({exc})") from None
        if not {"y", "m", "d"} <= set(rx.groupindex):
            raise PipelineError(f"{where}: header.date_formats: '{pattern}' needs the groups y, m and d")
        date_res.append(rx)
    return field_of, header_re, date_res


def _roles(roles: Any, where: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``roles``: role label -> code, and the keyword rules (optional: no roles, every text is 'other')."""
    roles = {} if roles is None else roles
    if not isinstance(roles, dict):
        raise PipelineError(f"{where}: roles must be a mapping (labels, keywords)")
    role_labels = {str(label): str(code) for code, labels in (roles.get("labels") or {}).items()
                   for label in _str_list(labels, f"{where}: roles.labels.{code}")}
    role_keywords = []
    for pair in roles.get("keywords") or []:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise PipelineError(f"{where}: roles.keywords entries must be [keyword, code]")
        role_keywords.append((str(pair[0]), str(pair[1])))
    return role_labels, role_keywords


def _speakers(speakers: Any, where: str, kind: str) -> tuple[frozenset[str], frozenset[str], re.Pattern, int]:
    """``speakers``: the interviewer and respondent markers (interviews only) and the label pattern."""
    if speakers is None and kind == "documents":
        speakers = {}
    elif speakers is None:
        raise PipelineError(f"{where}: 'speakers' is missing",
                            hint="an interview needs its speaker markers (speakers.interviewer, speakers.respondent); "
                                 "texts without an interviewer are format.kind: documents")
    if not isinstance(speakers, dict):
        raise PipelineError(f"{where}: speakers must be a mapping (interviewer, respondent, ...)")

    def need(key: str) -> Any:
        return _cfg_need(speakers, key, f"{where}: speakers") if kind == "interview" else speakers.get(key) or []

    interviewer = frozenset(_str_list(need("interviewer"), f"{where}: speakers.interviewer"))
    respondent = frozenset(_str_list(need("respondent"), f"{where}: speakers.respondent"))
    if interviewer & respondent:
        raise PipelineError(f"{where}: speakers {sorted(interviewer & respondent)} are both interviewer and respondent markers")
    max_label = int(speakers.get("max_label_chars", 8))
    label_re = re.compile(r"^[ \t\u3000]*([^\s：:，。,.!?！？、；;（）()\[\]【】“”\"'《》]{1,%d})[ \t\u3000]*[：:]" % max_label)
    return interviewer, respondent, label_re, int(speakers.get("min_named_label_uses", 2))


def _text(text: Any, where: str) -> tuple[re.Pattern, re.Pattern]:
    """``text``: the sentence pattern (``sentence_end``, ``closing``) and the transcriber's notes
    (optional: Chinese and ASCII sentence ends, no notes)."""
    text = {} if text is None else text
    if not isinstance(text, dict):
        raise PipelineError(f"{where}: text must be a mapping (sentence_end, closing, annotations)")
    ends = str(text.get("sentence_end", SENTENCE_END))
    closing = str(text.get("closing", CLOSING))
    sentence_re = re.compile(rf"[^{re.escape(ends)}]+(?:[{re.escape(ends)}]+[{re.escape(closing)}]*)?|[{re.escape(ends)}]+[{re.escape(closing)}]*")
    notes = _str_list(text.get("annotations") or [], f"{where}: text.annotations")
    try:
        annotation_re = re.compile("|".join(f"(?:{n})" for n in notes) if notes else NEVER)
    except re.error as exc:
        raise PipelineError(f"{where}: text.annotations is not a valid regular expression ({exc})") from None
    return sentence_re, annotation_re


def _address_re(addr: Any, where: str) -> re.Pattern:
    """``redaction.address``: the pattern of the building / unit / room / road-number anchors."""
    def parts(key: str) -> list[str]:
        return _str_list(_cfg_need(addr, key, f"{where}: redaction.address"), f"{where}: redaction.address.{key}")

    num = r"(?:\d{1,4}|[一二三四五六七八九十百零〇两]{1,4})"
    building, unit, floor, room = (_alternation(parts(k)) for k in ("building", "unit", "floor", "room"))
    sides = re.escape("".join(parts("sides")))
    road_ends = re.escape("".join(sorted({r[-1] for r in parts("roads")})))
    tail = rf"(?:{num}(?:{floor}))?(?:\d{{1,5}}(?:{room})?|[{sides}]边?(?:{room}))?"
    return re.compile(
        rf"(?<!\d)\d{{1,4}}(?:{building})(?:{num}(?:{unit}))?{tail}"            # 12号楼(3单元)(5楼)(502室)
        rf"|{num}(?:{building}){num}(?:{unit}){tail}"                           # 十二栋三单元...
        rf"|(?<!\d)\d{{1,4}}(?:{unit})(?:{num}(?:{floor}))?(?:\d{{1,5}}(?:{room})?|[{sides}]边?(?:{room}))"  # 3单元502室
        rf"|(?<=[{road_ends}])\d{{1,4}}号(?![楼院])"                              # 北京中路154号
    )


def load_rules(path: str | Path, stopwords_path: str | Path) -> Rules:
    """Read ``config/transcripts.yaml`` (and the lists it names) into :class:`Rules`."""
    path = Path(path)
    where = str(path)
    raw = config.read_yaml(path, "transcripts configuration", "check params.yaml: transcripts.config")
    if not isinstance(raw, dict):
        raise PipelineError(f"{where}: expected a mapping of sections", hint="see config/transcripts.yaml")
    fmt = _format(raw.get("format"), where)
    field_of, header_re, date_res = _header(raw.get("header"), where)
    if fmt["community_required"] and "community" not in field_of.values():
        raise PipelineError(f"{where}: format.community is required but header.fields declares no community labels",
                            hint="list the header labels of the community id under header.fields.community, "
                                 "or set format.community: optional")
    role_labels, role_keywords = _roles(raw.get("roles"), where)
    interviewer, respondent, label_re, min_named = _speakers(raw.get("speakers"), where, fmt["kind"])

    sentence_re, annotation_re = _text(raw.get("text"), where)

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
    address_re = _address_re(addr, where)

    prefixes = _str_list(names.get("prefixes") or [], f"{where}: redaction.names.prefixes")
    titles = _str_list(names.get("titles") or [], f"{where}: redaction.names.titles")
    sur_alt = _alternation(surnames)
    prefix_re = re.compile(rf"(?:{_alternation(prefixes)})(?:{sur_alt})") if prefixes else None
    title_re = re.compile(rf"(?:{sur_alt})(?:{_alternation(titles)})") if titles else None

    stop_path = Path(stopwords_path)
    stopwords = frozenset(r[0] for r in read_word_list(stop_path, "stopword list"))
    return Rules(
        path=str(path), kind=fmt["kind"], split=fmt["split"], separator=fmt["separator"],
        community_required=fmt["community_required"], field_of=field_of, header_re=header_re,
        strip_brackets=bool((raw.get("header") or {}).get("strip_brackets", True)),
        date_res=tuple(date_res), role_labels=role_labels, role_keywords=tuple(role_keywords),
        interviewer=interviewer, respondent=respondent, label_re=label_re,
        min_named_uses=min_named, sentence_re=sentence_re,
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

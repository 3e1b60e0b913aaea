"""Steps 3 and 4 of the transcripts: personal data found and replaced (see :mod:`pipeline.text.corpus`).

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
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pipeline.text.rules import PII_TYPES, Rules
from pipeline.text.segment import HAN_JIEBA, WORD_CHAR, Lexicon
from pipeline.text.turns import Parsed

RARE_FREQ = 10                              # jieba dictionary words rarer than this may be names
COMMON_FREQ = 1000                          # ... and words at least this frequent are everyday words
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


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

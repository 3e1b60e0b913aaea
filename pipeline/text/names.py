"""Names in a transcript: part of step 3 (see :mod:`pipeline.text.redact`).

:func:`find_names` combines several signals, so that a name jieba cuts badly is still found:
declared names (the header's name line, named speaker labels, the manifest's roster), informal
forms (老马, 小李, 马大姐, 李书记), full names in jieba's words (a surname + a word that is no
ordinary dictionary word), and the rest (see docs/redaction.md). Each name found is then
redacted wherever else it occurs in the interview.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.text.namebase import (COMMON_FREQ, RARE_FREQ, _after_trigger, _common, _function_word, _given_ok,
                                    _is_break, _rare_head, _surname_of, word_lists)
from pipeline.text.nameminority import dotted, minority_names
from pipeline.text.namespeech import by_birth_order, hesitations, kin_short_names, said_of_person, surname_before
from pipeline.text.namespoken import (called_each_other, compounds, dotted_surname, family_member_named, long_called, of_people,
                                      pet_names, signed)
from pipeline.text.namesignals import _kin_names, _listed_names, _spaced_names, a_names, doubled_names, latin_names, pinyin_names
from pipeline.text.namecontext import across_dots, ga_names, lone_surnames, nicknames, role_subjects
from pipeline.text.nameframes import (THING_NAMES, bare_given, called, compound_alone, corrections, declared_surnames, families_of, kept,
                                      kin_given_at, kin_of, not_person_spans, spelled_words,
                                      weak_after_role, weak_titled)
from pipeline.text.nameinformal import informal_names, split_role
from pipeline.text.namelists import more_names, with_confirmed
from pipeline.text.namescore import GIVEN_CHARS, after_time_word, scored_windows
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, WORD_CHAR, Lexicon, find_all
from pipeline.text.turns import Parsed



NUMERALS = "这那哪每几一二两三四五六七八九十半整0123456789"     # before a measure word (这张卡): no surname
WRITTEN_ON = "写印登填签标记盖"                 # after 上: the word before is a document (房本上写的), no name
LANDFORMS = "山川河沟湾岭坡梁塬峁洼滩渠堡岔"        # a surname and one of these: a place (杨山, 羊山), not a name
THING_CALLED = tuple(w + v for w in THING_NAMES for v in ("叫", "叫做", "是"))
CLAUSE_START = "，。；！？,;!?：:、\n \t\u3000（(“「"      # before a name-shaped word that a role follows (，高峰主任说)


def declared_names(text: str, parsed: Parsed, rules: Rules, roster: Iterable[str]) -> list[str]:
    """Names the study declares: the header's name lines, the manifest's roster, named speaker
    labels that start with a surname (or are on the roster); longest first."""
    roster = {r for r in roster if len(r) >= 2}
    declared = {text[s:e] for s, e in parsed.name_spans} | roster
    declared |= {lab for lab in parsed.named_labels if _surname_of(lab, rules, weak=True) or lab in roster}
    return sorted((d for d in declared if len(d) >= 2), key=lambda w: (-len(w), w))


def occurrences(text: str, name: str, rules: Rules, region: int = 0) -> Iterator[tuple[int, int, int, int, str]]:
    """Every occurrence of ``name`` from ``region`` on (spaces between its characters may vary),
    as (start, end of the occurrence, start, end of the span to redact, key): the surname only
    for an informal form (key: the form), else the whole occurrence."""
    compact = "".join(c for c in name if c not in NAME_GAPS)
    part = split_role(compact, rules)
    for start, end in _spaced_matches(text, compact):
        if start < region:
            continue
        if part and end - start == len(compact):
            yield start, end, start + part[0], start + part[1], compact
        else:
            yield start, end, start, end, compact


NAME_GAPS = frozenset(" \t\u3000\r\n、·・‧•-—–－")   # between a declared name's characters: 马 占 林, 马、占、林, 阿—依—莎


def _spaced_matches(text: str, compact: str) -> Iterator[tuple[int, int]]:
    """Where ``compact`` occurs with any spaces, tabs, ideographic spaces, line breaks, 、, middle
    dots or dashes (:data:`NAME_GAPS`) between its characters, left to right, not overlapping (no
    character of ``compact`` is one of them, so the match at a place is the one way to go on),
    found without compiling a pattern per name: a declared name spelled out character by character
    (马、占、林) is still the name."""
    if not compact:
        yield from (m.span() for m in re.finditer("", text))
        return
    n, first, rest = len(text), compact[0], compact[1:]
    p = text.find(first)
    while p >= 0:
        q = p + 1
        for c in rest:
            while q < n and text[q] in NAME_GAPS:          # a name a line break cuts (王\n建军)
                q += 1
            if q < n and text[q] == c:
                q += 1
            else:
                break
        else:
            yield p, q
            p = text.find(first, q)
            continue
        p = text.find(first, p + 1)


def find_names(text: str, parsed: Parsed, rules: Rules, tokens: list[str], starts: list[int], lexicon: Lexicon,
               region: int, taken: Any) -> Iterator[tuple[int, int, str]]:
    """Name spans (start, end, key) found automatically (:func:`_found_names`), then those that the
    names found make names (:mod:`pipeline.text.namelists`: a list's items, siblings, a given name
    said again). A span that ends in a title after one or two characters that are no listed
    surname (叫他勉主任: 勉 in no list) keeps the title: the role word survives whatever found it."""
    for s, e, key in _find_names(text, parsed, rules, tokens, starts, lexicon, region, taken):
        word = text[s:e]
        title = next((t for t in rules.titles if len(t) >= 2 and word.endswith(t) and 1 <= len(word) - len(t) <= 2), "")
        if title and not split_role(word, rules):
            yield s, e - len(title), key if key != word else word[:-len(title)]
        else:
            yield s, e, key


def _find_names(text: str, parsed: Parsed, rules: Rules, tokens: list[str], starts: list[int], lexicon: Lexicon,
                region: int, taken: Any) -> Iterator[tuple[int, int, str]]:
    found = [f for f in _found_names(text, parsed, rules, tokens, starts, lexicon, region, taken)
             if not text.endswith(THING_CALLED, 0, f[0]) and not _kin_word(text[f[0]:f[1]], rules)]   # 店名叫福满园: a shop's name
    found = with_confirmed(text, found, rules, lexicon, region, taken.free)            # 路经理 … 路红霞 (:mod:`namelists`)
    found = surname_before(text, found, rules, lexicon, region, taken.free)            # 马法蒂麦 (:mod:`namespeech`)
    spans = not_person_spans(text, rules)
    givens = _givens_of_found(text, found, rules)
    more = [(s, e) for s, e in more_names(text, [(s, e) for s, e, _ in found], rules, lexicon, region)
            if taken.free(s, e) and not kept(text, s, e, spans, rules, lexicon, given=text[s:e] in givens)]   # 马哈三 … 哈三
    yield from (f for f in found if not any(s <= f[0] and f[1] <= e and (f[2] == text[f[0]:f[1]].replace(" ", "") or
                                                                         text[s:e] in givens) for s, e in more))
    # 桂英 in 闪桂英 (not 马 of 马姐); 小龙 of 马小龙 said again is the given name, not 小 + the surname 龙
    yield from ((s, e, re.sub(r"\s+", "", text[s:e])) for s, e in more)


def _givens_of_found(text: str, found: list[tuple[int, int, str]], rules: Rules) -> set[str]:
    """The given names (two characters) of the full names found whole: 小龙 of 马小龙."""
    out = set()
    for s, e, key in found:
        word = re.sub(r"\s+", "", text[s:e])
        sur = _surname_of(word, rules, weak=True) if key == word else ""
        if sur and len(word) - len(sur) == 2:
            out.add(word[len(sur):])
    return out


def _kin_word(word: str, rules: Rules) -> bool:
    """A kinship word of two characters or more, or a span that starts with one (她达达起的: 达达 a
    father in north-western speech): no name."""
    return any(word.startswith(k) for k in rules.kin_words if len(k) >= 2)


def _found_names(text: str, parsed: Parsed, rules: Rules, tokens: list[str], starts: list[int], lexicon: Lexicon,
                 region: int, taken: Any) -> Iterator[tuple[int, int, str]]:
    """Name spans (start, end, key) found automatically, each then wherever else it occurs:
    informal forms (老马, 马大姐: the surname only), spaced names (马 玉 兰), given names of the
    ``given_names`` list (阿依莎, 马穆萨), given names after a kinship word (我闺女玉兰), full
    names in jieba's words (:func:`_full_names`) and in name-shaped windows of the text that
    more than one signal supports (:func:`_window_names`). ``taken``: the characters already
    claimed (``.free(start, end)``)."""
    found: dict[str, str] = {}                           # name as written -> key
    direct: set[int] = set()                             # where a finder found one
    token_starts = set(starts)
    listed = list(_listed_names(text, rules, lexicon, region))
    places = _place_spans(text, rules)
    scored, minority = list(scored_windows(text, rules, lexicon, region)), list(minority_names(text, rules, lexicon, region))
    informal_spans: list[tuple[int, int]] = []
    informal = bytearray(len(text))                      # informal forms win over the other signals (小周 张罗) ...
    for s, e in [*informal_names(text, rules, lexicon, token_starts), *weak_titled(text, rules, lexicon, region)]:
        if any(ls < e and s < le for ls, le in listed) or kin_given_at(text, s, rules, lexicon) or any(ms < s < me for ms, me in minority) or \
                any(ws < s and s < we and e <= we or (ws == s + 1 == e - 1 and we > e) for ws, we in scored):
            continue                                     # ... but not over a listed name (阿卜杜拉: not 阿卜), a full
                                                         # name that holds the form (纳小龙: not 纳 + 小[龙]) or starts at
                                                         # its surname (乡老丁福海: not 老[丁]), a minority's (那日苏主任)
        if s >= region and taken.free(s, e):
            found[text[s:e]] = text[s:e]
            direct.add(s)
            informal[s:e] = b"\x01" * (e - s)
            informal_spans.append((s, e))
    candidates: list[tuple[int, int]] = []
    words = _Words(tokens, starts, lexicon, rules.glue_before, word_lists(rules).long_triggers)
    for finder in (_spaced_names(text, rules, lexicon, region), listed, _kin_names(text, rules, lexicon, token_starts, region),
                   _full_names(tokens, starts, rules, lexicon), _window_names(text, rules, lexicon, region, words)):
        candidates.extend((s, e) for s, e in finder if s >= region and taken.free(s, e) and not any(informal[s:e]) and
                          text[s:e] not in rules.not_names and not _implausible(text, s, e, rules, lexicon, words)
                          and not any(_crosses(s, e, ls, le) for ls, le in listed)   # 赛里麦常来: not 麦常来
                          and not _in_place(text, s, places, rules))
    candidates.extend((s, e) for s, e in scored if taken.free(s, e) and not any(informal[s:e]) and
                      text[s:e] not in rules.not_names and not any(_crosses(s, e, ls, le) for ls, le in listed) and
                      not _in_place(text, s, places, rules) and
                      not _implausible(text, s, e, rules, lexicon, words, weighed=True))   # 丁金花老人: 金花 weighed
    candidates = _trim_glue(text, candidates, scored, rules)
    candidates.extend((s, e) for s, e in [*dotted(text, rules, region), *minority]
                      if taken.free(s, e) and not any(informal[s:e]))     # 才让东知, 买买提江·吐尔逊 (:mod:`nameminority`)
    ordinary = {text[s:e] for s, e in _context_names(text, rules, lexicon, region)
                if taken.free(s, e) and not any(informal[s:e]) and (text[s:e] not in rules.not_names or _titled(text, s, e, rules))
                and not _in_place(text, s, places, rules)}          # 丁香阿姨: an ordinary word in a person's context
    candidates.extend((i, i + len(w)) for w in ordinary for i in find_all(text, w)
                      if i >= region and _person_context(text, i, i + len(w), rules))
    local: set[str] = set()                              # redacted where found only (叫她燕子: elsewhere a bird)
    for finder, words_too in ((role_subjects(text, rules, lexicon, region), ordinary), (nicknames(text, rules, lexicon, region), local),
                              (called(text, rules, lexicon, region), local), (weak_after_role(text, rules, lexicon, region), local),
                              (bare_given(text, rules, lexicon, region), local),
                              (declared_surnames(text, rules, lexicon, region), local), (kin_of(text, rules, lexicon, region), local),
                              (corrections(text, rules, lexicon, region), local), (a_names(text, rules, lexicon, region), local),
                              (pinyin_names(text, rules, region), local), (latin_names(text, rules, region), local), (ga_names(text, rules, region), local),
                              (doubled_names(text, rules, lexicon, region), local), (spelled_words(text, rules, region), set()),
                              (compounds(text, rules, lexicon, region), local), (called_each_other(text, rules, lexicon, region), local),
                              (pet_names(text, rules, lexicon, region), local), (dotted_surname(text, rules, region), local),
                              (of_people(text, rules, lexicon, region), local), (family_member_named(text, rules, region), local),
                              (long_called(text, rules, lexicon, region), local), (said_of_person(text, rules, lexicon, region), set())):
        for s, e in finder:
            if taken.free(s, e) and not any(informal[s:e]):
                candidates.append((s, e))
                if words_too is ordinary or _common(text[s:e], lexicon, RARE_FREQ):
                    words_too.add(text[s:e])             # 田野是社工: 田野 elsewhere only after a break
    for s, e in _union([(s, e) for s, e in candidates if not _kin_word(text[s:e], rules)]):   # 孙子马 + 马 小 彪: not one
        found.setdefault(text[s:e], re.sub(r"\s+", "", text[s:e]))
        direct.add(s)
    ordinary |= {name for name in found if _starts_word(name, rules, lexicon) or _everyday(name, lexicon)}
    # 马兰花 (马兰, a plant) as 丁香; 叫高山 found, 固原高山上 an everyday word
    spans = not_person_spans(text, rules)               # 冶金的冶, 撒拉族, 马园村 … 马园 (:mod:`nameframes`)
    yield from ((s, e, k) for s, e, k in _everywhere(text, found, direct, ordinary, local, rules, lexicon, region, token_starts)
                if not kept(text, s, e, spans, rules, lexicon))
    titled = {text[s:e][slice(*split_role(text[s:e], rules))] for s, e in informal_spans if split_role(text[s:e], rules)}
    for s, e in [*lone_surnames(text, rules, lexicon, region), *((s, e) for s, e in called(text, rules, lexicon, region) if e - s == 1),
                 *((s, e) for s, e in corrections(text, rules, lexicon, region) if e - s == 1),
                 *families_of(text, titled, lexicon, region), *compound_alone(text, found, rules, lexicon, region),
                 *signed(text, rules, region)]:
        if not _in_place(text, s, places, rules) and not kept(text, s, e, spans, rules, lexicon):
            yield s, e, text[s:e]
    yield from _spoken(text, rules, lexicon, region)


def _spoken(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int, str]]:
    """The spans of :mod:`namespeech` that stand where they are found (with their keys)."""
    yield from hesitations(text, rules, lexicon, region)        # 杨……杨文科, 叫杨[听不清]霞
    yield from ((s, e, text[s:e]) for s, e in [*by_birth_order(text, rules, region),     # 都叫他马三，
                                                *kin_short_names(text, rules, lexicon, region)])   # 孙子马浩、


CLAUSE_ENDS = "，。；！？,;!?"


def _trim_glue(text: str, candidates: list[tuple[int, int]], scored: list[tuple[int, int]],
               rules: Rules) -> list[tuple[int, int]]:
    """A candidate of three characters or more that ends in a glue character (刘洋来替班: jieba's
    刘洋来) ends before it when the scorer took the window without it (刘洋), unless a clause ends
    right after it (叫王福来，: the glue character has no verb to be part of)."""
    ends = {s: e for s, e in scored}
    return [(s, e - 1) if e - s >= 3 and text[e - 1] in rules.glue_after and ends.get(s) == e - 1 and
            text[e:e + 1] not in CLAUSE_ENDS else (s, e) for s, e in candidates]


def _everywhere(text: str, found: dict[str, str], direct: set[int], ordinary: set[str], local: set[str], rules: Rules,
                lexicon: Lexicon, region: int, token_starts: set[int]) -> Iterator[tuple[int, int, str]]:
    """Each name found, wherever it occurs: at a token's start, after a glue character, set off
    by punctuation or where no dictionary word crosses its ends (她妈常丽现在); an ordinary word (丁香, 田野) elsewhere only after a break, a nickname that is
    a word (燕子) elsewhere only as a whole clause (。杨柳，), and nowhere before a place word (吴忠市: the name 吴忠 is a city
    there). A name written with a middle dot takes its other half (阿依古丽·买买提)."""
    for name in sorted(found, key=lambda w: (-len(w), w)):
        if len(re.sub(r"\s+", "", name)) < 2:
            continue
        for ms, me, s, e, key in occurrences(text, name, rules, region):
            if (s, e) == (ms, me) and _surnamed_here(text, s, e, rules) and \
                    not _place_after(text, me, rules, lexicon):
                yield s - 1, e, key                      # 黑蛋 … 修车的张黑蛋: the nickname with a surname before it
                continue
            if ms not in direct and (name in local and not _clause(text, ms, me) or _place_after(text, me, rules, lexicon)):
                continue                                 # (a nickname that is a word: a whole clause only, 杨柳，我儿子叫杨柳)
            if name in ordinary and not (ms in direct or ms == 0 or not HAN_JIEBA.match(text[ms - 1])):
                continue                                 # 丁香 elsewhere only after a break (not 两棵丁香)
            if ms in direct or ms in token_starts or (ms > 0 and text[ms - 1] in rules.glue_before) or \
                    _bounded(text, ms, me) or (len(key) >= 2 and _unglued(text, ms, me, lexicon)):
                if (s, e) == (ms, me):
                    s, e = across_dots(text, s, e, rules)
                    key = re.sub(r"\s+", "", text[s:e])
                yield s, e, key


def _surnamed_here(text: str, s: int, e: int, rules: Rules) -> bool:
    """A given name or nickname of two characters found alone (黑蛋) said here right after a common
    surname that follows a break, 的, 是, 叫 or a glue character (就是修车的张黑蛋): the full name."""
    if e - s != 2 or s < 1 or text[s - 1] not in rules.surnames:
        return False
    before = text[s - 2:s - 1]
    return not before or before in CLAUSE_START or before in "的是叫" or before in rules.glue_before


def _unglued(text: str, s: int, e: int, lexicon: Lexicon) -> bool:
    """No dictionary word crosses either end of ``text[s:e]`` (我丁占元活了: jieba's 我丁 / 占元活)."""
    return not _common(text[s - 1:s + 1], lexicon, RARE_FREQ) and not _common(text[e - 1:e + 1], lexicon, RARE_FREQ)


def _everyday(name: str, lexicon: Lexicon) -> bool:
    """A name that jieba's dictionary knows as an everyday word, not as a name (高山)."""
    entry = lexicon.get(name)
    return entry is not None and not entry[1].startswith("nr") and entry[0] >= RARE_FREQ


def _starts_word(name: str, rules: Rules, lexicon: Lexicon) -> bool:
    """A full name whose surname and next characters are an ordinary word (马兰花: 马兰, a plant)."""
    sur = _surname_of(name, rules, weak=True)
    return bool(sur) and " " not in name and any(_ordinary(name[:k], lexicon, rules) for k in range(len(sur) + 1, len(name)))


class _Words:
    """jieba's words of the text, to ask whether a candidate cuts into an ordinary word."""

    def __init__(self, tokens: list[str], starts: list[int], lexicon: Lexicon, glue: frozenset[str],
                 triggers: tuple[str, ...] = ()):
        self.tokens, self.starts, self.lexicon, self.glue, self.triggers = tokens, starts, lexicon, glue, triggers

    def _cut_trigger(self, k: int) -> bool:
        """Token ``k``'s first character ends a naming word begun by the token before (联系/人马)."""
        return k > 0 and (self.tokens[k - 1] + self.tokens[k][0]).endswith(self.triggers) if self.triggers else False

    def cuts_word(self, s: int, e: int) -> bool:
        """A user word that is no name overlaps ``[s, e)`` (古尔邦节, 彭阳), or a dictionary word
        (not a name, not rare) starts before ``s`` and reaches into it."""
        k = max(0, bisect.bisect_right(self.starts, s) - 1)
        while k < len(self.tokens) and self.starts[k] < e:
            tok, ts = self.tokens[k], self.starts[k]
            entry = self.lexicon.get(tok)
            if entry is not None and len(tok) > 1 and not entry[1].startswith("nr") and ts + len(tok) > s:
                if tok in self.lexicon.user or (ts < s and entry[0] >= RARE_FREQ and
                                                not (s - ts == 1 and (tok[0] in self.glue or self._cut_trigger(k)))):
                    return True                                          # (上马 梦月说, 联系人马 建国: a name)
            k += 1
        return False


def _implausible(text: str, s: int, e: int, rules: Rules, lexicon: Lexicon, words: _Words, weighed: bool = False) -> bool:
    """A candidate that is an ordinary word after all: the name of a place (满春小区, 银川市:
    :func:`_place_after`), a document (房本上写的), a surname used as a measure word (这张卡), a
    surname and the next character that are a common word with no break after the candidate
    (施工方老是, but 高山德，), a two-character candidate after a place word (嫁到吴忠), a
    candidate that cuts into a user word (古尔邦节). ``weighed``: a window of :mod:`namescore`,
    whose score weighed its given name being an everyday word already (丁金花老人)."""
    if _place_after(text, e, rules, lexicon) or (text[e:e + 1] == "上" and text[e + 1:e + 2] in WRITTEN_ON):
        return True
    word = re.sub(r"\s+", "", text[s:e])
    sur = _surname_of(word, rules, weak=True)
    if not sur or text[s:e] != word:
        return False
    prev = text[max(0, s - 4):s]
    if prev and prev[-1] in NUMERALS and sur in rules.measure_words and not after_time_word(text, s):
        return True
    if (lexicon.get(word[:len(sur) + 1]) or (0, ""))[1] == "t" or _foreign_word(word, sur, rules, lexicon):
        return True                                           # 周四马 强: a time word; 哈密瓜: no name characters
    if any(w in lexicon.user for w in (word,)) or words.cuts_word(s, e):
        return True
    strong = prev.endswith(word_lists(rules).strong_triggers)
    kin = prev.endswith(rules.kin_words)
    if len(word) == len(sur) + 1 and word[-1] in LANDFORMS and not strong and not kin and \
            not text.startswith(rules.titles, e):
        return True                                           # 杨山, 羊山: a hill or a village, not a name
    given = lexicon.get(word[len(sur):]) if len(word) - len(sur) == 2 else None
    if given is not None and not weighed and not given[1].startswith(("nr", "ns", "nz")) and given[0] >= rules.dict_max_freq \
            and not strong and not _after_trigger(text, s, rules) and \
            not (lexicon.name_like(word[len(sur):]) and text.startswith(rules.person_after, e)):
        return True                                           # 买房子 (but 负责人是丁强国, 王建军讲的): an everyday word
    head = lexicon.get(word[:len(sur) + 1])
    nxt = text[e:e + 1]
    broken = not nxt or not WORD_CHAR.match(nxt) or nxt in rules.glue_after
    if len(word) > len(sur) + 1 and _ordinary(word[:len(sur) + 1], lexicon, rules) and not broken and not strong and \
            not kin and prev and HAN_JIEBA.match(prev[-1]):
        return True                                           # 说马兰花耐旱: 马兰 a plant, no break on either side
    if len(word) > len(sur) + 1 and head is not None and not head[1].startswith("nr") and head[0] >= COMMON_FREQ \
            and not broken and not strong:
        return True
    if not broken and not strong and not kin and not any(_name_char(c, lexicon) for c in word[len(sur):]):
        return True                                           # 纳凉晚会: no character of a given name, no break
    return len(word) == 2 and prev.endswith(rules.place_words) and \
        text[e:e + 1] not in rules.name_suffixes


def _foreign_word(word: str, sur: str, rules: Rules, lexicon: Lexicon) -> bool:
    """The surname and the next character are an everyday word (哈密, a place) and a given
    character is rare in names (瓜): 哈密瓜 is fruit, though jieba's dictionary tags it nr."""
    head = lexicon.get(word[:len(sur) + 1])
    return len(word) > len(sur) + 1 and head is not None and head[0] >= rules.dict_max_freq and \
        any(not _name_char(c, lexicon) for c in word[len(sur):])


def _name_char(c: str, lexicon: Lexicon) -> bool:
    """A character common in given names (:data:`GIVEN_CHARS`, or in 30 of jieba's names)."""
    return c in GIVEN_CHARS or lexicon.given_chars.get(c, 0) >= 30


def _place_after(text: str, e: int, rules: Rules, lexicon: Lexicon) -> bool:
    """A word of ``place_after`` follows (满春小区, 银川市, 金海旺酒店) or a building's number
    (康乐苑5号楼): the candidate names a place or an organisation. Not before a title (马村长)
    nor a one-character place word that starts an everyday word (区长, 村里, 路过)."""
    if text.startswith(rules.titles, e):
        return False
    part = rules.address_part_re.match(text, e)
    if part and part.lastgroup in ("b", "u", "z", "w"):
        return True                                           # 康乐苑5号楼: a building's number follows
    for w in rules.place_after:
        if text.startswith(w, e):
            two = text[e:e + 2]
            return len(w) > 1 or two in rules.place_after or not _common(two, lexicon, RARE_FREQ)
    return False


def _place_spans(text: str, rules: Rules) -> list[tuple[int, int]]:
    """Where the region's place names (``places``: 贺兰, 西吉, 石嘴山) occur in ``text``."""
    if not rules.places:
        return []
    return [m.span() for m in re.finditer("|".join(map(re.escape, rules.places)), text)]


def _in_place(text: str, s: int, places: list[tuple[int, int]], rules: Rules) -> bool:
    """A candidate that starts where a place name starts or inside one (贺兰的, 石嘴山那边; not
    马永宁, whose place-like part comes after the surname), unless a kinship word or 叫 comes
    right before it (我闺女金凤)."""
    before = text[max(0, s - 4):s]
    return any(ps <= s < pe for ps, pe in places) and \
        not before.endswith(word_lists(rules).kin_strong)


def _person_context(text: str, s: int, e: int, rules: Rules, lexicon: Lexicon | None = None) -> bool:
    """What follows ``text[s:e]`` makes it a person: a form of address (丁香阿姨, 白雪大姐); a role
    after a word of ``not_names`` at a clause's start (，高峰主任说; a role may follow another word:
    康复医生); or, after a full name of three characters or more, a role, 家 or a word of
    ``person_after`` that starts no longer word (杨树林经理, 杨树林家; not 高峰说明)."""
    if text.startswith(word_lists(rules).address_titles, e):
        return True
    if len(re.sub(r"\s+", "", text[s:e])) < 3:
        return text[s:e] in rules.not_names and _titled(text, s, e, rules)    # 高峰主任 (not 康复医生)
    if any(text.startswith(t, e) for t in rules.titles):
        return True
    for w in (*rules.person_after, "家"):
        if text.startswith(w, e):
            two = text[e:e + len(w) + 1]
            return lexicon is None or not _common(two, lexicon, COMMON_FREQ) or two in ("家里", "家的", "家人")
    return False


def _titled(text: str, s: int, e: int, rules: Rules) -> bool:
    """A role follows ``text[s:e]`` at a clause's start (，高峰主任说了): a person, even where the
    word is an ordinary one of ``not_names``."""
    return (s == 0 or text[s - 1] in CLAUSE_START) and any(text.startswith(t, e) for t in rules.titles)


def _context_names(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """Names jieba's dictionary knows as words (丁香, 白云: tagged nr but frequent, so ordinary words
    to the other finders; 杨树林 beside 树林) where a person's context follows them
    (:func:`_person_context`): a surname and one or two characters, the word tagged nr, the surname
    ending no word before it."""
    first = word_lists(rules).strong_first
    for m in first.finditer(text, region):                 # no window starts before a surname's first character
        i = m.start()
        k = 2 if text[i:i + 2] in rules.surnames else 1 if text[i] in rules.surnames else 0
        if not k or _ends_word(text, i, text[i:i + k], rules, lexicon):
            continue
        for g in (2, 1):
            word = text[i:i + k + g]
            entry = lexicon.get(word)
            if len(word) == k + g and entry is not None and entry[1].startswith("nr") and \
                    _given_ok(word[k:], rules) and word not in lexicon.user and \
                    _person_context(text, i, i + k + g, rules, lexicon):
                yield i, i + k + g
                break


def _crosses(s: int, e: int, ls: int, le: int) -> bool:
    """``[s, e)`` overlaps ``[ls, le)`` without either holding the other (麦常来 and 赛里麦, 周阿 and
    阿卜杜勒)."""
    return s < le and ls < e and not (s <= ls and le <= e) and not (ls <= s and e <= le)


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping name candidates as one span (jieba's 杨佳 and the window's 杨佳丽: 杨佳丽)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out


def _clause(text: str, s: int, e: int) -> bool:
    """Punctuation or the text's ends on both sides (。杨柳，)."""
    return (s == 0 or text[s - 1] in "，。；！？,;!?：:、") and (e >= len(text) or text[e] in "，。；！？,;!?、")


def _bounded(text: str, s: int, e: int) -> bool:
    """Not inside a longer run of Chinese characters on both sides (a name set off by
    punctuation, spaces or the text's ends)."""
    return (s == 0 or not HAN_JIEBA.match(text[s - 1])) or (e >= len(text) or not HAN_JIEBA.match(text[e]))


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
    strong_chars = word_lists(rules).strong_chars
    long_triggers = word_lists(rules).long_triggers
    while i < n:
        tok = tokens[i]
        # a naming word jieba cut in two, its last character glued to the surname (联系/人马/建国)
        cut = len(tok) >= 2 and i > 0 and (tokens[i - 1] + tok[0]).endswith(long_triggers)
        if (tok[:1] not in strong_chars and tok[:1] not in rules.glue_before and not cut) or not HAN_JIEBA.match(tok):
            i += 1
            continue
        views = [(0, tok)] if tok[0] in strong_chars else []     # (no name starts without a surname)
        if len(tok) >= 2 and (tok[0] in rules.glue_before or cut) and _surname_of(tok[1:] + "x", rules):
            views.append((1, tok[1:]))
        step = 1
        for offset, word in views:
            found = _name_at(tokens, i, offset, word, rules, lexicon, cut and offset == 1)
            if found:
                name, step = found
                s = starts[i] + offset
                yield s, s + len(name)
                break
        i += step


def _name_at(tokens: list[str], i: int, offset: int, word: str, rules: Rules,
             lexicon: Lexicon, cut_trigger: bool = False) -> tuple[str, int] | None:
    """The full name that starts ``word`` (token ``i``, or its part from ``offset``) and the
    number of tokens it takes, or None: a name jieba cut in two (:func:`_split_name`), else a
    surname glued to its given name in one word (:func:`_glued_name`). ``cut_trigger``: the
    character before ``word`` ends a naming word (联系人马建国)."""
    sur = _surname_of(word + "x", rules)
    if not sur:
        return None
    prev = tokens[i - 1] if i > 0 else ""
    before = tokens[i][0] if offset else (prev if len(prev) == 1 else "")
    if before and before not in rules.glue_before and not cut_trigger and _common(before + sur, lexicon, RARE_FREQ):
        return None                                    # the surname ends the word before it
    given = word[len(sur):]
    trigger = offset == 1 or prev in rules.name_triggers or prev.endswith(word_lists(rules).long_triggers)
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if len(given) <= 1 and HAN_JIEBA.match(nxt):
        split = _split_name(tokens, i, offset, word, trigger, rules, lexicon, cut_trigger)
        if split:
            name, used = split
            return (name, 1 + used) if _acceptable(name, sur, rules, lexicon) else None
    if not given:
        return None
    name, strong = _glued_name(word, sur, given, prev, nxt, trigger, rules, lexicon)
    if name and strong:
        return (name, 1) if _given_ok(name[len(sur):], rules, final=False) and name not in rules.not_names else None
    return (name, 1) if name and _acceptable(name, sur, rules, lexicon) else None


def _acceptable(name: str, sur: str, rules: Rules, lexicon: Lexicon) -> bool:
    return _given_ok(name[len(sur):], rules, lexicon=lexicon) and name != sur * 2 and name not in rules.not_names \
        and not _ordinary(name, lexicon, rules)


def _split_name(tokens: list[str], i: int, offset: int, word: str, trigger: bool, rules: Rules,
                lexicon: Lexicon, cut_trigger: bool = False) -> tuple[str, int] | None:
    """A name jieba cut in two: ``word`` (a surname, or a surname + one character) and the rest
    of the given name from the next tokens (杨 + 佳丽, 王平 + 忠, 马兵 + 龙(留), 虎 + 龙彦(办),
    (上)马 + 梦 + 月); the name and the number of tokens the rest took, or None."""
    sur = _surname_of(word + "x", rules)
    given = word[len(sur):]
    prev = tokens[i - 1] if i > 0 else ""
    room = rules.given_max - len(given)
    rest, used = _rest_of_name(tokens, i + 1, room, rules, lexicon, loose=offset == 1)
    entry = lexicon.get(word)
    if not given:
        after_rest = tokens[i + 1 + used] if i + 1 + used < len(tokens) else ""
        head_ok = trigger or (prev in rules.weak_triggers and all(_name_char(c, lexicon) for c in rest) and (
            not _common(rest, lexicon, rules.dict_max_freq) or
            (lexicon.get(rest) or (0, ""))[1].startswith("nr") or
            (len(rest) == 1 and not WORD_CHAR.match(after_rest or "。"))))
    else:
        head_ok = entry is None or not _ordinary(word, lexicon, rules) or \
            (word not in lexicon.user and entry[1][:2] in ("nr", "ns", "nz"))
    if offset and not cut_trigger and _common(tokens[i], lexicon, rules.dict_max_freq) and len(rest) > 1 and \
            _common(rest, lexicon, COMMON_FREQ):
        rest = ""                                      # 有关 部门 is no name; 上马 萍萍 may be; 联系人马 建国 is
    if rest and head_ok and rest[-1] not in rules.glue_after:
        return word + rest, used
    return None


def _glued_name(word: str, sur: str, given: str, prev: str, nxt: str, trigger: bool, rules: Rules,
                lexicon: Lexicon) -> tuple[str, bool]:
    """A surname and given name in one word (徐云, 徐云留 -> 徐云); after 叫 (``strong_triggers``)
    even an ordinary word (我叫吴国，). The name ("" if none) and whether it is strong (taken
    without the ordinary-word test)."""
    entry = lexicon.get(word)
    strong = len(given) <= rules.given_max and _is_break(nxt, rules) and (
        prev in rules.strong_triggers or
        (trigger and entry is not None and entry[1].startswith("nr") and word not in lexicon.user))
    if not strong and (_ordinary(word, lexicon, rules) or
                       (given[-1] in rules.glue_after and _ordinary(word[:-1], lexicon, rules)) or
                       _no_given(given, entry, lexicon)):
        return "", False
    if len(given) > rules.given_max or (len(given) == rules.given_max and given[-1] in rules.glue_after
                                        and nxt[:1] in "了着过个"):
        given = given[:-1] if given[-1] in rules.glue_after else ""
    common_rest = entry is None and len(given) > 1 and _common(given, lexicon, COMMON_FREQ) and \
        not lexicon.get(given)[1].startswith("nr")           # (有)关部门: an unknown word made of a common one
    if 0 < len(given) <= rules.given_max and not common_rest:
        return sur + given, strong
    return "", False


ADDRESSED = ("工", "导")                # a surname and one of these: a form of address (冶工, 马导; 总, 老 are given-name characters)


def _no_given(given: str, entry: tuple[int, str] | None, lexicon: Lexicon) -> bool:
    """No given name after the surname: none of its characters common in names, and the whole a word
    of the dictionary not tagged nr, however rare (买菜, 买药; not a form of address: 冶工). A word
    the dictionary does not know stays a name (买面: taking those out, on the one character's
    frequency, lost names of the labelled set)."""
    return entry is not None and not entry[1].startswith("nr") and given not in ADDRESSED and \
        not any(_name_char(c, lexicon) for c in given)


def _rest_of_name(tokens: list[str], j: int, room: int, rules: Rules, lexicon: Lexicon, loose: bool) -> tuple[str, int]:
    """The rest of a given name from ``tokens[j:]``: whole tokens of at most ``room`` characters
    in all, followed by a break (or, after two characters, by a character never in a given name:
    建国 人); or a token whose last character is a glue character (龙留 -> 龙;
    with ``loose`` also a dictionary word: 学说 -> 学). Returns (rest, tokens used)."""
    rest, k = "", j
    while k < len(tokens) and HAN_JIEBA.match(tokens[k]):
        tok = tokens[k]
        if len(tok) >= 2 and (tok[-1] in rules.glue_after or tok[-1] in rules.not_given) and \
                len(rest) + len(tok) - 1 <= room and \
                (loose or not _common(tok, lexicon, RARE_FREQ)):
            return rest + tok[:-1], k - j + 1
        if len(rest) + len(tok) > room:
            break
        rest += tok
        k += 1
        nxt = tokens[k] if k < len(tokens) else ""
        if _is_break(nxt, rules) or (len(rest) > 1 and nxt in rules.not_given):     # 皇甫 建国 人不错
            return rest, k - j
    return "", 0


def _window_names(text: str, rules: Rules, lexicon: Lexicon, region: int, words: _Words) -> Iterator[tuple[int, int]]:
    """Full names in name-shaped windows of the text, whatever jieba's words: a surname and one
    or two characters (the longer first) that at least two signals support
    (:func:`_window_score`); a rare surname only after a naming word (找端木宏)."""
    n, i = len(text), region
    lists = word_lists(rules)
    while i < n:
        m = lists.surname_first.search(text, i)      # no window starts before a surname's first character
        if m is None:
            return
        i = m.start()
        k = 2 if text[i:i + 2] in rules.surnames else 1 if text[i] in rules.surnames else 0
        if not k and _rare_head(text[i:i + 3], rules) and _after_trigger(text, i, rules):
            k = 2 if text[i:i + 2] in rules.rare_surnames else 1
            if text[i:i + k] in rules.very_rare_surnames and (_function_word(text[i:i + k], lexicon) or not
                                                              text.endswith(lists.strong_triggers, 0, i)):
                k = 0                                # a very rare surname only right after 叫 ... (叫訾建设; not 是从阿拉善)
        hit = None
        if k:
            for g in (2, 1):
                if _window_score(text, i, k, g, rules, lexicon) >= 2 and not words.cuts_word(i, i + k + g) and \
                        not _no_given(text[i + k:i + k + g], lexicon.get(text[i:i + k + g]), lexicon):     # 买菜、买药
                    hit = (i, i + k + g)
                    break
        if hit:
            yield hit
            i = hit[1]
        else:
            i += 1


def _ends_word(text: str, i: int, sur: str, rules: Rules, lexicon: Lexicon) -> bool:
    """The surname at ``i`` ends a word with the character before it (上海, 施工方), unless that
    character ends a more frequent word with the one before it (那天王芳: 那天, not 天王)."""
    p = text[i - 1:i]
    if not p or not HAN_JIEBA.match(p) or p in rules.glue_before:
        return False
    joined = lexicon.get(p + sur)
    if joined is None or joined[0] < RARE_FREQ:
        return False
    left = lexicon.get(text[i - 2:i]) if i >= 2 else None
    return not (left is not None and left[0] > joined[0] and HAN_JIEBA.match(text[i - 2]))


def _window_score(text: str, i: int, k: int, g: int, rules: Rules, lexicon: Lexicon) -> int:
    """The signals for ``text[i:i+k+g]`` (a surname of ``k`` characters and a given name of
    ``g``) being a name, minus those against; -9 when it cannot be one.

    For: a naming word, title or kinship word (or 、) before it (叫 counts twice); a break, a
    title, 家/们 or a glue character (说, 来, 在 ...) after it; a word of ``person_after`` (说,
    他们) after it (which also lets a frequent name of jieba's dictionary be one: 李强他们); jieba's dictionary tags it, or its
    given name, as a name (nr); every given character is common in names. Against: it comes
    after a place word (在, 到, 去 ...: 嫁到吴忠); the surname and the next character are an
    ordinary word (施工方, 房产局: twice if a common one); the given name is a common word."""
    sur, e = text[i:i + k], i + k + g
    given, word = text[i + k:e], text[i:e]
    lists = word_lists(rules)
    named = text[max(0, i - 6):i].endswith(lists.strong_triggers)     # after 叫 a name may end in 里
    if len(given) < g or not _given_ok(given, rules, lexicon=lexicon, final=not named) or word in rules.not_names or \
            word in lexicon.user or word in rules.strong_triggers:
        return -9                                             # ... or a naming word itself (叫经名: 经, a very rare surname)
    if not named and any(c in rules.stopwords and c not in GIVEN_CHARS for c in given):
        return -9                                             # a function word (吕家为地界: 为; after 叫 杨千里)
    if given[-1] in rules.glue_after or any(text.startswith(lists.longer(0 if j == i + k else e - j), j)
                                            for j in range(i + k, e)):
        return -9                                             # a title after the surname, or cut into (丁香阿姨: not 丁香阿)
    prev = text[max(0, i - 6):i]
    if prev and prev[-1] in NUMERALS and sur in rules.measure_words:
        return -9                                             # 这张卡
    if _ends_word(text, i, sur, rules, lexicon):
        return -9                                             # the surname ends the word before it
    entry = lexicon.get(word)
    person = text.startswith(rules.person_after, e)
    if _ordinary(word, lexicon, rules) and not (person and entry is not None and entry[1].startswith("nr")):
        return -9                                             # an ordinary word (卫星, jieba's nr, is frequent; not 李强他们)
    nxt = text[e:e + 1]
    if nxt and HAN_JIEBA.match(nxt) and _common(given[-1] + nxt, lexicon, COMMON_FREQ):
        return -9                                             # the last character starts the next word (方老是)
    score = 2 * prev.endswith(lists.strong_triggers)
    score += _after_trigger(text, i, rules)
    score += not nxt or not WORD_CHAR.match(nxt) or nxt in rules.glue_after or nxt in rules.name_suffixes or \
        text.startswith(rules.titles, e)
    score += person                                           # 冯建军讲的, 张伟他们
    given_entry = lexicon.get(given) if g == 2 else None
    score += bool((entry and entry[1].startswith("nr") and entry[0] < rules.dict_max_freq) or
                  (given_entry and given_entry[1].startswith("nr")))
    score += lexicon.name_like(given)
    score -= prev.endswith(rules.place_words) and nxt not in rules.name_suffixes
    head = lexicon.get(sur + given[0])
    if head is not None and not head[1].startswith("nr") and sur + given[0] != word:
        score -= 1 + (head[0] >= COMMON_FREQ)
    if given_entry is not None and not given_entry[1].startswith("nr"):
        score -= (given_entry[0] >= RARE_FREQ and not given_entry[1].startswith(("ns", "nz"))) + \
            (given_entry[0] >= COMMON_FREQ)
    return score

"""Informal forms of a name: part of step 3 (see :mod:`pipeline.text.names`, which calls
:func:`informal_names`). 老马 / 小李 / 阿丁 (a prefix + a surname) and 马大姐 / 李书记 (a surname + a
title): only the surname is personal data (:func:`split_role`), the prefix or the title stays in the
text. A rare surname needs a context (:func:`_rare_ok`); a title is no title where jieba joined the
surname and the title's first characters into a dictionary word (古文 of 古文书, 包工头, 牛奶).
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.text.namebase import COMMON_FREQ, RARE_FREQ, _after_trigger, _common, _function_word, _rare_head
from pipeline.text.namecontext import GA_ROLE_SURNAMES
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, WORD_CHAR, Lexicon

SAID_AFTER = "说讲也都就还又在他她，。；！？,.;!?…、 "       # after a very rare surname that is a function word + a title


def split_role(word: str, rules: Rules) -> tuple[int, int] | None:
    """The surname's place (start, end) in an informal form: prefix + surname (老马, 小李) or
    surname + title (马书记, 丁大姐, 小马师傅); None for any other word. Only the surname is
    personal data: the prefix or title stays in the text (``小[姓名1]``, ``[姓名2]书记``)."""
    k = 1 if len(word) > 1 and word[0] in rules.prefixes else 0
    for title in rules.titles:
        if word.endswith(title) and len(word) > len(title) + k:
            sur = word[k:len(word) - len(title)]
            if sur in rules.surnames or sur in rules.weak_surnames or sur in rules.rare_surnames:
                return k, k + len(sur)
    if k and (word[1:] in rules.surnames or word[1:] in rules.weak_surnames) and \
            (word[0] != "尕" or word[1:] in GA_ROLE_SURNAMES):   # 尕梅: a nickname whole; 尕马 as 小马
        return 1, len(word)
    return None


def personal_part(word: str, rules: Rules) -> tuple[int, int]:
    """The part of a name as written that is personal data: the surname of an informal form
    (:func:`split_role`), else the whole word."""
    return split_role(word, rules) or (0, len(word))


def _rare_ok(text: str, s: int, form: str, rules: Rules, lexicon: Lexicon, token_starts: set[int] = frozenset()) -> bool:
    """A rare surname and a title (禹大爷, 拓老师) is a name where the form is no word of jieba's
    dictionary (班主任, 班长) and it stands after a break, a glue character, a naming word or a
    neighbour word (找拓老师, 隔壁禹大爷; not 一班主任, 我们都老师), or is a word of its own
    after a dictionary word of two characters or more (物业 綦 经理, 交警队 邸 警官, 谢谢 伊 书记)."""
    entry = lexicon.get(form)
    if entry is not None and not entry[1].startswith("nr") and entry[0] >= RARE_FREQ:
        return False
    sur = next((form[:k] for k in (2, 1) if form[:k] in rules.very_rare_surnames), "")
    if sur and _function_word(sur, lexicon) and text[s + len(form):s + len(form) + 1] not in SAID_AFTER:
        return False                                 # 把师傅说; not 把老师叫来 (把: a preposition)
    prev = text[s - 1:s]
    if sur and prev.isspace():
        return False                                 # 谢 振 东经理: the end of a spaced name
    return not prev or not WORD_CHAR.match(prev) or prev in rules.glue_before or \
        _after_trigger(text, s, rules) or text.endswith(rules.neighbour_words, 0, s) or \
        _after_word(text, s, len(sur or form[:1]), lexicon, token_starts)


def _after_word(text: str, s: int, n: int, lexicon: Lexicon, token_starts: set[int]) -> bool:
    """The ``n`` characters from ``s`` are a word of jieba's own, after a dictionary word of two
    characters or more (物业 綦)."""
    if s not in token_starts or s + n not in token_starts:
        return False
    before = max((t for t in token_starts if t < s), default=None)
    return before is not None and s - before >= 2 and lexicon.get(text[before:s]) is not None


def _after_naming_word(text: str, s: int, rules: Rules) -> bool:
    """A naming word of two characters or more (联系人, 网格员, 负责人) right before ``s``."""
    return any(len(t) > 1 and text.endswith(t, 0, s) for t in rules.name_triggers)


def _glued_to_title(text: str, m: re.Match, rules: Rules, lexicon: Lexicon, token_starts: set[int]) -> bool:
    """jieba made the surname and the title's first characters one dictionary word that is no
    name (古文 of 古文书, 牛奶, 包工头): the title does not follow a surname there."""
    part = split_role(m.group(), rules)
    if not part or part[0] or not token_starts:
        return False
    k = m.start() + part[1]
    if k in token_starts:
        return False
    end = min((t for t in token_starts if t > k), default=len(text))
    return any((entry := lexicon.get(text[m.start():j])) is not None and entry[0] >= 10 and not entry[1].startswith("nr")
               for j in {k + 1, end})


def informal_names(text: str, rules: Rules, lexicon: Lexicon, token_starts: set[int]) -> Iterator[tuple[int, int]]:
    """老马 / 小李 / 阿丁 (prefix + surname) and 马大姐 / 李书记 (surname + title)."""
    if rules.title_re:
        for m in rules.title_re.finditer(text):
            s, e = m.start(), m.end()
            if m.group() in rules.not_names or (_rare_head(m.group(), rules) and not _rare_ok(text, s, m.group(), rules, lexicon, token_starts)):
                continue
            if _glued_to_title(text, m, rules, lexicon, token_starts):
                continue                                     # 古文书: jieba's 古文 / 书; 包工头
            ok = s in token_starts or s == 0 or not WORD_CHAR.match(text[s - 1]) or text[s - 1] in rules.glue_before or \
                _after_naming_word(text, s, rules)                 # 联系人丁姨 (jieba's 人丁)
            part = split_role(m.group(), rules)
            if not ok and part and m.group()[:part[1]] in rules.surnames and HAN_JIEBA.match(text[s - 1]) and \
                    not any(_common(text[j:s + part[1]], lexicon, RARE_FREQ) for j in range(max(0, s - 3), s)) and \
                    not _common(text[s - 1:e], lexicon, RARE_FREQ):
                ok = True                                    # 喊丁姐帮忙: jieba glued 喊丁, which is no word (志愿者队长: 者 ends one)
            if s > 0 and text[s - 1] in rules.prefixes and (s - 1) in token_starts:
                ok, s = True, s - 1                          # 小马师傅
            if ok:
                yield s, e
    if rules.prefix_re:
        for m in rules.prefix_re.finditer(text):
            s, e = m.start(), m.end()
            word = m.group()
            if word[0] == "尕" and word[1:] not in GA_ROLE_SURNAMES:
                continue                                     # 尕梅, 尕虎: a nickname whole (namecontext.ga_names)
            if word in rules.not_names or not (s in token_starts or (s > 0 and text[s - 1] in rules.glue_before) or
                                               _after_naming_word(text, s, rules)):     # 网格员小何 (jieba's 员小何)
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

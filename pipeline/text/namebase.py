"""Small shared tests of the name rules (:mod:`pipeline.text.names` and :mod:`pipeline.text.namesignals`):
the surname a word starts with, whether characters can be a given name, frequency and function-word
tests on jieba's dictionary, and whether a naming word stands before a place."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, WORD_CHAR, Lexicon

RARE_FREQ = 10                              # jieba dictionary words rarer than this may be names
COMMON_FREQ = 1000                          # ... and words at least this frequent are everyday words
FUNCTION_TAGS = ("p", "c", "d", "r", "u", "f", "m", "q")   # jieba's tags of function words
FUNCTION_FREQ = 50000                       # a single character this frequent is used as a function word (把, 从)
OPEN_FIRST = "有"                           # of not_given, yet first in given names no dictionary knows (有福, 有才)


def _surname_of(word: str, rules: Rules, weak: bool = False) -> str:
    """The surname ``word`` starts with ("" if none); weak surnames only if ``weak``."""
    for k in (2, 1):
        head = word[:k]
        if len(word) > k and (head in rules.surnames or (weak and (head in rules.weak_surnames or
                                                                 head in rules.rare_surnames))):
            return head
    return ""


def _given_ok(given: str, rules: Rules, extra: int = 0, lexicon: Lexicon | None = None, final: bool = True) -> bool:
    """Could ``given`` be a given name? Chinese characters, none a function word, not 谢谢-like;
    ``extra`` characters more than ``given_max`` (a name spaced out: 纳 麦 丽 燕). With
    ``lexicon``, 有 may start two characters that jieba's dictionary does not know (马有福; not
    有点, 有钱); ``final=False`` lets a ``not_final`` character end it (after 叫: 杨万里)."""
    open_first = lexicon is not None and len(given) == 2 and given[0] in OPEN_FIRST and lexicon.get(given) is None
    return (0 < len(given) <= rules.given_max + extra and all(HAN_JIEBA.match(c) for c in given)
            and not any(c in rules.not_given for c in given[open_first:]) and
            (not final or given[-1] not in rules.not_final))


def _is_break(tok: str, rules: Rules) -> bool:
    """The token after a name: punctuation, a space, the end, or a word starting with a glue character."""
    return not tok or not WORD_CHAR.match(tok) or tok[0] in rules.glue_after


def _common(word: str, lexicon: Lexicon, min_freq: int) -> bool:
    entry = lexicon.get(word)
    return entry is not None and entry[0] >= min_freq


def _rare_head(word: str, rules: Rules) -> bool:
    """``word`` starts with a rare surname (禹, 拓, 端木) and no common one."""
    return (word[:2] in rules.rare_surnames or word[:1] in rules.rare_surnames) and not _surname_of(word, rules)


def _function_word(word: str, lexicon: Lexicon) -> bool:
    entry = lexicon.get(word)
    return entry is not None and (entry[1].startswith(FUNCTION_TAGS) or entry[0] >= FUNCTION_FREQ)


def _after_trigger(text: str, start: int, rules: Rules) -> bool:
    before = text[max(0, start - 6):start].rstrip(" \t\u3000")
    return before.endswith(word_lists(rules).after_trigger) or before.endswith("、")


@dataclass(frozen=True)
class WordLists:
    """The rules' word lists as tuples, for one ``str.startswith`` / ``str.endswith`` call each
    (the same answer as testing the words one by one), and the first characters of surnames."""

    strong_triggers: tuple[str, ...]
    after_trigger: tuple[str, ...]                 # naming words, titles, kinship words (:func:`_after_trigger`)
    kin_strong: tuple[str, ...]                    # kinship words and strong triggers
    long_triggers: tuple[str, ...]                 # the naming words of two characters or more
    address_titles: tuple[str, ...]
    titles_longer: tuple[tuple[str, ...], ...]     # [n]: the titles longer than n characters
    surname_first: re.Pattern                      # a character that starts a surname (strong or rare)
    strong_first: re.Pattern                       # a character that starts a strong surname
    strong_chars: frozenset[str]                   # the characters that start a strong surname

    def longer(self, n: int) -> tuple[str, ...]:
        return self.titles_longer[n] if n < len(self.titles_longer) else ()


_PER_RULES: dict[tuple[int, Callable], tuple[Rules, Any]] = {}


def per_rules(rules: Rules, build: Callable[[Rules], Any]) -> Any:
    """``build(rules)``, made once per rules object and module-level function ``build``."""
    hit = _PER_RULES.get((id(rules), build))
    if hit is not None and hit[0] is rules:
        return hit[1]
    if len(_PER_RULES) > 256:
        _PER_RULES.clear()
    value = build(rules)
    _PER_RULES[(id(rules), build)] = (rules, value)
    return value


def _first_chars(words: frozenset[str]) -> re.Pattern:
    chars = sorted({w[0] for w in words if w})
    return re.compile("[" + "".join(map(re.escape, chars)) + "]" if chars else r"(?!x)x")


def _word_lists(rules: Rules) -> WordLists:
    longest = max((len(t) for t in rules.titles), default=0)
    return WordLists(
        strong_triggers=tuple(rules.strong_triggers),
        after_trigger=(*rules.name_triggers, *rules.titles, *rules.kin_words),
        kin_strong=(*rules.kin_words, *rules.strong_triggers),
        long_triggers=tuple(t for t in rules.name_triggers if len(t) > 1),
        address_titles=tuple(rules.address_titles),
        titles_longer=tuple(tuple(t for t in rules.titles if len(t) > n) for n in range(longest + 1)),
        surname_first=_first_chars(rules.surnames | rules.rare_surnames),
        strong_first=_first_chars(rules.surnames),
        strong_chars=frozenset(w[0] for w in rules.surnames if w))


def word_lists(rules: Rules) -> WordLists:
    """:class:`WordLists` of ``rules``, made once per rules object."""
    return per_rules(rules, _word_lists)

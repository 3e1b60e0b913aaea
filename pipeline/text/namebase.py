"""Small shared tests of the name rules (:mod:`pipeline.text.names` and :mod:`pipeline.text.namesignals`):
the surname a word starts with, whether characters can be a given name, frequency and function-word
tests on jieba's dictionary, and whether a naming word stands before a place."""
from __future__ import annotations

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
    return not _surname_of(word, rules) and any(word[:k] in rules.rare_surnames for k in (2, 1))


def _function_word(word: str, lexicon: Lexicon) -> bool:
    entry = lexicon.get(word)
    return entry is not None and (entry[1].startswith(FUNCTION_TAGS) or entry[0] >= FUNCTION_FREQ)


def _after_trigger(text: str, start: int, rules: Rules) -> bool:
    before = text[max(0, start - 6):start].rstrip(" \t\u3000")
    return any(before.endswith(t) for t in (*rules.name_triggers, *rules.titles, *rules.kin_words)) or \
        before.endswith("、")

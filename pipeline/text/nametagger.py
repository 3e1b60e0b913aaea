"""A trained character-level tagger of names: a second signal beside the name rules (step 3 of the
transcripts, :mod:`pipeline.text.redact`; docs/redaction.md, "The trained tagger").

The rules (:mod:`pipeline.text.names`) were written against the labelled set's writers and find
~0.97 of their names, but 0.85-0.89 of a new writer's. The tagger is a linear-chain CRF
(CRFsuite, via python-crfsuite) over the characters of a line, trained on the labelled set
(``tests/fixtures/redaction/labelled.yaml``, the parts of :data:`TAGGER_PARTS`: every writer) with BIO labels
for names and addresses. Each character is described by:

- the character and its neighbours (two each side), the bigrams around it (digits, Latin letters
  and spaces as classes);
- whether it is a surname of the study's list (strong, weak, rare; the first of a two-character
  surname), a character of given names (:data:`~pipeline.text.namescore.GIVEN_CHARS`, and how
  often jieba's dictionary's three-character names hold it), a character that never is one
  (``redaction.names.not_given``), and the same for its neighbours;
- jieba's word that holds it: the word's tag in jieba's dictionary (``OOV`` for a word its HMM
  made: often a name), its frequency class, the character's place in it (B/M/E/S), the word
  itself and the words before and after it (叫, 书记, 姓 ...);
- what the rules found there already (a name, an address, a number; and around it).

:func:`name_probabilities` gives each character's probability of being in a name; find_pii
(``redaction.names.tagger``; false: the rules alone) then adds the runs above :data:`ADD` that no
rule span touches (:func:`added_names`: of three characters at most, no place word of jieba's
dictionary, no middle dot or space, no glue character first) and drops the few rule names that
the tagger gives less than :data:`VETO` everywhere (:func:`vetoed`: no surname of the lists, no
listed given name, no 姓 before). The thresholds and gates were chosen by leaving each of writers
1-13 out in turn (benchmarks/nametagger_lowo.py) under two constraints: the name spans in the
encyclopaedia's sentences grow only by the people it finds (tests/test_redaction_labelled.py:
144 -> 147) and the demo's planted names all stay found. The probabilities are CRFsuite's marginals, the labels Viterbi's (exact, over summed
weights: the same on any machine). The shipped model (:data:`MODEL`) is made by
``python -m pipeline.text.nametagger train`` from the labelled set; tests/test_nametagger.py
retrains it and checks that it is current.
"""
from __future__ import annotations

import argparse
import bisect
import functools
import math
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.text.nameframes import spells
from pipeline.text.names import _place_after
from pipeline.text.namescore import GIVEN_CHARS
from pipeline.text.rules import MODEL_FILE, Rules
from pipeline.text.segment import HAN_JIEBA, Lexicon

MODEL = Path(__file__).resolve().parent / MODEL_FILE
LABELLED = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "redaction" / "labelled.yaml"
# the tuning parts: writers 1-21, 26, 27, 29-33, 45, 48, 50 and 54 (the rules were tuned on 1-13, on the numbers
# and addresses of 14-21 and on the names of 20-21, 26, 27, 29, 45, 48, 50 and 54; 14-21, 26, 27, 29-33, 45, 48,
# 50 and 54 were measured blind first; 30-33 were written to stress hard forms)
TRAIN_PARTS = ("tune", "heldout", "tune2", "heldout2", "tune3", "tune4", "tune5", "tune6", "tune7", "tune8", "tune9",
               "tune10", "tune11", "tune12", "tune13", "tune14", "tune15", "tune16", "tune17", "tune18", "tune19", "tune20",
               "tune21", "tune26", "tune27", "tune29", "tune30", "tune31", "tune32", "tune33", "tune45",
               "tune48", "tune50", "tune54")
# the blind parts: writers whose names no rule was ever tuned on, each measured once before any of its
# turns was read (a new part goes in one of the two lists); until round 25 the tagger never trained on
# them either
BLIND_PARTS = ("heldout22", "heldout23", "heldout24", "heldout25", "heldout28", "heldout34", "heldout35", "heldout36",
               "heldout37", "heldout38", "heldout39", "heldout40", "heldout41",
               "heldout42", "heldout43", "heldout44", "heldout46", "heldout47", "heldout49", "heldout51", "heldout52",
               "heldout53", "heldout55", "heldout56")
# what the shipped model learns from since round 26: every labelled writer. Left out in turn, each blind
# writer's names rose from 5,159 to 5,193 of 5,478 (a tagger trained on the tuning parts against one trained on
# every other writer too; benchmarks/nametagger_lowo.py), and two new writers measured blind with both models
# from 336 to 343 of 358 (docs/redaction.md, round 26); a blind part's own row in the table is in-sample for
# the tagger since, its leave-one-writer-out row the honest one
TAGGER_PARTS = TRAIN_PARTS + BLIND_PARTS
# CRFsuite's L-BFGS training: the L1 and L2 penalties (c1 chosen by leaving each of writers 1-13 out
# in turn, benchmarks/nametagger_lowo.py; c2 0.01 -> 0.05 in round 21, when the training set grew by
# writers 26-33: the blind writers 22-25 kept their names, 1,650 -> 1,650, and the public corpora's
# spans fell, 759 -> 733, docs/redaction.md), a fixed number of iterations (no stopping test that
# depends on timing), every transition between two labels a weight. Checked again in round 24 by
# five-fold cross-validation over the training writers (benchmarks/nametagger_cv.py, docs/redaction.md):
# no setting of c1 0.01-0.2, c2 0.01-0.2 is better on both recall and precision. 0.05 -> 0.1 in round 27,
# when every turn came to be shown twice (with and without the rules' marks): the penalties weigh against
# a likelihood summed over twice the lines, so doubled they hold the model as tight as before (at 0.05 the
# public corpora's name spans grew by 26 and the encyclopaedia's by 5, most no people; at 0.1 by 19 and 2,
# before the place-word gate of added_names)
TRAIN_PARAMS = {"c1": 0.1, "c2": 0.1, "max_iterations": 100, "feature.possible_transitions": True}
# every turn of the training set is shown twice, with the rules' marks and without them: the rules
# find ~0.97 of the names of the writers it trains on, so with the marks alone the tagger would learn
# to copy them; without them it learns the names' own signs. Until round 27 every other turn went
# without the marks (which turns did moved the blind writers' names by up to ±25 between trainings);
# shown both ways, 21 blind writers left out in turn found 5,553 of 5,836 names against 5,543 (ADD 0.85,
# rules of round 27's first part; benchmarks/nametagger_lowo.py --marks both|alternate, docs/redaction.md)
# find_pii adds a run of characters whose probability of being in a name is above ADD and that no
# rule span touches, and drops a name span of the rules whose characters are all below VETO (see
# vetoed; chosen on writers 1-13 left out one at a time and on the encyclopaedia's sentences; ADD
# 0.9 -> 0.85 in round 27, chosen on the 21 blind writers left out in turn: 0.9 / 0.85 / 0.8 found
# 5,533 / 5,553 / 5,561 of 5,836 names, ordinary words kept the same; 0.8 took the encyclopaedia's name
# spans past their bound; writer 53, which chose nothing, 0.965 blind; docs/redaction.md, round 27)
ADD = 0.85
VETO = 0.5
# a name span of the rules is continued by the characters right after it that the tagger puts in a
# name with a probability above EXTEND (连襟苏志刚合伙: the rules' 苏志, jieba's 苏志 / 刚 / 合伙)
EXTEND = 0.5
DOTS = "·•・‧･"
HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")      # what the tagger may add alone: Han characters (not the o of Kate Moss)
MAX_ADDED = 3
PLACE_TAGS = ("ns", "nt", "f", "s")        # jieba's tags of places, organisations, directions, locations
NUMBER_TYPES = frozenset({"mobile", "landline", "id_number", "bank_card", "certificate", "plate", "account", "email",
                          "staff_id", "long_number"})


def _norm(c: str) -> str:
    """A character as the features see it: digits, Latin letters and spaces as classes."""
    if c.isdigit():
        return "0"
    if c.isascii() and c.isalpha():
        return "a"
    if c.isspace():
        return "_"
    return c


def _given_class(c: str, lexicon: Lexicon) -> str:
    n = lexicon.given_chars.get(c, 0)
    return ("G" if c in GIVEN_CHARS else "") + ("3" if n >= 30 else "2" if n >= 5 else "1" if n else "0")


def _tag_of(tok: str, lexicon: Lexicon) -> tuple[str, str]:
    """jieba's tag of a word (OOV: not in its dictionary) and its frequency class."""
    if not HAN_JIEBA.search(tok):
        return ("NUM" if tok[:1].isdigit() else "SP" if tok.isspace() else "LAT" if tok[:1].isascii() and tok[:1].isalpha()
                else "PU"), "-"
    entry = lexicon.get(tok)
    if entry is None:
        return "OOV", "-"
    return entry[1], str(min(6, int(math.log10(entry[0] + 1))))


@functools.lru_cache(maxsize=4)
def _char_classes(strong: frozenset[str], weak: frozenset[str], rare: frozenset[str]) -> tuple[dict[str, str], frozenset[str]]:
    """Per character: its surname class (S strong, W weak, R rare); the first characters of the
    two-character surnames."""
    cls: dict[str, str] = {}
    for group, mark in ((rare, "R"), (weak, "W"), (strong, "S")):
        for s in group:
            if len(s) == 1:
                cls[s] = mark
    two = frozenset(s[0] for s in strong | weak | rare if len(s) == 2)
    return cls, two


class _Memo:
    """Per character and per word, what the features read of the lists and of jieba's dictionary
    (the same characters and words recur through an interview): one per rules and lexicon."""

    def __init__(self, rules: Rules, lexicon: Lexicon):
        self.rules, self.lexicon = rules, lexicon
        self.sur_cls, self.two = _char_classes(rules.surnames, rules.weak_surnames, rules.rare_surnames)
        self.chars: dict[str, tuple[str, str, str]] = {}
        self.words: dict[str, tuple[str, str]] = {}
        self.titles, self.triggers, self.kin = set(rules.titles), set(rules.name_triggers), set(rules.kin_words)

    def char(self, c: str) -> tuple[str, str, str]:
        """The character as the features see it, its surname class, its given-name class."""
        got = self.chars.get(c)
        if got is None:
            got = self.chars[c] = (_norm(c), self.sur_cls.get(c, "") + ("2" if c in self.two else "") or "-",
                                   _given_class(c, self.lexicon) + ("x" if c in self.rules.not_given else ""))
        return got

    def word(self, tok: str) -> tuple[str, str]:
        got = self.words.get(tok)
        if got is None:
            got = self.words[tok] = _tag_of(tok, self.lexicon)
        return got


_MEMOS: dict[tuple[int, int], _Memo] = {}


def _memo(rules: Rules, lexicon: Lexicon) -> _Memo:
    key = (id(rules), id(lexicon))
    m = _MEMOS.get(key)
    if m is None or m.rules is not rules or m.lexicon is not lexicon:
        _MEMOS.clear()
        m = _MEMOS[key] = _Memo(rules, lexicon)
    return m


def features(text: str, tokens: Sequence[str], marks: str, rules: Rules, lexicon: Lexicon) -> list[tuple[str, ...]]:
    """The features of each character of ``text`` (``tokens``: jieba's cut of it; ``marks``: per
    character, what the rules found there: N a name, A an address, D a number, K a number kept,
    '-' nothing). Built a column at a time (the tagger reads them for every line of an interview)."""
    n = len(text)
    memo = _memo(rules, lexicon)
    info = [memo.char(c) for c in text]
    ch = ["^", "^", *(i[0] for i in info), "$", "$"]
    sur = ["^", *(i[1] for i in info), "$"]
    giv = ["^", *(i[2] for i in info), "$"]
    mk = "^" + marks + "$"
    word: list[str] = []
    where: list[str] = []
    before: list[str] = []
    after: list[str] = []
    titles, triggers, kin = memo.titles, memo.triggers, memo.kin
    for k, tok in enumerate(tokens):
        tag, freq = memo.word(tok)
        prev = tokens[k - 1] if k else "^"
        nxt = tokens[k + 1] if k + 1 < len(tokens) else "$"
        cue = ("T" if prev in triggers else "") + ("K" if prev in kin else "") + ("R" if nxt in titles else "")
        w = f"w={tag}|{freq}|{min(len(tok), 4)}|{cue}"
        size = len(tok)
        word.extend([w + "S"] if size == 1 else [w + "B", *[w + "M"] * (size - 2), w + "E"])
        short = size <= 4
        where.extend(["t=" + (tok if short else "~")] * size)
        before.extend(["pt=" + (prev if short else "")] * size)
        after.extend(["nt=" + (nxt if short else "")] * size)
    c0, cm1, cp1, cm2, cp2 = ch[2:n + 2], ch[1:n + 1], ch[3:n + 3], ch[0:n], ch[4:n + 4]
    s0, g0 = sur[1:n + 1], giv[1:n + 1]
    columns = [
        ["c=" + x for x in c0], ["p=" + x for x in cm1], ["q=" + x for x in cp1], ["pp=" + x for x in cm2], ["qq=" + x for x in cp2],
        ["b=" + x + y for x, y in zip(cm1, c0)], ["f=" + x + y for x, y in zip(c0, cp1)],
        ["bb=" + x + y for x, y in zip(cm2, cm1)], ["ff=" + x + y for x, y in zip(cp1, cp2)],
        ["s=" + x for x in s0], ["ss=" + x + "|" + y + "|" + z for x, y, z in zip(sur[0:n], s0, sur[2:n + 2])],
        ["g=" + x for x in g0], ["gb=" + x + "|" + y for x, y in zip(giv[0:n], g0)], ["gf=" + x + "|" + y for x, y in zip(g0, giv[2:n + 2])],
        word, where, before, after,
        ["r=" + x for x in mk[1:n + 1]], ["rr=" + mk[i:i + 3] for i in range(n)],
        ["sr=" + x + y + w[-1] for x, y, w in zip(s0, mk[1:n + 1], word)],
    ]
    return list(zip(*columns))


def gold_labels(n: int, gold: Iterable[tuple[int, int, str]]) -> list[str]:
    """BIO labels of ``n`` characters from gold spans (start, end, category): names N, addresses A."""
    out = ["O"] * n
    for s, e, cat in gold:
        kind = "N" if cat == "name" else "A" if cat == "address" else ""
        if kind:
            out[s] = "B-" + kind
            for i in range(s + 1, e):
                out[i] = "I-" + kind
    return out


def spans_of(labels: Sequence[str], kind: str) -> list[tuple[int, int]]:
    """The runs of ``B-kind I-kind ...`` (an I after anything else starts one too)."""
    out: list[tuple[int, int]] = []
    start = -1
    for i, lab in enumerate([*labels, "O"]):
        if start >= 0 and lab != "I-" + kind:
            out.append((start, i))
            start = -1
        if lab == "B-" + kind or (lab == "I-" + kind and start < 0):
            start = i
    return out


def marks_of(n: int, spans: Iterable[tuple[int, int, str]]) -> str:
    """Per character, what the rules found: N, A, D (a number), K (a number kept), '-'."""
    out = ["-"] * n
    for s, e, typ in spans:
        m = "N" if typ == "name" else "A" if typ == "address" else "D" if typ in NUMBER_TYPES else "K"
        out[s:e] = m * (e - s)
    return "".join(out)


def line_ranges(text: str, start: int) -> list[tuple[int, int]]:
    """The lines of ``text`` from ``start`` on, as (start, end) without the line break."""
    out, pos = [], start
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        if end > pos:
            out.append((pos, end))
        pos = end + 1
    return out


def _tokens_in(tokens: Sequence[str], starts: Sequence[int], s: int, e: int) -> list[str]:
    """The tokens of ``text[s:e]``, the ones that cross its ends cut at them."""
    k = max(0, bisect.bisect_right(starts, s) - 1)
    out = []
    while k < len(tokens) and starts[k] < e:
        a, b = max(starts[k], s), min(starts[k] + len(tokens[k]), e)
        out.append(tokens[k][a - starts[k]:b - starts[k]])
        k += 1
    return out


@functools.lru_cache(maxsize=2)
def load_tagger(path: str = str(MODEL)):
    import pycrfsuite

    if not Path(path).is_file():
        raise PipelineError(f"{path}: the name tagger's model is missing",
                            hint="run python -m pipeline.text.nametagger train, or set redaction.names.tagger: false")
    tagger = pycrfsuite.Tagger()
    tagger.open(path)
    return tagger


def name_probabilities(text: str, tokens: Sequence[str], starts: Sequence[int], marks: str, region: int, rules: Rules,
                       lexicon: Lexicon, tagger=None) -> list[float]:
    """Per character of ``text``: the tagger's probability that it is part of a name, line by line
    from ``region`` on (:func:`line_probabilities`; 0 before ``region``); ``marks``: what the
    rules found (:func:`marks_of`)."""
    tagger = tagger or load_tagger()
    p = [0.0] * len(text)
    for s, e in line_ranges(text, region):
        p[s:e] = line_probabilities(tagger, features(text[s:e], _tokens_in(tokens, starts, s, e), marks[s:e], rules, lexicon),
                                    marks[s:e])
    return p


def line_probabilities(tagger, x: list[list[str]], marks: str) -> list[float]:
    """The marginal probability of B-N or I-N of each character of one line (features ``x``)
    where Viterbi's best labelling or the rules (``marks``) put a name; 0 elsewhere (the marginals
    of every character would cost as much as the rest of the tagger, and a character outside
    Viterbi's names is rarely above :data:`ADD`)."""
    tagger.set(x)
    labels = tagger.tag()
    return [tagger.marginal("B-N", i) + tagger.marginal("I-N", i) if lab != "O" and lab[-1] == "N" or m == "N" else 0.0
            for i, (lab, m) in enumerate(zip(labels, marks))]


def extended_end(text: str, p: Sequence[float], s: int, e: int, free, rules: Rules) -> int:
    """The end of the rules' name span ``[s, e)`` continued by the tagger: the Han characters right
    after it whose probability of being in a name is above :data:`EXTEND`, no glue character
    (``redaction.names.glue_after``: 的, 了) and no character another span claims, while the name
    is :data:`MAX_ADDED` characters at most (苏志 -> 苏志刚, 杨 -> 杨光明)."""
    end = e
    while end < len(text) and end - s < MAX_ADDED and p[end] > EXTEND and HAN_JIEBA.match(text[end]) and \
            text[end] not in rules.glue_after and free(end, end + 1):
        end += 1
    return end


def added_names(text: str, p: Sequence[float], free, tokens: Sequence[str], starts: Sequence[int],
                rules: Rules, lexicon: Lexicon) -> list[tuple[int, int]]:
    """Runs of characters the tagger puts in a name with probability above :data:`ADD` (continued
    by those above :data:`EXTEND` right after them: :func:`extended_end`), of
    :data:`MAX_ADDED` characters at most (a Chinese name; the rules read longer ones), of Han
    characters only (not the o of Kate Moss), that start with no glue character
    (``redaction.names.glue_before``: 向美军), that no rule span touches
    (``free(start, end)``), no middle dot touches (a transliterated name:
    查尔斯·克拉克; the rules read the minorities' dotted names, :mod:`pipeline.text.nameminority`)
    and no word of jieba's dictionary tagged a place, an organisation or a direction overlaps
    (德国, 法兰克福, 英格兰, 向东北: the places of an encyclopaedia's sentences) and no place word
    follows as the rules read it (杨美公园, 陶竹广场, 楚永路: ``redaction.names.place_after``), nor lies inside
    a longer dictionary word that is not a name (水文学 of 水文学家, 兰克福 of 法兰克福: a part of a
    word) or is a transliterated one (德莱 of 阿德莱德, tagged nrt), nor a whole word tagged a name that
    starts with no surname (阿根廷) or one character that ends a longer word (林 of 树林:
    :func:`_foreign_word`); a name jieba glued to the next character is no dictionary word; a surname alone may be:
    王家, 小米, 高工), nor right after a numeral and 名/位 (一名国军: a kind of person counted)."""
    out, glue, n, start = [], rules.glue_before, len(text), 0
    while start < n:
        if p[start] <= ADD:
            start += 1
            continue
        i = start + 1
        while i < n and p[i] > ADD:
            i += 1
        i = extended_end(text, p, start, i, lambda a, b: True, rules)   # 窦建 (0.99, 0.94) + 设 (0.88)
        if i - start > 1 and _cuts_word_after(tokens, starts, i, lexicon):
            i = _word_through(text, tokens, starts, start, i, rules)       # 马强 + 健县长: 马强健; 德义军队: none
        if i - start <= MAX_ADDED and text[start] not in glue and free(start, i) and HAN_RUN.fullmatch(text, start, i) and \
                not any(c in DOTS or c.isspace() for c in text[max(0, start - 1):i + 1]) and \
                not _place_word(tokens, starts, start, i, lexicon) and not _place_after(text, i, rules, lexicon) and \
                not _inside_word(tokens, starts, start, i, lexicon) and not COUNTED.search(text, max(0, start - 2), start) \
                and not _foreign_word(tokens, starts, start, i, rules, lexicon) and \
                (i - start > 1 or not _word_end(text, start, rules)) and \
                (i - start == 1 or not _cuts_word_after(tokens, starts, i, lexicon)):
            out.append((start, i))
        start = max(i, start + 1)
    return out


def _word_through(text: str, tokens: Sequence[str], starts: Sequence[int], s: int, e: int, rules: Rules) -> int:
    """A run that ends inside a word of jieba's: continued to the word's end when the name is then
    :data:`MAX_ADDED` characters at most and a title, a break or no Han character follows (马强健县长:
    jieba's 马 / 强健 / 县长); else ``s`` (no run: 德义军队, an army)."""
    k = bisect.bisect_right(starts, e - 1) - 1
    end = starts[k] + len(tokens[k])
    after = text[end:end + 1]
    if end - s <= MAX_ADDED and (not after or not HAN_JIEBA.match(after) or after in "，。；！？、" or
                                 any(text.startswith(t, end) for t in rules.titles)):
        return end
    return s


def _cuts_word_after(tokens: Sequence[str], starts: Sequence[int], e: int, lexicon: Lexicon) -> bool:
    """The run's last character starts or is inside a dictionary word of jieba's that goes on past
    ``e`` and is no name (德义军 of 德义 / 军队: an army, not a person); for runs of two characters or
    more (a surname alone glued to 家 is a family: 黄家老太太)."""
    k = bisect.bisect_right(starts, e - 1) - 1
    if k < 0 or k >= len(tokens) or starts[k] + len(tokens[k]) <= e:
        return False
    entry = lexicon.get(tokens[k])
    return entry is not None and entry[0] >= 10 and not entry[1].startswith("nr")


def _word_end(text: str, s: int, rules: Rules) -> bool:
    """A character alone that ends a word at a clause's end (林 of 海岸林，): a Han character right
    before it that is no prefix (老, 小) and no 姓, and a clause's punctuation right after it (not a
    pause: 户主丁……; not a title: 拜会长)."""
    before, after = text[s - 1:s], text[s + 1:s + 2]
    return bool(before) and bool(HAN_JIEBA.match(before)) and before not in rules.prefixes and before != "姓" and \
        bool(after) and after in "，。；！？,;!?"


def _place_word(tokens: Sequence[str], starts: Sequence[int], s: int, e: int, lexicon: Lexicon) -> bool:
    k = max(0, bisect.bisect_right(starts, s) - 1)
    while k < len(tokens) and starts[k] < e:
        entry = lexicon.get(tokens[k])
        if entry is not None and entry[1].startswith(PLACE_TAGS):
            return True
        k += 1
    return False


# a numeral and 名/位 right before: a count of people of a kind (一名国军空军飞行少尉), not a name
COUNTED = re.compile(r"[一二两三四五六七八九十几数每][名位]$")


def _inside_word(tokens: Sequence[str], starts: Sequence[int], s: int, e: int, lexicon: Lexicon) -> bool:
    k = max(0, bisect.bisect_right(starts, s) - 1)
    if e - s < 2 or k >= len(tokens) or starts[k] > s or starts[k] + len(tokens[k]) < e or len(tokens[k]) == e - s:
        return False
    entry = lexicon.get(tokens[k])
    return entry is not None and (not entry[1].startswith("nr") or entry[1] == "nrt")   # nrt: a transliteration (阿德莱德)


def _foreign_word(tokens: Sequence[str], starts: Sequence[int], s: int, e: int, rules: Rules, lexicon: Lexicon) -> bool:
    """A whole dictionary word of three characters tagged a name that starts with no surname, no
    大/小/老, and is no listed given name (阿根廷, tagged nr: a transliteration, a country; given
    names alone, 秀英, 宇航, are two), or one character that ends a longer
    dictionary word not after 小/老/阿 (林 of 天然树林; not 米 of 小米, a form of address) or starts
    one that is no name and no surname + title or 家 (林 of 林间; not 王家, 高工)."""
    k = max(0, bisect.bisect_right(starts, s) - 1)
    if k >= len(tokens) or starts[k] > s:
        return False
    token, entry = tokens[k], lexicon.get(tokens[k])
    if entry is None:
        return False
    every = (rules.surnames, rules.weak_surnames, rules.rare_surnames)
    if starts[k] == s and len(token) == e - s >= 3 and entry[1].startswith("nr") and token[0] not in "大小老":
        return not any(token[:1] in g or token[:2] in g for g in every) and token not in rules.given_names
    if e - s == 1 and starts[k] == s and len(token) >= 2 and entry[0] >= 10 and not entry[1].startswith("nr") and \
            token[1:] not in rules.titles and token[1] not in "家工总哥姐叔姨":
        return True                                  # 林 of 林间 (a word it starts; not 王家, 高工)
    return e - s == 1 and starts[k] < s and len(token) >= 2 and token[0] not in "小老阿"


def vetoed(text: str, p: Sequence[float], s: int, e: int, rules: Rules) -> bool:
    """A name span of the rules that the tagger gives no character of a probability of
    :data:`VETO` or more, that starts with no surname of the lists (strong, weak or rare; 赫舍里 too), is no
    listed given name (阿卜杜勒), follows no 姓 (姓是钮祜禄氏) and spells no name (秀气的秀): 尔沙 of 奇尔沙治号 in an
    encyclopaedia's sentence; never 孙学 of 孙学说了半天 (the demo: a surname and a given name
    the rules read are left to them), nor a name in Latin letters (经理Tony: the tagger reads Chinese)."""
    if max(p[s:e], default=1.0) >= VETO or re.fullmatch(r"[A-Za-z][A-Za-z \t\-]*", text[s:e]):
        return False                             # (a name in Latin letters: the rules' cue before it, 经理Tony)
    surnames = (rules.surnames, rules.weak_surnames, rules.rare_surnames)
    word = text[s:e]
    return not any(word[:k] in group for group in surnames for k in (1, 2, 3, 4)) and word not in rules.given_names and \
        "姓" not in text[max(0, s - 3):s] and not (rules.given_re and rules.given_re.search(word)) and not spells(text, s, e)


# --------------------------------------------------------------------------------------------
# training from the labelled set
# --------------------------------------------------------------------------------------------
def training_lines(items, detect_full) -> list[tuple[list[list[str]], list[str]]]:
    """Per labelled turn: the features and labels of its line as find_pii sees it (the turn after
    an interviewer's question, as ``答：`` + the turn), each twice: with the rules' marks and without. ``detect_full(text)``: (full text, its
    tokens, the rule spans in it as (start, end, type), the turn's offset, rules, lexicon)."""
    out = []
    for it in items:
        full, tokens, spans, offset, rules, lexicon = detect_full(it.text)
        line_start = full.rfind("\n", 0, offset) + 1
        end = offset + len(it.text)
        starts = _starts(tokens)
        toks = _tokens_in(tokens, starts, line_start, end)
        y = ["O"] * (offset - line_start) + gold_labels(len(it.text), it.gold)
        for marks in (marks_of(len(full), spans)[line_start:end], "-" * (end - line_start)):
            out.append((features(full[line_start:end], toks, marks, rules, lexicon), y))
    return out


def _starts(tokens: Sequence[str]) -> list[int]:
    out, pos = [], 0
    for t in tokens:
        out.append(pos)
        pos += len(t)
    return out


def train(lines: Sequence[tuple[list[list[str]], list[str]]], path: str | Path, params: dict | None = None) -> Path:
    """A CRF trained on ``lines`` (features, labels), written to ``path``."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(algorithm="lbfgs", verbose=False)
    trainer.set_params({**TRAIN_PARAMS, **(params or {})})
    for x, y in lines:
        trainer.append(x, y)
    trainer.train(str(path))
    return Path(path)


def labelled_context(workdir: Path, jieba_cache: str):
    """``detect_full`` over the generic template's rules (as the labelled set is measured)."""
    from pipeline.text.redact import find_pii
    from pipeline.text.redaction_eval import TURN_PREFIX, template_state
    from pipeline.text.turns import parse_transcript

    rules, seg, lexicon = template_state(workdir / "config", Path(__file__).resolve().parents[2] / "config", jieba_cache)

    def detect_full(text: str):
        full = TURN_PREFIX + text + "\n"
        tokens = seg.cut(full)
        spans = find_pii(full, parse_transcript(full, rules), rules, tokens, lexicon, tagger=False)
        return full, tokens, [(sp.start, sp.end, sp.type) for sp in spans], len(TURN_PREFIX), rules, lexicon

    return rules, seg, lexicon, detect_full


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.text.nametagger",
                                     description="Train the name tagger on the labelled set (the parts of TAGGER_PARTS).")
    parser.add_argument("command", choices=["train"])
    parser.add_argument("--out", default=str(MODEL))
    parser.add_argument("--jieba-cache", default=str(Path(__file__).resolve().parents[2] / ".cache" / "jieba.cache"))
    args = parser.parse_args(argv)
    from pipeline.text.redaction_eval import load_labelled

    items = [i for i in load_labelled(LABELLED) if i.part in TAGGER_PARTS]
    with tempfile.TemporaryDirectory() as tmp:
        *_, detect_full = labelled_context(Path(tmp), args.jieba_cache)
        lines = training_lines(items, detect_full)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    train(lines, args.out)
    print(f"{args.out}: {len(items)} turns (each with and without the rules' marks), {Path(args.out).stat().st_size:,} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()

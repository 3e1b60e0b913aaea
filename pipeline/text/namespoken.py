"""Names found by forms of focus groups, volunteers' notes and rosters read aloud: part of step 3
(see :mod:`pipeline.text.names`, which calls these; round 10 of docs/redaction.md).

- a compound surname said alone (除了欧阳。欧阳人家是学生) or with one given character before a
  pronoun or a break (欧阳雪你们先说): a compound surname is no everyday word, unless jieba's
  dictionary knows it as a frequent one (东方), a possessive makes it a kinship word (我长孙) or a
  famous bearer spells it (司马光砸缸那个司马);
- people naming each other with a nickname in quotes (雨涵叫思琪“琪琪”): the caller, the one called
  and the nickname, when they are no everyday words;
- a doubled given name, a child's pet name, after a kinship word (孙女朵朵, 她女儿甜甜的手机), unless
  jieba's dictionary knows the doubled word as a frequent one or an adverb (天天, 常常);
- a transliterated given name, a middle dot and a Han surname after it (穆罕默德·马: a Hui
  convention of 经名·姓): the whole;
- a member of a family named by the surname and then by the full name (宗家老大宗立新: the full
  name even where its given part is a word);
- a long name after a naming word that ends with a given name of the ``given_names`` list (我叫
  乌云其木格，: Mongolian and Tibetan names of four to six characters) when jieba's dictionary knows
  the whole as no word or as a rare proper noun;
- a surname alone signing a note, after a comma or a dash before the closing quote (「有事打…，王」);
- a surname and one or two characters with the person's people after it, in apposition or
  said of it (我田满仓，汉族; 白雪是回族吗): a people is said of a person, so the word is a name even
  where jieba's dictionary knows it as a word (满仓, 白雪).
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.text.namebase import _common
from pipeline.text.namescore import GIVEN_CHARS
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, Lexicon, find_all, find_han_after

BREAK = "，。；！？,;!?：:、—…～~ \t\u3000\n“”\"「」（）()"
COMPOUND_MAX_FREQ = 1000                 # 东方 (3993) is a direction first
POSSESSIVE = "我你他她的俺咱"             # 我长孙: a grandson, not the surname 长孙
AFTER_ALONE = "人说讲是也都就还在和跟他她"   # 欧阳人家, 欧阳说
CALLED_EACH = re.compile(r"([\u4e00-\u9fd5]{2})(?:叫|喊|管)([\u4e00-\u9fd5]{2})(?:叫)?[“\"「]([\u4e00-\u9fd5]{1,3})[”\"」]")
DOUBLED_MAX_FREQ = 100
NOT_DOUBLED_TAGS = ("d", "m", "r", "p", "c", "u")    # 天天, 常常, 人人: adverbs and pronouns
DOTS = "·•・‧･．"
PEOPLES = ("回族", "汉族", "满族", "蒙古族", "藏族", "维吾尔族", "东乡族", "撒拉族", "保安族", "土族", "壮族", "苗族",
           "彝族", "朝鲜族", "哈萨克族", "锡伯族", "达斡尔族", "鄂温克族", "裕固族", "白族", "傣族", "侗族", "瑶族",
           "土家族", "布依族", "黎族", "羌族", "纳西族", "畲族", "水族", "仡佬族", "哈尼族", "傈僳族")
OF_PEOPLE = re.compile(r"(?:[，,][ \t\u3000]*|是)(?=" + "|".join(PEOPLES) + ")")
SIGNED = re.compile(r"(?<=[，,—])[ \t\u3000]*([\u4e00-\u9fd5])(?=[」』”])")
BEFORE_APPOSED = "我叫是的有和跟"                  # 我田满仓，汉族; 村里的马强是回族


def compounds(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A compound surname alone, or with one given character before a pronoun, a break, 家 or a
    person word (呼延庆一家, 闻人杰说), or with two before anything but a word the second
    starts (三楼的司马建新一开始; not 长孙今年)."""
    for sur in _compound_surnames(rules, lexicon):
        famous = any(_famous(text[s:e], lexicon) for s, e in find_han_after(text, sur, 1, 1))
        entry = lexicon.get(sur)
        word = entry is not None and not entry[1].startswith("nr")     # 长孙, 上官: also a word
        for s in find_all(text, sur, region):
            e = s + 2
            if word and text[s - 1:s] in POSSESSIVE and s > 0:
                continue                                 # 我长孙: a grandson
            nxt = text[e:e + 1]
            if not nxt or nxt in BREAK or nxt in AFTER_ALONE:
                if not famous:                           # 司马光砸缸那个司马: a famous bearer spells it
                    yield s, e
            elif _given_char(nxt, rules) and (e + 1 >= len(text) or text[e + 1] in BREAK or
                                               text[e + 1] in "你您我他她" or
                                               text.startswith(("家", "一家", *rules.person_after), e + 1)):
                yield s, e + 1                           # 呼延庆一家, 闻人杰说
            elif _given_char(nxt, rules) and _given_char(text[e + 1:e + 2], rules) and \
                    not _common(text[e:e + 2], lexicon, COMPOUND_MAX_FREQ) and \
                    not _common(text[e + 1:e + 3], lexicon, COMPOUND_MAX_FREQ):
                yield s, e + 2


def _compound_surnames(rules: Rules, lexicon: Lexicon) -> list[str]:
    """The compound surnames that are no everyday word and no kinship word: those of the surname
    list that jieba's dictionary does not know as a frequent word (not 东方; 长孙 is in, and 我长孙 is
    left by the possessive), and the rare ones (``rare`` in surnames.txt) that it knows as names only
    (呼延, 闻人, 澹台; not 司空, 西门, 公羊, 单于)."""
    out = []
    for sur in (s for s in (*rules.surnames, *rules.rare_surnames) if len(s) == 2):
        entry = lexicon.get(sur)
        if entry is not None and entry[0] >= COMPOUND_MAX_FREQ or sur in rules.kin_words:
            continue
        if sur in rules.surnames or entry is not None and entry[1].startswith("nr"):
            out.append(sur)
    return out


def _given_char(c: str, rules: Rules) -> bool:
    return bool(c) and c in GIVEN_CHARS and c not in rules.not_given


def called_each_other(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """雨涵叫思琪“琪琪”: two given names and a nickname, none an everyday word."""
    for m in CALLED_EACH.finditer(text, region):
        words = [m.span(1), m.span(2), m.span(3)]
        if all(_given_like(text[s:e], rules, lexicon) for s, e in words):
            yield from words


def pet_names(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A doubled given name after a kinship word (孙女朵朵, 女儿甜甜)."""
    for m in re.finditer(r"([\u4e00-\u9fd5])\1", text[region:]):
        s = region + m.start()
        if not any(text.endswith(k, 0, s) for k in rules.kin_words) or m.group(1) in rules.not_given:
            continue
        entry = lexicon.get(m.group())
        if entry is None or entry[0] < DOUBLED_MAX_FREQ and not entry[1].startswith(NOT_DOUBLED_TAGS):
            yield s, s + 2


def dotted_surname(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """穆罕默德·马: a given name of the ``given_names`` list, a dot and a Han surname before a break.
    Found by str.find, name by name (a regular expression per listed name, hundreds of them, emptied
    Python's pattern cache on every turn and made every other rule's patterns compile again: the
    redaction ran 2.5x slower), with the matches a pattern ``name[DOTS]([\u4e00-\u9fd5])`` gives."""
    if not any(d in text for d in DOTS):
        return
    for name in (n for n in rules.given_names if len(n) >= 2):
        i = text.find(name, region)
        while i >= 0:
            e = i + len(name) + 2
            if e <= len(text) and text[e - 2] in DOTS and "\u4e00" <= text[e - 1] <= "\u9fd5":
                if text[e - 1] in rules.surnames and (e >= len(text) or not HAN_JIEBA.match(text[e]) or text[e] in "说是在也"):
                    yield i, e
                i = text.find(name, e)
            else:
                i = text.find(name, i + 1)


def of_people(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """我田满仓，汉族; 白雪是回族吗: a surname + one or two characters before its people."""
    for m in OF_PEOPLE.finditer(text, region):
        for k in (3, 2):
            s = m.start() - k
            word = text[s:m.start()]
            if s < region or word[0] not in rules.surnames or any(c in rules.not_given or not HAN_JIEBA.match(c) for c in word) \
                    or word[-1] in rules.not_final or word in rules.titles:
                continue
            entry = lexicon.get(word)
            if k == 3 and entry is not None and not entry[1].startswith("nr"):
                continue
            if s == 0 or not HAN_JIEBA.match(text[s - 1]) or text[s - 1] in BEFORE_APPOSED:
                yield s, m.start()
                break


def family_member_named(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """宗家老大宗立新: X家, a member, X and one or two given characters."""
    from pipeline.text.namecontext import FAMILY_MEMBERS
    members = "|".join(map(re.escape, sorted(FAMILY_MEMBERS, key=len, reverse=True)))
    for m in re.finditer(rf"([\u4e00-\u9fd5])家(?:{members})(\1[\u4e00-\u9fd5]{{1,2}})", text[region:]):
        if m.group(1) not in rules.surnames:
            continue
        s = region + m.start(2)
        given = m.group(2)[1:]
        n = next((i for i, c in enumerate(given) if c in rules.not_given), len(given))
        if n:
            yield s, s + 1 + n


def long_called(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """我叫乌云其木格，: four to six characters after a naming word up to a break, ending with a listed given name."""
    listed = tuple(n for n in rules.given_names if len(n) >= 2)
    for m in re.finditer(r"(?:叫|名叫|叫做)([\u4e00-\u9fd5]{4,6})(?=[，。；！？,;!?、\s]|$)", text[region:]):
        word = m.group(1)
        entry = lexicon.get(word)                        # (乌云其木格: a proper noun of jieba's dictionary)
        if (entry is None or entry[0] < COMPOUND_MAX_FREQ and entry[1].startswith(("nr", "ns", "nz"))) and \
                word.endswith(listed) and not any(c in rules.not_given for c in word):
            yield region + m.start(1), region + m.end(1)


def signed(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """「有事打…，王」: a strong surname alone before the closing quote of a note."""
    for m in SIGNED.finditer(text, region):
        if m.group(1) in rules.surnames:
            yield m.span(1)


def _famous(word: str, lexicon: Lexicon) -> bool:
    entry = lexicon.get(word)
    return entry is not None and entry[1].startswith("nr")


def _given_like(word: str, rules: Rules, lexicon: Lexicon) -> bool:
    entry = lexicon.get(word)
    return all(_given_char(c, rules) for c in word) and \
        (entry is None or entry[0] < DOUBLED_MAX_FREQ or entry[1].startswith("nr"))

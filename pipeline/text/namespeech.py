"""Names in speech as it is transcribed: false starts, hesitations, inaudible stretches, and what
speakers say of a person; part of step 3 (see :mod:`pipeline.text.names`,
which calls these; round 11 of docs/redaction.md). Each is a signal a speaker gives whoever the
person is, not a list of names:

- a false start: a surname, a pause (……, ——, 嗯, 什么 …) and the name said again from its start
  (杨……杨文科, 王什么……王立新, 哈……哈桂芳): the full name said again (even where its given
  part is a word: 文科) and the first attempt with its pause;
- a name broken by a pause or an inaudible stretch (叫马……嗯……玉梅，; 叫杨[听不清]霞，): the whole,
  when a naming word comes before it or the name is said whole elsewhere in the turn;
- a surname cut off by a pause or an inaudible stretch after a naming or a kinship word
  (我男人杨……[听不清]……, 主任叫马[听不清]，) or followed by 什么 (拜什么我忘了);
- a person said to be the speaker's kin (玉兰是我侄女), a nickname with the real name after 大名
  or said to be what people call her (尕娃大名马永祥; 小燕子——我们都这么叫她——), a person
  named through a child (狗蛋他爹): the word is a name though it may be a word too.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.text.namebase import per_rules
from pipeline.text.nameframes import SPELLED
from pipeline.text.namescore import given_like
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, Lexicon

BREAK = "，。；！？,;!?：:、—…～~ \t\u3000\n“”\"「」（）()"
COMMON_FREQ = 1000                       # a word this frequent (孩子, 娃娃) is no one's nickname
PAUSE = r"(?:…+|—+|\.{3,}|[\[［【(（]听不清[\]］】)）])"
FILLER = r"(?:嗯|呃|额|啊|那个|什么|啥)"
HESITATION = re.compile(rf"(?=[，, …—.\[［【(（嗯呃额啊那什啥])(?:[，, ]?(?:{PAUSE}|{FILLER}))+")   # (its first characters tested first)
PAUSE_OR_UNKNOWN = re.compile(rf"{PAUSE}|什么|啥")
NAMING = ("叫", "是", "姓", "名字", "叫做")
CUT_AFTER = ("叫", "是")
PERSON_ENDS = "员人长主"                  # the end of a person noun before the name (调解员, 负责人, 村长, 户主)                 # a surname cut off after these, or after a kinship word
UNKNOWN_GIVEN = re.compile(r"(?:什么|啥)(?=[…—，,。]|来着|我?(?:忘|记不|想不|不知道|不晓得|不清楚))")
PRONOUNS = ("我", "你", "他", "她", "咱", "俺")
KIN_OF = re.compile(r"(?:^|(?<=[，。；！？,;!?：:\s“”]))([\u4e00-\u9fd5]{2,3})是(?:我|他|她|你|咱|俺)(?:们)?(?:的|家)?")
BY_NAME = re.compile(r"(?:^|(?<=[，。；！？,;!?：:\s“”]))([\u4e00-\u9fd5]{2,3})(?:的)?(?:大名|学名|官名|本名|真名)")
NAME_FOLLOWS = re.compile(r"(?:叫|是|[：:])?[\u4e00-\u9fd5]")
LIST_ENDS = "、，。；,;"
BIRTH_ORDER = re.compile(r"(?<=叫)(?:他|她)?([\u4e00-\u9fd5][二三四五六七八九])(?=[，。；！？,;!?])")
CALLED_SO = re.compile(r"(?:^|(?<=[，。；！？,;!?：:\s“”]))([\u4e00-\u9fd5]{2,3})[——，, ]{1,3}"
                       r"(?:我们|大家|村里人|人家|他们)?都?(?:这么|这样)(?:叫|喊)(?:她|他)")
CHILD_OF = re.compile(r"(?:^|(?<=[，。；！？,;!?：:\s“”]))([\u4e00-\u9fd5]{2})(?:他|她)(?:爹|妈|娘|爸|大|达|爷爷|奶奶)")
KEYS = {KIN_OF: re.compile(r"是(?:我|他|她|你|咱|俺)"), BY_NAME: re.compile(r"大名|学名|官名|本名|真名"),
        CALLED_SO: re.compile(r"(?:这么|这样)(?:叫|喊)"), CHILD_OF: re.compile(r"[他她](?:爹|妈|娘|爸|大|达|爷爷|奶奶)")}


def _every(rules: Rules) -> frozenset[str]:
    return per_rules(rules, _all_surnames)


def _all_surnames(rules: Rules) -> frozenset[str]:
    return frozenset(rules.surnames | rules.weak_surnames | rules.rare_surnames)


def _given_after(text: str, p: int, rules: Rules, lexicon: Lexicon) -> str:
    """One or two characters of given names at ``p`` (two where both are)."""
    for k in (2, 1):
        given = text[p:p + k]
        if len(given) == k and given_like(given, rules, lexicon):
            return given
    return ""


def _surname_at(text: str, p: int, rules: Rules) -> str:
    return next((text[p:p + k] for k in (2, 1) if text[p:p + k] in _every(rules)), "")


def hesitations(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, key) of a surname before a hesitation (module docstring): the false start and
    its pause keyed by the name said again; a broken name whole; a surname cut off alone."""
    every = _every(rules)
    for m in HESITATION.finditer(text, region):
        h, after = m.start(), m.end()
        sur = next((text[h - k:h] for k in (2, 1) if h - k >= region and text[h - k:h] in every), "")
        if not sur or not PAUSE_OR_UNKNOWN.search(m.group()) or (m.group().lstrip("，, ").startswith(("什么", "啥")) and lexicon.get(sur + m.group().lstrip("，, ")[:2]) is not None):
            continue                                     # a filler alone (嗯) is no pause; 为什么, 有啥: words
        s = h - len(sur)
        said_after = not HAN_JIEBA.match(text[s - 1:s] or " ") or text[s - 1] in PERSON_ENDS or \
            text.endswith((*NAMING, *rules.kin_words, *rules.titles), 0, s)     # not the end of a word (一马……)
        if text.startswith(sur, after):
            spelling = SPELLED.match(text, after)
            if spelling and spelling.group(2) in spelling.group(1):
                continue                                 # 贵……贵重的贵, 万……万里长城的万: the example word of a spelling
            given = _given_after(text, after + len(sur), rules, lexicon)
            full = sur + given
            entry = lexicon.get(full)
            if given and (entry is None or entry[1].startswith("nr") or entry[0] < RESTART_MAX_FREQ):
                yield s, (h if "什么" in m.group() or "啥" in m.group() else after), full   # 杨……杨文科: the false start
                                                         # and its pause (郗什么……郗永强: the surname alone)
                yield after, after + len(full), full     # ... and the name said again
            continue
        if not said_after:
            continue
        given = _given_after(text, after, rules, lexicon)
        end = after + len(given)
        if given and (end >= len(text) or text[end] in BREAK) and \
                (text.endswith(NAMING, 0, s) or (sur + given) in text):
            yield s, end, sur + given                    # 叫马……嗯……玉梅，(马玉梅 said after)
        elif text.endswith((*CUT_AFTER, *rules.kin_words), 0, s) or UNKNOWN_GIVEN.match(text, h):
            if lexicon.get(sur + "什么") is None:
                yield s, h, sur                          # 我男人杨……[听不清]……; 拜什么我忘了


RESTART_MAX_FREQ = 1000                  # said again after a pause, a name even if a word (文科 533; not 马上)


def said_of_person(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A word that the turn says is a person: the speaker's kin (玉兰是我侄女), a nickname before 大名
    or called so (尕娃大名马永祥; 小燕子——我们都这么叫她), the parent's name through a child (狗蛋他爹)."""
    kin = tuple(k for k in rules.kin_words if len(k) >= 2)
    for rx, need_kin in ((KIN_OF, True), (BY_NAME, False), (CALLED_SO, False), (CHILD_OF, False)):
        if not KEYS[rx].search(text, region):
            continue                                     # (its word nowhere in the turn: no scan)
        for m in rx.finditer(text, region):
            word = m.group(1)
            follows = NAME_FOLLOWS.match(text, m.end())
            if rx is BY_NAME and not (follows and _surname_at(text, follows.end() - 1, rules)):
                continue                                 # the real name after it (尕娃大名马永祥; not 拿同学名字)
            if need_kin and (not text.startswith(kin, m.end()) or not given_like(word, rules, lexicon) or
                             (lexicon.get(word) is not None and not lexicon.get(word)[1].startswith("nr"))):
                continue                                 # 户主是我老伴: a word, not her name
            entry = lexicon.get(word)
            if word.startswith(PRONOUNS) or word.endswith(PRONOUNS) or any(c in rules.not_given for c in word) or \
                    word in rules.kin_words or word in rules.titles or (entry is not None and entry[0] >= COMMON_FREQ):
                continue                                 # 孩子他爹, 其实他大名: no name before them
            yield m.span(1)


def kin_short_names(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A full name of two characters after a kinship word, set off by a list's separator or a break
    (孙子马浩、孙女马雅琪): a strong surname and a character of given names that jieba's dictionary
    knows as no word together (not 我老伴马上，)."""
    if rules.kin_re is None:
        return
    for m in rules.kin_re.finditer(text, region):
        b = m.end()
        word, after = text[b:b + 2], text[b + 2:b + 3]
        if len(m.group()) >= 2 and len(word) == 2 and word[0] in rules.surnames and given_like(word[1], rules, lexicon) and \
                after and after in LIST_ENDS and lexicon.get(word) is None:
            yield b, b + 2


def by_birth_order(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """A surname and a birth order said as a name after 叫 (都叫他马三，): the nickname, whole."""
    for m in BIRTH_ORDER.finditer(text, region):
        if m.group(1)[0] in rules.surnames:
            yield m.span(1)


def surname_before(text: str, found: list[tuple[int, int, str]], rules: Rules, lexicon: Lexicon, region: int,
                   free) -> list[tuple[int, int, str]]:
    """A name of three characters or more found in the turn (a 经名: 法蒂麦) with a strong surname
    written right before it, after a break or 是/叫 (登的是马法蒂麦): the surname is part of it. So
    is a surname, even a weak one, after 的/是/叫 before a given name of two characters found before a
    kinship word or a title (502的易满姣娭毑: 易 no adverb after 的)."""
    out = []
    every = rules.surnames | rules.weak_surnames
    for s, e, key in found:
        sur = text[s - 1:s]
        three = e - s >= 3 and sur in rules.surnames and (s < 2 or not HAN_JIEBA.match(text[s - 2]) or text[s - 2] in "是叫")
        two = e - s == 2 and sur in every and text[s - 2:s - 1] in ("的", "是", "叫") and \
            text.startswith((*rules.kin_words, *rules.titles), e)
        if key == text[s:e] and (three or two) and s - 1 >= region and \
                lexicon.get(sur + text[s:s + 2]) is None and free(s - 1, s):
            out.append((s - 1, e, sur + key))
        else:
            out.append((s, e, key))
    return out

"""Names found by the names already found in the turn: part of step 3 (see :mod:`pipeline.text.names`,
which calls :func:`more_names` with the spans its other finders found). Each rule lets a word that
is no name by itself (an everyday word such as 白雪, 金凤, 燕子, or a place's name) be one where the
turn's other names say so; each is redacted where it stands, not elsewhere in the turn.

- **A list of names**: an item of a list (items set off by 、 or ，, each perhaps with a number or
  a bracket after it: 杨德胜15号，马兰16号; 冶春梅、金凤（网格员）) whose neighbour is a name found,
  itself next to another name found, is a name when it is shaped like one (two or three
  characters that start with a surname or are all characters of given names, none a function
  character, no role or kinship word).
- **A person field**: the value of a field of minutes or a form that names a person (记录：白雪,
  主持：…, 联系人：…; ``redaction.names.person_fields``) at a line's start or inside a letter read
  out (after an opening quote or a sentence's end: “举报人：…, 特此反映。写信人：…), up to the line's
  end, a bracket or a comma.
- **Chat messages read out**: the senders of two lines or more of the form 海燕：… or [玉梅] …, when
  the sender is shaped like a name and is no everyday word of jieba's dictionary (a kinship word of
  ``redaction.names.chat_kin`` after it: 浩然妈妈：).
- **Siblings**: a word of the same shape as a name found, with the same surname, right before or
  after it or joined to it by 跟/和/与/、 (白云跟白月, 海龙海虎兄弟俩): brothers and sisters share
  a surname and are named together.
- **A given name again**: the given name of a full name found (马永福 … 永福啊; 丁建华 … 建华哩),
  alone and set off (a break, a naming or glue character before it; a break, a particle or a glue
  character after it), or inside a sentence where it makes no dictionary word with its neighbours
  (礼拜秀英就端了, 锁在晓明的柜子里; an everyday word such as 国庆 only before a title, a kinship or
  a person word: 国庆老哥, not 国庆节); its characters in 10 of jieba's names at least (海麦).
- **A surname again**: a surname alone that a name found in the turn bears, after 哪个 (asking
  which person; not 那个, which ends a spelling: 三横一竖那个王) and before a break (老马 … 哪个马？), or before 家 where that is no word of jieba's dictionary
  (哈斌 … 哈家那个小伙子) or anywhere it names a family (a full name's surname: 屠星宇 … 6号楼屠家的; not
  a place, 马家滩), or in an informal form (路红霞 … 路经理, 金德福 … 老金商量: a weak surname
  too, before a title that makes no word with it); a surname found alone (an informal form: 闪大姐)
  and two characters of given names set off by breaks (，闪桂英，).
- **A full name the turn confirms** (:func:`with_confirmed`, called before the rules above): a
  surname and two characters of given names that score up to 1.5 under the threshold (a weak
  surname, 路红霞; an everyday word as the given name, 马国庆), when the turn says the surname in an
  informal form elsewhere (路经理), the given name before a title, a kinship or a person word
  (国庆老哥, 红梅书记), a title right after the full name (安玉兰奶奶, 丁福海乡老), a full name
  found joined to it by 和/跟/与/、 (王婷婷和路小梅), a kinship word before it (她爸拜永福), or a person word and a comma before it and a
  break after it (老太太，安桂珍，). A surname and one given character set off by breaks (路鹏，)
  likewise when the surname is said in an informal form elsewhere (小路).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from pipeline.text.namescore import GIVEN_CHARS, ROLE_WORDS, THRESHOLD, window_score
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, Lexicon, find_all, find_han_after

SEPARATORS = "、，,"
ENDS = "、，,；;。！!？?\n—…："                        # what ends an item of a list
ANNOTATION = re.compile(r"(?:[ \t\u3000]*(?:\d{1,3}号|[（(][^）)\n]{1,10}[）)]))?")     # 15号, （网格员）
SPACES = " \t\u3000"                                # a list of names typed with spaces between them
TIGHT_ITEM = re.compile(r"[\u4e00-\u9fd5]{2,3}(?![\u4e00-\u9fd5])")
ITEM = re.compile(r"[\u4e00-\u9fd5](?:[ \t\u3000]{0,2}[\u4e00-\u9fd5]){1,2}")
# a chat line: its time (2023-06-14 08:23, [19:05]) and its sender, who may be named with a kinship
# word (浩然妈妈：, ``chat_kin``), a role after a dash (苏海燕-网格员：) or a note in brackets (老杨（五组）：)
_STAMP = r"\[?(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T]*)?\d{1,2}:\d{2}(?::\d{2})?\]?[ \t\u3000]*"


@functools.lru_cache(maxsize=8)
def _patterns(person_fields: tuple[str, ...], chat_kin: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """The field, chat line and chat mention patterns of a study's ``person_fields`` and ``chat_kin``
    (redaction.names in the config; the template's lists by default)."""
    fields = "|".join(map(re.escape, sorted(person_fields, key=len, reverse=True))) or "(?!)"
    kin = "|".join(map(re.escape, sorted(chat_kin, key=len, reverse=True))) or "(?!)"
    field_re = re.compile(rf"(?:^|(?<=\n)|(?<=[“「。；…，,]))[ \t\u3000]*(?:{fields})[：:][ \t\u3000]*")   # (or in a letter
    # read out; or the next field of a form read out in one line: 经办人：铁军，审核：伏建国)
    line = re.compile(r"(?:(?<![\d:])" + _STAMP + r"|(?:^|(?<=\n))[ \t\u3000]*)"
                      r"(?:([\u4e00-\u9fd5]{2,3}?)(?P<kin>" + kin + r")?(?:-[\u4e00-\u9fd5]{2,4})?"
                      r"(?:[（(][^）)\n]{1,10}[）)])?[ \t\u3000]*[：:]|[\[【]([\u4e00-\u9fd5]{2,3})[\]】])"
                      r"[ \t\u3000]*(?=[^ \t\u3000\n])")
    # a member named in a chat: @ before a name (@金凤嫂子, @尕女 ), a message withdrawn (“金凤”撤回了一条消息)
    mention = re.compile(r"@([\u4e00-\u9fd5]{2,3}?)(?P<kin>" + kin + r")?(?=[-\s，,：:]|$)"
                         r"|[“\"]([\u4e00-\u9fd5]{2,3})[”\"](?=撤回了|拍了拍|邀请|加入了|修改了)")
    return field_re, line, mention
JOINERS = ("跟", "和", "与", "同", "、", "")
PARTICLES = "啊呢哩吧嘛呀哦"
DEMONSTRATIVES = ("哪个", "哪一个")                   # asking which person (not 那个王: a spelling, 三横一竖那个王)
BREAK = "，。；！？,;!?：:、—…～~ \t\u3000\n"
RARE_PLACE = 10                                      # a place of jieba's dictionary rarer than this may be a given name
GIVEN_AGAIN_MIN = 10                                 # a given name said again: its characters in 10 of jieba's names (海麦)
COMMA = re.compile(r"[，,]")                     # 闻老师，闻笑笑 (:func:`_restated`)
FUNCTION_TAGS = ("d", "p", "c", "u", "r", "m", "q", "t", "f", "y", "e", "o")   # 马上 (d), 高于 (p): no given name
PARENT_OF = tuple(p + k for p in "我他她" for k in ("爸", "妈", "爹", "娘"))    # 她爸拜永福
APPOSITION_NOUNS = ("老太太", "老头", "老人", "小伙子", "姑娘", "媳妇", "娃娃", "孩子", "女的", "男的")
CONFIRMED_MARGIN = 1.5                                # a full name the turn confirms may score this much below THRESHOLD
KIN_AFTER = ("爸", "妈", "叔", "婶", "姨", "哥", "姐", "老哥", "老汉", "婶子", "家")    # 振华爸, 建国叔, 哈三家


def more_names(text: str, spans: list[tuple[int, int]], rules: Rules, lexicon: Lexicon,
               region: int) -> Iterator[tuple[int, int]]:
    """The names the rules of the module docstring add to ``spans`` (the names found)."""
    spans = sorted(set(spans))
    yield from _listed(text, spans, rules, lexicon, region)
    yield from _fields(text, rules, lexicon, region)
    yield from _chat(text, rules, lexicon, region)
    yield from _siblings(text, spans, rules, lexicon, region)
    full = {re.sub(r"\s+", "", text[s:e]) for s, e in spans}
    yield from _given_again(text, full, rules, lexicon, region)
    yield from _surname_again(text, full, rules, lexicon, region)


def _surname(word: str, rules: Rules) -> str:
    every = rules.surnames | rules.weak_surnames | rules.rare_surnames
    return next((word[:k] for k in (2, 1) if len(word) > k and word[:k] in every), "")


def _shaped(word: str, rules: Rules, lexicon: Lexicon) -> bool:
    """Two or three characters that can be a name said in a list (see the module docstring)."""
    if not 2 <= len(word) <= 3 or any(c in rules.not_given for c in word) or word in rules.titles or \
            word in rules.kin_words or word in ROLE_WORDS or any(word.endswith(t) for t in rules.titles):
        return False
    entry = lexicon.get(word)
    if entry is not None and entry[1].startswith(("v", "d", "r", "p", "c", "u", "q", "m", "f", "t")):
        return False
    return bool(_surname(word, rules)) or all(c in GIVEN_CHARS or lexicon.given_chars.get(c, 0) >= 30 for c in word)


def _item_after(text: str, e: int) -> tuple[int, int] | None:
    """The next item of a list after a name ending at ``e`` (its annotation, a separator, the item;
    or a space and two or three characters before a space or an end: 赫连山 边红霞 戈小龙)."""
    a = ANNOTATION.match(text, e).end()
    if a == e and a < len(text) and text[a] in SPACES:
        m = TIGHT_ITEM.match(text, a + 1)
        return m.span() if m and (m.end() >= len(text) or text[m.end()] in ENDS or text[m.end()] in SPACES) else None
    if a >= len(text) or text[a] not in SEPARATORS:
        return None
    m = ITEM.match(text, a + 1)
    if not m:
        return None
    end = ANNOTATION.match(text, m.end()).end()
    return (m.start(), m.end()) if end >= len(text) or text[end] in ENDS else None


def _item_before(text: str, s: int, starts: dict[int, int]) -> tuple[int, int] | None:
    """The item of a list before a name starting at ``s``: an item ends at a separator before it."""
    if s >= 3 and text[s - 1] in SPACES:
        for k in (2, 3):
            b = s - 1 - k
            if b >= 0 and TIGHT_ITEM.fullmatch(text, b, s - 1) and (b == 0 or text[b - 1] in ENDS or text[b - 1] in SPACES):
                return b, s - 1
        return None
    if s < 2 or text[s - 1] not in SEPARATORS:
        return None
    for k in range(2, 8):
        b = s - 1 - k
        if b < 0:
            break
        m = ITEM.match(text, b)
        if m and (b == 0 or text[b - 1] in ENDS or b in starts) and ANNOTATION.match(text, m.end()).end() == s - 1:
            return m.span()
    return None


def _listed(text: str, spans: list[tuple[int, int]], rules: Rules, lexicon: Lexicon,
            region: int) -> Iterator[tuple[int, int]]:
    starts = {s: e for s, e in spans}
    seen = set()
    for s, e in spans:
        for item in (_item_after(text, e), _item_before(text, s, starts)):
            if item is None or item[0] < region or item[0] in starts or item in seen:
                continue
            nxt, prev = _item_after(text, item[1]), _item_before(text, item[0], starts)
            other = _item_before(text, s, starts) if item[0] >= e else _item_after(text, e)
            named_other = (nxt is not None and nxt[0] in starts and nxt[0] != s) or \
                (prev is not None and prev[0] in starts and prev[0] != s) or (other is not None and other[0] in starts)
            if named_other and not any(ps < item[1] and item[0] < pe for ps, pe in spans) and \
                    _shaped(re.sub(r"\s+", "", text[item[0]:item[1]]), rules, lexicon):
                seen.add(item)
                yield item


def _fields(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    for m in _patterns(rules.person_fields, rules.chat_kin)[0].finditer(text, region):
        item = ITEM.match(text, m.end())
        if not item:
            continue
        end = ANNOTATION.match(text, item.end()).end()
        if (end >= len(text) or text[end] in ENDS) and _shaped(re.sub(r"\s+", "", item.group()), rules, lexicon):
            yield item.span()


def _chat(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """The senders of chat messages read out, two lines at least (海燕：明天几点？ / 秀兰：九点; [玉梅]
    好的): a sender of two or three characters of given names (or a surname and given names) that
    jieba's dictionary knows as no everyday word (not 时间：, 物业：, 明天：)."""
    _, chat_line, chat_mention = _patterns(rules.person_fields, rules.chat_kin)
    lines = [m for m in chat_line.finditer(text, region)]
    if len(lines) < 2:
        lines = []                                       # one line: no chat (时间：…), but @ and 撤回 are
    named = set()
    for m in [*lines, *chat_mention.finditer(text, region)]:
        k = next(i for i in (1, 2, 3) if m.re.groups >= i and m.group(i))
        if _chat_name(m.group(k), bool(m.group("kin")), rules, lexicon):
            named.add(m.group(k))
    for word in named:                                   # and wherever the chat says it (我们家子涵的作业本)
        p = text.find(word, region)
        while p >= 0:
            if not text.startswith(rules.place_after, p + len(word)):
                yield p, p + len(word)                   # (not 金凤区: a place)
            p = text.find(word, p + len(word))


def _chat_name(word: str, kin: bool, rules: Rules, lexicon: Lexicon) -> bool:
    """A sender or a member of a chat shaped like a name; an everyday word of jieba's dictionary
    only before a kinship word (浩然妈妈：; not 时间：, 物业：, 明天：)."""
    entry = lexicon.get(word)
    if word in rules.titles or word in rules.kin_words or word in ROLE_WORDS or word in rules.person_fields or \
            any(c in rules.not_given for c in word) or any(word.endswith(t) for t in rules.titles) or \
            word[0] in rules.prefixes or \
            (entry is not None and not entry[1].startswith(("nr", "nz", "ns")) and not (kin and entry[1] != "r")):
        return False
    return bool(_surname(word, rules)) or all(c in GIVEN_CHARS or lexicon.given_chars.get(c, 0) >= 30 for c in word)


def _siblings(text: str, spans: list[tuple[int, int]], rules: Rules, lexicon: Lexicon,
              region: int) -> Iterator[tuple[int, int]]:
    for s, e in spans:
        word = text[s:e]
        sur = _surname(word, rules)
        if not sur or not 2 <= len(word) <= 3 or " " in word:
            continue
        n = len(word)
        for joiner in JOINERS:
            for a in (s - len(joiner) - n, e + len(joiner)):
                b = a + n
                if a < region or b > len(text) or text[a:b] == word or not text.startswith(sur, a):
                    continue
                if (a < s and text[b:s] != joiner) or (a > s and text[e:a] != joiner):
                    continue
                outer = text[a - 1:a] if a < s else text[b:b + 1]
                if outer and HAN_JIEBA.match(outer) and not (a > s and outer in rules.glue_after) and \
                        not (a > s and text.startswith(("兄弟", "姐妹", "弟兄", "两", "俩", "是"), b)):
                    continue                                 # the other word must be set off on its far side
                if _shaped(text[a:b], rules, lexicon) and all(c in GIVEN_CHARS for c in text[a + len(sur):b]):
                    yield a, b


def _given_again(text: str, full: set[str], rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    for name in sorted(full):                                  # a fixed order (not the set's, PYTHONHASHSEED)
        sur = _surname(name, rules)
        given = name[len(sur):]
        if not sur or len(given) != 2 or not all(c in GIVEN_CHARS or lexicon.given_chars.get(c, 0) >= GIVEN_AGAIN_MIN for c in given) or \
                given in rules.titles or given in ROLE_WORDS or given in rules.kin_words:
            continue                                         # (苏楼长 … 找楼长: a role, no given name; 常老汉)
        for a in find_all(text, given, region):
            b = a + len(given)
            before, after = text[a - 1:a], text[b:b + 1]
            if text.endswith(sur, 0, a):
                continue                                     # the full name itself
            if (not before or before in BREAK or before in rules.glue_before) and \
                    (not after or after in BREAK or after in PARTICLES or after in rules.glue_after or after in "他她" or
                     (given not in rules.places and _unbroken_ok(given, after, lexicon))):
                yield a, b
            elif _given_in_running_text(text, a, b, rules, lexicon):
                yield a, b


def _given_in_running_text(text: str, a: int, b: int, rules: Rules, lexicon: Lexicon) -> bool:
    """A given name of a full name found, said again inside a sentence (礼拜秀英就端了, 锁在晓明的柜子里,
    是建平半夜, 现在国强每个月): no dictionary word with the character before it or after it and
    the start of no longer word; one that is an everyday word (国庆, 建国, 银川, 团结) only before a
    title, a kinship word or a person word (国庆老哥, 建国叔, 红梅书记; not 国庆节, 网格就团结)."""
    given, before, after = text[a:b], text[a - 1:a], text[b:b + 1]
    if before and HAN_JIEBA.match(before) and (_freq(before + given[0], lexicon) >= 10 or _freq(text[a - 1:b], lexicon) > 0):
        return False
    if after and HAN_JIEBA.match(after) and any(_freq(given[1] + text[b:b + k], lexicon) >= 10 or
                                                  _freq(given + text[b:b + k], lexicon) > 0 for k in (1, 2)):
        return False
    person = text.startswith((*rules.titles, *rules.kin_words, *rules.person_after, *ROLE_WORDS, *KIN_AFTER), b)
    entry = lexicon.get(given)
    everyday = given in rules.places or (not _name_entry(entry) and (entry[0] >= 100 or entry[1].startswith("ns")))
    return person or (not everyday and (not after or after in BREAK or after in PARTICLES or HAN_JIEBA.match(after)))


def _freq(word: str, lexicon: Lexicon) -> int:
    entry = lexicon.get(word)
    return entry[0] if entry else 0


def _unbroken_ok(given: str, after: str, lexicon: Lexicon) -> bool:
    """A given name run on into the next word (speech recognition writes no commas: 晓燕明天来):
    when jieba knows it as no everyday word (or as a name) and its last character starts no word
    with the next."""
    return _name_entry(lexicon.get(given)) and lexicon.get(given[1] + after) is None


def _name_entry(entry: tuple[int, str] | None) -> bool:
    """No dictionary word, a name (nr), or a place too rare to be an everyday word (德福, ns 2: jieba
    tags hundreds of given names as small places; 建国, ns 3,083, is an everyday word)."""
    return entry is None or entry[1].startswith("nr") or (entry[1].startswith("ns") and entry[0] < RARE_PLACE)


def _surname_again(text: str, full: set[str], rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    every = rules.surnames | rules.weak_surnames | rules.rare_surnames
    alone = {n for n in full if n in every}                    # a surname found alone (老马, 闪大姐)
    full_surnames = {sur for n in full if len(n) >= 2 and (sur := _surname(n, rules)) and sur != n}
    surnames = {sur for sur in (_surname(n, rules) for n in full) if sur} | alone
    for sur in sorted(alone):                                  # in a fixed order: overlapping spans are
        for a, b in find_han_after(text, sur, 2, 2, region):
            if (a == 0 or text[a - 1] in BREAK) and (b >= len(text) or text[b] in BREAK) and \
                    all(c in GIVEN_CHARS for c in text[a + len(sur):b]) and text[a:b] not in full:
                yield a, b                                   # 闪大姐 … ，闪桂英，
    for sur in sorted(surnames):                               # resolved first come (PYTHONHASHSEED)
        for a in find_all(text, sur, region):
            b = a + len(sur)
            after = text[b:b + 1]
            if text.endswith(DEMONSTRATIVES, 0, a) and (not after or after in BREAK):
                yield a, b                                   # 哪个马？
            elif after == "家" and lexicon.get(sur + "家") is None and (a == 0 or text[a - 1] in BREAK) and \
                    text.startswith(("那", "这", "的", "老", "兄弟", "姐妹"), b + 1):
                yield a, b                                   # 哈家那个小伙子
            elif after == "家" and sur in full_surnames and _family(text, a, sur, lexicon):
                yield a, b                                   # 五楼洪家漏水 … 洪学文; 困难户蔺家 … 户主蔺宝贵
            elif _informal_at(text, a, sur, rules, lexicon):
                yield a, b                                   # 路红霞 … 路经理, 金德福 … 老金商量


FAMILY_NOT_AFTER = "村庄屯寨镇乡堡山川河沟湾岭坡梁塬峁洼滩渠岔湖集族"   # 马家滩, 单家集: places; 家族


def _family(text: str, a: int, sur: str, lexicon: Lexicon) -> bool:
    """``sur`` + 家 at ``a`` names a family (the surname of a full name found in the turn): 家 and
    what follows are no place (马家滩, 单家集, 张家口) and no word of jieba's dictionary (家族, 家具), and
    the character before makes no word with the surname (not 国家, 大家: 国, 大 no surname there)."""
    k = len(sur)
    nxt = text[a + k + 1:a + k + 2]
    if nxt and (nxt in FAMILY_NOT_AFTER or _freq("家" + nxt, lexicon) >= 1000 and nxt not in "的里人"):
        return False
    entry = lexicon.get(sur + "家")
    if entry is not None and not entry[1].startswith("nr") and entry[0] >= 10 or \
            any(_freq(text[a:a + k + m], lexicon) >= 10 for m in (2, 3)):     # 张家口, 张家界
        return False
    return not (a > 0 and HAN_JIEBA.match(text[a - 1]) and _freq(text[a - 1:a + k], lexicon) >= 10)


def _informal_at(text: str, j: int, sur: str, rules: Rules, lexicon: Lexicon) -> bool:
    """The surname at ``j`` in an informal form: before a title or a role word that makes no
    dictionary word with it (路经理, 常网格员, 白同学; not 班主任), or after 老/小 and before a break or no word (老金商量, 小路——); the
    character before it makes no word with it (not 道路经理)."""
    k = len(sur)
    if j > 0 and HAN_JIEBA.match(text[j - 1]) and text[j - 1] not in rules.prefixes and \
            text[j - 1] not in rules.glue_before and _freq(text[j - 1:j + k], lexicon) >= 10:
        return False
    title = next((t for t in sorted((*rules.titles, *ROLE_WORDS), key=len, reverse=True) if text.startswith(t, j + k)), "")
    if title:
        return _freq(sur + title, lexicon) < 10
    after = text[j + k:j + k + 1]
    return j > 0 and text[j - 1] in rules.prefixes and (not after or after in BREAK or after in rules.glue_after or
                                                       (HAN_JIEBA.match(after) and _freq(sur + after, lexicon) < 10 and
                                                        after not in GIVEN_CHARS))


def with_confirmed(text: str, found: list[tuple[int, int, str]], rules: Rules, lexicon: Lexicon, region: int,
                   free) -> list[tuple[int, int, str]]:
    """``found`` (spans with keys) and the full names the turn confirms (:func:`confirmed`), each
    wherever it occurs; a name found inside one (周建 of 周建平) gives way to it."""
    new = {text[s:e] for s, e in confirmed(text, found, rules, lexicon, region) if free(s, e)}
    spans = sorted(((s, s + len(word)) for word in new for s in find_all(text, word, region)),
                   key=lambda span: (span[0], -span[1]))     # a fixed order, the longer first (not the set's)
    kept = [f for f in found if not any(s <= f[0] and f[1] <= e for s, e in spans)]
    spans = [(s, e) for s, e in spans if not any(f[0] < e and s < f[1] for f in kept)]
    return kept + [(s, e, text[s:e]) for s, e in spans]


def confirmed(text: str, found: list[tuple[int, int, str]], rules: Rules, lexicon: Lexicon,
              region: int) -> Iterator[tuple[int, int]]:
    """A surname and two characters of given names that score a little under the threshold (an
    everyday word as the given name: 马国庆; a weak surname: 路红霞, 安红梅), a name when the turn
    confirms it: the same surname in an informal form elsewhere (路经理 … 路红霞, 杨婶子杨春梅), the
    given name said again before a title, a kinship or a person word (国庆老哥, 红梅书记), or a
    title right after the full name itself (安玉兰奶奶, 丁福海乡老)."""
    every = rules.surnames | rules.weak_surnames | rules.rare_surnames
    for i in range(region, len(text) - 2):
        sur, given = text[i], text[i + 1:i + 3]
        if sur not in every or sur in rules.very_rare_surnames or not all(c in GIVEN_CHARS for c in given) or \
                not all(HAN_JIEBA.match(c) and c not in rules.not_given for c in given) or not lexicon.name_like(given) or \
                given in rules.titles or given in rules.kin_words or given in ROLE_WORDS or \
                any(s < i + 3 and i < e and not (i <= s and e <= i + 3) for s, e, _ in found) or \
                (HAN_JIEBA.match(text[i + 3:i + 4]) and _freq(text[i + 2:i + 4], lexicon) >= 10):
            continue                                         # (a name found inside it gives way: 康建 of 康建军;
                                                             # the last character starts no word: not 王强明天)
        if window_score(text, i, 1, i + 3, given, rules, lexicon) < THRESHOLD - CONFIRMED_MARGIN:
            continue
        if _informal_elsewhere(text, i, sur, rules, lexicon, region) or _freq(sur + given[0], lexicon) < 10 and (
                text.startswith(rules.titles, i + 3) or _given_with_person(text, i + 1, given, rules, region) or
                _joined_to_a_name(text, i, found) or _apposed(text, i, i + 3, rules) or
                text.endswith((*rules.kin_words, *PARENT_OF), 0, i)):
            yield i, i + 3                                   # (万主任 … 万国庆: 万国 a word; not 安全主任)
    yield from _short_confirmed(text, found, rules, lexicon, region)
    yield from _restated(text, rules, lexicon, region)


def _restated(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A surname with a title, a comma, and the same surname with one or two characters set off
    by a break (闻老师，闻笑笑，; 高经理，高峰，他): the speaker says who the title is, so the given
    name may be an everyday word (高峰, 笑笑); not a function word (马主任，马上，)."""
    titles = tuple(rules.titles)
    for c in (m.start() for m in COMMA.finditer(text, region)):
        title = next((t for t in titles if text.endswith(t, 0, c)), "")
        i = c - len(title) - 1
        sur = text[i:i + 1] if title and i >= region else ""
        if not sur or (sur not in rules.surnames and sur not in rules.rare_surnames):
            continue
        j = c + 1 + (text[c + 1:c + 2] in " \t\u3000")
        if not text.startswith(sur, j):
            continue
        for k in (2, 1):
            given = text[j + 1:j + 1 + k]
            if len(given) == k and text[j + 1 + k:j + 2 + k] in BREAK and \
                    given not in rules.titles and given not in rules.kin_words and given not in ROLE_WORDS and \
                    all(HAN_JIEBA.match(c) and c not in rules.not_given for c in given) and \
                    not (lexicon.get(given) or (0, "x"))[1].startswith(FUNCTION_TAGS) and \
                    not (lexicon.get(sur + given) or (0, "x"))[1].startswith(FUNCTION_TAGS):
                yield j, j + 1 + k
                break


def _short_confirmed(text: str, found: list[tuple[int, int, str]], rules: Rules, lexicon: Lexicon,
                     region: int) -> Iterator[tuple[int, int]]:
    """A surname and one given character set off by breaks on both sides (——路鹏，小路——), a name when
    the turn says the surname in an informal form elsewhere and jieba knows the two as no word."""
    every = rules.surnames | rules.weak_surnames | rules.rare_surnames
    for i in range(max(region, 1), len(text) - 2):
        sur, given = text[i], text[i + 1]
        if sur not in every or sur in rules.very_rare_surnames or text[i - 1] not in BREAK or text[i + 2] not in BREAK or \
                given not in GIVEN_CHARS or given in rules.not_given or any(s < i + 2 and i < e for s, e, _ in found) or \
                lexicon.get(sur + given) is not None:
            continue
        if window_score(text, i, 1, i + 2, given, rules, lexicon) >= THRESHOLD - CONFIRMED_MARGIN and \
                _informal_elsewhere(text, i, sur, rules, lexicon, region):
            yield i, i + 2


def _apposed(text: str, s: int, e: int, rules: Rules) -> bool:
    """A full name set off by breaks right after a person word (汉族老太太，安桂珍，住在): in apposition."""
    words = (*ROLE_WORDS, *rules.kin_words, *rules.titles, *APPOSITION_NOUNS)
    return s >= 2 and text[s - 1] in "，," and text[e:e + 1] in BREAK and text.endswith(words, 0, s - 1)


def _joined_to_a_name(text: str, i: int, found: list[tuple[int, int, str]]) -> bool:
    """The window at ``i`` joined by 和/跟/与/、 to a full name found right before it (王婷婷和路小梅)."""
    return any(e < i and e - s >= 3 and text[e:i] in ("和", "跟", "与", "、") for s, e, _ in found)


def _informal_elsewhere(text: str, i: int, sur: str, rules: Rules, lexicon: Lexicon, region: int) -> bool:
    """The surname at ``i`` said elsewhere in the turn with a title (路经理, 杨婶子) or after 老/小 (老金)."""
    for j in find_all(text, sur, region):
        if j == i:
            continue
        if _informal_at(text, j, sur, rules, lexicon):
            return True
    return False


def _given_with_person(text: str, g: int, given: str, rules: Rules, region: int) -> bool:
    """The given name at ``g`` said elsewhere in the turn before a title, a kinship or a person word."""
    words = (*rules.titles, *rules.kin_words, *rules.person_after, *KIN_AFTER)
    return any(j != g and text.startswith(words, j + len(given)) for j in find_all(text, given, region))

"""Names found by the words around them: part of step 3 (see :mod:`pipeline.text.names`, which
calls these and decides where else each name is redacted).

- a surname alone that names a person: after 姓 (他姓禹, 姓欧阳的; spelled out: 姓弓长张 names 张)
  or a clan name before 氏 (老姓是瓜尔佳氏), unless the clause speaks of the surname in general (姓马的多, 姓杨的、姓丁的也多); before 家 after a neighbour word (隔壁单家) or a floor, a building or a household word (五楼洪家, 租户桑家)
  or after 是/找/去 ... with 的/人/里 after it (是杨家的: 杨家, not 商家, 王家 as jieba's words);
- a nickname after 小名/外号/绰号 ... (小名叫狗蛋) or after 叫她/喊他 (我们叫她麦子，), where
  no verb, numeral or kinship word follows;
- the subject of a role: a name-shaped word at a clause's start before 是 … and a role at the
  clause's end (田野是我们社区的社工，), even an ordinary word;
- a name written with a middle dot (阿依古丽·买买提): a name found on one side takes the other.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from pipeline.text.nameframes import LANDFORMS
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, Lexicon, find_all

RARE_FREQ = 10                                  # X家 this frequent in jieba's dictionary is a word (商家, 专家)

# surnames spelled out by their parts, as people say them (弓长张, 木子李, 耳东陈): after 姓 the
# surname is the last character, the first is no surname of its own (姓古月胡: not 古)
SPELLED_SURNAMES = ("三横一竖王", "弓长张", "立早章", "木子李", "耳东陈", "口天吴", "古月胡", "双木林", "草头黄", "文刀刘",
                    "言午许", "禾呈程", "人可何", "关耳郑", "走肖赵", "子小孙", "木易杨", "双口吕", "女生姚", "三横王")
CLAN_PEOPLE = re.compile(r"的?(?:后人|后代|后裔|子孙|家族|族人|一支)")   # 是赫舍里氏的后人
CLAN = re.compile(r"姓(?:是|为|叫)?([\u4e00-\u9fd5]{2,4}?)氏"        # 老姓是瓜尔佳氏, 本姓钮祜禄氏; 祖上是富察氏,
                  rf"|(?<=是)([\u4e00-\u9fd5]{{2,4}}?)氏(?={CLAN_PEOPLE.pattern}|[，。,；;、]|$)")
DOTS = "·•・‧･"                                  # the middle dots of transliterated names
CLAUSE_END = "，。；！？,;!?：:\n"
SPELL_BEFORE = CLAUSE_END + "）)… \t\u3000"
NICKNAME_WORDS = ("小名儿", "小名", "乳名", "外号儿", "外号", "绰号", "诨名", "昵称")
CALL_WORDS = ("叫他", "叫她", "喊他", "喊她", "叫我", "喊我", "叫俺", "喊俺", "叫额", "喊额")   # 我婆家叫我秀英，
GA_NOT = ("尕娃", "尕的", "尕些", "尕点", "尕个", "尕一", "尕妹", "尕孙", "尕儿", "尕爸", "尕妈", "尕舅", "尕姨", "尕叔",
          "尕婶", "尕姑", "尕兄", "尕丫", "尕媳", "尕时", "尕事", "尕小")
# 尕 + one of the most frequent surnames is an informal form like 小李 (尕马: the surname redacted, 尕
# kept); 尕 + any other character a child's name or a nickname, whole (尕梅, 尕虎, 尕林, 尕蛋)
GA_ROLE_SURNAMES = "马王李张刘陈杨黄赵吴周"
GA_BEFORE = ("叫", "喊", "的", "是", "跟", "和", "给", "让", "找", "我", "俺", "额")
NICK_FILLER = "叫是就都也还做为 \t\u3000"
KIN_CHARS = "妈爸爹娘爷奶姐哥弟妹叔姨舅婶嫂伯姑"           # 叫她妈妈: a kinship word, no nickname
NOT_NICKNAME_TAGS = ("v", "d", "a", "r", "m", "p", "c", "u", "q", "t", "f")
# after 姓X的 in the same clause: the surname spoken of in general (姓马的多, 姓杨的也不少)
GENERAL = re.compile(r"的(?:人|户|家)?[也都还比较最很特别更挺]{0,3}(?:多|少|不少|居多|占)")
FAMILY_BEFORE = "是找去到在住给跟和"
# a floor, a building or a household word before a surname + 家, like a neighbour word (五楼洪家, 6号楼屠家, 租户桑家)
DWELLING = re.compile(r"(?:\d{1,3}|[一二三四五六七八九十两]{1,3})(?:号楼|楼|单元|层)|(?:租|住|农|困难|低保|贫困|五保)户")
FAMILY_AFTER = "的人里那这门"
FAMILY_AFTER_WORDS = ("具", "电", "务", "伙", "乡", "属", "族", "长", "园", "居", "庭", "政")   # 家具, 家电 …: 家 starts a word
FAMILY = re.compile(r"([\u4e00-\u9fd5]{1,2})家")
FAMILY_LIST = "、和跟与同及"                   # 马家、丁家、杨家; 黑家和者家: families in a list
FAMILY_SUBJECT = "也都还就又在是那这，。；！？、"    # the family as a clause's subject (汉族的李家也在, ，米家在那边, ，喇家，, 周家那个,
                                                # 回族的沙家、汉族的邢家)
# X家 words of jieba's dictionary that start with a surname and are no family (商家, 买家, 顾家); the
# others (王家 979, 周家 298, tagged n) are families in the dictionary's texts too
FAMILY_WORDS = frozenset(("农家", "庄家", "商家", "买家", "卖家", "仇家", "顾家", "方家", "岳家", "苗家", "管家", "东家", "店家",
                          "酒家", "渔家", "行家", "厂家", "亲家", "冤家", "当家", "全家", "万家", "成家", "安家", "齐家", "国家",
                          "大家", "人家", "百家", "千家", "皇家", "公家", "作家", "画家", "专家", "船家", "玩家", "赢家"))
COUNTS = "两俩二三四五六几十多"                 # before a member (宋家两兄弟) or 余家 (十余家: a count)
ORDINAL_HOUSEHOLD = re.compile(r"(?:头一|第[一二三四五六七八九十\d]{1,3})家是?$")    # households in order: 第三家田家
COMMON = 1000                                    # X家 more frequent than this is a word (国家, 大家), no family
OURS = ("我们", "咱们", "俺们", "他们", "她们", "你们")       # our family: 我们田家的
# after X家: a member of the family (者家老二, 冶家兄弟, 黑家娃娃)
FAMILY_MEMBERS = ("兄弟", "姐妹", "弟兄", "老大", "老二", "老三", "老四", "老五", "老小", "老幺", "娃娃", "娃", "儿子",
                  "女儿", "闺女", "媳妇", "儿媳", "女婿", "男人", "女人", "老汉", "老人", "老婆", "两口子", "一家子", "一大家子",
                  "小孩", "孩子")


def _spelled_alone(text: str, region: int) -> Iterator[tuple[int, int]]:
    """A surname spelled out and set off on both sides (，木子李，; ）口天吴，; 说的是耳东陈，): the
    spelling names the person's surname, all of it is redacted."""
    for f in SPELLED_SURNAMES:
        p = text.find(f, region)
        while p >= 0:
            e = p + len(f)
            if (p == 0 or text[p - 1] in SPELL_BEFORE or text.endswith("是", 0, p)) and \
                    (e >= len(text) or text[e] in CLAUSE_END or text[e] in "（(。 "):
                yield p, e
            p = text.find(f, e)


def lone_surnames(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A surname alone that names a person (see the module docstring); any surname of the list
    after 姓 or a neighbour word, a strong one before 家 after 是/找/去 ..."""
    every = rules.surnames | rules.weak_surnames | rules.rare_surnames
    for m in re.finditer(r"(?<![百都全多大同本异半])姓[ \t\u3000]*", text):
        e = m.end()
        spelled = next((f for f in SPELLED_SURNAMES if text.startswith(f, e)), "")
        if spelled:                                      # 姓弓长张: the surname is 张 (not 弓)
            if e >= region and not _general(text, e + len(spelled)):
                yield e + len(spelled) - 1, e + len(spelled)
            continue
        sur = next((text[e:e + k] for k in (2, 1) if text[e:e + k] in every), "") or _clan(text, e, rules, lexicon) or \
            _unlisted(text, e, lexicon)
        if sur and e >= region and not _general(text, e + len(sur)):
            yield e, e + len(sur)
    yield from _spelled_alone(text, region)
    for m in CLAN.finditer(text, region):
        if m.group(1):
            yield m.span(1)                              # 老姓是瓜尔佳氏: a clan name before 氏
        elif m.group(2) in every or CLAN_PEOPLE.match(text, m.end()):
            yield m.span(2)                              # 祖上是富察氏; 是赫舍里氏的后人 (not 他是本地人氏。)
    for w in rules.neighbour_words:
        for e in [*(i + len(w) for i in find_all(text, w)), *(m.end() for m in DWELLING.finditer(text))]:
            sur = next((text[e:e + k] for k in (2, 1) if text[e:e + k] in every and text[e + k:e + k + 1] == "家"), "")
            if sur in rules.very_rare_surnames and lexicon.get(sur + "家") is not None:
                continue                                 # 楼上那家: a word, and 那 a very rare surname
            if sur and e >= region:
                yield e, e + len(sur)
    for m in re.finditer(rf"(?<=[{FAMILY_BEFORE}])([\u4e00-\u9fd5]{{1,2}})家(?=[{FAMILY_AFTER}])", text):
        sur = m.group(1)
        if sur not in rules.surnames:
            sur = sur[1:]
            if sur not in rules.surnames:
                continue
        entry = lexicon.get(sur + "家")
        if m.end(1) - len(sur) >= region and (entry is None or entry[1].startswith("nr") or entry[0] < rules.dict_max_freq):
            yield m.end(1) - len(sur), m.end(1)
    for m in re.finditer(rf"(?<=[{FAMILY_BEFORE}])([\u4e00-\u9fd5])家(?=[\u4e00-\u9fd5])", text):
        if m.group(1) in rules.surnames and lexicon.get(m.group()) is None and m.start() >= region and \
                not text.startswith(FAMILY_AFTER_WORDS, m.end()):
            yield m.span(1)                                  # 给妥家调解: X家 no word of the dictionary
    yield from _families(text, rules, lexicon, region)


def _families(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A strong surname + 家 that names a family by what is around it: families in a list
    (马家、丁家、杨家; 黑家和者家; 王家和李家, though 王家 is a word too), a member of the family
    after it (者家老二, 冶家兄弟, 宋家两兄弟), or the family as a subject after a break or 的 (汉族的李家也在).
    Outside a list X家 must be no common word (商家, 周家)."""
    heads = {}                                          # where 家 ends -> (start of the surname, surname)
    every = rules.surnames | rules.rare_surnames
    for m in FAMILY.finditer(text, region):
        sur = next((m.group(1)[-k:] for k in (2, 1) if len(m.group(1)) >= k and m.group(1)[-k:] in every), "")
        if sur:
            heads[m.end()] = (m.end(1) - len(sur), sur)
    starts = {s for s, _ in heads.values()}
    gap = re.compile(rf"[ \t\u3000]*[{FAMILY_LIST}][ \t\u3000]*")
    for e, (s, sur) in heads.items():
        after, before = gap.match(text, e), re.search(rf"家{gap.pattern}$", text[max(0, s - 4):s])
        in_list = bool(after and after.end() in starts) or bool(before and any(e2 == s - len(before.group()) + 1
                                                                              for e2 in heads))
        entry = lexicon.get(sur + "家")
        prev = text[s - 1:s]
        word = sur + "家" in FAMILY_WORDS or \
            entry is not None and entry[1] == "m" and entry[0] >= RARE_FREQ and prev in COUNTS   # 十余家 a count; 余家两口子 a family
        member = any(text.startswith(w, e) or text[e:e + 1] in COUNTS and text.startswith(w, e + 1)
                     for w in FAMILY_MEMBERS)                     # 宋家两兄弟
        kin = any(text.startswith(w, e + (text[e:e + 1] == "的")) for w in _members(rules))   # 白家的姑娘, 马家婶子
        ordinal = bool(ORDINAL_HOUSEHOLD.search(text, max(0, s - 6), s))          # 第三家田家
        subject = text[e:e + 1] in FAMILY_SUBJECT and (not prev or not HAN_JIEBA.match(prev) or prev == "的")
        subject = subject or (text.endswith(OURS, 0, s) and text[e:e + 1] == "的") or text.endswith("族", 0, s)   # 回族马家
        owner = text[e:e + 1] == "的" and (not prev or lexicon.get(prev + sur) is None) and \
            text.find("姓" + sur, max(0, s - 12), s) < 0 and not _a_place(text, sur + "家", rules)
        # 挨着王家的窗户 (not 都姓马，马家的亲戚多; nor 谭家的水 where the text names 谭家学校, 谭家居委会)
        if sur not in rules.surnames and (word or not (in_list or (member and sur not in rules.very_rare_surnames))):
            continue                                          # a rare surname's family in a list (禹家跟仝家) or with
                                                              # a member after it (保家兄弟俩)
        if s >= region and (in_list or (not word and (member or subject or owner)) or
                            ((member or kin or ordinal) and sur in rules.surnames and (entry is None or entry[0] < COMMON))):
            yield s, s + len(sur)                             # a strong surname's family by its member, though a word (白家老二)


def _a_place(text: str, family: str, rules: Rules) -> bool:
    """``family`` (谭家) is somewhere in ``text`` the start of a place's name (谭家学校, 谭家居委会, 马家湾)."""
    ends = (*rules.place_after, *LANDFORMS, "庄", "居委会", "村委会", "大院", "台子")
    return any(text.startswith(ends, i + len(family)) for i in find_all(text, family))


def _members(rules: Rules) -> tuple[str, ...]:
    """The members a family is named by (FAMILY_MEMBERS), the kinship words of two characters or
    more (姑娘, 丫头, 孙子) and the forms of address of aunts and uncles (婶子, 大婶)."""
    return (*FAMILY_MEMBERS, *(k for k in rules.kin_words if len(k) >= 2), "婶子", "大婶", "大妈", "大爷")


def _clan(text: str, e: int, rules: Rules, lexicon: Lexicon) -> str:
    """After 姓: three or four characters up to a break that jieba's dictionary does not know (原来姓
    瓜尔佳，): a clan's name (Manchu, Mongol) written without 氏."""
    for k in (4, 3):
        word = text[e:e + k]
        if len(word) == k and text[e + k:e + k + 1] in CLAUSE_END and lexicon.get(word) is None and \
                all(HAN_JIEBA.match(c) and c not in rules.not_given and c not in "什么哪谁" for c in word):
            return word
    return ""


def _unlisted(text: str, e: int, lexicon: Lexicon) -> str:
    """A surname of no list said alone after 姓 (姓禤，这个姓少见): one character that ends its clause
    and makes no word with 姓 (not 姓啥，), after no negation and not as the noun (不姓立, 这个姓少, 老姓吗);
    the lists cannot hold every rare surname."""
    c, before = text[e:e + 1], text[max(0, e - 2):e - 1]
    if c and HAN_JIEBA.match(c) and c not in UNLISTED_NOT and text[e + 1:e + 2] in CLAUSE_END and \
            lexicon.get("姓" + c) is None and not before.endswith(("不", "没", "个", "这", "那", "老")):
        return c
    return ""


UNLISTED_NOT = "啥谁甚么哪的了呢吧啊呀嘛吗多少"


def _general(text: str, e: int) -> bool:
    """After 姓X: the clause says how many share the surname (姓马的多, 姓杨的、姓丁的也多) or lists
    surnames (姓马、杨、丁的多)."""
    clause = re.split(rf"[{re.escape(CLAUSE_END)}]", text[e:e + 30], maxsplit=1)[0]
    return clause.startswith("、") or bool(GENERAL.search(clause))


def ga_names(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """A child's name with 尕 (small, in north-western speech, as 小 elsewhere) and one or two
    characters set off after it (尕蛋, 尕花, 尕老虎，); not 尕娃 (a child) nor 尕的 (a small one)."""
    p = text.find("尕", region)
    while p >= 0:
        prev = text[max(region, p - 4):p]
        named = prev.endswith(GA_BEFORE) or prev.endswith(rules.kin_words)     # 丫头尕梅嫁到海原, 我娃尕虎的
        for k in (2, 3):
            word, nxt = text[p:p + k], text[p + k:p + k + 1]
            if len(word) == k and HAN_JIEBA.match(word[1:]) and not word.startswith(GA_NOT) and \
                    not any(c in rules.not_given for c in word[1:]) and \
                    (not nxt or not HAN_JIEBA.match(nxt) or nxt in rules.glue_after or nxt in "跟和他她也都就还" or
                     (named and k == 2 and word[1] not in GA_ROLE_SURNAMES)):
                yield p, p + k
                break
        p = text.find("尕", p + 1)


def nicknames(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """Nicknames: two or three characters after 小名/外号/绰号 ... (and 叫/是 between: 小名叫狗蛋),
    or after 叫她/喊他 when a clause break follows and jieba's dictionary gives no verb, adverb,
    numeral, pronoun ... for them, nor a kinship word or a title (我们叫她麦子，; not 叫他过来，
    叫她妈妈，叫他老师; 小马 is an informal form)."""
    for words, loose in ((NICKNAME_WORDS, True), (CALL_WORDS, False)):
        for m in re.finditer("|".join(map(re.escape, words)), text):
            j = m.end()
            if loose:
                while j < len(text) and j - m.end() < 3 and text[j] in NICK_FILLER:
                    j += 1
            k = j
            while k < len(text) and k - j < 3 and HAN_JIEBA.match(text[k]) and text[k] not in rules.not_given:
                k += 1
            nxt = text[k:k + 1]
            if k - j < 2 or j < region or (nxt and HAN_JIEBA.match(nxt) and nxt not in rules.glue_after and
                                           nxt not in rules.not_given and nxt != "儿"):
                continue
            word = text[j:k]
            if not loose and (HAN_JIEBA.match(nxt or "。") or _not_nickname(word, rules, lexicon)):
                continue
            yield j, k


def _not_nickname(word: str, rules: Rules, lexicon: Lexicon) -> bool:
    entry = lexicon.get(word)
    return (entry is not None and entry[1].startswith(NOT_NICKNAME_TAGS)) or word[-1] in KIN_CHARS or \
        word in rules.titles or word in rules.kin_words or \
        (word[0] in rules.prefixes and word[1:] in rules.surnames)


def role_subjects(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A name-shaped word (a strong surname and one or two characters that jieba's dictionary
    tags as a name or does not know) at a clause's start, then 是, and a role or form of address
    ending the clause (田野是我们社区的社工，, 高峰是村里的会计。; not 车主是冶师傅): a person, even
    where the word is an ordinary one (``not_names`` included)."""
    titles = "|".join(map(re.escape, rules.titles))
    if not titles:
        return
    clause = rf"[^{re.escape(CLAUSE_END)}]{{0,12}}?(?:{titles})(?=[{re.escape(CLAUSE_END)}]|$)"
    for m in re.finditer(rf"(?:^|(?<=[{re.escape(CLAUSE_END)} \t\u3000]))([\u4e00-\u9fd5]{{2,3}}?)是{clause}", text):
        s, e = m.span(1)
        word = m.group(1)
        sur = next((word[:k] for k in (2, 1) if word[:k] in rules.surnames and len(word) > k), "")
        entry = lexicon.get(word)
        if s >= region and sur and not any(c in rules.not_given for c in word[len(sur):]) and \
                (entry is None or entry[1].startswith("nr")):
            yield s, e


def across_dots(text: str, s: int, e: int, rules: Rules) -> tuple[int, int]:
    """A name written with a middle dot (阿依古丽·买买提, 买买提·艾力): the span grows over the dot
    and the characters on its other side that are syllables of transliterated names (the
    characters of the ``given_names`` list: 买, 提, 艾, 力 …; two to six of them)."""
    if e < len(text) and text[e] in DOTS and (n := _han_run(text, e + 1, 1, rules)) >= 2:
        e += 1 + n
    if s > 1 and text[s - 1] in DOTS and (n := _han_run(text, s - 2, -1, rules)) >= 2:
        s -= 1 + n
    return s, e


def _han_run(text: str, i: int, step: int, rules: Rules) -> int:
    syllables = _syllables(rules.given_names)
    n = 0
    while n < 6 and 0 <= i < len(text) and text[i] in syllables:
        n, i = n + 1, i + step
    return n


@functools.lru_cache(maxsize=4)
def _syllables(names: frozenset[str]) -> frozenset[str]:
    return frozenset("".join(names))

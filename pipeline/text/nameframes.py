"""Names found, and words kept, by the frames of speech around them: part of step 3 (see
:mod:`pipeline.text.names`, which calls these).

Found:

- a surname that is also an everyday character (``weak`` in the surname list: 安, 明) before a
  role at a clause's start (安主任说, 明老师教): a function word (和, 于, 向) never;
- a weak surname and a given name of two characters right after a role, a title or a person noun,
  or after one and 是 (调解员向红梅来, 房东和志刚说, 主任是万家宝，): the role names the person;
- a person named to name a relative (尕蛋他奶奶), a given name alone after 让/找/问 … (让玉兰去);
- a name said again to correct it (不对，是章; 不是秀芳，是秀芬);
- the naming frame X叫Y, with a person as X (我/你/他/她, a child, a name noun: 大名叫; birth order: 老二叫) or no X
  at a clause's start (不对，叫明玉，): Y of two or three characters up to a break, each a
  character of given names or the word unknown to jieba's dictionary (狗蛋), and no verb,
  pronoun, numeral …; or a surname alone up to a break (我叫冶——; a frequent one only when the
  full name follows: 我叫柴，柴宏伟), which then makes the same
  surname + two given-name characters at a break a name (冶海军, though 海军 is a word).

Kept (the spans of :func:`not_person_spans`):

- a spelling frame A的B, B a part of A, said to spell a name (冶金的冶, 锁子的锁, 白雪公主的白雪): the word
  A is no name; B is one when a name found in the turn holds it (:func:`spelled_characters`, which
  :func:`pipeline.text.redact.find_pii` calls last, with every name of the turn: declared, found or
  the tagger's);
- a people before 族 (撒拉族, 东乡族);
- a place said with a village's or a town's suffix in the same turn (马园村 … 马园那个地方), or a
  surname + 家 + a landform (马家滩, 李家沟: villages);
- a word before a degree complement (马大哈得很, 明白得很): a predicate, not a person; and the
  other cases of :func:`kept`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from pipeline.text.namebase import per_rules
from pipeline.text.namescore import FUNCTION_AFTER, GIVEN_CHARS, ROLE_WORDS, given_like
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, Lexicon, find_all, find_han_after

BREAK = "，。；！？,;!?：:、—…～~ \t\u3000\n"
BIRTH_ORDER = ("老大", "老二", "老三", "老四", "老五", "老小", "老幺", "大的", "小的")    # 老大叫建军，老二叫建国
ONE_OF = ("一个", "一位", "有个", "有位")                 # 一个叫石磊，一个叫田野: one of some people
CALLER = "我你他她娃名"                              # before 叫: a person or a name noun (大名叫, 娃叫)
# ... or a person named by what they are (男的叫和建国, 房东叫文海燕; a title too: 经理叫, 师傅叫)
PERSON_NOUNS = ("男的", "女的", "房东", "房主", "租户", "房客", "业主", "管家", "客服", "保安", "保洁", "司机", "邻居", "同学",
                "同事", "朋友", "徒弟", "东家", "雇主", "老乡", "对门", "楼上", "楼下", "病人", "患者", "学生", "孩子", "小孩")
PARTICLES = "嘛呢吧啊呀哦"                          # after a name said alone (秀兰嘛)
NOT_A_NAME_TAGS = ("v", "d", "r", "p", "c", "u", "q", "m", "f", "a")
FUNCTION_TAGS = ("p", "c", "d", "r", "u", "m", "q")
PHRASE_HEADS = "应连全成管时"               # weak surnames that open a phrase before a title (应老师要求, 连主任都, 时任)
SPELLED = re.compile(r"([\u4e00-\u9fd5]{2,4})的(?:(?:那个|那一个)(?=[\u4e00-\u9fd5][^\u4e00-\u9fd5]|[\u4e00-\u9fd5]$))?"   # 朱红的那个朱 (one character)
                     r"([\u4e00-\u9fd5]{1,2})(?=[，。,；;！!？?、\s—”’\"」』)）]|$)")                                        # “成绩的成”
SPELL_GAP = re.compile(r"[，,、 —]{1,3}")           # between the word and its spelling, and between spellings
RADICALS = "单人旁|双人旁|三点水|两点水|提手旁|竖心旁|绞丝旁|反犬旁|耳刀旁|宝盖头|秃宝盖|四点底|走之底?|病字头"
# a name's character talked about as a character (雒这个姓少见, 亓这个字, 单念shàn; 这个惠字念xi, 人字底下一个示的
# 那个佘; 女字旁的婷, 雨字头的霖, 草字头那个莉): it gives the name back as a spelling does
CHAR_TALK = re.compile(r"([\u4e00-\u9fd5])(?=这个?(?:姓|字)|字?念|字读)"
                       r"|(?:这个|那个)([\u4e00-\u9fd5])(?=字|[，。,；;！!？?、\s]|$)"
                       r"|(?:[\u4e00-\u9fd5]字(?:旁|头|底|边|框)|(?![一二三四五六七八九十两几多每这那哪半整])[\u4e00-\u9fd5][旁头底]|" + RADICALS + r")"
                       r"的?(?:那个)?([\u4e00-\u9fd5])"
                       r"(?=字|[，。,；;！!？?、\s…—]|$)"
                       r"|([\u4e00-\u9fd5]{2})(?=这个?复姓)")        # 上官这个复姓
PEOPLE = "族"
SETTLEMENTS = "村庄屯寨镇乡堡"
SETTLED_WORDS = ("村里", "村上", "村口", "村民", "村子", "村长", "乡里", "乡长", "镇上", "镇里", "镇长", "庄稼")
LANDFORMS = "山川河沟湾岭坡梁塬峁洼滩渠岔湖集堡寨"     # and settlements named after a family: 单家集, 马家堡
PLACE_ENDS = "州省市县区镇乡村寨屯堡"
PLURAL = re.compile(r"(?:[\d两几多]|[一二三四五六七八九十百千]{0,3}[二三四五六七八九十百千])[名位个]$")   # 五名司铎
NUMERAL_CHARS = "一二三四五六七八九十"
ASPECT = "了着过"                                  # aspect particles after a verb (车占了)
DEGREE = ("得很", "得多", "得要命", "得不行", "极了")
_NAMEISH = r"[\u4e00-\u9fd5]{1,3}?"
_BREAK_AHEAD = r"(?=[，。,；;！!？?…—、\s]|$)"
CORRECTION = re.compile(rf"(?:(?:不对|哦不|说错了|记错了|错了)[，,、…—\s]*(?:不对[，,、…—\s]*)*|不是({_NAMEISH})[，,、…—\s]*)"
                        rf"是({_NAMEISH}){_BREAK_AHEAD}")
WORKS = re.compile(r"的(?:歌|诗|词|书|小说|文章|画|电影|戏|曲子|相声|小品|作品)(?![人家手师院店社馆法记包面典])")   # 王洛宾的歌
THING_NAMES = ("店名", "地名", "村名", "路名", "街名", "书名", "品名", "厂名", "校名", "队名", "群名", "菜名")   # 店名叫丝路香
PERSON_VERBS = "让叫找问请带陪喊"
KIN_ADDRESS_ENDS = "姐哥叔婶姨嫂爷奶伯"                # forms of address of kin (秀兰姐, 文军叔, 玉兰奶奶)
KIN_ADDRESS_STARTS = "姐哥叔婶姨嫂爷奶伯大阿"                    # before a given name said alone (让玉兰去)
GOING = "去来到回"
KIN_START = re.compile(f"[{KIN_ADDRESS_STARTS}]")
HAN_PAIR = re.compile(r"[\u4e00-\u9fd5]{2}")
KIN_OF = re.compile(r"[他她](?:爸爸|妈妈|爸|妈|爹|娘|奶奶|爷爷|姥姥|姥爷|外婆|外公|媳妇|老婆|老汉|"
                    r"男人|女人|哥哥|姐姐|哥|姐|弟弟|妹妹|儿子|女儿|闺女|阿大|阿妈)")


def weak_titled(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A weak surname + a title: a role title at a clause's start (安主任说), or any title (a form of
    address too: 安奶奶) after a glue character (找安书记) or a character that makes no dictionary
    word with the surname and ends no given name (那时候安书记, 送给安奶奶; not 哈正明老板), the form
    itself no word."""
    if not rules.titles or not rules.weak_surnames:
        return
    pattern = rf"(?:{'|'.join(map(re.escape, sorted(rules.weak_surnames, key=len, reverse=True)))})" \
              rf"(?:{'|'.join(map(re.escape, sorted(rules.titles, key=len, reverse=True)))})"
    for m in re.finditer(pattern, text):
        s = m.start()
        sur = next(w for w in rules.weak_surnames if m.group().startswith(w))
        entry = lexicon.get(sur)
        if s < region or (entry and entry[1].startswith(FUNCTION_TAGS)) or sur in PHRASE_HEADS \
                or _word(text[s:s + len(sur) + 1], lexicon) or _word(m.group(), lexicon) or m.group() in rules.not_names:
            continue
        role = m.group()[len(sur):] not in rules.address_titles
        before = text[s - 1:s] if s else ""
        if not before or (role and before in BREAK) or \
                (before in BREAK or before in rules.glue_before or
                 (not _word(before + sur, lexicon) and before not in GIVEN_CHARS)) and \
                not _word(text[max(0, s - 2):s + len(sur)], lexicon):      # (not 哈正明老板: a full name)
            yield s, m.end()


def weak_after_role(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A weak surname (和, 向, 万, 于 …) and two given-name characters right after a role, a title
    or a person noun of two characters or more, or after one and 是 (调解员向红梅来, 房东和志刚说,
    主任是万家宝，): the role says a person is named, which the surname alone (also an everyday
    word) does not. Not when the surname and the next character are an everyday word (和平, 向前,
    于是, 明天, 全名: :func:`_head_word`), the two characters are an everyday word (unless jieba
    knows the three as a person's name: 队长于海洋) or a role (主任和同事, 书记和主任), a character
    is no given-name character, or the name goes on (no break or function character after it)."""
    weak = [w for w in rules.weak_surnames if len(w) == 1]
    if not weak:
        return
    roles = per_rules(rules, _roles_before)
    for i in sorted(i for sur in weak for i in find_all(text, sur)):
        before = i - 1 if text[i - 1:i] == "是" else i
        given, after = text[i + 1:i + 3], text[i + 3:i + 4]
        if i < region or not text.endswith(roles, 0, before) or len(given) < 2 or not given_like(given, rules, lexicon) or \
                _head_word(text[i:i + 2], lexicon) or text.startswith(roles, i + 1) or \
                (_word(given, lexicon) and _freq(given, lexicon) >= 1000 and not _nr(text[i:i + 3], lexicon)) or \
                text[i:i + 3] in rules.not_names or \
                (after and after not in BREAK and after not in FUNCTION_AFTER):
            continue
        yield i, i + 3


def _head_word(head: str, lexicon: Lexicon) -> bool:
    """The surname and the next character are an everyday word (和平, 向前, 于是, 明天, 全名); a
    numeral's (万家 "ten thousand homes": 万 is a surname too) only when frequent."""
    return _word(head, lexicon) and (head[0] not in NUMERAL_SURNAMES or _freq(head, lexicon) >= 3000)


NUMERAL_SURNAMES = "万千百"


def _roles_before(rules: Rules) -> tuple[str, ...]:
    return tuple(w for w in (*rules.titles, *ROLE_WORDS, *PERSON_NOUNS) if len(w) > 1)


def called(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """Names in the frame X叫Y (see the module docstring)."""
    every = rules.surnames | rules.weak_surnames | rules.rare_surnames
    declared = set()
    for m in re.finditer("叫", text):
        j = m.end()
        prev = text[m.start() - 1:m.start()]
        if j < region or text.endswith(THING_NAMES, 0, m.start()) or \
                not (not prev or prev in BREAK or prev in CALLER or
                     text.endswith(ONE_OF + BIRTH_ORDER + PERSON_NOUNS + rules.titles, 0, m.start()) or
                     any(text.endswith(k, 0, m.start()) for k in rules.kin_words)):
            continue
        sur = next((text[j:j + k] for k in (2, 1) if text[j:j + k] in every), "")
        if sur and text[j + len(sur):j + len(sur) + 1] in BREAK and j + len(sur) < len(text) and \
                (_spelled(text, j + len(sur), sur) or _freq(sur, lexicon) < 1000 or
                 text.startswith(sur, j + len(sur) + 1)):      # 我叫冶——; 我叫柴，柴宏伟; not 他叫车，
            declared.add(sur)
            yield j, j + len(sur)
            continue
        k = j
        while k < len(text) and k - j < 3 and HAN_JIEBA.match(text[k]) and text[k] not in rules.not_given:
            k += 1
        nxt = text[k:k + 1]
        if k - j >= 2 and (not nxt or nxt in BREAK or nxt in PARTICLES) and \
                (_name_shaped(text[j:k], rules, lexicon) or _spelled_next(text, k, text[j:k])):
            yield j, k
    yield from _weak_named(text, rules, lexicon, region)
    for sur in declared:
        for s, e in find_han_after(text, sur, 2, 2):
            before, after = text[s - 1:s], text[e:e + 1]
            if s >= region and (not before or before in BREAK) and (not after or after in BREAK) and \
                    all(c in GIVEN_CHARS for c in text[s + len(sur):e]):
                yield s, e


def _weak_named(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A full name with a weak surname (和, 向, 文: everyday characters) where a name is said: right
    after 我是 or a person's role (网格员和丽娟，, 我是向东红，) and up to a break, its two given
    characters of given names, the three no word of jieba's dictionary."""
    for i in sorted(i for sur in rules.weak_surnames if len(sur) == 1 for i in find_all(text, sur)):   # in text order
        e = i + 3
        if i < region or e > len(text) or not (e == len(text) or text[e] in BREAK):
            continue
        given = text[i + 1:e]
        if not all(c in GIVEN_CHARS for c in given) or lexicon.get(text[i:e]) is not None or \
                _freq(given, lexicon) >= 1000:
            continue
        if text.endswith(("我是", *PERSON_NOUNS, *rules.titles), 0, i):
            yield i, e


def declared_surnames(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A surname the turn declares (姓咸的, 姓白的, 保家兄弟俩) makes that surname + one or two
    characters of given names a name where they stand set off: between breaks, before 就/是/说, or
    one after the other (咸国栋, ……白雪……, 保永福保永禄), whatever the surname's tier."""
    every = rules.surnames | rules.weak_surnames | rules.rare_surnames
    declared = {m.group(1) for m in re.finditer(r"(?<![百都全多大同本异半])姓([\u4e00-\u9fd5]{1,2})", text)
                if m.group(1) in every or m.group(1)[:1] in every}
    declared = {d if d in every else d[0] for d in declared}
    for m in re.finditer(r"([\u4e00-\u9fd5]{1,2})家(?:兄弟|姐妹|弟兄)", text):
        declared |= {m.group(1)[-k:] for k in (2, 1) if len(m.group(1)) >= k and m.group(1)[-k:] in every}
    for sur in declared:
        for start, stop in find_han_after(text, sur, 1, 2, region):
            for end in (stop, stop - 1):
                given, before, after = text[start + len(sur):end], text[start - 1:start], text[end:end + 1]
                if not given or any(c in rules.not_given or not (c in GIVEN_CHARS or lexicon.given_chars.get(c, 0) >= 30)
                                    for c in given) or given in rules.titles:
                    continue
                if (not before or before in BREAK or text.endswith(sur, 0, start - 2)) and \
                        (not after or after in BREAK or after in "就是说讲" or text.startswith(sur, end)):
                    yield start, end
                    break


def compound_alone(text: str, names: Iterable[str], rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A compound surname said alone before a break (那个诸葛，诸葛明亮) when a name found in the turn
    starts with it: the person, named by the surname; not when a famous bearer of the dictionary
    spells it (司马光砸缸那个司马)."""
    every = rules.surnames | rules.rare_surnames
    for sur in {n[:2] for n in names if len(n) > 2 and n[:2] in every}:
        if any(_tag(text[s:e], lexicon).startswith("nr") for s, e in find_han_after(text, sur, 1, 1)):
            continue
        for s in find_all(text, sur):
            e = s + len(sur)
            if s >= region and (e == len(text) or text[e] in BREAK):
                yield s, e


def bare_given(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A given name said alone: two characters of given names that are no word of jieba's
    dictionary, at a clause's start before a particle or 说/讲 (秀兰嘛去了, 建英说), or after a verb
    that takes a person (让, 叫, 找, 问 ...) at a clause's start and before a verb of going or a
    break (让玉兰去接, 你找春燕，); anywhere before a kinship form of address (:func:`kin_given`)."""
    yield from kin_given(text, rules, lexicon, region)
    for m in HAN_PAIR.finditer(text):                    # where it stands tested first (cheap), the word after
        s, e = m.span()
        if s < region:
            continue
        if not (((s == 0 or text[s - 1] in BREAK) and (text[e:e + 1] in PARTICLES or text.startswith(("说", "讲"), e))) or
                (text[s - 1:s] in PERSON_VERBS and (s < 2 or text[s - 2] in BREAK or text[s - 2] in "那就你我他她") and
                 (e >= len(text) or text[e] in BREAK or text[e] in GOING))):
            continue
        word = m.group()
        if lexicon.get(word) is None and word[0] not in rules.surnames and word[0] not in rules.prefixes and \
                all(c in GIVEN_CHARS for c in word):
            yield s, e


def kin_given(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """Given names before a kinship form of address (秀兰姐一个人供, 文军叔的卡, 春梅婶子教我们)."""
    kin_address = _kin_address(rules)
    for m in KIN_START.finditer(text, max(region + 2, 2)):
        e = m.start()
        if _given_before_kin(text, e - 2, e, kin_address, rules, lexicon):
            yield e - 2, e


def kin_given_at(text: str, s: int, rules: Rules, lexicon: Lexicon) -> bool:
    """An informal form at ``s`` (兰姐) is the end of a given name before a kinship form of address (秀兰姐)."""
    return s >= 1 and _given_before_kin(text, s - 1, s + 1, _kin_address(rules), rules, lexicon)


def _kin_address(rules: Rules) -> tuple[str, ...]:
    return tuple(t for t in rules.address_titles if t in rules.kin_words or t[-1] in KIN_ADDRESS_ENDS)


def _given_before_kin(text: str, s: int, e: int, kin_address: tuple[str, ...], rules: Rules, lexicon: Lexicon) -> bool:
    """Two characters of given names before a kinship form of address (秀兰姐, 文军叔, 春梅婶子, 玉兰奶奶):
    no everyday word of jieba's dictionary (a name or a rare word only), none of it a prefix or a
    numeral, making no word with the character before it; the form of address ends a word."""
    word = text[s:e]
    title = next((t for t in sorted(kin_address, key=len, reverse=True) if text.startswith(t, e)), "")
    if not title or word[0] in rules.prefixes or not all(c in GIVEN_CHARS for c in word) or not lexicon.name_like(word) or \
            any(text.startswith(t, s + 1) for t in rules.titles):
        return False                                     # (我和阿姨说: 阿姨 is the form of address)
    entry = lexicon.get(word)
    if entry is not None and not entry[1].startswith("nr") and entry[0] >= 10 or word in rules.kin_words:
        return False
    before, after = text[s - 1:s], text[e + len(title):e + len(title) + 1]
    if before and HAN_JIEBA.match(before) and before not in BREAK and before not in rules.glue_before and \
            (_freq(before + word[0], lexicon) >= 10 or _freq(text[s - 1:e], lexicon) > 0):
        return False
    return not (after and HAN_JIEBA.match(after) and _freq(title[-1] + after, lexicon) >= 1000)


def spelled_words(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """A word spelled out character by character right after it (康宁——健康的康，安宁的宁——; 白玉梅，
    白天的白，玉石的玉，梅花的梅): two spellings or more in a row, each character of its example
    word, that together make the word before them: a name (people spell names, not words)."""
    items = [m for m in SPELLED.finditer(text, region) if m.group(2) in m.group(1)]
    k = 0
    while k < len(items):
        run = [items[k]]
        while k + len(run) < len(items) and SPELL_GAP.fullmatch(text, run[-1].end(), items[k + len(run)].start()):
            run.append(items[k + len(run)])
        k += len(run)
        word = "".join(m.group(2) for m in run)
        end = run[0].start()
        while end > max(region, run[0].start() - 3) and text[end - 1] in "，,、 —":
            end -= 1
        if len(run) >= 2 and end - len(word) >= region and text.endswith(word, 0, end) and \
                all(c not in rules.not_given for c in word):
            yield end - len(word), end


def spelled_characters(text: str, names: set[str], region: int) -> Iterator[tuple[int, int]]:
    """The characters of a name spelled out (我叫马秀兰，马上的马，秀气的秀; 姓时，时间的时; 锁，锁门的锁):
    B of a spelling frame A的B (B a part of A) that is part of a name found in the turn, and the
    same B said alone before A (锁，锁门的锁); and a name's character talked about as one
    (:data:`CHAR_TALK`: 亓这个字, 这个惠字念xi, 女字旁的婷). The frame's word A stays; B gives the
    name back if it is left in the text."""
    for m in SPELLED.finditer(text, region):
        b = m.group(2)
        if b not in m.group(1) or not any(b in n for n in names):
            continue
        yield m.span(2)
        a = m.start(1)
        gap = len(text[:a]) - len(text[:a].rstrip("，,、 —"))
        s = a - gap - len(b)
        if gap and s >= region and text[s:a - gap] == b and (s == 0 or text[s - 1] in BREAK):
            yield s, s + len(b)
    for m in CHAR_TALK.finditer(text, region):
        g = next(k for k in (1, 2, 3, 4) if m.group(k))
        if any(m.group(g) in n for n in names):
            yield m.span(g)


def spells(text: str, s: int, e: int) -> bool:
    """``text[s:e]`` is the spelled part of a spelling frame, or said alone right before one
    (马上的[马]; [珍]，珍珠的珍)."""
    return any(m.span(2) == (s, e) or (m.group(2) == text[s:e] and s < m.start() <= e + 3) and m.group(2) in m.group(1)
               for m in SPELLED.finditer(text, max(0, s - 8), min(len(text), e + 12)))


def corrections(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A name said again to correct it (不对，是章; 哦不，是马鸣; 不是秀芳，是秀芬): after a word of
    correction and 是, a surname alone or two or three characters shaped like a name up to a break;
    in 不是X，是Y the X too when it is shaped like Y."""
    for m in CORRECTION.finditer(text, region):
        y = m.group(2)
        if not _corrected(y, rules, lexicon):
            continue
        yield m.span(2)
        x = m.group(1)
        if x and len(x) == len(y) and _corrected(x, rules, lexicon):
            yield m.span(1)


def _corrected(word: str, rules: Rules, lexicon: Lexicon) -> bool:
    every = rules.surnames | rules.weak_surnames | rules.rare_surnames
    if len(word) == 1 or word in every:
        return word in every and word not in rules.very_rare_surnames
    entry = lexicon.get(word)
    if any(c in rules.not_given for c in word) or word in rules.titles or word in rules.kin_words or \
            (entry is not None and (entry[1].startswith(NOT_A_NAME_TAGS + ("t",)) or
                                    (not entry[1].startswith("nr") and entry[0] >= 1000))):
        return False
    return word[:1] in every or word[:2] in every or all(c in GIVEN_CHARS for c in word)


def kin_of(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A person named to name a relative: a name-shaped word before 他/她 and a kinship word, at a
    clause's start (尕蛋他奶奶, 建军他爸; not 孩子他妈: an everyday word)."""
    for m in KIN_OF.finditer(text, region):
        e = m.start()
        for s in (e - 2, e - 3):
            word = text[s:e]
            if s < region or not all(HAN_JIEBA.match(c) for c in word) or \
                    (s > 0 and text[s - 1] not in BREAK and text[s - 1] not in rules.glue_before):
                continue
            entry = lexicon.get(word)
            if any(c in rules.not_given for c in word) or word in rules.titles or word in rules.kin_words or \
                    (entry is not None and not (entry[1].startswith("nr") and entry[0] < 1000)):
                continue
            if all(c in GIVEN_CHARS or lexicon.given_chars.get(c, 0) >= 30 or c in rules.surnames for c in word):
                yield s, e
                break


def families_of(text: str, surnames: set[str], lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """The family of a person found by surname in the turn (米书记 … 米家的小伙子): the surname + 家,
    when that is no word of jieba's dictionary."""
    for sur in surnames:
        for s in find_all(text, sur + "家"):
            if s >= region and lexicon.get(sur + "家") is None:
                yield s, s + len(sur)


def _name_shaped(word: str, rules: Rules, lexicon: Lexicon) -> bool:
    """Two or three characters that can be a given name or a nickname after 叫."""
    entry = lexicon.get(word)
    surname_nr = word[0] in rules.surnames and entry is not None and entry[1].startswith("nr")
    if word in rules.titles or word in rules.kin_words or (word in rules.not_names and not surname_nr) or \
            word[0] in rules.prefixes:
        return False                                 # 叫田野: a word of not_names, yet a surname + a name of jieba's
    if entry is not None and entry[1].startswith(("a", "ns", "nz")) and all(c in GIVEN_CHARS for c in word):
        return True                                  # 叫浩然: an adjective of name characters; 叫建国, 叫永福: places named like people
    if entry is not None and (entry[1].startswith(NOT_A_NAME_TAGS) or (entry[0] >= 1000 and not entry[1].startswith("nr"))):
        return False
    return entry is None or surname_nr or all(c in GIVEN_CHARS or lexicon.given_chars.get(c, 0) >= 30 for c in word)


def _spelled_next(text: str, e: int, word: str) -> bool:
    """``word`` (ending at ``e``) is spelled out right after it, even a word of the dictionary (我叫黄河，黄河的
    黄河; 叫白云，白色的白): people spell a name, not a word."""
    m = re.match(r"[，,、 —]{1,3}([\u4e00-\u9fd5]{1,4})的(?:那个)?([\u4e00-\u9fd5]{1,3})", text[e:e + 16])
    return bool(m) and m.group(2) in (word, word[0]) and m.group(2) in m.group(1)


def _spelled(text: str, e: int, sur: str) -> bool:
    """A spelling of ``sur`` follows within the sentence (我叫冶——冶金的冶)."""
    return any(m.group(2) == sur for m in SPELLED.finditer(text[e:e + 16]))


def _nr(word: str, lexicon: Lexicon) -> bool:
    entry = lexicon.get(word)
    return entry is not None and entry[1].startswith("nr")


def _freq(word: str, lexicon: Lexicon) -> int:
    entry = lexicon.get(word)
    return entry[0] if entry else 0


def _word(word: str, lexicon: Lexicon) -> bool:
    entry = lexicon.get(word)
    return entry is not None and entry[0] >= 10 and not entry[1].startswith("nr")


def not_person_spans(text: str, rules: Rules) -> list[tuple[int, int]]:
    """Spans where no name is (see the module docstring): spelling frames, peoples, places."""
    out: list[tuple[int, int]] = []
    for m in SPELLED.finditer(text):
        if m.group(2) in m.group(1):
            out += [m.span(1), m.span(2)]
    for m in re.finditer(rf"[{SETTLEMENTS}]", text):
        p = m.start()
        if text[p:p + 2] in SETTLED_WORDS:
            continue                                     # 马建国村里: his village, not a village's name
        for k in (3, 2):
            stem = text[p - k:p] if p >= k else ""
            if stem and stem[0] in rules.surnames | rules.rare_surnames and all(HAN_JIEBA.match(c) for c in stem):
                out += [(i, i + len(stem)) for i in find_all(text, stem)]
                break
    for m in re.finditer(rf"[\u4e00-\u9fd5]家[{LANDFORMS}]", text):
        if m.group()[0] in rules.surnames or m.group()[0] in rules.weak_surnames or m.group()[0] in rules.rare_surnames:
            out.append(m.span())
    return out


def kept(text: str, s: int, e: int, spans: list[tuple[int, int]], rules: Rules, lexicon: Lexicon,
         given: bool = False) -> bool:
    """``text[s:e]`` is no person's name: it lies in a span of :func:`not_person_spans`; a
    people's 族 or a degree complement follows it (撒拉族, 马大哈得很); a work of its bearer follows it
    (唱王洛宾的歌: an author, a public figure, not a person of the interview); it ends in a place's
    suffix (吴忠市, 高雄州); a counted plural is before it (五名司铎); a place or a thing of
    jieba's dictionary goes on past it (马来西 + 亚); or its given name is a numeral with no
    naming word before it (念高二; not 叫张三, nor ``given``: the given name of a full name found,
    马哈三 … 哈三)."""
    word = text[s:e]
    if any(ks <= s and e <= ke for ks, ke in spans) or text.startswith(PEOPLE, e) or bool(WORKS.match(text, e)) or \
            any(text.startswith(d, e) for d in DEGREE) or _everyday_frame(text, s, e, rules, lexicon):
        return True
    named = any(text.endswith(t, 0, s) for t in rules.strong_triggers)
    if len(word) >= 3 and word[-1] in PLACE_ENDS and not (named and _tag(word[-2:], lexicon).startswith("ns")) or \
            (len(word) >= 2 and PLURAL.search(text, 0, s)):
        return True                                      # 吴忠市; not 叫李兰州 (兰州, a place, named after it)
    if len(word) >= 2 and any((entry := lexicon.get(text[s:e + m])) and entry[1].startswith(("ns", "nz", "n")) and not entry[1].startswith("nr")
           and entry[0] >= 10 and e + m <= len(text) for m in (1, 2)):
        return True
    before = text[max(0, s - 4):s]
    return len(word) == 2 and word[1] in NUMERAL_CHARS and not given and \
        not any(before.endswith(w) for w in (*rules.strong_triggers, *rules.kin_words)) and \
        not any(text.startswith(t, e) for t in rules.titles)


def _tag(word: str, lexicon: Lexicon) -> str:
    entry = lexicon.get(word)
    return entry[1] if entry is not None and entry[0] >= 10 else ""


def _everyday_frame(text: str, s: int, e: int, rules: Rules, lexicon: Lexicon) -> bool:
    """Frames of everyday speech that a name cannot stand in: a reduplicated word (马马虎虎: AABB), a
    place of the dictionary and a verb (兰州生的), a surname and a verb before an aspect particle
    (车占了), and a candidate that goes on into a word of the dictionary before more text (马兰花志愿
    服务队: 马兰花 names the team), unless a naming word is before it."""
    word = text[s:e]
    if len(word) >= 2 and word[0] == word[1] and HAN_JIEBA.match(text[s + 2:s + 3] or "。") and \
            text[s + 2:s + 3] == text[s + 3:s + 4]:
        return True                                      # (not 虎虎——: a dash)
    if len(word) < 2 or any(text.endswith(t, 0, s) for t in (*rules.strong_triggers, *rules.kin_words)):
        return False                                     # 叫马兰, 我女婿吴国庆
    if len(word) == 3 and _tag(word[:2], lexicon).startswith("ns") and _tag(word[2], lexicon).startswith("v"):
        return True
    if len(word) == 2 and text[e:e + 1] in ASPECT and _tag(word[1], lexicon).startswith("v") and \
            lexicon.get(word) is None:
        return True
    return any(_tag(text[s:e + m], lexicon) and HAN_JIEBA.match(text[e + m:e + m + 1] or "。") for m in (1, 2))


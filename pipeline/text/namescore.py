"""Name-shaped windows scored by several signals: part of step 3 (see :mod:`pipeline.text.names`,
which adds the windows this module accepts to its other candidates).

At every place where a surname starts (single or compound, of ``surnames.txt``; a rare one with
a handicap, a weak one never), the windows of the surname and one or two characters (written
together, or set off by spaces: 马 强) are scored by signals that do not depend on how jieba cut
the text (docs/redaction.md, "Names"):

- **the given-name characters**: how often each is in Chinese given names (:data:`GIVEN_CHARS`,
  and the given names of jieba's dictionary's three-character names, :attr:`Lexicon.given_chars`);
  a character that is in neither counts against;
- **jieba's dictionary**: the window or its given name tagged ``nr`` (a name) counts for it; the
  window, its given name or the surname and the next character being an everyday word counts
  against (海军, 施工方), as does a window that a dictionary word continues (哈密瓜: 哈密 + 瓜)
  or whose surname ends the word before it (上海老师);
- **the left context**: the start of a clause (punctuation, a space, 、), a time word (周一李娜),
  a role, occupation or kinship word (志愿者上官婉清, 孙子纳小龙), a naming word (叫 counts
  twice); a place word (嫁到吴忠) counts against;
- **the right context** (a window of one given character must end at one): punctuation, a role or form of address, a person word (老人, 家, 说,
  那边, 他们) or a function character (是, 在, 也 ...).

A window is a name when its score reaches :data:`THRESHOLD` (tuned on the labelled set's tuning
parts, never on a blind part). Of the two windows at one place the higher score wins, the longer
on a tie, so a name is taken whole (纳小龙, not 纳小 and a lone 龙).
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.text.namebase import per_rules, word_lists
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, WORD_CHAR, Lexicon

THRESHOLD = 2.5
RARE_FREQ, COMMON_FREQ = 10, 1000

# Characters frequent in Chinese given names, written from knowledge of the published lists of
# the commonest given names and given-name characters (the Ministry of Public Security's yearly
# 全国姓名报告, 2019-2021, and the commonest names of the 1982-2000 censuses: 伟 芳 娜 敏 静 秀英
# 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 ...), with the characters of rural and
# Hui naming in the north-west (福 贵 财 花 梅 兰 莲 凤 燕 海 山 林 成 龙 虎 忠 孝 有 娃 尕).
GIVEN_CHARS = frozenset(
    "伟芳娜敏静秀英丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红鹏飞辉宇浩然欣怡梓涵子轩诗雨佳琪晨阳"
    "博文思睿嘉俊泽凯瑞晓婷雪琳倩慧颖婉清雯璐瑶琦蕾莉莎妍媛婧娅薇蓉菲芬芝兰梅莲凤燕鹃凤霞彩云春"
    "夏秋冬梅竹松柏林森峰岭山海波涛江河源泉川洪鸿亮光明辉耀晖昊天宇宙乾坤志远鹏程宏伟建国庆民"
    "华中兴旺福贵财富寿禄喜乐安康宁静和平顺利成功德仁义礼智信忠孝勤俭廉正直刚毅勇武斌彬文武"
    "学军兵卫东南西北红星金银铁石玉珠宝琴书画诗棋生长发永久世代传家振新荣昌盛茂林树桂枝叶花"
    "芳菊荷莲蓉萱蕊茜莹晶璇瑾瑜璟琛琨瑛珍珊玲琼瑞祥吉庆嘉善良美丽秀娟婵娥娇媚姗姝娴婕妮妹娣"
    "英雄豪杰俊彦贤达通晓聪颖敏捷锐锋铭钧鑫鑫淼森焱垚磊晶品宸皓昕晟曦煜烨炜炎焕熙灿亮晶明"
    "志强国栋梁材才能宏图骏驰腾跃翔鹤鹰雁燕莺凰麟龙虎豹彪凯旋胜利军民兵政治保全昊晗涵函瀚浩"
    "洋清澈淑贞洁纯真诚实勤奋进步先锋卫红小丫妞娃尕蛋狗柱根宝来喜旺全满仓存有福贵祥瑞德发财"
    "海燕霞梅兰芳桂秀英玉珍凤花莲丽娟红艳萍琴云香翠巧霖露雯静怡悦欣馨佩婷蓓蕾雅璐丹青紫晴岚"
    "冰雪霜月星辰阳光宇航帆舟江涛波澜洲岳峻岩嵩崇尚昂扬奇伦磊毅恒永久远长乐天佑祐福禄寿康宁"
    "阿依莎丽娜古买提尔萨穆哈吉克力木汗别江月"
    "芹爱素仙廷姣"          # women's names of the 1940s-1970s (淑芹, 爱兰, 素珍, 秀仙, 满姣), and 廷 (廷贵)
)
# The thirty commonest surnames (the 2020 census's ranking), Hui surnames of Ningxia besides.
TOP_SURNAMES = frozenset("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹") | frozenset("丁海纳哈拜冶虎穆锁妥撒")
TIME_WORDS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日", "周天", "星期一", "星期二", "星期三", "星期四",
              "星期五", "星期六", "星期天", "星期日", "礼拜一", "礼拜二", "礼拜三", "礼拜四", "礼拜五", "礼拜六",
              "礼拜天", "今天", "昨天", "明天", "前天", "后天", "上午", "下午", "中午", "晚上", "早上", "那天", "当天",
              "去年", "今年", "后来", "然后", "以前", "最近", "当时", "平时", "每次", "那会")
ROLE_WORDS = ("志愿者", "网格员", "楼栋长", "楼长", "社工", "干部", "村民", "居民", "党员", "老人", "大夫", "司机", "保安",
              "保洁", "厨师", "老板", "会计", "出纳", "委员", "代表", "同事", "同学", "邻居", "朋友", "亲戚", "师傅",
              "负责人", "联系人", "工作人员", "管理员", "户主", "低保户", "贫困户", "学生", "老乡", "网格",
              "调解员", "候选人", "对接人", "房东", "领队")
PERSON_AFTER = ("老人", "老汉", "大娘", "大伯", "家", "说", "讲", "那边", "这边", "那里", "这里", "他们", "她们", "们",
                "自己", "本人", "一家", "两口子", "夫妇", "同志")
# after a name: a noun or pronoun for the same person (马金花老人家里, 者建军这人, 王芳她); these
# outweigh a place word before the name (去马金花老人家里: the place is the person's home)
PERSON_NOUNS = ("老人家", "老人", "老汉", "老太太", "这人", "这个人", "那人", "那个人", "此人", "本人", "他", "她")
NOT_PERSON = ("老人院", "老人节", "老人会", "老人协会", "他们村", "她们村", "他人", "她人")
LIST_ITEM = re.compile(r"(?:^|[ \t\u3000、，,：:])([\u4e00-\u9fd5]{2,4})[ \t\u3000、]+$")     # 马强 | 海如意
ROSTER_NUMBER = re.compile(r"[\d\uff10-\uff19]{7,}")          # a phone or ID number right after a name (a roster)
HAVE_ONE = ("有个", "有位", "有一个", "有一位", "叫做", "名叫", "一个", "一位", "这个", "那个")   # 一个马强一个马军
NEXT_ONE = ("一个", "一位")                            # 一个马强一个马军: the next of a pair
# ... and their Cantonese forms (喺 at, 係 is, 嘅 of, 咗 done, 畀 give: 佢个女梁婉仪喺加拿大)
FUNCTION_AFTER = "是在也都就还又和跟给的了把被让请找问带陪住来去办留说讲帮管打送喺係嘅咗畀，。、；：！？,.;:!? \t\u3000"
TIME_LONGER = tuple(tuple(t for t in TIME_WORDS if len(t) > n) for n in range(max(map(len, TIME_WORDS)) + 1))
SPACED = re.compile(r"[ \t\u3000]+([\u4e00-\u9fd5])(?:[ \t\u3000]*([\u4e00-\u9fd5]))?")
SPACED_ON = re.compile(r"[ \t\u3000]+[\u4e00-\u9fd5]")
HAN_RUN = re.compile(r"[\u4e00-\u9fd5]+")
GAPS = frozenset(" \t\u3000")


def _lists(rules: Rules) -> tuple[tuple[str, ...], ...]:
    """The word lists of :func:`_left` and :func:`_right`, joined once per rules object."""
    return ((*rules.name_triggers, *HAVE_ONE), (*TIME_WORDS, *ROLE_WORDS, *rules.kin_words, *rules.titles),
            (*rules.titles, *PERSON_AFTER, *TIME_WORDS, *NEXT_ONE))


def scored_windows(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """The windows of ``text`` from ``region`` on that score at least :data:`THRESHOLD`, one per
    place (the best of its windows), left to right, none overlapping the one before."""
    n, i = len(text), region
    first = word_lists(rules).surname_first
    while i < n:
        m = first.search(text, i)                    # no window starts before a surname's first character
        if m is None:
            return
        i = m.start()
        k = 2 if text[i:i + 2] in rules.surnames or text[i:i + 2] in rules.rare_surnames else \
            1 if text[i] in rules.surnames or text[i] in rules.rare_surnames else 0
        best = None
        if k:
            for g in (2, 1):
                for end, given in _windows(text, i, k, g):
                    sc = window_score(text, i, k, end, given, rules, lexicon)
                    if sc >= THRESHOLD and (best is None or sc > best[0]):
                        best = (sc, end)
        if best:
            yield i, best[1]
            i = best[1]
        else:
            i += 1


def _windows(text: str, i: int, k: int, g: int) -> Iterator[tuple[int, str]]:
    """The ends and given names of the windows of ``g`` given characters after the surname at
    ``i``: written together, or with spaces after the surname and between the characters."""
    j = i + k
    if len(text[j:j + g]) == g and HAN_RUN.fullmatch(text, j, j + g):
        yield j + g, text[j:j + g]
    m = SPACED.match(text[j:j + 8]) if text[j:j + 1] in GAPS else None
    if m and g == (2 if m.group(2) else 1):
        yield j + m.end(), m.group(1) + (m.group(2) or "")
    elif m and g == 1 and m.group(2):
        yield j + m.end(1), m.group(1)


def _surname_weight(sur: str, given: str, weights: list[float], rules: Rules, lexicon: Lexicon) -> float:
    """A common surname counts for the window, a rare one (拓, 禹) against it: less so before a
    given name of two characters common in names that is no word of jieba's dictionary (拓文彬);
    a very rare one (訾, 鲜: the tier of the surname list) still more: only a strong context lifts it."""
    if sur in rules.very_rare_surnames:
        return -3.0
    if sur in rules.rare_surnames:
        return -1.0 if len(given) == 2 and min(weights) == 1.0 and lexicon.get(given) is None else -2.0
    return 0.5 if sur in TOP_SURNAMES else 0.0


def given_like(given: str, rules: Rules, lexicon: Lexicon) -> bool:
    """Every character of ``given`` is one of given names (:data:`GIVEN_CHARS`, or in 30 or more
    given names of jieba's dictionary) and none is ``not_given``."""
    return bool(given) and all(HAN_JIEBA.match(c) and c not in rules.not_given and
                               (c in GIVEN_CHARS or lexicon.given_chars.get(c, 0) >= 30) for c in given)


def _given_weight(c: str, lexicon: Lexicon) -> float:
    count = lexicon.given_chars.get(c, 0)
    if c in GIVEN_CHARS or count >= 30:
        return 1.0
    return 0.3 if count >= 5 else -1.0


def window_score(text: str, i: int, k: int, e: int, given: str, rules: Rules, lexicon: Lexicon) -> float:
    """The score of ``text[i:e]`` as a name: a surname of ``k`` characters at ``i`` and ``given``
    (the given name without spaces); -9 when it cannot be one."""
    sur = text[i:i + k]
    word = sur + given
    spaced = e - i > len(word)
    if any(c in rules.not_given or (c in rules.stopwords and c not in GIVEN_CHARS) for c in given) or \
            given[-1] in rules.not_final or word in rules.not_names or \
            word in lexicon.user or given[-1] in rules.glue_after:
        return -9.0
    if e > i + k and text.startswith(word_lists(rules).longer(0), i + k) or \
            any(text.startswith(rules.titles, j) for j in range(i + k + 1, e)):
        return -9.0                                           # a title starts inside the window (丁香阿姨: not 丁香阿)
    if text.startswith(TIME_LONGER[k] if k < len(TIME_LONGER) else (), i):
        return -9.0                                           # a time word (周四马 强: the name is 马 强)
    if spaced and len(given) == 2 and text[e - 2] not in " \t\u3000" and \
            (given in rules.titles or _freq(given, lexicon) >= COMMON_FREQ):
        return -9.0                                           # 王 先生: an everyday word written together
    if spaced and SPACED_ON.match(text[e:e + 3]):
        return -9.0                                           # more spaced characters follow: another finder's case
    right = _right(text, e, rules)
    if len(given) == 1 and not right:
        return -9.0                                           # the name may go on (秦月香): a short window ends at a boundary
    weights = [_given_weight(c, lexicon) for c in given]
    score = _surname_weight(sur, given, weights, rules, lexicon)
    score += 1.5 * sum(weights) / len(given)
    score += _dictionary(text, i, k, e, sur, given, word, spaced, rules, lexicon)
    score += _left(text, i, e, rules)
    return score + right


def _dictionary(text: str, i: int, k: int, e: int, sur: str, given: str, word: str, spaced: bool, rules: Rules,
                lexicon: Lexicon) -> float:
    """jieba's dictionary: for a name tagged nr, against everyday words in and around the window."""
    score = 0.0
    entry = lexicon.get(word)
    if entry is not None and entry[1].startswith("nr") and entry[0] < rules.dict_max_freq:
        score += 1.0                                          # a rare name of jieba's dictionary
    elif entry is not None and not spaced:
        score -= (1.5 if entry[1].startswith("nr") else 3.0) if _ordinary(entry, rules) else 1.0
    given_entry = lexicon.get(given) if len(given) > 1 else None
    if given_entry is not None and not given_entry[1].startswith(("ns", "nz")) and given[0] != "小":
        # 建国, 永福: places named like people; 小龙, 小梅: 小 + a name character
        if given_entry[1].startswith("nr") and given_entry[0] < rules.dict_max_freq:
            score += 0.5
        elif _ordinary(given_entry, rules):
            score -= 2.0 if given_entry[0] >= COMMON_FREQ else 1.0    # 海军, 金花: a name only with context
    head = lexicon.get(sur + given[0])
    if len(word) > len(sur) + 1 and head is not None and _ordinary(head, rules) and not spaced:
        score -= 2.0 if head[0] >= COMMON_FREQ else 1.0       # 杜鹃花, 施工方
    nxt = text[e:e + 2]
    if not spaced and nxt[:1] and HAN_JIEBA.match(nxt[:1]):
        if any(_freq(word + nxt[:m], lexicon) >= RARE_FREQ for m in (1, 2)) or _freq(given[-1] + nxt[:1], lexicon) >= COMMON_FREQ:
            score -= 3.0                                      # a longer word goes on (哈密瓜), or the last character starts one
    p = text[i - 1:i]
    if p and HAN_JIEBA.match(p) and p not in rules.glue_before and not _word_before(text, i, rules):
        joined = _freq(p + sur, lexicon)
        left = _freq(text[i - 2:i], lexicon) if i >= 2 and HAN_JIEBA.match(text[i - 2]) else 0
        if joined >= RARE_FREQ and left <= joined:
            score -= 4.0                                      # the surname ends the word before it (上海老师)
    if p and p in "这那一两几每某" and sur in rules.measure_words and not after_time_word(text, i):
        score -= 9.0                                          # 这张卡
    return score


def _word_before(text: str, i: int, rules: Rules) -> bool:
    """A title or role word of two characters or more ends right before ``i`` (队长沙建国: 队长 is
    the word, not 长沙), so the surname does not end the word before it."""
    return text.endswith(per_rules(rules, _long_roles), 0, i)


def _long_roles(rules: Rules) -> tuple[str, ...]:
    return tuple(w for w in (*rules.titles, *ROLE_WORDS) if len(w) > 1)


def _ordinary(entry: tuple[int, str], rules: Rules) -> bool:
    """A dictionary entry of an everyday word: not tagged nr and not very rare, or tagged nr but
    frequent (卫星, 陆军, 柳树: jieba's dictionary tags many words nr)."""
    return entry[0] >= (rules.dict_max_freq if entry[1].startswith("nr") else RARE_FREQ)


def _left(text: str, i: int, e: int, rules: Rules) -> float:
    before = text[max(0, i - 6):i]
    stripped = before.rstrip(" \t\u3000")
    score = 0.0
    if not before or not WORD_CHAR.match(before[-1]) or before[-1] in "、":
        score += 1.0                                          # the start of a clause or of a list's item
    naming, context, _ = per_rules(rules, _lists)
    if stripped.endswith(word_lists(rules).strong_triggers):
        score += 2.0
    elif stripped.endswith(naming):
        score += 1.0
    if stripped.endswith(context):
        score += 1.0                                          # 周一李娜, 志愿者上官婉清, 孙子纳小龙
        if e - i >= 3 and before.endswith(rules.kin_words):
            score += 1.0                                      # 我女婿吴国庆: a kinship word right before a full name
    elif _after_a_name(text[max(0, i - 8):i], rules):
        score += 1.0                                          # 马强 海如意: the next name of a list
    if stripped.endswith(rules.place_words) and not text.startswith(PERSON_NOUNS, e):
        score -= 1.0                                          # 嫁到吴忠 (not 去马金花老人家里)
    return score


def _right(text: str, e: int, rules: Rules) -> float:
    nxt = text[e:e + 1]
    if not nxt or nxt in FUNCTION_AFTER or not WORD_CHAR.match(nxt) or ROSTER_NUMBER.match(text, e):
        return 1.0 + text.startswith(rules.person_after, e)   # or a phone: 李娜 and her mobile (a roster)
    if text.startswith(PERSON_NOUNS, e) and not text.startswith(NOT_PERSON, e):
        return 1.5                                            # 马金花老人, 者建军这人: a noun for the person
    if text.startswith(per_rules(rules, _lists)[2], e):
        return 1.0
    return 0.0


def _after_a_name(before: str, rules: Rules) -> bool:
    """``before`` ends with a name-shaped word (a surname and one or two characters, set off
    before it) and a space or 、: the window is the next item of a list of names."""
    m = LIST_ITEM.search(before)
    return bool(m) and any(m.group(1)[:k] in rules.surnames for k in (1, 2))


def after_time_word(text: str, i: int) -> bool:
    """``text[i]`` follows a time word (周六张伟: 六 is no numeral before a measure word there)."""
    return text.endswith(TIME_WORDS, 0, i)


def _freq(word: str, lexicon: Lexicon) -> int:
    entry = lexicon.get(word)
    return entry[0] if entry else 0

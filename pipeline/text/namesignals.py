"""Name signals that do not depend on jieba's word boundaries (part of :func:`pipeline.text.names.find_names`):
spaced names (马 玉 兰), given names of the ``given_names`` list (阿依莎, 马穆萨), given names
after a kinship word (我闺女玉兰; a full name there: 她儿子路建军), names in pinyin (MA XIULAN, Ma Xiulan) and 阿 + one
character of given names said as a name (阿强跟阿珍), a child's pet name doubled (丫丫, 婷婷)."""
from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.text.namebase import COMMON_FREQ, OPEN_FIRST, RARE_FREQ, _after_trigger, _common, _given_ok, _is_break, _rare_head, _surname_of
from pipeline.text.namescore import GIVEN_CHARS, ROLE_WORDS
from pipeline.text.rules import Rules
from pipeline.text.segment import HAN_JIEBA, WORD_CHAR, Lexicon

# pinyin syllables (initial + final) and the commonest surnames in pinyin (the thirty commonest and
# the Hui surnames of Ningxia): a surname and a given name of one or two syllables, as a passport or a
# form writes them (MA XIULAN, Ma Xiu Lan, Xiulan MA)
_PY_INITIAL = r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
_PY_FINAL = (r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|üan|van|ai|ao|an|ei|en|er|ia|ie|in|iu|ou|ua|uo|ui|un|ue|üe|ve"
             r"|a|e|i|o|u|ü|v)")
_PY = rf"{_PY_INITIAL}{_PY_FINAL}"
PINYIN_SURNAMES = ("wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma", "zhu",
                   "hu", "guo", "he", "gao", "lin", "luo", "zheng", "liang", "xie", "song", "tang", "han", "feng", "deng",
                   "cao", "ding", "na", "ha", "bai", "ye", "hai", "mu", "suo", "tuo", "sa", "yu", "jin", "tian", "bao", "su")
PINYIN_NAME = re.compile(
    rf"(?<![A-Za-z])(?:(?P<sur>{'|'.join(PINYIN_SURNAMES)})[ \t]+(?P<given>{_PY}(?:[ \t\-]?{_PY})?)"
    rf"|(?P<given2>{_PY}(?:[ \t\-]?{_PY})?)[ \t]+(?P<sur2>{'|'.join(PINYIN_SURNAMES)}))(?![A-Za-z])", re.I)
PINYIN_BEFORE = ("名字是", "名字叫", "叫", "拼音", "拼音是", "护照上", "英文名", "签名", "署名", "姓名", "写的是", "：", ":")
A_NICK_NOT = frozenset("大小老妈爸爹哥姐弟妹叔姨舅婶嫂伯姑爷奶娘公婆里拉訇")   # 阿大 (a father), 阿姨, 阿訇 …
PINYIN_GAP = re.compile(r"[A-Za-z][ \t]+[A-Za-z]")   # what every PINYIN_NAME holds: letters, a space, letters
SPACED_HAN = re.compile(r"[\u4e00-\u9fd5][ \t\u3000]+[\u4e00-\u9fd5]")
ROSTER_SEX = re.compile(r"[ \t\u3000]+[男女](?:[ \t\u3000]|$)")   # a roster's row: 杨 建 军 男 汉 182…


def _spaced_names(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A name written with a space after the surname: 马 玉 兰, 王 子 轩 (each character alone),
    马 福祥 (the given name together: no ordinary word, no role word), or a surname and one
    character after a naming word (叫 李 明). The name ends where the spacing ends (王 建 国他们,
    田 秀 珍老人家), unless more spaced characters follow (a text spaced throughout); a given name
    written together must be followed by a break, a function character, a role or a person word
    (马 福祥家, 赵 淑芬，; not 马 福祥路)."""
    if rules.spaced_re is None:
        return
    gap = " \t\u3000"
    for m in rules.spaced_re.finditer(text, region):
        start, end = m.span()
        if text[end - 2] not in gap and (text[end - 1] in rules.not_given or text[end - 1] in rules.glue_after):
            end -= 1                                          # 马 悦也: the name is 马 悦
        sex = re.search(r"[ \t\u3000]+[男女]$", text[start:end])
        if sex and ROSTER_SEX.match(text, end - len(sex.group())) and len(re.sub(r"\s+", "", text[start:end])) == 4:
            end -= len(sex.group())                           # 杨 建 军 男: the roster's next column
        value = text[start:end]
        chars = re.sub(r"[ \t\u3000]+", "", value)
        named = _after_trigger(text, start, rules) or text[max(0, start - 6):start].rstrip(gap).endswith(rules.person_fields)
        sur = _surname_of(chars, rules) or (_surname_of(chars, rules, weak=True) if named or _rare_head(chars, rules) else "")
        given = chars[len(sur):] if sur else ""
        spaced = len(value) - len(chars) >= len(given)                     # every given character set off
        if not sur or not _spaced_given_ok(given, spaced, rules) or chars in rules.not_names or \
                (sur not in rules.surnames and not named):
            continue                                          # (投诉人井 建 平, 我叫连 杰: a rare or weak surname named)
        rest = text[end:]
        if rest[:1] in gap and HAN_JIEBA.match(rest.lstrip(gap)[:1] or "。") and not ROSTER_SEX.match(rest):
            continue                                          # more spaced characters follow (not a roster's 男/女)
        before = text[max(0, start - 2):start]
        if len(before) == 2 and before[1] in gap and HAN_JIEBA.match(before[0]) and \
                not _after_trigger(text, start - 1, rules):
            continue                                          # inside a text spaced throughout
        if len(given) == 1 and not named and not _lone_given_ok(chars, rest, rules, lexicon):
            continue
        together = len(given) == 2 and value[-2] not in gap
        if together and (given in rules.titles or _common(given, lexicon, COMMON_FREQ) and not _compound(sur, lexicon) or not (
                _is_break(rest[:1], rules) or rest[:1] in rules.not_given or
                any(rest.startswith(w) for w in (*rules.titles, *rules.person_after)))):
            continue
        yield start, end


def _spaced_given_ok(given: str, spaced: bool, rules: Rules) -> bool:
    """A spaced name's given name: :func:`_given_ok`, with up to two characters more than
    ``given_max`` when each is set off (汪 伊 斯 哈 格), and 有 first when each is set off (马 有 才:
    有才 is a word, 有 a function character, but spelled out character by character it is a name)."""
    extra = 2 if spaced else 0
    return _given_ok(given, rules, extra=extra) or \
        (spaced and len(given) >= 2 and given[0] in OPEN_FIRST and _given_ok(given[1:], rules, extra=extra))


def _compound(sur: str, lexicon: Lexicon) -> bool:
    """A two-character surname that is no everyday word (司马, 上官; not 东方): the given name
    after it and a space may be an everyday word (司马 光明)."""
    entry = lexicon.get(sur)
    return len(sur) == 2 and (entry is None or entry[1].startswith("nr") or entry[0] < COMMON_FREQ)


def _lone_given_ok(chars: str, rest: str, rules: Rules, lexicon: Lexicon) -> bool:
    """A surname, a space and one character with no naming word before: a name when a glue
    character or a person word follows (马 悦也去了, 王 芳说), the two are no word of jieba's
    dictionary (not 马 上) and the character is common in given names."""
    glued = rest[:1] in rules.glue_after or any(rest.startswith(w) for w in rules.person_after)
    return glued and not _common(chars, lexicon, RARE_FREQ) and lexicon.name_like(chars[-1], min_count=3) and \
        not _common(chars[-1] + rest[:1], lexicon, COMMON_FREQ)


def _listed_names(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """Given names of the ``given_names`` list (经名 and other names used without a surname:
    阿依莎, 尔萨, 穆萨), with the surname written before one (马穆萨, 马阿依莎)."""
    if rules.given_re is None:
        return
    matches = list(rules.given_re.finditer(text, region))
    if rules.given_spaced_re is not None and SPACED_HAN.search(text, region):
        matches += rules.given_spaced_re.finditer(text, region)          # 尔 萨, 伊 斯 哈 格
    for m in matches:
        s, e = m.start(), m.end()
        if s > 0 and HAN_JIEBA.match(text[s - 1]) and _common(text[s - 1] + text[s], lexicon, COMMON_FREQ):
            continue                                          # the first character ends another word
        if e < len(text) and HAN_JIEBA.match(text[e]) and _common(text[e - 1] + text[e], lexicon, COMMON_FREQ) and \
                text[e] not in rules.glue_after:
            continue                                          # (阿米乃是她妹子: 乃是 a word, but 是 follows names)
        b = s - 1 if m.re is rules.given_spaced_re and text[s - 1:s] in " \t\u3000" else s    # 汪 伊 斯 哈 格
        for k in (2, 1):
            if b - k >= region and text[b - k:b] in rules.surnames and \
                    not (b - k > 0 and _common(text[b - k - 1] + text[b - k], lexicon, RARE_FREQ)):
                s = b - k
                break
        yield s, e


NOT_DOUBLED_TAGS = ("d", "t", "m", "q", "r", "p", "c", "u", "v")     # 天天, 常常, 刚刚: a doubled adverb or time word
DOUBLED = re.compile(r"([\u4e00-\u9fd5])\1")
DOUBLED_TAGS = ("n", "z", "a")                           # 丫丫 (n), 婷婷 (z), 乐乐 (a): rare words of these kinds
KIN_VERBS = "去来到在回往从住拉说讲给把让跟和也都就还又不没是要会能想"   # 掌柜的去银川, 兄弟拉来: a verb follows


ORDINALS = "大二三四五六七八九小幺"            # a sibling's rank before 姐, 妹, 哥, 弟 (大姐, 三妹)
KIN_RANKED = "姐妹哥弟叔姑姨舅爷嫂伯"


def _ranked(text: str, a: int) -> bool:
    """A rank before the kinship character at ``a`` (二姐, 三妹), itself after 我/他/的 or a
    clause's start: a sibling named by rank (我大姐秀英; not 者大姐家隔壁, a form of address)."""
    return a > 0 and text[a - 1] in ORDINALS and (a < 2 or text[a - 2] in "我他她你咱俺的，。；、,;：:\n ")


def _kin_names(text: str, rules: Rules, lexicon: Lexicon, token_starts: set[int], region: int) -> Iterator[tuple[int, int]]:
    """A given name alone after a kinship word: 我闺女玉兰, 老伴秀英, 我弟志强, 孙子浩浩. The two
    characters after it are a name when jieba's dictionary does not know them as one word, knows
    them as a name (nr, nz, ns, z: 玉兰, 秀英, 浩浩) or as a very rare word (欣怡), and no function
    character is in them; written with a space between them too (他媳妇海 燕)."""
    if rules.kin_re is None:
        return
    for m in rules.kin_re.finditer(text, region):
        a, b = m.start(), m.end()
        if len(m.group()) == 1 and not (a > 0 and text[a - 1] in "我他她你咱俺的") and not _ranked(text, a):
            continue                                          # 姐, 弟 alone only after 我/他/的 ... or a rank (，二姐秀珍)
        if m.group().endswith("大") and text[b:b + 1] in KIN_RANKED:
            continue                                          # 我大姐秀英: my eldest sister (not 我大, a father)
        if b < len(text) and text[b] == "儿":
            b += 1                                            # 老伴儿
        spaced = re.match(r"[\u4e00-\u9fd5][ \t\u3000]+(?=[\u4e00-\u9fd5])", text[b:b + 6])
        end = b + (spaced.end() + 1 if spaced else 2)
        given = text[b] + text[end - 1] if spaced else text[b:end]
        open_first = given[:1] in OPEN_FIRST and given[1:] in GIVEN_CHARS     # 我兄弟有才 (not 有车, 有房: no name's)
        if len(given) < 2 or not _given_ok(given, rules, lexicon=lexicon if open_first else None) or \
                given in rules.not_names or given in lexicon.user or \
                given.startswith(tuple(rules.strong_triggers)) or given[0] in KIN_VERBS:
            continue                                          # 孙女叫佳慧: the name comes after 叫
        if given[0] == "家" and lexicon.get(text[b + 1:b + 3]) is not None:
            continue                                          # 我哥家座机: the kin's home (not 我儿子家豪在)
        entry = lexicon.get(given)
        if given[0] == given[1] and given[0] in GIVEN_CHARS and \
                (entry is None or (entry[0] < 100 and not entry[1].startswith(NOT_DOUBLED_TAGS))):
            entry = None                                      # 孙女甜甜: a given name doubled, a child's name (not 天天, 常常)
        if entry is not None and not entry[1].startswith(("nr", "nz", "ns", "z")) and \
                (entry[0] >= rules.dict_max_freq or not lexicon.name_like(given)) and not _named_noun(text, end, given, rules, lexicon):
            continue                                          # an everyday word (上学, 今年, 嫁到; not 欣怡, 儿子建军在)
        if entry is None and any(_common(given[0] + given[1] + c, lexicon, RARE_FREQ) for c in text[end:end + 1]):
            continue
        nxt = text[end:end + 1]
        if open_first and nxt and HAN_JIEBA.match(nxt) and nxt not in rules.glue_after:
            continue                                          # 有 + a name's character set off only (not 有福气, 有才华)
        if not spaced and _kin_full_name(text, b, rules, lexicon):
            yield b, b + 3                                    # 我媳妇敏秀珍在家: the full name, not 敏秀
            continue
        if nxt and HAN_JIEBA.match(nxt) and _common(given[1] + nxt, lexicon, COMMON_FREQ):
            continue                                          # the second character starts the next word
        yield b, end


def _kin_full_name(text: str, b: int, rules: Rules, lexicon: Lexicon) -> bool:
    """A full name of three characters right after a kinship word (她儿子路建军盯着, 我男人于海龙，):
    a surname (weak or rare ones too: the kinship word is the signal) that makes no dictionary word
    with the next character, two characters common in given names (not 德旺爱), the third starting no word with what
    follows (not 王强明天, 王芳学习: there the name is 王强, 王芳)."""
    word = text[b:b + 3]
    sur = word[:1]
    whole = lexicon.get(word)
    if len(word) < 3 or not (sur in rules.surnames or sur in rules.weak_surnames or sur in rules.rare_surnames) or \
            not all(c in GIVEN_CHARS for c in word[1:]) or not lexicon.name_like(word[1:]) or \
            (_common(word[:2], lexicon, RARE_FREQ) and not (whole and whole[1].startswith("nr"))) or word in rules.not_names:
        return False                                          # (我老伴白玉兰的: 白玉 a word, the three a name)
    entry = lexicon.get(word[1:])
    if entry is not None and not entry[1].startswith(("nr", "nz", "ns")) and _common(word[1:], lexicon, COMMON_FREQ) and \
            not lexicon.name_like(word[1:]):
        return False                                          # (我儿子王上学: no name)
    nxt = text[b + 3:b + 4]
    return not (nxt and HAN_JIEBA.match(nxt) and (_common(word[2] + nxt, lexicon, RARE_FREQ) or
                                                  _common(word + nxt, lexicon, RARE_FREQ)))


def _named_noun(text: str, end: int, given: str, rules: Rules, lexicon: Lexicon) -> bool:
    """A noun of jieba's dictionary after a kinship word whose characters are among the commonest
    in names (or of :data:`GIVEN_CHARS` and common in names), before a glue character or a break
    (我儿子建军在, 她哥国庆说, 三女子金花在): a given name."""
    nxt = text[end:end + 1]
    entry = lexicon.get(given)
    common = lexicon.name_like(given, min_count=100) or (all(c in GIVEN_CHARS for c in given) and lexicon.name_like(given))
    return entry is not None and entry[1] == "n" and common and \
        (not nxt or not WORD_CHAR.match(nxt) or nxt in rules.glue_after)


def pinyin_names(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """A name in pinyin: a surname of :data:`PINYIN_SURNAMES` and a given name of one or two pinyin
    syllables (either order), all in capitals or each word capitalised (MA XIULAN, Ma Xiulan,
    Xiulan Ma), or after a naming word (名字是, 拼音, 护照上 …) in any case. A text with no two
    Latin words (almost every Chinese turn) is passed by one search instead of the surnames'
    alternation tried at every character."""
    if not PINYIN_GAP.search(text, region):
        return
    for m in PINYIN_NAME.finditer(text, region):
        value = m.group()
        words = value.replace("-", " ").split()
        shaped = value.isupper() or all(w[:1].isupper() and w[1:].islower() for w in words)
        before = text[max(0, m.start() - 6):m.start()].rstrip(" \t")
        if shaped or before.endswith(PINYIN_BEFORE):
            yield m.span()


# a name in Latin letters that is no pinyin (Kevin Li, Ablimit Yasin, HAN GUERBAN, Batbayar): one to
# three words, each capitalised or all in capitals (not one word in capitals: an acronym, APP, KTV),
# right after a naming word, a kinship or friendship word, or "…族的"
LATIN_NAME = re.compile(r"(?:[A-Z][a-z]{1,14}|[A-Z]{2,14})(?:[ \t\-](?:[A-Z][a-z]{1,14}|[A-Z]{2,14})){0,2}(?![A-Za-z0-9_@.])")
LATIN_BEFORE = (*(w for w in PINYIN_BEFORE if w not in "：:"), "微信名", "微信名叫", "微信名就是", "名片上印的", "印的是", "拼成", "英文名叫", "叫我",
                "朋友", "女朋友", "男朋友", "同事", "同学", "室友", "族的")
LATIN_NOT = frozenset({"WeChat", "Wechat", "Chat", "App", "Team", "Hello", "Hi", "OK", "Ok", "The", "My", "Yes", "No", "Mr",
                       "Ms", "Mrs", "Dr", "Miss", "Sir", "Excel", "Word", "Office", "Windows", "Android", "Apple",
                       "Google", "Email", "Wifi", "Online", "Zoom", "Logo", "Pad", "Plus", "Pro", "Max"})   # (主任Excel表格)


def latin_names(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """A name in Latin letters (:data:`LATIN_NAME`) after a word that names a person
    (:data:`LATIN_BEFORE`, a kinship word, a role or a title: 她老公Tursun, 叫Ahmed Raza, 护照上写的是Ablimit
    Yasin, 志愿者领队Kevin)."""
    if not re.search(r"[A-Z]", text[region:]):
        return
    cues = (*LATIN_BEFORE, *rules.kin_words, *ROLE_WORDS, *(t for t in rules.titles if len(t) >= 2))
    for m in LATIN_NAME.finditer(text, region):
        words = re.split(r"[ \t\-]", m.group())
        if (len(words) == 1 and (m.group().isupper() or len(m.group()) < 3)) or words[0] in LATIN_NOT or \
                (m.start() > 0 and text[m.start() - 1].isascii() and text[m.start() - 1].isalnum()):
            continue
        before = text[max(0, m.start() - 6):m.start()].rstrip(" \t")
        if before.endswith(cues):
            yield m.span()


def a_names(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """阿 and one character of given names said as a name (阿强跟阿珍两口子, 叫阿芳来): no word of
    jieba's dictionary (阿里, 阿拉) nor a kinship word (阿大, 阿姨), set off before (a break, a
    naming, glue or kinship word) and after (a break, a glue character, a person word)."""
    for m in re.finditer(r"阿([\u4e00-\u9fd5])", text[region:]):
        s, e = region + m.start(), region + m.end()
        c = m.group(1)
        entry = lexicon.get(m.group())
        if c not in GIVEN_CHARS or c in A_NICK_NOT or c in rules.surnames or \
                (entry is not None and not (entry[1].startswith("nr") and entry[0] < rules.dict_max_freq)):
            continue
        prev, nxt = text[s - 1:s], text[e:e + 1]
        before_ok = not prev or not WORD_CHAR.match(prev) or prev in rules.glue_before or _after_trigger(text, s, rules)
        after_ok = not nxt or not WORD_CHAR.match(nxt) or nxt in rules.glue_after or \
            any(text.startswith(w, e) for w in (*rules.person_after, "两口子", "他们", "她们"))
        if before_ok and after_ok:
            yield s, e


def doubled_names(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """A child's pet name, a character of given names doubled (丫丫, 婷婷, 涵涵, 豆豆), wherever it
    makes no word with its neighbours: jieba's dictionary knows it as no word, or as a rare noun,
    adjective or descriptive word (not 天天, 常常, 刚刚, 哈哈, 星星); no kinship word or title
    (达达, 姐姐), no part of AABB or AAA (高高兴兴)."""
    for m in DOUBLED.finditer(text, region):
        a, b = m.span()
        word = m.group()
        entry = lexicon.get(word)
        if word[0] not in GIVEN_CHARS or word in rules.kin_words or word in rules.titles or word in rules.not_names or \
                (entry is not None and not (entry[0] < 100 and entry[1].startswith(DOUBLED_TAGS))):
            continue
        before, after = text[a - 1:a] if a else "", text[b:b + 1]
        if before == word[0] or after == word[0] or DOUBLED.match(text, b) or (a >= 2 and DOUBLED.match(text, a - 2)):
            continue                                          # AAA, AABB
        if before and HAN_JIEBA.match(before) and before not in rules.glue_before and _common(before + word[0], lexicon, RARE_FREQ):
            continue
        if after and HAN_JIEBA.match(after) and after not in rules.glue_after and _common(word[1] + after, lexicon, RARE_FREQ):
            continue
        yield a, b

"""Names of Tibetan, Mongolian, Uyghur and Kazakh speakers in their usual Chinese transcriptions
(part of :func:`pipeline.text.names.find_names`): a general rule, not a list of names.

- **Syllables per tradition.** Each tradition's names are written with a small stock of
  transcription syllables: Tibetan 才让 + 东知, 拉毛 + 措; Mongolian 乌兰 + 图雅, 那日 + 苏; Uyghur
  买买提 + 江, 阿依 + 古丽. A window of 2-6 characters that splits wholly into the syllables of one
  tradition (the longest first), is no everyday word of jieba's dictionary, and stands in a
  person's context (after a kinship word, a naming word or 、, before 是…族 or a person word, or
  set off by breaks in a turn that names the people) is a name.
- **The middle dot.** Two runs of transcription characters joined by a middle dot (买买提江·吐尔逊;
  also ‧ • ・ ･ and the full-width ．) are one name.

Sources of the syllables: written from knowledge of the names' usual Chinese spellings (not from
a printed table, not downloaded; round 23 added the common ones writer 33's names showed missing,
索南, 巴雅尔, 道尔吉, 迪丽, 波拉提 …, and others of the same traditions; round 25 德力格尔, 青格勒, 苏布达 …): Tibetan names as Qinghai's and Gansu's Tibetans write them in
Chinese (次仁, 扎西, 卓玛, 才让, 拉毛, 措/错, 东知/东智 …), Mongolian names of Inner Mongolia and
Xinjiang (巴特尔, 其木格, 乌兰, 图雅, 苏和, 那日苏 …), and Uyghur and Kazakh names in the spellings
of Xinjiang's ID cards (买买提, 吐尔逊, 阿依古丽, -江, -古丽, -汗 …); the Hui 经名 are the
``given_names`` list of the study. A team adds the names its people use to that list.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from pipeline.text.namebase import per_rules
from pipeline.text.rules import Rules
from pipeline.text.segment import Lexicon

TIBETAN = ("才让", "扎西", "卓玛", "多吉", "多杰", "拉毛", "拉姆", "东知", "东智", "次仁", "措", "错", "旦增", "丹增", "尼玛",
           "达瓦", "格桑", "央金", "德吉", "白玛", "索朗", "平措", "顿珠", "洛桑", "曲珍", "普布", "边巴", "巴桑", "次旦",
           "加措", "嘉措", "仁青", "桑吉", "才旦", "更登", "贡布", "益西", "吉", "草", "卓", "玛", "本", "太", "加", "旦",
           "周", "项", "切", "羊", "卡", "娘", "华", "当", "知", "智", "让", "毛", "杰", "吉", "德", "央", "宗", "珍", "拉",
           "索南", "东珠", "贡保", "公保", "久美", "仁增", "罗布", "强巴", "旺堆", "旺姆", "卓嘎", "拉巴", "欧珠", "群培",
           "尖措", "完玛", "更藏", "南杰", "关却", "拉加", "吉毛", "多")
MONGOLIAN = ("巴特尔", "巴图", "其木格", "其其格", "乌兰", "图雅", "那日", "苏和", "苏", "斯琴", "高娃", "萨仁", "哈斯",
             "宝音", "额尔敦", "朝鲁", "敖登", "格日勒", "娜仁", "塔娜", "阿拉坦", "毕力格", "孟和", "吉雅", "都仁",
             "满都拉", "特木尔", "布和", "乌日娜", "乌云", "其劳", "松", "图", "雅", "格", "日", "勒", "木", "其", "娜", "仁",
             "额", "敦", "巴", "特", "尔", "达", "赖", "图门", "宝力道", "呼和", "查干", "阿木尔", "吉日嘎拉",
             "巴雅尔", "道尔吉", "那顺", "巴音", "托雅", "阿木古楞", "古楞", "额日和木", "乌力吉", "乌恩", "敖其尔",
             "达来", "宝力高", "特古斯", "额尔德尼", "阿古拉", "苏日娜", "萨日娜", "格根", "朝克图", "桑布", "吉日木图",
             "德力格尔", "德力格", "青格勒", "苏布达", "白音", "赛音", "乌日图", "门德", "图布信", "巴彦", "满达")
UYGHUR = ("买买提", "麦麦提", "阿依古丽", "古丽", "吐尔逊", "江", "艾力", "阿布都", "阿不都", "热依拉", "努尔", "帕提",
          "古丽努尔", "阿依", "依", "热合曼", "艾买提", "艾尔肯", "阿迪力", "克然木", "吐逊", "玉素甫", "托合提", "帕丽",
          "扎", "提", "汗", "别克", "阿丽", "玛", "阿", "丽", "米", "娜", "热", "孜", "木", "尔", "买", "艾", "克", "力",
          "吐", "逊", "合", "曼", "尼", "沙", "吾", "斯", "坦", "巴", "哈", "萨", "拉", "叶", "尔兰", "努", "则", "乃",
          "迪丽", "祖丽", "皮亚", "阿卜杜", "萨拉木", "敏", "艾斯卡尔", "卡尔", "达吾列提", "列提", "叶尔", "波拉提",
          "卡德尔", "哈力", "哈布多拉", "木汗", "阿提", "坎木", "叶尔肯", "阿斯哈尔", "巴合提", "加娜尔", "帕尔哈提",
          "艾克拜尔", "阿曼", "吐尔洪", "热合木", "吐尔地", "买买提江")
YI = ("阿苏", "吉克", "曲比", "沙马", "沙玛", "阿牛", "俄木", "马海", "阿鲁", "罗洪", "海来", "勒格", "吉伍", "莫色",
      "瓦其", "吉则", "果基", "巴久", "阿西", "金曲", "吉木", "阿约", "俄底", "苏呷", "依火", "尔古", "木乃", "达体",
      "伍沙", "吉布", "阿克", "克其", "吉尔", "阿机", "日火", "阿都", "洛古", "马黑", "补约", "瓦扎", "木呷", "阿呷",
      "尔呷", "伍呷", "日呷", "拉呷", "石呷", "阿支", "拉则", "阿各", "子日", "阿果", "阿依", "拉一", "阿妞", "伍各",
      "史者", "日者", "尔者", "呷", "嫫", "惹", "者", "则", "支", "各", "果", "妞", "古", "木", "日", "尔", "拉", "依",
      "火", "约", "伍", "牛", "格", "曲", "比", "克", "莫", "色", "布")
TRADITIONS = {"tibetan": TIBETAN, "mongolian": MONGOLIAN, "uyghur": UYGHUR, "yi": YI}
PEOPLES = {"tibetan": ("藏族", "藏民", "西藏", "青海", "甘南", "玉树"), "mongolian": ("蒙古族", "蒙族", "内蒙", "阿拉善"),
           "uyghur": ("维吾尔", "维族", "哈萨克", "新疆", "伊犁", "喀什"), "yi": ("彝族", "彝家", "凉山")}
DOT_NAME = re.compile(r"([\u4e00-\u9fd5]{2,6})[·•・‧･．]([\u4e00-\u9fd5]{2,6})")
DOT_NAME_SURNAME = re.compile(r"([\u4e00-\u9fd5])[·•・‧･．]([\u4e00-\u9fd5]{2,6})")      # 包·巴特尔
BREAKS = "，。；！？,;!?：:、—… \t\u3000\n"
AFTER = ("是", "在", "也", "就", "说", "讲", "他们", "她们", "的", "嫁", "过来", "读", "从")
NAMING = ("叫", "名叫", "叫做", "名字", "、")
# after a window: a person's things (才让的身份证, 这是拉毛的，: hers)
OWNED = re.compile(r"的(?:身份证|户口|电话|手机|微信|银行卡|名字|媳妇|老婆|男人|娃|儿子|女儿|阿大|阿妈|[，。,；;！!？?])")
MIN_SYLLABLES = 1                      # a window is two characters at least: 苏, 措 alone are no name
# per tradition, a character its syllables begin with (a window starting elsewhere splits into none)
START_RE = {k: re.compile("[" + "".join(sorted({w[0] for w in v})) + "]") for k, v in TRADITIONS.items()}


@functools.lru_cache(maxsize=1)
def _syllables() -> dict[str, frozenset[str]]:
    return {k: frozenset(v) for k, v in TRADITIONS.items()}


@functools.lru_cache(maxsize=65536)
def _split(word: str, tradition: str) -> int:
    """The number of syllables ``word`` splits into, the fewest over every split (syllables of up
    to four characters); 0 if none. (Kept per word: a turn's windows overlap.)"""
    syllables = _syllables()[tradition]
    n = len(word)
    best = [-1] * n + [0]                    # best[i]: the fewest syllables of word[i:], -1 if none
    for i in range(n - 1, -1, -1):
        for k in (4, 3, 2, 1):
            if i + k <= n and best[i + k] >= 0 and word[i:i + k] in syllables:
                count = best[i + k] + 1
                best[i] = count if best[i] < 0 else min(best[i], count)
    return max(best[0], 0) if n else 0


def chars() -> frozenset[str]:
    """Every character of every tradition's syllables (the transcription characters)."""
    return frozenset("".join(s for v in TRADITIONS.values() for s in v))


def dotted(text: str, rules: Rules, region: int) -> Iterator[tuple[int, int]]:
    """Two runs of the characters of Uyghur and Kazakh names (and of the ``given_names`` list) joined by
    a middle dot, one of them holding a syllable of two characters or more (买买提, 古丽): one name.
    A Han surname before the dot and a Mongolian or Turkic given name after it are one name too
    (包·巴特尔, 马·阿里: the surname some Mongols and Hui write before their own name)."""
    every = frozenset("".join(UYGHUR)) | frozenset("".join(rules.given_names))
    marks = tuple(w for w in (*UYGHUR, *rules.given_names) if len(w) >= 2)
    after_surname = every | frozenset("".join(MONGOLIAN))
    long_marks = (*marks, *(w for w in MONGOLIAN if len(w) >= 2))
    for m in DOT_NAME_SURNAME.finditer(text, region):
        b = m.group(2)
        b = b[:next((i for i, c in enumerate(b) if c not in after_surname), len(b))]
        if m.group(1) in rules.surnames and len(b) >= 2 and any(w in b for w in long_marks):
            yield m.start(), m.start(2) + len(b)
    for m in DOT_NAME.finditer(text, region):
        a, b = m.group(1), m.group(2)
        a = a[next(i for i in range(len(a) + 1) if all(c in every for c in a[i:])):]      # the run before the dot
        b = b[:next((i for i, c in enumerate(b) if c not in every), len(b))]             # ... and after it
        if len(a) >= 2 and len(b) >= 2 and any(w in a or w in b for w in marks):      # a Turkic syllable (买买提, 古丽)
            yield m.end(1) - len(a), m.start(2) + len(b)


def minority_names(text: str, rules: Rules, lexicon: Lexicon, region: int) -> Iterator[tuple[int, int]]:
    """Windows of one tradition's syllables in a person's context (see the module docstring)."""
    for tradition in TRADITIONS:
        people = any(p in text for p in PEOPLES[tradition])
        start_re = START_RE[tradition]
        i = region
        while i < len(text):
            m = start_re.search(text, i)
            if m is None:
                break
            i = m.start()
            hit = _window(text, i, tradition, people, rules, lexicon)
            if hit:
                yield i, hit
                i = hit
            else:
                i += 1


def _window(text: str, i: int, tradition: str, people: bool, rules: Rules, lexicon: Lexicon) -> int:
    """The end of the name starting at ``i`` (0 if none): the longest window first."""
    for n in range(6, 1, -1):
        word = text[i:i + n]
        if len(word) < n or _split(word, tradition) < MIN_SYLLABLES:
            continue
        entry = lexicon.get(word)
        if entry is not None and not entry[1].startswith("nr") and entry[0] >= 10 or word in rules.not_names:
            continue
        nxt = text[i + n:i + n + 1]
        if nxt and nxt not in BREAKS and not text.startswith((*AFTER, *rules.person_after, *_long_titles(rules)), i + n) and \
                not (people and _titled_before(text, i, rules)):
            continue
        if _context(text, i, i + n, people, rules):
            return i + n
    return 0


def _titled_before(text: str, s: int, rules: Rules) -> bool:
    """A title of two characters or more right before ``s`` (书记乌兰挺能干, in a turn that names the people)."""
    return text.endswith(_long_titles(rules), 0, s)


def _long_titles(rules: Rules) -> tuple[str, ...]:
    return per_rules(rules, _titles_of_two)


def _titles_of_two(rules: Rules) -> tuple[str, ...]:
    return tuple(t for t in rules.titles if len(t) >= 2)


def _context(text: str, s: int, e: int, people: bool, rules: Rules) -> bool:
    """A person's context for the window ``text[s:e]``."""
    before = text[max(0, s - 6):s]
    if any(before.endswith(w) for w in (*NAMING, *rules.kin_words)) or _titled_before(text, s, rules) or \
            text.startswith(_long_titles(rules), e):
        return True                                  # 书记乌兰, 那日苏主任: a title names a person
    if re.match(r"[，,]?是?[\u4e00-\u9fd5]{1,3}族", text[e:e + 7]):
        return True                                  # 那日苏是蒙古族, 那日松，蒙古族
    if (not before or before[-1] in BREAKS or before.endswith("是")) and OWNED.match(text, e):
        return True                                  # 才让的身份证是…, 这是拉毛的，: what a person has
    return people and (not before or before[-1] in BREAKS) and (e >= len(text) or text[e] in BREAKS)

"""The transcripts' study knowledge: ``config/transcripts.yaml`` and the word lists it names
(surnames, stopwords), checked and compiled into :class:`Rules`, which every step in
``pipeline/text`` takes; :func:`read_word_list` reads any of those lists (the user dictionary too).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core import config
from pipeline.core.errors import PipelineError

PII_TYPES = ("name", "mobile", "landline", "id_number", "email", "address", "long_number", "bank_card", "certificate",
             "plate", "account", "staff_id")
# redaction.labels when the config gives none for a type (the placeholder's word: [姓名1], [车牌号1])
DEFAULT_LABELS = {"name": "姓名", "mobile": "手机号", "landline": "电话", "id_number": "身份证号", "email": "邮箱",
                  "address": "地址", "long_number": "号码", "bank_card": "银行卡号", "certificate": "证件号",
                  "plate": "车牌号", "account": "账号", "staff_id": "工号"}
# redaction.context when the config gives none: the words that introduce an identifier of each type
DEFAULT_CONTEXT = {
    "account": ("微信号", "微信", "威信", "VX", "vx", "WX", "wx", "QQ号", "QQ", "qq", "扣扣号", "扣扣", "抖音号", "抖音",
                "快手号", "快手", "微博", "支付宝", "钉钉号", "钉钉", "公众号", "视频号", "账号", "帐号", "用户名",
                "ID", "id"),
    "staff_id": ("工号", "员工号", "员工编号", "职工号", "职工编号", "编号", "工作证号", "工牌号", "胸牌号", "警号", "学号", "学籍号",
                 "执业证号", "厂牌号", "厂牌"),
    "certificate": ("护照号码", "护照号", "护照", "通行证号", "通行证", "回乡证", "台胞证", "社保卡号", "社保卡", "社保号",
                    "医保卡号", "医保卡", "医保号", "社会保障号", "社会保障卡号", "驾驶证号", "驾驶证", "驾照", "军官证",
                    "残疾证号", "残疾证", "证件号码", "证件号", "证号", "证书号", "证书编号", "执照号",
                    "信用代码", "注册号"),
    "bank_card": ("卡号", "银行卡", "储蓄卡", "信用卡", "存折", "账户", "帐户"),
}
# redaction.names lists when the config gives none
DEFAULT_KIN = ("闺女", "女儿", "儿子", "姑娘", "小子", "老伴", "媳妇", "儿媳", "儿媳妇", "女婿", "男人", "女人", "老公",
               "老婆", "爱人", "丈夫", "妻子", "对象", "孙子", "孙女", "外孙", "外孙女", "侄子", "侄女", "外甥", "外甥女",
               "姐姐", "妹妹", "哥哥", "弟弟", "姐", "妹", "哥", "弟", "表姐", "表妹", "表哥", "表弟", "堂哥", "堂弟",
               "嫂子", "弟媳", "姐夫", "妹夫", "舅舅", "姑姑", "姨妈", "婆婆", "公公", "岳父", "岳母", "娃")
DEFAULT_PLACE_WORDS = ("在", "到", "去", "从", "回", "往", "住", "来自", "嫁到", "搬到")
# redaction.address.compounds when the config gives none: the ends of a compound's name, after
# which building-unit-room numbers may be written with dashes (福民家园12-3-402)
COMPOUNDS = ("小区", "家园", "花园", "公寓", "新村", "新城", "大厦", "广场", "名苑", "苑", "园", "城", "府", "湾", "庭",
             "院", "居")
# after a name-shaped word: a person (李强他们, 王芳说: even a frequent name in jieba's dictionary) ...
DEFAULT_PERSON_AFTER = ("他们", "她们", "他俩", "她俩", "说", "讲", "告诉")
# ... and a place or organisation (满春小区, 银川市, 金海旺酒店: no name), unless a title or 长/里 follows (区长, 村里)
DEFAULT_PLACE_AFTER = ("小区", "社区", "家园", "花园", "广场", "酒店", "宾馆", "饭店", "公司", "集团", "大厦", "公寓",
                       "新村", "超市", "商场", "市场", "医院", "学校", "小学", "中学", "大学", "省", "市", "县", "区",
                       "镇", "乡", "村", "路", "街", "苑", "街道", "路口", "街口", "巷口", "银行", "信用社", "合作社",
                       "卫生院", "卫生室", "诊所", "药店", "派出所", "清真寺", "幼儿园", "加油站", "湾", "华府")
# before a surname + 家 (隔壁单家, 对门王家): a family named by its surname
DEFAULT_NEIGHBOURS = ("隔壁", "对门", "对面", "邻居", "楼上", "楼下", "前院", "后院", "同村", "同组")
# kinship words after a chat sender or member (浩然妈妈：, @金凤嫂子): the sender is the name before them
DEFAULT_CHAT_KIN = ("妈妈", "爸爸", "奶奶", "爷爷", "姥姥", "姥爷", "外婆", "外公", "嫂子", "妈", "爸")
# fields of minutes or a form that name a person, at a line's start (记录：白雪, 联系人：…)
DEFAULT_PERSON_FIELDS = ("主持人", "主持", "记录人", "记录", "参会人员", "参会人", "参会", "出席", "列席", "缺席", "联系人",
                         "经办人", "负责人", "来电人", "登记人", "填表人", "审核人", "值班人", "报名人", "申请人", "签字", "签名",
                         "写信人", "来信人", "举报人", "投诉人", "反映人", "审核", "审批人", "经手人", "承办人", "监护人",
                         "委托人", "代理人", "当事人", "见证人", "证明人", "担保人", "户主")
DEFAULT_MEASURE_WORDS = ("张", "支", "位", "台", "条", "把", "间", "口", "头", "匹", "门", "包", "盘")
CONTEXT_FILLER = " :是为叫号码就搜加的也呢啊嘛,你我"              # 微信你搜 wxid_...
HEADER_FIELDS = ("interview_id", "community", "role", "date")
KINDS = ("interview", "documents")
SPLITS = ("file", "line", "separator")
SENTENCE_END = "。！？!?；;…"               # text.sentence_end when the config gives none (Chinese and ASCII ends)
CLOSING = "”’」』）)】》"                    # text.closing when the config gives none
NEVER = r"(?!x)x"                           # a pattern that matches nothing


@dataclass(frozen=True)
class Rules:
    """``config/transcripts.yaml`` checked and compiled, with the surname and stopword lists."""

    path: str
    digest: str                               # what the redaction depends on (config, lists, code): the cache key
    kind: str                                 # interview | documents (format.kind)
    split: str                                # documents: file | line | separator (format.texts)
    separator: str                            # format.separator (texts: separator)
    community_required: bool                  # format.community: required
    field_of: dict[str, str]                  # header label -> interview_id|community|role|date|name|personal
    header_re: re.Pattern
    strip_brackets: bool
    date_res: tuple[re.Pattern, ...]
    role_labels: dict[str, str]
    role_keywords: tuple[tuple[str, str], ...]
    interviewer: frozenset[str]
    respondent: frozenset[str]
    label_re: re.Pattern
    min_named_uses: int
    sentence_re: re.Pattern
    annotation_re: re.Pattern
    placeholder: str
    placeholder_labels: dict[str, str]
    placeholder_re: re.Pattern
    token_re: re.Pattern                      # a placeholder as one token, a name's form of address with it (小[姓名1], [姓名2]大姐)
    enabled: frozenset[str]                   # the types redacted (redaction.categories)
    context: dict[str, tuple[str, ...]]       # type -> the words that introduce its identifiers
    context_filler: str
    long_min: int | None
    phone_words: tuple[str, ...]
    phone_window: int
    surnames: frozenset[str]                  # strong surnames (1 or 2 characters)
    weak_surnames: frozenset[str]
    rare_surnames: frozenset[str]             # rare surnames (禹, 拓, 端木): a name only in a name's context
    very_rare_surnames: frozenset[str]        # of those, the very rare (訾, 鲜, 把): a stronger context still
    prefixes: frozenset[str]
    titles: tuple[str, ...]                   # roles and forms of address after a surname, longest first
    address_titles: frozenset[str]            # the forms of address among them (大姐, 师傅): no content token
    dict_max_freq: int
    given_max: int
    glue_before: frozenset[str]
    glue_after: frozenset[str]
    not_names: frozenset[str]
    not_given: frozenset[str]
    not_final: frozenset[str]
    name_triggers: tuple[str, ...]
    strong_triggers: frozenset[str]
    weak_triggers: frozenset[str]
    name_suffixes: frozenset[str]
    given_names: frozenset[str]               # names used without a surname (经名: 阿依莎, 尔萨)
    given_re: re.Pattern | None
    given_spaced_re: re.Pattern | None        # 尔 萨, 伊 斯 哈 格: a listed given name with spaces between its characters
    spaced_re: re.Pattern | None              # 马 玉 兰
    kin_words: tuple[str, ...]                # 闺女, 老伴 ... (a given name alone may follow)
    kin_re: re.Pattern | None
    place_words: tuple[str, ...]              # 在, 到 ... (a place, not a name, may follow)
    person_after: tuple[str, ...]             # 他们, 说 ... after a name (李强他们)
    place_after: tuple[str, ...]              # 小区, 市 ... after a place's name (满春小区), not a person's
    measure_words: frozenset[str]             # surnames that are measure words after 这/一 (这张卡)
    neighbour_words: tuple[str, ...]          # 隔壁, 对门 ... before a surname + 家 (隔壁单家)
    chat_kin: tuple[str, ...]                 # 妈妈, 嫂子 ... after a chat sender (浩然妈妈：)
    name_tagger: bool                         # the trained tagger beside the name rules (redaction.names.tagger)
    person_fields: tuple[str, ...]            # 记录, 联系人 ... fields that name a person (记录：白雪)
    places: tuple[str, ...]                   # the region's place names (贺兰, 西吉): never a name, nor the start of one
    prefix_re: re.Pattern | None              # 老马, 小李
    title_re: re.Pattern | None               # 马大姐, 李书记
    address_re: re.Pattern
    address_part_re: re.Pattern
    address_stop: frozenset[str]
    address_max_prefix: int
    stopwords: frozenset[str]


def _cfg_need(spec: Any, key: str, where: str) -> Any:
    if not isinstance(spec, dict) or key not in spec:
        raise PipelineError(f"{where}: '{key}' is missing", hint="see the comments in config/transcripts.yaml")
    return spec[key]


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise PipelineError(f"{where} must be a list of words")
    return [str(v) for v in value]


# characters of the same syllable that transcriptions of religious and Uyghur names use one for
# another (伊布拉欣, 伊不拉欣, 易卜拉欣; 伊斯玛, 伊斯麻; 穆萨, 木萨; 麦麦提, 买买提): a listed given name
# matches in any of them (not 马: a surname; not 儿, 里, 得: everyday characters)
TRANSCRIPTION_VARIANTS = ("伊依易", "布卜不", "斯思丝", "玛麻", "萨撒", "穆木", "拉喇", "麦买迈", "赛塞", "娅亚雅", "莎沙",
                          "默莫", "提蒂", "乌吾")
_VARIANT_OF = {c: group for group in TRANSCRIPTION_VARIANTS for c in group}


def _variants(word: str, gap: str = "") -> str:
    """A pattern of ``word`` with each character that has transcription variants as their class."""
    return gap.join(f"[{_VARIANT_OF[c]}]" if c in _VARIANT_OF else re.escape(c) for c in word)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def read_word_list(path: Path, what: str) -> list[list[str]]:
    """A word list file: one entry a line, fields split on whitespace, ``#`` comments."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PipelineError(f"{path}: {what} not found", hint="check params.yaml: transcripts") from None
    except UnicodeDecodeError:
        raise PipelineError(f"{path}: {what} is not UTF-8 text") from None
    return [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _format(spec: Any, where: str) -> dict[str, Any]:
    """``format``: what a file holds. Left out: interviews, one a file, the community optional."""
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        raise PipelineError(f"{where}: format must be a mapping (kind, texts, separator, community)")
    unknown = sorted(set(spec) - {"kind", "texts", "separator", "community"})
    if unknown:
        raise PipelineError(f"{where}: format has unknown keys {unknown}", hint="use kind, texts, separator, community")
    kind, split = str(spec.get("kind", "interview")), str(spec.get("texts", "file"))
    community = str(spec.get("community", "optional"))
    if kind not in KINDS:
        raise PipelineError(f"{where}: format.kind '{kind}' is unknown", hint="use interview (speaker turns) or "
                            "documents (texts by one author, no interviewer: messages, open answers)")
    if split not in SPLITS:
        raise PipelineError(f"{where}: format.texts '{split}' is unknown", hint="use file, line or separator")
    if kind == "interview" and split != "file":
        raise PipelineError(f"{where}: format.texts: {split} is for documents; an interview is one file",
                            hint="set format.kind: documents, or format.texts: file")
    separator = spec.get("separator")
    if split == "separator" and (not isinstance(separator, str) or not separator.strip()):
        raise PipelineError(f"{where}: format.texts: separator needs format.separator, the line that ends a text",
                            hint='e.g. separator: "---"')
    if community not in ("required", "optional"):
        raise PipelineError(f"{where}: format.community '{community}' is unknown", hint="use required or optional")
    return {"kind": kind, "split": split, "separator": str(separator or "").strip(),
            "community_required": community == "required"}


def _header(header: Any, where: str) -> tuple[dict[str, str], re.Pattern, list[re.Pattern]]:
    """``header``: label -> field, the pattern of a header label, the date formats. Every part is optional."""
    header = {} if header is None else header
    if not isinstance(header, dict):
        raise PipelineError(f"{where}: header must be a mapping (fields, name_fields, personal_fields, date_formats)")
    fields = header.get("fields") or {}
    if not isinstance(fields, dict):
        raise PipelineError(f"{where}: header.fields must map {list(HEADER_FIELDS)} to lists of labels")
    unknown = sorted(set(fields) - set(HEADER_FIELDS))
    if unknown:
        # an id-like key where the community goes (an older file's name for it): say what it is called
        hint = ("the community field is called 'community'" if any(k.endswith("_id") for k in unknown)
                else f"header.fields are {list(HEADER_FIELDS)}")
        raise PipelineError(f"{where}: header.fields has unknown keys {unknown}", hint=hint)
    field_of: dict[str, str] = {}
    for name in HEADER_FIELDS:
        for label in _str_list(fields.get(name) or [], f"{where}: header.fields.{name}"):
            field_of[label] = name
    for label in _str_list(header.get("name_fields") or [], f"{where}: header.name_fields"):
        field_of[label] = "name"
    for label in _str_list(header.get("personal_fields") or [], f"{where}: header.personal_fields"):
        field_of[label] = "personal"
    header_re = re.compile(rf"(?:^|(?<=[\s\u3000]))({_alternation(field_of)})[ \t\u3000]*[：:]" if field_of else NEVER)
    date_res = []
    for pattern in _str_list(header.get("date_formats") or [], f"{where}: header.date_formats"):
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise PipelineError(f"{where}: header.date_formats: '{pattern}' is not a regular expression ({exc})") from None
        if not {"y", "m", "d"} <= set(rx.groupindex):
            raise PipelineError(f"{where}: header.date_formats: '{pattern}' needs the groups y, m and d")
        date_res.append(rx)
    return field_of, header_re, date_res


def _roles(roles: Any, where: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``roles``: role label -> code, and the keyword rules (optional: no roles, every text is 'other')."""
    roles = {} if roles is None else roles
    if not isinstance(roles, dict):
        raise PipelineError(f"{where}: roles must be a mapping (labels, keywords)")
    role_labels = {str(label): str(code) for code, labels in (roles.get("labels") or {}).items()
                   for label in _str_list(labels, f"{where}: roles.labels.{code}")}
    role_keywords = []
    for pair in roles.get("keywords") or []:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise PipelineError(f"{where}: roles.keywords entries must be [keyword, code]")
        role_keywords.append((str(pair[0]), str(pair[1])))
    return role_labels, role_keywords


def _speakers(speakers: Any, where: str, kind: str) -> tuple[frozenset[str], frozenset[str], re.Pattern, int]:
    """``speakers``: the interviewer and respondent markers (interviews only) and the label pattern."""
    if speakers is None and kind == "documents":
        speakers = {}
    elif speakers is None:
        raise PipelineError(f"{where}: 'speakers' is missing",
                            hint="an interview needs its speaker markers (speakers.interviewer, speakers.respondent); "
                                 "texts without an interviewer are format.kind: documents")
    if not isinstance(speakers, dict):
        raise PipelineError(f"{where}: speakers must be a mapping (interviewer, respondent, ...)")

    def need(key: str) -> Any:
        return _cfg_need(speakers, key, f"{where}: speakers") if kind == "interview" else speakers.get(key) or []

    interviewer = frozenset(_str_list(need("interviewer"), f"{where}: speakers.interviewer"))
    respondent = frozenset(_str_list(need("respondent"), f"{where}: speakers.respondent"))
    if interviewer & respondent:
        raise PipelineError(f"{where}: speakers {sorted(interviewer & respondent)} are both interviewer and respondent markers")
    max_label = int(speakers.get("max_label_chars", 8))
    label_re = re.compile(r"^[ \t\u3000]*([^\s：:，。,.!?！？、；;（）()\[\]【】“”\"'《》]{1,%d})[ \t\u3000]*[：:]" % max_label)
    return interviewer, respondent, label_re, int(speakers.get("min_named_label_uses", 2))


def _text(text: Any, where: str) -> tuple[re.Pattern, re.Pattern]:
    """``text``: the sentence pattern (``sentence_end``, ``closing``) and the transcriber's notes
    (optional: Chinese and ASCII sentence ends, no notes)."""
    text = {} if text is None else text
    if not isinstance(text, dict):
        raise PipelineError(f"{where}: text must be a mapping (sentence_end, closing, annotations)")
    ends = str(text.get("sentence_end", SENTENCE_END))
    closing = str(text.get("closing", CLOSING))
    sentence_re = re.compile(rf"[^{re.escape(ends)}]+(?:[{re.escape(ends)}]+[{re.escape(closing)}]*)?|[{re.escape(ends)}]+[{re.escape(closing)}]*")
    notes = _str_list(text.get("annotations") or [], f"{where}: text.annotations")
    try:
        annotation_re = re.compile("|".join(f"(?:{n})" for n in notes) if notes else NEVER)
    except re.error as exc:
        raise PipelineError(f"{where}: text.annotations is not a valid regular expression ({exc})") from None
    return sentence_re, annotation_re


# a market, whose stalls and shops are numbered like houses (农贸市场东门18号摊位)
MARKETS = "市场|商场|早市|夜市|批发城"
# before 里 N号, no lane's name (这里, 家里, 县里, 三公里 …: 县里5号来人 is a day)
NOT_LANE = "这那哪家城村县乡镇区市省厂店校局队组所站网群屋院邻心手眼嘴夜梦水田地山海河湖锅碗公千百万里"
# after N号: the day of a month, not a house (大桥3号那天, 北京路口5号上午)
DATE_AFTER = "那天|那日|当天|晚上|早上|上午|下午|中午|凌晨|开会|以后|之前|以前|前后|左右"


def _address_re(addr: Any, where: str) -> tuple[re.Pattern, re.Pattern]:
    """``redaction.address``: the pattern of the address anchors, and the pattern of one part of
    a building / unit / floor / room sequence (to check which parts a sequence has)."""
    def parts(key: str, default: tuple[str, ...] | None = None) -> list[str]:
        if default is not None and key not in addr:
            return list(default)
        return _str_list(_cfg_need(addr, key, f"{where}: redaction.address"), f"{where}: redaction.address.{key}")

    num = r"(?:\d{1,5}|[一二三四五六七八九十百零〇两幺洞]{1,4})"                      # 幺单元: read out
    building, floor, room = (_alternation(parts(k)) for k in ("building", "floor", "room"))
    villages, compound_words = parts("village", ("村", "庄", "屯", "寨", "嘎查")), parts("compounds", COMPOUNDS)
    village, group = _alternation(villages), _alternation(parts("group", ("村民小组", "小组", "组", "队", "社")))
    compounds = _alternation(compound_words)
    sides = re.escape("".join(parts("sides")))
    units = parts("unit")
    long_units = _alternation(u for u in units if len(u) > 1) or NEVER
    short_units = _alternation(u for u in units if len(u) == 1) or NEVER     # 门: only after a building
    road_ends = re.escape("".join(sorted({r[-1] for r in parts("roads")})))
    part = (rf"(?P<b>(?:{num}|[A-Za-z])(?:{building})|\d{{1,4}}#(?:{floor})?)|(?P<u>{num}(?:{long_units})|[{sides}](?:{long_units}))"
            rf"|(?P<d>{num}(?:{short_units}))"
            rf"|(?P<r>\d{{1,5}}(?:{room})|[{sides}]边?(?:{room}))|(?P<f>{num}(?:{floor}))|(?P<z>[A-Za-z]区)"
            rf"|(?P<w>{num}排)")                                                   # a row (72号院5排3号)
    plain = re.sub(r"\(\?P<\w+>", "(?:", part)
    dash = r" ?[-－—–] ?"
    said = r"[零〇一二三四五六七八九幺洞两]{3,4}(?![零〇一二三四五六七八九十百两])"     # a room read out digit by digit (三零二, 幺两零幺)
    house = r"(?:\d{1,4}|[一二三四五六七八九十百千零〇两幺洞]{1,7})"              # a house number (二百一十六号, 幺洞七号)
    annex = r"(?:附\d{1,3}号)?"                                                      # an annex number (14号附2号)
    plate = r"(?:门牌号?)?"                                                           # 门牌 before the house number (五组门牌17号)
    comma = rf"(?: |[,，] ?(?=[\dA-Za-z]|{num}(?:{building}|{long_units})))?"        # parts said one by one (花园，7号楼，3单元，501; 四号楼，二单元; not 五楼，一层)
    dashed = rf"\d{{1,4}}(?:{dash}\d{{1,5}}){{1,2}}(?![\d\-－—–])"                # 12-3-401: building-unit-room
    row = rf"(?:{num}排)?"                                                            # a row of a resettlement village (十二排)
    # after a road's house number: a named building, a floor, a room (兴发南路23号宿舍楼506, 银湖巷15号2楼)
    room_no = r"(?: ?\d{2,4}(?:室|房间?|号)?)?"
    road_tail = (rf"(?:(?:宿舍楼|办公楼|综合楼|教学楼|住院楼|门诊楼|家属楼|商务楼|写字楼|[A-Za-z]座)(?: ?{num}(?:层|楼))?{room_no}"
                 rf"|{num}(?:层|楼)(?![下上里道梯顶房面]){room_no})?")
    # every anchor starts with one of these characters: the engine tests that first at each position
    # instead of trying every branch (seven times faster on transcripts; the same matches)
    starts = {w[0] for w in (*villages, *compound_words, *MARKETS.split("|")) if w}
    if not all(villages) or not all(compound_words) or not villages or not compound_words:
        starts |= set(" 委第")                                                     # no word: what follows it
    first = r"\dA-Za-z" + re.escape("".join(sorted(starts | set("一二三四五六七八九十百千零〇两幺洞东西南北中") | set(parts("sides")))))
    anchors = re.compile(
        rf"(?=[{first}])(?:"
        rf"(?<=[{road_ends}])(?:[东西南北中]段 ?)?(?:\d{{1,4}}|(?P<cnroad>{house}))号(?:院(?![\d一二三四五六七八九十]))?(?![楼院]|{DATE_AFTER}){annex}{road_tail}"   # 北京中路154号, 新华街二百一十六号, 文昌北街九十九号院, 开元大道南段206号
        rf"|(?<=[\u4e00-\u9fd5]里)(?<![{NOT_LANE}]里)\d{{1,4}}号(?![楼院\d]|{DATE_AFTER}){annex}{road_tail}"   # a lane (里弄): 同福西路龙庆里9号
        rf"|(?<=[路街巷道]口)(?:3[2-9]|[4-9]\d|\d{{3,4}})号(?![楼院\d]|{DATE_AFTER}){annex}{road_tail}"   # 东街口82号 (not 路口5号: a day)
        rf"|(?:{compounds}) ?(?:[A-Za-z]{dash})?\d{{1,4}}(?:{dash}\d{{1,5}}){{1,2}}(?:号|室)?(?![\d\-－—–])"  # 福民家园12-3-402, 宁安小区C-7-2-602 (a zone first)
        rf"|(?:{compounds}|{MARKETS}) ?(?:[东西南北]门 ?)?(?:{num}(?:{floor}) ?)?(?:[A-Za-z]{dash}?)?\d{{1,4}}号(?:商铺|铺位|铺面|摊位|门面)"   # a market's shop: 金太阳商城一楼A-18号商铺, 农贸市场东门18号摊位
        rf"|(?:{compounds}) ?(?:[东西南北]门 ?)?(?:(?:对面|旁边|斜对面) ?)?(?:底商|商铺|门面房?|门市部?|商业街) ?{house}号(?![楼院])"    # a shop of a compound: 裕民小区底商7号, 满春小区南门底商19号
        rf"|(?<=产业|工业|物流|科技|创业|农业)园区? ?{house}号(?:仓库|库|厂房|车间|院|(?=[,，。.;；！？、\s]|$))"   # 物流园区8号库, 清真产业园8号
        rf"|(?:{compounds}) ?\d{{3,5}}(?:室|房间)"                                         # an office building's room: 金三角大厦1406室 (not 小区1286户: a count)
        rf"|(?<=[\u4e00-\u9fd5])\d{{1,2}}{dash}\d{{1,2}}{dash}\d{{3,4}}(?![\d\-－—–])"  # building-unit-room after a name: 悦海新天地9-1-1702
        rf"|(?P<seq>(?<![\dA-Za-z月])(?:{plain})(?:{comma}(?:{plain}))*(?: ?{dashed}| ?\d{{1,5}}(?![\d年:])"
        rf"|[,，] ?\d{{1,5}}(?=[，。,.;；！？\s]|$)|{said}(?:{room})?)?)(?:(?:底商|商铺|门面房?|门市部?)(?: ?{house}号)?)?"    # 12号楼2单元301, C区5-2-301, 六零一室, 1号楼底商
        rf"|(?:{village})(?:委会)? ?第?{num}(?:{group}) ?(?:{num}区 ?)?{row}(?:{plate}第?{house}(?:号|户)院?{annex})?"   # 明台村二组38号, 东和村4队, 原隆村第五村民小组, 中圈塘村2组第16户, 原隆村三组一区67号
        rf"|(?:{village})(?:(?![里委会部的了在是有和到去那这边点区片站室所卫])[\u4e00-\u9fd5]){{1,3}}\d{{1,4}}号(?![楼院床位\d]|{DATE_AFTER})"   # a hamlet: 东营村后厝42号
        rf"|(?<![\d一二三四五六七八九十百零〇两]){num}(?:{group}){row}{plate}{num}(?:号|户)院?{annex}"     # 二组38号
        rf"|(?:{village}|{compounds}) ?{num}区 ?{row}{plate}{house}(?:号(?!楼)|户)院?{annex}"   # a section of a resettlement village: 移民新村3区17号, 滨河家园三区十七排八号 (not 西园三区311号楼: a building)
        rf"|(?:{compounds}) ?{num}(?:{village}) ?{num}排 ?{house}(?:号|户)院?{annex}"      # ... numbered as villages: 滨河家园四村九排六号
        rf"|(?:{village})[\u4e00-\u9fd5]{{1,3}}?[点区片] ?{row}{plate}{house}(?:号|户)(?![床位])院?{annex}"   # a village's site: 和泉村移民点14号
        rf"|{num}丁目 ?(?:\d{{1,4}}{dash}\d{{1,4}}(?:{dash}\d{{1,4}})?|{num}番地?(?: ?{num}号)?)"    # an address in Japan, down to the house: 3丁目12番地, 2丁目5番3号, 3丁目1-1
        rf"|(?<![零〇一二三四五六七八九幺洞两\d]){said}(?:{room})?[,，] ?{num}(?:{long_units})(?:[,，] ?{num}(?:{building}))?"
        rf"(?:[,，] ?就?在[\u4e00-\u9fd5]{{1,6}}?(?:{compounds}))?"      # said backwards: 五零三，五单元，十一号楼，就在清和家园
        rf")")
    return anchors, re.compile(part)


def _labels(red: dict, where: str) -> dict[str, str]:
    """``redaction.labels``: the placeholder word of each type (:data:`DEFAULT_LABELS` for the rest)."""
    given = red.get("labels") or {}
    if not isinstance(given, dict):
        raise PipelineError(f"{where}: redaction.labels must map types to words", hint=f"types: {list(PII_TYPES)}")
    unknown = sorted(set(map(str, given)) - set(PII_TYPES))
    if unknown:
        raise PipelineError(f"{where}: redaction.labels has unknown types {unknown}", hint=f"use {list(PII_TYPES)}")
    labels = {**DEFAULT_LABELS, **{str(k): str(v) for k, v in given.items()}}
    if len(set(labels.values())) < len(labels):
        raise PipelineError(f"{where}: redaction.labels gives two types the same word",
                            hint="each type needs its own word, or placeholders of two types look the same")
    return labels


def _categories(red: dict, where: str) -> frozenset[str]:
    """``redaction.categories``: type -> true/false (left out: true). A type switched off is still
    found (so that no other type takes its spans) but stays in the text."""
    given = red.get("categories") or {}
    if not isinstance(given, dict) or not all(isinstance(v, bool) for v in given.values()):
        raise PipelineError(f"{where}: redaction.categories must map types to true or false",
                            hint="e.g. categories: {address: false}")
    unknown = sorted(set(map(str, given)) - set(PII_TYPES))
    if unknown:
        raise PipelineError(f"{where}: redaction.categories has unknown types {unknown}", hint=f"use {list(PII_TYPES)}")
    return frozenset(t for t in PII_TYPES if given.get(t, True))


def _context(red: dict, where: str) -> dict[str, tuple[str, ...]]:
    """``redaction.context``: the words before an identifier of each type (:data:`DEFAULT_CONTEXT`
    for a type left out; an empty list: found by shape only)."""
    given = red.get("context") or {}
    if not isinstance(given, dict):
        raise PipelineError(f"{where}: redaction.context must map types to lists of words",
                            hint=f"types: {sorted(DEFAULT_CONTEXT)}")
    unknown = sorted(set(map(str, given)) - set(DEFAULT_CONTEXT))
    if unknown:
        raise PipelineError(f"{where}: redaction.context has unknown types {unknown}", hint=f"use {sorted(DEFAULT_CONTEXT)}")
    return {t: tuple(_str_list(given[t], f"{where}: redaction.context.{t}")) if t in given else words
            for t, words in DEFAULT_CONTEXT.items()}


def _name_signals(names: dict, path: Path, where: str, surnames: frozenset[str]) -> dict[str, Any]:
    """The name signals that do not depend on jieba's words: the ``given_names`` list (a file
    beside the config; left out: none), spaced names, ``kin_words``, ``place_words``,
    ``person_after``, ``place_after``, ``measure_words``, ``neighbour_words``, ``chat_kin``,
    ``person_fields`` (left out: the generic lists of this module), the words that start a name (``triggers`` and the role ``titles``;
    ``strong_triggers``, ``weak_triggers``), and ``tagger`` (the trained name tagger beside the rules:
    true or false; left out: true)."""
    def words(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_str_list(names[key], f"{where}: redaction.names.{key}")) if key in names else default

    def listed(key: str) -> tuple[str, ...]:
        return tuple(_str_list(names.get(key) or [], f"{where}: redaction.names.{key}"))

    given: frozenset[str] = frozenset()
    if names.get("given_names"):
        rows = read_word_list(path.parent / str(names["given_names"]), "given-name list")
        given = frozenset(r[0] for r in rows if len(r[0]) >= 2)
    kin = words("kin_words", DEFAULT_KIN)
    han = r"[\u4e00-\u9fd5]"
    gap = r"[ \t\u3000]+"
    return {
        "given_names": given,
        "given_re": re.compile("|".join(_variants(w) for w in sorted(given, key=lambda w: (-len(w), w)))) if given else None,
        "given_spaced_re": re.compile("|".join(_variants(w, gap) for w in sorted(given, key=lambda w: (-len(w), w))))
        if given else None,
        # a surname, a space, then one or two characters written together (马 福祥) or one to four
        # each set off by spaces (马 玉 兰, 汪 伊 斯 哈 格); what may follow is decided by names._spaced_names
        "spaced_re": re.compile(rf"(?:{_alternation(surnames)}){gap}{han}(?:(?:{gap}{han}){{1,3}}|{han})?"
                                if surnames else NEVER),
        "kin_words": kin, "kin_re": re.compile(_alternation(kin)) if kin else None,
        "place_words": words("place_words", DEFAULT_PLACE_WORDS),
        "person_after": words("person_after", DEFAULT_PERSON_AFTER),
        "place_after": words("place_after", DEFAULT_PLACE_AFTER),
        "measure_words": frozenset(words("measure_words", DEFAULT_MEASURE_WORDS)),
        "neighbour_words": words("neighbour_words", DEFAULT_NEIGHBOURS),
        "chat_kin": words("chat_kin", DEFAULT_CHAT_KIN),
        "person_fields": words("person_fields", DEFAULT_PERSON_FIELDS),
        "places": tuple(sorted(set(listed("places")), key=lambda w: (-len(w), w))),
        # a role word before a surname is a naming context too (物业经理 上官 婉): the triggers and the role titles
        "name_triggers": tuple(dict.fromkeys(listed("triggers") + listed("titles"))),
        "strong_triggers": frozenset(listed("strong_triggers")),
        "weak_triggers": frozenset(listed("weak_triggers")),
        "name_tagger": _flag(names, "tagger", True, f"{where}: redaction.names"),
    }


def _flag(section: dict, key: str, default: bool, where: str) -> bool:
    """A true/false setting (left out: ``default``)."""
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise PipelineError(f"{where}.{key} must be true or false, not {value!r}", hint=f"write {key}: true or {key}: false")
    return value


MODEL_FILE = "models/nametagger.crfsuite"      # the name tagger's trained model (pipeline/text/nametagger.py)
# the code the redacted text and its tokens depend on: these, and every name*.py module of the name
# finder (names.py and its rooms: a new room is in the digest without being listed; namespeech.py and
# namespoken.py were missing from the list before round 21)
REDACTION_CODE = ("rules.py", "decode.py", "turns.py", "numbers.py", MODEL_FILE, "redact.py", "units.py", "segment.py")


def redaction_code_files() -> list[Path]:
    """The code files of :data:`REDACTION_CODE` and every ``name*.py`` module, in a fixed order."""
    here = Path(__file__).resolve().parent
    return [*(here / name for name in REDACTION_CODE), *sorted(here.glob("name*.py"))]


def redaction_digest(files: Iterable[Path]) -> str:
    """A hash of what the redacted text and its tokens depend on besides jieba's dictionary: the
    config and the word lists it names (``files``), and the code of the redaction, unit and
    segmentation steps. Part of the token cache's key, so that a fixed redaction rule or list
    never reads tokens made before the fix."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for f in [*files, *redaction_code_files()]:
        if f == here / MODEL_FILE and not f.is_file():
            continue                             # being trained (nametagger.load_tagger says so if it is used)
        h.update(Path(f).name.encode("utf-8") + b"\0" + Path(f).read_bytes() + b"\0")
    return h.hexdigest()


def load_rules(path: str | Path, stopwords_path: str | Path) -> Rules:
    """Read ``config/transcripts.yaml`` (and the lists it names) into :class:`Rules`."""
    path = Path(path)
    where = str(path)
    raw = config.read_yaml(path, "transcripts configuration", "check params.yaml: transcripts.config")
    if not isinstance(raw, dict):
        raise PipelineError(f"{where}: expected a mapping of sections", hint="see config/transcripts.yaml")
    fmt = _format(raw.get("format"), where)
    field_of, header_re, date_res = _header(raw.get("header"), where)
    if fmt["community_required"] and "community" not in field_of.values():
        raise PipelineError(f"{where}: format.community is required but header.fields declares no community labels",
                            hint="list the header labels of the community id under header.fields.community, "
                                 "or set format.community: optional")
    role_labels, role_keywords = _roles(raw.get("roles"), where)
    interviewer, respondent, label_re, min_named = _speakers(raw.get("speakers"), where, fmt["kind"])

    sentence_re, annotation_re = _text(raw.get("text"), where)

    red = _cfg_need(raw, "redaction", where)
    placeholder = str(_cfg_need(red, "placeholder", f"{where}: redaction"))
    if "{n}" not in placeholder or "{label}" not in placeholder:
        raise PipelineError(f"{where}: redaction.placeholder must contain {{label}} and {{n}}")
    labels = _labels(red, where)
    before, after = placeholder.split("{label}")[0], placeholder.split("{n}")[-1]
    middle = placeholder.split("{label}")[1].split("{n}")[0]
    placeholder_re = re.compile(re.escape(before) + f"(?:{_alternation(labels.values())})" + re.escape(middle) + r"\d+" + re.escape(after))
    long_min = red.get("long_number_min_digits")

    names = _cfg_need(red, "names", f"{where}: redaction")
    surname_path = path.parent / str(_cfg_need(names, "surnames", f"{where}: redaction.names"))
    surname_rows = read_word_list(surname_path, "surname list")
    surnames = frozenset(r[0] for r in surname_rows if not {"weak", "rare", "veryrare"} & set(r[1:]))
    weak = frozenset(r[0] for r in surname_rows if "weak" in r[1:])
    very_rare = frozenset(r[0] for r in surname_rows if "veryrare" in r[1:]) - weak
    rare = (frozenset(r[0] for r in surname_rows if "rare" in r[1:]) | very_rare) - weak
    if not surnames:
        raise PipelineError(f"{where}: the surname list is empty")

    addr = _cfg_need(red, "address", f"{where}: redaction")
    address_re, address_part_re = _address_re(addr, where)

    prefixes = _str_list(names.get("prefixes") or [], f"{where}: redaction.names.prefixes")
    address_titles = _str_list(names.get("address_titles") or [], f"{where}: redaction.names.address_titles")
    titles = _str_list(names.get("titles") or [], f"{where}: redaction.names.titles") + address_titles
    name_mark = re.escape(before) + re.escape(labels["name"]) + re.escape(middle) + r"\d+" + re.escape(after)
    token_re = re.compile((f"(?:{_alternation(prefixes)})?" if prefixes else "") + name_mark +
                          (f"(?:{_alternation(address_titles)})?" if address_titles else "") + "|" + placeholder_re.pattern)
    sur_alt = _alternation(surnames)
    prefix_re = re.compile(rf"(?:{_alternation(prefixes)})(?:{sur_alt})") if prefixes else None
    title_re = re.compile(rf"(?:{_alternation(surnames | rare)})(?:{_alternation(titles)})") if titles else None

    stop_path = Path(stopwords_path)
    stopwords = frozenset(r[0] for r in read_word_list(stop_path, "stopword list"))
    lists = [path, surname_path] + ([path.parent / str(names["given_names"])] if names.get("given_names") else [])
    return Rules(**_name_signals(names, path, where, surnames | weak | rare),
        path=str(path), digest=redaction_digest(lists), kind=fmt["kind"], split=fmt["split"], separator=fmt["separator"],
        community_required=fmt["community_required"], field_of=field_of, header_re=header_re,
        strip_brackets=bool((raw.get("header") or {}).get("strip_brackets", True)),
        date_res=tuple(date_res), role_labels=role_labels, role_keywords=tuple(role_keywords),
        interviewer=interviewer, respondent=respondent, label_re=label_re,
        min_named_uses=min_named, sentence_re=sentence_re,
        annotation_re=annotation_re, placeholder=placeholder, placeholder_labels=labels, placeholder_re=placeholder_re,
        enabled=_categories(red, where), context=_context(red, where), context_filler=CONTEXT_FILLER,
        long_min=int(long_min) if long_min is not None else None,
        phone_words=tuple(_str_list(red.get("phone_words") or [], f"{where}: redaction.phone_words")),
        phone_window=int(red.get("phone_word_window", 6)),
        surnames=surnames, weak_surnames=weak, rare_surnames=rare, very_rare_surnames=very_rare,
        prefixes=frozenset(prefixes), titles=tuple(sorted(set(titles), key=lambda w: (-len(w), w))),
        address_titles=frozenset(address_titles), token_re=token_re,
        dict_max_freq=int(names.get("dict_max_freq", 100)), given_max=int(names.get("given_max_chars", 2)),
        glue_before=frozenset(_str_list(names.get("glue_before") or [], f"{where}: redaction.names.glue_before")),
        glue_after=frozenset(_str_list(names.get("glue_after") or [], f"{where}: redaction.names.glue_after")),
        not_names=frozenset(_str_list(names.get("not_names") or [], f"{where}: redaction.names.not_names")),
        not_given=frozenset(str(names.get("not_given", ""))), not_final=frozenset(str(names.get("not_final", ""))),
        name_suffixes=frozenset(str(names.get("name_suffixes", ""))),
        prefix_re=prefix_re, title_re=title_re,
        address_re=address_re, address_part_re=address_part_re, address_stop=frozenset(str(addr.get("stop_before", ""))),
        address_max_prefix=int(addr.get("max_prefix_chars", 30)), stopwords=stopwords,
    )

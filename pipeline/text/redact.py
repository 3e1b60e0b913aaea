"""Steps 3 and 4 of the transcripts: personal data found and replaced (see :mod:`pipeline.text.corpus`;
docs/redaction.md has the categories, the rules and the measured quality).

3. :func:`find_pii` finds personal data in the whole decoded text, in this order (an earlier
   kind wins where two overlap): the header's name lines and the names the study declares (the
   manifest's roster, named speaker labels: these always win over a span found automatically);
   numbers and identifiers (:mod:`pipeline.text.numbers`: e-mails, licence plates, account ids,
   staff and certificate numbers, ID numbers, mobile and landline numbers, bank cards, other long
   numbers, in any spacing); addresses anchored on building / unit / room numbers, a road number
   or a village group (村二组38号), extended left over the place names before them; names
   (:mod:`pipeline.text.names`). A category switched off (``redaction.categories``) is still
   found, so that no other category takes its spans, and stays in the text.
4. :func:`redact` replaces each span with a placeholder ``[姓名1]``, numbered per type in order
   of first appearance: the same value gets the same placeholder throughout an interview. An
   informal form keeps its role word: only the surname of 马书记 or 小李 is replaced
   (``[姓名2]书记``, ``小[姓名3]``). Nothing after this step sees the raw text: units,
   questions, tokens, the cache, the logs and the error messages are made from the redacted text.
"""
from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.text.nameframes import spelled_characters
from pipeline.text.names import declared_names, find_names, occurrences
from pipeline.text.nametagger import NUMBER_TYPES, added_names, extended_end, marks_of, name_probabilities, vetoed
from pipeline.text.numbers import CN_DIGITS, KEEP, find_numbers, fold, id_check_digit, valid_id_number  # noqa: F401 (re-exported)
from pipeline.text.rules import PII_TYPES, Rules
from pipeline.text.segment import WORD_CHAR, Lexicon
from pipeline.text.traditional import simplified, simplified_tokens
from pipeline.text.turns import Parsed


CN_TABLE = str.maketrans(CN_DIGITS)
HAN_RUN = re.compile(r"[\u4e00-\u9fd5]")
# generic places of work said before a floor and a room (社区二楼204): an office, not a home's address
OFFICES = ("社区", "居委会", "村委会", "村部", "单位", "办公室", "医院", "卫生院", "学校", "公司", "派出所", "街道办", "服务中心")
DASHED = re.compile(r"(?:[“「\"]|(?:住|住址|地址|房号|门牌|门牌号)[是：:]?[ \t\u3000]*)"
                    r"(?<![\d\-])(\d{1,2}-\d{1,2}-\d{3,4})(?![\d\-.:/])")
# an address in English (field notes): a house, room or group number, more of them, then one or
# more named places of a kind (No. 6, Group 2, Yuanlong Village, Minning Town; Room 502, Building 3,
# Lihua Garden); a place's name alone (Minning Town) is no address
_EN_NUMBERED = r"(?:No\.|Number|Room|Rm\.|Flat|Apt\.|Unit|Building|Bldg\.|Block|Group|Team|Floor|Row|Lane)"
EN_ADDRESS = re.compile(rf"\b{_EN_NUMBERED} ?\d{{1,5}}[A-Za-z]?(?:,? {_EN_NUMBERED} ?\d{{1,5}}[A-Za-z]?)*"
                        r"(?:,? (?:[A-Z][a-z]+ ){1,3}(?:Village|Community|Compound|Road|Rd\.|Street|St\.|Lane|Avenue|"
                        r"Garden|Gardens|Estate|Residence|Town|Township|District|County|City))+")
COMPOUND_SUFFIXES = ("小区", "花园", "家园", "公寓", "苑", "大厦", "新村", "新城", "名苑", "雅苑")
COMPOUND_AFTER = re.compile(r"[\u4e00-\u9fd5]{1,6}?(?:" + "|".join(COMPOUND_SUFFIXES) + ")")   # after a house number
SUB_NUMBER = re.compile(r"之(?:[一二三四五六七八九十]{1,3}|[0-9]{1,3})")   # 16号之二: a house's sub-number
# two roads' crossing before a compound (万寿路与宁安大街交叉口亲水湾3-2-501): the 与 between them
CROSSING_AND = ("与", "和", "跟")
ROAD_ENDS = ("路", "街", "道", "巷")
CROSSING = re.compile(r"交叉口|交汇处|十字路口|路口")
PHASE = re.compile(r"[\d一二三四五六七八九十]{1,3}期")   # a compound built in phases: 悦湖家园二期
# an address said from the house outwards (15号，第七排，三区; 2单元501，6号楼，闽宁镇原隆村安置小区;
# 八号，二十三排，移民二区，红寺堡; 五〇一，七号楼一单元，康乐小区; 五组，四十六号，新庄集村，红寺堡区太阳山镇):
# a house (a group before it) or a room, then larger parts one by one after commas (a row, a building,
# a unit, a section, a group; two in one step), then perhaps one or two places' names; two steps at least
_NUM = r"(?:\d{1,4}|[一二三四五六七八九十百零〇两]{1,5})"
_PART = rf"第?{_NUM}(?:排|号楼|栋|幢|单元|组|队)"
_STEP = rf"[,，] ?(?:{_PART}(?:{_PART})?|[\u4e00-\u9fd5]{{0,3}}?{_NUM}区)"
_SAID_ROOM = r"(?:[零〇一二三四五六七八九幺洞两]{3,4}|\d{3,4})室?(?=[,，])"      # 五〇一，七号楼一单元，…
_PLACE = r"[,，] ?(?![在住到是于从去来回的把给就也都还叫说])[\u4e00-\u9fd5]{2,12}?(?:小区|家园|花园|新村|村|镇|乡|区|县|市)(?![\u4e00-\u9fd5])"
REVERSED = re.compile(rf"(?=[\d一二三四五六七八九十百零〇两幺洞])(?<![\d一二三四五六七八九十百零〇两幺洞])(?:"
                      rf"(?:{_NUM}号(?![楼院])|\d{{1,2}}单元\d{{3,4}}室?|{_SAID_ROOM})(?:{_STEP}){{1,3}}(?:{_PLACE}){{0,2}}"
                      rf"|{_NUM}(?:组|队)[,，] ?{_NUM}号(?![楼院])(?:{_STEP}){{0,2}}(?:{_PLACE}){{1,2}})")   # 五组，四十六号，新庄集村
# between two parts of one address said in pieces: a comma, a space, a filler
_FILLER = r"(?:嗯|呃|啊|额|哦|就是|那个)"
ADDRESS_GAP = re.compile(rf"[,，、 ]{{1,2}}(?:{_FILLER}[,，、… ]{{0,2}})?")
# gaps inside an address said in parts, closed before the anchors are searched again (and the
# spans mapped back): after a village, a group or a road, before the next part's number (原隆村，嗯，
# 八组，32号; 杨岭村四组，门牌是十七号; 毛家沟村，二组，第31号; 后川村二组（19）号), and single spaces
# between a number and its part's word or a place's name and a number (欣荣村 四 组 7 号; 北京中路 166 号)
_HOUSE_NUM = r"[\d一二三四五六七八九十百千零〇两幺洞]"
ADDRESS_SPLIT = re.compile(
    rf"(?<=[村组队社])[,，、 ]{{0,2}}(?:{_FILLER}[,，、… ]{{0,2}})?(?:门牌号?是?[ ]?)?(?:[（(](?={_HOUSE_NUM}{{1,4}}[）)]号))?"
    rf"(?=第?{_HOUSE_NUM}{{1,4}}(?:[）)]?号|组|队|社|排))"
    rf"|(?<={_HOUSE_NUM})[）)](?=号)"
    rf"|(?<=[\d一二三四五六七八九十零〇两幺洞]) (?=[号组队栋楼单元室排])"
    rf"|(?<=[\u4e00-\u9fd5]) (?=[\d一二三四五六七八九十零〇两幺洞]{{1,4}} ?[号组队栋单元室排])"
    rf"|(?<=[\u4e00-\u9fd5]) (?=小区|家园|花园)"
    rf"|(?<=[\u4e00-\u9fd5]) (?=\d{{1,2}}[-－—–]\d{{1,2}}[-－—–]\d{{3,4}}(?![\d\-－—–]))"     # 碧水蓝天 16-2-1103
    rf"|(?:(?<=小区)|(?<=家园)|(?<=花园)|(?<=苑)) (?=[东西南北]门|[\u4e00-\u9fd5]{{1,4}} ?[\d一二三四五六七八九十]{{1,4}} ?[号栋楼])"
    rf"|(?<=[东西南北]门) (?=对面|旁边)|(?<=对面|旁边) (?=商铺|底商|门面)|(?<=商铺|底商|门面) (?=[\d一二三四五六七八九十]{{1,4}} ?号)")
# a code's word right before an anchor's numbers: a pick-up or order code, not a flat (取件码8-2-3017)
# the ends of a county's or a region's name (化隆回族自治县, 阿拉善左旗): a stop character inside it stops nothing
ADMIN_ENDS = ("自治县", "自治州", "自治区", "自治旗", "县", "旗", "州")
TOWN_ENDS = ("镇", "乡", "苏木")
CODE_BEFORE = re.compile(r"(?:取件码|取货码|提货码|取餐码|验证码|密码|口令|单号|订单号|运单号)(?:就是|都是|[：: 是为]{0,2})$")
# a group closed off from its house only when a named village is right before it (杨岭村四组，门牌是十七号;
# not 我们村有五组，16号开会)
VILLAGE_GROUP = re.compile(rf"(?!我们|你们|他们|咱们|俺们|这个|那个)[\u4e00-\u9fd5]{{2}}村[,，、 ]{{0,2}}(?:{_FILLER}[,，、… ]{{0,2}})?第?"
                           rf"{_HOUSE_NUM}{{1,3}} ?[组队社]$")
NAMED_VILLAGE = re.compile(r"(?!我们|你们|他们|咱们|俺们|这个|那个)(?![这那每哪本全])[\u4e00-\u9fd5]{2}村$")   # 杨岭村, not 我们村
GROUP_NAMED = re.compile(r"群(?:名|的名字|名字)?(?:叫|是|为|：|:)[“\"「『]?$")   # before an address: a chat group's name
GROUP_CHAT = re.compile(r"(?:[\u4e00-\u9fd5]{0,3}|(?:(?![的地得在都也了是和跟把我你他她们里])[\u4e00-\u9fd5]){4,6})"
                        r"群(?![众体落租居])")      # after an address: the name of a chat group (原隆村五组网格服务群; not …2002搞群租)


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    type: str
    key: str = ""                               # the value its placeholder is numbered by ("": the text)


class _Taken:
    """Character positions already claimed by a span (2: by a name, 1: by anything else)."""

    def __init__(self, n: int):
        self.mask = bytearray(n)

    def free(self, start: int, end: int) -> bool:
        return not any(self.mask[start:end])

    def take(self, start: int, end: int, name: bool = False) -> None:
        self.mask[start:end] = (b"\x02" if name else b"\x01") * (end - start)

    def named(self, i: int) -> bool:
        return self.mask[i] == 2


def find_pii(text: str, parsed: Parsed, rules: Rules, tokens: list[str], lexicon: Lexicon,
             roster: Iterable[str] = (), tagger: Any = None) -> list[Span]:
    """Every personal-data span of a decoded transcript, sorted, not overlapping.

    ``tokens`` is jieba's segmentation of ``text`` (its pieces joined give ``text``). Only the
    turns are searched (and the header's name lines): the rest of the header is never output.
    Traditional characters are read as simplified ones (:mod:`pipeline.text.traditional`).
    """
    folded = simplified(text)
    text, tokens, roster = folded, simplified_tokens(text, folded, tokens), [simplified(r) for r in roster]
    region = min((t.label_span[0] for t in parsed.turns), default=len(text)) if parsed.turns else 0
    taken = _Taken(len(text))
    spans: list[Span] = []

    def add(start: int, end: int, typ: str, key: str = "", anywhere: bool = False) -> None:
        if typ in NUMBER_TYPES and start < end and taken.named(start):
            while start < end and (taken.named(start) or text[start].isspace()):
                start += 1                               # a name claimed first at its head (a roster's 苏海燕 before
            if not any(c.isdigit() or c in CN_DIGITS for c in text[start:end]):   # 苏海燕 2876541093): the rest
                return
        if (anywhere or start >= region) and start < end and taken.free(start, end):
            taken.take(start, end, typ == "name")
            if typ != KEEP and typ in rules.enabled:
                spans.append(Span(start, end, typ, key))

    for s, e in parsed.name_spans:                   # header name lines come before the region
        add(s, e, "name", anywhere=True)
    for name in declared_names(text, parsed, rules, roster):
        for _, _, s, e, key in occurrences(text, name, rules, region):
            add(s, e, "name", _role_key(text, s, e, key))
    for s, e, typ in find_numbers(text, rules):
        add(s, e, typ)
    starts = _token_starts(tokens)
    for s, e in _addresses(text, rules, tokens, starts, lexicon):
        add(s, e, "address")
    first_found = len(spans)
    for s, e, key in find_names(text, parsed, rules, tokens, starts, lexicon, region, taken):
        add(s, e, "name", _role_key(text, s, e, key))
    if tagger is not False and rules.name_tagger and "name" in rules.enabled:
        p = name_probabilities(text, tokens, starts, marks_of(len(text), [(sp.start, sp.end, sp.type) for sp in spans]),
                               region, rules, lexicon, tagger)
        spans[first_found:] = [sp for sp in spans[first_found:] if not vetoed(text, p, sp.start, sp.end, rules)]
        found = []
        for k in range(first_found, len(spans)):
            sp = spans[k]
            if sp.type == "name" and not sp.key:
                end = extended_end(text, p, sp.start, sp.end, taken.free, rules)
                if end > sp.end:
                    taken.take(sp.end, end, True)
                    spans[k] = Span(sp.start, end, "name")
                    found.append(text[sp.start:end])
        for s, e in added_names(text, p, taken.free, tokens, starts, rules, lexicon):
            add(s, e, "name")
            found.append(text[s:e])
        for name in dict.fromkeys(f for f in found if len(re.sub(r"\s+", "", f)) >= 2):   # its other mentions too
            for _, _, s, e, key in occurrences(text, name, rules, region):
                add(s, e, "name", _role_key(text, s, e, key))
    if "name" in rules.enabled:                      # a surname right before a given name found (妈妈狄海燕: 狄 + 海燕)
        for k, sp in enumerate(spans):
            if sp.type == "name" and not sp.key and _surname_before(text, sp.start, sp.end, spans, starts, rules, lexicon) \
                    and taken.free(sp.start - 1, sp.start):
                taken.take(sp.start - 1, sp.start, True)
                spans[k] = Span(sp.start - 1, sp.end, "name")
    if "name" in rules.enabled:                      # the characters of any name of the turn spelled out (秀气的秀)
        names = {re.sub(r"\s+", "", text[sp.start:sp.end]) for sp in spans if sp.type == "name"}
        for s, e in spelled_characters(text, names, region):
            add(s, e, "name")
    return _join_names(sorted(spans))


# jieba's tags of a character alone that make it a word of its own before a name, not a surname
# (把海燕叫来: 把 a preposition; 占, 答, 保: verbs; 代: a measure word)
NOT_SURNAME_TAGS = ("v", "p", "q", "d", "c", "u", "r", "m", "f", "y", "e", "o", "t", "vn", "ad")


def _surname_before(text: str, s: int, e: int, spans: list[Span], starts: list[int], rules: Rules, lexicon: Lexicon) -> bool:
    """A name of two characters (a given name: 海燕, 淑芳) whose character before is a surname of
    the lists (not a weak one: 和海燕) that is no word of its own by jieba's tags (狄 阎 萧 井), or
    that the turn names as a surname elsewhere (占老板 … 叫占海东), and starts a token of jieba's."""
    k = bisect.bisect_left(starts, s - 1)
    if e - s != 2 or s < 1 or k == len(starts) or starts[k] != s - 1:
        return False
    c = text[s - 1]
    if c in rules.weak_surnames:
        return False
    if any(sp.type == "name" and text[sp.start:sp.end] == c for sp in spans):
        return True
    entry = lexicon.get(c)
    return (c in rules.surnames or c in rules.rare_surnames) and not (entry and entry[1] in NOT_SURNAME_TAGS)


def _role_key(text: str, s: int, e: int, key: str) -> str:
    """``key`` when the span is part of it (the surname of 马书记), else ""."""
    return "" if re.sub(r"\s+", "", text[s:e]) == key else key


def _join_names(spans: list[Span]) -> list[Span]:
    """Name spans that touch become one (阿不都 + 热合曼), unless one keeps a role word."""
    out: list[Span] = []
    for sp in spans:
        last = out[-1] if out else None
        if last and sp.type == last.type == "name" and sp.start == last.end and not sp.key and not last.key:
            out[-1] = Span(last.start, sp.end, "name")
        else:
            out.append(sp)
    return out


def _token_starts(tokens: list[str]) -> list[int]:
    return list(itertools.accumulate(map(len, tokens[:-1]), initial=0)) if tokens else []


def _addresses(text: str, rules: Rules, tokens: list[str], starts: list[int], lexicon: Lexicon) -> list[tuple[int, int]]:
    """The addresses of :func:`_anchored_addresses` in the text, and in the text with the gaps of
    :data:`ADDRESS_SPLIT` closed (原隆村，嗯，八组，32号; 欣荣村 四 组 7 号; 北京中路 166 号: the parts
    said apart, the spaces of a form), mapped back; spans that touch or overlap are one."""
    found = _anchored_addresses(text, rules, tokens, starts, lexicon)
    keep = _split_gaps(text)
    if keep is not None:                                       # something to close
        compact = "".join(text[i] for i in keep)
        kept = set(keep)
        c_tokens = [t for t in ("".join(c for k, c in enumerate(tok, b) if k in kept) for tok, b in zip(tokens, starts)) if t]
        c_starts = list(itertools.accumulate(map(len, c_tokens[:-1]), initial=0)) if c_tokens else []
        found += [(keep[s], keep[e - 1] + 1) for s, e in _anchored_addresses(compact, rules, c_tokens, c_starts, lexicon)]
    merged: list[tuple[int, int]] = []
    for s, e in sorted(found):
        if merged and (s <= merged[-1][1] or ADDRESS_GAP.fullmatch(text, merged[-1][1], s)):
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))   # 利群东街38号，嗯，金海湾小区，四号楼…: one address
        else:
            merged.append((s, e))
    return merged


def _split_gaps(text: str) -> list[int] | None:
    """The positions of ``text`` kept when the gaps of :data:`ADDRESS_SPLIT` are closed (None: no gap)."""
    gaps = [m.span() for m in ADDRESS_SPLIT.finditer(text) if m.end() > m.start() and
            (text[m.start() - 1] not in "组队社" or VILLAGE_GROUP.search(text, max(0, m.start() - 14), m.start())) and
            (text[m.start() - 1] != "村" or NAMED_VILLAGE.search(text, max(0, m.start() - 3), m.start()))]
    if not gaps:
        return None
    keep, last = [], 0
    for s, e in gaps:
        keep.extend(range(last, s))
        last = e
    keep.extend(range(last, len(text)))
    return keep


def _anchored_addresses(text: str, rules: Rules, tokens: list[str], starts: list[int],
                        lexicon: Lexicon) -> list[tuple[int, int]]:
    """Addresses: a building/unit/room anchor, extended left token by token over place names
    (across a comma or a space after a place's name: 宁安镇,枸杞苑小区,8号楼; 朝阳街 12号院);
    anchors whose extensions touch are one address (路154号 + 小区32号楼5单元); a building's number
alone (3号楼) only after a place's name (满春小区14号楼; not 管8号楼, 负责7号楼). A stop character
    that ends a compound's name before its suffix does not stop the extension (天元锦都小区); a
    building-unit-room in dashes alone is an address in quotes or after 住/地址 (写了“3-1-101”)."""
    found = []
    for m in rules.address_re.finditer(text):
        start, end = m.start(), m.end()
        if m.group("seq") and not _sequence_ok(m.group("seq"), rules) or GROUP_CHAT.match(text, end):
            continue                                         # 幸福里3号楼邻里群: a chat group's name
        k = bisect.bisect_right(starts, start) - 1          # the token holding the anchor's first character
        if k < 0 or (m.group("cnroad") and not _road_before(tokens, starts, start, rules, lexicon)):
            continue
        limit = start - rules.address_max_prefix
        begin = starts[k] if starts[k] >= limit else start
        j = k - 1
        while j >= 0 and starts[j] >= limit:
            tok = tokens[j]
            if (tok in ",，、" or (not tok.strip() and "\n" not in tok)) and j > 0 and \
                    (tokens[j - 1].endswith(rules.place_after) or _phase(tokens, j - 1, rules)) and \
                    not _said_again(text, starts[j], starts[j + 1]):   # not 闽宁镇，闽宁镇原隆村…
                j -= 1                                       # 宁安镇,枸杞苑小区,8号楼; 朝阳街 12号院: commas, spaces
                continue                                     # (悦湖家园二期，17号楼: a compound's phase)
            if _name_ends_in_stop(tokens, j, rules):
                begin, j = starts[j], j - 1                  # 天元锦都小区, 丽都花园: 都 ends the compound's name
                continue
            if tok in CROSSING_AND and j > 0 and tokens[j - 1].endswith(ROAD_ENDS) and \
                    CROSSING.search(text, starts[j], start):
                j -= 1                                       # 万寿路与宁安大街交叉口亲水湾: two roads' crossing
                continue
            if not tok.strip() or all(c in rules.address_stop for c in tok) or not WORD_CHAR.search(tok):
                break
            stops = [n for n, c in enumerate(tok) if c in rules.address_stop]
            if stops and len(tok) >= 4 and tok.endswith(ADMIN_ENDS) and stops[0] > 0:   # 化隆回族自治县: a place's name
                stops = []                                   # with a stop character inside is no stop
            elif stops and j > 0 and tokens[j - 1].endswith(ADMIN_ENDS) and \
                    (tok.endswith(TOWN_ENDS) or tokens[j + 1].startswith(TOWN_ENDS)):
                stops = []                                   # 东乡县那勒寺镇: a town's name after its county's
            elif stops and j == k - 1 and len(tok) >= 2 and tok[-1] not in rules.address_stop and _noun(tok, lexicon):
                stops = []                                   # 紫薇田园都市K区: a noun of the dictionary (都市) right
                                                             # before the anchor, no adverb (not 住址 of 原住址…)
            if stops:                                        # 家在 丽景苑: from after the stop character
                begin = starts[j] + stops[-1] + 1
                break
            begin = starts[j]
            j -= 1
        while begin < start and text[begin] in rules.address_stop:
            begin += 1                                       # a stop character inside a mixed token
        if CODE_BEFORE.search(text, max(0, start - 8), start):
            continue                                         # 取件码8-2-3017: a parcel's pick-up code, not a flat
        if GROUP_NAMED.search(text, max(0, begin - 8), begin):
            continue                                         # 群名叫“怡园4栋一家亲”: a chat group's name
        if text[begin:start] in OFFICES and not re.search("号楼|栋|幢|单元|号院", m.group()):
            continue                                         # 社区二楼204: a room of an office, named by no place
        if m.group("seq") and _lone_building(m.group("seq"), rules) and not _place_named(text, begin, start, lexicon):
            continue                                         # 停在3号楼楼下, 负责7号楼: a building of the setting
        sub = SUB_NUMBER.match(text, end) if text[end - 1:end] == "号" else None
        if sub:
            end = sub.end()                                  # 大南路16号之二: the sub-number is the house's
        tail = COMPOUND_AFTER.match(text, end) if text[end - 1:end] == "号" else None
        if tail and not any(c in rules.address_stop for c in tail.group()):
            end = tail.end()                                 # 红旗大街178号红旗小区: the housing estate at the number
        found.append((begin, end))
    found.extend(m.span(1) for m in DASHED.finditer(text))     # “3-1-101”: building-unit-room in dashes alone
    found.extend(_reversed(text, rules))                         # 15号，第七排，三区: from the house outwards
    found.extend(m.span() for m in EN_ADDRESS.finditer(text))      # field notes in English: No. 6, Group 2, … Village
    return found


def _noun(tok: str, lexicon: Lexicon) -> bool:
    entry = lexicon.get(tok)
    return entry is not None and entry[1].startswith("n")


def _said_again(text: str, comma: int, after: int) -> bool:
    """The place's name before a comma said again right after it (闽宁镇，闽宁镇原隆村三组67号: a
    correction; the extension stops at the comma)."""
    return any(comma >= k and text[comma - k:comma] == text[after:after + k] for k in (2, 3))


def _reversed(text: str, rules: Rules) -> Iterator[tuple[int, int]]:
    """Addresses said from the house outwards (:data:`REVERSED`), with a place's name of the
    region after them (…，移民二区，红寺堡); two steps after the house, or one and a place's name."""
    for m in REVERSED.finditer(text):
        end = m.end()
        tail = re.match(r"[,，] ?", text[end:end + 2])
        if tail:
            place = next((p for p in rules.places if text.startswith(p, end + tail.end())), "")
            if place and not HAN_RUN.match(text, end + tail.end() + len(place)):
                end += tail.end() + len(place)
        steps = len(re.findall(r"[,，]", text[m.start():end]))
        if steps >= 2:
            yield m.start(), end


def _name_ends_in_stop(tokens: list[str], j: int, rules: Rules) -> bool:
    """``tokens[j]`` ends a compound's name with a stop character (都, 在), a compound's suffix after
    it: one character after a word of no stop character (天元 锦 都 小区), or the last of a word
    whose other characters are no stop characters (丽都 花园)."""
    tok = tokens[j]
    if len(tok) > 1:                                 # 丽都 花园: the stop character ends a word of the name
        return tok[-1] in rules.address_stop and j + 1 < len(tokens) and tokens[j + 1] in COMPOUND_SUFFIXES and \
            all("\u4e00" <= c <= "\u9fff" and c not in rules.address_stop for c in tok[:-1])
    return tok in rules.address_stop and "\u4e00" <= tok <= "\u9fff" and \
        j > 0 and j + 1 < len(tokens) and \
        tokens[j + 1] in COMPOUND_SUFFIXES and bool(WORD_CHAR.search(tokens[j - 1])) and \
        not any(c in rules.address_stop for c in tokens[j - 1])


def _phase(tokens: list[str], j: int, rules: Rules) -> bool:
    """``tokens[j]`` is a compound's phase (二期, 3期) after a place's name (悦湖家园二期)."""
    return bool(PHASE.fullmatch(tokens[j])) and j > 0 and tokens[j - 1].endswith(rules.place_after)


def _road_before(tokens: list[str], starts: list[int], start: int, rules: Rules, lexicon: Lexicon) -> bool:
    """A house number in Chinese numerals (新华东街一百二十号) follows a road's name, not a word
    that ends in 路/街/道 (知道三号, 他上街三号: a date may follow them): the word before it is
    no verb, adverb, numeral or adjective of jieba's dictionary, and is of three characters or
    more or has a word before it that is no function word (新华 东街; not 他 上街)."""
    k = bisect.bisect_right(starts, start - 1) - 1
    if k < 0:
        return False
    entry = lexicon.get(tokens[k])
    named = len(tokens[k]) >= 3 or (k > 0 and bool(WORD_CHAR.match(tokens[k - 1])) and
                                    not all(c in rules.address_stop for c in tokens[k - 1]))
    return named and (entry is None or not entry[1].startswith(("v", "d", "m", "a", "c", "p", "r")))


def _place_named(text: str, begin: int, start: int, lexicon: Lexicon) -> bool:
    """Two characters or more before a building's number that are no verb, adverb, pronoun ...
    of jieba's dictionary (满春小区14号楼; not 管8号楼, 负责7号楼)."""
    entry = lexicon.get(text[begin:start])
    return start - begin >= 2 and (entry is None or not entry[1].startswith(("v", "d", "m", "a", "c", "p", "r")))


def _lone_building(seq: str, rules: Rules) -> bool:
    """A sequence that is a building's number and nothing more (3号楼, 12栋)."""
    m = rules.address_part_re.match(seq.replace(" ", ""))
    return bool(m) and m.lastgroup == "b" and m.end() == len(seq.replace(" ", ""))


def _sequence_ok(seq: str, rules: Rules) -> bool:
    """A building / unit / floor / room sequence, in any order, that is an address: a building
    (a number with 号楼/栋/座..., alone only in digits: 12号楼, not 三栋), or a unit, room or zone
    with another part (2单元301, 东单元502, 5楼东户, C区12号), or a floor with a room number
    (3楼502); a unit of one character (2门) only after a building (5栋2门301, not 两门300)."""
    kinds, pos = [], 0
    seq = seq.replace(" ", "")
    for m in rules.address_part_re.finditer(seq):
        if m.start() != pos:
            break
        kinds.append(m.lastgroup)
        pos = m.end()
    bare = len(seq) - pos
    if "d" in kinds and "b" not in kinds:
        return False
    more = len(kinds) + bool(bare) > 1
    if "b" in kinds:
        return more or seq[0].isdigit() or seq[0].isascii()
    if "u" in kinds or "r" in kinds or "z" in kinds:
        return more
    return "f" in kinds and bare >= 3


# --------------------------------------------------------------------------------------------
# 4. placeholders
# --------------------------------------------------------------------------------------------
def _value_key(value: str, typ: str) -> str:
    """What makes two spans the same value: the digits of a number (a mobile's last 11, without
    +86), an e-mail or identifier case-folded, a name without its spaces."""
    value = fold(value)
    if typ in ("mobile", "landline", "id_number", "long_number", "bank_card"):
        digits = re.sub(r"[^0-9Xx]", "", value.translate(CN_TABLE)).upper()
        return digits[-11:] if typ == "mobile" else digits
    if typ in ("email", "account", "certificate", "staff_id", "plate"):
        return re.sub(r"[\s.\-]+", "", value).casefold()
    return re.sub(r"\s+", "", value)


def placeholders(text: str, spans: list[Span], rules: Rules) -> list[str]:
    """The placeholder of each span: per type, numbered by first appearance of its value."""
    numbers: dict[str, dict[str, int]] = {t: {} for t in PII_TYPES}
    out = []
    for sp in spans:
        table = numbers[sp.type]
        key = _value_key(sp.key or text[sp.start:sp.end], sp.type)
        if key not in table:
            table[key] = len(table) + 1
        out.append(rules.placeholder.format(label=rules.placeholder_labels[sp.type], n=table[key]))
    return out


def redact(text: str, start: int, end: int, spans: list[Span], marks: list[str]) -> str:
    """``text[start:end]`` with every span that touches it replaced by its placeholder."""
    out, pos = [], start
    k = max(0, bisect.bisect_left([s.end for s in spans], start + 1))
    while k < len(spans) and spans[k].start < end:
        sp = spans[k]
        if sp.end > start:
            if sp.start > pos:
                out.append(text[pos:sp.start])
            out.append(marks[k])
            pos = max(pos, sp.end)
        k += 1
    if pos < end:
        out.append(text[pos:end])
    return "".join(out)

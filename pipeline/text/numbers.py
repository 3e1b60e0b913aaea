"""Numbers and identifiers in a transcript: part of step 3 (see :mod:`pipeline.text.redact`).

:func:`find_numbers` returns spans of e-mail addresses, licence plates, account ids (WeChat,
QQ, ...), staff numbers, certificate numbers (passport, permit, social-security card), ID
numbers, mobile and landline numbers, bank card numbers and other long numbers, robust to how
people write them:

- the text is searched in a folded copy (:func:`fold`, one character for one): full-width
  digits, letters and punctuation as ASCII, every dash as ``-``, middle dots as ``.``;
- a number is a run of digits with any separators between them (spaces, dashes, dots, up to
  three in a row: ``0951 - 5028316``, ``139.0951.2233``), with an optional ``+86``/``0086``
  (in brackets too: ``(+86)``),
  an area code in brackets, a trailing ``X`` (ID numbers) and an extension (``转806``,
  ``-8012``, ``分机 12``); seven or more Chinese digits (``一三九零九五一...``) are a number too;
- a run is classified whole by its digits (:func:`classify`), never by a checksum alone: 18
  characters with a right ISO 7064 check character is an ID number, with a wrong one a long
  number (still redacted); 11 digits 1[3-9]x a mobile; a leading 0 and 10-12 digits a landline
  (more: with an extension); 16-19 digits passing the Luhn check, or after a bank-card word, a
  bank card; 7-8 digits shortly after a phone word a local landline; any other run of at least
  ``long_number_min_digits`` digits a long number;
- what is not personal data is claimed but kept: a masked number (all one digit,
  ``0000-00000000``), a 400/800 service number, a public service line of five digits after an
  area code (``0951-12345``), a run of years (``2019-2020``);
- identifiers made of letters and digits are found by the word before them (``微信号``, ``QQ``,
  ``工号``, ``护照``: the ``redaction.context`` lists of the config) or by their shape (a plate
  ``宁A·12345``; one or two capitals and 7-10 digits: ``E12345678``; a document's number with a
  year in brackets or ``字第``: ``宁（2021）银川市不动产权第0045218号``, ``房权证银字第00123号``; a
  disability certificate's number, an ID number and two digits: ``64040219611115117X42``; a file
  number of a region's six digits and capitals and digits between dashes: ``640303-DB-2019-0447``);
- dates of birth are :mod:`pipeline.text.dates`'; accounts named on a platform (a handle, a name on a
  platform after a word that names it, screen names told apart from people) are
  :mod:`pipeline.text.platformnames`';
- a number said in groups with commas (``幺三九，零九五一，二二三三``; Arabic digits only after a
  phone, ID or bank-card word: ``电话……155，0322，1291``) is one number when the groups together
  are a phone, an ID or a bank card number.

Spans come back as (start, end, type); type ``""`` is a claimed span that is not redacted (a
masked number, or a category switched off in ``redaction.categories``).
"""
from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator

from pipeline.text.dates import BIRTH_WORDS, DATE_TIME_RE, _before, mask_dates
from pipeline.text.platformnames import HANDLE_RE, platform_names
from pipeline.text.rules import Rules, _alternation

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
KEEP = ""                                        # the type of a claimed span that stays in the text

_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: " ", 0x00B7: ".", 0x2022: ".", 0x30FB: ".", 0x2027: ".", 0xFF65: "."})
_FOLD.update({c: "-" for c in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63)})
# digits as people say them: 幺 for 1 and 洞 for 0 (how numbers are read out on the phone), 两 for 2,
# 拐 for 7 and 勾 for 9 (the radio alphabet of the army and the police: 幺两三四五六拐八勾洞)
CN_DIGITS = {"〇": "0", "零": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5",
             "六": "6", "七": "7", "拐": "7", "八": "8", "九": "9", "勾": "9",
             # the capital numerals of cheques and forms (壹叁玖 零玖伍肆…): every numeral system is a number
             "壹": "1", "贰": "2", "叁": "3", "肆": "4", "伍": "5", "陆": "6", "柒": "7", "捌": "8", "玖": "9"}

SEP = r"[ \t.\-]"
RUN_RE = re.compile(
    r"(?<![\d])"
    r"(?P<cc>\(? ?(?:\+ ?|00)86 ?\)?" + SEP + r"{0,3}|86[ \-]{1,3}(?=1[3-9]))?"
    r"(?P<area>\( ?0?\d{2,3} ?\)" + SEP + r"{0,3})?"
    r"(?P<num>\d(?:(?:" + SEP + r"|[()]){0,3}\d)*)"         # 153 (0951) 4478: brackets a writer put in
    r"(?P<x>[ \-]{0,2}[Xx](?![A-Za-z0-9]))?"
    r"(?P<ext> {0,2}(?:转 ?分机|转|分机|ext\.?|EXT\.?) {0,2}\d(?: ?\d){0,4})?"     # 转 6 0 2: read one by one; 转分机8012
    r"(?!\d)")
_CN = "〇零洞一二三四五六七拐八九勾幺两壹贰叁肆伍陆柒捌玖"
HAN = re.compile(r"[\u4e00-\u9fff]")
# seven or more digits, Chinese or mixed with Arabic ones (一三八 0953 6627, 零九五一-5028316)
CN_RUN_RE = re.compile(r"(?<![\d" + _CN + r"])[\d" + _CN + r"](?:[ \t\-]{0,3}[\d" + _CN + r"]){6,}"
                       r"(?:[ \t\-]{0,2}[Xx叉](?![A-Za-z0-9]))?(?![\d" + _CN + r"])")     # an ID's X last (…三五三X, …五五零叉)
EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
                      r"(?![A-Za-z0-9])")
# an address read out: @ said as 艾特 / 圈a / at, a dot as 点, spaces around them
# (mxh2008 艾特 163.com, mayl 圈a qq 点 com); the domain must end in a known top-level name
_SAID_SEP = r"(?:[ \t]|, ?|、 ?)"      # between the characters spelled out: m a h u i, m，a，h，u，i
_AT, _DOT = r"[ \t,、]*(?:@|艾特|圈[aA]|小老鼠|at|AT)[ \t,、]*", r"[ \t]*(?:\.|点|dot|DOT)[ \t]*"
_DOMAIN = r"[A-Za-z0-9\-" + _CN + r"]+(?:[ \t][A-Za-z0-9\-" + _CN + r"]+){0,10}"   # 一六三 点 com, q q dot com: read out, spelled out
_UNDERSCORE = r"(?:下划线|下横线|底线|下杠|中划线|横杠|减号)"   # _ and - said: ningxia下划线hf
_LOCAL_CHARS = r"[A-Za-z0-9._%+\-" + _CN + r"]+"   # letters and digits, Chinese digits among them: maxiaolong八八
_LOCAL = r"(?:" + _LOCAL_CHARS + r"(?:" + _SAID_SEP + r"?" + _UNDERSCORE + _SAID_SEP + r"?" + _LOCAL_CHARS + r")*)"   # spelled out too: h u i x i a o l i 二零零八 艾特 …
SPOKEN_EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+\-])" + _LOCAL + r"(?:" + _SAID_SEP + _LOCAL + r"){0,40}" + _AT + _DOMAIN + r"(?:" + _DOT +
                             _DOMAIN + r")*?" + _DOT + r"(?:com|cn|net|org|edu|gov)(?:" + _DOT + r"cn)?(?![A-Za-z0-9])",
                             re.I)
# an official document's number (发文字号, GB/T 9704-2012: the issuer's code, the year in 〔〕, the
# number: 宁政发〔2017〕52号, 银政办发〔2019〕8号): a public document, not personal data (kept); not the
# number of a person's case: a court or arbitration case, an appraisal, a mediation, a ruling, a decision
# (银劳人仲案字〔2023〕第0417号, 宁工伤鉴字〔2016〕第0873号, 宁金调〔2024〕第0087号: it names its parties)
CASE_CHARS = "案鉴裁调仲诉执认决罚"
# a technical standard's number (GB 50028-2006, GB/T 50328-2014, JGJ 130-2011, ISO 9001, DB64/T 1234-2020):
# claimed and kept, no one's identifier (an outside user's gas-complaint letters had GB50028-2006 redacted)
# (the year after the dash is required but for ISO and IEC, so that 工号DL204517 stays a staff number)
STANDARD_RE = re.compile(r"(?<![A-Za-z])(?:(?:GB|GBJ|JGJ|CJJ|CJ|HJ|DL|NB|SL|TSG|YY|QB|JB|HG|DB\d{2})(?:/[TZ])?"
                         r"[ \t]?\d{2,6}(?:\.\d{1,3})*[-—–][ \t]?(?:19|20)\d{2}"
                         r"|(?:ISO|IEC)(?:/IEC)?[ \t]?\d{2,6}(?:\.\d{1,3})*(?:[-—–:：][ \t]?(?:19|20)\d{2})?)(?![\dA-Za-z])")
OFFICIAL_DOC_RE = re.compile(r"(?:(?![" + CASE_CHARS + r"的是在了和跟把就也都还说写叫上我你他她号证])[\u4e00-\u9fff]){1,6}[发函办令规字]"
                             r"〔 ?(?:19|20)\d\d ?〕 ?第?\d{1,5} ?号")
# ... unless a certificate's word names it (准营证号 宁清准字〔2021〕第0435号, 低保证号是海低保字〔2020〕第0367号):
# a word ending in 号 right before, not a document's (文号, 文件号, 发文字号)
DOC_WORD_RE = re.compile(r"(?:文|件|字)号码?[是为：:， ]{0,3}$")
# words before a date of birth: 8 digits that are a date after one of them (19620817) are personal data
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"   # one-character abbreviations
# a plate's five or six characters in any notation: letters, digits, Chinese digits (宁A幺六八二九);
# an electric bicycle's has 电 after the city's letter (宁A·电07523, 宁A 电 62159)
PLATE_RE = re.compile(r"[" + PROVINCES + r"][ \-]{0,2}[A-Za-z](?:, ?)?(?:[ .\-]{0,2}电)?(?:(?:[ .\-]{0,2}[A-Za-z0-9" + _CN + r"]){5,6}"
                      r"(?![A-Za-z0-9" + _CN + r"])"       # a separator anywhere: 宁A·52J36, 宁AD 68159, 宁B，洞七五三二, 宁 D，幺洞七五三
                      r"|(?:[ .\-]?[A-Za-z0-9" + _CN + r"]){4,5} ?[挂学警领])")   # a trailer's, a learner's: 宁B·3175挂
# a plate said in groups with commas between them: 宁D，三，K，五八二 (five or six characters in all, counted by
# :func:`_said_plate_end`; PLATE_RE allows a comma only after the city's letter)
PLATE_SAID_RE = re.compile(r"[" + PROVINCES + r"] ?[A-Za-z](?:, ?[A-Za-z0-9" + _CN + r"]{1,5}){2,6}(?![A-Za-z0-9" + _CN + r"])")
# a court's case number: (year), the court's code, the kind of case (刑初, 民终, 执 ...), its number: (2024)宁0202刑初87号;
# it names a case and so its parties, whatever word comes before it (unlike OFFICIAL_DOC_RE's public documents)
COURT_CASE_RE = re.compile(r"[(（\[〔【] ?(?:19|20)\d\d ?[)）\]〕】] ?[" + PROVINCES + r"]\d{2,4}[\u4e00-\u9fff]{1,4}\d{1,6} ?号")
# a farm vehicle's plate (拖拉机, 农用车: the province, the city's two digits, five digits): 宁04-18273
FARM_PLATE_RE = re.compile(r"[" + PROVINCES + r"] ?\d{2} ?[\-－—–·. ] ?\d{5}(?![\d\-－—–])")
CERT_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{1,2} ?(?:\d{7,18}|\d(?:[ \t]\d){6,17}|\d{2,6}(?:[ \t]\d{2,6}){1,3})(?![A-Za-z0-9]|-\d)")   # H64030200218756, EA 3258071,
# B 7 2 0 9 3 1 5 6 (read one digit at a time), E 8623 1907 (in groups: a passport's 7-10 digits in all,
# checked where it is used); not DB6403022019 of …-0417
_DOC_HAN = r"(?:(?![的是在了和跟把就也都还说写叫上我你他她])[\u4e00-\u9fff])"
_DOC_ISSUER = r"(?:(?![的是在了和跟把就也都还说写叫上我你他她号证])[\u4e00-\u9fff])"     # not 证号 before 宁民低（永）
_DOC_PLACE = r"(?:(?![的是在了和跟把就也都还说写叫上我你他她号])[\u4e00-\u9fff])"    # 银房权证兴庆区 (not 证号 before it)
DOC_NO_RE = re.compile(                          # a document's number: property deed, land or court file
    r"(?:[" + PROVINCES + r"]?" + _DOC_PLACE + r"{0,6}(?:[(（]" + _DOC_PLACE + r"{1,4}[)）]" + _DOC_PLACE + r"{0,4})?"
    r"[用证字" + CASE_CHARS + r"]|[" + PROVINCES + r"]"     # 银兴民低字（2021）第00358号, 宁人社工伤认字〔2018〕第2217号, 石公（长胜）受案字〔2024〕10482号
    r"|" + _DOC_PLACE + r"{1,6}(?=[(\[〔【] ?(?:19|20)\d\d ?[)\]〕】] ?第))?"     # any issuer before 〔year〕第: 银西教转〔2024〕第112号
    r"[(\[〔【] ?(?:19|20)\d\d ?[)\]〕】] ?(?:(?:" + _DOC_HAN + r"|\d){0,16}?第? ?\d{3,}|第 ?\d{1,2}) ?号"     # 宁(2021)银川市不动产权第0045218号, 海农仲字〔2023〕第9号
    r"|(?:[(（][" + PROVINCES + r"][A-Za-z]?[)）])?[" + PROVINCES + r"]?" + _DOC_PLACE + r"{0,8}字 ?(?:(?:19|20)\d\d ?)?(?:第 ?\d(?:[ \-－—–]?\d){2,30}|\d(?:[ \-－—–]?\d){4,30}) ?号"   # 银房权证字第00123号, 字第2021-0517号, 宁房权证同字第 2016-04417 号, (宁D)动防合字第…号
    r"|" + _DOC_ISSUER + r"{1,5}[(\[〔【]" + _DOC_ISSUER + r"{1,3}[)\]〕】]字 ?(?:19|20)\d\d ?第 ?\d{3,} ?号")  # 宁民低（永）字2021第00347号
# a document's number read out in Chinese digits (石人社工伤认字二零一一年第零零八七号)
CN_DOC_RE = re.compile(_DOC_PLACE + r"{1,8}字 ?[" + _CN + r"]{4}年? ?第 ?[" + _CN + r"]{1,6} ?号")
# a case's decision with a short number and no 第 (盐市监处罚〔2024〕27号: a penalty names the one punished;
# a public document's, 宁政发〔2017〕52号, has no case character before its year)
CASE_DOC_RE = re.compile(_DOC_PLACE + r"{0,8}[" + CASE_CHARS + r"]字?[(\[〔【] ?(?:19|20)\d\d ?[)\]〕】] ?\d{1,5} ?号")
# a certificate's number of letters or a province, an issuer's word and 字, the year and a serial
# between dashes, with no 第 or 号 (保安员证 NX保字2018-0347, 宁保字 2019-1123)
SERIAL_DOC_RE = re.compile(r"(?<![A-Za-z])(?:[A-Z]{1,3}|[" + PROVINCES + r"])" + _DOC_PLACE + r"{0,4}字 ?(?:19|20)\d\d ?[-－—–] ?\d{3,6}"
                           r"(?![\d\-－—–])")
# a unified social credit code (统一社会信用代码, GB 32100-2015) with a letter in it: registration
# authority and type, a 6-digit division code, the 9-character organisation code, the check character
# (an individual business's code, 92..., names a person); all digits, it is a number run like any other
_USCC = "0-9A-HJ-NPQRTUWXY"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_RE = re.compile(rf"(?<![A-Za-z0-9])(?=[0-9]{{0,16}}[A-Za-z])[{_USCC}]{{2}}\d{{6}}[{_USCC}]{{10}}(?![A-Za-z0-9])", re.I)
# a lettered file number: capitals, digits and dashes, starting with capitals, with six digits or
# more and two letters or a dash (DB6403022019-0417, HY-DB-2022-01157, NX2023PX06118)
# a file number that starts with a region's six digits, then capitals and digits between dashes
# (640303-DB-2019-0447, 640121-MN-DB-2023-0612: a county's assistance file)
REGION_FILE_RE = re.compile(r"(?<![A-Za-z0-9\-])\d{6}(?:-[A-Z]{1,4}){1,3}(?:-\d{2,8}){1,3}(?![A-Za-z0-9]|-[A-Za-z0-9])")
LETTERED_RE = re.compile(r"(?<![A-Za-z0-9_.@\-])[A-Z]{1,5}(?:-?[A-Z0-9]){5,30}(?![A-Za-z0-9_@]|-[A-Za-z0-9])")
TOKEN = r"[A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,38}[A-Za-z0-9])?"
# digits with one or two capitals inside (a medical-insurance or other card's number: 640302B0038571)
INNER_LETTER_RE = re.compile(r"(?<![A-Za-z0-9_.@\-])\d{4,}[A-Z]{1,2}\d{4,}[A-Z]?(?![A-Za-z0-9_@]|-[A-Za-z0-9])")
SPACED = r"[A-Za-z0-9](?:(?:[ \t]|[ \t]?[\-_][ \t]?)[A-Za-z0-9]){3,}(?![A-Za-z0-9])"   # one character at a time: 0 0 7 3 1 6, Q F Y - 1 1 3
# a WeChat id as the app makes it (wxid_ and letters and digits): an account with no word before it
WXID_RE = re.compile(r"(?<![A-Za-z0-9_])wxid_[A-Za-z0-9_\-]{6,30}(?![A-Za-z0-9_])", re.I)
# a number said in groups of Chinese (or Arabic) digits with commas between them (幺三九，零九五一，
# 二二三三), a filler said between two groups too (幺三九，呃，零九五一): one number when the groups
# together are a phone or an ID number
_GROUP_FILLER = r"(?:嗯|呃|额|啊|哦|那个|这个|就是|(?:前头|前面|中间|后头|后面|最后)是?)"   # …，中间是零九五一，后头八八一二
_GROUP_SEP = r"(?:[,、] ?(?:" + _GROUP_FILLER + r" ?[,、…]* ?)?|…+ ?)"
GROUPED_RE = re.compile(r"(?<![\d" + _CN + r"])[\d" + _CN + r"]{2,6}(?:" + _GROUP_SEP + r"[\d" + _CN + r"]{2,8}){1,5}"
                        r"(?:[,、] ?[Xx叉](?![A-Za-z]))?(?![\d" + _CN + r"])")   # …，零三八，X: an ID's X as a group        # groups of any size (幺八九，五幺洞，两六三，七四; 零九五三，八零三二七五一)
LETTER_HEAD_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2,4}) ?$")   # the capitals before a number: its prefix
GROUPED_EXT_RE = re.compile(r"(?:[,、 ]{0,2}(?:转 ?分机|转|分机)[,、 ]{0,2}[\d" + _CN + r"](?: ?[\d" + _CN + r"]){0,4}(?![\d" + _CN + r"])"
                            r"|[（(](?:转 ?分机|转|分机)[：: ]?[\d" + _CN + r"]{1,5}[）)])")   # 0955-6812049（分机206）
# a number broken by a filler (180 9510……呃……4421): the parts joined when together they are a mobile
_PART = r"\d(?:[ \-]?\d)*"
FILLED_RE = re.compile(rf"(?<![\d])({_PART})((?:[ \t,、.…~\-]|呃|嗯|额|啊|哦|那个|这个|就是){{1,10}})({_PART})(?![\d])")
FILLERS = ("…", "呃", "嗯", "额", "啊", "哦", "那个", "这个", "就是")
# a staff number by its shape (two or three capitals and four to six digits: WG0317) near a role or a
# staff word, though not right after it (工号……原来是WG0317)
STAFF_SHAPE_RE = re.compile(r"(?<![A-Za-z0-9_@.\-])(?:(?:[A-Z]{2,3}-){0,2}(?:[A-Z]{2,4}-?|[A-Z]{2,3}-[A-Z]-|[A-Z]-)\d(?: ?\d){3,5}"
                            r"|[A-Z]{2,4}-[A-Z]{2,4}-\d{3})"       # two groups of letters: three digits will do (LWDT-WG-031)
                            r"(?![A-Za-z0-9_@]|-\d|[ \t]\d{3})")   # YN-MN-0417, YC-T-0529 (a one-letter group only after a longer one), JF-WG-0 2 1 7,
# NDHG-20417, N-1127; not the head of a number said on in groups (单号YT7512 8830 4417 2: a long number)
# an account id by its shape (letters then digits, lower case: mxl1965, ma_yl88) near an account word,
# though not right after it (微信号是丫头给我弄的 mxl1965)
ACCOUNT_SHAPE_RE = re.compile(r"(?<![A-Za-z0-9_@.\-])(?:[a-z][a-z_]{1,15}\d{2,10}|[a-z]{2,15}(?:_[a-z0-9]{2,15}){1,3})"
                              r"(?![A-Za-z0-9_@])")                  # and words joined by _ (jingyuan_maiyan)
# a disability certificate's number (残疾人证号): the holder's ID number and two digits (category, grade)
DISABILITY_RE = re.compile(r"(?<![A-Za-z0-9])\d{17}[\dXx]\d{2}(?![A-Za-z0-9])")
GROUPED_WINDOW = 16                                      # Arabic digits in groups: a phone, ID or card word this close before
# an identifier said again to correct it (编号是YN-MN-0471？不对，0417): digits after 不对/不是/错了
CORRECTION_RE = re.compile(r"(?:不对|不是|错了)[,，:： 是就]{0,3}(\d{3,8})(?![\dA-Za-z])")
# a correction right before a number (……哎不对，是19631030)
CORRECTED_RE = re.compile(r"(?:不对|不是|错了)[，,：: ]{0,2}是?$")
# a word that names the number after it (seven digits or more): …号 or …号码 (住院号, 服务监督卡号,
# 订单号码), not a numeral's 号 (3号, 三号楼), with up to three characters between (是, a colon)
NUMBER_WORD_RE = re.compile(r"(?<![\d" + _CN + r"几])[\u4e00-\u9fff]号码?[是为：:， ]{0,3}$")
# a person said to be the code (他是LT-WG-0363): a staff number whatever word is far before
PERSON_IS_RE = re.compile(r"[他她我你](?:的)?(?:是|叫)[：: ]?$")
STAFF_NEAR = 24                                          # characters before the shape searched for the word
YEAR_GROUPS = re.compile(r"(?:19|20)\d\d(?:" + SEP + r"{1,3}(?:19|20)\d\d)+")
DOC_NO_END = re.compile(r"(?:\d{3}|第 ?\d{1,2}) ?号")      # how every match of DOC_NO_RE ends
# a letter O between digits is a zero typed or transcribed wrong (186 O952 7731, 1O86): one
# character for one, a digit on each side (a space or dash between allowed)
LETTER_ZERO_RE = re.compile(r"(?:(?<=\d)|(?<=\d[ \-]))[Oo](?=[ \-]?\d)")


def fold(text: str) -> str:
    """``text`` with full-width ASCII, dashes and middle dots made ASCII, and a letter O between
    digits made a zero, one character for one."""
    folded = text.translate(_FOLD)
    return LETTER_ZERO_RE.sub("0", folded) if ("O" in folded or "o" in folded) else folded


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number's first 17 digits."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def valid_id_number(value: str) -> bool:
    """An 18-character resident ID number whose check character is right (x or X)."""
    value = re.sub(r"[^0-9Xx]", "", value).upper()
    return bool(re.fullmatch(r"\d{17}[\dX]", value)) and id_check_digit(value[:17]) == value[17]


def credit_code_check(first17: str) -> str:
    """The check character of a unified social credit code's first 17 characters (GB 32100-2015:
    weights 3^(i-1) mod 31 over the 31 characters of :data:`USCC_CHARS`). Known, never trusted:
    a code with a wrong check character is redacted all the same."""
    total = sum(USCC_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(first17.upper()))
    return USCC_CHARS[(31 - total % 31) % 31]


def _lettered(value: str) -> bool:
    """A lettered file number rather than a word or a model name: six digits or more, and two
    letters or a dash."""
    return sum(c.isdigit() for c in value) >= 6 and (sum(c.isalpha() for c in value) >= 2 or "-" in value or
                                                     valid_id_number(value[1:]))    # G + an ID number: a student number


def birth_date(digits: str) -> bool:
    """Eight digits that are a date of the last two centuries, YYYYMMDD (19620817)."""
    return len(digits) == 8 and digits[:2] in ("19", "20") and "01" <= digits[4:6] <= "12" and "01" <= digits[6:] <= "31"


def luhn(digits: str) -> bool:
    """The Luhn check of a bank card number."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def classify(digits: str, text: str, start: int, rules: Rules, *, cc: bool = False, area: bool = False,
             groups: tuple[str, ...] = ()) -> tuple[str | None, int]:
    """The type of a number (its digits, an ``X`` last for an ID number) that starts at
    ``start`` of ``text``: (type, digits of an extension at its end); type None: no personal
    data, :data:`KEEP`: claimed but kept (masked, service number, years)."""
    n = len(digits)
    core = digits.rstrip("Xx")
    if n >= 5 and len(set(core)) == 1:
        return KEEP, 0                                   # 0000-00000000: a mask
    if cc:
        if n == 11 and core[0] == "1" and core[1] in "3456789":
            return "mobile", 0
        return ("landline", 0) if 9 <= n <= 11 and core[0] != "0" else ("long_number", 0)
    if area:
        if 7 <= n <= 8:
            return "landline", 0
        if groups and 7 <= n - len(groups[-1]) <= 8 and len(groups[-1]) <= 5 and len(groups) > 1:
            return "landline", len(groups[-1])
    if n == 18 and (core.isdigit() or len(core) == 17):
        if valid_id_number(digits):
            return "id_number", 0
        if core.isdigit() and luhn(core) and core[0] in "3456":
            return "bank_card", 0
        return "long_number", 0
    if not core.isdigit():
        return None, 0
    if n == 11 and core[0] == "1" and core[1] in "3456789":
        return "mobile", 0
    if core[0] == "0" and n >= 10:
        if n <= 12:
            return "landline", 0
        if groups and len(groups) > 1 and len(groups[-1]) <= 5 and 10 <= n - len(groups[-1]) <= 12:
            return "landline", len(groups[-1])
    if n == 10 and core[:3] in ("400", "800"):
        return KEEP, 0                                   # a company's service number
    if len(groups) == 2 and groups[0][0] == "0" and len(groups[0]) in (3, 4) and len(groups[1]) == 5 and \
            groups[1][0] in "19":
        return KEEP, 0                                   # 0951-12345: a public service line (12345, 96xxx) with its area code
    if 16 <= n <= 19 and (luhn(core) or _before(text, start, rules.context["bank_card"], 12)):
        return "bank_card", 0
    if 15 <= n <= 19 and _before(text, start, rules.context["bank_card"], 12):
        return "bank_card", 0
    if rules.long_min and n >= rules.long_min:
        return "long_number", 0
    if n == 8 and birth_date(core) and (_before(text, start, BIRTH_WORDS, 8) or (
            _before(text, start, BIRTH_WORDS, 30) and CORRECTED_RE.search(text, max(0, start - 8), start))):
        return "long_number", 0                          # 生日是19620817 (……哎不对，是19631030): a date of birth
    if 7 <= n <= 8 and rules.phone_words and _before(text, start, rules.phone_words, rules.phone_window):
        return "landline", 0
    if n >= 7 and NUMBER_WORD_RE.search(text, max(0, start - 8), start):
        return "long_number", 0                          # 住院号0823457: a number a word ending in 号 names
    return None, 0


# an identifier whose word is a clause before it: in the same sentence, at most FAR_GAP characters
# between them and no other number (他警号我看了一眼，是064583), or the word ends the question the
# number answers (问：写了他的警号？ 答：写了，064702); the fewest digits of each type
FAR_GAP = 14
FAR_STUCK_RE = re.compile(r"[A-Za-z_@]|[-－—–.][A-Za-z0-9]")       # a part of a longer code (640303-DB-…)
FAR_CALL = ("打", "拨", "电话", "热线", "手机", "座机")
FAR_LEAST = {"staff_id": 4, "account": 5, "certificate": 6}
_CLAUSE = r"[^。！!；;？?\n\dA-Za-z]"
# after a number: a count or a date, not an identifier (2019年, 3000块, 12号楼)
FAR_UNIT_RE = re.compile(r"[\d" + _CN + r" \t\-－—–.]*[年月日号岁块元个人次天米斤亩平层楼户期届级栋%百千万亿多余来几]")
FAR_GAP_RE = re.compile(rf"{_CLAUSE}*(?:[？?][ \t]*(?:\n[ \t]*)?(?:[^：:\s]{{1,6}}[：:][ \t]*)?{_CLAUSE}*)?")


def _far_context(text: str, start: int, rules: Rules) -> str | None:
    """The type whose context word (:func:`_context_ids`' words) is nearest before ``start`` with
    only a clause of :data:`FAR_GAP_RE` between (None: none)."""
    before = text[max(0, start - FAR_GAP - 8): start]
    best: tuple[int, str] | None = None
    for typ in FAR_LEAST:
        for w in rules.context[typ]:
            k = before.rfind(w)
            if k > 0 and w[0].isascii() and before[k - 1].isascii() and before[k - 1].isalnum():
                continue                                 # id of video
            if k >= 0 and (best is None or k + len(w) > best[0]):
                best = (k + len(w), typ)
    if best is None or FAR_UNIT_RE.match(text, start):
        return None
    gap = before[best[0]:]
    if len(gap) > FAR_GAP or not FAR_GAP_RE.fullmatch(gap) or any(w in gap for w in FAR_CALL):
        return None                                      # 编号，大家可以打96156: a number to call
    return best[1]


def _runs(folded: str, text: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    """Digit runs classified (see :func:`classify`); a long run of several numbers separated by
    spaces is split when every part is a number of its own (two mobiles in a row)."""
    for m in RUN_RE.finditer(folded):
        num = m.group("num")
        if YEAR_GROUPS.fullmatch(num):
            yield m.start(), m.end(), KEEP
            continue
        groups = tuple(g for g in re.split(r"(?:" + SEP + r"|[()])+", num) if g)
        digits = "".join(groups)
        has_x = bool(m.group("x"))
        if has_x and len(digits) == 17:
            digits += "X"
        typ, ext = classify(digits, text, m.start(), rules, cc=bool(m.group("cc")), area=bool(m.group("area")),
                            groups=groups)
        end = m.end("num") + (len(m.group("x")) if has_x and digits.endswith("X") else 0)
        if typ is None and len(digits) <= 12 and digits.isdigit() and not FAR_STUCK_RE.match(folded, m.end()) and \
                not _service_line(digits):
            typ = _far_context(text, m.start(), rules)   # 他警号我看了一眼，是064583
            typ = typ if typ and len(digits) >= FAR_LEAST[typ] else None
        if typ == "landline" and m.group("ext"):
            end = m.end("ext")
        if typ == "long_number" and not m.group("cc") and not m.group("area") and re.search(r"\s", num):
            parts = list(_split(folded, m.start("num"), num, text, rules))
            if any(p[2] not in (None, KEEP, "long_number") for p in parts):
                yield from (p for p in parts if p[2] is not None)      # C001 6401041960...: the ID alone
                continue
        if typ is not None:
            yield m.start(), end, typ


def _split(folded: str, base: int, num: str, text: str, rules: Rules) -> Iterator[tuple[int, int, str | None]]:
    for part in re.finditer(r"\S+", num):
        digits = re.sub(r"\D", "", part.group())
        typ, _ = classify(digits, text, base + part.start(), rules)
        yield base + part.start(), base + part.end(), typ


def _chinese_runs(folded: str, text: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    """Numbers said in Chinese digits, alone or mixed with Arabic ones (``一三八 0953 6627``,
    ``零九五幺 5028316``), classified like any run (:func:`classify`). A mixed run needs three
    Chinese digits, so that a numeral before a number (老三 and a mobile's eleven digits) stays out of it."""
    for m in CN_RUN_RE.finditer(folded):
        value, end = m.group(), m.end()
        if value.endswith("两") and HAN.match(folded[end:end + 1]):
            value = value[:-1].rstrip(" \t-")                  # 2019两年: 两 counts the years
            end = m.start() + len(value)
        n_cn = sum(c in CN_DIGITS for c in value)
        interleaved = re.search(r"\d[ \t\-]?[" + _CN + r"]", value) is not None    # 幺5幺0954 2837
        if n_cn < 3 and not interleaved:
            continue
        digits = "".join(CN_DIGITS.get(c, c) for c in value if c.isdigit() or c in CN_DIGITS)
        if value[-1] in "Xx叉":
            if len(digits) != 17:
                value = value[:-1].rstrip(" \t-")             # an X after no ID number is no part of it
                end = m.start() + len(value)
            else:
                digits += "X"                                  # 六四零…三五三X: an ID number's check character
        if YEAR_GROUPS.fullmatch(" ".join(re.split(r"[ \t\-]+", value.translate(str.maketrans(CN_DIGITS))))):
            yield m.start(), end, KEEP                       # 二〇一九 2020: years
            continue
        typ, _ = classify(digits, text, m.start(), rules)
        if typ is None and len(digits) >= 5 and _before(folded, m.start(), rules.context["account"], STAFF_NEAR):
            typ = "account"                                  # QQ……号是七五三八二九一六: said digit by digit, no amount
        if typ is None and 7 <= len(digits) <= 8 and _before(folded, m.start(), rules.phone_words, STAFF_NEAR):
            typ = "landline"                                 # 固定电话还有吗？……以前是五零一三二八七: the question's word
        if typ is not None:
            yield m.start(), end, typ


def _grouped(folded: str, text: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    """A number said in groups with commas between them (幺三九，零九五一，二二三三): one span when
    the groups hold three Chinese digits or more (Arabic digits: a phone, ID or bank-card word
    shortly before) and together are a mobile, a landline, an ID number or a bank card (a list of
    amounts is none of these)."""
    words = (*rules.phone_words, *rules.context["bank_card"], "身份证")
    for m in GROUPED_RE.finditer(folded):
        value = m.group()
        if sum(c in CN_DIGITS for c in value) < 3 and not _before(folded, m.start(), words, GROUPED_WINDOW):
            continue                                      # 电话我记在门后头了，155，0322，1291
        groups = list(re.finditer(r"[\d" + _CN + r"]+|[Xx叉]", value))
        cut = next((k for k, g in enumerate(groups) if _service_line(_digits_of(g.group()))), len(groups))
        if cut < 2:
            continue                                      # 打过12345，110: public lines listed, no one number
        end = m.start() + groups[cut - 1].end()            # 一八九，零九五二，六六零三，12345那边: the number before the line
        digits = "".join(_digits_of(g.group()) for g in groups[:cut])
        typ, _ = classify(digits, text, m.start(), rules)
        if typ in ("mobile", "landline", "id_number", "bank_card"):
            yield m.start(), end, typ                     # (a landline's extension: find_numbers adds it)


SHARED_MAILBOXES = frozenset(("service", "services", "info", "admin", "contact", "support", "office", "kefu", "hr",
                              "noreply", "webmaster", "postmaster", "help", "feedback", "sales", "press", "jobs", "public"))


def _shared_mailbox(address: str) -> bool:
    """An e-mail address whose name is an office's (service@…, wy_service@…, kefu@…: a word of
    :data:`SHARED_MAILBOXES` last in the name, no digit in it): no person's (hr.wang@… is one)."""
    local = address.split("@", 1)[0].casefold()
    return "@" in address and not any(c.isdigit() for c in local) and re.split(r"[._\-]+", local)[-1] in SHARED_MAILBOXES


# a prefix of Chinese characters before a certificate's number, its issuer's abbreviation (宁银居
# 640105 2023 008137: 宁 for Ningxia, 银 for Yinchuan, 居 for a residence permit), right after 号 (证号, 编号是)
CN_HEAD_RE = re.compile(r"(?:(?<=号)|(?<=号是)|(?<=号：)|(?<=号:))[" + PROVINCES + r"][\u4e00-\u9fff]{1,3} ?$")   # not 已报：苏海燕 2876541093


def _digits_of(group: str) -> str:
    """A group said as digits (Chinese ones as ASCII; an ID's 叉 or x as X)."""
    return "".join("X" if c in "Xx叉" else CN_DIGITS.get(c, c) for c in group)


def _service_line(digits: str) -> bool:
    """A public service line said alone: 110, 119, 120, 122, or five digits starting 12, 95 or 96
    (12345, 95598, 96333)."""
    return digits in ("110", "119", "120", "122") or (len(digits) == 5 and digits[:2] in ("12", "95", "96"))


def _filled(folded: str, text: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    """A mobile said with a filler inside (180 9510……呃……4421): the parts are no number alone."""
    for m in FILLED_RE.finditer(folded):
        if not any(f in m.group(2) for f in FILLERS):
            continue
        digits = re.sub(r"\D", "", m.group(1) + m.group(3))
        typ, _ = classify(digits, text, m.start(), rules)
        if typ == "mobile":
            yield m.start(), m.end(), typ


def _staff_shapes(folded: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    """Two or three capitals and four to six digits after a staff word or a role (工号, 网格员, 保安)
    in the same stretch of text: a staff number."""
    words = (*rules.context["staff_id"], *rules.titles)
    for m in STAFF_SHAPE_RE.finditer(folded):
        before = folded[max(0, m.start() - STAFF_NEAR):m.start()]
        if m.group()[1] == "-":                          # one capital (N-1127): after a staff word only, not a role
            if any(w in before for w in rules.context["staff_id"]):   # (网格员……住在B-1102 is a room)
                yield m.start(), m.end(), "staff_id"
        elif any(w in before for w in words) or NUMBER_WORD_RE.search(before) or PERSON_IS_RE.search(before):
            yield m.start(), m.end(), "staff_id"


def _account_shapes(folded: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    """Letters and digits shaped like an account id (mxl1965) after an account word (微信, QQ) in
    the same stretch of text: an account; words joined by _ (nxgq_dingjie, ma_yl88) with no word."""
    words = rules.context["account"]
    for m in ACCOUNT_SHAPE_RE.finditer(folded):
        before = folded[max(0, m.start() - STAFF_NEAR):m.start()]
        if "_" in m.group() or any(w in before for w in words):
            yield m.start(), m.end(), "account"


# an account id spelled out, its letters one by one or together, then digits read out in groups
# (d-i-n-g-l-i-n-g 零八二六, h x y 七二零三一五, w-j-h 下划线 幺九八二, meixy 幺九九零): after an
# account word in the same stretch of text
# (letters may be set off by spaces, dashes or 、: n、a、x、d; digits one by one: 1 9 6 5, 六 六 八 八)
_SPELLED = r"[A-Za-z](?:(?:[ \-]|、 ?)?[A-Za-z]){0,19}"
_SAID_US = r" ?[，,、]? ?(?:_|" + _UNDERSCORE[3:-1] + r") ?[，,、]? ?"
SPOKEN_ACCOUNT_RE = re.compile(r"(?<![A-Za-z0-9_@.\-])" + _SPELLED + r"(?:" + _SAID_US + _SPELLED + r")*(?:" + _SAID_US + r"| ?)"
                               r"[0-9" + _CN + r"]{1,10}(?:[ \t][0-9" + _CN + r"]{1,10}){0,9}"
                               r"(?:(?:[ \t]|" + _SAID_US + r")[A-Za-z](?:[ \-]?[A-Za-z]){0,5})?"   # letters after the digits: L Y F 1992 NX, a n y u 1 9 8 2 _ n x
                               r"(?![A-Za-z0-9_@" + _CN + r"]|[\-.][0-9])")
NOT_ACCOUNTS = {"qq", "wx", "vx", "id", "no"}                # the platform's own name before a number
NOT_HEADS = NOT_ACCOUNTS | {"gb", "db", "gbt", "jgj"}        # a standard's code (GB 50500-2013) is no one's prefix


def _spoken_accounts(folded: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    words = rules.context["account"]
    for m in SPOKEN_ACCOUNT_RE.finditer(folded):
        letters = "".join(c for c in m.group() if c.isascii() and c.isalpha()).lower()
        spelled = re.search(r"[A-Za-z][ \-][A-Za-z]", m.group()) is not None    # li hong _ 138 nx, wx 1 3 9 x h
        if not spelled and not any(c in CN_DIGITS for c in m.group()):
            continue                                 # Contact 135-0951-6638: a word and a number (mxl1965: the shape rule)
        digits = sum(c.isdigit() or c in CN_DIGITS for c in m.group())
        before = folded[max(0, m.start() - STAFF_NEAR):m.start()]
        if len(letters) >= 2 and letters not in NOT_ACCOUNTS and digits >= 3 and any(w in before for w in words):
            yield m.start(), m.end(), "account"


# a number said after a post ending in 员 and before 号 (话务员2076号, 安检员0417号): a staff number
STAFF_NO_RE = re.compile(r"(?<=员)\d{3,6}(?=号)")


_ID_CHAR = re.compile(r"[A-Za-z0-9_@.\-]")              # no identifier starts right after one of these
_ID_AFTER = re.compile(r"[A-Za-z0-9_@]")                 # ... nor ends right before one of these


ASCII_ID_RE = re.compile(r"(?<![A-Za-z0-9_@.\-])[A-Za-z0-9](?:[A-Za-z0-9_.\- ]{0,40}[A-Za-z0-9])?(?![A-Za-z0-9_@])")
SHAPE_NEAR = 120                                         # characters around an identifier searched for its shape
# a person's own number of the same kind said right after another's (他工号2176，我是2177): a pronoun, then
# digits as many as the identifier's (not a year, a date, an amount or a count after them)
PARALLEL_RE = re.compile(r"[我他她你](?:们)?(?:的)?(?:是|呢|叫|[\u4e00-\u9fff]{1,5}?(?:是|叫))?[:：]? ?(\d{3,12})"   # 我妹妹秀兰是0837
                         r"(?![\d年月日号岁个块元人户层楼室万千百天])")
PARALLEL_NEAR = 30


def _norm_id(value: str) -> str:
    return re.sub(r"[ \t.\-]", "", value).casefold()


def _shape(value: str) -> str:
    return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "0", value))


def _shaped(value: str) -> bool:
    """An identifier whose shape finds another of its kind: six digits or more with a separator or a
    letter (2021-0356), or three with two letters and a dash (JFYH-SQ-001 … JFYH-SQ-027)."""
    digits = sum(c.isdigit() for c in value)
    return " " not in value and not value.isdigit() and \
        (digits >= 6 or digits >= 3 and "-" in value and sum(c.isalpha() for c in value) >= 2)


def _again(folded: str, found: list[tuple[int, int, str]]) -> Iterator[tuple[int, int, str]]:
    """An identifier found by its word said again elsewhere in the text (mxl1965 … mxl1965; also
    spelled otherwise: Y-Z-L-1-9-7-6 … yzl1976), one of the same shape with a separator or a
    letter in it close by (学号是2021-0356……不对，老二的是2023-0912), and digits that correct
    one shortly before (YN-MN-0471？不对，0417: as long as its last digits)."""
    keys = {_norm_id(folded[s:e]): t for s, e, t in found if len(_norm_id(folded[s:e])) >= 5}
    shapes = [(s, e, _shape(folded[s:e]), t) for s, e, t in found if _shaped(folded[s:e])]
    if keys or shapes:
        for m in ASCII_ID_RE.finditer(folded):
            value = m.group().strip()
            typ = keys.get(_norm_id(value))
            if typ is None and not YEAR_GROUPS.fullmatch(value):
                typ = next((t for s, e, sh, t in shapes if sh == _shape(value) and
                            max(s - m.end(), m.start() - e) <= SHAPE_NEAR), None)
            if typ is not None:
                yield m.start(), m.start() + len(value), typ
    for value, typ in {(folded[s:e], t) for s, e, t in found if e - s >= 5}:
        i = folded.find(value)                           # by str.find, not a pattern per value (issue 19)
        while i >= 0:
            e = i + len(value)
            if (i == 0 or not _ID_CHAR.match(folded[i - 1])) and (e == len(folded) or not _ID_AFTER.match(folded[e])):
                yield i, e, typ
                i = folded.find(value, e)
            else:
                i = folded.find(value, i + 1)
    for s, e, typ in found:                              # 我的QQ号1039475826，我小姑子的是26481937
        m = LIST_NEXT_RE.match(folded, e)
        if m and folded[s:e].isdigit() and len(m.group(1)) >= FAR_LEAST.get(typ, 5) and not FAR_UNIT_RE.match(folded, m.start(1)):
            yield m.start(1), m.end(1), typ
    for m in CORRECTION_RE.finditer(folded):
        for s, e, typ in found:
            tail = re.search(r"\d+$", folded[s:e])
            if 0 <= m.start() - e <= 12 and tail and len(tail.group()) == len(m.group(1)):
                yield m.start(1), m.end(1), typ
                break


# the next one of a list of identifiers: someone's "is" right after one found (我的QQ号1039475826，我小姑子的是26481937)
LIST_NEXT_RE = re.compile(r"[，,、；; ]{1,2}[^。！!？?\n\dA-Za-z]{0,12}?的是[：: ]?(\d{4,12})(?![\dA-Za-z])")


# an identifier read out in groups after its word (医保号Y6403 2400 1187 52): groups of digits
# with a space between, none a year, a date or an age (社保卡号A04582319 2019年 stays out)
GROUPS = r"(?:[ \t]\d{1,6}(?![\d年月日号岁]))*"


def _context_ids(folded: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    """Identifiers after the words of ``redaction.context`` (微信号, QQ, 工号, 护照 ...); read out in
    Chinese digits too (工号幺五零七三二)."""
    filler = rules.context_filler
    for typ in ("account", "staff_id", "certificate"):
        words = rules.context[typ]
        if not words:
            continue
        alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        least = {"account": 5, "staff_id": 3, "certificate": 6}[typ]
        for m in re.finditer(rf"(?<![A-Za-z])(?=(?:{alt})[{re.escape(filler)}]{{0,4}}([{_CN}\d](?:[ \t]?[{_CN}\d])*)(?![{_CN}\d]))",
                             folded):
            value = m.group(1)
            if any(c in CN_DIGITS for c in value) and sum(c.isdigit() or c in CN_DIGITS for c in value) >= least and \
                    not folded.endswith("身份", 0, m.start()):      # 身份证号 (not 证号): an ID number, below
                yield m.start(1), m.end(1), typ
        if typ == "certificate":                         # 执业证号宁乡医20150324, 宁C出租2020-00417: the issuer's characters first
            for m in re.finditer(rf"(?<![A-Za-z])(?=(?:{alt})[{re.escape(filler)}]{{0,4}}([{PROVINCES}][A-Z]?[\u4e00-\u9fff]{{1,4}}?(?:\d{{4,18}}| ?[{_CN}]{{4,18}}(?![{_CN}]))(?:[-－—–]\d{{2,8}}){{0,3}}号?)(?![A-Za-z0-9\-－—–第字]))",
                                 folded):
                yield m.start(1), m.end(1), typ
        for m in re.finditer(rf"(?<![A-Za-z])(?=(?:{alt})[{re.escape(filler)}]{{0,4}}({SPACED}|{TOKEN})({GROUPS})(?![A-Za-z0-9_@]))",
                             folded):
            value, end = m.group(1), m.end(1)
            word = folded[m.start():m.start(1)]
            if word.isascii() and word.isalpha() and NUMBER_WORD_RE.search(folded[max(0, m.start() - 6):m.start()]):
                continue                                 # 工单号是WX20240613008: the letters begin the number, not 微信's WX
            if m.group(2) and any(c.isalpha() for c in value):
                value, end = value + m.group(2), m.end(2)      # Y6403 2400 1187 52 (digits alone: a run, below)
            if folded.endswith("身份", 0, m.start()):
                continue                                 # 身份证号 (not 证号): an ID number, classified as a number
            n_digits = sum(c.isdigit() for c in value)
            if typ == "account":
                ok = len(value) >= 5 and (n_digits > 0 or len(value) >= 6)
            elif typ == "staff_id":
                ok = len(value) >= 3 and n_digits >= 2
            else:
                ok = len(value) >= 6 and n_digits >= 4
            if ok:
                yield m.start(1), end, typ


def find_numbers(text: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    """Spans of numbers and identifiers (see the module docstring), most specific first: the
    caller keeps the first span that claims a character. An identifier whose digits are five zeros
    or more and nothing else (PQ0000-00000000) is a mask: claimed and kept, whatever found it (not
    an e-mail address, and not other repeated digits: 888888 may be someone's QQ number); so are
    the digits beside asterisks (640402********1234: what a masked ID number shows)."""
    folded = fold(text)
    for s, e, typ in _find_numbers(text, rules):
        if typ and typ != "email":
            only = [c for c in folded[s:e] if c.isdigit()]
            if len(only) >= 5 and set(only) == {"0"}:
                typ = KEEP
            elif folded.startswith("**", e) or folded.endswith("**", 0, s):
                typ = KEEP                               # a masked number's visible digits (640402********1234)
        elif typ == "email" and _shared_mailbox(folded[s:e]):
            typ = KEEP                                   # service@hlswinery.cn, wy_service@…: an office's mailbox
        if typ == "landline":
            ext = GROUPED_EXT_RE.match(folded, e)
            e = ext.end() if ext else e                  # （0951）6123508，分机 316: its extension after a comma
        elif typ == "long_number":
            head = LETTER_HEAD_RE.search(folded, max(0, s - 6), s)
            s = head.start() if head and head.group(1).lower() not in NOT_HEADS else s   # YT 8826 4410 3357 21
            if not head and s >= 1 and "A" <= folded[s - 1] <= "Z" and not _ID_CHAR.match(folded[s - 2:s - 1] or " "):
                s -= 1                                   # A6401045200024060031: one capital joined to a long number
        if typ in ("long_number", "landline", "mobile") and folded.endswith("+", 0, s) and \
                sum(c.isdigit() for c in folded[s:e]) >= 9:
            s, typ = s - 1, "mobile" if typ == "long_number" else typ   # +63 917 582 4406: a number abroad, its +
        if typ in ("long_number", "certificate", "bank_card", "id_number") and folded.endswith("第", 0, s) and \
                folded.startswith("号", e):
            s, e = s - 1, e + 1                          # 认定书编号第……号: the number's 第 and 号 with it
        if typ in ("long_number", "certificate"):
            head = CN_HEAD_RE.search(folded, max(0, s - 6), s)
            s = head.start() if head else s              # 居住证号宁银居 640105 2023 008137: the issuer's prefix
        yield s, e, typ


def _said_plate_end(folded: str, m: re.Match) -> int:
    """The end of a plate said in comma-separated groups (PLATE_SAID_RE's match ``m``): the groups
    that make five characters after the city's letter, or six (a new-energy plate's) unless the sixth
    is a Chinese numeral that starts a count (宁E，2，F，0，7，8，一辆三轮); 0 without two digits."""
    n, end, pos = 0, 0, m.start() + 2 + (folded[m.start() + 1] == " ")
    for g in re.finditer(r", ?([A-Za-z0-9" + _CN + r"]+)", folded[pos:m.end()]):
        n += len(g.group(1))
        if n == 5 or n == 6 and not (g.group(1)[-1] in CN_DIGITS and folded[pos + g.end():pos + g.end() + 1].isalpha()):
            end = pos + g.end()
        if n >= 6:
            break
    return end if sum(c.isdigit() or c in CN_DIGITS for c in folded[pos:end]) >= 2 else 0


@functools.lru_cache(maxsize=8)
def _place_plate_re(places: tuple[str, ...]) -> re.Pattern:
    """A plate whose province is said as one of the region's places (``redaction.names.places``)
    before the city's letter: 银川 A 38617, 石嘴山 B 20817 (five characters, three digits at least)."""
    return re.compile(rf"(?:{_alternation(places)})[ \-]{{0,2}}[A-Za-z][ .\-]{{0,2}}(?:电[ .\-]{{0,2}})?"
                      rf"(?=(?:[A-Za-z]*\d){{3}})[A-Za-z0-9]{{5,6}}(?![A-Za-z0-9])")


def _find_numbers(text: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    folded, births = mask_dates(fold(text))
    spans = list(_find_all(text, folded, births, rules))
    yield from spans
    bare = sorted((e, e - s, t) for s, e, t in spans if t in ("account", "staff_id", "certificate") and folded[s:e].isdigit())
    if bare:                                             # (by their ends: those just before a match found by bisection)
        for m in PARALLEL_RE.finditer(folded):
            near = bare[bisect.bisect_left(bare, (m.start() - PARALLEL_NEAR,)):bisect.bisect_left(bare, (m.start(),))]
            typ = next((t for e, n, t in near if n == len(m.group(1))), None)
            if typ is not None:
                bisect.insort(bare, (m.end(1), len(m.group(1)), typ))
                yield m.start(1), m.end(1), typ          # 他工号2176，我是2177; 我是0836，我妹妹秀兰是0837


def _find_all(text: str, folded: str, births: list, rules: Rules) -> Iterator[tuple[int, int, str]]:
    yield from births                                    # 生日是1983/04/27, 2011年9月8号出生
    for m in COURT_CASE_RE.finditer(folded):
        yield m.start(), m.end(), "certificate"          # (2024)宁0202刑初87号: a court's case, its parties'
    for m in STANDARD_RE.finditer(folded):
        yield m.start(), m.end(), KEEP                   # GB 50028-2006: a standard, not an identifier
    for m in OFFICIAL_DOC_RE.finditer(folded):
        before = folded[max(0, m.start() - 8):m.start()]
        named = NUMBER_WORD_RE.search(before) and not DOC_WORD_RE.search(before)
        yield m.start(), m.end(), "certificate" if named else KEEP   # 宁政发〔2017〕52号: a public document's number
    for rx in (EMAIL_RE, SPOKEN_EMAIL_RE):
        for m in rx.finditer(folded):
            yield m.start(), m.end(), "email"
    if rules.places:                                     # before the plates: 银川 A 38617 whole, not 川 A 38617
        for m in _place_plate_re(rules.places).finditer(folded):
            yield m.start(), m.end(), "plate"           # 银川 A 38617, 石嘴山 B 20817: the city said for its letter
    for m in PLATE_RE.finditer(folded):
        if sum(c.isdigit() or c in CN_DIGITS for c in m.group()[2:]) >= 2:
            yield m.start(), m.end(), "plate"
    for m in PLATE_SAID_RE.finditer(folded):
        end = _said_plate_end(folded, m)
        if end:
            yield m.start(), end, "plate"
    for m in FARM_PLATE_RE.finditer(folded):
        yield m.start(), m.end(), "plate"
    for m in WXID_RE.finditer(folded):
        yield m.start(), m.end(), "account"
    found = list(_spoken_accounts(folded, rules))       # before the context's ids: n-a-y-a-n 一九九二零九 whole
    for s, e, typ in _context_ids(folded, rules):
        digits = folded[s:e].replace("-", "").replace(".", "")
        run = RUN_RE.match(folded, s) if digits.isdigit() else None
        if run and run.end() > e:
            continue                                     # a number in groups (身份证号640221 19850312 0820): the run's
        if digits.isdigit():                             # a number after 微信: a mobile is a mobile
            own, _ = classify(digits, text, s, rules)
            typ = own if own in ("mobile", "id_number", "landline", "bank_card") else typ
        found.append((s, e, typ))
    found += [*_staff_shapes(folded, rules), *_account_shapes(folded, rules),
              *platform_names(folded, rules)]
    found += [(m.start(), m.end(), "staff_id") for m in STAFF_NO_RE.finditer(folded)]
    found += [(m.start(), m.end(), "account") for m in HANDLE_RE.finditer(folded)]
    yield from found
    yield from _again(folded, [f for f in found if f[2] in ("account", "staff_id", "certificate")])
    for m in CERT_RE.finditer(folded):
        n = sum(c.isdigit() for c in m.group())
        if 7 <= n <= (10 if re.search(r"\d\d[ \t]\d", m.group()) else 18):   # in groups: a passport's 7-10 digits
            yield m.start(), m.end(), "certificate"      # (单号ZT 7731 0042 8865 19: a long number, below)
    for m in DISABILITY_RE.finditer(folded):
        if valid_id_number(m.group()[:18]):
            yield m.start(), m.end(), "certificate"     # 64040219611115117X42
    for m in CREDIT_CODE_RE.finditer(folded):
        yield m.start(), m.end(), "certificate"
    for m in REGION_FILE_RE.finditer(folded):
        yield m.start(), m.end(), "certificate"
    for m in LETTERED_RE.finditer(folded):
        if _lettered(m.group()):
            yield m.start(), m.end(), "certificate"
    for m in INNER_LETTER_RE.finditer(folded):
        if sum(c.isdigit() for c in m.group()) >= 10:
            yield m.start(), m.end(), "certificate"      # 640302B0038571: a card's number, letters inside
    for m in SERIAL_DOC_RE.finditer(folded):
        yield m.start(), m.end(), "certificate"
    if DOC_NO_END.search(folded):                        # every document number ends so: the long pattern only then
        for m in DOC_NO_RE.finditer(folded):
            yield m.start(), m.end(), "certificate"
    if "号" in folded:
        for m in CASE_DOC_RE.finditer(folded):
            yield m.start(), m.end(), "certificate"
        for m in CN_DOC_RE.finditer(folded):
            yield m.start(), m.end(), "certificate"
    yield from _grouped(folded, text, rules)
    yield from _filled(folded, text, rules)
    yield from _chinese_runs(folded, text, rules)            # before the Arabic runs: 一三八 0953 6627 is one number
    yield from _runs(folded, text, rules)

"""The redaction rules one by one (docs/redaction.md): number forms, what is kept, the roster,
the per-category switches, ``not_names``, role tokens, the token cache key. The measured quality
is in tests/test_redaction_labelled.py, the leak scan in tests/test_redaction_leaks.py. The rules
alone (``redaction.names.tagger: false``): the trained name tagger beside them is tested in
tests/test_nametagger.py (where it differs here: it finds 周琪 of 孙女周琪 and 马国庆 of
比如马国庆，八四年入伍, which these tests show the rules leave, and takes 康 of 健康的康)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import PipelineError
from pipeline.text.corpus import Context, parse_settings, _state, token_cache_key
from pipeline.text.numbers import classify, fold, luhn
from pipeline.text.redact import find_pii, placeholders
from pipeline.text.redaction_eval import template_config
from pipeline.text.rules import load_rules
from pipeline.text.segment import resolve_engine, resolve_userdict, segmenter_spec
from pipeline.text.turns import parse_transcript

ROOT = Path(__file__).resolve().parents[1]
PRE = "问：请说说。\n答："


def make(edit=None):
    """The template's rules (``edit`` changes its redaction section), a segmenter and the lexicon."""
    folder = Path(tempfile.mkdtemp()) / "config"
    cfg = template_config(folder, ROOT / "config")
    raw = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    raw["redaction"]["names"]["tagger"] = False
    if edit:
        edit(raw["redaction"])
    cfg.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    rules = load_rules(cfg, folder / "stopwords.txt")
    cache = str(ROOT / ".cache" / "jieba.cache")
    spec = segmenter_spec(resolve_engine("auto"), resolve_userdict(folder / "userdict.txt", cache), cache)
    ctx = Context(rules=rules, spec=spec, settings=parse_settings(n_jobs=1), communities=None, communities_name="")
    seg, lex, _ = _state(ctx)
    return rules, seg, lex, spec


@pytest.fixture(scope="module")
def generic():
    return make()


def spans(env, text, roster=()):
    rules, seg, lex, _ = env
    full = PRE + text + "\n"
    found = find_pii(full, parse_transcript(full, rules), rules, seg.cut(full), lex, roster)
    return [(full[s.start:s.end], s.type) for s in found if s.start >= len(PRE)]


@pytest.mark.parametrize("value,typ", [
    ("139 0953 2817", "mobile"), ("139-0953-2817", "mobile"), ("139.0951.2233", "mobile"), ("+86 138 0951 7726", "mobile"),
    ("+8613995167038", "mobile"), ("0086-152-0953-6610", "mobile"), ("１３９０９５１２２３３", "mobile"),
    ("138—0953—4417", "mobile"), ("一三九零九五一二二三三", "mobile"),
    ("0951 - 5028316", "landline"), ("（0951）6012345", "landline"), ("(0951) 502 1678", "landline"),
    ("0953-2021188转806", "landline"), ("0951-6012345-8012", "landline"), ("0953 5036 218", "landline"),
    ("640221 19850312 0820", "id_number"), ("64030219920718453x", "id_number"),
    ("6 4 2 2 2 1 1 9 6 8 0 9 2 3 0 0 3 X", "id_number"), ("640104197311052013", "long_number"),
    ("6222 0212 0345 6780", "bank_card"), ("6228-4804-0123-4567-899", "bank_card"),
    ("宁A·52J36", "plate"), ("宁AD12345", "plate"), ("甘A-8C123", "plate"), ("E12345678", "certificate"),
    ("MaYuLan@QQ.COM", "email"), ("(+86) 139 5502 7761", "mobile"), ("（+86）13955027761", "mobile"),
])
def test_numbers_in_every_form(generic, value, typ):
    assert spans(generic, f"他说号码是{value}，你记一下。") == [(value, typ)]


@pytest.mark.parametrize("text,value,typ", [
    ("微信号是mayulan_1985，", "mayulan_1985", "account"), ("扣扣号85203647，", "85203647", "account"),
    ("工号WY-0357，", "WY-0357", "staff_id"), ("社保卡号A05932716，", "A05932716", "certificate"),
    ("座机号码是5012345，", "5012345", "landline"), ("微信就是13909512233，", "13909512233", "mobile"),
    ("编号：AB-CDE-0217，", "AB-CDE-0217", "staff_id"),
])
def test_identifiers_by_the_word_before_them(generic, text, value, typ):
    assert spans(generic, text) == [(value, typ)]


@pytest.mark.parametrize("text", ["表上写的0000-00000000。", "身份证640104********1234这样。", "打12345热线，或者96156。",
                                  "客服电话400-800-1234。", "我是2016年搬来的，2019-2020那两年。", "房子68.5平米，花了23.6万。",
                                  "单位在3楼。", "一层四户，有两户是汉族。"])
def test_what_is_kept(generic, text):
    assert spans(generic, text) == []


def test_two_numbers_in_a_row_are_two(generic):
    assert spans(generic, "电话13895012345 13700001111都行。") == [("13895012345", "mobile"), ("13700001111", "mobile")]


def test_checksums_and_classification():
    assert luhn("6222021203456780") and not luhn("6222021203456781")
    assert fold("（０９５１）－５０１") == "(0951)-501"


def test_ordinary_words_are_not_names(generic):
    text = ("那个施工方老是拖，我们去房产局反映，最后司法局调解。我家还是毛坯房，女婿在车管所开车，"
            "这张卡上的钱，左手边那栋，嫁到吴忠了，马上就办，林业局的人来种杨树。")
    assert spans(generic, text) == []


def test_roster_wins_over_a_shorter_automatic_span(generic):
    text = "那天徐云留了个电话。"
    assert spans(generic, text) == [("徐云", "name")]                          # the detector's guess
    assert spans(generic, text, roster=["徐云留"]) == [("徐云留", "name")]     # the team knows better


def test_role_forms_keep_the_role_word(generic):
    rules = generic[0]
    text = PRE + "有事找马书记，要不找小李，马大姐也行。马书记说了算。\n"
    found = find_pii(text, parse_transcript(text, rules), rules, generic[1].cut(text), generic[2])
    marks = placeholders(text, found, rules)
    out = text
    for sp, mark in sorted(zip(found, marks), reverse=True):
        out = out[:sp.start] + mark + out[sp.end:]
    assert out.endswith("有事找[姓名1]书记，要不找小[姓名2]，[姓名3]大姐也行。[姓名1]书记说了算。\n")


def test_categories_can_be_switched_off():
    env = make(lambda red: red["categories"].update(address=False, mobile=False))
    found = spans(env, "我住幸福小区12号楼3单元502室，电话13895012345，身份证640221198503120820。")
    assert found == [("640221198503120820", "id_number")]                   # the mobile is not a long number either
    with pytest.raises(PipelineError, match="unknown types"):
        make(lambda red: red["categories"].update(phone=False))


def test_not_names_is_the_studys_word_list():
    env = make(lambda red: red["names"]["not_names"].append("杨佳丽"))
    assert spans(env, "那天杨佳丽来登记。") == []
    assert spans(make(), "那天杨佳丽来登记。") == [("杨佳丽", "name")]


def test_a_redaction_fix_is_another_cache_key(generic):
    rules, _, _, spec = generic
    fixed = make(lambda red: red["names"]["not_names"].append("杨佳丽"))
    assert token_cache_key(spec, rules) == token_cache_key(generic[3], make()[0])          # same rules, same key
    assert token_cache_key(spec, rules) != token_cache_key(fixed[3], fixed[0])


def test_classify_never_trusts_a_checksum_to_let_a_number_through(generic):
    rules = generic[0]
    assert classify("640104197311052013", "", 0, rules)[0] == "long_number"     # wrong check digit: still redacted
    assert classify("64010419731105201X", "", 0, rules)[0] == "long_number"


@pytest.mark.parametrize("text,value", [
    ("证上写的是宁（2019）吴忠市不动产权第0012345号，", "宁（2019）吴忠市不动产权第0012345号"),
    ("老证是房权证银字第00123号，", "房权证银字第00123号"), ("土地证是银国用（2010）第123号的。", "银国用（2010）第123号"),
    ("判决书上是（2021）宁0104民初1234号。", "（2021）宁0104民初1234号"),
])
def test_document_numbers_are_certificates(generic, text, value):
    assert spans(generic, text) == [(value, "certificate")]


@pytest.mark.parametrize("text,value", [
    ("我住康居苑3-2-501，", "康居苑3-2-501"), ("他家在怡和园小区7－1－201室。", "怡和园小区7－1－201室"),
    ("住在金凤区阅海万家5栋2门301，", "金凤区阅海万家5栋2门301"), ("家在丽景苑3号楼东单元502。", "丽景苑3号楼东单元502"),
])
def test_address_forms(generic, text, value):
    assert spans(generic, text) == [(value, "address")]


@pytest.mark.parametrize("text", ["娃考了两门300多分。", "从小区东门进来。", "我们是(2012)年搬的，住了第3年。"])
def test_address_and_certificate_look_alikes_are_kept(generic, text):
    assert spans(generic, text) == []


@pytest.mark.parametrize("text,names", [
    ("昨天王磊说要来。", ["王磊"]),                         # 昨天 is the word, not 天王
    ("后来张伟他们也去了。", ["张伟"]),                     # 他们 after a name
    ("李强她们几个都来了。", ["李强"]),                     # ... even after a name jieba's dictionary has as frequent
    ("我孙女梓涵上初中了。", ["梓涵"]),                     # a given name after a kinship word (jieba: rare)
    ("副主任皇甫建国人不错。", ["皇甫建国"]),               # a compound surname; 人 ends the given name
    ("邻居赛里麦常来串门。", ["赛里麦"]),                   # a listed 经名 wins over 麦 + 常来
    ("隔壁是刘 建 华他们一家。", ["刘 建 华"]),              # spaced: the name ends where the spacing ends
    ("你去找孙 桂英，她管这个。", ["孙 桂英"]),              # a space after the surname, the given name together
    ("楼下何 丽萍家的孩子。", ["何 丽萍"]),
    ("我们韩 志 刚主任也在。", ["韩 志 刚"]),
])
def test_names_in_context(generic, text, names):
    assert spans(generic, text) == [(n, "name") for n in names]


@pytest.mark.parametrize("text", ["我们在金海旺酒店吃的饭。", "他是张家口市来的。", "去了王府井广场。",
                                  "车本上写的是我的名字。", "后来孙女拉我去了一回包饺子。",
                                  "去 马 路上看看。", "给王 先生打个电话。", "我 们 去 马 路 上 看 了 看。"])
def test_places_and_documents_are_not_names(generic, text):
    assert spans(generic, text) == []


# --------------------------------------------------------------------------------------------
# the rules added by class for held-out 3's misses (docs/redaction.md), on sentences of their own
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("他手机是幺五九 0951 2233，打这个。", "幺五九 0951 2233", "mobile"),          # Chinese and Arabic digits mixed
    ("座机是零九五三 2021188，上班有人。", "零九五三 2021188", "landline"),
    ("号码一八六洞九五一四四三二。", "一八六洞九五一四四三二", "mobile"),            # 洞 for 0, as read out on the phone
    ("身份证是六四零二二一 19850312 0820。", "六四零二二一 19850312 0820", "id_number"),
])
def test_numbers_said_in_chinese_digits(generic, text, value, typ):
    assert spans(generic, text) == [(value, typ)]


@pytest.mark.parametrize("text", ["那是二〇一八 2019两年的事。", "型号是iPhone14，还有COVID-19和PM2.5。"])
def test_years_and_model_names_are_kept(generic, text):
    assert spans(generic, text) == []


def test_a_numeral_before_a_number_stays_out_of_it(generic):
    assert spans(generic, "他家老三 13895012345这个号。") == [("13895012345", "mobile")]


def test_credit_codes_are_certificates_whatever_their_check_character(generic):
    from pipeline.text.numbers import credit_code_check
    code = "91640104MA75Q2R8K"
    code += credit_code_check(code)
    wrong = code[:-1] + ("1" if code[-1] != "1" else "2")
    assert credit_code_check("91440300192203821") == "6"                   # a published code's check character
    for value in (code, wrong, code.lower()):
        assert spans(generic, f"执照上的代码是{value}，") == [(value, "certificate")]


@pytest.mark.parametrize("value", ["GS2020-112233", "MZ-LY-2021-004417", "QX2019FP00417"])
def test_lettered_file_numbers_are_certificates(generic, value):
    assert spans(generic, f"他拿的是{value}那份材料。") == [(value, "certificate")]


@pytest.mark.parametrize("text,names", [
    ("房东姓禹，人挺好。", ["禹"]),                         # a surname after 姓, rare ones too
    ("他姓欧阳的，叫不上名字。", ["欧阳"]),
    ("跟对门禹家关系好。", ["禹"]),                         # a family named by its surname after a neighbour word
    ("去找禹老师报名。", ["禹"]),                           # a rare surname before a title
    ("端木大姐人好。", ["端木"]),
    ("你去找端木宏，他知道。", ["端木宏"]),                  # ... or after a naming word
    ("这事得找司马院长签字。", ["司马"]),
    ("昨天阿卜杜勒来过一回。", ["阿卜杜勒"]),               # a listed 经名 wins over 阿 + a surname (阿卜)
    ("上周阿卜杜勒来过一回。", ["阿卜杜勒"]),               # ... and over a window crossing it (周阿)
    ("麦尔燕和宰乃白都来了。", ["麦尔燕", "宰乃白"]),
    ("村里的努尔丁帮了忙。", ["努尔丁"]),
    ("我闺女秀 兰在银川上班。", ["秀 兰"]),                 # a spaced given name after a kinship word
    ("名单上有纳 玉 秀 琴，她没来。", ["纳 玉 秀 琴"]),      # a spaced name of four characters
    ("那天王 磊也来了。", ["王 磊"]),                       # a surname, a space, one character and a glue character
    ("白雪阿姨每天早上都来。", ["白雪"]),                   # a word jieba tags nr, before a form of address
    ("丁同心家的地没人种。", ["丁同心"]),                   # a full name whose given name is a word, before 家
    ("我闺女金凤在上学。", ["金凤"]),                       # a place name right after a kinship word is a name
])
def test_names_found_by_the_rules_of_held_out_3(generic, text, names):
    assert spans(generic, text) == [(n, "name") for n in names]


@pytest.mark.parametrize("text", [
    "老百姓都说好，姓名写这儿，我们村都姓马，同姓的多。",     # 姓 of no one person
    "班主任和班长都来了。",                                  # a rare surname's form that is a dictionary word
    "下了一场白雪，路滑。", "康复医生说要多走。",              # an nr word with no person's context; a role is not one
    "贺兰的人都知道，他是彭阳来的，石嘴山那边也是。",          # the region's place names
    "他是包片的干部，也包户。",                              # work terms
    "过了丁字路口往左拐。",                                  # a place noun after a name-shaped word
])
def test_look_alikes_of_the_rules_of_held_out_3_are_kept(generic, text):
    assert spans(generic, text) == []


def test_an_address_written_with_commas_between_its_parts(generic):
    text = "寄到惠农区河滨街道,康乐小区,3号楼2单元401就行。"
    assert spans(generic, text) == [("惠农区河滨街道,康乐小区,3号楼2单元401", "address")]


# --- the rules of tuning 4 (heldout4's misses, fixed by class), on sentences of their own
@pytest.mark.parametrize("text,found", [
    ("我家在文化路二十八号。", ("文化路二十八号", "address")),                  # a road number in Chinese numerals
    ("住在康乐苑 3号楼 2单元 502，楼下有超市。", ("康乐苑 3号楼 2单元 502", "address")),   # spaces inside
    ("他家在金城小区 八号楼三单元五零一。", ("金城小区 八号楼三单元五零一", "address")),     # a room read out digit by digit
    ("地址是新星村三组五排十二号。", ("新星村三组五排十二号", "address")),          # a row (排) of a resettlement village
    ("邮箱是 mayl1985 圈a qq 点 com 记一下", ("mayl1985 圈a qq 点 com", "email")),   # @ and . said aloud
    ("你发到 nxwang 艾特 163.com 就行", ("nxwang 艾特 163.com", "email")),
    ("他的车是宁B三五七二八，白色的。", ("宁B三五七二八", "plate")),                  # Chinese digits in a plate
    ("他出生日期是1978-12-03，属马的。", ("1978-12-03", "long_number")),            # a date of birth as digits
    ("生日是19781203，属马的。", ("19781203", "long_number")),
])
def test_forms_of_tuning_4_are_redacted(generic, text, found):
    assert spans(generic, text) == [found]


@pytest.mark.parametrize("text", [
    "我知道三号要开会。", "他上街三号才回来。",                 # a date after a word ending in 道/街
    "去年收入是19781203块。",                                 # eight digits with no birth word
    "按照银政办发〔2019〕8号文件执行，国发〔2020〕123号也有。",   # official document numbers
    "我们村姓李的最多，姓王的、姓张的也不少。",                 # a surname spoken of in general
    "这是商家的责任。",                                       # surname + 家 that is a word
    "我叫他过来，他不来。", "我们叫她妈妈。",                   # 叫她 before a verb or a kinship word
    "车主是我们村的会计，平常拉人。",                           # a role word as the subject is no name
    "我去青山看了看，李山那边也去了。",                        # a surname and a landform: a place
    "你看那个马兰花开了。",                                    # a plant word with no break around it
])
def test_look_alikes_of_tuning_4_are_kept(generic, text):
    assert spans(generic, text) == []


@pytest.mark.parametrize("text,names", [
    ("他外号叫大头，人挺好。", ["大头"]),                     # a nickname after 外号/小名
    ("我们都叫她小花，她爱笑。", ["小花"]),                    # ... or after 叫她, before a break
    ("他小名叫石头，石头多的地方生的。", ["石头"]),             # a nickname that is a word: only where named
    ("高峰是我们村的会计，人很好。", ["高峰"]),                 # the subject of a role, even an ordinary word
    ("那天是马家的人来帮忙。", ["马"]),                         # a surname before 家 after 是
    ("维吾尔族的古丽米拉·吐尔逊也来了。", ["古丽米拉·吐尔逊"]),  # a middle-dot name takes its other half
    ("我儿子志军在银川，我儿子红军在部队。", ["志军", "红军"]),   # a noun of name characters after a kinship word
    ("他哥王有才的电话我有。", ["王有才"]),                     # 有 starts a given name no dictionary knows
    ("我老汉叫杨千里，属马的。", ["杨千里"]),                   # after 叫, a name may end in 里
    ("你要拜访拓老师的话，先打电话。", ["拓"]),                 # 拜访 before a rare surname's form
    ("开户名丁美兰，建行的。", ["丁美兰"]),                     # 户名 is a naming word
    ("这个娃叫巴图，蒙古族。", ["巴图"]),                       # Mongolian given names are listed
    ("找尕王来一下。", ["王"]),                                 # 尕 is a prefix of informal forms
    ("马股长和周馆长都在。", ["马", "周"]),                     # more roles
    ("我们队上有个人叫石嘴山，跟石嘴山市一个名字。", ["石嘴山"]),  # not redacted before 市
])
def test_names_found_by_the_rules_of_tuning_4(generic, text, names):
    assert [v for v, t in spans(generic, text)] == names and all(t == "name" for _, t in spans(generic, text))


@pytest.mark.parametrize("text,names", [
    ("值班表：周五李静，周六张伟，周日王磊。", ["李静", "张伟", "王磊"]),   # after a time word (六张 is no 这张)
    ("礼拜三刘洋来替班。", ["刘洋"]),                                   # the glue character 来 left out
    ("上午李强，下午王芳，都排满了。", ["李强", "王芳"]),                 # a frequent dictionary name in a list
    ("他孙子海小龙今年上初中了。", ["海小龙"]),                           # whole, not 海 + 小[龙] (an informal form)
    ("丁金花老人家里养了羊。", ["丁金花"]),                               # a given name that is a word, before 老人
    ("志愿者上官秀清是退休教师。", ["上官秀清"]),                         # a compound surname after an occupation
    ("我们一般喊丁姐帮忙，海老师也常来。", ["丁", "海"]),                 # jieba's 喊丁 is no word
    ("值班的是马 强，还有杨 敏。", ["马 强", "杨 敏"]),                  # spaced, one given character
])
def test_names_found_by_the_window_scorer(generic, text, names):
    found = spans(generic, text)
    assert [v for v, _ in found] == names and all(t == "name" for _, t in found)


@pytest.mark.parametrize("text", [
    "钱存在农商银行了。", "他当过海军，后来转业了。", "天上白云飘过去。", "杜鹃花开了，柳树也绿了。",
    "周一开会，周二下乡。", "张三李四都可以。", "老人家马上就到。", "这张卡是我的，那张也是。",
    "方向发展的，任其自流不行。", "制度常以世袭的方式固定。",              # stopwords are no given characters
])
def test_look_alikes_of_the_window_scorer_are_kept(generic, text):
    assert spans(generic, text) == []


def test_window_scorer_takes_a_name_whole():
    """Of the windows at one place the best is taken, and a window of one given character only
    at a boundary: never a name cut short (秦月 of 秦月香)."""
    rules, _, lex, _ = make()
    from pipeline.text.namescore import scored_windows
    text = "后来秦月香为这事跑了三趟。"
    assert all(text[s:e] != "秦月" for s, e in scored_windows(text, rules, lex, 0))


# --- the rules of held-out 5 and 6 (measured blind, then tuned on), by class, on sentences of their own
@pytest.mark.parametrize("text,found", [
    ("老家是隆德县 好水乡 红星村 三队 十五号，早就没人了。", ("隆德县 好水乡 红星村 三队 十五号", "address")),   # spaces between every part
    ("住在康居花园B区7-1-502，门口有个超市。", ("康居花园B区7-1-502", "address")),       # a zone before building-unit-room
    ("房子在兴庆区胜利街45号院12排6号，离学校近。", ("兴庆区胜利街45号院12排6号", "address")),   # 号院 + 排 + 号
    ("铺子在固原市原州区文化东街一千零八号，门脸不大。", ("固原市原州区文化东街一千零八号", "address")),  # a long Chinese numeral
    ("他手机是幺八六，零九五二，七七一三，晚上打。", ("幺八六，零九五二，七七一三", "mobile")),   # Chinese digits in comma groups
    ("你加我wxid_p3n8v2k7q1，备注名字。", ("wxid_p3n8v2k7q1", "account")),                  # a WeChat id by its shape
    ("抖音你搜abc12345就有。", ("abc12345", "account")),                                  # 你 between the word and the id
    ("学籍号就是J加上身份证号：J640104197311052011，别填错。", ("J640104197311052011", "certificate")),  # a letter + an ID number
    ("救助证号是固原民救字（2022）第01234号，复印两份。", ("固原民救字（2022）第01234号", "certificate")),  # a long issuer code
])
def test_forms_of_held_out_5_and_6_are_redacted(generic, text, found):
    assert spans(generic, text) == [found]


@pytest.mark.parametrize("text", [
    "我们拉了个群叫康乐苑5号楼业主群，有事群里说。",          # an address-shaped name of a chat group
    "一共收了三百，五百，八百块，账对得上。",                # amounts in comma groups are no phone
    "他们讲的是怎么Android和wx一起用。",                     # wx, id inside a word is no context word
])
def test_look_alikes_of_held_out_5_and_6_are_kept(generic, text):
    assert spans(generic, text) == []


@pytest.mark.parametrize("text,names", [
    ("值班：周四杨 敏，周五李静。", ["杨 敏", "李静"]),                       # a time word starts no window (周四杨)
    ("名单：张丽13909511234 王军13809512345", ["张丽", "王军"]),             # a name right before its phone number
    ("我们先去丁玉花老人家里看看。", ["丁玉花"]),                            # a person noun after: 去 is no place word then
    ("那天冯建国这人喝多了。", ["冯建国"]),                                  # 这人 after a name
    ("他二哥马老二在工地上。", ["马"]), ("杨老三说的不对。", ["杨"]),           # birth order as a form of address
    ("周家和吕家为地界吵过架。", ["周", "吕"]),                              # families in a list (周家 is a word too)
    ("汪家、苏家、田家都是老户。", ["汪", "苏", "田"]),
    ("对面的韩家兄弟都在外面打工。", ["韩"]),                                # a member of the family after X家
    ("来开会的有 周敏 海建华 何丽 三个人。", ["周敏", "海建华", "何丽"]),      # the next name of a list
    ("禹建波的电话我有。", ["禹建波"]),                                      # a rare surname, a given name of name characters
    ("他儿子叫嘎西木，在清真寺念经。", ["嘎西木"]),                          # more transcriptions of 经名 (Qasim)
    ("村里会计叫高原，他老家在青海高原上。", ["高原"]),                      # a name that is a word: elsewhere only at a break
])
def test_names_found_by_the_rules_of_held_out_5_and_6(generic, text, names):
    found = [(v, t) for v, t in spans(generic, text) if t == "name"]
    assert [v for v, _ in found] == names


@pytest.mark.parametrize("text", [
    "大家晚上在院子里纳凉聊天。",              # a rare nr word with no name character and no break after it
    "买了两个哈密瓜，甜得很。",                # a place word + a character rare in names
    "工资的钱打到折子上了。",                  # 的 + a surname + verbs is no split name
    "卡是石嘴山农商银行的。",                  # a name-shaped word before 银行
    "这是商家的责任，专家也说了，国家也管。",    # X家 that is a word, as a subject
    "商家和厂家都来了。",
    "答对者加50分，树高可达20米。",            # a short number after is no roster
])
def test_look_alikes_of_the_rules_of_held_out_5_and_6_are_kept(generic, text):
    assert spans(generic, text) == []


@pytest.mark.parametrize("text,found", [
    ("我家是海原县李旺镇新园村三组门牌24号。", ("海原县李旺镇新园村三组门牌24号", "address")),   # 门牌 before the house number
    ("住在丽水花园八号楼三单元四零二室，", ("丽水花园八号楼三单元四零二室", "address")),       # a room read out, then 室
    ("店在原州区中山街8号附1号，", ("原州区中山街8号附1号", "address")),                     # an annex number (附N号)
    ("证号是宁民字第2019-0042号。", ("宁民字第2019-0042号", "certificate")),                 # a year and a number after 字第
])
def test_forms_of_held_out_7_are_redacted(generic, text, found):
    assert spans(generic, text) == [found]


def test_an_address_said_part_by_part_with_commas(generic):
    assert ("阳光小区，12号楼，1单元，302", "address") in [(v.removeprefix("写"), t) for v, t in
                                                         spans(generic, "就写阳光小区，12号楼，1单元，302，他们能找着。")]


@pytest.mark.parametrize("text,names", [
    ("明书记说过了。", ["明"]), ("安老师教的语文。", ["安"]),            # a weak surname before a role at a clause's start
    ("马乡老来了，掌教也在。", ["马"]),                                 # a mosque's elder as a title
    ("我孙女叫佳慧，在上学。", ["佳慧"]), ("我孙子叫浩然，", ["浩然"]),    # X叫Y: a given name up to a break
    ("我叫妥——妥当的妥，妥建华。", ["妥", "妥", "妥建华"]),             # a surname spelled (its character too), then the full name
    ("我女婿马国庆来了。", ["马国庆"]),                                 # a kinship word right before a full name
    ("来了一个杨建军一个杨建新，", ["杨建军", "杨建新"]),                # 一个A一个B
    ("我丫头春花在读书。", ["春花"]),                                   # 丫头 is a kinship word
    ("禹家和拓家都是老户。", ["禹", "拓"]),                              # rare surnames' families in a list
    ("我们去给冶家帮忙了。", ["冶"]),                                   # X家 that is no word, after 给
    ("她问我，春梅嘛早就走了。", ["春梅"]),                             # a given name alone before a particle
    ("丁书记也来了，丁家的人都在。", ["丁", "丁"]),                      # the family of a person found in the turn
    ("阿依莎是我姐姐。", ["阿依莎"]),                                   # a listed name before 是 (阿米乃是: 乃是 a word)
    ("汉名马超，经名叫尔萨。", ["马超", "尔萨"]),                        # a naming noun before a name
])
def test_names_found_by_the_rules_of_held_out_7(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", [
    "他是撒拉族，住在循化。",                  # a people before 族
    "我们住马庄村，马庄那边人多。",            # a village's name said alone later
    "李家沟那边人少。",                        # surname + 家 + a landform: a village
    "念高三的娃多。",                          # a grade, not surname + numeral
    "有十二名司铎。",                          # a counted plural before the word
    "在马来西亚打工。",                        # a place of the dictionary goes on past the window
    "我们去周口市了。",                        # a place's suffix ends the word
    "那个人马大哈得很。",                      # a degree complement after the word
    "他叫车，走了。",                          # a surname that is an everyday word, after 叫, unspelled
    "应老师要求，我们改了。",                  # a weak surname that opens a phrase
])
def test_look_alikes_of_the_rules_of_held_out_7_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text", ["我家住五楼，一层四户，有两户是回族。", "住六楼，一层两户。"])
def test_floors_said_between_commas_are_no_address(generic, text):
    assert spans(generic, text) == []


def test_a_spelling_frame_keeps_its_word_and_redacts_the_character(generic):
    """锁头的锁 after 姓锁: the word 锁头 stays, the character spelled gives the name back and is
    redacted; a spelling with no name in the turn is none (身体健康，健康的康)."""
    assert [v for v, t in spans(generic, "我姓锁，锁头的锁。") if t == "name"] == ["锁", "锁"]
    assert [v for v, t in spans(generic, "身体健康，健康的康。") if t == "name"] == []


@pytest.mark.parametrize("text,names", [
    # very rare surnames (the surname list's veryrare tier) in a strong context
    ("我们组里有个姓亢的，人挺实在。", ["亢"]), ("那天是鲜主任接的电话。", ["鲜"]), ("下午开会……敏老师你先说。", ["敏"]),
    ("门坏了，把师傅说明天来。", ["把"]), ("他叫訾国强，是新来的会计。", ["訾国强"]),
    # a surname the turn declares, then that surname + a given name set off
    ("村里姓咸的不多，咸建林，你认识吧。", ["咸", "咸建林"]), ("那个姓白的……白鹭……她也来了。", ["白", "白鹭"]),
    # families: as a subject, ours, a rare surname's before a member word
    ("，丁家在那边是大户。", ["丁"]), ("我们马家的老宅子在那边。", ["马"]),
    # names of Tibetan, Mongolian and Uyghur speakers: syllables of one tradition, the middle dot
    ("我们村有个藏族姑娘叫卓玛措，在县里上班。", ["卓玛措"]), ("他儿子扎西多吉在成都打工。", ["扎西多吉"]),
    ("她是蒙古族的，其木格，从赤峰嫁过来的。", ["其木格"]), ("苏和是蒙古族，开牧家乐的。", ["苏和"]),
    ("店里的艾力·吐尔逊人很好。", ["艾力·吐尔逊"]), ("她妹妹阿依古丽・买买提也来了。", ["阿依古丽・买买提"]),
    # naming frames: one of some people, a kinship word of the north-west, a compound surname alone
    ("我们院子两个娃，一个叫高山，一个叫田园。", ["高山", "田园"]), ("她老汉福来在工地上。", ["福来"]),
    ("那个欧阳，欧阳建华，去哪了。", ["欧阳", "欧阳建华"]),
])
def test_names_found_by_the_rules_of_held_out_8(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", [
    "有老师说这个不行。",                      # 有: a function word, left out of the very rare tier
    "他问我，把老师叫来没有。",                # 把 + a title before no verb of saying: a preposition
    "楼上那家人天天吵。",                      # a neighbour word + 那家
    "这事他办得马马虎虎。",                    # a reduplicated word (AABB)
    "他是西宁生的，所以叫这个。",              # a place of the dictionary + a verb
    "一辆车占了两个车位。",                    # a surname + a verb before 了
    "我们去内蒙旅游，草原上天很蓝。",          # no syllables of a name, though the people's land is named
    "司马光砸缸那个司马，",                    # a compound surname spelled by a famous bearer
])
def test_look_alikes_of_the_rules_of_held_out_8_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


def test_a_team_name_that_holds_a_name_is_kept(generic):
    assert [v for v, t in spans(generic, "有个马兰花秧歌队，队长叫马兰。") if t == "name"] == ["马兰"]


@pytest.mark.parametrize("text,value,typ", [
    ("他电话是一五九，零九五，二八，三七四，你记一下。", "一五九，零九五，二八，三七四", "mobile"),   # groups of any size
    ("号码是139 0953……嗯……7721，打不通就发短信。", "139 0953……嗯……7721", "mobile"),              # a filler inside
    ("他开的是宁B 52718，黑色的。", "宁B 52718", "plate"),                                      # a space inside a plate
    ("我是楼栋长，原来编号是LD1024，现在不用了。", "LD1024", "staff_id"),                       # a staff number's shape
])
def test_numbers_of_held_out_8(generic, text, value, typ):
    assert spans(generic, text) == [(value, typ)]


@pytest.mark.parametrize("text", ["我们买了120……呃……150块钱的东西。", "这个显卡是RTX4090，挺贵的。"])
def test_numbers_of_held_out_8_look_alikes_are_kept(generic, text):
    assert spans(generic, text) == []


def test_an_office_room_is_no_address(generic):
    assert spans(generic, "社区三楼305是会议室，小区12号楼2单元301是他家。") == [("小区12号楼2单元301", "address")]


def test_a_spaced_name_in_a_roster_row(generic):
    assert spans(generic, "序号 姓名 性别\n1 王 晓 燕 女 13895012345") == [("王 晓 燕", "name"), ("13895012345", "mobile")]


def test_a_section_of_a_resettlement_village(generic):
    assert spans(generic, "他家在红寺堡移民新村5区23号，离学校近。") == [("红寺堡移民新村5区23号", "address")]


# --------------------------------------------------------------------------------------------
# the rules of tuning 9 (the seventh round; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("手机是一三八，呃，零九五四，那个，二二七六，别打错了。", "一三八，呃，零九五四，那个，二二七六", "mobile"),  # fillers between groups
    ("身份证是六四零一零四一九八八零五二七一一八X，没错。", "六四零一零四一九八八零五二七一一八X", "id_number"),   # Chinese digits and X
])
def test_numbers_of_tuning_9(generic, text, value, typ):
    assert [(v, t) for v, t in spans(generic, text)] == [(value, typ)]


@pytest.mark.parametrize("text", [
    "有事打0953-12345，那是热线。",            # an area code and a five-digit public service line
    "车就停在5号楼楼下，挡着路了。",           # a building's number of the setting, no place named
    "我负责7号楼的卫生。",
])
def test_look_alikes_of_the_numbers_and_addresses_of_tuning_9_are_kept(generic, text):
    assert spans(generic, text) == []


@pytest.mark.parametrize("text,names", [
    # an item of a list of names found, an everyday word by itself (:mod:`pipeline.text.namelists`)
    ("报名的有：王建军、李红梅、白云，就三个人。", ["王建军", "李红梅", "白云"]),
    ("我们班有张伟、李娜、高山、田野四个人。", ["张伟", "李娜", "高山"]),
    # a person field of minutes
    ("会议纪要\n主持：王建军\n记录：田野\n议题：防汛。", ["王建军", "田野"]),
    # siblings named together, sharing the surname of a name found
    ("高峰跟高翔是兄弟。", ["高峰", "高翔"]), ("马莉跟马兰是姐妹俩。", ["马莉", "马兰"]),
    # a given name said again alone; a surname asked back; the family of a name found
    ("我们楼长叫刘建军，建军呢？刚还在。", ["刘建军", "建军"]), ("老杨来了没有？哪个杨？就是杨国华。", ["杨", "杨", "杨国华"]),
    ("纳小军回来了。纳家那个老大也回来了。", ["纳小军", "纳"]),
])
def test_names_found_by_the_names_of_the_turn(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", [
    "北京、上海、广州、金凤都去过。",          # a list with no name found in it
    "马路和马车都有，就是没人。",              # no sibling of no name
])
def test_look_alikes_of_the_names_of_the_turn_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


def test_a_surname_spelled_after_that_is_redacted_too(generic):
    """三横一竖那个王: the name's character talked about is redacted as a spelled character is (round 26:
    left in the text it gives the name back; before, it was kept as no second person)."""
    assert [v for v, t in spans(generic, "我叫王丽，三横一竖那个王。") if t == "name"] == ["王丽", "王"]


@pytest.mark.parametrize("text,names", [
    ("紧急联系人王姨（王秀英），电话晚点给你。", ["王", "王秀英"]),     # a naming word before a form jieba glued (人王)
    ("我孙子哈比卜今年上初中。", ["哈比卜"]),                              # a spelling of 哈比布 in the list of 经名
    ("他舅舅韩·巴图在锡林郭勒放羊。", ["韩·巴图"]),                       # a Han surname, a dot, a Mongolian name
    ("新来的保安斯琴，蒙古族，人很好。", ["斯琴"]),                        # the people said after a comma
    ("马二姐今天没来。", ["马"]),                                          # birth order and kinship as a form of address
    ("仝大姐来了，哦，仝桂兰，是她。", ["仝", "仝桂兰"]),                  # a surname found alone, then with a given name
])
def test_names_found_by_the_rules_of_tuning_9(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", [
    "我们村一半姓马，一半姓杨。",              # the surname spoken of in general
    "他是王家寨的人，王家寨在山里。",          # a village: a settlement's suffix
    "物业是金华物业，我们常去人民公园。",      # a management company, a park
])
def test_look_alikes_of_the_rules_of_tuning_9_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text,names", [
    ("铁蛋他爸昨天来过。", ["铁蛋"]),                                      # a person named to name a relative
    ("你找春燕去，她知道。", ["春燕"]),                                    # a given name alone after a verb of a person
    ("（念群聊）\n秀兰：几点开会？\n建国：九点\n[玉梅] 收到", ["秀兰", "建国", "玉梅"]),   # senders of chat lines
    ("网格员小何还有社区的马晓东他们都来了", ["何", "马晓东"]),           # speech with no punctuation, jieba's 员小何
])
def test_names_in_frames_of_tuning_9(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", [
    "孩子他妈做饭去了。",                      # an everyday word before 他妈
    "会议记录\n时间：上午九点\n地点：二楼\n内容：防汛",   # fields of minutes, no chat senders
    "让大家去看看。",
])
def test_look_alikes_of_the_frames_of_tuning_9_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text,names", [
    ("他叫马明，不对，是马鸣，鸣叫的鸣。", ["马明", "马鸣", "鸣"]),         # a correction (and its character spelled)
    ("那个王什么……不对，是汪，汪海。", ["汪", "汪海"]),
    ("我记错了，不是秀芳，是秀芬。", ["秀芳", "秀芬"]),
    ("我姓弓长张，张建民。", ["张", "张建民"]), ("她姓草头黄。", ["黄"]),      # a surname spelled out after 姓
])
def test_corrections_and_spelled_surnames(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", ["不对，是明天。", "不是这个，是那个。", "不对，是红色的。", "不是马，是驴。"])
def test_look_alikes_of_corrections_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text,names", [
    ("我们家本姓是钮祜禄氏，后来改了。", ["钮祜禄"]),                 # a clan name before 氏
    ("我大女子金花在县上。", ["金花"]),                                # a noun of name characters after a kinship word
])
def test_clans_and_kin_nouns(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


def test_the_name_of_a_shop_is_no_person(generic):
    assert [v for v, t in spans(generic, "我们的店名叫福满园，在南门。") if t == "name"] == []


def test_an_everyday_name_before_a_role_at_a_clause_start(generic):
    """田野 (in not_names) before 主任 after a break is a person; 白天老师 (a time word) is not."""
    assert [v for v, t in spans(generic, "会上，田野主任讲了话，大家鼓掌。") if t == "name"] == ["田野"]
    assert [v for v, t in spans(generic, "白天老师来过一趟。") if t == "name"] == []


def test_a_chat_sender_that_is_a_form_of_address_keeps_its_role_word(generic):
    found = spans(generic, "【微信群】\n马姐：明天发米面油\n丽萍：几点？")
    assert [v for v, t in found if t == "name"] == ["马", "丽萍"]


def test_names_after_a_birth_order(generic):
    assert [v for v, t in spans(generic, "他们家老大叫建军，老二叫建国。") if t == "name"] == ["建军", "建国"]


@pytest.mark.parametrize("text,names", [
    ("护照上的名字是MA XIULAN，拼音的。", ["MA XIULAN"]), ("拼音写的是wang jianguo。", ["wang jianguo"]),   # pinyin
    ("阿强跟阿珍两口子都来了。", ["阿强", "阿珍"]),                                                          # 阿 + a name character
])
def test_names_in_pinyin_and_a_nicknames(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", ["阿姨来了，阿訇说了，阿拉不晓得。", "这个PDF文件是ok的，Jack说的。"])
def test_look_alikes_of_pinyin_and_a_nicknames_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text", [
    "群里2024-03-02 07:41发的通知。", "消息时间2022/11/9 16:30:12，他回了个好。", "2021年7月3日 09:15开的会。",
    "录音从01:12:48开始，到14:05结束。", "下午2025.1.20 17:02打的卡。", "2019年10月8日送来的，电话是打过的。",
])
def test_dates_and_clock_times_are_no_numbers(generic, text):
    assert spans(generic, text) == []


def test_a_number_after_a_date_is_still_found(generic):
    found = spans(generic, "2024-03-02 07:41 老周：我手机13709518826，证件号640104-1960-05-12-0823不对。")
    assert ("13709518826", "mobile") in found and [v for v, t in found if "1960" in v] == ["640104-1960-05-12-0823"]


@pytest.mark.parametrize("text,value,typ", [
    ("座机，零九五三，二六七，四四八二，转，幺零二，", "零九五三，二六七，四四八二，转，幺零二", "landline"),  # said in groups
    ("证上印的吴民残（利）字2018第01256号。", "吴民残（利）字2018第01256号", "certificate"),  # a county in brackets
    ("加个微信吧，是闺女帮我注册的，zhl1978，", "zhl1978", "account"),                      # its shape after the word
])
def test_identifiers_read_out_in_other_forms(generic, text, value, typ):
    assert (value, typ) in spans(generic, text)


def test_an_identifier_said_again_or_corrected(generic):
    found = spans(generic, "他的抖音号叫hw_dad88，你搜hw_dad88就有。工号是QT-LX-2231吧？不对，2213。")
    assert [v for v, t in found] == ["hw_dad88", "hw_dad88", "QT-LX-2231", "2213"]


def test_a_chat_groups_name_is_no_address(generic):
    assert [v for v, t in spans(generic, "我在“红星村三组村民互助群”里说过。") if t == "address"] == []
    assert [v for v, t in spans(generic, "我住红星村三组，群里都知道。") if t == "address"] == ["红星村三组"]


def test_a_date_of_birth_is_still_personal_data(generic):
    assert spans(generic, "她生日是1983/04/27，2023-06-14 08:23报的名。") == [("1983/04/27", "long_number")]


def test_kinship_words_of_north_western_speech(generic):
    """达达 and 我大 (a father), 掌柜的 (a husband), 妹子: kinship words, no names; a given name after one is a name."""
    assert [v for v, t in spans(generic, "名字是她达达给起的，她达达识字。") if t == "name"] == []
    assert [v for v, t in spans(generic, "他掌柜的德旺爱喝酒，他妹子三花也劝过。") if t == "name"] == ["德旺", "三花"]
    assert [v for v, t in spans(generic, "他掌柜的去固原了，兄弟拉来两车砖。") if t == "name"] == []


def test_chat_lines_with_their_times_and_mentions(generic):
    text = ("2024-05-02 19:01 思雨妈妈：李老师 思雨今天请假\n2024-05-02 19:03 雨萱：收到\n"
            "2024-05-02 19:04 “雨萱”撤回了一条消息\n2024-05-02 19:05 李老师：@雨萱 好的")
    assert sorted({v for v, t in spans(generic, text) if t == "name"}) == ["思雨", "李", "雨萱"]


def test_a_surname_spelled_out_alone_is_redacted_whole(generic):
    assert [v for v, t in spans(generic, "（记录员：哪个章？）立早章，不是弓长张。") if t == "name"] == ["立早章", "弓长张"]


def test_names_after_call_me_and_a_given_name_before_a_pronoun(generic):
    assert [v for v, t in spans(generic, "小时候我奶奶叫我桂芝，后来才改的。") if t == "name"] == ["桂芝"]
    assert [v for v, t in spans(generic, "我借了杨德顺的钱，德顺他也不急。") if t == "name"] == ["杨德顺", "德顺"]
    assert [v for v, t in spans(generic, "她老叫我过来，叫我吃饭。") if t == "name"] == []


def test_names_with_ga_and_chat_notices(generic):
    """尕 + a name (north-western speech for 小): 尕宝, 尕花; not 尕娃 (a child). A message withdrawn
    names its sender, wherever the turn says the name but before a place's word (秀芝 … 秀芝区)."""
    assert [v for v, t in spans(generic, "那会儿尕宝跟尕花都小，尕娃们在村里跑。") if t == "name"] == ["尕宝", "尕花"]
    found = spans(generic, "“秀芝”撤回了一条消息\n20:15 物业：请到秀芝区服务点领取")
    assert [v for v, t in found if t == "name"] == ["秀芝"]


def test_a_given_name_again_in_text_without_punctuation(generic):
    """Speech recognition writes no commas: 丁秀琴 … 秀琴明天 (秀琴 run on into 明天) is her given name."""
    found = spans(generic, "说话人2 我嫂子叫丁秀琴 秀琴明天就回来了")
    assert [v for v, t in found if t == "name"] == ["丁秀琴", "秀琴"]


def test_a_doubled_given_name_after_a_kinship_word_but_not_a_doubled_adverb(generic):
    assert [v for v, t in spans(generic, "她外孙女乐乐在县上念书。") if t == "name"] == ["乐乐"]
    assert [v for v, t in spans(generic, "老伴天天去跳舞，儿子常常回来。") if t == "name"] == []


def test_a_lettered_file_number_with_a_dashed_tail_is_one_certificate():
    """With the demo study's config (no 证号 among its words), E12345678's shape must not take
    the head of a file number and leave its tail (CX5012342020-0815)."""
    from pipeline.text.numbers import find_numbers
    rules = load_rules(ROOT / "studies" / "demo" / "transcripts.yaml", ROOT / "config" / "stopwords.txt")
    text = "他的残疾证是CX5012342020-0815，去年办的。"
    assert [text[s:e] for s, e, _ in find_numbers(text, rules)][:1] == ["CX5012342020-0815"]


# --- round 9 (issue 17): people named again and again in one long answer ---------------------------
def test_a_given_name_with_xiao_said_again_is_the_given_name(generic):
    """小龙 of 马小龙 said again is his given name whole, not 小 + the surname 龙 (小[龙])."""
    found = spans(generic, "有个孩子叫马小龙，回族。我就让他当管理员。小龙他爸在工地上干活。")
    assert [v for v, t in found if t == "name"] == ["马小龙", "小龙"]
    assert [v for v, t in spans(generic, "我们楼的小龙师傅人好。") if t == "name"] == ["龙"]


def test_a_full_name_after_a_kinship_word_is_taken_whole(generic):
    """她儿子路建军: a surname (a weak one too) and two given characters after a kinship word are the
    full name, not 路建; 王强明天, 王芳学习: the third character starts the next word."""
    assert [v for v, t in spans(generic, "我媳妇敏秀珍在家种地，让她儿子路建军盯着。") if t == "name"] == ["敏秀珍", "路建军"]
    assert [v for v, t in spans(generic, "我儿子王强明天来，我女儿王芳学习好。") if t == "name"] == ["王强", "王芳"]


def test_a_given_name_said_again_inside_a_sentence(generic):
    """The given name of a full name found, said again inside a sentence (不是逗号后): 锁在晓明的柜子里,
    现在国强每个月; an everyday word (国庆, 建国) only before a title, a kinship or a person word."""
    found = spans(generic, "我们的会计张晓明，钥匙都锁在晓明的柜子里，现在晓明每个月来一趟。")
    assert [v for v, t in found if t == "name"] == ["张晓明", "晓明", "晓明"]
    found = spans(generic, "我女婿马国庆，去年国庆老哥住院，国庆节我们去看他。")
    assert [v for v, t in found if t == "name"] == ["马国庆", "国庆"]
    found = spans(generic, "他大名叫杨海麦，二儿子，海麦这个娃从小就灵。")
    assert [v for v, t in found if t == "name"] == ["杨海麦", "海麦"]


def test_a_full_name_the_turn_confirms(generic):
    """A surname and a given name that score a little low (a weak surname: 路; an everyday word as
    the given name: 国庆) are a name when the turn confirms it: the surname with a title elsewhere
    (路经理 … 路红霞), the given name before a kinship word (国庆老哥), a title after the full name;
    the surname's informal forms are then redacted too (路经理, 安奶奶). Without a confirmation
    nothing changes (比如马国庆 alone; 安全主任 no name)."""
    found = spans(generic, "我把物业的路经理叫上，路红霞，拍了照片。")
    assert [v for v, t in found if t == "name"] == ["路", "路红霞"]
    found = spans(generic, "比如马国庆，八四年入伍。去年国庆老哥住院了。")
    assert [v for v, t in found if t == "name"] == ["马国庆", "国庆"]
    found = spans(generic, "安玉兰奶奶八十五了，安奶奶一个人住。")
    assert [v for v, t in found if t == "name"] == ["安玉兰", "安"]
    assert [v for v, t in spans(generic, "比如马国庆，八四年入伍。安全主任说了。") if t == "name"] == []


def test_a_childs_doubled_pet_name_but_no_doubled_everyday_word(generic):
    """丫丫, 婷婷: a character of given names doubled, a rare word or none in jieba's dictionary, is a
    child's pet name wherever it makes no word with its neighbours (虎虎——: a dash is no AABB);
    天天, 常常, 哈哈, 高高兴兴, 姐姐 stay."""
    found = spans(generic, "放学以后婷婷先到我这儿来，她孙子虎虎——大名我不说了——也来。")
    assert [v for v, t in found if t == "name"] == ["婷婷", "虎虎"]
    found = spans(generic, "哈哈，老人天天高高兴兴的，常常跟姐姐说话。")
    assert [v for v, t in found if t == "name"] == []


def test_a_weak_surname_with_a_title_inside_a_sentence(generic):
    """安 (a weak surname: 安全, 安排) before a title inside a sentence: 那时候安书记, 送给安奶奶; not
    after a given-name character (哈正明老板: the full name), nor where the form is a word."""
    found = spans(generic, "那时候安书记天天在群里发通知，我们的面都送给安奶奶了。")
    assert [v for v, t in found if t == "name"] == ["安", "安"]
    found = spans(generic, "还有哈正明老板，大家注意安全。")
    assert [v for v, t in found if t == "name"] == ["哈正明"]


def test_a_full_name_after_lao_that_ends_a_word_and_said_again_glued(generic):
    """乡老丁福海: 老 ends 乡老 (a mosque's elder), the full name starts at the surname (not 老[丁]);
    a full name found, said again where jieba glues it to its neighbours (我丁占元活了), is redacted."""
    assert [v for v, t in spans(generic, "我们的乡老丁福海就悄悄递了一件外套。") if t == "name"] == ["丁福海"]
    found = spans(generic, "四组有个回族老汉丁占元，八十七了。他说“我丁占元活了八十七年”。")
    assert [v for v, t in found if t == "name"] == ["丁占元", "丁占元"]


def test_a_full_name_confirmed_by_a_partner_or_its_informal_form(generic):
    """王婷婷和路小梅: a weak surname's full name joined by 和 to a full name found; 万主任，万国庆 (万国
    a word): the informal form confirms it; 是康建军听见了 … 康老师: the full name, not 康建."""
    found = spans(generic, "店里有两个汉族姑娘，王婷婷和路小梅，小梅是贺兰人。")
    assert [v for v, t in found if t == "name"] == ["王婷婷", "路小梅", "小梅"]
    found = spans(generic, "可以找德育处的万主任，万国庆，他管这一块。")
    assert [v for v, t in found if t == "name"] == ["万", "万国庆"]
    found = spans(generic, "是康建军听见了，康老师打了120。")
    assert [v for v, t in found if t == "name"] == ["康建军", "康"]


@pytest.mark.parametrize("text,value,typ", [
    ("黑大夫的电话我记在门后头了，155，0322，1291。", "155，0322，1291", "mobile"),
    ("康主席的电话我还存着，187，呃，3397，0129。", "187，呃，3397，0129", "mobile"),
    ("我念她的卡号，六二幺二，二六幺九，零幺四四，九七四六，八六四，念到一半。", "六二幺二，二六幺九，零幺四四，九七四六，八六四", "bank_card"),
    ("身份证号我念的是六四零幺二幺，幺九九六，零三零二，二八四八，她说不对。", "六四零幺二幺，幺九九六，零三零二，二八四八", "id_number"),
    ("残疾证我抄过，64040219611115117X42，二级肢体残疾。", "64040219611115117X42", "certificate"),
    ("抖音上我们的号是jingyuan_maiyan，粉丝两万三。", "jingyuan_maiyan", "account"),
])
def test_numbers_in_groups_a_disability_certificate_and_an_account_of_words(generic, text, value, typ):
    """Arabic digits in groups after a phone word, Chinese digits in groups of up to six (an ID's
    region code) and a bank card's groups; an ID number and two digits (残疾人证); words joined by _."""
    assert (value, typ) in spans(generic, text)


def test_arabic_groups_without_a_phone_word_are_no_number(generic):
    assert spans(generic, "三年分别卖了155，0322，1291斤。") == []


@pytest.mark.parametrize("text,value", [
    ("他家在闽宁镇原隆村第五村民小组，种葡萄。", "闽宁镇原隆村第五村民小组"),
    ("他们住在悦湖家园二期，17号楼，3单元，302，楼上小两口。", "悦湖家园二期，17号楼，3单元，302"),
])
def test_a_group_with_di_and_a_compounds_phase(generic, text, value):
    """A village's group said with 第 (第五村民小组); a compound's phase (二期) before the parts said one by one."""
    assert (value, "address") in spans(generic, text)


def test_a_given_name_before_a_kinship_form_of_address(generic):
    """秀兰姐, 文军叔, 春梅婶子: two characters of given names (no everyday word) before a kinship form
    of address are a given name, not 秀 + the informal form 兰姐; 保洁阿姨, 东北大哥 stay."""
    found = spans(generic, "秀兰姐一个人供他上学，绑的是文军叔的卡，春梅婶子教我们绣花。")
    assert [v for v, t in found if t == "name"] == ["秀兰", "文军", "春梅"]
    assert [v for v, t in spans(generic, "保洁阿姨和东北大哥都来了，我和阿姨说了。") if t == "name"] == []


def test_a_given_name_with_a_numeral_said_again(generic):
    """马哈三 … 哈三是东乡族: the given name of a full name found, though it ends in a numeral."""
    found = spans(generic, "八组是回族马哈三家，哈三是东乡族，他说三三两两的来。")
    assert [v for v, t in found if t == "name"] == ["马哈三", "哈三"]


def test_a_name_in_apposition_and_a_short_name_with_its_informal_form(generic):
    """汉族老太太，安桂珍，: a weak surname's full name set off by commas after a person word; ——路鹏，小路——:
    a surname and one character set off by breaks, the informal form 小路 beside it."""
    found = spans(generic, "是个汉族老太太，安桂珍，住在西区。")
    assert [v for v, t in found if t == "name"] == ["安桂珍"]
    found = spans(generic, "请了楼上的男的——路鹏，小路——到社区来喝茶。路鹏一开始挺冲。")
    assert [v for v, t in found if t == "name"] == ["路鹏", "路", "路鹏"]
    assert [v for v, t in spans(generic, "走了一段路，路滑，小心。") if t == "name"] == []


def test_a_surname_of_a_name_found_before_a_role_word(generic):
    """常晓东 … 常网格员, 白雪 … 白同学: the surname of a name found before a role word."""
    found = spans(generic, "网格员常晓东来过，常网格员的工号我记着。")
    assert [v for v, t in found if t == "name"] == ["常晓东", "常"]


def test_a_name_found_is_redacted_where_jieba_glues_it(generic):
    """常丽 found (。常丽负责) is redacted in 她妈常丽现在 too (jieba's 妈常丽): no word crosses its ends."""
    found = spans(generic, "白雪她妈常丽现在是好朋友。常丽负责拍视频。")
    assert [v for v, t in found if t == "name"].count("常丽") == 2


def test_a_word_spelled_out_after_it_is_a_name(generic):
    """康宁——健康的康，安宁的宁——: an everyday word spelled character by character right after it is
    a name, redacted wherever the turn says it; one spelling alone (冶金的冶) makes no name."""
    found = spans(generic, "一辆是汉族康宁的。康宁——健康的康，安宁的宁——是个姑娘。后来还给康宁道了歉。")
    assert [v for v, t in found if t == "name"] == ["康宁", "康宁", "康", "宁", "康宁"]   # its characters spelled too
    assert [v for v, t in spans(generic, "身体健康，健康的康。") if t == "name"] == []


def test_a_full_name_after_a_parent_word_scoring_low(generic):
    """她爸拜永福腿不方便: a full name with an everyday given name (永福) after 她爸 is confirmed."""
    assert [v for v, t in spans(generic, "像拜玉洁，她爸拜永福腿不方便。") if t == "name"] == ["拜玉洁", "拜永福"]


def test_an_address_said_backwards_and_a_regions_file_number(generic):
    """五零三，五单元，十一号楼，就在清和家园: room, unit, building, then the compound; 640303-DB-2019-0447:
    a region's six digits and capitals and digits between dashes (a certificate with any config)."""
    found = spans(generic, "他们家租的房子是五零三，五单元，十一号楼，就在清和家园，上下楼都是汉族。")
    assert ("五零三，五单元，十一号楼，就在清和家园", "address") in found
    from pipeline.text.numbers import find_numbers
    rules = load_rules(ROOT / "studies" / "demo" / "transcripts.yaml", ROOT / "config" / "stopwords.txt")
    text = "他们家的低保证号是640303-DB-2019-0447，一类低保。"
    # (a set: the demo's config, like the template's, also finds it after 证号)
    assert sorted({(text[s:e], t) for s, e, t in find_numbers(text, rules)}) == [("640303-DB-2019-0447", "certificate")]


def test_chat_kinship_words_and_person_fields_are_configured():
    """redaction.names.chat_kin and person_fields (the template's lists by default) are a study's to change."""
    def edit(red):
        red["names"]["person_fields"] = ["监护人"]
        red["names"]["chat_kin"] = ["阿妈"]
    env = make(edit)
    found = spans(env, "好的。\n监护人：白雪\n记录：田野\n")
    assert [v for v, t in found if t == "name"] == ["白雪"]
    found = spans(env, "好的。\n浩然阿妈：明天几点？\n秀兰：九点\n")
    assert "浩然" in [v for v, t in found if t == "name"]


# ---- round 10 (tuned on tune12: focus groups, volunteers' notes, letters read aloud, rosters)

def _names(env, text):
    return [v for v, t in spans(env, text) if t == "name"]


def test_traditional_characters_are_read_as_simplified(generic):
    """楊阿姨, 馬家, 馬建華 and an address typed in traditional characters are found as in simplified
    ones; the spans are cut from the text as written."""
    assert _names(generic, "楊阿姨说邻居馬家人很好。") == ["楊", "馬"]
    found = spans(generic, "楼长馬建華，住大武口區長勝街道朝陽小區7號樓2單元301。")
    assert ("馬建華", "name") in found and ("大武口區長勝街道朝陽小區7號樓2單元301", "address") in found


def test_polite_forms_and_grid_workers_are_roles(generic):
    """庞先生, 禹女士 (禹 a rare surname: a name before a title), 杨网格员, 金网格长, 马老太."""
    assert _names(generic, "庞先生同意狗不进电梯，禹女士也签了字。") == ["庞", "禹"]
    assert _names(generic, "杨网格员你帮我再反映一下，金网格长也知道，马老太也去了。") == ["杨", "金", "马"]


def test_families_with_a_count_and_families_listed_after_their_people(generic):
    """宋家两兄弟, 余家两口子 (余家 otherwise a count: 十余家), 回族的沙家、汉族的邢家."""
    assert _names(generic, "像宋家两兄弟是甘肃来的，还有余家两口子。") == ["宋", "余"]
    assert _names(generic, "这条街上有十余家商户。") == []
    assert _names(generic, "我们这楼里，回族的沙家、汉族的邢家，都处得好。") == ["沙", "邢"]


def test_a_compound_surname_said_alone_or_with_one_given_character(generic):
    """除了欧阳。欧阳人家是学生; 欧阳雪你们先说; not 我长孙 (a grandson) nor 东方 (a direction)."""
    assert _names(generic, "我谁都不信，除了欧阳。欧阳人家是正经学生。") == ["欧阳", "欧阳"]
    assert _names(generic, "欧阳雪你们志愿者组织的多，你先说说。") == ["欧阳雪"]
    assert _names(generic, "他是我长孙，住在东方。") == []


@pytest.mark.parametrize("text,names", [
    ("三楼的司马建新一开始不同意，后来也签了。", ["司马建新"]),    # two given characters, jieba's 司马/建新, after 的
    ("有个业主闻人杰，在群里天天发。", ["闻人杰"]),             # a rare compound jieba knows as a name (闻/人杰)
    ("答：有。对门的呼延庆一家是从陕北过来的。", ["呼延庆"]),   # one given character before 一家
    ("我长孙今年高考，住在东方。", []),                         # 长孙 a grandson, 今年 a word
    ("这种事司空见惯，他是我的上官。", []),                     # a rare compound that is a word; 的上官 a superior
])
def test_a_compound_surname_with_its_given_name_anywhere(generic, text, names):
    """A compound surname that is no everyday word with one or two given characters, wherever it
    stands (no naming word before): 司马, and the rare 闻人 and 呼延 that jieba's dictionary tags as
    names."""
    assert _names(generic, text) == names


def test_people_calling_each_other_by_a_quoted_nickname(generic):
    """雨涵叫思琪“琪琪”: the caller, the one called and the nickname."""
    assert _names(generic, "孩子们都互相叫小名，雨涵叫思琪“琪琪”。") == ["雨涵", "思琪", "琪琪"]


def test_a_doubled_pet_name_after_a_kinship_word(generic):
    """孙女朵朵, 女儿甜甜; not 孙子天天 (an adverb of jieba's dictionary)."""
    assert _names(generic, "她家孙女朵朵在十三中上学，用的是她女儿甜甜的手机。") == ["朵朵", "甜甜"]
    assert _names(generic, "我孙子天天来看我。") == []


def test_a_muslim_name_with_the_surname_after_the_dot(generic):
    """阿卜杜拉·马: 经名·姓, the whole."""
    assert _names(generic, "队员阿卜杜拉·马，编号写在后面，大学生。") == ["阿卜杜拉·马"]


def test_a_name_with_its_people_after_it(generic):
    """我田满仓，汉族 (满仓 a word); 白雪是回族吗 (白雪 a word); not 我们村是回族村."""
    assert _names(generic, "发言人E：我田满仓，汉族，种地的。") == ["田满仓"]
    assert _names(generic, "访谈员：白雪是回族吗？") == ["白雪"]
    assert _names(generic, "我们村是回族村，大部分是汉族。") == []


def test_a_person_field_inside_a_letter_read_out(generic):
    """“举报人：拓海军，… and 特此反映。写信人：…: the signer of a letter read aloud."""
    assert _names(generic, "我给你念一个：“举报人：拓海军，海原县人，现在住镇上。”") == ["拓海军"]


def test_a_frequent_surname_said_alone_before_the_full_name(generic):
    """我叫柴，柴宏伟: 柴 alone (a frequent word) is a surname when the full name follows."""
    assert _names(generic, "我是村会计，我叫柴，柴宏伟。") == ["柴", "柴宏伟"]


def test_a_nickname_that_is_a_word_is_also_a_name_as_a_whole_clause(generic):
    """。杨柳，我儿子叫杨柳: also at the clause; 杨柳树 stays."""
    assert _names(generic, "在西安。杨柳，我儿子叫杨柳，就是杨柳树那两个字。") == ["杨柳", "杨柳"]


def test_a_clan_name_after_the_surname_word(generic):
    """原来姓瓜尔佳，: a clan's name without 氏; not 他姓什么，."""
    assert _names(generic, "她说她家原来姓瓜尔佳，挺有意思。") == ["瓜尔佳"]
    assert _names(generic, "你问他姓什么，他不说。") == []


def test_a_family_member_then_the_full_name(generic):
    """宗家老大宗立新 (立新 a word): the full name."""
    assert "宗立新" in _names(generic, "群主是宗家老大宗立新，他管着群。")


def test_a_long_name_after_a_naming_word_ending_with_a_listed_given_name(generic):
    """我叫乌云其木格，: the whole (其木格 is on the given_names list)."""
    assert _names(generic, "受访者：我叫乌云其木格，蒙古族。") == ["乌云其木格"]


def test_a_note_signed_with_a_surname(generic):
    """「有事打…，王」: the surname before the closing quote."""
    found = spans(generic, "门上贴了个条子：「有事打139 0952 7716，王」。")
    assert ("王", "name") in found


def test_addresses_of_a_compound_ending_in_a_stop_character_and_in_dashes(generic):
    """天元锦都小区 (都 a stop character elsewhere); “3-1-101” in quotes or after 住址; not 比分3-1."""
    found = spans(generic, "她住沙坡头区文萃南路天元锦都小区17号楼2单元1201，对门姓庞。")
    assert ("沙坡头区文萃南路天元锦都小区17号楼2单元1201", "address") in found
    assert [v for v, t in spans(generic, "她旁边写了“3-1-101”，比分3-1。") if t == "address"] == ["3-1-101"]


# ---- round 11 (tuned on tune13: hesitations, spelled characters, what is said of a person)

def test_a_false_start_and_a_name_broken_by_a_pause(generic):
    """周……周建国 (the false start with its pause, and the name said again); 苏……嗯……红霞 and
    白[听不清]兰 after 叫 (the whole); 冯什么……冯志刚; not 马……马上 nor 为什么……."""
    assert _names(generic, "以前的会计是周……周建国，后来调走了。") == ["周……", "周建国"]
    assert _names(generic, "那个人叫苏……嗯……红霞，就是苏红霞。") == ["苏……嗯……红霞", "苏红霞"]
    assert _names(generic, "我们组长叫白[听不清]兰，对。") == ["白[听不清]兰"]
    assert _names(generic, "他叫冯什么……冯志刚。") == ["冯", "冯志刚"]   # the surname alone, as the labelled set marks it (round 25)
    assert _names(generic, "我们马……马上就走。为什么……我也不知道。") == []


def test_a_surname_cut_off_by_a_pause_or_said_with_what(generic):
    """我媳妇许……[听不清]…… (after a kinship word); 彭什么我记不清了."""
    assert _names(generic, "我媳妇许……[听不清]……今天不在。") == ["许"]
    assert _names(generic, "那人姓彭，彭什么我记不清了。") == ["彭", "彭"]


def test_what_is_said_of_a_person_makes_a_name(generic):
    """秀芝是我外甥女 (not 户主是我老伴); 二丫——大家都这么叫她; 栓柱他爹 (not 孩子他爹)."""
    assert _names(generic, "秀芝是我外甥女，在银川上班。") == ["秀芝"]
    assert _names(generic, "户主是我老伴，身份证在她那儿。") == []
    assert _names(generic, "二丫——大家都这么叫她——在县城打工。") == ["二丫"]
    assert _names(generic, "栓柱他爹叫李福贵。") == ["栓柱", "李福贵"]
    assert _names(generic, "孩子他爹出去打工了。") == []


def test_kin_by_rank_a_short_name_in_a_list_and_a_name_by_birth_order(generic):
    """大姐桂兰, 二姐桂芳 (a rank before the kinship character; not 者大姐家隔壁); 孙子周浩、孙女周琪 (the
    window 孙女周 no longer joins 周琪 and takes it down with it, round 17); 叫他刘四，"""
    assert _names(generic, "我有三个姐姐：大姐桂兰在吴忠，二姐桂芳在银川。") == ["桂兰", "桂芳"]
    assert _names(generic, "者大姐家隔壁就是学校。") == ["者"]
    assert _names(generic, "孙子周浩、孙女周琪都在上学。我老伴马上，就来。") == ["周浩", "周琪"]
    assert _names(generic, "村里人都叫他刘四，大名刘德才。") == ["刘四", "刘德才"]


def test_families_by_a_member_rank_or_order_and_crafts_as_titles(generic):
    """高家的姑娘, 高家老三 (高家 a word of jieba's dictionary too), 头一家是冯家，第二家韩家; 曹皮匠,
    孙队员; 单家集 a place; not 国家的, 大家的."""
    assert _names(generic, "村东头是高家的姑娘嫁过去的，高家老三在外头打工。") == ["高", "高"]
    assert _names(generic, "头一家是冯家，第二家韩家。") == ["冯", "韩"]
    assert _names(generic, "国家的政策好，大家的孩子都上学了。") == []
    assert _names(generic, "门口修鞋的是曹皮匠，旁边是驻村工作队的孙队员。") == ["曹", "孙"]
    assert _names(generic, "单家集的人都知道单木匠。") == ["单"]


def test_a_name_ending_in_a_glue_character_before_a_break_and_a_surname_before_a_name(generic):
    """叫王福来， (not 王福 + 来); 我儿子家豪 (but 我哥家门口: a home); 户口上写的是马努尔曼."""
    assert _names(generic, "他叫王福来，是个好人。") == ["王福来"]
    assert _names(generic, "我儿子家豪在上海。我哥家门口有棵树。") == ["家豪"]
    assert "马努尔曼" in _names(generic, "户口上写的是马努尔曼，大家叫她努尔曼。")


def test_round_11_numbers_and_addresses(generic):
    """An id with letters in digit groups after its word (not a year after it); capital numerals;
    an e-mail's local part in pieces; a province before a deed's 字第; an address from the house
    outwards; a village's site (not a bed: 卫生点3号床)."""
    found = spans(generic, "医保卡号Y8801 3300 2201 46，还有社保卡号A12345678 2020年办的。")
    assert found == [("Y8801 3300 2201 46", "certificate"), ("A12345678", "certificate")]
    assert spans(generic, "电话写的是壹叁捌 零玖伍壹 贰贰叁叁。") == [("壹叁捌 零玖伍壹 贰贰叁叁", "mobile")]
    assert spans(generic, "邮箱是wang xiaoli 88 艾特 qq 点 com。") == [("wang xiaoli 88 艾特 qq 点 com", "email")]
    assert spans(generic, "房本证号宁房权证银字第 2018-01234 号。") == [("宁房权证银字第 2018-01234 号", "certificate")]
    assert spans(generic, "地址写9号，第五排，二区就行。") == [("9号，第五排，二区", "address")]
    assert spans(generic, "住在大河乡龙泉村安置点27号。") == [("大河乡龙泉村安置点27号", "address")]
    assert spans(generic, "他在村卫生点3号床。第三排，8号。") == []


# --------------------------------------------------------------------------------------------
# numbers of the sixteenth writer (round 12, numbers and addresses only; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("他手机是138 O951 6620，你记下。", "138 O951 6620", "mobile"),                # a letter O typed for a zero
    ("表上填的是幺3幺0951 7704，没错。", "幺3幺0951 7704", "mobile"),              # Chinese and Arabic digits interleaved
    ("他工号4 0 1 2 7 8，在三车间。", "4 0 1 2 7 8", "staff_id"),                  # one digit at a time after its word
    ("登记的卡号是640104C1029384，你核一下。", "640104C1029384", "certificate"),    # a card's number with a letter inside
    ("邮箱是lihua1980 at 126 dot com，别写错。", "lihua1980 at 126 dot com", "email"),      # at and dot said in English
    ("邮箱ma_xiaohong 艾特 一二六 点 com。", "ma_xiaohong 艾特 一二六 点 com", "email"),     # a domain in Chinese digits
])
def test_numbers_of_the_sixteenth_writer(generic, text, value, typ):
    assert [(v, t) for v, t in spans(generic, text)] == [(value, typ)]


@pytest.mark.parametrize("text", [
    "那款手机型号是X2O，挺老的。",              # an O after a digit but no digit after it
    "我们买了2023A001号的货。",               # a lettered batch number with few digits
    "我看了一下，at 3 点开会。",               # at in English with no address after it
])
def test_look_alikes_of_the_sixteenth_writers_numbers_are_kept(generic, text):
    assert spans(generic, text) == []


def test_a_room_read_out_with_liang(generic):
    assert spans(generic, "她家住福宁小区7号楼二单元幺两零幺，白天不在。") == [("福宁小区7号楼二单元幺两零幺", "address")]


# --------------------------------------------------------------------------------------------
# numbers of the seventeenth writer (round 13, numbers and addresses only; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("他学号念出来是二零二一 幺拐洞三勾，一个班就他一个。", "二零二一 幺拐洞三勾", "long_number"),   # 拐 7 and 勾 9 of the radio alphabet
    ("车是宁D 勾拐幺两洞，黑色的。", "宁D 勾拐幺两洞", "plate"),                           # a plate read out that way
    ("后面拖的是宁A·6021挂，前头是牵引车。", "宁A.6021挂", "plate"),                       # a trailer's plate: four characters and 挂
    ("病案号3302719，你去档案室调。", "3302719", "long_number"),                            # seven or more digits a …号 word names
    ("他的监督卡号NX20417，贴在车里。", "NX20417", "staff_id"),                             # capitals and digits after a …号 word
    ("邮箱念一下：m a l i n 一九九零 艾特 一六三 点 com。", "m a l i n 一九九零 艾特 一六三 点 com", "email"),  # spelled letter by letter
    ("他在拼多多上开了店，店名叫“马家枸杞小铺”，生意还行。", "马家枸杞小铺", "account"),      # a shop's name on a platform
    ("契税票上是吴房权证利通区字第2015004321号。", "吴房权证利通区字第2015004321号", "certificate"),  # a long issuer before 字第
    ("店就在金凤区万寿路丽景小区底商12号。", "金凤区万寿路丽景小区底商12号", "address"),      # a compound's shop front
])
def test_numbers_of_the_seventeenth_writer(generic, text, value, typ):
    found = [(v.replace("·", "."), t) for v, t in spans(generic, text)]
    assert found == [(value, typ)]


@pytest.mark.parametrize("text", [
    "他拐了个弯就到了，七八个人在等。",            # 拐 as a verb: no digits around it
    "我们3号开会，三号楼那边也来人。",               # 号 of a date or a building names no number
    "热线号码12345，打了没人接。",                  # a five-digit service line after 号码
    "群名叫“银川二手交易群”，你加一下。",            # a group's name is no one's account (no platform word either)
    "微信群名叫“幸福家园互助群”，进群的都是邻居。",   # a chat group's name after 微信
    "他家饭馆店名叫“黄河手抓”，就在路口。",           # a shop's name with no platform
    "圆齿龙（Globidens）意为“球状牙齿”，是一个属。",    # id inside a Latin word is no account word
])
def test_look_alikes_of_the_seventeenth_writers_numbers_are_kept(generic, text):
    assert spans(generic, text) == []


# --------------------------------------------------------------------------------------------
# numbers and addresses of the fourteenth and fifteenth writers (round 14; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("卡上印的是J64010219880101，你抄一下。", "J64010219880101", "certificate"),          # a capital and up to 18 digits
    ("残疾证是宁残字第640104-2020-00871号。", "宁残字第640104-2020-00871号", "certificate"),   # region-year-serial after 字第
    ("退休证宁退字2010第004211号，名字写错了。", "退休证宁退字2010第004211号", "certificate"),   # the year between 字 and 第
    # (the issuer's characters run back to a function word: 退休证 goes with it, as 银房权证兴庆区 does)
    ("社保卡号B7788 1234 5，老卡。", "B7788 1234 5", "certificate"),                     # a last group of one digit
    ("邮箱是 l i h u a at q q dot com，记下。", "l i h u a at q q dot com", "email"),      # the domain spelled out too
    ("身份证六四零一零四一九八八零三一五一零七叉，叉就是X。", "六四零一零四一九八八零三一五一零七叉", "id_number"),   # 叉 said for X
    ("有事在抖音上@ma_lan2001 找我。", "@ma_lan2001", "account"),                           # a platform's handle
    ("我是安检员3021号，有事找我。", "3021", "staff_id"),                                   # a post ending in 员, digits, 号
    ("办公室在万达广场1502室。", "万达广场1502室", "address"),                               # an office building's room
    ("她住阅海湾7-2-1101，靠东边。", "阅海湾7-2-1101", "address"),                           # building-unit-room after a name
    ("我爸住康乐小区5号楼106房间。", "康乐小区5号楼106房间", "address"),                     # 房间 as a room
    ("I met her at Room 502, Building 3, Lihua Garden last week.", "Room 502, Building 3, Lihua Garden", "address"),
])
def test_numbers_of_the_fourteenth_and_fifteenth_writers(generic, text, value, typ):
    found = [(v.replace("·", "."), t) for v, t in spans(generic, text)]
    assert found == [(value, typ)]


def test_an_identifier_again_in_another_spelling_or_shape(generic):
    """An account spelled out, then said plainly (Y-Z-L … yzl); a contract number, then another of
    the same shape close by."""
    assert spans(generic, "微信M-X-L-8-8-6，就是小写的mxl886。") == [("M-X-L-8-8-6", "account"), ("mxl886", "account")]
    found = spans(generic, "合同编号HT-2021-0088，另一份是HT-2022-0107。")
    assert [v for v, _ in found] == ["HT-2021-0088", "HT-2022-0107"]


@pytest.mark.parametrize("text", [
    "我们小区1500户，三千多人。",             # a count of households after a compound
    "@马书记 收到，明天去。",                  # a handle in Chinese is a name's business, not an account's
    "他是队员，穿3号。",                       # a short number after 员 is no staff number
    "Minning Town is a resettlement town.",   # a place's name alone in English
    "就给了我一个单号;PQ0000-00000000，我第二天去问。",   # a masked identifier after its word
])
def test_look_alikes_of_the_fourteenth_and_fifteenth_writers_forms_are_kept(generic, text):
    assert [t for _, t in spans(generic, text) if t != "name"] == []


def test_a_roster_name_a_line_break_cuts(generic):
    text = "名单最后一个是王\n建军，别当成两个人。"
    assert ("王\n建军", "name") in spans(generic, text, roster=["王建军"])


def test_a_mask_of_zeros_is_kept_but_repeated_digits_of_a_person_are_not(generic):
    """PQ0000-00000000 (a masked order number) stays; an e-mail address or an account of one repeated
    digit other than zero is someone's (888888@qq.com, QQ 66666666)."""
    assert [t for _, t in spans(generic, "单号PQ0000-00000000，没用。") if t != "name"] == []
    assert ("888888@qq.com", "email") in spans(generic, "邮箱888888@qq.com，你发过来。")
    assert ("mx_66666", "account") in spans(generic, "微信号mx_66666，加我。")


# --------------------------------------------------------------------------------------------
# numbers and addresses of the eighteenth and nineteenth writers (round 15; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("车牌是宁A，幺三五七九，跑了。", "宁A，幺三五七九", "plate"),                            # a comma after the letter
    ("邮箱 mali下划线0951 艾特 163 点 com，发这儿。", "mali下划线0951 艾特 163 点 com", "email"),   # _ said as 下划线
    ("座机是零九五四，二零三八八一七，白天有人。", "零九五四，二零三八八一七", "landline"),        # a long group after the area code
    ("我在快手上卖羊肉，号叫西吉尕娃羊肉铺，你搜。", "西吉尕娃羊肉铺", "account"),              # an account's name without quotes
    ("微信号是马上发财888，你加一下。", "马上发财888", "account"),                             # Han and digits after 微信号是
    ("住的是六〇二，三号楼二单元，幸福小区。", "六〇二，三号楼二单元，幸福小区", "address"),      # a room, then larger parts
    ("我家五队，十二号，红星村，同心县。", "五队，十二号，红星村，同心县", "address"),          # a group, the house, the places
    ("铺子在清河小区3号楼底商，好找。", "清河小区3号楼底商", "address"),                      # a building's shop front
    ("分到的是阅海家园二区九排六号。", "阅海家园二区九排六号", "address"),                    # a compound's section, row, house
])
def test_numbers_of_the_eighteenth_and_nineteenth_writers(generic, text, value, typ):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, typ)]


@pytest.mark.parametrize("text", [
    "我的快手号是我闺女的名字。",                  # a clause, not an account's name
    "你抖音号叫什么？",                             # a question
    "公众号叫幸福里之家，是社区的。",                # a public account is no one's
    "微信号是丫头给我弄的，我不会。",                # a clause ending in 的
    "淘宝店名叫塞上红，卖枸杞。",                    # a shop's name
    "我们是五组，三号，在村里开会。",                # a group and a date, then no place's name
    "住的是三〇一，在西夏区那边。",                   # a room and a district: no step between
])
def test_look_alikes_of_the_eighteenth_and_nineteenth_writers_forms_are_kept(generic, text):
    assert [t for _, t in spans(generic, text) if t != "name"] == []


# --------------------------------------------------------------------------------------------
# numbers and addresses of the twentieth and twenty-first writers (round 16; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("加他微信吧，m-a-l-i 幺九七七，大写小写都行。", "m-a-l-i 幺九七七", "account"),             # letters spelled, digits read out
    ("微信号你记一下：s h l 零五 二三，好了。", "s h l 零五 二三", "account"),                   # in groups
    ("微信号有点长，你记好：yc下划线mf 二零一九，就这个。", "yc下划线mf 二零一九", "account"),   # _ said between letters
    ("邮箱是wanghong六六 at 163点com，发这儿。", "wanghong六六 at 163点com", "email"),         # letters and Chinese digits together
    ("车是宁 B，七八幺幺洞，白色的。", "宁 B，七八幺幺洞", "plate"),                          # a space after the province
    ("医保卡号我背得下来，C 3 8 1 0 4 7 2 6，你查。", "C 3 8 1 0 4 7 2 6", "certificate"),   # a letter and digits one at a time
    ("他的护照是PE 5522318，去年办的。", "PE 5522318", "certificate"),                         # capitals, a space, digits
    ("单号ZT 7731 0042 8865 19，你查查。", "ZT 7731 0042 8865 19", "long_number"),              # a lettered order number in groups
    ("劳动仲裁案号是吴劳人仲案字〔2022〕第0211号。", "吴劳人仲案字〔2022〕第0211号", "certificate"),   # a case's number: its parties'
    ("办公室电话（0953）2045167，分机 208，找我。", "（0953）2045167，分机 208", "landline"),     # an extension after a comma
    ("座机零九五三 二零四 五一六七 转 二零八。", "零九五三 二零四 五一六七 转 二零八", "landline"),   # read out, with 转
    ("号码前头是一三九，中间是五零二一，后头六六七八。", "一三九，中间是五零二一，后头六六七八", "mobile"),   # said in three parts
])
def test_numbers_of_the_twentieth_and_twenty_first_writers(generic, text, value, typ):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, typ)]


@pytest.mark.parametrize("text,value", [
    ("住在星光村3组第12户，靠路边。", "星光村3组第12户"),                     # 第 before the house
    ("我住永安村五组幺洞三号。", "永安村五组幺洞三号"),                       # the house read out with 幺 and 洞
    ("我们是西夏区怀远西街五十八号院，租的。", "西夏区怀远西街五十八号院"),      # a road's courtyard number
    ("店在利通区朝阳大道北段118号。", "利通区朝阳大道北段118号"),             # a road's section
    ("铺子在康乐小区东门底商6号。", "康乐小区东门底商6号"),                    # a shop by a compound's gate
    ("我住金凤区北京中路88号，嗯，阅海花园，五号楼，三单元，402。", "金凤区北京中路88号，嗯，阅海花园，五号楼，三单元，402"),   # in pieces
])
def test_addresses_of_the_twentieth_and_twenty_first_writers(generic, text, value):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, "address")]


@pytest.mark.parametrize("text", [
    "Contact 135 people before noon, then call the office.",   # an English word and a count
    "根据宁政发〔2017〕52号文件办理。",                          # a public document's number is kept
    "按GB 50500-2013的规范算。",                                  # a standard's code gets no prefix (the number itself is the year's rule's)
    "我住五楼，一层是门面。",                                     # floors said after a comma: no address
    "微信群里QQ 一二三都说了。",                                  # the platform's name and a count
    "文件里写的是ABC 一九年的事。",                               # letters and a year, no account word near
])
def test_look_alikes_of_the_twentieth_and_twenty_first_writers_forms_are_kept(generic, text):
    found = [(v, t) for v, t in spans(generic, text) if t != "name"]
    assert not any(t in ("account", "address", "certificate") or v.startswith(("GB", "Contact")) for v, t in found), found


# --------------------------------------------------------------------------------------------
# names of the twentieth and twenty-first writers' classes (round 17; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,names", [
    ("他外甥刘 有 福昨天来过。", ["刘 有 福"]),                          # spelled out: 有 first
    ("上官 平安家的狗又跑了。", ["上官 平安"]),                          # a compound surname: an everyday word as given name
    ("他姐夫纳 阿 卜 杜 勒来了。", ["纳 阿 卜 杜 勒"]),                  # four given characters, each set off
    ("联系人仝 建 华，电话找他。", ["仝 建 华"]),                        # a rare surname after a form's person field
    ("反映人井 海 涛，说楼道灯坏了。", ["井 海 涛"]),                    # a very rare one
    ("申请人连 建 军，家里困难。", ["连 建 军"]),                        # a weak one
    ("我叫连 勇，在这住了十年。", ["连 勇"]),                            # a weak surname after 我叫
    ("娃娃叫尔 萨，今年上一年级。", ["尔 萨"]),                          # a listed given name spaced out
    ("她孙子杨 小 东来接她。", ["杨 小 东"]),                            # after a kinship word that starts with a surname
    ("他把车停在王家的门口，挡路了。", ["王"]),                            # a family's thing
    ("这个事，周家那边没意见。", ["周"]),                                # a family as a clause's subject
    ("赵家小孩昨天发烧了。", ["赵"]),                                    # a family by its child
    ("回族杨家跟我们合伙开店。", ["杨"]),                                # a family after a people's name
    ("有个白经理，白云，你认识吧。", ["白", "白云"]),                    # a title restated as a full name
    ("卢老师，卢笑笑，孩子们都喜欢她。", ["卢", "卢笑笑"]),
])
def test_names_of_the_twentieth_and_twenty_first_writers_classes(generic, text, names):
    assert _names(generic, text) == names


@pytest.mark.parametrize("text,names", [
    ("商家的货不行，买家的钱也退不回来。", []),                          # 商家, 买家: words, no family
    ("国家的政策好，大家的日子也好了。", []),
    ("我们这儿都姓马，马家的人多。", []),                                # the surname in general
    ("谭家村的地，谭家的水都被污染了。", []),                            # 谭家 named as a village
    ("马主任，马上，我就来。", ["马"]),                                  # 马上: no given name
    ("找王老师，王老师，你来。", ["王", "王"]),                          # the title said again, not a given name
    ("我 我 我 说 不 清 楚。", []),                                      # a stammer spaced out
])
def test_look_alikes_of_the_twentieth_and_twenty_first_writers_names_are_kept(generic, text, names):
    assert _names(generic, text) == names


# --------------------------------------------------------------------------------------------
# numbers and addresses of the twenty-second and twenty-third writers (round 18; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("他留的电话一八九，零九五二，六六零三，12345那边回访。", "一八九，零九五二，六六零三", "mobile"),   # groups, then a public line
    ("身份证号：六四零一零四，一九七二，零三一一，零零零，X。", "六四零一零四，一九七二，零三一一，零零零，X", "id_number"),   # X as a group
    ("电话153 (0951) 4478，找我。", "153 (0951) 4478", "mobile"),                        # brackets inside a mobile
    ("后车是宁——B——C五五一二。", "宁——B——C五五一二", "plate"),                          # dashes in a plate
    ("办公室0951 - 5 0 2 8 3 1 6 转 3 0 8。", "0951 - 5 0 2 8 3 1 6 转 3 0 8", "landline"),   # an extension digit by digit
    ("工号是幺五零七三二，中通的。", "幺五零七三二", "staff_id"),                           # a staff number read out
    ("他的QQ号是一二三四五六七八，你加。", "一二三四五六七八", "account"),                   # an account read out
    ("居住证号宁银居 640105 2023 008137，一年有效。", "宁银居 640105 2023 008137", "long_number"),   # the issuer's prefix
    ("微信号是 l i u x i a o 1 9 8 8，加我。", "l i u x i a o 1 9 8 8", "account"),     # letters and digits one by one
    ("微信号你记：K-M-Q 五 五 二 零，好。", "K-M-Q 五 五 二 零", "account"),
    ("微信号 z、h、y、m，下划线，零九五三，加吧。", "z、h、y、m，下划线，零九五三", "account"),   # 、 and a said underscore
    ("微信号n-a-y-a-n 一九九二零九。", "n-a-y-a-n 一九九二零九", "account"),              # spelled before the context's id
    ("邮箱是 w-a-n-g-l-i 下划线 一九九零 艾特 一六三 点 com。", "w-a-n-g-l-i 下划线 一九九零 艾特 一六三 点 com", "email"),
])
def test_numbers_of_the_twenty_second_and_twenty_third_writers(generic, text, value, typ):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, typ)]


@pytest.mark.parametrize("text,value", [
    ("家在闽宁镇原隆村，嗯，八组，32号。", "闽宁镇原隆村，嗯，八组，32号"),               # a filler and commas between the parts
    ("住泾源县大湾乡杨岭村四组，门牌是十七号。", "泾源县大湾乡杨岭村四组，门牌是十七号"),   # 门牌是 before the house
    ("西吉县将台堡镇毛家沟村，二组，第31号。", "西吉县将台堡镇毛家沟村，二组，第31号"),
    ("贺兰县洪广镇欣荣村 四 组 7 号。", "贺兰县洪广镇欣荣村 四 组 7 号"),                  # spaces of a form
    ("原州区官厅镇后川村二组（19）号。", "原州区官厅镇后川村二组（19）号"),                # the house in brackets
    ("住北京中路 166 号。", "北京中路 166 号"),
    ("上前城 小区 南门 对面 商铺 6 号。", "上前城 小区 南门 对面 商铺 6 号"),             # a shop across from a gate
    ("住阳光小区十栋幺单元二零四。", "阳光小区十栋幺单元二零四"),                          # 幺 in a unit
])
def test_addresses_of_the_twenty_second_and_twenty_third_writers(generic, text, value):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, "address")]


@pytest.mark.parametrize("text", [
    "我打过12345，110也打过，都不管用。",                        # public lines listed: no one number
    "发公司邮箱service@hlswinery.cn也行。",                      # an office's mailbox
    "公共邮箱是wy_service@jinhui-wuye.com。",
    "金融账号是上面那个。",                                      # a reference back, no account's name
    "我们村有五组，16号开会。",                                  # a date after a group, no named village
    "我们村那个四组的人都来了。",
    "工号是三个数。",
])
def test_look_alikes_of_the_twenty_second_and_twenty_third_writers_forms_are_kept(generic, text):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == []


def test_a_persons_mailbox_with_an_office_word_is_redacted(generic):
    found = [(v, t) for v, t in spans(generic, "他的邮箱是 hr.wang@szjobs.cn，你发给他。") if t != "name"]
    assert found == [("hr.wang@szjobs.cn", "email")]


def test_a_number_right_after_a_roster_name_is_still_redacted(generic):
    """A roster's name claims its characters first; a number whose span would start in it (a
    prefix rule reaching back: 苏 is a province's abbreviation) keeps the rest (leak test, round 18:
    苏海燕 2876541093 became one long number, the roster's name took its head, and the number went
    unredacted)."""
    found = spans(generic, "已报：苏海燕 2876541093；杨军 409871236。", roster=["苏海燕"])
    assert ("2876541093", "long_number") in found and ("苏海燕", "name") in found
    found = spans(generic, "居住证号宁银居 640105 2023 008137。", roster=["宁银居"])
    assert ("640105 2023 008137", "long_number") in found


# --------------------------------------------------------------------------------------------
# numbers and addresses of the twenty-fourth and twenty-fifth writers (round 19; own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("她那辆电动车是宁B·电31864，放楼下了。", "宁B·电31864", "plate"),                    # 电 after the letter
    ("车牌宁C 电 70215，白色的。", "宁C 电 70215", "plate"),
    ("牌子上写的吴忠 C 52381，旧牌子。", "吴忠 C 52381", "plate"),                           # the place said for 宁
    ("挂的固原 D 10476，没问题。", "固原 D 10476", "plate"),
    ("他护照号码G 4417 0826，下个月到期。", "G 4417 0826", "certificate"),                  # letter, digits in groups
    ("监督卡号WZ-K-3318，出租车上贴着。", "WZ-K-3318", "staff_id"),                         # a one-letter group
    ("他的微信号你记 m h j 2003 YC，大写小写都行。", "m h j 2003 YC", "account"),          # letters after the digits
])
def test_numbers_of_the_twenty_fourth_and_twenty_fifth_writers(generic, text, value, typ):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, typ)]


@pytest.mark.parametrize("text,value", [
    ("我住兴庆区 丽景湾 和顺苑 A区 3-2-801。", "兴庆区 丽景湾 和顺苑 A区 3-2-801"),      # a compound's 湾 before a space
    ("快递寄到西夏区怀远路富力华府 C座 2207。", "西夏区怀远路富力华府 C座 2207"),           # 华府 before a space
    ("地址：永宁县望远镇星河湾 8-1-302。", "永宁县望远镇星河湾 8-1-302"),                   # building-unit-room after a space
    ("红寺堡区幸福家园二村十一排三号。", "红寺堡区幸福家园二村十一排三号"),                 # villages and rows of a compound
])
def test_addresses_of_the_twenty_fourth_and_twenty_fifth_writers(generic, text, value):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, "address")]


@pytest.mark.parametrize("text", [
    "快递到了，取件码6-1-2045，你去拿。",                        # a pick-up code, not a flat
    "短信说取货码：3-5-1102，驿站关门早。",
    "验证码 4-2-7781 别告诉别人。",
    "我在银川A区住，离单位近。",                                  # a place, a section: no plate
    "宁夏电力公司的人来过。",                                     # 电 after a province's name: no plate
    "他考了B 2019年的证。",                                       # a letter and a year: no certificate
    "家里有两个村，三排房子。",                                   # villages and rows without a house
])
def test_look_alikes_of_the_twenty_fourth_and_twenty_fifth_writers_forms_are_kept(generic, text):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == []


def test_a_declared_name_spelled_with_separators_is_still_the_name(generic):
    """A roster's 马占林 at 马、占、林, 马 占 林, 马·占·林 and 马—占—林 (the leak test, round 19: the
    spelled form stayed in the text when only spaces were allowed between the characters); a list
    that does not spell it is left alone."""
    for text in ("身份证上是马、占、林，马，占领的占。", "身份证上是马 占 林，对。", "身份证上是马·占·林，对。",
                 "身份证上是马—占—林，对。"):
        name = text[5:text.index("，")]
        assert (name, "name") in spans(generic, text, roster=["马占林"]), text
    assert ("马、占、林", "name") not in spans(generic, "马、占、林，还有牛，都是姓。", roster=["马占山"])


# round 20 (writers 26 and 27, measured blind, then tuned on): the forms they wrote that passed
@pytest.mark.parametrize("text, value, typ", [
    ("我们开了个公众号，tongxin_huangmi，你关注一下。", "tongxin_huangmi", "account"),     # 公众号 an account word
    ("老师让家长注册钉钉，我的钉钉号是nx_wangli0612。", "nx_wangli0612", "account"),        # 钉钉 an account word
    ("你加她微信，m a l i 1 9 9 0 _ n x，备注一下。", "m a l i 1 9 9 0 _ n x", "account"),   # letters after the said _
    ("微信号wx 1 5 8 3 3 0 2 y q，你加我。", "wx 1 5 8 3 3 0 2 y q", "account"),           # spelled letters after the digits
    ("要订饭就加我微信，ma lan _ 139 yc，我管饭桌。", "ma lan _ 139 yc", "account"),        # a pinyin name spaced
    ("我那个QQ是零几年申请的，号是四八二七五九三一，九位的不是。", "四八二七五九三一", "account"),   # digit by digit after QQ
    ("工号K Z Y - 2 0 8，我是包装组的。", "K Z Y - 2 0 8", "staff_id"),                    # spaced, a dash between
    ("问：你们有编号吗？\n答：有，街道统一编的，我是XF-WG-0 3 5 8，挂胸口上。", "XF-WG-0 3 5 8", "staff_id"),
])
def test_round_20_identifiers(generic, text, value, typ):
    assert (value, typ) in spans(generic, text)


@pytest.mark.parametrize("text, value", [
    ("我家是兴庆区湖滨街丽都花园12号楼3单元401，楼上老漏水。", "兴庆区湖滨街丽都花园12号楼3单元401"),   # 丽都 + 花园: 都 ends the name
    ("我家在金凤区正源街与长城路交叉口紫园小区6号楼1502，离学校近。", "金凤区正源街与长城路交叉口紫园小区6号楼1502"),
])
def test_round_20_addresses(generic, text, value):
    assert [v for v, t in spans(generic, text) if t == "address"] == [value]


def test_an_amount_after_an_account_word_stays(generic):
    """A number said digit by digit after an account word is an account; an amount in words is not."""
    assert spans(generic, "微信里转了我三千五百块，说是工钱。") == []


@pytest.mark.parametrize("text, name", [
    ("物业綦经理来看了，说是楼上漏的。", "綦"),        # a very rare surname, a word of its own after a word (物业 綦 经理)
    ("交警队邸警官定的他全责。", "邸"),
    ("还有谢谢伊书记，跑了好几趟。", "伊"),
])
def test_a_very_rare_surname_with_a_title_after_a_word(generic, text, name):
    assert (name, "name") in spans(generic, text)


@pytest.mark.parametrize("text", ["喝水老师说不行。", "大家都老师长老师短的。"])
def test_a_very_rare_surname_glued_to_a_word_stays(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text,names", [
    ("她叫柯雪梅，柯是木字旁那个柯，雪花的雪，梅花的梅。", ["柯雪梅", "柯", "雪", "梅"]),   # 木字旁那个柯: round 26
    ("岳，岳父的岳，芳，芬芳的芳，岳芳。", ["岳", "岳", "芳", "芳", "岳芳"]),     # each character said alone first too
    ("冬天下雪，雪花的雪。", []),                                                 # no name in the turn holds it
])
def test_the_characters_of_a_name_spelled_out_are_redacted(generic, text, names):
    """Round 21: B of a spelling frame A的B is part of a name found in the turn, so it is redacted
    (left in the text, 马上的马，秀气的秀 gives 马秀兰 back); the tagger's veto does not drop it."""
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text,names", [
    # a family named by a floor, a building or a household word, like a neighbour word (round 21)
    ("对门裴家漏水漏到三楼俞家，俞家媳妇去找物业。", ["裴", "俞", "俞"]),
    # a family named by the surname of a full name found in the turn; a place is none (张家口)
    ("贫困户柏家的房子是去年翻修的，户主柏长顺。", ["柏", "柏长顺"]),
    ("张伟说张家口很冷，张家界也去过。", ["张伟"]),
    ("他住二号楼，家里没人。", []),
])
def test_families_named_by_where_they_live_or_by_a_name_found(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text,names", [
    # round 21's titles and surnames (冼 庹 鹿 官, rare: a title or a naming word)
    ("冼师傅修好了，庹会长也来了，卜行长没来。", ["冼", "庹", "卜"]),
    ("拆迁办的官主任也签了字，官方说法是这样。", ["官"]),
    ("我们是跟着工头梁工头过来的，她是韩小姐。", ["梁", "韩"]),
    # a surname and the title's first character that jieba makes one word: no title there
    ("她说开发商总经理不在。", []), ("他在上班工地受伤了。", []),
])
def test_round_21_titles(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text,value", [("厂牌号DG-A0529376，住在宿舍。", "DG-A0529376"),
                                        ("他的厂牌是 GX-20417，红色的。", "GX-20417")])
def test_a_factory_badge_number_is_a_staff_number(generic, text, value):
    """厂牌号 / 厂牌 (a factory's badge) are staff words since round 21 (a training writer's 厂牌号DG-A0529376:
    before, only A0529376 was taken, as a certificate)."""
    assert (value, "staff_id") in spans(generic, text)


@pytest.mark.parametrize("text,names", [("大家叫他勉主任，勉强算是个老好人。", ["勉"]),    # a surname added in round 21
                                        ("大家叫他勖主任，人不错。", ["勖"])])             # a head in no list: the title still stays
def test_a_name_found_whole_with_a_title_keeps_the_title(generic, text, names):
    """Whatever finder took a surname and its title as one name (叫他X主任), the role word survives
    (round 21: a training writer's 叫他勉主任 lost 主任)."""
    assert [v for v, t in spans(generic, text) if t == "name"] == names


def test_the_token_cache_key_reads_every_room_of_the_name_finder():
    """Every module of the name finder (pipeline/text/name*.py) is part of the token cache's key,
    so a fixed rule in any of them never reads tokens made before the fix (namespeech.py and
    namespoken.py were missing from the listed files before round 21)."""
    from pipeline.text.rules import redaction_code_files

    files = {p.name for p in redaction_code_files()}
    rooms = {p.name for p in (ROOT / "pipeline" / "text").glob("name*.py")}
    assert {"names.py", "namespeech.py", "namespoken.py", "nameinformal.py", "nametagger.py"} <= rooms <= files
    assert {"redact.py", "numbers.py", "segment.py", "units.py"} <= files


@pytest.mark.parametrize("text,value", [
    ("家在金凤区上海西路宁安小区C-7-2-602，周四下午都在。", "金凤区上海西路宁安小区C-7-2-602"),   # a zone's letter first
    ("店面在兴庆区玉皇阁北街金太阳商城一楼A-18号商铺。", "兴庆区玉皇阁北街金太阳商城一楼A-18号商铺"),  # a market's shop
    ("在新华广场2楼15号商铺买的。", "新华广场2楼15号商铺"),
])
def test_round_21_addresses(generic, text, value):
    assert (value, "address") in spans(generic, text)
    assert [v for v, t in spans(generic, "广场上有3号摊位卖水果。")] == []      # a stall's number alone: no address


@pytest.mark.parametrize("text", ["他是包工头，欠我们工钱。", "我们班同学都去了。", "纯牛奶好喝。"])
def test_a_surname_jieba_joins_to_the_title_is_no_name(generic, text):
    """包工头 (jieba's word: a surname + 工头), 班同学 (同学 is no title), 牛奶 (牛 + 奶): no name."""
    assert [v for v, t in spans(generic, text) if t == "name"] == []


# --------------------------------------------------------------------------------------------
# round 22: the numbers and addresses the training writers 30-33 wrote that passed (own sentences)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("鉴定书上写的宁残鉴字〔2019〕第0412号，我收着。", "宁残鉴字〔2019〕第0412号", "certificate"),   # an appraisal: a person's case
    ("调解书是吴调〔2023〕第0056号。", "吴调〔2023〕第0056号", "certificate"),                          # a mediation's
    ("他的上岗证编号是QH安字2021-0583，挂在胸前。", "QH安字2021-0583", "certificate"),              # letters, 字, year-serial
    ("他那个警号，我拿笔记了一下，是071236，后来也没用上。", "071236", "staff_id"),                  # the word a clause before
    ("问：你看到他的工号了吗？\n答：看到了，40317。", "40317", "staff_id"),                          # the number answers the question
    ("道路运输证号宁运货字0024417号，跑长途。", "宁运货字0024417号", "certificate"),                 # 字 and the number, no 第
    ("我们这片三个人，她是QZ-WG-1207。", "QZ-WG-1207", "staff_id"),                                  # a person said to be the code
    ("他家三轮子的牌子是宁03-27419，蓝色的。", "宁03-27419", "plate"),                              # a farm vehicle's plate
    ("村委会电话0954-3017726（分机12），白天有人。", "0954-3017726（分机12）", "landline"),           # the extension in brackets
    ("用QQ，我的QQ号2298310467，我表妹的是58830291。", None, "account"),                            # a list: 'my cousin's is'
    ("兽医证书编号宁农兽医640324-0277，贴在门上。", "宁农兽医640324-0277", "certificate"),             # the issuer's characters first
])
def test_round_22_identifiers(generic, text, value, typ):
    if value is None:                                                   # two of the type
        assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [("2298310467", typ), ("58830291", typ)]
    else:
        assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, typ)]


@pytest.mark.parametrize("text", [
    "根据宁政办发〔2021〕36号文件执行。",            # a public document's number stays
    "工号我记不清了，反正是2018年进的厂。",           # a year after the word: no id
    "账号我没带，里面还有35000多块。",                 # an amount
    "警号？那我没看。他来了三次。",                     # no number after the word
    "编号在门上，有事打96156热线。",                     # a service line to call after the word
    "宁夏04年到18年变化大。",                            # a province's name and years: no plate
])
def test_round_22_look_alikes_are_kept(generic, text):
    assert [t for _, t in spans(generic, text) if t != "name"] == []


@pytest.mark.parametrize("text,value", [
    ("在深圳市宝安区福永街道凤凰路41号宿舍楼302住了两年。", "深圳市宝安区福永街道凤凰路41号宿舍楼302"),   # a road's house, a named building, a room
    ("她家在西夏区文昌南街西花园巷8号3楼。", "西夏区文昌南街西花园巷8号3楼"),                      # a road's house and a floor
    ("库房在红寺堡区弘德工业园区12号厂房。", "红寺堡区弘德工业园区12号厂房"),                      # an industrial park's number
    ("门面在兴庆区丽景北街阳光小区5号楼底商2号。", "兴庆区丽景北街阳光小区5号楼底商2号"),             # a building's shop and its number
    ("他家住在原州区中山街南关桥27号。", "原州区中山街南关桥27号"),                                 # a bridge is a road's name
])
def test_round_22_addresses(generic, text, value):
    assert [(v, t) for v, t in spans(generic, text) if t != "name"] == [(value, "address")]


@pytest.mark.parametrize("text", ["过了大桥3号那天就下雨了。", "北京路15号下午停电。", "工业园8号开工。"])
def test_a_day_of_the_month_after_a_road_is_no_house(generic, text):
    assert [t for _, t in spans(generic, text) if t != "name"] == []


@pytest.mark.parametrize("text,names", [
    ("他说“免贵姓郜，郜县的郜”。", ["郜", "郜"]),                        # a spelling before a closing quote
    ("大名叫车红霞，车辆的那个车。", ["车红霞", "车"]),                  # 的那个: one character
])
def test_spellings_in_quotes_and_with_that_one(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text,names", [
    ("护照上写的是Rustam Nazarov，中文名没有。", ["Rustam Nazarov"]),      # a name in Latin letters after a naming word
    ("她女儿Meruyert在北京读书。", ["Meruyert"]),                          # after a kinship word
    ("名片上印的SUN DEHAI，我还以为是外国人。", ["SUN DEHAI"]),              # in capitals, two words
])
def test_names_in_latin_letters_after_a_naming_word(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", ["我叫APP帮我查的。", "中国的Facebook是哪个？", "答：Windows装不上。", "他朋友WeChat上说的。"])
def test_latin_words_that_are_no_names(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text,names", [
    ("我婆姨尕莲伺候他。", ["尕莲"]),                  # 尕 + a character after a kinship word: a nickname, whole
    ("打我娃尕虎的电话。", ["尕虎"]),
    ("尕马跟我一个班的。", ["马"]),                    # 尕 + one of the most frequent surnames: as 小马
])
def test_nicknames_with_ga(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


def test_a_list_of_names_typed_with_spaces(generic):
    text = "签到表上有：宫志强 井秀兰 边红霞，还有别的。"
    assert [v for v, t in spans(generic, text) if t == "name"] == ["宫志强", "井秀兰", "边红霞"]
    assert [v for v, t in spans(generic, "我看了 白天 都在 家里。") if t == "name"] == []


@pytest.mark.parametrize("text", ["群名叫“丽景苑5栋一家亲”，群主是我。", "我们的群名是阳光小区2号楼邻里，一百多人。"])
def test_a_chat_groups_name_is_no_address(generic, text):
    assert [t for _, t in spans(generic, text) if t != "name"] == []


@pytest.mark.parametrize("text,names", [
    ("他叫伊不拉欣，是临夏来的。", ["伊不拉欣"]),          # 伊布拉欣 of the list, 布 written 不
    ("邻居木萨大哥人好。", ["木萨"]),                       # 穆萨, 穆 written 木
    ("他爸马依卜拉欣当过阿訇。", ["马依卜拉欣"]),           # with the surname before it
])
def test_a_listed_given_name_in_another_transcription(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text,value,typ", [
    ("营业执照下来了，准营证号宁食准字〔2022〕第1186号，贴在门口。", "宁食准字〔2022〕第1186号", "certificate"),   # a document form a certificate's word names
    ("认定书号是宁人社工伤认字〔2021〕第0933号，我都复印了。", "宁人社工伤认字〔2021〕第0933号", "certificate"),  # the issuer's six characters and the province
    ("判决书那个号是石劳人仲案字〔2022〕第318号。", "石劳人仲案字〔2022〕第318号", "certificate"),
    ("工号是NXGH-30518，去年换的牌子。", "NXGH-30518", "staff_id"),                                     # four capitals
    ("工号只写一个字母：K-2093就是我。", "K-2093", "staff_id"),                                         # one capital after a staff word
    ("快递单号ZT6619 0275 3318 4，中通的。", "ZT6619 0275 3318 4", "long_number"),                     # a letter head, digits in groups
    ("邮箱我念：x，i，a，o，l，i，下划线，八八，艾特，qq点com。", "x，i，a，o，l，i，下划线，八八，艾特，qq点com", "email"),   # spelled with commas
    ("抖音号dy8830172，名字叫贺兰山下的小马哥，拍放羊的。", None, "account"),                            # a platform name after a platform word
    ("她闲鱼上叫爱吃酿皮的妞，卖旧衣服。", "爱吃酿皮的妞", "account"),
])
def test_round_23_identifiers(generic, text, value, typ):
    found = [(v, t) for v, t in spans(generic, text) if t != "name"]
    if value is None:
        assert found == [("dy8830172", typ), ("贺兰山下的小马哥", typ)]
    else:
        assert found == [(value, typ)]


@pytest.mark.parametrize("text", [
    "文号是宁政发〔2020〕14号，你们按这个办。",          # a document's number named as one
    "证件给我看了一下，号码是640105********0312。",      # a masked ID number's visible digits
    "他住在B-1102，我是网格员，天天见。",                  # one capital and digits without a staff word: a room
    "店名叫老马家手抓，淘宝上也有。",                        # a shop's name
    "我加了他微信，他大名叫马有福，是个老实人。",            # a person's name, not an account (found as a name)
    "我有他抖音，名字叫不上来了。",
])
def test_round_23_look_alikes_are_kept(generic, text):
    assert [t for _, t in spans(generic, text) if t not in ("name",)] == []


@pytest.mark.parametrize("text,names", [
    ("他舅舅索南东珠在玉树放牧。", ["索南东珠"]),                      # Tibetan syllables added in round 23
    ("我们班长道尔吉是蒙古族，摔跤厉害。", ["道尔吉"]),                 # Mongolian
    ("她闺女迪丽娜尔在银川念书。", ["迪丽娜尔"]),                      # Uyghur
    ("邻居是撒拉族，老汉叫韩伊斯麻。", ["韩伊斯麻"]),                  # a Salar transcription of Ismail (given_names)
    ("我外婆本姓钮祜禄，后来改姓郎。", ["钮祜禄", "郎"]),              # a Manchu clan name said as a surname
])
def test_round_23_names_of_minority_traditions(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", ["那顺便把东西带上。", "他说才让我去的。", "这首歌的迪斯科版本好听。"])
def test_round_23_syllables_in_everyday_words_stay(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


# --------------------------------------------------------------------------------------------
# round 24 (writers 38 and 39 measured blind first; their numbers tuned on, their names never;
# the name rules below were tuned on the tuning parts' misses)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value,typ", [
    ("车是宁C，七，J，三五一，红色的。", "宁C，七，J，三五一", "plate"),              # a plate said in groups with commas
    ("车牌我念：宁E，2，F，0，7，8，一辆三轮。", "宁E，2，F，0，7，8", "plate"),
    ("鉴定书编号第640202201900017263号，我留着呢。", "第640202201900017263号", "long_number"),   # the number's 第 and 号 with it
    ("报案回执号B6402051900002173045，派出所给的。", "B6402051900002173045", "long_number"),   # one capital joined to a long number
    ("老执照的注册号640381NB000482X，现在不用了。", "640381NB000482X", "certificate"),   # capitals inside, a check letter after
    ("对方打来的是+44 7700 900 123，英国的号。", "+44 7700 900 123", "mobile"),         # a number abroad, its + with it
    ("他在那边用的号是+971 50 123 4567。", "+971 50 123 4567", "mobile"),
    ("裁定书上写着（2025）宁0104民初2216号。", "（2025）宁0104民初2216号", "certificate"),   # a court's case number
    ("执行案号是(2023)宁02执5号，还没执行完。", "(2023)宁02执5号", "certificate"),
])
def test_round_24_identifiers(generic, text, value, typ):
    found = [(v, t) for v, t in spans(generic, text) if t != "name"]
    assert [v for v, _ in found] == [value]
    assert found[0][1] in (typ, "bank_card", "certificate", "long_number", "id_number")   # found whole, as some number


def test_round_24_a_second_number_of_the_same_kind_after_a_pronoun(generic):
    found = [(v, t) for v, t in spans(generic, "我们俩挨着，他工号3318，我是3319，一个车间。") if t != "name"]
    assert found == [("3318", "staff_id"), ("3319", "staff_id")]


@pytest.mark.parametrize("text", ["他工号3318，我是1998年进的厂。", "他工号3318，我是3个娃的妈。",
                                  "宁A，三个人，五辆车。"])
def test_round_24_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t not in ("name", "staff_id")] == []
    assert [v for v, t in spans(generic, text) if t == "staff_id"] == (["3318"] if "工号" in text else [])


@pytest.mark.parametrize("text,names", [
    ("我们站长牛金宝带的队，牛站长人实在。", ["牛金宝", "牛"]),             # a title before the surname: 站长 is the word, not 长牛
    ("登记表上写着：申请人：杨秀梅，审核：罗长顺。", ["杨秀梅", "罗长顺"]),    # the next field of a form read out in one line
    ("他家老二德顺这个人吧，脾气倔。我们主任冯德顺说的。", ["德顺", "冯德顺"]),  # a given name that jieba knows as a small place
    ("我家三兄弟：我、我弟有财、我妹子红霞。", ["有财", "红霞"]),             # 有 + a name's character after a kinship word
])
def test_round_24_names(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", ["我姐夫有钱，我哥有车有房，我媳妇有喜了，我儿子有福气。", "我们主任何时来？",
                                  "我哥有才华，就是懒。"])
def test_round_24_everyday_words_stay(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


def test_round_24_a_building_after_a_numbered_section(generic):
    """西园三区311号楼1806: the section's house-number form (三区17号) no longer stops at 311号 when 楼
    follows; the building and its room are the address."""
    found = [(v, t) for v, t in spans(generic, "他寄件地址是银川市金凤区紫园二区208号楼1503，写的清清楚楚。") if t == "address"]
    assert found == [("银川市金凤区紫园二区208号楼1503", "address")]
    assert [v for v, t in spans(generic, "住在滨河家园三区十七排八号。") if t == "address"] == ["滨河家园三区十七排八号"]


@pytest.mark.parametrize("text", ["气温+15度，风大。", "文号是宁政发〔2020〕14号，按这个办。", "比分是+3，赢了。"])
def test_round_24_more_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t not in ("name",)] == []


@pytest.mark.parametrize("text,value", [
    ("调解不成就仲裁，立案号是盐农仲字〔2022〕第7号，我是申请人。", "盐农仲字〔2022〕第7号"),   # 第 and a serial of one digit
    ("那张表是固教转〔2023〕第208号，学籍跟着走。", "固教转〔2023〕第208号"),              # an issuer not ending in 字 or a case's word
    ("他在那边住大阪府堺市北区中百舌鸟町2丁目5番3号，打工三年。", "大阪府堺市北区中百舌鸟町2丁目5番3号"),  # an address in Japan
])
def test_round_25_identifiers_and_addresses(generic, text, value):
    """Round 25 (writers 42 and 43): a document number with 第 and a short serial, or after an issuer
    whatever its last character, is taken whole; a Japanese address (丁目, 番地) is an address."""
    assert [v for v, t in spans(generic, text) if t != "name"] == [value]


@pytest.mark.parametrize("text", ["按宁政发〔2017〕第15号文件办。", "他是第3号选手，跑了第9名。", "住在三丁目那边。"])
def test_round_25_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t != "name"] == []


def test_round_25_a_date_and_time_is_no_address(generic):
    assert [v for v, t in spans(generic, "我们是2023年6月14号 08:30到的，住在12号 301。") if t == "address"] == ["12号 301"]


@pytest.mark.parametrize("text,value", [
    ("合格证号是(宁D)动防合字第640424202100087号。", "(宁D)动防合字第640424202100087号"),   # a province and letter in brackets first
    ("问：家里固定电话还有吗？\n答：早拆了。以前是五零一三二八七，2010年前后装的。", "五零一三二八七"),   # the question's phone word
    ("书记的工号是JFYH-SQ-001，街道统一编的，我的是JFYH-SQ-027，你看。", "JFYH-SQ-001"),
])
def test_round_25_writers_46_and_47(generic, text, value):
    """Writers 46 and 47's numbers: a certificate's issuer after (宁D); seven Chinese digits read out
    after a phone word in the question; a staff number of letters, dashes and three digits makes
    another of its shape close by one too."""
    found = [v for v, t in spans(generic, text) if t != "name"]
    assert found == ([value, "JFYH-SQ-027"] if value.startswith("JFYH") else [value])


@pytest.mark.parametrize("text", ["电话坏了，花了一千二百八十块修。", "A-12号摊位，B-13号摊位。"])
def test_round_25_look_alikes_of_46_and_47_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t != "name"] == []


@pytest.mark.parametrize("text,value", [
    ("我丫头是2011年9月8号出生的，在永宁。", "2011年9月8号"),                        # the birth word after the date
    ("张老师，1988年2月16号生日，她是支教来的。", "1988年2月16号"),
    ("我是一九六三年腊月十七生的，属兔。", "一九六三年腊月十七"),                        # Chinese digits, a lunar month
    ("出生是一九六一年腊月二十一，登记错了。", "一九六一年腊月二十一"),
    ("身份证上写的是1964年1月31号，差了一个多月。", "1964年1月31号"),                  # the date an ID card shows
])
def test_round_25_dates_of_birth(generic, text, value):
    assert [v for v, t in spans(generic, text) if t != "name"] == [value]


@pytest.mark.parametrize("text", ["我们是2023年6月14号去的，开了会。", "他1983年出生，2020年退的休。",
                                  "一九九八年腊月我们搬的家。"])
def test_round_25_other_dates_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t != "name"] == []


def test_round_25_accounts_of_words_joined_by_underscores(generic):
    assert [(v, t) for v, t in spans(generic, "我有两个号，大号nxgq_dingjie，十二万粉丝。") if t != "name"] == \
        [("nxgq_dingjie", "account")]
    assert [v for v, t in spans(generic, "表格里有_x000D_这种东西。") if t != "name"] == []


def test_round_25_a_relatives_number_of_the_same_kind(generic):
    found = [(v, t) for v, t in spans(generic, "工号是四位数，我是0836，我妹妹秀兰是0837，一起进去的。") if t != "name"]
    assert found == [("0836", "staff_id"), ("0837", "staff_id")]
    assert [v for v, t in spans(generic, "工号0836，我们车间有3200人。") if t != "name"] == ["0836"]


@pytest.mark.parametrize("text,value", [
    ("老家在福清市龙田镇东营村后厝42号，过年才回去。", "福清市龙田镇东营村后厝42号"),      # a hamlet of the village
    ("哦对，前面加个闽宁镇，闽宁镇原隆村三组一区67号，写全了。", "闽宁镇原隆村三组一区67号"),  # a section after a group;
    ("受案回执上写的石公（长胜）受案字〔2024〕10482号，民警说等通知。", "石公（长胜）受案字〔2024〕10482号"),  # the place said again
])
def test_round_25_addresses_and_a_bracketed_sub_issuer(generic, text, value):
    assert [v for v, t in spans(generic, text) if t != "name"] == [value]


@pytest.mark.parametrize("text", ["他在村卫生点3号床。", "我们村里3号开会。", "村委会12号通知的。"])
def test_round_25_village_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t != "name"] == []


@pytest.mark.parametrize("text,names", [
    ("我叫纳文贵，纳税的纳，文化的文，贵……贵重的贵。", ["纳文贵", "纳", "文", "贵"]),   # the example word is no name (not
                                                                                    # 贵重; the last 贵: the tagger's)
    ("喇乡长下面有个干事小哈，哈什么我不知道。", ["喇", "哈", "哈"]),
    ("理赔员姓禤，这个姓少见得很。", ["禤"]),                                             # a surname of no list after 姓
    ("我叫宝音德力格尔，名字长。", ["宝音德力格尔"]),                                      # Mongolian syllables
])
def test_round_25_names(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", ["回族里这个姓少。", "老板不姓立，哈哈。", "满城还有别的老姓吗？", "他姓啥，我忘了。",
                                  "你说为什么来着？"])
def test_round_25_names_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text,value", [
    ("罚了两千，处罚决定书是盐市监处罚〔2024〕27号，上头写的我的名字。", "盐市监处罚〔2024〕27号"),   # a case's decision, no 第
    ("我的从业资格证号是宁C出租2020-00417，车的证另算。", "宁C出租2020-00417"),                    # an issuer with a letter
    ("网格员有编号，她的是LWDT-WG-031，胸前挂着牌子。", "LWDT-WG-031"),                           # two letter groups, 3 digits
    ("合作社给我编的号是KJ-003，签字都签这个号。", "KJ-003"),                                    # 编的号: a staff word
    ("那个车的维修工单号是WX20240613008，车主来取了。", "WX20240613008"),                        # WX begins the number here
])
def test_round_26_identifiers(generic, text, value):
    """Round 26 (writers 48-50): a penalty's decision number after a case character and no 第; a
    certificate whose issuer has a letter; a staff number of two letter groups and three digits near
    a staff word; 编的号; letters that begin an order number after its word, not WeChat's WX."""
    assert [v for v, t in spans(generic, text) if t != "name"] == [value]


@pytest.mark.parametrize("text", ["按宁政发〔2024〕27号文件办。", "他微信WX是我加的。", "型号是KJ-003的那种，便宜。",
                                  "我的微信wx13909512233，你加。"])
def test_round_26_identifier_look_alikes(generic, text):
    found = [(v, t) for v, t in spans(generic, text) if t != "name"]
    if "13909512233" in text:
        assert len(found) == 1 and "13909512233" in found[0][0]          # WeChat's wx before a number: still redacted
    else:
        assert found == []


@pytest.mark.parametrize("text,value", [
    ("我是九八年腊月初八出生的，身份证上的日子对不上。", "九八年腊月初八"),           # a two-digit year, a lunar month
    ("我奶奶是1949年腊月初八生的，身体还硬朗。", "1949年腊月初八"),                     # Arabic year, lunar date
    ("她是1944年农历三月十五生的，属猴的。", "1944年农历三月十五"),                      # 农历 inside
    ("户口上是她，1985年6月13号的，身份证在这。", "1985年6月13号"),                     # beside the ID card
    ("二十六号生的，十一月，对，1987年11月26号。", "1987年11月26号"),                   # confirming the birth said before
])
def test_round_26_dates_of_birth(generic, text, value):
    assert [v for v, t in spans(generic, text) if t != "name"] == [value]


@pytest.mark.parametrize("text", ["我是1990年生的，2015年6月3号结婚。", "合同是2023年6月13号的，他签的。",
                                  "我98年3月5号来的银川。", "腊月初八喝粥，1998年那会儿。"])
def test_round_26_other_dates_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t != "name"] == []


@pytest.mark.parametrize("text,value", [
    ("我这个铺子在盐池县花马池镇南关街农贸市场东门18号摊位。", "盐池县花马池镇南关街农贸市场东门18号摊位"),   # a market's stall
    ("户口在青海省化隆回族自治县群科镇安达其哈村二社15号，寄东西寄那塔。", "青海省化隆回族自治县群科镇安达其哈村二社15号"),
])
def test_round_26_addresses(generic, text, value):
    """A market's stall after a gate (农贸市场东门18号摊位); a county's name with a stop character
    inside it (化隆回族自治县: 回) no longer stops the address's extension to the left."""
    assert [v for v, t in spans(generic, text) if t == "address"] == [value]


def test_round_26_address_look_alikes(generic):
    assert [v for v, t in spans(generic, "市场东门18号那天人多。") if t == "address"] == []
    assert [v for v, t in spans(generic, "他回老家县里去了，住在幸福小区3号楼2单元。") if t == "address"] == ["幸福小区3号楼2单元"]


def test_round_26_screen_names_told_apart(generic):
    """Screen names mapped to the people behind them after a word for them (网名): accounts; the
    people's names stay names; no screen name without such a word."""
    text = "问：群里那些网名你都对得上人吗？\n答：对得上。小雨点就是冯雨桐，一颗柠檬是蒋若曦，那个叫沙湖的风的是我们班长。"
    found = spans(generic, text)
    assert [v for v, t in found if t == "account"] == ["小雨点", "一颗柠檬", "沙湖的风"]
    assert {"冯雨桐", "蒋若曦"} <= {v for v, t in found if t == "name"}
    assert [v for v, t in spans(generic, "答：群里网名都改成真名了，其实就是马兰。") if t == "account"] == []
    assert [v for v, t in spans(generic, "答：小雨点就是冯雨桐的女儿。") if t == "account"] == []
    assert [(v, t) for v, t in spans(generic, "答：UID是3493117682，名字叫贺兰山下的阿飞，发的都是日常。")
            if t == "account"] == [("贺兰山下的阿飞", "account")]


@pytest.mark.parametrize("text,names", [
    ("我姑舅哥叫雒兴旺，雒这个姓少见得很。", ["雒兴旺", "雒"]),       # a rare surname; the surname talked about
    ("车主亓先生，亓这个字上头一个二下头一个儿。", ["亓", "亓"]),
    ("叫冯婷，冯记沟的冯，女字旁的婷。", ["冯婷", "冯", "婷"]),                         # a radical's description
    ("我父亲叫惠文治，我们陕北这个惠字念xi。", ["惠文治", "惠"]),
    ("找仝老师，上面一个人字、下面一个工字的那个仝。", ["仝", "仝"]),
    ("这是拉毛的，她不识字。", ["拉毛"]),                                               # a Tibetan name, hers
    ("才让的身份证在我这。", ["才让"]),
    ("我叫黄河，黄河的黄河，我达在河边打鱼。", ["黄河", "黄河"]),                          # a word spelled as a name
    ("谁不知道黑蛋，就是修车的张黑蛋。", ["黑蛋", "张黑蛋"]),                              # the nickname with its surname
])
def test_round_26_names(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


@pytest.mark.parametrize("text", ["沙坡头的沙子一粒一粒的，聚在一起就是沙丘。", "有两头牛，十几只羊。", "这个字念什么？",
                                  "那条河叫黄河，黄河的水黄。", "那个人我不认得。", "这是本地的，那是别人的。"])
def test_round_26_names_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text,value", [
    ("退休证号码是宁石退 零四二七一三，1998年办的。", "宁石退 零四二七一三"),                       # an issuer, Chinese digits
    ("认定书号我背得下来，石人社工伤认字二零一一年第零零八七号，复印了十几份。", "石人社工伤认字二零一一年第零零八七号"),
    ("出生日期是19630130……哎不对，是19631030，十月三十。", None),                              # the corrected date too
    ("在吴忠市妇幼保健院生的，2012年9月3号。儿子叫晨阳。", "2012年9月3号"),                       # right after 生的
    ("问：您是哪年生的？\n答：我啊，一九八六年四月二十三……哎呀不是。", "一九八六年四月二十三"),     # after the question
])
def test_round_26_writers_51_and_52(generic, text, value):
    found = [v for v, t in spans(generic, text) if t not in ("name",)]
    assert found == ([value] if value else ["19630130", "19631030"])


@pytest.mark.parametrize("text", ["账号是个邮箱，记不住。", "就是QQ号后面加个@qq.com，好记。", "2012年9月3号我们开的会，他生的气。",
                                  "问：您哪年来的？\n答：我啊，一九八六年四月过来的。"])
def test_round_26_look_alikes_of_51_and_52(generic, text):
    assert [v for v, t in spans(generic, text) if t not in ("name", "email")] == []


# ---- round 27 (tuned on tune54: property management and neighbours of 银川's new compounds; everyday
# characters as surnames, compound and Manchu clan surnames, screen names in owners' chat groups)

@pytest.mark.parametrize("text,names", [
    ("对门的男的叫和建国，一天到晚不在家。", ["和建国"]),            # a weak surname after X叫, X a person (男的)
    ("房东叫文海燕，人挺和气。", ["文海燕"]),                          # ... a person named by what they are
    ("我们经理叫时永刚，管得严。", ["时永刚"]),                        # ... a title
    ("我是网格员和丽娟，管第二网格。", ["和丽娟"]),                    # a weak surname's full name after a role
    ("我是向东红，在社区上班。", ["向东红"]),                          # ... after 我是, up to a break
    ("她是赫舍里氏的后人，姓赫。", ["赫舍里", "赫"]),                  # a clan name before 氏 after 是 (the tagger keeps it)
    ("副主任叫上官文静，上官这个复姓少见。", ["上官文静", "上官"]),    # a compound surname talked about
])
def test_round_27_names(generic, text, names):
    assert [v for v, t in spans(generic, text) if t == "name"] == names


def test_round_27_manchu_clan_said_after_shi(generic):
    found = [v for v, t in spans(generic, "我爷爷说祖上是富察氏，后来改姓富了。") if t == "name"]
    assert found[0].startswith("富察") and found[1:] == ["富"]


@pytest.mark.parametrize("text", ["他是本地人氏，在这住了一辈子。", "老师叫家长去学校。", "房东叫人来修了。", "主任叫我们开会。",
                                  "我是万元户，那会儿。", "我是和平村的。", "不干了，没麻达。", "我是宁大的学生。"])
def test_round_27_names_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


@pytest.mark.parametrize("text,value", [
    ("我群里名字叫社区小王，有事艾特我。", "社区小王"),                  # a name in a chat group
    ("他群名片叫老马家电维修，电话在上头。", "老马家电维修"),
    ("业主群里都用昵称，有个叫冰糖葫芦串的天天发广告。", "冰糖葫芦串"),  # a screen name, after a word for screen names
    ("楼上那家在群里叫好运连连666，天天发。", "好运连连666"),           # 群里叫 + a name ending in digits
    ("群里那个岁月静好就是王秀兰，她管收钱。", "岁月静好"),               # 群里那个X就是 + a person
    ("业主群里，老赵跟开心每一天吵了一回，后头那个是马建军。", "开心每一天"),   # told apart after it: 后头那个是
])
def test_round_27_chat_group_names(generic, text, value):
    assert [v for v, t in spans(generic, text) if t == "account"] == [value]


@pytest.mark.parametrize("text", ["群名叫满春社区居民1群，人多。", "我们群里是这样的，名字是实名。", "有个叫什么的来着，忘了。",
                                  "群里叫大家8点到。", "群里的意思是王芳管。", "群里那个通知是马主任发的。",
                                  "业主群里，他跟物业公司吵了三天，后头那个是王经理。", "群里他跟邻居吵了三天，后头那个是马明。"])
def test_round_27_chat_group_look_alikes(generic, text):
    assert [v for v, t in spans(generic, text) if t == "account"] == []


def test_round_27_an_address_before_a_word_with_qun(generic):
    """群 after an address names a chat group (幸福里3号楼邻里群), but not in 群租 or 群居."""
    assert [v for v, t in spans(generic, "他在金凤区阅海万家9号楼1单元502搞群租。") if t == "address"] == \
        ["金凤区阅海万家9号楼1单元502"]
    assert [v for v, t in spans(generic, "幸福里3号楼邻里群里有人说。") if t == "address"] == []
    assert [v for v, t in spans(generic, "取件码就是3-2-1047这样的，天天变。") if t == "address"] == []   # a pick-up code


@pytest.mark.parametrize("text,value", [
    ("娘家在甘肃，临夏州积石山县那勒沟镇红光村三社，远得很。", "临夏州积石山县那勒沟镇红光村三社"),   # a stop character in a town's name
    ("寄到陕西省西安市未央区凤城路阳光都市B区3号楼2单元801，我收。", "陕西省西安市未央区凤城路阳光都市B区3号楼2单元801"),  # 都市, a noun
])
def test_round_27_addresses(generic, text, value):
    """An address's extension to the left no longer stops at a stop character inside a town's name
    after its county (积石山县那勒沟镇) or inside a noun of the dictionary (阳光都市: 都)."""
    assert [v for v, t in spans(generic, text) if t == "address"] == [value]


def test_round_27_address_stops_still_stop(generic):
    assert [v for v, t in spans(generic, "他都住在幸福小区3号楼2单元501。") if t == "address"] == ["幸福小区3号楼2单元501"]


@pytest.mark.parametrize("text,value", [
    ("我快手叫固原洋芋妹6688，你关注一下。", "固原洋芋妹6688"),          # a platform's name + 叫, no 名字
    ("你搜我手机号也能搜到，微信名字显示是贺兰山下。", "贺兰山下"),          # 名字显示是
])
def test_round_27_platform_names(generic, text, value):
    assert [v for v, t in spans(generic, text) if t == "account"] == [value]


@pytest.mark.parametrize("text", ["他微信叫我去一趟。", "我快手叫什么来着，忘了。", "屏幕上显示的是乱码。"])
def test_round_27_platform_name_look_alikes(generic, text):
    assert [v for v, t in spans(generic, text) if t == "account"] == []


def test_the_spans_do_not_depend_on_the_string_hash_seed(generic):
    """Names found from sets of words (the full names a turn confirms, the surnames found again) are
    taken in a fixed order: overlapping spans were kept first come, so 贺兰山 or 贺兰 (…贺兰，跟贺兰山一个贺…)
    depended on PYTHONHASHSEED, and CI's retrained tagger differed from the shipped one (round 27)."""
    import json
    import os
    import subprocess
    import sys

    text = "卫生院的贺医生，贺兰，跟贺兰山一个贺一个兰[笑]。"
    script = ("import json, sys, tempfile; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
              "from pipeline.text.redaction_eval import template_state, turn_detector;"
              "d = tempfile.mkdtemp(); r, s, l = template_state(Path(d) / 'config', Path(sys.argv[1]) / 'config', sys.argv[2]);"
              "print(json.dumps(turn_detector(r, s, l)(sys.argv[3])))")
    runs = set()
    for seed in ("1", "2", "3"):
        out = subprocess.run([sys.executable, "-c", script, str(ROOT), str(ROOT / ".cache" / "jieba.cache"), text],
                             capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        runs.add(json.dumps(json.loads(out.stdout.strip().splitlines()[-1])))
    assert len(runs) == 1 and ("贺兰山", "name") in spans(generic, text)


# ---- round 28 (two blind writers, 55 and 56: students and young graduates; old age and care homes).
# Their names stay blind; only their missed numbers and accounts were read (names masked).

@pytest.mark.parametrize("text,kind,value", [
    ("我在农商行实习，柜员号N20417，师傅带着。", "staff_id", "N20417"),          # a teller's number
    ("他柜员编号是A3305，你查一下。", "staff_id", "A3305"),
    ("快手我也有个号，叫同心尕妹学做饭，你搜。", "account", "同心尕妹学做饭"),    # 号，叫 a screen name
    ("小红书上我叫宁大考研小透明，发笔记。", "account", "宁大考研小透明"),        # …上我叫
    ("楼栋群里有个叫夕阳红老杨的，天天发养生文章。", "account", "夕阳红老杨"),    # a group has someone called …
    ("我们群里还有一个叫幸福一家人的，就是楼下的。", "account", "幸福一家人"),
])
def test_round_28_numbers_and_accounts(generic, text, kind, value):
    assert [v for v, t in spans(generic, text) if t == kind] == [value]


@pytest.mark.parametrize("text", [
    "我去柜台问柜员，号都排到一百多了。",          # 柜员 and 号 apart: no identifier
    "三号，叫什么来着，想不起来了。",              # 号，叫 without a platform word
    "抖音上我叫他别乱发，他不听。",                # …上我叫 + a pronoun: no name
    "群里有个叫什么的来着，记不清了。",            # 有个叫什么: no name
    "村里有个叫卖的，天天喊。",                    # not a chat group
])
def test_round_28_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t in ("account", "staff_id")] == []


# -- an outside user's texts (2026-12-06): a naming word jieba cuts in two, its last character glued
# to the surname (联系/人马/建国: 人马 and 人丁 are dictionary words)
@pytest.mark.parametrize(("text", "name"), [
    ("联系人马建国13995081234。", "马建国"),
    ("请联系人马建国处理。", "马建国"),
    ("紧急联系人马建国。", "马建国"),
    ("联系人丁建国，电话打不通。", "丁建国"),
    ("联系人马丽。", "马丽"),
    ("公司法人马建国没来。", "马建国"),
])
def test_a_naming_word_cut_by_jieba_still_names(generic, text, name):
    assert [v for v, t in spans(generic, text) if t == "name"] == [name]


@pytest.mark.parametrize("text", [
    "我们要密切联系人民群众。",
    "联系人马上就到。",
    "联系人丁点消息都没有。",
    "负责人马上到。",
    "他们的联系人马队出发了。",
])
def test_a_naming_word_before_an_ordinary_word_names_nothing(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


# -- a technical standard's number is no one's identifier (an outside user's gas-complaint letters)
@pytest.mark.parametrize("text", [
    "按照GB50028-2006标准执行。",
    "符合GB/T 50328-2014的规定。",
    "依据JGJ 130-2011和ISO 9001执行。",
    "地方标准DB64/T 1234-2020要求入户检查。",
])
def test_a_standards_number_stays(generic, text):
    assert spans(generic, text) == []


@pytest.mark.parametrize(("text", "value"), [
    ("我工号DL204517。", "DL204517"),                 # no year: a staff number, not a standard
    ("他的编号是SL123456。", "SL123456"),
    ("护照号G12345678，明天到期。", "G12345678"),
])
def test_codes_like_a_standard_without_its_year_are_still_identifiers(generic, text, value):
    assert [v for v, _ in spans(generic, text)] == [value]


# -- a second outside user's interviews (2026-12-06): forms the labelled set did not have
@pytest.mark.parametrize(("text", "kind", "value"), [
    ("后来社区的钟sir来调解了两次。", "name", "钟"),                 # a Hong Kong / Cantonese title
    ("执法队嘅钟Sir好有经验。", "name", "钟"),
])
def test_round_29_forms_of_other_regions(generic, text, kind, value):
    assert value in [v for v, t in spans(generic, text) if t == kind]


@pytest.mark.parametrize("text", [
    "Yes sir，我知道了。",
])
def test_round_29_look_alikes_are_kept(generic, text):
    assert spans(generic, text) == []


def test_an_extension_after_a_landline_stays_one_span(generic):
    assert spans(generic, "座机0951-5028316转203就行。") == [("0951-5028316转203", "landline")]


# -- the same user's interviews: a weak surname (向, 和, 万: also everyday words) after a role, a
# title or a person noun names a person (nameframes.weak_after_role); 谌 is a surname
@pytest.mark.parametrize(("text", "name"), [
    ("后来调解员向红梅来说了几次才好。", "向红梅"),
    ("房租贵。房东和志刚说明年还要涨。", "和志刚"),
    ("有，主任是万家宝，他在大学教书。", "万家宝"),
    ("网格员万志刚帮我弄的。", "万志刚"),
    ("社区的谌主任说跟商户协调了。", "谌"),
])
def test_round_29_a_weak_surname_after_a_role(generic, text, name):
    assert name in [v for v, t in spans(generic, text) if t == "name"]


@pytest.mark.parametrize("text", [
    "书记和主任都来了。",
    "主任和同事一起去。",
    "主任是明天来。",
    "队长向大家介绍情况。",
    "老师和学生都在。",
    "主任于是说算了。",
    "房东和平时一样来收租。",
])
def test_round_29_a_role_before_an_everyday_word_names_nothing(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


def test_round_29_a_word_of_a_weak_surname_is_no_name_after_a_title(generic):
    assert [v for v, t in spans(generic, "他师傅全名布和，蒙古族。") if t == "name"] == ["布和"]


# -- the same user's interviews: a lane's house number (里弄) and a number after a road's corner
@pytest.mark.parametrize(("text", "value"), [
    ("他住龙庆里9号。", "龙庆里9号"),
    ("房子老了，东街口82号，木结构，怕火。", "东街口82号"),
])
def test_round_29_lanes_and_corners(generic, text, value):
    assert [v for v, t in spans(generic, text) if t == "address"] == [value]


@pytest.mark.parametrize("text", [
    "我们这里9号开始收。",
    "县里5号来人检查。",
    "北京路口5号上午见。",
    "东街口12号见面。",
    "走了三公里8号到的。",
    "家里3号停水。",
])
def test_round_29_a_day_after_a_place_word_is_no_address(generic, text):
    assert [v for v, t in spans(generic, text) if t == "address"] == []


# -- round 30: the invented interviews' names that rules of other shapes missed, and everyday
# words the rules took for names
@pytest.mark.parametrize(("text", "name"), [
    ("志愿者队长于海洋，退休的海员。", "于海洋"),               # jieba's name after a role; 者 of 志愿者 no surname
    ("佢个女梁婉仪喺加拿大，有事就WhatsApp。", "梁婉仪"),        # Cantonese 喺 after a name
    ("我个仔陈家豪喺深圳返工。", "陈家豪"),
    ("502的易满姣娭毑一个人住。", "易满姣"),                     # a weak surname after 的, a Hunan kinship word
    ("我老公是彝族，叫阿苏木呷。", "阿苏木呷"),                  # a Yi name
    ("他叫吉克曲布，", "吉克曲布"),
    ("书记乌兰挺能干的，蒙古族，说话爽快。", "乌兰"),            # a title before, the people named in the turn
    ("最后是社区的那日苏主任去做工作。", "那日苏"),              # a title after: the whole name, not 苏 + 主任
    ("有个志愿者领队Kevin，每个月带同事来。", "Kevin"),          # a Latin name after a role ...
    ("经理Tony说可以。", "Tony"),                                # ... which the tagger does not veto
])
def test_round_30_names(generic, text, name):
    assert name in [v for v, t in spans(generic, text) if t == "name"]


@pytest.mark.parametrize("text", [
    "帮老人买菜、买药。",                # 买 a Hui surname; 买菜, 买药 words with no given name's character
    "志愿者队长带大家去。",              # 者 of 志愿者 before a title
    "主任Excel表格做好了。",
])
def test_round_30_look_alikes_are_kept(generic, text):
    assert [v for v, t in spans(generic, text) if t == "name"] == []


def test_round_30_a_surname_and_a_form_of_address_stays_a_name(generic):
    """冶工 (Engineer 冶) and 马导 are rare words of jieba's dictionary with no given name's character."""
    assert [v for v, t in spans(generic, "跟着冶工，冶工叫冶德胜。") if t == "name"][:2] == ["冶工", "冶工"]
    assert "马导" in [v for v, t in spans(generic, "马导说明天拍。") if t == "name"]


def test_round_30_an_extension_after_transfer_and_extension_words(generic):
    assert spans(generic, "打社区电话023-6780 1234转分机8012。") == [("023-6780 1234转分机8012", "landline")]


@pytest.mark.parametrize(("text", "value"), [
    ("我家在香坊区红旗大街178号红旗小区，", "香坊区红旗大街178号红旗小区"),     # the estate at the house number
    ("住在同福西路178号楼下的小区。", "同福西路178号楼"),                       # not across 的
    ("我家在胜利街12号，挨着幸福小区。", "胜利街12号"),                          # nor across a break
])
def test_round_30_a_housing_estate_after_the_house_number_is_the_address(generic, text, value):
    assert [v for v, t in spans(generic, text) if t == "address"] == [value]


@pytest.mark.parametrize(("text", "value"), [
    ("屋企在越秀区大南路16号之二。", "越秀区大南路16号之二"),                  # a house's sub-number
    ("住在解放路3号之1，离市场近。", "解放路3号之1"),
    ("他家是大南路16号，之前住别处。", "大南路16号"),                          # not across a break (之前)
])
def test_round_31_a_sub_number_after_the_house_number_is_the_address(generic, text, value):
    assert [v for v, t in spans(generic, text) if t == "address"] == [value]

"""Accounts named on a platform (part of :mod:`pipeline.text.numbers`): a handle (@aisha_nx03), a name
on a platform in quotes or up to a break after a word that names it (抖音……名字叫“尕师娘讲经”, 快手号是…，
名字叫利通尕妹妹), and screen names told apart from the people behind them (群里那些网名…：小雨点就是冯雨桐).
A person's name on a platform finds the person's account, as the id does; a shop's, a public
account's or a chat group's name does not (店名叫塞上红, 公众号叫幸福里之家, …交流群).
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.text.rules import Rules

# a handle of a platform (DM 我 @aisha_nx03): Latin letters first, never an e-mail's @
HANDLE_RE = re.compile(r"(?<![A-Za-z0-9._%+\-@])@(?![A-Za-z0-9]+\.(?:com|cn|net|org)\b)[A-Za-z][A-Za-z0-9_.]{2,30}(?<!\.)(?![A-Za-z0-9_@])")   # not @qq.com
# a name on a platform, in quotes after a word that names it (淘宝店……店名叫“西海固尕妹子手工馍”,
# 直播间叫“同心黄花菜老马”, 抖音……名字叫“尕师娘讲经”): an account, when a platform word or an
# account word is this close before
QUOTED_NAME_RE = re.compile(r"(?:叫|是|名|为)[：:]? ?[“\"「『]([^”\"」』\n]{2,20})[”\"」』]")
PLATFORM_WORDS = ("昵称", "网名", "群里名字", "群里的名字", "群里叫", "群名片", "名字显示", "网店", "淘宝", "拼多多", "直播间", "直播", "公众号", "视频号",
                  "小红书", "主页", "账号名", "用户名", "闲鱼", "头像", "B站", "b站", "哔哩哔哩", "UID", "uid")
PLATFORM_NEAR = 30


def _has_word(text: str, words: tuple[str, ...]) -> bool:
    """One of ``words`` in ``text``; a word in Latin letters only as a whole word (id, not Globidens)."""
    return any((re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text) is not None) if w.isascii() else w in text
               for w in words)


# ... and without quotes, to the next punctuation, after a word that names a person's account
# (号叫中宁枸杞阿芳，, B站我有个号，叫…, 抖音上我叫…; not a shop's name or a public account's: 店名叫塞上红, 公众号叫幸福里之家) or
# a name said with a platform or account word before it (快手号是…，名字叫利通尕妹妹): Han
# characters in it (digits and letters are the identifier rules'), no pronoun, not a clause (…给我弄的);
# a name in a chat group (群里名字叫网格员田田, 群名片叫A万师傅木工吊顶)
BARE_NAME_RE = re.compile(r"(?:(?<!公众)号[，,]?叫|(?:账号|帐号|网名|昵称|用户名|(?:微信|抖音|快手|视频|QQ|qq|扣扣)号)(?:叫|是|为)"
                          r"|(?:微信|抖音|快手|QQ|qq)名?字?叫|群里的?名字?(?:叫|是)|群(?:名片|昵称)(?:叫|是)|群里叫(?=[^,.;!?，。；！？、\s\d]{1,12}\d+(?:[,.;!?，。；！？、\s]|$))|(?<![大小学经乳真全本原曾艺笔化姓店群])名字?叫|(?<![大小学经乳真全本原曾艺笔化姓店群])名字(?:显示的?)?是|(?:快手|抖音|闲鱼|小红书|微博|B站|b站)上我?叫)[：:]? ?"   # 微信名叫冯老师-一年级3班, 闲鱼上叫宁夏卖枸杞的尕羊
                          r"((?![这那就也还都啥咋不个]|一个|什么|多少|上面|下面|前面|后面|刚才|同上|一样)(?=[^,.;!?，。；！？、\s“”\"]{0,15}[\u4e00-\u9fff])"
                          r"[^,.;!?，。；！？、\s“”\"我你他她]{1,15}[^,.;!?，。；！？、\s“”\"我你他她的了吧呢啊呀嘛])(?=[,.;!?，。；！？\s]|$)")


# screen names told apart from the people behind them, after a word for them (群里那些网名…：小雨点就是冯雨桐，
# 一颗柠檬是蒋若曦，那个叫沙湖的风的是我们班长): at a clause's start before 就是/是 and a surname with one or two
# characters up to a break, or after 那个叫 before 的是
SCREEN_NAME_RE = re.compile(r"(?:(?<=[，。；！？,;!?\s：:])|^)((?![这那就也还都啥咋不我你他她]|其实|原来|本来|后来|现在|当时|以前|反正|主要|好像|可能|应该"
                            r"|真名|大名|本名|实名|名字|意思)[^,.;!?，。；！？、：:\s“”\"]{2,8}?)"
                            r"(?:就是|是)(?=([\u4e00-\u9fff]{2,3})[,.;!?，。；！？、\s]|$)"
                            r"|那个叫([^,.;!?，。；！？、\s“”\"]{2,8}?)的(?:就)?是"
                            r"|有个叫((?!什么|啥)[^,.;!?，。；！？、\s“”\"]{2,8}?)的")     # (群里都用昵称) 有个叫兴庆府老炮儿的最能说
# ... and one said with its chat group (群里那个老高在此就是高建华): no word for screen names needed
GROUP_SCREEN_RE = re.compile(r"群里(?:那个|的)((?!其实|原来|本来|后来|现在|当时|以前|真名|大名|本名|实名|名字|意思|人|事|消息|通知)[^,.;!?，。；！？、：:\s“”\"我你他她]{2,8}?)(?:就是|是)"
                             r"(?=([\u4e00-\u9fff]{2,3})[,.;!?，。；！？、\s])")
# ... and one said beside a person and told apart after it: 他跟梅花香自苦寒来吵了三天，后头那个是常淑云 (the latter is
# a person named by a surname), in a turn that talks of a chat group
LATTER_RE = re.compile(r"(?:跟|和|与)((?![这那我你他她大人别]|什么|自己)[^,.;!?，。；！？、：:\s“”\"我你他她]{4,8}?)"
                       r"(?:吵|骂|闹|掐|争|干)[^,.;!?，。；！？]{0,8}[，,](?:后头|后面|后边|前头|前面|前边)那个(?:就)?是"
                       r"(?=([\u4e00-\u9fff]{2,3})(?:[,.;!?，。；！？、\s]|$)|([\u4e00-\u9fff]{1,3}))")
SCREEN_WORDS = ("网名", "昵称", "群昵称", "群名片", "微信名")
# ... and one that a chat group has (群里有个叫快乐老马的，就是…): a screen name or a person's name, either one
# personal, so no word for screen names is needed here
GROUP_CALLED_RE = re.compile(r"群里(?:还|也)?有一?个叫((?!什么|啥)[^,.;!?，。；！？、\s“”\"我你他她]{2,8}?)的")


def platform_names(folded: str, rules: Rules) -> Iterator[tuple[int, int, str]]:
    words = (*rules.context["account"], *PLATFORM_WORDS)
    for regex in (QUOTED_NAME_RE, BARE_NAME_RE):
        for m in regex.finditer(folded):
            before = folded[max(0, m.start() - PLATFORM_NEAR):m.start(1)]
            if _has_word(before, words) and not m.group(1).endswith(("群", "组")):
                yield m.start(1), m.end(1), "account"               # a group's name (…交流群) is no one's
    for m in GROUP_CALLED_RE.finditer(folded):
        yield m.start(1), m.end(1), "account"
    for m in GROUP_SCREEN_RE.finditer(folded):
        if m.group(2)[0] in rules.surnames:
            yield m.start(1), m.end(1), "account"
    if "群" in folded:
        for m in LATTER_RE.finditer(folded):
            person = m.group(2) or next((m.group(3)[:k] for k in (3, 2) if len(m.group(3)) >= k and
                                         folded.startswith(rules.titles, m.end() + k)), "")
            if person and person[0] in rules.surnames and person[1:] not in rules.titles:   # a full name (not 王经理)
                yield m.start(1), m.end(1), "account"
    if any(w in folded for w in SCREEN_WORDS):
        for m in SCREEN_NAME_RE.finditer(folded):
            g = next(k for k in (1, 3, 4) if m.group(k))
            if m.group(2) and m.group(2)[0] not in rules.surnames:
                continue                                     # 小雨点就是冯雨桐: a person after it, by a surname
            if _has_word(folded[max(0, m.start() - PLATFORM_NEAR * 3):m.start()], SCREEN_WORDS):
                yield m.start(g), m.end(g), "account"

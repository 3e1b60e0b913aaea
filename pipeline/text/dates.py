"""Dates and clock times in a transcript, and the dates of birth among them (part of
:mod:`pipeline.text.numbers`): a date is never a number to redact, a date of birth is personal data.

- **Dates and times** in any common form (2023-06-14 08:23:05, 2023/6/14 8:23, 2023年6月14日 08:23,
  14:05, 00:00:04): a chat export's or a recording's timestamps. They are masked in the folded copy
  before any number is searched, so that no digit of them starts a phone or an ID number; not inside a
  longer number (640104-1960-05-12-0823).
- **A date of birth** (GB/T 35273 counts a birthday as personal information) is a date after a birth
  word (生日是1983/04/27, 出生：1985.3.12), before one (2011年9月8号出生, 1988年2月16号生日), or the date
  an ID card or a household register shows (身份证上写的是1964年1月31号), the date beside an ID number
  (…，1985年6月13号的，身份证…) or confirming a birth said just before (二十六号生的，十一月，对，1987年11月26号);
  also in Chinese digits or mixed, the lunar months too (一九六三年腊月十七生的, 1944年农历三月十五生的,
  九八年腊月初八出生). A year or a month alone is none (1983.07, 2020年出生).
"""
from __future__ import annotations

import re

BIRTH_WORDS = ("生日", "出生", "生于", "出生日期", "出生年月", "生辰", "身份证上", "户口本上")
BIRTH_AFTER_RE = re.compile(r" ?的?(?:出生|生的|生日|生人|出世)")
# a date in Chinese digits, or mixed (1949年腊月初八, 1944年农历三月十五, 九八年腊月初八, 98年3月5号): a year
# of two or four digits, a month, a day; a date all in Arabic digits with its century is DATE_TIME_RE's
CN_DATE_RE = re.compile(r"(?:[一二三四五六七八九〇零]{4}|[一二三四五六七八九〇零]{2}|(?<!\d)(?:19|20)?\d\d)年 ?(?:农历|阴历|阳历|公历)?"
                        r"(?:[正一二三四五六七八九十冬腊]{1,2}|1[0-2]|0?[1-9])月"
                        r"(?:初[一二三四五六七八九十]|[一二三四五六七八九十廿]{1,3}|3[01]|[12]\d|0?[1-9])(?!\d)[日号]?")
# the date next to an ID number (马阿依舍，1985年6月13号的，身份证……: a roll's name, birth date, ID)
BIRTH_ID_AFTER_RE = re.compile(r"的?[，,、 ]{0,2}(?:身份证|户口)")
# the date right after 生的 (在妇幼保健院生的，2012年9月3号) or after a question of the birth (哪年生的？……我啊，一九八六年…)
BIRTH_RIGHT_AFTER_RE = re.compile(r"(?<!年)(?:生的|出生的?|生日)[，,：: ]{1,2}$")    # (not 1990年生的，2015年6月3号结婚)
CLAUSE_END_RE = re.compile(r"[。，,；;！!？?\n…]|$")
BIRTH_QUESTION_RE = re.compile(r"(?:哪年|哪一年|几几年|什么时候|哪天|几月几号)(?:生的|出生|生人)")
# the date that confirms a birth said just before (二十六号生的，十一月，对，1987年11月26号)
BIRTH_CONFIRM_RE = re.compile(r"(?:生的|出生|生日)[^。？！?!\n]{0,10}?(?:对|就是|是)[，,：: ]{0,2}$")
_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
DATE_TIME_RE = re.compile(
    r"(?<!\d)(?<!\d[ :\-./])(?:19|20)\d\d ?[-/.年] ?(?:1[0-2]|0?[1-9]) ?[-/.月] ?(?:3[01]|[12]\d|0?[1-9])(?!\d) ?[日号]?"
    r"(?:[ T]{0,2}" + _CLOCK + r")?(?![\d:])(?![\-./]\d)"
    r"|(?<!\d)(?<!\d[:.])" + _CLOCK + r"(?![\d:])(?![\-./]\d)")


def _before(text: str, start: int, words: tuple[str, ...], window: int) -> bool:
    before = text[max(0, start - window): start]
    return any(w in before for w in words)


def _birth(folded: str, start: int, end: int) -> bool:
    return _before(folded, start, BIRTH_WORDS, 8) or bool(BIRTH_AFTER_RE.match(folded, end)) or \
        bool(BIRTH_ID_AFTER_RE.match(folded, end)) or bool(BIRTH_CONFIRM_RE.search(folded[max(0, start - 16):start])) or \
        bool(BIRTH_RIGHT_AFTER_RE.search(folded[max(0, start - 5):start]) and CLAUSE_END_RE.match(folded, end)) or \
        bool(BIRTH_QUESTION_RE.search(folded[max(0, start - 20):start]))


def mask_dates(folded: str) -> tuple[str, list[tuple[int, int, str]]]:
    """``folded`` with every date and clock time (:data:`DATE_TIME_RE`) made ``#``, one for one,
    and the dates of birth as long-number spans (in Chinese digits too, left unmasked)."""
    births = []
    if "年" in folded:
        births += [(m.start(), m.end(), "long_number") for m in CN_DATE_RE.finditer(folded)
                   if not DATE_TIME_RE.fullmatch(m.group()) and _birth(folded, *m.span())]
    if ":" not in folded and not re.search(r"(?:19|20)\d\d ?[-/.年]", folded):
        return folded, births                            # the cheap test first: most turns hold no date

    def mask(m: re.Match) -> str:
        if m.group()[:2] in ("19", "20") and _birth(folded, m.start(), m.end()):
            births.append((m.start(), m.end(), "long_number"))
        return "#" * len(m.group())

    return DATE_TIME_RE.sub(mask, folded), births

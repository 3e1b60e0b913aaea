"""Step 5 of the transcripts: respondent units and interviewer questions (see :mod:`pipeline.text.corpus`).

:func:`build_units`: transcriber's notes (（笑）, [停顿]) are removed; respondent turns are
split into sentences (``unit: sentence``) or kept whole (``unit: turn``). A unit's id is
``interview:turn:sentence`` (respondent turns and sentences numbered from 1 in file order;
0 for a whole turn), the same on every run.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.text.redact import Span, redact
from pipeline.text.rules import Rules
from pipeline.text.segment import WORD_CHAR
from pipeline.text.turns import Parsed

UNITS = ("sentence", "turn")


@dataclass(frozen=True)
class Units:
    units: list[tuple[int, int, str, str]]             # turn, sentence, speaker, text
    questions: list[tuple[int, int, str, str]]         # question, before_turn, speaker, text
    n_turns: int


def _clean(text: str, rules: Rules) -> str:
    return rules.annotation_re.sub("", text).strip(" \t\u3000")


def split_sentences(text: str, rules: Rules) -> list[str]:
    """Sentences of one line of redacted text; pieces without a word character are dropped."""
    out = []
    for m in rules.sentence_re.finditer(text):
        s = m.group().strip(" \t\u3000")
        if s and WORD_CHAR.search(rules.placeholder_re.sub("x", s)):
            out.append(s)
    return out


def build_units(text: str, parsed: Parsed, spans: list[Span], marks: list[str], rules: Rules, unit: str) -> Units:
    """Respondent units and interviewer questions from the redacted text of each turn."""
    units, questions = [], []
    turn_no = question_no = 0
    pending: list[list] = []                  # questions waiting for the respondent turn after them
    for t in parsed.turns:
        speaker = redact(text, *t.label_span, spans, marks)
        lines = [_clean(redact(text, s, e, spans, marks), rules) for s, e in t.pieces]
        lines = [ln for ln in lines if ln]
        if t.speaker == "interviewer":
            question_no += 1
            row = [question_no, 0, speaker, "".join(lines)]
            questions.append(row)
            pending.append(row)
            continue
        turn_no += 1
        for row in pending:
            row[1] = turn_no
        pending = []
        if unit == "turn":
            joined = "".join(lines)
            if joined and WORD_CHAR.search(joined):
                units.append((turn_no, 0, speaker, joined))
            continue
        k = 0
        for ln in lines:
            for sentence in split_sentences(ln, rules):
                k += 1
                units.append((turn_no, k, speaker, sentence))
    return Units(units=units, questions=[tuple(q) for q in questions if q[3]], n_turns=turn_no)

"""Step 2 of the transcripts: header fields and speaker turns (see :mod:`pipeline.text.corpus`).

:func:`parse_transcript` splits the header (the lines before the first speaker turn; the
fields of ``config/transcripts.yaml: header``) from the turns. Speaker labels are the
interviewer / respondent markers of the config (问：/答：, 访谈者：/受访者：, full- or
half-width colon) or a named speaker (马玉兰：, 李书记：) used at least twice; a line without
a label continues the turn before it. Interviewer turns are kept apart from respondent turns.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

from pipeline.text.rules import Rules


@dataclass(frozen=True)
class Turn:
    speaker: str                              # interviewer | respondent
    label: str                                # as written (a named label is personal data)
    label_span: tuple[int, int]
    pieces: tuple[tuple[int, int], ...]       # the text of the turn, one piece per line
    line: int                                 # line number of the label (1-based)


@dataclass(frozen=True)
class Parsed:
    fields: dict[str, str]                    # interview_id, comm_id, role, date as written
    field_lines: dict[str, int]
    name_spans: tuple[tuple[int, int], ...]   # header name values
    turns: tuple[Turn, ...]
    named_labels: frozenset[str]
    convention: str


def _lines(text: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line), line))
        pos += len(line) + 1
    return out


def parse_transcript(text: str, rules: Rules) -> Parsed:
    """Header fields and speaker turns of a decoded transcript (offsets into ``text``)."""
    lines = _lines(text)
    labels: list[tuple[str, int] | None] = []
    for start, end, line in lines:
        m = rules.label_re.match(line)
        if m and not rules.header_re.match(line.lstrip(" \t\u3000")):
            labels.append((m.group(1), m.end()))
        else:
            labels.append(None)
    uses = Counter(lab[0] for lab in labels if lab)
    markers = rules.interviewer | rules.respondent
    named = {lab for lab, n in uses.items() if lab not in markers and n >= rules.min_named_uses
             and not any(ch.isdigit() for ch in lab)}
    body = next((i for i, lab in enumerate(labels) if lab and (lab[0] in markers or lab[0] in named)), len(lines))

    fields: dict[str, str] = {}
    field_lines: dict[str, int] = {}
    name_spans: list[tuple[int, int]] = []
    for i in range(body):
        start, _, line = lines[i]
        found = list(rules.header_re.finditer(line))
        if not found or line[: found[0].start()].strip():
            continue
        for k, m in enumerate(found):
            vstart = m.end()
            vend = found[k + 1].start() if k + 1 < len(found) else len(line)
            raw_value = line[vstart:vend]
            value = raw_value.strip(" \t\u3000")
            kind = rules.field_of[m.group(1)]
            if kind == "name":
                if value:
                    lead = len(raw_value) - len(raw_value.lstrip(" \t\u3000"))
                    name_spans.append((start + vstart + lead, start + vstart + lead + len(value)))
            elif kind != "personal" and kind not in fields and value:
                fields[kind] = value
                field_lines[kind] = i + 1

    turns: list[Turn] = []
    for i in range(body, len(lines)):
        start, end, line = lines[i]
        lab = labels[i]
        if lab and (lab[0] in markers or lab[0] in named):
            label = lab[0]
            lstart = start + line.index(label)
            speaker = "interviewer" if label in rules.interviewer else "respondent"
            turns.append(Turn(speaker, label, (lstart, lstart + len(label)), ((start + lab[1], end),), i + 1))
        elif turns and line.strip():                     # a line without a label continues the turn
            t = turns[-1]
            turns[-1] = Turn(t.speaker, t.label, t.label_span, (*t.pieces, (start, end)), t.line)
    # Named speakers only and no interviewer marker: the first speaker is the interviewer.
    if turns and not any(t.speaker == "interviewer" for t in turns) and len({t.label for t in turns}) >= 2:
        first = turns[0].label
        turns = [Turn("interviewer" if t.label == first else t.speaker, t.label, t.label_span, t.pieces, t.line)
                 for t in turns]
    q = next((t.label for t in turns if t.speaker == "interviewer"), "")
    a = "named" if any(t.label in named for t in turns if t.speaker == "respondent") else \
        next((t.label for t in turns if t.speaker == "respondent"), "")
    convention = f"{q or '-'}/{a or '-'}"
    return Parsed(fields=fields, field_lines=field_lines, name_spans=tuple(name_spans), turns=tuple(turns),
                  named_labels=frozenset(named), convention=convention)


def clean_comm_id(value: str, rules: Rules) -> str:
    if rules.strip_brackets:
        value = re.sub(r"[（(\[【][^）)\]】]*[）)\]】]", "", value)
    return value.strip(" \t\u3000")


def parse_date(value: str, rules: Rules) -> str:
    """The date as ISO ``YYYY-MM-DD``, or "" when no configured format reads it."""
    for rx in rules.date_res:
        m = rx.search(value)
        if m:
            try:
                return date(int(m["y"]), int(m["m"]), int(m["d"])).isoformat()
            except ValueError:
                continue
    return ""


def role_code(label: str, rules: Rules) -> str:
    label = label.strip()
    if label in rules.role_labels:
        return rules.role_labels[label]
    for keyword, code in rules.role_keywords:
        if keyword in label:
            return code
    return "other"

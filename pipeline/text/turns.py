"""Step 2 of the transcripts: header fields and speaker turns (see :mod:`pipeline.text.corpus`).

An interview (``format.kind: interview``): :func:`parse_transcript` splits the header (the
lines before the first speaker turn; the fields of ``config/transcripts.yaml: header``) from the
turns. Speaker labels are the interviewer / respondent markers of the config (问：/答：,
访谈者：/受访者：, full- or half-width colon) or a named speaker (马玉兰：, 李书记：) used at least
twice; a line without a label continues the turn before it. Interviewer turns are kept apart
from respondent turns. Once a file's markers are known, a name and a colon inside an answer is
speech, not a speaker (:func:`named_speakers`).

A text with no interviewer (``format.kind: documents``: a message, an open answer):
:func:`split_texts` cuts a file into its texts (``format.texts``: the whole file, one a line, or
at a separator line) and :func:`parse_document` reads each: optional header lines, then the
text as one turn of its author; a name and a colon in it is text.
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
    label: str                                # as written (a named label is personal data); "" in a document
    label_span: tuple[int, int]
    pieces: tuple[tuple[int, int], ...]       # the text of the turn, one piece per line
    line: int                                 # line number of the label (1-based)


@dataclass(frozen=True)
class Parsed:
    fields: dict[str, str]                    # interview_id, community, role, date as written
    field_lines: dict[str, int]
    name_spans: tuple[tuple[int, int], ...]   # header name values
    turns: tuple[Turn, ...]
    named_labels: frozenset[str]
    convention: str


DOCUMENT = "document"                         # the convention of a text without speakers


def _lines(text: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line), line))
        pos += len(line) + 1
    return out


def _header_fields(lines: list[tuple[int, int, str]], upto: int, rules: Rules
                   ) -> tuple[dict[str, str], dict[str, int], list[tuple[int, int]]]:
    """The header fields of lines ``0 .. upto-1``: the kept values with their line numbers, and
    the spans of the name values."""
    fields: dict[str, str] = {}
    field_lines: dict[str, int] = {}
    name_spans: list[tuple[int, int]] = []
    for i in range(upto):
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
    return fields, field_lines, name_spans


def named_speakers(labels: list[tuple[str, int] | None], rules: Rules) -> set[str]:
    """The named speakers of a file: labels other than the markers, used at least
    ``min_named_label_uses`` times (no digits), that take turns with the file's other speaker.

    Once the file's markers are known, another label is speech inside a turn (易书记：..., or
    马玉兰说：... quoted in an answer), not a speaker: with both an interviewer and a respondent
    marker in the file there are no named speakers; with interviewer markers only, a named
    respondent is one that answers the interviewer (directly follows an interviewer turn at least
    once); with respondent markers only, a named interviewer is one a respondent turn follows;
    with named speakers only, the first is the interviewer and the others must answer it."""
    uses = Counter(lab[0] for lab in labels if lab)
    markers = rules.interviewer | rules.respondent
    candidates = {lab for lab, n in uses.items() if lab not in markers and n >= rules.min_named_uses
                  and not any(ch.isdigit() for ch in lab)}
    if not candidates:
        return set()
    has_iv = any(lab in rules.interviewer for lab in uses)
    has_resp = any(lab in rules.respondent for lab in uses)
    if has_iv and has_resp:
        return set()
    seq = [lab[0] for lab in labels if lab and (lab[0] in markers or lab[0] in candidates)]
    pairs = list(zip(seq, seq[1:]))
    if has_iv:
        return {b for a, b in pairs if a in rules.interviewer and b in candidates}
    if has_resp:
        return {a for a, b in pairs if a in candidates and b in rules.respondent}
    first = seq[0]
    return {first} | {b for a, b in pairs if a == first and b in candidates}


def parse_transcript(text: str, rules: Rules) -> Parsed:
    """Header fields and speaker turns of a decoded interview (offsets into ``text``)."""
    lines = _lines(text)
    labels: list[tuple[str, int] | None] = []
    for start, end, line in lines:
        m = rules.label_re.match(line)
        if m and not rules.header_re.match(line.lstrip(" \t\u3000")):
            labels.append((m.group(1), m.end()))
        else:
            labels.append(None)
    markers = rules.interviewer | rules.respondent
    named = named_speakers(labels, rules)
    body = next((i for i, lab in enumerate(labels) if lab and (lab[0] in markers or lab[0] in named)), len(lines))
    fields, field_lines, name_spans = _header_fields(lines, body, rules)

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


def _is_header_line(line: str, rules: Rules) -> bool:
    m = rules.header_re.search(line)
    return bool(m) and not line[: m.start()].strip()


def parse_document(text: str, rules: Rules, header: bool = True) -> Parsed:
    """A text without an interviewer: optional header lines at its top (the fields of
    ``header``; none when ``header`` is false, as for one text a line), then the text, one turn
    of its author (speaker ``respondent``, no label; each non-blank line a piece). A name and a
    colon in the text is text. No text after the header: no turn."""
    lines = _lines(text)
    body = next((i for i, (_, _, line) in enumerate(lines)
                 if line.strip() and not (header and _is_header_line(line, rules))), len(lines))
    fields, field_lines, name_spans = _header_fields(lines, body, rules)
    pieces = tuple((s, e) for s, e, line in lines[body:] if line.strip())
    turns = (Turn("respondent", "", (pieces[0][0], pieces[0][0]), pieces, body + 1),) if pieces else ()
    return Parsed(fields=fields, field_lines=field_lines, name_spans=tuple(name_spans), turns=turns,
                  named_labels=frozenset(), convention=DOCUMENT)


def split_texts(text: str, rules: Rules) -> list[tuple[int, str]]:
    """The texts of one file of documents, with the line each starts on (1-based):
    ``format.texts: file`` the whole file; ``line`` every non-blank line; ``separator`` the
    blocks between lines that hold only ``format.separator`` (blank blocks dropped)."""
    if rules.split == "file":
        return [(1, text)]
    lines = text.split("\n")
    if rules.split == "line":
        return [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    out, block, first = [], [], 1
    for i, line in enumerate([*lines, rules.separator]):
        if line.strip() == rules.separator:
            if "".join(block).strip():
                out.append((first, "\n".join(block)))
            block, first = [], i + 2
        else:
            block.append(line)
    return out


def clean_community(value: str, rules: Rules) -> str:
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

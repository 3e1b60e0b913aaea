"""Step 5 of the transcripts: respondent units and interviewer questions (see :mod:`pipeline.text.corpus`).

:func:`build_units`: transcriber's notes (（笑）, [停顿]) are removed; respondent turns are
split into sentences (``unit: sentence``) or kept whole (``unit: turn``). A unit's id is
``interview:turn:sentence`` (respondent turns and sentences numbered from 1 in file order;
0 for a whole turn), the same on every run.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.core.errors import PipelineError
from pipeline.text.rules import Rules
from pipeline.text.segment import WORD_CHAR

if TYPE_CHECKING:                   # the redaction's modules only for the stage that redacts (issue 19:
    from pipeline.text.redact import Span     # the coding and topics stages read units, never redact)
from pipeline.text.turns import Parsed

UNITS = ("sentence", "turn")

# --------------------------------------------------------------------------------------------
# the contract of units.parquet and questions.parquet (written by the transcripts stage, read by
# topics, coding and integrate): each column once, with its type. ``community`` stands for the
# study's community column (the instrument's community id), written under that name or left out.
# --------------------------------------------------------------------------------------------
UNIT_TYPES = {"unit_id": "str", "interview_id": "str", "community": "str", "role": "str", "date": "str",
              "turn": "int64", "sentence": "int64", "speaker": "str", "text": "str", "tokens": "str",
              "n_tokens": "int64"}
QUESTION_TYPES = {"question_id": "str", "interview_id": "str", "community": "str", "role": "str", "date": "str",
                  "question": "int64", "before_turn": "int64", "speaker": "str", "text": "str", "tokens": "str",
                  "n_tokens": "int64"}
UNIT_COLUMNS = list(UNIT_TYPES)
QUESTION_COLUMNS = list(QUESTION_TYPES)


def text_schema(kind: str, community: str | None) -> Any:
    """The pandera contract of ``units.parquet`` (``kind`` "units") or ``questions.parquet``
    ("questions"), the community column under its name (or none): every column present, of its
    type, without missing values; ids unique; no other column."""
    import pandera.pandas as pa

    types = UNIT_TYPES if kind == "units" else QUESTION_TYPES
    key = "unit_id" if kind == "units" else "question_id"
    cols = {}
    for name, dtype in types.items():
        if name == "community" and not community:
            continue
        checks = [pa.Check.ge(0)] if dtype == "int64" else []
        cols[community if name == "community" else name] = pa.Column(dtype, checks, nullable=False, unique=name == key)
    return pa.DataFrameSchema(cols, strict=True, ordered=True, name=f"transcript {kind}")


def _meets_contract(frame: Any, kind: str, community: str | None) -> bool:
    """True when ``frame`` plainly meets :func:`text_schema`: exactly its columns in its order,
    each of its dtype, no missing value, the id unique, the counts >= 0. Stricter than pandera
    (only these very dtypes pass), never looser: anything else goes to pandera, which
    accepts it or words the error (tests/test_text_contract.py checks that the two agree)."""
    from pandas.api.types import pandas_dtype

    types = UNIT_TYPES if kind == "units" else QUESTION_TYPES
    key = "unit_id" if kind == "units" else "question_id"
    expected = [(community if name == "community" else name, dtype) for name, dtype in types.items()
                if name != "community" or community]
    if list(frame.columns) != [name for name, _ in expected]:
        return False
    for name, dtype in expected:
        column = frame[name]
        if column.dtype != pandas_dtype(dtype) or column.isna().any():   # "str": the Arrow-backed one
            return False
        if dtype == "int64" and len(column) and column.min() < 0:
            return False
    return bool(frame[key].is_unique)


def check_text_frame(frame: Any, kind: str, community: str | None, source: str, needed: Sequence[str] = ()) -> Any:
    """``frame`` checked against :func:`text_schema`, or one :class:`PipelineError` line naming
    ``source``, the column and the problem. ``needed``: the columns the caller uses (an error
    names those missing first)."""
    missing = [c for c in (*needed, *([community] if community else [])) if c not in frame.columns]
    if missing:
        raise PipelineError(f"{source}: columns {missing} are missing",
                            hint="pass the transcripts stage's processed/transcripts/units.parquet (or questions.parquet)")
    if _meets_contract(frame, kind, community):   # the usual case, decided without pandera (its import alone
        return frame                              # is ~0.35 s in every stage that reads the transcripts)
    import pandera.errors as pe

    try:
        return text_schema(kind, community).validate(frame, lazy=False)
    except (pe.SchemaError, pe.SchemaErrors) as exc:
        errors = getattr(exc, "schema_errors", None) or [exc]
        first = str(errors[0]).splitlines()[0]
        if " not in DataFrameSchema" in first:            # an extra column: name the contract's, not its repr
            first = first.split(" not in DataFrameSchema")[0] + \
                f" is not one of its columns {list(text_schema(kind, community).columns)}"
        first = first.rstrip(":.")
        raise PipelineError(f"{source}: does not match the transcripts stage's contract: {first}",
                            hint="rerun the transcripts stage (dvc repro) rather than editing its outputs") from None


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
    from pipeline.text.redact import redact

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

"""Step 7 of the transcripts: the dictionary audit (see :mod:`pipeline.text.corpus`).

:func:`dictionary_audit`: for every user term, its occurrences in the units' text (longest
term first) and how many came out as a single token.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from pipeline.text.rules import _alternation


def term_pattern(words: Iterable[tuple[str, int, str]]) -> re.Pattern:
    return re.compile(_alternation(w for w, _, _ in words))


def audit_counts(texts: list[str], tokens: list[list[str]], pattern: re.Pattern) -> dict[str, list[int]]:
    """Per user term: [occurrences (longest term first), occurrences that are one token]."""
    out: dict[str, list[int]] = {}
    for text, toks in zip(texts, tokens):
        spans = set()
        pos = 0
        for t in toks:
            spans.add((pos, pos + len(t)))
            pos += len(t)
        for m in pattern.finditer(text):
            c = out.setdefault(m.group(), [0, 0])
            c[0] += 1
            c[1] += (m.start(), m.end()) in spans
    return out


def dictionary_audit(words: tuple[tuple[str, int, str], ...], counts: dict[str, list[int]]) -> pd.DataFrame:
    rows = []
    for word, freq, tag in words:
        occ, single = counts.get(word, [0, 0])
        rows.append((word, tag, freq, occ, single, occ - single))
    return pd.DataFrame(rows, columns=["term", "tag", "freq", "occurrences", "single_token", "split"])

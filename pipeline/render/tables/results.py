"""Reading the tidy results the tables show: the earlier stages' outputs under ``processed/``."""
from __future__ import annotations

import re
import weakref
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from pipeline.core.errors import PipelineError

Results = Mapping[str, pd.DataFrame]

INPUTS = {
    "sample_flow.csv": "survey", "exclusions.csv": "survey",
    "measurement/items.csv": "measurement", "measurement/reliability.csv": "measurement",
    "measurement/cfa_fit.csv": "measurement", "measurement/cfa_loadings.csv": "measurement",
    "measurement/cfa_validity.csv": "measurement", "measurement/invariance.csv": "measurement",
    "measurement/correlations.csv": "measurement",
    "models/coefficients.csv": "models", "models/fits.csv": "models", "models/components.csv": "models",
    "models/mi_pooled.csv": "models", "models/mediation.csv": "models", "models/icc.csv": "models",
    "topics/k_selection.csv": "topics", "topics/topic_words.csv": "topics", "topics/topics.csv": "topics",
    "coding/frequencies.csv": "coding", "coding/agreement.csv": "coding",
    "transcripts/interviews.csv": "transcripts", "transcripts/skipped.csv": "transcripts",
}
PARQUETS = {"indices.parquet": "measurement"}
# The integrate stage's frames (processed/integrate/) and their columns of text, read as text as
# written: a level "1" stays "1" and an empty level or quote stays empty, as the stage made them.
INTEGRATED = {
    "integrate/sample_characteristics.csv": ("variable", "level", "group"),
    "integrate/sample_tests.csv": ("variable", "test"),
    "integrate/codebook.csv": ("variable", "type"),
    "integrate/index_descriptives.csv": ("scale",),
    "integrate/joint_display.csv": ("hypothesis", "model", "term", "theme_label", "stance", "stance_label", "factor",
                                    "level", "reference", "qual_status", "scope", "quotes_from", "verdict", "claim"),
    "integrate/joint_unpaired.csv": ("hypothesis", "reason"),
}
_TEXT_COLUMNS: dict[int, tuple[weakref.ref, dict[str, np.ndarray]]] = {}   # id(frame) -> (frame, its columns as text)


def matching_rows(df: pd.DataFrame, row: Iterable[tuple[str, Any]]) -> np.ndarray:
    """Positions of the rows of ``df`` whose columns, read as text, equal the values of ``row``
    (``(column, value)`` pairs, values compared as ``str(value)``; a missing value matches
    nothing). Each column's text is made once per frame and kept while the frame lives (the
    tables look up about 3,000 cells in a few frames): the results are read, never changed in
    place; a changed result is a new frame."""
    key = id(df)
    ref, columns = _TEXT_COLUMNS.get(key, (None, {}))
    if ref is None or ref() is not df:
        def forget(dead: weakref.ref, key: int = key) -> None:
            if _TEXT_COLUMNS.get(key, (None,))[0] is dead:
                del _TEXT_COLUMNS[key]
        columns = {}
        _TEXT_COLUMNS[key] = (weakref.ref(df, forget), columns)
    mask = np.ones(len(df), dtype=bool)
    for col, val in row:
        if col not in columns:
            columns[col] = df[col].astype(str).to_numpy(dtype=object, na_value=None)
        mask &= columns[col] == str(val)
    return np.flatnonzero(mask)


_QUOTE = re.compile(r"quote\d+(_id|_role)?")   # the joint display's quote1, quote1_id, quote1_role, quote2, ...


def load_results(processed: str | Path) -> dict[str, pd.DataFrame]:
    """Every tidy input the tables use that exists under ``processed``, keyed by its relative
    path. Absent files are left out (their tables are then skipped with a note); an unreadable
    file is an error."""
    processed = Path(processed)
    stages = INPUTS | PARQUETS | {rel: "integrate" for rel in INTEGRATED}
    out: dict[str, pd.DataFrame] = {}
    for rel in stages:
        path = processed / rel
        if not path.exists():
            continue
        try:
            if rel in INTEGRATED:
                out[rel] = read_integrated(path, INTEGRATED[rel])
            else:
                out[rel] = pd.read_parquet(path) if rel.endswith(".parquet") else pd.read_csv(path, keep_default_na=True)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
            raise PipelineError(f"{path}: not readable ({exc.__class__.__name__})",
                                f"re-run the {stages[rel]} stage") from None
    return out


def read_integrated(path: str | Path, text_columns: tuple[str, ...]) -> pd.DataFrame:
    """A frame of the integrate stage as it was written: ``text_columns`` (and quote columns) as
    text, empty text as "" (not missing), numbers parsed to the same float they were written from."""
    columns = list(pd.read_csv(path, nrows=0).columns)
    text = [c for c in columns if c in text_columns or _QUOTE.fullmatch(c)]
    return pd.read_csv(path, dtype={c: str for c in text}, keep_default_na=False,
                       na_values={c: [""] for c in columns if c not in text})

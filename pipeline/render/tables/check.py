"""The check: every number a table shows equals its tidy source."""
from __future__ import annotations

import math
import re
from typing import Sequence


from pipeline.render.table import Source, Table
from pipeline.render.tables.results import Results, matching_rows
from pipeline.render.tables.settings import DEFAULTS

_NUMBER = re.compile(r"(<)?(-?\d+(?:\.(\d+))?)")


def check_numbers(table: Table, results: Results, thresholds: Sequence[float] = DEFAULTS["stars"]) -> list[str]:
    """Problems (empty if none): a number shown that is not its source rounded to the shown
    decimals, a source value that differs from the tidy file, stars that do not match the p
    value, or a number in a data column without a source."""
    problems = []
    for i, row in enumerate(table.rows):
        for j, cell in enumerate(row.cells):
            where = f"{table.key} row {i + 1} col {j + 1} '{cell.text}'"
            if cell.suppressed:
                if cell.sources:
                    problems.append(f"{where}: a suppressed cell shows a number with a source")
                continue
            found = _NUMBER.findall(cell.text)
            if not cell.sources:
                if found and j >= table.label_columns and cell.text not in ("—",):
                    problems.append(f"{where}: a number without a source")
                continue
            if len(found) != len(cell.sources):
                problems.append(f"{where}: {len(found)} numbers shown, {len(cell.sources)} sources")
                continue
            for (lt, shown, decimals), src in zip(found, cell.sources):
                tidy = _tidy_value(results, src)
                if isinstance(tidy, str):
                    problems.append(f"{where}: {tidy}")
                    continue
                if not math.isclose(tidy, src.value, rel_tol=1e-12, abs_tol=1e-12):
                    problems.append(f"{where}: source value {src.value} but {src.file} has {tidy}")
                v = tidy * src.scale
                dec = len(decimals)
                if lt:
                    if not v < float(shown):
                        problems.append(f"{where}: shows <{shown} but the value is {v}")
                elif abs(float(shown) - v) > 0.5 * 10 ** -dec + 1e-9 * max(1.0, abs(v)):
                    problems.append(f"{where}: shows {shown} but {src.file} {src.column} is {v}")
            if cell.stars is not None:
                n = len(cell.text) - len(cell.text.rstrip("*"))
                p = _tidy_value(results, cell.stars)
                want = sum(p < t for t in thresholds) if not isinstance(p, str) else -1
                if n != want:
                    problems.append(f"{where}: {n} stars for p = {p}")
    return problems


def _tidy_value(results: Results, src: Source) -> float | str:
    df = results.get(src.file)
    if df is None:
        return f"{src.file} is not among the results"
    hit = matching_rows(df, src.row)
    if len(hit) != 1:
        return f"{len(hit)} rows of {src.file} match {dict(src.row)}"
    return float(df[src.column].iloc[hit[0]])


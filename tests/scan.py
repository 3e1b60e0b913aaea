"""Reading every file a run writes as its readers would see it, for the personal-data scans
(tests/test_pii_scan.py on the demo study, tests/test_redaction_leaks.py on a planted corpus)."""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import pyarrow.parquet as pq


def file_texts(path: Path) -> list[str]:
    """A written file as its readers see it: Parquet cells, zip members, the token cache's
    compressed entries, anything else as UTF-8 and GB18030."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        # cells joined by a mark the scanner's separators keep, so that a column of small numbers
        # (1, 2, 3 … 7: a turn's unit numbers) never reads as one number (1234567)
        return ["\n|".join("" if v is None else str(v) for v in col.to_pylist()) for col in table.columns] + \
            ["\n".join(table.column_names), str(table.schema.metadata or "")]
    texts = []
    if path.suffix == ".tok":                            # its text is the entry decompressed; the compressed
        return [zlib.decompress(data).decode("utf-8"), path.name]   # bytes read as text held 'amy' by chance
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            texts += [z.read(n).decode("utf-8", errors="ignore") for n in z.namelist()]
    return texts + [data.decode("utf-8", errors="ignore"), data.decode("gb18030", errors="ignore"), path.name]

"""PNG pictures of the Word report's pages that hold given tables, as LibreOffice prints them:
reports/report.docx -> PDF (the same conversion as tests/test_report_print.py) -> the pages each
table's rows are drawn on -> pdftoppm (poppler-utils) at 100 dpi.

    .venv/bin/python scripts/report_pages.py --docx <study>/reports/report.docx --tables 9 14 18 --out docs

writes docs/word_table09_page08.png and so on. Needs LibreOffice and poppler-utils
(scripts/repro.sh: install_system_checks).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_report_print import table_rows, to_pdf  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docx", default="reports/report.docx")
    ap.add_argument("--tables", type=int, nargs="+", required=True, help="table numbers (1 = the first table)")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--dpi", type=int, default=100)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = to_pdf(Path(args.docx), Path(tmp))
        rows = table_rows(pdf)
        for number in args.tables:
            for page in sorted(set().union(*rows[number - 1])):
                stem = out / f"word_table{number:02d}_page{page:02d}"
                subprocess.run(["pdftoppm", "-png", "-r", str(args.dpi), "-f", str(page), "-l", str(page),
                                "-singlefile", str(pdf), str(stem)], check=True)
                print(f"{stem}.png")


if __name__ == "__main__":
    main()

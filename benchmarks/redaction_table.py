"""The redaction table of docs/redaction.md: the labelled set (tests/fixtures/redaction/labelled.yaml)
through the detector a new study gets (the generic template `init` drafts, the generic word lists),
per category and part (tune, heldout, tune2, heldout2, tune3, tune4, tune5, tune6, tune7, tune8, tune9, tune10, tune11, tune12, tune13, tune14, tune15, tune16, tune17, tune18, tune19, tune20, tune21, heldout22, heldout23, heldout24, heldout25, tune26, tune27, heldout28, tune29, tune30, tune31, tune32, tune33, heldout34, heldout35, heldout36, heldout37, heldout38, heldout39, heldout40, heldout41, heldout42, heldout43, heldout44, tune45, heldout46, heldout47, tune48, heldout49, tune50, heldout51, heldout52, heldout53, tune54, heldout55, heldout56).

    .venv/bin/python benchmarks/redaction_table.py          # rewrites the table in docs/redaction.md

tests/test_redaction_labelled.py checks the targets and that the table in the docs is this one.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.text.redaction_eval import load_labelled, markdown, score, template_state, turn_detector  # noqa: E402

LABELLED = ROOT / "tests" / "fixtures" / "redaction" / "labelled.yaml"
DOC = ROOT / "docs" / "redaction.md"
START, END = "<!-- redaction-table:start -->", "<!-- redaction-table:end -->"
PARTS = {"tuning": "tune", "held-out": "heldout", "tuning 2": "tune2", "held-out 2": "heldout2",
         "tuning 3": "tune3", "tuning 4": "tune4", "tuning 5": "tune5",
         "tuning 6": "tune6", "tuning 7": "tune7", "tuning 8": "tune8", "tuning 9": "tune9",
         "tuning 10": "tune10", "tuning 11": "tune11", "tuning 12": "tune12",
         "tuning 13": "tune13", "tuning 14": "tune14", "tuning 15": "tune15",
         "tuning 16": "tune16", "tuning 17": "tune17", "tuning 18": "tune18", "tuning 19": "tune19",
         "tuning 20": "tune20", "tuning 21": "tune21", "held-out 22": "heldout22", "held-out 23": "heldout23",
         "held-out 24": "heldout24", "held-out 25": "heldout25", "tuning 26": "tune26", "tuning 27": "tune27",
         "held-out 28": "heldout28", "tuning 29": "tune29", "tuning 30": "tune30", "tuning 31": "tune31",
         "tuning 32": "tune32", "tuning 33": "tune33", "held-out 34": "heldout34", "held-out 35": "heldout35",
         "held-out 36": "heldout36", "held-out 37": "heldout37",
         "held-out 38": "heldout38", "held-out 39": "heldout39", "held-out 40": "heldout40",
         "held-out 41": "heldout41", "held-out 42": "heldout42", "held-out 43": "heldout43",
         "held-out 44": "heldout44", "tuning 45": "tune45",
         "held-out 46": "heldout46", "held-out 47": "heldout47", "tuning 48": "tune48",
         "held-out 49": "heldout49", "tuning 50": "tune50", "held-out 51": "heldout51", "held-out 52": "heldout52",
         "held-out 53": "heldout53", "tuning 54": "tune54", "held-out 55": "heldout55", "held-out 56": "heldout56"}


def tables(workdir: Path, jieba_cache: str) -> tuple[dict, dict]:
    """Per part: the score table and the misses."""
    rules, seg, lexicon = template_state(workdir / "config", ROOT / "config", jieba_cache)
    detect = turn_detector(rules, seg, lexicon)
    items = load_labelled(LABELLED)
    out, misses = {}, {}
    for label, part in PARTS.items():
        out[label], misses[label] = score([i for i in items if i.part == part], detect)
    return out, misses


def block(parts: dict) -> str:
    return f"{START}\n{markdown(parts)}\n{END}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parts, misses = tables(Path(tmp), str(ROOT / ".cache" / "jieba.cache"))
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    DOC.write_text(before + block(parts) + after, encoding="utf-8")
    for label, lines in misses.items():
        print(f"{label}: {len(lines)} miss(es) or wrong span(s)")
        for line in lines:
            print("  " + line)


if __name__ == "__main__":
    main()

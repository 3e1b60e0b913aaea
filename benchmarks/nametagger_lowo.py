"""The name tagger (pipeline/text/nametagger.py) measured honestly: leave one writer out.

    .venv/bin/python benchmarks/nametagger_lowo.py [--writers 22,23] [--train all|tuning] [--c1 0.05 --c2 0.05]

The labelled set's parts grouped by writer (tune + heldout = writer 1, tune2 + heldout2 = writer 2,
tuneN or heldoutN = writer N). For each writer measured (by default the blind writers, the parts of
nametagger.BLIND_PARTS, whose names no rule was tuned on): a tagger trained on every other writer
(``--train all``, as the shipped model is trained since round 26) or on the tuning parts only
(``--train tuning``, as until round 25), then that writer's turns scored with the rules alone and
with the rules and the tagger (find_pii's combination: the tagger's name spans that no rule span
touches, the rule names it vetoes dropped). Neither the rules nor the tagger saw the writer's names:
the honest number for a new writer. Each training takes one to two minutes. Prints a Markdown table
(counts only: never a miss of a blind writer).
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.text import nametagger as nt  # noqa: E402
from pipeline.text.redaction_eval import load_labelled, score  # noqa: E402


def writer_of(part: str) -> int:
    m = re.search(r"(\d+)$", part)
    return int(m.group(1)) if m else 1


def prepare(items, detect_full):
    """Per turn: the rule spans in turn coordinates, and the features of its line (with the rules'
    marks, and without them: nametagger.training_lines shows the tagger both)."""
    out = []
    for it in items:
        full, tokens, spans, offset, rules, lexicon = detect_full(it.text)
        line_start = full.rfind("\n", 0, offset) + 1
        end = offset + len(it.text)
        starts = nt._starts(tokens)
        marks = nt.marks_of(len(full), spans)[line_start:end]
        toks = nt._tokens_in(tokens, starts, line_start, end)
        x = nt.features(full[line_start:end], toks, marks, rules, lexicon)
        x0 = nt.features(full[line_start:end], toks, "-" * (end - line_start), rules, lexicon)
        y = ["O"] * (offset - line_start) + nt.gold_labels(len(it.text), it.gold)
        rule = [(s - offset, e - offset, t) for s, e, t in spans if s >= offset]
        turn_tokens = nt._tokens_in(tokens, starts, offset, end)
        out.append({"item": it, "x": x, "x0": x0, "y": y, "marks": marks, "shift": offset - line_start, "rule": rule,
                    "rules": rules, "tokens": turn_tokens, "lexicon": lexicon})
    return out


def combined(row, tagger) -> list[tuple[int, int, str]]:
    """find_pii's combination: the rule spans but the names the tagger vetoes, and the tagger's
    confident names that no rule span touches."""
    text, shift = row["item"].text, row["shift"]
    p = nt.line_probabilities(tagger, row["x"], row["marks"])[shift:]
    mask = bytearray(len(text))
    for s, e, _ in row["rule"]:
        mask[s:e] = b"\x01" * (e - s)
    kept = [(s, e, t) for s, e, t in row["rule"] if t != "name" or not nt.vetoed(text, p, s, e, row["rules"])]
    toks = row["tokens"]
    added = [(s, e, "name") for s, e in nt.added_names(text, p, lambda s, e: not any(mask[s:e]), toks, nt._starts(toks),
                                                     row["rules"], row["lexicon"])]
    return sorted(kept + added)


def training_set(train_rows, marks: str):
    """both: every turn twice, with the rules' marks and without (as nametagger.training_lines since
    round 27); alternate: every other turn without them (until round 27)."""
    if marks == "both":
        return [(r[x], r["y"]) for r in train_rows for x in ("x", "x0")]
    return [(r["x0"] if k % 2 == 0 else r["x"], r["y"]) for k, r in enumerate(train_rows)]


_ROWS: list = []


def _one(job):
    w, params, train, marks, tmp, adds = job
    rows = _ROWS
    train_rows = [r for r in rows if writer_of(r["item"].part) != w and
                  (train == "all" or r["item"].part in nt.TRAIN_PARTS)]
    path = Path(tmp) / f"m{w}.crfsuite"
    if not path.is_file():                   # --models DIR: kept from an earlier run with the same settings
        nt.train(training_set(train_rows, marks), path, params)
    out = {}
    for add in adds:                     # find_pii's threshold for the tagger's own names (nametagger.ADD)
        nt.ADD = add
        out[add] = _measure(w, [r for r in rows if writer_of(r["item"].part) == w], path)
    print(f"writer {w} done", file=sys.stderr, flush=True)
    return out


def lowo(rows, writers, params, train: str = "all", marks: str = "both", jobs: int = 1,
         adds: tuple[float, ...] = (nt.ADD,), models: str = "") -> dict[float, list[dict]]:
    """One tagger per writer left out (forked workers share ``rows``; the tuning-only model is the
    same for every blind writer but is trained per writer here for simplicity)."""
    global _ROWS
    _ROWS = rows
    with tempfile.TemporaryDirectory() as scratch:
        tmp = models or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        todo = [(w, params, train, marks, tmp, adds) for w in writers]
        if jobs > 1:
            import multiprocessing as mp
            with mp.get_context("fork").Pool(jobs) as pool:
                per_writer = pool.map(_one, todo, chunksize=1)
        else:
            per_writer = [_one(j) for j in todo]
    return {add: [r[add] for r in per_writer] for add in adds}


def _measure(w: int, test_rows: list, path: Path) -> dict:
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    try:
        by_text = {r["item"].text: r for r in test_rows}
        items = [r["item"] for r in test_rows]
        rules_t, _ = score(items, lambda text: by_text[text]["rule"])
        both_t, _ = score(items, lambda text: combined(by_text[text], tagger))
    finally:
        tagger.close()
    return {"writer": w, "turns": len(items), "rules": rules_t.set_index("category"), "both": both_t.set_index("category")}


def _cells(t, cat):
    r = t.loc[cat]
    return int(r["found"]), int(r["gold"]), (0 if cat.startswith("ordinary") else int(r["correct"])), int(r["redacted"])


def table(results) -> str:
    lines = ["| writer | turns | names recall (rules) | (rules + tagger) | names precision (rules) | (rules + tagger) | "
             "decoys kept (rules) | (rules + tagger) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    tot = {}
    for res in results:
        row = [str(res["writer"]), str(res["turns"])]
        cells = {}
        for key in ("rules", "both"):
            for cat in ("names", "ordinary words (decoys)"):
                c = _cells(res[key], cat)
                cells[key, cat] = c
                t = tot.setdefault((key, cat), [0, 0, 0, 0])
                for i in range(4):
                    t[i] += c[i]
        for key in ("rules", "both"):
            f, g, _, _ = cells[key, "names"]
            row.append(f"{f}/{g} = {f / g:.3f}")
        for key in ("rules", "both"):
            _, _, c, p = cells[key, "names"]
            row.append(f"{c / p:.3f}" if p else "–")
        for key in ("rules", "both"):
            f, g, _, _ = cells[key, "ordinary words (decoys)"]
            row.append(f"{f}/{g}")
        lines.append("| " + " | ".join(row) + " |")
    if results:
        row = ["**all**", str(sum(r["turns"] for r in results))]
        for key in ("rules", "both"):
            f, g, _, _ = tot[key, "names"]
            row.append(f"**{f}/{g} = {f / g:.3f}**")
        for key in ("rules", "both"):
            _, _, c, p = tot[key, "names"]
            row.append(f"{c / p:.3f}")
        for key in ("rules", "both"):
            f, g, _, _ = tot[key, "ordinary words (decoys)"]
            row.append(f"{f}/{g}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", default="", help="comma-separated writer numbers (default: the blind writers)")
    parser.add_argument("--train", choices=["all", "tuning"], default="all",
                        help="all: every other writer (shipped since round 26); tuning: the tuning parts only")
    parser.add_argument("--marks", choices=["both", "alternate"], default="both",
                        help="both: every training turn with the rules' marks and without them (shipped since round 27); "
                             "alternate: every other turn without them (until round 27)")
    parser.add_argument("--add", type=float, nargs="+", default=[nt.ADD],
                        help="the tagger's threshold for a name of its own (nametagger.ADD): one table each")
    parser.add_argument("--models", default="", help="a folder to keep the trained taggers in (and reuse: the "
                        "settings and the labelled set must be the same)")
    parser.add_argument("--jobs", type=int, default=1, help="writers measured at once (forked workers)")
    parser.add_argument("--c1", type=float, default=nt.TRAIN_PARAMS["c1"])
    parser.add_argument("--c2", type=float, default=nt.TRAIN_PARAMS["c2"])
    parser.add_argument("--iterations", type=int, default=nt.TRAIN_PARAMS["max_iterations"])
    args = parser.parse_args()
    writers = [int(w) for w in args.writers.split(",")] if args.writers else \
        sorted({writer_of(p) for p in nt.BLIND_PARTS})
    items = [i for i in load_labelled(nt.LABELLED) if i.part in nt.TAGGER_PARTS]
    with tempfile.TemporaryDirectory() as tmp:
        *_, detect_full = nt.labelled_context(Path(tmp), str(ROOT / ".cache" / "jieba.cache"))
        rows = prepare(items, detect_full)
    results = lowo(rows, writers, {"c1": args.c1, "c2": args.c2, "max_iterations": args.iterations}, args.train,
                   args.marks, args.jobs, tuple(args.add), args.models)
    for add, res in results.items():
        print(f"\nADD = {add}\n")
        print(table(res))


if __name__ == "__main__":
    main()

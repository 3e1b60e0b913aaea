"""The name tagger (pipeline/text/nametagger.py) measured honestly: leave one writer out.

    .venv/bin/python benchmarks/nametagger_lowo.py [--writers 1,2,14] [--c1 0.05 --c2 0.01 --iterations 200]

The labelled set's parts grouped by writer (tune + heldout = writer 1, tune2 + heldout2 = writer
2, tuneN = writer N for 3-21, heldoutN = writer N for 22-25). For each writer: a tagger trained
on the turns of writers 1-19 but that one (never on 20 or 21, the blind writers; --train 1-13
as shipped before round 13), then that writer's turns scored with the rules alone and with the
rules and the tagger (find_pii's combination: the tagger's name spans that no rule span touches).
The rules were tuned on writers 1-13 (and on the numbers and addresses of 14-19), so their
numbers there are optimistic; writers 14-19 left out measure the tagger on names no rule was
tuned on, and 20 and 21 are the clean comparison (neither the rules nor the tagger saw them). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.text import nametagger as nt  # noqa: E402
from pipeline.text.redaction_eval import load_labelled, score  # noqa: E402

WRITER_OF = {"tune": 1, "heldout": 1, "tune2": 2, "heldout2": 2, **{f"tune{k}": k for k in range(3, 14)},
             **{f"tune{k}": k for k in range(14, 22)}, "heldout22": 22, "heldout23": 23, "heldout24": 24, "heldout25": 25}
TRAINED = set(range(1, 22))                    # writers the shipped tagger trains on (22 and 23 are blind)


def prepare(items, detect_full):
    """Per turn: the rule spans in turn coordinates, and the features of its line (with the rules'
    marks, and without them: the training set's every other turn, nametagger.DROPOUT)."""
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


def lowo(rows, writers, params, train_writers=TRAINED) -> list[dict]:
    import pycrfsuite

    results = []
    for w in writers:
        train_rows = [r for r in rows if WRITER_OF[r["item"].part] in set(train_writers) - {w}]
        test_rows = [r for r in rows if WRITER_OF[r["item"].part] == w]
        with tempfile.TemporaryDirectory() as tmp:
            path = nt.train([(r["x0"] if k % nt.DROPOUT == 0 else r["x"], r["y"]) for k, r in enumerate(train_rows)],
                            Path(tmp) / "m.crfsuite", params)
            tagger = pycrfsuite.Tagger()
            tagger.open(str(path))
            by_text = {r["item"].text: r for r in test_rows}
            items = [r["item"] for r in test_rows]
            rules_t, _ = score(items, lambda text: by_text[text]["rule"])
            both_t, misses = score(items, lambda text: combined(by_text[text], tagger))
            results.append({"writer": w, "turns": len(items), "rules": rules_t.set_index("category"),
                            "both": both_t.set_index("category"), "misses": misses})
            tagger.close()
        print(f"writer {w} done", file=sys.stderr, flush=True)
    return results


def table(results) -> str:
    def cell(t, cat):
        r = t.loc[cat]
        return f"{int(r['found'])}/{int(r['gold'])} = {r['recall']:.3f}", f"{r['precision']:.3f}"

    lines = ["| writer | turns | names recall (rules) | (rules + tagger) | names precision (rules) | (rules + tagger) | "
             "addresses recall (rules) | (rules + tagger) | decoys kept (rules) | (rules + tagger) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    tot = {}
    for res in results:
        nr, npr = cell(res["rules"], "names")
        nb, npb = cell(res["both"], "names")
        ar, _ = cell(res["rules"], "addresses")
        ab, _ = cell(res["both"], "addresses")
        dr = res["rules"].loc["ordinary words (decoys)"]
        db = res["both"].loc["ordinary words (decoys)"]
        lines.append(f"| {res['writer']}{'' if res['writer'] in TRAINED else ' (blind)'} | {res['turns']} | {nr} | {nb} | {npr} | {npb} | "
                     f"{ar} | {ab} | {int(dr['found'])}/{int(dr['gold'])} | {int(db['found'])}/{int(db['gold'])} |")
        for key, t in (("rules", res["rules"]), ("both", res["both"])):
            for cat in ("names", "addresses", "ordinary words (decoys)"):
                g = tot.setdefault((key, cat), [0, 0, 0, 0])
                r = t.loc[cat]
                g[0] += int(r["found"])
                g[1] += int(r["gold"])
                g[2] += 0 if cat.startswith("ordinary") else int(r["correct"])
                g[3] += int(r["redacted"])
    for label, ws in (("1-19 (each left out)", TRAINED), ("20-21 (blind)", {20, 21})):
        sel = [r for r in results if r["writer"] in ws]
        if not sel:
            continue
        agg = {}
        for key in ("rules", "both"):
            for cat in ("names", "addresses", "ordinary words (decoys)"):
                f = sum(int(r[key].loc[cat]["found"]) for r in sel)
                g = sum(int(r[key].loc[cat]["gold"]) for r in sel)
                c = sum(int(r[key].loc[cat]["correct"]) for r in sel if not cat.startswith("ordinary"))
                p = sum(int(r[key].loc[cat]["redacted"]) for r in sel)
                agg[key, cat] = (f, g, c, p)

        def rc(k, cat):
            f, g, _, _ = agg[k, cat]
            return f"{f}/{g} = {f / g:.3f}"

        def pr(k, cat):
            _, _, c, p = agg[k, cat]
            return f"{c / p:.3f}" if p else "–"

        lines.append(f"| **{label}** | {sum(r['turns'] for r in sel)} | {rc('rules', 'names')} | {rc('both', 'names')} | "
                     f"{pr('rules', 'names')} | {pr('both', 'names')} | {rc('rules', 'addresses')} | {rc('both', 'addresses')} | "
                     f"{agg['rules', 'ordinary words (decoys)'][0]}/{agg['rules', 'ordinary words (decoys)'][1]} | "
                     f"{agg['both', 'ordinary words (decoys)'][0]}/{agg['both', 'ordinary words (decoys)'][1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", default=",".join(str(w) for w in range(1, 20)))
    parser.add_argument("--c1", type=float, default=nt.TRAIN_PARAMS["c1"])
    parser.add_argument("--c2", type=float, default=nt.TRAIN_PARAMS["c2"])
    parser.add_argument("--iterations", type=int, default=nt.TRAIN_PARAMS["max_iterations"])
    parser.add_argument("--misses", action="store_true", help="print the name misses of the blind writers (of every "
                        "writer measured with --misses-all: a writer left out is no blind writer, read its misses only "
                        "when its part is a tuning part)")
    parser.add_argument("--misses-all", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--train", default="1-19", help="the writers a tagger may train on (each left out in turn): "
                        "1-13 as shipped before round 13, 1-17 before round 15, 1-19 as shipped since")

    args = parser.parse_args()
    writers = [int(w) for w in args.writers.split(",")]
    items = [i for i in load_labelled(nt.LABELLED) if i.part in WRITER_OF]
    with tempfile.TemporaryDirectory() as tmp:
        *_, detect_full = nt.labelled_context(Path(tmp), str(ROOT / ".cache" / "jieba.cache"))
        rows = prepare(items, detect_full)
    lo, hi = (int(v) for v in args.train.split("-"))
    results = lowo(rows, writers, {"c1": args.c1, "c2": args.c2, "max_iterations": args.iterations}, range(lo, hi + 1))
    print(table(results))
    if args.misses or args.misses_all:
        for res in results:
            if res["writer"] not in TRAINED or args.misses_all:
                print(f"\nwriter {res['writer']}:")
                print("\n".join("  " + m for m in res["misses"] if "name" in m))


if __name__ == "__main__":
    main()

"""Redaction measured on a hand-labelled set (docs/redaction.md; the project's own set is
``tests/fixtures/redaction/labelled.yaml``; a team can label a few of its own turns the same way).

A labelled turn is text with inline markup: ``{category:value}`` is personal data that must be
redacted (a gold span), ``{ok:value}`` an ordinary word that must stay (a decoy). :func:`score`
compares the spans a detector returns with the gold spans:

- recall of a category: gold spans of it that the detector's spans cover whole (together; the
  type the detector gives does not matter: the value is gone either way);
- precision of a type: the detector's spans of it that overlap a gold span;
- decoys kept: decoys that no detector span touches (ordinary words not redacted).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.core import config
from pipeline.core.errors import PipelineError

MARKUP = re.compile(r"\{([a-z_]+):([^{}]+)\}")
DECOY = "ok"
GROUPS = {                                   # the report's groups of categories and their targets
    "numbers and ids": ("mobile", "landline", "id_number", "bank_card", "certificate", "plate", "account", "email",
                        "staff_id", "long_number"),
    "names": ("name",),
    "addresses": ("address",),
}


@dataclass(frozen=True)
class Labelled:
    id: str
    part: str
    text: str                                  # the plain text, markup removed
    gold: tuple[tuple[int, int, str], ...]     # start, end, category
    decoys: tuple[tuple[int, int], ...]


def parse_markup(marked: str, where: str = "") -> tuple[str, list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Plain text, gold spans and decoy spans of a marked-up turn."""
    out, gold, decoys, pos, n = [], [], [], 0, 0
    for m in MARKUP.finditer(marked):
        out.append(marked[pos:m.start()])
        n += m.start() - pos
        cat, value = m.group(1), m.group(2)
        (decoys.append((n, n + len(value))) if cat == DECOY else gold.append((n, n + len(value), cat)))
        out.append(value)
        n += len(value)
        pos = m.end()
    out.append(marked[pos:])
    text = "".join(out)
    if "{" in text or "}" in text:
        raise PipelineError(f"{where}: unbalanced markup", hint="write {category:value} or {ok:value}")
    return text, gold, decoys


def load_labelled(path: str | Path) -> list[Labelled]:
    raw = config.read_yaml(Path(path), "labelled redaction set", "see tests/fixtures/redaction/labelled.yaml")
    items = []
    for k, row in enumerate((raw or {}).get("turns") or []):
        where = f"{path}: turns[{k}]"
        if not isinstance(row, dict) or "text" not in row:
            raise PipelineError(f"{where}: a turn needs text (and id, part)")
        text, gold, decoys = parse_markup(str(row["text"]), where)
        items.append(Labelled(id=str(row.get("id", k)), part=str(row.get("part", "tune")), text=text,
                              gold=tuple(gold), decoys=tuple(decoys)))
    return items


def _covered(spans: Iterable[tuple[int, int]], start: int, end: int) -> bool:
    mask = bytearray(end - start)
    for s, e in spans:
        for i in range(max(s, start), min(e, end)):
            mask[i - start] = 1
    return all(mask)


def score(items: list[Labelled], detect: Callable[[str], list[tuple[int, int, str]]]) -> tuple[pd.DataFrame, list[str]]:
    """Per category: gold spans, found, recall; detector spans, correct, precision. Rows for the
    groups of :data:`GROUPS`, for every category seen, and ``ordinary words`` (the decoys: kept
    of all). Also returns the misses (``id: category 'value'`` lines, and ``id: redacted 'value'``
    for wrong spans) for reading, never for logs of real data."""
    gold_n, found_n, pred_n, right_n = {}, {}, {}, {}
    decoys = kept = 0
    misses: list[str] = []
    for it in items:
        spans = detect(it.text)
        plain = [(s, e) for s, e, _ in spans]
        for s, e, cat in it.gold:
            gold_n[cat] = gold_n.get(cat, 0) + 1
            ok = _covered(plain, s, e)
            found_n[cat] = found_n.get(cat, 0) + ok
            if not ok:
                misses.append(f"{it.id}: missed {cat} '{it.text[s:e]}'")
        for s, e, typ in spans:
            hit = any(s < ge and e > gs for gs, ge, _ in it.gold)
            pred_n[typ] = pred_n.get(typ, 0) + 1
            right_n[typ] = right_n.get(typ, 0) + hit
            if not hit:
                misses.append(f"{it.id}: redacted {typ} '{it.text[s:e]}'")
        for s, e in it.decoys:
            decoys += 1
            kept += not any(ps < e and pe > s for ps, pe in plain)
    rows = []

    def row(label: str, cats: Iterable[str]) -> None:
        cats = list(cats)
        g, f = sum(gold_n.get(c, 0) for c in cats), sum(found_n.get(c, 0) for c in cats)
        p, r = sum(pred_n.get(c, 0) for c in cats), sum(right_n.get(c, 0) for c in cats)
        rows.append({"category": label, "gold": g, "found": f, "recall": f / g if g else float("nan"),
                     "redacted": p, "correct": r, "precision": r / p if p else float("nan")})

    for label, cats in GROUPS.items():
        row(label, cats)
    single = {c for cats in GROUPS.values() if len(cats) == 1 for c in cats}
    for cat in sorted((set(gold_n) | set(pred_n)) - single):
        row(cat, [cat])
    rows.append({"category": "ordinary words (decoys)", "gold": decoys, "found": kept,
                 "recall": kept / decoys if decoys else float("nan"), "redacted": decoys - kept, "correct": float("nan"),
                 "precision": float("nan")})
    return pd.DataFrame(rows), misses


# --------------------------------------------------------------------------------------------
# the detector as a study gets it, and the report's table
# --------------------------------------------------------------------------------------------
TEMPLATES = Path(__file__).resolve().parent / "templates"
TURN_PREFIX = "问：请您说说。\n答："


def template_config(folder: Path, lists: Path) -> Path:
    """The config ``python -m pipeline init`` drafts for interviews (the generic template), with
    the generic word lists of ``lists`` (the project's config/) beside it, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (TEMPLATES / "transcripts.yaml").read_text(encoding="utf-8").replace("kind: {kind}", "kind: interview", 1)
    (folder / "transcripts.yaml").write_text(text, encoding="utf-8")
    for name in ("surnames.txt", "given_names.txt", "stopwords.txt"):
        (folder / name).write_bytes((lists / name).read_bytes())
    (folder / "userdict.txt").write_bytes((TEMPLATES / "userdict.txt").read_bytes())
    return folder / "transcripts.yaml"


def template_state(folder: Path, lists: Path, jieba_cache: str):
    """(rules, segmenter, lexicon) of the generic template (:func:`template_config` in ``folder``),
    as the labelled set is measured: one process, the engine ``auto`` picks."""
    from pipeline.text.corpus import Context, _state, parse_settings
    from pipeline.text.rules import load_rules
    from pipeline.text.segment import resolve_engine, resolve_userdict, segmenter_spec

    cfg = template_config(folder, lists)
    rules = load_rules(cfg, cfg.parent / "stopwords.txt")
    words = resolve_userdict(cfg.parent / "userdict.txt", jieba_cache)
    ctx = Context(rules=rules, spec=segmenter_spec(resolve_engine("auto"), words, jieba_cache),
                  settings=parse_settings(n_jobs=1), communities=None, communities_name="")
    seg, lexicon, _ = _state(ctx)
    return rules, seg, lexicon


def turn_detector(rules, segmenter, lexicon) -> Callable[[str], list[tuple[int, int, str]]]:
    """``detect(text)``: the spans the transcripts stage redacts in ``text`` as one respondent
    turn of an interview (after an interviewer's question), as (start, end, type) in ``text``."""
    from pipeline.text.redact import find_pii
    from pipeline.text.turns import parse_transcript

    def detect(text: str) -> list[tuple[int, int, str]]:
        full = TURN_PREFIX + text + "\n"
        spans = find_pii(full, parse_transcript(full, rules), rules, segmenter.cut(full), lexicon)
        n = len(TURN_PREFIX)
        return [(sp.start - n, sp.end - n, sp.type) for sp in spans if sp.start >= n]

    return detect


def markdown(parts: dict[str, pd.DataFrame]) -> str:
    """One Markdown table: per category, gold spans, recall and precision of each part."""
    names = list(parts)
    cats = list(dict.fromkeys(c for t in parts.values() for c in t["category"]))
    head = "| category | " + " | ".join(f"{p}: spans | recall | precision" for p in names) + " |"
    rule = "|---|" + "---:|---:|---:|" * len(names)
    lines = [head, rule]

    def fmt(x: float) -> str:
        return "–" if pd.isna(x) else f"{x:.2f}"

    for cat in cats:
        cells = []
        for p in names:
            t = parts[p].set_index("category")
            if cat not in t.index:
                cells += ["0", "–", "–"]
                continue
            r = t.loc[cat]
            if cat.startswith("ordinary"):
                cells += [str(int(r["gold"])), f"{fmt(r['recall'])} kept", "–"]
            else:
                cells += [str(int(r["gold"])), fmt(r["recall"]), fmt(r["precision"])]
        label = f"**{cat}**" if cat in GROUPS else cat
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

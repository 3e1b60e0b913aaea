"""The name tagger's penalties checked by cross-validation over writers: the training writers
(nametagger.TRAIN_PARTS, never a blind part) in five folds (the k-th writer by number in fold
k mod 5); for each (c1, c2), a tagger trained on four folds, the fifth scored with the rules and
that tagger (find_pii as the stage runs it); names found, precision and decoys kept summed over
the folds. The rules were tuned on some of these writers, the same for every setting: the
comparison between settings is what counts, not the level.

    .venv/bin/python benchmarks/nametagger_cv.py 0.05,0.05 0.05,0.01 ...   (about 3 CPU-min per setting)
"""
import re
import sys
import tempfile
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import pycrfsuite
from pipeline.text import nametagger as nt
from pipeline.text.redaction_eval import load_labelled, score, TURN_PREFIX
from pipeline.text.redact import find_pii
from pipeline.text.turns import parse_transcript

def writer(part):
    m = re.search(r"(\d+)$", part)
    return int(m.group(1)) if m else 1
items = [i for i in load_labelled(nt.LABELLED) if i.part in nt.TRAIN_PARTS]
writers = sorted({writer(i.part) for i in items})
fold_of = {w: k % 5 for k, w in enumerate(writers)}
with tempfile.TemporaryDirectory() as tmp:
    rules, seg, lexicon, detect_full = nt.labelled_context(Path(tmp), str(ROOT / '.cache' / 'jieba.cache'))
    lines = nt.training_lines(items, detect_full)
    cuts = {}
    for it in items:
        full = TURN_PREFIX + it.text + "\n"
        cuts[it.id] = (full, seg.cut(full))
    for setting in sys.argv[1:]:
        c1, c2 = map(float, setting.split(','))
        tot = {}
        for f in range(5):
            train = [l for k, l in enumerate(lines) if fold_of[writer(items[k // 2].part)] != f]   # two lines a turn
            test = [it for it in items if fold_of[writer(it.part)] == f]
            path = Path(tmp) / f"m{f}.crfsuite"
            nt.train(train, path, {"c1": c1, "c2": c2})
            tagger = pycrfsuite.Tagger(); tagger.open(str(path))
            def detect(text, it_id=None):
                full = TURN_PREFIX + text + "\n"
                spans = find_pii(full, parse_transcript(full, rules), rules, seg.cut(full), lexicon, tagger=tagger)
                n = len(TURN_PREFIX)
                return [(sp.start - n, sp.end - n, sp.type) for sp in spans if sp.start >= n]
            table, _ = score(test, detect)
            t = table.set_index('category')
            for cat in ('names', 'ordinary words (decoys)'):
                r = t.loc[cat]
                a = tot.setdefault(cat, [0, 0, 0, 0])
                a[0] += int(r.found); a[1] += int(r.gold)
                if cat == 'names':
                    a[2] += int(r.correct); a[3] += int(r.redacted)
            tagger.close()
        n = tot['names']; d = tot['ordinary words (decoys)']
        print(f"c1={c1} c2={c2}: names {n[0]}/{n[1]} = {n[0]/n[1]:.4f} precision {n[2]}/{n[3]} = {n[2]/n[3]:.4f}; decoys kept {d[0]}/{d[1]} = {d[0]/d[1]:.4f}", flush=True)

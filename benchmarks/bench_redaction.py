"""Redaction per interview (``find_pii`` and the placeholders, step 3-4 of the transcripts stage)
on a sample of the benchmark study's transcripts, timed, with a digest of every span and
placeholder so that a faster version can be checked for identical output.

    .venv/bin/python benchmarks/bench_redaction.py [--every 20] [--before DIR] [--rounds 2] [--profile] [--stage 5]

1. The benchmark study's transcripts (``benchmarks/benchmark_study.yaml``: 10,000 interviews) are
   generated once with the simulator into ``benchmarks/work/redaction/raw/`` (kept for reruns;
   not timed), and every ``--every``-th file is decoded and cut by the stage's segmenter (not
   timed either: tokens are the input of the redaction).
2. Each round runs, in a child process per code version, ``find_pii`` + ``placeholders`` over
   the sample (parse of the turns included, the cyclic garbage collector on as in the stage) and
   prints the seconds and the SHA-256 of all spans and placeholders. ``--before DIR``: a copy of
   another version's ``pipeline/`` package (``git archive main pipeline | tar -x -C DIR``) timed
   in the same rounds, alternating with this checkout's.
3. ``--profile``: a cProfile of this checkout's run (the top functions by own time).
4. ``--stage N``: the whole transcripts stage (``python -m pipeline transcripts``, no token
   cache, the study's ``n_jobs``) on every N-th transcript, once per code version, wall time and
   whether every output file is byte-identical across versions.

Prints Markdown.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, benchmark_params, machine

WORK = ROOT / "benchmarks" / "work" / "redaction"
ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}


def generate() -> Path:
    """The benchmark study's transcript files (generated once)."""
    import numpy as np
    import yaml

    raw = WORK / "raw" / "transcripts"
    if raw.is_dir() and any(raw.iterdir()):
        return raw
    sys.path.insert(0, str(ROOT))
    from pipeline.demo.simulate import STREAM_TRANSCRIPTS, simulate_communities
    from pipeline.demo.simulate_transcripts import simulate_transcripts, write_corpus
    from pipeline.demo.transcript_bank import load_bank

    params = yaml.safe_load(benchmark_params(WORK).read_text(encoding="utf-8"))
    cfg = params["simulate"]
    comm = simulate_communities(cfg, np.random.default_rng([int(params["seed"]), 1]))
    corpus = simulate_transcripts(comm, cfg["transcripts"], np.random.default_rng([int(params["seed"]), STREAM_TRANSCRIPTS]),
                                  load_bank(ROOT / cfg["transcripts"]["bank"]))
    write_corpus(corpus, raw, WORK / "raw" / "truth")
    return raw


def sample(every: int) -> Path:
    """Every ``every``-th transcript decoded and segmented: (name, text, tokens), pickled."""
    path = WORK / f"sample_{every}.pkl"
    if path.exists():
        return path
    raw = generate()
    sys.path.insert(0, str(ROOT))
    from pipeline.text.decode import decode_transcript
    from pipeline.text.segment import Segmenter, resolve_engine, resolve_userdict, segmenter_spec

    tcfg = _settings()
    words = resolve_userdict(tcfg["userdict"], tcfg["jieba_cache"])
    seg = Segmenter(segmenter_spec(resolve_engine(tcfg.get("engine", "auto")), words, tcfg["jieba_cache"]))
    items = []
    for f in sorted(raw.iterdir())[::every]:
        text = decode_transcript(f.name, f.read_bytes()).text
        items.append((f.name, text, seg.cut(text)))
    path.write_bytes(pickle.dumps(items))
    return path


def _settings() -> dict:
    import yaml

    tcfg = yaml.safe_load((ROOT / "studies/demo/params.yaml").read_text(encoding="utf-8"))["transcripts"]
    for key in ("config", "userdict", "stopwords", "jieba_cache"):
        tcfg[key] = str(ROOT / tcfg[key])
    return tcfg


def stage(every: int, versions: dict[str, Path]) -> None:
    """The transcripts stage on every ``every``-th transcript with each code version (see the module docstring)."""
    import numpy as np
    import yaml

    from common import measured

    raw = generate()
    sub = WORK / f"stage_{every}" / "transcripts"
    if not sub.is_dir():
        sub.mkdir(parents=True)
        for f in sorted(raw.iterdir())[::every]:
            (sub / f.name).write_bytes(f.read_bytes())
    params_path = benchmark_params(WORK / "stage")
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    params["transcripts"].update(_settings() | {"cache_dir": None})
    params_path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    comm = WORK / "raw" / "communities.csv"
    if not comm.exists():
        sys.path.insert(0, str(ROOT))
        from pipeline.demo.simulate import simulate_communities
        simulate_communities(params["simulate"], np.random.default_rng([int(params["seed"]), 1])).to_csv(comm, index=False)
    outs = {}
    print(f"Transcripts stage on every {every}th transcript ({len(list(sub.iterdir())):,} files), no token cache:\n")
    print("| code | wall time (s) | peak memory (MB) |\n|---|---|---|")
    for label, root in versions.items():
        outs[label] = WORK / f"stage_{every}" / label.replace(" ", "_")
        cmd = [sys.executable, "-m", "pipeline", "transcripts", "--params", str(params_path), "--transcripts", str(sub),
               "--communities", str(comm), "--out", str(outs[label] / "out"), "--metrics", str(outs[label] / "metrics.json")]
        r = measured(cmd, cwd=root)                        # run from ``root``: its pipeline/ comes first
        print(f"| {label} | {r['seconds']} | {r['peak_mb']} |")
    first, *rest = outs.values()
    same = all((first / "out" / f.name).read_bytes() == (o / "out" / f.name).read_bytes()
               for o in rest for f in (first / "out").iterdir())
    print(f"\nEvery output file byte-identical across versions: {same}.")


def child(pkg_root: str, sample_path: str, profile: bool) -> None:
    """One timed pass over the sample with the ``pipeline`` package under ``pkg_root``."""
    sys.path.insert(0, pkg_root)
    from pipeline.text.redact import find_pii, placeholders
    from pipeline.text.rules import load_rules
    from pipeline.text.segment import load_lexicon, resolve_userdict
    from pipeline.text.turns import parse_transcript

    assert Path(sys.modules["pipeline"].__file__).resolve().is_relative_to(Path(pkg_root).resolve())
    tcfg = _settings()
    rules = load_rules(tcfg["config"], tcfg["stopwords"])
    lexicon = load_lexicon(rules, resolve_userdict(tcfg["userdict"], tcfg["jieba_cache"]))
    items = pickle.loads(Path(sample_path).read_bytes())
    digest = hashlib.sha256()

    def run() -> int:
        n = 0
        for name, text, tokens in items:
            spans = find_pii(text, parse_transcript(text, rules), rules, tokens, lexicon)
            marks = placeholders(text, spans, rules)
            digest.update(repr((name, [tuple(sp.__dict__.values()) for sp in spans], marks)).encode("utf-8"))
            n += len(spans)
        return n

    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    start = time.perf_counter()
    n = run()
    print(json.dumps({"seconds": time.perf_counter() - start, "spans": n, "sha256": digest.hexdigest()}))


def timed(pkg_root: Path, sample_path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(pkg_root), str(sample_path)], cwd=ROOT,
                         env={**ENV, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=20, help="every n-th transcript of the 10,000")
    ap.add_argument("--before", help="a directory holding another version's pipeline/ package")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--stage", type=int, default=0, help="run the transcripts stage on every n-th transcript instead")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.profile)
        return
    versions = {"this checkout": ROOT}
    if args.before:
        versions = {"before": Path(args.before), **versions}
    if args.stage:
        stage(args.stage, versions)
        return
    path = sample(args.every)
    items = pickle.loads(path.read_bytes())
    if args.profile:
        child(str(ROOT), str(path), True)
        return
    runs: dict[str, list[dict]] = {k: [] for k in versions}
    for _ in range(args.rounds):
        for label, root in versions.items():
            runs[label].append(timed(root, path))
    chars = sum(len(t) for _, t, _ in items)
    print(f"Machine: {machine()}\n")
    print(f"Sample: every {args.every}th transcript of the benchmark study, {len(items):,} interviews, "
          f"{chars / 1e6:.2f} million characters; {args.rounds} rounds, alternating.\n")
    print("| code | seconds (best of rounds) | ms per interview | spans | sha256 of spans + placeholders |\n|---|---|---|---|---|")
    for label, rs in runs.items():
        best = min(r["seconds"] for r in rs)
        print(f"| {label} | {best:.2f} | {1000 * best / len(items):.1f} | {rs[0]['spans']:,} | {rs[0]['sha256'][:16]} |")
    if args.before:
        b, a = (min(r["seconds"] for r in runs[k]) for k in versions)
        same = {r["sha256"] for rs in runs.values() for r in rs}
        print(f"\nAfter / before: {a / b:.2f} ({b / a:.1f}x faster); identical output: {len(same) == 1}.")


if __name__ == "__main__":
    main()

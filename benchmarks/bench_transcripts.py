"""The transcripts stage on the 10,000-transcript benchmark corpus, and its segmentation
throughput against a plain single-process ``jieba.lcut`` loop.

    .venv/bin/python benchmarks/bench_transcripts.py

1. The benchmark study (``benchmarks/benchmark_study.yaml``: 10,000 interviews over 2,000
   communities) is generated with the simulator's transcript part only into
   ``benchmarks/work/transcripts/raw/`` (not timed).
2. ``python -m pipeline transcripts`` runs on it in a child process twice: with an empty token
   cache, then again with the cache of the first run. Wall time and peak memory: the kernel's
   rusage of the child (``common.measured``, the largest single process) and the peak of the
   summed resident memory of the child and its worker processes (sampled every 0.1 s).
3. Segmentation throughput on the same texts (every unit of the run, redacted) with the same
   user dictionary: a plain ``jieba.lcut`` loop in one process, the stage's segmenter in one
   process (one call per interview, as the stage cuts), and the stage's segmenter over
   ``n_jobs`` worker processes (one segmenter per process, tokens sent back joined); whether the Chinese tokens are identical (tokens inside a
   placeholder left out: ``[姓名1]`` is one token for the stage, four for plain jieba). Python's
   cyclic garbage collector is off in every timed segmentation loop (it would charge the loops
   that keep half a million token lists for the collector's passes, not for segmenting).

Prints Markdown; copy it into benchmarks/RESULTS.md. Targets: at least 10x the plain loop with
identical Chinese tokens; the 10,000 transcripts in under 10 minutes and 4 GB.
"""
from __future__ import annotations

import gc
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from common import ROOT, benchmark_params, machine, measured

sys.path.insert(0, str(ROOT))

from pipeline.demo.simulate import STREAM_TRANSCRIPTS, simulate_communities  # noqa: E402
from pipeline.demo.simulate_transcripts import simulate_transcripts, write_corpus  # noqa: E402
from pipeline.demo.transcript_bank import load_bank  # noqa: E402
from pipeline.stages import transcripts as T  # noqa: E402
from pipeline.text.rules import Rules, load_rules  # noqa: E402
from pipeline.text.segment import (Segmenter, SegmenterSpec, _import_jieba, resolve_engine,  # noqa: E402
                                   resolve_userdict, segmenter_spec)

HAN = re.compile(r"[\u4e00-\u9fd5]")
WORK = ROOT / "benchmarks" / "work" / "transcripts"


def tree_peak(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``; wall time, rusage peak of the child, and the peak summed RSS of its process tree."""
    import psutil

    peak = 0.0
    done = threading.Event()
    result: dict[str, float] = {}

    def sample(pid: int) -> None:
        nonlocal peak
        while not done.is_set():
            try:
                root = psutil.Process(pid)
                total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                peak = max(peak, total)
            except psutil.Error:
                pass
            time.sleep(0.1)

    def run() -> None:
        result.update(measured(cmd))

    runner = threading.Thread(target=run)
    runner.start()
    pid = None
    for _ in range(200):                                   # find the child common.measured started
        kids = psutil.Process().children()
        if kids:
            pid = kids[0].pid
            break
        time.sleep(0.01)
    sampler = threading.Thread(target=sample, args=(pid,)) if pid else None
    if sampler:
        sampler.start()
    runner.join()
    done.set()
    if sampler:
        sampler.join()
    return {**result, "tree_peak_mb": round(peak / 2**20, 1)}


_SEGMENTERS: dict[str, Segmenter] = {}


def _segment_batch(spec: SegmenterSpec, groups: list[list[str]], pattern: str) -> list[str]:
    """A worker's share, as the stage does it: one segmenter per process, one call per
    interview, tokens returned joined."""
    seg = _SEGMENTERS.get(spec.key) or _SEGMENTERS.setdefault(spec.key, Segmenter(spec))
    rx = re.compile(pattern)
    gc.disable()
    try:
        return ["\x1f".join(tokens) for group in groups for tokens in seg.segment_many(group, rx)]
    finally:
        gc.enable()


def chinese_tokens(text: str, tokens: list[str], placeholder_re: re.Pattern) -> list[str]:
    """The tokens with a Chinese character, leaving out those inside a placeholder ([姓名1] is
    one token for the stage, four for plain jieba)."""
    inside = set()
    for m in placeholder_re.finditer(text):
        inside.update(range(m.start(), m.end()))
    out, pos = [], 0
    for t in tokens:
        if HAN.search(t) and pos not in inside:
            out.append(t)
        pos += len(t)
    return out


def units_throughput(units_path: Path, tcfg: dict) -> tuple[dict, SegmenterSpec, int]:
    """:func:`throughput` on the redacted units of a transcripts-stage output, with the stage's
    own settings (``params.yaml: transcripts``); returns the numbers, the segmenter spec and the
    number of interviews."""
    rules = load_rules(tcfg["config"], tcfg["stopwords"])
    words = resolve_userdict(tcfg["userdict"], tcfg["jieba_cache"])
    spec = segmenter_spec(resolve_engine(tcfg.get("engine", "auto")), words, tcfg["jieba_cache"])
    units = pd.read_parquet(units_path, columns=["interview_id", "text"])
    groups = [list(g) for _, g in units.groupby("interview_id", sort=True)["text"]]
    del units
    return throughput(groups, Path(tcfg["userdict"]), spec, rules, int(tcfg.get("n_jobs", 2))), spec, len(groups)


def throughput(groups: list[list[str]], userdict: Path, spec: SegmenterSpec, rules: Rules, n_jobs: int) -> dict:
    """``groups``: the unit texts of each interview. The stage's segmenter over ``n_jobs``
    processes first (while this process holds little), then in one process, then plain jieba."""
    from joblib import Parallel, delayed

    texts = [t for g in groups for t in g]
    chars = sum(len(t) for t in texts)
    size = -(-len(groups) // (n_jobs * 8))
    batches = [groups[i:i + size] for i in range(0, len(groups), size)]
    pattern = rules.placeholder_re.pattern
    with Parallel(n_jobs=n_jobs) as parallel:
        parallel(delayed(_segment_batch)(spec, [["预热"]], pattern) for _ in range(n_jobs * 2))   # start the workers
        gc.disable()
        start = time.perf_counter()
        joined = [tok for part in parallel(delayed(_segment_batch)(spec, b, pattern) for b in batches) for tok in part]
        t_par = time.perf_counter() - start
        gc.enable()

    seg = Segmenter(spec)
    gc.disable()
    start = time.perf_counter()
    one = [tokens for g in groups for tokens in seg.segment_many(g, rules.placeholder_re)]
    t_one = time.perf_counter() - start
    gc.enable()
    same_one = all("\x1f".join(a) == b for a, b in zip(one, joined))
    del joined

    jieba = _import_jieba()
    plain_tk = jieba.Tokenizer()
    plain_tk.cache_file = spec.jieba_cache
    plain_tk.initialize()
    plain_tk.load_userdict(str(userdict))
    plain_tk.lcut("预热")
    gc.disable()
    start = time.perf_counter()
    plain = [plain_tk.lcut(t) for t in texts]
    t_plain = time.perf_counter() - start
    gc.enable()

    rx = rules.placeholder_re
    differ = sum(chinese_tokens(t, a, rx) != chinese_tokens(t, b, rx) for t, a, b in zip(texts, plain, one))
    return {"texts": len(texts), "chars": chars, "plain_s": t_plain, "one_s": t_one, "par_s": t_par,
            "differ": differ, "same_one": same_one}


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    params_path = benchmark_params(WORK)
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    params["transcripts"]["cache_dir"] = str(WORK / "cache")
    params["transcripts"]["jieba_cache"] = str(ROOT / params["transcripts"]["jieba_cache"])
    for key in ("config", "userdict", "stopwords"):
        params["transcripts"][key] = str(ROOT / params["transcripts"][key])
    params_path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    cfg = params["simulate"]

    start = time.perf_counter()
    comm = simulate_communities(cfg, np.random.default_rng([int(params["seed"]), 1]))
    corpus = simulate_transcripts(comm, cfg["transcripts"], np.random.default_rng([int(params["seed"]), STREAM_TRANSCRIPTS]),
                                  load_bank(ROOT / cfg["transcripts"]["bank"]))
    raw = WORK / "raw"
    raw.mkdir(parents=True)
    comm.to_csv(raw / "communities.csv", index=False)
    write_corpus(corpus, raw / "transcripts", raw / "truth")
    generate = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in (raw / "transcripts").iterdir()) / 2**20
    n_files = len(corpus.files)
    del corpus

    runs = {}
    for label, out in (("cold", "out1"), ("warm", "out2")):
        cmd = [sys.executable, "-m", "pipeline", "transcripts", "--params", str(params_path),
               "--transcripts", str(raw / "transcripts"), "--communities", str(raw / "communities.csv"),
               "--out", str(WORK / out / "transcripts"), "--metrics", str(WORK / out / "metrics.json")]
        runs[label] = tree_peak(cmd)
    metrics = json.loads((WORK / "out1" / "metrics.json").read_text(encoding="utf-8"))
    same = all((WORK / "out1" / "transcripts" / n).read_bytes() == (WORK / "out2" / "transcripts" / n).read_bytes()
               for n in T.OUTPUTS.values())

    tcfg = params["transcripts"]
    tp, spec, _ = units_throughput(WORK / "out1" / "transcripts" / "units.parquet", tcfg)

    print(f"Machine: {machine()}\n")
    print(f"Input: {n_files:,} transcripts ({size_mb:.0f} MB; UTF-8, GBK, BOM and .docx as in the demo study) over "
          f"{len(comm):,} communities, generated in {generate:.0f} s (not timed); engine {spec.engine}, "
          f"n_jobs {tcfg.get('n_jobs', 2)}.\n")
    print(f"Output: {metrics['interviews']:,} interviews, {metrics['units']:,} units, {metrics['tokens']:,} content tokens, "
          f"{metrics['redactions']:,} redactions; the warm run's outputs are byte-identical to the cold run's: {same}.\n")
    print("| run | wall time (s) | peak memory, largest process (MB) | peak memory, all processes (MB) |\n|---|---|---|---|")
    for label, text in (("cold", "transcripts stage, empty token cache"), ("warm", "transcripts stage again, tokens from the cache")):
        r = runs[label]
        print(f"| {text} | {r['seconds']} | {r['peak_mb']} | {r['tree_peak_mb']} |")
    mchars = tp["chars"] / 1e6
    print(f"\nSegmentation of the same {tp['texts']:,} redacted units ({mchars:.1f} million characters), same user dictionary:\n")
    print("| segmenter | seconds | characters / s | vs plain jieba |\n|---|---|---|---|")
    for label, key in (("plain `jieba.lcut` loop, 1 process", "plain_s"), (f"stage segmenter ({spec.engine}), 1 process", "one_s"),
                       (f"stage segmenter ({spec.engine}), {tcfg.get('n_jobs', 2)} processes", "par_s")):
        print(f"| {label} | {tp[key]:.1f} | {tp['chars'] / tp[key]:,.0f} | {tp['plain_s'] / tp[key]:.1f}x |")
    print(f"\nUnits whose Chinese tokens differ from the plain loop's: {tp['differ']} of {tp['texts']:,}; "
          f"1 process and {tcfg.get('n_jobs', 2)} processes give the same tokens: {tp['same_one']}.")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The topics stage with its compiled kernels (the DMM's sampler, pipeline/text/gsdmm.py; LDA's
E-step, pipeline/text/ldavb.py; NMF's updates, pipeline/text/nmfkl.py) against the code they
replaced (the numpy sampler, tests/dmm_reference.py; scikit-learn's LatentDirichletAllocation
and NMF), side by side in one run.

    .venv/bin/python benchmarks/bench_topics.py          (after `dvc repro`: reads processed/transcripts)

Two corpora:

(a) ``demo``: the demo study's documents (``processed/transcripts`` of ``dvc repro``) with
    studies/demo/params.yaml's topics section (DMM only, K 6-14, 3 seeds, 30 split-merge
    rounds, 3 final chains);
(b) ``texts``: the 500 sentences of tests/fixtures/corpus/ud_gsdsimp, segmented by the
    transcripts stage into ``benchmarks/work/topics/texts`` (not timed), with the default grid
    (the ``topics`` defaults of the commit run: since 3055e91 the DMM only, K 5-14, 8 seeds; min_doc_tokens 2, min_df 3 and
    max_df 0.2 as in tests/test_texts_only.py);
(c) ``texts3``: the same documents with all three mixture models, ``models: [dmm, lda, nmf]``,
    K 5-14, 3 seeds: the grid of issue 18's first measurement (153 s wall, LDA most of it);
(d) ``reviews``: the 500 product and hotel reviews of tests/fixtures/corpus/online_shopping (20-300
    characters, one document a review; the kind of corpus issue 18 measured, ~500 short texts),
    with the generic defaults of ``topics`` and the DMM (K 5-14, 8 seeds);
(e) ``reviews3``: the same documents with all three mixture models, K 5-14, 3 seeds (issue 18's grid).

"Before" is the numpy sampler and scikit-learn's LDA and NMF; "after" the compiled kernels.
Each (corpus, sampler) runs in a fresh child process, as the stage does (imports, numba's cache,
the stage as its pure function :func:`pipeline.stages.topics.run_topics`, its tables written):
wall time and CPU time (user + system, the kernel's rusage of the child) and their ratio
old / new. ``n_jobs`` is 1 in both (the numpy sampler is put in place of
``pipeline.text.topicmodel.fit_dmm`` in the child only, not in worker processes; the K grid
parallelises the same way either way). The compiled sampler also runs once with an empty numba
cache (compilation included). The tables each run writes are compared byte for byte. The new
runs time the stage's parts (documents, prevalence check, grid fits by model, grid metrics,
final fit, prevalence, the rest). Last, ``fit_dmm`` alone, old against new, on corpus (b) for a
few (K, seed): the same assignments z.

Prints Markdown; copy it into benchmarks/RESULTS.md. Target: at least 10x for the whole stage.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from common import ROOT, machine

WORK = ROOT / "benchmarks" / "work" / "topics"
CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "ud_gsdsimp" / "texts.txt"
REVIEWS = ROOT / "tests" / "fixtures" / "corpus" / "online_shopping" / "texts.csv"
TEXTS_TOPICS = {"min_doc_tokens": 2, "vocabulary": {"min_df": 3, "max_df": 0.2}, "n_jobs": 1}
REVIEWS_TOPICS = {"models": ["dmm"], "n_jobs": 1}                   # the generic defaults, the DMM
FOLDER = {"texts": "texts", "texts3": "texts", "reviews": "reviews", "reviews3": "reviews"}
ALL_MODELS = {"models": ["dmm", "lda", "nmf"], "seeds": 3}        # corpus (c)


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def texts_study(name: str = "texts") -> Path:
    """A study folder of the 500 sentences or the 500 reviews (one document a line) after the
    transcripts stage."""
    work = WORK / name
    if (work / "processed" / "transcripts" / "units.parquet").exists():
        return work
    shutil.rmtree(work, ignore_errors=True)
    (work / "raw" / "transcripts").mkdir(parents=True)
    if name == "texts":
        shutil.copyfile(CORPUS, work / "raw" / "transcripts" / "gsd.txt")
    else:
        import pandas as pd

        reviews = pd.read_csv(REVIEWS, dtype=str)["text"].str.replace(r"\s+", " ", regex=True).str.strip()
        (work / "raw" / "transcripts" / "reviews.txt").write_text("\n".join(reviews) + "\n", encoding="utf-8")
    cfg = work / "config"
    cfg.mkdir()
    for name in ("surnames.txt", "given_names.txt", "stopwords.txt"):
        shutil.copyfile(ROOT / "config" / name, cfg / name)
    template = yaml.safe_load((ROOT / "pipeline" / "text" / "templates" / "transcripts.yaml").read_text(encoding="utf-8"))
    (cfg / "transcripts.yaml").write_text(yaml.safe_dump({"format": {"kind": "documents", "texts": "line"},
                                                          "redaction": template["redaction"]}, allow_unicode=True),
                                          encoding="utf-8")
    (cfg / "userdict.txt").write_text("", encoding="utf-8")
    params = {"seed": 20250101, "transcripts": {"config": "config/transcripts.yaml", "userdict": "config/userdict.txt",
                                                 "stopwords": "config/stopwords.txt", "n_jobs": 1},
              "topics": TEXTS_TOPICS if name == "texts" else REVIEWS_TOPICS}
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pipeline", "transcripts", "--params", "params.yaml"], cwd=work, env=child_env(),
                   check=True, capture_output=True)
    return work


def inputs(corpus: str):
    """The stage's arguments for ``corpus``: units, communities, settings, seed, questions, community."""
    import dataclasses

    import pandas as pd

    from pipeline.core import config
    from pipeline.core.instrument import text_community
    from pipeline.stages import topics as TP
    from pipeline.text.topicmodel import parse_settings

    folder = ROOT if corpus == "demo" else WORK / FOLDER[corpus]
    pfile = ROOT / "studies" / "demo" / "params.yaml" if corpus == "demo" else folder / "params.yaml"
    params = config.load_params(pfile)
    section = config.section(params, "topics")
    settings = dataclasses.replace(parse_settings({**section, **(ALL_MODELS if corpus.endswith("3") else {})}), n_jobs=1)
    units = pd.read_parquet(folder / "processed" / "transcripts" / "units.parquet")
    questions = pd.read_parquet(folder / "processed" / "transcripts" / "questions.parquet")
    community = text_community(params.get("instrument"), units.columns)
    communities = None
    if corpus == "demo":
        communities = TP.read_communities(ROOT / "raw" / "communities.csv", TP.prevalence_covariates(settings, community),
                                          community)
    return units, communities, settings, int(params["seed"]), questions, community


# --------------------------------------------------------------------------------------------
# one run, in a child process
# --------------------------------------------------------------------------------------------
def timed(parts: dict, name: str, func):
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            parts[name] = parts.get(name, 0.0) + time.process_time() - start
    return wrapper


def sklearn_lda(X, k, random_state, max_iter, doc_topic_prior=None, topic_word_prior=None, X_test=None):
    """What fit_topics("lda") called before pipeline/text/ldavb.py: scikit-learn's estimator."""
    from sklearn.decomposition import LatentDirichletAllocation

    from pipeline.text.ldavb import LDAFit

    lda = LatentDirichletAllocation(n_components=k, learning_method="batch", max_iter=max_iter,
                                    random_state=random_state, doc_topic_prior=doc_topic_prior,
                                    topic_word_prior=topic_word_prior)
    theta = lda.fit_transform(X)
    perp = float(lda.perplexity(X_test)) if X_test is not None and X_test.shape[0] else float("nan")
    return LDAFit(lda.components_, theta, perp)


def sklearn_nmf(X, k, init, random_state, max_iter, tol):
    """What fit_topics("nmf") called before pipeline/text/nmfkl.py: scikit-learn's estimator."""
    import warnings

    from sklearn.decomposition import NMF

    nmf = NMF(n_components=k, init=init, random_state=random_state, max_iter=max_iter, tol=tol,
              beta_loss="kullback-leibler", solver="mu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = nmf.fit_transform(X)
    return W, nmf.components_, nmf.n_iter_


def child(corpus: str, sampler: str, out: Path) -> None:
    """Run the stage on ``corpus`` with ``sampler`` (numpy | numba), write its tables to ``out``
    and print the CPU seconds of its parts as JSON."""
    from pipeline.stages import topics as TP
    from pipeline.text import topicmetrics as TX
    from pipeline.text import topicmodel as TM

    parts: dict[str, float] = {}
    if sampler == "numpy":
        sys.path.insert(0, str(ROOT / "tests"))
        import dmm_reference

        TM.fit_dmm = dmm_reference.fit_dmm
        from pipeline.text import ldavb, nmfkl

        ldavb.fit_lda = sklearn_lda
        nmfkl.fit_nmf_kl = sklearn_nmf
    fit_topics = TM.fit_topics

    def fit_by_model(X, model, *args, **kwargs):
        return timed(parts, f"grid fits: {model}", fit_topics)(X, model, *args, **kwargs)

    TX.fit_topics = fit_by_model
    for name, label in (("check_prevalence", "prevalence check"), ("evaluate_grid", "grid (fits and metrics)"),
                        ("fit_final", "final fit"), ("topic_prevalence", "prevalence regressions (with the check's)"), ("build_documents", "documents"),
                        ("vectorize", "vectorize")):
        setattr(TP, name, timed(parts, label, getattr(TP, name)))
    args = inputs(corpus)
    start = time.process_time()
    tables, metrics = TP.run_topics(*args[:4], None, *args[4:])
    parts["stage (run_topics)"] = time.process_time() - start
    TP.write_outputs(out, tables)
    (out / "metrics.json").write_text(json.dumps(metrics, sort_keys=True), encoding="utf-8")
    print(json.dumps(parts))


def child_env(**extra: str) -> dict[str, str]:
    """The environment ``python -m pipeline`` gives a stage (one thread, the same CPU kernels, the
    machine's kernel cache), and the project on the path."""
    from pipeline.__main__ import CPU_KERNELS

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(ROOT), **CPU_KERNELS}
    return {**env, **extra}


def run(corpus: str, sampler: str, label: str, **env: str) -> dict:
    out = WORK / f"{corpus}-{label}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", corpus, sampler, str(out)], cwd=ROOT,
                            env=child_env(**env), stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark child failed: {corpus} {sampler}")
    files = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "parts": json.loads(stdout.splitlines()[-1]),
            "files": files}


# --------------------------------------------------------------------------------------------
# fit_dmm alone: the same z
# --------------------------------------------------------------------------------------------
def same_assignments(grid: list[tuple[int, int, int]]) -> list[str]:
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    import dmm_reference

    from pipeline.text.documents import build_documents, resolve_unit, vectorize
    from pipeline.text.topicmodel import fit_dmm

    units, _, s, _, questions, community = inputs("texts")
    docs = build_documents(units, resolve_unit(s.unit, questions), s.window, questions, community)
    X = vectorize(docs, s.vocabulary, s.min_doc_tokens).counts
    rows = []
    for k, seed, split_merge in grid:
        t0 = time.process_time()
        old = dmm_reference.fit_dmm(X, k, seed, s.dmm_alpha, s.dmm_beta, s.dmm_n_iter, split_merge)
        t1 = time.process_time()
        new = fit_dmm(X, k, seed, s.dmm_alpha, s.dmm_beta, s.dmm_n_iter, split_merge)
        t2 = time.process_time()
        same = np.array_equal(old[2], new[2]) and all(np.array_equal(a, b) for a, b in zip(old[:2], new[:2]))
        rows.append(f"| {k} | {seed} | {split_merge} | {X.shape[0]} x {X.shape[1]} | {t1 - t0:.2f} | {t2 - t1:.3f} | "
                    f"{'yes' if same else 'NO: %d of %d differ' % ((old[2] != new[2]).sum(), len(new[2]))} |")
    return rows


CORPORA = ("demo", "texts", "texts3", "reviews", "reviews3")
ISSUE_COMMIT = "7d8d96a"      # main when issue 18 was filed (its "today"; the issue's own work starts after it)


# --------------------------------------------------------------------------------------------
# the stage of the issue's commit against this one, as `python -m pipeline topics` runs it
# --------------------------------------------------------------------------------------------
def against_issue_commit() -> list[str]:
    """``python -m pipeline topics`` on the 500 reviews, the code of :data:`ISSUE_COMMIT` (a git
    worktree of it, on the path) against this commit's, each in a fresh process, ``n_jobs`` 1:
    with each commit's default ``topics`` settings, and with issue 18's grid (DMM, LDA and NMF,
    K 5-14, 3 seeds) for both. Their results differ (issue 18's own changes: the vocabulary's
    token rules and ``min_df``, the selection rule); what the kernels alone changed is the
    side-by-side runs above, whose tables are identical."""
    old = WORK / "issue-commit"
    if not (old / "pipeline").exists():
        shutil.rmtree(old, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["git", "worktree", "add", "--force", "--detach", str(old), ISSUE_COMMIT], cwd=ROOT, check=True,
                       capture_output=True)
    study = WORK / "reviews"
    grids = {"each commit's defaults": {}, "DMM, LDA, NMF x K 5-14 x 3 seeds": {"models": ["dmm", "lda", "nmf"], "seeds": 3}}
    rows = []
    for name, topics in grids.items():
        times = {}
        for label, code in (("issue", old), ("now", ROOT)):
            run_dir = WORK / f"cli-{label}"
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            (run_dir / "params.yaml").write_text(yaml.safe_dump({"seed": 20250101, "topics": {**topics, "n_jobs": 1}}),
                                                 encoding="utf-8")
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "pipeline", "topics", "--params", str(run_dir / "params.yaml"),
                                     "--units", "processed/transcripts/units.parquet", "--questions", "", "--communities", "",
                                     "--out", str(run_dir / "out"), "--metrics", str(run_dir / "topics.json")],
                                    cwd=study, env=child_env(PYTHONPATH=str(code)), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
            stderr = proc.stderr.read()
            _, status, usage = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"the topics stage of {label} failed: {stderr.strip().splitlines()[-1:]}")
            metrics = json.loads((run_dir / "topics.json").read_text(encoding="utf-8"))
            times[label] = (time.perf_counter() - start, usage.ru_utime + usage.ru_stime, metrics)
        (w0, c0, m0), (w1, c1, m1) = times["issue"], times["now"]
        rows.append(f"| {name} | {w0:.1f} / {c0:.1f} | {w1:.1f} / {c1:.1f} | **{w0 / w1:.1f}x** / **{c0 / c1:.1f}x** | "
                    f"{m0['model'].upper()} K {m0['k']}, {m0['n_fits']} fits, {m0['vocabulary_size']} words | "
                    f"{m1['model'].upper()} K {m1['k']}, {m1['n_fits']} fits, {m1['vocabulary_size']} words |")
    return rows


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(corpora: tuple[str, ...] = CORPORA) -> None:
    sys.path.insert(0, str(ROOT))
    if not (ROOT / "processed" / "transcripts" / "units.parquet").exists():
        raise SystemExit("run `dvc repro` first: the demo corpus is processed/transcripts")
    texts_study()
    texts_study("reviews")
    subprocess.run([sys.executable, "-c", "import numpy as np; from scipy import sparse; "       # the numba cache warm
                    "from pipeline.text.topicmodel import fit_dmm; "
                    "fit_dmm(sparse.csr_matrix(np.eye(8, dtype=np.int64) + np.eye(8, k=1, dtype=np.int64)), 3, 0, "
                    "n_iter=2, split_merge=2); "
                    "from pipeline.text.ldavb import compile_lda; compile_lda(); "
                    "from pipeline.text.nmfkl import compile_nmf; compile_nmf()"], cwd=ROOT, env=child_env(), check=True)
    results = {}
    for corpus in corpora:
        results[corpus, "new"] = run(corpus, "numba", "new")           # warm cache (compiled by earlier runs)
        results[corpus, "old"] = run(corpus, "numpy", "old")
    cold = WORK / "numba-cold"
    shutil.rmtree(cold, ignore_errors=True)
    if "demo" in corpora:
        results["demo", "cold"] = run("demo", "numba", "cold", PIPELINE_MACHINE_CACHE=str(cold))
    print(f"Machine: {machine()}; `nproc` {os.cpu_count()}, load average at the end "
          f"{' '.join('%.1f' % x for x in os.getloadavg())}. Commit {commit()}.\n")
    print("| corpus | sampler | wall (s) | CPU (s) | stage's tables |\n|---|---|---|---|---|")
    names = {"demo": "(a) demo study, DMM K 6-14 x 3 seeds, split-merge", "texts": "(b) ud_gsdsimp 500 sentences, the default grid (DMM, K 5-14, 8 seeds)",
             "texts3": "(c) ud_gsdsimp 500 sentences, DMM, LDA, NMF x K 5-14 x 3 seeds",
             "reviews": "(d) online_shopping 500 reviews, the default grid (DMM, K 5-14, 8 seeds)",
             "reviews3": "(e) online_shopping 500 reviews, DMM, LDA, NMF x K 5-14 x 3 seeds"}
    for corpus in corpora:
        old, new = results[corpus, "old"], results[corpus, "new"]
        same = "identical" if old["files"] == new["files"] else "DIFFERENT: " + ", ".join(
            f for f in old["files"] if old["files"][f] != new["files"].get(f))
        print(f"| {names[corpus]} | numpy, scikit-learn (before) | {old['wall']:.1f} | {old['cpu']:.1f} | |")
        print(f"| | compiled (after, warm cache) | {new['wall']:.1f} | {new['cpu']:.1f} | {same} |")
        print(f"| | ratio before / after | {old['wall'] / new['wall']:.1f}x | {old['cpu'] / new['cpu']:.1f}x | |")
    if "demo" in corpora:
        c = results["demo", "cold"]
        same = "identical" if c["files"] == results["demo", "new"]["files"] else "DIFFERENT"
        print(f"| (a) with an empty numba cache | numba (after, cold) | {c['wall']:.1f} | {c['cpu']:.1f} | {same} to the "
              "warm run |")
    print("\nCPU seconds of the stage's parts (in the child; grid fits by model, within the grid):\n")
    keys = list(dict.fromkeys(k for r in results.values() for k in r["parts"]))
    print("| part | " + " | ".join(f"{c} {s}" for c, s in results if s != "cold") + " |")
    print("|---|" + "---|" * sum(s != "cold" for _, s in results))
    for key in keys:
        cells = [results[c, s]["parts"].get(key) for c, s in results if s != "cold"]
        print(f"| {key} | " + " | ".join("" if v is None else f"{v:.2f}" for v in cells) + " |")
    print("\n`fit_dmm` alone on (b) (jieba words, the default dmm settings), numpy against numba:\n")
    print("| K | random_state | split_merge | documents x words | numpy CPU (s) | numba CPU (s) | same z, phi, pi |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(same_assignments([(5, 1, 0), (7, 2, 0), (10, 3, 0), (14, 4, 0), (7, 5, 30), (12, 6, 30)])))
    print(f"\n`python -m pipeline topics` on the 500 reviews (d), the code of {ISSUE_COMMIT} (issue 18 filed) against "
          f"this commit's, n_jobs 1; wall / CPU seconds of the process:\n")
    print(f"| topics settings | {ISSUE_COMMIT} | now | ratio | {ISSUE_COMMIT} chose | now chose |\n|---|---|---|---|---|---|")
    print("\n".join(against_issue_commit()))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    elif len(sys.argv) > 2 and sys.argv[1] == "--only":       # --only CORPUS ...: some of CORPORA
        main(tuple(c for c in CORPORA if c in sys.argv[2:]))
    else:
        main()

"""The whole pipeline benchmark (issue 9): every stage's time and memory, the whole `dvc repro`,
a no-op `dvc repro`, a rerun after one model parameter changes, and two side-by-side ratios.

    .venv/bin/python benchmarks/run.py [--study default|benchmark|both] [--skip-ratios]
                                       [--worktree] [--change models.mediation.n_boot=999]
                                       [--work DIR] [--keep] [--no-write]

For each study it
1. makes a fresh working copy in ``--work`` (default ``benchmarks/work/full/<study>``, git-ignored):
   ``git clone`` of this repository, i.e. the COMMITTED HEAD (uncommitted changes are not
   measured) -- or, with ``--worktree``, that clone overlaid with the working tree's tracked and
   untracked-but-not-ignored files. The clone has no ``raw/``, ``processed/`` or DVC cache, so
   every stage runs. It reuses this project's ``.venv`` (``PATH=<root>/.venv/bin``); the
   runner checks that ``python`` started in the clone imports the clone's ``pipeline/`` (the
   current directory comes first on ``sys.path``, before the editable install). DVC analytics
   off, one BLAS thread, ``PYTHONHASHSEED=0``. For the benchmark study the values of
   ``benchmarks/benchmark_study.yaml`` (200,000 respondents in 2,000 communities, 10,000
   transcripts) are merged into the clone's ``params.yaml`` (round-trip YAML, so no other
   value changes type).
2. runs ``dvc repro`` (whole), ``dvc repro`` again (must run nothing), then changes one model
   parameter (``--change``, default ``models.mediation.n_boot=999``) and runs ``dvc repro``
   again: only the ``models`` and ``report`` stages (those of them in dvc.yaml) may run; any
   other stage running is reported as a failed check. The stages come from dvc.yaml and from
   the "Running stage" lines of the output, never from a list here. Each run's wall time,
   peak memory of its largest process (``os.wait4`` rusage) and peak of the summed memory
   of dvc and all its child processes (sampled every 0.2 s with psutil).
   Per stage: the wall time and peak memory every ``python -m pipeline <stage>`` records in
   ``.cache/timings/<stage>.json`` of the clone (from the stage's start after its imports;
   peak of the stage's process or its largest worker).
3. measures, in a child process importing the clone's code, on that study's outputs:
   segmentation of ``processed/transcripts/units.parquet`` by the stage's segmenter against a
   plain single-process ``jieba.lcut`` loop (``bench_transcripts.throughput``; target >= 10x)
   and the first mixed model of ``params.yaml: models.specs`` (``--mixed-model`` picks
   another) fitted by ``pipeline.stats.fit.fit_model`` against ``lme4::lmer`` in
   ``Rscript benchmarks/lme4_timing.R`` on the same complete cases written to a CSV, same
   REML setting, shortest of ``--repeats`` fits after one warm-up fit in each (target:
   within 2x; estimates must agree to ~1e-4). Skipped, with the reason, without Rscript/lme4.
   And formula to result on the HSB data (``bench_fits.measure``: a random intercept, OLS with
   CR1 errors, a logit with CR1 errors) against ``lme4::lmer``, ``lm``/``glm`` + ``sandwich``
   (target: at most 0.5x R's time; Python times only without R).
   For the default study, the recovery study in the clone (``--recovery``, default 500
   replications on 2 processes; target: under 4 minutes).
4. prints Markdown and writes it into ``benchmarks/RESULTS.md`` as one section per study
   (replacing that study's previous section from this script, keeping every other section).

Not part of the test suite. The default study takes about 2 minutes, the benchmark study
15-25 minutes on 2 cores. Exit code 1 when a run fails or a check/target is not met.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
STUDY_FILE = HERE / "benchmark_study.yaml"
R_SCRIPT = HERE / "lme4_timing.R"
RESULTS = HERE / "RESULTS.md"
RERUN_ALLOWED = ("models", "integrate", "report")   # the stages a model-parameter change may run (integrate
# reads the models' outputs: the joint display's contrasts)
TARGETS = {"default_repro_s": 30.0, "recovery_s": 240.0, "benchmark_repro_s": 10 * 60.0, "benchmark_peak_mb": 4096.0,
           "segmentation_x": 10.0, "mixed_ratio": 2.0, "agree": 1e-4}


# ---------------------------------------------------------------------------------------------
# pure helpers

def dvc_stages(dvc_yaml: str) -> list[str]:
    """The stage names of a dvc.yaml text, in file order."""
    import yaml

    return list((yaml.safe_load(dvc_yaml) or {}).get("stages") or {})


_RUNNING = re.compile(r"^Running stage '([^']+)'", re.M)
_RESTORED = re.compile(r"^Stage '([^']+)' is cached", re.M)


def ran_stages(log: str) -> dict[str, list[str]]:
    """Stages a `dvc repro` output says it ran, and those it restored from the run cache."""
    def name(stage: str) -> str:              # "studies/demo/dvc.yaml:models" -> "models"
        return stage.rsplit(":", 1)[-1]

    return {"ran": [name(s) for s in _RUNNING.findall(log)], "restored": [name(s) for s in _RESTORED.findall(log)]}


def rerun_check(ran: list[str], restored: list[str], stages: list[str]) -> tuple[bool, str]:
    """After one model parameter changed: exactly the models stage and, where present, the
    integrate and report stages must run (nothing restored from the run cache, nothing else run)."""
    expected = [s for s in stages if s in RERUN_ALLOWED]
    extra = [s for s in ran + restored if s not in expected]
    missing = [s for s in expected if s not in ran]
    if not extra and not missing:
        return True, f"ran exactly {', '.join(expected)}"
    parts = []
    if extra:
        parts.append(f"also ran {', '.join(extra)}")
    if missing:
        parts.append(f"did not run {', '.join(missing)}")
    return False, "; ".join(parts)


def parse_change(text: str) -> tuple[str, Any]:
    import yaml

    if "=" not in text:
        raise SystemExit(f"--change must be KEY=VALUE (dotted key into params.yaml), not {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def _rt_yaml():
    from ruamel.yaml import YAML

    y = YAML()              # round trip: keeps comments, quoting and number formats
    y.width = 4096
    y.preserve_quotes = True
    return y


def _merge_into(node: Any, override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(node.get(key), dict):
            _merge_into(node[key], value)
        else:
            node[key] = value


def edit_params(path: Path, override: dict[str, Any] | None = None,
                change: tuple[str, Any] | None = None) -> Any:
    """Merge ``override`` into, or set one dotted key of, a params.yaml in place; returns the
    old value of the changed key."""
    y = _rt_yaml()
    doc = y.load(path.read_text(encoding="utf-8"))
    old = None
    override = dict(override or {})
    for name in ("simulate",):   # a section kept in its own file (params.yaml: `simulate: <path>`)
        if isinstance(doc.get(name), str) and isinstance(override.get(name), dict):
            root = next(d for d in path.resolve().parents if (d / doc[name]).is_file())
            edit_params(root / doc[name], override=override.pop(name))
    if override:
        _merge_into(doc, override)
    if change:
        key, value = change
        *parents, last = key.split(".")
        node = doc
        for p in parents:
            if not isinstance(node, dict) or p not in node:
                raise SystemExit(f"--change: params.yaml has no key {key!r}")
            node = node[p]
        if last not in node:
            raise SystemExit(f"--change: params.yaml has no key {key!r}")
        old = node[last]
        if old == value:
            raise SystemExit(f"--change: {key} is already {value!r}; pick another value")
        node[last] = value
    buf = io.StringIO()
    y.dump(doc, buf)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return old


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import platform

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{platform.machine()}{', ' + cpu if cpu else ''}, {os.cpu_count()} cores, {mem:.0f} GiB, "
            f"Python {sys.version.split()[0]}, {platform.platform()}")


# ---------------------------------------------------------------------------------------------
# running things

def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_TIMINGS", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"PATH": f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
                "DVC_NO_ANALYTICS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"})
    return env


def measured_tree(cmd: list[str], cwd: Path, log: Path) -> dict[str, Any]:
    """Run ``cmd`` (output to ``log``); wall seconds, the largest process's peak RSS (wait4
    rusage covers the child and every descendant it waited for) and the peak of the summed RSS
    of the whole process tree (sampled)."""
    import psutil

    peak = 0
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=child_env(), stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            try:
                root = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not done.is_set():
                total = 0
                try:
                    for p in [root, *root.children(recursive=True)]:
                        try:
                            total += p.memory_info().rss
                        except psutil.Error:
                            pass
                except psutil.Error:
                    pass
                peak = max(peak, total)
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    return {"seconds": round(wall, 2), "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "tree_peak_mb": round(peak / 2**20, 1), "returncode": os.waitstatus_to_exitcode(status)}


def stage_timings(clone: Path, stages: list[str], since: float) -> dict[str, dict]:
    """The timing records the stages wrote into the clone's .cache/timings since ``since``."""
    out = {}
    for stage in stages:
        path = clone / ".cache" / "timings" / f"{stage}.json"
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
            if dt.datetime.fromisoformat(rec["started"]).timestamp() >= int(since) - 1:
                out[stage] = rec
        except (OSError, ValueError, KeyError):
            pass
    return out


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def prepare(study: str, clone: Path, worktree: bool) -> dict[str, Any]:
    """A fresh working copy of the project for ``study``."""
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    info = {"commit": git("rev-parse", "--short", "HEAD", cwd=clone), "worktree": worktree}
    if worktree:
        files = git("ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
        for name in filter(None, files):
            src, dst = ROOT / name, clone / name
            if src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
            elif dst.exists():                    # deleted in the working tree
                dst.unlink()
    found = subprocess.run(["python", "-c", "import pipeline, sys; print(pipeline.__file__)"], cwd=clone,
                           env=child_env(), capture_output=True, text=True).stdout.strip()
    if not found or Path(found).resolve().parent != (clone / "pipeline").resolve():
        raise SystemExit(f"python started in {clone} imports pipeline from {found or '?'}, not from the clone")
    if study == "benchmark":
        import yaml

        edit_params(clone / "studies" / "demo" / "params.yaml", override=yaml.safe_load(STUDY_FILE.read_text(encoding="utf-8")))
    return info


def run_study(study: str, clone: Path, change: tuple[str, Any], worktree: bool) -> dict[str, Any]:
    """Set up ``study`` in ``clone`` and time the three `dvc repro` runs."""
    print(f"[{study}] preparing {clone}", flush=True)
    res: dict[str, Any] = {"study": study, "load_start": os.getloadavg(), **prepare(study, clone, worktree)}
    import yaml

    params = yaml.safe_load((clone / "studies" / "demo" / "params.yaml").read_text(encoding="utf-8"))
    size = params.get("simulate", {})
    if isinstance(size, str):             # the generator's design in its own file (studies/demo/simulate.yaml)
        size = yaml.safe_load((clone / size).read_text(encoding="utf-8"))
    res["size"] = size
    res["dvc_version"] = subprocess.run(["dvc", "--version"], cwd=clone, env=child_env(), capture_output=True,
                                        text=True).stdout.strip()
    stages = dvc_stages((clone / "studies" / "demo" / "dvc.yaml").read_text(encoding="utf-8"))
    res["stages"] = stages
    runs = {}
    for phase in ("whole", "noop", "rerun"):
        if phase == "rerun":
            old = edit_params(clone / "studies" / "demo" / "params.yaml", change=change)
            res["change"] = {"key": change[0], "old": old, "new": change[1]}
        print(f"[{study}] dvc repro ({phase}) ...", flush=True)
        since = time.time()
        log = clone.parent / f"{study}-{phase}.log"
        r = measured_tree(["dvc", "repro"], clone, log)
        text = log.read_text(encoding="utf-8", errors="replace")
        r.update(ran_stages(text))
        r["timings"] = stage_timings(clone, r["ran"], since)
        r["log"] = str(log)
        runs[phase] = r
        failed = "" if r["returncode"] == 0 else f" -- FAILED (exit {r['returncode']}), see {log}"
        print(f"[{study}] {phase}: {r['seconds']} s, ran {', '.join(r['ran']) or 'nothing'}{failed}", flush=True)
        if r["returncode"] != 0:
            sys.stderr.write("\n".join(text.splitlines()[-30:]) + "\n")
            break
    res["runs"] = runs
    res["load_end"] = os.getloadavg()
    return res


def recovery_run(clone: Path, replications: int) -> dict[str, Any]:
    """The recovery study (issue 19: 500 replications under 4 minutes on 2 cores), timed."""
    print(f"[recovery] {replications} replications ...", flush=True)
    r = measured_tree(["python", "-m", "pipeline", "recovery", "--params", "studies/demo/params.yaml",
                       "--replications", str(replications), "--n-jobs", "2"], clone, clone.parent / "recovery.log")
    return {**r, "replications": replications}


def ratios(clone: Path, mixed_model: str | None, repeats: int, scratch: Path) -> dict[str, Any]:
    """Run the two side-by-side measurements in a child process that imports the clone's code."""
    out = scratch / "ratios.json"
    cmd = [str(ROOT / ".venv" / "bin" / "python"), str(Path(__file__).resolve()), "--ratios-in", str(clone),
           "--ratios-out", str(out), "--repeats", str(repeats)] + (["--mixed-model", mixed_model] if mixed_model else [])
    print("[ratios] segmentation and mixed model ...", flush=True)
    proc = subprocess.run(cmd, cwd=clone, env=child_env())
    if proc.returncode != 0 or not out.exists():
        return {"error": f"the ratio process failed (exit {proc.returncode})"}
    return json.loads(out.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# the ratios (run inside the child process, cwd = the clone)

def segmentation_ratio(clone: Path) -> dict[str, Any]:
    import yaml

    import bench_transcripts as B          # the clone's benchmarks/bench_transcripts.py

    tcfg = yaml.safe_load((clone / "studies" / "demo" / "params.yaml").read_text(encoding="utf-8"))["transcripts"]
    n_jobs = int(tcfg.get("n_jobs", 2))
    tp, spec, n_interviews = B.units_throughput(clone / "processed" / "transcripts" / "units.parquet", tcfg)
    return {**tp, "engine": spec.engine, "n_jobs": n_jobs, "interviews": n_interviews,
            "x_one": tp["plain_s"] / tp["one_s"], "x_par": tp["plain_s"] / tp["par_s"]}


def mixed_ratio(clone: Path, model_id: str | None, repeats: int, scratch: Path) -> dict[str, Any]:
    import pandas as pd

    from pipeline.core.config import load_params
    from pipeline.stats.fit import fit_model
    from pipeline.stats.frame import formula_variables
    from pipeline.stats.spec import parse_spec
    from pipeline.stages.models import derive, expand_specs

    rscript = shutil.which("Rscript")
    if rscript is None:
        return {"skipped": "Rscript is not installed"}
    if subprocess.run([rscript, "-e", "library(lme4)"], capture_output=True).returncode != 0:
        return {"skipped": "the R package lme4 is not installed"}
    cfg = load_params(clone / "studies" / "demo" / "params.yaml")["models"]
    specs = [s for s in expand_specs(cfg) if s.get("estimator") == "mixed"]
    if model_id:
        specs = [s for s in specs if s["id"] == model_id]
    if not specs:
        return {"skipped": f"no mixed model {model_id or ''} in params.yaml models.specs".replace("  ", " ")}
    raw = specs[0]
    spec = parse_spec(raw)
    data = derive(pd.read_parquet(clone / cfg.get("data", "processed/indices.parquet")), cfg.get("derived") or {})
    cols = list(dict.fromkeys([spec.outcome, *formula_variables(spec.rhs, data.columns, spec.id), spec.group, *spec.slopes]))
    data = data[cols].dropna().reset_index(drop=True)
    csv = scratch / "mixed.csv"
    data.to_csv(csv, index=False)
    data = pd.read_csv(csv, dtype={spec.group: str})       # the same numbers R reads

    fit_model(raw, data)                                   # warm-up, not timed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        res = fit_model(raw, data)
        times.append(time.perf_counter() - start)

    bars = " + ".join(["1", *spec.slopes])
    formula = f"{spec.outcome} ~ {spec.rhs} + ({bars} | {spec.group})"
    r_out = scratch / "lme4.csv"
    proc = subprocess.run([rscript, str(R_SCRIPT), str(csv), formula, "TRUE" if spec.reml else "FALSE",
                           str(repeats), str(r_out)], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": f"Rscript failed: {proc.stderr.strip()[-500:]}"}
    r = pd.read_csv(r_out, keep_default_na=False, na_values=["NA"])
    fe = r[r.kind == "fixef"].set_index("term")["value"].rename(index={"(Intercept)": "Intercept"})
    se = r[r.kind == "se"].set_index("term")["value"].rename(index={"(Intercept)": "Intercept"})
    coefs = res.coefficients.set_index("term")
    py_var = res.components.query("kind == 'var'")["estimate"].to_numpy()
    py_res = float(res.components.query("kind == 'residual'")["estimate"].iloc[0])
    r_var = r[r.kind == "var"]["value"].to_numpy(float)
    r_res = float(r[r.kind == "residual"]["value"].iloc[0])
    one = lambda kind: float(r[r.kind == kind]["value"].iloc[0])  # noqa: E731
    r_seconds = one("seconds")
    return {
        "model": spec.id, "formula": formula, "reml": spec.reml, "n_obs": int(res.fit["n_obs"]),
        "n_groups": int(res.fit["n_groups"]), "repeats": repeats,
        "python_s": min(times), "python_all": [round(t, 3) for t in times],
        "r_s": r_seconds, "r_all": r[r.kind == "seconds_all"]["term"].iloc[0],
        "ratio": min(times) / r_seconds if r_seconds > 0 else float("nan"),
        "max_diff_fixef": float((coefs["estimate"] - fe.reindex(coefs.index)).abs().max()),
        "max_diff_se": float((coefs["std_error"] - se.reindex(coefs.index)).abs().max()),
        "max_diff_var": float(max(abs(py_var - r_var).max(), abs(py_res - r_res))),
        "diff_loglik": abs(float(res.fit["loglik"]) - one("loglik")),
        "status": res.fit["status"], "r_version": r[r.kind == "version"]["term"].iloc[0],
    }


def ratios_child(clone: Path, out: Path, model_id: str | None, repeats: int) -> None:
    sys.path[:0] = [str(clone), str(clone / "benchmarks")]
    import pipeline

    if Path(pipeline.__file__).resolve().parent != (clone / "pipeline").resolve():
        raise SystemExit(f"ratios: imported pipeline from {pipeline.__file__}, not from {clone}")
    result: dict[str, Any] = {}
    import bench_fits                       # the clone's benchmarks/bench_fits.py

    for name, fn in (("segmentation", lambda: segmentation_ratio(clone)),
                     ("mixed", lambda: mixed_ratio(clone, model_id, repeats, out.parent)),
                     ("fits", lambda: bench_fits.measure(max(repeats, 10), out.parent / "fits"))):
        try:
            result[name] = fn()
        except Exception as exc:  # a benchmark reports what failed instead of stopping
            result[name] = {"error": f"{exc.__class__.__name__}: {exc}"}
    out.write_text(json.dumps(result, default=str), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# rendering

def _mb(x: Any) -> str:
    return "" if x is None else f"{x:,.0f}"


def verdicts(res: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) rows of a study's results."""
    rows: list[tuple[str, str, bool | None]] = []
    runs = res["runs"]
    whole = runs.get("whole", {})
    ok_whole = whole.get("returncode") == 0
    if res["study"] == "default":
        rows.append((f"default `dvc repro` under {TARGETS['default_repro_s']:.0f} s on 2 cores",
                     f"{whole.get('seconds')} s", ok_whole and whole["seconds"] < TARGETS["default_repro_s"]))
    else:
        rows.append((f"benchmark study end to end under {TARGETS['benchmark_repro_s'] / 60:.0f} min",
                     f"{whole.get('seconds', 0) / 60:.1f} min", ok_whole and whole["seconds"] < TARGETS["benchmark_repro_s"]))
        rows.append((f"... and under {TARGETS['benchmark_peak_mb'] / 1024:.0f} GB (all processes together)",
                     f"{_mb(whole.get('tree_peak_mb'))} MB", ok_whole and whole["tree_peak_mb"] < TARGETS["benchmark_peak_mb"]))
    if "noop" in runs:
        n = runs["noop"]
        rows.append(("no-op `dvc repro` runs no stage", ", ".join(n["ran"] + n["restored"]) or "none ran",
                     n["returncode"] == 0 and not n["ran"] and not n["restored"]))
    if "rerun" in runs:
        r = runs["rerun"]
        ok, why = rerun_check(r["ran"], r["restored"], res["stages"])
        rows.append((f"after a model parameter change only {' and '.join(s for s in RERUN_ALLOWED if s in res['stages'])} run",
                     why, ok and r["returncode"] == 0))
    rat = res.get("ratios") or {}
    seg = rat.get("segmentation") or {}
    if "x_one" in seg:
        rows.append((f"segmentation at least {TARGETS['segmentation_x']:.0f}x a plain `jieba.lcut` loop, same Chinese tokens",
                     f"{seg['x_one']:.1f}x (1 process), {seg['differ']} units differ",
                     seg["x_one"] >= TARGETS["segmentation_x"] and seg["differ"] == 0))
    fits = rat.get("fits") or {}
    if "models" in fits:
        import bench_fits

        rows += bench_fits.verdicts(fits)
    rec = res.get("recovery") or {}
    if "seconds" in rec:
        rows.append((f"recovery study, {rec['replications']} replications under {TARGETS['recovery_s'] / 60:.0f} min",
                     f"{rec['seconds'] / 60:.1f} min", rec["returncode"] == 0 and rec["seconds"] < TARGETS["recovery_s"]))
    mix = rat.get("mixed") or {}
    if "ratio" in mix:
        rows.append((f"mixed model within {TARGETS['mixed_ratio']:.0f}x of lme4 (time ratio Python / R)",
                     f"{mix['ratio']:.2f}", mix["ratio"] <= TARGETS["mixed_ratio"]))
        rows.append((f"... with the same estimates (fixed effects, variances to {TARGETS['agree']:g})",
                     f"largest difference {max(mix['max_diff_fixef'], mix['max_diff_var']):.1e}",
                     max(mix["max_diff_fixef"], mix["max_diff_var"]) <= TARGETS["agree"]))
    return rows


def render(res: dict[str, Any], command: str) -> str:
    runs = res["runs"]
    size = res.get("size") or {}
    rpc = size.get("respondents_per_community")
    lines = [f"## whole pipeline, {res['study']} study",
             "",
             f"`{command}` (run {res['date']}; commit {res['commit']}"
             f"{' plus the uncommitted working tree' if res['worktree'] else ''}; {res['dvc_version'] and 'DVC ' + res['dvc_version']}).",
             "",
             f"Machine: {res['machine']}. Load average (1 min) {res['load_start'][0]:.1f} at the start, "
             f"{res['load_end'][0]:.1f} at the end: the machine was shared with other work during the run, so the "
             "times are pessimistic.",
             "",
             f"Study: {size.get('n_communities', '?'):,} communities of {rpc[0]}-{rpc[1]} respondents, "
             f"{(size.get('transcripts') or {}).get('n_interviews', '?'):,} interview transcripts; a fresh `git clone`, "
             "so every stage runs (the jieba dictionary cache is built in the transcripts stage).",
             "",
             "| stage | wall time (s) | peak memory (MB) |",
             "|---|---|---|"]
    whole = runs.get("whole", {})
    for stage in whole.get("ran", []):
        t = whole["timings"].get(stage)
        lines.append(f"| {stage} | {t['seconds'] if t else 'not recorded'} | {_mb(t['peak_mb']) if t else ''} |")
    if whole.get("timings"):
        rest = whole["seconds"] - sum(t["seconds"] for t in whole["timings"].values())
        lines.append(f"| the rest of `dvc repro`: DVC's own work, each stage's interpreter start and imports | {rest:.2f} | |")
    lines += ["",
              "Per stage: as recorded by `python -m pipeline <stage>` (from after its imports; peak of the stage's "
              "process or its largest worker).",
              "",
              "| `dvc repro` | wall time (s) | peak memory, largest process (MB) | peak memory, all processes (MB) | stages run |",
              "|---|---|---|---|---|"]
    labels = {"whole": "whole pipeline, fresh clone", "noop": "again, nothing changed (no-op)"}
    if "change" in res:
        c = res["change"]
        labels["rerun"] = f"after `{c['key']}` {c['old']} -> {c['new']}"
    for phase, r in runs.items():
        ran = ", ".join(r["ran"]) or "none"
        if r["restored"]:
            ran += f"; restored from the run cache: {', '.join(r['restored'])}"
        if r["returncode"] != 0:
            ran += f" -- FAILED (exit {r['returncode']})"
        lines.append(f"| {labels[phase]} | {r['seconds']} | {_mb(r['peak_mb'])} | {_mb(r['tree_peak_mb'])} | {ran} |")
    if "rerun" in runs:
        lines += ["", "Rerun per stage: " + ", ".join(
            f"{s} {t['seconds']} s / {_mb(t['peak_mb'])} MB" for s, t in runs["rerun"]["timings"].items()) + "."]

    rat = res.get("ratios")
    if rat is None:
        lines += ["", "Ratios: skipped (`--skip-ratios`)."]
    elif "error" in rat:
        lines += ["", f"Ratios: {rat['error']}."]
    else:
        seg, mix = rat.get("segmentation", {}), rat.get("mixed", {})
        lines += ["", "Side-by-side, measured in the same run on this study's outputs:", ""]
        if "x_one" in seg:
            lines += [f"Segmentation of {seg['texts']:,} redacted units ({seg['chars'] / 1e6:.2f} million characters, "
                      f"{seg['interviews']:,} interviews), same user dictionary (`bench_transcripts.throughput`):", "",
                      "| segmenter | seconds | vs plain jieba |", "|---|---|---|",
                      f"| plain `jieba.lcut` loop, 1 process | {seg['plain_s']:.2f} | 1.0x |",
                      f"| stage segmenter ({seg['engine']}), 1 process | {seg['one_s']:.2f} | {seg['x_one']:.1f}x |",
                      f"| stage segmenter ({seg['engine']}), {seg['n_jobs']} processes | {seg['par_s']:.2f} | {seg['x_par']:.1f}x |",
                      "", f"Units whose Chinese tokens differ from the plain loop's: {seg['differ']}.", ""]
        else:
            lines += [f"Segmentation: {seg.get('error') or seg.get('skipped')}.", ""]
        if "ratio" in mix:
            lines += [f"Mixed model {mix['model']} (`{mix['formula']}`, REML {mix['reml']}; {mix['n_obs']:,} complete "
                      f"cases in {mix['n_groups']:,} groups, one CSV read by both), shortest of {mix['repeats']} fits after a "
                      f"warm-up: `pipeline.stats.fit.fit_model` {mix['python_s']:.3f} s (the whole call: design "
                      f"matrix, the profiled random-intercept fit, covariance and between-within df; all: {mix['python_all']}), `lme4::lmer` "
                      f"{mix['r_s']:.3f} s ({mix['r_version']}; all: {mix['r_all']}). Ratio {mix['ratio']:.2f}. Largest "
                      f"differences: fixed effects {mix['max_diff_fixef']:.1e}, standard errors {mix['max_diff_se']:.1e}, "
                      f"variance components {mix['max_diff_var']:.1e}, REML log-likelihood {mix['diff_loglik']:.1e}.", ""]
        else:
            lines += [f"Mixed model against lme4: {mix.get('error') or mix.get('skipped')}.", ""]
        fits = rat.get("fits", {})
        if "models" in fits:
            import bench_fits

            lines += bench_fits.render(fits)
        else:
            lines += [f"Fits against R: {fits.get('error')}.", ""]
    rec = res.get("recovery")
    if rec:
        lines += ["", f"Recovery study (`python -m pipeline recovery --replications {rec['replications']} --n-jobs 2` in the "
                  f"clone): {rec['seconds']} s, peak {_mb(rec['tree_peak_mb'])} MB all processes"
                  f"{'' if rec['returncode'] == 0 else ' -- FAILED'}.", ""]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in verdicts(res):
        lines.append(f"| {target} | {measured} | {'yes' if met else 'NO'} |")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def update_results(path: Path, study: str, section: str) -> None:
    """Put ``section`` between this study's markers: replace the previous one or append."""
    start, end = f"<!-- benchmarks/run.py: {study} -->", f"<!-- /benchmarks/run.py: {study} -->"
    block = f"{start}\n{section}{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", choices=["default", "benchmark", "both"], default="default")
    ap.add_argument("--skip-ratios", action="store_true", help="no segmentation / lme4 comparison")
    ap.add_argument("--worktree", action="store_true",
                    help="measure the working tree (tracked and untracked, not ignored files) instead of the committed HEAD")
    ap.add_argument("--change", default="models.mediation.n_boot=999",
                    help="the one model parameter changed before the rerun (dotted key into params.yaml = value)")
    ap.add_argument("--mixed-model", default=None, help="id of the mixed model to compare with lme4 (default: the first)")
    ap.add_argument("--repeats", type=int, default=3, help="timed fits of the mixed model in each language")
    ap.add_argument("--recovery", type=int, default=500,
                    help="replications of the recovery study timed in the default study's clone (0: skip)")
    ap.add_argument("--work", type=Path, default=HERE / "work" / "full", help="scratch folder for the clones")
    ap.add_argument("--keep", action="store_true", help="keep the clones (default: deleted after the run)")
    ap.add_argument("--no-write", action="store_true", help=f"print only; do not update {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--ratios-in", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--ratios-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.ratios_in:
        ratios_child(args.ratios_in.resolve(), args.ratios_out.resolve(), args.mixed_model, args.repeats)
        return 0
    if not (ROOT / ".venv" / "bin" / "dvc").exists():
        raise SystemExit(f"no {ROOT / '.venv/bin/dvc'}: set up the environment first (bash scripts/repro.sh)")
    change = parse_change(args.change)
    studies = ["default", "benchmark"] if args.study == "both" else [args.study]
    command = "benchmarks/run.py --study {study}" + (" --worktree" if args.worktree else "") \
        + (" --skip-ratios" if args.skip_ratios else "")
    all_met = True
    for study in studies:
        clone = (args.work / study).resolve()
        res = run_study(study, clone, change, args.worktree)
        res["machine"] = machine()
        res["date"] = dt.date.today().isoformat()
        if study == "default" and args.recovery and res["runs"].get("whole", {}).get("returncode") == 0:
            res["recovery"] = recovery_run(clone, args.recovery)
        if not args.skip_ratios and res["runs"].get("whole", {}).get("returncode") == 0:
            res["ratios"] = ratios(clone, args.mixed_model, args.repeats, clone.parent)
        elif not args.skip_ratios:
            res["ratios"] = {"error": "not measured: the pipeline run failed"}
        section = render(res, ".venv/bin/python " + command.format(study=study))
        print("\n" + section, flush=True)
        (clone.parent / f"{study}.json").write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
        if not args.no_write:
            update_results(RESULTS, study, section)
            print(f"[{study}] written to {RESULTS}", flush=True)
        all_met &= all(met for _, _, met in verdicts(res)) and all(r["returncode"] == 0 for r in res["runs"].values())
        if not args.keep:                     # the logs and <study>.json stay in --work
            shutil.rmtree(clone, ignore_errors=True)
            for name in ("mixed.csv", "lme4.csv", "ratios.json"):
                (clone.parent / name).unlink(missing_ok=True)
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(main())

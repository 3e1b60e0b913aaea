"""pipeline.core.parallel: the same results on every backend (in process, loky, a local Dask
cluster), one BLAS thread in every worker, and clear errors when the cluster is not there."""
from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.core.errors import PipelineError
from pipeline.core.parallel import (ParallelSettings, blas_threads, from_params, iter_tasks, run_tasks, settings_from,
                               submit, task_seeds)

ROOT = Path(__file__).resolve().parents[1]
distributed = pytest.importorskip("distributed")

IN_PROCESS = ParallelSettings(backend="loky", n_jobs=1)
LOKY2 = ParallelSettings(backend="loky", n_jobs=2, serial_below_s=0)     # always the workers


def local_cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes on this machine."""
    with local_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def dask(cluster):
    return settings_from({"scheduler": cluster.scheduler_address})


def _draw(seed: np.random.SeedSequence) -> np.ndarray:
    """A task with randomness and linear algebra whose summation order depends on BLAS threads."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((80, 80))
    return np.linalg.solve(a @ a.T + np.eye(80), rng.standard_normal(80))


def _slow_identity(i: int) -> tuple[int, int]:
    time.sleep(0.02 * (5 - i % 5))        # later tasks finish first
    return i, os.getpid()


def _fails(i: int) -> int:
    if i == 3:
        raise PipelineError(f"task {i}: bad input", hint="fix it")
    return i


# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------
def test_settings_defaults_and_auto():
    assert settings_from(None) == ParallelSettings(backend="loky", n_jobs=1)
    assert settings_from({"backend": "auto", "scheduler": "tcp://h:8786"}).backend == "dask"
    assert settings_from({"backend": "auto", "scheduler": None, "n_jobs": 2}, n_jobs=3).n_jobs == 3
    assert settings_from({"n_jobs": 2}).parallel and not settings_from({"n_jobs": 1}).parallel
    assert from_params({"seed": 1}) == ParallelSettings()


def test_project_params_section_is_valid(params):
    s = from_params(params)
    assert s.backend in ("loky", "dask")


@pytest.mark.parametrize("cfg, match", [
    ({"backend": "spark"}, "unknown"),
    ({"workers": 3}, "unknown keys"),
    ({"backend": "loky", "scheduler": "tcp://h:8786"}, "backend is loky"),
    ({"n_jobs": 0}, "n_jobs"),
    ({"n_jobs": "many"}, "integer"),
])
def test_bad_settings_are_clear_errors(cfg, match):
    with pytest.raises(PipelineError, match=match):
        settings_from(cfg)


def test_dask_without_scheduler_is_a_clear_error():
    with pytest.raises(PipelineError, match="parallel.scheduler .*not set") as err:
        run_tasks(_draw, task_seeds(1, 2), ParallelSettings(backend="dask"))
    assert "dask scheduler" in err.value.hint


def test_unreachable_scheduler_is_a_clear_error():
    with socket.socket() as s:                       # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings_from({"scheduler": f"tcp://127.0.0.1:{port}", "connect_timeout": 1})
    start = time.perf_counter()
    with pytest.raises(PipelineError, match="no Dask scheduler could be reached"):
        run_tasks(_draw, task_seeds(1, 2), settings)
    assert time.perf_counter() - start < 20


def test_missing_dask_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)   # import distributed -> ImportError
    with pytest.raises(PipelineError, match="dask and distributed are not installed") as err:
        run_tasks(_draw, task_seeds(1, 2), settings_from({"scheduler": "tcp://127.0.0.1:8786"}))
    assert "pip install dask==" in err.value.hint


# ---------------------------------------------------------------------------------------------
# same results everywhere
# ---------------------------------------------------------------------------------------------
def test_task_seeds_are_keyed_by_index():
    a, b = task_seeds(7, 5), task_seeds(7, 8)
    assert [s.generate_state(2).tolist() for s in a] == [s.generate_state(2).tolist() for s in b[:5]]
    assert len({tuple(s.generate_state(2)) for s in b}) == 8


def test_same_results_in_process_loky_and_dask(dask):
    seeds = task_seeds(20251021, 12)
    ref = run_tasks(_draw, seeds, IN_PROCESS)
    for settings in (LOKY2, ParallelSettings(backend="loky", n_jobs=-1, serial_below_s=0), dask):
        got = run_tasks(_draw, seeds, settings)
        assert len(got) == len(ref)
        for x, y in zip(ref, got):
            np.testing.assert_array_equal(x, y)        # bit for bit, not approximately


@pytest.mark.parametrize("which", ["loky", "dask"])
def test_results_come_back_in_task_order(which, dask):
    settings = LOKY2 if which == "loky" else dask
    out = list(iter_tasks(_slow_identity, range(10), settings, batch_size=1))
    assert [i for i, _ in out] == list(range(10))
    assert len({pid for _, pid in out}) == 2 and os.getpid() not in {pid for _, pid in out}


@pytest.mark.parametrize("which", ["loky", "dask"])
def test_a_task_error_arrives_as_itself(which, dask):
    with pytest.raises(PipelineError, match="task 3: bad input"):
        run_tasks(_fails, range(6), LOKY2 if which == "loky" else dask)


def _two_threads() -> None:
    """Make a worker look like one started without the variables on a 2+ core machine."""
    from threadpoolctl import threadpool_limits

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "2"
    threadpool_limits(2)


def _sleep_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_small_work_stays_here_and_large_work_goes_to_the_workers():
    """loky with n_jobs 2: tasks start in this process; the rest goes to the workers only once
    it would take serial_below_s or more (projected from the tasks done), else it finishes here.
    The same results in the same order either way."""
    here = os.getpid()
    small = run_tasks(_sleep_pid, [0.01] * 6, ParallelSettings(backend="loky", n_jobs=2, serial_below_s=5))
    assert small == [here] * 6                                   # 0.05 s projected: all here
    large = run_tasks(_sleep_pid, [0.3] * 6, ParallelSettings(backend="loky", n_jobs=2, serial_below_s=1))
    assert large[0] == here and here not in large[1:]           # 0.3 s x 5 = 1.5 s projected: workers
    assert run_tasks(_sleep_pid, [0.3] * 3, ParallelSettings(backend="loky", n_jobs=2, serial_below_s=1)) == [here] * 3
    assert all(p != here for p in run_tasks(_sleep_pid, [0.0] * 4, LOKY2))     # 0: always the workers
    assert ParallelSettings().serial_below_s is settings_from(None).serial_below_s is None   # by how workers start
    assert ParallelSettings().budget(forked=False) == 10
    assert settings_from({"serial_below_s": 0}).serial_below_s == 0
    seeds = task_seeds(3, 9)
    assert all(np.array_equal(x, y) for x, y in zip(run_tasks(_draw, seeds, IN_PROCESS),
                                                     run_tasks(_draw, seeds, ParallelSettings(n_jobs=2, serial_below_s=1e-9))))


def test_workers_run_blas_at_one_thread():
    """Workers whose BLAS runs two threads: a task run through run_tasks gets one all the same,
    on every backend."""
    with local_cluster() as fresh, distributed.Client(fresh.scheduler_address, set_as_default=False) as client:
        client.run(_two_threads)
        bare = client.submit(blas_threads, 0, pure=False).result()
        if (os.cpu_count() or 1) > 1:
            assert bare["max_threads"] == 2 and bare["OPENBLAS_NUM_THREADS"] == "2"
        on_dask = run_tasks(blas_threads, range(4), settings_from({"scheduler": fresh.scheduler_address}))
    for seen in on_dask + run_tasks(blas_threads, range(4), LOKY2) + run_tasks(blas_threads, range(2), IN_PROCESS):
        assert seen["max_threads"] == 1
        assert all(seen[v] == "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"))


# ---------------------------------------------------------------------------------------------
# the pipeline's parallel work
# ---------------------------------------------------------------------------------------------
def test_multiple_imputation_same_on_dask(dask):
    from pipeline.stats.imputation import fit_imputed

    rng = np.random.default_rng(4)
    n = 300
    d = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "g": np.repeat(np.arange(30), 10)})
    d["y"] = 0.5 * d["x"] + 0.3 * d["z"] + rng.normal(size=n)
    d.loc[rng.random(n) < 0.2, "x"] = np.nan
    d.loc[rng.random(n) < 0.1, "y"] = np.nan
    spec = {"id": "m", "formula": "y ~ x + z", "cluster": "g", "covariance": "cluster"}
    one = fit_imputed(spec, d, m=4, seed=9, n_iter=3, n_jobs=1)
    other = fit_imputed(spec, d, m=4, seed=9, n_iter=3, parallel=dask)
    pd.testing.assert_frame_equal(one.pooled, other.pooled, check_exact=True)
    pd.testing.assert_frame_equal(one.imputation_fits, other.imputation_fits, check_exact=True)


def test_transcript_segmentation_same_on_dask(dask, params, demo_study):
    import pipeline.stages.transcripts as T
    from pipeline.text.corpus import Context, parse_settings, process_corpus
    from pipeline.text.rules import load_rules
    from pipeline.text.segment import resolve_engine, resolve_userdict, segmenter_spec

    cfg = params["transcripts"]
    rules = load_rules(ROOT / cfg["config"], ROOT / cfg["stopwords"])
    words = resolve_userdict(ROOT / cfg["userdict"], str(ROOT / cfg["jieba_cache"]))
    spec = segmenter_spec(resolve_engine("auto"), words, str(ROOT / cfg["jieba_cache"]))
    settings = parse_settings(n_jobs=1, cache_dir=None, batch_size=5, parallel_min_files=1)
    ctx = Context(rules=rules, spec=spec, settings=settings, communities=None, communities_name="")
    files = T.list_transcripts(demo_study / "raw" / "transcripts")[:20]
    here = process_corpus(files, ctx, progress=False)
    there = process_corpus(files, ctx, progress=False, parallel=dask)
    assert len(here.units) > 100
    for name in ("units", "questions", "interviews", "redactions", "audit", "skipped"):
        pd.testing.assert_frame_equal(getattr(here, name), getattr(there, name), check_exact=True, obj=name)
    assert here.metrics == there.metrics


def _tiny_recovery(params: dict) -> dict:
    p = copy.deepcopy(params)
    p["simulate"]["n_communities"] = 20
    p["recovery"].update({"n_boot": 20, "population_communities": 30, "replications": 2,
                          "targets": [{"model": "P2", "term": "gov_model"}, {"model": "I2", "term": "contact"},
                                      {"mediation": "indirect"}]})
    return p


@pytest.mark.slow   # a local Dask cluster and the command line against it: 7-16 s
def test_recovery_same_in_process_loky_and_on_a_dask_cluster(params, instrument, cluster, tmp_path):
    """A team's cluster run (the command line against a scheduler) gives the local draws."""
    from pipeline.demo.recovery import one_replication, run

    p = _tiny_recovery(params)
    reps = p["recovery"]["replications"]
    task = partial(one_replication, params=p, instrument=instrument)
    ref = pd.concat(run_tasks(task, range(reps), IN_PROCESS), ignore_index=True)
    summary, loky = run(p, instrument, reps, LOKY2)
    pd.testing.assert_frame_equal(ref, loky, check_exact=True)
    assert (summary["replications"] == reps).all()

    p["instrument"] = str(ROOT / p["instrument"])
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(p, allow_unicode=True, sort_keys=False), encoding="utf-8")
    cmd = [sys.executable, "-m", "pipeline", "recovery", "--params", str(pfile), "--scheduler",
           cluster.scheduler_address, "--draws", str(tmp_path / "draws.csv"), "--out", str(tmp_path / "r.md")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PIPELINE_TIMINGS": str(tmp_path / "timings")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dask cluster at tcp://" in proc.stderr
    on_dask = pd.read_csv(tmp_path / "draws.csv")
    pd.testing.assert_frame_equal(ref, on_dask, check_exact=True, check_dtype=False)


def test_recovery_cli_unreachable_scheduler_exits_2(params, tmp_path):
    p = copy.deepcopy(params)
    p["instrument"] = str(ROOT / p["instrument"])
    p["parallel"] = {"backend": "dask", "scheduler": "tcp://127.0.0.1:9", "connect_timeout": 1}
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(p, allow_unicode=True, sort_keys=False), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "recovery", "--params", str(pfile), "--replications", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error: params.yaml: parallel.scheduler tcp://127.0.0.1:9: no Dask scheduler" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_submit_runs_one_task_in_a_worker_while_this_process_goes_on():
    """submit: the task starts in a worker at once (loky, n_jobs 2) or here when asked for
    (n_jobs 1); the same result either way, and a task's error is raised by the waiting call."""
    wait = submit(_slow_identity, 3, 2)
    here = run_tasks(_slow_identity, [3], 1)[0]
    value, pid = wait()
    assert value == here[0] == 3 and pid != os.getpid()
    value, pid = submit(_slow_identity, 3, 1)()
    assert value == 3 and pid == os.getpid()
    for n_jobs in (1, 2):
        failing = submit(_fails, 3, n_jobs)
        with pytest.raises(PipelineError, match="task 3: bad input"):
            failing()
    # a submitted task and then joblib's workers in the same process (the report stage, a test
    # session): submit's executor is its own, so joblib's reusable one is still joblib's kind
    pending = submit(_slow_identity, 4, 2)
    assert [v for v, _ in run_tasks(_slow_identity, range(4), LOKY2)] == [0, 1, 2, 3]
    assert pending()[0] == 4

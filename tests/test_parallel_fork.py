"""pipeline.core.parallel's forked workers: where the system can fork and the stage's process has no
other thread, local workers are forked from it (they start in milliseconds with its modules
imported) and give the same results, in the same order, as the stage's own process; anywhere else
loky starts fresh interpreters. Each check runs in a fresh interpreter: a pytest worker has threads
of its own (execnet's), and with them the code rightly refuses to fork."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", COMMON + textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


COMMON = """
import os, sys, threading, time
import numpy as np
import pipeline.core.parallel as P
from pipeline.core.errors import PipelineError

def draw(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((60, 60))
    return np.linalg.solve(a @ a.T + np.eye(60), rng.standard_normal(60))

def where(i):
    time.sleep(0.01 * (4 - i % 4))          # later tasks finish first
    return i, os.getpid(), P._IN_WORKER     # True in a forked worker only (a fresh one imports the module anew)

def fails(i):
    if i == 2:
        raise PipelineError(f"task {i}: bad input", hint="fix it")
    return i

def nested(i):                              # a task that has tasks of its own
    return i, P.run_tasks(where, range(3), P.ParallelSettings(n_jobs=2, serial_below_s=0))

TWO = P.ParallelSettings(n_jobs=2, serial_below_s=0)       # always the workers
"""


def test_forked_workers_give_the_same_results_in_order():
    out = run("""
    assert P.can_fork()
    here = os.getpid()
    seeds = P.task_seeds(5, 7)
    alone = P.run_tasks(draw, seeds, 1)
    forked = P.run_tasks(draw, seeds, TWO)
    assert all(np.array_equal(a, b) for a, b in zip(alone, forked))
    got = P.run_tasks(where, range(8), TWO)
    assert [g[0] for g in got] == list(range(8))                     # task order
    assert all(g[1] != here for g in got) and len({g[1] for g in got}) == 2
    assert {g[2] for g in got} == {True}                              # forked
    assert P.blas_threads() is not None and all(t["max_threads"] == 1 for t in P.run_tasks(P.blas_threads, range(2), TWO))
    assert threading.active_count() == 1 and not P._FORKED            # the pool is gone, nothing left
    print("ok")
    """)
    assert out == "ok"


def test_a_task_error_nested_tasks_and_submit():
    out = run("""
    try:
        P.run_tasks(fails, range(5), TWO)
    except PipelineError as e:
        assert "task 2: bad input" in str(e) and e.hint == "fix it"
    else:
        raise AssertionError("no error")
    here = os.getpid()
    got = P.run_tasks(nested, range(2), TWO)
    for i, inner in got:                   # the inner tasks run one by one in the worker that got them
        assert [t[0] for t in inner] == [0, 1, 2] and len({t[1] for t in inner}) == 1 and inner[0][1] != here
    wait = P.submit(where, 3, 2)
    value, pid, mark = wait()
    assert (value, mark) == (3, True) and pid != here
    failing = P.submit(fails, 2, 2)
    try:
        failing()
    except PipelineError as e:
        assert "task 2" in str(e)
    assert threading.active_count() == 1
    print("ok")
    """)
    assert out == "ok"


def test_with_another_thread_the_workers_start_fresh():
    """A second thread in the process (a Dask client, a progress monitor): no fork; loky's fresh
    interpreters take the tasks, with the same results."""
    out = run("""
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    assert P.can_fork() and "forked" in P.describe(TWO)
    t.start()
    assert not P.can_fork()
    got = P.run_tasks(where, range(4), TWO)
    assert [g[0] for g in got] == [0, 1, 2, 3] and not any(g[2] for g in got)       # fresh interpreters
    assert "loky" in P.describe(TWO)
    stop.set(); t.join()
    assert threading.active_count() > 1 and not P.can_fork()     # loky's reusable executor keeps a thread: loky again
    print("ok")
    """)
    assert out == "ok"


def test_small_work_stays_here_with_forked_workers():
    """serial_below_s left out: forked workers take the rest once it would take 0.1 s or more;
    fresh interpreters only from 10 s (their imports)."""
    out = run("""
    here = os.getpid()
    auto = P.ParallelSettings(n_jobs=2)
    assert auto.serial_below_s is None and auto.budget(True) == P.FORK_BELOW_S == 0.1 and auto.budget(False) == 10
    assert P.ParallelSettings(n_jobs=2, serial_below_s=3).budget(True) == 3
    def nap(s):
        time.sleep(s)
        return os.getpid()
    assert P.run_tasks(nap, [0.005] * 5, auto) == [here] * 5         # 0.02 s projected: here
    big = P.run_tasks(nap, [0.1] * 6, auto)                           # 0.5 s projected: the workers
    assert big[0] == here and here not in big[1:]
    print("ok")
    """)
    assert out == "ok"


def test_only_linux_forks():
    """macOS has fork, but its system libraries are not safe in a forked child: fresh interpreters there."""
    out = run("""
    assert P.can_fork()
    sys.platform = "darwin"
    assert not P.can_fork() and "loky" in P.describe(TWO)
    got = P.run_tasks(where, range(3), TWO)
    assert [g[0] for g in got] == [0, 1, 2] and not any(g[2] for g in got)
    print("ok")
    """)
    assert out == "ok"

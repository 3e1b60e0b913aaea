"""One way to run embarrassingly parallel work: local processes, or a Dask cluster.

The pipeline's independent tasks (replications of the recovery study, imputation chains and
their fits, batches of transcripts, bootstrap replications) all go through :func:`run_tasks`
(or :func:`iter_tasks`), which hands them to joblib with the backend from
``params.yaml: parallel``:

``loky``  (the default) worker processes on this machine; ``n_jobs: 1`` runs in this process.
          On Linux the workers are forked from the stage's process (when no other thread runs
          in it: see :func:`can_fork`), so they start in milliseconds with its
          modules already imported; else loky starts fresh interpreters, which import what the
          tasks need (1-3 s of CPU each).
``dask``  the workers of a running Dask distributed cluster, at ``parallel.scheduler``
          (``tcp://host:8786``; see docs/cluster.md). Needs the optional packages ``dask`` and
          ``distributed`` here and on every worker.

Results never depend on the backend or on ``n_jobs``: a task gets everything it needs,
including its random stream, from its arguments (seeds keyed by the task's index, see
:func:`task_seeds`, never by the worker), and results come back in task order. Every task runs
with BLAS/OpenMP at one thread, in whatever process or machine runs it, so sums are taken in the
same order everywhere.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.core.schema import parse
from pipeline.core.settings import Parallel, Params

T = TypeVar("T")
R = TypeVar("R")

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# serial_below_s when params.yaml leaves it out (None): the work a worker's start must be worth.
# Forked workers cost about 30 ms a call (measured: a pool of two forked, 8 trivial tasks, the pool
# closed: 28-34 ms), so work projected at 0.1 s or more gains from them (the measurement stage's
# bootstrap of one scale, ~0.2 s: 1.9 -> 1.7 s for the stage); a fresh loky interpreter imports
# numpy, pandas and the task's modules first (1-3 s of CPU).
FORK_BELOW_S = 0.1
SPAWN_BELOW_S = 10.0
INSTALL_HINT = ("pip install dask==2026.8.0 distributed==2026.8.0 (here and on every worker), "
                "or set params.yaml: parallel.backend: loky")


@dataclass(frozen=True)
class ParallelSettings:
    """``params.yaml: parallel`` as the computation needs it.

    ``backend``: ``loky`` or ``dask`` (``auto`` in params: dask when a scheduler is given).
    ``n_jobs``: loky worker processes (1: in this process; -1: all cores); with dask the
    cluster's worker threads set the concurrency and ``n_jobs`` is not used.
    ``scheduler``: the Dask scheduler's address. ``connect_timeout``: seconds to reach it.
    ``serial_below_s``: with loky, the tasks start in this process and go to the workers only
    once the rest, projected from the mean time of those done, would take this many seconds or
    more; 0: always the workers when ``n_jobs`` > 1; ``None``: what a worker's start costs,
    :data:`FORK_BELOW_S` for forked workers, :data:`SPAWN_BELOW_S` for fresh interpreters (their
    imports, 1-3 s of CPU, cost more than small work gains). It changes where tasks run, never
    their results.
    """

    backend: str = "loky"
    n_jobs: int = Parallel.model_fields["n_jobs"].default
    scheduler: str | None = None
    connect_timeout: float = Parallel.model_fields["connect_timeout"].default
    serial_below_s: float | None = Parallel.model_fields["serial_below_s"].default

    def budget(self, forked: bool) -> float:
        """``serial_below_s``, or its default for workers forked (``forked``) or started fresh."""
        if self.serial_below_s is not None:
            return self.serial_below_s
        return FORK_BELOW_S if forked else SPAWN_BELOW_S

    @property
    def in_process(self) -> bool:
        """True when tasks run one after another in this process (loky with one job)."""
        return self.backend == "loky" and self.n_jobs == 1

    @property
    def parallel(self) -> bool:
        return not self.in_process


def settings_from(cfg: Parallel | Mapping[str, Any] | None, *, n_jobs: int | None = None, backend: str | None = None,
                  scheduler: str | None = None) -> ParallelSettings:
    """``params.yaml: parallel`` (``None``: the defaults, local processes) resolved for the computation.

    Keyword arguments override the section: ``n_jobs`` a stage's own worker count (e.g.
    ``transcripts.n_jobs``), ``backend`` and ``scheduler`` a command-line choice; the result is
    validated as the section is (:class:`pipeline.core.settings.Parallel`)."""
    given = cfg.given() if isinstance(cfg, Parallel) else dict(cfg or {})
    overrides = {"n_jobs": n_jobs, "backend": backend, "scheduler": scheduler}
    section = parse(Parallel, {**given, **{k: v for k, v in overrides.items() if v is not None}}, "parallel")
    address = section.scheduler.strip() if section.scheduler and section.scheduler.strip() else None
    name = section.backend if section.backend != "auto" else ("dask" if address else "loky")
    return ParallelSettings(backend=name, n_jobs=section.n_jobs, scheduler=address,
                            connect_timeout=section.connect_timeout, serial_below_s=section.serial_below_s)


def from_params(params: Params | Mapping[str, Any], *, n_jobs: int | None = None, backend: str | None = None,
                scheduler: str | None = None) -> ParallelSettings:
    """:func:`settings_from` on the params' ``parallel`` section (a missing section means local processes)."""
    section = params.parallel if isinstance(params, Params) else params.get("parallel")
    return settings_from(section, n_jobs=n_jobs, backend=backend, scheduler=scheduler)


def as_settings(value: ParallelSettings | int | None) -> ParallelSettings:
    """A :class:`ParallelSettings` from settings or a plain local ``n_jobs`` (``None``: 1)."""
    if isinstance(value, ParallelSettings):
        return value
    if value is None:
        return ParallelSettings()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return settings_from(None, n_jobs=int(value), backend="loky")
    raise PipelineError(f"parallel settings must be ParallelSettings or an integer n_jobs, not {value!r}")


def task_seeds(seed: int | np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """Independent seeds of ``n`` tasks, the i-th keyed by the task index i (SeedSequence
    spawning), so a task draws the same numbers whichever worker runs it."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    return root.spawn(int(n))


# --------------------------------------------------------------------------------------------
# one thread per task
# --------------------------------------------------------------------------------------------
def _one_thread() -> None:
    """BLAS/OpenMP at one thread in this (worker) process: the variables for libraries loaded
    later, threadpoolctl for those already loaded. Not undone: workers exist for this work."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _call_one_thread(func: Callable[..., R], task: Any) -> R:
    _one_thread()
    return func(task)


def blas_threads(_task: Any = None) -> dict[str, Any]:
    """What a task sees of its threads: the largest BLAS/OpenMP pool and the variables. A task
    function for checking a backend's workers (``run_tasks(blas_threads, range(4), s)``)."""
    from threadpoolctl import threadpool_info

    pools = [p["num_threads"] for p in threadpool_info()]
    return {"pid": os.getpid(), "max_threads": max(pools) if pools else 1,
            **{var: os.environ.get(var) for var in THREAD_VARS}}


# --------------------------------------------------------------------------------------------
# the backends
# --------------------------------------------------------------------------------------------
@contextmanager
def dask_client(settings: ParallelSettings) -> Iterator[Any]:
    """A ``distributed.Client`` connected to ``settings.scheduler``, closed afterwards."""
    try:
        from distributed import Client
    except ImportError:
        raise PipelineError("params.yaml: parallel.backend is dask, but the packages dask and distributed "
                            "are not installed", hint=INSTALL_HINT) from None
    if not settings.scheduler:
        raise PipelineError("params.yaml: parallel.backend is dask, but parallel.scheduler (the address of a "
                            "running Dask scheduler) is not set",
                            hint="start one with `dask scheduler` and set scheduler: tcp://HOST:8786 "
                                 "(docs/cluster.md), or use backend: loky")
    try:
        client = Client(settings.scheduler, timeout=settings.connect_timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise PipelineError(f"params.yaml: parallel.scheduler {settings.scheduler}: no Dask scheduler could be "
                            f"reached within {settings.connect_timeout:g} s ({exc.__class__.__name__})",
                            hint="check that `dask scheduler` runs there and the port is open (docs/cluster.md)") from None
    try:
        try:
            client.register_plugin(_one_thread_plugin(), name="pipeline-one-blas-thread")
        except Exception as exc:  # a worker that cannot import the pipeline, say
            raise PipelineError(f"parallel.scheduler {settings.scheduler}: the Dask workers could not be set up "
                                f"({exc.__class__.__name__}: {exc})",
                                hint="install the project and its locked packages on every worker (docs/cluster.md)") from exc
        yield client
    finally:
        client.close()


def _one_thread_plugin() -> Any:
    """A Dask worker plugin that sets one BLAS thread in each worker, present and future.
    Run on the worker's main thread: OpenBLAS ignores a change made from a task's thread."""
    from distributed import WorkerPlugin

    class OneBlasThread(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            _one_thread()

    return OneBlasThread()


def _joblib_parallel(settings: ParallelSettings, client: Any, n_tasks: int, batch_size: int | str):
    from joblib import Parallel, parallel_config

    if settings.backend == "dask":
        config = parallel_config(backend="dask", client=client)
        n_jobs = -1
    else:
        config = nullcontext()
        n_jobs = settings.n_jobs if settings.n_jobs > 0 else (os.cpu_count() or 1)
        n_jobs = min(n_jobs, n_tasks)
    return config, partial(Parallel, n_jobs=n_jobs, backend=None if settings.backend == "dask" else "loky",
                           batch_size=batch_size, return_as="generator")


def iter_tasks(func: Callable[[T], R], tasks: Iterable[T], settings: ParallelSettings | int | None = None,
               *, batch_size: int | str = "auto") -> Iterator[R]:
    """``func(task)`` for every task, yielded in task order as they are done.

    ``func`` must be picklable (a module-level function, or ``functools.partial`` of one with
    the shared arguments) and take everything it needs from its arguments. With loky and
    ``n_jobs: 1`` (or a single task) the tasks run here, one after another. Exceptions in a
    task are raised here, a :class:`PipelineError` as itself. With loky the first tasks run
    here until the rest would take ``settings.serial_below_s`` or more (then the workers take
    it); with ``n_jobs: 1`` (or a single task) all of them."""
    settings = as_settings(settings)
    tasks = list(tasks)
    if not tasks:
        return
    if settings.backend == "loky":
        alone = settings.n_jobs == 1 or len(tasks) == 1 or _IN_WORKER
        forked = not alone and can_fork()
        done = yield from _run_here(func, tasks, None if alone else settings.budget(forked))
        tasks = tasks[done:]
        if not tasks:
            return
        if forked:
            n_jobs = settings.n_jobs if settings.n_jobs > 0 else (os.cpu_count() or 1)
            yield from _run_forked(func, tasks, min(n_jobs, len(tasks)))
            return
    client_cm = dask_client(settings) if settings.backend == "dask" else nullcontext()
    with client_cm as client:
        config, make = _joblib_parallel(settings, client, len(tasks), batch_size)
        from joblib import delayed

        with config:
            call = delayed(_call_one_thread)
            yield from make()(call(func, task) for task in tasks)


# --------------------------------------------------------------------------------------------
# forked workers
# --------------------------------------------------------------------------------------------
_IN_WORKER = False           # True in a forked worker: its own tasks' tasks run in it, one by one
_FORKED: dict[int, tuple[Callable[[Any], Any], list[Any]]] = {}   # what the forked workers inherit


def can_fork() -> bool:
    """Whether local workers can be forked from this process: Linux (macOS has ``fork`` too, but
    its system libraries are not safe to use in a forked child, which is why Python starts fresh
    interpreters there by default), this process is not itself a forked worker, and no other
    thread runs in it (a fork copies the locks other threads hold, and a copied held lock never
    opens: a Dask client, a loky executor or a pool still open keep their threads, and loky then
    starts fresh interpreters instead)."""
    return (not _IN_WORKER and sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def _forked_init() -> None:
    global _IN_WORKER
    _IN_WORKER = True
    _one_thread()


def _forked_call(key: int, index: int) -> Any:
    func, tasks = _FORKED[key]
    return func(tasks[index])


def _submitted(func: Callable[[T], R], task: T, writer: Any) -> None:
    """A forked :func:`submit` process: ``func(task)`` and its result (or exception) to ``writer``."""
    _forked_init()
    try:
        outcome = (True, func(task))
    except BaseException as exc:          # noqa: BLE001 - raised again in the waiting process
        outcome = (False, exc)
    writer.send(outcome)
    writer.close()


def _run_forked(func: Callable[[T], R], tasks: list[T], n_jobs: int) -> Iterator[R]:
    """``func(task)`` for every task on ``n_jobs`` workers forked from this process, yielded in
    task order. The workers inherit ``func`` and the tasks (nothing is pickled but each task's
    index and its result); a task's exception is raised here."""
    key = id(tasks)
    _FORKED[key] = (func, tasks)
    try:
        with _frozen():
            pool = multiprocessing.get_context("fork").Pool(n_jobs, initializer=_forked_init)
        with pool:
            yield from pool.imap(partial(_forked_call, key), range(len(tasks)))
    finally:
        del _FORKED[key]


@contextmanager
def _frozen() -> Iterator[None]:
    """The garbage collector's objects frozen while workers are forked (``gc.freeze``): a
    worker's collections then skip everything it inherited, instead of walking (and, by touching
    their pages, copying) the parent's whole heap again and again."""
    import gc

    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_here(func: Callable[[T], R], tasks: list[T], budget_s: float | None) -> Iterator[R]:
    """Yield ``func(task)`` here, in order, while the projected time of the remaining tasks
    (their number times the mean time of the tasks done here) stays under ``budget_s``
    (None: all of them; 0: none); return how many ran. Only the tasks' own time counts, not
    the caller's between two results."""
    if budget_s is not None and budget_s <= 0:
        return 0
    from threadpoolctl import threadpool_limits

    spent, done = 0.0, 0
    with threadpool_limits(1):
        for task in tasks:
            started = time.perf_counter()
            result = func(task)
            spent += time.perf_counter() - started
            done += 1
            yield result
            if budget_s is not None and spent / done * (len(tasks) - done) >= budget_s:
                break
    return done


def run_tasks(func: Callable[[T], R], tasks: Iterable[T], settings: ParallelSettings | int | None = None,
              *, batch_size: int | str = "auto") -> list[R]:
    """The list ``[func(task) for task in tasks]``, computed by the configured backend
    (see :func:`iter_tasks`); the same list whatever the backend and ``n_jobs``."""
    return list(iter_tasks(func, tasks, settings, batch_size=batch_size))


def submit(func: Callable[[T], R], task: T, settings: ParallelSettings | int | None = None) -> Callable[[], R]:
    """Start ``func(task)`` now and return a function that waits for its result (raising its
    exception), so this process can do other work meanwhile: with loky and ``n_jobs`` >= 2 the
    task goes to a worker process at once (forked from this one where :func:`can_fork`, else
    a fresh interpreter of loky's). In this
    process (``n_jobs: 1``) and on a Dask cluster it runs when its result is asked for, through
    :func:`run_tasks`. The same result either way; ``func`` as for :func:`iter_tasks`."""
    settings = as_settings(settings)
    if settings.backend != "loky" or settings.n_jobs == 1 or _IN_WORKER:
        return partial(_first, func, task, settings)
    if can_fork():
        # one forked process and a pipe, no pool: a pool's threads would keep this process from
        # forking the workers of its next tasks while this one runs
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(target=_submitted, args=(func, task, writer), daemon=True)
        with _frozen():
            process.start()
        writer.close()

        def forked_result() -> R:
            try:
                ok, value = reader.recv()
            except EOFError:
                raise PipelineError(f"the worker process computing {getattr(func, '__name__', func)!r} ended without "
                                    f"a result (exit code {process.exitcode})", hint="see the messages above") from None
            finally:
                reader.close()
                process.join()
            if ok:
                return value
            raise value

        return forked_result
    # an executor of its own, shut down once the result is in: loky's global reusable executor
    # would be taken over by joblib's next Parallel in this process, which expects its own kind
    # (no _temp_folder_manager: an AttributeError when a stage or test submits, then runs tasks)
    from joblib.externals.loky import ProcessPoolExecutor

    executor = ProcessPoolExecutor(max_workers=1)
    future = executor.submit(_call_one_thread, func, task)

    def result() -> R:
        try:
            return future.result()
        finally:
            executor.shutdown(wait=False)

    return result


def _first(func: Callable[[T], R], task: T, settings: ParallelSettings) -> R:
    return run_tasks(func, [task], settings)[0]


def describe(settings: ParallelSettings) -> str:
    """One line for logs: where the tasks run."""
    if settings.backend == "dask":
        return f"dask cluster at {settings.scheduler}"
    if settings.n_jobs == 1:
        return "this process"
    how = "forked" if can_fork() else "loky"
    return f"{settings.n_jobs if settings.n_jobs > 0 else os.cpu_count()} local processes ({how})"

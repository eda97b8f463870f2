"""Running many tasks at once: the one executor helper and the one progress bar of fastbias.

Sweeps (and the figure runner) dispatch independent runs through :func:`executor_for` and
:func:`run_tasks` and show their progress with :func:`progress_bar`.

Executors (``executor=`` of :func:`fastbias.sweep`):

- ``None`` or ``"threads"``: a pool of threads in this process (the default). The compiled
  kernels release the GIL (``nogil=True``), so threads run in parallel; a thread pool needs
  no ``if __name__ == "__main__":`` guard in scripts and works in notebooks. On an
  interruption the running tasks are stopped at their next chunk boundary.
- ``"processes"``: a pool of worker processes started with ``forkserver`` (or ``spawn``),
  never ``fork`` (forking a process that holds Numba's and the BLAS's threads can deadlock).
  Workers ignore SIGINT (Ctrl-C reaches this process, which stops them), exit by themselves
  when this process dies (even by SIGKILL), and are terminated on an interruption, so that
  nothing is left behind.
- ``"serial"``: one task after the other in this thread.
- any ``concurrent.futures.Executor`` (e.g. a Dask client's ``get_executor()``): used as it
  is and never shut down here; on an interruption the tasks not yet started are cancelled.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

from ._validation import check_int, shown

__all__ = [
    "EXECUTORS",
    "Outcome",
    "check_executor",
    "check_progress",
    "cpu_count",
    "executor_for",
    "one_blas_thread",
    "progress_bar",
    "progress_default",
    "run_tasks",
]

#: The executors known by name (besides any ``concurrent.futures.Executor``).
EXECUTORS = ("threads", "processes", "serial")
# Seconds to wait for stopped worker threads and terminated worker processes.
_JOIN_TIMEOUT = 10.0


# --------------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------------


def progress_default() -> bool:
    """Whether to show progress when the caller did not say: where a person watches.

    True when stderr is a terminal or the code runs in a Jupyter kernel, False otherwise
    (scripts with redirected output, batch jobs, test runs).
    """
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # a replaced or closed stderr
        pass
    shell = sys.modules.get("IPython")
    if shell is not None:
        try:
            ip = shell.get_ipython()
            return ip is not None and "IPKernelApp" in ip.config
        except Exception:  # noqa: BLE001 (an unusual IPython: no bar)
            return False
    return False


def check_progress(progress) -> bool:
    """``progress`` as a bool: None means :func:`progress_default`; TypeError otherwise."""
    if progress is None:
        return progress_default()
    if isinstance(progress, (bool, np.bool_)):
        return bool(progress)
    raise TypeError(
        f"progress must be True or False, or None for the default (on where a "
        f"person watches); got {shown(progress)}."
    )


class _NoBar:
    """The progress bar of a caller who asked for none: every method does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def progress_bar(
    enabled: bool, total: int, initial: int = 0, unit: str = "run", desc: str | None = None
):
    """A tqdm progress bar on stderr, or a silent stand-in when ``enabled`` is false.

    The stand-in has the same ``update`` and ``close``; both are context managers.
    """
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True, leave=False)


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------


def one_blas_thread(threads: int):
    """A context in which the BLAS runs on one thread, if a run uses ``threads`` > 1 threads.

    A multithreaded BLAS keeps its threads spinning for a while after each call (the
    records of a run call it, and so did the code that made the data); on a machine with as
    many cores as the run has threads they take the cores from the run's own threads (a
    full-batch step at 1000 x 1000 on 2 cores: 620 us instead of 180). The limit
    (threadpoolctl) holds for the whole process while the run lasts.
    """
    if threads == 1:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_executor(executor, max_workers=None) -> tuple[Any, int | None]:
    """Validate ``executor`` and ``max_workers``; returns ``(kind or Executor, max_workers)``.

    ``kind`` is one of :data:`EXECUTORS` (None means ``"threads"``).

    Raises
    ------
    ValueError
        For an unknown executor name, or ``max_workers`` with ``"serial"`` or an Executor.
    TypeError
        For anything else that is not a ``concurrent.futures.Executor``.
    """
    if executor is None:
        executor = "threads"
    if isinstance(executor, str):
        if executor not in EXECUTORS:
            raise ValueError(
                f"executor must be None (threads), 'threads', 'processes', 'serial' "
                f"or a concurrent.futures.Executor; got {shown(executor)}."
            )
    elif not isinstance(executor, cf.Executor):
        raise TypeError(
            "executor must be None (threads), 'threads', 'processes', 'serial' or a "
            "concurrent.futures.Executor (for Dask: client.get_executor()); got "
            f"{executor!r}."
        )
    if max_workers is not None:
        if executor not in ("threads", "processes"):
            raise ValueError(
                "max_workers applies only to the default executor (threads) and 'processes'; "
                f"got max_workers={max_workers!r} with executor={executor!r}."
            )
        max_workers = check_int("max_workers", max_workers, 1)
    return executor, max_workers


class _Stopped(BaseException):
    """Raised inside a worker thread's task to stop it (see :meth:`_ThreadPool.stop_running`)."""


def _set_async_exc(ident: int, exc) -> None:
    """Ask CPython to raise ``exc`` in thread ``ident`` (None clears a pending request)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc) if exc is not None else None
    )


class _ThreadPool(cf.ThreadPoolExecutor):
    """A thread pool whose running tasks can be stopped.

    A thread cannot be killed; :meth:`stop_running` raises :class:`_Stopped` in each thread
    that runs a task. It fires when the thread next runs Python code: a kernel call releases
    the GIL and returns at the end of its chunk (a fraction of a second), then the task
    unwinds (``finally`` blocks run) and its future holds the exception.
    """

    def __init__(self, max_workers: int):
        super().__init__(max_workers=max_workers, thread_name_prefix="fastbias")
        self._running: set[int] = set()
        self._running_lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(self._tracked, fn, args, kwargs)

    def _tracked(self, fn, args, kwargs):
        ident = threading.get_ident()
        with self._running_lock:
            self._running.add(ident)
        try:
            return fn(*args, **kwargs)
        finally:
            with self._running_lock:
                self._running.discard(ident)
                # A stop request sent just as the task ended must not fire in the pool's
                # own code: clear it (no new one comes, the thread is no longer listed).
                _set_async_exc(ident, None)

    def stop_running(self) -> None:
        """Raise :class:`_Stopped` in every thread that runs a task."""
        with self._running_lock:
            for ident in self._running:
                _set_async_exc(ident, _Stopped)


def _process_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _watch_parent(connection) -> None:
    """Worker thread: exit the process when the pool's owner dies (its end of the pipe closes)."""
    try:
        connection.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _process_initializer(connection, initializer, initargs) -> None:
    """Set up a worker process: no SIGINT, exit with the owner, then the caller's initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the owner's business
    threading.Thread(
        target=_watch_parent, args=(connection,), daemon=True, name="fastbias-watch-owner"
    ).start()
    if initializer is not None:
        initializer(*initargs)


class _ProcessPool(cf.ProcessPoolExecutor):
    """A process pool whose workers die with this process and can be terminated."""

    def __init__(self, max_workers: int, initializer=None, initargs=()):
        context = _process_context()
        # Only this process holds the sending end: when it dies, even by SIGKILL, the
        # workers see the pipe close and exit.
        self._watch_recv, self._watch_send = context.Pipe(duplex=False)
        super().__init__(
            max_workers=max_workers,
            mp_context=context,
            initializer=_process_initializer,
            initargs=(self._watch_recv, initializer, initargs),
        )

    def workers(self) -> list:
        """The live worker processes (``multiprocessing.Process``)."""
        # ProcessPoolExecutor keeps its workers in _processes (no public accessor before
        # Python 3.14's terminate_workers); read it defensively.
        processes = getattr(self, "_processes", None) or {}
        return list(processes.values())

    def terminate_workers(self) -> None:
        """Terminate every worker (SIGTERM, then SIGKILL after a timeout) and wait for it."""
        workers = self.workers()
        for process in workers:
            with contextlib.suppress(Exception):
                process.terminate()
        for process in workers:
            with contextlib.suppress(Exception):
                process.join(_JOIN_TIMEOUT)
                if process.is_alive():
                    process.kill()
                    process.join(_JOIN_TIMEOUT)

    def close_watch(self) -> None:
        for end in (self._watch_send, self._watch_recv):
            with contextlib.suppress(Exception):
                end.close()


@contextlib.contextmanager
def executor_for(
    executor=None,
    max_workers: int | None = None,
    tasks: int | None = None,
    *,
    initializer: Callable | None = None,
    initargs: tuple = (),
):
    """The executor to run tasks on, as a context manager; None for ``"serial"``.

    Parameters
    ----------
    executor : {"threads", "processes", "serial"}, concurrent.futures.Executor or None
        None means ``"threads"``. A pool made here (threads or processes) is shut down on
        exit; a given Executor is used as it is and never shut down.
    max_workers : int, optional
        Size of a pool made here, >= 1; default the CPUs of this process.
    tasks : int, optional
        Number of tasks: a pool made here gets at most that many workers.
    initializer : callable, optional
        Called with ``initargs`` in each worker process when it starts (``"processes"``
        only: threads share this process, which the caller prepares itself).

    Notes
    -----
    On a normal exit the pool is shut down after its tasks finish. When the block raises
    (KeyboardInterrupt or any exception), the tasks not yet started are cancelled, running
    threads are stopped at their next chunk boundary and worker processes are terminated;
    then the exception goes on.
    """
    kind, max_workers = check_executor(executor, max_workers)
    if not isinstance(kind, str):
        yield kind
        return
    if kind == "serial":
        yield None
        return
    workers = max_workers or cpu_count()
    if tasks is not None:
        workers = max(1, min(workers, tasks))
    pool = (
        _ThreadPool(workers) if kind == "threads" else _ProcessPool(workers, initializer, initargs)
    )
    try:
        yield pool
    except BaseException:
        _abandon(pool)
        raise
    else:
        pool.shutdown(wait=True)
        if isinstance(pool, _ProcessPool):
            pool.close_watch()


def _abandon(pool) -> None:
    """Cancel what has not started, stop what runs, and leave nothing behind."""
    if isinstance(pool, _ThreadPool):
        pool.shutdown(wait=False, cancel_futures=True)
        pool.stop_running()
        pool.shutdown(wait=True)
        return
    pool.terminate_workers()
    pool.shutdown(wait=True, cancel_futures=True)
    pool.close_watch()


# --------------------------------------------------------------------------------------------
# Running tasks
# --------------------------------------------------------------------------------------------


class Outcome(NamedTuple):
    """What became of one task: its ``key``, and its ``value`` or the ``error`` it raised."""

    key: Any
    value: Any = None
    error: BaseException | None = None


def run_tasks(executor, fn: Callable, tasks: Iterable[tuple[Any, tuple]]) -> Iterator[Outcome]:
    """Run ``fn(*args)`` for each ``(key, args)`` of ``tasks``; iterate over the outcomes.

    Parameters
    ----------
    executor : concurrent.futures.Executor or None
        As given by :func:`executor_for`. With an executor every task is submitted now and
        the outcomes come as the tasks finish; None runs each task in this thread when the
        iterator asks for the next outcome (in the order of ``tasks``).
    fn : callable
        The task; must be picklable for process pools (a module-level function).
    tasks : iterable of (key, tuple)

    Returns
    -------
    iterator of Outcome
        ``error`` holds the exception of a failed task (an ``Exception`` raised by ``fn`` or
        by the executor, e.g. a lost worker). A ``KeyboardInterrupt`` (or another
        ``BaseException``) is raised, not yielded.

    Notes
    -----
    Close the iterator (``contextlib.closing``) or exhaust it: when it is closed early or an
    exception leaves it, the tasks that have not started are cancelled. Stopping running
    tasks is the business of :func:`executor_for`, which owns the pool.
    """
    if executor is None:
        return _serial_outcomes(fn, tasks)
    futures: dict[cf.Future, Any] = {}
    try:
        for key, args in tasks:
            futures[executor.submit(fn, *args)] = key
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return _OutcomesAsCompleted(futures)


def _serial_outcomes(fn, tasks) -> Iterator[Outcome]:
    for key, args in tasks:
        try:
            value = fn(*args)
        except Exception as exc:  # noqa: BLE001 (reported to the caller)
            yield Outcome(key, error=exc)
        else:
            yield Outcome(key, value)


class _OutcomesAsCompleted:
    """Outcomes of submitted futures as they finish; closing it cancels those not started."""

    def __init__(self, futures: dict):
        self._futures = futures  # future -> key, for the futures not yet reported
        self._completed = cf.as_completed(list(futures))

    def __iter__(self):
        return self

    def __next__(self) -> Outcome:
        try:
            future = next(self._completed)
        except StopIteration:
            raise
        except BaseException:  # e.g. KeyboardInterrupt while waiting
            self.close()
            raise
        key = self._futures.pop(future)
        try:
            return Outcome(key, future.result())
        except (Exception, cf.CancelledError) as exc:  # noqa: BLE001 (task or transport)
            return Outcome(key, error=exc)

    def close(self) -> None:
        """Cancel the tasks that have not started (running ones go on)."""
        for future in self._futures:
            future.cancel()
        self._completed.close()

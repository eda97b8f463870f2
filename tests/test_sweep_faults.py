"""Sweeps under faults: failing writes, interruptions, killed sweeps, plain scripts (SPEC 10).

Each test here would have caught one of the failures reported in issues 12 and 13: one failed
write aborting a whole sweep, an interrupted sweep writing no table, the README's sweep
failing in a script without a ``__main__`` guard, killed sweeps leaving processes behind.
"""

import concurrent.futures as cf
import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import fastbias as fb
import fastbias.trajectory
from fastbias import _parallel
from fastbias.sweep import TABLE_NAME, SweepResult, config_key, grid, sweep

GAUSS = fb.datasets.gaussian(n=6, d=8, seed=2)


def read_table(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def configs_six():
    return grid(
        data=GAUSS,
        optimizer=[fb.IncAdam(), fb.DetAdam()],
        seed=[0, 1, 2],
        epochs=40,
        lr=fb.Constant(0.05),
    )


def fastbias_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fastbias")]


# --------------------------------------------------------------------------------------------
# Failed writes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", [None, "serial"])
def test_a_failed_write_is_that_configs_error_and_the_others_are_kept(
    tmp_path, monkeypatch, executor
):
    configs = configs_six()
    victim = config_key(configs[2])
    real = fastbias.trajectory.atomic_savez

    def disk_full_for_one(path, arrays):
        if Path(path).name == f"{victim}.npz":
            raise OSError(28, "No space left on device")
        return real(path, arrays)

    monkeypatch.setattr(fastbias.trajectory, "atomic_savez", disk_full_for_one)
    result = sweep(configs, executor, out=tmp_path)
    assert result.failed == [2]
    row = result.table[2]
    assert row["error_type"] == "OSError"
    assert "the run finished but its result could not be saved to" in row["error"]
    assert victim in row["error"] and "No space left on device" in row["error"]
    assert result.trajectories[2] is not None  # computed, kept in memory
    saved = sorted(p.stem for p in tmp_path.glob("*.npz"))
    assert saved == sorted(result.keys[i] for i in range(6) if i != 2)
    table = read_table(tmp_path / TABLE_NAME)
    assert [r["status"] for r in table] == ["ok", "ok", "error", "ok", "ok", "ok"]
    assert not list(tmp_path.glob(".*.tmp"))
    # the next run computes the missing result only
    monkeypatch.undo()
    executor = InlineExecutor()
    again = sweep(configs, executor, out=tmp_path)
    assert executor.tasks == 1 and not again.failed


def test_a_table_that_cannot_be_written_loses_no_result(tmp_path, monkeypatch):
    import importlib

    sweep_module = importlib.import_module("fastbias.sweep")  # the module, not fb.sweep

    def disk_full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sweep_module, "atomic_write_text", disk_full)
    with pytest.warns(
        RuntimeWarning,
        match=r"table could not be written .* the results are "
        r"returned",
    ):
        result = sweep(configs_six(), "serial", out=tmp_path)
    assert not result.failed and all(tr is not None for tr in result.trajectories)
    assert "No space left on device" in result.table_error
    assert len(list(tmp_path.glob("*.npz"))) == 6  # every run is saved
    assert not (tmp_path / TABLE_NAME).exists()


class InlineExecutor(cf.Executor):
    def __init__(self):
        self.tasks = 0

    def submit(self, fn, /, *args, **kwargs):
        self.tasks += 1
        future = cf.Future()
        future.set_result(fn(*args, **kwargs))
        return future


FSIZE_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import fastbias as fb

    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))  # bytes per file
    ds = fb.datasets.gaussian(n=6, d=8, seed=2)
    small = fb.grid(data=ds, optimizer=fb.IncAdam(), seed=[0, 1, 2], epochs=30, record=1)
    big = fb.grid(data=ds, optimizer=fb.IncAdam(), seed=[3, 4], epochs=2000,
                  record=[list(range(2000))])  # 2000 records of 8 floats: > 100 kB
    result = fb.sweep(small[:2] + big + small[2:], out=sys.argv[1], progress=False)
    print(json.dumps([[r["status"], r["error_type"], r["error"]] for r in result.table]))
    """
)


def test_a_file_size_limit_loses_no_other_result(tmp_path):
    """Issue 13: with a small RLIMIT_FSIZE one sweep of 5 raised OSError and kept 1 file."""
    if not hasattr(os, "fork"):
        pytest.skip("POSIX only")
    script = tmp_path / "fsize.py"
    script.write_text(FSIZE_SCRIPT)
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert [r[0] for r in rows] == ["ok", "ok", "error", "error", "ok"]
    for _status, error_type, error in rows[2:4]:
        assert error_type == "OSError" and "File too large" in error
    assert len(list(out.glob("*.npz"))) == 3
    assert [r["status"] for r in read_table(out / TABLE_NAME)] == [r[0] for r in rows]
    assert not list(out.glob(".*.tmp"))


# --------------------------------------------------------------------------------------------
# Interruptions in this process
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["threads", "serial"])
def test_keyboard_interrupt_writes_the_table_of_finished_rows(tmp_path, monkeypatch, executor):
    configs = configs_six()
    real, saves = fastbias.trajectory.atomic_savez, []

    def interrupted_at_the_third(path, arrays):
        if len(saves) == 2:
            raise KeyboardInterrupt
        saves.append(Path(path).stem)
        return real(path, arrays)

    monkeypatch.setattr(fastbias.trajectory, "atomic_savez", interrupted_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        sweep(configs, executor, out=tmp_path, max_workers=2 if executor == "threads" else None)
    table = read_table(tmp_path / TABLE_NAME)
    assert [int(r["index"]) for r in table] == list(range(len(configs)))  # every config
    assert sorted(r["key"] for r in table if r["status"] == "ok") == sorted(saves)
    assert [r["status"] for r in table].count("not run") == len(configs) - 2
    assert all(r["final_log_loss"] == "" for r in table if r["status"] == "not run")
    loaded = SweepResult.load(tmp_path)
    assert len(loaded.not_run) == 4 and not loaded.failed
    assert repr(loaded) == "SweepResult(configs=6, ok=2, failed=0, not run=4)"
    assert sorted(p.stem for p in tmp_path.glob("*.npz")) == sorted(saves)
    assert not fastbias_threads()  # the pool is gone, nothing runs on
    monkeypatch.undo()
    executor_ = InlineExecutor()
    resumed = sweep(configs, executor_, out=tmp_path)
    assert executor_.tasks == 4 and not resumed.failed
    assert sum(resumed.reused) == 2


def test_an_exception_in_the_caller_stops_the_running_threads():
    """A thread cannot be killed: a running task is stopped at its next chunk boundary."""
    started = threading.Event()

    def endless(_):
        started.set()
        while True:  # Python code, like simulate's chunk loop between kernel calls
            time.sleep(0.001)

    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="caller failed"):
        with _parallel.executor_for("threads", 2, 4) as executor:
            outcomes = _parallel.run_tasks(executor, endless, [(i, (i,)) for i in range(4)])
            started.wait(5)
            outcomes.close()
            raise RuntimeError("caller failed")
    assert time.perf_counter() - start < 5
    assert not fastbias_threads()


def test_run_tasks_yields_errors_and_cancels_what_has_not_started():
    def task(x):
        if x == 1:
            raise ValueError("bad one")
        time.sleep(0.05)
        return x * 10

    with _parallel.executor_for("threads", 1, 5) as executor:
        outcomes = _parallel.run_tasks(executor, task, [(i, (i,)) for i in range(5)])
        first = next(outcomes)
        second = next(outcomes)
        outcomes.close()  # the caller stops: tasks 3 and 4 never start
    assert first == (0, 0, None)
    assert second.key == 1 and isinstance(second.error, ValueError)
    serial = list(_parallel.run_tasks(None, task, [(i, (i,)) for i in range(3)]))
    assert [o.key for o in serial] == [0, 1, 2] and serial[2].value == 20


def test_executor_for_leaves_a_given_executor_alone_and_validates():
    with cf.ThreadPoolExecutor(1) as pool:
        with _parallel.executor_for(pool) as executor:
            assert executor is pool
        assert pool.submit(int, "3").result() == 3
    with _parallel.executor_for("serial") as executor:
        assert executor is None
    with pytest.raises(ValueError, match=r"max_workers applies only"):
        with _parallel.executor_for("serial", 2):
            pass


# --------------------------------------------------------------------------------------------
# Scripts in a subprocess
# --------------------------------------------------------------------------------------------


README_SCRIPT = textwrap.dedent(
    """
    import fastbias as fb

    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    optimizers = [fb.IncAdam(batch_size=b, sampling="reshuffle") for b in (1, 2, 5)]
    configs = fb.grid(data=data, optimizer=optimizers, seed=range(4), epochs=300)
    result = fb.sweep(configs, out="sweep/")
    result.table
    result.to_csv("sweep.csv")
    print(" ".join(row["status"] for row in result.table))
    """
)


def test_readme_sweep_as_a_script_without_main_guard(tmp_path):
    """Issue 12: the README's sweep pasted into a script failed in every row."""
    (tmp_path / "script.py").write_text(README_SCRIPT)
    run = subprocess.run(
        [sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["ok"] * 12
    assert run.stderr == ""  # no progress bar when nobody watches, no warnings
    assert len(list((tmp_path / "sweep").glob("*.npz"))) == 12
    assert len(read_table(tmp_path / "sweep" / TABLE_NAME)) == 12
    assert len(read_table(tmp_path / "sweep.csv")) == 12


LONG_SCRIPT = textwrap.dedent(
    """
    import sys
    import fastbias as fb

    if __name__ == "__main__":
        data = fb.datasets.gaussian(n=10, d=50, seed=0)
        quick = fb.grid(data=data, optimizer=fb.IncAdam(), seed=[0, 1], epochs=1000, record=1)
        # about a minute each: still running when the test stops the sweep
        slow = fb.grid(data=data, optimizer=fb.IncAdam(), seed=[2, 3, 4, 5], epochs=6 * 10**7,
                       record=1)
        fb.sweep(quick + slow, sys.argv[1], out=sys.argv[2], max_workers=2, progress=False)
    """
)


def process_tree() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, command line), with psutil or from /proc."""
    try:
        import psutil
    except ImportError:
        psutil = None
    tree = {}
    if psutil is not None:
        for p in psutil.process_iter():
            try:
                tree[p.pid] = (p.ppid(), " ".join(p.cmdline()))
            except psutil.Error:
                pass
        return tree
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmd = Path(f"/proc/{entry}/cmdline").read_text().replace("\0", " ")
                tree[int(entry)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd)
            except (OSError, ValueError, IndexError):
                pass
    return tree


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``: pid -> command line."""
    tree = process_tree()
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, cmd) in tree.items():
            if ppid == parent and child not in found:
                found[child] = cmd
                frontier.append(child)
    return found


def pool_workers(pid: int) -> list[int]:
    """The forkserver's children below ``pid`` (the worker processes of a pool)."""
    tree = process_tree()
    servers = {c for c, (ppid, cmd) in tree.items() if ppid == pid and "forkserver" in cmd}
    return [c for c, (ppid, _) in tree.items() if ppid in servers]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state != "Z"


def start_long_sweep(tmp_path, executor):
    (tmp_path / "long.py").write_text(LONG_SCRIPT)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "long.py", executor, str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(list(out.glob("*.npz"))) < 2:  # the quick runs are done, the slow ones run
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep did not start"
        time.sleep(0.05)
    time.sleep(0.3)
    return proc, out


def assert_nothing_left(pids: dict[int, str]):
    deadline = time.monotonic() + 15
    while True:
        left = {pid: cmd for pid, cmd in pids.items() if alive(pid)}
        if not left:
            return
        assert time.monotonic() < deadline, f"processes left behind: {left}"
        time.sleep(0.1)


@pytest.mark.parametrize("executor", ["processes", "threads"])
def test_sigint_stops_the_sweep_and_writes_the_table_of_finished_rows(tmp_path, executor):
    proc, out = start_long_sweep(tmp_path, executor)
    below = descendants(proc.pid)
    if executor == "processes":
        assert len(pool_workers(proc.pid)) == 2
    stopped = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - stopped < 10  # the running minute-long runs were stopped
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    table = read_table(out / TABLE_NAME)
    statuses = [(r["index"], r["status"]) for r in table]
    assert statuses == [("0", "ok"), ("1", "ok")] + [(str(i), "not run") for i in range(2, 6)]
    done = sorted(r["key"] for r in table if r["status"] == "ok")
    assert sorted(p.stem for p in out.glob("*.npz")) == done
    assert_nothing_left(below)


@pytest.mark.parametrize("executor", ["processes", "threads"])
def test_sigterm_writes_the_table_and_ends_the_sweep_as_sigterm(tmp_path, executor):
    proc, out = start_long_sweep(tmp_path, executor)
    below = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM  # ended by the signal, as without the sweep
    table = read_table(out / TABLE_NAME)
    statuses = [(r["index"], r["status"]) for r in table]
    assert statuses == [("0", "ok"), ("1", "ok")] + [(str(i), "not run") for i in range(2, 6)]
    assert_nothing_left(below)


def test_sigkill_of_a_process_sweep_leaves_no_process_behind(tmp_path):
    """Issue 12: a killed sweep left the resource tracker, forkserver and workers behind."""
    proc, out = start_long_sweep(tmp_path, "processes")
    below = descendants(proc.pid)
    assert len(pool_workers(proc.pid)) == 2
    proc.kill()
    proc.communicate(timeout=30)
    assert_nothing_left(below)
    assert len(list(out.glob("*.npz"))) == 2  # what was saved stays


def test_a_killed_worker_is_retried_and_no_config_is_lost(tmp_path):
    """A worker that dies (OOM killer, kill -9) breaks the pool: its configs run once more."""
    ds = fb.datasets.gaussian(n=10, d=50, seed=0)
    epochs = 3_000 if os.environ.get("NUMBA_DISABLE_JIT", "0") == "1" else 1_500_000
    configs = grid(data=ds, optimizer=fb.IncAdam(), seed=[0, 1, 2], epochs=epochs, record=1)
    killed = []

    def kill_a_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = pool_workers(os.getpid())
            if len(workers) >= 2:
                time.sleep(0.5)
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    try:
        result = sweep(configs, "processes", max_workers=2)
    finally:
        killer.join()
    assert killed  # a worker was lost ...
    assert not result.failed, result.table  # ... and every config still has its result
    direct = fb.simulate(ds, fb.IncAdam(), seed=2, epochs=epochs, record=1, progress=False)
    assert result.trajectories[2].w.tobytes() == direct.w.tobytes()


def test_worker_processes_ignore_ctrl_c_and_die_with_their_owner():
    """Unit check of the process pool: workers ignore SIGINT, the owner's death ends them."""
    with _parallel.executor_for("processes", 1, 1) as pool:
        handler = pool.submit(signal.getsignal, signal.SIGINT).result()
        assert handler == signal.SIG_IGN
        assert "fastbias-watch-owner" in pool.submit(thread_names).result()


def thread_names() -> list[str]:
    """Names of the threads of the process that runs this (a worker)."""
    return [t.name for t in threading.enumerate()]

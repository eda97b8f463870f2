"""Sweeps: grids of configs, resolved keys, every executor, tables and result folders.

Faults (failing writes, interruptions, killed sweeps, scripts) are in test_sweep_faults.py.
"""

import concurrent.futures as cf
import csv
import math

import numpy as np
import pytest

import fastbias as fb
from fastbias._io import atomic_savez
from fastbias.checkpoints import read_checkpoint
from fastbias.sweep import (
    REFERENCES_DIR,
    STATES_DIR,
    TABLE_NAME,
    SweepResult,
    config_key,
    grid,
    sweep,
)

GAUSS = fb.datasets.gaussian(n=6, d=8, seed=2)
GR = fb.datasets.generalized_rademacher(n=6, d=8, seed=3)
MULTI = fb.datasets.gaussian_multiclass(n=9, d=5, k=3, seed=1)


def assert_same_trajectory(a, b):
    """Bitwise equality of two trajectories, records and parameters included."""
    for name in ("epochs", "w", "log_loss", "min_margin"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name
    assert a.params == b.params


def serial_runs(configs):
    """Direct simulate() calls: a Trajectory, or the exception a config raises."""
    out = []
    for config in configs:
        try:
            out.append(fb.simulate(**config, progress=False))
        except (ValueError, TypeError) as exc:
            out.append(exc)
    return out


def assert_matches_serial(result, configs):
    assert isinstance(result, SweepResult) and len(result) == len(configs)
    for i, expected in enumerate(serial_runs(configs)):
        row = result.table[i]
        assert row["index"] == i
        if isinstance(expected, Exception):
            assert result.trajectories[i] is None
            assert row["status"] == "error"
            assert row["error_type"] == type(expected).__name__
            assert row["error"] == str(expected)
        else:
            assert row["status"] == "ok" and row["error"] is None
            assert_same_trajectory(result.trajectories[i], expected)
            assert row["final_log_loss"] == expected.log_loss[-1]
            assert row["min_margin"] == expected.min_margin[-1]


def mixed_configs():
    """Ten valid configs across data kinds, optimizers, samplings and seeds, plus a failing one."""
    configs = grid(
        data=[GAUSS, GR],
        optimizer=[
            fb.IncAdam(sampling="reshuffle"),
            fb.IncSignum(batch_size=2, sampling="replacement"),
        ],
        seed=[0, 1],
        epochs=300,
        record=3,
    )
    configs.append(
        dict(
            data=GAUSS,
            optimizer=fb.AdamProxy(),
            epochs=200,
            loss="logistic",
            lr=fb.PolynomialDecay(0.05, 0.8),
            record=[0, 10, 50],
        )
    )
    configs.append(
        dict(
            data=MULTI,
            optimizer=fb.Muon(batch_size=1, sampling="reshuffle"),
            epochs=60,
            seed=3,
            record=2,
        )
    )
    configs.insert(3, dict(data=GAUSS, optimizer=fb.IncAdam(batch_size=7), epochs=10))
    return configs


# --------------------------------------------------------------------------------------------
# grid and config keys
# --------------------------------------------------------------------------------------------


def test_grid_is_a_cartesian_product_with_fixed_values():
    w0 = np.ones(8)
    configs = grid(
        data=GAUSS, seed=range(3), loss=("exp", "logistic"), epochs=5, record=[[0, 2]], w0=w0
    )
    assert len(configs) == 6
    assert [(c["seed"], c["loss"]) for c in configs] == [
        (0, "exp"),
        (0, "logistic"),
        (1, "exp"),
        (1, "logistic"),
        (2, "exp"),
        (2, "logistic"),
    ]
    for c in configs:
        assert c["data"] is GAUSS and c["w0"] is w0 and c["record"] == [0, 2] and c["epochs"] == 5


def test_config_key_is_the_fully_resolved_configuration():
    base = dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=20, record=[0, 5])
    key = config_key(base)
    assert len(key) == 32 and int(key, 16) >= 0
    unnamed = fb.Dataset(np.array(GAUSS.X), np.array(GAUSS.y))  # same content, no label
    assert unnamed.label != GAUSS.label
    same = [
        dict(base, data=unnamed),
        dict(base, record=np.array([5, 0, 5])),
        dict(base, epochs=np.int64(20)),
        dict(base, loss="exp", seed=0, w0=None, lr=None),  # the simulate() defaults
        dict(base, lr=fb.PolynomialDecay(0.1, 0.5)),  # IncAdam's default schedule, explicit
        dict(base, chunk_epochs=3),  # does not change the result
    ]
    assert all(config_key(c) == key for c in same)
    w0_float = np.tile([0.0, 1.0], 4)
    assert config_key(dict(base, w0=[0, 1] * 4)) == config_key(dict(base, w0=w0_float))
    different = [
        dict(base, seed=1),
        dict(base, epochs=21),
        dict(base, data=GR),
        dict(base, optimizer=fb.IncAdam(beta2=0.99)),
        dict(base, lr=fb.PolynomialDecay(0.5)),
        dict(base, lr=fb.Constant(0.1)),
        dict(base, w0=np.ones(8)),
        dict(base, record=[0, 6]),
        dict(base, record=5),
        dict(base, loss="logistic"),
    ]
    keys = {config_key(c) for c in different}
    assert key not in keys and len(keys) == len(different)
    # each optimizer's own default: GD's is Constant(0.1), not the decay
    gd = dict(data=GAUSS, optimizer=fb.GD(), epochs=20)
    assert config_key(gd) == config_key(dict(gd, lr=fb.Constant(0.1)))
    assert config_key(gd) != config_key(dict(gd, lr=fb.PolynomialDecay()))


def test_config_key_refuses_what_it_cannot_key():
    with pytest.raises(TypeError, match=r"lr=.* has no stored form"):
        config_key(dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=5, lr=lambda t: 0.1))
    with pytest.raises(ValueError, match=r"batch_size must be in \[1, n\]"):
        config_key(dict(data=GAUSS, optimizer=fb.IncAdam(batch_size=9), epochs=5))
    with pytest.raises(TypeError, match=r"which a sweep manages itself"):
        config_key(dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=5, progress=True))


def test_lr_none_and_the_explicit_default_run_once_and_share_a_file(tmp_path):
    configs = [
        dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=40),
        dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=40, lr=fb.PolynomialDecay(0.1, 0.5)),
    ]
    executor = InlineExecutor()
    result = sweep(configs, executor, out=tmp_path)
    assert executor.tasks == 1 and result.keys[0] == result.keys[1]
    assert [p.name for p in tmp_path.glob("*.npz")] == [f"{result.keys[0]}.npz"]
    assert_matches_serial(result, configs)
    row = result.table[0]
    assert row["lr"] == "PolynomialDecay" and (row["lr.eta0"], row["lr.power"]) == (0.1, 0.5)


# --------------------------------------------------------------------------------------------
# Executors: all bitwise equal to serial simulate() calls
# --------------------------------------------------------------------------------------------


def test_serial_sweep_equals_simulate_and_reports_failures():
    configs = mixed_configs()
    result = sweep(configs, executor="serial")
    assert_matches_serial(result, configs)
    assert result.failed == [3]
    assert "batch_size must be in [1, n]" in result.table[3]["error"]
    assert result.reused == [False] * len(configs)
    assert repr(result) == f"SweepResult(configs={len(configs)}, ok={len(configs) - 1}, failed=1)"


def test_default_executor_is_threads_and_equals_serial():
    configs = mixed_configs()
    result = sweep(configs)  # threads
    assert_matches_serial(result, configs)
    assert result.table == sweep(configs, executor="serial").table
    assert sweep(configs, "threads", max_workers=1).table == result.table


@pytest.mark.parametrize("executor", ["threads", "processes", "serial"])
def test_threads_processes_and_serial_are_bitwise_identical(executor):
    configs = grid(
        data=[GAUSS, MULTI],
        optimizer=[fb.IncAdam(sampling="reshuffle"), fb.Lion(batch_size=2, sampling="replacement")],
        seed=[0, 5],
        epochs=150,
        record=4,
    )
    result = sweep(configs, executor, max_workers=None if executor == "serial" else 2)
    assert not result.failed
    assert_matches_serial(result, configs)


def test_kernels_release_the_gil_so_threads_run_in_parallel():
    """While a worker thread is inside one long kernel call, this thread keeps running.

    A kernel that held the GIL would block this thread for the whole call (~0.5 s); timing
    gaps rather than throughput keeps the test stable on a loaded machine.
    """
    import os
    import threading
    import time

    if os.environ.get("NUMBA_DISABLE_JIT", "0") == "1":
        pytest.skip("without the JIT the kernels are Python code and hold the GIL")
    ds = fb.datasets.gaussian(n=10, d=50, seed=0)
    epochs = 400_000
    config = dict(
        data=ds, optimizer=fb.IncAdam(), epochs=epochs, record=[0], chunk_epochs=epochs
    )  # one kernel call
    start = time.perf_counter()
    fb.simulate(**config, progress=False)
    call = time.perf_counter() - start
    worker = threading.Thread(target=fb.simulate, kwargs=dict(config, progress=False))
    worker.start()
    gap, last = 0.0, time.perf_counter()
    while worker.is_alive():
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    worker.join()
    assert gap < 0.5 * call, (gap, call)


class InlineExecutor(cf.Executor):
    """A minimal executor that runs each task when it is submitted and counts the tasks."""

    def __init__(self, fail=False):
        self.tasks = 0
        self.fail = fail

    def submit(self, fn, /, *args, **kwargs):
        self.tasks += 1
        future = cf.Future()
        if self.fail and self.tasks == 2:  # the transport loses the second task
            future.set_exception(RuntimeError("worker lost"))
        else:
            future.set_result(fn(*args, **kwargs))
        return future


def test_any_executor_and_identical_configs_run_once():
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(sampling="reshuffle"), seed=[0, 1], epochs=50)
    configs = configs + [dict(c, chunk_epochs=7) for c in configs]  # same runs again
    executor = InlineExecutor()
    result = sweep(configs, executor=executor)
    assert executor.tasks == 2
    assert_matches_serial(result, configs)
    assert result.trajectories[0] is result.trajectories[2]


def test_equal_data_under_another_name_share_the_run_but_keep_their_own_label():
    unnamed = fb.Dataset(np.array(GAUSS.X), np.array(GAUSS.y))
    configs = [
        dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=30),
        dict(data=unnamed, optimizer=fb.IncAdam(), epochs=30),
    ]
    executor = InlineExecutor()
    result = sweep(configs, executor)
    assert executor.tasks == 1
    assert_matches_serial(result, configs)  # params (data_label) included
    assert result.table[0]["data"] == "gaussian(n=6, d=8, seed=2)"
    assert result.table[1]["data"] == unnamed.label
    assert (
        result.table[0]["fingerprint"] == result.table[1]["fingerprint"] == GAUSS.fingerprint[:16]
    )


def test_a_lost_task_is_reported_and_the_others_finish():
    configs = [
        dict(data=GAUSS, optimizer=fb.DetAdam(), epochs=40, lr=fb.Constant(eta))
        for eta in (0.1, 0.2, 0.3)
    ]
    result = sweep(configs, executor=InlineExecutor(fail=True))
    assert result.failed == [1]
    assert result.table[1]["error_type"] == "RuntimeError"
    assert result.table[1]["error"] == "worker lost"
    for i in (0, 2):
        assert_same_trajectory(result.trajectories[i], fb.simulate(**configs[i]))


def test_a_given_executor_is_not_shut_down():
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(), seed=[0, 1], epochs=30)
    with cf.ThreadPoolExecutor(2) as pool:
        first = sweep(configs, pool)
        second = sweep(configs, pool)  # still usable
        assert pool.submit(lambda: 7).result() == 7
    assert first.table == second.table


def test_a_plain_function_lr_runs_without_out_and_is_refused_with_out(tmp_path):
    def schedule(t):
        return 0.1 / np.sqrt(t + 2.0)

    configs = [
        dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=40, lr=schedule),
        dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=40, lr=lambda t: 0.05 + 0 * t),
    ]
    result = sweep(configs)
    assert not result.failed and result.keys[0] != result.keys[1]  # never shared
    assert_matches_serial(result, configs)
    assert result.table[0]["lr"].startswith("function ") and "schedule" in result.table[0]["lr"]
    with pytest.raises(TypeError, match=r"configs\[0\]: lr=.*has no stored form.*without out"):
        sweep(configs, out=tmp_path / "res")
    assert not (tmp_path / "res").exists()  # refused before anything was made or run


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_local_cluster_equals_serial_run(dask_client):
    configs = mixed_configs()
    result = sweep(configs, executor=dask_client.get_executor())
    assert_matches_serial(result, configs)
    assert result.table == sweep(configs, executor="serial").table
    assert result.failed == [3]


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


def test_table_columns_and_metrics():
    configs = mixed_configs()
    result = sweep(configs, executor="serial")
    assert result.columns[:3] == ("index", "key", "status")
    assert all(tuple(row) == result.columns for row in result.table)
    row, tr = result.table[0], result.trajectories[0]
    w = tr.w[-1]
    assert row["data"] == "gaussian(n=6, d=8, seed=2)"  # readable, plus the content hash
    assert row["fingerprint"] == GAUSS.fingerprint[:16]
    assert (row["kind"], row["n"], row["d"], row["k"]) == ("binary", 6, 8, None)
    assert result.table[5]["data"] == GR.label and GR.label.startswith("generalized_rademacher(")
    assert row["optimizer"] == "IncAdam" and row["optimizer.sampling"] == "reshuffle"
    assert row["optimizer.beta"] is None  # an IncSignum parameter
    assert row["lr"] == "PolynomialDecay" and row["lr.eta0"] == 0.1  # the default, resolved
    assert row["seed"] == 0 and row["record"] == 3 and row["loss"] == "exp"
    assert row["key"] == config_key(configs[0])
    assert row["final_epoch"] == 300
    assert math.isclose(row["norm_l2"], np.linalg.norm(w), rel_tol=1e-15)
    assert math.isclose(row["margin_l2"], tr.min_margin[-1] / np.linalg.norm(w), rel_tol=1e-15)
    assert row["margin_linf"] == tr.min_margin[-1] / np.max(np.abs(w))
    assert row["margin_l2"] > 0 and row["margin_max"] is None
    proxy = result.table[-2]
    assert proxy["lr"] == "PolynomialDecay" and proxy["lr.power"] == 0.8
    assert proxy["record"] == "[0, 10, 50]" and proxy["loss"] == "logistic"
    failed = result.table[3]
    assert failed["status"] == "error" and failed["error_type"] == "ValueError"
    assert failed["key"] is None and failed["data"] == row["data"]
    assert all(failed[name] is None for name in ("final_log_loss", "min_margin", "norm_l2"))


def test_multiclass_rows_have_margins_per_matrix_norm():
    configs = mixed_configs()
    result = sweep(configs)
    row, tr = result.table[-1], result.trajectories[-1]
    W = tr.w[-1]
    assert (row["kind"], row["n"], row["d"], row["k"]) == ("multiclass", 9, 5, 3)
    assert row["data"] == "gaussian_multiclass(n=9, d=5, k=3, seed=1)"
    assert row["loss"] == "ce" and row["optimizer"] == "Muon"
    assert row["margin_max"] == tr.min_margin[-1] / np.max(np.abs(W))
    assert math.isclose(row["margin_fro"], tr.min_margin[-1] / np.linalg.norm(W), rel_tol=1e-15)
    assert math.isclose(
        row["margin_spectral"], tr.min_margin[-1] / np.linalg.norm(W, 2), rel_tol=1e-15
    )
    assert row["margin_l2"] is None and row["margin_linf"] is None
    only_multiclass = sweep([configs[-1]], "serial")
    assert "margin_l2" not in only_multiclass.columns
    assert {"margin_max", "margin_fro", "margin_spectral"} <= set(only_multiclass.columns)


def test_rows_compare_the_final_iterate_with_reference_solutions():
    configs = mixed_configs()
    result = sweep(configs, "serial")
    binary = ("cosine_l2", "margin_ratio_l2", "cosine_linf", "margin_ratio_linf")
    matrix = ("cosine_max", "margin_ratio_max", "cosine_fro", "margin_ratio_fro")
    assert set(binary + matrix + ("cosine_spectral", "margin_ratio_spectral")) <= set(
        result.columns
    )
    for i in (0, 5):
        row, w, data = result.table[i], result.trajectories[i].w[-1], configs[i]["data"]
        for p, key in ((2.0, "l2"), (math.inf, "linf")):
            mm = fb.max_margin(data, p=p)
            u = np.asarray(mm.w)
            cos = float(w @ u) / (np.linalg.norm(w) * np.linalg.norm(u))
            assert math.isclose(row[f"cosine_{key}"], cos, rel_tol=1e-12)
            gamma = np.min((data.X * data.y[:, None]) @ w) / np.linalg.norm(w, p)
            assert math.isclose(row[f"margin_ratio_{key}"], gamma / mm.margin, rel_tol=1e-12)
        assert all(row[name] is None for name in matrix)
    row, W = result.table[-1], result.trajectories[-1].w[-1]
    mm = fb.max_margin(MULTI, norm="fro")
    cos = float(np.sum(W * mm.w)) / (np.linalg.norm(W) * np.linalg.norm(mm.w))
    assert math.isclose(row["cosine_fro"], cos, rel_tol=1e-12)
    assert row["cosine_l2"] is None and -1.0 <= row["margin_ratio_spectral"] <= 1.0 + 1e-9
    assert result.table[3]["cosine_l2"] is None  # the failed config


def test_references_are_chosen_solved_once_per_data_and_checked(monkeypatch):
    data = fb.datasets.gaussian(n=5, d=7, seed=91)  # not solved before in this process
    multi = fb.datasets.gaussian_multiclass(n=9, d=5, k=3, seed=91)
    calls = []
    original = fb.analysis.max_margin
    monkeypatch.setattr(
        fb.analysis, "max_margin", lambda *a, **kw: calls.append(kw) or original(*a, **kw)
    )
    configs = grid(data=[data, multi], optimizer=[fb.IncAdam(), fb.SignGD()], epochs=20)
    result = sweep(configs, "serial", references=["l1"])
    assert calls == [{"p": 1.0}, {"norm": "l1"}]  # once per data set, four runs
    sweep(configs, "serial", references=["l1"])
    assert len(calls) == 2  # and once per process
    assert [name for name in result.columns if name.startswith(("cosine", "margin_r"))] == [
        "cosine_l1",
        "margin_ratio_l1",
    ]
    assert all(isinstance(row["margin_ratio_l1"], float) for row in result.table)
    none = sweep(configs[:1], "serial", references=None)
    assert not [name for name in none.columns if name.startswith("cosine")]
    with pytest.raises(ValueError, match="unknown norm 'l7'"):
        sweep(configs, references=["l7"])
    with pytest.raises(ValueError, match="'spectral' is not a norm of binary data"):
        sweep(configs[:2], references="spectral")
    with pytest.raises(ValueError, match="'l2' is not a norm of multiclass data"):
        sweep(configs[2:], references=["l2", "fro"])
    aliases = sweep(configs[:1], "serial", references=["L2", "inf", "summary"])
    assert [name for name in aliases.columns if name.startswith("cosine")] == [
        "cosine_l2",
        "cosine_linf",
    ]
    with pytest.raises(TypeError, match="references"):
        sweep(configs, references=2)


def test_a_reference_that_cannot_be_solved_leaves_empty_cells():
    X = np.array([[1.0, 2.0], [-1.0, -2.0]])
    unseparable = fb.Dataset(X, np.array([1.0, 1.0]), check_separable=False)
    config = dict(data=unseparable, optimizer=fb.IncAdam(), epochs=5)
    with pytest.warns(RuntimeWarning, match="no max-margin solution of .* in l2, linf could"):
        result = sweep([config], "serial")
    assert result.table[0]["status"] == "ok" and result.table[0]["cosine_l2"] is None


def test_runs_that_end_unseparated_are_named_in_one_warning_and_a_column():
    X = np.array([[1.0, 2.0], [-1.0, -2.0]])
    unseparable = fb.Dataset(X, np.array([1.0, 1.0]), check_separable=False)
    configs = [
        dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=50),
        dict(data=unseparable, optimizer=fb.IncAdam(), epochs=5),
        dict(data=unseparable, optimizer=fb.SignGD(), epochs=5),
    ]
    with pytest.warns(fb.NotSeparatedWarning) as caught:
        result = sweep(configs, "threads", references=None)
    messages = [str(w.message) for w in caught if w.category is fb.NotSeparatedWarning]
    assert len(messages) == 1 and "2 run(s) ended" in messages[0] and "configs 1, 2;" in messages[0]
    assert [row["separated"] for row in result.table] == [True, False, False]


def test_csv_reads_back_exactly(tmp_path):
    configs = mixed_configs()
    result = sweep(configs, executor="serial")
    path = result.to_csv(tmp_path / "sub" / "table.csv")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == result.columns
    assert len(rows) == len(configs)
    for row, original in zip(rows, result.table, strict=True):
        assert row["status"] == original["status"] and row["key"] == (original["key"] or "")
        for name in ("final_log_loss", "min_margin", "margin_linf", "margin_fro"):
            if original[name] is None:
                assert row[name] == ""
            else:
                assert float(row[name]) == original[name]
    assert rows[3]["error"] == result.table[3]["error"]


def test_progress_bar_counts_configs_and_is_off_when_nobody_watches(capsys):
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(), seed=[0, 1, 2], epochs=20)
    sweep(configs, progress=True)
    err = capsys.readouterr().err
    assert "0/3" in err and "config/s" in err
    sweep(configs)  # default: stderr is not a terminal here
    assert capsys.readouterr().err == ""


def test_progress_default_follows_the_terminal(monkeypatch, capsys):
    import sys

    from fastbias import _parallel

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert _parallel.progress_default() is True
    monkeypatch.undo()
    assert _parallel.progress_default() is False


# --------------------------------------------------------------------------------------------
# Result folder: saved runs, CSV, re-running
# --------------------------------------------------------------------------------------------


def test_out_folder_saves_runs_and_a_rerun_reuses_them(tmp_path):
    configs = mixed_configs()
    first = sweep(configs, out=tmp_path)
    saved = sorted(p.name for p in tmp_path.glob("*.npz"))
    expected = sorted(f"{first.keys[i]}.npz" for i in range(len(configs)) if i not in first.failed)
    assert saved == expected
    for i, key in enumerate(first.keys):
        if first.trajectories[i] is not None:
            assert_same_trajectory(
                fb.Trajectory.load(tmp_path / f"{key}.npz"), first.trajectories[i]
            )
    assert (tmp_path / TABLE_NAME).read_text() == first.to_csv(tmp_path / "copy.csv").read_text()
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind

    executor = InlineExecutor()
    second = sweep(configs, executor=executor, out=tmp_path)
    assert executor.tasks == 0  # the failed config is invalid: it fails again without a run
    assert second.reused == [i not in first.failed for i in range(len(configs))]
    assert second.table == first.table
    for a, b in zip(first.trajectories, second.trajectories, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert_same_trajectory(a, b)

    (tmp_path / f"{first.keys[5]}.npz").unlink()
    executor = InlineExecutor()
    third = sweep(configs, executor=executor, out=tmp_path)
    assert executor.tasks == 1 and not third.reused[5]
    assert third.table == first.table


def test_a_file_saved_under_another_configs_key_is_not_reused(tmp_path):
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(), seed=[0, 1], epochs=30)
    keys = [config_key(c) for c in configs]
    # the (valid) result of config 1, saved under the name of config 0
    foreign = fb.simulate(**configs[1], progress=False)
    foreign.save(tmp_path / f"{keys[0]}.npz")
    before = (tmp_path / f"{keys[0]}.npz").read_bytes()
    result = sweep(configs, "serial", out=tmp_path)
    assert result.failed == [0] and result.reused == [True, False]
    message = result.table[0]["error"]
    assert "does not match its config: seed differs (file 1, config 0)" in message
    assert keys[0] in message and "delete the file" in message
    assert (tmp_path / f"{keys[0]}.npz").read_bytes() == before  # left untouched
    assert_same_trajectory(result.trajectories[1], foreign)


def test_a_file_of_another_default_is_not_reused(tmp_path):
    """The case of issue 13: a run with lr=PolynomialDecay(0.5) is not the default lr."""
    config = dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=30)
    other = fb.simulate(**config, lr=fb.PolynomialDecay(0.5), progress=False)
    other.save(tmp_path / f"{config_key(config)}.npz")
    result = sweep([config], "serial", out=tmp_path)
    assert result.failed == [0]
    assert "lr.eta0 differs (file 0.5, config 0.1)" in result.table[0]["error"]


def test_rerun_with_a_truncated_result_file_reports_it(tmp_path):
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(), seed=[0, 1], epochs=30)
    first = sweep(configs, executor="serial", out=tmp_path)
    path = tmp_path / f"{first.keys[0]}.npz"
    path.write_bytes(path.read_bytes()[:200])
    second = sweep(configs, executor="serial", out=tmp_path)
    assert second.failed == [0]
    assert second.table[0]["error_type"] == "ValueError"
    assert "corrupt" in second.table[0]["error"] and path.name in second.table[0]["error"]
    assert_same_trajectory(second.trajectories[1], first.trajectories[1])


def extension_configs(epochs):
    """Configs of every kind of state: reshuffled orders, mini-batches, momentum, a model."""
    return [
        dict(data=GAUSS, optimizer=fb.IncAdam(sampling="reshuffle"), epochs=epochs, seed=4),
        dict(data=GR, optimizer=fb.IncSignum(batch_size=2, sampling="replacement"), epochs=epochs),
        dict(data=MULTI, optimizer=fb.Muon(batch_size=2), epochs=epochs, record=3),
        dict(data=GAUSS, optimizer=fb.SignGD(), epochs=epochs, model=fb.DiagonalNet(depth=3)),
    ]


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_a_longer_sweep_continues_the_saved_states_bitwise(tmp_path, executor):
    short = sweep(extension_configs(40), executor, out=tmp_path)
    assert short.started == [0, 0, 0, 0] and not short.failed
    assert len(list((tmp_path / STATES_DIR).glob("*-40.npz"))) == 4
    longer = extension_configs(250)
    result = sweep(longer, executor, out=tmp_path)
    assert result.started == [40, 40, 40, 40] and result.reused == [False] * 4
    assert_matches_serial(result, longer)
    assert len(list((tmp_path / STATES_DIR).glob("*-250.npz"))) == 4
    again = sweep(longer, executor, out=tmp_path)  # the results are there: nothing runs
    assert again.reused == [True] * 4 and again.started == [None] * 4


def test_the_saved_state_is_what_a_longer_run_continues(tmp_path):
    """A state edited (with a valid checksum) changes the result: it is really continued."""
    config = dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=30)
    sweep([config], "serial", out=tmp_path)
    (path,) = (tmp_path / STATES_DIR).glob("*-30.npz")
    saved, arrays, _ = read_checkpoint(path)
    atomic_savez(path, {**arrays, "W": arrays["W"] * 2.0})
    edited = sweep([{**config, "epochs": 60}], "serial", out=tmp_path)
    straight = fb.simulate(**{**config, "epochs": 60}, progress=False)
    assert edited.started == [30]
    assert not np.array_equal(edited.trajectories[0].w[-1], straight.w[-1])


def test_configs_differing_only_in_epochs_run_as_one_chain():
    configs = grid(data=GAUSS, optimizer=[fb.IncAdam(), fb.DetAdam()], epochs=[300, 10, 60])
    result = sweep(configs, "serial")
    assert result.started == [60, 0, 10, 60, 0, 10]
    assert_matches_serial(result, configs)


def test_states_are_optional_and_an_unreadable_one_is_skipped(tmp_path):
    config = dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=20)
    sweep([config], "serial", out=tmp_path / "none", keep_states=False)
    assert not (tmp_path / "none" / STATES_DIR).exists()
    sweep([config], "serial", out=tmp_path / "kept")
    (path,) = (tmp_path / "kept" / STATES_DIR).glob("*.npz")
    path.write_bytes(path.read_bytes()[:300])
    longer = {**config, "epochs": 50}
    with pytest.warns(RuntimeWarning, match="cannot be continued"):
        result = sweep([longer], "serial", out=tmp_path / "kept")
    assert result.started == [0]
    assert_matches_serial(result, [longer])
    with pytest.raises(TypeError, match="keep_states"):
        sweep([config], keep_states=1)


def test_out_is_checked_before_any_run(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    executor = InlineExecutor()
    configs = [dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=5)]
    with pytest.raises(ValueError, match=r"out must be a folder"):
        sweep(configs, executor, out=a_file)
    with pytest.raises(ValueError, match=r"out .* cannot be created: .* is a file"):
        sweep(configs, executor, out=a_file / "sub")
    assert executor.tasks == 0


def test_bad_sweep_arguments():
    configs = [dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=5)]
    with pytest.raises(
        ValueError,
        match=r"executor must be None \(threads\), 'threads', "
        r"'processes', 'serial' .*; got 'thread'",
    ):
        sweep(configs, "thread")
    with pytest.raises(TypeError, match=r"concurrent.futures.Executor .*got 4"):
        sweep(configs, 4)
    with pytest.raises(ValueError, match=r"max_workers applies only to the default executor"):
        sweep(configs, "serial", max_workers=2)
    with pytest.raises(ValueError, match=r"max_workers must be an integer >= 1; got 0"):
        sweep(configs, "processes", max_workers=0)
    with pytest.raises(TypeError, match=r"progress must be True or False.*got 'no'"):
        sweep(configs, progress="no")


def test_sweep_result_load_reads_back_the_table_and_the_runs(tmp_path):
    configs = mixed_configs()
    first = sweep(configs, out=tmp_path)
    loaded = fb.SweepResult.load(tmp_path)
    assert loaded.columns == first.columns and loaded.keys == first.keys
    assert loaded.failed == first.failed and first.failed  # an error row too
    for row_loaded, row in zip(loaded.table, first.table, strict=True):
        assert row_loaded == {k: row.get(k) for k in first.columns}
    for tr_loaded, tr in zip(loaded.trajectories, first.trajectories, strict=True):
        if tr is None:
            assert tr_loaded is None
        else:
            np.testing.assert_array_equal(tr_loaded.w, tr.w)
            np.testing.assert_array_equal(tr_loaded.epochs, tr.epochs)
    with pytest.raises(FileNotFoundError, match=r"holds no sweep table 'sweep.csv'"):
        fb.SweepResult.load(tmp_path / "nothing")


def _edited_schedule(tmp_path, version: int, rate: str):
    """A user's schedule class ``EditedRate`` from a module file, as written at ``version``."""
    import importlib.util

    path = tmp_path / f"user_schedule_v{version}.py"
    path.write_text(
        "from dataclasses import dataclass\n"
        "import fastbias as fb\n\n\n"
        "@dataclass(frozen=True)\n"
        "class EditedRate(fb.Schedule):\n"
        "    eta: float = 0.05\n\n"
        "    def rate(self, t):\n"
        f"        return {rate}\n"
    )
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EditedRate


def test_a_users_schedule_edited_is_not_reused_continued_or_resumed(tmp_path):
    """The class name and fields are the same; its code is not: nothing old is taken for new."""
    old = _edited_schedule(tmp_path, 1, "self.eta / (t + 1) ** 0.5")
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(), lr=old(), epochs=[30, 60])
    first = sweep(configs, "serial", out=tmp_path / "out")
    assert first.started == [0, 30] and not first.failed
    fb.simulate(GAUSS, fb.IncAdam(), lr=old(), epochs=30, checkpoint=tmp_path / "ckpt.npz")

    new = _edited_schedule(tmp_path, 2, "self.eta")
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(), lr=new(), epochs=[60, 90])
    second = sweep(configs, "serial", out=tmp_path / "out")
    assert second.reused == [False, False] and second.started == [0, 60]
    assert_matches_serial(second, configs)
    with pytest.raises(ValueError, match=r"lr\.code differs"):
        fb.simulate(
            GAUSS, fb.IncAdam(), lr=new(), epochs=60, checkpoint=tmp_path / "ckpt.npz", resume=True
        )


def test_code_fingerprints_are_of_user_classes_only():
    assert "code" not in fb.PolynomialDecay(0.1, 0.5).to_dict()
    assert "code" not in fb.IncAdam().to_dict() and "code" not in fb.DiagonalNet().to_dict()
    assert fb.losses.get_loss("exp").to_stored() == "exp"


def test_a_class_without_source_is_fingerprinted_by_its_compiled_code():
    def define(rate):
        namespace = {}
        text = (
            "from dataclasses import dataclass\nimport fastbias as fb\n"
            "@dataclass(frozen=True)\nclass PromptRate(fb.Schedule):\n"
            f"    eta: float = 0.05\n    def rate(self, t):\n        return {rate}\n"
        )
        exec(compile(text, "<prompt>", "exec"), namespace)
        return namespace["PromptRate"]().to_dict()["code"]

    assert define("self.eta") != define("self.eta / (t + 1)") == define("self.eta / (t + 1)")


def test_reference_solutions_are_kept_in_out_for_later_sweeps(tmp_path, monkeypatch):
    data = fb.datasets.gaussian(n=5, d=7, seed=92)  # not solved before in this process
    multi = fb.datasets.gaussian_multiclass(n=9, d=5, k=3, seed=92)
    configs = grid(data=[data, multi], optimizer=fb.SignGD(), epochs=30)
    first = sweep(configs, "serial", out=tmp_path)
    saved = sorted(p.name for p in (tmp_path / REFERENCES_DIR).glob("*.npz"))
    assert len(saved) == 5  # l2, linf; max, fro, spectral
    fb.analysis._SOLUTIONS._items.clear()  # as in a new process

    def unavailable(*args, **kwargs):
        raise AssertionError("solved again")

    monkeypatch.setattr(fb.analysis, "max_margin", unavailable)
    again = sweep(configs, "serial", out=tmp_path)
    assert again.table == first.table
    monkeypatch.undo()
    damaged = tmp_path / REFERENCES_DIR / saved[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    fb.analysis._SOLUTIONS._items.clear()
    assert sweep(configs, "serial", out=tmp_path).table == first.table  # solved anew

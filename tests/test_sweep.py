"""Sweeps: grids of configs, any executor (serial, processes, a Dask cluster), result folders."""

import concurrent.futures as cf
import csv

import numpy as np
import pytest

import fastbias as fb
from fastbias.sweep import TABLE_NAME, SweepResult, config_key, grid, sweep

GAUSS = fb.datasets.gaussian(n=6, d=8, seed=2)
GR = fb.datasets.generalized_rademacher(n=6, d=8, seed=3)


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
            out.append(fb.simulate(**config))
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
    """Nine valid configs across data, optimizers, samplings and seeds, plus a failing one."""
    configs = grid(
        data=[GAUSS, GR],
        optimizer=[fb.IncAdam(sampling="reshuffle"), fb.IncSignum(batch_size=2,
                                                                   sampling="replacement")],
        seed=[0, 1],
        epochs=300,
        record=6,
    )
    configs.append(dict(data=GAUSS, optimizer=fb.AdamProxy(), epochs=200, loss="logistic",
                        lr=fb.PolynomialDecay(0.05, 0.8), record=[0, 10, 50]))
    configs.insert(3, dict(data=GAUSS, optimizer=fb.IncAdam(batch_size=7), epochs=10))
    return configs


# --------------------------------------------------------------------------------------------
# grid and config keys
# --------------------------------------------------------------------------------------------


def test_grid_is_a_cartesian_product_with_fixed_values():
    w0 = np.ones(8)
    configs = grid(data=GAUSS, seed=range(3), loss=("exp", "logistic"), epochs=5,
                   record=[[0, 2]], w0=w0)
    assert len(configs) == 6
    assert [(c["seed"], c["loss"]) for c in configs] == [
        (0, "exp"), (0, "logistic"), (1, "exp"), (1, "logistic"), (2, "exp"), (2, "logistic")
    ]
    for c in configs:
        assert c["data"] is GAUSS and c["w0"] is w0 and c["record"] == [0, 2] and c["epochs"] == 5


def test_config_key_identifies_the_run():
    base = dict(data=GAUSS, optimizer=fb.IncAdam(), epochs=20, record=[0, 5])
    key = config_key(base)
    assert len(key) == 32 and int(key, 16) >= 0
    copy = fb.Dataset(np.array(GAUSS.X), np.array(GAUSS.y))  # equal data, another object
    same = [
        dict(base, data=copy),
        dict(base, record=np.array([0, 5])),
        dict(base, epochs=np.int64(20)),
        dict(base, loss="exp", seed=0, w0=None, lr=None),  # the simulate() defaults
        dict(base, chunk_epochs=3),  # does not change the result
    ]
    w0_float = np.tile([0.0, 1.0], 4)
    assert config_key(dict(base, w0=[0, 1] * 4)) == config_key(dict(base, w0=w0_float))
    assert all(config_key(c) == key for c in same)
    different = [
        dict(base, seed=1),
        dict(base, epochs=21),
        dict(base, data=GR),
        dict(base, optimizer=fb.IncAdam(beta2=0.99)),
        dict(base, lr=fb.PolynomialDecay()),
        dict(base, w0=np.zeros(8)),
        dict(base, record=[0, 6]),
    ]
    keys = {config_key(c) for c in different}
    assert key not in keys and len(keys) == len(different)


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------


def test_serial_sweep_equals_simulate_and_reports_failures():
    configs = mixed_configs()
    result = sweep(configs, executor="serial")
    assert_matches_serial(result, configs)
    assert result.failed == [3]
    assert "batch_size must be in [1, n]" in result.table[3]["error"]
    assert result.reused == [False] * len(configs)
    assert repr(result) == f"SweepResult(configs={len(configs)}, ok={len(configs) - 1}, failed=1)"


def test_table_columns_and_metrics():
    configs = mixed_configs()
    result = sweep(configs, executor="serial")
    assert result.columns[:3] == ("index", "key", "status")
    assert all(tuple(row) == result.columns for row in result.table)
    row, tr = result.table[0], result.trajectories[0]
    w = tr.w[-1]
    assert row["data"] == GAUSS.fingerprint[:16] and (row["n"], row["d"]) == (6, 8)
    assert row["optimizer"] == "IncAdam" and row["optimizer.sampling"] == "reshuffle"
    assert row["optimizer.beta"] is None  # an IncSignum parameter
    assert row["lr"] == "default" and row["seed"] == 0 and row["record"] == 6
    assert row["key"] == config_key(configs[0])
    assert row["final_epoch"] == 300
    assert row["norm_l2"] == np.linalg.norm(w)
    assert row["margin_l2"] == tr.min_margin[-1] / np.linalg.norm(w)
    assert row["margin_linf"] == tr.min_margin[-1] / np.max(np.abs(w))
    assert row["margin_l2"] > 0
    last = result.table[-1]
    assert last["lr"] == "PolynomialDecay" and last["lr.power"] == 0.8
    assert last["record"] == "[0, 10, 50]" and last["loss"] == "logistic"
    failed = result.table[3]
    assert failed["status"] == "error" and failed["error_type"] == "ValueError"
    assert all(failed[name] is None for name in ("final_log_loss", "min_margin", "norm_l2"))


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
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(sampling="reshuffle"), seed=[0, 1],
                   epochs=50)
    configs = configs + [dict(c, chunk_epochs=7) for c in configs]  # same runs again
    executor = InlineExecutor()
    result = sweep(configs, executor=executor)
    assert executor.tasks == 2
    assert_matches_serial(result, configs)
    assert result.trajectories[0] is result.trajectories[2]


def test_a_lost_task_is_reported_and_the_others_finish():
    configs = grid(data=GAUSS, optimizer=fb.DetAdam(), seed=[0, 1, 2], epochs=40,
                   lr=[fb.Constant(0.1), fb.Constant(0.2), fb.Constant(0.3)])[:3]
    result = sweep(configs, executor=InlineExecutor(fail=True))
    assert result.failed == [1]
    assert result.table[1]["error_type"] == "RuntimeError"
    assert result.table[1]["error"] == "worker lost"
    for i in (0, 2):
        assert_same_trajectory(result.trajectories[i], fb.simulate(**configs[i]))


def test_process_pool_equals_serial_run():
    configs = mixed_configs()
    assert len(configs) >= 8
    result = sweep(configs, max_workers=2)
    assert_matches_serial(result, configs)
    assert result.table == sweep(configs, executor="serial").table


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_local_cluster_equals_serial_run(dask_client):
    configs = mixed_configs()
    assert len(configs) >= 8
    result = sweep(configs, executor=dask_client.get_executor())
    assert_matches_serial(result, configs)
    assert result.table == sweep(configs, executor="serial").table
    assert result.failed == [3]


# --------------------------------------------------------------------------------------------
# Result folder: saved runs, CSV, re-running
# --------------------------------------------------------------------------------------------


def test_out_folder_saves_runs_and_a_rerun_reuses_them(tmp_path):
    configs = mixed_configs()
    first = sweep(configs, executor="serial", out=tmp_path)
    saved = sorted(p.name for p in tmp_path.glob("*.npz"))
    expected = sorted(f"{first.keys[i]}.npz" for i in range(len(configs)) if i not in first.failed)
    assert saved == expected
    for i, key in enumerate(first.keys):
        if first.trajectories[i] is not None:
            assert_same_trajectory(fb.Trajectory.load(tmp_path / f"{key}.npz"),
                                   first.trajectories[i])
    assert (tmp_path / TABLE_NAME).read_text() == first.to_csv(tmp_path / "copy.csv").read_text()
    assert not list(tmp_path.glob("*.tmp"))  # no temporary file left behind

    executor = InlineExecutor()
    second = sweep(configs, executor=executor, out=tmp_path)
    assert executor.tasks == 1  # only the failed config runs again
    assert second.reused == [i not in first.failed for i in range(len(configs))]
    assert second.table == first.table
    for a, b in zip(first.trajectories, second.trajectories, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert_same_trajectory(a, b)

    (tmp_path / f"{first.keys[5]}.npz").unlink()
    executor = InlineExecutor()
    third = sweep(configs, executor=executor, out=tmp_path)
    assert executor.tasks == 2 and not third.reused[5]
    assert third.table == first.table


def test_rerun_with_a_foreign_result_file_reports_it(tmp_path):
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(), seed=[0, 1], epochs=30)
    first = sweep(configs, executor="serial", out=tmp_path)
    # overwrite the result of config 0 with the (valid) result of config 1
    (tmp_path / f"{first.keys[1]}.npz").replace(tmp_path / f"{first.keys[0]}.npz")
    fb.simulate(**configs[1]).save(tmp_path / f"{first.keys[1]}.npz")
    second = sweep(configs, executor="serial", out=tmp_path)
    assert second.failed == [0]
    message = second.table[0]["error"]
    assert "does not match its config: seed differs" in message
    assert first.keys[0] in message and "delete the file" in message
    assert_same_trajectory(second.trajectories[1], first.trajectories[1])


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


def test_csv_reads_back_exactly(tmp_path):
    configs = mixed_configs()
    result = sweep(configs, executor="serial")
    path = result.to_csv(tmp_path / "sub" / "table.csv")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == result.columns
    assert len(rows) == len(configs)
    for row, original in zip(rows, result.table, strict=True):
        assert row["status"] == original["status"] and row["key"] == original["key"]
        for name in ("final_log_loss", "min_margin", "margin_linf"):
            if original[name] is None:
                assert row[name] == ""
            else:
                assert float(row[name]) == original[name]
    assert rows[3]["error"] == result.table[3]["error"]


def test_progress_bar_counts_configs(capsys):
    configs = grid(data=GAUSS, optimizer=fb.IncAdam(), seed=[0, 1, 2], epochs=20)
    sweep(configs, executor="serial", progress=True)
    err = capsys.readouterr().err
    assert "0/3" in err and "config/s" in err
    sweep(configs, executor="serial")
    assert capsys.readouterr().err == ""

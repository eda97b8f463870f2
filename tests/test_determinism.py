"""Bitwise determinism across processes, chunk sizes, and checkpoint/resume (also after a kill)."""

import importlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastbias as fb
from fastbias.sweep import config_key

CKPT_MODULE = importlib.import_module("fastbias.checkpoints")  # where checkpoints are written

GAUSS = fb.datasets.gaussian(n=6, d=8, seed=21)
USER = fb.Dataset(
    [[1.0, 2.0, -0.5], [0.5, -1.0, 2.0], [-2.0, -0.5, -1.0], [0.25, 1.5, 1.0], [-1.0, 0.5, -2.0]],
    [3, 3, 7, 3, 7],
)

OPTIMIZERS = {
    "adam-reshuffle": fb.IncAdam(sampling="reshuffle"),
    "adam-replacement-b4": fb.IncAdam(beta2=0.99, batch_size=4, sampling="replacement"),
    "detadam": fb.DetAdam(),
    "proxy": fb.AdamProxy(),
    "signum-reshuffle-b2": fb.IncSignum(batch_size=2, sampling="reshuffle"),
    "signgd-replacement-b3": fb.SignGD(batch_size=3, sampling="replacement"),
    "gd": fb.GD(),
    "ngd-b5": fb.NormalizedGD(batch_size=5, sampling="reshuffle"),
}


def assert_same_trajectory(a, b):
    """Bitwise equality of two trajectories, records and parameters included."""
    for name in ("epochs", "w", "log_loss", "min_margin"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name
    assert a.params == b.params


# --------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------


DIAGONAL = fb.datasets.shifted_diagonal(a=np.linspace(1.0, 2.0, 6), delta=0.1)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("deep", [False, True], ids=["gaussian", "deep-underflow"])
def test_chunk_size_does_not_change_any_record(name, deep):
    optimizer = OPTIMIZERS[name]
    kwargs = dict(epochs=150, seed=3, record=[0, 1, 2, 9, 10, 11, 64, 100])
    if deep:
        # every margin starts near 1300: exp(-margin) is far below the float64 range, so the
        # kernels' log-scale is in use and must carry over from chunk to chunk
        kwargs.update(data=DIAGONAL, w0=np.full(6, 800.0))
    else:
        kwargs.update(data=GAUSS)
    whole = fb.simulate(optimizer=optimizer, **kwargs)
    if deep:
        assert whole.min_margin[0] > 1000
        if name != "gd":  # plain float64 GD has a zero gradient there; the others move
            assert whole.min_margin[-1] > whole.min_margin[0] + 1
    for chunk in (1, 2, 7, 64):
        other = fb.simulate(optimizer=optimizer, chunk_epochs=chunk, **kwargs)
        assert_same_trajectory(other, whole)


# --------------------------------------------------------------------------------------------
# Checkpoint and resume
# --------------------------------------------------------------------------------------------


class Interrupted(Exception):
    """Stands for anything that stops a run after a checkpoint was written."""


def run_until_checkpoint(monkeypatch, stop_after, **kwargs):
    """Run simulate() and interrupt it right after its ``stop_after``-th checkpoint."""
    real = CKPT_MODULE.atomic_savez
    saves = []

    def save_then_stop(path, arrays):
        written = real(path, arrays)
        saves.append(int(arrays["counters"][0]))
        if len(saves) == stop_after:
            raise Interrupted
        return written

    with monkeypatch.context() as patch:
        patch.setattr(CKPT_MODULE, "atomic_savez", save_then_stop)
        with pytest.raises(Interrupted):
            fb.simulate(checkpoint_every=1e-9, **kwargs)
    return saves[-1]


@pytest.mark.parametrize("name", ["adam-reshuffle", "signum-reshuffle-b2", "proxy", "gd"])
@pytest.mark.parametrize("stop_after", [1, 5])
def test_resume_equals_uninterrupted_run(tmp_path, monkeypatch, name, stop_after):
    ckpt = tmp_path / "run.npz"
    kwargs = dict(
        data=GAUSS,
        optimizer=OPTIMIZERS[name],
        epochs=300,
        seed=5,
        loss="logistic",
        record=[0, 3, 17, 40, 41, 299],
    )
    full = fb.simulate(**kwargs)
    epoch = run_until_checkpoint(
        monkeypatch, stop_after, checkpoint=ckpt, chunk_epochs=13, **kwargs
    )
    assert 0 < epoch < 300
    # resume with another chunk size, and keep checkpointing to the same file
    resumed = fb.simulate(resume=ckpt, checkpoint=ckpt, chunk_epochs=50, **kwargs)
    assert_same_trajectory(resumed, full)
    # the final checkpoint holds the finished run
    assert_same_trajectory(fb.simulate(resume=ckpt, **kwargs), full)


def test_resume_twice_equals_uninterrupted_run(tmp_path, monkeypatch):
    ckpt = tmp_path / "run.npz"
    kwargs = dict(
        data=USER,
        optimizer=fb.IncAdam(batch_size=2, sampling="replacement"),
        lr=fb.Constant(1.5),
        epochs=400,
        seed=8,
        record=25,
    )
    full = fb.simulate(**kwargs)
    first = run_until_checkpoint(monkeypatch, 2, checkpoint=ckpt, chunk_epochs=29, **kwargs)
    second = run_until_checkpoint(
        monkeypatch, 3, checkpoint=ckpt, resume=ckpt, chunk_epochs=31, **kwargs
    )
    assert 0 < first < second < 400
    assert_same_trajectory(fb.simulate(resume=ckpt, **kwargs), full)


# --------------------------------------------------------------------------------------------
# Other processes: same bytes, and resume after the process was killed
# --------------------------------------------------------------------------------------------


def child_configs():
    """Runs repeated in a child process (imported there from this file)."""
    return {
        "adam": dict(
            data=GAUSS, optimizer=fb.IncAdam(sampling="reshuffle"), epochs=500, seed=11, record=12
        ),
        "signum": dict(
            data=USER,
            optimizer=fb.IncSignum(batch_size=2, sampling="replacement"),
            epochs=300,
            seed=4,
            loss="logistic",
            record=[0, 7, 100],
        ),
        "proxy": dict(
            data=GAUSS, optimizer=fb.AdamProxy(), lr=fb.Constant(2.0), epochs=200, record=5
        ),
        "killed": dict(
            data=GAUSS,
            optimizer=fb.IncAdam(batch_size=3, sampling="replacement"),
            epochs=250,
            seed=2,
            record=[0, 10, 20, 30, 60, 249],
        ),
    }


CHILD = textwrap.dedent(
    """
    import importlib, json, os, sys

    out, tests = sys.argv[1], sys.argv[2]
    sys.path.insert(0, tests)
    from test_determinism import child_configs
    from fastbias.sweep import config_key

    configs = child_configs()
    keys = {}
    for name, config in configs.items():
        if name != "killed":
            sim = importlib.import_module("fastbias.simulate")
            sim.simulate(**config).save(os.path.join(out, name + ".npz"))
        keys[name] = config_key(config)
    with open(os.path.join(out, "keys.json"), "w") as fh:
        json.dump(keys, fh)

    # a checkpointed run that dies abruptly (no cleanup) right after its third checkpoint
    sim = importlib.import_module("fastbias.simulate")
    ckpt = importlib.import_module("fastbias.checkpoints")
    real, saves = ckpt.atomic_savez, []

    def save_then_die(path, arrays):
        real(path, arrays)
        saves.append(int(arrays["counters"][0]))
        if len(saves) == 3:
            os._exit(17)

    ckpt.atomic_savez = save_then_die
    sim.simulate(**configs["killed"], checkpoint=os.path.join(out, "killed-ckpt.npz"),
                 checkpoint_every=1e-9, chunk_epochs=11)
    """
)


def test_other_process_gives_identical_bytes_and_resumes_after_a_kill(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    tests = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path), tests],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 17, proc.stderr

    configs = child_configs()
    keys = json.loads((tmp_path / "keys.json").read_text())
    for name, config in configs.items():
        assert keys[name] == config_key(config)
        if name != "killed":
            child = fb.Trajectory.load(tmp_path / f"{name}.npz")
            assert_same_trajectory(child, fb.simulate(**config))

    ckpt = tmp_path / "killed-ckpt.npz"
    with np.load(ckpt) as saved:
        assert saved["counters"][0] == 30  # the third chunk ends at the record epoch 30
    assert not list(tmp_path.glob("*.tmp"))  # the atomic writes left nothing behind
    resumed = fb.simulate(**configs["killed"], resume=ckpt)
    assert_same_trajectory(resumed, fb.simulate(**configs["killed"]))

"""A run killed with SIGKILL and resumed from its last checkpoint equals an uninterrupted run.

A child process runs a simulation that checkpoints every 50 ms; once a checkpoint holds 5% of
the run, the child is killed without warning (SIGKILL: no cleanup, no final save).
The run is then resumed in this process, and its records and complete final state (iterate,
moments, log-scale, counters, random generator) are compared bit for bit with a run that was
never interrupted.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastbias as fb
from fastbias.cli import main

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
# About 1.5 s of work either way, so that the child is killed well before it finishes.
EPOCHS = 3_000 if JIT_DISABLED else 600_000
CHUNK = 5 if JIT_DISABLED else 2_000

RUN = dict(epochs=EPOCHS, seed=3, record=40)

CHILD = """
import sys
import fastbias as fb

data = fb.datasets.gaussian(n=10, d=50, seed=0)
fb.simulate(data, fb.IncAdam(sampling="reshuffle"), epochs={epochs}, seed=3, record=40,
            checkpoint=sys.argv[1], checkpoint_every=0.05, chunk_epochs={chunk})
"""


def saved_epoch(checkpoint):
    """Epoch counter of a checkpoint file (0 if it does not exist yet)."""
    if not checkpoint.exists():
        return 0
    with np.load(checkpoint) as saved:  # written atomically: never seen half-written
        return int(saved["counters"][0])


def kill_mid_run(command, checkpoint, timeout=120.0):
    """Start ``command``; SIGKILL it once ``checkpoint`` holds 5% of the run; return its epoch.

    (The first checkpoint often holds epoch 1 only: loading the kernels from the cache on
    the first call takes longer than the checkpoint interval.)
    """
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + timeout
            while saved_epoch(checkpoint) < EPOCHS // 20:
                if proc.poll() is not None:
                    pytest.fail(f"the child exited (code {proc.returncode}) before it was "
                                f"killed:\n{proc.stderr.read().decode()}")
                if time.monotonic() > deadline:
                    pytest.fail("no checkpoint of 5% of the run appeared in time")
                time.sleep(0.002)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    epoch = saved_epoch(checkpoint)
    assert EPOCHS // 20 <= epoch < EPOCHS  # the checkpoint is from the middle of the run
    return epoch


def final_state(path):
    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}


def assert_same_trajectory(a, b):
    np.testing.assert_array_equal(a.epochs, b.epochs)
    for name in ("w", "log_loss", "min_margin"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), name  # bitwise, not approximately


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    checkpoint = tmp_path / "killed.npz"
    script = CHILD.format(epochs=EPOCHS, chunk=CHUNK)
    kill_mid_run([sys.executable, "-c", script, str(checkpoint)], checkpoint)
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file was ever renamed in

    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    optimizer = fb.IncAdam(sampling="reshuffle")
    resumed = fb.simulate(data, optimizer, **RUN, resume=checkpoint,
                          checkpoint=tmp_path / "resumed_end.npz")
    straight = fb.simulate(data, optimizer, **RUN, checkpoint=tmp_path / "straight_end.npz")

    assert_same_trajectory(resumed, straight)
    a, b = final_state(tmp_path / "resumed_end.npz"), final_state(tmp_path / "straight_end.npz")
    assert sorted(a) == sorted(b)
    for key in a:  # iterate, moments, log-scale, counters, RNG state, records
        assert a[key].tobytes() == b[key].tobytes(), key
    assert int(a["counters"][0]) == EPOCHS


def test_cli_checkpoint_resume_after_sigkill(tmp_path):
    """``fastbias run --checkpoint`` killed, then ``fastbias run --resume`` in this process."""
    args = ["run", "--epochs", str(EPOCHS), "--sampling", "replacement", "--seed", "5",
            "--record", "30", "--no-references", "--no-progress"]
    checkpoint = tmp_path / "cli.npz"
    command = [sys.executable, "-m", "fastbias.cli", *args, "--out", str(tmp_path / "x.npz"),
               "--checkpoint", str(checkpoint), "--checkpoint-every", "0.05"]
    kill_mid_run(command, checkpoint)
    assert not (tmp_path / "x.npz").exists()  # the killed run never got to its end

    assert main([*args, "--resume", str(checkpoint), "--out", str(tmp_path / "a.npz")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.npz")]) == 0
    assert_same_trajectory(fb.Trajectory.load(tmp_path / "a.npz"),
                           fb.Trajectory.load(tmp_path / "b.npz"))

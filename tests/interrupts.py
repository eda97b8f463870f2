"""Helpers of the tests that stop a checkpointed run in a child process (kill -9, signals)."""

import subprocess
import time

import numpy as np
import pytest


def saved_epoch(checkpoint) -> int:
    """Epoch counter of a checkpoint file (0 if it does not exist yet)."""
    if not checkpoint.exists():
        return 0
    with np.load(checkpoint) as saved:  # written atomically: never seen half-written
        return int(saved["counters"][0])


def signal_mid_run(command, checkpoint, epochs, signum, timeout=120.0):
    """Start ``command``; send ``signum`` once ``checkpoint`` holds 5% of its ``epochs``.

    Returns the child's exit code, stdout and stderr. (The first checkpoint often holds
    epoch 1 only: loading the kernels from the cache on the first call takes longer than the
    checkpoint interval.)
    """
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + timeout
            while saved_epoch(checkpoint) < epochs // 20:
                if proc.poll() is not None:
                    pytest.fail(
                        f"the child exited (code {proc.returncode}) before the "
                        f"signal:\n{proc.stderr.read().decode()}"
                    )
                if time.monotonic() > deadline:
                    pytest.fail("no checkpoint of 5% of the run appeared in time")
                time.sleep(0.002)
            proc.send_signal(signum)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return proc.returncode, stdout.decode(), stderr.decode()


def assert_same_trajectory(a, b):
    """Records of two trajectories equal bit for bit."""
    np.testing.assert_array_equal(a.epochs, b.epochs)
    for name in ("w", "log_loss", "min_margin"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), name  # bitwise, not approximately

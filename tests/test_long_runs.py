"""Long runs from Python (SPEC 10): extending a finished run, and SIGINT / SIGTERM.

* A run of 10^5 epochs extended to 3 * 10^5 with ``resume=`` equals, bit for bit and records
  included, one run of 3 * 10^5 epochs.
* ``fb.simulate`` in a process that receives SIGINT or SIGTERM saves its checkpoint, raises
  ``fb.RunInterrupted`` with the signal, the epoch saved and the file, and the run resumed
  from that file equals an uninterrupted one.

The command-line versions (requeue after kill -9, exit codes 130 / 143) are in
``test_checkpoint.py`` and ``test_cli_longrun.py``.
"""

import os
import signal
import sys

import numpy as np
import pytest
from interrupts import assert_same_trajectory, signal_mid_run

import fastbias as fb

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
SHORT, LONG = (100, 300) if JIT_DISABLED else (10**5, 3 * 10**5)

DATA = fb.datasets.gaussian(n=10, d=50, seed=0)


@pytest.mark.parametrize(
    "optimizer",
    [fb.IncAdam(sampling="reshuffle"), fb.IncSignum(batch_size=3, sampling="replacement")],
    ids=["inc-adam-reshuffle", "inc-signum-b3-replacement"],
)
def test_extension_equals_one_longer_run_bitwise(tmp_path, optimizer):
    checkpoint = tmp_path / "job.npz"
    short = fb.simulate(DATA, optimizer, epochs=SHORT, seed=4, checkpoint=checkpoint)
    assert fb.checkpoint_info(checkpoint)["epoch"] == SHORT

    extended = fb.simulate(
        DATA,
        optimizer,
        epochs=LONG,
        seed=4,
        resume=checkpoint,
        checkpoint=tmp_path / "extended.npz",
    )
    straight = fb.simulate(
        DATA, optimizer, epochs=LONG, seed=4, checkpoint=tmp_path / "straight.npz"
    )

    assert_same_trajectory(extended, straight)
    # the records of the short run are those of the long one up to its horizon, except the
    # horizon itself when it is not on the grid of records (it is here: 10^5 is)
    kept = np.isin(straight.epochs, short.epochs)
    np.testing.assert_array_equal(straight.epochs[kept], short.epochs)
    assert straight.w[kept].tobytes() == short.w.tobytes()
    with np.load(tmp_path / "extended.npz") as a, np.load(tmp_path / "straight.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:  # iterate, state, scale, counters, generator, records
            assert a[key].tobytes() == b[key].tobytes(), key


# --------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------

EPOCHS = 600_000  # about 1.5 s: the child is interrupted well before it finishes
RUN = dict(epochs=EPOCHS, seed=3, record=30)

CHILD = """
import sys
import fastbias as fb

data = fb.datasets.gaussian(n=10, d=50, seed=0)
try:
    fb.simulate(data, fb.IncAdam(sampling="reshuffle"), epochs={epochs}, seed=3, record=30,
                checkpoint=sys.argv[1], checkpoint_every=0.05, chunk_epochs=2000,
                progress=False)
except fb.RunInterrupted as exc:
    print(exc.signum, exc.epoch, exc.checkpoint, isinstance(exc, KeyboardInterrupt))
    sys.exit(3)
print("finished")
"""


@pytest.mark.skipif(JIT_DISABLED, reason="needs chunks of a JIT run")
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_simulate_saves_and_raises_run_interrupted(tmp_path, signum):
    checkpoint = tmp_path / "job.npz"
    command = [sys.executable, "-c", CHILD.format(epochs=EPOCHS), str(checkpoint)]
    returncode, stdout, stderr = signal_mid_run(command, checkpoint, EPOCHS, signum)
    assert returncode == 3, stderr
    got_signum, epoch, path, is_keyboard_interrupt = stdout.split()
    assert int(got_signum) == signum
    assert path == str(checkpoint) and is_keyboard_interrupt == "True"
    epoch = int(epoch)
    assert EPOCHS // 20 <= epoch < EPOCHS
    assert fb.checkpoint_info(checkpoint)["epoch"] == epoch  # saved where it says

    optimizer = fb.IncAdam(sampling="reshuffle")
    resumed = fb.simulate(DATA, optimizer, **RUN, resume=checkpoint)
    straight = fb.simulate(DATA, optimizer, **RUN)
    assert_same_trajectory(resumed, straight)

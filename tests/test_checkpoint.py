"""A run killed with SIGKILL and resumed from its last checkpoint equals an uninterrupted run.

A child process runs a simulation that checkpoints every 50 ms; once a checkpoint holds 5% of
the run, the child is killed without warning (SIGKILL: no cleanup, no final save).
The run is then resumed in this process, and its records and complete final state (iterate,
moments, log-scale, counters, random generator) are compared bit for bit with a run that was
never interrupted.

The same for the command line (SPEC 10): a ``fastbias run --checkpoint F`` killed with -9 and
requeued (the same command again) continues where it was and ends equal to an uninterrupted
run, while the same job with another argument is refused and F is left byte for byte as it
was; SIGINT and SIGTERM save, say ``saved epoch N to F`` and exit 130 / 143, and ``fastbias
resume F`` finishes the run.
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from interrupts import assert_same_trajectory, saved_epoch, signal_mid_run

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


def kill_mid_run(command, checkpoint):
    """Start ``command``; SIGKILL it once ``checkpoint`` holds 5% of the run; return its epoch."""
    returncode, _, _ = signal_mid_run(command, checkpoint, EPOCHS, signal.SIGKILL)
    assert returncode == -signal.SIGKILL  # killed, not finished
    epoch = saved_epoch(checkpoint)
    assert EPOCHS // 20 <= epoch < EPOCHS  # the checkpoint is from the middle of the run
    return epoch


def final_state(path):
    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    checkpoint = tmp_path / "killed.npz"
    script = CHILD.format(epochs=EPOCHS, chunk=CHUNK)
    kill_mid_run([sys.executable, "-c", script, str(checkpoint)], checkpoint)
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file was ever renamed in

    data = fb.datasets.gaussian(n=10, d=50, seed=0)
    optimizer = fb.IncAdam(sampling="reshuffle")
    resumed = fb.simulate(
        data, optimizer, **RUN, resume=checkpoint, checkpoint=tmp_path / "resumed_end.npz"
    )
    straight = fb.simulate(data, optimizer, **RUN, checkpoint=tmp_path / "straight_end.npz")

    assert_same_trajectory(resumed, straight)
    a, b = final_state(tmp_path / "resumed_end.npz"), final_state(tmp_path / "straight_end.npz")
    assert sorted(a) == sorted(b)
    for key in a:  # iterate, moments, log-scale, counters, RNG state, records
        assert a[key].tobytes() == b[key].tobytes(), key
    assert int(a["counters"][0]) == EPOCHS


# --------------------------------------------------------------------------------------------
# The command line: requeued jobs, kill -9, SIGINT and SIGTERM (SPEC 10, issue 12)
# --------------------------------------------------------------------------------------------

# The CLI cannot set the chunk size: without the JIT a whole run is one chunk, checkpointed
# only at its end, so there is no "middle of the run" to kill or interrupt.
cli_only_with_jit = pytest.mark.skipif(JIT_DISABLED, reason="needs chunks of a JIT run")

CLI_ARGS = [
    "run",
    "--epochs",
    str(EPOCHS),
    "--sampling",
    "replacement",
    "--seed",
    "5",
    "--record",
    "30",
    "--no-references",
    "--no-progress",
]


def cli_command(checkpoint, *extra):
    return [
        sys.executable,
        "-m",
        "fastbias.cli",
        *CLI_ARGS,
        *extra,
        "--checkpoint",
        str(checkpoint),
        "--checkpoint-every",
        "0.05",
    ]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The CLI run of CLI_ARGS without checkpoints, interruptions or resumes."""
    out = tmp_path_factory.mktemp("straight") / "straight.npz"
    assert main([*CLI_ARGS, "--out", str(out)]) == 0
    return fb.Trajectory.load(out)


@cli_only_with_jit
def test_cli_requeue_after_sigkill_continues_and_refuses_other_runs(
    tmp_path, uninterrupted, capsys
):
    """kill -9 a ``fastbias run --checkpoint F``; rerunning the same command continues it."""
    checkpoint = tmp_path / "job.npz"
    out = tmp_path / "x.npz"
    command = cli_command(checkpoint, "--out", str(out))
    epoch = kill_mid_run(command, checkpoint)
    assert not out.exists()  # the killed run never got to its end

    # the same job with another argument: refused, one line, the checkpoint untouched
    before = checkpoint.read_bytes()
    for change, differs in (
        (["--seed", "6"], "seed differs (checkpoint 5, this call 6)"),
        (["--beta2", "0.99"], "optimizer.beta2 differs (checkpoint 0.999, this call 0.99)"),
    ):
        other = [*command[3:], *change]  # the same arguments as the job, one changed
        assert main(other) == 2
        err = capsys.readouterr().err
        assert err.startswith("fastbias run: error: checkpoint ") and err.count("\n") == 1
        assert f"belongs to a different run: {differs}" in err
        assert checkpoint.read_bytes() == before
    assert not out.exists()

    # the requeued job: exactly the same command, in a new process
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"resumed at epoch {epoch:,}: {EPOCHS - epoch:,} more epochs" in proc.stdout
    assert_same_trajectory(fb.Trajectory.load(out), uninterrupted)
    assert fb.checkpoint_info(checkpoint)["epoch"] == EPOCHS


@cli_only_with_jit
@pytest.mark.parametrize(
    "signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_cli_signal_saves_says_where_and_resumes(signum, code, tmp_path, uninterrupted, capsys):
    checkpoint = tmp_path / "job.npz"
    out = tmp_path / "x.npz"
    returncode, stdout, stderr = signal_mid_run(
        cli_command(checkpoint, "--out", str(out)), checkpoint, EPOCHS, signum
    )
    assert returncode == code
    assert stdout == "" and not out.exists()
    name = signal.Signals(signum).name
    match = re.fullmatch(rf"fastbias run: {name}: saved epoch (\d+) to (.+)\n", stderr)
    assert match, stderr
    epoch = int(match.group(1))
    assert match.group(2) == str(checkpoint)
    assert EPOCHS // 20 <= epoch < EPOCHS
    info = fb.checkpoint_info(checkpoint)
    assert info["epoch"] == epoch and info["epochs"] == EPOCHS

    # `fastbias resume F` finishes the run from the file alone
    assert (
        main(
            [
                "resume",
                str(checkpoint),
                "--out",
                str(tmp_path / "r.npz"),
                "--no-references",
                "--no-progress",
            ]
        )
        == 0
    )
    assert f"resumed at epoch {epoch:,}" in capsys.readouterr().out
    assert_same_trajectory(fb.Trajectory.load(tmp_path / "r.npz"), uninterrupted)


@cli_only_with_jit
def test_cli_sigint_without_checkpoint_says_interrupted(tmp_path):
    out = tmp_path / "x.npz"
    command = [
        sys.executable,
        "-m",
        "fastbias.cli",
        *CLI_ARGS,
        "--epochs",
        str(50 * EPOCHS),
        "--out",
        str(out),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        time.sleep(4.0)  # imports and the start of the run
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.decode() == "fastbias run: interrupted\n"
    assert not out.exists()


@cli_only_with_jit
def test_cli_sigterm_then_sigint_exits_as_sigterm(tmp_path):
    """A job stopped with SIGTERM stays a SIGTERM'd job when a SIGINT follows (exit 143)."""
    checkpoint = tmp_path / "job.npz"
    command = cli_command(checkpoint, "--out", str(tmp_path / "x.npz"))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + 120
            while saved_epoch(checkpoint) < EPOCHS // 20:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.002)
            proc.send_signal(signal.SIGTERM)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 143, stderr
    assert re.fullmatch(r"fastbias run: SIGTERM: saved epoch (\d+) to .+\n", stderr.decode())


def test_signals_after_sigterm_keep_it_a_sigterm():
    from fastbias.simulate import _Signals

    with _Signals(True) as signals:
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)
        assert signals.received == signal.SIGTERM
    with _Signals(True) as signals, pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        assert signals.received == signal.SIGINT
        signal.raise_signal(signal.SIGINT)  # a second Ctrl-C: stop now

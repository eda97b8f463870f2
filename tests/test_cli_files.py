"""Nothing lost from the command line (SPEC 10, issue 13): output paths are checked before any
work and may not be inputs; every error is one line on stderr, never a traceback.

Each command-line case of issue 13 (an output that is also an input, an output path that
cannot be written, numbers out of range, a closed pipe) has a test here; before this change
each ended in an overwritten input, a traceback after the whole computation, or an
OverflowError.
"""

import errno
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastbias as fb
from fastbias import cli
from fastbias.cli import main

QUIET = ["--no-references", "--no-progress"]
ERROR_LINE = re.compile(
    r"^fastbias (run|resume|info|fixed-point|reproduce|bench): "
    r"(error|solver error): \S.*\n$"
)


def one_error_line(err: str) -> str:
    assert ERROR_LINE.match(err), err
    assert "Traceback" not in err
    return err


@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if a simulation starts: refusals must come before any computation."""

    def refuse(*args, **kwargs):
        raise AssertionError("the computation started before the paths were checked")

    monkeypatch.setattr(fb, "simulate", refuse)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A folder with a data file, a checkpoint, a folder, a regular file and a symlink."""
    monkeypatch.chdir(tmp_path)
    fb.datasets.gaussian(n=6, d=8, seed=1).save(tmp_path / "mydata.npz")
    assert (
        main(["run", "--epochs", "20", "--checkpoint", "ckpt.npz", "--out", "first.npz", *QUIET])
        == 0
    )
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir.npz").mkdir()
    (tmp_path / "afile").write_text("x")
    os.symlink("same.npz", tmp_path / "link.npz")  # dangling: same.npz is made by the run
    os.symlink("mydata.npz", tmp_path / "datalink.npz")
    return tmp_path


def snapshot(folder):
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in folder.iterdir()}


CONFLICTS = [
    # scenario 1: the checkpoint used as --out
    (
        ["--checkpoint", "same.npz", "--out", "same.npz"],
        "--out 'same.npz' is also the --checkpoint: refusing to overwrite an input",
    ),
    (["--checkpoint", "same", "--out", "same.npz"], "is also the --checkpoint"),
    (["--checkpoint", "same.npz", "--out", "same"], "is also the --checkpoint"),
    (["--checkpoint", "same.npz", "--out", "link.npz"], "is also the --checkpoint"),
    # scenario 2: the data file used as --out or --checkpoint
    (
        ["--data-file", "mydata.npz", "--out", "mydata.npz"],
        "--out 'mydata.npz' is also the --data-file: refusing to overwrite an input",
    ),
    (["--data-file", "mydata.npz", "--out", "mydata"], "is also the --data-file"),
    (["--data-file", "mydata", "--out", "datalink.npz"], "is also the --data-file"),
    (
        ["--data-file", "mydata.npz", "--checkpoint", "mydata.npz"],
        "--checkpoint 'mydata.npz' is also the --data-file",
    ),
    (["--data-file", "mydata.npz", "--checkpoint", "mydata"], "is also the --data-file"),
    # a resumed checkpoint used as --out
    (["--resume", "ckpt.npz", "--out", "ckpt.npz"], "is also the --resume checkpoint"),
    (
        ["--resume", "ckpt.npz", "--checkpoint", "ckpt.npz", "--out", "ckpt"],
        "is also the --resume checkpoint",
    ),
    # scenario 3: outputs that cannot be written, found before the run
    (["--out", "outdir"], "--out 'outdir' is a folder; give a file path."),
    (["--out", "outdir.npz"], "--out 'outdir.npz' is a folder; give a file path."),
    (["--out", "afile/sub.npz"], "cannot be created:"),
    (["--out", "afile/deeper/sub.npz"], "is a file, not a folder."),
    (["--checkpoint", "outdir"], "--checkpoint 'outdir' is a folder; give a file path."),
    (["--checkpoint", "afile/x.npz"], "is a file, not a folder."),
    # an existing checkpoint or dataset file is never replaced by a trajectory
    (["--out", "ckpt.npz"], "--out 'ckpt.npz' is an existing fastbias checkpoint file"),
    (["--out", "mydata"], "--out 'mydata.npz' is an existing fastbias dataset file"),
    # resuming one checkpoint into another existing one
    (
        ["--resume", "ckpt.npz", "--checkpoint", "first.npz", "--out", "x.npz"],
        "exists and is not the resumed checkpoint",
    ),
]


@pytest.mark.parametrize("argv, message", CONFLICTS, ids=[" ".join(c[0]) for c in CONFLICTS])
def test_run_refuses_conflicting_or_unwritable_outputs_before_any_work(
    argv, message, files, no_run, capsys
):
    before = snapshot(files)
    assert main(["run", "--epochs", "1e9", *argv, *QUIET]) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert snapshot(files) == before  # nothing written, nothing replaced


def test_the_allowed_pair_is_a_checkpoint_resumed_and_written(files, capsys):
    assert (
        main(
            [
                "run",
                "--epochs",
                "30",
                "--resume",
                "ckpt",
                "--checkpoint",
                "ckpt.npz",
                "--out",
                "more.npz",
                *QUIET,
            ]
        )
        == 0
    )
    assert fb.checkpoint_info(files / "ckpt.npz")["epoch"] == 30


@pytest.mark.parametrize(
    "argv, message",
    [
        (["resume", "ckpt.npz", "--out", "ckpt.npz"], "is also the resumed checkpoint"),
        (["resume", "ckpt", "--out", "ckpt"], "is also the resumed checkpoint"),
        (["resume", "ckpt.npz", "--out", "outdir"], "is a folder"),
        (["resume", "ckpt.npz", "--out", "afile/x.npz"], "is a file, not a folder"),
        (["resume", "ckpt.npz", "--out", "mydata.npz"], "is an existing fastbias dataset file"),
        (["resume", "outdir"], "is a folder, not a checkpoint file"),
        (
            ["fixed-point", "--data-file", "mydata.npz", "--out", "mydata.npz"],
            "is also the --data-file",
        ),
        (["fixed-point", "--out", "outdir"], "is a folder"),
        (["fixed-point", "--out", "outdir.npz"], "is a folder"),
        (["fixed-point", "--out", "afile/fp.npz"], "is a file, not a folder"),
        (
            ["reproduce", "fig2", "--quick", "--out", "afile"],
            "--out must be a folder; 'afile' exists and is not one.",
        ),
        (["reproduce", "fig2", "--quick", "--out", "afile/sub"], "is a file, not a folder"),
    ],
)
def test_other_commands_check_their_outputs_before_any_work(
    argv, message, files, no_run, monkeypatch, capsys
):
    import fastbias.geometry

    def no_solve(*args, **kwargs):
        raise AssertionError("the computation started before the paths were checked")

    monkeypatch.setattr(fastbias.geometry, "fixed_point", no_solve)
    try:
        import fastbias.experiments as experiments
    except ImportError:
        experiments = None
    if experiments is not None and hasattr(experiments, "run_figures"):
        monkeypatch.setattr(experiments, "run_figures", no_solve)
    before = snapshot(files)
    assert main(argv) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert snapshot(files) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused_before_the_run(tmp_path, no_run, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["run", "--out", str(folder / "x.npz"), *QUIET]) == 2
        assert "is not writable" in one_error_line(capsys.readouterr().err)
    finally:
        folder.chmod(0o755)


SETPRIV = shutil.which("setpriv")


@pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None, reason="root without CAP_DAC_OVERRIDE, through setpriv"
)
def test_read_only_folder_is_refused_before_the_run_as_root_without_override(tmp_path):
    """As root the permission bits bite only without CAP_DAC_OVERRIDE (files_before 3e)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    drop = [SETPRIV, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    try:
        probe = subprocess.run([*drop, "test", "-w", str(folder)], capture_output=True)
        if probe.returncode != 1:
            pytest.skip("setpriv cannot drop CAP_DAC_OVERRIDE here")
        proc = subprocess.run(
            [
                *drop,
                sys.executable,
                "-m",
                "fastbias.cli",
                "run",
                "--out",
                str(folder / "x.npz"),
                *QUIET,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"fastbias run: error: --out {str(folder / 'x.npz')!r} cannot be "
        f"written: the folder {str(folder)!r} is not writable.\n"
    )
    assert not any(folder.iterdir())


# --------------------------------------------------------------------------------------------
# Errors of the work itself: one line, exit 1
# --------------------------------------------------------------------------------------------


def test_a_failed_trajectory_write_is_one_line(tmp_path, monkeypatch, capsys):
    def disk_full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fb.Trajectory, "save", disk_full)
    assert main(["run", "--epochs", "10", "--out", str(tmp_path / "t.npz"), *QUIET]) == 1
    err = one_error_line(capsys.readouterr().err)
    assert err == (
        f"fastbias run: error: cannot write the trajectory "
        f"{str(tmp_path / 't.npz')!r}: No space left on device\n"
    )


def test_a_failed_checkpoint_write_is_one_line(tmp_path, monkeypatch, capsys):
    from fastbias.checkpoints import RunState

    def disk_full(self, path, params, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunState, "save", disk_full)
    ckpt = tmp_path / "c.npz"
    assert (
        main(
            [
                "run",
                "--epochs",
                "10",
                "--checkpoint",
                str(ckpt),
                "--out",
                str(tmp_path / "t.npz"),
                *QUIET,
            ]
        )
        == 1
    )
    assert one_error_line(capsys.readouterr().err) == (
        f"fastbias run: error: cannot write the checkpoint {str(ckpt)!r}: No space left on device\n"
    )


def test_file_size_limit_gives_one_line_and_exit_1(tmp_path):
    """A real OSError from the operating system (RLIMIT_FSIZE: 'File too large')."""
    resource = pytest.importorskip("resource")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    out = tmp_path / "big.npz"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastbias.cli",
            "run",
            "--epochs",
            "400",
            "--record",
            "1000",
            "--out",
            str(out),
            *QUIET,
        ],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"fastbias run: error: cannot write the trajectory {str(out)!r}: File too large\n"
    )
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_solver_error_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    import fastbias.geometry

    def fail(*args, **kwargs):
        raise fastbias.geometry.SolverError("solver returned status 'infeasible'", "infeasible")

    monkeypatch.setattr(fastbias.geometry, "max_margin", fail)
    assert main(["run", "--epochs", "10", "--out", str(tmp_path / "t.npz"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err == "fastbias run: solver error: solver returned status 'infeasible'\n"
    assert (tmp_path / "t.npz").exists()  # the run itself was saved before the summary


def test_diverging_run_is_one_line(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--optimizer",
                "sgd",
                "--eta0",
                "1e300",
                "--epochs",
                "50",
                "--out",
                str(tmp_path / "t.npz"),
                *QUIET,
            ]
        )
        == 1
    )
    assert "left the float64 range" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "t.npz").exists()


def test_os_errors_name_their_file(tmp_path, monkeypatch, capsys):
    from fastbias.checkpoints import RunState

    def denied(self, path, params, data):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(RunState, "save", denied)
    ckpt = tmp_path / "c.npz"
    assert (
        main(
            [
                "run",
                "--epochs",
                "3",
                "--checkpoint",
                str(ckpt),
                "--out",
                str(tmp_path / "t.npz"),
                *QUIET,
            ]
        )
        == 1
    )
    assert one_error_line(capsys.readouterr().err) == (
        f"fastbias run: error: Permission denied: {str(ckpt)!r}\n"
    )


# --------------------------------------------------------------------------------------------
# Numbers (scenario 7): 1e999, nan, inf are argparse errors, never OverflowError
# --------------------------------------------------------------------------------------------


INTEGER_OPTIONS = [
    ["run", "--epochs"],
    ["run", "--record"],
    ["run", "--rows"],
    ["run", "--n"],
    ["run", "--d"],
    ["run", "--k"],
    ["run", "--seed"],
    ["run", "--data-seed"],
    ["run", "--batch-size"],
    ["run", "--ns-steps"],
    ["resume", "x.npz", "--epochs"],
    ["resume", "x.npz", "--rows"],
    ["fixed-point", "--max-iter"],
    ["fixed-point", "--n"],
]
FLOAT_OPTIONS = [
    ["run", "--eta0"],
    ["run", "--beta1"],
    ["run", "--momentum"],
    ["run", "--checkpoint-every"],
    ["run", "--delta"],
    ["fixed-point", "--tol"],
]


@pytest.mark.parametrize("value", ["1e999", "nan", "inf", "-inf", "2.5", "ten"])
@pytest.mark.parametrize("option", INTEGER_OPTIONS, ids=" ".join)
def test_integer_options_refuse_non_integers(option, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*option[:-1], f"{option[-1]}={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option[-1]}: expected" in err and repr(value) in err
    assert "Traceback" not in err and "OverflowError" not in err


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "x"])
@pytest.mark.parametrize("option", FLOAT_OPTIONS, ids=" ".join)
def test_float_options_refuse_non_finite_numbers(option, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*option[:-1], f"{option[-1]}={value}"])
    assert exc.value.code == 2
    assert f"error: argument {option[-1]}: expected" in capsys.readouterr().err


def test_large_integers_in_float_notation_are_exact(tmp_path):
    out = tmp_path / "t.npz"
    assert main(["run", "--epochs", "1.2e2", "--out", str(out), *QUIET]) == 0
    assert fb.Trajectory.load(out).epochs[-1] == 120


# --------------------------------------------------------------------------------------------
# Broken pipes (scenario 15): `fastbias ... | head` exits quietly
# --------------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="POSIX pipes")
def test_broken_pipe_exits_quietly(tmp_path):
    """About 500 kB of table into a reader that takes one line.

    Far more than a pipe holds (64 KiB by default), so that the writer always meets the
    closed pipe (with 54 kB it sometimes finished before the reader left, and exited 0).
    """
    command = [
        sys.executable,
        "-m",
        "fastbias.cli",
        "run",
        "--epochs",
        "100000",
        "--record",
        "5000",
        "--rows",
        "100000",
        "--out",
        str(tmp_path / "t.npz"),
        *QUIET,
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=300)
    assert first.startswith(b"data: gaussian(")
    assert err == ""  # no traceback, no message
    assert proc.returncode == cli.EXIT_BROKEN_PIPE == 141
    assert fb.Trajectory.load(tmp_path / "t.npz").epochs[-1] == 100000  # written before printing


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="POSIX pipes")
@pytest.mark.parametrize(
    "argv",
    [
        ["info"],
        ["run", "--help"],
        [
            "run",
            "--epochs",
            "100000",
            "--record",
            "5000",
            "--rows",
            "100000",
            "--no-progress",
            "--no-references",
        ],
    ],
)
def test_shell_pipe_into_head(argv, tmp_path):
    cmd = " ".join([sys.executable, "-m", "fastbias.cli", *argv])
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {cmd} | head -1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.stderr == ""
    if "--rows" in argv:  # 500 kB: more than the pipe holds, so head always leaves first
        assert proc.returncode == 141
    else:  # 0 when all output fit in the pipe before head left
        assert proc.returncode in (0, 141)
    assert proc.stdout.count("\n") == 1


def test_outputs_are_npz_even_without_suffix(tmp_path):
    assert main(["run", "--epochs", "5", "--out", str(tmp_path / "plain"), *QUIET]) == 0
    assert fb.Trajectory.load(tmp_path / "plain.npz").epochs[-1] == 5
    with np.load(tmp_path / "plain.npz") as saved:
        assert "w" in saved.files

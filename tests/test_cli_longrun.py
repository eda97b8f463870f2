"""Long runs from the command line (SPEC 10, issue 12), in this process.

``fastbias run --checkpoint F`` resumes or starts; a checkpoint of another run is refused and
left untouched; ``fastbias resume F`` continues and extends from the file alone; ``fastbias
info F`` describes it. Killed, interrupted and requeued runs (subprocesses and signals) are
in ``test_checkpoint.py``.
"""

import numpy as np
import pytest

import fastbias as fb
from fastbias.cli import main

QUIET = ["--no-references", "--no-progress"]
# Reshuffled batches: the generator state and the pending order must be resumed too.
RUN = ["run", "--epochs", "300", "--sampling", "reshuffle", "--seed", "2", "--record", "10", *QUIET]


def assert_same_trajectory(a, b):
    np.testing.assert_array_equal(a.epochs, b.epochs)
    for name in ("w", "log_loss", "min_margin"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape and x.tobytes() == y.tobytes(), name


def load(path):
    return fb.Trajectory.load(path)


def one_error_line(err: str, command: str = "run") -> str:
    assert err.startswith(f"fastbias {command}: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def finished(tmp_path, capsys):
    """A finished 300-epoch run checkpointed to ckpt.npz (and its trajectory)."""
    ckpt = tmp_path / "ckpt.npz"
    assert main([*RUN, "--checkpoint", str(ckpt), "--out", str(tmp_path / "first.npz")]) == 0
    capsys.readouterr()
    return ckpt


def direct(tmp_path, epochs, name="direct.npz", extra=()):
    out = tmp_path / name
    args = [*RUN, *extra, "--out", str(out)]
    args[args.index("--epochs") + 1] = str(epochs)
    assert main(args) == 0
    return load(out)


def test_run_checkpoint_resumes_or_starts(tmp_path, finished, capsys):
    ckpt = finished
    assert fb.checkpoint_info(ckpt)["epoch"] == 300
    before = ckpt.read_bytes()
    # the same command again (a requeued job): continues, here with nothing left to do
    assert main([*RUN, "--checkpoint", str(ckpt), "--out", str(tmp_path / "again.npz")]) == 0
    assert "resumed at epoch 300: 0 more epochs" in capsys.readouterr().out
    assert_same_trajectory(load(tmp_path / "again.npz"), load(tmp_path / "first.npz"))
    assert fb.checkpoint_info(ckpt)["epoch"] == 300 and len(before) > 0
    # a larger --epochs extends the run: equal to a direct run of 900 epochs, records too
    extended = RUN.copy()
    extended[extended.index("--epochs") + 1] = "900"
    assert main([*extended, "--checkpoint", str(ckpt), "--out", str(tmp_path / "ext.npz")]) == 0
    assert "resumed at epoch 300: 600 more epochs" in capsys.readouterr().out
    assert_same_trajectory(load(tmp_path / "ext.npz"), direct(tmp_path, 900))


@pytest.mark.parametrize(
    "change, differs",
    [
        (["--seed", "3"], "seed differs (checkpoint 2, this call 3)"),
        (["--beta1", "0.8"], "optimizer.beta1 differs (checkpoint 0.9, this call 0.8)"),
        (["--optimizer", "inc-signum"], "optimizer.name differs (checkpoint 'IncAdam'"),
        (["--eta0", "0.2"], "lr.eta0 differs (checkpoint 0.1, this call 0.2)"),
        (["--loss", "logistic"], "loss differs"),
        (["--record", "11"], "record differs"),
        (["--data", "gr"], "data differs"),
        (["--data-seed", "1"], "data differs"),
    ],
)
def test_run_refuses_a_checkpoint_of_another_run(change, differs, tmp_path, finished, capsys):
    ckpt = finished
    before = ckpt.read_bytes()
    mtime = ckpt.stat().st_mtime_ns
    args = [*RUN, "--checkpoint", str(ckpt), "--out", str(tmp_path / "other.npz"), *change]
    if change[0] == "--optimizer":
        args.remove("--sampling")
        args.remove("reshuffle")
    assert main(args) == 2
    err = one_error_line(capsys.readouterr().err)
    assert f"belongs to a different run: {differs}" in err and "left untouched" in err
    assert ckpt.read_bytes() == before and ckpt.stat().st_mtime_ns == mtime
    assert not (tmp_path / "other.npz").exists()


def test_run_refuses_fewer_epochs_than_done(tmp_path, finished, capsys):
    before = finished.read_bytes()
    shorter = RUN.copy()
    shorter[shorter.index("--epochs") + 1] = "100"
    assert main([*shorter, "--checkpoint", str(finished), "--out", str(tmp_path / "s.npz")]) == 2
    assert "has done 300 epochs; epochs must be at least that" in capsys.readouterr().err
    assert finished.read_bytes() == before


def test_resume_extends_from_the_checkpoint_alone(tmp_path, finished, capsys):
    out = tmp_path / "ext.npz"
    assert main(["resume", str(finished), "--epochs", "600", "--out", str(out), *QUIET]) == 0
    text = capsys.readouterr().out
    assert "resumed at epoch 300: 300 more epochs" in text and f"checkpoint: {finished}" in text
    assert_same_trajectory(load(out), direct(tmp_path, 600))  # records included
    assert fb.checkpoint_info(finished)["epoch"] == 600  # and it keeps checkpointing there
    assert fb.checkpoint_info(finished)["epochs"] == 600


def test_resume_defaults_to_the_stored_target_and_writes_next_to_the_checkpoint(tmp_path, capsys):
    folder = tmp_path / "jobs"
    folder.mkdir()
    assert main([*RUN, "--checkpoint", str(folder / "job.npz")]) == 0
    assert (folder / "job.trajectory.npz").exists()  # run's default --out with a checkpoint
    (folder / "job.trajectory.npz").unlink()
    capsys.readouterr()
    assert main(["resume", str(folder / "job"), *QUIET]) == 0  # the .npz suffix is optional
    assert "resumed at epoch 300: 0 more epochs" in capsys.readouterr().out
    assert_same_trajectory(load(folder / "job.trajectory.npz"), direct(tmp_path, 300))


def test_resume_user_data_stored_in_the_checkpoint(tmp_path, capsys):
    generated = fb.datasets.gaussian(n=6, d=9, seed=5)
    data = fb.Dataset(generated.X, generated.y)  # user data: no generator recipe
    data_file = tmp_path / "mine.npz"
    data.save(data_file)
    ckpt = tmp_path / "user.npz"
    assert (
        main(
            [
                "run",
                "--data-file",
                str(data_file),
                "--optimizer",
                "lion",
                "--epochs",
                "40",
                "--checkpoint",
                str(ckpt),
                "--out",
                str(tmp_path / "a.npz"),
                *QUIET,
            ]
        )
        == 0
    )
    data_file.unlink()  # the checkpoint holds the data themselves
    assert (
        main(["resume", str(ckpt), "--epochs", "120", "--out", str(tmp_path / "b.npz"), *QUIET])
        == 0
    )
    assert f"data: Dataset(n=6, d=9) #{data.fingerprint[:12]}" in capsys.readouterr().out
    straight = fb.simulate(data, fb.Lion(), epochs=120, record=20)
    assert_same_trajectory(load(tmp_path / "b.npz"), straight)


def test_extend_from_a_horizon_that_is_a_rounded_grid_point(tmp_path, capsys):
    ckpt = tmp_path / "g.npz"
    assert main(["run", "--epochs", "50", "--checkpoint", str(ckpt), *QUIET]) == 0
    assert (
        main(["resume", str(ckpt), "--epochs", "120", "--out", str(tmp_path / "r.npz"), *QUIET])
        == 0
    )
    assert main(["run", "--epochs", "120", "--out", str(tmp_path / "d.npz"), *QUIET]) == 0
    assert_same_trajectory(load(tmp_path / "r.npz"), load(tmp_path / "d.npz"))


def test_resume_a_multiclass_run(tmp_path, capsys):
    ckpt = tmp_path / "mc.npz"
    base = [
        "run",
        "--data",
        "gaussian-multiclass",
        "--n",
        "12",
        "--d",
        "6",
        "--optimizer",
        "muon",
        "--ns-steps",
        "5",
        "--batch-size",
        "3",
        "--sampling",
        "replacement",
        *QUIET,
    ]
    assert main([*base, "--epochs", "40", "--checkpoint", str(ckpt)]) == 0
    assert (
        main(["resume", str(ckpt), "--epochs", "100", "--out", str(tmp_path / "r.npz"), *QUIET])
        == 0
    )
    assert main([*base, "--epochs", "100", "--out", str(tmp_path / "d.npz")]) == 0
    assert_same_trajectory(load(tmp_path / "r.npz"), load(tmp_path / "d.npz"))
    text = capsys.readouterr().out
    assert "gamma_spectral" in text


@pytest.mark.parametrize(
    "argv, message, code",
    [
        (["--epochs", "100"], "has done 300 epochs; epochs must be at least that", 2),
        (["--out", "{ckpt}"], "is also the resumed checkpoint: refusing to overwrite an input", 2),
        (["--out", "{stem}"], "is also the resumed checkpoint: refusing to overwrite an input", 2),
    ],
)
def test_resume_refusals_leave_the_checkpoint_untouched(argv, message, code, finished, capsys):
    before = finished.read_bytes()
    argv = [a.format(ckpt=finished, stem=str(finished)[:-4]) for a in argv]
    assert main(["resume", str(finished), *argv, *QUIET]) == code
    assert message in one_error_line(capsys.readouterr().err, "resume")
    assert finished.read_bytes() == before


def test_resume_of_a_missing_or_foreign_file(tmp_path, capsys):
    assert main(["resume", str(tmp_path / "nothing.npz")]) == 2
    assert "does not exist" in one_error_line(capsys.readouterr().err, "resume")
    fb.datasets.gaussian(n=4, d=3).save(tmp_path / "data.npz")
    before = (tmp_path / "data.npz").read_bytes()
    assert main(["resume", str(tmp_path / "data.npz")]) == 2
    assert "expected 'fastbias-checkpoint-2'" in one_error_line(capsys.readouterr().err, "resume")
    assert (tmp_path / "data.npz").read_bytes() == before


def test_info_describes_a_checkpoint(finished, capsys):
    assert main(["info", str(finished)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"checkpoint: {finished}"
    assert lines[1].startswith(
        "progress: epoch 300 of 300 (100.0%, finished); 3,000 optimizer steps;"
    )
    text = "\n".join(lines)
    assert (
        "data: gaussian(n=10, d=50, seed=0) (binary, n=10, d=50; rebuilt from its "
        "generator)" in text
    )
    assert "optimizer: IncAdam(" in text and "sampling='reshuffle'" in text
    assert "lr: PolynomialDecay(eta0=0.1, power=0.5)" in text
    assert "loss: exp; seed: 2; record: 10 per decade of epochs; w0: zeros" in text
    info = fb.checkpoint_info(finished)
    assert f"data fingerprint: {info['data_fingerprint']}" in text
    assert f"extend: fastbias resume {finished} --epochs N (N > 300)" in text


def test_info_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.npz")]) == 2
    assert "does not exist" in one_error_line(capsys.readouterr().err, "info")


def test_run_resume_flag_still_works(tmp_path, finished, capsys):
    # --resume F --checkpoint F: the one allowed pair (resumed and written)
    extended = RUN.copy()
    extended[extended.index("--epochs") + 1] = "400"
    assert (
        main(
            [
                *extended,
                "--resume",
                str(finished),
                "--checkpoint",
                str(finished),
                "--out",
                str(tmp_path / "a.npz"),
            ]
        )
        == 0
    )
    assert fb.checkpoint_info(finished)["epoch"] == 400
    # --resume F alone: continues without writing a checkpoint
    before = finished.read_bytes()
    extended[extended.index("--epochs") + 1] = "500"
    assert main([*extended, "--resume", str(finished), "--out", str(tmp_path / "b.npz")]) == 0
    assert finished.read_bytes() == before
    assert_same_trajectory(load(tmp_path / "b.npz"), direct(tmp_path, 500))
    # --resume F --checkpoint G: a new G is written; an existing G is never overwritten
    other = tmp_path / "other.npz"
    assert (
        main(
            [
                *extended,
                "--resume",
                str(finished),
                "--checkpoint",
                str(other),
                "--out",
                str(tmp_path / "c.npz"),
            ]
        )
        == 0
    )
    assert fb.checkpoint_info(other)["epoch"] == 500
    capsys.readouterr()
    g_before = other.read_bytes()
    assert (
        main(
            [
                *extended,
                "--resume",
                str(finished),
                "--checkpoint",
                str(other),
                "--out",
                str(tmp_path / "d.npz"),
            ]
        )
        == 2
    )
    assert "exists and is not the resumed checkpoint" in one_error_line(capsys.readouterr().err)
    assert other.read_bytes() == g_before
    # a missing --resume file
    assert (
        main([*RUN, "--resume", str(tmp_path / "none.npz"), "--out", str(tmp_path / "e.npz")]) == 2
    )
    assert "does not exist" in one_error_line(capsys.readouterr().err)

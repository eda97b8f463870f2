"""The ``fastbias`` command: help, run, fixed-point, info, reproduce."""

import csv
import os
import time

import numpy as np
import pytest

import fastbias as fb
from fastbias.cli import SUBCOMMANDS, main

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fastbias")
    for name in ("reproduce", "run", "fixed-point", "info", "bench"):
        assert name in out


@pytest.mark.parametrize("name", [entry[0] for entry in SUBCOMMANDS])
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: fastbias {name}")


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: fastbias" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"fastbias {fb.__version__}"


def test_info_names_versions_cache_and_threads(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"fastbias {fb.__version__}")
    for word in ("numba", "numpy", "cvxpy", "clarabel", "kernel cache:", "jit:", "threads:"):
        assert word in out


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------


def test_bench_prints_one_row_per_entry_with_ratios(capsys):
    assert main(["bench", "--shapes", "4x3", "5x2", "--optimizers", "inc-adam", "gd",
                 "--loss", "exp", "logistic", "--budget", "1e-4", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header[:5] == ["shape", "optimizer", "loss", "ns/step", "ns/coord"]
    n_numbers = 2 + 2 * (header.count("ns/step") - 1)  # own 2, then ns/step and ratio per ref
    expected = [(shape, opt, loss) for shape in ("4x3", "5x2")
                for opt in ("Inc-Adam b=1", "GD") for loss in ("exp", "logistic")]
    for line, (shape, opt, loss) in zip(lines[1:9], expected, strict=True):
        assert line.startswith(shape) and f" {opt} " in line and f" {loss} " in line
        numbers = [float(x) for x in line.split()[-n_numbers:]]
        assert all(x > 0 for x in numbers)
    assert "plain = a textbook Numba loop" in "\n".join(lines[9:])


@pytest.mark.parametrize("argv, message", [
    (["--shapes", "10"], "expected NxD"),
    (["--shapes", "0x5"], "expected N, D >= 1"),
    (["--optimizers", "adam"], "invalid choice"),
    (["--budget", "-1"], "expected a positive number"),
])
def test_bench_rejects_bad_values(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_run_saves_the_trajectory_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "t.npz"
    args = ["run", "--data", "gr", "--optimizer", "inc-adam", "--sampling", "reshuffle",
            "--epochs", "2e3", "--seed", "4", "--record", "30", "--out", str(out),
            "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    saved = fb.Trajectory.load(out)
    data = fb.datasets.generalized_rademacher(n=10, d=50, seed=0)
    direct = fb.simulate(data, fb.IncAdam(sampling="reshuffle"), epochs=2000, seed=4,
                         record=30)
    assert saved.w.tobytes() == direct.w.tobytes()
    np.testing.assert_array_equal(saved.epochs, direct.epochs)
    header = next(line for line in text.splitlines() if line.lstrip().startswith("epoch"))
    for column in ("log-loss", "gamma_2", "gamma_inf", "ratio l_2", "ratio l_inf", "cos l_2",
                   "cos l_inf", "cos fixed pt"):
        assert column in header
    last = text.splitlines()[-1].split()
    assert last[0] == "2,000"
    from fastbias.geometry import max_margin

    cos_l2 = fb.cosine(direct.w[-1], max_margin(data, p=2).w)
    assert last[6] == f"{cos_l2:.4f}"
    assert float(last[1]) == pytest.approx(direct.log_loss[-1], abs=1e-4)


def test_run_options_reach_the_optimizer_and_schedule(tmp_path, capsys):
    out = tmp_path / "s.npz"
    assert main(["run", "--optimizer", "inc-signum", "--beta", "0.9", "--batch-size", "2",
                 "--eta0", "0.05", "--power", "1", "--loss", "logistic", "--epochs", "50",
                 "--no-references", "--out", str(out), "--no-progress"]) == 0
    params = fb.Trajectory.load(out).params
    assert params["optimizer"] == fb.IncSignum(beta=0.9, batch_size=2).to_dict()
    assert params["lr"] == fb.PolynomialDecay(0.05, 1.0).to_dict()
    assert params["loss"] == "logistic"
    assert "cos l_2" not in capsys.readouterr().out  # --no-references: no solver needed


def test_run_gd_uses_a_constant_rate(tmp_path, capsys):
    out = tmp_path / "gd.npz"
    assert main(["run", "--optimizer", "gd", "--eta0", "0.2", "--epochs", "20",
                 "--no-references", "--out", str(out), "--no-progress"]) == 0
    assert fb.Trajectory.load(out).params["lr"] == fb.Constant(0.2).to_dict()


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "det-adam", "--batch-size", "3", "--sampling", "reshuffle"],
     "--batch-size, --sampling do not apply to --optimizer det-adam (it takes --beta1, "
     "--beta2)"),
    (["--optimizer", "adam-proxy", "--beta1", "0.5"],
     "--beta1 does not apply to --optimizer adam-proxy (it takes no optimizer options)"),
    (["--optimizer", "inc-signum", "--beta2", "0.5"], "--beta2 does not apply"),
    (["--optimizer", "inc-adam", "--beta", "0.5"], "--beta does not apply"),
    (["--optimizer", "gd", "--power", "0.3"], "--power does not apply: gd runs a constant"),
    (["--constant-lr", "--power", "0.3"], "--power does not apply: --constant-lr"),
])
def test_run_refuses_options_that_do_not_apply(argv, message, tmp_path, capsys):
    out = tmp_path / "x.npz"
    assert main(["run", *argv, "--epochs", "5", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_run_on_non_separable_data_needs_the_flag(tmp_path, capsys):
    base = ["run", "--n", "40", "--d", "2", "--optimizer", "gd", "--epochs", "20",
            "--out", str(tmp_path / "gd.npz"), "--no-progress"]
    assert main(base) == 2
    assert "not linearly separable" in capsys.readouterr().err
    assert main([*base, "--no-separability-check"]) == 0
    out = capsys.readouterr().out
    assert "no max-margin references: the data are not linearly separable" in out
    assert fb.Trajectory.load(tmp_path / "gd.npz").epochs[-1] == 20


def test_run_reports_invalid_values(tmp_path, capsys):
    assert main(["run", "--beta2", "1.0", "--out", str(tmp_path / "x.npz")]) == 2
    assert "fastbias run: error: beta2 must be in [0, 1); got 1.0." in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
    assert main(["run", "--optimizer", "inc-adam", "--batch-size", "11", "--out",
                 str(tmp_path / "x.npz")]) == 2
    assert "batch_size must be in [1, n] = [1, 10]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", "--epochs", "2.5"])
    assert exc.value.code == 2
    assert "expected a positive integer; got '2.5'" in capsys.readouterr().err


def test_run_checkpoint_flags(tmp_path, capsys):
    ckpt = tmp_path / "state.npz"
    base = ["run", "--epochs", "300", "--sampling", "replacement", "--no-references",
            "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "a.npz"), "--checkpoint", str(ckpt),
                 "--checkpoint-every", "0.01"]) == 0
    with np.load(ckpt) as saved:
        assert int(saved["counters"][0]) == 300  # the final state is saved at the end
    # resuming a finished run returns the same trajectory
    assert main([*base, "--out", str(tmp_path / "b.npz"), "--resume", str(ckpt)]) == 0
    a, b = fb.Trajectory.load(tmp_path / "a.npz"), fb.Trajectory.load(tmp_path / "b.npz")
    assert a.w.tobytes() == b.w.tobytes()
    assert "resumed at epoch 300: 0 more epochs" in capsys.readouterr().out
    # a checkpoint of another run is refused, naming what differs
    assert main([*base, "--seed", "1", "--out", str(tmp_path / "c.npz"),
                 "--resume", str(ckpt)]) == 2
    assert "belongs to a different run: seed differs" in capsys.readouterr().err


def test_run_data_file(tmp_path, capsys):
    data = fb.datasets.gaussian(n=5, d=8, seed=7)
    data.save(tmp_path / "data.npz")
    out = tmp_path / "t.npz"
    assert main(["run", "--data-file", str(tmp_path / "data.npz"), "--epochs", "30",
                 "--out", str(out), "--no-progress"]) == 0
    assert fb.Trajectory.load(out).params["data"] == data.fingerprint
    assert "(n=5, d=8)" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# fixed-point
# --------------------------------------------------------------------------------------------


def test_fixed_point_on_shifted_diagonal_data(tmp_path, capsys):
    out = tmp_path / "fp.npz"
    assert main(["fixed-point", "--data", "shifted-diagonal", "--n", "5", "--out",
                 str(out)]) == 0
    text = capsys.readouterr().out
    assert "converged True" in text
    assert "support (samples with c_i > 0): [0]" in text  # c* = e_j, j = argmin a_i
    assert "with l_inf 1.000000" in text  # its direction is the l_inf max-margin direction
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["c"], np.eye(5)[0], atol=1e-9)
        np.testing.assert_allclose(saved["w"], np.full(5, 5**-0.5), atol=1e-9)
        assert bool(saved["converged"]) and saved["residual"] <= 1e-8


def test_fixed_point_on_gr_data_is_the_l2_direction(capsys):
    assert main(["fixed-point", "--data", "gr", "--n", "6", "--d", "12"]) == 0
    text = capsys.readouterr().out
    assert "cosine with the l_2 max-margin direction 1.000000" in text


# --------------------------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------------------------


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_reproduce_writes_png_tidy_csv_and_summary(tmp_path, capsys):
    assert main(["reproduce", "fig2", "fig9", "--epochs", "200", "--record", "15",
                 "--out", str(tmp_path), "--no-progress", "--dpi", "40"]) == 0
    out = capsys.readouterr().out
    assert "paper's claim:" in out and "done: 2 figure(s)" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fig2.csv", "fig2.png", "fig2.txt", "fig9.csv", "fig9.png", "fig9.txt"]
    assert (tmp_path / "fig2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_csv(tmp_path / "fig9.csv")
    assert rows[0] == ["figure", "curve", "reference", "metric", "epoch", "value"]
    assert {r[0] for r in rows[1:]} == {"fig9"}
    assert {r[2] for r in rows[1:]} == {"l2", "linf"}
    assert max(int(r[4]) for r in rows[1:]) == 200
    assert all(np.isfinite(float(r[5])) for r in rows[1:])
    summary = (tmp_path / "fig2.txt").read_text(encoding="utf-8")
    assert summary.startswith("fig2: GR data") and "horizon: 200 epochs" in summary


def test_reproduce_rejects_unknown_figures(tmp_path, capsys):
    assert main(["reproduce", "fig0", "--out", str(tmp_path)]) == 2
    assert "figure must be one of ['fig1'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(JIT_DISABLED, reason="quick horizons are 1e5-1e6 epochs")
def test_reproduce_all_quick(tmp_path, capsys):
    start = time.perf_counter()
    assert main(["reproduce", "all", "--quick", "--jobs", "2", "--out", str(tmp_path),
                 "--no-progress", "--quiet", "--dpi", "50"]) == 0
    seconds = time.perf_counter() - start
    names = [f"fig{i}" for i in range(1, 11)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{n}.{ext}" for n in names for ext in ("png", "csv", "txt"))
    for name in names:
        text = (tmp_path / f"{name}.txt").read_text(encoding="utf-8")
        assert "(quick mode)" in text
        assert len(read_csv(tmp_path / f"{name}.csv")) > 100
    assert seconds < 300  # CI time; about 10-25 s on two cores

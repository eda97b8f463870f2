"""The ``fastbias`` command: help, run (binary and multiclass), options from the registry,
fixed-point, info, reproduce, bench.

Long-run workflows (checkpoints, resume, extend, info F) are in ``test_cli_longrun.py``,
file safety and error reporting in ``test_cli_files.py``, signals and kill -9 in
``test_checkpoint.py``.
"""

import csv
import dataclasses
import os
import time
from typing import ClassVar

import numpy as np
import pytest

import fastbias as fb
from fastbias import cli
from fastbias.cli import SUBCOMMANDS, build_parser, main
from fastbias.cli._args import progress_default
from fastbias.optimizers import get_optimizer, optimizer_names, options_of

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fastbias")
    for name in ("reproduce", "run", "resume", "fixed-point", "info", "bench"):
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


def test_a_subcommand_that_cannot_be_set_up_does_not_break_the_others(monkeypatch, capsys):
    def broken(parser):
        raise ImportError("No module named 'fastbias.being_rewritten'")

    table = [
        (name, text, broken if name == "bench" else add, handler)
        for name, text, add, handler in SUBCOMMANDS
    ]
    monkeypatch.setattr(cli, "SUBCOMMANDS", table)
    assert main(["info"]) == 0
    capsys.readouterr()
    assert main(["bench", "--shapes", "4x3"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "fastbias bench: error: this command is unavailable (ImportError: No "
        "module named 'fastbias.being_rewritten')\n"
    )


def test_progress_defaults_to_on_when_stderr_is_a_terminal(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    assert progress_default(None) is True
    assert progress_default(False) is False
    monkeypatch.undo()
    assert progress_default(None) is False  # pytest captures stderr: not a terminal


# --------------------------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------------------------


def test_bench_prints_one_row_per_entry_with_ratios(capsys):
    assert (
        main(
            [
                "bench",
                "--shapes",
                "4x3",
                "5x2",
                "--optimizers",
                "inc-adam",
                "gd",
                "--loss",
                "exp",
                "logistic",
                "--budget",
                "1e-4",
                "--rounds",
                "1",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header[:6] == ["shape", "optimizer", "loss", "ns/step", "ns/coord", "x"]
    assert header[6] == "floor"
    n_numbers = 2 + 2 * (header.count("ns/step") - 1)  # own 2, then ns/step and ratio per ref
    expected = [
        (shape, opt, loss)
        for shape in ("4x3", "5x2")
        for opt in ("inc-adam", "gd")
        for loss in ("exp", "logistic")
    ]
    for line, (shape, opt, loss) in zip(lines[1:9], expected, strict=True):
        assert line.startswith(shape) and f" {opt} " in line and f" {loss} " in line
        numbers = [float(x) for x in line.split()[-n_numbers:]]
        assert all(x > 0 for x in numbers)
    footer = "\n".join(lines[9:])
    assert "plain = a textbook Numba loop" in footer
    assert "ns per coordinate on this machine: one correctly rounded sqrt" in footer


def test_bench_startup_prints_seconds_and_ratios(monkeypatch, capsys):
    import fastbias.benchmarks as benchmarks

    calls = []

    def fake(rounds):  # the fresh interpreters are timed in bench/test_startup.py
        calls.append(rounds)
        names = ("numpy+numba", "numba floor", "import fastbias", "first simulate")
        return dict(zip(names, (0.25, 0.5, 0.3, 0.6), strict=True))

    monkeypatch.setattr(benchmarks, "startup_timing", fake)
    assert main(["bench", "--startup"]) == 0
    assert main(["bench", "--startup", "--rounds", "2"]) == 0
    assert calls == [7, 2]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["program", "seconds", "x", "numpy+numba"]
    rows = [line.rsplit(maxsplit=2) for line in lines[1:5]]
    assert rows == [
        ["numpy+numba", "0.250", "1.00"],
        ["numba floor", "0.500", "2.00"],
        ["import fastbias", "0.300", "1.20"],
        ["first simulate", "0.600", "2.40"],
    ]
    assert "numba floor: the first call of one cached trivial kernel" in "\n".join(lines)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--shapes", "10"], "expected NxD"),
        (["--shapes", "0x5"], "expected N, D >= 1"),
        (["--optimizers", "adam"], "invalid choice"),
        (["--budget", "-1"], "expected a positive number"),
    ],
)
def test_bench_rejects_bad_values(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# run: binary data
# --------------------------------------------------------------------------------------------


def test_run_saves_the_trajectory_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "t.npz"
    args = [
        "run",
        "--data",
        "gr",
        "--optimizer",
        "inc-adam",
        "--sampling",
        "reshuffle",
        "--epochs",
        "2e3",
        "--seed",
        "4",
        "--record",
        "30",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    saved = fb.Trajectory.load(out)
    data = fb.datasets.generalized_rademacher(n=10, d=50, seed=0)
    direct = fb.simulate(data, fb.IncAdam(sampling="reshuffle"), epochs=2000, seed=4, record=30)
    assert saved.w.tobytes() == direct.w.tobytes()
    np.testing.assert_array_equal(saved.epochs, direct.epochs)  # 30 per decade, fixed grid
    header = next(line for line in text.splitlines() if line.lstrip().startswith("epoch"))
    for column in (
        "log-loss",
        "gamma_l_2",
        "gamma_l_inf",
        "ratio l_2",
        "ratio l_inf",
        "cos l_2",
        "cos l_inf",
        "cos fixed pt",
    ):
        assert column in header
    last = text.splitlines()[-1].split()
    assert last[0] == "2,000"
    from fastbias.geometry import max_margin

    cos_l2 = fb.cosine(direct.w[-1], max_margin(data, p=2).w)
    assert last[6] == f"{cos_l2:.4f}"
    assert float(last[1]) == pytest.approx(direct.log_loss[-1], abs=1e-4)


def test_run_record_means_records_per_decade(tmp_path):
    out = tmp_path / "t.npz"
    assert (
        main(
            [
                "run",
                "--epochs",
                "1000",
                "--record",
                "2",
                "--no-references",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    # round(10**(j/2)): 1, 3, 10, 32, 100, 316, 1000
    assert fb.Trajectory.load(out).epochs.tolist() == [1, 3, 10, 32, 100, 316, 1000]


def test_run_options_reach_the_optimizer_and_schedule(tmp_path, capsys):
    out = tmp_path / "s.npz"
    assert (
        main(
            [
                "run",
                "--optimizer",
                "inc-signum",
                "--beta",
                "0.9",
                "--batch-size",
                "2",
                "--eta0",
                "0.05",
                "--power",
                "1",
                "--loss",
                "logistic",
                "--epochs",
                "50",
                "--no-references",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    params = fb.Trajectory.load(out).params
    assert params["optimizer"] == fb.IncSignum(beta=0.9, batch_size=2).to_dict()
    assert params["lr"] == fb.PolynomialDecay(0.05, 1.0).to_dict()
    assert params["loss"] == "logistic"
    assert "cos l_2" not in capsys.readouterr().out  # --no-references: no solver needed


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            [
                "--optimizer",
                "inc-adam",
                "--eps",
                "1e-8",
                "--bias-correction",
                "--weight-decay",
                "0.01",
                "--batch-size",
                "none",
                "--beta1",
                "0.8",
                "--beta2",
                "0.99",
            ],
            fb.IncAdam(
                beta1=0.8,
                beta2=0.99,
                batch_size=None,
                eps=1e-8,
                bias_correction=True,
                weight_decay=0.01,
            ),
        ),
        (
            ["--optimizer", "det-adam", "--no-bias-correction", "--eps", "1e-4"],
            fb.DetAdam(eps=1e-4),
        ),
        (
            ["--optimizer", "rmsprop", "--beta2", "0.9", "--sampling", "replacement"],
            fb.RMSProp(beta2=0.9, sampling="replacement"),
        ),
        (
            ["--optimizer", "adagrad", "--eps", "1e-3", "--batch-size", "5"],
            fb.AdaGrad(eps=1e-3, batch_size=5),
        ),
        (
            ["--optimizer", "lion", "--beta1", "0.5", "--beta2", "0.9", "--weight-decay", "1e-3"],
            fb.Lion(beta1=0.5, beta2=0.9, weight_decay=1e-3),
        ),
        (
            ["--optimizer", "sgd", "--momentum", "0.5", "--nesterov"],
            fb.SGD(momentum=0.5, nesterov=True),
        ),
        (
            [
                "--optimizer",
                "muon",
                "--momentum",
                "0.9",
                "--nesterov",
                "--ns-steps",
                "5",
                "--batch-size",
                "2",
                "--sampling",
                "reshuffle",
            ],
            fb.Muon(momentum=0.9, nesterov=True, ns_steps=5, batch_size=2, sampling="reshuffle"),
        ),
        (
            ["--optimizer", "spectral-descent", "--batch-size", "1"],
            fb.SpectralDescent(batch_size=1),
        ),
        (["--optimizer", "adam-proxy"], fb.AdamProxy()),
    ],
)
def test_registry_options_reach_the_optimizer(argv, expected, tmp_path):
    out = tmp_path / "o.npz"
    assert (
        main(["run", *argv, "--epochs", "5", "--no-references", "--no-progress", "--out", str(out)])
        == 0
    )
    assert fb.Trajectory.load(out).params["optimizer"] == expected.to_dict()


def test_every_option_of_every_registered_optimizer_is_a_flag(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "--optimizer {" + ",".join(optimizer_names()) + "}" in " ".join(text.split())
    for name in optimizer_names():
        for option in options_of(get_optimizer(name)):
            assert "--" + option.name.replace("_", "-") in text, (name, option.name)
    # types: bools are --x/--no-x, choices from the declared options
    assert "--bias-correction, --no-bias-correction" in text
    assert "--nesterov, --no-nesterov" in text
    assert "--sampling {cyclic,reshuffle,replacement}" in text
    # help from the declared options of the classes, defaults per optimizer (argparse may
    # wrap a line after a hyphen: "inc- adam")
    flat = " ".join(text.split()).replace("- ", "-")
    assert "quintic Newton-Schulz steps; an integer in [1, 100], or None" in flat
    assert (
        "Default: 0.999 for inc-adam, det-adam, nadam, adabelief, adamax; 0.99 for rmsprop, "
        "lion." in flat
    )
    assert "Default: 0.9 for sgd; 0.95 for muon; 0.0 for steepest-descent." in flat


def test_no_hand_written_optimizer_table_remains():
    with open(cli.__file__, encoding="utf-8") as fh:
        source = fh.read()
    assert "_OPTIMIZER_OPTIONS" not in source and "_OPTIMIZERS =" not in source
    for cls_name in ("IncAdam", "DetAdam", "Muon", "Lion", "RMSProp"):
        assert f"fb.{cls_name}" not in source


def test_an_optimizer_registered_later_gets_its_flags(tmp_path, capsys):
    from fastbias import extend
    from fastbias.optimizers.registry import _REGISTRY

    @extend.register("cli-test-heavy-ball")
    @dataclasses.dataclass(frozen=True)
    class CliTestHeavyBall(extend.Optimizer):
        """Heavy ball for a test."""

        knob: float = extend.option(
            0.5, "the momentum of this test optimizer", low=0.0, high=1.0, closed="left"
        )
        batch_size: int | None = 1  # a plain field: a flag from its annotation
        rule: ClassVar[extend.Rule] = fb.SGD.rule

        def hyperparameters(self):
            return (self.knob, 0.0)

    try:
        with pytest.raises(SystemExit):
            main(["run", "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "cli-test-heavy-ball" in text
        assert (
            "--knob X the momentum of this test optimizer; in [0, 1). Default: 0.5 for "
            "cli-test-heavy-ball." in text
        )
        out = tmp_path / "hb.npz"
        assert (
            main(
                [
                    "run",
                    "--optimizer",
                    "cli-test-heavy-ball",
                    "--knob",
                    "0.25",
                    "--epochs",
                    "5",
                    "--no-references",
                    "--no-progress",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        stored = dict(fb.Trajectory.load(out).params["optimizer"])
        assert len(stored.pop("code")) == 16  # the fingerprint of a user's code
        assert stored == {
            "name": "CliTestHeavyBall",
            "knob": 0.25,
            "batch_size": 1,
        }
        assert (
            main(
                [
                    "run",
                    "--optimizer",
                    "inc-adam",
                    "--knob",
                    "0.3",
                    "--epochs",
                    "5",
                    "--out",
                    str(out),
                ]
            )
            == 2
        )
        assert "--knob does not apply to --optimizer inc-adam" in capsys.readouterr().err
    finally:
        _REGISTRY.pop("cli-test-heavy-ball", None)


@pytest.mark.parametrize("name", optimizer_names())
@pytest.mark.parametrize(
    "data",
    [[], ["--data", "gaussian-multiclass", "--n", "9", "--d", "6"]],
    ids=["binary", "multiclass"],
)
def test_every_registered_optimizer_runs_from_the_command_line(name, data, tmp_path):
    out = tmp_path / "t.npz"
    assert (
        main(
            [
                "run",
                "--optimizer",
                name,
                *data,
                "--epochs",
                "8",
                "--no-references",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    tr = fb.Trajectory.load(out)
    assert tr.params["optimizer"]["name"] == get_optimizer(name).__name__
    assert tr.epochs[-1] == 8 and np.all(np.isfinite(tr.w))
    assert tr.multiclass == bool(data)


def test_run_gd_uses_a_constant_rate(tmp_path, capsys):
    out = tmp_path / "gd.npz"
    assert (
        main(
            [
                "run",
                "--optimizer",
                "gd",
                "--eta0",
                "0.2",
                "--epochs",
                "20",
                "--no-references",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert fb.Trajectory.load(out).params["lr"] == fb.Constant(0.2).to_dict()


def test_run_default_rates_are_those_of_simulate(tmp_path):
    for name, expected in (
        ("sgd", fb.Constant(0.01)),
        ("gd", fb.Constant(0.1)),
        ("lion", fb.PolynomialDecay(0.1, 0.5)),
    ):
        out = tmp_path / f"{name}.npz"
        assert (
            main(
                [
                    "run",
                    "--optimizer",
                    name,
                    "--epochs",
                    "3",
                    "--no-references",
                    "--no-progress",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        assert fb.Trajectory.load(out).params["lr"] == expected.to_dict()
    out = tmp_path / "c.npz"
    assert (
        main(
            [
                "run",
                "--constant-lr",
                "--eta0",
                "0.3",
                "--epochs",
                "3",
                "--no-references",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert fb.Trajectory.load(out).params["lr"] == fb.Constant(0.3).to_dict()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--optimizer", "det-adam", "--batch-size", "3", "--sampling", "reshuffle"],
            "--batch-size, --sampling do not apply to --optimizer det-adam (it takes --beta1, "
            "--beta2, --eps, --[no-]bias-correction, --weight-decay, --[no-]amsgrad, "
            "--eps-root).",
        ),
        (
            ["--optimizer", "adam-proxy", "--beta1", "0.5"],
            "--beta1 does not apply to --optimizer adam-proxy (it takes no optimizer options).",
        ),
        (
            ["--optimizer", "inc-signum", "--beta2", "0.5"],
            "--beta2 does not apply to --optimizer inc-signum (it takes --beta, --batch-size, "
            "--sampling).",
        ),
        (["--optimizer", "inc-adam", "--beta", "0.5"], "--beta does not apply"),
        (
            ["--optimizer", "rmsprop", "--beta1", "0.5"],
            "--beta1 does not apply to --optimizer rmsprop (it takes --beta2, --eps, "
            "--batch-size, --sampling).",
        ),
        (
            ["--optimizer", "lion", "--no-bias-correction"],
            "--[no-]bias-correction does not apply to --optimizer lion",
        ),
        (
            ["--optimizer", "gd", "--nesterov", "--momentum", "0.5"],
            "--momentum, --[no-]nesterov do not apply to --optimizer gd (it takes --batch-size, "
            "--sampling).",
        ),
        (["--optimizer", "sgd", "--ns-steps", "5"], "--ns-steps does not apply to --optimizer sgd"),
        (
            ["--optimizer", "gd", "--power", "0.3"],
            "--power does not apply: --optimizer gd runs a constant rate eta0.",
        ),
        (
            ["--optimizer", "sgd", "--power", "0.3"],
            "--power does not apply: --optimizer sgd runs a constant rate eta0.",
        ),
        (["--constant-lr", "--power", "0.3"], "--power does not apply: --constant-lr"),
        (["--loss", "ce"], "--loss ce does not apply to binary data (it takes exp, logistic)."),
        (
            ["--data", "gaussian-multiclass", "--loss", "logistic"],
            "--loss logistic does not apply to multiclass data (it takes ce, exp).",
        ),
        (["--k", "3"], "--k does not apply to --data gaussian (it takes --n, --d, --data-seed)."),
        (["--data", "gr", "--delta", "0.2"], "--delta does not apply to --data gr"),
        (
            ["--data", "shifted-diagonal", "--d", "4"],
            "--d does not apply to --data shifted-diagonal (it takes --n, --delta).",
        ),
    ],
)
def test_run_refuses_options_that_do_not_apply(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fb, "simulate", _no_simulation)
    out = tmp_path / "x.npz"
    assert main(["run", *argv, "--epochs", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastbias run: error: ") and err.count("\n") == 1
    assert message in err
    assert not out.exists()


def _no_simulation(*args, **kwargs):
    raise AssertionError("the run started although its arguments were refused")


def test_data_file_excludes_the_generator_options(tmp_path, capsys):
    fb.datasets.gaussian(n=5, d=8, seed=7).save(tmp_path / "data.npz")
    assert (
        main(
            [
                "run",
                "--data-file",
                str(tmp_path / "data.npz"),
                "--n",
                "5",
                "--data",
                "gr",
                "--out",
                str(tmp_path / "x.npz"),
            ]
        )
        == 2
    )
    assert (
        "--data, --n cannot be combined with --data-file (the file holds the data)."
        in capsys.readouterr().err
    )


def test_run_on_non_separable_data_needs_the_flag(tmp_path, capsys):
    base = [
        "run",
        "--n",
        "40",
        "--d",
        "2",
        "--optimizer",
        "gd",
        "--epochs",
        "20",
        "--out",
        str(tmp_path / "gd.npz"),
        "--no-progress",
    ]
    assert main(base) == 2
    assert "pass --no-separability-check" in capsys.readouterr().err
    assert main([*base, "--no-separability-check"]) == 0
    out = capsys.readouterr().out
    assert "no max-margin references: the data are not linearly separable" in out
    assert "misclassifies some samples; the data are not linearly separable)" in out
    assert "run longer" not in out
    assert fb.Trajectory.load(tmp_path / "gd.npz").epochs[-1] == 20


def test_run_reports_invalid_values(tmp_path, capsys):
    assert main(["run", "--beta2", "1.0", "--out", str(tmp_path / "x.npz")]) == 2
    assert "fastbias run: error: beta2 must be in [0, 1); got 1.0." in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
    assert (
        main(
            [
                "run",
                "--optimizer",
                "inc-adam",
                "--batch-size",
                "11",
                "--out",
                str(tmp_path / "x.npz"),
            ]
        )
        == 2
    )
    assert "batch_size must be in [1, n] = [1, 10]" in capsys.readouterr().err
    assert (
        main(["run", "--optimizer", "muon", "--ns-steps", "0", "--out", str(tmp_path / "x.npz")])
        == 2
    )
    assert "ns_steps must be an integer in [1, 100]; got 0." in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", "--epochs", "2.5"])
    assert exc.value.code == 2
    assert "expected a positive integer; got '2.5'" in capsys.readouterr().err


def test_run_warnings_are_one_line(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--beta1",
                "0.99",
                "--beta2",
                "0.9",
                "--epochs",
                "3",
                "--no-references",
                "--no-progress",
                "--out",
                str(tmp_path / "w.npz"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.startswith("fastbias run: warning: IncAdam(beta1=0.99, beta2=0.9): beta1**2 > beta2")
    assert err.count("\n") == 1


def test_run_data_file(tmp_path, capsys):
    data = fb.datasets.gaussian(n=5, d=8, seed=7)
    data.save(tmp_path / "data.npz")
    out = tmp_path / "t.npz"
    assert (
        main(
            [
                "run",
                "--data-file",
                str(tmp_path / "data.npz"),
                "--epochs",
                "30",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert fb.Trajectory.load(out).params["data"] == data.fingerprint
    assert "(n=5, d=8)" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# run: multiclass data
# --------------------------------------------------------------------------------------------


def test_multiclass_muon_run_with_references(tmp_path, capsys):
    out = tmp_path / "mc.npz"
    assert (
        main(
            [
                "run",
                "--data",
                "gaussian-multiclass",
                "--n",
                "12",
                "--d",
                "8",
                "--k",
                "3",
                "--optimizer",
                "muon",
                "--epochs",
                "300",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    mds = fb.datasets.gaussian_multiclass(n=12, d=8, k=3, seed=0)
    direct = fb.simulate(mds, fb.Muon(), epochs=300)
    saved = fb.Trajectory.load(out)
    assert saved.w.shape[1:] == (3, 8) and saved.w.tobytes() == direct.w.tobytes()
    assert saved.params["loss"] == "ce"
    header = next(line for line in text.splitlines() if line.lstrip().startswith("epoch"))
    assert header.split() == [
        "epoch",
        "log-loss",
        "gamma_max",
        "gamma_fro",
        "gamma_spectral",
        "ratio",
        "max",
        "ratio",
        "fro",
        "ratio",
        "spectral",
        "cos",
        "max",
        "cos",
        "fro",
        "cos",
        "spectral",
    ]
    assert "no AdamProxy fixed point for multiclass data" in text
    last = text.splitlines()[-1].split()
    assert last[0] == "300"
    spectral = fb.max_margin(mds, norm="spectral")
    assert spectral.margin > 0
    assert last[-1] == f"{fb.cosine(direct.w[-1].ravel(), spectral.w.ravel()):.4f}"
    gamma = direct.normalized_margin("spectral")[-1]
    assert last[7] == f"{gamma / spectral.margin:.4f}"
    assert float(last[1]) == pytest.approx(direct.log_loss[-1], abs=1e-4)


def test_multiclass_run_without_references_and_with_exp_loss(tmp_path, capsys):
    out = tmp_path / "mc.npz"
    assert (
        main(
            [
                "run",
                "--data",
                "gaussian-multiclass",
                "--optimizer",
                "inc-adam",
                "--loss",
                "exp",
                "--epochs",
                "20",
                "--no-references",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "data: gaussian_multiclass(n=30, d=50, k=3, seed=0)" in text  # generator defaults
    header = next(line for line in text.splitlines() if line.lstrip().startswith("epoch"))
    assert header.split() == ["epoch", "log-loss", "gamma_max", "gamma_fro", "gamma_spectral"]
    assert fb.Trajectory.load(out).params["loss"] == "exp"


def test_multiclass_data_file(tmp_path, capsys):
    mds = fb.datasets.gaussian_multiclass(n=9, d=5, k=3, seed=2)
    mds.save(tmp_path / "mc_data.npz")
    out = tmp_path / "t.npz"
    assert (
        main(
            [
                "run",
                "--data-file",
                str(tmp_path / "mc_data.npz"),
                "--optimizer",
                "spectral-descent",
                "--epochs",
                "10",
                "--no-references",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert fb.Trajectory.load(out).params["data"] == mds.fingerprint
    assert "(multiclass, n=9, d=5, k=3)" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# fixed-point
# --------------------------------------------------------------------------------------------


def test_fixed_point_on_shifted_diagonal_data(tmp_path, capsys):
    out = tmp_path / "fp.npz"
    assert main(["fixed-point", "--data", "shifted-diagonal", "--n", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "converged True" in text
    assert "support (samples with c_i > 0): [0]" in text  # c* = e_j, j = argmin a_i
    assert "with l_inf 1.000000" in text  # its direction is the l_inf max-margin direction
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["c"], np.eye(5)[0], atol=1e-9)
        np.testing.assert_allclose(saved["w"], np.full(5, 5**-0.5), atol=1e-9)
        assert bool(saved["converged"]) and saved["residual"] <= 1e-8


def test_fixed_point_summarizes_long_vectors(tmp_path, capsys):
    out = tmp_path / "fp.npz"
    argv = ["fixed-point", "--n", "30", "--d", "60", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    with np.load(out) as saved:
        c = saved["c"]
    support = np.flatnonzero(c > 0)
    assert f"support (samples with c_i > 0): {support.size} of 30 samples: [" in text
    assert f"c: largest c_{int(np.argmax(c))} = " in text and "all of it in the file" in text
    assert len(text) < 1500


def test_fixed_point_on_gr_data_is_the_l2_direction(capsys):
    assert main(["fixed-point", "--data", "gr", "--n", "6", "--d", "12"]) == 0
    text = capsys.readouterr().out
    assert "cosine with the l_2 max-margin direction 1.000000" in text


def test_fixed_point_refuses_multiclass_data(tmp_path, capsys):
    fb.datasets.gaussian_multiclass(n=9, d=5, k=3).save(tmp_path / "mc.npz")
    assert main(["fixed-point", "--data-file", str(tmp_path / "mc.npz")]) == 2
    assert "fixed-point needs binary data" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------------------------


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_reproduce_writes_png_tidy_csv_and_summary(tmp_path, capsys):
    assert (
        main(
            [
                "reproduce",
                "fig2",
                "fig9",
                "--epochs",
                "200",
                "--record",
                "15",
                "--out",
                str(tmp_path),
                "--no-progress",
                "--dpi",
                "40",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "paper's claim:" in out and "done: 2 figure(s)" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fig2.csv",
        "fig2.png",
        "fig2.txt",
        "fig9.csv",
        "fig9.png",
        "fig9.txt",
    ]
    assert (tmp_path / "fig2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_csv(tmp_path / "fig9.csv")
    assert rows[0] == ["figure", "curve", "reference", "metric", "epoch", "neg_log_loss", "value"]
    assert {r[0] for r in rows[1:]} == {"fig9"}
    assert {r[2] for r in rows[1:]} == {"l2", "linf"}
    assert max(int(r[4]) for r in rows[1:]) == 200
    assert all(np.isfinite(float(r[5])) and np.isfinite(float(r[6])) for r in rows[1:])
    summary = (tmp_path / "fig2.txt").read_text(encoding="utf-8")
    assert summary.startswith("fig2: GR data") and "horizon: 200 epochs" in summary


def test_reproduce_rejects_unknown_figures(tmp_path, capsys):
    assert main(["reproduce", "fig0", "--out", str(tmp_path)]) == 2
    assert "figure must be one of ['fig1'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.skipif(JIT_DISABLED, reason="quick horizons are 1e5-1e6 epochs")
def test_reproduce_all_quick(tmp_path, capsys):
    start = time.perf_counter()
    assert (
        main(
            [
                "reproduce",
                "all",
                "--quick",
                "--jobs",
                "2",
                "--out",
                str(tmp_path),
                "--no-progress",
                "--quiet",
                "--dpi",
                "50",
            ]
        )
        == 0
    )
    seconds = time.perf_counter() - start
    from fastbias.experiments import figure_names

    names = figure_names()  # fig1..fig10 and the experiments beyond the paper
    assert [f"fig{i}" for i in range(1, 11)] == names[:10]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{n}.{ext}" for n in names for ext in ("png", "csv", "txt")
    )
    for name in names:
        text = (tmp_path / f"{name}.txt").read_text(encoding="utf-8")
        assert "(quick mode)" in text
        assert len(read_csv(tmp_path / f"{name}.csv")) > 100
    assert seconds < 300  # CI time; about 30 s on two cores


def test_parser_builds_from_the_table():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == [entry[0] for entry in SUBCOMMANDS]


# --------------------------------------------------------------------------------------------
# learning-rate flags and plugins
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--power", "0.7"], {"name": "PolynomialDecay", "eta0": 0.1, "power": 0.7}),
        (["--eta0", "0.3"], {"name": "PolynomialDecay", "eta0": 0.3, "power": 0.5}),
        (["--eta0", "0.3", "--power", "1"], {"name": "PolynomialDecay", "eta0": 0.3, "power": 1.0}),
        (["--constant-lr"], {"name": "Constant", "eta": 0.1}),
        (["--constant-lr", "--eta0", "0.02"], {"name": "Constant", "eta": 0.02}),
        (["--optimizer", "gd", "--eta0", "0.5"], {"name": "Constant", "eta": 0.5}),
        (["--optimizer", "sgd"], {"name": "Constant", "eta": 0.01}),
    ],
)
def test_learning_rate_flags(tmp_path, flags, expected):
    out = tmp_path / "lr.npz"
    argv = [
        "run",
        *flags,
        "--epochs",
        "5",
        "--n",
        "4",
        "--d",
        "6",
        "--no-references",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert fb.Trajectory.load(out).params["lr"] == expected


def test_power_with_a_constant_rate_is_refused(capsys):
    assert main(["run", "--constant-lr", "--power", "0.7", "--epochs", "5"]) == 2
    assert (
        "--power does not apply: --constant-lr asks for a constant rate" in capsys.readouterr().err
    )
    assert main(["run", "--optimizer", "gd", "--power", "0.7", "--epochs", "5"]) == 2
    assert "--optimizer gd runs a constant rate" in capsys.readouterr().err


def test_an_optimizer_of_your_own_from_a_module_file(tmp_path, capsys):
    module = tmp_path / "my_optimizers.py"
    module.write_text(
        "from dataclasses import dataclass\n"
        "from typing import ClassVar\n"
        "import fastbias as fb\n"
        "from fastbias import extend\n\n"
        "@extend.register('plugin-signgd')\n"
        "@dataclass(frozen=True)\n"
        "class PluginSignGD(extend.Optimizer):\n"
        '    """SignGD under another name."""\n'
        "    batch_size: int | None = extend.batch_size_option(None)\n"
        "    sampling: str = extend.sampling_option()\n"
        "    rule: ClassVar[extend.Rule] = fb.SignGD.rule\n"
    )
    out = tmp_path / "p.npz"
    checkpoint = tmp_path / "p-ck.npz"
    try:
        argv = [
            "run",
            "--import",
            str(module),
            "--optimizer",
            "plugin-signgd",
            "--batch-size",
            "2",
            "--epochs",
            "10",
            "--n",
            "4",
            "--d",
            "6",
            "--no-references",
            "--no-progress",
            "--out",
            str(out),
            "--checkpoint",
            str(checkpoint),
        ]
        assert main(argv) == 0
        tr = fb.Trajectory.load(out)
        stored = dict(tr.params["optimizer"])
        assert len(stored.pop("code")) == 16  # the fingerprint of a user's code
        assert stored == {
            "name": "PluginSignGD",
            "batch_size": 2,
            "sampling": "cyclic",
        }
        direct = fb.simulate(fb.datasets.gaussian(n=4, d=6), fb.SignGD(batch_size=2), epochs=10)
        np.testing.assert_array_equal(tr.w, direct.w)
        assert (
            main(
                [
                    "resume",
                    str(checkpoint),
                    "--import",
                    str(module),
                    "--epochs",
                    "20",
                    "--no-references",
                    "--no-progress",
                    "--out",
                    str(tmp_path / "q.npz"),
                ]
            )
            == 0
        )
    finally:
        from fastbias.optimizers.registry import _REGISTRY

        _REGISTRY.pop("plugin-signgd", None)
    assert main(["run", "--import", "no_such_module_here", "--epochs", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastbias run: error: --import 'no_such_module_here': no module named")


def test_unknown_optimizer_name_suggests_close_names(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--optimizer", "adam", "--epochs", "1"])
    err = capsys.readouterr().err
    assert "unknown optimizer 'adam'; did you mean 'inc-adam' or 'det-adam'" in err
    assert "(choose from inc-adam, det-adam" in err


def test_data_file_takes_a_plain_npz_and_a_csv(tmp_path, capsys):
    from conftest import separable_data

    X, y = separable_data(6, 4, seed=2)
    plain = tmp_path / "plain.npz"
    np.savez(plain, X=X, y=y)
    table = tmp_path / "data.csv"
    np.savetxt(
        table, np.column_stack([X, y]), delimiter=",", header="f0,f1,f2,f3,label", comments=""
    )
    for path in (plain, table):
        out = tmp_path / f"{path.stem}-run.npz"
        assert main(["run", "--data-file", str(path), "--epochs", "5", "--out", str(out)]) == 0
        assert f"data: {path} (n=6, d=4)" in capsys.readouterr().out
        assert fb.Trajectory.load(out).w.shape[1:] == (4,)
    bad = tmp_path / "bad.csv"
    bad.write_text("1.0,2.0,1\n1.0,x,-1\n")
    assert main(["run", "--data-file", str(bad), "--epochs", "5"]) == 2
    assert "is not a CSV file of numbers" in capsys.readouterr().err
    no_y = tmp_path / "no_y.npz"
    np.savez(no_y, X=X)
    assert main(["run", "--data-file", str(no_y), "--epochs", "5"]) == 2
    assert "missing ['y']" in capsys.readouterr().err


def test_intercept_flag_appends_a_constant_feature_to_file_data(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 2))
    y = np.where(X[:, 0] > 0.5, 1.0, -1.0)  # separable by an affine line only
    plain = tmp_path / "affine.npz"
    np.savez(plain, X=X, y=y)
    assert main(["run", "--data-file", str(plain), "--epochs", "5"]) == 2
    assert "with an intercept column they are: pass --intercept" in capsys.readouterr().err
    out = tmp_path / "run.npz"
    argv = ["run", "--data-file", str(plain), "--intercept", "--epochs", "5", "--out", str(out)]
    assert main(argv) == 0
    assert "(n=40, d=3)" in capsys.readouterr().out
    tr = fb.Trajectory.load(out)
    expected = fb.simulate(fb.Dataset(X, y, intercept=True), fb.IncAdam(), epochs=5)
    assert np.array_equal(tr.w, expected.w)
    stored = tmp_path / "stored.npz"
    fb.Dataset(X, y, check_separable=False).save(stored)
    out2 = tmp_path / "run2.npz"
    argv = ["run", "--data-file", str(stored), "--intercept", "--epochs", "5", "--out", str(out2)]
    assert main(argv) == 0
    assert np.array_equal(fb.Trajectory.load(out2).w, expected.w)
    assert main(["run", "--intercept", "--epochs", "5"]) == 2
    assert "--intercept applies to the data of --data-file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "horizon, rows, expected",
    [
        (10**4, 3, [1, 100, 10**4]),
        (10**4, 5, [1, 10, 100, 1000, 10**4]),
        (10**4, 2, [1, 10**4]),
        (3 * 10**4, 3, [1, 10**4, 3 * 10**4]),
        (3 * 10**4, 6, [1, 10, 100, 1000, 10**4, 3 * 10**4]),
    ],
)
def test_summary_rows_are_as_many_as_asked_with_every_decade_they_allow(horizon, rows, expected):
    from fastbias.cli._report import _table_rows
    from fastbias.simulate import record_epochs

    epochs = record_epochs(20, horizon)
    if epochs[-1] != horizon:
        epochs = np.append(epochs, horizon)
    assert epochs[_table_rows(epochs, rows)].tolist() == expected

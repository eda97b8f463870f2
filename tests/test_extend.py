"""An optimizer and a loss registered from outside the package, through the public API only.

The optimizer: QHAdam (Ma and Yarats 2019) without bias correction, ``m = b1 m + (1-b1) g``,
``v = b2 v + (1-b2) g^2``, ``w -= eta ((1-nu1) g + nu1 m) / sqrt((1-nu2) g^2 + nu2 v)`` (0
where the denominator is 0). It is invariant to a positive factor on the gradients, so it
declares the scale behaviour "state", and its two states the dynamics of their magnitude.
The test runs it through simulate (binary and multiclass data, far past float64
underflow), a sweep, the command line, the reference comparison and the contract check.

The loss: a tempered exponential loss ``l(s) = exp(-tau s) / tau`` with the temperature tau
as a parameter, run at b = 1, 2 and full batch against the reference.
"""

import math
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from reference import REFERENCE_LOSSES, REFERENCE_STEPS, TOL, run_reference

import fastbias as fb
from fastbias import extend
from fastbias.cli import main


@extend.jitable
def qhadam_prepare(hp, eta, t, log_scale):
    beta1, beta2, nu1, nu2 = hp[0], hp[1], hp[2], hp[3]
    return (beta1, 1.0 - beta1, beta2, 1.0 - beta2, nu1, nu2, eta)


@extend.jitable
def qhadam_update(g, w, state, c, k, p):
    beta1, a1, beta2, a2, nu1, nu2, eta = p
    m = beta1 * state[0, c, k] + a1 * g
    v = beta2 * state[1, c, k] + a2 * (g * g)
    state[0, c, k] = m
    state[1, c, k] = v
    denom = math.sqrt((1.0 - nu2) * (g * g) + nu2 * v)
    return w - eta * (((1.0 - nu1) * g + nu1 * m) / denom if denom > 0.0 else 0.0)


def _beta(default, what):
    return extend.option(default, what, low=0.0, high=1.0, closed="left")


@dataclass(frozen=True)
class QHAdam(extend.Optimizer):
    """Quasi-hyperbolic Adam without bias correction (a test of the extension API)."""

    beta1: float = _beta(0.9, "decay of the first moment")
    beta2: float = _beta(0.999, "decay of the second moment")
    nu1: float = extend.option(0.7, "weight of the momentum in the step", low=0.0, high=1.0)
    nu2: float = extend.option(1.0, "weight of v in the denominator", low=0.0, high=1.0)
    batch_size: int | None = extend.batch_size_option(1)
    sampling: str = extend.sampling_option()
    rule: ClassVar[extend.Rule] = extend.Rule(
        "qhadam",
        qhadam_prepare,
        qhadam_update,
        hp=("beta1", "beta2", "nu1", "nu2"),
        states=(
            extend.State("m", 1, lambda o: (o.beta1, 1.0 - o.beta1, o.beta1)),
            extend.State("v", 2, lambda o: (o.beta2, 1.0 - o.beta2, o.beta2)),
        ),
    )


def step_qhadam(p, grads, W, state, eta, t, log_scale):
    """The reference step, from the formulas in this module's docstring."""
    g = np.mean(grads, axis=0)
    m = p["beta1"] * state.get("m", 0.0) + (1.0 - p["beta1"]) * g
    v = p["beta2"] * state.get("v", 0.0) + (1.0 - p["beta2"]) * g * g
    state["m"], state["v"] = m, v
    num = (1.0 - p["nu1"]) * g + p["nu1"] * m
    den = np.sqrt((1.0 - p["nu2"]) * g * g + p["nu2"] * v)
    step = np.zeros_like(num)
    np.divide(num, den, out=step, where=den > 0)
    return W - eta * step


@extend.jitable
def tempered_log_derivative(s, lparams):
    return -lparams[0] * s  # -l'(s) = exp(-tau s)


@dataclass(frozen=True)
class TemperedExp(extend.Loss):
    """``l(s) = exp(-tau s) / tau``: the exponential loss at temperature tau."""

    tau: float = extend.option(1.0, "temperature", low=0.0, closed="neither")
    formula: ClassVar[str] = "l(s) = exp(-tau s) / tau"
    derivative: ClassVar = tempered_log_derivative

    def log_sample_loss(self, s, labels=None):
        return -self.tau * np.asarray(s, dtype=np.float64) - math.log(self.tau)


@pytest.fixture(autouse=True, scope="module")
def registered():
    """Register QHAdam and the tempered loss with their references, for this module."""
    extend.register("qhadam-test")(QHAdam)
    extend.register_loss("tempered-exp-test")(TemperedExp)
    REFERENCE_STEPS["QHAdam"] = step_qhadam
    REFERENCE_LOSSES["tempered-exp-test"] = lambda s, tau: -tau * s  # log(-l'(s))
    yield
    del REFERENCE_STEPS["QHAdam"], REFERENCE_LOSSES["tempered-exp-test"]
    assert extend.unregister("qhadam-test") is QHAdam
    assert extend.unregister_loss("tempered-exp-test") is TemperedExp


def test_it_is_in_the_registry():
    assert extend.get_optimizer("qhadam-test") is QHAdam
    assert extend.register("qhadam-test")(QHAdam) is QHAdam  # registering again is harmless
    with pytest.raises(ValueError, match="already registered as 'inc-adam': IncAdam"):
        extend.register("inc-adam")(QHAdam)
    assert fb.optimizers.optimizer_from_dict(QHAdam(0.5).to_dict()) == QHAdam(0.5)
    with pytest.raises(TypeError, match=r"QHAdam got an unexpected option 'betas': give beta1"):
        QHAdam(betas=(0.9, 0.99))
    with pytest.raises(ValueError, match=r"nu1 must be in \[0, 1\]; got 1\.5\."):
        QHAdam(nu1=1.5)
    assert "nu1 : float, default 0.7" in QHAdam.__doc__  # the docs from the declaration


@pytest.mark.parametrize(
    "optimizer",
    [QHAdam(), QHAdam(0.5, 0.9, 0.5, 0.8, batch_size=3, sampling="reshuffle")],
    ids=repr,
)
@pytest.mark.parametrize("multiclass", [False, True], ids=["binary", "multiclass"])
def test_simulate_matches_the_reference(optimizer, multiclass):
    if multiclass:
        data = fb.datasets.gaussian_multiclass(n=8, d=6, k=3, seed=1)
        rows, extra = data.X, dict(labels=data.y, k=data.k)
    else:
        data = fb.datasets.gaussian(n=7, d=9, seed=3)
        rows, extra = data.Z, {}
    tr = fb.simulate(data, optimizer, epochs=10, seed=2, record=list(range(11)))
    params = optimizer.to_dict()
    params.pop("name")
    ref = run_reference(
        rows,
        "QHAdam",
        params,
        epochs=10,
        lr=("poly", 0.1, 0.5),
        seed=2,
        loss=tr.params["loss"],
        **extra,
    )
    err = np.abs(tr.w - ref).max() / np.abs(ref).max()
    assert err <= TOL


def test_its_contract_holds():
    assert extend.check_optimizer(QHAdam()).passed
    mc = fb.datasets.gaussian_multiclass(n=6, d=8, k=3, seed=1)
    assert extend.check_optimizer(QHAdam(batch_size=2), mc, epochs=300).passed


def test_exact_far_past_underflow():
    data = fb.datasets.gaussian(n=6, d=8, seed=4)
    margins = np.random.default_rng(0).uniform(1000.0, 1100.0, size=data.n)
    w0, *_ = np.linalg.lstsq(data.Z, margins, rcond=None)
    tr = fb.simulate(data, QHAdam(), epochs=30, w0=w0, record=[0, 30])
    params = QHAdam().to_dict()
    params.pop("name")
    common = dict(epochs=30, lr=("poly", 0.1, 0.5), w0=w0)
    ref = run_reference(data.Z, "QHAdam", params, log_scale=1000.0, **common)
    np.testing.assert_allclose(tr.w[-1], ref[-1], rtol=TOL * 10)
    assert np.abs(tr.w[-1] - w0).max() > 0.1  # moved, where plain float64 is frozen
    frozen = run_reference(data.Z, "QHAdam", params, **common)
    assert np.array_equal(frozen[-1], w0)
    assert math.isfinite(tr.log_loss[-1]) and tr.log_loss[-1] < -900


def test_sweep_runs_it_like_any_other_optimizer():
    data = fb.datasets.gaussian(n=5, d=7, seed=0)
    configs = fb.grid(data=data, optimizer=[QHAdam(), QHAdam(beta1=0.5)], seed=[0, 1], epochs=40)
    result = fb.sweep(configs, executor="serial", progress=False)
    assert [row["status"] for row in result.table] == ["ok"] * 4
    direct = fb.simulate(data, QHAdam(beta1=0.5), epochs=40, seed=1)
    np.testing.assert_array_equal(result.trajectories[3].w, direct.w)


def test_the_command_line_has_its_name_and_options(tmp_path, capsys):
    out = tmp_path / "run.npz"
    argv = [
        "run",
        "--optimizer",
        "qhadam-test",
        "--nu1",
        "0.5",
        "--epochs",
        "50",
        "--n",
        "6",
        "--d",
        "8",
        "--no-references",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert fb.Trajectory.load(out).params["optimizer"] == QHAdam(nu1=0.5).to_dict()
    argv = [
        "run",
        "--optimizer",
        "qhadam-test",
        "--eps",
        "1e-8",
        "--epochs",
        "5",
        "--out",
        str(tmp_path / "x.npz"),
    ]
    assert main(argv) == 2
    assert "--eps does not apply to --optimizer qhadam-test" in capsys.readouterr().err


def test_an_old_style_class_still_runs_and_has_its_options_checked():
    """Plain dataclass fields and hyperparameters()/state_dynamics() methods, as before the
    declared options: still accepted; batch_size and sampling are checked before the run."""

    @dataclass(frozen=True)
    class Unchecked(extend.Optimizer):
        beta1: float = 0.9
        beta2: float = 0.999
        batch_size: int | None = 1
        sampling: str = "cyclic"
        rule: ClassVar[extend.Rule] = extend.Rule(
            "qhadam-old",
            qhadam_prepare,
            qhadam_update,
            states=(extend.State("m", 1), extend.State("v", 2)),
        )

        def hyperparameters(self):
            return (self.beta1, self.beta2, 0.7, 1.0)

        def state_dynamics(self):
            return (
                (self.beta1, 1.0 - self.beta1, self.beta1),
                (self.beta2, 1.0 - self.beta2, self.beta2),
            )

    data = fb.datasets.gaussian(n=5, d=7, seed=0)
    np.testing.assert_array_equal(
        fb.simulate(data, Unchecked(), epochs=20).w, fb.simulate(data, QHAdam(), epochs=20).w
    )
    with pytest.raises(ValueError, match=r"sampling must be one of .* got 'shuffle'"):
        fb.simulate(data, Unchecked(sampling="shuffle"), epochs=3)
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1; got 0"):
        fb.simulate(data, Unchecked(batch_size=0), epochs=3)
    with pytest.raises(TypeError, match=r"batch_size must be an integer; got 2.5"):
        fb.simulate(data, Unchecked(batch_size=2.5), epochs=3)


# --------------------------------------------------------------------------------------------
# A loss with a parameter
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 2, None], ids=["b=1", "b=2", "full"])
@pytest.mark.parametrize("tau", [0.5, 3.0])
def test_the_tempered_loss_matches_the_reference(batch_size, tau):
    data = fb.datasets.gaussian(n=7, d=9, seed=3)
    loss = TemperedExp(tau=tau)
    optimizer = fb.IncAdam(batch_size=batch_size, sampling="reshuffle")
    tr = fb.simulate(data, optimizer, loss=loss, epochs=12, seed=5, record=list(range(13)))
    params = optimizer.to_dict()
    params.pop("name")
    ref = run_reference(
        data.Z, "IncAdam", params, epochs=12, lr=("poly", 0.1, 0.5), seed=5, loss=loss
    )
    assert np.abs(tr.w - ref).max() <= TOL * np.abs(ref).max()
    # the loss values come from the loss object: log L = logsumexp(-tau s) - log(n tau)
    s = tr.w @ data.Z.T
    top = (-tau * s).max(axis=1)
    expected = top + np.log(np.exp(-tau * s - top[:, None]).sum(axis=1)) - math.log(7 * tau)
    np.testing.assert_allclose(tr.log_loss, expected, rtol=1e-12)
    stored = dict(tr.params["loss"])  # the loss, and the fingerprint of its code
    assert re.fullmatch("[0-9a-f]{16}", stored.pop("code"))
    assert stored == {"name": "tempered-exp-test", "tau": tau}


def test_the_tempered_loss_is_exact_far_past_underflow_and_is_stored():
    data = fb.datasets.gaussian(n=6, d=8, seed=4)
    margins = np.random.default_rng(0).uniform(1000.0, 1100.0, size=data.n)
    w0, *_ = np.linalg.lstsq(data.Z, margins, rcond=None)
    loss = TemperedExp(tau=2.0)
    tr = fb.simulate(data, fb.SignGD(batch_size=2), loss=loss, epochs=20, w0=w0, record=[0, 20])
    params = fb.SignGD(batch_size=2).to_dict()
    params.pop("name")
    ref = run_reference(
        data.Z,
        "SignGD",
        params,
        epochs=20,
        lr=("poly", 0.1, 0.5),
        w0=w0,
        loss=loss,
        log_scale=2000.0,
    )
    np.testing.assert_allclose(tr.w[-1], ref[-1], rtol=TOL)
    assert not np.array_equal(tr.w[-1], w0)
    assert fb.losses.loss_from_stored(tr.params["loss"], False) == loss
    assert str(fb.losses.get_loss("exp")) == "exp"


def test_the_command_line_lists_a_registered_loss(tmp_path):
    out = tmp_path / "t.npz"
    assert (
        main(
            [
                "run",
                "--loss",
                "tempered-exp-test",
                "--epochs",
                "20",
                "--n",
                "5",
                "--d",
                "7",
                "--no-references",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    stored = dict(fb.Trajectory.load(out).params["loss"])
    assert re.fullmatch("[0-9a-f]{16}", stored.pop("code"))
    assert stored == {"name": "tempered-exp-test", "tau": 1.0}

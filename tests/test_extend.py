"""An optimizer registered from outside the package, through the public API only.

Adamax (Kingma and Ba 2015, section 7.1) without bias correction: ``m = b1 m + (1-b1) g``,
``u = max(b2 u, |g|)``, ``w -= eta m / u`` (0 where u = 0). It is invariant to a positive
factor on the gradients, so it declares the scale behaviour "state": its state ``u`` is of
degree 1 and is bounded by ``u <= b2 u + max|g|``. The test runs it through simulate (binary
and multiclass data, far past float64 underflow), a sweep, the command line, and the
reference comparison.
"""

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from reference import REFERENCE_STEPS, TOL, run_reference

import fastbias as fb
from fastbias import extend
from fastbias.cli import main


@extend.jitable
def adamax_prepare(hp, eta, t, log_scale):
    return (hp[0], 1.0 - hp[0], hp[1], eta)


@extend.jitable
def adamax_update(g, w, state, c, k, p):
    beta1, a1, beta2, eta = p
    m = beta1 * state[0, c, k] + a1 * g
    u = max(beta2 * state[1, c, k], abs(g))
    state[0, c, k] = m
    state[1, c, k] = u
    return w - eta * (m / u if u > 0.0 else 0.0)


ADAMAX = extend.Rule("adamax", adamax_prepare, adamax_update,
                     states=(extend.State("m", 1), extend.State("u", 1)), scale="state")


@dataclass(frozen=True)
class Adamax(extend.Optimizer):
    """Adamax without bias correction (a test of the public extension API).

    Parameters
    ----------
    beta1 : float, default 0.9
        Momentum in [0, 1).
    beta2 : float, default 0.999
        Decay of the infinity-norm accumulator, in [0, 1).
    batch_size : int or None, default 1
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"
    """

    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int | None = 1
    sampling: str = "cyclic"
    rule: ClassVar[extend.Rule] = ADAMAX

    def __post_init__(self):
        for name in ("beta1", "beta2"):
            extend.check_interval(name, getattr(self, name), 0.0, 1.0, "left")
        if self.batch_size is not None:
            extend.check_int("batch_size", self.batch_size, 1)
        extend.check_option("sampling", self.sampling, ("cyclic", "reshuffle", "replacement"))

    def hyperparameters(self):
        return (self.beta1, self.beta2)

    def state_dynamics(self):
        # m: an EMA entering with beta1; u <= b2 u + max|g| (max of two nonnegative terms)
        return ((self.beta1, 1.0 - self.beta1, self.beta1), (self.beta2, 1.0, self.beta2))


def step_adamax(p, grads, W, state, eta, t, log_scale):
    """The reference step, from the formulas in this module's docstring."""
    g = np.mean(grads, axis=0)
    m = p["beta1"] * state.get("m", 0.0) + (1.0 - p["beta1"]) * g
    u = np.maximum(p["beta2"] * state.get("u", 0.0), np.abs(g))
    state["m"], state["u"] = m, u
    step = np.zeros_like(m)
    np.divide(m, u, out=step, where=u > 0)
    return W - eta * step


@pytest.fixture(autouse=True, scope="module")
def registered():
    """Register Adamax (a user would decorate the class) and its reference, for this module."""
    extend.register("adamax-test")(Adamax)
    REFERENCE_STEPS["Adamax"] = step_adamax
    yield
    del REFERENCE_STEPS["Adamax"]
    assert extend.unregister("adamax-test") is Adamax


def test_it_is_in_the_registry():
    assert extend.get_optimizer("adamax-test") is Adamax
    assert extend.register("adamax-test")(Adamax) is Adamax  # registering again is harmless
    with pytest.raises(ValueError, match="already registered as 'inc-adam': IncAdam"):
        extend.register("inc-adam")(Adamax)
    assert fb.optimizers.optimizer_from_dict(Adamax(0.5).to_dict()) == Adamax(0.5)
    with pytest.raises(TypeError, match=r"Adamax got an unexpected option 'betas': give beta1"):
        Adamax(betas=(0.9, 0.99))


@pytest.mark.parametrize("optimizer", [Adamax(), Adamax(0.5, 0.9, batch_size=3,
                                                        sampling="reshuffle")], ids=repr)
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
    ref = run_reference(rows, "Adamax", params, epochs=10, lr=("poly", 0.1, 0.5), seed=2,
                        loss=tr.params["loss"], **extra)
    err = np.abs(tr.w - ref).max() / np.abs(ref).max()
    assert err <= TOL


def test_exact_far_past_underflow():
    data = fb.datasets.gaussian(n=6, d=8, seed=4)
    margins = np.random.default_rng(0).uniform(1000.0, 1100.0, size=data.n)
    w0, *_ = np.linalg.lstsq(data.Z, margins, rcond=None)
    tr = fb.simulate(data, Adamax(), epochs=30, w0=w0, record=[0, 30])
    params = Adamax().to_dict()
    params.pop("name")
    common = dict(epochs=30, lr=("poly", 0.1, 0.5), w0=w0)
    ref = run_reference(data.Z, "Adamax", params, log_scale=1000.0, **common)
    np.testing.assert_allclose(tr.w[-1], ref[-1], rtol=TOL * 10)
    assert np.abs(tr.w[-1] - w0).max() > 0.1  # moved, where plain float64 is frozen
    frozen = run_reference(data.Z, "Adamax", params, **common)
    assert np.array_equal(frozen[-1], w0)
    assert math.isfinite(tr.log_loss[-1]) and tr.log_loss[-1] < -900


def test_sweep_runs_it_like_any_other_optimizer():
    data = fb.datasets.gaussian(n=5, d=7, seed=0)
    configs = fb.grid(data=data, optimizer=[Adamax(), Adamax(beta1=0.5)], seed=[0, 1],
                      epochs=40)
    result = fb.sweep(configs, executor="serial", progress=False)
    assert [row["status"] for row in result.table] == ["ok"] * 4
    direct = fb.simulate(data, Adamax(beta1=0.5), epochs=40, seed=1)
    np.testing.assert_array_equal(result.trajectories[3].w, direct.w)


def test_the_command_line_has_its_name_and_options(tmp_path, capsys):
    out = tmp_path / "run.npz"
    assert main(["run", "--optimizer", "adamax-test", "--beta2", "0.99", "--epochs", "50",
                 "--n", "6", "--d", "8", "--no-references", "--no-progress",
                 "--out", str(out)]) == 0
    tr = fb.Trajectory.load(out)
    assert tr.params["optimizer"] == Adamax(beta2=0.99).to_dict()
    assert main(["run", "--optimizer", "adamax-test", "--eps", "1e-8", "--epochs", "5",
                 "--out", str(tmp_path / "x.npz")]) == 2
    assert "--eps does not apply to --optimizer adamax-test" in capsys.readouterr().err


def test_options_a_user_class_forgets_to_check_are_checked_before_the_run():
    @dataclass(frozen=True)
    class Unchecked(extend.Optimizer):
        beta1: float = 0.9
        beta2: float = 0.999
        batch_size: int | None = 1
        sampling: str = "cyclic"
        rule: ClassVar[extend.Rule] = ADAMAX

        def hyperparameters(self):
            return (self.beta1, self.beta2)

        def state_dynamics(self):
            return ((self.beta1, 1.0 - self.beta1, self.beta1), (self.beta2, 1.0, self.beta2))

    data = fb.datasets.gaussian(n=5, d=7, seed=0)
    with pytest.raises(ValueError, match=r"sampling must be one of .* got 'shuffle'"):
        fb.simulate(data, Unchecked(sampling="shuffle"), epochs=3)
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1; got 0"):
        fb.simulate(data, Unchecked(batch_size=0), epochs=3)
    with pytest.raises(TypeError, match=r"batch_size must be an integer; got 2.5"):
        fb.simulate(data, Unchecked(batch_size=2.5), epochs=3)

"""The contracts of rules and losses: checked when declared, made to fail fast when wrong.

* Every built-in optimizer keeps its declared state bounds and gives the same run with scale
  bounds of one binary digit (the scale then moves at almost every step) as with the
  ordinary ones (``fastbias.extend.check_optimizer``).
* A wrong state declaration, which an ordinary run follows exactly for 10^5 epochs, is caught
  by that stress mode within a few epochs; the reference test alone does not catch it.
* Dry runs in plain Python refuse a ``prepare`` that reads beyond its hyperparameters, an
  ``update`` that unpacks another tuple than ``prepare`` returns, and a loss derivative that
  reads beyond its parameters, when the optimizer or loss is resolved or registered.
"""

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from reference import TOL, run_reference

import fastbias as fb
from fastbias import extend
from fastbias.optimizers import OPTIMIZERS
from fastbias.optimizers.adaptive import adam_prepare, adam_update

BUILT_IN = [cls for cls in OPTIMIZERS.values() if cls.__module__.startswith("fastbias.")]
MULTICLASS = fb.datasets.gaussian_multiclass(n=6, d=8, k=3, seed=1)


def variants(cls):
    yield cls()
    if any(f.name == "batch_size" for f in dataclasses.fields(cls)):
        yield cls(batch_size=2, sampling="reshuffle")


@pytest.mark.parametrize("data", [None, MULTICLASS], ids=["binary", "multiclass"])
@pytest.mark.parametrize("cls", BUILT_IN, ids=lambda c: c.name)
def test_every_built_in_optimizer_keeps_its_contract(cls, data):
    for optimizer in variants(cls):
        report = extend.check_optimizer(optimizer, data, epochs=300)
        assert report.passed, report.problems
        assert report.difference <= 1e-14


def wrong_adam(which):
    """Adam whose state ``which`` is declared to enter the step with factor 0 (it does not)."""
    states = tuple(
        extend.State(
            name,
            degree,
            (
                lambda o, b=beta, wrong=(name == which): (
                    getattr(o, b),
                    1 - getattr(o, b),
                    0.0 if wrong else getattr(o, b),
                )
            ),
        )
        for name, degree, beta in (("m", 1, "beta1"), ("v", 2, "beta2"))
    )
    wrong = extend.Rule(
        "adam-wrong", adam_prepare, adam_update, hp=fb.IncAdam.rule.hp, states=states
    )

    @dataclass(frozen=True)
    class WrongAdam(fb.IncAdam):
        rule: ClassVar[extend.Rule] = wrong

    return WrongAdam()


@pytest.mark.parametrize("which", ["m", "v"])
def test_a_wrong_state_declaration_fails_the_stress_check_within_three_epochs(which):
    optimizer = wrong_adam(which)
    report = extend.check_optimizer(optimizer, epochs=3)
    assert not report.passed
    assert "declared wrong" in report.problems[0]
    # the same rule passes the reference test of ordinary runs
    data = fb.datasets.gaussian(n=7, d=9, seed=3)
    tr = fb.simulate(data, optimizer, epochs=12, record=list(range(13)))
    params = fb.IncAdam().to_dict()
    params.pop("name")
    ref = run_reference(data.Z, "IncAdam", params, epochs=12, lr=("poly", 0.1, 0.5))
    assert np.abs(tr.w - ref).max() <= TOL * np.abs(ref).max()
    # and ordinary scale bounds do not reveal it either
    assert extend.check_optimizer(optimizer, epochs=300, bits=256).passed


def test_a_too_small_declared_gain_shows_as_a_state_above_its_bound():
    states = (
        extend.State("m", 1, lambda o: (o.beta1, 0.1 * (1 - o.beta1), o.beta1)),
        extend.State("v", 2, lambda o: (o.beta2, 1 - o.beta2, o.beta2)),
    )
    low = extend.Rule(
        "adam-low-gain", adam_prepare, adam_update, hp=fb.IncAdam.rule.hp, states=states
    )

    @dataclass(frozen=True)
    class LowGain(fb.IncAdam):
        rule: ClassVar[extend.Rule] = low

    report = extend.check_optimizer(LowGain(), epochs=5)
    assert report.bound_violations and not report.passed
    assert "m = " in report.bound_violations[0]


@extend.jitable
def reads_too_far(hp, eta, t, log_scale):
    return (hp[0], hp[3], eta)


@extend.jitable
def two_constants(hp, eta, t, log_scale):
    return (hp[0], eta)


@extend.jitable
def three_constants_update(g, w, state, c, k, p):
    beta, a, eta = p
    m = beta * state[0, c, k] + a * g
    state[0, c, k] = m
    return w - eta * m


def one_option_class(rule):
    @dataclass(frozen=True)
    class OneOption(extend.Optimizer):
        beta: float = extend.option(0.5, "a momentum", low=0.0, high=1.0, closed="left")
        rule: ClassVar[extend.Rule] = None

    OneOption.rule = rule
    return OneOption()


def test_a_prepare_reading_beyond_hp_is_refused_before_the_run():
    rule = extend.Rule(
        "too-far",
        reads_too_far,
        three_constants_update,
        hp=("beta",),
        states=(extend.State("m", 1, lambda o: (o.beta, 1 - o.beta, o.beta)),),
    )
    with pytest.raises(
        extend.RuleContractError,
        match=r"prepare\(hp, \.\.\.\) fails with the 1 hyperparameters \['beta'\]"
        r" \(IndexError",
    ):
        fb.simulate(fb.datasets.gaussian(n=4, d=5), one_option_class(rule), epochs=2)


def test_an_update_unpacking_another_tuple_is_refused_before_the_run():
    rule = extend.Rule(
        "short-tuple",
        two_constants,
        three_constants_update,
        hp=("beta",),
        states=(extend.State("m", 1, lambda o: (o.beta, 1 - o.beta, o.beta)),),
    )
    with pytest.raises(
        extend.RuleContractError,
        match=r"update fails in a dry run with the 2 constants that prepare "
        r"returns and 1 state arrays \['m'\] \(ValueError",
    ):
        fb.simulate(fb.datasets.gaussian(n=4, d=5), one_option_class(rule), epochs=2)


def test_an_hp_declaration_that_names_a_missing_option_is_refused():
    rule = extend.Rule("missing", two_constants, three_constants_update, hp=("gamma",))
    with pytest.raises(AttributeError, match="gamma"):
        fb.simulate(fb.datasets.gaussian(n=4, d=5), one_option_class(rule), epochs=2)


def test_a_state_rule_without_dynamics_says_which_state():
    rule = extend.Rule(
        "no-dynamics",
        two_constants,
        three_constants_update,
        hp=("beta",),
        states=(extend.State("m", 1),),
    )
    with pytest.raises(NotImplementedError, match=r"the state 'm' .* declares no dynamics"):
        fb.simulate(fb.datasets.gaussian(n=4, d=5), one_option_class(rule), epochs=2)


@extend.jitable
def two_parameter_derivative(s, lparams):
    return -lparams[0] * s - lparams[1]


def test_a_loss_derivative_reading_beyond_its_parameters_is_refused_at_registration():
    @dataclass(frozen=True)
    class OneParameter(extend.Loss):
        tau: float = extend.option(1.0, "temperature", low=0.0, closed="neither")
        derivative: ClassVar = two_parameter_derivative

        def log_sample_loss(self, s, labels=None):
            return -self.tau * s

    with pytest.raises(
        ValueError,
        match=r"its derivative fails in a dry run with the "
        r"parameters \[1\.0\] \(IndexError",
    ):
        extend.register_loss("one-parameter-test")(OneParameter)
    assert "one-parameter-test" not in fb.losses.BINARY_LOSSES


def test_options_declared_once_give_the_checks_and_the_docs():
    with pytest.raises(ValueError, match=r"beta1 must be in \[0, 1\); got 1\.0\."):
        fb.IncAdam(beta1=1.0)
    with pytest.raises(ValueError, match=r"eps must be in \[0, inf\); got inf\."):
        fb.IncAdam(eps=float("inf"))
    with pytest.raises(TypeError, match=r"nesterov must be True or False; got 1\."):
        fb.SGD(nesterov=1)
    with pytest.raises(ValueError, match=r"ns_steps must be an integer in \[1, 100\]; got 0"):
        fb.Muon(ns_steps=0)
    doc = fb.IncSignum.__doc__
    assert "beta : float, default 0.99" in doc and "in [0, 1)" in doc
    assert "batch_size : int or None, default 1" in doc
    assert doc.index("Parameters") < doc.index("Examples")

"""Checks of an optimizer's contract that a reference test alone would not make fail fast.

A rule with scale ``"state"`` declares the dynamics of its state arrays (how large they can
get, and with which factor they enter the step). The exact arithmetic relies on them only
when the log-scale moves, which in ordinary runs happens every few hundred binary digits of
margin: a wrong declaration can follow the right run for 10^5 epochs before it drifts.
:func:`check_optimizer` makes it fail fast: it runs the optimizer with scale bounds of a few
binary digits, so that the scale moves at almost every step, and compares with an ordinary
run, and it checks after every epoch that each state array stays under its declared bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._kernels.scale import BOUNDS, default_limits
from ._validation import shown

__all__ = ["ContractReport", "ModelReport", "check_optimizer", "check_model"]


@dataclass
class ContractReport:
    """What :func:`check_optimizer` found.

    Attributes
    ----------
    optimizer : str
        ``repr`` of the optimizer.
    epochs : int
        Epochs run (each run).
    difference : float
        Largest difference between the iterates of the stressed and the ordinary run,
        relative to the largest entry of the ordinary one.
    bound_violations : list of str
        States found above their declared bound (first epoch, state, ratio).
    tolerance : float
    problems : list of str
        Everything that failed, in words; empty if the contract holds.
    """

    optimizer: str
    epochs: int
    difference: float
    tolerance: float
    bound_violations: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def _small_data(multiclass: bool):
    from . import datasets

    if multiclass:
        return datasets.gaussian_multiclass(n=6, d=8, k=3, seed=1)
    return datasets.gaussian(n=6, d=8, seed=0)


def check_optimizer(
    optimizer,
    data=None,
    *,
    loss=None,
    lr=None,
    epochs: int = 1000,
    bits: int = 1,
    seed: int = 0,
    tolerance: float = 1e-10,
    model=None,
) -> ContractReport:
    """Check an optimizer's declared state dynamics under tight scale bounds.

    Parameters
    ----------
    optimizer : Optimizer
    data : Dataset or MulticlassDataset, optional
        Default: 6 x 8 Gaussian binary data.
    loss, lr
        As in :func:`fastbias.simulate` (defaults: the data's loss, the optimizer's rate).
    epochs : int, default 1000
        Epochs of each run.
    bits : int, default 1
        The tight scale bounds, in binary digits (ordinary runs use 256): the log-scale
        then moves whenever the gradients change by a factor 2.
    seed : int, default 0
    tolerance : float, default 1e-10
        Largest relative difference accepted between the two runs (rescaling by powers of
        two is exact; what differs is the rounding of the gradients' coefficients: measured
        at most 5.4e-16 for the built-in optimizers).
    model : Model, optional
        Run the optimizer on a model's parameter (:mod:`fastbias.models`) instead of w.

    Returns
    -------
    ContractReport
        ``passed``, ``difference``, ``bound_violations`` and ``problems``.

    Notes
    -----
    A state declared to enter the step with factor 0 is set to 0 when the scale moves: with
    the scale moving this often, a wrong ``enter = 0`` of Adam's m or v shows within 3
    epochs (against about 10^5 in ordinary runs). A
    declared ``decay`` or ``gain`` that is too small shows as a state above its bound. A
    rule with scale ``"step"`` or ``"plain"`` has no state dynamics; it is run the same way
    (the comparison still checks that its result does not depend on the scale bounds).

    Examples
    --------
    >>> import fastbias as fb
    >>> report = check_optimizer(fb.IncAdam(), epochs=50)
    >>> report.passed
    True
    """
    from .checkpoints import RunState
    from .plan import plan_run
    from .simulate import Runner

    data = _small_data(False) if data is None else data
    plan = plan_run(data, optimizer, lr, epochs, loss, seed, 1, None, stored=False, model=model)
    tracked = plan.spec.rule.scale == "state"
    names = [state.name for state in plan.spec.rule.states]
    finals = []
    violations: list[str] = []
    for limits in (default_limits(), np.array([float(bits), float(bits)])):
        state = RunState.start(plan, np.random.default_rng(seed), 2)
        runner = Runner(data, plan, chunk_epochs=1, limits=limits)
        for _ in range(epochs):
            runner.advance(state, 1)
            if tracked:
                _check_bounds(state, names, violations)
        finals.append(state.W.copy())
    ordinary, stressed = finals
    top = np.abs(ordinary).max()
    with np.errstate(invalid="ignore"):
        difference = float(np.abs(stressed - ordinary).max() / top) if top > 0 else 0.0
    problems = []
    if not np.all(np.isfinite(stressed)):
        problems.append("the stressed run left the float64 range")
    elif not difference <= tolerance:
        problems.append(
            f"with scale bounds of {bits} binary digits the run ends {difference:.3g} "
            f"(relative) from the ordinary run after {epochs} epochs: a state's dynamics "
            "(its entering factor, decay or gain) is declared wrong"
        )
    if violations:
        problems.append(
            f"states above their declared bounds: {violations[0]}"
            + (f" (and {len(violations) - 1} more)" if len(violations) > 1 else "")
        )
    return ContractReport(repr(optimizer), epochs, difference, tolerance, violations, problems)


def _check_bounds(state, names, violations) -> None:
    """Record every state array found above its declared bound after an epoch."""
    for j, name in enumerate(names):
        bound = state.scale[BOUNDS + j]
        largest = float(np.abs(state.state[j]).max())
        if largest > bound * (1.0 + 1e-12) and largest > 0.0:
            ratio = largest / bound if bound > 0 else np.inf
            violations.append(
                f"epoch {state.epoch}: {name} = {largest:.3g} is {ratio:.3g} times its bound"
            )


@dataclass
class ModelReport:
    """What :func:`check_model` found.

    Attributes
    ----------
    model : str
        ``repr`` of the model.
    weight_difference : float
        Largest difference between the jitable ``weight`` and :meth:`Model.weights`,
        relative to the largest effective weight.
    chain_difference : float
        Largest difference between ``chain`` and central differences of ``weights``,
        relative to the largest factor.
    problems : list of str
        Everything that failed, in words; empty if the contract holds.
    """

    model: str
    weight_difference: float
    chain_difference: float
    problems: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def check_model(model, *, k: int = 2, d: int = 5, seed: int = 0) -> ModelReport:
    """Check that a model's kernel functions agree with its NumPy weights and their derivative.

    The step loops use the jitable ``weight`` and ``chain`` of the model class; the
    trajectory, the margins and the checks use :meth:`~fastbias.models.Model.weights`. This
    evaluates all three at random parameters (entries of size 0.5 to 2, either sign) of
    shape (multiplicity * k, d): ``weight`` must give ``weights`` to 1e-12 and ``chain``
    the central differences of ``weights`` to 1e-6 (relative), and
    :meth:`~fastbias.models.Model.initial` must have that shape.

    Parameters
    ----------
    model : Model
    k, d : int, default 2, 5
        Output rows and coordinates of the parameters tried.
    seed : int, default 0

    Returns
    -------
    ModelReport

    Examples
    --------
    >>> import fastbias as fb
    >>> check_model(fb.DiagonalNet(depth=3)).passed
    True
    """
    from .models import Model

    if not isinstance(model, Model):
        raise TypeError(f"model must be a fastbias Model; got {shown(model)}.")
    cls = type(model)
    m = cls.multiplicity
    mp = model.parameters()
    rng = np.random.default_rng(seed)
    P = rng.uniform(0.5, 2.0, size=(m * k, d)) * rng.choice([-1.0, 1.0], size=(m * k, d))
    problems = []
    start = np.asarray(model.initial(k, d))
    if start.shape != (m * k, d):
        problems.append(f"initial(k, d) has shape {start.shape}, not {(m * k, d)}")
    expected = np.asarray(model.weights(P), dtype=np.float64)
    if expected.shape != (k, d):
        problems.append(f"weights(P) has shape {expected.shape}, not {(k, d)}")
        return ModelReport(repr(model), np.inf, np.inf, problems)
    kernel = np.array([[cls.weight(P, c, j, k, mp) for j in range(d)] for c in range(k)])
    top = max(np.abs(expected).max(), np.finfo(float).tiny)
    weight_difference = float(np.abs(kernel - expected).max() / top)
    if not weight_difference <= 1e-12:
        problems.append(
            f"the jitable weight differs from weights() by {weight_difference:.3g} (relative)"
        )
    factors = np.empty((m * k, d))
    numeric = np.empty((m * k, d))
    for j in range(m):
        for c in range(k):
            r = c + j * k
            for i in range(d):
                factors[r, i] = cls.chain(P, c, i, k, j, mp)
                h = 1e-6 * abs(P[r, i])
                up, down = P.copy(), P.copy()
                up[r, i] += h
                down[r, i] -= h
                numeric[r, i] = (model.weights(up)[c, i] - model.weights(down)[c, i]) / (2 * h)
    top = max(np.abs(numeric).max(), np.finfo(float).tiny)
    chain_difference = float(np.abs(factors - numeric).max() / top)
    if not chain_difference <= 1e-6:
        problems.append(
            f"the jitable chain differs from the derivative of weights() by "
            f"{chain_difference:.3g} (relative): it is not dw/dP"
        )
    return ModelReport(repr(model), weight_difference, chain_difference, problems)

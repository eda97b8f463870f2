"""The optimizer contract: rules, their state, the base classes, and the checks of a rule.

An optimizer is a frozen dataclass (its fields are its options, declared with
:func:`fastbias.extend.option`) whose class attribute ``rule`` is a :class:`Rule`: two small
compiled functions (``prepare`` and ``update``), the names of the options they read as the
hyperparameter array ``hp``, the state arrays with the dynamics of their magnitude, and the
scale behaviour. Everything a run needs is derived from that one declaration and checked
when the optimizer is resolved for a run (:meth:`Optimizer.resolve`): the lengths of ``hp``
and of the tuple ``prepare`` returns, by a dry run of both functions in plain Python.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from .._kernels import scale as _scale
from .._kernels.engine import ENTRYWISE, FAMILIES, MATRIX, NORMALIZED, compiled_loop
from .._options import check_options, option
from .._provenance import with_code
from .._validation import check_int, check_option, shown
from ..schedules import PolynomialDecay, Schedule

__all__ = [
    "SAMPLINGS",
    "SCALES",
    "State",
    "Rule",
    "KernelSpec",
    "Optimizer",
    "RuleContractError",
    "batch_size_option",
    "sampling_option",
]

#: Ways to form the batches of an epoch.
SAMPLINGS = ("cyclic", "reshuffle", "replacement")
#: Scale behaviours a rule can declare (see :class:`Rule`).
SCALES = {"state": _scale.STATE, "step": _scale.STEP, "plain": _scale.PLAIN}


class RuleContractError(ValueError):
    """A rule's functions do not match its declaration (found by the dry run)."""


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """One state array of a rule: a name, its degree in the gradient, its dynamics.

    Parameters
    ----------
    name : str
        For messages and documentation (``"m"``, ``"v"``).
    degree : {1, 2}
        The array is homogeneous of this degree in the gradient (m: 1, v: 2). When the
        gradients are rescaled by ``2**k`` the array is multiplied by ``2**(degree * k)``.
    dynamics : callable, optional
        ``dynamics(optimizer) -> (decay, gain, enter)``: with batch gradients bounded by G,
        the array's magnitude stays within ``bound <- decay * bound + gain * G**degree``, and
        it enters the next step of the iterate multiplied by ``enter`` (Adam's m:
        ``(beta1, 1 - beta1, beta1)``). Needed by rules with scale ``"state"``; a wrong one
        makes the exact arithmetic drop or overflow the state, which
        :func:`fastbias.extend.check_optimizer` detects.
    """

    name: str
    degree: int = 1
    dynamics: Callable | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string; got {self.name!r}.")
        if self.degree not in (1, 2) or isinstance(self.degree, bool):
            raise ValueError(f"degree must be 1 or 2; got {self.degree!r}.")
        if self.dynamics is not None and not callable(self.dynamics):
            raise TypeError(f"dynamics must be a function of the optimizer; got {self.dynamics!r}.")


@dataclass(frozen=True, eq=False)
class Rule:
    r"""How one optimizer step is computed: the compiled functions, the state, the scale.

    Parameters
    ----------
    name : str
        A short name for messages.
    prepare : function
        ``prepare(hp, eta, t, log_scale) -> tuple``: the constants of step ``t`` from the
        hyperparameters ``hp`` (a float64 array: the options named in ``hp``, in that order),
        the learning rate and the log of the factor by which scaled gradients exceed the true
        ones. Decorated with :func:`fastbias.extend.jitable`.
    update : function
        Entrywise rules: ``update(g, w, state, c, k, p) -> new w`` for one coordinate
        ``(c, k)`` of the parameter, with gradient entry ``g``, state arrays
        ``state[j, c, k]`` (updated in place) and the tuple ``p`` from ``prepare``. Matrix
        rules: ``update(G, Q, W, state, p)`` updates the parameter ``W`` in place from the
        batch gradient ``G`` (and ``Q``, see ``squares``). Decorated with
        :func:`fastbias.extend.jitable`.
    hp : tuple of str, default ()
        The options (fields or class attributes of the optimizer) that ``prepare`` reads as
        ``hp[0], hp[1], ...``; booleans become 0.0 / 1.0.
    family : {"entrywise", "normalized", "matrix"}, default "entrywise"
        Entrywise rules get one fused pass over the coordinates per one-sample step.
        Normalized rules (steepest descent in a norm) are entrywise rules whose ``update``
        returns the moment ``m_k`` of a coordinate; the loop turns the moments into the unit
        direction ``d_k = sign(m_k) factor(a_k, p) / divisor(S, p)``, ``a_k = |m_k| / max
        |m|``, ``S = sum_k factor(a_k, p) a_k``, and steps ``w -= eta d`` (three passes per
        step, the last fused with the next dot product).
    states : tuple of State, default ()
        The rule's state arrays, in the order of ``state[j]``; all start at 0.
    scale : {"state", "step", "plain"}, default "state"
        ``"state"``: the rule is invariant to a common positive factor on every gradient
        (or scales its epsilon with :math:`e^{log\\_scale}`), and the log-scale of the
        gradients follows the state (exact at any horizon); its states declare their
        magnitude dynamics. ``"step"``: a stateless, scale-invariant rule; the scale is
        chosen afresh each step. ``"plain"``: plain float64 (rules that are not scale
        invariant, such as GD).
    squares : bool, default False
        Matrix rules: also pass ``Q``, the sum of the squared per-sample gradients
        (AdamProxy); otherwise ``Q`` is empty.
    factor, divisor : function, optional
        Normalized rules: ``factor(a, p)`` and ``divisor(S, p)`` (jitable), see ``family``.
    takes_loss : bool, default False
        Matrix rules: the loop passes the batch's mean loss ``(1/|B|) sum_i l_i``, scaled
        like the gradients, as ``Q[0, 0]`` (loss-normalized GD); the loss must give its
        log-value (``Loss.value``).
    init : function, optional
        ``init(optimizer, W, state)``: fills the state arrays in place from the starting
        point ``W`` (plain Python, once when a run starts; mirror descent's dual variable);
        by default they start at 0.

    Notes
    -----
    The loop of a rule is compiled once per machine and loss (on-disk cache) the first time
    it runs, and again when the file that defines ``prepare`` or ``update`` changes.
    """

    name: str
    prepare: Callable
    update: Callable
    hp: tuple = ()
    family: str = ENTRYWISE
    states: tuple = ()
    scale: str = "state"
    squares: bool = False
    factor: Callable | None = None
    divisor: Callable | None = None
    takes_loss: bool = False
    init: Callable | None = None

    def __post_init__(self):
        check_option("family", self.family, FAMILIES)
        if (self.family == NORMALIZED) != (self.factor is not None and self.divisor is not None):
            raise ValueError(
                f"rule {self.name!r}: factor and divisor are given exactly for family 'normalized'."
            )
        check_option("scale", self.scale, tuple(SCALES))
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "hp", tuple(self.hp))
        for state in self.states:
            if not isinstance(state, State):
                raise TypeError(
                    f"states must hold fastbias.extend.State objects; got {shown(state)}."
                )
        for name in self.hp:
            if not isinstance(name, str):
                raise TypeError(f"hp must name options (strings); got {shown(name)}.")
        if self.scale == "step" and self.states:
            raise ValueError(
                f"rule {self.name!r}: scale 'step' is for stateless rules (the scale changes "
                "every step); a rule with state arrays needs scale 'state' or 'plain'."
            )
        if self.squares and self.family != MATRIX:
            raise ValueError(f"rule {self.name!r}: squares=True needs family 'matrix'.")
        if self.takes_loss and (self.family != MATRIX or self.squares):
            raise ValueError(
                f"rule {self.name!r}: takes_loss=True needs family 'matrix' (and no squares)."
            )
        for name in ("prepare", "update"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be a function; got {getattr(self, name)!r}.")

    def loop(self, loss, model=None, threads: int = 1):
        """The compiled step loop of this rule for a loss and a model.

        The model is the linear one by default; ``threads`` are those of the passes over the
        data of batch steps. See :func:`fastbias._kernels.engine.compiled_loop`.
        """
        value = None
        if self.takes_loss:
            value = type(loss).value
            if value is None:
                raise ValueError(
                    f"rule {self.name!r} takes the loss itself, and loss {loss!r} "
                    "gives no log-value (Loss.value); use a loss that does."
                )
        return compiled_loop(
            self.family,
            self.prepare,
            self.update,
            SCALES[self.scale],
            self.squares,
            type(loss).derivative,
            type(loss).multiclass,
            self.factor,
            self.divisor,
            value,
            None if model is None else type(model).weight,
            None if model is None else type(model).chain,
            1 if model is None else type(model).multiplicity,
            threads,
        )

    def dry_run(self, hp: np.ndarray, optimizer_name: str) -> None:
        """Call ``prepare`` and ``update`` once in plain Python; RuleContractError on misfit.

        Catches what compiled code would not: ``prepare`` reading ``hp`` beyond its length,
        ``update`` unpacking a tuple of another length than ``prepare`` returns, a state
        index beyond the declared states, a division by zero without the 0/0 rule.
        """
        where = f"{optimizer_name} (rule {self.name!r})"
        prepare, update = _python(self.prepare), _python(self.update)
        try:
            p = prepare(hp.copy(), 0.1, 0, 0.0)
        except (IndexError, ValueError, TypeError, ZeroDivisionError) as exc:
            raise RuleContractError(
                f"{where}: prepare(hp, ...) fails with the {hp.size} hyperparameters "
                f"{list(self.hp) or '(none)'} ({type(exc).__name__}: {exc}); declare every "
                "option it reads in Rule(hp=...), in the order of hp[0], hp[1], ..."
            ) from None
        if not isinstance(p, tuple):
            raise RuleContractError(f"{where}: prepare must return a tuple; got {shown(p)}.")
        ns = len(self.states)
        try:
            if self.family in (ENTRYWISE, NORMALIZED):
                state = np.zeros((ns, 1, 2))
                w = update(0.5, 0.25, state, 0, 1, p)
                if not isinstance(w, (float, int, np.floating, np.integer)):
                    raise TypeError(f"update must return a number; got {shown(w)}")
                if self.family == NORMALIZED:
                    for value in (_python(self.factor)(0.5, p), _python(self.divisor)(1.5, p)):
                        if not isinstance(value, (float, int, np.floating, np.integer)):
                            raise TypeError(
                                f"factor and divisor must return numbers; got {shown(value)}"
                            )
            else:
                G = np.array([[0.5, -0.25, 0.125], [-0.5, 0.25, -0.125]])
                Q = G * G if self.squares else np.empty((2, 0))
                if self.takes_loss:
                    Q = np.array([[0.75]])
                update(G, Q, np.zeros((2, 3)), np.zeros((ns, 2, 3)), p)
        except (IndexError, ValueError, TypeError, ZeroDivisionError) as exc:
            raise RuleContractError(
                f"{where}: update fails in a dry run with the {len(p)} constants that "
                f"prepare returns and {ns} state arrays {[s.name for s in self.states]} "
                f"({type(exc).__name__}: {exc})."
            ) from None


def _python(func):
    """The plain-Python function behind a jitable (or njit) function."""
    return getattr(func, "py_func", func)


# --------------------------------------------------------------------------------------------
# The base classes
# --------------------------------------------------------------------------------------------


class KernelSpec(NamedTuple):
    """What the simulator needs to run an optimizer on data with ``n`` samples."""

    rule: Rule
    batch_size: int
    sampling: str
    hp: np.ndarray
    dyn: np.ndarray


class Optimizer:
    """Base class of the optimizers: a frozen dataclass of options plus a :class:`Rule`.

    Subclasses are dataclasses (``@dataclass(frozen=True)``) whose fields are the options
    (declared with :func:`fastbias.extend.option`: checked when the optimizer is made); they
    set the class attribute ``rule``. The options ``batch_size`` and ``sampling``
    (:func:`batch_size_option`, :func:`sampling_option`) make it a mini-batch method;
    without them it takes one full-batch step per epoch.
    """

    rule: ClassVar[Rule]
    #: Command-line name, set by :func:`fastbias.extend.register`.
    name: ClassVar[str] = ""
    #: The learning rate of a run that gives none.
    default_lr: ClassVar[Schedule] = PolynomialDecay()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:  # kept by @dataclass: the options, then the batches
            cls.__repr__ = Optimizer.__repr__

    def __post_init__(self):
        check_options(self)
        self._check()

    def _check(self) -> None:
        """Checks that involve several options, or warnings; called after each option's."""

    def kernel_rule(self) -> Rule:
        """The rule these options run.

        ``rule``, unless a class chooses among rules by option (``IncAdam(amsgrad=True)``
        runs AMSGrad's).
        """
        return self.rule

    def check_data(self, data) -> None:
        """Refuse data these options cannot run on (before any work); default: none."""

    def hyperparameters(self) -> tuple:
        """The numbers the rule's ``prepare`` reads as ``hp``: the options named in ``rule.hp``."""
        return tuple(float(getattr(self, name)) for name in self.kernel_rule().hp)

    def state_dynamics(self) -> tuple:
        """``(decay, gain, enter)`` of each state array, for the log-scale bookkeeping.

        From the ``dynamics`` of each :class:`State` of the rule. Needed only for rules with
        scale ``"state"``.
        """
        rows = []
        rule = self.kernel_rule()
        for state in rule.states:
            if state.dynamics is not None:
                rows.append(tuple(float(x) for x in state.dynamics(self)))
            elif rule.scale == "state":
                raise NotImplementedError(
                    f"{type(self).__name__}: the state {state.name!r} of rule "
                    f"{rule.name!r} declares no dynamics (State(..., dynamics=...)), "
                    "which scale 'state' needs."
                )
            else:
                rows.append((0.0, 0.0, 0.0))
        return tuple(rows)

    @property
    def scale_invariant(self) -> bool:
        """Whether the rule is invariant to a common positive factor on every gradient."""
        return self.kernel_rule().scale != "plain"

    @property
    def full_batch(self) -> bool:
        """Whether every step uses all samples (no ``batch_size`` option, or it is None)."""
        return getattr(self, "batch_size", None) is None

    def batch_size_for(self, n: int) -> int:
        """Samples per step on data with ``n`` samples."""
        b = getattr(self, "batch_size", None)
        return n if b is None else b

    def resolve(self, n: int) -> KernelSpec:
        """Kernel parameters for data with ``n`` samples, with the rule's contract checked.

        Checks ``batch_size`` (an integer in [1, n]) and ``sampling`` here too, so that an
        optimizer class of a user that forgets to check them cannot run with bad values;
        then the lengths of ``hp`` and of prepare's tuple (:meth:`Rule.dry_run`).
        """
        b = check_int("batch_size", self.batch_size_for(n), 1)
        if b > n:
            raise ValueError(f"batch_size must be in [1, n] = [1, {n}] for this dataset; got {b}.")
        sampling = check_option("sampling", getattr(self, "sampling", "cyclic"), SAMPLINGS)
        hp = np.array(self.hyperparameters(), dtype=np.float64).reshape(-1)
        rule = self.kernel_rule()
        if rule.hp and hp.size != len(rule.hp):
            raise RuleContractError(
                f"{type(self).__name__}.hyperparameters() gives {hp.size} numbers for the "
                f"{len(rule.hp)} declared by rule {rule.name!r}: {list(rule.hp)}."
            )
        dynamics = self.state_dynamics()
        if len(dynamics) != len(rule.states):
            raise RuleContractError(
                f"{type(self).__name__}.state_dynamics() gives {len(dynamics)} rows for the "
                f"{len(rule.states)} state arrays of rule {rule.name!r}."
            )
        _checked(rule, hp, type(self).__name__)
        dyn = np.zeros((len(dynamics), 4))
        for j, (state, row) in enumerate(zip(rule.states, dynamics, strict=True)):
            if len(row) != 3:
                raise RuleContractError(
                    f"{type(self).__name__}: the dynamics of state "
                    f"{state.name!r} must be (decay, gain, enter)."
                )
            dyn[j] = (state.degree, *row)
        return KernelSpec(rule, b, sampling, hp, dyn)

    def steps_per_epoch(self, n: int) -> int:
        """Optimizer steps in one pass over ``n`` samples (the last batch may be smaller)."""
        return -(-n // self.resolve(n).batch_size)

    def to_dict(self) -> dict:
        """Options as a plain dict with the class name under ``"name"``."""
        rule = type(self).rule
        functions = [getattr(rule, f.name) for f in dataclasses.fields(rule)]
        functions = [f for f in functions if callable(f) and not isinstance(f, type)]
        stored = {"name": type(self).__name__, **dataclasses.asdict(self)}
        return with_code(stored, type(self), functions)

    def __repr__(self) -> str:
        fields = [f for f in dataclasses.fields(self) if f.repr]
        ordered = [f for f in fields if not f.kw_only] + [f for f in fields if f.kw_only]
        args = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in ordered)
        return f"{type(self).__name__}({args})"


_CHECKED: set = set()


def _checked(rule: Rule, hp: np.ndarray, owner: str) -> None:
    """The dry run of a rule, once per rule and number of hyperparameters."""
    key = (id(rule), hp.size)
    if key not in _CHECKED:
        rule.dry_run(hp, owner)
        _CHECKED.add(key)


_BATCH_HELP = "samples per step"
_SAMPLING_HELP = (
    "how the batches of an epoch are formed: consecutive blocks of 0..n-1 "
    "(cyclic), of a fresh permutation per epoch (reshuffle), or of n indices "
    "drawn with replacement per epoch"
)


def batch_size_option(default: int | None = 1):
    """The ``batch_size`` option of a mini-batch optimizer: an integer >= 1, or None for n.

    Declare it (and :func:`sampling_option`) where the options of the class should come in
    its constructor: ``batch_size: int | None = batch_size_option(1)``.
    """
    return option(default, _BATCH_HELP, kind="int", low=1, none="n: the full batch")


def sampling_option():
    """The ``sampling`` option of a mini-batch optimizer (default ``"cyclic"``)."""
    return option("cyclic", _SAMPLING_HELP, choices=SAMPLINGS)

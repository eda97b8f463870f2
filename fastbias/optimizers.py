"""Optimizers: small immutable parameter objects, each tied to one update rule, in one registry.

An optimizer is a frozen dataclass (its fields are its options) with a class attribute
``rule``, a :class:`Rule` that says how one step is computed (the rule's compiled functions,
its state arrays and its scale behaviour). :func:`register` enters the class in the registry
under a command-line name; the command line, sweeps, benchmarks and the tests take the
names and options from there. Adding an optimizer is a rule (two small functions, see
:mod:`fastbias._kernels.rules`) and a parameter class; ``docs/extending.md`` shows how.

All rules start from ``m = v = 0`` and follow the 0/0 rule (no step
where the denominator is 0), ``sign(0) = 0``, and the batch gradient
``g = (1/|B|) sum_{i in B} l'(<w, z_i>) z_i``; the step counter t counts optimizer steps from 0.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import ClassVar, NamedTuple

import numpy as np

from ._kernels import rules as _rules
from ._kernels import scale as _scale
from ._kernels.engine import ENTRYWISE, MATRIX, compiled_loop
from ._validation import check_int, check_interval, check_option

__all__ = [
    "SAMPLINGS",
    "SCALES",
    "State",
    "Rule",
    "Optimizer",
    "UnboundedStepWarning",
    "register",
    "unregister",
    "OPTIMIZERS",
    "optimizer_names",
    "get_optimizer",
    "optimizer_from_dict",
    "options_of",
    "Option",
    "IncAdam",
    "DetAdam",
    "RMSProp",
    "AdaGrad",
    "Lion",
    "SGD",
    "IncSignum",
    "SignGD",
    "GD",
    "NormalizedGD",
    "AdamProxy",
    "SpectralDescent",
    "Muon",
]

#: Ways to form the batches of an epoch.
SAMPLINGS = ("cyclic", "reshuffle", "replacement")
#: Scale behaviours a rule can declare (see :class:`Rule`).
SCALES = {"state": _scale.STATE, "step": _scale.STEP, "plain": _scale.PLAIN}


class UnboundedStepWarning(UserWarning):
    """Adam without epsilon with ``beta1**2 > beta2``: ``|m| / sqrt(v)`` is not bounded.

    With ``beta1**2 <= beta2`` every step satisfies ``|m_k| / sqrt(v_k) <= (1 - beta1) /
    sqrt((1 - beta2)(1 - beta1**2 / beta2))``; otherwise the steps can grow geometrically
    and the iterates may diverge.
    """


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """One state array of a rule: a name and how it scales with the gradient.

    Parameters
    ----------
    name : str
        For messages and documentation (``"m"``, ``"v"``).
    degree : {1, 2}
        The array is homogeneous of this degree in the gradient (m: 1, v: 2). When the
        gradients are rescaled by ``2**k`` the array is multiplied by ``2**(degree * k)``.
    """

    name: str
    degree: int = 1

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string; got {self.name!r}.")
        if self.degree not in (1, 2) or isinstance(self.degree, bool):
            raise ValueError(f"degree must be 1 or 2; got {self.degree!r}.")


@dataclass(frozen=True, eq=False)
class Rule:
    """How one optimizer step is computed: the compiled functions, the state, the scale.

    Parameters
    ----------
    name : str
        A short name for messages.
    prepare : function
        ``prepare(hp, eta, t, log_scale) -> tuple``: the constants of step ``t`` from the
        hyperparameters ``hp`` (a float64 array, see :meth:`Optimizer.hyperparameters`),
        the learning rate and the log of the factor by which scaled gradients exceed the true
        ones. Decorated with :func:`fastbias.extend.jitable`.
    update : function
        Entrywise rules: ``update(g, w, state, c, k, p) -> new w`` for one coordinate
        ``(c, k)`` of the parameter, with gradient entry ``g``, state arrays
        ``state[j, c, k]`` (updated in place) and the tuple ``p`` from ``prepare``. Matrix
        rules: ``update(G, Q, W, state, p)`` updates the parameter ``W`` in place from the
        batch gradient ``G`` (and ``Q``, see ``squares``). Decorated with
        :func:`fastbias.extend.jitable`.
    family : {"entrywise", "matrix"}, default "entrywise"
        Entrywise rules get one fused pass over the coordinates per one-sample step.
    states : tuple of State, default ()
        The rule's state arrays, in the order of ``state[j]``; all start at 0.
    scale : {"state", "step", "plain"}, default "state"
        ``"state"``: the rule is invariant to a common positive factor on every gradient
        (or scales its epsilon with :math:`e^{log\\_scale}`), and the log-scale of the
        gradients follows the state (exact at any horizon); the optimizer gives the state's
        magnitude dynamics (:meth:`Optimizer.state_dynamics`). ``"step"``: a stateless,
        scale-invariant rule; the scale is chosen afresh each step. ``"plain"``: plain
        float64 (rules that are not scale invariant, such as GD).
    squares : bool, default False
        Matrix rules: also pass ``Q``, the sum of the squared per-sample gradients
        (AdamProxy); otherwise ``Q`` is empty.

    Notes
    -----
    The loop of a rule is compiled once per machine (on-disk cache) the first time it runs,
    and again when the code of ``prepare`` or ``update`` changes.
    """

    name: str
    prepare: Callable
    update: Callable
    family: str = ENTRYWISE
    states: tuple = ()
    scale: str = "state"
    squares: bool = False

    def __post_init__(self):
        check_option("family", self.family, (ENTRYWISE, MATRIX))
        check_option("scale", self.scale, tuple(SCALES))
        object.__setattr__(self, "states", tuple(self.states))
        for state in self.states:
            if not isinstance(state, State):
                raise TypeError(f"states must hold fastbias.extend.State objects; got {state!r}.")
        if self.scale == "step" and self.states:
            raise ValueError(
                f"rule {self.name!r}: scale 'step' is for stateless rules (the scale changes "
                "every step); a rule with state arrays needs scale 'state' or 'plain'."
            )
        if self.squares and self.family != MATRIX:
            raise ValueError(f"rule {self.name!r}: squares=True needs family 'matrix'.")
        for name in ("prepare", "update"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be a function; got {getattr(self, name)!r}.")

    def loop(self):
        """The compiled step loop of this rule (see :mod:`fastbias._kernels.engine`)."""
        return compiled_loop(self.family, self.prepare, self.update, SCALES[self.scale],
                             self.squares)


_ADAM = Rule("adam", _rules.adam_prepare, _rules.adam_update,
             states=(State("m", 1), State("v", 2)))
_SIGNUM = Rule("signum", _rules.signum_prepare, _rules.signum_update, states=(State("m", 1),))
_LION = Rule("lion", _rules.lion_prepare, _rules.lion_update, states=(State("m", 1),))
_ADAGRAD = Rule("adagrad", _rules.adagrad_prepare, _rules.adagrad_update,
                states=(State("v", 2),))
_SGD = Rule("sgd", _rules.sgd_prepare, _rules.sgd_update, states=(State("buf", 1),),
            scale="plain")
_SIGNGD = Rule("signgd", _rules.plain_prepare, _rules.signgd_update, scale="step")
_GD = Rule("gd", _rules.plain_prepare, _rules.gd_update, scale="plain")
_NGD = Rule("ngd", _rules.plain_prepare, _rules.ngd_update, family=MATRIX, scale="step")
_PROXY = Rule("adam-proxy", _rules.plain_prepare, _rules.proxy_update, family=MATRIX,
              scale="step", squares=True)
_SPECTRAL = Rule("spectral", _rules.spectral_prepare, _rules.spectral_update, family=MATRIX,
                 scale="step")
_MUON = Rule("muon", _rules.spectral_prepare, _rules.muon_update, family=MATRIX,
             states=(State("B", 1),))


# --------------------------------------------------------------------------------------------
# The base class and the registry
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

    Subclasses are dataclasses (``@dataclass(frozen=True)``) whose fields are the options;
    they set the class attribute ``rule`` and override :meth:`hyperparameters` and, for
    rules with state and scale ``"state"``, :meth:`state_dynamics`. A field ``batch_size``
    (None meaning n) and a field ``sampling`` make the optimizer a mini-batch method; without
    them it takes one full-batch step per epoch.
    """

    rule: ClassVar[Rule]
    #: Command-line name, set by :func:`register`.
    name: ClassVar[str] = ""

    def hyperparameters(self) -> tuple:
        """The numbers the rule's ``prepare`` reads as ``hp`` (default: none)."""
        return ()

    def state_dynamics(self) -> tuple:
        """``(decay, gain, enter)`` of each state array, for the log-scale bookkeeping.

        A state array s of degree p with batch gradients bounded by G evolves within
        ``bound <- decay * bound + gain * G**p``, and enters the next step of the iterate
        multiplied by ``enter`` (Adam's m: ``(beta1, 1 - beta1, beta1)``; v: ``(beta2,
        1 - beta2, beta2)``; Lion's m enters the step with beta1). The log-scale follows the
        larger of the incoming gradient and the entering state; a state with ``enter = 0``
        never affects the iterate, and is set to 0 when the scale moves. Needed only for
        rules with scale ``"state"``.
        """
        if self.rule.scale == "state" and self.rule.states:
            raise NotImplementedError(
                f"{type(self).__name__} must define state_dynamics() for the state arrays "
                f"{[s.name for s in self.rule.states]} of its rule {self.rule.name!r}."
            )
        return tuple((0.0, 0.0, 0.0) for _ in self.rule.states)

    @property
    def scale_invariant(self) -> bool:
        """Whether the rule is invariant to a common positive factor on every gradient."""
        return self.rule.scale != "plain"

    @property
    def full_batch(self) -> bool:
        """Whether every step uses all samples (no ``batch_size`` option, or it is None)."""
        return getattr(self, "batch_size", None) is None

    def batch_size_for(self, n: int) -> int:
        """Samples per step on data with ``n`` samples."""
        b = getattr(self, "batch_size", None)
        return n if b is None else b

    def resolve(self, n: int) -> KernelSpec:
        """Kernel parameters for data with ``n`` samples.

        Checks ``batch_size`` (an integer in [1, n]) and ``sampling`` here too, so that an
        optimizer class of a user that forgets to check them cannot run with bad values.
        """
        b = check_int("batch_size", self.batch_size_for(n), 1)
        if b > n:
            raise ValueError(f"batch_size must be in [1, n] = [1, {n}] for this dataset; got {b}.")
        check_option("sampling", getattr(self, "sampling", "cyclic"), SAMPLINGS)
        hp = np.array(self.hyperparameters(), dtype=np.float64).reshape(-1)
        dynamics = self.state_dynamics()
        if len(dynamics) != len(self.rule.states):
            raise ValueError(
                f"{type(self).__name__}.state_dynamics() gives {len(dynamics)} rows for the "
                f"{len(self.rule.states)} state arrays of rule {self.rule.name!r}."
            )
        dyn = np.zeros((len(dynamics), 4))
        for j, (state, row) in enumerate(zip(self.rule.states, dynamics, strict=True)):
            dyn[j] = (state.degree, *row)
        return KernelSpec(self.rule, b, getattr(self, "sampling", "cyclic"), hp, dyn)

    def steps_per_epoch(self, n: int) -> int:
        """Optimizer steps in one pass over ``n`` samples (the last batch may be smaller)."""
        return -(-n // self.resolve(n).batch_size)

    def to_dict(self) -> dict:
        """Options as a plain dict with the class name under ``"name"``."""
        return {"name": type(self).__name__, **asdict(self)}


_REGISTRY: dict[str, type] = {}
#: Registered optimizers, command-line name -> class (read-only view, in registration order).
OPTIMIZERS: Mapping[str, type] = types.MappingProxyType(_REGISTRY)

#: Names other libraries use for options, and what fastbias calls them.
_ALIASES = {
    "betas": "give beta1=..., beta2=... (fastbias spells torch's betas=(b1, b2) that way)",
    "lr": "the learning rate is an argument of fb.simulate: lr=fb.Constant(0.1) or "
          "lr=fb.PolynomialDecay(eta0=0.1, power=0.5)",
    "alpha": "RMSProp's decay rate is beta2 (torch's alpha)",
    "dampening": "SGD has no dampening (it is 0, as in torch's default)",
    "lr_decay": "use a schedule: lr=fb.PolynomialDecay(eta0, power) in fb.simulate",
    "initial_accumulator_value": "AdaGrad's accumulator starts at 0",
    "amsgrad": "AMSGrad is not implemented",
    "momentum_dtype": "everything is float64",
}


def register(name: str):
    """Class decorator: enter an optimizer class in the registry under ``name``.

    Parameters
    ----------
    name : str
        The command-line name (``fastbias run --optimizer <name>``), lower case, unique.

    Returns
    -------
    function
        The decorator; it returns the class unchanged except for a friendlier error for
        option names of other libraries (``betas=``, ``lr=``).

    Raises
    ------
    TypeError
        If the class is not a dataclass subclass of :class:`Optimizer` with a :class:`Rule`.
    ValueError
        If the name is taken or malformed.

    Examples
    --------
    See ``docs/extending.md`` and :mod:`fastbias.extend`.
    """
    if not isinstance(name, str) or not name or name != name.strip().lower() or " " in name:
        raise ValueError(f"name must be a lower-case word such as 'inc-adam'; got {name!r}.")

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Optimizer)
                and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{cls!r} must be a dataclass that subclasses fastbias Optimizer.")
        if not isinstance(getattr(cls, "rule", None), Rule):
            raise TypeError(f"{cls.__name__}.rule must be a fastbias.extend.Rule.")
        previous = _REGISTRY.get(name)
        if previous is not None and previous is not cls and not _redefinition(previous, cls):
            raise ValueError(f"an optimizer is already registered as {name!r}: "
                             f"{previous.__name__}.")
        taken = [other for other_name, other in _REGISTRY.items()
                 if other.__name__ == cls.__name__ and other_name != name]
        if taken:
            raise ValueError(f"an optimizer class named {cls.__name__!r} is already registered.")
        cls.name = name
        _add_hints(cls)
        _REGISTRY[name] = cls
        return cls

    return decorate


def _redefinition(old, new) -> bool:
    """Whether ``new`` is the same class defined again (a re-run notebook cell, a reload)."""
    return (old.__module__, old.__qualname__) == (new.__module__, new.__qualname__)


def unregister(name: str) -> type:
    """Remove the optimizer registered as ``name`` from the registry; returns its class.

    Raises
    ------
    ValueError
        If no optimizer is registered as ``name``.
    """
    if name not in _REGISTRY:
        raise ValueError(f"no optimizer is registered as {name!r}; registered: "
                         f"{optimizer_names()}.")
    return _REGISTRY.pop(name)


def _add_hints(cls) -> None:
    """Wrap ``__init__`` so that options named as in other libraries get a helpful message."""
    init = cls.__init__
    if getattr(init, "_fastbias_hints", False):
        return
    fields = {f.name for f in dataclasses.fields(cls)}

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        for key in kwargs:
            if key not in fields:
                hint = _ALIASES.get(key, f"its options are {sorted(fields) or 'none'}")
                raise TypeError(f"{cls.__name__} got an unexpected option {key!r}: {hint}.")
        init(self, *args, **kwargs)

    __init__._fastbias_hints = True
    cls.__init__ = __init__


def optimizer_names() -> list[str]:
    """Command-line names of the registered optimizers, in registration order."""
    return list(_REGISTRY)


def get_optimizer(name: str) -> type:
    """The optimizer class registered as ``name``; ValueError naming the choices otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"optimizer must be one of {optimizer_names()}; got {name!r}.")
    return _REGISTRY[name]


def optimizer_from_dict(params: dict) -> Optimizer:
    """Rebuild an optimizer from :meth:`Optimizer.to_dict` output (its class must be registered)."""
    if not isinstance(params, Mapping):
        raise ValueError(f"optimizer parameters must be a dict; got {type(params).__name__}.")
    params = dict(params)
    name = params.pop("name", None)
    by_class = {cls.__name__: cls for cls in _REGISTRY.values()}
    if name not in by_class:
        raise ValueError(f"unknown optimizer name {name!r}; expected one of {sorted(by_class)}.")
    return by_class[name](**params)


class Option(NamedTuple):
    """One option of an optimizer class: its name, type (evaluated annotation) and default."""

    name: str
    type: object
    default: object


def options_of(cls) -> list[Option]:
    """The options (dataclass fields) of an optimizer class, with evaluated types.

    Examples
    --------
    >>> [o.name for o in options_of(IncSignum)]
    ['beta', 'batch_size', 'sampling']
    """
    hints = typing.get_type_hints(cls)
    return [Option(f.name, hints.get(f.name, f.type), f.default) for f in dataclasses.fields(cls)]


# --------------------------------------------------------------------------------------------
# Shared option checks
# --------------------------------------------------------------------------------------------


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


def _check_beta(obj, name):
    _set(obj, name, check_interval(name, getattr(obj, name), 0.0, 1.0, "left"))


def _check_nonnegative(obj, name):
    _set(obj, name, check_interval(name, getattr(obj, name), 0.0, math.inf, "left"))


def _check_flag(obj, name):
    value = getattr(obj, name)
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}.")
    _set(obj, name, bool(value))


class _Batched:
    """Mixin for mini-batch optimizers: checks ``batch_size`` (>= 1 or None) and ``sampling``."""

    def _check_batches(self):
        if self.batch_size is not None:
            _set(self, "batch_size", check_int("batch_size", self.batch_size, 1))
        check_option("sampling", self.sampling, SAMPLINGS)


def unbounded_moments(beta1: float, beta2: float) -> bool:
    """Whether ``beta1**2 > beta2`` in exact arithmetic (``beta1**2`` may underflow in float64)."""
    return Fraction(beta1) ** 2 > Fraction(beta2)


class _AdamOptions:
    """Options and dynamics shared by the Adam-type classes."""

    def _check_adam(self):
        _check_beta(self, "beta1")
        _check_beta(self, "beta2")
        _check_nonnegative(self, "eps")
        _check_flag(self, "bias_correction")
        _check_nonnegative(self, "weight_decay")
        if self.eps == 0.0 and unbounded_moments(self.beta1, self.beta2):
            warnings.warn(
                f"{type(self).__name__}(beta1={self.beta1!r}, beta2={self.beta2!r}): "
                "beta1**2 > beta2, so |m| / sqrt(v) is not bounded and the steps can grow; "
                "use beta1**2 <= beta2 or eps > 0.",
                UnboundedStepWarning,
                stacklevel=5,
            )

    def hyperparameters(self):
        return (self.beta1, self.beta2, self.eps, float(self.bias_correction),
                self.weight_decay)

    def state_dynamics(self):
        return ((self.beta1, 1.0 - self.beta1, self.beta1),
                (self.beta2, 1.0 - self.beta2, self.beta2))

    @property
    def scale_invariant(self) -> bool:
        return self.eps == 0.0


# --------------------------------------------------------------------------------------------
# The built-in optimizers
# --------------------------------------------------------------------------------------------


@register("inc-adam")
@dataclass(frozen=True)
class IncAdam(_AdamOptions, _Batched, Optimizer):
    """Mini-batch Adam (paper Algorithm 1; Inc-Adam is b = 1, cyclic), with torch's options.

    Per step with batch gradient g (t = 0, 1, ...): ``m = beta1 m + (1 - beta1) g``,
    ``v = beta2 v + (1 - beta2) g^2``, ``w = w (1 - eta_t weight_decay) - eta_t / bc1 * m /
    (sqrt(v) / sqrt(bc2) + eps)`` entrywise, with ``bc1 = 1 - beta1^(t+1)`` and ``bc2 = 1 -
    beta2^(t+1)`` if ``bias_correction`` else 1 (torch.optim.Adam, and AdamW with weight decay).

    Parameters
    ----------
    beta1, beta2 : float, default 0.9, 0.999
        Moment parameters in [0, 1) (paper defaults). A warning is given when
        ``beta1**2 > beta2`` and ``eps == 0``.
    batch_size : int or None, default 1
        Samples per step, in [1, n]; None means n (full batch).
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"
        Consecutive blocks of 0..n-1, of a fresh permutation per epoch, or of n indices drawn
        with replacement per epoch.
    eps : float, default 0.0
        Added to the denominator, >= 0. The paper's Adam has none; with eps = 0 the step is
        0 where v = 0 (0/0 rule).
    bias_correction : bool, default False
        Divide the moments by ``1 - beta^(t+1)`` as torch.optim.Adam does.
    weight_decay : float, default 0.0
        Decoupled weight decay (AdamW), >= 0.

    Notes
    -----
    With ``eps = 0`` the rule is invariant to a positive factor on the gradients and runs
    exactly at any horizon; with ``eps > 0`` epsilon is scaled like the gradients, exact
    while the true step is a normal float.

    Examples
    --------
    >>> IncAdam(beta1=0.9, beta2=0.999).steps_per_epoch(10)
    10
    >>> IncAdam(batch_size=None).steps_per_epoch(10)
    1
    """

    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int | None = 1
    sampling: str = "cyclic"
    eps: float = 0.0
    bias_correction: bool = False
    weight_decay: float = 0.0
    rule: ClassVar[Rule] = _ADAM

    def __post_init__(self):
        self._check_batches()
        self._check_adam()


@register("det-adam")
@dataclass(frozen=True)
class DetAdam(_AdamOptions, Optimizer):
    """Full-batch (deterministic) Adam (paper Algorithm 2): one step per epoch.

    The same recurrence and options as :class:`IncAdam` with every sample in each step.

    Parameters
    ----------
    beta1, beta2 : float, default 0.9, 0.999
        Moment parameters in [0, 1).
    eps : float, default 0.0
        Added to the denominator, >= 0.
    bias_correction : bool, default False
        torch.optim.Adam's bias correction.
    weight_decay : float, default 0.0
        Decoupled weight decay (AdamW), >= 0.

    Examples
    --------
    >>> DetAdam().steps_per_epoch(10)
    1
    """

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 0.0
    bias_correction: bool = False
    weight_decay: float = 0.0
    rule: ClassVar[Rule] = _ADAM

    def __post_init__(self):
        self._check_adam()


@register("adam-proxy")
@dataclass(frozen=True)
class AdamProxy(Optimizer):
    """AdamProxy (paper Definition 4.2), one step per epoch on the full data.

    ``w -= eta_t * (sum_i grad L_i(w)) / sqrt(sum_i grad L_i(w)^2)`` entrywise (0/0 -> 0):
    the beta2 -> 1 limit of cyclic Inc-Adam's epoch update (paper Proposition 4.1).

    Examples
    --------
    >>> AdamProxy().steps_per_epoch(10)
    1
    """

    rule: ClassVar[Rule] = _PROXY


@register("inc-signum")
@dataclass(frozen=True)
class IncSignum(_Batched, Optimizer):
    """Mini-batch Signum (paper Algorithm 4; Inc-Signum is b = 1, cyclic).

    ``m = beta m + (1 - beta) g``, ``w -= eta_t sign(m)`` with ``sign(0) = 0``.

    Parameters
    ----------
    beta : float, default 0.99
        Momentum in [0, 1) (paper default); beta = 0 is sign descent on each batch.
    batch_size : int or None, default 1
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> IncSignum(beta=0.9, batch_size=2).steps_per_epoch(5)
    3
    """

    beta: float = 0.99
    batch_size: int | None = 1
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _SIGNUM

    def __post_init__(self):
        _check_beta(self, "beta")
        self._check_batches()

    def hyperparameters(self):
        return (self.beta,)

    def state_dynamics(self):
        return ((self.beta, 1.0 - self.beta, self.beta),)


@register("signgd")
@dataclass(frozen=True)
class SignGD(_Batched, Optimizer):
    """Sign gradient descent: ``w -= eta_t sign(g)`` (full batch unless ``batch_size`` is set).

    Parameters
    ----------
    batch_size : int or None, default None
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> SignGD().steps_per_epoch(10), SignGD(batch_size=1).steps_per_epoch(10)
    (1, 10)
    """

    batch_size: int | None = None
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _SIGNGD

    def __post_init__(self):
        self._check_batches()


@register("gd")
@dataclass(frozen=True)
class GD(_Batched, Optimizer):
    """Gradient descent: ``w -= eta_t g`` (full batch unless ``batch_size`` is set).

    GD is not invariant to the scale of the gradient, so it runs in plain float64: its
    margins grow like log t, far from underflow. The paper uses a constant rate for GD,
    which is the default of :func:`fastbias.simulate` for it.

    Parameters
    ----------
    batch_size : int or None, default None
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> GD().scale_invariant
    False
    """

    batch_size: int | None = None
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _GD

    def __post_init__(self):
        self._check_batches()


@register("ngd")
@dataclass(frozen=True)
class NormalizedGD(_Batched, Optimizer):
    """Normalized gradient descent: ``w -= eta_t g / ||g||`` (no step when g = 0).

    The norm is the l_2 norm of the gradient vector (Frobenius norm for a multiclass
    parameter matrix).

    Parameters
    ----------
    batch_size : int or None, default None
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> NormalizedGD().steps_per_epoch(10)
    1
    """

    batch_size: int | None = None
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _NGD

    def __post_init__(self):
        self._check_batches()


@register("rmsprop")
@dataclass(frozen=True)
class RMSProp(_AdamOptions, _Batched, Optimizer):
    """RMSProp: Adam with beta1 = 0 (torch.optim.RMSprop with alpha = beta2, no momentum).

    ``v = beta2 v + (1 - beta2) g^2``, ``w -= eta_t g / (sqrt(v) + eps)``.

    Parameters
    ----------
    beta2 : float, default 0.99
        Decay of the squared-gradient average, in [0, 1) (torch's alpha).
    eps : float, default 0.0
        Added to the denominator, >= 0; with eps = 0 the step is 0 where v = 0.
    batch_size : int or None, default 1
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> RMSProp(beta2=0.9).scale_invariant
    True
    """

    beta2: float = 0.99
    eps: float = 0.0
    batch_size: int | None = 1
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _ADAM
    beta1: ClassVar[float] = 0.0
    bias_correction: ClassVar[bool] = False
    weight_decay: ClassVar[float] = 0.0

    def __post_init__(self):
        self._check_batches()
        _check_beta(self, "beta2")
        _check_nonnegative(self, "eps")


@register("adagrad")
@dataclass(frozen=True)
class AdaGrad(_Batched, Optimizer):
    """AdaGrad: ``v += g^2``, ``w -= eta_t g / (sqrt(v) + eps)``.

    torch.optim.Adagrad with ``lr_decay = 0`` and ``initial_accumulator_value = 0``.

    Parameters
    ----------
    eps : float, default 0.0
        Added to the denominator, >= 0; with eps = 0 the step is 0 where v = 0 and the
        rule is scale invariant (exact at any horizon).
    batch_size : int or None, default 1
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> AdaGrad().steps_per_epoch(4)
    4
    """

    eps: float = 0.0
    batch_size: int | None = 1
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _ADAGRAD

    def __post_init__(self):
        _check_nonnegative(self, "eps")
        self._check_batches()

    def hyperparameters(self):
        return (self.eps,)

    def state_dynamics(self):
        return ((1.0, 1.0, 1.0),)

    @property
    def scale_invariant(self) -> bool:
        return self.eps == 0.0


@register("lion")
@dataclass(frozen=True)
class Lion(_Batched, Optimizer):
    """Lion (Chen et al. 2023): ``w -= eta_t (sign(b1 m + (1-b1) g) + wd w); m = b2 m + (1-b2) g``.

    Parameters
    ----------
    beta1, beta2 : float, default 0.9, 0.99
        Interpolation and momentum parameters in [0, 1); with beta1 = 0 the step is sign(g).
    weight_decay : float, default 0.0
        Decoupled weight decay, >= 0.
    batch_size : int or None, default 1
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> Lion().scale_invariant
    True
    """

    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.0
    batch_size: int | None = 1
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _LION

    def __post_init__(self):
        _check_beta(self, "beta1")
        _check_beta(self, "beta2")
        _check_nonnegative(self, "weight_decay")
        self._check_batches()

    def hyperparameters(self):
        return (self.beta1, self.beta2, self.weight_decay)

    def state_dynamics(self):
        # m enters the step multiplied by beta1 (with beta1 = 0 it never does: sign(g))
        return ((self.beta2, 1.0 - self.beta2, self.beta1),)


@register("sgd")
@dataclass(frozen=True)
class SGD(_Batched, Optimizer):
    """SGD with heavy-ball momentum: ``buf = mu buf + g; w -= eta_t buf``.

    torch.optim.SGD with ``dampening = 0``; Nesterov: ``w -= eta_t (g + mu buf)`` with the
    updated buf. Not scale invariant: plain float64, like GD.

    Parameters
    ----------
    momentum : float, default 0.9
        mu in [0, 1).
    nesterov : bool, default False
    batch_size : int or None, default 1
        Samples per step, in [1, n]; None means n.
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> SGD(momentum=0.5).scale_invariant
    False
    """

    momentum: float = 0.9
    nesterov: bool = False
    batch_size: int | None = 1
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _SGD

    def __post_init__(self):
        _check_beta(self, "momentum")
        _check_flag(self, "nesterov")
        self._check_batches()

    def hyperparameters(self):
        return (self.momentum, float(self.nesterov))


@register("spectral-descent")
@dataclass(frozen=True)
class SpectralDescent(_Batched, Optimizer):
    """Spectral descent: ``W -= eta_t U V^T`` for the thin SVD ``G = U S V^T``.

    Singular values at or below 1e-12 of the largest are dropped. On binary data (one
    parameter row) this is normalized GD.

    Parameters
    ----------
    batch_size : int or None, default None
        Samples per step, in [1, n]; None means n (full batch).
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> SpectralDescent(batch_size=1).steps_per_epoch(6)
    6
    """

    batch_size: int | None = None
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _SPECTRAL

    def __post_init__(self):
        self._check_batches()

    def hyperparameters(self):
        return (0.0, 0.0, 0.0)


@register("muon")
@dataclass(frozen=True)
class Muon(_Batched, Optimizer):
    """Muon: ``B = mu B + G; W -= eta_t polar(B)`` (Nesterov: ``polar(G + mu B)``).

    Parameters
    ----------
    momentum : float, default 0.95
        mu in [0, 1).
    nesterov : bool, default False
    ns_steps : int or None, default None
        None: the exact polar factor ``U V^T`` from the SVD (singular values at or below
        1e-12 of the largest dropped). An integer >= 1: that many steps of the quintic
        Newton-Schulz iteration used in practice, which approximates the polar factor.
    batch_size : int or None, default None
        Samples per step, in [1, n]; None means n (full batch).
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"

    Examples
    --------
    >>> Muon(ns_steps=5).hyperparameters()
    (0.95, 0.0, 5.0)
    """

    momentum: float = 0.95
    nesterov: bool = False
    ns_steps: int | None = None
    batch_size: int | None = None
    sampling: str = "cyclic"
    rule: ClassVar[Rule] = _MUON

    def __post_init__(self):
        _check_beta(self, "momentum")
        _check_flag(self, "nesterov")
        if self.ns_steps is not None:
            _set(self, "ns_steps", check_int("ns_steps", self.ns_steps, 1, 100))
        self._check_batches()

    def hyperparameters(self):
        return (self.momentum, float(self.nesterov), float(self.ns_steps or 0))

    def state_dynamics(self):
        return ((self.momentum, 1.0, self.momentum),)

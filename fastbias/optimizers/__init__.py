"""Optimizers: small immutable parameter objects, each tied to one update rule, in one registry.

An optimizer is a frozen dataclass (its fields are its options, declared with
:func:`fastbias.extend.option`) with a class attribute ``rule``, a :class:`Rule` that says how
one step is computed (the rule's compiled functions, the options they read, its state arrays
and its scale behaviour). :func:`register` enters the class in the registry under a
command-line name; the command line, sweeps, benchmarks and the tests take the names and
options from there. A built-in optimizer is a rule and a class in one module of this package
(and its reference step in ``tests/reference.py``); ``docs/extending.md`` shows how.

All rules start from zero state and follow the 0/0 rule (no step where the denominator is
0), ``sign(0) = 0``, and the batch gradient ``g = (1/|B|) sum_{i in B} l'(<w, z_i>) z_i``; the
step counter t counts optimizer steps from 0.

Modules: :mod:`.base` (the contract), :mod:`.registry`, and the built-ins by family:
:mod:`.adaptive` (Adam and AMSGrad, RMSProp, AdaGrad, NAdam, AdaBelief, Adamax),
:mod:`.sign` (Signum, SignGD, Lion),
:mod:`.gradient` (GD, SGD, normalized GD), :mod:`.matrix` (AdamProxy, spectral descent,
Muon), :mod:`.steepest` (steepest descent in any norm, mirror descent).
"""

from . import adaptive, gradient, matrix, sign, steepest  # noqa: F401 (registers the built-ins)
from .adaptive import UnboundedStepWarning, unbounded_moments
from .base import (
    SAMPLINGS,
    SCALES,
    KernelSpec,
    Optimizer,
    Rule,
    RuleContractError,
    State,
    batch_size_option,
    sampling_option,
)
from .registry import (
    OPTIMIZERS,
    Option,
    get_optimizer,
    optimizer_from_dict,
    optimizer_names,
    options_of,
    register,
    unregister,
)

#: Class names of the built-in optimizers, in registration order (each is exported here and
#: as ``fastbias.<name>``).
BUILT_IN = tuple(cls.__name__ for cls in OPTIMIZERS.values())
globals().update({cls.__name__: cls for cls in OPTIMIZERS.values()})

__all__ = [
    "SAMPLINGS",
    "SCALES",
    "State",
    "Rule",
    "RuleContractError",
    "KernelSpec",
    "Optimizer",
    "batch_size_option",
    "sampling_option",
    "UnboundedStepWarning",
    "unbounded_moments",
    "register",
    "unregister",
    "OPTIMIZERS",
    "optimizer_names",
    "get_optimizer",
    "optimizer_from_dict",
    "options_of",
    "Option",
    "BUILT_IN",
    *BUILT_IN,
]

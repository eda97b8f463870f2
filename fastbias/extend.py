"""The public API for adding optimizers and losses: contracts that are checked.

An optimizer is a frozen dataclass of options (declared with :func:`option`; subclass of
:class:`Optimizer`; :func:`batch_size_option` and :func:`sampling_option` for mini-batch
methods) tied to a
:class:`Rule`, whose two functions are written with :func:`jitable` and compiled into a step
loop specialized for the rule and the loss (cached on disk). :func:`register` gives it a name
for the command line and for checkpoints. A loss is a frozen dataclass subclass of
:class:`Loss` with a jitable log-derivative, entered with :func:`register_loss`. A model
(:mod:`fastbias.models`) is a frozen dataclass subclass of :class:`Model` with jitable
effective weights and chain-rule factors, entered with :func:`register_model` and checked by
:func:`check_model`.
:func:`check_optimizer` checks a rule's declared state dynamics under tight scale bounds.
``docs/extending.md`` walks through complete examples.

Examples
--------
A heavy-ball method written from scratch (the same recurrence as :class:`fastbias.SGD`):

>>> from dataclasses import dataclass
>>> from typing import ClassVar
>>> import fastbias as fb
>>> from fastbias import extend
>>> @extend.jitable
... def hb_prepare(hp, eta, t, log_scale):
...     return (hp[0], eta)
>>> @extend.jitable
... def hb_update(g, w, state, c, k, p):
...     mu, eta = p
...     buf = mu * state[0, c, k] + g
...     state[0, c, k] = buf
...     return w - eta * buf
>>> @extend.register("heavy-ball-doc")
... @dataclass(frozen=True)
... class HeavyBall(extend.Optimizer):
...     momentum: float = extend.option(0.9, "momentum", low=0.0, high=1.0, closed="left")
...     batch_size: int | None = extend.batch_size_option(1)
...     sampling: str = extend.sampling_option()
...     rule: ClassVar[extend.Rule] = extend.Rule(
...         "heavy-ball", hb_prepare, hb_update, hp=("momentum",),
...         states=(extend.State("buf", 1),), scale="plain")
>>> ds = fb.datasets.gaussian(n=4, d=6)
>>> a = fb.simulate(ds, HeavyBall(0.5), lr=fb.Constant(0.1), epochs=20, record=1)
>>> b = fb.simulate(ds, fb.SGD(momentum=0.5), lr=fb.Constant(0.1), epochs=20, record=1)
>>> bool(np.array_equal(a.w, b.w))
True
>>> extend.unregister("heavy-ball-doc")  # doctest: +ELLIPSIS
<class '...HeavyBall'>
"""

import numpy as np  # noqa: F401 (used by the example)

from ._jit import jitable
from ._kernels.scale import scaled_eps, sign0
from ._options import option
from ._validation import check_int, check_interval, check_option
from .contracts import check_model, check_optimizer
from .losses import Loss, register_loss, unregister_loss
from .models import Model, register_model, unregister_model
from .optimizers import (
    OPTIMIZERS,
    Optimizer,
    Rule,
    RuleContractError,
    State,
    batch_size_option,
    get_optimizer,
    register,
    sampling_option,
    unregister,
)
from .schedules import Schedule

__all__ = [
    "Loss",
    "Model",
    "Optimizer",
    "OPTIMIZERS",
    "Rule",
    "RuleContractError",
    "Schedule",
    "State",
    "check_int",
    "check_interval",
    "check_option",
    "check_model",
    "check_optimizer",
    "get_optimizer",
    "jitable",
    "option",
    "register",
    "register_loss",
    "register_model",
    "batch_size_option",
    "sampling_option",
    "scaled_eps",
    "sign0",
    "unregister",
    "unregister_loss",
    "unregister_model",
]

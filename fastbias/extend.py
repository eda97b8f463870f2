"""The public API for adding optimizers: rules, their state, their scale behaviour.

An optimizer is a frozen dataclass of options (subclass of :class:`Optimizer`) tied to a
:class:`Rule`, whose two functions are written with :func:`jitable` and compiled into a step
loop specialized for the rule (cached on disk). :func:`register` gives it a name for the
command line and for checkpoints. ``docs/extending.md`` walks through a complete example.

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
...     momentum: float = 0.9
...     batch_size: int | None = 1
...     sampling: str = "cyclic"
...     rule: ClassVar[extend.Rule] = extend.Rule(
...         "heavy-ball", hb_prepare, hb_update, states=(extend.State("buf", 1),),
...         scale="plain")
...     def hyperparameters(self):
...         return (self.momentum,)
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
from ._kernels.scale import sign0
from ._validation import check_int, check_interval, check_option
from .optimizers import (
    OPTIMIZERS,
    Optimizer,
    Rule,
    State,
    get_optimizer,
    register,
    unregister,
)
from .schedules import Schedule

__all__ = [
    "Optimizer",
    "OPTIMIZERS",
    "Rule",
    "Schedule",
    "State",
    "check_int",
    "check_interval",
    "check_option",
    "get_optimizer",
    "jitable",
    "register",
    "sign0",
    "unregister",
]

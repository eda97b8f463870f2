"""The registry of optimizers: command-line names, lookup, and rebuilding from stored dicts."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Mapping
from typing import NamedTuple

from .._options import OptionSpec, document_options, spec_of
from .._validation import shown
from .base import Optimizer, Rule

__all__ = [
    "OPTIMIZERS",
    "Option",
    "get_optimizer",
    "optimizer_from_dict",
    "optimizer_names",
    "options_of",
    "register",
    "unregister",
]

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
        The decorator; it returns the class with a friendlier error for option names of
        other libraries (``betas=``, ``lr=``) and, if its docstring has none, a Parameters
        section written from the declared options.

    Raises
    ------
    TypeError
        If the class is not a dataclass subclass of :class:`Optimizer` with a :class:`Rule`.
    ValueError
        If the name is taken or malformed, or another registered class has the same class
        name (checkpoints and sweep tables name optimizers by class).

    Examples
    --------
    See ``docs/extending.md`` and :mod:`fastbias.extend`.
    """
    if not isinstance(name, str) or not name or name != name.strip().lower() or " " in name:
        raise ValueError(f"name must be a lower-case word such as 'inc-adam'; got {shown(name)}.")

    def decorate(cls):
        if not (
            isinstance(cls, type) and issubclass(cls, Optimizer) and dataclasses.is_dataclass(cls)
        ):
            raise TypeError(f"{cls!r} must be a dataclass that subclasses fastbias Optimizer.")
        if not isinstance(getattr(cls, "rule", None), Rule):
            raise TypeError(f"{cls.__name__}.rule must be a fastbias.extend.Rule.")
        previous = _REGISTRY.get(name)
        if previous is not None and previous is not cls and not _redefinition(previous, cls):
            raise ValueError(
                f"an optimizer is already registered as {name!r}: {previous.__name__}."
            )
        taken = [
            other
            for other_name, other in _REGISTRY.items()
            if other.__name__ == cls.__name__
            and other_name != name
            and not _redefinition(other, cls)
        ]
        if taken:
            raise ValueError(
                f"an optimizer class named {cls.__name__!r} is already registered "
                f"(as {taken[0].name!r}); give yours another class name."
            )
        cls.name = name
        _add_hints(cls)
        document_options(cls)
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
        raise ValueError(
            f"no optimizer is registered as {name!r}; registered: {optimizer_names()}."
        )
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
    """The optimizer class registered as ``name``; ValueError naming the choices otherwise.

    Examples
    --------
    >>> get_optimizer("inc-adam").__name__
    'IncAdam'
    >>> get_optimizer("adam")
    Traceback (most recent call last):
    ...
    ValueError: optimizer 'adam' is not registered; did you mean 'inc-adam' (mini-batch ...
    """
    if name not in _REGISTRY:
        raise ValueError(
            f"optimizer {name!r} is not registered; {_suggest(name)}"
            f"Registered: {', '.join(optimizer_names())}."
        )
    return _REGISTRY[name]


#: What the names of some optimizers mean, for suggestions.
_MEANINGS = {"inc-adam": "mini-batch Adam, b = 1 by default", "det-adam": "full batch"}


def _suggest(name) -> str:
    """``"did you mean ...? "`` for a name close to registered ones (or containing one)."""
    if not isinstance(name, str):
        return ""
    names = optimizer_names()
    close = [n for n in names if name and (name in n.split("-") or name == n.replace("-", ""))]
    close += [n for n in difflib.get_close_matches(name, names, n=3, cutoff=0.7) if n not in close]
    if not close:
        return ""
    shown = ", ".join(
        f"{n!r}" + (f" ({_MEANINGS[n]})" if n in _MEANINGS else "") for n in close[:4]
    )
    return f"did you mean {shown}? "


def optimizer_from_dict(params: dict) -> Optimizer:
    """Rebuild an optimizer from :meth:`Optimizer.to_dict` output (its class must be registered)."""
    if not isinstance(params, Mapping):
        raise ValueError(f"optimizer parameters must be a dict; got {type(params).__name__}.")
    params = dict(params)
    name = params.pop("name", None)
    params.pop("code", None)  # the fingerprint of a user's class: matched, not an option
    by_class = {cls.__name__: cls for cls in _REGISTRY.values()}
    if name not in by_class:
        raise ValueError(f"unknown optimizer name {name!r}; expected one of {sorted(by_class)}.")
    return by_class[name](**params)


class Option(NamedTuple):
    """One option of an optimizer class: name, type (evaluated annotation), default, spec."""

    name: str
    type: object
    default: object
    spec: OptionSpec | None = None


def options_of(cls) -> list[Option]:
    """The options (dataclass fields) of an optimizer class, own options first.

    Examples
    --------
    >>> from fastbias import IncSignum
    >>> [o.name for o in options_of(IncSignum)]
    ['beta', 'batch_size', 'sampling']
    """
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError, AttributeError):  # a user class with forward references
        hints = {}
    fields = [f for f in dataclasses.fields(cls) if f.init]
    ordered = [f for f in fields if not f.kw_only] + [f for f in fields if f.kw_only]
    return [Option(f.name, hints.get(f.name, f.type), f.default, spec_of(f)) for f in ordered]

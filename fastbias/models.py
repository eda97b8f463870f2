"""Models: how the trained parameter gives the classifier's weights (SPEC 13).

The default model is the linear one: the parameter is the weight vector w (binary data) or
matrix W (multiclass data). A :class:`Model` of the registry trains another parameter theta
whose *effective weights* ``w(theta)`` score the samples. What a model gives the step loops
(:mod:`fastbias._kernels.engine`) is entrywise, for each output row c and coordinate k:

* ``weight(P, c, k, kout, mp)``: the effective weight ``W[c, k]`` from the parameter rows
  ``P[c + j * kout, k]``, j = 0 .. ``multiplicity - 1`` (a jitable function);
* ``chain(P, c, k, kout, j, mp)``: ``dW[c, k] / dP[c + j * kout, k]``, the chain-rule factor
  of one parameter entry (a jitable function).

The parameter is stored as the matrix ``P`` of ``multiplicity * kout`` rows; every optimizer
acts on it (its state has P's shape, and the norms of normalized methods are over the whole
of it). The chain-rule factors are per coordinate and not part of the common log-scale of
the loss derivatives, so scale-invariant optimizers stay exact at any horizon on a model too.

A model whose effective weights are not entrywise in the parameter (a factorized ``W = A
B``, say) would be one more entry with matrix-level functions instead: ``W(P)`` and the
backward map ``G_W -> G_P`` (``G_A = G_W B^T``, ``G_B = A^T G_W``), which the matrix rules
can use directly and the entrywise ones through the general batch path.
"""

from __future__ import annotations

import dataclasses
import types
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._jit import jitable
from ._options import check_options, option
from ._provenance import class_functions, with_code
from ._validation import shown

__all__ = [
    "Model",
    "DiagonalNet",
    "MODELS",
    "register_model",
    "unregister_model",
    "get_model",
    "model_from_dict",
    "DepthWarning",
]


class DepthWarning(UserWarning):
    """A diagonal network of depth >= 3 with a constant learning rate (its steps grow)."""


class Model:
    """Base class of the models beyond the linear one: a frozen dataclass of options.

    Subclasses set ``multiplicity`` (parameter rows per output row), the jitable ``weight``
    and ``chain`` (see :mod:`fastbias.models`), and define :meth:`weights` (the effective
    weights of parameters, in NumPy) and :meth:`initial` (the default starting parameter).
    """

    #: Name under which the model is registered (set by :func:`register_model`).
    name: ClassVar[str] = ""
    multiplicity: ClassVar[int] = 1
    weight: ClassVar[Callable]
    chain: ClassVar[Callable]

    def __post_init__(self):
        check_options(self)

    def parameters(self) -> np.ndarray:
        """The model's parameter array ``mp`` (its options, in field order)."""
        return np.array([float(getattr(self, f.name)) for f in dataclasses.fields(self)])

    def weights(self, P: np.ndarray) -> np.ndarray:
        """Effective weights of parameters ``P`` of shape (..., multiplicity * k, d)."""
        raise NotImplementedError

    def initial(self, k: int, d: int) -> np.ndarray:
        """The default starting parameter, shape (multiplicity * k, d)."""
        raise NotImplementedError

    def check_run(self, optimizer, lr) -> None:
        """Warn about settings known to fail on this model (default: none)."""

    def to_dict(self) -> dict:
        """Options as a plain dict with the class name under ``"name"``."""
        stored = {"name": type(self).__name__, **dataclasses.asdict(self)}
        return with_code(stored, type(self), class_functions(type(self)))


_REGISTRY: dict[str, type] = {}
#: Registered models, command-line name -> class (read-only view).
MODELS: Mapping[str, type] = types.MappingProxyType(_REGISTRY)


def register_model(name: str):
    """Class decorator: enter a model class in the registry under ``name``.

    Parameters
    ----------
    name : str
        The command-line name (``fastbias run --model <name>``), lower case, unique, not
        ``"linear"``.

    Raises
    ------
    TypeError
        If the class is not a dataclass subclass of :class:`Model` with jitable ``weight``
        and ``chain`` and an integer ``multiplicity`` >= 1.
    ValueError
        If the name is taken or malformed, or another registered class has the same class
        name (checkpoints name models by class).
    """
    if (
        not isinstance(name, str)
        or not name
        or name != name.strip().lower()
        or " " in name
        or name == "linear"
    ):
        raise ValueError(f"name must be a lower-case word other than 'linear'; got {shown(name)}.")

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Model) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{cls!r} must be a dataclass that subclasses fastbias Model.")
        for attr in ("weight", "chain"):
            if not callable(getattr(cls, attr, None)):
                raise TypeError(f"{cls.__name__}.{attr} must be a jitable function.")
        m = getattr(cls, "multiplicity", None)
        if not isinstance(m, int) or isinstance(m, bool) or m < 1:
            raise TypeError(f"{cls.__name__}.multiplicity must be an integer >= 1; got {shown(m)}.")

        def same(other):
            return (other.__module__, other.__qualname__) == (cls.__module__, cls.__qualname__)

        previous = _REGISTRY.get(name)
        if previous is not None and not same(previous):
            raise ValueError(f"a model is already registered as {name!r}: {previous.__name__}.")
        for other_name, other in _REGISTRY.items():
            if other.__name__ == cls.__name__ and other_name != name and not same(other):
                raise ValueError(
                    f"a model class named {cls.__name__!r} is already registered (as "
                    f"{other_name!r}); give yours another class name."
                )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def unregister_model(name: str) -> type:
    """Remove the model registered as ``name`` from the registry; returns its class."""
    if name not in _REGISTRY:
        raise ValueError(f"no model is registered as {name!r}; registered: {sorted(_REGISTRY)}.")
    return _REGISTRY.pop(name)


def get_model(name: str) -> type:
    """The model class registered as ``name``; ValueError naming the choices otherwise."""
    if name not in _REGISTRY:
        raise ValueError(
            f"model must be one of {sorted(_REGISTRY)} (or 'linear'); got {shown(name)}."
        )
    return _REGISTRY[name]


def model_from_dict(params) -> Model | None:
    """Rebuild a model from :meth:`Model.to_dict` output (None: the linear model)."""
    if params is None:
        return None
    if not isinstance(params, Mapping):
        raise ValueError(f"model parameters must be a dict; got {type(params).__name__}.")
    params = dict(params)
    name = params.pop("name", None)
    params.pop("code", None)  # the fingerprint of a user's class: matched, not an option
    by_class = {cls.__name__: cls for cls in _REGISTRY.values()}
    if name not in by_class:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(by_class)}.")
    try:
        return by_class[name](**params)
    except TypeError as exc:
        raise ValueError(f"invalid parameters for model {name}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Diagonal linear networks
# --------------------------------------------------------------------------------------------


@jitable
def _power(x, depth):
    """``x ** depth`` for an integer-valued depth >= 1, by products (no call of pow)."""
    if depth == 1.0:
        return x
    if depth == 2.0:
        return x * x
    if depth == 3.0:
        return x * x * x
    n = int(depth)
    result = 1.0
    base = x
    while n > 0:  # binary powering: about 2 log2(depth) products
        if n & 1:
            result *= base
        base *= base
        n >>= 1
    return result


@jitable(nrt=False)
def diagonal_weight(P, c, k, kout, mp):
    """``w = u^D - v^D`` with ``u = P[c, k]``, ``v = P[c + kout, k]``, ``D = mp[0]``."""
    return _power(P[c, k], mp[0]) - _power(P[c + kout, k], mp[0])


@jitable(nrt=False)
def diagonal_chain(P, c, k, kout, j, mp):
    """``dw/du = D u^(D-1)`` (j = 0) and ``dw/dv = -D v^(D-1)`` (j = 1)."""
    depth = mp[0]
    if j == 0:
        return depth * _power(P[c, k], depth - 1.0)
    return -depth * _power(P[c + kout, k], depth - 1.0)


@register_model("diagonal")
@dataclass(frozen=True)
class DiagonalNet(Model):
    """A depth-D diagonal linear network: ``w = u^D - v^D`` entrywise (SPEC 13).

    ``theta = (u, v)``, each of the shape of w (binary (d,), multiclass (k, d)), starting at
    ``u = v = init_scale`` (so w0 = 0) unless ``theta0`` is given to
    :func:`fastbias.simulate`. Gradients ``dL/du = D u^(D-1) g_w``, ``dL/dv = -D v^(D-1)
    g_w`` with ``g_w`` the linear model's.

    Notes
    -----
    Depth-D networks converge in direction to a KKT point of ``min ||w||_{2/D} s.t. Z w >=
    1`` (Gunasekar et al. 2018; Lyu and Li 2020), the l_1 max margin for D = 2; a large
    ``init_scale`` starts in the kernel regime (the l_2 max margin) and leaves it only at
    very small training losses (Moroshko et al. 2020). Depth >= 3 with a constant rate
    diverges (the relative step grows with u): use a rate that shrinks like
    ``(-log L)^(-(D-2)/D)``, such as ``fb.LossNormalizedGD(power=(D - 2) / D)`` (whose
    ``-log L`` then grows geometrically in epochs, as at depth 2); a :class:`DepthWarning`
    says so otherwise.

    Examples
    --------
    >>> net = DiagonalNet(depth=2, init_scale=0.5)
    >>> net.weights(net.initial(1, 3)).tolist()
    [[0.0, 0.0, 0.0]]
    """

    depth: int = option(2, "the depth D of the network", low=2)
    init_scale: float = option(1.0, "the starting value of u and v", low=0.0, closed="neither")
    multiplicity: ClassVar[int] = 2
    weight: ClassVar[Callable] = diagonal_weight
    chain: ClassVar[Callable] = diagonal_chain

    def weights(self, P):
        """``u^D - v^D`` for parameters of shape (..., 2k, d): u the first k rows."""
        P = np.asarray(P, dtype=np.float64)
        k = P.shape[-2] // 2
        return P[..., :k, :] ** self.depth - P[..., k:, :] ** self.depth

    def initial(self, k, d):
        """``u = v = init_scale`` (so the effective weights start at 0)."""
        return np.full((2 * k, d), self.init_scale)

    @property
    def limit_exponent(self) -> float:
        """``q = 2 / D``: the network's limit is a KKT point of ``min ||w||_q s.t. Z w >= 1``."""
        return 2.0 / self.depth

    def limit_margin(self, data, w) -> np.ndarray:
        """``gamma_q(w) = min_i <w, z_i> / ||w||_q`` with ``q = 2 / D`` (a quasi-norm for D > 2).

        The normalized margin of the problem the network's direction goes to (nonconvex for
        D > 2: no solver is offered; compare two directions, e.g. with the l_1 max margin).
        Binary data; ``w`` of shape (d,) or (r, d); computed scaled (any size of w).

        Examples
        --------
        >>> import fastbias as fb
        >>> data = fb.Dataset([[1.0, 1.0]], [1.0])
        >>> float(DiagonalNet(depth=4).limit_margin(data, [1.0, 1.0]))  # 2 / (2**2)
        0.5
        """
        if data.multiclass:
            raise ValueError("limit_margin is defined for binary data (a Dataset).")
        W = np.atleast_2d(np.asarray(w, dtype=np.float64))
        q = self.limit_exponent
        top = np.abs(W).max(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = W / top
            margins = (unit @ data.Z.T).min(axis=1)
            out = margins / (np.abs(unit) ** q).sum(axis=1) ** (1.0 / q)
        out[top[:, 0] == 0] = np.nan
        return out if np.ndim(w) == 2 else out[0]

    def check_run(self, optimizer, lr) -> None:
        """Warn when depth >= 3 runs at a constant rate whose steps do not shrink (it diverges)."""
        from .optimizers import LossNormalizedGD
        from .schedules import Constant

        needed = (self.depth - 2) / self.depth
        shrinks = isinstance(optimizer, LossNormalizedGD) and optimizer.power >= needed
        if self.depth >= 3 and isinstance(lr, Constant) and not shrinks:
            warnings.warn(
                f"DiagonalNet(depth={self.depth}) with a constant learning rate diverges: the "
                "relative step grows with u; use a rate that shrinks like "
                f"(-log L)^(-{needed:.3g}), e.g. fb.LossNormalizedGD(power={needed:.4g}).",
                DepthWarning,
                stacklevel=4,
            )

"""Linearly separable datasets: the validated :class:`Dataset` and the paper's generators."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

from ._io import atomic_savez, load_npz
from ._validation import check_finite_array, check_int, check_interval

__all__ = [
    "Dataset",
    "ZeroEntryWarning",
    "gaussian",
    "generalized_rademacher",
    "shifted_diagonal",
    "load",
]


class ZeroEntryWarning(UserWarning):
    """Some entries of X are exactly zero (the paper's Assumption 2.2 does not hold)."""


def _label_array(y) -> np.ndarray:
    """``y`` as a 1-D array: finite float64 numbers, or text labels as they are."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "US":
        return check_finite_array("y", y, ndim=1)
    if arr.ndim != 1:
        raise ValueError(f"y must be a 1-D array; got shape {arr.shape}.")
    return arr


def _signed_labels(y: np.ndarray) -> np.ndarray:
    """Map labels to -1/+1 (SPEC section 1): signed numbers stay, two values map by order."""
    values = np.unique(y)
    text = y.dtype.kind in "US"
    if not text and np.all(np.isin(values, (-1.0, 1.0))):
        return y.astype(np.float64)
    if values.size != 2:
        shown = values[:5].tolist() + (["..."] if values.size > 5 else [])
        rule = ("text labels y must hold exactly two distinct values" if text else
                "y must hold exactly two distinct label values (or only -1/+1)")
        raise ValueError(f"{rule}; got {values.size} distinct values {shown}.")
    return np.where(y == values[1], 1.0, -1.0)


def _is_separable(Z: np.ndarray) -> bool:
    """Whether some w has Z w >= 1 (a linear feasibility problem solved with HiGHS)."""
    from scipy.optimize import linprog

    n, d = Z.shape
    scale = np.max(np.abs(Z), axis=1)
    if np.any(scale == 0.0):
        return False  # <w, 0> = 0 is never positive
    # separability does not depend on positive row scales; unit rows keep HiGHS in range
    res = linprog(
        np.zeros(d),
        A_ub=-Z / scale[:, None],
        b_ub=-np.ones(n),
        bounds=[(None, None)] * d,
        method="highs",
    )
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    raise RuntimeError(f"separability check failed: linprog status {res.status} ({res.message}).")


class Dataset:
    """Binary classification data ``(X, y)`` with labels in {-1, +1}.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Finite real features.
    y : array_like of shape (n,)
        Labels. Values already in {-1, +1} are used as they are (a single class is allowed);
        otherwise there must be exactly two distinct values (numbers or strings), the larger
        (for strings: the later in sorted order) mapped to +1.
    check_separable : bool, default True
        Check with a linear program that some ``w`` has ``y_i <w, x_i> > 0`` for all i
        (the paper's Assumption 2.1) and raise ValueError if not.

    Attributes
    ----------
    X, y, Z : ndarray
        Read-only float64 arrays; ``Z = y[:, None] * X`` holds the signed samples ``z_i``.
    n, d : int
        Number of samples and of features.

    Warns
    -----
    ZeroEntryWarning
        If some entries of X are zero (Assumption 2.2); the simulators still run and apply
        the 0/0 rule of Adam to coordinates without gradient.

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.Dataset([[1.0, 2.0], [-1.0, 0.5]], [1, -1])
    >>> ds.Z
    array([[ 1. ,  2. ],
           [ 1. , -0.5]])
    """

    def __init__(self, X, y, *, check_separable: bool = True):
        X = check_finite_array("X", X, ndim=2)
        y = _label_array(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must have one label per row of X: X has {X.shape[0]} rows, y has {y.shape[0]}."
            )
        y = _signed_labels(y)
        Z = y[:, None] * X
        row_max = np.max(np.abs(X), axis=1)
        tiny = np.finfo(np.float64).tiny
        subnormal = np.flatnonzero((row_max > 0.0) & (row_max < tiny))
        if subnormal.size:
            raise ValueError(
                f"X has rows whose entries are all subnormal (below {tiny:.3g} in magnitude), "
                f"first row {int(subnormal[0])}; rescale X (the optimizers other than GD are "
                "invariant to a positive scale of the data)."
            )
        if not isinstance(check_separable, (bool, np.bool_)):
            raise TypeError(f"check_separable must be True or False; got {check_separable!r}.")
        if check_separable and not _is_separable(Z):
            raise ValueError(
                "data are not linearly separable (no w has y_i <w, x_i> > 0 for every i); "
                "pass check_separable=False to run GD-type optimizers anyway."
            )
        zeros = np.argwhere(X == 0.0)
        if zeros.size:
            r, c = zeros[0]
            warnings.warn(
                f"X has {len(zeros)} zero entries (first at row {r}, column {c}); the paper's "
                "Assumption 2.2 (nonzero entries) does not hold. Coordinates without gradient "
                "follow the 0/0 rule (no step).",
                ZeroEntryWarning,
                stacklevel=2,
            )
        for arr in (X, y, Z):
            arr.flags.writeable = False
        self._X, self._y, self._Z = X, y, Z
        self.separability_checked = bool(check_separable)

    X = property(lambda self: self._X, doc="Features, shape (n, d), float64, read-only.")
    y = property(lambda self: self._y, doc="Labels in {-1, +1}, shape (n,), read-only.")
    Z = property(lambda self: self._Z, doc="Signed samples z_i = y_i x_i, shape (n, d).")
    n = property(lambda self: self._X.shape[0], doc="Number of samples.")
    d = property(lambda self: self._X.shape[1], doc="Number of features.")

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the signed samples (shape and bytes); identifies the data in files."""
        h = hashlib.sha256()
        h.update(np.asarray(self._Z.shape, dtype=np.int64).tobytes())
        h.update(self._Z.tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"Dataset(n={self.n}, d={self.d})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return np.array_equal(self._X, other._X) and np.array_equal(self._y, other._y)

    __hash__ = None

    def save(self, path):
        """Write X and y atomically to an ``.npz`` file; returns the path written."""
        return atomic_savez(path, {"X": self._X, "y": self._y, "format": np.array("dataset-1")})

    @classmethod
    def load(cls, path, *, check_separable: bool = True) -> Dataset:
        """Read a dataset written by :meth:`save` (validated again)."""
        data = load_npz(path, "dataset", ("X", "y"))
        return cls(data["X"], data["y"], check_separable=check_separable)


load = Dataset.load


def _rng(seed) -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for an integer seed >= 0 or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int("seed", seed, 0))


def _random_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=n)


def gaussian(n: int = 10, d: int = 50, seed=0, *, check_separable: bool = True) -> Dataset:
    """Gaussian data: ``x_i ~ N(0, I_d)`` and labels uniform in {-1, +1}.

    Parameters
    ----------
    n, d : int, default 10, 50
        Samples and features (our defaults; the paper's were lost in extraction). With
        ``n <= d`` the data are separable with probability one; with ``n > d`` they usually
        are not and a ValueError is raised.
    seed : int or numpy.random.Generator, default 0
        Seed of ``numpy.random.default_rng``.
    check_separable : bool, default True
        Passed to :class:`Dataset`.

    Examples
    --------
    >>> ds = gaussian(n=4, d=6, seed=1)
    >>> ds.X.shape
    (4, 6)
    """
    n, d = check_int("n", n, 1), check_int("d", d, 1)
    rng = _rng(seed)
    X = rng.standard_normal((n, d))
    return Dataset(X, _random_labels(rng, n), check_separable=check_separable)


def generalized_rademacher(
    n: int = 10,
    d: int = 50,
    seed=0,
    low: float = 1.0,
    high: float = 2.0,
    *,
    check_separable: bool = True,
) -> Dataset:
    """Generalized Rademacher (GR) data (paper Definition 3.1).

    Every entry of sample i has the same magnitude ``r_i``: ``x_i[k] = r_i * s_ik`` with random
    signs ``s_ik``, ``r_i ~ Uniform[low, high]`` and labels uniform in {-1, +1}. Hence
    ``|z_i[k]|`` is constant over k, which removes Adam's coordinate adaptivity.

    Parameters
    ----------
    n, d : int, default 10, 50
        Samples and features (our defaults).
    seed : int or numpy.random.Generator, default 0
    low, high : float, default 1.0, 2.0
        Range of the per-sample magnitudes, ``0 < low <= high`` (our defaults).
    check_separable : bool, default True
        Passed to :class:`Dataset` (random signs with ``n > d`` are rarely separable).
    """
    n, d = check_int("n", n, 1), check_int("d", d, 1)
    low = check_interval("low", low, 0.0, np.inf, "neither")
    high = check_interval("high", high, low, np.inf, "left")
    rng = _rng(seed)
    r = rng.uniform(low, high, size=n)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n, d))
    return Dataset(r[:, None] * signs, _random_labels(rng, n), check_separable=check_separable)


def shifted_diagonal(a=None, delta: float = 0.1) -> Dataset:
    """Shifted-diagonal data (paper Example 4.11): ``x_i = a_i e_i + delta * 1``, ``y_i = +1``.

    The l_inf max-margin direction is the all-ones vector and the AdamProxy fixed point is
    ``c = e_j`` with ``j = argmin a_i`` (for distinct ``a_i``).

    Parameters
    ----------
    a : array_like of shape (n,), optional
        Distinct positive diagonal entries; ``n = d = len(a)``. Default
        ``linspace(1, 2, 10)`` (ours).
    delta : float, default 0.1
        Positive shift added to every entry (ours).
    """
    a = np.linspace(1.0, 2.0, 10) if a is None else check_finite_array("a", a, ndim=1)
    if np.any(a <= 0):
        raise ValueError(f"a must be positive; got min(a) = {float(a.min())!r}.")
    values, counts = np.unique(a, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(
            f"a must hold distinct values (Example 4.11); {float(values[counts > 1][0])!r} "
            "occurs more than once."
        )
    delta = check_interval("delta", delta, 0.0, np.inf, "neither")
    X = np.diag(a) + delta
    return Dataset(X, np.ones(a.size))

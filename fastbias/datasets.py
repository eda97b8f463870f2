"""Linearly separable datasets: binary :class:`Dataset`, :class:`MulticlassDataset`, generators.

Binary data work on the signed samples ``z_i = y_i x_i``; multiclass data
on the features ``x_i`` and classes ``y_i`` in ``0..k-1``. Both are
immutable, validated once, and know how they were made: data from a generator carry its
recipe (``source``), which checkpoints and sweep tables use to name and rebuild them.
"""

from __future__ import annotations

import hashlib
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._io import MAX_ARRAY_ELEMENTS, ArraySpec, atomic_savez, parse_json, read_npz, text_field
from ._validation import check_finite_array, check_int, check_interval, shown

__all__ = [
    "Dataset",
    "MulticlassDataset",
    "ZeroEntryWarning",
    "gaussian",
    "generalized_rademacher",
    "shifted_diagonal",
    "gaussian_multiclass",
    "load",
    "from_source",
    "is_separable",
    "is_multiclass_separable",
    "Generator",
    "GENERATORS",
    "get_generator",
]

_BINARY_FORMATS = ("fastbias-dataset-1", "dataset-1")  # the second: files of fastbias 0.1
_MULTICLASS_FORMAT = "fastbias-multiclass-dataset-1"


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


def _own_copy(arr: np.ndarray, given) -> np.ndarray:
    """``arr``, copied if it shares memory with the caller's ``given`` (never aliased)."""
    if isinstance(given, np.ndarray) and np.shares_memory(arr, given):
        return arr.copy()
    return arr


def _signed_labels(y: np.ndarray) -> np.ndarray:
    """Map labels to -1/+1: signed numbers stay, two values map by order."""
    values = np.unique(y)
    text = y.dtype.kind in "US"
    if not text and np.all(np.isin(values, (-1.0, 1.0))):
        return y.astype(np.float64)
    if values.size != 2:
        shown = values[:5].tolist() + (["..."] if values.size > 5 else [])
        rule = (
            "text labels y must hold exactly two distinct values"
            if text
            else "y must hold exactly two distinct label values (or only -1/+1)"
        )
        hint = "; for k > 2 classes use fb.MulticlassDataset" if values.size > 2 else ""
        raise ValueError(f"{rule}; got {values.size} distinct values {shown}{hint}.")
    return np.where(y == values[1], 1.0, -1.0)


def _certificate(Z: np.ndarray) -> bool:
    """Cheap proof of separability: the least-norm solution of ``Z w = 1`` has ``Z w > 0``."""
    with np.errstate(all="ignore"):
        scale = np.max(np.abs(Z), axis=1, keepdims=True)
        Zs = Z / scale
        w, *_ = np.linalg.lstsq(Zs, np.ones(Z.shape[0]), rcond=None)
        margins = Zs @ w
    return bool(np.all(np.isfinite(margins)) and np.all(margins > 1e-9 * np.abs(w).sum()))


def is_separable(Z: np.ndarray) -> bool:
    """Whether some w has ``<w, z_i> > 0`` for every row of ``Z``.

    A least-squares certificate decides most cases without a solver (it always succeeds for
    ``n <= d`` rows in general position); otherwise a linear feasibility problem
    ``Z w >= 1`` is solved with SciPy's HiGHS.
    """
    Z = np.asarray(Z, dtype=np.float64)
    scale = np.max(np.abs(Z), axis=1)
    if np.any(scale == 0.0):
        return False  # <w, 0> = 0 is never positive
    if _certificate(Z):
        return True
    # separability does not depend on positive row scales; unit rows keep HiGHS in range
    return _feasible(Z / scale[:, None])


def _feasible(A) -> bool:
    """Whether ``A w >= 1`` has a solution (``A`` dense or sparse, rows of unit max), by HiGHS."""
    from scipy.optimize import linprog

    n, d = A.shape
    res = linprog(np.zeros(d), A_ub=-A, b_ub=-np.ones(n), bounds=[(None, None)] * d, method="highs")
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    raise RuntimeError(f"separability check failed: linprog status {res.status} ({res.message}).")


def _separates(Xs: np.ndarray, y: np.ndarray, W: np.ndarray) -> bool:
    """Whether every margin ``(W[y_i] - W[c]) . x_i`` (rows of ``Xs`` of max 1) is positive.

    The margins are computed in float64; each has a rounding error below ``2 d eps ||W||_1``,
    far below the ``1e-9 ||W||_1`` asked.
    """
    with np.errstate(all="ignore"):
        scores = np.einsum("nd,cd->nc", Xs, W)
        rows = np.arange(y.size)
        true = scores[rows, y].copy()
        scores[rows, y] = -np.inf
        margins = true - scores.max(axis=1)
        bound = 1e-9 * np.abs(W).sum()
    return bool(np.all(np.isfinite(margins)) and np.all(margins > bound))


def _cross_entropy(w: np.ndarray, Xs: np.ndarray, y: np.ndarray, k: int):
    """The cross-entropy of the scores ``Xs W^T`` (``W = w.reshape(k, d)``) and its gradient."""
    W = w.reshape(k, Xs.shape[1])
    scores = np.einsum("nd,cd->nc", Xs, W)
    scores -= scores.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(scores).sum(axis=1, keepdims=True))
    rows = np.arange(y.size)
    loss = float(np.sum(log_total[:, 0] - scores[rows, y]))
    P = np.exp(scores - log_total)
    P[rows, y] -= 1.0
    return loss, np.einsum("nc,nd->cd", P, Xs).ravel()


# The certificates' products are small (n x d by d x k): np.einsum computes them in one
# thread, where a threaded BLAS on busy cores took 10 to 20 times longer (digits: 16 ms
# against 0.9 ms per product, 4.6 s against 0.7 s for the whole check).
# Rounds (of at most this many L-BFGS iterations each) of the cross-entropy certificate.
_CE_ROUNDS, _CE_ITERATIONS = 8, 50


def is_multiclass_separable(X, y, k: int) -> bool:
    """Whether some W has margins ``(W[y_i] - W[c]) x_i > 0`` for every i and c != y_i.

    Cheap certificates decide most separable data without a linear program: the
    least-squares W of the one-hot targets, then up to 400 L-BFGS iterations on the
    cross-entropy from it, stopping at the first W whose margins are all positive (checked
    with a rounding allowance, so a certificate is a proof). Otherwise the linear
    feasibility problem on Kesler's rows (sparse, ``2 d`` nonzeros per row) is solved with
    SciPy's HiGHS. On scikit-learn's digits (1797 x 64, k = 10) the check takes well under a
    second.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Finite features.
    y : ndarray of shape (n,)
        Classes in ``0..k-1``.
    k : int
        Number of classes.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    scale = np.max(np.abs(X), axis=1)
    if np.any(scale == 0.0):
        return False  # a zero sample has every margin 0
    Xs = X / scale[:, None]  # positive row scales do not change separability
    targets = np.zeros((y.size, k))
    targets[np.arange(y.size), y] = 1.0
    # the least-norm least-squares W from the (d, d) normal equations
    gram = np.einsum("nd,ne->de", Xs, Xs)
    W = np.linalg.lstsq(gram, np.einsum("nd,nc->dc", Xs, targets), rcond=None)[0].T
    if _separates(Xs, y, W):
        return True
    from scipy.optimize import minimize

    w = W.ravel()
    for _ in range(_CE_ROUNDS):
        res = minimize(
            _cross_entropy,
            w,
            args=(Xs, y, k),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": _CE_ITERATIONS},
        )
        w = res.x
        if _separates(Xs, y, w.reshape(k, -1)):
            return True
        if res.nit < _CE_ITERATIONS:
            break  # converged short of separation: leave it to the linear program
    from .multiclass_geometry import _constraint_pairs, _kesler_matrix

    return _feasible(_kesler_matrix(Xs, y, k, *_constraint_pairs(y, k)))


def _multiclass_rows(X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Separability of multiclass data as a binary problem on ``vec(W)`` (Kesler's rows).

    Row (i, c) for ``c != y_i`` is ``e_{y_i} (x) x_i - e_c (x) x_i``: ``W`` separates the data
    iff every row has a positive inner product with ``vec(W)``.
    """
    n, d = X.shape
    rows = []
    for c in range(k):
        mask = y != c
        R = np.zeros((int(mask.sum()), k, d))
        R[np.arange(R.shape[0]), y[mask]] = X[mask]
        R[:, c] -= X[mask]
        rows.append(R.reshape(R.shape[0], k * d))
    return np.vstack(rows)


def _row_exponents(M: np.ndarray):
    """Rows of M divided by exact powers of two (max |entry| in [1, 2)), the powers, exponents."""
    top = np.max(np.abs(M), axis=1)
    exponents = np.frexp(top)[1].astype(np.float64) - 1.0
    exponents[top == 0.0] = 0.0
    powers = np.ldexp(1.0, exponents.astype(np.int64))
    return np.ascontiguousarray(M / powers[:, None]), powers, exponents


def _check_rows(X: np.ndarray) -> None:
    row_max = np.max(np.abs(X), axis=1)
    tiny = np.finfo(np.float64).tiny
    subnormal = np.flatnonzero((row_max > 0.0) & (row_max < tiny))
    if subnormal.size:
        raise ValueError(
            f"X has rows whose entries are all subnormal (below {tiny:.3g} in magnitude), "
            f"first row {int(subnormal[0])}; rescale X (the optimizers other than GD are "
            "invariant to a positive scale of the data)."
        )
    zeros = np.argwhere(X == 0.0)
    if zeros.size:
        r, c = zeros[0]
        warnings.warn(
            f"X has {len(zeros)} zero entries (first at row {r}, column {c}); the paper's "
            "Assumption 2.2 (nonzero entries) does not hold. Coordinates without gradient "
            "follow the 0/0 rule (no step).",
            ZeroEntryWarning,
            stacklevel=4,
        )


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {shown(value)}.")
    return bool(value)


def _with_intercept(X: np.ndarray, intercept) -> np.ndarray:
    """``X`` with a constant-1 column appended when ``intercept`` is True."""
    if not _check_flag("intercept", intercept):
        return X
    return np.column_stack([X, np.ones(X.shape[0])])


def _features(given, intercept) -> np.ndarray:
    """The checked features of a dataset (never the caller's array), with the intercept."""
    return _with_intercept(_own_copy(check_finite_array("X", given, ndim=2), given), intercept)


class _Data:
    """What binary and multiclass datasets share: identity, kernel arrays, source."""

    _kind = ""
    multiclass = False

    def _finish(self, source):
        self._source = dict(source) if source else None
        self._fingerprint = None
        self._kernel = None

    @property
    def source(self) -> dict | None:
        """The generator and arguments that made these data (None for user data)."""
        return None if self._source is None else dict(self._source)

    @property
    def label(self) -> str:
        """A readable name: the generator call, or the shape and a fingerprint prefix."""
        if self._source:
            args = ", ".join(f"{k}={v!r}" for k, v in self._source.items() if k != "generator")
            return f"{self._source['generator']}({args})"
        return f"{type(self).__name__}(n={self.n}, d={self.d}) #{self.fingerprint[:12]}"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the kind, shapes and bytes of the data; identifies them in files."""
        if self._fingerprint is None:
            h = hashlib.sha256(self._kind.encode())
            for arr in self._identity_arrays():
                h.update(np.asarray(arr.shape, dtype=np.int64).tobytes())
                h.update(np.ascontiguousarray(arr).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def kernel_arrays(self):
        """``(X2, rowpow, rowexp, labels)`` as the step loops want them (computed once).

        ``X2`` holds the rows the kernels work on (binary: ``Z``; multiclass: ``X``)
        divided by exact powers of two ``rowpow = 2**rowexp`` so that their largest entry is
        in [1, 2); ``labels`` are the classes (zeros for binary data). Read-only.
        """
        if self._kernel is None:
            X2, powers, exponents = _row_exponents(self._rows())
            labels = np.ascontiguousarray(self._classes_of_rows(), dtype=np.int64)
            for arr in (X2, powers, exponents, labels):
                arr.flags.writeable = False
            self._kernel = (X2, powers, exponents, labels)
        return self._kernel

    def __getstate__(self) -> dict:
        # the fingerprint and kernel arrays are recomputed from the arrays themselves
        return {**self.__dict__, "_fingerprint": None, "_kernel": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for arr in self.__dict__.values():
            if isinstance(arr, np.ndarray):
                arr.flags.writeable = False  # pickling drops the flag (copies own their data)

    n = property(lambda self: self._X.shape[0], doc="Number of samples.")
    d = property(lambda self: self._X.shape[1], doc="Number of features.")

    def __repr__(self) -> str:
        return self.label if self._source else f"{type(self).__name__}(n={self.n}, d={self.d})"

    __hash__ = None


class Dataset(_Data):
    """Binary classification data ``(X, y)`` with labels in {-1, +1}.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Finite real features.
    y : array_like of shape (n,)
        Labels. Values already in {-1, +1} are used as they are (a single class is allowed);
        otherwise there must be exactly two distinct values (numbers or strings), the larger
        (for strings: the later in sorted order) mapped to +1.
    intercept : bool, default False
        Append a constant-1 column to X (``d`` counts it; ``X`` holds it, so saved data
        keep it): a bias term, without which data that are separable only by an affine
        boundary (standardized real data, for example) are refused.
    check_separable : bool, default True
        Check that some ``w`` has ``y_i <w, x_i> > 0`` for all i (the paper's Assumption
        2.1) and raise ValueError if not.
    source : dict, optional
        The generator and arguments that made the data (set by the generators of this
        module; used to name the data and to rebuild them from a checkpoint).

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

    _kind = "binary"

    def __init__(
        self,
        X,
        y,
        *,
        intercept: bool = False,
        check_separable: bool = True,
        source: dict | None = None,
    ):
        X = _features(X, intercept)
        y = _label_array(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must have one label per row of X: X has {X.shape[0]} rows, y has {y.shape[0]}."
            )
        y = _signed_labels(y)
        check_separable = _check_flag("check_separable", check_separable)
        Z = y[:, None] * X
        _check_rows(X)
        if check_separable and not is_separable(Z):
            hint = (
                "; with an intercept column they are: pass intercept=True"
                if not intercept and is_separable(_with_intercept(X, True) * y[:, None])
                else ""
            )
            raise ValueError(
                "data are not linearly separable (no w has y_i <w, x_i> > 0 for every i)"
                f"{hint}; pass check_separable=False to run GD-type optimizers anyway."
            )
        for arr in (X, y, Z):
            arr.flags.writeable = False
        self._X, self._y, self._Z = X, y, Z
        self.separability_checked = check_separable
        self._finish(source)

    X = property(lambda self: self._X, doc="Features, shape (n, d), float64, read-only.")
    y = property(lambda self: self._y, doc="Labels in {-1, +1}, shape (n,), read-only.")
    Z = property(lambda self: self._Z, doc="Signed samples z_i = y_i x_i, shape (n, d).")

    def _identity_arrays(self):
        return (self._Z,)

    def _rows(self):
        return self._Z

    def _classes_of_rows(self):
        return np.zeros(self.n, dtype=np.int64)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return np.array_equal(self._X, other._X) and np.array_equal(self._y, other._y)

    def save(self, path):
        """Write X and y atomically to an ``.npz`` file; returns the path written."""
        return atomic_savez(
            path,
            {
                "format": np.array(_BINARY_FORMATS[0]),
                "X": self._X,
                "y": self._y,
                **_source_field(self._source),
            },
        )

    @classmethod
    def load(cls, path, *, check_separable: bool = True) -> Dataset:
        """Read a dataset written by :meth:`save` (validated again).

        Raises
        ------
        FileNotFoundError, ValueError
            For a missing file, or a file that is not a binary fastbias dataset.
        """
        data, source = _read_dataset(path, _BINARY_FORMATS, "y", "fiU")
        return _from_file(cls, path, data, check_separable, source)


class MulticlassDataset(_Data):
    """Multiclass data ``(X, y)`` with k >= 2 classes.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Finite real features.
    y : array_like of shape (n,)
        Labels of any type (numbers or strings) with k >= 2 distinct values; they are sorted
        and mapped to 0..k-1 (``classes[j]`` is the label of class j). k = 2 is allowed and
        is not the binary case: the parameter is a (2, d) matrix.
    intercept : bool, default False
        Append a constant-1 column to X (``d`` counts it), as for :class:`Dataset`.
    check_separable : bool, default True
        Check that some W has ``(W[y_i] - W[c]) . x_i > 0`` for every i and c != y_i (an LP
        unless a cheap certificate settles it) and raise ValueError if not.
    source : dict, optional
        The generator and arguments that made the data.

    Attributes
    ----------
    X : ndarray (n, d), read-only float64
    y : ndarray (n,), read-only int64 classes in 0..k-1
    classes : ndarray (k,)
        The original labels, sorted.
    k, n, d : int

    Examples
    --------
    >>> import fastbias as fb
    >>> mds = fb.MulticlassDataset([[1.0, 0.2], [0.1, 1.0], [-1.0, -1.0]], ["a", "b", "c"])
    >>> mds.k, mds.y.tolist(), mds.classes.tolist()
    (3, [0, 1, 2], ['a', 'b', 'c'])
    """

    _kind = "multiclass"
    multiclass = True

    def __init__(
        self,
        X,
        y,
        *,
        intercept: bool = False,
        check_separable: bool = True,
        source: dict | None = None,
    ):
        X = _features(X, intercept)
        labels = _label_array(y)
        if labels.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must have one label per row of X: X has {X.shape[0]} rows, "
                f"y has {labels.shape[0]}."
            )
        classes, codes = np.unique(labels, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"y must hold at least 2 distinct labels; got {classes.tolist()}.")
        check_separable = _check_flag("check_separable", check_separable)
        codes = codes.astype(np.int64).reshape(-1)
        _check_rows(X)
        if check_separable and not is_multiclass_separable(X, codes, classes.size):
            hint = (
                "; with an intercept column they are: pass intercept=True"
                if not intercept
                and is_multiclass_separable(_with_intercept(X, True), codes, classes.size)
                else ""
            )
            raise ValueError(
                "data are not linearly separable (no W has (W[y_i] - W[c]) . x_i > 0 for every "
                f"i and c != y_i){hint}; pass check_separable=False to run anyway."
            )
        for arr in (X, codes, classes):
            arr.flags.writeable = False
        self._X, self._y, self._classes = X, codes, classes
        self.separability_checked = check_separable
        self._finish(source)

    X = property(lambda self: self._X, doc="Features, shape (n, d), float64, read-only.")
    y = property(lambda self: self._y, doc="Classes in 0..k-1, shape (n,), int64, read-only.")
    classes = property(lambda self: self._classes, doc="The original labels, sorted, shape (k,).")
    k = property(lambda self: self._classes.size, doc="Number of classes.")

    def _identity_arrays(self):
        return (self._X, self._y, np.array([self.k]))

    def _rows(self):
        return self._X

    def _classes_of_rows(self):
        return self._y

    def __repr__(self) -> str:
        if self._source:
            return self.label
        return f"MulticlassDataset(n={self.n}, d={self.d}, k={self.k})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, MulticlassDataset):
            return NotImplemented
        return (
            np.array_equal(self._X, other._X)
            and np.array_equal(self._y, other._y)
            and np.array_equal(self._classes, other._classes)
        )

    def kesler_rows(self) -> np.ndarray:
        """Kesler's rows: ``vec(e_{y_i} x_i^T - e_c x_i^T)`` for every i and c != y_i.

        Shape (n (k - 1), k d), with ``vec`` row-major (``W.reshape(-1)``), so that
        ``kesler_rows() @ W.reshape(-1)`` are the margins ``(W[y_i] - W[c]) . x_i``: a
        multiclass problem on W with an entrywise norm is a binary problem on ``vec(W)``
        with these rows as signed samples.

        Examples
        --------
        >>> import numpy as np
        >>> import fastbias as fb
        >>> mds = fb.MulticlassDataset([[1.0, 0.2], [0.1, 1.0], [-1.0, -1.0]], [0, 1, 2])
        >>> W = np.arange(6.0).reshape(3, 2)
        >>> rows = mds.kesler_rows()
        >>> rows.shape, bool(np.isclose((rows @ W.reshape(-1)).min(), mds.margins(W).min()))
        ((6, 6), True)
        """
        return _multiclass_rows(self._X, self._y, self.k)

    def margins(self, W) -> np.ndarray:
        """``min_{c != y_i} (W[y_i] - W[c]) . x_i`` per sample; W (k, d) or a stack (r, k, d)."""
        W = np.asarray(W, dtype=np.float64)
        scores = np.einsum("...cd,nd->...nc", W, self._X)
        true = np.take_along_axis(
            scores, np.broadcast_to(self._y[:, None], scores.shape[:-1] + (1,)), axis=-1
        )
        other = scores.copy()
        np.put_along_axis(
            other, np.broadcast_to(self._y[:, None], other.shape[:-1] + (1,)), -np.inf, axis=-1
        )
        return true[..., 0] - other.max(axis=-1)

    def save(self, path):
        """Write X, the classes and the original labels atomically to an ``.npz`` file."""
        return atomic_savez(
            path,
            {
                "format": np.array(_MULTICLASS_FORMAT),
                "X": self._X,
                "y": self._classes[self._y],
                **_source_field(self._source),
            },
        )

    @classmethod
    def load(cls, path, *, check_separable: bool = True) -> MulticlassDataset:
        """Read a multiclass dataset written by :meth:`save` (validated again)."""
        data, source = _read_dataset(path, (_MULTICLASS_FORMAT,), "y", "fiuU")
        return _from_file(cls, path, data, check_separable, source)


def _source_field(source) -> dict:
    import json

    return {} if not source else {"source": np.array(json.dumps(source))}  # keeps the order


def _read_dataset(path, formats, label_key, label_kinds):
    """The arrays and the source of a dataset file of one of ``formats``."""
    data = read_npz(
        path,
        "dataset",
        {
            "format": ArraySpec("U", 0, 1),
            "X": ArraySpec("fiub", 2),
            label_key: ArraySpec(label_kinds, 1),
        },
        optional={"source": ArraySpec("U", 0, 1)},
    )
    tag = text_field(data["format"], "format", path)
    if tag not in formats:
        other = (
            "binary"
            if tag in _BINARY_FORMATS
            else "multiclass"
            if tag == _MULTICLASS_FORMAT
            else None
        )
        hint = f" (it holds {other} data: use fb.datasets.load)" if other else ""
        raise ValueError(
            f"dataset file {str(path)!r} has format {tag!r}; expected one of {list(formats)}{hint}."
        )
    source = parse_json(data["source"], "source", path) if "source" in data else None
    return data, source


def _from_file(cls, path, data, check_separable, source):
    """The dataset of a file's arrays; a ValueError that names the file if they are invalid."""
    _check_flag("check_separable", check_separable)  # the caller's argument: its own TypeError
    try:
        out = cls(data["X"], data["y"], check_separable=check_separable, source=source)
        if source is not None and from_source(source, check_separable=False) != out:
            raise ValueError(f"its recipe {source!r} does not reproduce its arrays")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"dataset file {str(path)!r}: {exc}") from None
    return out


def load(path, *, check_separable: bool = True):
    """Read a dataset file of either kind (:class:`Dataset` or :class:`MulticlassDataset`)."""
    data = read_npz(path, "dataset", {"format": ArraySpec("U", 0, 1)})
    tag = text_field(data["format"], "format", path)
    cls = MulticlassDataset if tag == _MULTICLASS_FORMAT else Dataset
    return cls.load(path, check_separable=check_separable)


def _rng(seed) -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for an integer seed >= 0."""
    return np.random.default_rng(check_int("seed", seed, 0))


def _random_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=n)


def gaussian(n: int = 10, d: int = 50, seed: int = 0, *, check_separable: bool = True) -> Dataset:
    """Gaussian data: ``x_i ~ N(0, I_d)`` and labels uniform in {-1, +1}.

    Parameters
    ----------
    n, d : int, default 10, 50
        Samples and features (our defaults; the paper's were lost in extraction). With
        ``n <= d`` the data are separable with probability one; with ``n > d`` they usually
        are not and a ValueError is raised.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.
    check_separable : bool, default True
        Passed to :class:`Dataset`.

    Examples
    --------
    >>> ds = gaussian(n=4, d=6, seed=1)
    >>> ds.X.shape, ds.label
    ((4, 6), 'gaussian(n=4, d=6, seed=1)')
    """
    n, d, seed = check_int("n", n, 1), check_int("d", d, 1), check_int("seed", seed, 0)
    rng = _rng(seed)
    X = rng.standard_normal((n, d))
    return Dataset(
        X,
        _random_labels(rng, n),
        check_separable=check_separable,
        source={"generator": "gaussian", "n": n, "d": d, "seed": seed},
    )


def generalized_rademacher(
    n: int = 10,
    d: int = 50,
    seed: int = 0,
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
    seed : int, default 0
    low, high : float, default 1.0, 2.0
        Range of the per-sample magnitudes, ``0 < low <= high`` (our defaults).
    check_separable : bool, default True
        Passed to :class:`Dataset` (random signs with ``n > d`` are rarely separable).

    Examples
    --------
    >>> ds = generalized_rademacher(n=3, d=8, seed=0)
    >>> bool(np.all(np.abs(ds.Z) == np.abs(ds.Z[:, :1])))
    True
    """
    n, d, seed = check_int("n", n, 1), check_int("d", d, 1), check_int("seed", seed, 0)
    low = check_interval("low", low, 0.0, np.inf, "neither")
    high = check_interval("high", high, low, np.inf, "left")
    rng = _rng(seed)
    r = rng.uniform(low, high, size=n)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n, d))
    return Dataset(
        r[:, None] * signs,
        _random_labels(rng, n),
        check_separable=check_separable,
        source={
            "generator": "generalized_rademacher",
            "n": n,
            "d": d,
            "seed": seed,
            "low": low,
            "high": high,
        },
    )


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

    Examples
    --------
    >>> shifted_diagonal([1.0, 2.0], delta=0.5).X.tolist()
    [[1.5, 0.5], [0.5, 2.5]]
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
    return Dataset(
        X,
        np.ones(a.size),
        source={"generator": "shifted_diagonal", "a": a.tolist(), "delta": delta},
    )


def gaussian_multiclass(
    n: int = 30, d: int = 50, k: int = 3, seed: int = 0, *, check_separable: bool = True
) -> MulticlassDataset:
    """Multiclass Gaussian data: ``x_i ~ N(0, I_d)``, classes uniform in 0..k-1, all present.

    Parameters
    ----------
    n, d, k : int, default 30, 50, 3
        Samples (n >= k), features and classes (k >= 2); the defaults are ours. With
        ``n <= d`` the data are separable with probability one.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: the classes are a random permutation of
        ``0..k-1`` followed by n - k uniform draws, shuffled.
    check_separable : bool, default True
        Passed to :class:`MulticlassDataset`.

    Examples
    --------
    >>> mds = gaussian_multiclass(n=6, d=8, k=3, seed=0)
    >>> mds.k, sorted(set(mds.y.tolist()))
    (3, [0, 1, 2])
    """
    n, d, k = check_int("n", n, 1), check_int("d", d, 1), check_int("k", k, 2)
    seed = check_int("seed", seed, 0)
    if n < k:
        raise ValueError(f"n must be at least k = {k} so that every class is present; got {n}.")
    rng = _rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.permutation(np.concatenate([np.arange(k), rng.integers(0, k, size=n - k)]))
    return MulticlassDataset(
        X,
        y,
        check_separable=check_separable,
        source={"generator": "gaussian_multiclass", "n": n, "d": d, "k": k, "seed": seed},
    )


@dataclass(frozen=True)
class Generator:
    """One data generator of the table :data:`GENERATORS`.

    Attributes
    ----------
    name : str
        The function's name, as data recipes (``Dataset.source``) store it.
    function : callable
        The generator of this module.
    cli : str
        The command-line name (``fastbias run --data <cli>``).
    title : str
        A short name for summaries and plots.
    multiclass : bool
        Whether it makes multiclass data.
    options : tuple of (str, str)
        Command-line options it takes: ``(option, argument of the function)``; the options
        are ``n``, ``d``, ``k``, ``data_seed`` and ``delta``.
    """

    name: str
    function: Callable
    cli: str
    title: str
    multiclass: bool
    options: tuple

    def default(self, argument: str):
        """The default of one of the function's arguments.

        ``n`` of shifted-diagonal data is the length of its default ``a``.
        """
        if self.name == "shifted_diagonal" and argument == "n":
            return 10
        return inspect.signature(self.function).parameters[argument].default

    def from_options(self, **values):
        """Make the data from command-line option values (None: the default)."""
        kwargs = {
            arg: (values.get(opt) if values.get(opt) is not None else self.default(arg))
            for opt, arg in self.options
        }
        if self.name == "shifted_diagonal":
            return shifted_diagonal(np.linspace(1.0, 2.0, kwargs["n"]), delta=kwargs["delta"])
        check = {k: v for k, v in values.items() if k == "check_separable"}
        return self.function(**kwargs, **check)


#: The data generators, by function name (what recipes store); each knows its command-line
#: name and options.
GENERATORS = {
    gen.name: gen
    for gen in (
        Generator(
            "gaussian",
            gaussian,
            "gaussian",
            "Gaussian",
            False,
            (("n", "n"), ("d", "d"), ("data_seed", "seed")),
        ),
        Generator(
            "generalized_rademacher",
            generalized_rademacher,
            "gr",
            "GR",
            False,
            (("n", "n"), ("d", "d"), ("data_seed", "seed")),
        ),
        Generator(
            "shifted_diagonal",
            shifted_diagonal,
            "shifted-diagonal",
            "shifted diagonal",
            False,
            (("n", "n"), ("delta", "delta")),
        ),
        Generator(
            "gaussian_multiclass",
            gaussian_multiclass,
            "gaussian-multiclass",
            "multiclass Gaussian",
            True,
            (("n", "n"), ("d", "d"), ("k", "k"), ("data_seed", "seed")),
        ),
    )
}


def get_generator(name: str) -> Generator:
    """A generator by function name or command-line name (``"gr"``, ``"shifted-diagonal"``)."""
    for gen in GENERATORS.values():
        if name in (gen.name, gen.cli):
            return gen
    raise ValueError(
        f"data generator must be one of {sorted(GENERATORS)} (command line: "
        f"{[g.cli for g in GENERATORS.values()]}); got {shown(name)}."
    )


def _check_recipe_size(source: dict, args: dict) -> None:
    """Refuse a recipe whose arrays would exceed the limit of arrays read from files."""
    sizes = [args.get(key, 1) for key in ("n", "d")]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
        elements = sizes[0] * sizes[1]
        if elements > MAX_ARRAY_ELEMENTS:
            raise ValueError(
                f"data source {source!r} would make {elements:,} elements (n * d), more than "
                f"the limit {MAX_ARRAY_ELEMENTS:,} of arrays read from files; refused before "
                "any array is made."
            )


def from_source(source: dict, *, check_separable: bool = True):
    """Rebuild generated data from their :attr:`Dataset.source` recipe.

    Raises
    ------
    ValueError
        If the recipe names no generator of this module or has invalid arguments.
    """
    if not isinstance(source, dict) or source.get("generator") not in GENERATORS:
        raise ValueError(
            f"source must name one of the generators {sorted(GENERATORS)}; got {shown(source)}."
        )
    args = {k: v for k, v in source.items() if k != "generator"}
    _check_recipe_size(source, args)
    factory = GENERATORS[source["generator"]].function
    try:
        if source["generator"] == "shifted_diagonal":
            return factory(**args)
        return factory(**args, check_separable=check_separable)
    except TypeError as exc:
        raise ValueError(f"invalid data source {source!r}: {exc}") from None

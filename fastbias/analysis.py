"""What a researcher asks of a run: gaps, rates, which geometry explains it, tidy tables.

Per record (SPEC 12): the normalized margin ``gamma(w) = min margin / ||w||`` in a norm, the
**margin gap** ``1 - gamma(w_t) / gamma*`` and the **direction gap** ``1 - cos(w_t, w*)``
(:data:`METRICS`, :func:`metric_values`); **rate fits** of a gap against t on the tail of a
run (:func:`fit_rate`); **which geometry** explains an iterate, among the candidate limit
directions and over every l_p (:func:`identify`); and the records as a pandas DataFrame
(:func:`trajectory_frame`; pandas is imported only there). :class:`~fastbias.Trajectory`
methods (``margin_gap``, ``direction_gap``, ``fit_rate``, ``to_frame``, ``plot``) call these.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ._validation import check_finite_array, check_interval, check_option, check_real, shown
from .datasets import Dataset, MulticlassDataset
from .geometry import cosine, fixed_point, margin_ratio, max_margin, normalized_margin
from .norms import MATRIX_NORMS, check_matrix_norm, check_norm, check_p, norm_values, summary_norms
from .solvers import SolverError
from .theory import adam_metric
from .trajectory import Trajectory

__all__ = [
    "METRICS",
    "Metric",
    "RateFit",
    "fit_rate",
    "fit_trajectory_rate",
    "Identification",
    "identify",
    "direction_gap",
    "metric_values",
    "import_pandas",
    "trajectory_frame",
]


# --------------------------------------------------------------------------------------------
# Metrics per record
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A quantity computed at every record of a run from a reference direction.

    Attributes
    ----------
    name : str
        Its name (``"cosine"``, ``"margin_gap"``), as :func:`metric_values` takes it.
    label : str
        In words, for axes and tables.
    needs_norm : bool
        Whether it is a margin quantity, which needs a norm and ``gamma*`` (a max-margin
        result as reference, or ``norm=`` with the value ``gamma*``).
    gap : bool
        Whether it falls to 0 at convergence (plots draw it on a log axis).
    """

    name: str
    label: str
    needs_norm: bool
    gap: bool


#: The metrics of :func:`metric_values`, ``Trajectory.to_frame`` and the plots.
METRICS = {
    metric.name: metric
    for metric in (
        Metric("cosine", "cosine similarity", False, False),
        Metric("margin_ratio", "gamma(w) / gamma*", True, False),
        Metric("margin_gap", "1 - gamma(w) / gamma*", True, True),
        Metric("direction_gap", "1 - cos(w, w*)", False, True),
    )
}


def _reference_norm(ref, norm, multiclass: bool):
    """The norm of a margin metric: ``norm``, or the one a max-margin result was solved in."""
    result_norm = getattr(ref, "norm", getattr(ref, "p", None)) if hasattr(ref, "margin") else None
    if norm is None:
        if result_norm is None:
            raise ValueError(
                "a margin metric needs a norm: give a max-margin result (fastbias.max_margin) as "
                f"the reference, or norm= with the value gamma*; got the reference {shown(ref)}."
            )
        norm = result_norm
    return check_norm(norm, multiclass)


def _unit_rows(W: np.ndarray) -> np.ndarray:
    """Rows of W divided by their Euclidean norm, without over- or underflow (0 rows: NaN)."""
    top = np.max(np.abs(W), axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = W / np.where(top > 0, top, np.nan)
        return scaled / np.linalg.norm(scaled, axis=-1, keepdims=True)


def direction_gap(w, u) -> np.ndarray | float:
    """Direction gap ``1 - cos(w, u)`` of one iterate or a stack of them (NaN at w = 0).

    Computed as ``||w / ||w|| - u / ||u|| ||^2 / 2``, which equals ``1 - cos`` and keeps its
    relative accuracy when the gap is tiny (``1 - cos`` computed from the cosine loses all
    digits below 1e-16). Matrices (multiclass iterates) are compared entrywise (Frobenius).

    Parameters
    ----------
    w : array_like
        One iterate, or a stack of iterates along the first axis.
    u : array_like or result with ``.w``
        The reference direction (a :func:`fastbias.max_margin` or :func:`fastbias.fixed_point`
        result, or an array of the shape of one iterate).

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> direction_gap([1.0, 1e-9], [1.0, 0.0])
    5e-19
    """
    u = np.asarray(getattr(u, "w", u), dtype=np.float64)
    W = np.asarray(w, dtype=np.float64)
    one = W.shape == u.shape
    W = W[None] if one else W
    if W.shape[1:] != u.shape:
        raise ValueError(f"u must have the shape of one iterate, {W.shape[1:]}; got {u.shape}.")
    u = check_finite_array("u", u.reshape(-1), ndim=1)
    un = _unit_rows(u[None])[0]
    if not np.all(np.isfinite(un)):
        raise ValueError("u must be a nonzero direction; got all zeros.")
    Wn = _unit_rows(W.reshape(W.shape[0], -1))
    out = 0.5 * np.sum((Wn - un) ** 2, axis=1)
    return float(out[0]) if one else out


def metric_values(tr, metric: str, ref, norm=None) -> np.ndarray:
    """One metric of :data:`METRICS` at every record of a trajectory.

    Parameters
    ----------
    tr : Trajectory
    metric : {"cosine", "margin_ratio", "margin_gap", "direction_gap"}
    ref : result or array_like
        The reference. For ``"cosine"`` and ``"direction_gap"`` a direction (a max-margin or
        fixed-point result, or an array of the shape of one iterate). For the margin metrics
        a max-margin result (its norm is used), or ``gamma*`` as a number with ``norm``.
    norm : float or str, optional
        The norm of the margin metrics (p in [1, inf] for binary data, a matrix norm name for
        multiclass data); default the reference's. Not for the direction metrics.

    Returns
    -------
    ndarray of shape (records,)
    """
    metric = check_option("metric", metric, METRICS)
    if METRICS[metric].needs_norm:
        norm = _reference_norm(ref, norm, tr.multiclass)
        ratio = tr.margin_ratio(norm, ref)
        return ratio if metric == "margin_ratio" else 1.0 - ratio
    if norm is not None:
        raise TypeError(f"norm is for the margin metrics; {metric!r} takes only the reference.")
    return tr.cosine(ref) if metric == "cosine" else direction_gap(tr.w, ref)


# --------------------------------------------------------------------------------------------
# Rate fits
# --------------------------------------------------------------------------------------------

# model -> (what the regressor is, the smallest t it is defined above)
_MODELS = {"power": ("log t", 0.0), "log": ("log log t", 1.0)}


@dataclass(frozen=True, eq=False)
class RateFit:
    """A least-squares fit of ``gap ~ C t^-a`` or ``gap ~ C (log t)^-a`` (from :func:`fit_rate`).

    Attributes
    ----------
    model : str
        ``"power"`` (``log gap`` against ``log t``) or ``"log"`` (against ``log log t``).
    exponent : float
        The rate ``a``: minus the slope of the fit.
    constant : float
        ``C``: ``exp`` of the intercept.
    ci : (float, float)
        The ``level`` confidence interval of ``a`` (Student's t with ``n_used - 2`` degrees of
        freedom: exact when the residuals of ``log gap`` are independent and Gaussian).
    stderr : float
        Standard error of ``a``.
    r2 : float
        Coefficient of determination of the fit in log space (NaN when every gap is equal).
    window : (float, float)
        The smallest and largest t actually used.
    n_used : int
        Records fitted.
    n_dropped : int
        Records in the window left out: gap <= 0 or not finite, or t at or below the model's
        domain (t <= 1 for ``"log"``, t <= 0 for ``"power"``).
    level : float
        The confidence level of ``ci``.
    """

    model: str
    exponent: float
    constant: float
    ci: tuple
    stderr: float
    r2: float
    window: tuple
    n_used: int
    n_dropped: int
    level: float

    def predict(self, t) -> np.ndarray:
        """The fitted gap at ``t`` (``C t^-a`` or ``C (log t)^-a``)."""
        t = np.asarray(t, dtype=np.float64)
        base = t if self.model == "power" else np.log(t)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.constant * base ** (-self.exponent)

    def __repr__(self) -> str:
        law = "t" if self.model == "power" else "(log t)"
        lo, hi = self.ci
        return (
            f"RateFit(gap ~ {self.constant:.4g} {law}^-a, a = {self.exponent:.4g} "
            f"[{lo:.4g}, {hi:.4g}] ({self.level:.0%}), r2 = {self.r2:.4f}, window = "
            f"[{self.window[0]:g}, {self.window[1]:g}], n_used = {self.n_used}, "
            f"n_dropped = {self.n_dropped})"
        )


def _window(t: np.ndarray, tail) -> tuple[float, float]:
    """``(t_min, t_max)`` of the fit: given, or ``tail`` decades back from the largest t."""
    if isinstance(tail, (tuple, list)):
        if len(tail) != 2:
            raise ValueError(
                f"tail must be a number of decades or (t_min, t_max); got {shown(tail)}."
            )
        lo, hi = check_real("tail[0]", tail[0]), check_real("tail[1]", tail[1])
        if not lo <= hi:
            raise ValueError(f"tail must have t_min <= t_max; got {shown(tail)}.")
        return lo, hi
    decades = check_interval("tail", tail, 0.0, math.inf, "neither")
    hi = float(np.max(t))
    return hi / 10.0**decades, hi


def fit_rate(t, gap, model: str = "power", tail=2, *, level: float = 0.95) -> RateFit:
    """Fit the rate at which a gap closes, by least squares on the tail of the run.

    The window is chosen first: ``tail=(t_min, t_max)``, or ``tail`` decades counted back from
    the largest t. The records in it with a gap <= 0 or not finite, or with t <= 1 for the
    ``"log"`` model (t <= 0 for ``"power"``), are then dropped and counted; ``log gap`` is
    regressed on ``log t`` (``gap ~ C t^-a``) or on ``log log t`` (``gap ~ C (log t)^-a``) by
    ordinary least squares.

    Parameters
    ----------
    t : array_like of shape (r,)
        Finite times (epochs or steps).
    gap : array_like of shape (r,)
        The gap at those times (a margin or direction gap; NaN and inf are allowed, and
        dropped).
    model : {"power", "log"}, default "power"
    tail : float or (float, float), default 2
        Decades back from the largest t (a number > 0), or the window ``(t_min, t_max)``.
    level : float, default 0.95
        Confidence level of the interval of the exponent, in (0, 1).

    Returns
    -------
    RateFit
        ``exponent``, ``constant``, ``ci``, ``stderr``, ``r2``, ``window``, ``n_used``,
        ``n_dropped``; ``predict(t)`` gives the fitted curve.

    Raises
    ------
    TypeError, ValueError
        For arrays of other shapes or lengths, an unknown model, a bad ``tail`` or ``level``;
        ValueError when fewer than 3 records remain, or they share one t (nothing to fit).

    Notes
    -----
    SPEC 12. The interval is Student's t with ``n - 2`` degrees of freedom around the
    least-squares slope: it has its nominal coverage when the residuals of ``log gap`` are
    independent and Gaussian. Along one run they are neither (the deviation from a power law
    is smooth, not noise), so read the interval as the spread the fit leaves, and look at
    ``r2`` and at the window. A margin gap is only as accurate as ``gamma*``: gaps below the
    solver's relative accuracy (``1 - margin / margin_upper`` of the max-margin result, about
    1e-10) are noise.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.logspace(1, 5, 21)
    >>> fit = fit_rate(t, 3.0 * t ** -0.5)
    >>> round(fit.exponent, 12), round(fit.constant, 12), fit.window, fit.n_used
    (0.5, 3.0, (1000.0, 100000.0), 11)
    """
    t = check_finite_array("t", t, ndim=1)
    gap = np.asarray(gap, dtype=np.float64)
    if gap.shape != t.shape:
        raise ValueError(f"gap must have the shape of t, {t.shape}; got {gap.shape}.")
    model = check_option("model", model, _MODELS)
    level = check_interval("level", level, 0.0, 1.0, "neither")
    lo, hi = _window(t, tail)
    inside = (t >= lo) & (t <= hi)
    regressor, t_floor = _MODELS[model]
    with np.errstate(invalid="ignore"):
        used = inside & np.isfinite(gap) & (gap > 0) & (t > t_floor)
    n_used = int(used.sum())
    n_dropped = int(inside.sum()) - n_used
    if n_used < 3:
        raise ValueError(
            f"fit_rate needs at least 3 records with a positive finite gap (and t > {t_floor:g}) "
            f"in the window [{lo:g}, {hi:g}]; got {n_used} ({int(inside.sum())} in the window, "
            f"{n_dropped} dropped). Widen tail or run longer."
        )
    tt = t[used]
    x = np.log(tt) if model == "power" else np.log(np.log(tt))
    y = np.log(gap[used])
    dx, dy = x - x.mean(), y - y.mean()
    sxx = float(dx @ dx)
    if not sxx > 0:
        raise ValueError(
            f"fit_rate needs records at two distinct t at least; all {n_used} are at t = {tt[0]:g}."
        )
    slope = float(dx @ dy) / sxx
    intercept = float(y.mean() - slope * x.mean())
    residual = dy - slope * dx
    ssr, sst = float(residual @ residual), float(dy @ dy)
    dof = n_used - 2
    stderr = math.sqrt(ssr / dof / sxx)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2.0, dof)) * stderr
    exponent = -slope
    return RateFit(
        model=model,
        exponent=exponent,
        constant=math.exp(intercept),
        ci=(exponent - half, exponent + half),
        stderr=stderr,
        r2=1.0 - ssr / sst if sst > 0 else math.nan,
        window=(float(tt.min()), float(tt.max())),
        n_used=n_used,
        n_dropped=n_dropped,
        level=level,
    )


#: The quantities ``Trajectory.fit_rate`` fits.
RATE_QUANTITIES = ("margin_gap", "direction_gap")


def fit_trajectory_rate(
    tr, quantity: str, norm=None, ref=None, model: str = "power", tail=2
) -> RateFit:
    """:func:`fit_rate` of a trajectory's margin or direction gap against its epochs.

    ``quantity`` is ``"margin_gap"`` (``ref`` a max-margin result, or ``gamma*`` with
    ``norm``) or ``"direction_gap"`` (``ref`` a direction or a result with one; no norm).
    """
    quantity = check_option("quantity", quantity, RATE_QUANTITIES)
    if ref is None:
        raise TypeError(f"fit_rate({quantity!r}) needs ref, the reference solution.")
    values = metric_values(tr, quantity, ref, norm)
    return fit_rate(tr.epochs, values, model=model, tail=tail)


# --------------------------------------------------------------------------------------------
# Which geometry explains a run
# --------------------------------------------------------------------------------------------

#: The candidate limit directions of :func:`identify`, by kind of data (multiclass: the
#: matrix norms the max-margin solvers know, in this order).
BINARY_CANDIDATES = ("l1", "l1.5", "l2", "l3", "linf", "fixed_point")
MULTICLASS_CANDIDATES = tuple(
    name for name in ("max", "fro", "spectral", "nuclear", "l1") if name in MATRIX_NORMS
)

# The search of the best p runs on 1/p = j / _STEPS, j = 0 .. _STEPS: first every
# _COARSE-th j, then a golden-section search on the integers within _COARSE of the best.
_STEPS = 100
_COARSE = 10
_GOLDEN = (3.0 - math.sqrt(5.0)) / 2.0
# The entrywise l_p norm of the matrix norms of multiclass candidates (for the grid of p).
_ENTRYWISE_P = {"max": math.inf, "fro": 2.0, "l1": 1.0}


class _Solutions:
    """Max-margin solutions and fixed points per dataset (by content) and norm, shared.

    A bounded least-recently-used store: searches over p on the same data (the records of a
    run, several runs) solve each problem once.
    """

    def __init__(self, size: int = 512):
        self._size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, solve):
        """``(result, solved)``: the stored result of ``key``, or ``solve()`` stored."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key], False
        result = solve()
        with self._lock:
            self._items[key] = result
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return result, True


_SOLUTIONS = _Solutions()


def shared_max_margin(data, norm):
    """``max_margin(data, norm)``, solved once per data content and norm in this process.

    ``norm`` is an l_p exponent (binary data) or a matrix norm name (multiclass data); the
    store is the one :func:`identify` uses.
    """
    key = "norm" if data.multiclass else "p"
    solve = functools.partial(max_margin, data, **{key: norm})
    return _SOLUTIONS.get((data.fingerprint, "mm", norm), solve)[0]


def _p_of(j: int) -> float:
    return math.inf if j == 0 else _STEPS / j


def _p_text(p: float) -> str:
    return "inf" if p == math.inf else f"{p:.4g}"


def _scaled(w: np.ndarray) -> np.ndarray:
    """``w / max |w|``: the same direction, with entries in [-1, 1] (any p, no overflow)."""
    return w / np.max(np.abs(w))


@dataclass(frozen=True, eq=False)
class Identification:
    """Which geometry explains an iterate (returned by :func:`identify`).

    Attributes
    ----------
    table : list of dict
        One row per candidate limit direction, ``{"name", "cosine", "margin_ratio"}``, the
        largest margin ratio first (the l_1, l_inf and max-norm solutions may be non-unique:
        a ratio near 1 means the iterate attains that max margin, whatever its cosine with
        the solution found). The ratio of ``"fixed_point"`` is in the norm
        ``sqrt(w^T M(c*) w)``, in which the fixed point is the max-margin direction.
    best_p : float
        The p in [1, inf] maximizing ``gamma_p(w) / gamma_p*`` (entrywise l_p for matrices),
        to within 0.01 in 1/p.
    best_ratio : float
        ``gamma_p(w) / gamma_p*`` at ``best_p``.
    best : str
        The geometry with the largest margin ratio: ``"l<best_p>"`` (``"l2"``, ``"linf"``,
        ``"l2.041"``), or the top candidate of the table where its ratio is larger (the fixed
        point, the spectral or nuclear norm; or an l_p candidate off the grid of p), or a
        candidate whose p is within one step (0.01) of ``1/best_p``, which the search cannot
        tell apart from it (``"linf"`` for best p = 100).
    ratio : float
        The margin ratio of ``best``.
    decided : bool
        Whether the ratio of ``best`` is at least ``1 - tol``: the iterate attains that max
        margin up to ``tol``. If not, the run is too short, or it goes to a geometry that is
        not among the candidates.
    tol : float
    profile : tuple of (float, float)
        ``(p, gamma_p(w) / gamma_p*)`` at every p the search evaluated, by increasing 1/p.
    solves : int
        Problems solved by this call; the others came from the store of solutions kept per
        dataset and norm.
    notes : tuple of str
        Problems that could not be solved (left out of the table or the search).
    """

    table: list
    best_p: float
    best_ratio: float
    best: str
    ratio: float
    decided: bool
    tol: float
    profile: tuple
    solves: int
    notes: tuple = ()

    @property
    def verdict(self) -> str:
        """The answer in words."""
        p = _p_text(self.best_p)
        lp = f"best p = {p} (1/p = {1.0 / self.best_p:.2f}), margin ratio {self.best_ratio:.6f}"
        if not self.decided:
            text = (
                f"undecided: no candidate is attained yet; the closest is {self.best!r} with "
                f"margin ratio {self.ratio:.4f} < 1 - tol = {1.0 - self.tol:g} ({lp})"
            )
        elif self.best == _lp_name(self.best_p):
            text = f"l_{p} max margin: {lp}"
        else:
            text = f"{self.best!r}: margin ratio {self.ratio:.6f} (on the grid of p: {lp})"
        if self.notes:
            text += f"; {len(self.notes)} problem(s) could not be solved (see notes)"
        return text

    def to_frame(self):
        """The table as a pandas DataFrame (columns name, cosine, margin_ratio)."""
        return import_pandas().DataFrame(self.table, columns=["name", "cosine", "margin_ratio"])

    def __repr__(self) -> str:
        return f"Identification({self.verdict})"


def _lp_name(p: float) -> str:
    return "linf" if p == math.inf else f"l{p:.4g}"


def _check_data(data):
    if isinstance(data, (Dataset, MulticlassDataset)):
        return data
    if isinstance(data, (np.ndarray, list, tuple)):
        Z = check_finite_array("data", data, ndim=2)
        return Dataset(Z, np.ones(Z.shape[0]))
    raise TypeError(
        "data must be a fastbias.Dataset, a fastbias.MulticlassDataset or an (n, d) array of "
        f"signed samples; got {type(data).__name__}."
    )


def _check_iterate(data, w) -> np.ndarray:

    if isinstance(w, Trajectory):
        w = w.final_w
    shape = (data.k, data.d) if data.multiclass else (data.d,)
    w = check_finite_array("w", w, ndim=len(shape))
    if w.shape != shape:
        raise ValueError(f"w must have shape {shape} for these data; got {w.shape}.")
    if not np.any(w):
        raise ValueError("w must be a nonzero iterate; got all zeros.")
    return w


def _on_grid_next_to(name: str, j: int, multiclass: bool) -> bool:
    """Whether the candidate's p is within one step of the grid of 1/p of ``p = 1/(j/_STEPS)``.

    (The best p is found to that resolution: p = 100 and p = inf are not told apart.)
    """
    if name == "fixed_point" or (multiclass and name not in _ENTRYWISE_P):
        return False
    p = _ENTRYWISE_P[name] if multiclass else _binary_p(name)
    return abs(_STEPS / p - j) <= 1.0 + 1e-9


def _binary_p(name: str) -> float:
    """The p of a binary candidate name ``"l<p>"`` (``"l2"``, ``"l1.5"``, ``"linf"``)."""
    if name.startswith("l") and name not in ("linf", "l_inf"):
        try:
            value = float(name[1:])
        except ValueError:
            value = None
        if value is not None:
            return check_interval(f"the p of candidate {name!r}", value, 1.0, math.inf, "both")
    try:
        return check_p(name)
    except (TypeError, ValueError):
        raise ValueError(
            f"candidates must name l_p max margins (as 'l2', 'l1.5', 'linf') or 'fixed_point' "
            f"for binary data; got {shown(name)}."
        ) from None


def _check_candidates(candidates, multiclass: bool) -> tuple:
    if candidates is None:
        return MULTICLASS_CANDIDATES if multiclass else BINARY_CANDIDATES
    if isinstance(candidates, str) or not all(isinstance(c, str) for c in candidates):
        raise TypeError(f"candidates must be a list of names; got {shown(candidates)}.")
    names = tuple(dict.fromkeys(candidates))
    for name in names:
        if multiclass:
            check_matrix_norm(name)
        elif name != "fixed_point":
            _binary_p(name)
    return names


def identify(data, w, candidates=None, *, tol: float = 0.05) -> Identification:
    """Which geometry explains an iterate: candidate limit directions and the best l_p.

    Parameters
    ----------
    data : Dataset, MulticlassDataset or array_like of shape (n, d)
        The run's data (or the signed samples of binary data as rows).
    w : array_like or Trajectory
        The iterate ((d,) binary, (k, d) multiclass), or a trajectory (its final iterate).
    candidates : list of str, optional
        The limit directions of the table. Default for binary data ``"l1"``, ``"l1.5"``,
        ``"l2"``, ``"l3"``, ``"linf"`` (any ``"l<p>"`` with p >= 1 is accepted) and
        ``"fixed_point"`` (AdamProxy's, paper Algorithm 3); for multiclass data the
        max-margin matrices of the matrix norms ``"max"``, ``"fro"``, ``"spectral"``,
        ``"nuclear"`` (where the solvers know it) and ``"l1"``.
    tol : float, default 0.05
        ``decided`` means that the margin ratio of ``best`` (the best l_p, or a better
        candidate of the table) is at least ``1 - tol``; in (0, 1). The default is ours.

    Returns
    -------
    Identification
        ``table`` (name, cosine, margin ratio; best ratio first), ``best_p``,
        ``best_ratio``, ``best``, ``ratio``, ``decided``, ``verdict``, ``profile``,
        ``solves``, ``to_frame()``.

    Raises
    ------
    TypeError, ValueError
        For data or an iterate of the wrong kind or shape, a zero or non-finite iterate, an
        unknown candidate, or non-separable data.

    Notes
    -----
    SPEC 12. The best p maximizes ``gamma_p(w) / gamma_p*`` with ``gamma_p(w) = min margin /
    ||w||_p`` (entrywise for matrices: the multiclass problem with an entrywise norm is the
    binary one on ``vec(W)`` with Kesler's rows, :meth:`MulticlassDataset.kesler_rows`). It is
    searched on the grid 1/p = 0, 0.01, ..., 1: first at 1/p = 0, 0.1, ..., 1, then by
    golden-section search on the grid within 0.1 of the best of those (the ratio is
    unimodal in 1/p on the runs we measured, and flat near its maximum: the search stops on
    1/p, not on the ratio). Every solution is kept per dataset (by content) and norm: on
    Gaussian 10 x 50 data the first call solves 19 problems (the table's six and the
    search's), the next ones on the same data 0 to 5 (``solves``). Full-batch steepest
    descent in the l_p norm converges in direction to the l_p max margin (Gunasekar et al.
    2018): SignGD names inf, normalized GD names 2 once they have converged (1e3 epochs on
    Gaussian 10 x 50 data).

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.shifted_diagonal([1.0, 2.0, 3.0], delta=0.1)
    >>> found = identify(ds, [1.0, 1.0, 1.0], candidates=["l2", "linf"])
    >>> found.best_p, round(found.best_ratio, 6), found.decided, found.table[0]["name"]
    (inf, 1.0, True, 'linf')
    """
    data = _check_data(data)
    w = _check_iterate(data, w)
    names = _check_candidates(candidates, data.multiclass)
    tol = check_interval("tol", tol, 0.0, 1.0, "neither")
    solves = 0
    notes = []

    def solution(key, solve):
        """The stored solution of ``key`` for these data, or None (with a note) if it fails."""
        nonlocal solves
        try:
            result, solved = _SOLUTIONS.get((data.fingerprint, *key), solve)
        except SolverError as exc:
            notes.append(f"{key[-1]!r}: {exc}")
            return None
        solves += solved
        return result

    table = [row for row in (_candidate_row(data, w, name, solution) for name in names) if row]
    table.sort(key=lambda row: -row["margin_ratio"])
    j, values = _best_p(data, w, solution)
    if not math.isfinite(values[j]):
        raise ValueError(f"no l_p max-margin problem could be solved: {'; '.join(notes)}")
    best, ratio = _lp_name(_p_of(j)), values[j]
    near = [row for row in table if _on_grid_next_to(row["name"], j, data.multiclass)]
    if table and table[0]["margin_ratio"] > ratio:
        best, ratio = table[0]["name"], table[0]["margin_ratio"]
    elif near:  # the search's resolution cannot tell them apart: name the candidate
        best, ratio = near[0]["name"], near[0]["margin_ratio"]
    return Identification(
        table=table,
        best_p=_p_of(j),
        best_ratio=values[j],
        best=best,
        ratio=ratio,
        decided=ratio >= 1.0 - tol,
        tol=tol,
        profile=tuple((_p_of(i), values[i]) for i in sorted(values) if math.isfinite(values[i])),
        solves=solves,
        notes=tuple(notes),
    )


def _best_p(data, w, solution) -> tuple[int, dict]:
    """The j of the best p = 1 / (j / _STEPS), and the ratio at every j evaluated.

    Binary data: the l_p problems of ``data`` (stored under ``("mm", p)``, shared with the
    table). Multiclass: the entrywise l_p problems, binary on ``vec(W)`` with Kesler's rows.
    """
    if data.multiclass:  # not stored: cheap to build, and large for large data
        problem, kind, v = data.kesler_rows(), "entrywise", w.reshape(-1)
    else:
        problem, kind, v = data, "mm", w
    v = _scaled(v)
    values: dict[int, float] = {}

    def ratio(j: int) -> float:
        if j not in values:
            p = _p_of(j)
            mm = solution((kind, p), lambda: max_margin(problem, p=p))
            values[j] = -math.inf if mm is None else normalized_margin(problem, v, p) / mm.margin
        return values[j]

    start = max(range(0, _STEPS + 1, _COARSE), key=ratio)
    lo, hi = max(0, start - _COARSE), min(_STEPS, start + _COARSE)
    while hi - lo > 3:  # golden-section search for the maximum on the integers lo..hi
        step = round(_GOLDEN * (hi - lo))
        a, b = lo + step, hi - step
        if a >= b:
            b = a + 1
        if ratio(a) >= ratio(b):
            hi = b
        else:
            lo = a
    return max(range(lo, hi + 1), key=ratio), values


def _candidate_row(data, w, name: str, solution) -> dict | None:
    """``{"name", "cosine", "margin_ratio"}`` of one candidate (None if it has no solution)."""
    ws = _scaled(w)
    if name == "fixed_point":
        fp = solution(("fixed_point",), lambda: fixed_point(data))
        if fp is None:
            return None
        root = np.sqrt(adam_metric(data, fp.c))

        def gamma(v):
            return np.min(data.Z @ v) / np.linalg.norm(root * v)

        ratio = float(gamma(ws) / gamma(_scaled(np.asarray(fp.w))))
        ref = fp.w
    else:
        key = "norm" if data.multiclass else "p"
        norm = name if data.multiclass else _binary_p(name)
        mm = solution(("mm", norm), lambda: max_margin(data, **{key: norm}))
        if mm is None:
            return None
        ratio = float(margin_ratio(data, ws, gamma_star=mm, **{key: norm}))
        ref = mm.w
    return {
        "name": name,
        "cosine": float(cosine(w.reshape(-1), np.asarray(ref).reshape(-1))),
        "margin_ratio": ratio,
    }


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def import_pandas():
    """pandas, imported when a table is first asked for (it is slow to import)."""
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is a core dependency
        raise ImportError(
            "tables as DataFrames need pandas; install it with `pip install pandas`."
        ) from None
    return pandas


def trajectory_frame(tr, references=None, metrics=None, label=None):
    """The records of a run as a pandas DataFrame, one row per record.

    Parameters
    ----------
    tr : Trajectory
    references : dict of str to reference, optional
        Named references (``{"l2": fb.max_margin(ds, p=2), "fp": fb.fixed_point(ds)}``); each
        adds the columns ``<metric>_<name>`` for ``metrics``. The margin metrics are given for
        max-margin results only (they carry their norm); a fixed point or a plain direction
        gets the direction metrics.
    metrics : sequence of str, optional
        Names in :data:`METRICS`. Default ``("cosine", "margin_ratio")``. The margin metrics
        are given for the max-margin references only; one asked for by name while no
        reference is a max-margin result is a ValueError.
    label : str, optional
        A first column ``run`` with this value (to stack the frames of several runs).

    Returns
    -------
    pandas.DataFrame
        Columns ``epoch``, ``log_loss``, ``min_margin``, ``norm_<key>`` (binary: ``l2``,
        ``linf``; multiclass: ``max``, ``fro``, ``spectral``), then the metrics.
    """
    asked = metrics is not None
    if metrics is None:
        metrics = ("cosine", "margin_ratio")
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = [check_option("metrics", m, METRICS) for m in metrics]
    references = {} if references is None else references
    if not isinstance(references, Mapping):
        raise TypeError(
            f"references must be a dict of names to references; got {shown(references)}."
        )
    columns: dict = {} if label is None else {"run": [label] * len(tr.epochs)}
    columns.update(epoch=tr.epochs, log_loss=tr.log_loss, min_margin=tr.min_margin)
    for norm in summary_norms(tr.multiclass):
        columns[f"norm_{norm.key}"] = norm_values(tr.w, norm.value, tr.multiclass)
    for name, ref in references.items():
        for metric in metrics:
            if METRICS[metric].needs_norm and not hasattr(ref, "margin"):
                continue
            columns[f"{metric}_{name}"] = metric_values(tr, metric, ref)
    unmade = [
        m for m in metrics if references and not any(f"{m}_{n}" in columns for n in references)
    ]
    if asked and unmade:
        raise ValueError(
            f"metrics: {unmade[0]!r} needs a max-margin reference (one carries its norm and "
            f"gamma*), and none of the references {sorted(references)} is one."
        )
    return import_pandas().DataFrame(columns)

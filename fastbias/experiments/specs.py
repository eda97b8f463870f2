"""What an experiment is made of: data recipes, curves, panels, checks and figure specs.

These are small immutable descriptions; :mod:`fastbias.experiments.figures` builds the
registry from them, :mod:`fastbias.experiments.runner` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .. import datasets
from ..losses import get_loss
from ..models import Model
from ..norms import NORMS
from ..optimizers import Optimizer
from ..plotting import X_AXES as PLOT_X_AXES
from ..schedules import PolynomialDecay, Schedule

__all__ = [
    "Check",
    "Crossing",
    "Curve",
    "DataSpec",
    "Fit",
    "FigureSpec",
    "GAP_METRICS",
    "METRICS",
    "OPS",
    "PAPER_LR",
    "Panel",
    "REFERENCES",
    "X_AXES",
    "ReferenceKind",
    "short_label",
]


@dataclass(frozen=True)
class ReferenceKind:
    """A reference direction a panel can compare with.

    Attributes
    ----------
    label : str
        How plots and tables name it.
    norm : float, str or None
        The norm of its max-margin problem (an l_p exponent for binary data, a matrix norm
        name for multiclass data); None for the AdamProxy fixed point.
    multiclass : bool
        Whether it belongs to multiclass data.
    short : str
        A short column name (``"l_2"``, ``"max"``).
    """

    label: str
    norm: object
    multiclass: bool
    short: str


def _reference_key(norm) -> str:
    """The norm's key (``"l1-matrix"`` for the entrywise l_1 norm of matrices)."""
    return f"{norm.key}-matrix" if norm.multiclass and norm.key == "l1" else norm.key


#: Reference directions, by name.
REFERENCES = {
    "fixed_point": ReferenceKind("fixed point (Alg. 3)", None, False, "fixed pt"),
    # the max-margin direction of every named norm of fastbias.norms
    **{
        _reference_key(norm): ReferenceKind(
            f"{norm.label} max-margin", norm.value, norm.multiclass, norm.short
        )
        for norm in NORMS
    },
}
#: Metrics a panel can show: name -> axis label.
METRICS = {
    "cosine": "cosine similarity",
    "margin_ratio": "normalized-margin ratio",
    "margin_gap": "margin gap 1 - gamma(w) / gamma*",
    "direction_gap": "direction gap 1 - cos(w, w*)",
    "decay_norm": "||w|| x weight decay",
}
#: Metrics that fall to 0 at convergence (drawn on a log axis, and fitted by rates).
GAP_METRICS = ("margin_gap", "direction_gap")
_METRIC_SHORT = {
    "cosine": "cos",
    "margin_ratio": "ratio",
    "margin_gap": "gap",
    "direction_gap": "dir gap",
    "decay_norm": "norm x wd",
}


def short_label(reference: str, metric: str) -> str:
    """A column name such as ``"cos l_2"`` or ``"ratio spectral"``."""
    return f"{_METRIC_SHORT[metric]} {REFERENCES[reference].short}"


#: The learning-rate schedule of the paper's Adam and Signum runs: the default of
#: :class:`fastbias.PolynomialDecay` (eta0 = 0.1 and the power 0.5 are ours; the paper's values
#: were lost).
PAPER_LR = PolynomialDecay()


@dataclass(frozen=True)
class DataSpec:
    """A recipe for a dataset: a generator name and its keyword arguments (hashable).

    Parameters
    ----------
    kind : str
        A generator of :data:`fastbias.datasets.GENERATORS`, by function name or command-line
        name (``"gaussian"``, ``"gr"``, ``"shifted_diagonal"``, ``"gaussian_multiclass"``).
    params : tuple of (str, value) pairs, default ()
        Keyword arguments of the generator; use :meth:`of` to build it from keywords.

    Examples
    --------
    >>> spec = DataSpec.of("gaussian", n=4, d=6, seed=1)
    >>> spec.make().X.shape
    (4, 6)
    """

    kind: str
    params: tuple = ()

    def __post_init__(self):
        datasets.get_generator(self.kind)

    @property
    def generator(self) -> datasets.Generator:
        """The generator of :data:`fastbias.datasets.GENERATORS` that makes the data."""
        return datasets.get_generator(self.kind)

    @classmethod
    def of(cls, kind: str, **params) -> DataSpec:
        """Build a spec from keyword arguments (sequences are stored as tuples)."""
        items = tuple(
            sorted(
                (k, tuple(v) if isinstance(v, (list, np.ndarray)) else v) for k, v in params.items()
            )
        )
        return cls(kind, items)

    @property
    def multiclass(self) -> bool:
        """Whether the recipe makes multiclass data."""
        return self.generator.multiclass

    def make(self):
        """Generate the dataset (cached per process: the same spec gives the same object)."""
        return _make_dataset(self)

    def describe(self) -> str:
        """A short description such as ``"Gaussian n=10, d=50, seed=0"``."""
        p = dict(self.params)
        gen = self.generator
        if gen.name == "shifted_diagonal":
            a = p.get("a")
            a_text = "a=linspace(1, 2, 10)" if a is None else f"a={list(a)}"
            return f"{gen.title} {a_text}, delta={p.get('delta', gen.default('delta'))}"
        names = ["n", "d", "k", "seed"] if gen.multiclass else ["n", "d", "seed"]
        return f"{gen.title} " + ", ".join(f"{x}={p.get(x, gen.default(x))}" for x in names)


@lru_cache(maxsize=32)
def _make_dataset(spec: DataSpec):
    params = {k: (np.asarray(v) if isinstance(v, tuple) else v) for k, v in spec.params}
    return spec.generator.function(**params)


@dataclass(frozen=True)
class Curve:
    """One run of :func:`fastbias.simulate`, drawn as one line.

    Parameters
    ----------
    label : str
        Legend label, unique within a figure.
    data : DataSpec
    optimizer : Optimizer
    lr : Schedule, default ``PolynomialDecay(0.1, 0.5)``
    seed : int, default 0
        Seed of the sample orders (reshuffle, replacement).
    loss : str, optional
        Default "exp" for binary data, "ce" for multiclass data.
    legend : str, optional
        Shorter label for the legend of a panel whose title already says the rest (for
        example ``"beta=0.9"`` in the panel "batch size 2"); default ``label``.
    model : Model, optional
        A model beyond the linear one (``fb.DiagonalNet(...)``); default the linear model.
    """

    label: str
    data: DataSpec
    optimizer: Optimizer
    lr: Schedule = PAPER_LR
    seed: int = 0
    loss: str | None = None
    legend: str = ""
    model: Model | None = None

    def __post_init__(self):
        if self.loss is None:
            object.__setattr__(self, "loss", "ce" if self.data.multiclass else "exp")
        get_loss(self.loss, self.data.multiclass)

    @property
    def legend_label(self) -> str:
        """The label shown in legends: ``legend`` if given, else ``label``."""
        return self.legend or self.label

    @property
    def run_key(self) -> tuple:
        """Everything the run depends on except the horizon (curves sharing it run once)."""
        return (self.data, self.optimizer, self.lr, self.seed, self.loss, self.model)


@dataclass(frozen=True)
class Panel:
    """Curves compared with one reference direction through one metric.

    Parameters
    ----------
    reference : str
        A key of :data:`REFERENCES`: "l2", "linf", "fixed_point" (binary data); "max",
        "fro", "spectral" (multiclass data).
    metric : {"cosine", "margin_ratio", "margin_gap", "direction_gap", "decay_norm"}
        Cosine similarity; ``gamma(w) / gamma*`` (the right comparison where the max-margin
        solution may be non-unique); or the reference's norm of the iterate times the
        curve's weight decay (AdamW: 1 on the boundary ``||w|| = 1 / weight_decay``).
    curves : tuple of Curve
    title : str, optional
        Panel title; default from the reference and the metric.
    """

    reference: str
    metric: str
    curves: tuple
    title: str = ""

    def __post_init__(self):
        if self.reference not in REFERENCES:
            raise ValueError(
                f"reference must be one of {sorted(REFERENCES)}; got {self.reference!r}."
            )
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}; got {self.metric!r}.")
        kind = REFERENCES[self.reference]
        if self.metric not in ("cosine", "direction_gap") and kind.norm is None:
            raise ValueError(
                f"metric {self.metric!r} needs a max-margin reference; got {self.reference!r}."
            )
        object.__setattr__(self, "curves", tuple(self.curves))
        for curve in self.curves:
            if curve.data.multiclass != kind.multiclass:
                raise ValueError(
                    f"curve {curve.label!r}: reference {self.reference!r} is for "
                    f"{'multiclass' if kind.multiclass else 'binary'} data."
                )
        if not self.title:
            what = {
                "cosine": "cosine with",
                "margin_ratio": "margin ratio,",
                "margin_gap": "margin gap,",
                "direction_gap": "direction gap,",
                "decay_norm": "norm x weight decay,",
            }[self.metric]
            object.__setattr__(self, "title", f"{what} {kind.label}")


#: Comparison operators of checks.
OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class Check:
    """A qualitative claim tested on final values, e.g. ``cos l_inf > cos l_2``.

    Parameters
    ----------
    text : str
        The claim in words.
    left : tuple (curve label, reference, metric)
    op : {">", ">=", "<", "<="}
    right : tuple (curve label, reference, metric) or float
        Another final value, or a threshold.
    """

    text: str
    left: tuple
    op: str
    right: object

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"op must be one of {sorted(OPS)}; got {self.op!r}.")


@dataclass(frozen=True)
class Fit:
    """A rate fitted to the tail of one series (:func:`fastbias.fit_rate`).

    Parameters
    ----------
    curve : str
        Label of the curve.
    reference : str
    metric : {"margin_gap", "direction_gap"}
    model : {"power", "log"}
        ``gap ~ C t^-a`` or ``gap ~ C (log t)^-a``.
    theory : str
        What the literature predicts, in words (shown beside the fit).
    tail : float or (float, float), default 2
        The window: decades back from the horizon, or ``(t_min, t_max)``.
    """

    curve: str
    reference: str
    metric: str
    model: str
    theory: str
    tail: object = 2

    def __post_init__(self):
        if self.metric not in GAP_METRICS:
            raise ValueError(f"metric must be one of {GAP_METRICS}; got {self.metric!r}.")
        if self.model not in ("power", "log"):
            raise ValueError(f"model must be 'power' or 'log'; got {self.model!r}.")


@dataclass(frozen=True)
class Crossing:
    """Where one series of a curve first rises above another (reported, not checked).

    Parameters
    ----------
    curve : str
        Label of the curve.
    first, second : (reference, metric)
        The two series, e.g. ``("l1", "cosine")`` and ``("l2", "cosine")``: the summary
        gives the first record (on the figure's x axis) at which ``first > second``.
    """

    curve: str
    first: tuple
    second: tuple


#: What the x axis of an experiment can be: name -> axis label (those of the plots).
X_AXES = {name: label for name, (label, _) in PLOT_X_AXES.items()}


@dataclass(frozen=True)
class FigureSpec:
    """One experiment: panels of curves, horizons, the claim and its checks.

    Attributes
    ----------
    name : str
        ``"fig1"`` ... ``"fig10"`` (the paper's), or the name of an experiment beyond it
        (``"eps"``, ``"adamw"``, ``"mc-adam"``, ...).
    title : str
        What the figure shows, in a few words.
    setting : str
        Data, optimizer defaults, schedule and loss, in one line.
    claim : str
        The claim the figure tests (the paper's, or the literature's for the others).
    panels : tuple of Panel
    epochs : int
        Horizon of the full reproduction.
    quick_epochs : int
        Horizon of ``--quick`` (a figure in well under a minute).
    checks : tuple of Check
        The claim as comparisons of final values (reported as visible or not).
    fits : tuple of Fit
        Rates fitted to the tails of gap series (reported with their intervals).
    notes : str
        Which settings are ours rather than the paper's.
    x : {"epoch", "neg_log_loss"}, default "epoch"
        The x axis of the panels: epochs, or the training loss ``-log L`` (runs of
        loss-normalized GD follow gradient flow, whose path is indexed by the loss).
    records : int, optional
        Record this many epochs evenly spaced from 0 to the horizon (where ``-log L``
        grows geometrically in epochs); default 20 per decade of epochs.
    crossings : tuple of Crossing
        Where one series first rises above another, reported in the summary.
    """

    name: str
    title: str
    setting: str
    claim: str
    panels: tuple
    epochs: int
    quick_epochs: int
    checks: tuple = ()
    notes: str = ""
    fits: tuple = ()
    x: str = "epoch"
    records: int | None = None
    crossings: tuple = ()

    def __post_init__(self):
        if self.x not in X_AXES:
            raise ValueError(f"x must be one of {sorted(X_AXES)}; got {self.x!r}.")
        if self.records is not None and (not isinstance(self.records, int) or self.records < 2):
            raise ValueError(f"records must be an integer >= 2 or None; got {self.records!r}.")

    @property
    def curves(self) -> tuple:
        """The distinct curves of all panels, in order of first appearance."""
        seen: dict[str, Curve] = {}
        for panel in self.panels:
            for curve in panel.curves:
                if curve.label in seen and seen[curve.label] != curve:
                    raise ValueError(
                        f"{self.name}: two different curves are labelled {curve.label!r}."
                    )
                seen.setdefault(curve.label, curve)
        return tuple(seen.values())

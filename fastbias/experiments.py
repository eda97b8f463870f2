"""The paper's ten experiments as data: one registry from which every figure is produced.

Each figure is a :class:`FigureSpec`: a few panels, each comparing some curves (one run of
:func:`fastbias.simulate` per curve) with one reference direction (the l_2 or l_inf
max-margin solution, or the AdamProxy fixed point of Algorithm 3) through one metric (cosine
similarity or normalized-margin ratio), plus the paper's claim and a few checks of it on the
final values. :func:`run_figures` runs every distinct curve once (in worker processes if
asked), solves the reference problems and returns :class:`FigureResult` objects that hold
arrays only; :mod:`fastbias.plotting` draws them and the ``fastbias reproduce`` command writes
the files.

The paper's exact data sizes, seeds and some hyperparameter grids were lost in extraction;
the defaults below are ours and every figure says which (``FigureSpec.notes``).
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import datasets
from ._validation import check_int
from .datasets import Dataset
from .optimizers import AdamProxy, DetAdam, IncAdam, IncSignum, Optimizer
from .schedules import PolynomialDecay, Schedule
from .losses import BINARY_LOSSES as LOSSES
from .simulate import simulate, warmup
from .trajectory import Trajectory

__all__ = [
    "Check",
    "Curve",
    "DataSpec",
    "FIGURES",
    "FigureResult",
    "FigureSpec",
    "METRICS",
    "Panel",
    "REFERENCES",
    "Reference",
    "Series",
    "figure_names",
    "get_figure",
    "run_figure",
    "run_figures",
]

#: Reference directions a panel can compare with, and how they are named in plots and tables.
REFERENCES = {
    "l2": "l_2 max-margin",
    "linf": "l_inf max-margin",
    "fixed_point": "fixed point (Alg. 3)",
}
#: Metrics a panel can show.
METRICS = {"cosine": "cosine similarity", "margin_ratio": "normalized-margin ratio"}
_NORMS = {"l2": 2.0, "linf": math.inf}
_SHORT = {
    ("l2", "cosine"): "cos l_2",
    ("linf", "cosine"): "cos l_inf",
    ("fixed_point", "cosine"): "cos fixed pt",
    ("l2", "margin_ratio"): "ratio l_2",
    ("linf", "margin_ratio"): "ratio l_inf",
}

#: The learning-rate schedule of the paper's Adam and Signum runs; eta0 = 0.1 and the power
#: 0.5 are ours (the paper's values were lost).
PAPER_LR = PolynomialDecay(eta0=0.1, power=0.5)

_DATA_FACTORIES: dict[str, Callable[..., Dataset]] = {
    "gaussian": datasets.gaussian,
    "gr": datasets.generalized_rademacher,
    "shifted_diagonal": datasets.shifted_diagonal,
}
_DATA_NAMES = {"gaussian": "Gaussian", "gr": "GR", "shifted_diagonal": "shifted diagonal"}


# --------------------------------------------------------------------------------------------
# Specifications
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSpec:
    """A recipe for a dataset: a generator name and its keyword arguments (hashable).

    Parameters
    ----------
    kind : {"gaussian", "gr", "shifted_diagonal"}
        :func:`fastbias.datasets.gaussian`, :func:`~fastbias.datasets.generalized_rademacher`
        or :func:`~fastbias.datasets.shifted_diagonal`.
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
        if self.kind not in _DATA_FACTORIES:
            raise ValueError(
                f"kind must be one of {sorted(_DATA_FACTORIES)}; got {self.kind!r}."
            )

    @classmethod
    def of(cls, kind: str, **params) -> DataSpec:
        """Build a spec from keyword arguments (sequences are stored as tuples)."""
        items = tuple(
            sorted((k, tuple(v) if isinstance(v, (list, np.ndarray)) else v)
                   for k, v in params.items())
        )
        return cls(kind, items)

    def make(self) -> Dataset:
        """Generate the dataset (cached per process: the same spec gives the same object)."""
        return _make_dataset(self)

    def describe(self) -> str:
        """A short description such as ``"Gaussian n=10, d=50, seed=0"``."""
        p = dict(self.params)
        if self.kind == "shifted_diagonal":
            a = p.get("a")
            a_text = "a=linspace(1, 2, 10)" if a is None else f"a={list(a)}"
            return f"shifted diagonal {a_text}, delta={p.get('delta', 0.1)}"
        parts = [f"n={p.get('n', 10)}", f"d={p.get('d', 50)}", f"seed={p.get('seed', 0)}"]
        return f"{_DATA_NAMES[self.kind]} " + ", ".join(parts)


@lru_cache(maxsize=32)
def _make_dataset(spec: DataSpec) -> Dataset:
    params = {k: (np.asarray(v) if isinstance(v, tuple) else v) for k, v in spec.params}
    return _DATA_FACTORIES[spec.kind](**params)


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
    loss : {"exp", "logistic"}, default "exp"
    legend : str, optional
        Shorter label for the legend of a panel whose title already says the rest (for
        example ``"beta=0.9"`` in the panel "batch size 2"); default ``label``.
    """

    label: str
    data: DataSpec
    optimizer: Optimizer
    lr: Schedule = PAPER_LR
    seed: int = 0
    loss: str = "exp"
    legend: str = ""

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}; got {self.loss!r}.")

    @property
    def legend_label(self) -> str:
        """The label shown in legends: ``legend`` if given, else ``label``."""
        return self.legend or self.label

    @property
    def run_key(self) -> tuple:
        """Everything the run depends on except the horizon (curves sharing it run once)."""
        return (self.data, self.optimizer, self.lr, self.seed, self.loss)


@dataclass(frozen=True)
class Panel:
    """Curves compared with one reference direction through one metric.

    Parameters
    ----------
    reference : {"l2", "linf", "fixed_point"}
        The l_2 or l_inf max-margin direction, or the AdamProxy fixed point (Algorithm 3).
    metric : {"cosine", "margin_ratio"}
        Cosine similarity, or ``gamma_p(w) / gamma_p*`` (only for "l2" and "linf"); the
        ratio is the right comparison where the max-margin solution may be non-unique.
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
        if self.metric == "margin_ratio" and self.reference not in _NORMS:
            raise ValueError(
                f"metric 'margin_ratio' needs a max-margin reference ('l2' or 'linf'); "
                f"got {self.reference!r}."
            )
        object.__setattr__(self, "curves", tuple(self.curves))
        if not self.title:
            what = "cosine with" if self.metric == "cosine" else "margin ratio,"
            object.__setattr__(self, "title", f"{what} {REFERENCES[self.reference]}")


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
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {sorted(_OPS)}; got {self.op!r}.")


_OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class FigureSpec:
    """One of the paper's figures: panels of curves, horizons, the claim and its checks.

    Attributes
    ----------
    name : str
        ``"fig1"`` ... ``"fig10"``.
    title : str
        What the figure shows, in a few words.
    setting : str
        Data, optimizer defaults, schedule and loss, in one line.
    claim : str
        The paper's claim the figure supports.
    panels : tuple of Panel
    epochs : int
        Horizon of the full reproduction.
    quick_epochs : int
        Horizon of ``--quick`` (a figure in well under a minute).
    checks : tuple of Check
        The claim as comparisons of final values (reported as visible or not).
    notes : str
        Which settings are ours rather than the paper's.
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

    @property
    def curves(self) -> tuple:
        """The distinct curves of all panels, in order of first appearance."""
        seen: dict[str, Curve] = {}
        for panel in self.panels:
            for curve in panel.curves:
                if curve.label in seen and seen[curve.label] != curve:
                    raise ValueError(f"{self.name}: two different curves are labelled "
                                     f"{curve.label!r}.")
                seen.setdefault(curve.label, curve)
        return tuple(seen.values())


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------

GAUSSIAN = DataSpec.of("gaussian", n=10, d=50, seed=0)
GR = DataSpec.of("gr", n=10, d=50, seed=0)
SHIFTED = DataSpec.of("shifted_diagonal")

_ADAM_SETTING = "Adam (b1, b2) = (0.9, 0.999), no epsilon"
_LR_SETTING = "eta_t = 0.1 (t + 2)^-0.5, exp loss, w0 = 0"
_OURS = "n = 10, d = 50, data seed 0, eta0 = 0.1, power 0.5"
_FULL = 10**7


def _adam_b1_variants(data: DataSpec, full_batch: bool) -> list[Curve]:
    curves = [Curve("Det-Adam (full batch)", data, DetAdam())] if full_batch else []
    curves += [
        Curve("Inc-Adam b=1 (cyclic)", data, IncAdam()),
        Curve("Adam b=1 (reshuffle)", data, IncAdam(sampling="reshuffle")),
        Curve("Adam b=1 (replacement)", data, IncAdam(sampling="replacement")),
    ]
    return curves


def _fig1() -> FigureSpec:
    curves = tuple(_adam_b1_variants(GAUSSIAN, full_batch=True))
    det, *minibatch = (c.label for c in curves)
    checks = [Check(f"{det}: cos l_inf > cos l_2", (det, "linf", "cosine"), ">",
                    (det, "l2", "cosine"))]
    checks += [Check(f"{lab}: cos l_2 > cos l_inf", (lab, "l2", "cosine"), ">",
                     (lab, "linf", "cosine")) for lab in minibatch]
    # the l_inf solution may be non-unique: the margin ratio does not depend on which one
    checks += [Check(f"l_inf margin ratio: {det} > {lab}", (det, "linf", "margin_ratio"), ">",
                     (lab, "linf", "margin_ratio")) for lab in minibatch]
    return FigureSpec(
        name="fig1",
        title="Gaussian data: full-batch Adam vs per-sample Adam (b = 1)",
        setting=f"{GAUSSIAN.describe()}; {_ADAM_SETTING}; {_LR_SETTING}",
        claim=("Full-batch Adam converges to the l_inf max-margin direction; mini-batch Adam "
               "with batch size 1 does not, and ends closer to the l_2 max-margin direction."),
        panels=(Panel("l2", "cosine", curves), Panel("linf", "cosine", curves),
                Panel("linf", "margin_ratio", curves)),
        epochs=_FULL,
        quick_epochs=10**6,  # Det-Adam's cos l_inf overtakes its cos l_2 after ~2e5 epochs
        checks=tuple(checks),
        notes=_OURS + ".",
    )


def _fig2() -> FigureSpec:
    curves = tuple(_adam_b1_variants(GR, full_batch=True))
    det, *minibatch = (c.label for c in curves)
    checks = [Check(f"{det}: cos l_inf > cos l_2", (det, "linf", "cosine"), ">",
                    (det, "l2", "cosine"))]
    checks += [Check(f"{lab}: cos l_2 >= 0.99", (lab, "l2", "cosine"), ">=", 0.99)
               for lab in minibatch]
    return FigureSpec(
        name="fig2",
        title="GR data: per-sample Adam (b = 1) converges to the l_2 max-margin direction",
        setting=f"{GR.describe()}, r_i ~ U[1, 2]; {_ADAM_SETTING}; {_LR_SETTING}",
        claim=("On generalized Rademacher data Inc-Adam converges in direction to the l_2 "
               "max-margin solution (Theorem 3.3), unlike full-batch Adam (l_inf)."),
        panels=(Panel("l2", "cosine", curves), Panel("linf", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=tuple(checks),
        notes=_OURS + ", r_i ~ Uniform[1, 2].",
    )


def _fig3() -> FigureSpec:
    curves = (Curve("AdamProxy", GAUSSIAN, AdamProxy()),
              *_adam_b1_variants(GAUSSIAN, full_batch=False))
    checks = tuple(Check(f"{c.label}: cos fixed point >= 0.99",
                         (c.label, "fixed_point", "cosine"), ">=", 0.99) for c in curves)
    return FigureSpec(
        name="fig3",
        title="Gaussian data: AdamProxy and Adam b = 1 go to the fixed point of Algorithm 3",
        setting=f"{GAUSSIAN.describe()}; {_ADAM_SETTING}; {_LR_SETTING}",
        claim=("AdamProxy and mini-batch Adam with b = 1 converge to the direction predicted "
               "by the fixed point of Algorithm 3 (Theorem 4.8), which differs from both the "
               "l_2 and the l_inf max-margin directions."),
        panels=(Panel("fixed_point", "cosine", curves), Panel("l2", "cosine", curves),
                Panel("linf", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; fixed point with tol = 1e-8 from c0 = 1/n.",
    )


def _fig4() -> FigureSpec:
    curves = (Curve("AdamProxy", SHIFTED, AdamProxy()),
              *_adam_b1_variants(SHIFTED, full_batch=False))
    checks = []
    for c in curves:
        checks.append(Check(f"{c.label}: l_inf margin ratio > l_2 margin ratio",
                            (c.label, "linf", "margin_ratio"), ">",
                            (c.label, "l2", "margin_ratio")))
        checks.append(Check(f"{c.label}: l_inf margin ratio >= 0.98",
                            (c.label, "linf", "margin_ratio"), ">=", 0.98))
    return FigureSpec(
        name="fig4",
        title="Shifted-diagonal data: AdamProxy and Adam b = 1 go to l_inf",
        setting=f"{SHIFTED.describe()}, y = +1; {_ADAM_SETTING}; {_LR_SETTING}",
        claim=("On shifted-diagonal data the fixed point is c = e_j (j = argmin a_i) and its "
               "direction is the l_inf max-margin direction (the all-ones vector), so AdamProxy "
               "and Adam with b = 1 converge to l_inf (Example 4.11)."),
        panels=(Panel("linf", "margin_ratio", curves), Panel("linf", "cosine", curves),
                Panel("l2", "margin_ratio", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=tuple(checks),
        notes=("a = linspace(1, 2, 10), delta = 0.1, eta0 = 0.1, power 0.5. The l_2 and "
               "l_inf directions are close here (cosine 0.976), so the margin ratio is the "
               "telling metric."),
    )


def _fig5() -> FigureSpec:
    curves = tuple(Curve(f"Inc-Signum b={b}", GAUSSIAN, IncSignum(beta=0.99, batch_size=b))
                   for b in (1, 2, 5, 10))
    checks = tuple(Check(f"{c.label}: cos l_inf >= 0.99", (c.label, "linf", "cosine"), ">=",
                         0.99) for c in curves)
    return FigureSpec(
        name="fig5",
        title="Gaussian data: Inc-Signum keeps the l_inf bias for every batch size",
        setting=f"{GAUSSIAN.describe()}; Signum beta = 0.99, cyclic batches; {_LR_SETTING}",
        claim=("Inc-Signum with momentum close to 1 converges to the l_inf max-margin "
               "direction for any batch size (Theorem 5.1)."),
        panels=(Panel("linf", "cosine", curves), Panel("linf", "margin_ratio", curves),
                Panel("l2", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; batch sizes 1, 2, 5, 10.",
    )


def _fig6() -> FigureSpec:
    sizes = (1, 2, 5, 10)
    curves = tuple(Curve(f"Inc-Adam b={b}", GAUSSIAN, IncAdam(batch_size=b)) for b in sizes)
    checks = []
    for small, large in zip(curves[:-1], curves[1:], strict=True):
        for metric in ("cosine", "margin_ratio"):
            name = _SHORT[("linf", metric)]
            checks.append(Check(f"{name}: {large.label} > {small.label}",
                                (large.label, "linf", metric), ">",
                                (small.label, "linf", metric)))
    return FigureSpec(
        name="fig6",
        title="Gaussian data: larger batches bring Adam closer to l_inf",
        setting=f"{GAUSSIAN.describe()}; {_ADAM_SETTING}, cyclic batches; {_LR_SETTING}",
        claim=("The larger the batch size, the higher the cosine similarity with the l_inf "
               "max-margin direction: mini-batch Adam moves toward the full-batch regime "
               "(Appendix A.1)."),
        panels=(Panel("linf", "cosine", curves), Panel("linf", "margin_ratio", curves),
                Panel("l2", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=tuple(checks),
        notes=_OURS + "; batch sizes 1, 2, 5, 10 (b = 10 is full-batch Adam).",
    )


def _fig7() -> FigureSpec:
    curves = tuple(Curve(f"b1={b1}", GAUSSIAN, IncAdam(beta1=b1, beta2=0.999))
                   for b1 in (0.0, 0.5, 0.9, 0.99))
    checks = tuple(Check(f"{c.label}: cos fixed point >= 0.99",
                         (c.label, "fixed_point", "cosine"), ">=", 0.99) for c in curves)
    return FigureSpec(
        name="fig7",
        title="Gaussian data: Inc-Adam with b2 = 0.999, sweep of b1",
        setting=f"{GAUSSIAN.describe()}; Inc-Adam b = 1, b2 = 0.999; {_LR_SETTING}",
        claim=("With b2 high, b1 does not change the limit direction: Inc-Adam goes to the "
               "fixed point of Algorithm 3 for every b1 (Proposition 4.1, Appendix A.1)."),
        panels=(Panel("fixed_point", "cosine", curves), Panel("l2", "cosine", curves),
                Panel("linf", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; b1 in {0, 0.5, 0.9, 0.99}.",
    )


def _fig8() -> FigureSpec:
    betas2 = (0.3, 0.5, 0.7, 0.9, 0.99, 0.999)
    curves = tuple(Curve(f"b2={b2}", GAUSSIAN, IncAdam(beta1=0.5, beta2=b2)) for b2 in betas2)
    checks = tuple(
        [Check(f"b2={b2}: cos fixed point >= 0.99", (f"b2={b2}", "fixed_point", "cosine"),
               ">=", 0.99) for b2 in (0.99, 0.999)]
        + [Check(f"b2={b2}: cos fixed point < 0.99", (f"b2={b2}", "fixed_point", "cosine"),
                 "<", 0.99) for b2 in (0.3, 0.5)]
    )
    return FigureSpec(
        name="fig8",
        title="Gaussian data: Inc-Adam with b1 = 0.5, sweep of b2",
        setting=f"{GAUSSIAN.describe()}; Inc-Adam b = 1, b1 = 0.5; {_LR_SETTING}",
        claim=("b2 matters: for high b2 Inc-Adam goes to the fixed point of Algorithm 3; for "
               "low b2 its trajectory leaves the fixed-point direction (Appendix A.1)."),
        panels=(Panel("fixed_point", "cosine", curves), Panel("l2", "cosine", curves),
                Panel("linf", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=(_OURS + "; b1 = 0.5 and b2 in {0.3, 0.5, 0.7, 0.9, 0.99, 0.999} (all with "
               "b1^2 < b2). With b1 = 0.9, b2 = 0.9 still reaches the fixed point."),
    )


def _fig9() -> FigureSpec:
    pairs = ((0.0, 0.5), (0.5, 0.9), (0.9, 0.95), (0.9, 0.999), (0.99, 0.999))
    curves = tuple(Curve(f"(b1, b2)=({b1}, {b2})", GR, IncAdam(beta1=b1, beta2=b2))
                   for b1, b2 in pairs)
    checks = tuple(Check(f"{c.label}: cos l_2 >= 0.99", (c.label, "l2", "cosine"), ">=",
                         0.99) for c in curves)
    return FigureSpec(
        name="fig9",
        title="GR data: Inc-Adam goes to l_2 for every (b1, b2)",
        setting=f"{GR.describe()}, r_i ~ U[1, 2]; Inc-Adam b = 1, cyclic; {_LR_SETTING}",
        claim=("On GR data the l_2 limit of Theorem 3.3 holds for a broad range of momentum "
               "hyperparameters (Appendix B)."),
        panels=(Panel("l2", "cosine", curves), Panel("linf", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=(_OURS + "; the (b1, b2) pairs (all with b1^2 < b2: with b1^2 > b2 the update "
               "m / sqrt(v) grows geometrically and the iterates diverge)."),
    )


_SIGNUM_SIZES = (1, 2, 5, 10)
_SIGNUM_BETAS = (0.0, 0.5, 0.9, 0.99, 0.999)


def _fig10() -> FigureSpec:
    panels = []
    for b in _SIGNUM_SIZES:
        curves = tuple(Curve(f"b={b}, beta={beta}", GAUSSIAN, IncSignum(beta=beta, batch_size=b),
                             legend=f"beta={beta}") for beta in _SIGNUM_BETAS)
        panels.append(Panel("linf", "cosine", curves, title=f"batch size {b}: cos with l_inf"))

    def key(b, beta):
        return (f"b={b}, beta={beta}", "linf", "cosine")

    checks = (
        Check("b=10 (full batch), beta=0: cos l_inf >= 0.99", key(10, 0.0), ">=", 0.99),
        Check("b=5, beta=0.9: cos l_inf >= 0.99", key(5, 0.9), ">=", 0.99),
        Check("b=1, beta=0.9: cos l_inf < 0.99", key(1, 0.9), "<", 0.99),
        Check("b=1, beta=0.5: cos l_inf < 0.99", key(1, 0.5), "<", 0.99),
        Check("b=1, beta=0.99: cos l_inf >= 0.99", key(1, 0.99), ">=", 0.99),
        Check("b=2, beta=0.99: cos l_inf >= 0.99", key(2, 0.99), ">=", 0.99),
    )
    return FigureSpec(
        name="fig10",
        title="Gaussian data: Inc-Signum, batch size x momentum",
        setting=f"{GAUSSIAN.describe()}; Inc-Signum, cyclic batches; {_LR_SETTING}",
        claim=("To keep the l_inf bias, Signum's momentum must be closer to 1 the smaller the "
               "batch (Theorem 5.1, Appendix B)."),
        panels=tuple(panels),
        epochs=10**8,  # with beta = 0.999, cos l_inf passes 0.9 only after 8e5 to 4.5e6 epochs
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; batch sizes 1, 2, 5, 10 and beta in {0, 0.5, 0.9, 0.99, 0.999}.",
    )


#: The registry: figure name -> FigureSpec, in the paper's order.
FIGURES: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (_fig1(), _fig2(), _fig3(), _fig4(), _fig5(), _fig6(), _fig7(), _fig8(),
                 _fig9(), _fig10())
}


def figure_names() -> list[str]:
    """Names of the registered figures, ``["fig1", ..., "fig10"]``."""
    return list(FIGURES)


def get_figure(name: str) -> FigureSpec:
    """The :class:`FigureSpec` registered as ``name``; ValueError naming the choices if absent."""
    if name not in FIGURES:
        raise ValueError(f"figure must be one of {figure_names()} or 'all'; got {name!r}.")
    return FIGURES[name]


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Reference:
    """A reference direction for one dataset.

    Attributes
    ----------
    name : {"l2", "linf", "fixed_point"}
    w : ndarray (d,)
        The direction (unit l_2 norm for the fixed point, unit l_p norm otherwise).
    margin : float or None
        ``gamma_p*`` for the max-margin references, None for the fixed point.
    info : dict
        Solver facts: status, support; iterations, residual and converged for the fixed point.
    """

    name: str
    w: np.ndarray
    margin: float | None
    info: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Series:
    """One curve of one panel: a metric against epochs."""

    panel: int
    curve: str
    reference: str
    metric: str
    epochs: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class FigureResult:
    """The data of one reproduced figure (no files, no plots).

    Attributes
    ----------
    spec : FigureSpec
    epochs : int
        The horizon that was run.
    quick : bool
    series : tuple of Series
        One per (panel, curve).
    trajectories : dict
        Curve label -> :class:`fastbias.Trajectory`.
    references : dict
        ``(DataSpec, reference name)`` -> :class:`Reference`.
    run_seconds : dict
        Curve label -> seconds spent simulating it (0 when shared with an earlier figure).
    elapsed : float
        Wall-clock seconds from the start of :func:`run_figures` until this figure was ready.
    """

    spec: FigureSpec
    epochs: int
    quick: bool
    series: tuple
    trajectories: dict
    references: dict
    run_seconds: dict
    elapsed: float

    @property
    def name(self) -> str:
        """The figure name, e.g. ``"fig1"``."""
        return self.spec.name

    def final(self, curve: str, reference: str, metric: str) -> float:
        """Final value of one series; KeyError if the figure has no such series."""
        for s in self.series:
            if (s.curve, s.reference, s.metric) == (curve, reference, metric):
                return float(s.values[-1])
        raise KeyError(f"{self.name} has no series {(curve, reference, metric)!r}.")

    def rows(self) -> list[tuple]:
        """Tidy rows ``(figure, curve, reference, metric, epoch, value)`` of every series."""
        out = []
        for s in self.series:
            for e, v in zip(s.epochs.tolist(), s.values.tolist(), strict=True):
                out.append((self.name, s.curve, s.reference, s.metric, int(e), float(v)))
        return out

    def check_results(self) -> list[tuple]:
        """Each check with its values: ``(check, left value, right value, passed)``."""
        out = []
        for check in self.spec.checks:
            left = self.final(*check.left)
            right = (self.final(*check.right) if isinstance(check.right, tuple)
                     else float(check.right))
            out.append((check, left, right, bool(_OPS[check.op](left, right))))
        return out

    def summary(self) -> str:
        """A plain-text summary: setting, claim, final values, checks and reference facts."""
        spec = self.spec
        mode = "quick" if self.quick else "full"
        lines = [
            f"{spec.name}: {spec.title}",
            f"setting: {spec.setting}",
            f"horizon: {self.epochs:,} epochs ({mode} mode)",
            f"paper's claim: {spec.claim}",
        ]
        if spec.notes:
            lines.append(f"settings that are ours (the paper's were lost): {spec.notes}")
        lines += ["", f"final values at epoch {self.epochs:,}:", *_table(self), "",
                  "checks of the claim on the final values:"]
        for check, left, right, passed in self.check_results():
            verdict = "visible    " if passed else "NOT visible"
            lines.append(f"  [{verdict}] {check.text}  ({left:.4f} {check.op} {right:.4g})")
        lines += ["", "reference directions:", *_reference_lines(self)]
        total = sum(self.run_seconds.values())
        lines += ["", f"simulation time: {total:.1f} s (sum over this figure's new runs); "
                      f"ready {self.elapsed:.1f} s after the start"]
        return "\n".join(lines) + "\n"


def _table(result: FigureResult) -> list[str]:
    columns: list[tuple[str, str]] = []
    for panel in result.spec.panels:
        key = (panel.reference, panel.metric)
        if key not in columns:
            columns.append(key)
    labels = [c.label for c in result.spec.curves]
    width = max(len(label) for label in labels) + 2
    header = " " * width + "".join(f"{_SHORT[c]:>14s}" for c in columns)
    lines = ["  " + header]
    values = {(s.curve, s.reference, s.metric): s.values[-1] for s in result.series}
    for label in labels:
        cells = []
        for ref, metric in columns:
            v = values.get((label, ref, metric))
            cells.append(f"{v:14.4f}" if v is not None else " " * 14)
        lines.append("  " + f"{label:<{width}s}" + "".join(cells))
    return lines


def _reference_lines(result: FigureResult) -> list[str]:
    lines = []
    by_data: dict[DataSpec, dict[str, Reference]] = {}
    for (data, name), ref in result.references.items():
        by_data.setdefault(data, {})[name] = ref
    for data, refs in by_data.items():
        lines.append(f"  {data.describe()}:")
        for name in ("l2", "linf"):
            if name in refs:
                ref = refs[name]
                lines.append(f"    {REFERENCES[name]}: gamma* = {ref.margin:.6g}, "
                             f"{len(ref.info['support'])} support vectors")
        if "fixed_point" in refs:
            info = refs["fixed_point"].info
            lines.append(
                f"    fixed point: {info['iterations']} iterations, residual "
                f"{info['residual']:.1e}, converged {info['converged']}, support "
                f"{list(info['support'])}"
            )
        names = [n for n in ("l2", "linf", "fixed_point") if n in refs]
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
        if pairs:
            text = ", ".join(
                f"cos({a}, {b}) = {_cos(refs[a].w, refs[b].w):.4f}" for a, b in pairs
            )
            lines.append(f"    {text}")
    return lines


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _simulate_run(key: tuple, epochs: int, record: int, progress: bool):
    """Worker task: one curve's run. Returns (trajectory, seconds)."""
    data, optimizer, lr, seed, loss = key
    start = time.perf_counter()
    tr = simulate(data.make(), optimizer, lr=lr, epochs=epochs, loss=loss, seed=seed,
                  record=record, progress=progress)
    return tr, time.perf_counter() - start


def _solve_reference(data: DataSpec, name: str) -> Reference:
    from .geometry import fixed_point, max_margin

    ds = data.make()
    if name == "fixed_point":
        fp = fixed_point(ds, tol=1e-8)
        info = {"iterations": fp.iterations, "residual": fp.residual,
                "converged": fp.converged, "support": fp.support.tolist(),
                "c": fp.c.tolist()}
        return Reference(name, np.asarray(fp.w), None, info)
    mm = max_margin(ds, p=_NORMS[name])
    info = {"status": mm.status, "support": mm.support.tolist()}
    return Reference(name, np.asarray(mm.w), float(mm.margin), info)


def _metric_values(tr: Trajectory, ref: Reference, metric: str) -> np.ndarray:
    if metric == "cosine":
        return np.asarray(tr.cosine(ref.w), dtype=np.float64)
    return np.asarray(tr.margin_ratio(_NORMS[ref.name], ref.margin), dtype=np.float64)


def _default_executor(jobs: int) -> Executor:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context)


def run_figures(
    names: Iterable[str] | None = None,
    *,
    quick: bool = False,
    epochs: int | None = None,
    jobs: int = 1,
    record: int | None = None,
    progress: bool = False,
    executor: Executor | None = None,
) -> Iterator[FigureResult]:
    """Reproduce figures; yields one :class:`FigureResult` per figure, in the order asked.

    Runs that several figures share (same data, optimizer, schedule, seed, loss and horizon)
    are simulated once. With ``jobs > 1`` (or an ``executor``) all runs are dispatched at
    once to worker processes while the reference directions are solved here; results do not
    depend on ``jobs``.

    Parameters
    ----------
    names : iterable of str, optional
        Figure names (``"fig1"`` ... ``"fig10"``); default all ten.
    quick : bool, default False
        Use each figure's short horizon ``quick_epochs`` instead of ``epochs``.
    epochs : int, optional
        Horizon for every figure, overriding both (>= 1).
    jobs : int, default 1
        Worker processes (>= 1). 1 runs everything in this process.
    record : int, optional
        Log-spaced records per run; default 120 (60 in quick mode).
    progress : bool, default False
        Show a progress bar over runs (and over the chunks of each run when ``jobs == 1``).
    executor : concurrent.futures.Executor, optional
        Where to run the simulations instead of a new process pool (for example a Dask
        client's ``get_executor()``); ``jobs`` is then ignored.

    Yields
    ------
    FigureResult

    Raises
    ------
    ValueError
        For an unknown figure name or a bad ``epochs``, ``jobs`` or ``record`` (before any
        run).

    Examples
    --------
    >>> res = next(run_figures(["fig2"], epochs=1000))  # doctest: +SKIP
    >>> res.final("Inc-Adam b=1 (cyclic)", "l2", "cosine")  # doctest: +SKIP
    """
    if isinstance(names, str):
        names = [names]
    specs = [get_figure(n) for n in (figure_names() if names is None else names)]
    if epochs is not None:
        epochs = check_int("epochs", epochs, 1)
    jobs = check_int("jobs", jobs, 1)
    record = check_int("record", (60 if quick else 120) if record is None else record, 2)

    def horizon(spec: FigureSpec) -> int:
        return epochs if epochs is not None else (spec.quick_epochs if quick else spec.epochs)

    # Distinct runs in order of first use.
    runs: dict[tuple, None] = {}
    for spec in specs:
        for curve in spec.curves:
            runs.setdefault((curve.run_key, horizon(spec)), None)

    start = time.perf_counter()
    warmup()  # compile (or load) the kernels once, before any worker needs them
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(runs), unit="run", desc="simulating", dynamic_ncols=True)

    own_executor = None
    if executor is None and jobs > 1:
        executor = own_executor = _default_executor(jobs)
    futures: dict[tuple, Future] = {}
    done: dict[tuple, tuple] = {}
    try:
        if executor is not None:
            for run in runs:
                key, n_epochs = run
                fut = executor.submit(_simulate_run, key, n_epochs, record, False)
                if bar is not None:
                    fut.add_done_callback(lambda _f: bar.update(1))
                futures[run] = fut

        def get(run):
            if run not in done:
                if run in futures:
                    done[run] = futures[run].result()
                else:
                    key, n_epochs = run
                    done[run] = _simulate_run(key, n_epochs, record, progress)
                    if bar is not None:
                        bar.update(1)
                return done[run], True
            return done[run], False

        references: dict[tuple, Reference] = {}
        for spec in specs:
            n_epochs = horizon(spec)
            for panel in spec.panels:  # solve while the workers simulate
                for curve in panel.curves:
                    rkey = (curve.data, panel.reference)
                    if rkey not in references:
                        references[rkey] = _solve_reference(*rkey)
            trajectories, seconds = {}, {}
            for curve in spec.curves:
                (tr, secs), fresh = get((curve.run_key, n_epochs))
                trajectories[curve.label] = tr
                seconds[curve.label] = secs if fresh else 0.0
            series = []
            for i, panel in enumerate(spec.panels):
                for curve in panel.curves:
                    tr = trajectories[curve.label]
                    ref = references[(curve.data, panel.reference)]
                    series.append(Series(i, curve.label, panel.reference, panel.metric,
                                         tr.epochs.copy(), _metric_values(tr, ref, panel.metric)))
            used = {(c.data, p.reference) for p in spec.panels for c in p.curves}
            yield FigureResult(
                spec=spec, epochs=n_epochs, quick=quick, series=tuple(series),
                trajectories=trajectories,
                references={k: v for k, v in references.items() if k in used},
                run_seconds=seconds, elapsed=time.perf_counter() - start,
            )
    finally:
        if bar is not None:
            bar.close()
        if own_executor is not None:
            own_executor.shutdown(wait=True, cancel_futures=True)


def run_figure(name: str, **kwargs) -> FigureResult:
    """Reproduce one figure; keyword arguments as in :func:`run_figures`."""
    return next(run_figures([name], **kwargs))

"""Experiments as data: one registry from which every figure is produced.

The paper's ten figures (``fig1`` ... ``fig10``) and the experiments beyond it (``eps``,
``adamw``, ``mc-adam``, ``nsd-lp``, ``rates``, ``diag-net``, ...) are :class:`FigureSpec` entries of
:data:`FIGURES`: panels comparing curves (one :func:`fastbias.simulate` run each) with a
reference direction (a max-margin solution or the AdamProxy fixed point) through a metric,
plus the claim and checks of it on the final values. :func:`run_figures` runs them and
returns :class:`FigureResult` objects holding arrays only; :mod:`fastbias.plotting` draws
them and ``fastbias reproduce`` writes the files.

Modules: :mod:`.specs` (the building blocks), :mod:`.figures` (the registry),
:mod:`.report` (results and summaries), :mod:`.runner` (running them).
"""

from .figures import FIGURES, PAPER_FIGURES, figure_names, get_figure
from .report import FigureResult, Reference, Series
from .runner import DEFAULT_RECORD, run_figure, run_figures
from .specs import (
    GAP_METRICS,
    METRICS,
    PAPER_LR,
    REFERENCES,
    X_AXES,
    Check,
    Crossing,
    Curve,
    DataSpec,
    FigureSpec,
    Fit,
    Panel,
    short_label,
)

__all__ = [
    "Check",
    "Crossing",
    "Curve",
    "DEFAULT_RECORD",
    "DataSpec",
    "FIGURES",
    "GAP_METRICS",
    "FigureResult",
    "FigureSpec",
    "Fit",
    "METRICS",
    "PAPER_FIGURES",
    "PAPER_LR",
    "Panel",
    "REFERENCES",
    "Reference",
    "Series",
    "X_AXES",
    "figure_names",
    "get_figure",
    "run_figure",
    "run_figures",
    "short_label",
]

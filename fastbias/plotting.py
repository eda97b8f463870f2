"""Matplotlib drawings of reproduced figures and of runs (matplotlib is imported only when drawing).

The figures are built on :class:`matplotlib.figure.Figure` directly, without ``pyplot``: no
global state, no GUI backend, and safe in worker processes and on machines without a
display. Saving is left to the caller (``fig.savefig(...)``).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ._validation import shown

if TYPE_CHECKING:  # the registry of experiments is imported when a figure is drawn
    from .experiments import FigureResult

__all__ = ["plot_figure", "plot_trajectories"]

_YLABELS = {
    "cosine": "cosine similarity",
    "margin_ratio": "gamma(w) / gamma*",
    "decay_norm": "||w|| x weight decay",
    "margin_gap": "1 - gamma(w) / gamma*",
    "direction_gap": "1 - cos(w, w*)",
}


def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        raise ImportError(
            "drawing figures needs matplotlib; install it with `pip install matplotlib`."
        ) from None
    return Figure


def plot_figure(result: FigureResult, *, panel_size=(4.4, 3.4), max_columns: int = 3):
    """Draw one reproduced figure: one panel per (reference, metric), on log x axes.

    The x axis is the figure's (``spec.x``): epochs, or the training loss ``-log L``.

    Parameters
    ----------
    result : FigureResult
        From :func:`fastbias.experiments.run_figure`.
    panel_size : (float, float), default (4.4, 3.4)
        Width and height of one panel, in inches.
    max_columns : int, default 3
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot; save it with ``fig.savefig(path, dpi=...)``.

    Examples
    --------
    >>> from fastbias.experiments import run_figure  # doctest: +SKIP
    >>> fig = plot_figure(run_figure("fig2", epochs=1000))  # doctest: +SKIP
    >>> fig.savefig("fig2.png", dpi=100)  # doctest: +SKIP
    """
    from .experiments import GAP_METRICS, METRICS

    Figure = _matplotlib_figure()
    spec = result.spec
    panels = spec.panels
    ncols = min(max_columns, len(panels))
    if len(panels) == 4:
        ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    width, height = panel_size
    fig = Figure(figsize=(width * ncols, height * nrows + 0.9), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    # One legend below the panels when every panel shows the same legend entries.
    legends = {tuple(c.legend_label for c in panel.curves) for panel in panels}
    shared_legend = len(legends) == 1
    legend_of = {c.label: c.legend_label for c in spec.curves}
    by_panel: dict[int, list] = {}
    for s in result.series:
        by_panel.setdefault(s.panel, []).append(s)
    for i, (ax, panel) in enumerate(zip(axes, panels, strict=False)):
        series = by_panel.get(i, [])
        # Colors follow the position in the panel, so that the same sweep value has the
        # same color in every panel.
        gap = panel.metric in GAP_METRICS
        for s, color in zip(series, _colors(len(series)), strict=True):
            x = s.x(spec.x)
            keep = x > 0  # the log axis cannot show epoch 0 (or a loss -log L <= 0)
            if gap:
                keep &= s.values > 0  # nor a gap of 0 (or below, before separation)
            ax.plot(x[keep], s.values[keep], label=legend_of[s.curve], color=color, linewidth=1.4)
        ax.set_xscale("log")
        if gap:
            ax.set_yscale("log")
        else:
            ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(X_AXES[spec.x][0])
        ax.set_ylabel(_YLABELS.get(panel.metric, METRICS[panel.metric]))
        ax.grid(True, which="major", alpha=0.3)
        if not shared_legend:
            ax.legend(fontsize=7, loc="best", framealpha=0.85)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if shared_legend:
        handles, labels = axes[0].get_legend_handles_labels()
        # One row if it fits (about 0.07 inch per character at font size 8), else two.
        one_row = sum(0.07 * len(t) + 0.6 for t in labels) < width * ncols
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            frameon=False,
            fontsize=8,
            ncols=len(labels) if one_row else math.ceil(len(labels) / 2),
        )
    mode = "quick" if result.quick else "full"
    setting = textwrap.fill(
        f"{spec.setting}; {result.epochs:,} epochs ({mode})", width=int(width * ncols * 14)
    )
    fig.suptitle(f"{spec.name}: {spec.title}\n{setting}", fontsize=9)
    return fig


#: What the x axis of :func:`plot_trajectories` can show: name -> (label, values of a run).
X_AXES = {
    "epoch": ("epoch", lambda tr: tr.epochs.astype(np.float64)),
    "neg_log_loss": ("training loss  -log L", lambda tr: -tr.log_loss),
}


def plot_trajectories(
    trajectories,
    ref,
    metric="cosine",
    *,
    norm=None,
    labels=None,
    ax=None,
    x="epoch",
    **line_options,
):
    """Draw one metric of several runs against their epochs (or -log L) on log axes.

    Parameters
    ----------
    trajectories : Trajectory, list of Trajectory or dict of str to Trajectory
        The runs (a dict gives their labels).
    ref : result or array_like
        The reference of the metric, as :func:`fastbias.analysis.metric_values` takes it: a
        direction (a max-margin or fixed-point result, or an array) for ``"cosine"`` and
        ``"direction_gap"``; a max-margin result (or ``gamma*`` with ``norm``) for
        ``"margin_ratio"`` and ``"margin_gap"``.
    metric : {"cosine", "margin_ratio", "margin_gap", "direction_gap"}, default "cosine"
    norm : float or str, optional
        The norm of a margin metric, when ``ref`` is the number ``gamma*``.
    labels : list of str, optional
        Legend entries, one per run; default the dict's keys, or the optimizers' names.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new :class:`~matplotlib.figure.Figure` (not pyplot's) with
        one Axes (``ax.figure.savefig(path)`` saves it).
    x : {"epoch", "neg_log_loss"}, default "epoch"
        The x axis: the epochs, or the training loss as ``-log L``, which indexes a run that
        follows gradient flow's path whatever its speed along it (SPEC 13).
    **line_options
        Passed to ``ax.plot`` for every run (``linewidth``, ``alpha``, ...).

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The x axis is logarithmic (epoch 0, or records with ``-log L <= 0``, left out); gaps are
    drawn on a logarithmic y axis too, where records with a gap <= 0 (an iterate at or beyond
    the solver's accuracy) are left out; cosines and ratios on a linear one, with a dotted
    line at 1 (on new Axes).

    Examples
    --------
    >>> import fastbias as fb
    >>> ds = fb.datasets.gaussian(n=4, d=6, seed=0)
    >>> runs = {"SignGD": fb.simulate(ds, fb.SignGD(), epochs=100),
    ...         "NGD": fb.simulate(ds, fb.NormalizedGD(), epochs=100)}
    >>> ax = plot_trajectories(runs, fb.max_margin(ds, p="inf"), "margin_gap")
    >>> ax.get_yscale(), len(ax.get_lines())
    ('log', 2)
    """
    from .analysis import METRICS, metric_values
    from .trajectory import Trajectory

    if x not in X_AXES:
        raise ValueError(f"x must be one of {sorted(X_AXES)}; got {shown(x)}.")
    x_label, x_values = X_AXES[x]
    if isinstance(trajectories, Trajectory):
        trajectories = [trajectories]
    if isinstance(trajectories, Mapping):
        labels = list(trajectories) if labels is None else labels
        trajectories = list(trajectories.values())
    trajectories = list(trajectories)
    if not trajectories or not all(isinstance(tr, Trajectory) for tr in trajectories):
        raise TypeError(
            f"trajectories must be a Trajectory or a non-empty list of them; "
            f"got {shown(trajectories)}."
        )
    if labels is None:
        labels = [(tr.params.get("optimizer") or {}).get("name", "run") for tr in trajectories]
    labels = list(labels)
    if len(labels) != len(trajectories):
        raise ValueError(
            f"labels must give one label per run ({len(trajectories)}); got {len(labels)}."
        )
    values = [metric_values(tr, metric, ref, norm) for tr in trajectories]
    spec = METRICS[metric]
    new = ax is None
    if new:
        ax = _matplotlib_figure()(figsize=(5.0, 3.6), layout="constrained").add_subplot()
    for tr, y, label in zip(trajectories, values, labels, strict=True):
        xs = x_values(tr)
        keep = xs > 0
        if spec.gap:
            keep &= y > 0
        ax.plot(xs[keep], y[keep], label=label, **line_options)  # the Axes' colors
    ax.set_xscale("log")
    if spec.gap:
        ax.set_yscale("log")
    elif new:
        ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel(x_label)
    ax.set_ylabel(spec.label)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    return ax


def _colors(k: int) -> list:
    from matplotlib import colormaps

    if k <= 10:
        return [colormaps["tab10"](i) for i in range(k)]
    return [colormaps["viridis"](i / max(1, k - 1)) for i in range(k)]

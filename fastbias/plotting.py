"""Matplotlib drawings of reproduced figures (matplotlib is imported only when drawing).

The figures are built on :class:`matplotlib.figure.Figure` directly, without ``pyplot``: no
global state, no GUI backend, and safe in worker processes and on machines without a
display. Saving is left to the caller (``fig.savefig(...)``).
"""

from __future__ import annotations

import math
import textwrap

from .experiments import METRICS, FigureResult

__all__ = ["plot_figure"]

_YLABELS = {
    "cosine": "cosine similarity",
    "margin_ratio": "gamma(w) / gamma*",
    "decay_norm": "||w|| x weight decay",
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
    """Draw one reproduced figure: one panel per (reference, metric), epochs on a log axis.

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
        for s, color in zip(series, _colors(len(series)), strict=True):
            keep = s.epochs > 0  # the log axis cannot show epoch 0
            ax.plot(
                s.epochs[keep], s.values[keep], label=legend_of[s.curve], color=color, linewidth=1.4
            )
        ax.set_xscale("log")
        ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("epoch")
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


def _colors(k: int) -> list:
    from matplotlib import colormaps

    if k <= 10:
        return [colormaps["tab10"](i) for i in range(k)]
    return [colormaps["viridis"](i / max(1, k - 1)) for i in range(k)]

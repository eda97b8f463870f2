"""Results of experiments: series of metrics, final values, checks and the text summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .figures import PAPER_FIGURES
from .specs import GAP_METRICS, OPS, REFERENCES, X_AXES, DataSpec, FigureSpec, short_label

__all__ = ["FigureResult", "Reference", "Series"]


@dataclass(frozen=True, eq=False)
class Reference:
    """A reference direction for one dataset.

    Attributes
    ----------
    name : str
        A key of :data:`fastbias.experiments.REFERENCES`.
    w : ndarray (d,) or (k, d)
        The direction (unit l_2 norm for the fixed point, unit norm of its max-margin
        problem otherwise).
    margin : float or None
        ``gamma*`` for the max-margin references, None for the fixed point.
    info : dict
        Solver facts: status, support; iterations, residual and converged for the fixed point.
    """

    name: str
    w: np.ndarray
    margin: float | None
    info: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Series:
    """One curve of one panel: a metric against epochs (and the training loss ``-log L``)."""

    panel: int
    curve: str
    reference: str
    metric: str
    epochs: np.ndarray
    values: np.ndarray
    neg_log_loss: np.ndarray

    def x(self, axis: str) -> np.ndarray:
        """The x values on an axis of :data:`~fastbias.experiments.X_AXES`."""
        return self.epochs.astype(np.float64) if axis == "epoch" else self.neg_log_loss


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
        """Tidy rows ``(figure, curve, reference, metric, epoch, neg_log_loss, value)``."""
        out = []
        for s in self.series:
            points = zip(s.epochs.tolist(), s.neg_log_loss.tolist(), s.values.tolist(), strict=True)
            for e, x, v in points:
                out.append((self.name, s.curve, s.reference, s.metric, int(e), float(x), float(v)))
        return out

    def limit_margin_results(self) -> list[tuple]:
        """``(curve, q, ratio)`` for models whose limit problem is l_q with q != 1.

        Diagonal networks of depth D > 2 (q = 2 / D): the final ``gamma_q`` over the l_1 max
        margin's ``gamma_q`` (the nonconvex problem has no solver; > 1 means the run is
        beyond the l_1 solution in its own geometry).
        """
        out = []
        for curve in self.spec.curves:
            model = curve.model
            q = getattr(model, "limit_exponent", None)
            ref = self.references.get((curve.data, "l1"))
            if q is None or q == 1.0 or ref is None:
                continue
            data = curve.data.make()
            w = self.trajectories[curve.label].w[-1]
            out.append(
                (
                    curve.label,
                    q,
                    float(model.limit_margin(data, w) / model.limit_margin(data, ref.w)),
                )
            )
        return out

    def crossing_results(self) -> list[tuple]:
        """Each crossing with the first x (on the figure's axis) where ``first > second``.

        ``(crossing, x or None)``: None when the first series never rises above the second;
        the first record's x when it is above from the start.
        """
        out = []
        for crossing in self.spec.crossings:
            a = self.series_of(crossing.curve, *crossing.first)
            b = self.series_of(crossing.curve, *crossing.second)
            x = a.x(self.spec.x)
            above = np.flatnonzero((a.values > b.values) & (x > 0))
            out.append((crossing, float(x[above[0]]) if above.size else None))
        return out

    def check_results(self) -> list[tuple]:
        """Each check with its values: ``(check, left value, right value, passed)``."""
        out = []
        for check in self.spec.checks:
            left = self.final(*check.left)
            right = (
                self.final(*check.right) if isinstance(check.right, tuple) else float(check.right)
            )
            out.append((check, left, right, bool(OPS[check.op](left, right))))
        return out

    def series_of(self, curve: str, reference: str, metric: str) -> Series:
        """The series of one (curve, reference, metric); KeyError if the figure has none."""
        for s in self.series:
            if (s.curve, s.reference, s.metric) == (curve, reference, metric):
                return s
        raise KeyError(f"{self.name} has no series {(curve, reference, metric)!r}.")

    def fit_results(self) -> list[tuple]:
        """Each rate fit with its result: ``(fit, RateFit or the error message)``."""
        from ..analysis import fit_rate

        out = []
        for fit in self.spec.fits:
            s = self.series_of(fit.curve, fit.reference, fit.metric)
            try:
                out.append((fit, fit_rate(s.epochs, s.values, fit.model, tail=fit.tail)))
            except ValueError as exc:
                out.append((fit, str(exc)))
        return out

    def summary(self) -> str:
        """A plain-text summary: setting, claim, final values, checks and reference facts."""
        spec = self.spec
        mode = "quick" if self.quick else "full"
        whose = "paper's claim" if spec.name in PAPER_FIGURES else "claim"
        lines = [
            f"{spec.name}: {spec.title}",
            f"setting: {spec.setting}",
            f"horizon: {self.epochs:,} epochs ({mode} mode)",
            f"{whose}: {spec.claim}",
        ]
        if spec.notes:
            lines.append(f"settings that are ours: {spec.notes}")
        lines += [
            "",
            f"final values at epoch {self.epochs:,}:",
            *_table(self),
            "",
            "checks of the claim on the final values:",
        ]
        results = self.check_results()
        for check, left, right, passed in results:
            verdict = "visible    " if passed else "NOT visible"
            lines.append(f"  [{verdict}] {check.text}  ({left:.4f} {check.op} {right:.4g})")
        missing = sum(not passed for *_, passed in results)
        if self.quick and missing:
            lines += [
                "",
                f"quick mode: {missing} of {len(results)} checks are not visible at "
                f"this short horizon ({self.epochs:,} epochs). That is expected: "
                f"these directions converge slowly (on a log scale of epochs). "
                f"`fastbias reproduce {spec.name}` runs the full horizon "
                f"({spec.epochs:,} epochs), where the claim is judged.",
            ]
        if spec.x == "neg_log_loss":
            lines += ["", "training loss at the horizon (-log L):"]
            for label, tr in self.trajectories.items():
                lines.append(f"  {label}: {-tr.log_loss[-1]:.4g}")
        deep = self.limit_margin_results()
        if deep:
            lines += ["", "the model's own limit problem, min ||w||_q s.t. Z w >= 1 with q = 2/D:"]
            for label, q, ratio in deep:
                lines.append(
                    f"  {label}: gamma_{q:.3g}(w) / gamma_{q:.3g}(l_1 max margin) = {ratio:.4f}"
                )
        if spec.crossings:
            lines += ["", f"crossings (the first record, on the {X_AXES[spec.x]} axis):"]
            for crossing, x in self.crossing_results():
                what = f"{short_label(*crossing.first)} > {short_label(*crossing.second)}"
                where = "never" if x is None else f"from {x:.4g}"
                lines.append(f"  {crossing.curve}: {what} {where}")
        if spec.fits:
            lines += [
                "",
                "rates fitted to the tail (log gap on log t, or on log log t for "
                "the log model; 95% interval):",
                *_fit_lines(self),
            ]
        lines += ["", "reference directions:", *_reference_lines(self)]
        total = sum(self.run_seconds.values())
        lines += [
            "",
            f"simulation time: {total:.1f} s (sum over this figure's new runs); "
            f"ready {self.elapsed:.1f} s after the start",
        ]
        return "\n".join(lines) + "\n"


def _table(result: FigureResult) -> list[str]:
    columns: list[tuple[str, str]] = []
    for panel in result.spec.panels:
        key = (panel.reference, panel.metric)
        if key not in columns:
            columns.append(key)
    labels = [c.label for c in result.spec.curves]
    width = max(len(label) for label in labels) + 2
    cell = max(14, max(len(short_label(*c)) for c in columns) + 2)
    header = " " * width + "".join(f"{short_label(*c):>{cell}s}" for c in columns)
    lines = ["  " + header]
    values = {(s.curve, s.reference, s.metric): s.values[-1] for s in result.series}
    for label in labels:
        cells = []
        for ref, metric in columns:
            v = values.get((label, ref, metric))
            if v is None:
                cells.append(" " * cell)
            else:
                cells.append(f"{v:{cell}.3e}" if metric in GAP_METRICS else f"{v:{cell}.4f}")
        lines.append("  " + f"{label:<{width}s}" + "".join(cells))
    return lines


def _fit_lines(result: FigureResult) -> list[str]:
    lines = []
    for fit, outcome in result.fit_results():
        model = "C t^-a" if fit.model == "power" else "C (log t)^-a"
        what = f"  {fit.curve}, {short_label(fit.reference, fit.metric)} ~ {model}: "
        if isinstance(outcome, str):
            lines.append(what + f"no fit ({outcome})")
            continue
        low, high = outcome.ci
        lines.append(
            what + f"a = {outcome.exponent:.3f} [{low:.3f}, {high:.3f}], r^2 = {outcome.r2:.4f}, "
            f"epochs {outcome.window[0]:,.0f}..{outcome.window[1]:,.0f} ({outcome.n_used} "
            f"records, {outcome.n_dropped} dropped); theory: {fit.theory}"
        )
    return lines


def _reference_lines(result: FigureResult) -> list[str]:
    lines = []
    by_data: dict[DataSpec, dict[str, Reference]] = {}
    for (data, name), ref in result.references.items():
        by_data.setdefault(data, {})[name] = ref
    for data, refs in by_data.items():
        lines.append(f"  {data.describe()}:")
        for name, ref in refs.items():
            if name == "fixed_point":
                info = ref.info
                lines.append(
                    f"    fixed point: {info['iterations']} iterations, residual "
                    f"{info['residual']:.1e}, converged {info['converged']}, support "
                    f"{list(info['support'])}"
                )
            else:
                lines.append(
                    f"    {REFERENCES[name].label}: gamma* = {ref.margin:.6g}, "
                    f"{len(ref.info['support'])} support vectors"
                )
        names = list(refs)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        if pairs:
            text = ", ".join(f"cos({a}, {b}) = {_cos(refs[a].w, refs[b].w):.4f}" for a, b in pairs)
            lines.append(f"    {text}")
    return lines


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    u, v = np.ravel(u), np.ravel(v)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))

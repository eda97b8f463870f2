"""Recorded iterates of a run, with diagnostics and atomic ``.npz`` storage."""

from __future__ import annotations

import json

import numpy as np

from ._io import ArraySpec, atomic_savez, check_named, parse_json, read_npz, text_field
from .metrics import log_loss as _log_loss
from .metrics import min_margins
from .norms import check_norm, norm_values

__all__ = ["Trajectory"]

_FORMAT = "fastbias-trajectory-2"
_FORMATS = (_FORMAT, "fastbias-trajectory-1")  # 1: binary trajectories of fastbias 0.1


class NotSeparatedWarning(UserWarning):
    """A run ended with a smallest margin <= 0: the data are not (yet) separated by its iterate.

    Directions, cosines and normalized margins then describe an iterate that misclassifies
    some samples (or has one on its boundary); run longer, or check the data (an intercept
    column, :class:`fastbias.Dataset` ``intercept=True``, may be missing).
    """


class Trajectory:
    """Iterates recorded by :func:`fastbias.simulate`.

    Attributes
    ----------
    epochs : ndarray of int64, shape (r,)
        Recorded epochs (0 is the starting point); the last one is the final epoch.
    w : ndarray, shape (r, d) or (r, k, d)
        Iterates at those epochs (vectors for binary data, matrices for multiclass data);
        ``w[-1]`` is the final iterate.
    log_loss : ndarray, shape (r,)
        ``log L(w)`` at those epochs (logsumexp, finite at any horizon).
    min_margin : ndarray, shape (r,)
        The smallest margin over the samples at those epochs.
    params : dict
        The run's parameters (optimizer, schedule, loss, seed, data fingerprint, ...).
    theta : ndarray or None, shape ``(r, multiplicity, *w.shape[1:])``
        A model's parameters at those epochs (``fb.DiagonalNet``: (u, v)); None for the
        linear model, whose parameter is w.
    """

    def __init__(self, epochs, w, log_loss, min_margin, params: dict, theta=None):
        self.epochs = np.asarray(epochs, dtype=np.int64)
        self.w = np.asarray(w, dtype=np.float64)
        self.log_loss = np.asarray(log_loss, dtype=np.float64)
        self.min_margin = np.asarray(min_margin, dtype=np.float64)
        self.params = dict(params)
        r = self.epochs.shape[0] if self.epochs.ndim == 1 else -1
        if (
            self.epochs.ndim != 1
            or self.w.ndim not in (2, 3)
            or self.w.shape[0] != r
            or self.log_loss.shape != (r,)
            or self.min_margin.shape != (r,)
        ):
            raise ValueError(
                "inconsistent trajectory arrays: epochs "
                f"{self.epochs.shape}, w {self.w.shape}, log_loss {self.log_loss.shape}, "
                f"min_margin {self.min_margin.shape}."
            )
        self.theta = None if theta is None else np.asarray(theta, dtype=np.float64)
        if self.theta is not None and (
            self.theta.ndim != self.w.ndim + 1
            or self.theta.shape[0] != r
            or self.theta.shape[2:] != self.w.shape[1:]
        ):
            raise ValueError(
                f"inconsistent trajectory arrays: theta {self.theta.shape} for w {self.w.shape}."
            )

    @classmethod
    def from_run(cls, data, epochs, W, params: dict, loss=None, model=None) -> Trajectory:
        """Build from recorded parameters ``W`` (r, rows, d), computing the loss and margins.

        ``loss`` is the run's loss (default: the one its parameters name); ``model`` a model
        beyond the linear one, whose recorded parameters give the effective weights.
        """
        theta = None
        if model is not None:
            m = type(model).multiplicity
            r, rows, d = W.shape
            theta = W.reshape(r, m, rows // m, d)
            W = model.weights(W)
            if not data.multiclass:
                theta = theta[:, :, 0, :]
        w = W if data.multiclass else W[:, 0, :]
        loss = params["loss"] if loss is None else loss
        return cls(epochs, w, _log_loss(data, w, loss), min_margins(data, w), params, theta)

    @property
    def multiclass(self) -> bool:
        """Whether the iterates are matrices (multiclass data)."""
        return self.w.ndim == 3

    def __repr__(self) -> str:
        opt = (self.params.get("optimizer") or {}).get("name", "?")
        shape = "x".join(str(s) for s in self.w.shape[1:])
        return (
            f"Trajectory({opt}, records={len(self.epochs)}, final epoch="
            f"{int(self.epochs[-1])}, w: {shape})"
        )

    @property
    def separated(self) -> bool:
        """Whether the final iterate separates the data (smallest margin > 0)."""
        return bool(self.min_margin[-1] > 0.0)

    @property
    def final_w(self) -> np.ndarray:
        """The final iterate ``w[-1]``."""
        return self.w[-1]

    def cosine(self, u) -> np.ndarray:
        """Cosine similarity of each recorded iterate with ``u`` (NaN at w = 0).

        ``u`` is a direction, or a result with one (:func:`fastbias.max_margin`,
        :func:`fastbias.fixed_point`). For matrices, the Frobenius inner product of ``W`` and
        ``u`` over their norms.
        """
        from .geometry import cosine

        r = self.w.shape[0]
        u = np.asarray(getattr(u, "w", u), dtype=np.float64)
        if u.shape != self.w.shape[1:]:
            raise ValueError(f"u must have shape {self.w.shape[1:]}; got {u.shape}.")
        return cosine(self.w.reshape(r, -1), u.reshape(-1))

    def normalized_margin(self, norm) -> np.ndarray:
        """``gamma(w) = min margin / ||w||`` at each record.

        ``norm``: p in [1, inf] (or ``"inf"``) for binary data; ``"max"``, ``"fro"``,
        ``"spectral"`` or ``"l1"`` for multiclass data.
        """
        norm = check_norm(norm, self.multiclass)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.min_margin / norm_values(self.w, norm, self.multiclass)

    def margin_ratio(self, norm, gamma_star) -> np.ndarray:
        """Normalized-margin ratio ``gamma(w) / gamma*`` at each record.

        ``gamma_star`` is the max-margin value or the :func:`fastbias.max_margin` result for
        the same norm. Use it to compare with l_1 / l_inf (or max-norm) max-margin solutions,
        which may be non-unique: a ratio near 1 means the iterate attains the max-margin,
        whichever solution it is near.
        """
        from .geometry import check_gamma_star

        norm = check_norm(norm, self.multiclass)
        return self.normalized_margin(norm) / check_gamma_star(gamma_star, norm)

    def margin_gap(self, norm, ref) -> np.ndarray:
        """Margin gap ``1 - gamma(w) / gamma*`` at each record (SPEC 12).

        ``ref`` is the :func:`fastbias.max_margin` result for ``norm``, or ``gamma*``; as in
        :meth:`margin_ratio`, of which it is one minus.
        """
        return 1.0 - self.margin_ratio(norm, ref)

    def direction_gap(self, ref) -> np.ndarray:
        """Direction gap ``1 - cos(w, w*)`` at each record, accurate when tiny (SPEC 12).

        ``ref`` is a direction or a result with one; see
        :func:`fastbias.analysis.direction_gap`.
        """
        from .analysis import direction_gap

        return direction_gap(self.w, ref)

    def fit_rate(self, quantity, norm=None, ref=None, model="power", tail=2):
        """Fit the rate of a gap against the recorded epochs (:func:`fastbias.fit_rate`).

        ``quantity`` is ``"margin_gap"`` (``ref`` a max-margin result, or ``gamma*`` with
        ``norm``) or ``"direction_gap"`` (``ref`` a direction; no norm); ``model`` and
        ``tail`` as in :func:`fastbias.fit_rate`. Returns a :class:`~fastbias.RateFit`.
        """
        from .analysis import fit_trajectory_rate

        return fit_trajectory_rate(self, quantity, norm, ref, model, tail)

    def to_frame(self, references=None, metrics=None, label=None):
        """The records as a pandas DataFrame, one row each (epoch, log_loss, min margin, norms).

        ``references`` (a dict of names to references) adds a column ``<metric>_<name>`` per
        metric asked for by name; see :func:`fastbias.analysis.trajectory_frame`.
        """
        from .analysis import trajectory_frame

        return trajectory_frame(self, references, metrics, label)

    def plot(
        self, ref, metric="cosine", *, norm=None, ax=None, label=None, x="epoch", **line_options
    ):
        """Draw a metric against the epochs (or ``x="neg_log_loss"``) on log axes.

        Returns the matplotlib Axes; see :func:`fastbias.plot_trajectories` (this run alone,
        labelled ``label``).
        """
        from .plotting import plot_trajectories

        labels = None if label is None else [label]
        return plot_trajectories(
            [self], ref, metric, norm=norm, labels=labels, ax=ax, x=x, **line_options
        )

    def save(self, path):
        """Write the trajectory atomically to an ``.npz`` file (no pickles); returns the path."""
        return atomic_savez(
            path,
            {
                "format": np.array(_FORMAT),
                "epochs": self.epochs,
                "w": self.w,
                "log_loss": self.log_loss,
                "min_margin": self.min_margin,
                "params": np.array(json.dumps(self.params, sort_keys=True)),
                **({} if self.theta is None else {"theta": self.theta}),
            },
        )

    @classmethod
    def load(cls, path) -> Trajectory:
        """Read a trajectory written by :meth:`save`; ValueError if the file is not one."""
        data = read_npz(
            path,
            "trajectory",
            {
                "format": ArraySpec("U", 0, 1),
                "epochs": ArraySpec("i", 1),
                "w": ArraySpec("f", (2, 3)),
                "log_loss": ArraySpec("f", 1),
                "min_margin": ArraySpec("f", 1),
            },
            optional={"params": ArraySpec("U", 0, 1), "theta": ArraySpec("f", (3, 4))},
        )
        tag = text_field(data["format"], "format", path)
        if tag not in _FORMATS:
            raise ValueError(
                f"trajectory file {str(path)!r} has format {tag!r}; expected {_FORMAT!r}."
            )
        params = parse_json(data["params"], "params", path) if "params" in data else {}
        check_named(params, "optimizer", path, "trajectory")
        try:
            tr = cls(
                data["epochs"],
                data["w"],
                data["log_loss"],
                data["min_margin"],
                params,
                data.get("theta"),
            )
        except ValueError as exc:
            raise ValueError(f"trajectory file {str(path)!r} is inconsistent: {exc}") from None
        if tr.epochs.size and (tr.epochs[0] < 0 or np.any(np.diff(tr.epochs) <= 0)):
            raise ValueError(
                f"trajectory file {str(path)!r} is inconsistent: its epochs must "
                "increase from 0 or more."
            )
        if not np.all(np.isfinite(tr.w)):
            raise ValueError(f"trajectory file {str(path)!r} holds non-finite iterates.")
        return tr

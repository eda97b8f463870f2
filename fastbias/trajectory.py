"""Recorded iterates of a run, with diagnostics and atomic ``.npz`` storage."""

from __future__ import annotations

import json

import numpy as np

from ._io import atomic_savez, load_npz
from .geometry import check_gamma_star, check_p
from .geometry import cosine as _cosine

__all__ = ["Trajectory"]

_FORMAT = "fastbias-trajectory-1"


class Trajectory:
    """Iterates recorded by :func:`fastbias.simulate`.

    Attributes
    ----------
    epochs : ndarray of int64, shape (k,)
        Recorded epochs (0 is the starting point); the last one is the final epoch.
    w : ndarray, shape (k, d)
        Iterates at those epochs; ``w[-1]`` is the final iterate.
    log_loss : ndarray, shape (k,)
        ``log L(w)`` at those epochs (logsumexp, finite at any horizon).
    min_margin : ndarray, shape (k,)
        ``min_i <w, z_i>`` at those epochs.
    params : dict
        The run's parameters (optimizer, schedule, loss, seed, data fingerprint, ...).
    """

    def __init__(self, epochs, w, log_loss, min_margin, params: dict):
        self.epochs = np.asarray(epochs, dtype=np.int64)
        self.w = np.asarray(w, dtype=np.float64)
        self.log_loss = np.asarray(log_loss, dtype=np.float64)
        self.min_margin = np.asarray(min_margin, dtype=np.float64)
        self.params = dict(params)
        k = self.epochs.shape[0]
        if self.w.ndim != 2 or self.w.shape[0] != k or self.log_loss.shape != (k,) or (
            self.min_margin.shape != (k,)
        ):
            raise ValueError(
                "inconsistent trajectory arrays: epochs "
                f"{self.epochs.shape}, w {self.w.shape}, log_loss {self.log_loss.shape}, "
                f"min_margin {self.min_margin.shape}."
            )

    def __repr__(self) -> str:
        opt = self.params.get("optimizer", {}).get("name", "?")
        return (
            f"Trajectory({opt}, records={len(self.epochs)}, final epoch={int(self.epochs[-1])}, "
            f"d={self.w.shape[1]})"
        )

    @property
    def final_w(self) -> np.ndarray:
        """The final iterate ``w[-1]``."""
        return self.w[-1]

    def cosine(self, u) -> np.ndarray:
        """Cosine similarity of each recorded iterate with the direction ``u`` (NaN at w = 0)."""
        return _cosine(self.w, u)

    def normalized_margin(self, p) -> np.ndarray:
        """``gamma_p(w) = min_i <w, z_i> / ||w||_p`` at each record (p in [1, inf] or "inf")."""
        p = check_p(p)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.min_margin / np.linalg.norm(self.w, ord=p, axis=1)

    def margin_ratio(self, p, gamma_star) -> np.ndarray:
        """Normalized-margin ratio ``gamma_p(w) / gamma_p*`` at each record.

        ``gamma_star`` is the max-margin value or the :func:`fastbias.max_margin` result for
        the same ``p``. Use it to compare with l_1 / l_inf max-margin solutions, which may be
        non-unique: a ratio near 1 means the iterate attains the max-margin, whichever
        solution it is near.
        """
        p = check_p(p)
        return self.normalized_margin(p) / check_gamma_star(gamma_star, p)

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
            },
        )

    @classmethod
    def load(cls, path) -> Trajectory:
        """Read a trajectory written by :meth:`save`; ValueError if the file is not one."""
        data = load_npz(path, "trajectory", ("format", "epochs", "w", "log_loss", "min_margin"))
        if str(data["format"]) != _FORMAT:
            raise ValueError(
                f"trajectory file {str(path)!r} has format {str(data['format'])!r}; "
                f"expected {_FORMAT!r}."
            )
        try:
            params = json.loads(str(data.get("params", "{}")))
            return cls(data["epochs"], data["w"], data["log_loss"], data["min_margin"], params)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"trajectory file {str(path)!r} is inconsistent: {exc}") from None

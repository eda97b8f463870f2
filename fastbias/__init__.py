"""fastbias: exact, fast simulation of Adam-type optimizers on linearly separable data.

Kernels for the experiments of *Implicit Bias of Per-sample Adam on Separable Data:
Departure from the Full-batch Regime* (Baek, Song, Yun, ICLR 2026).
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, metrics, theory
from .datasets import Dataset
from .geometry import (
    ConvergenceWarning,
    SolverError,
    cosine,
    fixed_point,
    margin_ratio,
    max_margin,
    normalized_margin,
)
from .metrics import log_loss
from .optimizers import (
    GD,
    AdamProxy,
    DetAdam,
    IncAdam,
    IncSignum,
    NormalizedGD,
    Optimizer,
    SignGD,
)
from .schedules import Constant, PolynomialDecay
from .simulate import simulate, warmup
from .sweep import SweepResult, grid, sweep
from .trajectory import Trajectory

try:
    __version__ = version("fastbias")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = [
    "AdamProxy",
    "Constant",
    "ConvergenceWarning",
    "Dataset",
    "DetAdam",
    "GD",
    "IncAdam",
    "IncSignum",
    "NormalizedGD",
    "Optimizer",
    "PolynomialDecay",
    "SignGD",
    "SolverError",
    "SweepResult",
    "Trajectory",
    "cosine",
    "datasets",
    "fixed_point",
    "grid",
    "log_loss",
    "margin_ratio",
    "max_margin",
    "metrics",
    "normalized_margin",
    "simulate",
    "sweep",
    "theory",
    "warmup",
    "__version__",
]

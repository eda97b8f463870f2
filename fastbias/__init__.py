"""fastbias: exact, fast simulation of Adam-type optimizers on linearly separable data.

Kernels for the experiments of *Implicit Bias of Per-sample Adam on Separable Data:
Departure from the Full-batch Regime* (Baek, Song, Yun, ICLR 2026).
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, metrics
from .datasets import Dataset
from .metrics import cosine, log_loss, normalized_margin
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
from .trajectory import Trajectory

try:
    __version__ = version("fastbias")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = [
    "AdamProxy",
    "Constant",
    "Dataset",
    "DetAdam",
    "GD",
    "IncAdam",
    "IncSignum",
    "NormalizedGD",
    "Optimizer",
    "PolynomialDecay",
    "SignGD",
    "Trajectory",
    "cosine",
    "datasets",
    "log_loss",
    "metrics",
    "normalized_margin",
    "simulate",
    "warmup",
    "__version__",
]

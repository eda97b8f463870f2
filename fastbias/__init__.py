"""fastbias: exact, fast simulation of Adam-type optimizers on linearly separable data.

Kernels for the experiments of *Implicit Bias of Per-sample Adam on Separable Data:
Departure from the Full-batch Regime* (Baek, Song, Yun, ICLR 2026).
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets
from .datasets import Dataset

try:
    __version__ = version("fastbias")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["Dataset", "datasets", "__version__"]

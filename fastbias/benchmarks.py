"""Speed measurements of the kernels, reported as ns per step and as ratios to references.

Two same-process references make the numbers comparable on noisy, shared machines:

* ``plain``: a textbook Numba loop of cyclic Inc-Adam (exp loss, plain float64, one pass for
  the margin and one for the update), the way one would first write it;
* ``c``: the same loop in C, compiled at benchmark time with ``-O3 -march=native
  -fno-math-errno`` and
  OpenMP SIMD pragmas (vectorized dot product and update) when a C compiler is found.

Both references underflow at long horizons (their ``exp`` and moments then go subnormal,
which is slow), so timed runs stay below 10^6 steps, where 10x50 margins are below ~200.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from ._jit import kernel
from ._kernels._scaled import EXP_LOSS, LOGISTIC_LOSS
from ._kernels.loop import run_epochs
from .datasets import gaussian
from .optimizers import GD, AdamProxy, DetAdam, IncAdam, IncSignum, Optimizer
from .schedules import PolynomialDecay

__all__ = ["SHAPES", "OPTIMIZERS", "Timing", "KernelRun", "time_call", "benchmark_table"]

#: (n, d) shapes of the benchmark table.
SHAPES = ((10, 50), (100, 200), (1000, 1000))

#: Most steps of one timed call (keeps the plain references out of float64 underflow).
MAX_STEPS = 10**6

#: Optimizers of the benchmark table.
OPTIMIZERS = {
    "Inc-Adam b=1": IncAdam(),
    "Adam b=5": IncAdam(batch_size=5),
    "Det-Adam": DetAdam(),
    "AdamProxy": AdamProxy(),
    "Inc-Signum b=1": IncSignum(),
    "GD": GD(),
}


@kernel()
def plain_inc_adam(Z, w, m, v, steps, eta0, power, beta1, beta2):
    """Textbook cyclic Inc-Adam, exp loss, plain float64 (timing reference only)."""
    n, d = Z.shape
    for t in range(steps):
        i = t % n
        s = 0.0
        for k in range(d):
            s += Z[i, k] * w[k]
        c = math.exp(-s)
        eta = eta0 * (t + 2.0) ** (-power)
        for k in range(d):
            g = -c * Z[i, k]
            m[k] = beta1 * m[k] + (1.0 - beta1) * g
            v[k] = beta2 * v[k] + (1.0 - beta2) * g * g
            if v[k] > 0.0:
                w[k] -= eta * m[k] / math.sqrt(v[k])


_C_SOURCE = r"""
#include <math.h>
void inc_adam(const double *Z, long n, long d, double *w, double *m, double *v,
              long steps, double eta0, double power, double b1, double b2) {
    for (long t = 0; t < steps; ++t) {
        const double *z = Z + (t % n) * d;
        double s = 0.0;
        #pragma omp simd reduction(+:s)
        for (long k = 0; k < d; ++k) s += z[k] * w[k];
        double c = exp(-s);
        double eta = (power == 0.5) ? eta0 / sqrt(t + 2.0) : eta0 * pow(t + 2.0, -power);
        #pragma omp simd
        for (long k = 0; k < d; ++k) {
            double g = -c * z[k];
            double mk = b1 * m[k] + (1.0 - b1) * g;
            double vk = b2 * v[k] + (1.0 - b2) * g * g;
            m[k] = mk; v[k] = vk;
            w[k] -= vk > 0.0 ? eta * mk / sqrt(vk) : 0.0;
        }
    }
}
"""

_C_KERNEL = None


def c_inc_adam():
    """The C reference kernel as a ctypes function, or None without a working C compiler."""
    global _C_KERNEL
    if _C_KERNEL is None:
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if cc is None:
            _C_KERNEL = False
            return None
        folder = tempfile.mkdtemp(prefix="fastbias-c-")
        src, lib = os.path.join(folder, "inc_adam.c"), os.path.join(folder, "inc_adam.so")
        with open(src, "w") as fh:
            fh.write(_C_SOURCE)
        flags = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp-simd", "-shared", "-fPIC"]
        done = subprocess.run([cc, *flags, src, "-o", lib, "-lm"], capture_output=True)
        if done.returncode != 0:
            _C_KERNEL = False
            return None
        func = ctypes.CDLL(lib).inc_adam
        dp, lg, db = ctypes.POINTER(ctypes.c_double), ctypes.c_long, ctypes.c_double
        func.argtypes = [dp, lg, lg, dp, dp, dp, lg, db, db, db, db]
        func.restype = None
        _C_KERNEL = func
    return _C_KERNEL or None


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


@dataclass
class KernelRun:
    """One fastbias kernel call of ``epochs`` epochs from a fresh state (for timing)."""

    optimizer: Optimizer
    n: int
    d: int
    epochs: int
    loss: str = "exp"

    def __post_init__(self):
        data = gaussian(n=self.n, d=self.d, seed=0, check_separable=False)
        self.Z = np.ascontiguousarray(data.Z)
        self.zinf = np.abs(self.Z).max(axis=1)
        self.log_zinf = np.log(self.zinf)
        self.spec = self.optimizer.resolve(self.n)
        self.steps_per_epoch = -(-self.n // self.spec.batch_size)
        self.steps = self.epochs * self.steps_per_epoch
        self.order = np.arange(self.n, dtype=np.int64).reshape(1, self.n)
        self.lrs = PolynomialDecay().rates(0, self.steps)
        self.loss_code = {"exp": EXP_LOSS, "logistic": LOGISTIC_LOSS}[self.loss]

    def fresh_state(self):
        """Arguments of :meth:`__call__` for a run from w = 0, m = v = 0."""
        return tuple(np.zeros(self.d) for _ in range(3)) + (np.zeros(3),)

    def __call__(self, w, m, v, scale):
        s = self.spec
        run_epochs(s.rule, self.loss_code, self.Z, self.zinf, self.log_zinf, self.order,
                   self.epochs, s.batch_size, self.lrs, s.beta1, s.beta2, w, m, v, scale)
        return w


@dataclass
class Timing:
    """Best-of-``rounds`` time of one call, per step."""

    name: str
    seconds: float
    steps: int

    @property
    def ns_per_step(self) -> float:
        return self.seconds / self.steps * 1e9


def time_call(name, func, setup, steps, rounds=3) -> Timing:
    """Best wall time of ``func(*setup())`` over ``rounds`` calls after one warm-up call."""
    func(*setup())
    best = math.inf
    for _ in range(rounds):
        args = setup()
        start = time.perf_counter()
        func(*args)
        best = min(best, time.perf_counter() - start)
    return Timing(name, best, steps)


def reference_timings(n, d, steps, rounds=3) -> dict:
    """Timings of the plain Numba and (if a compiler is present) C references."""
    Z = np.ascontiguousarray(gaussian(n=n, d=d, seed=0, check_separable=False).Z)

    def setup():
        return (Z, np.zeros(d), np.zeros(d), np.zeros(d))

    out = {"plain": time_call(
        "plain", lambda Z, w, m, v: plain_inc_adam(Z, w, m, v, steps, 0.1, 0.5, 0.9, 0.999),
        setup, steps, rounds)}
    c = c_inc_adam()
    if c is not None:
        out["c"] = time_call(
            "c",
            lambda Z, w, m, v: c(_ptr(Z), n, d, _ptr(w), _ptr(m), _ptr(v), steps,
                                 0.1, 0.5, 0.9, 0.999),
            setup, steps, rounds)
    return out


def benchmark_table(shapes=SHAPES, optimizers=None, losses=("exp",), budget=0.2, rounds=3):
    """Rows of (shape, optimizer, loss, ns/step, ns/coordinate, ratios to references).

    ``budget`` is the approximate duration of one timed call in seconds.
    """
    optimizers = OPTIMIZERS if optimizers is None else optimizers
    rows = []
    for n, d in shapes:
        ref_steps = min(MAX_STEPS, max(1, int(budget / (1.5e-9 * d))))
        refs = reference_timings(n, d, ref_steps, rounds)
        for label, opt in optimizers.items():
            spe = opt.steps_per_epoch(n)
            per_step = 1.5e-9 * d * max(1, opt.resolve(n).batch_size)
            epochs = max(1, min(MAX_STEPS, int(budget / per_step)) // spe)
            for loss in losses:
                run = KernelRun(opt, n, d, epochs, loss)
                t = time_call(label, run, run.fresh_state, run.steps, rounds)
                row = {
                    "shape": f"{n}x{d}", "optimizer": label, "loss": loss,
                    "ns_per_step": t.ns_per_step,
                    "ns_per_coordinate": t.ns_per_step / (d * opt.resolve(n).batch_size),
                }
                for name, ref in refs.items():
                    row[f"{name}_ns_per_step"] = ref.ns_per_step
                    row[f"ratio_to_{name}"] = t.ns_per_step / ref.ns_per_step
                rows.append(row)
    return rows

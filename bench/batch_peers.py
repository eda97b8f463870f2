"""Batch paths against plain peers: ns per step of fastbias and of straightforward loops.

Run as ``python bench/batch_peers.py [--shapes 10x50,100x200] [--rounds 5]``. For each shape
and batch size (1, 5 and the full batch) it times, in this process and in interleaved rounds
(the best of ``--rounds`` is reported, which keeps ratios stable on a shared machine):

- ``fastbias``: ``fb.simulate`` of cyclic mini-batch Adam (Inc-Adam, or Det-Adam for the full
  batch), AdamProxy and GD on the exponential loss, one compiled call from zero;
- ``plain``: the same recurrence as a plain compiled loop (:func:`plain_adam`,
  :func:`plain_proxy`, :func:`plain_gd`): per step the batch's margins one row at a time,
  the gradient summed row by row into a vector, then the update; default compiler flags;
- ``numpy``: the full-batch steps as two BLAS matrix-vector products and array arithmetic
  (on as many threads as the BLAS library uses; fastbias runs on one).

Every peer's iterate is checked against fastbias's (relative 1e-9) after the first epochs
(up to 200 steps) before it is timed; the horizons keep the plain float64 moments normal.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

import fastbias as fb
from fastbias._jit import kernel

#: (n, d) -> epochs of the Inc-Adam runs with one sample per step (normal floats)
EPOCHS_B1 = {(10, 50): 20_000, (100, 200): 2_000, (1000, 1000): 60}


@kernel()
def plain_adam(Z, w, m, v, lrs, beta1, beta2, b):
    """Cyclic mini-batch Adam (paper form: no eps, no bias correction), exp loss."""
    n, d = Z.shape
    g = np.empty(d)
    per_epoch = (n + b - 1) // b
    for t in range(lrs.size):
        start = (t % per_epoch) * b
        nb = min(b, n - start)
        g[:] = 0.0
        for i in range(start, start + nb):
            s = 0.0
            for k in range(d):
                s += Z[i, k] * w[k]
            c = math.exp(-s) / nb
            for k in range(d):
                g[k] -= c * Z[i, k]
        for k in range(d):
            m[k] = beta1 * m[k] + (1.0 - beta1) * g[k]
            v[k] = beta2 * v[k] + (1.0 - beta2) * g[k] * g[k]
            if v[k] > 0.0:
                w[k] -= lrs[t] * m[k] / math.sqrt(v[k])


@kernel()
def plain_proxy(Z, w, lrs):
    """AdamProxy on the full batch: ``w -= eta sum_i g_i / sqrt(sum_i g_i^2)``, exp loss."""
    n, d = Z.shape
    g = np.empty(d)
    q = np.empty(d)
    for t in range(lrs.size):
        g[:] = 0.0
        q[:] = 0.0
        for i in range(n):
            s = 0.0
            for k in range(d):
                s += Z[i, k] * w[k]
            c = math.exp(-s)
            for k in range(d):
                gk = -c * Z[i, k]
                g[k] += gk
                q[k] += gk * gk
        for k in range(d):
            if q[k] > 0.0:
                w[k] -= lrs[t] * g[k] / math.sqrt(q[k])


@kernel()
def plain_gd(Z, w, lrs):
    """Full-batch gradient descent on the mean exp loss."""
    n, d = Z.shape
    g = np.empty(d)
    for t in range(lrs.size):
        g[:] = 0.0
        for i in range(n):
            s = 0.0
            for k in range(d):
                s += Z[i, k] * w[k]
            c = math.exp(-s) / n
            for k in range(d):
                g[k] -= c * Z[i, k]
        for k in range(d):
            w[k] -= lrs[t] * g[k]


def numpy_adam(Z, w, m, v, lrs, beta1, beta2):
    """Full-batch Adam with numpy: two BLAS matrix-vector products per step."""
    n = Z.shape[0]
    for eta in lrs:
        g = -(np.exp(-(Z @ w)) / n) @ Z
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        with np.errstate(invalid="ignore", divide="ignore"):
            w -= eta * np.where(v > 0.0, m / np.sqrt(v), 0.0)


def _cases(n, d):
    """(label, optimizer, epochs, {peer: function of (Z, lrs) returning w})."""
    full_steps = max(1, int(0.1 / (2e-9 * n * d)))
    out = []
    for b in (1, 5, n):
        if b == n:
            opt, epochs = fb.DetAdam(), full_steps
        else:
            opt = fb.IncAdam(batch_size=b)
            epochs = EPOCHS_B1[(n, d)] if b == 1 else max(1, int(0.1 / (2e-9 * n * d)))
        label = f"adam b={'n' if b == n else b}"

        def adam(Z, lrs, b=b):
            w, m, v = np.zeros(d), np.zeros(d), np.zeros(d)
            plain_adam(Z, w, m, v, lrs, 0.9, 0.999, b)
            return w

        peers = {"plain": adam}
        if b == n and n * d >= 10_000:

            def blas(Z, lrs):
                w, m, v = np.zeros(d), np.zeros(d), np.zeros(d)
                numpy_adam(Z, w, m, v, lrs, 0.9, 0.999)
                return w

            peers["numpy"] = blas
        out.append((label, opt, epochs, peers))

    def proxy(Z, lrs):
        w = np.zeros(d)
        plain_proxy(Z, w, lrs)
        return w

    def gd(Z, lrs):
        w = np.zeros(d)
        plain_gd(Z, w, lrs)
        return w

    out.append(("adam-proxy", fb.AdamProxy(), full_steps, {"plain": proxy}))
    out.append(("gd", fb.GD(), full_steps, {"plain": gd}))
    return out


def _timed(func, rounds_times):
    start = time.perf_counter()
    result = func()
    rounds_times.append(time.perf_counter() - start)
    return result


def measure(n, d, rounds=5):
    """Rows ``(shape, label, steps, fastbias ns/step, {peer: ns/step})``."""
    # short runs on random data end before they separate it: that is not what is timed
    warnings.simplefilter("ignore", fb.NotSeparatedWarning)
    data = fb.datasets.gaussian(n=n, d=d, seed=0, check_separable=False)
    data.kernel_arrays()
    Z = np.ascontiguousarray(data.Z)
    rows = []
    for label, opt, epochs, peers in _cases(n, d):
        steps = epochs * opt.steps_per_epoch(n)
        lrs = opt.default_lr.rates(0, steps)
        kwargs = dict(epochs=epochs, loss="exp", record=1, progress=False, chunk_epochs=epochs)

        def ours(opt=opt, kwargs=kwargs):
            return fb.simulate(data, opt, **kwargs).w[-1]

        funcs = {"fastbias": ours}
        funcs.update({k: (lambda f=f, lrs=lrs: f(Z, lrs)) for k, f in peers.items()})
        # checked on the first epochs (sign-like rules such as AdamProxy are chaotic later)
        check = max(1, min(epochs, 200 // opt.steps_per_epoch(n)))
        expected = fb.simulate(data, opt, **dict(kwargs, epochs=check)).w[-1]
        short = lrs[: check * opt.steps_per_epoch(n)]
        for name, f in peers.items():
            w = f(Z, short)
            err = np.linalg.norm(w - expected) / max(np.linalg.norm(expected), 1e-300)
            if not err < 1e-9:
                raise RuntimeError(f"{label} {n}x{d}: {name} differs from fastbias ({err:.1e})")
        times = {name: [] for name in funcs}
        for _ in range(rounds):
            for name, f in funcs.items():
                _timed(f, times[name])
        ns = {name: min(t) / steps * 1e9 for name, t in times.items()}
        rows.append((f"{n}x{d}", label, steps, ns.pop("fastbias"), ns))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="10x50,100x200,1000x1000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'shape':>10s} {'case':>11s} {'steps':>8s} {'fastbias':>10s}  peers (ns/step, ratio)")
    for shape in args.shapes.split(","):
        n, d = (int(x) for x in shape.split("x"))
        for sh, label, steps, ours, peers in measure(n, d, args.rounds):
            text = "  ".join(f"{k} {v:9.1f} ({ours / v:.2f}x)" for k, v in peers.items())
            print(f"{sh:>10s} {label:>11s} {steps:8d} {ours:10.1f}  {text}", flush=True)


if __name__ == "__main__":
    main()

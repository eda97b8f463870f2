"""Slow, direct references for the fastbias optimizers.

Every function follows the formulas of SPEC sections 1-3 one step at a time, in plain
float64 NumPy (``simulate_reference``) or in stdlib ``decimal`` with a wide exponent range
(``simulate_decimal``, ``log_loss_reference``). Nothing here is chunked, jitted or rescaled,
except through the explicit ``log_scale`` argument of the float64 reference.

Conventions shared by all functions:

- ``Z`` is the (n, d) matrix of signed samples ``z_i = y_i x_i``; margins are ``<w, z_i>``.
- ``lr`` is a schedule tuple: ``("poly", eta0, power)`` for ``eta0 * (t + 2) ** (-power)``
  or ``("const", eta)``; ``t`` counts optimizer steps from 0 (not epochs).
- Sampling contract: ``rng = np.random.default_rng(seed)`` is created once per run and
  epoch e = 0, 1, ... draws ``rng.permutation(n)`` (reshuffle) or
  ``rng.integers(0, n, size=n)`` (replacement) in epoch order; cyclic draws nothing.
"""

from decimal import Context, Decimal, localcontext

import numpy as np

TOL = 1e-12
"""Relative tolerance for comparing the kernels with these references."""

METHODS = ("adam", "signum", "proxy", "signgd", "gd", "ngd")
LOSSES = ("exp", "logistic")
SAMPLINGS = ("cyclic", "reshuffle", "replacement")

DECIMAL_CONTEXT = Context(prec=50, Emin=-(10**6), Emax=10**6)
"""50 significant digits; exp(-s) is representable for margins s up to about 2.3e6."""


# ---------------------------------------------------------------------------------------
# shared pieces
# ---------------------------------------------------------------------------------------


def learning_rate(schedule, t):
    """Learning rate of optimizer step ``t``.

    Parameters
    ----------
    schedule : tuple
        ``("poly", eta0, power)`` or ``("const", eta)``.
    t : int
        Global optimizer step counter, starting at 0.

    Returns
    -------
    float
        ``eta0 * (t + 2) ** (-power)`` or ``eta``.
    """
    kind = schedule[0]
    if kind == "poly":
        _, eta0, power = schedule
        return float(eta0) * float(t + 2) ** (-float(power))
    if kind == "const":
        _, eta = schedule
        return float(eta)
    raise ValueError(f"schedule must start with 'poly' or 'const'; got {schedule!r}.")


def epoch_order(n, sampling, rng):
    """Sample order of one epoch.

    Parameters
    ----------
    n : int
        Number of samples.
    sampling : {"cyclic", "reshuffle", "replacement"}
        ``cyclic`` gives ``0, ..., n-1`` and draws nothing; ``reshuffle`` draws
        ``rng.permutation(n)``; ``replacement`` draws ``rng.integers(0, n, size=n)``.
    rng : numpy.random.Generator
        The run's generator, created once per run.

    Returns
    -------
    ndarray of int, shape (n,)
    """
    if sampling == "cyclic":
        return np.arange(n)
    if sampling == "reshuffle":
        return rng.permutation(n)
    if sampling == "replacement":
        return rng.integers(0, n, size=n)
    raise ValueError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}.")


def epoch_batches(order, batch_size):
    """Cut an epoch's order into consecutive batches.

    Parameters
    ----------
    order : ndarray of int
        Sample order of the epoch.
    batch_size : int
        Batch size b; the last batch is smaller when b does not divide ``len(order)``.

    Returns
    -------
    list of ndarray
        ``ceil(len(order) / b)`` index arrays.
    """
    b = int(batch_size)
    if b < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size!r}.")
    return [order[start : start + b] for start in range(0, len(order), b)]


def neg_loss_derivative(s, loss, log_scale=0.0):
    """``-l'(s) * exp(log_scale)`` in float64.

    Parameters
    ----------
    s : float or ndarray
        Margins.
    loss : {"exp", "logistic"}
        ``exp``: ``exp(log_scale - s)``; ``logistic``: ``exp(log_scale) / (1 + exp(s))``,
        evaluated as ``exp(log_scale - s) / (1 + exp(-s))`` for ``s >= 0``.
    log_scale : float, default 0.0
        Common log-factor c multiplying every derivative.

    Returns
    -------
    float or ndarray
        Same shape as ``s``.
    """
    s = np.asarray(s, dtype=np.float64)
    c = float(log_scale)
    if loss == "exp":
        out = np.exp(c - s)
    elif loss == "logistic":
        out = np.empty_like(s)
        pos = s >= 0
        sp = s[pos]
        out[pos] = np.exp(c - sp) / (1.0 + np.exp(-sp))
        if not pos.all():  # exp(c) alone may overflow when no margin is negative
            out[~pos] = np.exp(c) / (1.0 + np.exp(s[~pos]))
    else:
        raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}.")
    return out[()] if out.ndim == 0 else out


def batch_gradient(Z, w, batch, loss, log_scale=0.0):
    """Batch gradient ``g = (1/|B|) sum_{i in B} l'(<w, z_i>) z_i`` times ``exp(log_scale)``.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        Signed samples.
    w : ndarray, shape (d,)
        Iterate.
    batch : ndarray of int
        Indices of the batch (repeats count as often as they occur).
    loss : {"exp", "logistic"}
    log_scale : float, default 0.0

    Returns
    -------
    ndarray, shape (d,)
    """
    g = np.zeros(Z.shape[1])
    for i in batch:
        margin = float(np.dot(Z[i], w))
        g -= neg_loss_derivative(margin, loss, log_scale) * Z[i]
    return g / len(batch)


def _check_common(Z, method, loss, sampling, batch_size, epochs):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}.")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}.")
    n = Z.shape[0]
    b = n if batch_size is None else int(batch_size)
    if not 1 <= b <= n:
        raise ValueError(f"batch_size must be in 1..{n}; got {batch_size!r}.")
    if int(epochs) < 0:
        raise ValueError(f"epochs must be >= 0; got {epochs!r}.")
    return b


# ---------------------------------------------------------------------------------------
# float64 reference
# ---------------------------------------------------------------------------------------


def simulate_reference(
    Z,
    method,
    *,
    epochs,
    lr,
    loss="exp",
    seed=0,
    w0=None,
    beta1=0.9,
    beta2=0.999,
    beta=0.99,
    batch_size=None,
    sampling="cyclic",
    log_scale=0.0,
):
    """Run an optimizer step by step in plain float64.

    Parameters
    ----------
    Z : array_like, shape (n, d)
        Signed samples ``z_i = y_i x_i``.
    method : {"adam", "signum", "proxy", "signgd", "gd", "ngd"}
        ``adam``: ``m = b1 m + (1-b1) g; v = b2 v + (1-b2) g*g; w -= eta_t m / sqrt(v)``
        (no epsilon, no bias correction, step 0 where ``v[k] == 0``).
        ``signum``: ``m = beta m + (1-beta) g; w -= eta_t sign(m)``.
        ``proxy``: AdamProxy (Definition 4.2), one full-data step per epoch,
        ``w -= eta_t (sum_i grad L_i) / sqrt(sum_i grad L_i**2)`` (0/0 -> 0); batch_size
        and sampling are ignored and t is the epoch index.
        ``signgd``: ``w -= eta_t sign(g)``. ``gd``: ``w -= eta_t g``.
        ``ngd``: ``w -= eta_t g / ||g||_2`` (0 where ``||g||_2 == 0``).
        ``sign(0) = 0`` throughout.
    epochs : int
        Number of epochs (>= 0).
    lr : tuple
        ``("poly", eta0, power)`` or ``("const", eta)``.
    loss : {"exp", "logistic"}, default "exp"
    seed : int, default 0
        Seed of the run's ``numpy.random.default_rng``.
    w0 : array_like, shape (d,), optional
        Starting point; zeros by default.
    beta1, beta2 : float, default 0.9, 0.999
        Adam moment parameters.
    beta : float, default 0.99
        Signum momentum parameter.
    batch_size : int, optional
        Batch size b in 1..n; None means n (full batch).
    sampling : {"cyclic", "reshuffle", "replacement"}, default "cyclic"
    log_scale : float, default 0.0
        Every loss derivative is multiplied by ``exp(log_scale)``. All methods but ``gd``
        are invariant to this in exact arithmetic; it keeps float64 meaningful at large
        margins.

    Returns
    -------
    ndarray, shape (epochs + 1, d)
        ``W[e]`` is the iterate after e epochs; ``W[0] = w0``.

    Raises
    ------
    ValueError
        Unknown method, loss or sampling; batch size outside 1..n; negative epochs;
        ``gd`` with a nonzero ``log_scale``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n, d = Z.shape
    b = _check_common(Z, method, loss, sampling, batch_size, epochs)
    if method == "gd" and log_scale != 0:
        raise ValueError(f"gd is not scale-invariant; log_scale must be 0, got {log_scale!r}.")
    w = np.zeros(d) if w0 is None else np.array(w0, dtype=np.float64)
    W = np.empty((int(epochs) + 1, d))
    W[0] = w

    if method == "proxy":
        for e in range(int(epochs)):
            eta = learning_rate(lr, e)
            grads = np.empty((n, d))  # row i: grad L_i(w) = l'(<w, z_i>) z_i
            for i in range(n):
                margin = float(np.dot(Z[i], w))
                grads[i] = -neg_loss_derivative(margin, loss, log_scale) * Z[i]
            numerator = grads.sum(axis=0)
            denominator_sq = (grads * grads).sum(axis=0)
            step = np.zeros(d)
            for k in range(d):
                if denominator_sq[k] != 0.0:
                    step[k] = numerator[k] / np.sqrt(denominator_sq[k])
            w = w - eta * step
            W[e + 1] = w
        return W

    rng = np.random.default_rng(seed)
    m = np.zeros(d)
    v = np.zeros(d)
    t = 0
    for e in range(int(epochs)):
        order = epoch_order(n, sampling, rng)
        for batch in epoch_batches(order, b):
            g = batch_gradient(Z, w, batch, loss, log_scale)
            eta = learning_rate(lr, t)
            if method == "adam":
                m = beta1 * m + (1.0 - beta1) * g
                v = beta2 * v + (1.0 - beta2) * g * g
                step = np.zeros(d)
                for k in range(d):
                    if v[k] != 0.0:
                        step[k] = m[k] / np.sqrt(v[k])
            elif method == "signum":
                m = beta * m + (1.0 - beta) * g
                step = np.sign(m)
            elif method == "signgd":
                step = np.sign(g)
            elif method == "gd":
                step = g
            else:  # ngd
                norm = np.sqrt(np.sum(g * g))
                step = g / norm if norm != 0.0 else np.zeros(d)
            w = w - eta * step
            t += 1
        W[e + 1] = w
    return W


# ---------------------------------------------------------------------------------------
# high-precision reference
# ---------------------------------------------------------------------------------------


def _dec_learning_rate(schedule, t):
    kind = schedule[0]
    if kind == "poly":
        _, eta0, power = schedule
        return Decimal(float(eta0)) * Decimal(t + 2) ** (-Decimal(float(power)))
    if kind == "const":
        return Decimal(float(schedule[1]))
    raise ValueError(f"schedule must start with 'poly' or 'const'; got {schedule!r}.")


def _dec_neg_loss_derivative(s, loss):
    if loss == "exp":
        return (-s).exp()
    return 1 / (1 + s.exp())


def _dec_sign(x):
    return Decimal((x > 0) - (x < 0))


def _dec_margin(z, w):
    return sum((zk * wk for zk, wk in zip(z, w, strict=True)), Decimal(0))


def _dec_log1p(x):
    """``ln(1 + x)`` for ``x >= 0`` without losing tiny ``x`` to rounding of ``1 + x``."""
    if x >= Decimal("1e-10"):
        return (1 + x).ln()
    total = Decimal(0)
    power = x
    k = 1
    while True:  # alternating series; terms shrink by a factor <= 1e-10
        term = power / k
        total += term if k % 2 else -term
        if term <= x * Decimal("1e-60"):
            return total
        power *= x
        k += 1


def simulate_decimal(
    Z,
    method,
    *,
    epochs,
    lr,
    loss="exp",
    seed=0,
    w0=None,
    beta1=0.9,
    beta2=0.999,
    beta=0.99,
    batch_size=None,
    sampling="cyclic",
):
    """Run an optimizer in 50-digit decimal arithmetic with a wide exponent range.

    Same recurrences, parameters and sampling contract as :func:`simulate_reference`
    (without ``log_scale``): every input float is converted exactly to ``Decimal`` and
    ``exp(-s)`` stays representable for margins up to about 2.3e6, so nothing
    underflows. Meant for a few steps: it is slow.

    Parameters
    ----------
    Z, method, epochs, lr, loss, seed, w0, beta1, beta2, beta, batch_size, sampling
        As in :func:`simulate_reference`.

    Returns
    -------
    ndarray, shape (epochs + 1, d)
        Iterates rounded to float64; ``W[0] = w0``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n, d = Z.shape
    b = _check_common(Z, method, loss, sampling, batch_size, epochs)
    w0 = np.zeros(d) if w0 is None else np.asarray(w0, dtype=np.float64)

    def to_float(w):
        return [float(x) for x in w]

    with localcontext(DECIMAL_CONTEXT):
        zero = Decimal(0)
        Zd = [[Decimal(float(x)) for x in row] for row in Z]
        w = [Decimal(float(x)) for x in w0]
        out = [to_float(w)]

        if method == "proxy":
            for e in range(int(epochs)):
                eta = _dec_learning_rate(lr, e)
                numerator = [zero] * d
                denominator_sq = [zero] * d
                for z in Zd:
                    phi = _dec_neg_loss_derivative(_dec_margin(z, w), loss)
                    for k in range(d):
                        grad = -phi * z[k]
                        numerator[k] += grad
                        denominator_sq[k] += grad * grad
                for k in range(d):
                    if denominator_sq[k] != 0:
                        w[k] -= eta * numerator[k] / denominator_sq[k].sqrt()
                out.append(to_float(w))
            return np.array(out, dtype=np.float64)

        b1, b2, bt = Decimal(float(beta1)), Decimal(float(beta2)), Decimal(float(beta))
        rng = np.random.default_rng(seed)
        m = [zero] * d
        v = [zero] * d
        t = 0
        for _ in range(int(epochs)):
            order = epoch_order(n, sampling, rng)
            for batch in epoch_batches(order, b):
                g = [zero] * d
                for i in batch:
                    phi = _dec_neg_loss_derivative(_dec_margin(Zd[i], w), loss)
                    for k in range(d):
                        g[k] -= phi * Zd[i][k]
                g = [gk / len(batch) for gk in g]
                eta = _dec_learning_rate(lr, t)
                if method == "adam":
                    m = [b1 * mk + (1 - b1) * gk for mk, gk in zip(m, g, strict=True)]
                    v = [b2 * vk + (1 - b2) * gk * gk for vk, gk in zip(v, g, strict=True)]
                    step = [
                        mk / vk.sqrt() if vk != 0 else zero for mk, vk in zip(m, v, strict=True)
                    ]
                elif method == "signum":
                    m = [bt * mk + (1 - bt) * gk for mk, gk in zip(m, g, strict=True)]
                    step = [_dec_sign(mk) for mk in m]
                elif method == "signgd":
                    step = [_dec_sign(gk) for gk in g]
                elif method == "gd":
                    step = g
                else:  # ngd
                    norm = sum((gk * gk for gk in g), zero).sqrt()
                    step = [gk / norm if norm != 0 else zero for gk in g]
                w = [wk - eta * sk for wk, sk in zip(w, step, strict=True)]
                t += 1
            out.append(to_float(w))
    return np.array(out, dtype=np.float64)


def log_loss_reference(Z, w, loss="exp"):
    """``log L(w)``, ``L(w) = (1/n) sum_i l(<w, z_i>)``, in 50-digit decimal arithmetic.

    Accurate for margins of thousands (where ``exp(-s)`` underflows in float64), with
    either sign.

    Parameters
    ----------
    Z : array_like, shape (n, d)
        Signed samples.
    w : array_like, shape (d,)
        Iterate.
    loss : {"exp", "logistic"}, default "exp"
        ``l(s) = exp(-s)`` or ``l(s) = log(1 + exp(-s))``.

    Returns
    -------
    float
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}.")
    Z = np.asarray(Z, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    with localcontext(DECIMAL_CONTEXT):
        wd = [Decimal(float(x)) for x in w]
        total = Decimal(0)
        for row in Z:
            s = _dec_margin([Decimal(float(x)) for x in row], wd)
            if loss == "exp":
                total += (-s).exp()
            else:
                total += _dec_log1p((-s).exp())
        return float((total / Z.shape[0]).ln())

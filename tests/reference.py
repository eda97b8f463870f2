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

import math
from decimal import Context, Decimal, localcontext

import numpy as np

TOL = 1e-12
"""Relative tolerance for comparing the kernels with these references."""

METHODS = ("adam", "signum", "proxy", "signgd", "gd", "ngd")
LOSSES = ("exp", "logistic")
"""The binary losses written out here; tests that register a loss add theirs to
:data:`REFERENCE_LOSSES`."""

REFERENCE_LOSSES = {}
"""Losses registered by tests: name -> ``log_neg_derivative(s, *params)``, ``log(-l'(s))``
for an array of margins, written from the loss's formula (not from its kernel)."""
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
    loss : {"exp", "logistic"}, a name of :data:`REFERENCE_LOSSES`, or a loss object
        ``exp``: ``exp(log_scale - s)``; ``logistic``: ``exp(log_scale) / (1 + exp(s))``,
        evaluated as ``exp(log_scale - s) / (1 + exp(-s))`` for ``s >= 0``. A loss object
        (a registered ``fastbias`` loss) is looked up in :data:`REFERENCE_LOSSES` by its
        name, with its parameters.
    log_scale : float, default 0.0
        Common log-factor c multiplying every derivative.

    Returns
    -------
    float or ndarray
        Same shape as ``s``.
    """
    s = np.asarray(s, dtype=np.float64)
    c = float(log_scale)
    name = getattr(loss, "name", loss)
    if name in REFERENCE_LOSSES:
        params = loss.parameters().tolist() if hasattr(loss, "parameters") else []
        out = np.exp(c + REFERENCE_LOSSES[name](s, *params))
    elif loss == "exp":
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
# multiclass derivatives
# ---------------------------------------------------------------------------------------


def multiclass_derivatives(scores, label, loss, log_scale=0.0):
    """``dl/ds_c * exp(log_scale)`` for one sample's class scores (SPEC section 9).

    ``ce``: ``l = log sum_c exp(s_c - s_y)``, ``dl/ds_c = p_c`` (c != y) and
    ``dl/ds_y = -sum_{c != y} p_c`` with ``p = softmax(s)``. ``exp``:
    ``l = sum_{c != y} exp(s_c - s_y)``, ``dl/ds_c = exp(s_c - s_y)`` (c != y) and
    ``dl/ds_y = -sum_{c != y} exp(s_c - s_y)``. Computed relative to the largest score, so
    that nothing overflows; the sum over c != y is formed directly, never as ``1 - p_y``.
    """
    s = np.asarray(scores, dtype=np.float64)
    others = np.arange(s.size) != label
    out = np.empty_like(s)
    if loss == "ce":
        top = s.max()
        log_total = top + np.log(np.exp(s - top).sum())  # log sum_c exp(s_c)
        out[others] = np.exp((s[others] - log_total) + log_scale)
    elif loss == "exp":
        out[others] = np.exp((s[others] - s[label]) + log_scale)
    else:
        raise ValueError(f"loss must be 'ce' or 'exp' for multiclass data; got {loss!r}.")
    out[label] = -out[others].sum()
    return out


def sample_gradients(rows, labels, W, batch, loss, log_scale, multiclass):
    """Per-sample gradients ``dl_i/dW`` (k, d) of a batch, times ``exp(log_scale)``.

    Binary: ``rows`` are the signed samples and ``W`` has one row; ``dl/dw = l'(s) z``.
    """
    out = []
    for i in batch:
        x = rows[i]
        if multiclass:
            coef = multiclass_derivatives(W @ x, labels[i], loss, log_scale)
        else:
            coef = np.array([-neg_loss_derivative(float(np.dot(x, W[0])), loss, log_scale)])
        out.append(np.outer(coef, x))
    return out


def log_sample_loss(s, loss, label=None):
    """``log l`` of one sample: from its margin (binary) or its scores and class (multiclass).

    Written from the losses' formulas: exp ``-s``; logistic ``log(log(1 + e^-s))`` (``-s -
    e^-s / 2`` past s = 36, where ``log1p(e^-s)`` is ``e^-s`` to rounding); ce
    ``log(log(1 + sum_{c != y} e^(s_c - s_y)))``; multiclass exp ``log sum_{c != y} e^(s_c -
    s_y)``.
    """
    if label is None:
        if loss == "exp":
            return -s
        if s > 36.0:
            return -s - 0.5 * math.exp(-s)
        return math.log(math.log1p(math.exp(-s)) if s > -36.0 else -s + math.log1p(math.exp(s)))
    a = np.delete(np.asarray(s) - s[label], label)
    top = a.max()
    u = top + math.log(np.exp(a - top).sum())
    if loss == "exp":
        return u
    return u - 0.5 * math.exp(u) if u < -36.0 else math.log(math.log1p(math.exp(u)))


def sample_losses(rows, labels, W, batch, loss, log_scale, multiclass):
    """Per-sample losses ``l_i * exp(log_scale)`` of a batch (for loss-normalized GD)."""
    out = []
    for i in batch:
        if multiclass:
            value = log_sample_loss(W @ rows[i], loss, labels[i])
        else:
            value = log_sample_loss(float(np.dot(rows[i], W[0])), loss)
        out.append(math.exp(value + log_scale))
    return np.array(out)


# ---------------------------------------------------------------------------------------
# diagonal linear networks (SPEC 13), written from the formulas
# ---------------------------------------------------------------------------------------


def diagonal_weights(theta, depth):
    """Effective weights ``u^D - v^D`` of ``theta = (u, v)`` (stacked on the first axis)."""
    theta = np.asarray(theta, dtype=np.float64)
    return theta[0] ** depth - theta[1] ** depth


def diagonal_factors(theta, depth):
    """The chain-rule factors ``(dw/du, dw/dv) = (D u^(D-1), -D v^(D-1))``, stacked."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.stack([depth * theta[0] ** (depth - 1), -depth * theta[1] ** (depth - 1)])


# ---------------------------------------------------------------------------------------
# one step of every optimizer (SPEC sections 2, 8 and 9), written from the formulas
# ---------------------------------------------------------------------------------------


def _sign(x):
    return np.sign(x)  # sign(0) = 0


def _divide_or_zero(num, den):
    """``num / den`` entrywise, 0 where ``den == 0`` (the 0/0 rule)."""
    out = np.zeros_like(num)
    nz = den != 0.0
    out[nz] = num[nz] / den[nz]
    return out


def polar(M, ns_steps=None, rtol=1e-12):
    """``U V^T`` of the thin SVD with singular values <= rtol * max dropped, or NS steps."""
    norm = np.linalg.norm(M)
    if norm == 0.0:
        return np.zeros_like(M)
    X = M / norm
    if ns_steps:
        a, b, c = 3.4445, -4.7750, 2.0315
        for _ in range(ns_steps):
            A = X @ X.T
            X = a * X + (b * A + c * A @ A) @ X
        return X
    U, sv, Vt = np.linalg.svd(X, full_matrices=False)
    keep = sv > rtol * sv[0]
    return U[:, keep] @ Vt[keep]


def scaled_eps(eps, log_scale):
    """``eps * exp(log_scale)``: eps in the units of the scaled gradients."""
    return 0.0 if eps == 0.0 else float(np.exp(np.log(eps) + log_scale))


def step_adam(p, grads, W, state, eta, t, log_scale):
    """torch.optim.Adam / AdamW as SPEC 8 writes them (the paper's Adam by default), with
    AMSGrad (torch's: vmax uncorrected) and optax's eps_root (SPEC 11)."""
    g = np.mean(grads, axis=0)
    b1, b2 = p.get("beta1", 0.0), p["beta2"]
    m = b1 * state.get("m", 0.0) + (1.0 - b1) * g
    v = b2 * state.get("v", 0.0) + (1.0 - b2) * g * g
    state["m"], state["v"] = m, v
    if p.get("amsgrad", False):
        v = state["vmax"] = np.maximum(state.get("vmax", 0.0), v)
    bc1 = bc2 = 1.0
    if p.get("bias_correction", False):
        bc1, bc2 = 1.0 - b1 ** (t + 1), 1.0 - b2 ** (t + 1)
    root = scaled_eps(p.get("eps_root", 0.0), 2.0 * log_scale)
    denom = np.sqrt(v / bc2 + root) + scaled_eps(p.get("eps", 0.0), log_scale)
    W = W * (1.0 - eta * p.get("weight_decay", 0.0))
    return W - eta / bc1 * _divide_or_zero(m, denom)


def step_nadam(p, grads, W, state, eta, t, log_scale):
    """optax.nadam (SPEC 11): m, v first; m_hat = b1 m / (1 - b1^(t+2)) + (1 - b1) g /
    (1 - b1^(t+1)), v_hat = v / (1 - b2^(t+1))."""
    g = np.mean(grads, axis=0)
    b1, b2 = p["beta1"], p["beta2"]
    m = b1 * state.get("m", 0.0) + (1.0 - b1) * g
    v = b2 * state.get("v", 0.0) + (1.0 - b2) * g * g
    state["m"], state["v"] = m, v
    m_hat = b1 * m / (1.0 - b1 ** (t + 2)) + (1.0 - b1) * g / (1.0 - b1 ** (t + 1))
    v_hat = v / (1.0 - b2 ** (t + 1))
    return W - eta * _divide_or_zero(m_hat, np.sqrt(v_hat) + scaled_eps(p["eps"], log_scale))


def step_adabelief(p, grads, W, state, eta, t, log_scale):
    """optax.adabelief (SPEC 11): m first; s = b2 s + (1 - b2) (g - m)^2 + eps_root."""
    g = np.mean(grads, axis=0)
    b1, b2 = p["beta1"], p["beta2"]
    m = b1 * state.get("m", 0.0) + (1.0 - b1) * g
    s = b2 * state.get("s", 0.0) + (1.0 - b2) * (g - m) ** 2
    s = s + scaled_eps(p["eps_root"], 2.0 * log_scale)
    state["m"], state["s"] = m, s
    m_hat = m / (1.0 - b1 ** (t + 1))
    s_hat = s / (1.0 - b2 ** (t + 1))
    return W - eta * _divide_or_zero(m_hat, np.sqrt(s_hat) + scaled_eps(p["eps"], log_scale))


def step_adamax(p, grads, W, state, eta, t, log_scale):
    """optax.adamax (SPEC 11): u = max(b2 u, |g| + eps); w -= eta (m / (1 - b1^(t+1))) / u."""
    g = np.mean(grads, axis=0)
    b1, b2 = p["beta1"], p["beta2"]
    m = b1 * state.get("m", 0.0) + (1.0 - b1) * g
    u = np.maximum(b2 * state.get("u", 0.0), np.abs(g) + scaled_eps(p["eps"], log_scale))
    state["m"], state["u"] = m, u
    return W - eta * _divide_or_zero(m / (1.0 - b1 ** (t + 1)), u)


def _descent_power(norm):
    """The p of a steepest-descent norm (a number, or the P of "schatten-P")."""
    return float(norm.split("-", 1)[1]) if isinstance(norm, str) else float(norm)


def lp_direction(m, p):
    """argmax_{||d||_p <= 1} <m, d> entrywise (SPEC 11), written from the formula."""
    m = np.asarray(m, dtype=np.float64)
    top = np.abs(m).max()
    if top == 0.0:
        return np.zeros_like(m)
    if p == math.inf:
        return np.sign(m)
    if p == 1.0:
        tied = np.abs(m) == top
        return np.sign(m) * tied / tied.sum()
    q = p / (p - 1.0)
    a = np.abs(m) / top
    return np.sign(m) * a ** (q - 1.0) / np.sum(a**q) ** (1.0 / p)


def schatten_direction(M, p, rtol=1e-12):
    """argmax_{||D||_{S_p} <= 1} <M, D> (SPEC 11), from numpy's SVD."""
    if not np.any(M):
        return np.zeros_like(M)
    U, sv, Vt = np.linalg.svd(M / np.linalg.norm(M), full_matrices=False)
    keep = sv > rtol * sv[0]
    U, sv, Vt = U[:, keep], sv[keep], Vt[keep]
    if p == math.inf:
        weights = np.ones_like(sv)
    elif p == 1.0:
        weights = (sv == sv[0]) / np.sum(sv == sv[0])
    else:
        q = p / (p - 1.0)
        a = sv / sv[0]
        weights = a ** (q - 1.0) / np.sum(a**q) ** (1.0 / p)
    return (U * weights) @ Vt


def step_steepest(p, grads, W, state, eta, t, log_scale):
    """Normalized steepest descent with momentum (SPEC 11)."""
    g = np.mean(grads, axis=0)
    mu = p["momentum"]
    m = mu * state.get("m", 0.0) + (1.0 - mu) * g
    state["m"] = m
    power = _descent_power(p["norm"])
    if isinstance(p["norm"], str):
        return W - eta * schatten_direction(m, power)
    return W - eta * lp_direction(m, power)


def step_lngd(p, grads, W, state, eta, t, log_scale):
    """Loss-normalized GD (SPEC 12): ``w -= eta grad L / (L max(1, -log L)^power)`` with the
    batch's mean loss L (the losses are scaled by exp(log_scale), like the gradients)."""
    loss = np.mean(state["losses"])
    if not loss > 0:
        return W.copy()
    divisor = loss * max(1.0, log_scale - math.log(loss)) ** p.get("power", 0.0)
    return W - eta * np.mean(grads, axis=0) / divisor


step_lngd.takes_losses = True


def step_mirror(p, grads, W, state, eta, t, log_scale):
    """p-GD (SPEC 11): phi = sign(w) |w|^(p-1) (from w0 at the start), phi -= eta g."""
    g = np.mean(grads, axis=0)
    power = p["p"]
    phi = state.get("phi", np.sign(W) * np.abs(W) ** (power - 1.0)) - eta * g
    state["phi"] = phi
    return np.sign(phi) * np.abs(phi) ** (1.0 / (power - 1.0))


def step_signum(p, grads, W, state, eta, t, log_scale):
    g = np.mean(grads, axis=0)
    m = p["beta"] * state.get("m", 0.0) + (1.0 - p["beta"]) * g
    state["m"] = m
    return W - eta * _sign(m)


def step_lion(p, grads, W, state, eta, t, log_scale):
    """Chen et al. (2023), SPEC 8: ``w -= eta (sign(b1 m + (1-b1) g) + wd w)``."""
    g = np.mean(grads, axis=0)
    m = state.get("m", 0.0)
    c = p["beta1"] * m + (1.0 - p["beta1"]) * g
    state["m"] = p["beta2"] * m + (1.0 - p["beta2"]) * g
    return W - eta * (_sign(c) + p["weight_decay"] * W)


def step_adagrad(p, grads, W, state, eta, t, log_scale):
    """torch.optim.Adagrad (lr_decay 0, initial accumulator 0)."""
    g = np.mean(grads, axis=0)
    v = state.get("v", 0.0) + g * g
    state["v"] = v
    return W - eta * _divide_or_zero(g, np.sqrt(v) + scaled_eps(p["eps"], log_scale))


def step_sgd(p, grads, W, state, eta, t, log_scale):
    """torch.optim.SGD with dampening 0 (plain float64: log_scale must be 0)."""
    g = np.mean(grads, axis=0)
    buf = p["momentum"] * state.get("buf", 0.0) + g
    state["buf"] = buf
    return W - eta * (g + p["momentum"] * buf if p["nesterov"] else buf)


def step_signgd(p, grads, W, state, eta, t, log_scale):
    return W - eta * _sign(np.mean(grads, axis=0))


def step_gd(p, grads, W, state, eta, t, log_scale):
    return W - eta * np.mean(grads, axis=0)


def step_ngd(p, grads, W, state, eta, t, log_scale):
    g = np.mean(grads, axis=0)
    norm = np.sqrt(np.sum(g * g))
    return W - eta * g / norm if norm != 0.0 else W.copy()


def step_proxy(p, grads, W, state, eta, t, log_scale):
    """Definition 4.2: ``w -= eta (sum_i grad_i) / sqrt(sum_i grad_i^2)`` (0/0 -> 0)."""
    G = np.asarray(grads)
    return W - eta * _divide_or_zero(G.sum(axis=0), np.sqrt((G * G).sum(axis=0)))


def step_spectral(p, grads, W, state, eta, t, log_scale):
    return W - eta * polar(np.mean(grads, axis=0))


def step_muon(p, grads, W, state, eta, t, log_scale):
    g = np.mean(grads, axis=0)
    B = p["momentum"] * state.get("B", 0.0) + g
    state["B"] = B
    M = g + p["momentum"] * B if p["nesterov"] else B
    return W - eta * polar(M, p["ns_steps"])


#: Reference step of each optimizer class (by class name): a test fails if a registered
#: optimizer has none. Tests that define an optimizer of their own add theirs here.
REFERENCE_STEPS = {
    "IncAdam": step_adam,
    "DetAdam": step_adam,
    "RMSProp": step_adam,
    "AdaGrad": step_adagrad,
    "Lion": step_lion,
    "SGD": step_sgd,
    "IncSignum": step_signum,
    "SignGD": step_signgd,
    "GD": step_gd,
    "NormalizedGD": step_ngd,
    "AdamProxy": step_proxy,
    "SpectralDescent": step_spectral,
    "Muon": step_muon,
    "NAdam": step_nadam,
    "AdaBelief": step_adabelief,
    "Adamax": step_adamax,
    "SteepestDescent": step_steepest,
    "MirrorDescent": step_mirror,
    "LossNormalizedGD": step_lngd,
}
#: Optimizers that are not invariant to the scale of the gradient (log_scale must be 0).
PLAIN = ("GD", "SGD", "MirrorDescent")


def run_reference(
    rows,
    name,
    params,
    *,
    epochs,
    lr,
    loss="exp",
    seed=0,
    w0=None,
    log_scale=0.0,
    labels=None,
    k=None,
    depth=None,
    init_scale=1.0,
    theta0=None,
):
    """Run optimizer ``name`` with options ``params`` step by step in plain float64.

    Parameters
    ----------
    rows : array_like (n, d)
        Binary data: the signed samples Z. Multiclass data: the features X (with ``labels``
        and ``k``).
    name : str
        A key of :data:`REFERENCE_STEPS` (an optimizer class name).
    params : dict
        The optimizer's options (``optimizer.to_dict()`` without "name"); ``batch_size``
        (None: n) and ``sampling`` give the batches; full-batch optimizers have neither.
    epochs, lr, loss, seed, w0
        As in :func:`simulate_reference`; ``w0`` of shape (d,) or (k, d).
    log_scale : float, default 0.0
        Every loss derivative (and eps) is multiplied by ``exp(log_scale)``.
    labels : array_like of int, optional
        Classes in 0..k-1 (multiclass data).
    k : int, optional
        Number of classes (multiclass data).
    depth : int, optional
        Train a depth-``depth`` diagonal network ``w = u^D - v^D`` (SPEC 13) instead of w:
        the optimizer acts on theta = (u, v), seen as the matrix of rows [U; V] by the
        matrix rules, with per-sample gradients ``(D u^(D-1) g, -D v^(D-1) g)``.
    init_scale : float, default 1.0
        The network's start ``u = v = init_scale``, unless ``theta0`` (2, *w.shape) is given.

    Returns
    -------
    ndarray
        Iterates after each epoch, shape (epochs + 1, d) (binary) or (epochs + 1, k, d); with
        a network, theta's: (epochs + 1, 2, d) or (epochs + 1, 2, k, d).
    """
    rows = np.asarray(rows, dtype=np.float64)
    n, d = rows.shape
    multiclass = labels is not None
    kk = k if multiclass else 1
    if name in PLAIN and log_scale != 0:
        raise ValueError(f"{name} is not scale-invariant; log_scale must be 0, got {log_scale!r}.")
    step = REFERENCE_STEPS[name]
    p = dict(params)
    if name == "RMSProp":
        p["beta1"] = 0.0
    b = n if p.get("batch_size") is None else int(p["batch_size"])
    sampling = p.get("sampling", "cyclic")
    if depth is None:
        W = np.zeros((kk, d)) if w0 is None else np.array(w0, dtype=np.float64).reshape(kk, d)
        rows_p = kk
    else:  # the network's parameter as the matrix [U; V] of 2 kk rows
        start = np.full((2, kk, d), float(init_scale)) if theta0 is None else theta0
        W = np.array(start, dtype=np.float64).reshape(2 * kk, d)
        rows_p = 2 * kk
    out = np.empty((int(epochs) + 1, rows_p, d))
    out[0] = W
    rng = np.random.default_rng(seed)
    state = {}
    t = 0
    for e in range(int(epochs)):
        for batch in epoch_batches(epoch_order(n, sampling, rng), b):
            weights = W if depth is None else diagonal_weights(W.reshape(2, kk, d), depth)
            grads = sample_gradients(rows, labels, weights, batch, loss, log_scale, multiclass)
            if depth is not None:
                factors = diagonal_factors(W.reshape(2, kk, d), depth)
                grads = [(factors * g).reshape(2 * kk, d) for g in grads]
            if getattr(step, "takes_losses", False):  # loss-normalized GD
                state["losses"] = sample_losses(
                    rows, labels, weights, batch, loss, log_scale, multiclass
                )
            W = step(p, grads, W, state, learning_rate(lr, t), t, log_scale)
            t += 1
        out[e + 1] = W
    if depth is not None:
        out = out.reshape(int(epochs) + 1, 2, kk, d)
        return out if multiclass else out[:, :, 0, :]
    return out if multiclass else out[:, 0, :]


_METHOD_STEPS = {
    "adam": "IncAdam",
    "signum": "IncSignum",
    "proxy": "AdamProxy",
    "signgd": "SignGD",
    "gd": "GD",
    "ngd": "NormalizedGD",
}


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
    """Run one of the paper's methods step by step in plain float64 (binary data).

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
        ``sign(0) = 0`` throughout. The steps are those of :func:`run_reference`.
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
    b = _check_common(Z, method, loss, sampling, batch_size, epochs)
    params = {"beta1": beta1, "beta2": beta2, "beta": beta, "batch_size": b, "sampling": sampling}
    if method == "proxy":
        params = {}
    return run_reference(
        Z,
        _METHOD_STEPS[method],
        params,
        epochs=epochs,
        lr=lr,
        loss=loss,
        seed=seed,
        w0=w0,
        log_scale=log_scale,
    )


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


# ---------------------------------------------------------------------------------------
# history-sum reference: exact at any data scale, for the scale-invariant rules
# ---------------------------------------------------------------------------------------


def _log_weight(beta, j):
    """``log(beta ** j)`` with ``0 ** 0 = 1`` (a state entering with beta = 0)."""
    if j == 0:
        return 0.0
    return j * math.log(beta) if beta > 0 else -math.inf


def _weighted_sum(terms):
    """``sum_j exp(B_j + c_j) u_j`` as ``(B, c, mantissa)``, without overflow or rounding.

    ``terms`` is a list of ``(B, c, u)``: a log-scale B (as large as the margins, say
    -1e150), a moderate log-coefficient c (decay factors) and a finite vector u. B and c
    are never added: the exponents are ``(B_j - B_top) + (c_j - c_top)``, so a coefficient
    is not rounded to the spacing of floats near B. Terms with c = -inf are 0.
    """
    live = [term for term in terms if term[1] > -math.inf]
    if not live:
        return 0.0, 0.0, np.zeros_like(terms[0][2])
    B_top, c_top, _ = max(live, key=lambda term: (term[0] - live[0][0]) + term[1])
    total = np.zeros_like(live[0][2])
    exponents = [(B - B_top) + (c - c_top) for B, c, _ in live]
    for x, (_, _, u) in sorted(zip(exponents, live, strict=True), key=lambda pair: pair[0]):
        total = total + math.exp(x) * u
    return B_top, c_top, total


def _log_neg_derivative(s, loss):
    if loss == "exp":
        return -s
    return -(s + math.log1p(math.exp(-s))) if s > 0 else -math.log1p(math.exp(s))


def history_reference(
    Z, name, params, *, epochs, lr, loss="exp", seed=0, w0=None, depth=None, init_scale=1.0
):
    """Binary runs of the scale-invariant rules, exact for data of any scale (1e+-300).

    No recurrence and no rescaled state: each step's gradient is kept as its log-scale M_s
    and mantissa (``g_s = exp(M_s) * u_s``), and the moments are formed anew at every step
    from the whole history, ``m_t = (1 - b1) sum_s b1^(t-s) g_s`` and so on, as weighted
    sums ``exp(M) * mantissa`` of the history. The step of a scale-invariant rule depends
    on mantissas only. Slow (quadratic in the number of steps): a few epochs.

    Parameters
    ----------
    Z : array_like (n, d)
        Signed samples.
    name : str
        IncAdam, DetAdam, RMSProp (eps = 0), AdaGrad (eps = 0), Lion, IncSignum, SignGD,
        NormalizedGD, AdamProxy, SpectralDescent or Muon (exact polar factor).
    params, epochs, lr, loss, seed, w0
        As in :func:`run_reference`.
    depth, init_scale
        A diagonal network (as in :func:`run_reference`; the entrywise rules only): each
        sample's mantissa is carried to theta by the chain-rule factors, which are ordinary
        numbers, and the scale stays the derivative's.

    Returns
    -------
    ndarray (epochs + 1, d), or theta's (epochs + 1, 2, d) with a network
    """
    Z = np.asarray(Z, dtype=np.float64)
    n, d = Z.shape
    p = dict(params)
    if p.get("eps", 0.0) != 0.0:
        raise ValueError("history_reference needs eps = 0 (a scale-invariant rule).")
    if name == "RMSProp":
        p["beta1"] = 0.0
    b = n if p.get("batch_size") is None else int(p["batch_size"])
    if depth is None:
        w = np.zeros(d) if w0 is None else np.array(w0, dtype=np.float64)
    elif name in ("SpectralDescent", "Muon") or isinstance(p.get("norm"), str):
        raise ValueError(f"history_reference runs only entrywise rules on a network, not {name}.")
    else:
        w = np.full(2 * d, float(init_scale))  # theta = (u, v) as one vector
    out = [w.copy()]
    rng = np.random.default_rng(seed)
    tops = np.abs(Z).max(axis=1)
    history = []  # (B_s, c_s, u_s) of every step's batch gradient
    t = 0
    for _ in range(int(epochs)):
        for batch in epoch_batches(epoch_order(n, p.get("sampling", "cyclic"), rng), b):
            weights = w if depth is None else diagonal_weights(w.reshape(2, d), depth)
            # g_i = exp(lp_i + log(top_i) - log(b)) * (-z_i / top_i): mantissas of size 1
            samples = [
                (
                    _log_neg_derivative(float(np.dot(Z[i], weights)), loss),
                    math.log(tops[i]) - math.log(len(batch)),
                    -Z[i] / tops[i],
                )
                for i in batch
            ]
            if depth is not None:
                factors = diagonal_factors(w.reshape(2, d), depth)
                samples = [(lp, c, (factors * u).ravel()) for lp, c, u in samples]
            B, c, u = _weighted_sum(samples)
            history.append((B, c, u))
            losses = [
                (
                    log_sample_loss(float(np.dot(Z[i], weights)), loss),
                    -math.log(len(batch)),
                    np.ones(1),
                )
                for i in batch
            ]
            eta = learning_rate(lr, t)
            w = w - eta * _history_step(name, p, history, samples, w, eta, losses)
            t += 1
        out.append(w.copy())
    out = np.array(out)
    return out if depth is None else out.reshape(-1, 2, d)


def _scaled_max(terms):
    """Entry-by-entry maximum of nonnegative vectors ``exp(B + c) u`` as (B, c, u), exactly.

    Each term is compared on the scale of the largest: ``exp((B' - B) + (c' - c)) u'`` (B and
    c never added, as in :func:`_weighted_sum`); terms with c = -inf are 0.
    """
    live = [term for term in terms if term[1] > -math.inf]
    if not live:
        return 0.0, 0.0, np.zeros_like(terms[0][2])
    B_top, c_top, _ = max(live, key=lambda term: (term[0] - live[0][0]) + term[1])
    out = np.zeros_like(live[0][2])
    for Bs, cs, us in live:
        out = np.maximum(out, math.exp((Bs - B_top) + (cs - c_top)) * us)
    return B_top, c_top, out


def _step_exp(x):
    """``exp(x)`` for the scale of a step; a clear error where the exact step overflows.

    Bounded rules never get here with x > 709; Adam with beta1**2 > beta2 can (its steps
    are not bounded), and its exact iterate then leaves the float64 range.
    """
    if x > 709.0:
        raise FloatingPointError(f"the exact step is about e^{x:.4g}: beyond float64.")
    return math.exp(x)


def _history_step(name, p, history, samples, w, eta, losses=()):
    """The direction ``(w_old - w_new) / eta`` of step t = len(history) - 1 (binary data).

    ``history[s] = (B_s, c_s, u_s)``: the batch gradient of step s is
    ``exp(B_s + c_s) u_s``; ``samples`` are the current batch's per-sample terms.
    """
    t = len(history) - 1
    B, c, u = history[-1]

    def moment(beta, power, gain, start=0, stop=None):
        """``gain * sum_s beta^(t-s) g_s^power`` over history[start:stop] as (B, c, u)."""
        return _weighted_sum(
            [
                (power * Bs, power * cs + gain + _log_weight(beta, t - s), us**power)
                for s, (Bs, cs, us) in enumerate(history[start:stop], start)
            ]
        )

    def moment_at(beta, power, gain, end):
        """The moment of step ``end`` (<= t), from history[:end + 1], as (B, c, u)."""
        return _weighted_sum(
            [
                (power * Bs, power * cs + gain + _log_weight(beta, end - s), us**power)
                for s, (Bs, cs, us) in enumerate(history[: end + 1])
            ]
        )

    if name in ("IncAdam", "DetAdam", "RMSProp"):
        b1, b2 = p.get("beta1", 0.9), p["beta2"]
        Bm, cm, um = moment(b1, 1, math.log1p(-b1))
        Bv, cv, uv = moment(b2, 2, math.log1p(-b2))
        if p.get("amsgrad", False):  # vmax_t = max_{s <= t} v_s, entry by entry
            Bv, cv, uv = _scaled_max([moment_at(b2, 2, math.log1p(-b2), s) for s in range(t + 1)])
        factor = 1.0
        if p.get("bias_correction", False):
            factor = math.sqrt(1.0 - b2 ** (t + 1)) / (1.0 - b1 ** (t + 1))
        decay = 1.0 - eta * p.get("weight_decay", 0.0)
        scale = _step_exp((Bm - Bv / 2) + (cm - cv / 2))
        return (w - w * decay) / eta + _divide_or_zero(um, np.sqrt(uv)) * scale * factor
    if name == "NAdam":
        b1, b2 = p["beta1"], p["beta2"]
        Bm, cm, um = moment(b1, 1, math.log1p(-b1))
        c1, c2 = b1 / (1.0 - b1 ** (t + 2)), (1.0 - b1) / (1.0 - b1 ** (t + 1))
        terms = [(B, c + math.log(c2), u)] + ([(Bm, cm + math.log(c1), um)] if b1 > 0 else [])
        Bn, cn, un = _weighted_sum(terms)
        Bv, cv, uv = moment(b2, 2, math.log1p(-b2))
        factor = math.sqrt(1.0 - b2 ** (t + 1))
        return _divide_or_zero(un, np.sqrt(uv)) * _step_exp((Bn - Bv / 2) + (cn - cv / 2)) * factor
    if name == "AdaBelief":
        b1, b2 = p["beta1"], p["beta2"]
        errors = []  # e_s = g_s - m_s, with m_s the moment after step s
        for s, (Bs, cs, us) in enumerate(history):
            Bm_s, cm_s, um_s = moment_at(b1, 1, math.log1p(-b1), s)
            errors.append(_weighted_sum([(Bs, cs, us), (Bm_s, cm_s, -um_s)]))
        Bm, cm, um = moment(b1, 1, math.log1p(-b1))
        Bs_, cs_, us_ = _weighted_sum(
            [
                (2 * Be, 2 * ce + math.log1p(-b2) + _log_weight(b2, t - s), ue * ue)
                for s, (Be, ce, ue) in enumerate(errors)
            ]
        )
        factor = math.sqrt(1.0 - b2 ** (t + 1)) / (1.0 - b1 ** (t + 1))
        return (
            _divide_or_zero(um, np.sqrt(us_)) * _step_exp((Bm - Bs_ / 2) + (cm - cs_ / 2)) * factor
        )
    if name == "Adamax":
        b1, b2 = p["beta1"], p["beta2"]
        Bm, cm, um = moment(b1, 1, math.log1p(-b1))
        Bu, cu, uu = _scaled_max(
            [
                (Bs, cs + _log_weight(b2, t - s), np.abs(us))
                for s, (Bs, cs, us) in enumerate(history)
            ]
        )
        factor = 1.0 / (1.0 - b1 ** (t + 1))
        return _divide_or_zero(um, uu) * _step_exp((Bm - Bu) + (cm - cu)) * factor
    if name == "LossNormalizedGD":
        # grad L / L = sum_i l'_i z_i / sum_i l_i: the two sums on their own scales
        Bg, cg, ug = _weighted_sum(samples)
        Bl, cl, ul = _weighted_sum(losses)
        return ug / ul[0] * _step_exp((Bg - Bl) + (cg - cl))
    if name == "SteepestDescent":
        mu = p["momentum"]
        return lp_direction(moment(mu, 1, math.log1p(-mu))[2], _descent_power(p["norm"]))
    if name == "AdaGrad":
        Bv, cv, uv = moment(1.0, 2, 0.0)
        return _divide_or_zero(u, np.sqrt(uv)) * _step_exp((B - Bv / 2) + (c - cv / 2))
    if name == "IncSignum":
        beta = p["beta"]
        return np.sign(moment(beta, 1, math.log1p(-beta))[2])
    if name == "Lion":
        b1, b2 = p["beta1"], p["beta2"]
        terms = [(B, c + math.log1p(-b1), u)]  # (1 - b1) g_t + b1 m_{t-1}
        if b1 > 0:  # m_{t-1} = (1 - b2) sum_{s < t} b2^(t-1-s) g_s
            terms += [
                (Bs, cs + math.log(b1) + math.log1p(-b2) + _log_weight(b2, t - 1 - s), us)
                for s, (Bs, cs, us) in enumerate(history[:-1])
            ]
        return np.sign(_weighted_sum(terms)[2]) + p["weight_decay"] * w
    if name == "SignGD":
        return np.sign(u)
    if name in ("NormalizedGD", "SpectralDescent"):
        norm = np.linalg.norm(u)
        return u / norm if norm > 0 else np.zeros_like(u)
    if name == "AdamProxy":
        Bn, cn, num = _weighted_sum(samples)
        Bd, cd, den = _weighted_sum([(2 * Bi, 2 * ci, v * v) for Bi, ci, v in samples])
        return _divide_or_zero(num, np.sqrt(den)) * _step_exp((Bn - Bd / 2) + (cn - cd / 2))
    if name == "Muon":
        mu = p["momentum"]
        terms = [(Bs, cs + _log_weight(mu, t - s), us) for s, (Bs, cs, us) in enumerate(history)]
        if p["nesterov"]:  # g_t + mu B_t
            extra = [(Bs, cs + math.log(mu), us) for Bs, cs, us in terms] if mu > 0 else []
            terms = [(B, c, u)] + extra
        ub = _weighted_sum(terms)[2]
        norm = np.linalg.norm(ub)
        return ub / norm if norm > 0 else np.zeros_like(ub)
    raise ValueError(f"history_reference does not know {name!r}.")

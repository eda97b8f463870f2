"""The one step loop shared by every optimizer; the update rule is the part that varies."""

import math

import numpy as np

from .._jit import kernel, reduction_kernel
from ._scaled import HIGH_BITS, LN2, LOW_BITS, log_neg_derivative, rescale_state, shift_exponent
from .rules import ADAM, GD_RULE, PROXY, SIGNUM, apply_rule, proxy_update

#: Layout of the ``scale`` array: log-scale S, bound on max|m|, bound on max v.
LOG_SCALE, M_BOUND, V_BOUND = 0, 1, 2


@reduction_kernel()
def margin(Z, i, w):
    """``<w, Z[i]>``; the compiler picks the summation order (a vectorized reduction)."""
    s = 0.0
    for k in range(w.size):
        s += Z[i, k] * w[k]
    return s


@kernel()
def run_epochs(
    rule, loss, Z, zinf, log_zinf, order, n_epochs, batch_size, lrs, beta1, beta2, w, m, v, scale
):
    """Run ``n_epochs`` epochs of optimizer ``rule``, updating ``w, m, v, scale`` in place.

    Parameters
    ----------
    rule : int
        ADAM, SIGNUM, GD_RULE, NGD_RULE or PROXY (``rules.py``).
    loss : int
        EXP_LOSS or LOGISTIC_LOSS (``_scaled.py``).
    Z : float64 (n, d)
        Signed samples.
    zinf, log_zinf : float64 (n,)
        ``max_k |Z[i, k]|`` and its natural log (``-inf`` for a zero row).
    order : int64 (E, n)
        Sample order of each epoch; with ``E == 1`` the same row serves every epoch.
    n_epochs, batch_size : int
        Epochs to run; samples per step (consecutive blocks of the order, last one smaller).
    lrs : float64 (n_epochs * ceil(n / batch_size),)
        Learning rate of each step of this chunk.
    beta1, beta2 : float
        Moment parameters (Signum: beta1 = beta).
    w, m, v : float64 (d,)
        Iterate and optimizer state; ``m`` and ``v`` hold the moments times ``exp(S)`` and
        ``exp(2 S)``.
    scale : float64 (3,)
        ``[S, bound of max|m|, bound of max v]``, carried from chunk to chunk.

    Notes
    -----
    Loss derivatives are formed as ``exp(S + log(-l'(s)))``. For the stateful rules (Adam,
    Signum) S follows the state: when the incoming gradient would exceed ``2**HIGH_BITS``, or
    when both the state and the gradient fall below ``2**-LOW_BITS``, S moves by a whole
    number of ``ln 2`` and the state is multiplied by the matching power of two. The
    stateless rules (AdamProxy, normalized GD) pick S per step from the largest derivative.
    GD is not scale invariant and uses S = 0. No input validation.
    """
    n = Z.shape[0]
    d = w.size
    stateful = rule == ADAM or rule == SIGNUM
    lphi = np.empty(batch_size)
    coef = np.empty(batch_size)
    batch_sum = np.empty((1, d))
    aux = np.empty(d)
    log_scale = scale[LOG_SCALE]
    m_bound = scale[M_BOUND]
    v_bound = scale[V_BOUND]
    high = HIGH_BITS * LN2
    low = -LOW_BITS * LN2
    small_sq = math.ldexp(1.0, -2 * LOW_BITS)
    rows = order.shape[0]
    step = 0
    for e in range(n_epochs):
        er = e % rows
        for start in range(0, n, batch_size):
            nb = min(batch_size, n - start)
            top = -np.inf
            for r in range(nb):
                i = order[er, start + r]
                lp = log_neg_derivative(margin(Z, i, w), loss)
                lphi[r] = lp
                top = max(top, lp + log_zinf[i])
            if rule == GD_RULE:
                log_scale = 0.0
            elif not stateful:
                log_scale = -top if top > -np.inf else 0.0
            elif top > -np.inf:
                top += log_scale
                state_sq = max(m_bound * m_bound, v_bound)
                if top > high or (top < low and state_sq < small_sq):
                    k = shift_exponent(top, state_sq)
                    rescale_state(k, m, v)
                    log_scale += k * LN2
                    m_bound = math.ldexp(m_bound, k)
                    v_bound = math.ldexp(v_bound, 2 * k)
            grad_bound = 0.0
            for r in range(nb):
                c = math.exp(log_scale + lphi[r])
                if nb > 1 and rule != PROXY:
                    c /= nb
                coef[r] = c
                grad_bound += c * zinf[order[er, start + r]]
            eta = lrs[step]
            if rule == PROXY:
                proxy_update(Z, order, er, coef, w, aux, batch_sum[0], eta)
            elif nb == 1:
                apply_rule(rule, Z, order[er, start], coef[0], w, m, v, beta1, beta2, eta)
            else:
                batch_sum[0, :] = 0.0
                for r in range(nb):
                    i = order[er, start + r]
                    c = coef[r]
                    for k in range(d):
                        batch_sum[0, k] += c * Z[i, k]
                apply_rule(rule, batch_sum, 0, 1.0, w, m, v, beta1, beta2, eta)
            if stateful:
                m_bound = beta1 * m_bound + (1.0 - beta1) * grad_bound
                v_bound = beta2 * v_bound + (1.0 - beta2) * grad_bound * grad_bound
            step += 1
    scale[LOG_SCALE] = log_scale
    scale[M_BOUND] = m_bound
    scale[V_BOUND] = v_bound

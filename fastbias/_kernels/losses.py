"""Loss derivatives in log form: what the step loops need of a loss.

For one sample with scores ``s`` (one score ``<w, z_i>`` in the binary case, ``k`` scores
``W x_i`` in the multiclass case) a loss gives, for every output row c, the derivative
``dl/ds_c = sign_c * exp(lp_c)`` as a sign and a natural log, so that no derivative ever
underflows. The gradient of the sample is ``dl/ds_c * x_i`` for
row c of the parameter (binary: ``x_i`` is the signed sample ``z_i``).

The table of losses (names, codes, the loss values used for ``log L``) is
:data:`fastbias.losses.LOSSES`; a new loss is one more branch here and one more entry there.
No input validation.
"""

import math

from .._jit import jitable

BINARY_EXP = 0
BINARY_LOGISTIC = 1
MULTICLASS_CE = 2
MULTICLASS_EXP = 3


@jitable
def softplus(u):
    """``log(1 + e^u)`` without overflow or cancellation."""
    if u > 0.0:
        return u + math.log1p(math.exp(-u))
    return math.log1p(math.exp(u))


@jitable
def binary_log_derivative(code, s):
    """``log(-l'(s))`` of a binary loss at margin ``s`` (the sign of ``l'`` is always -1)."""
    if code == BINARY_EXP:
        return -s
    return -softplus(s)


@jitable(nrt=False)
def multiclass_log_derivatives(code, scores, r, label, lp, sg):
    """Write ``log|dl/ds_c|`` to ``lp[r, c]`` and its sign to ``sg[r, c]``; return the max lp.

    ``scores[r, :]`` are the sample's scores and ``label`` its class; ``code`` is
    ``MULTICLASS_CE`` or ``MULTICLASS_EXP`` (binary losses: :func:`binary_log_derivative`).
    """
    k = scores.shape[1]
    # everything relative to the true class's score, a_c = s_c - s_y
    sy = scores[r, label]
    top = -math.inf
    for c in range(k):
        if c != label:
            top = max(top, scores[r, c] - sy)
    total = 0.0
    for c in range(k):
        if c != label:
            total += math.exp((scores[r, c] - sy) - top)
    u = top + math.log(total)  # log sum_{c != y} exp(a_c)
    if code == MULTICLASS_CE:
        # p_c = exp(a_c - softplus(u)) for c != y; 1 - p_y = exp(u - softplus(u))
        norm = softplus(u)
        for c in range(k):
            if c != label:
                lp[r, c] = (scores[r, c] - sy) - norm
                sg[r, c] = 1.0
        lp[r, label] = u - norm
    else:  # MULTICLASS_EXP: l = sum_{c != y} exp(a_c)
        for c in range(k):
            if c != label:
                lp[r, c] = scores[r, c] - sy
                sg[r, c] = 1.0
        lp[r, label] = u
    sg[r, label] = -1.0
    best = -math.inf
    for c in range(k):
        best = max(best, lp[r, c])
    return best

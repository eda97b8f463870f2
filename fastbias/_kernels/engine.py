"""The step loops: one compiled loop per update rule, built from the rule's own functions.

A rule (see :class:`fastbias.optimizers.Rule`) gives two functions written with
:func:`fastbias._jit.jitable`:

* ``prepare(hp, eta, t, log_scale)``: the constants of one step (a tuple), from the rule's
  hyperparameters ``hp``, the learning rate ``eta``, the step counter ``t`` and the log-scale
  of the gradients (for rules with an epsilon, which must be scaled like the gradients);
* ``update``: the step itself. Entrywise rules update one coordinate,
  ``update(g, w, state, c, k, p) -> new w`` (``state[j, c, k]`` is their state j at row c,
  coordinate k); matrix rules update the whole parameter,
  ``update(G, Q, W, state, p)`` (``G`` the batch gradient, ``Q`` the sum of the squared
  per-sample gradients when the rule asks for it).

:func:`compiled_loop` turns a rule into a loop over epochs that is specialized for it and
cached on disk. The loop forms the gradients from log-derivatives (``losses.py``), keeps them
scaled as the rule's scale behaviour says (``scale.py``), and, for entrywise rules with one
sample per step, makes one pass over the coordinates per step: the update is fused with the
dot product the next step needs (its sample is known from the order).

Data layout (prepared once by the driver): ``X2`` holds the rows of the data divided by an
exact power of two, ``X[i] = 2**rowexp[i] * X2[i]`` with ``max |X2[i]|`` in [1, 2), and
``rowpow[i] = 2**rowexp[i]``; binary data use the signed samples and one output row.
No input validation, no I/O, no random numbers.
"""

import hashlib
import math
from pathlib import Path

import numpy as np

from .._jit import jitable, kernel
from .losses import (
    BINARY_EXP,
    BINARY_LOGISTIC,
    binary_log_derivative,
    multiclass_log_derivatives,
)
from .scale import (
    ANCHOR,
    BITS,
    HIGH_BITS,
    LN2,
    LOW_BITS,
    PLAIN,
    STATE,
    STEP,
    accumulate,
    dot_row,
    log_coefficient,
    shift_scale,
    state_is_small,
    update_bounds,
)

ENTRYWISE = "entrywise"
MATRIX = "matrix"

_HIGH = HIGH_BITS * LN2
_LOW = -LOW_BITS * LN2

# The compiled loops are closures over the rule's functions; Numba keys their on-disk cache
# on the closure's values. This digest of the kernel sources is one of them, so that an edit
# of any kernel module (not only of this file) compiles the loops anew.
_SOURCES = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))
).hexdigest()


def _code_digest(func) -> str:
    """A digest of a Python function's code, so that editing a rule invalidates its loop."""
    code = getattr(func, "__code__", None)
    if code is None:
        return repr(func)
    parts = [code.co_code, repr(code.co_consts).encode(), repr(code.co_names).encode()]
    return hashlib.sha256(b"".join(parts)).hexdigest()


_LOOPS: dict = {}


def compiled_loop(family: str, prepare, update, mode: int, squares: bool = False):
    """The step loop of a rule (built once per process, cached on disk by Numba).

    Parameters
    ----------
    family : {"entrywise", "matrix"}
    prepare, update : functions decorated with :func:`fastbias._jit.jitable`
    mode : int
        ``scale.STATE``, ``scale.STEP`` or ``scale.PLAIN``.
    squares : bool
        Matrix rules only: also form ``Q``, the sum of the squared per-sample gradients.

    Returns
    -------
    function
        ``loop(X2, rowpow, rowexp, labels, loss, order, n_epochs, batch_size, lrs, t0, W,
        state, hp, dyn, scale, carry)``, see :func:`_entrywise_loop`.
    """
    key = (family, prepare, update, mode, squares)
    if key not in _LOOPS:
        token = "|".join((_SOURCES, _code_digest(prepare), _code_digest(update), family,
                          str(mode), str(squares)))
        if family == ENTRYWISE:
            _LOOPS[key] = _entrywise_loop(prepare, update, mode, token)
        elif family == MATRIX:
            _LOOPS[key] = _matrix_loop(prepare, update, mode, squares, token)
        else:
            raise ValueError(f"family must be {ENTRYWISE!r} or {MATRIX!r}; got {family!r}.")
    return _LOOPS[key]


def _entrywise_loop(prepare, update, mode, token):
    @kernel()
    def loop(X2, rowpow, rowexp, labels, loss, order, n_epochs, batch_size, lrs, t0, W, state,
             hp, dyn, scale, carry):
        """Run ``n_epochs`` epochs of an entrywise rule, updating ``W, state, scale, carry``.

        Parameters
        ----------
        X2, rowpow, rowexp : float64 (n, d), (n,), (n,)
            Data rows divided by powers of two, those powers and their exponents.
        labels : int64 (n,)
            Classes (multiclass losses only).
        loss : int
            Loss code (``losses.py``).
        order : int64 (E, n)
            Sample order of each epoch; row ``e % E`` serves epoch e (E = 1: cyclic). For
            one sample per step, row ``n_epochs % E`` must hold the order of the epoch after
            this chunk (its first sample is the next step's).
        n_epochs, batch_size : int
        lrs : float64
            Learning rate of each step of the chunk.
        t0 : int
            Step counter at the start of the chunk.
        W : float64 (k, d)
            The parameter (k = 1 for binary data).
        state : float64 (ns, k, d)
            The rule's state arrays, scaled by ``exp(degree * log_scale)``.
        hp : float64 array
            The rule's hyperparameters.
        dyn : float64 (ns, 4)
            Degree, decay, gain and entering factor of each state array (``scale.py``).
        scale : float64 (2 + ns,)
            ``[A, K, bound of each state]``, carried from chunk to chunk.
        carry : float64 (1 + k,)
            ``[1 if the scores of the next sample are known, those scores]``: with one
            sample per step the scores come from the fused pass, also across chunks.
        """
        token  # noqa: B018 (part of the cache key)
        n, d = X2.shape
        kout = W.shape[0]
        scores = np.empty((batch_size, kout))
        lp = np.empty((batch_size, kout))
        sg = np.empty((batch_size, kout))
        coef = np.empty((batch_size, kout))
        G = np.empty((kout, d if batch_size > 1 else 0))
        rows = order.shape[0]
        if batch_size == 1 and kout == 1:
            _binary_sample_steps(update, prepare, mode, X2, rowpow, rowexp, loss, order,
                                 n_epochs, lrs, t0, W, state, hp, dyn, scale, carry)
            return
        step = 0
        for e in range(n_epochs):
            er = e % rows
            for start in range(0, n, batch_size):
                nb = min(batch_size, n - start)
                # (a separate statement: a condition inside the call's arguments puts a
                # branch between the call and the reference counts of its array arguments,
                # which are then not pruned and cost 12 atomic operations per step)
                use_carry = batch_size == 1 and carry[0] == 1.0
                anchor_lp, anchor_f = _batch_derivatives(
                    W, X2, rowpow, rowexp, labels, loss, order, er, start, nb, use_carry,
                    carry, scores, lp, sg)
                _move_scale(mode, scale, state, dyn, anchor_lp, anchor_f)
                anchor = scale[ANCHOR]
                bits = scale[BITS]
                for r in range(nb):
                    f = rowexp[order[er, start + r]]
                    for c in range(kout):
                        value = sg[r, c] * math.exp(log_coefficient(lp[r, c], anchor, bits, f))
                        coef[r, c] = value / nb if nb > 1 else value
                p = prepare(hp, lrs[step], t0 + step, bits * LN2 - anchor)
                if batch_size == 1:
                    i = order[er, start]
                    j = order[er, start + 1] if start + 1 < n else order[(e + 1) % rows, 0]
                    for c in range(kout):
                        cc = coef[0, c]
                        acc = 0.0
                        for k in range(d):
                            wk = update(cc * X2[i, k], W[c, k], state, c, k, p)
                            W[c, k] = wk
                            acc = accumulate(acc, wk, X2[j, k])
                        carry[1 + c] = acc * rowpow[j]
                    carry[0] = 1.0
                else:
                    G[:, :] = 0.0
                    for r in range(nb):
                        i = order[er, start + r]
                        for c in range(kout):
                            cc = coef[r, c]
                            for k in range(d):
                                G[c, k] += cc * X2[i, k]
                    for c in range(kout):
                        for k in range(d):
                            W[c, k] = update(G[c, k], W[c, k], state, c, k, p)
                if mode == STATE:
                    update_bounds(scale, dyn, _gradient_bound(coef, nb))
                step += 1

    return loop


def _matrix_loop(prepare, update, mode, squares, token):
    @kernel()
    def loop(X2, rowpow, rowexp, labels, loss, order, n_epochs, batch_size, lrs, t0, W, state,
             hp, dyn, scale, carry):
        """Run ``n_epochs`` epochs of a matrix rule; arguments as for entrywise rules.

        The batch gradient ``G`` (and ``Q``, the sum of the squared per-sample gradients,
        for rules that ask for it) is formed in full before ``update`` is called. ``carry``
        is not used.
        """
        token  # noqa: B018 (part of the cache key)
        n, d = X2.shape
        kout = W.shape[0]
        scores = np.empty((batch_size, kout))
        lp = np.empty((batch_size, kout))
        sg = np.empty((batch_size, kout))
        coef = np.empty((batch_size, kout))
        G = np.empty((kout, d))
        Q = np.empty((kout, d if squares else 0))
        rows = order.shape[0]
        step = 0
        for e in range(n_epochs):
            er = e % rows
            for start in range(0, n, batch_size):
                nb = min(batch_size, n - start)
                anchor_lp, anchor_f = _batch_derivatives(
                    W, X2, rowpow, rowexp, labels, loss, order, er, start, nb, False, carry,
                    scores, lp, sg)
                _move_scale(mode, scale, state, dyn, anchor_lp, anchor_f)
                anchor = scale[ANCHOR]
                bits = scale[BITS]
                G[:, :] = 0.0
                if squares:
                    Q[:, :] = 0.0
                for r in range(nb):
                    i = order[er, start + r]
                    f = rowexp[i]
                    for c in range(kout):
                        value = sg[r, c] * math.exp(log_coefficient(lp[r, c], anchor, bits, f))
                        cc = value / nb if nb > 1 else value
                        coef[r, c] = cc
                        for k in range(d):
                            gk = cc * X2[i, k]
                            G[c, k] += gk
                            if squares:
                                Q[c, k] += gk * gk
                update(G, Q, W, state, prepare(hp, lrs[step], t0 + step, bits * LN2 - anchor))
                if mode == STATE:
                    update_bounds(scale, dyn, _gradient_bound(coef, nb))
                step += 1

    return loop


@jitable(nrt=False)
def _batch_derivatives(W, X2, rowpow, rowexp, labels, loss, order, er, start, nb, use_carry,
                       carry, scores, lp, sg):
    """Scores and log-derivatives of the batch ``order[er, start:start + nb]``.

    Writes ``scores[r]``, ``lp[r]`` and ``sg[r]`` for each sample r of the batch (the scores
    of a one-sample step from ``carry`` when ``use_carry``); returns the log-derivative and
    the row exponent of the batch's largest coefficient (the anchor of a scale move).
    """
    top = -math.inf
    anchor_lp = 0.0
    anchor_f = 0.0
    for r in range(nb):
        i = order[er, start + r]
        for c in range(W.shape[0]):
            if use_carry:
                scores[r, c] = carry[1 + c]
            else:
                scores[r, c] = dot_row(W, c, X2, i) * rowpow[i]
        if loss == BINARY_EXP or loss == BINARY_LOGISTIC:  # dl/ds = -exp(lp), one score
            best = binary_log_derivative(loss, scores[r, 0])
            lp[r, 0] = best
            sg[r, 0] = -1.0
        else:
            best = multiclass_log_derivatives(loss, scores, r, labels[i], lp, sg)
        if best + rowexp[i] * LN2 > top:
            top = best + rowexp[i] * LN2
            anchor_lp = best
            anchor_f = rowexp[i]
    return anchor_lp, anchor_f


@jitable(nrt=False)
def _move_scale(mode, scale, state, dyn, anchor_lp, anchor_f):
    """Keep the scale as the rule's behaviour says, before the coefficients are formed.

    STATE: move it (and the state) when the largest incoming gradient or the entering state
    leaves the bounds; STEP: anchor it on the batch's largest coefficient; PLAIN: leave it.
    """
    if mode == STATE:
        log_top = (anchor_lp - scale[ANCHOR]) + (scale[BITS] + anchor_f) * LN2 + LN2
        if log_top > _HIGH or (log_top < _LOW and state_is_small(scale, dyn)):
            shift_scale(scale, state, dyn, log_top, anchor_lp, anchor_f)
    elif mode == STEP:
        scale[ANCHOR] = anchor_lp
        scale[BITS] = -anchor_f


@jitable
def _binary_sample_steps(update, prepare, mode, X2, rowpow, rowexp, loss, order, n_epochs,
                         lrs, t0, W, state, hp, dyn, scale, carry):
    """The one-sample steps of an entrywise rule on binary data: the hot loop.

    The same recurrence as the general loop with k = 1 and one sample per step, with the
    score, the log-derivative and the coefficient kept in registers: one pass over the
    coordinates per step, the update fused with the dot product of the next sample.
    """
    n, d = X2.shape
    rows = order.shape[0]
    s = carry[1] if carry[0] == 1.0 else dot_row(W, 0, X2, order[0, 0]) * rowpow[order[0, 0]]
    anchor = scale[ANCHOR]
    bits = scale[BITS]
    step = 0
    for e in range(n_epochs):
        er = e % rows
        for start in range(n):
            i = order[er, start]
            j = order[er, start + 1] if start + 1 < n else order[(e + 1) % rows, 0]
            f = rowexp[i]
            lp = binary_log_derivative(loss, s)
            if mode == STATE:
                log_top = log_coefficient(lp, anchor, bits, f) + LN2
                if log_top > _HIGH or (log_top < _LOW and state_is_small(scale, dyn)):
                    shift_scale(scale, state, dyn, log_top, lp, f)
                    anchor = scale[ANCHOR]
                    bits = scale[BITS]
            elif mode == STEP:
                anchor = lp
                bits = -f
            cc = -math.exp(log_coefficient(lp, anchor, bits, f))
            p = prepare(hp, lrs[step], t0 + step, bits * LN2 - anchor)
            acc = 0.0
            for k in range(d):
                wk = update(cc * X2[i, k], W[0, k], state, 0, k, p)
                W[0, k] = wk
                acc = accumulate(acc, wk, X2[j, k])
            s = acc * rowpow[j]
            if mode == STATE:
                update_bounds(scale, dyn, -2.0 * cc)
            step += 1
    scale[ANCHOR] = anchor
    scale[BITS] = bits
    carry[0] = 1.0
    carry[1] = s


@jitable(nrt=False)
def _gradient_bound(coef, nb):
    """Bound of the scaled batch-gradient entries: ``max_c sum_r |coef[r, c]| * 2``."""
    out = 0.0
    for c in range(coef.shape[1]):
        total = 0.0
        for r in range(nb):
            total += abs(coef[r, c])
        out = max(out, 2.0 * total)
    return out


# The loops compare log-magnitudes with these bounds; PLAIN needs nothing.
__all__ = ["ENTRYWISE", "MATRIX", "PLAIN", "STATE", "STEP", "compiled_loop"]

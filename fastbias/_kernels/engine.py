"""The step loops: one compiled loop per (update rule, loss), built from their own functions.

A rule (see :class:`fastbias.extend.Rule`) gives two functions written with
:func:`fastbias._jit.jitable`:

* ``prepare(hp, eta, t, log_scale)``: the constants of one step (a tuple), from the rule's
  hyperparameters ``hp``, the learning rate ``eta``, the step counter ``t`` and the log-scale
  of the gradients (for rules with an epsilon, which must be scaled like the gradients);
* ``update``: the step itself. Entrywise rules update one coordinate,
  ``update(g, w, state, c, k, p) -> new w`` (``state[j, c, k]`` is their state j at row c,
  coordinate k); matrix rules update the whole parameter,
  ``update(G, Q, W, state, p)`` (``G`` the batch gradient, ``Q`` the sum of the squared
  per-sample gradients when the rule asks for it).

A loss (see :class:`fastbias.extend.Loss`) gives its derivatives in log form, with a
parameter array ``lparams``: a binary loss ``log_derivative(s, lparams) = log(-l'(s))`` at a
margin s (binary losses decrease), a multiclass loss
``log_derivatives(scores, r, label, lp, sg, lparams)``, which writes ``log|dl/ds_c|`` to
``lp[r, c]`` and its sign to ``sg[r, c]`` for the scores ``scores[r, :]`` of one sample and
returns the largest ``lp[r, c]``.

:func:`compiled_loop` turns a rule and a loss into a loop over epochs that is specialized
for both and cached on disk. The loop forms the gradients from the log-derivatives, keeps
them scaled as the rule's scale behaviour says (``scale.py``), and, for entrywise rules with
one sample per step on binary data, makes one pass over the coordinates per step: the update
is fused with the dot product the next step needs (its sample is known from the order).

Data layout (prepared once by the driver): ``X2`` holds the rows of the data divided by an
exact power of two, ``X[i] = 2**rowexp[i] * X2[i]`` with ``max |X2[i]|`` in [1, 2), and
``rowpow[i] = 2**rowexp[i]``; binary data use the signed samples and one output row.
No input validation, no I/O, no random numbers.
"""

import hashlib
import inspect
import math
from pathlib import Path

import numpy as np

from .._jit import jitable, kernel
from .passes import BLOCK, batch_gradient, block_scores, passes
from .scale import (
    ANCHOR,
    BITS,
    LN2,
    PLAIN,
    ROW_BOUND,
    STATE,
    STEP,
    accumulate,
    dot_row,
    follow_scale,
    log_coefficient,
    update_bounds,
)

ENTRYWISE = "entrywise"
MATRIX = "matrix"
NORMALIZED = "normalized"
FAMILIES = (ENTRYWISE, NORMALIZED, MATRIX)

# The compiled loops are closures over the rule's and the loss's functions; Numba keys their
# on-disk cache on the closure's values. This digest of the kernel sources is one of them,
# so that an edit of any kernel module (not only of this file) compiles the loops anew.
_SOURCES = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))
).hexdigest()


def source_digest(func) -> str:
    """A digest of the file that defines a function (of its code if it has no file).

    The whole file, so that editing a helper the function calls (a polar factor next to
    Muon's update) compiles its loops anew too.
    """
    try:
        path = inspect.getsourcefile(func)
        if path is not None:
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except (TypeError, OSError):
        pass
    code = getattr(func, "__code__", None)
    if code is None:
        return repr(func)
    parts = [code.co_code, repr(code.co_consts).encode(), repr(code.co_names).encode()]
    return hashlib.sha256(b"".join(parts)).hexdigest()


_LOOPS: dict = {}


def compiled_loop(
    family: str,
    prepare,
    update,
    mode: int,
    squares: bool,
    derivative,
    multiclass: bool,
    factor=None,
    divisor=None,
    value=None,
    weight=None,
    chain=None,
    multiplicity: int = 1,
    threads: int = 1,
):
    """The step loop of a rule and a loss (built once per process, cached on disk by Numba).

    Parameters
    ----------
    family : {"entrywise", "normalized", "matrix"}
        ``"normalized"``: entrywise moments ``m = update(g, w, state, c, k, p)`` turned into
        the unit direction ``d_k = sign(m_k) factor(a_k, p) / divisor(S, p)`` with ``a_k =
        |m_k| / max |m|`` and ``S = sum_k factor(a_k, p) a_k``, and the step ``w -= eta d``
        (normalized steepest descent in an l_p norm: ``factor(a) = a^(q-1)``, ``divisor(S)
        = S^(1/p)``). Three passes over the coordinates per step (moments and their maximum;
        the factors and their sum; the step, fused with the next step's dot product).
    prepare, update : functions decorated with :func:`fastbias._jit.jitable`
    mode : int
        ``scale.STATE``, ``scale.STEP`` or ``scale.PLAIN``.
    squares : bool
        Matrix rules only: also form ``Q``, the sum of the squared per-sample gradients.
    derivative : function decorated with :func:`fastbias._jit.jitable`
        The loss's log-derivative (binary) or log-derivatives (multiclass), see above.
    multiclass : bool
        Whether the loss takes class scores (multiclass) or a margin (binary).
    factor, divisor : functions decorated with :func:`fastbias._jit.jitable`, optional
        The normalization of the ``"normalized"`` family.
    weight, chain, multiplicity : optional
        A model beyond the linear one (:mod:`fastbias.models`): ``weight(P, c, k, kout,
        mp)`` gives the effective weight, ``chain(P, c, k, kout, j, mp)`` the chain-rule
        factor of parameter row ``c + j kout``; the loop then takes the model's parameter
        array ``mp`` as a last argument, and ``W`` is the parameter (multiplicity * kout
        rows). One general loop for every family (the batch gradient formed in full), with
        one pass over the coordinates for one-sample steps of entrywise rules.
    value : function decorated with :func:`fastbias._jit.jitable`, optional
        Matrix rules that take the loss: the loss's log-value, binary ``value(s, lparams) =
        log l(s)`` or multiclass ``value(scores, r, label, lparams)``; the loop then passes
        the batch's mean loss, scaled like the gradients, as ``Q[0, 0]``.
    threads : int, default 1
        Threads for the passes over the data of steps with more than one sample (the batch's
        scores and gradient, :mod:`fastbias._kernels.passes`; bitwise the results of one
        thread). Binary entrywise rules on mini-batches smaller than the data take their
        fused step on one thread whatever this is.

    Returns
    -------
    function
        ``loop(X2, rowpow, rowexp, labels, lparams, order, n_epochs, batch_size, lrs, t0, W,
        state, hp, dyn, scale, carry, limits)``, see :func:`_entrywise_loop`.
    """
    key = (
        family,
        prepare,
        update,
        mode,
        squares,
        derivative,
        multiclass,
        factor,
        divisor,
        value,
        weight,
        chain,
        multiplicity,
        threads,
    )
    if key not in _LOOPS:
        token = "|".join(
            (
                _SOURCES,
                source_digest(prepare),
                source_digest(update),
                source_digest(derivative),
                "" if factor is None else source_digest(factor),
                "" if value is None else source_digest(value),
                "" if weight is None else source_digest(weight),
                "" if chain is None else source_digest(chain),
                str(multiplicity),
                family,
                str(mode),
                str(squares),
                str(multiclass),
                str(threads),
            )
        )
        batch = _multiclass_batch if multiclass else _binary_batch
        scorer, gradient = passes(threads)
        summer = _multiclass_loss_sum if multiclass else _binary_loss_sum
        if weight is not None:
            if family not in FAMILIES:
                raise ValueError(f"family must be one of {FAMILIES}; got {family!r}.")
            _LOOPS[key] = _model_loop(
                family,
                prepare,
                update,
                factor,
                divisor,
                mode,
                squares,
                derivative,
                batch,
                scorer,
                gradient,
                threads,
                value,
                summer,
                weight,
                chain,
                multiplicity,
                token,
            )
        elif family == ENTRYWISE:
            _LOOPS[key] = _entrywise_loop(
                prepare,
                update,
                mode,
                derivative,
                batch,
                scorer,
                gradient,
                threads,
                not multiclass,
                token,
            )
        elif family == NORMALIZED:
            _LOOPS[key] = _normalized_loop(
                prepare,
                update,
                factor,
                divisor,
                mode,
                derivative,
                batch,
                scorer,
                gradient,
                threads,
                not multiclass,
                token,
            )
        elif family == MATRIX:
            _LOOPS[key] = _matrix_loop(
                prepare,
                update,
                mode,
                squares,
                derivative,
                batch,
                scorer,
                gradient,
                threads,
                value,
                summer,
                token,
            )
        else:
            raise ValueError(f"family must be one of {FAMILIES}; got {family!r}.")
    return _LOOPS[key]


def _entrywise_loop(
    prepare, update, mode, derivative, batch, scorer, gradient, threads, fused, token
):
    @kernel()
    def loop(
        X2,
        rowpow,
        rowexp,
        labels,
        lparams,
        order,
        n_epochs,
        batch_size,
        lrs,
        t0,
        W,
        state,
        hp,
        dyn,
        scale,
        carry,
        limits,
    ):
        """Run ``n_epochs`` epochs of an entrywise rule, updating ``W, state, scale, carry``.

        Parameters
        ----------
        X2, rowpow, rowexp : float64 (n, d), (n,), (n,)
            Data rows divided by powers of two, those powers and their exponents.
        labels : int64 (n,)
            Classes (multiclass losses only).
        lparams : float64 array
            The loss's parameters.
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
        limits : float64 (2,)
            ``[LOW_BITS, HIGH_BITS]``, the bounds of the scaled gradients and state.
        """
        token  # noqa: B018 (part of the cache key)
        if fused and batch_size == 1:
            _binary_sample_steps(
                update,
                prepare,
                derivative,
                mode,
                X2,
                rowpow,
                rowexp,
                lparams,
                order,
                n_epochs,
                lrs,
                t0,
                W,
                state,
                hp,
                dyn,
                scale,
                carry,
                limits,
            )
            return
        if fused and batch_size < X2.shape[0]:
            _binary_batch_steps(
                update,
                prepare,
                derivative,
                mode,
                X2,
                rowpow,
                rowexp,
                lparams,
                order,
                n_epochs,
                batch_size,
                lrs,
                t0,
                W,
                state,
                hp,
                dyn,
                scale,
                limits,
            )
            return
        n, d = X2.shape
        kout = W.shape[0]
        scores = np.empty((batch_size, kout))
        lp = np.empty((batch_size, kout))
        sg = np.empty((batch_size, kout))
        coef = np.empty((batch_size, kout))
        G = np.empty((kout, d if batch_size > 1 else 0))
        no_squares = np.empty((kout, 0))
        rows = order.shape[0]
        step = 0
        for e in range(n_epochs):
            er = e % rows
            for start in range(0, n, batch_size):
                nb = min(batch_size, n - start)
                # (a separate statement: a condition inside the call's arguments puts a
                # branch between the call and the reference counts of its array arguments,
                # which are then not pruned and cost 12 atomic operations per step)
                use_carry = batch_size == 1 and carry[0] == 1.0
                anchor_lp, anchor_f = batch(
                    derivative,
                    scorer,
                    W,
                    X2,
                    rowpow,
                    rowexp,
                    labels,
                    lparams,
                    order,
                    er,
                    start,
                    nb,
                    use_carry,
                    carry,
                    scores,
                    lp,
                    sg,
                    threads,
                )
                follow_scale(mode, scale, state, dyn, anchor_lp, anchor_f, limits)
                _coefficients(X2, rowexp, order, er, start, nb, scale, lp, sg, coef)
                p = prepare(hp, lrs[step], t0 + step, scale[BITS] * LN2 - scale[ANCHOR])
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
                    gradient(X2, order, er, start, nb, coef, G, no_squares, threads)
                    for c in range(kout):
                        for k in range(d):
                            W[c, k] = update(G[c, k], W[c, k], state, c, k, p)
                if mode == STATE:
                    update_bounds(scale, dyn, _gradient_bound(coef, nb))
                step += 1

    return loop


def _normalized_loop(
    prepare,
    update,
    factor,
    divisor,
    mode,
    derivative,
    batch,
    scorer,
    gradient,
    threads,
    fused,
    token,
):
    @kernel()
    def loop(
        X2,
        rowpow,
        rowexp,
        labels,
        lparams,
        order,
        n_epochs,
        batch_size,
        lrs,
        t0,
        W,
        state,
        hp,
        dyn,
        scale,
        carry,
        limits,
    ):
        """Run ``n_epochs`` epochs of a normalized rule; arguments as for entrywise rules."""
        token  # noqa: B018 (part of the cache key)
        n, d = X2.shape
        kout = W.shape[0]
        moments = np.empty((kout, d))
        if fused and batch_size == 1:
            _binary_normalized_steps(
                update,
                prepare,
                factor,
                divisor,
                derivative,
                mode,
                X2,
                rowpow,
                rowexp,
                lparams,
                order,
                n_epochs,
                lrs,
                t0,
                W,
                state,
                hp,
                dyn,
                scale,
                carry,
                limits,
                moments,
            )
            return
        scores = np.empty((batch_size, kout))
        lp = np.empty((batch_size, kout))
        sg = np.empty((batch_size, kout))
        coef = np.empty((batch_size, kout))
        G = np.empty((kout, d))
        no_squares = np.empty((kout, 0))
        rows = order.shape[0]
        step = 0
        for e in range(n_epochs):
            er = e % rows
            for start in range(0, n, batch_size):
                nb = min(batch_size, n - start)
                use_carry = batch_size == 1 and carry[0] == 1.0
                anchor_lp, anchor_f = batch(
                    derivative,
                    scorer,
                    W,
                    X2,
                    rowpow,
                    rowexp,
                    labels,
                    lparams,
                    order,
                    er,
                    start,
                    nb,
                    use_carry,
                    carry,
                    scores,
                    lp,
                    sg,
                    threads,
                )
                follow_scale(mode, scale, state, dyn, anchor_lp, anchor_f, limits)
                _coefficients(X2, rowexp, order, er, start, nb, scale, lp, sg, coef)
                gradient(X2, order, er, start, nb, coef, G, no_squares, threads)
                p = prepare(hp, lrs[step], t0 + step, scale[BITS] * LN2 - scale[ANCHOR])
                top = 0.0
                for c in range(kout):
                    for k in range(d):
                        m = update(G[c, k], W[c, k], state, c, k, p)
                        moments[c, k] = m
                        top = max(top, abs(m))
                size = _normalize(factor, divisor, moments, top, p, lrs[step])
                if batch_size == 1:
                    j = order[er, start + 1] if start + 1 < n else order[(e + 1) % rows, 0]
                    for c in range(kout):
                        acc = 0.0
                        for k in range(d):
                            wk = W[c, k] - size * moments[c, k]
                            W[c, k] = wk
                            acc = accumulate(acc, wk, X2[j, k])
                        carry[1 + c] = acc * rowpow[j]
                    carry[0] = 1.0
                else:
                    for c in range(kout):
                        for k in range(d):
                            W[c, k] -= size * moments[c, k]
                if mode == STATE:
                    update_bounds(scale, dyn, _gradient_bound(coef, nb))
                step += 1

    return loop


@jitable(nrt=False)
def _normalize(factor, divisor, moments, top, p, eta):
    """Turn the moments into ``sign(m_k) factor(a_k)`` in place; return ``eta / divisor(S)``.

    ``a_k = |m_k| / top`` and ``S = sum_k factor(a_k) a_k``. No step (0) when every moment is
    0 (the 0/0 rule).
    """
    if not top > 0.0:
        for c in range(moments.shape[0]):
            for k in range(moments.shape[1]):
                moments[c, k] = 0.0
        return 0.0
    total = 0.0
    for c in range(moments.shape[0]):
        for k in range(moments.shape[1]):
            m = moments[c, k]
            a = abs(m) / top
            fk = factor(a, p) if m != 0.0 else 0.0
            total += fk * a
            moments[c, k] = fk if m > 0.0 else -fk
    return eta / divisor(total, p)


@jitable
def _binary_normalized_steps(
    update,
    prepare,
    factor,
    divisor,
    derivative,
    mode,
    X2,
    rowpow,
    rowexp,
    lparams,
    order,
    n_epochs,
    lrs,
    t0,
    W,
    state,
    hp,
    dyn,
    scale,
    carry,
    limits,
    moments,
):
    """The one-sample steps of a normalized rule on binary data.

    Three passes over the coordinates per step, the last fused with the next sample's dot
    product.
    """
    n, d = X2.shape
    rows = order.shape[0]
    s = carry[1] if carry[0] == 1.0 else dot_row(W, 0, X2, order[0, 0]) * rowpow[order[0, 0]]
    step = 0
    for e in range(n_epochs):
        er = e % rows
        for start in range(n):
            i = order[er, start]
            j = order[er, start + 1] if start + 1 < n else order[(e + 1) % rows, 0]
            f = rowexp[i]
            lp = derivative(s, lparams)
            follow_scale(mode, scale, state, dyn, lp, f, limits)
            anchor = scale[ANCHOR]
            bits = scale[BITS]
            cc = -math.exp(log_coefficient(lp, anchor, bits, f))
            p = prepare(hp, lrs[step], t0 + step, bits * LN2 - anchor)
            top = 0.0
            for k in range(d):
                m = update(cc * X2[i, k], W[0, k], state, 0, k, p)
                moments[0, k] = m
                top = max(top, abs(m))
            size = _normalize(factor, divisor, moments, top, p, lrs[step])
            acc = 0.0
            for k in range(d):
                wk = W[0, k] - size * moments[0, k]
                W[0, k] = wk
                acc = accumulate(acc, wk, X2[j, k])
            s = acc * rowpow[j]
            if mode == STATE:
                update_bounds(scale, dyn, -ROW_BOUND * cc)
            step += 1
    carry[0] = 1.0
    carry[1] = s


def _matrix_loop(
    prepare,
    update,
    mode,
    squares,
    derivative,
    batch,
    scorer,
    gradient,
    threads,
    value,
    summer,
    token,
):
    takes_loss = value is not None
    if value is None:
        value, summer = _no_value, _no_loss_sum

    @kernel()
    def loop(
        X2,
        rowpow,
        rowexp,
        labels,
        lparams,
        order,
        n_epochs,
        batch_size,
        lrs,
        t0,
        W,
        state,
        hp,
        dyn,
        scale,
        carry,
        limits,
    ):
        """Run ``n_epochs`` epochs of a matrix rule; arguments as for entrywise rules.

        The batch gradient ``G`` (and ``Q``, the sum of the squared per-sample gradients,
        for rules that ask for it; or ``Q[0, 0]``, the batch's mean loss scaled like the
        gradients, for rules that take the loss) is formed in full before ``update`` is
        called. ``carry`` is not used.
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
        loss_sum = np.zeros((1, 1))
        rows = order.shape[0]
        step = 0
        for e in range(n_epochs):
            er = e % rows
            for start in range(0, n, batch_size):
                nb = min(batch_size, n - start)
                anchor_lp, anchor_f = batch(
                    derivative,
                    scorer,
                    W,
                    X2,
                    rowpow,
                    rowexp,
                    labels,
                    lparams,
                    order,
                    er,
                    start,
                    nb,
                    False,
                    carry,
                    scores,
                    lp,
                    sg,
                    threads,
                )
                follow_scale(mode, scale, state, dyn, anchor_lp, anchor_f, limits)
                _coefficients(X2, rowexp, order, er, start, nb, scale, lp, sg, coef)
                gradient(X2, order, er, start, nb, coef, G, Q, threads)
                p = prepare(hp, lrs[step], t0 + step, scale[BITS] * LN2 - scale[ANCHOR])
                if takes_loss:
                    loss_sum[0, 0] = summer(
                        value, scores, labels, order, er, start, nb, lparams, scale
                    )
                update(G, loss_sum if takes_loss else Q, W, state, p)
                if mode == STATE:
                    update_bounds(scale, dyn, _gradient_bound(coef, nb))
                step += 1

    return loop


def _model_loop(
    family,
    prepare,
    update,
    factor,
    divisor,
    mode,
    squares,
    derivative,
    batch,
    scorer,
    gradient,
    threads,
    value,
    summer,
    weight,
    chain,
    m,
    token,
):
    takes_loss = value is not None
    if value is None:
        value, summer = _no_value, _no_loss_sum
    entrywise = family == ENTRYWISE
    normalized = family == NORMALIZED
    if factor is None:
        factor, divisor = _no_value, _no_value

    @kernel()
    def loop(
        X2,
        rowpow,
        rowexp,
        labels,
        lparams,
        order,
        n_epochs,
        batch_size,
        lrs,
        t0,
        P,
        state,
        hp,
        dyn,
        scale,
        carry,
        limits,
        mp,
    ):
        """Run ``n_epochs`` epochs of a rule on a model's parameter ``P`` (updated in place).

        Arguments as for the linear loops, with ``P`` (multiplicity * kout rows) in place of
        W and the model's parameters ``mp``. The effective weights are formed from P after
        every step (with the next sample's scores for one-sample steps).
        """
        token  # noqa: B018 (part of the cache key)
        n, d = X2.shape
        rows_p = P.shape[0]
        kout = rows_p // m
        W = np.empty((kout, d))
        fmax = _model_weights(weight, chain, m, P, W, mp)
        scores = np.empty((batch_size, kout))
        lp = np.empty((batch_size, kout))
        sg = np.empty((batch_size, kout))
        coef = np.empty((batch_size, kout))
        G = np.empty((kout, d))
        Q = np.empty((kout, d if squares else 0))
        Gp = np.empty((rows_p, d))
        Qp = np.empty((rows_p, d if squares else 0))
        loss_sum = np.zeros((1, 1))
        factors = np.empty(m)
        rows = order.shape[0]
        step = 0
        for e in range(n_epochs):
            er = e % rows
            for start in range(0, n, batch_size):
                nb = min(batch_size, n - start)
                use_carry = batch_size == 1 and carry[0] == 1.0
                anchor_lp, anchor_f = batch(
                    derivative,
                    scorer,
                    W,
                    X2,
                    rowpow,
                    rowexp,
                    labels,
                    lparams,
                    order,
                    er,
                    start,
                    nb,
                    use_carry,
                    carry,
                    scores,
                    lp,
                    sg,
                    threads,
                )
                # the chain-rule factors multiply the gradients: the scale bounds them too
                offset = math.log(fmax) if fmax > 0.0 else 0.0
                follow_scale(mode, scale, state, dyn, anchor_lp + offset, anchor_f, limits)
                _coefficients(X2, rowexp, order, er, start, nb, scale, lp, sg, coef)
                p = prepare(hp, lrs[step], t0 + step, scale[BITS] * LN2 - scale[ANCHOR])
                gmax = 0.0
                if entrywise and batch_size == 1:
                    # one pass per coordinate: the factors from the parameter before the
                    # step, the updates, the new weights, and the next sample's scores
                    i = order[er, start]
                    nxt = order[er, start + 1] if start + 1 < n else order[(e + 1) % rows, 0]
                    fmax = 0.0
                    for c in range(kout):
                        cc = coef[0, c]
                        acc = 0.0
                        for k in range(d):
                            g = cc * X2[i, k]
                            for j in range(m):
                                factors[j] = chain(P, c, k, kout, j, mp)
                            for j in range(m):
                                r = c + j * kout
                                gp = factors[j] * g
                                gmax = max(gmax, abs(gp))
                                P[r, k] = update(gp, P[r, k], state, r, k, p)
                            wk = weight(P, c, k, kout, mp)
                            W[c, k] = wk
                            for j in range(m):
                                fmax = max(fmax, abs(chain(P, c, k, kout, j, mp)))
                            acc += wk * X2[nxt, k]
                        carry[1 + c] = acc * rowpow[nxt]
                    carry[0] = 1.0
                else:
                    gradient(X2, order, er, start, nb, coef, G, Q, threads)
                    for j in range(m):
                        for c in range(kout):
                            r = c + j * kout
                            for k in range(d):
                                f = chain(P, c, k, kout, j, mp)
                                Gp[r, k] = f * G[c, k]
                                gmax = max(gmax, abs(Gp[r, k]))
                                if squares:
                                    Qp[r, k] = (f * f) * Q[c, k]
                    if entrywise:
                        for r in range(rows_p):
                            for k in range(d):
                                P[r, k] = update(Gp[r, k], P[r, k], state, r, k, p)
                    elif normalized:
                        top = 0.0
                        for r in range(rows_p):
                            for k in range(d):
                                mk = update(Gp[r, k], P[r, k], state, r, k, p)
                                Gp[r, k] = mk
                                top = max(top, abs(mk))
                        size = _normalize(factor, divisor, Gp, top, p, lrs[step])
                        for r in range(rows_p):
                            for k in range(d):
                                P[r, k] -= size * Gp[r, k]
                    else:
                        if takes_loss:
                            loss_sum[0, 0] = summer(
                                value, scores, labels, order, er, start, nb, lparams, scale
                            )
                        update(Gp, loss_sum if takes_loss else Qp, P, state, p)
                    fmax = _model_weights(weight, chain, m, P, W, mp)
                    if batch_size == 1:
                        j = order[er, start + 1] if start + 1 < n else order[(e + 1) % rows, 0]
                        for c in range(kout):
                            carry[1 + c] = dot_row(W, c, X2, j) * rowpow[j]
                        carry[0] = 1.0
                if mode == STATE:
                    update_bounds(scale, dyn, gmax)
                step += 1

    return loop


@jitable(nrt=False)
def _model_weights(weight, chain, m, P, W, mp):
    """Form the effective weights ``W`` from ``P``; return the largest chain-rule factor."""
    kout, d = W.shape
    fmax = 0.0
    for c in range(kout):
        for k in range(d):
            W[c, k] = weight(P, c, k, kout, mp)
            for j in range(m):
                fmax = max(fmax, abs(chain(P, c, k, kout, j, mp)))
    return fmax


@jitable
def _no_value(s, lparams):
    """Stands in for a loss value a rule does not take."""
    return 0.0


@jitable(nrt=False)
def _no_loss_sum(value, scores, labels, order, er, start, nb, lparams, scale):
    """Stands in for the loss sum a rule does not take."""
    return 0.0


@jitable(nrt=False)
def _binary_loss_sum(value, scores, labels, order, er, start, nb, lparams, scale):
    """The batch's mean loss ``(1/nb) sum_r l(s_r)``, scaled like the gradients.

    ``value(s, lparams) = log l(s)``; each term is ``exp(log l - A + K ln 2)`` (no row
    exponent: a loss is not multiplied by a data row).
    """
    total = 0.0
    for r in range(nb):
        total += math.exp(
            log_coefficient(value(scores[r, 0], lparams), scale[ANCHOR], scale[BITS], 0.0)
        )
    return total / nb


@jitable(nrt=False)
def _multiclass_loss_sum(value, scores, labels, order, er, start, nb, lparams, scale):
    """As :func:`_binary_loss_sum` for a multiclass loss ``value(scores, r, label, lparams)``."""
    total = 0.0
    for r in range(nb):
        label = labels[order[er, start + r]]
        total += math.exp(
            log_coefficient(value(scores, r, label, lparams), scale[ANCHOR], scale[BITS], 0.0)
        )
    return total / nb


@jitable(nrt=False)
def _binary_batch(
    derivative,
    scorer,
    W,
    X2,
    rowpow,
    rowexp,
    labels,
    lparams,
    order,
    er,
    start,
    nb,
    use_carry,
    carry,
    scores,
    lp,
    sg,
    threads,
):
    """Scores and log-derivatives of a batch for a binary loss (one margin per sample).

    Writes ``scores[r, 0]``, ``lp[r, 0]`` and ``sg[r, 0] = -1`` (binary losses decrease)
    for each sample r of the batch ``order[er, start:start + nb]`` (scored four rows per pass
    by ``scorer``, a function of :func:`~fastbias._kernels.passes.passes`, on ``threads``
    threads; the score of a one-sample step from ``carry`` when ``use_carry``); returns the
    log-derivative and the row exponent of the batch's largest coefficient (the anchor of a
    scale move).
    """
    if use_carry:
        scores[0, 0] = carry[1]
    else:
        scorer(W, X2, rowpow, order, er, start, nb, scores, threads)
    return _binary_derivatives(derivative, scores, rowexp, lparams, order, er, start, nb, lp, sg)


@jitable(nrt=False, inline=True)
def _binary_derivatives(derivative, scores, rowexp, lparams, order, er, start, nb, lp, sg):
    """``lp[r, 0]`` and ``sg[r, 0] = -1`` of a scored binary batch; the anchor of a scale move.

    Returns the log-derivative and the row exponent of the batch's largest coefficient.
    """
    top = -math.inf
    anchor_lp = 0.0
    anchor_f = 0.0
    for r in range(nb):
        i = order[er, start + r]
        best = derivative(scores[r, 0], lparams)
        lp[r, 0] = best
        sg[r, 0] = -1.0
        if best + rowexp[i] * LN2 > top:
            top = best + rowexp[i] * LN2
            anchor_lp = best
            anchor_f = rowexp[i]
    return anchor_lp, anchor_f


@jitable(nrt=False)
def _multiclass_batch(
    derivative,
    scorer,
    W,
    X2,
    rowpow,
    rowexp,
    labels,
    lparams,
    order,
    er,
    start,
    nb,
    use_carry,
    carry,
    scores,
    lp,
    sg,
    threads,
):
    """Scores and log-derivatives of a batch for a multiclass loss; as :func:`_binary_batch`."""
    if use_carry:
        for c in range(W.shape[0]):
            scores[0, c] = carry[1 + c]
    else:
        scorer(W, X2, rowpow, order, er, start, nb, scores, threads)
    return _multiclass_derivatives(
        derivative, scores, rowexp, labels, lparams, order, er, start, nb, lp, sg
    )


@jitable(nrt=False)
def _multiclass_derivatives(
    derivative, scores, rowexp, labels, lparams, order, er, start, nb, lp, sg
):
    """``lp``, ``sg`` of a scored multiclass batch; the anchor (as :func:`_binary_derivatives`)."""
    top = -math.inf
    anchor_lp = 0.0
    anchor_f = 0.0
    for r in range(nb):
        i = order[er, start + r]
        best = derivative(scores, r, labels[i], lp, sg, lparams)
        if best + rowexp[i] * LN2 > top:
            top = best + rowexp[i] * LN2
            anchor_lp = best
            anchor_f = rowexp[i]
    return anchor_lp, anchor_f


@jitable(nrt=False)
def _coefficients(X2, rowexp, order, er, start, nb, scale, lp, sg, coef):
    """The scaled coefficients ``sign * exp(lp - A + (K + f) ln 2) / nb`` of the batch."""
    anchor = scale[ANCHOR]
    bits = scale[BITS]
    for r in range(nb):
        f = rowexp[order[er, start + r]]
        for c in range(coef.shape[1]):
            value = sg[r, c] * math.exp(log_coefficient(lp[r, c], anchor, bits, f))
            coef[r, c] = value / nb if nb > 1 else value


@jitable
def _binary_sample_steps(
    update,
    prepare,
    derivative,
    mode,
    X2,
    rowpow,
    rowexp,
    lparams,
    order,
    n_epochs,
    lrs,
    t0,
    W,
    state,
    hp,
    dyn,
    scale,
    carry,
    limits,
):
    """The one-sample steps of an entrywise rule on binary data: the hot loop.

    The same recurrence as the general loop with k = 1 and one sample per step, with the
    score, the log-derivative and the coefficient kept in registers: one pass over the
    coordinates per step, the update fused with the dot product of the next sample.
    """
    n, d = X2.shape
    rows = order.shape[0]
    s = carry[1] if carry[0] == 1.0 else dot_row(W, 0, X2, order[0, 0]) * rowpow[order[0, 0]]
    step = 0
    for e in range(n_epochs):
        er = e % rows
        for start in range(n):
            i = order[er, start]
            j = order[er, start + 1] if start + 1 < n else order[(e + 1) % rows, 0]
            f = rowexp[i]
            lp = derivative(s, lparams)
            follow_scale(mode, scale, state, dyn, lp, f, limits)
            anchor = scale[ANCHOR]
            bits = scale[BITS]
            cc = -math.exp(log_coefficient(lp, anchor, bits, f))
            p = prepare(hp, lrs[step], t0 + step, bits * LN2 - anchor)
            acc = 0.0
            for k in range(d):
                wk = update(cc * X2[i, k], W[0, k], state, 0, k, p)
                W[0, k] = wk
                acc = accumulate(acc, wk, X2[j, k])
            s = acc * rowpow[j]
            if mode == STATE:
                update_bounds(scale, dyn, -ROW_BOUND * cc)
            step += 1
    carry[0] = 1.0
    carry[1] = s


@jitable
def _binary_batch_steps(
    update,
    prepare,
    derivative,
    mode,
    X2,
    rowpow,
    rowexp,
    lparams,
    order,
    n_epochs,
    batch_size,
    lrs,
    t0,
    W,
    state,
    hp,
    dyn,
    scale,
    limits,
):
    """The mini-batch steps (1 < batch_size < n) of an entrywise rule on binary data.

    The recurrence of the general loop, with the passes over the coordinates fused: the
    batch gradient's rows before its last block of :data:`~fastbias._kernels.passes.BLOCK`
    rows are summed into ``G`` (as :func:`~fastbias._kernels.passes.batch_gradient`, four
    rows per pass), and one pass adds the last block (in batch order, so each entry is
    bitwise the general loop's), updates the parameter and forms the scores of the next
    batch's first rows in the same epoch; its other rows, and the first batch of every
    epoch, are scored four rows per pass (:func:`~fastbias._kernels.passes.block_scores`).
    A one-block batch (at most four samples) thus takes one pass per step.
    """
    n, d = X2.shape
    rows = order.shape[0]
    scores = np.empty((batch_size, 1))
    lp = np.empty((batch_size, 1))
    sg = np.empty((batch_size, 1))
    coef = np.empty((batch_size, 1))
    G = np.empty((1, d))
    no_squares = np.empty((1, 0))
    step = 0
    for e in range(n_epochs):
        er = e % rows
        for start in range(0, n, batch_size):
            nb = min(batch_size, n - start)
            if start == 0:
                block_scores(W, X2, rowpow, order, er, 0, nb, scores, 0)
            anchor_lp, anchor_f = _binary_derivatives(
                derivative, scores, rowexp, lparams, order, er, start, nb, lp, sg
            )
            follow_scale(mode, scale, state, dyn, anchor_lp, anchor_f, limits)
            anchor = scale[ANCHOR]
            bits = scale[BITS]
            # _coefficients with sg = -1, in place: its call per step costs more than this loop
            for r in range(nb):
                f = rowexp[order[er, start + r]]
                coef[r, 0] = -math.exp(log_coefficient(lp[r, 0], anchor, bits, f)) / nb
            p = prepare(hp, lrs[step], t0 + step, bits * LN2 - anchor)
            # the rows before the last block, then the last block in the fused pass (a
            # shorter block is padded with zero coefficients: adding +-0 leaves every sum
            # bitwise as it is, and the sums start at +0)
            head = BLOCK * ((nb - 1) // BLOCK)
            if head > 0:
                batch_gradient(X2, order, er, start, head, coef, G, no_squares)
            last = nb - head
            i0 = order[er, start + head]
            i1 = order[er, start + head + 1] if last > 1 else i0
            i2 = order[er, start + head + 2] if last > 2 else i0
            i3 = order[er, start + head + 3] if last > 3 else i0
            c0 = coef[head, 0]
            c1 = coef[head + 1, 0] if last > 1 else 0.0
            c2 = coef[head + 2, 0] if last > 2 else 0.0
            c3 = coef[head + 3, 0] if last > 3 else 0.0
            nxt = start + batch_size
            count = min(batch_size, n - nxt) if nxt < n else 0
            j0 = order[er, nxt] if count > 0 else i0
            j1 = order[er, nxt + 1] if count > 1 else j0
            j2 = order[er, nxt + 2] if count > 2 else j0
            j3 = order[er, nxt + 3] if count > 3 else j0
            a0 = a1 = a2 = a3 = 0.0
            for k in range(d):
                g = G[0, k] if head > 0 else 0.0
                g = (((g + c0 * X2[i0, k]) + c1 * X2[i1, k]) + c2 * X2[i2, k]) + c3 * X2[i3, k]
                wk = update(g, W[0, k], state, 0, k, p)
                W[0, k] = wk
                a0 = accumulate(a0, wk, X2[j0, k])
                a1 = accumulate(a1, wk, X2[j1, k])
                a2 = accumulate(a2, wk, X2[j2, k])
                a3 = accumulate(a3, wk, X2[j3, k])
            if mode == STATE:
                update_bounds(scale, dyn, _gradient_bound(coef, nb))
            if count > 0:
                scores[0, 0] = a0 * rowpow[j0]
            if count > 1:
                scores[1, 0] = a1 * rowpow[j1]
            if count > 2:
                scores[2, 0] = a2 * rowpow[j2]
            if count > 3:
                scores[3, 0] = a3 * rowpow[j3]
            if count > BLOCK:
                block_scores(W, X2, rowpow, order, er, nxt + BLOCK, count - BLOCK, scores, BLOCK)
            step += 1


@jitable(nrt=False)
def _gradient_bound(coef, nb):
    """Bound of the scaled batch-gradient entries: ``max_c sum_r |coef[r, c]| * ROW_BOUND``."""
    out = 0.0
    for c in range(coef.shape[1]):
        total = 0.0
        for r in range(nb):
            total += abs(coef[r, c])
        out = max(out, ROW_BOUND * total)
    return out


__all__ = [
    "ENTRYWISE",
    "FAMILIES",
    "MATRIX",
    "NORMALIZED",
    "PLAIN",
    "STATE",
    "STEP",
    "compiled_loop",
    "source_digest",
]

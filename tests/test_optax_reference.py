"""Side by side with optax (float64), when it is installed (skipped otherwise).

The same data, batches and learning rates are given to fastbias and to optax's
``scale_by_amsgrad``, ``scale_by_adam(nesterov=True)`` (NAdam), ``scale_by_belief``
(AdaBelief) and ``scale_by_adamax`` (the semantics SPEC section 11 names), with the gradients
of the mean loss computed by jax; the iterates must agree to 1e-12 relative after every
epoch. optax is a test reference only (``pip install ".[optax]"``), never a dependency.
"""

import numpy as np
import pytest

import fastbias as fb

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

EPOCHS = 8
BINARY = fb.datasets.gaussian(n=6, d=7, seed=5)
MULTICLASS = fb.datasets.gaussian_multiclass(n=7, d=6, k=3, seed=1)


def optax_run(data, transform, *, batch_size, lrs):
    """Iterates after each epoch of ``w -= eta_t * transform(g)`` (cyclic batches)."""
    k = data.k if data.multiclass else 1
    rows = jnp.asarray(data.X if data.multiclass else data.Z)
    labels = jnp.asarray(data.y if data.multiclass else np.zeros(data.n, dtype=np.int64))

    def loss(W, batch):
        scores = rows[batch] @ W.T
        if data.multiclass:
            log_p = jax.nn.log_softmax(scores, axis=1)
            return -jnp.mean(log_p[jnp.arange(scores.shape[0]), labels[batch]])
        return jnp.mean(jnp.exp(-scores[:, 0]))

    grad = jax.grad(loss)
    W = jnp.zeros((k, data.d))
    state = transform.init(W)
    out, t = [np.asarray(W)], 0
    for _ in range(EPOCHS):
        for start in range(0, data.n, batch_size):
            batch = jnp.arange(start, min(start + batch_size, data.n))
            updates, state = transform.update(grad(W, batch), state)
            W = W - lrs[t] * updates
            t += 1
        out.append(np.asarray(W))
    out = np.array(out)
    return out if data.multiclass else out[:, 0, :]


CASES = [
    (
        fb.IncAdam(amsgrad=True, batch_size=2),
        lambda: optax.scale_by_amsgrad(
            0.9, 0.999, eps=0.0, bias_correction_mu=False, bias_correction_nu=False
        ),
    ),
    (fb.NAdam(batch_size=3), lambda: optax.scale_by_adam(0.9, 0.999, eps=0.0, nesterov=True)),
    (
        fb.NAdam(beta1=0.5, beta2=0.9, eps=1e-6, batch_size=None),
        lambda: optax.scale_by_adam(0.5, 0.9, eps=1e-6, nesterov=True),
    ),
    (fb.AdaBelief(batch_size=2), lambda: optax.scale_by_belief(0.9, 0.999, eps=0.0, eps_root=0.0)),
    (
        fb.AdaBelief(eps=1e-8, eps_root=1e-10, batch_size=None),
        lambda: optax.scale_by_belief(0.9, 0.999, eps=1e-8, eps_root=1e-10),
    ),
    (fb.Adamax(batch_size=1), lambda: optax.scale_by_adamax(0.9, 0.999, eps=0.0)),
    (
        fb.Adamax(beta1=0.5, eps=1e-6, batch_size=None),
        lambda: optax.scale_by_adamax(0.5, 0.999, eps=1e-6),
    ),
]


@pytest.mark.parametrize("data", [BINARY, MULTICLASS], ids=["binary", "multiclass"])
@pytest.mark.parametrize("optimizer, make", CASES, ids=[repr(c[0]) for c in CASES])
def test_the_adam_family_agrees_with_optax(optimizer, make, data):
    lr = fb.PolynomialDecay(0.1, 0.5)
    steps = optimizer.steps_per_epoch(data.n) * EPOCHS
    loss = "ce" if data.multiclass else "exp"
    tr = fb.simulate(
        data, optimizer, lr=lr, epochs=EPOCHS, loss=loss, record=list(range(EPOCHS + 1))
    )
    ref = optax_run(
        data, make(), batch_size=optimizer.batch_size_for(data.n), lrs=lr.rates(0, steps)
    )
    scale = np.abs(ref).reshape(EPOCHS + 1, -1).max(axis=1)[1:]
    err = np.abs(tr.w - ref).reshape(EPOCHS + 1, -1).max(axis=1)[1:] / scale
    assert err.max() <= 1e-12, f"relative errors per epoch {err}"

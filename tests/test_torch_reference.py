"""Side by side with torch.optim (float64), when PyTorch is installed (skipped otherwise).

The same data, batches and learning rates are given to fastbias and to torch.optim's Adam,
AdamW, RMSprop, Adagrad and SGD (the semantics SPEC section 8 names); the iterates must agree
to 1e-12 relative after every epoch. torch is a test reference only, never a dependency.
"""

import numpy as np
import pytest

import fastbias as fb

torch = pytest.importorskip("torch")

EPOCHS = 8
BINARY = fb.datasets.gaussian(n=6, d=7, seed=5)
MULTICLASS = fb.datasets.gaussian_multiclass(n=7, d=6, k=3, seed=1)


def torch_run(data, make_optimizer, *, batch_size, lrs, loss):
    """Iterates after each epoch of a torch optimizer (cyclic batches, float64)."""
    k = data.k if data.multiclass else 1
    W = torch.zeros((k, data.d), dtype=torch.float64, requires_grad=True)
    opt = make_optimizer([W])
    rows = torch.tensor(data.X if data.multiclass else data.Z, dtype=torch.float64)
    labels = torch.tensor(data.y if data.multiclass else np.zeros(data.n, dtype=np.int64))
    out, t = [W.detach().clone().numpy()], 0
    for _ in range(EPOCHS):
        for start in range(0, data.n, batch_size):
            batch = slice(start, start + batch_size)
            scores = rows[batch] @ W.T
            if data.multiclass:
                value = torch.nn.functional.cross_entropy(scores, labels[batch])
            else:
                value = torch.exp(-scores[:, 0]).mean()
            opt.zero_grad()
            value.backward()
            for group in opt.param_groups:
                group["lr"] = float(lrs[t])
            opt.step()
            t += 1
        out.append(W.detach().clone().numpy())
    out = np.array(out)
    return out if data.multiclass else out[:, 0, :]


CASES = [
    # (fastbias optimizer, torch optimizer factory, batch size)
    (
        fb.IncAdam(eps=1e-8, bias_correction=True),
        lambda p: torch.optim.Adam(p, betas=(0.9, 0.999), eps=1e-8),
        1,
    ),
    (
        fb.IncAdam(beta1=0.8, beta2=0.95, batch_size=3, eps=1e-6, bias_correction=True),
        lambda p: torch.optim.Adam(p, betas=(0.8, 0.95), eps=1e-6),
        3,
    ),
    (
        fb.IncAdam(batch_size=2, eps=1e-8, bias_correction=True, weight_decay=0.1),
        lambda p: torch.optim.AdamW(p, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
        2,
    ),
    (fb.RMSProp(beta2=0.9, eps=1e-8), lambda p: torch.optim.RMSprop(p, alpha=0.9, eps=1e-8), 1),
    (fb.AdaGrad(eps=1e-10, batch_size=2), lambda p: torch.optim.Adagrad(p, eps=1e-10), 2),
    (fb.SGD(momentum=0.9), lambda p: torch.optim.SGD(p, momentum=0.9), 1),
    (
        fb.SGD(momentum=0.5, nesterov=True, batch_size=3),
        lambda p: torch.optim.SGD(p, momentum=0.5, nesterov=True),
        3,
    ),
]


@pytest.mark.parametrize("multiclass", [False, True], ids=["binary", "multiclass"])
@pytest.mark.parametrize(
    "optimizer, make, batch_size", CASES, ids=[repr(case[0]) for case in CASES]
)
def test_fastbias_equals_torch_optim(optimizer, make, batch_size, multiclass):
    data = MULTICLASS if multiclass else BINARY
    loss = "ce" if multiclass else "exp"
    plain = not optimizer.scale_invariant and isinstance(optimizer, fb.SGD)
    lr = fb.Constant(0.01) if plain else fb.PolynomialDecay(0.1, 0.5)
    steps = EPOCHS * (-(-data.n // batch_size))
    tr = fb.simulate(
        data, optimizer, lr=lr, epochs=EPOCHS, loss=loss, record=list(range(EPOCHS + 1))
    )
    ref = torch_run(data, make, batch_size=batch_size, lrs=lr.rates(0, steps), loss=loss)
    scale = np.abs(ref).reshape(EPOCHS + 1, -1).max(axis=1)[1:]
    err = np.abs(tr.w - ref).reshape(EPOCHS + 1, -1).max(axis=1)[1:] / scale
    assert err.max() <= 1e-12, f"max relative error {err.max():.2e}"

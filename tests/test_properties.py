"""Invariants of the simulator, checked with Hypothesis on random small problems."""

from fractions import Fraction

import numpy as np
import pytest
from conftest import separable_data
from hypothesis import given
from hypothesis import strategies as st

import fastbias as fb

ADAM_LIKE = st.sampled_from(
    [
        fb.IncAdam(),
        fb.IncAdam(beta1=0.5, beta2=0.9, batch_size=2, sampling="reshuffle"),
        fb.IncAdam(batch_size=3, sampling="replacement"),
        fb.DetAdam(),
        fb.AdamProxy(),
        fb.IncSignum(),
        fb.IncSignum(beta=0.5, batch_size=2, sampling="replacement"),
        fb.SignGD(),
        fb.NormalizedGD(),
        fb.GD(),
    ]
)
LOSS = st.sampled_from(["exp", "logistic"])


@st.composite
def problems(draw, min_n=3):
    n = draw(st.integers(min_n, 7))
    d = draw(st.integers(1, 6))
    X, y = separable_data(n, d, seed=draw(st.integers(0, 2**16)))
    return fb.Dataset(X, y)


@given(n=st.integers(1, 12), d=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_generalized_rademacher_rows_have_constant_magnitude(n, d, seed):
    Z = fb.datasets.generalized_rademacher(n=n, d=d, seed=seed, check_separable=False).Z
    np.testing.assert_array_equal(np.abs(Z), np.abs(Z[:, :1]) * np.ones((1, d)))
    assert np.all((np.abs(Z[:, 0]) >= 1.0) & (np.abs(Z[:, 0]) <= 2.0))


@given(data=problems(), optimizer=ADAM_LIKE, loss=LOSS, perm_seed=st.integers(0, 1000))
def test_permuting_and_flipping_coordinates_transforms_the_trajectory(
    data, optimizer, loss, perm_seed
):
    rng = np.random.default_rng(perm_seed)
    perm = rng.permutation(data.d)
    flip = rng.choice([-1.0, 1.0], size=data.d)
    moved = fb.Dataset(data.X[:, perm] * flip, data.y)
    kwargs = dict(epochs=15, loss=loss, seed=1, record=[0, 5, 10])
    a = fb.simulate(data, optimizer, **kwargs)
    b = fb.simulate(moved, optimizer, **kwargs)
    scale = np.abs(a.w).max() + 1e-300
    # the margins sum coordinates in another order, hence rounding-level differences
    assert np.abs(b.w - a.w[:, perm] * flip).max() <= 1e-12 * scale


@given(data=problems(), optimizer=ADAM_LIKE, loss=LOSS)
def test_flipping_signs_only_is_exact(data, optimizer, loss):
    flip = np.where(np.arange(data.d) % 2 == 0, -1.0, 1.0)
    kwargs = dict(epochs=10, loss=loss, seed=2, record=3)
    a = fb.simulate(data, optimizer, **kwargs)
    b = fb.simulate(fb.Dataset(data.X * flip, data.y), optimizer, **kwargs)
    np.testing.assert_array_equal(b.w, a.w * flip)


def adam_pair(b1, b2, n):
    """IncAdam with batch size n and DetAdam; with b1**2 > b2 both warn (SPEC 8)."""
    if Fraction(b1) ** 2 > Fraction(b2):  # exact: b1 * b1 underflows for tiny b1
        with pytest.warns(fb.UnboundedStepWarning, match=r"beta1\*\*2 > beta2"):
            full = fb.IncAdam(b1, b2, batch_size=n)
        with pytest.warns(fb.UnboundedStepWarning):
            det = fb.DetAdam(b1, b2)
        return full, det
    return fb.IncAdam(b1, b2, batch_size=n), fb.DetAdam(b1, b2)


@given(
    data=problems(min_n=1),
    loss=LOSS,
    b1=st.one_of(st.just(0.0), st.floats(0.0, 0.99)),
    b2=st.one_of(st.just(0.0), st.floats(0.0, 0.999)),
)
def test_incadam_with_full_batch_is_detadam(data, loss, b1, b2):
    kwargs = dict(epochs=12, loss=loss, record=4)
    full_opt, det_opt = adam_pair(b1, b2, data.n)
    full = fb.simulate(data, full_opt, **kwargs)
    det = fb.simulate(data, det_opt, **kwargs)
    np.testing.assert_array_equal(full.w, det.w)


@given(
    data=problems(),
    seed=st.integers(0, 2**31),
    sampling=st.sampled_from(["reshuffle", "replacement"]),
)
def test_seed_determines_the_run(data, seed, sampling):
    opt = fb.IncAdam(batch_size=1, sampling=sampling)
    a = fb.simulate(data, opt, epochs=10, seed=seed, record=2)
    b = fb.simulate(data, opt, epochs=10, seed=seed, record=2)
    c = fb.simulate(data, opt, epochs=10, seed=seed + 1, record=2)
    np.testing.assert_array_equal(a.w, b.w)
    assert not np.array_equal(a.w[-1], c.w[-1])


@given(
    data=problems(),
    optimizer=ADAM_LIKE,
    record=st.one_of(st.integers(1, 40), st.lists(st.integers(0, 40), max_size=6)),
    chunk=st.one_of(st.none(), st.integers(1, 9)),
)
def test_final_state_does_not_depend_on_recording_or_chunking(data, optimizer, record, chunk):
    plain = fb.simulate(data, optimizer, epochs=40, seed=4, record=1)
    other = fb.simulate(data, optimizer, epochs=40, seed=4, record=record, chunk_epochs=chunk)
    assert other.epochs[-1] == 40
    np.testing.assert_array_equal(other.w[-1], plain.w[-1])
    # and every record equals the state of a run that stops there
    e = int(other.epochs[0])
    if e > 0:
        stop = fb.simulate(data, optimizer, epochs=e, seed=4, record=1)
        np.testing.assert_array_equal(other.w[0], stop.w[-1])


@given(n=st.integers(2, 6), d=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_input_layout_and_dtype_do_not_matter(n, d, seed):
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X = y[:, None] * rng.integers(1, 6, size=(n, d)).astype(np.float64)  # z_i > 0: separable
    ref = fb.simulate(fb.Dataset(X, y), fb.IncAdam(batch_size=2), epochs=8, record=2)
    for X2, y2 in [
        (X.astype(np.int64), y.astype(np.int32)),
        (np.asfortranarray(X), y),
        (X.tolist(), y.tolist()),
    ]:
        out = fb.simulate(fb.Dataset(X2, y2), fb.IncAdam(batch_size=2), epochs=8, record=2)
        np.testing.assert_array_equal(out.w, ref.w)


@pytest.mark.parametrize(
    "optimizer",
    [fb.IncAdam(), fb.DetAdam(), fb.AdamProxy(), fb.IncSignum(), fb.SignGD(), fb.NormalizedGD()],
    ids=repr,
)
def test_zero_coordinate_never_moves(optimizer):
    """A coordinate that is zero in every sample has no gradient: the 0/0 rule, sign(0) = 0."""
    X2, y = separable_data(5, 2, seed=1)
    X = np.column_stack([X2[:, 0], np.zeros(5), X2[:, 1]])
    with pytest.warns(fb.datasets.ZeroEntryWarning, match="zero entries"):
        data = fb.Dataset(X, y)
    tr = fb.simulate(data, optimizer, epochs=30, record=3, w0=np.array([0.0, 0.25, 0.0]))
    assert np.all(np.isfinite(tr.w))
    np.testing.assert_array_equal(tr.w[:, 1], 0.25)
    assert np.all(tr.w[-1, [0, 2]] != 0.0)

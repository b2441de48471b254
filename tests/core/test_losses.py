"""Tests for cnnlib.losses: softmax, the cross-entropies and the squared error."""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from _strategies import rng_seeds
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib

batches = st.integers(1, 4)
classes = st.integers(1, 5)


def one_hot(labels, M):
    Y = np.zeros((len(labels), M))
    Y[np.arange(len(labels)), labels] = 1
    return Y


# --------------------------------------------------------------------------- softmax


def test_softmax_values_and_stability():
    s = np.array([[1.0, 2.0, 3.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        yhat = cnnlib.softmax(s)
        log_yhat = cnnlib.log_softmax(s)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(yhat[0], e / e.sum(), rtol=1e-15)
    np.testing.assert_array_equal(yhat[1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(yhat[2], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(yhat.sum(axis=1), 1.0, rtol=1e-15)
    # log-softmax stays finite where softmax rounds to 0
    np.testing.assert_allclose(log_yhat[1], [0.0, -2e4, -1e4], rtol=1e-15)
    # any leading shape works along the last axis
    assert cnnlib.softmax(np.zeros((2, 3, 4))).shape == (2, 3, 4)
    np.testing.assert_allclose(cnnlib.softmax([0.0, np.log(3.0)]), [0.25, 0.75], rtol=1e-15)


# --------------------------------------------------------------------------- softmax cross-entropy


@settings(max_examples=30, deadline=None)
@given(N=batches, M=classes, seed=rng_seeds(), form=st.sampled_from(["labels", "one-hot", "soft"]))
def test_softmax_cross_entropy_gradient_matches_finite_differences(N, M, seed, form):
    rng = np.random.default_rng(seed)
    s = 2 * rng.standard_normal((N, M))
    labels = rng.integers(0, M, N)
    y = {"labels": labels, "one-hot": one_hot(labels, M), "soft": cnnlib.softmax(rng.standard_normal((N, M)))}[form]
    L, ds = cnnlib.softmax_cross_entropy(s, y)
    assert ds.shape == s.shape
    ds_num = numerical_gradient(lambda x: cnnlib.softmax_cross_entropy(x, y)[0], s)
    assert rel_error(ds, ds_num) < 1e-7 or np.max(np.abs(ds - ds_num)) < 1e-10  # ds is 0 when M == 1
    # ds = (ŷ - y)/N, seed 003 §3.1 averaged over the batch
    Y = one_hot(labels, M) if form == "labels" else y
    np.testing.assert_allclose(ds, (cnnlib.softmax(s) - Y) / N, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(L, -np.sum(Y * np.log(cnnlib.softmax(s))) / N, rtol=1e-12, atol=1e-15)


def test_integer_labels_and_one_hot_rows_agree():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    L1, ds1 = cnnlib.softmax_cross_entropy(s, labels)
    L2, ds2 = cnnlib.softmax_cross_entropy(s, one_hot(labels, 4))
    L3, ds3 = cnnlib.softmax_cross_entropy(s, [0, 3, 1, 1, 2])  # a list works too
    L4, ds4 = cnnlib.softmax_cross_entropy(s, labels.astype(float))  # whole-valued floats are labels
    assert L1 == L2 == L3 == L4
    for ds in (ds2, ds3, ds4):
        np.testing.assert_array_equal(ds1, ds)


@pytest.mark.parametrize("M", [1, 2, 10, 1000])
def test_cross_entropy_is_log_M_at_uniform_scores(M):
    """A classifier that cannot yet tell the classes apart reports log M."""
    rng = np.random.default_rng(M)
    labels = rng.integers(0, M, 8)
    for shift in (0.0, 3.7, -1e4):
        L, ds = cnnlib.softmax_cross_entropy(np.full((8, M), shift), labels)
        np.testing.assert_allclose(L, np.log(M), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ds.sum(axis=1), 0.0, atol=1e-12)  # softmax is shift invariant


def test_softmax_cross_entropy_at_extreme_scores():
    s = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, 1e4 - 1.0, 1e4]])
    y = np.array([0, 1, 1])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        L, ds = cnnlib.softmax_cross_entropy(s, y)
    # per sample: 0 (right and certain), 2e4 (wrong by 2e4), log(1 + e) (wrong by 1)
    np.testing.assert_allclose(L, (0.0 + 2e4 + np.log1p(np.e)) / 3, rtol=1e-15)
    e = 1 / (1 + np.e)
    np.testing.assert_allclose(ds, np.array([[0, 0, 0], [1, -1, 0], [0, e - 1, 1 - e]]) / 3, rtol=1e-12, atol=1e-300)
    # finite differences agree there too: the loss is smooth, just steep; h = 1e-3 keeps round-off small
    ds_num = numerical_gradient(lambda x: cnnlib.softmax_cross_entropy(x, y)[0], s, h=1e-3)
    assert rel_error(ds, ds_num) < 1e-6
    # float32 as well
    L32, ds32 = cnnlib.softmax_cross_entropy(s.astype(np.float32), y)
    assert L32.dtype == np.float32 and ds32.dtype == np.float32
    assert np.isfinite(L32) and np.all(np.isfinite(ds32))
    np.testing.assert_allclose(L32, L, rtol=1e-6)


# --------------------------------------------------------------------------- binary cross-entropy


@settings(max_examples=30, deadline=None)
@given(N=batches, k=st.integers(1, 3), seed=rng_seeds())
def test_binary_cross_entropy_gradient_matches_finite_differences(N, k, seed):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.05, 0.95, (N, k))
    y = rng.uniform(0, 1, (N, k))
    y[0, 0] = 1.0  # hard labels and soft labels both
    L, dA = cnnlib.binary_cross_entropy(A, y)
    assert rel_error(dA, numerical_gradient(lambda a: cnnlib.binary_cross_entropy(a, y)[0], A)) < 1e-7
    np.testing.assert_allclose(dA, (-y / A + (1 - y) / (1 - A)) / N, rtol=1e-14)
    np.testing.assert_allclose(L, -np.sum(y * np.log(A) + (1 - y) * np.log(1 - A)) / N, rtol=1e-13)


@settings(max_examples=30, deadline=None)
@given(N=batches, k=st.integers(1, 3), seed=rng_seeds())
def test_binary_cross_entropy_with_logits_gradient_matches_finite_differences(N, k, seed):
    rng = np.random.default_rng(seed)
    z = 3 * rng.standard_normal((N, k))
    y = (rng.uniform(0, 1, (N, k)) > 0.5).astype(float)
    L, dz = cnnlib.binary_cross_entropy_with_logits(z, y)
    assert rel_error(dz, numerical_gradient(lambda x: cnnlib.binary_cross_entropy_with_logits(x, y)[0], z)) < 1e-7
    # seed 002: (∂L/∂A2)(∂A2/∂Z2) = A2 - Y, over N for the batch mean
    A2 = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(dz, (A2 - y) / N, rtol=1e-13, atol=1e-16)
    # the same loss as on probabilities, and the chain rule through the sigmoid
    L_prob, dA = cnnlib.binary_cross_entropy(A2, y)
    np.testing.assert_allclose(L, L_prob, rtol=1e-9)
    np.testing.assert_allclose(dz, dA * A2 * (1 - A2), rtol=1e-9, atol=1e-15)


def test_binary_cross_entropy_with_logits_at_extreme_logits():
    z = np.array([[1e4], [-1e4], [1e4], [0.0]])
    y = np.array([[1.0], [0.0], [0.0], [1.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        L, dz = cnnlib.binary_cross_entropy_with_logits(z, y)
    np.testing.assert_allclose(L, (0 + 0 + 1e4 + np.log(2)) / 4, rtol=1e-15)
    np.testing.assert_allclose(dz, np.array([[0.0], [0.0], [1.0], [-0.5]]) / 4, rtol=1e-15)
    ds_num = numerical_gradient(lambda x: cnnlib.binary_cross_entropy_with_logits(x, y)[0], z, h=1e-3)
    assert rel_error(dz, ds_num) < 1e-6


def test_binary_cross_entropy_is_clipped_away_from_log_zero():
    A = np.array([[0.0], [1.0], [1.0], [0.0]])
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        L, dA = cnnlib.binary_cross_entropy(A, y)
    eps = cnnlib.BCE_EPS[np.dtype(np.float64)]
    assert eps == 1e-12
    # two certain mistakes cost -log(eps) each; two certain hits cost nothing
    np.testing.assert_allclose(L, 2 * -np.log(eps) / 4, rtol=1e-15)
    assert np.all(np.isfinite(dA))
    np.testing.assert_allclose(dA[:, 0], np.array([-1 / eps, 1 / eps, -1.0, 1.0]) / 4, rtol=1e-15)
    L32, dA32 = cnnlib.binary_cross_entropy(A.astype(np.float32), y.astype(np.float32))
    assert L32.dtype == np.float32 and np.isfinite(L32) and np.all(np.isfinite(dA32))
    np.testing.assert_allclose(L32, 2 * -np.log(1e-7) / 4, rtol=1e-4)
    L_custom, _ = cnnlib.binary_cross_entropy(A, y, eps=1e-3)
    np.testing.assert_allclose(L_custom, 2 * -np.log(1e-3) / 4, rtol=1e-15)
    # away from 0 and 1 the clip changes nothing
    A_mid = np.array([[0.3], [0.6]])
    y_mid = np.array([[1.0], [0.0]])
    np.testing.assert_array_equal(
        cnnlib.binary_cross_entropy(A_mid, y_mid, eps=1e-3)[1], cnnlib.binary_cross_entropy(A_mid, y_mid)[1]
    )


# --------------------------------------------------------------------------- squared error


def test_mse_default_is_seed000_half_sum():
    """Seed 000: E = ½ Σ (t - y)², so dE/dy = y - t (the ½ cancels the 2)."""
    yhat = np.array([[0.2, 0.9], [0.4, -0.1]])
    t = np.array([[0.0, 1.0], [1.0, 0.0]])
    L, dyhat = cnnlib.mse(yhat, t)
    np.testing.assert_allclose(L, 0.5 * (0.04 + 0.01 + 0.36 + 0.01), rtol=1e-14)
    np.testing.assert_allclose(dyhat, yhat - t, rtol=1e-15)
    np.testing.assert_allclose(cnnlib.mse(yhat, t, reduction="sum")[0], 0.42, rtol=1e-14)
    np.testing.assert_allclose(cnnlib.mse(yhat, t, reduction="mean")[0], 0.42 / 4, rtol=1e-14)


@pytest.mark.parametrize("reduction", ["half_sum", "mean", "sum"])
@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), seed=rng_seeds())
def test_mse_gradient_matches_finite_differences(reduction, shape, seed):
    rng = np.random.default_rng(seed)
    yhat, y = rng.standard_normal(shape), rng.standard_normal(shape)
    L, dyhat = cnnlib.mse(yhat, y, reduction=reduction)
    dnum = numerical_gradient(lambda x: cnnlib.mse(x, y, reduction=reduction)[0], yhat)
    assert rel_error(dyhat, dnum) < 1e-7


# --------------------------------------------------------------------------- dtypes, inputs untouched


def test_float32_is_kept_and_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    s = rng.standard_normal((4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 1])
    A = rng.uniform(0.1, 0.9, (4, 1)).astype(np.float32)
    y = np.array([[1.0], [0.0], [1.0], [0.0]], dtype=np.float32)
    before = [x.copy() for x in (s, labels, A, y)]
    for L, g in (
        cnnlib.softmax_cross_entropy(s, labels),
        cnnlib.binary_cross_entropy(A, y),
        cnnlib.binary_cross_entropy_with_logits(A, y),
        cnnlib.mse(A, y),
    ):
        assert L.dtype == np.float32 and g.dtype == np.float32
    assert cnnlib.softmax(s).dtype == np.float32
    for x, x0 in zip((s, labels, A, y), before, strict=True):
        np.testing.assert_array_equal(x, x0)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros((3, 4)), [0, 4, 1]),
            ValueError,
            "softmax_cross_entropy: labels must be in 0..3 for M=4 classes, got values from 0 to 4",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros((3, 4)), [0, -1, 1]),
            ValueError,
            "softmax_cross_entropy: labels must be in 0..3 for M=4 classes, got values from -1 to 1",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros((3, 4)), [0, 1]),
            ValueError,
            "softmax_cross_entropy: y must hold one label per sample, shape (3,), got (2,)",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros((2, 4)), [0.5, 1.0]),
            ValueError,
            "softmax_cross_entropy: integer class labels expected in y, got non-integer values",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros((2, 4)), np.zeros((2, 3))),
            ValueError,
            "softmax_cross_entropy: one-hot / probability targets y must have the shape of s, (2, 4), got (2, 3)",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros((2, 2)), np.array([[1.0, 0.0], [0.5, 0.4]])),
            ValueError,
            "softmax_cross_entropy: each target row of y must sum to 1 (one-hot or a probability distribution), "
            "row 1 sums to 0.9",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros((2, 2)), np.array([[1.5, -0.5], [0.5, 0.5]])),
            ValueError,
            "softmax_cross_entropy: target rows y must hold probabilities in [0, 1]",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros(4), [1]),
            ValueError,
            "softmax_cross_entropy: s must be 2-D (N, M) scores, got 1-D array with shape (4,)",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.array([[np.nan, 0.0]]), [0]),
            ValueError,
            "softmax_cross_entropy: s must be finite",
        ),
        (
            lambda: cnnlib.softmax_cross_entropy(np.zeros((1, 2)), np.zeros((1, 2, 1))),
            ValueError,
            "softmax_cross_entropy: y must be integer labels (N,) or one-hot / probability rows (N, M), got 3-D",
        ),
        (
            lambda: cnnlib.binary_cross_entropy(np.array([[0.5], [1.2]]), np.array([[1.0], [0.0]])),
            ValueError,
            "binary_cross_entropy: A must hold probabilities in [0, 1] (pass logits to "
            "binary_cross_entropy_with_logits), got values from 0.5 to 1.2",
        ),
        (
            lambda: cnnlib.binary_cross_entropy(np.array([[0.5], [0.2]]), np.array([[1.0], [2.0]])),
            ValueError,
            "binary_cross_entropy: binary targets y must lie in [0, 1], got values from 1.0 to 2.0",
        ),
        (
            lambda: cnnlib.binary_cross_entropy(np.array([[0.5], [0.2]]), np.array([1.0, 0.0])),
            ValueError,
            "binary_cross_entropy: y must have the shape of the predictions, (2, 1), got (2,)",
        ),
        (
            lambda: cnnlib.binary_cross_entropy(np.array([[0.5]]), np.array([[1.0]]), eps=0.7),
            ValueError,
            "binary_cross_entropy: eps must be in (0, 0.5), got 0.7",
        ),
        (
            lambda: cnnlib.binary_cross_entropy_with_logits(np.array([[0.5], [3.0]]), np.array([[1.0], [-1.0]])),
            ValueError,
            "binary_cross_entropy_with_logits: binary targets y must lie in [0, 1], got values from -1.0 to 1.0",
        ),
        (
            lambda: cnnlib.binary_cross_entropy_with_logits(np.zeros((0, 1)), np.zeros((0, 1))),
            ValueError,
            "binary_cross_entropy_with_logits: z must have a batch axis first, (N, ...), and no empty axis",
        ),
        (
            lambda: cnnlib.mse(np.zeros((2, 3)), np.zeros((3, 2))),
            ValueError,
            "mse: y must have the shape of yhat, (2, 3), got (3, 2)",
        ),
        (
            lambda: cnnlib.mse(np.zeros(3), np.zeros(3), reduction="average"),
            ValueError,
            "mse: reduction must be one of ('half_sum', 'mean', 'sum'), got 'average'",
        ),
        (
            lambda: cnnlib.mse(np.zeros(3), ["a", "b", "c"]),
            TypeError,
            "mse: y must be a real numeric array",
        ),
        (
            lambda: cnnlib.softmax(np.zeros((2, 0))),
            ValueError,
            "softmax: s must have at least one class along its last axis, got shape (2, 0)",
        ),
    ],
)
def test_bad_input_raises_with_the_function_name(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message)

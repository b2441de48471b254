"""Tests for cnnlib.upsample: nearest and bilinear upsampling, loop and fast versions.

The bilinear weights are checked against an independent formula (the distance of the
output cell's centre to the input cells' centres), the gradients by central differences
with a random upstream gradient, and the two versions against each other.
"""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib.upsample import UpsampleCache

FAST = (cnnlib.upsample2d_forward, cnnlib.upsample2d_backward)
NAIVE = (cnnlib.upsample2d_forward_naive, cnnlib.upsample2d_backward_naive)
IMPLS = pytest.mark.parametrize("impl", [FAST, NAIVE], ids=["fast", "naive"])
MODES = pytest.mark.parametrize("mode", ["nearest", "bilinear"])

cases = st.tuples(
    st.integers(1, 2),  # N
    st.integers(1, 2),  # C
    st.integers(1, 5),  # H
    st.integers(1, 5),  # W
    st.tuples(st.integers(1, 3), st.integers(1, 3)),  # scale
    st.sampled_from(["nearest", "bilinear"]),
    st.integers(0, 2**31),
)


def bilinear_reference(length, s):
    """The (length*s, length) weights from the hat function: w = max(0, 1 - |t - a|) for t clamped to [0, length-1]."""
    E = np.zeros((length * s, length))
    for x in range(length * s):
        t = min(max((x + 0.5) / s - 0.5, 0.0), length - 1)  # clamping at the far end changes nothing: weight 1 there
        for a in range(length):
            E[x, a] = max(0.0, 1.0 - abs(t - a))
    return E


@settings(max_examples=50, deadline=None)
@given(cases)
def test_shapes_gradients_and_versions_agree(case):
    N, C, H, W, s, mode, seed = case
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, C, H, W))
    U, cache = cnnlib.upsample2d_forward(A, scale=s, mode=mode)
    U2, cache2 = cnnlib.upsample2d_forward_naive(A, scale=s, mode=mode)
    assert U.shape == (N, C, H * s[0], W * s[1])
    np.testing.assert_allclose(U, U2, rtol=1e-12, atol=1e-14)
    dU = rng.standard_normal(U.shape)
    dA = cnnlib.upsample2d_backward(dU, cache)
    np.testing.assert_allclose(dA, cnnlib.upsample2d_backward_naive(dU, cache2), rtol=1e-12, atol=1e-13)
    fd = numerical_gradient(lambda A_: cnnlib.upsample2d_forward_naive(A_, scale=s, mode=mode)[0], A, dU)
    assert rel_error(dA, fd) < 1e-8


@pytest.mark.parametrize("length, s", [(1, 2), (2, 2), (4, 2), (3, 3), (5, 4), (4, 1)])
def test_bilinear_weights_are_the_hat_function(length, s):
    E = cnnlib.interpolation_matrix(length, s, "bilinear")
    np.testing.assert_allclose(E, bilinear_reference(length, s), atol=1e-15)
    np.testing.assert_allclose(E.sum(axis=1), 1.0)  # every output is a weighted average


def test_nearest_copies_blocks_and_sums_them_backward():
    A = np.arange(6.0).reshape(1, 1, 2, 3)
    U, cache = cnnlib.upsample2d_forward(A, scale=(2, 3))
    np.testing.assert_array_equal(U[0, 0], np.kron(A[0, 0], np.ones((2, 3))))
    dU = np.arange(36.0).reshape(1, 1, 4, 9)
    dA = cnnlib.upsample2d_backward(dU, cache)
    np.testing.assert_array_equal(dA[0, 0, 1, 2], dU[0, 0, 2:4, 6:9].sum())


def test_bilinear_scale_2_weights_are_quarters():
    """Scale 2: output rows sit a quarter cell from an input row, weights 3/4 and 1/4; the border copies."""
    E = cnnlib.interpolation_matrix(3, 2)
    expected = np.array([[1, 0, 0], [0.75, 0.25, 0], [0.25, 0.75, 0], [0, 0.75, 0.25], [0, 0.25, 0.75], [0, 0, 1]])
    np.testing.assert_allclose(E, expected)


@IMPLS
@MODES
def test_float32_kept_and_input_not_modified(impl, mode):
    forward, backward = impl
    A = np.random.default_rng(0).standard_normal((1, 2, 3, 2)).astype(np.float32)
    A0 = A.copy()
    U, cache = forward(A, scale=2, mode=mode)
    assert U.dtype == np.float32 and backward(np.ones_like(U), cache).dtype == np.float32
    np.testing.assert_array_equal(A, A0)
    U[...] = 0  # the output owns its memory
    np.testing.assert_array_equal(A, A0)


def test_cache_is_frozen():
    _, cache = cnnlib.upsample2d_forward(np.ones((1, 1, 2, 2)))
    assert isinstance(cache, UpsampleCache)
    with pytest.raises(AttributeError):
        cache.mode = "bilinear"


@pytest.mark.parametrize("forward", [FAST[0], NAIVE[0]], ids=["fast", "naive"])
@pytest.mark.parametrize(
    "A, kwargs, error, fragment",
    [
        (np.ones((2, 2, 2)), {}, ValueError, "A must be 4-D"),
        (np.ones((1, 1, 2, 2)), {"scale": 0}, ValueError, "scale must be positive"),
        (np.ones((1, 1, 2, 2)), {"scale": 1.5}, TypeError, "scale must be an int"),
        (np.ones((1, 1, 2, 2)), {"mode": "bicubic"}, ValueError, "mode must be 'nearest' or 'bilinear'"),
        (np.ones((1, 1, 2, 2)), {"mode": None}, TypeError, "mode must be 'nearest' or 'bilinear'"),
        (np.ones((1, 0, 2, 2)), {}, ValueError, "no empty axis"),
        (np.full((1, 1, 2, 2), np.inf), {}, ValueError, "A must be finite"),
    ],
)
def test_bad_forward_input_raises_with_the_function_name(forward, A, kwargs, error, fragment):
    with pytest.raises(error, match="^" + forward.__name__ + ": ") as info:
        forward(A, **kwargs)
    assert fragment in str(info.value)


@IMPLS
def test_bad_backward_input_raises_with_the_function_name(impl):
    forward, backward = impl
    U, cache = forward(np.ones((1, 1, 2, 2)))
    name = backward.__name__
    with pytest.raises(TypeError, match=f"^{name}: cache must be the second value returned by upsample2d_forward"):
        backward(U, None)
    with pytest.raises(ValueError, match=rf"^{name}: dU must have shape \(1, 1, 4, 4\) \(the shape of U"):
        backward(np.ones((1, 1, 4, 3)), cache)


@pytest.mark.parametrize(
    "args, error, fragment",
    [
        ((0, 2), ValueError, "length must be a positive int"),
        ((3, True), TypeError, "scale must be a positive int"),
        ((3, 2, "area"), ValueError, "mode must be"),
    ],
)
def test_interpolation_matrix_validates(args, error, fragment):
    with pytest.raises(error, match="^interpolation_matrix: ") as info:
        cnnlib.interpolation_matrix(*args)
    assert fragment in str(info.value)


def test_nearest_matrix():
    np.testing.assert_array_equal(cnnlib.interpolation_matrix(2, 2, "nearest"), [[1, 0], [1, 0], [0, 1], [0, 1]])

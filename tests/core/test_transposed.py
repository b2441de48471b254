"""Tests for cnnlib.transposed: the transposed convolution, loop and fast versions.

Gradients are checked by central differences of ``sum(Y * dY)`` with a random upstream
gradient dY; the forward pass is checked against its definition as the input gradient of
a convolution (notebook 08, eq. 8.12) and against the matrix ``T^T`` of ``conv2d_as_matrix``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib.transposed import ConvTransposeCache

FAST = (cnnlib.conv_transpose2d_forward, cnnlib.conv_transpose2d_backward)
NAIVE = (cnnlib.conv_transpose2d_forward_naive, cnnlib.conv_transpose2d_backward_naive)
IMPLS = pytest.mark.parametrize("impl", [FAST, NAIVE], ids=["fast", "naive"])


@st.composite
def tconv_cases(draw, max_hw=4):
    """(X shape, W shape, knobs, seed) with a non-empty output; output_padding < max(S, D) per axis."""
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    S = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    D = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    op = tuple(draw(st.integers(0, max(S[a], D[a]) - 1)) for a in (0, 1))
    sizes = [(H, KH, S[0], op[0], D[0]), (W, KW, S[1], op[1], D[1])]
    # the largest padding that leaves at least one output cell on each axis
    max_pad = [((h - 1) * s + d * (k - 1) + o) // 2 for h, k, s, o, d in sizes]
    pad = (draw(st.integers(0, min(2, max_pad[0]))), draw(st.integers(0, min(2, max_pad[1]))))
    knobs = {"stride": S, "padding": pad, "output_padding": op, "dilation": D}
    return (N, C, H, W), (C, F, KH, KW), knobs, draw(st.integers(0, 2**31))


def arrays(case):
    x_shape, w_shape, knobs, seed = case
    rng = np.random.default_rng(seed)
    X, W, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[1])
    return X, W, b, knobs, rng


def expected_size(H, K, S, pad, op, D):
    """Eq. (12.2) counted, not computed: the highest padded row a stamp reaches, + op, - the crop."""
    last = (H - 1) * S + (K - 1) * D  # the last row any stamp writes, in the padded output
    return last + 1 + op - 2 * pad


@settings(max_examples=40, deadline=None)
@given(tconv_cases())
def test_output_size_and_gradients_match_finite_differences(case):
    X, W, b, knobs, rng = arrays(case)
    for forward, backward in (FAST, NAIVE):
        Y, cache = forward(X, W, b, **knobs)
        Ho = expected_size(
            X.shape[2],
            W.shape[2],
            knobs["stride"][0],
            knobs["padding"][0],
            knobs["output_padding"][0],
            knobs["dilation"][0],
        )
        Wo = expected_size(
            X.shape[3],
            W.shape[3],
            knobs["stride"][1],
            knobs["padding"][1],
            knobs["output_padding"][1],
            knobs["dilation"][1],
        )
        assert Y.shape == (X.shape[0], W.shape[1], Ho, Wo)
        dY = rng.standard_normal(Y.shape)
        dX, dW, db = backward(dY, cache)
        assert agrees(dX, numerical_gradient(lambda X_, f=forward: f(X_, W, b, **knobs)[0], X, dY))
        assert agrees(dW, numerical_gradient(lambda W_, f=forward: f(X, W_, b, **knobs)[0], W, dY))
        assert agrees(db, numerical_gradient(lambda b_, f=forward: f(X, W, b_, **knobs)[0], b, dY))


def agrees(analytic, numeric):
    """Relative error below 1e-7, or an absolute one below 1e-8 for an entry that sums to nearly 0
    (db is a sum of random δ entries: a cancellation makes the relative error of a central
    difference large while its absolute error stays at round-off)."""
    return rel_error(analytic, numeric) < 1e-7 or np.max(np.abs(analytic - numeric)) < 1e-8


@settings(max_examples=40, deadline=None)
@given(tconv_cases(max_hw=5))
def test_naive_and_fast_agree(case):
    X, W, b, knobs, rng = arrays(case)
    Y1, c1 = cnnlib.conv_transpose2d_forward(X, W, b, **knobs)
    Y2, c2 = cnnlib.conv_transpose2d_forward_naive(X, W, b, **knobs)
    np.testing.assert_allclose(Y1, Y2, rtol=1e-12, atol=1e-12)
    dY = rng.standard_normal(Y1.shape)
    for g1, g2 in zip(
        cnnlib.conv_transpose2d_backward(dY, c1), cnnlib.conv_transpose2d_backward_naive(dY, c2), strict=True
    ):
        np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12)
    # each backward pass also accepts the other version's cache
    np.testing.assert_allclose(
        cnnlib.conv_transpose2d_backward(dY, c2)[1], cnnlib.conv_transpose2d_backward_naive(dY, c1)[1]
    )


@settings(max_examples=30, deadline=None)
@given(tconv_cases())
def test_forward_is_the_input_gradient_of_the_convolution(case):
    """Y - b is conv2d_backward's dX for a convolution shaped like Y, same W and knobs, upstream X (eq. 8.12)."""
    X, W, b, knobs, _ = arrays(case)
    Y, _ = cnnlib.conv_transpose2d_forward(X, W, b, **knobs)
    S, pad, D = knobs["stride"], knobs["padding"], knobs["dilation"]
    Z, cache = cnnlib.conv2d_forward(np.zeros(Y.shape), W, np.zeros(W.shape[0]), stride=S, padding=pad, dilation=D)
    dZ = np.zeros(Z.shape)  # the convolution may have more outputs than X has cells (output_padding >= S)
    dZ[:, :, : X.shape[2], : X.shape[3]] = X
    assert Z.shape[2] >= X.shape[2] and Z.shape[3] >= X.shape[3]
    dX_conv = cnnlib.conv2d_backward(dZ, cache)[0]
    np.testing.assert_allclose(Y - b[None, :, None, None], dX_conv, rtol=1e-12, atol=1e-12)


def test_forward_is_T_transposed_and_backward_is_T():
    rng = np.random.default_rng(3)
    W2 = rng.standard_normal((3, 3))
    T5, _ = cnnlib.conv2d_as_matrix(W2, (5, 5), stride=2, padding=1)  # (9, 25): a 5x5 -> 3x3 convolution
    X = rng.standard_normal((3, 3))
    Y, cache = cnnlib.conv_transpose2d_forward(X[None, None], W2[None, None], np.zeros(1), stride=2, padding=1)
    assert Y.shape == (1, 1, 5, 5)  # (3-1)*2 - 2 + 2 + 1 = 5: output_padding 0 picks H = 5 of {5, 6}
    np.testing.assert_allclose(Y.reshape(-1), T5.T @ X.reshape(-1))
    Y7, cache7 = cnnlib.conv_transpose2d_forward(
        X[None, None], W2[None, None], np.zeros(1), stride=2, padding=1, output_padding=1
    )
    assert Y7.shape == (1, 1, 6, 6)
    T6, _ = cnnlib.conv2d_as_matrix(W2, (6, 6), stride=2, padding=1)
    np.testing.assert_allclose(Y7.reshape(-1), T6.T @ X.reshape(-1))
    dY = rng.standard_normal((6, 6))
    dX = cnnlib.conv_transpose2d_backward(dY[None, None], cache7)[0]
    np.testing.assert_allclose(dX.reshape(-1), T6 @ dY.reshape(-1))


def test_stamps_add_up_where_they_overlap():
    """Kernel 3, stride 2: each interior odd row/column is written by one stamp, even ones by two (the checkerboard)."""
    Y, _ = cnnlib.conv_transpose2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1), stride=2)
    counts_1d = np.array([1, 1, 2, 1, 2, 1, 2, 1, 1])
    np.testing.assert_array_equal(Y[0, 0], np.outer(counts_1d, counts_1d))


@IMPLS
def test_float32_kept_and_inputs_not_modified(impl):
    forward, backward = impl
    rng = np.random.default_rng(0)
    X, W, b = (rng.standard_normal(s).astype(np.float32) for s in [(1, 2, 3, 3), (2, 2, 2, 2), (2,)])
    copies = [a.copy() for a in (X, W, b)]
    Y, cache = forward(X, W, b, stride=2)
    assert Y.dtype == np.float32
    dY = rng.standard_normal(Y.shape).astype(np.float32)
    grads = backward(dY, cache)
    assert all(g.dtype == np.float32 for g in grads)
    for a, c in zip((X, W, b), copies, strict=True):
        np.testing.assert_array_equal(a, c)


@IMPLS
def test_x_edited_after_forward_is_detected(impl):
    forward, backward = impl
    X = np.ones((1, 1, 2, 2))
    Y, cache = forward(X, np.ones((1, 1, 2, 2)), np.zeros(1))
    X[0, 0, 0, 0] = 5.0
    with pytest.raises(ValueError, match=r"^conv_transpose2d_backward(_naive)?: X, the input of .*modified in place"):
        backward(np.ones(Y.shape), cache)


def test_cache_is_frozen_and_read_only():
    _, cache = cnnlib.conv_transpose2d_forward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), np.zeros(1))
    assert isinstance(cache, ConvTransposeCache)
    with pytest.raises(AttributeError):
        cache.stride = (2, 2)
    with pytest.raises(ValueError):
        cache.W[0, 0, 0, 0] = 1.0


X1, W1, b1 = np.ones((1, 2, 3, 3)), np.ones((2, 3, 2, 2)), np.ones(3)


@pytest.mark.parametrize("forward", [FAST[0], NAIVE[0]], ids=["fast", "naive"])
@pytest.mark.parametrize(
    "args, kwargs, error, fragment",
    [
        ((X1[0], W1, b1), {}, ValueError, "X must be 4-D"),
        ((X1, W1[0], b1), {}, ValueError, "W must be 4-D (C, F, KH, KW)"),
        ((X1, W1, np.ones((3, 1))), {}, ValueError, "b must be 1-D"),
        ((X1, np.ones((3, 3, 2, 2)), b1), {}, ValueError, "X has 2 channels but W expects 3"),
        ((X1, W1, np.ones(2)), {}, ValueError, "b must have one entry per output channel"),
        ((np.ones((0, 2, 3, 3)), W1, b1), {}, ValueError, "no empty axis"),
        ((X1, W1, b1), {"stride": 0}, ValueError, "stride must be positive"),
        ((X1, W1, b1), {"padding": -1}, ValueError, "padding must be non-negative"),
        (
            (X1, W1, b1),
            {"output_padding": 1},
            ValueError,
            "output_padding must be smaller than the stride or the dilation",
        ),
        ((X1, W1, b1), {"stride": 2, "output_padding": (0, 2)}, ValueError, "output_padding must be smaller"),
        ((X1, W1, b1), {"output_padding": 1.0}, TypeError, "output_padding must be an int"),
        ((X1, W1, b1), {"padding": 3}, ValueError, "crops the whole output away"),
        ((X1 * np.nan, W1, b1), {}, ValueError, "X must be finite"),
        ((X1, W1.astype(complex), b1), {}, TypeError, "W must be real"),
    ],
)
def test_bad_forward_input_raises_with_the_function_name(forward, args, kwargs, error, fragment):
    with pytest.raises(error, match="^" + forward.__name__ + ": ") as info:
        forward(*args, **kwargs)
    assert fragment in str(info.value)


def test_output_padding_below_the_dilation_is_allowed():
    Y, _ = cnnlib.conv_transpose2d_forward(X1, W1, b1, output_padding=1, dilation=2)
    assert Y.shape == (1, 3, 6, 6)  # (3-1) + 2*(2-1) + 1 + 1


@IMPLS
def test_bad_backward_input_raises_with_the_function_name(impl):
    forward, backward = impl
    Y, cache = forward(X1, W1, b1)
    name = backward.__name__
    with pytest.raises(
        TypeError, match=f"^{name}: cache must be the second value returned by conv_transpose2d_forward"
    ):
        backward(np.ones(Y.shape), object())
    with pytest.raises(ValueError, match=rf"^{name}: dY must have shape \(1, 3, 4, 4\) \(the shape of Y"):
        backward(np.ones((1, 3, 4, 5)), cache)


@pytest.mark.parametrize(
    "H, K, S, pad, op, D", [(3, 3, 2, 1, 1, 1), (1, 1, 1, 0, 0, 1), (5, 2, 3, 0, 2, 2), (4, 3, 1, 2, 1, 2)]
)
def test_output_size_inverts_the_convolution_size(H, K, S, pad, op, D):
    Ho = cnnlib.conv_transpose_output_size(H, K, S, pad, op, D)
    assert Ho == expected_size(H, K, S, pad, op, D)
    if op < S:
        assert cnnlib.conv_output_size(Ho, K, S, pad, D) == H


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"length": 0}, ValueError, "length must be positive"),
        ({"kernel": 2.0}, TypeError, "kernel must be an int"),
        ({"output_padding": -1}, ValueError, "output_padding must be non-negative"),
        ({"stride": True}, TypeError, "stride must be an int"),
    ],
)
def test_output_size_validates(kwargs, error, fragment):
    args = {"length": 3, "kernel": 3, "stride": 2, "padding": 0, "output_padding": 0, "dilation": 1} | kwargs
    with pytest.raises(error, match="^conv_transpose_output_size: ") as info:
        cnnlib.conv_transpose_output_size(**args)
    assert fragment in str(info.value)

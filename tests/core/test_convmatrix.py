"""conv2d_as_matrix / tied_gradient: the convolution as a tied, mostly-zero dense layer."""

from __future__ import annotations

import numpy as np
import pytest
from _strategies import conv_cases
from hypothesis import given, settings

import cnnlib
from cnnlib import conv2d_as_matrix, conv2d_backward, conv2d_forward, tied_gradient


def _single(case):
    """Single-channel, single-filter, single-image arrays for a ConvCase."""
    rng = np.random.default_rng(case.seed)
    X = rng.standard_normal((case.H, case.W))
    W = rng.standard_normal((case.KH, case.KW))
    b = rng.standard_normal()
    return X, W, b, rng


def test_seed001_3x3_input_2x2_kernel_by_hand():
    # seed 001: 3x3 input i1..i9, 2x2 kernel w1..w4, output o1..o4 (row-major).
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    M, tie = conv2d_as_matrix(W, (3, 3))
    expected = np.array(
        [
            [1, 2, 0, 3, 4, 0, 0, 0, 0],
            [0, 1, 2, 0, 3, 4, 0, 0, 0],
            [0, 0, 0, 1, 2, 0, 3, 4, 0],
            [0, 0, 0, 0, 1, 2, 0, 3, 4],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(M, expected)
    np.testing.assert_array_equal(tie, np.where(expected > 0, expected - 1, -1).astype(int))
    # w1 (tie 0) touches i1, i2, i4, i5 — seed 001's list
    assert [c for c in range(9) if 0 in tie[:, c]] == [0, 1, 3, 4]


def test_tie_index_kept_for_zero_kernel_entries():
    W = np.array([[0.0, 1.0], [2.0, 0.0]])
    M, tie = conv2d_as_matrix(W, (3, 3))
    assert np.count_nonzero(tie == 0) == 4 and np.count_nonzero(tie == 3) == 4
    assert np.all(M[tie == 0] == 0)
    assert np.all(M[tie < 0] == 0)


@settings(max_examples=60, deadline=None)
@given(case=conv_cases(max_batch=1, max_channels=1, max_filters=1))
def test_matrix_product_equals_conv2d_forward(case):
    X, W, b, _ = _single(case)
    M, tie = conv2d_as_matrix(W, (case.H, case.W), **case.kwargs)
    Z, _ = conv2d_forward(X[None, None], W[None, None], np.array([b]), **case.kwargs)
    Ho, Wo = case.out_hw
    assert M.shape == (Ho * Wo, case.H * case.W) == tie.shape
    np.testing.assert_allclose(M @ X.reshape(-1) + b, Z.reshape(-1), rtol=1e-12, atol=1e-12)
    # every row holds each kernel entry at most once, and M is exactly W at the tie indices
    for row in tie:
        used = row[row >= 0]
        assert len(used) == len(set(used.tolist()))
    np.testing.assert_array_equal(M[tie >= 0], W.reshape(-1)[tie[tie >= 0]])
    assert np.all(M[tie < 0] == 0)


@settings(max_examples=60, deadline=None)
@given(case=conv_cases(max_batch=1, max_channels=1, max_filters=1))
def test_tied_gradient_equals_conv2d_backward_dW(case):
    X, W, b, rng = _single(case)
    Ho, Wo = case.out_hw
    dZ = rng.standard_normal((Ho, Wo))  # random upstream gradient
    M, tie = conv2d_as_matrix(W, (case.H, case.W), **case.kwargs)
    dM = np.outer(dZ.reshape(-1), X.reshape(-1))  # gradient of the untied matrix
    dW = tied_gradient(dM, tie, W.shape)
    _, cache = conv2d_forward(X[None, None], W[None, None], np.array([b]), **case.kwargs)
    dX_ref, dW_ref, _ = conv2d_backward(dZ[None, None], cache)
    np.testing.assert_allclose(dW, dW_ref[0, 0], rtol=1e-10, atol=1e-12)
    # and the transpose carries the input gradient
    np.testing.assert_allclose(M.T @ dZ.reshape(-1), dX_ref.reshape(-1), rtol=1e-10, atol=1e-12)


def test_seed000_dW_via_the_matrix():
    o = np.array(
        [
            [0.51, 0.9, 0.88, 0.84, 0.05],
            [0.4, 0.62, 0.22, 0.59, 0.1],
            [0.11, 0.2, 0.74, 0.33, 0.14],
            [0.47, 0.01, 0.85, 0.7, 0.09],
            [0.76, 0.19, 0.72, 0.17, 0.57],
        ]
    )
    d = np.zeros((4, 4))
    d[0, 2], d[1, 1], d[2, 1], d[3, 3] = 0.0686, 0.0364, 0.0467, -0.0681
    _, tie = conv2d_as_matrix(np.ones((2, 2)), (5, 5))
    dW = tied_gradient(np.outer(d.reshape(-1), o.reshape(-1)), tie, (2, 2))
    np.testing.assert_allclose(dW, [[0.044606, 0.094061], [0.011262, 0.068288]], atol=5e-7)


def test_float32_kept_and_inputs_untouched():
    W = np.arange(4, dtype=np.float32).reshape(2, 2)
    W0 = W.copy()
    M, tie = conv2d_as_matrix(W, (4, 4))
    assert M.dtype == np.float32
    np.testing.assert_array_equal(W, W0)
    dM = np.ones_like(M)
    tie0 = tie.copy()
    dW = tied_gradient(dM, tie, (2, 2))
    assert dW.dtype == np.float32
    np.testing.assert_array_equal(tie, tie0)
    np.testing.assert_array_equal(dW, np.full((2, 2), 9.0))  # each entry appears once per output


def test_accepts_1x1_nchw_kernel():
    W = np.arange(9.0).reshape(3, 3)
    M1, t1 = conv2d_as_matrix(W, (4, 5), padding=1)
    M2, t2 = conv2d_as_matrix(W[None, None], (4, 5), padding=1)
    np.testing.assert_array_equal(M1, M2)
    np.testing.assert_array_equal(t1, t2)
    assert cnnlib.conv2d_as_matrix is conv2d_as_matrix and cnnlib.tied_gradient is tied_gradient


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((np.ones((2, 2, 2)), (3, 3)), {}, ValueError, "single 2-D kernel"),
        ((np.ones((2, 1, 2, 2)), (3, 3)), {}, ValueError, "single 2-D kernel"),
        ((np.ones((4, 4)), (3, 3)), {}, ValueError, "padded input is only 3x3"),
        ((np.ones((2, 2)), 3), {}, TypeError, "input_hw must be a pair"),
        ((np.ones((2, 2)), (0, 3)), {}, ValueError, "input_hw must be positive"),
        ((np.ones((2, 2)), (3, 3)), {"stride": 0}, ValueError, "stride must be positive"),
        ((np.ones((2, 2)), (3, 3)), {"padding": -1}, ValueError, "padding must be non-negative"),
        ((np.ones((2, 2)), (3, 3)), {"dilation": 1.5}, TypeError, "dilation must be an int"),
        ((np.array([[1.0, np.nan]]), (3, 3)), {}, ValueError, "must be finite"),
        ((np.array([["a", "b"]]), (3, 3)), {}, TypeError, "real numeric array"),
    ],
)
def test_conv2d_as_matrix_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        conv2d_as_matrix(*args, **kwargs)
    assert str(info.value).startswith("conv2d_as_matrix:")


def test_tied_gradient_bad_input():
    _, tie = conv2d_as_matrix(np.ones((2, 2)), (3, 3))
    cases = [
        ((np.ones((4, 8)), tie, (2, 2)), ValueError, "shape of dM"),
        ((np.ones(36), tie, (2, 2)), ValueError, "must be 2-D"),
        ((np.ones((4, 9)), tie.astype(float), (2, 2)), TypeError, "integer array"),
        ((np.ones((4, 9)), tie, (1, 2)), ValueError, r"tie values must lie in \[-1, 1\]"),
        ((np.ones((4, 9)), tie, (2, 0)), ValueError, "kernel_shape must be positive"),
        ((np.ones((4, 9)), tie, "2x2"), TypeError, "kernel_shape must be an int or a pair"),
    ]
    for args, exc, match in cases:
        with pytest.raises(exc, match=match) as info:
            tied_gradient(*args)
        assert str(info.value).startswith("tied_gradient:")

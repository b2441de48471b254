"""Tests for cnnlib.pool: max and average pooling, loop and fast versions.

Gradients are checked by central differences of ``f(A) = sum(pool(A) * dP)`` with a
random upstream gradient dP. For max-pooling the inputs are distinct and spaced far
wider than the step h, so no probe changes a window's winner.
"""

from __future__ import annotations

import numpy as np
import pytest
from _fd import distinct_values, numerical_gradient, rel_error
from _strategies import PoolCase, pool_cases
from hypothesis import example, given, settings

import cnnlib
from cnnlib import _pool_fast
from cnnlib.pool import AvgPoolCache, MaxPoolCache

MAX_FAST = (cnnlib.maxpool2d_forward, cnnlib.maxpool2d_backward)
MAX_NAIVE = (cnnlib.maxpool2d_forward_naive, cnnlib.maxpool2d_backward_naive)
AVG_FAST = (cnnlib.avgpool2d_forward, cnnlib.avgpool2d_backward)
AVG_NAIVE = (cnnlib.avgpool2d_forward_naive, cnnlib.avgpool2d_backward_naive)
ALL = [MAX_FAST, MAX_NAIVE, AVG_FAST, AVG_NAIVE]
ALL_IDS = ["max-fast", "max-naive", "avg-fast", "avg-naive"]
ALL_IMPLS = pytest.mark.parametrize("impl", ALL, ids=ALL_IDS)

# named examples that Hypothesis always runs: overlapping 3x3/stride 1 with padding,
# a leftover row/column the floor drops, 1x1 windows with a stride, non-square everything
OVERLAP = PoolCase(N=2, C=2, H=5, W=4, size=(3, 3), stride=(1, 1), padding=(1, 1), seed=1)
LEFTOVER = PoolCase(N=2, C=3, H=7, W=6, size=(2, 3), stride=(2, 2), padding=(0, 1), seed=2)
ONE_BY_ONE = PoolCase(N=1, C=2, H=5, W=4, size=(1, 1), stride=(2, 3), padding=(0, 0), seed=3)
NON_SQUARE = PoolCase(N=3, C=2, H=4, W=6, size=(3, 2), stride=(1, 2), padding=(1, 1), seed=4)


def case_arrays(case: PoolCase):
    """Distinct, widely spaced A and a random upstream gradient dP (never all ones)."""
    rng = np.random.default_rng(case.seed)
    A = distinct_values(rng, case.x_shape)
    dP = rng.standard_normal((case.N, case.C, *case.out_hw))
    return A, dP


def brute_force_max(A, size, stride, padding):
    """Max-pool by enumerating each window's real cells (independent of cnnlib): P and winner (row, col)."""
    N, C, H, W = A.shape
    (KH, KW), (SH, SW), (PH, PW) = size, stride, padding
    Ho, Wo = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    P = np.empty((N, C, Ho, Wo))
    rows = np.empty((N, C, Ho, Wo), dtype=int)
    cols = np.empty((N, C, Ho, Wo), dtype=int)
    for n, c, u, v in np.ndindex(N, C, Ho, Wo):
        cells = [
            (r, q)
            for r in range(u * SH - PH, u * SH - PH + KH)
            for q in range(v * SW - PW, v * SW - PW + KW)
            if 0 <= r < H and 0 <= q < W
        ]  # row-major order
        values = [A[n, c, r, q] for r, q in cells]
        best = int(np.argmax(values))  # first maximum
        P[n, c, u, v] = values[best]
        rows[n, c, u, v], cols[n, c, u, v] = cells[best]
    return P, rows, cols


# --------------------------------------------------------------------------- gradients


@ALL_IMPLS
@settings(max_examples=40, deadline=None)
@given(case=pool_cases())
@example(case=OVERLAP)
@example(case=LEFTOVER)
@example(case=ONE_BY_ONE)
@example(case=NON_SQUARE)
def test_gradient_matches_finite_differences(impl, case):
    forward, backward = impl
    A, dP = case_arrays(case)
    P, cache = forward(A, **case.kwargs)
    assert P.shape == (case.N, case.C, *case.out_hw)
    dA = backward(dP, cache)
    assert dA.shape == A.shape and dA.dtype == np.float64
    dA_num = numerical_gradient(lambda a: forward(a, **case.kwargs)[0], A, dP)
    assert rel_error(dA, dA_num) < 1e-7


@settings(max_examples=40, deadline=None)
@given(case=pool_cases(max_batch=3, max_channels=3))
@example(case=OVERLAP)
@example(case=LEFTOVER)
def test_maxpool_matches_brute_force_and_records_winners(case):
    A, _ = case_arrays(case)
    P_ref, rows, cols = brute_force_max(A, case.size, case.stride, case.padding)
    for forward in (cnnlib.maxpool2d_forward, cnnlib.maxpool2d_forward_naive):
        P, cache = forward(A, **case.kwargs)
        np.testing.assert_array_equal(P, P_ref)
        np.testing.assert_array_equal(cache.argmax_rows, rows)
        np.testing.assert_array_equal(cache.argmax_cols, cols)
        np.testing.assert_array_equal(cache.argmax, rows * case.W + cols)
        # gathering A at the flat indices gives P back (PyTorch's return_indices convention)
        N, C = case.N, case.C
        gathered = np.take_along_axis(A.reshape(N, C, -1), cache.argmax.reshape(N, C, -1), axis=2)
        np.testing.assert_array_equal(gathered.reshape(P.shape), P)


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=40, deadline=None)
@given(case=pool_cases(max_batch=3, max_channels=3))
@example(case=OVERLAP)
@example(case=NON_SQUARE)
def test_naive_and_fast_agree(kind, case):
    fast_f, fast_b, naive_f, naive_b = (AVG_FAST + AVG_NAIVE) if kind == "avg" else (MAX_FAST + MAX_NAIVE)
    rng = np.random.default_rng(case.seed)
    # rounded values create many ties: both versions must pick the same winner
    A = np.round(rng.standard_normal(case.x_shape), 1)
    dP = rng.standard_normal((case.N, case.C, *case.out_hw))
    P_fast, c_fast = fast_f(A, **case.kwargs)
    P_naive, c_naive = naive_f(A, **case.kwargs)
    assert rel_error(P_fast, P_naive) < 1e-12
    dA_fast = fast_b(dP, c_fast)
    dA_naive = naive_b(dP, c_naive)
    assert rel_error(dA_fast, dA_naive) < 1e-12
    # the caches are interchangeable
    assert rel_error(fast_b(dP, c_naive), naive_b(dP, c_fast)) < 1e-12
    if kind == "max":
        np.testing.assert_array_equal(c_fast.offset, c_naive.offset)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=30, deadline=None)
@given(case=pool_cases(max_batch=3, max_channels=3))
@example(case=OVERLAP)
@example(case=LEFTOVER)
def test_both_maxpool_backward_routes_agree_with_the_loops(dtype, case):
    """maxpool2d_backward picks a scatter-add or a per-offset route by case; both must be right everywhere."""
    rng = np.random.default_rng(case.seed)
    A = np.round(rng.standard_normal(case.x_shape), 1).astype(dtype)  # ties included
    dP = rng.standard_normal((case.N, case.C, *case.out_hw)).astype(dtype)
    _, cache = cnnlib.maxpool2d_forward(A, **case.kwargs)
    expected = cnnlib.maxpool2d_backward_naive(dP, cache)
    PH, PW = case.padding
    tol = 1e-12 if dtype == np.float64 else 1e-6
    for route in (_pool_fast.route_by_bincount, _pool_fast.route_by_offset):
        dAp = route(dP, cache, np.dtype(dtype))
        assert dAp.dtype == dtype
        assert rel_error(dAp[:, :, PH : PH + case.H, PW : PW + case.W], expected) < tol
        # nothing ever lands on the padding
        inner = np.zeros(dAp.shape, dtype=bool)
        inner[:, :, PH : PH + case.H, PW : PW + case.W] = True
        assert not np.any(dAp[~inner])


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=25, deadline=None)
@given(case=pool_cases())
def test_gradient_is_linear_in_dP_and_sums_to_dP(kind, case):
    """Pooling routes (max) or spreads (avg) each dP entry: total gradient mass is conserved."""
    forward, backward = MAX_FAST if kind == "max" else AVG_FAST
    A, dP = case_arrays(case)
    _, cache = forward(A, **case.kwargs)
    dA = backward(dP, cache)
    if kind == "max":
        # padding never wins, so every dP entry lands in dA
        assert np.isclose(dA.sum(), dP.sum(), rtol=1e-12, atol=1e-12)
    else:
        # the share that fell on padded cells is dropped; the rest sums to the real-cell fraction
        KH, KW = case.size
        real = np.zeros(dP.shape)
        for u, v in np.ndindex(*case.out_hw):
            r0, q0 = u * case.stride[0] - case.padding[0], v * case.stride[1] - case.padding[1]
            nr = len([r for r in range(r0, r0 + KH) if 0 <= r < case.H])
            nq = len([q for q in range(q0, q0 + KW) if 0 <= q < case.W])
            real[:, :, u, v] = nr * nq / (KH * KW)
        assert np.isclose(dA.sum(), (dP * real).sum(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- hand-worked cases


@pytest.mark.parametrize("impl", [MAX_FAST, MAX_NAIVE], ids=["fast", "naive"])
def test_ties_first_maximum_in_row_major_order_wins(impl):
    forward, backward = impl
    # window (0, 0): all four equal -> (0, 0) wins
    # window (0, 1): 7 at (0, 3) and (1, 2) -> (0, 3) comes first in row-major order
    # window (1, 0): 4 at (3, 0) and (3, 1) -> (3, 0)
    # window (1, 1): 9 at (2, 3) and (3, 2) -> (2, 3)
    A = np.array(
        [
            [2.0, 2.0, 1.0, 7.0],
            [2.0, 2.0, 7.0, 0.0],
            [1.0, 0.0, 5.0, 9.0],
            [4.0, 4.0, 9.0, 3.0],
        ]
    )[None, None]
    dP = np.array([[0.5, -1.5], [2.5, 3.5]])[None, None]
    P, cache = forward(A, size=2)
    np.testing.assert_array_equal(P[0, 0], [[2.0, 7.0], [4.0, 9.0]])
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 3], expected[3, 0], expected[2, 3] = 0.5, -1.5, 2.5, 3.5
    np.testing.assert_array_equal(backward(dP, cache)[0, 0], expected)
    np.testing.assert_array_equal(cache.argmax[0, 0], [[0, 3], [12, 11]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("stride", [2, 1], ids=["apart", "overlapping"])
def test_maxpool_routes_inf_and_nan_to_the_winner_only(stride, dtype):
    """Non-winners stay exactly 0 whatever dP holds (0 * inf would be NaN), as in PyTorch, on every route
    (float32 windows apart are written by offset, the rest summed by bincount), as in the loops."""
    A = np.arange(36, dtype=dtype).reshape(1, 1, 6, 6)[..., ::-1, :].copy()  # distinct values
    P, cache = cnnlib.maxpool2d_forward(A, size=2, stride=stride)
    dP = np.full(P.shape, -1.0, dtype=dtype)
    dP.flat[:3] = np.inf, -np.inf, np.nan
    dA = cnnlib.maxpool2d_backward(dP, cache)
    assert dA.dtype == dtype
    winners = np.zeros(A.size, dtype=bool)
    winners[cache.argmax.ravel()] = True
    np.testing.assert_array_equal(dA.ravel()[~winners], 0.0)
    _, naive_cache = cnnlib.maxpool2d_forward_naive(A, size=2, stride=stride)
    np.testing.assert_array_equal(dA, cnnlib.maxpool2d_backward_naive(dP, naive_cache))  # NaN where NaN


@pytest.mark.parametrize("impl", [MAX_FAST, MAX_NAIVE], ids=["fast", "naive"])
def test_overlapping_windows_accumulate(impl):
    forward, backward = impl
    # 3x3 windows, stride 1, on a 4x4 input: four windows, all containing (1, 1) = 9;
    # the two right-hand windows also contain (2, 3) = 10, which beats it there.
    A = np.array(
        [
            [1.0, 2.0, 3.0, 0.0],
            [4.0, 9.0, 5.0, 1.0],
            [0.0, 6.0, 8.0, 10.0],
            [2.0, 3.0, 1.0, 0.0],
        ]
    )[None, None]
    dP = np.array([[0.1, 0.2], [0.3, 0.4]])[None, None]
    P, cache = forward(A, size=3, stride=1)
    np.testing.assert_array_equal(P[0, 0], [[9.0, 10.0], [9.0, 10.0]])
    dA = backward(dP, cache)[0, 0]
    expected = np.zeros((4, 4))
    expected[1, 1] = 0.1 + 0.3
    expected[2, 3] = 0.2 + 0.4
    np.testing.assert_allclose(dA, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("impl", [MAX_FAST, MAX_NAIVE], ids=["fast", "naive"])
def test_overlapping_windows_with_padding_never_select_padding(impl):
    forward, backward = impl
    # every value negative: with zero padding a padded cell would win; with -inf it never does
    A = (np.arange(1.0, 10.0).reshape(3, 3) - 100.0)[None, None]  # [[-99, -98, -97], ...]
    dP = np.arange(1.0, 10.0).reshape(3, 3)[None, None]
    P, cache = forward(A, size=3, stride=1, padding=1)
    np.testing.assert_array_equal(P[0, 0] + 100.0, [[5, 6, 6], [8, 9, 9], [8, 9, 9]])
    expected = np.zeros((3, 3))
    expected[1, 1] = 1.0  # 5 wins window (0, 0)
    expected[1, 2] = 2.0 + 3.0  # 6 wins windows (0, 1), (0, 2)
    expected[2, 1] = 4.0 + 7.0  # 8 wins windows (1, 0), (2, 0)
    expected[2, 2] = 5.0 + 6.0 + 8.0 + 9.0  # 9 wins the other four
    np.testing.assert_array_equal(backward(dP, cache)[0, 0], expected)
    assert cache.argmax_rows.min() >= 0 and cache.argmax_cols.min() >= 0


def test_maxpool_seed003_non_overlapping_2x2_routing():
    """Seed 003 §2.3/§3.3: 2x2 blocks, the gradient goes to (2u' + i*, 2v' + j*) only."""
    rng = np.random.default_rng(0)
    A = distinct_values(rng, (2, 3, 4, 6))
    dP = rng.standard_normal((2, 3, 2, 3))
    P, cache = cnnlib.maxpool2d_forward(A)  # size 2, stride = size
    dA = cnnlib.maxpool2d_backward(dP, cache)
    for n, f, u, v in np.ndindex(2, 3, 2, 3):
        block = A[n, f, 2 * u : 2 * u + 2, 2 * v : 2 * v + 2]
        i_star, j_star = np.unravel_index(np.argmax(block), (2, 2))
        assert P[n, f, u, v] == block.max()
        assert cache.offset[n, f, u, v] == 2 * i_star + j_star
        expected = np.zeros((2, 2))
        expected[i_star, j_star] = dP[n, f, u, v]
        np.testing.assert_array_equal(dA[n, f, 2 * u : 2 * u + 2, 2 * v : 2 * v + 2], expected)


@pytest.mark.parametrize("impl", [AVG_FAST, AVG_NAIVE], ids=["fast", "naive"])
def test_avgpool_counts_padding_in_the_average(impl):
    forward, backward = impl
    A = np.ones((1, 1, 2, 2))
    P, cache = forward(A, size=2, stride=1, padding=1)
    np.testing.assert_allclose(P[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], rtol=1e-15)
    dP = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    # cell (0, 0) of A sits in windows (0,0), (0,1), (1,0), (1,1): (1 + 2 + 4 + 5)/4
    dA = backward(dP, cache)
    np.testing.assert_allclose(dA[0, 0], [[12 / 4, 16 / 4], [24 / 4, 28 / 4]], rtol=1e-15)


def test_avgpool_equals_convolution_with_a_constant_kernel():
    """Average pooling is a per-channel convolution with weights 1/(KH*KW) (seed 001)."""
    rng = np.random.default_rng(5)
    A = rng.standard_normal((2, 3, 7, 6))
    P, _ = cnnlib.avgpool2d_forward(A, size=(3, 2), stride=(2, 1), padding=(1, 1))
    W = np.full((1, 1, 3, 2), 1 / 6)
    for c in range(3):
        Z, _ = cnnlib.conv2d_forward(A[:, c : c + 1], W, np.zeros(1), stride=(2, 1), padding=(1, 1))
        np.testing.assert_allclose(P[:, c : c + 1], Z, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- conventions


@pytest.mark.parametrize("forward", [f for f, _ in ALL], ids=ALL_IDS)
def test_stride_none_means_stride_equals_size_and_ints_equal_pairs(forward):
    rng = np.random.default_rng(6)
    A = rng.standard_normal((2, 2, 7, 8))
    P_default, _ = forward(A, size=3)
    P_explicit, _ = forward(A, size=(3, 3), stride=(3, 3), padding=(0, 0))
    np.testing.assert_array_equal(P_default, P_explicit)
    assert P_default.shape == (2, 2, 2, 2)
    P_list, _ = forward(A, size=[2, 3], stride=[1, 2], padding=[1, 1])
    assert P_list.shape == (2, 2, (7 + 2 - 2) // 1 + 1, (8 + 2 - 3) // 2 + 1)


@ALL_IMPLS
def test_float32_is_kept_and_inputs_are_not_modified(impl):
    forward, backward = impl
    rng = np.random.default_rng(7)
    A = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    A_before = A.copy()
    P, cache = forward(A, size=3, stride=2, padding=1)
    assert P.dtype == np.float32
    dP = rng.standard_normal(P.shape).astype(np.float32)
    dP_before = dP.copy()
    dA = backward(dP, cache)
    assert dA.dtype == np.float32 and dA.shape == A.shape
    np.testing.assert_array_equal(A, A_before)
    np.testing.assert_array_equal(dP, dP_before)
    # the results are fresh arrays, not views of the inputs
    assert not np.shares_memory(P, A) and not np.shares_memory(dA, dP)


def test_integer_input_becomes_float64():
    P, cache = cnnlib.maxpool2d_forward(np.arange(16).reshape(1, 1, 4, 4))
    assert P.dtype == np.float64
    np.testing.assert_array_equal(P[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(cache.argmax[0, 0], [[5, 7], [13, 15]])


def test_caches_are_frozen():
    A = np.zeros((1, 1, 2, 2))
    for forward in (cnnlib.maxpool2d_forward, cnnlib.avgpool2d_forward):
        _, cache = forward(A)
        assert isinstance(cache, MaxPoolCache | AvgPoolCache)
        with pytest.raises(AttributeError):
            cache.stride = (1, 1)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("forward", [f for f, _ in ALL], ids=ALL_IDS)
@pytest.mark.parametrize(
    ("A_shape", "kwargs", "error", "fragment"),
    [
        ((2, 4, 4), {}, ValueError, "A must be 4-D (N, C, H, W), got 3-D"),
        ((1, 1, 4, 4), {"size": 3, "padding": 2}, ValueError, "padding must be at most half the window size"),
        ((1, 1, 4, 4), {"size": (2, 3), "padding": (1, 2)}, ValueError, "padding must be at most half"),
        ((1, 1, 3, 4), {"size": 4}, ValueError, "the 4x4 window does not fit the padded input of 3x4"),
        ((1, 1, 4, 4), {"size": 0}, ValueError, "size must be positive"),
        ((1, 1, 4, 4), {"stride": 0}, ValueError, "stride must be positive"),
        ((1, 1, 4, 4), {"padding": -1}, ValueError, "padding must be non-negative"),
        ((1, 1, 4, 4), {"size": 2.0}, TypeError, "size must be an int or a pair of ints"),
        ((1, 1, 4, 4), {"stride": (1, 2, 3)}, TypeError, "stride must be an int or a pair of ints"),
        ((0, 1, 4, 4), {}, ValueError, "A must have no empty axis"),
    ],
)
def test_bad_forward_input_raises_with_the_function_name(forward, A_shape, kwargs, error, fragment):
    with pytest.raises(error) as info:
        forward(np.zeros(A_shape), **kwargs)
    message = str(info.value)
    assert message.startswith(forward.__name__ + ": ")
    assert fragment in message


@pytest.mark.parametrize("forward", [f for f, _ in ALL], ids=ALL_IDS)
def test_non_finite_and_non_numeric_input_is_rejected(forward):
    A = np.zeros((1, 1, 2, 2))
    A[0, 0, 1, 1] = np.nan
    with pytest.raises(ValueError, match=f"^{forward.__name__}: A must be finite"):
        forward(A)
    with pytest.raises(TypeError, match=f"^{forward.__name__}: A must be a real numeric array"):
        forward(np.array([["a", "b"]], dtype=object).reshape(1, 1, 1, 2))


@ALL_IMPLS
def test_bad_backward_input_raises_with_the_function_name(impl):
    forward, backward = impl
    P, cache = forward(np.zeros((2, 3, 4, 4)))
    name = backward.__name__
    with pytest.raises(ValueError) as info:
        backward(np.zeros((2, 3, 2, 3)), cache)
    assert str(info.value) == (
        f"{name}: dP must have shape (2, 3, 2, 2) (the shape of P from the forward pass), got (2, 3, 2, 3)"
    )
    with pytest.raises(TypeError, match=f"^{name}: cache must be the second value returned by"):
        backward(np.zeros(P.shape), (np.zeros((2, 3, 4, 4)), 2))
    other = cnnlib.avgpool2d_forward if "max" in name else cnnlib.maxpool2d_forward
    with pytest.raises(TypeError, match=f"^{name}: cache must be the second value returned by"):
        backward(np.zeros(P.shape), other(np.zeros((2, 3, 4, 4)))[1])

"""Tests for cnnlib.dense: flatten and the fully connected layer, loop and fast versions."""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from _strategies import DenseCase, dense_cases, rng_seeds
from hypothesis import example, given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib.dense import DenseCache, FlattenCache

FAST = (cnnlib.dense_forward, cnnlib.dense_backward)
NAIVE = (cnnlib.dense_forward_naive, cnnlib.dense_backward_naive)
IMPLS = pytest.mark.parametrize("impl", [FAST, NAIVE], ids=["fast", "naive"])


def dense_arrays(case: DenseCase):
    rng = np.random.default_rng(case.seed)
    p = rng.standard_normal((case.N, case.K))
    U = rng.standard_normal((case.M, case.K))
    c = rng.standard_normal(case.M)
    ds = rng.standard_normal((case.N, case.M))
    return p, U, c, ds


# --------------------------------------------------------------------------- dense


@IMPLS
@settings(max_examples=30, deadline=None)
@given(case=dense_cases())
@example(case=DenseCase(N=1, K=1, M=1, seed=0))
@example(case=DenseCase(N=3, K=4, M=1, seed=1))  # seed 002's single output neuron, batched
def test_dense_gradients_match_finite_differences(impl, case):
    forward, backward = impl
    p, U, c, ds = dense_arrays(case)
    s, cache = forward(p, U, c)
    assert s.shape == (case.N, case.M)
    dp, dU, dc = backward(ds, cache)
    assert (dp.shape, dU.shape, dc.shape) == (p.shape, U.shape, c.shape)
    assert rel_error(dp, numerical_gradient(lambda x: forward(x, U, c)[0], p, ds)) < 1e-7
    assert rel_error(dU, numerical_gradient(lambda x: forward(p, x, c)[0], U, ds)) < 1e-7
    assert rel_error(dc, numerical_gradient(lambda x: forward(p, U, x)[0], c, ds)) < 1e-7


@settings(max_examples=30, deadline=None)
@given(case=dense_cases(max_batch=5, max_in=8, max_out=6))
def test_dense_naive_and_fast_agree(case):
    p, U, c, ds = dense_arrays(case)
    s_fast, cache_fast = cnnlib.dense_forward(p, U, c)
    s_naive, cache_naive = cnnlib.dense_forward_naive(p, U, c)
    assert rel_error(s_fast, s_naive) < 1e-12
    for a, b in zip(cnnlib.dense_backward(ds, cache_fast), cnnlib.dense_backward_naive(ds, cache_naive), strict=True):
        assert rel_error(a, b) < 1e-12
    # the caches are interchangeable
    for a, b in zip(cnnlib.dense_backward(ds, cache_naive), cnnlib.dense_backward_naive(ds, cache_fast), strict=True):
        assert rel_error(a, b) < 1e-12


def test_dense_formulas_by_hand():
    """s_i = Σ_k U_ik p_k + c_i; dU is a sum over the batch of outer products ds_n p_nᵀ."""
    p = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    U = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    c = np.array([0.5, -0.5])
    s, cache = cnnlib.dense_forward(p, U, c)
    np.testing.assert_allclose(s, [[1 - 3 + 0.5, 2 + 2 - 0.5], [0 - 0.5 + 0.5, 0 - 1 - 0.5]], rtol=1e-15)
    ds = np.array([[1.0, -2.0], [0.5, 3.0]])
    dp, dU, dc = cnnlib.dense_backward(ds, cache)
    np.testing.assert_allclose(dU, np.outer(ds[0], p[0]) + np.outer(ds[1], p[1]), rtol=1e-15)
    np.testing.assert_allclose(dp, [[1 - 4, -2, -1], [0.5 + 6, 3, -0.5]], rtol=1e-15)
    np.testing.assert_allclose(dc, [1.5, 1.0], rtol=1e-15)


@IMPLS
def test_dense_float32_is_kept_and_inputs_are_not_modified(impl):
    forward, backward = impl
    p, U, c, ds = (x.astype(np.float32) for x in dense_arrays(DenseCase(N=3, K=4, M=2, seed=3)))
    before = [x.copy() for x in (p, U, c, ds)]
    s, cache = forward(p, U, c)
    grads = backward(ds, cache)
    assert s.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    for x, x0 in zip((p, U, c, ds), before, strict=True):
        np.testing.assert_array_equal(x, x0)
    # a float64 parameter promotes the result
    assert forward(p, U.astype(np.float64), c)[0].dtype == np.float64


@IMPLS
@pytest.mark.parametrize(
    ("shapes", "fragment"),
    [
        (
            ((3,), (2, 3), (2,)),
            "p must be 2-D (N, Q) (use flatten_forward first, or p[None, :] for one sample), got 1-D",
        ),
        (((4, 3), (2, 5), (2,)), "p has Q=3 features per sample but U expects Q=5 (p.shape=(4, 3), U.shape=(2, 5)"),
        (((4, 3), (3, 2), (2,)), "p has Q=3 features per sample but U expects Q=2"),
        (((4, 3), (2, 3), (3,)), "c must have one entry per output, shape (2,), got (3,) (U.shape=(2, 3))"),
        (((4, 3), (2, 3), (2, 1)), "c must be 1-D (M,), got 2-D array with shape (2, 1)"),
        (((4, 3), (6,), (2,)), "U must be 2-D (M, Q), got 1-D"),
    ],
)
def test_dense_bad_shapes_raise_with_the_function_name(impl, shapes, fragment):
    forward, _ = impl
    with pytest.raises(ValueError) as info:
        forward(*(np.zeros(s) for s in shapes))
    assert str(info.value).startswith(f"{forward.__name__}: {fragment}")


@IMPLS
def test_dense_bad_backward_input(impl):
    forward, backward = impl
    _, cache = forward(np.zeros((4, 3)), np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError) as info:
        backward(np.zeros((2, 4)), cache)
    assert str(info.value) == (
        f"{backward.__name__}: ds must have shape (4, 2) (the shape of s from the forward pass), got (2, 4)"
    )
    with pytest.raises(TypeError, match=f"^{backward.__name__}: cache must be the second value returned by"):
        backward(np.zeros((4, 2)), cnnlib.flatten_forward(np.zeros((4, 2)))[1])
    with pytest.raises(ValueError, match=f"^{forward.__name__}: U must be finite"):
        forward(np.zeros((4, 3)), np.full((2, 3), np.nan), np.zeros(2))


# --------------------------------------------------------------------------- flatten

flat_shapes = st.lists(st.integers(1, 3), min_size=2, max_size=5).map(tuple)


@settings(max_examples=30, deadline=None)
@given(shape=flat_shapes, seed=rng_seeds())
def test_flatten_round_trip_and_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    P = rng.standard_normal(shape)
    p, cache = cnnlib.flatten_forward(P)
    K = int(np.prod(shape[1:]))
    assert p.shape == (shape[0], K)
    dp = rng.standard_normal(p.shape)
    dP = cnnlib.flatten_backward(dp, cache)
    assert dP.shape == P.shape
    assert rel_error(dP, numerical_gradient(lambda x: cnnlib.flatten_forward(x)[0], P, dp)) < 1e-7
    # flatten_backward undoes flatten_forward exactly
    np.testing.assert_array_equal(cnnlib.flatten_backward(p, cache), P)


def test_flatten_is_c_order_channel_then_row_then_column():
    """Seed 002's F = Flatten(P1); for NCHW, k = (c*H + u)*W + v."""
    P = np.arange(2 * 2 * 2 * 3, dtype=float).reshape(2, 2, 2, 3)
    p, _ = cnnlib.flatten_forward(P)
    for n, ch, u, v in np.ndindex(P.shape):
        assert p[n, (ch * 2 + u) * 3 + v] == P[n, ch, u, v]
    np.testing.assert_array_equal(p[0], np.arange(12.0))
    # seed 002: a 2x2 pooled map becomes 4 features
    p1, _ = cnnlib.flatten_forward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(p1, [[1.0, 2.0, 3.0, 4.0]])


def test_flatten_returns_fresh_arrays_and_keeps_float32():
    P = np.ones((2, 3, 2, 2), dtype=np.float32)
    p, cache = cnnlib.flatten_forward(P)
    assert p.dtype == np.float32 and not np.shares_memory(p, P)
    p[0, 0] = 5.0
    assert P[0, 0, 0, 0] == 1.0
    dp = np.ones((2, 12), dtype=np.float32)
    dP = cnnlib.flatten_backward(dp, cache)
    assert dP.dtype == np.float32 and not np.shares_memory(dP, dp)


def test_flatten_bad_input():
    with pytest.raises(ValueError, match=r"^flatten_forward: P must have a batch axis first, \(N, ...\)"):
        cnnlib.flatten_forward(np.zeros(4))
    _, cache = cnnlib.flatten_forward(np.zeros((2, 3, 2, 2)))
    with pytest.raises(ValueError) as info:
        cnnlib.flatten_backward(np.zeros((2, 11)), cache)
    assert str(info.value) == (
        "flatten_backward: dp must have shape (2, 12) ((N, Q) for P of shape (2, 3, 2, 2)), got (2, 11)"
    )
    with pytest.raises(TypeError, match="^flatten_backward: cache must be the second value returned by"):
        cnnlib.flatten_backward(np.zeros((2, 12)), (2, 3, 2, 2))


def test_caches_are_frozen():
    _, fc = cnnlib.flatten_forward(np.zeros((1, 2)))
    _, dc = cnnlib.dense_forward(np.zeros((1, 2)), np.zeros((3, 2)), np.zeros(3))
    assert isinstance(fc, FlattenCache) and isinstance(dc, DenseCache)
    with pytest.raises(AttributeError):
        dc.U = None

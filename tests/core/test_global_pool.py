"""Tests for cnnlib.global_pool: global average pooling, loop and fast versions."""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib.global_pool import GlobalAvgPoolCache

FAST = (cnnlib.global_avgpool2d_forward, cnnlib.global_avgpool2d_backward)
NAIVE = (cnnlib.global_avgpool2d_forward_naive, cnnlib.global_avgpool2d_backward_naive)
IMPLS = pytest.mark.parametrize("impl", [FAST, NAIVE], ids=["fast", "naive"])

shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5))


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(0, 2**31))
def test_is_average_pooling_with_the_whole_map_as_window(shape, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal(shape)
    N, C, H, W = shape
    P, pcache = cnnlib.avgpool2d_forward(A, size=(H, W))
    dp = rng.standard_normal((N, C))
    for forward, backward in (FAST, NAIVE):
        p, cache = forward(A)
        assert p.shape == (N, C)
        np.testing.assert_allclose(p, P.reshape(N, C), rtol=1e-12, atol=1e-15)
        dA = backward(dp, cache)
        np.testing.assert_allclose(dA, cnnlib.avgpool2d_backward(dp.reshape(N, C, 1, 1), pcache), rtol=1e-12)
        assert rel_error(dA, numerical_gradient(lambda A_, f=forward: f(A_)[0], A, dp)) < 1e-8


@IMPLS
def test_every_cell_gets_an_equal_share(impl):
    forward, backward = impl
    p, cache = forward(np.zeros((1, 2, 3, 4)))
    dA = backward(np.array([[12.0, -6.0]]), cache)
    np.testing.assert_array_equal(dA[0, 0], np.ones((3, 4)))
    np.testing.assert_array_equal(dA[0, 1], -0.5 * np.ones((3, 4)))
    dA[0, 0, 0, 0] = 7.0  # the gradient owns its memory
    assert dA[0, 0, 1, 1] == 1.0


@IMPLS
def test_float32_kept_and_input_not_modified(impl):
    forward, backward = impl
    A = np.random.default_rng(0).standard_normal((2, 2, 3, 3)).astype(np.float32)
    A0 = A.copy()
    p, cache = forward(A)
    assert p.dtype == np.float32 and backward(np.ones_like(p), cache).dtype == np.float32
    np.testing.assert_array_equal(A, A0)


def test_cache_is_frozen():
    _, cache = cnnlib.global_avgpool2d_forward(np.ones((1, 1, 2, 2)))
    assert isinstance(cache, GlobalAvgPoolCache)
    with pytest.raises(AttributeError):
        cache.in_shape = (1, 1, 1, 1)


@IMPLS
def test_bad_input_raises_with_the_function_name(impl):
    forward, backward = impl
    f, b = forward.__name__, backward.__name__
    with pytest.raises(ValueError, match=f"^{f}: A must be 4-D"):
        forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=f"^{f}: A must have no empty axis"):
        forward(np.ones((1, 2, 0, 3)))
    with pytest.raises(ValueError, match=f"^{f}: A must be finite"):
        forward(np.full((1, 1, 2, 2), np.nan))
    p, cache = forward(np.ones((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=rf"^{b}: dp must have shape \(2, 3\) \(the shape of p"):
        backward(np.ones((2, 3, 1, 1)), cache)
    with pytest.raises(TypeError, match=f"^{b}: cache must be the second value returned by global_avgpool2d_forward"):
        backward(p, "cache")

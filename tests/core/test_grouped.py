"""Tests for grouped convolution (``groups=`` of cnnlib.conv; cnnlib.grouped), loop and fast versions.

A grouped convolution is checked against its definition, eq. (12.12), written as an ordinary
convolution with a block-diagonal weight (zeros where a filter does not see a channel), and
its gradients against central differences with a random upstream gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib.grouped import GroupedConvCache

FAST = (cnnlib.conv2d_forward, cnnlib.conv2d_backward)
NAIVE = (cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive)
IMPLS = pytest.mark.parametrize("impl", [FAST, NAIVE], ids=["fast", "naive"])


def block_diagonal(W, groups, C):
    """The (F, C, KH, KW) weight of the ordinary convolution that eq. (12.12) is."""
    F, Cg, KH, KW = W.shape
    Fg = F // groups
    full = np.zeros((F, C, KH, KW))
    for f in range(F):
        g = f // Fg
        full[f, g * Cg : (g + 1) * Cg] = W[f]
    return full


cases = st.tuples(
    st.integers(1, 2),  # N
    st.sampled_from([1, 2, 3, 4]),  # groups
    st.integers(1, 2),  # channels per group
    st.integers(1, 2),  # filters per group
    st.integers(3, 5),  # H = W
    st.integers(1, 2),  # stride
    st.integers(0, 1),  # padding
    st.integers(0, 2**31),
)


@settings(max_examples=40, deadline=None)
@given(cases)
def test_grouped_is_the_block_diagonal_convolution_and_gradients_match(case):
    N, G, Cg, Fg, H, S, pad, seed = case
    rng = np.random.default_rng(seed)
    C, F = G * Cg, G * Fg
    X, W, b = rng.standard_normal((N, C, H, H)), rng.standard_normal((F, Cg, 2, 3)), rng.standard_normal(F)
    Wfull = block_diagonal(W, G, C)
    Zref, cref = cnnlib.conv2d_forward(X, Wfull, b, stride=S, padding=pad)
    dZ = rng.standard_normal(Zref.shape)
    dXref, dWfull, dbref = cnnlib.conv2d_backward(dZ, cref)
    for forward, backward in (FAST, NAIVE):
        Z, cache = forward(X, W, b, stride=S, padding=pad, groups=G)
        np.testing.assert_allclose(Z, Zref, rtol=1e-11, atol=1e-12)
        dX, dW, db = backward(dZ, cache)
        np.testing.assert_allclose(dX, dXref, rtol=1e-11, atol=1e-12)
        # dW is the block-diagonal gradient's blocks: the zeros are not parameters
        np.testing.assert_allclose(block_diagonal(dW, G, C), Wfull * 0 + np.where(Wfull != 0, dWfull, 0), atol=1e-12)
        np.testing.assert_allclose(db, dbref, rtol=1e-12)
        assert (
            rel_error(
                dW, numerical_gradient(lambda W_, f=forward: f(X, W_, b, stride=S, padding=pad, groups=G)[0], W, dZ)
            )
            < 1e-7
        )


@IMPLS
def test_depthwise_is_one_kernel_per_channel(impl):
    forward, backward = impl
    rng = np.random.default_rng(1)
    X, W, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    Z, cache = forward(X, W, b, padding=1, groups=3)
    for c in range(3):
        Zc, _ = cnnlib.conv2d_forward(X[:, c : c + 1], W[c : c + 1], b[c : c + 1], padding=1)
        np.testing.assert_allclose(Z[:, c : c + 1], Zc)
    dZ = rng.standard_normal(Z.shape)
    dX = backward(dZ, cache)[0]
    assert rel_error(dX, numerical_gradient(lambda X_: forward(X_, W, b, padding=1, groups=3)[0], X, dZ)) < 1e-8
    assert isinstance(cache, GroupedConvCache) and len(cache.caches) == 3


@IMPLS
def test_groups_one_as_a_numpy_int_is_the_ordinary_convolution(impl):
    forward, backward = impl
    rng = np.random.default_rng(2)
    X, W, b = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(3)
    Z, cache = forward(X, W, b, groups=np.int64(1))
    Z1, cache1 = forward(X, W, b)
    np.testing.assert_array_equal(Z, Z1)
    dZ = rng.standard_normal(Z.shape)
    for g, g1 in zip(backward(dZ, cache), backward(dZ, cache1), strict=True):
        np.testing.assert_array_equal(g, g1)


@IMPLS
def test_an_edit_of_one_groups_channels_is_detected(impl):
    forward, backward = impl
    X = np.ones((1, 4, 3, 3))
    Z, cache = forward(X, np.ones((2, 2, 2, 2)), np.zeros(2), groups=2)
    X[0, 3, 0, 0] = 2.0  # a channel of the second group
    with pytest.raises(ValueError, match=f"^{backward.__name__}: X, the input of .*modified in place"):
        backward(np.ones(Z.shape), cache)


X4, W4, b4 = np.ones((1, 4, 3, 3)), np.ones((6, 2, 2, 2)), np.ones(6)


@pytest.mark.parametrize("forward", [FAST[0], NAIVE[0]], ids=["fast", "naive"])
@pytest.mark.parametrize(
    "args, groups, error, fragment",
    [
        ((X4, W4, b4), 0, ValueError, "groups must be a positive int"),
        ((X4, W4, b4), 2.0, TypeError, "groups must be a positive int"),
        ((X4, W4, b4), True, TypeError, "groups must be a positive int"),
        ((X4, W4, b4), 3, ValueError, "groups=3 must divide both the input channels C=4 and the filters F=6"),
        ((X4, np.ones((4, 2, 2, 2)), np.ones(4)), 4, ValueError, "so W must be (F, 1, KH, KW)"),
        ((X4[0], W4, b4), 2, ValueError, "X must be 4-D"),
        ((X4, W4[0], b4), 2, ValueError, "W must be 4-D (F, C/groups, KH, KW)"),
        ((X4, W4, np.ones((6, 1))), 2, ValueError, "b must be 1-D"),
        ((X4, W4, np.ones(4)), 2, ValueError, "b must have one entry per filter"),
        ((X4, np.ones((6, 2, 5, 5)), b4), 2, ValueError, "kernel spans 5x5"),
    ],
)
def test_bad_input_raises_with_the_function_name(forward, args, groups, error, fragment):
    with pytest.raises(error, match="^" + forward.__name__ + ": ") as info:
        forward(*args, groups=groups)
    assert fragment in str(info.value)


@IMPLS
def test_bad_upstream_gradient_is_named(impl):
    forward, backward = impl
    Z, cache = forward(X4, W4, b4, groups=2)
    with pytest.raises(ValueError, match=rf"^{backward.__name__}: dZ must have shape \(1, 6, 2, 2\)"):
        backward(np.ones((1, 6, 2, 3)), cache)

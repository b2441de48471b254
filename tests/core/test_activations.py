"""Tests for cnnlib.activations: ReLU, sigmoid and tanh, forward and backward."""

from __future__ import annotations

import numpy as np
import pytest
from _fd import distinct_values, numerical_gradient, rel_error
from _strategies import rng_seeds
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib.activations import ReLUCache, SigmoidCache, TanhCache

PAIRS = {
    "relu": (cnnlib.relu_forward, cnnlib.relu_backward),
    "sigmoid": (cnnlib.sigmoid_forward, cnnlib.sigmoid_backward),
    "tanh": (cnnlib.tanh_forward, cnnlib.tanh_backward),
}
KINDS = pytest.mark.parametrize("kind", list(PAIRS))
shapes = st.lists(st.integers(1, 3), min_size=1, max_size=4).map(tuple)


@KINDS
@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=rng_seeds())
def test_gradient_matches_finite_differences(kind, shape, seed):
    forward, backward = PAIRS[kind]
    rng = np.random.default_rng(seed)
    # values at least 0.05 from ReLU's kink at 0, spread over [-2.5, 2.5] or so
    Z = distinct_values(rng, shape, gap=5.0 / max(np.prod(shape), 1))
    dA = rng.standard_normal(shape)
    A, cache = forward(Z)
    assert A.shape == Z.shape
    dZ = backward(dA, cache)
    dZ_num = numerical_gradient(lambda z: forward(z)[0], Z, dA)
    assert rel_error(dZ, dZ_num) < 1e-7


def test_forward_values():
    Z = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(cnnlib.relu_forward(Z)[0], [[0.0, 0.0, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(cnnlib.sigmoid_forward(Z)[0], 1 / (1 + np.exp(-Z)), rtol=1e-15)
    np.testing.assert_allclose(cnnlib.tanh_forward(Z)[0], np.tanh(Z), rtol=1e-15)


def test_relu_gradient_is_zero_at_zero_and_passes_through_where_positive():
    Z = np.array([-1.0, -0.0, 0.0, 1e-300, 3.0])
    dA = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    _, cache = cnnlib.relu_forward(Z)
    np.testing.assert_array_equal(cnnlib.relu_backward(dA, cache), [0.0, 0.0, 0.0, 40.0, 50.0])


def test_relu_gradient_is_plus_zero_wherever_z_is_not_positive():
    """Chapter 04 prints the gradient at Z = 0 as [0. 0. 0.]: +0.0, never -0.0, even for a negative dA."""
    Z = np.array([[1.5, -0.5, 0.0, 2.0], [-1.0, 0.0, 3.0, -2.5], [0.5, -1.5, 1.0, 0.0]])  # chapter 04's Z_r
    dA = np.array([[0.7, -1.2, 0.4, -0.3], [0.9, 1.1, -0.8, 0.6], [-0.5, 0.2, 1.3, -1.4]])  # and its dA_r
    dZ = cnnlib.relu_backward(dA, cnnlib.relu_forward(Z)[1])
    assert str(dZ[Z == 0]) == "[0. 0. 0.]"
    assert not np.signbit(dZ[Z <= 0]).any() and np.all(dZ[Z <= 0] == 0)
    np.testing.assert_array_equal(dZ[Z > 0], dA[Z > 0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_masked_cells_stop_inf_and_nan(dtype):
    """Where Z <= 0 the gradient is exactly +0.0 whatever arrives (0 * inf would be NaN); PyTorch does the same."""
    Z = np.array([-1.0, -0.0, 0.0, -2.0, 1.0, 2.0, 3.0, -3.0], dtype=dtype)
    dA = np.array([np.inf, -np.inf, np.nan, -1.0, np.inf, -np.inf, np.nan, -0.0], dtype=dtype)
    dZ = cnnlib.relu_backward(dA, cnnlib.relu_forward(Z)[1])
    assert dZ.dtype == dtype
    np.testing.assert_array_equal(dZ[:4], 0.0)
    assert not np.signbit(dZ[Z <= 0]).any()
    np.testing.assert_array_equal(dZ[4:7], dA[4:7])  # inf, -inf and NaN pass through where Z > 0
    big = np.full(3, 1e300)  # a finite dA whose squares overflow takes the same careful path
    np.testing.assert_array_equal(
        cnnlib.relu_backward(big, cnnlib.relu_forward(np.array([1.0, -1.0, 2.0]))[1]), [1e300, 0.0, 1e300]
    )


@pytest.mark.parametrize(
    ("forward", "backward"),
    [
        (cnnlib.relu_forward, cnnlib.relu_backward),
        (cnnlib.sigmoid_forward, cnnlib.sigmoid_backward),
        (cnnlib.tanh_forward, cnnlib.tanh_backward),
    ],
    ids=["relu", "sigmoid", "tanh"],
)
def test_zero_dimensional_input(forward, backward):
    """One number as a 0-d array (chapter 04's relu_of(v)): forward and backward work, shapes stay ()."""
    A, cache = forward(np.array(0.5))
    assert np.shape(A) == () and np.shape(backward(np.array(2.0), cache)) == ()


def test_sigmoid_and_tanh_slopes_use_the_cached_output():
    Z = np.linspace(-4, 4, 9)
    dA = np.linspace(1, 2, 9)
    A, cache = cnnlib.sigmoid_forward(Z)
    np.testing.assert_allclose(cnnlib.sigmoid_backward(dA, cache), dA * A * (1 - A), rtol=1e-15)
    A, cache = cnnlib.tanh_forward(Z)
    np.testing.assert_allclose(cnnlib.tanh_backward(dA, cache), dA * (1 - np.tanh(Z) ** 2), rtol=1e-14)


def test_seed000_sigmoid_deltas():
    """Seed 000: δ = (upstream sum) * a (1 - a) at the sigmoid outputs 0.58, 0.57, 0.65, 0.55."""
    a = np.array([[0.58, 0.57], [0.65, 0.55]])
    Z = np.log(a / (1 - a))  # the pre-activations that give those outputs
    upstream = np.array(
        [
            [0.25 * 0.61 - 0.15 * 0.02, 0.25 * 0.82 - 0.15 * -0.50],
            [0.25 * 0.96 - 0.15 * 0.23, 0.25 * -1.00 - 0.15 * 0.17],
        ]
    )
    A, cache = cnnlib.sigmoid_forward(Z[None, None])
    np.testing.assert_allclose(A[0, 0], a, rtol=1e-14)
    delta = cnnlib.sigmoid_backward(upstream[None, None], cache)[0, 0]
    np.testing.assert_allclose(delta, [[0.0364182, 0.068628], [0.04675125, -0.06818625]], rtol=1e-12)


def test_sigmoid_is_stable_for_large_inputs():
    Z = np.array([-1e4, -1000.0, -40.0, 0.0, 40.0, 1000.0, 1e4])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # no overflow, no 0/0
        A, cache = cnnlib.sigmoid_forward(Z)
        dZ = cnnlib.sigmoid_backward(np.ones_like(Z), cache)
        s = cnnlib.sigmoid(Z)
    np.testing.assert_array_equal(A, s)
    assert A[0] == 0.0 and A[-1] == 1.0 and A[3] == 0.5
    # far in the left tail the value is e^Z, not rounded to 0
    np.testing.assert_allclose(A[2], np.exp(-40.0), rtol=1e-12)
    np.testing.assert_allclose(A[4], 1 - np.exp(-40.0), rtol=1e-15)
    assert np.all(np.isfinite(dZ)) and np.all(dZ >= 0)
    A32, _ = cnnlib.sigmoid_forward(Z.astype(np.float32))
    assert A32.dtype == np.float32 and A32[0] == 0 and A32[-1] == 1


def test_tanh_saturates_without_warnings():
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        A, cache = cnnlib.tanh_forward(np.array([-1e4, 1e4]))
        dZ = cnnlib.tanh_backward(np.array([1.0, 1.0]), cache)
    np.testing.assert_array_equal(A, [-1.0, 1.0])
    np.testing.assert_array_equal(dZ, [0.0, 0.0])


@KINDS
def test_float32_is_kept_and_inputs_are_not_modified(kind):
    forward, backward = PAIRS[kind]
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    dA = rng.standard_normal(Z.shape).astype(np.float32)
    Z0, dA0 = Z.copy(), dA.copy()
    A, cache = forward(Z)
    dZ = backward(dA, cache)
    assert A.dtype == np.float32 and dZ.dtype == np.float32
    np.testing.assert_array_equal(Z, Z0)
    np.testing.assert_array_equal(dA, dA0)
    assert not np.shares_memory(A, Z) and not np.shares_memory(dZ, dA)
    # float64 upstream gradient with a float32 forward: the wider type wins
    assert backward(dA.astype(np.float64), cache).dtype == np.float64


@KINDS
def test_lists_and_integers_become_float64(kind):
    forward, backward = PAIRS[kind]
    A, cache = forward([[-1, 0, 2]])
    assert A.dtype == np.float64 and A.shape == (1, 3)
    assert backward([[1, 1, 1]], cache).dtype == np.float64


@KINDS
def test_caches_are_frozen(kind):
    forward, _ = PAIRS[kind]
    _, cache = forward(np.zeros(3))
    assert isinstance(cache, ReLUCache | SigmoidCache | TanhCache)
    with pytest.raises(AttributeError):
        cache.A = None


@KINDS
def test_bad_input_raises_with_the_function_name(kind):
    forward, backward = PAIRS[kind]
    fname, bname = forward.__name__, backward.__name__
    with pytest.raises(ValueError, match=rf"^{fname}: Z must be finite, got 1 NaN/inf value\(s\)"):
        forward(np.array([0.0, np.inf]))
    with pytest.raises(TypeError, match=rf"^{fname}: Z must be a real numeric array"):
        forward(np.array(["x"]))
    with pytest.raises(TypeError, match=rf"^{fname}: Z must be real, got complex"):
        forward(np.array([1j]))
    _, cache = forward(np.zeros((2, 3)))
    with pytest.raises(ValueError) as info:
        backward(np.zeros((3, 2)), cache)
    assert str(info.value) == f"{bname}: dA must have shape (2, 3) (the shape of A from the forward pass), got (3, 2)"
    other = cnnlib.tanh_forward if kind != "tanh" else cnnlib.relu_forward
    with pytest.raises(TypeError, match=rf"^{bname}: cache must be the second value returned by {fname}"):
        backward(np.zeros((2, 3)), other(np.zeros((2, 3)))[1])

"""Tests for cnnlib.batchnorm: spatial batch normalisation, loop and fast versions."""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib.batchnorm import BatchNormCache

FAST = (cnnlib.batchnorm2d_forward, cnnlib.batchnorm2d_backward)
NAIVE = (cnnlib.batchnorm2d_forward_naive, cnnlib.batchnorm2d_backward_naive)
IMPLS = pytest.mark.parametrize("impl", [FAST, NAIVE], ids=["fast", "naive"])


def arrays(seed, shape):
    rng = np.random.default_rng(seed)
    C = shape[1]
    X = (
        rng.standard_normal(shape) * rng.uniform(0.5, 3, C)[None, :, None, None]
        + rng.normal(0, 2, C)[None, :, None, None]
    )
    gamma = rng.uniform(0.5, 2, C) * rng.choice([-1, 1], C)
    beta = rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.uniform(0.2, 3, C)
    dY = rng.standard_normal(shape)
    return X, gamma, beta, rm, rv, dY


def reference(X, gamma, beta, eps=1e-5):
    """The equations, written once more with NumPy reductions (eqs. 11.8-11.11)."""
    mu = X.mean(axis=(0, 2, 3), keepdims=True)
    var = ((X - mu) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    return gamma[None, :, None, None] * (X - mu) / np.sqrt(var + eps) + beta[None, :, None, None]


shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).filter(
    lambda s: s[0] * s[2] * s[3] >= 2
)


# --------------------------------------------------------------------------- forward


@IMPLS
@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_forward_normalises_each_channel(impl, shape, seed):
    forward, _ = impl
    X, gamma, beta, *_ = arrays(seed, shape)
    Y, cache = forward(X, gamma, beta)
    assert Y.shape == X.shape
    np.testing.assert_allclose(Y, reference(X, gamma, beta), rtol=1e-10, atol=1e-10)
    Yhat = (Y - beta[None, :, None, None]) / gamma[None, :, None, None]
    np.testing.assert_allclose(Yhat.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    var = X.var(axis=(0, 2, 3))
    np.testing.assert_allclose(Yhat.var(axis=(0, 2, 3)), var / (var + 1e-5), rtol=1e-9)
    assert cache.running_mean is None and cache.running_var is None


@IMPLS
def test_running_statistics_use_the_unbiased_variance_and_are_new_arrays(impl):
    forward, _ = impl
    X, gamma, beta, rm, rv, _ = arrays(1, (3, 2, 2, 3))
    rm0, rv0 = rm.copy(), rv.copy()
    _, cache = forward(X, gamma, beta, running_mean=rm, running_var=rv, momentum=0.25)
    m = 3 * 2 * 3
    mu, var = X.mean(axis=(0, 2, 3)), X.var(axis=(0, 2, 3))
    np.testing.assert_allclose(cache.running_mean, 0.75 * rm0 + 0.25 * mu, rtol=1e-12)
    np.testing.assert_allclose(cache.running_var, 0.75 * rv0 + 0.25 * var * m / (m - 1), rtol=1e-12)
    assert np.array_equal(rm, rm0) and np.array_equal(rv, rv0)  # inputs untouched
    assert not np.shares_memory(cache.running_mean, rm)


@IMPLS
def test_evaluation_mode_uses_the_running_statistics(impl):
    forward, backward = impl
    X, gamma, beta, rm, rv, dY = arrays(2, (2, 3, 3, 2))
    Y, cache = forward(X, gamma, beta, training=False, running_mean=rm, running_var=rv, eps=1e-3)
    expected = (
        gamma[None, :, None, None] * (X - rm[None, :, None, None]) / np.sqrt(rv + 1e-3)[None, :, None, None]
        + beta[None, :, None, None]
    )
    np.testing.assert_allclose(Y, expected, rtol=1e-12)
    np.testing.assert_array_equal(cache.running_mean, rm)
    # one image alone gives the same output as inside the batch
    Y0, _ = forward(X[:1], gamma, beta, training=False, running_mean=rm, running_var=rv, eps=1e-3)
    np.testing.assert_allclose(Y0, Y[:1], rtol=1e-12)
    dX, dgamma, dbeta = backward(dY, cache)
    np.testing.assert_allclose(dX, dY * (gamma / np.sqrt(rv + 1e-3))[None, :, None, None], rtol=1e-12)
    Xhat = (X - rm[None, :, None, None]) / np.sqrt(rv + 1e-3)[None, :, None, None]
    np.testing.assert_allclose(dgamma, (dY * Xhat).sum(axis=(0, 2, 3)), rtol=1e-10)
    np.testing.assert_allclose(dbeta, dY.sum(axis=(0, 2, 3)), rtol=1e-10)


# --------------------------------------------------------------------------- backward


@IMPLS
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@settings(max_examples=12, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_gradients_match_finite_differences(impl, training, shape, seed):
    forward, backward = impl
    X, gamma, beta, rm, rv, dY = arrays(seed, shape)
    kw = {"training": training, "running_mean": rm, "running_var": rv}
    Y, cache = forward(X, gamma, beta, **kw)
    dX, dgamma, dbeta = backward(dY, cache)
    for got, wrt in ((dX, 0), (dgamma, 1), (dbeta, 2)):
        args = [X, gamma, beta]

        def f(a, wrt=wrt, args=args):
            args = list(args)
            args[wrt] = a
            return forward(*args, **kw)[0]

        num = numerical_gradient(f, args[wrt], dY)
        # with m = 2 values per channel Xhat is almost exactly ±1 and dX almost 0: then absolute error
        assert rel_error(got, num) < 1e-6 or np.max(np.abs(got - num)) < 1e-8, (wrt, rel_error(got, num))


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), training=st.booleans())
def test_loops_and_fast_version_agree(shape, seed, training):
    X, gamma, beta, rm, rv, dY = arrays(seed, shape)
    kw = {"training": training, "running_mean": rm, "running_var": rv, "momentum": 0.3, "eps": 1e-4}
    Y, c = cnnlib.batchnorm2d_forward(X, gamma, beta, **kw)
    Yn, cn = cnnlib.batchnorm2d_forward_naive(X, gamma, beta, **kw)
    np.testing.assert_allclose(Y, Yn, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(c.running_mean, cn.running_mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.running_var, cn.running_var, rtol=1e-12)
    for a, b in zip(cnnlib.batchnorm2d_backward(dY, c), cnnlib.batchnorm2d_backward_naive(dY, cn), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    # each backward reads the other's cache too
    for a, b in zip(cnnlib.batchnorm2d_backward(dY, cn), cnnlib.batchnorm2d_backward_naive(dY, c), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@IMPLS
def test_an_all_ones_upstream_gradient_hides_the_mean_and_variance_paths(impl):
    """sum(Xhat) = 0 for any X, so with dY = 1 and gamma = 1 the true dX is 0 -- and so is a
    backward pass that forgets the paths through mu and var: only a random dY tells them apart."""
    forward, backward = impl
    X, _, beta, _, _, dY = arrays(3, (2, 2, 3, 3))
    gamma = np.ones(2)
    Y, cache = forward(X, gamma, beta)
    dX, _, _ = backward(np.ones_like(Y), cache)
    np.testing.assert_allclose(dX, 0, atol=1e-12)
    dX_rand, _, _ = backward(dY, cache)
    wrong = dY / np.sqrt(X.var(axis=(0, 2, 3)) + 1e-5)[None, :, None, None]  # the "Xhat path only" answer
    assert rel_error(dX_rand, wrong) > 0.1


@IMPLS
def test_float32_is_kept(impl):
    forward, backward = impl
    X, gamma, beta, *_, dY = arrays(4, (2, 2, 2, 2))
    Y, cache = forward(X.astype(np.float32), gamma.astype(np.float32), beta.astype(np.float32))
    assert Y.dtype == np.float32
    dX, dgamma, dbeta = backward(dY.astype(np.float32), cache)
    assert dX.dtype == dgamma.dtype == dbeta.dtype == np.float32
    np.testing.assert_allclose(Y, reference(X, gamma, beta), rtol=1e-4, atol=1e-4)


@IMPLS
def test_inputs_are_never_modified_and_the_cache_is_private(impl):
    forward, backward = impl
    X, gamma, beta, rm, rv, dY = arrays(5, (2, 3, 2, 2))
    copies = [a.copy() for a in (X, gamma, beta, rm, rv, dY)]
    Y, cache = forward(X, gamma, beta, running_mean=rm, running_var=rv)
    grads = backward(dY, cache)
    for a, b in zip((X, gamma, beta, rm, rv, dY), copies, strict=True):
        assert np.array_equal(a, b)
    X += 1.0
    gamma *= 2.0
    np.testing.assert_array_equal(backward(dY, cache)[0], grads[0])
    assert not cache.Xc.flags.writeable and not cache.gamma.flags.writeable


# --------------------------------------------------------------------------- validation


@IMPLS
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"X": np.ones((2, 3, 4))}, ValueError, "X must be 4-D"),
        ({"X": np.ones((0, 2, 2, 2))}, ValueError, "must not be empty"),
        ({"gamma": np.ones(3)}, ValueError, r"gamma must have shape \(2,\)"),
        ({"beta": np.ones((2, 1))}, ValueError, r"beta must have shape \(2,\)"),
        ({"eps": 0.0}, ValueError, "eps must be a finite number"),
        ({"eps": True}, ValueError, "eps must be"),
        ({"momentum": 1.5}, ValueError, r"momentum must be a finite number in \[0, 1\]"),
        ({"training": "yes"}, TypeError, "training must be True or False"),
        ({"running_mean": np.zeros(2)}, ValueError, "give both running_mean and running_var"),
        ({"training": False}, ValueError, "evaluation mode .* got neither"),
        ({"running_mean": np.zeros(3), "running_var": np.ones(3)}, ValueError, "running_mean must have shape"),
        ({"running_mean": np.zeros(2), "running_var": -np.ones(2)}, ValueError, "running_var must be non-negative"),
        ({"X": np.ones((1, 2, 1, 1))}, ValueError, "more than one value per channel"),
        ({"X": np.full((2, 2, 2, 2), np.nan)}, ValueError, "X must be finite"),
        ({"X": np.ones((2, 2, 2, 2), dtype=complex)}, TypeError, "X must be real"),
    ],
)
def test_bad_input_gets_a_clear_error(impl, kwargs, error, match):
    forward, _ = impl
    args = {"X": np.arange(16.0).reshape(2, 2, 2, 2), "gamma": np.ones(2), "beta": np.zeros(2)}
    args.update(kwargs)
    X, gamma, beta = args.pop("X"), args.pop("gamma"), args.pop("beta")
    with pytest.raises(error, match=match) as info:
        forward(X, gamma, beta, **args)
    assert str(info.value).startswith(forward.__name__ + ":")


@IMPLS
def test_backward_checks_cache_and_upstream(impl):
    forward, backward = impl
    Y, cache = forward(np.arange(16.0).reshape(2, 2, 2, 2), np.ones(2), np.zeros(2))
    with pytest.raises(TypeError, match=f"^{backward.__name__}: cache must be"):
        backward(Y, (1, 2))
    with pytest.raises(ValueError, match=rf"^{backward.__name__}: dY must have shape \(2, 2, 2, 2\)"):
        backward(np.ones((2, 2, 2)), cache)
    assert isinstance(cache, BatchNormCache) and cache.out_shape == (2, 2, 2, 2)

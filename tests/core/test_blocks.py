"""Tests for the layers of deeper networks (cnnlib.blocks), the initialisers (cnnlib.init), Adam
(cnnlib.optim) and SGD's weight decay."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib import (
    SGD,
    Adam,
    BatchNorm2D,
    Conv2D,
    Dense,
    Flatten,
    ReLU,
    Residual,
    Sequential,
    Tanh,
    set_training,
)


def linear_loss(G):
    """L = sum(s * G): a loss whose upstream gradient is the random array G."""

    def loss(s, y=None):
        return float(np.sum(s * G)), G

    return loss


# --------------------------------------------------------------------------- BatchNorm2D


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "naive"])
def test_batchnorm_layer_trains_its_statistics_and_evaluates_with_them(fast):
    rng = np.random.default_rng(0)
    bn = BatchNorm2D(3, momentum=0.2, fast=fast)
    assert np.array_equal(bn.gamma, np.ones(3)) and np.array_equal(bn.beta, np.zeros(3))
    X = rng.standard_normal((4, 3, 2, 2)) * 2 + 5
    Y = bn.forward(X)
    m = 4 * 2 * 2
    np.testing.assert_allclose(bn.running_mean, 0.2 * X.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.8 + 0.2 * X.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-12)
    np.testing.assert_allclose(Y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    dY = rng.standard_normal(Y.shape)
    dX = bn.backward(dY)
    ref = cnnlib.batchnorm2d_backward(dY, cnnlib.batchnorm2d_forward(X, np.ones(3), np.zeros(3))[1])
    np.testing.assert_allclose(dX, ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.gradients()["gamma"], ref[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.gradients()["beta"], ref[2], rtol=1e-10)
    assert set(bn.parameters()) == {"gamma", "beta"}
    set_training(bn, False)
    assert repr(bn) == "BatchNorm2D(3, eval)"
    before = bn.running_mean.copy()
    Y_eval = bn.forward(X[:1])
    assert np.array_equal(bn.running_mean, before)  # evaluation leaves the statistics alone
    expected = (X[:1] - before[None, :, None, None]) / np.sqrt(bn.running_var + 1e-5)[None, :, None, None]
    np.testing.assert_allclose(Y_eval, expected, rtol=1e-12)
    np.testing.assert_allclose(
        bn.backward(np.ones_like(Y_eval)),
        1 / np.sqrt(bn.running_var + 1e-5)[None, :, None, None] * np.ones_like(Y_eval),
        rtol=1e-12,
    )  # noqa: E501


def test_batchnorm_layer_checks_its_arguments_and_shapes():
    with pytest.raises(TypeError, match="^BatchNorm2D: num_channels must be a positive int"):
        BatchNorm2D(2.0)
    with pytest.raises(ValueError, match="^BatchNorm2D: eps must be"):
        BatchNorm2D(2, eps=-1)
    with pytest.raises(ValueError, match="^BatchNorm2D: momentum must be"):
        BatchNorm2D(2, momentum=2)
    with pytest.raises(RuntimeError, match="^BatchNorm2D.backward: no forward pass"):
        BatchNorm2D(2).backward(np.ones((1, 2, 2, 2)))
    bn = BatchNorm2D(2)
    assert bn.output_shape((5, 2, 3, 3)) == (5, 2, 3, 3)
    with pytest.raises(ValueError, match=r"^BatchNorm2D.output_shape: .* expects \(N, 2, H, W\)"):
        bn.output_shape((5, 3, 3, 3))
    with pytest.raises(ValueError, match="^batchnorm2d_forward: gamma must have shape"):
        bn.forward(np.ones((2, 3, 2, 2)))
    assert BatchNorm2D(2, dtype=np.float32).forward(np.ones((2, 2, 2, 2), np.float32)).dtype == np.float32


def test_set_training_reaches_every_batchnorm_and_checks_its_arguments():
    inner = BatchNorm2D(2)
    model = Sequential(Conv2D(1, 2, 1, seed=0), BatchNorm2D(2), Residual(Sequential(inner, ReLU()), BatchNorm2D(2)))
    assert set_training(model, False) is model
    bns = [model[1], inner, model[2].shortcut]
    assert not any(b.training for b in bns)
    set_training(model)
    assert all(b.training for b in bns)
    with pytest.raises(TypeError, match="^set_training: training must be True or False"):
        set_training(model, 1)
    with pytest.raises(TypeError, match="^set_training: model must be a cnnlib layer"):
        set_training([model[1]], True)


# --------------------------------------------------------------------------- Residual


def test_identity_residual_carries_the_upstream_gradient_unchanged():
    rng = np.random.default_rng(1)
    block = Sequential(Conv2D(2, 2, 3, padding=1, seed=0), Tanh(), Conv2D(2, 2, 3, padding=1, seed=1))
    res = Residual(block)
    X = rng.standard_normal((2, 2, 4, 4))
    Y = res.forward(X)
    np.testing.assert_allclose(Y, block.forward(X) + X, rtol=1e-13)
    dY = rng.standard_normal(Y.shape)
    dX = res.backward(dY)
    block.forward(X)
    np.testing.assert_allclose(dX, block.backward(dY) + dY, rtol=1e-12, atol=1e-14)
    assert set(res.parameters()) == {"block.0.W", "block.0.b", "block.2.W", "block.2.b"}
    assert res.output_shape((7, 2, 4, 4)) == (7, 2, 4, 4)
    res.zero_grad()
    assert not any(g.any() for g in res.gradients().values())


@pytest.mark.parametrize("projection", [False, True], ids=["identity", "projection"])
@pytest.mark.parametrize("bn_fast", [True, False], ids=["bn-fast", "bn-naive"])
def test_residual_network_gradients_match_finite_differences(projection, bn_fast):
    rng = np.random.default_rng(2)
    F = 3 if projection else 2
    S = 2 if projection else 1
    block = Sequential(
        Conv2D(2, F, 3, padding=1, stride=S, seed=3),
        BatchNorm2D(F, fast=bn_fast),
        Tanh(),
        Conv2D(F, F, 3, padding=1, seed=4),
    )
    short = Conv2D(2, F, 1, stride=S, seed=5) if projection else None
    model = Sequential(Residual(block, short), Tanh(), Flatten(), Dense(F * (2 if projection else 4) ** 2, 3, seed=6))
    model[0].block[1].gamma[:] = rng.uniform(0.5, 2, F)
    model[0].block[1].beta[:] = rng.standard_normal(F)
    X = rng.standard_normal((3, 2, 4, 4))
    G = rng.standard_normal((3, 3))
    report = cnnlib.check_network(model, X, None, linear_loss(G), tol=1e-6)
    for r in report.results:
        if r.label == "0.block.0.b":  # batch norm subtracts the mean: a bias before it has gradient 0
            assert np.abs(r.analytic).max() < 1e-12 and r.max_abs_error < 1e-8
        else:
            assert r.passed, report
    labels = {r.label for r in report.results}
    assert ("0.shortcut.W" in labels) == projection
    assert len(labels) == 9 + 2 * projection


def test_residual_checks_its_parts_and_shapes():
    with pytest.raises(TypeError, match="^Residual: block is the class Conv2D"):
        Residual(Conv2D)
    with pytest.raises(TypeError, match="^Residual: shortcut must be a cnnlib layer"):
        Residual(ReLU(), shortcut="conv")
    res = Residual(Conv2D(1, 2, 3, padding=1, seed=0))
    with pytest.raises(ValueError, match=r"^Residual.forward: .* pass shortcut=Conv2D\(C, F, 1, stride=S\)"):
        res.forward(np.ones((1, 1, 4, 4)))
    bad = Residual(Conv2D(1, 2, 3, padding=1, seed=0), shortcut=Conv2D(1, 2, 1, stride=2, seed=1))
    with pytest.raises(ValueError, match="^Residual.forward: the block gives shape"):
        bad.forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="^Residual.output_shape: the block gives"):
        bad.output_shape((1, 1, 4, 4))
    bad.shortcut.db[...] = 1.0
    bad.zero_grad()  # reaches the shortcut's gradients too
    assert set(bad.gradients()) == {"block.W", "block.b", "shortcut.W", "shortcut.b"}
    assert not any(g.any() for g in bad.gradients().values())
    with pytest.raises(RuntimeError, match="^Residual.backward: no forward pass"):
        Residual(ReLU()).backward(np.ones((1, 1, 2, 2)))
    assert repr(Residual(Sequential(ReLU(), Tanh()))) == "Residual(2 layers)"
    assert (
        repr(bad) == "Residual(Conv2D(1, 2, kernel_size=3, padding=1), shortcut=Conv2D(1, 2, kernel_size=1, stride=2))"
    )
    assert repr(Residual(ReLU(), Sequential(Tanh()))) == "Residual(ReLU(), shortcut=1 layer)"
    assert repr(Residual(ReLU())) == "Residual(ReLU())"


# --------------------------------------------------------------------------- initialisers


@pytest.mark.parametrize(
    ("shape", "fans"), [((8, 3, 3, 3), (27, 72)), ((10, 256), (256, 10)), ((4, 2, 1, 5), (10, 20))]
)
def test_fan_in_and_fan_out(shape, fans):
    assert cnnlib.fan_in_out(shape) == fans


@pytest.mark.parametrize(
    ("init", "variance"),
    [
        (cnnlib.he_normal, lambda fi, fo: 2 / fi),
        (cnnlib.he_uniform, lambda fi, fo: 2 / fi),
        (cnnlib.glorot_normal, lambda fi, fo: 2 / (fi + fo)),
        (cnnlib.glorot_uniform, lambda fi, fo: 2 / (fi + fo)),
    ],
)
def test_initialisers_have_the_variance_they_are_named_for(init, variance):
    shape = (64, 32, 3, 3)
    W = init(shape, seed=0)
    assert W.shape == shape and W.dtype == np.float64
    fi, fo = cnnlib.fan_in_out(shape)
    assert abs(W.var() / variance(fi, fo) - 1) < 0.03  # 18,432 draws: the sample variance is within 3 %
    assert abs(W.mean()) < 0.01
    assert np.array_equal(W, init(shape, seed=0)) and not np.array_equal(W, init(shape, seed=1))
    if "uniform" in init.__name__:
        assert np.abs(W).max() <= math.sqrt(3 * variance(fi, fo))
    assert init((3, 4), seed=np.random.default_rng(2), dtype=np.float32).dtype == np.float32


def test_he_fan_out_mode_and_the_layers_own_draw():
    W = cnnlib.he_normal((64, 8, 3, 3), seed=3, mode="fan_out")
    assert abs(W.var() / (2 / (64 * 9)) - 1) < 0.05
    assert cnnlib.he_uniform((64, 8, 3, 3), seed=3, mode="fan_out").max() <= math.sqrt(6 / (64 * 9))
    np.testing.assert_array_equal(cnnlib.he_normal((5, 2, 3, 3), seed=7), Conv2D(2, 5, 3, seed=7).W)
    np.testing.assert_array_equal(cnnlib.he_normal((4, 6), seed=8), Dense(6, 4, seed=8).U)


@pytest.mark.parametrize("init", [cnnlib.he_normal, cnnlib.he_uniform, cnnlib.glorot_normal, cnnlib.glorot_uniform])
def test_initialisers_check_their_arguments(init):
    name = init.__name__
    with pytest.raises(ValueError, match=f"^{name}: shape must be"):
        init((3,))
    with pytest.raises(ValueError, match=f"^{name}: shape must be"):
        init((3, 0))
    with pytest.raises(TypeError, match=f"^{name}: shape must be a tuple of ints"):
        init((3, 2.5))
    with pytest.raises(TypeError, match=f"^{name}: seed must be"):
        init((3, 2), seed=-1)
    with pytest.raises(TypeError, match=f"^{name}: dtype must be"):
        init((3, 2), dtype=np.int64)
    assert init(np.array([2, 3])).shape == (2, 3)


def test_he_mode_is_checked():
    with pytest.raises(ValueError, match="^he_normal: mode must be 'fan_in' or 'fan_out'"):
        cnnlib.he_normal((2, 2), mode="fan_avg")
    with pytest.raises(TypeError, match="^fan_in_out: shape must be a tuple of ints"):
        cnnlib.fan_in_out(5)


# --------------------------------------------------------------------------- Adam and SGD's weight decay


def adam_reference(theta, grads, lr, b1, b2, eps, wd):
    """Adam written from Kingma & Ba's algorithm, with L2 weight decay added to the gradient."""
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    out = []
    for t, g in enumerate(grads, start=1):
        g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(theta)
    return out


class Holder(cnnlib.Layer):
    """One parameter "w" whose gradient the test sets."""

    def __init__(self, w):
        self.w = w
        self.dw = np.zeros_like(w)

    def parameters(self):
        return {"w": self.w}

    def gradients(self):
        return {"w": self.dw}


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    lr=st.floats(1e-4, 0.5),
    b1=st.floats(0.0, 0.99),
    b2=st.floats(0.0, 0.9999),
    wd=st.sampled_from([0.0, 0.01, 0.3]),
)
def test_adam_follows_the_algorithm(seed, lr, b1, b2, wd):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((2, 3))
    grads = [rng.standard_normal((2, 3)) * 10.0**k for k in (-3, 0, 2, 0)]
    holder = Holder(w.copy())
    opt = Adam(holder, lr, betas=(b1, b2), eps=1e-8, weight_decay=wd)
    for g, expected in zip(grads, adam_reference(w, grads, lr, b1, b2, 1e-8, wd), strict=True):
        holder.dw[...] = g
        opt.step()
        np.testing.assert_allclose(holder.w, expected, rtol=1e-10, atol=1e-12)
    assert opt.t == 4


def test_adam_first_step_moves_every_weight_by_lr():
    holder = Holder(np.zeros(4))
    holder.dw[...] = [1e-3, -3.0, 250.0, -1e3]  # |g| >> eps
    Adam(holder, 0.01).step()
    np.testing.assert_allclose(holder.w, -0.01 * np.sign(holder.dw), rtol=1e-4)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_weight_decay_adds_the_l2_gradient(momentum):
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal(5)
    holder = Holder(w0.copy())
    opt = SGD(holder, 0.1, momentum=momentum, weight_decay=0.05)
    theta, v = w0.copy(), np.zeros(5)
    for _ in range(3):
        g = rng.standard_normal(5)
        holder.dw[...] = g
        opt.step()
        v = momentum * v - 0.1 * (g + 0.05 * theta)
        theta = theta + v
        np.testing.assert_allclose(holder.w, theta, rtol=1e-13)
    assert repr(opt) == f"SGD(lr=0.1, momentum={momentum:g}, weight_decay=0.05)"
    assert repr(SGD(holder, 0.1)) == "SGD(lr=0.1, momentum=0)"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0}, "lr must be a positive finite number"),
        ({"lr": True}, "lr must be"),
        ({"betas": (0.9,)}, r"betas must be a pair of numbers in \[0, 1\)"),
        ({"betas": (0.9, 1.0)}, "betas must be"),
        ({"eps": 0.0}, "eps must be a positive"),
        ({"weight_decay": -0.1}, "weight_decay must be a non-negative"),
        ({"weight_decay": math.nan}, "weight_decay must be"),
    ],
)
def test_adam_checks_its_arguments(kwargs, match):
    args = {"lr": 0.01, **kwargs}
    with pytest.raises(ValueError, match=f"^Adam: {match}"):
        Adam(Holder(np.zeros(2)), **args)


def test_optimizers_check_the_model_and_the_gradient_shapes():
    with pytest.raises(TypeError, match="^Adam: model must have parameters"):
        Adam([np.zeros(2)], 0.1)
    with pytest.raises(ValueError, match="^SGD: weight_decay must be a non-negative"):
        SGD(Holder(np.zeros(2)), 0.1, weight_decay=-1)
    holder = Holder(np.zeros(2))
    holder.dw = np.zeros(3)
    opt = Adam(holder, 0.1)
    with pytest.raises(ValueError, match="^Adam.step: gradient of 'w' has shape"):
        opt.step()
    assert opt.t == 0 and np.array_equal(holder.w, np.zeros(2))
    assert (
        repr(Adam(holder, 0.1, weight_decay=0.01)) == "Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)"
    )
    assert repr(Adam(holder, 0.1)) == "Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-08)"


def test_adam_zero_grad_and_a_network():
    model = Sequential(Conv2D(1, 2, 3, seed=0), BatchNorm2D(2), ReLU(), Flatten(), Dense(2 * 4, 3, seed=1))
    X = np.random.default_rng(5).standard_normal((4, 1, 4, 4))
    y = np.array([0, 1, 2, 1])
    opt = Adam(model, 0.01)
    losses = [cnnlib.train_step(model, opt, X, y, cnnlib.softmax_cross_entropy) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    opt.zero_grad()
    assert not any(g.any() for g in model.gradients().values())
    _ = numerical_gradient, rel_error

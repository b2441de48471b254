"""Tests for cnnlib.layers and whole networks.

* a small Sequential CNN (conv -> ReLU -> max-pool -> flatten -> dense, N = 2, C = 2):
  every parameter gradient and dL/dX agree with central differences to rel err < 1e-7,
  at a point whose ReLU inputs and max-pool winners are verified to be far from any kink;
  smooth variants (tanh, average pooling, stride/padding/dilation) and seed 002's
  sigmoid network too;
* a deliberately broken layer makes the network check fail;
* a handful of samples is overfitted to ~zero loss by SGD (with and without momentum);
* seed 002's network has exactly 15 trainable parameters; repr and summary show shapes;
* layers agree with the functional API, keep float32, initialise reproducibly;
* bad constructor arguments give errors that start with the class name.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

import cnnlib
from cnnlib import (
    SGD,
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    binary_cross_entropy,
    check_network,
    softmax_cross_entropy,
    train_step,
)

# --------------------------------------------------------------------------- helpers


def small_cnn(seed: int) -> Sequential:
    """conv(2 -> 3, 3x3, padding 1) -> ReLU -> 2x2 max-pool -> flatten -> dense(27 -> 4), nonzero biases."""
    rng = np.random.default_rng(seed + 1000)
    model = Sequential(
        Conv2D(2, 3, 3, padding=1, seed=seed), ReLU(), MaxPool2D(2), Flatten(), Dense(27, 4, seed=seed + 1)
    )
    model[0].b[...] = 0.1 * rng.standard_normal(3)
    model[4].c[...] = 0.1 * rng.standard_normal(4)
    return model


def kink_margin(Z: np.ndarray, size: int = 2) -> float:
    """Distance from the nearest kink of ReLU followed by non-overlapping max-pooling.

    min over |Z| (ReLU) and, in each pooling window whose maximum is positive, the gap
    between the largest and second-largest activation (the winner). Windows whose entries
    are all dead (A = 0) have no kink as long as every Z stays negative.
    """
    A = np.maximum(Z, 0)
    N, C, H, W = A.shape
    Ho, Wo = H // size, W // size
    win = A[:, :, : Ho * size, : Wo * size].reshape(N, C, Ho, size, Wo, size).transpose(0, 1, 2, 4, 3, 5)
    s = np.sort(win.reshape(N, C, Ho, Wo, size * size), axis=-1)
    live = s[..., -1] > 0
    gaps = (s[..., -1] - s[..., -2])[live]
    return float(min(np.min(np.abs(Z)), np.min(gaps, initial=np.inf)))


# --------------------------------------------------------------------------- full network gradient


@pytest.mark.parametrize("seed", [1, 4, 16])
def test_small_cnn_gradient_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    model = small_cnn(seed)
    X = rng.standard_normal((2, 2, 6, 6))  # N = 2, C = 2
    y = np.array([1, 3])
    # the finite differences move Z by at most h * (sum of |inputs| in a window) ~ 1e-5;
    # stay 100x further from every ReLU / max-pool kink than that
    assert kink_margin(model[0].forward(X)) > 1e-3
    report = check_network(model, X, y, softmax_cross_entropy)
    assert [r.label for r in report.results] == ["0.W", "0.b", "4.U", "4.c", "X"]
    assert report.passed, report
    assert all(r.rel_error < 1e-7 for r in report.results)
    # the check really compared something: gradients are nonzero and the right shapes
    for r in report.results:
        assert np.abs(r.analytic).max() > 1e-3 and r.analytic.shape == r.numerical.shape


def test_smooth_variant_with_stride_padding_dilation():
    rng = np.random.default_rng(7)
    model = Sequential(
        Conv2D(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), seed=7),
        Tanh(),
        AvgPool2D(2, stride=1),
        Flatten(),
        Dense(3 * 3 * 5, 5, seed=8),
        Sigmoid(),
        Dense(5, 3, seed=9),
    )
    X = rng.standard_normal((2, 2, 7, 6))
    assert model.output_shape(X.shape) == (2, 3)
    y = np.array([2, 0])
    check_network(model, X, y, softmax_cross_entropy).assert_ok()


def test_seed002_network_gradient_with_sigmoid_and_binary_cross_entropy():
    rng = np.random.default_rng(2)
    model = Sequential(Conv2D(1, 1, 3, seed=20), ReLU(), MaxPool2D(2), Flatten(), Dense(4, 1, seed=21), Sigmoid())
    model[0].b[...] = 0.05
    X = rng.standard_normal((2, 1, 6, 6))
    y = np.array([[1.0], [0.0]])
    assert kink_margin(model[0].forward(X)) > 1e-3
    report = check_network(model, X, y, binary_cross_entropy)
    assert report.passed, report


def test_network_check_catches_a_broken_layer():
    class LeakyReLUBackward(ReLU):
        """ReLU forward, but the backward forgets the mask and passes every gradient through."""

        def backward(self, dA):
            return np.array(dA, copy=True)

    rng = np.random.default_rng(1)
    model = small_cnn(1)
    model.layers[1] = LeakyReLUBackward()
    X = rng.standard_normal((2, 2, 6, 6))
    report = check_network(model, X, np.array([1, 3]), softmax_cross_entropy)
    assert not report.passed
    failed = {r.label for r in report.results if not r.passed}
    assert {"0.W", "0.b", "X"} <= failed  # everything below the broken layer
    assert report["4.U"].passed and report["4.c"].passed  # everything above it is still right


def test_network_check_leaves_the_model_unchanged():
    rng = np.random.default_rng(3)
    model = small_cnn(3)
    X = rng.standard_normal((2, 2, 6, 6))
    X_before = X.copy()
    y = np.array([0, 2])
    before = {k: v.copy() for k, v in model.parameters().items()}
    arrays = dict(model.parameters())
    check_network(model, X, y, softmax_cross_entropy)
    np.testing.assert_array_equal(X, X_before)
    for k, v in model.parameters().items():
        assert v is arrays[k]  # same array objects: an optimizer holding them still works
        np.testing.assert_array_equal(v, before[k])  # bit for bit
    # gradients are those of the unperturbed point
    fresh = small_cnn(3)
    _, ds = softmax_cross_entropy(fresh.forward(X), y)
    fresh.backward(ds)
    for k, g in fresh.gradients().items():
        np.testing.assert_array_equal(model.gradients()[k], g)


# --------------------------------------------------------------------------- training


def _tiny_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 1, 8, 8))  # 8 random 1x8x8 images
    y = np.arange(8) % 4  # 4 classes
    return X, y


def _fit(momentum: float, lr: float, max_steps: int) -> tuple[list[float], Sequential]:
    X, y = _tiny_problem()
    model = Sequential(Conv2D(1, 4, 3, seed=1), ReLU(), MaxPool2D(2), Flatten(), Dense(36, 4, seed=2))
    opt = SGD(model, lr, momentum=momentum)
    losses = []
    for _ in range(max_steps):
        losses.append(train_step(model, opt, X, y, softmax_cross_entropy))
        if losses[-1] < 1e-3:
            break
    return losses, model


@pytest.mark.parametrize(("momentum", "lr", "max_steps"), [(0.9, 0.1, 200), (0.0, 0.5, 1000)])
def test_overfits_a_handful_of_samples(momentum, lr, max_steps):
    losses, model = _fit(momentum, lr, max_steps)
    assert losses[0] > 1.0  # started far from the answer
    assert losses[-1] < 1e-3, f"loss still {losses[-1]:.3g} after {len(losses)} steps"
    X, y = _tiny_problem()
    assert np.array_equal(model.forward(X).argmax(axis=1), y)


def test_momentum_reaches_zero_loss_in_fewer_steps():
    with_momentum, _ = _fit(0.9, 0.1, 200)
    plain, _ = _fit(0.0, 0.1, 2000)
    assert with_momentum[-1] < 1e-3 and plain[-1] < 1e-3
    assert len(with_momentum) < len(plain) / 3


def test_sgd_step_follows_the_formula():
    layer = Dense(3, 2, seed=0)
    U0, c0 = layer.U.copy(), layer.c.copy()
    g1U, g1c = np.arange(6.0).reshape(2, 3), np.array([1.0, -1.0])
    g2U, g2c = -0.5 * np.ones((2, 3)), np.array([0.25, 2.0])
    opt = SGD(layer, 0.1, momentum=0.5)
    layer.dU, layer.dc = g1U, g1c
    opt.step()
    np.testing.assert_allclose(layer.U, U0 - 0.1 * g1U)
    layer.dU, layer.dc = g2U, g2c
    opt.step()
    v2 = 0.5 * (-0.1 * g1U) - 0.1 * g2U
    np.testing.assert_allclose(layer.U, U0 - 0.1 * g1U + v2)
    np.testing.assert_allclose(layer.c, c0 - 0.1 * g1c + 0.5 * (-0.1 * g1c) - 0.1 * g2c)


def test_plain_sgd_step_and_zero_grad():
    model = small_cnn(1)
    X = np.random.default_rng(4).standard_normal((2, 2, 6, 6))
    _, ds = softmax_cross_entropy(model.forward(X), np.array([0, 1]))
    model.backward(ds)
    before = {k: v.copy() for k, v in model.parameters().items()}
    grads = {k: v.copy() for k, v in model.gradients().items()}
    SGD(model, 0.01).step()
    for k, p in model.parameters().items():
        np.testing.assert_allclose(p, before[k] - 0.01 * grads[k])
    model.zero_grad()
    assert all(not np.any(g) for g in model.gradients().values())


# --------------------------------------------------------------------------- counting and describing


def seed002_network(seed=0) -> Sequential:
    """Seed 002: 6x6 image -> conv 3x3 -> ReLU -> 2x2 max-pool -> flatten (4) -> one neuron -> sigmoid."""
    return Sequential(Conv2D(1, 1, 3, seed=seed), ReLU(), MaxPool2D(2), Flatten(), Dense(4, 1, seed=seed), Sigmoid())


def test_seed002_network_has_exactly_15_parameters():
    model = seed002_network()
    assert model.num_parameters() == 15  # 9 (W1) + 1 (B1) + 4 (W2) + 1 (B2)
    shapes = {k: v.shape for k, v in model.parameters().items()}
    assert shapes == {"0.W": (1, 1, 3, 3), "0.b": (1,), "4.U": (1, 4), "4.c": (1,)}
    assert {k: v.shape for k, v in model.gradients().items()} == shapes
    assert [layer.num_parameters() for layer in model] == [10, 0, 0, 0, 5, 0]


def test_repr_shows_layers_shapes_and_count():
    text = repr(seed002_network())
    lines = text.splitlines()
    assert lines[0] == "Sequential(" and len(lines) == 8
    assert (
        "(0): Conv2D(1, 1, kernel_size=3)" in lines[1] and "W (1, 1, 3, 3)" in lines[1] and "10 parameters" in lines[1]
    )
    assert "(4): Dense(4, 1)" in lines[5] and "U (1, 4)" in lines[5] and "5 parameters" in lines[5]
    assert lines[2].strip() == "(1): ReLU()" and lines[3].strip() == "(2): MaxPool2D(size=2)"
    assert "15 trainable parameters" in lines[-1]
    assert repr(Conv2D(2, 3, (3, 1), stride=2, padding=(1, 0), dilation=2, fast=False)) == (
        "Conv2D(2, 3, kernel_size=(3, 1), stride=2, padding=(1, 0), dilation=2, fast=False)"
    )
    assert repr(MaxPool2D(3, stride=1, padding=1)) == "MaxPool2D(size=3, stride=1, padding=1)"


def test_summary_prints_every_stage():
    buf = io.StringIO()
    seed002_network().summary((1, 1, 6, 6), file=buf)
    text = buf.getvalue()
    shapes = ["(1, 1, 6, 6)", "(1, 1, 4, 4)", "(1, 1, 4, 4)", "(1, 1, 2, 2)", "(1, 4)", "(1, 1)", "(1, 1)"]
    rows = [line for line in text.splitlines() if line.startswith(("input", "("))]
    assert len(rows) == 7
    for row, shape in zip(rows, shapes):
        assert shape in row, (row, shape)
    assert rows[1].split()[-1] == "10" and rows[5].split()[-1] == "5"
    assert "total trainable parameters: 15" in text


def test_summary_prints_to_stdout_and_matches_forward(capsys):
    model = small_cnn(1)
    model.summary((2, 2, 6, 6))
    assert "(2, 3, 3, 3)" in capsys.readouterr().out
    X = np.random.default_rng(0).standard_normal((2, 2, 6, 6))
    out = X
    for layer in model:
        out = layer.forward(out)
    assert model.output_shape(X.shape) == out.shape


def test_summary_and_forward_name_the_layer_that_does_not_fit():
    model = Sequential(Conv2D(1, 2, 3, seed=0), Flatten(), Dense(10, 2, seed=0))
    with pytest.raises(ValueError, match=r"^Sequential.summary: layer 2 Dense\(10, 2\)"):
        model.summary((1, 1, 5, 5), file=io.StringIO())
    with pytest.raises(ValueError, match=r"^Sequential.forward: layer 2 Dense\(10, 2\) got input of shape \(1, 18\)"):
        model.forward(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"^Sequential.forward: layer 0 Conv2D"):
        model.forward(np.zeros((1, 3, 5, 5)))  # 3 channels, conv expects 1
    with pytest.raises(ValueError, match=r"^Sequential.summary: layer 0 .*expects 1 input channels"):
        model.summary((1, 3, 5, 5), file=io.StringIO())


# --------------------------------------------------------------------------- layers vs functional API


def test_layers_match_the_functional_api():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 2, 7, 7))
    dZ = rng.standard_normal((2, 3, 4, 3))
    for fast in (True, False):
        conv = Conv2D(2, 3, (2, 3), stride=2, padding=1, dilation=(1, 2), seed=3, fast=fast)
        conv.b[...] = rng.standard_normal(3)
        Z = conv.forward(X)
        Zr, cache = cnnlib.conv2d_forward(X, conv.W, conv.b, stride=2, padding=1, dilation=(1, 2))
        np.testing.assert_allclose(Z, Zr, rtol=0, atol=1e-12)
        dX = conv.backward(dZ)
        dXr, dWr, dbr = cnnlib.conv2d_backward(dZ, cache)
        np.testing.assert_allclose(dX, dXr, rtol=0, atol=1e-12)
        np.testing.assert_allclose(conv.dW, dWr, rtol=0, atol=1e-12)
        np.testing.assert_allclose(conv.db, dbr, rtol=0, atol=1e-12)

    A = rng.standard_normal((2, 3, 6, 6))
    dP = rng.standard_normal((2, 3, 2, 2))
    for layer, fwd, bwd in [
        (MaxPool2D(3), cnnlib.maxpool2d_forward, cnnlib.maxpool2d_backward),
        (AvgPool2D(3), cnnlib.avgpool2d_forward, cnnlib.avgpool2d_backward),
    ]:
        P, cache = fwd(A, size=3)
        np.testing.assert_array_equal(layer.forward(A), P)
        np.testing.assert_array_equal(layer.backward(dP), bwd(dP, cache))

    for layer, fwd, bwd in [
        (ReLU(), cnnlib.relu_forward, cnnlib.relu_backward),
        (Sigmoid(), cnnlib.sigmoid_forward, cnnlib.sigmoid_backward),
        (Tanh(), cnnlib.tanh_forward, cnnlib.tanh_backward),
    ]:
        out, cache = fwd(A)
        np.testing.assert_array_equal(layer.forward(A), out)
        np.testing.assert_array_equal(
            layer.backward(dP.repeat(3, 2).repeat(3, 3)), bwd(dP.repeat(3, 2).repeat(3, 3), cache)
        )

    dense = Dense(5, 2, seed=1)
    p = rng.standard_normal((4, 5))
    ds = rng.standard_normal((4, 2))
    s, cache = cnnlib.dense_forward(p, dense.U, dense.c)
    np.testing.assert_array_equal(dense.forward(p), s)
    dp, dU, dc = cnnlib.dense_backward(ds, cache)
    np.testing.assert_array_equal(dense.backward(ds), dp)
    np.testing.assert_array_equal(dense.dU, dU)
    np.testing.assert_array_equal(dense.dc, dc)


def test_layers_do_not_modify_their_inputs():
    rng = np.random.default_rng(6)
    model = small_cnn(1)
    X = rng.standard_normal((2, 2, 6, 6))
    X0 = X.copy()
    s = model.forward(X)
    ds = rng.standard_normal(s.shape)
    ds0 = ds.copy()
    model.backward(ds)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(ds, ds0)


def test_float32_model_stays_float32():
    model = Sequential(
        Conv2D(1, 2, 3, seed=0, dtype=np.float32), ReLU(), Flatten(), Dense(8, 3, seed=0, dtype="float32")
    )
    X = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    s = model.forward(X)
    assert s.dtype == np.float32
    _, ds = softmax_cross_entropy(s, np.array([0, 2]))
    assert model.backward(ds).dtype == np.float32
    assert all(v.dtype == np.float32 for v in model.parameters().values())
    assert all(v.dtype == np.float32 for v in model.gradients().values())
    SGD(model, 0.1, momentum=0.9).step()
    assert all(v.dtype == np.float32 for v in model.parameters().values())


def test_seeded_he_initialisation():
    a, b = Conv2D(3, 4, 3, seed=5), Conv2D(3, 4, 3, seed=5)
    np.testing.assert_array_equal(a.W, b.W)
    assert not np.array_equal(a.W, Conv2D(3, 4, 3, seed=6).W)
    assert not np.any(a.b)
    rng1, rng2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(Dense(4, 2, seed=rng1).U, Dense(4, 2, seed=rng2).U)
    big = Conv2D(16, 64, 3, seed=0)  # 9216 weights, fan_in 144
    assert big.W.std() == pytest.approx(math.sqrt(2 / 144), rel=0.05)
    assert abs(big.W.mean()) < 0.01
    dense = Dense(200, 100, seed=0)
    assert dense.U.std() == pytest.approx(math.sqrt(2 / 200), rel=0.05)


def test_backward_before_forward_is_a_clear_error():
    for layer in [Conv2D(1, 1, 2), Dense(2, 2), ReLU(), MaxPool2D(), Flatten()]:
        with pytest.raises(RuntimeError, match=rf"^{type(layer).__name__}.backward: no forward pass"):
            layer.backward(np.zeros((1, 1, 1, 1)))


def test_sequential_accepts_a_list_and_indexes():
    layers = [Conv2D(1, 1, 2, seed=0), ReLU()]
    model = Sequential(layers)
    assert len(model) == 2 and model[0] is layers[0] and list(model) == layers
    assert model(np.ones((1, 1, 3, 3))).shape == (1, 1, 2, 2)


# --------------------------------------------------------------------------- bad constructor arguments


@pytest.mark.parametrize(
    ("make", "exc", "prefix", "fragment"),
    [
        (lambda: Conv2D(0, 1, 3), ValueError, "Conv2D", "in_channels must be a positive int, got 0"),
        (lambda: Conv2D(1.5, 1, 3), TypeError, "Conv2D", "in_channels must be a positive int"),
        (lambda: Conv2D(1, -2, 3), ValueError, "Conv2D", "out_channels"),
        (lambda: Conv2D(1, 1, (3, 0)), ValueError, "Conv2D", "kernel_size"),
        (lambda: Conv2D(1, 1, 3, stride=0), ValueError, "Conv2D", "stride"),
        (lambda: Conv2D(1, 1, 3, padding=-1), ValueError, "Conv2D", "padding"),
        (lambda: Conv2D(1, 1, 3, dilation=(1, 2, 3)), TypeError, "Conv2D", "dilation"),
        (lambda: Conv2D(1, 1, 3, dtype=np.int64), TypeError, "Conv2D", "dtype must be float64 or float32, got int64"),
        (lambda: Conv2D(1, 1, 3, seed="abc"), TypeError, "Conv2D", "seed must be"),
        (lambda: Conv2D(1, 1, 3, seed=-1), TypeError, "Conv2D", "seed must be"),
        (lambda: Dense(0, 3), ValueError, "Dense", "in_features"),
        (lambda: Dense(3, True), TypeError, "Dense", "out_features"),
        (lambda: MaxPool2D(0), ValueError, "MaxPool2D", "size"),
        (lambda: MaxPool2D(2, stride=0), ValueError, "MaxPool2D", "stride"),
        (lambda: AvgPool2D(2, padding=2), ValueError, "AvgPool2D", "padding must be at most half"),
        (lambda: Sequential(), ValueError, "Sequential", "at least one layer"),
        (lambda: Sequential(ReLU), TypeError, "Sequential", "the class ReLU, not an instance"),
        (lambda: Sequential(ReLU(), np.zeros(3)), TypeError, "Sequential", "layer 1 must be a cnnlib layer"),
        (lambda: SGD(ReLU(), 0), ValueError, "SGD", "lr must be a positive finite number, got 0"),
        (lambda: SGD(ReLU(), float("nan")), ValueError, "SGD", "lr"),
        (lambda: SGD(ReLU(), 0.1, momentum=1.0), ValueError, "SGD", "momentum must be a number in [0, 1)"),
        (lambda: SGD([np.zeros(3)], 0.1), TypeError, "SGD", "model must have parameters() and gradients()"),
    ],
)
def test_bad_constructor_arguments(make, exc, prefix, fragment):
    with pytest.raises(exc) as info:
        make()
    msg = str(info.value)
    assert msg.startswith(prefix + ":") and fragment in msg, msg


def test_backward_with_a_wrong_upstream_shape_names_the_layer():
    model = small_cnn(1)
    model.forward(np.random.default_rng(0).standard_normal((2, 2, 6, 6)))
    with pytest.raises(ValueError, match=r"^Sequential.backward: layer 4 Dense\(27, 4\): dense_backward: ds"):
        model.backward(np.zeros((2, 5)))

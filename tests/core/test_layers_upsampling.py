"""Tests for the layer classes of notebook 12: ConvTranspose2D, GlobalAvgPool2D, Upsample2D, Conv2D(groups=)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error

import cnnlib


def check_layer_gradients(layer, X, rng):
    """The layer's input and parameter gradients against central differences, random upstream gradient."""
    out = layer.forward(X)
    dout = rng.standard_normal(out.shape)
    dX = layer.backward(dout)
    assert rel_error(dX, numerical_gradient(lambda X_: layer.forward(X_), X, dout)) < 1e-7
    for name, p in layer.parameters().items():

        def f(p_, name=name):
            saved = layer.parameters()[name].copy()
            layer.parameters()[name][...] = p_
            try:
                return layer.forward(X)
            finally:
                layer.parameters()[name][...] = saved

        assert rel_error(layer.gradients()[name], numerical_gradient(f, p, dout)) < 1e-7, name


def make_layers(fast):
    return [
        (cnnlib.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1, seed=0, fast=fast), (2, 2, 3, 3)),
        (cnnlib.Conv2D(4, 6, 3, padding=1, groups=2, seed=1, fast=fast), (2, 4, 4, 4)),
        (cnnlib.Conv2D(3, 3, 3, groups=3, seed=2, fast=fast), (1, 3, 4, 5)),
        (cnnlib.Upsample2D(2, "bilinear", fast=fast), (1, 2, 3, 2)),
        (cnnlib.Upsample2D((1, 3), fast=fast), (1, 2, 3, 2)),
        (cnnlib.GlobalAvgPool2D(fast=fast), (2, 3, 2, 4)),
    ]


def test_layers_match_finite_differences_and_output_shape():
    rng = np.random.default_rng(0)
    for layer, shape in make_layers(fast=True):
        X = rng.standard_normal(shape)
        assert layer.forward(X).shape == layer.output_shape(shape)
        check_layer_gradients(layer, X, rng)
        b = layer.parameters().get("b")
        if b is not None:  # biases start at zero
            assert not b.any()


def test_loop_layers_give_the_fast_layers_numbers():
    rng = np.random.default_rng(4)
    for (fast, shape), (loop, _) in zip(make_layers(True), make_layers(False), strict=True):
        X = rng.standard_normal(shape)
        np.testing.assert_allclose(loop.forward(X), fast.forward(X), rtol=1e-12, atol=1e-13)
        dout = rng.standard_normal(fast.output_shape(shape))
        np.testing.assert_allclose(loop.backward(dout), fast.backward(dout), rtol=1e-12, atol=1e-13)
        for name, g in fast.gradients().items():
            np.testing.assert_allclose(loop.gradients()[name], g, rtol=1e-12, atol=1e-13)


def test_layers_give_the_functions_numbers():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 2, 3, 3))
    layer = cnnlib.ConvTranspose2D(2, 1, (2, 3), stride=(2, 1), dilation=(1, 2), seed=3)
    Y, _ = cnnlib.conv_transpose2d_forward(X, layer.W, layer.b, stride=(2, 1), dilation=(1, 2))
    np.testing.assert_array_equal(layer.forward(X), Y)
    assert layer.W.shape == (2, 1, 2, 3)
    conv = cnnlib.Conv2D(2, 4, 3, groups=2, seed=0)
    assert conv.W.shape == (4, 1, 3, 3) and conv.num_parameters() == 4 * 9 + 4
    np.testing.assert_array_equal(conv.forward(X), cnnlib.conv2d_forward(X, conv.W, conv.b, groups=2)[0])


def test_he_initialisation_scales():
    big = cnnlib.Conv2D(64, 64, 3, groups=64, seed=0)  # depthwise: fan_in = 9
    assert abs(big.W.std() - np.sqrt(2 / 9)) < 0.05
    up = cnnlib.ConvTranspose2D(64, 64, 4, stride=2, seed=0)  # fan_in = 64*16/4 = 256
    assert abs(up.W.std() - np.sqrt(2 / 256)) < 0.002


def test_an_autoencoder_trains_and_summarises():
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, (8, 1, 8, 8))
    model = cnnlib.Sequential(
        cnnlib.Conv2D(1, 4, 3, stride=2, padding=1, seed=0),
        cnnlib.ReLU(),
        cnnlib.ConvTranspose2D(4, 4, 3, stride=2, padding=1, output_padding=1, seed=1),
        cnnlib.ReLU(),
        cnnlib.Upsample2D(1),
        cnnlib.Conv2D(4, 1, 3, padding=1, seed=2),
    )
    opt = cnnlib.SGD(model, lr=0.05, momentum=0.9)
    loss = lambda out, y: cnnlib.mse(out, y, reduction="mean")  # noqa: E731
    losses = [cnnlib.train_step(model, opt, X, X, loss) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    out = io.StringIO()
    model.summary((8, 1, 8, 8), file=out)
    assert "ConvTranspose2D(4, 4, kernel_size=3, stride=2, padding=1, output_padding=1)" in out.getvalue()
    assert "(8, 4, 8, 8)" in out.getvalue()


def test_reprs():
    assert repr(cnnlib.Conv2D(4, 8, 1, groups=4)) == "Conv2D(4, 8, kernel_size=1, groups=4)"
    assert repr(cnnlib.ConvTranspose2D(2, 1, 3, dilation=2, fast=False)) == (
        "ConvTranspose2D(2, 1, kernel_size=3, dilation=2, fast=False)"
    )
    assert repr(cnnlib.GlobalAvgPool2D()) == "GlobalAvgPool2D()"
    assert repr(cnnlib.GlobalAvgPool2D(fast=False)) == "GlobalAvgPool2D(fast=False)"
    assert repr(cnnlib.Upsample2D((2, 3), "bilinear", fast=False)) == (
        "Upsample2D(scale=(2, 3), mode='bilinear', fast=False)"
    )
    assert cnnlib.GlobalAvgPool2D().output_shape((5, 7, 3, 2)) == (5, 7)


@pytest.mark.parametrize(
    "make, error, fragment",
    [
        (lambda: cnnlib.Conv2D(4, 6, 3, groups=4), ValueError, "Conv2D: groups=4 must divide"),
        (lambda: cnnlib.Conv2D(4, 6, 3, groups=0), ValueError, "Conv2D: groups must be a positive int"),
        (lambda: cnnlib.ConvTranspose2D(1, 1, 3, output_padding=1), ValueError, "ConvTranspose2D: output_padding"),
        (lambda: cnnlib.ConvTranspose2D(1, 0, 3), ValueError, "ConvTranspose2D: out_channels"),
        (lambda: cnnlib.Upsample2D(0), ValueError, "Upsample2D: scale must be positive"),
        (lambda: cnnlib.Upsample2D(2, "linear"), ValueError, "Upsample2D: mode must be"),
        (lambda: cnnlib.ConvTranspose2D(2, 1, 3).output_shape((1, 3, 4, 4)), ValueError, "expects 2 input channels"),
        (lambda: cnnlib.ConvTranspose2D(1, 1, 1, padding=2).output_shape((1, 1, 2, 2)), ValueError, "crops"),
        (lambda: cnnlib.Conv2D(4, 4, 3, groups=2).output_shape((1, 2, 5, 5)), ValueError, "expects 4 input channels"),
        (lambda: cnnlib.GlobalAvgPool2D().backward(np.ones((1, 1))), RuntimeError, "no forward pass"),
        (lambda: cnnlib.Upsample2D().output_shape((1, 2)), ValueError, "expects a 4-D input"),
    ],
)
def test_bad_arguments_raise_named_errors(make, error, fragment):
    with pytest.raises(error) as info:
        make()
    assert fragment in str(info.value)

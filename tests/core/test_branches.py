"""The rarer branches of the numerical core: argument errors, degenerate inputs and report details.

The main test modules check the mathematics; these pin down what happens on the edges that
they do not reach (found with ``make coverage``): every error names the public function that
raised it, and the rare-but-legal cases give the documented result.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib
from cnnlib import layers
from cnnlib.routes import conv_dW_terms, conv_dX_terms

# --------------------------------------------------------------------------- conv, convmatrix, losses


def test_col2im_refuses_a_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match=r"^col2im: kernel 4x2 \(dilation \(1, 1\)\) does not fit"):
        cnnlib.col2im(np.zeros((1, 8, 1)), (1, 1, 3, 3), (4, 2))


def test_conv2d_as_matrix_refuses_an_empty_kernel():
    with pytest.raises(ValueError, match=r"^conv2d_as_matrix: W must not be empty, got shape \(0, 3\)$"):
        cnnlib.conv2d_as_matrix(np.zeros((0, 3)), (4, 4))


def test_losses_refuse_empty_inputs():
    with pytest.raises(ValueError, match=r"^log_softmax: s must have at least one class"):
        cnnlib.log_softmax(np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"^log_softmax: s must have at least one class"):
        cnnlib.log_softmax(np.float64(1.0))
    with pytest.raises(ValueError, match=r"^softmax_cross_entropy: s must have at least one sample and one class"):
        cnnlib.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"^mse: reduction='mean' needs at least one entry"):
        cnnlib.mse(np.zeros((0, 2)), np.zeros((0, 2)), reduction="mean")


# --------------------------------------------------------------------------- routes


def _route_inputs(C=1, F=1, H=4, W=4, K=2):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((C, H, W))
    dZ = rng.standard_normal((F, H - K + 1, W - K + 1))
    return X, dZ


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(kernel_shape=(2, 1, 2, 2)), r"kernel_shape \(2, 1, 2, 2\) does not match X's 1 channel\(s\) and dZ's 1"),
        (dict(kernel_shape=(1, 1, 0, 2)), r"kernel_shape must be positive, got \(1, 1, 0, 2\)"),
        (dict(kernel_shape=(3, 3)), r"dZ must be 2x2 \(the output size for X 4x4, kernel 3x3"),
        (dict(kernel_shape=(5, 2)), r"the \(dilated\) kernel spans 5x2 but the padded input is only 4x4"),
    ],
)
def test_dW_route_refuses_inconsistent_shapes(kwargs, message):
    X, dZ = _route_inputs()
    args = dict(kernel_shape=(2, 2), index=(0, 0)) | kwargs
    with pytest.raises(ValueError, match=r"^conv_dW_terms: " + message):
        conv_dW_terms(X, dZ, **args)


def test_dW_route_needs_a_four_index_with_several_channels():
    X, dZ = _route_inputs(C=2)
    with pytest.raises(ValueError, match=r"^conv_dW_terms: index must be \(f, c, i, j\) when there are 1 filters"):
        conv_dW_terms(X, dZ, (2, 2), (0, 0))
    route = conv_dW_terms(X, dZ, (2, 2), (0, 1, 1, 0))
    assert route.total == pytest.approx(sum(x * d for _, x, _, d in route.terms))


@pytest.mark.parametrize(
    ("W", "input_shape", "index", "message"),
    [
        (np.ones((1, 2, 2)), (4, 4), (0, 0), r"W must be \(KH, KW\) or \(F, C, KH, KW\), got shape \(1, 2, 2\)"),
        (np.ones((2, 1, 2, 2)), (4, 4), (0, 0), r"dZ has 1 filter map\(s\) but W has 2 filter\(s\)"),
        (np.ones((2, 2)), (2, 1, 4, 4), (0, 0), r"input_shape must describe one image \(N = 1\), got \(2, 1, 4, 4\)"),
        (np.ones((2, 2)), (2, 4, 4), (0, 0), r"input_shape \(2, 4, 4\) does not match W's 1 channel\(s\)"),
        (np.ones((2, 2)), (5, 5), (0, 0), r"dZ must be 4x4 \(the output size for input 5x5, kernel 2x2"),
        (np.ones((1, 2, 2, 2)), (1, 2, 4, 4), (0, 0), r"index must be \(c, x, y\) when the input has 2 channels"),
    ],
)
def test_dX_route_refuses_inconsistent_shapes(W, input_shape, index, message):
    _, dZ = _route_inputs()
    with pytest.raises(ValueError, match=r"^conv_dX_terms: " + message):
        conv_dX_terms(W, dZ, input_shape, index)


def test_routes_leave_out_products_with_a_zero_factor_and_say_so():
    X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    dZ = np.array([[1.0, 0.0], [2.0, 3.0]])  # one zero delta
    route = conv_dW_terms(X, dZ, (2, 2), (0, 0))  # X[0, 0] = 0 meets dZ[0, 0]
    assert len(route.products) == 4
    assert len(route.terms) == 2  # X=0 with dZ=1 and X=1 with dZ=0 are left out
    assert route.total == pytest.approx(3.0 * 2.0 + 4.0 * 3.0)
    assert "1 term with \u03b4 = 0" in route.equation and "1 with X = 0" in route.equation

    W = np.array([[0.0, 1.0], [2.0, 3.0]])
    dZ2 = np.array([[0.0, 1.0], [2.0, 3.0]])
    route = conv_dX_terms(W, dZ2, (3, 3), (1, 1))  # every kernel entry reaches the centre
    assert len(route.products) == 4
    assert route.total == pytest.approx(3.0 * 0.0 + 2.0 * 1.0 + 1.0 * 2.0 + 0.0 * 3.0)
    assert len(route.terms) == 2
    assert "1 term with \u03b4 = 0" in route.equation and "1 with W = 0" in route.equation


# --------------------------------------------------------------------------- gradcheck


def test_numerical_gradient_refuses_an_empty_tuple_a_changing_shape_and_non_finite_values():
    with pytest.raises(ValueError, match=r"^numerical_gradient: f returned an empty tuple$"):
        cnnlib.numerical_gradient(lambda x: (), np.ones(2))
    calls = []

    def grows(x):
        calls.append(1)
        return np.zeros(len(calls))

    with pytest.raises(ValueError, match=r"^numerical_gradient: f\(x\) changed shape from \(1,\) to \(2,\)"):
        cnnlib.numerical_gradient(grows, np.ones(1), dout=np.ones(1))
    with np.errstate(invalid="ignore"), pytest.raises(ValueError, match=r"^numerical_gradient: f returned non-finite"):
        cnnlib.numerical_gradient(lambda x: np.log(x).sum(), np.array([1e-7]), h=1e-6)


def test_rel_error_of_a_nan_is_nan_and_fails_the_check():
    assert np.isnan(cnnlib.rel_error(np.array([1.0, np.nan]), np.array([1.0, 2.0])))
    report = cnnlib.check_gradients(lambda x: (x * 2, None), lambda d, c: d * np.nan, {"x": np.ones(3)})
    assert not report.passed


def _double(x):
    return x * 2.0, None


def test_check_gradients_reports_a_gradient_that_is_not_an_array_or_comes_as_a_list():
    report = cnnlib.check_gradients(lambda x: (x * 2.0, None), lambda d, c: {"dx": d}, {"x": np.ones(3)})
    assert not report.passed
    assert report["dx"].note == "backward returned dict, not an array"
    assert "dx" in str(report) and "not an array" in str(report)
    assert report.name == "gradient check"  # only lambdas: no name to show
    ok = cnnlib.check_gradients(_double, lambda d, c: [2.0 * d], {"x": np.ones(3)})
    assert ok.passed and ok.name == "_double"


def test_check_loss_refuses_bad_loss_functions_and_reports_modified_inputs():
    s, y = np.array([[0.5, -1.0, 2.0]]), np.array([2])
    with pytest.raises(TypeError, match=r"^check_loss: loss_fn must be callable, got int$"):
        cnnlib.check_loss(3, s, y)
    with pytest.raises(TypeError, match=r"^check_loss: loss_fn must return \(L, gradient\), got float$"):
        cnnlib.check_loss(lambda s_, y_: 1.0, s, y)

    def modifies(s_, y_):
        L, ds = cnnlib.softmax_cross_entropy(s_, y_)
        s_ += 0.0 * s_ + 1.0
        y_[...] = 0
        return L, ds

    report = cnnlib.check_loss(modifies, s, y.copy())
    assert report.mutated == ["s", "y"] and not report.passed

    class NoSignature:
        __signature__ = "not a signature"

        def __call__(self, s_, y_):
            return cnnlib.softmax_cross_entropy(s_, y_)

    report = cnnlib.check_loss(NoSignature(), s, y)
    assert report.passed and report.results[0].label == "ds"


def test_check_network_refuses_what_is_not_a_network_and_can_skip_the_input():
    X, y = np.random.default_rng(1).standard_normal((2, 3)), np.array([0, 1])
    model = cnnlib.Sequential(cnnlib.Dense(3, 2, seed=0))
    with pytest.raises(TypeError, match=r"^check_network: model must have a forward\(\) method"):
        cnnlib.check_network(object(), X, y, cnnlib.softmax_cross_entropy)
    with pytest.raises(TypeError, match=r"^check_network: loss_fn must be callable, got str$"):
        cnnlib.check_network(model, X, y, "softmax_cross_entropy")
    with pytest.raises(TypeError, match=r"^check_network: loss_fn must return \(L, gradient\), got float$"):
        cnnlib.check_network(model, X, y, lambda s_, y_: 0.0)

    class Mismatched(cnnlib.Sequential):
        def gradients(self):
            return {"other": np.zeros(1)}

    with pytest.raises(ValueError, match=r"^check_network: parameters\(\) and gradients\(\) must have the same keys"):
        cnnlib.check_network(Mismatched(cnnlib.Dense(3, 2, seed=0)), X, y, cnnlib.softmax_cross_entropy)
    report = cnnlib.check_network(model, X, y, cnnlib.softmax_cross_entropy, include_input=False)
    assert report.passed and [r.label for r in report.results] == ["0.U", "0.c"]


# --------------------------------------------------------------------------- layers


def test_layers_refuse_bad_dtypes_shapes_and_inputs_they_do_not_fit():
    with pytest.raises(TypeError, match=r"^Dense: dtype must be float64 or float32, got 'no such type'$"):
        cnnlib.Dense(2, 2, dtype="no such type")
    with pytest.raises(ValueError, match=r"^Conv2D.output_shape: expects a 4-D input \(N, C, H, W\), got shape"):
        cnnlib.Conv2D(1, 1, 3, seed=0).output_shape((1, 5, 5))
    with pytest.raises(ValueError, match=r"^Conv2D.output_shape: Conv2D\(.*\) does not fit an input of shape"):
        cnnlib.Conv2D(1, 1, 3, seed=0).output_shape((1, 1, 2, 5))
    with pytest.raises(ValueError, match=r"^MaxPool2D.output_shape: MaxPool2D\(size=3\) does not fit"):
        cnnlib.MaxPool2D(3).output_shape((1, 1, 2, 5))
    with pytest.raises(ValueError, match=r"^Flatten.output_shape: expects \(N, \.\.\.\) with at least 2 axes"):
        cnnlib.Flatten().output_shape((4,))
    assert repr(cnnlib.AvgPool2D(2, fast=False)) == "AvgPool2D(size=2, fast=False)"


def test_sequential_rewraps_an_error_whose_class_takes_other_arguments():
    class TwoArgError(ValueError):
        def __init__(self, a, b):
            super().__init__(f"{a} {b}")

    class Broken(layers.Layer):
        def forward(self, X):
            raise TwoArgError("bad", "input")

    with pytest.raises(ValueError, match=r"^Sequential.forward: layer 0 .* got input of shape \(1, 2\): bad input$"):
        cnnlib.Sequential(Broken()).forward(np.zeros((1, 2)))


def test_sgd_refuses_a_gradient_of_the_wrong_shape_and_zero_grad_clears_the_model():
    model = cnnlib.Sequential(cnnlib.Dense(3, 2, seed=0))
    model.forward(np.ones((1, 3)))
    model.backward(np.ones((1, 2)))
    opt = cnnlib.SGD(model, lr=0.1, momentum=0.5)
    assert repr(opt) == "SGD(lr=0.1, momentum=0.5)"
    opt.zero_grad()
    assert all(not np.any(g) for g in model.gradients().values())
    model[0].dU = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"^SGD.step: gradient of '0.U' has shape \(3, 2\) but the parameter has"):
        opt.step()


@pytest.mark.parametrize(("stride", "padding", "dilation"), [((2, 1), (1, 0), (1, 2)), ((1, 3), (0, 2), (2, 1))])
def test_routes_with_different_height_and_width_hyperparameters(stride, padding, dilation):
    """Every entry's products sum to conv2d_backward's entry when stride, padding and dilation differ per axis."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((2, 7, 8))
    Wt = rng.standard_normal((2, 2, 2, 3))
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    Z, cache = cnnlib.conv2d_forward(X[None], Wt, np.zeros(2), **kw)
    dZ = rng.standard_normal(Z.shape[1:])
    dX, dW, _ = cnnlib.conv2d_backward(dZ[None], cache)
    for idx in np.ndindex(dW.shape):
        route = conv_dW_terms(X, dZ, Wt.shape, idx, **kw)
        assert sum(x * d for _, x, _, d in route.terms) == pytest.approx(dW[idx], abs=1e-12)
    for idx in np.ndindex(dX.shape[1:]):
        route = conv_dX_terms(Wt, dZ, X.shape, idx, **kw)
        assert sum(w * d for _, w, _, d in route.terms) == pytest.approx(dX[(0, *idx)], abs=1e-12)

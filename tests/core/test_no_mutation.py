"""No public cnnlib function modifies its inputs, and all of them accept read-only arrays.

Every public callable of the package (its star-exported names) has a case below that
calls it on freshly made arrays. Each array is registered with ``inp(...)``, which keeps
a private copy; after the calls every registered array must be bit-for-bit what it was.
Each case runs twice: once with ordinary arrays and once with every registered array
marked read-only (``a.flags.writeable = False``), which any in-place write turns into
an error. Backward passes are called twice on the same cache and must give the same
bits both times (a backward that edits its cache fails that).

A public name without a case fails ``test_every_public_callable_has_a_case``, so a
new function cannot slip past this file.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import cnnlib


def public_names() -> list[str]:
    """``cnnlib.__all__`` if the package defines it, else what ``from cnnlib import *`` exports."""
    names = getattr(cnnlib, "__all__", None)
    if names is None:
        names = [n for n in dir(cnnlib) if not n.startswith("_") and not inspect.ismodule(getattr(cnnlib, n))]
    return sorted(names)


def public_callables() -> list[str]:
    return [n for n in public_names() if callable(getattr(cnnlib, n))]


class Inputs:
    """Make and register input arrays; ``check()`` asserts none of them changed.

    ``wrap`` turns each registered array into what the case is given (a view of the same
    memory, e.g. an ``np.matrix``); by default the array itself.
    """

    def __init__(self, readonly: bool, wrap=None):
        self.readonly = readonly
        self.wrap = wrap or (lambda a: a)
        self.registered: list[tuple[str, np.ndarray, np.ndarray]] = []
        self.rng = np.random.default_rng(1234)

    def __call__(self, a, label: str = "") -> np.ndarray:
        a = np.array(a)  # our own array
        if self.readonly:
            a.flags.writeable = False
        self.registered.append((label or f"input {len(self.registered)}", a, a.copy()))
        return self.wrap(a)

    def randn(self, *shape, label: str = "", dtype=np.float64) -> np.ndarray:
        return self(self.rng.standard_normal(shape).astype(dtype), label)

    def check(self) -> None:
        changed = [
            label
            for label, a, ref in self.registered
            if a.dtype != ref.dtype or a.shape != ref.shape or a.tobytes() != ref.tobytes()
        ]
        assert not changed, f"modified in place: {changed}"


def same_bits(a, b) -> bool:
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same_bits(x, y) for x, y in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def backward_twice(backward, dout, cache):
    """Call ``backward`` twice on the same cache; the two results must be identical."""
    first = backward(dout, cache)
    first_copy = tuple(np.array(g) for g in first) if isinstance(first, tuple) else np.array(first)
    second = backward(dout, cache)
    assert same_bits(first_copy, second), f"{backward.__name__}: a second call on the same cache differs"
    assert same_bits(first_copy, first), f"{backward.__name__}: the first result changed during the second call"
    return second


def params_snapshot(model) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in model.parameters().items()}


def assert_params_unchanged(model, snapshot) -> None:
    now = model.parameters()
    assert set(now) == set(snapshot)
    changed = [k for k in snapshot if not same_bits(now[k], snapshot[k])]
    assert not changed, f"model parameters changed: {changed}"


# --------------------------------------------------------------------------- cases

CASES: dict[str, tuple[tuple[str, ...], object]] = {}


def case(*covers: str):
    """Register a case; ``covers`` lists the public names it exercises."""

    def deco(fn):
        CASES[fn.__name__.removeprefix("case_")] = (covers, fn)
        return fn

    return deco


# ----- convolution


@case("conv2d_forward", "conv2d_backward")
def case_conv2d(inp):
    for padding in (0, (1, 2)):  # padding 0 takes the no-copy path through the input itself
        X, W, b = inp.randn(2, 3, 6, 7, label="X"), inp.randn(4, 3, 3, 2, label="W"), inp.randn(4, label="b")
        Z, cache = cnnlib.conv2d_forward(X, W, b, stride=(2, 1), padding=padding, dilation=(1, 2))
        backward_twice(cnnlib.conv2d_backward, inp.randn(*Z.shape, label="dZ"), cache)
    X32 = inp.randn(1, 2, 5, 5, label="X32", dtype=np.float32)
    W32 = inp.randn(3, 2, 2, 2, label="W32", dtype=np.float32)
    Z, cache = cnnlib.conv2d_forward(X32, W32, inp(np.zeros(3, np.float32), "b32"))
    backward_twice(cnnlib.conv2d_backward, inp.randn(*Z.shape, label="dZ32", dtype=np.float32), cache)


@case("conv2d_forward_naive", "conv2d_backward_naive")
def case_conv2d_naive(inp):
    X, W, b = inp.randn(2, 2, 5, 4, label="X"), inp.randn(2, 2, 2, 3, label="W"), inp.randn(2, label="b")
    Z, cache = cnnlib.conv2d_forward_naive(X, W, b, stride=(1, 2), padding=1, dilation=(2, 1))
    backward_twice(cnnlib.conv2d_backward_naive, inp.randn(*Z.shape, label="dZ"), cache)


# ----- notebook 12: grouped and transposed convolution, upsampling, global average pooling


@case(
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
    "conv_transpose2d_forward_naive",
    "conv_transpose2d_backward_naive",
    "conv_transpose_output_size",
)
def case_conv_transpose2d(inp):
    for fwd, bwd in (
        (cnnlib.conv_transpose2d_forward, cnnlib.conv_transpose2d_backward),
        (cnnlib.conv_transpose2d_forward_naive, cnnlib.conv_transpose2d_backward_naive),
    ):
        X, W, b = inp.randn(2, 2, 3, 4, label="X"), inp.randn(2, 3, 3, 2, label="W"), inp.randn(3, label="b")
        Y, cache = fwd(X, W, b, stride=(2, 1), padding=1, output_padding=(1, 0), dilation=(1, 2))
        backward_twice(bwd, inp.randn(*Y.shape, label="dY"), cache)
    assert cnnlib.conv_transpose_output_size(3, 3, 2, 1, 1, 1) == 6


@case("conv2d_forward", "conv2d_backward")
def case_grouped_conv2d(inp):
    for fwd, bwd in (
        (cnnlib.conv2d_forward, cnnlib.conv2d_backward),
        (cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive),
    ):
        X, W, b = inp.randn(2, 4, 5, 4, label="X"), inp.randn(6, 2, 3, 2, label="W"), inp.randn(6, label="b")
        Z, cache = fwd(X, W, b, stride=(1, 2), padding=1, groups=2)
        backward_twice(bwd, inp.randn(*Z.shape, label="dZ"), cache)


@case(
    "upsample2d_forward",
    "upsample2d_backward",
    "upsample2d_forward_naive",
    "upsample2d_backward_naive",
    "interpolation_matrix",
)
def case_upsample2d(inp):
    for fwd, bwd in (
        (cnnlib.upsample2d_forward, cnnlib.upsample2d_backward),
        (cnnlib.upsample2d_forward_naive, cnnlib.upsample2d_backward_naive),
    ):
        for mode in ("nearest", "bilinear"):
            A = inp.randn(2, 2, 3, 2, label="A")
            U, cache = fwd(A, scale=(2, 3), mode=mode)
            backward_twice(bwd, inp.randn(*U.shape, label="dU"), cache)
    assert cnnlib.interpolation_matrix(3, 2).shape == (6, 3)


@case(
    "global_avgpool2d_forward",
    "global_avgpool2d_backward",
    "global_avgpool2d_forward_naive",
    "global_avgpool2d_backward_naive",
)
def case_global_avgpool2d(inp):
    for fwd, bwd in (
        (cnnlib.global_avgpool2d_forward, cnnlib.global_avgpool2d_backward),
        (cnnlib.global_avgpool2d_forward_naive, cnnlib.global_avgpool2d_backward_naive),
    ):
        p, cache = fwd(inp.randn(2, 3, 4, 2, label="A"))
        backward_twice(bwd, inp.randn(*p.shape, label="dp"), cache)


@case("ConvTranspose2D", "GlobalAvgPool2D", "Upsample2D")
def case_upsampling_layers(inp):
    layers = [
        cnnlib.Conv2D(2, 4, 3, padding=1, groups=2, seed=0),
        cnnlib.ConvTranspose2D(4, 2, 3, stride=2, padding=1, output_padding=1, seed=1),
        cnnlib.Upsample2D(2, "bilinear"),
        cnnlib.GlobalAvgPool2D(),
    ]
    net = cnnlib.Sequential(*layers)
    out = net.forward(inp.randn(2, 2, 3, 3, label="X"))
    net.backward(inp.randn(*out.shape, label="dout"))


@case("conv_output_size", "pool_output_size")
def case_output_sizes(inp):
    assert cnnlib.conv_output_size(7, 3, 2, 1, 1) == 4
    assert cnnlib.pool_output_size(7, 2, 2) == 3


@case("im2col", "col2im")
def case_im2col(inp):
    X = inp.randn(2, 3, 5, 6, label="X")
    cols = cnnlib.im2col(X, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1))
    cnnlib.col2im(inp(cols, "cols"), X.shape, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1))


@case("conv2d_as_matrix", "tied_gradient")
def case_convmatrix(inp):
    W = inp.randn(2, 3, label="W")
    M, tie = cnnlib.conv2d_as_matrix(W, (4, 5), stride=1, padding=1)
    dM = inp.randn(*M.shape, label="dM")
    cnnlib.tied_gradient(dM, inp(tie, "tie"), (2, 3))


# ----- activations, flatten, dense


@case("relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward")
def case_activations(inp):
    for fwd, bwd in (
        (cnnlib.relu_forward, cnnlib.relu_backward),
        (cnnlib.sigmoid_forward, cnnlib.sigmoid_backward),
        (cnnlib.tanh_forward, cnnlib.tanh_backward),
    ):
        Z = inp(np.array([[-2.0, 0.0, 3.0], [1e-3, -1e-3, 40.0]]), f"Z for {fwd.__name__}")
        A, cache = fwd(Z)
        backward_twice(bwd, inp.randn(*A.shape, label=f"dA for {bwd.__name__}"), cache)


@case("sigmoid")
def case_sigmoid(inp):
    cnnlib.sigmoid(inp(np.array([-800.0, -1.0, 0.0, 1.0, 800.0]), "Z"))


@case("flatten_forward", "flatten_backward")
def case_flatten(inp):
    P = inp.randn(3, 2, 2, 2, label="P")
    p, cache = cnnlib.flatten_forward(P)
    backward_twice(cnnlib.flatten_backward, inp.randn(*p.shape, label="dp"), cache)


@case("dense_forward", "dense_backward", "dense_forward_naive", "dense_backward_naive")
def case_dense(inp):
    for fwd, bwd in (
        (cnnlib.dense_forward, cnnlib.dense_backward),
        (cnnlib.dense_forward_naive, cnnlib.dense_backward_naive),
    ):
        p, U, c = inp.randn(3, 4, label="p"), inp.randn(2, 4, label="U"), inp.randn(2, label="c")
        s, cache = fwd(p, U, c)
        backward_twice(bwd, inp.randn(*s.shape, label="ds"), cache)


# ----- pooling


def _pool_input(inp):
    A = np.array(
        [[3.0, 1.0, 3.0, 0.5, -1.0], [2.0, 3.0, 0.0, 0.5, 4.0], [-1.0, -2.0, 7.0, 7.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0]]
    )  # ties inside windows, and overlapping windows below
    return inp(np.stack([np.stack([A, -A])] * 2), "A")  # (2, 2, 4, 5)


@case(
    "maxpool2d_forward",
    "maxpool2d_backward",
    "maxpool2d_forward_naive",
    "maxpool2d_backward_naive",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "avgpool2d_forward_naive",
    "avgpool2d_backward_naive",
)
def case_pool(inp):
    pairs = [
        (cnnlib.maxpool2d_forward, cnnlib.maxpool2d_backward),
        (cnnlib.maxpool2d_forward_naive, cnnlib.maxpool2d_backward_naive),
        (cnnlib.avgpool2d_forward, cnnlib.avgpool2d_backward),
        (cnnlib.avgpool2d_forward_naive, cnnlib.avgpool2d_backward_naive),
    ]
    for fwd, bwd in pairs:
        for kw in ({"size": 2}, {"size": 3, "stride": 1}, {"size": (3, 2), "stride": (2, 1), "padding": (1, 1)}):
            A = _pool_input(inp)
            P, cache = fwd(A, **kw)
            backward_twice(bwd, inp.randn(*P.shape, label=f"dP for {fwd.__name__}"), cache)


# ----- losses


@case("softmax", "log_softmax", "softmax_cross_entropy")
def case_softmax(inp):
    s = inp(np.array([[1e4, -1e4, 0.0], [0.5, 0.5, 0.5], [-3.0, 2.0, 1.0]]), "s")
    cnnlib.softmax(s)
    cnnlib.log_softmax(s)
    cnnlib.softmax_cross_entropy(s, inp(np.array([0, 2, 1]), "labels"))
    cnnlib.softmax_cross_entropy(s, inp(np.eye(3)[[1, 0, 2]], "one-hot"))


@case("binary_cross_entropy", "binary_cross_entropy_with_logits")
def case_bce(inp):
    A = inp(np.array([[0.0], [1.0], [0.3], [1e-20]]), "A")  # 0 and 1 exercise the clip
    y = inp(np.array([[1.0], [0.0], [1.0], [0.0]]), "y")
    cnnlib.binary_cross_entropy(A, y)
    cnnlib.binary_cross_entropy(A, y, eps=1e-6)
    z = inp(np.array([[800.0], [-800.0], [0.2], [-1.5]]), "z")
    cnnlib.binary_cross_entropy_with_logits(z, y)


@case("mse")
def case_mse(inp):
    yhat, y = inp.randn(4, 2, label="yhat"), inp.randn(4, 2, label="y")
    for reduction in ("half_sum", "sum", "mean"):
        cnnlib.mse(yhat, y, reduction=reduction)


# ----- gradient checking


@case("numerical_gradient", "rel_error")
def case_numerical_gradient(inp):
    x = inp.randn(3, 4, label="x")
    dout = inp.randn(3, 4, label="dout")
    g = cnnlib.numerical_gradient(lambda v: np.tanh(v), x, dout)
    cnnlib.numerical_gradient(lambda v: float(np.sum(v**2)), x)
    cnnlib.rel_error(inp(g, "a"), inp(np.multiply(dout, 1 - np.square(np.tanh(x))), "b"))  # element-wise for any x


@case("check_gradients", "check_layer", "check_loss", "GradCheckReport", "GradCheckResult")
def case_check_gradients(inp):
    X, W, b = inp.randn(1, 2, 4, 4, label="X"), inp.randn(2, 2, 2, 2, label="W"), inp.randn(2, label="b")
    dout = inp.randn(1, 2, 3, 3, label="dout")
    report = cnnlib.check_gradients(cnnlib.conv2d_forward, cnnlib.conv2d_backward, {"X": X, "W": W, "b": b}, dout=dout)
    assert isinstance(report, cnnlib.GradCheckReport)
    assert all(isinstance(r, cnnlib.GradCheckResult) for r in report.results)
    assert "conv2d" in str(report)
    p, U, c = inp.randn(3, 4, label="p"), inp.randn(2, 4, label="U"), inp.randn(2, label="c")
    cnnlib.check_layer(cnnlib.dense_forward, cnnlib.dense_backward, {"p": p, "U": U, "c": c}, seed=3)
    s = inp.randn(3, 4, label="s")
    cnnlib.check_loss(cnnlib.softmax_cross_entropy, s, inp(np.array([0, 3, 1]), "y"))


def _small_model(seed=0):
    return cnnlib.Sequential(
        cnnlib.Conv2D(1, 2, 3, seed=seed),
        cnnlib.Tanh(),
        cnnlib.AvgPool2D(2),
        cnnlib.Flatten(),
        cnnlib.Dense(2 * 2 * 2, 3, seed=seed + 1),
    )


@case("check_network")
def case_check_network(inp):
    model = _small_model()
    before = params_snapshot(model)
    X = inp.randn(2, 1, 6, 6, label="X")
    y = inp(np.array([0, 2]), "y")
    cnnlib.check_network(model, X, y, cnnlib.softmax_cross_entropy)  # (whether it passes is tested elsewhere)
    assert_params_unchanged(model, before)  # nudged and restored, bit for bit


# ----- layers and training


@case("Layer", "Conv2D", "ReLU", "Sigmoid", "Tanh", "MaxPool2D", "AvgPool2D", "Flatten", "Dense", "Sequential")
def case_layers(inp):
    layers = [
        cnnlib.Conv2D(2, 3, (3, 2), stride=(1, 2), padding=1, seed=0),
        cnnlib.ReLU(),
        cnnlib.MaxPool2D(2),
        cnnlib.Sigmoid(),
        cnnlib.AvgPool2D(1),
        cnnlib.Tanh(),
        cnnlib.Flatten(),
        cnnlib.Dense(3 * 3 * 2, 4, seed=1),
    ]
    X = inp.randn(2, 2, 6, 7, label="X")
    out = X
    for layer in layers:
        assert isinstance(layer, cnnlib.Layer)
        out = layer.forward(out)
    dout = inp.randn(*out.shape, label="dout")
    for layer in reversed(layers):
        dout = layer.backward(dout)
    net = cnnlib.Sequential(*layers)
    out = net.forward(X)
    net.backward(inp.randn(*out.shape, label="dout for Sequential"))


@case("SGD", "train_step")
def case_training(inp):
    for momentum in (0.0, 0.9):
        model = _small_model(seed=3)
        opt = cnnlib.SGD(model, lr=0.1, momentum=momentum)
        X = inp.randn(4, 1, 6, 6, label="X")
        y = inp(np.array([0, 1, 2, 1]), "y")
        before = params_snapshot(model)
        cnnlib.train_step(model, opt, X, y, cnnlib.softmax_cross_entropy)
        now = model.parameters()
        assert any(not same_bits(now[k], before[k]) for k in before), "train_step did not update the parameters"
        # the optimizer changes parameters (its job) but never the gradients it reads
        grads = {k: np.array(g) for k, g in model.gradients().items()}
        if inp.readonly:
            for g in model.gradients().values():
                g.flags.writeable = False
        opt.step()
        assert all(same_bits(model.gradients()[k], grads[k]) for k in grads), "SGD.step modified a gradient"


# ----- notebook 11: batch normalisation, residual blocks, initialisation, Adam


@case("batchnorm2d_forward", "batchnorm2d_backward", "batchnorm2d_forward_naive", "batchnorm2d_backward_naive")
def case_batchnorm2d(inp):
    for fwd, bwd in (
        (cnnlib.batchnorm2d_forward, cnnlib.batchnorm2d_backward),
        (cnnlib.batchnorm2d_forward_naive, cnnlib.batchnorm2d_backward_naive),
    ):
        for training in (True, False):  # batch statistics, and the running ones (new arrays in the cache)
            X, gamma, beta = inp.randn(3, 2, 3, 2, label="X"), inp.randn(2, label="gamma"), inp.randn(2, label="beta")
            rm, rv = inp.randn(2, label="running_mean"), inp(np.array([0.5, 2.0]), "running_var")
            Y, cache = fwd(X, gamma, beta, training=training, running_mean=rm, running_var=rv, momentum=0.3)
            backward_twice(bwd, inp.randn(*Y.shape, label=f"dY, training={training}"), cache)
        Y, cache = fwd(inp.randn(2, 2, 2, 2, label="X without running statistics"), gamma, beta)
        backward_twice(bwd, inp.randn(*Y.shape, label="dY without running statistics"), cache)


@case("BatchNorm2D", "Residual", "set_training")
def case_residual_blocks(inp):
    for fast in (True, False):
        identity = cnnlib.Residual(
            cnnlib.Sequential(
                cnnlib.Conv2D(2, 2, 3, padding=1, seed=0), cnnlib.BatchNorm2D(2, fast=fast), cnnlib.ReLU()
            )
        )
        projection = cnnlib.Residual(
            cnnlib.Sequential(cnnlib.Conv2D(2, 3, 3, stride=2, padding=1, seed=1), cnnlib.BatchNorm2D(3, fast=fast)),
            cnnlib.Conv2D(2, 3, 1, stride=2, seed=2),
        )
        net = cnnlib.Sequential(identity, projection)
        for training in (True, False):
            assert cnnlib.set_training(net, training) is net
            before = params_snapshot(net)
            out = net.forward(inp.randn(2, 2, 4, 4, label=f"X, training={training}"))
            net.backward(inp.randn(*out.shape, label=f"dout, training={training}"))
            assert_params_unchanged(net, before)  # forward and backward compute gradients, never a step


@case("fan_in_out", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform")
def case_init(inp):
    for shape in ((4, 3, 2, 5), (6, 7)):  # a shape given as an array is read, never written
        dims = inp(np.array(shape), f"shape {shape}")
        assert cnnlib.fan_in_out(dims) == cnnlib.fan_in_out(shape)
        for mode in ("fan_in", "fan_out"):
            assert cnnlib.he_normal(dims, seed=0, mode=mode).shape == shape
            assert cnnlib.he_uniform(dims, seed=0, mode=mode).shape == shape
        assert cnnlib.glorot_normal(dims, seed=0).shape == cnnlib.glorot_uniform(dims, seed=0).shape == shape


@case("Adam")
def case_adam(inp):
    for weight_decay in (0.0, 0.01):
        model = _small_model(seed=4)
        opt = cnnlib.Adam(model, lr=0.01, weight_decay=weight_decay)
        X, y = inp.randn(4, 1, 6, 6, label="X"), inp(np.array([2, 0, 1, 1]), "y")
        before = params_snapshot(model)
        cnnlib.train_step(model, opt, X, y, cnnlib.softmax_cross_entropy)
        now = model.parameters()
        assert any(not same_bits(now[k], before[k]) for k in before), "train_step did not update the parameters"
        # Adam changes the parameters and its own averages m and v, never the gradients it reads
        grads = {k: np.array(g) for k, g in model.gradients().items()}
        if inp.readonly:
            for g in model.gradients().values():
                g.flags.writeable = False
        opt.step()
        assert opt.t == 2 and all(same_bits(model.gradients()[k], grads[k]) for k in grads), (
            "Adam.step changed a gradient"
        )


@case("set_printoptions")
def case_set_printoptions(inp):
    """Its argument is an int; the number formatter it installs in NumPy must only read the arrays it prints."""
    saved = np.get_printoptions()
    try:
        for precision in (0, 4):
            cnnlib.set_printoptions(precision)
            text = np.array2string(inp(np.array([[-0.0, 46.0, 3.5], [1e-9, -2.25, np.inf]]), f"A, {precision}"))
            assert "46" in text
    finally:
        np.set_printoptions(**saved)


# --------------------------------------------------------------------------- tests


def test_every_public_callable_has_a_case():
    covered = {name for covers, _ in CASES.values() for name in covers}
    unknown = sorted(set(public_callables()) - covered)
    assert not unknown, f"public cnnlib callables with no input-mutation case in {__file__}: {unknown}"
    stale = sorted(covered - set(public_names()))
    assert not stale, f"cases name things cnnlib no longer exports: {stale}"


@pytest.mark.parametrize("readonly", [False, True], ids=["writeable", "read-only"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_inputs_are_not_modified(name, readonly):
    _, run = CASES[name]
    inp = Inputs(readonly=readonly)
    run(inp)
    assert inp.registered or name == "output_sizes"
    inp.check()


def test_the_guard_detects_an_in_place_write():
    """The check above can fail: an in-place edit of a registered array is reported."""
    inp = Inputs(readonly=False)
    x = inp.randn(3, label="x")
    x[1] += 1.0
    with pytest.raises(AssertionError, match="modified in place: \\['x'\\]"):
        inp.check()
    ro = Inputs(readonly=True).randn(2)
    with pytest.raises(ValueError):
        ro += 1.0

"""Editing an array in place between a forward and a backward pass never changes the gradient.

A cache must not depend on arrays the caller still holds: ``A, c = sigmoid_forward(Z);
A -= 0.5`` or refilling a batch buffer X after ``conv2d_forward`` would otherwise give a wrong
gradient without a word. Every cache owns what its backward pass reads (a copy, a mask,
or only shapes; each cache class says which), so for every layer the gradient after the
edits is bit for bit the gradient without them.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib

rng = np.random.default_rng(5)
X4 = rng.standard_normal((2, 3, 6, 5))

# (forward, backward, inputs, keyword arguments): every input and the output get edited
LAYERS = [
    (cnnlib.relu_forward, cnnlib.relu_backward, [X4], {}),
    (cnnlib.sigmoid_forward, cnnlib.sigmoid_backward, [X4], {}),
    (cnnlib.tanh_forward, cnnlib.tanh_backward, [X4], {}),
    (cnnlib.flatten_forward, cnnlib.flatten_backward, [X4], {}),
    (cnnlib.dense_forward, cnnlib.dense_backward, [X4[:, 0, 0], rng.standard_normal((4, 5)), np.ones(4)], {}),
    (cnnlib.dense_forward_naive, cnnlib.dense_backward_naive, [X4[:, 0, 0], np.ones((4, 5)), np.ones(4)], {}),
    (cnnlib.maxpool2d_forward, cnnlib.maxpool2d_backward, [X4], {"size": 3, "stride": 1, "padding": 1}),
    (cnnlib.maxpool2d_forward_naive, cnnlib.maxpool2d_backward_naive, [X4], {"size": 2}),
    (cnnlib.avgpool2d_forward, cnnlib.avgpool2d_backward, [X4], {"size": 2}),
    (cnnlib.avgpool2d_forward_naive, cnnlib.avgpool2d_backward_naive, [X4], {"size": 2}),
]
for stride in (1, 2):  # the two routes of the fast convolution
    conv_inputs = [X4, rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)]
    LAYERS.append((cnnlib.conv2d_forward, cnnlib.conv2d_backward, conv_inputs, {"stride": stride, "padding": 1}))
LAYERS.append((cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive, conv_inputs, {"padding": 1}))


@pytest.mark.parametrize(
    ("forward", "backward", "inputs", "kwargs"),
    LAYERS,
    ids=[f"{f.__name__}-{i}" for i, (f, *_) in enumerate(LAYERS)],
)
@pytest.mark.parametrize("edit", ["fill", "subtract"])
def test_in_place_edits_do_not_change_the_gradient(forward, backward, inputs, kwargs, edit):
    out, cache = forward(*(a.copy() for a in inputs), **kwargs)
    dout = np.random.default_rng(6).standard_normal(out.shape)
    expected = backward(dout, cache)

    held = [a.copy() for a in inputs]  # the caller's arrays
    out, cache = forward(*held, **kwargs)
    for a in [*held, out]:
        if edit == "fill":
            a.fill(7.0)
        else:
            a -= 0.5
    got = backward(dout, cache)
    for e, g in zip(
        expected if isinstance(expected, tuple) else (expected,), got if isinstance(got, tuple) else (got,)
    ):
        assert e.dtype == g.dtype and e.tobytes() == g.tobytes(), f"{backward.__name__}: the gradient changed"


@pytest.mark.parametrize(
    ("make_cache", "field"),
    [
        (lambda: cnnlib.conv2d_forward(X4, np.ones((1, 3, 2, 2)), np.zeros(1))[1], "X"),
        (lambda: cnnlib.dense_forward(X4[:, 0, 0], np.ones((4, 5)), np.ones(4))[1], "U"),
        (lambda: cnnlib.sigmoid_forward(X4)[1], "A"),
        (lambda: cnnlib.relu_forward(X4)[1], "mask"),
    ],
    ids=["conv X", "dense U", "sigmoid A", "relu mask"],
)
def test_cached_arrays_are_read_only(make_cache, field):
    cache = make_cache()
    with pytest.raises(ValueError, match="read-only"):
        getattr(cache, field)[...] = 0

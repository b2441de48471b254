"""Editing an array in place between a forward and a backward pass never gives a wrong gradient.

A cache must not silently depend on arrays the caller still holds: ``A, c = sigmoid_forward(Z);
A -= 0.5`` or refilling a batch buffer X after ``conv2d_forward`` would otherwise give a wrong
gradient without a word. Every cache either owns what its backward pass reads (a copy, a
mask, or only shapes), so that the gradient after the edit is bit for bit the gradient
without it, or, for the convolution's input X (too large to copy), detects the edit and
raises a ``ValueError`` that names the array. Each cache class says which.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib

rng = np.random.default_rng(5)
X4 = rng.standard_normal((2, 3, 6, 5))

# (forward, backward, inputs, keyword arguments, error message for an edit of each input, or None)
LAYERS = [
    (cnnlib.relu_forward, cnnlib.relu_backward, [X4], {}, [None]),
    (cnnlib.sigmoid_forward, cnnlib.sigmoid_backward, [X4], {}, [None]),
    (cnnlib.tanh_forward, cnnlib.tanh_backward, [X4], {}, [None]),
    (cnnlib.flatten_forward, cnnlib.flatten_backward, [X4], {}, [None]),
    (
        cnnlib.dense_forward,
        cnnlib.dense_backward,
        [X4[:, 0, 0], rng.standard_normal((4, 5)), np.ones(4)],
        {},
        [None] * 3,
    ),
    (
        cnnlib.dense_forward_naive,
        cnnlib.dense_backward_naive,
        [X4[:, 0, 0], np.ones((4, 5)), np.ones(4)],
        {},
        [None] * 3,
    ),
    (cnnlib.maxpool2d_forward, cnnlib.maxpool2d_backward, [X4], {"size": 3, "stride": 1, "padding": 1}, [None]),
    (cnnlib.maxpool2d_forward_naive, cnnlib.maxpool2d_backward_naive, [X4], {"size": 2}, [None]),
    (cnnlib.avgpool2d_forward, cnnlib.avgpool2d_backward, [X4], {"size": 2}, [None]),
    (cnnlib.avgpool2d_forward_naive, cnnlib.avgpool2d_backward_naive, [X4], {"size": 2}, [None]),
]
LAYERS += [
    (cnnlib.upsample2d_forward, cnnlib.upsample2d_backward, [X4], {"mode": "bilinear"}, [None]),
    (cnnlib.upsample2d_forward_naive, cnnlib.upsample2d_backward_naive, [X4], {}, [None]),
    (cnnlib.global_avgpool2d_forward, cnnlib.global_avgpool2d_backward, [X4], {}, [None]),
    (cnnlib.global_avgpool2d_forward_naive, cnnlib.global_avgpool2d_backward_naive, [X4], {}, [None]),
]
CONV_X_EDITED = "X, the input of {}, was modified in place after the forward pass"
for stride in (1, 2):  # the two routes of the fast convolution
    conv_inputs = [X4, rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)]
    errors = [CONV_X_EDITED.format("conv2d_forward"), None, None]
    LAYERS.append(
        (cnnlib.conv2d_forward, cnnlib.conv2d_backward, conv_inputs, {"stride": stride, "padding": 1}, errors)
    )
errors = [CONV_X_EDITED.format("conv2d_forward_naive"), None, None]
LAYERS.append((cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive, conv_inputs, {"padding": 1}, errors))

for fwd, bwd in (
    (cnnlib.conv_transpose2d_forward, cnnlib.conv_transpose2d_backward),
    (cnnlib.conv_transpose2d_forward_naive, cnnlib.conv_transpose2d_backward_naive),
):
    tconv_inputs = [X4, rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(2)]
    LAYERS.append(
        (fwd, bwd, tconv_inputs, {"stride": 2, "padding": 1}, [CONV_X_EDITED.format(fwd.__name__), None, None])
    )
for fwd, bwd in (
    (cnnlib.conv2d_forward, cnnlib.conv2d_backward),
    (cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive),
):
    grouped_inputs = [X4[:, :2], rng.standard_normal((4, 1, 3, 2)), rng.standard_normal(4)]
    errors = [CONV_X_EDITED.format(fwd.__name__), None, None]
    LAYERS.append((fwd, bwd, grouped_inputs, {"padding": 1, "groups": 2}, errors))

CASES = [(*layer, k) for layer in LAYERS for k in range(len(layer[2]) + 1)]  # k: which input (or the output) to edit


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


@pytest.mark.parametrize(
    ("forward", "backward", "inputs", "kwargs", "errors", "k"),
    CASES,
    ids=[f"{c[0].__name__}-{i}-" + ("output" if c[5] == len(c[2]) else f"input{c[5]}") for i, c in enumerate(CASES)],
)
@pytest.mark.parametrize("edit", ["fill", "subtract"])
def test_an_in_place_edit_gives_the_right_gradient_or_a_named_error(forward, backward, inputs, kwargs, errors, k, edit):
    out, cache = forward(*(a.copy() for a in inputs), **kwargs)
    dout = np.random.default_rng(6).standard_normal(out.shape)
    expected = backward(dout, cache)

    held = [a.copy() for a in inputs]  # the caller's arrays
    out, cache = forward(*held, **kwargs)
    target = [*held, out][k]
    if edit == "fill":
        target.fill(7.0)
    else:
        target -= 0.5
    error = errors[k] if k < len(errors) else None
    if error is not None:
        with pytest.raises(ValueError, match=f"^{backward.__name__}: {error}"):
            backward(dout, cache)
        return
    got = backward(dout, cache)
    for e, g in zip(as_tuple(expected), as_tuple(got), strict=True):
        assert e.dtype == g.dtype and e.tobytes() == g.tobytes(), f"{backward.__name__}: the gradient changed"


def test_conv_x_made_anew_needs_no_check():
    """An X that the forward pass converted (here from integers) is the cache's own: no CRC, nothing to detect."""
    X = np.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    _, cache = cnnlib.conv2d_forward(X, np.ones((1, 3, 2, 2)), np.zeros(1))
    assert cache.X_crc is None
    _, cache = cnnlib.conv2d_forward(X.astype(float), np.ones((1, 3, 2, 2)), np.zeros(1))
    assert isinstance(cache.X_crc, int)


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

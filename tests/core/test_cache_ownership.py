"""Editing an array in place between a forward and a backward pass never gives a wrong gradient.

A cache must not silently depend on arrays the caller still holds: ``A, c = sigmoid_forward(Z);
A -= 0.5`` or refilling a batch buffer X after ``conv2d_forward`` would otherwise give a wrong
gradient without a word. Every cache either owns what its backward pass reads (a copy, a
mask, or only shapes), so that the gradient after the edit is bit for bit the gradient
without it, or, for the convolution's input X, detects the edit and raises a ``ValueError`` that names
the array (by comparing the cache's copy of a small X, by CRC-32 for an X too large to copy).
Each cache class says which.
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
    """An X that the forward pass converted (here from integers) is the cache's own: nothing to detect."""
    X = np.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    _, cache = cnnlib.conv2d_forward(X, np.ones((1, 3, 2, 2)), np.zeros(1))
    assert cache.X_check is None
    Xf = X.astype(float)
    _, cache = cnnlib.conv2d_forward(Xf, np.ones((1, 3, 2, 2)), np.zeros(1))
    assert isinstance(cache.X_check, np.ndarray) and np.shares_memory(cache.X_check, Xf)
    assert not np.shares_memory(cache.X, Xf)


@pytest.fixture(params=["copy", "crc"])
def x_watch(request, monkeypatch):
    """Both ways the convolution's cache watches X: a copy compared bit for bit (X of at most
    ``COPY_BYTES``) and a CRC-32 (larger X; the limit lowered here so that a small X takes that route)."""
    if request.param == "crc":
        monkeypatch.setattr(cnnlib._validate, "COPY_BYTES", 0)
    return request.param


@pytest.mark.parametrize("forward", [cnnlib.conv2d_forward, cnnlib.conv2d_forward_naive])
@pytest.mark.parametrize(
    "edit",
    ["swap two entries", "0.0 -> -0.0", "one ulp", "fill", "restore"],
)
@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "strided view"])
def test_every_kind_of_conv_x_edit_raises_on_both_routes(x_watch, forward, edit, strided):
    """Edits that a sum or a float comparison would miss are caught too, on a caller's view as well;
    editing X and restoring it before the backward pass gives the unedited gradient."""
    backward = cnnlib.conv2d_backward if forward is cnnlib.conv2d_forward else cnnlib.conv2d_backward_naive
    base = np.random.default_rng(7).standard_normal((2, 3, 5, 8))
    base[0, 0, 0, 0] = 0.0
    X = base[:, :, :, ::2] if strided else base[:, :, :, :4].copy()  # (2, 3, 5, 4) either way
    W, b = np.random.default_rng(8).standard_normal((2, 3, 3, 3)), np.zeros(2)
    Z, cache = forward(X, W, b, padding=1)
    expected = cnnlib.conv2d_backward_naive(np.ones(Z.shape), forward(X.copy(), W, b, padding=1)[1])
    assert isinstance(cache.X_check, np.ndarray if x_watch == "copy" else int)
    before = X.copy()
    if edit == "swap two entries":
        X[1, 2, 3, 0], X[1, 2, 3, 1] = X[1, 2, 3, 1], X[1, 2, 3, 0]
    elif edit == "0.0 -> -0.0":
        X[0, 0, 0, 0] = -0.0
    elif edit == "one ulp":
        X[1, 1, 1, 1] = np.nextafter(X[1, 1, 1, 1], np.inf)
    else:
        X.fill(7.0)
    if edit == "restore":
        X[...] = before
        got = backward(np.ones(Z.shape), cache)
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
        return
    assert not np.array_equal(X.view(np.uint64), before.view(np.uint64))
    with pytest.raises(ValueError, match=f"^{backward.__name__}: X, the input of {forward.__name__}, was modified"):
        backward(np.ones(Z.shape), cache)


def test_conv_x_is_copied_up_to_copy_bytes_and_watched_by_crc_above():
    """The route follows X's size in bytes: a copy up to ``COPY_BYTES``, a CRC-32 (and no copy) above."""
    limit = cnnlib._validate.COPY_BYTES
    W, b = np.ones((1, 1, 1, 1)), np.zeros(1)
    for dtype in (np.float32, np.float64):
        n = limit // np.dtype(dtype).itemsize
        at_limit = np.zeros((1, 1, 1, n), dtype=dtype)
        _, cache = cnnlib.conv2d_forward(at_limit, W, b)
        assert isinstance(cache.X_check, np.ndarray) and not np.shares_memory(cache.X, at_limit)
        above = np.zeros((1, 1, 1, n + 1), dtype=dtype)
        _, cache = cnnlib.conv2d_forward(above, W, b)
        assert isinstance(cache.X_check, int) and np.shares_memory(cache.X, above)


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

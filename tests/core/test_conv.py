"""Tests for cnnlib.conv: gradients by finite differences, loop vs fast, shapes, adjointness, bad input.

Every gradient test uses a random upstream gradient dZ (never all ones) and the scalar
``f(X, W, b) = sum(conv(X, W, b) * dZ)``, whose gradient is exactly what
``conv2d_backward(dZ, cache)`` must return.
"""

from __future__ import annotations

import numpy as np
import pytest
from _strategies import ConvCase, conv_cases, reached_mask
from hypothesis import example, given, settings

import cnnlib
from cnnlib import _conv_fast

FAST = (cnnlib.conv2d_forward, cnnlib.conv2d_backward)
NAIVE = (cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive)
IMPLS = pytest.mark.parametrize("impl", [FAST, NAIVE], ids=["fast", "naive"])


# --------------------------------------------------------------------------- local checker
# Kept local on purpose: the convolution is checked by code that shares nothing with
# cnnlib (cnnlib.gradcheck has its own tests).


def numerical_gradient(f, x, dout, h=1e-6):
    """Central differences of ``sum(f(x) * dout)`` with respect to every entry of ``x``.

    ``x`` itself is never modified; each probe works on a private copy.
    """
    x = np.array(x, dtype=np.float64)  # private copy
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = f(x)
        x[idx] = old - h
        minus = f(x)
        x[idx] = old
        grad[idx] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def rel_error(a, b):
    """max |a - b| relative to max(max |a|, max |b|, 1).

    The inputs are standard normal, so true gradients are of order one; the floor of 1
    keeps a gradient that is small by cancellation (db = sum of random dZ near zero)
    from turning the finite-difference rounding noise (~1e-10) into a large relative
    error. A wrong backward is off by order one and is still rejected by orders of magnitude.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1.0)
    return float(np.max(np.abs(a - b)) / scale)


def conv_grad_errors(case: ConvCase, backward=cnnlib.conv2d_backward, forward=cnnlib.conv2d_forward):
    """Relative errors of (dX, dW, db) from ``backward`` against finite differences of the fast forward."""
    X, W, b, dZ = case.arrays()
    kw = case.kwargs
    _, cache = forward(X, W, b, **kw)
    dX, dW, db = backward(dZ, cache)

    def fwd(X_, W_, b_):
        return cnnlib.conv2d_forward(X_, W_, b_, **kw)[0]

    num_dX = numerical_gradient(lambda t: fwd(t, W, b), X, dZ)
    num_dW = numerical_gradient(lambda t: fwd(X, t, b), W, dZ)
    num_db = numerical_gradient(lambda t: fwd(X, W, t), b, dZ)
    return {
        "dX": rel_error(dX, num_dX),
        "dW": rel_error(dW, num_dW),
        "db": rel_error(db, num_db),
    }, (dX, num_dX)


def case(N=1, C=1, F=1, H=5, W=5, KH=3, KW=3, stride=(1, 1), padding=(0, 0), dilation=(1, 1), seed=0):
    return ConvCase(N, C, F, H, W, KH, KW, stride, padding, dilation, seed)


# Hand-picked corners that Hypothesis should never be trusted to find on its own.
CORNERS = [
    case(),  # plain 3x3 valid convolution
    case(N=2, C=3, F=2, H=4, W=6, KH=1, KW=1),  # 1x1 kernel, non-square input
    case(N=2, C=2, F=3, H=5, W=4, KH=5, KW=4),  # kernel exactly as large as the input
    case(N=1, C=2, F=2, H=3, W=2, KH=5, KW=4, padding=(1, 1)),  # ... as large as the padded input
    case(N=2, C=2, F=2, H=2, W=3, KH=3, KW=2, padding=(2, 1), dilation=(2, 3)),  # dilated, padded, tight
    case(N=2, C=1, F=2, H=6, W=7, KH=3, KW=2, stride=(2, 3)),  # floor leaves rows/cols unused
    case(N=1, C=2, F=1, H=8, W=5, KH=2, KW=3, stride=(3, 2), padding=(2, 0), dilation=(2, 1)),
    case(N=3, C=2, F=2, H=7, W=6, KH=2, KW=3, stride=(3, 1), padding=(0, 2), dilation=(1, 2)),
]


# --------------------------------------------------------------------------- gradients


@settings(max_examples=200, deadline=None)
@given(conv_cases())
@example(CORNERS[0])
@example(CORNERS[1])
@example(CORNERS[2])
@example(CORNERS[3])
@example(CORNERS[4])
@example(CORNERS[5])
@example(CORNERS[6])
@example(CORNERS[7])
def test_gradients_match_finite_differences(c):
    errors, _ = conv_grad_errors(c)
    assert max(errors.values()) < 1e-7, (c, errors)


@settings(max_examples=40, deadline=None)
@given(conv_cases(max_extra=2))
@example(CORNERS[5])
def test_naive_gradients_match_finite_differences(c):
    errors, _ = conv_grad_errors(c, backward=cnnlib.conv2d_backward_naive, forward=cnnlib.conv2d_forward_naive)
    assert max(errors.values()) < 1e-7, (c, errors)


@settings(max_examples=60, deadline=None)
@given(conv_cases())
@example(CORNERS[5])
@example(CORNERS[6])
def test_unreached_input_cells_get_exactly_zero_gradient(c):
    X, W, b, dZ = c.arrays()
    mask = reached_mask(c)  # (H, W)
    for forward, backward in (FAST, NAIVE):
        _, cache = forward(X, W, b, **c.kwargs)
        dX, _, _ = backward(dZ, cache)
        assert np.all(dX[:, :, ~mask] == 0.0), (c, forward.__name__)


@pytest.mark.parametrize(
    ("H", "K", "S", "P", "D", "unused_rows"),
    [
        (6, 3, 2, 0, 1, [5]),  # (6 - 3) = 3 is odd: the last row is never read
        (7, 2, 3, 0, 1, [2, 5, 6]),  # windows start at 0, 3; rows 2 and 5-6 unused
        (5, 2, 2, 1, 2, [0, 2, 4]),  # padded rows 0..6, windows read 0,2 / 2,4 / 4,6 -> only odd input rows
        (9, 3, 3, 2, 1, []),  # floor((9+4-3)/3)=3: windows start at 0,3,6,9 in padded coords -> all used
    ],
)
def test_floor_remainder_rows_have_zero_gradient(H, K, S, P, D, unused_rows):
    c = case(N=2, C=2, F=2, H=H, W=4, KH=K, KW=1, stride=(S, 1), padding=(P, 0), dilation=(D, 1), seed=3)
    assert (H + 2 * P - D * (K - 1) - 1) % S != 0 or not unused_rows or D > 1
    X, W, b, dZ = c.arrays()
    for forward, backward in (FAST, NAIVE):
        _, cache = forward(X, W, b, **c.kwargs)
        dX, _, _ = backward(dZ, cache)
        used = [r for r in range(H) if r not in unused_rows]
        assert np.all(dX[:, :, unused_rows, :] == 0.0)
        assert np.all(np.abs(dX[:, :, used, :]).sum(axis=(0, 1, 3)) > 0)  # the rest does get gradient


# --------------------------------------------------------------------------- a broken backward is caught


_ORIGINAL_COL2IM_ADD = _conv_fast.col2im_add


def _dX_unflipped(dZ, cache):
    """dX by a full correlation of dZ with the *unflipped* kernel (stride 1, no padding)."""
    X, W = cache.X, cache.W
    N, F, Ho, Wo = dZ.shape
    _, C, KH, KW = W.shape
    dX = np.zeros(X.shape)
    for i in range(KH):
        for j in range(KW):
            # wrong: pairs dZ[u, v] with W[KH-1-i, KW-1-j] instead of W[i, j]
            dX[:, :, i : i + Ho, j : j + Wo] += np.einsum("nfuv,fc->ncuv", dZ, W[:, :, KH - 1 - i, KW - 1 - j])
    return dX


def _broken(which):
    def backward(dZ, cache):
        dX, dW, db = cnnlib.conv2d_backward(dZ, cache)
        if which == "dX unflipped kernel":
            dX = _dX_unflipped(dZ, cache)
        elif which == "dW flipped":
            dW = dW[:, :, ::-1, ::-1]
        elif which == "dW without batch sum":
            dW = cnnlib.conv2d_backward(dZ[:1].repeat(dZ.shape[0], axis=0), cache)[1] / dZ.shape[0]
        elif which == "db first image only":
            db = dZ[0].sum(axis=(1, 2))
        elif which == "dX off by one row":
            dX = np.roll(dX, 1, axis=2)
        return dX, dW, db

    return backward


@pytest.mark.parametrize(
    ("which", "grad"),
    [
        ("dX unflipped kernel", "dX"),
        ("dW flipped", "dW"),
        ("dW without batch sum", "dW"),
        ("db first image only", "db"),
        ("dX off by one row", "dX"),
    ],
)
def test_checker_rejects_a_broken_backward(which, grad):
    c = case(N=2, C=2, F=3, H=5, W=6, KH=3, KW=2, seed=11)
    errors, _ = conv_grad_errors(c, backward=_broken(which))
    assert errors[grad] > 1e-2, errors
    # and the unbroken gradients still pass, so the checker is not simply failing everything
    assert all(e < 1e-7 for k, e in errors.items() if k != grad), errors


def test_checker_rejects_unflipped_scatter_inside_cnnlib(monkeypatch):
    """Break the fast path's own col2im scatter (kernel not flipped) and watch the check fail."""

    def unflipped(dXp, cols6, S, D, Ho, Wo):
        _ORIGINAL_COL2IM_ADD(dXp, np.ascontiguousarray(cols6[:, :, ::-1, ::-1]), S, D, Ho, Wo)

    c = case(N=2, C=2, F=2, H=7, W=6, KH=3, KW=2, stride=(2, 1), padding=(1, 0), seed=5)
    assert conv_grad_errors(c)[0]["dX"] < 1e-7
    monkeypatch.setattr(_conv_fast, "col2im_add", unflipped)
    errors, _ = conv_grad_errors(c)
    assert errors["dX"] > 1e-2, errors
    assert errors["dW"] < 1e-7 and errors["db"] < 1e-7


def test_book_checker_rejects_the_unflipped_kernel():
    """cnnlib.check_gradients, the checker the notebooks print, also reports the classic mistake."""
    c = case(N=2, C=2, F=3, H=5, W=6, KH=3, KW=2, seed=11)
    X, W, b, dZ = c.arrays()
    inputs = {"X": X, "W": W, "b": b}
    good = cnnlib.check_gradients(cnnlib.conv2d_forward, cnnlib.conv2d_backward, inputs, dout=dZ)
    assert good.passed, str(good)
    bad = cnnlib.check_gradients(cnnlib.conv2d_forward, _broken("dX unflipped kernel"), inputs, dout=dZ)
    assert not bad.passed
    assert not bad["dX"].passed and bad["dW"].passed and bad["db"].passed, str(bad)


# --------------------------------------------------------------------------- loop vs fast


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(conv_cases(max_batch=3, max_channels=3, max_filters=3))
@example(CORNERS[2])
@example(CORNERS[3])
@example(CORNERS[4])
@example(CORNERS[6])
def test_loop_and_fast_agree(c):
    X, W, b, dZ = c.arrays()
    Z_fast, cache_fast = cnnlib.conv2d_forward(X, W, b, **c.kwargs)
    Z_loop, cache_loop = cnnlib.conv2d_forward_naive(X, W, b, **c.kwargs)
    _close(Z_fast, Z_loop)
    for g_fast, g_loop in zip(
        cnnlib.conv2d_backward(dZ, cache_fast), cnnlib.conv2d_backward_naive(dZ, cache_loop), strict=True
    ):
        assert g_fast.shape == g_loop.shape
        _close(g_fast, g_loop)


def test_fast_handles_non_contiguous_inputs():
    c = case(N=2, C=3, F=2, H=6, W=5, KH=3, KW=2, stride=(2, 1), padding=(1, 2), dilation=(1, 2), seed=8)
    X, W, b, dZ = c.arrays()
    Z, cache = cnnlib.conv2d_forward(X, W, b, **c.kwargs)
    grads = cnnlib.conv2d_backward(dZ, cache)
    # Fortran-ordered copies and reversed views hold the same numbers with other strides
    Xr = np.ascontiguousarray(X[:, :, ::-1, ::-1])[:, :, ::-1, ::-1]
    Wf = np.asfortranarray(W)
    bs = np.repeat(b, 2)[::2]
    dZf = np.asfortranarray(dZ)
    Z2, cache2 = cnnlib.conv2d_forward(Xr, Wf, bs, **c.kwargs)
    _close(Z2, Z)
    for g2, g in zip(cnnlib.conv2d_backward(dZf, cache2), grads, strict=True):
        _close(g2, g)


# --------------------------------------------------------------------------- output size


@settings(max_examples=150, deadline=None)
@given(conv_cases(max_kernel=5, max_extra=8))
def test_output_size_formula(c):
    Ho, Wo = c.out_hw  # counted window by window
    formula_h = (c.H + 2 * c.padding[0] - c.dilation[0] * (c.KH - 1) - 1) // c.stride[0] + 1
    formula_w = (c.W + 2 * c.padding[1] - c.dilation[1] * (c.KW - 1) - 1) // c.stride[1] + 1
    assert (formula_h, formula_w) == (Ho, Wo)
    assert cnnlib.conv_output_size(c.H, c.KH, c.stride[0], c.padding[0], c.dilation[0]) == Ho
    assert cnnlib.conv_output_size(c.W, c.KW, c.stride[1], c.padding[1], c.dilation[1]) == Wo
    X = np.zeros(c.x_shape)
    W = np.zeros(c.w_shape)
    b = np.zeros(c.F)
    assert cnnlib.conv2d_forward(X, W, b, **c.kwargs)[0].shape == c.z_shape


def test_conv_output_size_defaults_and_known_values():
    assert cnnlib.conv_output_size(5, 2) == 4  # seed 000: 5x5 input, 2x2 kernel -> 4x4
    assert cnnlib.conv_output_size(6, 3) == 4  # seed 002: 6x6 input, 3x3 filter -> 4x4
    assert cnnlib.conv_output_size(28, 5, 1, 2) == 28  # "same" padding
    assert cnnlib.conv_output_size(7, 3, 2, 0, 2) == 2  # dilated span 5: windows at 0 and 2
    assert cnnlib.conv_output_size(2, 3) < 1  # the kernel does not fit: callers raise their own error
    assert cnnlib.conv_output_size(np.int64(9), np.int32(3), stride=np.int64(2)) == 4


# --------------------------------------------------------------------------- im2col / col2im


@settings(max_examples=60, deadline=None)
@given(conv_cases(max_channels=3))
@example(CORNERS[4])
def test_im2col_col2im_adjoint(c):
    rng = np.random.default_rng(c.seed)
    x = rng.standard_normal(c.x_shape)
    Ho, Wo = c.out_hw
    y = rng.standard_normal((c.N, c.C * c.KH * c.KW, Ho * Wo))
    k = (c.KH, c.KW)
    cols = cnnlib.im2col(x, k, **c.kwargs)
    assert cols.shape == y.shape
    back = cnnlib.col2im(y, c.x_shape, k, **c.kwargs)
    assert back.shape == x.shape
    lhs = np.vdot(cols, y)
    rhs = np.vdot(x, back)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, np.abs(cols * y).sum())


def test_im2col_row_layout():
    """Row (c*KH + i)*KW + j, column u*W_out + v holds Xpad[n, c, u*S + i*D, v*S + j*D]."""
    c = case(N=2, C=2, H=5, W=6, KH=2, KW=3, stride=(2, 1), padding=(1, 0), dilation=(1, 2), seed=4)
    X = c.arrays()[0]
    cols = cnnlib.im2col(X, (c.KH, c.KW), **c.kwargs)
    Xp = np.pad(X, ((0, 0), (0, 0), (1, 1), (0, 0)))
    Ho, Wo = c.out_hw
    for n in range(c.N):
        for ch in range(c.C):
            for i in range(c.KH):
                for j in range(c.KW):
                    for u in range(Ho):
                        for v in range(Wo):
                            row = (ch * c.KH + i) * c.KW + j
                            assert cols[n, row, u * Wo + v] == Xp[n, ch, u * 2 + i, v + 2 * j]


# --------------------------------------------------------------------------- dtypes


@IMPLS
def test_float32_in_float32_out(impl):
    forward, backward = impl
    c = case(N=2, C=2, F=3, H=6, W=5, KH=3, KW=2, stride=(2, 1), padding=(1, 1), seed=9)
    X, W, b, dZ = c.arrays(np.float32)
    Z, cache = forward(X, W, b, **c.kwargs)
    assert Z.dtype == np.float32
    grads = backward(dZ, cache)
    assert [g.dtype for g in grads] == [np.float32] * 3
    # and the numbers are the float64 numbers, to float32 precision
    Z64, cache64 = forward(X.astype(np.float64), W.astype(np.float64), b.astype(np.float64), **c.kwargs)
    np.testing.assert_allclose(Z, Z64, rtol=1e-5, atol=1e-5)
    for g, g64 in zip(grads, backward(dZ.astype(np.float64), cache64), strict=True):
        np.testing.assert_allclose(g, g64, rtol=1e-5, atol=1e-5)


def test_integer_and_list_inputs_become_float64():
    Z, cache = cnnlib.conv2d_forward(np.arange(16).reshape(1, 1, 4, 4), [[[[1, 0], [0, -1]]]], [2])
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z[0, 0], np.full((3, 3), 2.0 - 5.0))
    assert all(g.dtype == np.float64 for g in cnnlib.conv2d_backward(np.ones((1, 1, 3, 3)), cache))


def test_float32_im2col_col2im_keep_dtype():
    x = np.ones((1, 2, 4, 4), dtype=np.float32)
    cols = cnnlib.im2col(x, 2)
    assert cols.dtype == np.float32
    assert cnnlib.col2im(cols, x.shape, 2).dtype == np.float32


# --------------------------------------------------------------------------- bad input


def _ok_arrays():
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)


X0, W0, b0 = _ok_arrays()


def _fwd(**over):
    """A forward call with one argument replaced."""
    args = {"X": X0, "W": W0, "b": b0, "stride": 1, "padding": 0, "dilation": 1}
    args.update(over)

    def call(forward, backward):
        return forward(
            args["X"], args["W"], args["b"], stride=args["stride"], padding=args["padding"], dilation=args["dilation"]
        )

    return call


_GOOD = object()


def _bwd(dZ=_GOOD, cache=_GOOD):
    """A backward call after a good forward, with dZ or the cache replaced."""

    def call(forward, backward):
        Z, good_cache = forward(X0, W0, b0)
        return backward(Z * 0.5 if dZ is _GOOD else dZ, good_cache if cache is _GOOD else cache)

    return call


def _with_nan(a, idx):
    a = a.copy()
    a[idx] = np.nan
    return a


BAD_INPUT = [
    # (id, call, error type, message after "<function name>: ")
    ("X 3-D", _fwd(X=X0[0]), ValueError, "X must be 4-D (N, C, H, W), got 3-D array with shape (3, 5, 5)"),
    ("W 2-D", _fwd(W=W0[0, 0]), ValueError, "W must be 4-D (F, C, KH, KW), got 2-D"),
    ("b 2-D", _fwd(b=b0[None]), ValueError, "b must be 1-D (F,)"),
    ("b wrong length", _fwd(b=b0[:3]), ValueError, "b must have one entry per filter, shape (4,), got (3,)"),
    ("kernel larger than padded input", _fwd(W=np.ones((4, 3, 6, 3))), ValueError, "the (dilated) kernel spans 6x3"),
    ("dilated kernel too large", _fwd(dilation=(1, 3)), ValueError, "the (dilated) kernel spans 3x7"),
    ("negative padding", _fwd(padding=-1), ValueError, "padding must be non-negative"),
    ("negative padding in pair", _fwd(padding=(1, -2)), ValueError, "padding must be non-negative"),
    ("zero stride", _fwd(stride=0), ValueError, "stride must be positive"),
    ("negative stride", _fwd(stride=(1, -1)), ValueError, "stride must be positive"),
    ("bool stride", _fwd(stride=True), TypeError, "stride must be an int or a pair of ints"),
    ("float stride", _fwd(stride=1.0), TypeError, "stride must be an int or a pair of ints"),
    ("stride triple", _fwd(stride=(1, 1, 1)), TypeError, "stride must be an int or a pair of ints"),
    ("string padding", _fwd(padding="same"), TypeError, "padding must be an int or a pair of ints"),
    ("zero dilation", _fwd(dilation=0), ValueError, "dilation must be positive"),
    ("NaN in X", _fwd(X=_with_nan(X0, (1, 2, 3, 4))), ValueError, "X must be finite, got 1 NaN/inf value(s)"),
    ("inf in W", _fwd(W=W0 * np.inf), ValueError, "W must be finite"),
    ("NaN in b", _fwd(b=_with_nan(b0, 0)), ValueError, "b must be finite"),
    ("complex X", _fwd(X=X0 + 1j), TypeError, "X must be real, got complex dtype complex128"),
    ("string W", _fwd(W=np.full(W0.shape, "a")), TypeError, "W must be a real numeric array"),
    ("object b", _fwd(b=np.array([None] * 4)), TypeError, "b must be a real numeric array"),
    ("ragged X", _fwd(X=[[1.0, 2.0], [3.0]]), TypeError, "X must be a numeric array"),
    ("empty X", _fwd(X=np.zeros((0, 3, 5, 5))), ValueError, "X and W must have no empty axis"),
    (
        "dZ wrong shape",
        _bwd(dZ=np.zeros((2, 4, 3, 2))),
        ValueError,
        "dZ must have shape (2, 4, 3, 3) (the shape of Z from the forward pass), got (2, 4, 3, 2)",
    ),
    ("dZ wrong rank", _bwd(dZ=np.zeros((4, 3, 3))), ValueError, "dZ must have shape (2, 4, 3, 3)"),
    ("dZ complex", _bwd(dZ=np.zeros((2, 4, 3, 3), complex)), TypeError, "dZ must be real"),
    ("cache a tuple", _bwd(cache=(X0, W0, b0)), TypeError, "cache must be the second value returned by"),
    ("cache None", _bwd(cache=None), TypeError, "cache must be the second value returned by"),
]


@IMPLS
@pytest.mark.parametrize(("case_id", "call", "exc", "message"), BAD_INPUT, ids=[row[0] for row in BAD_INPUT])
def test_bad_input(impl, case_id, call, exc, message):
    forward, backward = impl
    name = forward.__name__ if call.__qualname__.startswith("_fwd") else backward.__name__
    with pytest.raises(Exception) as info:
        call(forward, backward)
    assert type(info.value) is exc, f"{case_id}: {type(info.value).__name__}: {info.value}"
    assert str(info.value).startswith(f"{name}: {message}"), str(info.value)


@IMPLS
def test_channel_mismatch_message_is_exact(impl):
    forward, _ = impl
    X = np.zeros((2, 3, 5, 5))
    W = np.zeros((8, 4, 3, 3))
    with pytest.raises(ValueError) as info:
        forward(X, W, np.zeros(8))
    assert str(info.value) == (
        f"{forward.__name__}: X has 3 channels but W expects 4 (X.shape=(2, 3, 5, 5), W.shape=(8, 4, 3, 3))"
    )


def test_numpy_integer_hyperparameters_are_accepted():
    Z1, _ = cnnlib.conv2d_forward(X0, W0, b0, stride=np.int64(2), padding=(np.int32(1), 0))
    Z2, _ = cnnlib.conv2d_forward(X0, W0, b0, stride=2, padding=(1, 0))
    np.testing.assert_array_equal(Z1, Z2)


BAD_HELPER_INPUT = [
    ("im2col", lambda: cnnlib.im2col(X0[0], 3), ValueError, "X must be 4-D"),
    ("im2col", lambda: cnnlib.im2col(X0, 0), ValueError, "kernel_size must be positive"),
    ("im2col", lambda: cnnlib.im2col(X0, 6), ValueError, "kernel 6x6"),
    ("im2col", lambda: cnnlib.im2col(X0, 2, stride=0), ValueError, "stride must be positive"),
    ("im2col", lambda: cnnlib.im2col(X0 + 0j, 2), TypeError, "X must be real"),
    ("col2im", lambda: cnnlib.col2im(np.zeros((2, 27, 8)), X0.shape, 3), ValueError, "cols must have shape (2, 27, 9)"),
    ("col2im", lambda: cnnlib.col2im(np.zeros((2, 27, 9)), (3, 5, 5), 3), ValueError, "input_shape must be"),
    ("col2im", lambda: cnnlib.col2im(np.zeros((2, 27, 9)), 5, 3), TypeError, "input_shape must be"),
    (
        "col2im",
        lambda: cnnlib.col2im(np.zeros((2, 27, 9)), X0.shape, 3, padding=-1),
        ValueError,
        "padding must be non-negative",
    ),
    ("conv_output_size", lambda: cnnlib.conv_output_size(5, 3, 0), ValueError, "stride must be positive"),
    ("conv_output_size", lambda: cnnlib.conv_output_size(5, 3, 1, -1), ValueError, "padding must be non-negative"),
    ("conv_output_size", lambda: cnnlib.conv_output_size(5, 3, 1.5), TypeError, "stride must be an int"),
    ("conv_output_size", lambda: cnnlib.conv_output_size(5, 0), ValueError, "kernel must be positive"),
    ("conv_output_size", lambda: cnnlib.conv_output_size(5, 2, dilation=True), TypeError, "dilation must be an int"),
]


@pytest.mark.parametrize(("name", "call", "exc", "message"), BAD_HELPER_INPUT)
def test_bad_input_helpers(name, call, exc, message):
    with pytest.raises(Exception) as info:
        call()
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    assert str(info.value).startswith(f"{name}: {message}"), str(info.value)


# The fast path's size-dependent routes (cnnlib/_conv_fast.py): stride 1 batches small images into
# one product per block (SMALL_IMAGE_BYTES) and keeps one product per image for larger ones; blocks
# are sized by BLOCK_BYTES (here small, so that a batch needs several blocks and the last one is
# short), and very large images are done a chunk or band of output rows at a time. Every route agrees
# with the loops.
@pytest.mark.parametrize("route", ["batched", "per image"])
@pytest.mark.parametrize("block_bytes", [1, 700, 5000, 1 << 21])
@pytest.mark.parametrize("kernel", [(3, 2), (2, 1)], ids=["3x2 kernel", "kernel one column wide"])
@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((5, 2, 6, 5), {"padding": 1}),
        ((4, 3, 5, 7), {"padding": (0, 2), "dilation": (2, 1)}),
        ((3, 1, 7, 6), {}),
    ],
)
def test_fast_routes_and_block_sizes_agree_with_the_loops(monkeypatch, route, block_bytes, kernel, shape, kwargs):
    monkeypatch.setattr(_conv_fast, "SMALL_IMAGE_BYTES", 1 << 40 if route == "batched" else 0)
    monkeypatch.setattr(_conv_fast, "BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(block_bytes + len(route))
    X = rng.standard_normal(shape)
    W = rng.standard_normal((3, shape[1], *kernel))
    b = rng.standard_normal(3)
    Z, cache = cnnlib.conv2d_forward(X, W, b, **kwargs)
    Z_loop, cache_loop = cnnlib.conv2d_forward_naive(X, W, b, **kwargs)
    _close(Z, Z_loop)
    dZ = rng.standard_normal(Z.shape)
    for g, g_loop in zip(cnnlib.conv2d_backward(dZ, cache), cnnlib.conv2d_backward_naive(dZ, cache_loop), strict=True):
        _close(g, g_loop)

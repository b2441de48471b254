"""2-D transposed convolution, forward and backward (notebook 12, eqs. 12.1-12.5).

A transposed convolution is chapter 08's input gradient used as a layer: its forward pass is
``vec(Y) = T^T vec(X)`` (notebook 08, eq. 8.12), where T is the matrix of a stride-S
convolution with the same kernel; its backward pass is therefore a convolution. Every input
cell stamps a copy of the kernel, scaled by its value, onto the output, S cells further for
each step of the input; overlapping stamps add up::

    Ypad[n, f, u*S + i*D, v*S + j*D] += X[n, c, u, v] * W[c, f, i, j]      (eq. 12.1)
    Y = Ypad with pad rows and columns cropped from each side, + b[f]

W is shaped (C, F, KH, KW): input channels first, as in PyTorch's ``conv_transpose2d``, and
as the convolution whose backward pass this is (that convolution maps F channels to C).
Output size (PyTorch's)::

    H_out = (H - 1)·S - 2·pad + D·(KH - 1) + output_padding + 1             (eq. 12.2)

``output_padding`` adds rows at the bottom (columns at the right) that no stamp reaches when
pad = 0: it picks which of the several input sizes a stride-S convolution maps to the same
output size (notebook 08, eq. 8.11) the transposed convolution returns. As in PyTorch it must
be smaller than the stride or the dilation.

Two implementations of the same mathematics, as for every layer of cnnlib:

* ``conv_transpose2d_forward_naive`` / ``conv_transpose2d_backward_naive`` — loops that read
  like eqs. (12.1), (12.3)-(12.5);
* ``conv_transpose2d_forward`` / ``conv_transpose2d_backward`` — one matrix product per batch
  and one strided add per kernel offset (col2im, notebook 10, eq. 10.5) forward; im2col of
  the upstream gradient and two matrix products backward.

In code ``S``, ``pad``, ``op`` and ``D`` are the (h, w) stride, padding, output padding and
dilation, in that order.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import conv as _conv
from ._validate import (
    as_array,
    check_cache,
    check_ndim,
    check_unchanged,
    check_upstream,
    nonnegative_pair,
    positive_pair,
    watch,
)

__all__ = [
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
    "conv_transpose2d_forward_naive",
    "conv_transpose2d_backward_naive",
    "conv_transpose_output_size",
]


@dataclass(frozen=True)
class ConvTransposeCache:
    """What the backward pass needs: the inputs and the hyper-parameters.

    As ``ConvCache``: W and b are the cache's own read-only copies; X is kept as
    ``_validate.watch`` decides (an X of at most ``COPY_BYTES`` copied, the copy compared bit
    for bit with the caller's X; a larger X a read-only view with the CRC-32 of its bytes;
    ``X_check`` ``None`` when the forward pass made X anew), checked by the backward pass, so
    an in-place edit of X in between raises ``ValueError``.
    """

    X: np.ndarray  # (N, C, H, W), read-only: the cache's own copy or a view of the caller's X
    X_check: np.ndarray | int | None  # the caller's X (to compare) or its CRC-32; None if X is the cache's own
    W: np.ndarray  # (C, F, KH, KW)
    b: np.ndarray  # (F,)
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    out_shape: tuple[int, int, int, int]  # (N, F, H_out, W_out)


def conv_transpose_output_size(
    length: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Output length along one axis: ``(length - 1)·S - 2·pad + D·(K - 1) + output_padding + 1`` (eq. 12.2).

    The inverse of ``conv_output_size`` (notebook 08, eq. 8.1): for ``0 <= output_padding < S``,
    ``conv_output_size(conv_transpose_output_size(H, K, S, pad, op, D), K, S, pad, D) == H``.
    A result below 1 means that the padding crops away everything; callers turn that into
    their own error message.
    """
    fn = "conv_transpose_output_size"
    for name, value, minimum in (
        ("length", length, 1),
        ("kernel", kernel, 1),
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("output_padding", output_padding, 0),
        ("dilation", dilation, 1),
    ):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{fn}: {name} must be an int, got {value!r}")
        if value < minimum:
            kind = "positive" if minimum == 1 else "non-negative"
            raise ValueError(f"{fn}: {name} must be {kind} (>= {minimum}), got {value!r}")
    return _out_size(int(length), int(kernel), int(stride), int(padding), int(output_padding), int(dilation))


def _out_size(length: int, kernel: int, stride: int, padding: int, output_padding: int, dilation: int) -> int:
    """Eq. (12.2) without the checks."""
    return (length - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _prepare(fn, X, W, b, stride, padding, output_padding, dilation):
    """Check the forward inputs; return them with (S, pad, op, D), the common dtype and Y's shape."""
    X_given, X = X, as_array(fn, "X", X, finite=True)
    W = as_array(fn, "W", W, finite=True, private=True)
    b = as_array(fn, "b", b, finite=True, private=True)
    check_ndim(fn, "X", X, 4, "(N, C, H, W)")
    check_ndim(fn, "W", W, 4, "(C, F, KH, KW)")
    check_ndim(fn, "b", b, 1, "(F,)")
    S = positive_pair(fn, "stride", stride)
    pad = nonnegative_pair(fn, "padding", padding)
    op = nonnegative_pair(fn, "output_padding", output_padding)
    D = positive_pair(fn, "dilation", dilation)
    N, C, H, Wd = X.shape
    Cw, F, KH, KW = W.shape
    if Cw != C:
        raise ValueError(
            f"{fn}: X has {C} channels but W expects {Cw} (W is (C, F, KH, KW); X.shape={X.shape}, W.shape={W.shape})"
        )
    if b.shape[0] != F:
        raise ValueError(f"{fn}: b must have one entry per output channel, shape ({F},), got {b.shape}")
    if min(X.shape) == 0 or min(W.shape) == 0:
        raise ValueError(f"{fn}: X and W must have no empty axis, got X.shape={X.shape}, W.shape={W.shape}")
    for axis in (0, 1):
        if op[axis] >= max(S[axis], D[axis]):
            raise ValueError(
                f"{fn}: output_padding must be smaller than the stride or the dilation, "
                f"got output_padding={output_padding} for stride={stride}, dilation={dilation}"
            )
    Ho = _out_size(H, KH, S[0], pad[0], op[0], D[0])
    Wo = _out_size(Wd, KW, S[1], pad[1], op[1], D[1])
    if Ho < 1 or Wo < 1:
        raise ValueError(
            f"{fn}: the padding crops the whole output away: eq. (12.2) gives {Ho}x{Wo} "
            f"(X.shape={X.shape}, W.shape={W.shape}, stride={stride}, padding={padding}, dilation={dilation})"
        )
    dtype = np.result_type(X.dtype, W.dtype, b.dtype)
    X, X_check = watch(X_given, X)
    return X, X_check, W, b, S, pad, op, D, dtype, (N, F, Ho, Wo)


def _padded_shape(out_shape, pad):
    """(N, F, H_out + 2·pad, W_out + 2·pad): the output before the padding is cropped."""
    N, F, Ho, Wo = out_shape
    return (N, F, Ho + 2 * pad[0], Wo + 2 * pad[1])


def _crop(Yp: np.ndarray, pad, Ho: int, Wo: int) -> np.ndarray:
    return Yp[:, :, pad[0] : pad[0] + Ho, pad[1] : pad[1] + Wo]


# --------------------------------------------------------------------------- loop version


def conv_transpose2d_forward_naive(X, W, b, *, stride=1, padding=0, output_padding=0, dilation=1):
    """Transposed convolution forward pass with explicit loops (notebook 12, eq. 12.1).

    Every input cell (n, c, u, v) stamps the kernel ``W[c, f]``, scaled by ``X[n, c, u, v]``, onto
    the padded output at rows ``u*S + i*D`` and columns ``v*S + j*D``; stamps add up; the
    padding is cropped and the bias added::

        Ypad[n, f, u*S + i*D, v*S + j*D] += X[n, c, u, v] * W[c, f, i, j]

    Shapes: X (N, C, H, W), W (C, F, KH, KW), b (F,) -> Y (N, F, H_out, W_out) with
    ``H_out = (H - 1)·S - 2·pad + D·(KH - 1) + output_padding + 1`` (eq. 12.2). Returns ``(Y, cache)``.
    """
    fn = "conv_transpose2d_forward_naive"
    X, X_check, W, b, S, pad, op, D, dtype, out_shape = _prepare(fn, X, W, b, stride, padding, output_padding, dilation)
    N, C, H, Wd = X.shape
    _, F, KH, KW = W.shape
    Yp = np.zeros(_padded_shape(out_shape, pad), dtype=dtype)  # (N, F, Ho + 2pad, Wo + 2pad)
    for n in range(N):
        for c in range(C):
            for u in range(H):
                for v in range(Wd):
                    for f in range(F):
                        for i in range(KH):
                            for j in range(KW):
                                Yp[n, f, u * S[0] + i * D[0], v * S[1] + j * D[1]] += X[n, c, u, v] * W[c, f, i, j]
    Y = _crop(Yp, pad, out_shape[2], out_shape[3]).copy()  # (N, F, Ho, Wo)
    for f in range(F):
        Y[:, f] += b[f]
    return Y, ConvTransposeCache(X, X_check, W, b, S, pad, op, D, out_shape)


def conv_transpose2d_backward_naive(dY, cache):
    """Transposed convolution backward pass with explicit loops (notebook 12, eqs. 12.3-12.5).

    With dYpad the upstream gradient framed by pad rows and columns of zeros:

    (12.3) ``db[f] = sum_{n, x, y} dY[n, f, x, y]``
    (12.4) ``dW[c, f, i, j] = sum_{n, u, v} X[n, c, u, v] * dYpad[n, f, u*S + i*D, v*S + j*D]``
    (12.5) ``dX[n, c, u, v] = sum_{f, i, j} W[c, f, i, j] * dYpad[n, f, u*S + i*D, v*S + j*D]``

    Eq. (12.5) is a convolution of dY with W at stride S, padding pad and dilation D (W read as
    F-channel filters, one per input channel c): the forward sum of notebook 08, eq. 8.2.
    Shapes: dY (N, F, H_out, W_out) -> dX (N, C, H, W), dW (C, F, KH, KW), db (F,).
    """
    fn = "conv_transpose2d_backward_naive"
    check_cache(fn, cache, ConvTransposeCache, "conv_transpose2d_forward_naive or conv_transpose2d_forward")
    dY = check_upstream(fn, "dY", dY, cache.out_shape)
    check_unchanged(fn, "X", cache.X, cache.X_check, "the input of conv_transpose2d_forward_naive")
    X, W = cache.X, cache.W
    S, pad, D = cache.stride, cache.padding, cache.dilation
    N, C, H, Wd = X.shape
    _, F, KH, KW = W.shape
    dtype = np.result_type(dY.dtype, X.dtype, W.dtype)
    dYp = np.zeros(_padded_shape(cache.out_shape, pad), dtype=dtype)  # (N, F, Ho + 2pad, Wo + 2pad)
    _crop(dYp, pad, cache.out_shape[2], cache.out_shape[3])[...] = dY
    db = np.zeros(F, dtype=dtype)  # (F,), eq. (12.3)
    for f in range(F):
        db[f] = dY[:, f].sum()
    dW = np.zeros(W.shape, dtype=dtype)  # (C, F, KH, KW), eq. (12.4)
    dX = np.zeros(X.shape, dtype=dtype)  # (N, C, H, W), eq. (12.5)
    for n in range(N):
        for c in range(C):
            for u in range(H):
                for v in range(Wd):
                    for f in range(F):
                        for i in range(KH):
                            for j in range(KW):
                                g = dYp[n, f, u * S[0] + i * D[0], v * S[1] + j * D[1]]
                                dW[c, f, i, j] += X[n, c, u, v] * g
                                dX[n, c, u, v] += W[c, f, i, j] * g
    return dX, dW, db


# --------------------------------------------------------------------------- fast version


def conv_transpose2d_forward(X, W, b, *, stride=1, padding=0, output_padding=0, dilation=1):
    """Transposed convolution forward pass, fast (notebook 12, eq. 12.1 as chapter 10's col2im).

    ``cols[n] = W2.T @ X[n]`` with ``W2 = W.reshape(C, F*KH*KW)``: one column of kernel stamps
    per input cell; then col2im (notebook 10, eq. 10.5) adds each stamp onto the padded output,
    one strided add per kernel offset (i, j). These are exactly the two steps of
    ``conv2d_backward``'s input gradient (eq. 10.5), so a transposed convolution is the input
    gradient of the convolution with the same W, stride, padding and dilation.

    Shapes: X (N, C, H, W), W (C, F, KH, KW), b (F,) -> Y (N, F, H_out, W_out),
    ``H_out = (H - 1)·S - 2·pad + D·(KH - 1) + output_padding + 1`` (eq. 12.2). stride, padding,
    output_padding, dilation: int or (h, w). Returns ``(Y, cache)``.
    """
    fn = "conv_transpose2d_forward"
    X, X_check, W, b, S, pad, op, D, dtype, out_shape = _prepare(fn, X, W, b, stride, padding, output_padding, dilation)
    N, C, H, Wd = X.shape
    _, F, KH, KW = W.shape
    W2T = W.reshape(C, F * KH * KW).T.astype(dtype, copy=False)  # (F*KH*KW, C)
    cols = np.matmul(W2T, X.reshape(N, C, H * Wd).astype(dtype, copy=False))  # (N, F*KH*KW, H*W)
    cols6 = cols.reshape(N, F, KH, KW, H, Wd)
    Yp = np.zeros(_padded_shape(out_shape, pad), dtype=dtype)  # (N, F, Ho + 2pad, Wo + 2pad)
    for i in range(KH):
        rows = slice(i * D[0], i * D[0] + S[0] * (H - 1) + 1, S[0])
        for j in range(KW):
            cols_ = slice(j * D[1], j * D[1] + S[1] * (Wd - 1) + 1, S[1])
            Yp[:, :, rows, cols_] += cols6[:, :, i, j]  # the (i, j) entry of every stamp
    Y = _crop(Yp, pad, out_shape[2], out_shape[3]) + b.astype(dtype, copy=False).reshape(1, F, 1, 1)
    return Y, ConvTransposeCache(X, X_check, W, b, S, pad, op, D, out_shape)


def conv_transpose2d_backward(dY, cache):
    """Transposed convolution backward pass, fast (notebook 12, eqs. 12.3-12.5 as matrix products).

    The windows of eqs. (12.4)-(12.5) are im2col's columns of dY (notebook 10, eq. 10.1) at
    stride S, padding pad and dilation D, of which the first H x W output positions are used
    (a larger output_padding than the stride needs adds positions no input cell reaches):

    * (12.3) ``db = dY summed over (n, x, y)``
    * (12.4) ``dW2 = sum_n X[n] @ cols[n].T``
    * (12.5) ``dX[n] = W2 @ cols[n]``: a convolution of dY with W.

    Shapes: dY (N, F, H_out, W_out) -> dX (N, C, H, W), dW (C, F, KH, KW), db (F,).
    """
    fn = "conv_transpose2d_backward"
    check_cache(fn, cache, ConvTransposeCache, "conv_transpose2d_forward")
    dY = check_upstream(fn, "dY", dY, cache.out_shape)
    check_unchanged(fn, "X", cache.X, cache.X_check, "the input of conv_transpose2d_forward")
    X, W = cache.X, cache.W
    S, pad, D = cache.stride, cache.padding, cache.dilation
    N, C, H, Wd = X.shape
    _, F, KH, KW = W.shape
    dtype = np.result_type(dY.dtype, X.dtype, W.dtype, cache.b.dtype)
    dY = dY.astype(dtype, copy=False)
    cols = _conv.im2col(dY, (KH, KW), stride=S, padding=pad, dilation=D)  # (N, F*KH*KW, H' * W')
    Hc = _conv.conv_output_size(cache.out_shape[2], KH, S[0], pad[0], D[0])  # >= H: one more row per
    Wc = _conv.conv_output_size(cache.out_shape[3], KW, S[1], pad[1], D[1])  # output_padding >= S
    cols = cols.reshape(N, F * KH * KW, Hc, Wc)[:, :, :H, :Wd].reshape(N, F * KH * KW, H * Wd)  # (N, FKK, H*W)
    W2 = W.reshape(C, F * KH * KW).astype(dtype, copy=False)  # (C, F*KH*KW)
    X3 = X.reshape(N, C, H * Wd).astype(dtype, copy=False)  # (N, C, H*W)
    db = dY.sum(axis=(0, 2, 3))  # (F,), eq. (12.3)
    dW2 = np.matmul(X3, cols.transpose(0, 2, 1)).sum(axis=0)  # (C, F*KH*KW), eq. (12.4)
    dX = np.matmul(W2, cols).reshape(N, C, H, Wd)  # (N, C, H, W), eq. (12.5)
    return dX, dW2.reshape(W.shape), db

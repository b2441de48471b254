"""2-D convolution (deep-learning style cross-correlation), forward and backward: the specification.

This module says *what* is computed, in the book's notation; ``cnnlib/_conv_fast.py`` says
how ``conv2d_forward`` and ``conv2d_backward`` compute it quickly. Two implementations of
the same mathematics:

* ``conv2d_forward_naive`` / ``conv2d_backward_naive`` — explicit loops that read like the
  book's equations: the forward sum of notebook 02 (eq. 2.3), the three gradients of
  notebook 03 (eqs. 3.1-3.3: dL/db, dL/dW, dL/dX; seed 003's equations (1)-(3)), with
  stride, padding and dilation as in notebook 08 (eqs. 8.2-8.4);
* ``conv2d_forward`` / ``conv2d_backward`` — the fast version (notebook 10): column
  matrices (``im2col``, eq. 10.1) and matrix products (eqs. 10.2-10.5), with ``col2im``
  (the adjoint of ``im2col``, eq. 10.7) for the input gradient. Speed:
  ``benchmarks/README.md``.

Layout is NCHW. With stride S, padding pad and dilation D the output size is (eq. 8.1)::

    H_out = floor((H + 2·pad - D(KH - 1) - 1) / S) + 1        (same for W_out)

as in PyTorch. Input rows or columns that the floor leaves unused receive zero
gradient. Indices in code are 0-based: the book's ``X[c, u+i-1, v+j-1]`` with
1-based i, j is ``X[c, u*S + i*D, v*S + j*D]`` here. In code the (h, w) pairs are
``S`` (stride), ``pad`` (padding) and ``D`` (dilation), always in that order, and
``Xpad`` is X with ``pad`` rows and columns of zeros on each side (the book's X̄).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import _conv_fast as fast
from . import grouped as _grouped
from ._validate import (
    as_array,
    check_cache,
    check_ndim,
    check_same_shape,
    check_unchanged,
    check_upstream,
    nonnegative_pair,
    pad_hw,
    positive_pair,
    watch,
)

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "conv2d_forward_naive",
    "conv2d_backward_naive",
    "conv_output_size",
    "im2col",
    "col2im",
]


@dataclass(frozen=True)
class ConvCache:
    """What the backward pass needs: the inputs and the hyper-parameters.

    W and b are the cache's own read-only copies (small), so an optimiser step on W between
    the forward and the backward pass does not change the gradient. X is kept as
    ``_validate.watch`` decides, and the backward pass raises ``ValueError`` if the caller's X
    was edited in place in between (refilling a batch buffer, say): an X of at most
    ``COPY_BYTES`` (2 MiB) is copied, and the copy compared bit for bit with the caller's X;
    a larger X is not copied (a copy would double the memory beyond Z that notebook 10
    measures), the cache keeps a read-only view and ``X_check``, the CRC-32 of its bytes.
    ``X_check`` is ``None`` when the forward pass converted X into a new array anyway.
    """

    X: np.ndarray  # (N, C, H, W), read-only: the cache's own copy or a view of the caller's X
    X_check: np.ndarray | int | None  # the caller's X (to compare) or its CRC-32; None if X is the cache's own
    W: np.ndarray  # (F, C, KH, KW)
    b: np.ndarray  # (F,)
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out_shape: tuple[int, int, int, int]  # (N, F, H_out, W_out)


def conv_output_size(length: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: ``floor((length + 2·pad - D(K-1) - 1) / S) + 1`` (notebook 08, eq. 8.1).

    All arguments are ints for one axis: the input length (H or W), the kernel size K,
    stride S, padding pad and dilation D. A result below 1 means that the dilated kernel
    ``D(K-1) + 1`` is longer than the padded input ``length + 2·pad``; callers turn that into
    their own error message.
    """
    fn = "conv_output_size"
    for name, value, minimum in (
        ("length", length, 0),
        ("kernel", kernel, 1),
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("dilation", dilation, 1),
    ):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{fn}: {name} must be an int, got {value!r}")
        if value < minimum:
            kind = "positive" if minimum == 1 else "non-negative"
            raise ValueError(f"{fn}: {name} must be {kind} (>= {minimum}), got {value!r}")
    return _out_size(int(length), int(kernel), int(stride), int(padding), int(dilation))


def _out_size(length: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """The formula of ``conv_output_size`` without the checks (callers have validated)."""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _prepare(fn, X, W, b, stride, padding, dilation):
    """Check the forward inputs; return them with (S, pad, D), the common dtype and Z's shape."""
    X_given, X = X, as_array(fn, "X", X, finite=True)
    W = as_array(fn, "W", W, finite=True, private=True)  # the cache's own copies
    b = as_array(fn, "b", b, finite=True, private=True)
    check_ndim(fn, "X", X, 4, "(N, C, H, W)")
    check_ndim(fn, "W", W, 4, "(F, C, KH, KW)")
    check_ndim(fn, "b", b, 1, "(F,)")
    S = positive_pair(fn, "stride", stride)
    pad = nonnegative_pair(fn, "padding", padding)
    D = positive_pair(fn, "dilation", dilation)
    N, C, H, Wd = X.shape
    F, Cw, KH, KW = W.shape
    if Cw != C:
        raise ValueError(f"{fn}: X has {C} channels but W expects {Cw} (X.shape={X.shape}, W.shape={W.shape})")
    if b.shape[0] != F:
        raise ValueError(f"{fn}: b must have one entry per filter, shape ({F},), got {b.shape} (W.shape={W.shape})")
    if min(X.shape) == 0 or min(W.shape) == 0:
        raise ValueError(f"{fn}: X and W must have no empty axis, got X.shape={X.shape}, W.shape={W.shape}")
    span_h, span_w = D[0] * (KH - 1) + 1, D[1] * (KW - 1) + 1
    if span_h > H + 2 * pad[0] or span_w > Wd + 2 * pad[1]:
        raise ValueError(
            f"{fn}: the (dilated) kernel spans {span_h}x{span_w} but the padded input is only "
            f"{H + 2 * pad[0]}x{Wd + 2 * pad[1]} (X.shape={X.shape}, W.shape={W.shape}, "
            f"padding={padding}, dilation={dilation})"
        )
    # compute in a common float type: float32 only when everything is float32
    dtype = np.result_type(X.dtype, W.dtype, b.dtype)
    Ho = _out_size(H, KH, S[0], pad[0], D[0])
    Wo = _out_size(Wd, KW, S[1], pad[1], D[1])
    X, X_check = watch(X_given, X)  # what the cache keeps, and how an edit is detected (see ConvCache)
    return X, X_check, W, b, S, pad, D, dtype, (N, F, Ho, Wo)


# --------------------------------------------------------------------------- loop version


def conv2d_forward_naive(X, W, b, *, stride=1, padding=0, dilation=1, groups=1):
    """Convolution forward pass with explicit loops (notebook 02, eq. 2.3; notebook 08, eq. 8.2; seed 003 §2.1).

    ``Z[n, f, u, v] = sum_{c, i, j} W[f, c, i, j] * Xpad[n, c, u*S + i*D, v*S + j*D] + b[f]``

    Shapes: X (N, C, H, W), W (F, C, KH, KW), b (F,) -> Z (N, F, H_out, W_out) with
    ``H_out = floor((H + 2·pad - D(KH-1) - 1)/S) + 1`` (eq. 8.1). Returns ``(Z, cache)``.
    ``groups``: W (F, C/groups, KH, KW), one convolution per group (``cnnlib.grouped``, notebook 12).
    """
    fn = "conv2d_forward_naive"
    if type(groups) is not int or groups != 1:  # notebook 12: W (F, C/groups, KH, KW), one convolution per group
        return _grouped.grouped_forward(conv2d_forward_naive, fn, X, W, b, stride, padding, dilation, groups)
    X, X_check, W, b, S, pad, D, dtype, out_shape = _prepare(fn, X, W, b, stride, padding, dilation)
    N, F, Ho, Wo = out_shape
    _, C, KH, KW = W.shape
    Xp = pad_hw(X, pad, dtype=dtype)  # (N, C, Hp, Wp)
    Z = np.zeros(out_shape, dtype=dtype)  # (N, F, Ho, Wo)
    for n in range(N):
        for f in range(F):
            for u in range(Ho):
                for v in range(Wo):
                    total = b[f]
                    for c in range(C):
                        for i in range(KH):
                            for j in range(KW):
                                total += W[f, c, i, j] * Xp[n, c, u * S[0] + i * D[0], v * S[1] + j * D[1]]
                    Z[n, f, u, v] = total
    return Z, ConvCache(X, X_check, W, b, S, pad, D, out_shape)


def conv2d_backward_naive(dZ, cache):
    """Convolution backward pass with explicit loops (notebook 03, eqs. 3.1-3.3; notebook 08, eqs. 8.3-8.4).

    (3.1) ``db[f] = sum_{n,u,v} dZ[n, f, u, v]``
    (3.2) ``dW[f, c, i, j] = sum_{n,u,v} dZ[n, f, u, v] * Xpad[n, c, u*S + i*D, v*S + j*D]``  (eq. 8.3)
    (3.3) ``dXpad[n, c, x, y] = sum_{f,i,j} dZ[n, f, (x - i*D)/S, (y - j*D)/S] * W[f, c, i, j]``
          over the (i, j) for which both quotients are whole numbers inside the output;
          ``dX`` is ``dXpad`` with the padding cropped away (eq. 8.4).

    These are seed 003's equations (1)-(3). Shapes: dZ (N, F, H_out, W_out) -> dX (N, C, H, W),
    dW (F, C, KH, KW), db (F,).
    """
    fn = "conv2d_backward_naive"
    if isinstance(cache, _grouped.GroupedConvCache):  # groups > 1: each group's backward pass (notebook 12)
        return _grouped.grouped_backward(conv2d_backward_naive, fn, dZ, cache)
    check_cache(fn, cache, ConvCache, "conv2d_forward_naive or conv2d_forward")
    dZ = check_upstream(fn, "dZ", dZ, cache.out_shape)
    check_unchanged(fn, "X", cache.X, cache.X_check, "the input of conv2d_forward_naive")
    X, W = cache.X, cache.W
    S, pad, D = cache.stride, cache.padding, cache.dilation
    N, F, Ho, Wo = cache.out_shape
    _, C, H, Wd = X.shape
    _, _, KH, KW = W.shape
    dtype = np.result_type(dZ.dtype, X.dtype, W.dtype)
    Xp = pad_hw(X, pad, dtype=dtype)  # (N, C, Hp, Wp)
    # eq. (3.1), bias: every output position of filter f used b[f]
    db = np.zeros(F, dtype=dtype)  # (F,)
    for f in range(F):
        for n in range(N):
            for u in range(Ho):
                for v in range(Wo):
                    db[f] += dZ[n, f, u, v]
    # eq. (3.2), weights: each weight touched every output position (weight sharing)
    dW = np.zeros(W.shape, dtype=dtype)  # (F, C, KH, KW)
    for f in range(F):
        for c in range(C):
            for i in range(KH):
                for j in range(KW):
                    for n in range(N):
                        for u in range(Ho):
                            for v in range(Wo):
                                dW[f, c, i, j] += dZ[n, f, u, v] * Xp[n, c, u * S[0] + i * D[0], v * S[1] + j * D[1]]
    # eq. (3.3), input: gather every output position whose window covered (x, y)
    dXp = np.zeros(Xp.shape, dtype=dtype)  # (N, C, Hp, Wp)
    for n in range(N):
        for c in range(C):
            for x in range(Xp.shape[2]):
                for y in range(Xp.shape[3]):
                    for f in range(F):
                        for i in range(KH):
                            for j in range(KW):
                                du, ru = divmod(x - i * D[0], S[0])
                                dv, rv = divmod(y - j * D[1], S[1])
                                if ru == 0 and rv == 0 and 0 <= du < Ho and 0 <= dv < Wo:
                                    dXp[n, c, x, y] += dZ[n, f, du, dv] * W[f, c, i, j]
    dX = dXp[:, :, pad[0] : pad[0] + H, pad[1] : pad[1] + Wd].copy()  # (N, C, H, W), eq. (8.4)
    return dX, dW, db


# --------------------------------------------------------------------------- columns


def _windows(Xp: np.ndarray, KH: int, KW: int, S, D, Ho: int, Wo: int) -> np.ndarray:
    """A strided view of every receptive field: (N, C, KH, KW, H_out, W_out), no copy."""
    N, C, Hp, Wp = Xp.shape
    sN, sC, sH, sW = Xp.strides
    return np.lib.stride_tricks.as_strided(
        Xp,
        shape=(N, C, KH, KW, Ho, Wo),
        strides=(sN, sC, sH * D[0], sW * D[1], sH * S[0], sW * S[1]),
        writeable=False,
    )


def im2col(X, kernel_size, *, stride=1, padding=0, dilation=1):
    """Unfold every receptive field into a column (notebook 10, eq. 10.1).

    X (N, C, H, W) -> cols (N, C*KH*KW, H_out*W_out); row ``(c*KH + i)*KW + j`` of
    image n holds ``Xpad[n, c, u*S + i*D, v*S + j*D]`` for every output position (u, v),
    ``H_out = floor((H + 2·pad - D(KH-1) - 1)/S) + 1`` (eq. 8.1).
    """
    fn = "im2col"
    X = as_array(fn, "X", X)
    check_ndim(fn, "X", X, 4, "(N, C, H, W)")
    KH, KW = positive_pair(fn, "kernel_size", kernel_size)
    S = positive_pair(fn, "stride", stride)
    pad = nonnegative_pair(fn, "padding", padding)
    D = positive_pair(fn, "dilation", dilation)
    N, C, H, W = X.shape
    Ho, Wo = _out_size(H, KH, S[0], pad[0], D[0]), _out_size(W, KW, S[1], pad[1], D[1])
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{fn}: kernel {KH}x{KW} (dilation {D}) does not fit the padded input of X.shape={X.shape}")
    Xp = pad_hw(X, pad)  # (N, C, Hp, Wp)
    return _windows(Xp, KH, KW, S, D, Ho, Wo).reshape(N, C * KH * KW, Ho * Wo)  # copies


def col2im(cols, input_shape, kernel_size, *, stride=1, padding=0, dilation=1):
    """The adjoint of ``im2col``: add every column entry back to the input cell it came from (notebook 10, eq. 10.5).

    cols (N, C*KH*KW, H_out*W_out) -> (N, C, H, W) with ``input_shape = (N, C, H, W)``.
    Overlapping windows accumulate; the padding is cropped away.
    ``<im2col(x), y> == <x, col2im(y)>`` (notebook 10, eq. 10.7).
    """
    fn = "col2im"
    cols = as_array(fn, "cols", cols)
    KH, KW = positive_pair(fn, "kernel_size", kernel_size)
    S = positive_pair(fn, "stride", stride)
    pad = nonnegative_pair(fn, "padding", padding)
    D = positive_pair(fn, "dilation", dilation)
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{fn}: input_shape must be a tuple (N, C, H, W), got {type(input_shape).__name__}")
    if len(input_shape) != 4 or not all(isinstance(s, numbers.Integral) and s >= 1 for s in input_shape):
        raise ValueError(f"{fn}: input_shape must be (N, C, H, W) of positive ints, got {input_shape!r}")
    N, C, H, W = (int(s) for s in input_shape)
    Ho, Wo = _out_size(H, KH, S[0], pad[0], D[0]), _out_size(W, KW, S[1], pad[1], D[1])
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{fn}: kernel {KH}x{KW} (dilation {D}) does not fit the padded input of shape {input_shape}")
    check_same_shape(fn, "cols", cols, (N, C * KH * KW, Ho * Wo), "im2col of input_shape")
    dXp = np.zeros((N, C, H + 2 * pad[0], W + 2 * pad[1]), dtype=cols.dtype)  # (N, C, Hp, Wp)
    fast.col2im_add(dXp, cols.reshape(N, C, KH, KW, Ho, Wo), S, D, Ho, Wo)
    return dXp[:, :, pad[0] : pad[0] + H, pad[1] : pad[1] + W].copy()  # (N, C, H, W)


# --------------------------------------------------------------------------- fast version


def conv2d_forward(X, W, b, *, stride=1, padding=0, dilation=1, groups=1):
    """Convolution forward pass, fast: im2col + one matrix product per image (notebook 10, eqs. 10.1-10.2).

    ``Z[n] = W2 @ cols[n] + b`` with ``W2 = W.reshape(F, C*KH*KW)`` and ``cols = im2col(X)``:
    the same numbers as ``conv2d_forward_naive`` (notebook 02, eq. 2.3; notebook 08, eq. 8.2).
    The column matrices are built a few images at a time in one reused buffer, never for the
    whole batch at once; stride 1 builds them by contiguous copies (``_conv_fast``).

    Shapes: X (N, C, H, W), W (F, C, KH, KW), b (F,) -> Z (N, F, H_out, W_out),
    ``H_out = floor((H + 2·pad - D(KH-1) - 1)/S) + 1`` (eq. 8.1). stride, padding, dilation:
    int or (h, w). Returns ``(Z, cache)``; pass the cache to ``conv2d_backward``. ``groups``:
    W (F, C/groups, KH, KW), one convolution per group (``cnnlib.grouped``, notebook 12, eq. 12.12).
    """
    fn = "conv2d_forward"
    if type(groups) is not int or groups != 1:  # notebook 12: W (F, C/groups, KH, KW), one convolution per group
        return _grouped.grouped_forward(conv2d_forward, fn, X, W, b, stride, padding, dilation, groups)
    X, X_check, W, b, S, pad, D, dtype, out_shape = _prepare(fn, X, W, b, stride, padding, dilation)
    N, F, Ho, Wo = out_shape
    _, C, KH, KW = W.shape
    W2 = W.reshape(F, C * KH * KW).astype(dtype, copy=False)  # (F, CK)
    b_common = b.astype(dtype, copy=False)  # (F,)
    # eq. (10.2): Z[n] = W2 @ cols[n] + b, cols[n] = im2col(X)[n] (eq. 10.1)
    if S == (1, 1):
        Z = fast.forward_stride1(X, W2, b_common, pad, D, KH, KW, Ho, Wo, dtype)  # (N, F, Ho*Wo)
    else:
        Z = fast.forward_general(X, W2, b_common, S, pad, D, KH, KW, Ho, Wo, dtype)  # (N, F, Ho*Wo)
    return Z.reshape(out_shape), ConvCache(X, X_check, W, b, S, pad, D, out_shape)


def conv2d_backward(dZ, cache):
    """Convolution backward pass, fast (notebook 10, eqs. 10.3-10.6): notebook 03's eqs. 3.1-3.3 as matrix products.

    * eq. (3.1) as (10.3): ``db = dZ summed over (n, u, v)``
    * eq. (3.2) as (10.4): ``dW = sum_n dZ[n] @ cols[n].T``  (correlation of X with dZ)
    * eq. (3.3) as (10.5): ``dX = col2im(W2.T @ dZ[n])``     (full convolution of dZ with W)

    (seed 003's equations (1)-(3)). Nothing of the forward pass is stored but its inputs: the
    columns are rebuilt block by block, so memory stays at a few images' worth. Stride 1
    needs no columns of X at all and gathers dX instead of scattering it (eq. 10.6;
    ``_conv_fast.backward_stride1``). Both routes agree with ``conv2d_backward_naive``.

    Shapes: dZ (N, F, H_out, W_out) -> dX (N, C, H, W), dW (F, C, KH, KW), db (F,).
    """
    fn = "conv2d_backward"
    if isinstance(cache, _grouped.GroupedConvCache):  # groups > 1: each group's backward pass (notebook 12)
        return _grouped.grouped_backward(conv2d_backward, fn, dZ, cache)
    check_cache(fn, cache, ConvCache, "conv2d_forward")
    dZ = check_upstream(fn, "dZ", dZ, cache.out_shape)
    check_unchanged(fn, "X", cache.X, cache.X_check, "the input of conv2d_forward")
    X, W = cache.X, cache.W
    S, pad, D = cache.stride, cache.padding, cache.dilation
    N, F, Ho, Wo = cache.out_shape
    _, C, KH, KW = W.shape
    dtype = np.result_type(dZ.dtype, X.dtype, W.dtype, cache.b.dtype)
    dZ3 = dZ.reshape(N, F, Ho * Wo).astype(dtype, copy=False)  # (N, F, Ho*Wo)
    W2T = np.ascontiguousarray(W.reshape(F, C * KH * KW).T, dtype=dtype)  # (CK, F)
    if S == (1, 1):
        # eqs. (3.1)-(3.3) in one pass over shifted copies of dZ (eq. 10.6)
        dX, dW2, db = fast.backward_stride1(X, dZ3, W2T, pad, D, KH, KW, Ho, Wo, dtype)
    else:
        db = dZ3.sum(axis=(0, 2))  # (F,), eq. (3.1) as (10.3)
        # eq. (3.2) as (10.4) and eq. (3.3) as (10.5)
        dX, dW2 = fast.backward_general(X, dZ3, W2T, S, pad, D, KH, KW, Ho, Wo, dtype)
    return dX, dW2.reshape(W.shape), db

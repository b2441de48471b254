"""2-D convolution (deep-learning style cross-correlation), forward and backward.

Two implementations of the same mathematics:

* ``conv2d_forward_naive`` / ``conv2d_backward_naive`` — explicit loops that read
  like the book's equations (notebook 03, equations (1)-(3); notebook 08 for
  stride, padding and dilation);
* ``conv2d_forward`` / ``conv2d_backward`` — the fast version (notebook 10):
  per-image column matrices (im2col) and matrix products, with ``col2im`` (the
  adjoint of ``im2col``) accumulating the input gradient. With stride 1 the
  kernel offsets become shifts along a padded image laid out row by row, so the
  backward pass needs no columns of X and gathers dX from shifted views instead
  of scattering it (``_backward_stride1``). Speed: ``benchmarks/README.md``.

Layout is NCHW. With stride S, padding P and dilation D the output size is::

    H_out = floor((H + 2P - D(KH - 1) - 1) / S) + 1        (same for W_out)

as in PyTorch. Input rows or columns that the floor leaves unused receive zero
gradient. Indices in code are 0-based: the book's ``X[c, u+i-1, v+j-1]`` with
1-based i, j is ``X[c, u*S + i*D, v*S + j*D]`` here.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ._validate import as_array, check_cache, check_ndim, check_same_shape, nonnegative_int, positive_int

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
    """What the backward pass needs: the inputs (never modified) and the hyper-parameters."""

    X: np.ndarray  # (N, C, H, W)
    W: np.ndarray  # (F, C, KH, KW)
    b: np.ndarray  # (F,)
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out_shape: tuple[int, int, int, int]  # (N, F, H_out, W_out)
    naive: bool = False


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: ``floor((size + 2P - D(K-1) - 1) / S) + 1`` (notebook 08, eq. 8.1).

    All arguments are ints for one axis. A result below 1 means that the dilated kernel
    ``D(K-1) + 1`` is longer than the padded input ``size + 2P``; callers turn that into
    their own error message.
    """
    fn = "conv_output_size"
    for name, value, minimum in (
        ("size", size, 0),
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
    return _out_size(int(size), int(kernel), int(stride), int(padding), int(dilation))


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """The formula of ``conv_output_size`` without the checks (callers have validated)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _prepare(fn, X, W, b, stride, padding, dilation):
    X = as_array(fn, "X", X, finite=True)
    W = as_array(fn, "W", W, finite=True)
    b = as_array(fn, "b", b, finite=True)
    check_ndim(fn, "X", X, 4, "(N, C, H, W)")
    check_ndim(fn, "W", W, 4, "(F, C, KH, KW)")
    check_ndim(fn, "b", b, 1, "(F,)")
    S = positive_int(fn, "stride", stride)
    P = nonnegative_int(fn, "padding", padding)
    D = positive_int(fn, "dilation", dilation)
    N, C, H, Wd = X.shape
    F, Cw, KH, KW = W.shape
    if Cw != C:
        raise ValueError(f"{fn}: X has {C} channels but W expects {Cw} (X.shape={X.shape}, W.shape={W.shape})")
    if b.shape[0] != F:
        raise ValueError(f"{fn}: b must have one entry per filter, shape ({F},), got {b.shape} (W.shape={W.shape})")
    if min(X.shape) == 0 or min(W.shape) == 0:
        raise ValueError(f"{fn}: X and W must have no empty axis, got X.shape={X.shape}, W.shape={W.shape}")
    span_h, span_w = D[0] * (KH - 1) + 1, D[1] * (KW - 1) + 1
    if span_h > H + 2 * P[0] or span_w > Wd + 2 * P[1]:
        raise ValueError(
            f"{fn}: the (dilated) kernel spans {span_h}x{span_w} but the padded input is only "
            f"{H + 2 * P[0]}x{Wd + 2 * P[1]} (X.shape={X.shape}, W.shape={W.shape}, "
            f"padding={padding}, dilation={dilation})"
        )
    # compute in a common float type: float32 only when everything is float32
    dtype = np.result_type(X.dtype, W.dtype, b.dtype)
    Ho = _out_size(H, KH, S[0], P[0], D[0])
    Wo = _out_size(Wd, KW, S[1], P[1], D[1])
    return X, W, b, S, P, D, dtype, (N, F, Ho, Wo)


def _pad(X: np.ndarray, P: tuple[int, int], dtype) -> np.ndarray:
    """Zero-pad the two spatial axes (always returns a new array)."""
    N, C, H, W = X.shape
    Xp = np.zeros((N, C, H + 2 * P[0], W + 2 * P[1]), dtype=dtype)  # (N, C, H+2P, W+2P)
    Xp[:, :, P[0] : P[0] + H, P[1] : P[1] + W] = X
    return Xp


# --------------------------------------------------------------------------- loop version


def conv2d_forward_naive(X, W, b, *, stride=1, padding=0, dilation=1):
    """Convolution forward pass with explicit loops (notebook 02, eq. 2.3; seed 003 §2.1).

    ``Z[n, f, u, v] = sum_{c, i, j} W[f, c, i, j] * Xpad[n, c, u*S + i*D, v*S + j*D] + b[f]``

    Shapes: X (N, C, H, W), W (F, C, KH, KW), b (F,) -> Z (N, F, H_out, W_out) with
    ``H_out = floor((H + 2P - D(KH-1) - 1)/S) + 1``. Returns ``(Z, cache)``.
    """
    fn = "conv2d_forward_naive"
    X, W, b, S, P, D, dtype, out_shape = _prepare(fn, X, W, b, stride, padding, dilation)
    N, F, Ho, Wo = out_shape
    _, C, KH, KW = W.shape
    Xp = _pad(X, P, dtype)
    Z = np.zeros(out_shape, dtype=dtype)
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
    return Z, ConvCache(X, W, b, S, P, D, out_shape, naive=True)


def conv2d_backward_naive(dZ, cache):
    """Convolution backward pass with explicit loops: seed 003's equations (1)-(3) (notebook 03).

    (1) ``db[f] = sum_{n,u,v} dZ[n, f, u, v]``
    (2) ``dW[f, c, i, j] = sum_{n,u,v} dZ[n, f, u, v] * Xpad[n, c, u*S + i*D, v*S + j*D]``
    (3) ``dXpad[n, c, x, y] = sum_{f,i,j} dZ[n, f, (x - i*D)/S, (y - j*D)/S] * W[f, c, i, j]``
        over the (i, j) for which both quotients are whole numbers inside the output;
        ``dX`` is ``dXpad`` with the padding cropped away.

    Shapes: dZ (N, F, H_out, W_out) -> dX (N, C, H, W), dW (F, C, KH, KW), db (F,).
    """
    fn = "conv2d_backward_naive"
    check_cache(fn, cache, ConvCache, "conv2d_forward_naive or conv2d_forward")
    dZ = _check_dZ(fn, dZ, cache)
    X, W = cache.X, cache.W
    S, P, D = cache.stride, cache.padding, cache.dilation
    N, F, Ho, Wo = cache.out_shape
    _, C, H, Wd = X.shape
    _, _, KH, KW = W.shape
    dtype = np.result_type(dZ.dtype, X.dtype, W.dtype)
    Xp = _pad(X, P, dtype)
    # (1) bias: every output position of filter f used b[f]
    db = np.zeros(F, dtype=dtype)
    for f in range(F):
        for n in range(N):
            for u in range(Ho):
                for v in range(Wo):
                    db[f] += dZ[n, f, u, v]
    # (2) weights: each weight touched every output position (weight sharing)
    dW = np.zeros(W.shape, dtype=dtype)
    for f in range(F):
        for c in range(C):
            for i in range(KH):
                for j in range(KW):
                    for n in range(N):
                        for u in range(Ho):
                            for v in range(Wo):
                                dW[f, c, i, j] += dZ[n, f, u, v] * Xp[n, c, u * S[0] + i * D[0], v * S[1] + j * D[1]]
    # (3) input: gather every output position whose window covered (x, y)
    dXp = np.zeros(Xp.shape, dtype=dtype)
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
    dX = dXp[:, :, P[0] : P[0] + H, P[1] : P[1] + Wd].copy()
    return dX, dW, db


def _check_dZ(fn, dZ, cache):
    dZ = as_array(fn, "dZ", dZ)
    check_same_shape(fn, "dZ", dZ, cache.out_shape, "the shape of Z from the forward pass")
    return dZ


# --------------------------------------------------------------------------- fast version


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
    image n holds ``Xpad[n, c, u*S + i*D, v*S + j*D]`` for every output position (u, v).
    """
    fn = "im2col"
    X = as_array(fn, "X", X)
    check_ndim(fn, "X", X, 4, "(N, C, H, W)")
    KH, KW = positive_int(fn, "kernel_size", kernel_size)
    S = positive_int(fn, "stride", stride)
    P = nonnegative_int(fn, "padding", padding)
    D = positive_int(fn, "dilation", dilation)
    N, C, H, W = X.shape
    Ho, Wo = _out_size(H, KH, S[0], P[0], D[0]), _out_size(W, KW, S[1], P[1], D[1])
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{fn}: kernel {KH}x{KW} (dilation {D}) does not fit the padded input of X.shape={X.shape}")
    Xp = _pad(X, P, X.dtype)
    return _windows(Xp, KH, KW, S, D, Ho, Wo).reshape(N, C * KH * KW, Ho * Wo)  # copies


def col2im(cols, input_shape, kernel_size, *, stride=1, padding=0, dilation=1):
    """The adjoint of ``im2col``: add every column entry back to the input cell it came from.

    cols (N, C*KH*KW, H_out*W_out) -> (N, C, H, W). Overlapping windows accumulate;
    the padding is cropped away. ``<im2col(x), y> == <x, col2im(y)>`` (notebook 10).
    """
    fn = "col2im"
    cols = as_array(fn, "cols", cols)
    KH, KW = positive_int(fn, "kernel_size", kernel_size)
    S = positive_int(fn, "stride", stride)
    P = nonnegative_int(fn, "padding", padding)
    D = positive_int(fn, "dilation", dilation)
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{fn}: input_shape must be a tuple (N, C, H, W), got {type(input_shape).__name__}")
    if len(input_shape) != 4 or not all(isinstance(s, numbers.Integral) and s >= 1 for s in input_shape):
        raise ValueError(f"{fn}: input_shape must be (N, C, H, W) of positive ints, got {input_shape!r}")
    N, C, H, W = (int(s) for s in input_shape)
    Ho, Wo = _out_size(H, KH, S[0], P[0], D[0]), _out_size(W, KW, S[1], P[1], D[1])
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{fn}: kernel {KH}x{KW} (dilation {D}) does not fit the padded input of shape {input_shape}")
    check_same_shape(fn, "cols", cols, (N, C * KH * KW, Ho * Wo), "im2col of input_shape")
    dXp = np.zeros((N, C, H + 2 * P[0], W + 2 * P[1]), dtype=cols.dtype)
    _col2im_add(dXp, cols.reshape(N, C, KH, KW, Ho, Wo), S, D, Ho, Wo)
    return dXp[:, :, P[0] : P[0] + H, P[1] : P[1] + W].copy()


def _col2im_add(dXp, cols6, S, D, Ho, Wo):
    """dXp (N, C, Hp, Wp) += scatter of cols6 (N, C, KH, KW, Ho, Wo): one strided add per kernel offset."""
    KH, KW = cols6.shape[2], cols6.shape[3]
    for i in range(KH):
        r0 = i * D[0]
        for j in range(KW):
            c0 = j * D[1]
            dXp[:, :, r0 : r0 + S[0] * (Ho - 1) + 1 : S[0], c0 : c0 + S[1] * (Wo - 1) + 1 : S[1]] += cols6[:, :, i, j]


# Images per block: the column buffer of one block, (nb, C*KH*KW, H_out*W_out), is kept
# near the size of a core's L2 cache, so that it is still cached when the matrix products
# read it. Smaller blocks mean more (smaller) matrix products; larger ones spill to memory.
_BLOCK_BYTES = 1 << 21


def _block(N: int, bytes_per_image: int) -> int:
    """How many images go into one block of the fast path (at least 1, at most N)."""
    return max(1, min(N, _BLOCK_BYTES // max(bytes_per_image, 1)))


def _offset_plan(H: int, Wd: int, KH: int, KW: int, S, P, D, Ho: int, Wo: int):
    """For each kernel offset (i, j): which output cells read a real (unpadded) input cell.

    Returns a list of ``(i, j, out_rows, out_cols, in_rows, in_cols)`` slices such that
    ``cols6[:, :, i, j, out_rows, out_cols]`` and ``X[:, :, in_rows, in_cols]`` are the same
    cells; every other entry of ``cols6[:, :, i, j]`` reads padding (zero). Offsets that
    only ever read padding are left out.
    """

    def axis(size, n_out, start, step):
        # output cells u with 0 <= u*step + start < size, as a slice of u and one of the input
        lo = max(0, -(start // step))  # first u with u*step + start >= 0
        hi = min(n_out - 1, (size - 1 - start) // step) if size - 1 - start >= 0 else -1
        if hi < lo:
            return None
        first = lo * step + start
        return slice(lo, hi + 1), slice(first, first + step * (hi - lo) + 1, step)

    plan = []
    for i in range(KH):
        rows = axis(H, Ho, i * D[0] - P[0], S[0])
        if rows is None:
            continue
        for j in range(KW):
            cols = axis(Wd, Wo, j * D[1] - P[1], S[1])
            if cols is not None:
                plan.append((i, j, rows[0], cols[0], rows[1], cols[1]))
    return plan


def _fill_cols(cols6, Xblock, plan) -> None:
    """im2col for one block, straight from the unpadded input (notebook 10, eq. 10.1).

    cols6 (m, C, KH, KW, H_out, W_out) must already hold zeros wherever a window reads
    padding; only the cells named by ``plan`` are written (converting the dtype if needed).
    """
    for i, j, out_r, out_c, in_r, in_c in plan:
        cols6[:, :, i, j, out_r, out_c] = Xblock[:, :, in_r, in_c]


def _forward_general(X, W2, b, S, P, D, KH, KW, Ho, Wo, dtype):
    """Z (N, F, Ho*Wo) for any stride: im2col per block straight from the unpadded input, then W2 @ cols."""
    N, C, H, Wd = X.shape
    F, CK = W2.shape
    L = Ho * Wo
    plan = _offset_plan(H, Wd, KH, KW, S, P, D, Ho, Wo)
    b_col = b.reshape(F, 1)  # (F, 1)
    Z = np.empty((N, F, L), dtype=dtype)  # (N, F, Ho*Wo)
    nb = _block(N, CK * L * dtype.itemsize)
    cols = np.zeros((nb, CK, L), dtype=dtype)  # (nb, CK, Ho*Wo), reused for every block
    cols6 = cols.reshape(nb, C, KH, KW, Ho, Wo)  # the same memory, one axis per index
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        _fill_cols(cols6[:m], X[n0:n1], plan)  # im2col for this block; padding cells stay zero
        Zb = np.matmul(W2, cols[:m], out=Z[n0:n1])  # (m, F, Ho*Wo)
        Zb += b_col  # while the block is still in cache
    return Z


def _forward_stride1(X, W2, b, P, D, KH, KW, Ho, Wo, dtype):
    """Z (N, F, Ho*Wo) for stride 1, with im2col by contiguous copies (notebook 10, eq. 10.6).

    The input is zero-padded a block at a time and laid out row by row,
    ``Xq[n, c, r*Wp + s] = Xpad[n, c, r, s]``. With stride 1 the window of output cell
    (u, v) at kernel offset (i, j) reads ``Xq[n, c, u*Wp + v + o]`` with ``o = i*D*Wp + j*D``,
    so row (c, i, j) of the column matrix is one contiguous slice ``Xq[n, c, o : o + Ho*Wp]``
    if the output is computed on rows ``Wp`` wide: the ``Wp - W_out`` extra columns of each
    output row are computed too and dropped when Z is written. A last row of ones in the
    column matrix and a last column b in W2 add the bias inside the matrix product.
    """
    N, C, H, Wd = X.shape
    F, CK = W2.shape
    KK = KH * KW
    e = D[1] * (KW - 1)  # columns a window reaches beyond its corner
    Hp, Wp = H + 2 * P[0], Wd + 2 * P[1]
    shifts = [i * D[0] * Wp + j * D[1] for i in range(KH) for j in range(KW)]  # o(i, j)
    row_bytes = (CK + 1) * Wp * dtype.itemsize  # one output row's columns
    if row_bytes * Ho <= 4 * _BLOCK_BYTES:  # whole images, a block of them at a time
        rows, nb = Ho, _block(N, row_bytes * Ho)
    else:  # very large images: a band of output rows at a time
        rows, nb = max(1, _BLOCK_BYTES // row_bytes), 1
    W2b = np.empty((F, CK + 1), dtype=dtype)  # (F, CK + 1): [W2 | b]
    W2b[:, :CK] = W2
    W2b[:, CK] = b
    Xq = np.zeros((nb, C, Hp * Wp + e), dtype=dtype)  # (nb, C, Hp*Wp + e), padding stays zero
    Xq4 = Xq[:, :, : Hp * Wp].reshape(nb, C, Hp, Wp)
    cols = np.empty((nb, CK + 1, rows * Wp), dtype=dtype)  # (nb, CK + 1, rows*Wp)
    cols[:, CK] = 1.0  # the bias row
    cols4 = cols[:, :CK].reshape(nb, C, KK, rows * Wp)
    Zq = np.empty((nb, F, rows * Wp), dtype=dtype)  # (nb, F, rows*Wp), output rows Wp wide
    Z = np.empty((N, F, Ho, Wo), dtype=dtype)  # (N, F, Ho, Wo)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        Xq4[:m, :, P[0] : P[0] + H, P[1] : P[1] + Wd] = X[n0:n1]  # pad this block
        for u0 in range(0, Ho, rows):
            r = min(rows, Ho - u0)
            w = r * Wp
            for k, o in enumerate(shifts):  # im2col: one contiguous slice per (c, i, j)
                start = o + u0 * Wp
                cols4[:m, :, k, :w] = Xq[:m, :, start : start + w]
            np.matmul(W2b, cols[:m, :, :w], out=Zq[:m, :, :w])  # (m, F, r*Wp), bias included
            np.copyto(Z[n0:n1, :, u0 : u0 + r, :], Zq[:m, :, :w].reshape(m, F, r, Wp)[..., :Wo])
    return Z.reshape(N, F, Ho * Wo)


def conv2d_forward(X, W, b, *, stride=1, padding=0, dilation=1):
    """Convolution forward pass, fast: im2col + one matrix product per image (notebook 10, eq. 10.2).

    ``Z[n] = W2 @ cols[n] + b`` with ``W2 = W.reshape(F, C*KH*KW)`` and ``cols = im2col(X)``;
    the same numbers as ``conv2d_forward_naive`` (seed 003 §2.1). The column matrices are
    built a few images at a time in one reused buffer, never for the whole batch at once.
    Stride 1 (the common case) builds them by contiguous copies from a padded copy of the
    block (``_forward_stride1``); other strides copy straight from the unpadded input
    (``_forward_general``).

    Shapes: X (N, C, H, W), W (F, C, KH, KW), b (F,) -> Z (N, F, H_out, W_out),
    ``H_out = floor((H + 2P - D(KH-1) - 1)/S) + 1``. stride, padding, dilation: int or (h, w).
    Returns ``(Z, cache)``; pass the cache to ``conv2d_backward``.
    """
    fn = "conv2d_forward"
    X, W, b, S, P, D, dtype, out_shape = _prepare(fn, X, W, b, stride, padding, dilation)
    N, F, Ho, Wo = out_shape
    _, C, KH, KW = W.shape
    W2 = W.reshape(F, C * KH * KW).astype(dtype, copy=False)  # (F, CK)
    b_common = b.astype(dtype, copy=False)  # (F,)
    if S == (1, 1):
        Z = _forward_stride1(X, W2, b_common, P, D, KH, KW, Ho, Wo, dtype)
    else:
        Z = _forward_general(X, W2, b_common, S, P, D, KH, KW, Ho, Wo, dtype)
    return Z.reshape(out_shape), ConvCache(X, W, b, S, P, D, out_shape)


def _backward_general(X, dZ3, W2T, S, P, D, KH, KW, Ho, Wo, dtype):
    """dX and dW for any stride: im2col per block, dW by matrix products, dX by col2im's scatter."""
    N, C, H, Wd = X.shape
    F = dZ3.shape[1]
    CK, L = C * KH * KW, Ho * Wo
    plan = _offset_plan(H, Wd, KH, KW, S, P, D, Ho, Wo)
    dW2 = np.zeros((F, CK), dtype=dtype)  # (F, CK)
    dX = np.empty((N, C, H, Wd), dtype=dtype)  # (N, C, H, W)
    nb = _block(N, CK * L * dtype.itemsize)
    cols = np.zeros((nb, CK, L), dtype=dtype)  # (nb, CK, Ho*Wo), padding cells stay zero
    cols6 = cols.reshape(nb, C, KH, KW, Ho, Wo)
    dW_part = np.empty((nb, F, CK), dtype=dtype)  # (nb, F, CK)
    dcols = np.empty((nb, CK, L), dtype=dtype)  # (nb, CK, Ho*Wo)
    dXp = np.empty((nb, C, H + 2 * P[0], Wd + 2 * P[1]), dtype=dtype)  # (nb, C, Hp, Wp), one block
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        _fill_cols(cols6[:m], X[n0:n1], plan)  # (m, CK, Ho*Wo)
        # eq. (2): dW += dZ[n] @ cols[n].T for every image of the block
        np.matmul(dZ3[n0:n1], cols[:m].transpose(0, 2, 1), out=dW_part[:m])  # (m, F, CK)
        dW2 += dW_part[0] if m == 1 else dW_part[:m].sum(axis=0)
        # eq. (3): columns of the input gradient, W2.T @ dZ[n], scattered back onto the padded input
        np.matmul(W2T, dZ3[n0:n1], out=dcols[:m])  # (m, CK, Ho*Wo)
        dXb = dXp[:m]
        dXb.fill(0.0)
        _col2im_add(dXb, dcols[:m].reshape(m, C, KH, KW, Ho, Wo), S, D, Ho, Wo)
        dX[n0:n1] = dXb[:, :, P[0] : P[0] + H, P[1] : P[1] + Wd]  # crop the padding
    return dX, dW2


def _backward_stride1(X, dZ3, W2T, P, D, KH, KW, Ho, Wo, dtype):
    """dX, dW and db for stride 1, without building the columns of X at all (notebook 10, eq. 10.6).

    With stride 1, "shift the kernel by (i, j)" is "shift a flattened image by a constant".
    Everything is laid out in rows ``Wp`` wide (the padded width):

    * the upstream gradient with zero margins, ``Bz[n, f, M + u*Wp + v] = dZ[n, f, u, v]``
      for ``v < W_out``, zero in the ``Wp - W_out`` extra columns and in the margins;
    * the input, unpadded but with the same row width, ``Xw[n, c, e + x*Wp + y] = X[n, c, x, y]``
      for ``y < W``, zero elsewhere.

    eq. (3) read as a correlation of the zero-padded dZ with the kernel,
    ``dX[c, x, y] = sum_{f,i,j} W[f, c, i, j] dZ[f, x + P - iD, y + P - jD]`` (terms off the
    output grid are zero). A shift by kernel row i is a constant offset ``st_i`` in ``Bz``, so
    KH contiguous copies give ``Cz[(i, f), s] = Bz[f, s + st_i]`` and one matrix product sums
    over (i, f) at once: ``R[(j, c), s] = sum_{i,f} W[f, c, i, j] Cz[(i, f), s]``. A shift by
    kernel column j is a view of R, so ``dX[c, x, y] = sum_j R[(j, c), e + x*Wp + y - jD]``:
    KW views added into one contiguous output (a gather: no strided ``+=`` as in col2im).

    eq. (2) is the same pairing read the other way (the adjoint of X -> dX above):
    ``dW[f, c, i, j] = sum_n sum_s Cz[n, (i, f), s] Xw[n, c, s + jD]`` — KW matrix products,
    each on a *view* of Xw, with the kernel rows i inside each product.
    """
    N, C, H, Wd = X.shape
    F = dZ3.shape[1]
    CK = C * KH * KW
    a, e = D[0] * (KH - 1), D[1] * (KW - 1)  # rows / columns a window reaches beyond its corner
    Wp = Wd + 2 * P[1]  # Wp = W_out + e
    Q = Ho * Wp  # output positions, rows Wp wide
    isz = dtype.itemsize
    M = a * Wp + e  # zeros in front of dZ's first row
    Lz = M + Q + (a + 1) * Wp  # per (n, f): margin, H_out rows, margin
    Sx = H * Wp + e  # per row of Cz and R: e columns in front of the input grid
    Lw = Sx + e  # per (n, c) of Xw: e zeros, H rows Wp wide, e zeros
    # a block of images (two are faster than one here, though past the nominal block size)
    nb = _block(N, (C * Lw + F * Lz + (KH * F + KW * C) * Sx) * isz // 2)
    Bz = np.zeros((nb, F, Lz), dtype=dtype)  # (nb, F, Lz), margins and extra columns stay zero
    dZq3 = Bz[:, :, M : M + Q]  # (nb, F, Ho*Wp), the rows of dZ
    dZq4 = dZq3.reshape(nb, F, Ho, Wp)  # (nb, F, Ho, Wp)
    Xw = np.zeros((nb, C, Lw), dtype=dtype)  # (nb, C, Lw), cells outside X stay zero
    Xw4 = Xw[:, :, e : e + H * Wp].reshape(nb, C, H, Wp)  # (nb, C, H, Wp)
    # W_r[(j, c), (i, f)] = W[f, c, i, j]
    W_r = W2T.reshape(C, KH, KW, F).transpose(2, 0, 1, 3).reshape(KW * C, KH * F)  # (KW*C, KH*F)
    starts = [M - e + (P[0] - i * D[0]) * Wp + P[1] for i in range(KH)]  # st_i
    Cz = np.empty((nb, KH * F, Sx), dtype=dtype)  # (nb, KH*F, Sx): rows (i, f), dZ shifted by row i
    Cz4 = Cz.reshape(nb, KH, F, Sx)
    R = np.empty((nb, KW * C, Sx), dtype=dtype)  # (nb, KW*C, Sx)
    R4 = R.reshape(nb, KW, C, Sx)
    views = []  # (nb, C, H, W) each: R's rows for kernel column j, shifted onto the input grid
    for j in range(KW):
        st = e - j * D[1]
        views.append(R4[:, j, :, st : st + H * Wp].reshape(nb, C, H, Wp)[..., :Wd])
    dW_part = np.empty((nb, KH * F, C), dtype=dtype)  # (nb, KH*F, C)
    dW_r = np.zeros((KW, KH * F, C), dtype=dtype)  # (KW, KH*F, C): dW[f, c, i, j] = dW_r[j, i*F + f, c]
    db = np.zeros(F, dtype=dtype)  # (F,)
    dX = np.empty((N, C, H, Wd), dtype=dtype)  # (N, C, H, W)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        Xw4[:m, :, :, :Wd] = X[n0:n1]  # (m, C, H, W) into rows Wp wide
        dZq4[:m, :, :, :Wo] = dZ3[n0:n1].reshape(m, F, Ho, Wo)
        db += dZq3[:m].sum(axis=2).sum(axis=0)  # eq. (1), while the block is in cache
        for i, st in enumerate(starts):  # dZ shifted by kernel row i: KH contiguous copies
            Cz4[:m, i] = Bz[:m, :, st : st + Sx]  # (m, F, Sx)
        # eq. (2): dW_r[j] = sum_n Cz[n] @ Xw[n, :, jD : jD + Sx].T
        for j in range(KW):
            o = j * D[1]
            np.matmul(Cz[:m], Xw[:m, :, o : o + Sx].transpose(0, 2, 1), out=dW_part[:m])  # (m, KH*F, C)
            dW_r[j] += dW_part[0] if m == 1 else dW_part[:m].sum(axis=0)
        # eq. (3): R = W_r @ Cz, then dX = sum of the KW shifted views of R
        np.matmul(W_r, Cz[:m], out=R[:m])  # (m, KW*C, Sx)
        out = dX[n0:n1]  # (m, C, H, W), contiguous
        if len(views) == 1:  # a kernel one column wide
            np.copyto(out, views[0][:m])
        else:
            np.add(views[0][:m], views[1][:m], out=out)
            for view in views[2:]:
                np.add(out, view[:m], out=out)
    dW = dW_r.reshape(KW, KH, F, C).transpose(2, 3, 1, 0)  # (F, C, KH, KW)
    return dX, np.ascontiguousarray(dW).reshape(F, CK), db


def conv2d_backward(dZ, cache):
    """Convolution backward pass, fast (notebook 10, eqs. 10.3-10.6; seed 003 equations (1)-(3)).

    * ``db = dZ.sum over (n, u, v)``                              — eq. (1)
    * ``dW = sum_n dZ[n] @ cols[n].T``  (cross-correlation of X with dZ)   — eq. (2)
    * ``dX = col2im(W2.T @ dZ[n])``     (full convolution of dZ with the flipped W) — eq. (3)

    Nothing of the forward pass is stored but its inputs: the columns are rebuilt block by
    block, so memory stays at a few images' worth. Stride 1 (the common case) takes a
    shortcut that needs no columns of X and gathers dX instead of scattering it
    (``_backward_stride1``); other strides use im2col and ``col2im``'s scatter
    (``_backward_general``, ``_col2im_add``). Both agree with ``conv2d_backward_naive``.

    Shapes: dZ (N, F, H_out, W_out) -> dX (N, C, H, W), dW (F, C, KH, KW), db (F,).
    """
    fn = "conv2d_backward"
    check_cache(fn, cache, ConvCache, "conv2d_forward")
    dZ = _check_dZ(fn, dZ, cache)
    X, W = cache.X, cache.W
    S, P, D = cache.stride, cache.padding, cache.dilation
    N, F, Ho, Wo = cache.out_shape
    _, C, KH, KW = W.shape
    dtype = np.result_type(dZ.dtype, X.dtype, W.dtype, cache.b.dtype)
    dZ3 = dZ.reshape(N, F, Ho * Wo).astype(dtype, copy=False)  # (N, F, Ho*Wo)
    W2T = np.ascontiguousarray(W.reshape(F, C * KH * KW).T, dtype=dtype)  # (CK, F)
    if S == (1, 1):
        dX, dW2, db = _backward_stride1(X, dZ3, W2T, P, D, KH, KW, Ho, Wo, dtype)
    else:
        db = dZ3.sum(axis=(0, 2))  # (F,)            eq. (1)
        dX, dW2 = _backward_general(X, dZ3, W2T, S, P, D, KH, KW, Ho, Wo, dtype)
    return dX, dW2.reshape(W.shape), db

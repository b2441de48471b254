"""How conv.py is made fast: the tuned kernels behind ``conv2d_forward`` and ``conv2d_backward``.

``cnnlib/conv.py`` states the mathematics (the loops of chapters 02, 03 and 08, im2col and
col2im of chapter 10); this module computes the same numbers quickly (notebook 10, §10.8;
timings in ``benchmarks/README.md``). Nothing here is part of the public API, and every
function takes arguments that conv.py has already validated: stride, padding and dilation
as (h, w) pairs, in that order.

* **Blocks.** The column matrices are built a few images at a time in one reused buffer
  (``block_size``), at most ``BLOCK_BYTES`` (2 MiB) per block: one fixed bound that keeps the
  buffer small, not fitted to any processor's cache; the columns of the whole batch are never built.
* **Any stride.** im2col straight from the unpadded input into a buffer whose padding
  cells are zeroed once and never written (``offset_plan``, ``fill_columns``), one matrix
  product per image (``forward_general``), and for the input gradient col2im's scatter,
  one strided add per kernel offset (``col2im_add``, ``backward_general``).
* **Stride 1** (the common case). A kernel offset (i, j) is then a constant shift along an
  image laid out row by row, so each row of the column matrix is one contiguous slice
  (``forward_stride1``), and the backward pass builds no columns of X at all: dX is a
  correlation of the zero-padded dZ with the kernel, gathered from shifted views instead
  of scattered (``backward_stride1``).
* **Small images, stride 1** (``SMALL_IMAGE_BYTES``; chapter 09's 8x8 digits). A product per
  image would be a few thousand multiply-adds, and calling the BLAS would cost more than the
  work, so the block's images are laid out one after another on the padded grid and every
  product covers the whole block (``forward_stride1_batched``, ``backward_stride1_batched``).

Names: ``S``, ``pad``, ``D`` are the (h, w) stride, padding and dilation; ``Ho``, ``Wo`` the
output size; ``Hp``, ``Wp`` the padded input size; ``CK = C*KH*KW`` the kernel entries per
filter; ``nb`` the images per block and ``m`` the images in the current block
(``n0 .. n1 - 1``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BLOCK_BYTES",
    "block_size",
    "col2im_add",
    "offset_plan",
    "fill_columns",
    "forward_general",
    "forward_stride1",
    "backward_general",
    "backward_stride1",
    "forward_stride1_batched",
    "backward_stride1_batched",
    "SMALL_IMAGE_BYTES",
]

#: Bytes of column buffer per block of images. One block's columns, (nb, C*KH*KW, H_out*W_out),
#: stay within this fixed bound (2 MiB), so the buffer stays small whatever the batch: smaller
#: blocks mean more (smaller) matrix products, larger ones a larger buffer (chapter 10).
#: Read on every call, so a benchmark or test may set ``cnnlib._conv_fast.BLOCK_BYTES``.
BLOCK_BYTES = 1 << 21

#: Stride 1, images whose padded column matrix (``(C*KH*KW + 1) * Hp*Wp`` numbers) is at most this
#: many bytes: a product per image would be too small to keep the BLAS busy (chapter 09's 8x8
#: digits: 8 KB per image), so ``forward_stride1_batched`` / ``backward_stride1_batched`` put
#: the whole block of images into each product. Larger images keep one product per image,
#: whose operands are still in the core's cache that just wrote them (benchmarks/README.md).
SMALL_IMAGE_BYTES = 1 << 15


def block_size(N: int, bytes_per_image: int) -> int:
    """How many images go into one block (at least 1, at most N)."""
    return max(1, min(N, BLOCK_BYTES // max(bytes_per_image, 1)))


def col2im_add(dXp, cols6, S, D, Ho: int, Wo: int) -> None:
    """col2im's scatter: dXp (N, C, Hp, Wp) += cols6 (N, C, KH, KW, Ho, Wo), one strided add per kernel offset.

    Entry (i, j, u, v) of cols6 goes back to the padded cell (u*S + i*D, v*S + j*D) it was read
    from (notebook 10, eq. 10.5); overlapping windows accumulate.
    """
    KH, KW = cols6.shape[2], cols6.shape[3]
    for i in range(KH):
        top = i * D[0]
        for j in range(KW):
            left = j * D[1]
            rows = slice(top, top + S[0] * (Ho - 1) + 1, S[0])
            cols = slice(left, left + S[1] * (Wo - 1) + 1, S[1])
            dXp[:, :, rows, cols] += cols6[:, :, i, j]


def offset_plan(H: int, Wd: int, KH: int, KW: int, S, pad, D, Ho: int, Wo: int):
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
        rows = axis(H, Ho, i * D[0] - pad[0], S[0])
        if rows is None:
            continue
        for j in range(KW):
            cols = axis(Wd, Wo, j * D[1] - pad[1], S[1])
            if cols is not None:
                plan.append((i, j, rows[0], cols[0], rows[1], cols[1]))
    return plan


def fill_columns(cols6, X_block, plan) -> None:
    """im2col for one block, straight from the unpadded input (notebook 10, eq. 10.1).

    cols6 (m, C, KH, KW, H_out, W_out) must already hold zeros wherever a window reads
    padding; only the cells named by ``plan`` are written (converting the dtype if needed).
    """
    for i, j, out_rows, out_cols, in_rows, in_cols in plan:
        cols6[:, :, i, j, out_rows, out_cols] = X_block[:, :, in_rows, in_cols]


def forward_general(X, W2, b, S, pad, D, KH, KW, Ho, Wo, dtype):
    """Z (N, F, Ho*Wo) for any stride: ``Z[n] = W2 @ cols[n] + b`` (eq. 10.2), im2col a block at a time."""
    N, C, H, Wd = X.shape
    F, CK = W2.shape
    L = Ho * Wo  # output positions per image
    plan = offset_plan(H, Wd, KH, KW, S, pad, D, Ho, Wo)
    b_col = b.reshape(F, 1)  # (F, 1)
    Z = np.empty((N, F, L), dtype=dtype)  # (N, F, Ho*Wo)
    nb = block_size(N, CK * L * dtype.itemsize)
    cols = np.zeros((nb, CK, L), dtype=dtype)  # (nb, CK, Ho*Wo), reused for every block
    cols6 = cols.reshape(nb, C, KH, KW, Ho, Wo)  # the same memory, one axis per index
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        fill_columns(cols6[:m], X[n0:n1], plan)  # im2col for this block; padding cells stay zero
        Z_block = np.matmul(W2, cols[:m], out=Z[n0:n1])  # (m, F, Ho*Wo)
        Z_block += b_col  # while the block is still in cache
    return Z


def forward_stride1(X, W2, b, pad, D, KH, KW, Ho, Wo, dtype):
    """Z (N, F, Ho*Wo) for stride 1, with im2col by contiguous copies (notebook 10, §10.8, the shifts of eq. 10.6).

    The input is zero-padded a block at a time and laid out row by row,
    ``X_rows[n, c, r*Wp + s] = Xpad[n, c, r, s]``. With stride 1 the window of output cell
    (u, v) at kernel offset (i, j) reads ``X_rows[n, c, u*Wp + v + o]`` with ``o = i*D*Wp + j*D``,
    so row (c, i, j) of the column matrix is one contiguous slice ``X_rows[n, c, o : o + Ho*Wp]``
    if the output is computed on rows ``Wp`` wide: the ``Wp - W_out`` extra columns of each
    output row are computed too and dropped when Z is written. A last row of ones in the
    column matrix and a last column b in the weight matrix add the bias inside the product.
    """
    N, C, H, Wd = X.shape
    F, CK = W2.shape
    if (CK + 1) * (H + 2 * pad[0]) * (Wd + 2 * pad[1]) * dtype.itemsize <= SMALL_IMAGE_BYTES:
        return forward_stride1_batched(X, W2, b, pad, D, KH, KW, Ho, Wo, dtype)
    n_offsets = KH * KW
    reach_w = D[1] * (KW - 1)  # columns a window reaches beyond its corner
    Hp, Wp = H + 2 * pad[0], Wd + 2 * pad[1]
    shifts = [i * D[0] * Wp + j * D[1] for i in range(KH) for j in range(KW)]  # o(i, j)
    row_bytes = (CK + 1) * Wp * dtype.itemsize  # one output row's columns
    if row_bytes * Ho <= 4 * BLOCK_BYTES:  # whole images, a block of them at a time
        band, nb = Ho, block_size(N, row_bytes * Ho)
    else:  # very large images: a band of output rows at a time
        band, nb = max(1, BLOCK_BYTES // row_bytes), 1
    W2_bias = np.empty((F, CK + 1), dtype=dtype)  # (F, CK + 1): [W2 | b]
    W2_bias[:, :CK] = W2
    W2_bias[:, CK] = b
    X_rows = np.zeros((nb, C, Hp * Wp + reach_w), dtype=dtype)  # (nb, C, Hp*Wp + reach_w), padding stays zero
    X_grid = X_rows[:, :, : Hp * Wp].reshape(nb, C, Hp, Wp)  # (nb, C, Hp, Wp), the same memory
    cols = np.empty((nb, CK + 1, band * Wp), dtype=dtype)  # (nb, CK + 1, band*Wp)
    cols[:, CK] = 1.0  # the bias row
    cols_by_offset = cols[:, :CK].reshape(nb, C, n_offsets, band * Wp)  # (nb, C, KH*KW, band*Wp)
    Z_wide = np.empty((nb, F, band * Wp), dtype=dtype)  # (nb, F, band*Wp), output rows Wp wide
    Z = np.empty((N, F, Ho, Wo), dtype=dtype)  # (N, F, Ho, Wo)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        X_grid[:m, :, pad[0] : pad[0] + H, pad[1] : pad[1] + Wd] = X[n0:n1]  # pad this block
        for u0 in range(0, Ho, band):
            rows = min(band, Ho - u0)  # output rows u0 .. u0 + rows - 1
            width = rows * Wp
            for k, shift in enumerate(shifts):  # im2col: one contiguous slice per (c, i, j)
                start = shift + u0 * Wp
                cols_by_offset[:m, :, k, :width] = X_rows[:m, :, start : start + width]
            np.matmul(W2_bias, cols[:m, :, :width], out=Z_wide[:m, :, :width])  # (m, F, rows*Wp), bias included
            np.copyto(Z[n0:n1, :, u0 : u0 + rows, :], Z_wide[:m, :, :width].reshape(m, F, rows, Wp)[..., :Wo])
    return Z.reshape(N, F, Ho * Wo)


def backward_general(X, dZ3, W2T, S, pad, D, KH, KW, Ho, Wo, dtype):
    """dX and dW2 for any stride: im2col a block at a time, dW by eq. (10.4), dX by eq. (10.5)'s scatter."""
    N, C, H, Wd = X.shape
    F = dZ3.shape[1]
    CK, L = C * KH * KW, Ho * Wo
    plan = offset_plan(H, Wd, KH, KW, S, pad, D, Ho, Wo)
    dW2 = np.zeros((F, CK), dtype=dtype)  # (F, CK)
    dX = np.empty((N, C, H, Wd), dtype=dtype)  # (N, C, H, W)
    nb = block_size(N, CK * L * dtype.itemsize)
    cols = np.zeros((nb, CK, L), dtype=dtype)  # (nb, CK, Ho*Wo), padding cells stay zero
    cols6 = cols.reshape(nb, C, KH, KW, Ho, Wo)
    dW_part = np.empty((nb, F, CK), dtype=dtype)  # (nb, F, CK)
    dcols = np.empty((nb, CK, L), dtype=dtype)  # (nb, CK, Ho*Wo)
    dXp = np.empty((nb, C, H + 2 * pad[0], Wd + 2 * pad[1]), dtype=dtype)  # (nb, C, Hp, Wp), one block
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        fill_columns(cols6[:m], X[n0:n1], plan)  # (m, CK, Ho*Wo)
        # eq. (10.4): dW += dZ[n] @ cols[n].T for every image of the block
        np.matmul(dZ3[n0:n1], cols[:m].transpose(0, 2, 1), out=dW_part[:m])  # (m, F, CK)
        dW2 += dW_part[0] if m == 1 else dW_part[:m].sum(axis=0)
        # eq. (10.5): columns of the input gradient, W2.T @ dZ[n], scattered back onto the padded input
        np.matmul(W2T, dZ3[n0:n1], out=dcols[:m])  # (m, CK, Ho*Wo)
        dXp_block = dXp[:m]
        dXp_block.fill(0.0)
        col2im_add(dXp_block, dcols[:m].reshape(m, C, KH, KW, Ho, Wo), S, D, Ho, Wo)
        dX[n0:n1] = dXp_block[:, :, pad[0] : pad[0] + H, pad[1] : pad[1] + Wd]  # crop the padding
    return dX, dW2


def backward_stride1(X, dZ3, W2T, pad, D, KH, KW, Ho, Wo, dtype):
    """dX, dW2 and db for stride 1, without building the columns of X at all (notebook 10, eq. 10.6).

    With stride 1, "shift the kernel by (i, j)" is "shift a flattened image by a constant".
    Everything is laid out in rows ``Wp`` wide (the padded width), with ``reach_h``, ``reach_w``
    the rows and columns a window reaches beyond its corner:

    * the upstream gradient with zero margins, ``dZ_rows[n, f, margin + u*Wp + v] = dZ[n, f, u, v]``
      for ``v < W_out``, zero in the ``Wp - W_out`` extra columns and in the margins;
    * the input, unpadded but with the same row width,
      ``X_rows[n, c, reach_w + x*Wp + y] = X[n, c, x, y]`` for ``y < W``, zero elsewhere.

    Eq. (3.3) read as a correlation of the zero-padded dZ with the kernel,
    ``dX[c, x, y] = sum_{f,i,j} W[f, c, i, j] dZ[f, x + pad_h - iD, y + pad_w - jD]`` (terms off the
    output grid are zero). A shift by kernel row i is a constant offset ``row_starts[i]`` in
    ``dZ_rows``, so KH contiguous copies give ``dZ_shifted[(i, f), s] = dZ_rows[f, s + row_starts[i]]``
    and one matrix product sums over (i, f) at once:
    ``R[(j, c), s] = sum_{i,f} W[f, c, i, j] dZ_shifted[(i, f), s]``. A shift by kernel column j
    is a view of R, so ``dX[c, x, y] = sum_j R[(j, c), reach_w + x*Wp + y - jD]``: KW views added
    into one contiguous output (a gather: no strided ``+=`` as in col2im).

    Eq. (3.2) is the same pairing read the other way (the adjoint of X -> dX above):
    ``dW[f, c, i, j] = sum_n sum_s dZ_shifted[n, (i, f), s] X_rows[n, c, s + jD]`` — KW matrix
    products, each on a *view* of X_rows, with the kernel rows i inside each product.
    """
    N, C, H, Wd = X.shape
    F = dZ3.shape[1]
    CK = C * KH * KW
    if (CK + 1) * (H + 2 * pad[0]) * (Wd + 2 * pad[1]) * dtype.itemsize <= SMALL_IMAGE_BYTES:
        return backward_stride1_batched(X, dZ3, W2T, pad, D, KH, KW, Ho, Wo, dtype)
    reach_h, reach_w = D[0] * (KH - 1), D[1] * (KW - 1)  # rows / columns a window reaches beyond its corner
    Wp = Wd + 2 * pad[1]  # Wp = W_out + reach_w
    out_len = Ho * Wp  # output positions, rows Wp wide
    itemsize = dtype.itemsize
    margin = reach_h * Wp + reach_w  # zeros in front of dZ's first row
    dZ_len = margin + out_len + (reach_h + 1) * Wp  # per (n, f): margin, H_out rows, margin
    grid_len = H * Wp + reach_w  # per row of dZ_shifted and R: reach_w columns in front of the input grid
    X_len = grid_len + reach_w  # per (n, c) of X_rows: reach_w zeros, H rows Wp wide, reach_w zeros
    # a block of images (two are faster than one here, though past the nominal block size)
    nb = block_size(N, (C * X_len + F * dZ_len + (KH * F + KW * C) * grid_len) * itemsize // 2)
    dZ_rows = np.zeros((nb, F, dZ_len), dtype=dtype)  # (nb, F, dZ_len), margins and extra columns stay zero
    dZ_body = dZ_rows[:, :, margin : margin + out_len]  # (nb, F, Ho*Wp), the rows of dZ
    dZ_grid = dZ_body.reshape(nb, F, Ho, Wp)  # (nb, F, Ho, Wp)
    X_rows = np.zeros((nb, C, X_len), dtype=dtype)  # (nb, C, X_len), cells outside X stay zero
    X_grid = X_rows[:, :, reach_w : reach_w + H * Wp].reshape(nb, C, H, Wp)  # (nb, C, H, Wp)
    # W_by_col[(j, c), (i, f)] = W[f, c, i, j]
    W_by_col = W2T.reshape(C, KH, KW, F).transpose(2, 0, 1, 3).reshape(KW * C, KH * F)  # (KW*C, KH*F)
    row_starts = [margin - reach_w + (pad[0] - i * D[0]) * Wp + pad[1] for i in range(KH)]
    dZ_shifted = np.empty((nb, KH * F, grid_len), dtype=dtype)  # (nb, KH*F, grid_len): rows (i, f)
    dZ_shifted4 = dZ_shifted.reshape(nb, KH, F, grid_len)  # (nb, KH, F, grid_len)
    R = np.empty((nb, KW * C, grid_len), dtype=dtype)  # (nb, KW*C, grid_len): rows (j, c)
    R4 = R.reshape(nb, KW, C, grid_len)  # (nb, KW, C, grid_len)
    dX_views = []  # (nb, C, H, W) each: R's rows for kernel column j, shifted onto the input grid
    for j in range(KW):
        start = reach_w - j * D[1]
        dX_views.append(R4[:, j, :, start : start + H * Wp].reshape(nb, C, H, Wp)[..., :Wd])
    dW_part = np.empty((nb, KH * F, C), dtype=dtype)  # (nb, KH*F, C)
    dW_by_col = np.zeros((KW, KH * F, C), dtype=dtype)  # (KW, KH*F, C): dW[f, c, i, j] = dW_by_col[j, i*F + f, c]
    db = np.zeros(F, dtype=dtype)  # (F,)
    dX = np.empty((N, C, H, Wd), dtype=dtype)  # (N, C, H, W)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        X_grid[:m, :, :, :Wd] = X[n0:n1]  # (m, C, H, W) into rows Wp wide
        dZ_grid[:m, :, :, :Wo] = dZ3[n0:n1].reshape(m, F, Ho, Wo)
        db += dZ_body[:m].sum(axis=2).sum(axis=0)  # eq. (3.1), while the block is in cache
        for i, start in enumerate(row_starts):  # dZ shifted by kernel row i: KH contiguous copies
            dZ_shifted4[:m, i] = dZ_rows[:m, :, start : start + grid_len]  # (m, F, grid_len)
        # eq. (3.2): dW_by_col[j] = sum_n dZ_shifted[n] @ X_rows[n, :, jD : jD + grid_len].T
        for j in range(KW):
            shift = j * D[1]
            X_view = X_rows[:m, :, shift : shift + grid_len].transpose(0, 2, 1)  # (m, grid_len, C)
            np.matmul(dZ_shifted[:m], X_view, out=dW_part[:m])  # (m, KH*F, C)
            dW_by_col[j] += dW_part[0] if m == 1 else dW_part[:m].sum(axis=0)
        # eq. (3.3): R = W_by_col @ dZ_shifted, then dX = sum of the KW shifted views of R
        np.matmul(W_by_col, dZ_shifted[:m], out=R[:m])  # (m, KW*C, grid_len)
        out = dX[n0:n1]  # (m, C, H, W), contiguous
        if len(dX_views) == 1:  # a kernel one column wide
            np.copyto(out, dX_views[0][:m])
        else:
            np.add(dX_views[0][:m], dX_views[1][:m], out=out)
            for view in dX_views[2:]:
                np.add(out, view[:m], out=out)
    dW = dW_by_col.reshape(KW, KH, F, C).transpose(2, 3, 1, 0)  # (F, C, KH, KW)
    return dX, np.ascontiguousarray(dW).reshape(F, CK), db


def forward_stride1_batched(X, W2, b, pad, D, KH, KW, Ho, Wo, dtype):
    """``forward_stride1`` for small images: the whole block of images in one matrix product.

    A block of images is zero-padded into one buffer laid out channel by channel, the
    block's images one after another, ``X_flat[c, n*P + r*Wp + s] = Xpad[n, c, r, s]`` with
    ``P = Hp*Wp``. With stride 1 the window of output cell (u, v) of image n at kernel offset
    (i, j) reads ``X_flat[c, t + o]`` with ``t = n*P + u*Wp + v`` and ``o = i*D*Wp + j*D``, so
    row (c, i, j) of the block's column matrix is the one contiguous slice
    ``X_flat[c, o : o + width]`` if the output is computed on the same grid: the cells with
    ``u >= H_out`` or ``v >= W_out`` are computed too and dropped when Z is written. One
    matrix product per block then covers all its images at once, and a last row of ones in
    the column matrix and a last column b in the weight matrix add the bias inside it.
    Images too large for one block are done a chunk of grid cells at a time.
    """
    N, C, H, Wd = X.shape
    F, CK = W2.shape
    Hp, Wp = H + 2 * pad[0], Wd + 2 * pad[1]
    P = Hp * Wp  # grid cells per image
    shifts = [i * D[0] * Wp + j * D[1] for i in range(KH) for j in range(KW)]  # o(i, j)
    cell_bytes = (CK + 1) * dtype.itemsize  # one grid cell's column
    nb = block_size(N, cell_bytes * P)
    if nb == 1 and cell_bytes * P > 4 * BLOCK_BYTES:  # very large images: a chunk of cells at a time
        chunk = max(Wp, BLOCK_BYTES // cell_bytes)
    else:  # whole images, a block of them in one product
        chunk = nb * P
    W2_bias = np.empty((F, CK + 1), dtype=dtype)  # (F, CK + 1): [W2 | b]
    W2_bias[:, :CK] = W2
    W2_bias[:, CK] = b
    X_flat = np.zeros((C, nb * P), dtype=dtype)  # (C, nb*P), the padding stays zero
    X_grid = X_flat.reshape(C, nb, Hp, Wp)  # (C, nb, Hp, Wp), the same memory
    cols = np.empty((CK + 1, chunk), dtype=dtype)  # (CK + 1, chunk)
    cols[CK] = 1.0  # the bias row
    cols_by_offset = cols[:CK].reshape(C, KH * KW, chunk)  # (C, KH*KW, chunk)
    Z_flat = np.empty((F, nb * P), dtype=dtype)  # (F, nb*P), Z on the grid of the block
    Z = np.empty((N, F, Ho, Wo), dtype=dtype)  # (N, F, Ho, Wo)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        X_grid[:, :m, pad[0] : pad[0] + H, pad[1] : pad[1] + Wd] = X[n0:n1].transpose(1, 0, 2, 3)  # pad this block
        end = (m - 1) * P + (Ho - 1) * Wp + Wo  # one past the block's last output cell; t + o < m*P
        for t0 in range(0, end, chunk):
            width = min(chunk, end - t0)
            for k, shift in enumerate(shifts):  # im2col: one contiguous slice per (c, i, j), all c at once
                cols_by_offset[:, k, :width] = X_flat[:, t0 + shift : t0 + shift + width]
            np.matmul(W2_bias, cols[:, :width], out=Z_flat[:, t0 : t0 + width])  # (F, width), bias included
        Z[n0:n1] = Z_flat[:, : m * P].reshape(F, m, Hp, Wp)[:, :, :Ho, :Wo].transpose(1, 0, 2, 3)
    return Z.reshape(N, F, Ho * Wo)


def backward_stride1_batched(X, dZ3, W2T, pad, D, KH, KW, Ho, Wo, dtype):
    """``backward_stride1`` for small images: each product covers the whole block of images.

    The same correlation as ``backward_stride1``. A block of images is laid out as in
    ``forward_stride1_batched``, on the padded grid (``P = Hp*Wp`` cells per image, the
    block's images one after another, ``t = n*P + r*Wp + s``):

    * the input, ``X_flat[c, t] = Xpad[n, c, r, s]`` (zero padding, ``reach_w`` zeros after the
      block), and a last row of ones;
    * the upstream gradient, ``dZ_flat[f, front + t] = dZ[n, f, r, s]`` for ``r < H_out``,
      ``s < W_out`` and zero elsewhere, with ``front = reach_h*Wp + reach_w`` zeros in front
      (``reach_h``, ``reach_w``: the rows and columns a window reaches beyond its corner).

    Eq. (3.3) read as a correlation of the zero-padded dZ with the kernel,
    ``dXpad[c, t] = sum_{f,i,j} W[f, c, i, j] dZ_flat[f, front + t - i*D*Wp - j*D]`` (the grid's
    extra cells are zero, so nothing leaks from one image into the next). A shift by kernel
    row i is a constant offset, so KH contiguous copies give
    ``dZ_shifted[(i, f), s] = dZ_flat[f, s + (reach_h - i*D)*Wp]`` (``s = t + reach_w``) and one
    matrix product for the whole block sums over (i, f) at once:
    ``R[(j, c), s] = sum_{i,f} W[f, c, i, j] dZ_shifted[(i, f), s]``. A shift by kernel column j is
    a view of R, so ``dXpad[c, t] = sum_j R[(j, c), t + reach_w - j*D]``: KW views added into one
    contiguous output (a gather: no strided ``+=`` as in col2im).

    Eq. (3.2) is the same pairing read the other way (the adjoint of X -> dX above):
    ``dW[f, c, i, j] = sum_t dZ_shifted[(i, f), t + reach_w] X_shifted[(j, c), t]`` with KW shifted
    copies of the input, ``X_shifted[(j, c), t] = X_flat[c, t + j*D]`` (small: the images are),
    and a last row of ones: one matrix product per block gives dW and, from the row of ones,
    eq. (3.1)'s ``db`` (kernel row 0's copy of dZ holds every entry of dZ).
    """
    N, C, H, Wd = X.shape
    F = dZ3.shape[1]
    CK = C * KH * KW
    reach_h, reach_w = D[0] * (KH - 1), D[1] * (KW - 1)  # rows / columns a window reaches beyond its corner
    Hp, Wp = H + 2 * pad[0], Wd + 2 * pad[1]
    P = Hp * Wp  # grid cells per image
    front = reach_h * Wp + reach_w  # zeros in front of dZ's first cell
    nb = block_size(N, (C + F + KH * F + 2 * KW * C + 1) * P * dtype.itemsize)  # X, dZ, dZ_shifted, R, X_shifted
    span = nb * P + reach_w  # columns of dZ_shifted and R: s = t + reach_w for t in [-reach_w, nb*P)
    dZ_flat = np.zeros((F, front + nb * P), dtype=dtype)  # (F, front + nb*P), zero off the output cells
    dZ_grid = dZ_flat[:, front:].reshape(F, nb, Hp, Wp)  # (F, nb, Hp, Wp)
    X_flat = np.zeros((C, nb * P + reach_w), dtype=dtype)  # (C, nb*P + reach_w), padding stays zero
    X_grid = X_flat[:, : nb * P].reshape(C, nb, Hp, Wp)  # (C, nb, Hp, Wp)
    X_shifted = np.empty((KW * C + 1, nb * P), dtype=dtype)  # (KW*C + 1, nb*P): rows (j, c), then ones
    X_shifted[KW * C] = 1.0  # the row of ones: db
    X_shifted3 = X_shifted[: KW * C].reshape(KW, C, nb * P)  # (KW, C, nb*P)
    # W_by_col[(j, c), (i, f)] = W[f, c, i, j]
    W_by_col = W2T.reshape(C, KH, KW, F).transpose(2, 0, 1, 3).reshape(KW * C, KH * F)  # (KW*C, KH*F)
    dZ_shifted = np.empty((KH * F, span), dtype=dtype)  # (KH*F, span): rows (i, f)
    dZ_shifted3 = dZ_shifted.reshape(KH, F, span)  # (KH, F, span)
    R = np.empty((KW * C, span), dtype=dtype)  # (KW*C, span): rows (j, c)
    R3 = R.reshape(KW, C, span)  # (KW, C, span)
    dW_part = np.empty((KH * F, KW * C + 1), dtype=dtype)  # (KH*F, KW*C + 1)
    dW_rows = np.zeros((KH * F, KW * C + 1), dtype=dtype)  # dW[f, c, i, j] = dW_rows[i*F + f, j*C + c], db last
    dX = np.empty((N, C, H, Wd), dtype=dtype)  # (N, C, H, W)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        m = n1 - n0
        cells = m * P
        X_grid[:, :m, pad[0] : pad[0] + H, pad[1] : pad[1] + Wd] = X[n0:n1].transpose(1, 0, 2, 3)
        dZ_grid[:, :m, :Ho, :Wo] = dZ3[n0:n1].reshape(m, F, Ho, Wo).transpose(1, 0, 2, 3)
        for i in range(KH):  # dZ shifted by kernel row i: KH contiguous copies
            start = (reach_h - i * D[0]) * Wp
            dZ_shifted3[i, :, : cells + reach_w] = dZ_flat[:, start : start + cells + reach_w]
        # eq. (3.2) and (3.1): dW_rows += dZ_shifted[:, reach_w + t] @ X_shifted[:, t].T over the block's cells t
        for j in range(KW):
            X_shifted3[j, :, :cells] = X_flat[:, j * D[1] : j * D[1] + cells]
        np.matmul(dZ_shifted[:, reach_w : reach_w + cells], X_shifted[:, :cells].T, out=dW_part)  # (KH*F, KW*C + 1)
        dW_rows += dW_part
        # eq. (3.3): R = W_by_col @ dZ_shifted, then dX = sum of the KW shifted views of R
        np.matmul(W_by_col, dZ_shifted[:, : cells + reach_w], out=R[:, : cells + reach_w])  # (KW*C, cells + reach_w)
        views = []
        for j in range(KW):
            start = reach_w - j * D[1]
            grid = R3[j, :, start : start + cells].reshape(C, m, Hp, Wp)  # (C, m, Hp, Wp)
            views.append(grid[:, :, pad[0] : pad[0] + H, pad[1] : pad[1] + Wd].transpose(1, 0, 2, 3))
        out = dX[n0:n1]  # (m, C, H, W), contiguous
        if len(views) == 1:  # a kernel one column wide
            np.copyto(out, views[0])
        else:
            np.add(views[0], views[1], out=out)
            for view in views[2:]:
                np.add(out, view, out=out)
    dW = dW_rows[:, : KW * C].reshape(KH, F, KW, C).transpose(1, 3, 0, 2)  # (F, C, KH, KW)
    return dX, np.ascontiguousarray(dW).reshape(F, CK), dW_rows[:F, KW * C].copy()

"""Checkers for the exercises of notebook 10 (making it fast: im2col and matrix products).

* :func:`check_im2col` — exercise 10.1: the column matrix of a stride-1, unpadded
  convolution, one column per output position (eq. 10.1);
* :func:`check_col2im` — exercise 10.2: its adjoint, which adds every column entry back
  onto the input cell it was copied from; the verdict includes the adjoint test
  ``<im2col x, y> = <x, col2im y>`` (§10.6);
* :func:`check_conv_forward_matmul` — exercise 10.3: the forward pass as one matrix
  product per image, ``Z[n] = W2 @ cols[n] + b`` (eq. 10.2);
* :func:`check_conv_backward_matmul` — exercise 10.4: the backward pass as matrix
  products, ``db`` (eq. 10.3), ``dW2 = sum_n dZ[n] @ cols[n].T`` (eq. 10.4) and
  ``dX = col2im(W2.T @ dZ[n])`` (eq. 10.5).

Every exercise uses stride 1 and no padding. Each checker prints a verdict and returns a
:class:`Verdict` (truthy when every case passed); none raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..conv import col2im, conv2d_backward, conv2d_forward, im2col
from ._checking import Case, Verdict, cnnlib_backward, run_cases

__all__ = [
    "check_im2col",
    "check_col2im",
    "check_conv_forward_matmul",
    "check_conv_backward_matmul",
]


def _rng():
    return np.random.default_rng(10010)


def _ints(rng, shape, lo=-4, hi=5):
    """Small integers as floats: exact sums, so a right answer matches to the last bit."""
    return rng.integers(lo, hi, size=shape).astype(float)


def _out(H, Wd, KH, KW):
    return H - KH + 1, Wd - KW + 1


# --------------------------------------------------------------------------- 10.1 im2col


def _im2col_ijc(X, KH, KW):
    """Rows ordered (i, j, c) instead of (c, i, j): a common slip."""
    N, C, H, Wd = X.shape
    cols = im2col(X, (KH, KW))  # (N, C*KH*KW, L)
    L = cols.shape[2]
    return cols.reshape(N, C, KH, KW, L).transpose(0, 2, 3, 1, 4).reshape(N, C * KH * KW, L)


def _im2col_vu(X, KH, KW):
    """Columns ordered (v, u) (column by column) instead of (u, v) (row by row)."""
    N, C, H, Wd = X.shape
    Ho, Wo = _out(H, Wd, KH, KW)
    cols = im2col(X, (KH, KW))
    return cols.reshape(N, -1, Ho, Wo).transpose(0, 1, 3, 2).reshape(N, -1, Ho * Wo)


def _im2col_flipped(X, KH, KW):
    """Each window read from its far corner (the kernel offsets reversed)."""
    N, C, H, Wd = X.shape
    cols = im2col(X, (KH, KW))
    L = cols.shape[2]
    return cols.reshape(N, C, KH, KW, L)[:, :, ::-1, ::-1].reshape(N, C * KH * KW, L)


def check_im2col(my_im2col) -> Verdict:
    """Exercise 10.1. ``my_im2col(X, KH, KW) -> cols`` for stride 1 and no padding.

    X (N, C, H, W) -> cols (N, C*KH*KW, Ho*Wo) with Ho = H - KH + 1, Wo = W - KW + 1 and
    ``cols[n, (c*KH + i)*KW + j, u*Wo + v] = X[n, c, u + i, v + j]`` (notebook 10, eq. 10.1):
    one row per kernel entry (c, i, j), one column per output position (u, v), both in
    row-major order.
    """
    rng = _rng()
    specs = [
        ("2 channels, 3×5 input, 2×2 kernel (a square 8×8 column matrix)", 1, 2, 3, 5, 2, 2),
        ("one 4×4 image, 3×3 kernel", 1, 1, 4, 4, 3, 3),
        ("non-square: 4×5 input, 2×3 kernel", 1, 1, 4, 5, 2, 3),
        ("a batch: N=3 images, C=2, 5×6 input, 3×3 kernel", 3, 2, 5, 6, 3, 3),
    ]
    cases = []
    for label, N, C, H, Wd, KH, KW in specs:
        X = rng.permutation(N * C * H * Wd).reshape(N, C, H, Wd).astype(float) + 1.0  # distinct entries
        hints = {
            "the rows must run over the kernel entries as (c, i, j) — channel slowest, column j fastest, "
            "the order of W.reshape(F, C*KH*KW); yours run over (i, j, c)": _im2col_ijc(X, KH, KW),
            "the columns must run over the output positions row by row, column u*Wo + v; "
            "yours go column by column (v*Ho + u)": _im2col_vu(X, KH, KW),
            "each row (c, i, j) reads X[n, c, u + i, v + j]; yours reads the window from its far corner "
            "(the kernel offsets reversed)": _im2col_flipped(X, KH, KW),
        }
        Ho, Wo = _out(H, Wd, KH, KW)
        if Ho * Wo == C * KH * KW:
            hints["your matrix is transposed: rows are kernel entries (C*KH*KW), columns output positions (Ho*Wo)"] = (
                im2col(X, (KH, KW)).transpose(0, 2, 1)
            )
        cases.append(Case(label, (X, KH, KW), im2col(X, (KH, KW)), hints=hints))
    return run_cases(
        "check_im2col",
        my_im2col,
        cases,
        stub_hint="Fill in my_im2col(X, KH, KW) so that it returns cols with shape (N, C*KH*KW, Ho*Wo).",
    )


# --------------------------------------------------------------------------- 10.2 col2im


def _col2im_overwrite_by_window(cols, input_shape, KH, KW):
    """``=`` instead of ``+=``, looping over windows: the last window to touch a cell wins."""
    N, C, H, Wd = input_shape
    Ho, Wo = _out(H, Wd, KH, KW)
    c6 = cols.reshape(N, C, KH, KW, Ho, Wo)
    X = np.zeros(input_shape)
    for u in range(Ho):
        for v in range(Wo):
            X[:, :, u : u + KH, v : v + KW] = c6[:, :, :, :, u, v]
    return X


def _col2im_overwrite_by_offset(cols, input_shape, KH, KW):
    """``=`` instead of ``+=``, looping over kernel offsets (one strided slice each)."""
    N, C, H, Wd = input_shape
    Ho, Wo = _out(H, Wd, KH, KW)
    c6 = cols.reshape(N, C, KH, KW, Ho, Wo)
    X = np.zeros(input_shape)
    for i in range(KH):
        for j in range(KW):
            X[:, :, i : i + Ho, j : j + Wo] = c6[:, :, i, j]
    return X


def _coverage(input_shape, KH, KW):
    """How many windows cover each input cell: col2im of all ones."""
    N, C, H, Wd = input_shape
    Ho, Wo = _out(H, Wd, KH, KW)
    return col2im(np.ones((N, C * KH * KW, Ho * Wo)), tuple(input_shape), (KH, KW))


def _adjoint_test(my_col2im):
    """Run <im2col x, y> = <x, col2im y> on one random pair; (passed, sentence) or None if not applicable."""
    rng = np.random.default_rng(10020)
    shape, KH, KW = (2, 3, 5, 4), 2, 3
    x = rng.standard_normal(shape)
    y = rng.standard_normal((2, 3 * KH * KW, 4 * 2))
    try:
        answer = my_col2im(y.copy(), shape, KH, KW)
        answer = np.asarray(answer, dtype=np.float64)
    except Exception:  # reported by the cases already
        return None
    if answer.shape != shape or not np.all(np.isfinite(answer)):
        return None
    lhs = float(np.vdot(im2col(x, (KH, KW)), y))
    rhs = float(np.vdot(x, answer))
    ok = bool(np.isclose(lhs, rhs, rtol=1e-10, atol=1e-10))
    sentence = f"adjoint test with random x, y: <im2col x, y> = {lhs:.6f}, <x, my_col2im y> = {rhs:.6f} " + (
        "✓" if ok else "✗ (they must be equal for every x and y)"
    )
    return ok, sentence


def check_col2im(my_col2im) -> Verdict:
    """Exercise 10.2. ``my_col2im(cols, input_shape, KH, KW) -> dX`` for stride 1 and no padding.

    cols (N, C*KH*KW, Ho*Wo) -> (N, C, H, W) with ``input_shape = (N, C, H, W)``: every entry
    ``cols[n, (c*KH + i)*KW + j, u*Wo + v]`` is *added* to cell ``[n, c, u + i, v + j]``, so
    a cell covered by several windows receives the sum of their entries. This is the adjoint
    (transpose) of ``im2col`` (notebook 10, §10.6): ``<im2col(x), y> == <x, col2im(y)>``.
    The verdict ends with that adjoint test on a random pair x, y.
    """
    rng = _rng()
    specs = [
        ("one 4×4 image, 3×3 kernel", 1, 1, 4, 4, 3, 3),
        ("non-square: 4×5 input, 2×3 kernel", 1, 1, 4, 5, 2, 3),
        ("N=2 images, C=3 channels, 5×5 input, 2×2 kernel", 2, 3, 5, 5, 2, 2),
        ("kernel as large as the input (one column)", 1, 2, 3, 4, 3, 4),
    ]
    cases = []
    for label, N, C, H, Wd, KH, KW in specs:
        Ho, Wo = _out(H, Wd, KH, KW)
        shape = (N, C, H, Wd)
        cols = _ints(rng, (N, C * KH * KW, Ho * Wo))
        cols.flat[0] = 2.5
        expected = col2im(cols, shape, (KH, KW))
        hints = {
            "overlapping windows must add up (+=): yours keeps only one of the entries that land on a cell "
            "(= instead of +=, looping over windows)": _col2im_overwrite_by_window(cols, shape, KH, KW),
            "overlapping windows must add up (+=): yours keeps only one of the entries that land on a cell "
            "(= instead of +=, looping over kernel offsets)": _col2im_overwrite_by_offset(cols, shape, KH, KW),
            "you divided by the number of windows covering each cell: that undoes im2col "
            "(col2im(im2col(x)) would give x back), but the backward pass needs the adjoint, which only adds": (
                expected / _coverage(shape, KH, KW)
            ),
        }
        cases.append(Case(label, (cols, shape, KH, KW), expected, hints=hints))
    verdict = run_cases(
        "check_col2im",
        my_col2im,
        cases,
        stub_hint="Fill in my_col2im(cols, input_shape, KH, KW) so that it returns an array of shape input_shape.",
        forbidden=cnnlib_backward("col2im"),
    )
    if not callable(my_col2im):
        return verdict
    adjoint = _adjoint_test(my_col2im)
    if adjoint is None:
        return verdict
    ok, sentence = adjoint
    print(f"check_col2im: {sentence}")
    return Verdict(verdict.passed and ok, verdict.message + f"\ncheck_col2im: {sentence}")


# --------------------------------------------------------------------------- 10.3 forward as a matmul


def _conv(X, W, b):
    return conv2d_forward(X, W, b)[0]


def _conv_W_order_ijc(X, W, b):
    """W2 built from W ordered (f, i, j, c): its columns no longer match im2col's rows."""
    F, C, KH, KW = W.shape
    N, _, H, Wd = X.shape
    Ho, Wo = _out(H, Wd, KH, KW)
    W2 = W.transpose(0, 2, 3, 1).reshape(F, -1)
    return (W2 @ im2col(X, (KH, KW)) + b[:, None]).reshape(N, F, Ho, Wo)


def _conv_scrambled(X, W, b):
    """An (N, Ho*Wo, F) product reshaped straight to (N, F, Ho, Wo), without moving F forward."""
    F, C, KH, KW = W.shape
    N, _, H, Wd = X.shape
    Ho, Wo = _out(H, Wd, KH, KW)
    ZT = im2col(X, (KH, KW)).transpose(0, 2, 1) @ W.reshape(F, -1).T + b  # (N, L, F)
    return ZT.reshape(N, F, Ho, Wo)


def check_conv_forward_matmul(my_conv_forward) -> Verdict:
    """Exercise 10.3. ``my_conv_forward(X, W, b) -> Z`` as one matrix product per image.

    X (N, C, H, W), W (F, C, KH, KW), b (F,); stride 1, no padding. With ``cols`` from
    im2col (yours or ``cnnlib.im2col``) and ``W2 = W.reshape(F, C*KH*KW)``:
    ``Z[n] = W2 @ cols[n] + b[:, None]``, reshaped to (F, Ho, Wo) (notebook 10, eq. 10.2).
    Return Z (N, F, Ho, Wo).
    """
    rng = _rng()
    specs = [
        ("one image, one channel, one filter: 5×5 input, 3×3 kernel", 1, 1, 1, 5, 5, 3, 3),
        ("N=2, C=3 channels, F=4 filters, 5×6 input, 2×3 kernel", 2, 3, 4, 5, 6, 2, 3),
        ("N=3, C=2, F=2, 4×4 input, 3×3 kernel", 3, 2, 2, 4, 4, 3, 3),
    ]
    cases = []
    for label, N, C, F, H, Wd, KH, KW in specs:
        X = _ints(rng, (N, C, H, Wd))
        W = _ints(rng, (F, C, KH, KW), -3, 4)
        W[0, 0, 0, 0] = 5.0  # never symmetric
        b = _ints(rng, (F,), -3, 4) + 0.5
        hints = {
            "the bias is missing: add b[f] to every output of filter f (b[:, None] next to W2 @ cols)": _conv(
                X, W, np.zeros_like(b)
            ),
            "W2 must be W.reshape(F, C*KH*KW), whose columns run over (c, i, j) like im2col's rows; "
            "yours are ordered (i, j, c)": _conv_W_order_ijc(X, W, b),
            "this is a true convolution (the kernel rotated by 180°); the layer is a cross-correlation": _conv(
                X, W[:, :, ::-1, ::-1].copy(), b
            ),
            "an (N, Ho*Wo, F) product must be transposed to (N, F, Ho*Wo) before the reshape to "
            "(N, F, Ho, Wo); reshaping it directly scrambles the outputs": _conv_scrambled(X, W, b),
        }
        cases.append(Case(label, (X, W, b), _conv(X, W, b), hints=hints))
    return run_cases(
        "check_conv_forward_matmul",
        my_conv_forward,
        cases,
        stub_hint="Fill in my_conv_forward(X, W, b) so that it returns Z with shape (N, F, Ho, Wo).",
    )


# --------------------------------------------------------------------------- 10.4 backward as matmuls


def _grads(X, W, dZ):
    _, cache = conv2d_forward(X, W, np.zeros(W.shape[0]))
    return conv2d_backward(dZ, cache)


def check_conv_backward_matmul(my_conv_backward) -> Verdict:
    """Exercise 10.4. ``my_conv_backward(X, W, dZ) -> (dX, dW, db)`` with matrix products.

    X (N, C, H, W), W (F, C, KH, KW), dZ = dL/dZ (N, F, Ho, Wo); stride 1, no padding.
    With ``cols = im2col(X)``, ``W2 = W.reshape(F, C*KH*KW)`` and ``dZ3 = dZ.reshape(N, F, Ho*Wo)``
    (notebook 10, eqs. 10.3-10.5):
    ``db = dZ3.sum over (n, q)``; ``dW = sum_n dZ3[n] @ cols[n].T``, reshaped to W's shape;
    ``dX = col2im(W2.T @ dZ3[n])``. Return dX (N, C, H, W), dW (F, C, KH, KW), db (F,).
    """
    rng = _rng()
    specs = [
        ("one image, one channel, one filter: 5×5 input, 3×3 kernel", 1, 1, 1, 5, 5, 3, 3),
        ("N=3 images, C=2, F=3, 4×5 input, 2×3 kernel", 3, 2, 3, 4, 5, 2, 3),
        ("N=2, C=3, F=2, 5×5 input, 3×3 kernel", 2, 3, 2, 5, 5, 3, 3),
    ]
    cases = []
    for label, N, C, F, H, Wd, KH, KW in specs:
        Ho, Wo = _out(H, Wd, KH, KW)
        X = _ints(rng, (N, C, H, Wd))
        W = _ints(rng, (F, C, KH, KW), -3, 4)
        W[0, 0, 0, 0] = 5.0
        dZ = rng.standard_normal((N, F, Ho, Wo)).round(2)
        dX, dW, db = _grads(X, W, dZ)
        cov = _coverage((N, C, H, Wd), KH, KW)
        hints = {
            "dX: col2im must add overlapping entries; dividing by the number of windows per cell inverts im2col, "
            "it is not its adjoint": (dX / cov, dW, db),
            "dW2 = dZ3[n] @ cols[n].T is (F, C*KH*KW) and reshapes straight to W's shape; yours looks like its "
            "transpose (cols @ dZ.T) reshaped": (dX, _dW_transposed(X, dZ, W.shape), db),
        }
        if N > 1:
            hints["dW and db are sums over the batch too (every image used the same kernel), not means"] = (
                dX,
                dW / N,
                db / N,
            )
            hints["dW must add the products of every image of the batch, not only the first"] = (
                dX,
                _grads(X[:1], W, dZ[:1])[1],
                db,
            )
        cases.append(Case(label, (X, W, dZ), (dX, dW, db), names=("dX", "dW", "db"), hints=hints))
    return run_cases(
        "check_conv_backward_matmul",
        my_conv_backward,
        cases,
        stub_hint="Fill in my_conv_backward(X, W, dZ) so that it returns (dX, dW, db).",
        forbidden=cnnlib_backward("conv"),
    )


def _dW_transposed(X, dZ, W_shape):
    F, C, KH, KW = W_shape
    N = X.shape[0]
    cols = im2col(X, (KH, KW))  # (N, CK, L)
    dZ3 = dZ.reshape(N, F, -1)
    return np.einsum("nkq,nfq->kf", cols, dZ3).reshape(W_shape)

"""2-D max and average pooling, forward and backward: the specification.

This module says *what* is computed, in the book's notation; ``cnnlib/_pool_fast.py`` says
how the fast versions compute it. Two implementations of the same mathematics:

* ``maxpool2d_forward_naive`` / ``maxpool2d_backward_naive`` and the ``avgpool2d_*_naive``
  pair — explicit loops that read like the book's equations (notebook 04, eqs. 4.1-4.4;
  seed 003 §2.3 for the forward pass and §3.3 for the backward pass);
* ``maxpool2d_forward`` / ``maxpool2d_backward`` and ``avgpool2d_forward`` /
  ``avgpool2d_backward`` — the fast version (notebook 10): whole-array operations on
  strided slices whose only Python loops run over the RH + RW window offsets, never over
  output positions; max-pool's backward pass is a single scatter-add of dP onto the winners.

Layout is NCHW. With window size R (the keyword ``size``), stride S and padding ``padding``
the output size is (notebook 08, eq. 8.1 with D = 1)::

    H_out = floor((H + 2*padding - R) / S) + 1        (same for W_out)

as in PyTorch (``ceil_mode=False``). The window at output cell (u, v) covers the padded
rows ``u*S .. u*S + R - 1`` and columns ``v*S .. v*S + R - 1``; input rows or columns
that no window reaches receive zero gradient. Like PyTorch, padding may be at most
half the window, so every window holds at least one real input value. In code, ``P`` is
the pooled output (seed 003's letter), ``R``, ``S`` and ``pad`` are the (h, w) window size,
stride and padding, and ``Apad`` is A with ``pad`` cells on each side.

Conventions shared with PyTorch's ``max_pool2d`` / ``avg_pool2d``:

* **max-pool ties** — when several entries of a window share the maximum, the *first*
  one in row-major order (smallest i, then smallest j) is the winner and takes the
  whole gradient; the others get zero;
* **overlapping windows** (stride < size) — an input cell that wins several windows
  receives the sum of their gradients;
* **padding** — max-pool pads with -inf, so a padded cell is never selected;
  average pooling pads with zeros and *counts them* in the average
  (``count_include_pad=True``): every window is divided by RH*RW.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import _pool_fast as fast
from ._validate import as_array, check_cache, check_ndim, check_upstream, nonnegative_pair, pad_hw, positive_pair

__all__ = [
    "maxpool2d_forward",
    "maxpool2d_backward",
    "maxpool2d_forward_naive",
    "maxpool2d_backward_naive",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "avgpool2d_forward_naive",
    "avgpool2d_backward_naive",
    "pool_output_size",
]


def pool_output_size(length: int, size: int, stride: int, padding: int = 0) -> int:
    """Output length along one axis, ``floor((length + 2*padding - size) / stride) + 1`` (notebook 08, eq. 8.1, D = 1).

    ``length`` is the input's H or W, ``size`` the window's extent along that axis (ints,
    not checked: the pooling functions validate their arguments before calling it).
    """
    return (length + 2 * padding - size) // stride + 1


@dataclass(frozen=True)
class MaxPoolCache:
    """What ``maxpool2d_backward`` needs, plus the route every gradient takes.

    The cache keeps no reference to the caller's arrays (only shapes, the dtype and the
    winners' offsets, a new array), so editing A or P in place after the forward pass does
    not change the gradient. It costs nothing: the backward pass never reads A's values.

    Fields
    ------
    in_shape, dtype : shape (N, C, H, W) and dtype of the forward input A.
    size, stride, padding : the window (RH, RW), stride (SH, SW) and padding (PH, PW).
    out_shape : shape of P, (N, C, H_out, W_out).
    offset : int array (N, C, H_out, W_out); ``offset[n, c, u, v] = i*RW + j`` where (i, j) is
        the winner's position *inside* its window (seed 003's (i*, j*)), first maximum in
        row-major order.

    Derived (computed on first access)
    ----------------------------------
    argmax : int64 array (N, C, H_out, W_out); the winner's flat index ``row*W + col`` in
        the unpadded H x W plane of ``A[n, c]`` — PyTorch's ``return_indices`` convention.
        ``A.reshape(N, C, H*W)`` gathered at ``argmax`` gives back P.
    argmax_rows, argmax_cols : the same winner as (row, col) in A, each (N, C, H_out, W_out).
    """

    in_shape: tuple[int, int, int, int]  # (N, C, H, W)
    dtype: np.dtype
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_shape: tuple[int, int, int, int]  # (N, C, H_out, W_out)
    offset: np.ndarray  # (N, C, H_out, W_out), i*RW + j of the winner

    @cached_property
    def argmax_rows(self) -> np.ndarray:
        _, _, Ho, _ = self.out_shape
        i = self.offset.astype(np.int64) // self.size[1]  # (N, C, Ho, Wo)
        u = np.arange(Ho).reshape(Ho, 1)  # (Ho, 1)
        return u * self.stride[0] + i - self.padding[0]

    @cached_property
    def argmax_cols(self) -> np.ndarray:
        _, _, _, Wo = self.out_shape
        j = self.offset.astype(np.int64) % self.size[1]  # (N, C, Ho, Wo)
        v = np.arange(Wo)  # (Wo,)
        return v * self.stride[1] + j - self.padding[1]

    @cached_property
    def argmax(self) -> np.ndarray:
        return self.argmax_rows * self.in_shape[3] + self.argmax_cols


@dataclass(frozen=True)
class AvgPoolCache:
    """What ``avgpool2d_backward`` needs: the input shape and the hyper-parameters.

    Average pooling's gradient does not depend on the input values, so only the shape of
    A is kept (``in_shape``), with ``size``, ``stride``, ``padding`` and ``out_shape`` as
    in ``MaxPoolCache``: no reference to the caller's arrays, so an in-place edit of A or P
    after the forward pass cannot change the gradient.
    """

    in_shape: tuple[int, int, int, int]  # (N, C, H, W)
    dtype: np.dtype
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_shape: tuple[int, int, int, int]  # (N, C, H_out, W_out)


# --------------------------------------------------------------------------- validation


def _prepare(fn, A, size, stride, padding):
    """Check the forward inputs; return A, the (h, w) window R, stride S and padding, and P's shape."""
    A = as_array(fn, "A", A, finite=True)
    check_ndim(fn, "A", A, 4, "(N, C, H, W)")
    R = positive_pair(fn, "size", size)
    S = R if stride is None else positive_pair(fn, "stride", stride)
    pad = nonnegative_pair(fn, "padding", padding)
    if min(A.shape) == 0:
        raise ValueError(f"{fn}: A must have no empty axis, got A.shape={A.shape}")
    if 2 * pad[0] > R[0] or 2 * pad[1] > R[1]:
        raise ValueError(
            f"{fn}: padding must be at most half the window size, got padding={pad} for size={R} "
            f"(a window made mostly of padding would have nothing to pool)"
        )
    N, C, H, W = A.shape
    if R[0] > H + 2 * pad[0] or R[1] > W + 2 * pad[1]:
        raise ValueError(
            f"{fn}: the {R[0]}x{R[1]} window does not fit the padded input of "
            f"{H + 2 * pad[0]}x{W + 2 * pad[1]} (A.shape={A.shape}, padding={pad})"
        )
    Ho = pool_output_size(H, R[0], S[0], pad[0])
    Wo = pool_output_size(W, R[1], S[1], pad[1])
    return A, R, S, pad, (N, C, Ho, Wo)


def _offset_dtype(R) -> np.dtype:
    """The smallest int type that holds every offset i*RW + j of a RH x RW window."""
    return np.dtype(np.int8 if R[0] * R[1] <= 127 else np.int32)


def _crop(dAp: np.ndarray, pad, H: int, W: int) -> np.ndarray:
    """dA (N, C, H, W): the fast backward passes' dApad without its padding (no copy when there is none)."""
    if pad == (0, 0):
        return dAp
    return np.ascontiguousarray(dAp[:, :, pad[0] : pad[0] + H, pad[1] : pad[1] + W])  # (N, C, H, W)


# --------------------------------------------------------------------------- max pooling, loops


def maxpool2d_forward_naive(A, *, size=2, stride=None, padding=0):
    """Max-pooling forward pass with explicit loops (notebook 04, eq. 4.1; seed 003 §2.3).

    ``P[n, c, u, v] = max_{i, j} Apad[n, c, u*S + i, v*S + j]``,  0 <= i < RH, 0 <= j < RW,

    where Apad is A with ``padding`` cells of -inf on each side. The scan visits the window
    in row-major order and only a strictly larger value replaces the current best, so on a
    tie the first maximum in row-major order wins (PyTorch's rule).

    Shapes: A (N, C, H, W) -> P (N, C, H_out, W_out), ``H_out = floor((H + 2*padding - RH)/S) + 1``.
    size, stride, padding: int or (h, w); ``stride=None`` means stride = size. Returns
    ``(P, cache)``; ``cache.offset`` / ``cache.argmax`` record each winner (see ``MaxPoolCache``).
    """
    fn = "maxpool2d_forward_naive"
    A, R, S, pad, out_shape = _prepare(fn, A, size, stride, padding)
    N, C, Ho, Wo = out_shape
    Ap = pad_hw(A, pad, value=-np.inf)  # (N, C, Hp, Wp)
    P = np.empty(out_shape, dtype=A.dtype)  # (N, C, Ho, Wo)
    offset = np.empty(out_shape, dtype=_offset_dtype(R))  # (N, C, Ho, Wo)
    for n in range(N):
        for c in range(C):
            for u in range(Ho):
                for v in range(Wo):
                    best, i_star, j_star = -np.inf, 0, 0
                    for i in range(R[0]):
                        for j in range(R[1]):
                            value = Ap[n, c, u * S[0] + i, v * S[1] + j]
                            if value > best:  # strict: the first maximum keeps its place
                                best, i_star, j_star = value, i, j
                    P[n, c, u, v] = best
                    offset[n, c, u, v] = i_star * R[1] + j_star
    return P, MaxPoolCache(A.shape, A.dtype, R, S, pad, out_shape, offset)


def maxpool2d_backward_naive(dP, cache):
    """Max-pooling backward pass with explicit loops (notebook 04, eq. 4.2; seed 003 §3.3).

    For every output cell (u, v) with winner (i*, j*) in its window::

        dApad[n, c, u*S + i*, v*S + j*] += dP[n, c, u, v]

    and every other cell of the window gets nothing from (u, v). ``+=`` because with
    overlapping windows one input cell can win several windows. dA is dApad with the
    padding cropped away (a padded cell never wins, so nothing is lost).

    Shapes: dP (N, C, H_out, W_out) -> dA (N, C, H, W).
    """
    fn = "maxpool2d_backward_naive"
    check_cache(fn, cache, MaxPoolCache, "maxpool2d_forward_naive or maxpool2d_forward")
    dP = check_upstream(fn, "dP", dP, cache.out_shape)
    R, S, pad = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    _, _, H, W = cache.in_shape
    dtype = np.result_type(dP.dtype, cache.dtype)
    dAp = np.zeros((N, C, H + 2 * pad[0], W + 2 * pad[1]), dtype=dtype)  # (N, C, Hp, Wp)
    for n in range(N):
        for c in range(C):
            for u in range(Ho):
                for v in range(Wo):
                    i_star, j_star = divmod(int(cache.offset[n, c, u, v]), R[1])
                    dAp[n, c, u * S[0] + i_star, v * S[1] + j_star] += dP[n, c, u, v]
    return dAp[:, :, pad[0] : pad[0] + H, pad[1] : pad[1] + W].copy()


# --------------------------------------------------------------------------- max pooling, fast


def maxpool2d_forward(A, *, size=2, stride=None, padding=0):
    """Max-pooling forward pass, fast (notebook 10; the same numbers as notebook 04, eq. 4.1).

    ``P[n, c, u, v] = max_{i, j} Apad[n, c, u*S + i, v*S + j]``, computed as a maximum over
    rows of maxima over columns (``_pool_fast.max_forward``). Each step keeps the running
    best unless a strictly larger value comes, so the first maximum in row-major order
    (smallest i, then smallest j) wins — PyTorch's rule for ties. Padding is -inf and
    never wins.

    Shapes: A (N, C, H, W) -> P (N, C, H_out, W_out), ``H_out = floor((H + 2*padding - RH)/S) + 1``.
    size, stride, padding: int or (h, w); ``stride=None`` means stride = size; padding at
    most half the window. Returns ``(P, cache)``: ``cache.offset`` holds each winner's
    position i*RW + j inside its window and ``cache.argmax`` its flat index row*W + col in
    A's H x W plane (see ``MaxPoolCache``), so a figure can draw every gradient's route.
    """
    fn = "maxpool2d_forward"
    A, R, S, pad, out_shape = _prepare(fn, A, size, stride, padding)
    N, C, Ho, Wo = out_shape
    Ap = pad_hw(A, pad, value=-np.inf) if pad != (0, 0) else A  # (N, C, Hp, Wp)
    P, offset = fast.max_forward(Ap, R, S, Ho, Wo, _offset_dtype(R))  # (N, C, Ho, Wo) each, eq. (4.1)
    return P, MaxPoolCache(A.shape, A.dtype, R, S, pad, out_shape, offset)


def maxpool2d_backward(dP, cache):
    """Max-pooling backward pass, fast (notebook 10; the same numbers as notebook 04, eq. 4.2).

    Every dP entry goes to its window's winner: ``dApad[n, c, u*S + i*, v*S + j*] += dP[n, c, u, v]``.
    Overlapping windows accumulate; non-winners get zero; the padding is cropped away.
    Two equivalent routes, whichever is faster for the case at hand (``_pool_fast.max_backward``):

    * scatter-add: the winners' flat indices in dApad, summed in one ``np.bincount``;
    * by window offset: for each (i, j), the cells whose winner sits at (i, j) write their
      gradient into the strided slice ``dApad[:, :, i::S, j::S]`` (faster only for float32
      non-overlapping windows, since ``bincount`` always computes in float64).

    Shapes: dP (N, C, H_out, W_out) -> dA (N, C, H, W).
    """
    fn = "maxpool2d_backward"
    check_cache(fn, cache, MaxPoolCache, "maxpool2d_forward")
    dP = check_upstream(fn, "dP", dP, cache.out_shape)
    _, _, H, W = cache.in_shape
    dtype = np.result_type(dP.dtype, cache.dtype)
    dAp = fast.max_backward(dP, cache, dtype)  # (N, C, Hp, Wp), eq. (4.2)
    return _crop(dAp, cache.padding, H, W)


# --------------------------------------------------------------------------- average pooling


def avgpool2d_forward_naive(A, *, size=2, stride=None, padding=0):
    """Average-pooling forward pass with explicit loops (notebook 04, eq. 4.3).

    ``P[n, c, u, v] = 1/(RH*RW) * sum_{i, j} Apad[n, c, u*S + i, v*S + j]``

    with zero padding counted in the average (PyTorch's ``count_include_pad=True``). This
    is a convolution of each channel with a fixed RH x RW kernel of 1/(RH*RW) (seed 001).

    Shapes: A (N, C, H, W) -> P (N, C, H_out, W_out), ``H_out = floor((H + 2*padding - RH)/S) + 1``.
    Returns ``(P, cache)``.
    """
    fn = "avgpool2d_forward_naive"
    A, R, S, pad, out_shape = _prepare(fn, A, size, stride, padding)
    N, C, Ho, Wo = out_shape
    Ap = pad_hw(A, pad)  # (N, C, Hp, Wp)
    P = np.empty(out_shape, dtype=A.dtype)  # (N, C, Ho, Wo)
    for n in range(N):
        for c in range(C):
            for u in range(Ho):
                for v in range(Wo):
                    total = 0.0
                    for i in range(R[0]):
                        for j in range(R[1]):
                            total += Ap[n, c, u * S[0] + i, v * S[1] + j]
                    P[n, c, u, v] = total / (R[0] * R[1])
    return P, AvgPoolCache(A.shape, A.dtype, R, S, pad, out_shape)


def avgpool2d_backward_naive(dP, cache):
    """Average-pooling backward pass with explicit loops (notebook 04, eq. 4.4).

    Every cell of window (u, v) contributed 1/(RH*RW) of P[u, v], so::

        dApad[n, c, u*S + i, v*S + j] += dP[n, c, u, v] / (RH*RW)   for all i, j

    overlapping windows accumulate; dA is dApad with the padding cropped away.

    Shapes: dP (N, C, H_out, W_out) -> dA (N, C, H, W).
    """
    fn = "avgpool2d_backward_naive"
    check_cache(fn, cache, AvgPoolCache, "avgpool2d_forward_naive or avgpool2d_forward")
    dP = check_upstream(fn, "dP", dP, cache.out_shape)
    R, S, pad = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    _, _, H, W = cache.in_shape
    dtype = np.result_type(dP.dtype, cache.dtype)
    dAp = np.zeros((N, C, H + 2 * pad[0], W + 2 * pad[1]), dtype=dtype)  # (N, C, Hp, Wp)
    for n in range(N):
        for c in range(C):
            for u in range(Ho):
                for v in range(Wo):
                    share = dP[n, c, u, v] / (R[0] * R[1])
                    for i in range(R[0]):
                        for j in range(R[1]):
                            dAp[n, c, u * S[0] + i, v * S[1] + j] += share
    return dAp[:, :, pad[0] : pad[0] + H, pad[1] : pad[1] + W].copy()


def avgpool2d_forward(A, *, size=2, stride=None, padding=0):
    """Average-pooling forward pass, fast (notebook 10; the same numbers as notebook 04, eq. 4.3).

    ``P = 1/(RH*RW) * sum_{i, j} Apad[:, :, i::S, j::S]``, summed in two separable steps like
    ``maxpool2d_forward``: across the RW columns of every padded row, then down the RH rows
    of every window (``_pool_fast.avg_forward``). Zero padding is counted in the average
    (``count_include_pad=True``, PyTorch's default): every window is divided by RH*RW.

    Shapes: A (N, C, H, W) -> P (N, C, H_out, W_out), ``H_out = floor((H + 2*padding - RH)/S) + 1``.
    size, stride, padding: int or (h, w); ``stride=None`` means stride = size; padding at
    most half the window. Returns ``(P, cache)``.
    """
    fn = "avgpool2d_forward"
    A, R, S, pad, out_shape = _prepare(fn, A, size, stride, padding)
    N, C, Ho, Wo = out_shape
    Ap = pad_hw(A, pad) if pad != (0, 0) else A  # (N, C, Hp, Wp)
    P = fast.avg_forward(Ap, R, S, Ho, Wo)  # (N, C, Ho, Wo), eq. (4.3)
    return P, AvgPoolCache(A.shape, A.dtype, R, S, pad, out_shape)


def avgpool2d_backward(dP, cache):
    """Average-pooling backward pass, fast (notebook 10; the same numbers as notebook 04, eq. 4.4).

    ``dApad[:, :, i::S, j::S] += dP / (RH*RW)`` for every window offset (i, j), done as the
    forward's two steps in reverse: spread each share up the RH rows of its window, then
    across the RW columns. Overlapping windows accumulate; the padding is cropped away.

    Shapes: dP (N, C, H_out, W_out) -> dA (N, C, H, W).
    """
    fn = "avgpool2d_backward"
    check_cache(fn, cache, AvgPoolCache, "avgpool2d_forward")
    dP = check_upstream(fn, "dP", dP, cache.out_shape)
    pad = cache.padding
    N, C, H, W = cache.in_shape
    dtype = np.result_type(dP.dtype, cache.dtype)
    padded_shape = (N, C, H + 2 * pad[0], W + 2 * pad[1])
    dAp = fast.avg_backward(dP, cache.size, cache.stride, padded_shape, dtype)  # (N, C, Hp, Wp), eq. (4.4)
    return _crop(dAp, pad, H, W)

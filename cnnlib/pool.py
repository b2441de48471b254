"""2-D max and average pooling, forward and backward.

Two implementations of the same mathematics:

* ``maxpool2d_forward_naive`` / ``maxpool2d_backward_naive`` and the ``avgpool2d_*_naive``
  pair — explicit loops that read like the book's equations (notebook 04; seed 003 §2.3
  for the forward pass and §3.3 for the backward pass);
* ``maxpool2d_forward`` / ``maxpool2d_backward`` and ``avgpool2d_forward`` /
  ``avgpool2d_backward`` — the fast version (notebook 10): whole-array operations on
  strided slices, one per window column j and one per window row i (a maximum or a sum
  over a rectangle is one over its rows of one over its columns), so the only Python
  loops run over the KH + KW window offsets, never over output positions; max-pool's
  backward pass is a single scatter-add (``np.bincount``) of dP onto the winners.

Layout is NCHW. With window size K, stride S and padding P the output size is::

    H_out = floor((H + 2P - K) / S) + 1        (same for W_out)

as in PyTorch (``ceil_mode=False``). The window at output cell (u, v) covers the padded
rows ``u*S .. u*S + K - 1`` and columns ``v*S .. v*S + K - 1``; input rows or columns
that no window reaches receive zero gradient. Like PyTorch, padding may be at most
half the window, so every window holds at least one real input value.

Conventions shared with PyTorch's ``max_pool2d`` / ``avg_pool2d``:

* **max-pool ties** — when several entries of a window share the maximum, the *first*
  one in row-major order (smallest i, then smallest j) is the winner and takes the
  whole gradient; the others get zero;
* **overlapping windows** (stride < size) — an input cell that wins several windows
  receives the sum of their gradients;
* **padding** — max-pool pads with -inf, so a padded cell is never selected;
  average pooling pads with zeros and *counts them* in the average
  (``count_include_pad=True``): every window is divided by KH*KW.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._validate import as_array, check_cache, check_ndim, check_same_shape, nonnegative_int, positive_int

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


def pool_output_size(size: int, window: int, stride: int, padding: int = 0) -> int:
    """Output length along one axis: ``floor((size + 2P - K) / S) + 1`` (notebook 08, eq. 8.1 with D = 1)."""
    return (size + 2 * padding - window) // stride + 1


@dataclass(frozen=True)
class MaxPoolCache:
    """What ``maxpool2d_backward`` needs, plus the route every gradient takes.

    Fields
    ------
    A : the forward input (N, C, H, W), kept by reference and never modified.
    size, stride, padding : the window (KH, KW), stride (SH, SW) and padding (PH, PW).
    out_shape : shape of P, (N, C, H_out, W_out).
    offset : int array (N, C, H_out, W_out); ``offset[n, c, u, v] = i*KW + j`` where (i, j) is
        the winner's position *inside* its window (seed 003's (i*, j*)), first maximum in
        row-major order.
    naive : True when the loop version built this cache.

    Derived (computed on first access)
    ----------------------------------
    argmax : int64 array (N, C, H_out, W_out); the winner's flat index ``row*W + col`` in
        the unpadded H x W plane of ``A[n, c]`` — PyTorch's ``return_indices`` convention.
        ``A.reshape(N, C, H*W)`` gathered at ``argmax`` gives back P.
    argmax_rows, argmax_cols : the same winner as (row, col) in A, each (N, C, H_out, W_out).
    """

    A: np.ndarray  # (N, C, H, W)
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_shape: tuple[int, int, int, int]  # (N, C, H_out, W_out)
    offset: np.ndarray  # (N, C, H_out, W_out), i*KW + j of the winner
    naive: bool = False

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
        return self.argmax_rows * self.A.shape[3] + self.argmax_cols


@dataclass(frozen=True)
class AvgPoolCache:
    """What ``avgpool2d_backward`` needs: the input shape and the hyper-parameters.

    Average pooling's gradient does not depend on the input values, so only the shape of
    A is kept (``in_shape``), with ``size``, ``stride``, ``padding`` and ``out_shape`` as
    in ``MaxPoolCache``.
    """

    in_shape: tuple[int, int, int, int]  # (N, C, H, W)
    dtype: np.dtype
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_shape: tuple[int, int, int, int]  # (N, C, H_out, W_out)
    naive: bool = False


# --------------------------------------------------------------------------- validation


def _prepare(fn, A, size, stride, padding):
    A = as_array(fn, "A", A, finite=True)
    check_ndim(fn, "A", A, 4, "(N, C, H, W)")
    K = positive_int(fn, "size", size)
    S = K if stride is None else positive_int(fn, "stride", stride)
    P = nonnegative_int(fn, "padding", padding)
    if min(A.shape) == 0:
        raise ValueError(f"{fn}: A must have no empty axis, got A.shape={A.shape}")
    if 2 * P[0] > K[0] or 2 * P[1] > K[1]:
        raise ValueError(
            f"{fn}: padding must be at most half the window size, got padding={P} for size={K} "
            f"(a window made mostly of padding would have nothing to pool)"
        )
    N, C, H, W = A.shape
    if K[0] > H + 2 * P[0] or K[1] > W + 2 * P[1]:
        raise ValueError(
            f"{fn}: the {K[0]}x{K[1]} window does not fit the padded input of "
            f"{H + 2 * P[0]}x{W + 2 * P[1]} (A.shape={A.shape}, padding={P})"
        )
    Ho = pool_output_size(H, K[0], S[0], P[0])
    Wo = pool_output_size(W, K[1], S[1], P[1])
    return A, K, S, P, (N, C, Ho, Wo)


def _check_dP(fn, dP, cache):
    dP = as_array(fn, "dP", dP)
    check_same_shape(fn, "dP", dP, cache.out_shape, "the shape of P from the forward pass")
    return dP


def _pad(A: np.ndarray, P: tuple[int, int], value: float, dtype=None) -> np.ndarray:
    """A copy of A with P rows/columns of ``value`` added on each side of the two spatial axes."""
    N, C, H, W = A.shape
    Ap = np.full((N, C, H + 2 * P[0], W + 2 * P[1]), value, dtype=dtype or A.dtype)  # (N, C, Hp, Wp)
    Ap[:, :, P[0] : P[0] + H, P[1] : P[1] + W] = A
    return Ap


def _span(start: int, step: int, count: int) -> slice:
    """``start, start + step, ..., start + (count - 1)*step`` as a slice."""
    return slice(start, start + step * (count - 1) + 1, step)


def _offset_slice(i: int, j: int, S, Ho: int, Wo: int):
    """Index that picks, for every output cell (u, v), the padded cell (u*S + i, v*S + j)."""
    return (slice(None), slice(None), _span(i, S[0], Ho), _span(j, S[1], Wo))


def _offset_dtype(K) -> np.dtype:
    return np.dtype(np.int8 if K[0] * K[1] <= 127 else np.int32)


# --------------------------------------------------------------------------- max pooling, loops


def maxpool2d_forward_naive(A, *, size=2, stride=None, padding=0):
    """Max-pooling forward pass with explicit loops (notebook 04, eq. 4.1; seed 003 §2.3).

    ``P[n, c, u, v] = max_{i, j} Apad[n, c, u*S + i, v*S + j]``,  0 <= i < KH, 0 <= j < KW,

    where Apad is A with ``padding`` cells of -inf on each side. The scan visits the window
    in row-major order and only a strictly larger value replaces the current best, so on a
    tie the first maximum in row-major order wins (PyTorch's rule).

    Shapes: A (N, C, H, W) -> P (N, C, H_out, W_out), ``H_out = floor((H + 2P - KH)/S) + 1``.
    size, stride, padding: int or (h, w); ``stride=None`` means stride = size. Returns
    ``(P, cache)``; ``cache.offset`` / ``cache.argmax`` record each winner (see ``MaxPoolCache``).
    """
    fn = "maxpool2d_forward_naive"
    A, K, S, Pd, out_shape = _prepare(fn, A, size, stride, padding)
    N, C, Ho, Wo = out_shape
    Ap = _pad(A, Pd, -np.inf)  # (N, C, Hp, Wp)
    P = np.empty(out_shape, dtype=A.dtype)  # (N, C, Ho, Wo)
    offset = np.empty(out_shape, dtype=_offset_dtype(K))  # (N, C, Ho, Wo)
    for n in range(N):
        for c in range(C):
            for u in range(Ho):
                for v in range(Wo):
                    best, i_star, j_star = -np.inf, 0, 0
                    for i in range(K[0]):
                        for j in range(K[1]):
                            value = Ap[n, c, u * S[0] + i, v * S[1] + j]
                            if value > best:  # strict: the first maximum keeps its place
                                best, i_star, j_star = value, i, j
                    P[n, c, u, v] = best
                    offset[n, c, u, v] = i_star * K[1] + j_star
    return P, MaxPoolCache(A, K, S, Pd, out_shape, offset, naive=True)


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
    dP = _check_dP(fn, dP, cache)
    K, S, Pd = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    _, _, H, W = cache.A.shape
    dtype = np.result_type(dP.dtype, cache.A.dtype)
    dAp = np.zeros((N, C, H + 2 * Pd[0], W + 2 * Pd[1]), dtype=dtype)  # (N, C, Hp, Wp)
    for n in range(N):
        for c in range(C):
            for u in range(Ho):
                for v in range(Wo):
                    i_star, j_star = divmod(int(cache.offset[n, c, u, v]), K[1])
                    dAp[n, c, u * S[0] + i_star, v * S[1] + j_star] += dP[n, c, u, v]
    return dAp[:, :, Pd[0] : Pd[0] + H, Pd[1] : Pd[1] + W].copy()


# --------------------------------------------------------------------------- max pooling, fast


def maxpool2d_forward(A, *, size=2, stride=None, padding=0):
    """Max-pooling forward pass, fast (notebook 10; the same numbers as notebook 04, eq. 4.1).

    ``P[n, c, u, v] = max_{i, j} Apad[n, c, u*S + i, v*S + j]``, using that a maximum over
    a rectangle is a maximum over rows of maxima over columns:

    1. across: ``M[.., r, v] = max_j Apad[.., r, v*S + j]`` for every padded row r, a running
       maximum over the KW strided column slices ``Apad[:, :, :, j::S]``;
    2. down: ``P[.., u, v] = max_i M[.., u*S + i, v]``, a running maximum over KH row slices.

    Each step replaces the running best only by a strictly larger value, so the first
    maximum wins: the first column within a row, then the first row. Together that is the
    first maximum in row-major order (smallest i, then smallest j) — PyTorch's rule for
    ties. Padding is -inf and never wins.

    Shapes: A (N, C, H, W) -> P (N, C, H_out, W_out), ``H_out = floor((H + 2P - KH)/S) + 1``.
    size, stride, padding: int or (h, w); ``stride=None`` means stride = size; padding at
    most half the window. Returns ``(P, cache)``: ``cache.offset`` holds each winner's
    position i*KW + j inside its window and ``cache.argmax`` its flat index row*W + col in
    A's H x W plane (see ``MaxPoolCache``), so a figure can draw every gradient's route.
    """
    fn = "maxpool2d_forward"
    A, K, S, Pd, out_shape = _prepare(fn, A, size, stride, padding)
    N, C, Ho, Wo = out_shape
    Ap = _pad(A, Pd, -np.inf) if Pd != (0, 0) else A  # (N, C, Hp, Wp)
    rows = S[0] * (Ho - 1) + K[0]  # padded rows that some window reads
    across_shape = (N, C, rows, Wo)
    odtype = _offset_dtype(K)

    # 1. across: best over the KW columns of every window row; j_best is the winning column j
    M = Ap[:, :, :rows, _span(0, S[1], Wo)].copy()  # (N, C, rows, Wo), column j = 0 to start
    j_best = np.zeros(across_shape, dtype=odtype)  # (N, C, rows, Wo)
    if K[1] > 1:
        column = np.empty(across_shape, dtype=M.dtype)  # (N, C, rows, Wo)
        better = np.empty(across_shape, dtype=bool)
        step = np.empty(across_shape, dtype=odtype)
        for j in range(1, K[1]):
            # one strided read into a contiguous buffer, then fast contiguous comparisons
            np.copyto(column, Ap[:, :, :rows, _span(j, S[1], Wo)])
            np.greater(column, M, out=better)  # strictly greater: ties keep the earlier column
            np.maximum(M, column, out=M)
            # j_best = where(better, j, j_best), as integer arithmetic (a masked copy is slower)
            np.subtract(j, j_best, out=step)
            step *= better
            j_best += step

    # 2. down: best over the KH rows of every window; the offset is i*KW + (that row's j_best)
    P = M[:, :, _span(0, S[0], Ho)].copy()  # (N, C, Ho, Wo), row i = 0 to start
    offset = j_best[:, :, _span(0, S[0], Ho)].copy()  # (N, C, Ho, Wo)
    if K[0] > 1:
        better = np.empty(out_shape, dtype=bool)
        step = np.empty(out_shape, dtype=odtype)
        for i in range(1, K[0]):
            rows_i = (slice(None), slice(None), _span(i, S[0], Ho))
            np.greater(M[rows_i], P, out=better)  # strictly greater: ties keep the earlier row
            np.maximum(P, M[rows_i], out=P)
            np.add(j_best[rows_i], i * K[1], out=step)  # offset = where(better, i*KW + j_best, offset)
            step -= offset
            step *= better
            offset += step
    return P, MaxPoolCache(A, K, S, Pd, out_shape, offset)


def maxpool2d_backward(dP, cache):
    """Max-pooling backward pass, fast (notebook 10; the same numbers as notebook 04, eq. 4.2).

    Every dP entry goes to its window's winner: ``dApad[n, c, u*S + i*, v*S + j*] += dP[n, c, u, v]``.
    Overlapping windows accumulate; non-winners get zero; the padding is cropped away.
    Two equivalent routes, whichever is faster for the case at hand:

    * scatter-add: the winners' flat indices in dApad, summed in one ``np.bincount``;
    * by window offset: for each (i, j), the cells whose winner sits at (i, j) write their
      gradient into the strided slice ``dApad[:, :, i::S, j::S]`` (faster only for float32
      non-overlapping windows, since ``bincount`` always computes in float64).

    Shapes: dP (N, C, H_out, W_out) -> dA (N, C, H, W).
    """
    fn = "maxpool2d_backward"
    check_cache(fn, cache, MaxPoolCache, "maxpool2d_forward")
    dP = _check_dP(fn, dP, cache)
    K, S, Pd = cache.size, cache.stride, cache.padding
    _, _, H, W = cache.A.shape
    dtype = np.result_type(dP.dtype, cache.A.dtype)
    overlap = S[0] < K[0] or S[1] < K[1]
    if overlap or dtype != np.float32:
        dAp = _route_by_bincount(dP, cache, dtype)  # (N, C, Hp, Wp)
    else:
        dAp = _route_by_offset(dP, cache, dtype)  # (N, C, Hp, Wp)
    if Pd == (0, 0):
        return dAp
    return np.ascontiguousarray(dAp[:, :, Pd[0] : Pd[0] + H, Pd[1] : Pd[1] + W])  # (N, C, H, W)


def _route_by_bincount(dP, cache, dtype) -> np.ndarray:
    """dApad (N, C, Hp, Wp): each dP entry added at its winner's flat index, duplicates summed."""
    K, S, Pd = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    Hp, Wp = cache.A.shape[2] + 2 * Pd[0], cache.A.shape[3] + 2 * Pd[1]
    step = (np.arange(K[0])[:, None] * Wp + np.arange(K[1])).ravel()  # (KH*KW,), flat step of offset i*KW + j
    index = np.take(step, cache.offset)  # (N, C, Ho, Wo), winner's position relative to its window
    index += np.arange(Ho)[:, None] * (S[0] * Wp) + np.arange(Wo) * S[1]  # + window's top-left corner
    index += (np.arange(N * C) * (Hp * Wp)).reshape(N, C, 1, 1)  # + start of plane (n, c)
    dAp = np.bincount(index.ravel(), weights=dP.ravel(), minlength=N * C * Hp * Wp)  # float64
    return dAp.reshape(N, C, Hp, Wp).astype(dtype, copy=False)


def _route_by_offset(dP, cache, dtype) -> np.ndarray:
    """dApad (N, C, Hp, Wp) built by one masked strided write (or add) per window offset (i, j)."""
    K, S, Pd = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    _, _, H, W = cache.A.shape
    dP = dP.astype(dtype, copy=False)
    dAp = np.zeros((N, C, H + 2 * Pd[0], W + 2 * Pd[1]), dtype=dtype)  # (N, C, Hp, Wp)
    overlap = S[0] < K[0] or S[1] < K[1]
    mask = np.empty(cache.out_shape, dtype=bool)  # (N, C, Ho, Wo)
    routed = np.empty(cache.out_shape, dtype=dtype) if overlap else None  # (N, C, Ho, Wo)
    for i in range(K[0]):
        for j in range(K[1]):
            np.equal(cache.offset, i * K[1] + j, out=mask)  # windows whose winner sits at (i, j)
            target = dAp[_offset_slice(i, j, S, Ho, Wo)]  # (N, C, Ho, Wo) view
            if overlap:
                np.multiply(dP, mask, out=routed)
                target += routed
            else:  # each cell of dApad is reached by at most one (window, offset): plain write
                np.multiply(dP, mask, out=target)
    return dAp


# --------------------------------------------------------------------------- average pooling


def avgpool2d_forward_naive(A, *, size=2, stride=None, padding=0):
    """Average-pooling forward pass with explicit loops (notebook 04, eq. 4.3).

    ``P[n, c, u, v] = 1/(KH*KW) * sum_{i, j} Apad[n, c, u*S + i, v*S + j]``

    with zero padding counted in the average (PyTorch's ``count_include_pad=True``). This
    is a convolution of each channel with a fixed KH x KW kernel of 1/(KH*KW) (seed 001).

    Shapes: A (N, C, H, W) -> P (N, C, H_out, W_out). Returns ``(P, cache)``.
    """
    fn = "avgpool2d_forward_naive"
    A, K, S, Pd, out_shape = _prepare(fn, A, size, stride, padding)
    N, C, Ho, Wo = out_shape
    Ap = _pad(A, Pd, 0.0)  # (N, C, Hp, Wp)
    P = np.empty(out_shape, dtype=A.dtype)  # (N, C, Ho, Wo)
    for n in range(N):
        for c in range(C):
            for u in range(Ho):
                for v in range(Wo):
                    total = 0.0
                    for i in range(K[0]):
                        for j in range(K[1]):
                            total += Ap[n, c, u * S[0] + i, v * S[1] + j]
                    P[n, c, u, v] = total / (K[0] * K[1])
    return P, AvgPoolCache(A.shape, A.dtype, K, S, Pd, out_shape, naive=True)


def avgpool2d_backward_naive(dP, cache):
    """Average-pooling backward pass with explicit loops (notebook 04, eq. 4.4).

    Every cell of window (u, v) contributed 1/(KH*KW) of P[u, v], so::

        dApad[n, c, u*S + i, v*S + j] += dP[n, c, u, v] / (KH*KW)   for all i, j

    overlapping windows accumulate; dA is dApad with the padding cropped away.

    Shapes: dP (N, C, H_out, W_out) -> dA (N, C, H, W).
    """
    fn = "avgpool2d_backward_naive"
    check_cache(fn, cache, AvgPoolCache, "avgpool2d_forward_naive or avgpool2d_forward")
    dP = _check_dP(fn, dP, cache)
    K, S, Pd = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    _, _, H, W = cache.in_shape
    dtype = np.result_type(dP.dtype, cache.dtype)
    dAp = np.zeros((N, C, H + 2 * Pd[0], W + 2 * Pd[1]), dtype=dtype)  # (N, C, Hp, Wp)
    for n in range(N):
        for c in range(C):
            for u in range(Ho):
                for v in range(Wo):
                    share = dP[n, c, u, v] / (K[0] * K[1])
                    for i in range(K[0]):
                        for j in range(K[1]):
                            dAp[n, c, u * S[0] + i, v * S[1] + j] += share
    return dAp[:, :, Pd[0] : Pd[0] + H, Pd[1] : Pd[1] + W].copy()


def avgpool2d_forward(A, *, size=2, stride=None, padding=0):
    """Average-pooling forward pass, fast (notebook 10; the same numbers as notebook 04, eq. 4.3).

    ``P = 1/(KH*KW) * sum_{i, j} Apad[:, :, i::S, j::S]``, summed in two separable steps like
    ``maxpool2d_forward``: across the KW columns of every padded row (strided column
    slices), then down the KH rows of every window. Zero padding is counted in the average
    (``count_include_pad=True``, PyTorch's default): every window is divided by KH*KW.

    Shapes: A (N, C, H, W) -> P (N, C, H_out, W_out), ``H_out = floor((H + 2P - KH)/S) + 1``.
    size, stride, padding: int or (h, w); ``stride=None`` means stride = size; padding at
    most half the window. Returns ``(P, cache)``.
    """
    fn = "avgpool2d_forward"
    A, K, S, Pd, out_shape = _prepare(fn, A, size, stride, padding)
    N, C, Ho, Wo = out_shape
    Ap = _pad(A, Pd, 0.0) if Pd != (0, 0) else A  # (N, C, Hp, Wp)
    rows = S[0] * (Ho - 1) + K[0]  # padded rows that some window reads
    M = Ap[:, :, :rows, _span(0, S[1], Wo)].copy()  # (N, C, rows, Wo): row sums across each window
    for j in range(1, K[1]):
        M += Ap[:, :, :rows, _span(j, S[1], Wo)]
    P = M[:, :, _span(0, S[0], Ho)].copy()  # (N, C, Ho, Wo): then down each window
    for i in range(1, K[0]):
        P += M[:, :, _span(i, S[0], Ho)]
    P *= P.dtype.type(1.0 / (K[0] * K[1]))
    return P, AvgPoolCache(A.shape, A.dtype, K, S, Pd, out_shape)


def avgpool2d_backward(dP, cache):
    """Average-pooling backward pass, fast (notebook 10; the same numbers as notebook 04, eq. 4.4).

    ``dApad[:, :, i::S, j::S] += dP / (KH*KW)`` for every window offset (i, j), done as the
    forward's two steps in reverse: spread each share up the KH rows of its window, then
    across the KW columns. Overlapping windows accumulate; the padding is cropped away.

    Shapes: dP (N, C, H_out, W_out) -> dA (N, C, H, W).
    """
    fn = "avgpool2d_backward"
    check_cache(fn, cache, AvgPoolCache, "avgpool2d_forward")
    dP = _check_dP(fn, dP, cache)
    K, S, Pd = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    _, _, H, W = cache.in_shape
    dtype = np.result_type(dP.dtype, cache.dtype)
    share = dP.astype(dtype) * dtype.type(1.0 / (K[0] * K[1]))  # (N, C, Ho, Wo)
    rows = S[0] * (Ho - 1) + K[0]
    dM = np.zeros((N, C, rows, Wo), dtype=dtype)  # (N, C, rows, Wo)
    for i in range(K[0]):
        dM[:, :, _span(i, S[0], Ho)] += share
    dAp = np.zeros((N, C, H + 2 * Pd[0], W + 2 * Pd[1]), dtype=dtype)  # (N, C, Hp, Wp)
    for j in range(K[1]):
        dAp[:, :, :rows, _span(j, S[1], Wo)] += dM
    if Pd == (0, 0):
        return dAp
    return np.ascontiguousarray(dAp[:, :, Pd[0] : Pd[0] + H, Pd[1] : Pd[1] + W])  # (N, C, H, W)

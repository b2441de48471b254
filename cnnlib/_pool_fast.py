"""How pool.py is made fast: the whole-array kernels behind the pooling layers' fast versions.

``cnnlib/pool.py`` states the mathematics (the loops of notebook 04, eqs. 4.1-4.4) and checks
the arguments; this module computes the same numbers with whole-array operations on strided
slices (notebook 10; timings in ``benchmarks/README.md``). Nothing here is part of the public
API; every function takes validated (h, w) pairs: the window ``R`` (the public ``size``),
stride ``S`` and padding ``pad``.

* **Forward, separable.** A maximum (or a sum) over a RH x RW window is one over its rows of
  one over its columns: first across, over the RW strided column slices of every padded
  row (``row_best`` / ``row_sums``), then down, over RH row slices. So the only Python loops
  run over the RH + RW window offsets, never over output positions (``max_forward``,
  ``avg_forward``, and ``avg_backward`` in reverse).
* **Max-pool backward**, two routes to the same numbers (``max_backward`` picks one):
  a single scatter-add of dP onto the winners' flat indices with ``np.bincount``
  (``route_by_bincount``), or one masked strided write per window offset (``route_by_offset``,
  faster only for float32 non-overlapping windows, since ``bincount`` computes in float64).

``Ho``, ``Wo`` are the output size, ``Hp``, ``Wp`` the padded input size, ``rows`` the padded
rows that some window reads. A padded array is named with a ``p``: ``Ap``, ``dAp``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "span",
    "max_forward",
    "max_backward",
    "route_by_bincount",
    "route_by_offset",
    "avg_forward",
    "avg_backward",
]


def span(start: int, step: int, count: int) -> slice:
    """``start, start + step, ..., start + (count - 1)*step`` as a slice."""
    return slice(start, start + step * (count - 1) + 1, step)


def max_forward(Ap, R, S, Ho: int, Wo: int, offset_dtype):
    """P and the winners' offsets i*RW + j, both (N, C, Ho, Wo), from the -inf-padded input Ap (N, C, Hp, Wp).

    ``P[n, c, u, v] = max_{i, j} Ap[n, c, u*S + i, v*S + j]`` (notebook 04, eq. 4.1) in two steps:

    1. across: ``row_best[.., r, v] = max_j Ap[.., r, v*S + j]`` for every padded row r, a running
       maximum over the RW strided column slices ``Ap[:, :, :, j::S]``;
    2. down: ``P[.., u, v] = max_i row_best[.., u*S + i, v]``, a running maximum over RH row slices.

    Each step replaces the running best only by a strictly larger value, so the first
    maximum wins: the first column within a row, then the first row. Together that is the
    first maximum in row-major order (smallest i, then smallest j), PyTorch's rule for ties.
    """
    N, C = Ap.shape[:2]
    out_shape = (N, C, Ho, Wo)
    rows = S[0] * (Ho - 1) + R[0]  # padded rows that some window reads
    across_shape = (N, C, rows, Wo)

    # 1. across: best over the RW columns of every window row; j_best is the winning column j
    row_best = Ap[:, :, :rows, span(0, S[1], Wo)].copy()  # (N, C, rows, Wo), column j = 0 to start
    j_best = np.zeros(across_shape, dtype=offset_dtype)  # (N, C, rows, Wo)
    if R[1] > 1:
        column = np.empty(across_shape, dtype=row_best.dtype)  # (N, C, rows, Wo)
        better = np.empty(across_shape, dtype=bool)  # (N, C, rows, Wo)
        change = np.empty(across_shape, dtype=offset_dtype)  # (N, C, rows, Wo)
        for j in range(1, R[1]):
            # one strided read into a contiguous buffer, then fast contiguous comparisons
            np.copyto(column, Ap[:, :, :rows, span(j, S[1], Wo)])
            np.greater(column, row_best, out=better)  # strictly greater: ties keep the earlier column
            np.maximum(row_best, column, out=row_best)
            # j_best = where(better, j, j_best), as integer arithmetic (a masked copy is slower)
            np.subtract(j, j_best, out=change)
            change *= better
            j_best += change

    # 2. down: best over the RH rows of every window; the offset is i*RW + (that row's j_best)
    P = row_best[:, :, span(0, S[0], Ho)].copy()  # (N, C, Ho, Wo), row i = 0 to start
    offset = j_best[:, :, span(0, S[0], Ho)].copy()  # (N, C, Ho, Wo)
    if R[0] > 1:
        better = np.empty(out_shape, dtype=bool)  # (N, C, Ho, Wo)
        change = np.empty(out_shape, dtype=offset_dtype)  # (N, C, Ho, Wo)
        for i in range(1, R[0]):
            rows_i = (slice(None), slice(None), span(i, S[0], Ho))
            np.greater(row_best[rows_i], P, out=better)  # strictly greater: ties keep the earlier row
            np.maximum(P, row_best[rows_i], out=P)
            np.add(j_best[rows_i], i * R[1], out=change)  # offset = where(better, i*RW + j_best, offset)
            change -= offset
            change *= better
            offset += change
    return P, offset


def max_backward(dP, cache, dtype) -> np.ndarray:
    """dApad (N, C, Hp, Wp): every dP entry added to its window's winner (notebook 04, eq. 4.2).

    By ``np.bincount`` unless the windows do not overlap and the dtype is float32, where one
    write per window offset is faster. That route multiplies dP by a mask, and 0 * inf is
    NaN, so a dP with an inf or NaN goes by ``np.bincount``, which adds each entry to its
    winner only: the other cells stay exactly 0, as in PyTorch.
    """
    R, S = cache.size, cache.stride
    overlap = S[0] < R[0] or S[1] < R[1]
    if overlap or dtype != np.float32 or not np.isfinite(dP).all():
        return route_by_bincount(dP, cache, dtype)
    return route_by_offset(dP, cache, dtype)


def route_by_bincount(dP, cache, dtype) -> np.ndarray:
    """dApad (N, C, Hp, Wp): each dP entry added at its winner's flat index, duplicates summed."""
    R, S, pad = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    Hp, Wp = cache.in_shape[2] + 2 * pad[0], cache.in_shape[3] + 2 * pad[1]
    offset_step = (np.arange(R[0])[:, None] * Wp + np.arange(R[1])).ravel()  # (RH*RW,), flat step of i*RW + j
    index = np.take(offset_step, cache.offset)  # (N, C, Ho, Wo), winner's position relative to its window
    index += np.arange(Ho)[:, None] * (S[0] * Wp) + np.arange(Wo) * S[1]  # + window's top-left corner
    index += (np.arange(N * C) * (Hp * Wp)).reshape(N, C, 1, 1)  # + start of plane (n, c)
    dAp = np.bincount(index.ravel(), weights=dP.ravel(), minlength=N * C * Hp * Wp)  # float64
    return dAp.reshape(N, C, Hp, Wp).astype(dtype, copy=False)


def route_by_offset(dP, cache, dtype) -> np.ndarray:
    """dApad (N, C, Hp, Wp) built by one masked strided write (or add) per window offset (i, j)."""
    R, S, pad = cache.size, cache.stride, cache.padding
    N, C, Ho, Wo = cache.out_shape
    _, _, H, W = cache.in_shape
    dP = dP.astype(dtype, copy=False)
    dAp = np.zeros((N, C, H + 2 * pad[0], W + 2 * pad[1]), dtype=dtype)  # (N, C, Hp, Wp)
    overlap = S[0] < R[0] or S[1] < R[1]
    mask = np.empty(cache.out_shape, dtype=bool)  # (N, C, Ho, Wo)
    routed = np.empty(cache.out_shape, dtype=dtype) if overlap else None  # (N, C, Ho, Wo)
    for i in range(R[0]):
        for j in range(R[1]):
            np.equal(cache.offset, i * R[1] + j, out=mask)  # windows whose winner sits at (i, j)
            target = dAp[:, :, span(i, S[0], Ho), span(j, S[1], Wo)]  # (N, C, Ho, Wo) view
            if overlap:
                np.multiply(dP, mask, out=routed)
                target += routed
            else:  # each cell of dApad is reached by at most one (window, offset): plain write
                np.multiply(dP, mask, out=target)
    return dAp


def avg_forward(Ap, R, S, Ho: int, Wo: int) -> np.ndarray:
    """P (N, C, Ho, Wo) from the zero-padded input Ap: ``1/(RH*RW) * sum_{i, j} Ap[:, :, i::S, j::S]`` (eq. 4.3).

    Summed in two separable steps like ``max_forward``: across the RW columns of every
    padded row, then down the RH rows of every window.
    """
    rows = S[0] * (Ho - 1) + R[0]  # padded rows that some window reads
    row_sums = Ap[:, :, :rows, span(0, S[1], Wo)].copy()  # (N, C, rows, Wo): sums across each window row
    for j in range(1, R[1]):
        row_sums += Ap[:, :, :rows, span(j, S[1], Wo)]
    P = row_sums[:, :, span(0, S[0], Ho)].copy()  # (N, C, Ho, Wo): then down each window
    for i in range(1, R[0]):
        P += row_sums[:, :, span(i, S[0], Ho)]
    P *= P.dtype.type(1.0 / (R[0] * R[1]))
    return P


def avg_backward(dP, R, S, padded_shape, dtype) -> np.ndarray:
    """dApad (padded_shape): ``dApad[:, :, i::S, j::S] += dP / (RH*RW)`` for every offset (i, j) (eq. 4.4).

    ``avg_forward``'s two steps in reverse: spread each share up the RH rows of its window,
    then across the RW columns. Overlapping windows accumulate.
    """
    N, C, Ho, Wo = dP.shape
    share = dP.astype(dtype) * dtype.type(1.0 / (R[0] * R[1]))  # (N, C, Ho, Wo)
    rows = S[0] * (Ho - 1) + R[0]
    d_row_sums = np.zeros((N, C, rows, Wo), dtype=dtype)  # (N, C, rows, Wo)
    for i in range(R[0]):
        d_row_sums[:, :, span(i, S[0], Ho)] += share
    dAp = np.zeros(padded_shape, dtype=dtype)  # (N, C, Hp, Wp)
    for j in range(R[1]):
        dAp[:, :, :rows, span(j, S[1], Wo)] += d_row_sums
    return dAp

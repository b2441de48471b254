"""A convolution is a matrix product: the tied, mostly-zero weight matrix (notebook 03, §3.1).

Seed 001's answer: a single-channel 2-D convolution is a fully connected layer
whose weight matrix ``T`` has two constraints — most entries are structurally
zero (an output only sees its receptive field) and the remaining entries are
*tied*: each one is a copy of some kernel entry ``W[i, j]``. With the images
flattened in C order (row by row),

    vec(Z) = T @ vec(X)                      (notebook 02, eq. 2.5; bias left out)

and because the copies are the same parameter, the gradient of a kernel entry
is the sum of the big matrix's gradient over all of its copies:

    dW[i, j] = sum over {(r, k) : tie[r, k] = i*KW + j} of dM[r, k],
    dM = outer(vec(dZ), vec(X))              (notebook 03, eq. 3.5)

which is exactly ``conv2d_backward``'s ``dW``. Also ``vec(dX) = T.T @ vec(dZ)``.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_array, check_ndim, nonnegative_pair, plain_array, positive_pair
from .conv import conv_output_size

__all__ = ["conv2d_as_matrix", "tied_gradient"]


def _input_hw(fn: str, input_hw) -> tuple[int, int]:
    try:
        H, Wd = input_hw
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: input_hw must be a pair of ints (H, W), got {input_hw!r}") from None
    return positive_pair(fn, "input_hw", (H, Wd))


def conv2d_as_matrix(W, input_hw, *, stride=1, padding=0, dilation=1):
    """The dense matrix of a single-channel 2-D convolution (notebook 02, eq. 2.5; notebook 03, eq. 3.4; seed 001).

    ``W`` is one kernel, shape (KH, KW) (a (1, 1, KH, KW) array is accepted too);
    ``input_hw = (H, W)`` is the input's spatial size. Returns ``(T, tie)``:

    * ``T`` (H_out*W_out, H*W): ``vec(Z) = T @ vec(X)`` with C-order flattening,
      i.e. ``T[u*W_out + v, r*W + k] = W[i, j]`` whenever input cell (r, k) sits
      under kernel entry (i, j) of output position (u, v):
      ``r = u*S + i*D - pad``, ``k = v*S + j*D - pad``. Cells that fall in the zero
      padding have no column (they multiply zeros), so they drop out.
    * ``tie`` (same shape, int): ``i*KW + j`` — which kernel entry each weight is a
      copy of — and ``-1`` where ``T`` is structurally zero. (A kernel entry that is
      itself 0 still has its tie index.)

    Same output size rule as ``conv2d_forward``:
    ``H_out = floor((H + 2·pad - D(KH-1) - 1)/S) + 1``.
    """
    fn = "conv2d_as_matrix"
    W = as_array(fn, "W", W, finite=True)
    if W.ndim == 4 and W.shape[:2] == (1, 1):
        W = W[0, 0]
    if W.ndim != 2:
        raise ValueError(f"{fn}: W must be a single 2-D kernel (KH, KW) or (1, 1, KH, KW), got shape {W.shape}")
    KH, KW = W.shape
    if KH == 0 or KW == 0:
        raise ValueError(f"{fn}: W must not be empty, got shape {W.shape}")
    H, Wd = _input_hw(fn, input_hw)
    S = positive_pair(fn, "stride", stride)
    pad = nonnegative_pair(fn, "padding", padding)
    D = positive_pair(fn, "dilation", dilation)
    Ho = conv_output_size(H, KH, S[0], pad[0], D[0])
    Wo = conv_output_size(Wd, KW, S[1], pad[1], D[1])
    if Ho < 1 or Wo < 1:
        raise ValueError(
            f"{fn}: the (dilated) kernel spans {D[0] * (KH - 1) + 1}x{D[1] * (KW - 1) + 1} but the padded "
            f"input is only {H + 2 * pad[0]}x{Wd + 2 * pad[1]} (W.shape={W.shape}, input_hw={(H, Wd)}, "
            f"padding={padding}, dilation={dilation})"
        )
    tie = np.full((Ho * Wo, H * Wd), -1, dtype=np.intp)  # (Ho*Wo, H*W)
    u, v, i, j = np.meshgrid(np.arange(Ho), np.arange(Wo), np.arange(KH), np.arange(KW), indexing="ij")
    r = u * S[0] + i * D[0] - pad[0]  # input row under kernel entry (i, j) at output (u, v)
    k = v * S[1] + j * D[1] - pad[1]  # input column
    inside = (r >= 0) & (r < H) & (k >= 0) & (k < Wd)  # not in the padding
    rows = (u * Wo + v)[inside]
    cols = (r * Wd + k)[inside]
    tie[rows, cols] = (i * KW + j)[inside]
    T = np.zeros(tie.shape, dtype=W.dtype)  # (Ho*Wo, H*W)
    mask = tie >= 0
    T[mask] = W.reshape(-1)[tie[mask]]
    return T, tie


def tied_gradient(dM, tie, kernel_shape):
    """Sum the big matrix's gradient over tied entries: ``dW[i, j] = sum of dM where tie == i*KW + j``.

    ``dM`` and ``tie`` have the same shape (the ``tie`` returned by
    ``conv2d_as_matrix``); ``kernel_shape = (KH, KW)``. Entries with ``tie == -1``
    are structurally zero and ignored. Returns ``dW`` with shape (KH, KW).
    With ``dM = np.outer(vec(dZ), vec(X))`` this equals ``conv2d_backward``'s dW
    (notebook 03, eq. 3.5).
    """
    fn = "tied_gradient"
    dM = as_array(fn, "dM", dM)
    tie_arr = plain_array(fn, "tie", tie)
    if not np.issubdtype(tie_arr.dtype, np.integer):
        raise TypeError(f"{fn}: tie must be an integer array (from conv2d_as_matrix), got dtype {tie_arr.dtype}")
    check_ndim(fn, "dM", dM, 2, "(H_out*W_out, H*W)")
    if tie_arr.shape != dM.shape:
        raise ValueError(f"{fn}: tie must have the shape of dM {dM.shape}, got {tie_arr.shape}")
    KH, KW = positive_pair(fn, "kernel_shape", tuple(kernel_shape) if isinstance(kernel_shape, list) else kernel_shape)
    if tie_arr.size and (tie_arr.min() < -1 or tie_arr.max() >= KH * KW):
        raise ValueError(
            f"{fn}: tie values must lie in [-1, {KH * KW - 1}] for kernel_shape {(KH, KW)}, "
            f"got range [{tie_arr.min()}, {tie_arr.max()}]"
        )
    mask = tie_arr >= 0
    dW = np.bincount(tie_arr[mask], weights=dM[mask], minlength=KH * KW)  # (KH*KW,)
    return dW.astype(dM.dtype, copy=False).reshape(KH, KW)

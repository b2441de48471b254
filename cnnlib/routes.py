"""One gradient entry of a convolution as the list of products it sums (NumPy only).

Chapter 03 writes the kernel gradient and the input gradient as sums of products,

    dW[f, c, i, j] = Σ_{u,v} X̃[c, u·S + i·D, v·S + j·D] · δZ[f, u, v]        (eq. 3.2; eq. 8.3)
    dX[c, x, y]    = Σ_{f,i,j} W[f, c, i, j] · δZ[f, u, v]  over u·S + i·D = x + pad,
                                                              v·S + j·D = y + pad  (eq. 3.3; eq. 8.4)

(X̃ is X zero-padded by pad). :func:`conv_dW_terms` and :func:`conv_dX_terms` list those
products for one entry, with the factors' indices, and compare their sum with
``conv2d_backward``'s value of the entry. The figures (``cnnlib.viz``) and the explorers
(``cnnlib.widgets``) draw what these functions computed; they never apply the index
rules themselves.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np

from ._format import Formatter, factor
from ._validate import as_array, as_chw, check_in_range, int_tuple, nonnegative_pair, positive_pair
from .conv import conv2d_backward, conv2d_forward, conv_output_size

__all__ = ["RouteSum", "conv_dW_terms", "conv_dX_terms", "dW_route", "dX_route"]


@dataclass
class RouteSum:
    """One gradient entry written as a sum of products (chapter 03, eqs. 3.2 and 3.3; seed 003's (2) and (3)).

    ``terms``: the nonzero products, as ``(a_index, a_value, b_index, b_value)``;
    ``total``: cnnlib's value of the entry (from ``conv2d_backward``); ``equation``: the
    sum written out, with zero products left out (``omitted`` counts them).

    ``products`` lists every product of the sum, zero factors included, as
    ``(a_index, b_index)``. For dW the first factor is X with ``a_index`` = (row, col) in
    X's own (unpadded) coordinates — outside X on the padding; for dX it is W with
    ``a_index`` = (f, i, j). ``b_index`` is (u, v) for dW and (f, u, v) for dX.
    ``grad`` is the whole gradient the entry belongs to (dW (F, C, KH, KW) or dX (C, H, W))
    and ``index`` the entry; ``stride``, ``padding``, ``dilation`` are (h, w) pairs and
    ``out_size`` is (Ho, Wo). ``a`` and ``b`` are the factors' arrays as the sum reads them:
    X (C, H, W) or W (F, C, KH, KW), and δZ (F, Ho, Wo).
    """

    name: str
    terms: list
    total: float
    omitted: int
    equation: str
    a_name: str
    b_name: str
    products: list
    grad: np.ndarray
    index: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_size: tuple
    a: np.ndarray
    b: np.ndarray


def _hyper(fn, stride, padding, dilation):
    return (
        positive_pair(fn, "stride", stride),
        nonnegative_pair(fn, "padding", padding),
        positive_pair(fn, "dilation", dilation),
    )


def _out_size(fn, H, W, KH, KW, S, pad, D):
    Ho = conv_output_size(H, KH, S[0], pad[0], D[0])
    Wo = conv_output_size(W, KW, S[1], pad[1], D[1])
    if Ho < 1 or Wo < 1:
        raise ValueError(
            f"{fn}: the (dilated) kernel spans {D[0] * (KH - 1) + 1}x{D[1] * (KW - 1) + 1} but the padded input is "
            f"only {H + 2 * pad[0]}x{W + 2 * pad[1]}"
        )
    return Ho, Wo


def _equation(lhs, terms, fa, fb, total_text, omitted_delta, omitted_zero, zero_name, width_chars=110):
    """``lhs = a·b + a·b + ... = total`` wrapped to ``width_chars``, with a note on the zero products left out."""
    parts = [f"{factor(fa(a))}\u00b7{factor(fb(b))}" for _, a, _, b in terms]
    text = f"{lhs} = {' + '.join(parts)} = {total_text}" if parts else f"{lhs} = {total_text}"
    notes = []
    if omitted_delta:
        notes.append(f"{omitted_delta} term{'s' if omitted_delta != 1 else ''} with \u03b4 = 0")
    if omitted_zero:
        notes.append(f"{omitted_zero} with {zero_name} = 0")
    if notes:
        text += f"   ({' and '.join(notes)} left out)"
    return "\n".join(textwrap.wrap(text, width=width_chars, subsequent_indent="      ", break_long_words=False))


def _given_grad(fn, name, grad, shape):
    """The caller's own ``conv2d_backward`` result for this gradient, reshaped to ``shape``."""
    g = as_array(fn, name, grad)
    if g.size != int(np.prod(shape)):
        raise ValueError(f"{fn}: {name} must have the gradient's shape {shape}, got {g.shape}")
    return g.reshape(shape)


def conv_dW_terms(X, dZ, kernel_shape, index, *, stride=1, padding=0, dilation=1, dW=None) -> RouteSum:
    """``dW[f, c, i, j] = Σ_{u,v} X̃[c, u·S + i·D, v·S + j·D] · δZ[f, u, v]`` as its list of products.

    Chapter 03 eq. 3.2 (stride 1), chapter 08 eq. 8.3 (stride, padding, dilation); seed 003's
    eq. (2). Shapes: X (H, W), (C, H, W) or (1, C, H, W); dZ (Ho, Wo), (F, Ho, Wo) or
    (1, F, Ho, Wo); ``kernel_shape`` (KH, KW) or (F, C, KH, KW); ``index`` (i, j) or
    (f, c, i, j). ``total`` is ``conv2d_backward``'s entry; pass that backward pass's ``dW``
    when you have it, so that it is not computed a second time.
    """
    return dW_route("conv_dW_terms", X, dZ, kernel_shape, index, stride, padding, dilation, dW)


def dW_route(fn, X, dZ, kernel_shape, index, stride, padding, dilation, dW=None) -> RouteSum:
    """:func:`conv_dW_terms` for the public function ``fn`` (which its error messages name)."""
    X3 = as_chw(fn, "X", X)  # (C, H, W)
    dZ3 = as_chw(fn, "dZ", dZ, "(F, Ho, Wo)")  # (F, Ho, Wo)
    C, H, W = X3.shape
    F = dZ3.shape[0]
    ks = int_tuple(fn, "kernel_shape", kernel_shape, (2, 4))
    if len(ks) == 2:
        ks = (F, C, *ks)
    if ks[0] != F or ks[1] != C:
        raise ValueError(f"{fn}: kernel_shape {ks} does not match X's {C} channel(s) and dZ's {F} filter(s)")
    if min(ks) < 1:
        raise ValueError(f"{fn}: kernel_shape must be positive, got {ks}")
    KH, KW = ks[2], ks[3]
    S, pad, D = _hyper(fn, stride, padding, dilation)
    Ho, Wo = _out_size(fn, H, W, KH, KW, S, pad, D)
    if dZ3.shape[1:] != (Ho, Wo):
        raise ValueError(
            f"{fn}: dZ must be {Ho}x{Wo} (the output size for X {H}x{W}, kernel {KH}x{KW}, stride {S}, padding {pad}, "
            f"dilation {D}), got {dZ3.shape[1:]}"
        )
    idx = int_tuple(fn, "index", index, (2, 4))
    if len(idx) == 2:
        if F != 1 or C != 1:
            raise ValueError(f"{fn}: index must be (f, c, i, j) when there are {F} filters and {C} channels")
        idx = (0, 0, *idx)
    check_in_range(fn, "index", idx, ks, "dW")
    f, c, i, j = idx
    if dW is None:
        dtype = np.result_type(X3.dtype, dZ3.dtype)
        _, cache = conv2d_forward(X3[None], np.zeros(ks, dtype), np.zeros(F, dtype), stride=S, padding=pad, dilation=D)
        _, dW, _ = conv2d_backward(dZ3[None].astype(dtype, copy=False), cache)  # (F, C, KH, KW)
    else:
        dW = _given_grad(fn, "dW", dW, ks)  # (F, C, KH, KW)
    Xp = np.pad(X3[c], ((pad[0], pad[0]), (pad[1], pad[1])))  # X̃: (H + 2P, W + 2P)
    terms, products, omitted, zero_x = [], [], 0, 0
    for u in range(Ho):
        for v in range(Wo):
            xr, xc = u * S[0] + i * D[0], v * S[1] + j * D[1]  # eq. 8.3: the cell of X̃ under W[i, j]
            d, xv = float(dZ3[f, u, v]), float(Xp[xr, xc])
            products.append(((xr - pad[0], xc - pad[1]), (u, v)))
            if d == 0:
                omitted += 1
            elif xv == 0:
                zero_x += 1
            else:
                terms.append(((xr - pad[0], xc - pad[1]), xv, (u, v), d))
    total = float(dW[idx])
    name = f"dW[{i},{j}]" if ks[:2] == (1, 1) else f"dW[{f},{c},{i},{j}]"
    # each factor formatted as its panel shows it
    fa, fb, ft = Formatter(fn, None, X3[c]), Formatter(fn, None, dZ3[f]), Formatter(fn, None, dW[f, c])
    eq = _equation(name, terms, fa, fb, ft(total), omitted, zero_x, "X")
    return RouteSum(
        name, terms, total, omitted + zero_x, eq, "X", "\u03b4Z", products, dW, idx, S, pad, D, (Ho, Wo), X3, dZ3
    )


def conv_dX_terms(W, dZ, input_shape, index, *, stride=1, padding=0, dilation=1, dX=None) -> RouteSum:
    """``dX[c, x, y] = Σ_{f,i,j} W[f, c, i, j] · δZ[f, u, v]`` over ``u·S + i·D = x + pad`` (same for y).

    Chapter 03 eq. 3.3 (stride 1), chapter 08 eq. 8.4; seed 003's eq. (3). Shapes: W (KH, KW)
    or (F, C, KH, KW); dZ (Ho, Wo), (F, Ho, Wo) or (1, F, Ho, Wo); ``input_shape`` (H, W),
    (C, H, W) or (1, C, H, W); ``index`` (x, y) or (c, x, y). ``total`` is
    ``conv2d_backward``'s entry; pass that backward pass's ``dX`` when you have it, so that it
    is not computed a second time.
    """
    return dX_route("conv_dX_terms", W, dZ, input_shape, index, stride, padding, dilation, dX)


def dX_route(fn, W, dZ, input_shape, index, stride, padding, dilation, dX=None) -> RouteSum:
    """:func:`conv_dX_terms` for the public function ``fn`` (which its error messages name)."""
    W4 = as_array(fn, "W", W, finite=True)
    if W4.ndim == 2:
        W4 = W4[None, None]  # (1, 1, KH, KW)
    if W4.ndim != 4 or 0 in W4.shape:
        raise ValueError(f"{fn}: W must be (KH, KW) or (F, C, KH, KW), got shape {np.shape(W)}")
    F, C, KH, KW = W4.shape
    dZ3 = as_chw(fn, "dZ", dZ, "(F, Ho, Wo)")  # (F, Ho, Wo)
    if dZ3.shape[0] != F:
        raise ValueError(f"{fn}: dZ has {dZ3.shape[0]} filter map(s) but W has {F} filter(s)")
    shp = int_tuple(fn, "input_shape", input_shape, (2, 3, 4))
    if len(shp) == 4:
        if shp[0] != 1:
            raise ValueError(f"{fn}: input_shape must describe one image (N = 1), got {shp}")
        shp = shp[1:]
    if len(shp) == 2:
        shp = (C, *shp)
    if shp[0] != C or min(shp) < 1:
        raise ValueError(f"{fn}: input_shape {shp} does not match W's {C} channel(s)")
    _, H, Wd = shp
    S, pad, D = _hyper(fn, stride, padding, dilation)
    Ho, Wo = _out_size(fn, H, Wd, KH, KW, S, pad, D)
    if dZ3.shape[1:] != (Ho, Wo):
        raise ValueError(
            f"{fn}: dZ must be {Ho}x{Wo} (the output size for input {H}x{Wd}, kernel {KH}x{KW}, stride {S}, "
            f"padding {pad}, dilation {D}), got {dZ3.shape[1:]}"
        )
    idx = int_tuple(fn, "index", index, (2, 3))
    if len(idx) == 2:
        if C != 1:
            raise ValueError(f"{fn}: index must be (c, x, y) when the input has {C} channels")
        idx = (0, *idx)
    check_in_range(fn, "index", idx, shp, "dX")
    c, x, y = idx
    if dX is None:
        dtype = np.result_type(W4.dtype, dZ3.dtype)
        _, cache = conv2d_forward(np.zeros((1, *shp), dtype), W4, np.zeros(F, dtype), stride=S, padding=pad, dilation=D)
        dX = conv2d_backward(dZ3[None].astype(dtype, copy=False), cache)[0][0]  # (C, H, W)
    else:
        dX = _given_grad(fn, "dX", dX, shp)  # (C, H, W)
    terms, products, omitted, zero_w = [], [], 0, 0
    for f in range(F):
        for i in range(KH):
            for j in range(KW):
                # eq. 8.4: W[f, c, i, j] meets δZ[f, u, v] where u·S + i·D = x + pad (and likewise for v)
                u, ru = divmod(x + pad[0] - i * D[0], S[0])
                v, rv = divmod(y + pad[1] - j * D[1], S[1])
                if ru or rv or not (0 <= u < Ho and 0 <= v < Wo):
                    continue
                d, wv = float(dZ3[f, u, v]), float(W4[f, c, i, j])
                products.append(((f, i, j), (f, u, v)))
                if d == 0:
                    omitted += 1
                elif wv == 0:
                    zero_w += 1
                else:
                    terms.append(((f, i, j), wv, (f, u, v), d))
    total = float(dX[idx])
    name = f"dX[{x},{y}]" if C == 1 else f"dX[{c},{x},{y}]"
    # each factor formatted as its panel shows it (all filters' panels share one format)
    fa, fb, ft = Formatter(fn, None, W4[:, c]), Formatter(fn, None, dZ3), Formatter(fn, None, dX[c])
    eq = _equation(name, terms, fa, fb, ft(total), omitted, zero_w, "W")
    return RouteSum(
        name, terms, total, omitted + zero_w, eq, "W", "\u03b4Z", products, dX, idx, S, pad, D, (Ho, Wo), W4, dZ3
    )

"""Route pictures: where one gradient entry comes from (``maxpool_routes``,
``conv_dW_route``, ``conv_dX_route``).

Drawing only: a convolution route's products come from ``cnnlib.routes`` and max-pool
winners from ``cnnlib.pool``.

Colours by meaning: gradients (δP, δA, δZ, the dilated δ, dW, dX) and kernels W are signed
(diverging, centred at 0). The input (A of a max-pool, X of a convolution) is the one
exception: its meaning is not known to the figure, so ``signed_input`` says it, and by
default it follows the data (signed when it has a negative entry, e.g. standardised
inputs; grey from 0 otherwise).
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import matplotlib
import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch

from .._format import Formatter, auto_decimals, factor
from .._validate import as_2d, positive_pair
from ..pool import maxpool2d_backward, maxpool2d_forward
from ..routes import dW_route, dX_route
from ._alt import describe
from ._figure import new_figure, styled
from ._style import INK, MAX_WIDTH, MIN_FONT_PT, MUTED, colour_limits
from .heatmap import (
    Decimals,
    add_colour_key,
    cell_inches,
    check_nonnegative,
    draw_heatmap,
    outline,
    route_color,
)

__all__ = ["PoolRoute", "conv_dW_route", "conv_dX_route", "maxpool_routes", "pool_routes"]

# --------------------------------------------------------------------------- max-pool routes


class _Window(NamedTuple):
    """One pooling window: its cell (pu, pv) of P, its top-left cell of A, its winner and the cells tying with it."""

    pu: int
    pv: int
    r0: int
    c0: int
    winner: tuple[int, int]
    ties: list[tuple[int, int]]


class PoolRoute(NamedTuple):
    """One route of a ``maxpool_routes`` figure: δP[window] is sent to A's cell ``winner``."""

    window: tuple[int, int]
    winner: tuple[int, int]
    delta: float


_POOL_ROUTES: weakref.WeakKeyDictionary[Figure, list[PoolRoute]] = weakref.WeakKeyDictionary()


def pool_routes(fig) -> list[PoolRoute]:
    """The routes a ``maxpool_routes`` figure draws, one per window in row-major order.

    ``maxpool_routes`` returns the ``Figure`` (callers draw into and display it), so the
    routes are kept in a registry of this module keyed weakly by the figure.
    """
    return _POOL_ROUTES[fig]


def _names(fn: str, names, n: int) -> tuple[str, ...]:
    """The ``n`` array names a route picture writes in its titles (the book's letters by default)."""
    if isinstance(names, str) or not isinstance(names, (tuple, list)) or len(names) != n:
        raise TypeError(f"{fn}: names must be a tuple of {n} strings, got {names!r}")
    if not all(isinstance(t, str) and t for t in names):
        raise TypeError(f"{fn}: names must be non-empty strings, got {names!r}")
    return tuple(names)


def _input_signed(fn: str, what: str, values: np.ndarray, signed_input) -> bool:
    """Whether an input is drawn as signed: ``signed_input``, or (None) whether it has a negative entry."""
    if signed_input is None:
        return bool(np.any(values < 0))
    if not signed_input:
        check_nonnegative(fn, what, values, "pass signed_input=True (or None) for a signed input")
    return bool(signed_input)


def _pool_windows(A: np.ndarray, size, stride):
    """Each window as a ``_Window``, with the winner taken from ``maxpool2d_forward``'s cache.

    ``ties`` lists the other cells of the window equal to its maximum (they get no gradient).
    Returns ``(P, cache, windows)``.
    """
    (KH, KW), (SH, SW) = size, stride
    P, cache = maxpool2d_forward(A[None, None], size=(KH, KW), stride=(SH, SW))
    rows, cols = cache.argmax_rows[0, 0], cache.argmax_cols[0, 0]  # (Ho, Wo) each
    Ho, Wo = P.shape[2:]
    out = []
    for pu in range(Ho):
        for pv in range(Wo):
            r0, c0 = pu * SH, pv * SW
            win = (int(rows[pu, pv]), int(cols[pu, pv]))
            block = A[r0 : r0 + KH, c0 : c0 + KW]
            ties = [(r0 + i, c0 + j) for i, j in zip(*np.nonzero(block == A[win])) if (r0 + i, c0 + j) != win]
            out.append(_Window(pu, pv, r0, c0, win, ties))
    return P, cache, out


@styled
def maxpool_routes(A, dP, *, size=2, stride=None, ax=None, arrows=False, signed_input=None, names=("A", "P")):
    """Max-pool backward as routes: each δ of P goes to the winning cell of its window (chapter 04, eq. 4.2).

    Each winning cell of A (first maximum in row-major order, from ``maxpool2d_forward``)
    gets its own colour. Left: ``A`` with the winners outlined (and, for disjoint
    windows, each window dashed in its winner's colour); a cell that wins several
    overlapping windows carries a "×n" badge, a cell tying with its window's maximum a
    dotted outline. Middle: the upstream gradient ``dP``, each cell outlined in the colour
    of the cell it is sent to. Right: ``dA = maxpool2d_backward(dP)`` with the winners
    outlined (``arrows=True`` also draws an arrow from each δ of P to its cell). Where
    windows share a winner their δs add up; the sums are written out under the figure.

    ``A`` is (H, W) (or (1, 1, H, W)); ``dP`` has the pooled shape. ``ax``: None, or a
    sequence of three Axes (A, δP, δA) of one figure to draw into (the notes and colour key
    are written under that figure). δP and δA are signed; ``signed_input`` says whether A is
    (``True``: a pre-activation, ``False``: activations ≥ 0; ``None``, the default: signed
    when A has a negative entry). ``names`` are the book's names of the pooled map and of the
    pooling output in the titles and sums, e.g. ``("A1", "P1")`` for seed 002 (chapter 06).
    Returns the ``Figure``.
    """
    fn = "maxpool_routes"
    nA, nP = _names(fn, names, 2)
    A2 = as_2d(fn, "A", A)
    dP2 = as_2d(fn, "dP", dP)
    S_in = size if stride is None else stride
    KH, KW = positive_pair(fn, "size", size)
    SH, SW = positive_pair(fn, "stride", S_in)
    H, W = A2.shape
    if KH > H or KW > W:
        raise ValueError(f"{fn}: the {KH}x{KW} window does not fit A of shape {A2.shape}")
    P, cache, windows = _pool_windows(A2, (KH, KW), (SH, SW))
    Ho, Wo = P.shape[2:]
    if dP2.shape != (Ho, Wo):
        raise ValueError(
            f"{fn}: dP must have the pooled shape {(Ho, Wo)} (A {A2.shape}, size {(KH, KW)}, stride {(SH, SW)}), "
            f"got {dP2.shape}"
        )
    dA = maxpool2d_backward(dP2[None, None], cache)[0, 0]  # (H, W)
    a_signed = _input_signed(fn, "A", A2, signed_input)

    if ax is None:
        units = W + Wo + W + 2 * 1.6 + 0.8
        cell = float(np.clip(MAX_WIDTH / units, 0.28, 0.5))
        fig = new_figure(units * cell, max(H, Ho) * cell + 1.55)
        axs = fig.subplots(1, 3, width_ratios=[W, max(Wo, 1.6), W])
    else:
        if isinstance(ax, matplotlib.axes.Axes) or len(ax) != 3:
            raise TypeError(f"{fn}: ax must be None or a sequence of three Axes (A, dP, dA)")
        axs = list(ax)
        fig = axs[0].figure
        cell = None
    overlap = SH < KH or SW < KW
    # one colour per winning cell: every δ of P sent to the same cell shares its colour, so sums are visible
    winners_by_cell: dict[tuple[int, int], list[int]] = {}
    for k, w in enumerate(windows):
        winners_by_cell.setdefault(w.winner, []).append(k)
    cell_color = {rc: route_color(n) for n, rc in enumerate(winners_by_cell)}
    colors = [cell_color[w.winner] for w in windows]
    stride_txt = SH if SH == SW else (SH, SW)
    title_a = f"{nA}: {KH}\u00d7{KW} windows, stride {stride_txt}" + (" (overlapping)" if overlap else "")
    stA = draw_heatmap(fn, axs[0], A2, title=title_a, cell_in=cell, signed=a_signed)
    cell_in = cell or cell_inches(axs[0], H, W)
    lw = float(np.clip(cell_in * 5, 1.3, 2.6))
    if not overlap:  # disjoint windows: outline each in its winner's colour
        for k, (_, _, r0, c0, _, _) in enumerate(windows):
            stA.mark(r0, c0, KH, KW, colors[k], lw * 0.7, inset=0.03, gid="cnnlib-rect", linestyle="--")
    for k, (*_, ties) in enumerate(windows):
        for t in ties:
            outline(axs[0], t[0], t[1], 1, 1, colors[k], lw * 0.7, inset=0.2, gid="cnnlib-tie", linestyle=":")
    badge_fs = float(np.clip(cell_in * 72 * 0.24, MIN_FONT_PT, 8))
    for rc, ks in winners_by_cell.items():
        outline(axs[0], *rc, 1, 1, cell_color[rc], lw, inset=0.07, gid="cnnlib-winner")
        if len(ks) > 1:  # this cell wins several windows
            t = axs[0].text(
                rc[1] + 0.44,
                rc[0] - 0.42,
                f"\u00d7{len(ks)}",
                ha="right",
                va="top",
                fontsize=badge_fs,
                color=INK,  # text: on a white halo in the cell whose outline carries the winner's colour
                fontweight="bold",
                zorder=8,
                gid="cnnlib-count",
            )
            t.set_path_effects([patheffects.withStroke(linewidth=2, foreground="white")])
    stP = draw_heatmap(fn, axs[1], dP2, title=f"\u03b4{nP} (upstream)", signed=True, cell_in=cell)
    for k, (pu, pv, *_rest) in enumerate(windows):
        stP.mark(pu, pv, 1, 1, colors[k], lw, inset=0.07)
    draw_heatmap(fn, axs[2], dA, title=f"\u03b4{nA} = routed \u03b4{nP}", signed=True, cell_in=cell)
    for rc in winners_by_cell:
        outline(axs[2], *rc, 1, 1, cell_color[rc], lw, inset=0.07, gid="cnnlib-winner")
    if arrows:
        for k, (pu, pv, _, _, win, _) in enumerate(windows):
            con = ConnectionPatch(
                xyA=(pv + 0.45, pu),
                coordsA=axs[1].transData,
                xyB=(win[1] - 0.45, win[0]),
                coordsB=axs[2].transData,
                arrowstyle="-|>",
                mutation_scale=9,
                color=colors[k],
                linewidth=1.0,
                alpha=0.8,
                connectionstyle="arc3,rad=0.1",
                gid="cnnlib-route",
                zorder=7,
            )
            fig.add_artist(con)
    notes = []
    flat_dP = dP2.reshape(-1)
    fmtP = Formatter(fn, None, dP2)
    fmtA = Formatter(fn, None, dA)
    for cell_rc, ks in sorted(winners_by_cell.items()):
        if len(ks) > 1:
            terms = " + ".join(f"\u03b4{nP}[{windows[k].pu},{windows[k].pv}]" for k in ks)
            nums = " + ".join(factor(fmtP(flat_dP[k])) for k in ks)
            notes.append(f"\u03b4{nA}[{cell_rc[0]},{cell_rc[1]}] = {terms} = {nums} = {fmtA(dA[cell_rc])}")
    if any(ties for *_, ties in windows):
        notes.append("dotted: a tie with the window's maximum; the first maximum in row-major order wins")
    covered = np.zeros(A2.shape, bool)
    for _, _, r0, c0, _, _ in windows:
        covered[r0 : r0 + KH, c0 : c0 + KW] = True
    if not covered.all():
        notes.append(f"{int((~covered).sum())} cell(s) of {nA} lie in no window and get \u03b4 = 0")
    add_colour_key(fig, "\n".join(notes), fontsize=8.5)
    if ax is None:  # a figure of its own: say what it shows (a caller's figure keeps its caller's summary)
        sums = "; ".join(n for n in notes if n.startswith("\u03b4"))
        describe(
            fig,
            f"Max-pool backward ({KH}×{KW} windows, stride {SH}): each δ of {names[1]} goes to its window's maximum in "
            f"{names[0]} ({H}×{W}); every other cell of δ{names[0]} is 0." + (f" {sums}." if sums else ""),
        )
    _POOL_ROUTES[fig] = [PoolRoute((w.pu, w.pv), w.winner, float(flat_dP[k])) for k, w in enumerate(windows)]
    return fig


@styled
def conv_dW_route(
    X, dZ, kernel_shape, index, *, stride=1, padding=0, dilation=1, signed_input=None, names=("X", "Z", "W")
):
    """Where one kernel gradient comes from: ``dW[i, j] = Σ_{u,v} X[u*S + i*D, v*S + j*D] · δZ[u, v]``.

    Left: the input (zero-padded when ``padding > 0``; tick labels keep the original
    indices) with the patch of cells that kernel entry (i, j) touched outlined; middle:
    the upstream gradient δZ; right: dW with the chosen entry outlined. When at most
    10 products are non-zero, each X cell and its δ partner share a colour. The sum is
    written out under the figure (terms with δ = 0 left out) and ends with the value of
    ``conv2d_backward``'s dW entry: chapter 03's eq. 3.2 (stride 1), chapter 08's eq. 8.3
    (stride, padding, dilation), chapter 07's eq. (2) (channels). Arguments as in
    ``conv_dW_terms``. δZ and dW are signed; ``signed_input`` says whether X is (``None``,
    the default: signed when X has a negative entry). ``names`` are the book's names of the
    input, the output and the kernel in the titles, e.g. ``("X", "Z1", "W1")`` for seed 002
    (chapter 06). Returns the ``Figure``.
    """
    fn = "conv_dW_route"
    nX, nZ, nW = _names(fn, names, 3)
    rs = dW_route(fn, X, dZ, kernel_shape, index, stride, padding, dilation)
    X3, dZ3, dW, (f, c, i, j) = rs.a, rs.b, rs.grad, rs.index
    S, P, D, (Ho, Wo) = rs.stride, rs.padding, rs.dilation, rs.out_size
    x_signed = _input_signed(fn, "X", X3, signed_input)
    Xp = np.pad(X3[c], ((P[0], P[0]), (P[1], P[1])))
    Hp, Wp = Xp.shape
    KH, KW = dW.shape[2:]
    units = Wp + Wo + KW + 2 * 1.8 + 0.6
    cell = float(np.clip(MAX_WIDTH / units, 0.26, 0.5))
    n_lines = rs.equation.count("\n") + 1
    fig = new_figure(units * cell, max(Hp, Ho, KH) * cell + 0.9 + 0.2 * (n_lines + 1))
    axs = fig.subplots(1, 3, width_ratios=[Wp, Wo, max(KW, 1.5)])
    ctag = "" if X3.shape[0] == 1 else f"[{c}]"
    ftag = "" if dZ3.shape[0] == 1 else f"[{f}]"
    entry = nW + rs.name[2:]  # "W[1,2]" or "W[f,c,i,j]", under the book's name of the kernel
    xtitle = f"{nX}{ctag}: the cells {entry} met" + (f" (padded by {P[0] if P[0] == P[1] else P})" if any(P) else "")
    stX = draw_heatmap(fn, axs[0], Xp, title=xtitle, cell_in=cell, row_offset=-P[0], col_offset=-P[1], signed=x_signed)
    stZ = draw_heatmap(fn, axs[1], dZ3[f], title=f"\u03b4{nZ}{ftag}", signed=True, cell_in=cell)
    stW = draw_heatmap(
        fn, axs[2], dW[f, c], title=f"d{nW}{'' if dW.shape[:2] == (1, 1) else f'[{f},{c}]'}", signed=True, cell_in=cell
    )
    lw = float(np.clip(cell * 5, 1.3, 2.6))
    if any(P):
        outline(axs[0], P[0], P[1], X3.shape[1], X3.shape[2], MUTED, 1.0, gid="cnnlib-pad", linestyle="--")
    # the patch: every cell kernel entry (i, j) touched
    r0, c0 = i * D[0], j * D[1]
    hspan, wspan = (Ho - 1) * S[0] + 1, (Wo - 1) * S[1] + 1
    stX.mark(r0, c0, hspan, wspan, INK, lw, inset=-0.02, gid="cnnlib-rect")
    # few products: pair each X cell with its δ by colour; many: the patch outline says it all
    if len(rs.terms) <= 10:
        for k, ((xr, xc), _, (u, v), _) in enumerate(rs.terms):
            col = route_color(k)
            stX.mark(xr + P[0], xc + P[1], 1, 1, col, lw, inset=0.1)
            stZ.mark(u, v, 1, 1, col, lw, inset=0.1)
    if S != (1, 1) or D != (1, 1):  # strided/dilated patch: mark the touched cells that are not paired
        paired = {(t[0][0] + P[0], t[0][1] + P[1]) for t in rs.terms} if len(rs.terms) <= 10 else set()
        for u in range(Ho):
            for v in range(Wo):
                if (r0 + u * S[0], c0 + v * S[1]) not in paired:
                    rc = (r0 + u * S[0], c0 + v * S[1])
                    outline(axs[0], *rc, 1, 1, MUTED, lw * 0.5, inset=0.2, linestyle=":", gid="cnnlib-touched")
    stW.mark(i, j, 1, 1, INK, lw * 1.2, inset=0.04)
    equation = rs.equation if nW == "W" else rs.equation.replace("dW[", f"d{nW}[", 1)
    describe(fig, f"Where d{entry} comes from: the {nX} cells it met, outlined, times δ{nZ}. " + equation, panels=False)
    add_colour_key(fig, equation, fontsize=float(np.clip(cell * 72 * 0.3, 8, 9.5)))
    return fig


@styled
def conv_dX_route(W, dZ, input_shape, index, *, stride=1, padding=0, dilation=1):
    """Where one input gradient comes from: the full convolution of δZ with the flipped kernel.

    For each filter f a row shows the kernel ``W[f, c]`` rotated by 180° (tick labels keep
    the original indices i, j) and δZ[f] dilated by the stride and zero-padded, with the
    window that lands on ``dX[x, y]`` outlined; matching colours pair each kernel entry with
    the δ it multiplies (``u*S + i*D = x + P``). Right: dX with the entry outlined. The
    sum is written out under the figure and ends with ``conv2d_backward``'s value: chapter
    03's eq. 3.3 (stride 1), chapter 08's eqs. 8.4 and 8.6 (the δ dilated by the stride, eq.
    8.5), chapter 07's eq. (3) (filters summed). Arguments as in ``conv_dX_terms``.
    Returns the ``Figure``.
    """
    fn = "conv_dX_route"
    rs = dX_route(fn, W, dZ, input_shape, index, stride, padding, dilation)
    W4, dZ3, dX, (c, x, y) = rs.a, rs.b, rs.grad, rs.index
    S, P, D, (Ho, Wo) = rs.stride, rs.padding, rs.dilation, rs.out_size
    F, C, KH, KW = W4.shape
    _, H, Wd = dX.shape
    eh, ew = D[0] * (KH - 1), D[1] * (KW - 1)  # padding of the "full" map
    Gh, Gw = H + 2 * P[0] + eh, Wd + 2 * P[1] + ew
    units = KW + Gw + Wd + 2 * 1.8 + 0.6
    cell = float(np.clip(min(MAX_WIDTH / units, 8.0 / (F * max(Gh, KH) + F)), 0.22, 0.5))
    n_lines = rs.equation.count("\n") + 1
    fig = new_figure(units * cell, F * max(Gh, KH) * cell + 0.7 * F + 0.3 + 0.2 * (n_lines + 1))
    axs = fig.subplots(F, 3, width_ratios=[max(KW, 1.5), Gw, Wd], squeeze=False)
    lw = float(np.clip(cell * 5, 1.3, 2.6))
    by_filter: dict[int, list[int]] = {}
    for k, t in enumerate(rs.terms):
        by_filter.setdefault(t[0][0], []).append(k)
    colors = [route_color(k) for k in range(len(rs.terms))]
    # one colour scale and number format for all filters' kernels, and one for all their δ maps
    w_lo, w_hi = colour_limits(W4[:, c], signed=True)
    d_lo, d_hi = colour_limits(dZ3, signed=True)
    w_fmt, d_fmt = Decimals(auto_decimals(W4[:, c])), Decimals(auto_decimals(dZ3))
    for f in range(F):
        Wflip = W4[f, c, ::-1, ::-1]
        tag = "" if (F, C) == (1, 1) else f"[{f},{c}]"
        stW = draw_heatmap(
            fn,
            axs[f, 0],
            Wflip,
            title=f"W{tag} rotated 180\u00b0",
            cell_in=cell,
            vmin=w_lo,
            vmax=w_hi,
            signed=True,
            fmt=w_fmt,
            row_ticklabels=[str(KH - 1 - t) for t in range(KH)],
            col_ticklabels=[str(KW - 1 - t) for t in range(KW)],
        )
        G = np.zeros((Gh, Gw), dtype=dZ3.dtype)
        G[eh : eh + (Ho - 1) * S[0] + 1 : S[0], ew : ew + (Wo - 1) * S[1] + 1 : S[1]] = dZ3[f]
        fulltitle = f"\u03b4Z{'' if F == 1 else f'[{f}]'}" + (", dilated by the stride" if S != (1, 1) else "")
        fulltitle += ", zero-padded"
        stG = draw_heatmap(
            fn,
            axs[f, 1],
            G,
            title=fulltitle,
            signed=True,
            vmin=d_lo,
            vmax=d_hi,
            fmt=d_fmt,
            cell_in=cell,
            ticks=S == (1, 1),  # with stride 1 the padded map keeps δZ's indices (negative in the padding)
            row_offset=-eh,
            col_offset=-ew,
        )
        # the region holding the real δZ entries
        outline(
            axs[f, 1], eh, ew, (Ho - 1) * S[0] + 1, (Wo - 1) * S[1] + 1, MUTED, 1.0, gid="cnnlib-pad", linestyle="--"
        )
        # the window of the flipped kernel that lands on dX[x, y]
        wr, wc = x + P[0], y + P[1]
        stG.mark(wr, wc, eh + 1, ew + 1, INK, lw, inset=-0.02, gid="cnnlib-rect")
        for k in by_filter.get(f, []):
            (_, i, j), _, (_, u, v), _ = rs.terms[k]
            stW.mark(KH - 1 - i, KW - 1 - j, 1, 1, colors[k], lw, inset=0.08)
            stG.mark(eh + u * S[0], ew + v * S[1], 1, 1, colors[k], lw, inset=0.08)
        if f == 0:
            stX = draw_heatmap(fn, axs[0, 2], dX[c], title=f"dX{'' if C == 1 else f'[{c}]'}", signed=True, cell_in=cell)
            stX.mark(x, y, 1, 1, INK, lw * 1.2, inset=0.04)
        else:
            axs[f, 2].set_axis_off()
    describe(
        fig,
        f"Where {rs.name} comes from: δZ, dilated by the stride and padded, under the kernel rotated by 180°. "
        + rs.equation,
        panels=False,
    )
    add_colour_key(fig, rs.equation, fontsize=float(np.clip(cell * 72 * 0.3, 8, 9.5)))
    return fig

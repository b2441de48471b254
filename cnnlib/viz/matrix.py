"""Convolution as a matrix: ``conv_matrix_figure``."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.patches import Patch, Rectangle

from .._format import Formatter
from .._validate import as_array, int_tuple, nonnegative_pair, positive_pair
from ..conv import conv_output_size
from ._alt import describe
from ._figure import new_figure, styled
from ._style import GRID, INK, MAX_WIDTH, MIN_FONT_PT, MUTED, ROUTE_COLORS, text_color
from .heatmap import TICK_MIN_PT, cell_grid, fontsize_for

__all__ = ["conv_matrix_figure"]

#: a kernel with more entries than ``ROUTE_COLORS`` has colours reuses them; each round of the
#: palette gets its own hatch, so that no two entries look alike (for kernels up to 10 rounds)
ENTRY_HATCHES = ("", "///", "\\\\\\", "xxx", "...", "+++", "ooo", "---", "|||", "**")


@styled
def conv_matrix_figure(W, input_shape, *, stride=1, padding=0, dilation=1, annotate=None):
    """Seed 001's picture: the tied, mostly-zero weight matrix T with ``vec(Z) = T @ vec(X)``.

    Chapter 02's eq. 2.5 (T's entries are copies of the kernel's) and chapter 03's eq. 3.4
    (``vec(Z) = T vec(X) + b 1``); chapter 08 draws it with a stride.

    Left: the kernel, each entry in its own colour of ``ROUTE_COLORS`` (a kernel with more
    entries than colours reuses them, each round with its own hatch: ``ENTRY_HATCHES``); right: T
    (rows: output positions Z[u,v]; columns: input cells X[r,c]), each weight coloured by the
    kernel entry it copies and blank where T is structurally zero. A legend names the colours.
    ``annotate`` prints the weights in the cells when they fit at 9 px (``False``: never). Tick
    labels are never smaller than 9 px: where they would not fit every row or column, only
    every k-th is labelled. The colours name kernel entries, not values, so the legend is the
    figure's colour key. Computed with ``cnnlib.conv2d_as_matrix``. Returns the ``Figure``.
    """
    from ..convmatrix import conv2d_as_matrix

    fn = "conv_matrix_figure"
    W2 = as_array(fn, "W", W, finite=True)
    if W2.ndim == 4 and W2.shape[:2] == (1, 1):
        W2 = W2[0, 0]
    if W2.ndim != 2 or 0 in W2.shape:
        raise ValueError(f"{fn}: W must be one 2-D kernel (KH, KW), got shape {np.shape(W)}")
    hw = int_tuple(fn, "input_shape", input_shape, (2,))
    try:
        T, tie = conv2d_as_matrix(W2, hw, stride=stride, padding=padding, dilation=dilation)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("conv2d_as_matrix:", f"{fn}:", 1)) from None
    KH, KW = W2.shape
    R, Cc = T.shape
    n_entries = KH * KW
    # entry k: colour k mod len(ROUTE_COLORS) and, past the palette, a hatch for k // len(ROUTE_COLORS)
    palette = [mcolors.to_rgb(ROUTE_COLORS[k % len(ROUTE_COLORS)]) for k in range(n_entries)]
    hatches = [ENTRY_HATCHES[(k // len(ROUTE_COLORS)) % len(ENTRY_HATCHES)] for k in range(n_entries)]
    light = [tuple(0.55 * np.array(p) + 0.45) for p in palette]  # lighter fill so numbers stay legible
    fixed_w = 1.7  # inches: row labels, the gap between the panels, margins
    fmt = Formatter(fn, None, W2)
    labels = [fmt(v) for v in W2.reshape(-1)]
    nchars = max(len(s) for s in labels)
    # the kernel's cells hold its numbers at 8 pt or more; T's cells share what is left of the column
    kcell = float(np.clip(nchars * 8.0 / 1.5 / 72, 0.3, 0.45))
    cell = float(np.clip((MAX_WIDTH - fixed_w - KW * kcell) / Cc, 0.14, 0.45))
    kcell = max(kcell, cell)
    legend_rows = math.ceil((n_entries + 1) / 5)
    tick_fs = float(np.clip(cell * 72 * 0.5, TICK_MIN_PT, 8.5))
    label_h = len(f"X[{hw[0] - 1},{hw[1] - 1}]") * 0.62 * tick_fs / 72  # the rotated column labels
    fig_h = max(R * cell, KH * kcell) + label_h + 0.35 + 0.22 * legend_rows + 0.2
    fig = new_figure(KW * kcell + Cc * cell + fixed_w, fig_h)
    axs = fig.subplots(1, 2, width_ratios=[KW * kcell, Cc * cell])
    for ax, data, ids in ((axs[0], W2, np.arange(n_entries).reshape(KH, KW)), (axs[1], T, tie)):
        h, w = data.shape
        rgb = np.ones((h, w, 3))
        for k in range(n_entries):
            rgb[ids == k] = light[k]
        ax.imshow(rgb, interpolation="nearest", aspect="equal")
        for k in range(n_entries):
            if hatches[k]:  # the same colour as an earlier entry: a pattern tells them apart
                for r, c in zip(*np.nonzero(ids == k)):
                    ax.add_patch(
                        Rectangle(
                            (c - 0.5, r - 0.5),
                            1,
                            1,
                            fill=False,
                            hatch=hatches[k],
                            ec=palette[k],
                            lw=0,
                            gid="cnnlib-hatch",
                        )
                    )
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        cell_grid(ax, h, w, 0.6)
        for spine in ax.spines.values():
            spine.set_edgecolor(MUTED)
    fs = fontsize_for(cell, nchars)
    show_numbers = (annotate is None or bool(annotate)) and fs >= MIN_FONT_PT  # never shrunk below 9 px
    for r in range(KH):
        for c in range(KW):
            axs[0].text(
                c,
                r,
                f"{labels[r * KW + c]}",
                ha="center",
                va="center",
                fontsize=fontsize_for(kcell, nchars),
                color=text_color(light[r * KW + c]),
                gid="cnnlib-value",
            )
    if show_numbers:
        for r, c in zip(*np.nonzero(tie >= 0)):
            k = tie[r, c]
            axs[1].text(
                c,
                r,
                labels[k],
                ha="center",
                va="center",
                fontsize=fs,
                color=text_color(light[k]),
                gid="cnnlib-value",
            )
    Wo = conv_output_size(
        hw[1],
        KW,
        positive_pair(fn, "stride", stride)[1],
        nonnegative_pair(fn, "padding", padding)[1],
        positive_pair(fn, "dilation", dilation)[1],
    )
    axs[0].set_xticks(range(KW))
    axs[0].set_yticks(range(KH))
    axs[0].tick_params(labelsize=8.5)
    axs[0].xaxis.tick_top()
    axs[0].set_title("kernel W", fontsize=10)
    # labels are stacked along both axes (the column labels are rotated): each needs 1.2 font heights
    fit = math.ceil(1.2 * tick_fs / (cell * 72))
    step_r = max(fit, 1 if R <= 40 else math.ceil(R / 30))
    step_c = max(fit, 1 if Cc <= 50 else math.ceil(Cc / 40))
    axs[1].set_yticks(range(0, R, step_r))
    axs[1].set_yticklabels([f"Z[{r // Wo},{r % Wo}]" for r in range(0, R, step_r)], fontsize=tick_fs)
    axs[1].set_xticks(range(0, Cc, step_c))
    axs[1].set_xticklabels(
        [f"X[{k // hw[1]},{k % hw[1]}]" for k in range(0, Cc, step_c)], fontsize=tick_fs, rotation=90
    )
    axs[1].xaxis.tick_top()
    axs[1].tick_params(which="major", length=2, pad=1.5, colors=INK)
    nz = int((tie >= 0).sum())
    axs[1].set_title(
        f"T ({R}\u00d7{Cc}): vec(Z) = T \u00b7 vec(X); {nz} of {T.size} entries are weights, "
        f"all copies of {n_entries} kernel entries",
        fontsize=9.5,
    )
    handles = [
        Patch(
            facecolor=light[k],
            edgecolor=palette[k],
            hatch=hatches[k] or None,
            label=f"W[{k // KW},{k % KW}] = {labels[k]}",
        )
        for k in range(n_entries)
    ]
    handles.append(Patch(facecolor="white", edgecolor=GRID, label="0 (no connection)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), fontsize=8.5, frameon=False)
    weights = ", ".join(f"W[{k // KW},{k % KW}] = {labels[k]}" for k in range(n_entries))
    describe(
        fig,
        f"A {KH}×{KW} kernel as a {R}×{Cc} matrix T with vec(Z) = T · vec(X): {nz} of {T.size} entries are "
        f"copies of the kernel's {n_entries} entries ({weights}), each entry in its own colour; the rest are 0.",
        panels=False,
    )
    return fig

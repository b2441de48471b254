"""Gradient-flow strips: a pipeline's stages left to right, values on top, gradients δ below
(``gradient_flow``, ``seed002_flow``, ``seed003_flow``), redrawn in place by ``update_flow``.

Each panel's colours follow what the stage means: every gradient is signed (diverging,
centred at 0); a stage's values are signed when the stage is a pre-activation or weight
(seed 002's Z1, Z2; seed 003's Z, s) and non-negative otherwise (activations, pooled
maps, probabilities: grey from 0). The input X is the one stage whose meaning the figure
cannot know; see ``signed_input``. A single number is a plain white cell.
"""

from __future__ import annotations

import functools
import textwrap
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from .._format import auto_decimals, format_number
from .._validate import as_array
from ._alt import describe
from ._figure import new_figure, styled
from ._style import INK, MAX_WIDTH, MIN_FONT_PT, MUTED, colour_limits
from .heatmap import (
    Decimals,
    Heatmap,
    add_colour_key,
    check_nonnegative,
    draw_heatmap,
    fontsize_for,
    key_height,
)

__all__ = ["Flow", "gradient_flow", "seed002_flow", "seed003_flow", "update_flow"]


def _flow_panels(fn: str, what: str, x) -> list[np.ndarray]:
    """Arrays of one pipeline stage as 2-D panels: scalar (1, 1), vectors as a row, channels stacked."""
    arr = as_array(fn, what, x)
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise ValueError(f"{fn}: {what} must hold one example (N = 1), got shape {arr.shape}")
        arr = arr[0]
    if arr.ndim <= 1:
        return [arr.reshape(1, -1)]
    if arr.ndim == 2:
        if arr.shape[0] == 1 or arr.shape[1] == 1:
            return [arr.reshape(1, -1)]  # a vector (the (1, K) batch layout, or a (K, 1) column) as a row
        return [arr]
    if arr.ndim == 3:
        if arr.shape[0] > 8:
            raise ValueError(f"{fn}: {what} has {arr.shape[0]} channels; the strip shows at most 8")
        return [arr[c] for c in range(arr.shape[0])]
    raise ValueError(f"{fn}: {what} must be a scalar, vector, (H, W), (C, H, W) or (1, C, H, W), got shape {arr.shape}")


def _shape_text(x) -> str:
    """The shape without leading 1s (the batch of one, a single channel): ``6×6``, ``2×4×4``, ``4``; "" for scalars."""
    shape = list(np.shape(x))
    while shape and shape[0] == 1:
        shape.pop(0)
    if len(shape) == 2 and 1 in shape:
        shape = [max(shape)]
    return "\u00d7".join(str(s) for s in shape)


def _stage_words(panels: list[np.ndarray]) -> str:
    """A stage's size in words, for the figure's description: ``a number``, ``4×4``, ``2 channels of 4×4``."""
    h, w = panels[0].shape
    size = "a number" if h * w == 1 else f"{h}×{w}"
    return size if len(panels) == 1 else f"{len(panels)} channels of {size}"


def _wrap_op(op: str, width: int = 14) -> str:
    return "\n".join(textwrap.wrap(op, width=width, break_long_words=False, break_on_hyphens=False)) or op


_GRAD_INK = "#b2182b"


class _Stage(NamedTuple):
    """One parsed stage: its value and gradient panels and the two panel titles."""

    name: str
    values: list[np.ndarray]
    grads: list[np.ndarray]
    grad_name: str
    label: str


@dataclass(frozen=True)
class _StageStyle:
    """The colour scale and number format shared by all channels of one stage's values (or δs)."""

    fmt: Decimals
    signed: bool
    vmin: float | None = None
    vmax: float | None = None
    cmap: mcolors.Colormap | None = None


@dataclass
class Flow:
    """A drawn gradient-flow strip: what ``update_flow`` needs to redraw it in place.

    The flow functions return the ``Figure`` (notebooks display it, tests and widgets
    treat it as one), so this state lives in a registry of this module keyed weakly by
    the figure; its ``Heatmap`` panels refer to their artists weakly, so the registry
    never keeps a closed figure alive.
    """

    #: (name, number of value panels, number of gradient panels) per stage
    signature: list[tuple[str, int, int]]
    #: per stage: its value panels and its gradient panels
    panels: list[tuple[list[Heatmap], list[Heatmap]]]
    #: the names of the stages whose values are signed
    signed: frozenset[str]
    #: for seed002_flow / seed003_flow: (values, grads, fn) -> (stages, ops, signed stage names)
    stages_from_dicts: Callable | None = None
    #: the side of a cell in inches, which the numbers' decimals are fitted to
    cell: float | None = None


_FLOWS: weakref.WeakKeyDictionary[Figure, Flow] = weakref.WeakKeyDictionary()


def _signature(parsed: list[_Stage]) -> list[tuple[str, int, int]]:
    return [(st.name, len(st.values), len(st.grads)) for st in parsed]


def _parse_stages(fn, stages, ops):
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or len(stages) == 0:
        raise TypeError(
            f"{fn}: stages must be a non-empty list of (name, value, grad) tuples, got {type(stages).__name__}"
        )
    if ops is not None and (isinstance(ops, str) or not isinstance(ops, Sequence) or len(ops) != len(stages) - 1):
        raise ValueError(f"{fn}: ops must be a list of {len(stages) - 1} operation names (one per arrow), got {ops!r}")
    parsed = []
    for k, st in enumerate(stages):
        if not isinstance(st, (tuple, list)) or len(st) not in (3, 4):
            raise TypeError(
                f"{fn}: stage {k} must be (name, value, grad) or (name, value, grad, grad_name), got {st!r}"
            )
        name = str(st[0])
        vals = _flow_panels(fn, f"stage {name!r} value", st[1])
        grads = _flow_panels(fn, f"stage {name!r} gradient", st[2]) if st[2] is not None else []
        gname = str(st[3]) if len(st) == 4 else f"\u03b4{name}"
        shp = _shape_text(st[1])
        parsed.append(_Stage(name, vals, grads, gname, f"{name}  {shp}" if shp else name))
    return parsed


def _scalar(panels: list[np.ndarray]) -> bool:
    """A stage of single numbers (a score, a probability, the loss, their δs)."""
    return all(p.size == 1 for p in panels)


def _stage_style(fn: str, st: _Stage, gradient: bool, signed: bool, limits=None) -> _StageStyle:
    """One colour scale for all channels of a stage's values (``signed`` by meaning) or δs (always signed).

    ``limits`` replaces the stage's own colour limits (the scale shared by the strip's single numbers).
    """
    panels = st.grads if gradient else st.values
    allv = np.concatenate([p.reshape(-1) for p in panels])
    fmt = Decimals(auto_decimals(allv))
    signed = signed or gradient
    if not signed:
        check_nonnegative(
            fn,
            f"stage {st.name!r} value",
            allv,
            "name a signed stage (a pre-activation or weight) in signed=",
        )
    vmin, vmax = limits if limits is not None else colour_limits(allv, signed=signed)
    return _StageStyle(fmt, signed=signed, vmin=vmin, vmax=vmax)


def _fit_decimals(style: _StageStyle, panels: list[np.ndarray], cell: float) -> _StageStyle:
    """``style`` with as many decimals as let the stage's numbers fit their cells at 9 px or more.

    A stage's numbers all keep one number of decimals; where they would not fit at the
    smallest font size, the whole stage loses a decimal (never below what keeps its largest
    entry from rounding to 0), rather than leaving its cells without numbers.
    """
    d = style.fmt.decimals
    if d is None:
        return style
    allv = np.concatenate([p.reshape(-1) for p in panels])
    allv = allv[np.isfinite(allv)]
    if allv.size == 0:
        return style
    largest = float(np.abs(allv).max())
    while d > 0:
        nchars = max(len(format_number(v, d)) for v in allv.tolist())
        if fontsize_for(cell, nchars) >= MIN_FONT_PT or round(largest, d - 1) == 0:
            break
        d -= 1
    return style if d == style.fmt.decimals else replace(style, fmt=Decimals(d))


def _styles(fn: str, parsed: list[_Stage], signed, cell: float | None = None):
    """The (values, δs) style of every stage.

    A single number has no neighbours of its own to be compared with, so the strip's single
    numbers share scales: the signed ones of the value row one diverging scale, its
    non-negative ones one grey scale, and the single δs one diverging scale. A single
    number thus keeps the colour of its meaning (sign by hue, size by depth) and can be
    compared with the other single numbers of its row.
    """
    groups: dict[tuple[bool, bool], list[float]] = {}
    for st in parsed:
        for gradient, panels in ((False, st.values), (True, st.grads)):
            if panels and _scalar(panels):
                key = (gradient, gradient or st.name in signed)
                groups.setdefault(key, []).extend(float(p.reshape(-1)[0]) for p in panels)
    limits = {key: colour_limits(np.array(v), signed=key[1]) for key, v in groups.items()}

    def style(st, gradient):
        panels = st.grads if gradient else st.values
        is_signed = gradient or st.name in signed
        shared = limits[(gradient, is_signed)] if _scalar(panels) else None
        out = _stage_style(fn, st, gradient, is_signed, shared)
        return out if cell is None else _fit_decimals(out, panels, cell)

    return [(style(st, False), style(st, True) if st.grads else None) for st in parsed]


@styled
def gradient_flow(stages, ops, *, title=None, max_width=MAX_WIDTH, signed=()):
    """A strip of pipeline stages, left to right: values on top, their gradient δ below.

    Chapter 01's picture of the chain rule (w → z → a → L), and the base of ``seed002_flow``
    and ``seed003_flow``; no equation of its own: each δ is the product of the local
    derivatives to its right.

    ``stages`` is a list of ``(name, value, grad)`` or ``(name, value, grad, grad_name)``
    (``grad`` may be ``None``); ``ops`` names the ``len(stages) - 1`` operations, written
    on the arrows between stages (forward arrows in the value row, backward arrows in
    the δ row). Arrays may be scalars, vectors (drawn as a row), (H, W), (C, H, W)
    (channels stacked, one colour scale per stage) or (1, C, H, W). A strip wider than
    ``max_width`` inches wraps onto several lines.

    Colours follow meaning: gradients are always signed (diverging, centred at 0);
    ``signed`` names the stages whose values are signed (pre-activations, weights,
    standardised inputs); every other stage's values are non-negative (grey from 0) and a
    negative entry raises ``ValueError``. Single numbers (a score, ŷ, the loss and their δs)
    share one scale per row and meaning, so they compare with each other. A colour key ends
    the figure. ``update_flow(fig, stages)`` redraws it in place
    with new numbers. Returns the ``Figure``.
    """
    fn = "gradient_flow"
    parsed = _parse_stages(fn, stages, ops)
    if isinstance(signed, str) or not isinstance(signed, (Sequence, set, frozenset)):
        raise TypeError(f"{fn}: signed must be a list of stage names, got {type(signed).__name__}")
    names = [st.name for st in parsed]
    unknown = [str(k) for k in signed if k not in names]
    if unknown:
        raise ValueError(f"{fn}: signed names stages that are not in the strip: {unknown} (stages: {names})")
    signed = frozenset(signed)
    styles = _styles(fn, parsed, signed)
    kinds = {style.signed for pair in styles for style in pair if style is not None and style.cmap is None}
    ops = [str(o) for o in ops]
    n = len(parsed)
    gap = 0.1  # inches between stacked channel panels
    title_h = 0.25
    band_gap = 0.16
    margin_l, margin_r = 0.42, 0.1
    col_cells = [
        max(max(p.shape[1] for p in st.values), max((p.shape[1] for p in st.grads), default=0)) for st in parsed
    ]
    arrow_w = [float(np.clip(max(len(t) for t in _wrap_op(o).split("\n")) * 0.064 + 0.2, 0.6, 1.2)) for o in ops]

    def col_width(k, cell):
        return max(col_cells[k] * cell, max(len(parsed[k].label), len(parsed[k].grad_name)) * 0.07, 0.35)

    def lines_for(cell):
        """Greedy wrapping; the arrow into stage k travels with stage k (it starts a continued line)."""
        lines, cur, width = [], [], margin_l + margin_r
        for k in range(n):
            add = (arrow_w[k - 1] if k > 0 else 0.0) + col_width(k, cell)
            if cur and width + add > max_width:
                lines.append(cur)
                cur, width = [], margin_l + margin_r
            cur.append(k)
            width += add
        lines.append(cur)
        return lines

    def band_height(panels, cell):
        if not panels:
            return 0.0
        return sum(p.shape[0] * cell for p in panels) + gap * (len(panels) - 1)

    top = 0.45 if title else 0.1
    line_gap = 0.32

    def layout(cell):
        lines = lines_for(cell)
        geom = [
            (max(band_height(parsed[k].values, cell) for k in ln), max(band_height(parsed[k].grads, cell) for k in ln))
            for ln in lines
        ]
        heights = [title_h + hv + band_gap + (title_h + hg if hg > 0 else 0.0) for hv, hg in geom]
        return lines, geom, heights, top + sum(heights) + line_gap * (len(lines) - 1) + 0.1

    # one line when it fits with readable cells; else wrap with comfortable cells, a little
    # smaller when the figure would get very tall (many channels)
    fixed = margin_l + margin_r + sum(arrow_w)
    cell = float(min((max_width - fixed) / max(sum(col_cells), 1), 0.42))
    if cell < 0.3 or len(lines_for(cell)) > 1:
        cell = 0.4
        if layout(cell)[3] > 11.5:
            cell = 0.34
    lines, geom, heights, fig_h = layout(cell)
    styles = _styles(fn, parsed, signed, cell)  # the decimals that fit this cell size
    widths = [
        margin_l + margin_r + sum(col_width(k, cell) + (arrow_w[k - 1] if k > 0 else 0.0) for k in ln) for ln in lines
    ]
    fig = new_figure(max(widths), fig_h, layout=None)
    fig_w, fig_h = fig.get_size_inches()
    fig_h += key_height(kinds, fig_w)  # the colour key's strip at the bottom
    fig.set_size_inches(fig_w, fig_h)

    def add_axes(x, y_top, w, h):
        return fig.add_axes([x / fig_w, 1 - (y_top + h) / fig_h, w / fig_w, h / fig_h])

    def fig_text(x, y, text, **kw):
        return fig.text(x / fig_w, 1 - y / fig_h, text, **kw)

    def arrow(x0, x1, y, color, text=None):
        fig.add_artist(
            FancyArrowPatch(
                (x0 / fig_w, 1 - y / fig_h),
                (x1 / fig_w, 1 - y / fig_h),
                transform=fig.transFigure,
                arrowstyle="-|>",
                mutation_scale=11,
                linewidth=1.3,
                color=color,
                gid="cnnlib-arrow",
            )
        )
        if text:
            fig_text(
                (x0 + x1) / 2,
                y - 0.07,
                text,
                ha="center",
                va="bottom",
                fontsize=8,
                color=color,
                linespacing=1.1,
                gid="cnnlib-op",
            )

    panels_by_stage: list[tuple[list[Heatmap], list[Heatmap]]] = []  # stages in order: lines keep it
    y = top
    for li, ln in enumerate(lines):
        hv, hg = geom[li]
        yv_top = y + title_h
        yv_mid = yv_top + hv / 2
        yg_top = yv_top + hv + band_gap + title_h
        yg_mid = yg_top + hg / 2
        fig_text(0.14, yv_mid, "values", rotation=90, ha="center", va="center", fontsize=8.5, color=MUTED)
        if hg > 0:
            fig_text(
                0.14, yg_mid, "gradients \u03b4", rotation=90, ha="center", va="center", fontsize=8.5, color=_GRAD_INK
            )
        x = margin_l
        for k in ln:
            if k > 0:
                aw = arrow_w[k - 1]
                arrow(x + 0.07, x + aw - 0.07, yv_mid, INK, _wrap_op(ops[k - 1]))
                if parsed[k - 1].grads and parsed[k].grads and hg > 0:
                    arrow(x + aw - 0.07, x + 0.07, yg_mid, _GRAD_INK)
                x += aw
            st = parsed[k]
            cw = col_width(k, cell)
            drawn_v, drawn_g = [], []
            for gradient, panels, band_top, band_h, text, out, style in (
                (False, st.values, yv_top, hv, st.label, drawn_v, styles[k][0]),
                (True, st.grads, yg_top, hg, st.grad_name, drawn_g, styles[k][1]),
            ):
                if not panels:
                    continue
                yy = band_top + (band_h - band_height(panels, cell)) / 2
                for ci, p in enumerate(panels):
                    pw = p.shape[1] * cell
                    ax = add_axes(x + (cw - pw) / 2, yy, pw, p.shape[0] * cell)
                    panel = draw_heatmap(
                        fn,
                        ax,
                        p,
                        ticks=False,
                        cell_in=cell,
                        title=text if ci == 0 else None,
                        title_size=8.5,
                        cmap=style.cmap,
                        signed=style.signed,
                        vmin=style.vmin,
                        vmax=style.vmax,
                        fmt=style.fmt,
                    )
                    ax.title.set_color(_GRAD_INK if gradient else INK)
                    if len(panels) > 1:
                        ax.set_ylabel(f"[{ci}]", fontsize=7, rotation=0, ha="right", va="center", labelpad=2)
                    out.append(panel)
                    yy += p.shape[0] * cell + gap
            panels_by_stage.append((drawn_v, drawn_g))
            x += cw
        y += heights[li] + line_gap
    if title:
        fig.suptitle(str(title), fontsize=11, y=1 - 0.1 / fig_h, va="top")
    _FLOWS[fig] = Flow(_signature(parsed), panels_by_stage, signed, cell=cell)
    chain = " → ".join(f"{st.name} ({_stage_words(st.values)})" for st in parsed)
    describe(
        fig,
        f"{str(title) + ': ' if title else ''}a gradient-flow strip through {chain}, joined by {', '.join(ops)}; "
        "each stage's values above, its gradient δ below.",
    )
    add_colour_key(fig)
    return fig


def update_flow(fig, stages, grads=None):
    """Redraw a ``gradient_flow`` / ``seed002_flow`` / ``seed003_flow`` figure in place with new numbers.

    ``stages`` is the same list of ``(name, value, grad)`` tuples (same shapes) the figure
    was made from — or, for a figure made by ``seed002_flow``/``seed003_flow``, the same
    ``values`` (and ``grads``) dicts; each stage keeps the meaning it was drawn with (a
    stage drawn as non-negative raises on a negative entry). Each panel keeps its artists (``Heatmap.update``),
    so this is cheap enough for a widget callback. Returns ``fig``.
    """
    fn = "update_flow"
    flow = _FLOWS.get(fig) if isinstance(fig, Figure) else None
    if flow is None:
        raise TypeError(f"{fn}: fig must be a figure made by cnnlib.viz.gradient_flow, got {type(fig).__name__}")
    if isinstance(stages, dict):
        if flow.stages_from_dicts is None:
            raise TypeError(f"{fn}: a dict of values only works for figures made by seed002_flow or seed003_flow")
        stages, _, _ = flow.stages_from_dicts(values=stages, grads=grads, fn=fn)
    parsed = _parse_stages(fn, stages, None)
    if _signature(parsed) != flow.signature:
        raise ValueError(f"{fn}: stages must have the figure's names and channel counts {flow.signature}")
    styles = _styles(fn, parsed, flow.signed, flow.cell)
    for st, (drawn_v, drawn_g), (style_v, style_g) in zip(parsed, flow.panels, styles):
        for panels, drawn, style in ((st.values, drawn_v, style_v), (st.grads, drawn_g, style_g)):
            if not panels:
                continue
            for p, panel in zip(panels, drawn):
                if p.shape != panel.shape:
                    raise ValueError(f"{fn}: stage {st.name!r} changed shape to {p.shape}")
                panel.update(p, vmin=style.vmin, vmax=style.vmax, fmt=style.fmt)
    return fig


def _lookup(values: dict, grads: dict | None, names) -> object:
    """The gradient of stage ``names[0]`` (or an alias): ``grads[key]``, ``grads["d" + key]``, ``values["d" + key]``."""
    for src, prefix in ((grads, ""), (grads, "d"), (grads, "\u03b4"), (values, "d"), (values, "\u03b4")):
        if src is None:
            continue
        for k in names:
            if prefix + k in src:
                return src[prefix + k]
    return None


def _stages_from_dicts(spec, signed_input, values, grads, fn):
    """(stages, ops, signed labels) from ``spec(values)``.

    ``spec`` rows: (key, aliases, label, grad label, op into this stage, optional, signed);
    ``signed`` is True or False by the stage's meaning, None for the input X, whose
    meaning follows ``signed_input`` (None: signed when it has a negative entry).
    """
    if not isinstance(values, dict):
        raise TypeError(f"{fn}: values must be a dict of the forward intermediates, got {type(values).__name__}")
    if grads is not None and not isinstance(grads, dict):
        raise TypeError(f"{fn}: grads must be a dict of gradients or None, got {type(grads).__name__}")
    stages, ops, missing, signed = [], [], [], []
    for key, aliases, label, glabel, op, optional, is_signed in spec(values):
        names = (key, *aliases)
        val = next((values[k] for k in names if k in values), None)
        if val is None:
            if not optional:
                missing.append(key)
            continue
        g = _lookup(values, grads, names)
        if stages:
            ops.append(op)
        stages.append((label, val, g, glabel))
        if is_signed is None:
            is_signed = bool(np.any(as_array(fn, key, val) < 0)) if signed_input is None else bool(signed_input)
        if is_signed:
            signed.append(label)
    if missing:
        raise ValueError(f"{fn}: values is missing {', '.join(missing)} (got keys {sorted(values)})")
    return stages, ops, signed


def _label_text(y) -> str:
    y = np.asarray(y)
    if y.size == 1:
        return format_number(float(y.reshape(-1)[0]), auto_decimals(y.reshape(-1)))
    flat = y.reshape(-1)
    if np.all((flat == 0) | (flat == 1)) and flat.sum() == 1:
        return str(int(np.argmax(flat)))  # one-hot: the class index
    return "[" + " ".join(format_number(v, auto_decimals(flat)) for v in flat) + "]"


def _seed002_spec(values):
    Y = values.get("Y", values.get("y"))
    loss = "BCE" + (f", Y = {_label_text(Y)}" if Y is not None else "")
    return [
        ("X", (), "X", "\u03b4X", None, False, None),
        ("Z1", (), "Z1", "\u03b4Z1", "conv W1 + B1", False, True),
        ("A1", (), "A1", "\u03b4A1", "ReLU", False, False),
        ("P1", (), "P1", "\u03b4P1", "max-pool 2\u00d72", False, False),
        ("F", (), "F", "\u03b4F", "flatten", False, False),
        ("Z2", (), "Z2", "\u03b4Z2", "F\u00b7W2 + B2", False, True),
        ("A2", ("yhat", "\u0177"), "A2 = \u0177", "\u03b4A2", "sigmoid", False, False),
        ("L", (), "L", "\u03b4L", loss, False, False),
    ]


def _seed003_spec(values):
    y = values.get("y")
    loss = "cross-entropy" + (f", y = {_label_text(y)}" if y is not None else "")
    return [
        ("X", (), "X", "\u03b4X", None, False, None),
        ("Z", (), "Z", "\u03b4Z", "conv W, b", False, True),
        ("A", (), "A", "\u03b4A", "ReLU", False, False),
        ("P", (), "P", "\u03b4P", "max-pool 2\u00d72", False, False),
        ("p", (), "p", "\u03b4p", "flatten", False, False),
        ("s", (), "s", "\u03b4s = \u0177 \u2212 y", "p U\u1d40 + c", False, True),
        ("yhat", ("\u0177",), "\u0177", "\u03b4\u0177", "softmax", False, False),
        ("L", (), "L", "\u03b4L", loss, True, False),
    ]


def _seed002_stages(signed_input, values, grads, fn):
    stages, ops, signed = _stages_from_dicts(_seed002_spec, signed_input, values, grads, fn)
    if stages[-1][2] is None:  # dL/dL = 1
        stages[-1] = (*stages[-1][:2], np.ones((1, 1)), stages[-1][3])
    return stages, ops, signed


def _seed003_stages(signed_input, values, grads, fn):
    stages, ops, signed = _stages_from_dicts(_seed003_spec, signed_input, values, grads, fn)
    names = [st[0] for st in stages]
    k = names.index("\u0177")
    y = values.get("y")
    if stages[k][2] is None and y is not None:  # cross-entropy's gradient with respect to ŷ: -y / ŷ
        yhat = as_array(fn, "yhat", stages[k][1])
        yy = as_array(fn, "y", y)
        if yy.size != yhat.size:
            raise ValueError(f"{fn}: y must be one-hot with the shape of yhat {yhat.shape}, got {yy.shape}")
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(yy.reshape(yhat.shape) != 0, -yy.reshape(yhat.shape) / yhat, 0.0)
        stages[k] = (*stages[k][:2], g, stages[k][3])
    if names[-1] == "L" and stages[-1][2] is None:
        stages[-1] = (*stages[-1][:2], np.ones((1, 1)), stages[-1][3])
    return stages, ops, signed


def seed002_flow(values, grads=None, *, title="Seed 002: forward values and backward gradients", signed_input=None):
    """Gradient-flow strip for seed 002's network (chapter 06).

    Each δ is one step of the chain: δZ2 = A2 − Y (chapter 01, eq. 1.8), the max-pool
    routing of chapter 04 (eq. 4.2) and the ReLU mask (eq. 4.6), the convolution's
    gradients of chapter 03 (eqs. 3.1–3.3).

    ``values`` holds the forward intermediates ``X, Z1, A1, P1, F, Z2, A2, L`` (any
    shapes ``gradient_flow`` accepts, e.g. NCHW with N = 1) and optionally the label ``Y``
    (written on the loss arrow). Gradients are read from ``grads`` (keys ``'Z1'`` or
    ``'dZ1'``) or, when ``grads`` is None, from ``values['dZ1']`` etc.; ``δL`` defaults to
    1 and a missing gradient leaves a blank.

    Colours by meaning: Z1, Z2 and every δ are signed (diverging, centred at 0); A1, P1, F
    and ŷ are non-negative (grey from 0). ``signed_input`` says what X is: ``False`` for
    pixels or other values ≥ 0, ``True`` for signed inputs (e.g. standardised); ``None``
    (default) follows the data (signed when X has a negative entry), the one exception to
    "by meaning", since an input's meaning is not known to the figure.
    ``update_flow(fig, values, grads)`` redraws the figure with new numbers. Returns the ``Figure``.
    """
    stages_from_dicts = functools.partial(_seed002_stages, signed_input)
    stages, ops, signed = stages_from_dicts(values, grads, "seed002_flow")
    fig = gradient_flow(stages, ops, title=title, signed=signed)
    _FLOWS[fig].stages_from_dicts = stages_from_dicts
    return fig


def seed003_flow(values, grads=None, *, title="Seed 003: forward values and backward gradients", signed_input=None):
    """Gradient-flow strip for seed 003's network, X → Z → A → P → p → s → ŷ → L (chapter 07).

    The convolution's δs are chapter 07's eqs. (1)–(3); ``δs = ŷ − y`` is chapter 01's eq. 1.5.

    ``values`` holds ``X, Z, A, P, p, s`` and ``yhat`` (or ``'ŷ'``), optionally the one-hot
    label ``y`` and the loss ``L``. Gradients come from ``grads`` (keys ``'Z'`` or ``'dZ'``)
    or from ``values['dZ']`` etc. When ``dyhat`` is not given but ``y`` is, the strip shows
    cross-entropy's ``δŷ = −y/ŷ``; the chapter's shortcut ``δs = ŷ − y`` is the δ under s.

    Colours by meaning: Z, s and every δ are signed; A, P, p and ŷ are non-negative;
    ``signed_input`` says what X is, as in ``seed002_flow`` (default: follows the data).
    ``update_flow(fig, values, grads)`` redraws with new numbers. Returns the ``Figure``.
    """
    stages_from_dicts = functools.partial(_seed003_stages, signed_input)
    stages, ops, signed = stages_from_dicts(values, grads, "seed003_flow")
    fig = gradient_flow(stages, ops, title=title, signed=signed)
    _FLOWS[fig].stages_from_dicts = stages_from_dicts
    return fig

"""Text descriptions of figures, for readers who cannot see them (screen readers, the website's alt text).

A figure's description is its summary (set by the function that drew it, or by
:func:`describe` in a notebook), followed by one sentence per heat-map panel written
from the panel's current numbers: its title, its shape, its range and, for a small
array in a figure of few cells, every number as the figure prints it. A panel redrawn with ``update_heatmap``
is described with its new numbers, because the sentence is written when the figure is
shown, not when it is drawn.

``cnnlib.viz`` shows a figure with its description in the PNG's output metadata
(``"alt"``, read by ``tools/site.py`` for the website) and as the output's plain text.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "describe",
    "alt_text",
    "panel_text",
    "sentence",
    "MAX_LISTED_CELLS",
    "MAX_LISTED_TOTAL",
    "MAX_DESCRIBED_PANELS",
]

_SUMMARY = "_cnnlib_alt"
_PANELS = "_cnnlib_alt_panels"
#: a panel with at most this many cells has every number written out ...
MAX_LISTED_CELLS = 36
#: ... when the figure's panels have at most this many cells in all (else ranges only: a description stays short)
MAX_LISTED_TOTAL = 64
#: a figure with more heat-map panels than this lists their titles, not their numbers
MAX_DESCRIBED_PANELS = 8


def describe(target, text: str, *, panels: bool = True):
    """Give a figure (or one of its Axes) a text description; returns ``target``.

    ``text``: what the figure shows, in a sentence or two, e.g. ``"The loss falls from
    2.3 to 0.1 over 10 epochs."``. ``panels=False``: leave the per-panel sentences out
    (the summary already says everything). A figure shown by ``cnnlib.viz`` carries the
    description as its alt text; on an Axes it describes that panel.
    """
    if not isinstance(target, (Figure, Axes)):
        raise TypeError(f"describe: target must be a matplotlib Figure or Axes, got {type(target).__name__}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"describe: text must be a non-empty string, got {text!r}")
    setattr(target, _SUMMARY, " ".join(text.split()))
    if isinstance(target, Figure):
        setattr(target, _PANELS, bool(panels))
    return target


def sentence(s: str) -> str:
    """``s`` stripped, ending with a full stop unless it already ends a sentence."""
    s = s.strip()
    return s if not s or s[-1] in ".!?:" else s + "."


def _title(ax) -> str:
    parts = [ax.get_title(loc) for loc in ("left", "center", "right")]
    return " ".join(" ".join(p.split()) for p in parts if p.strip())


def panel_text(ax, numbers: bool = True) -> str:
    """One sentence about one panel: a heat map's title, shape, range and (if small, and ``numbers``) numbers."""
    from .heatmap import Formatter, heatmap_of

    own = getattr(ax, _SUMMARY, None)
    panel = heatmap_of(ax)
    title = _title(ax)
    if panel is None:
        if own:
            return sentence(own)
        if not title and not ax.get_xlabel() and not ax.get_ylabel():
            return ""
        words = [f"“{title}”" if title else "A plot"]
        axes = [f"{k}: {v}" for k, v in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if v.strip()]
        if axes:
            words.append("(" + ", ".join(" ".join(a.split()) for a in axes) + ")")
        return sentence(" ".join(words))
    data = np.ma.filled(np.ma.asarray(panel.image.get_array(), dtype=np.float64), np.nan)
    h, w = data.shape[:2]
    fmt = Formatter("describe", panel.fmt, data)
    finite = data[np.isfinite(data)]
    name = own or title or "Heat map"
    if h * w == 1:  # a single number
        v = float(data.reshape(-1)[0])
        return sentence(f"{name}: {fmt(v) if math.isfinite(v) else 'not a number'}")
    words = [f"{name}: {h}×{w}"]
    if finite.size:
        lo, hi = fmt(float(finite.min())), fmt(float(finite.max()))
        kind = "signed, blue negative, red positive" if panel.signed else "grey from 0"
        words.append(f"values from {lo} to {hi} ({kind})" if lo != hi else f"every value {lo} ({kind})")
    if numbers and h * w <= MAX_LISTED_CELLS:
        rows = "; ".join(", ".join(fmt(v) if math.isfinite(v) else "not a number" for v in row) for row in data)
        words.append(f"rows: {rows}")
    marks = [(r, c) for r, c, _ in panel.highlight][:6]
    if marks:
        words.append("outlined cells " + ", ".join(f"[{r},{c}]" for r, c in marks))
    if panel.rects:
        words.append(f"{len(panel.rects)} outlined window{'s' if len(panel.rects) > 1 else ''}")
    return sentence(", ".join(words))


def alt_text(fig) -> str:
    """The figure's description: its summary, then a sentence per panel (see the module docstring)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"alt_text: fig must be a matplotlib Figure, got {type(fig).__name__}")
    from .heatmap import heatmap_of

    summary = getattr(fig, _SUMMARY, None)
    parts = [sentence(summary)] if summary else []
    if getattr(fig, _PANELS, True):
        maps = {ax: heatmap_of(ax) for ax in fig.axes}
        axes = [ax for ax in fig.axes if ax.get_visible() and (ax.has_data() or maps[ax] is not None)]
        heat = [ax for ax in axes if maps[ax] is not None]
        if len(heat) > MAX_DESCRIBED_PANELS:
            titles = [t for t in (_title(ax) for ax in heat) if t]
            parts.append(f"{len(heat)} heat maps" + (": " + "; ".join(titles) if titles else "") + ".")
            axes = [ax for ax in axes if maps[ax] is None]
        cells = sum(maps[ax].shape[0] * maps[ax].shape[1] for ax in axes if maps[ax] is not None)
        numbers = cells <= MAX_LISTED_TOTAL
        parts.extend(p for p in (panel_text(ax, numbers) for ax in axes) if p)
    if not parts:
        titles = [t for t in (_title(ax) for ax in fig.axes) if t]
        suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
        parts.append(sentence(" ".join(suptitle.split()) or "A figure" + (": " + "; ".join(titles) if titles else "")))
    return " ".join(parts)

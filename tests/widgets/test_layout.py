"""The explorers fit a 1400×1000 browser window at 100 % zoom, and their text is readable.

The controls' height is estimated from ipywidgets' default sizes (a slider, a dropdown,
a text box or a row of toggle buttons: 28 px plus 2 px margins; a label: 24 px), with
the wrapping of a ``row wrap`` box simulated inside its ``max_width``. JupyterLab's
menus, tabs, toolbar and status bar take about 150 px of the 1000, its prompt column,
margins and scroll bar about 180 px of the 1400 (side panel closed; Chromium measured an
explorer 1220 px wide): the explorer gets the rest, less 20 px.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from _explorers import EXPLORERS  # noqa: E402

from cnnlib import widgets as W  # noqa: E402
from cnnlib.widgets._controls import Guarded  # noqa: E402

ROW = 32  # a control: 28 px high, 2 px margins
LABEL = 24
SPACE_W, SPACE_H = 1400 - 200, 1000 - 150


def _px(value, default):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)px", str(value or ""))
    return float(m.group(1)) if m else default


def _margin(w):
    """(horizontal, vertical) pixels of a ``margin: top right bottom left`` layout."""
    parts = [_px(p, 0.0) for p in str(w.layout.margin or "").split()] if w.layout.margin else []
    if len(parts) == 4:
        return parts[1] + parts[3], parts[0] + parts[2]
    return 0.0, 0.0


def size(w):
    """(width, height) in pixels a widget takes in the browser (an estimate)."""
    if w.layout.display == "none":
        return 0.0, 0.0
    dw, dh = _margin(w)
    if isinstance(w, ipywidgets.GridBox):
        cols = len(re.findall(r"\d+px", w.layout.grid_template_columns or "")) or 1
        m = re.match(r"repeat\((\d+)", w.layout.grid_template_columns or "")
        cols = int(m.group(1)) if m else cols
        rows = -(-len(w.children) // cols)
        return _px(w.layout.width, 300.0) + dw, rows * (ROW + 2) + dh
    if isinstance(w, ipywidgets.Box):
        sizes = [size(c) for c in w.children]
        if isinstance(w, ipywidgets.VBox):
            return max([s[0] for s in sizes] or [0.0]) + dw, sum(s[1] for s in sizes) + dh
        limit = _px(w.layout.max_width, np.inf) if w.layout.flex_flow == "row wrap" else np.inf
        rows, x, h, width = 0.0, 0.0, 0.0, 0.0
        for cw, ch in sizes:
            if x and x + cw > limit:  # wraps to a new row
                rows, x, h = rows + h, 0.0, 0.0
            x, h = x + cw, max(h, ch)
            width = max(width, x)
        return width + dw, rows + h + dh
    if isinstance(w, ipywidgets.HTML):
        return _px(w.layout.width, 7.0 * len(re.sub(r"<[^>]+>", "", w.value))) + dw, LABEL + dh
    if isinstance(w, ipywidgets.ToggleButtons):
        n = len(w.options)
        return _px(w.style.description_width, 80.0) + n * (_px(w.style.button_width, 80.0) + 4) + dw, ROW + dh
    return _px(w.layout.width, 300.0) + dw, ROW + dh


def explorer_size(ex):
    """(width, height) of the whole explorer: controls beside the picture when both fit, else above it."""
    header, _message, body = ex.children
    controls, picture = body.children
    cw, ch = size(controls)
    pw = ex._width
    readout_lines = -(-len(ex.readout_text) // max(pw // 7, 1)) if ex.readout_text else 0
    ph = ex._height + readout_lines * 22
    if cw + pw <= SPACE_W:
        return cw + pw, LABEL + max(ch, ph)
    return max(cw, pw), LABEL + ch + ph


def _values(w):
    """The values a slider or a dropdown offers, smallest first."""
    if hasattr(w, "options"):
        return sorted(o[1] if isinstance(o, tuple) else o for o in w.options)
    return list(range(w.min, w.max + 1))


def _largest(ex):
    """Drive the explorer to its largest picture: the largest padding, the smallest stride, and each dilation."""
    c = ex.controls
    states = [{}]
    if "padding" in c:
        states = [{"padding": _values(c["padding"])[-1], "stride": s} for s in _values(c["stride"])]
    for st in states:
        for name, v in st.items():
            ex.controls[name].value = v
        yield


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_explorer_at_its_largest_fits_a_1400_by_1000_window(name):
    ex = EXPLORERS[name]()
    for _ in _largest(ex):
        for target in ("dW", "dX") if "explain" in ex.controls else (None,):
            if target:
                ex.controls["explain"].value = target
            w, h = explorer_size(ex)
            assert h <= SPACE_H, (name, ex.controls["stride"].value if "stride" in ex.controls else None, w, h)


def test_chapter_08_explorer_has_its_controls_beside_the_picture():
    ex = W.conv_backward_explorer(stride=2)
    ex.controls["padding"].value = 2
    controls, _ = ex.children[2].children
    assert size(controls)[0] + ex._width <= SPACE_W


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_no_text_under_9_px(name):
    ex = EXPLORERS[name]()
    for s, _x, _y, size_pt, *_ in ex.frame.all_texts():
        assert size_pt * 100 / 72 >= 9, (s, size_pt)


def test_every_control_is_guarded():
    for make in EXPLORERS.values():
        for name, w in make().controls.items():
            assert isinstance(w, Guarded), name


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_explorer_has_the_css_classes_the_browser_test_finds(name):
    ex = EXPLORERS[name]()
    assert {"cnnlib-explorer", f"cnnlib-{name.replace('_', '-')}-explorer"} <= set(ex._dom_classes)

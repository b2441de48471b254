"""Every text an explorer draws into its picture, outside the heat-map cells, has at least 4.5:1
contrast against what is under it (WCAG's bar for text): the white picture, or a bar it sits on.

The numbers inside heat-map cells are black or white by the cell's luminance, a faded cell's in
``DIM_INK``, a padding cell's in ``GREY``: each has 4.5:1 against its own cell, which is checked too.
Route colours mark outlines and bars, never text.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
from _explorers import EXPLORERS, MOVING_CONTROL
from matplotlib.colors import to_rgb
from matplotlib.text import Text

from cnnlib.viz._style import relative_luminance
from cnnlib.widgets._controls import NumberBox
from cnnlib.widgets._raster import ERR, GREY, HI, INK


def contrast(fg, bg=(1.0, 1.0, 1.0)) -> float:
    lf, lb = float(relative_luminance(np.asarray(fg))), float(relative_luminance(np.asarray(bg)))
    return (max(lf, lb) + 0.05) / (min(lf, lb) + 0.05)


def _rgb(colour):
    if isinstance(colour, np.ndarray):
        return np.asarray(colour, dtype=np.float64)[:3] / 255.0
    return np.array(to_rgb(colour))


def _background(frame, x, y):
    """What is under the point (x, y) of the picture: the last fill drawn there, else white."""
    under = (1.0, 1.0, 1.0)
    for fx, fy, fw, fh, rgb in frame.fills:
        if fx <= x < fx + fw and fy <= y < fy + fh:
            under = _rgb(rgb)
    return under


# states that draw text the first state does not: the depth explorer's arrows on bars beyond its scale
EXTRA_STATES = {"depth": {"depth": 30, "gain": 3.0}}


def _states(name):
    """The explorer in its first state, then after each of a few values of the control that moves its picture."""
    ex = EXPLORERS[name]()
    yield ex
    for control, value in EXTRA_STATES.get(name, {}).items():
        ex.controls[control].value = value
    if name in EXTRA_STATES:
        yield ex
    control = MOVING_CONTROL.get(name)
    if control is None:
        return
    w = ex.controls[control]
    if isinstance(w, (ipywidgets.Dropdown, ipywidgets.ToggleButtons)):
        values = [opt[1] if isinstance(opt, tuple) else opt for opt in w.options]
    elif isinstance(w, ipywidgets.IntSlider):
        values = sorted({w.min, (w.min + w.max) // 2, w.max})
    elif isinstance(w, NumberBox):
        values = [-9.0, 16.0]
    else:
        values = list(np.linspace(w.min, w.max, 3))
    for v in values:
        w.value = v
        yield ex


@pytest.mark.parametrize("colour", [GREY, ERR, INK, HI])
def test_the_text_colours_of_the_pictures_are_readable_on_white(colour):
    assert contrast(_rgb(colour)) >= 4.5


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_text_drawn_into_an_explorer_picture_has_4_5_to_1_contrast(name):
    seen = on_bars = 0
    for ex in _states(name):
        assert ex.last_exception is None
        for s, x, y, _size, colour, _bold, _ha in ex.frame.texts:  # heat-map cell numbers are not in .texts
            if not s.strip():
                continue
            bg = _background(ex.frame, x, y)
            on_bars += bool(np.any(np.asarray(bg) != 1.0))
            assert contrast(_rgb(colour), bg) >= 4.5, (name, s, colour, bg)
            seen += 1
        # the static decorations (titles, the operations' names on the arrows)
        for t in ex._live.fig.findobj(Text):
            if t.get_visible() and t.get_text().strip():
                assert contrast(_rgb(t.get_color())) >= 4.5, (name, t.get_text(), t.get_color())
                seen += 1
    assert seen
    if name in EXTRA_STATES:
        assert on_bars  # the extra state did draw on a bar


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_number_in_a_heat_map_cell_has_4_5_to_1_contrast_with_its_cell(name):
    checked = 0
    for ex in _states(name):
        for hm in ex.frame.heats:
            cs, rgb = hm["cs"], hm["rgb"]
            for s, x, y, colour in hm["cells"]:
                cell = rgb[y // cs, x // cs]  # (x, y): the cell's centre, relative to the block
                ratio = contrast(_rgb(colour), _rgb(cell))
                assert ratio >= 4.5, (name, hm["name"], s, colour, tuple(cell), round(ratio, 2))
                checked += 1
    assert checked or name in ("depth", "dense_softmax", "digits")  # pictures without numbered cells

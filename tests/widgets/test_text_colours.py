"""The explorers' HTML text keeps its contrast on JupyterLab's light and dark themes.

Help text and messages take JupyterLab's theme colours (``var(--jp-...)``) with fallbacks of at
least 4.5:1 against white, and no text has a fixed colour: a route's products keep the theme's
text colour and are underlined in the colours of their outlines on the picture (several route
colours are below 4.5:1 as text on white, and on the dark theme).
"""

from __future__ import annotations

import re

import ipywidgets as widgets
import pytest
from _explorers import EXPLORERS

from cnnlib.widgets import _explorer
from cnnlib.widgets._raster import ROUTE_COLORS


def _html_values(w):
    if isinstance(w, widgets.HTML):
        yield w.value
    for child in getattr(w, "children", ()):
        yield from _html_values(child)


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[k : k + 2], 16) / 255 for k in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("css", [_explorer.HELP_COLOR, _explorer.ERROR_COLOR])
def test_theme_colours_fall_back_to_a_readable_colour(css):
    m = re.fullmatch(r"var\(--jp-[a-z0-9-]+, (#[0-9a-f]{6})\)", css)
    assert m, css
    assert 1.05 / (_luminance(m.group(1)) + 0.05) >= 4.5


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_html_text_uses_theme_colours(name):
    ex = EXPLORERS[name]()
    ex.error = "a message"  # the message line too
    ex._show_message()
    texts = list(_html_values(ex))
    assert texts
    for text in texts:
        for colour in re.findall(r"(?<![-\w])color:\s*([^;'\"]+)", text):
            assert colour.startswith("var(--jp-"), (name, colour, text[:200])


@pytest.mark.parametrize("name", ["conv_backward", "channels"])
def test_route_products_are_underlined_in_their_outline_colours(name):
    ex = EXPLORERS[name]()
    ex.controls["explain"].value = "dX"
    ex.controls["row"].value, ex.controls["column"].value = 2, 2
    route = ex.state["route"]
    colours = _explorer.pair_colors(route)  # the outlines' colours, product by product
    assert [colours[p] for p in route.products][: len(ROUTE_COLORS)] == list(ROUTE_COLORS[: len(route.products)])
    underlines = re.findall(r"<span style='border-bottom:3px solid (#[0-9a-f]{6})'>", ex.readout.value)
    assert len(route.terms) >= 4  # the products written out: those without a zero factor
    assert underlines == [colours[(a_ix, b_ix)] for a_ix, _, b_ix, _ in route.terms]
    assert "color:#" not in ex.readout.value.replace(" ", "")

"""The explorers' HTML text keeps its contrast on JupyterLab's light and dark themes.

Help text and messages take JupyterLab's theme colours (``var(--jp-...)``) with fallbacks of at
least 4.5:1 against white; the only fixed colours in the HTML are the route colours that match
the picture's outlines.
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
    routes = {c.lower() for c in ROUTE_COLORS}
    for text in texts:
        for colour in re.findall(r"color:\s*([^;'\"]+)", text):
            assert colour.startswith("var(--jp-") or colour.lower() in routes, (name, colour, text[:200])

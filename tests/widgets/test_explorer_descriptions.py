"""Every explorer's picture has a text description a screen reader reaches, and a static picture crisp at 200 % zoom.

The description (``explorer.description``) is written from the current state on every move;
the live widget carries it as visually hidden text next to the picture, and the static
output (website, GitHub) as the PNG's alt text.
"""

from __future__ import annotations

import base64
import re

import pytest
from _explorers import EXPLORERS, MOVING_CONTROL

from cnnlib.viz._output import png_size


def _hidden_text(ex) -> str:
    m = re.search(r"<div style='position:absolute;[^']*'>(.*?)</div>", ex.readout.value, re.S)
    assert m, ex.readout.value[-300:]
    return m.group(1)


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_description_names_every_panel_and_follows_the_state(name):
    import html

    ex = EXPLORERS[name]()
    text = ex.description
    assert text.startswith(ex._title.rstrip(".")), text[:120]
    for panel in ex.frame_arrays:
        assert f"{panel} (" in text, (panel, text[:400])
    if ex.readout_text:
        assert ex.readout_text.rstrip(".") in text
    assert html.unescape(_hidden_text(ex)) == text  # the live widget carries it, hidden from sight only
    before = text
    for control in [MOVING_CONTROL.get(name), *ex.controls]:  # the first control that changes the picture
        w = ex.controls.get(control)
        if w is None:
            continue
        options = getattr(w, "options", None)
        if options:
            candidates = [o[1] if isinstance(o, tuple) else o for o in options]
        elif hasattr(w, "max"):
            candidates = [w.min, w.max]
        else:  # a number box
            candidates = [16.0, -9.0]
        for v in candidates:
            if v != w.value:
                w.value = v
                break
        if ex.description != before:
            break
    assert ex.description != before, f"{name}: the description did not follow the move"
    assert html.unescape(_hidden_text(ex)) == ex.description


@pytest.mark.parametrize("name", ["conv_backward", "pool_backward"])
def test_description_says_the_message(name):
    ex = EXPLORERS[name]()
    ex._refuse("a value the explorer cannot use")
    assert ex.description.endswith("Message: a value the explorer cannot use.")


def test_static_output_is_twice_the_page_size_with_the_description_as_alt(monkeypatch):
    IPython = pytest.importorskip("IPython")
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False, metadata=None: shown.append((obj, metadata)))
    ex = EXPLORERS["conv_backward"]()
    ex._ipython_display_()
    ((data, meta),) = shown
    png = base64.b64decode(data["image/png"])
    w, h = png_size(png)
    one_w, one_h = png_size(ex.static_png())
    assert (w, h) == (2 * one_w, 2 * one_h)
    assert meta["image/png"] == {"width": one_w, "height": one_h, "alt": ex.description}
    assert "application/vnd.jupyter.widget-view+json" in data


@pytest.mark.parametrize(
    "scale, error", [(0, ValueError), (5, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)]
)
def test_static_png_refuses_a_bad_scale(scale, error):
    ex = EXPLORERS["pool_backward"]()
    with pytest.raises(error, match="^static_png: scale must be an integer from 1 to 4, got "):
        ex.static_png(scale)

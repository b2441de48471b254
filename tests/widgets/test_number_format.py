"""Edit boxes and read-outs write numbers as the pictures do: one format (cnnlib._format), only the display rounded."""

from __future__ import annotations

import html

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from test_layout import _chapter_calls  # noqa: E402

from cnnlib import widgets as W  # noqa: E402
from cnnlib._format import array_format, cell_labels  # noqa: E402
from cnnlib.widgets._controls import box_width  # noqa: E402


def test_the_boxes_of_a_grid_show_the_labels_of_its_panel_whole():
    ex = _chapter_calls()["05"]()  # seed 000's upstream gradient: 0.0686, −0.0681
    for name in ("X", "W", "dZ"):
        labels = cell_labels(ex.state[name])
        for (r, c), _ in np.ndenumerate(ex.state[name]):
            box = ex.controls[f"{name}[{r},{c}]"]
            assert box.value == labels[r][c], (name, r, c)
            assert float(box.layout.width[:-2]) >= box_width([box.value]), (name, box.value, box.layout.width)
    assert ex.controls["dZ[0,2]"].value == "0.0686" and ex.controls["dZ[3,3]"].value == "−0.0681"


def test_typing_keeps_the_exact_value_and_only_the_display_is_rounded():
    ex = _chapter_calls()["05"]()
    ex.controls["X[0,0]"].value = "0.123456"
    assert ex.state["X"][0, 0] == 0.123456 and ex.error is None
    assert ex.controls["X[0,0]"].number == 0.123456
    assert ex.controls["X[0,0]"].value == cell_labels(ex.state["X"])[0][0] == "0.123"
    ex.controls["X[0,0]"].value = "3,5"  # a decimal comma, and a whole grid's decimals change with it
    assert ex.state["X"][0, 0] == 3.5 and ex.controls["X[0,0]"].value == "3.50"
    assert ex.controls["X[0,1]"].value == "0.90"  # the same decimals for every box of the grid
    ex.controls["X[0,0]"].value = 0.51
    assert ex.controls["X[0,0]"].value == "0.51" and ex.state["X"][0, 0] == 0.51


def test_the_read_out_quotes_each_number_as_its_panel_writes_it():
    ex = _chapter_calls()["05"]()
    ex.controls["column"].value = 1  # dW[0, 1], as the chapter starts it
    text = ex.readout_text
    dW, fdw = ex.state["dW"], array_format(ex.state["dW"])
    assert text.endswith(f"= {fdw(dW[0, 1])} (12 product(s) with a zero factor left out)"), text
    assert "0.84·0.0686" in text and "0.09·(−0.0681)" in text  # X's and δZ's own labels


def test_no_read_out_prints_an_array_with_numpys_repr():
    ex = W.pipeline_explorer()
    texts = " ".join(html.unescape(w.value) for w in _html_widgets(ex))
    assert "W2 = [0.50, −0.25, −0.50, 1.00], B2 = 0.1 (fixed)" in texts
    assert "1.]" not in texts and " -0." not in texts


def _html_widgets(w):
    if isinstance(w, ipywidgets.HTML):
        yield w
    for child in getattr(w, "children", ()):
        yield from _html_widgets(child)


def test_the_pixel_value_box_writes_the_pixel_as_the_x_panel_does():
    ex = W.pipeline_explorer()  # the diagonal stroke: 1.0, 0.5, 0
    box = ex.controls["pixel value"]
    assert box.value == cell_labels(ex.state["X"])[2][2] == "1.0"
    box.value = "0.4237"  # kept exactly; shown with X's decimals
    assert ex.state["X"][2, 2] == 0.4237 and box.value == cell_labels(ex.state["X"])[2][2]
    ex.controls["pixel column"].value = 3
    assert box.value == cell_labels(ex.state["X"])[2][3] and box.number == ex.state["X"][2, 3]

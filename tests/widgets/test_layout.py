"""The explorers fit a 1400×1000 browser window at 100 % zoom, and their text is readable.

The controls' height is estimated from ipywidgets' default sizes (a slider, a dropdown,
or a row of toggle buttons: 28 px plus 2 px margins; a label: 24 px; an edit box of a
grid: its own height and margins), with the wrapping of a ``row wrap`` box simulated
inside its ``max_width``. Chromium measured JupyterLab's notebook area in a 1400×1000
window with the left side panel open (as JupyterLab opens): 1070×879 px, of which the
prompt column and margins take 110 px of the width, so an output is at most 960 px wide.
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
SPACE_W, SPACE_H = 960, 870


def _px(value, default):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)px", str(value or ""))
    return float(m.group(1)) if m else default


def _margin(w, default=0.0):
    """(horizontal, vertical) pixels of a ``margin: top right bottom left`` (or ``margin: all``) layout."""
    parts = [_px(p, 0.0) for p in str(w.layout.margin or "").split()] if w.layout.margin else []
    if len(parts) == 4:
        return parts[1] + parts[3], parts[0] + parts[2]
    if len(parts) == 1:
        return 2 * parts[0], 2 * parts[0]
    return 2 * default, 2 * default


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
        cell = w.children[0] if w.children else None
        pitch = (_px(cell.layout.height, 28.0) + _margin(cell, 2.0)[1] if cell else ROW) + 2
        return _px(w.layout.width, 300.0) + dw, rows * pitch + dh
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
    readout_lines = -(-len(ex.readout_text) // max(max(pw, 400) // 8, 1)) if ex.readout_text else 0
    ph = ex._height + readout_lines * 20
    if cw + pw <= SPACE_W:
        return cw + pw, LABEL + max(ch, ph)
    return max(cw, pw), LABEL + ch + ph


def _values(w):
    """The values a slider or a dropdown offers, smallest first."""
    if hasattr(w, "options"):
        return sorted(o[1] if isinstance(o, tuple) else o for o in w.options)
    return list(range(w.min, w.max + 1))


def _largest(ex):
    """Drive the explorer through its largest pictures and controls: the largest padding with each stride,
    each grid of a grid switcher, dW and dX."""
    c = ex.controls
    states = [{}]
    if "padding" in c:
        states = [{"padding": _values(c["padding"])[-1], "stride": s} for s in _values(c["stride"])]
    for st in states:
        for name, v in st.items():
            ex.controls[name].value = v
        for grid in _values(c["edit"]) if "edit" in c else [None]:
            if grid is not None:
                ex.controls["edit"].value = grid
            for target in ("dW", "dX") if "explain" in c else (None,):
                if target:
                    ex.controls["explain"].value = target
                yield


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_explorer_at_its_largest_fits_a_1400_by_1000_window_with_the_side_panel_open(name):
    ex = EXPLORERS[name]()
    for _ in _largest(ex):
        w, h = explorer_size(ex)
        assert w <= SPACE_W and h <= SPACE_H, (name, {k: v.value for k, v in ex.controls.items() if "[" not in k}, w, h)


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_the_picture_fits_the_window_at_its_own_size(name):
    # a picture wider than the output area is scaled down by the browser, and its text with it
    ex = EXPLORERS[name]()
    for _ in _largest(ex):
        assert ex._width <= SPACE_W, (name, ex._width)


def _chapter_calls():
    """The convolution-backward explorer as notebooks 03, 05 and 08 call it."""
    X3 = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3], [5, 8, 9, 7, 9], [3, 2, 3, 8, 4], [6, 2, 6, 4, 3]], float)
    W3 = np.array([[1, 0, -1], [2, 1, 0], [0, 0, 3]], float)
    dZ3 = np.array([[1, -2, 4], [0, 3, -1], [2, -1, 1]], float)
    o = np.array([[0.51, 0.9, 0.88, 0.84, 0.05], [0.4, 0.62, 0.22, 0.59, 0.1], [0.11, 0.2, 0.74, 0.33, 0.14],
                  [0.47, 0.01, 0.85, 0.7, 0.09], [0.76, 0.19, 0.72, 0.17, 0.57]])  # fmt: skip
    W_c = np.array([[-0.13, 0.16], [-0.51, 0.61]])
    d_seed = np.zeros((4, 4))
    d_seed[0, 2], d_seed[1, 1], d_seed[2, 1], d_seed[3, 3] = 0.0686, 0.0364, 0.0467, -0.0681
    X6 = np.array([[2, 7, 1, 8, 2, 8], [8, 2, 8, 4, 5, 9], [4, 5, 2, 3, 5, 3], [0, 2, 8, 7, 4, 7],
                   [3, 5, 2, 6, 6, 2], [9, 7, 7, 5, 7, 2]], float)  # fmt: skip
    return {
        "03": lambda: W.conv_backward_explorer(X3, W3, dZ3),
        "05": lambda: W.conv_backward_explorer(o, W_c, d_seed),
        "08": lambda: W.conv_backward_explorer(X6, W3, np.array([[2.0, -1.0], [-3.0, 1.5]]), stride=2),
    }


@pytest.mark.parametrize("chapter", ["03", "05", "08"])
def test_the_chapters_conv_backward_explorers_fit_the_window(chapter):
    ex = _chapter_calls()[chapter]()
    controls, _ = ex.children[2].children
    if chapter != "08":  # the plain convolution: controls beside the picture
        assert size(controls)[0] + ex._width <= SPACE_W
    for _ in _largest(ex):
        w, h = explorer_size(ex)
        assert w <= SPACE_W and h <= SPACE_H, (chapter, w, h)


def test_chapters_03_and_05_show_no_stride_padding_or_dilation():
    calls = _chapter_calls()
    for chapter in ("03", "05"):
        ex = calls[chapter]()
        assert not {"stride", "padding", "dilation"} & set(ex.controls), chapter
        assert ex.state["stride"] == 1 and ex.state["padding"] == 0 and ex.state["dilation"] == 1
        assert "dZ_dilated" not in ex.frame_arrays  # no dilated δZ panel either
    ex = calls["08"]()
    assert {"stride", "padding", "dilation"} <= set(ex.controls) and ex.state["stride"] == 2


def test_hyper_chooses_the_sliders():
    assert {"stride", "padding", "dilation"} <= set(W.conv_backward_explorer(hyper=True).controls)
    ex = W.conv_backward_explorer(stride=2, hyper=False)  # no sliders, the call's stride kept
    assert not {"stride", "padding", "dilation"} & set(ex.controls) and ex.state["stride"] == 2
    ex = W.conv_backward_explorer(hyper=("stride",))
    assert "stride" in ex.controls and not {"padding", "dilation"} & set(ex.controls)
    ex.controls["stride"].value = 2
    assert ex.state["stride"] == 2 and ex.state["padding"] == 0 and ex.error is None
    with pytest.raises(ValueError, match="^conv_backward_explorer: hyper"):
        W.conv_backward_explorer(hyper=("pad",))


def _label_overflows(ex):
    """Numbers wider than their cell (each keeps CELL_MARGIN pixels free)."""
    from cnnlib.widgets._raster import CELL_MARGIN, Font

    out = []
    for hm in ex.frame.heats:
        font = Font.get(hm["font"], False)
        out += [(s, hm["cs"]) for s, *_ in hm["cells"] if font.width(s) > hm["cs"] - CELL_MARGIN]
    return out


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_number_fits_its_cell(name):
    ex = EXPLORERS[name]()
    for _ in _largest(ex):
        assert not _label_overflows(ex), (name, _label_overflows(ex))


@pytest.mark.parametrize("chapter", ["03", "05", "08"])
def test_every_number_fits_its_cell_in_the_chapters(chapter):
    ex = _chapter_calls()[chapter]()
    for _ in _largest(ex):
        assert not _label_overflows(ex), (chapter, _label_overflows(ex))
    ex.controls["X[0,0]"].value = -123.456  # a wider number: wider cells, never an overflow
    assert ex.state["X"][0, 0] == -123.456 and not _label_overflows(ex)


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


def _misread_labels(ex):
    """Cell labels that are not their cell's value rounded to the label's own digits (a scale factor, a
    unit, a lost digit), and any "×10" text in the picture."""
    bad = [s for s, *_ in ex.frame.all_texts() if re.search("×10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]", s)]
    for hm in ex.frame.heats:
        for s, x, y, _ in hm["cells"]:
            try:
                shown = float(s.replace("−", "-"))
            except ValueError:  # a name, not a number (the im2col explorer's cell numbers are integers)
                continue
            v = float(hm["data"][y // hm["cs"], x // hm["cs"]])
            decimals = len(s.split(".")[1]) if "." in s and "e" not in s else 0
            tol = 0.5 * 10.0**-decimals * (1 + 1e-9) if "e" not in s else 0.05 * abs(v)
            if not abs(shown - v) <= tol:
                bad.append((hm["name"], s, v))
    return bad


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_cell_label_is_its_value_rounded_never_scaled(name):
    ex = EXPLORERS[name]()
    for _ in _largest(ex):
        assert not _misread_labels(ex), (name, _misread_labels(ex))


def test_pipeline_writes_small_gradients_with_fewer_digits_never_in_units():
    from cnnlib.widgets._raster import fitted_labels

    ex = W.pipeline_explorer()
    assert ex._width <= SPACE_W and not _label_overflows(ex) and not _misread_labels(ex)
    texts = [s for s, *_ in ex.frame.all_texts()]
    assert "−.054" in texts  # dX[2, 2] = −0.0540: two significant digits, no leading zero
    assert ex.state["formats"]["dX"] == (3, False) and ex.state["formats"]["X"] == (1, True)
    np.testing.assert_array_equal(ex.frame_arrays["dX"], ex.state["dX"])
    # linked panels write one value one way: Z1, A1, P1 and F; δZ1, δA1, δP1 and δF
    for group in [("Z1", "A1", "P1", "F"), ("dZ1", "dA1", "dP1", "dF")]:
        assert len({ex.state["formats"][k] for k in group}) == 1, group
    # notebook 06's numbers: A1 = 0.794 and P1 = 0.794 read alike (no panel in tenths beside one in units)
    rng = np.random.default_rng(12)
    X = rng.uniform(0, 1, size=(6, 6)).round(2)
    W1 = rng.normal(0, 0.5, size=(3, 3)).round(2)
    W2 = rng.normal(0, 0.7, size=(4, 1)).round(2)
    ex = W.pipeline_explorer(X, W1, B1=-0.5, W2=W2.ravel(), B2=0.1, y=1)
    assert not _label_overflows(ex) and not _misread_labels(ex)
    for group in [("Z1", "A1", "P1", "F"), ("dZ1", "dA1", "dP1", "dF")]:
        assert len({ex.state["formats"][k] for k in group}) == 1, group
    # labels that fit stay the book's; too wide: fewer decimals first, then no leading zero
    assert fitted_labels([np.array([[0.5, -0.25]])], 33) == ([[["0.50", "−0.25"]]], (2, True))
    assert fitted_labels([np.array([[0.794, -0.5]])], 33)[0] == [[["0.79", "−0.50"]]]
    assert fitted_labels([np.array([[0.0180, -0.054]])], 33)[0] == [[[".018", "−.054"]]]
    labels, fmt = fitted_labels([np.array([[0.037]]), np.array([[0.205, 0.5]])], [33, 33])
    assert labels == [[["0.037"]], [["0.205", "0.500"]]] and fmt == (3, True)


def test_channels_panels_of_one_kind_share_one_number_format():
    X = np.zeros((2, 6, 6))
    X[0] = np.arange(36).reshape(6, 6) / 36
    W_ = np.full((2, 2, 3, 3), 0.1)
    dZ = np.array([[[-0.49, 0.321, 0.05, 0.0], [0.1] * 4, [0.0] * 4, [0.2] * 4], np.full((4, 4), 0.0123)])
    ex = W.channels_explorer(X, W_, dZ)
    assert not _label_overflows(ex) and not _misread_labels(ex)
    f = ex.state["formats"]
    for kind in ("X", "W", "dZ", "dX", "dW"):
        assert len({v for k, v in f.items() if k.split("[")[0] == kind}) == 1, (kind, f)


def test_digits_bars_end_above_the_feature_maps_heading():
    from _explorers import digits_data

    for n_filters, side in ((4, 8), (8, 8), (4, 12)):
        model, X, y = digits_data()
        if (n_filters, side) != (4, 8):
            from cnnlib import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential

            model = Sequential(
                Conv2D(1, n_filters, 3, padding=1, seed=0),
                ReLU(),
                MaxPool2D(2),
                Flatten(),
                Dense(n_filters * (side // 2) ** 2, 10, seed=1),
            )
            X = np.random.default_rng(0).uniform(0, 1, size=(6, 1, side, side))
            y = np.arange(6)
        ex = W.digits_explorer(model, X, y)
        bars = ex._bars
        heading = ex._pa[0].y - 44  # the baseline of "feature maps A = ReLU(Z), one per filter"
        labels_bottom = bars.y + bars.height + 10 + 6  # the class digits under the bars
        assert labels_bottom + 9 < heading, (n_filters, side, labels_bottom, heading)
        assert ex._width <= SPACE_W


@pytest.mark.parametrize("chapter", ["08"])
def test_conv_backward_numbers_keep_9_px_apart(chapter):
    # −2.0 beside −1.0 reads as two numbers, not "−2.0−1.0"; the grid indices are 7-point text (9.7 px)
    from cnnlib.widgets._raster import INDEX_SIZE, Font

    ex = _chapter_calls()[chapter]()
    for hm in ex.frame.heats:
        font = Font.get(hm["font"], False)
        assert all(hm["cs"] - font.width(s) >= 9 for s, *_ in hm["cells"]), (chapter, hm["name"], hm["cs"])
    assert INDEX_SIZE * 100 / 72 >= 9.5
    assert {size for s, x, y, size, *_ in ex.frame.texts if s in "012345"} == {INDEX_SIZE}


def test_integer_valued_arrays_print_without_decimals():
    # notebook 03's integers: every panel writes 2, not 2.0 (as the figures do: cnnlib._format.auto_decimals)
    ex = _chapter_calls()["03"]()
    labels = [s for hm in ex.frame.heats for s, *_ in hm["cells"]]
    assert labels and not [s for s in labels if "." in s]
    ex = _chapter_calls()["08"]()  # δZ holds 1.5: that array (and dX, dW) keep one decimal, X and W none
    by_name = {hm["name"]: [s for s, *_ in hm["cells"]] for hm in ex.frame.heats}
    assert not [s for s in by_name["X"] + by_name["W"] if "." in s]
    assert "2.0" in by_name["dZ"] and "1.5" in by_name["dZ"]

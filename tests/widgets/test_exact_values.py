"""The explorers never change the reader's numbers, and never raise on a control's value.

* selecting never changes a value, and a typed value is kept exactly (no slider grid);
* nothing is clipped to a control's bounds: ranges grow to hold the given values;
* a decimal comma is read as a decimal point; text that is not a number is refused
  with a message and the old value kept;
* any value assigned to any control from code either draws or is refused with a
  message in the widget: never an exception;
* labels use the book's notation (padding, window R, s = pUᵀ + c, Q and M).
"""

from __future__ import annotations

import copy
import html
import re

import numpy as np
import pytest
from matplotlib.colors import to_rgb

ipywidgets = pytest.importorskip("ipywidgets")

from _explorers import EXPLORERS, digits_data, digits_explorer  # noqa: E402

from cnnlib import softmax, softmax_cross_entropy  # noqa: E402
from cnnlib import widgets as W  # noqa: E402
from cnnlib.viz._style import ROUTE_COLORS  # noqa: E402
from cnnlib.widgets._controls import FloatSlider, IntSlider, NumberBox, parse_number  # noqa: E402
from cnnlib.widgets._explorer import pair_colors  # noqa: E402


def _chapter06():
    rng = np.random.default_rng(12)  # notebook 06's data
    X = rng.uniform(0, 1, size=(6, 6)).round(2)
    W1 = rng.normal(0, 0.5, size=(3, 3)).round(2)
    W2 = rng.normal(0, 0.7, size=(4, 1)).round(2)
    return X, W1, W2


# --------------------------------------------------------------------------- 1. selecting and typing keep values


def test_selecting_a_pixel_never_changes_it_and_typing_keeps_the_exact_value():
    X, W1, W2 = _chapter06()
    ex = W.pipeline_explorer(X, W1, B1=-0.5, W2=W2.ravel(), B2=0.1, y=1)
    assert ex.state["X"][2, 2] == 0.42 and ex.state["A2"] == pytest.approx(0.290632, abs=5e-7)
    box = ex.controls["pixel value"]
    assert isinstance(box, NumberBox) and box.value == "0.42"
    for r, c in [(0, 0), (5, 5), (2, 2)]:  # select pixels: nothing changes
        ex.controls["pixel row"].value, ex.controls["pixel column"].value = r, c
        np.testing.assert_array_equal(ex.state["X"], X)
        assert box.number == X[r, c]
    assert ex.state["A2"] == pytest.approx(0.290632, abs=5e-7)
    box.value = "0.4237"  # typed: kept exactly, no 0.1 grid
    assert ex.state["X"][2, 2] == 0.4237
    box.value = 7.25  # beyond any former slider range: kept
    assert ex.state["X"][2, 2] == 7.25 and ex.error is None


def test_float_sliders_do_not_update_continuously():
    # ipywidgets 8 sends a continuously updating slider's value back snapped to its step
    for make in EXPLORERS.values():
        for name, w in make().controls.items():
            if isinstance(w, ipywidgets.FloatSlider):
                assert not w.continuous_update, name


# --------------------------------------------------------------------------- 2. nothing is clipped


def test_conv_forward_keeps_digit_pixels_up_to_16():
    X = np.arange(64, dtype=float).reshape(8, 8) % 17  # load_digits' 0..16
    ex = W.conv_forward_explorer(X)
    np.testing.assert_array_equal(ex.state["X"], X)
    ex.controls["X[0,0]"].value = 16.0
    assert ex.state["X"][0, 0] == 16.0 and ex.state["X"].max() == 16.0


def test_conv_forward_bias_range_grows_to_hold_b():
    ex = W.conv_forward_explorer(b=12.5)
    assert ex.state["b"] == 12.5 and ex.controls["b"].max >= 12.5
    ex.controls["b"].value = -40.0  # from code, beyond the range: the range grows
    assert ex.state["b"] == -40.0 and ex.controls["b"].min <= -40.0 and ex.error is None


def test_dense_softmax_keeps_large_logits():
    ex = W.dense_softmax_explorer(logits=[10, 0, -10])
    np.testing.assert_array_equal(ex.state["s"], [10.0, 0.0, -10.0])
    assert ex.controls["s[0]"].max == 15.0 and ex.controls["s[2]"].min == -15.0
    ex = W.dense_softmax_explorer(p=[4.0, -7.5, 1.0], U=np.full((3, 3), 8.0), mode="layer")
    np.testing.assert_array_equal(ex.state["p"], [4.0, -7.5, 1.0])
    np.testing.assert_array_equal(ex.state["U"], np.full((3, 3), 8.0))


def test_channels_editing_one_entry_keeps_the_others():
    ex = W.channels_explorer(W=np.full((2, 2, 3, 3), 5.0))
    ex.controls["W[1,1]"].value = 6.0
    expected = np.full((2, 2, 3, 3), 5.0)
    expected[0, 0, 1, 1] = 6.0
    np.testing.assert_array_equal(ex.state["W"], expected)
    ex.controls["kernel"].value = (1, 1)
    ex.controls["W[0,0]"].value = -12.0
    expected[1, 1, 0, 0] = -12.0
    np.testing.assert_array_equal(ex.state["W"], expected)


def test_upstream_gradients_outside_nine_are_kept():
    dZ = np.array([[12.0, -30.0, 0.5], [1.0, 2.0, 3.0], [-9.5, 0.0, 100.0]])
    ex = W.conv_backward_explorer(dZ=dZ)
    np.testing.assert_array_equal(ex.state["dZ"], dZ)
    dP = np.array([[20.0, -11.0], [0.25, 9.75]])
    ex = W.pool_backward_explorer(dP=dP)
    np.testing.assert_array_equal(ex.state["dP"], dP)


@pytest.mark.parametrize(
    ("text", "number"), [("3,5", 3.5), ("-0,25", -0.25), (" 2 ", 2.0), ("\u22121.5", -1.5), ("1e3", 1000.0)]
)
def test_typed_numbers_accept_a_decimal_comma(text, number):
    assert parse_number(text) == number
    ex = W.conv_forward_explorer()
    ex.controls["W[0,0]"].value = text
    assert ex.state["W"][0, 0] == number and ex.error is None


@pytest.mark.parametrize("text", ["abc", "3,5,1", "", "nan", "inf", "1.2.3"])
def test_text_that_is_not_a_number_is_refused_and_the_old_value_kept(text):
    ex = W.conv_forward_explorer()
    before = ex.state["W"].copy()
    ex.controls["W[0,0]"].value = text
    np.testing.assert_array_equal(ex.state["W"], before)
    assert ex.error and ex.error.startswith("W[0,0]:") and "not a number" in ex.error
    assert "not a number" in html.unescape(ex.message.value)
    assert ex.controls["W[0,0]"].value == "1"  # the old value shown again
    ex.controls["W[0,0]"].value = 2.0  # the next valid value clears the message
    assert ex.error is None and ex.message.value == ""


# --------------------------------------------------------------------------- 3. no value raises


def _wrong_values(w):
    """(value, must be refused) pairs: None, an out-of-range value and a wrong type."""
    if isinstance(w, IntSlider):
        out_of_range = (w.max + 1, True)
    elif isinstance(w, FloatSlider):
        out_of_range = (10.0 * w.max, False)  # the range grows
    elif isinstance(w, NumberBox):
        out_of_range = (1e6, False)  # no bounds
    else:
        out_of_range = ("no such option", True)
    return [(None, True), out_of_range, ([1, 2], True), (float("nan"), True)]


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_control_set_to_none_out_of_range_or_a_wrong_type_never_raises(name):
    ex = EXPLORERS[name]()
    for control in list(ex.controls):
        w = ex.controls.get(control)
        if w is None:
            continue
        for value, refused in _wrong_values(w):
            before = w.value
            w.value = value  # must not raise
            assert ex.last_exception is None, (control, value, ex.last_exception)
            if refused:
                assert w.value == before, (control, value)
                assert ex.error and ex.state["error"] == ex.error, (control, value)
                assert ex.error.split(":")[0] in (w.description, getattr(w, "label_text", "")), ex.error
                assert html.escape(ex.error) in ex.message.value
            else:
                assert ex.error is None, (control, value, ex.error)
        # the explorer still answers a valid move
        if isinstance(w, NumberBox):
            w.value = 1.0
            assert ex.error is None


def test_selection_set_to_none_is_refused_not_raised():
    ex = W.channels_explorer()
    ex.controls["kernel"].value = None
    assert ex.last_exception is None and "kernel" in ex.error and ex.controls["kernel"].value == (0, 0)
    ex.controls["kernel"].value = (1, 1)
    assert ex.error is None


# --------------------------------------------------------------------------- 4. pairs of eq. 3.3 in colour


def test_conv_backward_dX_pairs_have_their_own_colours_and_indexed_products():
    for stride, (i, j), panels in [(1, (2, 2), 2), (2, (1, 1), 3)]:  # with stride 2, the dilated δZ too
        ex = W.conv_backward_explorer(stride=stride, padding=1)
        ex.controls["explain"].value = "dX"
        ex.controls["row"].value, ex.controls["column"].value = i, j
        route = ex.state["route"]
        assert len(route.products) >= 4
        boxes = [tuple(int(v) for v in rgb) for *_, rgb, _lw in ex.frame.boxes]
        colors = [tuple(round(255 * v) for v in to_rgb(c)) for c in ROUTE_COLORS[: len(route.products)]]
        assert len(set(colors)) == len(route.products)
        for c in colors:  # each pair's own colour on W, δZ (and the dilated δZ)
            assert boxes.count(c) == panels, c
        text = ex.readout_text
        assert text.startswith(f"dX[{i},{j}] = ")
        for (_, a, b), _, (_, u, v), _ in route.terms:
            assert f"W[{a},{b}]·δZ[{u},{v}]" in text
        # eq. 3.3 (eq. 8.4): W[a, b] meets δZ[u, v] where u·S + a = x + pad
        for (_, a, b), (_, u, v) in route.products:
            assert u * stride + a == i + 1 and v * stride + b == j + 1


def test_channels_dX_pairs_have_their_own_colours_and_indexed_products():
    ex = W.channels_explorer()
    ex.controls["explain"].value = "dX"
    ex.controls["row"].value, ex.controls["column"].value = 2, 2
    route = ex.state["route"]
    text = ex.readout_text
    for (f, a, b), _, (g, u, v), _ in route.terms:
        assert f"W[{f},0,{a},{b}]·δZ[{g},{u},{v}]" in text
    colors = pair_colors(route)
    for a, _, b, _ in route.terms:
        assert f"border-bottom:3px solid {colors[a, b]}" in ex.readout.value  # underlined in its colour


# --------------------------------------------------------------------------- 6. ties


def test_pipeline_default_ties_are_noted_on_the_picture():
    ex = W.pipeline_explorer()
    ties = ex.state["ties"]
    assert ties
    texts = [s for s, *_ in ex.frame.all_texts()]
    for u, v, _ in ties:
        assert any(t.startswith(f"window ({u}, {v}) ties: ") for t in texts), texts
    assert "dotted: a tied maximum that gets no gradient" in texts and "dotted" in ex.readout_text
    # a tied maximum that is not the winner gets no gradient, and is outlined in dots (on A1 and δA1), never solid
    cells = ex.state["tied_without_gradient"]
    assert cells == [(1, 1), (3, 3)]  # the diagonal stroke: two windows with exact ties
    for r, c in cells:
        assert ex.state["dA1"][r, c] == 0 and (r, c) not in ex.state["winners"]
    assert len(ex.frame.dotted) == 2 * len(cells)
    solid = {(x, y) for x, y, *_ in ex.frame.boxes}
    assert not solid & {(x, y) for x, y, *_ in ex.frame.dotted}
    X, W1, W2 = _chapter06()
    ex = W.pipeline_explorer(X, W1, B1=-0.5, W2=W2.ravel(), B2=0.1, y=1)
    A1 = ex.state["A1"]
    for k in range(len(ex.state["winners"])):
        u, v = divmod(k, 2)
        window = A1[2 * u : 2 * u + 2, 2 * v : 2 * v + 2]
        tied = np.count_nonzero(window == window.max()) > 1
        assert tied == any((t[0], t[1]) == (u, v) for t in ex.state["ties"])


# --------------------------------------------------------------------------- 7. notation, 8. no dilation in ch02


def _labels(ex):
    def walk(w):
        yield w
        for c in getattr(w, "children", ()):
            yield from walk(c)

    out = []
    for w in walk(ex):
        out.append(getattr(w, "description", "") or "")
        if isinstance(w, ipywidgets.HTML):
            out.append(html.unescape(w.value))
    return " | ".join(out) + " | " + " | ".join(s for s, *_ in ex.frame.all_texts()) + " | " + ex.readout_text


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_labels_use_the_books_notation(name):
    ex = EXPLORERS[name]()
    text = _labels(ex)
    assert "padding P" not in text and "window K" not in text and not re.search(r"(?<![δ∂])P = \d", text)
    assert "U p" not in text and "Uᵀδ" not in text and "(M×K)" not in text


def test_dense_softmax_writes_the_chapters_row_vector_form():
    ex = W.dense_softmax_explorer(mode="layer")
    assert "s = pUᵀ + c" in ex.readout_text and "weights U (M×Q)" in _labels(ex)


def test_conv_forward_without_dilation_hides_the_slider():
    ex = W.conv_forward_explorer(dilation=None)
    assert "dilation" not in ex.controls and ex.state["dilation"] == 1
    assert "i·" not in ex.readout_text.split("=")[1] and "D" not in ex.readout_text.split("=")[1]
    assert "dilation" not in _labels(ex).lower()
    assert "dilation" in W.conv_forward_explorer().controls


# --------------------------------------------------------------------------- 9. the digits explorer


def test_digits_explorer_matches_the_network_and_leaves_the_model_alone():
    model, X, y = digits_data()
    params = copy.deepcopy(model.parameters())
    ex = W.digits_explorer(model, X, y, index=3)
    assert ex.net is not model
    for n, target in [(3, "true"), (7, "pred"), (0, 5)]:
        ex.controls["digit"].value = n
        ex.controls["loss of"].value = target
        st = ex.state
        net = copy.deepcopy(model)
        s = net.forward(X[n : n + 1])
        k = {"true": int(y[n]), "pred": int(s.argmax())}.get(target, target)
        L, ds = softmax_cross_entropy(s, np.array([k]))
        dX = net.backward(ds)
        np.testing.assert_allclose(st["yhat"], softmax(s)[0], rtol=1e-12)
        np.testing.assert_allclose(st["dX"], dX[0, 0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ex.frame_arrays["dX"], dX[0, 0], rtol=1e-12, atol=1e-15)
        assert st["k"] == k and st["L"] == pytest.approx(float(L)) and st["n"] == n
    for key, v in model.parameters().items():
        np.testing.assert_array_equal(v, params[key])
    assert ex.static_figure() is not None and ex.readout_text


def test_digits_explorer_jumps_to_a_misclassified_digit():
    ex = digits_explorer()
    wrong = [v for _, v in ex.controls["misclassified"].options if v >= 0]
    assert wrong  # an untrained network gets most digits wrong
    ex.controls["misclassified"].value = wrong[-1]
    assert ex.controls["digit"].value == wrong[-1] and ex.state["n"] == wrong[-1]
    assert ex.state["pred"] != ex.state["true"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (lambda m, X, y: (object(), X, y), "digits_explorer: model"),
        (lambda m, X, y: (m, X[:, 0], y), "digits_explorer: X"),
        (lambda m, X, y: (m, X, y[:-1]), "digits_explorer: y"),
        (lambda m, X, y: (m, X, y, len(y)), "digits_explorer: index"),
    ],
)
def test_digits_explorer_bad_arguments(args, message):
    with pytest.raises((TypeError, ValueError), match=message):
        W.digits_explorer(*args(*digits_data()))

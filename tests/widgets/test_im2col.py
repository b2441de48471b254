"""The im2col explorer (notebook 10): its arrays are cnnlib.im2col's, its controls never raise."""

from __future__ import annotations

import html
import itertools

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import cnnlib  # noqa: E402
from cnnlib.widgets import im2col_explorer  # noqa: E402
from cnnlib.widgets._explorer import Explorer  # noqa: E402
from cnnlib.widgets.im2col import Im2colExplorer  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
SETTINGS = list(itertools.product([1, 2], [0, 1], [1, 2]))  # (stride, padding, dilation)


def _cols_loops(X, K, S, pad, D):
    """Eq. (10.1) with loops: column u·W_out + v holds X̄[u·S + i·D, v·S + j·D] in row K·i + j."""
    Xbar = np.pad(X, pad)
    Ho = (Xbar.shape[0] - D * (K - 1) - 1) // S + 1
    cols = np.zeros((K * K, Ho * Ho))
    for u in range(Ho):
        for v in range(Ho):
            for i in range(K):
                for j in range(K):
                    cols[K * i + j, u * Ho + v] = Xbar[u * S + i * D, v * S + j * D]
    return cols


def check(ex):
    s = ex.state
    H, K, S, pad, D = s["H"], s["K"], s["stride"], s["padding"], s["dilation"]
    X = np.arange(1.0, H * H + 1).reshape(H, H)
    np.testing.assert_array_equal(s["X"], X)
    np.testing.assert_array_equal(s["Xbar"], np.pad(X, pad))
    np.testing.assert_array_equal(ex.frame_arrays["Xbar"], s["Xbar"])
    np.testing.assert_array_equal(s["Xbar_padding"], np.pad(np.zeros((H, H), bool), pad, constant_values=True))
    if ex.error:
        assert "cols" not in s and "cols" not in ex.frame_arrays
        assert ex.controls["column"].disabled
        return
    kw = {"stride": S, "padding": pad, "dilation": D}
    cols = cnnlib.im2col(X[None, None], K, **kw)[0]
    np.testing.assert_array_equal(s["cols"], cols)
    np.testing.assert_array_equal(ex.frame_arrays["cols"], cols)
    np.testing.assert_array_equal(cols, _cols_loops(X, K, S, pad, D))
    np.testing.assert_array_equal(s["cols_padding"], cnnlib.im2col(np.ones((1, 1, H, H)), K, **kw)[0] == 0)
    Ho = cnnlib.conv_output_size(H, K, S, pad, D)
    np.testing.assert_array_equal(s["order"], np.arange(Ho * Ho).reshape(Ho, Ho))
    q = s["column"]
    assert q == ex.controls["column"].value and ex.controls["column"].max == Ho * Ho - 1
    u, v = s["position"]
    assert s["order"][u, v] == q
    # the column is the window: its entries are the X̄ cells it outlines, in row order K·i + j
    np.testing.assert_array_equal(s["entries"], cols[:, q])
    np.testing.assert_array_equal([s["Xbar"][r, c] for r, c in s["window"]], cols[:, q])
    assert s["window"][0] == (u * S, v * S) and s["window"][-1] == (u * S + (K - 1) * D, v * S + (K - 1) * D)


def test_it_is_an_explorer_named_by_its_class():
    assert im2col_explorer is Im2colExplorer and issubclass(Im2colExplorer, Explorer)
    ex = im2col_explorer()
    assert set(ex.controls) == {"stride", "padding", "dilation", "column"}
    assert ex.error is None and bytes(ex.image.value).startswith(PNG)
    assert ex.readout_text.startswith("Column q = 0 is output position (u, v) = (0, 0).")
    assert "0, 0, 0, 0, 1, 2, 0, 5, 6 — 5 of them padding" in ex.readout_text  # notebook 10's first count


@pytest.mark.parametrize(("H", "K"), [(4, 3), (3, 2), (5, 2), (5, 3)])
def test_state_matches_cnnlib_im2col_for_every_setting_and_column(H, K):
    ex = im2col_explorer(H, K)
    c = ex.controls
    for S, pad, D in SETTINGS:
        c["stride"].value, c["padding"].value, c["dilation"].value = S, pad, D
        assert ex.last_exception is None
        assert (ex.state["stride"], ex.state["padding"], ex.state["dilation"]) == (S, pad, D)
        check(ex)
        if not ex.error:
            for q in range(c["column"].max + 1):
                c["column"].value = q
                check(ex)


def test_a_kernel_that_does_not_fit_is_a_message_and_the_next_setting_draws_again():
    ex = im2col_explorer(padding=0, dilation=2)  # a 5×5 span on a 4×4 input
    assert ex.error and "dilation 2" in ex.error and html.escape(ex.error) in ex.message.value
    check(ex)
    ex.controls["padding"].value = 1
    assert ex.error is None and ex.message.value == "" and not ex.controls["column"].disabled
    check(ex)


def test_the_column_moves_to_the_last_one_when_the_matrix_shrinks():
    ex = im2col_explorer()
    ex.controls["column"].value = 15
    ex.controls["stride"].value = 2  # 4 columns left
    assert ex.state["column"] == 3 and ex.error is None
    check(ex)


def _wrong_values(name, w):
    out_of_range = w.max + 1 if name == "column" else 7
    return [None, out_of_range, [1, 2], "two", float("nan"), 1.5]


@pytest.mark.parametrize("name", ["stride", "padding", "dilation", "column"])
def test_every_control_refuses_none_out_of_range_and_wrong_types_with_a_message(name):
    ex = im2col_explorer()
    w = ex.controls[name]
    for value in _wrong_values(name, w):
        before, state = w.value, {k: ex.state[k] for k in ("stride", "padding", "dilation", "column")}
        w.value = value  # must not raise
        assert ex.last_exception is None, (name, value)
        assert w.value == before, (name, value)
        assert ex.error and ex.error.startswith(w.description + ":"), (name, value, ex.error)
        assert html.escape(ex.error) in ex.message.value
        assert {k: ex.state[k] for k in state} == state
    # a valid move clears the message
    w.value = [v for v in (w.options if hasattr(w, "options") else range(w.max + 1)) if v != w.value][0]
    assert ex.error is None and ex.message.value == ""
    check(ex)


def test_bad_arguments_are_refused_with_the_explorers_name():
    for kwargs in ({"H": 9}, {"K": 1}, {"stride": 3}, {"padding": 2}, {"dilation": None}):
        with pytest.raises(ValueError, match="im2col_explorer"):
            im2col_explorer(**kwargs)


@pytest.mark.parametrize(("name", "value"), [("column", 5), ("stride", 2), ("padding", 0), ("dilation", 2)])
def test_the_picture_changes_when_a_control_moves(name, value):
    ex = im2col_explorer()
    before = bytes(ex.image.value)
    ex.controls[name].value = value
    after = bytes(ex.image.value)
    assert after.startswith(PNG) and after != before


def test_the_chosen_column_its_position_and_its_window_are_outlined():
    ex = im2col_explorer()
    ex.controls["column"].value = 5
    assert len(ex.frame.boxes) == 9 + 1 + 1  # the window's cells, the output position, the column
    texts = [s for s, *_ in ex.frame.all_texts()]
    assert "row r = 3·i + j,  column q = 4·u + v  (4 output columns per row)" in texts and "9 × 16" in texts


def test_cell_numbers_are_drawn_on_a_neutral_fill():
    ex = im2col_explorer()
    for hm in ex.frame.heats:
        colours = {tuple(c) for c in hm["rgb"].reshape(-1, 3)}
        assert colours <= {(255, 255, 255), (236, 236, 236)}, colours  # white, and grey padding


@pytest.mark.parametrize(("H", "K"), [(4, 3), (5, 2), (3, 2)])
def test_no_text_under_9_px(H, K):
    ex = im2col_explorer(H, K)
    for S, pad, D in SETTINGS:
        ex.controls["stride"].value, ex.controls["padding"].value, ex.controls["dilation"].value = S, pad, D
        for s, _x, _y, size_pt, *_ in ex.frame.all_texts():
            assert size_pt * 100 / 72 >= 9, (s, size_pt)


def test_every_setting_fits_the_picture():
    for H, K in [(3, 2), (4, 3), (5, 2), (5, 3)]:
        ex = im2col_explorer(H, K)
        w0, h0 = ex._width, ex._height
        for S, pad, D in SETTINGS:
            ex.controls["stride"].value, ex.controls["padding"].value, ex.controls["dilation"].value = S, pad, D
            assert (ex._width, ex._height) == (w0, h0)  # the picture never jumps
            for hm in ex.frame.heats:
                h, w = hm["rgb"].shape[:2]
                assert hm["x"] + w * hm["cs"] <= w0 and hm["y"] + h * hm["cs"] <= h0


def test_im2col_labels_are_whole_and_the_footer_has_no_raw_subscripts():
    from cnnlib.widgets._raster import Font

    ex = im2col_explorer()
    font = Font.get(9.75)  # a 13-px description label: about 7 px a character
    for name in ("stride", "padding", "dilation"):
        c = ex.controls[name]
        need = font.width(c.description) + 8
        assert need <= float(c.style.description_width.rstrip("px")), (name, c.description, need)
    texts = [s for s, *_ in ex.frame.all_texts()]
    assert not [s for s in texts if "_out" in s or "_in" in s]
    assert any("column q = 4·u + v" in s for s in texts), texts  # H = 4, K = 3, padding 1: W_out = 4

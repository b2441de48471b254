"""The transposed-convolution explorer (notebook 12): its arrays are cnnlib's, its controls never raise."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import cnnlib  # noqa: E402
from cnnlib.widgets import conv_transpose_explorer  # noqa: E402
from cnnlib.widgets._explorer import Explorer  # noqa: E402
from cnnlib.widgets.transposed import ConvTransposeExplorer  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def stamps_by_loops(X, W, S, D, op):
    """Eq. (12.1) with loops, nothing cropped: every X[u, v] adds X[u, v]·W at rows u·S + i·D, columns v·S + j·D."""
    H, Wd = X.shape
    K, L = W.shape
    Yb = np.zeros(((H - 1) * S + D * (K - 1) + 1 + op, (Wd - 1) * S + D * (L - 1) + 1 + op))
    for u, v, i, j in itertools.product(range(H), range(Wd), range(K), range(L)):
        Yb[u * S + i * D, v * S + j * D] += X[u, v] * W[i, j]
    return Yb


def check(ex):
    s = ex.state
    X, W = s["X"], s["W"]
    S, pad, op, D = s["stride"], s["padding"], s["output_padding"], s["dilation"]
    u, v = s["cell"]
    np.testing.assert_array_equal(s["stamp"], X[u, v] * W)
    if op >= max(S, D) or ex.error:
        assert ex.error and ex.error.startswith("conv_transpose2d_forward: ")
        assert "Y" not in s and "Y" not in ex.frame_arrays
        return
    Yb = stamps_by_loops(X, W, S, D, op)
    np.testing.assert_allclose(s["Ybar"], Yb, atol=1e-12)
    Ho, Wo = Yb.shape[0] - 2 * pad, Yb.shape[1] - 2 * pad
    np.testing.assert_allclose(s["Y"], Yb[pad : pad + Ho, pad : pad + Wo], atol=1e-12)
    Y, _ = cnnlib.conv_transpose2d_forward(
        X[None, None], W[None, None], np.zeros(1), stride=S, padding=pad, output_padding=op, dilation=D
    )
    np.testing.assert_array_equal(ex.frame_arrays["Y"], Y[0, 0])
    counts = stamps_by_loops(np.ones(X.shape), np.ones(W.shape), S, D, op)[pad : pad + Ho, pad : pad + Wo]
    np.testing.assert_array_equal(s["counts"], counts)
    assert s["stamp_rows"] == [u * S + i * D for i in range(W.shape[0])]
    assert s["stamp_cols"] == [v * S + j * D for j in range(W.shape[1])]
    assert f"= {Ho} (eq. 12.2)" in ex.readout_text


def test_it_is_an_explorer_named_by_its_class():
    assert conv_transpose_explorer is ConvTransposeExplorer and issubclass(ConvTransposeExplorer, Explorer)
    ex = conv_transpose_explorer()
    assert ex.error is None and bytes(ex.image.value).startswith(PNG)
    assert {"stride", "padding", "output_padding", "dilation", "row", "column", "X[0,0]", "W[2,2]"} <= set(ex.controls)
    check(ex)
    assert ex.state["Y"].shape == (7, 7)  # (3 - 1)·2 + (3 - 1) + 1
    assert "X's shape" in ex.readout_text


def test_every_setting_and_input_cell():
    ex = conv_transpose_explorer()
    c = ex.controls
    for S, pad, op, D in itertools.product(range(1, 4), range(3), range(3), range(1, 3)):
        c["stride"].value, c["padding"].value, c["output_padding"].value, c["dilation"].value = S, pad, op, D
        for u, v in ((0, 0), (2, 1)):
            c["row"].value, c["column"].value = u, v
            assert ex.last_exception is None
            check(ex)


def test_output_padding_beyond_the_stride_but_below_the_dilation():
    ex = conv_transpose_explorer(stride=1, dilation=2, output_padding=1)
    check(ex)
    assert ex.error is None and "more than X's 3×3" in ex.readout_text


def test_the_checkerboard_counts():
    """Kernel 3, stride 2: rows and columns alternate between one and two stamps; kernel 4 would be even."""
    ex = conv_transpose_explorer(stride=2)
    np.testing.assert_array_equal(ex.state["counts"][0], [1, 1, 2, 1, 2, 1, 1])
    ex2 = conv_transpose_explorer(W=np.ones((2, 2)), stride=2)
    assert (ex2.state["counts"] == 1).all()


def test_edits_are_kept_and_inputs_not_modified():
    X = np.arange(4.0).reshape(2, 2)
    ex = conv_transpose_explorer(X, np.ones((2, 2)))
    ex.controls["X[1,1]"].value = "2,5"
    assert ex.state["X"][1, 1] == 2.5 and X[1, 1] == 3.0
    ex.controls["X[0,0]"].value = "1e6"
    assert ex.state["X"][0, 0] == 1e6
    check(ex)


@pytest.mark.parametrize(
    "kwargs",
    [{"X": np.ones((5, 5))}, {"W": np.ones((4, 4))}, {"stride": 4}, {"padding": 3}, {"output_padding": -1}],
)
def test_bad_arguments_name_the_explorer(kwargs):
    with pytest.raises(ValueError, match="^conv_transpose_explorer: "):
        conv_transpose_explorer(**kwargs)

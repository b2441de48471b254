"""cnnlib.widgets.channels_explorer (notebook 07): several channels and filters, driven programmatically.

Every control is moved by setting ``.value`` (what a reader's slider or dropdown does);
after each move the numbers behind every heat map must equal cnnlib's loop version of the
convolution backward pass for the state shown, the explained entry's route must add up to
that entry, and nothing may escape as an exception.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import cnnlib  # noqa: E402
from cnnlib import widgets as W  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _example(seed=7, C=2, F=2, H=6, Wd=6, K=3):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (C, H, Wd)).round(2)
    Wk = rng.normal(0, 0.5, (F, C, K, K)).round(2)
    dZ = rng.normal(0, 1, (F, H - K + 1, Wd - K + 1)).round(2)
    return X, Wk, dZ


def check_state(ex):
    """The pictures show cnnlib's loop-version gradients of the current X, W and δZ; the route adds up."""
    assert ex.error is None and ex.last_exception is None, (ex.error, ex.last_exception)
    s, arrays = ex.state, ex.frame_arrays
    X, Wk, dZ = s["X"], s["W"], s["dZ"]
    F, C = Wk.shape[:2]
    _, cache = cnnlib.conv2d_forward_naive(X[None], Wk, np.zeros(F))
    dX, dW, db = cnnlib.conv2d_backward_naive(dZ[None], cache)
    for c in range(C):
        np.testing.assert_array_equal(arrays[f"X[{c}]"], X[c])
        np.testing.assert_allclose(arrays[f"dX[{c}]"], dX[0, c], rtol=1e-12, atol=1e-12)
    for f, c in itertools.product(range(F), range(C)):
        np.testing.assert_array_equal(arrays[f"W[{f},{c}]"], Wk[f, c])
        np.testing.assert_allclose(arrays[f"dW[{f},{c}]"], dW[f, c], rtol=1e-12, atol=1e-12)
    for f in range(F):
        np.testing.assert_array_equal(arrays[f"dZ[{f}]"], dZ[f])
    np.testing.assert_allclose(arrays["db"][0], db, rtol=1e-12, atol=1e-12)
    route = s["route"]
    if s["target"] == "dW":
        f, c, i, j = s["index"]
        expected = dW[f, c, i, j]
        # every product pairs channel c of X with filter f's δ
        for (r, q), xv, (u, v), d in route.terms:
            assert xv == X[c, r, q] and d == dZ[f, u, v] and (r - u, q - v) == (i, j)
    else:
        c, x, y = s["index"]
        expected = dX[0, c, x, y]
        for (f, i, j), wv, (g, u, v), d in route.terms:
            assert g == f and wv == Wk[f, c, i, j] and d == dZ[f, u, v] and (u + i, v + j) == (x, y)
    assert np.isclose(route.total, expected)
    assert np.isclose(sum(a * b for _, a, _, b in route.terms), expected)
    assert bytes(ex.image.value).startswith(PNG)


def test_default_state_draws():
    ex = W.channels_explorer()
    check_state(ex)
    assert ex.state["X"].shape == (2, 6, 6) and ex.state["W"].shape == (2, 2, 3, 3)


def test_every_entry_of_dW_and_dX_explained():
    X, Wk, dZ = _example()
    ex = W.channels_explorer(X, Wk, dZ)
    ctl = ex.controls
    for f, c, i, j in itertools.product(range(2), range(2), range(3), range(3)):
        ctl["filter"].value, ctl["channel"].value, ctl["row"].value, ctl["column"].value = f, c, i, j
        assert ex.state["index"] == (f, c, i, j)
        check_state(ex)
    ctl["explain"].value = "dX"
    assert ctl["filter"].disabled and ctl["row"].max == 5 and ctl["column"].max == 5
    for c, x, y in itertools.product(range(2), range(6), range(6)):
        ctl["channel"].value, ctl["row"].value, ctl["column"].value = c, x, y
        assert ex.state["index"] == (c, x, y)
        check_state(ex)
    # a corner pixel is covered by one window per filter: one product per filter
    ctl["row"].value, ctl["column"].value = 0, 0
    assert len(ex.state["route"].terms) == 2
    ctl["explain"].value = "dW"
    assert not ctl["filter"].disabled and ctl["row"].max == 2


def test_every_upstream_choice_and_kernel_edit():
    X, Wk, dZ = _example(seed=3)
    ex = W.channels_explorer(X, Wk, dZ)
    ctl = ex.controls
    options = list(ctl["dZ"].options)
    assert options[0] == "given δZ"
    np.testing.assert_array_equal(ex.state["dZ"], dZ)
    seen = []
    for option in options:
        ctl["dZ"].value = option
        check_state(ex)
        seen.append(ex.state["dZ"].copy())
        assert not np.all(seen[-1] == 0)
    assert np.all(seen[options.index("all ones")] == 1)
    assert np.count_nonzero(seen[options.index("one entry of filter 0")]) == 1
    assert not np.array_equal(seen[1], seen[2])  # two different random draws
    # edit W[1, 0]: the grid shows that kernel, an edit lands in it and changes dX (not dW)
    ctl["dZ"].value = "given δZ"
    ctl["kernel"].value = (1, 0)
    assert ctl["W[2,1]"].number == Wk[1, 0, 2, 1]  # exactly as given: nothing is clipped
    dW_before, dX_before = ex.state["dW"].copy(), ex.state["dX"].copy()
    ctl["W[2,1]"].value = 2.5
    assert ex.state["W"][1, 0, 2, 1] == 2.5
    np.testing.assert_array_equal(ex.state["W"][0], Wk[0])
    np.testing.assert_allclose(ex.state["dW"], dW_before)
    assert not np.allclose(ex.state["dX"][0], dX_before[0])
    np.testing.assert_allclose(ex.state["dX"][1], dX_before[1])  # W[:, 1] unchanged
    check_state(ex)
    # switching back shows W[0, 0] again, untouched
    ctl["kernel"].value = (0, 0)
    assert ctl["W[0,0]"].number == Wk[0, 0, 0, 0]


def test_a_channel_of_zeros_has_no_kernel_gradient_but_an_input_gradient():
    X, Wk, dZ = _example(seed=5)
    ex = W.channels_explorer(X, Wk, dZ)
    ex.controls["pattern 1"].value = "zeros"
    assert ex.controls["pattern 1"].value == "(keep)"
    check_state(ex)
    assert np.all(ex.state["X"][1] == 0)
    assert np.all(ex.state["dW"][:, 1] == 0) and np.any(ex.state["dW"][:, 0] != 0)
    assert np.any(ex.state["dX"][1] != 0)
    for name in W.PATTERNS:
        ex.controls["pattern 0"].value = name
        check_state(ex)


@pytest.mark.parametrize("C, F, K", [(1, 1, 3), (1, 2, 2), (2, 1, 3), (2, 2, 1), (2, 2, 3)])
def test_smaller_layers(C, F, K):
    X, Wk, dZ = _example(seed=11, C=C, F=F, H=5, Wd=4, K=K)
    ex = W.channels_explorer(X, Wk, dZ)
    check_state(ex)
    ex.controls["explain"].value = "dX"
    ex.controls["row"].value, ex.controls["column"].value = 4, 3
    check_state(ex)
    assert ex.controls["filter"].max == F - 1 and ex.controls["channel"].max == C - 1


def test_a_move_sends_a_new_image_and_the_static_figure_matches():
    X, Wk, dZ = _example()
    ex = W.channels_explorer(X, Wk, dZ)
    before = bytes(ex.image.value)
    ex.controls["column"].value = 2
    assert bytes(ex.image.value) != before
    n_figs = len(plt.get_fignums())
    fig = ex.static_figure()
    assert isinstance(fig, Figure)
    w, h = fig.get_size_inches() * fig.dpi
    assert round(w) == ex._width
    assert round(h) > ex._height  # the picture, then the written-out sum under it
    assert len(plt.get_fignums()) == n_figs  # not registered with pyplot
    texts = {t.get_text() for t in fig.findobj(matplotlib.text.Text)}
    assert {"dW[0,1]", "dX[1]", "δZ[0]  filter 0"} <= texts
    footer = [t for t in fig.axes[0].texts if t.get_position()[1] > ex._height]
    assert " ".join(t.get_text() for t in footer) == ex.readout_text
    assert ex.readout_text.startswith("dW[0,0,0,2] = ")


def test_no_figure_leak_and_no_exception_over_many_moves():
    ex = W.channels_explorer()
    n_figs = len(plt.get_fignums())
    rng = np.random.default_rng(0)
    ctl = ex.controls
    for _ in range(60):
        ctl["explain"].value = str(rng.choice(["dW", "dX"]))
        ctl["channel"].value = int(rng.integers(0, 2))
        ctl["row"].value = int(rng.integers(0, ctl["row"].max + 1))
        ctl["column"].value = int(rng.integers(0, ctl["column"].max + 1))
        check_state(ex)
    assert len(plt.get_fignums()) == n_figs
    assert ex.updates > 60


@pytest.mark.parametrize(
    "args, words",
    [
        ((np.zeros((3, 6, 6)), None, None), "1 or 2 channels"),
        ((np.zeros((6, 6)), None, None), "(C, H, W)"),
        ((np.zeros((2, 7, 6)), None, None), "sides 2 to 6"),
        ((np.zeros((2, 6, 6)), np.zeros((2, 1, 3, 3)), None), "C = 2 channels"),
        ((np.zeros((2, 6, 6)), np.zeros((3, 2, 3, 3)), None), "1 or 2 filters"),
        ((np.zeros((2, 6, 6)), np.zeros((2, 2, 4, 4)), None), "kernel size K must be 1 to 3"),
        ((np.zeros((2, 6, 6)), np.zeros((2, 2, 3, 3)), np.zeros((2, 3, 3))), "shape of Z, (2, 4, 4)"),
        ((np.full((2, 6, 6), np.nan), None, None), "finite"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_function(args, words):
    with pytest.raises(ValueError, match="^channels_explorer: ") as info:
        W.channels_explorer(*args)
    assert words in str(info.value)


def test_inputs_are_not_modified():
    X, Wk, dZ = _example()
    copies = [a.copy() for a in (X, Wk, dZ)]
    ex = W.channels_explorer(X, Wk, dZ)
    ex.controls["pattern 0"].value = "zeros"
    ex.controls["W[0,0]"].value = 1.75
    for a, b in zip((X, Wk, dZ), copies):
        np.testing.assert_array_equal(a, b)


def test_listed_in_the_module():
    assert "channels_explorer" in W.__all__
    assert "channels_explorer" in W.__doc__

"""cnnlib.viz: the figures show cnnlib's numbers, use the promised colour scales, and leak nothing.

Every figure is drawn with the Agg backend (tests/conftest.py). The numbers are read back
from the Text artists the figure actually contains, never from the function's inputs.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnnlib  # noqa: E402
import cnnlib.viz as viz
from cnnlib.viz import _output  # noqa: E402
from cnnlib.viz.heatmap import heatmap_of  # noqa: E402
from cnnlib.viz.routes import pool_routes  # noqa: E402

MINUS = "\u2212"

# seed 000: the 5x5 input and the 4x4 delta map after max-pool routing
O = np.array(
    [
        [0.51, 0.9, 0.88, 0.84, 0.05],
        [0.4, 0.62, 0.22, 0.59, 0.1],
        [0.11, 0.2, 0.74, 0.33, 0.14],
        [0.47, 0.01, 0.85, 0.7, 0.09],
        [0.76, 0.19, 0.72, 0.17, 0.57],
    ]
)
D = np.zeros((4, 4))
D[0, 2], D[1, 1], D[2, 1], D[3, 3] = 0.0686, 0.0364, 0.0467, -0.0681


@pytest.fixture(autouse=True)
def _no_leak():
    """Every test closes what it opened: the pyplot figure count is flat across each test."""
    before = set(plt.get_fignums())
    yield
    leaked = set(plt.get_fignums()) - before
    for num_ in leaked:
        plt.close(num_)
    assert not leaked, f"figures left open: {sorted(leaked)}"


def num(text: str) -> float:
    return float(text.replace(MINUS, "-"))


def cell_values(ax) -> np.ndarray:
    """The numbers printed in a heatmap's cells, placed by the text positions (NaN where none)."""
    texts = [t for t in ax.texts if t.get_gid() == "cnnlib-value"]
    assert texts, "no annotated cells"
    cols = [int(round(t.get_position()[0])) for t in texts]
    rows = [int(round(t.get_position()[1])) for t in texts]
    out = np.full((max(rows) + 1, max(cols) + 1), np.nan)
    for r, c, t in zip(rows, cols, texts):
        out[r, c] = num(t.get_text())
    return out


def decimals_of(ax) -> int:
    """The number of decimals shown (the widest among the cells)."""
    texts = [t.get_text() for t in ax.texts if t.get_gid() == "cnnlib-value"]
    return max((len(s.split(".")[1]) if "." in s else 0) for s in texts)


def assert_cells_show(ax, data):
    shown = cell_values(ax)
    assert shown.shape == np.shape(data)
    tol = 0.5 * 10.0 ** (-decimals_of(ax)) + 1e-12
    np.testing.assert_allclose(shown, data, rtol=0, atol=tol)


def heatmap_axes(fig):
    return [ax for ax in fig.axes if heatmap_of(ax) is not None]


def gids(ax, gid):
    return [p for p in ax.patches if p.get_gid() == gid]


# --------------------------------------------------------------------------- heatmap


def test_heatmap_cells_show_the_data_and_signed_data_is_centred_on_zero():
    data = np.array([[0.25, -1.5, 3.0], [0.0, 2.125, -0.75]])
    ax = viz.heatmap(data, title="Z", diverging=True)
    try:
        assert_cells_show(ax, data)
        assert ax.texts[0].get_text() == "0.25"
        im = ax.images[0]
        assert im.norm.vmin == -im.norm.vmax == -3.0  # diverging, symmetric about 0
        assert im.cmap.name.startswith("RdBu_r")
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
        assert ax.get_title() == "Z"
    finally:
        plt.close(ax.figure)


def test_heatmap_exact_zero_and_true_minus():
    ax = viz.heatmap(D, diverging=True)
    try:
        texts = {(int(t.get_position()[1]), int(t.get_position()[0])): t.get_text() for t in ax.texts}
        assert texts[(0, 0)] == "0"
        assert texts[(0, 2)] == "0.0686"
        assert texts[(3, 3)] == MINUS + "0.0681"
    finally:
        plt.close(ax.figure)


def test_heatmap_sequential_for_nonnegative_and_forced_diverging():
    A = np.array([[0.0, 1.0], [2.0, 4.0]])
    ax = viz.heatmap(A)
    assert not ax.images[0].cmap.name.startswith("RdBu")
    assert ax.images[0].norm.vmin == 0.0 and ax.images[0].norm.vmax == 4.0
    plt.close(ax.figure)
    ax = viz.heatmap(A, diverging=True)
    assert ax.images[0].norm.vmin == -4.0 and ax.images[0].norm.vmax == 4.0
    plt.close(ax.figure)
    ax = viz.heatmap(A - 10, diverging=True, vmin=-1, vmax=20)  # a diverging scale stays symmetric
    assert ax.images[0].norm.vmin == -20 and ax.images[0].norm.vmax == 20
    plt.close(ax.figure)


def test_heatmap_text_contrast_follows_the_cell_colour():
    data = np.array([[-5.0, 0.0, 5.0]])
    ax = viz.heatmap(data, diverging=True)
    try:
        colors = [matplotlib.colors.to_hex(t.get_color()) for t in ax.texts if t.get_gid() == "cnnlib-value"]
        assert colors[0] == colors[2] == "#ffffff"  # saturated ends: white text
        assert colors[1] != "#ffffff"  # white-ish centre: dark text
    finally:
        plt.close(ax.figure)


def test_heatmap_highlights_and_rectangles_are_drawn_where_asked():
    ax = viz.heatmap(O, highlight=[(0, 3), (4, 4, "red")], rects=[(0, 1, 4, 4), (1, 0, 2, 2, "#00ff00")])
    try:
        hl = gids(ax, "cnnlib-highlight")
        rc = gids(ax, "cnnlib-rect")
        assert len(hl) == 2 and len(rc) == 2
        # a highlight of cell (r, c) covers x in [c - 0.5, c + 0.5], y in [r - 0.5, r + 0.5]
        x, y = hl[0].get_xy()
        assert 2.5 <= x < 3 and -0.5 <= y < 0 and hl[0].get_width() <= 1
        assert matplotlib.colors.to_hex(hl[1].get_edgecolor()) == "#ff0000"
        x, y = rc[0].get_xy()
        assert 0.5 <= x < 0.6 and -0.5 <= y < -0.4 and 3.9 < rc[0].get_width() <= 4
        assert matplotlib.colors.to_hex(rc[1].get_edgecolor()) == "#00ff00"
    finally:
        plt.close(ax.figure)
    mask = np.zeros((5, 5), bool)
    mask[1, 2] = mask[3, 0] = True
    ax = viz.heatmap(O, highlight=mask)
    assert len(gids(ax, "cnnlib-highlight")) == 2
    plt.close(ax.figure)


def test_heatmap_into_a_given_axes_creates_no_figure_and_1d_is_a_row():
    fig, ax = plt.subplots()
    n = len(plt.get_fignums())
    out = viz.heatmap(np.array([1.0, -2.0, 3.5]), ax=ax, fmt=".1f", colorbar=True, diverging=True)
    assert out is ax and len(plt.get_fignums()) == n
    assert [t.get_text() for t in ax.texts if t.get_gid() == "cnnlib-value"] == ["1.0", MINUS + "2.0", "3.5"]
    assert len(fig.axes) == 2  # the colour bar
    assert "colours:" in fig.get_supxlabel()  # a panel drawn into a figure writes its key
    plt.close(fig)


def test_update_heatmap_changes_numbers_scale_and_overlays_in_place():
    ax = viz.heatmap(np.array([[1.0, 2.0], [3.0, 4.0]]), highlight=[(0, 0)], diverging=True)
    try:
        texts_before = list(ax.texts)
        new = np.array([[-1.0, 0.5], [0.25, -8.0]])
        viz.update_heatmap(ax, new, highlight=[(1, 1)])
        assert list(ax.texts) == texts_before  # same artists, new strings
        assert_cells_show(ax, new)
        assert ax.images[0].norm.vmin == -8.0 and ax.images[0].norm.vmax == 8.0  # symmetric about 0
        assert ax.images[0].cmap.name.startswith("RdBu_r")
        (hl,) = gids(ax, "cnnlib-highlight")
        assert 0.5 <= hl.get_xy()[0] < 1
        with pytest.raises(ValueError, match=r"^update_heatmap: data must have the heatmap's shape"):
            viz.update_heatmap(ax, np.ones((3, 3)))
        _, other = plt.subplots()
        with pytest.raises(TypeError, match=r"^update_heatmap: ax must be an Axes drawn by"):
            viz.update_heatmap(other, new)
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"data": np.ones((2, 2, 2))}, ValueError, "data must be a 2-D array"),
        ({"data": np.ones((0, 3))}, ValueError, "must not be empty"),
        ({"data": [["a", "b"]]}, TypeError, "real numeric array"),
        ({"data": np.ones((2, 2)), "highlight": [(2, 0)]}, ValueError, r"highlight cell \(2, 0\) is outside"),
        ({"data": np.ones((2, 2)), "highlight": [(0.5, 0)]}, TypeError, "must contain ints"),
        ({"data": np.ones((2, 2)), "rects": [(0, 0, 1)]}, TypeError, "rects must be a list"),
        ({"data": np.ones((2, 2)), "rects": [(0, 0, 0, 1)]}, ValueError, "positive height and width"),
        ({"data": np.ones((2, 2)), "fmt": 3}, TypeError, "fmt must be a format string"),
        ({"data": np.ones((2, 2)), "fmt": ".2q"}, ValueError, "cannot format a number"),
        ({"data": np.ones((2, 2)), "cmap": "no-such-map"}, ValueError, "unknown colour map"),
        ({"data": np.ones((2, 2)), "cell_size": -1}, ValueError, "cell_size must be a positive number"),
        ({"data": np.ones((2, 2)), "ax": "axes"}, TypeError, "ax must be a matplotlib Axes"),
    ],
)
def test_heatmap_bad_input(kwargs, exc, match):
    n = len(plt.get_fignums())
    data = kwargs.pop("data")
    with pytest.raises(exc, match=match) as info:
        viz.heatmap(data, **kwargs)
    assert str(info.value).startswith("heatmap:")
    assert len(plt.get_fignums()) == n  # nothing half-built is left behind


def test_heatmap_nan_cells_are_marked_and_labelled():
    ax = viz.heatmap(np.array([[1.0, np.nan], [-1.0, 2.0]]), diverging=True)
    try:
        labels = [t.get_text() for t in ax.texts if t.get_gid() == "cnnlib-value"]
        assert labels == ["1", "nan", MINUS + "1", "2"]
        # neither grey (a magnitude) nor red or blue (a sign)
        bad = matplotlib.colors.to_hex(ax.images[0].cmap.get_bad())
        assert bad == viz._style.NAN_COLOR
    finally:
        plt.close(ax.figure)


# --------------------------------------------------------------------------- grids


def test_heatmap_grid_two_filters_two_channels_share_one_scale():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((2, 2, 3, 3))
    fig = viz.heatmap_grid(W, title="W", diverging=True)
    try:
        axes = heatmap_axes(fig)
        assert len(axes) == 4
        for k, ax in enumerate(axes):
            assert_cells_show(ax, W[k // 2, k % 2])
        a = np.abs(W).max()
        for ax in axes:
            assert ax.images[0].norm.vmin == -a and ax.images[0].norm.vmax == a
        assert len(fig.axes) == 5  # one shared colour bar
        assert axes[0].get_title() == "[:, 0]" and axes[0].get_ylabel() == "[0, :]"
    finally:
        plt.close(fig)


def test_heatmap_grid_wraps_a_long_column_of_kernels():
    K = np.random.default_rng(2).standard_normal((8, 1, 3, 3))
    fig = viz.heatmap_grid(K, diverging=True)
    try:
        axes = heatmap_axes(fig)
        assert [ax.get_title() for ax in axes] == [f"[{k}, 0]" for k in range(8)]
        for k, ax in enumerate(axes):
            assert_cells_show(ax, K[k, 0])
        rows = sorted({round(ax.get_position().y0, 3) for ax in axes})
        assert len(rows) == 2  # 8 panels in two rows of four
        assert fig.get_size_inches()[1] < 6
    finally:
        plt.close(fig)


@pytest.mark.parametrize("shared_scale", [True, False])
def test_heatmap_grid_numbers_have_one_font_size_in_every_panel(shared_scale):
    # chapter 07's dW grid: one row of panels with long labels (-0.125), one with short ones (2)
    long_row = np.array([[-0.125, 0.375, -1.625], [0.25, -0.875, 1.125], [-2.375, 0.5, 0.0625]])
    short_row = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 2.0], [0.0, 1.0, 4.0]])
    dW = np.stack([np.stack([long_row, long_row.T]), np.stack([short_row, short_row.T])])  # (2, 2, 3, 3)
    fig = viz.heatmap_grid(dW, shared_scale=shared_scale, diverging=True)
    try:
        axes = heatmap_axes(fig)
        assert len(axes) == 4
        sizes = [{t.get_fontsize() for t in ax.texts} for ax in axes]
        assert all(len(s) == 1 for s in sizes), sizes  # one size inside a panel
        assert len(set().union(*sizes)) == 1, sizes  # and the same in every panel
        # the common size is the one that fits the longest labels: that of a grid of long labels only
        all_long = np.stack([np.stack([long_row, long_row.T])] * 2)
        ref = viz.heatmap_grid(all_long, shared_scale=shared_scale, diverging=True)
        try:
            ref_sizes = {t.get_fontsize() for ax in heatmap_axes(ref) for t in ax.texts}
        finally:
            plt.close(ref)
        assert sizes[0] == ref_sizes
    finally:
        plt.close(fig)


def test_heatmap_grid_labels_unshared_scales_and_errors():
    maps = np.abs(np.random.default_rng(1).standard_normal((1, 3, 2, 2)))
    maps[0, 2] *= 10
    fig = viz.heatmap_grid(maps, shared_scale=False, col_labels=["a", "b", "c"], row_labels=["n = 0"])
    try:
        axes = heatmap_axes(fig)
        assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
        assert axes[0].images[0].norm.vmax != axes[2].images[0].norm.vmax
        assert len(fig.axes) == 3  # no colour bar
    finally:
        plt.close(fig)
    for arrays, kw, match in [
        (np.ones(3), {}, "arrays must be 4-D"),
        (np.ones((2, 2, 2, 2)), {"row_labels": ["x"]}, "row_labels must be a list of 2 labels"),
        (np.ones((9, 9, 2, 2)), {}, "at most 64 panels"),
    ]:
        with pytest.raises(ValueError, match=match) as info:
            viz.heatmap_grid(arrays, **kw)
        assert str(info.value).startswith("heatmap_grid:")


# --------------------------------------------------------------------------- gradient flow


def seed002_pipeline(seed=3):
    """Seed 002's network on a random 6x6 input, computed with cnnlib."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (1, 1, 6, 6))
    W1, B1 = rng.normal(0, 0.5, (1, 1, 3, 3)), np.array([0.1])
    W2, B2, Y = rng.normal(0, 0.5, (1, 4)), np.array([0.05]), np.array([[1.0]])
    Z1, k1 = cnnlib.conv2d_forward(X, W1, B1)
    A1, k2 = cnnlib.relu_forward(Z1)
    P1, k3 = cnnlib.maxpool2d_forward(A1)
    F, k4 = cnnlib.flatten_forward(P1)
    Z2, k5 = cnnlib.dense_forward(F, W2, B2)
    A2, k6 = cnnlib.sigmoid_forward(Z2)
    L, dA2 = cnnlib.binary_cross_entropy(A2, Y)
    dZ2 = cnnlib.sigmoid_backward(dA2, k6)
    dF, _, _ = cnnlib.dense_backward(dZ2, k5)
    dP1 = cnnlib.flatten_backward(dF, k4)
    dA1 = cnnlib.maxpool2d_backward(dP1, k3)
    dZ1 = cnnlib.relu_backward(dA1, k2)
    dX, _, _ = cnnlib.conv2d_backward(dZ1, k1)
    values = {"X": X, "Z1": Z1, "A1": A1, "P1": P1, "F": F, "Z2": Z2, "A2": A2, "L": L, "Y": Y}
    grads = {"X": dX, "Z1": dZ1, "A1": dA1, "P1": dP1, "F": dF, "Z2": dZ2, "A2": dA2}
    return values, grads


def flow_panels(fig):
    """{title: Axes} for the titled (first-channel) panels of a flow strip."""
    return {ax.get_title(): ax for ax in heatmap_axes(fig) if ax.get_title()}


def test_seed002_flow_shows_every_stage_and_gradient():
    values, grads = seed002_pipeline()
    fig = viz.seed002_flow(values, grads)
    try:
        panels = flow_panels(fig)
        expected = {
            "X  6\u00d76": values["X"][0, 0],
            "Z1  4\u00d74": values["Z1"][0, 0],
            "P1  2\u00d72": values["P1"][0, 0],
            "F  4": values["F"],
            "A2 = \u0177": values["A2"],
            "L": np.array([[values["L"]]]),
            "\u03b4X": grads["X"][0, 0],
            "\u03b4Z1": grads["Z1"][0, 0],
            "\u03b4A1": grads["A1"][0, 0],
            "\u03b4F": grads["F"],
            "\u03b4A2": grads["A2"],
            "\u03b4L": np.ones((1, 1)),
        }
        for title, data in expected.items():
            assert title in panels, (title, sorted(panels))
            assert_cells_show(panels[title], np.reshape(data, cell_values(panels[title]).shape))
        ops = [t.get_text() for t in fig.texts if t.get_gid() == "cnnlib-op"]
        assert ops == [
            "conv W1 + B1",
            "ReLU",
            "max-pool 2\u00d72",
            "flatten",
            "F\u00b7W2 + B2",
            "sigmoid",
            "BCE, Y = 1",
        ]
        # gradients are drawn on a scale centred on 0
        im = panels["\u03b4Z1"].images[0]
        assert im.norm.vmin == -im.norm.vmax
        assert fig.get_size_inches()[0] <= viz.MAX_WIDTH + 0.5
    finally:
        plt.close(fig)


def test_update_flow_redraws_in_place():
    values, grads = seed002_pipeline(3)
    fig = viz.seed002_flow(values, grads)
    try:
        n_texts = sum(len(ax.texts) for ax in fig.axes)
        values2, grads2 = seed002_pipeline(4)
        assert viz.update_flow(fig, values2, grads2) is fig
        panels = flow_panels(fig)
        assert_cells_show(panels["\u03b4Z1"], grads2["Z1"][0, 0])
        assert_cells_show(panels["X  6\u00d76"], values2["X"][0, 0])
        assert sum(len(ax.texts) for ax in fig.axes) == n_texts
        with pytest.raises(ValueError, match="^update_flow: values is missing"):
            viz.update_flow(fig, {"X": values2["X"]})
    finally:
        plt.close(fig)


def test_seed003_flow_channels_share_a_scale_and_yhat_gradient():
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, (1, 2, 6, 6))
    W, b = rng.normal(0, 0.4, (2, 2, 3, 3)), np.array([0.0, 0.1])
    Z, q1 = cnnlib.conv2d_forward(X, W, b)
    A, q2 = cnnlib.relu_forward(Z)
    P, q3 = cnnlib.maxpool2d_forward(A)
    p, q4 = cnnlib.flatten_forward(P)
    s, q5 = cnnlib.dense_forward(p, rng.normal(0, 0.4, (3, 8)), np.zeros(3))
    y = np.eye(3)[[2]]
    L, ds = cnnlib.softmax_cross_entropy(s, np.array([2]))
    yhat = cnnlib.softmax(s)
    fig = viz.seed003_flow({"X": X, "Z": Z, "A": A, "P": P, "p": p, "s": s, "yhat": yhat, "y": y, "L": L, "ds": ds})
    try:
        z_axes = [ax for ax in heatmap_axes(fig) if ax.get_ylabel() in ("[0]", "[1]")]
        assert len(z_axes) == 2 * 4  # X, Z, A, P have two channels each
        panels = flow_panels(fig)
        assert_cells_show(panels["\u03b4s = \u0177 \u2212 y"], ds)
        assert_cells_show(panels["\u03b4\u0177"], np.where(y == 1, -1 / yhat, 0))
        ops = [t.get_text() for t in fig.texts if t.get_gid() == "cnnlib-op"]
        assert ops[-1] == "cross-entropy,\ny = 2"
        # the two channels of Z share one colour scale
        zs = [ax for ax in heatmap_axes(fig) if ax.get_title() == "Z  2\u00d74\u00d74"]
        z0 = zs[0].images[0].norm
        assert (z0.vmin, z0.vmax) == (-np.abs(Z).max(), np.abs(Z).max())
    finally:
        plt.close(fig)


def test_gradient_flow_generic_and_bad_input():
    fig = viz.gradient_flow([("a", 1.5, -2.0), ("b", np.arange(3.0), None)], ["double"], title="t")
    try:
        panels = flow_panels(fig)
        assert set(panels) == {"a", "\u03b4a", "b  3"}
        assert_cells_show(panels["b  3"], np.arange(3.0)[None])
    finally:
        plt.close(fig)
    n = len(plt.get_fignums())
    with pytest.raises(ValueError, match=r"^gradient_flow: ops must be a list of 1 operation names"):
        viz.gradient_flow([("a", 1.0, 1.0), ("b", 1.0, 1.0)], [])
    with pytest.raises(TypeError, match=r"^gradient_flow: stage 0 must be \(name, value, grad\)"):
        viz.gradient_flow([("a", 1.0)], [])
    with pytest.raises(ValueError, match=r"^gradient_flow: stage 'a' value must hold one example"):
        viz.gradient_flow([("a", np.ones((2, 1, 3, 3)), None)], [])
    with pytest.raises(ValueError, match="^seed002_flow: values is missing Z1, A1"):
        viz.seed002_flow({"X": np.ones((6, 6)), "P1": 1, "F": 1, "Z2": 1, "A2": 1, "L": 1})
    with pytest.raises(TypeError, match="^seed003_flow: values must be a dict"):
        viz.seed003_flow([1, 2])
    assert len(plt.get_fignums()) == n


# --------------------------------------------------------------------------- max-pool routes


def reference_winners(A, size, stride):
    """First maximum of each window in row-major order, by plain loops (independent of cnnlib)."""
    H, W = A.shape
    out = {}
    for u in range((H - size) // stride + 1):
        for v in range((W - size) // stride + 1):
            best = None
            for i in range(size):
                for j in range(size):
                    r, c = u * stride + i, v * stride + j
                    if best is None or A[r, c] > A[best]:
                        best = (r, c)
            out[(u, v)] = best
    return out


@settings(max_examples=12, deadline=None)
@given(
    size=st.integers(1, 3),
    stride=st.integers(1, 3),
    H=st.integers(3, 6),
    W=st.integers(3, 6),
    seed=st.integers(0, 2**31),
    ties=st.booleans(),
)
def test_maxpool_routes_route_exactly_what_maxpool2d_backward_routes(size, stride, H, W, seed, ties):
    rng = np.random.default_rng(seed)
    A = rng.integers(0, 3, (H, W)).astype(float) if ties else rng.standard_normal((H, W))
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    dP = rng.standard_normal((Ho, Wo))
    fig = viz.maxpool_routes(A, dP, size=size, stride=stride)
    try:
        _, cache = cnnlib.maxpool2d_forward(A[None, None], size=size, stride=stride)
        dA = cnnlib.maxpool2d_backward(dP[None, None], cache)[0, 0]
        ax_A, ax_P, ax_dA = heatmap_axes(fig)
        assert_cells_show(ax_dA, dA)
        assert_cells_show(ax_P, dP)
        assert_cells_show(ax_A, A)
        # the routes drawn: each dP cell goes to the first maximum of its window ...
        routes = pool_routes(fig)
        winners = reference_winners(A, size, stride)
        assert {src: dst for src, dst, _ in routes} == winners
        # ... and accumulating the routed values gives maxpool2d_backward exactly
        acc = np.zeros_like(A)
        for (u, v), (r, c), d in routes:
            assert d == dP[u, v]
            acc[r, c] += d
        np.testing.assert_allclose(acc, dA, rtol=0, atol=1e-12)
        # every winner is outlined in dA, in the colour of its dP cells
        dA_outlines = {
            (round(p.get_y() + 0.57), round(p.get_x() + 0.57)): matplotlib.colors.to_hex(p.get_edgecolor())
            for p in gids(ax_dA, "cnnlib-winner")
        }
        assert set(dA_outlines) == set(winners.values())
        dP_outlines = {
            (round(p.get_y() + 0.57), round(p.get_x() + 0.57)): matplotlib.colors.to_hex(p.get_edgecolor())
            for p in gids(ax_P, "cnnlib-highlight")
        }
        for src, dst in winners.items():
            assert dP_outlines[src] == dA_outlines[dst]
    finally:
        plt.close(fig)


def test_maxpool_routes_overlap_sums_and_ties_are_written_out():
    A = np.array([[1, 3, 2, 1], [4, 9, 0, 1], [1, 1, 5, 6], [2, 0, 5, 1]], float)
    dP = np.array([[0.3, -0.2, 0.4], [0.5, 0.1, -0.3], [0.2, 0.25, 0.15]])
    fig = viz.maxpool_routes(A, dP, size=2, stride=1, arrows=True)
    try:
        note = equation_of(fig)
        line = next(t for t in note.split("\n") if t.startswith("\u03b4A[1,1]"))
        assert line.endswith("= 0.70")  # 9 wins four windows: 0.3 - 0.2 + 0.5 + 0.1
        assert "first maximum in row-major order wins" in note  # the two 5s tie in window (2, 1)
        badges = [t.get_text() for t in heatmap_axes(fig)[0].texts if t.get_gid() == "cnnlib-count"]
        assert "\u00d74" in badges
        assert len(gids(heatmap_axes(fig)[0], "cnnlib-tie")) >= 1
        assert sum(1 for a in fig.artists if a.get_gid() == "cnnlib-route") == 9
    finally:
        plt.close(fig)


def test_maxpool_routes_bad_input_and_given_axes():
    with pytest.raises(ValueError, match=r"^maxpool_routes: dP must have the pooled shape \(2, 2\)"):
        viz.maxpool_routes(np.ones((4, 4)), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"^maxpool_routes: the 5x5 window does not fit"):
        viz.maxpool_routes(np.ones((4, 4)), np.ones((1, 1)), size=5)
    with pytest.raises(ValueError, match=r"^maxpool_routes: A must be a 2-D array"):
        viz.maxpool_routes(np.ones((2, 4, 4)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"^maxpool_routes: A must be finite"):
        viz.maxpool_routes(np.full((2, 2), np.nan), np.ones((1, 1)))
    with pytest.raises(ValueError, match=r"^maxpool_routes: stride must be positive"):
        viz.maxpool_routes(np.ones((4, 4)), np.ones((2, 2)), stride=0)
    fig, axs = plt.subplots(1, 3)
    try:
        assert viz.maxpool_routes(np.eye(4), np.ones((2, 2)), ax=axs) is fig
        with pytest.raises(TypeError, match=r"^maxpool_routes: ax must be None or a sequence of three Axes"):
            viz.maxpool_routes(np.eye(4), np.ones((2, 2)), ax=axs[0])
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- convolution routes


def equation_of(fig) -> str:
    """The written-out sum under a route figure: its bottom label without the colour key that ends it."""
    return fig.get_supxlabel().split("\ncolours:")[0]


def equation_total(eq: str) -> float:
    """The number after the last '=' of a written-out sum (before any '(... left out)' note)."""
    flat = re.sub(r"\s+", " ", eq)
    body = re.sub(r"\(\d+ [^()]* left out\)$", "", flat).strip()
    return num(body.rsplit("=", 1)[1].strip())


def test_conv_dW_route_seed000_writes_the_sum_of_seed000():
    fig = viz.conv_dW_route(O, D, (2, 2), (0, 1))
    try:
        eq = equation_of(fig)
        assert eq.startswith(
            "dW[0,1] = 0.84\u00b70.0686 + 0.22\u00b70.0364 + 0.74\u00b70.0467 + 0.09\u00b7(\u22120.0681) = 0.0941"
        )
        assert "(12 terms with \u03b4 = 0 left out)" in eq
        _, cache = cnnlib.conv2d_forward(O[None, None], np.zeros((1, 1, 2, 2)), np.zeros(1))
        _, dW, _ = cnnlib.conv2d_backward(D[None, None], cache)
        assert abs(equation_total(eq) - dW[0, 0, 0, 1]) <= 5e-5
        ax_X, ax_dZ, ax_dW = heatmap_axes(fig)
        assert_cells_show(ax_X, O)
        assert_cells_show(ax_dZ, D)
        assert_cells_show(ax_dW, dW[0, 0])
        assert len(gids(ax_X, "cnnlib-highlight")) == 4 == len(gids(ax_dZ, "cnnlib-highlight"))
        assert len(gids(ax_dW, "cnnlib-highlight")) == 1
    finally:
        plt.close(fig)


conv_configs = st.fixed_dictionaries(
    {
        "C": st.integers(1, 2),
        "F": st.integers(1, 2),
        "K": st.integers(1, 3),
        "S": st.integers(1, 2),
        "P": st.integers(0, 1),
        "Dl": st.integers(1, 2),
        "extra": st.integers(0, 3),
        "seed": st.integers(0, 2**31),
    }
)


def conv_case(cfg):
    rng = np.random.default_rng(cfg["seed"])
    span = cfg["Dl"] * (cfg["K"] - 1) + 1
    H = max(1, span - 2 * cfg["P"]) + cfg["extra"]
    Ho = (H + 2 * cfg["P"] - span) // cfg["S"] + 1
    X = rng.standard_normal((cfg["C"], H, H))
    W = rng.standard_normal((cfg["F"], cfg["C"], cfg["K"], cfg["K"]))
    dZ = rng.standard_normal((cfg["F"], Ho, Ho))
    kw = {"stride": cfg["S"], "padding": cfg["P"], "dilation": cfg["Dl"]}
    _, cache = cnnlib.conv2d_forward(X[None], W, np.zeros(cfg["F"]), **kw)
    dX, dW, _ = cnnlib.conv2d_backward(dZ[None], cache)
    return rng, X, W, dZ, kw, dX[0], dW


@settings(max_examples=8, deadline=None)
@given(cfg=conv_configs)
def test_conv_dW_route_sum_equals_conv2d_backward(cfg):
    rng, X, W, dZ, kw, _, dW = conv_case(cfg)
    idx = tuple(int(rng.integers(0, n)) for n in W.shape)
    rs = viz.conv_dW_terms(X, dZ, W.shape, idx, **kw)
    assert rs.total == dW[idx]
    np.testing.assert_allclose(sum(a * b for _, a, _, b in rs.terms), dW[idx], rtol=1e-10, atol=1e-12)
    f, c, i, j = idx
    for (xr, xc), a, (u, v), b in rs.terms:  # each term is X[c, u*S + i*D - P, ...] times dZ[f, u, v]
        assert (xr, xc) == (
            u * kw["stride"] + i * kw["dilation"] - kw["padding"],
            v * kw["stride"] + j * kw["dilation"] - kw["padding"],
        )
        assert a == X[c, xr, xc] and b == dZ[f, u, v]
    fig = viz.conv_dW_route(X, dZ, W.shape, idx, **kw)
    try:
        shown = equation_total(equation_of(fig))
        assert abs(shown - dW[idx]) <= 0.5 * 10.0 ** -decimals_of(heatmap_axes(fig)[2]) + 1e-12
        assert_cells_show(heatmap_axes(fig)[2], dW[f, c])
    finally:
        plt.close(fig)


@settings(max_examples=8, deadline=None)
@given(cfg=conv_configs)
def test_conv_dX_route_sum_equals_conv2d_backward(cfg):
    rng, X, W, dZ, kw, dX, _ = conv_case(cfg)
    idx = tuple(int(rng.integers(0, n)) for n in X.shape)
    rs = viz.conv_dX_terms(W, dZ, X.shape, idx, **kw)
    assert rs.total == dX[idx]
    np.testing.assert_allclose(sum(a * b for _, a, _, b in rs.terms), dX[idx], rtol=1e-10, atol=1e-12)
    for (f, i, j), a, (f2, u, v), b in rs.terms:  # u*S + i*D = x + P
        assert f == f2 and a == W[f, idx[0], i, j] and b == dZ[f, u, v]
        assert u * kw["stride"] + i * kw["dilation"] == idx[1] + kw["padding"]
        assert v * kw["stride"] + j * kw["dilation"] == idx[2] + kw["padding"]
    fig = viz.conv_dX_route(W, dZ, X.shape, idx, **kw)
    try:
        axes = heatmap_axes(fig)
        ax_dX = next(ax for ax in axes if ax.get_title().startswith("dX"))
        assert_cells_show(ax_dX, dX[idx[0]])
        shown = equation_total(equation_of(fig))
        assert abs(shown - dX[idx]) <= 0.5 * 10.0 ** -decimals_of(ax_dX) + 1e-12
    finally:
        plt.close(fig)


def test_conv_dX_route_seed000_flipped_kernel_pairs():
    W = np.array([[-0.13, 0.15], [-0.51, 0.62]])
    fig = viz.conv_dX_route(W, D, (5, 5), (1, 2))
    try:
        eq = equation_of(fig)
        assert eq.startswith("dX[1,2] = 0.15\u00b70.0364 + (\u22120.51)\u00b70.0686 = \u22120.0295")
        ax_W, ax_G, ax_dX = heatmap_axes(fig)
        assert_cells_show(ax_W, W[::-1, ::-1])  # the kernel rotated by 180 degrees
        assert [t.get_text() for t in ax_W.get_xticklabels()] == ["1", "0"]
        full = np.pad(D, 1)
        assert_cells_show(ax_G, full)  # dZ zero-padded by K - 1
        (window,) = gids(ax_G, "cnnlib-rect")
        assert round(window.get_x() + 0.5) == 2 and round(window.get_y() + 0.5) == 1  # at (x, y) + (K-1) - P
        # the paired cells carry the same colours in W and in the padded dZ
        cw = sorted(matplotlib.colors.to_hex(p.get_edgecolor()) for p in gids(ax_W, "cnnlib-highlight"))
        cg = sorted(matplotlib.colors.to_hex(p.get_edgecolor()) for p in gids(ax_G, "cnnlib-highlight"))
        assert cw == cg and len(cw) == 2
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: viz.conv_dW_route(O, D, (2, 2), (2, 0)), ValueError, r"index \(0, 0, 2, 0\) is outside dW"),
        (lambda: viz.conv_dW_route(O, D, (3, 3), (0, 0)), ValueError, "dZ must be 3x3"),
        (lambda: viz.conv_dW_route(O, D, (2, 2), (0, 1), stride=0), ValueError, "stride must be positive"),
        (lambda: viz.conv_dW_route(O, D, (6, 6), (0, 0)), ValueError, "kernel spans 6x6"),
        (lambda: viz.conv_dW_route(O, D, (1, 2, 2, 2), (0, 0, 0, 0)), ValueError, "does not match X's 1 channel"),
        (lambda: viz.conv_dW_route(O, D, (2, 2), 0), TypeError, "index must be a tuple"),
        (lambda: viz.conv_dW_route(np.ones((2, 1, 5, 5)), D, (2, 2), (0, 0)), ValueError, "one image"),
        (lambda: viz.conv_dW_route(O, D * np.nan, (2, 2), (0, 0)), ValueError, "dZ must be finite"),
    ],
)
def test_conv_dW_route_bad_input(call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call()
    assert str(info.value).startswith("conv_dW_route:")


def test_conv_dX_route_bad_input():
    W = np.ones((2, 2))
    for call, exc, match in [
        (lambda: viz.conv_dX_route(W, D, (5, 5), (5, 0)), ValueError, r"index \(0, 5, 0\) is outside dX"),
        (lambda: viz.conv_dX_route(W, D, (6, 6), (0, 0)), ValueError, "dZ must be 5x5"),
        (lambda: viz.conv_dX_route(np.ones((2, 2, 2)), D, (5, 5), (0, 0)), ValueError, "W must be"),
        (lambda: viz.conv_dX_route(np.ones((1, 2, 2, 2)), D, (1, 5, 5), (0, 0)), ValueError, "does not match W's 2"),
        (lambda: viz.conv_dX_route(W, np.ones((2, 4, 4)), (5, 5), (0, 0)), ValueError, "dZ has 2 filter map"),
        (lambda: viz.conv_dX_route(W, D, "5x5", (0, 0)), TypeError, "input_shape must be a tuple"),
    ]:
        with pytest.raises(exc, match=match) as info:
            call()
        assert str(info.value).startswith("conv_dX_route:")


# --------------------------------------------------------------------------- convolution as a matrix


def test_conv_matrix_figure_colours_each_weight_by_its_kernel_entry():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    fig = viz.conv_matrix_figure(W, (3, 3))
    try:
        ax_W, ax_M = fig.axes[:2]
        M, tie = cnnlib.conv2d_as_matrix(W, (3, 3))
        rgb = ax_M.images[0].get_array()
        kernel_rgb = ax_W.images[0].get_array()
        for r in range(4):
            for c in range(9):
                if tie[r, c] < 0:
                    assert np.allclose(rgb[r, c], 1.0)  # structural zero: blank
                else:
                    i, j = divmod(tie[r, c], 2)
                    assert np.allclose(rgb[r, c], kernel_rgb[i, j])  # the kernel entry's colour
        assert_cells_show(ax_W, W)
        shown = cell_values(ax_M)
        np.testing.assert_array_equal(np.nan_to_num(shown, nan=0.0), M)
        legend = fig.legends[0]
        assert [t.get_text() for t in legend.get_texts()][:4] == [
            "W[0,0] = 1",
            "W[0,1] = 2",
            "W[1,0] = 3",
            "W[1,1] = 4",
        ]
        assert "16 of 36 entries are weights" in ax_M.get_title()
        assert [t.get_text() for t in ax_M.get_yticklabels()] == ["Z[0,0]", "Z[0,1]", "Z[1,0]", "Z[1,1]"]
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match=r"^conv_matrix_figure: the \(dilated\) kernel spans 4x4"):
        viz.conv_matrix_figure(np.ones((4, 4)), (3, 3))
    with pytest.raises(ValueError, match=r"^conv_matrix_figure: W must be one 2-D kernel"):
        viz.conv_matrix_figure(np.ones((2, 2, 2)), (3, 3))


# --------------------------------------------------------------------------- figures in general


def all_figure_calls():
    values, grads = seed002_pipeline()
    return {
        "heatmap": lambda: viz.heatmap(O).figure,
        "heatmap_grid": lambda: viz.heatmap_grid(np.ones((2, 2, 2, 2))),
        "seed002_flow": lambda: viz.seed002_flow(values, grads),
        "maxpool_routes": lambda: viz.maxpool_routes(O[:4, :4], D[:2, :2]),
        "conv_dW_route": lambda: viz.conv_dW_route(O, D, (2, 2), (0, 1)),
        "conv_dX_route": lambda: viz.conv_dX_route(np.ones((2, 2)), D, (5, 5), (1, 2)),
        "conv_matrix_figure": lambda: viz.conv_matrix_figure(np.ones((2, 2)), (3, 3)),
    }


@pytest.mark.parametrize("name", list(all_figure_calls()))
def test_figures_fit_a_column_have_a_white_background_and_do_not_leak(name):
    call = all_figure_calls()[name]
    before = plt.get_fignums()
    with plt.style.context("dark_background"):  # a reader's dark style must not leak into the figures
        fig = call()
    try:
        assert len(plt.get_fignums()) == len(before) + 1
        w, h = fig.get_size_inches()
        assert 1 <= w <= viz.MAX_WIDTH + 0.5 and h <= 14
        assert matplotlib.colors.to_hex(fig.get_facecolor()) == "#ffffff"
        for ax in heatmap_axes(fig):
            assert matplotlib.colors.to_hex(ax.title.get_color()) != "#ffffff" or not ax.get_title()
            for t in ax.get_xticklabels():
                assert matplotlib.colors.to_hex(t.get_color()) == "#111111"
        png = viz.render_png(fig)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        plt.close(fig)
    assert plt.get_fignums() == before


def test_no_label_overlaps_in_the_route_figures():
    """Titles and tick labels of neighbouring panels never overlap (checked on the drawn figure)."""
    for fig in (
        viz.conv_dW_route(O, D, (2, 2), (0, 1)),
        viz.maxpool_routes(O[:4, :4], D[:2, :2]),
        viz.heatmap_grid(np.ones((2, 3, 3, 3))),
    ):
        try:
            fig.canvas.draw()
            r = fig.canvas.get_renderer()
            boxes = [ax.get_tightbbox(r) for ax in heatmap_axes(fig)]
            for a in range(len(boxes)):
                for b in range(a + 1, len(boxes)):
                    overlap = boxes[a].intersection(boxes[a], boxes[b])
                    assert overlap is None or overlap.width < 2 or overlap.height < 2
        finally:
            plt.close(fig)


def test_inputs_are_never_modified():
    rng = np.random.default_rng(9)
    arrays = {"X": rng.standard_normal((5, 5)), "dZ": rng.standard_normal((4, 4)), "W": rng.standard_normal((2, 2))}
    for a in arrays.values():
        a.flags.writeable = False
    copies = {k: v.copy() for k, v in arrays.items()}
    before = set(plt.get_fignums())
    try:
        ax = viz.heatmap(arrays["X"], highlight=[(0, 0)], diverging=True)
        viz.update_heatmap(ax, arrays["X"])
        viz.heatmap_grid(arrays["X"], diverging=True)
        viz.maxpool_routes(arrays["dZ"], arrays["W"])
        viz.conv_dW_route(arrays["X"], arrays["dZ"], (2, 2), (1, 1))
        viz.conv_dX_route(arrays["W"], arrays["dZ"], (5, 5), (2, 2))
        viz.conv_matrix_figure(arrays["W"], (5, 5), padding=1)
        viz.gradient_flow([("X", arrays["X"], arrays["X"])], [], signed=["X"])
    finally:
        for num_ in set(plt.get_fignums()) - before:
            plt.close(num_)
    for k in arrays:
        np.testing.assert_array_equal(arrays[k], copies[k])


def test_figures_display_once_in_a_notebook(monkeypatch):
    """A figure returned as a cell's last expression is shown once, then released from pyplot."""
    IPython = pytest.importorskip("IPython")
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False, metadata=None: shown.append((obj, metadata)))
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "module://matplotlib_inline.backend_inline")
    fig = viz.heatmap_grid(np.eye(2))
    assert fig.number in plt.get_fignums()
    fig._ipython_display_()
    assert len(shown) == 1 and shown[0][0]["image/png"][:4] == b"\x89PNG"
    assert fig.number not in plt.get_fignums()  # the end-of-cell pass will not show it again
    ax = viz.heatmap(np.eye(2))
    ax._ipython_display_()
    assert len(shown) == 2
    assert not plt.get_fignums() or ax.figure.number not in plt.get_fignums()


def test_figures_are_shown_at_twice_their_page_size_with_their_description(monkeypatch):
    """Crisp at 200 % zoom: the PNG has twice the pixels the page gives it; its alt text is its plain text."""
    IPython = pytest.importorskip("IPython")
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False, metadata=None: shown.append((obj, metadata)))
    ax = viz.heatmap(np.array([[1.0, -2.0], [0.5, 0.0]]), title="δZ", diverging=True)
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=100, bbox_inches="tight")  # as the page shows it
    page_png = buf.getvalue()
    ax._ipython_display_()
    plt.close(ax.figure)
    ((data, meta),) = shown
    width, height = _output.png_size(data["image/png"])
    page_w, page_h = _output.png_size(page_png)
    assert meta["image/png"]["width"] == round(width / 2) and meta["image/png"]["height"] == round(height / 2)
    # twice the page size (bbox_inches="tight" trims the margins of both, give or take 3 %)
    assert abs(meta["image/png"]["width"] - page_w) <= 0.03 * page_w
    assert abs(meta["image/png"]["height"] - page_h) <= 0.03 * page_h
    alt = meta["image/png"]["alt"]
    assert alt == data["text/plain"]
    assert alt.startswith("δZ: 2×2, values from −2.0 to 1.0 (signed") and "rows: 1.0, −2.0; 0.5, 0." in alt


def test_describe_sets_a_summary_and_refuses_bad_input():
    fig, axs = viz.subplots(1, 2, figsize=(4, 2), alt="Two panels side by side")
    assert isinstance(fig, viz.BookFigure)
    viz.heatmap(np.eye(2), ax=axs[0], title="I")
    axs[1].plot([3, 2, 1])
    axs[1].set(title="loss", xlabel="epoch")
    text = viz.alt_text(fig)
    assert text.startswith("Two panels side by side. I: 2×2") and text.endswith("“loss” (x: epoch).")
    viz.describe(fig, "Only the summary", panels=False)
    assert viz.alt_text(fig) == "Only the summary."
    viz.update_heatmap(axs[0], 3 * np.eye(2))  # a redrawn panel is described with its new numbers
    viz.describe(fig, "Again", panels=True)
    assert "rows: 3, 0; 0, 3" in viz.alt_text(fig)
    with pytest.raises(TypeError, match="^describe: target must be a matplotlib Figure or Axes, got str"):
        viz.describe("fig", "text")
    with pytest.raises(ValueError, match="^describe: text must be a non-empty string"):
        viz.describe(fig, "  ")
    with pytest.raises(TypeError, match="^alt_text: fig must be a matplotlib Figure, got int"):
        viz.alt_text(3)
    n = len(plt.get_fignums())
    with pytest.raises(ValueError, match="^subplots: alt must be a non-empty string, got ''"):
        viz.subplots(alt="")
    with pytest.raises(ValueError, match="^figure: alt must be a non-empty string, got 3"):
        viz.figure(alt=3)
    with pytest.raises(TypeError, match="^figure: FigureClass is always BookFigure"):
        viz.figure(FigureClass=object)
    assert len(plt.get_fignums()) == n  # no stray figure left behind
    plt.close(fig)


@pytest.mark.parametrize(
    "draw, words",
    [
        (lambda: viz.heatmap_grid(np.ones((2, 2, 2, 2)), title="kernels"), "kernels: 4 heat maps of 2×2"),
        (lambda: viz.maxpool_routes(np.arange(16.0).reshape(4, 4), np.ones((2, 2))), "Max-pool backward (2×2"),
        (lambda: viz.conv_dW_route(np.ones((4, 4)), np.ones((2, 2)), (3, 3), (0, 1)), "Where dW[0,1] comes from"),
        (lambda: viz.conv_dX_route(np.ones((3, 3)), np.ones((2, 2)), (4, 4), (1, 1)), "Where dX[1,1] comes from"),
        (lambda: viz.conv_matrix_figure(np.ones((2, 2)), (3, 3)), "A 2×2 kernel as a 4×9 matrix T"),
        (
            lambda: viz.gradient_flow([("w", 1.0, 2.0), ("z", np.ones((2, 2)), np.ones((2, 2)))], ["·x"]),
            "a gradient-flow strip through w (a number) → z (2×2)",
        ),
    ],
)
def test_every_figure_function_describes_its_figure(draw, words):
    fig = draw()
    assert words in viz.alt_text(fig), viz.alt_text(fig)
    plt.close(fig)


def test_format_number_and_render_png_errors():
    assert viz.format_number(-0.0681, 4) == MINUS + "0.0681"
    assert viz.format_number(0.0, 3) == "0"
    assert viz.format_number(-1e-9, 2) == "0.00"
    assert viz.format_number(1.23e-5, None) == "1.2e" + MINUS + "05"
    with pytest.raises(TypeError, match="^render_png: fig must be a matplotlib Figure"):
        viz.render_png("fig")


def test_update_flow_rejects_other_figures_and_dicts_for_generic_strips():
    fig = viz.gradient_flow([("a", 1.5, -2.0), ("b", np.arange(3.0), None)], ["double"])
    other, _ = plt.subplots()
    try:
        with pytest.raises(TypeError, match="^update_flow: fig must be a figure made by"):
            viz.update_flow(other, [])
        with pytest.raises(TypeError, match="^update_flow: a dict of values only works"):
            viz.update_flow(fig, {"a": 1.0})
        with pytest.raises(ValueError, match="^update_flow: stages must have the figure's names"):
            viz.update_flow(fig, [("a", 1.0, 1.0)])
    finally:
        plt.close(fig)
        plt.close(other)


def test_closed_figures_are_not_kept_alive_by_the_redraw_state():
    """The registries behind update_heatmap / update_flow / pool_routes hold figures weakly."""
    import gc
    import weakref

    values, grads = seed002_pipeline()
    figs = [
        viz.heatmap(O, highlight=[(0, 0)]).figure,
        viz.seed002_flow(values, grads),
        viz.maxpool_routes(O[:4, :4], D[:2, :2]),
        viz.conv_dX_route(np.ones((2, 2)), D, (5, 5), (1, 2)),
    ]
    refs = [weakref.ref(f) for f in figs]
    for f in figs:
        plt.close(f)
    del figs, f
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)


def test_import_cnnlib_does_not_load_viz():
    import subprocess
    import sys

    code = "import sys, cnnlib; print('cnnlib.viz' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_seed000_heatmap_decimals_match_the_seed():
    ax = viz.heatmap(O)
    try:
        texts = [t.get_text() for t in ax.texts if t.get_gid() == "cnnlib-value"]
        assert texts[:5] == ["0.51", "0.90", "0.88", "0.84", "0.05"]
        assert all(re.fullmatch(r"\d\.\d\d", s) for s in texts)
    finally:
        plt.close(ax.figure)


# --------------------------------------------------------------------------- one colour language, by meaning


def test_colour_rule_in_style_is_shared_by_figures_and_explorers():
    from cnnlib.viz import _style

    assert _style.colour_limits([1.0, -3.0, np.nan, np.inf], signed=True) == (-3.0, 3.0)
    assert _style.colour_limits([2.0, 0.5, -np.inf], signed=False) == (0.0, 2.0)
    assert _style.colour_limits(np.zeros(3), signed=True) == (-1.0, 1.0)
    assert _style.colour_limits(np.zeros(3), signed=False) == (0.0, 1.0)
    assert _style.colour_limits([5.0], signed=True, vmin=-1, vmax=20) == (-20.0, 20.0)
    assert _style.colour_limits([5.0], signed=False, vmax=10) == (0.0, 10.0)
    assert _style.cmap_for(True).name.startswith("RdBu_r")
    # the sequential map is a grey ramp: no hue shared with either side of the diverging map
    greys = _style.cmap_for(False)(np.linspace(0, 1, 11))[:, :3]
    np.testing.assert_allclose(greys, greys[:, :1].repeat(3, axis=1), atol=1e-9)
    assert np.all(np.diff(greys[:, 0]) < 0)  # light to dark
    px = _style.rgb(np.array([[-2.0, 0.0, 2.0, np.nan]]), signed=True)
    assert px.dtype == np.uint8 and px.shape == (1, 4, 3)
    assert px[0, 0, 2] > px[0, 0, 0] and px[0, 2, 0] > px[0, 2, 2]  # blue negative, red positive
    assert tuple(px[0, 3]) == tuple(round(255 * c) for c in matplotlib.colors.to_rgb(_style.NAN_COLOR))
    # a figure draws the colours rgb() paints
    data = np.array([[0.0, 0.756], [0.3, 1.0]])
    ax = viz.heatmap(data)
    try:
        im = ax.images[0]
        drawn = (np.asarray(im.cmap(im.norm(data)))[..., :3] * 255).round()
        np.testing.assert_allclose(drawn, _style.rgb(data, signed=False), atol=1)
    finally:
        plt.close(ax.figure)


@pytest.mark.parametrize(
    "call, prefix",
    [
        (lambda: viz.heatmap(np.array([[1.0, -0.5]])), "heatmap: data has negative entries (min \u22120.5)"),
        (lambda: viz.heatmap(np.array([[1.0, -0.5]]), diverging=False, cmap="viridis"), "heatmap: data has"),
        (lambda: viz.heatmap_grid(-np.ones((2, 2, 2, 2))), "heatmap_grid: arrays has negative entries"),
        (
            lambda: viz.gradient_flow([("Z", -np.ones((2, 2)), None)], []),
            "gradient_flow: stage 'Z' value has negative entries",
        ),
        (lambda: viz.conv_dW_route(-O, D, (2, 2), (0, 1), signed_input=False), "conv_dW_route: X has negative"),
        (lambda: viz.maxpool_routes(-O[:4, :4], D[:2, :2], signed_input=False), "maxpool_routes: A has negative"),
    ],
)
def test_a_negative_entry_in_a_non_negative_quantity_raises(call, prefix):
    n = len(plt.get_fignums())
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(prefix)
    assert "non-negative quantity is drawn on the sequential scale" in str(info.value)
    assert len(plt.get_fignums()) == n


def test_update_heatmap_keeps_the_meaning_it_was_drawn_with():
    ax = viz.heatmap(np.array([[1.0, 2.0]]))
    try:
        with pytest.raises(ValueError, match=r"^update_heatmap: data has negative entries \(min \u22121\)"):
            viz.update_heatmap(ax, np.array([[-1.0, 2.0]]))
        viz.update_heatmap(ax, np.array([[3.0, 6.0]]))
        assert (ax.images[0].norm.vmin, ax.images[0].norm.vmax) == (0.0, 6.0)  # grey from 0, not from 3
    finally:
        plt.close(ax.figure)


def test_colours_follow_meaning_not_data_in_the_flows():
    """The same 0.756 gets one colour: Z1 (signed) is diverging even when all positive, A1 is grey."""
    values, grads = seed002_pipeline()
    values = dict(values, Z1=np.abs(values["Z1"]) + 0.1)  # an all-positive pre-activation is still signed
    values["A1"] = values["Z1"]
    fig = viz.seed002_flow(values, grads)
    try:
        panels = flow_panels(fig)
        z1 = next(ax for t, ax in panels.items() if t.startswith("Z1"))
        a1 = next(ax for t, ax in panels.items() if t.startswith("A1"))
        p1 = next(ax for t, ax in panels.items() if t.startswith("P1"))
        assert z1.images[0].cmap.name.startswith("RdBu_r") and z1.images[0].norm.vmin == -z1.images[0].norm.vmax
        for ax in (a1, p1):
            assert ax.images[0].cmap.name.startswith("cnnlib_sequential") and ax.images[0].norm.vmin == 0
        for title, ax in panels.items():
            if title.startswith("\u03b4") and ax.images[0].cmap.name != "cnnlib_neutral":  # not a single number
                assert ax.images[0].cmap.name.startswith("RdBu_r"), title  # every gradient is signed
        x = next(ax for t, ax in panels.items() if t.startswith("X"))
        assert x.images[0].cmap.name.startswith("cnnlib_sequential")  # pixels >= 0
        key = fig.get_supxlabel().replace("\n", " ")
        assert "red + / blue \u2212" in key and "grey = magnitude" in key
    finally:
        plt.close(fig)
    # a signed input (standardised) is diverging by default, and by choice
    values, grads = seed002_pipeline()
    values["X"] = values["X"] - 0.5
    for kw in ({}, {"signed_input": True}):
        fig = viz.seed002_flow(values, grads, **kw)
        try:
            x = next(ax for t, ax in flow_panels(fig).items() if t.startswith("X"))
            assert x.images[0].cmap.name.startswith("RdBu_r")
        finally:
            plt.close(fig)
    with pytest.raises(ValueError, match=r"^seed002_flow: values is missing"):
        viz.seed002_flow({"X": values["X"]})
    with pytest.raises(ValueError, match=r"^gradient_flow: signed names stages that are not in the strip"):
        viz.gradient_flow([("a", np.ones((2, 2)), None)], [], signed=["b"])


def test_route_inputs_follow_signed_input_and_kernels_are_signed():
    fig = viz.conv_dW_route(O, D, (2, 2), (0, 1))
    try:
        ax_X, ax_dZ, ax_dW = heatmap_axes(fig)
        assert ax_X.images[0].cmap.name.startswith("cnnlib_sequential")
        assert ax_dZ.images[0].cmap.name.startswith("RdBu_r") and ax_dW.images[0].cmap.name.startswith("RdBu_r")
    finally:
        plt.close(fig)
    fig = viz.conv_dW_route(O - 0.5, D, (2, 2), (0, 1))
    try:
        assert heatmap_axes(fig)[0].images[0].cmap.name.startswith("RdBu_r")
        assert "colours: red + / blue \u2212 (signed, white = 0)" in fig.get_supxlabel().replace("\n", " ")
    finally:
        plt.close(fig)
    fig = viz.conv_dX_route(np.ones((2, 2)), D, (5, 5), (1, 2))  # an all-positive kernel is still signed
    try:
        assert all(ax.images[0].cmap.name.startswith("RdBu_r") for ax in heatmap_axes(fig))
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", list(all_figure_calls()))
def test_every_figure_names_its_colour_scales(name):
    fig = all_figure_calls()[name]()
    try:
        if name == "conv_matrix_figure":  # colours name kernel entries: the legend is the key
            assert fig.legends
        else:
            assert "colours:" in fig.get_supxlabel()
    finally:
        plt.close(fig)


def test_a_strip_keeps_its_numbers_with_fewer_decimals_rather_than_dropping_them():
    g = np.random.default_rng(3).uniform(-0.05, 0.05, (6, 6))
    g[0, 0] = -0.0123  # the widest label at full precision: 7 characters
    fig = viz.gradient_flow(
        [("a", np.abs(g), g), ("b", np.abs(g), g), ("c", np.abs(g), g)], ["op", "op"], max_width=4.0
    )
    try:
        flow = viz.flow._FLOWS[fig]
        panel = flow.panels[0][1][0]  # the first stage's gradient panel
        labels = [t.get_text() for t in panel.texts]
        from cnnlib.viz.heatmap import fontsize_for

        assert fontsize_for(flow.cell, 7) < 9 * 72 / 100  # "−0.0123" would not fit these cells
        assert len(labels) == 36 and labels[0].startswith(MINUS + "0.01")  # every number is shown ...
        decimals = {len(t.split(".")[-1]) for t in labels if "." in t}
        assert len(decimals) == 1 and 0 < decimals.pop() < 4  # ... with one, smaller number of decimals
        assert panel.fontsize >= 9 * 72 / 100
    finally:
        plt.close(fig)


def test_route_pictures_write_the_names_they_are_given():
    A = np.array([[1.0, 3.0, 0.0, 2.0], [3.0, 0.0, 1.0, 0.5]])
    fig = viz.maxpool_routes(A, np.array([[1.0, -2.0]]), names=("A1", "P1"))
    try:
        titles = [ax.get_title() for ax in fig.axes]
        assert titles[0].startswith("A1:") and titles[1].startswith("\u03b4P1") and titles[2].startswith("\u03b4A1")
    finally:
        plt.close(fig)
    fig = viz.conv_dW_route(O, D, (2, 2), (0, 1), names=("X", "Z1", "W1"))
    try:
        assert [ax.get_title() for ax in fig.axes][1:] == ["\u03b4Z1", "dW1"]
        assert fig.get_supxlabel().startswith("dW1[0,1] = ")
    finally:
        plt.close(fig)
    with pytest.raises(TypeError, match=r"^maxpool_routes: names must be a tuple of 2 strings"):
        viz.maxpool_routes(A, np.array([[1.0, -2.0]]), names="A1")
    with pytest.raises(TypeError, match=r"^conv_dW_route: names must be a tuple of 3 strings"):
        viz.conv_dW_route(O, D, (2, 2), (0, 1), names=("X", "Z"))


def test_a_figure_composed_of_heatmap_panels_names_its_scales():
    """``heatmap(ax=...)`` rewrites its figure's key: it names every scale drawn, and only those."""
    fig, axs = plt.subplots(1, 2, layout="constrained")
    try:
        viz.heatmap(O, ax=axs[0], diverging=False)
        key = fig.get_supxlabel().replace("\n", " ")
        assert "grey = magnitude" in key and "red + / blue" not in key
        viz.heatmap(D, ax=axs[1], diverging=True)
        key = fig.get_supxlabel().replace("\n", " ")
        assert "grey = magnitude" in key and "red + / blue \u2212 (signed, white = 0)" in key
    finally:
        plt.close(fig)
    # a figure whose key carries notes (a route's sums) keeps them when a panel is added
    fig = viz.conv_dW_route(O, D, (2, 2), (0, 1))
    try:
        notes = fig.get_supxlabel().split("\ncolours:")[0]
        extra = fig.add_axes([0.9, 0.9, 0.05, 0.05])
        viz.heatmap(np.ones((1, 1)), ax=extra, diverging=False)
        assert fig.get_supxlabel().startswith(notes) and "colours:" in fig.get_supxlabel()
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- one number format


def test_a_format_spec_keeps_the_book_signs():
    from cnnlib._format import Formatter

    f = Formatter("heatmap", ".1f", np.zeros(1))
    assert [f(v) for v in (-1.25, -0.04, 0.0, 2.0)] == [MINUS + "1.2", "0.0", "0.0", "2.0"]
    assert Formatter("heatmap", "{:.1e}", np.zeros(1))(-0.00123) == MINUS + "1.2e" + MINUS + "03"
    ax = viz.heatmap(np.array([[-1.5, 0.25]]), fmt=".1f", diverging=True)
    try:
        assert [t.get_text() for t in ax.texts] == [MINUS + "1.5", "0.2"]
    finally:
        plt.close(ax.figure)


def test_printed_arrays_follow_the_book_number_format():
    """``cnnlib.set_printoptions``: no trailing ``.``, a true minus, zero as 0, aligned columns."""
    import cnnlib

    saved = np.get_printoptions()
    try:
        cnnlib.set_printoptions(precision=4)
        text = str(np.array([[46.0, 3.5, -0.25], [0.0, -0.0, 1e-9], [0.0625, -0.12345, np.nan]]))
        rows = text.replace("[", " ").replace("]", " ").splitlines()
        assert [r.split() for r in rows] == [
            ["46", "3.5", MINUS + "0.25"],
            ["0", "0", "0"],
            ["0.0625", MINUS + "0.1235", "nan"],
        ]
        assert "." + " " not in text and "-" not in text and "46." not in text
        ends = {len(r.rstrip()) for r in rows}  # right-aligned: every row ends in the same column
        assert len(ends) == 1
        assert str(np.arange(3)) == "[0 1 2]"  # integer arrays as NumPy prints them
        with pytest.raises(ValueError, match=r"^set_printoptions: precision must be an int"):
            cnnlib.set_printoptions(precision=-1)
    finally:
        np.set_printoptions(**saved)


def test_one_number_format_in_figures_and_explorers():
    from cnnlib._format import auto_decimals, cell_label, cell_labels, format_number

    cases = {
        -0.999: MINUS + "0.999",
        0.0625: "0.0625",
        1e-5: "1e" + MINUS + "05",
        12345.0: "12345",
        -0.0: "0",
        np.nan: "nan",
        np.inf: "inf",
        -np.inf: MINUS + "inf",
    }
    for v, label in cases.items():
        assert cell_label(v) == label, v
        assert format_number(v, auto_decimals(np.array([v]))) == label, v
    for v in np.concatenate([np.linspace(-2, 2, 81), [-0.999, 0.0625, -0.0036, 9.996, 99.96]]):
        s = cell_label(v)
        assert not s.endswith(".") and not re.match(r"^\u2212?\.", s) and "-" not in s, s
    # an explorer's labels of an array are a figure's labels of it
    data = np.array([[-0.999, 0.0625], [0.0, 12.5]])
    ax = viz.heatmap(data, diverging=True)
    try:
        shown = [t.get_text() for t in ax.texts if t.get_gid() == "cnnlib-value"]
        assert shown == [s for row in cell_labels(data) for s in row]
        assert shown == [MINUS + "1.0", "0.1", "0", "12.5"]  # one decimal for the whole array
    finally:
        plt.close(ax.figure)


# --------------------------------------------------------------------------- no text under 9 px


def typical_figures():
    rng = np.random.default_rng(5)
    values, grads = seed002_pipeline()
    W3 = rng.standard_normal((3, 3))
    return {
        "heatmap 3x3": lambda: viz.heatmap(O[:3, :3]).figure,
        "heatmap 16x16 with colour bar": lambda: (
            viz.heatmap(rng.standard_normal((16, 16)), diverging=True, colorbar=True).figure
        ),
        "digit 28x28": lambda: viz.heatmap(rng.uniform(0, 1, (28, 28))).figure,
        "heatmap 40x8": lambda: viz.heatmap(rng.uniform(0, 1, (40, 8))).figure,
        "grid of 24 kernels": lambda: viz.heatmap_grid(rng.standard_normal((4, 6, 3, 3)), diverging=True),
        "grid of 64 maps": lambda: viz.heatmap_grid(rng.uniform(0, 1, (8, 8, 5, 5))),
        "seed002 flow": lambda: viz.seed002_flow(values, grads),
        "maxpool routes": lambda: viz.maxpool_routes(
            rng.uniform(0, 1, (8, 8)), rng.standard_normal((4, 4)), arrows=True
        ),
        "dW route": lambda: viz.conv_dW_route(rng.uniform(0, 1, (8, 8)), rng.standard_normal((6, 6)), (3, 3), (1, 1)),
        "dX route": lambda: viz.conv_dX_route(
            rng.standard_normal((2, 1, 3, 3)), rng.standard_normal((2, 3, 3)), (1, 7, 7), (0, 2, 2), stride=2
        ),
        "chapter 02 matrix": lambda: viz.conv_matrix_figure(W3, (5, 5)),
        "chapter 08 matrix": lambda: viz.conv_matrix_figure(W3, (6, 6), stride=2),
        "large matrix": lambda: viz.conv_matrix_figure(W3, (9, 9)),
    }


@pytest.mark.parametrize("name", list(typical_figures()))
def test_no_text_is_smaller_than_9_px_in_a_notebook(name):
    # a notebook shows a figure as PNG at its dpi: matplotlib's figure.dpi, which the inline backend keeps
    from matplotlib.text import Text

    fig = typical_figures()[name]()
    try:
        fig.canvas.draw()
        assert fig.dpi == matplotlib.rcParams["figure.dpi"] == 100
        sizes = {
            (t.get_text(), t.get_fontsize() * fig.dpi / 72)
            for t in fig.findobj(Text)
            if t.get_visible() and t.get_text()
        }
        small = sorted((px, s) for s, px in sizes if px < 9)
        assert not small, small[:5]
    finally:
        plt.close(fig)


def test_a_description_lists_numbers_only_while_it_stays_short():
    fig, axs = viz.subplots(1, 2, figsize=(5, 2), alt="Two maps")
    viz.heatmap(np.arange(9.0).reshape(3, 3), ax=axs[0], title="small")
    viz.heatmap(np.ones((5, 5)), ax=axs[1], title="ones")
    assert "rows: 0, 1, 2; 3, 4, 5; 6, 7, 8" in viz.alt_text(fig)  # 34 cells in all: numbers written out
    viz.heatmap(np.ones((6, 6)), ax=axs[1], title="more ones")
    text = viz.alt_text(fig)  # 45 cells
    assert "rows:" in text
    fig2, axs2 = viz.subplots(1, 3, figsize=(6, 2), alt="Three maps")
    for ax in axs2:
        viz.heatmap(np.ones((5, 5)), ax=ax, title="ones")  # 75 cells in all: ranges only
    text = viz.alt_text(fig2)
    assert "rows:" not in text and text.count("ones: 5×5, every value 1 (grey from 0).") == 3
    plt.close(fig)
    plt.close(fig2)

"""Every text of the figures, except the numbers in the heat-map cells, has at least 4.5:1 contrast
against the white figure (WCAG's bar for text). The cell numbers are black or white by the cell's
luminance (``text_color``, tested with the heat maps); outline colours never colour text.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from test_viz import D, O, all_figure_calls, seed002_pipeline, typical_figures  # noqa: E402

import cnnlib.viz as viz  # noqa: E402
from cnnlib.viz._style import INK, MUTED, relative_luminance  # noqa: E402
from cnnlib.viz.flow import _GRAD_INK  # noqa: E402


def contrast(colour) -> float:
    return 1.05 / (float(relative_luminance(np.array(to_rgb(colour)))) + 0.05)


def seed003_values(seed=4):
    rng = np.random.default_rng(seed)
    values = {
        "X": rng.uniform(0, 1, (1, 1, 4, 4)),
        "Z": rng.standard_normal((1, 2, 2, 2)),
        "A": rng.uniform(0, 1, (1, 2, 2, 2)),
        "P": rng.uniform(0, 1, (1, 2, 1, 1)),
        "p": rng.uniform(0, 1, (1, 2)),
        "s": rng.standard_normal((1, 3)),
        "yhat": np.array([[0.2, 0.5, 0.3]]),
        "y": np.array([[0.0, 1.0, 0.0]]),
        "L": 0.69,
    }
    grads = {k: rng.standard_normal(v.shape) for k, v in values.items() if k in ("X", "Z", "A", "P", "p", "s")}
    return values, grads


def figures():
    values, grads = seed002_pipeline()
    calls = {f"{k} (all_figure_calls)": v for k, v in all_figure_calls().items()}
    calls.update({f"{k} (typical_figures)": v for k, v in typical_figures().items()})
    calls.update(
        {
            "maxpool routes, overlapping windows": lambda: viz.maxpool_routes(
                O, np.arange(1.0, 5.0).reshape(2, 2), size=3, stride=2, arrows=True
            ),
            "maxpool routes with ties": lambda: viz.maxpool_routes(np.ones((4, 4)), D[:2, :2]),
            "seed003 flow": lambda: viz.seed003_flow(*seed003_values()),
            "gradient flow with a title": lambda: viz.gradient_flow(
                [("a", np.abs(D), D), ("b", np.abs(D), D)], ["op"], title="a strip"
            ),
            "matrix of a 4x4 kernel": lambda: viz.conv_matrix_figure(np.arange(16.0).reshape(4, 4), (5, 5)),
        }
    )
    return calls


@pytest.mark.parametrize("colour", [INK, MUTED, _GRAD_INK])
def test_the_text_colours_of_the_figures_are_readable_on_white(colour):
    assert contrast(colour) >= 4.5


@pytest.mark.parametrize("name", list(figures()))
def test_every_text_outside_the_cells_has_4_5_to_1_contrast(name):
    fig = figures()[name]()
    try:
        fig.canvas.draw()
        texts = [
            t
            for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_gid() != "cnnlib-value"  # not a cell's number
        ]
        assert texts
        low = [(t.get_text(), t.get_color(), round(contrast(t.get_color()), 2)) for t in texts]
        low = [x for x in low if x[2] < 4.5]
        assert not low, low[:5]
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", list(figures()))
def test_every_cell_number_has_4_5_to_1_contrast_with_its_cell(name):
    from cnnlib.viz.heatmap import heatmap_of

    fig = figures()[name]()
    try:
        for ax in fig.axes:
            panel = heatmap_of(ax)
            if panel is None or not panel.texts:
                continue
            im = ax.images[0]
            data = np.ma.filled(np.ma.asarray(im.get_array(), dtype=np.float64), np.nan)
            for t, v in zip(panel.texts, data.reshape(-1)):
                if not np.isfinite(v) or not t.get_text().strip():
                    continue
                cell = np.array(im.cmap(im.norm(v))[:3])
                lf = float(relative_luminance(np.array(to_rgb(t.get_color()))))
                lb = float(relative_luminance(cell))
                ratio = (max(lf, lb) + 0.05) / (min(lf, lb) + 0.05)
                assert ratio >= 4.5, (t.get_text(), t.get_color(), cell, round(ratio, 2))
        # large maps print no numbers; the matrix figure colours its cells by kernel entry, with the same rule
    finally:
        plt.close(fig)

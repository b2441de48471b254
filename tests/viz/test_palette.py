"""The outline colours (``ROUTE_COLORS``) stay apart for readers with a colour-vision deficiency.

Each colour is simulated as a protanope, a deuteranope and a tritanope sees it (Machado, Oliveira
and Fernandes 2009 at severity 100, as ``colorspacious`` implements it) and compared in CAM02-UCS,
where a Euclidean distance approximates a perceived difference. The bound is the one
``cnnlib/viz/_style.py`` states.
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

import cnnlib.viz as viz  # noqa: E402
from cnnlib.viz._style import ROUTE_COLORS, relative_luminance  # noqa: E402
from cnnlib.viz.matrix import ENTRY_HATCHES  # noqa: E402
from cnnlib.widgets._raster import HI  # noqa: E402
from cnnlib.widgets.depth import _BAR_A, _BAR_G  # noqa: E402
from cnnlib.widgets.digits import _PRED, _TRUE  # noqa: E402

colorspacious = pytest.importorskip("colorspacious")

VISION = {"normal": None, "protanopia": "protanomaly", "deuteranopia": "deuteranomaly", "tritanopia": "tritanomaly"}
BOUND = 11.7  # the smallest distance _style.py states (blue and bluish green, tritanopia: 11.73)


def seen(colours, vision):
    """CAM02-UCS coordinates of ``colours`` as a reader with ``vision`` sees them, shape (n, 3)."""
    rgb = np.array([to_rgb(c) for c in colours])
    kind = VISION[vision]
    if kind is not None:
        cvd = {"name": "sRGB1+CVD", "cvd_type": kind, "severity": 100}
        rgb = np.clip(colorspacious.cspace_convert(rgb, cvd, "sRGB1"), 0, 1)
    return colorspacious.cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def closest(colours, vision):
    """(distance, a, b): the closest pair of ``colours`` for ``vision``."""
    J = seen(colours, vision)
    return min(
        (float(np.linalg.norm(J[a] - J[b])), colours[a], colours[b])
        for a, b in itertools.combinations(range(len(colours)), 2)
    )


def contrast_on_white(colour) -> float:
    return 1.05 / (float(relative_luminance(np.array(to_rgb(colour)))) + 0.05)


def test_ten_distinct_colours_so_that_a_3x3_kernel_needs_no_repeat():
    assert len(ROUTE_COLORS) == 10
    assert len({c.lower() for c in ROUTE_COLORS}) == 10
    assert HI.lower() not in {c.lower() for c in ROUTE_COLORS}


@pytest.mark.parametrize("vision", list(VISION))
def test_every_pair_and_the_current_cell_outline_stay_apart(vision):
    d, a, b = closest(list(ROUTE_COLORS) + [HI], vision)
    assert d >= BOUND, (vision, a, b, round(d, 2))


@pytest.mark.parametrize("vision", list(VISION))
@pytest.mark.parametrize("pair", [(_PRED, _TRUE), (_BAR_A, _BAR_G)], ids=["digits", "depth"])
def test_the_two_colours_shown_side_by_side_are_far_apart(vision, pair):
    J = seen(pair, vision)
    assert np.linalg.norm(J[0] - J[1]) >= 40


@pytest.mark.parametrize("colour", ROUTE_COLORS)
def test_every_outline_colour_shows_on_a_white_cell(colour):
    assert contrast_on_white(colour) >= 3.0  # WCAG's non-text contrast


def test_a_large_kernel_gives_each_entry_its_own_colour_and_hatch():
    fig = viz.conv_matrix_figure(np.arange(25.0).reshape(5, 5), (6, 6))
    try:
        patches = fig.legends[0].get_patches()[:25]
        looks = {(tuple(np.round(p.get_edgecolor(), 3)), p.get_hatch() or "") for p in patches}
        assert len(looks) == 25
        assert {p.get_hatch() or "" for p in patches} == set(ENTRY_HATCHES[:3])
        assert all(tuple(p.get_edgecolor()[:3]) in {to_rgb(c) for c in ROUTE_COLORS} for p in patches)
    finally:
        plt.close(fig)

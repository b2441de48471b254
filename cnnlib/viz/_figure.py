"""Figure creation shared by every ``cnnlib.viz`` figure: the figure and Axes classes a
notebook shows exactly once, the sizing rule, the rc wrapper and PNG rendering.

Only public matplotlib API is used to learn which figures pyplot manages
(``plt.get_fignums``, ``plt.close``).
"""

from __future__ import annotations

import functools
import io

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._output import DISPLAY_SCALE, display_bundle
from ._style import DPI, MAX_WIDTH, RC

__all__ = ["BookAxes", "BookFigure", "figure", "new_figure", "render_png", "styled", "subplots"]


def _display_once(fig: Figure) -> None:
    """Show ``fig`` as a PNG with its description now and release it from pyplot under the inline backend."""
    from IPython.display import display

    from ._alt import alt_text

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI * DISPLAY_SCALE, bbox_inches="tight", facecolor="white")
    data, metadata = display_bundle(buf.getvalue(), alt_text(fig))
    display(data, metadata=metadata, raw=True)
    if "inline" in str(matplotlib.get_backend()).lower():
        # shown now: the inline backend must not show it again at the end of the cell
        # (``plt.close`` leaves a figure pyplot does not manage alone)
        plt.close(fig)


class BookFigure(Figure):
    """A ``Figure`` that a notebook shows exactly once.

    With the inline backend, pyplot shows every new figure at the end of the cell, and
    a figure returned as the cell's last expression would be shown a second time by
    IPython. Displaying a ``BookFigure`` shows it as a PNG and releases it from pyplot,
    so the end-of-cell pass skips it; the ``Figure`` object stays usable.
    """

    def _ipython_display_(self):
        _display_once(self)


class BookAxes(Axes):
    """The Axes ``heatmap`` creates: displays its figure (once), never ``<Axes: ...>`` text."""

    name = "cnnlib_heatmap"

    def _ipython_display_(self):
        _display_once(self.figure)


def new_figure(width: float, height: float, *, layout: str | None = "constrained") -> BookFigure:
    """A white pyplot ``BookFigure`` of about ``width`` x ``height`` inches, clipped to a notebook column.

    Its dpi is ``DPI``, the one a notebook shows it at, so that its font sizes in points are
    the pixel sizes ``MIN_FONT_PT`` is about.
    """
    size = (float(min(max(width, 1.0), MAX_WIDTH + 0.5)), float(max(height, 0.8)))
    fig = plt.figure(figsize=size, dpi=DPI, layout=layout, FigureClass=BookFigure)
    fig.patch.set_facecolor("white")
    fig.patch.set_alpha(1.0)
    return fig


def _book_figure(fn: str, make, alt, kwargs):
    """``make(FigureClass=BookFigure, **kwargs)`` with the description ``alt``, checked before anything is drawn."""
    if "FigureClass" in kwargs:
        raise TypeError(f"{fn}: FigureClass is always BookFigure")
    if alt is not None and (not isinstance(alt, str) or not alt.strip()):
        raise ValueError(f"{fn}: alt must be a non-empty string, got {alt!r}")
    made = make(FigureClass=BookFigure, **kwargs)
    if alt is not None:
        from ._alt import describe

        describe(made[0] if isinstance(made, tuple) else made, alt)
    return made


def subplots(nrows: int = 1, ncols: int = 1, *, alt: str | None = None, **kwargs):
    """``plt.subplots`` for a figure the book shows: a ``BookFigure``, with its description ``alt``.

    Takes ``plt.subplots``' arguments (``figsize``, ``layout``, ``width_ratios``...) and
    returns ``(fig, axes)`` like it. The figure is shown once, crisp at 200 % zoom, with
    ``alt`` (see ``describe``, which can also set or change it after drawing) as its text
    description.
    """
    return _book_figure("subplots", functools.partial(plt.subplots, nrows, ncols), alt, kwargs)


def figure(*, alt: str | None = None, **kwargs) -> BookFigure:
    """``plt.figure`` for a figure the book shows (see ``subplots``)."""
    return _book_figure("figure", plt.figure, alt, kwargs)


def styled(func):
    """Run a public drawing function under the book's rc settings (restored afterwards).

    If the function fails half-way, the figures it had already created are closed, so a
    bad argument never leaves a stray figure behind.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        before = set(plt.get_fignums())
        try:
            with matplotlib.rc_context(RC):
                return func(*args, **kwargs)
        except Exception:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
            raise

    return wrapper


def render_png(fig: Figure, *, dpi: float = DPI) -> bytes:
    """The figure as PNG bytes (white background), e.g. for an ``ipywidgets.Image``.

    Does not close or otherwise change the figure.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"render_png: fig must be a matplotlib Figure, got {type(fig).__name__}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()

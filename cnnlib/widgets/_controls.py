"""The explorers' controls: grids of edit boxes, sliders, labels, and the preset inputs they offer.

Only APIs shared by ipywidgets 7.7 (Google Colab) and 8.x are used.
"""

from __future__ import annotations

import numpy as np

try:  # the widgets are optional at import time so that the static parts can be documented anywhere
    import ipywidgets as widgets
except ImportError:  # pragma: no cover - exercised only without ipywidgets
    widgets = None


def require_widgets(fn):
    if widgets is None:  # pragma: no cover
        raise ImportError(f"{fn}: needs ipywidgets (pip install ipywidgets)")


# --------------------------------------------------------------------------- preset inputs


def pattern(name: str, h: int, w: int) -> np.ndarray:
    """Small input images used as presets (values 0..1 or small integers)."""
    X = np.zeros((h, w))
    rr, cc = np.mgrid[0:h, 0:w]
    if name == "vertical edge":
        X[:, w // 2 :] = 1.0
    elif name == "horizontal edge":
        X[h // 2 :, :] = 1.0
    elif name == "diagonal stroke":
        X[np.abs(rr - cc) <= 0] = 1.0
        X[np.abs(rr - cc) == 1] = 0.5
    elif name == "cross":
        X[h // 2 - (h % 2 == 0) : h // 2 + 1, :] = 1.0
        X[:, w // 2 - (w % 2 == 0) : w // 2 + 1] = 1.0
    elif name == "checkerboard":
        X = ((rr + cc) % 2).astype(float)
    elif name == "single pixel":
        X[h // 2, w // 2] = 1.0
    elif name == "ramp":
        X = np.round(cc / max(w - 1, 1), 2)
    elif name == "random integers":
        X = np.random.default_rng(2).integers(0, 4, size=(h, w)).astype(float)
    elif name == "zeros":
        pass
    else:
        raise ValueError(f"unknown pattern {name!r}")
    return X


PATTERNS = [
    "diagonal stroke",
    "vertical edge",
    "horizontal edge",
    "cross",
    "checkerboard",
    "single pixel",
    "ramp",
    "random integers",
    "zeros",
]


def upstream_table(seed: int, n: int = 12) -> np.ndarray:
    """Deterministic, never-all-ones upstream gradients (multiples of 0.25 in [-1, 1])."""
    vals = np.random.default_rng(seed).integers(-4, 5, size=(n, n)) / 4.0
    vals[vals == 0] = 0.5
    return vals


# --------------------------------------------------------------------------- controls


class GridEditor:
    """An editable grid of BoundedFloatText boxes, one per entry of the array it shows.

    ``table`` holds the values (clipped to [lo, hi], as the boxes show them); the grid
    shows its top-left ``shape`` corner, which :meth:`resize` changes when the
    hyper-parameters change the array's shape (an upstream δ): shrinking and growing
    keeps what the reader typed. ``array`` is the shown part, ``cells`` the boxes by
    name (``"X[0,1]"``), ``box`` the widget to lay out. ``on_change`` is called after
    a box changed, except while :meth:`set_array` fills the grid.
    """

    def __init__(self, table, on_change, *, prefix, shape=None, lo=-9.0, hi=9.0, step=0.5, width=58, gap="2px 0px"):
        self.lo, self.hi, self.step, self.width, self.prefix = lo, hi, step, width, prefix
        self.table = np.clip(np.array(table, dtype=np.float64), lo, hi)
        self._on_change = on_change
        self._pool: dict = {}
        self._quiet = False
        self.shape = None
        self.box = widgets.GridBox([], layout=widgets.Layout(grid_gap=gap, flex="0 0 auto"))
        self.resize(self.table.shape if shape is None else shape)

    def _cell(self, r, c):
        t = self._pool.get((r, c))
        if t is None:
            t = widgets.BoundedFloatText(
                value=float(self.table[r, c]),
                min=self.lo,
                max=self.hi,
                step=self.step,
                layout=widgets.Layout(width=f"{self.width}px"),
            )

            def changed(change, r=r, c=c):
                self.table[r, c] = change["new"]
                if not self._quiet:
                    self._on_change(change)

            t.observe(changed, names="value")
            self._pool[(r, c)] = t
        return t

    def resize(self, shape):
        shape = (max(int(shape[0]), 0), max(int(shape[1]), 0))
        if shape == self.shape:
            return
        self.shape = shape
        h, w = shape
        self.box.children = [self._cell(r, c) for r in range(h) for c in range(w)]
        # room for the text boxes' own margins (no clipping in JupyterLab or Colab)
        cols = max(w, 1)
        self.box.layout.grid_template_columns = f"repeat({cols}, {self.width + 6}px)"
        self.box.layout.width = f"{cols * (self.width + 6) + 4}px"

    def set_array(self, values):
        """Show ``values`` (the grid's shape) in the boxes without calling ``on_change``."""
        self._quiet = True
        try:
            for (r, c), v in np.ndenumerate(np.asarray(values)):
                self._cell(r, c).value = float(np.clip(v, self.lo, self.hi))
        finally:
            self._quiet = False

    @property
    def cells(self):
        h, w = self.shape
        return {f"{self.prefix}[{r},{c}]": self._pool[(r, c)] for r in range(h) for c in range(w)}

    @property
    def array(self):
        h, w = self.shape
        return self.table[:h, :w].copy()


class PatternPicker:
    """A dropdown of :data:`PATTERNS` that hands the picked name to ``on_pick`` and shows ``placeholder`` again."""

    def __init__(self, on_pick, *, placeholder, description, width, description_width="90px"):
        self._on_pick, self._placeholder = on_pick, placeholder
        self.dropdown = widgets.Dropdown(
            options=[placeholder, *PATTERNS],
            value=placeholder,
            description=description,
            style={"description_width": description_width},
            layout=widgets.Layout(width=width),
        )
        self.dropdown.observe(self._picked, names="value")

    def _picked(self, change):
        if change["new"] == self._placeholder:
            return
        self.dropdown.value = self._placeholder
        self._on_pick(change["new"])


def label(text, width=None):
    lay = widgets.Layout(width=width) if width else widgets.Layout()
    return widgets.HTML(value=f"<b>{text}</b>", layout=lay)


def int_slider(description, value, lo, hi, width="260px"):
    return widgets.IntSlider(
        value=value,
        min=lo,
        max=hi,
        step=1,
        description=description,
        continuous_update=True,
        style={"description_width": "90px"},
        layout=widgets.Layout(width=width),
    )


def float_slider(description, value, lo, hi, step=0.1, width="260px"):
    return widgets.FloatSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=True,
        readout_format=".2f",
        style={"description_width": "90px"},
        layout=widgets.Layout(width=width),
    )


def explain_toggle():
    """The "explain dW / dX" switch of the convolution-backward explorers."""
    return widgets.ToggleButtons(
        options=["dW", "dX"],
        value="dW",
        description="explain",
        style={"description_width": "90px", "button_width": "60px"},
    )

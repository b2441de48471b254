"""The explorers' controls: grids of edit boxes, sliders, labels, and the preset inputs they offer.

Only APIs shared by ipywidgets 7.7 (Google Colab) and 8.x are used.
"""

from __future__ import annotations

import math

import numpy as np
from traitlets import TraitError

from .._format import auto_decimals, cell_label, format_number

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


# --------------------------------------------------------------------------- numbers as the reader types them


def number_text(v) -> str:
    """The shortest text that reads back as exactly ``v`` (``0.42`` -> "0.42", ``1.0`` -> "1")."""
    v = float(v)
    s = f"{v:.15g}"
    return s if float(s) == v else repr(v)


def parse_number(text):
    """The finite number a reader typed, a decimal comma accepted ("3,5" -> 3.5); ``None`` when it is not one."""
    s = str(text).strip().replace("\u2212", "-")
    if s.count(",") == 1 and "." not in s:
        s = s.replace(",", ".")
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def reach(limit, *values):
    """``limit`` grown to max(limit, ceil(1.5·|v|)) for every ``v``: a ±range holding the reader's values, with room."""
    return max([float(limit)] + [float(math.ceil(1.5 * abs(float(v)))) for v in values])


def _is_real(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


# --------------------------------------------------------------------------- controls


class Refusal(Exception):
    """A value a control cannot hold (its explorer shows the message and keeps the old value)."""


class Guarded:
    """A control that never raises on ``.value = v``: a value it cannot hold is refused.

    ``refuse`` (set by the explorer) receives the message ("row: 9 is outside 0…4; kept 2"),
    which the explorer shows; the control keeps its value. Without ``refuse`` the
    control raises ValueError instead. Values from the browser do not pass here.
    """

    refuse = None
    label_text = ""
    _guarding = False  # the constructor's own values are not checked

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._guarding = True

    def _accept(self, v):  # pragma: no cover - every control overrides it
        return v

    def _kept(self):
        return repr(self.value)

    def report(self, message):
        if self.refuse is None:
            raise ValueError(message)
        self.refuse(message)

    def __setattr__(self, name, value):
        if name == "value" and self._guarding:
            try:
                value = self._accept(value)
            except (Refusal, TraitError) as exc:
                self.report(f"{self.label_text or self.description or 'control'}: {exc}; kept {self._kept()}")
                return
        super().__setattr__(name, value)


class _Choice(Guarded):
    def _accept(self, v):
        values = [o[1] if isinstance(o, tuple) else o for o in self.options]
        try:
            known = v in values
        except (TypeError, ValueError):
            known = False
        if not known:
            raise Refusal(f"{v!r} is not one of the choices")
        return v


class Dropdown(_Choice, widgets.Dropdown if widgets is not None else object):
    """A dropdown that refuses a value outside its options (``None`` included)."""


class ToggleButtons(_Choice, widgets.ToggleButtons if widgets is not None else object):
    """Toggle buttons that refuse a value outside their options (``None`` included)."""


class IntSlider(Guarded, widgets.IntSlider if widgets is not None else object):
    """An integer slider that refuses a non-integer or a value outside [min, max] (never clamps it)."""

    def _accept(self, v):
        if not _is_real(v) or isinstance(v, (float, np.floating)):
            raise Refusal(f"{v!r} is not an integer")
        if not self.min <= v <= self.max:
            raise Refusal(f"{v} is outside {self.min}…{self.max}")
        return int(v)


class FloatSlider(Guarded, widgets.FloatSlider if widgets is not None else object):
    """A ±range slider whose range grows to hold any finite number it is given (never clipped).

    ``continuous_update`` is off: ipywidgets 8's slider sends a value it did not snap to
    its step back snapped when it updates continuously, which would change the reader's number.
    """

    def _accept(self, v):
        if not _is_real(v) or not math.isfinite(v):
            raise Refusal(f"{v!r} is not a finite number")
        limit = reach(self.max, v)
        if limit > self.max:
            self.max, self.min = limit, -limit
        return float(v)


BOX_MARGIN = 1  # pixels around an edit box of a grid (ipywidgets' default is 2); its height stays 28


def box_width(texts, least=40):
    """Pixels an edit box needs to show the longest of ``texts`` whole (13 px font, about 7.5 px a character)."""
    return max([least] + [int(math.ceil(7.5 * len(t))) + 14 for t in texts])


class NumberBox(Guarded, widgets.Text if widgets is not None else object):
    """One number in a text box, kept exactly as typed: "0.4237" is 0.4237, "3,5" is 3.5, no bounds, no step.

    ``number`` is the value, always exact; the box shows it in the book's format
    (``fmt(number)``, by default :func:`cell_label`), as the pictures write it: only the
    display is rounded, never the value. ``on_number(v)`` is called when the reader (or
    code) sets a new one; text that is not a number is refused with a message and the old
    number shown again. Code may assign a number (``box.value = 0.42``) or text.
    """

    def __init__(self, number, on_number, *, label_text, width, description="", description_width=None, fmt=None):
        style = {"description_width": description_width} if description_width else {}
        self.fmt = fmt or cell_label
        super().__init__(
            value=self.fmt(number),
            description=description,
            continuous_update=False,
            style=style,
            layout=widgets.Layout(width=f"{width}px"),
        )
        self.number = float(number)
        self.label_text = label_text
        self._on_number = on_number
        self._quiet = False
        self.observe(self._typed, names="value")

    def _accept(self, v):
        if isinstance(v, str):
            return v
        if _is_real(v) and math.isfinite(v):
            return number_text(v)
        raise Refusal(f"{v!r} is not a number")

    def _kept(self):
        return self.fmt(self.number)

    def show(self, v=None):
        """Show ``v`` (default: the current number) in the book's format, without calling ``on_number``."""
        if v is not None:
            self.number = float(v)
        self._quiet = True
        try:
            self.value = self.fmt(self.number)
        finally:
            self._quiet = False

    def _typed(self, change):
        if self._quiet:
            return
        v = parse_number(change["new"])
        if v is None:
            old = self.number
            self.show(old)
            self.report(f"{self.label_text}: {change['new']!r} is not a number; kept {self.fmt(old)}")
            return
        self.number = v
        self._on_number(v)
        if self.value != self.fmt(v):
            self.show(v)  # "3,5" is shown as read: 3.5; more digits than the format shows are kept, not shown


def guard(box, refuse):
    """Send the refusals of every guarded control inside ``box`` (a widget tree) to ``refuse``."""
    if isinstance(box, Guarded):
        box.refuse = refuse
    for child in getattr(box, "children", ()):
        guard(child, refuse)


class GridEditor:
    """An editable grid of :class:`NumberBox` cells, one per entry of the array it shows.

    ``table`` holds the values exactly as given or typed (nothing is clipped, nothing
    rounded); the boxes show them in the book's format with one number of decimals for
    the shown array (:func:`cnnlib._format.auto_decimals`), as its picture's panel does,
    and are wide enough for the longest. The grid shows the table's top-left ``shape``
    corner, which :meth:`resize` changes when the hyper-parameters change the array's
    shape (an upstream δ): shrinking and growing keeps what the reader typed. ``array`` is
    the shown part, ``cells`` the boxes by name (``"X[0,1]"``), ``box`` the widget to lay
    out. ``on_change`` is called after a cell changed, except while :meth:`set_array`
    fills the grid; ``refuse`` receives the message about text that is not a number.
    """

    def __init__(self, table, on_change, refuse, *, prefix, shape=None, width=None, gap="2px 2px"):
        self.prefix, self.refuse = prefix, refuse
        self.table = np.array(table, dtype=np.float64)
        self._on_change = on_change
        self._pool: dict = {}
        self.shape = None
        self.decimals = 0
        self._least = width or 40
        self.width = self._least
        self.box = widgets.GridBox([], layout=widgets.Layout(grid_gap=gap, flex="0 0 auto"))
        self.resize(self.table.shape if shape is None else shape)

    def _format(self, v):
        return format_number(v, self.decimals)

    def _cell(self, r, c):
        t = self._pool.get((r, c))
        if t is None:
            t = NumberBox(
                self.table[r, c],
                lambda v, r=r, c=c: self._edited(r, c, v),
                label_text=f"{self.prefix}[{r},{c}]",
                width=self.width,
                fmt=self._format,
            )
            t.layout.margin = f"{BOX_MARGIN}px"
            t.refuse = self.refuse
            self._pool[(r, c)] = t
        return t

    def _edited(self, r, c, v):
        self.table[r, c] = v
        self._restyle()
        self._on_change(None)

    def _restyle(self):
        """One number of decimals for the shown array, and boxes wide enough for every label."""
        h, w = self.shape
        shown = self.table[:h, :w]
        decimals = auto_decimals(shown) if shown.size else 0
        width = box_width([format_number(v, decimals) for v in shown.reshape(-1)], self._least)
        changed = decimals != self.decimals
        self.decimals = decimals
        if width != self.width:
            self.width = width
            for t in self._pool.values():
                t.layout.width = f"{width}px"
            self._columns()
        if changed:
            for (r, c), t in self._pool.items():
                t.show(self.table[r, c])

    def _columns(self):
        cols = max(self.shape[1], 1)
        pitch = self.width + 2 * BOX_MARGIN
        self.box.layout.grid_template_columns = f"repeat({cols}, {pitch}px)"
        self.box.layout.width = f"{cols * (pitch + 2) + 2}px"

    def resize(self, shape):
        shape = (max(int(shape[0]), 0), max(int(shape[1]), 0))
        if shape == self.shape:
            return
        self.shape = shape
        h, w = shape
        self.box.children = [self._cell(r, c) for r in range(h) for c in range(w)]
        self._restyle()
        self._columns()

    def set_array(self, values):
        """Show ``values`` (the grid's shape) in the cells without calling ``on_change``."""
        values = np.asarray(values, dtype=np.float64)
        for (r, c), v in np.ndenumerate(values):
            self.table[r, c] = v
        self._restyle()
        for (r, c), _ in np.ndenumerate(values):
            self._cell(r, c).show(self.table[r, c])

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
        self.dropdown = Dropdown(
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


def int_slider(description, value, lo, hi, width="250px"):
    return IntSlider(
        value=value,
        min=lo,
        max=hi,
        step=1,
        description=description,
        continuous_update=True,
        style={"description_width": "80px"},
        layout=widgets.Layout(width=width),
    )


def float_slider(description, value, limit, step=0.1, width="250px"):
    """A slider over ±``limit``, grown to hold ``value`` (:func:`reach`); see :class:`FloatSlider`."""
    limit = reach(limit, value)
    return FloatSlider(
        value=float(value),
        min=-limit,
        max=limit,
        step=step,
        description=description,
        continuous_update=False,
        readout_format=".2f",
        style={"description_width": "80px"},
        layout=widgets.Layout(width=width),
    )


def explain_toggle():
    """The "explain dW / dX" switch of the convolution-backward explorers."""
    return ToggleButtons(
        options=["dW", "dX"],
        value="dW",
        description="explain",
        style={"description_width": "80px", "button_width": "60px"},
    )

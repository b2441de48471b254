"""What every explorer shares: the :class:`Explorer` widget, its static figure, and argument checks."""

from __future__ import annotations

import base64
import html
import io
import re
import textwrap

import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

from .._format import array_format, cell_label, factor
from .._validate import as_2d
from ..viz._alt import sentence as _sentence
from ..viz._output import DISPLAY_SCALE, display_bundle
from ..viz._style import INK, ROUTE_COLORS
from ._controls import guard, widgets
from ._raster import DPI, GAP, Font, Frame, Live, cells_image, full_axes, route_arrow, text_origin

#: Text colours of the explorers' HTML (help text and messages): JupyterLab's theme colours, so the
#: text keeps its contrast on the light and the dark theme; the fallbacks (elsewhere, e.g. Colab)
#: are 7.0:1 and 6.5:1 against white.
HELP_COLOR = "var(--jp-ui-font-color2, #595959)"
ERROR_COLOR = "var(--jp-error-color1, #b3261e)"

# --------------------------------------------------------------------------- arguments


def sized_2d(fn, name, a, *, max_side, min_side=1):
    """``a`` as a finite 2-D float64 copy ((1, H, W) and (1, 1, H, W) accepted) with sides in [min_side, max_side]."""
    a = as_2d(fn, name, a)
    if not (min_side <= a.shape[0] <= max_side and min_side <= a.shape[1] <= max_side):
        raise ValueError(
            f"{fn}: {name} must have between {min_side} and {max_side} rows and columns, got shape {a.shape}"
        )
    return np.array(a, dtype=np.float64)


def check_int(fn, name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ValueError(f"{fn}: {name} must be an int in [{lo}, {hi}], got {v!r}")
    return int(v)


# --------------------------------------------------------------------------- shared pieces of pictures and read-outs


def padded(A, P):
    """(Ã, mask, labels): ``A`` zero-padded by ``P``, the mask of the padding cells, and the
    ``row_labels`` / ``col_labels`` of :meth:`Frame.heat` (A's own 0-based indices, blank on the padding)."""
    H, W = A.shape
    Ap = np.pad(A, P)
    grey = np.ones(Ap.shape, bool)
    grey[P : P + H, P : P + W] = False
    labels = {
        "row_labels": [""] * P + [str(r) for r in range(H)] + [""] * P,
        "col_labels": [""] * P + [str(c) for c in range(W)] + [""] * P,
    }
    return Ap, grey, labels


def paren(v, fmt=cell_label):
    """A factor of a written-out product, as the read-outs print it (``fmt``: its array's format)."""
    return factor(fmt(v))


def _factor_name(route, which, ix):
    """A factor of a route's product named with its indices, as the panels label it ("W[0,1]", "δZ[1,1]").

    One filter and one channel: the single-channel names; otherwise every index, filter first.
    """
    F = route.b.shape[0]
    if route.a_name == "X":  # dW[f, c, i, j]: X[c] meets δZ[f]
        f, c = route.index[:2]
        single = F == 1 and route.a.shape[0] == 1
        full = (c, *ix) if which == "a" else (f, *ix)
    else:  # dX[c, x, y]: W[f, c] meets δZ[f]
        c = route.index[0]
        single = F == 1 and route.a.shape[1] == 1
        full = (ix[0], c, *ix[1:]) if which == "a" else ix
    name = route.a_name if which == "a" else route.b_name
    shown = full[-2:] if single else full
    return f"{name}[{','.join(str(int(k)) for k in shown)}]"


def pair_colors(route):
    """(a_index, b_index) -> a colour of ``ROUTE_COLORS`` for every product of ``route`` (cycled past the palette)."""
    return {pair: ROUTE_COLORS[k % len(ROUTE_COLORS)] for k, pair in enumerate(route.products)}


def _route_formats(route):
    """(format of the first factor, of the second, of the total): each as the panel that shows it writes it.

    A panel shows one 2-D slice (X[c], W[f, c], δZ[f], dX[c], dW[f, c]); an entry quoted in
    the read-out gets that slice's decimals, so the sum reads exactly as the picture.
    """
    cache = {}

    def slice_format(arr, lead):
        key = (id(arr), tuple(lead))
        if key not in cache:
            cache[key] = array_format(arr[tuple(lead)])
        return cache[key]

    if route.a_name == "X":  # dW[f, c, i, j]: X[c] meets δZ[f]
        f, c = route.index[:2]
        return (
            lambda ix, v: slice_format(route.a, (c,))(v),
            lambda ix, v: slice_format(route.b, (f,))(v),
            slice_format(route.grad, (f, c)),
        )
    c = route.index[0]  # dX[c, x, y]: W[f, c] meets δZ[f]
    return (
        lambda ix, v: slice_format(route.a, (ix[0], c))(v),
        lambda ix, v: slice_format(route.b, (ix[0],))(v),
        slice_format(route.grad, (c,)),
    )


def route_markup(route, colors=None, limit=12):
    """A route's sum (``cnnlib.routes.RouteSum``) for the read-out, its factors named with their indices:
    ``dX[1,2] = W[0,0]·δZ[1,2] + W[0,1]·δZ[1,1] = (1)·(0.5) + (−1)·(0.25) = 0.25``.

    Every number is written as the panel showing it writes it (the same decimals).
    ``colors`` (see :func:`pair_colors`) underlines each product in the colour of its outlines on
    the picture; the text itself stays in the theme's colour.
    At most ``limit`` products are written out, then how many more there are (every one
    of them is outlined on the picture), so that the read-out stays a few lines long.
    """
    fa, fb, ftotal = _route_formats(route)
    names, values = [], []
    for a_ix, a, b_ix, b in route.terms[:limit]:
        term = html.escape(f"{_factor_name(route, 'a', a_ix)}·{_factor_name(route, 'b', b_ix)}")
        color = (colors or {}).get((a_ix, b_ix))
        # the product keeps the theme's text colour (route colours are below 4.5:1 as text) and is
        # underlined in its outlines' colour
        names.append(f"<span style='border-bottom:3px solid {color}'>{term}</span>" if color else term)
        values.append(html.escape(f"{factor(fa(a_ix, a))}·{factor(fb(b_ix, b))}"))
    more = len(route.terms) - limit
    if more > 0:
        names.append(f"… ({more} more)")
        values.append("…")
    total = html.escape(ftotal(route.total))
    eq = f"{route.name} = " + (f"{' + '.join(names)} = {' + '.join(values)} = " if names else "") + f"<b>{total}</b>"
    if route.omitted:
        eq += f" &nbsp;<span style='color:{HELP_COLOR}'>({route.omitted} product(s) with a zero factor left out)</span>"
    return f"<span style='font-family:monospace'>{eq}</span>"


def op_arrow(ax, x0, x1, y, label, color="#555555", back=False):
    """A static arrow between two panels with the operation's name on it."""
    a, b = (x1, x0) if back else (x0, x1)
    ax.add_patch(
        FancyArrowPatch((a, y), (b, y), arrowstyle="-|>", mutation_scale=11, lw=1.2, color=color, shrinkA=0, shrinkB=0)
    )
    if label:
        f = Font.get(7, False)
        ax.text((x0 + x1) / 2, y - 5, label, fontproperties=f.prop, color=color, ha="center", va="bottom")


def _decorate_titles(panels):
    def decorate(fig, ax):
        title = Font.get(9, True)
        for p in panels:
            ax.text(
                p.x,
                p.y - 26 + title.ascent - title.mid,
                p.title,
                fontproperties=title.prop,
                color=INK,
                ha="left",
                va="baseline",
            )

    return decorate


# --------------------------------------------------------------------------- the static figure


#: CSS that hides text from sight but not from a screen reader
_VISUALLY_HIDDEN = (
    "position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;"
    "clip:rect(0,0,0,0);clip-path:inset(50%);white-space:nowrap;border:0"
)


_SUBSCRIPTS = str.maketrans("ijk0123456789", "ᵢⱼₖ₀₁₂₃₄₅₆₇₈₉")


def _plain(markup: str) -> str:
    """The text of a read-out's HTML (tags dropped, entities decoded, <sub> as Unicode subscripts)."""
    markup = re.sub(r"<sub>(.*?)</sub>", lambda m: m.group(1).translate(_SUBSCRIPTS), markup)
    text = html.unescape(re.sub(r"<[^>]+>", "", markup)).replace("\xa0", " ")
    return re.sub(r"\s+", " ", text).strip()


_FOOTER_SIZE = 8.0
_FOOTER_LINE = 15  # pixels between footer lines


def _footer_lines(text: str, width: int) -> list[str]:
    """``text`` wrapped to the picture's width (measured with the footer's own font)."""
    if not text:
        return []
    font = Font.get(_FOOTER_SIZE, False)
    avg = max(font.width("0123456789 abcdefghij·()[]") / 27, 1.0)
    lines = textwrap.wrap(text, max(int((width - 24) / avg), 20), break_long_words=False, break_on_hyphens=False)
    while lines and max(font.width(line) for line in lines) > width - 20:  # rare: wide glyphs
        lines = textwrap.wrap(
            text, max(len(max(lines, key=len)) - 4, 10), break_long_words=False, break_on_hyphens=False
        )
    return lines


def _static_figure(width, height, decorate, frame: Frame, footer: str = ""):
    """A plain matplotlib Figure showing ``frame`` (for GitHub / nbviewer readers).

    ``footer``: the read-out the live widget writes under its picture (a route's sum,
    a formula), wrapped and drawn under the picture so that a static render carries it too.
    """
    import matplotlib.pyplot as plt  # so that IPython's inline display hook is installed

    lines = _footer_lines(footer, width)
    total = height + (len(lines) * _FOOTER_LINE + 12 if lines else 0)
    fig = plt.figure(figsize=(width / DPI, total / DPI), dpi=DPI, facecolor="white")
    plt.close(fig)  # not managed by pyplot: displayed once, when returned, and never leaked
    ax = full_axes(fig, width, total)
    decorate(fig, ax)
    for x, y, w, h, rgb in frame.fills:
        ax.add_patch(Rectangle((x, y), w, h, facecolor=rgb / 255, edgecolor="none", zorder=1))
    for hm in frame.heats:
        rgb, cs, x0, y0 = hm["rgb"], hm["cs"], hm["x"], hm["y"]
        h, w = rgb.shape[:2]
        img = cells_image(rgb, cs)
        ax.imshow(img, extent=(x0, x0 + w * cs, y0 + h * cs, y0), interpolation="nearest", zorder=2)
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), w * cs, h * cs, fill=False, ec=GAP / 255, lw=0.8, zorder=2))
    for x, y, w, h, rgb, lw in frame.boxes:
        ax.add_patch(Rectangle((x, y), w, h, fill=False, ec=rgb / 255, lw=lw * 72 / DPI, zorder=3))
    for x, y, w, h, rgb, lw in frame.dotted:
        ax.add_patch(Rectangle((x, y), w, h, fill=False, ec=rgb / 255, lw=lw * 72 / DPI, ls=(0, (2, 2)), zorder=3))
    for x0, y0, x1, y1, color in frame.arrows:
        ax.add_patch(route_arrow((x0, y0), (x1, y1), color))
    for s, x, y, size, color, bold, ha in frame.all_texts():
        font = Font.get(size, bold)
        left, top = text_origin(font, s, x, y, ha)
        ax.text(left, top + font.ascent, s, fontproperties=font.prop, color=color, ha="left", va="baseline", zorder=6)
    ffont = Font.get(_FOOTER_SIZE, False)
    for k, line in enumerate(lines):
        y = height + 6 + k * _FOOTER_LINE + ffont.ascent
        ax.text(12, y, line, fontproperties=ffont.prop, color=INK, ha="left", va="baseline", zorder=6)
    ax.set_xlim(0, width)
    ax.set_ylim(total, 0)
    return fig


# --------------------------------------------------------------------------- the explorer widget


_BaseBox = widgets.VBox if widgets is not None else object


class Explorer(_BaseBox):
    """Common machinery: controls -> compute with cnnlib -> frame -> PNG in an Image widget.

    Attributes every explorer exposes:

    * ``state``: dict of the current inputs and every computed array (NumPy);
    * ``controls``: dict name -> ipywidgets control (set ``.value`` to drive it);
    * ``error``: the message shown for an invalid combination, or ``None``;
    * ``image``: the ``ipywidgets.Image`` holding the current PNG;
    * ``frame_arrays``: name -> the exact array behind each heat map.

    ``static_figure()`` (alias ``figure()``) returns a plain matplotlib Figure of the
    current state.

    Each explorer implements ``_control_map()`` (its controls by name, for the shapes
    shown now) and ``_compute(frame)`` (fills ``self.state`` and the frame).
    """

    _fn = "explorer"
    # pixels: the controls' columns wrap inside this width (960: a notebook's output area in a
    # 1400-pixel window with JupyterLab's side panel open). Beside the picture when both fit
    # (conv_backward_explorer for notebooks 03 and 05 asks for less), else above it
    controls_width = 960

    def _setup(self, title, help_text, control_box, width, height, panels, decorate=None):
        """Lay the widget out around a ``width`` x ``height`` picture of ``panels`` (titles drawn once) and draw it."""
        self._width, self._height = int(width), int(height)
        self._title = " ".join(str(title).split())
        base = _decorate_titles(panels)
        if decorate is None:
            self._decorate = base
        else:

            def both(fig, ax):
                base(fig, ax)
                decorate(fig, ax)

            self._decorate = both
        self._live = Live(self._width, self._height, self._decorate)
        # natural size (never stretched by the flex box), shrinking on a narrow screen
        self.image = widgets.Image(
            value=b"",
            format="png",
            layout=widgets.Layout(width=f"{self._width}px", max_width="100%", height="auto", object_fit="contain"),
        )
        self.message = widgets.HTML(value="")
        self.readout = widgets.HTML(value="")
        self._readout = ""
        header = widgets.HTML(
            value=f"<b>{html.escape(title)}</b> &nbsp; <span style='color:{HELP_COLOR}'>{help_text}</span>"
        )
        self.state: dict = {}
        self.error = None
        self.last_exception = None
        self.frame = Frame()
        self.updates = 0
        self._busy = False
        # the controls left of the picture (above it when the window is too narrow for both),
        # their columns wrapping inside a block of at most ``controls_width`` pixels
        control_box.layout.flex_flow = "row wrap"
        control_box.layout.max_width = f"{self.controls_width}px"
        control_box.layout.margin = "0 16px 0 0"
        for child in getattr(control_box, "children", ()):
            if isinstance(child, widgets.Box):
                child.layout.flex = "0 0 auto"
        guard(control_box, self._refuse)
        picture = widgets.VBox([self.image, self.readout], layout=widgets.Layout(flex="0 1 auto"))
        body = widgets.HBox(
            [control_box, picture], layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start")
        )
        super().__init__(children=[header, self.message, body])
        self.add_class("cnnlib-explorer")
        self.add_class("cnnlib-" + self._fn.replace("_", "-"))
        self.update()

    @property
    def controls(self) -> dict:
        """Name -> ipywidgets control, for every control the reader can move now (set ``.value`` to drive it)."""
        return self._control_map()

    def _control_map(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self, frame):  # pragma: no cover - abstract
        raise NotImplementedError

    def _on_change(self, change=None):
        if self._busy:
            return
        self.update()

    def update(self):
        """Recompute everything from the controls and push a new image."""
        self._busy = True
        try:
            frame = Frame()
            self.error = None
            self.last_exception = None
            self._readout = ""
            try:
                self._compute(frame)
            except ValueError as exc:  # cnnlib's own validation: show its message
                self._fail(str(exc))
            self.frame = frame
            self.image.value = self._live.render(frame)
            style = f"white-space:normal;line-height:1.5;max-width:{max(self._width, 400)}px"
            shown = f"<div style='{style}'>{self._readout}</div>" if self._readout else ""
            # the picture in words, for a screen reader: hidden from sight, not from assistive technology
            self.readout.value = shown + f"<div style='{_VISUALLY_HIDDEN}'>{html.escape(self.description)}</div>"
            self._show_message()
        except Exception as exc:  # never a traceback in the reader's notebook
            self.last_exception = exc
            self.error = f"{type(exc).__name__}: {exc}"
            self.message.value = (
                f"<div style='color:{ERROR_COLOR};font-weight:bold'>"
                f"⚠ something went wrong: {html.escape(self.error)}</div>"
            )
        finally:
            self.updates += 1
            self._busy = False

    def _fit_height(self, height):
        """Give the picture ``height`` pixels (the arrays grew or shrank with padding, stride...).

        Only a change of shape rebuilds the cached figure; ordinary moves reuse it.
        """
        self._fit_size(self._width, height)

    def _fit_size(self, width, height, *, moved=False):
        """Give the picture ``width`` x ``height`` pixels; ``moved``: a panel (and its static title) moved.

        Rebuilds the cached figure only when something changed; ordinary moves reuse it.
        """
        width, height = int(width), int(height)
        if moved or (width, height) != (self._width, self._height):
            if width != self._width:
                self.image.layout.width = f"{width}px"
            self._width, self._height = width, height
            self._live = Live(width, height, self._decorate)

    def _fail(self, msg):
        self.error = msg
        self.state["error"] = msg

    def _refuse(self, msg):
        """A control refused a value (its own kept): say so above the picture, which stays as it was."""
        self._fail(msg)
        self._show_message()

    def _show_message(self):
        if self.error:
            self.message.value = f"<div style='color:{ERROR_COLOR};font-weight:bold'>⚠ {html.escape(self.error)}</div>"
        else:
            self.message.value = ""

    def __repr__(self):
        # the text a static render (GitHub, nbviewer) shows in place of the live widget
        return (
            f"{self._fn}(): an interactive explorer — run the notebook in JupyterLab or Colab to move its "
            "controls; .static_figure() draws its current state"
        )

    @property
    def frame_arrays(self):
        return self.frame.arrays

    @property
    def description(self) -> str:
        """The picture in words (its alt text): the explorer, every panel's array with its shape and range,
        the read-out, and the message if there is one. Written from the current state on every move."""
        parts = [_sentence(self._title)]
        panels = []
        for name, arr in self.frame.arrays.items():
            a = np.asarray(arr, dtype=np.float64)
            finite = a[np.isfinite(a)]
            size = "×".join(str(n) for n in a.shape)
            if finite.size:
                fmt = array_format(finite)
                lo, hi = fmt(float(finite.min())), fmt(float(finite.max()))
                panels.append(f"{name} ({size}, {lo} to {hi})" if lo != hi else f"{name} ({size}, every value {lo})")
            else:
                panels.append(f"{name} ({size})")
        if panels:
            parts.append("Panels: " + "; ".join(panels) + ".")
        if self.readout_text:
            parts.append(_sentence(self.readout_text))
        if self.error:
            parts.append(_sentence(f"Message: {self.error}"))
        return " ".join(parts)

    @property
    def readout_text(self) -> str:
        """The read-out under the live picture (a route's sum, a formula) as plain text."""
        return _plain(self._readout)

    def static_figure(self):
        """The current state as a plain matplotlib Figure (not registered with pyplot).

        The read-out the live widget writes under its picture (the sum a route adds
        up, the formula of the chosen entry) is written under the figure as well.
        """
        return _static_figure(self._width, self._height, self._decorate, self.frame, self.readout_text)

    figure = static_figure

    def static_png(self, scale: int = 1) -> bytes:
        """:meth:`static_figure` as PNG bytes, ``scale`` device pixels per picture pixel (2: crisp at 200 % zoom)."""
        if isinstance(scale, bool) or not isinstance(scale, int):
            raise TypeError(f"static_png: scale must be an integer from 1 to 4, got {type(scale).__name__}")
        if not 1 <= scale <= 4:
            raise ValueError(f"static_png: scale must be an integer from 1 to 4, got {scale}")
        buf = io.BytesIO()
        self.static_figure().savefig(buf, format="png", dpi=DPI * scale, facecolor="white")
        return buf.getvalue()

    def _ipython_display_(self, **kwargs):
        """Display the live widget with the static picture in the same output.

        A front end that runs widgets (JupyterLab, Colab, VS Code) shows the widget; one
        that cannot (GitHub, nbviewer, the website, a notebook opened before it is run)
        shows the PNG of the explorer's state instead. So a reader sees the picture once,
        wherever the notebook is read. Works under ipywidgets 7.7 and 8.
        """
        from IPython.display import display

        png = self.static_png(DISPLAY_SCALE)
        _, metadata = display_bundle(png, self.description)  # its page size and its description
        data = {
            "text/plain": repr(self),
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.model_id,
            },
            "image/png": base64.b64encode(png).decode("ascii"),
        }
        display(data, metadata=metadata, raw=True)
        if hasattr(self, "_handle_displayed"):  # ipywidgets 7: run the widget's on_displayed callbacks
            self._handle_displayed(**kwargs)

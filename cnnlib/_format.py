"""Numbers as the book prints them: in figures, in explorers' cells and in read-outs.

One home for every number format, so that a figure, an explorer and a route's equation
write the same value the same way. One format: the decimals of an array come from
:func:`auto_decimals` (the same for every entry, in figures and explorers); the leading
zero is kept (``0.06``, never ``.06``); there is never a trailing ``.``; the minus sign is a
true minus (U+2212); exact zero (also ``-0.0``) is ``0``; ``nan``, ``inf``, ``−inf``.
A label too wide for its cell is the layout's problem (wider cells, or fewer decimals for
the whole array), never a reason to drop a digit.

* :func:`format_number` — one number with fixed decimals (figures' cell labels, equations);
* :func:`auto_decimals` / :class:`Formatter` — the decimals that show an array's entries
  with about three significant digits of the largest; a user format spec instead;
* :func:`cell_labels` — the labels of a whole array (explorers' and figures' cells);
* :func:`cell_label` — one value on its own, in the same format;
 * :func:`array_format` — the formatter of one array's entries, for text that quotes them
   (an explorer's read-out writes each factor as the array's panel writes it);
 * :func:`readout_number` — a single number in a read-out (:func:`cell_label`);
 * :func:`factor` — a number inside a product, bracketed when negative: ``(−0.5)``;
 * :func:`set_printoptions` — NumPy's printed arrays in the same style (``46``, not ``46.``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "MINUS",
    "auto_decimals",
    "format_number",
    "Formatter",
    "cell_labels",
    "cell_label",
    "array_format",
    "readout_number",
    "factor",
    "set_printoptions",
]

MINUS = "\u2212"


def auto_decimals(values: np.ndarray) -> int | None:
    """Decimals that show every entry of ``values`` with about 3 significant digits of the largest.

    Fewer when all entries are exactly representable with fewer (0.51 stays 0.51); no
    decimals from 1000 up (12345); ``None`` means "use the general format" (largest
    magnitude below 0.001 or from 100000 up).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    nonzero = np.abs(finite[finite != 0])
    if nonzero.size == 0:
        return 0
    m = float(nonzero.max())
    if m >= 1e5 or m < 1e-3:
        return None
    dmax = int(np.clip(2 - math.floor(math.log10(m)), 0, 4))
    for d in range(dmax + 1):
        if np.all(np.abs(np.round(finite, d) - finite) <= 1e-9 * np.maximum(1.0, np.abs(finite))):
            return d
    return dmax


def format_number(v: float, decimals: int | None = 2) -> str:
    """One number in the book's format: ``decimals`` fixed decimals (``None``: two significant
    digits, ``1.2e−05``), the leading zero kept, exact zero as ``0``, a true minus sign."""
    v = float(v)
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else MINUS + "inf")
    if v == 0:
        return "0"
    s = f"{v:.2g}" if decimals is None else f"{v:.{decimals}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", MINUS)


class Formatter:
    """Turn numbers into cell labels: user ``fmt`` (format spec, ``'{:...}'`` string or callable) or automatic.

    A format spec or ``'{:...}'`` string keeps the book's signs: a true minus (U+2212), and
    no sign on a value that the format shows as zero (``-0.04`` with ``'.1f'`` is ``0.0``).

    ``fn`` names the public function for error messages; with ``fmt=None`` the decimals
    come from :func:`auto_decimals` of ``values``.
    """

    def __init__(self, fn: str, fmt, values: np.ndarray):
        self.fmt = fmt
        if fmt is None:
            self.decimals = auto_decimals(values)
        elif not (isinstance(fmt, str) or callable(fmt)):
            raise TypeError(f"{fn}: fmt must be a format string like '.2f' or a callable, got {type(fmt).__name__}")
        else:
            try:
                self(1.5)
            except Exception as exc:
                raise ValueError(f"{fn}: fmt {fmt!r} cannot format a number ({exc})") from None

    def __call__(self, v) -> str:
        if self.fmt is None:
            return format_number(v, self.decimals)
        if callable(self.fmt):
            return str(self.fmt(v))
        s = self.fmt.format(v) if "{" in self.fmt else format(v, self.fmt)
        # the book's signs in a user's format too: a true minus, and no sign on a value shown as zero
        zero = self.fmt.format(0.0) if "{" in self.fmt else format(0.0, self.fmt)
        if s.startswith("-") and s[1:] == zero:
            s = zero
        return s.replace("-", MINUS)


def cell_labels(values) -> list:
    """The label of every entry of ``values``, with one number of decimals for the whole array.

    The format of the figures' cells (``format_number`` with ``auto_decimals(values)``),
    as nested lists like ``values.tolist()``: ``cell_labels(A)[r][c]`` labels ``A[r, c]``.
    An explorer labels each array it paints with this, so an explorer and a figure write
    an array the same way.
    """
    arr = np.asarray(values, dtype=np.float64)
    decimals = auto_decimals(arr)
    flat = [format_number(v, decimals) for v in arr.reshape(-1).tolist()]
    return np.array(flat, dtype=object).reshape(arr.shape).tolist()


def cell_label(v: float) -> str:
    """One value on its own in the book's format: ``cell_labels`` of a one-entry array.

    0.25, −1.5, 0.0625, −0.999, 1234, 1e−05; labelling an array entry by entry gives each
    entry its own decimals, so label arrays with :func:`cell_labels`.
    """
    return cell_labels([float(v)])[0]


def array_format(values):
    """``v -> label`` with the decimals of ``values`` (:func:`auto_decimals`): an entry of
    ``values`` quoted in a text reads exactly as the array's picture labels it."""
    decimals = auto_decimals(values)
    return lambda v: format_number(v, decimals)


def readout_number(v: float) -> str:
    """A number on its own in an explorer's text read-out: :func:`cell_label` (the one format)."""
    return cell_label(v)


def factor(s: str) -> str:
    """A formatted number as a factor of a product: ``(−0.5)`` for a negative one, unchanged otherwise."""
    return f"({s})" if s.startswith(MINUS) else s


def set_printoptions(precision: int = 4) -> None:
    """Make NumPy print float arrays the way the book's figures write numbers; call once per notebook.

    Each entry has at most ``precision`` decimals, without trailing zeros and without a
    trailing ``.`` (``46``, ``3.5``, ``0.0625``, never ``46.``), exact zero (also ``-0.0`` and
    what rounds to zero) as ``0``, and a true minus sign; entries are right-aligned to one
    width, so the columns of a printed matrix line up. Integer arrays print as NumPy prints
    them. Changes NumPy's global print options (``np.set_printoptions``).

    The entries are formatted by a ``formatter``, which NumPy hands one number at a time and
    never the ``precision`` of a single call: ``np.array2string(a, precision=6)`` still prints
    ``precision`` decimals, and ``np.set_printoptions``/``np.printoptions`` drop the formatter.
    For more decimals call ``set_printoptions(precision=6)`` again, or format the numbers
    yourself (``f"{v:.6f}"``).
    """
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 12:
        raise ValueError(f"set_printoptions: precision must be an int from 0 to 12, got {precision!r}")
    width = precision + 3  # "−0." and the decimals: a column of numbers below 10 in magnitude lines up

    def entry(v) -> str:
        v = float(v)
        if not math.isfinite(v):
            s = "nan" if math.isnan(v) else ("inf" if v > 0 else MINUS + "inf")
        else:
            s = np.format_float_positional(v, precision=precision, unique=True, trim="-")
            s = "0" if s in ("0", "-0") else s.replace("-", MINUS)
        return s.rjust(width)

    np.set_printoptions(precision=precision, suppress=True, linewidth=110, formatter={"float_kind": entry})

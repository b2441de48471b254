"""Numbers as the book prints them: in figures, in explorers' cells and in read-outs.

One home for every number format, so that a figure, an explorer and a route's equation
write the same value the same way: a true minus sign (U+2212), exact zero as ``0``.

* :func:`format_number` — fixed decimals (figures' cell labels, equations);
* :func:`auto_decimals` / :class:`Formatter` — the decimals that show an array's entries
  with about three significant digits of the largest; a user format spec instead;
* :func:`cell_label` — at most five characters, for an explorer's small heat-map cells;
* :func:`readout_number` — significant digits, for an explorer's text read-out;
* :func:`factor` — a number inside a product, bracketed when negative: ``(−0.5)``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MINUS", "auto_decimals", "format_number", "Formatter", "cell_label", "readout_number", "factor"]

MINUS = "\u2212"


def auto_decimals(values: np.ndarray) -> int | None:
    """Decimals that show every entry of ``values`` with about 3 significant digits of the largest.

    Fewer when all entries are exactly representable with fewer (0.51 stays 0.51);
    ``None`` means "use the general format" (tiny or huge magnitudes).
    """
    finite = values[np.isfinite(values)].astype(np.float64)
    nonzero = np.abs(finite[finite != 0])
    if nonzero.size == 0:
        return 0
    m = float(nonzero.max())
    if m >= 1e4 or m < 1e-3:
        return None
    dmax = int(np.clip(2 - math.floor(math.log10(m)), 0, 4))
    for d in range(dmax + 1):
        if np.all(np.abs(np.round(finite, d) - finite) <= 1e-9 * np.maximum(1.0, np.abs(finite))):
            return d
    return dmax


def format_number(v: float, decimals: int | None = 2) -> str:
    """Format one number the way the figures print it: fixed decimals, exact zero as ``0``, a true minus sign."""
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
        if "{" in self.fmt:
            return self.fmt.format(v)
        return format(v, self.fmt)


def cell_label(v: float) -> str:
    """Short label for an explorer's heat-map cell: at most five characters, a true minus sign.

    0.25, −1.5, 12.5, 130, 1.2k; small magnitudes keep two significant digits by
    dropping the leading zero (−.036, .0054 → .005); below 0.0005, ≈0.
    """
    v = float(v)
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("∞" if v > 0 else MINUS + "∞")
    a = abs(v)
    if a == 0:
        return "0"
    if a < 0.0005:
        return "≈0"
    if a < 0.0095:
        s = f"{a:.3f}"[1:]
    elif a < 0.0995:
        s = f"{a:.3f}"[1:].rstrip("0")
    elif a >= 999.5:
        s = f"{a / 1000:.1f}k" if a < 9999.5 else f"{a / 1000:.0f}k"
    elif abs(a - round(a)) < 5e-9:
        s = f"{round(a):d}"
    elif a >= 99.5:
        s = f"{a:.0f}"
    elif a >= 9.95:
        s = f"{a:.1f}".removesuffix(".0")
    else:
        s = f"{a:.2f}".rstrip("0")
    return s if v > 0 else MINUS + s


def readout_number(v: float, digits: int = 4) -> str:
    """A number for an explorer's text read-out: ``digits`` significant digits, a true minus sign."""
    v = float(v)
    if v == 0:
        return "0"
    return f"{v:.{digits}g}".replace("-", MINUS)


def factor(s: str) -> str:
    """A formatted number as a factor of a product: ``(−0.5)`` for a negative one, unchanged otherwise."""
    return f"({s})" if s.startswith(MINUS) else s

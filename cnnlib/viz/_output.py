"""How a notebook output carries a picture: twice its page size in pixels, its page size and its description.

No pyplot here: ``cnnlib.widgets`` uses it for the explorers' static pictures.
"""

from __future__ import annotations

__all__ = ["DISPLAY_SCALE", "display_bundle", "png_size"]

#: a notebook shows figures at this many device pixels per CSS pixel, so they stay crisp at 200 % zoom
#: (and on high-density screens); the output's width and height metadata keep their size on the page
DISPLAY_SCALE = 2


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("png_size: not PNG data")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def display_bundle(png: bytes, alt: str, scale: int = DISPLAY_SCALE) -> tuple[dict, dict]:
    """The (data, metadata) a notebook output needs for a PNG drawn at ``scale`` × its page size.

    The metadata's ``width``/``height`` (CSS pixels) make JupyterLab, Colab, GitHub and the
    website draw it at its page size; ``alt`` is its text description (the website's alt text),
    which is also the output's plain text.
    """
    w, h = png_size(png)
    meta = {"width": max(1, round(w / scale)), "height": max(1, round(h / scale)), "alt": alt}
    return {"image/png": png, "text/plain": alt}, {"image/png": meta}

"""``tools/site.py`` writes each output picture's description into the website's ``<img alt>`` (no browser needed)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import sys

import pytest
from _tools import TOOLS

pytest.importorskip("yaml")
# not through load_tool: "site" is the name of a standard-library module that is always imported
_spec = importlib.util.spec_from_file_location("book_site_tool", TOOLS / "site.py")
site = importlib.util.module_from_spec(_spec)
sys.modules["book_site_tool"] = site
_spec.loader.exec_module(site)

PNG_A = b"\x89PNG\r\n\x1a\n" + b"first picture"
PNG_B = b"\x89PNG\r\n\x1a\n" + b"second picture"


def _staged(tmp_path, outputs):
    nb = {"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": outputs}]}
    folder = tmp_path / "stage" / "notebooks"
    folder.mkdir(parents=True)
    (folder / "01_x.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return tmp_path / "stage"


def _output(png: bytes, alt: str | None):
    meta = {"image/png": {"width": 10, "height": 5, **({"alt": alt} if alt is not None else {})}}
    return {"output_type": "display_data", "data": {"image/png": base64.b64encode(png).decode()}, "metadata": meta}


def _page(tmp_path, *pngs):
    page = tmp_path / "site" / "notebooks" / "01_x.html"
    page.parent.mkdir(parents=True)
    names = [f"../_images/{hashlib.sha256(p).hexdigest()}.png" for p in pngs]
    tags = "".join(f'<img alt="{n}" src="{n}" style="width: 10px;" />' for n in names)
    page.write_text(f"<html><body><img alt='logo' src='_static/logo.png'>{tags}</body></html>", encoding="utf-8")
    return page


def test_descriptions_replace_the_file_names(tmp_path):
    stage = _staged(tmp_path, [_output(PNG_A, 'A "quoted" & plotted\n  curve.'), _output(PNG_B, "δZ: 2×2.")])
    descriptions = site.image_descriptions(stage)
    assert descriptions == {
        hashlib.sha256(PNG_A).hexdigest(): 'A "quoted" & plotted curve.',
        hashlib.sha256(PNG_B).hexdigest(): "δZ: 2×2.",
    }
    page = _page(tmp_path, PNG_A, PNG_B)
    assert site.add_alt_text(tmp_path / "site", descriptions) == 2
    text = page.read_text(encoding="utf-8")
    assert 'alt="A &quot;quoted&quot; &amp; plotted curve."' in text and 'alt="δZ: 2×2."' in text
    assert "_images/" not in text.split("alt=", 2)[2].split(" src=")[0]  # no file name left as alt text
    assert text.count("alt=") == 3 and "alt='logo'" in text  # one alt per picture; other images untouched


def test_a_picture_without_a_description_stops_the_build(tmp_path):
    stage = _staged(tmp_path, [_output(PNG_A, "A curve."), _output(PNG_B, None)])
    _page(tmp_path, PNG_A, PNG_B)
    with pytest.raises(SystemExit, match="shows 1 picture\\(s\\) without a description"):
        site.add_alt_text(tmp_path / "site", site.image_descriptions(stage))

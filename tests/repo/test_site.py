"""The website (``make site``) in a real browser, with the network cut off.

Serves ``build/site`` (or ``$CNNLIB_SITE_DIR``) from 127.0.0.1 and opens it in Debian's
Chromium through playwright, **aborting every request that does not go to that server**, then
checks what a reader sees:

* every page of the table of contents is there, chapters then worked solutions, in order, each
  chapter with its Colab and Binder launch links to its own notebook;
* on every page MathJax (served by the site itself) typesets every formula, with no error, and
  chapter 03's tagged equations carry their numbers;
* every image on every page loads, every chapter shows pictures in its outputs, and every
  explorer's output shows its picture (never the "run the notebook" placeholder text);
* every picture in a cell output has its description as its alt text (never a file name) and
  twice as many pixels as the page draws it with (crisp at 200 % zoom);
* the Colab setup cell is hidden;
* the search page finds ``col2im`` and links to chapter 10.

Skipped when there is no built site (``make site`` builds it; ``make site-check`` builds it and
runs this file with ``CNNLIB_REQUIRE_SITE=1``, which turns the skip into a failure), when
Chromium is missing, or when playwright is not installed.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("CNNLIB_SITE_DIR", ROOT / "build" / "site"))
PLACEHOLDER = "an interactive explorer — run the notebook"


def _notebooks(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.ipynb") if re.match(r"\d+_", p.name))


CHAPTERS = _notebooks(ROOT / "notebooks")
SOLUTIONS = _notebooks(ROOT / "notebooks" / "solutions")
PAGES = [f"notebooks/{c}.html" for c in CHAPTERS] + [f"notebooks/solutions/{s}.html" for s in SOLUTIONS]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server():
    """The built site on a free port of 127.0.0.1; yields its base URL."""
    if not (SITE / "index.html").is_file():
        message = f"no built site at {SITE}: run `make site` first"
        if os.environ.get("CNNLIB_REQUIRE_SITE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser_page(server):
    """A Chromium page whose every request to anything but the site's server is aborted.

    Yields ``(page, blocked, failed)``: the URLs aborted, and the local URLs that failed (4xx/5xx).
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run this test")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the Python playwright package is not installed")
    host = urlsplit(server).netloc
    blocked: list[str] = []
    failed: list[str] = []

    def route(r):
        parts = urlsplit(r.request.url)
        if parts.scheme in ("data", "blob") or parts.netloc == host:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route("**/*", route)
            page = context.new_page()
            page.on("response", lambda resp: failed.append(resp.url) if resp.status >= 400 else None)
            yield page, blocked, failed
        finally:
            browser.close()


def _open(page, url: str) -> None:
    page.goto(url, wait_until="load")
    # MathJax 3 resolves startup.promise once the first typesetting pass is done.
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
        " && MathJax.startup.promise.then(() => true)",
        timeout=30_000,
    )


def test_site_lists_every_chapter_then_every_solution_in_order(server, browser_page):
    page, blocked, _ = browser_page
    _open(page, f"{server}/index.html")
    hrefs = page.eval_on_selector_all(
        "nav.bd-links a.reference.internal", "els => els.map(e => e.getAttribute('href'))"
    )
    listed = [h.split("#")[0].removeprefix("./") for h in hrefs if h.startswith(("notebooks/", "./notebooks/"))]
    assert CHAPTERS, "no chapters found in notebooks/"
    assert listed == PAGES, f"navigation lists {listed}, expected {PAGES}"
    assert page.title().startswith("Backpropagation through CNNs")


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_offline(server, browser_page, path):
    page, blocked, failed = browser_page
    blocked.clear()
    failed.clear()
    _open(page, f"{server}/{path}")

    # formulas: every math node typeset, none left as TeX source, no MathJax error
    state = page.evaluate(
        """() => ({
            math: document.querySelectorAll('div.math, span.math').length,
            typeset: document.querySelectorAll('div.math mjx-container, span.math mjx-container').length,
            errors: document.querySelectorAll('mjx-merror').length,
            labels: Array.from(document.querySelectorAll('mjx-container mjx-assistive-mml mlabeledtr'))
                         .map(e => e.querySelector('mtd').textContent.trim()),
        })"""
    )
    assert state["math"] > 0, f"{path}: no formulas found"
    assert state["typeset"] == state["math"], f"{path}: {state['math'] - state['typeset']} formulas not typeset"
    assert state["errors"] == 0, f"{path}: MathJax reported {state['errors']} errors"

    # pictures: every image loaded and has pixels
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert broken == [], f"{path}: images that did not load: {broken}"
    text = page.inner_text("main")
    assert PLACEHOLDER not in text, f"{path}: an explorer shows its placeholder text instead of its picture"
    assert "google.colab" not in page.content(), f"{path}: the Colab setup cell is shown"

    failed = [u for u in failed if urlsplit(u).path != "/favicon.ico"]  # the browser's own guess, not the page's
    assert failed == [], f"{path}: local requests that failed: {failed}"
    assert blocked == [], f"{path}: the page asks for files from other servers: {blocked}"

    if path.startswith("notebooks/solutions/"):
        return
    notebook = path.replace(".html", ".ipynb")
    links = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
    assert any("colab.research.google.com/github/" in h and h.endswith(notebook) for h in links), (
        f"{path}: no Colab launch link to {notebook}"
    )
    assert any("mybinder.org/v2/gh/" in h and notebook in h for h in links), f"{path}: no Binder launch link"
    images = page.evaluate("() => document.querySelectorAll('div.cell_output img').length")
    assert images > 0, f"{path}: no pictures in the cell outputs"
    if path.startswith("notebooks/03_"):
        assert "(3.1)" in state["labels"] and "(3.3)" in state["labels"], f"equation numbers: {state['labels']}"


@pytest.mark.parametrize("path", PAGES)
def test_every_picture_has_a_description_and_its_page_size(server, browser_page, path):
    """Alt text a screen reader reads (not a file name), and a PNG with twice the pixels it is drawn with."""
    page, _, _ = browser_page
    _open(page, f"{server}/{path}")
    pictures = page.evaluate(
        """() => Array.from(document.querySelectorAll('div.cell_output img')).map(i => ({
            alt: i.getAttribute('alt') || '', src: i.getAttribute('src'),
            shown: i.getBoundingClientRect().width, natural: i.naturalWidth}))"""
    )
    for p in pictures:
        name = p["src"].rsplit("/", 1)[-1]
        assert len(p["alt"].split()) >= 3 and name not in p["alt"], f"{path}: {name} has alt text {p['alt']!r}"
        assert p["natural"] >= 1.9 * p["shown"], f"{path}: {name} is drawn at {p['shown']} px from {p['natural']}"


def test_search_finds_col2im(server, browser_page):
    page, blocked, _ = browser_page
    page.goto(f"{server}/search.html?q=col2im", wait_until="load")
    page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))")
    assert any("10_making_it_fast" in h for h in hits), f"search for col2im found {hits}"

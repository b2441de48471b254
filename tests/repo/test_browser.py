"""The explorers in a real browser: JupyterLab + Debian's Chromium, driven by playwright.

Starts ``jupyter lab`` on 127.0.0.1 (a free port, a random token, a temporary root
holding a copy of ``tests/repo/data/explorers.ipynb``), opens the notebook in
``/usr/bin/chromium`` through the Python ``playwright`` package (never
``playwright install``), runs all cells from the Run menu, waits for the explorers'
pictures, focuses a slider and presses ArrowRight, and checks that the picture changed,
that a decimal comma typed into a cell is read as a decimal point, that in a 1400×1000
window with JupyterLab's side panel open (as it opens) notebook 08's explorer at its
largest fits the notebook area, no picture is scaled down by the browser (its text would
shrink with it) and no edit box cuts its number short, and that no error output or
traceback appeared. Screenshots go to
``artifacts/browser/`` (git-ignored). The server and every kernel it started are shut
down afterwards, whatever happens.

Skipped, with the reason, when Chromium or playwright is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "repo" / "data" / "explorers.ipynb"
SHOTS = ROOT / "artifacts" / "browser"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (Linux /proc; kernels are started in their own session)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _api(base: str, token: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        body = resp.read()
    return json.loads(body) if body else None


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port; yields (base_url, token, root_dir)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run this test")
    pytest.importorskip("playwright.sync_api", reason="the Python playwright package is not installed")
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed in this environment")
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(FIXTURE, root / FIXTURE.name)
    port, token = _free_port(), secrets.token_hex(16)
    runtime = tmp_path / "runtime"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTER_PLATFORM_DIRS="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    # no "official Jupyter news?" toast over the screenshots
    news = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    log = open(tmp_path / "lab.log", "w")  # noqa: SIM115 - closed in the finalizer
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    kernels: set[int] = set()
    try:
        deadline = time.monotonic() + 45
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited early:\n{(tmp_path / 'lab.log').read_text()[-3000:]}")
            try:
                _api(base, token, "/api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer:\n{(tmp_path / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield base, token, root, kernels
    finally:
        # 1. ask the server to shut its kernels down, then itself
        with contextlib.suppress(Exception):
            for k in _api(base, token, "/api/kernels") or []:
                with contextlib.suppress(Exception):
                    _api(base, token, f"/api/kernels/{k['id']}", method="DELETE")
        kernels.update(_children(server.pid))
        with contextlib.suppress(Exception):
            _api(base, token, "/api/shutdown", method="POST")
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        # 2. any kernel process that outlived its server (they run in their own session)
        for pid in kernels:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        log.close()


def _shot(page_or_locator, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page_or_locator.screenshot(path=str(SHOTS / name))


def _accept_kernel_dialog(page, wait_ms: int = 4000) -> None:
    """JupyterLab may ask which kernel to start: take the notebook's own (Python 3)."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    with contextlib.suppress(Exception):
        dialog.wait_for(state="visible", timeout=wait_ms)
    if dialog.count():
        dialog.locator("button", has_text="Select").first.click()
        dialog.wait_for(state="detached")


def test_explorers_run_and_answer_the_keyboard(lab):
    from playwright.sync_api import sync_playwright

    base, token, _, _ = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1200})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/{FIXTURE.name}?token={token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
            _accept_kernel_dialog(page)
            _shot(page, "01_opened.png")

            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            _accept_kernel_dialog(page)

            conv = page.locator(".cnnlib-conv-forward-explorer").first
            page.wait_for_function(
                "() => [...document.querySelectorAll('.cnnlib-explorer img.widget-image')]"
                ".filter(img => img.complete && img.naturalWidth > 300).length >= 8"
            )
            # the static figure of the last cell (an ordinary image output)
            page.wait_for_selector(".jp-OutputArea-output[data-mime-type='image/png'] img", state="attached")
            conv.scroll_into_view_if_needed()
            _shot(page, "02_ran_all.png")
            _shot(conv, "03_conv_forward_explorer.png")
            image = conv.locator("img.widget-image").first
            before = image.get_attribute("src")

            # focus the "window #" slider of the convolution explorer and press ArrowRight
            slider = conv.locator(".widget-slider", has=page.locator(".widget-label", has_text="window #")).first
            handle = slider.locator(".noUi-handle, .ui-slider-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "before => document.querySelector('.cnnlib-conv-forward-explorer img.widget-image').src !== before",
                arg=before,
                timeout=15_000,
            )
            assert image.get_attribute("src") != before
            readout = slider.locator(".widget-readout").first.inner_text().strip()
            assert readout == "1", f"the slider did not move one step: readout {readout!r}"
            page.wait_for_timeout(300)
            _shot(conv, "04_conv_forward_after_arrow_right.png")
            names = [
                "conv-backward",
                "pool-backward",
                "pipeline",
                "dense-softmax",
                "channels",
                "digits",
                "depth",
                "conv-transpose",
                "graph",
            ]
            for k, name in enumerate(names, start=5):
                box = page.locator(f".cnnlib-{name}-explorer").first
                box.scroll_into_view_if_needed()
                _shot(box, f"{k:02d}_{name.replace('-', '_')}_explorer.png")
            static = page.locator(".jp-OutputArea-output[data-mime-type='image/png']").last
            static.scroll_into_view_if_needed()
            _shot(static, f"{5 + len(names):02d}_static_figure.png")

            # the channels explorer answers too: pick another column of the explained entry
            channels = page.locator(".cnnlib-channels-explorer").first
            ch_image = channels.locator("img.widget-image").first
            ch_before = ch_image.get_attribute("src")
            ch_slider = channels.locator(".widget-slider", has=page.locator(".widget-label", has_text="column")).first
            ch_slider.locator(".noUi-handle, .ui-slider-handle").first.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "before => document.querySelector('.cnnlib-channels-explorer img.widget-image').src !== before",
                arg=ch_before,
                timeout=15_000,
            )

            # the depth explorer answers: one layer more
            deep = page.locator(".cnnlib-depth-explorer").first
            deep_image = deep.locator("img.widget-image").first
            deep_before = deep_image.get_attribute("src")
            deep_slider = deep.locator(".widget-slider", has=page.locator(".widget-label", has_text="depth")).first
            deep_slider.locator(".noUi-handle, .ui-slider-handle").first.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "before => document.querySelector('.cnnlib-depth-explorer img.widget-image').src !== before",
                arg=deep_before,
                timeout=15_000,
            )
            assert deep_slider.locator(".widget-readout").first.inner_text().strip() == "13"

            # the transposed-convolution explorer answers: the next input cell stamps the kernel
            tconv = page.locator(".cnnlib-conv-transpose-explorer").first
            tc_image = tconv.locator("img.widget-image").first
            tc_before = tc_image.get_attribute("src")
            tc_slider = tconv.locator(".widget-slider", has=page.locator(".widget-label", has_text="row u")).first
            tc_slider.locator(".noUi-handle, .ui-slider-handle").first.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "before => document.querySelector('.cnnlib-conv-transpose-explorer img.widget-image').src !== before",
                arg=tc_before,
                timeout=15_000,
            )

            # the computation-graph explorer (notebook 13) answers too: one more step of the backward pass
            graph = page.locator(".cnnlib-graph-explorer").first
            graph_before = graph.locator("img.widget-image").first.get_attribute("src")
            graph_slider = graph.locator(".widget-slider", has=page.locator(".widget-label", has_text="step")).first
            graph_slider.locator(".noUi-handle, .ui-slider-handle").first.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "before => document.querySelector('.cnnlib-graph-explorer img.widget-image').src !== before",
                arg=graph_before,
                timeout=15_000,
            )

            # a decimal comma typed into a cell of X is read as a decimal point: a new picture, no message
            cell = conv.locator("input[type='text']").first
            before = image.get_attribute("src")
            cell.fill("3,5")
            cell.press("Enter")
            page.wait_for_function(
                "before => document.querySelector('.cnnlib-conv-forward-explorer img.widget-image').src !== before",
                arg=before,
                timeout=15_000,
            )
            page.wait_for_timeout(300)
            assert cell.input_value() == "3.5", cell.input_value()
            assert "⚠" not in conv.inner_text()

            # a 1400×1000 window, the side panel open as JupyterLab opens it: notebook 08's explorer at its
            # largest (stride 1, padding 1, the δZ grid shown) fits the notebook area without scrolling
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.wait_for_timeout(500)
            area = page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first.bounding_box()
            assert area["x"] > 200, f"the side panel is not open: the notebook area starts at x = {area['x']}"
            backward = page.locator(".cnnlib-conv-backward-explorer").first
            backward.locator("button", has_text="δZ").first.click()
            backward.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            _shot(page, f"{6 + len(names):02d}_conv_backward_in_1400x1000.png")
            box = backward.bounding_box()
            assert box["height"] <= area["height"] and box["width"] <= area["width"], (box, area)

            # every picture at its own size (a scaled-down picture scales its text down too),
            # every edit box wide enough for its number
            sizes = page.evaluate(
                "() => [...document.querySelectorAll('.cnnlib-explorer img.widget-image')]"
                ".map(i => [i.closest('.cnnlib-explorer').className, i.naturalWidth, i.getBoundingClientRect().width])"
            )
            scaled = [(c.split()[-1], n, round(w)) for c, n, w in sizes if abs(n - w) > 1]
            assert not scaled, f"pictures scaled by the browser: {scaled}"
            cut_boxes = page.evaluate(
                "() => [...document.querySelectorAll('.cnnlib-explorer input[type=text]')]"
                ".filter(i => i.scrollWidth > i.clientWidth + 1).map(i => i.value)"
            )
            assert not cut_boxes, f"edit boxes too narrow for their number: {cut_boxes}"

            # no button label is cut short ("avera…"): its text fits the button
            labels = page.evaluate(
                "() => [...document.querySelectorAll('.cnnlib-explorer button')]"
                ".map(b => [b.innerText.trim(), b.scrollWidth, b.clientWidth])"
            )
            assert "average" in [t for t, _, _ in labels], labels
            cut = [t for t, scroll, client in labels if scroll > client + 1]
            assert not cut, f"button labels cut short: {cut}"

            errors = page.locator('.jp-OutputArea-output[data-mime-type*="error"]')
            assert errors.count() == 0, errors.first.inner_text()
            outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
            assert not any("Traceback" in t for t in outputs), outputs
            assert not any("something went wrong" in t for t in outputs), outputs
        except Exception:
            with contextlib.suppress(Exception):
                _shot(page, "99_failure.png")
            raise
        finally:
            browser.close()

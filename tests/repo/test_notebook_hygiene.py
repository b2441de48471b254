"""Every notebook under notebooks/ is saved the way the book promises.

For each notebook (chapters and notebooks/solutions/):

* valid nbformat 4;
* executed: every code cell with source has an execution count and the counts run 1, 2, ..., n;
* no ``metadata.widgets`` (saved widget state) and every widget output has a text/plain fallback;
* no error outputs;
* the first code cell is the Colab setup cell (the same text in every notebook, with the
  repository URL from pyproject.toml), tagged ``nbval-ignore-output``;
* every cell that shows an explorer (a widget output) is tagged ``nbval-ignore-output``, and
  the widget's output carries the explorer's picture (image/png) as well, which static
  renders such as GitHub's show in its place;
* the opening markdown cell says "What you will learn";
* chapters (not solutions) have a "Summary" and an "Exercises" heading.

With no notebooks the per-notebook test passes vacuously. The checker functions are tested
on small in-memory notebooks below, so a broken notebook is known to be caught.
"""

from __future__ import annotations

import base64
import copy
import re
import struct
import zlib
from pathlib import Path

import nbformat
import pytest
from _tools import load_tool

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
BOOK = load_tool("book")

IGNORE_TAG = "nbval-ignore-output"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def setup_cell_text(url: str | None = None) -> str:
    """The Colab setup cell of tools/book.py, for ``url`` (default: the repository URL in pyproject.toml)."""
    return BOOK.colab_setup_cell(url or BOOK.repository_url(ROOT))


def find_notebooks() -> list[Path]:
    if not NOTEBOOK_DIR.exists():
        return []
    return sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def is_solutions(path: Path) -> bool:
    return "solutions" in path.relative_to(NOTEBOOK_DIR).parts[:-1] if path.is_relative_to(NOTEBOOK_DIR) else False


# --------------------------------------------------------------------------- checkers
# Each takes a notebook (nbformat.NotebookNode) and returns a list of human-readable problems.


def _code_cells(nb):
    return [(k, c) for k, c in enumerate(nb.cells) if c.cell_type == "code"]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def check_valid(nb) -> list[str]:
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        return [f"not valid nbformat: {exc.message}"]
    if nb.get("nbformat") != 4:
        return [f"nbformat must be 4, got {nb.get('nbformat')}"]
    return []


def check_executed(nb) -> list[str]:
    problems = []
    counts = []
    for k, cell in _code_cells(nb):
        if not cell.source.strip():
            continue
        if cell.get("execution_count") is None:
            problems.append(f"cell {k} has source but no execution count (not executed)")
        else:
            counts.append(cell.execution_count)
    if not problems and counts != list(range(1, len(counts) + 1)):
        problems.append(f"execution counts must run 1..{len(counts)} in order, got {counts}")
    return problems


def check_no_widget_state(nb) -> list[str]:
    problems = []
    if "widgets" in nb.metadata:
        problems.append("metadata.widgets present (saved widget state): run tools/run_notebooks.py")
    for k, cell in _code_cells(nb):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data and not str(data.get("text/plain", "")).strip():
                problems.append(f"cell {k}: widget output without a text/plain fallback")
    return problems


def check_no_errors(nb) -> list[str]:
    return [
        f"cell {k}: error output {out.get('ename')}: {out.get('evalue')}"
        for k, cell in _code_cells(nb)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


def check_setup_cell(nb, expected: str | None = None) -> list[str]:
    expected = setup_cell_text() if expected is None else expected
    code = _code_cells(nb)
    if not code:
        return ["no code cell: the first code cell must be the Colab setup cell"]
    k, cell = code[0]
    problems = []
    if cell.source.rstrip() != expected.rstrip():
        problems.append(
            f"cell {k}: the first code cell is not the Colab setup cell (see tests/repo/test_notebook_hygiene.py)"
        )
    if IGNORE_TAG not in _tags(cell):
        problems.append(f"cell {k}: the Colab setup cell must be tagged {IGNORE_TAG}")
    return problems


def check_explorer_cells(nb) -> list[str]:
    """A cell that shows a live widget is tagged nbval-ignore-output, and the widget's output also carries
    the explorer's picture (image/png), which front ends that cannot run widgets show instead."""
    problems = []
    for k, cell in enumerate(nb.cells):
        widget_outputs = [out for out in cell.get("outputs", []) if WIDGET_MIME in out.get("data", {})]
        if cell.cell_type != "code" or not widget_outputs:
            continue
        if IGNORE_TAG not in _tags(cell):
            problems.append(f"cell {k}: a cell that shows an explorer must be tagged {IGNORE_TAG}")
        if not all("image/png" in out["data"] for out in widget_outputs):
            problems.append(
                f"cell {k}: the explorer's output must carry its picture (image/png) next to the widget, "
                "for readers whose front end does not run widgets"
            )
    return problems


def _png_size(b64) -> tuple[int, int] | None:
    data = base64.b64decode("".join(b64) if isinstance(b64, list) else b64)
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def check_pictures_described(nb) -> list[str]:
    """Every picture carries its description (alt text, a sentence of at least three words) and is
    drawn at half its pixel size (``width``/``height`` metadata), so it stays crisp at 200 % zoom."""
    problems = []
    for k, cell in _code_cells(nb):
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png is None:
                continue
            meta = out.get("metadata", {}).get("image/png", {})
            if len(str(meta.get("alt", "")).split()) < 3:
                problems.append(f"cell {k}: a picture without a description (alt text): use cnnlib.viz.describe")
            size = _png_size(png)
            if size is None:
                problems.append(f"cell {k}: image/png output that is not PNG data")
            elif not (abs(size[0] - 2 * meta.get("width", 0)) <= 1 and abs(size[1] - 2 * meta.get("height", 0)) <= 1):
                problems.append(
                    f"cell {k}: a {size[0]}×{size[1]} picture drawn at {meta.get('width')}×{meta.get('height')}: "
                    "figures are shown at twice their page size (draw them with cnnlib.viz)"
                )
    return problems


def check_opening(nb) -> list[str]:
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        return ["the first cell must be a markdown cell (title, what you will learn, prerequisites, notation)"]
    if "what you will learn" not in nb.cells[0].source.lower():
        return ["the opening cell must say 'What you will learn'"]
    return []


def _has_heading(nb, word: str) -> bool:
    pattern = re.compile(rf"^\s*#{{1,6}}\s+.*\b{word}\b", re.IGNORECASE | re.MULTILINE)
    return any(c.cell_type == "markdown" and pattern.search(c.source) for c in nb.cells)


def check_closing_sections(nb) -> list[str]:
    return [f"no '{word}' heading" for word in ("Summary", "Exercises") if not _has_heading(nb, word)]


def notebook_problems(nb, *, chapter: bool, expected_setup: str | None = None) -> list[str]:
    problems = check_valid(nb)
    if problems:  # the other checks assume a well-formed notebook
        return problems
    problems += check_executed(nb)
    problems += check_no_widget_state(nb)
    problems += check_no_errors(nb)
    problems += check_setup_cell(nb, expected_setup)
    problems += check_explorer_cells(nb)
    problems += check_pictures_described(nb)
    problems += check_opening(nb)
    if chapter:
        problems += check_closing_sections(nb)
    return problems


# --------------------------------------------------------------------------- the notebooks themselves

NOTEBOOKS = find_notebooks()
PARAMS = [pytest.param(p, id=str(p.relative_to(NOTEBOOK_DIR))) for p in NOTEBOOKS] or [
    pytest.param(None, id="no-notebooks-yet")
]


#: the largest a committed notebook may be: its pictures are drawn at twice their page size, which
#: roughly doubles a chapter; this keeps every chapter quick to open and to render on the web
MAX_NOTEBOOK_BYTES = 3_000_000


@pytest.mark.parametrize("path", PARAMS)
def test_notebook_size(path):
    if path is None:
        return
    size = path.stat().st_size
    assert size <= MAX_NOTEBOOK_BYTES, (
        f"{path.relative_to(ROOT)} is {size / 1e6:.1f} MB, over {MAX_NOTEBOOK_BYTES / 1e6:g} MB"
    )


@pytest.mark.parametrize("path", PARAMS)
def test_notebook_hygiene(path):
    if path is None:
        return  # nothing to check yet
    nb = nbformat.read(path, as_version=4)
    problems = notebook_problems(nb, chapter=not is_solutions(path))
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


def test_setup_cell_identical_everywhere():
    texts = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = _code_cells(nb)
        if code:
            texts.setdefault(code[0][1].source.rstrip(), []).append(path.name)
    assert len(texts) <= 1, f"the Colab setup cell differs between notebooks: {list(texts.values())}"


# --------------------------------------------------------------------------- the checkers can fail


def _tiny_png(width: int, height: int) -> str:
    """A white PNG of ``width`` × ``height`` pixels, base64-encoded as a notebook stores it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(data).decode("ascii")


PICTURE_META = {"image/png": {"width": 4, "height": 3, "alt": "A small white test picture."}}


def _good_notebook(solutions: bool = False):
    nbf = nbformat.v4
    nb = nbf.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    png = {"image/png": _tiny_png(8, 6), "text/plain": "A small white test picture."}
    cells = [
        nbf.new_markdown_cell("# 99 · Test chapter\n\n## What you will learn\n- something"),
        nbf.new_code_cell(setup_cell_text(), metadata={"tags": [IGNORE_TAG]}),
        nbf.new_code_cell("import numpy as np", execution_count=None),
        nbf.new_code_cell("ex = conv_forward_explorer(X, W)\nex", metadata={"tags": [IGNORE_TAG]}),
        nbf.new_code_cell("plt.plot([0, 1])"),
        nbf.new_code_cell(""),  # an empty cell is never executed
    ]
    if not solutions:
        cells += [nbf.new_markdown_cell("## Summary\n- eq."), nbf.new_markdown_cell("## Exercises\n1. ...")]
    nb.cells = cells
    n = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip():
            n += 1
            cell.execution_count = n
    nb.cells[3].outputs = [
        nbf.new_output(
            "display_data",
            data={
                WIDGET_MIME: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                "text/plain": "VBox(...)",
                "image/png": _tiny_png(8, 6),
            },
            metadata=PICTURE_META,
        )
    ]
    nb.cells[4].outputs = [nbf.new_output("display_data", data=png, metadata=PICTURE_META)]
    return nb


def test_good_notebook_passes():
    assert notebook_problems(_good_notebook(), chapter=True) == []
    assert notebook_problems(_good_notebook(solutions=True), chapter=False) == []


def _break_not_executed(nb):
    nb.cells[2].execution_count = None


def _break_counts_out_of_order(nb):
    nb.cells[2].execution_count, nb.cells[3].execution_count = nb.cells[3].execution_count, nb.cells[2].execution_count


def _break_counts_gap(nb):
    nb.cells[4].execution_count = 7


def _break_widget_state(nb):
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}


def _break_widget_fallback(nb):
    del nb.cells[3].outputs[0]["data"]["text/plain"]


def _break_error_output(nb):
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])]


def _break_setup_text(nb):
    nb.cells[1].source = nb.cells[1].source.replace("--no-deps", "--upgrade")


def _break_setup_missing(nb):
    del nb.cells[1]


def _break_setup_tag(nb):
    nb.cells[1].metadata["tags"] = []


def _break_explorer_tag(nb):
    nb.cells[3].metadata["tags"] = []


def _break_explorer_no_figure(nb):
    del nb.cells[3].outputs[0]["data"]["image/png"]


def _break_opening(nb):
    nb.cells[0].source = "# 99 · Test chapter\n\nIn this chapter..."


def _break_opening_code(nb):
    del nb.cells[0]


def _break_summary(nb):
    nb.cells[6].source = "## Recap\n- eq."


def _break_exercises(nb):
    nb.cells[7].source = "Exercises are below."  # not a heading


def _break_alt_text(nb):
    nb.cells[4].outputs[0].metadata = {"image/png": {"width": 4, "height": 3}}


def _break_picture_scale(nb):
    nb.cells[3].outputs[0].data["image/png"] = _tiny_png(4, 3)  # one pixel per page pixel: blurred when zoomed


def _break_invalid(nb):
    nb.cells[2]["outputs"] = "not a list"


BREAKERS = {
    _break_not_executed: check_executed,
    _break_counts_out_of_order: check_executed,
    _break_counts_gap: check_executed,
    _break_widget_state: check_no_widget_state,
    _break_widget_fallback: check_no_widget_state,
    _break_error_output: check_no_errors,
    _break_setup_text: check_setup_cell,
    _break_setup_missing: check_setup_cell,
    _break_setup_tag: check_setup_cell,
    _break_explorer_tag: check_explorer_cells,
    _break_explorer_no_figure: check_explorer_cells,
    _break_opening: check_opening,
    _break_opening_code: check_opening,
    _break_summary: check_closing_sections,
    _break_exercises: check_closing_sections,
    _break_alt_text: check_pictures_described,
    _break_picture_scale: check_pictures_described,
    _break_invalid: check_valid,
}


@pytest.mark.parametrize("breaker", list(BREAKERS), ids=[b.__name__[len("_break_") :] for b in BREAKERS])
def test_checker_catches_broken_notebook(breaker):
    nb = _good_notebook()
    checker = BREAKERS[breaker]
    assert checker(nb) == [], "the unbroken notebook must pass this checker"
    broken = copy.deepcopy(nb)
    breaker(broken)
    assert checker(broken), f"{checker.__name__} missed {breaker.__name__}"
    assert notebook_problems(broken, chapter=True), "the combined check must fail too"


def test_solutions_need_no_summary():
    nb = _good_notebook(solutions=True)
    assert check_closing_sections(nb)  # a chapter without them would fail...
    assert notebook_problems(nb, chapter=False) == []  # ...a solutions notebook does not need them


def test_an_explorer_that_is_not_displayed_needs_no_picture():
    nb = _good_notebook()
    nb.cells[2].source = "trial = conv_forward_explorer(X, W)  # driven by the checks below, never shown"
    assert check_explorer_cells(nb) == []


def test_setup_cell_uses_repository_url():
    text = setup_cell_text("https://example.org/some/book")
    version = BOOK.cnnlib_version(ROOT)
    assert f'"git+https://example.org/some/book@v{version}"' in text
    assert '"google.colab" in sys.modules' in text and "--no-deps" in text

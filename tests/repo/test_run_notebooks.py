"""tools/run_notebooks.py: cleaning is right, errors and slow notebooks fail the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
from _tools import load_tool

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "run_notebooks.py"

run_notebooks = load_tool("run_notebooks")

WIDGET = run_notebooks.WIDGET_MIME


def _notebook_with_bloat():
    nbf = nbformat.v4
    nb = nbf.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"m": {"big": "x" * 1000}}}}
    nb.cells = [
        nbf.new_code_cell("w", execution_count=1, metadata={"execution": {"iopub.status.busy": "2020"}}),
        nbf.new_code_cell("w2", execution_count=2),
        nbf.new_code_cell("", execution_count=3),
        nbf.new_code_cell("state only", execution_count=4),
    ]
    ref = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    nb.cells[0].outputs = [nbf.new_output("display_data", data={WIDGET: ref, "text/plain": "IntSlider(value=0)"})]
    nb.cells[1].outputs = [nbf.new_output("display_data", data={WIDGET: dict(ref)})]
    nb.cells[2].outputs = [nbf.new_output("stream", name="stdout", text="stale")]
    nb.cells[3].outputs = [nbf.new_output("display_data", data={run_notebooks.WIDGET_STATE_MIME: {"state": {}}})]
    return nb


def test_clean_notebook_strips_widget_state_and_adds_fallbacks():
    nb = run_notebooks.clean_notebook(_notebook_with_bloat())
    assert "widgets" not in nb.metadata
    assert nb.metadata.kernelspec.name == "python3"
    assert "execution" not in nb.cells[0].metadata
    assert nb.cells[0].outputs[0].data["text/plain"] == "IntSlider(value=0)"  # a fallback is kept as it is
    assert WIDGET in nb.cells[1].outputs[0].data
    assert nb.cells[1].outputs[0].data["text/plain"] == run_notebooks.WIDGET_FALLBACK_TEXT  # one is added
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None  # empty cell: nothing stale
    assert nb.cells[3].outputs == []  # widget-state-only output dropped
    nbformat.validate(nb)


def test_clean_notebook_makes_two_runs_of_the_same_code_identical():
    """Stream chunking and widget model ids vary from run to run; after cleaning they do not."""
    nbf = nbformat.v4

    def run(chunks: list[str], model_id: str):
        nb = nbf.new_notebook()
        nb.cells = [nbf.new_code_cell("print(...); explorer", execution_count=1)]
        nb.cells[0].id = "explorer-cell"  # a committed notebook's cell ids stay the same from run to run
        nb.cells[0].outputs = [nbf.new_output("stream", name="stdout", text=t) for t in chunks]
        nb.cells[0].outputs.append(nbf.new_output("stream", name="stderr", text="warning\n"))
        nb.cells[0].outputs.append(nbf.new_output("stream", name="stdout", text="after\n"))
        ref = {"model_id": model_id, "version_major": 2, "version_minor": 0}
        nb.cells[0].outputs.append(nbf.new_output("display_data", data={WIDGET: ref, "text/plain": "x"}))
        return run_notebooks.clean_notebook(nb)

    first, second = run(["a\n", "b\n", "c\n"], "f00d" * 8), run(["a\nb", "\nc\n"], "beef" * 8)
    assert first == second
    outputs = first.cells[0].outputs
    assert [(o.output_type, o.get("name"), o.get("text")) for o in outputs[:3]] == [
        ("stream", "stdout", "a\nb\nc\n"),
        ("stream", "stderr", "warning\n"),
        ("stream", "stdout", "after\n"),  # not merged across the stderr output: the order is kept
    ]
    assert len(outputs[3].data[WIDGET]["model_id"]) == 32
    nbformat.validate(first)


def test_error_outputs_are_listed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1/0", execution_count=1)]
    nb.cells[0].outputs = [
        nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])
    ]
    assert run_notebooks.error_outputs(nb) == ["cell 0: ZeroDivisionError: division by zero"]


def _write(path: Path, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_runs_in_place_in_the_notebook_folder_and_fails_on_errors(tmp_path):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    _write(good, ["import os, sys\nprint(os.getcwd())\nprint(sys.executable)", "", "x = 1\nx + 1"])
    _write(bad, ["1/0"])
    before = bad.read_text()

    res = _run(good)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "good.ipynb" in res.stdout and " s " in res.stdout  # wall time printed
    text = good.read_text()
    assert text.endswith("}\n") and '\n "cells": [' in text  # indent 1, trailing newline
    nb = json.loads(text)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == [1, None, 2]
    printed = "".join(code[0]["outputs"][0]["text"]).split("\n")
    assert printed[0] == str(tmp_path)  # cwd = the notebook's folder
    assert Path(printed[1]).parent == Path(sys.executable).parent  # this interpreter's environment
    assert "".join(code[2]["outputs"][0]["data"]["text/plain"]) == "2"

    res = _run(bad)
    assert res.returncode == 1
    assert "ZeroDivisionError" in res.stderr
    assert bad.read_text() == before  # a failing notebook is left untouched

    res = _run("--max-seconds", "0.01", good)
    assert res.returncode == 1 and "limit" in res.stdout


def test_training_chapters_may_take_sixty_seconds():
    assert run_notebooks.time_limit(Path("notebooks/11_deeper_networks.ipynb"), 30.0) == 60.0
    assert run_notebooks.time_limit(Path("notebooks/09_training_digits.ipynb"), 30.0) == 60.0
    assert run_notebooks.time_limit(Path("notebooks/08_stride_padding_dilation.ipynb"), 30.0) == 30.0
    assert run_notebooks.time_limit(Path("notebooks/11_deeper_networks.ipynb"), 90.0) == 90.0
    for stem in run_notebooks.TRAINING_CHAPTERS:  # the names still name chapters
        assert (ROOT / "notebooks" / f"{stem}.ipynb").is_file(), stem

#!/usr/bin/env python3
"""Execute the book's notebooks in place and save them clean.

Usage::

    python tools/run_notebooks.py notebooks/02_*.ipynb            # some chapters
    python tools/run_notebooks.py notebooks                        # every notebook under a folder
    python tools/run_notebooks.py --max-seconds 60 notebooks/09_training_digits.ipynb

For each notebook:

* run every code cell with nbclient in a fresh ``python3`` kernel started from the
  interpreter that runs this script (so ``.venv/bin/python tools/run_notebooks.py``
  uses the venv's packages), with the notebook's own folder as working directory and
  a per-cell timeout (``--cell-timeout``, default 120 s);
* keep the real execution counts and outputs, drop per-cell timing metadata;
* remove ``metadata.widgets`` (saved widget state: large, and GitHub refuses to render
  notebooks whose widget state it cannot parse) and make every widget output carry a
  ``text/plain`` fallback, so the static render shows a line of text where the live
  explorer would be (the next cell shows the explorer's static figure);
* write it back with nbformat (indent 1, trailing newline).

The script prints each notebook's wall time and exits with status 1 if any cell
raised (the notebook is then left untouched on disk) or if a notebook took longer
than its limit (the executed notebook is still written): ``--max-seconds`` (default 30 s), or
60 s for a chapter that trains a network (``TRAINING_CHAPTERS``), as the book's standards allow.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from traitlets import default

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
WIDGET_FALLBACK_TEXT = (
    "Interactive explorer: run the notebook (JupyterLab, Binder or Colab) to use it; "
    "the figure below shows its default state."
)
SINGLE_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
KERNELSPEC_METADATA = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class _ThisInterpreterKernels(KernelSpecManager):
    """Resolve ``python3`` to an ipykernel running on ``sys.executable``.

    A ``python3`` kernelspec installed elsewhere on the machine (user or system
    folders) could point at another Python; the book must run on this one.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name != "python3":
            return super().get_kernel_spec(kernel_name)
        return KernelSpec(
            # -Xfrozen_modules=off keeps the debugger's "frozen modules" warning out of the outputs
            argv=[sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=KERNELSPEC_METADATA["display_name"],
            language="python",
            resource_dir=str(Path(__file__).resolve().parent),
        )


class _ThisInterpreterKernelManager(AsyncKernelManager):
    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return _ThisInterpreterKernels(data_dir=self.data_dir)


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip what must not be committed; modifies and returns ``nb``.

    * ``metadata.widgets`` (saved widget models) is removed;
    * per-cell ``metadata.execution`` timings are removed;
    * widget-state outputs are dropped; every output that displays a widget keeps its
      ``application/vnd.jupyter.widget-view+json`` reference only together with a
      ``text/plain`` fallback (one is added when missing);
    * code cells that were not executed (empty source) lose stale outputs and counts;
    * the kernelspec is the standard ``python3`` one (what Colab and Binder expect);
    * what differs between two runs of the same code is made the same: consecutive ``stdout``
      (or ``stderr``) chunks are merged into one output (how the kernel split the stream depends
      on timing), and a widget's random ``model_id`` becomes one derived from the cell's id and
      the output's position (the saved widget state is gone, so the id refers to nothing).
    """
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = nbformat.from_dict(dict(KERNELSPEC_METADATA))
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if not cell.source.strip():
            cell.outputs = []
            cell.execution_count = None
            continue
        kept = []
        for out in cell.outputs:
            data = out.get("data")
            if data is not None:
                data.pop(WIDGET_STATE_MIME, None)
                if WIDGET_MIME in data and not str(data.get("text/plain", "")).strip():
                    data["text/plain"] = WIDGET_FALLBACK_TEXT
                if not data:
                    continue
            previous = kept[-1] if kept else {}
            if out.get("output_type") == previous.get("output_type") == "stream" and previous.get("name") == out.get(
                "name"
            ):
                previous["text"] = "".join(previous.get("text", "")) + "".join(out.get("text", ""))
                continue
            kept.append(out)
        for k, out in enumerate(kept):
            view = out.get("data", {}).get(WIDGET_MIME)
            if isinstance(view, dict) and "model_id" in view:
                view["model_id"] = hashlib.sha1(f"{cell.get('id', '')}:{k}".encode()).hexdigest()[:32]
        cell.outputs = kept
    return nb


def error_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """One line per error output saved in the notebook: ``cell 7: ValueError: ...``."""
    found = []
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {k}: {out.get('ename')}: {out.get('evalue')}")
    return found


def stderr_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Cells that wrote to stderr (warnings): reported, not fatal."""
    found = []
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                first = out.get("text", "").strip().splitlines()[:1]
                found.append(f"cell {k}: {first[0] if first else ''}")
    return found


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    nbformat.validate(nb)
    text = nbformat.writes(nb, version=4, indent=1)
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text, encoding="utf-8")


def execute_notebook(path: Path, *, cell_timeout: int) -> tuple[nbformat.NotebookNode | None, float, str | None]:
    """Run ``path`` in a fresh kernel; return (executed notebook or None, seconds, error text or None)."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.pop("MPLBACKEND", None)  # the inline backend, as a reader gets
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        kernel_manager_class=_ThisInterpreterKernelManager,
        # the kernel's own start-up log (e.g. its transport notice) is not the notebook's business
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.parent.resolve())}},
        allow_errors=False,
        record_timing=False,
        store_widget_state=False,
    )
    t0 = time.perf_counter()
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError) as exc:
        return None, time.perf_counter() - t0, str(exc)
    return nb, time.perf_counter() - t0, None


def collect(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(q for q in sorted(p.rglob("*.ipynb")) if ".ipynb_checkpoints" not in q.parts)
        elif p.suffix == ".ipynb" and p.exists():
            out.append(p)
        else:
            raise SystemExit(f"run_notebooks: {p} is neither a notebook nor a folder")
    return out


#: chapters that train a network: they may take up to TRAINING_SECONDS (the others --max-seconds)
TRAINING_CHAPTERS = ("09_training_digits", "11_deeper_networks")
TRAINING_SECONDS = 60.0


def time_limit(path: Path, default: float) -> float:
    """The most seconds ``path`` may take: ``default``, or at least TRAINING_SECONDS for a training chapter."""
    return max(default, TRAINING_SECONDS) if Path(path).stem in TRAINING_CHAPTERS else default


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="notebooks or folders to search for notebooks")
    ap.add_argument("--max-seconds", type=float, default=30.0, help="fail if a notebook takes longer (default 30)")
    ap.add_argument("--cell-timeout", type=int, default=120, help="per-cell timeout in seconds (default 120)")
    args = ap.parse_args(argv)

    # One BLAS thread in the kernels, as under `make test`: a multi-threaded BLAS sums in an order that
    # depends on the machine, and the last digits of the printed errors would change from run to run.
    for var in SINGLE_THREAD_ENV:
        os.environ.setdefault(var, "1")
    notebooks = collect(args.paths)
    if not notebooks:
        print("run_notebooks: no notebooks found")
        return 0
    failed = []
    for path in notebooks:
        nb, seconds, err = execute_notebook(path, cell_timeout=args.cell_timeout)
        if err is not None:
            print(f"FAIL  {seconds:6.1f} s  {path}  (cell raised; file left unchanged)")
            print(err, file=sys.stderr)
            failed.append(path)
            continue
        clean_notebook(nb)
        write_notebook(nb, path)
        problems = error_outputs(nb)
        limit = time_limit(path, args.max_seconds)
        too_slow = seconds > limit
        status = "FAIL" if problems or too_slow else "ok"
        note = f"  (over the {limit:g} s limit)" if too_slow else ""
        print(f"{status:4}  {seconds:6.1f} s  {path}{note}")
        for line in problems:
            print(f"      error output in {line}")
        for line in stderr_outputs(nb):
            print(f"      warning: stderr in {line}")
        if status == "FAIL":
            failed.append(path)
    if failed:
        print(f"run_notebooks: {len(failed)} of {len(notebooks)} notebook(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

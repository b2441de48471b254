#!/usr/bin/env python3
"""The book's repository chores in one place: keep everything that derives from the repository in step.

The single source of truth is ``[project.urls] Repository`` in ``pyproject.toml``
(``https://github.com/OWNER/REPO``) together with the notebooks that exist. Three jobs:

* **repository URL and badges** — in ``README.md`` and in every notebook's cells:
  ``git+https://github.com/...`` install URLs, ``git clone https://github.com/...`` commands,
  Colab links (``colab.research.google.com/github/OWNER/REPO/blob/...``) and Binder links
  (``mybinder.org/v2/gh/OWNER/REPO/...``), and the badges at the top of the README
  (``<!-- badges:begin -->`` ... ``<!-- badges:end -->``);
* **Colab cells** — the first code cell of every notebook is the setup cell,
  :data:`COLAB_SETUP_CELL` (the one template, also used by the tests): on Colab it installs the
  tagged version of cnnlib the notebook was run with (``cnnlib.__version__``), and everywhere it
  says clearly when the installed cnnlib is too old; tagged ``nbval-ignore-output`` and
  ``remove-cell`` (the website hides it);
* **chapter table** — the README's ``<!-- chapters:begin -->`` ... ``<!-- chapters:end -->``
  block, one row per chapter notebook that exists in ``notebooks/``.

Usage::

    python tools/book.py                # sync: rewrite the files in place
    python tools/book.py --check        # check: change nothing; list what is stale, exit 1 if anything is
    python tools/book.py --print-cell   # print the Colab setup cell

Both jobs also report (and cannot fix) a notebook without a Colab setup cell, and a Colab or
Binder link to a notebook that does not exist.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = "notebooks"
START_NOTEBOOK = "notebooks/00_start_here.ipynb"
BRANCH = "main"  # the branch Colab links open
IGNORE_OUTPUT_TAG = "nbval-ignore-output"
COLAB_MARKER = '"google.colab" in sys.modules'

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"

# One-line summaries for the README's chapter table, by notebook file name. A notebook that
# is not listed here still gets a row (its title comes from its first heading).
SUMMARIES = {
    "00_start_here.ipynb": "How to read and run the book, the notation shared by all chapters, and a tour of cnnlib.",
    "01_chain_rule_dense_softmax.ipynb": "The chain rule on a computational graph; dense layers; why sigmoid + "
    "cross-entropy gives A − Y and softmax + cross-entropy gives ŷ − y.",
    "02_convolution_forward.ipynb": "Cross-correlation versus convolution, output sizes, channels and bias, and the "
    "same layer as a dense layer with tied, mostly zero weights.",
    "03_convolution_backward.ipynb": "∂L/∂W, ∂L/∂b and ∂L/∂X of a convolution: sums over positions, a "
    "cross-correlation and a full convolution with the flipped kernel.",
    "04_pooling_activations_backward.ipynb": "Max-pool routing (ties, overlapping windows), average pooling, and the "
    "derivatives of ReLU and the sigmoid.",
    "05_seed000_checked.ipynb": "A reader's hand-computed CNN gradients, rebuilt from the numbers and checked: the "
    "verdict, computed.",
    "06_seed002_end_to_end.ipynb": "A 15-parameter network from input to loss and back: every intermediate, every "
    "gradient, checked by finite differences.",
    "07_seed003_channels_softmax.ipynb": "Several channels and filters with a softmax output: the loop equations, "
    "their vectorised form, and every tensor's shape.",
    "08_stride_padding_dilation.ipynb": "How stride, padding and dilation change the backward pass; backward as a "
    "transposed convolution.",
    "09_training_digits.ipynb": "Train a small CNN built from cnnlib on handwritten digits to over 97 % test "
    "accuracy, and look inside it.",
    "10_making_it_fast.ipynb": "From loops to im2col and matrix products: how the fast version works and how fast "
    "it is.",
    "11_deeper_networks.ipynb": "He and Glorot initialisation derived, vanishing gradients, residual connections and "
    "batch norm (forward, backward, checked), training diagnostics, a deeper network on the digits.",
    "12_transposed_conv_upsampling_depthwise.ipynb": "Transposed convolution as a layer (chapter 08's input gradient "
    "used forward), the checkerboard, upsampling, global average pooling, grouped and depthwise-separable "
    "convolutions, and a convolutional autoencoder on the digits.",
    "13_from_backprop_to_autograd.ipynb": "A tensor autograd engine whose operations are cnnlib's layers: the graph, "
    "reverse topological order, micrograd's bug, and chapter 09's network in a few lines.",
}

_SEG = r"[A-Za-z0-9_.-]+"  # one path segment of a GitHub owner or repository name


# ---------------------------------------------------------------------------- the Colab setup cell
COLAB_SETUP_CELL = """\
# Setup. On Google Colab: install cnnlib {version}, the version this notebook was run with, from the book's
# repository without touching Colab's packages. Everywhere: check that the installed cnnlib is recent enough.
import subprocess, sys
CNNLIB_VERSION = "{version}"
if "google.colab" in sys.modules:
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "git+{url}@v{version}"],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        print(pip.stdout, pip.stderr, sep="\\n", file=sys.stderr)
        raise RuntimeError(f"pip could not install cnnlib {{CNNLIB_VERSION}} (its messages are above); check this "
                           "runtime's internet connection, then run this cell again")
import cnnlib
if [int(n) for n in cnnlib.__version__.split(".")[:3]] < [int(n) for n in CNNLIB_VERSION.split(".")]:
    raise ImportError(f"this chapter needs cnnlib {{CNNLIB_VERSION}} or newer, but cnnlib {{cnnlib.__version__}} is "
                      f"installed at {{cnnlib.__file__}}: update it (in a checkout: make lab, or pip install -e .)")"""
"""The first code cell of every notebook (it prints nothing when all is well).

``{url}`` is the repository URL and ``{version}`` cnnlib's version (``cnnlib/__init__.py``): on
Colab the cell installs the git tag ``v{version}``, the library the notebook was executed with,
and shows pip's own messages with a plain explanation if that fails; everywhere it stops with a
clear message when the installed cnnlib is older than the version the notebook was run with.
Bump ``cnnlib.__version__`` when the library changes what a notebook relies on, run ``make sync``,
and push the tag ``v{version}``.
"""
SETUP_TAGS = ("nbval-ignore-output", "remove-cell")
"""Tags of the setup cell: nbval does not compare its output; the website (Jupyter Book) hides it."""


def cnnlib_version(root: Path = ROOT) -> str:
    """``__version__`` of ``cnnlib/__init__.py``, read without importing it (X.Y.Z)."""
    text = (root / "cnnlib" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__\s*=\s*["\']([0-9]+\.[0-9]+\.[0-9]+)["\']', text, re.M)
    if m is None:
        raise SystemExit('book: cnnlib/__init__.py has no __version__ = "X.Y.Z"')
    return m.group(1)


def colab_setup_cell(repo_url: str, version: str | None = None) -> str:
    """The exact first code cell of every notebook, installing tag ``v{version}`` of ``repo_url``."""
    return COLAB_SETUP_CELL.format(url=repo_url, version=version or cnnlib_version())


# ---------------------------------------------------------------------------- the repository URL
def repository_url(root: Path = ROOT) -> str:
    """``[project.urls] Repository`` from pyproject.toml, validated as ``https://github.com/OWNER/REPO``."""
    with open(root / "pyproject.toml", "rb") as fh:
        meta = tomllib.load(fh)
    try:
        url = meta["project"]["urls"]["Repository"]
    except KeyError:
        raise SystemExit("book: pyproject.toml has no [project.urls] Repository entry") from None
    if not re.fullmatch(rf"https://github\.com/{_SEG}/{_SEG}", url) or url.endswith(".git"):
        raise SystemExit(f"book: Repository must look like https://github.com/OWNER/REPO, got {url!r}")
    return url


def owner_repo(url: str) -> str:
    return url.removeprefix("https://github.com/")


# ---------------------------------------------------------------------------- URL rewriting and link checks
def _url_rules(url: str) -> list[tuple[re.Pattern[str], str]]:
    slug = owner_repo(url)
    return [
        (re.compile(rf"git\+https://github\.com/{_SEG}/{_SEG}(?![A-Za-z0-9_.-])"), f"git+{url}"),
        (re.compile(rf"git clone https://github\.com/{_SEG}/{_SEG}(?![A-Za-z0-9_.-])"), f"git clone {url}"),
        (re.compile(rf"https://colab\.research\.google\.com/github/{_SEG}/{_SEG}/"),
         f"https://colab.research.google.com/github/{slug}/"),
        (re.compile(rf"https://mybinder\.org/v2/gh/{_SEG}/{_SEG}/"), f"https://mybinder.org/v2/gh/{slug}/"),
    ]  # fmt: skip


@dataclass
class Report:
    """What is stale (fixable) and what is wrong (needs a person)."""

    stale: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    new_text: dict[Path, str] = field(default_factory=dict)


def rewrite_urls(text: str, url: str, where: str, report: Report) -> str:
    """Replace every stale repository URL in ``text``; note each replacement in ``report``."""
    stale: list[tuple[int, str]] = []
    for pattern, canonical in _url_rules(url):

        def repl(m: re.Match[str], text: str = text, canonical: str = canonical) -> str:
            found = m.group(0)
            if found != canonical:
                line = text.count("\n", 0, m.start()) + 1
                stale.append((line, f"{where}:{line}: {found!r} should be {canonical!r}"))
            return canonical

        text = pattern.sub(repl, text)
    report.stale.extend(message for _, message in sorted(stale))
    return text


def check_link_targets(text: str, root: Path, where: str, report: Report) -> None:
    """Every Colab / Binder link must open a notebook that exists in the repository."""
    for m in re.finditer(
        rf"https://colab\.research\.google\.com/github/{_SEG}/{_SEG}/blob/[^/\s)]+/([^\s)\"'>]+)", text
    ):
        if not (root / unquote(m.group(1))).is_file():
            report.errors.append(f"{where}: Colab link to a missing file: {m.group(1)}")
    for m in re.finditer(r"https://mybinder\.org/v2/gh/[^\s)\"'>]*?[?&]labpath=([^\s)&\"'>]+)", text):
        if not (root / unquote(m.group(1))).is_file():
            report.errors.append(f"{where}: Binder link to a missing file: {unquote(m.group(1))}")


# ---------------------------------------------------------------------------- notebooks: URLs and the Colab cell
def list_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook under notebooks/ (solutions included), sorted, checkpoints excluded."""
    nb_dir = root / NOTEBOOKS_DIR
    if not nb_dir.is_dir():
        return []
    return sorted(p for p in nb_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapters: notebooks directly in notebooks/ whose name starts with a number."""
    return [p for p in list_notebooks(root) if p.parent == root / NOTEBOOKS_DIR and re.match(r"\d+_", p.name)]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _set_source(cell: dict, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell.get("source"), list) else text


def sync_notebook(path: Path, root: Path, url: str, report: Report) -> None:
    where = path.relative_to(root).as_posix()
    raw = path.read_text(encoding="utf-8")
    try:
        nb = json.loads(raw)
    except json.JSONDecodeError as exc:
        report.errors.append(f"{where}: not valid JSON ({exc})")
        return
    changed = False
    cells = nb.get("cells", [])
    for i, cell in enumerate(cells):
        old = _source(cell)
        new = rewrite_urls(old, url, f"{where} cell {i}", report)
        if cell.get("cell_type") == "markdown":
            check_link_targets(new, root, f"{where} cell {i}", report)
        if new != old:
            _set_source(cell, new)
            changed = True

    code_cells = [c for c in cells if c.get("cell_type") == "code"]
    if not code_cells or COLAB_MARKER not in _source(code_cells[0]):
        report.errors.append(
            f"{where}: the first code cell must be the Colab setup cell (python tools/book.py prints it"
            " with --print-cell)"
        )
    else:
        first = code_cells[0]
        expected = colab_setup_cell(url, cnnlib_version(root))
        if _source(first) != expected:
            report.stale.append(f"{where}: the Colab setup cell differs from the book's standard cell")
            _set_source(first, expected)
            changed = True
        tags = first.setdefault("metadata", {}).setdefault("tags", [])
        for tag in SETUP_TAGS:
            if tag not in tags:
                report.stale.append(f"{where}: the Colab setup cell lacks the {tag!r} tag")
                tags.append(tag)
                changed = True
    if changed:
        # nbformat's own layout: sorted keys, one-space indent, trailing newline.
        report.new_text[path] = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def notebook_title(path: Path) -> str:
    """The text of the notebook's first Markdown heading, without a leading chapter number."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        nb = {}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for line in _source(cell).splitlines():
            m = re.match(r"\s*#{1,2}\s+(.+?)\s*#*\s*$", line)
            if m:
                title = re.sub(r"^(?:chapter\s+)?\d+\s*[:.·—–-]?\s*", "", m.group(1), flags=re.IGNORECASE)
                title = re.sub(r"<[^>]+>", "", title).strip()  # drop inline HTML anchors
                if title:
                    return title
    stem = re.sub(r"^\d+_", "", path.stem)
    return stem.replace("_", " ").capitalize()


# ---------------------------------------------------------------------------- README: badges and chapter table
def colab_url(url: str, relpath: str) -> str:
    return f"https://colab.research.google.com/github/{owner_repo(url)}/blob/{BRANCH}/{relpath}"


def binder_url(url: str, relpath: str) -> str:
    return f"https://mybinder.org/v2/gh/{owner_repo(url)}/HEAD?labpath={quote(relpath, safe='')}"


def _cell_text(text: str) -> str:
    return text.replace("|", "\\|")


def chapter_table(root: Path, url: str) -> str:
    """The Markdown table of the chapters that exist in notebooks/ (empty-state sentence if none)."""
    chapters = chapter_notebooks(root)
    if not chapters:
        return "_No chapters yet._"
    rows = [
        "| # | Chapter | What you will do | Run it |",
        "|---|---------|------------------|--------|",
    ]
    for nb in chapters:
        rel = nb.relative_to(root).as_posix()
        number = nb.name.split("_", 1)[0]
        title = _cell_text(notebook_title(nb))
        summary = _cell_text(SUMMARIES.get(nb.name, ""))
        solution = root / NOTEBOOKS_DIR / "solutions" / f"{number}_solutions.ipynb"
        if solution.is_file():
            summary += f" ([worked solutions]({solution.relative_to(root).as_posix()}))"
        run = (
            f"[![Open In Colab]({COLAB_BADGE})]({colab_url(url, rel)}) "
            f"[![Binder]({BINDER_BADGE})]({binder_url(url, rel)})"
        )
        rows.append(f"| {number} | [{title}]({rel}) | {summary.strip()} | {run} |")
    return "\n".join(rows)


def badges(root: Path, url: str) -> str:
    """The Binder and Colab badges at the top of the README, opening the first chapter when it exists."""
    if (root / START_NOTEBOOK).is_file():
        return (
            f"[![Launch Binder]({BINDER_BADGE})]({binder_url(url, START_NOTEBOOK)})\n"
            f"[![Open In Colab]({COLAB_BADGE})]({colab_url(url, START_NOTEBOOK)})"
        )
    return f"[![Launch Binder]({BINDER_BADGE})](https://mybinder.org/v2/gh/{owner_repo(url)}/HEAD?urlpath=lab)"


# Generated blocks of README.md: <!-- NAME:begin --> ... <!-- NAME:end -->
README_BLOCKS = {"badges": badges, "chapters": chapter_table}


def sync_readme(root: Path, url: str, report: Report) -> None:
    path = root / "README.md"
    if not path.is_file():
        report.errors.append("README.md does not exist")
        return
    old = path.read_text(encoding="utf-8")
    new = rewrite_urls(old, url, "README.md", report)
    for name, generate in README_BLOCKS.items():
        begin_marker, end_marker = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        begin, end = new.find(begin_marker), new.find(end_marker)
        if begin < 0 or end < begin:
            report.errors.append(f"README.md: no {begin_marker} ... {end_marker} markers")
            continue
        block = generate(root, url)
        current = new[begin + len(begin_marker) : end].strip("\n")
        if current != block:
            report.stale.append(f"README.md: the generated {name} block does not match the repository")
            new = f"{new[: begin + len(begin_marker)]}\n{block}\n{new[end:]}"
    check_link_targets(new, root, "README.md", report)
    if new != old:
        report.new_text[path] = new


def sync(root: Path = ROOT) -> Report:
    """Compute every change (nothing is written); see ``Report``."""
    url = repository_url(root)
    report = Report()
    sync_readme(root, url, report)
    for nb in list_notebooks(root):
        sync_notebook(nb, root, url, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 listing what is stale")
    parser.add_argument("--print-cell", action="store_true", help="print the Colab setup cell and exit")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.print_cell:
        print(colab_setup_cell(repository_url(root), cnnlib_version(root)))
        return 0

    report = sync(root)
    if args.check:
        for line in report.stale + report.errors:
            print(line)
        if report.stale:
            print(f"{len(report.stale)} stale item(s): run `python tools/book.py` (or `make sync`) to fix.")
        return 1 if (report.stale or report.errors) else 0

    for path, text in report.new_text.items():
        path.write_text(text, encoding="utf-8")
        print(f"updated {path.relative_to(root).as_posix()}")
    for line in report.errors:
        print(f"needs a manual fix: {line}", file=sys.stderr)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())

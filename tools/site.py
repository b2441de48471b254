#!/usr/bin/env python3
"""Build the book's website from the committed notebooks (Jupyter Book 1.x, no execution).

Steps, all inside ``build/`` (ignored by git):

1. **stage** — ``build/site-src/`` receives ``book/`` (``_config.yml``, ``index.md``) and a copy of
   every chapter and worked solution under the same relative paths as in the repository (so the
   notebooks' links between chapters and solutions, and the launch buttons, stay right). Each copy
   is prepared for a page that runs no kernel:

   * the Colab setup cell (found by ``tools/book.py``'s marker) is tagged ``remove-cell``;
   * a live explorer's output keeps only its static picture: the output carries the widget view
     and an ``image/png`` of the explorer's state (``cnnlib.widgets``' ``_ipython_display_``), and
     the website shows the PNG;
   * ``metadata.widgets`` (widget state) is dropped;
   * a badge linking to Colab or Binder (an image on another server) becomes a plain text link, so
     that the site loads nothing from elsewhere; any other remote image stops the build.

2. **config** — ``_config.yml`` gets ``repository.url`` from ``pyproject.toml`` and ``_toc.yml``
   is written from the notebooks that exist: the chapters (``notebooks/NN_*.ipynb``) in order,
   then the worked solutions (``notebooks/solutions/NN_solutions.ipynb``). A new chapter appears
   on the site without any change here.

3. **MathJax** — MathJax 3's browser files (from the ``django-static-mathjax`` package, the
   ``site`` extra) are copied to ``_static/mathjax`` of the site: equations render with no network.

4. **build** — ``jupyter-book build`` with warnings as errors; the site lands in ``build/site/``.

5. **alt text** — every picture in a cell output gets its description as its ``alt`` attribute:
   ``cnnlib`` writes it into the output's metadata (``{"image/png": {"alt": ...}}``), MyST-NB
   names the image file by the SHA-256 of its bytes, and the pages are rewritten to match. A
   picture without a description stops the build.

Usage::

    python tools/site.py                 # stage and build into build/site
    python tools/site.py --stage-only    # only write build/site-src (to inspect what is built)
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK_DIR = "book"
STAGE = Path("build") / "site-src"
OUT = Path("build") / "site"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
REMOVE_TAG = "remove-cell"
# A static folder of the staged book whose contents Sphinx copies to _static/ (not "_static" itself:
# Jupyter Book would load every .js file in _static/ on every page).
MATHJAX_DIR = "_mathjax"


sys.path.insert(0, str(ROOT / "tools"))
import book  # noqa: E402  (tools/book.py: repository URL, notebook lists, the Colab cell's marker)


# ---------------------------------------------------------------------------- what the site contains
def solution_notebooks(root: Path = ROOT) -> list[Path]:
    """The worked solutions: notebooks/solutions/NN_*.ipynb, in order."""
    folder = root / book.NOTEBOOKS_DIR / "solutions"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.ipynb") if re.match(r"\d+_", p.name))


def table_of_contents(root: Path = ROOT) -> dict:
    """The ``_toc.yml`` of the site: the landing page, the chapters, then the worked solutions."""

    def entries(paths: list[Path]) -> list[dict]:
        return [{"file": p.relative_to(root).with_suffix("").as_posix()} for p in paths]

    parts = [{"caption": "Chapters", "numbered": False, "chapters": entries(book.chapter_notebooks(root))}]
    solutions = solution_notebooks(root)
    if solutions:
        parts.append({"caption": "Worked solutions", "chapters": entries(solutions)})
    return {"format": "jb-book", "root": "index", "parts": parts}


# ---------------------------------------------------------------------------- preparing one notebook
def is_colab_cell(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and book.COLAB_MARKER in book._source(cell)


_LINKED_REMOTE_IMAGE = re.compile(r"\[!\[([^\]]*)\]\(https?://[^)\s]+\)\]\(([^)\s]+)\)")
_REMOTE_IMAGE = re.compile(r"!\[[^\]]*\]\(https?://|<img[^>]+src=[\"']https?://")


def prepare_markdown(text: str, where: str) -> str:
    """Badges (linked remote images) become text links; any other remote image is an error."""
    text = _LINKED_REMOTE_IMAGE.sub(lambda m: f"[{m.group(1)}]({m.group(2)})", text)
    if _REMOTE_IMAGE.search(text):
        raise SystemExit(f"site: {where} shows an image from another server; the site must work offline")
    return text


def prepare_notebook(nb: dict, where: str = "a notebook") -> dict:
    """A copy of ``nb`` ready for a static page (see the module docstring); ``nb`` is not modified."""
    nb = copy.deepcopy(nb)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            text = book._source(cell)
            new = prepare_markdown(text, where)
            if new != text:
                book._set_source(cell, new)
        if is_colab_cell(cell):
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if REMOVE_TAG not in tags:
                tags.append(REMOVE_TAG)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_MIME in data:
                if "image/png" not in data:
                    raise SystemExit(
                        "site: an explorer's output has no image/png picture to show on the website; "
                        "re-execute the notebook with tools/run_notebooks.py"
                    )
                del data[WIDGET_MIME]
    return nb


def stage(root: Path = ROOT, stage_dir: Path | None = None) -> Path:
    """Write the staging folder (book config, table of contents, prepared notebooks, MathJax)."""
    stage_dir = stage_dir or root / STAGE
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    shutil.copytree(root / BOOK_DIR, stage_dir)

    config_path = stage_dir / "_config.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config.setdefault("repository", {})["url"] = book.repository_url(root)
    config["repository"]["branch"] = book.BRANCH
    config_path.write_text(
        "# Generated by tools/site.py from book/_config.yml; do not edit.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    toc = table_of_contents(root)
    (stage_dir / "_toc.yml").write_text(
        "# Generated by tools/site.py from the notebooks that exist; do not edit.\n"
        + yaml.safe_dump(toc, sort_keys=False),
        encoding="utf-8",
    )

    for path in book.chapter_notebooks(root) + solution_notebooks(root):
        nb = json.loads(path.read_text(encoding="utf-8"))
        target = stage_dir / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            json.dumps(prepare_notebook(nb, path.relative_to(root).as_posix()), indent=1, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )

    copy_mathjax(stage_dir / MATHJAX_DIR / "mathjax")
    return stage_dir


def copy_mathjax(target: Path) -> None:
    """MathJax 3's browser build (es5/) from the installed django-static-mathjax package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("site: MathJax is missing; install the site extra: pip install -e '.[site]'")
    source = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (source / "tex-mml-chtml.js").is_file():
        raise SystemExit(f"site: no tex-mml-chtml.js under {source}: an unexpected django-static-mathjax layout")
    shutil.copytree(source, target)


# ---------------------------------------------------------------------------- alt text
_OUTPUT_IMAGE = re.compile(r'<img\b[^>]*\bsrc="(?:[^"]*/)?_images/([0-9a-f]{64})\.png"[^>]*>')


def image_descriptions(stage_dir: Path) -> dict[str, str]:
    """SHA-256 of each PNG in the staged notebooks' outputs -> its description (the output's ``alt``)."""
    found: dict[str, str] = {}
    for path in sorted(stage_dir.glob("notebooks/**/*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                alt = output.get("metadata", {}).get("image/png", {}).get("alt", "")
                if png and alt.strip():
                    data = base64.b64decode("".join(png) if isinstance(png, list) else png)
                    found[hashlib.sha256(data).hexdigest()] = " ".join(alt.split())
    return found


def add_alt_text(site: Path, descriptions: dict[str, str]) -> int:
    """Write each output picture's description into its ``<img alt="...">`` on every page; returns how many.

    Raises ``SystemExit`` naming the page when a picture has no description.
    """
    count = 0
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        missing = [m.group(1)[:12] for m in _OUTPUT_IMAGE.finditer(text) if m.group(1) not in descriptions]
        if missing:
            raise SystemExit(
                f"site: {page.relative_to(site)} shows {len(missing)} picture(s) without a description "
                f"({', '.join(missing)}...); give the figure one (cnnlib.viz.describe) and re-execute the notebook"
            )
        new, n = _OUTPUT_IMAGE.subn(lambda m: _with_alt(m.group(0), descriptions[m.group(1)]), text)
        count += n
        if new != text:
            page.write_text(new, encoding="utf-8")
    return count


def _with_alt(tag: str, alt: str) -> str:
    """An ``<img>`` tag with ``alt`` as its only alt attribute."""
    tag = re.sub(r'\salt="[^"]*"', "", tag)
    return tag.replace("<img", f'<img alt="{html.escape(alt, quote=True)}"', 1)


# ---------------------------------------------------------------------------- building
def build(root: Path = ROOT, out: Path | None = None) -> Path:
    """Stage, then run Jupyter Book with warnings as errors; returns the folder with index.html."""
    out = out or root / OUT
    start = time.perf_counter()
    stage_dir = stage(root)
    html_dir = stage_dir / "_build" / "html"
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(stage_dir),
        "--builder", "html", "--warningiserror", "--nitpick", "--keep-going", "--all",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise SystemExit(f"site: jupyter-book build failed (exit {result.returncode}); see the warnings above")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(html_dir, out)
    described = add_alt_text(out, image_descriptions(stage_dir))
    (out / ".nojekyll").touch()  # GitHub Pages: serve _static/ and friends as they are
    print(
        f"site: built {out.relative_to(root)}/index.html in {time.perf_counter() - start:.0f} s "
        f"({described} pictures with alt text)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage-only", action="store_true", help="write build/site-src and stop")
    args = parser.parse_args(argv)
    if args.stage_only:
        print(f"site: staged {stage().relative_to(ROOT)}")
    else:
        build()
    return 0


if __name__ == "__main__":
    sys.exit(main())

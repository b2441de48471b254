"""The installation routes stay consistent with each other and with the repository.

* environment.yml (conda, Binder) names the same packages, with the same lower bounds, as
  pyproject.toml's dependencies plus its ``book`` extra;
* dependencies are lower bounds only, and Colab's ipywidgets 7.7.1 satisfies them;
* the package includes every cnnlib subpackage;
* the repository URL, badges, Colab setup cells and README chapter table agree with
  ``[project.urls] Repository`` and with the notebooks that exist (tools/book.py --check),
  and the tool itself catches and repairs a stale copy;
* postBuild and .ci/run do what Binder and CI need.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from _tools import load_tool
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
BOOK_TOOL = ROOT / "tools" / "book.py"

# conda-forge names that differ from the PyPI names (none so far; add pairs here when needed).
CONDA_TO_PYPI: dict[str, str] = {}
# Entries of environment.yml that are not Python packages of pyproject.toml.
CONDA_ONLY = {"python", "pip"}


def normalise(name: str) -> str:
    """PEP 503 normal form: lower case, runs of -_. become one hyphen."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_pyproject(root: Path = ROOT) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def pyproject_requirements(pyproject: dict, extras: tuple[str, ...] = ("book",)) -> dict[str, str | None]:
    """name -> lower bound (``>=`` version, or None) for the runtime dependencies plus ``extras``."""
    specs = list(pyproject["project"]["dependencies"])
    for extra in extras:
        specs += pyproject["project"]["optional-dependencies"][extra]
    out: dict[str, str | None] = {}
    for spec in specs:
        req = Requirement(spec)
        lower = [s.version for s in req.specifier if s.operator == ">="]
        out[normalise(req.name)] = lower[0] if lower else None
    return out


def conda_requirements(env: dict) -> dict[str, str | None]:
    """name -> lower bound for environment.yml's conda dependencies (python and pip left out)."""
    out: dict[str, str | None] = {}
    for entry in env["dependencies"]:
        if not isinstance(entry, str):  # a nested `pip:` list would be a second, unchecked route
            raise AssertionError(f"environment.yml: unexpected non-conda entry {entry!r}")
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(.*?)\s*", entry)
        assert m, f"environment.yml: cannot parse {entry!r}"
        name, constraint = normalise(m.group(1)), m.group(2).replace(" ", "")
        if name in CONDA_ONLY:
            continue
        lower = re.search(r">=([0-9][0-9A-Za-z.]*)", constraint)
        out[CONDA_TO_PYPI.get(name, name)] = lower.group(1) if lower else None
    return out


def compare_requirements(pip: dict[str, str | None], conda: dict[str, str | None]) -> list[str]:
    """Human-readable differences between the two routes (empty list: they agree)."""
    problems = [f"{n}: in pyproject.toml, missing from environment.yml" for n in sorted(pip.keys() - conda.keys())]
    problems += [f"{n}: in environment.yml, missing from pyproject.toml" for n in sorted(conda.keys() - pip.keys())]
    for name in sorted(pip.keys() & conda.keys()):
        if pip[name] != conda[name]:
            problems.append(f"{name}: lower bound {pip[name]} in pyproject.toml but {conda[name]} in environment.yml")
    return problems


# --------------------------------------------------------------------------- environment.yml vs pyproject
def test_environment_yml_names_the_same_packages_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["name"] == "cnn-backprop-book"
    assert env["channels"] == ["conda-forge"]
    problems = compare_requirements(pyproject_requirements(load_pyproject()), conda_requirements(env))
    assert problems == [], "environment.yml and pyproject.toml disagree:\n" + "\n".join(problems)


def test_environment_yml_python_satisfies_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pythons = [e.replace(" ", "") for e in env["dependencies"] if isinstance(e, str) and re.match(r"python\b", e)]
    assert len(pythons) == 1, pythons
    m = re.fullmatch(r"python(=|>=)(3\.\d+)", pythons[0])
    assert m, f"environment.yml: expected python=3.X or python>=3.X, got {pythons[0]!r}"
    requires = SpecifierSet(load_pyproject()["project"]["requires-python"])
    assert requires.contains(Version(m.group(2))), f"{pythons[0]} is outside requires-python {requires}"


def test_requirement_comparison_reports_each_kind_of_difference():
    pip = {"numpy": "1.24", "matplotlib": "3.7", "sympy": "1.12"}
    conda = {"numpy": "1.24", "matplotlib": "3.8", "scipy": "1.10"}
    problems = compare_requirements(pip, conda)
    assert problems == [
        "sympy: in pyproject.toml, missing from environment.yml",
        "scipy: in environment.yml, missing from pyproject.toml",
        "matplotlib: lower bound 3.7 in pyproject.toml but 3.8 in environment.yml",
    ]
    assert compare_requirements(pip, dict(pip)) == []


def test_conda_parsing_normalises_names_and_skips_python():
    env = {"dependencies": ["python>=3.11", "pip", "Scikit_Learn >=1.2", "nbval"]}
    assert conda_requirements(env) == {"scikit-learn": "1.2", "nbval": None}


# --------------------------------------------------------------------------- pyproject itself
def test_dependencies_are_lower_bounds_that_colab_satisfies():
    project = load_pyproject()["project"]
    assert project["name"] == "cnnlib"
    assert project["requires-python"] == ">=3.11"
    all_specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        all_specs += extra
    # The one cap: the website is built with Jupyter Book 1.x; Jupyter Book 2 is another program (mystmd)
    # that fetches its site theme at build time, so it cannot build the site from the repository alone.
    capped = {"jupyter-book": "<2"}
    for spec in all_specs:
        req = Requirement(spec)
        allowed = {">="} | ({"<"} if normalise(req.name) in capped else set())
        assert {s.operator for s in req.specifier} <= allowed, f"{spec}: use a lower bound, not a pin or a cap"
        if normalise(req.name) in capped:
            assert capped[normalise(req.name)] in str(req.specifier) and req.name in " ".join(
                project["optional-dependencies"]["site"]
            )
    runtime = {normalise(Requirement(s).name): Requirement(s) for s in project["dependencies"]}
    assert set(runtime) == {"numpy", "matplotlib", "ipywidgets"}
    # Google Colab ships ipywidgets 7.7.1; the notebooks install cnnlib there with --no-deps.
    assert runtime["ipywidgets"].specifier.contains(Version("7.7.1"))
    extras = project["optional-dependencies"]
    assert {"jupyterlab", "nbval", "sympy", "scikit-learn", "ipykernel", "nbclient", "nbformat"} <= {
        normalise(Requirement(s).name) for s in extras["book"]
    }
    assert {"pytest", "hypothesis", "ruff", "playwright"} <= {normalise(Requirement(s).name) for s in extras["dev"]}


def test_every_cnnlib_subpackage_is_packaged():
    include = load_pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted(".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "cnnlib").rglob("__init__.py"))
    assert "cnnlib" in packages
    missed = [p for p in packages if not any(fnmatch.fnmatchcase(p, pattern) for pattern in include)]
    assert missed == [], f"packages not matched by [tool.setuptools.packages.find] include: {missed}"


def test_pytest_registers_the_browser_marker():
    markers = load_pyproject()["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("browser:") for m in markers)


# --------------------------------------------------------------------------- repository URL and README
def run_sync(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BOOK_TOOL), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_repository_url_badges_and_chapter_table_are_in_sync():
    result = run_sync(ROOT, "--check")
    assert result.returncode == 0, f"stale repository URL, badges or chapter table:\n{result.stdout}{result.stderr}"


def test_readme_chapter_table_lists_exactly_the_chapters_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = readme.index("<!-- chapters:begin -->"), readme.index("<!-- chapters:end -->")
    listed = set(re.findall(r"\]\((notebooks/\d+_[^)/]+\.ipynb)\)", readme[begin:end]))
    existing = {p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9]*_*.ipynb")}
    assert listed == existing, (
        f"only in README: {sorted(listed - existing)}; not in README: {sorted(existing - listed)}"
    )


def test_readme_local_links_point_to_existing_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?!https?://|#|mailto:)[^)\s]+)\)", readme)
    assert "benchmarks/README.md" in targets
    missing = sorted({t for t in targets if not (ROOT / t.split("#")[0]).exists()})
    assert missing == [], f"README.md links to missing files: {missing}"


def test_readme_puts_the_two_commands_first():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    assert "make lab" in first_block and "make test" in first_block
    assert readme.index("make lab") < readme.index("Binder**") < readme.index("conda env create")


NOTEBOOK_CELL_URL_STALE = "https://github.com/someone-else/old-name"
MINI_VERSION = "1.2.3"


def _write_notebook(path: Path, cells: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _code(source: str, tags: list[str] | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "c",
        "metadata": {"tags": tags or []},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "id": "m", "metadata": {}, "source": source}


@pytest.fixture
def mini_repo(tmp_path: Path) -> Path:
    """A small copy of the repository's layout whose URLs all point at a stale location."""
    tool = load_tool("book")
    url = "https://github.com/new-owner/new-book"
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n[project.urls]\nRepository = "{url}"\n')
    (tmp_path / "cnnlib").mkdir()
    (tmp_path / "cnnlib" / "__init__.py").write_text(f'__version__ = "{MINI_VERSION}"\n')
    stale_cell = tool.colab_setup_cell(NOTEBOOK_CELL_URL_STALE, MINI_VERSION)
    _write_notebook(
        tmp_path / "notebooks" / "00_start_here.ipynb",
        [
            _markdown(
                "# 00 · Start here\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                "(https://colab.research.google.com/github/someone-else/old-name/blob/main/notebooks/00_start_here.ipynb)"
            ),
            _code(stale_cell, tags=["nbval-ignore-output"]),
            _code("print(1)"),
        ],
    )
    _write_notebook(
        tmp_path / "notebooks" / "03_convolution_backward.ipynb",
        [
            _markdown("# Chapter 3: Convolution backward"),
            _code(tool.colab_setup_cell(url, MINI_VERSION)),
        ],  # tag missing
    )
    (tmp_path / "README.md").write_text(
        "# Book\n<!-- badges:begin -->\n<!-- badges:end -->\n"
        f"git clone {NOTEBOOK_CELL_URL_STALE}.git\n"
        "<!-- chapters:begin -->\n| old | table |\n<!-- chapters:end -->\n",
        encoding="utf-8",
    )
    return tmp_path


def test_sync_tool_check_lists_every_stale_copy(mini_repo: Path):
    result = run_sync(mini_repo, "--check")
    assert result.returncode == 1
    out = result.stdout
    assert "README.md:4: 'git clone https://github.com/someone-else/old-name.git'" in out
    assert "README.md: the generated badges block" in out
    assert "README.md: the generated chapters block" in out
    assert "notebooks/00_start_here.ipynb cell 0:" in out and "colab.research.google.com/github/someone-else" in out
    assert "notebooks/00_start_here.ipynb cell 1:" in out and "git+https://github.com/someone-else/old-name" in out
    assert "notebooks/03_convolution_backward.ipynb: the Colab setup cell lacks the 'nbval-ignore-output' tag" in out
    # --check changes nothing
    assert NOTEBOOK_CELL_URL_STALE in (mini_repo / "README.md").read_text(encoding="utf-8")


def test_sync_tool_rewrites_everything_from_pyproject(mini_repo: Path):
    tool = load_tool("book")
    assert run_sync(mini_repo).returncode == 0
    assert run_sync(mini_repo, "--check").returncode == 0
    everything = "".join(p.read_text(encoding="utf-8") for p in [mini_repo / "README.md", *mini_repo.rglob("*.ipynb")])
    assert "someone-else" not in everything
    readme = (mini_repo / "README.md").read_text(encoding="utf-8")
    assert "git clone https://github.com/new-owner/new-book\n" in readme
    assert "labpath=notebooks%2F00_start_here.ipynb" in readme
    rows = [line for line in readme.splitlines() if line.startswith("| 0")]
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| 00", "[Start here](notebooks/00_start_here.ipynb)"],
        ["| 03", "[Convolution backward](notebooks/03_convolution_backward.ipynb)"],
    ]
    assert "| old | table |" not in readme
    for path in mini_repo.rglob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        assert "".join(first_code["source"]) == tool.colab_setup_cell(
            "https://github.com/new-owner/new-book", MINI_VERSION
        )
        assert {"nbval-ignore-output", "remove-cell"} <= set(first_code["metadata"]["tags"])


def test_sync_tool_reports_what_it_cannot_fix(mini_repo: Path):
    _write_notebook(mini_repo / "notebooks" / "04_pool.ipynb", [_markdown("# Pooling"), _code("import numpy")])
    readme = mini_repo / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8")
        + "[x](https://colab.research.google.com/github/new-owner/new-book/blob/main/notebooks/99_missing.ipynb)\n",
        encoding="utf-8",
    )
    result = run_sync(mini_repo)
    assert result.returncode == 1
    assert "notebooks/04_pool.ipynb: the first code cell must be the Colab setup cell" in result.stderr
    assert "Colab link to a missing file: notebooks/99_missing.ipynb" in result.stderr


# --------------------------------------------------------------------------- Binder and CI scripts
def test_postbuild_installs_cnnlib_without_dependencies():
    post = ROOT / "postBuild"
    text = post.read_text(encoding="utf-8")
    assert os.access(post, os.X_OK)
    assert text.startswith("#!/usr/bin/env bash\n")
    assert re.search(r"^python -m pip install --no-deps -e \.$", text, re.M)


def test_ci_runs_the_full_suite():
    ci = ROOT / ".ci" / "run"
    text = ci.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    commands = [line.strip() for line in text.splitlines() if re.match(r"\s*(run_step|make)\b", line)]
    assert any(re.search(r"\bmake test\b", c) for c in commands)
    assert any(re.search(r"\bmake test-widgets7\b", c) for c in commands)


# --------------------------------------------------------------------------- Makefile
def make_dry_run(cwd: Path, *targets: str) -> str:
    """``make -n`` with this repository's Makefile in ``cwd``, the install step left out."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "-f", str(ROOT / "Makefile"), "-n", "STAMP=", "PYTEST_ARGS=", *targets],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        # not the settings of a `make` this test may itself be running under
        env={k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "WORKERS"}},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_test_skips_nbval_when_there_are_no_notebooks(tmp_path: Path):
    out = make_dry_run(tmp_path, "test")
    assert "-m pytest -n 2 --dist loadscope" in out
    assert "--nbval" not in out
    assert "no notebooks under notebooks/ yet" in out


def test_make_test_runs_the_unit_tests_then_every_notebook(tmp_path: Path):
    (tmp_path / "notebooks" / "solutions").mkdir(parents=True)
    (tmp_path / "notebooks" / "solutions" / "01_solutions.ipynb").write_text("{}")
    lines = [line for line in make_dry_run(tmp_path, "test").splitlines() if "-m pytest" in line]
    assert len(lines) == 2
    assert "--nbval" not in lines[0]
    assert "--nbval-lax" in lines[1] and re.search(r"\snotebooks/\s*;", lines[1])


# --------------------------------------------------------------------------- the setup cell's behaviour
def _run_setup_cell(tmp_path: Path, cell: str, colab: bool) -> subprocess.CompletedProcess:
    """Run ``cell`` in a fresh interpreter with this checkout's cnnlib (and, if ``colab``, a fake google.colab)."""
    script = tmp_path / "cell.py"
    fake = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n" if colab else ""
    script.write_text(fake + cell + "\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)


def test_setup_cell_is_silent_when_cnnlib_is_recent_enough(tmp_path: Path):
    book = load_tool("book")
    cell = book.colab_setup_cell(book.repository_url(ROOT), book.cnnlib_version(ROOT))
    result = _run_setup_cell(tmp_path, cell, False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_setup_cell_says_when_cnnlib_is_too_old(tmp_path: Path):
    book = load_tool("book")
    result = _run_setup_cell(tmp_path, book.colab_setup_cell(book.repository_url(ROOT), "999.0.0"), False)
    assert result.returncode != 0
    assert "needs cnnlib 999.0.0 or newer" in result.stderr and book.cnnlib_version(ROOT) in result.stderr


def test_setup_cell_shows_pips_error_when_the_install_fails(tmp_path: Path):
    """On Colab, a failed install shows pip's own message and a plain explanation (the URL here cannot exist)."""
    book = load_tool("book")
    cell = book.colab_setup_cell(book.repository_url(ROOT), book.cnnlib_version(ROOT))
    cell = cell.replace(f"git+{book.repository_url(ROOT)}", f"git+file://{tmp_path}/no-such-repository")
    result = _run_setup_cell(tmp_path, cell, True)
    assert result.returncode != 0
    assert "no-such-repository" in result.stderr  # pip's own words, not swallowed by --quiet
    assert "pip could not install cnnlib" in result.stderr


def test_setup_cell_pins_the_version_in_cnnlib(tmp_path: Path):
    book = load_tool("book")
    version = book.cnnlib_version(ROOT)
    text = book.colab_setup_cell("https://github.com/o/r", version)
    assert f'"git+https://github.com/o/r@v{version}"' in text and f'CNNLIB_VERSION = "{version}"' in text
    assert "--quiet" not in text


def test_ci_runs_lint_site_and_course_checks():
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for target in ("make lint", "make site-check", "make course-check"):
        assert re.search(rf'run_step "{target}" {target}\b', text), target


def _fake_pytest(tmp_path: Path, status: int) -> Path:
    fake = tmp_path / "fake-python"
    fake.write_text(f"#!/bin/sh\nexit {status}\n")
    fake.chmod(0o755)
    return fake


@pytest.mark.parametrize("target", ["unit", "nbval"])
def test_pytest_args_that_select_nothing_are_not_an_error(tmp_path: Path, target: str):
    """`make test PYTEST_ARGS="-k one_unit_test"`: the step with nothing selected (pytest's exit 5) passes."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_x.ipynb").write_text("{}")
    fake = _fake_pytest(tmp_path, 5)
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}

    def make(*args: str) -> subprocess.CompletedProcess:
        # TORCH= : under `make test TORCH=1` (CI) the variable reaches this environment too
        cmd = ["make", "-f", str(ROOT / "Makefile"), "STAMP=", "TORCH=", f"PY={fake}", *args, target]
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)

    selected = make("PYTEST_ARGS=-k nothing_matches")
    assert selected.returncode == 0, selected.stderr
    assert "selects nothing here" in selected.stdout
    assert make("PYTEST_ARGS=").returncode != 0  # with no selection, collecting nothing is still an error
    fake.write_text("#!/bin/sh\nexit 1\n")
    assert make("PYTEST_ARGS=-k x").returncode != 0  # and a real failure is never passed over

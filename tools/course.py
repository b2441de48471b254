#!/usr/bin/env python3
"""The instructor edition: an nbgrader course generated from the chapters' exercises.

``generate`` writes an nbgrader *source* course to ``build/course/`` (git-ignored)::

    build/course/nbgrader_config.py
    build/course/source/chNN/NN_<chapter>.ipynb     one assignment per chapter with exercises

For every exercise of chapter NN — a code cell of ``notebooks/NN_*.ipynb`` that defines a stub
``def my_f(...)`` and calls its checker ``chNN.check_x(my_f)`` — the assignment gets:

* the exercise's text (the Markdown cell before the stub), read-only;
* a **student cell**: the stub's signature and comments, then the worked solution's body (from
  ``notebooks/solutions/NN_solutions.ipynb``, the first cell that defines ``my_f`` and passes it
  to the same checker) between ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the student
  version shows ``return None`` there, the book's "not attempted yet";
* a **graded test cell** worth :data:`POINTS` points: the book's checker on its own cases (a
  failure shows the checker's message and hint in the feedback), then, between ``### BEGIN
  HIDDEN TESTS`` and ``### END HIDDEN TESTS``, the same checker on cases drawn with another seed
  (the chapter module's ``_rng`` replaced for the call), which the student's notebook does not
  show. The checkers refuse a function that calls cnnlib's own backward pass for the quantity
  asked (``cnnlib.exercises._checking.cnnlib_backward``), so that route earns nothing.

The chapters and solutions are found in ``notebooks/``: a new chapter with exercises becomes a
new assignment without a change here.

``check`` proves the course in a temporary copy: nbgrader's ``generate_assignment``, then three
submissions of every assignment — the worked solutions, the untouched release, and (chapter 03)
a typical wrong answer, a kernel not rotated in ``dX`` — ``autograde`` and ``generate_feedback``;
it requires full marks, zero, and partial marks with the checker's hint in the feedback.

Usage::

    python tools/course.py generate [--out build/course] [--seed N]
    python tools/course.py check    [--out build/course]
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path("build") / "course"
POINTS = 2  # points of each exercise's graded test cell
DEFAULT_SEED = 20260  # base of the hidden cases' seeds; instructors pass their own with --seed
CHECK_CALL = re.compile(r"^\s*(ch\d\d)\.(check_\w+)\((\w+)\)\s*;?\s*$")
IMPORT_CHECKERS = re.compile(r"^from cnnlib\.exercises import ch\d\d\s*$")


@dataclass
class Exercise:
    chapter: str  # "03"
    module: str  # "ch03"
    checker: str  # "check_conv_backward"
    function: str  # "my_conv_backward"
    prompt: str  # Markdown
    stub: str  # the stub cell's code without the imports and the checker call
    solution: str  # the worked solution's code without the checker call


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- reading the book
def chapters(root: Path = ROOT) -> list[Path]:
    """Chapter notebooks (notebooks/NN_*.ipynb) that have a checker module and worked solutions."""
    out = []
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        number = path.name[:2]
        if (root / "cnnlib" / "exercises" / f"ch{number}.py").is_file() and _solutions_path(root, number).is_file():
            out.append(path)
    return out


def _solutions_path(root: Path, number: str) -> Path:
    return root / "notebooks" / "solutions" / f"{number}_solutions.ipynb"


def _checker_call(code: str) -> tuple[str, str, str] | None:
    """(module, checker, function) of the last ``chNN.check_x(my_f)`` line of ``code``."""
    found = None
    for line in code.splitlines():
        m = CHECK_CALL.match(line)
        if m:
            found = m.groups()
    return found


def _without_checker_lines(code: str) -> str:
    lines = [ln for ln in code.splitlines() if not CHECK_CALL.match(ln) and not IMPORT_CHECKERS.match(ln)]
    return "\n".join(lines).strip("\n")


def _prompt(cells: list[dict], index: int) -> str:
    """The Markdown cell before the stub; from its "## Exercises" heading on, if it has one.

    A pointer to the worked solutions is left out: the course's students do not get them.
    """
    if index == 0 or cells[index - 1].get("cell_type") != "markdown":
        return ""
    text = _source(cells[index - 1])
    m = re.search(r"^#+\s*Exercises\b.*$", text, re.M)
    text = text[m.start() :] if m else text
    return re.sub(r"\s*Worked\s+solutions?[^.\n]*?:\s*\[[^\]]*\]\([^)]*\)\.?", "", text)


def exercises(chapter: Path, root: Path = ROOT) -> list[Exercise]:
    """Every exercise of ``chapter`` with its worked solution; SystemExit naming what is missing."""
    number = chapter.name[:2]
    cells = _load(chapter)["cells"]
    solution_cells = [_source(c) for c in _load(_solutions_path(root, number))["cells"] if c["cell_type"] == "code"]
    out = []
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        code = _source(cell)
        call = _checker_call(code)
        if call is None or f"def {call[2]}(" not in code:
            continue  # not an exercise stub (e.g. check_setup(), a demonstration)
        module, checker, function = call
        solution = next(
            (s for s in solution_cells if f"def {function}(" in s and _checker_call_for(s, checker) == function), None
        )
        if solution is None:
            raise SystemExit(
                f"course: {chapter.name}: no cell of {_solutions_path(root, number).name} defines {function} "
                f"and passes it to {module}.{checker}"
            )
        out.append(
            Exercise(
                number, module, checker, function, _prompt(cells, i), _without_checker_lines(code), solution=solution
            )
        )
    return out


def _checker_call_for(code: str, checker: str) -> str | None:
    for line in code.splitlines():
        m = CHECK_CALL.match(line)
        if m and m.group(2) == checker:
            return m.group(3)
    return None


# ---------------------------------------------------------------------------- building the cells
def _function_node(code: str, name: str, where: str) -> tuple[ast.Module, ast.FunctionDef]:
    tree = ast.parse(code)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if len(defs) != 1:
        raise SystemExit(f"course: {where}: expected one top-level def {name}(...)")
    return tree, defs[0]


def student_cell_source(ex: Exercise) -> str:
    """The stub's preamble, signature and comments, then the solution's body between the markers."""
    where = f"chapter {ex.chapter}, {ex.function}"
    stub = _without_checker_lines(ex.stub)
    stub_lines = stub.splitlines()
    _, stub_def = _function_node(stub, ex.function, f"{where} (stub)")
    preamble = stub_lines[: stub_def.lineno - 1]
    header_end = stub_def.body[0].lineno - 1 if stub_def.body else stub_def.lineno
    header = stub_lines[stub_def.lineno - 1 : header_end]
    stub_body = stub_lines[header_end:]
    comments = [ln for ln in stub_body if ln.strip().startswith("#")]

    solution = _without_checker_lines(ex.solution)
    sol_lines = solution.splitlines()
    tree, sol_def = _function_node(solution, ex.function, f"{where} (worked solution)")
    # imports stay with the answer; anything else in the solution's cell (a printed example) is left out
    others = [n for n in tree.body if n is not sol_def and isinstance(n, ast.Import | ast.ImportFrom)]
    imports = [ln for n in others for ln in sol_lines[n.lineno - 1 : n.end_lineno]]
    body_start = sol_def.body[0].lineno - 1
    # a docstring or comment lines right after the def line belong to the body too
    while body_start > sol_def.lineno and sol_lines[body_start - 1].strip().startswith("#"):
        body_start -= 1
    body = sol_lines[body_start : sol_def.end_lineno]
    indent = re.match(r"\s*", body[0]).group(0) if body else "    "

    lines = imports + ([""] if imports and preamble else []) + preamble + header + comments
    lines += [f"{indent}### BEGIN SOLUTION", *body, f"{indent}### END SOLUTION"]
    return "\n".join(lines).strip("\n") + "\n"


def has_reseedable_cases(module: str, root: Path = ROOT) -> bool:
    """Whether cnnlib/exercises/<module>.py draws its cases from ``_rng`` (then hidden cases can be reseeded)."""
    return "\ndef _rng(" in (root / "cnnlib" / "exercises" / f"{module}.py").read_text(encoding="utf-8")


def test_cell_source(ex: Exercise, seed: int, hidden: bool = True) -> str:
    if not hidden:
        return textwrap.dedent(
            f"""\
            # Graded: {ex.module}.{ex.checker}; if it fails, its message above says which case and why.
            assert {ex.module}.{ex.checker}({ex.function}), "{ex.checker} failed: read its message above"
            """
        )
    return textwrap.dedent(
        f"""\
        # Graded: {ex.module}.{ex.checker} on the book's cases; if it fails, its message above says
        # which case and why. Further cases with other random inputs are run when your work is graded.
        assert {ex.module}.{ex.checker}({ex.function}), "{ex.checker} failed: read its message above"
        ### BEGIN HIDDEN TESTS
        import numpy as _np

        _book_rng = {ex.module}._rng
        {ex.module}._rng = lambda offset=0: _np.random.default_rng({seed} + offset)
        try:
            _hidden = {ex.module}.{ex.checker}({ex.function})
        finally:
            {ex.module}._rng = _book_rng
        assert _hidden, "{ex.checker} failed on the hidden cases (other random inputs): read its message above"
        ### END HIDDEN TESTS
        """
    )


def _cell(cell_type: str, source: str, grade_id: str, *, solution=False, grade=False, locked=True, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    cell = {"cell_type": cell_type, "id": grade_id, "metadata": {"nbgrader": meta}, "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _setup_code(solutions: dict, module: str) -> str:
    """The worked solutions' import cell (the first code cell after the Colab cell), plus the checkers."""
    code_cells = [_source(c) for c in solutions["cells"] if c["cell_type"] == "code"]
    setup = next((c for c in code_cells if '"google.colab"' not in c), "")
    lines = setup.splitlines()
    if not any(IMPORT_CHECKERS.match(ln) for ln in lines):
        lines.append(f"from cnnlib.exercises import {module}")
    return "\n".join(lines).strip("\n") + "\n"


def _chapter_title(chapter: dict) -> str:
    for cell in chapter["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", _source(cell), re.M)
            if m:
                return m.group(1).strip()
    return "Exercises"


def assignment(chapter_path: Path, seed: int, root: Path = ROOT) -> dict:
    """The nbgrader source notebook of one chapter's exercises."""
    number = chapter_path.name[:2]
    chapter = _load(chapter_path)
    solutions = _load(_solutions_path(root, number))
    items = exercises(chapter_path, root)
    module = f"ch{number}"
    total = POINTS * len(items)
    intro = (
        f"# Exercises of chapter {_chapter_title(chapter)}\n\n"
        f"Write each function in the cell that holds its stub, then run the graded cell under it: it runs the "
        f"book's checker, which says which case failed and why. {len(items)} exercises, {POINTS} points each "
        f"({total} in all). When your work is graded, every checker also runs on cases with other random inputs "
        f"that this notebook does not show, so make your function right in general, not for the cases above. "
        f"A function that calls cnnlib's own backward pass for the quantity asked is refused: the point is to "
        f"compute it yourself. The chapter itself, `notebooks/{chapter_path.name}`, derives everything you need."
    )
    cells = [
        _cell("markdown", intro, f"ch{number}-intro"),
        _cell("code", _setup_code(solutions, module), f"ch{number}-setup"),
    ]
    for k, ex in enumerate(items, start=1):
        if ex.prompt:
            cells.append(_cell("markdown", ex.prompt, f"ch{number}-{k}-text"))
        cells.append(_cell("code", student_cell_source(ex), f"ch{number}-{k}-answer", solution=True, locked=False))
        cells.append(
            _cell(
                "code",
                test_cell_source(ex, seed + 1000 * int(number) + k, has_reseedable_cases(module, root)),
                f"ch{number}-{k}-test",
                grade=True,
                points=POINTS,
            )
        )
    metadata = copy.deepcopy(chapter.get("metadata", {}))
    metadata.pop("widgets", None)
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


NBGRADER_CONFIG = """\
# nbgrader configuration of the book's instructor edition (written by tools/course.py).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "cnn-backprop-book"
# The student version of a solution cell: the book's stubs return None ("not attempted yet").
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nreturn None"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ExecutePreprocessor.timeout = 300
"""


def generate(out: Path, seed: int = DEFAULT_SEED, root: Path = ROOT) -> list[str]:
    """Write the source course to ``out``; returns the assignment names."""
    if (out / "source").exists():
        shutil.rmtree(out / "source")
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    names = []
    for chapter_path in chapters(root):
        number = chapter_path.name[:2]
        nb = assignment(chapter_path, seed, root)
        if not any(c["metadata"]["nbgrader"].get("grade") for c in nb["cells"]):
            continue
        name = f"ch{number}"
        target = out / "source" / name / chapter_path.name
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        names.append(name)
    return names


# ---------------------------------------------------------------------------- proving it
WRONG_CHAPTER = "03"
WRONG_FUNCTION = "my_conv_backward"
WRONG_ANSWER = """\
def my_conv_backward(X, W, dZ):
    KH, KW = W.shape
    dX, dW, db = np.zeros_like(X), np.zeros_like(W), 0.0
    for u in range(dZ.shape[0]):
        for v in range(dZ.shape[1]):
            db += dZ[u, v]
            dW += dZ[u, v] * X[u:u + KH, v:v + KW]
            dX[u:u + KH, v:v + KW] += dZ[u, v] * W[::-1, ::-1]   # the kernel flipped once too often
    return dX, dW, db
"""
WRONG_HINT = "yours used the kernel unrotated"


def _nbgrader_api(course: Path):
    """nbgrader's Python API on ``course`` with its nbgrader_config.py (one process for every step)."""
    from nbgrader.apps import NbGraderAPI  # the instructor extra
    from traitlets.config.loader import PyFileConfigLoader

    # nbgrader runs `alembic` and starts kernels by name: both must come from this environment
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    return NbGraderAPI(config=config)


def _run(step: str, result: dict) -> None:
    if not result.get("success"):
        sys.stdout.write((result.get("log") or "")[-4000:] + (result.get("error") or "")[-4000:] + "\n")
        raise SystemExit(f"course: nbgrader {step} failed")


def _fill_answers(release: dict, answers: dict[str, str]) -> dict:
    """A submission: the release notebook with the answer cells named in ``answers`` replaced."""
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return nb


def _solution_answers(source: dict) -> dict[str, str]:
    """Each answer cell of the source notebook with its markers removed: the worked solution."""
    out = {}
    for cell in source["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            lines = [
                ln for ln in _source(cell).splitlines() if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            ]
            out[meta["grade_id"]] = "\n".join(lines) + "\n"
    return out


def check(out: Path, root: Path = ROOT) -> None:
    """Generate the course in a temporary folder and autograde three kinds of submission."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        course = Path(tmp) / "course"
        names = generate(course, root=root)
        if not names:
            raise SystemExit("course: no chapter with exercises found")
        print(f"course: {len(names)} assignments: {', '.join(names)}")
        api = _nbgrader_api(course)
        for name in names:
            _run(f"generate_assignment {name}", api.generate_assignment(name, force=True, create=True))

        from nbgrader.api import Gradebook  # the instructor extra

        expected_students = {"solutions": "full", "stubs": "zero"}
        for name in names:
            src_path = next((course / "source" / name).glob("*.ipynb"))
            release = _load(course / "release" / name / src_path.name)
            source = _load(src_path)
            answers = _solution_answers(source)
            submissions = {"solutions": _fill_answers(release, answers), "stubs": release}
            if name == f"ch{WRONG_CHAPTER}":
                wrong = dict(answers)
                wrong_id = next(
                    gid for gid, code in answers.items() if f"def {WRONG_FUNCTION}(" in code
                )  # the exercise whose answer is replaced
                wrong[wrong_id] = WRONG_ANSWER
                submissions["unflipped"] = _fill_answers(release, wrong)
                expected_students["unflipped"] = "partial"
            for student, nb in submissions.items():
                target = course / "submitted" / student / name / src_path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

        for name in names:
            for student in sorted(p.name for p in (course / "submitted").iterdir()):
                if (course / "submitted" / student / name).is_dir():
                    _run(f"autograde {name} {student}", api.autograde(name, student, force=True, create=True))
        wrong_name = f"ch{WRONG_CHAPTER}"
        if wrong_name in names:
            _run("generate_feedback", api.generate_feedback(wrong_name, "unflipped", force=True))

        problems = []
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            for name in names:
                for student in sorted({p.name for p in (course / "submitted").iterdir()}):
                    if not (course / "submitted" / student / name).is_dir():
                        continue
                    sub = gb.find_submission(name, student)
                    score, max_score = sub.score, sub.max_score
                    want = expected_students[student]
                    ok = {
                        "full": score == max_score > 0,
                        "zero": score == 0,
                        "partial": 0 < score < max_score,
                    }[want]
                    verdict = "ok" if ok else "WRONG"
                    print(f"  {name:5s} {student:10s} {score:5.1f} / {max_score:4.1f}  ({want}: {verdict})")
                    if not ok:
                        problems.append(f"{name} {student}: {score} of {max_score}, expected {want} marks")
                    if student == "unflipped":
                        feedback = next((course / "feedback" / student / name).glob("*.html")).read_text("utf-8")
                        if WRONG_HINT not in feedback:
                            problems.append(f"{name} {student}: the feedback does not show the hint {WRONG_HINT!r}")
                        else:
                            print(f"  {name:5s} {student:10s} feedback shows the checker's hint: {WRONG_HINT!r}")
        if problems:
            raise SystemExit("course: check failed:\n  " + "\n  ".join(problems))
    print(f"course: check passed in {time.perf_counter() - start:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the nbgrader source course")
    gen.add_argument("--out", type=Path, default=ROOT / OUT)
    gen.add_argument("--seed", type=int, default=DEFAULT_SEED, help="base seed of the hidden cases")
    chk = sub.add_parser("check", help="autograde solutions, stubs and a wrong answer in a temporary copy")
    chk.add_argument("--out", type=Path, default=ROOT / OUT)
    args = parser.parse_args(argv)
    if args.command == "generate":
        names = generate(args.out.resolve(), args.seed)
        print(f"course: wrote {len(names)} assignments to {args.out}/source: {', '.join(names)}")
    else:
        check(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

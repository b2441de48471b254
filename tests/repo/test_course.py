"""The instructor edition (tools/course.py): what the generated nbgrader course contains and how it grades.

Without nbgrader, the generated notebooks are graded here the way nbgrader's autograder runs them
(setup cell, answer cell, graded cell, hidden tests included): the worked solutions pass every
graded cell, the student version of every answer cell (nbgrader's stub, ``return None``) fails
every one, and chapter 03's unflipped kernel fails exactly one, with the checker's hint printed.
With nbgrader installed (``make course-check``), nbgrader's own ClearSolutions produces that
student version; ``tools/course.py check`` runs the full autograde.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path

import pytest
from _tools import load_tool

ROOT = Path(__file__).resolve().parents[2]
course = load_tool("course")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("course")
    course.generate(out)
    return out


def _notebooks(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in (out / "source").glob("*/*.ipynb")}


def _meta(cell: dict) -> dict:
    return cell["metadata"]["nbgrader"]


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def _stub_answer(code: str) -> str:
    """The student version of an answer cell, as nbgrader's ClearSolutions writes it with the course's stub."""
    return re.sub(
        r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n?",
        lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}return None\n",
        code,
        flags=re.S | re.M,
    )


def _grade(nb: dict, answers: dict[str, str] | None = None) -> tuple[dict[str, bool], str]:
    """Run the notebook's cells in order in one namespace; graded cell id -> passed, and everything printed."""
    namespace: dict = {"__name__": "__main__"}
    results: dict[str, bool] = {}
    printed = io.StringIO()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = _meta(cell)
        code = (answers or {}).get(meta["grade_id"], _src(cell))
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(code, meta["grade_id"], "exec"), namespace)
                ok = True
            except AssertionError:
                ok = False
        if meta.get("grade"):
            results[meta["grade_id"]] = ok
        else:
            assert ok, f"{meta['grade_id']}: a cell that is not graded failed"
    return results, printed.getvalue()


def test_every_chapter_with_exercises_is_an_assignment(generated: Path):
    chapters = sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    with_checkers = [n for n in chapters if (ROOT / "cnnlib" / "exercises" / f"ch{n}.py").is_file()]
    assert sorted(_notebooks(generated)) == [f"ch{n}" for n in with_checkers]
    assert (generated / "nbgrader_config.py").is_file()


def test_each_stub_becomes_a_student_cell_and_each_checker_a_graded_cell(generated: Path):
    for name, nb in _notebooks(generated).items():
        chapter = next((ROOT / "notebooks").glob(f"{name[2:]}_*.ipynb"))
        stubs = [
            c
            for c in json.loads(chapter.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code" and re.search(r"^def my_\w+\(", _src(c), re.M) and ".check_" in _src(c)
        ]
        answers = [c for c in nb["cells"] if _meta(c)["solution"]]
        tests = [c for c in nb["cells"] if _meta(c)["grade"]]
        assert len(answers) == len(tests) == len(stubs), name
        for stub, answer, test in zip(stubs, answers, tests):
            signature = re.search(r"^def my_\w+\(.*\):$", _src(stub), re.M).group(0)
            assert signature in _src(answer), f"{name}: {signature} is not the answer cell's signature"
            assert "### BEGIN SOLUTION" in _src(answer) and "### END SOLUTION" in _src(answer)
            assert not _meta(answer)["locked"] and _meta(test)["locked"] and _meta(test)["points"] == course.POINTS
            checker = re.search(r"(ch\d\d\.check_\w+)\(", _src(stub)).group(1)
            assert f"assert {checker}(" in _src(test)
        ids = [_meta(c)["grade_id"] for c in nb["cells"]]
        assert len(ids) == len(set(ids)), f"{name}: grade ids repeat"
        assert "solutions/" not in json.dumps(nb), f"{name}: the assignment points students to the worked solutions"


def test_hidden_tests_reseed_the_checkers_cases(generated: Path):
    for name, nb in _notebooks(generated).items():
        reseedable = course.has_reseedable_cases(name)
        for cell in (c for c in nb["cells"] if _meta(c)["grade"]):
            text = _src(cell)
            assert ("### BEGIN HIDDEN TESTS" in text) == reseedable, name
            if reseedable:
                assert f"{name}._rng = lambda" in text and f"{name}._rng = _book_rng" in text


def test_worked_solutions_pass_and_untouched_stubs_fail_every_graded_cell(generated: Path):
    for name, nb in _notebooks(generated).items():
        solved, _ = _grade(nb)
        assert solved and all(solved.values()), f"{name}: worked solutions fail {solved}"
        stubs = {_meta(c)["grade_id"]: _stub_answer(_src(c)) for c in nb["cells"] if _meta(c)["solution"]}
        assert all("return None" in s and "BEGIN SOLUTION" not in s for s in stubs.values())
        untouched, printed = _grade(nb, stubs)
        assert not any(untouched.values()), f"{name}: an untouched stub passes {untouched}"
        assert "not attempted yet" in printed


def test_unflipped_kernel_loses_one_exercise_and_sees_the_hint(generated: Path):
    nb = _notebooks(generated)[f"ch{course.WRONG_CHAPTER}"]
    answer_id = next(
        _meta(c)["grade_id"] for c in nb["cells"] if _meta(c)["solution"] and f"def {course.WRONG_FUNCTION}(" in _src(c)
    )
    results, printed = _grade(nb, {answer_id: course.WRONG_ANSWER})
    assert sum(not ok for ok in results.values()) == 1
    assert course.WRONG_HINT in printed


def test_a_solution_that_calls_cnnlib_backward_earns_nothing(generated: Path):
    nb = _notebooks(generated)["ch03"]
    answer_id = next(_meta(c)["grade_id"] for c in nb["cells"] if _meta(c)["solution"])
    cheat = (
        "import cnnlib\n\n\ndef my_conv_backward(X, W, dZ):\n"
        "    _, cache = cnnlib.conv2d_forward(X[None, None], W[None, None], np.zeros(1))\n"
        "    dX, dW, db = cnnlib.conv2d_backward(dZ[None, None], cache)\n"
        "    return dX[0, 0], dW[0, 0], float(db[0])\n"
    )
    results, printed = _grade(nb, {answer_id: cheat})
    assert results[answer_id.replace("answer", "test")] is False
    assert "calls cnnlib.conv2d_backward" in printed


def test_nbgrader_writes_the_same_student_version(generated: Path):
    """nbgrader's own ClearSolutions, with the course's configuration, gives the stub the tests above assume."""
    if os.environ.get("CNNLIB_REQUIRE_NBGRADER") == "1":
        import nbgrader  # noqa: F401
    pytest.importorskip("nbgrader", reason="nbgrader (the instructor extra) is not installed")
    import nbformat
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(generated)).load_config()
    for path in (generated / "source").glob("*/*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        expected = {
            c.metadata.nbgrader.grade_id: _stub_answer(c.source) for c in nb.cells if c.metadata.nbgrader.solution
        }
        released, _ = ClearSolutions(config=config).preprocess(nb, {})
        for cell in released.cells:
            if cell.metadata.nbgrader.solution:
                assert cell.source.rstrip() == expected[cell.metadata.nbgrader.grade_id].rstrip()

"""Mutation run over the numerical core: does the unit-test suite notice realistic bugs?

Each mutant in ``tests/mutants.toml`` is one realistic bug: a file of ``cnnlib/``, an exact
snippet of it that occurs exactly once, its replacement and a description. For each mutant
this script writes the mutated file into a temporary copy of the repository (the working
tree is never touched), runs the unit-test modules that guard that file with ``-x`` and a
timeout, and records the outcome:

* ``killed``   — some test failed (or errored);
* ``survived`` — every test passed: the bug went unnoticed;
* ``timeout``  — the tests ran longer than the timeout (counted as noticed, listed apart).

The report goes to ``tests/MUTATION.md``: date, counts, kill rate, every survivor with the
explanation recorded for it in ``tests/mutants.toml`` (``note``), the earlier survivors that
the tests now kill (their ``note`` names the test), and the full table.

    python tools/mutate.py                              # every mutant, report written
    python tools/mutate.py --only fast-s1-band-start    # some mutants by id (no report)
    python tools/mutate.py --tests test_conv.py         # other test modules (no report)
    python tools/mutate.py --list                       # check the list (each snippet once) and stop

``make mutation`` runs the first form. It is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "tests" / "mutants.toml"
REPORT = ROOT / "tests" / "MUTATION.md"

# The unit-test modules that guard each file, fastest and most targeted first (-x stops at
# the first failure, so a mutant that the first module kills costs little).
CORE = "tests/core/"
TESTS_FOR = {
    "cnnlib/_conv_fast.py": ["test_size_paths.py", "test_conv.py"],
    "cnnlib/conv.py": ["test_size_paths.py", "test_conv.py", "test_branches.py"],
    "cnnlib/_pool_fast.py": ["test_size_paths.py", "test_pool.py"],
    "cnnlib/pool.py": ["test_pool.py", "test_size_paths.py"],
    "cnnlib/activations.py": ["test_activations.py"],
    "cnnlib/dense.py": ["test_dense.py"],
    "cnnlib/losses.py": ["test_losses.py", "test_branches.py"],
    "cnnlib/gradcheck.py": ["test_gradcheck.py", "test_branches.py"],
    "cnnlib/layers.py": ["test_network.py", "test_branches.py"],
    "cnnlib/convmatrix.py": ["test_convmatrix.py", "test_branches.py"],
    "cnnlib/routes.py": ["test_routes.py", "test_branches.py"],
    "cnnlib/seeds.py": ["test_seeds.py"],
    "cnnlib/_validate.py": ["test_validate.py", "test_conv.py", "test_pool.py", "test_routes.py"],
    "cnnlib/batchnorm.py": ["test_batchnorm.py", "test_blocks.py"],
    "cnnlib/blocks.py": ["test_blocks.py"],
    "cnnlib/init.py": ["test_blocks.py"],
    "cnnlib/optim.py": ["test_blocks.py"],
    "cnnlib/transposed.py": ["test_transposed.py", "test_torch_parity_upsampling.py"],
    "cnnlib/upsample.py": ["test_upsample.py", "test_torch_parity_upsampling.py"],
    "cnnlib/global_pool.py": ["test_global_pool.py"],
    "cnnlib/grouped.py": ["test_grouped.py", "test_torch_parity_upsampling.py"],
    "cnnlib/autograd.py": ["test_autograd.py"],
}
# What the temporary copy needs: the package, the tests and the pytest configuration.
COPY = ["cnnlib", "tests", "pyproject.toml"]


@dataclass
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    description: str
    note: str = ""
    tests: list[str] = field(default_factory=list)

    def test_paths(self) -> list[str]:
        return [CORE + t for t in (self.tests or TESTS_FOR[self.file])]


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed / survived / timeout
    seconds: float
    detail: str = ""


def load_mutants(path: Path = MUTANTS) -> list[Mutant]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    mutants = [Mutant(**m) for m in data["mutant"]]
    ids = [m.id for m in mutants]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"mutants.toml: duplicate ids {duplicates}")
    return mutants


def check_mutants(mutants: list[Mutant], root: Path = ROOT) -> list[str]:
    """Problems with the list: unknown files, snippets that do not occur exactly once, no-op replacements."""
    problems = []
    for m in mutants:
        if m.file not in TESTS_FOR:
            problems.append(f"{m.id}: no tests are mapped to {m.file}")
            continue
        text = (root / m.file).read_text()
        count = text.count(m.original)
        if count != 1:
            problems.append(f"{m.id}: the snippet occurs {count} times in {m.file}")
        if m.original == m.replacement:
            problems.append(f"{m.id}: the replacement equals the original")
        for t in m.test_paths():
            if not (root / t).exists():
                problems.append(f"{m.id}: no test module {t}")
    return problems


def make_copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def run_tests(copy: Path, tests: list[str], timeout: float) -> tuple[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(copy),
        PYTHONDONTWRITEBYTECODE="1",
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MPLBACKEND="Agg",
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--hypothesis-seed=0",  # the same examples on every run
        *tests,
    ]
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode == 0:
        return "survived", last
    if proc.returncode == 1:
        return "killed", last
    return "killed", f"pytest exit code {proc.returncode}: {last}"


def run_mutant(m: Mutant, copy: Path, timeout: float) -> Outcome:
    target = copy / m.file
    original_text = (ROOT / m.file).read_text()
    start = time.monotonic()
    try:
        target.write_text(original_text.replace(m.original, m.replacement, 1))
        shutil.rmtree(copy / ".hypothesis", ignore_errors=True)  # no examples remembered from another mutant
        status, detail = run_tests(copy, m.test_paths(), timeout)
    finally:
        target.write_text(original_text)
    return Outcome(m, status, time.monotonic() - start, detail)


def write_report(outcomes: list[Outcome], seconds: float, path: Path = REPORT) -> None:
    n = len(outcomes)
    killed = sum(o.status == "killed" for o in outcomes)
    timeout = sum(o.status == "timeout" for o in outcomes)
    survived = [o for o in outcomes if o.status == "survived"]
    rate = 100.0 * (killed + timeout) / n if n else 0.0
    lines = [
        "# Mutation run",
        "",
        "Written by `tools/mutate.py` (`make mutation`); the mutants are listed in `tests/mutants.toml`.",
        "Each mutant is one realistic bug in the numerical core, applied to a temporary copy of the",
        "repository; the unit-test modules that guard its file run with `-x` and a timeout.",
        "",
        f"- Date: {dt.date.today().isoformat()}",
        f"- Mutants: {n}",
        f"- Killed: {killed}",
        f"- Timed out: {timeout}",
        f"- Survived: {len(survived)}",
        f"- Kill rate: {rate:.1f} % (killed + timed out)",
        f"- Wall time: {seconds / 60:.1f} min",
        "",
        "## Survivors",
        "",
    ]
    if not survived:
        lines.append("None.")
    for o in survived:
        note = o.mutant.note or "(no explanation recorded yet)"
        lines.append(f"- `{o.mutant.id}` ({o.mutant.file}): {o.mutant.description}. {note}")
    noted = [o for o in outcomes if o.mutant.note and o.status != "survived"]
    if noted:
        lines += ["", "## Earlier survivors, now killed", ""]
        lines += [f"- `{o.mutant.id}` ({o.mutant.file}): {o.mutant.description}. {o.mutant.note}" for o in noted]
    lines += [
        "",
        "## All mutants",
        "",
        "| id | file | bug | result | s |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        desc = o.mutant.description.replace("|", "\\|")
        lines.append(f"| `{o.mutant.id}` | {o.mutant.file} | {desc} | {o.status} | {o.seconds:.0f} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants (no report is written)")
    parser.add_argument("--list", action="store_true", help="check the list and print it, run nothing")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per mutant (default 240)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once, each in its own copy (default 1)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the unmutated tests")
    parser.add_argument(
        "--tests", nargs="+", metavar="MODULE", help="run these tests/core modules instead of the mapped ones"
    )
    args = parser.parse_args(argv)

    mutants = load_mutants()
    problems = check_mutants(mutants)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if args.list:
        for m in mutants:
            print(f"{m.id:32} {m.file:24} {m.description}")
        print(f"{len(mutants)} mutants, each snippet found exactly once")
        return 0
    if args.only:
        unknown = set(args.only) - {m.id for m in mutants}
        if unknown:
            print(f"unknown mutant ids: {sorted(unknown)}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.id in args.only]
    if args.tests:
        for m in mutants:
            m.tests = list(args.tests)

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cnnlib-mutants-") as tmp:
        copies = [make_copy(Path(tmp) / f"copy{k}") for k in range(max(1, args.jobs))]
        if not args.no_baseline:
            tests = sorted({t for m in mutants for t in m.test_paths()})
            status, detail = run_tests(copies[0], tests, args.timeout * 4)
            if status != "survived":
                print(f"the unmutated tests do not pass ({status}: {detail}); fix them first", file=sys.stderr)
                return 1
            print(f"baseline: {detail}", flush=True)

        free = list(copies)

        def work(m: Mutant) -> Outcome:
            copy = free.pop()
            try:
                outcome = run_mutant(m, copy, args.timeout)
            finally:
                free.append(copy)
            print(f"{outcome.status:8} {outcome.seconds:5.0f} s  {m.id}: {m.description}", flush=True)
            return outcome

        with ThreadPoolExecutor(max_workers=len(copies)) as pool:
            outcomes = list(pool.map(work, mutants))
    seconds = time.monotonic() - start

    killed = sum(o.status != "survived" for o in outcomes)
    print(f"{killed}/{len(outcomes)} killed ({100.0 * killed / len(outcomes):.1f} %) in {seconds / 60:.1f} min")
    for o in outcomes:
        if o.status == "survived":
            print(f"  survived: {o.mutant.id} ({o.mutant.file}): {o.mutant.description}")
    if not (args.only or args.tests):
        write_report(outcomes, seconds)
        print(f"report: {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

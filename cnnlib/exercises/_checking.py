"""Shared machinery of the exercise checkers (cnnlib.exercises.chNN).

A checker is a list of :class:`Case` objects (arguments, expected answer, optional
hints) run by :func:`run_cases`, which prints one clear verdict and returns a bool.
Nothing here raises because of a reader's answer.

An exercise that asks for a gradient cnnlib already computes names cnnlib's own backward
functions (:func:`cnnlib_backward`) as ``forbidden``: a reader's function that calls one of them,
however it was imported, is refused with a message that says why.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Case", "Verdict", "run_cases", "compare", "verdict", "describe", "is_int", "cnnlib_backward"]

RTOL = 1e-7
ATOL = 1e-9


@dataclass
class Case:
    """One test case: ``fn(*args)`` should equal ``expected``.

    ``expected`` is an array, a number, or a tuple of them (then ``names`` labels
    each part, e.g. ``("dX", "dW", "db")``). ``require(answer)`` may return a
    sentence describing a problem the numbers alone do not show (e.g. a float
    where an int is wanted, see :func:`is_int`). ``judge(answer)``, when given, replaces
    the comparison with ``expected`` for answers that are not numbers (a dict of shapes,
    a set of rows): it returns a sentence describing what is wrong, or None. ``hints`` maps a description to a wrong
    answer that a typical mistake produces, e.g. ``{"kernel flipped": Z_flipped}``:
    when the reader's answer matches one, the verdict says so.
    """

    label: str
    args: tuple
    expected: object
    names: Sequence[str] | None = None
    hints: dict = field(default_factory=dict)
    require: Callable[[object], str | None] | None = None  # extra check of the answer: a problem or None
    judge: Callable[[object], str | None] | None = None  # replaces the comparison with expected: a problem or None


class Verdict:
    """What a checker returns: truthy when every case passed.

    The verdict has already been printed, so a notebook cell ending in
    ``check(my_function)`` shows nothing more (no ``True``/``False`` echo, with or
    without a trailing semicolon); ``bool(verdict)`` and ``verdict.message`` are there
    for code that wants the result.
    """

    __slots__ = ("passed", "message")

    def __init__(self, passed: bool, message: str):
        self.passed = bool(passed)
        self.message = message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Verdict(passed={self.passed})"

    def _ipython_display_(self) -> None:  # IPython: the message is already printed
        pass


def verdict(passed: bool, message: str) -> Verdict:
    """Print ``message`` and return it as a :class:`Verdict`."""
    print(message)
    return Verdict(passed, message)


def describe(x) -> str:
    """A few words for any value a reader's function may return: its shape, length or type and value."""
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, tuple | list):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"{type(x).__name__} {x!r}"[:80]


def is_int(answer) -> str | None:
    """A ``Case.require`` check: None when ``answer`` is an int (not a bool), else a sentence saying so."""
    if isinstance(answer, int | np.integer) and not isinstance(answer, bool):
        return None
    return f"the answer should be an int, got {type(answer).__name__} {answer!r}: use // (floor division) or int()"


def compare(answer, expected, name: str = "your answer") -> str | None:
    """None when ``answer`` matches ``expected`` (to rtol 1e-7), else a sentence saying how it differs."""
    exp = np.asarray(expected, dtype=np.float64)
    try:
        got = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        want = "a number" if exp.ndim == 0 else f"an array of shape {exp.shape}"
        return f"{name} should be {want}, got {describe(answer)}"
    if got.shape != exp.shape:
        if exp.ndim == 0 and got.size == 1:
            got = got.reshape(())
        else:
            return f"{name} has shape {got.shape}, expected {exp.shape}"
    if not np.all(np.isfinite(got)):
        return f"{name} contains NaN or infinity"
    if np.allclose(got, exp, rtol=RTOL, atol=ATOL):
        return None
    diff = np.abs(got - exp)
    where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    at = f" at index {tuple(int(i) for i in where)}" if where else ""
    return (
        f"{name} is off by up to {float(diff.max()):.3g}{at} "
        f"(yours {float(got[where]):.6g}, expected {float(exp[where]):.6g})"
    )


def _split(answer, expected, names):
    """Pair up the parts of a tuple answer with the expected parts; a message if that is impossible."""
    if names is None:
        return [("your answer", answer, expected)], None
    if not isinstance(answer, tuple | list):
        return None, f"expected a tuple ({', '.join(names)}), got {describe(answer)}"
    if len(answer) != len(names):
        return None, f"expected {len(names)} values ({', '.join(names)}), got {len(answer)}"
    return list(zip(names, answer, expected)), None


# cnnlib's backward passes, by layer: the public functions and the loops and kernels behind them
# (module, function name), all inside cnnlib.
_BACKWARD = {
    "conv": [
        ("conv", "conv2d_backward"),
        ("conv", "conv2d_backward_naive"),
        ("_conv_fast", "backward_general"),
        ("_conv_fast", "backward_stride1"),
        ("_conv_fast", "backward_stride1_batched"),
    ],
    "col2im": [("conv", "col2im"), ("_conv_fast", "col2im_add")],
    "pool": [
        ("pool", "maxpool2d_backward"),
        ("pool", "maxpool2d_backward_naive"),
        ("pool", "avgpool2d_backward"),
        ("pool", "avgpool2d_backward_naive"),
        ("_pool_fast", "max_backward"),
        ("_pool_fast", "avg_backward"),
    ],
    "dense": [("dense", "dense_backward"), ("dense", "dense_backward_naive"), ("dense", "flatten_backward")],
    "activations": [
        ("activations", "relu_backward"),
        ("activations", "sigmoid_backward"),
        ("activations", "tanh_backward"),
    ],
    "softmax_cross_entropy": [("losses", "softmax_cross_entropy")],
}


def cnnlib_backward(*layers: str) -> tuple[Callable, ...]:
    """cnnlib's own backward functions for ``layers`` (keys of the table above, e.g. ``"conv"``).

    A checker passes them to :func:`run_cases` as ``forbidden``.
    """
    out = []
    for layer in layers:
        for module, name in _BACKWARD[layer]:
            out.append(getattr(importlib.import_module(f"cnnlib.{module}"), name))
    return tuple(out)


def _call_watching(fn: Callable, args: tuple, forbidden: Sequence[Callable]):
    """``fn(*args)`` and the qualified name of the first ``forbidden`` function it called (or None).

    Watches code objects through ``sys.setprofile``, so a call is seen however the function was
    imported (``cnnlib.conv2d_backward``, ``from cnnlib.conv import ...``, an alias) and through
    any decorator. The previous profiler is restored afterwards.
    """
    if not forbidden:
        return fn(*args), None
    import cnnlib

    codes = {}
    for f in forbidden:
        target = inspect.unwrap(f)
        public = getattr(cnnlib, target.__name__, None) is f
        codes[target.__code__] = f"cnnlib.{target.__name__}" if public else f"{target.__module__}.{target.__name__}"
    seen: list[str] = []
    previous = sys.getprofile()

    def profiler(frame, event, arg):
        if event == "call" and not seen and frame.f_code in codes:
            seen.append(codes[frame.f_code])

    sys.setprofile(profiler)
    try:
        answer = fn(*args)
    finally:
        sys.setprofile(previous)
    return answer, (seen[0] if seen else None)


def run_cases(
    title: str, fn: Callable, cases: Sequence[Case], *, stub_hint: str = "", forbidden: Sequence[Callable] = ()
) -> Verdict:
    """Run ``fn`` on every case; print the verdict; return a :class:`Verdict` (truthy when all pass).

    ``fn`` returning None on the first case counts as "not attempted yet". ``fn`` calling one of
    ``forbidden`` (cnnlib's own implementation of what the exercise asks, see
    :func:`cnnlib_backward`) fails the check with a message that names the function.
    """
    if not callable(fn):
        return verdict(False, f"{title}: pass your function itself (e.g. check(my_function)), got {describe(fn)}.")
    for k, case in enumerate(cases, start=1):
        args = copy.deepcopy(case.args)  # the reader's function may modify what it is given
        try:
            answer, used = _call_watching(fn, args, forbidden)
        except Exception as exc:  # report the reader's error, never re-raise
            return verdict(
                False, f"{title}: ✗ case {k} ({case.label}): your function raised {type(exc).__name__}: {exc}"
            )
        if used is not None:
            return verdict(
                False,
                f"{title}: ✗ your function calls {used}, cnnlib's own computation of what this exercise asks "
                "for, so it would pass without showing the derivation. Compute it yourself from the "
                "equations (NumPy is fine); the checker compares your result with cnnlib's.",
            )
        failed = f"{title}: ✗ case {k} ({case.label}): "
        if answer is None:
            if k == 1:
                return verdict(False, f"{title}: not attempted yet — your function returned None. {stub_hint}".rstrip())
            return verdict(False, failed + "your function returned None")
        if any(
            isinstance(a, np.ndarray) and not np.array_equal(a, b, equal_nan=True)
            for a, b in zip(args, case.args)
            if isinstance(b, np.ndarray) and a.shape == b.shape
        ):
            return verdict(False, failed + "your function modified its input arrays; work on copies")
        msg = case.judge(answer) if case.judge is not None else _mismatch(answer, case)
        if msg is None and case.require is not None:
            msg = case.require(answer)
        if msg is not None:
            return verdict(False, failed + msg)
    return verdict(True, f"{title}: ✓ all {len(cases)} cases passed.")


def _mismatch(answer, case: Case) -> str | None:
    """None when ``answer`` matches ``case.expected``, else how it differs, with the matching hint if any."""
    parts, msg = _split(answer, case.expected, case.names)
    if msg is None:
        problems = [m for name, got, exp in parts if (m := compare(got, exp, name)) is not None]
        msg = "; ".join(problems) if problems else None
    if msg is None:
        return None
    hint = _match_hint(answer, case)
    return msg + (f"\n  Hint: {hint}" if hint else "")


def _match_hint(answer, case: Case) -> str | None:
    for text, wrong in case.hints.items():
        parts, msg = _split(answer, wrong, case.names)
        if msg is not None:
            continue
        if all(compare(got, exp) is None for _, got, exp in parts):
            return text
    return None

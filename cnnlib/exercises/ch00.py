"""Setup check and exercise checkers for notebook 00 (start here).

* :func:`check_setup` — is everything the book needs importable, and does cnnlib compute
  and verify a gradient on this machine?
* :func:`check_central_difference` — exercise 0.1: the central difference of eq. 0.1 for
  a function of one number, ``my_central_difference(f, x, h) -> float``;
* :func:`check_seed003_shapes` — exercise 0.2: the shape of every stage of seed 003's
  network, ``my_seed003_shapes(N, C, H, W, F, K, M) -> dict``.

Each prints a verdict and returns True or False; none raises because of your answer.
"""

from __future__ import annotations

import functools
import importlib
import math
import platform
import sys

import numpy as np

from ._checking import Case, Verdict, run_cases, verdict

__all__ = ["check_setup", "check_central_difference", "check_seed003_shapes", "SEED003_STAGES"]

# --------------------------------------------------------------------------- setup

_PACKAGES = [  # (import name, what the book uses it for)
    ("numpy", "all the numbers"),
    ("matplotlib", "figures"),
    ("ipywidgets", "the explorers"),
    ("sympy", "symbolic checks"),
    ("scipy", "reference convolutions"),
]


def check_setup() -> Verdict:
    """Print the versions the book runs on and check one gradient end to end; True when all is well."""
    ok = True
    where = "Google Colab" if "google.colab" in sys.modules else "a local or Binder Jupyter kernel"
    print(f"Python {platform.python_version()} on {where}")
    for name, use in _PACKAGES:
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # report, never raise
            print(f"  ✗ {name:<11} cannot be imported ({type(exc).__name__}: {exc}); needed for {use}")
            ok = False
        else:
            print(f"  ✓ {name:<11} {getattr(mod, '__version__', '?'):<10} ({use})")
    try:
        import cnnlib
        from cnnlib.gradcheck import check_gradients

        rng = np.random.default_rng(0)
        inputs = {"X": rng.standard_normal((1, 2, 5, 5)), "W": rng.standard_normal((3, 2, 3, 3)), "b": np.zeros(3)}
        report = check_gradients(cnnlib.conv2d_forward, cnnlib.conv2d_backward, inputs)
        if report.passed:
            print(f"  ✓ cnnlib      {cnnlib.__version__:<10} (a convolution's gradients match finite differences)")
        else:
            print(f"  ✗ cnnlib      {cnnlib.__version__:<10} gradient check failed:\n{report}")
            ok = False
    except Exception as exc:
        print(f"  ✗ cnnlib cannot run ({type(exc).__name__}: {exc})")
        ok = False
    return verdict(
        ok, "Setup looks good: every chapter should run." if ok else "Fix the ✗ lines above, then run this cell again."
    )


# --------------------------------------------------------------------------- exercise 0.1


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _cubic(x):
    return x**3 - 2.0 * x


def check_central_difference(my_central_difference) -> Verdict:
    """Exercise 0.1. ``my_central_difference(f, x, h) -> float``: ``(f(x + h) - f(x - h)) / (2h)`` (eq. 0.1).

    ``f`` takes and returns a Python float. The checker compares with the formula itself
    and recognises the usual slips (a one-sided difference, dividing by h instead of 2h).
    """
    specs = [
        ("f = sin at x = 1, h = 1e-5", math.sin, 1.0, 1e-5),
        ("f = exp at x = 0.5, h = 1e-4", math.exp, 0.5, 1e-4),
        ("f = x³ - 2x at x = 2, h = 0.01", _cubic, 2.0, 0.01),
        ("f = sigmoid at x = -0.3, h = 1e-3", _sigmoid, -0.3, 1e-3),
    ]
    cases = []
    for label, f, x, h in specs:
        central = (f(x + h) - f(x - h)) / (2 * h)
        hints = {
            "that is the forward difference (f(x+h) - f(x)) / h: its error shrinks only like h, "
            "the central one's like h²": (f(x + h) - f(x)) / h,
            "that is the backward difference (f(x) - f(x-h)) / h: use both neighbours, x + h and x - h": (
                f(x) - f(x - h)
            )
            / h,
            "divide by 2h: the two points x - h and x + h are 2h apart": (f(x + h) - f(x - h)) / h,
        }
        cases.append(Case(label, (f, x, h), central, hints=hints))
    return run_cases(
        "check_central_difference",
        my_central_difference,
        cases,
        stub_hint="Fill in my_central_difference(f, x, h) so that it returns a number.",
    )


# --------------------------------------------------------------------------- exercise 0.2

SEED003_STAGES = ("Z", "A", "P", "p", "s", "yhat")
"""The stages of seed 003's network whose shapes exercise 0.2 asks for, in order."""


def _seed003_shapes(N, C, H, W, F, K, M) -> dict[str, tuple[int, ...]]:
    """Reference: conv K×K (stride 1, no padding) -> ReLU -> 2×2 max-pool (stride 2) -> flatten -> dense -> softmax."""
    from ..layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU

    shapes = {}
    shape = (N, C, H, W)
    for name, layer in zip(SEED003_STAGES[:4], (Conv2D(C, F, K, seed=0), ReLU(), MaxPool2D(2), Flatten())):
        shape = layer.output_shape(shape)
        shapes[name] = shape
    shapes["s"] = Dense(shape[1], M, seed=0).output_shape(shape)
    shapes["yhat"] = shapes["s"]
    return shapes


def _as_shape(v):
    """A tuple of ints, or None if ``v`` is not a shape."""
    if isinstance(v, np.ndarray) or not isinstance(v, tuple | list):
        return None
    if not all(isinstance(d, int | np.integer) and not isinstance(d, bool) for d in v):
        return None
    return tuple(int(d) for d in v)


def _shape_hint(name, got, exp, args) -> str:
    N, C, H, W, F, K, M = args
    if len(got) == len(exp) - 1 and got == exp[1:]:
        return "the batch axis N comes first in every shape (NCHW, and (N, Q) after flattening)"
    if name in ("Z", "A") and len(got) == 4 and got[1] == C and C != F:
        return "the convolution outputs one map per filter: the channel axis becomes F"
    if name in ("Z", "A") and len(got) == 4 and got[2:] == (H - K, W - K):
        return "a K-wide window fits H - K + 1 times along an axis of length H"
    Hz, Wz = H - K + 1, W - K + 1
    if name == "P" and len(got) == 4 and got[2:] == (math.ceil(Hz / 2), math.ceil(Wz / 2)) and got != exp:
        return "a 2×2 pooling window with stride 2 fits floor(H_Z / 2) times: a leftover odd row is dropped"
    if name == "p" and len(got) == 2 and exp[1] % F == 0 and got[1] == exp[1] // F:
        return "flattening keeps every channel: p has Q = F · H_P · W_P features"
    return ""


def _shape_problem(args, expected, answer) -> str | None:
    """A ``Case.judge``: None if ``answer`` holds the ``expected`` shapes for ``args``, else a sentence."""
    if not isinstance(answer, dict):
        return f"return a dict with keys {', '.join(SEED003_STAGES)}, got {type(answer).__name__}"
    missing = [n for n in SEED003_STAGES if n not in answer]
    if missing:
        return f"the dict has no entry for {', '.join(missing)}"
    for name in SEED003_STAGES:
        got = _as_shape(answer[name])
        if got is None:
            return f"{name} should be a tuple of ints such as {expected[name]}, got {answer[name]!r}"[:300]
        if got != expected[name]:
            hint = _shape_hint(name, got, expected[name], args)
            return f"{name} has shape {got}, expected {expected[name]}" + (f"\n  Hint: {hint}" if hint else "")
    return None


def check_seed003_shapes(my_seed003_shapes) -> Verdict:
    """Exercise 0.2. ``my_seed003_shapes(N, C, H, W, F, K, M) -> dict`` of shapes (notebook 00, §0.4).

    Seed 003's network on N images of C channels, H×W pixels: a convolution with F filters
    of K×K (stride 1, no padding), ReLU, 2×2 max-pooling with stride 2, flatten, a dense
    layer with M outputs, softmax. Return ``{"Z": ..., "A": ..., "P": ..., "p": ..., "s": ...,
    "yhat": ...}``, each a tuple of ints such as ``(N, F, H - K + 1, W - K + 1)``.
    """
    grid = [
        ("one 3-channel 8×8 image, 4 filters of 3×3, 10 classes", (1, 3, 8, 8, 4, 3, 10)),
        ("seed 002's sizes: 6×6, one 3×3 filter, M=1", (2, 1, 6, 6, 1, 3, 1)),
        ("non-square 9×7 input, 2×2 kernels", (5, 2, 9, 7, 3, 2, 4)),
        ("an odd 5×5 feature map: pooling drops the last row and column", (1, 1, 6, 6, 2, 2, 3)),
    ]
    cases = []
    for label, args in grid:
        N, C, H, W, F, K, M = args
        label = f"{label}; N={N}, C={C}, H={H}, W={W}, F={F}, K={K}, M={M}"
        expected = _seed003_shapes(*args)
        cases.append(Case(label, args, expected, judge=functools.partial(_shape_problem, args, expected)))
    return run_cases(
        "check_seed003_shapes",
        my_seed003_shapes,
        cases,
        stub_hint="Fill in my_seed003_shapes(...) so that it returns a dict of shapes.",
    )

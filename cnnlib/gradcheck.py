"""Finite-difference gradient checking: how every result in the book is verified.

Notebook 00 ("how every result is verified") introduces the idea and notebook 03
uses it on the convolution. A backward pass claims ``dL/dx``; we compare it with
the central difference (notebook 00, eq. 0.1)::

    dL/dx_i  ~  ( L(x + h e_i) - L(x - h e_i) ) / (2h)

whose error is O(h^2) from truncation plus about ``eps * |L| / h`` from rounding
(``eps`` = 2.2e-16 in float64). With h = 1e-6 a correct gradient agrees to about
1e-10 relative to its largest entry (:func:`rel_error`), far below the 1e-7 the
checks demand, while a wrong one is typically off by 1e-3 to 1. An entry with
|x_i| > 1 is nudged by ``h * |x_i|`` instead, so that the step stays a millionth of
the entry (see :func:`numerical_gradient`). The central difference is evaluated as
``sum((f(x + h e_i) - f(x - h e_i)) * dout) / 2h``:
subtracting the outputs first lets every output entry that ``x_i`` does not touch
cancel exactly, so only the entries that moved add rounding noise.

For a layer with array output ``out = f(x)`` we never form the Jacobian; we check
the vector-Jacobian product that a backward pass computes, by differentiating the
scalar ``sum(f(x) * dout)`` for a random upstream gradient ``dout`` (random, never
all ones: with an all-ones ``dout`` every output position looks alike, which hides
errors such as routing the upstream gradient to the wrong positions).

Public functions:

* :func:`numerical_gradient` -- central differences of ``sum(f(x) * dout)``;
* :func:`rel_error` -- the relative error used throughout the book (largest
  discrepancy over largest entry; CS231n's per-entry version with ``elementwise=True``);
* :func:`check_gradients` (alias ``check_layer``) -- check every gradient of a ``*_forward``/``*_backward``
  pair in one call and return a printable :class:`GradCheckReport`;
* :func:`check_loss` -- the same for a loss ``(L, dL/ds) = loss_fn(s, y)``;
* :func:`check_network` -- every parameter (and input) gradient of a whole
  :class:`cnnlib.Sequential` network (notebook 09).
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ._validate import as_array, check_same_shape

__all__ = [
    "numerical_gradient",
    "rel_error",
    "check_gradients",
    "check_layer",
    "check_loss",
    "check_network",
    "GradCheckResult",
    "GradCheckReport",
]

REL_ERROR_FLOOR = 1e-12
"""Smallest denominator of :func:`rel_error`: only keeps two all-zero arrays from giving 0/0."""

ELEMENTWISE_FLOOR = 1e-8
"""Smallest per-entry denominator of ``rel_error(..., elementwise=True)`` (CS231n's choice)."""


TINY_ABS_ERROR = 1e-9
"""A failing gradient whose largest absolute error is below this gets a note in the report:
at that level the finite difference itself may be the problem (rounding noise is about
``1e-16 * |f| / h``), e.g. tanh far in saturation, where every gradient entry is ~1e-9."""


# --------------------------------------------------------------------------- helpers


def _check_h(fn: str, h) -> float:
    if isinstance(h, bool) or not isinstance(h, numbers.Real):
        raise TypeError(f"{fn}: h must be a positive real number, got {h!r}")
    h = float(h)
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"{fn}: h must be a positive finite number, got {h!r}")
    return h


def _check_tol(fn: str, tol) -> float:
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (float(tol) > 0):
        raise ValueError(f"{fn}: tol must be a positive number, got {tol!r}")
    return float(tol)


def _first(result):
    """``f`` may return ``out`` or ``(out, cache)`` / ``(L, grad)``: keep the first value."""
    if isinstance(result, tuple):
        if not result:
            raise ValueError("numerical_gradient: f returned an empty tuple")
        return result[0]
    return result


def _display_name(*fns) -> str:
    """``conv2d_forward`` -> ``conv2d``; lambdas and partials fall back to the next candidate."""
    for f in fns:
        name = getattr(f, "__name__", "")
        if name and name != "<lambda>":
            for suffix in ("_forward", "_backward"):
                if name.endswith(suffix):
                    return name[: -len(suffix)]
            return name
    return "gradient check"


# --------------------------------------------------------------------------- numerical gradient


def numerical_gradient(f: Callable, x, dout=None, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``g(x) = sum(f(x) * dout)`` with respect to ``x``.

    Notebook 00, eq. 0.1 (used again in notebook 03)::

        dg/dx_i = ( g(x + h e_i) - g(x - h e_i) ) / (2h)

    Parameters
    ----------
    f : callable
        ``f(x)`` returns an array (any shape), a scalar, or a tuple whose first
        value is that (so ``lambda X: conv2d_forward(X, W, b)`` and a loss
        returning ``(L, grad)`` both work). ``f`` must compute from its argument.
    x : array_like, any shape
        The point. It is never modified: every evaluation of ``f`` receives its
        own float64 copy, so nothing the caller holds changes, even if ``f``
        keeps a reference to what it was given (a layer cache, say).
    dout : array_like or scalar or None
        The upstream gradient, same shape as ``f(x)``. ``None`` means ``f``
        returns a scalar (or one-element array) and its plain gradient is wanted.
    h : float
        The step for entries with ``|x_i| <= 1``; larger entries are nudged by
        ``h_i = h * |x_i|``, i.e. ``h_i = h * max(1, |x_i|)``. A fixed absolute step
        is lost in rounding far from 0: float64 numbers near 1e9 are 1.2e-7 apart,
        so ``x_i + 1e-6`` moves by a few spacings (a gradient off by percents), and
        near 1e12 not at all (0/0 = NaN). Scaled, the step is always about a
        millionth of the entry. The difference is divided by the step actually
        taken, ``(x_i + h_i) - (x_i - h_i)`` as rounded in float64, which is
        ``2 h_i`` up to rounding.

    Returns
    -------
    ndarray, float64, shape ``x.shape``: the numerical ``dout``-weighted gradient,
    which is what a ``*_backward(dout, cache)`` function should return for ``x``.
    """
    fn = "numerical_gradient"
    if not callable(f):
        raise TypeError(f"{fn}: f must be callable, got {type(f).__name__}")
    h = _check_h(fn, h)
    base = np.array(as_array(fn, "x", x, finite=True), dtype=np.float64, copy=True)  # private copy, x.shape

    out0 = as_array(fn, "f(x)", _first(f(base.copy())))
    if dout is None:
        if out0.size != 1:
            raise ValueError(
                f"{fn}: f(x) returned an array of shape {out0.shape}; pass dout with that shape "
                f"(or make f return a scalar)"
            )
        weights = None
    else:
        weights = np.array(as_array(fn, "dout", dout, finite=True), dtype=np.float64)
        if weights.ndim != 0:
            check_same_shape(fn, "dout", weights, out0.shape, "the shape of f(x)")

    def evaluate(v: np.ndarray) -> np.ndarray:
        out = np.asarray(as_array(fn, "f(x)", _first(f(v))), dtype=np.float64)
        if out.shape != out0.shape:
            raise ValueError(f"{fn}: f(x) changed shape from {out0.shape} to {out.shape} between evaluations")
        return out

    grad = np.zeros(base.shape, dtype=np.float64)  # x.shape
    for i in range(base.size):
        h_i = h * max(1.0, abs(base.flat[i]))  # exactly h where |x_i| <= 1
        xp = base.copy()
        xp.flat[i] += h_i
        xm = base.copy()
        xm.flat[i] -= h_i
        step = xp.flat[i] - xm.flat[i]  # = 2 h_i up to rounding
        # subtract the outputs before summing: entries that x_i does not touch cancel
        # exactly, so rounding noise comes only from the entries that moved
        diff = evaluate(xp) - evaluate(xm)  # f(x).shape
        total = float(np.sum(diff)) if weights is None else float(np.sum(diff * weights))
        if not math.isfinite(total):
            raise ValueError(f"{fn}: f returned non-finite values near x (try a smaller h, or check f)")
        grad.flat[i] = total / step
    return grad


# --------------------------------------------------------------------------- relative error


def rel_error(a, b, *, elementwise: bool = False) -> float:
    """Relative error between two arrays (notebook 00): how far apart they are, as a fraction of their size.

    Default (used by every check in the book)::

        rel_error(a, b) = max_i |a_i - b_i|  /  max(1e-12, max_i (|a_i| + |b_i|))

    the largest discrepancy measured against the largest entry. About 1e-10 means
    agreement to rounding; a wrong gradient gives 1e-3 to 1. Two zero arrays give 0
    (the floor 1e-12 only prevents 0/0); empty arrays give 0.0.

    ``elementwise=True`` gives CS231n's definition,
    ``max_i |a_i - b_i| / max(1e-8, |a_i| + |b_i|)``, which judges every entry on its
    own scale. It also flags errors confined to tiny entries, but there it mostly
    measures the rounding noise of the finite difference (about ``2e-16 * |f| / h``):
    a correct gradient with an entry near zero can show 1e-6 with h = 1e-6. That is why
    the checks here use the default, which stays near 1e-10 for correct gradients.

    ``a`` and ``b`` must have the same shape (no broadcasting).
    """
    fn = "rel_error"
    a = np.asarray(as_array(fn, "a", a), dtype=np.float64)
    b = np.asarray(as_array(fn, "b", b), dtype=np.float64)
    check_same_shape(fn, "b", b, a.shape, "the shape of a")
    if a.size == 0:
        return 0.0
    diff = np.abs(a - b)
    size = np.abs(a) + np.abs(b)
    if np.any(np.isnan(diff)):
        return float("nan")
    if elementwise:
        return float(np.max(diff / np.maximum(ELEMENTWISE_FLOOR, size)))
    return float(np.max(diff) / max(REL_ERROR_FLOOR, float(np.max(size))))


# --------------------------------------------------------------------------- reports


@dataclass
class GradCheckResult:
    """One checked gradient: the analytic and numerical arrays and how far apart they are."""

    label: str  # e.g. "dX" or "0.W"
    shape: tuple
    rel_error: float  # rel_error(analytic, numerical): largest discrepancy / largest entry
    max_abs_error: float
    passed: bool
    analytic: np.ndarray | None = field(default=None, repr=False)
    numerical: np.ndarray | None = field(default=None, repr=False)
    note: str = ""

    def line(self, width: int) -> str:
        mark = "✓" if self.passed else "✗"
        if self.analytic is None or self.numerical is None:
            return f"  {self.label:<{width}}  {mark}  {self.note}"
        text = f"  {self.label:<{width}}  rel err {self.rel_error:.1e}   max abs err {self.max_abs_error:.1e}   {mark}"
        return text + (f"  {self.note}" if self.note else "")


@dataclass
class GradCheckReport:
    """What :func:`check_gradients`, :func:`check_loss` and :func:`check_network` return.

    ``print(report)`` (or just ``report`` as the last line of a notebook cell) shows
    one line per gradient, e.g. ``dX  rel err 3.1e-10  max abs err 2.2e-11  ✓``.
    ``report.passed`` is True when every gradient's relative error is below ``tol``
    and no input was modified; ``report.assert_ok()`` raises ``AssertionError``
    (with the report as message) otherwise. ``report["dW"]`` gives one
    :class:`GradCheckResult`, with the ``analytic`` and ``numerical`` arrays.
    """

    name: str
    results: list[GradCheckResult]
    tol: float
    h: float
    seed: int | None = None
    mutated: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results) and not self.mutated

    @property
    def rel_errors(self) -> dict[str, float]:
        return {r.label: r.rel_error for r in self.results}

    @property
    def max_abs_errors(self) -> dict[str, float]:
        return {r.label: r.max_abs_error for r in self.results}

    @property
    def max_rel_error(self) -> float:
        return max((r.rel_error for r in self.results), default=0.0)

    def __getitem__(self, label: str) -> GradCheckResult:
        for r in self.results:
            if r.label == label:
                return r
        raise KeyError(f"GradCheckReport: no gradient named {label!r}; have {[r.label for r in self.results]}")

    def __str__(self) -> str:
        seed = f", seed={self.seed}" if self.seed is not None else ""
        head = f"{self.name}: gradient check (central differences, h={self.h:.0e}, tol={self.tol:.0e}{seed})"
        width = max((len(r.label) for r in self.results), default=2)
        lines = [head] + [r.line(width) for r in self.results]
        if self.mutated:
            lines.append(f"  ✗ inputs modified in place: {', '.join(self.mutated)}")
        if self.passed:
            lines.append(
                f"  passed: every gradient matches its finite-difference estimate (max rel err "
                f"{self.max_rel_error:.1e} < {self.tol:.0e})"
            )
        else:
            bad = [r.label for r in self.results if not r.passed] + [f"{m} (modified)" for m in self.mutated]
            lines.append(f"  FAILED: {', '.join(bad)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython / Jupyter display
        p.text(str(self))

    def assert_ok(self) -> GradCheckReport:
        """Raise ``AssertionError`` (message: the report) unless every check passed; return self."""
        if not self.passed:
            raise AssertionError("\n" + str(self))
        return self


def _compare(label: str, analytic, numerical: np.ndarray, tol: float) -> GradCheckResult:
    """Build one result; an analytic gradient of the wrong shape or type is a failure, not a crash."""

    def failed(note: str) -> GradCheckResult:
        return GradCheckResult(label, numerical.shape, math.inf, math.inf, False, note=note)

    try:
        a = np.asarray(analytic, dtype=np.float64)
    except (TypeError, ValueError):
        return failed(f"backward returned {type(analytic).__name__}, not an array")
    if a.shape != numerical.shape:
        return failed(f"backward returned shape {a.shape}, expected {numerical.shape}")
    err = rel_error(a, numerical)
    abs_err = float(np.max(np.abs(a - numerical))) if a.size else 0.0
    ok = bool(err < tol)  # False for NaN
    note = ""
    if not ok and abs_err < TINY_ABS_ERROR:
        note = (
            "(the gradient itself is tiny: differences this small are finite-difference rounding, "
            "about 1e-16 * |f| / h; rescale the inputs or try a larger h)"
        )
    return GradCheckResult(
        label,
        a.shape,
        err,
        abs_err,
        ok,
        analytic=a.copy(),
        numerical=numerical,
        note=note,
    )


def _as_tuple(grads) -> tuple:
    if isinstance(grads, tuple):
        return grads
    if isinstance(grads, list):
        return tuple(grads)
    return (grads,)


# --------------------------------------------------------------------------- one-call checks


def check_gradients(
    forward: Callable,
    backward: Callable,
    inputs: dict,
    *,
    dout=None,
    wrt: Iterable[str] | None = None,
    seed: int = 0,
    h: float = 1e-6,
    tol: float = 1e-7,
    name: str | None = None,
) -> GradCheckReport:
    """Check a ``*_forward`` / ``*_backward`` pair against central differences in one call.

    Notebook 00 ("how every result is verified") and notebook 03. For each input
    ``x`` the backward pass's gradient is compared with :func:`numerical_gradient`
    of ``sum(forward(...)[0] * dout)`` (central differences, notebook 00, eq. 0.1).

    Parameters
    ----------
    forward : callable
        ``forward(**inputs) -> (out, cache)``. Bind hyper-parameters with a lambda:
        ``lambda X, W, b: conv2d_forward(X, W, b, stride=2)``.
    backward : callable
        ``backward(dout, cache)`` returns one gradient or a tuple of them; the k-th
        gradient belongs to the k-th entry of ``inputs`` (dict order), so
        ``{"X": X, "W": W, "b": b}`` matches ``conv2d_backward``'s ``(dX, dW, db)``.
    inputs : dict of name -> array
        The point at which to check, in float64 (float32 values are promoted: the
        check itself always runs in float64). Never modified.
    dout : array, optional
        Upstream gradient; by default drawn from a standard normal with ``seed``
        (never all ones, under which every output position looks alike).
    wrt : names, optional
        Check only these inputs (all by default). ``backward`` must still return one
        gradient per input.
    seed, h, tol :
        Seed for ``dout``; finite-difference step; pass threshold on :func:`rel_error`.
    name : str, optional
        Title of the report (default: taken from ``forward``/``backward``, e.g. "conv2d").

    Returns
    -------
    :class:`GradCheckReport` -- print it, or call ``.assert_ok()``. The report also
    fails if ``forward`` or ``backward`` modified an input array in place.
    """
    fn = "check_gradients"
    if not callable(forward) or not callable(backward):
        raise TypeError(
            f"{fn}: forward and backward must be callables, got {type(forward).__name__} and {type(backward).__name__}"
        )
    if not isinstance(inputs, dict) or not inputs:
        raise TypeError(f"{fn}: inputs must be a non-empty dict of name -> array, got {type(inputs).__name__}")
    h = _check_h(fn, h)
    tol = _check_tol(fn, tol)
    names = list(inputs)
    if wrt is None:
        check_names = names
    else:
        check_names = [wrt] if isinstance(wrt, str) else list(wrt)
        unknown = [n for n in check_names if n not in inputs]
        if unknown:
            raise ValueError(f"{fn}: wrt names {unknown} are not among the inputs {names}")
    values = {k: np.array(as_array(fn, f"inputs[{k!r}]", v, finite=True), dtype=np.float64) for k, v in inputs.items()}
    snapshot = {k: v.copy() for k, v in values.items()}

    # analytic pass (on private copies, so a mutating layer is reported but harms nothing)
    work = {k: v.copy() for k, v in values.items()}
    fwd = forward(**work)
    if not (isinstance(fwd, tuple) and len(fwd) == 2):
        raise TypeError(f"{fn}: forward must return (out, cache), got {type(fwd).__name__}")
    out, cache = fwd
    out = np.asarray(out, dtype=np.float64)
    drawn = dout is None
    if drawn:
        rng = np.random.default_rng(seed)
        dout = rng.standard_normal(out.shape)  # out.shape
    else:
        dout = np.array(as_array(fn, "dout", dout, finite=True), dtype=np.float64)
        check_same_shape(fn, "dout", dout, out.shape, "the shape of forward's output")
    grads = _as_tuple(backward(dout.copy(), cache))
    mutated = [k for k in names if not np.array_equal(work[k], snapshot[k])]
    if len(grads) != len(names):
        raise ValueError(
            f"{fn}: backward returned {len(grads)} gradient(s) but inputs has {len(names)} "
            f"entries {names}; they are matched in order"
        )

    results = []
    for k, g in zip(names, grads):
        if k not in check_names:
            continue

        def f(v, k=k):
            return forward(**{**{n: values[n].copy() for n in names}, k: v})[0]

        num = numerical_gradient(f, values[k], dout, h)
        results.append(_compare("d" + k, g, num, tol))
    title = name if name is not None else _display_name(forward, backward)
    return GradCheckReport(title, results, tol, h, seed if drawn else None, mutated)


check_layer = check_gradients
"""Another name for :func:`check_gradients` (a layer's forward/backward pair checked in one call)."""


def check_loss(
    loss_fn: Callable, s, y, *, h: float = 1e-6, tol: float = 1e-7, name: str | None = None
) -> GradCheckReport:
    """Check a loss's gradient: ``(L, grad) = loss_fn(s, y)`` against central differences of ``L`` in ``s``.

    Notebooks 00 and 01 (softmax cross-entropy, seed 003's ``delta^s = y_hat - y``). ``y`` is
    held fixed. The gradient's label uses the loss's first parameter name (``ds``, ``dA``, ...).
    """
    fn = "check_loss"
    if not callable(loss_fn):
        raise TypeError(f"{fn}: loss_fn must be callable, got {type(loss_fn).__name__}")
    h = _check_h(fn, h)
    tol = _check_tol(fn, tol)
    s64 = np.array(as_array(fn, "s", s, finite=True), dtype=np.float64)
    s_before = s64.copy()
    y_before = np.array(y, copy=True)
    res = loss_fn(s64, y)
    if not (isinstance(res, tuple) and len(res) == 2):
        raise TypeError(f"{fn}: loss_fn must return (L, gradient), got {type(res).__name__}")
    _, ds = res
    mutated = []
    if not np.array_equal(s64, s_before):
        mutated.append("s")
    if not np.array_equal(np.asarray(y), y_before):
        mutated.append("y")
    try:
        arg = next(iter(inspect.signature(loss_fn).parameters))
    except (TypeError, ValueError, StopIteration):
        arg = "s"
    num = numerical_gradient(lambda v: loss_fn(v, y)[0], s64, None, h)
    title = name if name is not None else _display_name(loss_fn)
    return GradCheckReport(title, [_compare("d" + arg, ds, num, tol)], tol, h, None, mutated)


def check_network(
    model,
    X,
    y,
    loss_fn: Callable,
    *,
    h: float = 1e-6,
    tol: float = 1e-7,
    include_input: bool = True,
    name: str | None = None,
) -> GradCheckReport:
    """Check every parameter gradient of a network (and ``dL/dX``) by central differences.

    Notebook 09 (and notebook 06 for seed 002's network). ``model`` is a
    :class:`cnnlib.Sequential` (anything with ``forward``, ``backward``,
    ``parameters()`` and ``gradients()`` whose dicts share their keys, e.g. "0.W").
    ``loss_fn(scores, y) -> (L, dL/dscores)``, e.g. ``softmax_cross_entropy``.

    One analytic pass (forward, loss, backward) gives the gradients; then each
    parameter entry is nudged by +-h in place, the loss recomputed, and the entry
    restored exactly, so the model is bit-for-bit unchanged afterwards (a last
    forward/backward leaves its caches and gradients as after the analytic pass).
    Use float64 parameters and inputs, and points away from ReLU/max-pool kinks
    (no pre-activation or pooling tie within a few h), or the check reports kinks
    rather than bugs. Cost: two forward passes per parameter entry.
    """
    fn = "check_network"
    for meth in ("forward", "backward", "parameters", "gradients"):
        if not callable(getattr(model, meth, None)):
            raise TypeError(
                f"{fn}: model must have a {meth}() method (a cnnlib.Sequential), got {type(model).__name__}"
            )
    if not callable(loss_fn):
        raise TypeError(f"{fn}: loss_fn must be callable, got {type(loss_fn).__name__}")
    h = _check_h(fn, h)
    tol = _check_tol(fn, tol)
    X64 = np.array(as_array(fn, "X", X, finite=True), dtype=np.float64)

    def analytic_pass():
        res = loss_fn(model.forward(X64.copy()), y)
        if not (isinstance(res, tuple) and len(res) == 2):
            raise TypeError(f"{fn}: loss_fn must return (L, gradient), got {type(res).__name__}")
        return model.backward(res[1])

    dX = analytic_pass()
    grads = {k: np.array(v, dtype=np.float64) for k, v in model.gradients().items()}
    params = model.parameters()
    if set(grads) != set(params):
        raise ValueError(
            f"{fn}: parameters() and gradients() must have the same keys, got {sorted(params)} and {sorted(grads)}"
        )

    def loss_at(v):
        return loss_fn(model.forward(v), y)[0]

    results = []
    for key, P in params.items():
        original = P.copy()

        def f(v, P=P):
            P[...] = v
            return loss_at(X64.copy())

        try:
            num = numerical_gradient(f, original, None, h)
        finally:
            P[...] = original
        results.append(_compare(key, grads[key], num, tol))
    if include_input:
        num = numerical_gradient(loss_at, X64, None, h)
        results.append(_compare("X", dX, num, tol))
    analytic_pass()  # leave caches and gradients as after the analytic pass
    title = name if name is not None else f"{type(model).__name__} network"
    return GradCheckReport(title, results, tol, h, None, [])

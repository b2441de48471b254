"""Checkers for the exercises of notebook 13 (from hand-written backward passes to autograd).

* :func:`check_tanh_backward` — exercise 13.1: the backward function of a new operation for
  ``cnnlib.autograd``, tanh, from the cached output: ``dZ = dA·(1 − A²)``;
* :func:`check_unbroadcast` — exercise 13.2: sum a broadcast gradient back to an operand's
  shape (eq. 13.4);
* :func:`check_topological_order` — exercise 13.3: every node after its parents, each once
  (eq. 13.2).

Each prints a verdict and returns a :class:`Verdict` (truthy when every case passed); none
raises because of your answer. An answer that hands the question to cnnlib's own code
(``tanh_backward``, the engine's broadcasting rule, ``topological_order``) is refused: the
point is to write it.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .. import activations
from .. import autograd as ag
from ._checking import Case, Verdict, describe, run_cases

__all__ = ["check_tanh_backward", "check_unbroadcast", "check_topological_order"]


def _rng():
    return np.random.default_rng(1313)


class CallsTheLibrary(Exception):
    """Raised inside a reader's function that calls the library function it was asked to write."""


@contextlib.contextmanager
def _refuse(module, name, message, when=lambda *a, **k: True):
    """While active, ``module.name`` raises :class:`CallsTheLibrary` (``message``) when ``when(*args)`` holds."""
    original = getattr(module, name)

    def spy(*args, **kwargs):
        if when(*args, **kwargs):
            raise CallsTheLibrary(message)
        return original(*args, **kwargs)

    setattr(module, name, spy)
    try:
        yield
    finally:
        setattr(module, name, original)


def _guarded(fn, module, name, message, when=lambda *a, **k: True):
    """``fn`` run with ``module.name`` refused (see :func:`_refuse`); a non-callable ``fn`` is passed on as it is."""
    if not callable(fn):
        return fn

    def wrapped(*args):
        with _refuse(module, name, message, when):
            return fn(*args)

    return wrapped


# --------------------------------------------------------------------------- 13.1 tanh's backward function


def check_tanh_backward(my_tanh_backward) -> Verdict:
    """Exercise 13.1. ``my_tanh_backward(dA, A) -> dZ`` for ``A = tanh(Z)`` of any shape.

    The local backward of tanh from its cached output (notebook 04, eq. 4.10):
    ``dZ = dA·(1 − A²)``. Calling cnnlib's ``tanh_backward`` is refused.
    """
    rng = _rng()
    cases = []
    for label, shape in (
        ("a scalar (0-d)", ()),
        ("a vector of 5", (5,)),
        ("a batch (N, M) = (3, 4)", (3, 4)),
        ("NCHW (2, 3, 4, 4), saturated entries", (2, 3, 4, 4)),
    ):
        Z = rng.uniform(-3, 3, size=shape) * (4.0 if len(shape) == 4 else 1.0)
        A = np.tanh(Z)
        dA = rng.uniform(-2, 2, size=shape)
        hints = {
            "multiply by the upstream gradient dA: dZ = dA·(1 − A²), not just the local slope": 1 - A**2,
            "that is the sigmoid's slope A(1 − A); tanh's is 1 − A²": dA * A * (1 - A),
            "A is already tanh(Z): the slope is 1 − A², not 1 − tanh(A)²": dA * (1 - np.tanh(A) ** 2),
            "the slope is 1 − A² (squared), not 1 − A": dA * (1 - A),
        }
        cases.append(Case(label, (dA, A), dA * (1 - A**2), hints=hints))
    message = "it calls cnnlib's tanh_backward; write dZ from dA and A yourself"
    guarded = _guarded(my_tanh_backward, activations, "check_cache", message, lambda fn, *a: fn == "tanh_backward")
    return run_cases(
        "check_tanh_backward",
        guarded,
        cases,
        stub_hint="Fill in my_tanh_backward(dA, A) so that it returns dZ with the shape of A.",
    )


# --------------------------------------------------------------------------- 13.2 broadcasting


def _keepdims_dropped(grad, shape):
    extra = grad.ndim - len(shape)
    g = grad.sum(axis=tuple(range(extra))) if extra else grad
    stretched = tuple(k for k, n in enumerate(shape) if n == 1 and g.shape[k] != 1)
    return g.sum(axis=stretched) if stretched else g


def _leading_only(grad, shape):
    extra = grad.ndim - len(shape)
    return grad.sum(axis=tuple(range(extra))) if extra else grad


def check_unbroadcast(my_unbroadcast) -> Verdict:
    """Exercise 13.2. ``my_unbroadcast(grad, shape) -> array of that shape`` (eq. 13.4).

    ``grad`` is the gradient of ``a + b`` (or ``a * b`` times the other operand) with the
    broadcast shape; ``shape`` is one operand's shape. Sum ``grad`` over the axes broadcasting
    put in front, then over the axes where ``shape`` has length 1 and ``grad`` does not,
    keeping those. Calling the engine's own rule (``cnnlib.autograd``'s ``+`` or ``*``
    backward) is refused.
    """
    rng = _rng()
    cases = []
    for label, gshape, shape in (
        ("the same shape: nothing to sum", (2, 3), (2, 3)),
        ("a bias (3,) added to every row of (4, 3)", (4, 3), (3,)),
        ("a column (2, 1) stretched along the columns of (2, 5)", (2, 5), (2, 1)),
        ("a scalar () added to (2, 3)", (2, 3), ()),
        ("(3, 1) broadcast against (4, 1, 2): both kinds", (4, 3, 2), (3, 1)),
        ("NCHW: a per-channel bias (1, 3, 1, 1)", (2, 3, 4, 4), (1, 3, 1, 1)),
    ):
        grad = rng.integers(-4, 5, size=gshape).astype(float)
        expected = ag._unbroadcast(grad, shape)
        hints = {}
        if any(n == 1 for n in shape) and _keepdims_dropped(grad, shape).shape != expected.shape:
            hints["keep the axes of length 1 (keepdims=True): the answer must have the operand's shape"] = (
                _keepdims_dropped(grad, shape)
            )
        if any(n == 1 and m != 1 for n, m in zip(shape, gshape[len(gshape) - len(shape) :], strict=True)):
            hints["also sum over the axes where the operand has length 1 and grad does not"] = _leading_only(
                grad, shape
            )
        case = Case(label, (grad, shape), expected, hints=hints, require=_shape_is(shape))
        cases.append(case)
    message = "it calls the engine's own broadcasting rule; sum grad over the right axes yourself"
    return run_cases(
        "check_unbroadcast",
        _guarded(my_unbroadcast, ag, "_unbroadcast", message),
        cases,
        stub_hint="Fill in my_unbroadcast(grad, shape) so that it returns an array of the given shape.",
    )


def _shape_is(shape):
    def require(answer):
        got = np.shape(answer)
        return None if got == tuple(shape) else f"the answer must have the operand's shape {tuple(shape)}, got {got}"

    return require


# --------------------------------------------------------------------------- 13.3 topological order


def _needs_grad_closure(root) -> dict[int, ag.Tensor]:
    """Every tensor that ``root`` depends on and that needs a gradient, by id (an independent traversal)."""
    found, todo = {}, [root]
    while todo:
        t = todo.pop()
        if id(t) in found or not t.requires_grad:
            continue
        found[id(t)] = t
        todo.extend(t.parents)
    return found


def _judge_order(n_expected, root_op):
    def judge(answer):
        if not isinstance(answer, list | tuple):
            return f"expected a list of tensors, got {describe(answer)}"
        if not answer or not all(isinstance(t, ag.Tensor) for t in answer):
            return "expected a non-empty list of Tensors"
        ids = [id(t) for t in answer]
        if len(set(ids)) != len(ids):
            return (
                f"a tensor appears {max(ids.count(i) for i in ids)} times: a node reached along several paths "
                "must appear once (keep a set of the nodes already visited)"
            )
        root = answer[-1]
        if root.op != root_op:
            return "the list must end with root itself (every node after its parents, and root depends on all of them)"
        closure = _needs_grad_closure(root)
        if set(ids) != set(closure):
            missing = len(set(closure) - set(ids))
            extra = len(set(ids) - set(closure))
            return (
                f"the list must hold exactly the tensors root depends on that need a gradient ({n_expected}): "
                f"{missing} missing, {extra} that do not belong (constants with requires_grad=False stay out)"
            )
        position = {i: k for k, i in enumerate(ids)}
        for k, t in enumerate(answer):
            for p in t.parents:
                if p.requires_grad and position[id(p)] > k:
                    return (
                        f"entry {k} (op {t.op!r}) comes before one of its parents (op {p.op or 'leaf'!r}): "
                        "append a node only after all its parents (post-order)"
                    )
        return None

    return judge


def _graphs():
    rng = _rng()

    def leaf(shape, name, grad=True):
        return ag.Tensor(rng.standard_normal(shape), requires_grad=grad, name=name)

    a, b = leaf((), "a"), leaf((), "b")
    yield "e = a·b + a (a used twice)", (a * b + a)
    x = leaf((2,), "x")
    y = x * x
    yield "a diamond: z = 3y + y·y with y = x·x", (y * 3.0 + y * y)
    X = ag.Tensor(rng.uniform(0, 1, (2, 1, 6, 6)))  # a constant input
    W, bias, U, c = leaf((2, 1, 3, 3), "W"), leaf((2,), "b"), leaf((10, 18), "U"), leaf((10,), "c")
    Z = ag.conv2d(X, W, bias, padding=1)
    s = ag.dense(ag.flatten(ag.maxpool2d(ag.relu(Z), size=2)), U, c)
    yield "chapter 09's network (X a constant)", ag.softmax_cross_entropy(s, np.array([3, 7]))
    p = leaf((3,), "p")
    q = p
    for _ in range(6):  # a chain where every node is used by the next two
        q = q * p + q
    yield "a long chain, every value used twice", q.sum()


def check_topological_order(my_topological_order) -> Verdict:
    """Exercise 13.3. ``my_topological_order(root) -> list`` of tensors (eq. 13.2).

    Every tensor that ``root`` was computed from and that needs a gradient
    (``requires_grad``), each exactly once, every one after all of its parents, ``root``
    last. Calling ``cnnlib.autograd.topological_order`` (directly or through
    ``backward``) is refused.
    """
    cases = []
    for label, root in _graphs():
        n = len(_needs_grad_closure(root))
        cases.append(Case(label, (root,), None, judge=_judge_order(n, root.op)))
    message = "it calls cnnlib.autograd.topological_order (or backward, which does); write the traversal yourself"
    return run_cases(
        "check_topological_order",
        _guarded(my_topological_order, ag, "topological_order", message),
        cases,
        stub_hint="Fill in my_topological_order(root) so that it returns a list of tensors.",
    )

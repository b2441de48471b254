"""cnnlib.exercises.ch13 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib
from cnnlib import autograd as ag
from cnnlib.exercises import ch13

# ---------------------------------------------------------------- right answers (as in 13_solutions)


def tanh_backward_right(dA, A):
    return dA * (1 - A**2)


def unbroadcast_right(grad, shape):
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(k for k, n in enumerate(shape) if n == 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


def unbroadcast_reshape(grad, shape):
    """Another right answer: the axes to sum, found by comparing the shapes padded on the left."""
    padded = (1,) * (grad.ndim - len(shape)) + tuple(shape)
    axes = tuple(k for k, (n, m) in enumerate(zip(padded, grad.shape)) if n == 1 and m != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def topo_right(root):
    order, seen = [], set()

    def visit(t):
        if id(t) in seen or not t.requires_grad:
            return
        seen.add(id(t))
        for p in t.parents:
            visit(p)
        order.append(t)

    visit(root)
    return order


# ---------------------------------------------------------------- wrong answers


def tanh_no_upstream(dA, A):
    return 1 - A**2


def tanh_sigmoid_slope(dA, A):
    return dA * A * (1 - A)


def tanh_again(dA, A):
    return dA * (1 - np.tanh(A) ** 2)


def tanh_cnnlib(dA, A):
    _, cache = cnnlib.tanh_forward(np.arctanh(A))
    return cnnlib.tanh_backward(dA, cache)


def unbroadcast_no_keepdims(grad, shape):
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and grad.shape[k] != 1)
    return grad.sum(axis=axes) if axes else grad


def unbroadcast_leading_only(grad, shape):
    extra = grad.ndim - len(shape)
    return grad.sum(axis=tuple(range(extra)))


def unbroadcast_mean(grad, shape):
    return unbroadcast_right(grad, shape) * np.prod(shape) / grad.size


def unbroadcast_engine(grad, shape):
    a = ag.Tensor(np.zeros(shape), requires_grad=True)
    (a + np.zeros(grad.shape)).backward(grad)
    return a.grad


def topo_duplicates(root):
    order = []

    def visit(t):
        if not t.requires_grad:
            return
        for p in t.parents:
            visit(p)
        order.append(t)

    visit(root)
    return order


def topo_preorder(root):
    return list(reversed(topo_right(root)))


def topo_with_constants(root):
    order, seen = [], set()

    def visit(t):
        if id(t) in seen:
            return
        seen.add(id(t))
        for p in t.parents:
            visit(p)
        order.append(t)

    visit(root)
    return order


def topo_library(root):
    return ag.topological_order(root)


def topo_via_backward(root):
    ag.trace_backward(root, np.ones(root.shape))
    return topo_right(root)


def stub(*args):
    return None


# ---------------------------------------------------------------- tests


def test_right_answers_pass(capsys):
    assert ch13.check_tanh_backward(tanh_backward_right)
    assert ch13.check_unbroadcast(unbroadcast_right)
    assert ch13.check_unbroadcast(unbroadcast_reshape)
    assert ch13.check_topological_order(topo_right)
    assert capsys.readouterr().out.count("✓ all") == 4


@pytest.mark.parametrize(
    "checker, fn, words",
    [
        (ch13.check_tanh_backward, tanh_no_upstream, "multiply by the upstream gradient"),
        (ch13.check_tanh_backward, tanh_sigmoid_slope, "sigmoid's slope"),
        (ch13.check_tanh_backward, tanh_again, "A is already tanh(Z)"),
        (ch13.check_tanh_backward, tanh_cnnlib, "calls cnnlib's tanh_backward"),
        (ch13.check_tanh_backward, stub, "not attempted yet"),
        (ch13.check_unbroadcast, unbroadcast_no_keepdims, "keep the axes of length 1"),
        (ch13.check_unbroadcast, unbroadcast_leading_only, "also sum over the axes where the operand has length 1"),
        (ch13.check_unbroadcast, unbroadcast_mean, "off by"),
        (ch13.check_unbroadcast, unbroadcast_engine, "engine's own broadcasting rule"),
        (ch13.check_unbroadcast, stub, "not attempted yet"),
        (ch13.check_topological_order, topo_duplicates, "must appear once"),
        (ch13.check_topological_order, topo_preorder, "must end with root"),
        (ch13.check_topological_order, topo_with_constants, "constants with requires_grad=False stay out"),
        (ch13.check_topological_order, topo_library, "calls cnnlib.autograd.topological_order"),
        (ch13.check_topological_order, topo_via_backward, "calls cnnlib.autograd.topological_order"),
        (ch13.check_topological_order, stub, "not attempted yet"),
        (ch13.check_topological_order, lambda root: root, "expected a list of tensors"),
        (ch13.check_topological_order, lambda root: [1, 2], "non-empty list of Tensors"),
    ],
)
def test_wrong_answers_fail_with_the_reason(checker, fn, words, capsys):
    assert not checker(fn)
    out = capsys.readouterr().out
    assert words in out, out


def test_the_library_is_restored_after_a_refusal():
    ch13.check_topological_order(topo_library)
    ch13.check_tanh_backward(tanh_cnnlib)
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()  # topological_order works again
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    _, cache = cnnlib.tanh_forward(np.zeros(2))
    np.testing.assert_array_equal(cnnlib.tanh_backward(np.ones(2), cache), [1.0, 1.0])
    assert ag._unbroadcast(np.ones((2, 3)), (3,)).tolist() == [2.0, 2.0, 2.0]


def test_a_non_function_is_reported():
    assert not ch13.check_tanh_backward(3)

"""ndarray subclasses: every public function computes on the plain array a subclass holds.

``np.matrix`` redefines ``*`` as a matrix product and keeps every result 2-D, so a function
that computed on it directly would return wrong numbers without a word. cnnlib converts
every subclass to a base ndarray on the way in (``_validate.plain_array``) and refuses
masked arrays, whose mask it could not honour.

Each case of ``test_no_mutation.py`` (one per group of public callables) runs twice: with
plain arrays, then with every input wrapped in a subclass (``np.matrix`` for the 2-D
inputs, or a do-nothing subclass for every input). Every array a public function returns
must be a base ndarray with the same bits both times.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
from test_no_mutation import CASES, Inputs, public_callables, same_bits

import cnnlib

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


class Tagged(np.ndarray):
    """An ndarray subclass that changes nothing, standing for any subclass a reader might pass."""


def as_matrix(a: np.ndarray) -> np.ndarray:
    return np.asmatrix(a) if a.ndim == 2 else a


def as_tagged(a: np.ndarray) -> np.ndarray:
    return a.view(Tagged)


def results_of(value):
    """The arrays and scalars in a public function's result (caches and reports are left out)."""
    if isinstance(value, tuple):
        for v in value:
            yield from results_of(v)
    elif isinstance(value, np.ndarray | np.generic | float | int):
        yield value


def run_recording(name: str, wrap, monkeypatch) -> list:
    """Run case ``name``; return ``(function name, result)`` for every call of a public cnnlib function."""
    calls = []
    with monkeypatch.context() as m:
        for fname in public_callables():
            f = getattr(cnnlib, fname)
            if inspect.isfunction(f):

                @functools.wraps(f)
                def spy(*args, _f=f, _name=fname, **kwargs):
                    result = _f(*args, **kwargs)
                    calls.append((_name, result))
                    return result

                m.setattr(cnnlib, fname, spy)
        CASES[name][1](Inputs(readonly=False, wrap=wrap))
    return calls


@pytest.mark.parametrize("wrap", [as_matrix, as_tagged], ids=["np.matrix", "subclass"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_subclass_inputs_give_plain_results(name, wrap, monkeypatch):
    expected = run_recording(name, None, monkeypatch)
    got = run_recording(name, wrap, monkeypatch)
    assert [f for f, _ in got] == [f for f, _ in expected]
    for (fname, e), (_, g) in zip(expected, got, strict=True):
        e_values, g_values = list(results_of(e)), list(results_of(g))
        assert len(e_values) == len(g_values), fname
        for ev, gv in zip(e_values, g_values, strict=True):
            assert not isinstance(gv, np.ndarray) or type(gv) is np.ndarray, f"{fname} returned a {type(gv).__name__}"
            assert same_bits(ev, gv), f"{fname}: different numbers for {wrap.__name__} inputs"


def test_matrix_examples():
    """The numbers that were wrong when a matrix reached the arithmetic."""
    yhat, y = np.matrix([[1.0, 2.0], [3.0, -1.0]]), np.matrix([[0.5, -2.0], [1.0, 2.5]])
    L, dyhat = cnnlib.mse(yhat, y)
    assert np.sum(np.square(np.asarray(yhat) - np.asarray(y))) / 2 == L
    assert type(dyhat) is np.ndarray
    A, cache = cnnlib.sigmoid_forward(np.matrix([[0.0, 1.0], [-2.0, 3.0]]))
    dA = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(cnnlib.sigmoid_backward(dA, cache), np.asarray(dA) * A * (1 - A))
    with pytest.raises(ValueError, match=r"^conv2d_forward: X must be 4-D"):
        cnnlib.conv2d_forward(np.matrix(np.ones((3, 3))), np.ones((1, 1, 2, 2)), np.zeros(1))


@pytest.mark.parametrize(
    "call",
    [
        lambda m: cnnlib.relu_forward(m),
        lambda m: cnnlib.mse(m, np.zeros((2, 2))),
        lambda m: cnnlib.softmax_cross_entropy(np.zeros((2, 2)), m.astype(np.int64)[0]),
        lambda m: cnnlib.tied_gradient(np.zeros((2, 2)), m.astype(np.int64), (1, 1)),
    ],
    ids=["relu_forward", "mse", "softmax_cross_entropy", "tied_gradient"],
)
def test_masked_arrays_are_refused(call):
    masked = np.ma.masked_array(np.zeros((2, 2)), mask=[[False, True], [False, False]])
    with pytest.raises(TypeError, match=r"^\w+: \w+ must not be a masked array .*filled\(value\)"):
        call(masked)

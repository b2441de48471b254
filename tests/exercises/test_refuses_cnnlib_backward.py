"""A checker refuses an answer that calls cnnlib's own backward pass for the asked quantity.

Each answer below returns exactly the right numbers — it is cnnlib's own computation — so only
the refusal can make the checker fail; the message must name the function and say why.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import cnnlib
from cnnlib.conv import conv2d_backward as aliased_conv_backward
from cnnlib.exercises import ch01, ch03, ch04, ch07, ch10
from cnnlib.exercises._checking import _call_watching, cnnlib_backward


def conv_backward_by_cnnlib(X, W, dZ):
    _, cache = cnnlib.conv2d_forward(X[None, None], W[None, None], np.zeros(1))
    dX, dW, db = aliased_conv_backward(dZ[None, None], cache)  # imported under another name
    return dX[0, 0], dW[0, 0], float(db[0])


def conv_backward_channels_by_cnnlib(X, W, dZ):
    _, cache = cnnlib.conv2d_forward(X[None], W, np.zeros(W.shape[0]))
    dX, dW, db = cnnlib.conv2d_backward(dZ[None], cache)
    return dX[0], dW, db


def maxpool_backward_by_cnnlib(A, R, S, dP):
    _, cache = cnnlib.maxpool2d_forward(A[None, None], size=R, stride=S)
    return cnnlib.maxpool2d_backward(dP[None, None], cache)[0, 0]


def dense_backward_by_cnnlib(p, U, ds):
    _, cache = cnnlib.dense_forward(p, U, np.zeros(U.shape[0]))
    return cnnlib.dense_backward(ds, cache)


def col2im_by_cnnlib(cols, input_shape, KH, KW):
    return cnnlib.col2im(cols, input_shape, (KH, KW))


CASES = [
    (ch03.check_conv_backward, conv_backward_by_cnnlib, "cnnlib.conv2d_backward"),
    (ch07.check_conv_backward_channels, conv_backward_channels_by_cnnlib, "cnnlib.conv2d_backward"),
    (ch04.check_maxpool_backward, maxpool_backward_by_cnnlib, "cnnlib.maxpool2d_backward"),
    (ch01.check_dense_backward, dense_backward_by_cnnlib, "cnnlib.dense_backward"),
    (ch10.check_col2im, col2im_by_cnnlib, "cnnlib.col2im"),
]


@pytest.mark.parametrize(("check", "answer", "name"), CASES, ids=[c[0].__name__ for c in CASES])
def test_checker_refuses_cnnlib_own_backward(check, answer, name, capsys):
    verdict = check(answer)
    out = capsys.readouterr().out
    assert not verdict
    assert name in out and "cnnlib's own computation" in out, out


def test_watching_restores_the_previous_profiler_and_sees_only_forbidden_calls():
    seen = []

    def outer(frame, event, arg):
        seen.append(event)

    sys.setprofile(outer)
    try:
        answer, used = _call_watching(lambda x: np.sum(x), (np.ones(3),), cnnlib_backward("conv"))
        restored = sys.getprofile()
    finally:
        sys.setprofile(None)
    assert restored is outer
    assert answer == 3.0 and used is None


def test_every_layer_group_resolves_to_functions():
    for layer in ("conv", "col2im", "pool", "dense", "activations", "softmax_cross_entropy"):
        assert all(callable(f) for f in cnnlib_backward(layer))

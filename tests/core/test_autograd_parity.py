"""cnnlib.autograd against torch.autograd, in float64 (runs only where PyTorch is installed).

Skipped without PyTorch, unless ``CNNLIB_REQUIRE_TORCH=1`` (then a missing PyTorch fails
the run), as in ``test_torch_parity.py``. Every gradient the engine computes, through
broadcasting arithmetic, matrix products, sums and chapter 09's whole network, must match
PyTorch's to about 1e-10 for random inputs and random upstream gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
from _torch import import_torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib import autograd as ag

torch = import_torch()
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def pair(a):
    """(engine leaf, torch leaf) holding copies of ``a``."""
    a = np.array(a, dtype=np.float64)
    return ag.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([((2, 3), (3,)), ((4, 1, 3), (2, 1)), ((2, 1), (1, 3)), ((3,), ()), ((1, 2), (2, 2))]),
    st.integers(0, 2**32 - 1),
)
def test_arithmetic_with_broadcasting_and_reuse_matches_torch(shapes, seed):
    rng = np.random.default_rng(seed)
    a0, b0 = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    (a, at), (b, bt) = pair(a0), pair(b0)

    def f(x, y):
        z = x * y + x  # x used twice
        return z * z - y

    out, out_t = f(a, b), f(at, bt)
    close(out.data, out_t)
    dout = rng.standard_normal(out.shape)
    out.backward(dout)
    out_t.backward(torch.tensor(dout))
    close(a.grad, at.grad)
    close(b.grad, bt.grad)


def test_matmul_and_sum_match_torch():
    rng = np.random.default_rng(0)
    (a, at), (b, bt) = pair(rng.standard_normal((3, 4))), pair(rng.standard_normal((4, 2)))
    out, out_t = (a @ b).sum(axis=0), (at @ bt).sum(dim=0)
    dout = rng.standard_normal(2)
    out.backward(dout)
    out_t.backward(torch.tensor(dout))
    close(a.grad, at.grad)
    close(b.grad, bt.grad)


@pytest.mark.parametrize("seed", range(3))
def test_chapter09_network_matches_torch(seed):
    rng = np.random.default_rng(seed)
    X0 = rng.uniform(0, 1, size=(5, 1, 8, 8))
    y = rng.integers(0, 10, size=5)
    params0 = {
        "W": rng.standard_normal((4, 1, 3, 3)) * 0.5,
        "b": rng.standard_normal(4) * 0.1,
        "U": rng.standard_normal((10, 64)) * 0.1,
        "c": rng.standard_normal(10) * 0.1,
    }
    ours = {k: pair(v) for k, v in params0.items()}
    X, Xt = pair(X0)
    p = {k: v[0] for k, v in ours.items()}
    pt = {k: v[1] for k, v in ours.items()}
    s = ag.dense(ag.flatten(ag.maxpool2d(ag.relu(ag.conv2d(X, p["W"], p["b"], padding=1)), size=2)), p["U"], p["c"])
    L = ag.softmax_cross_entropy(s, y)
    L.backward()
    st_ = F.linear(F.max_pool2d(F.relu(F.conv2d(Xt, pt["W"], pt["b"], padding=1)), 2).flatten(1), pt["U"], pt["c"])
    Lt = F.cross_entropy(st_, torch.tensor(y))
    Lt.backward()
    close(np.asarray(L.data), Lt)
    close(X.grad, Xt.grad)
    for k in params0:
        close(p[k].grad, pt[k].grad)
    assert cnnlib.rel_error(p["W"].grad, pt["W"].grad.numpy()) < 1e-12

"""cnnlib against PyTorch's autograd, in float64 (runs only where PyTorch is installed).

PyTorch is an optional extra of the book, not a dependency: without it this whole
file is skipped with a reason, unless the environment sets ``CNNLIB_REQUIRE_TORCH=1``
(CI does, after ``make test TORCH=1`` installed PyTorch): then a missing PyTorch fails
the run instead of skipping it. With it, each layer's forward output and every gradient
must match ``torch.autograd`` to about 1e-10 for random inputs and random upstream
gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
from _strategies import conv_cases, pool_cases, spaced_values
from _torch import import_torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

import cnnlib

torch = import_torch()
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def t(a, grad=True):
    """A float64 leaf tensor holding a copy of ``a``."""
    return torch.tensor(np.array(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=RTOL, atol=ATOL)


def vjp(out, inputs, dout):
    """Gradients of sum(out * dout) with respect to ``inputs`` (PyTorch's backward with an upstream gradient)."""
    return torch.autograd.grad(out, inputs, grad_outputs=torch.tensor(dout, dtype=torch.float64))


# --------------------------------------------------------------------------- convolution


@settings(max_examples=60, deadline=None)
@given(conv_cases(max_batch=3, max_channels=3, max_filters=3, max_kernel=4))
def test_conv2d_matches_torch(c):
    X, W, b, dZ = c.arrays()
    Z, cache = cnnlib.conv2d_forward(X, W, b, **c.kwargs)
    dX, dW, db = cnnlib.conv2d_backward(dZ, cache)
    Xt, Wt, bt = t(X), t(W), t(b)
    Zt = F.conv2d(Xt, Wt, bt, stride=c.stride, padding=c.padding, dilation=c.dilation)
    close(Z, Zt)
    for ours, theirs in zip((dX, dW, db), vjp(Zt, (Xt, Wt, bt), dZ), strict=True):
        close(ours, theirs)


def test_conv2d_naive_matches_torch():
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(2)
    kw = {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1)}
    Z, cache = cnnlib.conv2d_forward_naive(X, W, b, **kw)
    dZ = rng.standard_normal(Z.shape)
    Xt, Wt, bt = t(X), t(W), t(b)
    Zt = F.conv2d(Xt, Wt, bt, **kw)
    close(Z, Zt)
    for ours, theirs in zip(cnnlib.conv2d_backward_naive(dZ, cache), vjp(Zt, (Xt, Wt, bt), dZ), strict=True):
        close(ours, theirs)


# --------------------------------------------------------------------------- pooling


POOLS = {
    ("max", False): (cnnlib.maxpool2d_forward, cnnlib.maxpool2d_backward),
    ("max", True): (cnnlib.maxpool2d_forward_naive, cnnlib.maxpool2d_backward_naive),
    ("avg", False): (cnnlib.avgpool2d_forward, cnnlib.avgpool2d_backward),
    ("avg", True): (cnnlib.avgpool2d_forward_naive, cnnlib.avgpool2d_backward_naive),
}


@settings(max_examples=60, deadline=None)
@given(pool_cases(max_size=3), st.sampled_from(["max", "avg"]), st.booleans())
def test_pooling_matches_torch(c, kind, naive):
    rng = np.random.default_rng(c.seed)
    A = spaced_values(rng, c.x_shape)  # distinct values: no ties, no kinks
    fwd, bwd = POOLS[kind, naive]
    P, cache = fwd(A, **c.kwargs)
    dP = rng.standard_normal(P.shape)
    dA = bwd(dP, cache)
    At = t(A)
    if kind == "max":
        Pt = F.max_pool2d(At, c.size, stride=c.stride, padding=c.padding)
    else:
        Pt = F.avg_pool2d(At, c.size, stride=c.stride, padding=c.padding, count_include_pad=True)
    close(P, Pt)
    (dAt,) = vjp(Pt, (At,), dP)
    close(dA, dAt)


@pytest.mark.parametrize("naive", [False, True], ids=["fast", "naive"])
@pytest.mark.parametrize(
    ("size", "stride", "padding"),
    [(2, 2, 0), (3, 1, 0), (2, 1, 1), ((3, 2), (1, 2), (1, 0))],
)
def test_maxpool_ties_follow_torch(size, stride, padding, naive):
    """Plateaus of equal values: the first maximum in row-major order takes the gradient, as in PyTorch."""
    A = np.array(
        [
            [1.0, 1.0, 1.0, 0.0, 2.0],
            [1.0, 1.0, 0.0, 2.0, 2.0],
            [-1.0, -1.0, 3.0, 3.0, 3.0],
            [-1.0, -1.0, 3.0, 3.0, 3.0],
        ]
    )[None, None]  # (1, 1, 4, 5)
    A = np.concatenate([A, -A], axis=1)  # (1, 2, 4, 5): also all-negative plateaus
    fwd, bwd = POOLS["max", naive]
    P, cache = fwd(A, size=size, stride=stride, padding=padding)
    dP = np.random.default_rng(1).standard_normal(P.shape)
    dA = bwd(dP, cache)
    At = t(A)
    Pt = F.max_pool2d(At, size, stride=stride, padding=padding)
    close(P, Pt)
    close(dA, vjp(Pt, (At,), dP)[0])


# --------------------------------------------------------------------------- dense, flatten, activations


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**32 - 1), st.booleans())
def test_dense_matches_torch(N, Q, M, seed, naive):
    rng = np.random.default_rng(seed)
    p, U, c = rng.standard_normal((N, Q)), rng.standard_normal((M, Q)), rng.standard_normal(M)
    fwd = cnnlib.dense_forward_naive if naive else cnnlib.dense_forward
    bwd = cnnlib.dense_backward_naive if naive else cnnlib.dense_backward
    s, cache = fwd(p, U, c)
    ds = rng.standard_normal(s.shape)
    pt, Ut, ct = t(p), t(U), t(c)
    st_ = F.linear(pt, Ut, ct)  # p U^T + c
    close(s, st_)
    for ours, theirs in zip(bwd(ds, cache), vjp(st_, (pt, Ut, ct), ds), strict=True):
        close(ours, theirs)


def test_flatten_matches_torch():
    rng = np.random.default_rng(2)
    P = rng.standard_normal((3, 2, 4, 5))
    p, cache = cnnlib.flatten_forward(P)
    dp = rng.standard_normal(p.shape)
    Pt = t(P)
    pt = torch.flatten(Pt, start_dim=1)
    close(p, pt)
    close(cnnlib.flatten_backward(dp, cache), vjp(pt, (Pt,), dp)[0])


ACTIVATIONS = [
    (cnnlib.relu_forward, cnnlib.relu_backward, torch.relu),
    (cnnlib.sigmoid_forward, cnnlib.sigmoid_backward, torch.sigmoid),
    (cnnlib.tanh_forward, cnnlib.tanh_backward, torch.tanh),
]


@pytest.mark.parametrize(("forward", "backward", "torch_fn"), ACTIVATIONS, ids=["relu", "sigmoid", "tanh"])
def test_activations_match_torch(forward, backward, torch_fn):
    rng = np.random.default_rng(3)
    Z = np.concatenate([rng.standard_normal(40) * 3, [0.0, -0.0, 30.0, -30.0, 700.0, -700.0]]).reshape(2, 23)
    A, cache = forward(Z)
    dA = rng.standard_normal(A.shape)
    dZ = backward(dA, cache)
    Zt = t(Z)
    At = torch_fn(Zt)
    close(A, At)
    close(dZ, vjp(At, (Zt,), dA)[0])  # includes PyTorch's ReLU slope 0 at Z = 0


def test_inf_upstream_gradient_matches_torch():
    """An inf or NaN arriving where ReLU's mask or max-pooling's routing is 0 gives 0 there, as in PyTorch."""
    Z = np.array([[-1.0, 0.0, 2.0, -3.0, 1.0, -0.5]])
    dA = np.array([[np.inf, -np.inf, np.inf, np.nan, -2.0, -1.0]])
    Zt = t(Z)
    expected = vjp(torch.relu(Zt), (Zt,), dA)[0].numpy()
    ours = cnnlib.relu_backward(dA, cnnlib.relu_forward(Z)[1])
    np.testing.assert_array_equal(ours, expected)
    assert not np.signbit(ours[Z <= 0]).any()  # +0.0, the sign PyTorch gives too
    np.testing.assert_array_equal(np.signbit(expected[Z <= 0]), False)
    A = np.arange(16.0).reshape(1, 1, 4, 4)
    dP = np.array([[[[np.inf, -1.0], [np.nan, 2.0]]]])
    At = t(A)
    for dtype in (np.float64, np.float32):  # float32 windows apart take the write-by-offset route
        for fwd, bwd in (POOLS["max", False], POOLS["max", True]):
            _, cache = fwd(A.astype(dtype), size=2)
            dA_pool = bwd(dP.astype(dtype), cache)
            np.testing.assert_array_equal(dA_pool, vjp(F.max_pool2d(At, 2), (At,), dP)[0].numpy())


# --------------------------------------------------------------------------- losses


def _loss_grad(Lt, x):
    (g,) = torch.autograd.grad(Lt, (x,))
    return g


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("one_hot", [False, True], ids=["labels", "one-hot"])
def test_softmax_cross_entropy_matches_torch(scale, one_hot):
    rng = np.random.default_rng(4)
    s = rng.standard_normal((5, 4)) * scale
    y = rng.integers(0, 4, size=5)
    target = np.eye(4)[y] if one_hot else y
    L, ds = cnnlib.softmax_cross_entropy(s, target)
    st_ = t(s)
    Lt = F.cross_entropy(st_, torch.tensor(target, dtype=torch.float64 if one_hot else torch.int64))
    close(L, Lt)
    close(ds, _loss_grad(Lt, st_))
    close(cnnlib.softmax(s), torch.softmax(t(s, grad=False), dim=1))
    close(cnnlib.log_softmax(s), torch.log_softmax(t(s, grad=False), dim=1))


@pytest.mark.parametrize("shape", [(6, 1), (4, 3)])
def test_binary_cross_entropy_matches_torch(shape):
    """cnnlib averages over the batch axis only: torch's summed loss divided by N."""
    rng = np.random.default_rng(5)
    A = rng.uniform(0.02, 0.98, size=shape)
    y = rng.integers(0, 2, size=shape).astype(np.float64)
    L, dA = cnnlib.binary_cross_entropy(A, y)
    At = t(A)
    Lt = F.binary_cross_entropy(At, torch.tensor(y), reduction="sum") / shape[0]
    close(L, Lt)
    close(dA, _loss_grad(Lt, At))


@pytest.mark.parametrize("shape", [(6, 1), (4, 3)])
@pytest.mark.parametrize("scale", [1.0, 50.0, 1e4])
def test_binary_cross_entropy_with_logits_matches_torch(shape, scale):
    rng = np.random.default_rng(6)
    z = rng.standard_normal(shape) * scale
    y = rng.uniform(0, 1, size=shape)  # soft targets are allowed too
    L, dz = cnnlib.binary_cross_entropy_with_logits(z, y)
    zt = t(z)
    Lt = F.binary_cross_entropy_with_logits(zt, torch.tensor(y), reduction="sum") / shape[0]
    close(L, Lt)
    close(dz, _loss_grad(Lt, zt))


@pytest.mark.parametrize(
    ("reduction", "torch_reduction", "factor"), [("half_sum", "sum", 0.5), ("sum", "sum", 1.0), ("mean", "mean", 1.0)]
)
def test_mse_matches_torch(reduction, torch_reduction, factor):
    rng = np.random.default_rng(7)
    yhat, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    L, dyhat = cnnlib.mse(yhat, y, reduction=reduction)
    yt = t(yhat)
    Lt = factor * F.mse_loss(yt, torch.tensor(y), reduction=torch_reduction)
    close(L, Lt)
    close(dyhat, _loss_grad(Lt, yt))


# --------------------------------------------------------------------------- a whole network


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1))
@example(0)
def test_small_cnn_matches_torch(seed):
    """conv -> ReLU -> max-pool -> flatten -> dense -> softmax-CE, every gradient, against PyTorch."""
    rng = np.random.default_rng(seed)
    X = spaced_values(rng, (3, 2, 7, 7), gap=0.05)
    W, b = rng.standard_normal((4, 2, 3, 3)) * 0.3, rng.standard_normal(4) * 0.1
    U, c = rng.standard_normal((5, 4 * 2 * 2)) * 0.3, rng.standard_normal(5) * 0.1
    y = rng.integers(0, 5, size=3)

    Z, c1 = cnnlib.conv2d_forward(X, W, b, stride=1, padding=0)  # (3, 4, 5, 5)
    A, c2 = cnnlib.relu_forward(Z)
    P, c3 = cnnlib.maxpool2d_forward(A, size=2)  # (3, 4, 2, 2)
    p, c4 = cnnlib.flatten_forward(P)
    s, c5 = cnnlib.dense_forward(p, U, c)
    L, ds = cnnlib.softmax_cross_entropy(s, y)
    dp, dU, dc = cnnlib.dense_backward(ds, c5)
    dZ = cnnlib.relu_backward(cnnlib.maxpool2d_backward(cnnlib.flatten_backward(dp, c4), c3), c2)
    dX, dW, db = cnnlib.conv2d_backward(dZ, c1)

    Xt, Wt, bt, Ut, ct = (t(a) for a in (X, W, b, U, c))
    st_ = F.linear(torch.flatten(F.max_pool2d(torch.relu(F.conv2d(Xt, Wt, bt)), 2), 1), Ut, ct)
    Lt = F.cross_entropy(st_, torch.tensor(y))
    close(L, Lt)
    for ours, theirs in zip((dX, dW, db, dU, dc), torch.autograd.grad(Lt, (Xt, Wt, bt, Ut, ct)), strict=True):
        close(ours, theirs)

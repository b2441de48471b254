"""Batch norm, residual blocks, Adam and SGD's weight decay against PyTorch, in float64.

Runs only where PyTorch is installed, as tests/core/test_torch_parity.py: skipped without it,
unless ``CNNLIB_REQUIRE_TORCH=1`` (CI), which turns a missing PyTorch into a failure.
"""

from __future__ import annotations

import numpy as np
import pytest
from _torch import import_torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib

torch = import_torch()
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def t(a, grad=True):
    return torch.tensor(np.array(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=RTOL, atol=ATOL)


shapes = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)).filter(
    lambda s: s[0] * s[2] * s[3] >= 2
)


@pytest.mark.parametrize("naive", [False, True], ids=["fast", "naive"])
@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), training=st.booleans(), momentum=st.sampled_from([0.0, 0.1, 0.7, 1.0]))
def test_batchnorm_matches_torch(naive, shape, seed, training, momentum):
    rng = np.random.default_rng(seed)
    C = shape[1]
    X = rng.standard_normal(shape) * 3 + 1
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.uniform(0.1, 4, C)
    dY = rng.standard_normal(shape)
    fwd, bwd = (
        (cnnlib.batchnorm2d_forward_naive, cnnlib.batchnorm2d_backward_naive)
        if naive
        else (cnnlib.batchnorm2d_forward, cnnlib.batchnorm2d_backward)
    )
    kw = {"training": training, "momentum": momentum, "eps": 1e-5}
    Y, cache = fwd(X, gamma, beta, running_mean=rm, running_var=rv, **kw)
    grads = bwd(dY, cache)
    Xt, gt, bt = t(X), t(gamma), t(beta)
    rmt, rvt = t(rm, False), t(rv, False)
    Yt = F.batch_norm(Xt, rmt, rvt, gt, bt, **kw)
    close(Y, Yt)
    close(cache.running_mean, rmt)  # PyTorch updates its buffers in place
    close(cache.running_var, rvt)
    for ours, theirs in zip(grads, torch.autograd.grad(Yt, (Xt, gt, bt), torch.tensor(dY)), strict=True):
        close(ours, theirs)


def test_batchnorm_layer_over_several_steps_matches_torch_module():
    rng = np.random.default_rng(0)
    ours = cnnlib.BatchNorm2D(3, momentum=0.2)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.2, dtype=torch.float64)
    for _ in range(3):
        X = rng.standard_normal((4, 3, 3, 3)) * 2 - 1
        close(ours.forward(X), theirs(torch.tensor(X)))
    close(ours.running_mean, theirs.running_mean)
    close(ours.running_var, theirs.running_var)
    cnnlib.set_training(ours, False)
    theirs.eval()
    X = rng.standard_normal((2, 3, 3, 3))
    close(ours.forward(X), theirs(torch.tensor(X)))


def torch_block(model_np):
    """The same residual network in torch.nn, with cnnlib's weights copied in."""
    conv1, bn, _, conv2 = model_np[0].block.layers
    short = model_np[0].shortcut
    dense = model_np[3]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv2d(2, 4, 3, padding=1, stride=2, dtype=torch.float64)
            self.bn = torch.nn.BatchNorm2d(4, dtype=torch.float64)
            self.c2 = torch.nn.Conv2d(4, 4, 3, padding=1, dtype=torch.float64)
            self.sc = torch.nn.Conv2d(2, 4, 1, stride=2, dtype=torch.float64)
            self.fc = torch.nn.Linear(16, 3, dtype=torch.float64)

        def forward(self, x):
            y = self.c2(torch.tanh(self.bn(self.c1(x)))) + self.sc(x)
            return self.fc(torch.relu(y).flatten(1))

    net = Net()
    with torch.no_grad():
        for tm, (w, b) in (
            (net.c1, (conv1.W, conv1.b)),
            (net.bn, (bn.gamma, bn.beta)),
            (net.c2, (conv2.W, conv2.b)),
            (net.sc, (short.W, short.b)),
            (net.fc, (dense.U, dense.c)),
        ):
            tm.weight.copy_(torch.tensor(w))
            tm.bias.copy_(torch.tensor(b))
    return net


@pytest.mark.parametrize("opt_name", ["sgd", "sgd-momentum", "adam"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_training_a_residual_batchnorm_network_matches_torch(opt_name, weight_decay):
    rng = np.random.default_rng(1)
    block = cnnlib.Sequential(
        cnnlib.Conv2D(2, 4, 3, padding=1, stride=2, seed=2),
        cnnlib.BatchNorm2D(4),
        cnnlib.Tanh(),
        cnnlib.Conv2D(4, 4, 3, padding=1, seed=3),
    )
    model = cnnlib.Sequential(
        cnnlib.Residual(block, cnnlib.Conv2D(2, 4, 1, stride=2, seed=4)),
        cnnlib.ReLU(),
        cnnlib.Flatten(),
        cnnlib.Dense(16, 3, seed=5),
    )
    for p in model.parameters().values():  # non-zero biases, gamma away from 1
        p += rng.uniform(-0.2, 0.2, p.shape)
    net = torch_block(model)
    if opt_name == "adam":
        opt = cnnlib.Adam(model, 0.01, betas=(0.8, 0.99), eps=1e-8, weight_decay=weight_decay)
        topt = torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.8, 0.99), eps=1e-8, weight_decay=weight_decay)
    else:
        mu = 0.9 if opt_name == "sgd-momentum" else 0.0
        opt = cnnlib.SGD(model, 0.05, momentum=mu, weight_decay=weight_decay)
        topt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=mu, weight_decay=weight_decay)
    for _ in range(5):
        X = rng.standard_normal((5, 2, 4, 4))
        y = rng.integers(0, 3, 5)
        L = cnnlib.train_step(model, opt, X, y, cnnlib.softmax_cross_entropy)
        topt.zero_grad()
        Lt = F.cross_entropy(net(torch.tensor(X)), torch.tensor(y))
        Lt.backward()
        topt.step()
        np.testing.assert_allclose(L, Lt.item(), rtol=1e-11)
    ours = [model[0].block[0].W, model[0].block[1].gamma, model[0].block[3].W, model[0].shortcut.W, model[3].U]
    theirs = [net.c1.weight, net.bn.weight, net.c2.weight, net.sc.weight, net.fc.weight]
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-9, atol=1e-12)
    close(model[0].block[1].running_var, net.bn.running_var)

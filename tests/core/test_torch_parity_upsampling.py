"""Notebook 12's layers against PyTorch in float64 (runs only where PyTorch is installed).

As ``test_torch_parity.py``: skipped without PyTorch unless ``CNNLIB_REQUIRE_TORCH=1``.
Forward outputs and every gradient (random upstream gradients) must match ``torch.autograd``
to about 1e-10: ``conv_transpose2d`` with every knob, ``conv2d`` with ``groups``,
``interpolate`` (nearest and bilinear, ``align_corners=False``) and global average pooling
(``adaptive_avg_pool2d`` to 1x1).
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
IMPLS = {
    "fast": (cnnlib.conv_transpose2d_forward, cnnlib.conv_transpose2d_backward),
    "naive": (cnnlib.conv_transpose2d_forward_naive, cnnlib.conv_transpose2d_backward_naive),
}


def t(a):
    return torch.tensor(np.array(a, dtype=np.float64), requires_grad=True)


def close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


def vjp(out, inputs, dout):
    return torch.autograd.grad(out, inputs, grad_outputs=torch.tensor(dout))


@st.composite
def knobs(draw):
    S = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    D = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    op = tuple(draw(st.integers(0, max(S[a], D[a]) - 1)) for a in (0, 1))
    pad = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    return {"stride": S, "padding": pad, "output_padding": op, "dilation": D}


@settings(max_examples=60, deadline=None)
@given(knobs(), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31), st.booleans())
def test_conv_transpose2d_matches_torch(kw, C, Fo, K, seed, naive):
    rng = np.random.default_rng(seed)
    X, W, b = rng.standard_normal((2, C, 3, 4)), rng.standard_normal((C, Fo, K, K + 1)), rng.standard_normal(Fo)
    forward, backward = IMPLS["naive" if naive else "fast"]
    Xt, Wt, bt = t(X), t(W), t(b)
    Yt = F.conv_transpose2d(Xt, Wt, bt, **kw)
    Y, cache = forward(X, W, b, **kw)
    close(Y, Yt)
    dY = rng.standard_normal(Y.shape)
    for ours, theirs in zip(backward(dY, cache), vjp(Yt, (Xt, Wt, bt), dY), strict=True):
        close(ours, theirs)


@pytest.mark.parametrize("naive", [False, True], ids=["fast", "naive"])
@pytest.mark.parametrize("groups, C, Fo, S", [(2, 4, 6, 1), (3, 3, 3, 2), (4, 4, 8, 1), (1, 2, 2, 2)])
def test_grouped_conv2d_matches_torch(naive, groups, C, Fo, S):
    rng = np.random.default_rng(groups * 10 + C)
    X, W, b = rng.standard_normal((2, C, 6, 5)), rng.standard_normal((Fo, C // groups, 3, 2)), rng.standard_normal(Fo)
    fw, bw = (
        (cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive)
        if naive
        else (cnnlib.conv2d_forward, cnnlib.conv2d_backward)
    )
    Xt, Wt, bt = t(X), t(W), t(b)
    Zt = F.conv2d(Xt, Wt, bt, stride=S, padding=1, dilation=(1, 2), groups=groups)
    Z, cache = fw(X, W, b, stride=S, padding=1, dilation=(1, 2), groups=groups)
    close(Z, Zt)
    dZ = rng.standard_normal(Z.shape)
    for ours, theirs in zip(bw(dZ, cache), vjp(Zt, (Xt, Wt, bt), dZ), strict=True):
        close(ours, theirs)


@pytest.mark.parametrize("naive", [False, True], ids=["fast", "naive"])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize(
    "scale, shape", [(2, (2, 3, 4, 5)), ((3, 2), (1, 2, 1, 3)), (4, (1, 1, 3, 2)), (1, (1, 1, 2, 2))]
)
def test_upsample2d_matches_torch_interpolate(naive, mode, scale, shape):
    rng = np.random.default_rng(7)
    A = rng.standard_normal(shape)
    fw, bw = (
        (cnnlib.upsample2d_forward_naive, cnnlib.upsample2d_backward_naive)
        if naive
        else (cnnlib.upsample2d_forward, cnnlib.upsample2d_backward)
    )
    At = t(A)
    extra = {} if mode == "nearest" else {"align_corners": False}
    sf = scale if isinstance(scale, int) else tuple(float(s) for s in scale)
    Ut = F.interpolate(At, scale_factor=sf, mode=mode, **extra)
    U, cache = fw(A, scale=scale, mode=mode)
    close(U, Ut)
    dU = rng.standard_normal(U.shape)
    close(bw(dU, cache), vjp(Ut, (At,), dU)[0])


@pytest.mark.parametrize("naive", [False, True], ids=["fast", "naive"])
def test_global_avgpool_matches_torch(naive):
    rng = np.random.default_rng(8)
    A = rng.standard_normal((3, 4, 5, 2))
    fw, bw = (
        (cnnlib.global_avgpool2d_forward_naive, cnnlib.global_avgpool2d_backward_naive)
        if naive
        else (cnnlib.global_avgpool2d_forward, cnnlib.global_avgpool2d_backward)
    )
    At = t(A)
    pt = F.adaptive_avg_pool2d(At, 1).flatten(1)
    p, cache = fw(A)
    close(p, pt)
    dp = rng.standard_normal(p.shape)
    close(bw(dp, cache), vjp(pt, (At,), dp)[0])

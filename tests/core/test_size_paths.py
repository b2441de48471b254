"""Every size-dependent path of the fast kernels, forward and backward, in float64 and float32.

``cnnlib._conv_fast`` switches on the size of its work: the column buffers hold a block of
``nb`` images (``block_size``, sized by ``BLOCK_BYTES``), the last block may hold fewer, a
block of one image takes its own branch when dW is summed, and stride 1 computes very large
images a band of output rows at a time. The book's arrays are small, so with the real budget
nearly every test takes the one-block, whole-image path. Here the budget is shrunk
(``BLOCK_BYTES`` is read on every call) so that small arrays take every path, and each path
is checked against the loop version (``conv2d_forward_naive`` / ``conv2d_backward_naive``)
and against central differences with a random upstream gradient. One real large case takes
the banding path with the real budget and is checked against an independent im2col.

Each test first asserts that its configuration really takes the path it is named after
(computed here from the documented size rules), so a change of the rules cannot silently
turn it into a one-block test.
"""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error

import cnnlib
from cnnlib import _conv_fast, _pool_fast

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
# float32 against the float64 loops: a few float32 roundings on sums of tens of terms of order one
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def arrays(N, C, F, H, W, KH, KW, Ho, Wo, seed, dtype):
    """Random X, W, b and upstream gradient dZ; every image and filter differs."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, C, H, W))
    Wt = rng.standard_normal((F, C, KH, KW))
    b = rng.standard_normal(F)
    dZ = rng.standard_normal((N, F, Ho, Wo))
    return (a.astype(dtype) for a in (X, Wt, b, dZ))


def out_hw(H, W, KH, KW, S, pad, D):
    return (
        (H + 2 * pad[0] - D[0] * (KH - 1) - 1) // S[0] + 1,
        (W + 2 * pad[1] - D[1] * (KW - 1) - 1) // S[1] + 1,
    )


def check_against_loops(X, Wt, b, dZ, dtype, **kw):
    """Fast forward and backward (under the current budget) equal the loops run in float64."""
    Z, cache = cnnlib.conv2d_forward(X, Wt, b, **kw)
    dX, dW, db = cnnlib.conv2d_backward(dZ, cache)
    X64, W64, b64, dZ64 = (a.astype(np.float64) for a in (X, Wt, b, dZ))
    Z_ref, cache_ref = cnnlib.conv2d_forward_naive(X64, W64, b64, **kw)
    refs = (Z_ref, *cnnlib.conv2d_backward_naive(dZ64, cache_ref))
    for name, got, ref in zip(("Z", "dX", "dW", "db"), (Z, dX, dW, db), refs):
        assert got.dtype == dtype, name
        assert got.shape == ref.shape, name
        assert rel_error(got, ref) < TOL[dtype], name


def check_finite_differences(X, Wt, b, dZ, **kw):
    """float64 backward (under the current budget) against central differences of the forward."""
    _, cache = cnnlib.conv2d_forward(X, Wt, b, **kw)
    dX, dW, db = cnnlib.conv2d_backward(dZ, cache)

    def fwd(X_, W_, b_):
        return cnnlib.conv2d_forward(X_, W_, b_, **kw)[0]

    assert rel_error(dX, numerical_gradient(lambda t: fwd(t, Wt, b), X, dZ)) < 1e-8
    assert rel_error(dW, numerical_gradient(lambda t: fwd(X, t, b), Wt, dZ)) < 1e-8
    assert rel_error(db, numerical_gradient(lambda t: fwd(X, Wt, t), b, dZ)) < 1e-8


# --------------------------------------------------------------------------- the documented size rules


def general_nb(C, KH, KW, Ho, Wo, N, itemsize, budget):
    """Images per block of forward_general / backward_general: columns (CK, Ho*Wo) per image."""
    return max(1, min(N, budget // (C * KH * KW * Ho * Wo * itemsize)))


def stride1_forward_plan(C, KH, KW, W, pad, Ho, N, itemsize, budget):
    """(band, nb) of forward_stride1: whole images while (CK+1)*Wp*itemsize*Ho <= 4*budget, else bands."""
    row_bytes = (C * KH * KW + 1) * (W + 2 * pad[1]) * itemsize
    if row_bytes * Ho <= 4 * budget:
        return Ho, max(1, min(N, budget // (row_bytes * Ho)))
    return max(1, budget // row_bytes), 1


def stride1_backward_image_bytes(C, F, H, W, KH, KW, pad, D, Ho, itemsize):
    """What one image counts for in backward_stride1's block size (its buffers, counted at half size)."""
    reach_h, reach_w = D[0] * (KH - 1), D[1] * (KW - 1)
    Wp = W + 2 * pad[1]
    dZ_len = reach_h * Wp + reach_w + Ho * Wp + (reach_h + 1) * Wp
    grid_len = H * Wp + reach_w
    return (C * (grid_len + reach_w) + F * dZ_len + (KH * F + KW * C) * grid_len) * itemsize // 2


def stride1_backward_nb(C, F, H, W, KH, KW, pad, D, Ho, N, itemsize, budget):
    """Images per block of backward_stride1."""
    return max(1, min(N, budget // stride1_backward_image_bytes(C, F, H, W, KH, KW, pad, D, Ho, itemsize)))


@pytest.fixture(autouse=True)
def one_product_per_image(monkeypatch):
    """Stride 1 here takes the route for larger images (one product per image, ``backward_stride1``)
    whatever the test's image size: the small images below would otherwise go by the batched
    route (``SMALL_IMAGE_BYTES``), whose blocks ``test_conv.py``'s
    ``test_fast_routes_and_block_sizes_agree_with_the_loops`` drives."""
    monkeypatch.setattr(_conv_fast, "SMALL_IMAGE_BYTES", 0)


@pytest.fixture
def budget(monkeypatch):
    """Set ``_conv_fast.BLOCK_BYTES`` for one test (restored afterwards)."""

    def set_budget(nbytes):
        monkeypatch.setattr(_conv_fast, "BLOCK_BYTES", int(nbytes))

    return set_budget


# --------------------------------------------------------------------------- any stride: blocks of images

# N = 5 images in blocks of 3 (the last block holds two), of 2 (the last holds one) and of 1
GENERAL = dict(N=5, C=2, F=3, H=7, W=6, KH=3, KW=2, S=(2, 1), pad=(1, 2), D=(1, 2))


@DTYPES
@pytest.mark.parametrize("nb", [3, 2, 1])
def test_general_stride_in_several_blocks_matches_the_loops(budget, dtype, nb):
    g = GENERAL
    Ho, Wo = out_hw(g["H"], g["W"], g["KH"], g["KW"], g["S"], g["pad"], g["D"])
    itemsize = np.dtype(dtype).itemsize
    budget(nb * g["C"] * g["KH"] * g["KW"] * Ho * Wo * itemsize)
    assert general_nb(g["C"], g["KH"], g["KW"], Ho, Wo, g["N"], itemsize, _conv_fast.BLOCK_BYTES) == nb
    X, Wt, b, dZ = arrays(g["N"], g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], Ho, Wo, 11, dtype)
    check_against_loops(X, Wt, b, dZ, dtype, stride=g["S"], padding=g["pad"], dilation=g["D"])


def test_general_stride_in_several_blocks_matches_finite_differences(budget):
    g = dict(GENERAL, N=3, F=2)
    Ho, Wo = out_hw(g["H"], g["W"], g["KH"], g["KW"], g["S"], g["pad"], g["D"])
    budget(2 * g["C"] * g["KH"] * g["KW"] * Ho * Wo * 8)  # blocks of 2 and 1
    X, Wt, b, dZ = arrays(g["N"], g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], Ho, Wo, 12, np.float64)
    check_finite_differences(X, Wt, b, dZ, stride=g["S"], padding=g["pad"], dilation=g["D"])


# --------------------------------------------------------------------------- stride 1: blocks of images

STRIDE1 = dict(N=5, C=2, F=3, H=6, W=7, KH=3, KW=3, pad=(1, 0), D=(1, 2))


@DTYPES
@pytest.mark.parametrize("nb", [3, 2, 1])
def test_stride1_in_several_blocks_matches_the_loops(budget, dtype, nb):
    """Forward in blocks of nb whole images, and backward in blocks of nb (each set by its own budget)."""
    g = STRIDE1
    Ho, Wo = out_hw(g["H"], g["W"], g["KH"], g["KW"], (1, 1), g["pad"], g["D"])
    itemsize = np.dtype(dtype).itemsize
    kw = dict(stride=1, padding=g["pad"], dilation=g["D"])
    X, Wt, b, dZ = arrays(g["N"], g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], Ho, Wo, 21, dtype)

    row_bytes = (g["C"] * g["KH"] * g["KW"] + 1) * (g["W"] + 2 * g["pad"][1]) * itemsize
    budget(nb * row_bytes * Ho)
    assert stride1_forward_plan(
        g["C"], g["KH"], g["KW"], g["W"], g["pad"], Ho, g["N"], itemsize, _conv_fast.BLOCK_BYTES
    ) == (Ho, nb)
    Z, _ = cnnlib.conv2d_forward(X, Wt, b, **kw)
    Z_ref, cache_ref = cnnlib.conv2d_forward_naive(*(a.astype(np.float64) for a in (X, Wt, b)), **kw)
    assert Z.dtype == dtype
    assert rel_error(Z, Z_ref) < TOL[dtype]

    args = (g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], g["pad"], g["D"], Ho)
    budget(nb * stride1_backward_image_bytes(*args, itemsize))
    assert stride1_backward_nb(*args, g["N"], itemsize, _conv_fast.BLOCK_BYTES) == nb
    check_against_loops(X, Wt, b, dZ, dtype, **kw)


def test_stride1_in_several_blocks_matches_finite_differences(budget):
    g = dict(STRIDE1, N=3, F=2)
    Ho, Wo = out_hw(g["H"], g["W"], g["KH"], g["KW"], (1, 1), g["pad"], g["D"])
    X, Wt, b, dZ = arrays(g["N"], g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], Ho, Wo, 22, np.float64)
    kw = dict(stride=1, padding=g["pad"], dilation=g["D"])
    # a budget below one image: forward and backward both work one image at a time
    budget(1)
    assert stride1_backward_nb(g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], g["pad"], g["D"], Ho, 3, 8, 1) == 1
    check_finite_differences(X, Wt, b, dZ, **kw)


def test_stride1_backward_blocks_of_two_match_finite_differences(budget):
    """Blocks of two images then one: dW and db summed over blocks, the last block's single-image branch."""
    g = dict(STRIDE1, N=3, F=2)
    Ho, Wo = out_hw(g["H"], g["W"], g["KH"], g["KW"], (1, 1), g["pad"], g["D"])
    X, Wt, b, dZ = arrays(g["N"], g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], Ho, Wo, 23, np.float64)
    args = (g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], g["pad"], g["D"], Ho)
    budget(2 * stride1_backward_image_bytes(*args, 8))
    assert stride1_backward_nb(*args, g["N"], 8, _conv_fast.BLOCK_BYTES) == 2
    check_finite_differences(X, Wt, b, dZ, stride=1, padding=g["pad"], dilation=g["D"])


# --------------------------------------------------------------------------- stride 1: bands of output rows

# Ho = 17 output rows; bands of 3 rows leave a last band of 2, bands of 1 are the smallest
BANDED = dict(N=2, C=2, F=3, H=17, W=6, KH=3, KW=2, pad=(2, 1), D=(2, 1))


@DTYPES
@pytest.mark.parametrize("band", [3, 1])
def test_stride1_forward_in_bands_matches_the_loops(budget, dtype, band):
    g = BANDED
    Ho, Wo = out_hw(g["H"], g["W"], g["KH"], g["KW"], (1, 1), g["pad"], g["D"])
    itemsize = np.dtype(dtype).itemsize
    row_bytes = (g["C"] * g["KH"] * g["KW"] + 1) * (g["W"] + 2 * g["pad"][1]) * itemsize
    budget(band * row_bytes + row_bytes // 2)  # not a whole number of rows: the floor must give `band`
    assert stride1_forward_plan(
        g["C"], g["KH"], g["KW"], g["W"], g["pad"], Ho, g["N"], itemsize, _conv_fast.BLOCK_BYTES
    ) == (band, 1)
    assert Ho % band != 0 or band == 1  # with band 3, the last band is shorter
    X, Wt, b, dZ = arrays(g["N"], g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], Ho, Wo, 31, dtype)
    check_against_loops(X, Wt, b, dZ, dtype, stride=1, padding=g["pad"], dilation=g["D"])


def test_stride1_forward_with_a_budget_below_one_row_uses_bands_of_one_row(budget):
    g = BANDED
    Ho, Wo = out_hw(g["H"], g["W"], g["KH"], g["KW"], (1, 1), g["pad"], g["D"])
    budget(1)
    assert stride1_forward_plan(g["C"], g["KH"], g["KW"], g["W"], g["pad"], Ho, g["N"], 8, 1) == (1, 1)
    X, Wt, b, _ = arrays(g["N"], g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], Ho, Wo, 32, np.float64)
    kw = dict(stride=1, padding=g["pad"], dilation=g["D"])
    Z, _ = cnnlib.conv2d_forward(X, Wt, b, **kw)
    np.testing.assert_allclose(Z, cnnlib.conv2d_forward_naive(X, Wt, b, **kw)[0], rtol=1e-12, atol=1e-12)


def test_stride1_forward_in_bands_matches_finite_differences(budget):
    """The banded forward is the function whose derivatives the backward pass returns."""
    g = dict(BANDED, N=1, C=1, F=2)
    Ho, Wo = out_hw(g["H"], g["W"], g["KH"], g["KW"], (1, 1), g["pad"], g["D"])
    row_bytes = (g["C"] * g["KH"] * g["KW"] + 1) * (g["W"] + 2 * g["pad"][1]) * 8
    budget(3 * row_bytes)
    assert stride1_forward_plan(g["C"], g["KH"], g["KW"], g["W"], g["pad"], Ho, 1, 8, _conv_fast.BLOCK_BYTES)[0] == 3
    X, Wt, b, dZ = arrays(g["N"], g["C"], g["F"], g["H"], g["W"], g["KH"], g["KW"], Ho, Wo, 33, np.float64)
    check_finite_differences(X, Wt, b, dZ, stride=1, padding=g["pad"], dilation=g["D"])


# --------------------------------------------------------------------------- one real large case


def reference_conv(X, Wt, b, dZ, pad):
    """Stride-1 convolution and its three gradients in float64, by an im2col of numpy's own windows.

    Independent of cnnlib: ``sliding_window_view`` gives the (Ho, Wo, KH, KW) windows, the
    forward and dW are tensor contractions with them, and dX adds each kernel offset's share
    of dZ back onto the padded input.
    """
    X, Wt, b, dZ = (np.asarray(a, dtype=np.float64) for a in (X, Wt, b, dZ))
    F, C, KH, KW = Wt.shape
    Xp = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(Xp, (KH, KW), axis=(2, 3))  # (N, C, Ho, Wo, KH, KW)
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(X.shape[0], win.shape[2], win.shape[3], C * KH * KW)
    W2 = Wt.reshape(F, C * KH * KW)
    Z = np.einsum("nhwk,fk->nfhw", cols, W2, optimize=True) + b[:, None, None]
    dW = np.einsum("nfhw,nhwk->fk", dZ, cols, optimize=True).reshape(Wt.shape)
    db = dZ.sum(axis=(0, 2, 3))
    Ho, Wo = dZ.shape[2:]
    dXp = np.zeros(Xp.shape)
    for i in range(KH):
        for j in range(KW):
            dXp[:, :, i : i + Ho, j : j + Wo] += np.einsum("nfhw,fc->nchw", dZ, Wt[:, :, i, j], optimize=True)
    dX = dXp[:, :, pad : pad + X.shape[2], pad : pad + X.shape[3]]
    return Z, dX, dW, db


@DTYPES
def test_large_image_with_the_real_budget(dtype):
    """N=2, C=3, 224x224, 3x3 kernel, padding 1: the size of an ImageNet input.

    With the real ``BLOCK_BYTES`` the float64 forward takes the banding path (one image at a
    time, a band of output rows at a time) and the float32 forward two blocks of one whole
    image; both backward passes work one image at a time.
    """
    N, C, F, H, W, K, pad = 2, 3, 4, 224, 224, 3, 1
    itemsize = np.dtype(dtype).itemsize
    band, nb = stride1_forward_plan(C, K, K, W, (pad, pad), H, N, itemsize, _conv_fast.BLOCK_BYTES)
    if dtype == np.float64:
        assert 1 < band < H and nb == 1  # banding, with a last band shorter than the rest
        assert H % band != 0
    else:
        assert band == H and nb == 1  # whole images, two blocks
    assert stride1_backward_nb(C, F, H, W, K, K, (pad, pad), (1, 1), H, N, itemsize, _conv_fast.BLOCK_BYTES) == 1
    X, Wt, b, dZ = arrays(N, C, F, H, W, K, K, H, W, 41, dtype)
    Z, cache = cnnlib.conv2d_forward(X, Wt, b, padding=pad)
    got = (Z, *cnnlib.conv2d_backward(dZ, cache))
    ref = reference_conv(X, Wt, b, dZ, pad)
    tol = {np.float64: 1e-12, np.float32: 1e-5}[dtype]
    for name, g_, r in zip(("Z", "dX", "dW", "db"), got, ref):
        assert g_.dtype == dtype, name
        assert rel_error(g_, r) < tol, name


# --------------------------------------------------------------------------- pooling: the two backward routes


def test_maxpool_backward_takes_the_offset_route_for_float32_without_overlap(monkeypatch):
    """float32 and non-overlapping windows go by window offset; everything else by bincount."""
    calls = []
    for name in ("route_by_bincount", "route_by_offset"):
        original = getattr(_pool_fast, name)

        def spy(*a, _name=name, _original=original):
            calls.append(_name)
            return _original(*a)

        monkeypatch.setattr(_pool_fast, name, spy)
    rng = np.random.default_rng(51)
    for dtype, kw, route in (
        (np.float32, dict(size=2), "route_by_offset"),
        (np.float32, dict(size=(3, 2), stride=(3, 4), padding=(1, 0)), "route_by_offset"),
        (np.float32, dict(size=3, stride=(3, 2)), "route_by_bincount"),  # overlap along the width
        (np.float32, dict(size=3, stride=(2, 3)), "route_by_bincount"),  # overlap along the height
        (np.float64, dict(size=2), "route_by_bincount"),
    ):
        A = np.round(rng.standard_normal((2, 3, 9, 8)), 1).astype(dtype)  # ties included
        P, cache = cnnlib.maxpool2d_forward(A, **kw)
        dP = rng.standard_normal(P.shape).astype(dtype)
        calls.clear()
        dA = cnnlib.maxpool2d_backward(dP, cache)
        assert calls == [route], (dtype, kw)
        assert dA.dtype == dtype
        expected = cnnlib.maxpool2d_backward_naive(dP.astype(np.float64), cache)
        assert rel_error(dA, expected) < TOL[dtype]


@pytest.mark.parametrize("size", [(11, 11), (1, 127), (1, 128), (12, 12), (16, 16)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_maxpool_winners_of_large_windows(size, impl):
    """The winner's offset i*RW + j is stored in int8 up to 127 cells and in int32 above: every offset survives.

    One window per channel, each channel's maximum placed at a different offset, the last
    offset of the window included; the gradient must land exactly on each maximum.
    """
    forward, backward = {
        "fast": (cnnlib.maxpool2d_forward, cnnlib.maxpool2d_backward),
        "naive": (cnnlib.maxpool2d_forward_naive, cnnlib.maxpool2d_backward_naive),
    }[impl]
    cells = size[0] * size[1]
    targets = sorted({0, 1, cells // 2, 126 % cells, 127 % cells, cells - 2, cells - 1})
    rng = np.random.default_rng(61)
    A = rng.uniform(-1.0, 0.0, (1, len(targets), *size))
    for c, t in enumerate(targets):
        A[0, c].flat[t] = 1.0 + c
    P, cache = forward(A, size=size)
    dP = rng.standard_normal(P.shape)
    dA = backward(dP, cache)
    expected = np.zeros_like(A)
    for c, t in enumerate(targets):
        assert P[0, c, 0, 0] == 1.0 + c
        assert cache.argmax[0, c, 0, 0] == t
        expected[0, c].flat[t] = dP[0, c, 0, 0]
    np.testing.assert_array_equal(dA, expected)

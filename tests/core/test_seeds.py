"""The worked examples the book starts from, recomputed through cnnlib's public API.

* seed 000 — a 5x5 input, a 2x2 kernel, 2x2 max-pooling, a sigmoid and a two-unit
  dense layer: the four sigmoid deltas, the routed 4x4 gradient map and the kernel
  gradient [[0.044606, 0.094061], [0.011262, 0.068288]].
* seed 002 — conv 3x3 -> ReLU -> max-pool -> flatten -> one sigmoid unit -> binary
  cross-entropy on a 6x6 image: exactly 15 trainable parameters, and dL/dZ2 = A2 - Y.
* seed 003 — the convolution's backward equations (1)-(3), written out below with the
  1-based indices of the derivation, against the loop and the fast implementations.
"""

from __future__ import annotations

import numpy as np
import pytest
from _strategies import rng_seeds
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib import seeds

# --------------------------------------------------------------------------- seed 000

# The numbers of seed 000 (a single image, a single channel).
O_5x5 = np.array(
    [
        [0.51, 0.90, 0.88, 0.84, 0.05],
        [0.40, 0.62, 0.22, 0.59, 0.10],
        [0.11, 0.20, 0.74, 0.33, 0.14],
        [0.47, 0.01, 0.85, 0.70, 0.09],
        [0.76, 0.19, 0.72, 0.17, 0.57],
    ]
)
D_4x4 = np.array(  # the routed gradient map dE/dx at the 4x4 convolution output
    [
        [0.0, 0.0, 0.0686, 0.0],
        [0.0, 0.0364, 0.0, 0.0],
        [0.0, 0.0467, 0.0, 0.0],
        [0.0, 0.0, 0.0, -0.0681],
    ]
)
KERNEL_GRADIENT = np.array([[0.044606, 0.094061], [0.011262, 0.068288]])

DELTA_H = np.array([[0.25, -0.15]])  # (N=1, M=2): dE/d(net input) of the two dense units H1, H2
SIGMOID_OUT = np.array([[0.58, 0.57], [0.65, 0.55]])  # (2, 2): the pooled, squashed feature map
U_FC = np.array(  # (M=2, K=4): row m holds the weights from the four sigmoid units to H_{m+1}
    [
        [0.61, 0.82, 0.96, -1.00],
        [0.02, -0.50, 0.23, 0.17],
    ]
)
SIGMOID_DELTAS = np.array([[0.0364182, 0.068628], [0.04675125, -0.06818625]])  # δ11 δ12 / δ21 δ22


def seed000_kernel_gradient(d):
    """dW of the 2x2 kernel when the 4x4 output receives the gradient map ``d`` (X = seed 000's 5x5 input)."""
    X = O_5x5[None, None]  # (1, 1, 5, 5)
    W = np.array([[[[-0.13, 0.4], [0.2, -0.3]]]])  # (1, 1, 2, 2); dW does not depend on W
    Z, cache = cnnlib.conv2d_forward(X, W, np.zeros(1))
    assert Z.shape == (1, 1, 4, 4)  # 5x5 input, 2x2 kernel, stride 1 -> 4x4 feature map
    dX, dW, db = cnnlib.conv2d_backward(d[None, None], cache)
    return dW[0, 0], db[0]


@pytest.mark.parametrize("naive", [False, True], ids=["fast", "naive"])
def test_seed000_kernel_gradient(naive):
    if naive:
        _, cache = cnnlib.conv2d_forward_naive(O_5x5[None, None], np.ones((1, 1, 2, 2)), np.zeros(1))
        dW = cnnlib.conv2d_backward_naive(D_4x4[None, None], cache)[1][0, 0]
    else:
        dW, db = seed000_kernel_gradient(D_4x4)
        assert db == pytest.approx(D_4x4.sum(), abs=1e-15)  # the bias gradient is the sum of the map
    np.testing.assert_allclose(dW, KERNEL_GRADIENT, rtol=0, atol=1e-6)


def test_seed000_kernel_gradient_entry_by_entry():
    """∂E/∂w_{m',n'} = Σ_{i,j} δ_{i,j} o_{i+m', j+n'}, summed here by hand for w_00."""
    by_hand = 0.0686 * 0.88 + 0.0364 * 0.62 + 0.0467 * 0.20 + (-0.0681) * 0.70
    dW, _ = seed000_kernel_gradient(D_4x4)
    assert dW[0, 0] == pytest.approx(by_hand, abs=1e-15)
    assert by_hand == pytest.approx(0.044606, abs=1e-12)


def test_seed000_commenter_scipy_formula():
    """The commenter's one-liner, convolve2d(rot180(d), o, 'valid'), is the same cross-correlation."""
    signal = pytest.importorskip("scipy.signal", reason="scipy (a book dependency) gives an independent reference")
    reference = signal.convolve2d(np.rot90(D_4x4, 2), O_5x5, mode="valid")
    dW, _ = seed000_kernel_gradient(D_4x4)
    np.testing.assert_allclose(dW, reference, rtol=0, atol=1e-15)


def test_seed000_sigmoid_deltas_through_the_api():
    """δ = (Σ_m δH_m U_{m,k}) · σ(1 − σ): dense backward, flatten backward, sigmoid backward."""
    # sigmoid_forward of the logits of the seed's outputs reproduces those outputs (to rounding)
    Zs = np.log(SIGMOID_OUT / (1 - SIGMOID_OUT))[None, None]  # (1, 1, 2, 2)
    A, sig_cache = cnnlib.sigmoid_forward(Zs)
    np.testing.assert_allclose(A[0, 0], SIGMOID_OUT, rtol=0, atol=1e-15)
    p, flat_cache = cnnlib.flatten_forward(A)  # (1, 4) in row-major order: σ11, σ12, σ21, σ22
    s, dense_cache = cnnlib.dense_forward(p, U_FC, np.zeros(2))  # (1, 2)
    dp, dU, dc = cnnlib.dense_backward(DELTA_H, dense_cache)  # dp (1, 4)
    dA = cnnlib.flatten_backward(dp, flat_cache)  # (1, 1, 2, 2)
    dZ = cnnlib.sigmoid_backward(dA, sig_cache)  # (1, 1, 2, 2)
    np.testing.assert_allclose(dZ[0, 0], SIGMOID_DELTAS, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dc, [0.25, -0.15], rtol=0, atol=0)  # dE/dc is the delta itself


def test_seed000_sigmoid_deltas_plain_arithmetic():
    """The same four numbers from the seed's own formulas, one by one, in plain floats."""
    routed = DELTA_H @ U_FC  # (1, 4): Σ_m δH_m U_{m,k}
    expected = [
        (0.25 * 0.61 + -0.15 * 0.02) * 0.58 * (1 - 0.58),
        (0.25 * 0.82 + -0.15 * -0.50) * 0.57 * (1 - 0.57),
        (0.25 * 0.96 + -0.15 * 0.23) * 0.65 * (1 - 0.65),
        (0.25 * -1.00 + -0.15 * 0.17) * 0.55 * (1 - 0.55),
    ]
    sig = SIGMOID_OUT.ravel()
    np.testing.assert_allclose(routed[0] * sig * (1 - sig), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(expected, SIGMOID_DELTAS.ravel(), rtol=0, atol=1e-15)


def test_seed000_gradient_map_uses_the_deltas_cut_to_four_decimals():
    """The 4x4 map carries each delta at its pooling window's maximum, cut (not rounded) to 4 decimals."""
    cut = np.trunc(SIGMOID_DELTAS * 1e4) / 1e4  # 0.0364, 0.0686, 0.0467, -0.0681
    rounded = np.round(SIGMOID_DELTAS, 4)  # 0.0364, 0.0686, 0.0468, -0.0682
    for r in range(2):
        for c in range(2):
            window = D_4x4[2 * r : 2 * r + 2, 2 * c : 2 * c + 2]
            assert np.count_nonzero(window) == 1  # max-pooling routes to exactly one cell
            assert window[window != 0][0] == pytest.approx(cut[r, c], abs=1e-15)
    assert not np.allclose(cut, rounded, rtol=0, atol=1e-6)  # so "rounding" would not reproduce the map

    # Routing through maxpool2d_backward: an activation map whose window maxima sit where
    # the seed's nonzeros are (the seed does not print its 4x4 activations) sends the cut
    # deltas exactly there.
    A = np.zeros((1, 1, 4, 4))
    A[0, 0][D_4x4 != 0] = 1.0
    P, pool_cache = cnnlib.maxpool2d_forward(A, size=2, stride=2)
    assert P.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(cnnlib.maxpool2d_backward(cut[None, None], pool_cache)[0, 0], D_4x4)

    # The seed's kernel gradient is that of the cut map; the exact deltas give one that
    # differs in the fifth decimal.
    exact_map = np.zeros((4, 4))
    exact_map[D_4x4 != 0] = [SIGMOID_DELTAS[0, 1], SIGMOID_DELTAS[0, 0], SIGMOID_DELTAS[1, 0], SIGMOID_DELTAS[1, 1]]
    dW_exact, _ = seed000_kernel_gradient(exact_map)
    assert np.max(np.abs(dW_exact - KERNEL_GRADIENT)) > 1e-6
    np.testing.assert_allclose(dW_exact, KERNEL_GRADIENT, rtol=0, atol=1e-4)


# --------------------------------------------------------------------------- seed 002


def seed002_network(seed=0):
    """The seed's parameters, drawn at random: W1 3x3 and B1 for the convolution, W2 (4 -> 1) and B2."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((1, 1, 3, 3)),
        "B1": rng.standard_normal(1),
        "W2": rng.standard_normal((1, 4)),  # the dense layer's U: (M=1, K=4)
        "B2": rng.standard_normal(1),
    }


def seed002_loss_and_grads(params, X, Y):
    """Forward and backward through functional calls; returns (L, {name: dL/dname}, shapes seen)."""
    Z1, c1 = cnnlib.conv2d_forward(X, params["W1"], params["B1"])  # (N, 1, 4, 4)
    A1, c2 = cnnlib.relu_forward(Z1)  # (N, 1, 4, 4)
    P1, c3 = cnnlib.maxpool2d_forward(A1, size=2, stride=2)  # (N, 1, 2, 2)
    F, c4 = cnnlib.flatten_forward(P1)  # (N, 4)
    Z2, c5 = cnnlib.dense_forward(F, params["W2"], params["B2"])  # (N, 1)
    A2, c6 = cnnlib.sigmoid_forward(Z2)  # (N, 1)
    L, dA2 = cnnlib.binary_cross_entropy(A2, Y)
    dZ2 = cnnlib.sigmoid_backward(dA2, c6)
    dF, dW2, dB2 = cnnlib.dense_backward(dZ2, c5)
    dA1 = cnnlib.relu_backward(cnnlib.maxpool2d_backward(cnnlib.flatten_backward(dF, c4), c3), c2)
    _, dW1, dB1 = cnnlib.conv2d_backward(dA1, c1)
    shapes = [a.shape[1:] for a in (Z1, A1, P1, F, Z2, A2)]
    return L, {"W1": dW1, "B1": dB1, "W2": dW2, "B2": dB2}, shapes, (A2, dZ2)


def test_seed002_has_exactly_15_trainable_parameters():
    params = seed002_network()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 1, 6, 6))  # three 6x6 images
    Y = np.array([[1.0], [0.0], [1.0]])
    L, grads, shapes, _ = seed002_loss_and_grads(params, X, Y)
    assert shapes == [(1, 4, 4), (1, 4, 4), (1, 2, 2), (4,), (1,), (1,)]  # 6x6 -> 4x4 -> 2x2 -> 4 -> 1
    assert set(grads) == set(params)
    for name in params:
        assert grads[name].shape == params[name].shape, name
    counts = {name: params[name].size for name in params}
    assert counts == {"W1": 9, "B1": 1, "W2": 4, "B2": 1}
    assert sum(counts.values()) == 15
    assert sum(g.size for g in grads.values()) == 15
    assert np.isfinite(L)


def test_seed002_output_error_is_A2_minus_Y():
    """(∂L/∂A2)(∂A2/∂Z2) simplifies to A2 − Y (batch-averaged), as with the logits form of the loss."""
    params = seed002_network(seed=4)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 1, 6, 6))
    Y = np.array([[1.0], [0.0], [0.0], [1.0]])
    _, _, _, (A2, dZ2) = seed002_loss_and_grads(params, X, Y)
    np.testing.assert_allclose(dZ2, (A2 - Y) / len(Y), rtol=1e-10, atol=1e-14)
    Z2 = np.log(A2 / (1 - A2))
    _, dZ2_logits = cnnlib.binary_cross_entropy_with_logits(Z2, Y)
    np.testing.assert_allclose(dZ2_logits, dZ2, rtol=1e-8, atol=1e-14)


def test_seed002_layer_network_has_15_parameters():
    """The same network built from layer objects: 15 trainable numbers, and 15 gradient entries after backward."""
    net = cnnlib.Sequential(
        cnnlib.Conv2D(1, 1, 3, seed=0),
        cnnlib.ReLU(),
        cnnlib.MaxPool2D(2),
        cnnlib.Flatten(),
        cnnlib.Dense(4, 1, seed=1),
        cnnlib.Sigmoid(),
    )
    X = np.random.default_rng(2).standard_normal((2, 1, 6, 6))
    A2 = net.forward(X)
    assert A2.shape == (2, 1)
    params = net.parameters()
    assert {k: v.shape for k, v in params.items()} == {
        "0.W": (1, 1, 3, 3),
        "0.b": (1,),
        "4.U": (1, 4),
        "4.c": (1,),
    }
    assert sum(v.size for v in params.values()) == 15
    assert net.num_parameters() == 15
    _, dA2 = cnnlib.binary_cross_entropy(A2, np.array([[1.0], [0.0]]))
    net.backward(dA2)
    grads = net.gradients()
    assert {k: v.shape for k, v in grads.items()} == {k: v.shape for k, v in params.items()}


# --------------------------------------------------------------------------- seed 003


class OneBased:
    """Read an array with the derivation's 1-based indices; index 0 or past the end is an error."""

    def __init__(self, array):
        self.array = array

    def __getitem__(self, idx):
        for k, n in zip(idx, self.array.shape, strict=True):
            if not 1 <= k <= n:
                raise IndexError(f"1-based index {idx} outside shape {self.array.shape}")
        return self.array[tuple(k - 1 for k in idx)]


def seed003_forward(X, W, b):
    """Z_{f,u,v} = Σ_c Σ_i Σ_j W_{f,c,i,j} X_{c,u+i-1,v+j-1} + b_f  (single sample, stride 1, no padding)."""
    C, H, Wd = X.shape
    F, _, K, _ = W.shape
    Xo, Wo_, bo = OneBased(X), OneBased(W), OneBased(b)
    Z = np.zeros((F, H - K + 1, Wd - K + 1))
    for f in range(1, F + 1):
        for u in range(1, H - K + 2):
            for v in range(1, Wd - K + 2):
                total = bo[(f,)]
                for c in range(1, C + 1):
                    for i in range(1, K + 1):
                        for j in range(1, K + 1):
                            total += Wo_[f, c, i, j] * Xo[c, u + i - 1, v + j - 1]
                Z[f - 1, u - 1, v - 1] = total
    return Z


def seed003_backward(delta, X, W):
    """Equations (1)-(3) of seed 003, term by term, 1-based."""
    C, H, Wd = X.shape
    F, _, K, _ = W.shape
    _, Hz, Wz = delta.shape
    d, Xo, Wo_ = OneBased(delta), OneBased(X), OneBased(W)

    def delta_or_zero(f, u, v):  # δ outside the output map contributes nothing
        return d[f, u, v] if 1 <= u <= Hz and 1 <= v <= Wz else 0.0

    db = np.zeros(F)  # (1)  ∂L/∂b_f = Σ_{u,v} δ_{f,u,v}
    for f in range(1, F + 1):
        for u in range(1, Hz + 1):
            for v in range(1, Wz + 1):
                db[f - 1] += d[f, u, v]

    dW = np.zeros(W.shape)  # (2)  ∂L/∂W_{f,c,i,j} = Σ_{u,v} δ_{f,u,v} X_{c,u+i-1,v+j-1}
    for f in range(1, F + 1):
        for c in range(1, C + 1):
            for i in range(1, K + 1):
                for j in range(1, K + 1):
                    for u in range(1, Hz + 1):
                        for v in range(1, Wz + 1):
                            dW[f - 1, c - 1, i - 1, j - 1] += d[f, u, v] * Xo[c, u + i - 1, v + j - 1]

    dX = np.zeros(X.shape)  # (3)  ∂L/∂X_{c,x,y} = Σ_f Σ_{i,j} δ_{f,x-i+1,y-j+1} W_{f,c,i,j}
    for c in range(1, C + 1):
        for x in range(1, H + 1):
            for y in range(1, Wd + 1):
                for f in range(1, F + 1):
                    for i in range(1, K + 1):
                        for j in range(1, K + 1):
                            dX[c - 1, x - 1, y - 1] += delta_or_zero(f, x - i + 1, y - j + 1) * Wo_[f, c, i, j]
    return dX, dW, db


@settings(max_examples=25, deadline=None)
@given(
    C=st.integers(1, 3),
    F=st.integers(1, 3),
    K=st.integers(1, 3),
    extra_h=st.integers(0, 3),
    extra_w=st.integers(0, 3),
    seed=rng_seeds(),
)
def test_seed003_equations_1_to_3_match_the_library(C, F, K, extra_h, extra_w, seed):
    rng = np.random.default_rng(seed)
    H, Wd = K + extra_h, K + extra_w
    X = rng.standard_normal((C, H, Wd))
    W = rng.standard_normal((F, C, K, K))
    b = rng.standard_normal(F)
    delta = rng.standard_normal((F, H - K + 1, Wd - K + 1))

    Z = seed003_forward(X, W, b)
    dX, dW, db = seed003_backward(delta, X, W)
    for forward, backward in (
        (cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive),
        (cnnlib.conv2d_forward, cnnlib.conv2d_backward),
    ):
        Z_lib, cache = forward(X[None], W, b)  # one sample: N = 1
        np.testing.assert_allclose(Z_lib[0], Z, rtol=1e-12, atol=1e-12)
        dX_lib, dW_lib, db_lib = backward(delta[None], cache)
        np.testing.assert_allclose(dX_lib[0], dX, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dW_lib, dW, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(db_lib, db, rtol=1e-12, atol=1e-12)


def test_seed003_one_based_reader_rejects_index_zero():
    """Guard for the reference code above: a 0 index must not silently read the last element."""
    with pytest.raises(IndexError):
        OneBased(np.arange(3.0))[(0,)]
    assert OneBased(np.arange(3.0))[(3,)] == 2.0


def test_seed002_network_module_matches_the_functional_chain():
    """cnnlib.seeds.seed002_network (used by the explorer and the checkers) = the chain above, value for value."""
    params = seed002_network(seed=5)
    X = np.random.default_rng(5).uniform(0, 1, (1, 1, 6, 6))
    for Y in (0, 1):
        L, grads, _, (A2, dZ2) = seed002_loss_and_grads(params, X, np.array([[float(Y)]]))
        out = seeds.seed002_network(X[0, 0], params["W1"][0, 0], params["B1"][0], params["W2"][0], params["B2"][0], Y)
        assert np.isclose(out["L"], L, rtol=1e-12) and np.isclose(out["A2"], A2[0, 0], rtol=1e-12)
        assert np.isclose(out["dZ2"], dZ2[0, 0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(out["dW1"], grads["W1"][0, 0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(out["dW2"], grads["W2"][0], rtol=1e-10, atol=1e-14)
        assert np.isclose(out["dB1"], grads["B1"][0], rtol=1e-10, atol=1e-14)
        assert np.isclose(out["dB2"], grads["B2"][0], rtol=1e-10, atol=1e-14)
        for (r, c), p in zip(out["winners"], out["P1"].ravel()):  # each window's winner holds its maximum
            assert out["A1"][r, c] == p


def test_seed002_network_module_rejects_bad_input():
    with pytest.raises(ValueError, match=r"^seed002_network: X must have 36 entries"):
        seeds.seed002_network(np.zeros((5, 5)), np.zeros((3, 3)), 0.0, np.zeros(4), 0.0)
    with pytest.raises(ValueError, match=r"^seed002_network: Y must be 0 or 1"):
        seeds.seed002_network(np.zeros((6, 6)), np.zeros((3, 3)), 0.0, np.zeros(4), 0.0, Y=2)
    out = seeds.seed002_network(np.zeros((6, 6)), np.zeros((3, 3)), 0.0, np.zeros(4), 0.0)
    assert "L" not in out and out["A2"] == 0.5

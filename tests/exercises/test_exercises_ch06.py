"""cnnlib.exercises.ch06 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cnnlib.exercises import ch06

# ---------------------------------------------------------------- right answers (as in 06_solutions)


def num_parameters_right(H, K, S, pad):
    Ho = (H + 2 * pad - K) // S + 1
    return K * K + 1 + (Ho // 2) ** 2 + 1


def _pool_backward(A1, dP1):
    dA1 = np.zeros_like(A1)
    for a in range(2):
        for b in range(2):
            block = A1[2 * a : 2 * a + 2, 2 * b : 2 * b + 2]
            r, c = np.unravel_index(np.argmax(block), block.shape)
            dA1[2 * a + r, 2 * b + c] = dP1[a, b]
    return dA1


def seed002_grads_right(X, W1, B1, W2, B2, Y, *, mistake=None):
    v = ch06.seed002_forward(X, W1, B1, W2, B2)
    dZ2 = v["A2"] - Y
    if mistake == "sigmoid twice":
        dZ2 *= v["A2"] * (1 - v["A2"])
    dW2 = v["F"].reshape(4, 1) * dZ2
    dB2 = dZ2
    dP1 = (dZ2 * W2).reshape(2, 2)
    dA1 = np.kron(dP1, np.ones((2, 2))) if mistake == "pool to all" else _pool_backward(v["A1"], dP1)
    dZ1 = dA1 if mistake == "no mask" else dA1 * (v["Z1"] > 0)
    dB1 = dZ1.mean() if mistake == "mean" else dZ1.sum()
    dW1 = signal.convolve2d(X, dZ1, mode="valid") if mistake == "convolve" else signal.correlate2d(X, dZ1, "valid")
    if mistake == "transpose":
        dW2 = dW2.T
    if mistake == "three":
        return dW1, dB1, dW2
    return dW1, dB1, dW2, dB2


def batch_dW2_right(F, A2, Y):
    N = F.shape[1]
    return (A2 - Y) @ F.T / N, float((A2 - Y).sum() / N)


def conv_dW_right(X, K, S, pad, dZ):
    Ho, Wo = dZ.shape
    d = np.zeros(((Ho - 1) * S + 1, (Wo - 1) * S + 1))
    d[::S, ::S] = dZ
    Xp = np.pad(X, pad)[: (Ho - 1) * S + K, : (Wo - 1) * S + K]
    return signal.correlate2d(Xp, d, mode="valid")


def conv_dW_loops(X, K, S, pad, dZ):
    Xp = np.pad(X, pad)
    dW = np.zeros((K, K))
    for u in range(dZ.shape[0]):
        for v in range(dZ.shape[1]):
            dW += dZ[u, v] * Xp[u * S : u * S + K, v * S : v * S + K]
    return dW


# ---------------------------------------------------------------- wrong answers


def stub(*args):
    return None


def num_parameters_no_bias(H, K, S, pad):
    return num_parameters_right(H, K, S, pad) - 2


def num_parameters_unpooled(H, K, S, pad):
    Ho = (H + 2 * pad - K) // S + 1
    return K * K + 1 + Ho * Ho + 1


def num_parameters_float(H, K, S, pad):
    return float(num_parameters_right(H, K, S, pad))


def num_parameters_ceil(H, K, S, pad):
    Ho = (H + 2 * pad - K) // S + 1
    return K * K + 1 + (-(-Ho // 2)) ** 2 + 1


def batch_sum(F, A2, Y):
    dW2, dB2 = batch_dW2_right(F, A2, Y)
    return dW2 * F.shape[1], dB2 * F.shape[1]


def batch_transposed(F, A2, Y):
    dW2, dB2 = batch_dW2_right(F, A2, Y)
    return dW2.T, dB2


def conv_dW_no_dilation(X, K, S, pad, dZ):
    Ho, Wo = dZ.shape
    Xp = np.pad(X, pad)[: Ho + K - 1, : Wo + K - 1]
    return signal.correlate2d(Xp, dZ, mode="valid")


def conv_dW_convolve(X, K, S, pad, dZ):
    Ho, Wo = dZ.shape
    d = np.zeros(((Ho - 1) * S + 1, (Wo - 1) * S + 1))
    d[::S, ::S] = dZ
    Xp = np.pad(X, pad)[: (Ho - 1) * S + K, : (Wo - 1) * S + K]
    return signal.convolve2d(Xp, d, mode="valid")


def conv_dW_no_padding(X, K, S, pad, dZ):
    return conv_dW_right(X, K, S, 0, dZ) if pad == 0 else np.zeros((K, K))


# ---------------------------------------------------------------- tests


def test_right_answers_pass(capsys):
    assert ch06.check_num_parameters(num_parameters_right)
    assert ch06.check_seed002_grads(seed002_grads_right)
    assert ch06.check_batch_dW2(batch_dW2_right)
    assert ch06.check_conv_dW_strided(conv_dW_right)
    assert ch06.check_conv_dW_strided(conv_dW_loops)
    assert capsys.readouterr().out.count("✓ all") == 5


def test_seed002_count_is_15():
    assert num_parameters_right(6, 3, 1, 0) == 15


@pytest.mark.parametrize(
    "fn, words",
    [
        (num_parameters_no_bias, "biases are missing"),
        (num_parameters_unpooled, "flatten P1"),
        (num_parameters_ceil, "Ho // 2"),
        (num_parameters_float, "should be an int"),
        (stub, "not attempted yet"),
    ],
)
def test_num_parameters_rejects(fn, words, capsys):
    assert ch06.check_num_parameters(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "mistake, words",
    [
        ("convolve", "true convolution of X with δZ1"),
        ("no mask", "ReLU mask is missing"),
        ("pool to all", "window's winner only"),
        ("mean", "not its mean"),
        ("sigmoid twice", "counted twice"),
        ("transpose", "yours is its transpose"),
        ("three", "expected 4 values"),
    ],
)
def test_seed002_grads_rejects(mistake, words, capsys):
    def fn(*args):
        return seed002_grads_right(*args, mistake=mistake)

    assert ch06.check_seed002_grads(fn).passed is False
    assert words in capsys.readouterr().out


def test_seed002_grads_stub(capsys):
    assert not ch06.check_seed002_grads(stub)
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [(batch_sum, "divide the sums by N"), (batch_transposed, "yours is its transpose"), (stub, "not attempted")],
)
def test_batch_dW2_rejects(fn, words, capsys):
    assert ch06.check_batch_dW2(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (conv_dW_no_dilation, "the stride is missing"),
        (conv_dW_convolve, "true convolution"),
        (conv_dW_no_padding, "case 2"),
        (stub, "not attempted"),
    ],
)
def test_conv_dW_strided_rejects(fn, words, capsys):
    assert ch06.check_conv_dW_strided(fn).passed is False
    assert words in capsys.readouterr().out


def test_seed002_forward_matches_scipy():
    rng = np.random.default_rng(0)
    X, W1 = rng.uniform(0, 1, (6, 6)), rng.normal(size=(3, 3))
    W2 = rng.normal(size=(4, 1))
    v = ch06.seed002_forward(X, W1, 0.1, W2, -0.2)
    Z1 = signal.correlate2d(X, W1, mode="valid") + 0.1
    assert np.allclose(v["Z1"], Z1)
    P1 = np.maximum(Z1, 0).reshape(2, 2, 2, 2).max(axis=(1, 3))
    assert np.allclose(v["P1"], P1)
    assert np.isclose(v["A2"], 1 / (1 + np.exp(-(P1.reshape(-1) @ W2[:, 0] - 0.2))))


def test_checker_does_not_modify_reader_inputs_silently(capsys):
    def mutating(X, W1, B1, W2, B2, Y):
        X[0, 0] += 1.0
        return seed002_grads_right(X, W1, B1, W2, B2, Y)

    assert not ch06.check_seed002_grads(mutating)
    assert "modified its input" in capsys.readouterr().out

"""cnnlib.exercises.ch04 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib
from cnnlib.exercises import ch04

# ---------------------------------------------------------------- right answers (as in 04_solutions)


def maxpool_backward_right(A, K, S, dP):
    dA = np.zeros_like(A)
    for u in range(dP.shape[0]):
        for v in range(dP.shape[1]):
            window = A[u * S : u * S + K, v * S : v * S + K]
            i, j = np.unravel_index(np.argmax(window), window.shape)  # the first maximum
            dA[u * S + i, v * S + j] += dP[u, v]
    return dA


def maxpool_backward_cnnlib(A, K, S, dP):
    _, cache = cnnlib.maxpool2d_forward(A[None, None], size=K, stride=S)
    return cnnlib.maxpool2d_backward(dP[None, None], cache)[0, 0]


def avgpool_kernel_right(C, K):
    return np.einsum("fc,ij->fcij", np.eye(C), np.full((K, K), 1.0 / K**2))


def relu_pool_backward_right(Z, dP):
    A = np.maximum(Z, 0)
    return maxpool_backward_right(A, 2, 2, dP) * (Z > 0)


# ---------------------------------------------------------------- wrong answers


def maxpool_all_ties(A, K, S, dP):
    dA = np.zeros_like(A)
    for u in range(dP.shape[0]):
        for v in range(dP.shape[1]):
            window = A[u * S : u * S + K, v * S : v * S + K]
            dA[u * S : u * S + K, v * S : v * S + K] += dP[u, v] * (window == window.max())
    return dA


def maxpool_last_tie(A, K, S, dP):
    dA = np.zeros_like(A)
    for u in range(dP.shape[0]):
        for v in range(dP.shape[1]):
            best, where = -np.inf, (0, 0)
            for i in range(K):
                for j in range(K):
                    if A[u * S + i, v * S + j] >= best:  # >=: a later tie replaces the winner
                        best, where = A[u * S + i, v * S + j], (i, j)
            dA[u * S + where[0], v * S + where[1]] += dP[u, v]
    return dA


def maxpool_overwrite(A, K, S, dP):
    dA = np.zeros_like(A)
    for u in range(dP.shape[0]):
        for v in range(dP.shape[1]):
            window = A[u * S : u * S + K, v * S : v * S + K]
            i, j = np.unravel_index(np.argmax(window), window.shape)
            dA[u * S + i, v * S + j] = dP[u, v]
    return dA


def maxpool_average(A, K, S, dP):
    dA = np.zeros_like(A)
    for u in range(dP.shape[0]):
        for v in range(dP.shape[1]):
            dA[u * S : u * S + K, v * S : v * S + K] += dP[u, v] / K**2
    return dA


def maxpool_returns_dP(A, K, S, dP):
    return dP


def maxpool_mutates(A, K, S, dP):
    A[...] = 0.0
    return maxpool_backward_right(A, K, S, dP)


def avgpool_ones(C, K):
    return avgpool_kernel_right(C, K) * K**2


def avgpool_mixes_channels(C, K):
    return np.full((C, C, K, K), 1.0 / K**2)


def avgpool_over_k(C, K):
    return avgpool_kernel_right(C, K) * K


def avgpool_2d(C, K):
    return np.full((K, K), 1.0 / K**2)


def relu_pool_no_mask(Z, dP):
    return maxpool_backward_right(np.maximum(Z, 0), 2, 2, dP)


def relu_pool_mask_at_zero(Z, dP):
    return maxpool_backward_right(np.maximum(Z, 0), 2, 2, dP) * (Z >= 0)


def relu_pool_raises(Z, dP):
    raise IndexError("index 4 is out of bounds for axis 0 with size 4")


def stub(*args):
    return None


# ---------------------------------------------------------------- tests


def test_right_answers_pass(capsys):
    assert ch04.check_maxpool_backward(maxpool_backward_right)
    assert ch04.check_avgpool_kernel(avgpool_kernel_right)
    assert ch04.check_relu_pool_backward(relu_pool_backward_right)
    assert capsys.readouterr().out.count("✓ all") == 3


def test_cnnlib_own_maxpool_backward_is_refused(capsys):
    """cnnlib's numbers are right, but calling its backward pass is not the exercise."""
    assert not ch04.check_maxpool_backward(maxpool_backward_cnnlib)
    assert "calls cnnlib.maxpool2d_backward" in capsys.readouterr().out


def test_avgpool_kernel_right_really_is_average_pooling():
    """The kernel the checker expects turns conv2d_forward into avgpool2d_forward (forward and backward)."""
    rng = np.random.default_rng(0)
    for C, K in [(1, 2), (3, 2), (2, 3)]:
        A = rng.standard_normal((2, C, 2 * K, 3 * K))
        W = avgpool_kernel_right(C, K)
        Z, conv_cache = cnnlib.conv2d_forward(A, W, np.zeros(C), stride=K)
        P, pool_cache = cnnlib.avgpool2d_forward(A, size=K)
        np.testing.assert_allclose(Z, P, rtol=1e-12, atol=1e-12)
        dP = rng.standard_normal(P.shape)
        np.testing.assert_allclose(
            cnnlib.conv2d_backward(dP, conv_cache)[0], cnnlib.avgpool2d_backward(dP, pool_cache), atol=1e-12
        )


@pytest.mark.parametrize(
    "fn, words",
    [
        (maxpool_all_ties, "every tied cell"),
        (maxpool_last_tie, "picked the last one"),
        (maxpool_overwrite, "SUM of their δP"),
        (maxpool_average, "average pooling's backward"),
        (maxpool_returns_dP, "has shape (2, 2), expected (4, 4)"),
        (maxpool_mutates, "modified its input arrays"),
        (stub, "not attempted yet"),
    ],
)
def test_maxpool_backward_rejects(fn, words, capsys):
    assert ch04.check_maxpool_backward(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (avgpool_ones, "not 1 (a sum)"),
        (avgpool_over_k, "not 1/R"),
        (avgpool_mixes_channels, "channel f only"),
        (avgpool_2d, "expected (1, 1, 2, 2)"),
        (stub, "not attempted yet"),
    ],
)
def test_avgpool_kernel_rejects(fn, words, capsys):
    assert ch04.check_avgpool_kernel(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (relu_pool_no_mask, "ReLU mask is missing"),
        (relu_pool_mask_at_zero, "not Z >= 0"),
        (relu_pool_raises, "raised IndexError"),
        (stub, "not attempted yet"),
    ],
)
def test_relu_pool_backward_rejects(fn, words, capsys):
    assert ch04.check_relu_pool_backward(fn).passed is False
    assert words in capsys.readouterr().out


def test_checker_cases_exercise_ties_and_overlaps():
    """The wrong answers above differ from the right one on the checkers' own cases (else they could not fail)."""
    for wrong in (maxpool_all_ties, maxpool_last_tie, maxpool_overwrite):
        assert not ch04.check_maxpool_backward(wrong)


def test_not_callable(capsys):
    assert not ch04.check_maxpool_backward(np.zeros((4, 4)))
    assert "pass your function itself" in capsys.readouterr().out

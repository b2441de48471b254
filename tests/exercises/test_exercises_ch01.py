"""cnnlib.exercises.ch01 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib
from cnnlib.exercises import ch01

# ---------------------------------------------------------------- right answers (as in 01_solutions)


def dense_backward_right(p, U, ds):
    return ds @ U, ds.T @ p, ds.sum(axis=0)


def dense_backward_loops(p, U, ds):
    N, Q = p.shape
    M = U.shape[0]
    dp, dU, dc = np.zeros((N, Q)), np.zeros((M, Q)), np.zeros(M)
    for n in range(N):
        for i in range(M):
            dc[i] += ds[n, i]
            for k in range(Q):
                dU[i, k] += ds[n, i] * p[n, k]
                dp[n, k] += ds[n, i] * U[i, k]
    return dp, dU, dc


def softmax_ce_right(s, y):
    N, M = s.shape
    shifted = s - s.max(axis=1, keepdims=True)
    log_yhat = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    Y = np.eye(M)[y]
    return -(Y * log_yhat).sum() / N, (np.exp(log_yhat) - Y) / N


def _bce(Z2, Y):
    A2 = cnnlib.sigmoid(Z2)
    return -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / Z2.shape[0]


def bce_fd_right(Z2, Y, h):
    g = np.zeros_like(Z2)
    for i in range(Z2.size):
        Zp, Zm = Z2.copy(), Z2.copy()
        Zp.flat[i] += h
        Zm.flat[i] -= h
        g.flat[i] = (_bce(Zp, Y) - _bce(Zm, Y)) / (2 * h)
    return g


def bce_fd_with_cnnlib_loss(Z2, Y, h):
    def loss(Z):
        return cnnlib.binary_cross_entropy(cnnlib.sigmoid(Z), Y)[0]

    return cnnlib.numerical_gradient(loss, Z2, h=h)


# ---------------------------------------------------------------- wrong answers


def stub(*args):
    return None


def dense_dU_transposed(p, U, ds):
    return ds @ U, p.T @ ds, ds.sum(axis=0)


def dense_dc_mean(p, U, ds):
    return ds @ U, ds.T @ p, ds.mean(axis=0)


def dense_dp_transposed_U(p, U, ds):
    dp = ds @ U.T if U.shape[0] == U.shape[1] else ds @ U
    return dp, ds.T @ p, ds.sum(axis=0)


def dense_dc_not_summed(p, U, ds):
    return ds @ U, ds.T @ p, ds


def dense_two_values(p, U, ds):
    return ds @ U, ds.T @ p


def dense_raises(p, U, ds):
    return p @ U, ds.T @ p, ds.sum(axis=0)  # (N, Q) @ (M, Q): a shape error inside the reader's code


def dense_mutates(p, U, ds):
    ds *= 1.0
    p += 0.0
    U[0, 0] = 0.0
    return dense_backward_right(p, U, ds)


def softmax_ce_naive_exp(s, y):
    N, M = s.shape
    e = np.exp(s)
    yhat = e / e.sum(axis=1, keepdims=True)
    Y = np.eye(M)[y]
    return -(Y * np.log(yhat)).sum() / N, (yhat - Y) / N


def softmax_ce_no_mean(s, y):
    L, ds = softmax_ce_right(s, y)
    return L, ds * s.shape[0]


def softmax_ce_summed(s, y):
    L, ds = softmax_ce_right(s, y)
    return L * s.shape[0], ds * s.shape[0]


def softmax_ce_sign(s, y):
    L, ds = softmax_ce_right(s, y)
    return L, -ds


def softmax_ce_yhat_only(s, y):
    L, _ = softmax_ce_right(s, y)
    return L, cnnlib.softmax(s) / s.shape[0]


def bce_fd_forward(Z2, Y, h):
    g = np.zeros_like(Z2)
    for i in range(Z2.size):
        Zp = Z2.copy()
        Zp.flat[i] += h
        g.flat[i] = (_bce(Zp, Y) - _bce(Z2, Y)) / h
    return g


def bce_fd_over_h(Z2, Y, h):
    return 2 * bce_fd_right(Z2, Y, h)


def bce_fd_summed(Z2, Y, h):
    return Z2.shape[0] * bce_fd_right(Z2, Y, h)


def bce_fd_sign(Z2, Y, h):
    return -bce_fd_right(Z2, Y, h)


def bce_fd_in_place(Z2, Y, h):
    g = np.zeros_like(Z2)
    for i in range(Z2.size):
        Z2.flat[i] += h  # perturbs the caller's array and never restores it
        up = _bce(Z2, Y)
        Z2.flat[i] -= 2 * h
        g.flat[i] = (up - _bce(Z2, Y)) / (2 * h)
    return g


def bce_fd_flat(Z2, Y, h):
    return bce_fd_right(Z2, Y, h).ravel()


# ---------------------------------------------------------------- tests


def test_right_answers_pass(capsys):
    assert ch01.check_dense_backward(dense_backward_right)
    assert ch01.check_dense_backward(dense_backward_loops)
    assert ch01.check_softmax_cross_entropy(softmax_ce_right)
    assert ch01.check_bce_finite_differences(bce_fd_right)
    assert ch01.check_bce_finite_differences(bce_fd_with_cnnlib_loss)
    out = capsys.readouterr().out
    assert out.count("✓ all") == 5
    assert "match (A2 - Y)/N" in out


def test_cnnlib_own_gradients_are_refused(capsys):
    """Right numbers from cnnlib's own backward pass are not an answer: the exercise is the derivation."""

    def via_cnnlib(p, U, ds):
        _, cache = cnnlib.dense_forward(p, U, np.zeros(U.shape[0]))
        return cnnlib.dense_backward(ds, cache)

    assert not ch01.check_dense_backward(via_cnnlib)
    assert not ch01.check_softmax_cross_entropy(cnnlib.softmax_cross_entropy)
    out = capsys.readouterr().out
    assert "calls cnnlib.dense_backward" in out and "calls cnnlib.softmax_cross_entropy" in out


def test_verdict_is_falsy_and_carries_the_message(capsys):
    verdict = ch01.check_dense_backward(dense_dU_transposed)
    assert not verdict
    assert "✗" in verdict.message and verdict.message in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (dense_dU_transposed, "dU must have U's shape (M, Q)"),
        (dense_dc_mean, "SUM of ds over the batch"),
        (dense_dp_transposed_U, "no transpose of U"),
        (dense_dc_not_summed, "dc must have shape (M,)"),
        (dense_two_values, "expected 3 values (dp, dU, dc), got 2"),
        (dense_raises, "your function raised ValueError"),
        (dense_mutates, "modified its input"),
        (stub, "not attempted yet"),
        ("my_dense_backward", "pass your function"),
    ],
)
def test_dense_backward_rejects(fn, words, capsys):
    assert not ch01.check_dense_backward(fn)
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (softmax_ce_naive_exp, "scores near ±1000"),
        (softmax_ce_no_mean, "missing the factor 1/N"),
        (softmax_ce_summed, "you summed over the batch"),
        (softmax_ce_sign, "sign of ds is flipped"),
        (softmax_ce_yhat_only, "subtract the one-hot labels"),
        (stub, "not attempted yet"),
    ],
)
def test_softmax_cross_entropy_rejects(fn, words, capsys):
    with np.errstate(over="ignore", invalid="ignore"):
        assert not ch01.check_softmax_cross_entropy(fn)
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (bce_fd_forward, "one-sided (forward) difference"),
        (bce_fd_over_h, "divide by 2h"),
        (bce_fd_summed, "average the loss over the batch"),
        (bce_fd_sign, "sign is flipped"),
        (bce_fd_in_place, "modified its input"),
        (bce_fd_flat, "has shape (1,), expected (1, 1)"),
        (stub, "not attempted yet"),
    ],
)
def test_bce_finite_differences_rejects(fn, words, capsys):
    assert not ch01.check_bce_finite_differences(fn)
    out = capsys.readouterr().out
    assert words in out
    assert "match (A2 - Y)/N" not in out


def test_forward_difference_fails_by_a_small_margin_only(capsys):
    """The one-sided difference is close (about 1e-6 off), so the checker's tolerance really is tight."""
    Z2, Y = np.array([[0.4]]), np.array([[1.0]])
    derived = (cnnlib.sigmoid(Z2) - Y) / 1
    gap = np.max(np.abs(bce_fd_forward(Z2, Y, 1e-5) - derived))
    assert 1e-7 < gap < 1e-5
    assert np.max(np.abs(bce_fd_right(Z2, Y, 1e-5) - derived)) < 1e-9

"""cnnlib.exercises.ch00: the setup check runs, and the checkers accept right answers and reject wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlib.exercises import ch00

# ---------------------------------------------------------------- right answers (as in 00_solutions)


def central_right(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def shapes_right(N, C, H, W, F, K, M):
    Hz, Wz = H - K + 1, W - K + 1
    Hp, Wp = Hz // 2, Wz // 2
    return {
        "Z": (N, F, Hz, Wz),
        "A": (N, F, Hz, Wz),
        "P": (N, F, Hp, Wp),
        "p": (N, F * Hp * Wp),
        "s": (N, M),
        "yhat": (N, M),
    }


# ---------------------------------------------------------------- wrong answers


def stub(*args):
    return None


def central_forward(f, x, h):
    return (f(x + h) - f(x)) / h


def central_backward(f, x, h):
    return (f(x) - f(x - h)) / h


def central_over_h(f, x, h):
    return (f(x + h) - f(x - h)) / h


def central_raises(f, x, h):
    return f([x])  # math.sin of a list


def shapes_no_batch(N, C, H, W, F, K, M):
    return {k: v[1:] for k, v in shapes_right(N, C, H, W, F, K, M).items()}


def shapes_channels_kept(N, C, H, W, F, K, M):
    d = shapes_right(N, C, H, W, F, K, M)
    d["Z"] = d["A"] = (N, C, H - K + 1, W - K + 1)
    return d


def shapes_off_by_one(N, C, H, W, F, K, M):
    d = shapes_right(N, C, H, W, F, K, M)
    d["Z"] = (N, F, H - K, W - K)
    return d


def shapes_ceil_pool(N, C, H, W, F, K, M):
    d = shapes_right(N, C, H, W, F, K, M)
    Hp, Wp = math.ceil((H - K + 1) / 2), math.ceil((W - K + 1) / 2)
    d["P"], d["p"] = (N, F, Hp, Wp), (N, F * Hp * Wp)
    return d


def shapes_one_channel_flat(N, C, H, W, F, K, M):
    d = shapes_right(N, C, H, W, F, K, M)
    d["p"] = (N, d["P"][2] * d["P"][3])
    return d


def shapes_missing_key(N, C, H, W, F, K, M):
    d = shapes_right(N, C, H, W, F, K, M)
    del d["yhat"]
    return d


def shapes_arrays(N, C, H, W, F, K, M):
    return {k: np.array(v) for k, v in shapes_right(N, C, H, W, F, K, M).items()}


# ---------------------------------------------------------------- tests


def test_check_setup_passes_here(capsys):
    assert ch00.check_setup()
    out = capsys.readouterr().out
    assert "✓ numpy" in out and "✓ cnnlib" in out and "Setup looks good" in out


def test_check_setup_reports_a_missing_package(monkeypatch, capsys):
    monkeypatch.setattr(ch00, "_PACKAGES", [*ch00._PACKAGES, ("no_such_package_for_the_book", "nothing")])
    assert not ch00.check_setup()
    out = capsys.readouterr().out
    assert "✗ no_such_package_for_the_book" in out and "Fix the ✗ lines" in out


def test_right_answers_pass(capsys):
    assert ch00.check_central_difference(central_right)
    assert ch00.check_seed003_shapes(shapes_right)
    assert capsys.readouterr().out.count("✓ all") == 2


@pytest.mark.parametrize(
    "fn, words",
    [
        (central_forward, "forward difference"),
        (central_backward, "backward difference"),
        (central_over_h, "divide by 2h"),
        (central_raises, "your function raised TypeError"),
        (stub, "not attempted yet"),
        (3.0, "pass your function"),
    ],
)
def test_central_difference_rejects(fn, words, capsys):
    assert not ch00.check_central_difference(fn)
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (shapes_no_batch, "the batch axis N comes first"),
        (shapes_channels_kept, "one map per filter"),
        (shapes_off_by_one, "H - K + 1"),
        (shapes_ceil_pool, "a leftover odd row is dropped"),
        (shapes_one_channel_flat, "flattening keeps every channel"),
        (shapes_missing_key, "no entry for yhat"),
        (shapes_arrays, "should be a tuple of ints"),
        (stub, "not attempted yet"),
        (None, "pass your function"),
    ],
)
def test_seed003_shapes_rejects(fn, words, capsys):
    assert not ch00.check_seed003_shapes(fn)
    assert words in capsys.readouterr().out


def test_seed003_reference_matches_a_forward_pass():
    """The shapes the checker expects are the shapes cnnlib's layers actually produce."""
    import cnnlib
    from cnnlib.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU

    N, C, H, W, F, K, M = 2, 3, 9, 7, 4, 2, 5
    X = np.random.default_rng(0).standard_normal((N, C, H, W))
    Z = Conv2D(C, F, K, seed=0).forward(X)
    A = ReLU().forward(Z)
    P = MaxPool2D(2).forward(A)
    p = Flatten().forward(P)
    s = Dense(p.shape[1], M, seed=0).forward(p)
    got = {"Z": Z.shape, "A": A.shape, "P": P.shape, "p": p.shape, "s": s.shape, "yhat": cnnlib.softmax(s).shape}
    assert got == shapes_right(N, C, H, W, F, K, M)

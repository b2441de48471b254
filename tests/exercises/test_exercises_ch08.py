"""cnnlib.exercises.ch08 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

import cnnlib
from cnnlib.exercises import ch08

# ---------------------------------------------------------------- right answers (as in 08_solutions)


def output_size_right(H, K, S, pad, D):
    return (H + 2 * pad - D * (K - 1) - 1) // S + 1


def dilate_right(stride, delta):
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    h, w = delta.shape
    out = np.zeros((sh * (h - 1) + 1, sw * (w - 1) + 1))
    out[::sh, ::sw] = delta
    return out


def strided_dX_right(W, input_shape, stride, dZ):
    full = signal.convolve2d(dilate_right(stride, dZ), W, mode="full")
    dX = np.zeros(input_shape)
    dX[: full.shape[0], : full.shape[1]] = full
    return dX


def strided_dX_loops(W, input_shape, stride, dZ):
    K = W.shape[0]
    dX = np.zeros(input_shape)
    for u in range(dZ.shape[0]):
        for v in range(dZ.shape[1]):
            dX[u * stride : u * stride + K, v * stride : v * stride + K] += dZ[u, v] * W
    return dX


def unread_rows_right(H, K, S, pad, D):
    Ho = (H + 2 * pad - D * (K - 1) - 1) // S + 1
    read = {u * S + i * D - pad for u in range(Ho) for i in range(K)}
    return [x for x in range(H) if x not in read]


def unread_rows_by_gradient(H, K, S, pad, D):
    # brute force: rows of dX that are zero for an all-ones kernel and delta
    # one column; the knobs act on the rows only
    X, W = np.zeros((1, 1, H, 1)), np.ones((1, 1, K, 1))
    Z, cache = cnnlib.conv2d_forward(X, W, np.zeros(1), stride=(S, 1), padding=(pad, 0), dilation=(D, 1))
    dX = cnnlib.conv2d_backward(np.ones_like(Z), cache)[0][0, 0, :, 0]
    return np.flatnonzero(dX == 0)  # an array, in any form the checker accepts


# ---------------------------------------------------------------- wrong answers


def output_size_no_dilation(H, K, S, pad, D):
    return (H + 2 * pad - K) // S + 1


def output_size_DK(H, K, S, pad, D):
    return (H + 2 * pad - D * K) // S + 1


def output_size_float(H, K, S, pad, D):
    return (H + 2 * pad - D * (K - 1) - 1) / S + 1


def output_size_ceil(H, K, S, pad, D):
    return -(-(H + 2 * pad - D * (K - 1) - 1) // S) + 1


def output_size_pad_once(H, K, S, pad, D):
    return (H + pad - D * (K - 1) - 1) // S + 1


def dilate_trailing(stride, delta):
    out = np.zeros((stride * delta.shape[0], stride * delta.shape[1])) if isinstance(stride, int) else None
    if out is None:
        return dilate_right(stride, delta)
    out[::stride, ::stride] = delta
    return out


def dilate_repeat(stride, delta):
    s = stride if isinstance(stride, int) else stride[0]
    rep = np.repeat(np.repeat(delta, s, axis=0), s, axis=1)
    return rep[: s * (delta.shape[0] - 1) + 1, : s * (delta.shape[1] - 1) + 1]


def dilate_rows_only(stride, delta):
    s = stride if isinstance(stride, int) else stride[0]
    out = np.zeros((s * (delta.shape[0] - 1) + 1, delta.shape[1]))
    out[::s] = delta
    return out


def dilate_axes_swapped(stride, delta):
    if isinstance(stride, int):
        return dilate_right(stride, delta)
    return dilate_right((stride[1], stride[0]), delta)


def dilate_in_place(stride, delta):
    out = dilate_right(stride, delta)
    delta *= 0  # modifies its input
    return out


def strided_dX_unflipped(W, input_shape, stride, dZ):
    return strided_dX_right(W[::-1, ::-1], input_shape, stride, dZ)


def strided_dX_no_dilation(W, input_shape, stride, dZ):
    full = signal.convolve2d(dZ, W, mode="full")
    dX = np.zeros(input_shape)
    h, w = min(full.shape[0], input_shape[0]), min(full.shape[1], input_shape[1])
    dX[:h, :w] = full[:h, :w]
    return dX


def strided_dX_uncropped(W, input_shape, stride, dZ):
    return signal.convolve2d(dilate_right(stride, dZ), W, mode="full")


def strided_dX_raises(W, input_shape, stride, dZ):
    return np.zeros(input_shape) + np.ones((2, 3, 4))  # a broadcasting error inside the reader's code


def unread_padded_numbering(H, K, S, pad, D):
    return [x + pad for x in unread_rows_right(H, K, S, pad, D)]


def unread_only_at_the_end(H, K, S, pad, D):
    rows = unread_rows_right(H, K, S, pad, D)
    Ho = (H + 2 * pad - D * (K - 1) - 1) // S + 1
    last = (Ho - 1) * S + (K - 1) * D - pad
    return [x for x in rows if x > last]


def unread_all_rows(H, K, S, pad, D):
    return list(range(H))


def unread_string(H, K, S, pad, D):
    return "5"


def unread_single_int(H, K, S, pad, D):
    return 5


def stub(*args):
    return None


# ---------------------------------------------------------------- tests


def test_right_answers_pass(capsys):
    assert ch08.check_output_size(output_size_right)
    assert ch08.check_dilate(dilate_right)
    assert ch08.check_strided_dX(strided_dX_right)
    assert ch08.check_strided_dX(strided_dX_loops)
    assert ch08.check_unread_rows(unread_rows_right)
    assert ch08.check_unread_rows(unread_rows_by_gradient)
    assert capsys.readouterr().out.count("✓ all") == 6


@pytest.mark.parametrize(
    "fn, words",
    [
        (output_size_no_dilation, "the dilation is missing"),
        (output_size_DK, "not D·K"),
        (output_size_float, "floor division"),
        (output_size_ceil, "round down, not up"),
        (output_size_pad_once, "added on both sides"),
        (stub, "not attempted yet"),
    ],
)
def test_output_size_rejects(fn, words, capsys):
    assert ch08.check_output_size(fn).passed is False
    assert words in capsys.readouterr().out


def test_output_size_wants_an_int(capsys):
    assert not ch08.check_output_size(lambda H, K, S, pad, D: float(output_size_right(H, K, S, pad, D)))
    assert "should be an int" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (dilate_trailing, "no trailing zeros"),
        (dilate_repeat, "instead of repeating"),
        (dilate_rows_only, "dilate along both axes"),
        (dilate_axes_swapped, "the first stride is for the rows"),
        (dilate_in_place, "modified its input"),
        (stub, "not attempted yet"),
    ],
)
def test_dilate_rejects(fn, words, capsys):
    assert ch08.check_dilate(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (strided_dX_unflipped, "rotated by 180°"),
        (strided_dX_no_dilation, "dilate δ first"),
        (strided_dX_uncropped, "never read by any window"),
        (strided_dX_raises, "your function raised ValueError"),
        (stub, "not attempted yet"),
    ],
)
def test_strided_dX_rejects(fn, words, capsys):
    assert ch08.check_strided_dX(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (unread_padded_numbering, "X's own numbering"),
        (unread_only_at_the_end, "rows inside the input can be skipped too"),
        (unread_all_rows, "row 0 is read: window row u=0 reads it with kernel row i=0"),
        (unread_string, "return a list of row indices"),
        (unread_single_int, "got the single int 5"),
        (stub, "not attempted yet"),
    ],
)
def test_unread_rows_rejects(fn, words, capsys):
    assert ch08.check_unread_rows(fn).passed is False
    assert words in capsys.readouterr().out


def test_unread_rows_not_callable(capsys):
    assert not ch08.check_unread_rows([5])
    assert "pass your function itself" in capsys.readouterr().out


def test_unread_rows_reports_missing_rows(capsys):
    assert not ch08.check_unread_rows(lambda H, K, S, pad, D: [])
    out = capsys.readouterr().out
    assert "case 1" in out and "row(s) [5] are never read" in out and "Expected [5]" in out


@pytest.mark.parametrize(
    "H, K, S, pad, D",
    [
        (6, 3, 2, 0, 1),
        (7, 2, 2, 0, 2),
        (10, 2, 3, 0, 1),
        (11, 3, 4, 2, 2),
        (9, 3, 3, 1, 1),
        (8, 3, 2, 1, 1),
        (9, 2, 2, 0, 3),
    ],
)
def test_unread_rows_reference_matches_zero_gradient_rows(H, K, S, pad, D):
    # the reference is what the chapter claims: exactly the rows of dX that are zero for every W and delta
    rng = np.random.default_rng(H * 100 + K * 10 + S)
    X = rng.standard_normal((1, 1, H, H))
    W = rng.uniform(0.5, 1.5, size=(1, 1, K, K))  # no zero weights, so a read row cannot cancel by accident
    Z, cache = cnnlib.conv2d_forward(X, W, np.zeros(1), stride=S, padding=pad, dilation=D)
    dX = cnnlib.conv2d_backward(rng.uniform(0.5, 1.5, size=Z.shape), cache)[0][0, 0]
    assert ch08.unread_rows(H, K, S, pad, D) == [x for x in range(H) if not dX[x].any()]


def test_unread_rows_gaps_beyond_gcd_and_wide_stride():
    # H=9, K=2, S=2, D=3: gcd(S, D) = 1 and S <= K, yet rows 1 and 6 are never read (row 8 is past the last window)
    assert ch08.unread_rows(9, 2, 2, 0, 3) == [1, 6, 8]


def test_unread_rows_checker_accepts_the_exact_rule():
    def by_rule(H, K, S, pad, D):
        Ho = (H + 2 * pad - D * (K - 1) - 1) // S + 1
        read = {u * S + i * D - pad for u in range(Ho) for i in range(K)}
        return [x for x in range(H) if x not in read]

    assert ch08.check_unread_rows(by_rule)


def test_unread_rows_checker_rejects_gaps_only_from_gcd_or_wide_stride(capsys):
    # the old statement: inside the input, rows are skipped only when S > K with D = 1, or gcd(S, D) > 1
    def old_statement(H, K, S, pad, D):
        Ho = (H + 2 * pad - D * (K - 1) - 1) // S + 1
        last = (Ho - 1) * S + D * (K - 1) - pad
        rows = ch08.unread_rows(H, K, S, pad, D)
        if (D == 1 and S > K) or math.gcd(S, D) > 1:
            return rows
        return [x for x in rows if x > last]

    assert not ch08.check_unread_rows(old_statement)
    assert "row(s) [1, 6] are never read" in capsys.readouterr().out

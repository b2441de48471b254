"""Checkers for the exercises of notebook 08 (stride, padding and dilation).

* :func:`check_output_size` — exercise 8.1: the output size with stride, padding and
  dilation, ``floor((H + 2·pad - D(K-1) - 1) / S) + 1`` (eq. 8.1);
* :func:`check_dilate` — exercise 8.2: the dilated upstream gradient, ``stride - 1``
  zeros between neighbouring entries (eq. 8.5);
* :func:`check_strided_dX` — exercise 8.3: the input gradient of a strided convolution
  as a full convolution of the dilated δ with the kernel (eq. 8.6), including the rows
  a stride never reaches;
* :func:`check_unread_rows` — exercise 8.4: which input rows no window reads, so that
  their gradient is zero whatever W and δ are (§8.6: row x is read if and only if
  x + pad = u·S + i·D for some output row u and kernel row i).

Each prints a verdict and returns a :class:`Verdict` (truthy when every case passed); none
raises because of your answer.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from ..conv import conv2d_backward, conv2d_forward, conv_output_size
from ._checking import Case, Verdict, cnnlib_backward, describe, is_int, run_cases

__all__ = ["check_output_size", "check_dilate", "check_strided_dX", "check_unread_rows", "unread_rows"]


def _rng():
    return np.random.default_rng(8008)


# --------------------------------------------------------------------------- 8.1 output size


def check_output_size(my_output_size) -> Verdict:
    """Exercise 8.1. ``my_output_size(H, K, S, pad, D) -> int`` (notebook 08, eq. 8.1).

    ``floor((H + 2·pad - D(K-1) - 1) / S) + 1``: input size H, kernel size K, stride S,
    padding pad, dilation D — the argument order of ``cnnlib.conv_output_size``.
    """
    grid = [  # (H, K, S, pad, D)
        (5, 2, 1, 0, 1),  # seed 000 -> 4
        (6, 3, 1, 0, 1),  # seed 002 -> 4
        (6, 3, 2, 0, 1),  # seed 002's sizes with stride 2 -> 2 (row 5 unread)
        (7, 3, 1, 0, 2),  # dilation: span 5 -> 3
        (7, 3, 1, 2, 2),  # 'same' padding for a dilated kernel -> 7
        (9, 3, 3, 1, 2),  # everything -> 3
        (28, 5, 2, 2, 1),  # -> 14
        (10, 3, 2, 0, 3),  # span 7 -> 2
        (8, 2, 3, 1, 4),  # span 5, the floor matters -> 2
        (4, 4, 1, 0, 1),  # kernel as large as the input -> 1
        (12, 3, 4, 3, 3),  # -> 3
    ]
    cases = []
    for H, K, S, pad, D in grid:
        expected = conv_output_size(H, K, S, pad, D)
        n = H + 2 * pad - D * (K - 1) - 1  # eq. (8.1) is n // S + 1
        no_dilation = (H + 2 * pad - K) // S + 1
        span_DK = (H + 2 * pad - D * K) // S + 1
        padded_once = (H + pad - D * (K - 1) - 1) // S + 1
        hints = {
            "the dilation is missing: a dilated kernel spans D(K - 1) + 1 cells, not K": no_dilation,
            "a dilated kernel spans D(K - 1) + 1 cells, not D·K (there are K - 1 gaps between K entries)": span_DK,
            "the padding pad is added on both sides, so the padded size is H + 2·pad": padded_once,
            "round down, not up: a last window that would stick out past the padded edge is dropped": -(-n // S) + 1,
            "use floor division: the count of window positions is a whole number": n / S + 1,
        }
        label = f"H={H}, K={K}, S={S}, pad={pad}, D={D}"
        cases.append(Case(label, (H, K, S, pad, D), expected, hints=hints, require=is_int))
    return run_cases(
        "check_output_size",
        my_output_size,
        cases,
        stub_hint="Fill in my_output_size(H, K, S, pad, D) so that it returns an int.",
    )


# --------------------------------------------------------------------------- 8.2 dilate


def _pair(stride):
    return (stride, stride) if isinstance(stride, numbers.Integral) else tuple(stride)


def _dilate(a, stride):
    """Reference for eq. (8.5): ``stride - 1`` zeros between neighbouring entries of a 2-D array."""
    sh, sw = _pair(stride)
    h, w = a.shape
    out = np.zeros((sh * (h - 1) + 1, sw * (w - 1) + 1), dtype=np.float64)
    out[::sh, ::sw] = a
    return out


def check_dilate(my_dilate) -> Verdict:
    """Exercise 8.2. ``my_dilate(stride, delta) -> array`` (notebook 08, eq. 8.5).

    ``stride`` an int or a pair (SH, SW); ``delta`` (h, w). Return the
    (SH(h-1)+1, SW(w-1)+1) array with ``delta[u, v]`` at ``(u*SH, v*SW)`` and zeros
    everywhere else.
    """
    rng = _rng()
    specs = [
        ("3×3 δ, stride 2", (3, 3), 2),
        ("2×4 δ, stride 3", (2, 4), 3),
        ("stride 1 leaves δ as it is", (3, 2), 1),
        ("a 1×1 δ stays 1×1", (1, 1), 4),
        ("stride (2, 3): different along rows and columns", (3, 3), (2, 3)),
    ]
    cases = []
    for label, shape, stride in specs:
        delta = rng.integers(1, 9, size=shape) * rng.choice([-1.0, 1.0], size=shape)  # no zeros in δ
        sh, sw = _pair(stride)
        expected = _dilate(delta, stride)
        h, w = shape
        trailing = np.kron(delta, np.pad(np.ones((1, 1)), ((0, sh - 1), (0, sw - 1))))  # (sh*h, sw*w)
        repeated = np.repeat(np.repeat(delta, sh, axis=0), sw, axis=1)[: sh * (h - 1) + 1, : sw * (w - 1) + 1]
        hints = {
            "the dilated δ ends with δ's last entry: its size is S(h - 1) + 1, not S·h (no trailing zeros)": trailing,
            "insert zeros between the entries instead of repeating each entry": repeated,
            "dilate along both axes: zeros go between neighbouring rows and between neighbouring columns": _dilate(
                delta, (sh, 1)
            ),
        }
        if sh != sw:
            hints["the first stride is for the rows (axis 0), the second for the columns (axis 1)"] = _dilate(
                delta, (sw, sh)
            )
        cases.append(Case(label, (stride, delta), expected, hints=hints))
    return run_cases(
        "check_dilate",
        my_dilate,
        cases,
        stub_hint="Fill in my_dilate(stride, delta) so that it returns the dilated array.",
    )


# --------------------------------------------------------------------------- 8.3 dX of a strided convolution


def _full_conv(a, k):
    """``scipy.signal.convolve2d(a, k, 'full')`` without scipy (the checker must not need it)."""
    h, w = a.shape
    kh, kw = k.shape
    out = np.zeros((h + kh - 1, w + kw - 1))
    for i in range(kh):
        for j in range(kw):
            out[i : i + h, j : j + w] += k[i, j] * a
    return out


def _embed(a, shape):
    """``a`` in the top-left corner of a zero array of ``shape`` (cropped if larger)."""
    out = np.zeros(shape)
    h, w = min(a.shape[0], shape[0]), min(a.shape[1], shape[1])
    out[:h, :w] = a[:h, :w]
    return out


def check_strided_dX(my_strided_dX) -> Verdict:
    """Exercise 8.3. ``my_strided_dX(W, input_shape, stride, dZ) -> dX`` (notebook 08, eq. 8.6).

    One channel, no padding, no dilation: W (K, K), input_shape (H, W_in), stride an
    int, dZ (H_out, W_out). Return dX with shape ``input_shape``: the full convolution
    of the dilated dZ with W, and zeros for the input rows and columns the stride never
    reached.
    """
    rng = _rng()
    specs = [
        ("7×7 input, 3×3 kernel, stride 2", (7, 7), 3, 2),
        ("6×6 input, stride 2: row and column 5 are never read", (6, 6), 3, 2),
        ("8×5 input, 2×2 kernel, stride 3 (column 2 is skipped)", (8, 5), 2, 3),
        ("stride 1: chapter 03's full convolution", (5, 5), 3, 1),
        ("4×9 input, 3×3 kernel, stride 3", (4, 9), 3, 3),
    ]
    cases = []
    for label, input_shape, K, S in specs:
        W = rng.integers(-3, 4, size=(K, K)).astype(float)
        W[0, -1] = 5.0  # never symmetric: a kernel that is not flipped gives a different answer
        X = np.zeros(input_shape)
        Z, cache = conv2d_forward(X[None, None], W[None, None], np.zeros(1), stride=S)
        dZ = rng.integers(-4, 5, size=Z.shape[2:]).astype(float)
        dZ[0, 0] = 2.5
        dX = conv2d_backward(dZ[None, None], cache)[0][0, 0]
        dZ_dil = _dilate(dZ, S)
        full = _full_conv(dZ_dil, W)
        hints = {
            "the kernel must be rotated by 180° (a full *convolution* of the dilated δ with W, as in chapter 03); "
            "yours used it unrotated": _embed(_full_conv(dZ_dil, W[::-1, ::-1]), input_shape),
            "dilate δ first: with stride S its entries sit S cells apart (eq. 8.5)": _embed(
                _full_conv(dZ, W), input_shape
            ),
        }
        if full.shape != input_shape:
            hints[
                f"the full convolution covers only {full.shape[0]}×{full.shape[1]} cells; the input's remaining rows "
                f"and columns were never read by any window and get zero gradient: add them (§8.6)"
            ] = full
        cases.append(Case(label, (W, input_shape, S, dZ), dX, hints=hints))
    return run_cases(
        "check_strided_dX",
        my_strided_dX,
        cases,
        stub_hint="Fill in my_strided_dX(W, input_shape, stride, dZ) so that it returns dX with shape input_shape.",
        forbidden=cnnlib_backward("conv"),
    )


# --------------------------------------------------------------------------- 8.4 unread rows


def unread_rows(H: int, K: int, S: int = 1, pad: int = 0, D: int = 1) -> list[int]:
    """Rows of X (0-based, X's own numbering) that no window of a convolution reads (notebook 08, §8.6).

    Window row u reads padded rows ``u*S + i*D`` for i = 0..K-1 (eq. 8.2); padded row x is
    row ``x - pad`` of X. So row x is read if and only if ``x + pad = u*S + i*D`` for some
    0 <= u < H_out and 0 <= i < K: the exact rule, with no shortcut through gcd(S, D) or
    S > K. Rows that are never read get zero gradient whatever W and δ are.
    """
    Ho = conv_output_size(H, K, S, pad, D)
    read = {u * S + i * D - pad for u in range(Ho) for i in range(K)}
    return [x for x in range(H) if x not in read]


def _as_rows(answer) -> tuple[list[int] | None, str | None]:
    """The reader's answer as a sorted list of distinct ints, or a sentence saying why it is not one."""
    if isinstance(answer, np.ndarray):
        answer = answer.tolist()
    if isinstance(answer, numbers.Integral) and not isinstance(answer, bool):
        return None, f"return a list of row indices (e.g. [{answer}]), got the single int {answer!r}"
    if isinstance(answer, str | bytes) or not hasattr(answer, "__iter__"):
        return None, f"return a list of row indices (ints), got {describe(answer)}"
    rows = []
    for x in answer:
        if isinstance(x, bool) or not isinstance(x, numbers.Integral | float | np.floating):
            return None, f"return a list of row indices (ints), but it contains {describe(x)}"
        if float(x) != int(x):
            return None, f"row indices are whole numbers, got {x!r}"
        rows.append(int(x))
    return sorted(set(rows)), None


def _reader(x: int, K: int, S: int, pad: int, D: int, Ho: int) -> str:
    """Which window and kernel row read row x of X (for the verdict)."""
    for u in range(Ho):
        for i in range(K):
            if u * S + i * D == x + pad:
                return f"window row u={u} reads it with kernel row i={i} (padded row {u}·{S} + {i}·{D} = {x + pad})"
    return ""


def check_unread_rows(my_unread_rows) -> Verdict:
    """Exercise 8.4. ``my_unread_rows(H, K, S, pad, D) -> list of ints`` (notebook 08, §8.6).

    The rows of X (0-based, in X's own numbering, not the padded one) that no window
    reads — equivalently, the rows whose gradient is zero for every W and δ. Any order;
    an empty list when every row is read.
    """
    grid = [  # (H, K, S, pad, D)
        (6, 3, 2, 0, 1),  # [5]: the floor drops the last window
        (7, 3, 2, 0, 1),  # []: the windows fit exactly
        (5, 3, 1, 1, 1),  # []: stride 1 reads everything
        (8, 3, 2, 1, 1),  # []: the unread padded row is padding
        (9, 3, 3, 1, 1),  # [8]
        (7, 2, 2, 0, 2),  # [1, 3, 5]: even rows only
        (10, 2, 3, 0, 1),  # [2, 5, 8, 9]: gaps between windows, and the end
        (11, 3, 4, 2, 2),  # [1, 3, 5, 7, 9]
        (9, 2, 2, 0, 3),  # [1, 6, 8]: gaps although gcd(S, D) = 1 and S <= K
    ]
    cases = []
    for args in grid:
        H, K, S, pad, D = args
        expected = unread_rows(*args)
        judge = functools.partial(_rows_problem, args, expected)
        cases.append(Case(f"H={H}, K={K}, S={S}, pad={pad}, D={D}", args, expected, judge=judge))
    return run_cases(
        "check_unread_rows",
        my_unread_rows,
        cases,
        stub_hint="Fill in my_unread_rows(H, K, S, pad, D) so that it returns a list of row indices.",
    )


def _rows_problem(args, expected, answer) -> str | None:
    """A ``Case.judge``: None if ``answer`` lists the ``expected`` unread rows, else what is wrong and a hint."""
    H, K, S, pad, D = args
    rows, problem = _as_rows(answer)
    if problem is not None:
        return problem
    if rows == expected:
        return None
    Ho = conv_output_size(H, K, S, pad, D)
    read_padded = sorted({u * S + i * D for u in range(Ho) for i in range(K)})
    unread_padded = [x for x in range(H + 2 * pad) if x not in read_padded]
    parts = []
    missing = [x for x in expected if x not in rows]
    extra = [x for x in rows if x not in expected]
    if missing:
        parts.append(f"row(s) {missing} are never read but missing from your list")
    if extra:
        outside = [x for x in extra if not 0 <= x < H]
        if outside:
            parts.append(f"row(s) {outside} do not exist: X has rows 0 to {H - 1}")
        inside = [x for x in extra if 0 <= x < H]
        if inside:
            parts.append(f"row {inside[0]} is read: " + _reader(inside[0], K, S, pad, D, Ho))
    msg = "; ".join(parts) + f". Expected {expected}."
    last = read_padded[-1] - pad  # the last row of X that a window reads
    hint = None
    if pad and rows in (unread_padded, [x for x in unread_padded if pad <= x < pad + H]):
        hint = f"give the rows in X's own numbering: padded row x is row x − pad of X (here pad = {pad})"
    elif any(x < last for x in expected) and rows == [x for x in expected if x > last]:
        hint = (
            "rows inside the input can be skipped too: row x is read only if x + pad = u·S + i·D for some "
            "window row u and kernel row i (§8.6)"
        )
    if hint:
        msg += f"\n  Hint: {hint}"
    return msg + f"\n  (The windows read padded rows {read_padded}.)"

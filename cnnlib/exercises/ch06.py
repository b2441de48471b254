"""Checkers for the exercises of notebook 06 (seed 002's network, end to end).

* :func:`check_num_parameters` — exercise 6.1: the number of trainable parameters of a
  seed-002-style network for other input sizes, kernels, strides and paddings;
* :func:`check_seed002_grads` — exercise 6.2: all four parameter gradients of seed 002's
  network for one image (dW1, dB1, dW2, dB2);
* :func:`check_batch_dW2` — exercise 6.3: dW2 and dB2 for a batch of N images in seed 002's
  layout (one column per image), i.e. ``(A2 - Y) Fᵀ / N``;
* :func:`check_conv_dW_strided` — exercise 6.4: the kernel gradient with padding and stride
  (pad X, spread δ out by the stride, cross-correlate).

Each prints a verdict and returns a :class:`~cnnlib.exercises._checking.Verdict` (truthy when
every case passed); none raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward, conv2d_forward, conv_output_size
from ..seeds import seed002_network
from ._checking import Case, Verdict, cnnlib_backward, is_int, run_cases

__all__ = [
    "check_num_parameters",
    "check_seed002_grads",
    "check_batch_dW2",
    "check_conv_dW_strided",
    "seed002_forward",
]


def _rng(offset: int = 0):
    return np.random.default_rng(6006 + offset)


# --------------------------------------------------------------------------- exercise 6.1


def _num_parameters(H, K, S, pad):
    Ho = conv_output_size(H, K, S, pad)  # conv output side
    Hp = Ho // 2  # 2×2 max-pool, stride 2 (floor)
    return K * K + 1 + Hp * Hp + 1


def check_num_parameters(my_num_parameters) -> Verdict:
    """Exercise 6.1. ``my_num_parameters(H, K, S, pad) -> int`` for seed 002's architecture.

    An H×H one-channel image, one K×K filter with a bias (stride S, padding pad), ReLU,
    2×2 max-pooling with stride 2 (a leftover row or column is dropped), flatten, and one
    sigmoid neuron with a weight per flattened entry and a bias. Seed 002 (H=6, K=3,
    S=1, pad=0) has 15. Notebook 06, §6.1.
    """
    grid = [  # (H, K, S, pad)
        (6, 3, 1, 0),  # seed 002 -> 15
        (6, 3, 1, 1),  # padding 1 (notebook 06, §6.8) -> 20
        (6, 3, 2, 2),  # stride 2 with padding 2 (§6.8) -> 15
        (7, 3, 1, 0),  # 5×5 map: max-pool drops the last row and column
        (28, 5, 1, 0),  # a 28×28 digit, 5×5 kernel
        (28, 5, 1, 2),  # 'same' padding
        (9, 2, 3, 0),
    ]
    cases = []
    for H, K, S, pad in grid:
        n = _num_parameters(H, K, S, pad)
        Ho = conv_output_size(H, K, S, pad)
        hints = {
            "the two biases are missing: B1 (one per filter) and B2 (one per output neuron) are trained too": n - 2,
            "the dense layer sees the pooled map, not the convolution output: flatten P1 (after max-pooling)": K * K
            + 1
            + Ho * Ho
            + 1,
            "max-pooling with a 2×2 window and stride 2 drops a leftover row and column: use Ho // 2": K * K
            + 1
            + (-(-Ho // 2)) ** 2
            + 1,
        }
        hints = {k: v for k, v in hints.items() if v != n}
        cases.append(Case(f"H={H}, K={K}, S={S}, pad={pad}", (H, K, S, pad), n, hints=hints, require=is_int))
    return run_cases(
        "check_num_parameters",
        my_num_parameters,
        cases,
        stub_hint="Fill in my_num_parameters(H, K, S, pad) so that it returns an int.",
    )


# --------------------------------------------------------------------------- exercise 6.2


def seed002_forward(X, W1, B1, W2, B2):
    """Seed 002's forward pass for one image: returns a dict of every intermediate (2-D / 1-D arrays).

    X (6, 6) → Z1 = X ⋆ W1 + B1 (4, 4) → A1 = ReLU(Z1) → P1 = max-pool 2×2 (2, 2) → F (4,)
    → Z2 = F·W2 + B2 → A2 = σ(Z2). W1 (3, 3), W2 (4, 1) as in the seed, B1 and B2 numbers.
    The network is ``cnnlib.seeds.seed002_network``, the one the chapter's explorer draws.
    """
    return seed002_network(X, W1, B1, W2, B2)


def _correlate(X, K):
    """X ⋆ K, a stride-1 cross-correlation of two 2-D arrays (eq. 3.2's dW1 = X ⋆ δZ1)."""
    return conv2d_forward(X[None, None], K[None, None], np.zeros(1))[0][0, 0]


def _seed002_grads(X, W1, B1, W2, B2, Y, *, variant=None):
    """Reference gradients (dW1 (3,3), dB1, dW2 (4,1), dB2); ``variant`` makes a typical mistake on purpose."""
    g = seed002_network(X, W1, B1, W2, B2, Y)
    dW1, dB1, dW2, dB2 = g["dW1"], g["dB1"], g["dW2"].reshape(np.shape(W2)), g["dB2"]
    if variant == "sigmoid twice":  # δZ2 multiplied by σ'(Z2) once more: every gradient is linear in δZ2
        k = g["A2"] * (1 - g["A2"])
        return dW1 * k, dB1 * k, dW2 * k, dB2 * k
    if variant == "convolve":  # the kernel flipped: a true convolution instead of eq. 3.2's correlation
        dW1 = _correlate(X, g["dZ1"][::-1, ::-1].copy())
    elif variant in ("no relu mask", "pool to all"):
        dA1 = np.kron(g["dP1"], np.ones((2, 2))) if variant == "pool to all" else g["dA1"]  # (4, 4)
        dZ1 = dA1 * (g["Z1"] > 0) if variant == "pool to all" else dA1  # (4, 4)
        dW1, dB1 = _correlate(X, dZ1), float(dZ1.sum())
    elif variant == "mean":
        dB1 = dB1 / 16
    return dW1, dB1, dW2, dB2


def _seed002_case(rng, dead_windows):
    """A random network and image away from ReLU kinks and max-pool ties (so every gradient is defined).

    ``dead_windows`` pooling windows have Z1 < 0 in all four cells: there the max-pool's winner is
    an A1 = 0 cell and only the ReLU mask stops its δ (elsewhere the winner has Z1 > 0).
    """
    while True:
        X = rng.uniform(0, 1, (6, 6)).round(2)
        W1 = rng.normal(0, 0.6, (3, 3)).round(2)
        B1 = float(rng.choice([-0.6, -0.4, -0.2]))
        W2 = rng.normal(0, 0.8, (4, 1)).round(2)
        B2 = round(float(rng.normal(0, 0.3)), 2)
        Y = int(rng.integers(0, 2))
        v = seed002_forward(X, W1, B1, W2, B2)
        blocks = v["Z1"].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)  # one row per window
        top2 = np.sort(blocks, axis=1)[:, -2:]
        dead = top2[:, 1] < 0
        clear = np.all(top2[dead, 1] < -0.02) and np.all(top2[~dead, 1] - top2[~dead, 0] > 0.02)
        if np.abs(v["Z1"]).min() > 0.02 and clear and dead.sum() == dead_windows and (v["Z1"] < 0).sum() >= 3:
            return X, W1, B1, W2, B2, Y


_DEAD = {
    0: "every pooling window has a positive maximum",
    1: "one pooling window is negative throughout",
    2: "two pooling windows are negative throughout",
}


def check_seed002_grads(my_seed002_grads) -> Verdict:
    """Exercise 6.2. ``my_seed002_grads(X, W1, B1, W2, B2, Y) -> (dW1, dB1, dW2, dB2)``.

    Seed 002's network for one image with binary cross-entropy: X (6, 6), W1 (3, 3), B1 a
    number, W2 (4, 1) (the seed's column), B2 a number, Y 0 or 1. Return dW1 (3, 3), dB1 a
    number, dW2 with W2's shape (4, 1) and dB2 a number. Notebook 06, §6.4.
    ``cnnlib.exercises.ch06.seed002_forward`` gives the forward intermediates if you want them.
    """
    rng = _rng(2)
    cases = []
    for k, dead in enumerate((1, 0, 2)):
        args = _seed002_case(rng, dead)
        expected = _seed002_grads(*args)
        dW1, dB1, dW2, dB2 = expected
        hints = {
            "dW1: this is a true convolution of X with δZ1 (δ rotated by 180°); the kernel gradient is the "
            "cross-correlation of X with δZ1 (eq. 3.2)": _seed002_grads(*args, variant="convolve"),
            "the ReLU mask is missing: δZ1 = δA1 ⊙ 1[Z1 > 0] (eq. 4.6)": _seed002_grads(*args, variant="no relu mask"),
            "max-pooling sends each δP1 to its window's winner only, not to all four cells (eq. 4.2)": _seed002_grads(
                *args, variant="pool to all"
            ),
            "dB1 is the sum of δZ1, not its mean: B1 is added at all 16 positions": _seed002_grads(
                *args, variant="mean"
            ),
            "the sigmoid's slope is counted twice: for sigmoid + binary cross-entropy, δZ2 = A2 − Y already "
            "contains it (eq. 1.8)": _seed002_grads(*args, variant="sigmoid twice"),
            "dW2 must have W2's shape (4, 1); yours is its transpose (seed 002 writes (A2 − Y)Fᵀ, a 1×4 row)": (
                dW1,
                dB1,
                dW2.T,
                dB2,
            ),
        }
        cases.append(
            Case(
                f"network {k + 1}, Y = {args[-1]}, {_DEAD[dead]}",
                args,
                expected,
                names=("dW1", "dB1", "dW2", "dB2"),
                hints=hints,
            )
        )
    return run_cases(
        "check_seed002_grads",
        my_seed002_grads,
        cases,
        stub_hint="Fill in my_seed002_grads(X, W1, B1, W2, B2, Y) so that it returns (dW1, dB1, dW2, dB2).",
        forbidden=cnnlib_backward("conv", "dense", "activations", "pool"),
    )


# --------------------------------------------------------------------------- exercise 6.3


def check_batch_dW2(my_batch_dW2) -> Verdict:
    """Exercise 6.3. ``my_batch_dW2(F, A2, Y) -> (dW2, dB2)`` in seed 002's layout (one column per image).

    F (4, N) flattened maps, A2 (1, N) predictions, Y (1, N) labels; the loss is the mean
    binary cross-entropy over the N images. Return dW2 as seed 002 writes it, a (1, 4) row
    ``(A2 - Y) Fᵀ / N``, and dB2 a number. Notebook 06, §6.7.
    """
    rng = _rng(3)
    cases = []
    for N in (1, 5, 3):
        F = rng.uniform(0, 1.5, (4, N)).round(2)
        A2 = rng.uniform(0.05, 0.95, (1, N)).round(3)
        Y = rng.integers(0, 2, (1, N)).astype(float)
        Y[0, 0] = 1.0 - np.round(A2[0, 0])  # at least one clear error
        E = A2 - Y  # (1, N)
        dW2, dB2 = E @ F.T / N, float(E.sum() / N)
        hints = {}
        if N > 1:
            hints["the loss is the mean over the N images: divide the sums by N"] = (dW2 * N, dB2 * N)
            hints["that is the first image only: every image contributes to dW2 (the product sums over N)"] = (
                E[:, :1] @ F[:, :1].T,
                float(E[0, 0]),
            )
        hints["seed 002's dW2 is the (1, 4) row (A2 − Y)Fᵀ / N; yours is its transpose"] = (dW2.T, dB2)
        cases.append(
            Case(f"N = {N} image{'s' if N > 1 else ''}", (F, A2, Y), (dW2, dB2), names=("dW2", "dB2"), hints=hints)
        )
    return run_cases(
        "check_batch_dW2",
        my_batch_dW2,
        cases,
        stub_hint="Fill in my_batch_dW2(F, A2, Y) so that it returns (dW2, dB2).",
        forbidden=cnnlib_backward("dense", "activations"),
    )


# --------------------------------------------------------------------------- exercise 6.4


def _dW_ref(X, K, S, pad, dZ):
    _, cache = conv2d_forward(X[None, None], np.zeros((1, 1, K, K)), np.zeros(1), stride=S, padding=pad)
    return conv2d_backward(dZ[None, None], cache)[1][0, 0]


def _dW_flipped(X, K, S, pad, dZ):
    """The dilated δ rotated by 180° (a true convolution)."""
    Ho, Wo = dZ.shape
    d = np.zeros(((Ho - 1) * S + 1, (Wo - 1) * S + 1))
    d[::S, ::S] = dZ
    Xp = np.pad(X, pad)[: (Ho - 1) * S + K, : (Wo - 1) * S + K]
    return conv2d_forward(Xp[None, None], d[::-1, ::-1].copy()[None, None], np.zeros(1))[0][0, 0]


def _dW_no_stride(X, K, S, pad, dZ):
    """Stride ignored: δ not spread out, correlated with the first rows and columns of the padded input."""
    Ho, Wo = dZ.shape
    Xp = np.pad(X, pad)[: Ho + K - 1, : Wo + K - 1]
    return conv2d_forward(Xp[None, None], dZ[None, None], np.zeros(1))[0][0, 0]


def check_conv_dW_strided(my_conv_dW) -> Verdict:
    """Exercise 6.4. ``my_conv_dW(X, K, S, pad, dZ) -> dW`` for one channel and one K×K filter.

    Forward: ``Z[u, v] = sum_{i,j} W[i, j] * Xpad[u*S + i, v*S + j] + b`` with Xpad = X zero-padded
    by pad on every side. X (H, W), dZ = δZ (Ho, Wo) with Ho = (H + 2·pad - K) // S + 1; return dW
    (K, K). Recipe (notebook 06, §6.8): pad X, insert S - 1 zeros between the entries of δZ, and
    cross-correlate; rows of Xpad that no window reaches play no part.
    """
    rng = _rng(4)
    specs = [
        ("seed 002: 6×6, K=3, stride 1, no padding", 6, 6, 3, 1, 0),
        ("padding 1 (6×6 → 6×6)", 6, 6, 3, 1, 1),
        ("stride 2, padding 2 (6×6 → 4×4)", 6, 6, 3, 2, 2),
        ("stride 2, no padding: the last row and column are never reached", 6, 6, 3, 2, 0),
        ("non-square 7×5 input, K=2, stride 3, padding 1", 7, 5, 2, 3, 1),
    ]
    cases = []
    for label, H, Wd, K, S, pad in specs:
        X = rng.integers(-3, 4, size=(H, Wd)).astype(float)
        X[0, 0] = 4.5
        Ho, Wo = conv_output_size(H, K, S, pad), conv_output_size(Wd, K, S, pad)
        dZ = rng.integers(-3, 4, size=(Ho, Wo)).astype(float)
        dZ[0, -1] = 2.5  # never symmetric
        dW = _dW_ref(X, K, S, pad, dZ)
        hints = {
            "this is a true convolution (δ rotated by 180°); the kernel gradient is a cross-correlation": _dW_flipped(
                X, K, S, pad, dZ
            ),
        }
        if S > 1:
            hints[
                "the stride is missing: output (u, v) saw the input at (u·S + i, v·S + j), so spread δZ out "
                f"with {S - 1} zero(s) between its entries before correlating"
            ] = _dW_no_stride(X, K, S, pad, dZ)
        hints = {k: v for k, v in hints.items() if not np.allclose(v, dW)}
        cases.append(Case(label, (X, K, S, pad, dZ), dW, hints=hints))
    return run_cases(
        "check_conv_dW_strided",
        my_conv_dW,
        cases,
        stub_hint="Fill in my_conv_dW(X, K, S, pad, dZ) so that it returns dW with shape (K, K).",
        forbidden=cnnlib_backward("conv"),
    )

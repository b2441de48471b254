"""Checkers for the exercises of notebook 07 (seed 003's network: channels, filters, softmax).

* :func:`check_conv_backward_channels` — exercise 7.1: seed 003's equations (1)-(3) for one
  image with C channels and F filters (dX, dW, db);
* :func:`check_weight_sharing_terms` — exercise 7.2: the per-position contributions whose
  sum is one kernel-gradient entry dW[f, c, i, j];
* :func:`check_seed003_grads` — exercise 7.3: every parameter gradient of seed 003's network
  (conv, ReLU, 2×2 max-pool, flatten, dense, softmax, cross-entropy) for a batch, mean loss.

Each prints a verdict and returns a :class:`~cnnlib.exercises._checking.Verdict` (truthy when
every case passed); none raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..activations import relu_backward, relu_forward
from ..conv import conv2d_backward, conv2d_forward
from ..dense import dense_backward, dense_forward, flatten_backward, flatten_forward
from ..losses import softmax_cross_entropy
from ..pool import maxpool2d_backward, maxpool2d_forward
from ._checking import Case, Verdict, cnnlib_backward, run_cases

__all__ = ["check_conv_backward_channels", "check_weight_sharing_terms", "check_seed003_grads"]


def _rng(offset: int = 0):
    return np.random.default_rng(7007 + offset)


# --------------------------------------------------------------------------- exercise 7.1


def _conv_grads(X, W, dZ):
    """Reference for one image: X (C, H, W), W (F, C, K, K), dZ (F, Ho, Wo) -> dX, dW, db."""
    _, cache = conv2d_forward(X[None], W, np.zeros(W.shape[0]))
    dX, dW, db = conv2d_backward(dZ[None], cache)
    return dX[0], dW, db


def _dW_convolved(X, dZ):
    """The mistake of a true convolution for eq. (2): out[f, c] = X[c] ⋆ rot180(dZ[f])."""
    flipped = dZ[:, None, ::-1, ::-1].copy()  # (F, 1, Ho, Wo)
    out, _ = conv2d_forward(X[:, None], flipped, np.zeros(dZ.shape[0]))  # (C, F, KH, KW): channels as a batch
    return out.transpose(1, 0, 2, 3)


def check_conv_backward_channels(my_conv_backward) -> Verdict:
    """Exercise 7.1. ``my_conv_backward(X, W, dZ) -> (dX, dW, db)`` for one image (stride 1, no padding).

    X (C, H, W), W (F, C, KH, KW), dZ = δZ (F, H-KH+1, W-KW+1); return dX (C, H, W),
    dW (F, C, KH, KW) and db (F,) by seed 003's equations (1)-(3), 0-based (notebook 07, §7.4):
    ``db[f] = Σ_{u,v} dZ[f,u,v]``, ``dW[f,c,i,j] = Σ_{u,v} dZ[f,u,v] X[c,u+i,v+j]``,
    ``dX[c,x,y] = Σ_f Σ_{i,j} dZ[f,x-i,y-j] W[f,c,i,j]`` (terms outside dZ left out).
    """
    rng = _rng(1)
    specs = [
        ("C=1 channel, F=1 filter, 3×3 kernel on 5×5", 1, 1, 5, 5, 3, 3),
        ("C=2 channels, F=2 filters (the chapter's sizes)", 2, 2, 6, 6, 3, 3),
        ("C=3 channels, F=2 filters, non-square", 3, 2, 5, 6, 2, 3),
        ("C=1 channel, F=3 filters", 1, 3, 4, 4, 2, 2),
    ]
    cases = []
    for label, C, F, H, Wd, KH, KW in specs:
        X = rng.integers(-3, 4, size=(C, H, Wd)).astype(float)
        W = rng.integers(-3, 4, size=(F, C, KH, KW)).astype(float)
        W[..., 0, 0] += 4.5  # never symmetric
        dZ = rng.integers(-3, 4, size=(F, H - KH + 1, Wd - KW + 1)).astype(float)
        dZ[:, 0, -1] = 1.5
        dX, dW, db = _conv_grads(X, W, dZ)
        hints = {
            "dX: each input cell feeds every filter, so sum eq. (3) over all F filters, not just one": (
                _conv_grads(X, W[:1], dZ[:1])[0],
                dW,
                db,
            ),
            "dX: the kernel must be rotated by 180° (a full convolution of δZ with W); yours used it unrotated": (
                _conv_grads(X, W[..., ::-1, ::-1].copy(), dZ)[0],
                dW,
                db,
            ),
            "dW: this is a true convolution of X with δZ (δ rotated by 180°); eq. (2) is a cross-correlation": (
                dX,
                _dW_convolved(X, dZ),
                db,
            ),
            "db[f] is the sum of δZ[f], not its mean: b[f] is added at every position": (dX, dW, db / dZ[0].size),
        }
        hints = {k: v for k, v in hints.items() if not all(np.allclose(a, e) for a, e in zip(v, (dX, dW, db)))}
        cases.append(Case(label, (X, W, dZ), (dX, dW, db), names=("dX", "dW", "db"), hints=hints))
    return run_cases(
        "check_conv_backward_channels",
        my_conv_backward,
        cases,
        stub_hint="Fill in my_conv_backward(X, W, dZ) so that it returns (dX, dW, db).",
        forbidden=cnnlib_backward("conv"),
    )


# --------------------------------------------------------------------------- exercise 7.2


def _terms(X, f, c, i, j, dZ):
    Ho, Wo = dZ.shape[1:]
    return dZ[f] * X[c, i : i + Ho, j : j + Wo]  # (Ho, Wo)


def _terms_or_none(X, f, c, i, j, dZ):
    Ho, Wo = dZ.shape[1:]
    if i + Ho > X.shape[1] or j + Wo > X.shape[2]:
        return None
    return _terms(X, f, c, i, j, dZ)


def check_weight_sharing_terms(my_terms) -> Verdict:
    """Exercise 7.2. ``my_terms(X, f, c, i, j, dZ) -> terms`` with ``terms[u, v] = dZ[f, u, v] * X[c, u+i, v+j]``.

    X (C, H, W), dZ (F, Ho, Wo) with stride 1 and no padding; ``terms`` has dZ[f]'s shape (Ho, Wo) and
    ``terms.sum()`` is the kernel gradient dW[f, c, i, j]: one term per position the shared weight
    was used at (notebook 07, §7.6).
    """
    rng = _rng(2)
    specs = [
        ("C=2, F=2, entry (f, c, i, j) = (1, 0, 2, 1)", 2, 2, 6, 6, 4, 4, (1, 0, 2, 1)),
        ("C=3, F=1, entry (0, 2, 0, 1)", 3, 1, 5, 5, 3, 3, (0, 2, 0, 1)),
        ("C=1, F=3, non-square, entry (2, 0, 1, 0)", 1, 3, 5, 6, 4, 4, (2, 0, 1, 0)),
    ]
    cases = []
    for label, C, F, H, Wd, Ho, Wo, idx in specs:
        X = rng.integers(-4, 5, size=(C, H, Wd)).astype(float)
        dZ = rng.integers(-3, 4, size=(F, Ho, Wo)).astype(float)
        dZ[:, 0, 0] = 2.5
        f, c, i, j = idx
        terms = _terms(X, f, c, i, j, dZ)
        hints = {
            "every term uses the input at (u + i, v + j), shifted by the kernel offset": _terms(X, f, c, 0, 0, dZ),
            "the offsets are swapped: row offset i goes with u, column offset j with v": _terms_or_none(
                X, f, c, j, i, dZ
            ),
            f"use input channel c = {c} (W[f, c] only ever touches channel c)": _terms(X, f, (c + 1) % C, i, j, dZ),
            f"use filter f = {f}'s δ (dW[f] only collects δZ[f])": _terms(X, (f + 1) % F, c, i, j, dZ),
            "return the (Ho, Wo) array of terms, not their sum (the sum is dW[f, c, i, j] itself)": terms.sum(),
        }
        hints = {k: v for k, v in hints.items() if v is not None and not np.allclose(v, terms)}
        cases.append(Case(label, (X, f, c, i, j, dZ), terms, hints=hints))
    return run_cases(
        "check_weight_sharing_terms",
        my_terms,
        cases,
        stub_hint="Fill in my_terms(X, f, c, i, j, dZ) so that it returns the (Ho, Wo) array of terms.",
        forbidden=cnnlib_backward("conv"),
    )


# --------------------------------------------------------------------------- exercise 7.3


def seed003_forward(X, W, b, U, c):
    """Seed 003's network on a batch: X (N, C, H, W) → Z → A → P (2×2 max-pool) → p → s = p Uᵀ + c.

    Returns a dict with Z, A, P (NCHW), p (N, Q), s (N, M) and yhat = softmax(s) (N, M).
    """
    Z, _ = conv2d_forward(X, W, b)
    A, _ = relu_forward(Z)
    P, _ = maxpool2d_forward(A, size=2, stride=2)
    p, _ = flatten_forward(P)
    s, _ = dense_forward(p, U, c)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return {"Z": Z, "A": A, "P": P, "p": p, "s": s, "yhat": e / e.sum(axis=1, keepdims=True)}


def _seed003_grads(X, W, b, U, c, y, *, variant=None):
    Z, c1 = conv2d_forward(X, W, b)
    A, c2 = relu_forward(Z)
    P, c3 = maxpool2d_forward(A, size=2, stride=2)
    p, c4 = flatten_forward(P)
    s, c5 = dense_forward(p, U, c)
    _, ds = softmax_cross_entropy(s, y)  # (ŷ - y) / N
    if variant == "sum":
        ds = ds * X.shape[0]
    elif variant == "sign":
        ds = -ds
    dp, dU, dc = dense_backward(ds, c5)
    dP = flatten_backward(dp, c4)
    dA = np.kron(dP, np.ones((1, 1, 2, 2))) if variant == "pool to all" else maxpool2d_backward(dP, c3)
    dZ = dA if variant == "no relu mask" else relu_backward(dA, c2)
    _, dW, db = conv2d_backward(dZ, c1)
    return dW, db, dU, dc


def _seed003_case(rng, N, C, F, M, dead):
    """A random network and batch away from ReLU kinks and max-pool ties, with ``dead`` all-negative windows."""
    H = 6
    while True:
        X = rng.uniform(0, 1, (N, C, H, H)).round(2)
        W = rng.normal(0, 0.5, (F, C, 3, 3)).round(2)
        b = rng.normal(0, 0.3, F).round(2)
        Q = F * 4  # the length of the flattened p
        U = rng.normal(0, 0.6, (M, Q)).round(2)
        c = rng.normal(0, 0.2, M).round(2)
        y = rng.integers(0, M, N)
        Z = seed003_forward(X, W, b, U, c)["Z"]
        blocks = Z.reshape(N, F, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4)
        top = np.sort(blocks, axis=1)
        is_dead = top[:, -1] < 0
        clear = np.all(top[is_dead, -1] < -0.02) and np.all(top[~is_dead, -1] - top[~is_dead, -2] > 0.02)
        if np.abs(Z).min() > 0.02 and clear and is_dead.sum() == dead:
            return X, W, b, U, c, y


def check_seed003_grads(my_seed003_grads) -> Verdict:
    """Exercise 7.3. ``my_seed003_grads(X, W, b, U, c, y) -> (dW, db, dU, dc)`` for a batch.

    Seed 003's network: X (N, C, 6, 6) → conv W (F, C, 3, 3) + b (F,) → ReLU → 2×2 max-pool,
    stride 2 → flatten p (N, Q), Q = 4F, in NCHW order (``P.reshape(N, -1)``) → s = p Uᵀ + c with U
    (M, Q), c (M,) → softmax → cross-entropy against integer labels y (N,), **averaged** over
    the N images. Return dW (F, C, 3, 3), db (F,), dU (M, Q), dc (M,). Notebook 07, §§7.4 and 7.9.
    ``cnnlib.exercises.ch07.seed003_forward`` gives the forward intermediates if you want them.
    """
    rng = _rng(3)
    specs = [
        ("one image, C=1, F=1, M=3 classes", 1, 1, 1, 3, 0),
        ("one image, C=2, F=2, M=3, one pooling window negative throughout", 1, 2, 2, 3, 1),
        ("a batch of N=3 images, C=2, F=2, M=4", 3, 2, 2, 4, 1),
        ("N=2, C=3 channels, F=1 filter, M=2", 2, 3, 1, 2, 0),
    ]
    cases = []
    for label, N, C, F, M, dead in specs:
        args = _seed003_case(rng, N, C, F, M, dead)
        expected = _seed003_grads(*args)
        hints = {
            "δs = ŷ − y, not y − ŷ: every gradient has the wrong sign": _seed003_grads(*args, variant="sign"),
            "max-pooling sends each δP to its window's winner only, not to all four cells": _seed003_grads(
                *args, variant="pool to all"
            ),
            "the ReLU mask is missing: δZ = δA ⊙ 1[Z > 0]": _seed003_grads(*args, variant="no relu mask"),
        }
        if N > 1:
            hints["the loss is the mean over the N images: δs = (ŷ − y) / N"] = _seed003_grads(*args, variant="sum")
        hints = {k: v for k, v in hints.items() if not all(np.allclose(a, e) for a, e in zip(v, expected))}
        cases.append(Case(label, args, expected, names=("dW", "db", "dU", "dc"), hints=hints))
    return run_cases(
        "check_seed003_grads",
        my_seed003_grads,
        cases,
        stub_hint="Fill in my_seed003_grads(X, W, b, U, c, y) so that it returns (dW, db, dU, dc).",
        forbidden=cnnlib_backward("conv", "dense", "activations", "pool", "softmax_cross_entropy"),
    )

"""The book's example networks, written once, from cnnlib's own layer functions.

* :func:`seed002_network` — seed 002's 15-parameter network (chapter 06): a 6×6 image,
  a 3×3 convolution with bias, ReLU, 2×2 max-pooling, flattening, one sigmoid neuron and
  binary cross-entropy; every value and (given a label) every gradient, by the seed's names.

The explorers (``cnnlib.widgets``) and the exercise checkers (``cnnlib.exercises``) use it,
so a picture and a checker can never disagree about what the network computes.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_array
from .activations import relu_backward, relu_forward, sigmoid_forward
from .conv import conv2d_backward, conv2d_forward
from .dense import dense_backward, dense_forward, flatten_backward, flatten_forward
from .losses import binary_cross_entropy_with_logits
from .pool import maxpool2d_backward, maxpool2d_forward

__all__ = ["seed002_network"]


def _shaped(fn, name, x, shape):
    arr = as_array(fn, name, x, finite=True).astype(np.float64, copy=False)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{fn}: {name} must have {int(np.prod(shape))} entries {shape}, got shape {arr.shape}")
    return arr.reshape(shape)


def seed002_network(X, W1, B1, W2, B2, Y=None) -> dict:
    """Seed 002's network for one image, forward and — when the label ``Y`` is given — backward.

    Chapter 06: X (6, 6) → Z1 = X ⋆ W1 + B1 (4, 4) → A1 = ReLU(Z1) → P1 = max-pool 2×2 (2, 2)
    → F = flatten(P1) (4,) → Z2 = F·W2 + B2 → A2 = σ(Z2) = ŷ → L = BCE(A2, Y), and back:
    δZ2 = A2 − Y (eq. 1.8), dW2 = δZ2·F, δF, δP1, δA1 (max-pool routing, eq. 4.2),
    δZ1 = δA1 ⊙ 1[Z1 > 0] (eq. 4.6), dW1 = X ⋆ δZ1 (eq. 3.2), dB1 = Σ δZ1 (eq. 3.1), δX.

    Arguments: X (6, 6) (or any shape with 36 entries), W1 (3, 3), B1 a number, W2 4 weights,
    B2 a number, Y 0 or 1 (or None for the forward pass only). Returns a dict of 2-D/1-D
    arrays and floats named as in the seed: X, W1, B1, W2, B2, Z1, A1, P1, F, Z2, A2 (and
    ``winners``, the A1 cell each P1 entry came from) and,
    with Y: Y, L, dZ2, dF, dW2, dB2, dP1, dA1, dZ1, dX, dW1, dB1.
    """
    fn = "seed002_network"
    X = _shaped(fn, "X", X, (6, 6))
    W1 = _shaped(fn, "W1", W1, (3, 3))
    W2 = _shaped(fn, "W2", W2, (4,))
    B1, B2 = float(B1), float(B2)
    Z1, c1 = conv2d_forward(X[None, None], W1[None, None], np.array([B1]))  # (1, 1, 4, 4)
    A1, c2 = relu_forward(Z1)  # (1, 1, 4, 4)
    P1, c3 = maxpool2d_forward(A1, size=2, stride=2)  # (1, 1, 2, 2)
    F, c4 = flatten_forward(P1)  # (1, 4)
    Z2, c5 = dense_forward(F, W2[None, :], np.array([B2]))  # (1, 1)
    A2, _ = sigmoid_forward(Z2)  # (1, 1)
    out = {
        "X": X,
        "W1": W1,
        "B1": B1,
        "W2": W2,
        "B2": B2,
        "Z1": Z1[0, 0],
        "A1": A1[0, 0],
        "P1": P1[0, 0],
        # the A1 cell each P1 entry came from (row-major over P1; first maximum on a tie)
        "winners": list(zip(c3.argmax_rows[0, 0].ravel().tolist(), c3.argmax_cols[0, 0].ravel().tolist())),
        "F": F[0],
        "Z2": float(Z2[0, 0]),
        "A2": float(A2[0, 0]),
    }
    if Y is None:
        return out
    if Y not in (0, 1):
        raise ValueError(f"{fn}: Y must be 0 or 1, got {Y!r}")
    L, dZ2 = binary_cross_entropy_with_logits(Z2, np.array([[float(Y)]]))  # δZ2 = A2 − Y: (1, 1)
    dF, dW2, dB2 = dense_backward(dZ2, c5)  # (1, 4), (1, 4), (1,)
    dP1 = flatten_backward(dF, c4)  # (1, 1, 2, 2)
    dA1 = maxpool2d_backward(dP1, c3)  # (1, 1, 4, 4)
    dZ1 = relu_backward(dA1, c2)  # (1, 1, 4, 4)
    dX, dW1, dB1 = conv2d_backward(dZ1, c1)  # (1, 1, 6, 6), (1, 1, 3, 3), (1,)
    out.update(
        Y=int(Y),
        L=float(L),
        dZ2=float(dZ2[0, 0]),
        dF=dF[0],
        dW2=dW2[0],
        dB2=float(dB2[0]),
        dP1=dP1[0, 0],
        dA1=dA1[0, 0],
        dZ1=dZ1[0, 0],
        dX=dX[0, 0],
        dW1=dW1[0, 0],
        dB1=float(dB1[0]),
    )
    return out

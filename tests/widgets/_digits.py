"""A small untrained digit classifier and random 8×8 images, for the digits explorer's tests."""

from __future__ import annotations

import numpy as np

from cnnlib import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential


def digits_data(n=24, seed=0):
    """(model, X (n, 1, 8, 8), y (n,)): notebook 09's architecture with 4 filters."""
    rng = np.random.default_rng(seed)
    model = Sequential(
        Conv2D(1, 4, 3, padding=1, seed=seed),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Dense(4 * 4 * 4, 10, seed=seed + 1),
    )
    X = rng.uniform(0, 1, size=(n, 1, 8, 8))
    y = rng.integers(0, 10, size=n)
    return model, X, y


def digits_explorer():
    from cnnlib.widgets import digits_explorer

    return digits_explorer(*digits_data())

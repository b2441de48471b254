"""What the widget tests share: every explorer by name, a control that moves each one's picture, and a
small untrained digit classifier with random 8×8 images for the digits explorer."""

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


def _all_explorers():
    from cnnlib import widgets as W

    return {
        "conv_forward": W.conv_forward_explorer,
        "conv_backward": lambda: W.conv_backward_explorer(hyper=True),  # every control
        "pool_backward": W.pool_backward_explorer,
        "pipeline": W.pipeline_explorer,
        "dense_softmax": W.dense_softmax_explorer,
        "channels": W.channels_explorer,
        "digits": digits_explorer,
        "im2col": W.im2col_explorer,
        "depth": W.depth_explorer,
        "conv_transpose": W.conv_transpose_explorer,
        "graph": W.graph_explorer,
    }


EXPLORERS = _all_explorers()

# a control that changes the picture in every explorer
MOVING_CONTROL = {
    "conv_forward": "position",
    "conv_backward": "row",
    "pool_backward": "window",
    "pipeline": "pixel value",
    "dense_softmax": "y",
    "digits": "digit",
    "im2col": "column",
    "depth": "depth",
    "conv_transpose": "row",
    "graph": "step",
}

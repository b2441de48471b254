"""Adam (notebook 11, eq. 11.16), with the interface of :class:`cnnlib.SGD`.

``Adam(model, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)``: ``model`` has
``parameters()`` and ``gradients()`` with the same keys (a layer or ``Sequential``);
``step()`` updates every parameter in place, as ``torch.optim.Adam`` does (L2 weight decay
added to the gradient, not decoupled as in AdamW)::

    g  <- dW + weight_decay * W
    m  <- beta1 m + (1 - beta1) g                 (m, v start at 0; t counts the steps)
    v  <- beta2 v + (1 - beta2) g^2
    W  <- W - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

Each parameter moves by about ``lr`` per step whatever the scale of its gradient: m / sqrt(v)
is of order 1. The two bias corrections undo the zero start of m and v.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["Adam"]


def _check_model(fn: str, model) -> None:
    if not (callable(getattr(model, "parameters", None)) and callable(getattr(model, "gradients", None))):
        raise TypeError(
            f"{fn}: model must have parameters() and gradients() (a layer or Sequential), got {type(model).__name__}"
        )


def _real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


class Adam:
    """Adam: a per-parameter step from running averages of the gradient and its square (notebook 11, eq. 11.16).

    ``Adam(model, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)`` matches
    ``torch.optim.Adam`` with the same arguments to float64 round-off. ``step()`` updates
    in place; ``t`` counts the steps taken; ``m`` and ``v`` hold the averages by name.
    """

    def __init__(self, model, lr, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        fn = "Adam"
        _check_model(fn, model)
        if not (_real(lr) and lr > 0):
            raise ValueError(f"{fn}: lr must be a positive finite number, got {lr!r}")
        if not (isinstance(betas, tuple | list) and len(betas) == 2 and all(_real(b) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"{fn}: betas must be a pair of numbers in [0, 1), got {betas!r}")
        if not (_real(eps) and eps > 0):
            raise ValueError(f"{fn}: eps must be a positive finite number, got {eps!r}")
        if not (_real(weight_decay) and weight_decay >= 0):
            raise ValueError(f"{fn}: weight_decay must be a non-negative finite number, got {weight_decay!r}")
        self.model = model
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self) -> None:
        params = self.model.parameters()
        grads = self.model.gradients()
        beta1, beta2 = self.betas
        for k, p in params.items():
            if grads[k].shape != p.shape:
                raise ValueError(
                    f"Adam.step: gradient of {k!r} has shape {grads[k].shape} but the parameter has {p.shape}"
                )
        self.t += 1
        step_size = self.lr / (1.0 - beta1**self.t)
        root2 = math.sqrt(1.0 - beta2**self.t)
        for k, p in params.items():
            g = grads[k]
            if self.weight_decay:
                g = g + self.weight_decay * p
            m = self.m.get(k)
            if m is None or m.shape != p.shape:
                m = self.m[k] = np.zeros_like(p)
                self.v[k] = np.zeros_like(p)
            v = self.v[k]
            m += (1.0 - beta1) * (g - m)  # = beta1 m + (1 - beta1) g
            v *= beta2
            v += (1.0 - beta2) * g * g
            p -= step_size * m / (np.sqrt(v) / root2 + self.eps)

    def zero_grad(self) -> None:
        self.model.zero_grad()

    def __repr__(self):
        wd = f", weight_decay={self.weight_decay:g}" if self.weight_decay else ""
        return f"Adam(lr={self.lr:g}, betas=({self.betas[0]:g}, {self.betas[1]:g}), eps={self.eps:g}{wd})"

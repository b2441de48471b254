"""Layers for deeper networks (notebook 11): :class:`BatchNorm2D`, :class:`Residual`, and :func:`set_training`.

Both follow the interface of :mod:`cnnlib.layers` (``forward`` / ``backward`` /
``parameters`` / ``gradients``), so they go into a :class:`~cnnlib.Sequential` like any other
layer::

    block = Residual(Sequential(Conv2D(8, 8, 3, padding=1, seed=0), BatchNorm2D(8), ReLU(),
                                Conv2D(8, 8, 3, padding=1, seed=1), BatchNorm2D(8)))
    set_training(model, False)      # evaluation: batch norm uses its running statistics
"""

from __future__ import annotations

import numpy as np

from . import batchnorm as _bn
from .layers import Layer, Sequential, _count, _float_dtype

__all__ = ["BatchNorm2D", "Residual", "set_training"]


class BatchNorm2D(Layer):
    """Spatial batch normalisation layer (notebook 11, eqs. 11.8-11.14).

    ``BatchNorm2D(num_channels, *, eps=1e-5, momentum=0.1, dtype=float64, fast=True)``

    Shapes: X (N, C, H, W) -> Y (N, C, H, W) with C = num_channels. Parameters ``"gamma"``
    (starts at 1) and ``"beta"`` (starts at 0), one per channel. ``training`` (True at first;
    see :func:`set_training`) chooses batch statistics or the running statistics
    ``running_mean`` (starts at 0) and ``running_var`` (starts at 1), which every training
    forward pass updates (with ``momentum``, as PyTorch's ``BatchNorm2d``). ``fast=False``
    uses the loop version, same numbers.
    """

    def __init__(self, num_channels, *, eps=1e-5, momentum=0.1, dtype=np.float64, fast: bool = True):
        fn = "BatchNorm2D"
        C = _count(fn, "num_channels", num_channels)
        dt = _float_dtype(fn, dtype)
        # the same checks as the functions, once here so that a bad eps fails at construction
        _bn._number(fn, "eps", eps, lo=0.0, hi=np.inf, lo_open=True)
        _bn._number(fn, "momentum", momentum, lo=0.0, hi=1.0, lo_open=False)
        self.num_channels = C
        self.eps, self.momentum = float(eps), float(momentum)
        self.gamma = np.ones(C, dtype=dt)  # (C,)
        self.beta = np.zeros(C, dtype=dt)  # (C,)
        self.dgamma = np.zeros_like(self.gamma)  # (C,)
        self.dbeta = np.zeros_like(self.beta)  # (C,)
        self.running_mean = np.zeros(C, dtype=dt)  # (C,)
        self.running_var = np.ones(C, dtype=dt)  # (C,)
        self.training = True
        self.fast = bool(fast)

    def forward(self, X):
        f = _bn.batchnorm2d_forward if self.fast else _bn.batchnorm2d_forward_naive
        Y, self._cache = f(
            X,
            self.gamma,
            self.beta,
            eps=self.eps,
            training=self.training,
            running_mean=self.running_mean,
            running_var=self.running_var,
            momentum=self.momentum,
        )
        if self.training:
            self.running_mean = np.array(self._cache.running_mean, dtype=self.gamma.dtype)  # (C,)
            self.running_var = np.array(self._cache.running_var, dtype=self.gamma.dtype)  # (C,)
        return Y  # (N, C, H, W)

    def backward(self, dY):
        cache = self._need_cache("BatchNorm2D.backward")
        f = _bn.batchnorm2d_backward if self.fast else _bn.batchnorm2d_backward_naive
        dX, dgamma, dbeta = f(dY, cache)
        self.dgamma = dgamma.astype(self.gamma.dtype, copy=False)  # (C,)
        self.dbeta = dbeta.astype(self.beta.dtype, copy=False)  # (C,)
        return dX  # (N, C, H, W)

    def parameters(self):
        return {"gamma": self.gamma, "beta": self.beta}

    def gradients(self):
        return {"gamma": self.dgamma, "beta": self.dbeta}

    def output_shape(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 4 or shape[1] != self.num_channels:
            raise ValueError(
                f"BatchNorm2D.output_shape: {self!r} expects (N, {self.num_channels}, H, W), got shape {shape}"
            )
        return shape

    def __repr__(self):
        mode = "" if self.training else ", eval"
        return f"BatchNorm2D({self.num_channels}{mode})"


class Residual(Layer):
    """A residual connection ``Y = F(X) + shortcut(X)`` (notebook 11, eqs. 11.6-11.7).

    ``Residual(block, shortcut=None)``: ``block`` is any layer (usually a ``Sequential``),
    ``shortcut`` None for the identity (then F(X) must have X's shape) or a layer that maps X
    to F(X)'s shape — a 1×1 projection ``Conv2D(C, F, 1, stride=S)`` when the block changes the
    number of channels or the size. Backward: ``dX = dX_F + dY`` for the identity (the
    identity path carries dY down unchanged), ``dX_F + shortcut.backward(dY)`` otherwise.
    Parameters are named ``"block.<name>"`` and ``"shortcut.<name>"``.
    """

    def __init__(self, block, shortcut=None):
        fn = "Residual"
        for name, layer in (("block", block), ("shortcut", shortcut)):
            if layer is None and name == "shortcut":
                continue
            if isinstance(layer, type):
                raise TypeError(
                    f"{fn}: {name} is the class {layer.__name__}, not an instance; write {layer.__name__}(...)"
                )
            if not isinstance(layer, Layer):
                raise TypeError(f"{fn}: {name} must be a cnnlib layer, got {type(layer).__name__}")
        self.block = block
        self.shortcut = shortcut

    def forward(self, X):
        FX = self.block.forward(X)
        if self.shortcut is None:
            X_shape = np.shape(X)
            if FX.shape != X_shape:
                raise ValueError(
                    f"Residual.forward: the block maps {X_shape} to {FX.shape}; an identity shortcut needs equal "
                    "shapes: pass shortcut=Conv2D(C, F, 1, stride=S), a 1×1 projection"
                )
            self._cache = True
            return FX + X  # eq. 11.6
        SX = self.shortcut.forward(X)
        if SX.shape != FX.shape:
            raise ValueError(f"Residual.forward: the block gives shape {FX.shape} but the shortcut {SX.shape}")
        self._cache = True
        return FX + SX

    def backward(self, dY):
        self._need_cache("Residual.backward")
        dX = self.block.backward(dY)  # the path through F
        if self.shortcut is None:
            return dX + dY  # eq. 11.7: the identity path adds dY unchanged
        return dX + self.shortcut.backward(dY)

    def parameters(self):
        out = {f"block.{k}": v for k, v in self.block.parameters().items()}
        if self.shortcut is not None:
            out.update({f"shortcut.{k}": v for k, v in self.shortcut.parameters().items()})
        return out

    def gradients(self):
        out = {f"block.{k}": v for k, v in self.block.gradients().items()}
        if self.shortcut is not None:
            out.update({f"shortcut.{k}": v for k, v in self.shortcut.gradients().items()})
        return out

    def zero_grad(self):
        self.block.zero_grad()
        if self.shortcut is not None:
            self.shortcut.zero_grad()

    def output_shape(self, input_shape):
        fn = "Residual.output_shape"
        shape = tuple(int(s) for s in input_shape)
        out = self.block.output_shape(shape)
        other = shape if self.shortcut is None else self.shortcut.output_shape(shape)
        if out != other:
            raise ValueError(f"{fn}: the block gives {out} but the shortcut {other} for an input of shape {shape}")
        return out

    def __repr__(self):
        def short(layer):
            if isinstance(layer, Sequential):
                return f"{len(layer)} layer{'' if len(layer) == 1 else 's'}"
            return repr(layer)

        extra = "" if self.shortcut is None else f", shortcut={short(self.shortcut)}"
        return f"Residual({short(self.block)}{extra})"


def set_training(model, training: bool = True):
    """Put every :class:`BatchNorm2D` inside ``model`` in training (True) or evaluation (False) mode; returns model.

    Walks ``Sequential`` containers and ``Residual`` blocks. Training mode normalises with
    the batch's statistics and updates the running ones; evaluation mode uses the running
    statistics, so a prediction does not depend on the other images of the batch.
    """
    if not isinstance(training, bool | np.bool_):
        raise TypeError(f"set_training: training must be True or False, got {training!r}")
    if not isinstance(model, Layer):
        raise TypeError(f"set_training: model must be a cnnlib layer, got {type(model).__name__}")
    stack = [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, BatchNorm2D):
            layer.training = bool(training)
        if isinstance(layer, Sequential):
            stack.extend(layer.layers)
        if isinstance(layer, Residual):
            stack.extend(x for x in (layer.block, layer.shortcut) if x is not None)
    return model

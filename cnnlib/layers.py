"""Layer objects for building networks from the functional API (notebooks 06, 07 and 09).

Each layer wraps one ``*_forward`` / ``*_backward`` pair of cnnlib and keeps what
the pair needs between the two passes:

* ``layer.forward(X)`` returns the output and stores the cache;
* ``layer.backward(dout)`` returns the gradient with respect to the layer's input
  and stores the gradients of its own parameters (they replace the previous ones,
  so no ``zero_grad`` is needed between steps; ``zero_grad()`` sets them to zero);
* ``layer.parameters()`` / ``layer.gradients()`` return dicts with the same keys
  (``"W"``, ``"b"`` for :class:`Conv2D`, ``"U"``, ``"c"`` for :class:`Dense`, in
  seed 003's notation), holding the live arrays: an optimizer updates them in place.

:class:`Sequential` chains layers and names parameters by position, ``"0.W"``,
``"0.b"``, ``"4.U"``, ... . The loss stays outside the model::

    model = Sequential(Conv2D(1, 8, 3, seed=0), ReLU(), MaxPool2D(2), Flatten(), Dense(8 * 13 * 13, 10, seed=1))
    opt = SGD(model, lr=0.1, momentum=0.9)
    s = model.forward(X)                       # (N, 10) scores
    L, ds = softmax_cross_entropy(s, y)        # loss and dL/ds
    model.backward(ds)                         # fills model.gradients()
    opt.step()                                 # W <- W - lr * dW (with momentum)

Initialisation (seeded): weights of :class:`Conv2D` and :class:`Dense` are drawn
from the He (Kaiming) normal distribution, ``N(0, 2 / fan_in)`` with
``fan_in = C*KH*KW`` (conv) or ``Q`` (dense), which keeps the variance of ReLU
activations roughly constant from layer to layer; biases start at zero.
"""

from __future__ import annotations

import math
import numbers
import sys

import numpy as np

from . import activations as _act
from . import conv as _conv
from . import dense as _dense
from . import global_pool as _gap
from . import pool as _pool
from . import transposed as _tconv
from . import upsample as _up
from ._validate import as_array, nonnegative_pair, positive_pair

__all__ = [
    "Layer",
    "Conv2D",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "MaxPool2D",
    "AvgPool2D",
    "Flatten",
    "Dense",
    "ConvTranspose2D",
    "GlobalAvgPool2D",
    "Upsample2D",
    "Sequential",
    "SGD",
    "train_step",
]


# --------------------------------------------------------------------------- helpers


def _count(fn: str, name: str, v) -> int:
    """A positive int (channels, features)."""
    if not isinstance(v, numbers.Integral) or isinstance(v, bool):
        raise TypeError(f"{fn}: {name} must be a positive int, got {v!r}")
    if v < 1:
        raise ValueError(f"{fn}: {name} must be a positive int, got {v!r}")
    return int(v)


def _rng(fn: str, seed) -> np.random.Generator:
    """``None`` (fresh entropy), an int seed, or a ``numpy.random.Generator`` (used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise TypeError(f"{fn}: seed must be None, a non-negative int or a numpy.random.Generator, got {seed!r}")


def _float_dtype(fn: str, dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fn}: dtype must be float64 or float32, got {dtype!r}") from None
    if dt not in (np.float64, np.float32):
        raise TypeError(f"{fn}: dtype must be float64 or float32, got {dt}")
    return dt


def _fmt_pair(v: tuple[int, int]) -> str:
    return str(v[0]) if v[0] == v[1] else str(tuple(v))


def _rewrap(exc: Exception, message: str) -> Exception:
    """The same kind of error with a message that says which layer of a network raised it."""
    try:
        return type(exc)(message)
    except Exception:  # an exception class with a different constructor
        return (TypeError if isinstance(exc, TypeError) else ValueError)(message)


def _shape4(fn: str, input_shape) -> tuple[int, int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 4:
        raise ValueError(f"{fn}: expects a 4-D input (N, C, H, W), got shape {shape}")
    return shape


# --------------------------------------------------------------------------- base class


class Layer:
    """Base class: ``forward``, ``backward``, and (for layers with weights) parameters and gradients.

    Subclasses set ``self._cache`` in ``forward`` and read it with ``self._need_cache``.
    """

    _cache = None

    def forward(self, X):  # pragma: no cover - every layer overrides it
        raise NotImplementedError

    def backward(self, dout):  # pragma: no cover - every layer overrides it
        raise NotImplementedError

    def __call__(self, X):
        return self.forward(X)

    def parameters(self) -> dict[str, np.ndarray]:
        """Trainable arrays by name (the live arrays, updated in place by an optimizer)."""
        return {}

    def gradients(self) -> dict[str, np.ndarray]:
        """dL/d(parameter) from the last ``backward``, same keys as ``parameters()``."""
        return {}

    def zero_grad(self) -> None:
        for g in self.gradients().values():
            g[...] = 0

    def num_parameters(self) -> int:
        return sum(int(p.size) for p in self.parameters().values())

    def output_shape(self, input_shape: tuple) -> tuple:
        """Shape of ``forward``'s output for an input of ``input_shape`` (no computation)."""
        return tuple(int(s) for s in input_shape)

    def _need_cache(self, fn: str):
        if self._cache is None:
            raise RuntimeError(f"{fn}: no forward pass to differentiate; call forward(X) first")
        return self._cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# --------------------------------------------------------------------------- layers with weights


class Conv2D(Layer):
    """2-D convolution layer: ``Z = conv(X, W) + b`` (notebook 02, eq. 2.3; notebook 03, eqs. 3.1-3.3).

    ``Conv2D(in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1,
    groups=1, seed=None, dtype=float64, fast=True)``

    Shapes: X (N, C, H, W) -> Z (N, F, H_out, W_out) with C = in_channels, F = out_channels,
    W (F, C/groups, KH, KW), b (F,). kernel_size, stride, padding, dilation: int or (h, w).
    ``groups`` splits the channels and filters into that many independent convolutions
    (notebook 12, eq. 12.12; groups = C is a depthwise convolution); it must divide C and F.
    Weights: He normal ``N(0, 2 / (C/groups*KH*KW))`` from ``seed`` (int or numpy Generator);
    bias zero. ``fast=False`` uses the loop version (``conv2d_forward_naive``), same numbers.
    Output size: notebook 08, eq. 8.1. Seed 003's §2.1 and equations (1)-(3).
    Parameters ``"W"``, ``"b"``; after ``backward`` their gradients are ``dW``, ``db``.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        *,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        seed=None,
        dtype=np.float64,
        fast: bool = True,
    ):
        fn = "Conv2D"
        self.groups = _count(fn, "groups", groups)
        self.in_channels = _count(fn, "in_channels", in_channels)
        self.out_channels = _count(fn, "out_channels", out_channels)
        self.kernel_size = positive_pair(fn, "kernel_size", kernel_size)
        self.stride = positive_pair(fn, "stride", stride)
        self.padding = nonnegative_pair(fn, "padding", padding)
        self.dilation = positive_pair(fn, "dilation", dilation)
        dt = _float_dtype(fn, dtype)
        rng = _rng(fn, seed)
        C, F = self.in_channels, self.out_channels
        if C % self.groups or F % self.groups:
            raise ValueError(f"{fn}: groups={self.groups} must divide in_channels={C} and out_channels={F}")
        C = C // self.groups  # channels each filter sees
        KH, KW = self.kernel_size
        fan_in = C * KH * KW
        self.W = (rng.standard_normal((F, C, KH, KW)) * math.sqrt(2.0 / fan_in)).astype(dt)  # (F, C/groups, KH, KW)
        self.b = np.zeros(F, dtype=dt)  # (F,)
        self.dW = np.zeros_like(self.W)  # (F, C, KH, KW)
        self.db = np.zeros_like(self.b)  # (F,)
        self.fast = bool(fast)

    def forward(self, X):
        f = _conv.conv2d_forward if self.fast else _conv.conv2d_forward_naive
        kw = {"groups": self.groups} if self.groups != 1 else {}
        Z, self._cache = f(X, self.W, self.b, stride=self.stride, padding=self.padding, dilation=self.dilation, **kw)
        return Z  # (N, F, H_out, W_out)

    def backward(self, dZ):
        cache = self._need_cache("Conv2D.backward")
        f = _conv.conv2d_backward if self.fast else _conv.conv2d_backward_naive
        dX, dW, db = f(dZ, cache)
        self.dW = dW.astype(self.W.dtype, copy=False)  # (F, C, KH, KW)
        self.db = db.astype(self.b.dtype, copy=False)  # (F,)
        return dX  # (N, C, H, W)

    def parameters(self):
        return {"W": self.W, "b": self.b}

    def gradients(self):
        return {"W": self.dW, "b": self.db}

    def output_shape(self, input_shape):
        fn = "Conv2D.output_shape"
        N, C, H, W = _shape4(fn, input_shape)
        if self.in_channels != C:
            raise ValueError(f"{fn}: {self!r} expects {self.in_channels} input channels, got shape {(N, C, H, W)}")
        KH, KW = self.W.shape[2:]
        (SH, SW), (pad_h, pad_w), (DH, DW) = self.stride, self.padding, self.dilation
        Ho = _conv.conv_output_size(H, KH, SH, pad_h, DH)
        Wo = _conv.conv_output_size(W, KW, SW, pad_w, DW)
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{fn}: {self!r} does not fit an input of shape {(N, C, H, W)}")
        return (N, self.W.shape[0], Ho, Wo)

    def __repr__(self):
        args = [str(self.in_channels), str(self.out_channels), f"kernel_size={_fmt_pair(self.kernel_size)}"]
        if self.stride != (1, 1):
            args.append(f"stride={_fmt_pair(self.stride)}")
        if self.padding != (0, 0):
            args.append(f"padding={_fmt_pair(self.padding)}")
        if self.dilation != (1, 1):
            args.append(f"dilation={_fmt_pair(self.dilation)}")
        if self.groups != 1:
            args.append(f"groups={self.groups}")
        if not self.fast:
            args.append("fast=False")
        return f"Conv2D({', '.join(args)})"


class Dense(Layer):
    """Fully connected layer: ``s = p U^T + c`` (notebook 01, eqs. 1.1-1.2; seed 003 §2.4 and §3.2).

    ``Dense(in_features, out_features, *, seed=None, dtype=float64)``

    Shapes: p (N, Q) -> s (N, M) with Q = in_features, M = out_features, U (M, Q), c (M,).
    Weights: He normal ``N(0, 2 / Q)`` from ``seed``; bias zero. Parameters ``"U"``, ``"c"``.
    """

    def __init__(self, in_features, out_features, *, seed=None, dtype=np.float64):
        fn = "Dense"
        self.in_features = _count(fn, "in_features", in_features)
        self.out_features = _count(fn, "out_features", out_features)
        dt = _float_dtype(fn, dtype)
        rng = _rng(fn, seed)
        Q, M = self.in_features, self.out_features
        self.U = (rng.standard_normal((M, Q)) * math.sqrt(2.0 / Q)).astype(dt)  # (M, Q)
        self.c = np.zeros(M, dtype=dt)  # (M,)
        self.dU = np.zeros_like(self.U)  # (M, Q)
        self.dc = np.zeros_like(self.c)  # (M,)

    def forward(self, p):
        s, self._cache = _dense.dense_forward(p, self.U, self.c)
        return s  # (N, M)

    def backward(self, ds):
        cache = self._need_cache("Dense.backward")
        dp, dU, dc = _dense.dense_backward(ds, cache)
        self.dU = dU.astype(self.U.dtype, copy=False)  # (M, Q)
        self.dc = dc.astype(self.c.dtype, copy=False)  # (M,)
        return dp  # (N, Q)

    def parameters(self):
        return {"U": self.U, "c": self.c}

    def gradients(self):
        return {"U": self.dU, "c": self.dc}

    def output_shape(self, input_shape):
        fn = "Dense.output_shape"
        shape = tuple(int(s) for s in input_shape)
        Q = self.U.shape[1]
        if len(shape) != 2 or shape[1] != Q:
            hint = " (add a Flatten() before it)" if len(shape) > 2 else ""
            raise ValueError(f"{fn}: {self!r} expects input of shape (N, {Q}), got {shape}{hint}")
        return (shape[0], self.U.shape[0])

    def __repr__(self):
        return f"Dense({self.in_features}, {self.out_features})"


# --------------------------------------------------------------------------- layers without weights


class _Elementwise(Layer):
    """A layer that applies one activation's forward / backward pair of cnnlib.activations."""

    forward_fn = backward_fn = None  # set by each subclass: staticmethod(_act.relu_forward), ...

    def forward(self, Z):
        A, self._cache = self.forward_fn(Z)
        return A

    def backward(self, dA):
        cache = self._need_cache(f"{type(self).__name__}.backward")
        return self.backward_fn(dA, cache)


class ReLU(_Elementwise):
    """``A = max(0, Z)``; backward ``dZ = dA * 1{Z > 0}`` (notebook 04, eqs. 4.5-4.6; seed 003 §3.4)."""

    forward_fn, backward_fn = staticmethod(_act.relu_forward), staticmethod(_act.relu_backward)


class Sigmoid(_Elementwise):
    """``A = 1 / (1 + exp(-Z))``; backward ``dZ = dA * A (1 - A)`` (notebook 04, eqs. 4.7-4.8; seed 002's output)."""

    forward_fn, backward_fn = staticmethod(_act.sigmoid_forward), staticmethod(_act.sigmoid_backward)


class Tanh(_Elementwise):
    """``A = tanh(Z)``; backward ``dZ = dA * (1 - A^2)`` (notebook 04, eqs. 4.9-4.10)."""

    forward_fn, backward_fn = staticmethod(_act.tanh_forward), staticmethod(_act.tanh_backward)


class _Pool2D(Layer):
    """A pooling layer: the fast forward / backward pair of cnnlib.pool, or the loops with ``fast=False``."""

    # set by each subclass: (forward, backward) of the fast version and of the loop version
    fast_fns = loop_fns = (None, None)

    def __init__(self, size=2, stride=None, padding=0, *, fast: bool = True):
        fn = type(self).__name__
        self.size = positive_pair(fn, "size", size)
        self.stride = self.size if stride is None else positive_pair(fn, "stride", stride)
        self.padding = nonnegative_pair(fn, "padding", padding)
        if 2 * self.padding[0] > self.size[0] or 2 * self.padding[1] > self.size[1]:
            raise ValueError(
                f"{fn}: padding must be at most half the window size, got padding={padding} for size={size}"
            )
        self.fast = bool(fast)

    def forward(self, A):
        forward_fn, _ = self.fast_fns if self.fast else self.loop_fns
        P, self._cache = forward_fn(A, size=self.size, stride=self.stride, padding=self.padding)
        return P  # (N, C, H_out, W_out)

    def backward(self, dP):
        cache = self._need_cache(f"{type(self).__name__}.backward")
        _, backward_fn = self.fast_fns if self.fast else self.loop_fns
        return backward_fn(dP, cache)  # (N, C, H, W)

    def output_shape(self, input_shape):
        fn = f"{type(self).__name__}.output_shape"
        N, C, H, W = _shape4(fn, input_shape)
        (KH, KW), (SH, SW), (pad_h, pad_w) = self.size, self.stride, self.padding
        if H + 2 * pad_h < KH or W + 2 * pad_w < KW:
            raise ValueError(f"{fn}: {self!r} does not fit an input of shape {(N, C, H, W)}")
        return (N, C, _pool.pool_output_size(H, KH, SH, pad_h), _pool.pool_output_size(W, KW, SW, pad_w))

    def __repr__(self):
        args = [f"size={_fmt_pair(self.size)}"]
        if self.stride != self.size:
            args.append(f"stride={_fmt_pair(self.stride)}")
        if self.padding != (0, 0):
            args.append(f"padding={_fmt_pair(self.padding)}")
        if not self.fast:
            args.append("fast=False")
        return f"{type(self).__name__}({', '.join(args)})"


class MaxPool2D(_Pool2D):
    """Max-pooling layer (notebook 04, eqs. 4.1-4.2; seed 003 §2.3 and §3.3): the gradient goes to the winners.

    ``MaxPool2D(size=2, stride=None, padding=0, *, fast=True)``; stride None means stride = size.
    Ties: the first maximum in row-major order takes the gradient (PyTorch's rule).
    """

    fast_fns = (_pool.maxpool2d_forward, _pool.maxpool2d_backward)
    loop_fns = (_pool.maxpool2d_forward_naive, _pool.maxpool2d_backward_naive)


class AvgPool2D(_Pool2D):
    """Average-pooling layer (notebook 04, eqs. 4.3-4.4): each input cell gets ``dP / (KH*KW)`` per window.

    ``AvgPool2D(size=2, stride=None, padding=0, *, fast=True)``; padding counts in the average.
    """

    fast_fns = (_pool.avgpool2d_forward, _pool.avgpool2d_backward)
    loop_fns = (_pool.avgpool2d_forward_naive, _pool.avgpool2d_backward_naive)


class Flatten(Layer):
    """``p = P.reshape(N, -1)`` and back (notebook 06; seed 002's Flatten, seed 003's p)."""

    def forward(self, P):
        p, self._cache = _dense.flatten_forward(P)
        return p  # (N, C*H*W)

    def backward(self, dp):
        cache = self._need_cache("Flatten.backward")
        return _dense.flatten_backward(dp, cache)  # (N, C, H, W)

    def output_shape(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        if len(shape) < 2:
            raise ValueError(f"Flatten.output_shape: expects (N, ...) with at least 2 axes, got {shape}")
        return (shape[0], math.prod(shape[1:]))


# --------------------------------------------------------------------------- containers


class Sequential(Layer):
    """A chain of layers: ``forward`` runs them in order, ``backward`` in reverse (notebooks 06, 09).

    ``Sequential(layer0, layer1, ...)`` (a single list of layers is accepted too).
    ``parameters()`` / ``gradients()`` name each array by the layer's position and its
    own name: ``{"0.W": ..., "0.b": ..., "4.U": ..., "4.c": ...}``. ``num_parameters()``
    counts trainable numbers (seed 002's network has 15); ``summary(input_shape)``
    prints every stage's output shape. ``model[i]`` is the i-th layer.
    """

    def __init__(self, *layers):
        fn = "Sequential"
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError(f"{fn}: needs at least one layer, got none")
        for i, layer in enumerate(layers):
            if isinstance(layer, type) and issubclass(layer, Layer):
                raise TypeError(
                    f"{fn}: layer {i} is the class {layer.__name__}, not an instance; write {layer.__name__}(...)"
                )
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"{fn}: layer {i} must be a cnnlib layer (an instance of a Layer subclass), "
                    f"got {type(layer).__name__}"
                )
        self.layers = list(layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def forward(self, X):
        out = X
        for i, layer in enumerate(self.layers):
            try:
                out = layer.forward(out)
            except (ValueError, TypeError) as exc:
                shape = getattr(out, "shape", type(out).__name__)
                raise _rewrap(
                    exc, f"Sequential.forward: layer {i} {layer!r} got input of shape {shape}: {exc}"
                ) from exc
        return out

    def backward(self, dout):
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            try:
                dout = layer.backward(dout)
            except (ValueError, TypeError) as exc:
                raise _rewrap(exc, f"Sequential.backward: layer {i} {layer!r}: {exc}") from exc
        return dout

    def parameters(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.parameters().items()}

    def gradients(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.gradients().items()}

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def output_shape(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def _rows(self):
        rows = []
        for i, layer in enumerate(self.layers):
            params = ", ".join(f"{k} {tuple(v.shape)}" for k, v in layer.parameters().items())
            rows.append((f"({i}): {layer!r}", params, layer.num_parameters()))
        return rows

    def __repr__(self):
        rows = self._rows()
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        lines = ["Sequential("]
        for name, params, count in rows:
            line = f"  {name:<{w0}}"
            if count:
                line += f"  {params:<{w1}}  {count:>6,} parameters"
            lines.append(line.rstrip())
        lines.append(f")  # {self.num_parameters():,} trainable parameters")
        return "\n".join(lines)

    def summary(self, input_shape, *, file=None) -> None:
        """Print each layer's output shape and parameter count for an input of ``input_shape`` (N, C, H, W).

        Shapes are computed without running the network (from the size formulas of
        notebook 08). Raises ``ValueError`` naming the first layer that does not fit.
        """
        file = sys.stdout if file is None else file
        shape = tuple(int(s) for s in input_shape)
        table = [("input", str(shape), "")]
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as exc:
                raise ValueError(f"Sequential.summary: layer {i} {layer!r} cannot take shape {shape}: {exc}") from exc
            n = layer.num_parameters()
            table.append((f"({i}) {layer!r}", str(shape), f"{n:,}" if n else "-"))
        w0 = max(len(r[0]) for r in table + [("layer", "", "")])
        w1 = max(len(r[1]) for r in table + [("", "output shape", "")])
        w2 = max(len(r[2]) for r in table + [("", "", "parameters")])
        rule = "-" * (w0 + w1 + w2 + 4)
        print(f"{'layer':<{w0}}  {'output shape':<{w1}}  {'parameters':>{w2}}", file=file)
        print(rule, file=file)
        for a, b, c in table:
            print(f"{a:<{w0}}  {b:<{w1}}  {c:>{w2}}".rstrip(), file=file)
        print(rule, file=file)
        print(f"total trainable parameters: {self.num_parameters():,}", file=file)


# --------------------------------------------------------------------------- optimizer


class SGD:
    """Stochastic gradient descent, optionally with momentum (notebook 09, eqs. 9.1-9.2) and L2 weight decay.

    ``SGD(model, lr, momentum=0.0, weight_decay=0.0)``: ``model`` is a layer or :class:`Sequential`
    (anything with ``parameters()`` and ``gradients()`` sharing keys). ``step()``
    updates every parameter in place::

        v <- momentum * v - lr * dW        (v starts at 0)
        W <- W + v

    which for ``momentum=0`` is plain ``W <- W - lr * dW``. ``weight_decay`` adds
    ``weight_decay * W`` to dW first, the gradient of ``weight_decay/2 * ||W||^2`` (notebook 11,
    eq. 11.17), as ``torch.optim.SGD`` does.
    """

    def __init__(self, model, lr, momentum: float = 0.0, weight_decay: float = 0.0):
        fn = "SGD"
        if not (callable(getattr(model, "parameters", None)) and callable(getattr(model, "gradients", None))):
            raise TypeError(
                f"{fn}: model must have parameters() and gradients() (a layer or Sequential), "
                f"got {type(model).__name__}"
            )
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"{fn}: lr must be a positive finite number, got {lr!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not (0 <= momentum < 1):
            raise ValueError(f"{fn}: momentum must be a number in [0, 1), got {momentum!r}")
        if (
            isinstance(weight_decay, bool)
            or not isinstance(weight_decay, numbers.Real)
            or not (math.isfinite(weight_decay) and weight_decay >= 0)
        ):
            raise ValueError(f"{fn}: weight_decay must be a non-negative finite number, got {weight_decay!r}")
        self.model = model
        self.weight_decay = float(weight_decay)
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.velocity: dict[str, np.ndarray] = {}

    def step(self) -> None:
        params = self.model.parameters()
        grads = self.model.gradients()
        for k, p in params.items():
            g = grads[k]
            if g.shape != p.shape:
                raise ValueError(f"SGD.step: gradient of {k!r} has shape {g.shape} but the parameter has {p.shape}")
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                v = self.velocity.get(k)
                if v is None or v.shape != p.shape:
                    v = self.velocity[k] = np.zeros_like(p)
                v *= self.momentum
                v -= self.lr * g
                p += v
            else:
                p -= self.lr * g

    def zero_grad(self) -> None:
        self.model.zero_grad()

    def __repr__(self):
        wd = f", weight_decay={self.weight_decay:g}" if self.weight_decay else ""
        return f"SGD(lr={self.lr:g}, momentum={self.momentum:g}{wd})"


def train_step(model, opt, X, y, loss_fn) -> float:
    """One step of training (notebook 09, eqs. 9.1-9.2): forward, loss, backward, update; returns the loss.

    ``loss_fn(scores, y) -> (L, dL/dscores)``, e.g. ``softmax_cross_entropy``.
    """
    X = as_array("train_step", "X", X, finite=True)
    L, ds = loss_fn(model.forward(X), y)
    model.backward(ds)
    opt.step()
    return float(L)


# --------------------------------------------------------------------------- upsampling layers (notebook 12)


class ConvTranspose2D(Layer):
    """Transposed convolution layer: the input gradient of a convolution, used forward (notebook 12, eqs. 12.1-12.5).

    ``ConvTranspose2D(in_channels, out_channels, kernel_size, *, stride=1, padding=0,
    output_padding=0, dilation=1, seed=None, dtype=float64, fast=True)``

    Shapes: X (N, C, H, W) -> Y (N, F, H_out, W_out) with C = in_channels, F = out_channels,
    W (C, F, KH, KW) (PyTorch's layout), b (F,),
    ``H_out = (H - 1)·S - 2·pad + D·(KH - 1) + output_padding + 1`` (eq. 12.2).
    Weights: He normal ``N(0, 2 / fan_in)`` with ``fan_in = C·KH·KW / (SH·SW)``, the number of
    products that reach one output cell on average (each input cell's stamp covers KH x KW
    cells, and the stamps are S apart); bias zero. ``fast=False`` uses the loop version.
    Parameters ``"W"``, ``"b"``.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        *,
        stride=1,
        padding=0,
        output_padding=0,
        dilation=1,
        seed=None,
        dtype=np.float64,
        fast: bool = True,
    ):
        fn = "ConvTranspose2D"
        self.in_channels = _count(fn, "in_channels", in_channels)
        self.out_channels = _count(fn, "out_channels", out_channels)
        self.kernel_size = positive_pair(fn, "kernel_size", kernel_size)
        self.stride = positive_pair(fn, "stride", stride)
        self.padding = nonnegative_pair(fn, "padding", padding)
        self.output_padding = nonnegative_pair(fn, "output_padding", output_padding)
        self.dilation = positive_pair(fn, "dilation", dilation)
        for axis in (0, 1):
            if self.output_padding[axis] >= max(self.stride[axis], self.dilation[axis]):
                raise ValueError(
                    f"{fn}: output_padding must be smaller than the stride or the dilation, "
                    f"got output_padding={output_padding} for stride={stride}, dilation={dilation}"
                )
        dt = _float_dtype(fn, dtype)
        rng = _rng(fn, seed)
        C, F = self.in_channels, self.out_channels
        KH, KW = self.kernel_size
        fan_in = max(1.0, C * KH * KW / (self.stride[0] * self.stride[1]))
        self.W = (rng.standard_normal((C, F, KH, KW)) * math.sqrt(2.0 / fan_in)).astype(dt)  # (C, F, KH, KW)
        self.b = np.zeros(F, dtype=dt)  # (F,)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.fast = bool(fast)

    def _knobs(self):
        return {
            "stride": self.stride,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "dilation": self.dilation,
        }

    def forward(self, X):
        f = _tconv.conv_transpose2d_forward if self.fast else _tconv.conv_transpose2d_forward_naive
        Y, self._cache = f(X, self.W, self.b, **self._knobs())
        return Y  # (N, F, H_out, W_out)

    def backward(self, dY):
        cache = self._need_cache("ConvTranspose2D.backward")
        f = _tconv.conv_transpose2d_backward if self.fast else _tconv.conv_transpose2d_backward_naive
        dX, dW, db = f(dY, cache)
        self.dW = dW.astype(self.W.dtype, copy=False)  # (C, F, KH, KW)
        self.db = db.astype(self.b.dtype, copy=False)  # (F,)
        return dX  # (N, C, H, W)

    def parameters(self):
        return {"W": self.W, "b": self.b}

    def gradients(self):
        return {"W": self.dW, "b": self.db}

    def output_shape(self, input_shape):
        fn = "ConvTranspose2D.output_shape"
        N, C, H, W = _shape4(fn, input_shape)
        if self.in_channels != C:
            raise ValueError(f"{fn}: {self!r} expects {self.in_channels} input channels, got shape {(N, C, H, W)}")
        (KH, KW), (SH, SW), (ph, pw) = self.kernel_size, self.stride, self.padding
        (oh, ow), (DH, DW) = self.output_padding, self.dilation
        Ho = _tconv.conv_transpose_output_size(H, KH, SH, ph, oh, DH)
        Wo = _tconv.conv_transpose_output_size(W, KW, SW, pw, ow, DW)
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{fn}: {self!r} crops an input of shape {(N, C, H, W)} away entirely")
        return (N, self.out_channels, Ho, Wo)

    def __repr__(self):
        args = [str(self.in_channels), str(self.out_channels), f"kernel_size={_fmt_pair(self.kernel_size)}"]
        for name, value, default in (
            ("stride", self.stride, (1, 1)),
            ("padding", self.padding, (0, 0)),
            ("output_padding", self.output_padding, (0, 0)),
            ("dilation", self.dilation, (1, 1)),
        ):
            if value != default:
                args.append(f"{name}={_fmt_pair(value)}")
        if not self.fast:
            args.append("fast=False")
        return f"ConvTranspose2D({', '.join(args)})"


class GlobalAvgPool2D(Layer):
    """Global average pooling: ``p[n, c] = mean of A[n, c]`` (notebook 12, eqs. 12.10-12.11).

    ``GlobalAvgPool2D(*, fast=True)``. Shapes: A (N, C, H, W) -> p (N, C): it takes the place
    of ``Flatten`` before the dense layer, with C features whatever H and W are.
    """

    def __init__(self, *, fast: bool = True):
        self.fast = bool(fast)

    def forward(self, A):
        f = _gap.global_avgpool2d_forward if self.fast else _gap.global_avgpool2d_forward_naive
        p, self._cache = f(A)
        return p  # (N, C)

    def backward(self, dp):
        cache = self._need_cache("GlobalAvgPool2D.backward")
        f = _gap.global_avgpool2d_backward if self.fast else _gap.global_avgpool2d_backward_naive
        return f(dp, cache)  # (N, C, H, W)

    def output_shape(self, input_shape):
        N, C, _, _ = _shape4("GlobalAvgPool2D.output_shape", input_shape)
        return (N, C)

    def __repr__(self):
        return "GlobalAvgPool2D()" if self.fast else "GlobalAvgPool2D(fast=False)"


class Upsample2D(Layer):
    """Upsampling by an integer factor, nearest or bilinear (notebook 12, eqs. 12.6-12.9); no parameters.

    ``Upsample2D(scale=2, mode="nearest", *, fast=True)``; scale an int or (h, w); bilinear as
    PyTorch's ``align_corners=False``. Shapes: A (N, C, H, W) -> U (N, C, H·s_h, W·s_w).
    """

    def __init__(self, scale=2, mode="nearest", *, fast: bool = True):
        fn = "Upsample2D"
        self.scale = positive_pair(fn, "scale", scale)
        self.mode = _up._check_mode(fn, mode)
        self.fast = bool(fast)

    def forward(self, A):
        f = _up.upsample2d_forward if self.fast else _up.upsample2d_forward_naive
        U, self._cache = f(A, scale=self.scale, mode=self.mode)
        return U  # (N, C, H*s_h, W*s_w)

    def backward(self, dU):
        cache = self._need_cache("Upsample2D.backward")
        f = _up.upsample2d_backward if self.fast else _up.upsample2d_backward_naive
        return f(dU, cache)  # (N, C, H, W)

    def output_shape(self, input_shape):
        N, C, H, W = _shape4("Upsample2D.output_shape", input_shape)
        return (N, C, H * self.scale[0], W * self.scale[1])

    def __repr__(self):
        args = [f"scale={_fmt_pair(self.scale)}", f"mode={self.mode!r}"]
        if not self.fast:
            args.append("fast=False")
        return f"Upsample2D({', '.join(args)})"

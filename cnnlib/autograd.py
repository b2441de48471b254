"""A small tensor autograd engine whose operations are cnnlib's forward/backward pairs (notebook 13).

Every chapter before notebook 13 chains the backward passes by hand: the forward pass
keeps each layer's cache, and the backward pass calls the layers' ``*_backward`` functions
in reverse order, handing each one the gradient the next layer returned. This module
lets the computer keep that list. A :class:`Tensor` holds an array ``data``; every
operation on tensors records, in the tensor it returns, where the result came from (its
``parents``, the operation ``op`` and the cache of the forward pass). ``L.backward()``
then walks that recorded **graph** from L back to the leaves in reverse topological
order (eq. 13.2) and, at every node, applies the chain rule (eq. 13.1)::

    δ(parent) += local backward(δ(node))        for every parent of every node

where the local backward is cnnlib's own ``*_backward`` function for the layer operations,
and ``+=`` adds up the contributions of a tensor used more than once (eq. 13.3).

Operations (each a forward function of cnnlib and its backward pass):

* ``a + b``, ``a * b`` with NumPy broadcasting; the backward pass sums the gradient over the
  broadcast axes back to each operand's shape (eq. 13.4); ``-a``, ``a - b`` through them;
* ``a @ b`` for 2-D operands: ``δa = δ(ab) bᵀ``, ``δb = aᵀ δ(ab)``;
* ``a.sum(axis=None, keepdims=False)``: the gradient copied to every summed entry;
* :func:`conv2d`, :func:`relu`, :func:`maxpool2d`, :func:`flatten`, :func:`dense` and
  :func:`softmax_cross_entropy`, named and called like cnnlib's functional API
  (``conv2d_forward`` / ``conv2d_backward`` and so on).

:func:`no_grad` turns the recording off (evaluation: no graph, no caches kept).
``backward()`` frees the caches of the graph it went through, as PyTorch does, unless
called with ``retain_graph=True``; :func:`saved_nbytes` measures what a graph keeps.

What the engine does not do (notebook 13, §13.7): it cannot differentiate its own backward
pass (the gradients are NumPy arrays, not tensors), and it does not notice an in-place edit
of a tensor's ``data`` between the forward and the backward pass unless the layer's own
cache does (``conv2d_backward`` compares its own copy of X with the X it was given, or a
CRC-32 for an X above 2 MiB; ``a * b`` keeps references and would use the edited values).
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
from collections.abc import Callable

import numpy as np

from . import _validate
from .activations import relu_backward, relu_forward
from .conv import conv2d_backward, conv2d_forward
from .dense import dense_backward, dense_forward, flatten_backward, flatten_forward
from .losses import softmax_cross_entropy as _softmax_cross_entropy
from .pool import maxpool2d_backward, maxpool2d_forward

__all__ = [
    "Tensor",
    "Step",
    "no_grad",
    "is_grad_enabled",
    "topological_order",
    "trace_backward",
    "saved_nbytes",
    "record",
    "conv2d",
    "relu",
    "maxpool2d",
    "flatten",
    "dense",
    "softmax_cross_entropy",
]

_GRAD_ENABLED = True


@contextlib.contextmanager
def no_grad():
    """Within ``with no_grad():`` no operation records a graph: results are constants, no cache is kept.

    For evaluation and for parameter updates (``W.data -= lr * W.grad`` needs no graph
    either way, since it works on the arrays). Nested uses restore the previous setting.
    """
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = previous


def is_grad_enabled() -> bool:
    """False inside :func:`no_grad`, True otherwise."""
    return _GRAD_ENABLED


def _rewrap(fn: str, exc: Exception, inner: str) -> Exception:
    """The error of cnnlib's ``inner`` function, renamed to ``fn`` (same type, same explanation)."""
    return type(exc)(f"{fn}: {str(exc).removeprefix(inner + ': ')}")


class Tensor:
    """An array with a gradient, and the record of how it was computed (notebook 13, §13.3).

    ``Tensor(data, requires_grad=False, name=None)``: ``data`` becomes a float array (float32
    kept, anything else numeric -> float64), a copy the tensor owns. Attributes:

    * ``data``: the NumPy array; ``shape``, ``ndim``, ``dtype`` are its own;
    * ``grad``: ``None`` until a ``backward()`` reaches the tensor, then ∂L/∂(this tensor), an
      array of ``data``'s shape. Every ``backward()`` *adds* to it (``zero_grad()`` resets it),
      as in PyTorch; unlike PyTorch, intermediate tensors keep their gradient too;
    * ``requires_grad``: whether gradients flow to this tensor. A result requires a gradient
      when any of its inputs does (and recording is on, see :func:`no_grad`);
    * ``op`` (the operation that made it, ``""`` for a leaf), ``parents`` (its input tensors),
      ``name`` (a label for printing and drawing).
    """

    __array_ufunc__ = None  # ``ndarray * Tensor`` calls Tensor.__rmul__ instead of looping over the array

    def __init__(self, data, requires_grad=False, *, name=None):
        fn = "Tensor"
        if isinstance(data, Tensor):
            raise TypeError(f"{fn}: data must be an array or a number, got a Tensor (use its .data)")
        if not isinstance(requires_grad, bool | np.bool_):
            raise TypeError(f"{fn}: requires_grad must be True or False, got {requires_grad!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{fn}: name must be a str or None, got {type(name).__name__}")
        arr = _validate.as_array(fn, "data", data)
        self.data = arr.copy() if not _validate.made_anew(data, arr) else arr
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.name = name
        self.op = ""
        self.parents: tuple[Tensor, ...] = ()
        self._ctx = None  # what the backward pass needs (a cnnlib cache or a tuple of arrays)
        self._backward: Callable | None = None  # (grad, ctx) -> one gradient per parent
        self._freed = False

    # ------------------------------------------------------------------ properties

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no recorded operation made (parameters, inputs, constants)."""
        return not self.parents

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"Tensor.item: only a one-element tensor has an item, got shape {self.shape}")
        return float(self.data.reshape(()))

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``)."""
        self.grad = None

    def __repr__(self) -> str:
        what = f"op={self.op!r}" if self.op else "leaf"
        label = f"{self.name!r}, " if self.name else ""
        return f"Tensor({label}shape={self.shape}, {what}, requires_grad={self.requires_grad})"

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other):
        return _add(self, other)

    def __radd__(self, other):
        return _add(other, self)

    def __mul__(self, other):
        return _mul(self, other)

    def __rmul__(self, other):
        return _mul(other, self)

    def __neg__(self):
        return _mul(self, -1.0)

    def __sub__(self, other):
        return _add(self, _mul(other, -1.0))

    def __rsub__(self, other):
        return _add(other, _mul(self, -1.0))

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def sum(self, axis=None, keepdims=False):
        """The sum over ``axis`` (``None``: every entry); backward copies the gradient to every summed entry."""
        return _sum(self, axis, keepdims)

    # ------------------------------------------------------------------ backward

    def backward(self, grad=None, *, retain_graph=False):
        """Fill ``.grad`` of every tensor this one was computed from (notebook 13, eqs. 13.1-13.3).

        ``grad`` is the upstream gradient ∂L/∂(this tensor), an array of its shape; it may be
        left out for a one-element tensor (a loss), where it is 1. The gradients are computed
        by :func:`trace_backward` (reverse topological order, contributions added up) and
        *added* to every ``.grad`` along the way. Afterwards the caches of the graph are freed,
        so a second ``backward()`` through the same graph raises ``ValueError``; pass
        ``retain_graph=True`` to keep them.
        """
        steps = trace_backward(self, grad, fn="Tensor.backward")
        for step in steps:
            node = step.node
            node.grad = step.grad.copy() if node.grad is None else node.grad + step.grad
        if not retain_graph:
            for step in steps:
                if step.node._backward is not None:
                    step.node._ctx = None
                    step.node._backward = None
                    step.node._freed = True


# --------------------------------------------------------------------------- recording


def _as_tensor(fn: str, name: str, x, like: Tensor | None = None) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant Tensor (a Python number takes ``like``'s dtype)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool) and like is not None:
        return Tensor(np.asarray(x, dtype=like.dtype))
    return Tensor(_validate.as_array(fn, name, x))


def record(op: str, data: np.ndarray, parents: tuple[Tensor, ...], ctx, backward: Callable) -> Tensor:
    """The result of an operation: a new tensor that remembers ``parents``, ``ctx`` and ``backward`` (§13.3).

    This is how every operation of the module is made, and how a reader adds one: compute
    ``data`` from the parents' arrays, keep in ``ctx`` what the backward pass will need, and
    give ``backward(grad, ctx)``, which returns one gradient per parent (each of that
    parent's shape) from the gradient ``grad`` of the result.

    Nothing is recorded (a constant comes back) inside :func:`no_grad` or when no parent needs
    a gradient: then no cache is kept either.
    """
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out.name = None
    out._freed = False
    if _GRAD_ENABLED and any(p.requires_grad for p in parents):
        out.requires_grad, out.op, out.parents = True, op, parents
        out._ctx, out._backward = ctx, backward
    else:
        out.requires_grad, out.op, out.parents = False, "", ()
        out._ctx, out._backward = None, None
    return out


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``grad`` summed back to ``shape`` over the axes that broadcasting added or stretched (eq. 13.4)."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))  # axes broadcasting put in front
    stretched = tuple(k for k, n in enumerate(shape) if n == 1 and grad.shape[k] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)  # axes of length 1 repeated
    return grad


def _broadcast_shape(fn: str, a: Tensor, b: Tensor) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{fn}: the shapes {a.shape} and {b.shape} do not broadcast (NumPy's rule: compared from the right, "
            f"each pair of lengths must be equal or one of them 1)"
        ) from None


def _add_backward(grad, ctx):
    a_shape, b_shape = ctx
    return _unbroadcast(grad, a_shape), _unbroadcast(grad, b_shape)


def _add(a, b) -> Tensor:
    """``a + b`` with broadcasting; backward: the gradient to both, summed to each one's shape."""
    fn = "add"
    a = _as_tensor(fn, "a", a, like=b if isinstance(b, Tensor) else None)
    b = _as_tensor(fn, "b", b, like=a)
    _broadcast_shape(fn, a, b)
    return record(fn, a.data + b.data, (a, b), (a.shape, b.shape), _add_backward)


def _mul_backward(grad, ctx):
    a, b = ctx  # the operands' arrays (references: an in-place edit would change the gradient)
    return _unbroadcast(grad * b, a.shape), _unbroadcast(grad * a, b.shape)


def _mul(a, b) -> Tensor:
    """``a * b`` element-wise with broadcasting; backward: ``δa = δ·b``, ``δb = δ·a``, summed to each shape."""
    fn = "mul"
    a = _as_tensor(fn, "a", a, like=b if isinstance(b, Tensor) else None)
    b = _as_tensor(fn, "b", b, like=a)
    _broadcast_shape(fn, a, b)
    return record(fn, a.data * b.data, (a, b), (a.data, b.data), _mul_backward)


def _matmul_backward(grad, ctx):
    a, b = ctx
    return grad @ b.T, a.T @ grad  # (n, k), (k, m)


def _matmul(a, b) -> Tensor:
    """``a @ b`` for a (n, k) and b (k, m); backward: ``δa = δ bᵀ``, ``δb = aᵀ δ``."""
    fn = "matmul"
    a = _as_tensor(fn, "a", a)
    b = _as_tensor(fn, "b", b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{fn}: both operands must be 2-D matrices, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"{fn}: a (n, k) @ b (k, m) needs a's columns to match b's rows, got shapes {a.shape} and {b.shape}"
        )
    return record(fn, a.data @ b.data, (a, b), (a.data, b.data), _matmul_backward)


def _sum_backward(grad, ctx):
    shape, axes = ctx
    kept = [1 if k in axes else n for k, n in enumerate(shape)]  # grad with the summed axes as length 1
    return (np.broadcast_to(grad.reshape(kept), shape).copy(),)


def _sum(a: Tensor, axis, keepdims) -> Tensor:
    fn = "sum"
    if axis is None:
        axes = tuple(range(a.ndim))
    else:
        items = axis if isinstance(axis, tuple) else (axis,)
        if not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in items):
            raise TypeError(f"{fn}: axis must be None, an int or a tuple of ints, got {axis!r}")
        if any(not -a.ndim <= k < a.ndim for k in items):
            raise ValueError(f"{fn}: axis {axis!r} is out of range for a tensor of shape {a.shape}")
        axes = tuple(sorted({int(k) % a.ndim for k in items}))
        if len(axes) != len(items):
            raise ValueError(f"{fn}: axis {axis!r} names an axis twice")
    if not isinstance(keepdims, bool):
        raise TypeError(f"{fn}: keepdims must be True or False, got {keepdims!r}")
    out = np.asarray(a.data.sum(axis=axes, keepdims=keepdims))
    return record(fn, out, (a,), (a.shape, axes), _sum_backward)


# --------------------------------------------------------------------------- cnnlib's layers as operations


def conv2d(X, W, b, *, stride=1, padding=0, dilation=1) -> Tensor:
    """Convolution (notebook 02, eq. 2.3; notebook 08): ``conv2d_forward``, and ``conv2d_backward`` for the gradients.

    X (N, C, H, W), W (F, C, KH, KW), b (F,) -> Z (N, F, H_out, W_out) with
    ``H_out = floor((H + 2·pad - D(KH-1) - 1)/S) + 1`` (eq. 8.1). Tensors or arrays (an
    array is a constant). Backward: (δX, δW, δb) from ``conv2d_backward`` (eqs. 3.1-3.3).
    """
    fn = "conv2d"
    X, W, b = (_as_tensor(fn, n, v) for n, v in (("X", X), ("W", W), ("b", b)))
    try:
        Z, cache = conv2d_forward(X.data, W.data, b.data, stride=stride, padding=padding, dilation=dilation)
    except (TypeError, ValueError) as exc:
        raise _rewrap(fn, exc, "conv2d_forward") from None
    return record(fn, Z, (X, W, b), cache, conv2d_backward)


def _single(backward):
    """A backward function with one gradient, returned as the one-element tuple the engine expects."""

    def wrapped(grad, ctx):
        return (backward(grad, ctx),)

    wrapped.__name__ = backward.__name__
    return wrapped


_relu_backward = _single(relu_backward)
_maxpool_backward = _single(maxpool2d_backward)
_flatten_backward = _single(flatten_backward)


def relu(Z) -> Tensor:
    """ReLU (notebook 04, eq. 4.5): ``relu_forward``; backward ``relu_backward``, δZ = δA·1[Z > 0] (eq. 4.6)."""
    fn = "relu"
    Z = _as_tensor(fn, "Z", Z)
    try:
        A, cache = relu_forward(Z.data)
    except (TypeError, ValueError) as exc:
        raise _rewrap(fn, exc, "relu_forward") from None
    return record(fn, A, (Z,), cache, _relu_backward)


def maxpool2d(A, *, size=2, stride=None, padding=0) -> Tensor:
    """Max pooling (notebook 04, eq. 4.1): ``maxpool2d_forward``; backward ``maxpool2d_backward`` (eq. 4.2).

    A (N, C, H, W) -> P (N, C, H_out, W_out), ``H_out = floor((H + 2·padding - R)/S) + 1``;
    ``stride=None`` means S = R (the window ``size``).
    """
    fn = "maxpool2d"
    A = _as_tensor(fn, "A", A)
    try:
        P, cache = maxpool2d_forward(A.data, size=size, stride=stride, padding=padding)
    except (TypeError, ValueError) as exc:
        raise _rewrap(fn, exc, "maxpool2d_forward") from None
    return record(fn, P, (A,), cache, _maxpool_backward)


def flatten(P) -> Tensor:
    """Flatten every sample into a row (notebook 06): P (N, ...) -> p (N, Q); backward reshapes δp back."""
    fn = "flatten"
    P = _as_tensor(fn, "P", P)
    try:
        p, cache = flatten_forward(P.data)
    except (TypeError, ValueError) as exc:
        raise _rewrap(fn, exc, "flatten_forward") from None
    return record(fn, p, (P,), cache, _flatten_backward)


def dense(p, U, c) -> Tensor:
    """Dense layer (notebook 01, eq. 1.1): ``s = p Uᵀ + c`` by ``dense_forward``; backward ``dense_backward`` (eq. 1.2).

    p (N, Q), U (M, Q), c (M,) -> s (N, M); backward: (δp, δU, δc).
    """
    fn = "dense"
    p, U, c = (_as_tensor(fn, n, v) for n, v in (("p", p), ("U", U), ("c", c)))
    try:
        s, cache = dense_forward(p.data, U.data, c.data)
    except (TypeError, ValueError) as exc:
        raise _rewrap(fn, exc, "dense_forward") from None
    return record(fn, s, (p, U, c), cache, dense_backward)


def _loss_backward(grad, ds):
    return (grad * ds,)  # L is a scalar: δs = δL · ∂L/∂s


def softmax_cross_entropy(s, y) -> Tensor:
    """Softmax cross-entropy averaged over the batch (notebook 01, eqs. 1.3-1.5): a scalar tensor L.

    s (N, M) scores (a tensor); y integer labels (N,) or probability rows (N, M) (an array:
    labels get no gradient). cnnlib's ``softmax_cross_entropy`` returns L and
    ``ds = (ŷ - y)/N`` together; the backward pass multiplies ds by the upstream δL (1 for
    ``L.backward()``).
    """
    fn = "softmax_cross_entropy"
    s = _as_tensor(fn, "s", s)
    if isinstance(y, Tensor):
        y = y.data
    try:
        L, ds = _softmax_cross_entropy(s.data, y)
    except (TypeError, ValueError) as exc:
        raise _rewrap(fn, exc, fn) from None
    return record(fn, np.asarray(L), (s,), ds, _loss_backward)


# --------------------------------------------------------------------------- the backward pass


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the backward pass (:func:`trace_backward`).

    ``node``: the tensor whose local backward runs now; ``grad``: its complete gradient
    ∂L/∂node (every contribution added, eq. 13.3); ``contributions``: what this step adds to
    each parent's gradient, ``(parent, array)`` pairs in the order of ``node.parents``
    (parents that need no gradient are left out). A leaf has none.
    """

    node: Tensor
    grad: np.ndarray
    contributions: tuple[tuple[Tensor, np.ndarray], ...]


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` was computed from that needs a gradient, each after all of its parents (eq. 13.2).

    Depth-first search, iterative (no recursion limit for long graphs): a node is appended
    when all of its parents have been. The backward pass visits this list reversed, so a
    node's gradient is complete — every child has added its share — before it is passed on.
    """
    fn = "topological_order"
    if not isinstance(root, Tensor):
        raise TypeError(f"{fn}: root must be a Tensor, got {type(root).__name__}")
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in seen or not node.requires_grad:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node.parents) if id(p) not in seen)
    return order


def trace_backward(root: Tensor, grad=None, *, fn: str = "trace_backward") -> list[Step]:
    """The backward pass from ``root`` step by step, without touching any ``.grad`` (notebook 13, §13.3).

    Visits :func:`topological_order` reversed; at each node it calls the operation's backward
    function (cnnlib's ``*_backward`` for a layer) on the node's complete gradient and adds
    the results into its parents' gradients (``+=``, eq. 13.3), summed back to each parent's
    shape. ``grad`` is ∂L/∂root (default 1 for a one-element root). Returns the list of
    :class:`Step` in the order they ran; ``Tensor.backward`` writes their gradients to ``.grad``.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"{fn}: root must be a Tensor, got {type(root).__name__}")
    if not root.requires_grad:
        raise ValueError(
            f"{fn}: this tensor does not require a gradient (no input of it has requires_grad=True, "
            f"or it was computed inside no_grad()), so there is nothing to go back through"
        )
    if grad is None:
        if root.data.size != 1:
            raise ValueError(
                f"{fn}: grad can be left out only for a one-element tensor (a loss); this one has shape {root.shape}, "
                f"so pass the upstream gradient ∂L/∂(this tensor) of that shape"
            )
        grad = np.ones(root.shape, dtype=root.dtype)
    else:
        grad = _validate.as_array(fn, "grad", grad)
        _validate.check_same_shape(fn, "grad", grad, root.shape, "the shape of the tensor backward() starts from")
    order = topological_order(root)
    for node in order:
        if node._freed:
            raise ValueError(
                f"{fn}: the graph was freed by an earlier backward() (its caches are gone); "
                f"pass retain_graph=True to the first backward() to go through a graph twice"
            )
    pending: dict[int, np.ndarray] = {id(root): grad.astype(root.dtype, copy=False)}
    steps = []
    for node in reversed(order):
        g = pending.pop(id(node))  # complete: every child of node has run before it
        contributions = []
        if node._backward is not None:
            for parent, share in zip(node.parents, node._backward(g, node._ctx), strict=True):
                if not parent.requires_grad:
                    continue
                share = np.asarray(share).astype(parent.dtype, copy=False)
                contributions.append((parent, share))
                key = id(parent)
                pending[key] = share if key not in pending else pending[key] + share  # eq. (13.3)
        steps.append(Step(node, g, tuple(contributions)))
    return steps


def _arrays(obj):
    """Every NumPy array inside a cache (an array, a tuple of them, or a dataclass of them)."""
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, tuple | list):
        for item in obj:
            yield from _arrays(item)
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _arrays(getattr(obj, f.name))


def _owner(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def saved_nbytes(root: Tensor) -> int:
    """Bytes of the arrays the graph behind ``root`` keeps for its backward pass (each buffer counted once).

    The caches of every recorded operation: what ``backward()`` will read, and what stays in
    memory until it has run (and freed them) or the graph is dropped. 0 inside ``no_grad``.
    A view counts as the whole buffer it keeps alive. So ``conv2d`` on an X of at most
    ``_validate.COPY_BYTES`` counts X twice: the cache's own copy, and the X it was given (kept
    as a read-only view to detect an in-place edit, see ``ConvCache``).
    """
    fn = "saved_nbytes"
    if not isinstance(root, Tensor):
        raise TypeError(f"{fn}: root must be a Tensor, got {type(root).__name__}")
    owners = {}
    for node in topological_order(root) if root.requires_grad else ():
        for a in _arrays(node._ctx):
            base = _owner(a)
            owners[id(base)] = base.nbytes
    return int(sum(owners.values()))

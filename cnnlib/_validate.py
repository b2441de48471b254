"""Input checks shared by every public cnnlib function.

Every error message starts with the public function's name and says what was
expected and what was given, so that a reader sees ``conv2d_forward: X has 3
channels but W expects 4 (X.shape=(2, 3, 5, 5), W.shape=(8, 4, 3, 3))`` rather
than an IndexError or a NumPy broadcasting message from deep inside the code.
"""

from __future__ import annotations

import numbers
import zlib

import numpy as np
from numpy.ma import MaskedArray

__all__ = [
    "plain_array",
    "as_array",
    "all_finite",
    "made_anew",
    "COPY_BYTES",
    "watch",
    "check_unchanged",
    "check_ndim",
    "check_same_shape",
    "check_upstream",
    "pair",
    "positive_pair",
    "nonnegative_pair",
    "pad_hw",
    "check_cache",
    "as_2d",
    "as_chw",
    "int_tuple",
    "check_in_range",
]


def plain_array(fn: str, name: str, x) -> np.ndarray:
    """``x`` as a base-class ``np.ndarray`` (any dtype): ndarray subclasses are converted, masked arrays refused.

    A subclass such as ``np.matrix`` redefines the operators (``*`` is a matrix product there,
    and every result stays 2-D), so computing on it gives wrong numbers without a word.
    ``np.asarray`` views the same memory as a plain ndarray (no copy), so a matrix is
    accepted and treated as the 2-D array of numbers it holds. A masked array is refused
    instead: converting it would silently drop its mask and compute with whatever the
    masked entries happen to hold.
    """
    if isinstance(x, MaskedArray):
        raise TypeError(
            f"{fn}: {name} must not be a masked array (np.ma.MaskedArray): cnnlib would ignore its mask; "
            f"pass {name}.filled(value) to say what the masked entries hold"
        )
    try:
        return np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{fn}: {name} must be a numeric array, got {type(x).__name__} ({exc})") from None


def as_array(fn: str, name: str, x, *, finite: bool = False, private: bool = False) -> np.ndarray:
    """Return ``x`` as a real floating NumPy array (float32 kept, other types -> float64).

    Always a base-class ndarray (see ``plain_array``: ``np.matrix`` and other subclasses are
    converted, masked arrays refused). Raises ``TypeError`` for non-numeric or complex input
    and, with ``finite=True``, ``ValueError`` for NaN or infinity. The caller's array is never
    modified.

    ``private=True`` is for what a layer cache keeps for its backward pass: the result is then
    a read-only array that shares no memory with anything the caller holds, so an in-place
    edit of ``x`` between the forward and the backward pass cannot change the gradient. It
    costs one copy (a ``memcpy``, the cheapest full pass over the data; a hash such as
    ``zlib.crc32`` to detect the edit instead is about ten times slower), skipped when the
    conversion already made a new array.
    """
    arr = plain_array(fn, name, x)
    if arr.dtype != np.float64 and arr.dtype != np.float32:  # float64 and float32 need none of these
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise TypeError(f"{fn}: {name} must be a real numeric array, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise TypeError(f"{fn}: {name} must be real, got complex dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    if finite and not all_finite(arr):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{fn}: {name} must be finite, got {bad} NaN/inf value(s) (shape {arr.shape})")
    if private:
        if not made_anew(x, arr):
            arr = arr.copy()
        arr.flags.writeable = False
    return arr


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry of the float array ``arr`` is finite (no NaN, no infinity).

    A NaN or an infinity anywhere makes the sum of all entries NaN or infinite, so a finite
    sum (one vectorised pass, no temporary array) proves it. Only when the sum is not finite
    (a bad entry, or finite entries whose sum overflows) is every entry tested. Not a BLAS
    product: on a busy machine, waking the BLAS threads for it cost more than the check.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(arr, axis=None)):
            return True
    return bool(np.isfinite(arr).all())


def made_anew(x, arr: np.ndarray) -> bool:
    """Whether ``arr = as_array(..., x)`` is a new array that nothing the caller holds shares (O(1)).

    True when x was a list, tuple or number (``np.asarray`` builds a new array from those) or
    an ndarray that ``astype`` converted; False for x itself, a view of it (an ``np.matrix``),
    or anything else that may lend its memory (an object with ``__array__``).
    """
    if isinstance(x, np.ndarray):
        return not np.may_share_memory(arr, x)
    return isinstance(x, list | tuple | numbers.Number)


#: Inputs of at most this many bytes are copied into a layer cache by ``watch`` (the backward
#: pass reads the copy and compares it with the caller's array); larger ones are watched by a
#: CRC-32 instead, so that the cache does not double the memory of a large input. 2 MiB is the
#: size of the convolution's block buffers (``_conv_fast.BLOCK_BYTES``).
COPY_BYTES = 1 << 21


def watch(x, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | int | None]:
    """What a cache keeps of ``arr = as_array(..., x)``, and what ``check_unchanged`` compares it with later.

    Returns ``(kept, check)``, ``kept`` read-only:

    * ``arr`` made anew by the conversion (``made_anew``): ``(arr, None)``, nothing to check;
    * ``arr`` of at most ``COPY_BYTES`` bytes: ``(a copy of arr, a read-only view of arr)``; the
      backward pass reads the copy, and ``check_unchanged`` compares it bit for bit with the
      caller's array. A copy and a comparison are each one fast pass (about 0.02 ms for
      0.8 MB), against about 0.27 ms for each CRC-32 of the same bytes;
    * larger: ``(a read-only view of arr, the CRC-32 of its bytes)``: a copy would double the
      memory the layer needs; ``zlib.crc32`` reads about 3 GB/s, one pass each way.
    """
    if made_anew(x, arr):
        kept = arr.view()
        kept.flags.writeable = False
        return kept, None
    view = arr.view()
    view.flags.writeable = False  # no edits through the cache; the caller's own array stays writeable
    if arr.nbytes <= COPY_BYTES:
        kept = arr.copy()  # C-contiguous, the cache's own
        kept.flags.writeable = False
        return kept, view
    return view, zlib.crc32(np.ascontiguousarray(arr))


def _bits(a: np.ndarray) -> np.ndarray:
    """The same memory as unsigned integers of the same size (so -0.0 differs from 0.0, as in the bytes)."""
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def check_unchanged(fn: str, name: str, kept: np.ndarray, check, what: str) -> None:
    """Raise ``ValueError`` if the caller's array changed since ``watch`` returned ``(kept, check)``.

    ``check`` is ``None`` (nothing to compare), the caller's array (compared bit for bit with
    the cache's copy ``kept``) or the CRC-32 of ``kept``'s bytes at the forward pass.
    """
    if check is None:
        return
    if isinstance(check, np.ndarray):
        same = np.array_equal(_bits(check), _bits(kept))
    else:
        same = zlib.crc32(np.ascontiguousarray(kept)) == check
    if not same:
        raise ValueError(
            f"{fn}: {name}, {what}, was modified in place after the forward pass; the gradient would be wrong. "
            f"Run the forward pass again, or pass it {name}.copy() if you need to change {name} in between"
        )


def check_ndim(fn: str, name: str, x: np.ndarray, ndim: int, layout: str) -> None:
    """Raise ``ValueError`` unless ``x.ndim == ndim`` (``layout`` names the axes, e.g. ``'(N, C, H, W)'``)."""
    if x.ndim != ndim:
        raise ValueError(f"{fn}: {name} must be {ndim}-D {layout}, got {x.ndim}-D array with shape {x.shape}")


def check_same_shape(fn: str, name: str, x: np.ndarray, expected: tuple, what: str) -> None:
    """Raise ``ValueError`` unless ``x.shape == expected`` (``what`` says where the expectation comes from)."""
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{fn}: {name} must have shape {tuple(expected)} ({what}), got {tuple(x.shape)}")


def _int_like(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def pair(fn: str, name: str, v, *, minimum: int) -> tuple[int, int]:
    """Normalise an int or an (h, w) pair of ints, each ``>= minimum``."""
    if _int_like(v):
        vals = (int(v), int(v))
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(_int_like(t) for t in v):
        vals = (int(v[0]), int(v[1]))
    else:
        raise TypeError(f"{fn}: {name} must be an int or a pair of ints (h, w), got {v!r}")
    if min(vals) < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{fn}: {name} must be {kind} (>= {minimum}), got {v!r}")
    return vals


def positive_pair(fn: str, name: str, v) -> tuple[int, int]:
    """An int or (h, w) pair of ints, each >= 1 (stride, dilation, kernel or window size), as (h, w)."""
    return pair(fn, name, v, minimum=1)


def nonnegative_pair(fn: str, name: str, v) -> tuple[int, int]:
    """An int or (h, w) pair of ints, each >= 0 (padding), as (h, w)."""
    return pair(fn, name, v, minimum=0)


def check_upstream(fn: str, name: str, grad, shape: tuple) -> np.ndarray:
    """The upstream gradient ``grad`` (named ``name``, e.g. ``"dZ"``) as a float array of the forward output's shape.

    The forward output is the name without its ``d``: ``check_upstream(fn, "dZ", dZ, cache.out_shape)``
    raises ``ValueError: fn: dZ must have shape (...) (the shape of Z from the forward pass), got (...)``.
    """
    grad = as_array(fn, name, grad)
    check_same_shape(fn, name, grad, shape, f"the shape of {name[1:]} from the forward pass")
    return grad


def pad_hw(x: np.ndarray, pad: tuple[int, int], *, value: float = 0.0, dtype=None) -> np.ndarray:
    """A new (N, C, H + 2*pad_h, W + 2*pad_w) array: ``x`` framed by ``pad`` rows / columns of ``value``.

    Zeros for convolution and average pooling, -inf for max pooling (a padded cell never wins).
    ``dtype`` defaults to x's. Always a copy, so the caller's array is never touched.
    """
    N, C, H, W = x.shape
    pad_h, pad_w = pad
    dtype = x.dtype if dtype is None else dtype
    xp = np.full((N, C, H + 2 * pad_h, W + 2 * pad_w), value, dtype=dtype)  # (N, C, Hp, Wp)
    xp[:, :, pad_h : pad_h + H, pad_w : pad_w + W] = x
    return xp


def check_cache(fn: str, cache, expected_type: type, producer: str) -> None:
    """Raise ``TypeError`` unless ``cache`` is what ``producer`` returned."""
    if not isinstance(cache, expected_type):
        raise TypeError(f"{fn}: cache must be the second value returned by {producer}, got {type(cache).__name__}")


def as_2d(fn: str, name: str, x, *, finite: bool = True) -> np.ndarray:
    """A 2-D (H, W) array from (H, W), (1, H, W) or (1, 1, H, W) input (a view when possible, never modified)."""
    arr = as_array(fn, name, x, finite=finite)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"{fn}: {name} must be a 2-D array (H, W) (or (1, 1, H, W)), got shape {np.shape(x)}")
    if 0 in arr.shape:
        raise ValueError(f"{fn}: {name} must not be empty, got shape {arr.shape}")
    return arr


def as_chw(fn: str, name: str, x, layout: str = "(C, H, W)") -> np.ndarray:
    """A 3-D (C, H, W) array from (H, W), (C, H, W) or (1, C, H, W) input (finite entries only)."""
    arr = as_array(fn, name, x, finite=True)
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise ValueError(f"{fn}: {name} must hold one image (N = 1), got shape {arr.shape}")
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"{fn}: {name} must be (H, W), {layout} or (1, ...) of it, got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{fn}: {name} must not be empty, got shape {arr.shape}")
    return arr


def int_tuple(fn: str, name: str, v, lengths: tuple[int, ...]) -> tuple[int, ...]:
    """A tuple of ints of one of the ``lengths`` (a list or an integer array is accepted)."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if not isinstance(v, (tuple, list)) or len(v) not in lengths:
        want = " or ".join(f"{n} ints" for n in lengths)
        raise TypeError(f"{fn}: {name} must be a tuple of {want}, got {v!r}")
    if not all(isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in v):
        raise TypeError(f"{fn}: {name} must contain ints, got {v!r}")
    return tuple(int(t) for t in v)


def check_in_range(fn: str, name: str, idx: tuple[int, ...], shape: tuple[int, ...], what: str) -> None:
    """``idx`` must be a valid index of an array of ``shape`` (``what`` names that array)."""
    if len(idx) != len(shape) or any(not (0 <= i < n) for i, n in zip(idx, shape)):
        raise ValueError(f"{fn}: {name} {idx} is outside {what} of shape {tuple(shape)}")

"""Hypothesis strategies shared by the test-suite.

The strategies draw *configurations* (shapes and hyper-parameters) plus an integer
seed; the arrays themselves come from a seeded ``numpy.random.Generator``. That
keeps shrinking fast (Hypothesis shrinks a handful of integers, not thousands of
floats) and every failure report is reproducible from the printed configuration.

Public helpers
--------------
* ``conv_cases(...)``      -> ``ConvCase``: N, C, F, H, W, KH, KW and independent
  (h, w) stride / padding / dilation pairs, always with a kernel that fits the
  padded input (including the extreme where it is exactly as large).
* ``pool_cases(...)``      -> ``PoolCase``: N, C, H, W, window size, stride, padding
  (padding at most half the window, as PyTorch requires).
* ``dense_cases(...)``     -> ``DenseCase``: N, K, M.
* ``spaced_values(rng, shape, gap)`` -> array whose entries are pairwise at least
  ``gap`` apart and at least ``gap/2`` away from 0, so that central differences with
  ``h << gap`` never straddle a max-pool or ReLU kink.
* ``reached_mask(case)``   -> boolean (H, W) mask of the input cells that at least one
  output position reads; all other cells must get exactly zero gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "ConvCase",
    "PoolCase",
    "DenseCase",
    "conv_cases",
    "pool_cases",
    "dense_cases",
    "spaced_values",
    "reached_mask",
    "rng_seeds",
]

Pair = tuple[int, int]


def rng_seeds() -> st.SearchStrategy[int]:
    """Seeds for ``np.random.default_rng``."""
    return st.integers(min_value=0, max_value=2**32 - 1)


# --------------------------------------------------------------------------- convolution


@dataclass(frozen=True)
class ConvCase:
    N: int
    C: int
    F: int
    H: int
    W: int
    KH: int
    KW: int
    stride: Pair
    padding: Pair
    dilation: Pair
    seed: int

    @property
    def kwargs(self) -> dict:
        """Keyword arguments for ``conv2d_forward`` (always as (h, w) pairs)."""
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.F, self.C, self.KH, self.KW)

    @property
    def out_hw(self) -> Pair:
        """(H_out, W_out) counted directly: the start positions 0, S, 2S, ... of a window that fits."""
        span_h = self.dilation[0] * (self.KH - 1) + 1
        span_w = self.dilation[1] * (self.KW - 1) + 1
        Ho = len(range(0, self.H + 2 * self.padding[0] - span_h + 1, self.stride[0]))
        Wo = len(range(0, self.W + 2 * self.padding[1] - span_w + 1, self.stride[1]))
        return Ho, Wo

    @property
    def z_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.F, *self.out_hw)

    def arrays(self, dtype=np.float64):
        """Seeded random (X, W, b, dZ); dZ is a random upstream gradient, never all ones."""
        rng = np.random.default_rng(self.seed)
        X = rng.standard_normal(self.x_shape).astype(dtype)
        W = rng.standard_normal(self.w_shape).astype(dtype)
        b = rng.standard_normal(self.F).astype(dtype)
        dZ = rng.standard_normal(self.z_shape).astype(dtype)
        return X, W, b, dZ


@st.composite
def _axis(draw, max_kernel, max_stride, max_padding, max_dilation, max_extra):
    """One spatial axis: (size, kernel, stride, padding, dilation) with a kernel that fits."""
    k = draw(st.integers(1, max_kernel))
    s = draw(st.integers(1, max_stride))
    p = draw(st.integers(0, max_padding))
    d = draw(st.integers(1, max_dilation))
    span = d * (k - 1) + 1
    smallest = max(1, span - 2 * p)  # == span - 2p: the kernel is exactly as large as the padded input
    size = smallest + draw(st.integers(0, max_extra))
    return size, k, s, p, d


def conv_cases(
    *,
    max_batch: int = 2,
    max_channels: int = 2,
    max_filters: int = 2,
    max_kernel: int = 3,
    max_stride: int = 3,
    max_padding: int = 2,
    max_dilation: int = 2,
    max_extra: int = 4,
) -> st.SearchStrategy[ConvCase]:
    """Convolution configurations with independently drawn height and width axes.

    ``max_extra`` bounds how far the input exceeds the smallest size the kernel fits;
    keep everything small for the loop implementation.
    """
    axis = _axis(max_kernel, max_stride, max_padding, max_dilation, max_extra)
    return st.builds(
        lambda n, c, f, ah, aw, seed: ConvCase(
            N=n,
            C=c,
            F=f,
            H=ah[0],
            W=aw[0],
            KH=ah[1],
            KW=aw[1],
            stride=(ah[2], aw[2]),
            padding=(ah[3], aw[3]),
            dilation=(ah[4], aw[4]),
            seed=seed,
        ),
        st.integers(1, max_batch),
        st.integers(1, max_channels),
        st.integers(1, max_filters),
        axis,
        axis,
        rng_seeds(),
    )


def reached_mask(case: ConvCase) -> np.ndarray:
    """(H, W) booleans: True where some output position's window reads that input cell.

    Computed by enumeration (independently of the library): padded row r is read iff
    r = u*S + i*D for some output row u and kernel row i.
    """
    Ho, Wo = case.out_hw
    rows = {u * case.stride[0] + i * case.dilation[0] for u in range(Ho) for i in range(case.KH)}
    cols = {v * case.stride[1] + j * case.dilation[1] for v in range(Wo) for j in range(case.KW)}
    r = np.array([x + case.padding[0] in rows for x in range(case.H)])
    c = np.array([y + case.padding[1] in cols for y in range(case.W)])
    return r[:, None] & c[None, :]


# --------------------------------------------------------------------------- pooling


@dataclass(frozen=True)
class PoolCase:
    N: int
    C: int
    H: int
    W: int
    size: Pair
    stride: Pair
    padding: Pair
    seed: int

    @property
    def kwargs(self) -> dict:
        return {"size": self.size, "stride": self.stride, "padding": self.padding}

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.C, self.H, self.W)

    @property
    def out_hw(self) -> Pair:
        Ho = (self.H + 2 * self.padding[0] - self.size[0]) // self.stride[0] + 1
        Wo = (self.W + 2 * self.padding[1] - self.size[1]) // self.stride[1] + 1
        return Ho, Wo


@st.composite
def _pool_axis(draw, max_size, max_stride, max_extra):
    k = draw(st.integers(1, max_size))
    s = draw(st.integers(1, max_stride))
    p = draw(st.integers(0, k // 2))
    smallest = max(1, k - 2 * p)
    size = smallest + draw(st.integers(0, max_extra))
    return size, k, s, p


def pool_cases(
    *, max_batch: int = 2, max_channels: int = 2, max_size: int = 3, max_stride: int = 3, max_extra: int = 4
) -> st.SearchStrategy[PoolCase]:
    """Pooling configurations (window, stride, padding as independent (h, w) pairs)."""
    axis = _pool_axis(max_size, max_stride, max_extra)
    return st.builds(
        lambda n, c, ah, aw, seed: PoolCase(
            N=n,
            C=c,
            H=ah[0],
            W=aw[0],
            size=(ah[1], aw[1]),
            stride=(ah[2], aw[2]),
            padding=(ah[3], aw[3]),
            seed=seed,
        ),
        st.integers(1, max_batch),
        st.integers(1, max_channels),
        axis,
        axis,
        rng_seeds(),
    )


# --------------------------------------------------------------------------- dense


@dataclass(frozen=True)
class DenseCase:
    N: int
    K: int
    M: int
    seed: int


def dense_cases(*, max_batch: int = 4, max_in: int = 6, max_out: int = 5) -> st.SearchStrategy[DenseCase]:
    return st.builds(
        DenseCase,
        N=st.integers(1, max_batch),
        K=st.integers(1, max_in),
        M=st.integers(1, max_out),
        seed=rng_seeds(),
    )


# --------------------------------------------------------------------------- values away from kinks


def spaced_values(rng: np.random.Generator, shape, gap: float = 1e-2) -> np.ndarray:
    """Random-order values on the grid (k + 1/2) * gap, k = -n/2 .. n/2.

    Any two entries differ by at least ``gap`` and every entry is at least ``gap/2``
    from zero, so a finite-difference step ``h << gap`` cannot change which entry of a
    max-pool window is largest, nor the sign seen by ReLU.
    """
    n = int(np.prod(shape))
    k = rng.permutation(n) - n // 2  # distinct integers
    return ((k + 0.5) * gap).reshape(shape)

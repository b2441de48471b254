"""Where the time of cnnlib's fast convolution goes, next to the GEMM floor: a measured breakdown.

    python benchmarks/profile_conv.py                # the large case, float64 and float32, 2 threads
    python benchmarks/profile_conv.py --case mid     # the mid case (padding 1)
    python benchmarks/profile_conv.py --repeats 15
    python benchmarks/profile_conv.py --step         # chapter 09's training step, layer by layer
    python benchmarks/profile_conv.py --step --cold  # ... without the warm-up: the allocator's early state

For one convolution case (the cases of ``bench_layers.py``) it times, interleaved, median over
the repeats:

* cnnlib's ``conv2d_forward`` + ``conv2d_backward`` (the fast path);
* inside that same call, the time spent in its matrix products: ``_conv_fast``'s ``np.matmul``
  is wrapped by a timer for this measurement only (the rest of NumPy is untouched), so
  *products* + *rest* = the whole call, and *rest* is everything that is not a product:
  copies into and out of the block buffers, padding, adds, allocation, argument checks and
  the edit check of X (``_validate.watch`` / ``check_unchanged``);
* the edit check of X on its own (a CRC-32 each way, or a copy and a comparison for an X of
  at most ``_validate.COPY_BYTES``);
* the GEMM floor of ``bench_layers.py`` (the three products over the whole batch's column
  matrix, preallocated);
* a single-threaded ``np.copyto`` of a 64 MB array, the copy rate the rest of the call runs at.

and prints a lower bound: the floor, plus the copies no im2col code can avoid (the column
matrix written once and read once, Z written once, dX written once) at that copy rate, plus
the edit check. With ``--step`` it times chapter 09's training step instead (``bench_layers``'s
``make_train_step``), each layer's forward and backward pass, the loss and the SGD update
apart, median over 1000 steps, with the page faults per step. ``benchmarks/README.md`` quotes
its output.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import cnnlib  # noqa: E402
from cnnlib import _conv_fast, _validate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_layers import CONV_CASES, make_train_step, minor_faults, scheduling, warm_up  # noqa: E402


class _TimedNumPy:
    """NumPy with a timer around ``matmul``: ``_conv_fast.np`` for the duration of a measurement."""

    def __init__(self):
        self.seconds = 0.0

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return np.matmul(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0


def profile(case: str, dtype, repeats: int) -> dict:
    N, C, H, F, pad = CONV_CASES[case]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, C, H, H)).astype(dtype)  # (N, C, H, W)
    W = (rng.standard_normal((F, C, 3, 3)) * 0.1).astype(dtype)  # (F, C, 3, 3)
    b = rng.standard_normal(F).astype(dtype)  # (F,)
    Z, _ = cnnlib.conv2d_forward(X, W, b, padding=pad)  # (N, F, Ho, Wo)
    dZ = rng.standard_normal(Z.shape).astype(dtype)
    CK, L = C * 9, Z.shape[2] * Z.shape[3]
    cols = rng.standard_normal((CK, N * L)).astype(dtype)  # (CK, N*L)
    W2 = np.ascontiguousarray(W.reshape(F, CK))
    W2T = np.ascontiguousarray(W2.T)
    dZ2 = rng.standard_normal((F, N * L)).astype(dtype)
    Z2, dW2, dcols = np.empty((F, N * L), dtype), np.empty((F, CK), dtype), np.empty((CK, N * L), dtype)
    big = np.ones(8 << 20)  # 64 MB
    big_out = np.empty_like(big)
    timed = _TimedNumPy()

    def call():
        _, cache = cnnlib.conv2d_forward(X, W, b, padding=pad)
        return cnnlib.conv2d_backward(dZ, cache)

    def call_timed():
        timed.seconds = 0.0
        _conv_fast.np = timed
        try:
            call()
        finally:
            _conv_fast.np = np
        return timed.seconds

    def floor():
        np.matmul(W2, cols, out=Z2)
        np.matmul(dZ2, cols.T, out=dW2)
        np.matmul(W2T, dZ2, out=dcols)

    def edit_check():
        kept, check = _validate.watch(X, X)
        _validate.check_unchanged("profile", "X", kept, check, "X")

    t = {k: [] for k in ("call", "timed call", "products", "floor", "edit check", "copy 64 MB")}
    for fn in (call, call_timed, floor, edit_check):
        fn()
    for _ in range(repeats):
        for key, fn in (("call", call), ("floor", floor), ("edit check", edit_check)):
            t0 = time.perf_counter()
            fn()
            t[key].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        t["products"].append(call_timed())
        t["timed call"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.copyto(big_out, big)
        t["copy 64 MB"].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in t.items()}
    itemsize = np.dtype(dtype).itemsize
    # bytes no im2col convolution avoids: the columns written and read once, Z and dX written once
    must_move = (2 * CK * N * L + N * F * L + N * C * H * H) * itemsize
    rate = 2 * big.nbytes / med["copy 64 MB"]  # bytes read + written per second, one thread
    bound = med["floor"] + must_move / rate + med["edit check"]
    return dict(case=case, dtype=np.dtype(dtype).name, med=med, must_move=must_move, rate=rate, bound=bound)


def profile_step(steps: int) -> None:
    """Chapter 09's training step as ``train_step`` runs it, with a timer around every part."""
    _, model = make_train_step()
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.images[:64, None] / 16.0  # (64, 1, 8, 8)
    y = digits.target[:64]
    opt = cnnlib.SGD(model, lr=0.05, momentum=0.9)
    parts: dict[str, list[float]] = {}

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        parts.setdefault(name, []).append(time.perf_counter() - t0)
        return out

    def step():
        out = timed("input check", lambda: _validate.as_array("train_step", "X", X, finite=True))
        for i, layer in enumerate(model.layers):
            out = timed(f"{i} {type(layer).__name__} forward", layer.forward, out)
        _, ds = timed("softmax cross-entropy", cnnlib.softmax_cross_entropy, out, y)
        for i in reversed(range(len(model.layers))):
            ds = timed(f"{i} {type(model.layers[i]).__name__} backward", model.layers[i].backward, ds)
        timed("SGD step", opt.step)

    for _ in range(100):
        step()
    parts.clear()
    totals, f0 = [], minor_faults()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        totals.append(time.perf_counter() - t0)
    faults = (minor_faults() - f0) / steps
    print("| part of the step | median ms |")
    print("|---|---:|")
    for name, t in parts.items():
        print(f"| {name} | {np.median(t) * 1e3:.3f} |")
    print(f"| **whole step** (page faults per step: {faults:.0f}) | {np.median(totals) * 1e3:.3f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=list(CONV_CASES), default="large")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step", action="store_true", help="chapter 09's training step, layer by layer")
    ap.add_argument("--cold", action="store_true", help="skip bench_layers' warm-up (the allocator's early state)")
    args = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:  # the environment's thread settings apply
        pass
    warm_up()
    print(
        f"load average {os.getloadavg()[0]:.2f}; {scheduling()}; {args.threads} BLAS threads; medians of {args.repeats}"
    )
    print()
    if args.step:
        profile_step(1000)
        print(f"(load average {os.getloadavg()[0]:.2f} at the end)")
        return 0
    print(
        "| case | dtype | cnnlib fwd+bwd ms | its products ms | the rest ms | of which the edit check of X ms "
        "| GEMM floor ms | unavoidable copies MB at GB/s (1 thread) | lower bound ms | bound / floor | cnnlib / floor |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for dtype in (np.float64, np.float32):
        r = profile(args.case, dtype, args.repeats)
        m = r["med"]
        rest = m["timed call"] - m["products"]
        print(
            f"| {r['case']} | {r['dtype']} | {m['call'] * 1e3:.1f} | {m['products'] * 1e3:.1f} | {rest * 1e3:.1f} "
            f"| {m['edit check'] * 1e3:.1f} | {m['floor'] * 1e3:.1f} | {r['must_move'] / 1e6:.0f} at "
            f"{r['rate'] / 1e9:.1f} | {r['bound'] * 1e3:.1f} | {r['bound'] / m['floor']:.2f} "
            f"| {m['call'] / m['floor']:.2f} |",
            flush=True,
        )
    print(f"(load average {os.getloadavg()[0]:.2f} at the end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

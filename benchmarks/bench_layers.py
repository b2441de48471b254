"""Speed of cnnlib's fast layers, side by side with a NumPy floor and PyTorch CPU.

    python benchmarks/bench_layers.py                 # print the results (the repository is left alone)
    python benchmarks/bench_layers.py --write-readme  # ... and write them into benchmarks/README.md
    python benchmarks/bench_layers.py --quick         # fewer repeats, for a smoke test

What is timed (wall clock, median over repeats, float64 unless a row says float32):

* conv2d forward + backward of the fast path (``conv2d_forward`` / ``conv2d_backward``)
  at a mid size (N=64, C=8, 14x14, F=16, 3x3, padding 0 and padding 1) and a large size
  (N=128, C=16, 32x32, F=32, 3x3, padding 1), in float64 and float32, against
  (a) the GEMM floor: the three matrix products every im2col convolution must do —
      ``W2 @ cols`` (forward), ``dZ @ cols.T`` (dW) and ``W2.T @ dZ`` (the input
      gradient's columns) — each ONE product over the column matrix of the WHOLE batch,
      ``(CK, N*H_out*W_out)``, on preallocated arrays, with nothing else (no im2col, no
      col2im, no allocation);
  (b) PyTorch CPU, when it is installed, in its own process (``_torch_worker.py
      --serve``) so that its thread pool and NumPy's do not fight; its repeats are
      interleaved with NumPy's (one PyTorch step, then one of each NumPy timing, and so on);
* max-pool 2x2 forward + backward (N=128, C=32, 32x32) against PyTorch;
* chapter 09's training step: seed 003's network as the chapter trains it (conv 1->16 3x3
  padding 1, ReLU, 2x2 max-pool, dense 256 -> 10, softmax cross-entropy, SGD with
  momentum 0.9) on a batch of 64 of sklearn's 8x8 digits, float64, with ``Sequential`` and
  ``train_step``, in steps per second, against the same network in PyTorch (interleaved);
* the textbook sizes the explorers recompute on every slider move (5x5 input with a 2x2
  kernel, 6x6 with 3x3), fast and loop versions.

Peak memory: for cnnlib, ``tracemalloc`` (NumPy reports its allocations to it) over one
forward + backward, beyond the inputs; for PyTorch, the growth of the worker process's
peak resident set (``ru_maxrss``) over its first forward + backward.

Warm-up: before anything is timed, one forward + backward of every convolution case and a
few training steps (``warm_up``), so that every case is timed in the allocator state a
process settles into, whatever ran before it; the training step's page faults are counted.

Threads: NumPy's BLAS and PyTorch both get ``--threads`` threads (default 2, this
machine's core count). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines set
to keep old OpenBLAS builds safe and which slow a current NumPy down, are removed from
this process's environment (the script re-executes itself without them) unless
``--keep-blas-env`` is given; the kernel OpenBLAS then runs is printed.

The numbers only mean something on an otherwise idle machine: the load average is
printed at the start and the end, and a busy machine is flagged.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"
WORKER = Path(__file__).resolve().parent / "_torch_worker.py"
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
BEGIN = "<!-- bench_layers.py --write-readme: begin (generated, do not edit by hand) -->"
END = "<!-- bench_layers.py --write-readme: end -->"

CONV_CASES = {  # name: (N, C, H=W, F, padding), 3x3 kernel, stride 1
    "mid, pad 0": (64, 8, 14, 16, 0),
    "mid": (64, 8, 14, 16, 1),
    "large": (128, 16, 32, 32, 1),
}
POOL_CASE = (128, 32, 32, 2)  # N, C, H=W, window (stride = window)
TRAIN_CASE = dict(N=64, H=8, F1=16, M=10, lr=0.05, momentum=0.9)  # chapter 09: 8x8 digits, batch 64
TINY_CASES = {"5x5 input, 2x2 kernel": (5, 2), "6x6 input, 3x3 kernel": (6, 3)}

# Targets, from the project's speed requirements: (case group, dtype, yardstick) -> largest ratio.
TARGETS = {
    ("mid", "float64", "floor"): 2.0,
    ("mid", "float64", "torch"): 1.0,
    ("large", "float64", "floor"): 1.25,
    ("large", "float64", "torch"): 0.85,
    ("large", "float32", "floor"): 1.25,
    ("maxpool", "float64", "torch"): 2.0,
    ("train", "float64", "torch"): 1.0,  # cnnlib steps/s >= PyTorch's
    ("tiny", "float64", "ms"): 1.0,
}


def target(name: str, dtype: str, yardstick: str) -> float | None:
    """The target for a case (``"mid, pad 0"`` counts as ``"mid"``), or None."""
    return TARGETS.get((name.split(",")[0], dtype, yardstick))


# --------------------------------------------------------------------------- environment


def _early_args(argv):
    """The options that must act before NumPy is imported."""
    threads, keep = 2, False
    for k, a in enumerate(argv):
        if a == "--keep-blas-env":
            keep = True
        elif a == "--threads" and k + 1 < len(argv):
            threads = int(argv[k + 1])
        elif a.startswith("--threads="):
            threads = int(a.split("=", 1)[1])
    return threads, keep


def _prepare_environment(argv) -> None:
    """Drop the OpenBLAS core-type overrides (re-executing once) and pin the thread counts."""
    threads, keep = _early_args(argv)
    removed = [k for k in BLAS_OVERRIDES if k in os.environ]
    if removed and not keep:
        env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
        env["_BENCH_LAYERS_REMOVED"] = ",".join(removed)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    for k in THREAD_VARS:
        os.environ[k] = str(threads)


if __name__ == "__main__":
    _prepare_environment(sys.argv[1:])

import numpy as np  # noqa: E402  (after the environment is settled)

sys.path.insert(0, str(ROOT))
import cnnlib  # noqa: E402

# --------------------------------------------------------------------------- timing helpers


def shown_args(args) -> list[str]:
    """The command-line options worth printing in the report (not where a JSON copy went)."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--json":
            skip = True
        elif not a.startswith("--json="):
            out.append(a)
    return out


# On a busy machine a case may take far longer than on an idle one: stop repeating it after
# this many seconds (once MIN_REPEATS are done), so that the whole run stays within minutes.
CASE_SECONDS = 12.0
MIN_REPEATS = 5


def _enough(times: list[float], started: float) -> bool:
    return len(times) >= MIN_REPEATS and time.perf_counter() - started > CASE_SECONDS


def median_time(fn, repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs (after ``warmup`` runs)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    started = time.perf_counter()
    for _ in range(repeats):
        if _enough(times, started):
            break
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), times


def peak_mb(fn) -> float:
    """Peak memory (MB) that NumPy allocates while ``fn()`` runs, by tracemalloc."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return (peak - base) / 1e6


def torch_available() -> str | None:
    """PyTorch's version if it can be imported in a subprocess, else None (without importing it here)."""
    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return None
    except Exception:
        return None
    return "yes"


def run_torch(spec: dict, threads: int) -> dict | None:
    """One case in a fresh PyTorch process; None if PyTorch is missing or the worker fails."""
    env = dict(os.environ)
    for k in THREAD_VARS:
        env[k] = str(threads)
    spec = dict(spec, threads=threads)
    proc = subprocess.run(
        [sys.executable, str(WORKER), json.dumps(spec)], capture_output=True, text=True, env=env, timeout=600
    )
    if proc.returncode != 0:
        print(f"  (PyTorch worker failed for {spec['kind']}: {proc.stderr.strip().splitlines()[-1:]})")
        return None
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if "times" in res:
        res["median"] = float(np.median(res["times"]))
    return res


# OpenBLAS's idle threads spin for a while after a product (and OpenMP's after a parallel region) before
# they sleep: on two cores, the side that runs next would share them with the other side's spinning
# threads. The interleaved loops pause this long at every hand-over between NumPy and PyTorch.
HAND_OVER = 0.15


class TorchWorker:
    """PyTorch in its own process, one timed step per ``run()``: for interleaving with NumPy's repeats."""

    def __init__(self, spec: dict, threads: int):
        env = dict(os.environ)
        for k in THREAD_VARS:
            env[k] = str(threads)
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.proc.stdin.write(json.dumps(dict(spec, threads=threads)) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"PyTorch worker failed: {self.proc.stderr.read().strip().splitlines()[-1:]}")
        self.info = json.loads(line)
        self.times: list[float] = []

    def run(self, k: int = 1) -> list[float]:
        """k timed steps in a row, framed by pauses (``HAND_OVER``) so that neither side's idle threads spin."""
        time.sleep(HAND_OVER)
        self.proc.stdin.write(f"run {k}\n")
        self.proc.stdin.flush()
        times = json.loads(self.proc.stdout.readline())
        time.sleep(HAND_OVER)
        self.times.extend(times)
        return times

    def close(self) -> dict:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        finally:
            self.proc.wait(timeout=60)
        return dict(self.info, times=self.times, median=float(np.median(self.times)) if self.times else None)


def start_torch(spec: dict, threads: int, use_torch: bool) -> TorchWorker | None:
    if not use_torch:
        return None
    try:
        return TorchWorker(spec, threads)
    except (RuntimeError, OSError, ValueError) as e:
        print(f"  (PyTorch worker failed for {spec['kind']}: {e})")
        return None


# --------------------------------------------------------------------------- the cases


def warm_up() -> float:
    """One forward + backward of every convolution case and a few training steps, untimed; returns seconds.

    glibc's malloc hands a large request (at first anything from 128 KiB) to ``mmap``: fresh
    pages that the kernel zeroes on first touch, a page fault per 4 KiB, and ``munmap`` on
    free. Each time such a chunk is freed, it raises that threshold to the chunk's size and
    its trim threshold (free memory at the top of the heap returned to the system) to twice
    that. So the allocator's state, and the page faults every call pays, depend on the largest
    arrays the process has freed so far: without this warm-up the first case timed (mid, pad
    0) ran at 9.8-10.5 ms against 4.6-4.7 ms for the same calls later in the same process
    (interleaved, real-time priority), and how each case fared depended on the cases before
    it. After it, every case runs in the state a process settles into once it has done the
    largest of these layers.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(1)
    for N, C, H, F, pad in CONV_CASES.values():
        for dtype in (np.float64, np.float32):
            X = rng.standard_normal((N, C, H, H)).astype(dtype)  # (N, C, H, W)
            W = (rng.standard_normal((F, C, 3, 3)) * 0.1).astype(dtype)  # (F, C, 3, 3)
            Z, cache = cnnlib.conv2d_forward(X, W, np.zeros(F, dtype), padding=pad)  # (N, F, Ho, Wo)
            cnnlib.conv2d_backward(np.ones_like(Z), cache)
    step, _ = make_train_step()
    for _ in range(20):
        step()
    return time.perf_counter() - started


def minor_faults() -> int:
    """Page faults of this process so far that needed no disk (fresh or reclaimed pages); 0 where unknown."""
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except ImportError:  # not on POSIX
        return 0


def conv_case(name: str, dtype, repeats: int, rng, threads: int = 2, use_torch: bool = False) -> dict:
    N, C, H, F, pad = CONV_CASES[name]
    K = 3
    X = rng.standard_normal((N, C, H, H)).astype(dtype)  # (N, C, H, W)
    W = (rng.standard_normal((F, C, K, K)) * 0.1).astype(dtype)  # (F, C, KH, KW)
    b = rng.standard_normal(F).astype(dtype)  # (F,)
    Z, cache = cnnlib.conv2d_forward(X, W, b, padding=pad)  # (N, F, Ho, Wo)
    dZ = rng.standard_normal(Z.shape).astype(dtype)  # (N, F, Ho, Wo)

    def fwd():
        return cnnlib.conv2d_forward(X, W, b, padding=pad)

    def bwd():
        return cnnlib.conv2d_backward(dZ, cache)

    def both():
        _, c = cnnlib.conv2d_forward(X, W, b, padding=pad)
        return cnnlib.conv2d_backward(dZ, c)

    # the GEMM floor: the same three products on preallocated full-batch operands
    CK, L = C * K * K, Z.shape[2] * Z.shape[3]
    cols = rng.standard_normal((CK, N * L)).astype(dtype)  # (CK, N*Ho*Wo)
    W2 = np.ascontiguousarray(W.reshape(F, CK))  # (F, CK)
    W2T = np.ascontiguousarray(W2.T)  # (CK, F)
    dZ2 = rng.standard_normal((F, N * L)).astype(dtype)  # (F, N*Ho*Wo)
    Z2 = np.empty((F, N * L), dtype)  # (F, N*Ho*Wo)
    dW2 = np.empty((F, CK), dtype)  # (F, CK)
    dcols = np.empty((CK, N * L), dtype)  # (CK, N*Ho*Wo)

    def floor():
        np.matmul(W2, cols, out=Z2)
        np.matmul(dZ2, cols.T, out=dW2)
        np.matmul(W2T, dZ2, out=dcols)

    floor_mb = sum(a.nbytes for a in (cols, W2, W2T, dZ2, Z2, dW2, dcols)) / 1e6
    torch_spec = dict(kind="conv", N=N, C=C, H=H, F=F, K=K, pad=pad, dtype=np.dtype(dtype).name)
    worker = start_torch(torch_spec, threads, use_torch)
    # interleave the timings (PyTorch's too) so that a change in machine load hits them alike
    t_fwd, t_bwd, t_both, t_floor = [], [], [], []
    for fn in (fwd, bwd, both, floor):
        fn()
    if worker is not None:
        worker.run()  # warm-up
        worker.times.clear()
    started = time.perf_counter()
    for _ in range(repeats):
        if _enough(t_floor, started):
            break
        if worker is not None:
            worker.run()
            floor()  # untimed: wakes OpenBLAS's threads after the pause
        for fn, acc in ((fwd, t_fwd), (bwd, t_bwd), (both, t_both), (floor, t_floor)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return dict(
        name=name,
        dtype=np.dtype(dtype).name,
        shape=f"N={N}, C={C}, {H}x{H}, F={F}, 3x3, pad {pad}",
        fwd=float(np.median(t_fwd)),
        bwd=float(np.median(t_bwd)),
        total=float(np.median(t_both)),
        floor=float(np.median(t_floor)),
        mem=peak_mb(both),
        floor_mem=floor_mb,
        times=dict(fwd=t_fwd, bwd=t_bwd, total=t_both, floor=t_floor),
        torch=worker.close() if worker is not None else None,
    )


def pool_case(dtype, repeats: int, rng) -> dict:
    N, C, H, K = POOL_CASE
    A = rng.standard_normal((N, C, H, H)).astype(dtype)  # (N, C, H, W)
    dP = rng.standard_normal((N, C, H // K, H // K)).astype(dtype)  # (N, C, Ho, Wo)

    def both():
        _, cache = cnnlib.maxpool2d_forward(A, size=K)
        return cnnlib.maxpool2d_backward(dP, cache)

    P, cache = cnnlib.maxpool2d_forward(A, size=K)
    t_fwd = median_time(lambda: cnnlib.maxpool2d_forward(A, size=K), repeats)[0]
    t_bwd = median_time(lambda: cnnlib.maxpool2d_backward(dP, cache), repeats)[0]
    return dict(
        name="maxpool",
        dtype=np.dtype(dtype).name,
        shape=f"N={N}, C={C}, {H}x{H}, {K}x{K}",
        fwd=t_fwd,
        bwd=t_bwd,
        total=median_time(both, repeats)[0],
        mem=peak_mb(both),
        torch_spec=dict(kind="maxpool", N=N, C=C, H=H, K=K, dtype=np.dtype(dtype).name),
    )


def make_train_step(dtype=np.float64, seed=9):
    """Chapter 09's training step (seed 003's network, SGD with momentum) on 64 digits; returns (step, model)."""
    from sklearn.datasets import load_digits

    N, H, F1, M, lr, momentum = (TRAIN_CASE[k] for k in ("N", "H", "F1", "M", "lr", "momentum"))
    digits = load_digits()
    X = (digits.images[:N, None] / 16.0).astype(dtype)  # (64, 1, 8, 8), as in notebook 09
    y = digits.target[:N]  # (64,)
    model = cnnlib.Sequential(
        cnnlib.Conv2D(1, F1, 3, padding=1, seed=seed),  # (N, 16, 8, 8)
        cnnlib.ReLU(),
        cnnlib.MaxPool2D(2),  # (N, 16, 4, 4)
        cnnlib.Flatten(),  # (N, 256)
        cnnlib.Dense(F1 * (H // 2) * (H // 2), M, seed=seed + 1),  # (N, 10)
    )
    opt = cnnlib.SGD(model, lr=lr, momentum=momentum)

    def step():
        return cnnlib.train_step(model, opt, X, y, cnnlib.softmax_cross_entropy)

    return step, model


def train_case(repeats: int, threads: int = 2, use_torch: bool = False) -> dict:
    step, model = make_train_step()
    worker = start_torch(dict(kind="train", dtype="float64", digits=True, **TRAIN_CASE), threads, use_torch)
    rounds, per_round = max(3, repeats // 10), 10
    for _ in range(3):
        step()
    if worker is not None:
        worker.run(3)
        worker.times.clear()
    times: list[float] = []
    faults = 0
    started = time.perf_counter()
    for _ in range(rounds):  # interleaved: 10 PyTorch steps, then 10 cnnlib steps, and again
        if _enough(times, started):
            break
        if worker is not None:
            worker.run(per_round)
            step()  # untimed: wakes OpenBLAS's threads after the pause
        f0 = minor_faults()
        for _ in range(per_round):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        faults += minor_faults() - f0
    assert all(p.dtype == np.float64 for p in model.parameters().values())
    return dict(
        name="train",
        dtype="float64",
        shape="chapter 09, batch 64 of 8x8 digits: conv 1->16 3x3 pad 1, ReLU, max-pool 2x2, dense 256->10, "
        "softmax-CE, SGD momentum 0.9",
        total=float(np.median(times)),
        faults=faults / len(times),
        mem=peak_mb(step),
        torch=worker.close() if worker is not None else None,
    )


def tiny_cases(repeats: int, rng) -> list[dict]:
    rows = []
    for label, (H, K) in TINY_CASES.items():
        X = rng.standard_normal((1, 1, H, H))
        W = rng.standard_normal((1, 1, K, K))
        b = rng.standard_normal(1)
        dZ = rng.standard_normal((1, 1, H - K + 1, H - K + 1))
        row = dict(name=label)
        for impl, fwd, bwd in (
            ("fast", cnnlib.conv2d_forward, cnnlib.conv2d_backward),
            ("loop", cnnlib.conv2d_forward_naive, cnnlib.conv2d_backward_naive),
        ):

            def both(fwd=fwd, bwd=bwd, X=X, W=W, b=b, dZ=dZ):
                _, c = fwd(X, W, b)
                return bwd(dZ, c)

            row[impl] = median_time(both, repeats, warmup=20)[0]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- report


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (BLAS kernel unknown)"
    parts = []
    for lib in threadpool_info():
        parts.append(
            f"{lib.get('internal_api')} {lib.get('version')} kernel {lib.get('architecture')}, "
            f"{lib.get('num_threads')} threads ({Path(lib.get('filepath', '')).name})"
        )
    return "; ".join(parts) or "no BLAS found by threadpoolctl"


def scheduling() -> str:
    """The scheduling policy this process runs under (``chrt -f 1`` gives SCHED_FIFO)."""
    try:
        policy = os.sched_getscheduler(0)
    except (AttributeError, OSError):
        return "unknown"
    names = {
        getattr(os, n): n
        for n in ("SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_IDLE")
        if hasattr(os, n)
    }
    name = names.get(policy, str(policy))
    if name in ("SCHED_FIFO", "SCHED_RR"):
        return f"{name} (real-time, priority {os.sched_getparam(0).sched_priority}): other programs wait"
    return f"{name}, nice {os.nice(0)}"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ms(t: float | None) -> str:
    return "–" if t is None else f"{t * 1e3:.2f}"


def mark(ok: bool | None) -> str:
    return "" if ok is None else (" ✓" if ok else " ✗")


def ratio(a, b) -> float | None:
    return None if a is None or b is None else a / b


def fmt_ratio(r: float | None, target: float | None = None, *, higher_is_better=False) -> str:
    if r is None:
        return "–"
    if target is None:
        return f"{r:.2f}×"
    ok = r >= target if higher_is_better else r <= target
    op = "≥" if higher_is_better else "≤"
    return f"{r:.2f}× ({op} {target:g}){mark(ok)}"


def build_report(res: dict, meta: dict) -> str:
    lines = []
    lines.append(f"Run: {meta['date']}, `{meta['command']}`.  ")
    lines.append(f"Machine: {meta['machine']}.  ")
    lines.append(f"Software: {meta['software']}.  ")
    lines.append(f"BLAS (NumPy): {meta['blas']}.  ")
    lines.append(f"PyTorch: {meta['torch']}.  ")
    lines.append(f"Environment: {meta['env']}.  ")
    lines.append(f"Scheduling: {meta['sched']}.  ")
    lines.append(f"Load average: {meta['load_start']:.2f} at the start, {meta['load_end']:.2f} at the end.")
    if meta["busy"] and meta["realtime"]:
        lines.append("")
        lines.append(
            "Other programs were running (load average above 0.5), but this run had real-time priority, "
            "so they waited. What it cannot hold off is the virtual machine's host: see the notes below "
            "this table on how much the large convolution varies from run to run."
        )
    elif meta["busy"]:
        lines.append("")
        lines.append(
            "**Warning: the machine was busy during this run (load average above 0.5); "
            "the times below are not trustworthy.**"
        )
    lines.append("")
    lines.append("### Convolution, forward + backward (fast path)")
    lines.append("")
    lines.append(
        "| case | dtype | cnnlib fwd ms | cnnlib bwd ms | cnnlib fwd+bwd ms | GEMM floor ms | PyTorch ms "
        "| cnnlib / floor | cnnlib / PyTorch | peak MB cnnlib | floor operands MB | peak MB PyTorch |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in res["conv"]:
        t = r.get("torch") or {}
        group = r["name"].split(",")[0]
        rf = fmt_ratio(ratio(r["total"], r["floor"]), target(r["name"], r["dtype"], "floor"))
        rt = fmt_ratio(ratio(r["total"], t.get("median")), target(r["name"], r["dtype"], "torch"))
        tmem = f"{t['maxrss_delta_mb']:.1f}" if "maxrss_delta_mb" in t else "–"
        mem_ok = None if "maxrss_delta_mb" not in t else r["mem"] <= t["maxrss_delta_mb"]
        lines.append(
            f"| {group} ({r['shape']}) | {r['dtype']} | {ms(r['fwd'])} | {ms(r['bwd'])} | {ms(r['total'])} "
            f"| {ms(r['floor'])} | {ms(t.get('median'))} | {rf} | {rt} | {r['mem']:.1f}{mark(mem_ok)} "
            f"| {r['floor_mem']:.1f} | {tmem} |"
        )
    lines.append("")
    lines.append("### Max-pool 2×2, forward + backward")
    lines.append("")
    lines.append(
        "| case | dtype | cnnlib fwd ms | cnnlib bwd ms | cnnlib fwd+bwd ms | PyTorch ms | cnnlib / PyTorch "
        "| peak MB cnnlib | peak MB PyTorch |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in res["pool"]:
        t = r.get("torch") or {}
        rt = fmt_ratio(ratio(r["total"], t.get("median")), target("maxpool", r["dtype"], "torch"))
        tmem = f"{t['maxrss_delta_mb']:.1f}" if "maxrss_delta_mb" in t else "–"
        lines.append(
            f"| {r['shape']} | {r['dtype']} | {ms(r['fwd'])} | {ms(r['bwd'])} | {ms(r['total'])} "
            f"| {ms(t.get('median'))} | {rt} | {r['mem']:.1f} | {tmem} |"
        )
    lines.append("")
    lines.append("### Chapter 09's training step (float64)")
    lines.append("")
    r = res["train"]
    t = r.get("torch") or {}
    ours = 1.0 / r["total"]
    theirs = 1.0 / t["median"] if t.get("median") else None
    lines.append(
        "| network | cnnlib ms/step | cnnlib steps/s | PyTorch steps/s | cnnlib / PyTorch (steps/s) "
        "| peak MB cnnlib | peak MB PyTorch | cnnlib page faults / step |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    tmem = f"{t['maxrss_delta_mb']:.1f}" if "maxrss_delta_mb" in t else "–"
    lines.append(
        f"| {r['shape']} | {ms(r['total'])} | {ours:.0f} | {'–' if theirs is None else f'{theirs:.0f}'} "
        f"| {fmt_ratio(ratio(ours, theirs), target('train', 'float64', 'torch'), higher_is_better=True)} "
        f"| {r['mem']:.1f}{mark(None if 'maxrss_delta_mb' not in t else r['mem'] <= t['maxrss_delta_mb'])} "
        f"| {tmem} | {r['faults']:.0f} |"
    )
    lines.append("")
    lines.append("### Textbook sizes (N = C = F = 1, float64), forward + backward")
    lines.append("")
    lines.append("| case | fast path ms | loop version ms | target |")
    lines.append("|---|---:|---:|---|")
    for r in res["tiny"]:
        ok = (
            r["fast"] * 1e3 < TARGETS[("tiny", "float64", "ms")]
            and r["loop"] * 1e3 < TARGETS[("tiny", "float64", "ms")]
        )
        lines.append(f"| {r['name']} | {r['fast'] * 1e3:.3f} | {r['loop'] * 1e3:.3f} | < 1 ms{mark(ok)} |")
    lines.append("")
    lines.append(
        "Ratios: time ÷ time, so below 1 means cnnlib is faster (for the training step: steps/s ÷ steps/s, "
        "so above 1 means cnnlib is faster). The GEMM floor is the three products over the whole batch's "
        "column matrix at once. PyTorch's repeats are interleaved with cnnlib's and the floor's. Peak memory: "
        "tracemalloc for cnnlib, the growth of the PyTorch worker's peak resident set (VmHWM) for PyTorch; ✓ "
        "on cnnlib's peak when it is no more than PyTorch's. ✓ met, ✗ missed in this run."
    )
    return "\n".join(lines) + "\n"


def write_readme(section_body: str) -> None:
    """Replace the generated block of the '## Layers' section of benchmarks/README.md."""
    block = f"{BEGIN}\n{section_body.rstrip()}\n{END}"
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
        text = pattern.sub(lambda _: block, text, count=1)
    elif re.search(r"^## Layers\s*$", text, re.M):
        text = re.sub(r"^(## Layers\s*\n)", lambda m: m.group(1) + "\n" + block + "\n", text, count=1, flags=re.M)
    else:
        text = text.rstrip() + "\n\n## Layers\n\n" + block + "\n"
    README.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="threads for NumPy's BLAS and for PyTorch (default 2)")
    ap.add_argument("--repeats", type=int, default=15, help="timed repeats per case (default 15)")
    ap.add_argument("--quick", action="store_true", help="3 repeats, for a smoke test")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    ap.add_argument("--write-readme", action="store_true", help="write the results into benchmarks/README.md")
    ap.add_argument("--markdown", action="store_true", help="the same as --write-readme (older name)")
    ap.add_argument("--json", type=Path, help="also save the raw results as JSON")
    ap.add_argument("--keep-blas-env", action="store_true", help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE")
    args = ap.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    started = time.perf_counter()
    load_start = os.getloadavg()[0]

    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(args.threads)
    except ImportError:  # the environment variables set before NumPy's import still apply
        limiter = None

    removed = os.environ.get("_BENCH_LAYERS_REMOVED", "")
    env_note = (
        f"{removed.replace(',', ' and ')} removed for this run"
        if removed
        else (
            "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE kept as set"
            if args.keep_blas_env
            else "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE not set"
        )
    )
    env_note += f"; {args.threads} threads for NumPy and PyTorch"
    print(f"bench_layers: {env_note}")
    print(f"BLAS: {blas_info()}")

    use_torch = not args.no_torch and torch_available() is not None
    torch_meta = "not installed (comparison skipped)" if not use_torch else ""
    if use_torch:
        probe = run_torch({"kind": "probe"}, args.threads)
        if probe is None:
            use_torch = False
            torch_meta = "failed to start (comparison skipped)"
        else:
            torch_meta = (
                f"{probe['torch']}, {probe['threads']} intra-op threads, {probe['interop_threads']} inter-op, "
                f"oneDNN {'on' if probe['mkldnn'] else 'off'}, one process per case"
            )
    elif args.no_torch:
        torch_meta = "skipped (--no-torch)"
    print(f"PyTorch: {torch_meta}")

    print(f"warm-up (allocator state, see warm_up): {warm_up():.1f} s", flush=True)
    rng = np.random.default_rng(0)
    res = {"conv": [], "pool": [], "train": None, "tiny": []}
    for name in CONV_CASES:
        for dtype in (np.float64, np.float32):
            r = conv_case(name, dtype, repeats, rng, args.threads, use_torch)
            t = (r.get("torch") or {}).get("median")
            print(
                f"conv {name:5s} {r['dtype']}: fwd {ms(r['fwd'])} bwd {ms(r['bwd'])} fwd+bwd {ms(r['total'])} ms | "
                f"floor {ms(r['floor'])} ms ({r['total'] / r['floor']:.2f}x) | PyTorch {ms(t)} ms"
                + (f" ({r['total'] / t:.2f}x)" if t else "")
                + f" | peak {r['mem']:.1f} MB",
                flush=True,
            )
            res["conv"].append(r)
    for dtype in (np.float64, np.float32):
        r = pool_case(dtype, repeats, rng)
        if use_torch:
            r["torch"] = run_torch(dict(r["torch_spec"], repeats=repeats), args.threads)
        t = (r.get("torch") or {}).get("median")
        print(
            f"maxpool {r['dtype']}: fwd {ms(r['fwd'])} bwd {ms(r['bwd'])} fwd+bwd {ms(r['total'])} ms | "
            f"PyTorch {ms(t)} ms" + (f" ({r['total'] / t:.2f}x)" if t else ""),
            flush=True,
        )
        res["pool"].append(r)
    train_repeats = max(10, 10 * repeats)
    r = train_case(train_repeats, args.threads, use_torch)
    t = (r.get("torch") or {}).get("median")
    print(
        f"train step: cnnlib {1 / r['total']:.0f} steps/s, {r['faults']:.0f} page faults/step"
        + (f" | PyTorch {1 / t:.0f} steps/s ({t / r['total']:.2f}x)" if t else ""),
        flush=True,
    )
    res["train"] = r
    res["tiny"] = tiny_cases(max(50, 20 * repeats), rng)
    for r in res["tiny"]:
        print(f"tiny {r['name']}: fast {r['fast'] * 1e3:.3f} ms, loop {r['loop'] * 1e3:.3f} ms")

    load_end = os.getloadavg()[0]
    try:
        import importlib.metadata as md

        torch_version = md.version("torch") if use_torch else None
    except Exception:
        torch_version = None
    meta = dict(
        date=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        command=" ".join(
            ["python benchmarks/bench_layers.py", *shown_args(argv if argv is not None else sys.argv[1:])]
        ),
        machine=f"{cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        software=f"Python {platform.python_version()}, NumPy {np.__version__}"
        + (f", PyTorch {torch_version}" if torch_version else ""),
        blas=blas_info(),
        torch=torch_meta,
        env=env_note,
        sched=scheduling(),
        load_start=load_start,
        load_end=load_end,
        busy=max(load_start, load_end) > 0.5,
        realtime=scheduling().startswith(("SCHED_FIFO", "SCHED_RR")),
    )
    report = build_report(res, meta)
    print()
    print(report)
    print(f"(whole run: {time.perf_counter() - started:.0f} s)")
    if meta["busy"] and not meta["realtime"]:
        print("bench_layers: WARNING the load average was above 0.5: other programs were running.")
    if args.write_readme or args.markdown:
        write_readme(report)
        print(f"(written to {README.relative_to(ROOT)}, section 'Layers')")
    if args.json:
        args.json.write_text(json.dumps(dict(meta=meta, results=res), indent=1, default=str))
    if limiter is not None:
        limiter.restore_original_limits()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

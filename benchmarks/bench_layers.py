"""Speed of cnnlib's fast layers, side by side with a NumPy floor and PyTorch CPU.

    python benchmarks/bench_layers.py              # print the results
    python benchmarks/bench_layers.py --markdown   # ... and write them into benchmarks/README.md
    python benchmarks/bench_layers.py --quick      # fewer repeats, for a smoke test

What is timed (wall clock, median over repeats, float64 unless a row says float32):

* conv2d forward + backward of the fast path (``conv2d_forward`` / ``conv2d_backward``)
  at a mid size (N=64, C=8, 14x14, F=16, 3x3, padding 1) and a large size (N=128,
  C=16, 32x32, F=32, 3x3, padding 1), in float64 and float32, against
  (a) the GEMM floor: the three matrix products every im2col convolution must do —
      ``W2 @ cols`` (forward), ``dZ @ cols.T`` (dW) and ``W2.T @ dZ`` (the input
      gradient's columns) — on preallocated arrays of the full batch, with nothing
      else (no im2col, no col2im, no allocation);
  (b) PyTorch CPU, when it is installed, each case in its own process
      (``_torch_worker.py``) so that its thread pool and NumPy's do not fight;
* max-pool 2x2 forward + backward (N=128, C=32, 32x32) against PyTorch;
* one SGD step of a small CNN (conv 1->8 3x3 padding 1, ReLU, 2x2 max-pool, dense -> 10,
  softmax cross-entropy; a batch of 64 28x28 images, float32) with cnnlib's functional
  API, in steps per second, against the same network in PyTorch;
* the textbook sizes the explorers recompute on every slider move (5x5 input with a 2x2
  kernel, 6x6 with 3x3), fast and loop versions.

Peak memory: for cnnlib, ``tracemalloc`` (NumPy reports its allocations to it) over one
forward + backward, beyond the inputs; for PyTorch, the growth of the worker process's
peak resident set (``ru_maxrss``) over its first forward + backward.

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
BEGIN = "<!-- bench_layers.py --markdown: begin (generated, do not edit by hand) -->"
END = "<!-- bench_layers.py --markdown: end -->"

CONV_CASES = {  # name: (N, C, H=W, F), 3x3 kernel, padding 1, stride 1
    "mid": (64, 8, 14, 16),
    "large": (128, 16, 32, 32),
}
POOL_CASE = (128, 32, 32, 2)  # N, C, H=W, window (stride = window)
TRAIN_CASE = dict(N=64, H=28, F1=8, M=10, lr=0.01)
TINY_CASES = {"5x5 input, 2x2 kernel": (5, 2), "6x6 input, 3x3 kernel": (6, 3)}

# Targets (float64 unless stated), from the project's speed requirements.
TARGETS = {
    ("large", "floor"): 1.5,
    ("large", "torch"): 1.0,
    ("mid", "floor"): 3.0,
    ("mid", "torch"): 2.0,
    ("maxpool", "torch"): 2.0,
    ("train", "torch"): 0.8,  # cnnlib steps/s >= 0.8 x PyTorch's
    ("tiny", "ms"): 1.0,
}


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


# --------------------------------------------------------------------------- the cases


def conv_case(name: str, dtype, repeats: int, rng) -> dict:
    N, C, H, F = CONV_CASES[name]
    K, pad = 3, 1
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
    # interleave the three timings so that a change in machine load hits them alike
    t_fwd, t_bwd, t_both, t_floor = [], [], [], []
    for fn in (fwd, bwd, both, floor):
        fn()
    started = time.perf_counter()
    for _ in range(repeats):
        if _enough(t_floor, started):
            break
        for fn, acc in ((fwd, t_fwd), (bwd, t_bwd), (both, t_both), (floor, t_floor)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return dict(
        name=name,
        dtype=np.dtype(dtype).name,
        shape=f"N={N}, C={C}, {H}x{H}, F={F}, 3x3, pad 1",
        fwd=float(np.median(t_fwd)),
        bwd=float(np.median(t_bwd)),
        total=float(np.median(t_both)),
        floor=float(np.median(t_floor)),
        mem=peak_mb(both),
        floor_mem=floor_mb,
        times=dict(fwd=t_fwd, bwd=t_bwd, total=t_both, floor=t_floor),
        torch_spec=dict(kind="conv", N=N, C=C, H=H, F=F, K=K, pad=pad, dtype=np.dtype(dtype).name),
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


def make_train_step(dtype=np.float32, seed=0):
    """One SGD step of the small CNN with cnnlib's functional API; returns (step, params)."""
    N, H, F1, M, lr = (TRAIN_CASE[k] for k in ("N", "H", "F1", "M", "lr"))
    rng = np.random.default_rng(seed)
    K = F1 * (H // 2) * (H // 2)
    params = {
        "W": (rng.standard_normal((F1, 1, 3, 3)) * np.sqrt(2 / 9)).astype(dtype),  # (F1, 1, 3, 3)
        "b": np.zeros(F1, dtype),  # (F1,)
        "U": (rng.standard_normal((M, K)) * np.sqrt(1 / K)).astype(dtype),  # (M, K)
        "c": np.zeros(M, dtype),  # (M,)
    }
    X = rng.standard_normal((N, 1, H, H)).astype(dtype)  # (N, 1, 28, 28)
    y = rng.integers(0, M, N)  # (N,)

    def step():
        Z, conv_c = cnnlib.conv2d_forward(X, params["W"], params["b"], padding=1)  # (N, F1, 28, 28)
        A, relu_c = cnnlib.relu_forward(Z)
        P, pool_c = cnnlib.maxpool2d_forward(A, size=2)  # (N, F1, 14, 14)
        p, flat_c = cnnlib.flatten_forward(P)  # (N, K)
        s, dense_c = cnnlib.dense_forward(p, params["U"], params["c"])  # (N, M)
        loss, ds = cnnlib.softmax_cross_entropy(s, y)
        dp, dU, dc = cnnlib.dense_backward(ds, dense_c)
        dA = cnnlib.maxpool2d_backward(cnnlib.flatten_backward(dp, flat_c), pool_c)
        dX, dW, db = cnnlib.conv2d_backward(cnnlib.relu_backward(dA, relu_c), conv_c)
        for name, g in (("W", dW), ("b", db), ("U", dU), ("c", dc)):
            params[name] -= lr * g  # in place; dtype kept
        return loss

    return step, params


def train_case(repeats: int) -> dict:
    step, params = make_train_step()
    t, _ = median_time(step, repeats, warmup=3)
    assert all(p.dtype == np.float32 for p in params.values())
    return dict(
        name="train",
        dtype="float32",
        shape="batch 64 of 28x28: conv 1->8 3x3 pad 1, ReLU, max-pool 2x2, dense 1568->10, softmax-CE",
        total=t,
        mem=peak_mb(step),
        torch_spec=dict(kind="train", dtype="float32", **TRAIN_CASE),
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
        is64 = r["dtype"] == "float64"
        rf = fmt_ratio(ratio(r["total"], r["floor"]), TARGETS.get((r["name"], "floor")) if is64 else None)
        rt = fmt_ratio(ratio(r["total"], t.get("median")), TARGETS.get((r["name"], "torch")) if is64 else None)
        tmem = f"{t['maxrss_delta_mb']:.1f}" if "maxrss_delta_mb" in t else "–"
        lines.append(
            f"| {r['name']} ({r['shape']}) | {r['dtype']} | {ms(r['fwd'])} | {ms(r['bwd'])} | {ms(r['total'])} "
            f"| {ms(r['floor'])} | {ms(t.get('median'))} | {rf} | {rt} | {r['mem']:.1f} | {r['floor_mem']:.1f} "
            f"| {tmem} |"
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
        is64 = r["dtype"] == "float64"
        rt = fmt_ratio(ratio(r["total"], t.get("median")), TARGETS[("maxpool", "torch")] if is64 else None)
        tmem = f"{t['maxrss_delta_mb']:.1f}" if "maxrss_delta_mb" in t else "–"
        lines.append(
            f"| {r['shape']} | {r['dtype']} | {ms(r['fwd'])} | {ms(r['bwd'])} | {ms(r['total'])} "
            f"| {ms(t.get('median'))} | {rt} | {r['mem']:.1f} | {tmem} |"
        )
    lines.append("")
    lines.append("### Training step of a small CNN (float32)")
    lines.append("")
    r = res["train"]
    t = r.get("torch") or {}
    ours = 1.0 / r["total"]
    theirs = 1.0 / t["median"] if t.get("median") else None
    lines.append(
        "| network | cnnlib ms/step | cnnlib steps/s | PyTorch steps/s | cnnlib / PyTorch (steps/s) "
        "| peak MB cnnlib | peak MB PyTorch |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    tmem = f"{t['maxrss_delta_mb']:.1f}" if "maxrss_delta_mb" in t else "–"
    lines.append(
        f"| {r['shape']} | {ms(r['total'])} | {ours:.0f} | {'–' if theirs is None else f'{theirs:.0f}'} "
        f"| {fmt_ratio(ratio(ours, theirs), TARGETS[('train', 'torch')], higher_is_better=True)} "
        f"| {r['mem']:.1f} | {tmem} |"
    )
    lines.append("")
    lines.append("### Textbook sizes (N = C = F = 1, float64), forward + backward")
    lines.append("")
    lines.append("| case | fast path ms | loop version ms | target |")
    lines.append("|---|---:|---:|---|")
    for r in res["tiny"]:
        ok = r["fast"] * 1e3 < TARGETS[("tiny", "ms")] and r["loop"] * 1e3 < TARGETS[("tiny", "ms")]
        lines.append(f"| {r['name']} | {r['fast'] * 1e3:.3f} | {r['loop'] * 1e3:.3f} | < 1 ms{mark(ok)} |")
    lines.append("")
    lines.append(
        "Ratios: time ÷ time, so below 1 means cnnlib is faster (for the training step: steps/s ÷ steps/s, "
        "so above 1 means cnnlib is faster). Targets are checked for float64 (and float32 for the training "
        "step); ✓ met, ✗ missed in this run."
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
    ap.add_argument("--markdown", action="store_true", help="write the results into benchmarks/README.md")
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

    rng = np.random.default_rng(0)
    res = {"conv": [], "pool": [], "train": None, "tiny": []}
    for name in CONV_CASES:
        for dtype in (np.float64, np.float32):
            r = conv_case(name, dtype, repeats, rng)
            if use_torch:
                r["torch"] = run_torch(dict(r["torch_spec"], repeats=repeats), args.threads)
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
    train_repeats = max(10, 4 * repeats)
    r = train_case(train_repeats)
    if use_torch:
        r["torch"] = run_torch(dict(r["torch_spec"], repeats=train_repeats), args.threads)
    t = (r.get("torch") or {}).get("median")
    print(
        f"train step: cnnlib {1 / r['total']:.0f} steps/s"
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
    if args.markdown:
        write_readme(report)
        print(f"(written to {README.relative_to(ROOT)}, section 'Layers')")
    if args.json:
        args.json.write_text(json.dumps(dict(meta=meta, results=res), indent=1, default=str))
    if limiter is not None:
        limiter.restore_original_limits()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

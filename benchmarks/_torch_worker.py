"""PyTorch side of ``bench_layers.py``, run in its own process (one process per case).

PyTorch's OpenMP/MKL thread pool and NumPy's OpenBLAS pool slow each other down when
they live in one process, so ``bench_layers.py`` starts this script with the thread
count in the environment and reads one JSON line back::

    python benchmarks/_torch_worker.py '{"kind": "conv", "N": 64, "C": 8, "H": 14, "F": 16,
                                         "K": 3, "pad": 1, "dtype": "float64",
                                         "repeats": 7, "threads": 2}'

kinds: ``conv`` (forward + backward of F.conv2d, gradients for X, W and b),
``maxpool`` (forward + backward of F.max_pool2d), ``train`` (one SGD step of chapter 09's
CNN on 8x8 digits, as ``bench_layers.py`` times it in cnnlib), ``probe`` (versions and
thread settings only).

``python benchmarks/_torch_worker.py --serve`` keeps the process alive so that
``bench_layers.py`` can interleave PyTorch's repeats with NumPy's: it reads the spec as
one JSON line on stdin, answers with a JSON line (versions, ``maxrss_delta_mb``), then
for every line ``run k`` times k steps and answers their seconds (a JSON list), until ``quit``.

The answer holds the per-repeat wall-clock times in seconds, the thread counts torch
used, and ``maxrss_delta_mb``: how much the process's peak resident memory grew during
the first (untimed) run, beyond the inputs (the peak counter is reset just before it,
through /proc/self/clear_refs) — the closest thing to tracemalloc for PyTorch's own
allocator.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (resettable), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _time(step, repeats: int) -> tuple[list[float], float]:
    """Run ``step`` once untimed (peak-memory probe), then ``repeats`` timed runs."""
    _reset_peak()  # so that the peak of importing torch does not hide the step's own
    before = _peak_mb()
    step()
    delta = _peak_mb() - before
    times: list[float] = []
    started = time.perf_counter()
    for _ in range(repeats):
        if len(times) >= 5 and time.perf_counter() - started > 12.0:  # as in bench_layers.py
            break
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times, delta


def main(spec: dict) -> dict:
    import torch
    import torch.nn.functional as F

    threads = int(spec.get("threads", 1))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }
    kind = spec["kind"]
    if kind == "probe":
        out["config"] = torch.__config__.parallel_info()
        return out
    dtype = getattr(torch, spec.get("dtype", "float64"))
    repeats = int(spec.get("repeats", 7))

    if kind == "conv":
        N, C, H, Fn, K, pad = (spec[k] for k in ("N", "C", "H", "F", "K", "pad"))
        X = torch.randn(N, C, H, H, dtype=dtype, requires_grad=True)
        W = torch.randn(Fn, C, K, K, dtype=dtype, requires_grad=True)
        b = torch.randn(Fn, dtype=dtype, requires_grad=True)
        Ho = H + 2 * pad - K + 1
        dZ = torch.randn(N, Fn, Ho, Ho, dtype=dtype)

        def step():
            Z = F.conv2d(X, W, b, padding=pad)
            return torch.autograd.grad(Z, (X, W, b), dZ)

    elif kind == "maxpool":
        N, C, H, K = (spec[k] for k in ("N", "C", "H", "K"))
        A = torch.randn(N, C, H, H, dtype=dtype, requires_grad=True)
        dP = torch.randn(N, C, H // K, H // K, dtype=dtype)

        def step():
            P = F.max_pool2d(A, K)
            return torch.autograd.grad(P, A, dP)

    elif kind == "train":
        N, H, F1, M, lr, momentum = (spec[k] for k in ("N", "H", "F1", "M", "lr", "momentum"))
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, F1, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(F1 * (H // 2) * (H // 2), M),
        ).to(dtype)
        if spec.get("digits"):  # the same batch as bench_layers.py: the first N of sklearn's 8x8 digits
            from sklearn.datasets import load_digits

            digits = load_digits()
            X = torch.tensor(digits.images[:N, None] / 16.0, dtype=dtype)
            y = torch.tensor(digits.target[:N])
        else:
            X = torch.randn(N, 1, H, H, dtype=dtype)
            y = torch.randint(0, M, (N,))
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(X), y)
            loss.backward()
            opt.step()
            return loss

    else:
        raise ValueError(f"_torch_worker: unknown kind {kind!r}")

    if spec.get("serve"):
        return out, step
    times, delta = _time(step, repeats)
    out.update(times=times, maxrss_delta_mb=delta)
    return out


def serve() -> None:
    """Interleaved mode: the spec on stdin, then one timed step per ``run`` line."""
    spec = dict(json.loads(sys.stdin.readline()), serve=True)
    out, step = main(spec)
    _reset_peak()
    before = _peak_mb()
    step()  # the peak-memory probe, untimed
    out["maxrss_delta_mb"] = _peak_mb() - before
    print(json.dumps(out), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "run":
            break
        times = []
        for _ in range(int(words[1]) if len(words) > 1 else 1):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        print(json.dumps(times), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        print(json.dumps(main(json.loads(sys.argv[1]))))

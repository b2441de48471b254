"""How long a slider move takes, from the new value to new PNG bytes in the Image widget.

For every explorer in cnnlib.widgets, set control values programmatically, exactly as
a reader's slider does, and time each ``control.value = v`` (the observer recomputes
with cnnlib, repaints the cached figure and encodes the PNG inside that call). The
budget is a median of 30 ms per move at the book's sizes.

    python benchmarks/bench_widgets.py                # in this process; prints the table
    python benchmarks/bench_widgets.py --kernel       # inside a real IPython kernel as well
    python benchmarks/bench_widgets.py --write-readme # ... and writes it into benchmarks/README.md

With ``--write-readme`` the table goes to benchmarks/README.md, section "Widgets" (other
sections untouched); without it nothing in the repository is changed.
Wall-clock and CPU time are both reported: on a busy machine the wall clock includes
time spent waiting for a core, the CPU time does not.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"
BUDGET_MS = 30.0

# explorer -> (control, values to cycle through); several controls per explorer so that
# both cheap moves (a window position) and full recomputations (a kernel entry) count
PLAN = {
    "conv_forward_explorer": [
        ("position", list(range(16))),
        ("W[1,1]", [0.5, -1.0, 2.0, 0.0]),
        ("X[2,3]", [1.0, 0.0, -0.5]),
        ("padding", [0, 1, 2, 1]),
    ],
    "conv_backward_explorer": [
        ("row", [0, 1, 2, 1]),
        ("dZ[1,1]", [0.25, -0.5, 1.0]),
        ("W[0,2]", [1.0, -1.0, 0.5]),
        ("explain", ["dX", "dW"]),
    ],
    "pool_backward_explorer": [
        ("window", [0, 1, 2, 3]),
        ("A[1,1]", [2.0, 5.0, 0.0]),
        ("stride", [1, 2]),
        ("mode", ["average", "max"]),
    ],
    "pipeline_explorer": [
        ("pixel value", [0.0, 0.5, 1.0, 1.5]),
        ("W1[1,1]", [0.5, 1.0, -0.5]),
        ("y", [0, 1]),
        ("B1", [-1.0, 0.0, 0.5]),
    ],
    "dense_softmax_explorer": [
        ("s[0]", [2.0, 0.0, -1.0, 3.5]),
        ("y", [1, 2, 0]),
        ("mode", ["layer", "logits"]),
    ],
    "channels_explorer": [
        ("column", [0, 1, 2, 1]),
        ("channel", [1, 0]),
        ("W[1,1]", [0.5, -1.0, 2.0]),
        ("dZ", ["random draw 1", "given δZ", "one entry of filter 0"]),
        ("explain", ["dX", "dW"]),
    ],
    "digits_explorer": [
        ("digit", [0, 1, 2, 3]),
        ("loss of", ["pred", "true", 3]),
    ],
    "im2col_explorer": [
        ("column", list(range(16))),
        ("stride", [2, 1]),
        ("padding", [0, 1]),
        ("dilation", [2, 1]),
    ],
    "depth_explorer": [
        ("depth", [12, 20, 30, 5]),
        ("gain", [1.0, 1.4, 0.7]),
        ("activation", ["tanh", "sigmoid", "relu"]),
        ("batch norm", ["on", "off"]),
        ("residual", ["on", "off"]),
    ],
    "conv_transpose_explorer": [
        ("row", [0, 1, 2, 1]),
        ("column", [0, 1, 2, 1]),
        ("X[1,1]", [2.0, -1.0, 0.5]),
        ("stride", [1, 2, 3]),
        ("padding", [0, 1]),
    ],
    "graph_explorer": [
        ("step", [0, 1, 2, 3, 4, 5, 6]),
        ("a", [2.0, -1.0, 0.5]),
        ("expression", ["L = relu(a·b + c)·a", "L = d·d + c·d, d = a·b", "L = (a·b + a)·c"]),
        ("accumulate", ["=", "+="]),
    ],
}


def _arguments(name):
    """The explorer's arguments: none, except notebook 09's network (16 filters, untrained) and 450 test digits."""
    if name != "digits_explorer":
        return ()
    from cnnlib import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential

    rng = np.random.default_rng(9)
    model = Sequential(Conv2D(1, 16, 3, padding=1, seed=9), ReLU(), MaxPool2D(2), Flatten(), Dense(256, 10, seed=10))
    return model, rng.uniform(0, 1, size=(450, 1, 8, 8)), rng.integers(0, 10, size=450)


def measure(moves_per_control: int = 40, warmup: int = 5) -> dict:
    """{explorer: (wall_ms array, cpu_ms array, image size (w, h))}."""
    import matplotlib

    matplotlib.use("Agg")
    from cnnlib import widgets

    results = {}
    for name, plan in PLAN.items():
        ex = getattr(widgets, name)(*_arguments(name))
        wall, cpu = [], []
        for control, values in plan:
            w = ex.controls[control]
            for k in range(warmup + moves_per_control):
                v = values[k % len(values)]
                if getattr(w, "number", w.value) == v:  # no change, no callback: take the next value
                    v = values[(k + 1) % len(values)]
                t0, c0 = time.perf_counter(), time.process_time()
                w.value = v
                t1, c1 = time.perf_counter(), time.process_time()
                if ex.last_exception is not None:
                    raise RuntimeError(f"{name}: {control} = {v!r} failed: {ex.last_exception!r}")
                if k >= warmup:
                    wall.append(1e3 * (t1 - t0))
                    cpu.append(1e3 * (c1 - c0))
        png = bytes(ex.image.value)
        size = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))
        results[name] = (np.array(wall), np.array(cpu), size)
    return results


def measure_in_kernel(moves_per_control: int = 40) -> dict:
    """Run ``measure`` inside a fresh IPython kernel (real comms: every image is sent as a message)."""
    import json

    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT), env=env)
    try:
        code = (
            f"import sys, json; sys.path.insert(0, {str(ROOT)!r})\n"
            "from benchmarks.bench_widgets import measure\n"
            f"_r = measure({int(moves_per_control)})\n"
            "print('@@' + json.dumps({k: [w.tolist(), c.tolist(), s] for k, (w, c, s) in _r.items()}))\n"
        )
        out = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = kc.execute_interactive(code, timeout=600, output_hook=hook)
        text = "".join(out)
        if reply["content"]["status"] != "ok" or "@@" not in text:
            raise RuntimeError(f"benchmark failed in the kernel:\n{text}")
        data = json.loads(text.split("@@", 1)[1].strip().splitlines()[0])
        return {k: (np.array(w), np.array(c), tuple(s)) for k, (w, c, s) in data.items()}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def table(results: dict, title: str) -> str:
    lines = [
        f"{title}",
        "",
        "| explorer | image (px) | moves | median wall (ms) | p90 wall (ms) | median CPU (ms) | p90 CPU (ms) "
        "| ≤ 30 ms |",
        "|---|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for name, (wall, cpu, size) in results.items():
        ok = "yes" if np.median(wall) <= BUDGET_MS else ("CPU yes" if np.median(cpu) <= BUDGET_MS else "no")
        lines.append(
            f"| `{name}` | {size[0]}×{size[1]} | {wall.size} | {np.median(wall):.1f} | {np.percentile(wall, 90):.1f} "
            f"| {np.median(cpu):.1f} | {np.percentile(cpu, 90):.1f} | {ok} |"
        )
    return "\n".join(lines)


def machine() -> str:
    import ipywidgets
    import matplotlib

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the start; "
        f"Python {platform.python_version()}, NumPy {np.__version__}, matplotlib {matplotlib.__version__}, "
        f"ipywidgets {ipywidgets.__version__}"
    )


def write_section(body: str) -> None:
    """Replace (or append) the '## Widgets' section of benchmarks/README.md, leaving the rest alone."""
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    section = f"## Widgets\n\n{body.strip()}\n"
    pattern = re.compile(r"^## Widgets\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    README.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=40, help="timed moves per control (default 40)")
    ap.add_argument("--kernel", action="store_true", help="also measure inside a real IPython kernel")
    ap.add_argument("--write-readme", action="store_true", help="write the table into benchmarks/README.md")
    ap.add_argument("--no-write", action="store_true", help="print only (the default; kept for old scripts)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    info = machine()
    parts = [table(measure(args.moves), "In-process (the explorer's callback, no frontend):")]
    if args.kernel:
        parts.append(table(measure_in_kernel(args.moves), "Inside an IPython kernel (images sent as comm messages):"))
    body = (
        "`python benchmarks/bench_widgets.py [--kernel]`: time from setting a control's value to new PNG bytes "
        "in the explorer's `ipywidgets.Image` (cnnlib computation, repaint of the cached figure, PNG encoding). "
        f"Budget: median ≤ {BUDGET_MS:.0f} ms per move. Wall-clock time includes waiting for a core when the "
        "machine is busy (see the load average below); CPU time is what the move itself costs. A change of "
        "padding, stride or window size that changes the picture's layout (its size, where a panel sits) rebuilds the "
        "cached figure once "
        "(the p90 of those explorers).\n\n" + "\n\n".join(parts) + f"\n\nMachine: {info}.\n"
    )
    print(body)
    if args.write_readme and not args.no_write:
        write_section(body)
        print(f"(written to {README.relative_to(ROOT)}, section 'Widgets')")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

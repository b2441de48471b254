"""PyTorch for the parity tests: imported when installed, skipped when not (unless CI requires it).

``torch = import_torch()`` at the top of a parity module: without PyTorch the module is skipped,
or fails with ``CNNLIB_REQUIRE_TORCH=1`` (CI), so the comparisons can never be skipped silently there.
"""

from __future__ import annotations

import os

import pytest


def import_torch():
    """The ``torch`` module, single-threaded, or a module-level skip (a failure under CNNLIB_REQUIRE_TORCH=1)."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CNNLIB_REQUIRE_TORCH") == "1":
            pytest.fail(
                "CNNLIB_REQUIRE_TORCH=1 but PyTorch is not installed: the parity tests must run "
                "(install it with `make test TORCH=1`)",
                pytrace=False,
            )
        pytest.skip("PyTorch is optional (not a cnnlib dependency); parity tests need it", allow_module_level=True)
    torch.set_num_threads(1)
    return torch

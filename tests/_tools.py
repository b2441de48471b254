"""Import a script from tools/ (not a package) as a module, once per test session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def load_tool(name: str, module: str | None = None):
    """``tools/<name>.py`` as a module, registered in ``sys.modules`` (dataclasses look their module up there).

    ``module``: the name to register it under when ``name`` is taken by another module (``site`` is
    a standard-library module that is always imported).
    """
    module = module or name
    if module not in sys.modules:
        spec = importlib.util.spec_from_file_location(module, TOOLS / f"{name}.py")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[module] = loaded
        spec.loader.exec_module(loaded)
    return sys.modules[module]

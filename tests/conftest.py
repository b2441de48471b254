"""Shared pytest setup. Markers and warning filters live in pyproject.toml ([tool.pytest.ini_options])."""

import os

# Figures are drawn off-screen in tests, whatever backend the machine would pick.
os.environ.setdefault("MPLBACKEND", "Agg")

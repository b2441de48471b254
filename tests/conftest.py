"""Shared pytest setup. Markers and warning filters live in pyproject.toml ([tool.pytest.ini_options])."""

import os

# Figures are drawn off-screen in tests, whatever backend the machine would pick.
os.environ.setdefault("MPLBACKEND", "Agg")

# Hypothesis draws the same examples on every run (derandomize): a run on a fresh clone checks exactly
# what CI checks, and a failure is reproducible. HYPOTHESIS_PROFILE=random explores new examples.
# (Some environments, e.g. the instructor edition's, run a few tests without Hypothesis.)
try:
    from hypothesis import settings
except ImportError:
    settings = None
if settings is not None:
    settings.register_profile("book", derandomize=True, print_blob=True)
    settings.register_profile("random", derandomize=False, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "book"))

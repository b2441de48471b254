"""One notation: the symbols of chapter 00's table mean one thing in every chapter, docstring and explorer label.

The table (chapter 00, §0.3) keeps seed 003's letters: P is the pooled map, K the kernel size, M the
number of classes. Padding is written pad, the pooling window R × R, the flattened length Q and the
convolution written as a matrix T. These checks look for the old meanings where a pattern can find them:
in the chapters' prose and code comments, in cnnlib's docstrings and messages, and on the explorers'
controls.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))

# each: what the table says instead, and a pattern that finds the old meaning
RETIRED = {
    "padding is pad, never P (P is the pooled map)": re.compile(
        r"(?:padding|pad)[ \t]*\$?\\?\(?[ \t]*P\b(?![\w\[])|\b2[ \t]*P\b(?![\w(])|\bP[ \t]+rings\b|\$P\$ rings"
    ),
    "the flattened length is Q, not K": re.compile(r"\((?:N|M),\s*K\)|\bK\s+inputs\b|\bK\s+features\b"),
    "the pooling window is R, not K": re.compile(
        r"window(?:s)?\s+(?:size\s+)?\$?K\b|\$?K\s*(?:\\times|×)\s*K\$?\s+(?:pooling\s+)?windows?"
    ),
    "the convolution as a matrix is T, not M": re.compile(
        r"=\s*M\s*\\?,?\s*\\operatorname\{vec\}|=\s*M\s*@\s*vec|matrix\s+\$M\$|matrix ``M``"
    ),
}


def _hits(text: str) -> list[str]:
    found = []
    for rule, pattern in RETIRED.items():
        for m in pattern.finditer(text):
            context = text[max(0, m.start() - 50) : m.end() + 30].replace("\n", " ")
            found.append(f"{rule}: …{context}…")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_use_the_table_symbols(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = [f"cell {i}: {hit}" for i, cell in enumerate(nb["cells"]) for hit in _hits("".join(cell["source"]))]
    assert not problems, "\n".join(problems)


def _strings(path: Path) -> list[str]:
    """Docstrings and string literals (error messages, labels) of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


@pytest.mark.parametrize(
    "path", sorted((ROOT / "cnnlib").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT / "cnnlib"))
)
def test_library_docstrings_and_messages_use_the_table_symbols(path):
    problems = [hit for s in _strings(path) for hit in _hits(s)]
    assert not problems, "\n".join(problems)


def test_explorer_controls_use_the_table_symbols():
    pytest.importorskip("ipywidgets")
    from cnnlib import widgets

    symbol_of = {"stride": "S", "dilation": "D", "window": "R", "bias": None, "padding": None}
    for name in widgets.__all__:
        factory = getattr(widgets, name)
        if name == "digits_explorer" or not callable(factory):
            continue
        for key, control in factory().controls.items():
            label = str(getattr(control, "description", "") or "")
            words = label.split()
            for word, symbol in symbol_of.items():
                if word in words and len(words) > words.index(word) + 1:
                    written = words[words.index(word) + 1]
                    if not (len(written) == 1 and written.isalpha()):
                        continue  # "window #" picks a window: no symbol is written
                    if symbol is None:
                        assert written not in {"P", "K"}, f"{name}: control {key!r} is labelled {label!r}"
                    else:
                        assert written == symbol, f"{name}: control {key!r} is labelled {label!r}, expected {symbol}"

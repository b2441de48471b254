"""Sphinx extension: display equations with a ``\\tag`` keep their number when they span lines.

Sphinx's MathJax writer wraps a display formula that contains ``\\\\`` in ``\\begin{split}``;
MathJax (like LaTeX) refuses ``\\tag`` inside ``split``, so an equation such as
``\\begin{aligned} ... \\\\ ... \\end{aligned} \\tag{2.5}`` would show an error box. Such a formula
is passed to MathJax as it is written, between ``\\[`` and ``\\]``.
"""

from __future__ import annotations

from docutils import nodes


def _keep_tagged_math(app, doctree) -> None:
    for node in doctree.findall(nodes.math_block):
        text = node.astext()
        if not node.get("nowrap") and r"\tag" in text and r"\\" in text:
            node["nowrap"] = True
            node.children = [nodes.Text(r"\[" + text + r"\]")]


def setup(app):
    app.connect("doctree-read", _keep_tagged_math)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""The computation-graph explorer of notebook 13: its steps are cnnlib.autograd's backward pass."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from cnnlib import autograd as ag  # noqa: E402
from cnnlib.widgets import graph_explorer  # noqa: E402
from cnnlib.widgets.graph import EXPRESSIONS, backward_with_rule  # noqa: E402


@pytest.mark.parametrize("expression", list(EXPRESSIONS))
def test_steps_are_the_engines_backward_pass(expression):
    ex = graph_explorer(a=1.25, b=-0.5, c=2.0, dL=-1.5, expression=expression)
    builder = EXPRESSIONS[expression][0]
    leaves = {k: ag.Tensor(v, requires_grad=True) for k, v in (("a", 1.25), ("b", -0.5), ("c", 2.0))}
    L = builder(**leaves)["L"]
    steps = ag.trace_backward(L, np.array(-1.5))
    assert len(ex.state["order"]) == len(steps) == ex.controls["step"].max
    L.backward(np.array(-1.5))
    for k in "abc":
        assert ex.state["grads_correct"][k] == float(leaves[k].grad)
    # stepping: the held gradients grow to the final ones, and a node is outlined at every step
    for k in range(len(steps) + 1):
        ex.controls["step"].value = k
        assert ex.error is None and ex.last_exception is None
        assert ex.state["step"] == k
    assert ex.state["held"] == ex.state["grads"] == ex.state["grads_correct"]


def test_overwriting_loses_the_share_of_the_first_path():
    ex = graph_explorer(a=2.0, b=-1.5, c=0.5, expression="L = (a·b + a)·c")
    ex.controls["accumulate"].value = "="
    ex.controls["step"].value = ex.controls["step"].max
    # δa should be (b + 1)·c = -0.25; with "=" only the last share arrives: δd·b = 0.5·(-1.5) = -0.75
    assert ex.state["grads_correct"]["a"] == pytest.approx(-0.25)
    assert ex.state["grads"]["a"] == pytest.approx(-0.75)
    assert "correct" in ex.readout_text and "δa = −0.75" in ex.readout_text
    order, received, grads = backward_with_rule(
        EXPRESSIONS["L = (a·b + a)·c"][0](*(ag.Tensor(v, requires_grad=True) for v in (2.0, -1.5, 0.5)))["L"],
        1.0,
        accumulate=False,
    )
    assert len(order) == 6 and float(grads[id(order[-1])]) == pytest.approx(-0.75)  # a runs last
    assert sum(len(sent) for sent in received) == 6  # every share was sent; only the sum was lost


def test_partial_sums_are_marked_until_every_user_has_sent_its_share():
    ex = graph_explorer(expression="L = d·d + c·d, d = a·b")
    texts = []
    for k in range(ex.controls["step"].max + 1):
        ex.controls["step"].value = k
        texts.append([s for s, *_ in ex.frame.all_texts()])
    assert any("so far" in t for t in texts)
    assert "so far" not in texts[-1] and "so far" not in texts[0]


def test_another_expression_keeps_the_step_in_range_and_draws():
    ex = graph_explorer()
    ex.controls["expression"].value = "L = relu(a·b + c)·a"
    ex.controls["step"].value = 7
    ex.controls["expression"].value = "L = (a·b + a)·c"
    assert ex.controls["step"].max == 6 and ex.state["step"] <= 6 and ex.error is None


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"a": "x"}, "a must be a finite number"),
        ({"dL": float("nan")}, "dL must be a finite number"),
        ({"expression": "L = a"}, "expression must be one of"),
        ({"step": 99}, "step must be an int in [0, 6]"),
        ({"step": 1.0}, "step must be an int"),
    ],
)
def test_bad_arguments_get_a_clear_error(kwargs, words):
    with pytest.raises(ValueError, match=r"^graph_explorer: ") as info:
        graph_explorer(**kwargs)
    assert words in str(info.value)

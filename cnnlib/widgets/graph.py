"""The computation-graph explorer (notebook 13): reverse-mode differentiation one step at a time."""

from __future__ import annotations

import html

import numpy as np

from .._format import cell_labels, factor, readout_number
from ..autograd import Tensor, relu, topological_order, trace_backward
from ..viz._style import INK
from ._controls import Dropdown, NumberBox, ToggleButtons, int_slider, label, require_widgets, widgets
from ._explorer import Explorer
from ._raster import GREY, HI, ROUTE, Panel, _colorize

__all__ = ["graph_explorer"]


def _tree_a(a, b, c):
    """L = (a·b + a)·c: a reaches L along two paths."""
    d = a * b
    e = d + a
    L = e * c
    return {"d": d, "e": e, "L": L}


def _tree_b(a, b, c):
    """L = relu(a·b + c)·a: a used twice, and a ReLU that may close."""
    d = a * b
    e = d + c
    f = relu(e)
    L = f * a
    return {"d": d, "e": e, "f": f, "L": L}


def _tree_c(a, b, c):
    """L = d·d + c·d with d = a·b: the diamond, d used three times."""
    d = a * b
    g = d * d
    h = c * d
    L = g + h
    return {"d": d, "g": g, "h": h, "L": L}


#: name -> (builder, the formula of every computed node, (column, row) of every node on the
#: picture, placed so that no edge crosses a node). Every expression uses a, b and c.
EXPRESSIONS = {
    "L = (a·b + a)·c": (
        _tree_a,
        {"d": "d = a·b", "e": "e = d + a", "L": "L = e·c"},
        {"a": (0, 0), "b": (0, 1.3), "d": (1, 1.3), "e": (2, 0.3), "c": (2, 1.6), "L": (3, 0.9)},
    ),
    "L = relu(a·b + c)·a": (
        _tree_b,
        {"d": "d = a·b", "e": "e = d + c", "f": "f = relu(e)", "L": "L = f·a"},
        {"a": (0, 0), "b": (0, 1.3), "d": (1, 1.3), "c": (1, 2.6), "e": (2, 1.3), "f": (3, 1.3), "L": (4, 0.5)},
    ),
    "L = d·d + c·d, d = a·b": (
        _tree_c,
        {"d": "d = a·b", "g": "g = d·d", "h": "h = c·d", "L": "L = g + h"},
        {"a": (0, 0), "b": (0, 1.3), "d": (1, 0.65), "c": (1, 2.2), "g": (2, 0), "h": (2, 1.5), "L": (3, 0.75)},
    ),
}

_COL, _ROW, _CS = 178, 100, 52  # column and row pitch of the node grid, cell size
_LEFT, _TOP = 24, 58


def backward_with_rule(root, grad, accumulate=True):
    """Run the backward pass from ``root`` node by node, adding (``+=``) or overwriting (``=``) contributions.

    Returns ``(order, received, grads)``: the nodes in the order their local backward runs
    (reverse topological), ``received[k]`` the list of ``(child, parent, share)`` sent by
    step k, and ``grads`` the gradient each node ended with. With ``accumulate=True`` this
    is exactly ``cnnlib.autograd.trace_backward`` (eq. 13.3); ``accumulate=False`` is the
    bug of an engine that writes ``grad = share``: a node used twice keeps only the last
    contribution, and passes the wrong value on.
    """
    order = list(reversed(topological_order(root)))
    pending = {id(root): np.asarray(grad, dtype=np.float64)}
    received, grads = [], {}
    for node in order:
        g = pending[id(node)]
        grads[id(node)] = g
        sent = []
        if node._backward is not None:
            for parent, share in zip(node.parents, node._backward(g, node._ctx), strict=True):
                share = np.asarray(share, dtype=np.float64)
                sent.append((node, parent, share))
                key = id(parent)
                pending[key] = pending[key] + share if accumulate and key in pending else share
        received.append(sent)
    return order, received, grads


class GraphExplorer(Explorer):
    """A small expression's computation graph, its values, and its backward pass step by step (notebook 13).

    Edit the inputs a, b, c and the upstream gradient δL = ∂(loss)/∂L; pick one of three
    expressions, each with a value used more than once. Every node shows its value and its
    gradient δ. Move ``step`` to run the local backward functions in reverse topological
    order (eq. 13.2): the current node (outlined) has received every contribution from its
    children, and sends one share to each parent (coloured arrows). ``accumulate`` switches
    between the correct rule, ``δ += share`` (eq. 13.3), and the bug of writing ``δ = share``.

    ``.state`` holds the values, the gradients so far, the final gradients of both rules and
    the order of the steps. Everything is computed by ``cnnlib.autograd``.
    """

    _fn = "graph_explorer"
    controls_width = 300

    def __init__(self, a=2.0, b=-1.5, c=0.5, *, dL=1.0, expression="L = (a·b + a)·c", step=0):
        fn = self._fn
        require_widgets(fn)
        values = {}
        for name, v in (("a", a), ("b", b), ("c", c), ("dL", dL)):
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating) or not np.isfinite(v):
                raise ValueError(f"{fn}: {name} must be a finite number, got {v!r}")
            values[name] = float(v)
        if expression not in EXPRESSIONS:
            raise ValueError(f"{fn}: expression must be one of {list(EXPRESSIONS)}, got {expression!r}")
        on = self._on_change
        self._boxes = {
            name: NumberBox(
                values[name],
                lambda _v: on(),
                label_text=text,
                width=250,
                description=text,
                description_width="80px",
            )
            for name, text in (("a", "a"), ("b", "b"), ("c", "c"), ("dL", "δL"))
        }
        self._expr = Dropdown(
            options=list(EXPRESSIONS),
            value=expression,
            description="expression",
            style={"description_width": "80px"},
            layout=widgets.Layout(width="280px"),
        )
        n_steps = len(self._build(expression)[1])
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or not 0 <= step <= n_steps:
            raise ValueError(f"{fn}: step must be an int in [0, {n_steps}], got {step!r}")
        self._step = int_slider("step", int(step), 0, n_steps)
        self._mode = ToggleButtons(
            options=["+=", "="],
            value="+=",
            description="accumulate",
            style={"description_width": "80px", "button_width": "60px"},
        )
        for w in (self._expr, self._step, self._mode):
            w.observe(on, names="value")
        box = widgets.VBox(
            [
                label("inputs and upstream gradient"),
                *self._boxes.values(),
                label("expression"),
                self._expr,
                label("backward pass"),
                self._step,
                self._mode,
            ]
        )
        self._panels = {}
        self._setup(
            "Computation graph",
            "edit a, b, c and δL; move step to run the backward pass node by node",
            box,
            *self._size(expression),
            (),
        )

    # ------------------------------------------------------------------ the graph

    def _build(self, expression, a=1.0, b=1.0, c=1.0, dL=1.0):
        """(tensors by name, the nodes in backward order) of ``expression`` at a, b, c."""
        builder = EXPRESSIONS[expression][0]
        leaves = {k: Tensor(v, requires_grad=True, name=k) for k, v in (("a", a), ("b", b), ("c", c))}
        nodes = builder(**leaves)
        for k, t in nodes.items():
            t.name = k
        tensors = {**leaves, **nodes}
        order = list(reversed(topological_order(nodes["L"])))
        return tensors, order

    def _layout(self, expression):
        """The top-left pixel (x, y) of every node's value cell."""
        return {k: (_LEFT + int(c * _COL), _TOP + int(r * _ROW)) for k, (c, r) in EXPRESSIONS[expression][2].items()}

    def _size(self, expression):
        where = self._layout(expression)
        return max(x for x, _ in where.values()) + 2 * _CS + 40, max(y for _, y in where.values()) + _CS + 30

    def _control_map(self):
        return {**self._boxes, "expression": self._expr, "step": self._step, "accumulate": self._mode}

    # ------------------------------------------------------------------ compute and draw

    def _compute(self, frame):
        expression = self._expr.value
        formulas = EXPRESSIONS[expression][1]
        a, b, c, dL = (self._boxes[k].number for k in ("a", "b", "c", "dL"))
        tensors, order = self._build(expression, a, b, c)
        L = tensors["L"]
        n = len(order)
        if self._step.max != n:  # another expression: a new number of steps (the value kept when it fits)
            self._step.max = n
        k = self._step.value
        accumulate = self._mode.value == "+="
        _, received, grads_rule = backward_with_rule(L, dL, accumulate)
        steps = trace_backward(L, np.asarray(dL))
        correct = {s.node.name: float(s.grad) for s in steps}
        final = {t.name: float(grads_rule[id(t)]) for t in order}
        # what each node holds after k steps: the root starts with δL, a parent collects shares
        held: dict[str, float | None] = {t.name: None for t in order}
        held["L"] = dL
        for sent in received[:k]:
            for _, parent, share in sent:
                old = held[parent.name]
                held[parent.name] = float(share) if (old is None or not accumulate) else old + float(share)
        done = {t.name for t in order[:k]}
        current = order[k - 1] if k else None
        values = {name: float(t.data) for name, t in tensors.items()}
        self.state = {
            "a": a,
            "b": b,
            "c": c,
            "dL": dL,
            "expression": expression,
            "step": k,
            "accumulate": accumulate,
            "order": [t.name for t in order],
            "values": values,
            "held": held,
            "grads": final,
            "grads_correct": correct,
            "error": None,
        }
        width, height = self._size(expression)
        self._fit_size(width, height)
        where = self._layout(expression)
        # one colour scale for all values and one for all gradients, both signed (diverging, centred at 0)
        names = list(where)
        vals = np.array([[values[m] for m in names]])  # (1, nodes)
        got = np.array([[0.0 if held[m] is None else held[m] for m in names]])  # (1, nodes)
        vlim = float(np.abs(vals).max()) or 1.0
        glim = max([abs(v) for v in correct.values()] + [float(np.abs(got).max())]) or 1.0
        vrgb = _colorize(vals, signed=True, vmin=-vlim, vmax=vlim)[0]  # (nodes, 3)
        grgb = _colorize(got, signed=True, vmin=-glim, vmax=glim)[0]
        vlab, glab = cell_labels(vals)[0], cell_labels(got)[0]
        panel = Panel("", 1, 1, cs=_CS, font=8)
        for j, name in enumerate(names):
            x, y = where[name]
            frame.text(formulas.get(name, f"{name} (input)"), x, y - 30, 9, HI, bold=True, ha="left")
            frame.text("value", x + _CS / 2, y - 12, 7, GREY)
            finished = name in done and (current is None or name != current.name)
            frame.text("δ ✓" if finished else "δ", x + 3 * _CS / 2, y - 12, 7, GREY)  # ✓: its step has run
            frame.heat(
                panel.place(x, y),
                f"value {name}",
                [[values[name]]],
                signed=True,
                fill=vrgb[j],
                labels=[[vlab[j]]],
                index=False,
            )
            if held[name] is None:  # nothing has reached this node yet
                frame.heat(
                    panel.place(x + _CS, y),
                    f"δ {name}",
                    [[np.nan]],
                    signed=True,
                    fill="#f2f2f2",
                    labels=[["?"]],
                    index=False,
                )
            else:
                frame.heat(
                    panel.place(x + _CS, y),
                    f"δ {name}",
                    [[held[name]]],
                    signed=True,
                    fill=grgb[j],
                    labels=[[glab[j]]],
                    index=False,
                )
            users = [t for t in order if any(q is tensors[name] for q in t.parents)]
            if held[name] is not None and not all(t.name in done for t in users):
                frame.text("so far", x + 3 * _CS / 2, y + _CS + 21, 7, GREY)  # not every user has sent its share
        for t in order:  # forward edges, grey
            for p in {id(p): p for p in t.parents}.values():  # d·d: one edge
                (px, py), (tx, ty) = where[p.name], where[t.name]
                frame.arrow(px + 2 * _CS + 2, py + _CS / 3, tx - 4, ty + _CS / 3, "#b5b5b5")
        txt = self._story(k, n, order, received, held, final, correct, accumulate, dL)
        if current is not None:
            cx, cy = where[current.name]
            frame.box(cx - 1, cy - 1, 2 * _CS + 1, _CS + 1, HI, 3)
            shares: dict[str, list] = {}
            for _, parent, share in received[k - 1]:  # d·d sends two shares along one edge
                shares.setdefault(parent.name, []).append(float(share))
            sign = "+= " if accumulate else "= "
            for name, values_sent in shares.items():  # the shares sent now, along the edges, backwards
                px, py = where[name]
                x0, y0, x1, y1 = cx - 4, cy + 2 * _CS / 3, px + 2 * _CS + 2, py + 2 * _CS / 3
                frame.arrow(x0, y0, x1, y1, ROUTE)
                text = sign + " + ".join(factor(readout_number(v)) for v in values_sent)
                frame.text(text, px + 3 * _CS / 2, py + _CS + 9, 8, INK)  # under the δ cell it goes to
                frame.box(px + _CS - 1, py - 1, _CS + 1, _CS + 1, ROUTE, 3)
        self._readout = html.escape(txt)

    def _story(self, k, n, order, received, held, final, correct, accumulate, dL):
        names = ", ".join(t.name for t in order)
        if k == 0:
            return (
                f"step 0 of {n}: δL = {readout_number(dL)} is given, no local backward has run. "
                f"The steps visit the nodes in reverse topological order: {names} — every node after all the "
                f"nodes that use it."
            )
        node = order[k - 1]
        g = held[node.name] if node.name == "L" else None
        sent: dict[str, list] = {}
        for _, parent, share in received[k - 1]:
            sent.setdefault(parent.name, []).append(factor(readout_number(float(share))))
        parts = [f"{' + '.join(v)} to δ{m}" for m, v in sent.items()]
        g = final[node.name] if g is None else g
        txt = f"step {k} of {n}: node {node.name}, δ{node.name} = {readout_number(g)}"
        txt += "; it sends " + ", ".join(parts) if parts else " (an input: nothing to send)"
        if k == n:
            wrong = [m for m in final if not np.isclose(final[m], correct[m], rtol=1e-12, atol=1e-12)]
            if accumulate:
                txt += ". Done: " + ", ".join(f"δ{m} = {readout_number(final[m])}" for m in "abc")
            elif wrong:
                txt += ". Done, with δ = share: " + ", ".join(
                    f"δ{m} = {readout_number(final[m])} (correct {factor(readout_number(correct[m]))})" for m in wrong
                )
            else:
                txt += ". Done: with these numbers every share that δ = share overwrote was 0, so nothing was lost"
        return txt


graph_explorer = GraphExplorer

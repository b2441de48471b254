"""The interactive explorers of cnnlib.widgets, driven programmatically.

Every control of every explorer is swept over its range by setting ``.value`` (what a
reader's slider does); after each move the test checks that no exception escaped, that
a new PNG arrived, and that the numbers behind every heat map equal an independent
cnnlib computation (the loop versions where they exist) for the state shown. Invalid
combinations must produce a short message in the widget, never a traceback.

Runs with just numpy, matplotlib, ipywidgets (7.7 or 8.x), pytest and hypothesis:
``make test-widgets7`` runs this file against ipywidgets 7.7.1, Colab's version.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from _explorers import EXPLORERS as ALL_EXPLORERS  # noqa: E402
from _explorers import MOVING_CONTROL  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import cnnlib  # noqa: E402
from cnnlib import widgets as W  # noqa: E402
from cnnlib._format import cell_label  # noqa: E402
from cnnlib.widgets import channels, conv_backward, conv_forward, pool_backward  # noqa: E402
from cnnlib.widgets._controls import NumberBox, pattern  # noqa: E402
from cnnlib.widgets._raster import Font, text_origin  # noqa: E402

# channels_explorer has a test module of its own (test_widgets_channels.py)
EXPLORERS = {name: make for name, make in ALL_EXPLORERS.items() if name != "channels"}

PNG = b"\x89PNG\r\n\x1a\n"


def png(ex) -> bytes:
    """The explorer's current image (ipywidgets 8 hands back a memoryview, 7.7 bytes)."""
    return bytes(ex.image.value)


# --------------------------------------------------------------------------- independent references


def _conv_ref(X, Wk, b, S, P, D):
    Z, cache = cnnlib.conv2d_forward_naive(
        X[None, None], Wk[None, None], np.array([b]), stride=S, padding=P, dilation=D
    )
    return Z[0, 0], cache


def check_conv_forward(ex):
    s = ex.state
    arrays = ex.frame_arrays
    np.testing.assert_array_equal(arrays["W"], s["W"])
    np.testing.assert_array_equal(arrays["X"], np.pad(s["X"], s["padding"]))
    if s.get("error"):
        assert "Z" not in arrays
        return
    Z, _ = _conv_ref(s["X"], s["W"], s["b"], s["stride"], s["padding"], s["dilation"])
    np.testing.assert_allclose(arrays["Z"], Z, rtol=1e-12, atol=1e-12)
    # the outlined window is the receptive field of the highlighted output cell
    u, v = s["position"]
    S, D = s["stride"], s["dilation"]
    Xp = np.pad(s["X"], s["padding"])
    KH, KW = s["W"].shape
    field = Xp[u * S : u * S + D * (KH - 1) + 1 : D, v * S : v * S + D * (KW - 1) + 1 : D]
    assert field.shape == s["W"].shape
    assert np.isclose((field * s["W"]).sum() + s["b"], Z[u, v])


def check_conv_backward(ex):
    s = ex.state
    arrays = ex.frame_arrays
    np.testing.assert_array_equal(arrays["W"], s["W"])
    if s.get("error"):
        assert "dW" not in arrays and "dX" not in arrays
        return
    S, P, D = s["stride"], s["padding"], s["dilation"]
    _, cache = _conv_ref(s["X"], s["W"], 0.0, S, P, D)
    np.testing.assert_array_equal(arrays["dZ"], s["dZ"])
    dX, dW, db = cnnlib.conv2d_backward_naive(s["dZ"][None, None], cache)
    np.testing.assert_allclose(arrays["dX"], dX[0, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(arrays["dW"], dW[0, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(arrays["db"], [[db[0]]], rtol=1e-12, atol=1e-12)
    # the explained entry is the sum of the products the route lists
    route = s["route"]
    total = sum(a * b for _, a, _, b in route.terms)
    i, j = s["index"]
    expected = dW[0, 0, i, j] if s["target"] == "dW" else dX[0, 0, i, j]
    assert np.isclose(total, expected, atol=1e-12)
    assert np.isclose(route.total, expected, atol=1e-12)
    check_dilated_upstream(ex, dX[0, 0], dW[0, 0])


def _dilate_ref(dZ, S):
    """δZ with S - 1 zeros between neighbours, built as a Kronecker product with a one-hot S×S block."""
    one = np.zeros((S, S))
    one[0, 0] = 1.0
    Ho, Wo = dZ.shape
    return np.kron(dZ, one)[: (Ho - 1) * S + 1, : (Wo - 1) * S + 1]


def check_dilated_upstream(ex, dX, dW):
    """The dilated δZ panel (notebook 08) against an independent construction, and what it is for:
    dW = X̃ correlated with it at stride 1 (kernel dilation D), dX = it spread through the flipped kernel."""
    s = ex.state
    S, P, D = s["stride"], s["padding"], s["dilation"]
    dZd = _dilate_ref(s["dZ"], S)
    np.testing.assert_array_equal(s["dZ_dilated"], dZd)
    texts = [t for t, *_ in ex.frame.all_texts()]
    if S > 1:
        np.testing.assert_array_equal(ex.frame_arrays["dZ_dilated"], dZd)
        assert any(f"{S - 1} zero" in t for t in texts)
    else:  # nothing to insert: a note instead of a copy of δZ
        assert "dZ_dilated" not in ex.frame_arrays
        assert "δZ is used as it is" in texts
    Xp = np.pad(s["X"], P)
    KH, KW = s["W"].shape
    Hd, Wd = dZd.shape
    dW_ref = np.array(
        [[(Xp[i * D : i * D + Hd, j * D : j * D + Wd] * dZd).sum() for j in range(KW)] for i in range(KH)]
    )
    np.testing.assert_allclose(dW, dW_ref, rtol=1e-12, atol=1e-12)
    dXp = np.zeros(Xp.shape)
    for a in range(KH):
        for b in range(KW):
            dXp[a * D : a * D + Hd, b * D : b * D + Wd] += s["W"][a, b] * dZd
    H, W_ = s["X"].shape
    np.testing.assert_allclose(dX, dXp[P : P + H, P : P + W_], rtol=1e-12, atol=1e-12)


def _pool_winners_ref(A, K, S, P):
    """First maximum in row-major order of each window (padding never wins)."""
    H, Wd = A.shape
    Ap = np.pad(A, P, constant_values=-np.inf)
    Ho, Wo = (H + 2 * P - K) // S + 1, (Wd + 2 * P - K) // S + 1
    out = np.zeros((Ho, Wo, 2), int)
    for u in range(Ho):
        for v in range(Wo):
            win = Ap[u * S : u * S + K, v * S : v * S + K]
            i, j = divmod(int(np.argmax(win)), K)  # argmax returns the first maximum, row-major
            out[u, v] = (u * S + i - P, v * S + j - P)
    return out


def check_pool_backward(ex):
    s = ex.state
    arrays = ex.frame_arrays
    K, S, P = s["size"], s["stride"], s["padding"]
    np.testing.assert_array_equal(arrays["A"], np.pad(s["A"], P))
    if s.get("error"):
        assert "dA" not in arrays
        return
    A4 = s["A"][None, None]
    if s["mode"] == "max":
        Pref, cache = cnnlib.maxpool2d_forward_naive(A4, size=K, stride=S, padding=P)
        dA = cnnlib.maxpool2d_backward_naive(s["dP"][None, None], cache)
        np.testing.assert_array_equal(s["winners"], _pool_winners_ref(s["A"], K, S, P))
    else:
        Pref, cache = cnnlib.avgpool2d_forward_naive(A4, size=K, stride=S, padding=P)
        dA = cnnlib.avgpool2d_backward_naive(s["dP"][None, None], cache)
    np.testing.assert_allclose(arrays["P"], Pref[0, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(arrays["dP"], s["dP"])
    np.testing.assert_allclose(arrays["dA"], dA[0, 0], rtol=1e-12, atol=1e-12)
    # every gradient that reaches A comes from a window whose route the picture can show
    u, v = s["window"]
    if s["mode"] == "max":
        assert s["route"] == [tuple(int(t) for t in s["winners"][u, v])]
    else:
        for r, c in s["route"]:
            assert 0 <= r < s["A"].shape[0] and 0 <= c < s["A"].shape[1]


def check_pipeline(ex):
    s = ex.state
    arrays = ex.frame_arrays
    X, W1, B1, W2, B2, y = s["X"], s["W1"], s["B1"], s["W2"], s["B2"], s["Y"]
    Z1, c1 = cnnlib.conv2d_forward_naive(X[None, None], W1[None, None], np.array([B1]))
    A1, c2 = cnnlib.relu_forward(Z1)
    P1, c3 = cnnlib.maxpool2d_forward_naive(A1, size=2, stride=2)
    F, c4 = cnnlib.flatten_forward(P1)
    Z2, c5 = cnnlib.dense_forward_naive(F, W2[None, :], np.array([B2]))
    A2 = 1.0 / (1.0 + np.exp(-Z2))
    L = -(y * np.log(A2) + (1 - y) * np.log(1 - A2))
    dZ2 = A2 - y  # seed 002: (∂L/∂A2)(∂A2/∂Z2) = A2 - Y
    dF, dW2, dB2 = cnnlib.dense_backward_naive(dZ2, c5)
    dP1 = cnnlib.flatten_backward(dF, c4)
    dA1 = cnnlib.maxpool2d_backward_naive(dP1, c3)
    dZ1 = cnnlib.relu_backward(dA1, c2)
    dX, dW1, dB1 = cnnlib.conv2d_backward_naive(dZ1, c1)
    close = {"rtol": 1e-9, "atol": 1e-12}
    for name, ref in (
        ("X", X),
        ("W1", W1),
        ("Z1", Z1[0, 0]),
        ("A1", A1[0, 0]),
        ("P1", P1[0, 0]),
        ("F", F.T),
        ("W2", W2[:, None]),
        ("dX", dX[0, 0]),
        ("dW1", dW1[0, 0]),
        ("dZ1", dZ1[0, 0]),
        ("dA1", dA1[0, 0]),
        ("dP1", dP1[0, 0]),
        ("dF", dF.T),
        ("dW2", dW2.T),
    ):
        np.testing.assert_allclose(arrays[name], ref, **close, err_msg=name)
    np.testing.assert_allclose(
        [s["Z2"], s["A2"], s["L"], s["dZ2"], s["dB2"], s["dB1"]],
        [Z2[0, 0], A2[0, 0], L[0, 0], dZ2[0, 0], dB2[0], dB1[0]],
        **close,
    )
    # cnnlib.viz can draw the same state
    assert {"X", "Z1", "A1", "P1", "F", "Z2", "A2", "L"} <= set(s)


def check_dense_softmax(ex):
    s = ex.state
    arrays = ex.frame_arrays
    M = len(s["s"])
    if s["mode"] == "layer":
        np.testing.assert_allclose(s["s"], s["U"] @ s["p"] + s["c"], rtol=1e-12, atol=1e-12)
    e = np.exp(s["s"] - s["s"].max())
    yhat = e / e.sum()
    onehot = np.eye(M)[s["y"]]
    np.testing.assert_allclose(arrays["yhat"], yhat, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(arrays["delta"], yhat - onehot, rtol=1e-12, atol=1e-12)  # seed 003 §3.1
    assert np.isclose(s["L"], -np.log(yhat[s["y"]]))
    if s["mode"] == "layer":
        np.testing.assert_allclose(arrays["dU"], np.outer(yhat - onehot, s["p"]), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(arrays["dp"][:, 0], s["U"].T @ (yhat - onehot), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(arrays["U"], s["U"])
    else:
        assert "dU" not in arrays


def check_digits(ex):
    s = ex.state
    assert np.isclose(s["yhat"].sum(), 1.0) and s["pred"] == int(np.argmax(s["yhat"]))
    assert np.isclose(s["L"], -np.log(s["yhat"][s["k"]]))
    np.testing.assert_array_equal(ex.frame_arrays["dX"], s["dX"])
    np.testing.assert_array_equal(ex.frame_arrays["x"], ex.X[s["n"], 0])
    np.testing.assert_array_equal(s["X"], s["x"])
    # the input titled as the book writes it, and the saliency's colours said in words
    assert ex._px.title == "X"
    texts = [t for t, *_ in ex.frame.all_texts()]
    assert "red > 0, blue < 0, white 0" in texts
    for f in range(s["A"].shape[0]):
        np.testing.assert_array_equal(ex.frame_arrays[f"A[{f}]"], s["A"][f])


def check_im2col(ex):
    s = ex.state
    np.testing.assert_array_equal(ex.frame_arrays["Xbar"], np.pad(s["X"], s["padding"]))
    if s.get("error"):
        assert "cols" not in ex.frame_arrays
        return
    kw = {"stride": s["stride"], "padding": s["padding"], "dilation": s["dilation"]}
    cols = cnnlib.im2col(s["X"][None, None], s["K"], **kw)[0]
    np.testing.assert_array_equal(ex.frame_arrays["cols"], cols)
    np.testing.assert_array_equal([s["Xbar"][r, c] for r, c in s["window"]], cols[:, s["column"]])


def check_depth(ex):
    """The bars against the same stack built from cnnlib's layers (Conv2D, BatchNorm2D, Residual)."""
    s = ex.state
    acts = {"relu": cnnlib.ReLU, "tanh": cnnlib.Tanh, "sigmoid": cnnlib.Sigmoid}
    layers = []
    for kernel in ex.weights[: s["depth"]]:
        conv = cnnlib.Conv2D(4, 4, 3, padding=1, seed=0)
        conv.W[...] = s["gain"] * kernel
        inner = [conv] + ([cnnlib.BatchNorm2D(4)] if s["batchnorm"] else []) + [acts[s["activation"]]()]
        layers.append(cnnlib.Residual(cnnlib.Sequential(inner)) if s["residual"] else cnnlib.Sequential(inner))
    A, rms_A = ex.X, [np.sqrt(np.mean(ex.X**2))]
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in layers:
            A = layer.forward(A)
            rms_A.append(np.sqrt(np.mean(A**2)))
        dA = ex.G
        for layer in reversed(layers):
            dA = layer.backward(dA)
    np.testing.assert_allclose(s["rms_A"], rms_A, rtol=1e-9)
    np.testing.assert_allclose(s["rms_dA"][0], np.sqrt(np.mean(dA**2)), rtol=1e-9)
    np.testing.assert_array_equal(ex.frame_arrays["rms_dA"], s["rms_dA"])
    assert len(s["rms_A"]) == len(s["rms_dA"]) == s["depth"] + 1


def check_conv_transpose(ex):
    s = ex.state
    np.testing.assert_array_equal(ex.frame_arrays["X"], s["X"])
    u, v = s["cell"]
    np.testing.assert_array_equal(ex.frame_arrays["stamp"], s["X"][u, v] * s["W"])
    if s.get("error"):
        assert "Y" not in ex.frame_arrays
        return
    kw = {"stride": s["stride"], "padding": s["padding"], "output_padding": s["output_padding"]}
    Y, _ = cnnlib.conv_transpose2d_forward(
        s["X"][None, None], s["W"][None, None], np.zeros(1), **kw, dilation=s["dilation"]
    )
    np.testing.assert_array_equal(ex.frame_arrays["Y"], Y[0, 0])


def check_graph(ex):
    """The graph explorer's gradients against the derivatives of its three expressions, written out by hand."""
    s = ex.state
    a, b, c, dL = s["a"], s["b"], s["c"], s["dL"]
    if s["expression"] == "L = (a·b + a)·c":
        ref = {"a": (b + 1) * c, "b": a * c, "c": a * b + a}
    elif s["expression"] == "L = relu(a·b + c)·a":
        e = a * b + c
        gate = float(e > 0)
        ref = {"a": gate * b * a + max(e, 0.0), "b": gate * a * a, "c": gate * a}
    else:
        d = a * b
        ref = {"a": (2 * d + c) * b, "b": (2 * d + c) * a, "c": d}
    for name, v in ref.items():
        assert np.isclose(s["grads_correct"][name], v * dL, rtol=1e-12, atol=1e-12), (name, s)
        np.testing.assert_array_equal(ex.frame_arrays[f"value {name}"], [[s["values"][name]]])
    if s["accumulate"]:
        assert s["grads"] == s["grads_correct"]
    assert s["order"][0] == "L" and sorted(s["order"][-3:]) != []
    if s["step"] == len(s["order"]):
        assert s["held"] == s["grads"]


CHECKS = {
    "conv_forward": check_conv_forward,
    "conv_backward": check_conv_backward,
    "pool_backward": check_pool_backward,
    "pipeline": check_pipeline,
    "dense_softmax": check_dense_softmax,
    "digits": check_digits,
    "im2col": check_im2col,
    "depth": check_depth,
    "conv_transpose": check_conv_transpose,
    "graph": check_graph,
}


# --------------------------------------------------------------------------- sweeping helpers


def values_for(w):
    """Every value a reader can reach, or a grid that covers the range for continuous controls."""
    if isinstance(w, (ipywidgets.Dropdown, ipywidgets.ToggleButtons)):
        return [opt[1] if isinstance(opt, tuple) else opt for opt in w.options]
    if isinstance(w, ipywidgets.IntSlider):
        return list(range(w.min, w.max + 1, w.step))
    if isinstance(w, ipywidgets.FloatSlider):
        return list(np.linspace(w.min, w.max, 7)) + [w.value]
    if isinstance(w, NumberBox):  # no bounds: large values, a decimal comma, then the value it had
        return [-9.0, 16.0, 0.0, "2,5", 1.0, w.number]
    raise AssertionError(f"unexpected control type {type(w).__name__}")


class Probe:
    """Drive an explorer and check it after every move."""

    def __init__(self, ex, check):
        self.ex, self.check = ex, check
        self.moves = 0
        self.errors = set()

    def set(self, name, value):
        controls = self.ex.controls
        if name not in controls:  # a grid cell that the current shape hides
            return
        w = controls[name]
        if w.disabled:
            return
        before = self.ex.updates
        w.value = value
        self.moves += 1
        self.verify(changed=self.ex.updates > before)

    def verify(self, changed=True):
        ex = self.ex
        assert ex.last_exception is None, f"exception in the callback: {ex.last_exception!r}"
        assert png(ex).startswith(PNG)
        if ex.error:
            self.errors.add(ex.error)
            assert "Traceback" not in ex.message.value and ex.error in _unescape(ex.message.value)
            assert len(ex.error) < 200
        else:
            assert ex.message.value == ""
        self.check(ex)

    def sweep(self, name):
        w = self.ex.controls.get(name)
        if w is None:
            return
        start = w.value
        for v in values_for(w):
            self.set(name, v)
        if name in self.ex.controls and not self.ex.controls[name].disabled:
            self.set(name, start)


def _unescape(s):
    import html

    return html.unescape(s)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_default_state_draws_and_matches_cnnlib(name):
    ex = EXPLORERS[name]()
    assert isinstance(ex, ipywidgets.Widget) and isinstance(ex, ipywidgets.VBox)
    Probe(ex, CHECKS[name]).verify()
    assert ex.error is None
    assert ex.image.format == "png"
    assert ex.readout.value  # the written-out formula under the picture


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_every_control_swept_over_its_range(name):
    ex = EXPLORERS[name]()
    probe = Probe(ex, CHECKS[name])
    for control in list(ex.controls):
        probe.sweep(control)
    assert probe.moves > 20


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_a_move_sends_a_new_image(name):
    ex = EXPLORERS[name]()
    control = MOVING_CONTROL[name]
    w = ex.controls[control]
    before = png(ex)
    values = [v for v in values_for(w) if v != w.value]
    w.value = values[0]
    assert png(ex) != before
    assert png(ex).startswith(PNG)


def test_conv_forward_every_hyperparameter_combination():
    ex = W.conv_forward_explorer()
    probe = Probe(ex, check_conv_forward)
    c = ex.controls
    for S in values_for(c["stride"]):
        for P in values_for(c["padding"]):
            for D in values_for(c["dilation"]):
                probe.set("stride", S)
                probe.set("padding", P)
                probe.set("dilation", D)
                span = D * 2 + 1
                if span > 6 + 2 * P:
                    assert ex.error and "padding" in ex.error and c["position"].disabled
                    continue
                assert ex.error is None
                Ho = (6 + 2 * P - span) // S + 1
                assert c["position"].max == Ho * Ho - 1
                for k in range(0, Ho * Ho, max(1, Ho * Ho // 5)):
                    probe.set("position", k)
                    assert ex.state["position"] == divmod(k, Ho)
    assert any("increase padding" in e for e in probe.errors)


def test_conv_backward_routes_for_every_entry_and_hyperparameters():
    ex = W.conv_backward_explorer(hyper=True)
    probe = Probe(ex, check_conv_backward)
    for S in (1, 2, 3):
        for P in (0, 1):
            for D in (1, 2, 3):
                probe.set("stride", S)
                probe.set("padding", P)
                probe.set("dilation", D)
                if ex.error:
                    assert "padding" in ex.error
                    continue
                assert ex.controls["dZ[0,0]"] is not None
                assert ex.state["dZ"].shape == ex.state["Z"].shape
                for target in ("dW", "dX"):
                    probe.set("explain", target)
                    rmax, cmax = ex.controls["row"].max, ex.controls["column"].max
                    for r, col in {(0, 0), (rmax, cmax), (rmax // 2, cmax // 2), (0, cmax)}:
                        probe.set("row", r)
                        probe.set("column", col)
    assert probe.errors  # dilation 3 without padding does not fit a 5x5 input


def test_conv_backward_dilated_upstream_panel_routes_the_dX_entry():
    ex = W.conv_backward_explorer(stride=2, padding=1)
    assert ex.error is None and ex.state["dZ"].shape == (3, 3)
    assert ex.frame_arrays["dZ_dilated"].shape == (5, 5)
    ex.controls["explain"].value = "dX"
    ex.controls["row"].value, ex.controls["column"].value = 2, 3
    pairs = ex.state["pairs"]
    assert pairs
    # every δZ cell on the route is outlined in the dilated picture too, at (S·u, S·v)
    boxes = {(x, y, w, h) for x, y, w, h, *_ in ex.frame.boxes}
    # the dilated δZ is the right-most 5×5 map of the bottom row (dX, the other 5×5, is on the left)
    hm = max((hm for hm in ex.frame.heats if hm["rgb"].shape[:2] == (5, 5)), key=lambda hm: hm["x"])
    np.testing.assert_array_equal(hm["rgb"][1::2, 1::2], np.full((2, 2, 3), 236))  # inserted zeros: grey
    cs = hm["cs"]
    for _, (du, dv) in pairs:
        assert (hm["x"] + 2 * dv * cs - 1, hm["y"] + 2 * du * cs - 1, cs + 1, cs + 1) in boxes
    ex.controls["stride"].value = 1
    assert "dZ_dilated" not in ex.frame_arrays
    np.testing.assert_array_equal(ex.state["dZ_dilated"], ex.state["dZ"])


def counting(monkeypatch, module, names):
    """Count the calls of ``module``'s functions ``names`` (as the module looks them up) in a Counter."""
    calls = collections.Counter()

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    for name in names:
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    return calls


def test_conv_backward_computes_the_backward_pass_and_the_route_once_per_move(monkeypatch):
    ex = W.conv_backward_explorer(hyper=True)
    calls = counting(monkeypatch, conv_backward, ("conv2d_backward", "dW_route", "dX_route"))
    # a route that computed its own gradient would run a second backward pass inside cnnlib.routes
    calls_in_routes = counting(monkeypatch, cnnlib.routes, ("conv2d_backward",))
    for control, value, route in [
        ("row", 1, "dW_route"),
        ("column", 2, "dW_route"),
        ("explain", "dX", "dX_route"),
        ("row", 3, "dX_route"),
        ("stride", 2, "dX_route"),
        ("dZ[0,1]", 0.75, "dX_route"),
    ]:
        calls.clear()
        ex.controls[control].value = value
        assert ex.last_exception is None and ex.error is None
        assert calls == {"conv2d_backward": 1, route: 1}, (control, calls)
        assert not calls_in_routes, (control, calls_in_routes)


def test_channels_computes_the_backward_pass_and_the_route_once_per_move(monkeypatch):
    ex = W.channels_explorer()
    calls = counting(monkeypatch, channels, ("conv2d_backward", "dW_route", "dX_route"))
    calls_in_routes = counting(monkeypatch, cnnlib.routes, ("conv2d_backward",))
    for control, value, route in [
        ("column", 2, "dW_route"),
        ("filter", 1, "dW_route"),
        ("explain", "dX", "dX_route"),
        ("row", 4, "dX_route"),
        ("dZ", "all ones", "dX_route"),
    ]:
        calls.clear()
        ex.controls[control].value = value
        assert ex.last_exception is None and ex.error is None
        assert calls == {"conv2d_backward": 1, route: 1}, (control, calls)
        assert not calls_in_routes, (control, calls_in_routes)


def test_conv_backward_keeps_typed_upstream_values_across_shape_changes():
    ex = W.conv_backward_explorer(hyper=True)
    ex.controls["dZ[1,1]"].value = 7.5
    ex.controls["padding"].value = 1  # dZ grows to 5x5
    assert ex.state["dZ"].shape == (5, 5) and ex.state["dZ"][1, 1] == 7.5
    ex.controls["padding"].value = 0
    assert ex.state["dZ"].shape == (3, 3) and ex.state["dZ"][1, 1] == 7.5
    assert not np.all(ex.state["dZ"] == 1.0)  # upstream gradients are never all ones


def test_pool_backward_every_window_size_stride_padding_and_mode():
    ex = W.pool_backward_explorer()
    probe = Probe(ex, check_pool_backward)
    for mode in ("max", "average"):
        probe.set("mode", mode)
        for K in range(1, 5):
            for S in range(1, 5):
                for P in range(3):
                    probe.set("size", K)
                    probe.set("stride", S)
                    probe.set("padding", P)
                    if 2 * P > K or K > 4 + 2 * P:
                        assert ex.error and ex.controls["window"].disabled
                        continue
                    assert ex.error is None
                    last = ex.controls["window"].max
                    for k in sorted({0, last // 2, last}):
                        probe.set("window", k)
    assert any("more than half" in e for e in probe.errors)


def _text_box(ex, needle):
    """(left, right) pixel extent of the first text of the picture containing ``needle``."""
    for s, x, y, size, _color, bold, ha in ex.frame.all_texts():
        if needle in s:
            font = Font.get(size, bold)
            left, _ = text_origin(font, s, x, y, ha)
            return left, left + font.width(s)
    raise AssertionError(f"no text with {needle!r}")


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pool_backward_picture_has_no_empty_band_and_fits_its_texts(mode):
    ex = W.pool_backward_explorer(mode=mode)
    for K, S, P in [(2, 2, 0), (2, 1, 1), (3, 1, 1), (4, 4, 2), (1, 1, 0), (3, 2, 2)]:
        ex.controls["size"].value, ex.controls["stride"].value, ex.controls["padding"].value = K, S, P
        side = 4 + 2 * P
        a = next(hm for hm in ex.frame.heats if hm["rgb"].shape[:2] == (side, side))
        a_right = a["x"] + side * a["cs"]
        width = int.from_bytes(png(ex)[16:20], "big")
        assert width == ex._width and ex.image.layout.width == f"{width}px"
        a_text_right = _text_box(ex, "4×4" + (", padded" if P else ""))[1]
        if ex.error:
            assert a_text_right < width
            continue
        p_left = min(hm["x"] for hm in ex.frame.heats if hm["x"] > a_right)
        # P sits just right of A (or of A's subtitle): no room reserved for the largest padding
        assert p_left - max(a_right, a_text_right) <= 60, (K, S, P)
        assert a_text_right < p_left - 10  # A's subtitle never runs into P's title
        assert _text_box(ex, "windows, stride")[1] <= width - 5  # P's subtitle inside the picture
        assert p_left + ex.state["P"].shape[1] * a["cs"] <= width
    # the default picture is compact: 4 columns of A, 2 of P, their titles and a gap
    ex.controls["size"].value, ex.controls["stride"].value, ex.controls["padding"].value = 2, 2, 0
    assert ex._width < 420


def test_pool_backward_overlapping_windows_add_up_and_ties_go_to_the_first_maximum():
    A = np.array([[1.0, 3.0, 2.0, 0.0], [3.0, 0.0, 1.0, 4.0], [0.5, 2.0, 2.5, 1.0], [1.0, 2.0, 0.0, 0.5]])
    ex = W.pool_backward_explorer(A, size=2, stride=2)
    assert tuple(ex.state["winners"][0, 0]) == (0, 1)  # 3 at (0, 1) and (1, 0): row-major first
    ex.controls["stride"].value = 1
    dP = ex.state["dP"]
    wins = [(u, v) for u in range(3) for v in range(3) if tuple(ex.state["winners"][u, v]) == (1, 3)]
    assert len(wins) == 2  # the 4 wins two overlapping windows
    assert np.isclose(ex.state["dA"][1, 3], sum(dP[u, v] for u, v in wins))
    assert "overlapping" in ex.readout.value or ex.controls["window"].value not in [u * 3 + v for u, v in wins]


def test_pipeline_pixel_editing_and_patterns():
    ex = W.pipeline_explorer()
    probe = Probe(ex, check_pipeline)
    for r in range(6):
        probe.set("pixel row", r)
        for c in (0, 5):
            probe.set("pixel column", c)
            assert ex.controls["pixel value"].number == ex.state["X"][r, c]
            probe.set("pixel value", 1.7)
            assert ex.state["X"][r, c] == 1.7
    for name in W.PATTERNS:
        probe.set("pattern", name)
        np.testing.assert_array_equal(ex.state["X"], pattern(name, 6, 6))
    # the label flips the sign of δZ2 = ŷ − y
    probe.set("y", 0)
    assert ex.state["dZ2"] > 0
    probe.set("y", 1)
    assert ex.state["dZ2"] < 0


def test_dense_softmax_modes_and_extremes():
    ex = W.dense_softmax_explorer()
    probe = Probe(ex, check_dense_softmax)
    for mode in ("logits", "layer", "logits"):
        probe.set("mode", mode)
        for y in range(3):
            probe.set("y", y)
    probe.set("s[0]", 6.0)
    probe.set("s[1]", -6.0)
    assert np.isfinite(ex.state["L"])
    probe.set("mode", "layer")
    for k in range(3):
        probe.set(f"p[{k}]", 3.0)
    for name in [n for n in ex.controls if n.startswith("U[")]:
        probe.set(name, 5.0)
    assert ex.state["s"].max() > 6  # beyond the bar range: drawn clipped, numbers still exact
    check_dense_softmax(ex)


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_no_figure_leak_over_200_updates(name):
    ex = EXPLORERS[name]()
    control = MOVING_CONTROL[name]
    w = ex.controls[control]
    values = values_for(w)
    before = len(plt.get_fignums())
    for k in range(200):
        w.value = values[k % len(values)]
    assert ex.last_exception is None
    assert len(plt.get_fignums()) == before
    for _ in range(3):
        fig = ex.static_figure()
        assert isinstance(fig, Figure)
    assert len(plt.get_fignums()) == before


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_static_figure_shows_the_current_state(name, tmp_path):
    ex = EXPLORERS[name]()
    fig = ex.static_figure()
    assert isinstance(fig, Figure) and ex.figure().__class__ is Figure
    texts = {t.get_text() for t in fig.axes[0].texts}
    # every number written on the live picture is a text artist of the static figure
    assert {s for s, *_ in ex.frame.all_texts()} <= texts
    out = tmp_path / f"{name}.png"
    fig.savefig(out)
    assert out.read_bytes().startswith(PNG)
    # same size as the live image, so a notebook shows the same layout
    live_w = int.from_bytes(png(ex)[16:20], "big")
    assert abs(fig.get_figwidth() * fig.dpi - live_w) <= 1


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_static_figure_writes_the_readout_under_the_picture(name):
    ex = EXPLORERS[name]()
    text = ex.readout_text
    assert text and "<" not in text and "&nbsp;" not in text
    fig = ex.static_figure()
    live_h = int.from_bytes(png(ex)[20:24], "big")
    footer = [t for t in fig.axes[0].texts if t.get_position()[1] > live_h]
    assert footer, "no text under the picture"
    assert " ".join(t.get_text() for t in footer) == text
    assert fig.get_figheight() * fig.dpi > live_h + 10  # the figure grew to hold it
    # every line fits the picture's width
    fig.canvas.draw()
    for t in footer:
        assert t.get_window_extent().x1 <= fig.get_figwidth() * fig.dpi + 1


def test_static_figure_of_conv_backward_carries_the_route_sum():
    ex = W.conv_backward_explorer()
    ex.controls["explain"].value = "dX"
    ex.controls["row"].value = 1
    text = " ".join(t.get_text() for t in ex.static_figure().axes[0].texts)
    assert "dX[1,0] = " in text and cell_label(ex.state["dX"][1, 0]).lstrip("−") in text.split("dX[1,0] = ")[1]


def test_static_figure_of_an_invalid_state_has_the_message_panel():
    ex = W.conv_forward_explorer(padding=0, dilation=3)
    assert ex.error and "dilation 3" in ex.error
    texts = {t.get_text() for t in ex.static_figure().axes[0].texts}
    assert "no output" in texts


def test_callback_failure_is_shown_not_raised(monkeypatch):
    ex = W.conv_forward_explorer()

    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(conv_forward, "conv2d_forward", boom)
    ex.controls["position"].value = 1  # must not raise
    assert isinstance(ex.last_exception, RuntimeError)
    assert "simulated failure" in ex.message.value and "Traceback" not in ex.message.value
    monkeypatch.undo()
    ex.controls["position"].value = 2
    assert ex.last_exception is None and ex.message.value == ""


def test_cnnlib_value_errors_are_shown_with_their_message(monkeypatch):
    ex = W.pool_backward_explorer()

    def refuse(*args, **kwargs):
        raise ValueError("maxpool2d_forward: simulated refusal")

    monkeypatch.setattr(pool_backward, "maxpool2d_forward", refuse)
    ex.controls["window"].value = 1
    assert ex.last_exception is None
    assert ex.error == "maxpool2d_forward: simulated refusal"
    assert "simulated refusal" in ex.message.value


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: W.conv_forward_explorer(X=np.zeros((9, 9))), "conv_forward_explorer: X"),
        (lambda: W.conv_forward_explorer(W=np.zeros((2, 2, 2))), "conv_forward_explorer: W"),
        (lambda: W.conv_forward_explorer(stride=0), "conv_forward_explorer: stride"),
        (lambda: W.conv_forward_explorer(X=[[1.0, np.nan]]), "conv_forward_explorer: X must be finite"),
        (lambda: W.conv_backward_explorer(dZ=np.zeros((2, 2))), "conv_backward_explorer: dZ"),
        (lambda: W.pool_backward_explorer(mode="median"), "pool_backward_explorer: mode"),
        (lambda: W.pool_backward_explorer(dP=np.zeros((3, 3))), "pool_backward_explorer: dP"),
        (lambda: W.pipeline_explorer(X=np.zeros((5, 5))), "pipeline_explorer: X"),
        (lambda: W.pipeline_explorer(y=2), "pipeline_explorer: y"),
        (lambda: W.dense_softmax_explorer(y=3), "dense_softmax_explorer: y"),
        (lambda: W.dense_softmax_explorer(p=[1.0, 2.0]), "dense_softmax_explorer: need"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_function(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_explorers_do_not_modify_their_inputs():
    X = np.arange(36, dtype=float).reshape(6, 6) / 10
    Wk = np.array([[1.0, 0.0], [0.0, -1.0]])
    X0, W0 = X.copy(), Wk.copy()
    ex = W.conv_forward_explorer(X, Wk)
    ex.controls["X[0,0]"].value = 5.0
    ex.controls["W[0,0]"].value = -5.0
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Wk, W0)


@settings(max_examples=12, deadline=None)
@given(
    X=arrays(np.float64, st.tuples(st.integers(2, 7), st.integers(2, 7)), elements=st.floats(-9, 9, width=16)),
    k=st.integers(1, 3),
    S=st.integers(1, 3),
    P=st.integers(0, 2),
    D=st.integers(1, 3),
    data=st.data(),
)
def test_conv_forward_matches_loops_for_any_small_input(X, k, S, P, D, data):
    Wk = data.draw(arrays(np.float64, (k, k), elements=st.floats(-9, 9, width=16)))
    ex = W.conv_forward_explorer(X, Wk, 0.5, stride=S, padding=P, dilation=D)
    Probe(ex, check_conv_forward).verify()
    fits = D * (k - 1) + 1 <= min(X.shape) + 2 * P
    assert (ex.error is None) == fits


@settings(max_examples=10, deadline=None)
@given(
    A=arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(2, 6)), elements=st.integers(-3, 3).map(float)),
    mode=st.sampled_from(["max", "average"]),
    K=st.integers(1, 4),
    S=st.integers(1, 4),
)
def test_pool_backward_matches_loops_with_ties(A, mode, K, S):
    ex = W.pool_backward_explorer(A, mode=mode, size=min(K, min(A.shape)), stride=S)
    Probe(ex, check_pool_backward).verify()
    assert ex.error is None


def test_format_of_cell_labels():
    assert cell_label(0) == "0"
    assert cell_label(-1.5) == "\u22121.5"
    assert cell_label(0.25) == "0.25"
    assert cell_label(-0.036) == "\u22120.036"  # the leading zero is kept
    assert cell_label(-0.999) == "\u22120.999"  # never a bare trailing point ("−1.")
    assert cell_label(1e-5) == "1e\u221205"
    assert cell_label(1234.0) == "1234"
    for v in np.linspace(-20, 20, 81):
        s = cell_label(v)
        assert len(s) <= 5 and not s.endswith(".") and not s.lstrip("\u2212").startswith(".")


def test_widgets_are_not_exported_from_the_package():
    assert not hasattr(cnnlib, "conv_forward_explorer")
    assert "widgets" not in getattr(cnnlib, "__all__", [])


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_text_fallback_is_short_and_names_the_explorer(name):
    ex = EXPLORERS[name]()
    text = repr(ex)
    assert text.startswith(f"{name}_explorer()") and len(text) < 200
    assert "static_figure" in text

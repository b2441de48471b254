"""cnnlib.routes: one convolution gradient entry as the list of products it sums (eqs. 3.2-3.3, 8.3-8.4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib.routes import conv_dW_terms, conv_dX_terms


@st.composite
def route_cases(draw):
    """One image, C channels, F filters, with stride, padding and dilation that leave an output."""
    C, F = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    S, P, D = draw(st.integers(1, 3)), draw(st.integers(0, 2)), draw(st.integers(1, 2))
    H = draw(st.integers(max(1, D * (KH - 1) + 1 - 2 * P), 7))
    W = draw(st.integers(max(1, D * (KW - 1) + 1 - 2 * P), 7))
    seed = draw(st.integers(0, 2**16))
    return C, F, KH, KW, S, P, D, H, W, seed


def _arrays(C, F, KH, KW, S, P, D, H, W, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((1, C, H, W))
    Wt = rng.standard_normal((F, C, KH, KW))
    Z, cache = cnnlib.conv2d_forward(X, Wt, np.zeros(F), stride=S, padding=P, dilation=D)
    dZ = rng.standard_normal(Z.shape)
    dX, dW, _ = cnnlib.conv2d_backward(dZ, cache)
    return X, Wt, dZ, dX, dW


@settings(max_examples=60, deadline=None)
@given(route_cases(), st.data())
def test_the_products_sum_to_the_backward_pass_entry(case, data):
    C, F, KH, KW, S, P, D, H, W, seed = case
    X, Wt, dZ, dX, dW = _arrays(*case)
    f, c = data.draw(st.integers(0, F - 1)), data.draw(st.integers(0, C - 1))
    i, j = data.draw(st.integers(0, KH - 1)), data.draw(st.integers(0, KW - 1))
    rs = conv_dW_terms(X, dZ, Wt.shape, (f, c, i, j), stride=S, padding=P, dilation=D)
    Xp = np.pad(X[0, c], P)
    total = sum(Xp[r + P, q + P] * dZ[0, f, u, v] for (r, q), (u, v) in rs.products)
    assert np.isclose(total, dW[f, c, i, j], rtol=1e-10, atol=1e-12) and rs.total == dW[f, c, i, j]
    assert len(rs.products) == dZ.shape[2] * dZ.shape[3]  # every output position meets W[i, j] once
    x, y = data.draw(st.integers(0, H - 1)), data.draw(st.integers(0, W - 1))
    rs = conv_dX_terms(Wt, dZ, X.shape, (c, x, y), stride=S, padding=P, dilation=D)
    total = sum(Wt[g, c, a, b] * dZ[0, g, u, v] for (g, a, b), (_, u, v) in rs.products)
    assert np.isclose(total, dX[0, c, x, y], rtol=1e-10, atol=1e-12)
    for (g, a, b), (g2, u, v) in rs.products:  # eq. 8.4: u·S + a·D = x + P
        assert g == g2 and u * S + a * D == x + P and v * S + b * D == y + P


def test_a_given_gradient_is_used_instead_of_a_second_backward_pass(monkeypatch):
    X, Wt, dZ, dX, dW = _arrays(1, 1, 2, 2, 1, 1, 1, 4, 4, 3)
    expected = conv_dX_terms(Wt, dZ, X.shape, (0, 1, 2), padding=1)

    def forbidden(*args, **kwargs):
        raise AssertionError("conv2d_backward called although the gradient was given")

    monkeypatch.setattr("cnnlib.routes.conv2d_backward", forbidden)
    given = conv_dX_terms(Wt, dZ, X.shape, (0, 1, 2), padding=1, dX=dX[0])
    assert given.terms == expected.terms and given.total == expected.total and given.equation == expected.equation
    rs = conv_dW_terms(X, dZ, Wt.shape, (0, 0, 1, 1), padding=1, dW=dW)
    assert rs.total == dW[0, 0, 1, 1]


def test_a_given_gradient_of_the_wrong_size_is_refused():
    X, Wt, dZ, dX, dW = _arrays(1, 1, 2, 2, 1, 0, 1, 4, 4, 3)
    with pytest.raises(ValueError, match=r"^conv_dW_terms: dW must have the gradient's shape"):
        conv_dW_terms(X, dZ, Wt.shape, (0, 0, 1, 1), dW=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"^conv_dX_terms: dX must have the gradient's shape"):
        conv_dX_terms(Wt, dZ, X.shape, (0, 1, 1), dX=np.zeros((2, 4, 4)))

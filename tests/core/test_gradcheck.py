"""Tests for cnnlib.gradcheck: the checker the whole book relies on must itself be checked.

* ``numerical_gradient`` reproduces gradients known in closed form (x**2, sin, matrix
  products) for random upstream gradients and any shape, and never mutates anything
  the caller can see;
* ``rel_error`` follows its documented definition;
* ``check_gradients`` passes a correct convolution backward and, just as importantly,
  reports deliberately wrong ones (flipped or transposed kernel gradient, missing
  factor or sum, flipped upstream gradient) as failing;
* ``check_loss`` and the report object behave as documented.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from _strategies import conv_cases, spaced_values
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib import check_gradients, check_loss, conv2d_backward, conv2d_forward, numerical_gradient, rel_error

# --------------------------------------------------------------------------- numerical_gradient


def test_square_elementwise_with_random_dout():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    num = numerical_gradient(lambda v: v**2, x, dout)
    assert num.shape == x.shape and num.dtype == np.float64
    np.testing.assert_allclose(num, 2 * x * dout, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("scale", [1e9, 1e10, 1e12])
def test_step_scales_with_large_entries(scale):
    """A fixed step of 1e-6 is a few float64 spacings at 1e9 (gradients off by percents) and none at 1e12 (NaN)."""
    x = scale * np.array([1.0, -3.0, 0.5, 7.0])
    dout = np.array([0.3, -1.2, 2.0, 0.7])
    np.testing.assert_allclose(numerical_gradient(lambda v: v**2, x, dout), 2 * x * dout, rtol=1e-8)
    np.testing.assert_allclose(
        numerical_gradient(lambda v: v**3 / scale**2, x, dout), 3 * x**2 / scale**2 * dout, rtol=1e-8
    )
    mixed = np.array([scale, 0.25, -1.0, -scale])  # small entries keep the plain step h
    np.testing.assert_allclose(numerical_gradient(lambda v: v**2, mixed, dout), 2 * mixed * dout, rtol=1e-8)


def test_step_is_exactly_h_where_entries_are_at_most_1():
    """Every result for |x| <= 1 is bit for bit the fixed-step central difference (the book's printed numbers)."""
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-1, 1, 10), [1.0, -1.0, 0.0]])
    dout = rng.standard_normal(x.shape)
    expected = np.zeros_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[i] += 1e-6
        xm[i] -= 1e-6
        expected[i] = float(np.sum((np.sin(xp) - np.sin(xm)) * dout)) / (xp[i] - xm[i])
    np.testing.assert_array_equal(numerical_gradient(np.sin, x, dout), expected)


def test_matrix_product_both_factors():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3, 5))
    B = rng.standard_normal((5, 2))
    dout = rng.standard_normal((3, 2))
    dA = numerical_gradient(lambda a: a @ B, A, dout)
    dB = numerical_gradient(lambda b: A @ b, B, dout)
    np.testing.assert_allclose(dA, dout @ B.T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(dB, A.T @ dout, rtol=1e-8, atol=1e-10)


def test_scalar_function_without_dout():
    x = np.linspace(-2.0, 2.0, 7)
    num = numerical_gradient(lambda v: np.sum(np.sin(v)), x)
    np.testing.assert_allclose(num, np.cos(x), rtol=1e-8, atol=1e-10)


def test_scalar_dout_scales_the_gradient():
    x = np.array([0.5, -1.5, 2.0])
    num = numerical_gradient(lambda v: v**3, x, 2.5)
    np.testing.assert_allclose(num, 2.5 * 3 * x**2, rtol=1e-8)


def test_tuple_output_uses_first_value():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1, 2, 4, 4))
    W = rng.standard_normal((3, 2, 2, 2))
    b = rng.standard_normal(3)
    dZ = rng.standard_normal((1, 3, 3, 3))
    num = numerical_gradient(lambda v: conv2d_forward(v, W, b), X, dZ)  # returns (Z, cache)
    _, cache = conv2d_forward(X, W, b)
    dX, _, _ = conv2d_backward(dZ, cache)
    assert rel_error(num, dX) < 1e-7


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=4).map(tuple), seed=st.integers(0, 2**16))
def test_any_shape(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    dout = rng.standard_normal(shape)
    num = numerical_gradient(lambda v: np.tanh(v) * 3.0, x, dout)
    assert num.shape == np.shape(x)
    np.testing.assert_allclose(num, 3.0 * (1 - np.tanh(x) ** 2) * dout, rtol=1e-7, atol=1e-9)


def test_no_mutation_visible_even_if_f_keeps_references():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3))
    x_before = x.copy()
    seen, values_when_seen = [], []

    def f(v):
        assert v is not x  # f never gets the caller's array
        seen.append(v)  # keep a reference, as a layer's cache would
        values_when_seen.append(v.copy())
        return v * 2.0

    numerical_gradient(f, x, rng.standard_normal((2, 3)))
    np.testing.assert_array_equal(x, x_before)
    assert len(seen) == 1 + 2 * x.size
    for kept, at_call in zip(seen, values_when_seen):
        np.testing.assert_array_equal(kept, at_call)  # nothing f kept was changed afterwards


def test_float32_input_is_not_modified_and_result_is_float64():
    x = np.array([1.0, 2.0], dtype=np.float32)
    num = numerical_gradient(lambda v: v**2, x, np.array([1.0, -2.0]))
    assert x.dtype == np.float32 and np.array_equal(x, [1.0, 2.0])
    assert num.dtype == np.float64
    np.testing.assert_allclose(num, [2.0, -8.0], rtol=1e-8)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "fragment"),
    [
        (("not callable", np.zeros(2), None), {}, TypeError, "f must be callable"),
        ((lambda v: v, np.zeros(3), None), {}, ValueError, "pass dout"),
        ((lambda v: v, np.zeros(3), np.ones(4)), {}, ValueError, "dout must have shape (3,)"),
        ((lambda v: v, np.zeros(3), np.ones(3)), {"h": 0.0}, ValueError, "h must be"),
        ((lambda v: v, np.zeros(3), np.ones(3)), {"h": "1e-6"}, TypeError, "h must be"),
        ((lambda v: v, np.array([1.0, np.nan]), np.ones(2)), {}, ValueError, "x must be finite"),
        ((lambda v: v, np.array(["a"]), np.ones(1)), {}, TypeError, "x must be a real numeric array"),
    ],
)
def test_numerical_gradient_bad_input(args, kwargs, exc, fragment):
    with pytest.raises(exc) as info:
        numerical_gradient(*args, **kwargs)
    msg = str(info.value)
    assert msg.startswith("numerical_gradient:") and fragment in msg, msg


# --------------------------------------------------------------------------- rel_error


def test_rel_error_definition():
    assert rel_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    a = np.array([1.0, -2.0, 0.0, 3e-9])
    b = np.array([1.0, -2.5, 0.0, 0.0])
    # largest discrepancy over largest entry
    assert rel_error(a, b) == pytest.approx(0.5 / 4.5)
    # CS231n's per-entry version: the last entry (floor 1e-8) dominates
    assert rel_error(a, b, elementwise=True) == pytest.approx(3e-9 / 1e-8)
    assert rel_error(b, a) == rel_error(a, b)
    assert rel_error(b, a, elementwise=True) == rel_error(a, b, elementwise=True)


def test_rel_error_scale_free():
    rng = np.random.default_rng(11)
    a = rng.standard_normal(10)
    b = a + 1e-3 * rng.standard_normal(10)
    assert rel_error(1e6 * a, 1e6 * b) == pytest.approx(rel_error(a, b))
    assert rel_error(1e-6 * a, 1e-6 * b) == pytest.approx(rel_error(a, b))


def test_rel_error_zeros_and_empty():
    assert rel_error(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0
    assert rel_error(np.zeros((2, 3)), np.zeros((2, 3)), elementwise=True) == 0.0
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0
    assert rel_error(np.zeros(2), np.array([0.0, 1.0])) == 1.0


def test_elementwise_sees_errors_in_tiny_entries():
    # one small entry that is 100% wrong: a clear signal per entry, a faint one overall
    a = np.array([1e3, 1e3, 1e-3])
    b = np.array([1e3, 1e3, 2e-3])
    assert rel_error(a, b, elementwise=True) == pytest.approx(1 / 3)
    assert rel_error(a, b) == pytest.approx(1e-3 / 2000)


def test_default_rel_error_tolerates_finite_difference_noise_near_zero():
    # tanh gradients at large |Z| are tiny, and the central difference's rounding noise
    # (~1e-16 / h) is then large relative to them; the default measure is not fooled
    Z = np.array([[0.3, -1.2, 9.0, -8.5]])
    dout = np.array([[0.7, -1.1, 0.05, 0.9]])
    num = numerical_gradient(np.tanh, Z, dout)
    exact = dout * (1 - np.tanh(Z) ** 2)
    assert rel_error(exact, num) < 1e-8
    assert rel_error(exact, num, elementwise=True) > 1e-7


def test_rel_error_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"^rel_error: b must have shape \(3,\)"):
        rel_error(np.zeros(3), np.zeros((3, 1)))


# --------------------------------------------------------------------------- check_gradients


def _conv_inputs(seed=0, N=2, C=3, F=4, H=6, W=5, KH=3, KW=3):
    rng = np.random.default_rng(seed)
    return {
        "X": rng.standard_normal((N, C, H, W)),
        "W": rng.standard_normal((F, C, KH, KW)),
        "b": rng.standard_normal(F),
    }


def test_correct_conv_backward_passes():
    inputs = _conv_inputs()
    report = check_gradients(conv2d_forward, conv2d_backward, inputs)
    assert report.passed, report
    assert [r.label for r in report.results] == ["dX", "dW", "db"]
    assert report.max_rel_error < 1e-7
    assert report.name == "conv2d"
    assert report.assert_ok() is report


def test_hyperparameters_bound_with_a_lambda():
    inputs = _conv_inputs(seed=1, H=7, W=8)
    report = check_gradients(
        lambda X, W, b: conv2d_forward(X, W, b, stride=2, padding=1, dilation=(1, 2)), conv2d_backward, inputs
    )
    report.assert_ok()
    assert report.name == "conv2d"  # taken from the backward when the forward is a lambda


def _flip_dW(dZ, cache):
    dX, dW, db = conv2d_backward(dZ, cache)
    return dX, dW[:, :, ::-1, ::-1], db  # the classic "convolution vs correlation" slip


def _transpose_dW(dZ, cache):
    dX, dW, db = conv2d_backward(dZ, cache)
    return dX, dW.transpose(0, 1, 3, 2), db  # rows and columns of the kernel swapped


def _half_dX(dZ, cache):
    dX, dW, db = conv2d_backward(dZ, cache)
    return 0.5 * dX, dW, db  # a missing factor


def _db_first_image_only(dZ, cache):
    dX, dW, _ = conv2d_backward(dZ, cache)
    return dX, dW, dZ[0].sum(axis=(1, 2))  # forgot to sum over the batch


def _dX_unflipped_kernel(dZ, cache):
    # dX computed by *correlating* the padded dZ with W instead of convolving (W not flipped)
    dX, dW, db = conv2d_backward(dZ, cache)
    W = cache.W
    KH, KW = W.shape[2:]
    dZp = np.pad(dZ, ((0, 0), (0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1)))
    wrong, _ = conv2d_forward(dZp, W.transpose(1, 0, 2, 3), np.zeros(W.shape[1]))
    return wrong, dW, db


@pytest.mark.parametrize(
    ("backward", "bad"),
    [
        (_flip_dW, "dW"),
        (_transpose_dW, "dW"),
        (_half_dX, "dX"),
        (_db_first_image_only, "db"),
        (_dX_unflipped_kernel, "dX"),
    ],
    ids=["flipped-dW", "transposed-dW", "half-dX", "db-one-image", "dX-unflipped-W"],
)
def test_checker_reports_wrong_conv_backward(backward, bad):
    inputs = _conv_inputs(seed=2, H=6, W=6)
    report = check_gradients(conv2d_forward, backward, inputs)
    assert not report.passed
    assert not report[bad].passed and report[bad].rel_error > 1e-3
    for r in report.results:
        if r.label != bad:
            assert r.passed, report  # the correct gradients are still recognised
    text = str(report)
    assert "FAILED" in text and bad in text.splitlines()[-1] and "✗" in text
    with pytest.raises(AssertionError, match="FAILED"):
        report.assert_ok()


def test_random_dout_catches_what_all_ones_hides():
    # A backward that flips dZ spatially before using it. With dout = ones the flip
    # changes nothing, so that check passes; a random dout exposes the bug.
    def flipped_upstream(dZ, cache):
        return conv2d_backward(dZ[:, :, ::-1, ::-1].copy(), cache)

    inputs = _conv_inputs(seed=3)
    out_shape = conv2d_forward(**inputs)[0].shape
    ones = check_gradients(conv2d_forward, flipped_upstream, inputs, dout=np.ones(out_shape))
    assert ones.passed, ones
    assert not check_gradients(conv2d_forward, flipped_upstream, inputs).passed


def test_mutating_forward_is_reported_and_the_caller_is_protected():
    def relu_in_place(Z):
        np.maximum(Z, 0, out=Z)  # overwrites its input
        return Z.copy(), Z > 0

    def relu_backward(dA, mask):
        return dA * mask

    Z = np.array([[0.5, -1.5, 2.5], [-0.25, 0.75, -3.0]])
    Z_before = Z.copy()
    report = check_gradients(relu_in_place, relu_backward, {"Z": Z})
    assert report.mutated == ["Z"] and not report.passed
    assert "modified" in str(report)
    np.testing.assert_array_equal(Z, Z_before)


def test_wrt_checks_a_subset():
    inputs = _conv_inputs(seed=4)
    report = check_gradients(conv2d_forward, conv2d_backward, inputs, wrt=["W"])
    assert [r.label for r in report.results] == ["dW"] and report.passed


def test_wrong_gradient_shape_is_a_failure_not_a_crash():
    def backward(dZ, cache):
        dX, dW, db = conv2d_backward(dZ, cache)
        return dX, dW[:, :, :-1], db

    report = check_gradients(conv2d_forward, backward, _conv_inputs(seed=5))
    assert not report["dW"].passed and "shape" in report["dW"].note


def test_given_dout_is_used_and_seed_changes_default_dout():
    inputs = _conv_inputs(seed=6)
    out_shape = conv2d_forward(**inputs)[0].shape
    dout = np.random.default_rng(9).standard_normal(out_shape)
    r1 = check_gradients(conv2d_forward, conv2d_backward, inputs, dout=dout)
    assert r1.seed is None and r1.passed
    _, cache = conv2d_forward(**inputs)
    np.testing.assert_allclose(r1["dW"].analytic, conv2d_backward(dout, cache)[1])
    r2 = check_gradients(conv2d_forward, conv2d_backward, inputs, seed=1)
    r3 = check_gradients(conv2d_forward, conv2d_backward, inputs, seed=2)
    assert r2.seed == 1 and not np.allclose(r2["dW"].analytic, r3["dW"].analytic)


@pytest.mark.parametrize(
    ("call", "exc", "fragment"),
    [
        (lambda: check_gradients(conv2d_forward, conv2d_backward, []), TypeError, "inputs must be"),
        (lambda: check_gradients(conv2d_forward, None, {"X": 1.0}), TypeError, "must be callables"),
        (lambda: check_gradients(lambda X: X, conv2d_backward, {"X": np.ones(2)}), TypeError, "(out, cache)"),
        (
            lambda: check_gradients(conv2d_forward, lambda d, c: conv2d_backward(d, c)[:2], _conv_inputs()),
            ValueError,
            "returned 2 gradient(s)",
        ),
        (
            lambda: check_gradients(conv2d_forward, conv2d_backward, _conv_inputs(), wrt=["Q"]),
            ValueError,
            "wrt names",
        ),
        (
            lambda: check_gradients(conv2d_forward, conv2d_backward, _conv_inputs(), dout=np.ones(3)),
            ValueError,
            "dout must have shape",
        ),
        (lambda: check_gradients(conv2d_forward, conv2d_backward, _conv_inputs(), tol=0), ValueError, "tol"),
    ],
)
def test_check_gradients_bad_input(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert msg.startswith("check_gradients:") and fragment in msg, msg


# --------------------------------------------------------------------------- report


def test_report_text_and_pretty_printing():
    report = check_gradients(conv2d_forward, conv2d_backward, _conv_inputs(seed=7))
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("conv2d: gradient check") and "h=1e-06" in lines[0] and "seed=0" in lines[0]
    for label, line in zip(["dX", "dW", "db"], lines[1:4]):
        assert line.split()[0] == label and "rel err" in line and line.rstrip().endswith("✓")
    assert lines[-1].strip().startswith("passed")
    assert repr(report) == text

    class Printer:  # the bit of IPython's pretty printer that _repr_pretty_ uses
        def __init__(self):
            self.buf = io.StringIO()

        def text(self, s):
            self.buf.write(s)

    p = Printer()
    report._repr_pretty_(p, False)
    assert p.buf.getvalue() == text
    assert set(report.rel_errors) == {"dX", "dW", "db"} and set(report.max_abs_errors) == {"dX", "dW", "db"}
    with pytest.raises(KeyError, match="no gradient named"):
        report["dQ"]


# --------------------------------------------------------------------------- check_loss


def _softmax_ce(s, y):
    z = s - s.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    N = s.shape[0]
    L = -logp[np.arange(N), y].mean()
    ds = np.exp(logp)
    ds[np.arange(N), y] -= 1
    return L, ds / N


def test_check_loss_passes_correct_and_fails_missing_batch_average():
    rng = np.random.default_rng(8)
    s = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, size=5)
    report = check_loss(_softmax_ce, s, y)
    assert report.passed, report
    assert report.results[0].label == "ds" and report.name == "_softmax_ce"

    def forgot_to_average(s, y):
        L, ds = _softmax_ce(s, y)
        return L, ds * s.shape[0]

    bad = check_loss(forgot_to_average, s, y)
    assert not bad.passed and bad.results[0].rel_error > 0.5


def test_check_loss_on_the_library_losses():
    rng = np.random.default_rng(10)
    s = rng.standard_normal((4, 3)) * 2
    y = rng.integers(0, 3, size=4)
    report = check_loss(cnnlib.softmax_cross_entropy, s, y)
    assert report.name == "softmax_cross_entropy" and report.results[0].label == "ds"
    report.assert_ok()
    z = rng.standard_normal((5, 1))
    t = rng.integers(0, 2, size=(5, 1)).astype(float)
    report = check_loss(cnnlib.binary_cross_entropy_with_logits, z, t)
    assert report.results[0].label == "dz"
    report.assert_ok()


# --------------------------------------------------------------------------- no false alarms


@settings(max_examples=30, deadline=None)
@given(case=conv_cases())
def test_correct_conv_passes_over_a_shape_grid(case):
    # standard-normal data, default h and tol: a correct backward must never be flagged
    X, W, b, _ = case.arrays()
    report = check_gradients(
        lambda X, W, b: conv2d_forward(X, W, b, **case.kwargs), conv2d_backward, {"X": X, "W": W, "b": b}
    )
    assert report.passed, report


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.1, 1.0, 5.0]))
def test_correct_smooth_activations_pass(seed, scale):
    # tanh/sigmoid gradients are tiny at large |Z|: the default rel_error is not fooled by that
    Z = scale * np.random.default_rng(seed).standard_normal((3, 4))
    for fwd, bwd in [(cnnlib.tanh_forward, cnnlib.tanh_backward), (cnnlib.sigmoid_forward, cnnlib.sigmoid_backward)]:
        check_gradients(fwd, bwd, {"Z": Z}, seed=seed).assert_ok()


def test_correct_maxpool_passes_on_spaced_values():
    A = spaced_values(np.random.default_rng(12), (2, 2, 5, 5), gap=1e-2)
    check_gradients(
        lambda A: cnnlib.maxpool2d_forward(A, size=3, stride=1, padding=1), cnnlib.maxpool2d_backward, {"A": A}
    ).assert_ok()


def test_tiny_gradient_failure_explains_itself():
    # tanh deep in saturation (Z around 10): every gradient entry is ~1e-8 or less, close to
    # the rounding noise of central differences (~1e-16 / h); the check fails and says why
    Z = 10.0 + np.random.default_rng(13).random((2, 3))
    report = check_gradients(cnnlib.tanh_forward, cnnlib.tanh_backward, {"Z": Z})
    assert not report.passed
    assert "tiny" in report["dZ"].note and "tiny" in str(report)
    # a wrong gradient with a normal-sized error gets no such note
    wrong = check_gradients(cnnlib.tanh_forward, lambda dA, cache: dA, {"Z": np.array([0.5, -0.3])})
    assert not wrong.passed and wrong["dZ"].note == ""


def test_check_layer_is_check_gradients():
    assert cnnlib.check_layer is check_gradients

"""cnnlib.exercises.ch09 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlib import SGD, Dense
from cnnlib.exercises import ch09

# ---------------------------------------------------------------- right answers (as in 09_solutions)


def sgd_step_right(theta, v, grad, lr, momentum):
    v_new = momentum * v - lr * grad
    return theta + v_new, v_new


def accuracy_confusion_right(y_true, y_pred, M):
    C = np.zeros((M, M), dtype=int)
    for t, p in zip(y_true, y_pred):
        C[t, p] += 1
    return np.trace(C) / len(y_true), C


def max_stable_lr_right(a, momentum):
    return 2 * (1 + momentum) / a


# ---------------------------------------------------------------- wrong answers


def sgd_step_in_place(theta, v, grad, lr, momentum):
    v *= momentum
    v -= lr * grad
    theta += v
    return theta, v


def sgd_step_sign(theta, v, grad, lr, momentum):
    return sgd_step_right(theta, v, -grad, lr, momentum)


def sgd_step_old_velocity(theta, v, grad, lr, momentum):
    return theta + v, momentum * v - lr * grad


def sgd_step_torch_buffer(theta, v, grad, lr, momentum):
    b = momentum * v + grad
    return theta - lr * b, b


def sgd_step_no_momentum(theta, v, grad, lr, momentum):
    return theta - lr * grad, -lr * grad


def sgd_step_lr_everywhere(theta, v, grad, lr, momentum):
    v_new = lr * (momentum * v - grad)
    return theta + v_new, v_new


def sgd_step_theta_only(theta, v, grad, lr, momentum):
    return sgd_step_right(theta, v, grad, lr, momentum)[0]


def accuracy_confusion_transposed(y_true, y_pred, M):
    acc, C = accuracy_confusion_right(y_true, y_pred, M)
    return acc, C.T


def accuracy_confusion_percent(y_true, y_pred, M):
    acc, C = accuracy_confusion_right(y_true, y_pred, M)
    return 100 * acc, C


def accuracy_confusion_count(y_true, y_pred, M):
    acc, C = accuracy_confusion_right(y_true, y_pred, M)
    return np.trace(C), C


def accuracy_confusion_float(y_true, y_pred, M):
    acc, C = accuracy_confusion_right(y_true, y_pred, M)
    return acc, C.astype(float)


def accuracy_confusion_size_from_data(y_true, y_pred, M):
    return accuracy_confusion_right(y_true, y_pred, int(max(y_true.max(), y_pred.max())) + 1)


def max_stable_lr_plain(a, momentum):
    return 2 / a


def max_stable_lr_effective(a, momentum):
    return 2 * (1 - momentum) / a


def max_stable_lr_amplified(a, momentum):
    return 2 / (a * (1 - momentum))


def max_stable_lr_one_step(a, momentum):
    return 1 / a


def stub(*args):
    return None


def test_right_answers_pass(capsys):
    assert ch09.check_sgd_momentum_step(sgd_step_right)
    assert ch09.check_accuracy_confusion(accuracy_confusion_right)
    assert ch09.check_max_stable_lr(max_stable_lr_right)
    assert capsys.readouterr().out.count("✓ all") == 3


@pytest.mark.parametrize(
    "fn, words",
    [
        (sgd_step_in_place, "modified its input arrays"),
        (sgd_step_sign, "against the gradient"),
        (sgd_step_old_velocity, "not by the old one"),
        (sgd_step_torch_buffer, "PyTorch's form"),
        (sgd_step_no_momentum, "momentum term is missing"),
        (sgd_step_lr_everywhere, "multiplies the gradient only"),
        (sgd_step_theta_only, "expected a tuple (theta_new, v_new)"),
        (stub, "not attempted yet"),
    ],
)
def test_sgd_momentum_step_rejects(fn, words, capsys):
    assert ch09.check_sgd_momentum_step(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (accuracy_confusion_transposed, "C is transposed"),
        (accuracy_confusion_percent, "not a percentage"),
        (accuracy_confusion_count, "not the count"),
        (accuracy_confusion_float, "whole counts"),
        (accuracy_confusion_size_from_data, "C has shape (4, 4), expected (5, 5)"),
        (stub, "not attempted yet"),
    ],
)
def test_accuracy_confusion_rejects(fn, words, capsys):
    assert ch09.check_accuracy_confusion(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (max_stable_lr_plain, "2/a is the limit of plain gradient descent"),
        (max_stable_lr_effective, "long-run step on a constant slope"),
        (max_stable_lr_amplified, "amplifies a step"),
        (max_stable_lr_one_step, "1/a reaches the minimum in one step"),
        (stub, "not attempted yet"),
    ],
)
def test_max_stable_lr_rejects(fn, words, capsys):
    assert ch09.check_max_stable_lr(fn).passed is False
    assert words in capsys.readouterr().out


def test_reference_step_matches_cnnlib_sgd():
    """The exercise's update is exactly what cnnlib.SGD does, over several steps."""
    rng = np.random.default_rng(0)
    layer = Dense(4, 3, seed=1)
    opt = SGD(layer, lr=0.07, momentum=0.8)
    theta, v = layer.U.copy(), np.zeros_like(layer.U)
    for _ in range(3):
        layer.dU = rng.standard_normal(layer.U.shape)
        layer.dc = np.zeros(3)
        theta, v = sgd_step_right(theta, v, layer.dU, 0.07, 0.8)
        opt.step()
        np.testing.assert_allclose(layer.U, theta, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("a, momentum", [(4.0, 0.0), (4.0, 0.9), (0.5, 0.5), (250.0, 0.9)])
def test_stability_limit_is_where_quadratic_descent_turns(a, momentum):
    """Just below the limit the descent shrinks theta; just above it theta grows without bound."""
    limit = max_stable_lr_right(a, momentum)
    below = ch09.quadratic_descent(a, 0.98 * limit, momentum, steps=3000)
    above = ch09.quadratic_descent(a, 1.02 * limit, momentum, steps=3000)
    assert abs(below[-1]) < 1e-3
    assert not np.isfinite(above[-1]) or abs(above[-1]) > 1e3


def test_quadratic_descent_values_and_errors():
    thetas = ch09.quadratic_descent(2.0, 0.25, 0.5, steps=2, theta0=1.0)
    # v1 = -0.5, theta1 = 0.5; v2 = 0.5*(-0.5) - 0.25*2*0.5 = -0.5, theta2 = 0.0
    np.testing.assert_allclose(thetas, [1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="^quadratic_descent: steps"):
        ch09.quadratic_descent(1.0, 0.1, steps=0)
    with pytest.raises(TypeError, match="^quadratic_descent: lr"):
        ch09.quadratic_descent(1.0, "0.1")

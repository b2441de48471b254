"""cnnlib.exercises.ch11 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlib.exercises import ch11

# ---------------------------------------------------------------- right answers (as in 11_solutions)


def init_std_right(shape, rule):
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    return math.sqrt(2 / fan_in) if rule == "he" else math.sqrt(2 / (fan_in + fan_out))


def bn_backward_right(dY, X, gamma, eps):
    axes = (0, 2, 3)
    m = X.shape[0] * X.shape[2] * X.shape[3]
    mu = X.mean(axis=axes, keepdims=True)
    sigma = np.sqrt(X.var(axis=axes, keepdims=True) + eps)
    Xhat = (X - mu) / sigma
    dbeta = dY.sum(axis=axes)
    dgamma = (dY * Xhat).sum(axis=axes)
    dX = (
        gamma[None, :, None, None]
        / (m * sigma)
        * (m * dY - dbeta[None, :, None, None] - Xhat * dgamma[None, :, None, None])
    )
    return dX, dgamma, dbeta


def bn_backward_staged(dY, X, gamma, eps):
    """The step-by-step chain rule (eqs. 11.8-11.11 backwards), not the compact form."""
    axes = (0, 2, 3)
    m = X.shape[0] * X.shape[2] * X.shape[3]
    mu = X.mean(axis=axes, keepdims=True)
    Xc = X - mu
    var = (Xc**2).mean(axis=axes, keepdims=True)
    dXhat = dY * gamma[None, :, None, None]
    dvar = (dXhat * Xc).sum(axis=axes, keepdims=True) * -0.5 * (var + eps) ** -1.5
    dmu = (-dXhat / np.sqrt(var + eps)).sum(axis=axes, keepdims=True) + dvar * (-2 * Xc).mean(axis=axes, keepdims=True)
    dX = dXhat / np.sqrt(var + eps) + dvar * 2 * Xc / m + dmu / m
    Xhat = Xc / np.sqrt(var + eps)
    return dX, (dY * Xhat).sum(axis=axes), dY.sum(axis=axes)


def adam_right(theta, m, v, grad, t, lr, beta1, beta2, eps):
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    mhat, vhat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
    return theta - lr * mhat / (np.sqrt(vhat) + eps), m_new, v_new


# ---------------------------------------------------------------- wrong answers


def init_variance(shape, rule):
    return init_std_right(shape, rule) ** 2


def init_channels_only(shape, rule):
    return math.sqrt(2 / shape[1]) if rule == "he" else math.sqrt(2 / (shape[0] + shape[1]))


def init_swapped(shape, rule):
    receptive = math.prod(shape[2:])
    return math.sqrt(2 / (shape[0] * receptive))


def init_one_over_fan(shape, rule):
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    return math.sqrt(1 / fan_in) if rule == "he" else math.sqrt(2 / (fan_in + fan_out))


def init_glorot_half(shape, rule):
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    return math.sqrt(2 / fan_in) if rule == "he" else math.sqrt(1 / (fan_in + fan_out))


def bn_direct_only(dY, X, gamma, eps):
    dX, dgamma, dbeta = bn_backward_right(dY, X, gamma, eps)
    sigma = np.sqrt(X.var(axis=(0, 2, 3), keepdims=True) + eps)
    return dY * gamma[None, :, None, None] / sigma, dgamma, dbeta


def bn_no_var_path(dY, X, gamma, eps):
    m = X.shape[0] * X.shape[2] * X.shape[3]
    sigma = np.sqrt(X.var(axis=(0, 2, 3), keepdims=True) + eps)
    _, dgamma, dbeta = bn_backward_right(dY, X, gamma, eps)
    return gamma[None, :, None, None] / sigma * (dY - dbeta[None, :, None, None] / m), dgamma, dbeta


def bn_no_gamma(dY, X, gamma, eps):
    return bn_backward_right(dY, X, np.ones_like(gamma), eps)[0], *bn_backward_right(dY, X, gamma, eps)[1:]


def bn_dgamma_times_X(dY, X, gamma, eps):
    dX, _, dbeta = bn_backward_right(dY, X, gamma, eps)
    return dX, (dY * X).sum(axis=(0, 2, 3)), dbeta


def bn_per_sample(dY, X, gamma, eps):
    """Statistics over (H, W) of each image instead of over (N, H, W): instance norm's gradient."""
    out = [bn_backward_right(dY[n : n + 1], X[n : n + 1], gamma, eps) for n in range(X.shape[0])]
    return np.concatenate([o[0] for o in out]), sum(o[1] for o in out), sum(o[2] for o in out)


def bn_in_place(dY, X, gamma, eps):
    X -= X.mean(axis=(0, 2, 3), keepdims=True)
    return bn_backward_right(dY, X, gamma, eps)


def adam_uncorrected(theta, m, v, grad, t, lr, beta1, beta2, eps):
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    return theta - lr * m_new / (np.sqrt(v_new) + eps), m_new, v_new


def adam_first_only(theta, m, v, grad, t, lr, beta1, beta2, eps):
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    return theta - lr * m_new / (1 - beta1**t) / (np.sqrt(v_new) + eps), m_new, v_new


def adam_eps_inside(theta, m, v, grad, t, lr, beta1, beta2, eps):
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    mhat, vhat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
    return theta - lr * mhat / np.sqrt(vhat + eps), m_new, v_new


def adam_sign(theta, m, v, grad, t, lr, beta1, beta2, eps):
    return adam_right(theta, m, v, -grad, t, lr, beta1, beta2, eps)


def stub(*args):
    return None


def test_right_answers_pass(capsys):
    assert ch11.check_init_std(init_std_right)
    assert ch11.check_batchnorm_backward(bn_backward_right)
    assert ch11.check_batchnorm_backward(bn_backward_staged)
    assert ch11.check_adam_step(adam_right)
    assert capsys.readouterr().out.count("✓ all") == 4


@pytest.mark.parametrize(
    "fn, words",
    [
        (init_variance, "that is the variance"),
        (init_channels_only, "not just C"),
        (init_swapped, "fan_in and fan_out swapped"),
        (init_one_over_fan, "not 1 / fan_in"),
        (init_glorot_half, "harmonic mean"),
        (stub, "not attempted yet"),
    ],
)
def test_init_std_rejects(fn, words, capsys):
    assert ch11.check_init_std(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (bn_direct_only, "only the direct path"),
        (bn_no_var_path, "path through the variance is missing"),
        (bn_no_gamma, "missing the factor gamma"),
        (bn_dgamma_times_X, "not times X"),
        (bn_per_sample, "✗ case 1"),
        (bn_in_place, "modified its input arrays"),
        (stub, "not attempted yet"),
    ],
)
def test_batchnorm_backward_rejects(fn, words, capsys):
    assert ch11.check_batchnorm_backward(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (adam_uncorrected, "bias corrections are missing"),
        (adam_first_only, "only the first moment"),
        (adam_eps_inside, "eps goes outside"),
        (adam_sign, "✗ case 1"),
        (stub, "not attempted yet"),
    ],
)
def test_adam_step_rejects(fn, words, capsys):
    assert ch11.check_adam_step(fn).passed is False
    assert words in capsys.readouterr().out


def test_an_all_ones_upstream_gradient_would_not_tell_the_mistakes_apart():
    """The reason every case uses a random dY: with dY = 1 the direct-path-only answer has the
    right dX whenever gamma is 1 ... and the right answer's dX is 0."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 2, 2, 2))
    ones = np.ones_like(X)
    right = bn_backward_right(ones, X, np.ones(2), 1e-5)[0]
    np.testing.assert_allclose(right, 0, atol=1e-12)
    np.testing.assert_allclose(bn_no_var_path(ones, X, np.ones(2), 1e-5)[0], 0, atol=1e-12)

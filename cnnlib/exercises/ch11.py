"""Checkers for the exercises of notebook 11 (deeper networks).

* :func:`check_init_std` — exercise 11.1: the standard deviation of He's and Glorot's normal
  initialisation for a convolution or dense weight shape (eqs. 11.3-11.4);
* :func:`check_batchnorm_backward` — exercise 11.2: the training-mode batch-norm backward pass
  in its compact form (eq. 11.13), checked with random upstream gradients;
* :func:`check_adam_step` — exercise 11.3: one step of Adam with bias correction (eq. 11.16).

Each prints a verdict and returns a :class:`~cnnlib.exercises._checking.Verdict` (truthy when
every case passed); none raises because of your answer.
"""

from __future__ import annotations

import math

import numpy as np

from ..batchnorm import batchnorm2d_backward, batchnorm2d_forward
from ._checking import Case, Verdict, run_cases

__all__ = ["check_init_std", "check_batchnorm_backward", "check_adam_step"]


def _rng(offset: int = 0):
    return np.random.default_rng(11011 + offset)


# --------------------------------------------------------------------------- exercise 11.1


def _fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _init_std(shape, rule):
    fan_in, fan_out = _fans(shape)
    return math.sqrt(2.0 / fan_in) if rule == "he" else math.sqrt(2.0 / (fan_in + fan_out))


def check_init_std(my_init_std) -> Verdict:
    """Exercise 11.1. ``my_init_std(shape, rule) -> sigma``.

    ``shape`` is a weight shape, (F, C, KH, KW) for a convolution or (M, Q) for a dense layer;
    ``rule`` is ``"he"`` (for ReLU: variance 2 / fan_in) or ``"glorot"`` (for tanh: variance
    2 / (fan_in + fan_out)). Return the standard deviation sigma of the normal draw, with
    fan_in = C·KH·KW and fan_out = F·KH·KW (Q and M for a dense layer).
    """
    specs = [
        ("He, dense (M, Q) = (10, 256)", (10, 256), "he"),
        ("He, convolution (F, C, KH, KW) = (16, 1, 3, 3)", (16, 1, 3, 3), "he"),
        ("He, convolution (32, 16, 3, 3)", (32, 16, 3, 3), "he"),
        ("Glorot, dense (10, 256)", (10, 256), "glorot"),
        ("Glorot, convolution (32, 16, 3, 3)", (32, 16, 3, 3), "glorot"),
        ("Glorot, convolution (8, 4, 5, 3)", (8, 4, 5, 3), "glorot"),
    ]
    cases = []
    for label, shape, rule in specs:
        fan_in, fan_out = _fans(shape)
        expected = _init_std(shape, rule)
        hints = {
            "that is the variance; return its square root, the standard deviation": expected**2,
            "the fan-in of a convolution is C·KH·KW, not just C: every output cell sums over the "
            "channels and the kernel window": math.sqrt(2.0 / shape[1])
            if rule == "he"
            else math.sqrt(2.0 / (shape[1] + shape[0])),
            "fan_in and fan_out swapped: fan_in counts the inputs of one output (C·KH·KW)": math.sqrt(2.0 / fan_out),
        }
        if len(shape) == 4:
            hints["the fan-in is the size of the whole kernel W[f] (C·KH·KW), not of all of W"] = (
                math.sqrt(2.0 / math.prod(shape)) if rule == "he" else math.sqrt(4.0 / math.prod(shape))
            )
        if rule == "glorot":
            hints["Glorot's variance is 2 / (fan_in + fan_out), the harmonic mean of 1/fan_in and 1/fan_out"] = (
                math.sqrt(1.0 / (fan_in + fan_out))
            )
        else:
            hints["ReLU zeroes half of its inputs: He's variance is 2 / fan_in, not 1 / fan_in"] = math.sqrt(
                1.0 / fan_in
            )
        cases.append(Case(label, (shape, rule), expected, hints=hints))
    return run_cases(
        "check_init_std", my_init_std, cases, stub_hint="Fill in my_init_std(shape, rule) so that it returns a number."
    )


# --------------------------------------------------------------------------- exercise 11.2


def _bn_wrong_answers(X, gamma, dY, eps):
    """What typical mistakes give: each path of the chain rule left out, or gamma forgotten."""
    mu = X.mean(axis=(0, 2, 3), keepdims=True)
    var = X.var(axis=(0, 2, 3), keepdims=True)
    Xhat = (X - mu) / np.sqrt(var + eps)
    g = gamma[None, :, None, None]
    dbeta = dY.sum(axis=(0, 2, 3))
    dgamma = (dY * Xhat).sum(axis=(0, 2, 3))
    db, dg = dbeta[None, :, None, None], dgamma[None, :, None, None]
    N, _, H, W = X.shape
    m = N * H * W
    sigma = np.sqrt(var + eps)
    return {
        "only the direct path through Xhat: X also enters the mean and the variance "
        "(eq. 11.13 subtracts the mean of dY and of dY·Xhat)": (g * dY / sigma, dgamma, dbeta),
        "the path through the variance is missing: subtract Xhat times the mean of dY·Xhat": (
            g / sigma * (dY - db / m),
            dgamma,
            dbeta,
        ),
        "the path through the mean is missing: subtract the mean of dY": (
            g / sigma * (dY - Xhat * dg / m),
            dgamma,
            dbeta,
        ),
        "dX is missing the factor gamma: Y = gamma Xhat + beta": (
            (dY - db / m - Xhat * dg / m) / sigma,
            dgamma,
            dbeta,
        ),
        "dgamma sums dY times Xhat (the normalised input), not times X": (
            g / sigma * (dY - db / m - Xhat * dg / m),
            (dY * X).sum(axis=(0, 2, 3)),
            dbeta,
        ),
    }


def check_batchnorm_backward(my_batchnorm_backward) -> Verdict:
    """Exercise 11.2. ``my_batchnorm_backward(dY, X, gamma, eps) -> (dX, dgamma, dbeta)``.

    Spatial batch normalisation in training mode (notebook 11, eqs. 11.8-11.11): per channel c
    the mean and the biased variance over the N·H·W cells, ``Xhat = (X - mu) / sqrt(var + eps)``,
    ``Y = gamma[c] Xhat + beta[c]``. Given the upstream gradient ``dY`` (N, C, H, W), the input
    ``X`` (N, C, H, W), ``gamma`` (C,) and ``eps``, return dX (N, C, H, W), dgamma (C,) and
    dbeta (C,). Every case uses a random dY: an all-ones dY would hide the mistakes (§11.5).
    """
    rng = _rng(2)
    specs = [
        ("one channel, N = 4, 1×1 maps (a dense batch norm)", (4, 1, 1, 1), 1e-5),
        ("two channels, N = 2, 3×3", (2, 2, 3, 3), 1e-5),
        ("three channels, N = 3, 2×4, eps = 0.1", (3, 3, 2, 4), 0.1),
    ]
    cases = []
    for label, shape, eps in specs:
        C = shape[1]
        X = (rng.standard_normal(shape) * 2 + rng.standard_normal((1, C, 1, 1))).round(3)
        gamma = rng.uniform(0.5, 2.0, C).round(3)
        dY = rng.standard_normal(shape).round(3)
        _, cache = batchnorm2d_forward(X, gamma, np.zeros(C), eps=eps)
        expected = batchnorm2d_backward(dY, cache)
        cases.append(
            Case(
                label,
                (dY, X, gamma, eps),
                expected,
                names=("dX", "dgamma", "dbeta"),
                hints=_bn_wrong_answers(X, gamma, dY, eps),
            )
        )
    return run_cases(
        "check_batchnorm_backward",
        my_batchnorm_backward,
        cases,
        stub_hint="Fill in my_batchnorm_backward(dY, X, gamma, eps) so that it returns (dX, dgamma, dbeta).",
    )


# --------------------------------------------------------------------------- exercise 11.3


def _adam(theta, m, v, grad, t, lr, beta1, beta2, eps, *, correct1=True, correct2=True, eps_inside=False):
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    mhat = m_new / (1 - beta1**t) if correct1 else m_new
    vhat = v_new / (1 - beta2**t) if correct2 else v_new
    denom = np.sqrt(vhat + eps) if eps_inside else np.sqrt(vhat) + eps
    return theta - lr * mhat / denom, m_new, v_new


def check_adam_step(my_adam_step) -> Verdict:
    """Exercise 11.3. ``my_adam_step(theta, m, v, grad, t, lr, beta1, beta2, eps) -> (theta_new, m_new, v_new)``.

    Step number ``t`` (1 for the first step) of Adam (notebook 11, eq. 11.16)::

        m_new = beta1 m + (1 - beta1) grad          v_new = beta2 v + (1 - beta2) grad^2
        theta_new = theta - lr · mhat / (sqrt(vhat) + eps),
        mhat = m_new / (1 - beta1^t),   vhat = v_new / (1 - beta2^t)

    ``theta``, ``m``, ``v`` and ``grad`` have the same shape. Return new arrays.
    """
    rng = _rng(3)
    specs = [
        ("first step (t = 1, m = v = 0)", (3,), 1, False),
        ("first step with tiny gradients (|grad| about 1e-6, so eps matters)", (4,), 1, False),
        ("step 5 with averages from earlier steps", (2, 3), 5, True),
        ("step 100, (F, C, KH, KW) = (2, 1, 3, 3)", (2, 1, 3, 3), 100, True),
    ]
    cases = []
    for label, shape, t, moving in specs:
        theta = rng.standard_normal(shape).round(3)
        grad = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 2, shape)
        if "tiny" in label:
            grad = rng.standard_normal(shape) * 1e-6
        m = rng.standard_normal(shape).round(3) * 0.1 if moving else np.zeros(shape)
        v = rng.uniform(0, 0.5, shape).round(3) if moving else np.zeros(shape)
        args = (theta, m, v, grad, t, 0.01, 0.9, 0.999, 1e-8)
        hints = {
            "the bias corrections are missing: divide m_new by 1 - beta1^t and v_new by 1 - beta2^t": _adam(
                *args, correct1=False, correct2=False
            ),
            "only the first moment is bias-corrected; vhat = v_new / (1 - beta2^t) too": _adam(*args, correct2=False),
            "eps goes outside the square root: sqrt(vhat) + eps": _adam(*args, eps_inside=True),
        }
        cases.append(Case(label, args, _adam(*args), names=("theta_new", "m_new", "v_new"), hints=hints))
    return run_cases(
        "check_adam_step",
        my_adam_step,
        cases,
        stub_hint="Fill in my_adam_step(theta, m, v, grad, t, lr, beta1, beta2, eps) so that it returns "
        "(theta_new, m_new, v_new).",
    )

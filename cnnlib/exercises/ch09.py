"""Checkers for the exercises of notebook 09 (training on real handwritten digits).

* :func:`check_sgd_momentum_step` — exercise 9.1: one step of SGD with momentum,
  ``v <- mu v - lr dW``, ``W <- W + v`` (notebook 09, eq. 9.2), returning new arrays;
* :func:`check_accuracy_confusion` — exercise 9.2: the accuracy and the confusion matrix of a
  classifier's predictions (rows: true class, columns: predicted class);
* :func:`check_max_stable_lr` — exercise 9.3: the largest learning rate for which gradient
  descent with momentum still converges on ``L(theta) = a theta^2 / 2``;
  :func:`quadratic_descent` runs that descent so that an answer can be tried numerically.

Each prints a verdict and returns a :class:`~cnnlib.exercises._checking.Verdict` (truthy when
every case passed); none raises because of your answer.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._checking import Case, Verdict, run_cases

__all__ = [
    "check_sgd_momentum_step",
    "check_accuracy_confusion",
    "check_max_stable_lr",
    "quadratic_descent",
]


def _rng(offset: int = 0):
    return np.random.default_rng(9009 + offset)


# --------------------------------------------------------------------------- exercise 9.1


def _sgd_momentum(theta, v, grad, lr, momentum):
    """Reference: notebook 09, eq. (9.2). Returns new arrays (theta_new, v_new)."""
    v_new = momentum * v - lr * grad
    return theta + v_new, v_new


def check_sgd_momentum_step(my_sgd_momentum_step) -> Verdict:
    """Exercise 9.1. ``my_sgd_momentum_step(theta, v, grad, lr, momentum) -> (theta_new, v_new)``.

    One step of stochastic gradient descent with momentum (notebook 09, eq. 9.2)::

        v_new     = momentum * v - lr * grad
        theta_new = theta + v_new

    ``theta``, ``v`` and ``grad`` have the same shape (any shape); ``lr > 0`` and
    ``0 <= momentum < 1`` are numbers. Return new arrays and leave the inputs unchanged.
    With ``momentum = 0`` this is plain gradient descent, ``theta - lr * grad``.
    """
    rng = _rng()
    specs = [
        ("plain SGD: momentum 0, a 3-vector", (3,), 0.1, 0.0, False),
        ("first step with momentum 0.9: v starts at 0", (2, 3), 0.05, 0.9, False),
        ("momentum 0.9, a velocity from earlier steps", (2, 3), 0.05, 0.9, True),
        ("momentum 0.5 on (F, C, KH, KW) = (2, 1, 3, 3) kernels", (2, 1, 3, 3), 0.2, 0.5, True),
    ]
    cases = []
    for label, shape, lr, mu, moving in specs:
        theta = rng.standard_normal(shape).round(3)
        grad = rng.standard_normal(shape).round(3)
        v = rng.standard_normal(shape).round(3) * 0.1 if moving else np.zeros(shape)
        expected = _sgd_momentum(theta, v, grad, lr, mu)
        hints = {
            "the step goes against the gradient: v_new = momentum * v - lr * grad": _sgd_momentum(
                theta, v, -grad, lr, mu
            ),
            "theta moves by the new velocity (after v has been updated), not by the old one": (
                theta + v,
                expected[1],
            ),
            "the learning rate multiplies the gradient only; v_new = momentum * v - lr * grad": (
                theta + lr * (mu * v - grad),
                lr * (mu * v - grad),
            ),
            "this is PyTorch's form (buffer b = momentum * b + grad, theta -= lr * b) with v used as b; "
            "here v holds the step itself: v_new = momentum * v - lr * grad, theta_new = theta + v_new": (
                theta - lr * (mu * v + grad),
                mu * v + grad,
            ),
        }
        if moving:
            hints["the momentum term is missing: the old velocity must be carried over (momentum * v)"] = _sgd_momentum(
                theta, np.zeros(shape), grad, lr, 0.0
            )
        cases.append(Case(label, (theta, v, grad, lr, mu), expected, names=("theta_new", "v_new"), hints=hints))
    return run_cases(
        "check_sgd_momentum_step",
        my_sgd_momentum_step,
        cases,
        stub_hint="Fill in my_sgd_momentum_step(theta, v, grad, lr, momentum) so that it returns (theta_new, v_new).",
    )


# --------------------------------------------------------------------------- exercise 9.2


def _accuracy_confusion(y_true, y_pred, M):
    C = np.zeros((M, M), dtype=np.int64)  # (M, M): C[true, predicted]
    np.add.at(C, (y_true, y_pred), 1)
    return float(np.mean(y_true == y_pred)), C


def _counts_matrix(answer):
    """A problem with the confusion matrix that equal numbers do not show (it must hold whole counts)."""
    C = np.asarray(answer[1])
    if not np.issubdtype(C.dtype, np.integer):
        return f"C should hold whole counts (an integer array), got dtype {C.dtype}: use np.zeros((M, M), dtype=int)"
    return None


def check_accuracy_confusion(my_accuracy_confusion) -> Verdict:
    """Exercise 9.2. ``my_accuracy_confusion(y_true, y_pred, M) -> (accuracy, C)``.

    ``y_true`` and ``y_pred`` are int arrays (N,) of class labels in 0..M-1. Return the
    accuracy, the fraction of predictions that are right (a number in [0, 1]), and the
    confusion matrix ``C`` (M, M) of ints: ``C[i, j]`` = how many examples of true class i
    were predicted as class j (rows true, columns predicted, as in notebook 09).
    """
    rng = _rng(2)
    y_small = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    p_small = np.array([0, 1, 1, 1, 2, 2, 0, 0])
    y_ten = rng.integers(0, 10, size=60)
    p_ten = np.where(rng.random(60) < 0.75, y_ten, rng.integers(0, 10, size=60))
    y_gap = np.array([0, 0, 3, 3, 3, 1, 1, 3])  # class 2 is never the truth; class 4 never occurs at all
    p_gap = np.array([0, 3, 3, 3, 2, 1, 0, 3])
    specs = [
        ("3 classes, 8 examples", y_small, p_small, 3),
        ("10 classes, 60 examples", y_ten, p_ten, 10),
        ("5 classes, one never the true class and one never seen at all", y_gap, p_gap, 5),
    ]
    cases = []
    for label, yt, yp, M in specs:
        acc, C = _accuracy_confusion(yt, yp, M)
        rows = np.maximum(C.sum(axis=1, keepdims=True), 1)
        hints = {
            "C is transposed: rows are the true class, columns the predicted class": (acc, C.T),
            "the accuracy is a fraction in [0, 1], not a percentage": (100 * acc, C),
            "the accuracy is the fraction right (number right / number of examples), not the count": (
                float(np.trace(C)),
                C,
            ),
            "C holds counts; dividing each row by its total gives per-class recall, a different table": (
                acc,
                C / rows,
            ),
        }
        cases.append(Case(label, (yt, yp, M), (acc, C), names=("accuracy", "C"), hints=hints, require=_counts_matrix))
    return run_cases(
        "check_accuracy_confusion",
        my_accuracy_confusion,
        cases,
        stub_hint="Fill in my_accuracy_confusion(y_true, y_pred, M) so that it returns (accuracy, C).",
    )


# --------------------------------------------------------------------------- exercise 9.3


def quadratic_descent(a, lr, momentum=0.0, steps=200, theta0=1.0) -> np.ndarray:
    """Gradient descent with momentum on ``L(theta) = a theta^2 / 2`` (gradient ``a theta``).

    The same update as ``cnnlib.SGD`` (notebook 09, eq. 9.2): ``v <- momentum v - lr a theta``,
    ``theta <- theta + v``, from ``theta = theta0`` and ``v = 0``. Returns the ``steps + 1``
    values of theta, starting with ``theta0``. The descent converges to 0 when ``|theta|``
    shrinks towards 0 and diverges when it grows without bound.
    """
    fn = "quadratic_descent"
    for name, value in (("a", a), ("lr", lr), ("momentum", momentum), ("theta0", theta0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{fn}: {name} must be a number, got {type(value).__name__}")
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"{fn}: steps must be a positive int, got {steps!r}")
    theta, v = float(theta0), 0.0
    out = [theta]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(steps)):
            v = momentum * v - lr * a * theta
            theta = theta + v
            out.append(theta)
    return np.array(out)


def _max_stable_lr(a, momentum):
    return 2.0 * (1.0 + momentum) / a


def check_max_stable_lr(my_max_stable_lr) -> Verdict:
    """Exercise 9.3. ``my_max_stable_lr(a, momentum) -> lr_max``.

    Gradient descent with momentum (notebook 09, eq. 9.2) on the one-parameter loss
    ``L(theta) = a theta^2 / 2`` with curvature ``a > 0`` converges to the minimum for every
    learning rate ``0 < lr < lr_max`` and diverges for ``lr > lr_max``. Return ``lr_max`` as a
    function of ``a`` and ``momentum`` (``0 <= momentum < 1``). Try candidates numerically
    with :func:`quadratic_descent`.
    """
    specs = [
        ("plain gradient descent, a = 4", 4.0, 0.0),
        ("a = 4, momentum 0.9", 4.0, 0.9),
        ("a = 0.5, momentum 0.5", 0.5, 0.5),
        ("a steep direction: a = 250, momentum 0.9", 250.0, 0.9),
    ]
    cases = []
    for label, a, mu in specs:
        hints = {
            "1/a reaches the minimum in one step without momentum, but larger steps still converge "
            "(they overshoot the minimum and come back); divergence starts later": 1.0 / a,
        }
        if mu > 0:
            hints[
                "2/a is the limit of plain gradient descent; momentum changes it: try quadratic_descent "
                "with your value and a slightly larger one"
            ] = 2.0 / a
            hints[
                "this asks lr/(1 - momentum), the long-run step on a constant slope, to stay below 2/a; "
                "on a quadratic the velocity oscillates and the limit is higher"
            ] = 2.0 * (1.0 - mu) / a
            hints[
                "1/(1 - momentum) is how much momentum amplifies a step on a constant slope; the "
                "stability limit grows less than that: try quadratic_descent at your value"
            ] = 2.0 / (a * (1.0 - mu))
        cases.append(Case(label, (a, mu), _max_stable_lr(a, mu), hints=hints))
    return run_cases(
        "check_max_stable_lr",
        my_max_stable_lr,
        cases,
        stub_hint="Fill in my_max_stable_lr(a, momentum) so that it returns a number.",
    )

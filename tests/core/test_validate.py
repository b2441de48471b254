"""cnnlib._validate: the shared argument checks and the padding helper, tested directly.

Most of these helpers are reached through the public functions' bad-input tests; the ones
below are used by the figures and the route explainers, so their every branch is pinned here.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlib import _validate as v


def test_as_2d_drops_leading_unit_axes_and_keeps_a_view():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    out = v.as_2d("f", "A", x)
    assert out.shape == (2, 3)
    assert np.shares_memory(out, x)
    assert v.as_2d("f", "A", [[1, 2]]).dtype == np.float64


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((2, 2, 2)), r"^f: A must be a 2-D array \(H, W\) \(or \(1, 1, H, W\)\), got shape \(2, 2, 2\)$"),
        (np.zeros(3), r"^f: A must be a 2-D array"),
        (np.zeros((1, 0, 3)), r"^f: A must not be empty, got shape \(0, 3\)$"),
    ],
)
def test_as_2d_rejects(x, message):
    with pytest.raises(ValueError, match=message):
        v.as_2d("f", "A", x)


def test_as_2d_non_finite_only_when_asked():
    with pytest.raises(ValueError, match="^f: A"):
        v.as_2d("f", "A", [[np.nan, 1.0]])
    assert np.isnan(v.as_2d("f", "A", [[np.nan, 1.0]], finite=False)[0, 0])


def test_as_chw_accepts_hw_chw_and_one_image_nchw():
    assert v.as_chw("f", "X", np.zeros((2, 3))).shape == (1, 2, 3)
    assert v.as_chw("f", "X", np.zeros((4, 2, 3))).shape == (4, 2, 3)
    assert v.as_chw("f", "X", np.zeros((1, 4, 2, 3))).shape == (4, 2, 3)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((2, 4, 2, 3)), r"^f: X must hold one image \(N = 1\), got shape \(2, 4, 2, 3\)$"),
        (np.zeros(3), r"^f: X must be \(H, W\), \(C, H, W\) or \(1, \.\.\.\) of it, got shape \(3,\)$"),
        (np.zeros((1, 1, 1, 2, 2)), r"^f: X must be \(H, W\)"),
        (np.zeros((2, 0, 3)), r"^f: X must not be empty, got shape \(2, 0, 3\)$"),
    ],
)
def test_as_chw_rejects(x, message):
    with pytest.raises(ValueError, match=message):
        v.as_chw("f", "X", x)


def test_int_tuple():
    assert v.int_tuple("f", "index", (1, 2), (2, 4)) == (1, 2)
    assert v.int_tuple("f", "index", np.array([0, 1, 2, 3]), (2, 4)) == (0, 1, 2, 3)
    assert v.int_tuple("f", "index", [np.int64(3), 4], (2,)) == (3, 4)
    with pytest.raises(TypeError, match=r"^f: index must be a tuple of 2 ints or 4 ints, got \(1, 2, 3\)$"):
        v.int_tuple("f", "index", (1, 2, 3), (2, 4))
    with pytest.raises(TypeError, match=r"^f: index must be a tuple of 2 ints, got 5$"):
        v.int_tuple("f", "index", 5, (2,))
    with pytest.raises(TypeError, match=r"^f: index must contain ints, got \(1, 2\.5\)$"):
        v.int_tuple("f", "index", (1, 2.5), (2,))
    with pytest.raises(TypeError, match=r"^f: index must contain ints, got \(True, 1\)$"):
        v.int_tuple("f", "index", (True, 1), (2,))


def test_check_in_range():
    v.check_in_range("f", "index", (0, 2), (1, 3), "dW")
    for idx in [(1, 0), (0, 3), (-1, 0), (0,)]:
        with pytest.raises(ValueError, match=r"^f: index .* is outside dW of shape \(1, 3\)$"):
            v.check_in_range("f", "index", idx, (1, 3), "dW")


def test_pad_hw_frames_the_input_and_copies():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    xp = v.pad_hw(x, (1, 2), value=-1.0)
    assert xp.shape == (1, 1, 4, 7)
    np.testing.assert_array_equal(xp[0, 0, 1:3, 2:5], x[0, 0])
    frame = np.ones(xp.shape, dtype=bool)
    frame[:, :, 1:3, 2:5] = False
    assert np.all(xp[frame] == -1.0)
    assert v.pad_hw(x, (0, 0)) is not x
    assert v.pad_hw(x.astype(np.float32), (1, 1), dtype=np.float64).dtype == np.float64


def test_check_upstream_names_the_forward_output():
    with pytest.raises(ValueError, match=r"^f: dZ must have shape \(1, 2\) \(the shape of Z from the forward pass\)"):
        v.check_upstream("f", "dZ", np.zeros((2, 1)), (1, 2))
    assert v.check_upstream("f", "dZ", [[1, 2]], (1, 2)).shape == (1, 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["contiguous", "strided", "0-d", "empty"])
def test_all_finite_agrees_with_isfinite_on_every_route(dtype, layout):
    """The sum proves finiteness only when it is finite; otherwise every entry is tested."""
    big = np.finfo(dtype).max / 1.5  # finite, but the sum of two overflows: the exact test decides
    cases = [
        np.zeros(0),
        np.ones(1),
        np.array([big, big]),
        np.array([big, -big]),
        np.array([1.0, np.nan]),
        np.array([np.inf, 1.0]),
    ]
    cases.append(np.array([-np.inf, np.inf, 2.0]))
    for values in cases:
        a = np.asarray(values, dtype=dtype)
        if layout == "strided":
            a = np.repeat(a, 2)[::2]
            assert a.size <= 1 or not a.flags.c_contiguous
        elif layout == "0-d":
            if a.size != 1:
                continue
            a = a.reshape(())
        elif layout == "empty":
            a = a[:0]
        assert v.all_finite(a) == bool(np.isfinite(a).all()), (layout, values)
    with pytest.raises(ValueError, match=r"^f: X must be finite, got 1 NaN/inf value\(s\)"):
        v.as_array("f", "X", np.array([[1.0, np.nan], [2.0, 3.0]], dtype=dtype).T, finite=True)
    huge = np.full((3, 2), big, dtype=dtype)
    assert v.as_array("f", "X", huge, finite=True) is huge  # finite although the sum overflows

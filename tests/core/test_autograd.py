"""cnnlib.autograd: the recorded graph, reverse topological order, accumulation, broadcasting,
every operation against finite differences with random upstream gradients, the layer operations
against cnnlib's own backward passes, chapter 09's network against the hand-chained backward pass,
no_grad, freed graphs, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from _fd import numerical_gradient, rel_error
from _strategies import conv_cases, pool_cases, spaced_values
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlib
from cnnlib import autograd as ag
from cnnlib._validate import COPY_BYTES
from cnnlib.autograd import Tensor

TOL = 1e-7


def leaf(a):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True)


def fd_check(f, arrays, dout, tol=TOL):
    """Engine gradients of sum(f(*tensors) * dout) against central differences, for every input array."""
    tensors = [leaf(a) for a in arrays]
    out = f(*tensors)
    out.backward(dout)
    for k, a in enumerate(arrays):

        def g(x, k=k):
            args = [Tensor(x) if j == k else Tensor(arrays[j]) for j in range(len(arrays))]
            return f(*args).data

        num = numerical_gradient(g, a, dout)
        assert tensors[k].grad.shape == a.shape
        assert rel_error(tensors[k].grad, num) < tol, (k, tensors[k].grad, num)
    return tensors


# --------------------------------------------------------------------------- the graph, order, accumulation


def test_a_tensor_used_twice_gets_the_sum_of_both_contributions():
    a, b = leaf(3.0), leaf(-2.0)
    e = a * b + a  # ∂e/∂a = b + 1: a reaches e along two paths
    e.backward()
    assert a.grad == pytest.approx(-1.0) and b.grad == pytest.approx(3.0)
    sq = leaf(1.5)
    (sq * sq).backward()  # d(x²)/dx = 2x: the same tensor twice in one operation
    assert sq.grad == pytest.approx(3.0)
    s = leaf(2.0)
    (s + s + s).backward()
    assert s.grad == pytest.approx(3.0)


def test_diamond_graph_waits_for_every_child_before_passing_on():
    x = leaf(0.7)
    y = x * x  # y feeds two branches that meet again
    z = y * 3.0 + y * y
    z.backward()
    # dz/dx = (3 + 2y) * 2x
    assert x.grad == pytest.approx((3 + 2 * 0.49) * 1.4)
    assert y.grad == pytest.approx(3 + 2 * 0.49)
    order = ag.topological_order(z)
    assert order[-1] is z and order[0] is x
    pos = {id(t): k for k, t in enumerate(order)}
    for t in order:
        assert all(pos[id(p)] < pos[id(t)] for p in t.parents if p.requires_grad)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("+*-"), st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=12),
    st.integers(0, 2**32 - 1),
)
def test_random_expression_graphs_with_reuse_match_finite_differences(program, seed):
    """Random programs over a growing pool of tensors (any earlier value may be reused any number of times)."""
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-1, 1, size=(2, 3))

    def run(x):
        pool = [x, x * 0.5]
        for op, i, j in program:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            pool.append(a + b if op == "+" else a * b if op == "*" else a - b)
        return pool[-1]

    dout = rng.standard_normal((2, 3))
    x = leaf(x0)
    out = run(x)
    if not out.requires_grad:  # pragma: no cover - every program uses x
        return
    out.backward(dout)
    num = numerical_gradient(lambda v: run(Tensor(v)).data, x0, dout)
    assert rel_error(x.grad, num) < 1e-6


def test_trace_backward_steps_run_in_reverse_topological_order_and_add_contributions():
    a, b = leaf(2.0), leaf(5.0)
    c = a * b
    e = c + a
    steps = ag.trace_backward(e)
    assert [s.node for s in steps] == list(reversed(ag.topological_order(e)))
    assert steps[0].node is e and steps[-1].node in (a, b)
    by_node = {id(s.node): s for s in steps}
    shares = [share for s in steps for parent, share in s.contributions if parent is a]
    assert len(shares) == 2  # one from c = a·b (δc·b = 5), one from e = c + a (1)
    assert sorted(float(v) for v in shares) == [1.0, 5.0]
    assert by_node[id(a)].grad == pytest.approx(6.0)
    assert by_node[id(a)].contributions == ()
    assert a.grad is None  # trace_backward does not write .grad


def test_grad_accumulates_over_backward_calls_and_zero_grad_resets():
    w = leaf([1.0, -2.0])
    for k in range(1, 4):
        (w * w).sum().backward()
        np.testing.assert_allclose(w.grad, k * 2 * w.data)
    w.zero_grad()
    assert w.grad is None


def test_intermediate_tensors_keep_their_gradient_and_grads_do_not_alias():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = a + b
    c.sum().backward()
    np.testing.assert_array_equal(c.grad, [1.0, 1.0])
    a.grad[0] = 99.0  # editing one gradient in place leaves the others alone
    assert b.grad[0] == 1.0 and c.grad[0] == 1.0


def test_constants_and_parameters_without_requires_grad_get_no_gradient():
    a = leaf(2.0)
    k = Tensor(4.0)
    (a * k).backward()
    assert a.grad == pytest.approx(4.0) and k.grad is None
    assert not k.requires_grad and k.is_leaf
    y = k * k
    assert not y.requires_grad and y.op == "" and y.parents == ()


def test_backward_frees_the_graph_unless_retain_graph():
    x = leaf([1.0, 2.0])
    L = (x * x).sum()
    assert ag.saved_nbytes(L) > 0
    L.backward(retain_graph=True)
    L.backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * x.data)
    assert ag.saved_nbytes(L) == 0
    with pytest.raises(ValueError, match=r"^Tensor.backward: the graph was freed .* retain_graph=True"):
        L.backward()
    assert L.op == "sum" and L.parents  # the structure stays for drawing


# --------------------------------------------------------------------------- broadcasting


_BROADCAST_PAIRS = [
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((2, 3), (1, 3)),
    ((2, 3), (2, 1)),
    ((2, 1), (1, 3)),
    ((4, 1, 3), (2, 1)),
    ((3,), ()),
    ((), (2, 2)),
    ((1,), (3, 1)),
]


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("sa, sb", _BROADCAST_PAIRS)
def test_broadcasting_backward_sums_to_each_operand_shape(op, sa, sb):
    rng = np.random.default_rng(13)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out_shape = np.broadcast_shapes(sa, sb)
    dout = rng.standard_normal(out_shape)
    f = (lambda x, y: x + y) if op == "add" else (lambda x, y: x * y)
    ta, tb = fd_check(f, [a, b], dout)
    assert ta.grad.shape == sa and tb.grad.shape == sb


@st.composite
def broadcast_pair(draw):
    ndim = draw(st.integers(0, 4))
    full = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))

    def operand():
        keep = draw(st.integers(0, ndim))
        return tuple(1 if draw(st.booleans()) else n for n in full[ndim - keep :])

    return operand(), operand(), draw(st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(broadcast_pair(), st.sampled_from(["add", "mul", "sub"]))
def test_broadcasting_any_shapes_match_finite_differences(case, op):
    sa, sb, seed = case
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    dout = rng.standard_normal(np.broadcast_shapes(sa, sb))
    f = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "sub": lambda x, y: x - y}[op]
    fd_check(f, [a, b], dout)


def test_python_numbers_and_arrays_on_either_side():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    c = np.array([10.0, 20.0])
    y = 2.0 * x + c - x * 0.5 - 1.0
    y2 = c * x + 3.0
    y3 = 1.0 - x
    y4 = 3.0 + x
    (y.sum() + y2.sum() + y3.sum() + y4.sum()).backward()
    np.testing.assert_allclose(x.grad, np.broadcast_to(1.5 + c, (2, 2)))
    assert isinstance(c * x, Tensor) and isinstance(-x, Tensor)


def test_float32_is_kept():
    x = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    y = (x * 2.0 + 1.0).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


# --------------------------------------------------------------------------- matmul and sum


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_matmul_matches_finite_differences(n, k, m, seed):
    rng = np.random.default_rng(seed)
    a, b, dout = rng.standard_normal((n, k)), rng.standard_normal((k, m)), rng.standard_normal((n, m))
    fd_check(lambda x, y: x @ y, [a, b], dout)


def test_matmul_with_an_array_operand():
    rng = np.random.default_rng(1)
    a, B = leaf(rng.standard_normal((2, 3))), rng.standard_normal((3, 4))
    (a @ B).sum().backward()
    np.testing.assert_allclose(a.grad, np.ones((2, 4)) @ B.T)
    b = leaf(B)
    (rng.standard_normal((2, 3)) @ b).sum().backward()
    assert b.grad.shape == (3, 4)


@pytest.mark.parametrize(
    "shape, axis, keepdims",
    [
        ((2, 3), None, False),
        ((2, 3), None, True),
        ((2, 3), 0, False),
        ((2, 3), 1, True),
        ((2, 3, 4), (0, 2), False),
        ((2, 3, 4), -1, False),
        ((2, 3, 4), (-1, 0), True),
        ((5,), 0, False),
        ((), None, False),
    ],
)
def test_sum_matches_finite_differences(shape, axis, keepdims):
    rng = np.random.default_rng(len(shape))
    a = rng.standard_normal(shape)
    out_shape = np.sum(a, axis=axis, keepdims=keepdims).shape
    dout = rng.standard_normal(out_shape)
    (ta,) = fd_check(lambda x: x.sum(axis=axis, keepdims=keepdims), [a], dout)
    assert ta.grad.shape == shape


# --------------------------------------------------------------------------- the layer operations


def _upstream_check(out, dout, expected_grads, inputs):
    out.backward(dout)
    for t, g in zip(inputs, expected_grads, strict=True):
        np.testing.assert_array_equal(t.grad, g)


@settings(max_examples=40, deadline=None)
@given(conv_cases(max_batch=2, max_channels=2, max_filters=2, max_kernel=3))
def test_conv2d_is_cnnlibs_forward_and_backward(c):
    X, W, b, dZ = c.arrays()
    Z, cache = cnnlib.conv2d_forward(X, W, b, **c.kwargs)
    tX, tW, tb = leaf(X), leaf(W), leaf(b)
    out = ag.conv2d(tX, tW, tb, **c.kwargs)
    np.testing.assert_array_equal(out.data, Z)
    assert out.op == "conv2d"
    _upstream_check(out, dZ, cnnlib.conv2d_backward(dZ, cache), (tX, tW, tb))


def test_conv2d_matches_finite_differences():
    rng = np.random.default_rng(2)
    X, W, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(3)
    dZ = rng.standard_normal((2, 3, 5, 2))
    fd_check(lambda x, w, bb: ag.conv2d(x, w, bb, stride=(1, 2), padding=1, dilation=(2, 1)), [X, W, b], dZ)


@settings(max_examples=40, deadline=None)
@given(pool_cases())
def test_maxpool2d_is_cnnlibs_forward_and_backward(c):
    rng = np.random.default_rng(c.seed)
    A = spaced_values(rng, c.x_shape)
    P, cache = cnnlib.maxpool2d_forward(A, **c.kwargs)
    dP = rng.standard_normal(P.shape)
    tA = leaf(A)
    out = ag.maxpool2d(tA, **c.kwargs)
    np.testing.assert_array_equal(out.data, P)
    _upstream_check(out, dP, (cnnlib.maxpool2d_backward(dP, cache),), (tA,))
    num = numerical_gradient(lambda a: ag.maxpool2d(Tensor(a), **c.kwargs).data, A, dP)
    assert rel_error(tA.grad, num) < TOL


def test_relu_flatten_dense_loss_are_cnnlibs_and_match_finite_differences():
    rng = np.random.default_rng(3)
    Z = spaced_values(rng, (2, 3, 2, 2), gap=0.05)
    A, rcache = cnnlib.relu_forward(Z)
    dA = rng.standard_normal(A.shape)
    tZ = leaf(Z)
    out = ag.relu(tZ)
    np.testing.assert_array_equal(out.data, A)
    _upstream_check(out, dA, (cnnlib.relu_backward(dA, rcache),), (tZ,))
    fd_check(ag.relu, [Z], dA)

    P = rng.standard_normal((2, 3, 2, 2))
    dp = rng.standard_normal((2, 12))
    (tP,) = fd_check(ag.flatten, [P], dp)
    np.testing.assert_array_equal(tP.grad, dp.reshape(P.shape))

    p, U, c = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    s, dcache = cnnlib.dense_forward(p, U, c)
    ds = rng.standard_normal(s.shape)
    tp, tU, tc = leaf(p), leaf(U), leaf(c)
    out = ag.dense(tp, tU, tc)
    np.testing.assert_array_equal(out.data, s)
    _upstream_check(out, ds, cnnlib.dense_backward(ds, dcache), (tp, tU, tc))
    fd_check(ag.dense, [p, U, c], ds)

    y = np.array([0, 4, 2])
    L, ds_ref = cnnlib.softmax_cross_entropy(s, y)
    ts = leaf(s)
    Lt = ag.softmax_cross_entropy(ts, y)
    assert Lt.shape == () and Lt.item() == float(L)
    Lt.backward(np.array(2.5))  # an upstream gradient other than 1
    np.testing.assert_allclose(ts.grad, 2.5 * ds_ref, rtol=1e-15)
    fd_check(lambda t: ag.softmax_cross_entropy(t, y), [s], np.array(1.0))
    L_onehot = ag.softmax_cross_entropy(leaf(s), Tensor(np.eye(5)[y]))  # one-hot rows, given as a tensor
    assert L_onehot.item() == pytest.approx(float(L), rel=1e-14)


def test_layer_operations_take_plain_arrays_as_constants():
    rng = np.random.default_rng(4)
    X, W, b = rng.standard_normal((1, 1, 4, 4)), leaf(rng.standard_normal((2, 1, 3, 3))), rng.standard_normal(2)
    Z = ag.conv2d(X, W, b, padding=1)
    Z.sum().backward()
    assert Z.parents[0].grad is None and Z.parents[2].grad is None and W.grad.shape == (2, 1, 3, 3)
    assert not ag.relu(X).requires_grad


def _chapter09(seed=0, N=6):
    rng = np.random.default_rng(seed)
    net = cnnlib.Sequential(
        cnnlib.Conv2D(1, 4, 3, padding=1, seed=seed),
        cnnlib.ReLU(),
        cnnlib.MaxPool2D(2),
        cnnlib.Flatten(),
        cnnlib.Dense(64, 10, seed=seed + 1),
    )
    net[4].U *= 0.1
    X = rng.uniform(0, 1, size=(N, 1, 8, 8))
    y = rng.integers(0, 10, size=N)
    return net, X, y


def test_chapter09_network_gradients_equal_the_hand_chained_ones():
    net, X, y = _chapter09()
    L_ref, ds = cnnlib.softmax_cross_entropy(net.forward(X), y)
    dX_ref = net.backward(ds)
    ref = net.gradients()
    params = {k: leaf(v) for k, v in net.parameters().items()}
    tX = leaf(X)
    s = ag.dense(
        ag.flatten(ag.maxpool2d(ag.relu(ag.conv2d(tX, params["0.W"], params["0.b"], padding=1)), size=2)),
        params["4.U"],
        params["4.c"],
    )
    L = ag.softmax_cross_entropy(s, y)
    assert L.item() == float(L_ref)
    L.backward()
    for k, t in params.items():
        np.testing.assert_array_equal(t.grad, ref[k])
    np.testing.assert_array_equal(tX.grad, dX_ref)
    assert [t.op for t in ag.topological_order(L) if t.op] == [
        "conv2d",
        "relu",
        "maxpool2d",
        "flatten",
        "dense",
        "softmax_cross_entropy",
    ]


# --------------------------------------------------------------------------- no_grad, memory, in-place edits


def test_no_grad_records_nothing_and_restores_the_setting():
    w = leaf([1.0, 2.0])
    assert ag.is_grad_enabled()
    with ag.no_grad():
        assert not ag.is_grad_enabled()
        y = (w * w).sum()
        with ag.no_grad():
            pass
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.parents == () and ag.saved_nbytes(y) == 0
    with pytest.raises(ValueError, match=r"^Tensor.backward: this tensor does not require a gradient"):
        y.backward()
    with pytest.raises(RuntimeError), ag.no_grad():
        raise RuntimeError("leaving by an exception")
    assert ag.is_grad_enabled()


def test_saved_nbytes_counts_each_buffer_once():
    x = leaf(np.ones((10, 10)))
    y = x * x  # both operands are the same buffer: 800 bytes
    assert ag.saved_nbytes(y) == 800
    z = (y * x).sum()  # y's 800 bytes, x already counted; sum keeps shapes only
    assert ag.saved_nbytes(z) == 1600
    net, X, y_lab = _chapter09()
    W, b = (leaf(net.parameters()[k]) for k in ("0.W", "0.b"))
    Zt = ag.conv2d(X, W, b, padding=1)
    cache, X_given = Zt._ctx, Zt.parents[0].data  # the array conv2d_forward was given (the constant tensor's)
    # an X of at most COPY_BYTES: the cache keeps its own copy of X (what backward reads), a read-only view
    # of the given X (to compare the copy with; it keeps that buffer alive) and copies of W and b
    assert X.nbytes <= COPY_BYTES and not np.shares_memory(cache.X, X_given) and cache.X_check.base is X_given
    assert not np.shares_memory(cache.W, W.data) and not np.shares_memory(cache.b, b.data)
    assert ag.saved_nbytes(Zt) == cache.X.nbytes + X_given.nbytes + cache.W.nbytes + cache.b.nbytes
    tX = leaf(X)  # conv keeps a copy and a view of tX.data, mul tX.data itself: the view's buffer counted once
    both = ag.conv2d(tX, W, b, padding=1).sum() + (tX * tX).sum()
    assert ag.saved_nbytes(both) == 2 * X.nbytes + cache.W.nbytes + cache.b.nbytes
    # a larger X: no copy, the cache keeps a read-only view of the given X and its CRC-32 (an int, no bytes)
    X_big = np.ones((1, 1, 8, COPY_BYTES // 64 + 1))  # COPY_BYTES + 64 bytes
    big = ag.conv2d(X_big, W, b)
    assert isinstance(big._ctx.X_check, int) and big._ctx.X.base is big.parents[0].data
    assert ag.saved_nbytes(big) == X_big.nbytes + cache.W.nbytes + cache.b.nbytes


def test_in_place_edits_conv_refuses_mul_does_not_notice():
    rng = np.random.default_rng(5)
    X = leaf(rng.standard_normal((1, 1, 4, 4)))
    W = leaf(rng.standard_normal((1, 1, 3, 3)))
    Z = ag.conv2d(X, W, np.zeros(1))
    X.data += 1.0  # after the forward pass
    with pytest.raises(ValueError, match="modified in place"):
        Z.sum().backward()
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = (a * b).sum()
    b.data[...] = 0.0
    c.backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])  # the edited values, not the ones of the forward pass


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (lambda: Tensor("abc"), TypeError, r"^Tensor: data must be a real numeric array"),
        (lambda: Tensor(Tensor(1.0)), TypeError, r"^Tensor: data must be an array or a number, got a Tensor"),
        (lambda: Tensor(1.0, requires_grad="yes"), TypeError, r"^Tensor: requires_grad must be True or False"),
        (lambda: Tensor(1.0, name=3), TypeError, r"^Tensor: name must be a str"),
        (lambda: leaf([1.0, 2.0]) + leaf([1.0, 2.0, 3.0]), ValueError, r"^add: the shapes \(2,\) and \(3,\) do not"),
        (lambda: leaf(np.ones((2, 3))) * np.ones((3, 2)), ValueError, r"^mul: the shapes \(2, 3\) and \(3, 2\)"),
        (lambda: leaf([1.0]) + "x", TypeError, r"^add: b must be a real numeric array"),
        (lambda: leaf(np.ones((2, 3))) @ np.ones((2, 3)), ValueError, r"^matmul: a \(n, k\) @ b \(k, m\)"),
        (lambda: leaf(np.ones(3)) @ np.ones((3, 2)), ValueError, r"^matmul: both operands must be 2-D"),
        (lambda: leaf(np.ones((2, 3))).sum(axis=2), ValueError, r"^sum: axis 2 is out of range"),
        (lambda: leaf(np.ones((2, 3))).sum(axis=(0, -2)), ValueError, r"^sum: axis \(0, -2\) names an axis twice"),
        (lambda: leaf(np.ones((2, 3))).sum(axis=1.0), TypeError, r"^sum: axis must be None, an int"),
        (lambda: leaf(np.ones((2, 3))).sum(keepdims=1), TypeError, r"^sum: keepdims must be True or False"),
        (lambda: leaf(np.ones(3)).item(), ValueError, r"^Tensor.item: only a one-element tensor"),
        (lambda: leaf(np.ones(3)).backward(), ValueError, r"^Tensor.backward: grad can be left out only"),
        (lambda: leaf(np.ones(3)).backward(np.ones(2)), ValueError, r"^Tensor.backward: grad must have shape \(3,\)"),
        (lambda: ag.trace_backward(np.ones(3)), TypeError, r"^trace_backward: root must be a Tensor"),
        (lambda: ag.topological_order(3.0), TypeError, r"^topological_order: root must be a Tensor"),
        (lambda: ag.saved_nbytes([1.0]), TypeError, r"^saved_nbytes: root must be a Tensor"),
        (
            lambda: ag.conv2d(np.ones((1, 2, 5, 5)), leaf(np.ones((1, 3, 3, 3))), np.ones(1)),
            ValueError,
            r"^conv2d: X has 2 channels but W expects 3",
        ),
        (lambda: ag.conv2d(np.ones((1, 1, 5, 5)), "W", np.ones(1)), TypeError, r"^conv2d: W must be a real"),
        (
            lambda: ag.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), np.ones(1), stride=0),
            ValueError,
            r"^conv2d: stride must be positive",
        ),
        (lambda: ag.relu(np.array([np.nan])), ValueError, r"^relu: Z must be finite"),
        (lambda: ag.maxpool2d(np.ones((1, 1, 4, 4)), size=5), ValueError, r"^maxpool2d: the 5x5 window does not fit"),
        (lambda: ag.flatten(np.ones(3)), ValueError, r"^flatten: P must have a batch axis first"),
        (lambda: ag.dense(np.ones((2, 3)), np.ones((4, 5)), np.ones(4)), ValueError, r"^dense: p has Q=3 features"),
        (
            lambda: ag.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 3])),
            ValueError,
            r"^softmax_cross_entropy: labels must be in 0..2",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_inputs_are_never_modified_and_tensors_own_their_data():
    a = np.array([1.0, 2.0])
    t = Tensor(a, requires_grad=True)
    a[0] = 50.0
    assert t.data[0] == 1.0
    lst = Tensor([1, 2])
    assert lst.dtype == np.float64
    X = np.ones((1, 1, 4, 4))
    before = X.copy()
    ag.conv2d(X, leaf(np.ones((1, 1, 3, 3))), np.zeros(1)).sum().backward()
    np.testing.assert_array_equal(X, before)


def test_repr_names_op_and_shape():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    assert repr(a) == "Tensor('a', shape=(2,), leaf, requires_grad=True)"
    assert repr(a * a) == "Tensor(shape=(2,), op='mul', requires_grad=True)"
    assert a.ndim == 1 and a.shape == (2,)

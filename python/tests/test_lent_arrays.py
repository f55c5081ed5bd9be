"""The f64 values reach NumPy as the solution's own buffers, lent rather
than copied: each array keeps them alive after everything else is gone, no
two arrays share entries, and writing into one changes nothing else (not
another array, not the next solve, not the exact values)."""

import gc

import numpy as np

import nnderive

# Wide enough that every value is a buffer of its own, with a bias and a
# training step, so that the given, forward, gradient and updated values
# are all handed over.
TEXT = """input x[3] = [0.5, -1.25, 2]
param W[2,3] = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]
param b[2] = [0.05, -0.05]
target y[2] = [1, 0]
z = W @ x + b
yhat = sigmoid(z)
loss L = mse(y, yhat)
train sgd(lr = 0.5)
"""


def arrays(sol):
    out = {}
    for section in (sol.given, sol.forward, sol.deltas, sol.gradients, sol.updated):
        for name in section:
            out[(section._title, name)] = section[name]
    return out


def sigmoid(t):
    return 1 / (1 + np.exp(-t))


def reference():
    """The same step in NumPy, independently."""
    x = np.array([0.5, -1.25, 2.0])
    W = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])
    b = np.array([0.05, -0.05])
    y = np.array([1.0, 0.0])
    yhat = sigmoid(W @ x + b)
    delta = 2 / 2 * (yhat - y) * yhat * (1 - yhat)
    return W - 0.5 * np.outer(delta, x), b - 0.5 * delta


def test_values_outlive_the_solution_and_stay_right():
    net = nnderive.parse(TEXT)
    sol = net.solve()
    assert sol._native.computed() == "float"
    W = sol.updated["W"]
    b = sol.updated["b"]
    kept = {k: v.copy() for k, v in arrays(sol).items()}
    del sol
    gc.collect()
    # Solving again allocates and frees buffers of the same sizes.
    for _ in range(3):
        net.solve()
    gc.collect()
    W_ref, b_ref = reference()
    np.testing.assert_allclose(W, W_ref, rtol=1e-12)
    np.testing.assert_allclose(b, b_ref, rtol=1e-12)
    np.testing.assert_array_equal(W, kept[("updated parameters", "W")])


def test_no_two_arrays_share_entries_and_writing_changes_nothing_else():
    net = nnderive.parse(TEXT)
    first = net.solve()
    values = arrays(first)
    before = {k: v.copy() for k, v in values.items()}
    for k, v in values.items():
        assert v.flags.writeable, k
        assert v.dtype == np.float64
        v[...] = 1e6  # written into, as a user may
        for other, w in values.items():
            if other != k and w.size:
                assert not np.shares_memory(v, w), (k, other)
    again = net.solve()
    for k, v in arrays(again).items():
        np.testing.assert_array_equal(v, before[k], err_msg=str(k))
    # The exact values are the exact solution's, not what was written.
    assert first.given.exact["x"][1] == -1.25

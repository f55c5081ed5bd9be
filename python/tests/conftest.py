"""Shared fixtures: the repository's paths and an independent NumPy backprop
of the assignment's network (Problem 1), written the way a student would."""

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "grammar" / "examples"
ERROR_FIXTURES = ROOT / "tests" / "fixtures" / "errors"
SNAPSHOTS = ROOT / "snapshots"
ASSIGNMENT = EXAMPLES / "assignment4.nn"


def assignment_values():
    return dict(
        x=np.array([1.0, -1.0, 0.5, 2.0]),
        y=np.array([1.0, 0.0]),
        W1=np.array([[0.1, -0.2, 0.3, 0.4], [0.5, -0.3, 0.1, -0.2], [0.4, 0.2, -0.5, 0.3]]),
        b1=np.array([0.1, -0.1, 0.05]),
        W2=np.array([[-0.3, 0.2, 0.1], [0.4, -0.5, 0.3]]),
        b2=np.array([0.05, -0.05]),
    )


def numpy_backprop(x, y, W1, b1, W2, b2):
    """Forward and backward pass of f(t) = relu(t) + sin(t), softmax and
    cross-entropy, from the textbook formulas (not from nnderive)."""
    Z1 = W1 @ x + b1
    H = np.maximum(Z1, 0) + np.sin(Z1)
    Z2 = W2 @ H + b2
    e = np.exp(Z2 - Z2.max())
    yhat = e / e.sum()
    L = -np.sum(y * np.log(yhat))
    delta2 = yhat - y
    delta1 = (W2.T @ delta2) * ((Z1 > 0).astype(float) + np.cos(Z1))
    return dict(
        Z1=Z1, H=H, Z2=Z2, yhat=yhat, L=L, delta2=delta2, delta1=delta1,
        W1=np.outer(delta1, x), b1=delta1, W2=np.outer(delta2, H), b2=delta2,
    )


@pytest.fixture
def assignment():
    return assignment_values()


def notebook_modules():
    """nbclient and nbformat, to run notebooks in a real kernel: the test
    is skipped where they or ipykernel are not installed, and fails in CI
    (CI set), where they must be."""
    if os.environ.get("CI"):
        import nbclient
        import nbformat
    else:
        nbclient = pytest.importorskip("nbclient")
        nbformat = pytest.importorskip("nbformat")
        pytest.importorskip("ipykernel")
    return nbclient, nbformat

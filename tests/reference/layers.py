"""An independent NumPy reference for the regularising and normalising layers.

Reads `nnderive solve --format json` of one of the networks below on stdin
(only its "given" values are used), recomputes the forward pass and the
gradients with hand-written NumPy (the CS231n formulas, not nnderive's), and
prints {"forward": {...}, "gradients": {...}} as JSON. tests/normalization.rs
compares them with nnderive's own to 1e-12.
"""
import json
import sys

import numpy as np


def softmax_rows(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_rows(y, scores):
    """Mean cross-entropy of softmax rows against labels; returns (P, L, dscores)."""
    n = scores.shape[0]
    p = softmax_rows(scores)
    loss = -np.log(p[np.arange(n), y]).mean()
    d = p.copy()
    d[np.arange(n), y] -= 1
    return p, loss, d / n


def dropout_network(g):
    """grammar/examples/dropout.nn: dense, relu, inverted dropout, dense, softmax."""
    X, W1, b1, M, W2, b2 = (g[k] for k in ("X", "W1", "b1", "M", "W2", "b2"))
    y = g["y"].astype(int)
    keep = 0.8
    Z1 = X @ W1 + b1
    H = np.maximum(Z1, 0)
    Hd = H * M / keep
    scores = Hd @ W2 + b2
    P, L, dscores = cross_entropy_rows(y, scores)
    dW2 = Hd.T @ dscores
    db2 = dscores.sum(axis=0, keepdims=True)
    dHd = dscores @ W2.T
    dH = dHd * M / keep  # CS231n dropout_backward: dout * mask (mask already / p)
    dZ1 = dH * (Z1 > 0)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0, keepdims=True)
    forward = {"Z1": Z1, "H": H, "Hd": Hd, "scores": scores, "P": P, "L": L}
    return forward, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


NETWORKS = {"dropout": dropout_network}


def main():
    name = sys.argv[1]
    solved = json.load(sys.stdin)
    given = {k: np.array(v["value"], dtype=float) for k, v in solved["given"].items()}
    forward, gradients = NETWORKS[name](given)
    as_lists = lambda d: {k: np.asarray(v).tolist() for k, v in d.items()}
    json.dump({"forward": as_lists(forward), "gradients": as_lists(gradients)}, sys.stdout)


if __name__ == "__main__":
    main()

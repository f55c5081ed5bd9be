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


def batchnorm_forward(x, gamma, beta, eps):
    """CS231n's batchnorm_forward in training mode: statistics over axis 0."""
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (x, mu, var, xhat, gamma, eps)


def batchnorm_backward(dout, cache):
    """CS231n's staged batchnorm_backward, through the computation graph."""
    x, mu, var, xhat, gamma, eps = cache
    n = x.shape[0]
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mu), axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(-dxhat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2 * (x - mu), axis=0)
    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / n + dmu / n
    dgamma = np.sum(dout * xhat, axis=0, keepdims=True)
    dbeta = np.sum(dout, axis=0, keepdims=True)
    STAGES.update({"xhat": dxhat, "var": dvar, "mu": dmu})
    return dx, dgamma, dbeta


# The staged gradients of the last batchnorm_backward, by the quantity
# they are taken with respect to (∂L/∂x̂, ∂L/∂var, ∂L/∂μ).
STAGES = {}


def batchnorm_network(g):
    """grammar/examples/batchnorm.nn: dense (rows), batch norm, relu, dense, softmax."""
    X, W1, gamma, beta, W2, b2 = (g[k] for k in ("X", "W1", "gamma", "beta", "W2", "b2"))
    y = g["y"].astype(int)
    Z1 = X @ W1
    B1, cache = batchnorm_forward(Z1, gamma, beta, 1e-5)
    H = np.maximum(B1, 0)
    scores = H @ W2 + b2
    P, L, dscores = cross_entropy_rows(y, scores)
    dW2 = H.T @ dscores
    db2 = dscores.sum(axis=0, keepdims=True)
    dB1 = (dscores @ W2.T) * (B1 > 0)
    dZ1, dgamma, dbeta = batchnorm_backward(dB1, cache)
    dW1 = X.T @ dZ1
    _, mu, var, xhat, _, _ = cache
    forward = {"Z1": Z1, "mu": mu, "var": var, "xhat": xhat, "B1": B1, "H": H, "scores": scores, "P": P, "L": L}
    grads = {"W1": dW1, "gamma": dgamma, "beta": dbeta, "W2": dW2, "b2": db2}
    return forward, grads


def layernorm_forward(x, gamma, beta, eps):
    """CS231n's layernorm_forward: statistics over the features of each row."""
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (x, mu, var, xhat, gamma, eps)


def layernorm_backward(dout, cache):
    """The staged graph, as batchnorm_backward, along each row."""
    x, mu, var, xhat, gamma, eps = cache
    d = x.shape[1]
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mu), axis=1, keepdims=True) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(-dxhat / np.sqrt(var + eps), axis=1, keepdims=True) + dvar * np.mean(
        -2 * (x - mu), axis=1, keepdims=True
    )
    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / d + dmu / d
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def layernorm_network(g):
    """grammar/examples/layernorm.nn: examples as columns, so CS231n's rows
    are the transposes: Z1ᵀ is [N, D]."""
    X, W1, gamma, beta, W2, b2 = (g[k] for k in ("X", "W1", "gamma", "beta", "W2", "b2"))
    y = g["y"].astype(int)
    Z1 = W1 @ X
    out, cache = layernorm_forward(Z1.T, gamma, beta, 1e-5)
    N1 = out.T
    H = np.tanh(N1)
    scores = W2 @ H + b2[:, None]
    P, L, dscoresT = cross_entropy_rows(y, scores.T)
    dscores = dscoresT.T
    dW2 = dscores @ H.T
    db2 = dscores.sum(axis=1)
    dN1 = (W2.T @ dscores) * (1 - H**2)
    dZ1T, dgamma, dbeta = layernorm_backward(dN1.T, cache)
    dW1 = dZ1T.T @ X.T
    _, mu, var, xhat, _, _ = cache
    forward = {
        "Z1": Z1, "mu": mu.T, "var": var.T, "xhat": xhat.T, "N1": N1, "H": H, "scores": scores, "P": P.T, "L": L,
    }
    grads = {"W1": dW1, "gamma": dgamma, "beta": dbeta, "W2": dW2, "b2": db2}
    return forward, grads


def attention_network(g):
    """grammar/examples/attention.nn: self-attention, mean squared error."""
    return _attention(g, softmax_rows)


def _attention(g, weights):
    """Self-attention `A = weights(Q Kᵀ / √d)`, `out = A V`, mean squared
    error, forward and backward by hand. The backward pass is the same with
    a mask: A is 0 where masked, so dS is too."""
    X, Wq, Wk, Wv, Y = (g[k] for k in ("X", "Wq", "Wk", "Wv", "Y"))
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    d = Q.shape[1]
    S = Q @ K.T / np.sqrt(d)
    A = weights(S)
    out = A @ V
    L = np.mean((out - Y) ** 2)
    G = 2 * (out - Y) / out.size
    dV = A.T @ G
    dA = G @ V.T
    dS = A * (dA - np.sum(dA * A, axis=1, keepdims=True))
    dQ = dS @ K / np.sqrt(d)
    dK = dS.T @ Q / np.sqrt(d)
    forward = {"Q": Q, "K": K, "V": V, "S": S, "A": A, "out": out, "L": L}
    grads = {"Wq": X.T @ dQ, "Wk": X.T @ dK, "Wv": X.T @ dV}
    return forward, grads


def masked_softmax_rows(s, mask):
    """softmax of each row over the entries the mask keeps: masked scores
    are −∞ (Transformer_Captioning's masked_fill with -inf), weight 0."""
    return softmax_rows(np.where(mask == 1, s, -np.inf))


def attention_causal_network(g):
    """grammar/examples/attention_causal.nn: causal self-attention, mean
    squared error."""
    return _attention(g, lambda s: masked_softmax_rows(s, g["M"]))


def spatial_batchnorm_forward(x, gamma, beta, eps):
    """CS231n's spatial_batchnorm_forward: each channel's statistics over
    N, H and W, by batchnorm_forward of the maps laid out as rows (N H W, C)."""
    n, c, h, w = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out, cache = batchnorm_forward(rows, gamma, beta, eps)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    """CS231n's spatial_batchnorm_backward, through the staged batchnorm_backward."""
    n, c, h, w = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, c), cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma.ravel(), dbeta.ravel()


def conv_valid(x, k):
    """Z[n,f,i,j] = Σ_{c,u,v} K[f,c,u,v] X[n,c,i+u,j+v] (stride 1, no padding)."""
    n, _, h, w = x.shape
    f, _, kh, kw = k.shape
    z = np.zeros((n, f, h - kh + 1, w - kw + 1))
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            z[:, :, i, j] = np.einsum("ncuv,fcuv->nf", x[:, :, i : i + kh, j : j + kw], k)
    return z


def batchnorm_spatial_network(g):
    """grammar/examples/batchnorm_spatial.nn: conv, spatial batch norm, relu, mse."""
    X, K, gamma, beta, Y = (g[k] for k in ("X", "K", "gamma", "beta", "Y"))
    Z = conv_valid(X, K)
    B, cache = spatial_batchnorm_forward(Z, gamma, beta, 1e-5)
    H = np.maximum(B, 0)
    L = np.mean((H - Y) ** 2)
    dB = 2 * (H - Y) / H.size * (B > 0)
    dZ, dgamma, dbeta = spatial_batchnorm_backward(dB, cache)
    kh, kw = K.shape[2:]
    dK = np.zeros_like(K)
    for u in range(kh):
        for v in range(kw):
            patch = X[:, :, u : u + Z.shape[2], v : v + Z.shape[3]]
            dK[:, :, u, v] = np.einsum("nfij,ncij->fc", dZ, patch)
    _, mu, var, xhat, _, _ = cache
    n, c, h, w = Z.shape
    forward = {
        "Z": Z, "mu": mu, "var": var, "xhat": xhat.reshape(n, h, w, c).transpose(0, 3, 1, 2), "B": B, "H": H, "L": L,
    }
    return forward, {"K": dK, "gamma": dgamma, "beta": dbeta}


NETWORKS = {
    "batchnorm_spatial": batchnorm_spatial_network,
    "attention_causal": attention_causal_network,
    "dropout": dropout_network,
    "batchnorm": batchnorm_network,
    "layernorm": layernorm_network,
    "attention": attention_network,
}


def main():
    name = sys.argv[1]
    solved = json.load(sys.stdin)
    given = {k: np.array(v["value"], dtype=float) for k, v in solved["given"].items()}
    forward, gradients = NETWORKS[name](given)
    as_lists = lambda d: {k: np.asarray(v).tolist() for k, v in d.items()}
    json.dump({"forward": as_lists(forward), "gradients": as_lists(gradients), "stages": as_lists(STAGES)}, sys.stdout)


if __name__ == "__main__":
    main()

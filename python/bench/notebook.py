#!/usr/bin/env python3
"""The notebook path: `load + solve` of the Python package in one process,
on the networks of docs/performance.md's notebook table, against peers
doing the same work in the same run.

    python python/bench/notebook.py [--quick]
    python python/bench/notebook.py --write DIR   # the networks as .nn files

Needs the package installed (see python/README.md). For each network it
writes the `.nn` text, then times, in this process:

- nnderive: `nnderive.parse(text).solve()` (parse, check, derive, the
  forward and backward passes and the SGD step; the values only, no
  document), run again and again on the same text, so that from the
  second run on the package finds the network it checked before (its
  cache of checked networks, as `re` keeps compiled patterns: see
  docs/notebook.md); `cold`, the same call on a text it has never seen
  (each run's text has a comment of its own at the end), which pays for
  all of it; `nnderive.parse(text)` alone of a text never seen (reading
  and checking the file, which holds every weight as text); `net.solve()` again on a
  parsed `Net` (which keeps its derivation and its solution's skeleton:
  the evaluation and the arrays only); and the first `sol.text`
  read on a fresh solution (the exact solution and the text document,
  made then);
- NumPy (float64, the BLAS on one thread: OPENBLAS_NUM_THREADS and the
  like are set to 1 unless already set): the forward pass, the backward
  pass written by hand (through time for the RNN and the LSTM; the
  convolution as one product with the input's patches), the SGD step and
  the loss after it, for every network; its loss after the step is checked
  against nnderive's before it is timed;
- PyTorch eager (float64, `torch.set_num_threads(1)`): the same with
  autograd, for every network.

A peer that is not installed is said to be skipped, with its row's ratio.
Timings are medians of 5 runs (1 with --quick) of wall time; on a shared
machine the neighbours' load shows, so compare the ratios of one run.
"""

import os
import statistics
import sys
import time

# NumPy's BLAS on one thread, as the peers are compared (set before NumPy loads it).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

import nnderive  # noqa: E402

RUNS = 1 if "--quick" in sys.argv else 5


def literal(a):
    a = np.asarray(a)
    if a.ndim == 0:
        return f"{float(a):.2f}"
    return "[" + ", ".join(literal(x) for x in a) + "]"


def weights(rng, *shape, scale=0.5):
    """Two-decimal weights (what a file holds), as float64."""
    return np.round(rng.uniform(-scale, scale, shape), 2)


# ---------------------------------------------------------------------------
# The networks: each the .nn text and the arrays it holds.


def assignment4():
    text = nnderive.examples.text("assignment4")
    net = nnderive.examples.load("assignment4")
    sol = net.solve()
    arrays = {k: np.array(v) for k, v in sol.given.items()}
    return "assignment's 4-3-2 network", text, arrays


def dense(widths, seed=3):
    rng = np.random.default_rng(seed)
    arrays = {"x": weights(rng, widths[0], scale=1.0)}
    lines = [f"input x[{widths[0]}] = {literal(arrays['x'])}"]
    for k in range(1, len(widths)):
        arrays[f"W{k}"] = weights(rng, widths[k], widths[k - 1], scale=1 / np.sqrt(widths[k - 1]))
        arrays[f"b{k}"] = weights(rng, widths[k], scale=0.1)
        lines.append(f"param W{k}[{widths[k]},{widths[k - 1]}] = {literal(arrays[f'W{k}'])}")
        lines.append(f"param b{k}[{widths[k]}] = {literal(arrays[f'b{k}'])}")
    arrays["y"] = np.eye(widths[-1])[0]
    lines.append(f"target y[{widths[-1]}] = {literal(arrays['y'])}")
    prev = "x"
    for k in range(1, len(widths)):
        lines.append(f"Z{k} = W{k} @ {prev} + b{k}")
        if k < len(widths) - 1:
            lines.append(f"H{k} = relu(Z{k})")
            prev = f"H{k}"
    lines += [f"yhat = softmax(Z{len(widths) - 1})", "loss L = cross_entropy(y, yhat)", "train sgd(lr = 0.01)"]
    name = "dense " + "-".join(map(str, widths))
    return name, "\n".join(lines) + "\n", arrays


def cnn(seed=4):
    rng = np.random.default_rng(seed)
    a = {"X": weights(rng, 3, 32, 32, scale=1.0), "K": weights(rng, 16, 3, 3, 3, scale=0.2),
         "bK": weights(rng, 16, scale=0.1), "W": weights(rng, 10, 16 * 16 * 16, scale=0.02),
         "b": weights(rng, 10, scale=0.1), "y": np.eye(10)[3]}
    text = "\n".join([
        f"input X[3,32,32] = {literal(a['X'])}",
        f"param K[16,3,3,3] = {literal(a['K'])}",
        f"param bK[16] = {literal(a['bK'])}",
        f"param W[10,4096] = {literal(a['W'])}",
        f"param b[10] = {literal(a['b'])}",
        f"target y[10] = {literal(a['y'])}",
        "Z1 = conv2d(X, K, stride = 1, pad = 1) + bK",
        "A1 = relu(Z1)",
        "P1 = maxpool(A1, 2, stride = 2)",
        "v = flatten(P1)",
        "Z2 = W @ v + b",
        "yhat = softmax(Z2)",
        "loss L = cross_entropy(y, yhat)",
        "train sgd(lr = 0.01)",
    ]) + "\n"
    return "CNN 3×32×32, 16 filters 3×3 pad 1, max-pool 2, dense 10", text, a


def recurrent(kind, steps, inputs, width, seed=5):
    rng = np.random.default_rng(seed)
    a = {"x": weights(rng, steps, inputs, scale=1.0), "y": np.tile([1.0, 0.0], (steps, 1))}
    lines = [f"steps t = 1..{steps}", f"input x[t][{inputs}] = {literal(a['x'])}", f"target y[t][2] = {literal(a['y'])}"]
    states = ["h", "c"] if kind == "lstm" else ["h"]
    for s in states:
        lines.append(f"const {s}[0][{width}] = {literal(np.zeros(width))}")
    gates = ["i", "f", "o", "g"] if kind == "lstm" else [""]
    scale = 1 / np.sqrt(width)
    for g in gates:
        for name, shape in ((f"W{g}x", (width, inputs)), (f"W{g}h", (width, width)), (f"b{g}", (width,))):
            a[name] = weights(rng, *shape, scale=scale)
            lines.append(f"param {name}[{','.join(map(str, shape))}] = {literal(a[name])}")
    a["Why"], a["by"] = weights(rng, 2, width, scale=scale), np.zeros(2)
    lines += [f"param Why[2,{width}] = {literal(a['Why'])}", "param by[2] = [0, 0]"]
    if kind == "lstm":
        lines += [
            "i[t] = sigmoid(Wix @ x[t] + Wih @ h[t-1] + bi)",
            "f[t] = sigmoid(Wfx @ x[t] + Wfh @ h[t-1] + bf)",
            "o[t] = sigmoid(Wox @ x[t] + Woh @ h[t-1] + bo)",
            "g[t] = tanh(Wgx @ x[t] + Wgh @ h[t-1] + bg)",
            "c[t] = f[t] * c[t-1] + i[t] * g[t]",
            "h[t] = o[t] * tanh(c[t])",
        ]
        name = f"LSTM T = {steps}, D = {inputs}, H = {width}"
    else:
        lines.append("h[t] = tanh(Wx @ x[t] + Wh @ h[t-1] + b)")
        name = f"RNN T = {steps}, D = {inputs}, H = {width}"
    lines += ["yhat[t] = softmax(Why @ h[t] + by)", "loss L = sum(cross_entropy(y[t], yhat[t]) for t)", "train sgd(lr = 0.01)"]
    return name, "\n".join(lines) + "\n", dict(a, kind=kind, steps=steps)


# ---------------------------------------------------------------------------
# Peers.


def numpy_dense(a, depth):
    """Forward, backward by hand, the SGD step and the loss after it."""
    def forward(p):
        hs, z = [a["x"]], None
        for k in range(1, depth + 1):
            z = p[f"W{k}"] @ hs[-1] + p[f"b{k}"]
            if k < depth:
                hs.append(np.maximum(z, 0))
        e = np.exp(z - z.max())
        yhat = e / e.sum()
        return hs, yhat, -np.sum(a["y"] * np.log(yhat))

    def step():
        p = {k: v for k, v in a.items() if k[0] in "Wb"}
        hs, yhat, _ = forward(p)
        delta = yhat - a["y"]
        new = {}
        for k in range(depth, 0, -1):
            new[f"W{k}"] = p[f"W{k}"] - 0.01 * np.outer(delta, hs[k - 1])
            new[f"b{k}"] = p[f"b{k}"] - 0.01 * delta
            if k > 1:
                delta = (p[f"W{k}"].T @ delta) * (hs[k - 1] > 0)
        return forward(new)[2]
    return step


def numpy_assignment(a):
    def step():
        Z1 = a["W1"] @ a["x"] + a["b1"]
        H = np.maximum(Z1, 0) + np.sin(Z1)
        Z2 = a["W2"] @ H + a["b2"]
        e = np.exp(Z2 - Z2.max())
        yhat = e / e.sum()
        d2 = yhat - a["y"]
        d1 = (a["W2"].T @ d2) * ((Z1 > 0) + np.cos(Z1))
        W1, b1 = a["W1"] - 0.001 * np.outer(d1, a["x"]), a["b1"] - 0.001 * d1
        W2, b2 = a["W2"] - 0.001 * np.outer(d2, H), a["b2"] - 0.001 * d2
        Z1 = W1 @ a["x"] + b1
        Z2 = W2 @ (np.maximum(Z1, 0) + np.sin(Z1)) + b2
        return -np.sum(a["y"] * (Z2 - Z2.max() - np.log(np.exp(Z2 - Z2.max()).sum())))
    return step


def numpy_rnn(a):
    """The RNN: forward over T steps, backpropagation through time by hand,
    the SGD step and the loss after it."""
    steps, x, y = a["steps"], a["x"], a["y"]

    def forward(p):
        hs, yhats, loss = [np.zeros(p["Wh"].shape[0])], [], 0.0
        for s in range(steps):
            hs.append(np.tanh(p["Wx"] @ x[s] + p["Wh"] @ hs[-1] + p["b"]))
            z = p["Why"] @ hs[-1] + p["by"]
            e = np.exp(z - z.max())
            yhats.append(e / e.sum())
            loss -= np.sum(y[s] * np.log(yhats[-1]))
        return hs, yhats, loss

    def step():
        p = {k: a[k] for k in ("Wx", "Wh", "b", "Why", "by")}
        hs, yhats, _ = forward(p)
        g = {k: np.zeros_like(v) for k, v in p.items()}
        dh_next = np.zeros_like(hs[0])
        for s in range(steps - 1, -1, -1):
            dz = yhats[s] - y[s]
            g["Why"] += np.outer(dz, hs[s + 1])
            g["by"] += dz
            da = (p["Why"].T @ dz + dh_next) * (1 - hs[s + 1] ** 2)
            g["Wx"] += np.outer(da, x[s])
            g["Wh"] += np.outer(da, hs[s])
            g["b"] += da
            dh_next = p["Wh"].T @ da
        return forward({k: p[k] - 0.01 * g[k] for k in p})[2]
    return step


def numpy_lstm(a):
    """The LSTM: forward over T steps, backpropagation through time by
    hand, the SGD step and the loss after it."""
    steps, x, y = a["steps"], a["x"], a["y"]
    names = [f"W{g}{s}" for g in "ifog" for s in "xh"] + [f"b{g}" for g in "ifog"] + ["Why", "by"]

    def sigmoid(t):
        return 1 / (1 + np.exp(-t))

    def forward(p):
        width = p["Wih"].shape[0]
        h, c, loss, saved = np.zeros(width), np.zeros(width), 0.0, []
        for s in range(steps):
            act = {g: p[f"W{g}x"] @ x[s] + p[f"W{g}h"] @ h + p[f"b{g}"] for g in "ifog"}
            i, f, o, g = sigmoid(act["i"]), sigmoid(act["f"]), sigmoid(act["o"]), np.tanh(act["g"])
            c_prev, h_prev = c, h
            c = f * c_prev + i * g
            h = o * np.tanh(c)
            z = p["Why"] @ h + p["by"]
            e = np.exp(z - z.max())
            yhat = e / e.sum()
            loss -= np.sum(y[s] * np.log(yhat))
            saved.append((i, f, o, g, c, h, c_prev, h_prev, yhat))
        return saved, loss

    def step():
        p = {k: a[k] for k in names}
        saved, _ = forward(p)
        grad = {k: np.zeros_like(v) for k, v in p.items()}
        dh_next = np.zeros_like(saved[0][5])
        dc_next = np.zeros_like(dh_next)
        for s in range(steps - 1, -1, -1):
            i, f, o, g, c, h, c_prev, h_prev, yhat = saved[s]
            dz = yhat - y[s]
            grad["Why"] += np.outer(dz, h)
            grad["by"] += dz
            dh = p["Why"].T @ dz + dh_next
            tc = np.tanh(c)
            dc = dh * o * (1 - tc * tc) + dc_next
            dact = {"i": dc * g * i * (1 - i), "f": dc * c_prev * f * (1 - f),
                    "o": dh * tc * o * (1 - o), "g": dc * i * (1 - g * g)}
            dh_next = np.zeros_like(dh)
            for gate, d in dact.items():
                grad[f"W{gate}x"] += np.outer(d, x[s])
                grad[f"W{gate}h"] += np.outer(d, h_prev)
                grad[f"b{gate}"] += d
                dh_next += p[f"W{gate}h"].T @ d
            dc_next = dc * f
        return forward({k: p[k] - 0.01 * grad[k] for k in p})[1]
    return step


def numpy_cnn(a):
    """The CNN: convolution as one product with the input's 3×3 patches,
    relu, 2×2 max-pool (each window's first maximum takes its gradient),
    dense and softmax; the backward pass by hand, the SGD step and the loss
    after it."""
    X, y = a["X"], a["y"]
    channels, height, width = X.shape
    padded = np.pad(X, ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([padded[c, i:i + height, j:j + width].ravel()
                     for c in range(channels) for i in range(3) for j in range(3)])  # [27, H·W]

    def forward(p):
        filters = p["K"].shape[0]
        Z1 = (p["K"].reshape(filters, -1) @ cols + p["bK"][:, None]).reshape(filters, height, width)
        A1 = np.maximum(Z1, 0)
        windows = A1.reshape(filters, height // 2, 2, width // 2, 2).transpose(0, 1, 3, 2, 4).reshape(filters, height // 2, width // 2, 4)
        v = windows.max(axis=3).ravel()
        z = p["W"] @ v + p["b"]
        e = np.exp(z - z.max())
        yhat = e / e.sum()
        return Z1, windows, v, yhat, -np.sum(y * np.log(yhat))

    def step():
        p = {k: a[k] for k in ("K", "bK", "W", "b")}
        Z1, windows, v, yhat, _ = forward(p)
        filters = p["K"].shape[0]
        dz = yhat - y
        gW, gb = np.outer(dz, v), dz
        dv = (p["W"].T @ dz).reshape(windows.shape[:3])
        # One-hot of each window's first maximum. The file's values are
        # exact decimals, so equal entries tie exactly in nnderive; in f64
        # they may differ in the last bit, so entries within rounding of the
        # maximum count as equal to it.
        top = windows.max(axis=3, keepdims=True)
        first = np.eye(4)[(windows >= top - 1e-12 * np.maximum(1, np.abs(top))).argmax(axis=3)]
        dA = (first * dv[..., None]).reshape(filters, height // 2, width // 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(filters, height, width)
        dZ = dA * (Z1 > 0)
        gK = (dZ.reshape(filters, -1) @ cols.T).reshape(p["K"].shape)
        gbK = dZ.sum(axis=(1, 2))
        new = {"K": p["K"] - 0.01 * gK, "bK": p["bK"] - 0.01 * gbK, "W": p["W"] - 0.01 * gW, "b": p["b"] - 0.01 * gb}
        return forward(new)[4]
    return step


def torch_peer(torch, name, a):
    """PyTorch eager: forward, autograd backward, the SGD step and the loss after."""
    F = torch.nn.functional
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in a.items() if isinstance(v, np.ndarray)}
    lr = 0.001 if name.startswith("assignment") else 0.01
    params = [k for k in t if k[0] in "WKb" or k == "Why" or k == "by"]

    def loss(p):
        if name.startswith("assignment"):
            Z1 = p["W1"] @ t["x"] + p["b1"]
            Z2 = p["W2"] @ (torch.relu(Z1) + torch.sin(Z1)) + p["b2"]
            return -(t["y"] * F.log_softmax(Z2, 0)).sum()
        if name.startswith("dense"):
            h, depth = t["x"], sum(1 for k in p if k.startswith("W"))
            for k in range(1, depth + 1):
                h = p[f"W{k}"] @ h + p[f"b{k}"]
                if k < depth:
                    h = torch.relu(h)
            return -(t["y"] * F.log_softmax(h, 0)).sum()
        if name.startswith("CNN"):
            z = F.conv2d(t["X"][None], p["K"], p["bK"], padding=1)
            v = F.max_pool2d(torch.relu(z), 2).flatten()
            return -(t["y"] * F.log_softmax(p["W"] @ v + p["b"], 0)).sum()
        width = p["Why"].shape[1]
        h, c, total = torch.zeros(width, dtype=torch.float64), torch.zeros(width, dtype=torch.float64), 0
        for s in range(a["steps"]):
            x = t["x"][s]
            if a["kind"] == "lstm":
                gate = {g: p[f"W{g}x"] @ x + p[f"W{g}h"] @ h + p[f"b{g}"] for g in "ifog"}
                c = torch.sigmoid(gate["f"]) * c + torch.sigmoid(gate["i"]) * torch.tanh(gate["g"])
                h = torch.sigmoid(gate["o"]) * torch.tanh(c)
            else:
                h = torch.tanh(p["Wx"] @ x + p["Wh"] @ h + p["b"])
            total = total - (t["y"][s] * F.log_softmax(p["Why"] @ h + p["by"], 0)).sum()
        return total

    def step():
        p = {k: (t[k].clone().requires_grad_(True) if k in params else t[k]) for k in t}
        loss(p).backward()
        with torch.no_grad():
            new = {k: (p[k] - lr * p[k].grad if k in params else p[k]) for k in p}
            return float(loss(new))
    return step


def median(f, runs=RUNS):
    f()  # warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def first_read(make, read, runs=RUNS):
    """Median time of `read(x)` on a fresh `x = make()` each run (its first
    read: for a document, the exact solution and the writing)."""
    times = []
    for _ in range(max(1, runs // 2)):
        x = make()
        start = time.perf_counter()
        read(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ratio(x):
    """A ratio of times: one decimal below 10 (0.4×, 1.7×), whole above."""
    return f"{x:6.1f}×" if x < 10 else f"{x:6.0f}×"


def ms(seconds):
    return f"{seconds * 1000:10.2f}"


def network_cases():
    return [
        cnn(),
        recurrent("rnn", 100, 32, 64),
        recurrent("lstm", 50, 32, 32),
        dense([512, 512, 512, 512, 10]),
        assignment4(),
    ]


def main():
    if "--write" in sys.argv:
        # The networks as .nn files, for `cargo bench -- fast` (NNDERIVE_BENCH_NETS).
        folder = sys.argv[sys.argv.index("--write") + 1]
        os.makedirs(folder, exist_ok=True)
        for stem, (_, text, _) in zip(("cnn", "rnn", "lstm", "dense"), network_cases()[:4]):
            with open(os.path.join(folder, f"{stem}.nn"), "w", encoding="utf-8") as f:
                f.write(text)
        print(f"wrote the networks to {folder}")
        return
    blas = f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}"
    try:
        import torch
        torch.set_num_threads(1)
        peer = f"PyTorch {torch.__version__} eager, float64, one thread"
    except ImportError:
        torch = None
        peer = "PyTorch is not installed: its column is skipped (pip install torch)"
    print(f"nnderive {nnderive.__version__}, Python {sys.version.split()[0]}, NumPy {np.__version__} ({blas})")
    print(peer)
    print(f"medians of {RUNS} runs, milliseconds of wall time\n")
    cases = network_cases()
    header = (f"{'network':58} {'solve':>10} {'cold':>10} {'parse':>10} {'again':>10} {'text':>10} {'NumPy':>10} "
              f"{'ratio':>7} {'PyTorch':>10} {'ratio':>7} {'cold':>7}")
    print(header)
    notes = []
    for name, text, arrays in cases:
        solve = median(lambda: nnderive.parse(text, name="bench.nn").solve())
        fresh = iter(range(10**9))
        cold = median(lambda: nnderive.parse(f"{text}\n# cold run {next(fresh)}\n", name="bench.nn").solve())
        # A text of its own each run: parsing a text seen before is a lookup.
        parse = median(lambda: nnderive.parse(f"{text}\n# parse run {next(fresh)}\n", name="bench.nn"))
        net = nnderive.parse(text, name="bench.nn")
        again = median(lambda: net.solve())
        sol = nnderive.parse(text, name="bench.nn").solve()
        text_time = first_read(lambda: nnderive.parse(text, name="bench.nn").solve(), lambda s: s.text)
        row = f"{name:58} {ms(solve)} {ms(cold)} {ms(parse)} {ms(again)} {ms(text_time)}"
        if name.startswith("dense"):
            step = numpy_dense(arrays, sum(1 for k in arrays if k.startswith("W")))
        elif name.startswith("assignment"):
            step = numpy_assignment(arrays)
        elif name.startswith("RNN"):
            step = numpy_rnn(arrays)
        elif name.startswith("LSTM"):
            step = numpy_lstm(arrays)
        else:
            step = numpy_cnn(arrays)
        # The peer does the same work: its loss after the step is nnderive's.
        assert abs(step() - sol.history[-1]) <= 1e-9 * max(1.0, abs(sol.history[-1])), (name, step(), sol.history[-1])
        t = median(step, runs=max(RUNS, 20))
        row += f" {ms(t)} {ratio(solve / t)}"
        if torch is not None:
            peer_step = torch_peer(torch, name, arrays)
            # PyTorch's pooling may send a tie's gradient to another entry
            # (its own subgradient), so a difference is said, not refused.
            gap = abs(peer_step() - sol.history[-1]) / max(1.0, abs(sol.history[-1]))
            if gap > 1e-9:
                notes.append(f"{name}: PyTorch's loss after the step differs from nnderive's by {gap:.1e} (relative)")
            t = median(peer_step, runs=max(RUNS, 20))
            row += f" {ms(t)} {ratio(solve / t)} {ratio(cold / t)}"
        else:
            row += f" {'skipped':>10} {'-':>7} {'-':>7}"
        print(row, flush=True)
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()

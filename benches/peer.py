#!/usr/bin/env python3
"""The cases of docs/performance.md with nnderive and a peer measured in the same run.

    cargo build --release && python3 benches/peer.py [--quick]

Writes the networks to a temporary folder, runs `target/release/nnderive` on
each as a whole process (CPU seconds: user + system, and the peak memory),
and runs the peer doing the same work: NumPy on one thread for the f64
cases (forward pass, backward pass and one SGD step; the weights read from
the same file), Python's fractions.Fraction for the exact relu network. NumPy
is optional (`pip install numpy`); without it those rows say so. Timings are
medians of 3 runs (1 with --quick); the machine's other load shows in the
wall time, so CPU time is what is compared.
"""

import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NNDERIVE = os.path.join(ROOT, "target", "release", "nnderive")
RUNS = 1 if "--quick" in sys.argv else 3


def decimals(rng, n):
    return ["%.2f" % (rng.choice([i for i in range(-99, 100) if i]) / 100) for _ in range(n)]


def matrix(rng, m, n):
    return "[%s]" % ", ".join("[%s]" % ", ".join(decimals(rng, n)) for _ in range(m))


def dense_network(widths, act, loss, seed=3, bias=True, batch=None, train=True):
    """A dense network as .nn text; with `batch`, X is [widths[0], batch]
    (the examples are its columns) and each bias is added to every example."""
    rng = random.Random(seed)
    out = []
    if batch:
        out.append("input X[%d,%d] = %s" % (widths[0], batch, matrix(rng, widths[0], batch)))
    else:
        out.append("input x[%d] = [%s]" % (widths[0], ", ".join(decimals(rng, widths[0]))))
    depth = len(widths) - 1
    for k in range(1, depth + 1):
        out.append("param W%d[%d,%d] = %s" % (k, widths[k], widths[k - 1], matrix(rng, widths[k], widths[k - 1])))
        if bias:
            out.append("param b%d[%d] = [%s]" % (k, widths[k], ", ".join(decimals(rng, widths[k]))))
    last = widths[-1]
    if batch:
        out.append("target Y[%d,%d] = %s" % (last, batch, matrix(rng, last, batch)))
    elif loss == "cross_entropy":
        out.append("target y[%d] = [%s]" % (last, ", ".join("1" if i == 0 else "0" for i in range(last))))
    else:
        out.append("target y[%d] = [%s]" % (last, ", ".join(decimals(rng, last))))
    prev = "X" if batch else "x"
    for k in range(1, depth + 1):
        out.append("Z%d = W%d @ %s%s" % (k, k, prev, " + b%d" % k if bias else ""))
        if k < depth:
            out.append("H%d = %s(Z%d)" % (k, act, k))
            prev = "H%d" % k
    target = "Y" if batch else "y"
    if loss == "cross_entropy":
        out.append("yhat = softmax(Z%d)" % depth)
        out.append("loss L = cross_entropy(%s, yhat)" % target)
    else:
        out.append("loss L = mse(%s, Z%d)" % (target, depth))
    if train:
        out.append("train sgd(lr = 0.1)")
    return "\n".join(out) + "\n"


# A child of this Python process starts with the parent's memory mapped
# (fork or vfork), and Linux keeps that high-water mark across `exec`, so
# `wait4`'s peak would never be below the parent's size (about 78 MiB with
# NumPy loaded). GNU time forks from a small process: its peak is the
# command's own. (CPU time still comes from `wait4`, in microseconds: it
# counts the command, which GNU time waits for, and GNU time's own few.)
GNU_TIME = "/usr/bin/time"


def run_process(argv, env=None):
    """CPU seconds (user + system), wall seconds and peak KiB of one process."""
    start = time.perf_counter()
    timed = os.path.exists(GNU_TIME)
    # The output goes to a real file, as a user's would.
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as report:
        command = [GNU_TIME, "-f", "%M", "-o", report.name] + argv if timed else argv
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, env=env)
        err = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit("%s failed: %s" % (" ".join(argv), err.decode()[-2000:]))
        peak = int(report.read().split()[-1]) if timed else usage.ru_maxrss
    return usage.ru_utime + usage.ru_stime, wall, peak


def median_process(argv, env=None):
    runs = [run_process(argv, env) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs), max(r[2] for r in runs)


NUMPY_PEER = r'''
import json, re, sys, time
import numpy as np
text = open(sys.argv[1]).read()
mode = sys.argv[2]
values = {m.group(1): np.array(json.loads(m.group(2)), dtype=np.float64)
          for m in re.finditer(r"^\w+ (\w+)\[[\d,]+\] = (.*)$", text, re.M)}
def work():
    depth = sum(1 for k in values if k.startswith("W"))
    a = [values["X"] if mode == "batch" else values["x"]]
    zs = []
    for k in range(1, depth + 1):
        z = values["W%d" % k] @ a[-1]
        b = values["b%d" % k]
        z = z + (b[:, None] if mode == "batch" else b)
        zs.append(z)
        if k < depth:
            a.append(1.0 / (1.0 + np.exp(-z)))
    z = zs[-1]
    if mode == "batch":
        delta = 2.0 * (z - values["Y"]) / z.size
    else:
        e = np.exp(z - z.max()); p = e / e.sum()
        delta = p - values["y"]
    grads = {}
    for k in range(depth, 0, -1):
        grads["W%d" % k] = np.outer(delta, a[k - 1]) if delta.ndim == 1 else delta @ a[k - 1].T
        grads["b%d" % k] = delta.sum(axis=1) if delta.ndim == 2 else delta
        if k > 1:
            s = a[k - 1]
            delta = (values["W%d" % k].T @ delta) * s * (1.0 - s)
    return {name: values[name] - 0.1 * g for name, g in grads.items()}
if len(sys.argv) > 3:
    times = []
    for _ in range(int(sys.argv[3])):
        start = time.perf_counter(); work(); times.append(time.perf_counter() - start)
    print(sorted(times)[len(times) // 2])
else:
    work()
'''


def fraction_relu(depth, width, seed=5):
    """The exact relu network in Fractions: forward, backward, gradients."""
    rng = random.Random(seed)
    frac = lambda: Fraction(rng.choice([i for i in range(-99, 100) if i]), 100)
    x = [frac() for _ in range(width)]
    ws = [[[frac() for _ in range(width)] for _ in range(width)] for _ in range(depth)]
    bs = [[frac() for _ in range(width)] for _ in range(depth)]
    y = [frac() for _ in range(width)]
    start = time.process_time()
    acts, zs = [x], []
    for k in range(depth):
        z = [sum(w * a for w, a in zip(row, acts[-1])) + b for row, b in zip(ws[k], bs[k])]
        zs.append(z)
        acts.append([v if v > 0 else Fraction(0) for v in z] if k < depth - 1 else z)
    delta = [2 * (z - t) / width for z, t in zip(zs[-1], y)]
    for k in range(depth - 1, -1, -1):
        _grad_w = [[d * a for a in acts[k]] for d in delta]
        if k > 0:
            back = [sum(ws[k][i][j] * delta[i] for i in range(width)) for j in range(width)]
            delta = [b if z > 0 else Fraction(0) for b, z in zip(back, zs[k - 1])]
    return time.process_time() - start


def main():
    if not os.path.exists(NNDERIVE):
        raise SystemExit("build first: cargo build --release")
    try:
        import numpy  # noqa: F401

        have_numpy = True
    except ImportError:
        have_numpy = False
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, text):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            return path

        peer_script = write("peer_numpy.py", NUMPY_PEER)
        wide = write("wide.nn", dense_network([512, 512, 512, 512, 10], "sigmoid", "cross_entropy"))
        batch = write("batch.nn", dense_network([512] * 10 + [10], "sigmoid", "mse", batch=256))
        relu = write("relu.nn", dense_network([16] * 101, "relu", "mse", seed=5, train=False))
        size_mb = os.path.getsize(wide) / 1e6

        cpu, rss = median_process([NNDERIVE, "check", wide])
        rows.append(("parse and check wide.nn (%.1f MB): %.0f MB/s" % (size_mb, size_mb / cpu), cpu, rss, None))
        for label, extra in (("--round 4", ["--round", "4"]), ("full precision", [])):
            cpu, rss = median_process([NNDERIVE, "solve", wide] + extra)
            peer = median_process([sys.executable, peer_script, wide, "wide"], env)[0] if have_numpy else None
            rows.append(("wide 512-512-512-512-10, solve %s" % label, cpu, rss, peer))
        cpu, rss = median_process([NNDERIVE, "solve", batch, "--round", "4"])
        peer = median_process([sys.executable, peer_script, batch, "batch"], env)[0] if have_numpy else None
        rows.append(("batch 256 x 10 layers x 512, solve --round 4", cpu, rss, peer))
        cpu, rss = median_process([NNDERIVE, "solve", relu])
        rows.append(("100-layer relu width 16, exact, solve (peer: Fraction, in-process)", cpu, rss,
                     statistics.median(fraction_relu(100, 16) for _ in range(RUNS))))
        if have_numpy:
            for name, path, mode in (("wide", wide, "wide"), ("batch", batch, "batch")):
                out = subprocess.run([sys.executable, peer_script, path, mode, "20"], env=env,
                                     capture_output=True, text=True, check=True).stdout
                rows.append(("%s: NumPy in-process forward, backward, update" % name, None, None, float(out)))

        rng = random.Random(1)
        big = "param W[2000,2000] = %s\nloss L = sum(W)\n" % matrix(rng, 2000, 2000)
        big_path = write("big.nn", big)
        cpu, rss = median_process([NNDERIVE, "check", big_path])
        rows.append(("check a 2000x2000 literal (%.0f MB): %.0f MB/s" % (len(big) / 1e6, len(big) / 1e6 / cpu), cpu, rss, None))

    print("nnderive %s; %s; NumPy %s" % (
        subprocess.run([NNDERIVE, "--version"], capture_output=True, text=True).stdout.strip(),
        os.uname().machine,
        __import__("numpy").__version__ + " (one thread)" if have_numpy else "not installed: pip install numpy"))
    print("%-72s %10s %10s %10s" % ("case (whole process unless said)", "nnderive s", "peak MiB", "peer s"))
    for name, cpu, rss, peer in rows:
        print("%-72s %10s %10s %10s" % (
            name, "%.3f" % cpu if cpu is not None else "-", "%.0f" % (rss / 1024) if rss else "-",
            "%.3f" % peer if peer is not None else "-"))


if __name__ == "__main__":
    main()

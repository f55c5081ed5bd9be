"""Long native calls give the GIL back while they compute and stop on
"Interrupt kernel" (SIGINT, here `_thread.interrupt_main`) with
KeyboardInterrupt within a second."""

import _thread
import threading
import time

import pytest

import nnderive
from test_display import mlp

# A gradcheck that runs for many seconds (two forward passes for each of
# its 33 482 parameter entries), and a solve that does too (10 000 training
# steps of a 512-128-10 network); each about 10 s on a 2-core machine.
CHECKED = mlp(512, 64, 10)
TRAINED = mlp(512, 128, 10, train="lr = 0.01, steps = 10000")


def test_gradcheck_is_interrupted_within_a_second():
    net = nnderive.parse(CHECKED, name="big.nn")
    timer = threading.Timer(1.0, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.gradcheck()
        stopped = time.perf_counter() - start
    finally:
        timer.cancel()
    # The interrupt came 1 s in; the call stopped less than a second later.
    assert 1.0 <= stopped < 2.0, stopped
    # And the network is usable afterwards.
    assert nnderive.parse(mlp(4, 3, 2), name="small.nn").gradcheck().ok


def test_solve_is_interrupted():
    net = nnderive.parse(TRAINED, name="trained.nn")
    timer = threading.Timer(1.0, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.solve()
        stopped = time.perf_counter() - start
    finally:
        timer.cancel()
    assert 1.0 <= stopped < 2.0, stopped


def test_other_threads_run_while_it_computes():
    net = nnderive.parse(CHECKED, name="big.nn")
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.01)

    other = threading.Thread(target=tick)
    timer = threading.Timer(1.5, _thread.interrupt_main)
    other.start()
    timer.start()
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.gradcheck()
    finally:
        timer.cancel()
        done.set()
        other.join()
    during = [t for t in ticks if start + 0.2 < t < start + 1.4]
    # Python's thread switch interval is 5 ms: holding the GIL, the native
    # call would let the other thread tick a few times at best.
    assert len(during) > 50, len(during)

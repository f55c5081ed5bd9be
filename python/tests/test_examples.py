"""Every example in grammar/examples (globbed, so new networks are covered
as they land): it derives, displays, and where it has values its gradients
agree with finite differences of the loss computed through the public API."""

from fractions import Fraction

import numpy as np
import pytest

import nnderive
from conftest import EXAMPLES

FILES = sorted(EXAMPLES.glob("*.nn"))


def test_there_are_examples():
    assert len(FILES) >= 8


def test_large_parameters_are_sampled():
    assert len(checked_entries((3, 4))) == 12
    sampled = checked_entries((16, 3, 3))
    assert len(sampled) == MAX_ENTRIES and sampled[0] == (0, 0, 0) and sampled[-1] == (15, 2, 2)


def has_values(net):
    return all(t["has_value"] for t in net.tensors.values() if t["role"] in ("input", "target", "param", "const"))


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_example_derives_and_displays(path):
    net = nnderive.load(path)
    d = net.derive()
    assert set(d.gradients.formula) == set(net.params)
    assert "### Gradients" in d._repr_markdown_()
    assert d._repr_latex_().startswith("$$")
    if not has_values(net):
        with pytest.raises(nnderive.NNError, match="no values?"):
            net.solve()


MAX_ENTRIES = 24


def checked_entries(shape):
    """Every entry of a small parameter; of a large one (a convolution's
    kernels, say) the first, the last and evenly spaced ones between, so the
    test stays quick as examples grow."""
    indices = list(np.ndindex(*shape))
    if len(indices) <= MAX_ENTRIES:
        return indices
    picks = np.linspace(0, len(indices) - 1, MAX_ENTRIES).round().astype(int)
    return [indices[i] for i in sorted(set(picks))]


def finite_difference(net, name, value, h=1e-6):
    """Central differences of the loss at the checked entries, each moved by
    ±h through given=; NaN elsewhere."""
    out = np.full_like(value, np.nan)
    for index in checked_entries(value.shape):
        losses = []
        for step in (h, -h):
            moved = value.copy()
            moved[index] += step
            losses.append(net.solve(given={name: moved}).loss)
        out[index] = (losses[0] - losses[1]) / (2 * h)
    return out


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_example_values(path):
    net = nnderive.load(path)
    if not has_values(net):
        pytest.skip("no values: derive only")
    sol = net.solve(round=4)
    assert sol._repr_markdown_().startswith("# Worked solution")
    assert np.isfinite(sol.loss)
    for name in net.params:
        g = sol.gradients[name]
        assert g.dtype == np.float64 and g.shape == net.tensors[name]["shape"]
        assert np.all(np.isfinite(g))
        exact = sol.gradients.exact[name]
        if exact is not None:
            # The arrays are f64 from the given values on (test_float_path.py):
            # within rounding of the value's largest entry.
            exact = np.vectorize(float)(exact)
            np.testing.assert_allclose(g, exact, rtol=0, atol=1e-14 * max(1.0, float(np.max(np.abs(exact)))))
        numeric = finite_difference(net, name, sol.given[name])
        checked = ~np.isnan(numeric)
        assert checked.any()
        np.testing.assert_allclose(g[checked], numeric[checked], rtol=1e-5, atol=1e-7, err_msg=f"{path.name}: {name}")
    assert sol.compare({k: v.tolist() for k, v in sol.gradients.items()}).ok
    for section in (sol.forward, sol.deltas, sol.gradients, sol.updated, sol.given):
        for key, value in section.items():
            exact = section.exact[key]
            if isinstance(exact, Fraction):
                assert float(exact) == pytest.approx(float(value), rel=1e-15)
            elif exact is not None:
                assert exact.shape == value.shape
    if sol.training:
        assert len(sol.history) == sol.training["steps"] + 1
        assert sol.history[0] == sol.loss

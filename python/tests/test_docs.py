"""The guides' Python examples (```pycon blocks in docs/*.md) run as
written and print what they show."""

import doctest
import re

import pytest

from conftest import ROOT

BLOCKS = [
    (path.name, i, block)
    for path in sorted((ROOT / "docs").glob("*.md"))
    for i, block in enumerate(re.findall(r"```pycon\n(.*?)```", path.read_text(encoding="utf-8"), re.S))
]


def test_there_are_examples():
    assert BLOCKS


@pytest.mark.parametrize("name, index, block", BLOCKS, ids=[f"{n}-{i}" for n, i, _ in BLOCKS])
def test_guide_example(name, index, block):
    test = doctest.DocTestParser().get_doctest(block, {}, f"{name}[{index}]", name, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.failures == 0, f"{name}: example {index} prints something else (see above)"

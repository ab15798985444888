"""The code in docs/plugins.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from reel_sdk.testing import run_generator

DOC = Path(__file__).parents[2] / "docs" / "plugins.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_plugin_walkthrough__generator_example_runs(tmp_path):
    namespace: dict = {}
    exec(compile(python_blocks()[0], str(DOC), "exec"), namespace)
    [generator] = namespace["reel_generators"]()
    [out] = run_generator(generator, {"text": "hi"}, workdir=tmp_path)
    assert out.path.read_text() == "HI"
    assert out.metadata == {"length": 2}

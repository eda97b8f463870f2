"""The Python code blocks of README.md run as they are, in order, as a reader would run them."""

import re
from pathlib import Path

from conftest import run_code_blocks

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


def test_the_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write files where they run
    run_code_blocks(BLOCKS, "README.md python")

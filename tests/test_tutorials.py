"""The tutorials of the documentation run as they are, block after block, as a reader would.

Every ``python`` block of a page of docs/tutorials/ (and of the home page), and the code of
its ``.. plot::`` directives (run by Sphinx when the site is built, and shown on the page),
runs in one namespace per page, in a fresh folder. A page whose code imports an optional
package is skipped when that package is missing."""

import re
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import run_code_blocks

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"
PAGES = sorted(p for p in TUTORIALS.glob("*.md") if p.name != "index.md")
PAGES.append(TUTORIALS.parent / "index.md")  # the home page's example
PYTHON = r"```python\n(?P<python>.*?)^```"
PLOT = r"```\{eval-rst\}\n\.\. plot::\n(?:   :.*\n)*\n(?P<plot>.*?)^```"
BLOCK = re.compile(f"^(?:{PYTHON}|{PLOT})", flags=re.S | re.M)
OPTIONAL = {"sklearn": "sklearn", "dask": "distributed"}


def blocks(page: Path) -> list[str]:
    """The code of the page: its python blocks and the (indented) code of its plots."""
    text = page.read_text(encoding="utf-8")
    return [m["python"] or textwrap.dedent(m["plot"]) for m in BLOCK.finditer(text)]


def test_every_tutorial_has_code():
    assert {p.stem for p in PAGES} >= {"own-data", "own-optimizer", "cluster", "exactness"}
    assert all(blocks(page) for page in PAGES)
    assert any("plt.subplots" in code for code in blocks(TUTORIALS / "exactness.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.parent.name + "/" + p.stem)
def test_tutorial_runs(page, tmp_path, monkeypatch):
    code = blocks(page)
    for module, package in OPTIONAL.items():
        if any(re.search(rf"^\s*(from|import) {module}\b", c, flags=re.M) for c in code):
            pytest.importorskip(package)
    monkeypatch.chdir(tmp_path)  # the tutorials write files where they run
    run_code_blocks(code, page.name)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")  # the figures of the plots

"""The documentation covers the package: every public name has an API page, every experiment
a gallery page. Fast, and without Sphinx: the sources of the pages are read as text.
"""

import importlib.util
import re
from pathlib import Path

import fastbias
from fastbias.experiments import FIGURES

DOCS = Path(__file__).resolve().parent.parent / "docs"
API = DOCS / "api"


def autosummary_entries(text: str) -> list[str]:
    """The names listed under the ``.. autosummary::`` directives of a reST page."""
    names = []
    for block in re.split(r"^\.\. autosummary::\n", text, flags=re.M)[1:]:
        for line in block.splitlines():
            if not line.strip() or line.strip().startswith(":"):
                continue
            if not line.startswith("   "):
                break
            names.append(line.strip())
    return names


def api_entries() -> list[str]:
    return [n for page in sorted(API.glob("*.rst")) for n in autosummary_entries(page.read_text())]


def gallery_module():
    path = DOCS / "_ext" / "fastbias_gallery.py"
    spec = importlib.util.spec_from_file_location("fastbias_gallery", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_autosummary_entries_are_read():
    text = ".. autosummary::\n   :toctree: generated\n\n   simulate\n   Trajectory\n\n"
    text += "Text\n   indented\n"
    assert autosummary_entries(text) == ["simulate", "Trajectory"]


def test_every_public_name_has_an_api_page():
    entries = api_entries()
    missing = sorted(set(fastbias.__all__) - set(entries))
    assert not missing, f"public names without an entry in docs/api/*.rst: {missing}"
    for module in ("extend", "experiments", "datasets", "models"):
        assert module in entries


def test_each_name_is_listed_once():
    entries = api_entries()
    assert sorted(n for n in set(entries) if entries.count(n) > 1) == []


def test_every_group_page_is_in_the_api_index():
    index = (API / "index.md").read_text()
    assert {p.stem for p in API.glob("*.rst")} <= set(re.findall(r"^(\w+)$", index, flags=re.M))


def test_every_experiment_gets_a_gallery_page(tmp_path):
    gallery = gallery_module()
    for name in ("gallery.md",):
        (tmp_path / name).write_text((DOCS / name).read_text())
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "fig1.png").write_bytes(b"")
    pages = {p.stem: p.read_text() for p in gallery.write_pages(tmp_path)}
    assert set(pages) == set(FIGURES) | {"index"}
    for name, spec in FIGURES.items():
        assert f"fastbias reproduce {name} " in pages[name]
        assert spec.claim in pages[name] and spec.setting in pages[name]
        assert f"[{name}]({name}.md)" in pages["index"]
    assert "![fig1](../figures/fig1.png)" in pages["fig1"]
    assert "figures/fig2.png" not in pages["fig2"]  # no figure in tmp_path/figures
    # removed experiments lose their pages
    (tmp_path / "experiments" / "gone.md").write_text("# gone\n")
    gallery.write_pages(tmp_path)
    assert not (tmp_path / "experiments" / "gone.md").exists()


def test_gallery_sections_hold_the_measured_numbers():
    gallery = gallery_module()
    sections = gallery.gallery_sections((DOCS / "gallery.md").read_text())
    assert set(sections) == {p.stem for p in (DOCS / "figures").glob("*.png")}
    assert "| Det-Adam (full batch)  |  0.8408 |" in sections["fig1"]
    assert "figures/fig1.png" not in sections["fig1"] and "## Figure 2" not in sections["fig1"]
    assert "Beyond the paper" not in sections["fig10"]


def test_sections_are_split_at_headings():
    gallery = gallery_module()
    text = "# T\nintro\n## A\n![a](figures/a.png)\nnumbers a\n## B\nno figure\n# C\n"
    text += "![c](figures/c.png)\n"
    assert gallery.gallery_sections(text) == {"a": "numbers a", "c": ""}

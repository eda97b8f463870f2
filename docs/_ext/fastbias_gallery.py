"""Sphinx extension: one gallery page per experiment of the registry, written at build time.

The pages come from :data:`fastbias.experiments.FIGURES` (title, setting, claim, notes,
horizons, panels, curves and checks), the figure ``docs/figures/<name>.png`` when it exists,
and the section of ``docs/gallery.md`` that shows the figure (the measured numbers of a full
run). Nothing is run at build time. The functions that make the text are plain Python, so
that the tests can call them without Sphinx.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
OUT = "experiments"  # docs/experiments/, generated (not in version control)

_HEADING = re.compile(r"^#{1,2} ", flags=re.M)


def gallery_sections(text: str) -> dict[str, str]:
    """The sections of the gallery page by the name of the figure they show.

    A section runs from a heading of level 1 or 2 to the next one; it belongs to the
    experiment ``name`` when it shows ``figures/<name>.png``. The heading and the image
    line are left out (the experiment page has its own).
    """
    starts = [m.start() for m in _HEADING.finditer(text)] + [len(text)]
    sections = {}
    for start, end in zip(starts, starts[1:], strict=False):
        body = text[start:end].split("\n", 1)[1] if "\n" in text[start:end] else ""
        shown = re.search(r"^!\[[^\]]*\]\(figures/([\w.-]+)\.png\)\s*$", body, flags=re.M)
        if shown:
            sections[shown.group(1)] = (body[: shown.start()] + body[shown.end() :]).strip()
    return sections


def _epochs(n: int) -> str:
    """``10^7`` for powers of ten, else the integer with separators."""
    exponent = len(str(n)) - 1
    return f"10^{exponent}" if n == 10**exponent else f"{n:,}"


def _curve_text(curve) -> str:
    parts = [f"`{curve.optimizer!r}`", f"lr `{curve.lr!r}`"]
    if curve.loss:
        parts.append(f"loss `{curve.loss}`")
    if curve.model is not None:
        parts.append(f"model `{curve.model!r}`")
    parts.append(f"data `{curve.data.kind}` {dict(curve.data.params) or ''}".rstrip())
    parts.append(f"seed {curve.seed}")
    return f"- **{curve.label}**: " + ", ".join(parts)


def experiment_page(spec, measured: str | None, has_figure: bool) -> str:
    """The MyST text of the gallery page of one experiment.

    Parameters
    ----------
    spec : fastbias.experiments.FigureSpec
    measured : str or None
        The section of the gallery page on this experiment (the measured numbers).
    has_figure : bool
        Whether ``docs/figures/<name>.png`` exists.
    """
    name = spec.name
    lines = [
        f"# {name}: {spec.title}",
        "",
        f"**Setting.** {spec.setting}",
        "",
        f"**Claim.** {spec.claim}",
        "",
    ]
    if spec.notes:
        lines += [f"**Ours rather than the paper's.** {spec.notes}", ""]
    lines += [
        f"**Horizon.** {_epochs(spec.epochs)} epochs ({_epochs(spec.quick_epochs)} with "
        f"`--quick`), on the {'training loss `-log L`' if spec.x == 'neg_log_loss' else 'epoch'}"
        " axis.",
        "",
        "```bash",
        f"fastbias reproduce {name}            # full horizon",
        f"fastbias reproduce {name} --quick    # short horizon",
        "```",
        "",
        f"Each writes `{name}.png`, a tidy `{name}.csv` of the curves and `{name}.txt`, the "
        "summary: the setting, the claim, the final values and whether the claim is visible "
        "in them.",
        "",
    ]
    if has_figure:
        lines += [f"![{name}](../figures/{name}.png)", ""]
    else:
        lines += ["No figure of the full run is stored yet: the command above draws it.", ""]
    lines += ["## Measured", ""]
    if measured:
        lines += [measured, ""]
    else:
        lines += [f"No measurement is recorded yet: run `fastbias reproduce {name}`.", ""]
    lines += ["## Panels", ""]
    for panel in spec.panels:
        title = panel.title or f"{panel.metric}, {panel.reference}"
        lines.append(f"- {title} (metric `{panel.metric}`, reference `{panel.reference}`)")
    lines += ["", "## Curves", ""] + [_curve_text(c) for c in spec.curves]
    if spec.checks:
        lines += ["", "## Checks of the claim", ""] + [f"- {c.text}" for c in spec.checks]
    return "\n".join(lines) + "\n"


def index_page(figures, intro: str) -> str:
    """The MyST text of the gallery index: the introduction, a table and the toctree."""
    lines = ["# Gallery", "", intro.strip(), ""]
    lines += ["| experiment | setting | claim |", "|---|---|---|"]
    for name, spec in figures.items():
        setting = spec.setting.replace("|", "\\|")
        claim = spec.claim.replace("|", "\\|")
        lines.append(f"| [{name}]({name}.md) | {setting} | {claim} |")
    lines += ["", "```{toctree}", ":hidden:", ""] + list(figures) + ["../gallery", "```", ""]
    lines += ["All the experiments on one page: [the gallery of measurements](../gallery.md).", ""]
    return "\n".join(lines)


def write_pages(docs: Path = DOCS) -> list[Path]:
    """Write ``docs/experiments/`` from the registry; remove the pages of removed entries."""
    from fastbias.experiments import FIGURES

    text = (docs / "gallery.md").read_text(encoding="utf-8")
    sections = gallery_sections(text)
    intro = text.split("\n", 1)[1].split("\n## ", 1)[0]
    out = docs / OUT
    out.mkdir(exist_ok=True)
    pages = {"index.md": index_page(FIGURES, intro)}
    for name, spec in FIGURES.items():
        figure = (docs / "figures" / f"{name}.png").is_file()
        pages[f"{name}.md"] = experiment_page(spec, sections.get(name), figure)
    for stale in set(p.name for p in out.glob("*.md")) - set(pages):
        (out / stale).unlink()
    written = []
    for file, content in pages.items():
        path = out / file
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")  # unchanged pages keep their time
        written.append(path)
    return written


def _builder_inited(app) -> None:
    write_pages(Path(app.srcdir))


def setup(app):
    """Register the page generator with Sphinx."""
    app.connect("builder-inited", _builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}

"""Sphinx extension: the command-line reference, from the argparse parsers themselves.

``.. fastbias-help::`` writes one section per subcommand of ``fastbias.cli.build_parser()``
holding exactly what ``fastbias <command> --help`` prints (at a width of 88 columns), so the
page lists every option of every registered optimizer and cannot drift from the parsers.
"""

from __future__ import annotations

import argparse
import functools

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

WIDTH = 88


def help_texts() -> dict[str, str]:
    """``{"fastbias": top-level help, "fastbias run": ..., ...}`` at a fixed width."""
    from fastbias.cli import build_parser

    parser = build_parser()
    parsers = {parser.prog: parser}
    for action in parser._actions:  # the subcommands, in the order of SUBCOMMANDS
        if isinstance(action, argparse._SubParsersAction):
            parsers.update({p.prog: p for p in action.choices.values()})
    texts = {}
    for prog, p in parsers.items():
        p.formatter_class = functools.partial(p.formatter_class, width=WIDTH)
        texts[prog] = p.format_help()
    return texts


class FastbiasHelp(SphinxDirective):
    """One section per command, with its ``--help`` text as a literal block."""

    def run(self) -> list[nodes.Node]:
        """The sections, parsed from reStructuredText made of the help texts."""
        rst = []
        for prog, text in help_texts().items():
            rst += [f"``{prog}``", "-" * (len(prog) + 4), "", ".. code-block:: text", ""]
            rst += ["   " + line if line else "" for line in text.rstrip().splitlines()]
            rst.append("")
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(rst, source="fastbias --help"), container)
        return container.children


def setup(app):
    """Register the directive."""
    app.add_directive("fastbias-help", FastbiasHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}

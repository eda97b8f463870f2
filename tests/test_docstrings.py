"""The examples in the docstrings of every module of the installed package run and agree.

The modules are imported by name, so the examples run against the package as installed
(an editable install or not), the way a user meets them.
"""

import doctest
import importlib
import io
import pkgutil

import pytest

import fastbias

MODULES = ["fastbias"] + sorted(
    info.name
    for info in pkgutil.walk_packages(fastbias.__path__, "fastbias.")
    if not info.name.endswith("__main__")  # importing it runs the command line
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def examples_of(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [test for test in doctest.DocTestFinder().find(module, name) if test.examples]


def test_the_package_has_examples():
    assert sum(len(examples_of(name)) for name in MODULES) >= 20


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in examples_of(name):
        runner.run(test, out=report.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, report.getvalue()

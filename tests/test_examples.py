"""The real-data example runs (scikit-learn's digits), on a short horizon."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "real_data.py"


def _example():
    spec = importlib.util.spec_from_file_location("real_data", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::fastbias.datasets.ZeroEntryWarning")
def test_binary_digits_part_runs(capsys):
    _example().binary_digits(epochs=20)
    out = capsys.readouterr().out
    assert "digits 3 vs 8: n = 357, d = 64" in out
    assert out.count("cosine with the fixed point") == 2


@pytest.mark.slow
def test_whole_example_runs(capsys):
    _example().main(["--epochs", "20", "--epochs-multiclass", "20"])
    out = capsys.readouterr().out
    assert "ten digits: n = 1797, d = 64, k = 10" in out
    assert out.count("margin ratio max") == 3

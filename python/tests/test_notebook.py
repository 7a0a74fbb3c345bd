"""examples/python/quickstart.ipynb runs end to end (nbclient)."""

from __future__ import annotations

from pathlib import Path

import pytest

import elmq

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "python" / "quickstart.ipynb"


def test_quickstart_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    try:
        elmq.load_dataset("fashion-mnist", max_train_rows=1, max_test_rows=1)
    except OSError as e:
        pytest.skip(f"Fashion-MNIST is not installed: {e}")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert "test accuracy" in outputs
    assert "pickle round trip: identical probabilities" in outputs
    images = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert len(images) >= 4  # samples, lambda curve, confusion matrix, accuracy vs L

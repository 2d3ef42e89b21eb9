"""Every notebook in ``notebooks/`` runs from a clean kernel without an error, offline.

Each notebook is executed afresh (its saved outputs are ignored) in a new kernel whose working
directory is a temporary one, and the plots it draws must be real PNG images in the outputs.
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# The plots each notebook must draw (at least this many PNG images in its executed outputs).
PLOTS = {
    "01_quickstart.ipynb": 0,
    "02_langchain_agent.ipynb": 0,
    "03_llamaindex_chat_engine.ipynb": 0,
    "04_policy_lab.ipynb": 4,
}


def _images(notebook: nbformat.NotebookNode) -> list[bytes]:
    return [
        base64.b64decode(output["data"]["image/png"])
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]


def test_every_notebook_is_listed() -> None:
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == sorted(PLOTS)


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_notebook_runs_from_a_clean_kernel(name: str, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in notebook.cells:  # run from nothing: what was saved must not matter
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()  # raises CellExecutionError, naming the cell, on any error
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.execution_count for cell in code)
    images = _images(notebook)
    assert len(images) >= PLOTS[name]
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 2000 for image in images)


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_saved_notebook_shows_its_outputs(name: str) -> None:
    """The copy in the repository was executed before it was saved, so it reads well on its own."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert len(_images(notebook)) >= PLOTS[name]

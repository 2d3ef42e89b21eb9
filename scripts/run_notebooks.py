"""Execute the notebooks in place from clean kernels, so the saved copies show current outputs.

python scripts/run_notebooks.py [notebooks/NAME.ipynb ...]   (default: every notebook)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as scratch:
            NotebookClient(
                notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": scratch}}
            ).execute()
        nbformat.write(notebook, path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

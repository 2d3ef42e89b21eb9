"""The package's public names, typing marker, import guard and runnable docstrings."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import llama_index_nexint

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("block", "embedders", "memory", "messages", "summarizer")

BLOCK_LLAMA_INDEX = """
import importlib.abc, sys

class BlockLlamaIndex(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "llama_index" or name.startswith("llama_index."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, BlockLlamaIndex())
import nexint_core
mmu = nexint_core.MemoryManager(100)
mmu.write("user", "the core works without LlamaIndex")
assert not [m for m in sys.modules if m.startswith("llama_index")]
try:
    import llama_index_nexint
except ImportError as error:
    print(error)
else:
    raise SystemExit("llama_index_nexint imported without llama_index")
"""


def test_package_public_names_are_pinned() -> None:
    assert llama_index_nexint.__all__ == ["LLMSummarizer", "LlamaIndexEmbedder", "NexintMemory", "NexintMemoryBlock"]
    for name in llama_index_nexint.__all__:
        assert getattr(llama_index_nexint, name).__module__.startswith("llama_index_nexint.")
    for module in MODULES:
        loaded = importlib.import_module(f"llama_index_nexint.{module}")
        assert all(hasattr(loaded, name) for name in loaded.__all__), module


def test_package_ships_py_typed_and_is_in_the_distribution() -> None:
    assert (Path(llama_index_nexint.__file__).parent / "py.typed").is_file()
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # (tomllib is Python 3.11+)
    wheel = config.split("[tool.hatch.build.targets.wheel]", 1)[1].split("\n[", 1)[0]
    sdist = config.split("[tool.hatch.build.targets.sdist]", 1)[1].split("\n[", 1)[0]
    assert '"llama_index_nexint"' in wheel
    assert '"llama_index_nexint"' in sdist
    assert 'llama-index = ["llama-index-core>=0.14"]' in config


def test_package_without_llama_index_says_how_to_install_it() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", BLOCK_LLAMA_INDEX], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "pip install 'nexint[llama-index]'" in result.stdout


def test_package_core_never_imports_llama_index() -> None:
    code = (
        "import sys, nexint_core, nexint_core.cli\nassert not [m for m in sys.modules if m.startswith('llama_index')]"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.parametrize("module", MODULES)
def test_package_docstring_examples_run(module: str) -> None:
    loaded = importlib.import_module(f"llama_index_nexint.{module}")
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(loaded):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0
    classes = [obj for obj in vars(loaded).values() if isinstance(obj, type) and obj.__module__ == loaded.__name__]
    for cls in classes:
        if cls.__name__ in llama_index_nexint.__all__:  # each adapter class shows its use
            assert ">>>" in (cls.__doc__ or ""), cls

"""The package surface: pinned public names, runnable docstrings, and a clear error without LangChain."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import langchain_nexint

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "ChatModelSummarizer", "LangChainEmbedder", "NexintChatMessageHistory", "NexintMemory", "NexintMiddleware",
    "chat_model_responder", "responder_for",
}  # fmt: skip
DOCUMENTED = ["middleware", "memory", "history", "models"]

BLOCKED_IMPORT = """
import sys

class NoLangChain:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top.startswith(("langchain", "langgraph")) and top != "langchain_nexint":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoLangChain())
import nexint_core, nexint_core.cli
try:
    import langchain_nexint
except ImportError as error:
    print(error)
else:
    raise SystemExit("langchain_nexint imported without LangChain")
"""


def test_package_all_is_pinned() -> None:
    assert set(langchain_nexint.__all__) == EXPECTED
    for name in langchain_nexint.__all__:
        assert hasattr(langchain_nexint, name)


def test_package_ships_py_typed() -> None:
    assert (Path(langchain_nexint.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize("module", DOCUMENTED)
def test_package_usage_docstrings_run(module: str) -> None:
    loaded = importlib.import_module(f"langchain_nexint.{module}")
    result = doctest.testmod(loaded, optionflags=doctest.ELLIPSIS, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_package_without_langchain_says_how_to_install_it() -> None:
    done = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "pip install 'nexint[langchain]'" in done.stdout
    assert "langchain_core is missing" in done.stdout

"""The kernel imports no framework, no benchmark and no database driver: read from the source of every module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import nexint_core

CORE = Path(nexint_core.__file__).parent
MODULES = sorted(CORE.rglob("*.py"))
NEVER = ("nexint_bench", "langchain", "langchain_core", "langgraph", "llama_index", "pgserver")
DRIVERS = ("psycopg", "psycopg_pool")
DRIVER_MODULE = CORE / "stores" / "postgres.py"  # the one module that may import a driver, inside its functions


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.Module) -> Iterator[tuple[str, str, int]]:
    """``(top-level package, where, line)`` for every import: ``where`` is ``module`` (runs on import),
    ``typing`` (under ``if TYPE_CHECKING:``) or ``function`` (runs when the function is called).
    ``importlib.import_module("x")`` and ``__import__("x")`` with a literal name count as imports."""

    def walk(node: ast.AST, where: str) -> Iterator[tuple[str, str, int]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield _top(alias.name), where, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield _top(node.module), where, node.lineno
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield _top(node.args[0].value), where, node.lineno
        if isinstance(node, ast.If) and _is_type_checking(node) and where == "module":
            for child in node.body:
                yield from walk(child, "typing")
            for child in node.orelse:
                yield from walk(child, where)
            return
        inner = "function" if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else where
        for child in ast.iter_child_nodes(node):
            yield from walk(child, inner)

    yield from walk(tree, "module")


def _imports_of(source: str) -> list[tuple[str, str, int]]:
    return list(imports(ast.parse(source)))


def test_imports_finder_sees_every_kind_of_import() -> None:
    source = (
        "import os, langchain_core.messages as m\n"
        "from llama_index.core import x\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n    import psycopg\n"
        "try:\n    import nexint_bench.cli\nexcept ImportError:\n    pass\n"
        "class C:\n    import pgserver\n    def f(self):\n        import psycopg_pool\n"
        "def g():\n    return importlib.import_module('langgraph.graph')\n"
        "h = lambda: __import__('nexint_bench')\n"
    )
    assert _imports_of(source) == [
        ("os", "module", 1),
        ("langchain_core", "module", 1),
        ("llama_index", "module", 2),
        ("psycopg", "typing", 5),
        ("nexint_bench", "module", 7),
        ("pgserver", "module", 11),
        ("psycopg_pool", "function", 13),
        ("langgraph", "function", 15),
        ("nexint_bench", "function", 16),
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.relative_to(CORE).as_posix())
def test_imports_core_module_imports_no_framework_benchmark_or_driver(path: Path) -> None:
    found = _imports_of(path.read_text(encoding="utf-8"))
    never = [(name, where, line) for name, where, line in found if name in NEVER]
    assert not never, f"{path.name} imports {never}"
    drivers = [(name, where, line) for name, where, line in found if name in DRIVERS]
    if path == DRIVER_MODULE:  # lazily, or for the type checker only
        assert all(where in ("function", "typing") for _, where, _ in drivers), drivers
    else:
        assert not drivers, f"{path.name} imports {drivers}"


def test_imports_the_postgres_store_imports_its_driver_inside_functions() -> None:
    found = _imports_of(DRIVER_MODULE.read_text(encoding="utf-8"))
    assert ("psycopg", "function") in {(name, where) for name, where, _ in found}

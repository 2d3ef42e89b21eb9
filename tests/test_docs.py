"""Every code block in the README and in docs/ runs, and shows what it really does.

- ``python`` blocks are executed, each in a fresh namespace and a fresh working directory.
- ``console`` blocks are shell sessions: each ``$ command`` runs in a subprocess (``memos`` is the
  installed CLI) and its output must match the lines shown under it. All the console blocks of a file
  share one working directory, in order, holding a copy of ``examples/``, with ``NEXINT_HOME`` in it.
  Timestamps are compared as ``<time>``, ``~/.nexint`` stands for ``NEXINT_HOME``, a ``...`` line
  stands for any lines and ``...`` inside a line for any text.
- ``yaml`` blocks are policy files and must load.
- Plain blocks (diagrams, directory layouts) are not code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexint_core.config import load_policy

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "notebooks" / "README.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
RUNNABLE = {"python", "console", "yaml", "sql", ""}
# Documents whose code needs a PostgreSQL server: their blocks run in order against the test server,
# the example URI standing for a fresh test database.
ON_POSTGRES = {"deployment.md"}
EXAMPLE_URI = "postgresql://owner@db/agents"


def blocks(document: Path, language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(document.read_text(encoding="utf-8")) if lang == language]


def _params(language: str) -> list[object]:
    return [
        pytest.param(document, index, id=f"{document.relative_to(ROOT)}[{index}]")
        for document in DOCUMENTS
        if document.name not in ON_POSTGRES
        for index in range(len(blocks(document, language)))
    ]


def test_every_block_has_a_known_language() -> None:
    unknown = {
        (document.name, lang)
        for document in DOCUMENTS
        for lang, _ in FENCE.findall(document.read_text(encoding="utf-8"))
        if lang not in RUNNABLE
    }
    assert not unknown, f"blocks in a language these tests do not run: {unknown}"


def test_the_readme_shows_code_of_each_kind() -> None:
    readme = ROOT / "README.md"
    assert len(blocks(readme, "python")) >= 3
    assert len(blocks(readme, "console")) >= 3
    assert blocks(readme, "yaml")


def test_readme_quick_start_is_make_demo_and_make_test() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick_start.split("```")[1].strip().splitlines()]
    assert commands == ["make demo", "make test"]


# -- python -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("document", "index"), _params("python"))
def test_python_block_runs(document: Path, index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = blocks(document, "python")[index]
    namespace: dict[str, object] = {"__name__": "__docs__"}
    exec(compile(code, f"{document.name}[python block {index}]", "exec"), namespace)


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(ON_POSTGRES))
def test_postgres_document_runs_against_a_real_server(
    name: str, postgres_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    document = ROOT / "docs" / name
    monkeypatch.chdir(tmp_path)
    code = [
        (lang, text) for lang, text in FENCE.findall(document.read_text(encoding="utf-8")) if lang in ("python", "sql")
    ]
    assert any(lang == "sql" for lang, _ in code)
    assert any(EXAMPLE_URI in text for lang, text in code if lang == "python")
    roles = []
    try:
        for index, (lang, text) in enumerate(code):
            if lang == "python":
                source = text.replace(EXAMPLE_URI, postgres_uri)
                exec(compile(source, f"{name}[python block {index}]", "exec"), {"__name__": "__docs__"})
            else:
                roles += re.findall(r"CREATE ROLE (\w+)", text)
                with psycopg.connect(postgres_uri, autocommit=True) as conn:
                    for statement in filter(str.strip, text.split(";")):
                        conn.execute(statement)
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as conn:
            for role in roles:
                conn.execute(f"DROP OWNED BY {role}")
                conn.execute(f"DROP ROLE IF EXISTS {role}")


# -- policy files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("document", "index"), _params("yaml"))
def test_yaml_policy_block_loads(document: Path, index: int, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(blocks(document, "yaml")[index], encoding="utf-8")
    assert load_policy(path).memory_budget_tokens > 0


# -- console ----------------------------------------------------------------------------------------


def commands(block: str) -> Iterator[tuple[str, list[str]]]:
    """The ``$ command`` lines of a console block, each with the output lines shown under it."""
    command: str | None = None
    output: list[str] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield command, output
            command, output = line[2:], []
        elif command is None:
            raise AssertionError(f"a console block must start with '$ ': {line!r}")
        else:
            output.append(line)
    if command is not None:
        yield command, output


def console_env(workdir: Path) -> dict[str, str]:
    env = {**os.environ, "NEXINT_HOME": str(workdir / ".nexint"), "COLUMNS": "120"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def prepare(workdir: Path) -> None:
    shutil.copytree(ROOT / "examples", workdir / "examples")


def run(command: str, workdir: Path) -> list[str]:
    """What the command prints (stdout and stderr, as a terminal shows them), normalised for comparison."""
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=workdir,
        env=console_env(workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    text = result.stdout.replace(str(workdir / ".nexint"), "~/.nexint")
    return [line.rstrip() for line in text.splitlines()] + (
        [] if result.returncode == 0 else [f"(exit {result.returncode})"]
    )


def _pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in TIMESTAMP.sub("<time>", line.rstrip()).split("...")))


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is ``expected``, a ``...`` line standing for any lines (none included)."""
    actual = [TIMESTAMP.sub("<time>", line) for line in actual]

    def match(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i].strip() == "...":
            return any(match(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and bool(_pattern(expected[i]).fullmatch(actual[j])) and match(i + 1, j + 1)

    return match(0, 0)


def _console_documents() -> list[Path]:
    return [document for document in DOCUMENTS if blocks(document, "console")]


@pytest.mark.parametrize("document", _console_documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_console_blocks_show_real_output(document: Path, tmp_path: Path) -> None:
    prepare(tmp_path)
    for block in blocks(document, "console"):
        for command, expected in commands(block):
            actual = run(command, tmp_path)
            assert matches(expected, actual), (
                f"$ {command}\n--- shown\n" + "\n".join(expected) + "\n--- printed\n" + "\n".join(actual)
            )


def test_readme_followed_in_order_in_one_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader who runs the README's Python blocks and its store commands in order, in one directory, gets
    the output shown: no example writes into a store directory another one reads (commands that use no store
    are left to the console test above)."""
    readme = ROOT / "README.md"
    prepare(tmp_path)
    monkeypatch.chdir(tmp_path)
    ran = 0
    for index, (lang, code) in enumerate(FENCE.findall(readme.read_text(encoding="utf-8"))):
        if lang == "python":
            exec(compile(code, f"README.md[block {index}]", "exec"), {"__name__": "__docs__"})
        elif lang == "console" and "--store" in code:
            for command, expected in commands(code):
                actual = run(command, tmp_path)
                assert matches(expected, actual), (
                    f"$ {command}\n--- shown\n" + "\n".join(expected) + "\n--- printed\n" + "\n".join(actual)
                )
                ran += 1
    assert ran >= 5


@pytest.mark.parametrize(
    ("expected", "actual", "result"),
    [
        (["a", "b"], ["a", "b"], True),
        (["a", "b"], ["a"], False),
        (["a", "...", "d"], ["a", "b", "c", "d"], True),
        (["a", "...", "d"], ["a", "d"], True),
        (["a", "...", "d"], ["a", "b"], False),
        (["took ... s"], ["took 0.4 s"], True),
        (["took ... s"], ["took 0.4 ms"], False),
        (["at 2026-01-01T00:00:00Z"], ["at 2031-05-05T10:11:12Z"], True),
        (["x (y)"], ["x (y)"], True),
    ],
)
def test_console_output_matching(expected: list[str], actual: list[str], result: bool) -> None:
    assert matches(expected, actual) is result

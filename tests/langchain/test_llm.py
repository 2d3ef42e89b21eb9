"""The LangChain responder behind ``memos run --llm``, driven by LangChain's own fake chat model."""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_nexint.llm import chat_model_responder, responder_for, to_messages
from nexint_core import InvalidArgument, cli


def fake(text: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(text)]))


def test_to_messages_maps_roles() -> None:
    converted = to_messages(
        [
            {"role": "system", "content": "rules"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "tool", "content": "42"},
        ]
    )
    assert [type(m) for m in converted] == [SystemMessage, HumanMessage, AIMessage, HumanMessage]
    assert converted[3].content == "[tool] 42"


def test_responder_returns_the_model_text() -> None:
    respond = responder_for(fake("Per [PRF-00012], concise answers."))
    assert respond([{"role": "user", "content": "x"}]) == "Per [PRF-00012], concise answers."


def test_the_installed_entry_point_is_the_langchain_responder() -> None:
    entry = next(iter(cli.entry_points(group="nexint.llm")))
    assert entry.load() is chat_model_responder


def test_memos_run_with_an_llm_reports_only_ids_the_prompt_carries(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = "You like concise answers [PRF-00012]; see also [PRF-00099], which the prompt never had."
    seen: list[Sequence[dict[str, str]]] = []

    def responder(spec: str) -> cli.Callable[[Sequence[dict[str, str]]], str]:
        assert spec == "fake:model"
        respond = responder_for(fake(answer))

        def record(messages: Sequence[dict[str, str]]) -> str:
            seen.append(messages)
            return respond(messages)

        return record

    monkeypatch.setattr(cli, "_llm_responder", responder)
    out = io.StringIO()
    assert cli.main(["run", "--query", "Summarize my preferences", "--llm", "fake:model"], out=out) == 0
    assert out.getvalue().splitlines()[-1] == "[RESULT] response includes PRF-00012"
    assert seen[0][0]["role"] == "system"
    assert "[PRF-00012" in seen[0][0]["content"]
    assert seen[0][-1] == {"role": "user", "content": "Summarize my preferences"}


# -- memos run --llm errors: one [ERROR] line, exit 1, no traceback, no network ---------------------

# Run the real CLI with every way to reach the network replaced by one that records the attempt and fails.
_NO_NETWORK_CLI = """
import socket, sys
log = open(sys.argv[1], "a", encoding="utf-8")
def refuse(*args, **kwargs):
    log.write(repr(args) + "\\n")
    log.flush()
    raise OSError("network access attempted")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from nexint_core.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_offline(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """``memos ARGS`` in a subprocess that cannot reach the network; returns the result and the attempts."""
    attempts = tmp_path / "network.log"
    attempts.touch()
    env = {**os.environ, "NEXINT_HOME": str(tmp_path / "home"), "OPENAI_API_KEY": "sk-test-not-a-key"}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", _NO_NETWORK_CLI, str(attempts), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    return result, attempts.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        pytest.param(
            "openai:gpt-4o",
            ["--llm openai:gpt-4o: the 'openai' provider is not installed", "pip install langchain-openai"],
            id="provider-not-installed",
        ),
        pytest.param(
            "nosuch:model",
            ["--llm nosuch:model: Unsupported provider='nosuch'", "Supported model providers are: ", "openai"],
            id="unknown-provider",
        ),
        pytest.param("gpt", ["--llm gpt: expected PROVIDER:MODEL", "openai:gpt-4o", "'gpt'"], id="malformed"),
        pytest.param(":gpt-4o", ["--llm :gpt-4o: expected PROVIDER:MODEL"], id="no-provider"),
        pytest.param("openai:", ["--llm openai:: expected PROVIDER:MODEL"], id="no-model"),
    ],
)
def test_memos_run_llm_errors_are_one_line_without_network(tmp_path: Path, spec: str, fragments: list[str]) -> None:
    if spec.startswith("openai:gpt") and importlib.util.find_spec("langchain_openai") is not None:
        pytest.skip("langchain-openai is installed here: the provider is not missing")
    result, attempts = run_offline(tmp_path, "run", "--query", "Summarize my preferences", "--llm", spec)
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("[ERROR] "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert attempts == ""  # nothing tried to reach a provider
    assert sorted(path.name for path in tmp_path.iterdir()) == ["network.log"]  # no NEXINT_HOME, no store


def test_memos_run_llm_error_comes_before_the_store_is_opened(tmp_path: Path) -> None:
    result, attempts = run_offline(tmp_path, "run", "--store", "missing", "--query", "q", "--llm", "nosuch:model")
    assert result.returncode == 1
    assert "Unsupported provider='nosuch'" in result.stderr  # not "no store at missing"
    assert attempts == ""


def test_chat_model_responder_names_the_problem() -> None:
    with pytest.raises(InvalidArgument, match=r"expected PROVIDER:MODEL .* got 'gpt'"):
        chat_model_responder("gpt")
    with pytest.raises(InvalidArgument, match=r"^Unsupported provider='nosuch'\. Supported model providers are: "):
        chat_model_responder("nosuch:model")

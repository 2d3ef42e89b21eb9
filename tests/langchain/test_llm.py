"""The LangChain responder behind ``memos run --llm``, driven by LangChain's own fake chat model."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_nexint.llm import chat_model_responder, responder_for, to_messages
from nexint_core import cli


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

"""What the model receives in long LlamaIndex chats: recent turns kept (after a restart too), big tool results
never orphaned, sessions apart, the budget honoured whatever the input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.chat_engine import SimpleChatEngine

from llama_index_nexint import NexintMemory
from nexint_core import InvalidArgument, StepClock
from tests.llama_index._support import RecordingLLM, assert_tool_pairs_intact, transcript_tokens

TOPICS = ("trains", "the garden", "chess", "a film", "bread", "jazz", "the sea", "hiking")


def varied(turn: int, rng: random.Random) -> str:
    sentences = [f"Turn {turn}: I keep thinking about {rng.choice(TOPICS)}, item {rng.randint(100, 999)}."]
    sentences += [f"Also {rng.choice(TOPICS)} came up, and {rng.choice(TOPICS)}." for _ in range(rng.randint(0, 4))]
    return " ".join(sentences)


def contents(messages: list[ChatMessage]) -> list[str]:
    return [message.content or "" for message in messages if message.role is not MessageRole.SYSTEM]


@pytest.mark.parametrize("restart_at", [None, 100])
def test_long_chat_engine_gets_its_recent_turns_at_every_turn(tmp_path: Path, restart_at: int | None) -> None:
    store = tmp_path / "memory"
    llm = RecordingLLM()
    memory = NexintMemory.from_defaults(token_limit=1500, store=store, clock=StepClock())
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    rng = random.Random(11)
    said: list[str] = []
    for turn in range(150):
        if turn == restart_at:
            memory.close()
            memory = NexintMemory.from_defaults(token_limit=1500, store=store, clock=StepClock())
            engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
        text = varied(turn, rng)
        answer = engine.chat(text).response
        said += [text, answer]
        received = contents(llm.received[-1])
        assert received[-1] == text
        assert received[-7:-1] == said[-8:-2] or len(said) < 8, turn  # the six before it, unbroken
        assert transcript_tokens(llm.received[-1], memory.manager.tokenizer) <= 1500
    memory.close()


def test_a_tool_result_larger_than_the_budget_is_never_orphaned() -> None:
    memory = NexintMemory.from_defaults(token_limit=4000, clock=StepClock())
    memory.put(ChatMessage(role="user", content="Please read the log."))
    call = ChatMessage(
        role="assistant", blocks=[ToolCallBlock(tool_call_id="c1", tool_name="read_log", tool_kwargs={"name": "x"})]
    )
    big = "\n".join(f"line {n}: request {n} served in {n % 900} ms" for n in range(900))
    result = ChatMessage(role="tool", content=big, additional_kwargs={"tool_call_id": "c1"})
    memory.put_messages([call, result])
    memory.put(ChatMessage(role="assistant", content="The log is long."))
    memory.put(ChatMessage(role="user", content="What was request 12 about?"))
    sent = memory.get()
    assert_tool_pairs_intact(sent)
    tool = next(message for message in sent if message.role is MessageRole.TOOL)
    assert "tokens left out" in (tool.content or "")
    assert transcript_tokens(sent, memory.manager.tokenizer) <= 4000
    whole = [" ".join((message.content or "").split()) for message in memory.get_all()]
    assert " ".join(big.split()) in whole  # kept whole (page cuts fall on whitespace)


def test_sessions_on_one_store_stay_apart(tmp_path: Path) -> None:
    store = tmp_path / "memory"
    alice = NexintMemory.from_defaults(token_limit=800, store=store, session_id="alice")
    alice.put(ChatMessage(role="user", content="My bank PIN is 9931."))
    alice.close()
    bob = NexintMemory.from_defaults(token_limit=800, store=store, session_id="bob")
    assert "9931" not in " ".join(contents(bob.get("What is my bank PIN?")))
    assert bob.get_all() == []
    bob.close()
    with pytest.raises(InvalidArgument, match="session_id or namespace"):
        NexintMemory.from_defaults(session_id="a", namespace="b")


def test_a_pasted_document_comes_back_within_the_budget() -> None:
    memory = NexintMemory.from_defaults(token_limit=3000)
    document = " ".join(f"Clause {n}: the tenant keeps the garden tidy, day {n % 28}." for n in range(5000))
    memory.put(ChatMessage(role="user", content=document))
    sent = memory.get()
    assert transcript_tokens(sent, memory.manager.tokenizer) <= 3000
    assert (sent[-1].content or "").startswith("Clause 0:")


def test_a_misspelt_keyword_names_the_adapter() -> None:
    with pytest.raises(InvalidArgument, match=r"NexintMemory got unexpected keyword argument.*tokenlimit"):
        NexintMemory.from_defaults(tokenlimit=10)

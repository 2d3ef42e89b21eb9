"""NexintMemory as the memory of LlamaIndex's own chat engines, driven by LlamaIndex's MockLLM.

What is asserted, turn by turn, on what the LLM was actually sent (``RecordingLLM.received``), counted
with the manager's tokenizer as a transcript (``role: text`` lines, tool calls as ``name(arguments)``):

- ``SimpleChatEngine``: the whole LLM input is the memory's ``get()``; it stays within ``token_limit``
  and ends with the user's message.
- ``CondensePlusContextChatEngine`` / ``ContextChatEngine``: the LLM input is the engine's system message
  (its context template with the retrieved nodes), then the memory's ``get(input=message)``, then the
  user's message. Everything after the engine's system message (memory and the user's message) stays
  within ``token_limit``; the engine's template and retrieved context are its own and are not counted.
- A fact stated at turn 3 is evicted (absent from the LLM input for most of the conversation) and is in
  the LLM input when asked about at the last turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine import CondensePlusContextChatEngine, ContextChatEngine, SimpleChatEngine
from llama_index.core.embeddings import MockEmbedding

from llama_index_nexint import NexintMemory
from nexint_core import StepClock
from tests.llama_index._support import (
    ANSWER,
    FACT,
    QUESTION,
    RecordingLLM,
    small_talk,
    text_of,
    transcript_tokens,
)

BUDGET = 600
TURNS = 200


def message_for(turn: int, turns: int) -> str:
    if turn == 3:
        return FACT
    return QUESTION if turn == turns - 1 else small_talk(turn)


def check_conversation(memory: NexintMemory, llm: RecordingLLM, sent: list[str], first_counted: int) -> None:
    """Budget at every turn, the user's message last, the fact evicted half-way and recalled at the end."""
    tokenizer = memory.manager.tokenizer
    assert len(llm.received) == len(sent)
    for received, message in zip(llm.received, sent, strict=True):
        assert transcript_tokens(received[first_counted:], tokenizer) <= BUDGET
        assert received[-1].role is MessageRole.USER
        assert received[-1].content == message
    history = memory.get_all()
    assert len(history) == 2 * len(sent)
    assert transcript_tokens(history, tokenizer) > 5 * BUDGET  # the budget is binding
    # evicted: absent from the LLM input for most of the conversation (small talk about the topic of the
    # turn before it may bring it back as that turn's context), so the last turn's recall is a page-in
    absent = [turn for turn, received in enumerate(llm.received) if ANSWER not in text_of(received)]
    assert sum(turn > 3 for turn in absent) > len(sent) // 2
    assert ANSWER in text_of(llm.received[-1])


def new_memory() -> NexintMemory:
    return NexintMemory.from_defaults(token_limit=BUDGET, clock=StepClock())


@pytest.mark.parametrize("mode", ["chat", "stream_chat"])
def test_simple_chat_engine_keeps_the_budget_and_recalls_sync(mode: str) -> None:
    memory, llm = new_memory(), RecordingLLM()
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    sent = [message_for(turn, TURNS) for turn in range(TURNS)]
    for message in sent:
        if mode == "chat":
            assert engine.chat(message).response.startswith("text")
        else:
            response = engine.stream_chat(message)
            assert "".join(response.response_gen).startswith("text")  # consuming it writes the reply
    check_conversation(memory, llm, sent, first_counted=0)
    assert memory.get_all()[-1] == ChatMessage(role="assistant", content=" ".join(["text"] * 12))


def test_simple_chat_engine_keeps_the_budget_and_recalls_async() -> None:
    memory, llm = new_memory(), RecordingLLM()
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    sent = [message_for(turn, TURNS) for turn in range(TURNS)]

    async def converse() -> None:
        for turn, message in enumerate(sent):
            if turn % 4:  # astream_chat every fourth turn: its response generator polls every 0.1 s
                assert (await engine.achat(message)).response.startswith("text")
            else:
                response = await engine.astream_chat(message)
                deltas = [delta async for delta in response.async_response_gen()]  # and awaits the history write
                assert "".join(deltas).startswith("text")

    asyncio.run(converse())
    check_conversation(memory, llm, sent, first_counted=0)


def test_simple_chat_engine_prefix_messages_come_out_of_the_budget() -> None:
    memory, llm = new_memory(), RecordingLLM()
    system = "You are a careful assistant who answers in one short sentence. " * 6
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory, system_prompt=system)
    for turn in range(60):
        engine.chat(small_talk(turn))
        received = llm.received[-1]
        assert received[0].content == system  # the engine's prefix, counted by memory.tokenizer_fn
        assert transcript_tokens(received, memory.manager.tokenizer) <= BUDGET


def mock_retriever() -> Callable[..., object]:
    documents = [
        Document(text="The gym opens at six in the morning and closes at ten at night."),
        Document(text="Lockers at the gym are assigned at the front desk."),
        Document(text="The bakery near the station sells rye bread on Saturdays."),
    ]
    index = VectorStoreIndex.from_documents(documents, embed_model=MockEmbedding(embed_dim=8))
    return index.as_retriever(similarity_top_k=2)  # type: ignore[no-any-return]


def test_condense_plus_context_engine_keeps_the_memory_budget_and_recalls() -> None:
    memory, llm = new_memory(), RecordingLLM()
    engine = CondensePlusContextChatEngine.from_defaults(retriever=mock_retriever(), llm=llm, memory=memory)
    sent = [message_for(turn, TURNS) for turn in range(TURNS)]
    for message in sent:
        response = engine.chat(message)
        assert response.source_nodes  # the retriever ran
    for received in llm.received:
        assert "Here are the relevant documents for the context" in (received[0].content or "")
    check_conversation(memory, llm, sent, first_counted=1)


def test_condense_plus_context_engine_async() -> None:
    memory, llm = new_memory(), RecordingLLM()
    engine = CondensePlusContextChatEngine.from_defaults(retriever=mock_retriever(), llm=llm, memory=memory)
    turns = 120
    sent = [message_for(turn, turns) for turn in range(turns)]

    async def converse() -> None:
        for turn, message in enumerate(sent):
            if turn % 4:
                await engine.achat(message)
            else:
                response = await engine.astream_chat(message)
                _ = [delta async for delta in response.async_response_gen()]  # and awaits the history write

    asyncio.run(converse())
    check_conversation(memory, llm, sent, first_counted=1)


def test_context_chat_engine_keeps_the_memory_budget_and_recalls() -> None:
    memory, llm = new_memory(), RecordingLLM()
    engine = ContextChatEngine.from_defaults(retriever=mock_retriever(), llm=llm, memory=memory)
    turns = 120
    sent = [message_for(turn, turns) for turn in range(turns)]
    for message in sent:
        engine.chat(message)
    check_conversation(memory, llm, sent, first_counted=1)


def test_engine_reset_and_chat_history_go_through_the_memory() -> None:
    memory, llm = new_memory(), RecordingLLM()
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    engine.chat(FACT)
    assert next(message.content for message in engine.chat_history) == FACT
    engine.reset()
    assert engine.chat_history == []
    history = [ChatMessage(role="user", content="Hello."), ChatMessage(role="assistant", content="Hi there.")]
    engine.chat("And now?", chat_history=history)
    assert [message.content for message in llm.received[-1]] == ["Hello.", "Hi there.", "And now?"]

"""NexintMemory on its own: message fidelity, tool-call groups, order, budget, set/reset, options, async."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import MockLLM

from llama_index_nexint import NexintMemory
from nexint_core import InvalidArgument, MemoryManager, StepClock, Tier, load_session
from tests.llama_index._support import (
    ANSWER,
    FACT,
    QUESTION,
    RecordingLLM,
    assert_tool_pairs_intact,
    small_talk,
    text_of,
    transcript_tokens,
)


def tool_turn(call_id: str, city: str) -> list[ChatMessage]:
    """A user question, an assistant message with text and two tool calls, both results, and the answer."""
    return [
        ChatMessage(role="user", content=f"What is the weather in {city} and Oslo?"),
        ChatMessage(
            role="assistant",
            blocks=[
                TextBlock(text="Checking both."),
                ToolCallBlock(tool_call_id=call_id, tool_name="get_weather", tool_kwargs={"city": city}),
                ToolCallBlock(tool_call_id=call_id + "b", tool_name="get_weather", tool_kwargs={"city": "Oslo"}),
            ],
        ),
        ChatMessage(role="tool", content=f"{city}: 17 degrees.", additional_kwargs={"tool_call_id": call_id}),
        ChatMessage(role="tool", content="Oslo: 4 degrees.", additional_kwargs={"tool_call_id": call_id + "b"}),
        ChatMessage(role="assistant", content=f"{city} is warmer than Oslo."),
    ]


def new_memory(token_limit: int = 400, **options: object) -> NexintMemory:
    return NexintMemory(token_limit=token_limit, clock=StepClock(), **options)


def test_memory_round_trips_messages_exactly() -> None:
    memory = new_memory(2000)
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", blocks=[TextBlock(text="First block."), TextBlock(text="Second\n block.")]),
        *tool_turn("call-1", "Lisbon"),
        ChatMessage(role="assistant", content="", additional_kwargs={"note": {"nested": [1, 2]}}),
        ChatMessage(role="user", content="Thanks."),
    ]
    for message in messages:
        memory.put(message)
    assert memory.get_all() == messages
    returned = memory.get()
    assert returned == messages  # everything fits: no system message of ours, the turns as they were
    assert returned[-1] is not messages[-1]  # copies: callers (agents) edit what get() returns


def test_memory_writes_a_tool_call_and_its_results_as_one_group() -> None:
    memory = new_memory(2000)
    memory.put_messages(tool_turn("call-1", "Lisbon"))
    manager = memory.manager
    frames: dict[str, str | None] = {}
    for page in manager.pages(Tier.ACTIVE):
        frames[page.frame_id or page.id] = page.group_id
    groups = list(frames.values())
    assert groups[0] is None
    assert groups[-1] is None
    assert groups[1] is not None
    assert groups[1] == groups[2] == groups[3]
    call_page = next(page for page in manager.pages(Tier.ACTIVE) if page.group_id is not None)
    assert call_page.content == 'Checking both.\nget_weather({"city": "Lisbon"})\nget_weather({"city": "Oslo"})'


def test_memory_rebuilds_a_message_split_into_pages() -> None:
    memory = NexintMemory(token_limit=3000, page_size=64, clock=StepClock())
    long_text = " ".join(f"Sentence number {i} talks about the harbour and the boats." for i in range(60))
    call = ChatMessage(
        role="assistant",
        blocks=[
            TextBlock(text=long_text),
            ToolCallBlock(tool_call_id="c9", tool_name="lookup", tool_kwargs={"q": "harbour"}),
        ],
    )
    memory.put_messages([ChatMessage(role="user", content=long_text), call])
    memory.put(ChatMessage(role="tool", content="Found it.", additional_kwargs={"tool_call_id": "c9"}))
    assert len(memory.manager) > 20  # each long message became many pages
    assert memory.get_all()[:2] == [ChatMessage(role="user", content=long_text), call]
    assert memory.get()[1] == call


def test_memory_get_all_keeps_write_order_through_evictions_and_page_ins() -> None:
    memory = new_memory(300)
    sent = []
    for turn in range(120):
        batch = (
            tool_turn(f"call-{turn}", "Lisbon")
            if turn % 10 == 5
            else [ChatMessage(role="user", content=small_talk(turn))]
        )
        memory.put_messages(batch)
        sent.extend(batch)
        memory.get("What about the weather in Lisbon?")
    assert memory.manager.pages(Tier.SWAP)
    assert memory.get_all() == sent
    assert_tool_pairs_intact(memory.get_all())


def test_memory_get_ends_with_the_latest_user_message_and_never_repeats_it() -> None:
    memory = new_memory(300)
    for turn in range(40):
        memory.put(ChatMessage(role="user", content=FACT if turn == 3 else small_talk(turn)))
        memory.put(ChatMessage(role="assistant", content="Noted."))
    memory.put(ChatMessage(role="user", content=QUESTION))
    for _ in range(2):  # an agent asks twice in a turn (before and after its tool calls)
        returned = memory.get(QUESTION)
        assert returned[0].role is MessageRole.SYSTEM
        assert ANSWER in (returned[0].content or "")
        assert returned[-1] == ChatMessage(role="user", content=QUESTION)
        assert text_of(returned).count(QUESTION) == 1
        assert transcript_tokens(returned, memory.manager.tokenizer) <= 300
    assert memory.get_all()[-1] == ChatMessage(role="user", content=QUESTION)


def test_memory_get_with_another_input_leaves_the_input_to_the_caller() -> None:
    memory = new_memory(300)
    memory.put_messages([ChatMessage(role="user", content=FACT), ChatMessage(role="assistant", content="Noted.")])
    returned = memory.get(QUESTION)  # a context engine: the question is written after the call
    assert QUESTION not in text_of(returned)
    assert returned[-1] == ChatMessage(role="assistant", content="Noted.")


def test_memory_initial_token_count_comes_out_of_the_budget() -> None:
    memory = new_memory(200)
    for turn in range(30):
        memory.put(ChatMessage(role="user", content=small_talk(turn)))
    tokenizer = memory.manager.tokenizer
    assert transcript_tokens(memory.get(initial_token_count=120), tokenizer) <= 80
    with pytest.raises(ValueError, match="exceeds the token limit"):
        memory.get(initial_token_count=200)
    assert memory.tokenizer_fn("hello world") == tokenizer.encode("hello world")


def test_memory_sends_an_excerpt_of_a_query_larger_than_the_budget_and_keeps_it_whole() -> None:
    memory = new_memory(60, page_size=16)
    huge = ChatMessage(role="user", content=" ".join(["word"] * 80))
    memory.put(huge)
    sent = memory.get()
    assert len(sent) == 1
    assert transcript_tokens(sent, memory.manager.tokenizer) <= 60  # never over the budget
    assert sent[0].role is MessageRole.USER
    assert sent[0].content is not None
    assert sent[0].content.startswith("word word")
    assert "tokens left out; the whole message is kept in the archive" in sent[0].content
    assert memory.get_all() == [huge]  # stored whole (archived, searchable)


def test_memory_set_replaces_and_reset_forgets_only_what_it_wrote() -> None:
    memory = new_memory(300, summarizer="extractive")
    rule = memory.manager.write("system", "Always answer in French.", kind="RUL", pin=True)[0]
    for turn in range(60):
        memory.put(ChatMessage(role="user", content=small_talk(turn)))
    assert memory.manager.pages(Tier.SUMMARY)
    memory.set([ChatMessage(role="user", content=FACT)])
    assert memory.get_all() == [
        ChatMessage(role="system", content="Always answer in French."),
        ChatMessage(role="user", content=FACT),
    ]
    memory.reset()
    assert [page.id for page in memory.manager.pages(Tier.CORE)] == [rule]
    assert not memory.manager.pages(Tier.SUMMARY)
    assert not memory.manager.pages(Tier.SWAP)
    assert len(memory.manager) == 1


def test_memory_async_variants_match_the_sync_ones() -> None:
    memory = new_memory(400)

    async def run() -> None:
        await memory.aput(ChatMessage(role="user", content=FACT))
        await memory.aput_messages(tool_turn("call-1", "Lisbon"))
        await memory.aput(ChatMessage(role="user", content=QUESTION))
        assert (await memory.aget())[-1].content == QUESTION
        assert len(await memory.aget_all()) == 7
        await memory.aset([ChatMessage(role="user", content="Hello.")])
        assert await memory.aget_all() == [ChatMessage(role="user", content="Hello.")]
        await memory.areset()
        assert await memory.aget_all() == []
        assert await memory.aget() == []

    asyncio.run(run())


def test_memory_options_build_or_take_a_manager(tmp_path: Path) -> None:
    manager = MemoryManager(500, clock=StepClock())
    memory = NexintMemory(manager=manager)
    assert memory.manager is manager
    assert memory.token_limit == 500
    assert NexintMemory.from_defaults(manager, token_limit=300).token_limit == 300
    with pytest.raises(InvalidArgument, match="not both"):
        NexintMemory(manager=manager, store=tmp_path / "store")
    memory.close()
    manager.write("user", "still open")  # a manager passed in is not closed

    built = NexintMemory.from_defaults(llm=MockLLM(), store=tmp_path / "store", policy="LFU", namespace="alice")
    assert built.token_limit == int(MockLLM().metadata.context_window * 0.75)
    assert (built.manager.eviction_name, built.manager.namespace) == ("LFU", "alice")
    built.close()
    history = [ChatMessage(role="user", content="Hi."), ChatMessage(role="assistant", content="Hello.")]
    with NexintMemory.from_defaults(store=tmp_path / "store", namespace="alice", chat_history=history) as reopened:
        assert reopened.get_all() == history
    assert NexintMemory(token_limit=123).model_dump() == {"token_limit": 123, "class_name": "NexintMemory"}


def test_memory_reads_pages_written_to_the_manager_directly() -> None:
    memory = new_memory(400)
    memory.manager.write("user", "Written by the application.")
    memory.manager.write("tool", "A tool result written without its call.")
    assert memory.get_all() == [
        ChatMessage(role="user", content="Written by the application."),
        ChatMessage(role="tool", content="A tool result written without its call."),
    ]


def test_memory_records_a_session(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    memory = NexintMemory.from_defaults(token_limit=300, clock=StepClock(), record=path)
    engine = SimpleChatEngine.from_defaults(llm=RecordingLLM(), memory=memory)
    engine.chat(FACT)
    engine.chat(QUESTION)
    memory.close()
    session = load_session(path)
    kinds = [(type(record).__name__, getattr(record, "text", "")) for record in session.records]
    assert kinds[:3] == [("Query", FACT), ("Message", FACT), ("Message", "text " * 11 + "text")]
    assert ("Query", QUESTION) in kinds


conversation = st.lists(
    st.one_of(
        st.tuples(st.just("user"), st.integers(1, 90)),
        st.tuples(st.just("assistant"), st.integers(0, 90)),
        st.tuples(st.just("tools"), st.integers(1, 3)),
        st.tuples(st.just("get"), st.integers(0, 60)),
    ),
    min_size=1,
    max_size=60,
)


@given(steps=conversation, limit=st.integers(120, 500))
def test_memory_get_stays_within_budget_and_keeps_tool_pairs(steps: list[tuple[str, int]], limit: int) -> None:
    memory = NexintMemory(token_limit=limit, page_size=32, clock=StepClock())
    tokenizer = memory.manager.tokenizer
    for number, (kind, size) in enumerate(steps):
        if kind == "user":
            memory.put(ChatMessage(role="user", content=" ".join(f"user{number} word{i}." for i in range(size))))
        elif kind == "assistant":
            memory.put(ChatMessage(role="assistant", content="reply " * size))
        elif kind == "tools":
            calls = [f"c{number}-{i}" for i in range(size)]
            blocks = [ToolCallBlock(tool_call_id=c, tool_name="f", tool_kwargs={"n": number}) for c in calls]
            memory.put(ChatMessage(role="assistant", blocks=blocks))
            memory.put_messages(
                [ChatMessage(role="tool", content=f"result {c}", additional_kwargs={"tool_call_id": c}) for c in calls]
            )
        else:
            returned = memory.get(initial_token_count=size)
            assert transcript_tokens(returned, tokenizer) <= limit - size  # a long query comes as an excerpt
            assert_tool_pairs_intact(returned)
    assert len(memory.get_all()) == sum({"tools": 1 + size}.get(kind, 1) for kind, size in steps if kind != "get")

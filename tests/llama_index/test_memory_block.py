"""NexintMemoryBlock inside LlamaIndex's own ``Memory``, beside its short-term queue, as engine and agent memory.

``Memory`` keeps recent messages in its queue and flushes the oldest into its blocks; the block writes
them to a nexint manager and, on each ``get``, returns what the manager recalls for the latest user
message. Asserted: the block's content (the ``<nexint_archive>`` part of the system message the LLM
receives) holds the fact stated at turn 3, long after ``Memory`` flushed it, and tool calls reach the
manager in one group with their results.
"""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.memory import Memory
from llama_index.core.tools import FunctionTool
from sqlalchemy.ext.asyncio import create_async_engine

from llama_index_nexint import NexintMemoryBlock
from llama_index_nexint.messages import META_KEY
from nexint_core import InvalidArgument, MemoryManager, StepClock
from tests.llama_index._support import ANSWER, FACT, QUESTION, RecordingLLM, ToolCallingLLM, get_weather, small_talk
from tests.llama_index.test_agents import agent_message

pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning:inspect"),  # see test_agents
]


def archive_of(system: ChatMessage) -> str:
    """The block's part of the system message ``Memory`` builds from its template."""
    text = system.content or ""
    assert "<nexint_archive>" in text, text
    return text.split("<nexint_archive>", 1)[1].split("</nexint_archive>", 1)[0]


def test_memory_block_recalls_through_a_chat_engine() -> None:
    block = NexintMemoryBlock(token_limit=300, clock=StepClock())
    llm = RecordingLLM()
    turns = 80

    async def converse() -> None:
        queue = create_async_engine("sqlite+aiosqlite://")
        memory = Memory.from_defaults(token_limit=400, memory_blocks=[block], async_engine=queue)
        engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
        for turn in range(turns):
            await engine.achat(FACT if turn == 3 else QUESTION if turn == turns - 1 else small_talk(turn))
        await queue.dispose()

    asyncio.run(converse())
    last = llm.received[-1]
    assert last[-1].content == QUESTION
    assert FACT not in "\n".join(m.content or "" for m in last[1:])  # not in Memory's own queue any more
    assert ANSWER in archive_of(last[0])
    assert ANSWER not in archive_of(llm.received[turns // 2][0])  # recalled for the question, not carried along
    assert len(block.manager) > 100  # what Memory flushed


def test_memory_block_recalls_through_a_function_agent_and_keeps_tool_groups() -> None:
    block = NexintMemoryBlock(token_limit=400, clock=StepClock())
    llm = ToolCallingLLM()
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=get_weather)], llm=llm)
    turns = 60

    async def converse() -> None:
        queue = create_async_engine("sqlite+aiosqlite://")
        memory = Memory.from_defaults(token_limit=500, memory_blocks=[block], async_engine=queue)
        for turn in range(turns):
            await agent.run(user_msg=agent_message(turn, turns), memory=memory)
        await queue.dispose()

    asyncio.run(converse())
    assert ANSWER in archive_of(llm.received[-1][0])
    groups: dict[str, list[str]] = {}
    for tier in ("active", "swap"):
        for page in block.manager.pages(tier):
            if page.group_id is not None:
                groups.setdefault(page.group_id, []).append(page.role)
    calls = [
        page.group_id
        for tier in ("active", "swap")
        for page in block.manager.pages(tier)
        if any(b.get("block_type") == "tool_call" for b in page.metadata[META_KEY]["blocks"])
    ]
    assert calls
    assert all(group is not None for group in calls)
    for roles in groups.values():
        assert roles.count("assistant") == 1
        assert roles.count("tool") >= 1


def test_memory_block_takes_a_manager_and_answers_directly() -> None:
    manager = MemoryManager(400, clock=StepClock())
    block = NexintMemoryBlock(manager=manager, name="archive", priority=1)
    assert (block.manager, block.token_limit, block.name) == (manager, 400, "archive")
    with pytest.raises(InvalidArgument, match="not both"):
        NexintMemoryBlock(manager=manager, policy="LFU")

    async def run() -> str:
        call = ChatMessage(
            role="assistant",
            blocks=[ToolCallBlock(tool_call_id="c1", tool_name="get_weather", tool_kwargs={"city": "Oslo"})],
        )
        result = ChatMessage(role="tool", content="Oslo: 4 degrees.", additional_kwargs={"tool_call_id": "c1"})
        await block.aput([ChatMessage(role="user", content=FACT), call, result], from_short_term_memory=True)
        for turn in range(30):
            await block.aput([ChatMessage(role="user", content=small_talk(turn))])
        assert await block.aget([]) == block.recall("")  # no message: core and summaries, the newest turns
        return await block.aget(
            [ChatMessage(role="user", content=QUESTION), ChatMessage(role="assistant", content="Hm.")]
        )

    content = asyncio.run(run())
    assert ANSWER in content
    assert manager.tokenizer.count(content) <= 400
    assert manager.pages("swap")  # the fact came back by page-in
    group = {page.group_id for page in [*manager.pages("active"), *manager.pages("swap")] if page.role == "tool"}
    assert len(group) == 1
    assert None not in group
    long_query = "x " * 1000  # over the block's budget: counted as an excerpt, half the budget at most
    query_tokens = manager.assemble(long_query, 400, page_in=False).section("query").tokens
    assert query_tokens <= 200
    assert 0 < manager.tokenizer.count(block.recall(long_query)) <= 400 - query_tokens  # the rest is memory's


def test_memory_block_queries_with_the_latest_message_when_no_user_spoke() -> None:
    block = NexintMemoryBlock(token_limit=300, clock=StepClock())

    async def run() -> str:
        await block.aput([ChatMessage(role="user", content=FACT)])
        for turn in range(40):
            await block.aput([ChatMessage(role="user", content=small_talk(turn))])
        only_assistant = [ChatMessage(role=MessageRole.ASSISTANT, content=QUESTION)]
        return await block.aget(only_assistant)  # no user message: the latest message is the query

    assert ANSWER in asyncio.run(run())

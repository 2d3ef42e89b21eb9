"""The turn cycle every adapter calls: assemble for a new message before writing it, then write."""

from __future__ import annotations

from pathlib import Path

from nexint_core import Action, Frame, MemoryManager, StepClock, Tier
from nexint_core.conversation import Conversation

MARK = "adapter"
FACT = "My locker code at the gym is 4512."


def turn(role: str, text: str) -> Frame:
    return Frame(role, text, metadata={MARK: {"role": role}})


def chat(limit: int = 300, **options: object) -> Conversation:
    return Conversation(MemoryManager(limit, clock=StepClock(), **options), marker=MARK)  # type: ignore[arg-type]


def test_conversation_begin_assembles_before_it_writes_the_message() -> None:
    conversation = chat()
    conversation.write([turn("user", FACT), turn("assistant", "Noted.")])
    for number in range(40):
        conversation.write([turn("user", f"Small talk about trains, message {number}."), turn("assistant", "Sure.")])
    context, ids = conversation.begin(turn("user", "What is my locker code at the gym?"))
    assert context.prompt.query == "What is my locker code at the gym?"
    assert ids
    assert conversation.manager.get(ids[0]).content == "What is my locker code at the gym?"
    shown = {page.id for frame in context.recent for page in frame.pages}
    assert ids[0] not in shown  # assembled before it was written: it never recalls itself
    assert context.system is not None
    assert FACT in context.system


def test_conversation_context_without_page_in_logs_no_page_in() -> None:
    conversation = chat(120)
    for number in range(30):
        conversation.write([turn("user", f"Message {number} about the locker code {number}.")])
    before = conversation.manager.events.last_seq
    conversation.context("locker code 3")
    assert not [event for event in conversation.manager.events if event.seq > before]
    conversation.context("locker code 3", page_in=True)
    assert any(event.action is Action.PAGE_IN for event in conversation.manager.events if event.seq > before)


def test_conversation_context_has_no_system_message_when_it_would_be_empty() -> None:
    conversation = chat()
    conversation.write([turn("user", "hello")])
    context = conversation.context("anything")
    assert context.system is None
    assert [frame.text for frame in context.recent] == ["hello"]
    assert conversation.context("anything", system="Be brief.").system == "Be brief."


def test_conversation_history_reads_swapped_content_after_a_restart(tmp_path: Path) -> None:
    texts = [f"Turn {number} of a long chat about rivers and bridges." for number in range(60)]
    with MemoryManager(150, store=tmp_path / "memory", clock=StepClock()) as manager:
        Conversation(manager, marker=MARK).write([turn("user", text) for text in texts])
    with MemoryManager(150, store=tmp_path / "memory", clock=StepClock()) as manager:
        assert manager.pages(Tier.SWAP)
        history = Conversation(manager, marker=MARK).history()
    assert [" ".join(page.content for page in frame) for frame in history] == texts


def test_conversation_clear_forgets_its_turns_and_summaries_only() -> None:
    manager = MemoryManager(200, clock=StepClock(), summarizer="extractive", shared=["team"])
    rule = manager.write("system", "Always answer in French.", kind="RUL", pin=True)[0]
    note = manager.write("assistant", "A note written directly.")[0]
    team = manager.write("user", "The team meets on Mondays.", namespace="team")[0]
    conversation = Conversation(manager, marker=MARK)
    conversation.write([turn("user", f"Small talk, message {number}, about the sea.") for number in range(60)])
    assert manager.pages(Tier.SUMMARY)
    before = manager.events.last_seq
    forgotten = conversation.clear()
    drops = [event for event in manager.events if event.seq > before and event.action is Action.DROP]
    assert forgotten == len(drops) > 60  # the 60 turns and the summaries made of them
    assert sorted(page.id for page in manager.page_table) == sorted([rule, note, team])
    assert conversation.history() == [(manager.get(rule),), (manager.get(note),)]

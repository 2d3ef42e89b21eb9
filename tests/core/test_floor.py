"""The recent-turns floor: the newest messages always reach the model, whatever the policy or page-in do."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nexint_core import POLICY_NAMES, Action, Frame, InvalidArgument, MemoryManager, StepClock, Tier
from nexint_core.config import parse_policy

TOPICS = ["trains", "the garden", "chess", "a film", "the weather", "bread", "jazz", "the sea", "hiking", "bees"]


def talk(number: int, rng: random.Random) -> str:
    """A varied turn: a topic, a number, and one to four sentences (every text unique)."""
    topic = rng.choice(TOPICS)
    sentences = [f"Turn {number} is about {topic}, item {rng.randint(100, 999)}."]
    sentences += [f"I keep thinking about {rng.choice(TOPICS)} and {topic}." for _ in range(rng.randint(0, 3))]
    return " ".join(sentences)


def recent_ids(manager: MemoryManager, query: str) -> list[str]:
    return manager.assemble(query).section("recent").page_ids


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_floor_keeps_the_last_six_messages_while_page_in_recalls_old_turns(policy: str) -> None:
    manager = MemoryManager(1500, policy=policy, clock=StepClock())
    rng = random.Random(7)
    written: list[str] = []
    for number in range(150):
        role = "user" if number % 2 == 0 else "assistant"
        written.append(manager.write(role, talk(number, rng))[0])
        if number % 10 == 9:
            prompt = manager.assemble(f"what did I say about {rng.choice(TOPICS)}?")
            shown = prompt.section("recent").page_ids
            assert shown == written[len(written) - len(shown) :]  # unbroken, ending at the latest
            assert len(shown) >= 6
            assert prompt.tokens <= 1500
    floor_evictions = [
        event for event in manager.events if event.action is Action.EVICT and event.memory_id in set(written[-6:])
    ]
    assert not floor_evictions  # neither page-in nor the policy ever pushed the newest six out


def test_floor_grows_with_small_messages_up_to_the_recent_share() -> None:
    manager = MemoryManager(2000, clock=StepClock())
    for number in range(80):
        manager.write("user" if number % 2 == 0 else "assistant", f"ok {number}")
    floor = manager.kernel.floor
    assert len(floor) > 6  # small turns: more than the minimum, within the share
    assert floor.tokens <= manager.settings.floor_tokens
    assert manager.settings.floor_tokens == int(manager.sections["recent"] * 2000)


def test_floor_starts_at_a_question() -> None:
    manager = MemoryManager(400, clock=StepClock())
    for number in range(40):
        manager.write("user", f"Question {number} about the harbour and its boats?")
        manager.write("assistant", f"Answer {number}: the boats leave at dawn, mostly for the islands.")
    keys = list(manager.kernel.floor)
    first = manager.get(str(keys[0]))
    assert first.role == "user"
    assert len(keys) >= 6


def test_floor_yields_to_long_writes_and_still_shows_the_last_six_from_swap() -> None:
    manager = MemoryManager(600, clock=StepClock())
    ids = []
    for number in range(30):
        words = "long words about trains and the weather " * (30 if number % 2 == 0 else 3)
        ids.append(manager.write("user" if number % 2 == 0 else "assistant", f"message {number}: {words}")[0])
    assert manager.kernel.floor.archived_keys()  # the working set cannot hold six such messages whole
    assert any(manager.get(page_id).tier is Tier.SWAP for page_id in ids[-6:])
    prompt = manager.assemble("what about trains?")
    shown = prompt.section("recent").page_ids
    assert shown[-6:] == ids[-6:]
    assert prompt.tokens <= 600
    excerpts = [item.text for item in prompt.section("recent").items if "tokens left out" in item.text]
    assert excerpts  # the longest shown as head and tail, with what was left out
    assert all("the whole message is MSG-" in text for text in excerpts)
    assert prompt.tokens == manager.tokenizer.count(prompt.text)


def test_floor_is_a_policy_setting_and_zero_turns_it_off() -> None:
    config = parse_policy({"policy": {"memory_budget_tokens": 1000, "recent_floor_messages": 3}})
    assert MemoryManager.from_policy(config).settings.recent_floor == 3
    assert MemoryManager.from_policy(config).policy_config().recent_floor_messages == 3
    off = MemoryManager(300, recent_floor=0, clock=StepClock())
    for number in range(20):
        off.write("user", f"turn {number}")
    assert len(off.kernel.floor) == 0
    with pytest.raises(InvalidArgument, match="recent_floor"):
        MemoryManager(300, recent_floor=-1)


def test_floor_page_in_room_leaves_the_floor_alone() -> None:
    manager = MemoryManager(400, clock=StepClock(), page_in_budget=400)
    manager.write("user", "My locker code at the gym is 4512.")
    for number in range(60):
        manager.write("user" if number % 2 else "assistant", f"Chatter {number} about the weather and trains.")
    assert manager.get("MSG-000001").tier is Tier.SWAP
    floor_before = list(manager.kernel.floor)
    seq = manager.events.last_seq
    promoted = manager.page_in("What is my locker code at the gym?")
    assert "MSG-000001" in promoted
    evicted = {event.memory_id for event in manager.events if event.seq > seq and event.action is Action.EVICT}
    floor_pages = {page.id for key in floor_before for page in manager.kernel.resident_unit(key)}
    assert not evicted & floor_pages
    assert list(manager.kernel.floor) == floor_before


def test_floor_is_rebuilt_after_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "memory"
    with MemoryManager(500, store=store, clock=StepClock()) as manager:
        ids = [manager.write("user" if n % 2 == 0 else "assistant", f"Turn {n} about bees.")[0] for n in range(50)]
    with MemoryManager(500, store=store, clock=StepClock()) as manager:
        shown = recent_ids(manager, "anything new?")
        assert shown[-6:] == ids[-6:]
        assert len(manager.kernel.floor) >= 6


def test_oversize_message_is_archived_whole_and_an_excerpt_stands_in() -> None:
    manager = MemoryManager(1000, clock=StepClock())
    manager.write("user", "Please read the file.")
    call = manager.write("assistant", "read_file(path='rows.txt')", group="call-1")
    rows = " ".join(f"Row {n}: value {n * 7}." for n in range(1500))
    ids = manager.write("tool", rows, group="call-1")
    excerpt, *whole = ids
    stand_in = manager.get(excerpt)
    assert stand_in.group_id == "call-1"
    assert stand_in.tier is Tier.ACTIVE
    assert stand_in.metadata["excerpt_of"] == whole
    assert "tokens left out" in stand_in.content
    assert stand_in.content.startswith("Row 0: value 0.")
    assert all(manager.get(page_id).tier is Tier.SWAP for page_id in whole)
    assert all(manager.get(page_id).group_id is None for page_id in whole)  # recalled one by one
    assert " ".join(manager.get(page_id).content for page_id in whole).startswith("Row 0: value 0.")
    assert manager.usage()["active"] <= manager.settings.largest_message + 200
    prompt = manager.assemble("what is the value of row 700?")
    assert "Row 700: value 4900." in prompt.text  # paged in from the archived whole
    assert prompt.tokens <= 1000
    roles = [message["role"] for message in prompt.messages]
    call_index = roles.index("assistant")
    assert roles[call_index + 1] == "tool"  # the call travels with its (excerpted) result
    assert manager.get(call[0]).tier is Tier.ACTIVE


def test_write_many_is_atomic_when_a_frame_is_rejected() -> None:
    manager = MemoryManager(1000, clock=StepClock())
    manager.write("user", "before")
    snapshot, seq = manager.page_table.snapshot(), manager.events.last_seq
    frames = [Frame("assistant", "call f()", "g1"), Frame("tool", "result", "g1"), Frame("usr", "typo role")]
    with pytest.raises(InvalidArgument, match=r"item 2.*nothing was written"):
        manager.write_many(frames)
    assert manager.page_table.snapshot() == snapshot
    assert manager.events.last_seq == seq


def test_write_many_is_atomic_when_the_store_fails(tmp_path: Path) -> None:
    manager = MemoryManager(1000, store=tmp_path / "memory", clock=StepClock())
    manager.write("user", "before")
    stored = len(manager.store)

    def broken(pages: object) -> None:
        raise OSError("disk full")

    manager.store.put = broken  # type: ignore[method-assign]
    with pytest.raises(Exception, match="disk full"):
        manager.write_many([Frame("assistant", "call f()", "g1"), Frame("tool", "x " * 3000, "g1")])
    assert len(manager.store) == stored
    assert [page.content for page in manager.page_table] == ["before"]
    manager.close()


def test_a_query_larger_than_the_budget_comes_as_an_excerpt() -> None:
    manager = MemoryManager(3000, clock=StepClock(), system_prompt="You are terse.")
    for number in range(12):
        manager.write("user" if number % 2 == 0 else "assistant", f"Turn {number} about the sea.")
    document = " ".join(f"Paragraph {n} of the pasted contract, clause {n * 3}." for n in range(6000))
    prompt = manager.assemble(document)
    assert prompt.tokens <= 3000
    assert prompt.tokens == manager.tokenizer.count(prompt.text)
    assert prompt.query_text.startswith("Paragraph 0 of the pasted contract")
    assert "tokens left out; the whole message is kept in the archive" in prompt.query_text
    assert len(prompt.section("recent").items) >= 6
    ids = manager.write("user", document)
    assert manager.get(ids[0]).metadata["excerpt_of"] == ids[1:]


def test_spilled_page_content_is_read_from_the_store_never_empty(tmp_path: Path) -> None:
    with MemoryManager(200, store=tmp_path / "memory", clock=StepClock()) as manager:
        for number in range(40):
            manager.write("user", f"Message {number} about rivers.")
        swapped = manager.pages(Tier.SWAP)[0]
        assert swapped.spilled
        assert swapped.content == "Message 0 about rivers."

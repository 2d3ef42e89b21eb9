"""Record the bundled demo session ``session_01`` (run from the repository root; deterministic).

A user talks with an assistant over 60 turns: ten facts, small talk between them, and a probe per
fact some turns later asking for it back. The session is recorded as a side effect of normal use
(``MemoryManager(record=...)``), under a 600-token budget so that old turns are evicted.

    python scripts/make_session_01.py
"""

from __future__ import annotations

import random
from pathlib import Path

from nexint_core import MemoryManager, StepClock
from nexint_core.config import PolicyConfig
from nexint_core.session import SessionRecorder

OUT = Path("nexint_core/_data/sessions/session_01.jsonl")
FACTS = [
    ("My sister Ines lives in Porto and teaches chemistry.", "Where does my sister live?"),
    ("I am allergic to peanuts, so please keep recipes peanut-free.", "Which allergy should recipes avoid?"),
    ("Our dog is a greyhound called Biscuit.", "What breed is our dog?"),
    ("My flight to Reykjavik leaves on 14 March at 07:40.", "When does my Reykjavik flight leave?"),
    ("I prefer metric units and short answers.", "Which units do I prefer?"),
    ("The router password hint is the name of my first bicycle, Comet.", "What was my first bicycle called?"),
    ("I run the Lisbon half marathon every October.", "Which race do I run in October?"),
    ("My dentist appointment moved to Thursday afternoon.", "When is the dentist appointment now?"),
    ("I am learning the cello with a teacher named Oskar.", "Who teaches me the cello?"),
    ("Our team standup is at 09:15 on the video link in the calendar.", "What time is the team standup?"),
]
SMALL_TALK = [
    "The weather turned grey again this afternoon.",
    "I watched a documentary about deep sea fish yesterday.",
    "The coffee machine at work is broken again.",
    "Traffic was slow on the bridge this morning.",
    "I tried a new bakery near the station; the bread was good.",
    "My phone battery drains quickly since the update.",
    "We are thinking about repainting the kitchen.",
    "The neighbours had a loud party on Saturday.",
]
REPLIES = [
    "Noted. Anything else on your mind?",
    "Thanks for telling me; I will keep it in mind.",
    "That sounds like a busy week.",
    "Understood.",
]


def main() -> None:
    rng = random.Random(1)
    policy = PolicyConfig(
        name="session_01",
        version="1",
        eviction="LRU",
        memory_budget_tokens=600,
        core_budget_tokens=120,
        page_in_budget_tokens=160,
        promote_if="importance > 0.85",
    )
    recorder = SessionRecorder(
        OUT, name="session_01", policy=policy, overwrite=True, description="60 turns, 10 facts, 10 recall probes"
    )
    mmu = MemoryManager.from_policy(policy, clock=StepClock(), record=recorder)
    mmu.write("system", "Answer briefly and cite memory ids in brackets.", pin=True, importance=1.0)
    pending: list[tuple[int, str, list[str]]] = []  # (due turn, question, expected ids)
    facts = iter(FACTS)
    for turn in range(1, 61):
        if turn % 5 == 1 and (fact := next(facts, None)) is not None:
            statement, question = fact
            ids = mmu.write("user", statement, importance=round(rng.uniform(0.5, 0.8), 2))
            pending.append((turn + rng.randint(12, 30), question, ids))
            mmu.assemble(statement)
        else:
            text = rng.choice(SMALL_TALK)
            mmu.write("user", text, importance=0.3)
            mmu.assemble(text)
        mmu.write("assistant", rng.choice(REPLIES), importance=0.2)
        for due, question, ids in [item for item in pending if item[0] == turn]:
            recorder.probe(question, ids)
            pending.remove((due, question, ids))
    for _, question, ids in pending:
        recorder.probe(question, ids)
    mmu.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

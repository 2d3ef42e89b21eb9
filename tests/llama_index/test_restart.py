"""A second process opening the same store continues the conversation and recalls what the first was told."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from llama_index.core.chat_engine import SimpleChatEngine

from llama_index_nexint import NexintMemory
from nexint_core import Tier
from tests.llama_index._support import FACT, RecordingLLM, small_talk

SECOND_PROCESS = """
import json, sys
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index_nexint import NexintMemory
from nexint_core import Tier
from tests.llama_index._support import ANSWER, QUESTION, RecordingLLM, small_talk, text_of, transcript_tokens

with NexintMemory.from_defaults(token_limit=400, store=sys.argv[1]) as memory:
    before = [m.content for m in memory.get_all()]
    llm = RecordingLLM()
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    for turn in range(40, 45):
        engine.chat(small_talk(turn))
    engine.chat(QUESTION)
    print(json.dumps({
        "before": before,
        "after": len(memory.get_all()),
        "recalled": ANSWER in text_of(llm.received[-1]),
        "tokens": max(transcript_tokens(r, memory.manager.tokenizer) for r in llm.received),
    }))
"""


@pytest.mark.parametrize("kind", ["directory", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_restart_second_process_continues_and_recalls(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: Path | str = tmp_path / "memory" if kind == "directory" else request.getfixturevalue("postgres_uri")
    sent = []
    with NexintMemory.from_defaults(token_limit=400, store=store) as memory:
        engine = SimpleChatEngine.from_defaults(llm=RecordingLLM(), memory=memory)
        for turn in range(40):
            message = FACT if turn == 3 else small_talk(turn)
            engine.chat(message)
            sent.append(message)
        assert [page.tier for page in memory.manager.store.scan() if page.content == FACT] == [Tier.SWAP]
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", SECOND_PROCESS, str(store)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    assert report["before"][::2] == sent  # every user message, in order, then the replies between them
    assert report["before"][1::2] == ["text " * 11 + "text"] * 40
    assert report["after"] == 2 * 46
    assert report["recalled"]
    assert report["tokens"] <= 400

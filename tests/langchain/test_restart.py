"""A second process opens the same store and continues the conversation the first one wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, messages_to_dict
from langgraph.checkpoint.memory import InMemorySaver

from langchain_nexint import NexintMiddleware
from tests.langchain.fakes import QUESTION, ScriptedChatModel, get_weather, turn_text

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 800

SECOND_PROCESS = """
import json, sys
from pathlib import Path
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, messages_from_dict
from langchain_nexint import NexintMiddleware
from tests.langchain.fakes import QUESTION, SECRET, ScriptedChatModel, get_weather

store, history = sys.argv[1], messages_from_dict(json.loads(Path(sys.argv[2]).read_text()))
middleware = NexintMiddleware(store=store, token_limit=int(sys.argv[3]))
before = len(middleware.manager_for("conversation"))
model = ScriptedChatModel()
agent = create_agent(model, tools=[get_weather], middleware=[middleware])
config = {"configurable": {"thread_id": "conversation"}}  # a stateless client resends its thread's history
state = agent.invoke({"messages": [*history, HumanMessage(QUESTION)]}, config)
assert state["messages"][-1].text == f"Your locker code is {SECRET}.", state["messages"][-1]
after = len(middleware.manager_for("conversation"))
assert after == before + 2, (before, after)  # only the new turn is written
middleware.close()
print("continued")
"""


@pytest.mark.parametrize("kind", ["directory", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_restart_a_second_process_continues_and_recalls(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: Path | str = tmp_path / "memory" if kind == "directory" else request.getfixturevalue("postgres_uri")
    middleware = NexintMiddleware(store=store, token_limit=BUDGET)
    agent = create_agent(
        ScriptedChatModel(), tools=[get_weather], middleware=[middleware], checkpointer=InMemorySaver()
    )
    config: Any = {"configurable": {"thread_id": "conversation"}}
    for turn in range(1, 41):
        state = agent.invoke({"messages": [HumanMessage(turn_text(turn, 1000))]}, config)
    pages = len(middleware.manager_for("conversation"))
    assert middleware.manager_for("conversation").usage()["swap"] > 0
    middleware.close()
    history = tmp_path / "history.json"
    history.write_text(json.dumps(messages_to_dict(state["messages"])))

    done = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, str(store), str(history), str(BUDGET)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "continued"

    reopened = NexintMiddleware(store=store, token_limit=BUDGET)
    manager = reopened.manager_for("conversation")
    assert len(manager) == pages + 2
    assert QUESTION in [page.content for page in manager.page_table if page.role == "user"]
    assert len(reopened.manager_for("another thread")) == 0  # threads apart, on the same store
    reopened.close()

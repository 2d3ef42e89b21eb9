"""One point of ``memos bench latency``: one memory, one history length, in a fresh process.

    python -m nexint_bench._latency_worker --impl nexint --turns 1000 --measure 200 --cap 120 --dir DIR

Fills the memory with ``--turns`` seeded turns (not timed), then times up to ``--measure`` turns, each
one writing a user and an assistant message and getting the context for the next user message. Prints
one JSON line: the latencies' p50 and p99, the process's peak RSS, the setup time and how many turns it
measured (fewer when ``--cap`` seconds ran out; filling the history has its own ``--setup-cap``).
Frameworks are imported here only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nexint_core.tokens import get_tokenizer

__all__ = [
    "IMPLS",
    "LIMIT_TOKENS",
    "MIN_TURNS",
    "Conversation",
    "Memory",
    "main",
    "make_memory",
    "measure",
    "percentile",
]

LIMIT_TOKENS = 2000  # every memory keeps at most this many tokens of history in the context it returns
MIN_TURNS = 3  # a point with fewer measured turns is extrapolated instead
PREFILL_BATCH = 1000  # turns per prefill batch (nexint: one write_many call each)
_CHUNK = 256  # turns generated per draw: a fixed size keeps the stream the same however it is read

Turn = tuple[str, str]

# The most frequent English words head the Zipf ranking, as in real conversation; made-up words follow.
_COMMON_WORDS = (
    "the of and to a in is it you that he was for on are with as i his they be at one have this from or had "
    "by not but what all were we when your can said there use an each which she do how their if will up other "
    "about out many then them these so some her would make like him into time has look two more write go see "
    "number no way could people my than first water been call who its now find long down day did get come "
    "made may part"
)
_COMMON = tuple(_COMMON_WORDS.split())
_ONSETS: tuple[str, ...] = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "y")
_ONSETS += ("br", "ch", "cl", "fr", "gr", "pl", "sh", "sp", "st", "th", "tr", "wh")
_VOWELS = ("a", "e", "i", "o", "u", "ea", "ou", "ai", "ee", "oa")
_CODAS = ("", "", "", "n", "r", "t", "s", "l", "nd", "st", "ck", "m", "ng", "rt", "ll")
_SUFFIXES = ("", "", "", "", "ing", "ed", "er", "ly", "tion", "s", "ness", "able")


class Conversation:
    """Seeded turns (a user and an assistant message of 20-120 words each) from a Zipf vocabulary of
    English-looking words. The same seed gives the same stream of turns, however it is read."""

    def __init__(self, seed: int = 0, *, vocabulary: int = 20_000, exponent: float = 1.05) -> None:
        picker = random.Random(seed)
        words: set[str] = set(_COMMON)
        made_up: list[str] = []
        while len(words) < vocabulary:
            syllables = picker.choice((1, 1, 2, 2, 3))
            word = "".join(
                picker.choice(_ONSETS) + picker.choice(_VOWELS) + picker.choice(_CODAS) for _ in range(syllables)
            )
            word += picker.choice(_SUFFIXES)
            if word not in words:
                words.add(word)
                made_up.append(word)
        self.words = [*_COMMON, *made_up]
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        weights = 1.0 / ranks**exponent
        self._cdf = np.cumsum(weights) / np.sum(weights)
        self._rng = np.random.default_rng(seed)
        self._buffer: deque[Turn] = deque()
        self._digest = hashlib.sha1()

    def _refill(self) -> None:
        lengths = self._rng.integers(20, 121, size=2 * _CHUNK)
        picks = np.searchsorted(self._cdf, self._rng.random(int(lengths.sum())))
        picks = np.minimum(picks, len(self.words) - 1)
        words = self.words
        messages: list[str] = []
        start = 0
        for length in lengths.tolist():
            text = " ".join([words[i] for i in picks[start : start + length].tolist()])
            messages.append(text[0].upper() + text[1:] + ".")
            start += length
        self._buffer.extend(zip(messages[0::2], messages[1::2], strict=True))

    def turn(self) -> Turn:
        """The next (user message, assistant message)."""
        if not self._buffer:
            self._refill()
        turn = self._buffer.popleft()
        for text in turn:
            self._digest.update(text.encode())
            self._digest.update(b"\0")
        return turn

    def digest(self) -> str:
        """SHA-1 of every message handed out so far: equal digests mean equal conversations."""
        return self._digest.hexdigest()

    def turns(self, n: int) -> Iterator[Turn]:
        """The next ``n`` turns."""
        for _ in range(n):
            yield self.turn()


class Memory(Protocol):
    """A conversation memory under test, driven the way an application drives it."""

    def prefill(self, turns: Sequence[Turn]) -> None:
        """Add earlier history (not timed); called with consecutive batches."""

    def finish_prefill(self) -> None:
        """Called once after the last prefill batch."""

    def turn(self, user: str, assistant: str, next_query: str) -> Any:
        """Write one turn, then return the context for ``next_query``."""

    def close(self) -> None:
        """Release files and connections."""


def _count_fn() -> Callable[[str], int]:
    tokenizer = get_tokenizer(None)
    return tokenizer.count


def _encode_fn() -> Callable[[str], list[int]]:
    tokenizer = get_tokenizer(None)
    return tokenizer.encode


class NexintMemory:
    """nexint's MemoryManager on a persistent store (SQLite + FAISS), paging in for every query, with the
    default embedder (WordLlama)."""

    EMBEDDER: str | None = None

    def __init__(self, workdir: Path) -> None:
        from nexint_core.manager import MemoryManager

        self.manager = MemoryManager(LIMIT_TOKENS, store=workdir / "nexint-store", embedder=self.EMBEDDER)

    def prefill(self, turns: Sequence[Turn]) -> None:
        self.manager.write_many([(role, text) for user, assistant in turns for role, text in _roles(user, assistant)])

    def finish_prefill(self) -> None:
        pass

    def turn(self, user: str, assistant: str, next_query: str) -> Any:
        # One turn, one durable transaction, as the adapters save a turn (LangChain's save_context, the
        # middleware, LlamaIndex's put_messages): both messages are acknowledged together.
        self.manager.write_many([("user", user), ("assistant", assistant)])
        return self.manager.assemble(next_query).text

    def close(self) -> None:
        self.manager.close()


def _roles(user: str, assistant: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("user", user), ("assistant", assistant)


class TokenBufferMemory:
    """LangChain classic ``ConversationTokenBufferMemory``; a fake chat model counts tokens with cl100k.

    The memory keeps the longest suffix of the messages whose counts sum to at most the limit (it appends,
    then pops the oldest until it fits, and a message's count does not depend on its neighbours). So
    saving only the shortest run of last turns whose messages exceed the limit ends in the state saving
    every turn would: the prefill keeps that run and saves it at the end.
    """

    def __init__(self, workdir: Path) -> None:
        from langchain_classic.memory import ConversationTokenBufferMemory
        from langchain_core.language_models.fake_chat_models import FakeListChatModel

        llm = FakeListChatModel(responses=["ok"], custom_get_token_ids=_encode_fn())
        with warnings.catch_warnings():  # deprecated in favour of agents with checkpointing; measured as it is
            warnings.simplefilter("ignore")
            self.memory = ConversationTokenBufferMemory(llm=llm, max_token_limit=LIMIT_TOKENS)
        self._tail: deque[tuple[Turn, int]] = deque()
        self._tail_tokens = 0

    def _tokens(self, user: str, assistant: str) -> int:
        from langchain_core.messages import AIMessage, HumanMessage

        llm = self.memory.llm
        return llm.get_num_tokens_from_messages([HumanMessage(user)]) + llm.get_num_tokens_from_messages(
            [AIMessage(assistant)]
        )

    def prefill(self, turns: Sequence[Turn]) -> None:
        for user, assistant in turns:
            tokens = self._tokens(user, assistant)
            self._tail.append(((user, assistant), tokens))
            self._tail_tokens += tokens
            while self._tail_tokens - self._tail[0][1] > LIMIT_TOKENS:  # the run without its oldest still overflows
                self._tail_tokens -= self._tail.popleft()[1]

    def finish_prefill(self) -> None:
        for (user, assistant), _ in self._tail:
            self.memory.save_context({"input": user}, {"output": assistant})
        self._tail.clear()

    def turn(self, user: str, assistant: str, next_query: str) -> Any:
        self.memory.save_context({"input": user}, {"output": assistant})
        return self.memory.load_memory_variables({})

    def close(self) -> None:
        pass


class TrimMessagesMemory:
    """LangChain ``trim_messages(strategy="last")`` over the whole history, as an app calls it each turn."""

    def __init__(self, workdir: Path) -> None:
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, trim_messages

        count = _count_fn()
        self.history: list[BaseMessage] = []
        self._human, self._ai, self._trim = HumanMessage, AIMessage, trim_messages
        self._counter: Callable[[list[BaseMessage]], int] = lambda messages: sum(
            count(message.text) for message in messages
        )

    def prefill(self, turns: Sequence[Turn]) -> None:
        for user, assistant in turns:
            self.history += [self._human(user), self._ai(assistant)]

    def finish_prefill(self) -> None:
        pass

    def turn(self, user: str, assistant: str, next_query: str) -> Any:
        self.history += [self._human(user), self._ai(assistant)]
        return self._trim(self.history, max_tokens=LIMIT_TOKENS, strategy="last", token_counter=self._counter)

    def close(self) -> None:
        pass


class ChatBufferMemory:
    """LlamaIndex ``ChatMemoryBuffer`` (an in-memory chat store) with a cl100k tokenizer."""

    def __init__(self, workdir: Path) -> None:
        from llama_index.core.base.llms.types import ChatMessage, MessageRole
        from llama_index.core.memory import ChatMemoryBuffer

        self.memory = ChatMemoryBuffer.from_defaults(token_limit=LIMIT_TOKENS, tokenizer_fn=_encode_fn())
        self._message, self._user, self._assistant = ChatMessage, MessageRole.USER, MessageRole.ASSISTANT

    def prefill(self, turns: Sequence[Turn]) -> None:
        for user, assistant in turns:
            self.memory.put(self._message(role=self._user, content=user))
            self.memory.put(self._message(role=self._assistant, content=assistant))

    def finish_prefill(self) -> None:
        pass

    def turn(self, user: str, assistant: str, next_query: str) -> Any:
        self.memory.put(self._message(role=self._user, content=user))
        self.memory.put(self._message(role=self._assistant, content=assistant))
        return self.memory.get(input=next_query)

    def close(self) -> None:
        pass


class LlamaMemory:
    """LlamaIndex ``Memory`` on its SQLAlchemy chat store over a SQLite file, with a cl100k tokenizer.

    The fastest configuration we found that keeps the same 2,000-token window as the other memories:

    - a SQLite file in the point's directory, persistent like nexint's store (``sqlite+aiosqlite``); the
      default ``:memory:`` database was not faster, and far slower at 10^5 turns in a trial;
    - our own async engine, so each connection runs ``journal_mode=WAL`` and ``synchronous=NORMAL``, the
      durability nexint's store runs with: the default rollback journal syncs each commit (about 4x slower
      per turn at 10^4 turns in a trial);
    - the default table and its indexes: an extra (key, status, timestamp, id) index did not help;
    - ``chat_history_token_ratio=1.0``: there are no memory blocks, so the whole limit holds chat history;
    - ``token_flush_size=200`` (the 10% its validator falls back to): ``from_defaults`` would otherwise
      pass 70% of a limit this small, and each flush would drop most of the window.

    Prefill writes all but the last turns straight to the chat store as archived messages, in batches
    (what putting them one by one ends with), then puts the last ``REPLAYED_TURNS`` turns one message at a
    time, so the active queue is built by the real flush logic (a test checks it equals putting every message).
    """

    REPLAYED_TURNS = 64

    def __init__(self, workdir: Path) -> None:
        import asyncio

        from llama_index.core.async_utils import asyncio_run
        from llama_index.core.base.llms.types import ChatMessage, MessageRole
        from llama_index.core.memory import Memory
        from llama_index.core.storage.chat_store.base_db import MessageStatus
        from sqlalchemy import event
        from sqlalchemy.ext.asyncio import create_async_engine

        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)  # the one loop every sync call of Memory runs on
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{workdir / 'llama-memory.db'}")

        def pragmas(connection: Any, record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        event.listen(self.engine.sync_engine, "connect", pragmas)
        self.memory = Memory.from_defaults(
            token_limit=LIMIT_TOKENS,
            tokenizer_fn=_encode_fn(),
            chat_history_token_ratio=1.0,
            token_flush_size=LIMIT_TOKENS // 10,
            async_engine=self.engine,
        )
        self._run, self._archived = asyncio_run, MessageStatus.ARCHIVED
        self._message, self._user, self._assistant = ChatMessage, MessageRole.USER, MessageRole.ASSISTANT
        self._pending: list[Turn] = []

    def _messages(self, turns: Sequence[Turn]) -> list[Any]:
        return [
            self._message(role=role, content=text)
            for user, assistant in turns
            for role, text in ((self._user, user), (self._assistant, assistant))
        ]

    def prefill(self, turns: Sequence[Turn]) -> None:
        self._pending += turns
        if len(self._pending) > self.REPLAYED_TURNS:
            archived = self._pending[: -self.REPLAYED_TURNS]
            self._pending = self._pending[-self.REPLAYED_TURNS :]
            store = self.memory.sql_store
            self._run(store.add_messages(self.memory.session_id, self._messages(archived), status=self._archived))

    def finish_prefill(self) -> None:
        for message in self._messages(self._pending):
            self.memory.put(message)
        self._pending = []

    def turn(self, user: str, assistant: str, next_query: str) -> Any:
        self.memory.put(self._message(role=self._user, content=user))
        self.memory.put(self._message(role=self._assistant, content=assistant))
        return self.memory.get()

    def close(self) -> None:
        import asyncio

        self._run(self.engine.dispose())
        asyncio.set_event_loop(None)
        self._loop.close()


class HashedNexintMemory(NexintMemory):
    """nexint as above with the hashed embedder (the default before WordLlama)."""

    EMBEDDER = "hashing"


IMPLS: dict[str, Callable[[Path], Memory]] = {
    "nexint": NexintMemory,
    "nexint-hashing": HashedNexintMemory,
    "ctbm": TokenBufferMemory,
    "trim": TrimMessagesMemory,
    "chatbuffer": ChatBufferMemory,
    "memory": LlamaMemory,
}


def make_memory(impl: str, workdir: Path) -> Memory:
    """A fresh memory of this implementation, keeping any files under ``workdir``."""
    try:
        factory = IMPLS[impl]
    except KeyError:
        raise ValueError(f"unknown implementation {impl!r}; known: {', '.join(IMPLS)}") from None
    return factory(workdir)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation, as numpy's default)."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def measure(
    impl: str,
    *,
    turns: int,
    measure_turns: int,
    cap: float,
    seed: int,
    workdir: Path,
    started: float | None = None,
    setup_cap: float = 600.0,
) -> dict[str, Any]:
    """Fill a fresh memory with ``turns`` turns within ``setup_cap`` seconds from ``started`` (default: now),
    run one untimed warm-up turn, then time up to ``measure_turns`` turns within ``cap`` seconds. Returns the
    point as a JSON-ready dict.

    Filling the history is preparation, not what is measured: it has its own limit. A turn is not started
    when the last one, run again, would end past the cap; a fill past its limit stops early.
    """
    started = time.perf_counter() if started is None else started
    deadline = started + setup_cap
    conversation = Conversation(seed)
    memory = make_memory(impl, workdir)
    latencies: list[float] = []
    prefilled, prefill_s = 0, 0.0
    try:
        while prefilled < turns and time.perf_counter() < deadline:
            batch = list(conversation.turns(min(PREFILL_BATCH, turns - prefilled)))
            start = time.perf_counter()
            memory.prefill(batch)
            if prefilled + len(batch) == turns:
                memory.finish_prefill()
            prefill_s += time.perf_counter() - start
            prefilled += len(batch)
        last, warmed = 0.0, False
        if prefilled == turns and time.perf_counter() < deadline:
            user, assistant = conversation.turn()
            following = conversation.turn()
            start = time.perf_counter()
            memory.turn(user, assistant, following[0])  # warm-up: first-call costs (lazy imports, caches)
            last, warmed = time.perf_counter() - start, True
            user, assistant = following
        setup_s = time.perf_counter() - started
        deadline = time.perf_counter() + cap
        if warmed:
            for _ in range(measure_turns):
                if time.perf_counter() + last > deadline:
                    break
                following = conversation.turn()
                start = time.perf_counter()
                memory.turn(user, assistant, following[0])
                last = time.perf_counter() - start
                latencies.append(last)
                user, assistant = following
    finally:
        memory.close()
    return {
        "impl": impl,
        "history_turns": turns,
        "prefilled_turns": prefilled,
        "measured_turns": len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1000, 4) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 4) if latencies else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "setup_s": round(setup_s, 3),
        "prefill_s": round(prefill_s, 3),
        "measure_s": round(sum(latencies), 3),
        "messages_sha1": conversation.digest(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--impl", required=True, choices=sorted(IMPLS))
    parser.add_argument("--turns", type=int, required=True, help="history length, in turns, before measuring")
    parser.add_argument("--measure", type=int, default=200, help="turns to time at most")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds for the timed turns")
    parser.add_argument("--setup-cap", type=float, default=600.0, help="seconds for filling the history")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", required=True, help="a directory for the memory's files")
    args = parser.parse_args(argv)
    row = measure(
        args.impl,
        turns=args.turns,
        measure_turns=args.measure,
        cap=args.cap,
        setup_cap=args.setup_cap,
        seed=args.seed,
        workdir=Path(args.dir),
        started=started,
    )
    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``memos`` command line: run a query, replay and compare sessions, inspect a store.

Every failure prints ``[ERROR] <message>`` on stderr and exits non-zero, before anything is written.
``inspect`` and ``log`` open a store read-only; ``run`` records its page-ins in the store, unless the store
cannot be written (a read-only mount, a snapshot): then it runs read-only and records nothing.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn, TextIO

from nexint_core.assembly import AssembledPrompt
from nexint_core.clock import SystemClock, format_time
from nexint_core.config import PolicyConfig, resolve_policy
from nexint_core.demo import DemoClock, fill_demo_store
from nexint_core.embedders import EMBEDDER_NAMES, content_words, stem
from nexint_core.errors import InvalidArgument, NexintError, StoreReadOnly
from nexint_core.events import Action, select_events
from nexint_core.importers import import_file
from nexint_core.manager import MemoryManager
from nexint_core.pages import Tier
from nexint_core.replay import compare_runs, render_run, replay
from nexint_core.session import list_sessions, load_session, resolve_session
from nexint_core.stores import StoreBase, is_postgres_uri, open_store

__all__ = ["COMMAND_GROUP", "main", "offline_response"]

COMMAND_GROUP = "nexint.commands"  # entry points that add a ``memos`` subcommand (``memos bench``)

_ID = re.compile(r"\b[A-Z][A-Z0-9]{1,7}-\d{5,6}\b")
DEMO_POLICY = PolicyConfig(name="demo", memory_budget_tokens=2048, cite_ids=True)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow the ``[ERROR]`` convention."""

    def error(self, message: str) -> NoReturn:
        print(f"[ERROR] {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _home() -> Path:
    return Path(os.environ.get("NEXINT_HOME", Path.home() / ".nexint"))


class _Progress:
    """A progress bar on a terminal's stderr; silent when stderr is piped."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.enabled = self.stream.isatty()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        percent = done * 100 // total
        if percent != self._shown:
            self._shown = percent
            bar = "#" * (percent // 4)
            self.stream.write(f"\r{self.label} [{bar:<25}] {percent:3d}% ({done}/{total})")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()


# -- run -------------------------------------------------------------------------------------------


def offline_response(prompt: AssembledPrompt) -> str:
    """What ``memos run`` answers with no LLM: the prompt's memories that share a content word with the query."""
    wanted = {stem(word) for word in content_words(prompt.query)}
    cited = []
    for section in prompt.sections:
        if section.name not in ("core", "summaries", "archive", "recent"):
            continue
        for item in section.items:
            if wanted & {stem(word) for word in content_words(item.text)}:  # recent turns carry no id label
                cited.append(item.text if section.name != "recent" else f"[{item.page_ids[0]}] {item.text}")
    return "From memory: " + " ".join(cited) if cited else "No stored memory answers this."


def _llm_responder(spec: str) -> Callable[[Sequence[dict[str, str]]], str]:
    """A responder from an installed ``nexint.llm`` entry point (the LangChain adapter provides one).

    Whatever stops it (no adapter, a malformed spec, an unknown or uninstalled provider) is one
    :class:`InvalidArgument` naming ``--llm`` and the fix, raised before any store is opened.
    """
    found = list(entry_points(group="nexint.llm"))
    if not found:
        raise InvalidArgument(f"--llm {spec} needs an LLM adapter: pip install 'nexint[langchain]'")
    try:
        factory = found[0].load()
    except ImportError as exc:
        raise InvalidArgument(
            f"--llm {spec} needs the LangChain adapter, which cannot be imported ({exc}): "
            "pip install 'nexint[langchain]'"
        ) from None
    try:
        responder: Callable[[Sequence[dict[str, str]]], str] = factory(spec)
    except NexintError as exc:
        raise InvalidArgument(f"--llm {spec}: {exc}") from None
    except (ImportError, ValueError) as exc:  # an adapter that does not translate its errors
        raise InvalidArgument(f"--llm {spec}: {' '.join(str(exc).split())}") from None
    return responder


def _open_store(path: str, *, read_only: bool) -> StoreBase:
    """An existing store: a directory or a ``postgresql://`` URI (never created here). With ``read_only`` it is
    opened read-only; otherwise a store directory that cannot be written is opened read-only, and said so."""
    try:
        return open_store(path, create=False, read_only=read_only)
    except StoreReadOnly:
        if read_only or is_postgres_uri(path):
            raise
    print(f"[NOTE] {path} cannot be written: opened read-only, nothing of this run is recorded", file=sys.stderr)
    return open_store(path, create=False, read_only=True)


def _manager(args: argparse.Namespace, config: PolicyConfig, *, read_only: bool = False) -> MemoryManager:
    """The manager a command works on: the given store (read-only if asked, or if it cannot be written), or the
    bundled demo store in memory."""
    if args.store:
        store = _open_store(args.store, read_only=read_only)
        try:
            return MemoryManager.from_policy(
                config, store=store, namespace=args.namespace, clock=SystemClock(), read_only=read_only
            )
        except BaseException:
            store.close()
            raise
    clock = DemoClock()
    mmu = MemoryManager.from_policy(config, clock=clock, namespace=args.namespace)
    fill_demo_store(mmu, clock)
    return mmu


def _policy(args: argparse.Namespace) -> PolicyConfig:
    if args.policy is None:
        return DEMO_POLICY if not args.store else PolicyConfig()
    config = resolve_policy(args.policy)
    if config.name == args.policy:  # an eviction name: keep the default budgets
        base = DEMO_POLICY if not args.store else PolicyConfig()
        return base.model_copy(update={"name": config.eviction, "eviction": config.eviction})
    return config


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    if not args.query.strip():
        raise InvalidArgument("empty query")
    if args.budget is not None and args.budget <= 0:
        raise InvalidArgument(f"--budget must be a positive number of tokens, got {args.budget}")
    # The run reports which memories the response cites, so recalled lines carry their ids.
    config = _policy(args).model_copy(update={"cite_ids": True})
    responder = _llm_responder(args.llm) if args.llm else None
    with _manager(args, config) as mmu:
        core = len(mmu.core_pages())
        prompt = mmu.assemble(args.query, args.budget)
    if responder is not None:
        response = responder(list(prompt.messages))
        in_prompt = set(prompt.page_ids)
        cited = [page_id for page_id in dict.fromkeys(_ID.findall(response)) if page_id in in_prompt]
    else:
        response = offline_response(prompt)
        cited = list(dict.fromkeys(_ID.findall(response)))
    if args.json:
        described = prompt.to_dict()
        if args.show_prompt:
            described["text"] = prompt.text
        report = {
            "core_loaded": core,
            "promoted": list(prompt.promoted),
            "memory_tokens": prompt.memory_tokens,
            "response": response,
            "response_ids": cited,
            "prompt": described,
        }
        print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
        return 0
    print(f"[CORE] {core} memories loaded", file=out)
    print(f"[PAGING] {len(prompt.promoted)} memories promoted", file=out)
    print(f"[PROMPT] memory_tokens={prompt.memory_tokens}", file=out)
    if args.show_prompt:
        print(prompt.text, file=out)
    print(f"[RESULT] response includes {', '.join(cited) if cited else 'no memory ids'}", file=out)
    return 0


# -- replay and sessions ---------------------------------------------------------------------------


def _session_dirs(args: argparse.Namespace) -> list[Path]:
    return [Path(args.dir)] if getattr(args, "dir", None) else [_home() / "sessions"]


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    if args.policy and args.compare:
        raise InvalidArgument("give --policy or --compare, not both")
    policies: list[str | None] = (
        [name.strip() for name in args.compare.split(",") if name.strip()] if args.compare else [args.policy]
    )
    if args.compare and len(policies) < 2:
        raise InvalidArgument(f"--compare needs at least two policies, got {args.compare!r}")
    session = load_session(resolve_session(args.session, _session_dirs(args)))
    for policy in policies:  # every policy is checked before any replay runs
        if policy is not None:
            resolve_policy(policy)
    events = Path(args.events) if args.events else None
    if events is not None and not events.parent.is_dir():
        raise InvalidArgument(f"cannot write the event log to {events}: {events.parent} is not a directory")
    if args.budget is not None and args.budget <= 0:
        raise InvalidArgument(f"--budget must be a positive number of tokens, got {args.budget}")
    runs = [
        replay(session, policy, budget=args.budget, progress=_Progress(f"replay {policy or 'recorded'}"))
        for policy in policies
    ]
    if events is not None:
        try:
            with open(events, "w", encoding="utf-8") as handle:
                for run in runs:
                    for event in run.events:
                        handle.write(json.dumps({"policy": run.policy, **event.to_dict()}, sort_keys=True) + "\n")
        except OSError as exc:
            raise InvalidArgument(f"cannot write the event log to {events}: {exc.strerror or exc}") from None
    if args.json:
        report = {
            "session": session.name,
            "runs": [
                {**run.summary(), "turns": [_turn_dict(turn) for turn in run.turns]}
                if not args.compare
                else run.summary()
                for run in runs
            ],
        }
        print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
    elif args.compare:
        print("\n".join(compare_runs(runs)), file=out)
    else:
        print("\n".join(render_run(runs[0])), file=out)
    return 0


def _turn_dict(turn: Any) -> dict[str, Any]:
    return {
        "turn": turn.turn,
        "kind": turn.kind,
        "text": turn.text,
        "promoted": list(turn.promoted),
        "evicted": turn.evicted,
        "memory_tokens": turn.memory_tokens,
        "stable_prefix_tokens": turn.stable_prefix_tokens,
        "usage": dict(turn.usage),
        "events": list(turn.events),
        "left_out": [{"page_id": out.page_id, "section": out.section, "reason": out.reason} for out in turn.left_out],
        "hit": turn.hit,
    }


def cmd_sessions(args: argparse.Namespace, out: TextIO) -> int:
    for path in list_sessions(_session_dirs(args)):
        try:
            session = load_session(path)
        except NexintError as exc:  # one broken file does not hide the others
            print(f"{path.stem:<24} unreadable: {exc}", file=out)
            continue
        counts = session.counts()
        print(
            f"{session.name:<24} {counts['message']:>6} messages {counts['query']:>5} queries "
            f"{counts['probe']:>4} probes  policy {session.header.policy.label}  {path}",
            file=out,
        )
    return 0


# -- store inspection and import -------------------------------------------------------------------


def cmd_inspect(args: argparse.Namespace, out: TextIO) -> int:
    tier = Tier(args.tier) if args.tier else None
    with _manager(args, _policy(args), read_only=True) as mmu:
        pages = [page for page in mmu.page_table if tier is None or page.tier is tier]
        rows = [
            {
                "id": page.id,
                "tier": str(page.tier),
                "tokens": page.tokens,
                "importance": page.importance,
                "last_used": format_time(page.last_used) if page.last_used is not None else None,
                "use_count": page.use_count,
                "quarantined": page.quarantined,
            }
            for page in pages
        ]
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return 0
    print(f"{'id':<12} {'tier':<8} {'tokens':>6} {'importance':>10} {'last used':<21} {'uses':>5}", file=out)
    for row in rows:
        flag = "  quarantined" if row["quarantined"] else ""
        print(
            f"{row['id']:<12} {row['tier']:<8} {row['tokens']:>6} {row['importance']:>10.2f} "
            f"{row['last_used'] or '-':<21} {row['use_count']:>5}{flag}",
            file=out,
        )
    return 0


def cmd_log(args: argparse.Namespace, out: TextIO) -> int:
    action = Action(args.action) if args.action else None
    config = _policy(args)  # checked even when only the store's log is read
    if args.store:
        store = _open_store(args.store, read_only=True)
        try:
            events = store.events(args.namespace)
        finally:
            store.close()
    else:
        with _manager(args, config) as mmu:
            events = list(mmu.events)
    selected = select_events(events, action=action, memory_id=args.id)
    if args.limit is not None:
        selected = selected[-args.limit :]
    for event in selected:
        if args.json:
            print(json.dumps(event.to_dict(), sort_keys=True), file=out)
        else:
            moved = f"{event.tier_from or '-'}->{event.tier_to or '-'}"
            print(
                f"{event.seq:>7} {format_time(event.time)} {event.memory_id:<12} {event.action.value:<10} "
                f"{moved:<15} {event.tokens:>5}  {event.reason}",
                file=out,
            )
    return 0


def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    config = resolve_policy(args.policy) if args.policy else PolicyConfig()
    if args.embedder:
        config = config.model_copy(update={"embedder": args.embedder})
    sessions_dir = Path(args.session_dir) if args.session_dir else _home() / "sessions"
    results = import_file(
        Path(args.file),
        store=args.store,
        sessions_dir=sessions_dir,
        policy=config,
        format=args.format,
        limit=args.limit,
        namespace=args.namespace,
        progress=_Progress(f"import {Path(args.file).name}"),
    )
    for result in results:
        where = f"{args.store} (namespace {result.namespace})"
        session = f"session {result.session_path}"
        if not result.messages:
            added = f"already imported ({result.already} messages), nothing added to {where}"
        else:
            before = f", after {result.already} imported before" if result.already else ""
            added = f"{result.messages} messages, {result.pages} pages, {result.probes} probes into {where}{before}"
        print(f"[IMPORT] {result.name}: {added}; {session}", file=out)
    return 0


def cmd_reindex(args: argparse.Namespace, out: TextIO) -> int:
    from nexint_core.stores.reindex import reindex

    if is_postgres_uri(args.store):
        raise InvalidArgument("memos reindex re-embeds a store directory; a PostgreSQL store cannot be re-embedded yet")
    report = reindex(args.store, args.embedder, progress=_Progress(f"reindex {args.store}"))
    if not report.changed:
        print(f"[REINDEX] {report.path} already uses {report.new_embedder}: nothing to do", file=out)
    else:
        print(
            f"[REINDEX] {report.pages} pages of {report.path} re-embedded with {report.new_embedder} "
            f"(was {report.old_embedder}) in {report.seconds:.1f} s",
            file=out,
        )
    return 0


# -- entry point -----------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


# Commands that ship with nexint in another package: what ``memos NAME`` says when that package is missing.
_SHIPPED_COMMANDS = {"bench": "the nexint_bench package, which ships with nexint: reinstall nexint"}


def _add_installed_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    """A subcommand for each ``nexint.commands`` entry point (``memos bench`` is one).

    The entry point names a hook ``hook(parser, parser_class)`` that fills in the subcommand's parser (the
    first line of its docstring is the one-line help). A shipped command whose package is missing or cannot
    be imported still parses, and fails with ``[ERROR]`` saying what to install.
    """
    for entry in entry_points(group=COMMAND_GROUP):
        if entry.name in commands.choices:  # a built-in command, or an earlier entry point, keeps its name
            continue
        try:
            hook = entry.load()
        except ImportError as exc:
            _add_unavailable(commands, entry.name, f" (cannot import {entry.value}: {exc})")
            continue
        summary = (inspect.getdoc(hook) or "").split("\n", 1)[0]
        hook(commands.add_parser(entry.name, help=summary or None), _Parser)
    for name in _SHIPPED_COMMANDS:
        if name not in commands.choices:
            _add_unavailable(commands, name)


def _add_unavailable(commands: argparse._SubParsersAction[_Parser], name: str, detail: str = "") -> None:
    """``memos NAME ...`` parses whatever follows, then fails with one ``[ERROR]`` line."""
    message = f"memos {name} needs {_SHIPPED_COMMANDS.get(name, 'the package that provides it')}{detail}"

    def unavailable(args: argparse.Namespace, out: TextIO) -> int:
        raise InvalidArgument(message)

    sub = commands.add_parser(name)
    sub.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    sub.set_defaults(handler=unavailable)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="memos", description="nexint: virtual memory for LLM context windows")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def store_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--store", help="a store directory (default: the bundled demo store, in memory)")
        sub.add_argument("--namespace", default="default", help="the namespace to read (default: default)")
        sub.add_argument("--policy", help="a policy file (.yaml/.json) or an eviction policy name")

    run = commands.add_parser("run", help="page in memories for a query and assemble the prompt")
    run.add_argument("--query", required=True)
    store_options(run)
    run.add_argument("--budget", type=int, help="prompt budget in tokens (default: the memory budget)")
    run.add_argument("--llm", help="provider:model, sent through LangChain's init_chat_model")
    run.add_argument("--show-prompt", action="store_true", help="print the assembled prompt")
    run.add_argument("--json", action="store_true", help="print a JSON report instead of lines")
    run.set_defaults(handler=cmd_run)

    rep = commands.add_parser("replay", help="re-run a recorded session under one or more policies")
    rep.add_argument("--session", required=True, help="a session name or a .jsonl path")
    rep.add_argument("--policy", help="a policy file or eviction name (default: the recorded policy)")
    rep.add_argument("--compare", help="comma-separated policies to run side by side")
    rep.add_argument("--dir", help="where named sessions are looked up (default: $NEXINT_HOME/sessions)")
    rep.add_argument("--budget", type=int, help="replay at this memory budget (token budgets scale with it)")
    rep.add_argument("--events", help="write the event log(s) to this JSONL file")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(handler=cmd_replay)

    ins = commands.add_parser("inspect", help="show the page table")
    store_options(ins)
    ins.add_argument("--tier", choices=[tier.value for tier in Tier])
    ins.add_argument("--json", action="store_true")
    ins.set_defaults(handler=cmd_inspect)

    log = commands.add_parser("log", help="show paging events")
    store_options(log)
    log.add_argument("--action", choices=[action.value for action in Action])
    log.add_argument("--id", help="only events of this memory id")
    log.add_argument("--limit", type=_positive, help="only the last N events")
    log.add_argument("--json", action="store_true")
    log.set_defaults(handler=cmd_log)

    imp = commands.add_parser("import", help="import a LoCoMo JSON or a chat JSONL into a store and a session")
    imp.add_argument("file")
    imp.add_argument("--store", required=True, help="the store directory (created if missing)")
    imp.add_argument("--format", choices=["auto", "locomo", "chat"], default="auto")
    imp.add_argument("--policy", help="the policy recorded in the session (a file or an eviction name)")
    imp.add_argument("--session-dir", help="where sessions are written (default: $NEXINT_HOME/sessions)")
    imp.add_argument("--limit", type=_positive, help="import at most N conversations")
    imp.add_argument(
        "--namespace",
        help="the namespace of a chat JSONL (default: default), or the prefix of each LoCoMo conversation's "
        "namespace (NAME/sample_id)",
    )
    imp.add_argument("--embedder", choices=EMBEDDER_NAMES, help="the embedder of a new store (default: wordllama)")
    imp.set_defaults(handler=cmd_import)

    rei = commands.add_parser("reindex", help="re-embed every page of a store directory with another embedder")
    rei.add_argument("--store", required=True, help="the store directory (no other process may have it open)")
    rei.add_argument("--embedder", required=True, choices=EMBEDDER_NAMES)
    rei.set_defaults(handler=cmd_reindex)

    ses = commands.add_parser("sessions", help="list recorded sessions")
    ses.add_argument("--dir", help="a sessions directory (default: $NEXINT_HOME/sessions)")
    ses.set_defaults(handler=cmd_sessions)

    _add_installed_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``memos``; returns the exit status."""
    out = out if out is not None else sys.stdout
    args = _parser().parse_args(argv)
    try:
        status: int = args.handler(args, out)
        out.flush()
        return status
    except NexintError as exc:
        print(f"[ERROR] {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (memos log | head): not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("[ERROR] interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

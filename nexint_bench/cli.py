"""``memos bench``: the ``recall``, ``latency``, ``chat`` and ``generate`` subcommands, added to ``memos`` through
the ``nexint.commands`` entry point, and the same command without ``memos`` (``python -m nexint_bench``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from nexint_core.errors import NexintError

__all__ = ["add_bench_commands", "main"]


def add_bench_commands(bench: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """recall, per-turn cost and long-chat benchmarks against the frameworks' memories

    Adds the ``recall``, ``latency``, ``chat`` and ``generate`` subcommands to the ``memos bench`` parser (the
    first line above is that command's help in ``memos --help``). Each subcommand sets
    ``handler(args, out) -> int``; bad input raises a ``NexintError``.
    """
    from nexint_bench import chat, latency, recall, synthetic

    commands = bench.add_subparsers(dest="bench_command", required=True, parser_class=parser_class)

    recall.add_arguments(commands.add_parser("recall", help="evidence recall on LoCoMo-format data"))
    latency.add_arguments(commands.add_parser("latency", help="per-turn cost as history grows"))
    chat.add_arguments(commands.add_parser("chat", help="what the model receives in long chats with tool calls"))
    synthetic.add_arguments(
        commands.add_parser("generate", help="write a seeded synthetic recall set (LoCoMo format) to a file")
    )


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow ``memos``'s ``[ERROR]`` convention."""

    def error(self, message: str) -> NoReturn:
        print(f"[ERROR] {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``memos bench ARGV`` (``main(["recall", "--data", ...])``); returns the exit status.

    Output, errors and exit statuses are those of ``memos bench``: every failure prints one
    ``[ERROR] <message>`` line on stderr and returns non-zero.
    """
    out = out if out is not None else sys.stdout
    parser = _Parser(prog="memos bench")
    add_bench_commands(parser, _Parser)
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args, out)
        out.flush()
        return status
    except NexintError as exc:
        print(f"[ERROR] {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (| head): not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("[ERROR] interrupted", file=sys.stderr)
        return 130

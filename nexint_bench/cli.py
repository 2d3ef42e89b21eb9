"""``memos bench``: the argument parsers of ``memos bench recall``, ``latency`` and ``generate``."""

from __future__ import annotations

import argparse

__all__ = ["add_bench_commands"]


def add_bench_commands(bench: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the ``recall``, ``latency`` and ``generate`` subcommands to the ``memos bench`` parser.

    Each subcommand sets ``handler(args, out) -> int``; bad input raises a ``NexintError``.
    """
    from nexint_bench import latency, recall, synthetic

    commands = bench.add_subparsers(dest="bench_command", required=True, parser_class=parser_class)

    recall.add_arguments(commands.add_parser("recall", help="evidence recall on LoCoMo-format data"))
    latency.add_arguments(commands.add_parser("latency", help="per-turn cost as history grows"))
    synthetic.add_arguments(
        commands.add_parser("generate", help="write a seeded synthetic recall set (LoCoMo format) to a file")
    )

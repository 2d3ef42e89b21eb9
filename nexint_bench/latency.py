"""``memos bench latency``: the per-turn cost of conversation memories as the history grows.

A turn writes a user and an assistant message (20-120 words each, seeded) and gets the context for the
next user message, under a 2,000-token limit counted with cl100k. Each point (one memory, one history
length) runs in a fresh process, :mod:`nexint_bench._latency_worker`, which fills the history untimed,
runs one untimed warm-up turn, then times up to ``--turns-per-point`` turns within ``--cap`` seconds
(filling the history is not timed and has its own limit, ``--setup-cap``).

A point that cannot be measured within the caps (predicted from the shorter histories, cut short, or
killed for overrunning) is extrapolated from the impl's two longest measured histories by a power law
fitted in log-log space, and marked ``extrapolated``. Timed turns add to the history, so the fit takes a
measured point's history at its middle timed turn. When only one history was measured, the geometric
mean of it and the failed length is measured as an ``anchor`` point so there is a curve to follow.

    memos bench latency --lengths 100,1000,10000 --cap 60 --json lat.json --plot lat.png
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from nexint_bench._latency_worker import IMPLS, LIMIT_TOKENS, MIN_TURNS
from nexint_bench._options import positive_ints
from nexint_core.errors import InvalidArgument

__all__ = [
    "IMPL_NAMES",
    "Point",
    "WorkerResult",
    "add_arguments",
    "bench",
    "extrapolate",
    "fit_power_law",
    "kept_points",
    "machine_info",
    "parse_impls",
    "parse_lengths",
    "render_table",
    "run",
    "run_point",
    "write_plot",
]

IMPL_NAMES: tuple[str, ...] = tuple(IMPLS)
DEFAULT_LENGTHS = "100,1000,10000,100000"
DEFAULT_SETUP_CAP = 600.0  # seconds to fill a history (not measured) before the timed turns
_MAX_ANCHORS = 2  # extra lengths tried per impl to get a second measured point


@dataclass(slots=True)
class Point:
    """One row of the results: an impl at a history length, measured or extrapolated."""

    impl: str
    history_turns: int
    p50_ms: float | None
    p99_ms: float | None
    peak_rss_mb: float | None
    extrapolated: bool
    measured_turns: int
    setup_s: float | None
    anchor: bool = False  # measured at a length not asked for, to fit the curve
    note: str = ""  # why the point was extrapolated

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True, frozen=True)
class WorkerResult:
    """What a worker process gave: its row, or why there is none (``crashed`` when it failed, not timed out)."""

    row: dict[str, Any] | None
    reason: str = ""
    crashed: bool = False


# -- parsing ---------------------------------------------------------------------------------------


def parse_impls(text: str) -> list[str]:
    """``--impls``: comma-separated names of known memories, in the order given, without repeats."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise InvalidArgument(f"--impls names no memory; choose from {', '.join(IMPL_NAMES)}")
    unknown = [name for name in names if name not in IMPL_NAMES]
    if unknown:
        raise InvalidArgument(f"unknown memory {unknown[0]!r} in --impls; choose from {', '.join(IMPL_NAMES)}")
    return list(dict.fromkeys(names))


def parse_lengths(text: str) -> list[int]:
    """``--lengths``: comma-separated positive history lengths in turns, returned ascending without repeats."""
    return positive_ints(text, "--lengths", "turns")


# -- extrapolation ---------------------------------------------------------------------------------


def fit_power_law(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """``(coefficient, exponent)`` of ``y = c * x**k`` through the two points of largest ``x`` (log-log line).

    The exponent is floored at 0: a memory's per-turn cost does not fall as its history grows, so a
    falling slope between two points is noise and the cost is held flat.
    """
    usable = sorted((x, y) for x, y in points if x > 0 and y > 0)
    if len(usable) < 2 or usable[-1][0] == usable[-2][0]:
        raise InvalidArgument(f"a power-law fit needs two positive points at different x, got {list(points)}")
    (x1, y1), (x2, y2) = usable[-2], usable[-1]
    exponent = max(0.0, math.log(y2 / y1) / math.log(x2 / x1))
    return y2 / x2**exponent, exponent


def extrapolate(points: Sequence[tuple[float, float]], x: float) -> float:
    """``y`` at ``x`` on the power law through the two points of largest ``x``."""
    coefficient, exponent = fit_power_law(points)
    return float(coefficient * x**exponent)


# -- running points --------------------------------------------------------------------------------


def worker_timeout(cap: float, setup_cap: float = DEFAULT_SETUP_CAP) -> float:
    """Seconds before a worker is killed: both caps, a margin for a turn it could not stop, and start-up."""
    return setup_cap + cap + max(10.0, cap / 4) + 5.0


def run_point(
    impl: str,
    turns: int,
    *,
    measure_turns: int,
    cap: float,
    seed: int,
    setup_cap: float = DEFAULT_SETUP_CAP,
    timeout: float | None = None,
) -> WorkerResult:
    """Measure one point in a fresh Python process; kill it after ``timeout`` seconds (default from the caps)."""
    timeout = worker_timeout(cap, setup_cap) if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix="nexint-latency-") as workdir:
        command = [
            sys.executable,
            "-m",
            "nexint_bench._latency_worker",
            f"--impl={impl}",
            f"--turns={turns}",
            f"--measure={measure_turns}",
            f"--cap={cap!r}",
            f"--setup-cap={setup_cap!r}",
            f"--seed={seed}",
            f"--dir={workdir}",
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return WorkerResult(None, f"the worker overran the {cap:g} s cap and was killed after {timeout:.0f} s")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        detail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return WorkerResult(None, f"the worker failed (exit status {done.returncode}): {detail}", crashed=True)
    try:
        row = json.loads(lines[-1])
    except json.JSONDecodeError:
        return WorkerResult(None, f"the worker printed no JSON row: {lines[-1][:200]!r}", crashed=True)
    if not isinstance(row, dict):
        return WorkerResult(None, f"the worker printed no JSON row: {lines[-1][:200]!r}", crashed=True)
    return WorkerResult(row)


Runner = Callable[..., WorkerResult]


def _series(rows: Sequence[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    """``(history, value)`` of measured rows for a fit. Timed turns add to the history (after the warm-up turn,
    the i-th timed turn runs on ``history + 1 + i`` turns), so a row's history is taken at its middle timed turn:
    at 100 turns with 200 timed, the median turn saw about 200, which matters for a cost that grows."""
    return [(int(r["history_turns"]) + (int(r["measured_turns"]) + 1) / 2, float(r[key])) for r in rows]


def _predicted_overrun(
    rows: Sequence[dict[str, Any]], turns: int, cap: float, setup_cap: float = DEFAULT_SETUP_CAP
) -> str | None:
    """Why a point at ``turns`` would not fit its caps, judged from the impl's measured rows; None if it may."""
    if not rows:
        return None
    last = rows[-1]
    prefill = float(last["prefill_s"]) * turns / int(last["history_turns"])  # filling is linear in the history
    fixed = max(0.0, float(last["setup_s"]) - float(last["prefill_s"]))  # start-up, imports, warm-up turn
    per_turn = float(last["p50_ms"]) / 1000
    if len(rows) >= 2:
        per_turn = max(per_turn, extrapolate(_series(rows, "p50_ms"), turns) / 1000)
    if fixed + prefill + per_turn > setup_cap:  # the fill, start-up and the warm-up turn
        return f"predicted {fixed + prefill:,.0f} s to fill the history, over the {setup_cap:g} s setup cap"
    if per_turn * MIN_TURNS > cap:
        return (
            f"predicted {per_turn * MIN_TURNS:,.0f} s for {MIN_TURNS} turns from the shorter histories, "
            f"over the {cap:g} s cap"
        )
    return None


def _measured(row: dict[str, Any], *, anchor: bool = False) -> Point:
    return Point(
        impl=row["impl"],
        history_turns=int(row["history_turns"]),
        p50_ms=row["p50_ms"],
        p99_ms=row["p99_ms"],
        peak_rss_mb=row["peak_rss_mb"],
        extrapolated=False,
        measured_turns=int(row["measured_turns"]),
        setup_s=row["setup_s"],
        anchor=anchor,
    )


def _extrapolated(
    impl: str, turns: int, rows: Sequence[dict[str, Any]], note: str, row: dict[str, Any] | None
) -> Point:
    p50 = p99 = None
    if len({r["history_turns"] for r in rows}) >= 2:
        p50 = round(extrapolate(_series(rows, "p50_ms"), turns), 4)
        p99 = round(extrapolate(_series(rows, "p99_ms"), turns), 4)
        p99 = max(p99, p50)  # fitted apart, the two curves can cross; a p99 is never below its p50
    else:
        note += "; fewer than two measured lengths to extrapolate from"
    return Point(
        impl=impl,
        history_turns=turns,
        p50_ms=p50,
        p99_ms=p99,
        peak_rss_mb=None,
        extrapolated=True,
        measured_turns=int(row["measured_turns"]) if row else 0,
        setup_s=row["setup_s"] if row else None,
        note=note,
    )


def _describe(point: Point) -> str:
    if point.extrapolated:
        value = f"~{_ms(point.p50_ms)} ms p50" if point.p50_ms is not None else "no value"
        return f"{point.impl} @ {point.history_turns:,} turns: extrapolated ({value}): {point.note}"
    kind = " (anchor)" if point.anchor else ""
    return (
        f"{point.impl} @ {point.history_turns:,} turns{kind}: p50 {_ms(point.p50_ms)} ms, p99 {_ms(point.p99_ms)} ms, "
        f"{point.measured_turns} turns timed, setup {point.setup_s:.1f} s, peak RSS {point.peak_rss_mb:.0f} MB"
    )


def bench(
    impls: Sequence[str],
    lengths: Sequence[int],
    *,
    turns_per_point: int = 200,
    cap: float = 120.0,
    seed: int = 0,
    progress: Callable[[str], None] = lambda line: None,
    runner: Runner = run_point,
    setup_cap: float = DEFAULT_SETUP_CAP,
) -> tuple[list[Point], list[str]]:
    """Measure (or extrapolate) every impl at every length; returns the points and the worker failures."""
    setup = {"setup_cap": setup_cap} if setup_cap != DEFAULT_SETUP_CAP else {}  # test runners need not take it
    points: list[Point] = []
    failures: list[str] = []
    for impl in impls:
        rows: list[dict[str, Any]] = []  # measured, by length
        blocked = ""  # set once a length could not be measured: longer ones cannot be either
        anchors = 0
        for turns in sorted(lengths):
            reason = blocked or _predicted_overrun(rows, turns, cap, setup_cap) or ""
            row: dict[str, Any] | None = None
            if not reason:
                progress(f"{impl} @ {turns:,} turns ...")
                result = runner(impl, turns, measure_turns=turns_per_point, cap=cap, seed=seed, **setup)
                row, reason = result.row, result.reason
                if result.crashed:
                    failures.append(f"{impl} @ {turns:,} turns: {reason}")
                elif row is not None and int(row["measured_turns"]) < MIN_TURNS:
                    reason = (
                        f"{row['measured_turns']} turn(s) timed within the {cap:g} s cap "
                        f"(setup {row['setup_s']:.1f} s, {row['prefilled_turns']:,} of {turns:,} turns filled)"
                    )
                elif row is not None:
                    rows.append(row)
                    points.append(_measured(row))
                    progress(_describe(points[-1]))
                    continue
            blocked = blocked or f"a shorter history ({turns:,} turns) could not be measured"
            low = int(rows[-1]["history_turns"]) if rows else 0
            high = turns
            while len(rows) == 1 and anchors < _MAX_ANCHORS:
                middle = round(math.sqrt(low * high))
                if not low < middle < high or _predicted_overrun(rows, middle, cap, setup_cap):
                    break
                anchors += 1
                progress(f"{impl} @ {middle:,} turns (anchor for the fit) ...")
                result = runner(impl, middle, measure_turns=turns_per_point, cap=cap, seed=seed, **setup)
                if result.crashed:
                    failures.append(f"{impl} @ {middle:,} turns: {result.reason}")
                    break
                if result.row is not None and int(result.row["measured_turns"]) >= MIN_TURNS:
                    rows.append(result.row)
                    points.append(_measured(result.row, anchor=True))
                    progress(_describe(points[-1]))
                else:
                    high = middle
            points.append(_extrapolated(impl, turns, rows, reason, row))
            progress(_describe(points[-1]))
    return points, failures


# -- output ----------------------------------------------------------------------------------------


def machine_info() -> str:
    """CPU model, core count, Python and OS, for titles."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    if value < 100_000:
        return f"{value:,.0f}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _cell(point: Point | None) -> str:
    if point is None:
        return "-"
    mark = "~" if point.extrapolated else ""
    rss = f"{point.peak_rss_mb:,.0f} MB" if point.peak_rss_mb is not None else "-"
    return f"{mark}{_ms(point.p50_ms)} / {mark}{_ms(point.p99_ms)}  {rss}"


def render_table(points: Sequence[Point], lengths: Sequence[int]) -> list[str]:
    """Rows of impls, columns of the asked lengths: ``p50 / p99 ms  peak RSS``; ``~`` marks extrapolated values."""
    impls = list(dict.fromkeys(point.impl for point in points))
    by_key = {(point.impl, point.history_turns): point for point in points if not point.anchor}
    cells = [[_cell(by_key.get((impl, turns))) for turns in lengths] for impl in impls]
    width = max([len(f"{turns:,} turns") for turns in lengths] + [len(cell) for row in cells for cell in row])
    name_width = max([len("impl"), *(len(impl) for impl in impls)])
    lines = [
        f"per-turn latency, p50 / p99 ms and peak RSS (~ = extrapolated); token limit {LIMIT_TOKENS}",
        f"{'impl':<{name_width}}  " + "  ".join(f"{f'{turns:,} turns':>{width}}" for turns in lengths),
    ]
    lines += [
        f"{impl:<{name_width}}  " + "  ".join(f"{cell:>{width}}" for cell in row)
        for impl, row in zip(impls, cells, strict=True)
    ]
    for point in points:
        if point.anchor:
            lines.append(f"  {point.impl} was also measured at {point.history_turns:,} turns to fit: {_cell(point)}")
    return lines


def write_plot(points: Sequence[Point], path: Path, *, title: str) -> None:
    """A log-log PNG of p50 latency against history length, one line per impl; extrapolated points hollow, dashed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InvalidArgument("--plot needs matplotlib: pip install 'nexint[bench]'") from None
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    impls = list(dict.fromkeys(point.impl for point in points))
    for index, impl in enumerate(impls):
        color = f"C{index}"
        series = sorted(
            (point.history_turns, point.p50_ms, point.extrapolated)
            for point in points
            if point.impl == impl and point.p50_ms is not None
        )
        measured = [(x, y) for x, y, guessed in series if not guessed]
        guessed = [(x, y) for x, y, guessed in series if guessed]
        if measured:
            axes.plot(*zip(*measured, strict=True), "-o", color=color, label=impl)
        if guessed:
            axes.plot(*zip(*measured[-1:], *guessed, strict=True), "--", color=color)
            label = None if measured else f"{impl} (extrapolated)"
            axes.plot(*zip(*guessed, strict=True), "o", color=color, markerfacecolor="none", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("history length (turns)")
    axes.set_ylabel("p50 latency per turn (ms)")
    axes.grid(True, which="both", alpha=0.3)
    if impls:
        axes.legend(title="hollow, dashed: extrapolated", fontsize="small", title_fontsize="small")
    axes.set_title(title, fontsize="medium")
    figure.savefig(path, format="png", dpi=120)


def _writable(option: str, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.parent.is_dir():
        raise InvalidArgument(f"cannot write {option} {path}: {path.parent} is not a directory")
    if path.is_dir():
        raise InvalidArgument(f"cannot write {option} {path}: it is a directory")
    return path


# -- command ---------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``memos bench latency``; sets ``handler`` to :func:`run`."""
    parser.add_argument(
        "--impls", default=",".join(IMPL_NAMES), help=f"comma-separated (default: {','.join(IMPL_NAMES)})"
    )
    parser.add_argument(
        "--lengths", default=DEFAULT_LENGTHS, help=f"history lengths in turns (default: {DEFAULT_LENGTHS})"
    )
    parser.add_argument(
        "--turns-per-point", type=int, default=200, help="turns timed per point, at most (default: 200)"
    )
    parser.add_argument("--cap", type=float, default=120.0, help="seconds of timed turns per point (default: 120)")
    parser.add_argument(
        "--setup-cap",
        type=float,
        default=DEFAULT_SETUP_CAP,
        help=f"seconds to fill a point's history, not timed (default: {DEFAULT_SETUP_CAP:g})",
    )
    parser.add_argument("--seed", type=int, default=0, help="the conversation's seed (default: 0)")
    parser.add_argument("--json", dest="json_path", help="write the rows to this JSON file")
    parser.add_argument("--plot", dest="plot_path", help="write a log-log PNG of p50 against history length")
    parser.add_argument(
        "--keep",
        dest="keep_path",
        help="an earlier --json file: its rows of memories not in --impls join this run's (table, JSON, plot)",
    )
    parser.set_defaults(handler=run)


def kept_points(path: Path, rerun: Sequence[str]) -> list[Point]:
    """The rows of an earlier ``--json`` file whose memory is not in ``rerun``, as points."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        points = [Point(**row) for row in rows]
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidArgument(f"--keep {path}: not a file of latency rows ({exc})") from None
    unknown = sorted({point.impl for point in points} - set(IMPL_NAMES))
    if unknown:
        raise InvalidArgument(f"--keep {path}: unknown memories {', '.join(unknown)}")
    return [point for point in points if point.impl not in rerun]


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the benchmark; the table goes to ``out``, progress to stderr. Every input is checked first."""
    impls = parse_impls(args.impls)
    lengths = parse_lengths(args.lengths)
    if not (math.isfinite(args.cap) and args.cap > 0):
        raise InvalidArgument(f"--cap must be a positive number of seconds, got {args.cap}")
    if not (math.isfinite(args.setup_cap) and args.setup_cap > 0):
        raise InvalidArgument(f"--setup-cap must be a positive number of seconds, got {args.setup_cap}")
    if args.turns_per_point < MIN_TURNS:
        raise InvalidArgument(f"--turns-per-point must be at least {MIN_TURNS}, got {args.turns_per_point}")
    json_path = _writable("--json", args.json_path)
    plot_path = _writable("--plot", args.plot_path)
    kept = kept_points(Path(args.keep_path), impls) if args.keep_path else []
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise InvalidArgument("--plot needs matplotlib: pip install 'nexint[bench]'")

    def progress(line: str) -> None:
        print(f"[latency] {line}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    points, failures = bench(
        impls,
        lengths,
        turns_per_point=args.turns_per_point,
        cap=args.cap,
        seed=args.seed,
        progress=progress,
        setup_cap=args.setup_cap,
    )
    progress(f"done in {time.perf_counter() - started:,.0f} s")
    if kept:  # one table of every memory, in the default order
        order = {impl: index for index, impl in enumerate(IMPL_NAMES)}
        points = sorted([*points, *kept], key=lambda point: (order[point.impl], point.history_turns))
        lengths = sorted({*lengths, *(point.history_turns for point in kept if not point.anchor)})
    if json_path is not None:
        json_path.write_text(json.dumps([point.to_dict() for point in points], indent=2) + "\n", encoding="utf-8")
    if plot_path is not None:
        title = f"per-turn latency (p50), token limit {LIMIT_TOKENS}\n{machine_info()}"
        write_plot(points, plot_path, title=title)
    print("\n".join(render_table(points, lengths)), file=out)
    for failure in failures:
        print(f"[ERROR] {failure}", file=sys.stderr)
    return 1 if failures else 0

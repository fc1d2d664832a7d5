"""bench/driver/report.py — from runs to rows: medians, ratios, tables, plots.

A row is one variant at one point: the median of each metric over the rounds it ran, and its
ratio to echo-asio taken round by round (benchstats). A variant that could not run says why
instead of showing a number: not built, cannot take the point, option not implemented, or
errors (a wrong echo makes the whole row an error, not a slower number).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from benchstats import RatioSummary, generator_bound, median, slowdown, spread, summarize_ratios
from matrix import FLOOR, M, REFERENCE, VARIANTS, Experiment, Metric, Point
from runner import RunResult

SUMMARY_KEYS = ["rps", "mbps", "p50_us", "p99_us", "p999_us", "max_us", "send_lag_p99_us", "server_user_us_per_req",
                "server_system_us_per_req", "server_cpu_us_per_req", "server_cpu_pct", "server_pss_per_conn_kib",
                "server_rss_per_conn_kib", "server_pss_kib", "server_rss_kib", "served", "generator_cpu_pct",
                "server_zombies", "timed_out", "generator_cpu_us_per_req", "server_syscalls_per_req",
                "server_rw_syscalls_per_req"]


@dataclass
class Row:
    variant: str
    status: str = "ok"        # ok | not built | cannot | not supported | errors | start-failed | load-failed
    message: str = ""
    runs: list[RunResult] = field(default_factory=list)
    medians: dict[str, Optional[float]] = field(default_factory=dict)
    ratios: dict[str, Optional[RatioSummary]] = field(default_factory=dict)
    timeouts: int = 0
    bad_exits: int = 0        # runs where SIGTERM did not give exit 0 within 2 s (a contract violation)
    worker_spread: Optional[float] = None      # prefork: median over rounds of max/min accepts
    wakeups_per_accept: Optional[float] = None
    worker_accepts: list[float] = field(default_factory=list)  # mean per worker, busiest first
    reference: bool = False   # the row every ratio of its point is taken against
    generator_bound: bool = False  # in most rounds the generator, not the server, was the limit

    @property
    def lesson(self) -> str:
        return VARIANTS[self.variant].lesson

    @property
    def label(self) -> str:
        v = VARIANTS[self.variant]
        if v is REFERENCE:
            return "echo-asio (reference)"
        if v.lesson == "floor":
            return "echo-floor (floor)" if v is FLOOR else f"echo-floor ({v.note})"
        return f"{v.lesson} ({v.note})" if v.note else v.lesson

    def value(self, key: str) -> Optional[float]:
        return self.medians.get(key)


@dataclass
class PointResult:
    experiment: Experiment
    point: Point
    rows: list[Row]

    def row(self, variant: str) -> Optional[Row]:
        return next((r for r in self.rows if r.variant == variant), None)


def summarize_point(experiment: Experiment, point: Point, rows: list[Row]) -> PointResult:
    """Fills medians and ratios of the rows that ran; `rows` come with their runs or a status."""
    by_round = {}
    ref = next((r for r in rows if r.variant == point.reference_key), None)
    if ref:
        ref.reference = True
        by_round = {run.round: run for run in ref.runs}
    for row in rows:
        if not row.runs:
            continue
        failed = [run for run in row.runs if run.status != "ok"]
        row.timeouts = sum(int(run.load.get("timed_out", 0) + run.load.get("connect_timeouts", 0))
                           for run in row.runs if run.load)
        row.bad_exits = sum(1 for run in row.runs if run.server_exit != 0 or (run.server_exit_s or 0) > 2)
        if failed:
            row.status = failed[0].status
            row.message = f"{len(failed)} of {len(row.runs)} runs: {failed[0].message}"
            continue
        for key in SUMMARY_KEYS:
            row.medians[key] = median(run.value(key) for run in row.runs)
        if ref and row is not ref:
            # The rule: a ratio where the generator was saturated and the server was not (in this
            # row's run or in the reference's run of the same round) measures the generator.
            bound = [generator_bound(run.load) or (run.round in by_round and generator_bound(by_round[run.round].load))
                     for run in row.runs]
            row.generator_bound = sum(bound) * 2 > len(bound)
            for metric in experiment.metrics:
                pairs = [(run.value(metric.key), by_round[run.round].value(metric.key))
                         for run in row.runs if run.round in by_round]
                row.ratios[metric.key] = summarize_ratios(pairs)
        _summarize_workers(row)
    return PointResult(experiment, point, rows)


def _summarize_workers(row: Row) -> None:
    per_round = [run.workers for run in row.runs if run.workers]
    if not per_round:
        return
    row.worker_spread = median(spread([w["accepts"] for w in workers]) for workers in per_round)
    ratios = [sum(w["wakeups"] for w in ws) / max(1, sum(w["accepts"] for w in ws))
              for ws in per_round if all("wakeups" in w for w in ws)]
    row.wakeups_per_accept = median(ratios) if ratios else None
    width = max(len(ws) for ws in per_round)
    sorted_rounds = [sorted((w["accepts"] for w in ws), reverse=True) + [0] * (width - len(ws)) for ws in per_round]
    row.worker_accepts = [sum(r[i] for r in sorted_rounds) / len(sorted_rounds) for i in range(width)]


# ---- formatting ------------------------------------------------------------------------------

def number(value: Optional[float], digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    if digits == 0 or abs(value) >= 10000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio_text(row: Row, metric: Metric) -> str:
    if row.reference:
        return "1"
    if row.generator_bound:
        return "generator-bound"
    summary = row.ratios.get(metric.key)
    return summary.text() if summary else "–"


def status_text(row: Row) -> str:
    if row.status == "ok":
        return ""
    if row.status in ("errors",):
        return f"**errors** — {row.message}"
    return f"{row.status}" + (f": {row.message}" if row.message else "")


def _served(row: Row, point: Point) -> str:
    served = row.value("served")
    clients = point.params.get("conns", point.params.get("active"))
    if served is None or clients is None:
        return "–"
    return f"{served:.0f} of {clients}"


def markdown_point(result: PointResult, heading: str = "###") -> list[str]:
    point, experiment = result.point, result.experiment
    columns = []
    for m in experiment.metrics:
        columns.append(m.label)
        if point.reference:
            columns.append(f"×{point.reference_key}")
    extra = []
    if point.experiment in ("pingpong", "demo", "idle-lab"):
        extra.append("served")
    if point.experiment in ("churn", "zombies"):
        extra.append("zombies")
    if point.experiment == "spread":
        extra += ["accepts per worker", "max/min", "wake-ups/accept"]
    header = ["server"] + columns + extra + ["timeouts", "gen CPU"]
    lines = [f"{heading} {point.name}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|"]
    for row in result.rows:
        if row.status != "ok":
            lines.append(f"| {row.label} | " + status_text(row) + " |" + " |" * (len(header) - 2))
            continue
        cells = [row.label]
        for m in experiment.metrics:
            cells.append(number(row.value(m.key), m.digits))
            if point.reference:
                cells.append(ratio_text(row, m))
        if "served" in extra:
            cells.append(_served(row, point))
        if "zombies" in extra:
            cells.append(number(row.value("server_zombies"), 0))
        if point.experiment == "spread":
            cells += [" / ".join(f"{a:.0f}" for a in row.worker_accepts) or "no counters in the output",
                      number(row.worker_spread, 2), number(row.wakeups_per_accept, 2)]
        timeouts = f"{row.timeouts}" + (f", {row.bad_exits} bad exits" if row.bad_exits else "")
        cells += [timeouts, f"{number(row.value('generator_cpu_pct'), 0)} %"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _pingpong_pivot(results: list[PointResult]) -> list[str]:
    """One line per server, one column per point: requests/s as a ratio to echo-asio."""
    points = [r for r in results if r.point.experiment == "pingpong"]
    if not points:
        return []
    variants = []
    for r in points:
        for row in r.rows:
            if row.variant not in variants and not row.reference:
                variants.append(row.variant)
    header = ["server"] + [r.point.name.replace(" · ", " ") for r in points]
    lines = ["### At a glance: requests/s ÷ echo-asio (median of the rounds)", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for variant in variants:
        cells = [VARIANTS[variant].key]
        for r in points:
            row = r.row(variant)
            summary = row.ratios.get("rps") if row and row.status == "ok" else None
            if row is None:
                cells.append("")
            elif row.generator_bound:
                cells.append("generator-bound")
            elif row.status != "ok":
                cells.append(row.status if row.status != "cannot" else "cannot")
            else:
                cells.append(f"{summary.median:.2f}" if summary else "–")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def goals(results: list[PointResult]) -> list[str]:
    """The issue's goals next to what was measured. Reported, never asserted."""
    def rows_of(experiment: str, variant: str):
        for r in results:
            if r.point.experiment == experiment:
                row = r.row(variant)
                if row and row.status == "ok":
                    yield r.point, row

    def worst(experiment, variant, metric, pick, where=lambda p: True):
        found = [(row.ratios.get(metric).median, p.name) for p, row in rows_of(experiment, variant)
                 if where(p) and row.ratios.get(metric)]
        return pick(found) if found else None

    lines = ["## Goals (from issue 6; measured, not asserted)", "", "| goal | measured | met |", "|---|---|:-:|"]

    def add(goal: str, found, threshold=None, better="high", fmt="{:.2f}×"):
        if found is None:
            lines.append(f"| {goal} | not measured (server not built or point skipped) | |")
            return
        value, where = found
        shown = "–" if value is None else ("∞" if math.isinf(value) else fmt.format(value))
        text = shown + (f" at {where}" if where else "")
        met = ""
        if threshold is not None and value is not None:
            met = "✓" if (value >= threshold if better == "high" else value <= threshold) else "✗"
        lines.append(f"| {goal} | {text} | {met} |")

    d1 = lambda p: p.params.get("depth") == 1
    d16 = lambda p: p.params.get("depth") == 16
    add("epoll (1 loop) req/s ≥ 1.00× asio at depth 1 (worst point)",
        worst("pingpong", "epoll", "rps", min, d1), 1.00)
    add("epoll (1 loop) req/s ≥ 1.05× asio at depth 16 (worst point)",
        worst("pingpong", "epoll", "rps", min, d16), 1.05)
    add("epoll (1 loop) p99 ≤ 1.0× asio (worst point)", worst("pingpong", "epoll", "p99_us", max), 1.0, "low")
    add("epoll (1 loop) user CPU/request ≤ 0.5× asio (worst point)",
        worst("pingpong", "epoll", "server_user_us_per_req", max), 0.5, "low")
    big = [(row.value("server_rss_per_conn_kib"), p.name) for p, row in rows_of("idle", "epoll")
           if p.params.get("held", 0) >= 10000]
    add("epoll ≤ 1 KiB server RSS per idle connection at 10,000", big[0] if big else None, 1.0, "low", "{:.2f} KiB")
    add("select, all connections active, req/s ≥ 0.95× asio (worst point)",
        worst("pingpong", "select", "rps", min), 0.95)
    lab = {(p.params.get("held"), row.variant): row.value("rps") for p, row in
           list(rows_of("idle-lab", "select")) + list(rows_of("idle-lab", "epoll"))}
    for variant, threshold, better in (("select", 4.0, "high"), ("epoll", 1.5, "low")):
        s = slowdown(lab.get((0, variant)), lab.get((900, variant)))
        add(f"{variant}: slowdown with 900 idle descriptors ({'≥ 4×' if variant == 'select' else 'none'})",
            (s, "10 active") if s else None, threshold, better)
    thread = [(row.value("p999_us"), p.name) for p, row in rows_of("pingpong", "thread")
              if p.params.get("conns") == 1000]
    add("thread: p99.9 at 1,000 connections (reported)", thread[0] if thread else None, fmt="{:,.0f} µs")
    churn = [(row.value("server_cpu_us_per_req"), p.name) for p, row in rows_of("churn", "process")]
    add("process: server CPU per churned connection (reported)", churn[0] if churn else None, fmt="{:.1f} µs")
    mem = [(row.value("server_pss_per_conn_kib"), p.name) for p, row in rows_of("idle", "process")]
    add("process: ~100 KiB per connection (PSS, reported)", mem[0] if mem else None, fmt="{:.0f} KiB")
    zombies = [(row.value("server_zombies"), p.name) for p, row in rows_of("zombies", "process")]
    add("process: zero zombies after 10,000 churned connections", zombies[0] if zombies else None, 0, "low", "{:.0f}")
    for variant, goal, threshold in (
            ("prefork-reuseport", "prefork SO_REUSEPORT: accepts max/min ≤ 1.3", 1.3),
            ("prefork-inherit", "prefork inherited socket, no lock: max/min", None),
            ("prefork-inherit-exclusive", "prefork inherited + EPOLLEXCLUSIVE: max/min (the pile-up)", None)):
        found = [(row.worker_spread, p.name) for p, row in rows_of("spread", variant) if row.worker_spread]
        add(goal, found[0] if found else None, threshold, "low", "{:.2f}")
    found = [(row.wakeups_per_accept, p.name) for p, row in rows_of("spread", "prefork-reuseport")
             if row.wakeups_per_accept]
    add("prefork SO_REUSEPORT: 1.00 wake-ups per accept", found[0] if found else None, 1.005, "low", "{:.2f}")
    lines.append("")
    return lines


def markdown(meta: dict, results: list[PointResult]) -> str:
    lines = [f"# Benchmark results ({meta['profile']})", "",
             f"{meta['date']} · {meta['machine']} · {meta['rounds']} rounds · {meta['pinning']} · "
             f"load average {meta.get('load_average', '?')} at the end · version {meta.get('version', '?')}", "",
             "Each round runs echo-asio and every server once, the order reversed every other round "
             "(A B C, C B A, …). ×asio is the ratio to echo-asio **in the same round**: the median over "
             "the rounds, with its min–max. gen CPU is the generator's own CPU (% of one core): near "
             "100 % while the server was under 90 %, the ratio says *generator-bound* instead of a number. "
             "Reproduce one cell with the commands "
             "in results.json (`runs[].server_cmd`, `runs[].load_cmd`).", ""]
    seen = None
    for result in results:
        if result.experiment.key != seen:
            seen = result.experiment.key
            lines += [f"## {result.experiment.title}", "", result.experiment.what, ""]
            if seen == "pingpong":
                lines += _pingpong_pivot(results)
        lines += markdown_point(result)
    gen = generator_lines(results)
    if gen:
        lines += ["## The generator against the floor", "",
                  "echo-load's CPU per echoed request next to echo-floor's CPU per echo, from the same runs "
                  "(median of the rounds, min–max of the per-round ratio). At or under 1.00×, the generator "
                  "is at least as efficient per request as the leanest server, so it cannot be what limits "
                  "a server's ratio while it has a core of its own.", ""] + [f"- {g}" for g in gen] + [""]
    if meta["profile"] == "full" or any(r.point.experiment == "pingpong" for r in results):
        lines += goals(results)
    return "\n".join(lines) + "\n"


def generator_ratio(result: PointResult) -> Optional[RatioSummary]:
    """echo-load's CPU per request ÷ echo-floor's CPU per echo, per round, in the floor's own runs."""
    floor = result.row("floor")
    if not floor or floor.status != "ok":
        return None
    return summarize_ratios((run.value("generator_cpu_us_per_req"), run.value("server_cpu_us_per_req"))
                            for run in floor.runs)


def generator_lines(results: list[PointResult]) -> list[str]:
    lines = []
    for result in results:
        summary = generator_ratio(result)
        if summary is None:
            continue
        floor = result.row("floor")
        lines.append(f"{result.point.experiment} {result.point.name}: echo-load "
                     f"{number(floor.value('generator_cpu_us_per_req'), 2)} µs CPU per request, echo-floor "
                     f"{number(floor.value('server_cpu_us_per_req'), 2)} µs per echo: {summary.text()}")
    return lines


def generator_line(results: list[PointResult]) -> str:
    """One line for the terminal: the generator against the floor at the first point that has both."""
    lines = generator_lines(results)
    return f"generator vs floor, CPU per request: {lines[0]}" if lines else ""


def _range(values: list[float], digits: int = 2) -> str:
    return f"{median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def syscall_verdict(result: PointResult) -> str:
    """The one-syscall experiment's answer: the two rows' ranges of CPU per echo and of requests/s,
    and whether they overlap (no overlap: the bench sees one system call)."""
    rows = [result.row(key) for key in ("floor", "floor-extra")]
    if any(row is None or row.status != "ok" for row in rows):
        return "syscall: a row did not run; no verdict"
    out = []
    for key, label, digits, lower in (("server_cpu_us_per_req", "CPU µs per echo", 3, True),
                                      ("rps", "requests/s", 0, False)):
        base, extra = ([run.value(key) for run in row.runs if run.value(key) is not None] for row in rows)
        if not base or not extra:
            continue
        apart = max(base) < min(extra) if lower else min(base) > max(extra)
        out.append(f"{label}: echo-floor {_range(base, digits)}, --extra-syscall {_range(extra, digits)}: "
                   + ("ranges apart, the extra system call is seen" if apart else "ranges overlap, not seen"))
    summary = rows[1].ratios.get("server_cpu_us_per_req")
    if summary:
        # The bench's own method: a ratio within a round, where the machine's drift cancels out.
        seen = summary.low > 1.0
        out.append(f"CPU per echo, --extra-syscall ÷ echo-floor in the same round: {summary.text(3)} over "
                   f"{summary.rounds} rounds: " + ("above 1 in every round, the extra system call is seen"
                                                  if seen else "not above 1 in every round, not seen"))
    return "\n".join(out)


def demo_table(results: list[PointResult]) -> str:
    """The table an instructor shows: plain text, aligned, one line per lesson, from the capacity
    point (closed loop): served at once, requests/s, and the server's CPU per echo with its ratio.

    Only CPU per echo carries a ratio: on a shared machine, requests/s ÷ echo-asio moved by 30–40 %
    between two runs back to back (it measures how much CPU the machine had left that second), while
    CPU per echo ÷ echo-asio stayed within 13 % (bench/README.md, The demo)."""
    capacity = results[0]
    cpu = M["cpu"]
    header = ["lesson", "served at once", "requests/s", "CPU µs/echo", "× asio", "errors", "gen CPU"]
    body = []
    for row in capacity.rows:
        name = row.label if row.lesson in ("reference", "floor") else row.lesson
        if row.status != "ok":
            body.append([name, status_text(row).replace("**", "")])
            continue
        errors = row.timeouts + sum(int(run.load.get("errors", 0)) for run in row.runs if run.load)
        gen = row.value("generator_cpu_pct") or 0
        body.append([name, _served(row, capacity.point), number(row.value("rps"), 0),
                     number(row.value("server_cpu_us_per_req"), 2), ratio_text(row, cpu), str(errors),
                     f"{gen:.0f} %"])
    widths = [max([len(header[i])] + [len(r[i]) for r in body if len(r) > 2]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        if len(cells) == 2:  # a lesson that did not run: the reason instead of numbers
            return f"{cells[0]:<{widths[0]}}  {cells[1]}"
        return "  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(cells))

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in body]) + "\n"

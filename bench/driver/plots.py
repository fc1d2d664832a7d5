"""bench/driver/plots.py — the figures the slides use, drawn with gnuplot (Debian: gnuplot-nox).

Each figure is written three ways: NAME.dat (the numbers), NAME.png.gp / NAME.svg.gp (the
gnuplot scripts, to restyle for a slide) and the rendered NAME.png and NAME.svg. Every figure
carries the generator's highest CPU share in its subtitle. Without gnuplot, no figures.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from matrix import REFERENCE, VARIANTS
from report import PointResult, Row, number

_TERMINALS = (("pngcairo size 1000,700 font 'sans,10'", "png"), ("svg size 1000,700 font 'sans,10'", "svg"))
_COMMON = ("set datafile missing 'NaN'\nset datafile columnheaders\nset key outside right top\nset grid\n"
           "set offsets graph 0, graph 0, graph 0.08, 0\n")


def _column(value: Optional[float]) -> str:
    return "NaN" if value is None or math.isinf(value) or math.isnan(value) else f"{value:.6g}"


def _generator_note(rows: list[Row]) -> str:
    values = [r.value("generator_cpu_pct") for r in rows if r.status == "ok" and r.value("generator_cpu_pct")]
    return f"generator CPU ≤ {max(values):.0f} % of a core" if values else ""


def _value(result: PointResult, variant: str, key: str) -> Optional[float]:
    row = result.row(variant)
    return row.value(key) if row and row.status == "ok" else None


def _render(out_dir: Path, name: str, data: str, body: str, title: str, note: str) -> list[Path]:
    (out_dir / f"{name}.dat").write_text(data)
    made = []
    for terminal, ext in _TERMINALS:
        target = out_dir / f"{name}.{ext}"
        header = f"set terminal {terminal}\nset output '{target}'\n{_COMMON}"
        if title:
            header += f"set title \"{title}\\n{{/*0.8 {note}}}\"\n"
        script = header + body + "\n"
        (out_dir / f"{name}.{ext}.gp").write_text(script)
        if subprocess.run(["gnuplot"], input=script, text=True, capture_output=True).returncode == 0:
            made.append(target)
    return made


def _bars(out_dir: Path, name: str, title: str, ylabel: str, categories: list[str], series: list[str],
          values: list[list[Optional[float]]], rows: list[Row], stacked: bool = False, log: bool = False) -> list[Path]:
    """A bar chart: one group per category, one bar (or stacked part) per series."""
    data = "category " + " ".join(f"\"{s}\"" for s in series) + "\n"
    data += "".join(f"\"{c}\" " + " ".join(_column(v) for v in vs) + "\n" for c, vs in zip(categories, values))
    body = (f"set style data histograms\nset style histogram {'rowstacked' if stacked else 'clustered'}\n"
            "set style fill solid 0.8 border -1\nset boxwidth 0.8\nset xtics rotate by -20\n"
            + ("set logscale y\n" if log else "set yrange [0:*]\n") + f"set ylabel '{ylabel}'\n"
            f"plot for [i=2:{len(series) + 1}] '{out_dir / (name + '.dat')}' using i:xtic(1) title columnheader(i)")
    return _render(out_dir, name, data, body, title, _generator_note(rows))


def _versus_connections(out_dir: Path, ping: list[PointResult], key: str, label: str, name: str) -> list[Path]:
    """Lines per server over 1..1,000 connections, one panel per (message size, depth)."""
    combos = sorted({(r.point.params["size"], r.point.params["depth"]) for r in ping})
    variants = [REFERENCE.key] + [v for v in VARIANTS if v != REFERENCE.key and any(r.row(v) for r in ping)]
    blocks, panels = [], []
    for index, (size, depth) in enumerate(combos):
        points = sorted((r for r in ping if (r.point.params["size"], r.point.params["depth"]) == (size, depth)),
                        key=lambda r: r.point.params["conns"])
        lines = ["conns " + " ".join(variants)]
        lines += [" ".join([str(r.point.params["conns"])] + [_column(_value(r, v, key)) for v in variants])
                  for r in points]
        blocks.append("\n".join(lines))
        shown = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        panels.append(("" if index == 0 else "unset key\n") + f"set title '{shown}, depth {depth}'\n"
                      f"plot for [i=2:{len(variants) + 1}] '{out_dir / (name + '.dat')}' index {index} "
                      "using 1:i with linespoints title columnheader(i)")
    rows = [row for r in ping for row in r.rows]
    layout = f"{(len(combos) + 1) // 2},{min(2, len(combos))}"
    body = (f"set logscale x\nset logscale y\nset xlabel 'connections'\nset ylabel '{label}'\n"
            "set key inside bottom right samplen 2 font ',8'\n"
            f"set multiplot layout {layout} title \"{label} vs connections ({_generator_note(rows)})\"\n"
            + "\n".join(panels) + "\nunset multiplot")
    return _render(out_dir, name, "\n\n\n".join(blocks) + "\n", body, "", "")


def _cpu_split(rows: list) -> tuple[list[str], list[list[float]]]:
    """Stacked user + system CPU per connection. The split comes from clock ticks, so a server that
    used fewer than ten of them has none: its whole CPU goes in a bar of its own instead of
    vanishing from the plot as if it had cost nothing."""
    split = [(row.value("server_user_us_per_req"), row.value("server_system_us_per_req"),
              row.value("server_cpu_us_per_req")) for row in rows]
    if all(user is not None and system is not None for user, system, _ in split):
        return ["user", "system"], [[user, system] for user, system, _ in split]
    return (["user", "system", "total (too few ticks to split)"],
            [[user, system, 0.0] if user is not None and system is not None else [0.0, 0.0, total or 0.0]
             for user, system, total in split])


def plots(out_dir: Path, results: list[PointResult]) -> list[Path]:
    """Draws every figure that has at least one measured row."""
    if shutil.which("gnuplot") is None:
        return []
    results = [r for r in results if any(row.status == "ok" for row in r.rows)]
    of = lambda experiment: [r for r in results if r.point.experiment == experiment]  # noqa: E731
    made: list[Path] = []

    if ping := of("pingpong"):
        made += _versus_connections(out_dir, ping, "rps", "requests/s", "rps_vs_conns")
        made += _versus_connections(out_dir, ping, "p99_us", "p99 latency (µs)", "p99_vs_conns")

    if churn := of("churn"):
        r = churn[0]
        ok = [row for row in r.rows if row.status == "ok"]
        made += _bars(out_dir, "churn_cpu", f"Churn: server CPU per connection ({r.point.name})",
                      "server CPU µs per connection", [row.variant for row in ok], *_cpu_split(ok),
                      r.rows, stacked=True)

    for experiment, key, name, title, ylabel, log in (
            ("idle", "server_pss_per_conn_kib", "rss_per_conn", "Memory per held connection",
             "server PSS KiB per idle connection (log)", True),
            ("idle-lab", "rps", "select_idle", "Idle descriptors: select vs epoll",
             "requests/s of 10 active clients", False)):
        if points := of(experiment):
            variants = [v for v in VARIANTS if any(_value(r, v, key) is not None for r in points)]
            series = [f"{r.point.params['held']:,} idle" for r in points]
            made += _bars(out_dir, name, title, ylabel, variants, series,
                          [[_value(r, v, key) for r in points] for v in variants],
                          [row for r in points for row in r.rows], log=log)

    spread = of("spread")
    labelled = [(row, f"{row.variant.removeprefix('prefork-')}"
                      f"{', ' + str(r.point.params.get('conns', '?')) + ' at once' if len(spread) > 1 else ''}")
                for r in spread for row in r.rows if row.status == "ok" and row.worker_accepts]
    rows = [row for row, _ in labelled]
    if rows:
        width = max(len(row.worker_accepts) for row in rows)
        made += _bars(out_dir, "prefork_spread", "Prefork: accepts per worker, busiest first (max/min)",
                      "accepts per worker", [f"{label} ({number(row.worker_spread, 2)})" for row, label in labelled],
                      [f"worker {i + 1}" for i in range(width)],
                      [row.worker_accepts + [0.0] * (width - len(row.worker_accepts)) for row in rows], rows)
    return made

"""bench/driver/benchstats.py — the statistics of a fair A/B comparison on a noisy machine.

On a shared 2-core VM one run can be 20 % off the next. Two habits make the numbers usable:
  * interleave: every round runs the reference (A) and each server (B, C, ...), and the order
    flips every round (A B C, then C B A, ...), so a slow drift of the machine hits both sides
    alike. With one server this is the classic A B B A A B ... sequence.
  * compare within a round: the ratio B/A is taken per round, then summarised by its median
    (robust to one disturbed round) and its min-max (how much to trust it).
Pure functions, standard library only: unit-tested by test_benchstats.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence


def median(values: Iterable[float]) -> Optional[float]:
    """The median, or None when there is nothing to summarise."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def round_order(reference: Optional[str], servers: Sequence[str], round_index: int) -> list[str]:
    """The run order of one round: A B C in even rounds, C B A in odd ones.

    Without a reference (an experiment that compares servers only with themselves) the
    servers still alternate direction.
    """
    forward = ([reference] if reference else []) + list(servers)
    return forward if round_index % 2 == 0 else list(reversed(forward))


def ratio(value: Optional[float], reference: Optional[float]) -> Optional[float]:
    """value / reference, or None when either is missing or the reference is zero."""
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


@dataclass(frozen=True)
class RatioSummary:
    median: float
    low: float
    high: float
    rounds: int  # rounds that gave a ratio

    def text(self, digits: int = 2) -> str:
        """'1.04× (0.97–1.10)'; a single round has no range to show."""
        head = f"{self.median:.{digits}f}×"
        if self.rounds < 2:
            return head
        return f"{head} ({self.low:.{digits}f}–{self.high:.{digits}f})"


def summarize_ratios(pairs: Iterable[tuple[Optional[float], Optional[float]]]) -> Optional[RatioSummary]:
    """pairs: (server value, reference value) per round. Rounds missing either side are skipped."""
    ratios = [r for r in (ratio(value, ref) for value, ref in pairs) if r is not None]
    if not ratios:
        return None
    return RatioSummary(median=median(ratios), low=min(ratios), high=max(ratios), rounds=len(ratios))


def spread(counts: Sequence[float]) -> Optional[float]:
    """max/min of per-worker counts (1.00 is perfectly even); inf when a worker got nothing."""
    if len(counts) < 2:
        return None
    low = min(counts)
    if low <= 0:
        return float("inf")
    return max(counts) / low


def slowdown(fast: Optional[float], slow: Optional[float]) -> Optional[float]:
    """How many times slower `slow` is than `fast` (requests/s, higher is better)."""
    return ratio(fast, slow)


SATURATED_PCT = 90.0  # % of one core: above it a single-threaded process had no time left to give


def generator_bound(load: Optional[dict]) -> bool:
    """True when echo-load was saturated (≥ 90 % of its cores) while the server was not (< 90 %
    of one core): the run measured the generator, so no ratio should be printed for it. A server
    that is saturated too is a fair race, whatever the generator did."""
    if not load:
        return False
    gen, server = load.get("generator_cpu_pct"), load.get("server_cpu_pct")
    if not isinstance(gen, (int, float)) or not isinstance(server, (int, float)):
        return False
    threads = load.get("threads") or 1
    return gen >= SATURATED_PCT * threads and server < SATURATED_PCT

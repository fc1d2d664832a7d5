"""bench/driver/matrix.py — WHAT `make bench` measures: the servers, their variants, the points.

Everything a reader needs to know about the matrix is data in this file: change a number
here and the tables, plots and time estimate follow. bench/README.md describes the same
matrix in prose.

A *variant* is one server binary with fixed options (epoll with 2 loops, edge-triggered).
A *point* is one load (echo-load arguments) run against several variants in rounds.
An *experiment* groups the points of one table (churn, ping-pong, bulk, idle, spread).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

FD_SETSIZE = 1024  # select() cannot watch a descriptor number >= this
SPARE_FDS = 8      # stdin/out/err, the listener, an epoll fd, a few pipes: descriptors beside the clients


@dataclass(frozen=True)
class Variant:
    key: str                       # names a table row: "epoll-2-edge"
    lesson: str                    # "05-epoll-pool", or "reference"
    binary: str                    # file name in build/bin
    args: tuple[str, ...] = ()
    single_threaded: bool = False  # pinned to one core (taskset): fair against one-threaded Asio
    max_clients: Optional[int] = None  # clients it can serve at once (01 serves one)
    max_fds: Optional[int] = None      # descriptors it can watch (select: FD_SETSIZE)
    note: str = ""

    def cannot_take(self, clients: int, observe: bool = False) -> Optional[str]:
        """Why this variant cannot take a point with `clients` connections served at once.

        observe: the point is there to show how many clients a server serves at once, so a
        server that serves fewer still runs (the waiting clients are served during the drain).
        """
        if self.max_clients is not None and clients > self.max_clients and not observe:
            return "serves one client at a time" if self.max_clients == 1 else f"at most {self.max_clients} clients"
        if self.max_fds is not None and clients + SPARE_FDS > self.max_fds:
            return f"past FD_SETSIZE ({self.max_fds})"
        return None


REFERENCE = Variant("asio", "reference", "echo-asio", single_threaded=True,
                    note="Boost.Asio, 1 thread, 64 KiB buffer")
# The physical floor: one epoll loop, one read() and one write() per echo, nothing else. A second
# reference row beside echo-asio, not a lesson (it does not obey the whole contract).
FLOOR = Variant("floor", "floor", "echo-floor", single_threaded=True, note="epoll, one read + one write per echo")

_ALL = [
    REFERENCE,
    FLOOR,
    Variant("floor-extra", "floor", "echo-floor", ("--extra-syscall",), single_threaded=True,
            note="the floor + one getppid() per echo"),
    Variant("iterative", "01-iterative", "echo-iterative", single_threaded=True, max_clients=1),
    Variant("process", "02-process", "echo-process", note="fork per client"),
    Variant("thread", "03-thread", "echo-thread", note="thread per client"),
    Variant("select", "04-select", "echo-select", single_threaded=True, max_fds=FD_SETSIZE),
    Variant("epoll", "05-epoll-pool", "echo-epoll", ("--threads", "1"), single_threaded=True, note="1 loop, level"),
    Variant("epoll-edge", "05-epoll-pool", "echo-epoll", ("--threads", "1", "--edge"), single_threaded=True,
            note="1 loop, edge"),
    Variant("epoll-2", "05-epoll-pool", "echo-epoll", ("--threads", "2"), note="2 loops, level"),
    Variant("epoll-2-edge", "05-epoll-pool", "echo-epoll", ("--threads", "2", "--edge"), note="2 loops, edge"),
    Variant("prefork", "06-prefork", "echo-prefork",
            ("--workers", "2", "--share", "reuseport"), note="2 workers, SO_REUSEPORT"),
    # The spread experiment: 4 workers, every way of sharing the listening socket.
    # 06 has no accept lock: its workers watch an inherited listener level-triggered (07's "none").
    Variant("prefork-inherit", "06-prefork", "echo-prefork",
            ("--workers", "4", "--share", "inherit"), note="inherited socket, no lock"),
    Variant("prefork-inherit-exclusive", "07-master-worker", "echo-master-worker",
            ("--workers", "4", "--share", "inherit", "--accept-lock", "exclusive"), note="inherited, EPOLLEXCLUSIVE"),
    # (07's re-armed EPOLLEXCLUSIVE and accept mutex are exercises now: no rows until a student's build has them.)
    Variant("prefork-reuseport", "06-prefork", "echo-prefork",
            ("--workers", "4", "--share", "reuseport"), note="SO_REUSEPORT"),
    Variant("prefork-pass", "07-master-worker", "echo-master-worker",
            ("--workers", "4", "--share", "pass", "--accept-lock", "none"), note="master passes fds"),
]
VARIANTS = {v.key: v for v in _ALL}

LESSONS = ["iterative", "process", "thread", "select", "epoll", "prefork"]  # one row per lesson
EPOLL_EXTRA = ["epoll-edge", "epoll-2", "epoll-2-edge"]
PREFORK_SPREAD = ["prefork-inherit", "prefork-inherit-exclusive", "prefork-reuseport", "prefork-pass"]
REFS = ["floor"]  # beside echo-asio in every table that compares the lessons
# binaries the driver looks for: build/bin/echo-<name>; 07 runs the spread rows that need a lock or pass mode
SERVER_NAMES = ["asio"] + REFS + LESSONS + ["master-worker"]


@dataclass(frozen=True)
class Metric:
    key: str                # field of echo-load's JSON
    label: str              # column header
    higher_is_better: bool
    digits: int = 1


M = {
    "rps": Metric("rps", "req/s", True, 0),
    "conn_rate": Metric("rps", "conn/s", True, 0),
    "mbps": Metric("mbps", "MB/s", True, 1),
    "p99": Metric("p99_us", "p99 µs", False, 1),
    "p999": Metric("p999_us", "p99.9 µs", False, 1),
    "user": Metric("server_user_us_per_req", "user µs/req", False, 2),
    "cpu": Metric("server_cpu_us_per_req", "CPU µs/req", False, 2),
    "cpu_conn": Metric("server_cpu_us_per_req", "CPU µs/conn", False, 1),
    "user_conn": Metric("server_user_us_per_req", "user µs/conn", False, 1),
    "sys_conn": Metric("server_system_us_per_req", "sys µs/conn", False, 1),
    "pss": Metric("server_pss_per_conn_kib", "PSS KiB/conn", False, 2),
    "rss": Metric("server_rss_per_conn_kib", "RSS KiB/conn", False, 2),
    "syscalls": Metric("server_syscalls_per_req", "syscalls/echo", False, 2),
    "rw": Metric("server_rw_syscalls_per_req", "read+write/echo", False, 2),
}


@dataclass
class Point:
    experiment: str
    name: str                      # "64 B · depth 1 · 100 conns"
    load: list[str]                # echo-load arguments
    variants: list[str]
    clients: int                   # connections the server must serve at once
    params: dict = field(default_factory=dict)
    reference: bool = True         # echo-asio runs in every round; ratios are reported
    rounds: Optional[int] = None   # None: the profile's rounds
    estimate_s: float = 1.0        # one run, start to stop, for the progress line
    observe: bool = False          # run servers beyond their client limit: the demo shows 01 serving 1 of 50
    reference_key: str = "asio"    # the variant every ratio of this point is taken against
    together: bool = False         # run the reference and the variants at the same time (Runner.run_together)


@dataclass
class Experiment:
    key: str
    title: str
    what: str                      # one paragraph: what it measures and why
    metrics: list[Metric]          # columns, each with its ratio to echo-asio
    points: list[Point]


@dataclass(frozen=True)
class Profile:
    name: str
    rounds: int
    warmup: float
    duration: float
    churn_count: int
    idle_conns: list[int]
    big_idle: int          # held connections for epoll and prefork (and asio)
    spread_count: int
    zombie_count: int


PROFILES = {
    "full": Profile("full", rounds=5, warmup=0.5, duration=2.0, churn_count=5000, idle_conns=[1000], big_idle=10000,
                    spread_count=2000, zombie_count=10000),
    "quick": Profile("quick", rounds=2, warmup=0.2, duration=0.5, churn_count=1000, idle_conns=[500], big_idle=0,
                     spread_count=1000, zombie_count=0),
    "demo": Profile("demo", rounds=7, warmup=0.3, duration=0.8, churn_count=0, idle_conns=[], big_idle=0,
                    spread_count=0, zombie_count=0),
    # --experiment syscall: can the bench see one system call? Many short alternating rounds.
    "syscall": Profile("syscall", rounds=9, warmup=0.3, duration=2.0, churn_count=0, idle_conns=[], big_idle=0,
                       spread_count=0, zombie_count=0),
}


def smoke(profile: Profile) -> Profile:
    """The same matrix shape in seconds: for the driver's own end-to-end test."""
    return Profile(profile.name, rounds=2, warmup=0.05, duration=0.15, churn_count=min(profile.churn_count, 200),
                   idle_conns=[100] if profile.idle_conns else [], big_idle=0,
                   spread_count=min(profile.spread_count, 200), zombie_count=0)


def _timed(p: Profile, connect_s: float = 0.0) -> float:
    return p.warmup + p.duration + 0.4 + connect_s


def _pingpong(p: Profile, size: int, depth: int, conns: int, variants: list[str], experiment="pingpong") -> Point:
    shown = f"{size} B" if size < 1024 else (f"{size // 1024} KiB" if size < 1 << 20 else f"{size >> 20} MiB")
    return Point(experiment, f"{shown} · depth {depth} · {conns} conns",
                 ["--mode", "pingpong", "--size", str(size), "--depth", str(depth), "--conns", str(conns),
                  "--warmup", str(p.warmup), "--duration", str(p.duration), "--timeout", "5"],
                 variants, clients=conns, params={"size": size, "depth": depth, "conns": conns},
                 estimate_s=_timed(p, conns / 2000))


DEMO_CLIENTS = 50


def _demo_points(p: Profile) -> list[Point]:
    capacity = _pingpong(p, 64, 1, DEMO_CLIENTS, REFS + LESSONS, experiment="demo")
    capacity.name = f"capacity · {DEMO_CLIENTS} clients ping-pong"
    capacity.observe = True  # 01 faces all 50 clients: showing that it serves one is the point
    return [capacity]


SYSCALL_POINT = dict(size=64, depth=1, conns=100)  # the point: where a syscall is a few % of an echo


def _syscall_experiments(p: Profile, variants: list[str]) -> list[Experiment]:
    """System calls per echo for every server: one round of its own, with --count-syscalls (the
    tracepoint counter costs the server a little per call, so these runs give no other number)."""
    points = []
    for conns in (SYSCALL_POINT["conns"], 1):  # 1 connection: 01 too, and an epoll_wait per echo for all
        point = _pingpong(p, SYSCALL_POINT["size"], SYSCALL_POINT["depth"], conns, variants, experiment="syscalls")
        point.load += ["--count-syscalls"]
        point.rounds = 1
        points.append(point)
    return [Experiment(
        "syscalls", "System calls per echo",
        "Every system call of the server's process tree in the window (the kernel's raw_syscalls:sys_enter "
        "tracepoint, counted by echo-load with perf_event_open), divided by the echoes: read + write is "
        "the least an echo can cost; the rest is the event loop's epoll_wait()/select() and whatever a "
        "server adds. read+write/echo is /proc/PID/io (syscr + syscw), which does not see recvmsg/sendmsg "
        "(Asio's calls). A run of its own: counting costs the server a little per call.",
        [M["syscalls"], M["rw"], M["rps"]], points)]


def _churn(p: Profile, count: int, conns: int, variants: list[str], experiment: str,
           reference: bool = True, rounds: Optional[int] = None) -> Point:
    return Point(experiment, f"{count:,} connections · {conns} at once",
                 ["--mode", "churn", "--count", str(count), "--conns", str(conns), "--size", "64",
                  "--warmup", str(min(p.warmup, 0.3)), "--timeout", "5"],
                 variants, clients=1, params={"count": count, "conns": conns}, reference=reference, rounds=rounds,
                 estimate_s=min(p.warmup, 0.3) + count / 3000 + 0.5)


def _idle(p: Profile, held: int, active: int, variants: list[str], experiment="idle", reference=True) -> Point:
    name = f"{held:,} idle" + (f" + {active} active" if active else "")
    return Point(experiment, name,
                 ["--mode", "idle", "--conns", str(held), "--active", str(active), "--size", "64", "--depth", "1",
                  "--warmup", str(p.warmup), "--duration", str(p.duration if active else min(p.duration, 0.5)),
                  "--connect-timeout", "60", "--timeout", "5"],
                 variants, clients=held + active, params={"held": held, "active": active}, reference=reference,
                 estimate_s=_timed(p, (held + active) / 1500))


def build(profile: Profile) -> list[Experiment]:
    """The matrix of a profile (full, quick or demo; smoke() shrinks any of them)."""
    p = profile
    if p.name == "demo":
        return [Experiment(
            "demo", "The ladder in one table: 50 clients, 64-byte lines",
            "Every client keeps one request in flight (closed loop); 'served' counts the clients that got "
            "echoes during the window, the concurrency a design really delivers. The server's CPU per echo "
            "as a ratio to echo-asio in the same round (median of 7 rounds, min–max): what a design costs "
            "whatever the machine's other load. Requests/s is shown as a number only: its ratio moved by "
            "30–40 % between two runs on a shared VM, and a fixed-rate p99 (here before) by 100×.",
            [M["cpu"], M["rps"]], _demo_points(p))]
    if p.name == "syscall":
        point = _pingpong(p, variants=["floor-extra"], experiment="syscall", **SYSCALL_POINT)
        point.reference_key = "floor"
        point.together = True  # both servers (one core) and both generators (the other) in the same seconds
        return [Experiment(
            "syscall", "Can the bench see one system call? echo-floor against itself plus one getppid() per echo",
            "The same server twice, in 9 rounds; the only difference is one extra cheap system call per echo. "
            "In each round both run at the same time, pinned to the same core, each with its own echo-load "
            "on the other core: whatever else the machine does then hits both alike. Server CPU per echo "
            "is the measure (requests/s is shown too): the two rows' "
            "min–max ranges must not overlap.",
            [M["cpu"], M["rps"]], [point])]

    experiments = [Experiment(
        "churn", "Churn: one connection per request (the UNP chapter-30 table)",
        "Connect, send one 64-byte line, half-close, read the echo to EOF. Server CPU per connection is "
        "the price of accept(), plus fork() or thread creation where a lesson makes one per client.",
        [M["conn_rate"], M["cpu_conn"], M["user_conn"], M["sys_conn"], M["p99"]],
        [_churn(p, p.churn_count, 10, LESSONS, "churn")])]

    sizes, depths, conns = ([64, 1024], [1, 16], [1, 10, 100, 1000]) if p.name == "full" else ([64], [1, 16], [10])
    points = []
    for size in sizes:
        for depth in depths:
            for c in conns:
                extra = EPOLL_EXTRA if (p.name == "full" and size == 64 and c == 100) else []
                points.append(_pingpong(p, size, depth, c, REFS + LESSONS + extra))
    experiments.append(Experiment(
        "pingpong", "Ping-pong: requests/s, tail latency and CPU per request",
        "Each connection keeps `depth` requests in flight (closed loop). Depth 16 shows whether a "
        "server answers all the lines of one read() with one write().",
        [M["rps"], M["p99"], M["p999"], M["user"], M["cpu"]], points))

    bulk_conns = [1, 8] if p.name == "full" else [1]
    experiments.append(Experiment(
        "bulk", "Bulk: 1 MiB messages", "Throughput when the kernel's copies dominate: buffer sizes matter, "
        "the event machinery does not.",
        [M["mbps"], M["cpu"]],
        [_pingpong(p, 1 << 20, 1, c, REFS + LESSONS, experiment="bulk") for c in bulk_conns]))
    experiments += _syscall_experiments(p, REFS + LESSONS)

    idle_points = [_idle(p, n, 0, LESSONS) for n in p.idle_conns]
    if p.big_idle:  # 10,000 processes or threads would measure the machine, not the lesson
        idle_points.append(_idle(p, p.big_idle, 0, ["select", "epoll", "prefork"]))
    if idle_points:
        experiments.append(Experiment(
            "idle", "Idle connections: memory per held connection",
            "Connections that were served once and then stay quiet. PSS divides shared pages among the "
            "processes that map them (fair to fork()); RSS counts them once per process. Kernel socket "
            "buffers are not in either.",
            [M["pss"], M["rss"]], idle_points))

        experiments.append(Experiment(
            "idle-lab", "Idle descriptors cost select(), not epoll",
            "10 active ping-pong clients, alone and beside 900 idle ones. select() scans every descriptor "
            "on every call; epoll reports only the ready ones.",
            [M["rps"], M["p99"]],
            [_idle(p, 0, 10, ["select", "epoll"], experiment="idle-lab"),
             _idle(p, 900, 10, ["select", "epoll"], experiment="idle-lab")]))

    if p.spread_count:
        experiments.append(Experiment(
            "spread", "Prefork: how evenly the workers accept",
            "Accepts per worker (max/min; 1.00 is perfectly even) and wake-ups per accept, from the counters "
            "echo-prefork prints at exit. Those counters cover the server's whole life, so they include "
            "the connections of the generator's warm-up as well as the measured ones. 20 clients churn "
            "connections at once; then one at a time, where every connection finds every worker idle and "
            "EPOLLEXCLUSIVE alone keeps waking the same one.",
            [M["conn_rate"]],
            [_churn(p, p.spread_count, conns, PREFORK_SPREAD, "spread", reference=False,
                    rounds=None if p.name == "full" else 1) for conns in (20, 1)]))

    if p.zombie_count:
        experiments.append(Experiment(
            "zombies", "Process per client: zombies after a long churn",
            "Every exited child must be reaped; the count is taken after the run settles.",
            [M["conn_rate"], M["cpu_conn"]],
            [_churn(p, p.zombie_count, 10, ["process"], "zombies", reference=False, rounds=1)]))
    return experiments

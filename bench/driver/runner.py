"""bench/driver/runner.py — HOW one run happens: start a server, load it, stop it, keep the evidence.

Every run starts a fresh server (port 0, --quiet) in its own session, so that each run begins
from the same state and the whole process tree can be killed at the end. echo-load samples the
server tree's CPU and memory through /proc (--server-pid). The server gets SIGTERM at the end:
its exit code and its last words (prefork's per-worker counters) are part of the result.

Pinning (when the machine has at least 2 cores): echo-load always runs on the first core; a
single-threaded server on the last one, so that it never competes with the generator. Servers
with several threads or processes are not pinned: taking two cores is their design.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from matrix import Point, Variant


@dataclass
class RunResult:
    experiment: str
    point: str
    variant: str
    round: int
    status: str                       # ok | errors | start-failed | load-failed
    load: Optional[dict] = None       # echo-load's JSON line
    message: str = ""                 # why it is not ok
    server_cmd: list[str] = field(default_factory=list)
    load_cmd: list[str] = field(default_factory=list)
    server_exit: Optional[int] = None       # after SIGTERM; None if it had to be killed
    server_exit_s: Optional[float] = None   # how long it took to exit after SIGTERM
    workers: list[dict] = field(default_factory=list)  # prefork: [{"worker":, "accepts":, "wakeups":}]
    seconds: float = 0.0

    def value(self, key: str) -> Optional[float]:
        if self.status != "ok" or not self.load:
            return None
        v = self.load.get(key)
        return float(v) if isinstance(v, (int, float)) else None


_WORKER = re.compile(r"worker\s*[#=:]?\s*(\d+)", re.I)


def _count(text: str, word: str) -> Optional[int]:
    """The number attached to `word` (accept, wake): "accepts=250", "250 accepts" or "accepted 250"."""
    for pattern in (rf"{word}[a-z-]*\s*[=:]\s*(\d+)", rf"(\d+)\s+{word}", rf"{word}[a-z-]*\s+(\d+)"):
        found = re.search(pattern, text, re.I)
        if found:
            return int(found.group(1))
    return None


_LOG_PREFIX = re.compile(r"^\[[^\]]*\]\s*")


def _worker_table(lines: list[str]) -> dict[int, dict]:
    """A table with a header naming "worker" and an "accept..." column, then one numeric row per
    worker, e.g. (06-prefork's table at exit):
        worker      pid   accepted  empty-wakeups  lock-busy   open
             0     1655       1422             19          0      0
    """
    workers: dict[int, dict] = {}
    header: list[str] = []
    for line in lines:
        words = _LOG_PREFIX.sub("", line).split()
        if "worker" in words and any(w.startswith("accept") for w in words):
            header, workers = words, {}  # a later table (SIGUSR1, then exit) replaces an earlier one
            continue
        if not header:
            continue
        if len(words) != len(header) or not all(w.isdigit() for w in words):
            header = []  # the "total" line, or the end of the table
            continue
        row = dict(zip(header, map(int, words)))
        accepts = next(v for k, v in row.items() if k.startswith("accept"))
        entry = {"worker": row["worker"], "accepts": accepts, "columns": row}
        wakeups = next((v for k, v in row.items() if k.replace("-", "") == "wakeups"), None)
        empty = next((v for k, v in row.items() if "empty" in k and "wake" in k), None)
        if wakeups is not None:
            entry["wakeups"] = wakeups
        elif empty is not None:
            entry["wakeups"] = accepts + empty  # wake-ups that accepted, plus the ones that found nothing
        workers[entry["worker"]] = entry
    return workers


def parse_worker_counters(text: str) -> list[dict]:
    """Per-worker counters from a prefork server's output, in one of two shapes: a table (see
    _worker_table), or one line per worker such as "worker 2: 250 accepts, 251 wake-ups" or
    "worker=2 accepted=250 wakeups=251" (the last line per worker wins).
    """
    lines = text.splitlines()
    workers = _worker_table(lines)
    if workers:
        return [workers[k] for k in sorted(workers)]
    for line in lines:
        worker = _WORKER.search(line)
        if not worker:
            continue
        rest = line[:worker.start()] + " " + line[worker.end():]  # the worker's number is not a count
        accepts = _count(rest, "accept")
        if accepts is None:
            continue
        entry = {"worker": int(worker.group(1)), "accepts": accepts}
        wakeups = _count(rest, "wake")
        if wakeups is not None:
            entry["wakeups"] = wakeups
        workers[entry["worker"]] = entry
    return [workers[k] for k in sorted(workers)]


def _more_descriptors() -> None:
    """In the server, before exec: as many descriptors as allowed (10,000 held connections)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Runner:
    def __init__(self, bin_dir: Path, log_dir: Path, pin: bool):
        self.bin_dir = bin_dir
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._help: dict[str, str] = {}
        cpus = sorted(os.sched_getaffinity(0))
        self.pinning = pin and len(cpus) >= 2 and shutil.which("taskset") is not None
        self.generator_cpu = cpus[0]
        self.server_cpu = cpus[-1]

    def binary(self, name: str) -> Path:
        return self.bin_dir / name

    def built(self, variant: Variant) -> bool:
        return os.access(self.binary(variant.binary), os.X_OK)

    def help_text(self, binary: str) -> str:
        if binary not in self._help:
            try:
                run = subprocess.run([str(self.binary(binary)), "--help"], capture_output=True, text=True, timeout=10)
                self._help[binary] = run.stdout
            except (OSError, subprocess.TimeoutExpired):
                self._help[binary] = ""
        return self._help[binary]

    def missing_options(self, variant: Variant) -> list[str]:
        """Options of this variant that the binary's --help does not mention (not implemented yet)."""
        text = self.help_text(variant.binary)
        return [a for a in variant.args if a.startswith("--") and a not in text]

    def _pinned(self, cpu: int, command: list[str]) -> list[str]:
        return ["taskset", "-c", str(cpu)] + command if self.pinning else command

    def server_command(self, variant: Variant) -> list[str]:
        command = [str(self.binary(variant.binary)), *variant.args, "--port", "0", "--quiet"]
        if "--max-conns" in self.help_text(variant.binary):
            command += ["--max-conns", "100000"]  # the bench decides the load, not a lesson's default cap
        return self._pinned(self.server_cpu, command) if variant.single_threaded else command

    def run(self, variant: Variant, point: Point, round_index: int, timeout_s: float) -> RunResult:
        began = time.monotonic()
        result = RunResult(point.experiment, point.name, variant.key, round_index, "ok")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{point.experiment}-{point.name}").strip("-")
        stem = self.log_dir / f"{slug}-r{round_index + 1}-{variant.key}"
        result.server_cmd = self.server_command(variant)
        with open(f"{stem}.out", "w+") as out, open(f"{stem}.err", "w+") as err:
            server = subprocess.Popen(result.server_cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      start_new_session=True, preexec_fn=_more_descriptors)
            try:
                endpoint = self._wait_listening(server, Path(f"{stem}.out"))
                if endpoint is None:
                    result.status = "start-failed"
                    result.message = self._first_line(Path(f"{stem}.err")) or "no 'listening on' line"
                else:
                    self._load(result, point, server.pid, endpoint, timeout_s)
            finally:
                self._stop(server, result)
            result.workers = parse_worker_counters(Path(f"{stem}.out").read_text(errors="replace") +
                                                   Path(f"{stem}.err").read_text(errors="replace"))
        result.seconds = time.monotonic() - began
        return result

    def run_together(self, variants: list[Variant], point: Point, round_index: int,
                     timeout_s: float) -> list[RunResult]:
        """Every variant at once, each with its own echo-load, over the same seconds: whatever else
        the machine does then hits all of them alike, so a per-round ratio compares like with like.
        (The one-syscall experiment: the same server with and without one extra call per echo.)"""
        began = time.monotonic()
        results, servers, files = [], [], []
        try:
            for variant in variants:
                result = RunResult(point.experiment, point.name, variant.key, round_index, "ok")
                slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{point.experiment}-{point.name}").strip("-")
                stem = self.log_dir / f"{slug}-r{round_index + 1}-{variant.key}"
                result.server_cmd = self.server_command(variant)
                out, err = open(f"{stem}.out", "w+"), open(f"{stem}.err", "w+")
                files += [out, err]
                servers.append(subprocess.Popen(result.server_cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                                start_new_session=True, preexec_fn=_more_descriptors))
                results.append((result, Path(f"{stem}.out"), Path(f"{stem}.err")))
            loads = []
            for (result, out_path, err_path), server in zip(results, servers):
                endpoint = self._wait_listening(server, out_path)
                if endpoint is None:
                    result.status = "start-failed"
                    result.message = self._first_line(err_path) or "no 'listening on' line"
                    continue
                host, port = endpoint
                result.load_cmd = self._pinned(self.generator_cpu, [
                    str(self.binary("echo-load")), "--host", host, "--port", port, "--server-pid", str(server.pid),
                    "--json-only", *point.load])
                loads.append((result, subprocess.Popen(result.load_cmd, stdout=subprocess.PIPE,
                                                       stderr=subprocess.PIPE, text=True)))
            for result, load in loads:
                try:
                    stdout, stderr = load.communicate(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    load.kill()
                    load.communicate()
                    result.status, result.message = "load-failed", f"echo-load still running after {timeout_s:.0f} s"
                    continue
                self._take_load_output(result, load.returncode, stdout, stderr)
        finally:
            for (result, _, _), server in zip(results, servers):
                self._stop(server, result)
            for f in files:
                f.close()
        for result, _, _ in results:
            result.seconds = time.monotonic() - began
        return [result for result, _, _ in results]

    @staticmethod
    def _first_line(path: Path) -> str:
        text = path.read_text(errors="replace").strip()
        return text.splitlines()[0] if text else ""

    @staticmethod
    def _wait_listening(server: subprocess.Popen, out: Path) -> Optional[tuple[str, str]]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = out.read_text(errors="replace")
            if "\n" in text:
                line = text.splitlines()[0]
                if not line.startswith("listening on "):
                    return None
                host, _, port = line[len("listening on "):].rpartition(":")
                return host.strip("[]"), port
            if server.poll() is not None:
                return None
            time.sleep(0.005)
        return None

    def _load(self, result: RunResult, point: Point, pid: int, endpoint: tuple[str, str], timeout_s: float) -> None:
        host, port = endpoint
        command = [str(self.binary("echo-load")), "--host", host, "--port", port, "--server-pid", str(pid),
                   "--json-only", *point.load]
        result.load_cmd = self._pinned(self.generator_cpu, command)
        try:
            run = subprocess.run(result.load_cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            result.status, result.message = "load-failed", f"echo-load still running after {timeout_s:.0f} s"
            return
        self._take_load_output(result, run.returncode, run.stdout, run.stderr)

    @staticmethod
    def _take_load_output(result: RunResult, returncode: int, stdout: str, stderr: str) -> None:
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if returncode not in (0, 1) or not lines:
            result.status = "load-failed"
            result.message = (stderr.strip().splitlines() or [f"echo-load exit {returncode}"])[0]
            return
        result.load = json.loads(lines[-1])
        if not result.load.get("valid", False):
            result.status, result.message = "errors", result.load.get("first_error", "")

    @staticmethod
    def _stop(server: subprocess.Popen, result: RunResult) -> None:
        began = time.monotonic()
        try:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
            result.server_exit = server.wait(timeout=3)
            result.server_exit_s = time.monotonic() - began
        except subprocess.TimeoutExpired:
            result.server_exit = None
        finally:
            try:
                os.killpg(server.pid, signal.SIGKILL)  # whatever the server left in its session
            except ProcessLookupError:
                pass
            server.wait()

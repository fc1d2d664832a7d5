"""bench/driver/test_report.py — from runs to rows: round pairing, errors, prefork counters."""

import unittest

from matrix import PROFILES, VARIANTS, build, smoke
from report import (Row, demo_table, generator_lines, generator_ratio, markdown_point, summarize_point,
                    syscall_verdict)
from runner import RunResult, parse_worker_counters


def run(variant, round_index, rps=None, status="ok", workers=(), **fields):
    load = {"valid": status == "ok", "rps": rps, "p99_us": 100.0, "timed_out": 0, "connect_timeouts": 0,
            "errors": 0 if status == "ok" else 1, "served": 10, **fields}
    return RunResult("pingpong", "p", variant, round_index, status, load=load, message="wrong echo" if status != "ok"
                     else "", server_exit=0, server_exit_s=0.01, workers=list(workers))


class Rows(unittest.TestCase):
    def setUp(self):
        experiments = build(PROFILES["quick"])
        self.experiment = next(e for e in experiments if e.key == "pingpong")
        self.point = self.experiment.points[0]

    def test_ratios_pair_runs_of_the_same_round(self):
        asio = Row("asio", runs=[run("asio", 0, 100.0), run("asio", 1, 50.0)])
        select = Row("select", runs=[run("select", 0, 110.0), run("select", 1, 55.0)])
        result = summarize_point(self.experiment, self.point, [asio, select])
        summary = result.row("select").ratios["rps"]
        self.assertAlmostEqual(summary.low, 1.1)
        self.assertAlmostEqual(summary.high, 1.1)
        self.assertEqual(result.row("select").medians["rps"], 82.5)

    def test_one_wrong_echo_makes_the_whole_row_an_error_without_numbers(self):
        asio = Row("asio", runs=[run("asio", 0, 100.0), run("asio", 1, 100.0)])
        broken = Row("thread", runs=[run("thread", 0, 120.0), run("thread", 1, status="errors")])
        result = summarize_point(self.experiment, self.point, [asio, broken])
        row = result.row("thread")
        self.assertEqual(row.status, "errors")
        self.assertIn("1 of 2 runs", row.message)
        self.assertEqual(row.medians, {})
        table = "\n".join(markdown_point(result))
        self.assertIn("**errors**", table)
        self.assertNotIn("120", table)

    def test_a_row_that_cannot_run_says_why(self):
        asio = Row("asio", runs=[run("asio", 0, 100.0)])
        iterative = Row("iterative", status="cannot", message="serves one client at a time")
        table = "\n".join(markdown_point(summarize_point(self.experiment, self.point, [asio, iterative])))
        self.assertIn("cannot: serves one client at a time", table)

    def test_demo_table_shows_requests_and_cpu_per_echo_against_asio(self):
        experiment = build(PROFILES["demo"])[0]
        (capacity_point,) = experiment.points
        capacity = summarize_point(experiment, capacity_point, [
            Row("asio", runs=[run("asio", r, 100.0, served=50, server_cpu_us_per_req=10.0) for r in range(3)]),
            Row("iterative", runs=[run("iterative", r, 90.0, served=1, server_cpu_us_per_req=12.0)
                                   for r in range(3)])])
        text = demo_table([capacity])
        self.assertIn("1 of 50", text)
        self.assertIn("90", text)      # requests/s, as a number
        self.assertNotIn("0.90×", text)  # ... without a ratio: it moved 30–40 % between two runs
        self.assertIn("1.20×", text)   # CPU per echo
        self.assertNotIn("p99", text)  # a fixed-rate p99 is not presentable on a shared VM

    def test_a_saturated_generator_beside_an_idle_server_prints_generator_bound(self):
        bound = dict(generator_cpu_pct=99.0, server_cpu_pct=40.0)
        fair = dict(generator_cpu_pct=60.0, server_cpu_pct=60.0)
        asio = Row("asio", runs=[run("asio", r, 100.0, **fair) for r in range(3)])
        select = Row("select", runs=[run("select", r, 110.0, **(bound if r else fair)) for r in range(3)])
        epoll = Row("epoll", runs=[run("epoll", r, 105.0, **(fair if r else bound)) for r in range(3)])
        result = summarize_point(self.experiment, self.point, [asio, select, epoll])
        table = "\n".join(markdown_point(result))
        self.assertTrue(result.row("select").generator_bound)  # 2 of 3 rounds
        self.assertFalse(result.row("epoll").generator_bound)  # 1 of 3 rounds
        self.assertIn("generator-bound", table)
        self.assertIn("1.05×", table)

    def test_a_bound_reference_round_counts_against_the_ratio_too(self):
        bound = dict(generator_cpu_pct=95.0, server_cpu_pct=30.0)
        fair = dict(generator_cpu_pct=60.0, server_cpu_pct=60.0)
        asio = Row("asio", runs=[run("asio", r, 100.0, **bound) for r in range(2)])
        epoll = Row("epoll", runs=[run("epoll", r, 105.0, **fair) for r in range(2)])
        result = summarize_point(self.experiment, self.point, [asio, epoll])
        self.assertTrue(result.row("epoll").generator_bound)

    def test_generator_against_the_floor_is_a_per_round_ratio(self):
        floor = Row("floor", runs=[run("floor", r, 100.0, generator_cpu_us_per_req=g, server_cpu_us_per_req=10.0)
                                   for r, g in enumerate((9.0, 10.0, 9.5))])
        asio = Row("asio", runs=[run("asio", r, 100.0) for r in range(3)])
        result = summarize_point(self.experiment, self.point, [asio, floor])
        summary = generator_ratio(result)
        self.assertAlmostEqual(summary.median, 0.95)
        self.assertAlmostEqual(summary.high, 1.0)
        self.assertIn("0.95×", generator_lines([result])[0])

    def test_syscall_verdict_says_whether_the_ranges_are_apart(self):
        (experiment,) = build(PROFILES["syscall"])
        (point,) = experiment.points
        self.assertEqual(point.reference_key, "floor")

        def rows(extra_cpu):
            return [Row("floor", runs=[run("floor", r, 1000.0 - r, server_cpu_us_per_req=5.0 + r * 0.01)
                                       for r in range(3)]),
                    Row("floor-extra", runs=[run("floor-extra", r, 900.0, server_cpu_us_per_req=c)
                                             for r, c in enumerate(extra_cpu)])]
        apart = syscall_verdict(summarize_point(experiment, point, rows((5.2, 5.3, 5.25))))
        self.assertIn("CPU µs per echo: echo-floor 5.010 (5.000–5.020)", apart)
        self.assertIn("ranges apart", apart.splitlines()[0])
        self.assertIn("ranges apart", apart.splitlines()[1])  # 900 < 998 requests/s
        self.assertIn("above 1 in every round", apart.splitlines()[2])
        close = syscall_verdict(summarize_point(experiment, point, rows((5.0, 5.3, 5.25))))
        self.assertIn("ranges overlap", close.splitlines()[0])
        self.assertIn("not above 1 in every round", close.splitlines()[2])

    def test_prefork_spread_is_max_over_min_of_accepts(self):
        workers = [{"worker": 1, "accepts": 300, "wakeups": 300}, {"worker": 2, "accepts": 200, "wakeups": 260}]
        row = Row("prefork-inherit", runs=[run("prefork-inherit", 0, 10.0, workers=workers)])
        summarize_point(self.experiment, self.point, [row])
        self.assertAlmostEqual(row.worker_spread, 1.5)
        self.assertAlmostEqual(row.wakeups_per_accept, 560 / 500)
        self.assertEqual(row.worker_accepts, [300, 200])


class Counters(unittest.TestCase):
    def test_reads_the_usual_shapes_and_keeps_the_last_line_per_worker(self):
        text = ("[06-prefork 7] worker 1: 10 accepts, 12 wake-ups\n"
                "listening on 127.0.0.1:1\n"
                "[06-prefork 8] worker=2 accepted=7 wakeups=9\n"
                "[06-prefork 7] worker 1: 250 accepts, 251 wake-ups\n")
        self.assertEqual(parse_worker_counters(text), [{"worker": 1, "accepts": 250, "wakeups": 251},
                                                       {"worker": 2, "accepts": 7, "wakeups": 9}])

    def test_reads_a_worker_table_and_counts_empty_wakeups(self):
        text = ("[06-prefork 1] master: worker 0 (pid 5) ready\n"
                "[06-prefork 1] worker table at exit (share inherit, accept-lock exclusive):\n"
                "[06-prefork 1]   worker      pid   accepted  empty-wakeups  lock-busy   open\n"
                "[06-prefork 1]        0     1655       1422             19          0      0\n"
                "[06-prefork 1]        1     1662        641              1          0      0\n"
                "[06-prefork 1]    total                2063             20          0      0\n"
                "[06-prefork 1] master: exiting (0)\n")
        workers = parse_worker_counters(text)
        self.assertEqual([(w["worker"], w["accepts"], w["wakeups"]) for w in workers], [(0, 1422, 1441), (1, 641, 642)])
        self.assertEqual(workers[0]["columns"]["lock-busy"], 0)

    def test_lines_without_counts_are_ignored(self):
        self.assertEqual(parse_worker_counters("worker 3 started\nall good\n"), [])


class Matrix(unittest.TestCase):
    def test_every_point_names_known_variants(self):
        for profile in PROFILES.values():
            for experiment in build(profile) + build(smoke(profile)):
                for point in experiment.points:
                    self.assertTrue(set(point.variants) <= set(VARIANTS), point.name)

    def test_select_cannot_take_descriptors_past_fd_setsize(self):
        self.assertIsNotNone(VARIANTS["select"].cannot_take(10000))
        self.assertIsNone(VARIANTS["select"].cannot_take(1000))

    def test_the_demo_lets_the_iterative_server_show_it_serves_one(self):
        self.assertIsNotNone(VARIANTS["iterative"].cannot_take(50))
        self.assertIsNone(VARIANTS["iterative"].cannot_take(50, observe=True))


if __name__ == "__main__":
    unittest.main()

"""bench/driver/test_benchstats.py — the A/B statistics (run by `ctest -L bench`)."""

import math
import unittest

from benchstats import (RatioSummary, generator_bound, median, ratio, round_order, slowdown, spread,
                        summarize_ratios)


class Median(unittest.TestCase):
    def test_odd_count_takes_the_middle(self):
        self.assertEqual(median([5, 1, 3]), 3)

    def test_even_count_averages_the_two_middles(self):
        self.assertEqual(median([4, 1, 3, 2]), 2.5)

    def test_one_outlier_does_not_move_it(self):
        self.assertEqual(median([10, 11, 12, 10, 1000]), 11)

    def test_nothing_gives_none(self):
        self.assertIsNone(median([]))
        self.assertIsNone(median([None, None]))

    def test_missing_values_are_skipped(self):
        self.assertEqual(median([None, 2, 4]), 3)


class RoundOrder(unittest.TestCase):
    def test_one_server_gives_a_b_b_a(self):
        sequence = [name for r in range(4) for name in round_order("A", ["B"], r)]
        self.assertEqual(sequence, ["A", "B", "B", "A", "A", "B", "B", "A"])

    def test_several_servers_reverse_every_other_round(self):
        self.assertEqual(round_order("ref", ["x", "y"], 0), ["ref", "x", "y"])
        self.assertEqual(round_order("ref", ["x", "y"], 1), ["y", "x", "ref"])

    def test_every_server_runs_once_per_round(self):
        for r in range(3):
            self.assertEqual(sorted(round_order("a", ["b", "c", "d"], r)), ["a", "b", "c", "d"])

    def test_without_reference_servers_still_alternate(self):
        self.assertEqual(round_order(None, ["x", "y"], 1), ["y", "x"])


class Ratios(unittest.TestCase):
    def test_ratio_is_server_over_reference(self):
        self.assertAlmostEqual(ratio(110.0, 100.0), 1.1)

    def test_ratio_needs_both_sides_and_a_nonzero_reference(self):
        self.assertIsNone(ratio(None, 100.0))
        self.assertIsNone(ratio(100.0, None))
        self.assertIsNone(ratio(100.0, 0.0))

    def test_summary_is_median_and_range_over_rounds(self):
        pairs = [(105, 100), (90, 100), (120, 100), (100, 100), (99, 100)]
        summary = summarize_ratios(pairs)
        self.assertAlmostEqual(summary.median, 1.0)
        self.assertAlmostEqual(summary.low, 0.9)
        self.assertAlmostEqual(summary.high, 1.2)
        self.assertEqual(summary.rounds, 5)

    def test_rounds_missing_a_side_are_left_out(self):
        summary = summarize_ratios([(200, 100), (None, 100), (300, None), (220, 100)])
        self.assertEqual(summary.rounds, 2)
        self.assertAlmostEqual(summary.median, 2.1)

    def test_no_usable_round_gives_none(self):
        self.assertIsNone(summarize_ratios([(None, 1), (1, 0)]))

    def test_ratio_of_each_round_not_ratio_of_medians(self):
        # The machine got twice as slow in round 2 for both sides: per-round ratios stay 1.0.
        summary = summarize_ratios([(100, 100), (50, 50), (100, 100)])
        self.assertEqual((summary.low, summary.high), (1.0, 1.0))

    def test_text_shows_range_only_when_there_is_one(self):
        self.assertEqual(RatioSummary(1.04, 0.97, 1.1, 5).text(), "1.04× (0.97–1.10)")
        self.assertEqual(RatioSummary(1.04, 1.04, 1.04, 1).text(), "1.04×")


class Spread(unittest.TestCase):
    def test_even_workers_give_one(self):
        self.assertEqual(spread([250, 250, 250, 250]), 1.0)

    def test_max_over_min(self):
        self.assertAlmostEqual(spread([300, 200, 250]), 1.5)

    def test_an_idle_worker_is_infinitely_uneven(self):
        self.assertTrue(math.isinf(spread([1000, 0])))

    def test_one_worker_has_no_spread(self):
        self.assertIsNone(spread([1000]))

    def test_slowdown_is_fast_over_slow(self):
        self.assertAlmostEqual(slowdown(40000, 10000), 4.0)


class GeneratorBound(unittest.TestCase):
    def test_saturated_generator_and_idle_server_is_bound(self):
        self.assertTrue(generator_bound({"generator_cpu_pct": 97.0, "server_cpu_pct": 50.0, "threads": 1}))

    def test_both_saturated_is_a_fair_race(self):
        self.assertFalse(generator_bound({"generator_cpu_pct": 99.0, "server_cpu_pct": 98.0}))

    def test_a_generator_with_room_is_not_the_limit(self):
        self.assertFalse(generator_bound({"generator_cpu_pct": 70.0, "server_cpu_pct": 30.0}))

    def test_two_generator_threads_saturate_at_two_cores(self):
        self.assertFalse(generator_bound({"generator_cpu_pct": 120.0, "server_cpu_pct": 50.0, "threads": 2}))
        self.assertTrue(generator_bound({"generator_cpu_pct": 185.0, "server_cpu_pct": 50.0, "threads": 2}))

    def test_missing_numbers_decide_nothing(self):
        self.assertFalse(generator_bound(None))
        self.assertFalse(generator_bound({"generator_cpu_pct": 99.0}))


if __name__ == "__main__":
    unittest.main()

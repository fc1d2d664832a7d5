#!/usr/bin/env python3
"""tests/scripts/export_student_test.py — scripts/export-student gives a student lesson N and nothing after it.

One export of 02-process, checked as a student would use it (label starters):
  * what is in it: 01 whole, 02 as make-starter's starter, common/, the harness without the broken
    servers, the grader with 02's rubric and the rubrics it includes; nothing of 03-07, bench/,
    tools/, slides/ or fuzz/ (later assignments' solutions), and no generated starter/ anywhere;
  * it configures and builds with the README's preset, its untouched server scores above 0 and below
    the pass mark, and the same tree filled with the reference (make-starter --fill) scores 100;
  * usage: --version, exit 2 for an unknown lesson, exit 1 for an existing non-empty OUTDIR.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "export-student"
VERSION = (ROOT / "VERSION").read_text().strip()
LESSON = "02-process"


def run(*args: str, cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd)


def grade(tree: Path) -> dict:
    graded = run(sys.executable, str(tree / "scripts" / "grade"), "--lesson", LESSON, cwd=tree)
    assert graded.returncode in (0, 1), graded.stdout[-2000:] + graded.stderr[-2000:]
    return json.loads((tree / "build" / "grade" / LESSON / "results.json").read_text())


def percent(results: dict) -> float:
    return 100 * results["score"] / sum(test["max_score"] for test in results["tests"])


class ExportStudent(unittest.TestCase):
    def test_usage(self):
        self.assertEqual(run(sys.executable, str(SCRIPT), "--version").stdout, f"export-student {VERSION}\n")
        self.assertEqual(run(sys.executable, str(SCRIPT), "99-nothing", "/tmp/x").returncode, 2)
        with tempfile.TemporaryDirectory() as out:
            Path(out, "mine.txt").write_text("a student's work\n")
            self.assertEqual(run(sys.executable, str(SCRIPT), LESSON, out).returncode, 1)
            self.assertTrue(Path(out, "mine.txt").exists())

    def test_export_builds_scores_low_and_full_when_filled(self):
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "student"
            made = run(sys.executable, str(SCRIPT), LESSON, str(tree))
            self.assertEqual(made.returncode, 0, made.stderr)
            top = {p.name for p in tree.iterdir()}
            for absent in ("03-thread", "04-select", "05-epoll-pool", "06-prefork", "07-master-worker",
                           "bench", "tools", "slides", "fuzz"):
                self.assertNotIn(absent, top, f"{absent} is a later assignment's solution or the instructor's")
            self.assertIn("01-iterative", top)
            self.assertFalse(list(tree.rglob("starter")), "the lesson's folder is the starter: no starter/")
            self.assertFalse((tree / "tests" / "broken").exists())
            starter = Path(tmp) / "starter"
            run(sys.executable, str(ROOT / "scripts" / "make-starter"), str(ROOT / LESSON), str(starter))
            for path in starter.iterdir():
                self.assertEqual((tree / LESSON / path.name).read_text(), path.read_text(), path.name)

            build = ["cmake", "--build", "--preset", "default", "--target", "echo-process", "test-process"]
            configured = run("cmake", "--preset", "default", cwd=tree)
            self.assertEqual(configured.returncode, 0, configured.stdout[-2000:] + configured.stderr[-2000:])
            built = run(*build, cwd=tree)
            self.assertEqual(built.returncode, 0, built.stdout[-3000:])
            untouched = percent(grade(tree))
            self.assertGreater(untouched, 0)
            self.assertLess(untouched, 80, "an untouched starter must stay below the pass mark")

            filled = run(sys.executable, str(ROOT / "scripts" / "make-starter"), str(ROOT / LESSON),
                         str(tree / LESSON), "--fill")
            self.assertEqual(filled.returncode, 0, filled.stderr)
            rebuilt = run(*build, cwd=tree)
            self.assertEqual(rebuilt.returncode, 0, rebuilt.stdout[-3000:])
            self.assertEqual(percent(grade(tree)), 100, "the reference, exported, earns full marks")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""tests/scripts/make_starter_test.py — scripts/make-starter keeps its promises (label starters):

  * for every lesson with `// [todo:...]` markers: `--fill` gives back the reference minus its
    marker, hint (//?) and stub (//|) lines, byte for byte, so a filled starter is the reference
    (which scores 100); the starter has each TODO, its `Checked by:` line and no marker left;
  * every test a marker names is graded by that lesson's rubric (grading/rubrics/NN-name.toml and
    the files it includes), or is a test of the lesson's test binary;
  * usage: --version, exit 2 on bad usage, exit 1 on a malformed marker or a lesson without one.
(That the generated starters build under -Werror and score low is the build's and the grade
tests' business: Grade.Starter.NN-name.)
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make-starter"
VERSION = (ROOT / "VERSION").read_text().strip()
STARTER_ONLY = re.compile(r"^\s*//(?:\s*\[/?todo\b.*|[|?].*)$")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def marked_lessons() -> list[Path]:
    return [lesson for lesson in sorted(ROOT.glob("[0-9][0-9]-*"))
            if any("// [todo:" in p.read_text(encoding="utf-8") for p in lesson.glob("*.?pp"))]


def graded_names(lesson: str) -> set[str]:
    """Short names (after the last '.') of the rubric's tests and of its test binary's TESTs."""
    names: set[str] = set()
    pending = [ROOT / "grading" / "rubrics" / f"{lesson}.toml"]
    while pending:
        with pending.pop().open("rb") as file:
            rubric = tomllib.load(file)
        pending += [ROOT / "grading" / "rubrics" / name for name in rubric.get("include", [])]
        names |= {test["name"].rsplit(".", 1)[-1] for test in rubric.get("test", [])}
    return names


class MakeStarter(unittest.TestCase):
    def test_some_lessons_are_marked(self):
        self.assertTrue({"01-iterative", "02-process", "03-thread"} <= {p.name for p in marked_lessons()})

    def test_fill_gives_back_the_reference_without_markers(self):
        for lesson in marked_lessons():
            with self.subTest(lesson=lesson.name), tempfile.TemporaryDirectory() as out:
                done = run(str(lesson), out, "--fill")
                self.assertEqual(done.returncode, 0, done.stderr)
                for source in sorted(lesson.glob("*.?pp")):
                    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
                    wanted = "".join(line for line in lines if not STARTER_ONLY.match(line))
                    self.assertEqual(Path(out, source.name).read_text(encoding="utf-8"), wanted, source.name)

    def test_starter_has_each_todo_and_no_marker(self):
        for lesson in marked_lessons():
            with self.subTest(lesson=lesson.name), tempfile.TemporaryDirectory() as out:
                listed = run("--list", str(lesson))
                self.assertEqual(listed.returncode, 0, listed.stderr)
                self.assertEqual(run(str(lesson), out).returncode, 0)
                text = "".join(p.read_text(encoding="utf-8") for p in sorted(Path(out).glob("*.?pp")))
                self.assertNotRegex(text, r"\[/?todo|//[|?]")
                for line in listed.stdout.splitlines():
                    _, number, title, _ = line.split("\t")
                    self.assertIn(f"// TODO {number}: {title}\n", text)
                self.assertEqual(text.count("// Checked by: "), len(listed.stdout.splitlines()))

    def test_every_test_a_marker_names_is_graded(self):
        for lesson in marked_lessons():
            names = graded_names(lesson.name)
            listed = run("--list", str(lesson)).stdout.splitlines()
            for line in listed:
                path, number, _, tests = line.split("\t")
                self.assertTrue(tests, f"{lesson.name}/{path}: todo {number} names no test")
                for test in tests.split(", "):
                    with self.subTest(lesson=lesson.name, todo=number, test=test):
                        self.assertIn(test, names, f"{lesson.name}/{path}: todo {number} names {test}, which "
                                                   f"grading/rubrics/{lesson.name}.toml does not grade")

    def test_rename_changes_only_the_named_literal(self):
        with tempfile.TemporaryDirectory() as out:
            self.assertEqual(run(str(ROOT / "01-iterative"), out, "--rename",
                                 "echo-iterative=echo-iterative-starter").returncode, 0)
            main = Path(out, "main.cpp").read_text(encoding="utf-8")
            self.assertIn('"echo-iterative-starter"', main)
            self.assertNotIn('"echo-iterative"', main)

    def test_usage(self):
        shown = run("--version")
        self.assertEqual((shown.returncode, shown.stdout), (0, f"make-starter {VERSION}\n"))
        for args in ([], ["--no-such-option"], [str(ROOT / "01-iterative")], ["/no/such/lesson", "/tmp/x"],
                     [str(ROOT / "01-iterative"), "/tmp/x", "--rename", "nothing"]):
            with self.subTest(args=args):
                self.assertEqual(run(*args).returncode, 2)

    def test_malformed_markers_and_unmarked_lessons_exit_1(self):
        cases = {
            "never closed": "// [todo:1 a]\nx\n",
            "without a todo": "x\n// [/todo]\n",
            "inside todo": "// [todo:1 a]\n// [todo:2 b]\n// [/todo]\n// [/todo]\n",
            "crosses a slide": "// [slide:s]\n// [todo:1 a]\n// [/slide]\n// [/todo]\n",
            "opens one it does not end": "// [todo:1 a]\n// [slide:s]\n// [/todo]\n// [/slide]\n",
            "twice": "// [todo:1 a]\n// [/todo]\n// [todo:1 b]\n// [/todo]\n",
            "no // [todo": "int main() {}\n",
        }
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "a.hpp").write_text("// [todo:1 a]\n// [/todo]\n", encoding="utf-8")
            done = run(tmp, str(Path(tmp, "out")))
            self.assertEqual((done.returncode, "a todo in a header" in done.stderr), (1, True), done.stderr)
        for phrase, text in cases.items():
            with self.subTest(phrase=phrase), tempfile.TemporaryDirectory() as tmp:
                Path(tmp, "main.cpp").write_text(text, encoding="utf-8")
                done = run(tmp, str(Path(tmp, "out")))
                self.assertEqual(done.returncode, 1, done.stderr)
                self.assertIn(phrase, done.stderr)

    def test_todo_may_hold_a_slide_region_whole(self):
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "a.cpp").write_text("// [todo:1 t | tests: X]\n//? hint\n// [slide:s]\ncode;\n// [/slide]\n"
                                          "//| stub;\n// [/todo]\n", encoding="utf-8")
            self.assertEqual(run(tmp, str(Path(tmp, "out"))).returncode, 0)
            self.assertEqual(Path(tmp, "out", "a.cpp").read_text(),
                             "// TODO 1: t\n// hint\n// Checked by: X\nstub;\n")


if __name__ == "__main__":
    unittest.main()

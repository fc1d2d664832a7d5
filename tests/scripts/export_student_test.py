#!/usr/bin/env python3
"""tests/scripts/export_student_test.py — scripts/export-student gives a student lesson N and nothing after it.

One export of 02-process, checked as a student would use it (label starters):
  * what is in it: 01 whole, 02 as make-starter's starter, common/, the harness without the broken
    servers, the grader with 02's rubric and the rubrics it includes; nothing of 03-07, bench/,
    tools/, slides/ or fuzz/ (later assignments' solutions), and no generated starter/ anywhere;
  * no solution ships: no name that only the reference's removed todo code uses (make-starter --fill
    against make-starter, less every word the course teaches around it) appears in any exported
    file, nor the name of a rubric entry graded after the due date (its rubric entry and its test
    are taken out; the exported rubric is the visible part of the lesson's points);
  * .github/workflows/classroom.yml parses (grade_test.py's loader), its steps add up to the
    exported rubric's total, its build step's targets are the ones built here, and its first
    grading step, run in the export, scores its points on the filled copy;
  * it configures and builds with the README's preset, `scripts/grade --check` accepts its rubric,
    its untouched server scores above 0 and below the pass mark, and the same tree filled with the
    reference (make-starter --fill) scores 100 of the exported rubric.
  * usage: --version, exit 2 for an unknown lesson, exit 1 for an existing non-empty OUTDIR.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "export-student"
VERSION = (ROOT / "VERSION").read_text().strip()
LESSON = "02-process"
sys.path.insert(0, str(ROOT / "tests" / "grade"))
from grade_test import grade as grader, parse_yaml  # noqa: E402  (the grader as a module, the Classroom test's YAML loader)

WORD = re.compile(r"[A-Za-z_]\w{3,}")
STRINGS_AND_COMMENTS = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
TAUGHT_IN = re.compile(r"^// taught in: (\d\d-[\w-]+)", re.MULTILINE)
# Reference-only names that a lesson's comments outside its todo regions still carry into the
# starter (file in the export -> names): the starter then points at code it does not have. Each
# is for the lesson to reword; the test fails once the name is gone, so that the entry goes too.
KNOWN_MENTIONS: dict[str, set[str]] = {}  # file -> names a comment may mention (none today)


def run(*args: str, cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd)


def grade(tree: Path) -> dict:
    graded = run(sys.executable, str(tree / "scripts" / "grade"), "--lesson", LESSON, cwd=tree)
    assert graded.returncode in (0, 1), graded.stdout[-2000:] + graded.stderr[-2000:]
    return json.loads((tree / "build" / "grade" / LESSON / "results.json").read_text())


def words(paths) -> set[str]:
    return {word for path in paths if path.is_file() for word in WORD.findall(path.read_text(errors="replace"))}


def code_words(folder: Path) -> set[str]:
    """The identifiers of a lesson's sources: strings and comments (the TODO text) left out."""
    return {word for path in folder.iterdir() for word in WORD.findall(STRINGS_AND_COMMENTS.sub(" ", path.read_text()))}


def reference_only_names(tmp: Path) -> set[str]:
    """What only the solution says: identifiers of the reference (make-starter --fill) that the
    generated starter does not have, less every word of what a student may read anyway (the
    earlier lessons, common/ files taught before this lesson, the harness, the rubrics).
    For 02 that is run_child; fork or WNOHANG are in the harness and the pitfalls, so not listed."""
    starter, filled = tmp / "names-starter", tmp / "names-filled"
    for out, extra in ((starter, []), (filled, ["--fill"])):
        made = run(sys.executable, str(ROOT / "scripts" / "make-starter"), str(ROOT / LESSON), str(out), *extra)
        assert made.returncode == 0, made.stderr
    taught = []
    for path in (ROOT / "common").iterdir():
        found = TAUGHT_IN.findall(path.read_text(errors="replace"))
        if not found or found[0] < LESSON:
            taught.append(path)
    earlier = [path for lesson in sorted(ROOT.glob("[0-9][0-9]-*")) if lesson.name < LESSON for path in lesson.rglob("*")]
    harness = [path for path in (ROOT / "tests").rglob("*")
               if path.relative_to(ROOT / "tests").parts[0] not in ("broken", "grade", "scripts")]
    read_anyway = words(taught + earlier + harness + list((ROOT / "grading" / "rubrics").iterdir()))
    return code_words(filled) - code_words(starter) - read_anyway


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
            hidden = self.check_no_solution_ships(tree, Path(tmp))
            workflow = self.check_classroom_workflow(tree)

            build = shlex.split(workflow["build"].split("&&")[-1])  # the workflow's own targets
            self.assertEqual(build[:4], ["cmake", "--build", "--preset", "default"], workflow["build"])
            configured = run("cmake", "--preset", "default", cwd=tree)
            self.assertEqual(configured.returncode, 0, configured.stdout[-2000:] + configured.stderr[-2000:])
            built = run(*build, cwd=tree)
            self.assertEqual(built.returncode, 0, built.stdout[-3000:])
            checked = run(sys.executable, "scripts/grade", "--lesson", LESSON, "--check", cwd=tree)
            self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
            listed = run(str(tree / "build" / "tests" / "test-process"), "--gtest_list_tests").stdout
            self.assertFalse(hidden.intersection(WORD.findall(listed)), "the export's tests leave out the hidden ones")
            untouched = percent(grade(tree))
            self.assertGreater(untouched, 0)
            self.assertLess(untouched, 80, "an untouched starter must stay below the pass mark")

            filled = run(sys.executable, str(ROOT / "scripts" / "make-starter"), str(ROOT / LESSON),
                         str(tree / LESSON), "--fill")
            self.assertEqual(filled.returncode, 0, filled.stderr)
            rebuilt = run(*build, cwd=tree)
            self.assertEqual(rebuilt.returncode, 0, rebuilt.stdout[-3000:])
            self.assertEqual(percent(grade(tree)), 100, "the reference, exported, earns full marks")
            step = workflow["first"]  # as GitHub Classroom runs it: in the export's root, with its paths
            stepped = run(*shlex.split(step["with"]["command"]), cwd=tree, timeout=300)
            results = json.loads((tree / "build" / "grade" / step["id"] / "results.json").read_text())
            self.assertEqual((stepped.returncode, results["score"]), (0, float(step["with"]["max-score"])),
                             stepped.stdout[-2000:] + stepped.stderr[-2000:])

    def check_no_solution_ships(self, tree: Path, tmp: Path) -> set[str]:
        course = grader.load_rubric(ROOT / "grading" / "rubrics" / f"{LESSON}.toml")
        hidden = {item.short for item in course.items if item.visibility != "visible"}
        names = reference_only_names(tmp)
        self.assertTrue(hidden and names, f"nothing to look for (hidden {hidden}, names {names}): the check would pass vacuously")
        exported = [path for path in tree.rglob("*") if path.is_file()]
        for path in exported:
            found = WORD.findall(path.read_text(errors="replace"))
            known = KNOWN_MENTIONS.get(str(path.relative_to(tree)), set())
            self.assertEqual(names.intersection(found), known, f"{path.relative_to(tree)} names the reference's "
                             "solution (or no longer names a KNOWN_MENTIONS entry: drop it)")
            if known:  # a comment's mention, never the code
                code = WORD.findall(STRINGS_AND_COMMENTS.sub(" ", path.read_text()))
                self.assertFalse(names.intersection(code), f"{path.relative_to(tree)} ships the reference's code")
            self.assertFalse(hidden.intersection(found), f"{path.relative_to(tree)} names an entry graded after the due date")
        rubric = grader.load_rubric(tree / "grading" / "rubrics" / f"{LESSON}.toml")
        self.assertEqual([item.name for item in rubric.items],
                         [item.name for item in course.items if item.visibility == "visible"])
        readme = (tree / "README.md").read_text()
        self.assertIn(f"scores {sum(i.points for i in rubric.items):g} of the lesson's "
                      f"{sum(i.points for i in course.items):g} points", readme)
        return hidden

    def check_classroom_workflow(self, tree: Path) -> dict:
        """The workflow the export carries: it parses, adds up, and names the export's targets."""
        data = parse_yaml((tree / ".github" / "workflows" / "classroom.yml").read_text())
        steps = data["jobs"]["run-autograding-tests"]["steps"]
        graders = [s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command-grader@")]
        rubric = grader.load_rubric(tree / "grading" / "rubrics" / f"{LESSON}.toml")
        self.assertEqual(len(graders), len(rubric.items))
        self.assertEqual(sum(float(s["with"]["max-score"]) for s in graders), sum(i.points for i in rubric.items))
        self.assertTrue(steps[-1]["uses"].startswith("classroom-resources/autograding-grading-reporter@"))
        for step in graders:
            self.assertIn(f"--server build/bin/{rubric.reference} ", step["with"]["command"])
        build = next(s["run"] for s in steps if "run" in s and "cmake --build" in s["run"])
        self.assertTrue(build.endswith(f"--target {rubric.test_binary} {rubric.reference}"), build)
        return {"build": build, "first": graders[0]}


if __name__ == "__main__":
    unittest.main()

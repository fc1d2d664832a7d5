#!/usr/bin/env python3
"""tests/grade/grade_test.py — the grader's own tests (ctest label grade).

What it shows: the grader is tested the way it tests servers. It grades servers whose one bug
is known (tests/broken, expectations in tests/broken/expected.toml) and must take exactly the
points of the tests that catch that bug; it grades each lesson's reference and must give full
marks; and it must stay clear and bounded when a server does not start or hangs.

    grade_test.py --list                       one case per line, then the CMake targets it needs
    grade_test.py --build-dir DIR CASE         runs one case; exit 0 when it holds

Cases appear by themselves as lessons land: a rubric in grading/rubrics/ brings its Check.,
Reference. and Starter. cases, and a [name.later] entry of expected.toml its Broken. case.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GRADER = REPO / "scripts" / "grade"
RUBRICS = REPO / "grading" / "rubrics"
EXPECTED = REPO / "tests" / "broken" / "expected.toml"


def load_script(name: str, path: Path):
    sys.dont_write_bytecode = True
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def load_grader():
    """scripts/grade as a module, so the tests read rubrics exactly as the grader does."""
    sys.dont_write_bytecode = True  # no scripts/__pycache__ in the source tree
    loader = importlib.machinery.SourceFileLoader("grade", str(GRADER))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("grade", loader))
    sys.modules["grade"] = module  # dataclasses look their module up while the class is built
    loader.exec_module(module)
    return module


grade = load_grader()
gradescope_check = load_script("check_results", REPO / "grading" / "gradescope" / "check-results")


class Failed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


# ---- running the grader ---------------------------------------------------------------------


class Graded:
    """One run of scripts/grade, with what it printed and wrote."""

    def __init__(self, build_dir: Path, work: Path, *args: str, timeout: float = 600):
        self.out_dir = work / "results"
        command = [sys.executable, str(GRADER), "--build-dir", str(build_dir), "--out", str(self.out_dir), *args]
        started = time.monotonic()
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        self.seconds = time.monotonic() - started
        self.exit_code, self.stdout, self.stderr = run.returncode, run.stdout, run.stderr
        results = self.out_dir / "results.json"
        self.results = json.loads(results.read_text()) if results.exists() else None
        junit = self.out_dir / "junit.xml"
        self.junit = ET.parse(junit).getroot() if junit.exists() else None

    def describe(self) -> str:
        return f"exit {self.exit_code} after {self.seconds:.1f} s\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def failed_items(self, rubric) -> set[str]:
        """Rubric test names that lost their points (results.json lists them in rubric order)."""
        check(self.results is not None, f"no results.json\n{self.describe()}")
        tests = self.results["tests"]
        check(len(tests) == len(rubric.items), f"{len(tests)} results for {len(rubric.items)} rubric tests")
        return {item.name for item, test in zip(rubric.items, tests) if test["score"] < test["max_score"]}

    def check_reports(self) -> None:
        """results.json and junit.xml agree with each other and with the exit code."""
        check(self.results is not None and self.junit is not None, f"missing reports\n{self.describe()}")
        tests = self.results["tests"]
        for test in tests:
            missing = {"name", "score", "max_score", "output", "visibility"} - set(test)
            check(not missing, f"results.json test without {missing}: {test}")
        check(abs(sum(t["score"] for t in tests) - self.results["score"]) < 1e-9, "score is not the sum of tests")
        cases = self.junit.findall("./testsuite/testcase")
        check(len(cases) == len(tests), f"junit.xml has {len(cases)} testcases, results.json {len(tests)}")
        lost = sum(t["score"] < t["max_score"] for t in tests)
        check(int(self.junit.get("failures")) + int(self.junit.get("errors")) == lost,
              "junit.xml failures + errors differ from the tests that lost points")
        passed = self.results["extra_data"]["passed"]
        check(self.exit_code == (0 if passed else 1), f"exit {self.exit_code}, but passed={passed}")
        problems = gradescope_check.problems(self.results)  # the fields and types Gradescope documents
        check(not problems, f"results.json is not Gradescope's format: {problems}")

    def check_explanations(self, rubric) -> None:
        """A failure whose depends_on test failed too points there, not at its own pitfall."""
        lost = self.failed_items(rubric)
        for item, test in zip(rubric.items, self.results["tests"]):
            if item.name in lost and item.depends_on in lost and not test["output"].startswith("not run"):
                check(test["output"].startswith("first fix"), f"{item.name}: {test['output'][:120]}")


# ---- the cases ------------------------------------------------------------------------------


class Context:
    def __init__(self, build_dir: Path, work: Path):
        self.build_dir, self.work = build_dir, work

    def grade(self, *args: str, timeout: float = 600) -> Graded:
        return Graded(self.build_dir, self.work, *args, timeout=timeout)

    def server(self, name: str) -> Path:
        for folder in ("tests/broken", "bin"):
            path = self.build_dir / folder / name
            if path.is_file():
                return path
        raise Failed(f"{name} is not built in {self.build_dir}/tests/broken or {self.build_dir}/bin")

    def rubric_file(self, text: str) -> Path:
        path = self.work / "rubric.toml"
        path.write_text(textwrap.dedent(text))
        return path


def rubric_data(lesson: str) -> dict:
    with (RUBRICS / f"{lesson}.toml").open("rb") as file:
        return tomllib.load(file)


def lesson_rubrics() -> list[str]:
    """Rubrics that grade something (conformance.toml is only included)."""
    return [path.stem for path in sorted(RUBRICS.glob("*.toml")) if "test_binary" in rubric_data(path.stem)]


def check_rubric(ctx: Context, lesson: str) -> None:
    graded = ctx.grade("--lesson", lesson, "--check", timeout=60)
    check(graded.exit_code == 0, f"rubric {lesson} refused:\n{graded.describe()}")


def reference_gets_full_marks(ctx: Context, lesson: str) -> None:
    graded = ctx.grade("--lesson", lesson)
    graded.check_reports()
    rubric = grade.load_rubric(RUBRICS / f"{lesson}.toml")
    lost = graded.failed_items(rubric)
    check(not lost, f"the reference {lesson} lost points on {sorted(lost)}\n{graded.describe()}")
    check(graded.exit_code == 0, graded.describe())


def starter_scores_low_but_not_zero(ctx: Context, lesson: str) -> None:
    starter = ctx.server(rubric_data(lesson)["reference"] + "-starter")
    graded = ctx.grade("--lesson", lesson, "--server", str(starter))
    graded.check_reports()
    graded.check_explanations(grade.load_rubric(RUBRICS / f"{lesson}.toml"))
    extra = graded.results["extra_data"]
    check(0 < extra["percent"] < extra["pass_percent"],
          f"an untouched starter should score above 0 and below the pass mark, got {extra['percent']}%\n"
          f"{graded.describe()}")


def without_options(ctx: Context, server: Path, drop: dict) -> Path:
    """A stand-in for `server` that leaves out the lesson options it does not know, then exec()s
    it: same pid, same everything else. A fixture has only the contract's command line, while a
    lesson's suite passes its own options to whole variants (05: --edge, --threads 2); without
    this, every test of those variants would fail at the usage error instead of at the bug."""
    check(all(isinstance(name, str) and isinstance(count, int) for name, count in drop.items()),
          f"drop_options maps an option to how many values follow it: {drop}")
    wrapper = ctx.work / f"{server.name}-without-options"
    wrapper.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import os, sys
        drop = {drop!r}
        args, words = [], iter(sys.argv[1:])
        for word in words:
            name = word.split("=", 1)[0]
            if name not in drop:
                args.append(word)
            elif "=" not in word:
                for _ in range(drop[name]):
                    next(words, None)
        os.execv({str(server)!r}, [{str(server)!r}, *args])
        """))
    wrapper.chmod(0o755)
    return wrapper


def broken_server_loses_exactly_its_points(ctx: Context, name: str, entry: dict) -> None:
    check(not any(test.startswith("TODO") for test in entry["fail"]),
          f"tests/broken/expected.toml [{name}]: grading/rubrics/{entry['rubric']}.toml exists now; replace "
          f"the TODO with the test that must catch this bug: {entry['fail']}")
    server = ctx.server(entry.get("server", f"echo-broken-{name}"))
    if "drop_options" in entry:
        server = without_options(ctx, server, entry["drop_options"])
    graded = ctx.grade("--lesson", entry["rubric"], "--server", str(server))
    graded.check_reports()
    rubric = grade.load_rubric(RUBRICS / f"{entry['rubric']}.toml")
    unknown = (set(entry["fail"]) | set(entry.get("may_fail", []))) - {item.name for item in rubric.items}
    check(not unknown, f"expected.toml [{name}] names tests the {entry['rubric']} rubric does not have: {unknown}")
    graded.check_explanations(rubric)
    # may_fail: tests the bug fails only when timing lets it show (exits that happen to coalesce).
    lost, expected, maybe = graded.failed_items(rubric), set(entry["fail"]), set(entry.get("may_fail", []))
    check(expected <= lost <= expected | maybe,
          f"{server.name} against {entry['rubric']}:\n  should fail but passed: {sorted(expected - lost)}\n"
          f"  should pass but failed: {sorted(lost - expected - maybe)}\n{graded.describe()}")
    if "message" in entry:
        check(entry["message"] in graded.stdout, f"stdout lacks {entry['message']!r}\n{graded.describe()}")


def refuses_rubric_naming_unknown_test(ctx: Context) -> None:
    rubric = ctx.rubric_file("""\
        test_binary = "test-iterative"
        [categories]
        echo = "Echo"
        [[test]]
        name = "Lesson/Conformance.EchoesOneLine"
        points = 1
        category = "echo"
        pitfall = "a real test"
        [[test]]
        name = "Lesson/Conformance.EchoesOneLin"
        points = 1
        category = "echo"
        pitfall = "a typo"
        """)
    graded = ctx.grade("--rubric", str(rubric), timeout=60)
    check(graded.exit_code == 2, f"a rubric naming a missing test must be refused (exit 2)\n{graded.describe()}")
    check("Lesson/Conformance.EchoesOneLin" in graded.stderr and "did you mean Lesson/Conformance.EchoesOneLine"
          in graded.stderr, f"the refusal should name the test and suggest the close one\n{graded.describe()}")
    check(graded.results is None, "a refused rubric must not produce results")


def refuses_exclude_of_test_not_included(ctx: Context) -> None:
    rubric = ctx.rubric_file(f"""\
        test_binary = "test-iterative"
        include = ["{RUBRICS / 'conformance.toml'}"]
        exclude = ["Lesson/Conformance.NoSuchTest"]
        """)
    graded = ctx.grade("--rubric", str(rubric), timeout=60)
    check(graded.exit_code == 2 and "Lesson/Conformance.NoSuchTest" in graded.stderr, graded.describe())


def points_table_reweighs_included_tests_and_refuses_unknown_ones(ctx: Context) -> None:
    (ctx.work / "fragment.toml").write_text(textwrap.dedent("""\
        [categories]
        echo = "Echo"
        [[test]]
        name = "Lesson/Conformance.EchoesOneLine"
        points = 1
        category = "echo"
        pitfall = "no echo"
        """))
    rubric = ctx.rubric_file("""\
        test_binary = "test-iterative"
        reference = "echo-iterative"
        include = ["fragment.toml"]
        [points]
        "Lesson/Conformance.EchoesOneLine" = 7
        """)
    graded = ctx.grade("--rubric", str(rubric), timeout=120)
    graded.check_reports()
    check(graded.results["tests"][0]["max_score"] == 7, f"[points] did not reweigh:\n{graded.describe()}")
    rubric.write_text(rubric.read_text().replace("EchoesOneLine\" = 7", "EchoesOneLin\" = 7"))
    refused = ctx.grade("--rubric", str(rubric), timeout=60)
    check(refused.exit_code == 2 and "[points] names 'Lesson/Conformance.EchoesOneLin'" in refused.stderr,
          f"a [points] entry for a test no include lists must be refused\n{refused.describe()}")


def entry_stops_at_its_first_failing_variant(ctx: Context) -> None:
    # test-epoll runs each conformance test three ways; a server that echoes nothing fails the
    # first, and the other two cannot change the entry's score.
    rubric = ctx.rubric_file("""\
        test_binary = "test-epoll"
        [categories]
        echo = "Echo"
        [[test]]
        name = "Lesson/Conformance.EchoesOneLine"
        points = 1
        category = "echo"
        pitfall = "no echo"
        """)
    graded = ctx.grade("--rubric", str(rubric), "--server", str(ctx.server("echo-iterative-starter")), timeout=120)
    graded.check_reports()
    output = graded.results["tests"][0]["output"]
    check("[Lesson/Conformance.EchoesOneLine/epoll]" in output and "epoll_edge]" not in output,
          f"expected the first variant's failure only:\n{output}")


def server_that_exits_at_once_scores_zero_quickly(ctx: Context) -> None:
    graded = ctx.grade("--lesson", "01-iterative", "--server", "/bin/false", timeout=120)
    graded.check_reports()
    check(graded.results["score"] == 0, f"/bin/false scored {graded.results['score']}")
    check("did not start: it exited (exit code 1)" in graded.stdout, f"no clear start-up message\n{graded.describe()}")
    check(graded.seconds < 30, f"took {graded.seconds:.0f} s: tests that need a server should not even run")


def hung_server_is_cut_at_each_deadline_and_leaves_no_process(ctx: Context) -> None:
    # A copy with a name of its own, so that only this run's processes are looked for.
    server = ctx.work / f"hang-{os.getpid()}"
    shutil.copy(ctx.server("echo-broken-hang"), server)
    rubric = ctx.rubric_file("""\
        test_binary = "test-iterative"
        default_timeout = 2
        [categories]
        echo = "Echo"
        [[test]]
        name = "Lesson/Conformance.EchoesOneLine"
        points = 1
        category = "echo"
        pitfall = "no echo"
        [[test]]
        name = "Lesson/Conformance.EchoesPipelinedLinesSentInOneWrite"
        points = 1
        category = "echo"
        pitfall = "no echo either"
        [[test]]
        # Passes at once, and leaves the worker behind: swept after a test that ended normally.
        name = "Lesson/Conformance.PrintsListeningLineWithTheRealPort"
        points = 1
        category = "echo"
        pitfall = "no listening line"
        """)
    graded = ctx.grade("--rubric", str(rubric), "--server", str(server), timeout=120)
    graded.check_reports()
    check(graded.stdout.count("TIME ") == 2, f"both echo tests should be stopped at their deadline\n{graded.describe()}")
    check(graded.results["score"] == 1, f"the listening-line test should pass\n{graded.describe()}")
    check(graded.seconds < 20, f"two 2 s deadlines took {graded.seconds:.0f} s")
    left = [pid for pid, comm in processes() if comm == server.name[:15]]
    check(not left, f"processes left behind (the fixture's worker is in a group of its own): {left}")


def hidden_tests_are_not_named_in_the_table(ctx: Context) -> None:
    rubric = ctx.rubric_file("""\
        test_binary = "test-iterative"
        pass_percent = 50
        [categories]
        echo = "Echo"
        [[test]]
        name = "Lesson/Conformance.EchoesOneLine"
        points = 1
        category = "echo"
        pitfall = "no echo"
        [[test]]
        name = "Lesson/Conformance.EchoesPartialLineWhenClientHalfCloses"
        points = 1
        category = "echo"
        visibility = "after_due_date"
        pitfall = "the secret pitfall"
        """)
    server = str(ctx.server("echo-broken-drops-tail"))
    graded = ctx.grade("--rubric", str(rubric), "--server", server, timeout=120)
    graded.check_reports()
    check("hidden test 1" in graded.stdout, graded.describe())
    for secret in ("EchoesPartialLine", "the secret pitfall"):
        check(secret not in graded.stdout, f"the table shows {secret!r} of a hidden test\n{graded.describe()}")
    hidden = graded.results["tests"][1]
    check(hidden["visibility"] == "after_due_date" and hidden["score"] == 0, f"results.json: {hidden}")
    check(all(test["visibility"] != "hidden" for test in graded.results["tests"]), "a hidden test hides the total")
    shown = ctx.grade("--rubric", str(rubric), "--server", server, "--show-hidden", timeout=120)
    check("the secret pitfall" in shown.stdout, f"--show-hidden should name it\n{shown.describe()}")
    # "hidden" itself is refused: on Gradescope it would hide the student's total.
    rubric.write_text(rubric.read_text().replace('"after_due_date"', '"hidden"'))
    shutil.rmtree(ctx.work / "results")  # the runs above wrote there
    refused = ctx.grade("--rubric", str(rubric), "--server", server, timeout=60)
    check(refused.exit_code == 2 and "hides the student's total" in refused.stderr
          and '"after_due_date"' in refused.stderr, f"visibility hidden must be refused, saying why\n{refused.describe()}")
    check(refused.results is None, "a refused rubric must not produce results")


def skipped_test_scores_its_full_points(ctx: Context) -> None:
    # test-iterative skips ServesAnotherClientWhileOneIsIdle (01 serves one client at a time):
    # the same kind of skip as "no IPv6 loopback here". It must score its points, and the total
    # must stay the rubric's, so that a perfect submission is 2/2 on every machine.
    rubric = ctx.rubric_file("""\
        test_binary = "test-iterative"
        reference = "echo-iterative"
        [categories]
        echo = "Echo"
        [[test]]
        name = "Lesson/Conformance.EchoesOneLine"
        points = 1
        category = "echo"
        pitfall = "no echo"
        [[test]]
        name = "Lesson/Conformance.ServesAnotherClientWhileOneIsIdle"
        points = 1
        category = "echo"
        pitfall = "skips itself for 01"
        """)
    graded = ctx.grade("--rubric", str(rubric), timeout=120)
    graded.check_reports()
    skipped = graded.results["tests"][1]
    check(graded.results["score"] == 2 and skipped["score"] == skipped["max_score"] == 1,
          f"a skip must score its full points:\n{json.dumps(graded.results, indent=1)[:1500]}")
    check(skipped["output"].startswith("does not apply here") and skipped["status"] == "passed", f"{skipped}")
    check(graded.results["extra_data"]["max_score"] == 2, "the total must stay the rubric's")
    check("n/a" in graded.stdout and "score their full points" in graded.stdout, graded.describe())


def selection_grades_a_subset_with_its_own_verdict(ctx: Context) -> None:
    rubric = grade.load_rubric(RUBRICS / "01-iterative.toml")
    one = ctx.grade("--lesson", "01-iterative", "--only", "EchoesOneLine", timeout=120)
    check(one.exit_code == 0 and len(one.results["tests"]) == 1 and one.results["score"] == 5
          and "5/5 points, all passed" in one.stdout, f"--only EchoesOneLine on the reference:\n{one.describe()}")
    starter = str(ctx.server("echo-iterative-starter"))
    contract = ctx.grade("--lesson", "01-iterative", "--category", "contract", "--server", starter, timeout=300)
    wanted = [item.short for item in rubric.items if item.category == "contract"]
    got = [test["name"].rsplit(": ", 1)[1] for test in contract.results["tests"]]
    check(got == wanted, f"--category contract graded {got}, not {wanted}")
    check(0 < contract.results["score"] < sum(i.points for i in rubric.items if i.category == "contract"),
          f"the starter passes some of the contract, not all:\n{contract.describe()}")
    check(contract.exit_code == 1, f"a selection with a failure must exit 1\n{contract.describe()}")
    for args, text in ((("--only", "EchoesOneLin"), "did you mean EchoesOneLine"),
                       (("--category", "nope"), "has the categories"),
                       (("--category", "concurrency"), "no entry")):  # 01 has no concurrency entry
        refused = ctx.grade("--lesson", "01-iterative", *args, timeout=60)
        check(refused.exit_code == 2 and text in refused.stderr, f"{args} must be refused:\n{refused.describe()}")


def prairielearn_results_have_the_documented_fields(ctx: Context) -> None:
    starter = str(ctx.server("echo-iterative-starter"))
    graded = ctx.grade("--lesson", "01-iterative", "--category", "contract", "--server", starter,
                       "--format", "prairielearn", timeout=300)
    results = graded.results
    check(results is not None and results.get("gradable") is True, f"gradable must be true\n{graded.describe()}")
    tests = results["tests"]
    for test in tests:
        check(isinstance(test.get("name"), str) and isinstance(test.get("output"), str)
              and isinstance(test.get("message"), str), f"a test without name/message/output: {test}")
        check(all(isinstance(test.get(key), (int, float)) for key in ("points", "max_points"))
              and 0 <= test["points"] <= test["max_points"], f"points/max_points: {test}")
    earned, possible = sum(t["points"] for t in tests), sum(t["max_points"] for t in tests)
    check(0 < results["score"] < 1 and abs(results["score"] - earned / possible) < 1e-3,
          f"score must be {earned}/{possible} as a fraction, got {results['score']}")
    check(isinstance(results.get("message"), str) and "Total" in results.get("output", ""), f"{results.keys()}")
    check("score" not in tests[0] and "max_score" not in tests[0], "Gradescope's keys in PrairieLearn's format")


def classroom_workflow_runs_and_adds_up(ctx: Context) -> None:
    lesson = "01-iterative"
    rubric = grade.load_rubric(RUBRICS / f"{lesson}.toml")
    workflow = ctx.work / "classroom.yml"
    written = subprocess.run([sys.executable, str(GRADER), "--classroom", lesson, "--out", str(workflow)],
                             capture_output=True, text=True, timeout=60)
    check(written.returncode == 0 and workflow.is_file(), f"--classroom failed: {written.stderr}")
    data = parse_yaml(workflow.read_text())
    steps = data["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command-grader@")]
    reporter = [s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-grading-reporter@")]
    check(len(graders) == len(rubric.items) and len(reporter) == 1 and steps[-1] is reporter[0],
          f"{len(graders)} grader steps for {len(rubric.items)} entries, {len(reporter)} reporters (last)")
    total = sum(float(s["with"]["max-score"]) for s in graders)
    check(abs(total - sum(i.points for i in rubric.items)) < 1e-9, f"the steps add up to {total}")
    ids = [s["id"] for s in graders]
    check(reporter[0]["with"]["runners"].split(",") == ids, "the reporter must name every step, in order")
    for step in graders:
        key = step["id"].upper().replace("-", "_") + "_RESULTS"
        check(reporter[0]["env"].get(key) == "${{steps.%s.outputs.result}}" % step["id"], f"reporter env {key}")
    # Every command, run here on the reference in place of the student's server, scores its points.
    reference = ctx.server(rubric.reference)
    for step in graders:
        words = shlex.split(step["with"]["command"])
        check(words[:1] == ["scripts/grade"] and "--server" in words, f"unexpected command {words}")
        words[words.index("--server") + 1] = str(reference)
        words[words.index("--out") + 1] = str(ctx.work / step["id"])
        run = subprocess.run([sys.executable, *words, "--build-dir", str(ctx.build_dir)], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
        results = json.loads((ctx.work / step["id"] / "results.json").read_text())
        check(run.returncode == 0 and results["score"] == float(step["with"]["max-score"]),
              f"{step['with']['test-name']}: exit {run.returncode}, {results['score']} of "
              f"{step['with']['max-score']}\n{run.stdout}\n{run.stderr}")


def parse_yaml(text: str) -> dict:
    """PyYAML (python3-yaml) when it is installed: a real parse. Without it, the subset the
    workflow writer uses (block mappings and sequences, flow lists, JSON-quoted scalars)."""
    try:
        import yaml  # noqa: PLC0415
    except ImportError:
        return mini_yaml(text)
    return yaml.safe_load(text)


def mini_yaml(text: str) -> dict:
    lines = [(len(l) - len(l.lstrip()), l.strip()) for l in text.splitlines()
             if l.strip() and not l.lstrip().startswith("#")]

    def scalar(value: str):
        if value.startswith('"'):
            return json.loads(value)
        if value == "''":
            return ""
        if value.startswith("["):
            return [v.strip() for v in value[1:-1].split(",")]
        return value

    def block(index: int, indent: int):
        if lines[index][1].startswith("- "):
            items = []
            while index < len(lines) and lines[index][0] == indent and lines[index][1].startswith("- "):
                lines[index] = (indent + 2, lines[index][1][2:])
                item, index = block(index, indent + 2)
                items.append(item)
            return items, index
        mapping = {}
        while index < len(lines) and lines[index][0] == indent and not lines[index][1].startswith("- "):
            key, _, value = lines[index][1].partition(":")
            value = value.strip()
            index += 1
            if value:
                mapping[key] = scalar(value)
            else:
                check(index < len(lines) and lines[index][0] >= indent, f"nothing under {key}")
                mapping[key], index = block(index, lines[index][0])
        return mapping, index

    data, end = block(0, 0)
    check(end == len(lines), f"the workflow does not parse past line {end}: {lines[end:end + 1]}")
    return data


def leaderboard_has_gradescopes_shape(ctx: Context) -> None:
    """The leaderboard's shape only: its figure is noisy by design, so no value is asserted but its
    type. On with the rubric's key (what gradescope-bundle --leaderboard writes), absent without it."""
    for option, expected in (([], False), (["--leaderboard"], True)):  # the bundle's switch is that key
        zipped = ctx.work / "bundle.zip"
        made = subprocess.run([sys.executable, str(REPO / "scripts" / "gradescope-bundle"), "01-iterative", "--out",
                               str(zipped), *option], capture_output=True, text=True, timeout=120)
        check(made.returncode == 0, f"gradescope-bundle {option}: {made.stderr}")
        with zipfile.ZipFile(zipped) as archive:
            bundled = tomllib.loads(archive.read("course/grading/rubrics/01-iterative.toml").decode())
        check(bundled.get("leaderboard", False) is expected, f"gradescope-bundle {option}: leaderboard {bundled.get('leaderboard')}")
    entry = """
        [categories]
        echo = "Echo"
        [[test]]
        name = "Lesson/Conformance.EchoesOneLine"
        points = 1
        category = "echo"
        pitfall = "no echo"
        """
    off = ctx.grade("--rubric", str(ctx.rubric_file('test_binary = "test-iterative"' + entry)),
                    "--server", str(ctx.server("echo-iterative")), timeout=120)
    check(off.results is not None and "leaderboard" not in off.results, f"a leaderboard by default\n{off.describe()}")
    rubric = ctx.rubric_file('test_binary = "test-iterative"\nleaderboard = true' + entry)
    for server in ("echo-iterative", "echo-iterative-starter"):
        on = ctx.grade("--rubric", str(rubric), "--server", str(ctx.server(server)), timeout=120)
        on.check_reports()
        board = on.results.get("leaderboard")
        check(isinstance(board, list) and len(board) == 1, f"{server}: leaderboard {board!r}\n{on.describe()}")
        check(set(board[0]) == {"name", "value", "order"} and isinstance(board[0]["name"], str)
              and "noisy" in board[0]["name"] and board[0]["order"] in ("asc", "desc")
              and isinstance(board[0]["value"], (int, float)) and board[0]["value"] >= 0,
              f"{server}: Gradescope's leaderboard entry is name, value, order: {board[0]}")
        if server == "echo-iterative-starter":  # it hangs up on every client: nothing to measure, whatever the load
            check(board[0]["value"] == 0, f"the untouched starter measured {board[0]['value']}")


def time_limit_bounds_the_whole_run(ctx: Context) -> None:
    server = ctx.work / f"hang-{os.getpid()}"
    shutil.copy(ctx.server("echo-broken-hang"), server)
    entries = "".join(f"""
        [[test]]
        name = "Lesson/Conformance.{name}"
        points = 1
        category = "echo"
        pitfall = "no echo"
        """ for name in ("EchoesOneLine", "EchoesPipelinedLinesSentInOneWrite", "EchoesOneByteDribble"))
    rubric = ctx.rubric_file("""\
        test_binary = "test-iterative"
        default_timeout = 20
        [categories]
        echo = "Echo"
        """ + textwrap.dedent(entries))
    graded = ctx.grade("--rubric", str(rubric), "--server", str(server), "--time-limit", "4", timeout=120)
    graded.check_reports()
    check(graded.seconds < 15, f"a 4 s bound took {graded.seconds:.0f} s\n{graded.describe()}")
    outputs = [test["output"] for test in graded.results["tests"]]
    check(outputs[0].startswith("stopped") or "deadline" in outputs[0], f"the first test runs to the bound: {outputs[0][:200]}")
    check(all(o.startswith("not run: the grading run reached its bound") for o in outputs[1:]),
          f"the tests after the bound are not run:\n{outputs}")


def processes() -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat:
            found.append((int(entry.name), stat[stat.find("(") + 1:stat.rfind(")")]))
    return found


# ---- which cases exist ----------------------------------------------------------------------


def cases() -> dict[str, tuple[list[str], object]]:
    """Case name -> (the CMake targets it needs, what runs it)."""
    found: dict[str, tuple[list[str], object]] = {}
    for lesson in lesson_rubrics():
        data = rubric_data(lesson)
        binary = data["test_binary"]
        found[f"Check.{lesson}"] = ([binary], lambda ctx, l=lesson: check_rubric(ctx, l))
        if data.get("reference"):
            reference = data["reference"]
            found[f"Reference.{lesson}"] = ([binary, reference], lambda ctx, l=lesson: reference_gets_full_marks(ctx, l))
            found[f"Starter.{lesson}"] = ([binary, f"{reference}-starter"],
                                          lambda ctx, l=lesson: starter_scores_low_but_not_zero(ctx, l))
    with EXPECTED.open("rb") as file:
        expected = tomllib.load(file)
    for name, entry in expected.items():
        server = entry.get("server", f"echo-broken-{name}")
        for suffix, spec in (("", entry), (f".{entry.get('later', {}).get('rubric')}", entry.get("later"))):
            if spec is None or not (RUBRICS / f"{spec['rubric']}.toml").exists():
                continue  # a lesson rubric still to come
            spec = dict(spec, server=server)
            needs = [server, rubric_data(spec["rubric"])["test_binary"]]
            found[f"Broken.{name}{suffix}"] = (needs, lambda ctx, n=name, s=spec: broken_server_loses_exactly_its_points(ctx, n, s))
    grader_cases = {
        "RefusesRubricNamingUnknownTest": (["test-iterative"], refuses_rubric_naming_unknown_test),
        "RefusesExcludeOfTestNotIncluded": (["test-iterative"], refuses_exclude_of_test_not_included),
        "ServerThatExitsAtOnceScoresZeroQuickly": (["test-iterative"], server_that_exits_at_once_scores_zero_quickly),
        "HungServerIsCutAtEachDeadlineAndLeavesNoProcess": (["test-iterative", "echo-broken-hang"],
                                                            hung_server_is_cut_at_each_deadline_and_leaves_no_process),
        "HiddenTestsAreNotNamedInTheTable": (["test-iterative", "echo-broken-drops-tail"],
                                             hidden_tests_are_not_named_in_the_table),
        "SkippedTestScoresItsFullPoints": (["test-iterative", "echo-iterative"], skipped_test_scores_its_full_points),
        "SelectionGradesASubsetWithItsOwnVerdict": (["test-iterative", "echo-iterative", "echo-iterative-starter"],
                                                    selection_grades_a_subset_with_its_own_verdict),
        "PrairieLearnResultsHaveTheDocumentedFields": (["test-iterative", "echo-iterative-starter"],
                                                       prairielearn_results_have_the_documented_fields),
        "ClassroomWorkflowRunsAndAddsUp": (["test-iterative", "echo-iterative"], classroom_workflow_runs_and_adds_up),
        "TimeLimitBoundsTheWholeRun": (["test-iterative", "echo-broken-hang"], time_limit_bounds_the_whole_run),
        "LeaderboardHasGradescopesShape": (["test-iterative", "echo-iterative", "echo-iterative-starter", "echo-load",
                                            "echo-asio"], leaderboard_has_gradescopes_shape),
        "PointsTableReweighsIncludedTestsAndRefusesUnknownOnes": (
            ["test-iterative", "echo-iterative"], points_table_reweighs_included_tests_and_refuses_unknown_ones),
        "EntryStopsAtItsFirstFailingVariant": (["test-epoll", "echo-iterative-starter"],
                                               entry_stops_at_its_first_failing_variant),
    }
    found.update(grader_cases)
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--build-dir", type=Path, default=REPO / "build")
    parser.add_argument("case", nargs="?")
    args = parser.parse_args(argv)
    known = cases()
    if args.list:
        for name, (needs, _) in known.items():
            print(" ".join([name, *needs]))
        return 0
    if args.case not in known:
        print(f"no case {args.case!r}; --list shows them", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="grade-test-") as work:
        try:
            known[args.case][1](Context(args.build_dir.resolve(), Path(work)))
        except Failed as failure:
            print(f"FAILED {args.case}: {failure}")
            return 1
    print(f"ok {args.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

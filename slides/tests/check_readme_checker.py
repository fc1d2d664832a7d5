#!/usr/bin/env python3
"""slides/tests/check_readme_checker.py — scripts/check-lesson-readmes must catch what it claims to:
a broken copy of a real lesson README (a missing section, an exercise without a hint, a flag the
binary does not have, an unknown make target, a diff command naming the wrong lesson) fails, with
one message per problem; the unbroken copy passes. Run: python3 slides/tests/check_readme_checker.py"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import ROOT, Checks, skip  # noqa: E402

CHECKER = ROOT / "scripts" / "check-lesson-readmes"
BIN_DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "bin"
if not (BIN_DIR / "echo-iterative").exists():
    skip(f"{BIN_DIR}/echo-iterative is not built: build first (cmake --build --preset default)")

checks = Checks()
# A small copy of the repository's shape: a Makefile and two lesson folders.
scratch = Path(tempfile.mkdtemp(prefix="readme-checker-"))
fixture = scratch / "98-readme-fixture"
previous = scratch / "97-readme-fixture"
shutil.copy(ROOT / "Makefile", scratch / "Makefile")


def run(readme: str) -> subprocess.CompletedProcess:
    (fixture / "README.md").write_text(readme, encoding="utf-8")
    return subprocess.run([sys.executable, str(CHECKER), "--bin-dir", str(BIN_DIR), "--root", str(scratch)],
                          capture_output=True, text=True, timeout=60)


try:
    for folder in (fixture, previous):
        folder.mkdir(exist_ok=True)
        shutil.copy(ROOT / "01-iterative" / "CMakeLists.txt", folder / "CMakeLists.txt")
    good = (ROOT / "01-iterative" / "README.md").read_text(encoding="utf-8")
    good = good.replace("LESSON=01-iterative", "LESSON=98-readme-fixture")
    good = good.replace("diff -u 01-iterative/main.cpp 02-process/main.cpp",
                        "diff -u 97-readme-fixture/main.cpp 98-readme-fixture/main.cpp")
    (previous / "README.md").write_text(good.replace("97-readme-fixture/main.cpp 98-readme-fixture/main.cpp",
                                                     "96-readme-fixture/main.cpp 97-readme-fixture/main.cpp"),
                                        encoding="utf-8")
    result = run(good)
    checks.check(result.returncode == 0 and "2 passed, 0 failed" in result.stdout, f"a correct README passes: {result.stdout.strip()}")

    broken = {
        "no '## Watch it' section": good.replace("## Watch it", "## Watch this"),
        "out of order": good.replace("## New idea", "## Later idea").replace("## Exercises", "## New idea\n\nx\n\n## Exercises"),
        "exercise 2 has no hint": good.replace("*Hint: watch `ss -ltn`", "*Watch `ss -ltn`"),
        "has 2 numbered exercises": good.split("3. Remove")[0] + "\n## Diff from the previous lesson\n`diff -u 97-readme-fixture/a 98-readme-fixture/a`\n",
        "echo-iterative has no option --max-conns": good.replace("build/bin/echo-iterative --port 9001",
                                                                 "build/bin/echo-iterative --port 9001 --max-conns 5"),
        "has no option --backlog": good.replace("`--quiet`", "`--quiet`, `--backlog N`"),
        "no target 'runn'": good.replace("make run LESSON=98", "make runn LESSON=98"),
        "LESSON=07-nothing is not a lesson folder": good.replace("make run LESSON=98-readme-fixture", "make run LESSON=07-nothing"),
        "echo-nothing is not in": good.replace("build/bin/echo-iterative --port 9001", "build/bin/echo-nothing --port 9001"),
        "not installed here": good.replace("make run LESSON=98-readme-fixture", "no-such-tool-xyz --go"),
        "does not name the previous lesson (97-*)": good.replace("97-readme-fixture/main.cpp", "01-iterative/main.cpp"),
        "shows no diff command": good.replace("`diff -u 97-readme-fixture/main.cpp 98-readme-fixture/main.cpp`", "the diff"),
    }
    for expected, readme in broken.items():
        result = run(readme)
        checks.check(result.returncode == 1 and expected in result.stdout,
                     f"a README with '{expected}' fails and says so; got exit {result.returncode}: "
                     f"{result.stdout.strip()[:400]}")
    result = run(good.replace("## New idea", "## Idea"))
    checks.check("98-readme-fixture/README.md: no '## New idea' section" in result.stdout
                 and result.stdout.splitlines()[-1] == "1 passed, 1 failed"
                 and "ok: 97-readme-fixture/README.md" in result.stdout,
                 f"every lesson folder is checked and a failure names its README: {result.stdout.strip()[:400]}")
finally:
    shutil.rmtree(scratch, ignore_errors=True)
sys.exit(checks.finish())

#!/usr/bin/env python3
"""tests/scripts/versions_test.py BIN_DIR — every program a user runs says its version, from the one
VERSION file, and exits 2 on a usage error.

For each executable in BIN_DIR (the servers, their starters, the references, the tools) and each
script with options: `--version` prints exactly "<name> <VERSION>" on stdout and exits 0; a made-up
option exits 2 with a message on stderr that starts with the program's name (binaries only: the scripts' usage codes are tested where the
scripts are).
"""
from __future__ import annotations

import os
import subprocess
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text().strip()
SCRIPTS = ["install-deps", "fresh-root", "grade", "slides", "check-lesson-readmes", "bench", "demo",
           "gradescope-bundle", "gradescope-sim", "check-ladder", "check-docs", "run-docs", "export-student", "make-starter"]
BIN_DIR = Path(sys.argv.pop(1)) if len(sys.argv) > 1 else ROOT / "build" / "bin"


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


class Versions(unittest.TestCase):
    def test_every_binary_says_its_version_and_exits_2_on_a_usage_error(self):
        binaries = sorted(p for p in BIN_DIR.iterdir() if p.is_file() and os.access(p, os.X_OK))
        self.assertGreater(len(binaries), 6, f"no programs in {BIN_DIR}")
        for binary in binaries:
            with self.subTest(program=binary.name):
                shown = run(str(binary), "--version")
                self.assertEqual((shown.returncode, shown.stdout), (0, f"{binary.name} {VERSION}\n"))
                wrong = run(str(binary), "--no-such-option")
                self.assertEqual(wrong.returncode, 2, wrong.stderr)
                self.assertTrue(wrong.stderr.startswith(f"{binary.name}: "), wrong.stderr[:200])

    def test_every_script_with_options_says_its_version(self):
        for script in SCRIPTS:
            with self.subTest(script=script):
                shown = run(str(ROOT / "scripts" / script), "--version")
                self.assertEqual((shown.returncode, shown.stdout), (0, f"{script} {VERSION}\n"), shown.stderr)


if __name__ == "__main__":
    unittest.main()

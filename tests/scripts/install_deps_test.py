#!/usr/bin/env python3
"""tests/scripts/install_deps_test.py — scripts/install-deps chooses package names from apt's
answers, not from the distribution's name.

Each case puts a fake `apt-cache` and `dpkg-query` first on PATH, answering as Debian 12, Debian 13,
Ubuntu 24.04 or Ubuntu 22.04 would, and runs `install-deps --print`, which resolves the names and
prints the missing ones without installing anything. (The answers are trimmed copies of what those
systems print: a Candidate line per package, `Depends: clang-N` for clang.)
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-deps"

DEBIAN_12 = {"libboost-dev": "1.74.0.3", "libboost1.81-dev": "1.81.0-5+deb12u1", "cmake": "3.25.1-1",
             "python3": "3.11.2-1+b1", "clang": "1:14.0-55.7~deb12u1", "libclang-rt-14-dev": "1:14.0.6-12"}
DEBIAN_13 = {"libboost-dev": "1.83.0.2+b2", "cmake": "3.31.6-2", "python3": "3.13.5-1",
             "clang": "1:19.0-63", "libclang-rt-19-dev": "1:19.1.7-3"}
UBUNTU_24 = {"libboost-dev": "1.83.0.1ubuntu2", "cmake": "3.28.3-1build7", "python3": "3.12.3-0ubuntu2",
             "clang": "1:18.0-59~exp2", "libclang-rt-18-dev": "1:18.1.3-1ubuntu1"}
UBUNTU_22 = {"libboost-dev": "1.74.0.3ubuntu7", "cmake": "3.22.1-1ubuntu1.22.04.2",
             "python3": "3.10.6-1~22.04.1", "clang": "1:14.0-55~exp2", "libclang-rt-14-dev": "1:14.0.0-1ubuntu1"}

FAKE_APT_CACHE = """#!/usr/bin/env python3
import json, sys
candidates = json.load(open({candidates!r}))
verb, name = sys.argv[1], sys.argv[2]
if verb == "policy":
    print(f"{{name}}:\\n  Installed: (none)\\n  Candidate: {{candidates.get(name, '(none)')}}")
elif verb == "depends" and name == "clang" and "clang" in candidates:
    major = candidates["clang"].split(":")[-1].split(".")[0]
    print(f"clang\\n  Depends: clang-{{major}}")
"""
# Nothing is installed (a fresh system), unless the case says so.
FAKE_DPKG_QUERY = """#!/usr/bin/env python3
import json, sys
installed = json.load(open({installed!r}))
name = sys.argv[-1]
if name in installed:
    print(f"install ok installed {{installed[name]}}", end="")
else:
    sys.exit(1)
"""


def run(candidates: dict[str, str], *options: str, installed: dict[str, str] | None = None):
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "candidates.json").write_text(json.dumps(candidates))
        (folder / "installed.json").write_text(json.dumps(installed or {}))
        for name, text in (("apt-cache", FAKE_APT_CACHE.format(candidates=str(folder / "candidates.json"))),
                           ("dpkg-query", FAKE_DPKG_QUERY.format(installed=str(folder / "installed.json")))):
            path = folder / name
            path.write_text(text)
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        env = dict(os.environ, PATH=f"{folder}:{os.environ['PATH']}", INSTALL_DEPS_INCLUDE=str(folder / "no-include"))
        result = subprocess.run([str(SCRIPT), "--print", *options], capture_output=True, text=True, env=env,
                                timeout=60)
        return result.returncode, result.stdout.split(), result.stderr


class InstallDeps(unittest.TestCase):
    def test_debian_12_takes_the_versioned_boost(self):
        code, packages, _ = run(DEBIAN_12, "--ci")
        self.assertEqual(code, 0)
        self.assertIn("libboost1.81-dev", packages)
        self.assertNotIn("libboost-dev", packages)
        self.assertIn("libclang-rt-14-dev", packages)

    def test_debian_13_takes_the_default_boost_and_clang_19s_runtime(self):
        code, packages, _ = run(DEBIAN_13, "--ci")
        self.assertEqual(code, 0)
        self.assertIn("libboost-dev", packages)
        self.assertNotIn("libboost1.81-dev", packages)
        self.assertIn("libclang-rt-19-dev", packages)

    def test_ubuntu_24_04_resolves_too(self):
        code, packages, _ = run(UBUNTU_24, "--ci")
        self.assertEqual(code, 0)
        self.assertIn("libboost-dev", packages)
        self.assertIn("libclang-rt-18-dev", packages)

    def test_the_tools_the_tests_use_are_asked_for(self):
        _, packages, _ = run(DEBIAN_13)
        for tool_package in ("make", "netcat-openbsd", "iproute2", "procps", "strace", "graphviz"):
            self.assertIn(tool_package, packages)

    def test_ubuntu_22_04_is_refused_in_one_line_naming_what_is_missing(self):
        code, packages, error = run(UBUNTU_22)
        self.assertEqual(code, 3, error)
        self.assertEqual(packages, [])
        lines = error.strip().splitlines()
        self.assertEqual(len(lines), 1, error)
        for name in ("CMake 3.22.1", "Boost 1.74.0.3", "Python 3.10.6", "container"):
            self.assertIn(name, lines[0])

    def test_nothing_missing_prints_nothing_and_refuses_nothing(self):
        everything = {name: "99" for name in
                      ("cmake", "ninja-build", "g++", "make", "libfmt-dev", "libcli11-dev", "libgtest-dev",
                       "libgmock-dev", "python3", "gnuplot-nox", "netcat-openbsd", "iproute2", "procps",
                       "strace", "graphviz", "libboost-dev")}
        code, packages, error = run(DEBIAN_13, installed=everything)
        self.assertEqual((code, error), (0, ""))
        self.assertEqual(packages, [])


if __name__ == "__main__":
    sys.exit(unittest.main())

#!/usr/bin/env bash
# setup.sh — Gradescope runs this once, as root, when it builds the autograder image (base image
# Ubuntu 24.04). What it shows: everything that does not depend on a submission happens here, so
# that grading one submission compiles only the student's lesson.
#
#   1. installs the build and the test tools with the course's own scripts/install-deps;
#   2. creates the unprivileged user "student" that builds and runs submissions;
#   3. configures the course (course/, next to this file) and builds the lesson's test binary and
#      the untouched starter once (this builds common/, GoogleTest's main and the harness);
#   4. copies the test binary to harness/ (root-owned: a submission cannot replace it), removes
#      the lesson's reference binary, and makes the reference .cpp files unreadable to "student".
# Written by scripts/gradescope-bundle, with LESSON (the lesson's folder name) beside it.
# Exit: 0 ready; anything else is a failed image build (Gradescope shows this script's output).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lesson=$(cat "$here/LESSON")
course=$here/course
started=$SECONDS
export DEBIAN_FRONTEND=noninteractive

echo "setup.sh: $lesson: installing the build dependencies (scripts/install-deps)"
chmod +x "$here/run_autograder" "$course"/scripts/* 2>/dev/null || true
"$course/scripts/install-deps"   # runs apt-get update itself when something is missing

id student >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin student

# The lesson's names come from its rubric: test_binary = "test-iterative", reference = "echo-iterative".
read -r test_binary reference tools < <(python3 - "$course/grading/rubrics/$lesson.toml" <<'PY'
import sys, tomllib
data = tomllib.load(open(sys.argv[1], "rb"))
print(data["test_binary"], data["reference"], "echo-load echo-asio" if data.get("leaderboard") else "")
PY
)
echo "setup.sh: building $test_binary and ${reference}-starter (configure: cmake --preset default)"
cd "$course"
cmake --preset default -DCS_WERROR=OFF >/dev/null
cmake --build --preset default --target "$test_binary" "${reference}-starter" $tools  # $tools: empty, or the leaderboard's

chmod -R a+rX "$here"   # the grader runs as "student": it reads the scripts, rubrics and harness
mkdir -p "$here/harness"
install -m 755 "build/tests/$test_binary" "$here/harness/$test_binary"
rm -f "build/bin/$reference"
# The reference sources stay (the lesson's CMakeLists names them) but only root may read them:
# the student's code, which runs as "student", cannot copy the solution out. The headers stay
# readable: they are the lesson's interfaces, and a submission may include them by their path.
find "$lesson" -maxdepth 1 -type f -name '*.cpp' -exec chmod 600 {} +
chown -R student: build "$lesson/starter"
echo "setup.sh: ready in $((SECONDS - started)) s"

# Makefile — a thin wrapper over the CMake presets, so a student types two commands:
#   make demo    install what is missing, build, run every lesson under the same load (about 1.5 minutes)
#   make test    install what is missing, build, run every test (ctest; the two slide-rendering
#                checks need Marp and Chromium, which only `make slides` installs: skipped, and said so)
# Everything here is also reachable with plain CMake (see README.md).

PRESET ?= default
LESSON ?= 01-iterative
ARGS   ?=

# Lesson folder -> server binary name.
LESSON_BINARIES := 01-iterative:iterative 02-process:process 03-thread:thread \
                   04-select:select 05-epoll-pool:epoll 06-prefork:prefork \
                   07-master-worker:master-worker
lesson_binary = $(word 2,$(subst :, ,$(filter $(1):%,$(LESSON_BINARIES))))
BUILD_DIR := $(if $(filter default,$(PRESET)),build,build-$(PRESET))

.PHONY: all deps configure build test demo tour bench run grade gradescope asan tsan slides clean help

all: build

help:
	@echo "make demo                      every lesson under the same load vs echo-asio, one table (~1.5 min)"
	@echo "make tour                      the 5-second version: clients served at once, wall time, errors"
	@echo "make bench [QUICK=1]           the full matrix vs echo-asio (~45 min; QUICK=1: ~1 min): build/bench/"
	@echo "make test                      build and run every test"
	@echo "make run LESSON=01-iterative   run one server in the foreground (ARGS='--port 0 --quiet')"
	@echo "make grade LESSON=01-iterative SERVER=path/to/binary   grade a binary (default: the reference)"
	@echo "make gradescope LESSON=01-iterative   the Gradescope autograder zip: build/gradescope/LESSON.zip"
	@echo "make asan | make tsan          the test suite under ASan+UBSan / TSan"
	@echo "make slides                    build every deck (HTML, PDF) into build/slides/"
	@echo "make PRESET=debug test         any preset: default (with _FORTIFY_SOURCE=2), debug, asan, tsan"

deps:
	@scripts/install-deps

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET)

# Most tests run one at a time, because they measure the latency and concurrency they observe.
# The slide checks (Chromium, Marp) measure nothing, so they run side by side; so do the grader's
# cases for broken servers, which mostly wait on deadlines, four at a time (its other cases are
# RUN_SERIAL).
# (Sanitizer builds have neither label: --no-tests=ignore.)
test: build
	@ctest --preset $(PRESET) -LE "grade|slides"
	@ctest --preset $(PRESET) -L slides -j2 --no-tests=ignore
	@ctest --preset $(PRESET) -L grade -j4 --no-tests=ignore
	@test -x slides/node_modules/.bin/marp && command -v chromium >/dev/null || \
	    echo "make test: slides-html and slides-pdf were skipped (no Marp or Chromium here);" \
	         "'make slides' installs both, and make test runs them from then on"

demo: build
	@scripts/bench --build-dir $(BUILD_DIR) --demo

tour: build
	@scripts/demo

bench: build
	@scripts/bench --build-dir $(BUILD_DIR) $(if $(QUICK),--quick)

run: build
	@test -n "$(call lesson_binary,$(LESSON))" || { echo "unknown LESSON=$(LESSON); one of: $(foreach l,$(LESSON_BINARIES),$(firstword $(subst :, ,$(l))))"; exit 2; }
	@test -x $(BUILD_DIR)/bin/echo-$(call lesson_binary,$(LESSON)) || { echo "$(LESSON) is not built yet"; exit 2; }
	$(BUILD_DIR)/bin/echo-$(call lesson_binary,$(LESSON)) $(ARGS)

# SERVER defaults to the lesson's reference binary. A score under the pass mark is a result, not a
# broken build: scripts/grade says "below the pass mark (N of M)" and exits 1, which make-grade turns
# into 0 (make would print "*** Error" otherwise); 2, "cannot grade", stays an error. Anything that
# needs the verdict as an exit code calls scripts/grade itself.
grade: build
	@scripts/make-grade --lesson $(LESSON) $(if $(SERVER),--server $(SERVER))

# The Gradescope autograder for one lesson (setup.sh and run_autograder at the zip's root; see
# grading/README.md). Needs no build: Gradescope's image builds the course itself.
gradescope:
	@scripts/gradescope-bundle $(LESSON)

asan:
	@$(MAKE) --no-print-directory PRESET=asan test

tsan:
	@$(MAKE) --no-print-directory PRESET=tsan test

slides:
	@scripts/install-deps --slides
	@scripts/slides

clean:
	rm -rf build build-*

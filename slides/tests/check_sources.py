#!/usr/bin/env python3
"""slides/tests/check_sources.py — what scripts/slides does before Marp, without npm or Chromium:
every deck expands, every quoted region and image exists, and each way a deck can be wrong fails
the build with a message that names the problem. Run: python3 slides/tests/check_sources.py [OUT]"""
from __future__ import annotations

import re
import sys
import tempfile
from importlib.machinery import SourceFileLoader
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import BUILD_SCRIPT, ROOT, Checks, build_or_fail, output_dir, run_build, write_png  # noqa: E402

slides = SourceFileLoader("slides_build", str(BUILD_SCRIPT)).load_module()
checks = Checks()
out = output_dir("sources")


def fails_with(deck_text: str, *expected: str, bench: Path | None = None) -> None:
    """Builds one fixture deck; the build must exit 1 and say every `expected` phrase."""
    with tempfile.TemporaryDirectory() as decks:
        Path(decks, "fixture.md").write_text(deck_text, encoding="utf-8")
        args = ["--formats", "md", "--out", str(out / "fixture"), "--decks", decks]
        if bench:
            args += ["--bench", str(bench)]
        result = run_build(*args)
    said = result.stderr
    ok = result.returncode == 1 and all(phrase in said for phrase in expected)
    checks.check(ok, f"fixture deck should fail (exit 1) saying {expected!r}; got exit "
                     f"{result.returncode}: {said.strip()[:300]}")


FRONT = "---\nmarp: true\ntheme: course\n---\n\n"
NOTE = "\n<!-- note -->\n"

# --- region parsing -----------------------------------------------------------------------
source = """int a;
// [slide:outer]
    int b;
    // [slide:inner]
    int c;
    // [/slide]
    int d;
// [/slide]
"""
regions = slides.parse_regions(source, "x.cpp")
checks.check(regions["inner"].lines == ["    int c;"], "inner region holds only its own line")
checks.check(slides.dedent(regions["outer"].lines) == ["int b;", "int c;", "int d;"],
             "outer region is dedented and never shows the inner region's markers")
for broken, phrase in [("// [slide:a]\nx\n", "never closed"), ("x\n// [/slide]\n", "closes no open region"),
                       ("// [slide:a]\n// [/slide]\n// [slide:a]\n// [/slide]\n", "a second time")]:
    try:
        slides.parse_regions(broken, "y.cpp")
        checks.check(False, f"unbalanced markers should be an error ({phrase})")
    except slides.BuildError as error:
        checks.check(phrase in str(error) and "y.cpp:" in str(error), f"error names file and line: {error}")

# --- the real decks -------------------------------------------------------------------------
with tempfile.TemporaryDirectory() as empty_bench:
    manifest = build_or_fail("--formats", "md", "--out", str(out / "decks"), "--bench", empty_bench)
deck_names = [deck["name"] for deck in manifest["decks"]]
checks.check(len(deck_names) >= 3, f"at least the opening, 01 and closing decks: {deck_names}")
for required in ("00-opening", "01-iterative", "99-closing"):
    checks.check(required in deck_names, f"deck {required} exists")
for deck in manifest["decks"]:
    text = (out / "decks" / f"{deck['name']}.md").read_text(encoding="utf-8")
    checks.check(not re.search(r"<!--\s*(code:|bench-)", text), f"{deck['name']}: every directive was expanded")
    checks.check(deck["slides"] >= 3, f"{deck['name']}: has slides ({deck['slides']})")
    for image in deck["images"]:
        checks.check((out / "decks" / image).is_file(), f"{deck['name']}: image {image} exists in the output")
    for quoted in deck["code"]:
        path, region = quoted.split("#")
        body = slides.parse_regions((ROOT / path).read_text(encoding="utf-8"), path)[region].lines
        first = next(line.strip() for line in body if line.strip())
        checks.check(first in text, f"{deck['name']}: the text of {quoted} is on the slide")
lesson_decks = [d for d in manifest["decks"] if re.match(r"\d\d-", d["name"]) and d["name"][:2] not in ("00", "99")]
checks.check(all(d["code"] for d in lesson_decks), "every lesson deck quotes code from its lesson")
# One deck per lesson folder, named like it, built like 01's: 12-18 slides (40-60 minutes), code
# from its own folder, at least one diagram.
lessons = sorted(d.name for d in ROOT.iterdir() if d.is_dir() and re.match(r"\d\d-", d.name) and (d / "README.md").is_file())
for lesson in lessons:
    checks.check(lesson in deck_names, f"lesson {lesson} has a deck slides/decks/{lesson}.md")
for deck in lesson_decks:
    name = deck["name"]
    checks.check(12 <= deck["slides"] <= 18, f"{name}: 12 to 18 slides ({deck['slides']})")
    checks.check(any(q.startswith(name + "/") for q in deck["code"]), f"{name}: quotes code from {name}/")
    checks.check(any(i.startswith("diagrams/") for i in deck["images"]), f"{name}: shows a diagram")
# slides/README.md lists every deck with its slide count.
listed = dict(re.findall(r"^\| `(\d\d-[\w-]+)` \| (\d+) \|", (ROOT / "slides" / "README.md").read_text(encoding="utf-8"),
                         re.MULTILINE))
for deck in manifest["decks"]:
    checks.check(listed.get(deck["name"]) == str(deck["slides"]),
                 f"slides/README.md lists {deck['name']} with {deck['slides']} slides (it says {listed.get(deck['name'])})")
checks.check(len(manifest["diagrams"]) >= 10, f"diagram sources for every lesson: {manifest['diagrams']}")
for name in manifest["diagrams"]:
    svg = out / "decks" / "diagrams" / f"{name}.svg"
    checks.check(svg.is_file() and "<svg" in svg.read_text(encoding="utf-8"), f"diagram {name} rendered to SVG")

closing = (out / "decks" / "99-closing.md").read_text(encoding="utf-8")
checks.check("bench/placeholder.svg" in closing and "No measurement yet" in closing,
             "without build/bench the closing deck shows placeholders")

# --- with benchmark results -----------------------------------------------------------------
with tempfile.TemporaryDirectory() as bench:
    write_png(Path(bench, "throughput.png"))
    write_png(Path(bench, "latency-p99.png"))
    Path(bench, "results.md").write_text("# Results\n\nSome prose.\n\n| lesson | ms |\n|---|---|\n| iterative | 1202 |\n\n"
                                         "| other | table |\n|---|---|\n| x | y |\n", encoding="utf-8")
    measured = build_or_fail("--formats", "md", "--out", str(out / "bench"), "--bench", bench, "--deck", "99-closing")
closing = (out / "bench" / "99-closing.md").read_text(encoding="utf-8")
checks.check("| iterative | 1202 |" in closing and "| other | table |" not in closing,
             "the first table of results.md is on the results slide, and only that one")
checks.check("bench/latency-p99.png" in closing and "bench/throughput.png" in closing, "both plots are on slides")
checks.check((out / "bench" / "bench" / "throughput.png").is_file(), "plots are copied next to the deck")
checks.check(measured["decks"][0]["slides"] == manifest["decks"][deck_names.index("99-closing")]["slides"] + 1,
             "two plots make one more slide than the placeholder")
checks.check("## Measured: Throughput" in closing, "the extra plot slide is titled from the file name")

# --- decks that must not build --------------------------------------------------------------
fails_with(FRONT + "# A\n\n<!-- code: 01-iterative/main.cpp#no-such-region -->\n" + NOTE,
           "no region 'no-such-region' in 01-iterative/main.cpp", "accept-loop", "fixture.md:8")
fails_with(FRONT + "# A\n\n<!-- code: 07-missing/main.cpp#accept-loop -->\n" + NOTE, "no file '07-missing/main.cpp'")
fails_with(FRONT + "# A\n\n<!-- code: ../etc/passwd#x -->\n" + NOTE, "outside the repository")
fails_with(FRONT + "# A\n\n<!-- code 01-iterative/main.cpp -->\n" + NOTE, "cannot read this directive")
fails_with(FRONT + "# A\n\n![](diagrams/no-such-diagram.svg)\n" + NOTE, "no diagram source slides/diagrams/no-such-diagram.dot")
fails_with(FRONT + "# A\n\n![](missing.png)\n" + NOTE, "image 'missing.png' does not exist")
fails_with(FRONT + "# A\n\n![](https://example.invalid/x.png)\n" + NOTE, "not a local file")
fails_with(FRONT + "# A\n" + NOTE + "\n---\n\n# B, without notes\n\n<!-- _class: lead -->\n",
           "slide 2 '# B, without notes' has no speaker notes")
fails_with(FRONT + "# A\n" + NOTE + "text right above\n---\n\n# B\n" + NOTE, "heading underline")
fails_with("# no front matter\n" + NOTE, "front matter must say 'marp: true'")

sys.exit(checks.finish())

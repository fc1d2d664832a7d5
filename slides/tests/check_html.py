#!/usr/bin/env python3
"""slides/tests/check_html.py — every deck builds to HTML with Marp: one rendered slide per Markdown
slide, speaker notes on every slide, and every image the HTML loads exists next to it.
Skips (exit 77) when Marp is not installed. Run: python3 slides/tests/check_html.py [OUT]"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import Checks, build_or_fail, output_dir, require_marp  # noqa: E402

require_marp()
checks = Checks()
out = output_dir("html")
with tempfile.TemporaryDirectory() as empty_bench:  # the placeholders, whatever build/bench holds
    manifest = build_or_fail("--formats", "html", "--out", str(out), "--bench", empty_bench)

for deck in manifest["decks"]:
    name = deck["name"]
    page = out / f"{name}.html"
    if not checks.check(page.is_file(), f"{name}: {page.name} was built"):
        continue
    html = page.read_text(encoding="utf-8")
    slides = len(re.findall(r"<svg\b[^>]*\bdata-marpit-svg=", html))
    checks.check(slides == deck["slides"], f"{name}: HTML has {slides} slides, the Markdown {deck['slides']}")
    notes = len(re.findall(r'<div class="bespoke-marp-note"', html))
    checks.check(notes == deck["slides"], f"{name}: {notes} slides with speaker notes of {deck['slides']}")
    checks.check("<!-- code:" not in html and "[slide:" not in html, f"{name}: no unexpanded directive or marker")
    title = re.search(r"<title>(.*?)</title>", html)
    checks.check(bool(title) and title.group(1).strip() != "", f"{name}: the HTML has a title")
    for src in re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', html):
        checks.check(not re.match(r"^[a-z]+:", src) and (out / unquote(src)).is_file(),
                     f"{name}: image {src} exists next to the HTML")
    for quoted in deck["code"]:
        path, region = quoted.split("#")
        checks.check(f"{path} · {region}" in html, f"{name}: {quoted} is quoted with its source caption")

index = out / "index.html"
checks.check(index.is_file() and all(f'href="{d["name"]}.html"' in index.read_text(encoding="utf-8")
                                     for d in manifest["decks"]), "index.html links every deck")
sys.exit(checks.finish())

#!/usr/bin/env python3
"""slides/tests/check_pdf.py — with Chromium: every deck renders to PDF with one page per slide, and
a PNG screenshot of each deck's first slide is not blank (it has the sharp edges text makes).
Skips (exit 77) when Marp or Chromium is missing. Run: python3 slides/tests/check_pdf.py [OUT]"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import Checks, build_or_fail, chromium, output_dir, require_marp, skip, text_edges  # noqa: E402

require_marp()
if not chromium():
    skip("Chromium is not installed (apt-get install chromium, or set CHROME_PATH): PDF and PNG "
         "export need it")


def pdf_pages(path: Path) -> int:
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60).stdout
        match = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
        if match:
            return int(match.group(1))
    # Without poppler-utils: count the page objects ourselves. Chromium keeps them in compressed
    # object streams, so look inside every stream that inflates.
    data = path.read_bytes()
    texts = [data]
    for match in re.finditer(rb"stream\r?\n", data):
        end = data.find(b"endstream", match.end())
        try:
            texts.append(zlib.decompressobj().decompress(data[match.end():end]))
        except zlib.error:
            continue
    return sum(len(re.findall(rb"/Type\s*/Page(?![s\w])", text)) for text in texts)


checks = Checks()
out = output_dir("pdf")
with tempfile.TemporaryDirectory() as empty_bench:
    manifest = build_or_fail("--formats", "pdf,png", "--out", str(out), "--bench", empty_bench, timeout=600)

for deck in manifest["decks"]:
    name = deck["name"]
    pdf = out / f"{name}.pdf"
    if checks.check(pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-", f"{name}: {pdf.name} is a PDF"):
        pages = pdf_pages(pdf)
        checks.check(pages == deck["slides"], f"{name}: PDF has {pages} pages for {deck['slides']} slides")
    png = out / "png" / f"{name}.png"
    if checks.check(png.is_file(), f"{name}: first-slide screenshot {png.name} exists"):
        edges, spread = text_edges(png)
        checks.check(edges > 0.002 and spread > 5,
                     f"{name}: first slide is not blank (edge pixels {edges:.2%}, luminance spread {spread:.1f})")
        print(f"{name}: {deck['slides']} slides; first slide: edge pixels {edges:.2%}, luminance spread {spread:.1f}")
sys.exit(checks.finish())

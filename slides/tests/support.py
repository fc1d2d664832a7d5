"""slides/tests/support.py — shared by the slide checks: paths, running scripts/slides, skipping,
and a small PNG reader (zlib only) for the "is this screenshot blank?" check."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "slides"
MARP = ROOT / "slides" / "node_modules" / ".bin" / "marp"
SKIP = 77  # ctest's SKIP_RETURN_CODE for these tests


def skip(reason: str) -> None:
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def require_marp() -> None:
    if not MARP.exists():
        skip("Marp is not installed (slides/node_modules is missing): run 'npm ci' in slides/, "
             "or 'make slides' once")


def chromium() -> str | None:
    configured = os.environ.get("CHROME_PATH")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None


def output_dir(name: str) -> Path:
    """argv[1] when ctest passes one (inside the build tree), else a folder under build/."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "slides-tests" / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return out


def run_build(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD_SCRIPT), "--no-install", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def build_or_fail(*args: str, timeout: int = 240) -> dict:
    result = run_build(*args, timeout=timeout)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
        raise SystemExit(f"FAIL: scripts/slides {' '.join(args)} exited {result.returncode}")
    out = Path(args[args.index("--out") + 1])
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


class Checks:
    """Collects failures so one run reports all of them, then ends with a count line."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
            print(f"FAIL: {what}")
        return ok

    def finish(self) -> int:
        print(f"{self.passed} passed, {len(self.failed)} failed")
        return 1 if self.failed else 0


def write_png(path: Path, width: int = 64, height: int = 36) -> None:
    """A small RGB test picture (a diagonal stripe), for fixtures that need some plot."""
    rows = b"".join(b"\x00" + bytes(c for x in range(width)
                                      for c in ((230, 120, 30) if abs(x - 2 * y) < 3 else (250, 250, 250)))
                    for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def read_png(path: Path) -> tuple[int, int, int, bytes]:
    """Width, height, channels and the unfiltered 8-bit pixel bytes of a non-interlaced PNG."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError(f"{path}: no IHDR")
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError(f"{path}: only 8-bit non-interlaced grey/RGB(A) PNGs are supported")
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    out = bytearray(stride * height)
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 0xFF
        out[row * stride:(row + 1) * stride] = line
        previous = line
    return width, height, channels, bytes(out)


def text_edges(path: Path) -> tuple[float, float]:
    """(edge fraction, luminance standard deviation) of a screenshot. The edge fraction is the
    share of pixels whose luminance jumps by more than 48 (of 255) to the next pixel on the right:
    text and lines make such edges, a blank slide or a plain gradient does not. A blank slide
    gives (0.0, 0.0); a gradient without text gives (0.0, >0)."""
    width, height, channels, pixels = read_png(path)
    colour_channels = min(channels, 3)

    def lum(i: int) -> float:
        return sum(pixels[i:i + colour_channels]) / colour_channels

    edges = samples = 0
    total = total_sq = 0.0
    for y in range(0, height, 2):  # every other row: plenty for a screenshot, twice as fast
        row = y * width * channels
        for x in range(0, width - 1):
            here = lum(row + x * channels)
            if abs(here - lum(row + (x + 1) * channels)) > 48:
                edges += 1
            total += here
            total_sq += here * here
            samples += 1
    mean = total / samples
    return edges / samples, max(total_sq / samples - mean * mean, 0.0) ** 0.5

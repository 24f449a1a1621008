"""Mutation fuzzing of RAW file headers: read, render, and judge what happens.

    python tools/fuzz_headers.py [--cases 2000] [--seed 0] [--corpus tools/fuzz_corpus]
                                 [--keep-failures DIR] [--timeout 10]
    python tools/fuzz_headers.py --make-corpus tools/fuzz_corpus

Each case takes a seed file from the corpus (small DNGs of every Bayer layout, with EXIF, an
ActiveArea and a default crop) and damages its TIFF structure: random bytes in the header and
IFD area, a random IFD entry's type, count or value set to an extreme, or the file cut short.
A worker process then does what the app does with a file (``read_raw``, a classical preview
render) and the outcome is classed:

* ``ok``: a frame came back and rendered (warnings about damaged metadata allowed);
* ``refused``: one line of ``DarkroomError`` (what a user should see);
* ``traceback``: any other exception, or a multi-line message (a bug);
* ``warning``: a Python warning escaped (a bug: warnings are errors in the tests);
* ``hang``: no answer within ``--timeout`` seconds; ``crash``: the worker process died;
* ``file left``: the case's folder holds anything but the case file afterwards.

The summary line gives the counts and the rate (cases per second, worker restarts included).
"""

from __future__ import annotations

import argparse
import json
import random
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER = r"""
import json, os, sys, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("error")
from engine.errors import DarkroomError
from engine.io import read_raw
from engine.render import Enhancer
enhancer = Enhancer("none", device="cpu")
for line in sys.stdin:
    path = line.strip()
    folder = os.path.dirname(path)
    try:
        frame = read_raw(path)
        enhancer.render_preview(frame, None, max_side=64)
        outcome, detail = "ok", ";".join(getattr(frame, "warnings", ()))
    except DarkroomError as exc:
        text = str(exc)
        outcome, detail = ("refused" if "\n" not in text else "traceback"), text[:200]
    except Warning as exc:
        outcome, detail = "warning", f"{type(exc).__name__}: {exc}"[:200]
    except Exception as exc:
        outcome, detail = "traceback", f"{type(exc).__name__}: {exc}"[:200]
    left = sorted(set(os.listdir(folder)) - {os.path.basename(path)})
    print(json.dumps({"outcome": outcome, "detail": detail, "left": left}), flush=True)
"""


def make_corpus(folder: Path) -> None:
    """Write the seed DNGs (deterministic, about 10 kB each)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from engine.io import DngFraming, ExifInfo, write_cfa_dng

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for i, cfa in enumerate(("RGGB", "BGGR", "GRBG", "GBRG")):
        mosaic = rng.integers(200, 4000, (48 + 2 * i, 64 + 2 * i)).astype(np.uint16)
        exif = ExifInfo(make="Fuzz", model=f"Seed {i}", iso=800 * (i + 1), exposure_time=0.01,
                        f_number=2.8, focal_length=35, datetime="2024:05:01 20:00:00")  # fmt: skip
        framing = DngFraming(active_area=(2, 2, 44, 60), crop=(1, 3, 40, 55)) if i % 2 else None
        write_cfa_dng(folder / f"seed_{cfa.lower()}.dng", mosaic, cfa, black_level=128,
                      white_level=4095, wb_gains=(2.0, 1.0, 1.5), exif=exif,
                      orientation=(1, 3, 6, 8)[i], framing=framing)  # fmt: skip


def _ifd_entries(data: bytes) -> list[int]:
    """Byte offsets of every 12-byte entry of the IFDs reachable from the header."""
    if data[:2] not in (b"II", b"MM") or len(data) < 8:
        return []
    order = "<" if data[:2] == b"II" else ">"
    offsets, seen = [], set()
    ifd = struct.unpack_from(order + "I", data, 4)[0]
    while 8 <= ifd < len(data) - 2 and ifd not in seen and len(seen) < 8:
        seen.add(ifd)
        count = struct.unpack_from(order + "H", data, ifd)[0]
        for k in range(min(count, 500)):
            at = ifd + 2 + 12 * k
            if at + 12 <= len(data):
                offsets.append(at)
        nxt = ifd + 2 + 12 * count
        ifd = struct.unpack_from(order + "I", data, nxt)[0] if nxt + 4 <= len(data) else 0
    return offsets


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One damaged copy of a seed file and what was done to it."""
    buf = bytearray(data)
    entries = _ifd_entries(data)
    kind = rng.choice(["bytes", "entry", "entry", "truncate"] if entries else ["bytes"])
    if kind == "truncate":
        cut = rng.randrange(8, len(buf))
        return bytes(buf[:cut]), f"truncated at {cut}"
    if kind == "entry":
        at = rng.choice(entries)
        field = rng.choice(["type", "count", "value"])
        extreme = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(1 << 32)])
        if field == "type":
            buf[at + 2 : at + 4] = rng.randrange(0, 20).to_bytes(2, "little")
        elif field == "count":
            buf[at + 4 : at + 8] = extreme.to_bytes(4, "little")
        else:
            buf[at + 8 : at + 12] = extreme.to_bytes(4, "little")
        tag = int.from_bytes(data[at : at + 2], "little")
        return bytes(buf), f"tag {tag} {field} = {extreme}"
    end = max(entries) + 12 if entries else min(len(buf), 4096)
    for _ in range(rng.randrange(1, 9)):
        buf[rng.randrange(0, min(end, len(buf)))] = rng.randrange(256)
    return bytes(buf), "random header bytes"


class Worker:
    """The subprocess that reads cases; restarted when it dies or hangs."""

    def __init__(self) -> None:
        self.restarts = -1
        self.proc: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        self.stop()
        self.restarts += 1
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(ROOT)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()

    def run(self, path: Path, timeout: float) -> dict[str, object]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        try:
            self.proc.stdin.write(f"{path}\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.start()
            return {"outcome": "crash", "detail": "worker gone", "left": []}
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.start()
            return {"outcome": "hang", "detail": f"no answer in {timeout:g} s", "left": []}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.start()
            return {"outcome": "crash", "detail": f"worker died ({code})", "left": []}
        return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=ROOT / "tools" / "fuzz_corpus")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--keep-failures", type=Path, help="copy bug-class cases here")
    parser.add_argument("--make-corpus", type=Path, help="write the seed files and stop")
    args = parser.parse_args()
    if args.make_corpus:
        make_corpus(args.make_corpus)
        return
    seeds = sorted(args.corpus.glob("*.dng"))
    if not seeds:
        sys.exit(f"fuzz_headers: no seeds in {args.corpus} (use --make-corpus)")
    rng = random.Random(args.seed)
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    worker = Worker()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="darkroom-fuzz-"))
    try:
        for i in range(args.cases):
            seed = rng.choice(seeds)
            data, what = mutate(seed.read_bytes(), rng)
            folder = work / f"case{i}"
            folder.mkdir()
            path = folder / seed.name
            path.write_bytes(data)
            result = worker.run(path, args.timeout)
            outcome = str(result["outcome"])
            if result.get("left"):
                outcome = "file left"
            counts[outcome] += 1
            bug = outcome not in ("ok", "refused")
            if bug:
                examples.setdefault(outcome, f"{seed.name}, {what}: {result['detail']}")
                if args.keep_failures:
                    args.keep_failures.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, args.keep_failures / f"{i}_{outcome}_{seed.name}")
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        worker.stop()
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    order = ["ok", "refused", "traceback", "warning", "hang", "crash", "file left"]
    summary = ", ".join(f"{counts[k]} {k}" for k in order)
    print(f"{args.cases} cases in {elapsed:.1f} s ({args.cases / elapsed:.1f} per s, "
          f"{worker.restarts} worker restarts): {summary}")  # fmt: skip
    for outcome, example in examples.items():
        print(f"  first {outcome}: {example}")


if __name__ == "__main__":
    main()

"""Try Darkroom as a hostile or unlucky user would, and count what it gets right.

    python tools/robustness_probe.py [--root CHECKOUT] [--out table.md]

Every case runs ``python -m engine.cli`` (or a few lines of the engine) from ``--root`` (this
checkout by default; point it at an older one to compare) in a fresh folder, and passes when
Darkroom does what a trusted photo tool must: a good file is exported (warnings allowed), a bad
one is refused in one ``darkroom-cli: error:`` line with no traceback, nothing partial or
stray is left behind, nothing the user owns is replaced, and a bad model card disables only
that model. Prints a table of categories, cases and passes, and the failures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


class Probe:
    """Runs the CLI of one checkout in scratch folders and keeps the score."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = Path(tempfile.mkdtemp(prefix="darkroom-probe-"))
        self.library = self.work / "library"
        self.results: list[tuple[str, str, bool, str]] = []

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.root), "DARKROOM_MODELS_DIR":
                str(self.library), "QT_QPA_PLATFORM": "offscreen"}  # fmt: skip

    def cli(self, *argv: str | bytes, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "engine.cli", *argv], cwd=self.work,
                              env=self.env(), capture_output=True, timeout=timeout)  # fmt: skip

    def python(self, code: str, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=self.work,
                              env=self.env(), capture_output=True, timeout=timeout)  # fmt: skip

    def case(self, category: str, name: str, check: Callable[[], tuple[bool, str]]) -> None:
        try:
            ok, note = check()
        except Exception as exc:  # noqa: BLE001 - a probe case that breaks is a failed case
            ok, note = False, f"probe: {type(exc).__name__}: {exc}"
        self.results.append((category, name, ok, note))
        print(f"{'pass' if ok else 'FAIL'}  {category}: {name}  {note if not ok else ''}",
              file=sys.stderr, flush=True)  # fmt: skip

    def folder(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> tuple[bool, str]:
    err = result.stderr.decode("utf-8", "replace")
    lines = [ln for ln in err.splitlines() if ln.strip() and "warning:" not in ln]
    ok = (result.returncode != 0 and len(lines) == 1 and lines[0].startswith("darkroom-cli: "
          "error:") and "Traceback" not in err and "internal error" not in err)  # fmt: skip
    return ok, f"exit {result.returncode}: {err.strip()[-160:]!r}"


def exported(result: subprocess.CompletedProcess[bytes], out: Path) -> tuple[bool, str]:
    err = result.stderr.decode("utf-8", "replace")
    ok = result.returncode == 0 and out.is_file() and out.stat().st_size > 0
    ok = ok and "Traceback" not in err and "Warning" not in err
    return ok, f"exit {result.returncode}: {err.strip()[-160:]!r}"


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- the cases ---------------------------------------------------------------------------


def make_files(probe: Probe) -> dict[str, Path]:
    """Good and bad inputs, made by the checkout's own DNG writer."""
    files = probe.folder("in")
    code = f"""
        import numpy as np
        from engine.io import ExifInfo, write_cfa_dng
        from engine.io.testdata import write_synthetic_dng
        rng = np.random.default_rng(0)
        m = rng.integers(600, 3000, (64, 96)).astype(np.uint16)
        d = {str(files)!r}
        kw = dict(black_level=512, white_level=4095)
        write_cfa_dng(d + "/good.dng", m, "RGGB", **kw)
        write_cfa_dng(d + "/singular.dng", m, "RGGB", xyz_to_cam=np.ones((3, 3)), **kw)
        write_cfa_dng(d + "/huge_matrix.dng", m, "RGGB", xyz_to_cam=np.full((3, 3), 1e6), **kw)
        write_cfa_dng(d + "/bad_date.dng", m, "RGGB", exif=ExifInfo(make="X", model="Y",
                      datetime="9999:99:99 99:99:99"), **kw)
        write_cfa_dng(d + "/bad_wb.dng", m, "RGGB", wb_gains=(1000.0, 1.0, 1e-4), **kw)
        write_cfa_dng(d + "/saturated.dng", np.full((64, 96), 4095, np.uint16), "RGGB", **kw)
        write_cfa_dng(d + "/flat_black.dng", np.full((64, 96), 512, np.uint16), "RGGB", **kw)
        write_synthetic_dng(d + "/big.dng", 2000, 3000)
    """
    result = probe.python(code)
    if result.returncode:
        raise RuntimeError(result.stderr.decode()[-500:])
    good = (files / "good.dng").read_bytes()
    (files / "empty.dng").write_bytes(b"")
    (files / "truncated.dng").write_bytes(good[:6000])
    (files / "random.dng").write_bytes(os.urandom(20000))
    (files / "photo.NEF").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4000))
    (files / ("a" * 251 + ".dng")).write_bytes(good)
    (Path(os.fsdecode(bytes(files) + b"/caf\xe9.dng"))).write_bytes(good)
    return {p.name: p for p in files.iterdir()}


def bad_inputs(probe: Probe, files: dict[str, Path]) -> None:
    out = probe.folder("out")
    refused = ["empty.dng", "truncated.dng", "random.dng", "photo.NEF", "flat_black.dng"]

    def refuse(name: str) -> tuple[bool, str]:
        return one_line_error(probe.cli("enhance", str(files[name]), "--model", "none", "-o",
                                        str(out)))  # fmt: skip

    for name in refused:
        probe.case("bad input refused in one line", name, lambda n=name: refuse(n))
    probe.case("bad input refused in one line", "missing file", lambda: one_line_error(
        probe.cli("enhance", str(probe.work / "nope.dng"), "--model", "none")))  # fmt: skip
    probe.case("bad input refused in one line", "path over PATH_MAX", lambda: one_line_error(
        probe.cli("enhance", "/tmp/" + "x/" * 2100 + "a.dng", "--model", "none")))  # fmt: skip
    fine = ["singular.dng", "huge_matrix.dng", "bad_date.dng", "bad_wb.dng", "saturated.dng",
            "a" * 251 + ".dng"]  # fmt: skip

    def export(name: str) -> tuple[bool, str]:
        target = out / (Path(name).stem[:40] + ".jpg")
        return exported(probe.cli("enhance", str(files[name]), "--model", "none", "-o",
                                  str(target)), target)  # fmt: skip

    for name in fine:
        probe.case("damaged metadata, picture fine: exported", name[:40], lambda n=name: export(n))
    odd = next(f for f in files if f.startswith("caf"))

    def non_utf8() -> tuple[bool, str]:
        folder = probe.folder("out_odd")
        result = probe.cli(b"enhance", os.fsencode(files[odd]), b"--model", b"none", b"-o",
                           os.fsencode(folder))  # fmt: skip
        made = [p for p in folder.iterdir() if p.suffix == ".jpg"]
        return exported(result, made[0]) if made else (False, result.stderr.decode()[-160:])

    probe.case("damaged metadata, picture fine: exported", "name that is not UTF-8", non_utf8)


def interrupted_exports(probe: Probe, files: dict[str, Path]) -> None:
    for fmt in ("jpeg", "tiff", "dng"):

        def kill_then_rerun(fmt: str = fmt) -> tuple[bool, str]:
            folder = probe.folder(f"kill_{fmt}")
            argv = [sys.executable, "-m", "engine.cli", "enhance", str(files["big.dng"]),
                    "--model", "none", "--format", fmt, "-o", str(folder)]  # fmt: skip
            if fmt == "tiff":
                argv += ["--bits", "16"]
            child = subprocess.Popen(argv, cwd=probe.work, env=probe.env(),
                                     stderr=subprocess.DEVNULL)  # fmt: skip
            deadline = time.time() + 120
            while time.time() < deadline and not hidden(folder) and child.poll() is None:
                time.sleep(0.002)
            child.send_signal(signal.SIGKILL)
            child.wait()
            left = hidden(folder)
            rerun = subprocess.run(argv, cwd=probe.work, env=probe.env(), capture_output=True)
            after = hidden(folder)
            finals = [p.name for p in folder.iterdir() if not p.name.startswith(".")]
            ok = not after and rerun.returncode == 0 and len(finals) == 1
            return ok, f"left by kill: {left}; after a re-run: {after}, {finals}"

        probe.case("kill -9 during export, then run again", fmt, kill_then_rerun)


def racing_exports(probe: Probe, files: dict[str, Path]) -> None:
    def race(i: int) -> tuple[bool, str]:
        folder = probe.folder(f"race{i}")
        out = folder / "same.jpg"
        argv = [sys.executable, "-m", "engine.cli", "enhance", str(files["big.dng"]),
                "--model", "none", "-o", str(out)]  # fmt: skip
        runs = [subprocess.Popen(argv, cwd=probe.work, env=probe.env(), stderr=subprocess.PIPE)
                for _ in range(2)]  # fmt: skip
        codes = []
        for run in runs:
            _, err = run.communicate()
            codes.append((run.returncode, err.decode()[-120:]))
        wins = [c for c, _ in codes if c == 0]
        told = [e for c, e in codes if c != 0 and "exists" in e]
        return len(wins) == 1 and len(told) == 1 and not hidden(folder), f"{codes}"

    for i in range(3):
        probe.case("two runs, one output, no --overwrite", f"race {i + 1}", lambda i=i: race(i))


def hostile_cards(probe: Probe) -> None:
    probe.library.mkdir(parents=True, exist_ok=True)
    made = probe.python(f"""
        import json, torch
        from engine.models import ModelCard, create_model, save_model
        m = create_model("lite")
        lib = {str(probe.library)!r}
        for name in ("text_number", "metrics_list", "deep", "giant", "levels60"):
            save_model(m, ModelCard(name=name, architecture="lite", config=m.config),
                       __import__("pathlib").Path(lib) / (name + ".safetensors"))
    """)
    if made.returncode:
        raise RuntimeError(made.stderr.decode()[-400:])
    edits = {
        "text_number": {"iterations": "many", "metrics": {"psnr": "high"}},
        "metrics_list": {"metrics": [1, 2, 3]},
        "giant": {"config": {"base_features": 2048}},
        "levels60": {"config": {"levels": 60}},
    }
    for name, change in edits.items():
        card = probe.library / f"{name}.json"
        data = json.loads(card.read_text())
        if "config" in change:
            change = {"config": {**data["config"], **change["config"]}}
        card.write_text(json.dumps({**data, **change}))
    (probe.library / "deep.json").write_text("[" * 100_000 + "]" * 100_000)

    def models_lists_them() -> tuple[bool, str]:
        result = probe.cli("models", timeout=120)
        text = result.stdout.decode()
        ok = result.returncode == 0 and "Traceback" not in result.stderr.decode()
        ok = ok and all(name in text for name in ("baseline", *edits, "deep"))
        return ok, f"exit {result.returncode}: {result.stderr.decode()[-160:]!r}"

    def enhance_still_works() -> tuple[bool, str]:
        out = probe.folder("cards") / "x.jpg"
        good = probe.work / "in" / "good.dng"
        return exported(probe.cli("enhance", str(good), "--model", "lite", "-o", str(out),
                                  timeout=120), out)  # fmt: skip

    probe.case("bad cards disable one model only", "darkroom-cli models", models_lists_them)
    probe.case("bad cards disable one model only", "enhance --model lite", enhance_still_works)
    for name in edits:
        probe.case("bad cards disable one model only", f"--model {name} refused", lambda n=name:
                   one_line_error(probe.cli("enhance", str(probe.work / "in" / "good.dng"),
                                            "--model", n, timeout=120)))  # fmt: skip


def library_names(probe: Probe) -> None:
    victim = probe.work / "victim.safetensors"
    for op in ("get_model", "delete_model", "rename", "export_model"):

        def attempt(op: str = op) -> tuple[bool, str]:
            victim.write_bytes(b"mine")
            calls = {
                "get_model": "get_model('../victim', lib)",
                "delete_model": "delete_model('../victim', lib)",
                "rename": "rename_model('../victim', 'x', lib)",
                "export_model": "export_model('../victim', lib + '/../exported', lib)",
            }
            result = probe.python(f"""
                from engine.models import *
                from engine.errors import ModelError
                lib = {str(probe.library)!r}
                try:
                    {calls[op]}
                    print("ACCEPTED")
                except ModelError as exc:
                    print("refused", exc)
            """)
            out = result.stdout.decode()
            return ("refused" in out and victim.read_bytes() == b"mine"), out.strip()[-160:]

        probe.case("names never leave the library", op, attempt)


def warm_start_files(probe: Probe) -> None:
    photos = probe.folder("photos")
    made = probe.python(f"""
        import numpy as np, imageio.v3 as iio
        for i in range(2):
            iio.imwrite({str(photos)!r} + f"/p{{i}}.png",
                        np.random.default_rng(i).integers(0, 255, (64, 64, 3)).astype(np.uint8))
    """)
    if made.returncode:
        raise RuntimeError(made.stderr.decode()[-300:])
    for suffix in (".pth", ".safetensors"):
        evil = probe.work / f"evil{suffix}"
        evil.write_bytes(b"\x80\x04not what it claims")
        probe.case("bad weights given to train", f"--init evil{suffix}", lambda e=evil:
                   one_line_error(probe.cli("train", "--variant", "lite", "--data", str(photos),
                                            "--iterations", "1", "--out", str(probe.work /
                                            "m.safetensors"), "--init", str(e), "--device",
                                            "cpu")))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=HERE)
    parser.add_argument("--out", type=Path, help="write the table (markdown) here too")
    args = parser.parse_args()
    probe = Probe(args.root.resolve())
    try:
        files = make_files(probe)
        bad_inputs(probe, files)
        interrupted_exports(probe, files)
        racing_exports(probe, files)
        hostile_cards(probe)
        library_names(probe)
        warm_start_files(probe)
    finally:
        shutil.rmtree(probe.work, ignore_errors=True)
    table = ["| category | cases | passed |", "|---|---:|---:|"]
    categories: dict[str, list[bool]] = {}
    for category, _, ok, _ in probe.results:
        categories.setdefault(category, []).append(ok)
    for category, oks in categories.items():
        table.append(f"| {category} | {len(oks)} | {sum(oks)} |")
    total = [ok for _, _, ok, _ in probe.results]
    table.append(f"| **all** | **{len(total)}** | **{sum(total)}** |")
    print("\n".join(table))
    failures = [f"- {c}: {n}: {note}" for c, n, ok, note in probe.results if not ok]
    if failures:
        print("\nFailures:\n" + "\n".join(failures))
    if args.out:
        args.out.write_text("\n".join(table) + ("\n\nFailures:\n" + "\n".join(failures)
                                                  if failures else "") + "\n")  # fmt: skip


if __name__ == "__main__":
    main()

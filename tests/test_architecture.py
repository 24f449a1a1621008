"""The engine stays Qt-free, so it runs headless, in CI and on servers."""

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "superqt", "qtpy", "darkroom_app")


def test_engine_sources_never_import_qt() -> None:
    offenders = []
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert not offenders


def test_importing_the_engine_loads_no_qt() -> None:
    code = (
        "import sys, engine.cli.main, engine.render.pipeline, engine.io.export, engine.io.dng, "
        "engine.models.weights;"
        f"bad=[m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_contracts_hold() -> None:
    """import-linter's contracts in pyproject.toml: the layer order, a Qt-free engine, and a
    window that imports only the engine's faces."""
    root = ENGINE.parent
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
         "lint_imports_command()", "--no-cache"],
        capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_engine_root_holds_only_the_foundation() -> None:
    modules = sorted(p.name for p in ENGINE.glob("*.py"))
    assert modules == [
        "__init__.py", "device.py", "distributed.py", "errors.py", "files.py", "jobs.py",
        "resources.py",
    ]  # fmt: skip
    for package in sorted(p for p in ENGINE.iterdir() if (p / "__init__.py").is_file()):
        face = (package / "__init__.py").read_text(encoding="utf-8")
        assert "__all__" in face, f"engine/{package.name}/__init__.py has no __all__"

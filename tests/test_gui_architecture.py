"""The window's parts take the session, never the window, and import no circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "darkroom_app"
#: The window itself, and the two modules that create and return it (they are not its parts).
WINDOW_MODULES = ("main_window.py", "main.py", "__init__.py")
MAIN_WINDOW = re.compile(r"\bMainWindow\b")


def window_dependencies(source: str) -> list[str]:
    """Where a module takes or imports the main window: a parameter annotated with it, or an
    import of it (under ``if TYPE_CHECKING:`` or not)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotation = ast.unparse(node.annotation)
            if MAIN_WINDOW.search(annotation):
                found.append(f"parameter {node.arg}: {annotation}")
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if (node.module or "").endswith("main_window") or "MainWindow" in names:
                found.append(f"import from {node.module}: {', '.join(names)}")
    return found


def local_imports(path: Path) -> set[str]:
    """The darkroom_app modules ``path`` imports, anywhere in the file (TYPE_CHECKING blocks and
    function bodies included: a circle hidden there is still a circle)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level == 1:
            found.update([module.split(".")[0]] if module else [a.name for a in node.names])
        elif module.startswith("darkroom_app."):
            found.add(module.split(".")[1])
    return found


def test_no_part_of_the_window_takes_the_window() -> None:
    offenders = [
        f"{path.name}: {what}"
        for path in sorted(APP.glob("*.py"))
        if path.name not in WINDOW_MODULES
        for what in window_dependencies(path.read_text(encoding="utf-8"))
    ]
    assert not offenders


def test_the_check_sees_a_window_parameter_and_a_type_checking_import() -> None:
    old_style = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .main_window import MainWindow\n"
        "class Exporter:\n    def __init__(self, window: 'MainWindow', pool: int) -> None: ...\n"
        "def ok(window: QMainWindow) -> None: ...\n"
    )
    assert window_dependencies(old_style) == [
        "import from main_window: MainWindow",
        "parameter window: 'MainWindow'",
    ]


def test_the_window_package_imports_no_circle() -> None:
    graph = {path.stem: local_imports(path) for path in APP.glob("*.py")}
    circles = []

    def visit(module: str, trail: list[str]) -> None:
        for imported in sorted(graph.get(module, ())):
            if imported in trail:
                circles.append(" -> ".join([*trail[trail.index(imported) :], imported]))
            elif imported in graph:
                visit(imported, [*trail, imported])

    for module in sorted(graph):
        visit(module, [module])
    assert not circles

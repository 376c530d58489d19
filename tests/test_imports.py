"""The house's arrows run one way: the bot stands on the classifier, handlers on services, never back.

Reads the source (ast), so imports under TYPE_CHECKING and module names given to importlib count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "classifier")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def named_modules(tree: ast.AST, here: str) -> set[str]:
    """Every module a file names: import, from-import (each imported name that is a module too),
    and string arguments of importlib.import_module / __import__."""
    named: set[str] = set()
    package = here if (ROOT / here.replace(".", "/") / "__init__.py").exists() else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            named.add(base)
            named.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                named.add(node.args[0].value)
    return named


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    return {name: {other for other in named_modules(ast.parse(path.read_text()), name) if other in modules
                   and other != name}
            for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle_in_bot_or_classifier() -> None:
    assert find_cycle(import_graph()) is None


def test_the_classifier_never_names_the_bot_and_nothing_names_the_tests() -> None:
    for name, path in source_modules().items():
        named = named_modules(ast.parse(path.read_text()), name)
        roots = {module.split(".")[0] for module in named}
        assert "tests" not in roots, name
        if name.split(".")[0] == "classifier":
            assert "bot" not in roots and "telegram" not in roots, name


def test_the_walker_sees_type_checking_imports_importlib_and_cycles() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.game import Games\n"
                     "import importlib\nimportlib.import_module('bot.bench')\nfrom . import replies\n")
    assert {"bot.game", "bot.game.Games", "bot.bench", "bot.replies"} <= named_modules(tree, "bot.services")
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None

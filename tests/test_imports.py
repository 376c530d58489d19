"""The house's arrows run one way: the bot stands on the classifier, and within each package a room
imports only the rooms below it (ROOMS, lowest first), never back up.

Reads the source (ast), so imports under TYPE_CHECKING and module names given to importlib count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "classifier")

# Each package's rooms, lowest first: a module may import its own room and the rooms before it. A room
# is a sub-package or a single module; the last entry of each package is its assembly (entry points,
# the one place that wires the rest, the settings of the whole).
ROOMS = {
    "bot": [
        ["bot.settings"],
        ["bot.words"],  # every sentence and the languages; takes plain values
        ["bot.state"],  # SQLite, chat moves, albums, rate limits
        ["bot.telemetry"],  # metrics, traces, loop lag
        ["bot.transport"],  # the way to Telegram
        ["bot.conversation"],  # what users talk to
        ["bot.ops"],  # the operator's server, /stats, backups, logs
        ["bot", "bot.app", "bot.bench", "bot.__main__"],
    ],
    "classifier": [
        ["classifier.messages", "classifier.lrustore", "classifier.private"],
        ["classifier.text"],
        ["classifier.pictures"],
        ["classifier.model"],
        ["classifier.openset", "classifier.zeroshot"],
        ["classifier.batching"],
        ["classifier", "classifier.settings", "classifier.factory", "classifier.cli", "classifier.evaluation",
         "classifier.bench", "classifier.progress", "classifier.__main__"],
    ],
}


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
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                     "    from bot.conversation.game import Games\n"
                     "import importlib\nimportlib.import_module('bot.bench')\nfrom . import replies\n")
    assert {"bot.conversation.game", "bot.conversation.game.Games", "bot.bench",
            "bot.conversation.replies"} <= named_modules(tree, "bot.conversation.services")
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def room_of(module: str) -> tuple[str, int]:
    """(package, the room's rank) of a module: the longest room prefix that holds it."""
    package = module.split(".")[0]
    best: tuple[int, int] = (-1, -1)
    for rank, room in enumerate(ROOMS[package]):
        for prefix in room:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), rank)
    return package, best[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a room to a higher room of the same package, as 'a -> b'."""
    found = []
    for module, named in sorted(graph.items()):
        package, rank = room_of(module)
        for other in sorted(named):
            other_package, other_rank = room_of(other)
            if other_package == package and other_rank > rank:
                found.append(f"{module} -> {other}")
    return found


def test_every_module_has_a_room() -> None:
    assert [name for name in source_modules() if room_of(name)[1] < 0] == []


def test_imports_run_down_the_rooms_never_up() -> None:
    assert upward_imports(import_graph()) == []


def test_the_room_rule_sees_an_import_up() -> None:
    graph = {"bot.words.replies": {"bot.state.storage"}, "bot.state.storage": {"bot.words.i18n"},
             "classifier.pictures.devicedecode": {"classifier.zeroshot"}}
    assert upward_imports(graph) == ["bot.words.replies -> bot.state.storage",
                                     "classifier.pictures.devicedecode -> classifier.zeroshot"]

"""The packages' imports point down only, so no circle can come back and be dodged again.

Every module's imports are read from its source (those inside functions too) and checked:
- the top-level packages import only those below them: bot → schedules → handlers → config →
  domain → storage, with locales at the bottom (every package may use it, it uses none);
- python-telegram-bot is imported only by the Telegram adapter (bot/telegram/) and the
  assembly modules that build and start it;
- the Telegram and Zalo adapters never import each other, and a process serving Zalo alone
  loads neither python-telegram-bot nor the Telegram adapter;
- no module imports another that imports it back (at load time), so nothing needs an import
  inside a function to break a circle.

Each test lists every violation it finds (file, line, import), not only the first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Top to bottom: a package may import only those after it.
LAYERS = ("bot", "schedules", "handlers", "config", "domain", "storage", "locales")
NOT_LAYERED = {"tests", "bench", "deploy"}  # they use everything; nothing uses them
TELEGRAM = "telegram"  # python-telegram-bot
TELEGRAM_ADAPTER = "bot.telegram"
ZALO_ADAPTER = "bot.zalo"
# The assembly beside the Telegram adapter that builds, starts or stands in for PTB's
# Application: the application, its context, the outgoing guard and pace, the JobQueue
# wiring, the offline Bot API and console, the update counter's kinds, and the command
# line's own Telegram sends.
TELEGRAM_ASSEMBLY = {
    "bot.app",
    "bot.cli_broadcast",
    "bot.console",
    "bot.context",
    "bot.jobs",
    "bot.limiter",
    "bot.offline",
    "bot.outgoing",
    "bot.telegram_kinds",
}
# What `boiduong run --channel zalo` loads: it must do without PTB.
ZALO_ONLY = ("bot.serve", ZALO_ADAPTER)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    path: str  # its file, relative to the project
    line: int
    target: str  # the imported module, dotted and absolute
    top_level: bool  # run when the module loads (not inside a function or class body)

    def __str__(self) -> str:
        where = "" if self.top_level else " (inside a function)"
        return f"{self.path}:{self.line}: {self.module} imports {self.target}{where}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the layered packages, by dotted name."""
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([base] if base else [])])
    yield base
    for alias in node.names:  # `from pkg import module` imports that module too
        if f"{base}.{alias.name}" in modules():
            yield f"{base}.{alias.name}"


@cache
def imports() -> tuple[Import, ...]:
    found = []
    for module, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        top = {id(node) for node in _load_time(tree.body)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                rel = str(path.relative_to(ROOT))
                for target in _targets(module, path, node):
                    found.append(Import(module, rel, node.lineno, target, id(node) in top))
    return tuple(found)


def _load_time(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when the module loads: its body, into if/try/with blocks, but not
    into functions or classes' methods (`if TYPE_CHECKING:` counts: mypy reads it)."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.With | ast.AsyncWith):
            yield from _load_time(node.body)
            yield from _load_time(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _load_time(block)
            for handler in node.handlers:
                yield from _load_time(handler.body)
        elif isinstance(node, ast.ClassDef):
            yield from _load_time(node.body)


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _report(title: str, violations: Iterable[object]) -> None:
    found = sorted({str(v) for v in violations})
    assert not found, f"{title} ({len(found)}):\n" + "\n".join(found)


def test_every_package_has_its_place_in_the_layers() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    missing = sorted(packages - set(LAYERS) - NOT_LAYERED)
    _report("packages in no layer: add them to LAYERS", missing)


def test_packages_import_only_those_below_them() -> None:
    rank = {package: n for n, package in enumerate(LAYERS)}
    _report(
        "imports pointing up or sideways (allowed: " + " → ".join(LAYERS) + ")",
        (
            i
            for i in imports()
            if _top(i.target) in rank and rank[_top(i.target)] < rank[_top(i.module)]
        ),
    )


def test_no_circle_between_packages() -> None:
    edges: dict[str, set[str]] = {package: set() for package in LAYERS}
    for i in imports():
        if _top(i.target) in edges and _top(i.target) != _top(i.module):
            edges[_top(i.module)].add(_top(i.target))
    _report("circles between packages", (" → ".join(c) for c in _circles(edges)))


def test_python_telegram_bot_is_imported_by_the_telegram_adapter_and_assembly_only() -> None:
    _report(
        f"imports of python-telegram-bot outside {TELEGRAM_ADAPTER} and the assembly",
        (
            i
            for i in imports()
            if _within(i.target, TELEGRAM)
            and not _within(i.module, TELEGRAM_ADAPTER)
            and i.module not in TELEGRAM_ASSEMBLY
        ),
    )


def test_the_telegram_and_zalo_adapters_never_import_each_other() -> None:
    pairs = ((TELEGRAM_ADAPTER, ZALO_ADAPTER), (ZALO_ADAPTER, TELEGRAM_ADAPTER))
    _report(
        "imports between the adapters",
        (i for i in imports() for a, b in pairs if _within(i.module, a) and _within(i.target, b)),
    )


def test_a_process_serving_zalo_alone_loads_no_telegram() -> None:
    """What the Zalo adapter and `run --channel zalo` load when they start, import after
    import, reaches neither python-telegram-bot nor the Telegram adapter."""
    graph = _load_graph()
    starts = [m for m in modules() if any(_within(m, root) for root in ZALO_ONLY)]
    paths: dict[str, list[str]] = {m: [m] for m in starts}
    queue = list(starts)
    while queue:
        module = queue.pop(0)
        for target in sorted(graph.get(module, ())):
            if target not in paths:
                paths[target] = [*paths[module], target]
                queue.append(target)
    _report(
        "python-telegram-bot loaded without Telegram",
        (
            " → ".join(path)
            for target, path in paths.items()
            if _within(target, TELEGRAM) or _within(target, TELEGRAM_ADAPTER)
        ),
    )


def test_no_module_imports_itself_back_when_it_loads() -> None:
    """A circle of imports run at load time breaks on whichever module loads first; importing
    `a.b.c` loads the packages `a` and `a.b` first, and those count (a package's __init__
    that imports its features is part of every circle through one of its modules)."""
    graph = {m: {t for t in ts if t in modules()} for m, ts in _load_graph().items()}
    _report("circles of imports at load time", (" → ".join(c) for c in _circles(graph)))


def _load_graph() -> dict[str, set[str]]:
    """Module → what loading it loads first: its top-level imports and their packages (not
    its own packages, being loaded already); other libraries by their top-level name."""
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for i in imports():
        if not i.top_level:
            continue
        if _top(i.target) not in LAYERS:
            graph[i.module].add(_top(i.target))
            continue
        own = _packages(i.module)
        for target in (i.target, *_packages(i.target)):
            if target in modules() and target != i.module and target not in own:
                graph[i.module].add(target)
    return graph


def _packages(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected group of nodes (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle_in(graph, group) for group in groups]


def _circle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest way from the group's first node back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError("a strongly connected group has a circle")

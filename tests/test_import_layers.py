"""Dependencies point one way (STYLE.md 2): no trionode package imports a higher layer, and no
module takes part in an import cycle (file level, type-checking-only imports aside).

Packages in one layer may import each other, but never in a cycle of modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import trionode

LAYERS: list[set[str]] = [
    {"wire", "nursery", "runfiles", "__init__"},
    {"protocols"},
    {"consensus", "keys", "plotting"},
    {"storage"},
    {"blockchain", "mempool"},
    {"peers"},
    {"sync", "service"},
    {"rpc"},  # the generic operator RPC and metrics servers: no role in them
    {"roles", "config", "config_values", "init_root", "wallet"},
    # local process networks; in-process drivers, fakes and the network simulator for tests
    {"devnet", "testing", "simulation"},
    {"testnet"},
    {"cli", "__main__"},  # every command (trionode/cli/)
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
PACKAGE = Path(trionode.__file__).parent


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def _imported_modules(path: Path, *, runtime_only: bool = False) -> set[str]:
    """The ``trionode`` modules ``path`` imports: ``from trionode.x import y`` is the module
    ``trionode.x.y`` if there is one, else ``trionode.x``. ``runtime_only`` leaves out the
    imports under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("trionode.")}


def _imports(path: Path) -> set[str]:
    """The top-level packages and modules of trionode that ``path`` imports."""
    return {name.split(".")[1] for name in _imported_modules(path) if name != "trionode"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_package_has_a_layer() -> None:
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.rglob("*.py")}
    assert tops - set(RANK) == set()


def test_no_package_imports_a_higher_layer() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for imported in _imports(path):
            if RANK[imported] > RANK[top]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports trionode.{imported}")
    assert wrong == []


def test_wire_is_sans_io() -> None:
    forbidden = {"trio", "socket", "ssl", "sqlalchemy", "trio_websocket"}
    for path in (PACKAGE / "wire").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & forbidden, f"{path.name} imports {roots & forbidden}"


def test_only_storage_imports_sqlalchemy() -> None:
    """SQL stays behind the store's typed methods: no SQLAlchemy outside trionode/storage."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "storage":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            if "sqlalchemy" in roots:
                wrong.append(str(path.relative_to(PACKAGE)))
    assert wrong == []


def test_no_module_import_cycle() -> None:
    """Module-level imports form no cycle (a lazy import inside a function counts too: it hides
    a cycle rather than removing it); ``if TYPE_CHECKING:`` imports are not run and do not."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = {m for m in _imported_modules(path, runtime_only=True) if m in modules}
        # A module's own parent packages do not count: importing the module runs them first.
        graph[name] = {m for m in imported if m != name and not name.startswith(m + ".")}
    # Tarjan's strongly connected components; a component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_rpc_imports_no_role() -> None:
    for path in (PACKAGE / "rpc").rglob("*.py"):
        wrong = {m for m in _imported_modules(path) if m.startswith("trionode.roles")}
        assert wrong == set(), f"{path.name} imports {wrong}"

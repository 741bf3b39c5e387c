"""Dependencies point one way (STYLE.md 2): no trionode package imports a higher layer.

Packages in one layer may import each other (the roles and their RPC surface are one layer).
"""

from __future__ import annotations

import ast
from pathlib import Path

import trionode

LAYERS: list[set[str]] = [
    {"wire", "nursery", "runfiles", "__init__"},
    {"protocols"},
    {"consensus", "keys"},
    {"storage", "plotting"},
    {"blockchain"},
    {"peers", "mempool"},
    {"init_root", "sync"},
    {"roles", "rpc", "metrics", "config", "wallet"},
    {"devnet", "testing"},
    {"simulation"},
    {"testnet"},
    {"cli", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
PACKAGE = Path(trionode.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "trionode" and len(parts) > 1:
                found.add(parts[1])
    return found


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

"""Modules stay small enough to read (issue 12): no module over 500 lines and no function over
80, unless the file says why in one line at its top (a comment starting ``# size:``)."""

from __future__ import annotations

import ast
from pathlib import Path

import trionode

PACKAGE = Path(trionode.__file__).parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _excused(text: str) -> bool:
    return text.lstrip().startswith("# size:")


def test_no_module_or_function_is_too_long() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if _excused(text):
            continue
        name = str(path.relative_to(PACKAGE))
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []

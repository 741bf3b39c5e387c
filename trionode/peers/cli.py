"""``python -m trionode init --root DIR``: the peer layer's part of the command line."""

from __future__ import annotations

from pathlib import Path

from trionode.init_root import init_root

__all__ = ["init_command"]


def init_command(root: str | Path) -> int:
    """Create what is missing under ``root`` (CA, certificates, config.yaml), print it, return 0."""
    created = init_root(Path(root))
    if created:
        print(f"trionode init: created {len(created)} files under {root}:")
        for path in created:
            print(f"  {path}")
    else:
        print(f"trionode init: {root} is complete; nothing to do")
    return 0

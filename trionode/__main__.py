"""Entry point for ``python -m trionode`` and the ``trionode`` command."""

from collections.abc import Sequence

from trionode.cli import main as cli_main
from trionode.nursery.gc_tuning import tune_gc


def main(argv: Sequence[str] | None = None) -> int:
    """A process of its own: the collector tuned for a node (nursery.gc_tuning), then the CLI."""
    tune_gc()
    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""Entry point for ``python -m trionode``."""

from trionode.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

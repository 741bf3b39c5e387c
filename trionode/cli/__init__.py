"""Every command of ``python -m trionode``: the top parser (:mod:`.main`) and one module
per command group."""

from trionode.cli.main import build_parser, main

__all__ = ["build_parser", "main"]

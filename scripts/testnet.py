"""Run a testnet of full node processes: the same as ``python -m trionode testnet``.

    python scripts/testnet.py --root /tmp/tn --nodes 4 --topology line --blocks 5
    python scripts/testnet.py --root /tmp/tn --nodes 3 --blocks 3 --split n0,n1/n2

Prints progress and timings (nodes up, sync, split, heal) as it goes.
"""

from __future__ import annotations

import sys

from trionode.cli import main

if __name__ == "__main__":
    sys.exit(main(["testnet", *sys.argv[1:]]))

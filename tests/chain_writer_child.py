"""Child process of the kill -9 test: adds blocks from a file to a chain store, one at a time.

    python -m tests.chain_writer_child <db url> <blocks file> <network> [<window>]

The blocks file holds FullBlocks, each as a 4-byte big-endian length and its bytes. After each
block the child prints ``committed <height> <hash hex>`` (the block's transaction has committed)
or ``have <height> <hash hex>`` (stored by an earlier run), flushed at once, then ``done``.
Anything else (``invalid``/``disconnected``) is printed too and ends the run with exit code 1.
With ``<window>``, blocks are added ``window`` at a time (``add_blocks``: one transaction per
window, as a long sync commits), and the lines of a window are printed after it returned.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from trionode.blockchain import AddBlockStatus, Blockchain
from trionode.consensus import get_constants
from trionode.protocols.chain_types import FullBlock
from trionode.storage import ChainStore


def read_blocks(path: Path) -> list[FullBlock]:
    data = path.read_bytes()
    blocks, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        blocks.append(FullBlock.from_bytes(data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return blocks


def write_blocks(path: Path, blocks: list[FullBlock]) -> None:
    path.write_bytes(b"".join(len(b := bytes(x)).to_bytes(4, "big") + b for x in blocks))


async def run(url: str, blocks_file: Path, network: str, window: int = 1) -> int:
    blocks = read_blocks(blocks_file)
    async with await ChainStore.open(url) as store:
        chain = await Blockchain.create(store, get_constants(network))
        for start in range(0, len(blocks), window):
            part = blocks[start : start + window]
            results = await chain.add_blocks(part)
            for block, result in zip(part, results, strict=True):
                if result.added:
                    word = "committed"
                elif result.status is AddBlockStatus.ALREADY_HAVE:
                    word = "have"
                else:
                    print(f"{result.status.value} {block.height} {result.error}", flush=True)
                    return 1
                print(f"{word} {block.height} {block.header_hash.hex()}", flush=True)
    print("done", flush=True)
    return 0


def main() -> None:
    url, blocks_file, network = sys.argv[1:4]
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    sys.exit(trio.run(run, url, Path(blocks_file), network, window))


if __name__ == "__main__":
    main()

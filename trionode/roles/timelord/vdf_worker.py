"""``python -m trionode.roles.timelord.vdf_worker CHALLENGE_HEX BITS ITERS``: prints the proof hex."""

from __future__ import annotations

import sys

from trionode.roles.timelord.vdf import prove


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: vdf_worker CHALLENGE_HEX BITS ITERS", file=sys.stderr)
        return 2
    challenge = bytes.fromhex(argv[0])
    print(prove(challenge, int(argv[1]), int(argv[2])).hex())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Child process that runs chiapos' DiskPlotter (which prints from C++ straight to stdout).

Run as ``python -m trionode.plotting._plotter TMP TMP2 FINAL FILENAME K MEMO_HEX PLOT_ID_HEX``;
parameters per LIBRARIES.md: buffer 100 MB, buckets 0 (auto), stripe size 2000, 2 threads,
bitfield on. Exit status 0 on success; the parent reads the chatter line by line for progress.
"""

from __future__ import annotations

import sys

BUFFER_MB = 100
NUM_BUCKETS = 0
STRIPE_SIZE = 2000
NUM_THREADS = 2
NOBITFIELD = False


def main(argv: list[str]) -> int:
    if len(argv) != 7:
        print("usage: _plotter TMP TMP2 FINAL FILENAME K MEMO_HEX PLOT_ID_HEX", file=sys.stderr)
        return 2
    tmp, tmp2, final, filename, k, memo_hex, plot_id_hex = argv
    from chiapos import DiskPlotter

    sys.stdout.flush()
    try:
        DiskPlotter().create_plot_disk(
            tmp,
            tmp2,
            final,
            filename,
            int(k),
            bytes.fromhex(memo_hex),
            bytes.fromhex(plot_id_hex),
            BUFFER_MB,
            NUM_BUCKETS,
            STRIPE_SIZE,
            NUM_THREADS,
            NOBITFIELD,
        )
    except RuntimeError as exc:
        print(f"chiapos failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

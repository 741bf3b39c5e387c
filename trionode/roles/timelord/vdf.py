"""Running chiavdf proofs, in a worker thread or in a killable worker process.

A thread cannot be interrupted in the middle of ``chiavdf.prove``; a process can. The timelord
uses processes by default so that work which can no longer win stops at once.
"""

from __future__ import annotations

import sys

import chiavdf
import trio

from trionode.nursery.offload import run_blocking

DEFAULT_FORM = b"\x08" + bytes(99)


def prove(challenge: bytes, discriminant_bits: int, iterations: int) -> bytes:
    """Output (100 bytes) followed by the witness (100 bytes). Blocking; releases the GIL."""
    result = chiavdf.prove(challenge, DEFAULT_FORM, discriminant_bits, iterations, "")
    return bytes(result)


async def prove_in_thread(challenge: bytes, discriminant_bits: int, iterations: int) -> bytes:
    # abandon_on_cancel: the thread keeps running to completion, its result discarded.
    return await run_blocking(
        prove, challenge, discriminant_bits, iterations, abandon_on_cancel=True
    )


async def prove_in_process(challenge: bytes, discriminant_bits: int, iterations: int) -> bytes:
    """Run the proof in a child process; cancelling this kills the child."""
    cmd = [
        sys.executable,
        "-m",
        "trionode.roles.timelord.vdf_worker",
        challenge.hex(),
        str(discriminant_bits),
        str(iterations),
    ]
    result = await trio.run_process(cmd, capture_stdout=True, capture_stderr=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"VDF worker failed (exit {result.returncode}): {result.stderr.decode(errors='replace')}"
        )
    out = bytes.fromhex(result.stdout.decode().strip())
    if len(out) != 200:
        raise RuntimeError(f"VDF worker returned {len(out)} bytes, expected 200")
    return out

"""The plot memo and plot identity (LIBRARIES.md "Memo convention", PROTOCOL.md section 2).

memo = pool_pk (48 bytes) || farmer_pk (48) || local master secret (32) = 128 bytes, or, for a
pooled plot, pool_contract_puzzle_hash (32 bytes) || farmer_pk (48) || local master secret (32)
= 112 bytes (docs/protocol.md section 5: the block rewards of such a plot can only go to the
contract puzzle hash). The length tells the two apart.
plot_id = sha256(pool_pk or pool contract puzzle hash || plot_pk), plot_pk = local_pk + farmer_pk
(2-of-2), file name ``plot-k{k}-{plot_id hex}.plot``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs
from blspy import PrivateKey

from trionode.keys.derive import as_g1
from trionode.wire import G1Element, bytes32

__all__ = [
    "CONTRACT_MEMO_SIZE",
    "MEMO_SIZE",
    "PlotMemo",
    "make_memo",
    "parse_memo",
    "plot_filename",
    "plot_id_for",
    "pool_bytes",
]

MEMO_SIZE = 48 + 48 + 32
CONTRACT_MEMO_SIZE = 32 + 48 + 32


@attrs.frozen
class PlotMemo:
    # Exactly one of the two is set.
    pool_public_key: G1Element | None
    farmer_public_key: G1Element
    local_master_sk: PrivateKey = attrs.field(repr=False)
    pool_contract_puzzle_hash: bytes32 | None = None


def pool_bytes(pool: Any) -> bytes:
    """What the plot commits to: 48 bytes of a pool public key, or a 32-byte pool contract
    puzzle hash (a ``bytes32``; 32 plain bytes are taken as one too)."""
    if isinstance(pool, (bytes, bytearray)) and len(pool) == 32:
        return bytes(pool)
    return bytes(as_g1(pool))


def make_memo(pool: Any, farmer_pk: Any, local_master_sk: PrivateKey) -> bytes:
    """The memo stored in a plot: 128 bytes with a pool key, 112 with a contract hash."""
    return pool_bytes(pool) + bytes(as_g1(farmer_pk)) + bytes(local_master_sk)


def parse_memo(memo: bytes) -> PlotMemo:
    """Split a memo; ValueError on a wrong length, an invalid point or an invalid secret."""
    memo = bytes(memo)
    if len(memo) not in (MEMO_SIZE, CONTRACT_MEMO_SIZE):
        raise ValueError(
            f"plot memo must be {MEMO_SIZE} or {CONTRACT_MEMO_SIZE} bytes, got {len(memo)}"
        )
    pool: G1Element | None = None
    contract: bytes32 | None = None
    if len(memo) == MEMO_SIZE:
        try:
            pool = G1Element(memo[:48])
        except ValueError as exc:
            raise ValueError(f"plot memo: bad pool public key: {exc}") from None
        rest = memo[48:]
    else:
        contract = bytes32(memo[:32])
        rest = memo[32:]
    try:
        farmer = G1Element(rest[:48])
    except ValueError as exc:
        raise ValueError(f"plot memo: bad farmer public key: {exc}") from None
    try:
        sk = PrivateKey.from_bytes(rest[48:])
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"plot memo: bad local master secret: {exc}") from None
    return PlotMemo(
        pool_public_key=pool,
        farmer_public_key=farmer,
        local_master_sk=sk,
        pool_contract_puzzle_hash=contract,
    )


def plot_id_for(pool: Any, plot_pk: Any) -> bytes32:
    """sha256(pool_pk or pool contract puzzle hash || plot_pk)."""
    return bytes32(hashlib.sha256(pool_bytes(pool) + bytes(as_g1(plot_pk))).digest())


def plot_filename(k: int, plot_id: bytes) -> str:
    return f"plot-k{k}-{bytes(plot_id).hex()}.plot"

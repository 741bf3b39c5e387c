"""The plot memo and plot identity (LIBRARIES.md "Memo convention", PROTOCOL.md section 2).

memo = pool_pk (48 bytes) || farmer_pk (48) || local master secret (32) = 128 bytes.
plot_id = sha256(pool_pk || plot_pk), plot_pk = local_pk + farmer_pk (2-of-2),
file name ``plot-k{k}-{plot_id hex}.plot``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs
from blspy import PrivateKey

from trionode.keys.derive import as_g1
from trionode.wire import G1Element, bytes32

__all__ = ["MEMO_SIZE", "PlotMemo", "make_memo", "parse_memo", "plot_filename", "plot_id_for"]

MEMO_SIZE = 48 + 48 + 32


@attrs.frozen
class PlotMemo:
    pool_public_key: G1Element
    farmer_public_key: G1Element
    local_master_sk: PrivateKey = attrs.field(repr=False)


def make_memo(pool_pk: Any, farmer_pk: Any, local_master_sk: PrivateKey) -> bytes:
    """The 128-byte memo stored in a plot."""
    return bytes(as_g1(pool_pk)) + bytes(as_g1(farmer_pk)) + bytes(local_master_sk)


def parse_memo(memo: bytes) -> PlotMemo:
    """Split a memo; ValueError on a wrong length, an invalid point or an invalid secret."""
    memo = bytes(memo)
    if len(memo) != MEMO_SIZE:
        raise ValueError(f"plot memo must be {MEMO_SIZE} bytes, got {len(memo)}")
    try:
        pool = G1Element(memo[:48])
    except ValueError as exc:
        raise ValueError(f"plot memo: bad pool public key: {exc}") from None
    try:
        farmer = G1Element(memo[48:96])
    except ValueError as exc:
        raise ValueError(f"plot memo: bad farmer public key: {exc}") from None
    try:
        sk = PrivateKey.from_bytes(memo[96:])
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"plot memo: bad local master secret: {exc}") from None
    return PlotMemo(pool_public_key=pool, farmer_public_key=farmer, local_master_sk=sk)


def plot_id_for(pool_pk: Any, plot_pk: Any) -> bytes32:
    """sha256(pool_pk || plot_pk)."""
    return bytes32(hashlib.sha256(bytes(as_g1(pool_pk)) + bytes(as_g1(plot_pk))).digest())


def plot_filename(k: int, plot_id: bytes) -> str:
    return f"plot-k{k}-{bytes(plot_id).hex()}.plot"

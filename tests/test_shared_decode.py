"""Work shared across the connections (and, in the simulator, the nodes) of one process: the
decoded-gossip memo hands out one decoded record per payload, stays within its bytes and never
keeps what failed to decode; the memoised coinbase-owner and transaction signature checks
answer what fresh checks answer, good or bad, whichever came first."""

from __future__ import annotations

import pytest
import trio

from trionode.consensus.proofs import clear_proof_caches
from trionode.consensus.transactions import transaction_signature_ok
from trionode.consensus.validation import check_coinbase_owner
from trionode.peers.connection import PeerConnection
from trionode.peers.decoded import DECODED_FACTOR, ENTRY_OVERHEAD, DecodedMemo
from trionode.peers.errors import RemoteProtocolError
from trionode.peers.limits import PeerLimits
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import Block
from trionode.testing.memory_transport import MemoryPeerStream, _Pipe


def test_decoded_memo_is_keyed_by_type_and_bytes_and_bounded(chain_30: list[FullBlock]) -> None:
    data = [bytes(Block(b)) for b in chain_30[:6]]
    size = DECODED_FACTOR * max(len(d) for d in data) + ENTRY_OVERHEAD
    memo = DecodedMemo(max_bytes=3 * size)
    for d in data:
        key = DecodedMemo.key(T.block, d)
        assert memo.get(key) is None
        memo.put(key, Block.from_bytes(d), len(d))
        assert memo.bytes <= memo.max_bytes
    assert len(memo) == 3  # the oldest went first
    assert memo.get(DecodedMemo.key(T.block, data[0])) is None
    kept = memo.get(DecodedMemo.key(T.block, data[5]))
    assert kept is not None and bytes(kept) == data[5]
    # Same bytes under another type: another key.
    assert memo.get(DecodedMemo.key(T.unfinished_block, data[5])) is None


async def test_connections_share_one_decoded_block(chain_30: list[FullBlock]) -> None:
    """Two connections decoding the same Block payload get the same object; an undecodable
    payload fails on every connection (nothing was kept for it)."""

    def conn() -> PeerConnection:
        send, receive = trio.open_memory_channel[bytes](1)
        stream = MemoryPeerStream(
            _Pipe(),
            send,
            receive,
            remote_node_id=bytes(32),  # type: ignore[arg-type]
            remote_host="10.0.0.1",
            remote_port=1,
            outbound=True,
            max_message_size=1 << 20,
        )
        return PeerConnection(stream, PeerLimits())

    payload = bytes(Block(chain_30[7]))
    a, b = conn(), conn()
    first = await a._decode(T.block, payload)
    second = await b._decode(T.block, bytearray(payload))
    assert first is second and bytes(first) == payload
    broken = payload[:-1]
    for c in (a, b):
        with pytest.raises(RemoteProtocolError, match="undecodable block"):
            await c._decode(T.block, broken)


def test_memoised_coinbase_and_transaction_signatures_agree(
    tx_chain: list[FullBlock], chain_30: list[FullBlock]
) -> None:
    block = next(b for b in tx_chain if b.body.transactions)
    tx = block.body.transactions[0]
    other = chain_30[3]
    body = block.body
    wrong_sig = other.body.coinbase_signature  # a valid point, the wrong signature
    bad_tx = tx.replace(aggregated_signature=wrong_sig)

    def answers() -> tuple[object, ...]:
        return (
            check_coinbase_owner(block.proof_of_space, body.coinbase, body.coinbase_signature),
            check_coinbase_owner(block.proof_of_space, body.coinbase, wrong_sig),
            transaction_signature_ok(tx),
            transaction_signature_ok(bad_tx),
        )

    clear_proof_caches()
    fresh = answers()
    assert fresh[0] is None and fresh[1] is not None
    assert fresh[2:] == (True, False)
    assert answers() == fresh  # from the memos now
    clear_proof_caches()
    # Bad first, then good: no entry answers for another.
    assert transaction_signature_ok(bad_tx) is False
    assert transaction_signature_ok(tx) is True
    assert check_coinbase_owner(block.proof_of_space, body.coinbase, wrong_sig) is not None
    assert (
        check_coinbase_owner(block.proof_of_space, body.coinbase, body.coinbase_signature) is None
    )

"""Fuzz a real FullNode through the in-memory transport (issue 10): every message type a full
node handles, valid, mutated and random, thousands of messages over several connections of the
node types that may send them (and some of types it must refuse).

Asserts: no handler exception escapes (no HandlerFailed), every disconnect has a specific
reason, the node's chain is unchanged by the junk, and it still accepts the next valid block.
The seed is fixed and printed; a failure names it (``FUZZ_SEED=... pytest ...`` replays it).
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import pytest
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import get_constants
from trionode.peers.errors import TransportClosed
from trionode.peers.full_node import FullNodePeers
from trionode.peers.identity import NodeIdentity
from trionode.peers.manager import PeerManagerConfig
from trionode.peers.node import PeerNodeConfig
from trionode.peers.transport import PeerStream
from trionode.protocols import MESSAGE_CLASSES, REPLY_TYPES, make_message
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.farmer_protocol import HeaderSignature
from trionode.protocols.peer_protocol import (
    Block,
    NewProofOfTime,
    RequestAllHeaderHashes,
    RequestBlock,
    RequestHeaderBlocks,
    RequestPeers,
    RequestSyncBlocks,
    RequestTransaction,
    TransactionId,
    UnfinishedBlock,
)
from trionode.protocols.routing import ROUTES
from trionode.protocols.shared_protocol import HandshakeAck, NodeType
from trionode.protocols.timelord_protocol import ProofOfTimeFinished
from trionode.roles.full_node.api import FullNodeAPI
from trionode.roles.full_node.node import FullNode
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_url
from trionode.storage.peer_store import PeerStore
from trionode.testing.block_tools import BlockTools
from trionode.testing.memory_transport import MemoryNetwork, MemoryTransport
from trionode.testing.peers import handshake_bytes, send_payload
from trionode.wire import Message, Streamable, bytes32, uint8, uint16, uint32

SEED = int(os.environ.get("FUZZ_SEED", "20261206"))
MESSAGES = 5000
CONNECTIONS = 6
NETWORK = "sim"
# Reasons that say nothing: a disconnect must name what happened.
VAGUE = {"", "closed", "closed (code 1000)"}


def valid_payloads(chain: list, rng: random.Random) -> dict[T, list[Streamable]]:
    """Well-formed payloads of each type a full node handles (some meaningful, some not)."""
    tip = chain[-1]
    hashes = [b.header_hash for b in chain]
    unfinished = tip.replace(proof_of_time=None, challenge=None)
    return {
        T.block: [Block(b) for b in chain],
        T.unfinished_block: [UnfinishedBlock(unfinished)],
        T.new_proof_of_time: [NewProofOfTime(b.proof_of_time) for b in chain if b.proof_of_time],
        T.proof_of_time_finished: [
            ProofOfTimeFinished(b.proof_of_time) for b in chain if b.proof_of_time
        ],
        T.request_block: [RequestBlock(h) for h in hashes] + [RequestBlock(bytes32(b"\x00" * 32))],
        T.request_peers: [RequestPeers()],
        T.request_all_header_hashes: [RequestAllHeaderHashes(h) for h in hashes],
        T.request_header_blocks: [
            RequestHeaderBlocks(tip.header_hash, [uint32(i) for i in range(len(chain))])
        ],
        T.request_sync_blocks: [
            RequestSyncBlocks(tip.header_hash, [uint32(0), uint32(1)]),
            RequestSyncBlocks(tip.header_hash, [uint32(i) for i in range(40)]),
        ],
        T.transaction_id: [TransactionId(bytes32(rng.randbytes(32))) for _ in range(4)],
        T.request_transaction: [RequestTransaction(bytes32(rng.randbytes(32)))],
        T.new_transaction: [],
        T.header_signature: [
            HeaderSignature(
                tip.proof_of_space.get_hash(), tip.header_hash, tip.header.plot_signature
            )
        ],
        T.request_header_hash: [],
    }


def mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0 and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1 and data:
        del data[rng.randrange(len(data)) :]
    elif kind == 2:
        data += rng.randbytes(rng.randint(1, 64))
    elif data:
        start = rng.randrange(len(data))
        data[start : start + 4] = rng.randbytes(4)
    return bytes(data)


def one_message(rng: random.Random, sender: NodeType, payloads: dict[T, list[Streamable]]) -> bytes:
    """A raw message a hostile or confused peer of type ``sender`` might send."""
    allowed = [t for t, senders in ROUTES[NodeType.FULL_NODE].items() if sender in senders]
    roll = rng.random()
    if roll < 0.02:  # a type this node must refuse (routing), or a random byte string
        mtype = rng.choice([t for t in T if t not in allowed])
        return bytes(Message(uint8(mtype), None, rng.randbytes(rng.randint(0, 64))))
    if roll < 0.03:
        return rng.randbytes(rng.randint(0, 48))
    mtype = rng.choice(allowed)
    msg_id = uint16(rng.randrange(65536)) if mtype in REPLY_TYPES else None
    choices = payloads.get(mtype) or []
    if choices and roll < 0.55:
        data = bytes(rng.choice(choices))
    elif choices and roll < 0.85:
        data = mutate(bytes(rng.choice(choices)), rng)
    else:
        cls = MESSAGE_CLASSES[mtype]
        data = rng.randbytes(rng.randint(0, 200)) if cls else b""
    return bytes(Message(uint8(mtype), msg_id, data))


async def handshake(stream: PeerStream, node_type: NodeType) -> None:
    with trio.fail_after(10):
        await stream.receive()  # the node's Handshake
        await stream.send(handshake_bytes(node_type=node_type, network_id=NETWORK_ID))
        await stream.receive()  # its ack
        await send_payload(stream, HandshakeAck())


NETWORK_ID = get_constants(NETWORK).genesis_challenge


async def test_fuzz_a_full_node(
    nursery: trio.Nursery,
    tmp_path: Path,
    block_tools: BlockTools,
    caplog: pytest.LogCaptureFixture,
) -> None:
    print(f"fuzz seed {SEED} (FUZZ_SEED={SEED} to replay)")
    caplog.set_level(logging.WARNING, logger="trionode")
    rng = random.Random(SEED)
    constants = get_constants(NETWORK)
    chain = list(block_tools.make_chain(7))
    held, following = chain[:6], chain[6]
    root = tmp_path / "node"
    url = default_db_url(root, NETWORK)
    store = await ChainStore.open(url)
    blockchain = await Blockchain.create(store, constants)
    for block in held:
        assert (await blockchain.add_block(block)).added
    peak_before = blockchain.get_peak()
    assert peak_before is not None
    peer_store = PeerStore.open(url)
    memory = MemoryNetwork()
    identity = NodeIdentity.public(root, "full_node")
    peers = FullNodePeers(
        PeerNodeConfig(network_id=NETWORK_ID, node_type=NodeType.FULL_NODE, port=0),
        MemoryTransport(memory, local_node_id=identity.node_id),
        peer_store,
        PeerManagerConfig(target_outbound=0),
    )
    node = peers.node
    full_node = FullNode(constants, blockchain, root, node)
    node.register_api(FullNodeAPI(full_node))
    await nursery.start(peers.run)
    loops = dict(full_node.loops())
    for name in ("chain-follower", "block-relay", "block-intake", "block-finisher"):
        await node.start_service(name, loops[name])
    assert node.port is not None

    payloads = valid_payloads(held, rng)
    reasons: list[str] = []
    sent = 0
    address = iter(f"127.0.{i // 250}.{i % 250 + 2}" for i in range(100_000))
    senders = [NodeType.FULL_NODE] * (CONNECTIONS - 2) + [NodeType.TIMELORD, NodeType.FARMER]

    async def fuzzer(sender: NodeType, share: int) -> None:
        nonlocal sent
        mine = random.Random(rng.randrange(2**32))
        left = share
        while left > 0:
            source = next(address)
            ident = NodeIdentity.public(tmp_path / "peers" / source, "full_node")
            transport = MemoryTransport(memory, local_node_id=ident.node_id, host=source)
            async with transport.connect("127.0.0.1", node.port or 0) as stream:
                await handshake(stream, sender)
                closed: list[str] = []
                gone = trio.Event()

                async def drain(
                    stream: PeerStream = stream, closed: list[str] = closed, gone: trio.Event = gone
                ) -> None:
                    try:
                        while True:
                            await stream.receive()
                    except TransportClosed as exc:
                        closed.append(exc.reason)
                        gone.set()

                async with trio.open_nursery() as inner:
                    inner.start_soon(drain)
                    try:
                        while left > 0 and not closed:
                            await stream.send(one_message(mine, sender, payloads))
                            left -= 1
                            sent += 1
                            await trio.lowlevel.checkpoint()
                    except TransportClosed:
                        pass
                    with trio.fail_after(30):
                        if left > 0:
                            await gone.wait()
                        else:
                            await stream.aclose("fuzzer done")
                    inner.cancel_scope.cancel()
                reasons.extend(closed)

    with trio.fail_after(120):
        async with trio.open_nursery() as fuzzers:
            for sender in senders:
                fuzzers.start_soon(fuzzer, sender, MESSAGES // len(senders))
    assert sent >= MESSAGES - len(senders), f"seed {SEED}"

    failures = [r for r in caplog.records if "handler for" in r.getMessage()]
    assert not failures, f"seed {SEED}: {failures[0].getMessage()}"
    vague = [r for r in reasons if r.strip() in VAGUE]
    assert not vague, f"seed {SEED}: vague disconnect reasons {vague}"
    assert blockchain.get_peak() == peak_before, f"seed {SEED}: the chain changed"

    # an honest peer's next block is still accepted
    honest = MemoryTransport(
        memory,
        local_node_id=NodeIdentity.public(tmp_path / "honest", "full_node").node_id,
        host="127.1.0.1",
    )
    with trio.fail_after(60), blockchain.subscribe(16) as events:
        async with honest.connect("127.0.0.1", node.port) as stream:
            await handshake(stream, NodeType.FULL_NODE)
            await stream.send(bytes(make_message(Block(following))))
            peak = blockchain.get_peak()
            while peak is None or peak.header_hash != following.header_hash:
                await events.receive()
                peak = blockchain.get_peak()
    print(f"fuzz: {sent} messages, {len(reasons)} disconnects: {sorted(set(reasons))[:12]}")
    peers.stop()
    await node.stopped.wait()
    peer_store.close()
    await store.aclose()

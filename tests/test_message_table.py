"""The message table's derived tables are exactly the protocol's rules as they were written out
by hand before the table (issue 12): number, class, reply, route, size cap and rate of every type.

The snapshot below was taken from the seven hand-written tables before they were folded into
``trionode.protocols.message_table``. Changing one of these types is a change of the protocol:
make it on purpose, in the table and here, and in docs/protocol.md. A new message type needs no
edit here (it gets its row in the table, which itself refuses a type without one).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from trionode.peers.limits import DEFAULT_RATE_LIMITS, DEFAULT_SIZE_CAPS, PeerLimits
from trionode.protocols import MESSAGE_CLASSES, MESSAGE_TYPES, REPLY_TYPES, message_table
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.routing import ROUTES
from trionode.protocols.shared_protocol import NodeType
from trionode.protocols.size_caps import MESSAGE_SIZE_CAPS

UNBOUNDED = 1 << 62

# (number, name, module.class, reply, (receiver, senders) or None, size cap, rate), in the order
# the enum lists them.
SNAPSHOT: list[tuple[Any, ...]] = [
    (1, "handshake", "shared_protocol.Handshake", "handshake_ack", None, 1024, (1, 60.0)),
    (2, "handshake_ack", "shared_protocol.HandshakeAck", None, None, 64, (1, 60.0)),
    (3, "error", "shared_protocol.Error", None, None, 4096, (100, 60.0)),
    (
        10,
        "harvester_handshake",
        "harvester_protocol.HarvesterHandshake",
        None,
        ("HARVESTER", ("FARMER",)),
        16384,
        (10, 60.0),
    ),
    (
        11,
        "new_signage_point_harvester",
        "harvester_protocol.NewSignagePointHarvester",
        None,
        ("HARVESTER", ("FARMER",)),
        65536,
        (1000, 60.0),
    ),
    (
        12,
        "new_proof_of_space",
        "harvester_protocol.NewProofOfSpace",
        None,
        ("FARMER", ("HARVESTER",)),
        16384,
        (1000, 60.0),
    ),
    (
        13,
        "request_signatures",
        "harvester_protocol.RequestSignatures",
        "respond_signatures",
        ("HARVESTER", ("FARMER",)),
        16384,
        (1000, 60.0),
    ),
    (
        14,
        "respond_signatures",
        "harvester_protocol.RespondSignatures",
        None,
        None,
        32768,
        (1000, 60.0),
    ),
    (
        15,
        "request_plots",
        "harvester_protocol.RequestPlots",
        "respond_plots",
        ("HARVESTER", ("FARMER",)),
        64,
        (100, 60.0),
    ),
    (
        16,
        "respond_plots",
        "harvester_protocol.RespondPlots",
        None,
        ("FARMER", ("HARVESTER",)),
        4611686018427387904,
        (100, 60.0),
    ),
    (
        20,
        "harvester_handshake_v1",
        "harvester_protocol_v1.HarvesterHandshake",
        None,
        ("HARVESTER", ("FARMER",)),
        16384,
        (10, 60.0),
    ),
    (
        21,
        "new_challenge",
        "harvester_protocol_v1.NewChallenge",
        None,
        ("HARVESTER", ("FARMER",)),
        64,
        (1000, 60.0),
    ),
    (
        22,
        "challenge_response",
        "harvester_protocol_v1.ChallengeResponse",
        None,
        ("FARMER", ("HARVESTER",)),
        128,
        (5000, 60.0),
    ),
    (
        23,
        "request_proof_of_space",
        "harvester_protocol_v1.RequestProofOfSpace",
        "respond_proof_of_space",
        ("HARVESTER", ("FARMER",)),
        64,
        (1000, 60.0),
    ),
    (
        24,
        "respond_proof_of_space",
        "harvester_protocol_v1.RespondProofOfSpace",
        None,
        None,
        2048,
        (1000, 60.0),
    ),
    (
        25,
        "request_header_signature",
        "harvester_protocol_v1.RequestHeaderSignature",
        "respond_header_signature",
        ("HARVESTER", ("FARMER",)),
        128,
        (1000, 60.0),
    ),
    (
        26,
        "respond_header_signature",
        "harvester_protocol_v1.RespondHeaderSignature",
        None,
        None,
        256,
        (1000, 60.0),
    ),
    (
        27,
        "request_partial_proof",
        "harvester_protocol_v1.RequestPartialProof",
        "respond_partial_proof",
        ("HARVESTER", ("FARMER",)),
        128,
        (1000, 60.0),
    ),
    (
        28,
        "respond_partial_proof",
        "harvester_protocol_v1.RespondPartialProof",
        None,
        None,
        256,
        (1000, 60.0),
    ),
    (
        30,
        "proof_of_space_finalized",
        "farmer_protocol.ProofOfSpaceFinalized",
        None,
        ("FARMER", ("FULL_NODE",)),
        128,
        (1000, 60.0),
    ),
    (
        31,
        "proof_of_space_arrived",
        "farmer_protocol.ProofOfSpaceArrived",
        None,
        ("FARMER", ("FULL_NODE",)),
        128,
        (1000, 60.0),
    ),
    (
        32,
        "request_header_hash",
        "farmer_protocol.RequestHeaderHash",
        "header_hash",
        ("FULL_NODE", ("FARMER",)),
        2048,
        (1000, 60.0),
    ),
    (33, "header_hash", "farmer_protocol.HeaderHash", None, None, 128, (1000, 60.0)),
    (
        34,
        "header_signature",
        "farmer_protocol.HeaderSignature",
        None,
        ("FULL_NODE", ("FARMER",)),
        256,
        (1000, 60.0),
    ),
    (
        35,
        "proof_of_time_rate",
        "farmer_protocol.ProofOfTimeRate",
        None,
        ("FARMER", ("FULL_NODE",)),
        64,
        (1000, 60.0),
    ),
    (
        40,
        "proof_of_time_finished",
        "timelord_protocol.ProofOfTimeFinished",
        None,
        ("FULL_NODE", ("TIMELORD",)),
        1024,
        (1000, 60.0),
    ),
    (
        41,
        "challenge_start",
        "timelord_protocol.ChallengeStart",
        None,
        ("TIMELORD", ("FULL_NODE",)),
        128,
        (1000, 60.0),
    ),
    (
        42,
        "proof_of_space_info",
        "timelord_protocol.ProofOfSpaceInfo",
        None,
        ("TIMELORD", ("FULL_NODE",)),
        128,
        (1000, 60.0),
    ),
    (
        50,
        "new_proof_of_time",
        "peer_protocol.NewProofOfTime",
        None,
        ("FULL_NODE", ("FULL_NODE",)),
        1024,
        (1000, 60.0),
    ),
    (
        51,
        "unfinished_block",
        "peer_protocol.UnfinishedBlock",
        None,
        ("FULL_NODE", ("FULL_NODE",)),
        1049152,
        (1000, 60.0),
    ),
    (
        52,
        "request_block",
        "peer_protocol.RequestBlock",
        "block",
        ("FULL_NODE", ("FULL_NODE",)),
        128,
        (2000, 60.0),
    ),
    (
        53,
        "block",
        "peer_protocol.Block",
        None,
        ("FULL_NODE", ("FULL_NODE",)),
        1049152,
        (1000, 60.0),
    ),
    (
        54,
        "request_peers",
        "peer_protocol.RequestPeers",
        "peers",
        ("FULL_NODE", ("FULL_NODE",)),
        64,
        (10, 60.0),
    ),
    (55, "peers", "peer_protocol.Peers", None, None, 131072, (10, 60.0)),
    (
        56,
        "request_all_header_hashes",
        "peer_protocol.RequestAllHeaderHashes",
        "all_header_hashes",
        ("FULL_NODE", ("FULL_NODE",)),
        128,
        (20, 60.0),
    ),
    (
        57,
        "all_header_hashes",
        "peer_protocol.AllHeaderHashes",
        None,
        None,
        4611686018427387904,
        (20, 60.0),
    ),
    (
        58,
        "request_header_blocks",
        "peer_protocol.RequestHeaderBlocks",
        "header_blocks",
        ("FULL_NODE", ("FULL_NODE",)),
        4096,
        (3000, 60.0),
    ),
    (59, "header_blocks", "peer_protocol.HeaderBlocks", None, None, 131072, (3000, 60.0)),
    (
        60,
        "request_sync_blocks",
        "peer_protocol.RequestSyncBlocks",
        "sync_blocks",
        ("FULL_NODE", ("FULL_NODE",)),
        4096,
        (3000, 60.0),
    ),
    (61, "sync_blocks", "peer_protocol.SyncBlocks", None, None, 4611686018427387904, (3000, 60.0)),
    (
        62,
        "transaction_id",
        "peer_protocol.TransactionId",
        None,
        ("FULL_NODE", ("FULL_NODE",)),
        128,
        (5000, 60.0),
    ),
    (
        63,
        "request_transaction",
        "peer_protocol.RequestTransaction",
        "new_transaction",
        ("FULL_NODE", ("FULL_NODE", "WALLET")),
        128,
        (5000, 60.0),
    ),
    (
        64,
        "new_transaction",
        "peer_protocol.NewTransaction",
        None,
        ("FULL_NODE", ("FULL_NODE", "WALLET")),
        1049152,
        (2000, 60.0),
    ),
    (
        70,
        "request_peers_introducer",
        "introducer_protocol.RequestPeersIntroducer",
        "respond_peers_introducer",
        ("INTRODUCER", ("FULL_NODE",)),
        64,
        (10, 60.0),
    ),
    (
        71,
        "respond_peers_introducer",
        "introducer_protocol.RespondPeersIntroducer",
        None,
        None,
        4096,
        (10, 60.0),
    ),
    (
        90,
        "request_wallet_peak",
        "wallet_protocol.RequestWalletPeak",
        "wallet_peak",
        ("FULL_NODE", ("WALLET",)),
        64,
        (600, 60.0),
    ),
    (91, "wallet_peak", "wallet_protocol.WalletPeak", None, None, 2048, (600, 60.0)),
    (
        92,
        "request_wallet_headers",
        "wallet_protocol.RequestWalletHeaders",
        "wallet_headers",
        ("FULL_NODE", ("WALLET",)),
        128,
        (3000, 60.0),
    ),
    (93, "wallet_headers", "wallet_protocol.WalletHeaders", None, None, 98304, (3000, 60.0)),
    (
        94,
        "request_coin_heights",
        "wallet_protocol.RequestCoinHeights",
        "coin_heights",
        ("FULL_NODE", ("WALLET",)),
        4096,
        (600, 60.0),
    ),
    (95, "coin_heights", "wallet_protocol.CoinHeights", None, None, 8192, (600, 60.0)),
    (
        96,
        "request_block_coins",
        "wallet_protocol.RequestBlockCoins",
        "respond_block_coins",
        ("FULL_NODE", ("WALLET",)),
        2048,
        (3000, 60.0),
    ),
    (
        97,
        "respond_block_coins",
        "wallet_protocol.RespondBlockCoins",
        None,
        None,
        4194304,
        (3000, 60.0),
    ),
    (
        80,
        "request_pool_info",
        "pool_protocol.RequestPoolInfo",
        "pool_info",
        ("POOL", ("FARMER",)),
        64,
        (60, 60.0),
    ),
    (81, "pool_info", "pool_protocol.PoolInfo", None, None, 512, (60, 60.0)),
    (
        82,
        "join_pool",
        "pool_protocol.JoinPool",
        "join_pool_response",
        ("POOL", ("FARMER",)),
        512,
        (10, 60.0),
    ),
    (83, "join_pool_response", "pool_protocol.JoinPoolResponse", None, None, 128, (10, 60.0)),
    (
        84,
        "submit_partial",
        "pool_protocol.SubmitPartial",
        "respond_partial",
        ("POOL", ("FARMER",)),
        2048,
        (6000, 60.0),
    ),
    (85, "respond_partial", "pool_protocol.RespondPartial", None, None, 2048, (6000, 60.0)),
    (
        86,
        "pool_difficulty_changed",
        "pool_protocol.PoolDifficultyChanged",
        None,
        ("FARMER", ("POOL",)),
        64,
        (60, 60.0),
    ),
]


def _now() -> list[tuple[Any, ...]]:
    route = {
        t: (receiver.name, tuple(sorted(s.name for s in senders)))
        for receiver, row in ROUTES.items()
        for t, senders in row.items()
    }
    rows = []
    for t in T:
        cls = MESSAGE_CLASSES[t]
        reply = REPLY_TYPES.get(t)
        rows.append(
            (
                int(t),
                t.name,
                f"{cls.__module__.rsplit('.', 1)[1]}.{cls.__qualname__}",
                None if reply is None else reply.name,
                route.get(t),
                MESSAGE_SIZE_CAPS[t],
                DEFAULT_RATE_LIMITS[t],
            )
        )
    return rows


def test_the_derived_tables_equal_the_hand_written_ones() -> None:
    now = _now()
    # The snapshot's types, in their order, unchanged; new types may follow them.
    assert [row for row in now if row[0] in {old[0] for old in SNAPSHOT}] == SNAPSHOT
    # Nothing beyond the table's types hides in a derived table.
    assert len(MESSAGE_CLASSES) == len(MESSAGE_SIZE_CAPS) == len(DEFAULT_RATE_LIMITS) == len(T)
    assert set(REPLY_TYPES) == {T[row[1]] for row in now if row[3] is not None}
    assert {cls: t for t, cls in MESSAGE_CLASSES.items()} == MESSAGE_TYPES


def test_every_role_has_a_row_and_each_type_one_receiver() -> None:
    assert set(ROUTES) == set(NodeType)
    # Each row lists its types in number order (the peer fuzz test draws from a row in order).
    for row in ROUTES.values():
        assert list(row) == sorted(row, key=list(T).index)
    assert ROUTES[NodeType.WALLET] == {}
    routed = [t for row in ROUTES.values() for t in row]
    assert len(routed) == len(set(routed))


def test_the_peer_layer_uses_the_tables() -> None:
    limits = PeerLimits()
    assert DEFAULT_SIZE_CAPS == MESSAGE_SIZE_CAPS
    assert dict(limits.size_caps) == dict(MESSAGE_SIZE_CAPS)
    assert dict(limits.rate_limits) == dict(DEFAULT_RATE_LIMITS)
    assert limits.size_cap(T.sync_blocks) == limits.max_message_size  # UNBOUNDED
    assert MESSAGE_SIZE_CAPS[T.sync_blocks] == UNBOUNDED


def test_a_missing_or_doubled_row_fails_at_import() -> None:
    rows = list(message_table.MESSAGES)
    with pytest.raises(ValueError, match="no row in the message table for pool_difficulty_changed"):
        message_table._by_type(rows[:-1])
    with pytest.raises(ValueError, match="error has two rows"):
        message_table._by_type([*rows, rows[2]])
    assert list(message_table._by_type(reversed(rows))) == list(T)


def _doc_cap(n: int) -> str:
    if n == UNBOUNDED:
        return "max_message_size"
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} B"


def _doc_row(row: message_table.Row) -> str:
    """How docs/protocol.md section 1 writes a type's cap, rate and route."""
    count, window = row.rate
    rate = f"{count} / {window:g} s"
    if row.mtype is T.error:
        rate += " (without an id)"
        route = "any (without an id: logged)"
    elif row.route is None:
        route = "reply or handshake only"
    else:
        senders = ", ".join(sorted(s.name.lower() for s in row.route.senders))
        route = f"{row.route.receiver.name.lower()} (from {senders})"
    return f"| {int(row.mtype)} | `{row.mtype.name}` | {_doc_cap(row.cap)} | {rate} | {route} |"


def test_protocol_md_section_1_lists_every_type_as_the_table_says() -> None:
    text = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text[text.index("\n## 1. ") : text.index("\n## 2. ")]
    documented = [line for line in section.splitlines() if re.match(r"\| \d+ \| `", line)]
    assert documented == [_doc_row(message_table.ROWS[t]) for t in sorted(T)]

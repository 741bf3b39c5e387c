"""Every protocol message: seed field names, hand-computed vectors, round trips, fuzzing."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import G1_POINTS, G2_POINTS, strategy_for
from trionode.protocols import (
    MESSAGE_CLASSES,
    REPLY_TYPES,
    ProtocolMessageTypes,
    decode_message,
    make_message,
)
from trionode.protocols import farmer_protocol as farmer
from trionode.protocols import harvester_protocol as harvester
from trionode.protocols import harvester_protocol_v1 as harvester_v1
from trionode.protocols import introducer_protocol as introducer
from trionode.protocols import peer_protocol as peer
from trionode.protocols import shared_protocol as shared
from trionode.protocols import timelord_protocol as timelord
from trionode.protocols.chain_types import (
    Body,
    Challenge,
    ClassgroupElement,
    Coin,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    HeaderBlock,
    HeaderData,
    Output,
    ProofOfSpace,
    ProofOfTime,
    Spend,
    Transaction,
)
from trionode.wire import DecodeError, Message, Streamable, bytes32, uint8, uint16, uint32, uint64

# Field names exactly as the seeds (000, 001, 002, 003) and PROTOCOL.md section 2 give them.
SEED_FIELDS: dict[type[Streamable], list[str]] = {
    shared.Handshake: [
        "network_id",
        "protocol_version",
        "software_version",
        "server_port",
        "node_type",
    ],
    shared.HandshakeAck: [],
    shared.Error: ["code", "message"],
    harvester.HarvesterHandshake: ["farmer_public_keys", "pool_public_keys"],
    harvester.NewSignagePointHarvester: [
        "challenge_hash",
        "difficulty",
        "sub_slot_iters",
        "signage_point_index",
        "sp_hash",
        "pool_difficulties",
    ],
    harvester.PoolDifficulty: ["difficulty", "sub_slot_iters", "pool_contract_puzzle_hash"],
    harvester.NewProofOfSpace: [
        "challenge_hash",
        "sp_hash",
        "plot_identifier",
        "proof",
        "signage_point_index",
    ],
    harvester.ProofOfSpace: [
        "challenge",
        "pool_public_key",
        "pool_contract_puzzle_hash",
        "plot_public_key",
        "size",
        "proof",
    ],
    harvester.RequestSignatures: ["plot_identifier", "challenge_hash", "sp_hash", "messages"],
    harvester.RespondSignatures: [
        "plot_identifier",
        "challenge_hash",
        "sp_hash",
        "local_pk",
        "farmer_pk",
        "message_signatures",
    ],
    harvester.RequestPlots: [],
    harvester.RespondPlots: ["plots", "failed_to_open_filenames", "no_key_filenames"],
    harvester.Plot: [
        "filename",
        "size",
        "plot_id",
        "pool_public_key",
        "pool_contract_puzzle_hash",
        "plot_public_key",
        "file_size",
        "time_modified",
    ],
    harvester_v1.HarvesterHandshake: ["pool_pubkeys"],
    harvester_v1.NewChallenge: ["challenge_hash"],
    harvester_v1.ChallengeResponse: ["challenge_hash", "quality", "plot_size"],
    harvester_v1.RequestProofOfSpace: ["quality"],
    harvester_v1.RespondProofOfSpace: ["quality", "proof"],
    harvester_v1.RequestHeaderSignature: ["quality", "header_hash"],
    harvester_v1.RespondHeaderSignature: ["quality", "header_hash_signature"],
    harvester_v1.RequestPartialProof: ["quality", "farmer_target_hash"],
    harvester_v1.RespondPartialProof: ["quality", "farmer_target_signature"],
    farmer.ProofOfSpaceFinalized: ["challenge_hash", "height", "weight", "quality", "difficulty"],
    farmer.ProofOfSpaceArrived: ["weight", "quality"],
    farmer.RequestHeaderHash: [
        "challenge_hash",
        "coinbase",
        "coinbase_signature",
        "fees_target_puzzle_hash",
        "proof_of_space",
    ],
    farmer.HeaderHash: ["pos_hash", "header_hash"],
    farmer.HeaderSignature: ["pos_hash", "header_hash", "header_signature"],
    farmer.ProofOfTimeRate: ["pot_estimate_ips"],
    timelord.ProofOfTimeFinished: ["proof"],
    timelord.ChallengeStart: ["challenge_hash", "weight"],
    timelord.ProofOfSpaceInfo: ["challenge_hash", "iterations_needed"],
    peer.NewProofOfTime: ["proof"],
    peer.UnfinishedBlock: ["block"],
    peer.RequestBlock: ["header_hash"],
    peer.Block: ["block"],
    peer.RequestPeers: [],
    peer.Peers: ["peer_list"],
    peer.PeerInfo: ["host", "port"],
    peer.RequestAllHeaderHashes: ["tip_header_hash"],
    peer.AllHeaderHashes: ["header_hashes"],
    peer.RequestHeaderBlocks: ["tip_header_hash", "heights"],
    peer.HeaderBlocks: ["tip_header_hash", "header_blocks"],
    peer.RequestSyncBlocks: ["tip_header_hash", "heights"],
    peer.SyncBlocks: ["tip_header_hash", "blocks"],
    peer.TransactionId: ["transaction_id"],
    peer.RequestTransaction: ["transaction_id"],
    peer.NewTransaction: ["transaction"],
    introducer.RequestPeersIntroducer: [],
    introducer.RespondPeersIntroducer: ["peer_list"],
    ClassgroupElement: ["data"],
    ProofOfTime: ["challenge_hash", "number_of_iterations", "output", "witness_type", "witness"],
    Challenge: [
        "prev_challenge_hash",
        "proof_of_space_hash",
        "proof_of_time_output_hash",
        "height",
        "total_weight",
        "total_iters",
    ],
    CoinbaseInfo: ["height", "amount", "puzzle_hash"],
    FeesTarget: ["puzzle_hash", "amount"],
    HeaderData: [
        "height",
        "prev_header_hash",
        "timestamp",
        "filter_hash",
        "proof_of_space_hash",
        "body_hash",
        "weight",
        "total_iters",
        "extension_data",
    ],
    Header: ["data", "plot_signature"],
    Body: [
        "coinbase",
        "coinbase_signature",
        "fees_target",
        "transactions",
        "aggregated_signature",
        "cost",
    ],
    FullBlock: ["proof_of_space", "proof_of_time", "challenge", "header", "body"],
    HeaderBlock: ["proof_of_space", "proof_of_time", "challenge", "header"],
    Coin: ["parent_coin_info", "puzzle_hash", "amount"],
    Transaction: ["spends", "aggregated_signature"],
    Spend: ["coin", "public_key", "outputs"],
    Output: ["puzzle_hash", "amount"],
}

ALL_CLASSES = sorted(SEED_FIELDS, key=lambda c: (c.__module__, c.__name__))


@pytest.mark.parametrize(
    "cls", ALL_CLASSES, ids=lambda c: f"{c.__module__.split('.')[-1]}.{c.__name__}"
)
def test_seed_field_names(cls: type[Streamable]) -> None:
    assert [name for name, _ in cls.__streamable_fields__] == SEED_FIELDS[cls]


def test_every_message_number_has_a_class_and_unique_number() -> None:
    assert set(MESSAGE_CLASSES) == set(ProtocolMessageTypes)
    assert len(set(MESSAGE_CLASSES.values())) == len(MESSAGE_CLASSES)
    assert ProtocolMessageTypes.handshake == 1
    assert ProtocolMessageTypes.request_peers_introducer == 70
    assert ProtocolMessageTypes.respond_partial_proof == 28
    assert ProtocolMessageTypes.new_transaction == 64
    for request, reply in REPLY_TYPES.items():
        assert request in MESSAGE_CLASSES and reply in MESSAGE_CLASSES


# ---------------------------------------------------------------- hand-computed message vectors

H = bytes32(bytes(range(32)))


def test_handshake_vector() -> None:
    hs = shared.Handshake(H, "1.0", "trionode 0.1", uint16(8444), uint8(1))
    expected = H + b"\x00\x00\x00\x031.0" + b"\x00\x00\x00\x0ctrionode 0.1" + b"\x20\xfc" + b"\x01"
    assert bytes(hs) == expected
    msg = make_message(hs)
    assert bytes(msg) == b"\x01" + b"\x00" + len(expected).to_bytes(4, "big") + expected
    assert decode_message(Message.from_bytes(bytes(msg))) == (ProtocolMessageTypes.handshake, hs)


def test_request_block_with_id_vector() -> None:
    msg = make_message(peer.RequestBlock(H), id=0x0102)
    assert bytes(msg) == b"\x34" + b"\x01\x01\x02" + b"\x00\x00\x00\x20" + H


def test_request_header_blocks_vector() -> None:
    req = peer.RequestHeaderBlocks(H, [uint32(1), uint32(0x01020304)])
    assert bytes(req) == H + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x01" + b"\x01\x02\x03\x04"


def test_peers_vector() -> None:
    msg = peer.Peers([peer.PeerInfo("127.0.0.1", uint16(8444))])
    assert bytes(msg) == b"\x00\x00\x00\x01" + b"\x00\x00\x00\x09127.0.0.1" + b"\x20\xfc"


def test_list_fields_compare_equal_to_lists() -> None:
    p = peer.PeerInfo("127.0.0.1", uint16(8444))
    q = peer.PeerInfo("::1", uint16(8445))
    msg = peer.Peers([p])
    assert msg.peer_list == [p] and [p] == msg.peer_list
    decoded = peer.Peers.from_bytes(bytes(msg))
    assert decoded.peer_list == [p] and decoded == msg and decoded == peer.Peers([p])
    assert decoded.peer_list != [q] and decoded.peer_list != [p, p] and decoded.peer_list != []
    intro = introducer.RespondPeersIntroducer([p, q])
    assert introducer.RespondPeersIntroducer.from_bytes(bytes(intro)).peer_list == [p, q]
    hashes = peer.AllHeaderHashes([H, bytes32(bytes(32))])
    assert peer.AllHeaderHashes.from_bytes(bytes(hashes)).header_hashes == [H, bytes(32)]
    req = peer.RequestHeaderBlocks(H, [uint32(1), uint32(2)])
    assert peer.RequestHeaderBlocks.from_bytes(bytes(req)).heights == [1, 2]
    assert decode_message(make_message(msg)) == (ProtocolMessageTypes.peers, msg)
    assert decode_message(make_message(msg))[1].peer_list == [p]


def test_error_vector() -> None:
    err = shared.Error(-2, "no")
    assert bytes(err) == b"\xff\xfe" + b"\x00\x00\x00\x02no"


def test_respond_signatures_vector() -> None:
    pk, sig = G1_POINTS[0], G2_POINTS[0]
    msg = harvester.RespondSignatures("p", H, H, pk, pk, [(H, sig)])
    expected = (
        b"\x00\x00\x00\x01p" + H + H + bytes(pk) + bytes(pk) + b"\x00\x00\x00\x01" + H + bytes(sig)
    )
    assert bytes(msg) == expected
    assert harvester.RespondSignatures.from_bytes(expected) == msg


def test_proof_of_space_vector_and_plot_id() -> None:
    pk = G1_POINTS[1]
    pos = ProofOfSpace(H, pk, None, pk, uint8(18), b"\x07" * 144)
    expected = (
        H
        + b"\x01"
        + bytes(pk)
        + b"\x00"
        + bytes(pk)
        + b"\x12"
        + b"\x00\x00\x00\x90"
        + b"\x07" * 144
    )
    assert bytes(pos) == expected
    import hashlib

    assert pos.get_plot_id() == hashlib.sha256(bytes(pk) + bytes(pk)).digest()


def test_unknown_message_type_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="unknown message type 200"):
        decode_message(Message(uint8(200), None, b""))


def test_wrong_payload_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="RequestBlock.header_hash"):
        decode_message(Message(uint8(ProtocolMessageTypes.request_block), None, b"\x00" * 5))


# ---------------------------------------------------------------- round trips and fuzzing

MESSAGE_CLASS_LIST = sorted(
    set(MESSAGE_CLASSES.values()) | set(SEED_FIELDS), key=lambda c: (c.__module__, c.__name__)
)
_IDS = [f"{c.__module__.split('.')[-1]}.{c.__name__}" for c in MESSAGE_CLASS_LIST]
_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("cls", MESSAGE_CLASS_LIST, ids=_IDS)
def test_round_trip(cls: type[Streamable]) -> None:
    @_SETTINGS
    @given(strategy_for(cls))
    def check(obj: Streamable) -> None:
        raw = bytes(obj)
        back = cls.from_bytes(raw)
        assert back == obj
        assert bytes(back) == raw
        assert back.get_hash() == obj.get_hash()
        assert cls.from_json_dict(obj.to_json_dict()) == obj

    check()


def _mutations(raw: bytes, rng: random.Random) -> list[bytes]:
    out = [
        raw[:-1],
        raw + b"\x00",
        b"",
        bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))),
    ]
    for _ in range(12):
        b = bytearray(raw)
        if b:
            i = rng.randrange(len(b))
            b[i] = rng.getrandbits(8)
        out.append(bytes(b))
        if len(raw) > 2:
            i = rng.randrange(len(raw))
            out.append(raw[:i] + raw[i + 1 :])
            out.append(raw[:i] + bytes([rng.getrandbits(8)]) + raw[i:])
            out.append(raw[:i])
            out.append(raw[:i] + b"\xff\xff\xff\xff" + raw[i + 4 :])
    return out


@pytest.mark.parametrize("cls", MESSAGE_CLASS_LIST, ids=_IDS)
def test_fuzz_only_decode_error(cls: type[Streamable]) -> None:
    @_SETTINGS
    @given(strategy_for(cls), st.randoms(use_true_random=False))
    def check(obj: Streamable, rng: random.Random) -> None:
        for data in _mutations(bytes(obj), rng):
            try:
                decoded = cls.from_bytes(data)
            except DecodeError:
                continue
            # whatever decodes must re-encode to exactly the input (canonical encoding)
            assert bytes(decoded) == data

    check()


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_random_bytes_as_any_message(data: bytes) -> None:
    for cls in MESSAGE_CLASSES.values():
        try:
            cls.from_bytes(data)
        except DecodeError:
            pass


def test_full_block_round_trip_large() -> None:
    """A block with many transactions survives encode/decode unchanged."""
    pk, sig = G1_POINTS[0], G2_POINTS[0]
    coin = Coin(H, H, uint64(1000))
    tx = Transaction([Spend(coin, pk, [Output(H, uint64(900))])], sig)
    pos = ProofOfSpace(H, pk, None, pk, uint8(18), bytes(144))
    data = HeaderData(uint32(5), H, uint64(1), H, H, H, 10, 20, H)
    body = Body(
        CoinbaseInfo(uint32(5), uint64(10), H),
        sig,
        FeesTarget(H, uint64(100)),
        [tx] * 50,
        sig,
        uint64(0),
    )
    block = FullBlock(pos, None, None, Header(data, sig), body)
    back = FullBlock.from_bytes(bytes(block))
    assert back == block and back.header_hash == block.header_hash
    assert back.body.transactions == [tx] * 50
    assert back.body.transactions[0].spends[0].outputs == [Output(H, uint64(900))]
    assert back.height == 5 and not back.is_finished
    assert back.header_block().header == block.header


def test_header_hash_is_cached_and_stays_out_of_equality() -> None:
    """A header's hash is computed once per header object (a block decoded once is shared by
    every node of a simulated network) and is never a field: encoding, equality and
    ``replace`` see only the header's data."""
    data = HeaderData(uint32(5), H, uint64(1), H, H, H, 10, 20, H)
    header = Header(data, G2_POINTS[0])
    assert "header_hash" not in [name for name, _ in Header.__streamable_fields__]
    assert header.header_hash == header.get_hash()
    assert header.header_hash is header.header_hash  # one computation, kept
    back = Header.from_bytes(bytes(header))
    assert back == header and bytes(back) == bytes(header)
    assert back.header_hash == header.header_hash
    other = header.replace(data=data.replace(height=uint32(6)))
    assert other.header_hash == other.get_hash() != header.header_hash


def test_coin_id_is_cached_and_stays_out_of_equality() -> None:
    coin = Coin(H, H, uint64(7))
    assert coin.name() == coin.get_hash()
    assert coin.name() is coin.name()  # one computation, kept
    assert Coin.from_bytes(bytes(coin)) == coin
    assert [name for name, _ in Coin.__streamable_fields__] == [
        "parent_coin_info",
        "puzzle_hash",
        "amount",
    ]
    assert coin.replace(amount=uint64(8)).name() != coin.name()

"""The handshake state machine, sans-io: bytes in, messages out, no trio."""

from __future__ import annotations

import hashlib

import pytest

from trionode.peers.errors import HandshakeError
from trionode.peers.handshake import HandshakeMachine, HandshakeState
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols import make_message
from trionode.protocols.peer_protocol import RequestPeers
from trionode.protocols.shared_protocol import Error, HandshakeAck, NodeType
from trionode.testing.peers import TEST_NETWORK_ID, handshake_bytes
from trionode.wire import Message, bytes32, int16

ALICE = bytes32(b"a" * 32)
BOB = bytes32(b"b" * 32)


def machine(local: bytes32 = ALICE, remote: bytes32 = BOB, **kw: object) -> HandshakeMachine:
    args: dict[str, object] = dict(
        network_id=TEST_NETWORK_ID,
        node_type=NodeType.FULL_NODE,
        server_port=8444,
        software_version="t",
        local_node_id=local,
        remote_node_id=remote,
    )
    args.update(kw)
    return HandshakeMachine(**args)  # type: ignore[arg-type]


def hs(**kw: object) -> Message:
    return Message.from_bytes(handshake_bytes(**kw))  # type: ignore[arg-type]


ACK = make_message(HandshakeAck())


def test_two_machines_complete_each_other() -> None:
    a, b = machine(ALICE, BOB), machine(BOB, ALICE)
    to_b, to_a = [a.start()], [b.start()]
    # Both sent their Handshake at once; each answers the other's with an ack.
    to_a += b.receive(to_b.pop())
    to_b += a.receive(to_a.pop(0))
    assert not a.complete and not b.complete
    assert a.receive(to_a.pop()) == [] and a.complete
    assert b.receive(to_b.pop()) == [] and b.complete
    assert a.peer is not None and a.peer.server_port == 8444
    assert a.peer_node_type is NodeType.FULL_NODE


def test_ack_before_handshake_fails() -> None:
    """The peer sends its Handshake before anything else, so an ack first is out of order."""
    a = machine()
    a.start()
    with pytest.raises(HandshakeError, match="before the peer's Handshake"):
        a.receive(ACK)
    assert a.state is HandshakeState.FAILED and a.peer is None


def test_handshake_then_ack_completes() -> None:
    a = machine()
    a.start()
    out = a.receive(hs())
    assert [T(m.type) for m in out] == [T.handshake_ack] and not a.complete
    assert a.receive(ACK) == [] and a.complete


def test_ack_echoes_handshake_id() -> None:
    a = machine()
    a.start()
    (ack,) = a.receive(hs(msg_id=7))
    assert ack.id == 7


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (hs(network_id=bytes32(hashlib.sha256(b"other").digest())), "wrong network_id"),
        (hs(protocol_version="2.0"), "protocol version"),
        (hs(software_version="x" * 129), "software_version"),
        (hs(node_type=99), "unknown node_type"),
        (make_message(RequestPeers()), "before the handshake"),
        (make_message(Error(int16(1), "no")), "Error"),
        (Message(type=1, id=None, data=b"\x00garbage"), "undecodable"),
        (Message(type=200, id=None, data=b""), "undecodable"),
    ],
)
def test_invalid_input_fails(message: Message, words: str) -> None:
    a = machine()
    a.start()
    with pytest.raises(HandshakeError, match=words):
        a.receive(message)
    assert a.state is HandshakeState.FAILED


def test_minor_version_may_differ() -> None:
    a = machine()
    a.start()
    assert a.receive(hs(protocol_version="1.7"))


def test_software_version_limit_is_in_bytes() -> None:
    a = machine()
    a.start()
    with pytest.raises(HandshakeError):
        a.receive(hs(software_version="é" * 65))  # 130 bytes, 65 characters
    b = machine()
    b.start()
    assert b.receive(hs(software_version="é" * 64))


def test_second_handshake_fails() -> None:
    a = machine()
    a.start()
    a.receive(hs())
    with pytest.raises(HandshakeError, match="second Handshake"):
        a.receive(hs())


def test_self_connection_refused() -> None:
    with pytest.raises(HandshakeError, match="ourselves"):
        machine(ALICE, ALICE).start()


def test_node_type_restriction() -> None:
    a = machine(accepted_node_types={NodeType.FULL_NODE})
    a.start()
    with pytest.raises(HandshakeError, match="not accepted"):
        a.receive(hs(node_type=NodeType.WALLET))


def test_receive_after_failure_is_a_local_error() -> None:
    a = machine()
    a.start()
    with pytest.raises(HandshakeError):
        a.receive(hs(protocol_version="9.0"))
    with pytest.raises(RuntimeError):
        a.receive(hs())

"""The peer layer's tables (docs/protocol.md section 1): every message type has a size cap and a
rate; the caps hold the largest honest messages; the routing table agrees with the handlers the
roles register."""

from __future__ import annotations

import inspect

import pytest

from trionode.consensus import NETWORKS, get_constants
from trionode.peers.api import FullNodePeerAPI
from trionode.peers.introducer import Introducer
from trionode.peers.limits import DEFAULT_RATE_LIMITS, PeerLimits
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols import make_message
from trionode.protocols.chain_types import Coin, Output, ProofOfSpace, Spend, Transaction
from trionode.protocols.peer_protocol import Block, NewTransaction, PeerInfo, Peers
from trionode.protocols.routing import ROUTES, accepted_from, handled_by, why_refused
from trionode.protocols.shared_protocol import NodeType
from trionode.protocols.size_caps import MESSAGE_SIZE_CAPS
from trionode.roles.farmer.api import FarmerAPI
from trionode.roles.full_node.api import FullNodeAPI
from trionode.roles.full_node.wallet_api import WalletAPI
from trionode.roles.harvester.api import HarvesterAPI
from trionode.roles.harvester.api_v1 import HarvesterV1API
from trionode.roles.pool.api import PoolAPI, PoolChainAPI
from trionode.roles.timelord.api import TimelordAPI
from trionode.testing.block_tools import BlockTools
from trionode.wire import G1Element, G2Element, bytes32, uint8, uint16, uint64


def test_every_type_has_a_size_cap_and_a_rate() -> None:
    assert set(MESSAGE_SIZE_CAPS) == set(T)
    assert set(DEFAULT_RATE_LIMITS) == set(T)
    limits = PeerLimits()
    assert all(0 < limits.size_cap(t) <= limits.max_message_size for t in T)


def _handlers(*classes: type) -> set[T]:
    names = {name for cls in classes for name, _ in inspect.getmembers(cls, inspect.isfunction)}
    return {t for t in T if t.name in names}


@pytest.mark.parametrize(
    ("role", "apis"),
    [
        (NodeType.FULL_NODE, (FullNodeAPI, FullNodePeerAPI, WalletAPI)),
        (NodeType.FARMER, (FarmerAPI,)),
        (NodeType.HARVESTER, (HarvesterAPI, HarvesterV1API)),
        (NodeType.POOL, (PoolAPI,)),
        (NodeType.TIMELORD, (TimelordAPI,)),
        (NodeType.INTRODUCER, (Introducer,)),
    ],
)
def test_routing_table_matches_the_roles_handlers(role: NodeType, apis: tuple[type, ...]) -> None:
    """Each role handles exactly its row."""
    assert _handlers(*apis) == handled_by(role)


def test_the_pools_chain_link_is_routed_as_a_farmer() -> None:
    # The pool follows its full node on a link where it presents itself as a farmer.
    assert _handlers(PoolChainAPI) <= accepted_from(NodeType.FARMER, NodeType.FULL_NODE)


def test_routing_rows() -> None:
    full = NodeType.FULL_NODE
    assert T.proof_of_time_finished in accepted_from(full, NodeType.TIMELORD)
    assert T.proof_of_time_finished not in accepted_from(full, NodeType.FULL_NODE)
    assert T.harvester_handshake not in accepted_from(full, NodeType.FARMER)
    assert accepted_from(full, NodeType.WALLET) == {
        T.new_transaction,
        T.request_transaction,
        T.request_wallet_peak,
        T.request_wallet_headers,
        T.request_coin_heights,
        T.request_block_coins,
        T.error,
    }
    assert T.request_block_coins not in accepted_from(full, NodeType.FULL_NODE)
    assert accepted_from(NodeType.WALLET, full) == {T.error}
    assert "not handled by a full_node" in why_refused(full, full, T.harvester_handshake)
    assert "only from a timelord" in why_refused(full, full, T.proof_of_time_finished)
    assert set(ROUTES) == set(NodeType)


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_the_largest_honest_block_fits_its_cap(network: str, block_tools: BlockTools) -> None:
    """A block with MAX_BLOCK_COST bytes of transactions and the largest proof of space."""
    constants = get_constants(network)
    block = block_tools.make_chain(2)[-1]
    g1 = G1Element.from_bytes(bytes(block.proof_of_space.plot_public_key))
    g2 = G2Element.from_bytes(bytes(block.header.plot_signature))
    coin = Coin(bytes32(b"\x01" * 32), bytes32(b"\x02" * 32), uint64(1))
    fixed = len(bytes(Transaction([Spend(coin, g1, [])], g2)))
    outputs = (constants.MAX_BLOCK_COST - fixed) // 40
    tx = Transaction([Spend(coin, g1, [Output(bytes32(b"\x03" * 32), uint64(1))] * outputs)], g2)
    assert constants.MAX_BLOCK_COST - 40 < len(bytes(tx)) <= constants.MAX_BLOCK_COST
    pos = block.proof_of_space
    biggest_pos = ProofOfSpace(
        pos.challenge, g1, bytes32(b"\x04" * 32), pos.plot_public_key, uint8(50), b"\x05" * 400
    )
    body = block.body.replace(transactions=[tx], cost=uint64(len(bytes(tx))))
    big = block.replace(proof_of_space=biggest_pos, body=body)
    for payload, mtype in ((Block(big), T.block), (NewTransaction(tx), T.new_transaction)):
        size = len(bytes(make_message(payload, id=1)))
        assert size <= MESSAGE_SIZE_CAPS[mtype], (mtype.name, size)
        assert size > MESSAGE_SIZE_CAPS[mtype] - 64 * 1024  # the cap is not far too big
    biggest_peers = Peers([PeerInfo("ffff:" * 7 + "ffff", uint16(65535))] * 1000)
    assert len(bytes(make_message(biggest_peers, id=1))) <= MESSAGE_SIZE_CAPS[T.peers]

"""Behavioural checks of a node's admission of peers: a fresh, well-behaved peer from a given
loopback address dials it. "Banned" means such a peer is refused; nothing reads the node's
internal ban table, so these checks survive a rework of the peer layer."""

from __future__ import annotations

import itertools

import trio

from trionode.consensus import SIM
from trionode.peers.node import PeerNode
from trionode.testing.peers import PeerTestNet

DEADLINE = 30
probe_names = itertools.count()


async def probe(
    net: PeerTestNet, host: str, port: int, source: str = "127.0.0.1"
) -> PeerNode | None:
    """A fresh peer of the sim network at ``source`` dials ``host:port``: the dialling node if
    the connection was made and survived its handshake, None if it was refused."""
    node = await net.node(
        f"probe{next(probe_names)}", network_id=SIM.genesis_challenge, source=source
    )
    try:
        with trio.fail_after(DEADLINE):
            conn = await node.connect(host, port)
    except trio.TooSlowError:
        raise
    except Exception:  # whatever the peer layer raises for a refused dial
        node.stop()
        return None
    return node if not conn.closed.is_set() else None


async def is_refused(net: PeerTestNet, host: str, port: int, source: str) -> bool:
    node = await probe(net, host, port, source)
    if node is None:
        return True
    node.stop()
    return False

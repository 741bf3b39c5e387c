"""What the README promises about a running full node's peer settings, checked by behaviour:
``full_node.max_inbound``, ban expiry, ``peers.listen_host``, ``full_node.peer_db`` and
``peers.exempt_loopback_from_bans``. The nodes are configured the operator's way (config.yaml
read by ``load_settings``, wired by ``build_service``) and probed by real peers dialling them.

A "banned" or "refused" address is one whose fresh, well-behaved peer cannot connect; nothing
here reads the node's internal ban table.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml

from tests.peer_probes import probe, probe_names
from trionode.cli.launch import build_service
from trionode.config import load_settings
from trionode.consensus import SIM
from trionode.peers.errors import BAN_PROTOCOL_SECONDS
from trionode.roles.full_node.main import FullNodeService
from trionode.storage.engine import default_db_url
from trionode.storage.peer_store import PeerStore
from trionode.testing.peers import PeerTestNet
from trionode.wire import bytes32

DEADLINE = 30
OFFENDER = "127.0.0.2"
OTHER_NETWORK = bytes32(hashlib.sha256(b"not the sim network").digest())


def write_config(
    root: Path, full_node: dict[str, Any], peers: dict[str, Any] | None = None
) -> None:
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "network": "sim",
        "full_node": {"port": 0, "rpc_port": None, "rpc_tls_port": None, **full_node},
        "peers": peers or {},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))


@asynccontextmanager
async def full_node(root: Path) -> AsyncIterator[FullNodeService]:
    """The full node ``root/config.yaml`` describes, running until the block ends."""
    service = build_service(load_settings(root, environ={}), "full_node", root)
    assert isinstance(service, FullNodeService)
    async with trio.open_nursery() as nursery:
        with trio.fail_after(DEADLINE):
            await nursery.start(service.run)
        yield service
        nursery.cancel_scope.cancel()


def address(service: FullNodeService) -> tuple[str, int]:
    assert service.node is not None and service.node.port
    return service.config.host, service.node.port


async def misbehave(net: PeerTestNet, host: str, port: int, source: str = OFFENDER) -> None:
    """A peer from ``source`` breaks the handshake rules (another network's id): a ban offence."""
    mallory = await net.node(f"mallory{next(probe_names)}", network_id=OTHER_NETWORK, source=source)
    with trio.fail_after(DEADLINE), pytest.raises(Exception):  # noqa: B017 - any refusal
        await mallory.connect(host, port)
    mallory.stop()


async def inbound(service: FullNodeService) -> int:
    assert service.node is not None
    return len(service.node.get_connections(outbound=False))


async def test_max_inbound_is_enforced(tmp_path: Path, nursery: trio.Nursery) -> None:
    root = tmp_path / "fn"
    write_config(root, {"max_inbound": 2, "target_outbound": 0})
    net = PeerTestNet(nursery, tmp_path / "probes", network_id=SIM.genesis_challenge)
    async with full_node(root) as service:
        host, port = address(service)
        first = await probe(net, host, port)
        second = await probe(net, host, port)
        assert first is not None and second is not None
        assert await probe(net, host, port) is None  # the third is refused
        assert await inbound(service) == 2
        # A slot freed is a slot taken again.
        first.stop()
        with trio.fail_after(DEADLINE):
            await first.stopped.wait()
            while await inbound(service) != 1:
                assert service.node is not None
                await service.node.wait_connection_change()
        assert await probe(net, host, port) is not None
        assert await inbound(service) == 2
        await net.stop_all()


async def test_listen_host(tmp_path: Path, nursery: trio.Nursery) -> None:
    """peers.listen_host picks the address the peer listener binds: here 127.0.0.3 only."""
    root = tmp_path / "fn"
    write_config(root, {"target_outbound": 0}, {"listen_host": "127.0.0.3"})
    net = PeerTestNet(nursery, tmp_path / "probes", network_id=SIM.genesis_challenge)
    async with full_node(root) as service:
        host, port = address(service)
        assert host == "127.0.0.3"
        assert await probe(net, "127.0.0.3", port) is not None
        assert await probe(net, "127.0.0.1", port) is None  # nothing listens there
        await net.stop_all()


@pytest.mark.parametrize("exempt", [False, True], ids=["not-exempt", "exempt"])
async def test_exempt_loopback_from_bans_at_runtime(
    tmp_path: Path, nursery: trio.Nursery, exempt: bool
) -> None:
    """A loopback peer breaking the rules is dropped either way; it is banned (a fresh peer
    from its address is refused) unless peers.exempt_loopback_from_bans is on."""
    root = tmp_path / "fn"
    write_config(root, {"target_outbound": 0}, {"exempt_loopback_from_bans": exempt})
    net = PeerTestNet(nursery, tmp_path / "probes", network_id=SIM.genesis_challenge)
    async with full_node(root) as service:
        host, port = address(service)
        assert await probe(net, host, port, source=OFFENDER) is not None  # not banned yet
        await misbehave(net, host, port, source=OFFENDER)
        admitted = await probe(net, host, port, source=OFFENDER)
        assert (admitted is not None) is exempt
        assert await probe(net, host, port) is not None  # 127.0.0.1 is served all along
        await net.stop_all()


async def test_ban_expires(tmp_path: Path, nursery: trio.Nursery, autojump_clock: object) -> None:
    """A protocol offence bans the address for BAN_PROTOCOL_SECONDS (virtual time on the
    in-memory transport), then the address is served again."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice")
    port = alice.port or 0

    async def admitted(name: str) -> bool:
        node = await net.node(name, source=OFFENDER)
        try:
            with trio.fail_after(DEADLINE):
                await node.connect("127.0.0.1", port)
        except trio.TooSlowError:
            raise
        except Exception:  # whatever the peer layer raises for a refused dial
            return False
        finally:
            node.stop()
        return True

    assert await admitted("before")
    mallory = await net.node("mallory", network_id=OTHER_NETWORK, source=OFFENDER)
    with trio.fail_after(DEADLINE), pytest.raises(Exception):  # noqa: B017 - any refusal
        await mallory.connect("127.0.0.1", port)
    banned_at = trio.current_time()
    assert not await admitted("during")
    await trio.sleep(banned_at + BAN_PROTOCOL_SECONDS - 1 - trio.current_time())
    assert not await admitted("just-before-expiry")
    await trio.sleep(2)
    assert await admitted("after-expiry")
    await net.stop_all()


@pytest.mark.parametrize("peer_db", [None, "peers.sqlite"], ids=["in-chain-db", "own-file"])
async def test_peer_db(tmp_path: Path, peer_db: str | None) -> None:
    """full_node.peer_db: where the node keeps the peers it learns (here its bootstrap peer):
    in the chain database by default, in the named file when set."""
    root = tmp_path / "fn"
    bootstrap = ("127.0.0.1", 9)  # nothing listens: the address is still recorded
    settings: dict[str, Any] = {"target_outbound": 1, "peers": [f"{bootstrap[0]}:{bootstrap[1]}"]}
    if peer_db is not None:
        settings["peer_db"] = peer_db
    write_config(root, settings)
    async with full_node(root) as service:
        assert service.node is not None
    chain_db = default_db_url(root, "sim")
    where = {"chain": chain_db}
    if peer_db is not None:
        assert (root / peer_db).is_file()
        where["own"] = str(root / peer_db)
    found = {}
    for name, location in where.items():
        store = PeerStore.open(location)
        try:
            found[name] = await store.get(*bootstrap)
        finally:
            store.close()
    if peer_db is None:
        assert found["chain"] is not None
    else:
        assert found["own"] is not None and found["chain"] is None

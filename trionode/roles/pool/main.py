"""Start-up of the pool: its key, its store, a listener for farmers, the link to its own full
node, the payout and maintenance loops, and its operator surface (docs/protocol.md section 5).

The pool's key is the pool key of its root's keychain (``trionode keys``): pooled plots commit
to ``sha256(pool pk)`` (``plots create --pool-contract-address``), so block rewards of those
plots are coins the pool can spend. The pool finds them as a light wallet of its full node does
(verified headers and coin lists over the wire, its own wallet store under its root,
:mod:`trionode.wallet.client`) and submits payouts to that node as transactions.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
from typing import Any

import attrs
import trio

from trionode import runfiles
from trionode.config import PoolSettings
from trionode.consensus import get_constants
from trionode.consensus.pool import pool_sub_slot_iters
from trionode.keys.keychain import Keychain
from trionode.nursery import Supervisor
from trionode.nursery.clock import wall_time
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.limits import PeerLimits
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.pool_protocol import PoolDifficultyChanged, PoolInfo
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.pool.api import PoolAPI, PoolChainAPI
from trionode.roles.pool.node import PoolState
from trionode.roles.pool.payout import build_payout, plan_payout
from trionode.roles.pool.rpc import start_pool_surface
from trionode.roles.runtime import write_ready
from trionode.roles.supervision import role_supervisor
from trionode.roles.upstream import keep_connected
from trionode.service import ServiceSettings
from trionode.storage.pool_store import PoolStore, default_pool_db_url
from trionode.wallet.client import WalletError, wallet_session
from trionode.wire import bytes32, uint64

logger = logging.getLogger(__name__)

#: Envelope caps of the pool messages a farmer sends (a partial carries a k <= 50 proof: 400
#: bytes of proof, ~300 of keys and hashes).
POOL_SIZE_CAPS = {
    T.request_pool_info: 64,
    T.join_pool: 512,
    T.submit_partial: 4096,
}


def pool_limits(base: PeerLimits, max_partials_per_minute: int) -> PeerLimits:
    """The peer limits of the pool's listener: the pool messages' size caps, and a hard rate
    on ``submit_partial`` (4x the per-farmer limit the pool answers RATE_LIMITED to, so an
    honest farmer only ever sees the answer; beyond it the connection is dropped)."""
    return dataclasses.replace(
        base,
        size_caps={**base.size_caps, **POOL_SIZE_CAPS},
        rate_limits={**base.rate_limits, T.submit_partial: (4 * max_partials_per_minute, 60.0)},
    )


_DEFAULTS = PoolSettings()  # config.yaml's pool: defaults (trionode.config)


@attrs.frozen
class PoolConfig(ServiceSettings):
    """The shell (root, network, ports, limits) and the pool's own keys."""

    full_node: tuple[str, int]
    # The pool's own store (None = sqlite under root/db).
    db: str | None = None
    # docs/protocol.md 5, limits table: pool.* config keys.
    target_partials_per_hour: int = _DEFAULTS.target_partials_per_hour
    starting_difficulty: int = _DEFAULTS.starting_difficulty
    partial_max_depth: int = _DEFAULTS.partial_max_depth
    partial_max_age: float = _DEFAULTS.partial_max_age
    max_partials_per_minute: int = _DEFAULTS.max_partials_per_minute
    max_farmers: int = _DEFAULTS.max_farmers
    payout_interval: float = _DEFAULTS.payout_interval
    payout_fee: int = _DEFAULTS.payout_fee


class Pool:
    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        # The supervisor of the role's own loops and operator surface, while it runs.
        self.loops: Supervisor | None = None
        self.constants = get_constants(config.network)
        self.keys = Keychain(config.root).farm_keys()
        self.puzzle_hash: bytes32 = self.keys.pool_puzzle_hash
        self.info = PoolInfo(
            pool_contract_puzzle_hash=self.puzzle_hash,
            pool_public_key=self.keys.pool_pk,
            sub_slot_iters=uint64(pool_sub_slot_iters(self.constants)),
            target_partials_per_hour=uint64(config.target_partials_per_hour),
            partial_max_depth=uint64(config.partial_max_depth),
            partial_max_age=uint64(int(config.partial_max_age)),
        )
        self.state = PoolState(
            target_partials_per_hour=config.target_partials_per_hour,
            max_partials_per_minute=config.max_partials_per_minute,
            partial_max_depth=config.partial_max_depth,
            partial_max_age=config.partial_max_age,
        )
        self.store: PoolStore = None  # type: ignore[assignment]  # opened in run()
        self.joined: dict[bytes32, bytes] = {}  # farmer connection node_id -> farmer key
        self.refusals: collections.Counter[str] = collections.Counter()
        # Submitted payouts not yet confirmed: tx id -> (coins it spends, when submitted).
        self.pending: dict[bytes32, tuple[frozenset[bytes32], float]] = {}
        self.payouts_made = 0
        self.api = PoolAPI(self)
        network_id = self.constants.genesis_challenge
        limits = pool_limits(config.limits, config.max_partials_per_minute)
        self.node = PeerNode(
            PeerNodeConfig(
                network_id=network_id,
                node_type=NodeType.POOL,
                host=config.host,
                port=config.port,
                limits=limits,
                accepted_node_types=frozenset({NodeType.FARMER}),
            ),
            make_websocket_transport(NodeIdentity.public(config.root, "pool"), limits),
            self.api,
        )
        # The link to the pool's own full node: the farmer protocol, listening only.
        self.chain_link = PeerNode(
            PeerNodeConfig(
                network_id=network_id,
                node_type=NodeType.FARMER,
                host=config.host,
                port=0,
                limits=config.limits,
                accepted_node_types=frozenset({NodeType.FULL_NODE}),
            ),
            make_websocket_transport(NodeIdentity.public(config.root, "pool_chain"), config.limits),
            PoolChainAPI(self),
        )
        self.node.on_disconnect.append(self._forget_connection)

    def _forget_connection(self, conn: PeerConnection) -> None:
        self.joined.pop(conn.node_id, None)

    def farmer_connections(self) -> list[PeerConnection]:
        return self.node.get_connections(NodeType.FARMER)

    async def difficulty_changed(self, farmer_pk: bytes, difficulty: int) -> None:
        await self.store.set_difficulty(farmer_pk, difficulty)
        logger.info("farmer %s: pool difficulty now %d", farmer_pk.hex()[:16], difficulty)
        for conn in self.farmer_connections():
            if self.joined.get(conn.node_id) == farmer_pk:
                with trio.move_on_after(5):
                    try:
                        await conn.send(PoolDifficultyChanged(uint64(difficulty)))
                    except PeerRequestError:
                        pass

    async def payout_once(self) -> dict[str, Any] | None:
        """Pay the pool's confirmed coins out by points now; the payout, or None if there was
        nothing to pay (no coins or no points)."""
        cfg = self.config
        host, port = cfg.full_node
        async with wallet_session(cfg.root, cfg.network, host, port, [self.puzzle_hash]) as session:
            coins = await session.sync()
            await self._settle_pending({c.coin.name() for c in coins}, wall_time())
            busy = set().union(*(ids for ids, _ in self.pending.values()))
            coins = [c for c in coins if c.coin.name() not in busy]
            farmers = await self.store.get_farmers()
            chosen, shares = plan_payout(coins, farmers, cfg.payout_fee)
            if not shares:
                return None
            payout_phs = {f.farmer_pk: bytes32(f.payout_puzzle_hash) for f in farmers}
            tx = build_payout(
                self.keys.pool_sk, self.puzzle_hash, chosen, shares, payout_phs, cfg.payout_fee
            )
            with trio.fail_after(30):
                await session.submit(tx)
        self.pending[tx.get_hash()] = (frozenset(c.coin.name() for c in chosen), wall_time())
        await self.store.record_payout(bytes(tx.get_hash()), wall_time(), shares)
        self.payouts_made += 1
        amount = sum(s.amount for s in shares.values())
        logger.info(
            "payout %s: %d to %d farmers from %d coins",
            tx.get_hash().hex()[:16],
            amount,
            len(shares),
            len(chosen),
        )
        return {
            "tx_id": tx.get_hash().hex(),
            "amount": amount,
            "farmers": {pk.hex(): s.amount for pk, s in shares.items()},
        }

    def pending_timeout(self) -> float:
        """How long a submitted payout may stay unconfirmed before it counts as dropped."""
        return max(self.config.payout_interval, 60.0 * self.constants.BLOCK_TIME_TARGET)

    async def _settle_pending(self, unspent: set[bytes32], now: float) -> None:
        """Forget confirmed payouts (a coin of theirs is spent); give the points of one that
        stayed unconfirmed past ``pending_timeout`` (dropped by a reorg or the mempool) back
        to the farmers, and its coins back to the next payout."""
        for tx_id, (coin_ids, submitted) in list(self.pending.items()):
            if not coin_ids <= unspent:
                del self.pending[tx_id]
            elif now - submitted > self.pending_timeout():
                del self.pending[tx_id]
                farmers = await self.store.revert_payout(bytes(tx_id))
                logger.warning(
                    "payout %s not confirmed after %.0f s: points given back to %d farmers",
                    tx_id.hex()[:16],
                    now - submitted,
                    farmers,
                )

    async def _payout_loop(self) -> None:
        while True:
            await trio.sleep(self.config.payout_interval)
            try:
                await self.payout_once()
            except (WalletError, trio.TooSlowError) as exc:
                logger.warning("payout postponed: %s", exc)

    async def _maintenance_loop(self) -> None:
        """Lower the difficulty of farmers far below target; forget partials too old to be
        replayed (their challenge is stale)."""
        while True:
            await trio.sleep(min(60.0, self.state.expected_interval()))
            active = set(self.joined.values())
            for farmer_pk, new in list(self.state.slow_farmers(wall_time(), active)):
                await self.difficulty_changed(farmer_pk, new)
            if self.state.peak_height >= 0:
                await self.store.prune_partials(
                    self.state.peak_height - self.config.partial_max_depth - 1
                )

    async def run(self, *, task_status: trio.TaskStatus[Pool] = trio.TASK_STATUS_IGNORED) -> None:
        runfiles.clear(self.config.root, "pool")
        self.store = await PoolStore.open(
            self.config.db or default_pool_db_url(self.config.root, self.config.network)
        )
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.node.run)
                await nursery.start(self.chain_link.run)
                async with role_supervisor("pool", until=self.node.stopped) as loops:
                    self.loops = loops
                    host, port = self.config.full_node
                    await loops.start_child(
                        "full-node-link",
                        functools.partial(keep_connected, what="full node"),
                        self.chain_link,
                        host,
                        port,
                    )
                    await loops.start_child("payout", self._payout_loop)
                    await loops.start_child("maintenance", self._maintenance_loop)
                    assert self.node.port is not None
                    surface = await start_pool_surface(self, loops)
                    write_ready(self.config.root, "pool", self.node.port, **surface)
                    logger.info(
                        "pool %s: target %d partials/hour per farmer, payouts every %g s",
                        self.puzzle_hash.hex()[:16],
                        self.config.target_partials_per_hour,
                        self.config.payout_interval,
                    )
                    task_status.started(self)
        finally:
            with trio.CancelScope(shield=True):
                await self.store.aclose()

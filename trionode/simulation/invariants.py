"""The invariants a run checks all along; a broken one fails the run with its seed.

- every block an honest node takes as its peak is byte for byte a block the honest farm made
  (so it validates: the farm made it with real proofs; an invalid copy shares its header hash
  but not its bytes);
- after the last fault healed, every honest node reaches the same heaviest tip within the
  run's ``settle_seconds`` of virtual time (when two tips tie for the heaviest, nodes keep
  the one they saw first: then each must hold the others' tip, at the same weight);
- no honest node bans an honest peer;
- no coin is spent twice on any honest node's chain, and every spent coin exists on it;
- a transaction a node accepted into its mempool is mined on that node's chain, still held,
  replaced (a coin it spends is spent by another, mined or held), or no longer possible (a coin it spends is
  not on the chain after a reorg), unless the node crashed after accepting it (the mempool is
  memory);
- every pool stays within its configured bound (mempool cost and bytes, orphans, unfinished
  blocks, the ban list, connections), checked every few virtual seconds;
- no handler exception escapes (an error logged with a traceback by the node's code).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Sequence

from trionode.consensus import block_additions, block_removals
from trionode.protocols.chain_types import FullBlock
from trionode.simulation.nodes import SimNode
from trionode.wire import bytes32


class InvariantBroken(Exception):
    pass


class Invariants:
    def __init__(self) -> None:
        self.checked: collections.Counter[str] = collections.Counter()
        self.violations: list[str] = []

    def fail(self, name: str, detail: str) -> None:
        self.violations.append(f"{name}: {detail}")

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checked[name] += 1
        if not ok:
            self.fail(name, detail)

    # -- continuous -------------------------------------------------------------------------

    def pools(self, node: SimNode) -> None:
        fn = node.full_node
        pool = fn.mempool.mempool
        limits = fn.limits
        self.check(
            "pools within bounds",
            pool.total_cost <= pool.max_total_cost and pool.total_bytes <= pool.max_total_bytes,
            f"{node.name} mempool {pool.total_cost}/{pool.max_total_cost} cost, "
            f"{pool.total_bytes}/{pool.max_total_bytes} bytes",
        )
        self.check(
            "pools within bounds",
            fn.intake.orphans.held_bytes <= limits.orphan_max_bytes
            and len(fn.intake.orphans) <= limits.orphan_max_blocks,
            f"{node.name} orphans {len(fn.intake.orphans)} blocks, "
            f"{fn.intake.orphans.held_bytes} B",
        )
        self.check(
            "pools within bounds",
            fn.farming.unfinished_bytes <= limits.unfinished_max_bytes
            and fn.farming.unfinished_count <= limits.unfinished_max_blocks,
            f"{node.name} unfinished {fn.farming.unfinished_count} blocks, "
            f"{fn.farming.unfinished_bytes} B",
        )
        peers = node.peer_node
        inbound = sum(1 for c in peers.connections.values() if not c.outbound)
        self.check(
            "pools within bounds",
            len(peers.bans) <= peers.config.max_bans and inbound <= peers.limits.max_inbound,
            f"{node.name} bans {len(peers.bans)}, inbound connections {inbound}",
        )

    def ban(self, by: SimNode, host: str, reason: str, honest_hosts: set[str]) -> None:
        self.check(
            "no honest peer banned",
            not (by.honest and host in honest_hosts),
            f"{by.name} banned honest {host}: {reason}",
        )

    # -- at the end -------------------------------------------------------------------------

    def converged(self, peaks: dict[str, bytes32 | None], ok: object) -> None:
        distinct = collections.Counter(peaks.values())
        self.check(
            "honest nodes converge",
            bool(ok),
            "heaviest tips differ after the settle bound: "
            + ", ".join(
                f"{'none' if h is None else h.hex()[:16]} x{n}" for h, n in distinct.most_common()
            ),
        )

    def coins(self, name: str, chain: Sequence[FullBlock]) -> None:
        existing: set[bytes32] = set()
        spent: set[bytes32] = set()
        ok, detail = True, ""
        for block in chain:
            for coin_id in block_removals(block):
                if coin_id in spent or coin_id not in existing:
                    ok = False
                    what = "twice" if coin_id in spent else "without it existing"
                    detail = f"{name}: coin {coin_id.hex()[:16]} spent {what} at {block.height}"
                spent.add(coin_id)
            existing.update(c.name() for c in block_additions(block))
        self.check("no coin spent twice", ok, detail)

    def transactions(
        self,
        node: SimNode,
        chain: Sequence[FullBlock],
        accepted: Iterable[tuple[bytes32, Iterable[bytes32]]],
    ) -> None:
        """``accepted``: (transaction id, ids of the coins it spends) accepted by ``node``."""
        mined: set[bytes32] = set()
        existing: set[bytes32] = set()
        spent: set[bytes32] = set()
        for block in chain:
            mined.update(tx.get_hash() for tx in block.body.transactions)
            existing.update(c.name() for c in block_additions(block))
            spent.update(block_removals(block))
        pool = node.full_node.mempool.mempool
        held_spends = {cid for item in pool.items() for cid in item.removals}
        for tx_id, coins in accepted:
            coin_ids = set(coins)
            fine = (
                tx_id in mined
                or tx_id in pool
                or bool(coin_ids & (spent | held_spends))
                or not coin_ids <= existing
            )
            self.check(
                "no accepted transaction lost",
                fine,
                f"{node.name} lost transaction {tx_id.hex()[:16]} (coins on chain: "
                f"{len(coin_ids & existing)}/{len(coin_ids)}, chain height {len(chain) - 1}, "
                f"pool {len(pool)})",
            )


def agreed(nodes: Sequence[SimNode]) -> bool:
    """Every node's heaviest tip has one weight, and every node holds every node's tip."""
    peaks = [n.blockchain.get_peak() for n in nodes]
    if any(p is None for p in peaks):
        return all(p is None for p in peaks)
    if len({int(p.weight) for p in peaks if p is not None}) != 1:
        return False
    hashes = {p.header_hash for p in peaks if p is not None}
    return all(n.blockchain.contains_block(h) for n in nodes for h in hashes)


class EscapedErrors(logging.Handler):
    """Counts errors the node's code logged with a traceback (a handler that failed)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None and record.name.startswith("trionode"):
            self.records.append(f"{record.name}: {record.getMessage()}")

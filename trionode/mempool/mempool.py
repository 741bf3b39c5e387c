"""The mempool's data structure (PROTOCOL.md section 3): valid transactions against one coin set,
no two spending the same coin, bounded in total cost, ordered by fee per byte. No I/O: the
:class:`~trionode.mempool.manager.MempoolManager` looks the coins up and keeps it current.

Rules (the transaction rules of :mod:`trionode.consensus.transactions`, which blocks apply
too, called from here; plus):

- a transaction whose coins are all spent by transactions already held is ``ALREADY_HAVE`` if
  it is the same transaction, otherwise ``CONFLICT``, unless its fee per byte is higher than
  that of every transaction it conflicts with: it then replaces them (replace by fee);
- the pool is bounded twice: its total cost (serialized bytes, ``max_total_cost``, default 10
  blocks) and the memory its objects take (``max_total_bytes``, default
  :data:`DEFAULT_MAX_BYTES`; each item is charged :func:`resident_size`, an upper estimate of
  what the parsed transaction and its index entries take, about 5.5 times its serialized size).
  When either would be exceeded, the transactions with the lowest fee per byte are evicted, and
  a new transaction that would itself be among them is refused (``FULL``);
- one transaction may not cost more than a block (``MAX_BLOCK_COST``): it could never be mined.

The order by fee per byte is kept as a sorted list (``bisect``), so admitting or evicting one
transaction costs O(log n) comparisons and one list move, not a sort of the whole pool: a flood
of cheap transactions into a full pool stays cheap for the event loop that runs ``add``.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Mapping

import attrs

from trionode.consensus import (
    CoinRecord,
    Err,
    transaction_cost,
    transaction_fee,
    transaction_removals,
)
from trionode.consensus.transactions import (
    check_coins,
    check_transaction,
    peer_at_fault,
)
from trionode.protocols.chain_types import Transaction
from trionode.wire import bytes32

MiB = 1024 * 1024
#: Default bound on the memory the held transactions take (config full_node.mempool_max_bytes).
DEFAULT_MAX_BYTES = 32 * MiB
#: Default bound on their total cost, in blocks' worth of MAX_BLOCK_COST
#: (config full_node.mempool_max_blocks).
DEFAULT_MAX_BLOCKS = 10

# What one parsed transaction takes beyond its serialized bytes, measured with tracemalloc on
# CPython 3.11 (tests/test_hostile_pools.py checks resident_size is never below the measure):
# ~840 bytes per transaction (the objects, the MempoolItem, its id and order key), ~550 per spend (Coin,
# G1Element, coin id, the coin index entry), ~176 per output (Output, bytes32, uint64).
TX_OVERHEAD = 900
SPEND_OVERHEAD = 600
OUTPUT_OVERHEAD = 200


def resident_size(tx: Transaction, cost: int | None = None) -> int:
    """An upper estimate of the bytes ``tx`` takes held in the mempool (``cost``: its
    serialized size, when known)."""
    size = transaction_cost(tx) if cost is None else cost
    outputs = sum(len(spend.outputs) for spend in tx.spends)
    return size + TX_OVERHEAD + SPEND_OVERHEAD * len(tx.spends) + OUTPUT_OVERHEAD * outputs


class AddStatus(enum.Enum):
    ADDED = "added"
    ALREADY_HAVE = "already_have"
    INVALID = "invalid"  # ``error`` says which rule
    CONFLICT = "conflict"  # spends a coin a held transaction spends, without a higher fee rate
    FULL = "full"  # the mempool is full of transactions paying more per byte


@attrs.frozen
class AddResult:
    status: AddStatus
    error: Err | None = None
    replaced: tuple[bytes32, ...] = ()

    @property
    def added(self) -> bool:
        return self.status is AddStatus.ADDED

    @property
    def peer_at_fault(self) -> bool:
        """Refused by a rule that holds whatever the coin set (consensus decides which): a
        peer relaying this transaction misbehaves."""
        return self.status is AddStatus.INVALID and peer_at_fault(self.error)

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.status.value}: {self.error.name}"
        return self.status.value


@attrs.frozen
class MempoolItem:
    tx: Transaction
    tx_id: bytes32
    fee: int
    cost: int
    removals: tuple[bytes32, ...]
    size: int = 0  # resident_size: bytes charged against max_total_bytes

    @property
    def fee_per_cost(self) -> float:
        return self.fee / self.cost

    @classmethod
    def of(cls, tx: Transaction) -> MempoolItem:
        cost = transaction_cost(tx)
        return cls(
            tx,
            tx.get_hash(),
            transaction_fee(tx),
            cost,
            tuple(transaction_removals(tx)),
            resident_size(tx, cost),
        )

    def _rank(self) -> tuple[float, int]:
        # Higher fee per byte first; among equal rates the cheaper one (fits more easily).
        return (-self.fee_per_cost, self.cost)

    def _key(self) -> tuple[float, int, bytes]:
        # _rank with the id as the last word: a total order for the sorted list.
        return (-self.fee_per_cost, self.cost, bytes(self.tx_id))


class Mempool:
    """See the module docstring. ``max_block_cost`` bounds one transaction,
    ``max_total_cost`` (default 10 blocks) and ``max_total_bytes`` (default
    :data:`DEFAULT_MAX_BYTES`) the whole pool."""

    def __init__(
        self,
        max_block_cost: int,
        max_total_cost: int | None = None,
        max_total_bytes: int | None = None,
    ) -> None:
        self.max_block_cost = max_block_cost
        self.max_total_cost = (
            max_total_cost if max_total_cost is not None else DEFAULT_MAX_BLOCKS * max_block_cost
        )
        self.max_total_bytes = max_total_bytes if max_total_bytes is not None else DEFAULT_MAX_BYTES
        self._items: dict[bytes32, MempoolItem] = {}
        self._spender: dict[bytes32, bytes32] = {}  # coin id -> id of the tx spending it
        self._order: list[tuple[float, int, bytes]] = []  # _key of every item, best first
        self.total_cost = 0
        self.total_bytes = 0

    def set_limits(self, *, max_total_cost: int, max_total_bytes: int) -> list[MempoolItem]:
        """Apply the operator's bounds; evicts the lowest rates if the pool is over them.
        Returns what was evicted."""
        self.max_total_cost = max_total_cost
        self.max_total_bytes = max_total_bytes
        evicted = []
        while self._order and (
            self.total_cost > max_total_cost or self.total_bytes > max_total_bytes
        ):
            worst = self._items[bytes32(self._order[-1][2])]
            self.remove(worst.tx_id)
            evicted.append(worst)
        return evicted

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, tx_id: object) -> bool:
        return tx_id in self._items

    def get(self, tx_id: bytes32) -> Transaction | None:
        item = self._items.get(tx_id)
        return None if item is None else item.tx

    def items(self) -> list[MempoolItem]:
        """Every held item, best fee per byte first."""
        return [self._items[bytes32(key[2])] for key in self._order]

    def spent_coins(self) -> set[bytes32]:
        return set(self._spender)

    def add(self, tx: Transaction, coins: Mapping[bytes32, CoinRecord]) -> AddResult:
        """Validate ``tx`` against ``coins`` (records of the coins it spends) and hold it."""
        item = MempoolItem.of(tx)
        if item.tx_id in self._items:
            return AddResult(AddStatus.ALREADY_HAVE)
        err = check_transaction(tx, coins, self.max_block_cost)
        if err is not None:
            return AddResult(AddStatus.INVALID, err)
        return self._admit(item)

    def _admit(self, item: MempoolItem) -> AddResult:
        conflicts = {self._spender[c] for c in item.removals if c in self._spender}
        if any(self._items[c].fee_per_cost >= item.fee_per_cost for c in conflicts):
            return AddResult(AddStatus.CONFLICT)
        if item.cost > self.max_total_cost or item.size > self.max_total_bytes:
            return AddResult(AddStatus.FULL)
        # Room: what would be evicted (lowest rate first) must all rank below the newcomer.
        need_cost = (
            self.total_cost
            - sum(self._items[c].cost for c in conflicts)
            + item.cost
            - self.max_total_cost
        )
        need_bytes = (
            self.total_bytes
            - sum(self._items[c].size for c in conflicts)
            + item.size
            - self.max_total_bytes
        )
        evict: list[MempoolItem] = []
        index = len(self._order)
        while need_cost > 0 or need_bytes > 0:
            index -= 1
            if index < 0:  # cannot happen (the item fits an empty pool); never loop past it
                return AddResult(AddStatus.FULL)
            old = self._items[bytes32(self._order[index][2])]
            if old.tx_id in conflicts:
                continue
            if old._rank() <= item._rank():
                return AddResult(AddStatus.FULL)
            evict.append(old)
            need_cost -= old.cost
            need_bytes -= old.size
        for tx_id in [*conflicts, *(e.tx_id for e in evict)]:
            self.remove(tx_id)
        self._items[item.tx_id] = item
        for coin_id in item.removals:
            self._spender[coin_id] = item.tx_id
        bisect.insort(self._order, item._key())
        self.total_cost += item.cost
        self.total_bytes += item.size
        return AddResult(AddStatus.ADDED, replaced=tuple(conflicts))

    def remove(self, tx_id: bytes32) -> MempoolItem | None:
        item = self._items.pop(tx_id, None)
        if item is None:
            return None
        for coin_id in item.removals:
            if self._spender.get(coin_id) == tx_id:
                del self._spender[coin_id]
        key = item._key()
        del self._order[bisect.bisect_left(self._order, key)]
        self.total_cost -= item.cost
        self.total_bytes -= item.size
        return item

    def clear(self) -> list[MempoolItem]:
        items = list(self._items.values())
        self._items.clear()
        self._spender.clear()
        self._order.clear()
        self.total_cost = 0
        self.total_bytes = 0
        return items

    def select(self, max_cost: int) -> list[Transaction]:
        """The best transactions (fee per byte) whose total cost fits ``max_cost``. Held
        transactions never spend the same coin, so any subset is a valid block body."""
        chosen: list[Transaction] = []
        cost = 0
        for item in self.items():
            if cost + item.cost <= max_cost:
                chosen.append(item.tx)
                cost += item.cost
        return chosen

    def rebuild(
        self, candidates: Iterable[Transaction], coins: Mapping[bytes32, CoinRecord]
    ) -> list[bytes32]:
        """Empty the pool and re-admit ``candidates`` (best rate first) against ``coins`` (a new
        coin set). Returns the ids of the transactions held before that are gone now."""
        before = set(self._items)
        self.clear()
        unique: dict[bytes32, MempoolItem] = {}
        for tx in candidates:
            item = MempoolItem.of(tx)
            unique.setdefault(item.tx_id, item)
        items = sorted(unique.values(), key=MempoolItem._key)
        for item in items:
            if check_coins(item.tx, coins) is None:
                self._admit(item)
        return [t for t in before if t not in self._items]

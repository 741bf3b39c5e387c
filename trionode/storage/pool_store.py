"""The pool's store (docs/protocol.md section 5): farmers, credited partials, payouts.

SQLAlchemy Core through :class:`~trionode.storage.engine.StoreRunner` (one writer thread, reader
threads), SQLite in the pool's root by default or PostgreSQL. Each operation is one transaction,
so a partial's credit (its row, the farmer's points and count) and a payout (its rows and the
points it consumed) are all-or-nothing.

Bounds: one ``pool_farmers`` row per joined farmer key (the pool's ``max_farmers``); the
``pool_partials`` rows exist only to refuse duplicates while a challenge is fresh, and are
pruned below ``peak - partial_max_depth`` (so they are bounded by the rate limit times the
freshness window); ``pool_payouts`` / ``pool_payout_shares`` grow by one payout per
``payout_interval``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from trionode.storage.engine import StoreRunner, make_engine

__all__ = ["FarmerRecord", "PayoutShare", "PoolStore", "default_pool_db_url"]

_metadata = sa.MetaData()
farmers_table = sa.Table(
    "pool_farmers",
    _metadata,
    sa.Column("farmer_pk", sa.LargeBinary(48), primary_key=True),
    sa.Column("payout_puzzle_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("join_timestamp", sa.BigInteger, nullable=False),
    sa.Column("difficulty", sa.BigInteger, nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False, default=0),
    sa.Column("partials_accepted", sa.BigInteger, nullable=False, default=0),
    sa.Column("partials_refused", sa.BigInteger, nullable=False, default=0),
    sa.Column("paid", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_partial", sa.Float, nullable=False, default=0.0),
)
partials_table = sa.Table(
    "pool_partials",
    _metadata,
    # sha256(plot_id || challenge_hash || quality): one credit per proof.
    sa.Column("key", sa.LargeBinary(32), primary_key=True),
    sa.Column("farmer_pk", sa.LargeBinary(48), nullable=False),
    sa.Column("height", sa.BigInteger, nullable=False, index=True),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("time", sa.Float, nullable=False),
)
payouts_table = sa.Table(
    "pool_payouts",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tx_id", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("time", sa.Float, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
)
shares_table = sa.Table(
    "pool_payout_shares",
    _metadata,
    sa.Column("payout_id", sa.Integer, sa.ForeignKey("pool_payouts.id"), primary_key=True),
    sa.Column("farmer_pk", sa.LargeBinary(48), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
)


def default_pool_db_url(root: Path, network: str) -> str:
    return f"sqlite:///{Path(root) / 'db' / f'pool_{network}.sqlite'}"


@dataclass(frozen=True)
class FarmerRecord:
    farmer_pk: bytes
    payout_puzzle_hash: bytes
    join_timestamp: int
    difficulty: int
    points: int
    partials_accepted: int
    partials_refused: int
    paid: int
    last_partial: float

    def to_json(self) -> dict[str, Any]:
        return {
            "farmer_public_key": self.farmer_pk.hex(),
            "payout_puzzle_hash": self.payout_puzzle_hash.hex(),
            "difficulty": self.difficulty,
            "points": self.points,
            "partials_accepted": self.partials_accepted,
            "partials_refused": self.partials_refused,
            "paid": self.paid,
            "last_partial": self.last_partial,
        }


@dataclass(frozen=True)
class PayoutShare:
    farmer_pk: bytes
    amount: int
    points: int


def _farmer(row: Any) -> FarmerRecord:
    m = row._mapping
    return FarmerRecord(
        bytes(m["farmer_pk"]),
        bytes(m["payout_puzzle_hash"]),
        int(m["join_timestamp"]),
        int(m["difficulty"]),
        int(m["points"]),
        int(m["partials_accepted"]),
        int(m["partials_refused"]),
        int(m["paid"]),
        float(m["last_partial"]),
    )


class PoolStore:
    """Async facade; build with :meth:`open`, close with :meth:`aclose`."""

    def __init__(self, runner: StoreRunner) -> None:
        self._runner = runner

    @classmethod
    async def open(cls, url: str) -> PoolStore:
        engine = make_engine(url, pool_size=3)
        runner = StoreRunner(engine, readers=2)
        try:
            await runner.write(lambda conn: _metadata.create_all(conn))
        except BaseException:
            runner.close_now()
            raise
        return cls(runner)

    async def aclose(self) -> None:
        await self._runner.aclose()

    # -- farmers ------------------------------------------------------------------------

    async def join(
        self, farmer_pk: bytes, payout: bytes, timestamp: int, difficulty: int, max_farmers: int
    ) -> FarmerRecord | None:
        """Add a farmer or update its payout puzzle hash (a join newer than the last one wins);
        None if the pool is full."""

        def run(conn: sa.Connection) -> FarmerRecord | None:
            t = farmers_table
            row = conn.execute(sa.select(t).where(t.c.farmer_pk == farmer_pk)).first()
            if row is None:
                count = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                if count >= max_farmers:
                    return None
                conn.execute(
                    t.insert().values(
                        farmer_pk=farmer_pk,
                        payout_puzzle_hash=payout,
                        join_timestamp=timestamp,
                        difficulty=difficulty,
                        points=0,
                        partials_accepted=0,
                        partials_refused=0,
                        paid=0,
                        last_partial=0.0,
                    )
                )
            elif timestamp > int(row._mapping["join_timestamp"]):
                conn.execute(
                    t.update()
                    .where(t.c.farmer_pk == farmer_pk)
                    .values(payout_puzzle_hash=payout, join_timestamp=timestamp)
                )
            return _farmer(conn.execute(sa.select(t).where(t.c.farmer_pk == farmer_pk)).one())

        return await self._runner.write(run)

    async def get_farmer(self, farmer_pk: bytes) -> FarmerRecord | None:
        def run(conn: sa.Connection) -> FarmerRecord | None:
            t = farmers_table
            row = conn.execute(sa.select(t).where(t.c.farmer_pk == farmer_pk)).first()
            return None if row is None else _farmer(row)

        return await self._runner.read(run)

    async def get_farmers(self) -> list[FarmerRecord]:
        def run(conn: sa.Connection) -> list[FarmerRecord]:
            t = farmers_table
            return [_farmer(r) for r in conn.execute(sa.select(t).order_by(t.c.farmer_pk))]

        return await self._runner.read(run)

    async def set_difficulty(self, farmer_pk: bytes, difficulty: int) -> None:
        def run(conn: sa.Connection) -> None:
            t = farmers_table
            conn.execute(t.update().where(t.c.farmer_pk == farmer_pk).values(difficulty=difficulty))

        await self._runner.write(run)

    async def count_refusal(self, farmer_pk: bytes) -> None:
        def run(conn: sa.Connection) -> None:
            t = farmers_table
            conn.execute(
                t.update()
                .where(t.c.farmer_pk == farmer_pk)
                .values(partials_refused=t.c.partials_refused + 1)
            )

        await self._runner.write(run)

    # -- partials -----------------------------------------------------------------------

    async def credit_partial(
        self, key: bytes, farmer_pk: bytes, height: int, points: int, now: float
    ) -> FarmerRecord | None:
        """Credit a verified partial; None (nothing changed) if ``key`` was credited before."""

        def run(conn: sa.Connection) -> FarmerRecord | None:
            p = partials_table
            if conn.execute(sa.select(p.c.key).where(p.c.key == key)).first() is not None:
                return None
            conn.execute(
                p.insert().values(
                    key=key, farmer_pk=farmer_pk, height=height, points=points, time=now
                )
            )
            t = farmers_table
            conn.execute(
                t.update()
                .where(t.c.farmer_pk == farmer_pk)
                .values(
                    points=t.c.points + points,
                    partials_accepted=t.c.partials_accepted + 1,
                    last_partial=now,
                )
            )
            return _farmer(conn.execute(sa.select(t).where(t.c.farmer_pk == farmer_pk)).one())

        return await self._runner.write(run)

    async def prune_partials(self, below_height: int) -> int:
        def run(conn: sa.Connection) -> int:
            p = partials_table
            return conn.execute(p.delete().where(p.c.height < below_height)).rowcount or 0

        return await self._runner.write(run)

    # -- payouts ------------------------------------------------------------------------

    async def record_payout(
        self, tx_id: bytes, now: float, shares: Mapping[bytes, PayoutShare]
    ) -> None:
        """Record a submitted payout and take the points it paid off the farmers."""

        def run(conn: sa.Connection) -> None:
            result = conn.execute(
                payouts_table.insert().values(
                    tx_id=tx_id,
                    time=now,
                    amount=sum(s.amount for s in shares.values()),
                    points=sum(s.points for s in shares.values()),
                )
            )
            payout_id = result.inserted_primary_key[0]  # type: ignore[index]
            t = farmers_table
            for share in shares.values():
                conn.execute(
                    shares_table.insert().values(
                        payout_id=payout_id,
                        farmer_pk=share.farmer_pk,
                        amount=share.amount,
                        points=share.points,
                    )
                )
                conn.execute(
                    t.update()
                    .where(t.c.farmer_pk == share.farmer_pk)
                    .values(points=t.c.points - share.points, paid=t.c.paid + share.amount)
                )

        await self._runner.write(run)

    async def revert_payout(self, tx_id: bytes) -> int:
        """Give back the points of a payout whose transaction never landed; the farmers it
        would have paid (0 if it is not recorded)."""

        def run(conn: sa.Connection) -> int:
            row = conn.execute(
                sa.select(payouts_table.c.id).where(payouts_table.c.tx_id == tx_id)
            ).first()
            if row is None:
                return 0
            payout_id = row[0]
            shares = conn.execute(
                sa.select(shares_table).where(shares_table.c.payout_id == payout_id)
            ).all()
            t = farmers_table
            for share in shares:
                m = share._mapping
                conn.execute(
                    t.update()
                    .where(t.c.farmer_pk == m["farmer_pk"])
                    .values(points=t.c.points + m["points"], paid=t.c.paid - m["amount"])
                )
            conn.execute(shares_table.delete().where(shares_table.c.payout_id == payout_id))
            conn.execute(payouts_table.delete().where(payouts_table.c.id == payout_id))
            return len(shares)

        return await self._runner.write(run)

    async def payouts(self, limit: int = 20) -> list[dict[str, Any]]:
        def run(conn: sa.Connection) -> list[dict[str, Any]]:
            t = payouts_table
            rows = conn.execute(sa.select(t).order_by(t.c.id.desc()).limit(limit))
            return [
                {
                    "tx_id": bytes(r._mapping["tx_id"]).hex(),
                    "time": r._mapping["time"],
                    "amount": int(r._mapping["amount"]),
                    "points": int(r._mapping["points"]),
                }
                for r in rows
            ]

        return await self._runner.read(run)

"""The peers table on both back ends, and next to the chain in the same database (the full
node's default: one SQLite file or one PostgreSQL database holds everything)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.chain_store_helpers import BACKENDS, backend_url
from trionode.storage import ChainStore
from trionode.storage.peer_store import PeerStore


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_url(request.param, tmp_path) as url:
        yield url


async def test_peers_table_beside_the_chain(url: str) -> None:
    chain = await ChainStore.open(url)
    peers = PeerStore.open(url)
    try:
        await peers.add_seen([("127.0.0.5", 8444), ("127.0.0.6", 8444)], 100.0)
        await peers.add_seen([("127.0.0.5", 8444)], 50.0)  # older news keeps the newer time
        await peers.add_seen([("127.0.0.6", 8444)], 200.0)
        await peers.mark_success("127.0.0.5", 8444, 150.0)
        await peers.mark_failure("127.0.0.6", 8444)
        first, second = await peers.candidates()
        assert (first.host, first.last_seen, first.last_success) == ("127.0.0.5", 150.0, 150.0)
        assert (second.host, second.last_seen, second.failures) == ("127.0.0.6", 200.0, 1)
        assert [r.host for r in await peers.recent_sample(180.0, 10)] == ["127.0.0.6"]
    finally:
        peers.close()
        await chain.aclose()
    # The chain store's start-up check accepts the shared database, and the rows persist.
    chain = await ChainStore.open(url)
    peers = PeerStore.open(url)
    try:
        assert len(await peers.candidates()) == 2
        engine = sa.create_engine(url)
        try:
            names = set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert {"peers", "full_blocks", "coins"} <= names
    finally:
        peers.close()
        await chain.aclose()


async def test_peers_share_the_chain_stores_runner(url: str, tmp_path: Path) -> None:
    """In the chain's database the peers table rides on the chain store's one engine and
    runner (one writer per database); in another database it opens its own."""
    chain = await ChainStore.open(url)
    try:
        peers = await PeerStore.open_beside(chain.runner)
        assert peers.runner is chain.runner
        await peers.add_seen([("127.0.0.5", 8444)], 100.0)
        await peers.mark_success("127.0.0.5", 8444, 150.0)
        record = await peers.get("127.0.0.5", 8444)
        assert record is not None and record.tried
        peers.close()  # not its runner: the chain store stays open
        await chain.check_integrity()
        same = await PeerStore.open_beside(chain.runner, url)
        assert same.runner is chain.runner
        assert [r.host for r in await same.candidates()] == ["127.0.0.5"]
        if url.startswith("sqlite:///"):  # the same file written as a path
            by_path = await PeerStore.open_beside(chain.runner, Path(url[len("sqlite:///") :]))
            assert by_path.runner is chain.runner
        other = await PeerStore.open_beside(chain.runner, tmp_path / "other.sqlite")
        try:
            assert other.runner is not chain.runner
            assert await other.candidates() == []
        finally:
            other.close()
    finally:
        await chain.aclose()


async def test_record_dial_writes_attempt_and_outcome_at_once(url: str) -> None:
    """The peer manager's one write per dial: a failure counts and keeps the attempt's time;
    a success resets the count and is seen and tried at its own time."""
    peers = PeerStore.open(url)
    try:
        await peers.add_seen([("127.0.0.5", 8444)], 100.0)
        await peers.record_dial("127.0.0.5", 8444, 110.0, ok=False, now=111.0)
        await peers.record_dial("127.0.0.5", 8444, 120.0, ok=False, now=121.0)
        record = await peers.get("127.0.0.5", 8444)
        assert record is not None
        assert (record.last_attempt, record.failures, record.last_success) == (120.0, 2, 0.0)
        assert record.last_seen == 100.0
        await peers.record_dial("127.0.0.5", 8444, 130.0, ok=True, now=131.0)
        record = await peers.get("127.0.0.5", 8444)
        assert record is not None
        assert (record.last_attempt, record.failures) == (130.0, 0)
        assert (record.last_success, record.last_seen) == (131.0, 131.0)
    finally:
        peers.close()

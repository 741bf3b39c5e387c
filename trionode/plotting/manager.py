"""The harvester's plot-handling core: load plots from directories, keep them current, look up
qualities and proofs concurrently, and sign for plots.

Plots live in a set of directories (not recursive; hidden files and chiapos' work directories are
ignored). ``refresh()`` rescans them: new ``*.plot`` files are loaded, removed ones dropped,
changed ones (size or mtime) reloaded. A file that cannot be loaded is listed in
``failed_to_open_filenames`` (retried when it changes); a plot whose memo names a farmer or pool
key that is not ours is loaded but listed in ``no_key_filenames`` and never looked up; a second
file with the same plot id is listed in ``duplicate_filenames``. None of this is fatal.

The state is an immutable snapshot swapped in one assignment, so a refresh running in a worker
thread never disturbs a lookup reading the previous snapshot.

Lookups follow PROTOCOL.md "Proof of space" (``trionode.plotting.pos``): only plots passing the
filter are asked, split across up to ``max_workers`` worker threads (each plot's DiskProver is
used by one thread at a time; chiapos releases the GIL, so different plots proceed in parallel).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import attrs
import trio
from blspy import AugSchemeMPL

from trionode.keys.derive import as_g1
from trionode.nursery.offload import run_blocking
from trionode.plotting.plot_info import PlotError, PlotInfo, load_plot
from trionode.plotting.pos import passes_plot_filter, plot_filter_input, pos_challenge, quality_for
from trionode.protocols.chain_types import ProofOfSpace
from trionode.protocols.harvester_protocol import RespondPlots
from trionode.wire import G1Element, G2Element, bytes32, uint8

__all__ = [
    "PlotManager",
    "QualityHit",
    "RefreshResult",
    "make_proof_of_space",
    "sign_for_plot",
]

logger = logging.getLogger(__name__)

PLOT_SUFFIX = ".plot"

_FileSig = tuple[int, int]  # (size, mtime_ns): a change means the file must be reloaded


class QualityHit(NamedTuple):
    """One quality a plot has for a challenge; ``quality_index`` selects it for ``full_proof``."""

    plot: PlotInfo
    pos_challenge: bytes32
    quality_index: int  # not ``index``: that would shadow tuple.index
    quality_string: bytes

    @property
    def quality(self) -> bytes32:
        """sha256(pos.challenge || quality_string): what the required iterations derive from."""
        return quality_for(self.pos_challenge, self.quality_string)


@attrs.frozen
class RefreshResult:
    """What one refresh changed."""

    added: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()
    failed: tuple[Path, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.failed)


@attrs.frozen
class _Loaded:
    info: PlotInfo
    sig: _FileSig | None


@attrs.frozen
class _Failed:
    reason: str
    sig: _FileSig | None


@attrs.frozen
class _State:
    loaded: dict[Path, _Loaded]
    failed: dict[Path, _Failed]
    plots: dict[Path, PlotInfo]  # usable: our keys, no duplicate
    by_id: dict[bytes32, PlotInfo]
    no_key: dict[Path, str]
    duplicates: dict[Path, Path]  # duplicate file -> the file whose plot is used


def _empty_state() -> _State:
    return _State({}, {}, {}, {}, {}, {})


class PlotManager:
    """Plots of ``plot_dirs`` usable with the given farmer and pool public keys."""

    def __init__(
        self,
        plot_dirs: Iterable[Path | str],
        farmer_public_keys: Iterable[Any] = (),
        pool_public_keys: Iterable[Any] = (),
        *,
        max_workers: int | None = None,
    ) -> None:
        self.plot_dirs: tuple[Path, ...] = tuple(Path(d) for d in plot_dirs)
        self._farmer_keys: frozenset[bytes] | None = frozenset(
            bytes(as_g1(k)) for k in farmer_public_keys
        )
        self._pool_keys = frozenset(bytes(as_g1(k)) for k in pool_public_keys)
        self.max_workers = max_workers if max_workers is not None else max(2, os.cpu_count() or 2)
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {self.max_workers}")
        self._state = _empty_state()
        self._lock = threading.Lock()  # one refresh / key change at a time
        self._missing_dirs: set[Path] = set()

    # -- state (each property reads one consistent snapshot) ----------------------------------

    @property
    def plots(self) -> dict[Path, PlotInfo]:
        """Usable plots by path: readable, with our keys, not a duplicate."""
        return self._state.plots

    @property
    def failed_to_open_filenames(self) -> dict[Path, str]:
        """Plot files that could not be loaded, with the reason."""
        return {p: f.reason for p, f in self._state.failed.items()}

    @property
    def no_key_filenames(self) -> dict[Path, str]:
        """Loaded plots whose farmer or pool key is not ours, with which key."""
        return self._state.no_key

    @property
    def duplicate_filenames(self) -> dict[Path, Path]:
        """Files holding a plot already loaded from another file (-> that file)."""
        return self._state.duplicates

    def plot_by_id(self, plot_id: bytes) -> PlotInfo | None:
        return self._state.by_id.get(bytes32(plot_id))

    def plot_for_identifier(self, identifier: str) -> PlotInfo | None:
        """A usable plot by its ``Plot.filename`` (full path) or its plot id in hex."""
        state = self._state
        info = state.plots.get(Path(identifier))
        if info is not None:
            return info
        try:
            return state.by_id.get(bytes32(bytes.fromhex(identifier.removeprefix("0x"))))
        except ValueError:
            return None

    def respond_plots(self) -> RespondPlots:
        """The harvester protocol's answer to ``request_plots``."""
        state = self._state
        return RespondPlots(
            plots=[info.to_plot_message() for info in state.plots.values()],
            failed_to_open_filenames=[str(p) for p in state.failed],
            no_key_filenames=[str(p) for p in state.no_key],
        )

    # -- loading ------------------------------------------------------------------------------

    def set_public_keys(
        self, farmer_public_keys: Iterable[Any] | None, pool_public_keys: Iterable[Any]
    ) -> None:
        """Replace the keys plots must carry (the farmer sends them in its handshake).

        ``farmer_public_keys=None``: any farmer key (the legacy handshake names pool keys only;
        a plot of another farmer then yields signatures its farmer cannot complete)."""
        with self._lock:
            self._farmer_keys = (
                None
                if farmer_public_keys is None
                else frozenset(bytes(as_g1(k)) for k in farmer_public_keys)
            )
            self._pool_keys = frozenset(bytes(as_g1(k)) for k in pool_public_keys)
            old = self._state
            self._state = self._partition(old.loaded, old.failed)
        logger.info(
            "plot keys updated: %d usable plots, %d with other keys",
            len(self._state.plots),
            len(self._state.no_key),
        )

    def refresh(self) -> RefreshResult:
        """Rescan the directories and (re)load what changed. Blocking: file I/O and chiapos."""
        with self._lock:
            found = self._scan()
            old = self._state
            loaded = {p: e for p, e in old.loaded.items() if p in found}
            failed = {p: f for p, f in old.failed.items() if p in found}
            removed = tuple(sorted(p for p in (*old.loaded, *old.failed) if p not in found))
            added: list[Path] = []
            newly_failed: list[Path] = []
            for path, sig in sorted(found.items()):
                known = loaded.get(path) or failed.get(path)
                if known is not None and known.sig == sig:
                    continue
                try:
                    info = load_plot(path)
                except PlotError as exc:
                    loaded.pop(path, None)
                    failed[path] = _Failed(str(exc), sig)
                    newly_failed.append(path)
                    logger.warning("cannot use plot file: %s", exc)
                    continue
                failed.pop(path, None)
                loaded[path] = _Loaded(info, sig)
                added.append(path)
            self._state = self._partition(loaded, failed)
        result = RefreshResult(tuple(added), removed, tuple(newly_failed))
        for path in removed:
            logger.info("plot removed: %s", path)
        if result.changed:
            logger.info(
                "plots: %d usable, %d added, %d removed, %d failed to open, %d with other keys",
                len(self._state.plots),
                len(added),
                len(removed),
                len(self._state.failed),
                len(self._state.no_key),
            )
        return result

    def _scan(self) -> dict[Path, _FileSig | None]:
        found: dict[Path, _FileSig | None] = {}
        for directory in self.plot_dirs:
            try:
                entries = list(os.scandir(directory))
            except OSError as exc:
                if directory not in self._missing_dirs:
                    logger.warning("cannot read plot directory %s: %s", directory, exc.strerror)
                    self._missing_dirs.add(directory)
                continue
            self._missing_dirs.discard(directory)
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.endswith(PLOT_SUFFIX):
                    continue
                path = Path(entry.path)
                try:
                    st = entry.stat()
                    found[path] = (st.st_size, st.st_mtime_ns)
                except OSError:
                    found[path] = None  # vanished or unreadable: load_plot says which
        return found

    def _partition(self, loaded: dict[Path, _Loaded], failed: dict[Path, _Failed]) -> _State:
        plots: dict[Path, PlotInfo] = {}
        by_id: dict[bytes32, PlotInfo] = {}
        no_key: dict[Path, str] = {}
        duplicates: dict[Path, Path] = {}
        for path in sorted(loaded):
            info = loaded[path].info
            if (
                self._farmer_keys is not None
                and bytes(info.farmer_public_key) not in self._farmer_keys
            ):
                no_key[path] = f"farmer key {info.farmer_public_key.hex()[:16]}... is not ours"
                continue
            # A pooled plot (contract puzzle hash) is farmed with any pool: its rewards can only
            # go to that puzzle hash, whichever farmer finds the block.
            if info.pool_public_key is not None and (
                bytes(info.pool_public_key) not in self._pool_keys
            ):
                no_key[path] = f"pool key {info.pool_public_key.hex()[:16]}... is not ours"
                continue
            first = by_id.get(info.plot_id)
            if first is not None:
                duplicates[path] = first.path
                logger.warning("plot %s duplicates %s; using only the latter", path, first.path)
                continue
            plots[path] = info
            by_id[info.plot_id] = info
        return _State(dict(loaded), dict(failed), plots, by_id, no_key, duplicates)

    async def watch(
        self,
        interval: float = 10.0,
        *,
        on_change: Callable[[RefreshResult], None] | None = None,
        task_status: trio.TaskStatus[RefreshResult] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Refresh now, report started (with that first result), then every ``interval`` s.

        ``on_change`` is called (in the trio thread) after each refresh that changed something.
        """
        result = await run_blocking(self.refresh)
        task_status.started(result)
        while True:
            await trio.sleep(interval)
            result = await run_blocking(self.refresh)
            if result.changed and on_change is not None:
                on_change(result)

    # -- lookups ------------------------------------------------------------------------------

    def passing_plots(
        self, challenge_hash: bytes, sp_hash: bytes, plot_filter_bits: int
    ) -> list[tuple[PlotInfo, bytes32]]:
        """(plot, pos.challenge) for each usable plot that passes the plot filter."""
        passing = []
        for info in self._state.plots.values():
            f = plot_filter_input(info.plot_id, challenge_hash, sp_hash)
            if passes_plot_filter(f, plot_filter_bits):
                passing.append((info, pos_challenge(f)))
        return passing

    def lookup_sync(
        self, challenge_hash: bytes, sp_hash: bytes, plot_filter_bits: int
    ) -> list[QualityHit]:
        """``lookup`` in the calling thread (for tools and tests outside trio)."""
        return _qualities(self.passing_plots(challenge_hash, sp_hash, plot_filter_bits))

    async def lookup(
        self, challenge_hash: bytes32, sp_hash: bytes32, plot_filter_bits: int
    ) -> list[QualityHit]:
        """Every quality of every usable plot passing the filter, looked up in worker threads.

        A plot whose lookup fails (damaged or deleted file) is logged and skipped.
        """
        passing = self.passing_plots(challenge_hash, sp_hash, plot_filter_bits)
        if not passing:
            return []
        workers = min(self.max_workers, len(passing))
        chunks = [passing[i::workers] for i in range(workers)]
        results: list[list[QualityHit]] = [[] for _ in chunks]

        async def run_chunk(i: int) -> None:
            results[i] = await run_blocking(_qualities, chunks[i])

        async with trio.open_nursery() as nursery:
            for i in range(len(chunks)):
                nursery.start_soon(run_chunk, i)
        return [hit for chunk in results for hit in chunk]

    async def full_proof(self, plot: PlotInfo, pos_challenge: bytes32, index: int) -> bytes:
        """The full proof for a hit, read in a worker thread. PlotError if the file fails."""
        return await run_blocking(plot.full_proof, pos_challenge, index)

    async def proof_of_space(self, hit: QualityHit) -> ProofOfSpace:
        """The ``ProofOfSpace`` for a hit (full proof read in a worker thread)."""
        proof = await self.full_proof(hit.plot, hit.pos_challenge, hit.quality_index)
        return make_proof_of_space(hit.plot, hit.pos_challenge, proof)


def _qualities(passing: list[tuple[PlotInfo, bytes32]]) -> list[QualityHit]:
    hits: list[QualityHit] = []
    for info, challenge in passing:
        try:
            qualities = info.qualities_for_challenge(challenge)
        except PlotError as exc:
            logger.warning("skipping plot in lookup: %s", exc)
            continue
        hits.extend(QualityHit(info, challenge, i, q) for i, q in enumerate(qualities))
    return hits


def make_proof_of_space(plot: PlotInfo, pos_challenge: bytes32, proof: bytes) -> ProofOfSpace:
    """The chain's ProofOfSpace record for a full proof of ``plot``."""
    return ProofOfSpace(
        challenge=bytes32(pos_challenge),
        pool_public_key=plot.pool_public_key,
        pool_contract_puzzle_hash=plot.pool_contract_puzzle_hash,
        plot_public_key=plot.plot_public_key,
        size=uint8(plot.k),
        proof=bytes(proof),
    )


def sign_for_plot(plot: PlotInfo, message: bytes) -> tuple[G1Element, G2Element]:
    """The harvester's half of the 2-of-2 plot signature: (local_pk, sign(local_sk, m, plot_pk)).

    The farmer adds ``AugSchemeMPL.sign(farmer_sk, m, plot_pk)``; the aggregate verifies under
    ``plot.plot_public_key``.
    """
    signature = AugSchemeMPL.sign(plot.local_sk, bytes(message), plot.plot_public_key.point)
    return plot.local_pk, G2Element(signature)

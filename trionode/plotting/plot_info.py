"""A loaded plot: its prover, its keys (from the memo) and checked identity.

``load_plot`` opens a plot with chiapos' DiskProver, parses the memo and checks that the plot id
stored in the file is ``sha256(pool_pk || local_pk + farmer_pk)`` of the memo's keys, so a plot
whose memo was tampered with is refused rather than producing unverifiable proofs. Any failure is
a ``PlotError`` naming the file.

One DiskProver serialises its lookups; lookups on different plots run in parallel threads.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
from blspy import PrivateKey
from chiapos import DiskProver

from trionode.keys.derive import plot_local_sk, plot_public_key
from trionode.plotting.memo import PlotMemo, parse_memo, plot_id_for
from trionode.protocols.harvester_protocol import Plot
from trionode.wire import G1Element, bytes32, uint8, uint64

__all__ = ["PlotError", "PlotInfo", "load_plot"]

logger = logging.getLogger(__name__)


class PlotError(Exception):
    """A plot file is unreadable, corrupt or inconsistent."""


@attrs.frozen(eq=False)
class PlotInfo:
    path: Path
    prover: DiskProver = attrs.field(repr=False)
    plot_id: bytes32
    k: int
    memo: PlotMemo = attrs.field(repr=False)
    pool_public_key: G1Element | None  # exactly one of the two is set
    farmer_public_key: G1Element
    local_sk: PrivateKey = attrs.field(repr=False)
    local_pk: G1Element
    plot_public_key: G1Element
    file_size: int
    time_modified: float
    pool_contract_puzzle_hash: bytes32 | None = None

    def qualities_for_challenge(self, challenge: bytes) -> list[bytes]:
        """chiapos quality strings for a proof-of-space challenge (often none, sometimes >1)."""
        try:
            return [bytes(q) for q in self.prover.get_qualities_for_challenge(bytes(challenge))]
        except (RuntimeError, ValueError) as exc:
            raise PlotError(f"{self.path}: quality lookup failed: {exc}") from exc

    def full_proof(self, challenge: bytes, index: int) -> bytes:
        """The full proof (8*k bytes) for the ``index``-th quality of ``challenge``."""
        try:
            return bytes(self.prover.get_full_proof(bytes(challenge), index, parallel_read=False))
        except (RuntimeError, ValueError) as exc:
            raise PlotError(f"{self.path}: full proof failed: {exc}") from exc

    def to_plot_message(self) -> Plot:
        """The harvester protocol's description of this plot (``filename`` is the full path)."""
        return Plot(
            filename=str(self.path),
            size=uint8(self.k),
            plot_id=self.plot_id,
            pool_public_key=self.pool_public_key,
            pool_contract_puzzle_hash=self.pool_contract_puzzle_hash,
            plot_public_key=self.plot_public_key,
            file_size=uint64(self.file_size),
            time_modified=uint64(int(self.time_modified)),
        )


def load_plot(path: Path) -> PlotInfo:
    """Open and check a plot file; PlotError (never another exception) if it is unusable."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise PlotError(f"{path}: cannot stat: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise PlotError(f"{path}: not a regular file")
    try:
        prover = DiskProver(str(path))
    except (RuntimeError, ValueError) as exc:
        raise PlotError(f"{path}: not a readable plot: {exc}") from exc
    try:
        memo = parse_memo(bytes(prover.get_memo()))
    except ValueError as exc:
        raise PlotError(f"{path}: {exc}") from exc
    plot_id = bytes32(bytes(prover.get_id()))
    local_sk = plot_local_sk(memo.local_master_sk)
    local_pk = G1Element(local_sk.get_g1())
    plot_pk = G1Element(plot_public_key(local_pk, memo.farmer_public_key))
    pool = (
        memo.pool_public_key if memo.pool_public_key is not None else memo.pool_contract_puzzle_hash
    )
    expected_id = plot_id_for(pool, plot_pk)
    if expected_id != plot_id:
        raise PlotError(
            f"{path}: plot id {plot_id.hex()} does not match its memo's keys "
            f"(expected {expected_id.hex()}); the memo or header is corrupt"
        )
    return PlotInfo(
        path=path,
        prover=prover,
        plot_id=plot_id,
        k=int(prover.get_size()),
        memo=memo,
        pool_public_key=memo.pool_public_key,
        farmer_public_key=memo.farmer_public_key,
        local_sk=local_sk,
        local_pk=local_pk,
        plot_public_key=plot_pk,
        file_size=st.st_size,
        time_modified=st.st_mtime,
        pool_contract_puzzle_hash=memo.pool_contract_puzzle_hash,
    )

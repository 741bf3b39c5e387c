"""The chain's records (PROTOCOL.md section 2): proofs, headers, bodies, blocks, coins.

A block's identity is ``Header.get_hash()``; the plot key signs ``HeaderData.get_hash()`` (a
signature cannot sign a hash that contains it).
"""

from __future__ import annotations

import functools
import hashlib

from trionode.wire import (
    G1Element,
    G2Element,
    Streamable,
    bytes32,
    bytes100,
    streamable,
    uint8,
    uint32,
    uint64,
    uint128,
)


@streamable
class ProofOfSpace(Streamable):
    challenge: bytes32
    pool_public_key: G1Element | None
    pool_contract_puzzle_hash: bytes32 | None
    plot_public_key: G1Element
    size: uint8
    proof: bytes

    def get_plot_id(self) -> bytes32:
        """sha256(pool public key or pool contract hash || plot public key)."""
        pool = (
            bytes(self.pool_public_key)
            if self.pool_public_key is not None
            else bytes(self.pool_contract_puzzle_hash or b"")
        )
        return bytes32(hashlib.sha256(pool + bytes(self.plot_public_key)).digest())


@streamable
class ClassgroupElement(Streamable):
    data: bytes100


@streamable
class ProofOfTime(Streamable):
    challenge_hash: bytes32
    number_of_iterations: uint64
    output: ClassgroupElement
    witness_type: uint8
    witness: bytes


@streamable
class Challenge(Streamable):
    prev_challenge_hash: bytes32
    proof_of_space_hash: bytes32
    proof_of_time_output_hash: bytes32
    height: uint32
    total_weight: uint128
    total_iters: uint128


@streamable
class CoinbaseInfo(Streamable):
    height: uint32
    amount: uint64
    puzzle_hash: bytes32


@streamable
class FeesTarget(Streamable):
    puzzle_hash: bytes32
    amount: uint64


@streamable
class Coin(Streamable):
    parent_coin_info: bytes32
    puzzle_hash: bytes32
    amount: uint64

    def name(self) -> bytes32:
        """The coin id."""
        return self._coin_id

    # Cached like a header's hash (a slot, not a field): a block's coins are named by
    # validation, the coin-set writes and the mempool of every node that shares the block.
    @functools.cached_property
    def _coin_id(self) -> bytes32:
        return self.get_hash()  # type: ignore[no-any-return]


@streamable
class Output(Streamable):
    puzzle_hash: bytes32
    amount: uint64


@streamable
class Spend(Streamable):
    coin: Coin
    public_key: G1Element
    outputs: list[Output]


@streamable
class Transaction(Streamable):
    spends: list[Spend]
    aggregated_signature: G2Element


@streamable
class HeaderData(Streamable):
    height: uint32
    prev_header_hash: bytes32
    timestamp: uint64
    filter_hash: bytes32
    proof_of_space_hash: bytes32
    body_hash: bytes32
    weight: uint128
    total_iters: uint128
    extension_data: bytes32


@streamable
class Header(Streamable):
    data: HeaderData
    plot_signature: G2Element

    # Cached (a slot attrs adds; not a field: equality, hashing and encoding ignore it): a
    # header is immutable, and its hash is asked for again and again, by every handler a
    # block passes through and by every node of a process that shares the decoded block.
    @functools.cached_property
    def header_hash(self) -> bytes32:
        return self.get_hash()  # type: ignore[no-any-return]

    @property
    def height(self) -> uint32:
        return self.data.height

    @property
    def prev_header_hash(self) -> bytes32:
        return self.data.prev_header_hash

    @property
    def weight(self) -> uint128:
        return self.data.weight


@streamable
class Body(Streamable):
    coinbase: CoinbaseInfo
    coinbase_signature: G2Element
    fees_target: FeesTarget
    transactions: list[Transaction]
    aggregated_signature: G2Element | None
    cost: uint64


class _BlockView:
    """Shortcuts shared by FullBlock and HeaderBlock."""

    __slots__ = ()
    header: Header

    @property
    def header_hash(self) -> bytes32:
        return self.header.header_hash

    @property
    def prev_header_hash(self) -> bytes32:
        return self.header.data.prev_header_hash

    @property
    def height(self) -> uint32:
        return self.header.data.height

    @property
    def weight(self) -> uint128:
        return self.header.data.weight


@streamable
class FullBlock(_BlockView, Streamable):
    """A block; an unfinished block has neither proof of time nor challenge."""

    # Its points are checked by block validation, not by from_bytes (docs/protocol.md, "Where
    # an invalid point is rejected"): a stored block read to be served never decompresses one.
    POINTS_CHECKED_BY_VALIDATION = True

    proof_of_space: ProofOfSpace
    proof_of_time: ProofOfTime | None
    challenge: Challenge | None
    header: Header
    body: Body

    @property
    def is_finished(self) -> bool:
        return self.proof_of_time is not None and self.challenge is not None

    def header_block(self) -> HeaderBlock:
        return HeaderBlock(self.proof_of_space, self.proof_of_time, self.challenge, self.header)


@streamable
class HeaderBlock(_BlockView, Streamable):
    """A FullBlock without its body: what headers-first sync downloads and checks."""

    POINTS_CHECKED_BY_VALIDATION = True  # as FullBlock's

    proof_of_space: ProofOfSpace
    proof_of_time: ProofOfTime | None
    challenge: Challenge | None
    header: Header

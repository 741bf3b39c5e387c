"""Consensus constants per network (PROTOCOL.md section 2), one frozen object each.

A network is its constants plus its genesis challenge::

    constants_hash    = sha256(canonical_bytes(constants))
    genesis_challenge = sha256(b"trionode genesis " + network_name + constants_hash)

which is also the network_id of the handshake. ``canonical_bytes`` is the UTF-8 of the JSON object
{field name: integer value} of every consensus field except ``network_name`` and
``genesis_challenge``, keys sorted, separators ``(",", ":")``. Change any constant and the network
id changes, so nodes with different rules never talk.

How DIFFICULTY_STARTING and DIFFICULTY_CONSTANT_FACTOR were chosen
-------------------------------------------------------------------

The iterations a proof needs are (PROTOCOL.md)::

    iters = MIN_ITERS + difficulty * DIFFICULTY_CONSTANT_FACTOR * int(quality)
                        // (2**256 * expected_plot_size(k)),   expected_plot_size(k) = (2k+1)*2**(k-1)

``int(quality)`` is uniform on [0, 2**256). A plot that passes the filter (a fraction
2**-PLOT_FILTER_BITS of them) yields a Poisson(1) number of proofs per challenge (chiapos: ~1 on
average, 37% none). A proof from a plot of size k needs fewer than MIN_ITERS + D*F*x iterations
with probability x * expected_plot_size(k), so over a farm of total space
S = sum(expected_plot_size(k_i)) the best proof's excess iterations are exponential with mean
``D * F * 2**PLOT_FILTER_BITS / S``. Hence, for a target of ``I`` iterations per block::

    D * F = (I - MIN_ITERS) * S / 2**PLOT_FILTER_BITS,   I = BLOCK_TIME_TARGET * VDF speed

F is a power of two (the scale), D is the rounded remainder, so the difficulty keeps roughly three
significant digits for the epoch adjustment (clamp [old // 3, old * 3]). expected_plot_size(18) =
37 * 2**17 = 4_849_664, so four k=18 plots are S = 19_398_656.

- ``sim`` (tests; VDF at 16 bits, ~1.4M it/s): tests farm with 4 k=18 plots and must be cheap, so
  the target is ~30k iterations per block (~20 ms of VDF; 100 blocks in seconds).
  F = 2**29, D = 1000: excess = 1000 * 2**29 / 19_398_656 = 27_676, mean 28_676 iterations.
  BLOCK_TIME_TARGET = 2 s is nominal: test timestamps are synthetic and the block maker spaces
  them by the target, so difficulty only moves when a test asks it to.
- ``devnet`` (local runs: ``devnet --blocks 5`` must finish in a few minutes on 2 cores with 4
  k=18 plots; the timelord runs 256-bit VDFs at ~380k it/s alone, less while the full node,
  farmer and harvester share the cores): the aim is a few hundred thousand to ~2M iterations per
  block (a few seconds of VDF), so I = 1.16M, i.e. BLOCK_TIME_TARGET 10 s at ~116k it/s
  effective, the rest of the 10 s being shared CPU, signatures and propagation. F = 2**34,
  D = 1200: excess = 1200 * 2**34 / 19_398_656 = 1_062_746, mean 1_162_746 iterations (~3 s of
  VDF at 380k it/s); exponential spread: median ~0.84M, 10% of blocks under 0.21M, 90% under
  2.55M.
- ``testnet`` (VDF at 1024 bits, ~130k it/s; BLOCK_TIME_TARGET 300 s -> I = 39M; expected space
  10 TiB = 10 * 2**40, PLOT_FILTER_BITS 9): D * F = (39_000_000 - 2**22) * 10 * 2**40 / 2**9
  = 7.47e17; F = 2**50, D = 664 (7.476e17).

The epoch rule then keeps BLOCK_TIME_TARGET as the real space and speed drift from these guesses.

Block reward
------------

A constant coinbase of COINBASE_AMOUNT per block on every height (no halving: these networks are
for development and testing), plus a fees target collecting the block's transaction fees.

Block cost
----------

``Body.cost`` = total serialized size in bytes of the block's transactions; at most
MAX_BLOCK_COST.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs

from trionode.wire import bytes32

_NOT_HASHED = ("network_name", "genesis_challenge")


@attrs.frozen
class ConsensusConstants:
    """The rules of one network. Build with ``make_constants`` so the genesis challenge fits."""

    network_name: str
    DISCRIMINANT_SIZE_BITS: int
    BLOCK_TIME_TARGET: int  # seconds
    MIN_ITERS: int
    EPOCH: int  # difficulty adjusts at heights h % EPOCH == 0
    PLOT_FILTER_BITS: int
    MIN_PLOT_SIZE: int  # k
    MAX_PLOT_SIZE: int  # k
    MAX_FUTURE_TIME: int  # seconds a timestamp may be ahead of the validator's clock
    DIFFICULTY_STARTING: int
    DIFFICULTY_CONSTANT_FACTOR: int
    IPS_STARTING: int  # ProofOfTimeRate estimate before the first epoch
    NUMBER_OF_TIPS: int
    SYNC_THRESHOLD: int
    MEDIAN_TIMESTAMP_COUNT: int  # timestamp must exceed the median of this many ancestors
    COINBASE_AMOUNT: int
    MAX_BLOCK_COST: int  # bytes of transactions per block
    genesis_challenge: bytes32 = attrs.field(default=bytes32(bytes(32)))

    @property
    def network_id(self) -> bytes32:
        """The handshake network_id: the genesis challenge."""
        return self.genesis_challenge

    def canonical_bytes(self) -> bytes:
        """The serialization ``constants_hash`` is taken over (see the module docstring)."""
        fields: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in attrs.fields(ConsensusConstants)
            if f.name not in _NOT_HASHED
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def constants_hash(self) -> bytes32:
        return bytes32(hashlib.sha256(self.canonical_bytes()).digest())

    def expected_genesis_challenge(self) -> bytes32:
        data = b"trionode genesis " + self.network_name.encode() + self.constants_hash()
        return bytes32(hashlib.sha256(data).digest())

    def replace(self, **changes: Any) -> ConsensusConstants:
        """A copy with some constants changed and the genesis challenge recomputed (tests)."""
        return make_constants(**{**_as_kwargs(self), **changes})


def _as_kwargs(c: ConsensusConstants) -> dict[str, Any]:
    return {f.name: getattr(c, f.name) for f in attrs.fields(ConsensusConstants)} | {
        "genesis_challenge": None
    }


def make_constants(**values: Any) -> ConsensusConstants:
    """Constants with their genesis challenge derived from them."""
    values.pop("genesis_challenge", None)
    draft = ConsensusConstants(**values)
    return attrs.evolve(draft, genesis_challenge=draft.expected_genesis_challenge())


def block_reward(constants: ConsensusConstants, height: int) -> int:
    """The coinbase amount of the block at ``height``: constant per network."""
    del height  # the schedule is flat; the parameter keeps callers ready for a schedule
    return constants.COINBASE_AMOUNT


_COMMON: dict[str, Any] = {
    "MAX_PLOT_SIZE": 50,
    "MAX_FUTURE_TIME": 7200,
    "NUMBER_OF_TIPS": 3,
    "SYNC_THRESHOLD": 20,
    "MEDIAN_TIMESTAMP_COUNT": 11,
    "COINBASE_AMOUNT": 1_000_000_000_000,
    "MAX_BLOCK_COST": 1_000_000,
}

TESTNET = make_constants(
    network_name="testnet",
    DISCRIMINANT_SIZE_BITS=1024,
    BLOCK_TIME_TARGET=300,
    MIN_ITERS=2**22,
    EPOCH=128,
    PLOT_FILTER_BITS=9,
    MIN_PLOT_SIZE=25,
    DIFFICULTY_STARTING=664,
    DIFFICULTY_CONSTANT_FACTOR=2**50,
    IPS_STARTING=130_000,
    **_COMMON,
)

DEVNET = make_constants(
    network_name="devnet",
    DISCRIMINANT_SIZE_BITS=256,
    BLOCK_TIME_TARGET=10,
    MIN_ITERS=100_000,
    EPOCH=32,
    PLOT_FILTER_BITS=0,
    MIN_PLOT_SIZE=18,
    DIFFICULTY_STARTING=1200,
    DIFFICULTY_CONSTANT_FACTOR=2**34,
    IPS_STARTING=380_000,
    **_COMMON,
)

SIM = make_constants(
    network_name="sim",
    DISCRIMINANT_SIZE_BITS=16,
    BLOCK_TIME_TARGET=2,
    MIN_ITERS=1_000,
    EPOCH=12,
    PLOT_FILTER_BITS=0,
    MIN_PLOT_SIZE=18,
    DIFFICULTY_STARTING=1000,
    DIFFICULTY_CONSTANT_FACTOR=2**29,
    IPS_STARTING=1_400_000,
    **_COMMON,
)

NETWORKS: dict[str, ConsensusConstants] = {c.network_name: c for c in (TESTNET, DEVNET, SIM)}


def get_constants(network: str) -> ConsensusConstants:
    """The frozen constants of ``network`` ("testnet", "devnet" or "sim")."""
    try:
        return NETWORKS[network]
    except KeyError:
        raise ValueError(
            f"unknown network {network!r}; known: {', '.join(sorted(NETWORKS))}"
        ) from None

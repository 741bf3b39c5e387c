"""An independent reference implementation of the consensus formulas, for known-answer vectors.

Written from PROTOCOL.md (sections 1-3) and the Streamable rules of seed 002 only, with hashlib,
blspy, chiapos and chiavdf called directly. It must never import ``trionode``:
``test_vectors.py`` checks that, so a bug or a format change in trionode cannot leak into the
values it is compared against. Every Streamable encoding below is written out by hand:

- unsigned ints: big endian of their size (uint8 1, uint32 4, uint64 8, uint128 16 bytes);
- sized bytes and BLS points: raw (G1 48 bytes, G2 96 bytes);
- ``bytes``: uint32 length prefix, then the bytes; ``List[x]``: uint32 count, then each item;
- ``Optional[x]``: 0x00, or 0x01 followed by the item;
- a record: its fields' encodings concatenated in declaration order;
- ``get_hash()`` = sha256 of the encoding.

It farms a chain the way PROTOCOL.md describes (best proof of the 4 plots, the VDF run for the
iterations the quality demands, the 2-of-2 plot signature), so the header hashes it produces are
known answers for trionode's block maker and validator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import chiavdf
from blspy import AugSchemeMPL, G1Element, G2Element, PrivateKey
from chiapos import DiskProver, Verifier

# -- Streamable primitives -----------------------------------------------------------------


def u8(v: int) -> bytes:
    return v.to_bytes(1, "big")


def u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def u64(v: int) -> bytes:
    return v.to_bytes(8, "big")


def u128(v: int) -> bytes:
    return v.to_bytes(16, "big")


def var_bytes(b: bytes) -> bytes:
    return u32(len(b)) + b


def list_of(items: Sequence[bytes]) -> bytes:
    return u32(len(items)) + b"".join(items)


def optional(item: bytes | None) -> bytes:
    return b"\x00" if item is None else b"\x01" + item


def sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


# -- the sim network (PROTOCOL.md section 2 table; the rest from trionode's constants doc) ----

#: Every consensus constant of the ``sim`` network except its name and genesis challenge.
SIM_CONSTANTS: dict[str, int] = {
    "BLOCK_TIME_TARGET": 2,
    "COINBASE_AMOUNT": 1_000_000_000_000,
    "DIFFICULTY_CONSTANT_FACTOR": 2**29,
    "DIFFICULTY_STARTING": 1000,
    "DISCRIMINANT_SIZE_BITS": 16,
    "EPOCH": 12,
    "IPS_STARTING": 1_400_000,
    "MAX_BLOCK_COST": 1_000_000,
    "MAX_FUTURE_TIME": 7200,
    "MAX_PLOT_SIZE": 50,
    "MEDIAN_TIMESTAMP_COUNT": 11,
    "MIN_ITERS": 1_000,
    "MIN_PLOT_SIZE": 18,
    "NUMBER_OF_TIPS": 3,
    "PLOT_FILTER_BITS": 0,
    "SYNC_THRESHOLD": 20,
}


def constants_hash(constants: dict[str, int]) -> bytes:
    """sha256 of the JSON object of the constants, keys sorted, no spaces."""
    return sha256(json.dumps(constants, sort_keys=True, separators=(",", ":")).encode())


def genesis_challenge(network_name: str, constants: dict[str, int]) -> bytes:
    """sha256(b"trionode genesis " + network_name + constants_hash)."""
    return sha256(b"trionode genesis ", network_name.encode(), constants_hash(constants))


# -- keys (BIP39 seed, EIP-2333 hardened paths) ----------------------------------------------

FARMER_PATH = (12381, 8444, 0, 0)
POOL_PATH = (12381, 8444, 1, 0)
WALLET_PREFIX = (12381, 8444, 2)
LOCAL_PREFIX = (12381, 8444, 3)


def bip39_seed(mnemonic: str, passphrase: str = "") -> bytes:
    """BIP39: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + passphrase, 2048 rounds)."""
    return hashlib.pbkdf2_hmac(
        "sha512", mnemonic.encode(), ("mnemonic" + passphrase).encode(), 2048
    )


def derive(sk: PrivateKey, path: Sequence[int]) -> PrivateKey:
    for index in path:
        sk = AugSchemeMPL.derive_child_sk(sk, index)
    return sk


@dataclass
class Keys:
    master: PrivateKey
    farmer: PrivateKey = field(init=False)
    pool: PrivateKey = field(init=False)

    def __post_init__(self) -> None:
        self.farmer = derive(self.master, FARMER_PATH)
        self.pool = derive(self.master, POOL_PATH)

    def wallet(self, index: int) -> PrivateKey:
        return derive(self.master, (*WALLET_PREFIX, index))

    def local_sk(self, plot_index: int) -> PrivateKey:
        """The harvester's key of plot ``plot_index``: child 0 of m/12381/8444/3/index."""
        return AugSchemeMPL.derive_child_sk(derive(self.master, (*LOCAL_PREFIX, plot_index)), 0)

    def plot_pk(self, plot_index: int) -> G1Element:
        return self.local_sk(plot_index).get_g1() + self.farmer.get_g1()

    def plot_id(self, plot_index: int) -> bytes:
        """sha256(pool_pk || local_pk + farmer_pk)."""
        return sha256(bytes(self.pool.get_g1()), bytes(self.plot_pk(plot_index)))


def puzzle_hash(pk: G1Element) -> bytes:
    return sha256(bytes(pk))


# -- proofs ----------------------------------------------------------------------------------


def pos_challenge(plot_id: bytes, challenge_hash: bytes) -> bytes:
    """pos.challenge = sha256(f), f = sha256(plot_id || challenge_hash || sp_hash = challenge)."""
    return sha256(sha256(plot_id, challenge_hash, challenge_hash))


def iterations(c: dict[str, int], quality: bytes, k: int, difficulty: int) -> int:
    size = (2 * k + 1) * 2 ** (k - 1)
    q = int.from_bytes(quality, "big")
    return c["MIN_ITERS"] + difficulty * c["DIFFICULTY_CONSTANT_FACTOR"] * q // (2**256 * size)


VDF_START = b"\x08" + bytes(99)


def prove_vdf(challenge_hash: bytes, iters: int, bits: int) -> bytes:
    return bytes(chiavdf.prove(challenge_hash, VDF_START, bits, iters, ""))


def verify_vdf(challenge_hash: bytes, proof: bytes, iters: int, bits: int) -> bool:
    disc = str(int(chiavdf.create_discriminant(challenge_hash, bits), 16))
    return bool(chiavdf.verify_n_wesolowski(disc, VDF_START, proof, iters, bits, 0))


# -- records, encoded by hand -----------------------------------------------------------------


def coin(parent: bytes, ph: bytes, amount: int) -> bytes:
    return parent + ph + u64(amount)


def coinbase_coin(height: int, ph: bytes, amount: int) -> bytes:
    return coin(sha256(b"coinbase", u32(height)), ph, amount)


def fees_coin(height: int, ph: bytes, amount: int) -> bytes:
    return coin(sha256(b"fees", u32(height)), ph, amount)


def output(ph: bytes, amount: int) -> bytes:
    return ph + u64(amount)


@dataclass
class Tx:
    """A one-spend transaction: ``coin_bytes`` spent by ``sk`` into ``outputs``."""

    coin_bytes: bytes
    pk: G1Element
    outputs: list[tuple[bytes, int]]
    signature: G2Element

    @classmethod
    def make(cls, coin_bytes: bytes, sk: PrivateKey, outputs: list[tuple[bytes, int]]) -> Tx:
        coin_id = sha256(coin_bytes)
        outs = list_of([output(ph, a) for ph, a in outputs])
        message = sha256(coin_id, sha256(outs))
        return cls(coin_bytes, sk.get_g1(), outputs, AugSchemeMPL.sign(sk, message))

    def encode(self) -> bytes:
        spend = (
            self.coin_bytes + bytes(self.pk) + list_of([output(ph, a) for ph, a in self.outputs])
        )
        return list_of([spend]) + bytes(self.signature)

    @property
    def fee(self) -> int:
        return int.from_bytes(self.coin_bytes[64:], "big") - sum(a for _, a in self.outputs)

    def additions(self) -> list[bytes]:
        parent = sha256(self.coin_bytes)
        return [coin(parent, ph, a) for ph, a in self.outputs]


@dataclass
class RefBlock:
    """Everything the reference derives about one block (hex in the vector file)."""

    height: int
    timestamp: int
    plot_index: int
    plot_id: bytes
    answered_challenge: bytes
    pos_challenge: bytes
    quality_string: bytes
    quality: bytes
    difficulty: int
    iterations: int
    weight: int
    total_iters: int
    proof: bytes
    pos_bytes: bytes
    body_bytes: bytes
    filter_hash: bytes
    header_data_bytes: bytes
    header_bytes: bytes
    vdf_output: bytes
    vdf_witness: bytes
    challenge_bytes: bytes
    coin_ids: list[bytes]
    removals: list[bytes]

    @property
    def pos_hash(self) -> bytes:
        return sha256(self.pos_bytes)

    @property
    def body_hash(self) -> bytes:
        return sha256(self.body_bytes)

    @property
    def header_data_hash(self) -> bytes:
        return sha256(self.header_data_bytes)

    @property
    def header_hash(self) -> bytes:
        return sha256(self.header_bytes)

    @property
    def challenge_hash(self) -> bytes:
        return sha256(self.challenge_bytes)

    def full_block_bytes(self) -> bytes:
        """FullBlock(pos, Optional pot, Optional challenge, header, body)."""
        pot = (
            self.answered_challenge
            + u64(self.iterations)
            + self.vdf_output
            + u8(0)
            + var_bytes(self.vdf_witness)
        )
        return (
            self.pos_bytes
            + optional(pot)
            + optional(self.challenge_bytes)
            + self.header_bytes
            + self.body_bytes
        )

    def vector(self) -> dict[str, object]:
        return {
            "height": self.height,
            "timestamp": self.timestamp,
            "plot_index": self.plot_index,
            "plot_id": self.plot_id.hex(),
            "answered_challenge": self.answered_challenge.hex(),
            "pos_challenge": self.pos_challenge.hex(),
            "quality_string": self.quality_string.hex(),
            "quality": self.quality.hex(),
            "difficulty": self.difficulty,
            "required_iterations": self.iterations,
            "weight": self.weight,
            "total_iters": self.total_iters,
            "proof_of_space_hash": self.pos_hash.hex(),
            "body_hash": self.body_hash.hex(),
            "filter_hash": self.filter_hash.hex(),
            "header_data_hash": self.header_data_hash.hex(),
            "header_hash": self.header_hash.hex(),
            "vdf_output_hash": sha256(self.vdf_output).hex(),
            "challenge_hash": self.challenge_hash.hex(),
            "coin_ids": [c.hex() for c in self.coin_ids],
            "removals": [c.hex() for c in self.removals],
            "full_block_sha256": sha256(self.full_block_bytes()).hex(),
        }


class ReferenceFarmer:
    """Farms the ``sim`` chain with the plots of ``keys`` found in ``plot_dir``."""

    def __init__(self, keys: Keys, plot_dir: Path, num_plots: int, k: int = 18) -> None:
        self.keys = keys
        self.c = SIM_CONSTANTS
        self.genesis = genesis_challenge("sim", self.c)
        self.k = k
        self.plot_ids = [keys.plot_id(i) for i in range(num_plots)]
        # The file name carries the plot id; the file's own id must agree with the keys.
        self.provers = [
            DiskProver(str(plot_dir / f"plot-k{k}-{pid.hex()}.plot")) for pid in self.plot_ids
        ]
        for pid, prover in zip(self.plot_ids, self.provers, strict=True):
            assert bytes(prover.get_id()) == pid

    def difficulty(self, chain: Sequence[RefBlock]) -> int:
        """PROTOCOL.md: constant for EPOCH blocks, then at h % EPOCH == 0
        new = old * T * n // (ts(h-1) - ts(h-1-n)), n = EPOCH (EPOCH - 1 at h = EPOCH)."""
        if not chain:
            return self.c["DIFFICULTY_STARTING"]
        h = len(chain)
        old = chain[-1].difficulty
        epoch = self.c["EPOCH"]
        if h % epoch != 0:
            return old
        n = epoch - 1 if h == epoch else epoch
        elapsed = chain[h - 1].timestamp - chain[h - 1 - n].timestamp
        new = old * self.c["BLOCK_TIME_TARGET"] * n // elapsed
        return max(1, max(old // 3, min(old * 3, new)))

    def best_proof(self, challenge: bytes, difficulty: int) -> tuple[int, int, bytes, bytes, int]:
        """(iterations, plot index, pos challenge, quality string, quality index) of the best."""
        found = []
        for index, (pid, prover) in enumerate(zip(self.plot_ids, self.provers, strict=True)):
            pc = pos_challenge(pid, challenge)  # PLOT_FILTER_BITS is 0: every plot passes
            for qi, qs in enumerate(prover.get_qualities_for_challenge(pc)):
                it = iterations(self.c, sha256(pc, bytes(qs)), self.k, difficulty)
                found.append((it, index, pc, bytes(qs), qi))
        if not found:
            raise LookupError(f"no proof for challenge {challenge.hex()}")
        return min(found, key=lambda f: (f[0], f[1], f[4]))

    def next_block(
        self, chain: Sequence[RefBlock], timestamp: int, txs: Sequence[Tx] = ()
    ) -> RefBlock:
        c = self.c
        height = len(chain)
        parent = chain[-1] if chain else None
        answered = self.genesis if parent is None else parent.challenge_hash
        difficulty = self.difficulty(chain)
        iters, pi, pc, qs, qi = self.best_proof(answered, difficulty)
        proof = bytes(self.provers[pi].get_full_proof(pc, qi))
        # The proof verifies and yields the same quality string.
        assert bytes(Verifier().validate_proof(self.plot_ids[pi], self.k, pc, proof)) == qs
        plot_pk = self.keys.plot_pk(pi)
        pool_pk = self.keys.pool.get_g1()
        # ProofOfSpace(challenge, Optional pool pk, Optional pool contract hash, plot pk, size,
        # proof)
        pos_bytes = (
            pc
            + optional(bytes(pool_pk))
            + optional(None)
            + bytes(plot_pk)
            + u8(self.k)
            + var_bytes(proof)
        )

        # Body: rewards go to the pool key's address.
        reward_ph = puzzle_hash(pool_pk)
        coinbase = u32(height) + u64(c["COINBASE_AMOUNT"]) + reward_ph
        coinbase_sig = AugSchemeMPL.sign(self.keys.pool, sha256(coinbase))
        fees = sum(tx.fee for tx in txs)
        tx_bytes = [tx.encode() for tx in txs]
        agg = (
            optional(bytes(AugSchemeMPL.aggregate([tx.signature for tx in txs])))
            if txs
            else optional(None)
        )
        cost = sum(len(b) for b in tx_bytes)
        body_bytes = (
            coinbase
            + bytes(coinbase_sig)
            + reward_ph
            + u64(fees)
            + list_of(tx_bytes)
            + agg
            + u64(cost)
        )
        additions = [
            coinbase_coin(height, reward_ph, c["COINBASE_AMOUNT"]),
            fees_coin(height, reward_ph, fees),
        ]
        for tx in txs:
            additions += tx.additions()
        coin_ids = [sha256(a) for a in additions]
        removals = [sha256(tx.coin_bytes) for tx in txs]
        filter_hash = sha256(*coin_ids, *removals)

        weight = (0 if parent is None else parent.weight) + difficulty
        total_iters = (0 if parent is None else parent.total_iters) + iters
        header_data = (
            u32(height)
            + (bytes(32) if parent is None else parent.header_hash)
            + u64(timestamp)
            + filter_hash
            + sha256(pos_bytes)
            + sha256(body_bytes)
            + u128(weight)
            + u128(total_iters)
            + bytes(32)
        )
        m = sha256(header_data)
        signature = AugSchemeMPL.aggregate(
            [
                AugSchemeMPL.sign(self.keys.local_sk(pi), m, plot_pk),
                AugSchemeMPL.sign(self.keys.farmer, m, plot_pk),
            ]
        )
        assert AugSchemeMPL.verify(plot_pk, m, signature)
        header_bytes = header_data + bytes(signature)

        vdf = prove_vdf(answered, iters, c["DISCRIMINANT_SIZE_BITS"])
        assert verify_vdf(answered, vdf, iters, c["DISCRIMINANT_SIZE_BITS"])
        out, witness = vdf[:100], vdf[100:]
        challenge_bytes = (
            answered
            + sha256(pos_bytes)
            + sha256(out)
            + u32(height)
            + u128(weight)
            + u128(total_iters)
        )
        return RefBlock(
            height=height,
            timestamp=timestamp,
            plot_index=pi,
            plot_id=self.plot_ids[pi],
            answered_challenge=answered,
            pos_challenge=pc,
            quality_string=qs,
            quality=sha256(pc, qs),
            difficulty=difficulty,
            iterations=iters,
            weight=weight,
            total_iters=total_iters,
            proof=proof,
            pos_bytes=pos_bytes,
            body_bytes=body_bytes,
            filter_hash=filter_hash,
            header_data_bytes=header_data,
            header_bytes=header_bytes,
            vdf_output=out,
            vdf_witness=witness,
            challenge_bytes=challenge_bytes,
            coin_ids=coin_ids,
            removals=removals,
        )

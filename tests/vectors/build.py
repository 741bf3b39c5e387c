"""The fixed inputs of the known-answer vectors and the code that derives them with
``reference.py`` (never with trionode). ``python -m tests.vectors.build PLOT_DIR`` rewrites the
JSON files; do that only for a deliberate consensus change, with a line in docs/protocol.md
section 4 (see tests/vectors/README.md).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from blspy import AugSchemeMPL

from tests.vectors import reference as ref

HERE = Path(__file__).parent
KEYS_FILE = HERE / "keys.json"
CHAIN_FILE = HERE / "sim_chain.json"

#: BIP39 test mnemonic (23 x "abandon" + "art", a valid checksum).
MNEMONIC = " ".join(["abandon"] * 23 + ["art"])
#: The block maker's keys: master = key_gen(sha256(KEY_SEED)) (trionode.testing.block_tools).
KEY_SEED = b"trionode block tools"
NUM_PLOTS = 4
K = 18
#: Fixed challenges the plots are asked directly (qualities / iterations vectors).
QUALITY_CHALLENGES = [hashlib.sha256(b"trionode vector %d" % i).digest() for i in range(4)]
QUALITY_DIFFICULTY = 1000

GENESIS_TIMESTAMP = 1_700_000_000
CHAIN_LENGTH = 14  # heights 0..13: the difficulty adjusts at height EPOCH = 12
#: One second between blocks (target 2 s), so the first adjustment doubles the difficulty.
TIMESTAMPS = [GENESIS_TIMESTAMP + h for h in range(CHAIN_LENGTH)]
TX_HEIGHT = 3  # the block at this height spends block 0's coinbase coin ...
TX_FEE = 1_234  # ... paying this fee, the rest to wallet key 0


def block_tools_keys() -> ref.Keys:
    return ref.Keys(AugSchemeMPL.key_gen(hashlib.sha256(KEY_SEED).digest()))


def mnemonic_keys() -> ref.Keys:
    return ref.Keys(AugSchemeMPL.key_gen(ref.bip39_seed(MNEMONIC)))


def keys_vectors() -> dict[str, object]:
    keys = mnemonic_keys()
    return {
        "mnemonic": MNEMONIC,
        "master_public_key": bytes(keys.master.get_g1()).hex(),
        "farmer_public_key": bytes(keys.farmer.get_g1()).hex(),
        "pool_public_key": bytes(keys.pool.get_g1()).hex(),
        "wallet_0_puzzle_hash": ref.puzzle_hash(keys.wallet(0).get_g1()).hex(),
        "plot_public_keys": [bytes(keys.plot_pk(i)).hex() for i in range(NUM_PLOTS)],
        "plot_ids": [keys.plot_id(i).hex() for i in range(NUM_PLOTS)],
    }


def reference_transaction(keys: ref.Keys, chain: list[ref.RefBlock]) -> ref.Tx:
    """Spend block 0's coinbase coin (owned by the pool key) to wallet key 0 with TX_FEE."""
    coinbase = ref.coinbase_coin(
        0, ref.puzzle_hash(keys.pool.get_g1()), ref.SIM_CONSTANTS["COINBASE_AMOUNT"]
    )
    amount = ref.SIM_CONSTANTS["COINBASE_AMOUNT"] - TX_FEE
    return ref.Tx.make(coinbase, keys.pool, [(ref.puzzle_hash(keys.wallet(0).get_g1()), amount)])


def reference_chain(plot_dir: Path) -> list[ref.RefBlock]:
    keys = block_tools_keys()
    farmer = ref.ReferenceFarmer(keys, plot_dir, NUM_PLOTS, K)
    chain: list[ref.RefBlock] = []
    for h in range(CHAIN_LENGTH):
        txs = [reference_transaction(keys, chain)] if h == TX_HEIGHT else []
        chain.append(farmer.next_block(chain, TIMESTAMPS[h], txs))
    return chain


def quality_vectors(plot_dir: Path) -> list[dict[str, object]]:
    farmer = ref.ReferenceFarmer(block_tools_keys(), plot_dir, NUM_PLOTS, K)
    out = []
    for challenge in QUALITY_CHALLENGES:
        for index, (pid, prover) in enumerate(zip(farmer.plot_ids, farmer.provers, strict=True)):
            pc = ref.pos_challenge(pid, challenge)
            for qs in prover.get_qualities_for_challenge(pc):
                quality = ref.sha256(pc, bytes(qs))
                out.append(
                    {
                        "challenge": challenge.hex(),
                        "plot_index": index,
                        "pos_challenge": pc.hex(),
                        "quality_string": bytes(qs).hex(),
                        "quality": quality.hex(),
                        "difficulty": QUALITY_DIFFICULTY,
                        "required_iterations": ref.iterations(
                            ref.SIM_CONSTANTS, quality, K, QUALITY_DIFFICULTY
                        ),
                    }
                )
    return out


def chain_vectors(plot_dir: Path) -> dict[str, object]:
    keys = block_tools_keys()
    chain = reference_chain(plot_dir)
    return {
        "network": "sim",
        "constants": ref.SIM_CONSTANTS,
        "constants_hash": ref.constants_hash(ref.SIM_CONSTANTS).hex(),
        "genesis_challenge": ref.genesis_challenge("sim", ref.SIM_CONSTANTS).hex(),
        "key_seed": KEY_SEED.decode(),
        "farmer_public_key": bytes(keys.farmer.get_g1()).hex(),
        "pool_public_key": bytes(keys.pool.get_g1()).hex(),
        "plot_ids": [keys.plot_id(i).hex() for i in range(NUM_PLOTS)],
        "qualities": quality_vectors(plot_dir),
        "timestamps": TIMESTAMPS,
        "tx_height": TX_HEIGHT,
        "tx_fee": TX_FEE,
        "blocks": [b.vector() for b in chain],
    }


def dump(data: object) -> str:
    return json.dumps(data, indent=1) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.vectors.build PLOT_DIR", file=sys.stderr)
        return 2
    KEYS_FILE.write_text(dump(keys_vectors()))
    CHAIN_FILE.write_text(dump(chain_vectors(Path(argv[1]))))
    print(f"wrote {KEYS_FILE} and {CHAIN_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Known-answer consensus vectors (tests/vectors/README.md).

Three sources must agree on every value:

1. ``tests/vectors/reference.py``: PROTOCOL.md's formulas and the Streamable rules written out
   by hand with hashlib, blspy, chiapos and chiavdf (no trionode import);
2. the stored files ``tests/vectors/*.json`` (a format change fails loudly here and must update
   them on purpose, with a line in docs/protocol.md section 4);
3. trionode itself: its key derivation, consensus functions, Streamable codec, block maker
   (``trionode.testing.block_tools``) and validator.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import pytest

from tests.vectors import build
from tests.vectors import reference as ref
from trionode.consensus import (
    SIM,
    block_additions,
    block_removals,
    coinbase_coin,
    expected_pos_challenge,
    filter_hash,
    iterations_for_quality,
    next_difficulty,
    quality_for,
    required_iterations,
    validate_block,
)
from trionode.keys.derive import (
    derive_path,
    farmer_sk,
    local_master_sk_for_plot,
    master_sk_from_mnemonic,
    pool_sk,
    puzzle_hash_for_pk,
)
from trionode.plotting.create import planned_plot
from trionode.protocols.chain_types import FullBlock
from trionode.testing.block_tools import BlockTools, context_for

STORED_KEYS = json.loads(build.KEYS_FILE.read_text())
STORED_CHAIN = json.loads(build.CHAIN_FILE.read_text())
STORED_BLOCKS = STORED_CHAIN["blocks"]


@pytest.fixture(scope="module")
def reference_chain(block_tools: BlockTools, plot_dir: Path) -> list[ref.RefBlock]:
    del block_tools  # makes the plot files if this machine has none yet
    return build.reference_chain(plot_dir)


@pytest.fixture(scope="module")
def trionode_chain(block_tools: BlockTools) -> list[FullBlock]:
    """The same chain, made by trionode's block maker with the vectors' inputs."""

    def transactions(so_far: list[FullBlock]) -> list:
        if len(so_far) != build.TX_HEIGHT:
            return []
        cb = so_far[0].body.coinbase
        coin = coinbase_coin(0, cb.puzzle_hash, int(cb.amount))
        return [block_tools.spend_coins([coin], fee=build.TX_FEE)]

    return block_tools.make_chain(
        build.CHAIN_LENGTH, timestamps=build.TIMESTAMPS, transactions=transactions
    )


# -- the reference is independent and the stored files are what it derives ------------------


def test_reference_never_imports_trionode() -> None:
    for module in ("reference.py", "build.py"):
        tree = ast.parse((Path(build.__file__).parent / module).read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "trionode" for n in names), (module, names)


def test_stored_keys_are_the_reference_derivation() -> None:
    assert build.keys_vectors() == STORED_KEYS


def test_stored_chain_is_the_reference_derivation(
    reference_chain: list[ref.RefBlock], plot_dir: Path
) -> None:
    assert [b.vector() for b in reference_chain] == STORED_BLOCKS
    assert build.quality_vectors(plot_dir) == STORED_CHAIN["qualities"]
    assert (
        ref.genesis_challenge("sim", ref.SIM_CONSTANTS).hex() == STORED_CHAIN["genesis_challenge"]
    )
    assert ref.SIM_CONSTANTS == STORED_CHAIN["constants"]


def test_the_fixed_chain_covers_a_transaction_and_an_adjustment() -> None:
    difficulties = [b["difficulty"] for b in STORED_BLOCKS]
    assert difficulties[: ref.SIM_CONSTANTS["EPOCH"]] == [1000] * 12
    # 11 one-second intervals against a 2-second target: the difficulty doubles at height 12
    assert difficulties[12:] == [2000, 2000]
    tx_block = STORED_BLOCKS[build.TX_HEIGHT]
    assert len(tx_block["removals"]) == 1 and len(tx_block["coin_ids"]) == 3
    assert all(not b["removals"] for b in STORED_BLOCKS if b is not tx_block)


# -- trionode agrees with the stored values ----------------------------------------------------


def test_constants_and_genesis_challenge() -> None:
    assert SIM.constants_hash().hex() == STORED_CHAIN["constants_hash"]
    assert SIM.genesis_challenge.hex() == STORED_CHAIN["genesis_challenge"]
    for name, value in STORED_CHAIN["constants"].items():
        assert getattr(SIM, name) == value, name


def test_mnemonic_keys_and_plot_ids() -> None:
    master = master_sk_from_mnemonic(STORED_KEYS["mnemonic"])
    assert bytes(master.get_g1()).hex() == STORED_KEYS["master_public_key"]
    farmer_pk = farmer_sk(master).get_g1()
    pool_pk = pool_sk(master).get_g1()
    assert bytes(farmer_pk).hex() == STORED_KEYS["farmer_public_key"]
    assert bytes(pool_pk).hex() == STORED_KEYS["pool_public_key"]
    wallet = derive_path(master, (12381, 8444, 2, 0)).get_g1()
    assert puzzle_hash_for_pk(wallet).hex() == STORED_KEYS["wallet_0_puzzle_hash"]
    for index, want in enumerate(STORED_KEYS["plot_ids"]):
        plot_id, filename, _memo = planned_plot(
            build.K, farmer_pk, pool_pk, local_master_sk_for_plot(master, index)
        )
        assert plot_id.hex() == want
        assert filename == f"plot-k{build.K}-{want}.plot"


def test_block_tools_plots_qualities_and_iterations(block_tools: BlockTools) -> None:
    assert [p.plot_id.hex() for p in block_tools.plots] == STORED_CHAIN["plot_ids"]
    assert bytes(block_tools.farmer_pk).hex() == STORED_CHAIN["farmer_public_key"]
    assert bytes(block_tools.pool_pk).hex() == STORED_CHAIN["pool_public_key"]
    seen = []
    for challenge in build.QUALITY_CHALLENGES:
        for index, plot in enumerate(block_tools.plots):
            pc = expected_pos_challenge(plot.plot_id, challenge)
            for qs in plot.qualities_for_challenge(pc):
                quality = quality_for(pc, qs)
                seen.append(
                    {
                        "challenge": challenge.hex(),
                        "plot_index": index,
                        "pos_challenge": pc.hex(),
                        "quality_string": qs.hex(),
                        "quality": quality.hex(),
                        "difficulty": build.QUALITY_DIFFICULTY,
                        "required_iterations": iterations_for_quality(
                            SIM, quality, plot.k, build.QUALITY_DIFFICULTY
                        ),
                    }
                )
    assert seen == STORED_CHAIN["qualities"]
    assert len(seen) >= 4


def test_block_tools_chain_matches_the_vectors(trionode_chain: list[FullBlock]) -> None:
    assert len(trionode_chain) == len(STORED_BLOCKS)
    for block, want in zip(trionode_chain, STORED_BLOCKS, strict=True):
        h = int(block.height)
        assert block.challenge is not None and block.proof_of_time is not None
        got = {
            "height": h,
            "timestamp": int(block.header.data.timestamp),
            "answered_challenge": block.proof_of_time.challenge_hash.hex(),
            "pos_challenge": block.proof_of_space.challenge.hex(),
            "plot_id": block.proof_of_space.get_plot_id().hex(),
            "required_iterations": int(block.proof_of_time.number_of_iterations),
            "weight": int(block.header.data.weight),
            "total_iters": int(block.header.data.total_iters),
            "proof_of_space_hash": block.proof_of_space.get_hash().hex(),
            "body_hash": block.body.get_hash().hex(),
            "filter_hash": block.header.data.filter_hash.hex(),
            "header_data_hash": block.header.data.get_hash().hex(),
            "header_hash": block.header_hash.hex(),
            "vdf_output_hash": block.proof_of_time.output.get_hash().hex(),
            "challenge_hash": block.challenge.get_hash().hex(),
            "coin_ids": [c.name().hex() for c in block_additions(block)],
            "removals": [c.hex() for c in block_removals(block)],
            "full_block_sha256": hashlib.sha256(bytes(block)).hexdigest(),
        }
        assert got == {k: want[k] for k in got}, f"block {h}"


def test_trionode_formulas_on_the_vector_chain(trionode_chain: list[FullBlock]) -> None:
    """Each formula the validator uses, applied to the fixed chain, gives the stored value."""
    for block, want in zip(trionode_chain, STORED_BLOCKS, strict=True):
        h = int(block.height)
        prefix = trionode_chain[:h]
        parent = prefix[-1].header_block() if prefix else None
        assert (
            next_difficulty(SIM, parent, lambda i, p=prefix: p[i].header_block())
            == want["difficulty"]
        )
        pos = block.proof_of_space
        assert (
            quality_for(pos.challenge, bytes.fromhex(want["quality_string"])).hex()
            == want["quality"]
        )
        assert (
            required_iterations(SIM, pos, bytes.fromhex(want["quality_string"]), want["difficulty"])
            == want["required_iterations"]
        )
        assert filter_hash(block.body, h).hex() == want["filter_hash"]


def test_validator_accepts_the_reference_blocks(reference_chain: list[ref.RefBlock]) -> None:
    """Blocks whose every byte the reference wrote decode in trionode and validate; a
    reference block with its challenge's total_iters off by one is rejected."""
    blocks = [FullBlock.from_bytes(b.full_block_bytes()) for b in reference_chain]
    for block in blocks:
        assert validate_block(SIM, block, context_for(SIM, blocks, block)) is None
        assert bytes(block) == reference_chain[int(block.height)].full_block_bytes()
    last = blocks[-1]
    assert last.challenge is not None
    bad = last.replace(challenge=last.challenge.replace(total_iters=last.challenge.total_iters + 1))
    assert validate_block(SIM, bad, context_for(SIM, blocks, bad)) is not None

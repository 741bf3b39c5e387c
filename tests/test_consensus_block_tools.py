"""The test block maker: deterministic, forks, dead ends, and the consensus layering rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from trionode.consensus import SIM, validate_block
from trionode.protocols.chain_types import FullBlock
from trionode.testing.block_tools import BlockTools, NoProofError, coin_set


def test_deterministic(block_tools: BlockTools, chain_20: list[FullBlock]) -> None:
    again = block_tools.make_chain(5)
    assert again == chain_20[:5]
    assert [b.height for b in chain_20] == list(range(20))


def test_fork_from_any_block(block_tools: BlockTools, chain_20: list[FullBlock]) -> None:
    fork = block_tools.make_chain(4, parent_chain=chain_20[:10], seed=3)
    assert fork[:10] == chain_20[:10]
    assert [b.height for b in fork] == list(range(14))
    assert fork[10].header_hash != chain_20[10].header_hash
    assert fork[10].prev_header_hash == chain_20[9].header_hash
    for block in fork[10:]:
        assert validate_block(SIM, block, block_tools.context_for(fork, block)) is None
    # the fork's rewards go to wallet key 3, which block_tools can spend
    owned = block_tools.unspent_reward_coins(fork, block_tools.wallet_puzzle_hash(3))
    assert len(owned) == 4


def test_best_proof_is_used(block_tools: BlockTools, chain_20: list[FullBlock]) -> None:
    """Each block uses its parent's best proof, unless that one leads to a dead end (no plot
    can answer the challenge it would make)."""
    for parent, block in zip(chain_20, chain_20[1:], strict=False):
        difficulty = int(block.weight) - int(parent.weight)
        candidates = block_tools.proof_candidates(
            parent.challenge.get_hash(),  # type: ignore[union-attr]
            difficulty,
        )
        assert block.proof_of_time is not None
        rank = [c.iterations for c in candidates].index(block.proof_of_time.number_of_iterations)
        prefix = chain_20[: block.height]
        for better in range(rank):
            skipped = block_tools.next_block(prefix, candidate=better)
            child_challenge = skipped.challenge.get_hash()  # type: ignore[union-attr]
            assert block_tools.proof_candidates(child_challenge, difficulty) == []


def test_dead_ends_are_backed_out_of(plot_dir: Path) -> None:
    """With two plots ~13% of challenges have no proof at all. The maker then re-makes the
    previous block with its next-best proof; the chain is still valid. (Deterministic: this
    network name and these plots need that at two heights.)"""
    constants = SIM.replace(network_name="dead-5")
    two = BlockTools(constants, plot_dir, num_plots=2)
    chain = two.make_chain(12)
    ranks = []
    for parent, block in zip(chain, chain[1:], strict=False):
        assert validate_block(constants, block, two.context_for(chain, block)) is None
        candidates = two.proof_candidates(
            parent.challenge.get_hash(),  # type: ignore[union-attr]
            int(block.weight) - int(parent.weight),
        )
        assert block.proof_of_time is not None
        used = block.proof_of_time.number_of_iterations
        ranks.append([c.iterations for c in candidates].index(used))
    assert any(rank > 0 for rank in ranks)  # some block is not its parent's best answer
    with pytest.raises(NoProofError):
        two.make_unfinished(chain, candidate=99)


def test_no_proof_for_a_fixed_parent_is_an_error(plot_dir: Path) -> None:
    one = BlockTools(SIM.replace(network_name="dead-0"), plot_dir, num_plots=1)
    with pytest.raises(NoProofError, match="no proof"):
        one.make_chain(12)


def test_coin_set_follows_spends(block_tools: BlockTools, tx_chain: list[FullBlock]) -> None:
    coins = coin_set(tx_chain)
    spent = [r for r in coins.values() if r.spent_height is not None]
    assert len(spent) == len(tx_chain) - 8
    assert all(r.spent_height == r.confirmed_height + 8 for r in spent)
    assert all(r.coinbase for r in spent)


def test_consensus_imports_nothing_above_it() -> None:
    """Dependency direction: consensus may use wire and protocols, never storage and above
    (nor plotting, keys or testing)."""
    allowed = ("trionode.wire", "trionode.protocols", "trionode.consensus")
    root = Path(__file__).parent.parent / "trionode" / "consensus"
    bad = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("trionode") and not n.startswith(allowed)
            ]
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("trio", "sqlalchemy")]
    assert bad == []

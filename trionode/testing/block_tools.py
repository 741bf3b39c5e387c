"""BlockTools: a test block maker that really farms blocks.

It owns a few real chiapos plots (made once with ``trionode.plotting.ensure_plots`` and reused
from ``plot_dir``) and the keys of a deterministic farmer. For each next block it looks up every
plot for the parent's challenge, takes the best proof (fewest VDF iterations), builds the body
(coinbase signed by the pool key, fees target, optional transactions), the header (real 2-of-2
plot signature), runs the real chiavdf prove at the network's discriminant size for exactly the
required iterations and fills the challenge. Everything is deterministic for given constants,
plots, timestamps, transactions and seed.

A challenge that none of the plots can answer (with 4 plots: e^-4, ~1.8% of challenges) would
end a chain; ``make_chain`` then backs up one block and uses that block's next-best proof, so
making a chain of any length succeeds unless the fixed parent chain's last block itself has no
answer (``NoProofError``).

Chains are lists of FullBlocks indexed by height (``chain[h].height == h``), starting at
genesis. ``context_for`` builds the ``ValidationContext`` the Blockchain would build, from such
a list, so tests can validate without a store.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs
from blspy import AugSchemeMPL, PrivateKey

from trionode.consensus import (
    ConsensusConstants,
    ValidationContext,
    block_reward,
    body_cost,
    challenge_hash_for_child,
    expected_pos_challenge,
    filter_hash,
    iterations_for_quality,
    make_challenge,
    make_header_data,
    next_difficulty,
    plot_passes_filter,
    prove_vdf,
    puzzle_hash_for_pk,
    quality_for,
    spend_message,
    transaction_fee,
)
from trionode.keys.derive import derive_path, farmer_sk, pool_sk
from trionode.plotting.create import ensure_plots
from trionode.plotting.plot_info import PlotInfo, load_plot
from trionode.protocols.chain_types import (
    Body,
    ClassgroupElement,
    Coin,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    HeaderBlock,
    HeaderData,
    Output,
    ProofOfSpace,
    ProofOfTime,
    Spend,
    Transaction,
)
from trionode.testing.chain_state import ancestors, coin_set, context_for
from trionode.wire import G1Element, G2Element, bytes32, bytes100, uint8, uint32, uint64

logger = logging.getLogger(__name__)

#: Timestamp of a genesis block unless a test gives one (deterministic; in the past).
GENESIS_TIMESTAMP = 1_700_000_000
WALLET_PATH_PREFIX: tuple[int, ...] = (12381, 8444, 2)


#: Gives the transactions of the block to be made on top of a chain.
TxSource = Callable[[Sequence[FullBlock]], Sequence[Transaction]]


class NoProofError(Exception):
    """None of the plots can answer a challenge that cannot be avoided."""


@attrs.frozen
class ProofCandidate:
    """One quality of one plot for a challenge, with the iterations it needs."""

    iterations: int
    plot_index: int
    quality_index: int
    pos_challenge: bytes32


class BlockTools:
    """Farms real blocks for ``constants`` with ``num_plots`` plots of size ``k`` in
    ``plot_dir`` (made on first use, reused afterwards). ``key_seed`` fixes every key."""

    def __init__(
        self,
        constants: ConsensusConstants,
        plot_dir: Path,
        *,
        num_plots: int = 4,
        k: int = 18,
        key_seed: bytes = b"trionode block tools",
    ) -> None:
        self.constants = constants
        self.master_sk: PrivateKey = AugSchemeMPL.key_gen(hashlib.sha256(key_seed).digest())
        self.farmer_sk: PrivateKey = farmer_sk(self.master_sk)
        self.pool_sk: PrivateKey = pool_sk(self.master_sk)
        self.farmer_pk = G1Element(self.farmer_sk.get_g1())
        self.pool_pk = G1Element(self.pool_sk.get_g1())
        paths = ensure_plots(
            Path(plot_dir), k, num_plots, self.farmer_pk, self.pool_pk, self.master_sk
        )
        self.plots: list[PlotInfo] = [load_plot(p) for p in paths]
        self._plot_by_pk = {bytes(p.plot_public_key): p for p in self.plots}
        self._wallet_keys: dict[bytes32, PrivateKey] = {}
        self.pool_puzzle_hash = self._own(self.pool_sk)

    # -- keys ------------------------------------------------------------------------------

    def _own(self, sk: PrivateKey) -> bytes32:
        ph = puzzle_hash_for_pk(G1Element(sk.get_g1()))
        self._wallet_keys[ph] = sk
        return ph

    def wallet_sk(self, index: int) -> PrivateKey:
        """Wallet key number ``index`` (m/12381/8444/2/index)."""
        sk = derive_path(self.master_sk, (*WALLET_PATH_PREFIX, index))
        self._own(sk)
        return sk

    def wallet_puzzle_hash(self, index: int = 0) -> bytes32:
        return puzzle_hash_for_pk(G1Element(self.wallet_sk(index).get_g1()))

    def key_for_puzzle_hash(self, puzzle_hash: bytes) -> PrivateKey:
        try:
            return self._wallet_keys[bytes32(puzzle_hash)]
        except KeyError:
            raise KeyError(f"no key of this farmer owns puzzle hash {puzzle_hash.hex()}") from None

    # -- signing ---------------------------------------------------------------------------

    def sign_header_data(self, pos: ProofOfSpace, data: HeaderData) -> G2Element:
        """The real 2-of-2 plot signature: harvester half + farmer half, aggregated."""
        plot = self._plot_by_pk[bytes(pos.plot_public_key)]
        message = bytes(data.get_hash())
        plot_pk = plot.plot_public_key.point
        harvester = AugSchemeMPL.sign(plot.local_sk, message, plot_pk)
        farmer = AugSchemeMPL.sign(self.farmer_sk, message, plot_pk)
        return G2Element(AugSchemeMPL.aggregate([harvester, farmer]))

    def sign_coinbase(self, coinbase: CoinbaseInfo) -> G2Element:
        return G2Element(AugSchemeMPL.sign(self.pool_sk, bytes(coinbase.get_hash())))

    def sign_spends(self, spends: Sequence[Spend]) -> Transaction:
        """A transaction of ``spends``, each signed by the key owning its coin."""
        sigs = []
        for spend in spends:
            sk = self.key_for_puzzle_hash(spend.coin.puzzle_hash)
            sigs.append(AugSchemeMPL.sign(sk, spend_message(spend.coin.name(), spend.outputs)))
        return Transaction(list(spends), G2Element(AugSchemeMPL.aggregate(sigs)))

    def spend_coins(
        self,
        coins: Sequence[Coin],
        *,
        outputs: Sequence[Output] | None = None,
        fee: int = 0,
        to_puzzle_hash: bytes32 | None = None,
    ) -> Transaction:
        """A valid signed transaction spending ``coins`` (owned by this farmer's keys).

        Without ``outputs``, one output of (inputs - fee) to ``to_puzzle_hash`` (default wallet
        key 0) hangs off the first spend. With ``outputs`` they all hang off the first spend.
        """
        if not coins:
            raise ValueError("a transaction spends at least one coin")
        if outputs is None:
            total = sum(int(c.amount) for c in coins)
            target = to_puzzle_hash or self.wallet_puzzle_hash(0)
            outputs = [Output(target, uint64(total - fee))]
        spends = [
            Spend(coin, G1Element(self.key_for_puzzle_hash(coin.puzzle_hash).get_g1()), outs)
            for coin, outs in zip(coins, [list(outputs)] + [[]] * (len(coins) - 1), strict=True)
        ]
        return self.sign_spends(spends)

    # -- proofs ----------------------------------------------------------------------------

    def proof_candidates(self, challenge_hash: bytes32, difficulty: int) -> list[ProofCandidate]:
        """Every quality any plot has for ``challenge_hash``, fewest iterations first."""
        found = []
        for index, plot in enumerate(self.plots):
            if not plot_passes_filter(self.constants, plot.plot_id, challenge_hash):
                continue
            pos_ch = expected_pos_challenge(plot.plot_id, challenge_hash)
            for qi, quality_string in enumerate(plot.qualities_for_challenge(pos_ch)):
                quality = quality_for(pos_ch, quality_string)
                iters = iterations_for_quality(self.constants, quality, plot.k, difficulty)
                found.append(ProofCandidate(iters, index, qi, pos_ch))
        found.sort(key=lambda c: (c.iterations, c.plot_index, c.quality_index))
        return found

    def proof_of_space(self, candidate: ProofCandidate) -> ProofOfSpace:
        plot = self.plots[candidate.plot_index]
        proof = plot.full_proof(candidate.pos_challenge, candidate.quality_index)
        return ProofOfSpace(
            challenge=candidate.pos_challenge,
            pool_public_key=plot.pool_public_key,
            pool_contract_puzzle_hash=None,
            plot_public_key=plot.plot_public_key,
            size=uint8(plot.k),
            proof=proof,
        )

    # -- blocks ----------------------------------------------------------------------------

    def make_unfinished(
        self,
        chain: Sequence[FullBlock],
        *,
        timestamp: int | None = None,
        transactions: Sequence[Transaction] = (),
        seed: int = 0,
        candidate: int = 0,
    ) -> FullBlock:
        """An unfinished block (no proof of time, no challenge) on top of ``chain`` (empty for
        genesis), using the ``candidate``-th best proof. Rewards go to wallet key ``seed``."""
        parent = chain[-1].header_block() if chain else None
        challenge_hash = self._challenge_for_child(parent)
        difficulty = next_difficulty(self.constants, parent, ancestors(chain))
        candidates = self.proof_candidates(challenge_hash, difficulty)
        if candidate >= len(candidates):
            raise NoProofError(
                f"no proof of rank {candidate} for challenge {challenge_hash.hex()} "
                f"({len(candidates)} proofs in {len(self.plots)} plots)"
            )
        chosen = candidates[candidate]
        pos = self.proof_of_space(chosen)
        height = 0 if parent is None else int(parent.height) + 1
        if timestamp is None:
            timestamp = (
                GENESIS_TIMESTAMP
                if parent is None
                else int(parent.header.data.timestamp) + self.constants.BLOCK_TIME_TARGET
            )
        reward_ph = self.wallet_puzzle_hash(seed) if seed else self.pool_puzzle_hash
        body = self.make_body(height, transactions, reward_ph)
        data = make_header_data(
            parent=parent,
            difficulty=difficulty,
            iterations=chosen.iterations,
            pos=pos,
            body=body,
            timestamp=timestamp,
        )
        header = Header(data, self.sign_header_data(pos, data))
        return FullBlock(pos, None, None, header, body)

    def make_body(
        self, height: int, transactions: Sequence[Transaction], reward_puzzle_hash: bytes32
    ) -> Body:
        """A body with the network's coinbase (signed by the pool key) and the fees target."""
        coinbase = CoinbaseInfo(
            uint32(height), uint64(block_reward(self.constants, height)), reward_puzzle_hash
        )
        fees = sum(transaction_fee(tx) for tx in transactions)
        aggregated = (
            G2Element(
                AugSchemeMPL.aggregate([tx.aggregated_signature.point for tx in transactions])
            )
            if transactions
            else None
        )
        return Body(
            coinbase=coinbase,
            coinbase_signature=self.sign_coinbase(coinbase),
            fees_target=FeesTarget(reward_puzzle_hash, uint64(fees)),
            transactions=list(transactions),
            aggregated_signature=aggregated,
            cost=uint64(body_cost(transactions)),
        )

    def finish_block(self, unfinished: FullBlock, parent: HeaderBlock | None) -> FullBlock:
        """Run the real VDF for exactly the iterations the block's header demands."""
        challenge_hash = self._challenge_for_child(parent)
        total = int(unfinished.header.data.total_iters)
        iterations = total - (0 if parent is None else int(parent.header.data.total_iters))
        pot = self.prove_time(challenge_hash, iterations)
        challenge = make_challenge(
            self.constants,
            answered_challenge=challenge_hash,
            pos=unfinished.proof_of_space,
            pot=pot,
            header_data=unfinished.header.data,
        )
        return unfinished.replace(proof_of_time=pot, challenge=challenge)

    def next_block(
        self,
        chain: Sequence[FullBlock],
        *,
        timestamp: int | None = None,
        transactions: Sequence[Transaction] = (),
        seed: int = 0,
        candidate: int = 0,
    ) -> FullBlock:
        """The finished block on top of ``chain`` (empty: a genesis block)."""
        unfinished = self.make_unfinished(
            chain, timestamp=timestamp, transactions=transactions, seed=seed, candidate=candidate
        )
        parent = chain[-1].header_block() if chain else None
        return self.finish_block(unfinished, parent)

    def make_chain(
        self,
        n: int,
        *,
        parent_chain: Sequence[FullBlock] | None = None,
        timestamps: Sequence[int] | None = None,
        transactions: Mapping[int, Sequence[Transaction]] | TxSource | None = None,
        seed: int = 0,
        on_block: Callable[[list[FullBlock]], None] | None = None,
    ) -> list[FullBlock]:
        """``parent_chain`` (a chain from genesis; empty or None to start one) followed by ``n``
        new blocks. To fork, pass a prefix of an existing chain (``chain[: h + 1]``) and a
        different ``seed`` (rewards then go to wallet key ``seed``, so the blocks differ).
        ``timestamps[i]`` / ``transactions[i]`` are for the i-th new block (default: parent
        timestamp + BLOCK_TIME_TARGET; no transactions). ``transactions`` may also be a function
        of the chain so far giving the next block's transactions. ``on_block(chain)`` is called
        after each new block (e.g. to save progress; a later dead end may still replace it)."""
        base = list(parent_chain or [])
        if timestamps is not None and len(timestamps) != n:
            raise ValueError(f"need {n} timestamps, got {len(timestamps)}")
        if transactions is None or isinstance(transactions, Mapping):
            table = transactions or {}

            def txs_for(chain: list[FullBlock], i: int) -> Sequence[Transaction]:
                return table.get(i, ())
        else:
            source = transactions

            def txs_for(chain: list[FullBlock], i: int) -> Sequence[Transaction]:
                return source(chain)

        new: list[FullBlock] = []
        rank = [0] * n
        while len(new) < n:
            i = len(new)
            try:
                block = self.next_block(
                    base + new,
                    timestamp=None if timestamps is None else timestamps[i],
                    transactions=txs_for(base + new, i),
                    seed=seed,
                    candidate=rank[i],
                )
            except NoProofError:
                if i == 0:
                    raise
                # Dead end: nothing answers this challenge. Re-make the previous block with
                # its next-best proof (its challenge, and so this one, changes).
                logger.debug("no proof at new block %d, backing up", i)
                rank[i] = 0
                new.pop()
                rank[i - 1] += 1
                continue
            new.append(block)
            if on_block is not None:
                on_block(base + new)
        return base + new

    def _challenge_for_child(self, parent: HeaderBlock | None) -> bytes32:
        challenge_hash = challenge_hash_for_child(self.constants, parent)
        if challenge_hash is None:
            raise ValueError("the parent block is unfinished")
        return challenge_hash

    # -- rebuilding (for tests that break exactly one rule) --------------------------------

    def resign(self, block: FullBlock) -> FullBlock:
        """``block`` with its plot signature made again over its (changed) header data."""
        signature = self.sign_header_data(block.proof_of_space, block.header.data)
        return block.replace(header=Header(block.header.data, signature))

    def rebuild(
        self,
        block: FullBlock,
        *,
        pos: ProofOfSpace | None = None,
        body: Body | None = None,
        pot: ProofOfTime | None = None,
        header_changes: Mapping[str, object] | None = None,
        challenge_changes: Mapping[str, object] | None = None,
    ) -> FullBlock:
        """``block`` with some parts replaced and everything derived from them made consistent
        again: header proof_of_space_hash, body_hash and filter_hash follow the new pos and
        body, then ``header_changes`` apply, the plot signature is made again, and a finished
        block's challenge is recomputed (then ``challenge_changes`` apply). So a test changes
        exactly the thing it means to break."""
        pos = block.proof_of_space if pos is None else pos
        body = block.body if body is None else body
        data = block.header.data.replace(
            proof_of_space_hash=pos.get_hash(),
            body_hash=body.get_hash(),
            filter_hash=filter_hash(body, int(block.header.data.height)),
        )
        if header_changes:
            data = data.replace(**header_changes)
        header = Header(data, self.sign_header_data(pos, data))
        rebuilt = block.replace(proof_of_space=pos, body=body, header=header)
        pot = block.proof_of_time if pot is None else pot
        if pot is None or block.challenge is None:
            return rebuilt
        challenge = make_challenge(
            self.constants,
            answered_challenge=block.challenge.prev_challenge_hash,
            pos=pos,
            pot=pot,
            header_data=data,
        )
        if challenge_changes:
            challenge = challenge.replace(**challenge_changes)
        return rebuilt.replace(proof_of_time=pot, challenge=challenge)

    def prove_time(self, challenge_hash: bytes32, iterations: int) -> ProofOfTime:
        """A real proof of time from the start form for ``challenge_hash``."""
        out = prove_vdf(self.constants, challenge_hash, iterations)
        return ProofOfTime(
            challenge_hash,
            uint64(iterations),
            ClassgroupElement(bytes100(out[:100])),
            uint8(0),
            out[100:],
        )

    # -- chain state (what the Blockchain would gather) ------------------------------------

    def context_for(
        self,
        chain: Sequence[FullBlock],
        block: FullBlock | HeaderBlock,
        *,
        now: int | None = None,
    ) -> ValidationContext:
        """The context of ``block`` on top of ``chain[: block.height]``: the parent at
        ``block.height - 1`` on ``chain``, its difficulty, median timestamp, and the records of
        the coins ``block`` spends as seen on that chain. ``now`` defaults to the block's
        timestamp."""
        return context_for(self.constants, chain, block, now=now)

    def unspent_reward_coins(
        self, chain: Sequence[FullBlock], puzzle_hash: bytes32 | None = None
    ) -> list[Coin]:
        """Unspent coins on ``chain`` this farmer owns (optionally of one puzzle hash)."""
        coins = coin_set(chain)
        return [
            r.coin
            for r in coins.values()
            if r.spent_height is None
            and r.coin.puzzle_hash in self._wallet_keys
            and (puzzle_hash is None or r.coin.puzzle_hash == puzzle_hash)
            and r.coin.amount > 0
        ]

"""Err: one specific code per validation rule (PROTOCOL.md "Validation" and section 3).

The values are stable (they may travel in logs and RPC answers); never reuse a number.
"""

from __future__ import annotations

from enum import IntEnum


class Err(IntEnum):
    # -- chain position
    UNKNOWN_PARENT = 1  # height > 0 and the parent is not known / not the block's prev hash
    INVALID_HEIGHT = 2  # height != parent height + 1 (or != 0 without a parent)
    INVALID_GENESIS_PREV_HASH = 3  # a block at height 0 must have prev_header_hash = 32 zeros
    PARENT_NOT_FINISHED = 4  # the parent has no challenge (cannot be answered)
    # -- timestamp
    TIMESTAMP_TOO_FAR_IN_PAST = 10  # <= median of the last 11
    TIMESTAMP_TOO_FAR_IN_FUTURE = 11  # > now + MAX_FUTURE_TIME
    # -- proof of space
    DOES_NOT_PASS_FILTER = 20  # the plot does not pass the filter for the parent's challenge
    INVALID_POS_CHALLENGE = 21  # pos.challenge != sha256(f)
    INVALID_PLOT_SIZE = 22  # k outside [MIN_PLOT_SIZE, MAX_PLOT_SIZE]
    INVALID_POOL_KEY = 23  # not exactly one of pool public key and pool contract puzzle hash
    INVALID_POSPACE = 24  # chiapos rejects the proof
    INVALID_POS_HASH = 25  # header.proof_of_space_hash != pos.get_hash()
    # -- header fields
    INVALID_BODY_HASH = 30  # header.body_hash != body.get_hash()
    INVALID_FILTER_HASH = 31  # header.filter_hash != filter_hash(additions, removals)
    INVALID_EXTENSION_DATA = 32  # extension_data must be 32 zero bytes (reserved)
    INVALID_WEIGHT = 33  # header weight != parent weight + difficulty
    INVALID_TOTAL_ITERS = 34  # header total_iters != parent total_iters + required iterations
    # -- signatures, coinbase, fees
    INVALID_PLOT_SIGNATURE = 40  # plot key (2-of-2) signature over HeaderData.get_hash()
    INVALID_COINBASE_SIGNATURE = 41  # pool key signature over coinbase.get_hash(); identity (v2)
    INVALID_COINBASE_HEIGHT = 42
    INVALID_COINBASE_AMOUNT = 43
    INVALID_FEES_AMOUNT = 44  # fees_target.amount != sum of the transactions' fees
    INVALID_COINBASE_PUZZLE_HASH = 45  # a pooled plot's coinbase must pay its contract hash (v2)
    # -- transactions (section 3)
    EMPTY_TRANSACTION = 50  # a transaction with no spends
    UNKNOWN_COIN = 51  # spent coin does not exist on the block's chain
    DOUBLE_SPEND = 52  # spent coin already spent on the block's chain
    DUPLICATE_SPEND = 53  # the same coin spent twice in the block
    WRONG_PUZZLE_HASH = 54  # coin.puzzle_hash != sha256(bytes(public_key))
    OUTPUTS_EXCEED_INPUTS = 55  # a transaction creates more than it spends
    DUPLICATE_OUTPUT = 56  # one spend creates the same coin twice
    INVALID_TRANSACTION_SIGNATURE = 57  # a transaction's aggregate signature does not verify
    COIN_RECORD_MISMATCH = 58  # the spent coin differs from the coin set's record of that id
    INVALID_AGGREGATED_SIGNATURE = 59  # body.aggregated_signature != aggregate of tx signatures
    INVALID_COST = 60  # body.cost != serialized size of the transactions
    COST_EXCEEDS_MAX = 61  # body.cost > MAX_BLOCK_COST
    # -- proof of time and challenge (finished blocks)
    MISSING_PROOF_OF_TIME = 70
    MISSING_CHALLENGE = 71
    UNEXPECTED_PROOF_OF_TIME = 72  # an unfinished block must carry neither pot nor challenge
    INVALID_POT_CHALLENGE = 73  # pot.challenge_hash != the parent's challenge hash
    INVALID_POT_ITERATIONS = 74  # not exactly the iterations the quality demands
    INVALID_POT = 75  # chiavdf rejects the proof of time
    INVALID_CHALLENGE = 76  # a Challenge field disagrees with the block
    # -- encoding
    #: A G1/G2 field of the block holds no point of its group: PROTOCOL.md's decode error, found
    #: by validation because block points decode lazily (docs/protocol.md, "Where an invalid
    #: point is rejected").
    INVALID_POINT = 80

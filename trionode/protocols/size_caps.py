"""The largest envelope each message type may have (docs/protocol.md section 1).

Every type is listed (``tests/test_protocol_tables.py`` checks it). A node checks the cap of a
message's type on the raw bytes, before decoding anything, and a message above it is a protocol
violation. Each cap is the largest message an honest node can send, with a margin, derived from
the message's fields:

- an envelope adds at most 8 bytes (type, optional id, payload length);
- a ProofOfSpace is at most 568 bytes (a k=50 proof is 400 bytes), a ProofOfTime 245 (a 100-byte
  output and a 100-byte Wesolowski witness), a HeaderBlock about 1,250, a G1 key 48, a G2
  signature 96;
- a FullBlock is its transactions (consensus MAX_BLOCK_COST: 1,000,000 bytes on every network)
  plus about 1,600 bytes of proofs, header and body: the block cap leaves 48 KiB of margin,
  and a test builds the largest valid-sized block of each network and checks it fits;
- a responder serves at most 32 blocks or headers a request (PROTOCOL.md section 4), a full
  node at most 1,000 peers (``peers.api.MAX_PEERS_SENT``), an introducer at most 20;
- strings a peer chooses (plot identifiers, error messages) get a few KiB.

Three have no bound of their own and may use the whole maximum message size
(``peers.max_message_size``): ``all_header_hashes`` grows with the chain (32 bytes a block),
``sync_blocks`` carries 32 blocks, and ``respond_plots`` lists every plot of a harvester. All
three are decoded in a worker thread above ``peers.decode_in_thread_bytes``.
"""

from __future__ import annotations

from collections.abc import Mapping

from trionode.protocols.protocol_message_types import ProtocolMessageTypes as T

__all__ = ["KiB", "MAX_BLOCK_MESSAGE", "MESSAGE_SIZE_CAPS", "MiB", "UNBOUNDED"]

KiB = 1024
MiB = 1024 * KiB
# A cap of UNBOUNDED means "the node's max_message_size" (50 MiB by default).
UNBOUNDED = 1 << 62
# A Block / UnfinishedBlock / NewTransaction message: 1,000,000 bytes of transactions + margin.
MAX_BLOCK_MESSAGE = 1_000_000 + 48 * KiB

MESSAGE_SIZE_CAPS: Mapping[T, int] = {
    # shared
    T.handshake: 1 * KiB,  # network_id, two short strings (software_version <= 128 bytes)
    T.handshake_ack: 64,
    T.error: 4 * KiB,
    # harvester protocol (farmer <-> harvester, private CA)
    T.harvester_handshake: 16 * KiB,  # a farmer sends 1 key of each kind; room for 160
    T.new_signage_point_harvester: 64 * KiB,  # 48 bytes per pool; room for 1,300 pools
    T.new_proof_of_space: 16 * KiB,  # a plot identifier and one proof of space
    T.request_signatures: 16 * KiB,  # a few 32-byte messages to sign
    T.respond_signatures: 32 * KiB,
    T.request_plots: 64,
    T.respond_plots: UNBOUNDED,  # every plot of a harvester (about 300 bytes each)
    # legacy harvester protocol
    T.harvester_handshake_v1: 16 * KiB,
    T.new_challenge: 64,
    T.challenge_response: 128,
    T.request_proof_of_space: 64,
    T.respond_proof_of_space: 2 * KiB,
    T.request_header_signature: 128,
    T.respond_header_signature: 256,
    T.request_partial_proof: 128,
    T.respond_partial_proof: 256,
    # farmer protocol (farmer <-> full node)
    T.proof_of_space_finalized: 128,
    T.proof_of_space_arrived: 128,
    T.request_header_hash: 2 * KiB,  # coinbase, signature, proof of space: about 780 bytes
    T.header_hash: 128,
    T.header_signature: 256,
    T.proof_of_time_rate: 64,
    # timelord protocol (timelord <-> full node)
    T.proof_of_time_finished: 1 * KiB,
    T.challenge_start: 128,
    T.proof_of_space_info: 128,
    # peer protocol (full node <-> full node)
    T.new_proof_of_time: 1 * KiB,
    T.unfinished_block: MAX_BLOCK_MESSAGE,
    T.request_block: 128,
    T.block: MAX_BLOCK_MESSAGE,
    T.request_peers: 64,
    T.peers: 128 * KiB,  # at most 1,000 PeerInfo of up to 51 bytes (IPv6 text + port)
    T.request_all_header_hashes: 128,
    T.all_header_hashes: UNBOUNDED,  # 32 bytes per block of the chain
    T.request_header_blocks: 4 * KiB,  # tip + up to 1,000 heights (responders serve 32)
    T.header_blocks: 128 * KiB,  # 32 header blocks of about 1,250 bytes
    T.request_sync_blocks: 4 * KiB,
    T.sync_blocks: UNBOUNDED,  # 32 blocks: up to 32 MiB
    T.transaction_id: 128,
    T.request_transaction: 128,
    T.new_transaction: MAX_BLOCK_MESSAGE,  # a transaction must fit in a block
    # introducer protocol
    T.request_peers_introducer: 64,
    T.respond_peers_introducer: 4 * KiB,  # at most 20 PeerInfo
    # wallet protocol (light wallet <-> full node, docs/protocol.md section 6)
    T.request_wallet_peak: 64,
    T.wallet_peak: 2 * KiB,  # one header block
    T.request_wallet_headers: 128,
    T.wallet_headers: 96 * KiB,  # 64 header blocks of about 1,250 bytes
    T.request_coin_heights: 4 * KiB,  # up to 64 puzzle hashes
    T.coin_heights: 8 * KiB,  # up to 1,000 heights of 4 bytes
    T.request_block_coins: 2 * KiB,  # up to 32 header hashes
    # 1 MiB of blocks, then one more block: a block of MAX_BLOCK_COST bytes of transactions
    # adds at most 25,000 coins of 72 bytes (an output is 40 bytes of a transaction).
    T.respond_block_coins: 4 * MiB,
    # pool protocol (docs/protocol.md section 5)
    T.request_pool_info: 64,
    T.pool_info: 512,  # a hash, a key and four integers
    T.join_pool: 512,  # key, puzzle hash, timestamp, signature
    T.join_pool_response: 128,
    T.submit_partial: 2 * KiB,  # key, challenge, a proof of space (k <= 50), signature
    T.respond_partial: 2 * KiB,  # result, a reason of at most a few hundred bytes, integers
    T.pool_difficulty_changed: 64,
}

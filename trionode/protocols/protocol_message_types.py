"""Message type numbers (PROTOCOL.md section 1). Numbers are fixed forever; never reuse one."""

from __future__ import annotations

import enum


class ProtocolMessageTypes(enum.IntEnum):
    # shared (seed 002)
    handshake = 1
    handshake_ack = 2
    error = 3

    # harvester protocol (seed 001)
    harvester_handshake = 10
    new_signage_point_harvester = 11
    new_proof_of_space = 12
    request_signatures = 13
    respond_signatures = 14
    request_plots = 15
    respond_plots = 16

    # legacy harvester protocol (seeds 000/003)
    harvester_handshake_v1 = 20
    new_challenge = 21
    challenge_response = 22
    request_proof_of_space = 23
    respond_proof_of_space = 24
    request_header_signature = 25
    respond_header_signature = 26
    request_partial_proof = 27
    respond_partial_proof = 28

    # farmer protocol
    proof_of_space_finalized = 30
    proof_of_space_arrived = 31
    request_header_hash = 32
    header_hash = 33
    header_signature = 34
    proof_of_time_rate = 35

    # timelord protocol
    proof_of_time_finished = 40
    challenge_start = 41
    proof_of_space_info = 42

    # peer protocol
    new_proof_of_time = 50
    unfinished_block = 51
    request_block = 52
    block = 53
    request_peers = 54
    peers = 55
    request_all_header_hashes = 56
    all_header_hashes = 57
    request_header_blocks = 58
    header_blocks = 59
    request_sync_blocks = 60
    sync_blocks = 61
    transaction_id = 62
    request_transaction = 63
    new_transaction = 64

    # introducer protocol
    request_peers_introducer = 70
    respond_peers_introducer = 71

    # wallet protocol (light wallet <-> full node, docs/protocol.md section 6)
    request_wallet_peak = 90
    wallet_peak = 91
    request_wallet_headers = 92
    wallet_headers = 93
    request_coin_heights = 94
    coin_heights = 95
    request_block_coins = 96
    respond_block_coins = 97
    # pool protocol (docs/protocol.md section 5)
    request_pool_info = 80
    pool_info = 81
    join_pool = 82
    join_pool_response = 83
    submit_partial = 84
    respond_partial = 85
    pool_difficulty_changed = 86

"""Timelord: scheduling priorities, stopping work that can no longer win, real chiavdf proofs."""

from __future__ import annotations

import chiavdf
import trio
import trio.testing

from trionode.protocols.timelord_protocol import (
    ChallengeStart,
    ProofOfSpaceInfo,
    ProofOfTimeFinished,
)
from trionode.roles.timelord.node import Timelord
from trionode.roles.timelord.scheduler import TimelordSchedule
from trionode.roles.timelord.vdf import DEFAULT_FORM
from trionode.wire import bytes32, uint64

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


def test_heaviest_challenge_then_smallest_target_first() -> None:
    s = TimelordSchedule(keep_challenges=1)
    s.challenge_start(A, 10)
    s.challenge_start(B, 10)
    s.proof_of_space_info(A, 500)
    s.proof_of_space_info(A, 200)
    s.proof_of_space_info(B, 300)
    assert s.next_jobs(3) == [(A, 200), (B, 300), (A, 500)]
    s.challenge_start(C, 11)
    s.proof_of_space_info(C, 900)
    # C is heavier: the lighter challenges can no longer win at all
    assert s.next_jobs(3) == [(C, 900)]


def test_info_before_challenge_start_is_kept() -> None:
    s = TimelordSchedule()
    s.proof_of_space_info(A, 100)
    assert s.next_jobs(1) == []
    s.challenge_start(A, 1)
    assert s.next_jobs(1) == [(A, 100)]


def test_losers_after_heavier_challenge_or_faster_proof() -> None:
    s = TimelordSchedule(keep_challenges=1, proofs_per_challenge=1)
    s.challenge_start(A, 5)
    s.proof_of_space_info(A, 100)
    s.proof_of_space_info(A, 400)
    for job in s.next_jobs(2):
        s.started(job)
    s.done((A, 100))
    assert s.losers() == [(A, 400)]  # a proof with fewer iterations already exists
    s.proof_of_space_info(A, 1000)
    assert s.next_jobs(1) == []  # never starts something already beaten
    s.challenge_start(B, 6)
    s.proof_of_space_info(B, 50)
    s.started((B, 50))
    s.challenge_start(C, 7)
    assert (B, 50) in s.losers()


def test_default_keeps_three_tips_worth_of_work() -> None:
    s = TimelordSchedule()
    for i, c in enumerate((A, B, C)):
        s.challenge_start(c, 10 + i)
        s.proof_of_space_info(c, 100)
    # all three challenges can still make a tip; the heaviest goes first
    assert s.next_jobs(3) == [(C, 100), (B, 100), (A, 100)]
    s.challenge_start(b"d" * 32, 20)
    assert (A, 100) not in s.next_jobs(5)  # A is no longer among the three heaviest
    # up to three proofs per challenge, smallest first
    for it in (200, 300, 400):
        s.proof_of_space_info(B, it)
    for job in [(B, 100), (B, 200), (B, 300)]:
        s.started(job)
        s.done(job)
    assert not s.can_win((B, 400))


async def test_timelord_proves_and_sends_real_vdf() -> None:
    sent: list[ProofOfTimeFinished] = []
    got = trio.Event()

    async def send(msg: ProofOfTimeFinished) -> None:
        sent.append(msg)
        got.set()

    tl = Timelord(16, send, workers=1, use_processes=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(tl.run)
        tl.challenge_start(ChallengeStart(bytes32(A), uint64(1)))
        tl.proof_of_space_info(ProofOfSpaceInfo(bytes32(A), uint64(5000)))
        with trio.fail_after(30):
            await got.wait()
        nursery.cancel_scope.cancel()
    proof = sent[0].proof
    assert proof.challenge_hash == A and proof.number_of_iterations == 5000
    disc = chiavdf.create_discriminant(A, 16)
    assert chiavdf.verify_n_wesolowski(
        str(int(disc, 16)), DEFAULT_FORM, bytes(proof.output.data) + proof.witness, 5000, 16, 0
    )


async def test_timelord_kills_process_that_can_no_longer_win() -> None:
    sent: list[ProofOfTimeFinished] = []
    got = trio.Event()

    async def send(msg: ProofOfTimeFinished) -> None:
        sent.append(msg)
        got.set()

    tl = Timelord(256, send, workers=1, use_processes=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(tl.run)
        tl.challenge_start(ChallengeStart(bytes32(A), uint64(1)))
        # ~10 minutes of VDF at 256 bits: it must be stopped, not waited for
        tl.proof_of_space_info(ProofOfSpaceInfo(bytes32(A), uint64(200_000_000)))
        await trio.testing.wait_all_tasks_blocked()
        assert tl.schedule.running  # the long job is under way
        # three heavier challenges: A can no longer make one of the three tips
        for i, c in enumerate((B, C, b"d" * 32)):
            tl.challenge_start(ChallengeStart(bytes32(c), uint64(2 + i)))
        tl.proof_of_space_info(ProofOfSpaceInfo(bytes32(b"d" * 32), uint64(1000)))
        with trio.fail_after(20):
            await got.wait()
        nursery.cancel_scope.cancel()
    assert [m.proof.challenge_hash for m in sent] == [b"d" * 32]


async def test_repeated_info_is_answered_from_the_cache() -> None:
    sent: list[ProofOfTimeFinished] = []
    got = trio.Event()

    async def send(msg: ProofOfTimeFinished) -> None:
        sent.append(msg)
        got.set()

    tl = Timelord(16, send, workers=1, use_processes=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(tl.run)
        tl.challenge_start(ChallengeStart(bytes32(A), uint64(1)))
        tl.proof_of_space_info(ProofOfSpaceInfo(bytes32(A), uint64(3000)))
        with trio.fail_after(30):
            await got.wait()
        got = trio.Event()
        # a restarted full node asks again: same proof, without running the VDF again
        tl.proof_of_space_info(ProofOfSpaceInfo(bytes32(A), uint64(3000)))
        assert not tl.schedule.targets.get(A)
        with trio.fail_after(30):
            await got.wait()
        nursery.cancel_scope.cancel()
    assert len(sent) == 2 and sent[0] == sent[1]

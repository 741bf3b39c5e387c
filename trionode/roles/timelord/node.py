"""Timelord state: the schedule, the running VDF jobs, and the full node it reports to."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from trionode.peers.errors import PeerRequestError
from trionode.protocols.chain_types import ClassgroupElement, ProofOfTime
from trionode.protocols.timelord_protocol import (
    ChallengeStart,
    ProofOfSpaceInfo,
    ProofOfTimeFinished,
)
from trionode.roles.timelord.scheduler import Job, TimelordSchedule
from trionode.roles.timelord.vdf import prove_in_process, prove_in_thread
from trionode.wire import bytes32, bytes100, uint8, uint64

logger = logging.getLogger(__name__)

MAX_CACHED_PROOFS = 256

Prover = Callable[[bytes, int, int], Awaitable[bytes]]
Sender = Callable[[ProofOfTimeFinished], Awaitable[None]]


class Timelord:
    """Runs up to ``workers`` proofs of time at once, best jobs first, and sends each result.

    ``send`` delivers a ``ProofOfTimeFinished`` to the full node; if it fails (no connection),
    the proof is kept and re-sent when ``resend_pending`` is called after a reconnect.
    """

    def __init__(
        self,
        discriminant_bits: int,
        send: Sender,
        *,
        workers: int = 1,
        use_processes: bool = True,
    ) -> None:
        self.discriminant_bits = discriminant_bits
        self._send = send
        self.workers = max(1, workers)
        self._prove: Prover = prove_in_process if use_processes else prove_in_thread
        self.schedule = TimelordSchedule()
        self._scopes: dict[Job, trio.CancelScope] = {}
        self._wake = trio.Event()
        self.proofs_sent = 0
        self.unsent: list[ProofOfTimeFinished] = []
        # Finished proofs by job, so a repeated ProofOfSpaceInfo (a full node that restarted
        # and lost its unfinished blocks, or a second full node) is answered without redoing
        # the VDF. Bounded: oldest dropped first.
        self._proofs: dict[Job, ProofOfTimeFinished] = {}
        self._resend: list[ProofOfTimeFinished] = []

    # ------------------------------------------------------------------ messages from the node

    def challenge_start(self, msg: ChallengeStart) -> None:
        logger.info("challenge start %s at weight %d", msg.challenge_hash.hex()[:16], msg.weight)
        self.schedule.challenge_start(bytes(msg.challenge_hash), int(msg.weight))
        self._changed()

    def proof_of_space_info(self, msg: ProofOfSpaceInfo) -> None:
        logger.info(
            "proof of space info %s needs %d iterations",
            msg.challenge_hash.hex()[:16],
            msg.iterations_needed,
        )
        job = (bytes(msg.challenge_hash), int(msg.iterations_needed))
        cached = self._proofs.get(job)
        if cached is not None:
            self._resend.append(cached)
        else:
            self.schedule.proof_of_space_info(*job)
        self._changed()

    def _changed(self) -> None:
        for job in self.schedule.losers():
            scope = self._scopes.get(job)
            if scope is not None:
                logger.info("stopping VDF %s/%d: it can no longer win", job[0].hex()[:16], job[1])
                scope.cancel()
        self._wake.set()

    # ------------------------------------------------------------------ running

    async def run(
        self, *, task_status: trio.TaskStatus[Timelord] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with trio.open_nursery() as nursery:
            task_status.started(self)
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                resend, self._resend = self._resend, []
                for msg in resend:
                    nursery.start_soon(self._deliver, msg)
                free = self.workers - len(self.schedule.running)
                for job in self.schedule.next_jobs(free):
                    self.schedule.started(job)
                    scope = trio.CancelScope()
                    self._scopes[job] = scope
                    nursery.start_soon(self._run_job, job, scope)

    async def _run_job(self, job: Job, scope: trio.CancelScope) -> None:
        challenge, iterations = job
        try:
            with scope:
                start = trio.current_time()
                result = await self._prove(challenge, self.discriminant_bits, iterations)
                elapsed = trio.current_time() - start
                self.schedule.done(job)
                proof = ProofOfTime(
                    bytes32(challenge),
                    uint64(iterations),
                    ClassgroupElement(bytes100(result[:100])),
                    uint8(0),
                    result[100:],
                )
                logger.info(
                    "proof of time %s/%d done in %.2f s (%.0f it/s)",
                    challenge.hex()[:16],
                    iterations,
                    elapsed,
                    iterations / elapsed if elapsed > 0 else 0.0,
                )
                finished = ProofOfTimeFinished(proof)
                self._proofs[job] = finished
                while len(self._proofs) > MAX_CACHED_PROOFS:
                    del self._proofs[next(iter(self._proofs))]
                await self._deliver(finished)
        finally:
            self._scopes.pop(job, None)
            self.schedule.stopped(job)
            self._changed()

    async def _deliver(self, msg: ProofOfTimeFinished) -> None:
        try:
            await self._send(msg)
            self.proofs_sent += 1
        except PeerRequestError as exc:
            logger.warning(
                "could not send proof of time (%s); keeping it for the next connection", exc
            )
            self.unsent.append(msg)

    async def resend_pending(self) -> None:
        pending, self.unsent = self.unsent, []
        for msg in pending:
            await self._deliver(msg)

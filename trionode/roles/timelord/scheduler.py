"""Which proofs of time to run next, and which running ones can no longer win. Pure, no I/O.

Rules (issue 5, seed 000 timelord protocol):
- A ``ChallengeStart`` makes a challenge known with its weight; a ``ProofOfSpaceInfo`` adds an
  iteration target to a challenge (info may arrive before its challenge start: it is kept).
- Work goes to the heaviest challenges first and, within a challenge, to the smallest targets.
- A job can no longer win, and is stopped, when a challenge heavier than its own has started
  (its chain has been extended past it), or when a proof with fewer iterations has already been
  finished for the same challenge (that proof makes the better block).
- A finished (challenge, iterations) pair is never run again.
"""

from __future__ import annotations

import attrs

Job = tuple[bytes, int]  # (challenge hash, iterations)


@attrs.define
class TimelordSchedule:
    max_challenges: int = 64
    weights: dict[bytes, int] = attrs.field(factory=dict)
    targets: dict[bytes, set[int]] = attrs.field(factory=dict)
    finished: dict[bytes, int] = attrs.field(factory=dict)  # challenge -> fewest iters proven
    running: set[Job] = attrs.field(factory=set)

    def challenge_start(self, challenge: bytes, weight: int) -> None:
        self.weights[challenge] = max(weight, self.weights.get(challenge, 0))
        self._forget_old()

    def proof_of_space_info(self, challenge: bytes, iterations: int) -> None:
        if iterations <= 0:
            return
        best = self.finished.get(challenge)
        if best is not None and iterations >= best:
            return
        self.targets.setdefault(challenge, set()).add(iterations)

    def heaviest_weight(self) -> int:
        return max(self.weights.values(), default=0)

    def can_win(self, job: Job) -> bool:
        challenge, iterations = job
        weight = self.weights.get(challenge)
        if weight is None or weight < self.heaviest_weight():
            return False
        best = self.finished.get(challenge)
        return best is None or iterations < best

    def next_jobs(self, free_slots: int) -> list[Job]:
        """Up to ``free_slots`` jobs to start now, best first."""
        if free_slots <= 0:
            return []
        candidates = [
            (challenge, it)
            for challenge, its in self.targets.items()
            if challenge in self.weights
            for it in its
            if (challenge, it) not in self.running and self.can_win((challenge, it))
        ]
        candidates.sort(key=lambda job: (-self.weights[job[0]], job[1]))
        return candidates[:free_slots]

    def started(self, job: Job) -> None:
        self.running.add(job)

    def stopped(self, job: Job) -> None:
        self.running.discard(job)

    def done(self, job: Job) -> None:
        """A proof for ``job`` was produced."""
        challenge, iterations = job
        self.running.discard(job)
        self.finished[challenge] = min(iterations, self.finished.get(challenge, iterations))
        its = self.targets.get(challenge)
        if its is not None:
            its.discard(iterations)

    def losers(self) -> list[Job]:
        """Running jobs that should be stopped."""
        return [job for job in self.running if not self.can_win(job)]

    def _forget_old(self) -> None:
        # Bounded memory: keep only the heaviest challenges.
        if len(self.weights) <= self.max_challenges:
            return
        keep = sorted(self.weights, key=lambda c: self.weights[c], reverse=True)[
            : self.max_challenges
        ]
        kept = set(keep)
        for table in (self.weights, self.targets, self.finished):
            for c in [c for c in table if c not in kept]:
                del table[c]

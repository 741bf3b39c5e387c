"""Which proofs of time to run next, and which running ones can no longer win. Pure, no I/O.

Rules (issue 5, seed 000 timelord protocol):
- A ``ChallengeStart`` makes a challenge known with its weight; a ``ProofOfSpaceInfo`` adds an
  iteration target to a challenge (info may arrive before its challenge start: it is kept).
- Work goes to the heaviest challenges first and, within a challenge, to the smallest targets.
- A job can no longer win, and is stopped, when its challenge is no longer among the
  ``keep_challenges`` heaviest (its block could not become one of the three tips), or when
  ``proofs_per_challenge`` proofs with fewer iterations have already been finished for the same
  challenge. Finishing more than the best proof per challenge (only when nothing better is
  waiting: the heaviest work goes first) gives the chain more than one tip, so a challenge that
  no plot can answer does not stop the chain.
- A finished (challenge, iterations) pair is never run again.
"""

from __future__ import annotations

import attrs

Job = tuple[bytes, int]  # (challenge hash, iterations)


@attrs.define
class TimelordSchedule:
    max_challenges: int = 64
    keep_challenges: int = 3
    proofs_per_challenge: int = 3
    weights: dict[bytes, int] = attrs.field(factory=dict)
    targets: dict[bytes, set[int]] = attrs.field(factory=dict)
    finished: dict[bytes, list[int]] = attrs.field(factory=dict)  # challenge -> iters proven
    running: set[Job] = attrs.field(factory=set)

    def challenge_start(self, challenge: bytes, weight: int) -> None:
        self.weights[challenge] = max(weight, self.weights.get(challenge, 0))
        self._forget_old()

    def proof_of_space_info(self, challenge: bytes, iterations: int) -> None:
        if iterations <= 0 or iterations in self.finished.get(challenge, ()):
            return
        self.targets.setdefault(challenge, set()).add(iterations)

    def weight_cutoff(self) -> int:
        """Challenges lighter than this cannot make a tip any more."""
        heaviest = sorted(set(self.weights.values()), reverse=True)[: self.keep_challenges]
        return heaviest[-1] if heaviest else 0

    def can_win(self, job: Job) -> bool:
        challenge, iterations = job
        weight = self.weights.get(challenge)
        if weight is None or weight < self.weight_cutoff():
            return False
        better = sum(1 for it in self.finished.get(challenge, ()) if it < iterations)
        return better < self.proofs_per_challenge

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
        self.finished.setdefault(challenge, []).append(iterations)
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

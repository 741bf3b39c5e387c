"""The timelord role: runs proofs of time (chiavdf) for the full node's challenges."""

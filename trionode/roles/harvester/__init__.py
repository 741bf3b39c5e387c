"""The harvester role: looks up qualities and proofs in its plots for its farmer."""

"""The farmer role: turns its harvesters' proofs of space into signed block headers."""

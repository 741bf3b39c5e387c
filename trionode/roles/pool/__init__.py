"""The pool role: credits farmers' partials and pays block rewards out by points (docs/protocol.md 5)."""

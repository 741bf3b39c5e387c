"""The one exception the wire layer raises for bad input."""

from __future__ import annotations


class DecodeError(ValueError):
    """Bytes (or JSON) that do not decode to the expected type.

    ``path`` names where decoding failed, outermost first (``FullBlock.body.cost``); ``reason``
    says what was wrong there. Both end up in ``str(error)`` so a log line points at the field.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(self._text())

    def _text(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason

    def prefixed(self, prefix: str) -> DecodeError:
        """Return this error with ``prefix`` put in front of its path (used while unwinding)."""
        if not self.path:
            self.path = prefix
        elif self.path.startswith(("[", ".")):
            self.path = prefix + self.path
        else:
            self.path = f"{prefix}.{self.path}"
        self.args = (self._text(),)
        return self

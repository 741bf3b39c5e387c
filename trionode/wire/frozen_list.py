"""The value type of ``List[T]`` fields: an immutable tuple that also equals a list."""

from __future__ import annotations

from typing import Any, TypeVar

T_co = TypeVar("T_co", covariant=True)


class FrozenList(tuple[T_co, ...]):
    """A ``tuple`` (so records stay immutable and hashable, and hash like the plain tuple) that
    also compares equal to a ``list`` holding the same items.

    Streamable ``List[T]`` fields are stored as these, so ``Peers([p]).peer_list == [p]`` holds
    whether the record was constructed or decoded. Comparing with a tuple works as for tuples.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            if len(other) != len(self):
                return False
            other = tuple(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        result: Any = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = tuple.__hash__

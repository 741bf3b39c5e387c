"""Testnet topologies as link lists (pure: no processes, no trio).

A link ``(a, b)`` means node ``b`` dials node ``a`` (``b`` is started with ``--peer`` pointing at
``a``), so ``a`` must be up first: links always point from a later node to an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["TOPOLOGIES", "Link", "components", "connect_components", "links", "node_names"]

Link = tuple[str, str]  # (listener, dialer)

TOPOLOGIES = ("line", "star", "mesh", "none")


def node_names(count: int) -> list[str]:
    """``n0 .. n<count-1>``."""
    if count < 1:
        raise ValueError(f"a testnet needs at least 1 node, got {count}")
    return [f"n{i}" for i in range(count)]


def links(names: Sequence[str], topology: str) -> list[Link]:
    """The links of ``topology`` over ``names`` (in start order).

    line: n0-n1-n2-...; star: every node dials n0; mesh: every node dials every earlier node;
    none: no links (tests add them with ``Testnet.connect``).
    """
    if topology == "line":
        return [(names[i - 1], names[i]) for i in range(1, len(names))]
    if topology == "star":
        return [(names[0], name) for name in names[1:]]
    if topology == "mesh":
        return [(names[j], names[i]) for i in range(len(names)) for j in range(i)]
    if topology == "none":
        return []
    raise ValueError(f"unknown topology {topology!r}: choose one of {', '.join(TOPOLOGIES)}")


def components(names: Sequence[str], link_list: Iterable[Link]) -> list[list[str]]:
    """The connected components of ``names`` under ``link_list`` (links outside are ignored),
    each in the order of ``names``, ordered by their first node."""
    inside = set(names)
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in link_list:
        if a in inside and b in inside:
            parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(find(n), []).append(n)
    return list(groups.values())


def connect_components(
    names: Sequence[str], link_list: Iterable[Link], order: Sequence[str]
) -> list[Link]:
    """Extra links that join the components of ``names`` into one (a chain of components).

    A split group whose topology links do not connect it (line n0-n1-n2 split into {n0, n2}
    and {n1}) still gets one connected side. Each extra link points from the later node (in
    ``order``, the start order) to the earlier one.
    """
    rank = {n: i for i, n in enumerate(order)}
    parts = components(names, link_list)
    extra: list[Link] = []
    for prev, comp in zip(parts, parts[1:], strict=False):
        a, b = prev[0], comp[0]
        extra.append((a, b) if rank[a] < rank[b] else (b, a))
    return extra

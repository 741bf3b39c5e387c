"""Who dials whom at the start. Later links come from the nodes' own peer managers (address
gossip); the topology only decides the first ones."""

from __future__ import annotations

import random


def initial_links(
    kind: str, n: int, rand: random.Random, *, degree: int = 3
) -> list[tuple[int, int]]:
    """Directed pairs (dialer, listener) over node indices ``0..n-1``; every node reaches every
    other through them."""
    if kind == "line":
        return [(i + 1, i) for i in range(n - 1)]
    if kind == "ring":
        return [(i, (i + 1) % n) for i in range(n)] if n > 2 else [(1, 0)]
    if kind == "star":
        return [(i, 0) for i in range(1, n)]
    if kind == "clusters":
        # Dense groups of about eight, joined in a ring by one link each: slow propagation
        # across, fast within.
        size = 8
        links = [(i, j) for i in range(n) for j in range(i - i % size, i) if i != j]
        heads = list(range(0, n, size))
        links += [(heads[k], heads[k - 1]) for k in range(1, len(heads))]
        return links
    # random: a random spanning tree (so the graph is connected), then extra random links up to
    # ``degree`` outbound per node.
    order = list(range(n))
    rand.shuffle(order)
    tree = {(order[k], order[rand.randrange(k)]) for k in range(1, n)}
    for i in range(n):
        out = sum(1 for a, _ in tree if a == i)
        while out < degree and out < n - 1:
            j = rand.randrange(n)
            if j != i and (i, j) not in tree and (j, i) not in tree:
                tree.add((i, j))
            out += 1
    return sorted(tree)

"""The settings shell every role shares: where it lives, which network, where it listens and its
operator surface. Each role's config (``FullNodeConfig``, ``FarmerConfig``...) is this shell
plus the role's own keys, so the shell is written once.

The values come from config.yaml's role section (:mod:`trionode.config` holds every default);
the shell only gives the fields their types. ``root`` and ``network`` are positional, the rest
keyword-only, so a role's own required fields (its full node, its farmer) may follow them.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from trionode.peers.limits import PeerLimits

__all__ = ["ServiceSettings"]


@attrs.frozen
class ServiceSettings:
    root: Path
    network: str
    # The peer listener: its address (config peers.listen_host) and port (0: the OS's choice).
    port: int = attrs.field(default=0, kw_only=True)
    host: str = attrs.field(default="127.0.0.1", kw_only=True)
    # Peer-layer limits and deadlines (config.yaml peers:).
    limits: PeerLimits = attrs.field(factory=PeerLimits, kw_only=True)
    # The operator surface (trionode.rpc.surface), on loopback: None = off; rpc_tls_port 0 =
    # the OS's choice.
    rpc_port: int | None = attrs.field(default=None, kw_only=True)
    rpc_tls_port: int | None = attrs.field(default=0, kw_only=True)
    metrics_port: int | None = attrs.field(default=None, kw_only=True)

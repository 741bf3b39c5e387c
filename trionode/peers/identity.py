"""A node's TLS identity under its root directory, and the transport built from it.

Layout (shared with ``trionode init``)::

    ROOT/ssl/ca/private_ca.{crt,key}            private CA (farmer-harvester link, RPC)
    ROOT/ssl/<role>/public_<role>.{crt,key}     signed by the shipped public network CA
    ROOT/ssl/<role>/private_<role>.{crt,key}    signed by the private CA

A role's public certificate is created on first start if missing (PROTOCOL.md, Transport).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from trionode.peers.limits import PeerLimits
from trionode.peers.tls import (
    CertKeyPaths,
    ensure_ca,
    ensure_node_certificate,
    make_client_context,
    make_server_context,
    node_id_of_certificate,
    public_ca_paths,
)
from trionode.peers.ws_transport import WebSocketTransport
from trionode.wire import bytes32

__all__ = [
    "NodeIdentity",
    "ROLES",
    "make_websocket_transport",
    "private_ca_paths",
    "role_cert_paths",
]

ROLES = ("full_node", "farmer", "harvester", "timelord", "introducer")


def private_ca_paths(root: Path) -> CertKeyPaths:
    ca = Path(root) / "ssl" / "ca"
    return CertKeyPaths(ca / "private_ca.crt", ca / "private_ca.key")


def role_cert_paths(root: Path, role: str, which: str) -> CertKeyPaths:
    """``which`` is "public" (public network CA) or "private" (the root's private CA)."""
    if which not in ("public", "private"):
        raise ValueError(f"which must be 'public' or 'private', not {which!r}")
    d = Path(root) / "ssl" / role
    return CertKeyPaths(d / f"{which}_{role}.crt", d / f"{which}_{role}.key")


@dataclass(frozen=True)
class NodeIdentity:
    """A certificate, its key, and the CA that peers' certificates must chain to."""

    cert: CertKeyPaths
    ca_crt: Path

    @property
    def node_id(self) -> bytes32:
        return node_id_of_certificate(self.cert.crt.read_bytes())

    @classmethod
    def public(cls, root: Path, role: str) -> NodeIdentity:
        """The role's public-network identity under ``root``, created on first use."""
        paths = role_cert_paths(root, role, "public")
        ca = public_ca_paths()
        ensure_node_certificate(paths, ca, f"trionode {role}")
        return cls(paths, ca.crt)

    @classmethod
    def private(cls, root: Path, role: str) -> NodeIdentity:
        """The role's identity under the root's private CA (created with the CA if missing)."""
        ca = private_ca_paths(root)
        ensure_ca(ca, "trionode private CA")
        paths = role_cert_paths(root, role, "private")
        ensure_node_certificate(paths, ca, f"trionode {role}")
        return cls(paths, ca.crt)

    def server_context(self) -> ssl.SSLContext:
        return make_server_context(self.cert, self.ca_crt)

    def client_context(self) -> ssl.SSLContext:
        return make_client_context(self.cert, self.ca_crt)


def make_websocket_transport(
    identity: NodeIdentity, limits: PeerLimits | None = None, *, local_address: str | None = None
) -> WebSocketTransport:
    """The wss transport of ``identity`` with the node's limits (``local_address``: the
    source address of outbound connections, None for the OS's choice)."""
    limits = limits or PeerLimits()
    return WebSocketTransport(
        server_context=identity.server_context(),
        client_context=identity.client_context(),
        local_node_id=identity.node_id,
        max_message_size=limits.max_message_size,
        setup_timeout=limits.handshake_timeout,
        max_concurrent_setups=limits.max_concurrent_handshakes,
        close_timeout=limits.close_timeout,
        local_address=local_address,
    )

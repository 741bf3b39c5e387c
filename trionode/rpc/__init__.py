"""The local operator RPC of every role: JSON over HTTP (``POST /<method>``) and a websocket
(``/ws``) that also pushes events, on 127.0.0.1.

Layout: :mod:`.auth` (the cookie token), :mod:`.params` (errors and parameter parsing),
:mod:`.events` (the event hub behind ``/ws``), :mod:`.server` (the ASGI app on hypercorn's trio
worker), one method table per role (:mod:`.full_node`, :mod:`.farmer`, :mod:`.harvester`,
:mod:`.common`), :mod:`.surface` (what a role's ``main`` calls to start RPC and metrics),
:mod:`.client` and :mod:`.cli` (``python -m trionode rpc`` / ``show``).

The server modules know nothing of the roles; the method tables take role objects duck-typed
(imports of role classes only for type checking), so ``rpc`` sits beside ``roles`` and below
``cli`` without import cycles.
"""

from __future__ import annotations

# PROTOCOL.md, Ports: the RPC port of each role.
DEFAULT_RPC_PORTS: dict[str, int] = {
    "full_node": 8555,
    "farmer": 8559,
    "harvester": 8560,
    "timelord": 8557,
    "introducer": 8556,
    "pool": 8561,
}

__all__ = ["DEFAULT_RPC_PORTS"]

"""The local operator RPC every role serves, generic: JSON over HTTP (``POST /<method>``) and a
websocket (``/ws``) that also pushes events, on 127.0.0.1; and the Prometheus metrics server.

Layout: :mod:`.auth` (the cookie token), :mod:`.params` (errors and parameter parsing),
:mod:`.events` (the event hub behind ``/ws``), :mod:`.server` (the ASGI app on hypercorn's trio
worker), :mod:`.common` (the shape of a role's method table and the peer methods every role
serves), :mod:`.surface` (starting RPC and metrics under a role's supervisor), :mod:`.metrics`
(each role's registry and its HTTP server) and :mod:`.client`.

Each role's own methods, events and metrics live with the role (``roles/<role>/rpc.py``); this
package imports no role, so it sits below ``roles`` in the import layers.
"""

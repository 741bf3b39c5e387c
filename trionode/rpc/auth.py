"""RPC authentication: a random bearer token in ``<root>/rpc.cookie``, or a client certificate
of the root's private CA.

Two listeners, one app (decided here, documented in README by the lead):

- plain HTTP on 127.0.0.1 (``rpc_port``): every request carries ``Authorization: Bearer
  <token>``, the token read from the cookie file (mode 0600: only the node's user can read it,
  like bitcoind's ``.cookie``);
- HTTPS on 127.0.0.1 (``rpc_tls_port``) that *requires* a client certificate signed by the
  private CA (``trionode init``): the TLS handshake itself admits, so requests there need no
  token. hypercorn does not hand the peer certificate to the app, so "optional client cert on one
  listener" cannot be checked; a separate listener with CERT_REQUIRED can, and the app tells the
  two apart by the ASGI scheme (``https``/``wss`` only on the TLS listener).

Every role in a root shares the cookie: created by the first role that starts, reused after.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "COOKIE_NAME",
    "CookieError",
    "cookie_path",
    "ensure_cookie",
    "is_authorized",
    "read_cookie",
]

logger = logging.getLogger(__name__)

COOKIE_NAME = "rpc.cookie"
_TOKEN_RE = re.compile(r"^[0-9a-f]{64}$")


class CookieError(Exception):
    """The cookie file cannot be read (missing, unreadable or not a token)."""


def cookie_path(root: Path) -> Path:
    return Path(root) / COOKIE_NAME


def read_cookie(root: Path) -> str:
    """The token of a running node (clients call this). Raises CookieError with the path."""
    path = cookie_path(root)
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise CookieError(f"{path} does not exist: is a node running with this --root?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CookieError(f"cannot read {path}: {exc}") from None
    if not _TOKEN_RE.match(token):
        raise CookieError(f"{path} does not hold an RPC token")
    return token


def _write_new(path: Path) -> str:
    """Write a fresh token; never replaces a file another process created meanwhile."""
    token = secrets.token_hex(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(token + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and exclusive: a concurrent starter's cookie wins
        except FileExistsError:
            return read_cookie(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("created the RPC cookie %s", path)
    return token


def ensure_cookie(root: Path) -> str:
    """The root's token, created (0600) on first use and reused afterwards.

    A cookie readable by others is made private again (with a warning); one that holds no token
    is replaced.
    """
    path = cookie_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        return _write_new(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("%s was readable by others (mode %o): made it 0600", path, mode)
        os.chmod(path, 0o600)
    try:
        return read_cookie(root)
    except CookieError as exc:
        logger.warning("replacing the RPC cookie: %s", exc)
        path.unlink(missing_ok=True)
        return _write_new(path)


def is_authorized(scope: Mapping[str, Any], token: str) -> bool:
    """True for a request on the TLS listener (its client certificate was checked against the
    private CA during the handshake) or one with ``Authorization: Bearer <token>``."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            scheme, _, given = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return hmac.compare_digest(given.strip().encode(), token.encode())
    return False

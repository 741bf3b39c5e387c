"""The HTTPS RPC as the README shows it: ``curl --cacert`` (and any client that checks the host
name) accepts the role's certificate on localhost and 127.0.0.1 (subjectAltName)."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from trionode import runfiles

TIMEOUT = 120


@pytest.fixture(scope="module")
def introducer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    root = tmp_path_factory.mktemp("https") / "intro"
    with subprocess.Popen(
        [sys.executable, "-m", "trionode", "--role", "introducer", "--root", str(root)]
        + ["--port", "0", "--rpc-port", "0", "--network", "sim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if "introducer ready on port" in line:
                    break
            ready = runfiles.read_json(runfiles.ready_path(root, "introducer"))
            assert isinstance(ready, dict), "the introducer did not start"
            yield root, int(ready["rpc_port"])
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=TIMEOUT) == 0
        finally:
            proc.kill()


def _files(root: Path) -> tuple[Path, Path, Path]:
    ssl_dir = root / "ssl"
    return (
        ssl_dir / "ca" / "private_ca.crt",
        ssl_dir / "introducer" / "private_introducer.crt",
        ssl_dir / "introducer" / "private_introducer.key",
    )


def test_certificate_names_the_loopback_host(introducer: tuple[Path, int]) -> None:
    root, _ = introducer
    _, crt, _ = _files(root)
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_python_default_hostname_check_accepts_it(introducer: tuple[Path, int], host: str) -> None:
    root, port = introducer
    ca, crt, key = _files(root)
    context = ssl.create_default_context(cafile=str(ca))  # check_hostname is on
    context.load_cert_chain(str(crt), str(key))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(
            b"POST /get_routes HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), reply
    assert json.loads(body)["success"] is True


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_cacert_as_in_the_readme(introducer: tuple[Path, int]) -> None:
    root, port = introducer
    ca, crt, key = _files(root)
    out = subprocess.run(
        ["curl", "-sS", "--cacert", str(ca), "--cert", str(crt), "--key", str(key)]
        + ["-d", "{}", f"https://localhost:{port}/get_routes"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert out.returncode == 0, out.stderr
    assert "get_routes" in json.loads(out.stdout)["routes"]
